"""Dataset-shaped files on disk made of the synthetic stand-ins (:mod:`.standins`), in the real releases' layouts
(docs/datasets.md), so that the readers, the face-crop preparation and the input-pipeline benchmark can run on
the real-format path without the datasets.

- :func:`write_affwild2_frames`: Aff-Wild2-like videos as whole frames (the stand-in face pasted into a textured
  scene at a drifting position) plus the expression annotation files (docs/datasets.md, section "Aff-Wild2").
- :func:`write_affectnet_files`: an AffectNet-like image set, whole JPEG frames plus the annotation CSV
  (docs/datasets.md, section "AffectNet").
"""
from __future__ import annotations

import numpy as np

from tfgan_emotion.data import labels as L
from tfgan_emotion.data.synthetic.renderer import _check_size
from tfgan_emotion.data.synthetic.standins import AFFWILD2_FRAMES, _smooth_path, make_arrays

# ----------------------------------------------------------------------------------------------------------------
# Aff-Wild2-like whole frames on disk, in the real annotation layout (SPECS "Dataset formats", Aff-Wild2), for the
# paper-002 data preparation (frames -> face detector -> crops + CSV, tfgan_emotion.data.crops) without the dataset.
# ----------------------------------------------------------------------------------------------------------------
_AFFWILD2_SPLITS = {"train": ("Train_Set", "train", 0), "validation": ("Validation_Set", "val", 1000),
                    "val": ("Validation_Set", "val", 1000)}


def _textured_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A static uint8 [height, width, 3] scene: a smooth colour gradient, a mid-frequency grey texture, two to four
    flat rectangles (furniture, windows: straight edges a detector must not take for a face) and fixed pixel
    noise."""
    from PIL import Image

    def upsample(coarse, resample):
        return np.asarray(Image.fromarray(np.clip(coarse, 0, 255).astype(np.uint8)).resize((width, height), resample),
                          dtype=np.float32)

    coarse = rng.uniform(40, 200, size=(3, 4, 3))
    coarse = coarse.mean(axis=2, keepdims=True) + 0.5 * (coarse - coarse.mean(axis=2, keepdims=True))  # muted
    scene = upsample(coarse, Image.BICUBIC)
    scene += upsample(rng.uniform(0, 255, size=(max(2, height // 8), max(2, width // 8))), Image.BILINEAR)[
        ..., None] * (50.0 / 255.0) - 25.0
    for _ in range(rng.integers(2, 5)):
        h, w = int(rng.uniform(0.15, 0.6) * height), int(rng.uniform(0.1, 0.4) * width)
        y, x = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
        scene[y:y + h, x:x + w] = 0.4 * scene[y:y + h, x:x + w] + 0.6 * rng.uniform(20, 235, size=3)
    scene += rng.normal(0.0, 3.0, size=scene.shape)
    return np.clip(np.rint(scene), 0, 255).astype(np.uint8)


def _feather(size: int) -> np.ndarray:
    """[size, size, 1] alpha: 1 inside, falling linearly to 0 over the outer ``size // 12`` pixels, so the pasted
    face square has no hard edge."""
    ramp = max(2, size // 12)
    edge = np.minimum(np.arange(size), np.arange(size)[::-1]).astype(np.float32)
    one = np.clip((edge + 0.5) / ramp, 0.0, 1.0)
    return (one[:, None] * one[None, :])[..., None]


def write_affwild2_frames(root, n_videos: int, frames_per_video: int, seed: int = 0, frame_size=(144, 192),
                          face_size: int = 96, split: str = "train") -> dict:
    """Write Aff-Wild2-like videos as whole frames plus expression annotations in the real Aff-Wild2 layout.

    Annotations: ``<root>/EXPR_Classification_Challenge/{Train_Set|Validation_Set}/<video>.txt``, header
    ``Neutral,Anger,Disgust,Fear,Happiness,Sadness,Surprise,Other`` then one label per frame (Aff-Wild2 order, -1 =
    ignore), as :mod:`tfgan_emotion.data.affwild2` reads them. Frames: ``<root>/frames/<video>/00001.jpg ...``
    (1-based, 5 digits, JPEG quality 95; read with ``affwild2.scan(..., frames="extracted",
    frames_dir=<root>/frames)``). Videos are named like Aff-Wild2's ``<id>-30-<width>x<height>``.

    Each frame (``frame_size`` = (height, width)) is a textured static scene (gradient, texture, rectangles, noise)
    with the "affwild2" stand-in face of the frame (:func:`make_arrays` at ``face_size``: identity, expression and
    head pose drifting smoothly along the video, -1 runs) pasted with feathered edges at a position that drifts
    smoothly over the video, so a face detector has to find it (paper 002 V). At most :data:`AFFWILD2_FRAMES` frames
    per video (the stand-in's video length); "Other" never occurs. Deterministic in ``seed`` (and ``split``:
    validation videos show identities held out from training).

    Returns (JSON-serialisable) ``{"root", "annotations_dir", "frames_dir", "videos": [names], "labels": {video:
    [label per frame]}, "face_boxes": {"<video>/00001.jpg": (x, y, w, h) of the pasted face square}, "frames",
    "labelled", "ignored", "per_class": {Aff-Wild2 class name: frames}, "seconds"}``.
    """
    import time
    from pathlib import Path

    from PIL import Image

    start = time.monotonic()
    try:
        set_dir, standin_split, id_base = _AFFWILD2_SPLITS[str(split).lower()]
    except KeyError:
        raise ValueError(f"split must be 'train' or 'validation', got {split!r}") from None
    n_videos, frames_per_video, face_size = int(n_videos), int(frames_per_video), int(face_size)
    height, width = (int(v) for v in frame_size)
    if n_videos < 1:
        raise ValueError(f"n_videos must be positive, got {n_videos}")
    if not 1 <= frames_per_video <= AFFWILD2_FRAMES:
        raise ValueError(f"frames_per_video must be in 1..{AFFWILD2_FRAMES} (the stand-in's video length), got "
                         f"{frames_per_video}")
    _check_size(face_size, 3)
    if height < face_size or width < face_size:
        raise ValueError(f"frame_size {frame_size} (height, width) must hold the {face_size}x{face_size} face")

    faces = make_arrays("affwild2", standin_split, n=n_videos * AFFWILD2_FRAMES, size=face_size, seed=seed)
    pixels = np.clip(np.rint((faces["image"] + 1.0) * 127.5), 0, 255).astype(np.float32)
    pixels = pixels.reshape(n_videos, AFFWILD2_FRAMES, face_size, face_size, 3)
    expression = faces["expression"].reshape(n_videos, AFFWILD2_FRAMES)[:, :frames_per_video]
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0xAFF2, id_base])
    t = np.arange(frames_per_video) / AFFWILD2_FRAMES
    # Face position as a fraction of the free range, drifting smoothly (speed per frame independent of the length).
    drift = np.clip(0.5 + _smooth_path(rng, 2 * n_videos, t, 2, (0.2, 0.8), 0.9), 0.0, 1.0)
    alpha = _feather(face_size)

    root = Path(root)
    annotations = root / "EXPR_Classification_Challenge" / set_dir
    frames_dir = root / "frames"
    annotations.mkdir(parents=True, exist_ok=True)
    header = ",".join(L.AFFWILD2.names)
    videos, labels, boxes = [], {}, {}
    for v in range(n_videos):
        name = f"{id_base + v + 1}-30-{width}x{height}"
        folder = frames_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        scene = _textured_background(rng, height, width).astype(np.float32)
        for f in range(frames_per_video):
            x = int(round(drift[2 * v, f] * (width - face_size)))
            y = int(round(drift[2 * v + 1, f] * (height - face_size)))
            frame = scene.copy()
            window = frame[y:y + face_size, x:x + face_size]
            window += alpha * (pixels[v, f] - window)
            Image.fromarray(np.clip(np.rint(frame), 0, 255).astype(np.uint8)).save(folder / f"{f + 1:05d}.jpg",
                                                                                   quality=95)
            boxes[f"{name}/{f + 1:05d}.jpg"] = (x, y, face_size, face_size)
        (annotations / f"{name}.txt").write_text("\n".join([header] + [str(int(k)) for k in expression[v]]) + "\n")
        videos.append(name)
        labels[name] = [int(k) for k in expression[v]]
    classes, counts = np.unique(expression[expression >= 0], return_counts=True)
    return {"root": str(root), "annotations_dir": str(annotations), "frames_dir": str(frames_dir), "videos": videos,
            "labels": labels, "face_boxes": boxes, "frames": int(expression.size),
            "labelled": int((expression >= 0).sum()), "ignored": int((expression < 0).sum()),
            "per_class": {L.AFFWILD2.names[int(k)]: int(c) for k, c in zip(classes, counts)},
            "seconds": round(time.monotonic() - start, 3)}


def write_affectnet_files(root, n: int, seed: int = 0, frame_size: int = 256, face_size: int = 160,
                          split: str = "train") -> dict:
    """Write an AffectNet-like image set in the original release's layout (docs/datasets.md, section "AffectNet"):
    ``<root>/Manually_Annotated_Images/<dir>/<i>.jpg`` whole frames (``frame_size`` square, JPEG quality 90) with the
    "affectnet" stand-in face of example ``i`` (``face_size`` square) pasted at a random position, and
    ``<root>/Manually_Annotated_file_lists/{training|validation}.csv`` with the face box, 68 landmarks, expression,
    valence and arousal of every row, as :mod:`tfgan_emotion.data.affectnet` reads them. The input-pipeline
    benchmark (``tfgan-emotion bench``) decodes these to measure the real-format path (JPEG decode + box crop +
    resize). Deterministic in ``seed``. Returns ``{"root", "csv", "n", "seconds"}``."""
    import time
    from pathlib import Path

    from PIL import Image

    start = time.monotonic()
    names = {"train": "training.csv", "validation": "validation.csv"}
    if split not in names:
        raise ValueError(f"split must be 'train' or 'validation', got {split!r}")
    n, frame_size, face_size = int(n), int(frame_size), int(face_size)
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    if face_size > frame_size:
        raise ValueError(f"face_size {face_size} must fit in frame_size {frame_size}")
    faces = make_arrays("affectnet", "train" if split == "train" else "val", n=n, size=face_size, seed=seed)
    pixels = np.clip(np.rint((faces["image"] + 1.0) * 127.5), 0, 255).astype(np.float32)
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0xAF7E])
    root = Path(root)
    lists = root / "Manually_Annotated_file_lists"
    lists.mkdir(parents=True, exist_ok=True)
    alpha = _feather(face_size)
    grid = np.linspace(0.2, 0.8, 17)
    rows = ["subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal"]
    for i in range(n):
        sub = f"{i // 500:03d}"
        folder = root / "Manually_Annotated_Images" / sub
        folder.mkdir(parents=True, exist_ok=True)
        x, y = (int(v) for v in rng.integers(0, frame_size - face_size + 1, size=2))
        frame = _textured_background(rng, frame_size, frame_size).astype(np.float32)
        window = frame[y:y + face_size, x:x + face_size]
        window += alpha * (pixels[i] - window)
        Image.fromarray(np.clip(np.rint(frame), 0, 255).astype(np.uint8)).save(folder / f"{i}.jpg", quality=90)
        # Landmarks are not used by any recipe; a plausible 68-point layout inside the box keeps the row valid.
        pts = [(x + face_size * grid[k % 17], y + face_size * grid[k // 17 * 4 % 17]) for k in range(68)]
        lm = ";".join(f"{px:.1f};{py:.1f}" for px, py in pts)
        rows.append(f"{sub}/{i}.jpg,{x},{y},{face_size},{face_size},{lm},{int(faces['expression'][i])},"
                    f"{float(faces['valence'][i]):.4f},{float(faces['arousal'][i]):.4f}")
    csv_path = lists / names[split]
    csv_path.write_text("\n".join(rows) + "\n")
    return {"root": str(root), "csv": str(csv_path), "n": n, "seconds": round(time.monotonic() - start, 3)}
