"""FACES reader (SPECS.md "Dataset formats", FACES; SPECS "Label-interpolation cGAN": 256x256x3, 6 emotions,
all 2,052 images).

File names ``<id>_<age y|m|o>_<gender m|f>_<emotion a|d|f|h|n|s>_<set a|b>.jpg`` anywhere under ``data_dir``
(searched recursively); a name that does not parse is skipped and counted. The originals are large (2835x3543):
they are decoded by PIL with JPEG ``draft`` scaling (the DCT decodes straight at 1/2, 1/4 or 1/8 size), both in the
image check and in the tf.data stage, then resized.

Fit (ours; the paper does not say how its portrait photos became 256x256 squares): ``fit="center"`` (default) takes
the largest centred square, ``fit="squash"`` resizes the whole photo.

Examples carry ``image``, ``expression`` (index in :data:`labels.FACES`: neutral, fear, anger, sadness, disgust,
happiness, whatever subset is kept), ``identity`` (dense index over the sorted person ids found), ``person`` (the id
in the file name), ``age`` (0 young, 1 middle-aged, 2 older), ``gender`` (0 male, 1 female) and ``picture_set``
(0 a, 1 b).
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from tfgan_emotion.data import labels as label_sets
from tfgan_emotion.data import pipeline
from tfgan_emotion.data.pipeline import ReadSummary, Scan

NAME = "faces"
VOCABULARY = label_sets.FACES
SPLITS = ("all",)
AGES = ("y", "m", "o")
GENDERS = ("m", "f")
PICTURE_SETS = ("a", "b")
FILE_NAME = re.compile(r"^(\d+)_([ymo])_([mf])_([adfhns])_([ab])\.jpe?g$", re.IGNORECASE)
IMAGE_EXTENSIONS = (".jpg", ".jpeg")


def _emotion_indices(emotions) -> list[int]:
    """Emotions given by name (``"fear"``, canonical ``"sad"``), file code (``"f"``) or index, in FACES order."""
    if emotions is None:
        return list(range(len(VOCABULARY)))
    out = set()
    for e in emotions:
        if isinstance(e, (int, np.integer)):
            if not 0 <= e < len(VOCABULARY):
                raise ValueError(f"FACES has no emotion index {e}; 0-{len(VOCABULARY) - 1}")
            out.add(int(e))
            continue
        key = str(e).lower()
        key = label_sets.FACES_CODES.get(key, key)
        try:
            out.add(VOCABULARY.index(key))
        except KeyError:
            raise ValueError(f"FACES has no emotion {e!r}; emotions: {', '.join(VOCABULARY.names)} (codes "
                             f"{', '.join(label_sets.FACES_CODES)})") from None
    return sorted(out)


def scan(data_dir: str | Path, split: str = "all", *, emotions=None, fit: str = "center",
         check: str = "decode") -> Scan:
    """Index and check the photos; see :func:`load`."""
    if str(split).lower() != "all":
        raise ValueError(f"FACES has one split, 'all' (the paper trains on all 2,052 images); got {split!r}")
    if fit not in ("center", "squash"):
        raise ValueError(f"fit must be 'center' or 'squash', got {fit!r}")
    root = pipeline.require_dir(data_dir, "FACES", "Point data_dir at the folder holding the FACES .jpg files.")
    chosen = _emotion_indices(emotions)
    summary = ReadSummary(NAME, "all", str(root))
    found = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files, key=pipeline.natural_key):
            if not name.lower().endswith(IMAGE_EXTENSIONS):
                continue
            relative = os.path.relpath(os.path.join(folder, name), root)
            match = FILE_NAME.match(name)
            if match is None:
                summary.skip("unrecognised file name", relative)
                continue
            person, age, gender, emotion, picture_set = match.groups()
            found.append((relative, int(person), AGES.index(age.lower()), GENDERS.index(gender.lower()),
                          VOCABULARY.index(label_sets.FACES_CODES[emotion.lower()]),
                          PICTURE_SETS.index(picture_set.lower())))
    people = sorted({f[1] for f in found})
    kept = []
    for item in found:
        if item[4] in chosen:
            kept.append(item)
        else:
            summary.skip(f"emotion not selected ({VOCABULARY.names[item[4]]})", item[0])
    paths = [str(root / item[0]) for item in kept]
    checked = pipeline.check_images(paths, summary, locations=[item[0] for item in kept], level=check)
    ok = checked.ok
    columns = np.asarray([item[1:] for item in kept], dtype=np.int64).reshape(-1, 5)[ok]
    labels = {
        "expression": columns[:, 3].astype(np.int32),
        "identity": np.searchsorted(people, columns[:, 0]).astype(np.int32),
        "person": columns[:, 0].astype(np.int32),
        "age": columns[:, 1].astype(np.int32),
        "gender": columns[:, 2].astype(np.int32),
        "picture_set": columns[:, 4].astype(np.int32),
    }
    boxes = pipeline.whole_image_boxes(checked.width[ok], checked.height[ok])
    if fit == "center":
        boxes = pipeline.center_square(boxes)
    summary.kept = int(ok.sum())
    return Scan(summary, labels, paths=np.asarray(paths, dtype=str).reshape(-1)[ok], boxes=boxes, decoder="pil")


def load(
    data_dir: str | Path,
    split: str = "all",
    image_size=256,
    channels: int = 3,
    *,
    emotions=None,
    fit: str = "center",
    check: str = "decode",
    shuffle_files: bool = False,
    seed: int | None = None,
    verbose: bool = True,
):
    """FACES as unbatched dicts (module docstring) and its :class:`ReadSummary`.

    ``emotions``: the emotions kept, by name, file code or index (default all six); ``expression`` stays the index
    in :data:`labels.FACES` either way. ``fit``: ``"center"`` or ``"squash"``.
    """
    result = scan(data_dir, split, emotions=emotions, fit=fit, check=check)
    return pipeline.finish(result, image_size, channels, shuffle_files=shuffle_files, seed=seed, verbose=verbose)
