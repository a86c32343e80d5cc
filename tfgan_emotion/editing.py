"""``tfgan-emotion edit``: apply a trained run's exported SavedModel to face images.

The run's ``config.json`` says which system it is; its ``export/saved_model`` holds the serving signatures. Images
are read with Pillow, centre-cropped to a square, resized to the network's input and scaled to [-1, 1].
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import paths
from .systems.common import to_uint8  # noqa: F401  (part of this module's interface)

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


def run_mix(run_dir, output, mix: str, n: int = 8, seed: int = 0, log=print) -> Path:
    """Generator runs (the label-interpolation cGAN): ``n`` images (one row, z ~ U(-1, 1), seeded) for a mixed label
    such as ``"neutral=0.3,happiness=0.7"`` (weights summing to 1, paper 000 eq. 2)."""
    from PIL import Image

    from . import systems

    cfg, model = load_run(run_dir)
    system = systems.get(cfg.get("recipe", ""))
    sheet = system.draw(cfg["config"], model, {"mix": mix, "n": n, "seed": seed})
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(path)
    log(f"{n} images for {mix} -> {path}")
    return path


def run_edit(run_dir, image, output, log=print, **request) -> list[Path]:
    """Edit one image or every image of a folder with a run's SavedModel; returns the written files. ``request``
    holds the edit flags the run's system takes (``valence``/``arousal``, ``affect``, ``theta``/``rho``,
    ``emotion``/``rho``, ``grid``; see ``tfgan-emotion edit --help``)."""
    from PIL import Image

    from . import systems

    cfg, model = load_run(run_dir)
    try:
        system = systems.get(cfg.get("recipe", ""))
    except KeyError as e:
        raise ValueError(f"{run_dir}: {e}") from None
    c = cfg["config"]
    one = system.editor(c, model, {k: v for k, v in request.items() if v is not None and v is not False})
    files = input_files(image)
    out = Path(output)
    many = len(files) > 1 or Path(image).is_dir()
    if many:
        out.mkdir(parents=True, exist_ok=True)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for f in files:
        picture = one(read_face(f, c["image_size"], c["channels"]))
        target = out / f"{f.stem}_edit.png" if many else out
        Image.fromarray(picture).save(target)
        written.append(target)
        log(f"{f} -> {target}")
    return written
