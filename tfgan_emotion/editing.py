"""``tfgan-emotion edit``: apply a trained run's exported SavedModel to face images.

The run's ``config.json`` says which system it is; its ``export/saved_model`` holds the serving signatures. Without
``--detect`` (``--crop-only``) images are read with Pillow, centre-cropped to a square, resized to the network's
input and scaled to [-1, 1], and the edited crop is written. With ``--detect`` the faces of a photograph are found
(MTCNN, or RetinaFace from a weights file), each is cut as ``tfgan-emotion data crop`` cuts training faces (the
detected box pushed out by a margin, made square), edited, resized back and pasted into the photograph through a
feathered mask, so the output is the whole photograph with only its faces changed.
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




#: Fraction of the pasted window, on each side, over which an edited face fades into the photograph.
FEATHER = 0.12


def feather_mask(height: int, width: int, feather: float = FEATHER) -> np.ndarray:
    """[height, width] weights: 1 in the middle of a pasted window, falling to 0 at its border along a cosine ramp
    ``feather`` of the window wide on each side, so that no seam shows where an edited face meets the photograph."""
    def ramp(n):
        k = max(1, int(round(n * feather)))
        t = np.ones(n, np.float32)
        edge = 0.5 - 0.5 * np.cos(np.pi * (np.arange(k, dtype=np.float32) + 0.5) / k)
        t[:k] = np.minimum(t[:k], edge)
        t[n - k:] = np.minimum(t[n - k:], edge[::-1])
        return t

    return np.outer(ramp(height), ramp(width))


def edit_photo(photo, one, size: int, channels: int, detector, face: int | None = None, margin: float = 0.2,
               feather: float = FEATHER) -> tuple[np.ndarray, list]:
    """Edit the faces of a photograph (uint8 [H, W, 3] or [H, W]) and paste them back: returns the photograph
    (same size, uint8 RGB) and the faces edited as ``[(box, confidence, window)]``.

    ``one``: face [size, size, channels] in [-1, 1] -> uint8 edited face (a run's editor). ``detector``: an object
    with ``detect`` (:func:`data.detect.make_detector`). ``face``: edit only the N-th face in the detector's order
    (most confident first), else every face. ``margin``: how far the crop window reaches beyond the detected box
    (as ``tfgan-emotion data crop``; square). ValueError when no face is found or ``face`` is out of range."""
    from .data import detect

    rgb = detect.as_rgb_uint8(np.asarray(photo))
    faces = list(detector.detect(rgb))
    if not faces:
        raise ValueError("no face found in the photograph; try a larger or sharper face, another --detector, or "
                         "--crop-only to edit the centre square as it is")
    if face is not None:
        if not 0 <= face < len(faces):
            raise ValueError(f"--face {face}: the photograph has {len(faces)} face(s), numbered 0 to "
                             f"{len(faces) - 1} by confidence")
        faces = [faces[face]]
    out = rgb.astype(np.float32)
    done = []
    for box, confidence in faces:
        x0, y0, x1, y1 = detect.crop_window(rgb.shape[:2], box, margin, square=True)
        crop = detect.crop_face(rgb, box, margin, size=size, square=True)
        if channels == 1:
            crop = np.asarray(crop.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
        edited = np.asarray(one(crop.astype(np.float32) / 127.5 - 1.0))
        if edited.ndim == 2:
            edited = edited[..., None]
        if edited.shape[:2] != (size, size):
            raise ValueError("this edit makes a sheet, not one face: leave out --grid to edit a photograph")
        if edited.shape[2] == 1:
            edited = np.repeat(edited, 3, axis=2)
        back = detect._resize(edited.astype(np.uint8), y1 - y0, x1 - x0).astype(np.float32)
        w = feather_mask(y1 - y0, x1 - x0, feather)[..., None]
        out[y0:y1, x0:x1] = w * back + (1.0 - w) * out[y0:y1, x0:x1]
        done.append((tuple(float(v) for v in box), float(confidence), (x0, y0, x1, y1)))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8), done


def read_photo(path) -> np.ndarray:
    """An image file as uint8 RGB [H, W, 3]; ValueError when it is not a readable image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"), np.uint8)
    except (OSError, UnidentifiedImageError) as e:
        raise ValueError(f"{path}: not a readable image ({e})") from e


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


def run_edit(run_dir, image, output, log=print, detect: bool = False, detector: str = "mtcnn", weights=None,
             face: int | None = None, margin: float = 0.2, **request) -> list[Path]:
    """Edit one image or every image of a folder with a run's SavedModel; returns the written files. ``request``
    holds the edit flags the run's system takes (``valence``/``arousal``, ``affect``, ``theta``/``rho``,
    ``emotion``/``rho``, ``grid``; see ``tfgan-emotion edit --help``). ``detect``: find the faces of each
    photograph with ``detector`` (``weights`` for RetinaFace), edit them (all, or the ``face``-th) and write the
    whole photograph (:func:`edit_photo`); else the centre square is edited and written."""
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
    finder = None
    if detect:
        if request.get("grid"):
            raise ValueError("--grid writes a sheet of one face; it does not go with --detect (use --crop-only)")
        from .data import detect as detection

        if detector != "mtcnn" and weights is None:
            raise ValueError(f"--detector {detector} needs --detector-weights FILE (its weights file; nothing is "
                             "downloaded), or use --detector mtcnn, whose weights come with its package")
        finder = detection.make_detector(detector, weights)
    written = []
    for f in files:
        if finder is not None:
            try:
                picture, edited = edit_photo(read_photo(f), one, c["image_size"], c["channels"], finder, face,
                                             margin)
            except ValueError as e:
                if not many:
                    raise ValueError(f"{f}: {e}") from None
                log(f"{f}: skipped ({e})")
                continue
            log(f"{f}: edited {len(edited)} face(s), crop windows (x0, y0, x1, y1) "
                + ", ".join(f"{w[2]}" for w in edited))
        else:
            picture = one(read_face(f, c["image_size"], c["channels"]))
        target = out / f"{f.stem}_edit.png" if many else out
        Image.fromarray(picture).save(target)
        written.append(target)
        log(f"{f} -> {target}")
    return written
