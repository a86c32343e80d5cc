"""``tfgan-emotion edit``: apply a trained run's exported SavedModel to face images.

The run's ``config.json`` says which system it is; its ``export/saved_model`` holds the serving signatures. Images
are read with Pillow, centre-cropped to a square, resized to the network's input and scaled to [-1, 1].
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import paths

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def read_face(path, size: int, channels: int) -> np.ndarray:
    """One image file -> float32 [size, size, channels] in [-1, 1] (centre square crop, bilinear resize)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im = im.convert("RGB" if channels == 3 else "L")
            w, h = im.size
            s = min(w, h)
            im = im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
            im = im.resize((size, size), Image.BILINEAR)
            x = np.asarray(im, np.float32)
    except (OSError, UnidentifiedImageError) as e:
        raise ValueError(f"{path}: not a readable image ({e})") from e
    if x.ndim == 2:
        x = x[..., None]
    return x / 127.5 - 1.0


def to_uint8(x: np.ndarray) -> np.ndarray:
    x = np.clip((np.asarray(x, np.float32) + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)
    return x[..., 0] if x.shape[-1] == 1 else x


def load_run(run_dir):
    """(config.json contents, loaded SavedModel) of a run; clear errors when either is missing."""
    from .export import load_saved_model

    run_dir = Path(run_dir)
    cfg_path = run_dir / paths.CONFIG
    if not cfg_path.exists():
        raise FileNotFoundError(f"{run_dir} is not a run directory (no config.json); pass the folder a recipe "
                                "printed at the end of training")
    return json.loads(cfg_path.read_text()), load_saved_model(run_dir)


def input_files(image) -> list[Path]:
    p = Path(image)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise FileNotFoundError(f"{p} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        return files
    if not p.exists():
        raise FileNotFoundError(f"{p} does not exist")
    return [p]


def caae_edit(model, images: np.ndarray, valence, arousal) -> np.ndarray:
    n = len(images)
    v = np.broadcast_to(np.asarray(valence, np.float32), (n,)).copy()
    a = np.broadcast_to(np.asarray(arousal, np.float32), (n,)).copy()
    return model.edit(image=images.astype(np.float32), valence=v, arousal=a)["image"].numpy()


def caae_grid_sheet(model, face: np.ndarray) -> np.ndarray:
    """The 7x7 sheet of paper 001's edit grid (valence rows +0.75 .. -0.75, arousal columns +0.75 .. -0.75)."""
    from .training import image_grid

    values = (0.75, 0.5, 0.25, 0.0, -0.25, -0.5, -0.75)
    v = np.repeat(values, 7).astype(np.float32)
    a = np.tile(values, 7).astype(np.float32)
    out = caae_edit(model, np.repeat(face[None], 49, axis=0), v, a)
    return image_grid(out, 7)


def parse_affect(text: str, names: tuple[str, ...]) -> np.ndarray:
    """An affect by name (``joy``), as ``name+name`` (both on), or as a comma-separated vector of len(names)."""
    text = str(text).strip().lower()
    if "," in text:
        try:
            v = np.asarray([float(t) for t in text.split(",")], np.float32)
        except ValueError:
            raise ValueError(f"--affect {text!r}: a vector must be {len(names)} comma-separated numbers") from None
        if len(v) != len(names):
            raise ValueError(f"--affect vector has {len(v)} values; this model needs {len(names)} "
                             f"({', '.join(names)})")
        return v
    v = np.zeros(len(names), np.float32)
    for part in text.split("+"):
        if part not in names:
            raise ValueError(f"--affect {part!r} is not an affect of this model; choose from {', '.join(names)}, "
                             "join two with '+', or give a comma-separated vector")
        v[names.index(part)] = 1.0
    return v


def parse_label(text: str, names: tuple[str, ...]) -> int:
    """One class by name (``happy``) or index (``3``) for the one-hot label models."""
    text = str(text).strip().lower()
    if text.isdigit() and int(text) < len(names):
        return int(text)
    if text not in names:
        raise ValueError(f"--affect {text!r} is not a label of this model; choose from {', '.join(names)} "
                         f"(or an index 0-{len(names) - 1})")
    return names.index(text)


def fexgan_edit(model, images: np.ndarray, affect: np.ndarray) -> np.ndarray:
    n = len(images)
    return model.transfer(image=images.astype(np.float32),
                          affect=np.tile(np.asarray(affect, np.float32)[None], (n, 1)))["image"].numpy()


def fexgan_grid_sheet(model, face: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """The input followed by the face transferred to every affect, in one row."""
    from .training import image_grid

    k = len(names)
    out = model.transfer(image=np.repeat(face[None], k, axis=0).astype(np.float32),
                         affect=np.eye(k, dtype=np.float32))["image"].numpy()
    return image_grid(np.concatenate([face[None], out]), len(names) + 1)


def _check_caae_args(valence, arousal, grid):
    if not grid and (valence is None or arousal is None):
        raise ValueError("give --valence and --arousal (each in [-1, 1]), or --grid for the 7x7 sheet")
    for name, val in (("valence", valence), ("arousal", arousal)):
        if val is not None and not -1.0 <= val <= 1.0:
            raise ValueError(f"--{name} must be in [-1, 1], got {val}")


def run_mix(run_dir, output, mix: str, n: int = 8, seed: int = 0, log=print) -> Path:
    """Label-interpolation cGAN runs: ``n`` images (one row, z ~ U(-1, 1), seeded) for a mixed label such as
    ``"neutral=0.3,happiness=0.7"`` (weights summing to 1, paper 000 eq. 2)."""
    from PIL import Image

    from .conditioning import parse_mix
    from .data import labels as label_sets
    from .training import image_grid

    cfg, model = load_run(run_dir)
    c = cfg["config"]
    if c.get("system") != "cgan":
        raise ValueError("--mix is for the label-interpolation cGAN runs (recipes/cgan_*.py); this run is "
                         f"{c.get('system')!r}")
    names = {"fashion_mnist": label_sets.FASHION_MNIST, "cifar10": label_sets.CIFAR10,
             "faces": label_sets.FACES}[c["dataset"]].names
    v = parse_mix(mix, names)
    z = np.random.default_rng(seed).uniform(-1, 1, (n, c["z_dim"])).astype(np.float32)
    out = model.generate(z=z, label=np.tile(v, (n, 1)))["image"].numpy()
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image_grid(out, n)).save(path)
    log(f"{n} images for {mix} -> {path}")
    return path


def ganmut_request(theta=None, rho=None, emotion=None, grid=False):
    """Check GANmut edit arguments: ``--theta T --rho R`` (polar code), ``--emotion NAME --rho R`` (a learned
    direction), or ``--grid``. Returns ("theta", theta, rho) / ("emotion", class id, rho) / ("grid", None, None)."""
    from .data import labels as label_sets

    if grid:
        if theta is not None or emotion is not None:
            raise ValueError("--grid draws every emotion; leave out --theta/--emotion")
        return "grid", None, None
    if (theta is None) == (emotion is None):
        raise ValueError("GANmut runs take --theta T --rho R (radians, rho in [0, 1]), or --emotion NAME --rho R "
                         f"(NAME one of {', '.join(label_sets.GANMUT.names)}), or --grid")
    if rho is None:
        raise ValueError("give --rho (the intensity, 0 = neutral .. 1 = full)")
    if not 0.0 <= float(rho) <= 1.5:
        raise ValueError(f"--rho {rho} is outside the trained range [0, 1] (up to 1.5 is allowed, to extrapolate)")
    if theta is not None:
        return "theta", float(theta), float(rho)
    return "emotion", parse_label(emotion, label_sets.GANMUT.names), float(rho)


def run_edit(run_dir, image, output, valence=None, arousal=None, grid=False, affect=None, theta=None, rho=None,
             emotion=None, log=print) -> list[Path]:
    """Edit one image or every image of a folder; returns the written files.

    CAAE runs take ``valence`` and ``arousal`` (or ``grid``: the 7x7 sheet); FExGAN runs take ``affect`` (see
    :func:`parse_affect`; or ``grid``: the input and every affect in one row); GANmut runs take ``theta`` and
    ``rho`` or ``emotion`` and ``rho`` (:func:`ganmut_request`; ``grid``: the input and the 7 emotions at full
    intensity)."""
    from PIL import Image
    from .training import image_grid

    cfg, model = load_run(run_dir)
    system = cfg.get("config", {}).get("system", cfg.get("system"))
    size, channels = cfg["config"]["image_size"], cfg["config"]["channels"]
    if system == "caae":
        _check_caae_args(valence, arousal, grid)

        def one(face):
            return caae_grid_sheet(model, face) if grid else to_uint8(caae_edit(model, face[None], valence, arousal)[0])
    elif system == "fexgan":
        from .data import labels as label_sets

        names = label_sets.FERG.names[:cfg["config"]["n_classes"]]
        if not grid and affect is None:
            raise ValueError(f"give --affect (one of {', '.join(names)}, two joined by '+', or a vector), or "
                             "--grid for every affect")
        vector = None if grid else parse_affect(affect, names)

        def one(face):
            return fexgan_grid_sheet(model, face, names) if grid else to_uint8(fexgan_edit(model, face[None],
                                                                                           vector)[0])
    elif system == "dcgan":
        from .data import labels as label_sets

        names = label_sets.FER2013.names
        if not grid and affect is None:
            raise ValueError(f"give --affect (one of {', '.join(names)}), or --grid for every label")
        label = None if grid else parse_label(affect, names)

        def one(face):
            k = len(names)
            if grid:
                out = model.transfer(image=np.repeat(face[None], k, axis=0).astype(np.float32),
                                     label=np.arange(k, dtype=np.int32))["image"].numpy()
                return image_grid(np.concatenate([face[None], out]), k + 1)
            return to_uint8(model.transfer(image=face[None].astype(np.float32),
                                           label=np.array([label], np.int32))["image"].numpy()[0])
    elif system == "ganmut":
        kind, value, strength = ganmut_request(theta, rho, emotion, grid)

        def one(face):
            x = face[None].astype(np.float32)
            if kind == "grid":
                k = cfg["config"]["n_classes"]
                out = model.edit_emotion(image=np.repeat(x, k, axis=0), emotion=np.arange(k, dtype=np.int32),
                                         rho=np.array([0.0] + [1.0] * (k - 1), np.float32))["image"].numpy()
                return image_grid(np.concatenate([x, out]), k + 1)
            if kind == "theta":
                out = model.edit(image=x, theta=np.array([value], np.float32), rho=np.array([strength], np.float32))
            else:
                out = model.edit_emotion(image=x, emotion=np.array([value], np.int32),
                                         rho=np.array([strength], np.float32))
            return to_uint8(out["image"].numpy()[0])
    else:
        raise ValueError(f"editing for system {system!r} arrives with its own issue; this run cannot be edited yet")
    files = input_files(image)
    out = Path(output)
    many = len(files) > 1 or Path(image).is_dir()
    if many:
        out.mkdir(parents=True, exist_ok=True)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for f in files:
        picture = one(read_face(f, size, channels))
        target = out / f"{f.stem}_edit.png" if many else out
        Image.fromarray(picture).save(target)
        written.append(target)
        log(f"{f} -> {target}")
    return written
