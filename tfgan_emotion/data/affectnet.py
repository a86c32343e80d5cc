"""AffectNet reader, both releases (SPECS.md "Dataset formats", AffectNet).

(a) Original release: ``Manually_Annotated_file_lists/{training,validation}.csv`` with the columns
``#subDirectory_filePath`` (or ``subDirectory_filePath``), ``face_x, face_y, face_width, face_height``,
``facial_landmarks`` (136 floats joined by ';'), ``expression`` (0-10), ``valence``, ``arousal`` (-2 = invalid);
images under ``Manually_Annotated_Images/``. The face box crops the image; a zero box means the whole image (kept,
counted). Rows whose class is outside ``classes`` (default 0-7, SPECS CAAE "Data (code)": "classes 0-7 only") or
whose valence/arousal is -2 are dropped and counted.

(b) Cropped 8-label release: ``{train,val}_set/images/N.jpg`` with ``annotations/N_{exp,val,aro,lnd}.npy``.

:func:`load` tells the releases apart by what ``data_dir`` holds. Examples carry ``image``, ``expression`` (AffectNet
order, :data:`labels.AFFECTNET`), ``valence``, ``arousal`` and ``landmarks``: float32 [68, 2] as (x, y) in the
coordinates of the emitted image normalised to [0, 1] (0 = left/top edge of the crop, 1 = right/bottom edge), so
they stay valid at any ``image_size``; multiply by the image size for pixels. A row whose landmarks do not parse
keeps NaN landmarks (counted).
"""
from __future__ import annotations

import concurrent.futures
import os
import re
from pathlib import Path

import numpy as np

from tfgan_emotion.data import labels as label_sets
from tfgan_emotion.data import pipeline
from tfgan_emotion.data.pipeline import ReadSummary, RowFilter, Scan

NAME = "affectnet"
VOCABULARY = label_sets.AFFECTNET
SPLITS = ("train", "validation")
DEFAULT_CLASSES = tuple(range(label_sets.AFFECTNET_EMOTIONS))
INVALID_VA = -2.0
N_LANDMARKS = 68

LISTS_DIR = "Manually_Annotated_file_lists"
IMAGES_DIR = "Manually_Annotated_Images"
CSV_NAMES = {"train": "training.csv", "validation": "validation.csv"}
CROPPED_DIRS = {"train": "train_set", "validation": "val_set"}
PATH_COLUMNS = ("#subDirectory_filePath", "subDirectory_filePath")
NUMERIC_COLUMNS = ("face_x", "face_y", "face_width", "face_height", "expression", "valence", "arousal")
_SPLIT_ALIASES = {"train": "train", "training": "train", "validation": "validation", "val": "validation",
                  "valid": "validation"}


def _split(split: str) -> str:
    try:
        return _SPLIT_ALIASES[str(split).lower()]
    except KeyError:
        raise ValueError(f"AffectNet split must be one of {sorted(_SPLIT_ALIASES)}, got {split!r}") from None


def detect_release(data_dir: str | Path) -> str:
    """``"csv"`` (original release) or ``"cropped"`` (8-label release) from the folders in ``data_dir``."""
    root = Path(data_dir).expanduser()
    if (root / LISTS_DIR).is_dir():
        return "csv"
    if any((root / d).is_dir() for d in CROPPED_DIRS.values()):
        return "cropped"
    raise FileNotFoundError(
        f"AffectNet: {root} holds neither {LISTS_DIR}/ (original release, with {IMAGES_DIR}/) nor "
        f"train_set/ or val_set/ (cropped 8-label release). Point data_dir at the folder that contains them."
    )


def scan(
    data_dir: str | Path,
    split: str = "train",
    *,
    classes=DEFAULT_CLASSES,
    drop_invalid_va: bool = True,
    oversample: bool = False,
    oversample_seed: int = 0,
    check: str = "decode",
    release: str | None = None,
) -> Scan:
    """Index one split, check its images and apply the row filters; see the module docstring and :func:`load`."""
    split = _split(split)
    release = release or detect_release(data_dir)
    if release == "csv":
        result = _scan_csv(Path(data_dir).expanduser(), split, classes, drop_invalid_va, check)
    elif release == "cropped":
        result = _scan_cropped(Path(data_dir).expanduser(), split, classes, drop_invalid_va, check)
    else:
        raise ValueError(f"AffectNet release must be 'csv' or 'cropped', got {release!r}")
    result.summary.kept = len(result)
    if oversample and len(result):
        # SPECS CAAE "Data (code)": "classes oversampled to equal counts".
        index = pipeline.oversample_indices(result.labels["expression"], seed=oversample_seed)
        result = result.select(index)
        result.summary.emitted = len(index)
    return result


def load(
    data_dir: str | Path,
    split: str = "train",
    image_size=128,
    channels: int = 3,
    *,
    classes=DEFAULT_CLASSES,
    drop_invalid_va: bool = True,
    oversample: bool = False,
    oversample_seed: int = 0,
    check: str = "decode",
    release: str | None = None,
    shuffle_files: bool = False,
    seed: int | None = None,
    verbose: bool = True,
    stream: bool = False,
):
    """AffectNet as unbatched dicts ``image, expression, valence, arousal, landmarks`` and its :class:`ReadSummary`.

    ``split``: ``"train"`` (training.csv / train_set) or ``"validation"`` (validation.csv / val_set). ``classes``:
    the expression indices kept (``range(7)`` for GANmut). ``drop_invalid_va``: drop valence/arousal -2 rows.
    ``oversample``: repeat examples so every class has as many as the largest (the CAAE authors' code).
    ``check``: ``"decode"`` (every image fully decoded in the pre-pass) or ``"header"`` (faster, see
    :func:`pipeline.check_images`). ``release``: force ``"csv"`` or ``"cropped"`` instead of detecting it.
    """
    result = scan(data_dir, split, classes=classes, drop_invalid_va=drop_invalid_va, oversample=oversample,
                  oversample_seed=oversample_seed, check=check, release=release)
    return pipeline.finish(result, image_size, channels, shuffle_files=shuffle_files, seed=seed, verbose=verbose,
                           stream=stream)


# --------------------------------------------------------------------------------------------------------------------
# (a) original release
# --------------------------------------------------------------------------------------------------------------------
def _read_csv(csv_path: Path) -> pipeline.CsvTable:
    hint = (f"Expected the AffectNet file list {csv_path.name} with columns {PATH_COLUMNS[0]} (or "
            f"{PATH_COLUMNS[1]}), {', '.join(NUMERIC_COLUMNS[:4])}, facial_landmarks, expression, valence, arousal.")
    table = pipeline.read_csv(csv_path, "AffectNet", hint + f" Point data_dir at the folder holding {LISTS_DIR}/ "
                                                            f"and {IMAGES_DIR}/.")
    path_column = next((c for c in PATH_COLUMNS if c in table.columns), None)
    missing = [c for c in ("facial_landmarks",) + NUMERIC_COLUMNS if c not in table.columns]
    if path_column is None or missing:
        absent = ([f"{PATH_COLUMNS[0]} (or {PATH_COLUMNS[1]})"] if path_column is None else []) + missing
        raise ValueError(f"AffectNet: {csv_path} line 1 (header) lacks column(s) {', '.join(absent)}; found "
                         f"{', '.join(table.header)}. {hint}")
    table.columns["path"] = table.columns.pop(path_column)
    return table


def _parse_landmarks(texts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[n, 68, 2] float32 landmarks in pixels and a mask of rows that parsed (136 floats joined by ';')."""
    values, counts = pipeline.parse_number_rows(texts, 2 * N_LANDMARKS, dtype=np.float32, sep=";")
    ok = counts == 2 * N_LANDMARKS
    values[~ok] = np.nan
    return values.reshape(-1, N_LANDMARKS, 2), ok


def _scan_csv(root: Path, split: str, classes, drop_invalid_va: bool, check: str) -> Scan:
    csv_path = root / LISTS_DIR / CSV_NAMES[split]
    table = _read_csv(csv_path)
    images_root = pipeline.require_dir(
        root / IMAGES_DIR, "AffectNet images", f"The original release keeps the images under {IMAGES_DIR}/ beside "
                                               f"{LISTS_DIR}/.")
    summary = ReadSummary(NAME, split, str(csv_path))
    table.count_bad(summary)
    lines = table.lines
    rows = RowFilter(summary, pipeline.line_locations(csv_path, lines))
    numbers = {c: pipeline.to_numbers(table.columns[c]) for c in NUMERIC_COLUMNS}
    relative = table.columns["path"]

    rows.drop(relative == "", "empty image path")
    expression_raw = numbers["expression"]
    rows.drop(~np.isfinite(expression_raw) | (expression_raw != np.round(expression_raw)), "unparsable expression")
    expression = np.where(np.isfinite(expression_raw), expression_raw, -1).astype(np.int64)
    rows.drop_classes(expression, classes, VOCABULARY)
    _filter_va(rows, numbers["valence"], numbers["arousal"], drop_invalid_va)
    box_cols = np.stack([numbers[c] for c in ("face_y", "face_x", "face_height", "face_width")], axis=1)
    rows.drop(~np.isfinite(box_cols).all(axis=1), "unparsable face box")
    rows.drop(np.nan_to_num(box_cols).min(axis=1) < 0, "negative face box")

    keep = np.flatnonzero(rows.keep)
    guard = pipeline.PathGuard(images_root, csv_path)
    paths = np.array([guard(relative[i], f"line {lines[i]}") for i in keep], dtype=object)
    where = np.array([f"{csv_path.name} line {lines[i]}: {relative[i]}" for i in keep], dtype=object)
    checked = pipeline.check_images(paths, summary, locations=where, level=check)

    keep, paths, where = keep[checked.ok], paths[checked.ok], where[checked.ok]
    width, height = checked.width[checked.ok], checked.height[checked.ok]
    boxes = np.round(box_cols[keep]).astype(np.int64)
    zero = (boxes[:, 2] == 0) | (boxes[:, 3] == 0)
    boxes[zero] = pipeline.whole_image_boxes(width, height)[zero]
    for i in np.flatnonzero(zero):
        summary.note(pipeline.ZERO_BOX, where[i])
    boxes = pipeline.clamp_boxes(boxes, width, height)
    outside = (boxes[:, 2] == 0) | (boxes[:, 3] == 0)
    for i in np.flatnonzero(outside):
        summary.skip("face box outside image", where[i])
    inside = ~outside
    keep, boxes = keep[inside], boxes[inside]

    landmarks, parsed = _parse_landmarks(table.columns["facial_landmarks"][keep])
    for i in np.flatnonzero(~parsed):
        summary.note("landmarks not 136 numbers (NaN used)", f"{csv_path.name} line {lines[keep[i]]}")
    labels = {
        "expression": expression[keep].astype(np.int32),
        "valence": numbers["valence"][keep].astype(np.float32),
        "arousal": numbers["arousal"][keep].astype(np.float32),
        "landmarks": _normalise_landmarks(landmarks, boxes),
    }
    return Scan(summary, labels, paths=paths[inside].astype(str), boxes=boxes)


def _filter_va(rows: RowFilter, valence: np.ndarray, arousal: np.ndarray, drop_invalid_va: bool) -> None:
    for name, values in (("valence", valence), ("arousal", arousal)):
        rows.drop(~np.isfinite(values), f"unparsable {name}")
        invalid = values == INVALID_VA
        if drop_invalid_va:
            rows.drop(invalid, f"invalid {name} -2")
        rows.drop(~invalid & ((values < -1) | (values > 1)), f"{name} outside [-1, 1]")


def _normalise_landmarks(landmarks: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Pixels of the original image -> [0, 1] within each ``[top, left, height, width]`` crop."""
    top, left = boxes[:, 0, None].astype(np.float32), boxes[:, 1, None].astype(np.float32)
    height, width = boxes[:, 2, None].astype(np.float32), boxes[:, 3, None].astype(np.float32)
    out = np.empty_like(landmarks, dtype=np.float32)
    out[:, :, 0] = (landmarks[:, :, 0] - left) / np.maximum(width, 1)
    out[:, :, 1] = (landmarks[:, :, 1] - top) / np.maximum(height, 1)
    return out


# --------------------------------------------------------------------------------------------------------------------
# (b) cropped 8-label release
# --------------------------------------------------------------------------------------------------------------------
_IMAGE_NAME = re.compile(r"^(\d+)\.(jpe?g|png)$", re.IGNORECASE)
_ANNOTATIONS = ("exp", "val", "aro", "lnd")


def _load_annotation(path: Path) -> np.ndarray | str:
    """Values of one ``N_<kind>.npy`` (numbers or numeric strings) as float64, or the reason it cannot be used."""
    try:
        array = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        return "missing annotation"
    except (ValueError, OSError, EOFError):
        return "corrupt annotation"
    try:
        return np.asarray(array).astype(np.float64).ravel()
    except (ValueError, TypeError):
        return "corrupt annotation"


def _scan_cropped(root: Path, split: str, classes, drop_invalid_va: bool, check: str) -> Scan:
    split_dir = root / CROPPED_DIRS[split]
    hint = f"The cropped release keeps {CROPPED_DIRS[split]}/images/N.jpg and {CROPPED_DIRS[split]}/annotations/."
    images_dir = pipeline.require_dir(split_dir / "images", "AffectNet cropped release", hint)
    annotations_dir = pipeline.require_dir(split_dir / "annotations", "AffectNet cropped release", hint)
    summary = ReadSummary(NAME, split, str(split_dir))
    names = []
    for entry in sorted(os.listdir(images_dir), key=pipeline.natural_key):
        match = _IMAGE_NAME.match(entry)
        if match:
            names.append((match.group(1), entry))
        else:
            summary.skip("unrecognised file name", f"images/{entry}")

    def annotations(number: str):
        values = {}
        for kind in _ANNOTATIONS:
            value = _load_annotation(annotations_dir / f"{number}_{kind}.npy")
            if isinstance(value, str):
                return f"{value} ({kind})"
            values[kind] = value
        return values

    workers = min(32, 4 * (os.cpu_count() or 1))
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        loaded = list(pool.map(annotations, [number for number, _ in names]))
    n = len(names)
    locations = np.array([f"images/{entry}" for _, entry in names], dtype=object)
    rows = RowFilter(summary, locations)
    bad_reason = np.array([r if isinstance(r, str) else "" for r in loaded], dtype=object)
    for reason in sorted(set(bad_reason) - {""}):
        rows.drop(bad_reason == reason, reason)

    def scalar(kind: str) -> np.ndarray:
        return np.array([v[kind][0] if isinstance(v, dict) and v[kind].size == 1 else np.nan for v in loaded],
                        dtype=np.float64).reshape(n)

    expression_raw, valence, arousal = scalar("exp"), scalar("val"), scalar("aro")
    rows.drop(~np.isfinite(expression_raw) | (expression_raw != np.round(expression_raw)), "unparsable expression")
    expression = np.where(np.isfinite(expression_raw), expression_raw, -1).astype(np.int64)
    rows.drop_classes(expression, classes, VOCABULARY)
    _filter_va(rows, valence, arousal, drop_invalid_va)

    keep = np.flatnonzero(rows.keep)
    paths = np.array([str(images_dir / names[i][1]) for i in keep], dtype=object)
    checked = pipeline.check_images(paths, summary, locations=locations[keep], level=check)
    keep, paths = keep[checked.ok], paths[checked.ok]
    width, height = checked.width[checked.ok], checked.height[checked.ok]
    boxes = pipeline.whole_image_boxes(width, height)
    landmarks = np.full((len(keep), N_LANDMARKS, 2), np.nan, dtype=np.float32)
    for j, i in enumerate(keep):
        points = loaded[i]["lnd"]
        if points.size == 2 * N_LANDMARKS:
            landmarks[j] = points.reshape(N_LANDMARKS, 2)
        else:
            summary.note("landmarks not 136 numbers (NaN used)", str(locations[i]))
    labels = {
        "expression": expression[keep].astype(np.int32),
        "valence": valence[keep].astype(np.float32),
        "arousal": arousal[keep].astype(np.float32),
        "landmarks": _normalise_landmarks(landmarks, boxes),
    }
    return Scan(summary, labels, paths=paths.astype(str), boxes=boxes)
