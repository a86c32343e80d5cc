"""fer2013 reader (SPECS.md "Dataset formats", fer2013; SPECS "fer2013 conditional DCGAN": 48x48x1, 7 classes).

CSV release: ``fer2013.csv`` with columns ``emotion, pixels, Usage`` (2,304 space-separated ints per row; Usage
``Training`` / ``PublicTest`` / ``PrivateTest``); ``icml_face_data.csv`` has the same columns with leading spaces in
their names (`` Usage``, `` pixels``), which are stripped. The pixel text of all rows is parsed in chunks by
``np.fromstring`` (:func:`pipeline.parse_number_rows`), not by a per-value Python loop, so the whole 35,887-row file
takes seconds. A row with the wrong number of pixels, a pixel outside 0-255 or a class outside 0-6 is skipped and
counted with its line number.

Folder release: ``{train,test}/<class name>/*.png`` (class names as in :data:`labels.FER2013`, any case; ``.jpg``
accepted too).

Examples carry ``image`` (48x48 unless ``image_size`` says otherwise; ``channels=1`` by default) and ``expression``
(fer2013 order: 0 angry, 1 disgust, 2 fear, 3 happy, 4 sad, 5 surprise, 6 neutral).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tfgan_emotion.data import labels as label_sets
from tfgan_emotion.data import pipeline
from tfgan_emotion.data.pipeline import ReadSummary, RowFilter, Scan

NAME = "fer2013"
VOCABULARY = label_sets.FER2013
SPLITS = ("Training", "PublicTest", "PrivateTest")
SIDE = 48
N_PIXELS = SIDE * SIDE
CSV_NAMES = ("fer2013.csv", "icml_face_data.csv")
FOLDER_SPLITS = {"train": "train", "test": "test"}
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
# Split names accepted by the CSV release -> the Usage value(s) they select.
USAGE_ALIASES = {
    "training": ("Training",), "train": ("Training",),
    "publictest": ("PublicTest",), "public_test": ("PublicTest",), "val": ("PublicTest",),
    "validation": ("PublicTest",),
    "privatetest": ("PrivateTest",), "private_test": ("PrivateTest",),
    "test": ("PublicTest", "PrivateTest"),
}


def _find_csv(root: Path) -> Path | None:
    if root.is_file():
        return root
    for name in CSV_NAMES:
        if (root / name).is_file():
            return root / name
    return None


def detect_release(data_dir: str | Path) -> str:
    """``"csv"`` (fer2013.csv / icml_face_data.csv, or data_dir is that file) or ``"folders"`` (train/, test/)."""
    root = Path(data_dir).expanduser()
    if _find_csv(root) is not None:
        return "csv"
    if any((root / d).is_dir() for d in FOLDER_SPLITS.values()):
        return "folders"
    raise FileNotFoundError(
        f"fer2013: {root} holds neither {' nor '.join(CSV_NAMES)} nor train/ and test/ class folders. Point data_dir "
        f"at the CSV file or the folder that contains it."
    )


def scan(data_dir: str | Path, split: str | None = "Training", *, check: str = "decode",
         release: str | None = None) -> Scan:
    """Index one split (``split=None``: every row of the CSV); see :func:`load`."""
    root = Path(data_dir).expanduser()
    release = release or detect_release(root)
    if release == "csv":
        result = _scan_csv(_find_csv(root) or root / CSV_NAMES[0], split)
    elif release == "folders":
        result = _scan_folders(root, split, check)
    else:
        raise ValueError(f"fer2013 release must be 'csv' or 'folders', got {release!r}")
    result.summary.kept = len(result)
    return result


def load(
    data_dir: str | Path,
    split: str | None = "Training",
    image_size=SIDE,
    channels: int = 1,
    *,
    check: str = "decode",
    release: str | None = None,
    shuffle_files: bool = False,
    seed: int | None = None,
    verbose: bool = True,
    stream: bool = False,
):
    """fer2013 as unbatched ``{"image", "expression"}`` dicts and its :class:`ReadSummary`.

    ``split`` (CSV release): a Usage value ``"Training"``, ``"PublicTest"``, ``"PrivateTest"`` (or ``"train"``,
    ``"val"`` = PublicTest, ``"test"`` = both test sets), or ``None`` for every row. Folder release: ``"train"`` or
    ``"test"``. ``check`` applies to the folder release's image files (see :func:`pipeline.check_images`).
    """
    result = scan(data_dir, split, check=check, release=release)
    return pipeline.finish(result, image_size, channels, shuffle_files=shuffle_files, seed=seed, verbose=verbose,
                           stream=stream)


def splits(data_dir: str | Path) -> tuple[str, ...]:
    """The splits :func:`pipeline.summarize` lists: the Usage values (CSV) or train/test (folders)."""
    return SPLITS if detect_release(data_dir) == "csv" else tuple(FOLDER_SPLITS)


def _usages(split: str | None) -> tuple[str, ...] | None:
    if split is None:
        return None
    key = str(split).replace(" ", "").lower()
    if key not in USAGE_ALIASES:
        raise ValueError(f"fer2013 split must be None (all rows), one of {', '.join(SPLITS)} or "
                         f"{', '.join(sorted(k for k in USAGE_ALIASES if k.islower() and '_' not in k))}; "
                         f"got {split!r}")
    return USAGE_ALIASES[key]


def _scan_csv(csv_path: Path, split: str | None) -> Scan:
    usages = _usages(split)
    hint = "Expected the fer2013 CSV with columns emotion, pixels (2,304 space-separated ints) and Usage."
    table = pipeline.read_csv(csv_path, "fer2013", hint)  # header names stripped: icml_face_data.csv " Usage"
    required = ("emotion", "pixels") + (("Usage",) if usages is not None else ())
    missing = [c for c in required if c not in table.columns]
    if missing:
        extra = " (split=None reads every row without it)" if missing == ["Usage"] else ""
        raise ValueError(f"fer2013: {csv_path} line 1 (header) lacks column(s) {', '.join(missing)}{extra}; found "
                         f"{', '.join(table.header)}. {hint}")

    summary = ReadSummary(NAME, split if split is not None else "all", str(csv_path))
    columns, lines = table.columns, table.lines
    if usages is not None:
        selected = np.isin(columns["Usage"], usages)
        columns = {k: v[selected] for k, v in columns.items()}
        lines = lines[selected]
    else:
        table.count_bad(summary)  # a row too broken to split has no Usage: counted when reading every row
    locations = pipeline.line_locations(csv_path, lines)
    rows = RowFilter(summary, locations)

    emotion_raw = pipeline.to_numbers(columns["emotion"])
    rows.drop(~np.isfinite(emotion_raw) | (emotion_raw != np.round(emotion_raw)), "unparsable emotion")
    emotion = np.where(np.isfinite(emotion_raw), emotion_raw, -1).astype(np.int64)
    rows.drop_classes(emotion, range(len(VOCABULARY)), VOCABULARY)

    pixels, counts = pipeline.parse_number_rows(columns["pixels"], N_PIXELS, dtype=np.int32)
    wrong = rows.keep & (counts != N_PIXELS)
    for i in np.flatnonzero(wrong):
        what = "not numbers" if counts[i] < 0 else f"{counts[i]} pixels"
        summary.skip("wrong pixel count", f"{locations[i]} ({what})")
    rows.keep &= ~wrong
    rows.drop((pixels.min(axis=1) < 0) | (pixels.max(axis=1) > 255), "pixel value outside 0-255")

    keep = rows.keep
    images = pixels[keep].astype(np.uint8).reshape(-1, SIDE, SIDE, 1)
    return Scan(summary, {"expression": emotion[keep].astype(np.int32)}, images=images)


def _scan_folders(root: Path, split: str | None, check: str) -> Scan:
    key = "train" if split is None else str(split).lower()
    key = {"training": "train", "privatetest": "test", "publictest": "test"}.get(key, key)
    if key not in FOLDER_SPLITS:
        raise ValueError(f"fer2013 folder release: split must be 'train' or 'test', got {split!r}")
    split_dir = pipeline.require_dir(root / FOLDER_SPLITS[key], "fer2013 folder release",
                                     "Expected train/<class name>/*.png and test/<class name>/*.png.")
    summary = ReadSummary(NAME, key, str(split_dir))
    folders = []
    for entry in sorted(os.listdir(split_dir)):
        folder = split_dir / entry
        if not folder.is_dir():
            summary.skip("not a class folder", entry)
            continue
        try:
            folders.append((VOCABULARY.index(entry), entry))
        except KeyError:
            raise ValueError(f"fer2013: {folder} is not a fer2013 class folder; class folders are "
                             f"{', '.join(VOCABULARY.names)}. Rename or remove it.") from None
    paths, classes = [], []
    for k, entry in sorted(folders):  # class order, whatever the folder names' case
        folder = split_dir / entry
        for name in sorted(os.listdir(folder), key=pipeline.natural_key):
            if name.lower().endswith(IMAGE_EXTENSIONS):
                paths.append(str(folder / name))
                classes.append(k)
            else:
                summary.skip("not an image file name", f"{entry}/{name}")
    locations = [os.path.relpath(p, split_dir) for p in paths]
    checked = pipeline.check_images(paths, summary, locations=locations, level=check)
    ok = checked.ok
    labels = {"expression": np.asarray(classes, dtype=np.int32).reshape(-1)[ok]}
    boxes = pipeline.whole_image_boxes(checked.width[ok], checked.height[ok])
    return Scan(summary, labels, paths=np.asarray(paths, dtype=str).reshape(-1)[ok], boxes=boxes)
