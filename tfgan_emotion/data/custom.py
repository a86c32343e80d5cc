"""Your own labelled faces: a CSV with one row per image, or a folder with one sub-folder per class.

Every recipe reads this with ``--data-csv FILE [--image-root DIR]`` or ``--data-dir DIR --data-format folders``
(docs/datasets.md, "Your own data"). The accepted CSVs:

* the generic form: a path column (``path``, ``image``, ``file``, ``filename``, ``image_path`` or
  ``subDirectory_filePath``) and the label columns a system needs: ``expression`` (a class name, or an index into
  ``--classes``), ``valence`` and ``arousal`` (numbers in [-1, 1]), ``identity`` or ``character`` (who is shown;
  FExGAN pairs two images of one person), optional face box columns (``face_x, face_y, face_width, face_height``
  in pixels) and an optional ``split`` column (``train``, ``val``/``validation`` or ``test``);
* GANmut's custom-dataset CSV (``subDirectory_filePath,expression``, indices) and AffectNet's own file lists, as
  they are;
* the CSV ``tfgan-emotion data crop`` writes (``path`` of the crop, ``source``, the detected box, ``expression``):
  its paths are the crops themselves, so its box columns (which describe the source photo) are not applied.

Validation is that of the published readers: every bad row is skipped and counted by reason with its line
(missing file, corrupt or truncated image, label out of range, unknown class name, duplicate image, a path that
leaves the image root, a malformed row), and an error names the file and what to do when nothing usable remains.

Vocabulary: ``--classes a,b,c`` fixes the classes and their order (indices in the CSV count from 0 in that list).
Without it, indices are read in the system's own paper vocabulary, and names make the vocabulary: names we know as
emotions (``happy``, ``happiness``, ``joy`` ...) come first in AffectNet's order (neutral, happy, sad, surprise,
fear, disgust, anger, contempt), other names follow alphabetically. ``--label-map FILE`` renames, merges or drops
classes before that (a CSV ``from,to``; an empty ``to`` drops the class; ``from`` may be a name or an index).
"""
from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tfgan_emotion.data import labels as label_sets

# The readers' shared stages (pipeline) import TensorFlow; they are imported where rows are read, so that checking
# --classes and --label-map stays free of it.
if TYPE_CHECKING:
    from tfgan_emotion.data.pipeline import ReadSummary, RowFilter, Scan

NAME = "your data"   # how messages and read summaries name the data
PATH_COLUMNS = ("path", "subDirectory_filePath", "image", "image_path", "file", "filename")
EXPRESSION_COLUMNS = ("expression", "emotion", "label", "class")
IDENTITY_COLUMNS = ("identity", "character", "subject", "person")
BOX_COLUMNS = ("face_x", "face_y", "face_width", "face_height")
SPLIT_COLUMN = "split"
SPLITS = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
VA_RANGE = (-1.0, 1.0)

# Spellings of the canonical emotions (labels.CANONICAL) found in published datasets' class lists.
ALIASES = {
    "neutral": "neutral", "neutrality": "neutral",
    "happy": "happy", "happiness": "happy", "joy": "happy", "joyful": "happy",
    "sad": "sad", "sadness": "sad",
    "surprise": "surprise", "surprised": "surprise",
    "fear": "fear", "fearful": "fear", "afraid": "fear", "scared": "fear",
    "disgust": "disgust", "disgusted": "disgust",
    "anger": "anger", "angry": "anger",
    "contempt": "contempt", "contemptuous": "contempt",
}


def canonical(name: str) -> str | None:
    """The canonical emotion a class name spells (``Happiness`` -> ``happy``), or None for other names."""
    return ALIASES.get(str(name).strip().lower())


def make_vocabulary(names, dataset: str = NAME) -> label_sets.Vocabulary:
    """A Vocabulary of these class names, each mapped to its canonical emotion where it spells one."""
    names = tuple(str(n) for n in names)
    if len(set(n.lower() for n in names)) != len(names):
        raise ValueError(f"class names must differ (ignoring case): {', '.join(names)}")
    return label_sets.Vocabulary(dataset, names, tuple(canonical(n) for n in names))


def order_names(names) -> tuple[str, ...]:
    """The class order when the data names its classes and no --classes is given: known emotions in AffectNet's
    order (neutral first), then the other names alphabetically."""
    from tfgan_emotion.data import pipeline

    known = [n for n in names if canonical(n) is not None]
    other = sorted((n for n in names if canonical(n) is None), key=lambda n: pipeline.natural_key(n.lower()))
    rank = {c: i for i, c in enumerate(label_sets.CANONICAL)}
    return tuple(sorted(known, key=lambda n: (rank[canonical(n)], n.lower()))) + tuple(other)


def parse_classes(text) -> tuple[str, ...] | None:
    """``--classes`` as a tuple of names (comma-separated text or a sequence); None when not given."""
    if text is None:
        return None
    parts = [p.strip() for p in (text.split(",") if isinstance(text, str) else text)]
    if not parts or any(not p for p in parts):
        raise ValueError(f"--classes {text!r}: give the class names separated by commas, e.g. "
                         "neutral,happy,sad,surprise,fear,disgust,anger")
    make_vocabulary(parts)   # refuses duplicates
    return tuple(parts)


def read_label_map(path) -> dict[str, str | None]:
    """``--label-map FILE``: lower-cased source label -> target name, or None to drop the class. A CSV with the
    header ``from,to`` (one mapping per row), or a JSON object ``{"contempt": "disgust", "uncertain": null}``."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"--label-map {path}: no such file; give a CSV with the header from,to or a JSON "
                                "object mapping each label to its new name")
    out: dict[str, str | None] = {}
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise ValueError(f"--label-map {path}: not valid JSON ({e})") from None
        if not isinstance(data, dict):
            raise ValueError(f"--label-map {path}: expected a JSON object mapping labels to new names")
        for k, v in data.items():
            out[str(k).strip().lower()] = None if v in (None, "") else str(v).strip()
        return out
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    header = [h.strip().lower() for h in rows[0]] if rows else []
    if header[:2] != ["from", "to"]:
        found = ",".join(header) or "nothing"
        raise ValueError(f"--label-map {path} line 1: the header must be 'from,to' (found {found}); each later row maps one label (a name or an index) to its new name, an empty "
                         "'to' drops the class")
    for line, row in enumerate(rows[1:], start=2):
        if not row or not any(c.strip() for c in row):
            continue
        if len(row) < 2:
            raise ValueError(f"--label-map {path} line {line}: expected two fields 'from,to', got {row!r}")
        key = row[0].strip().lower()
        if key in out:
            raise ValueError(f"--label-map {path} line {line}: {row[0].strip()!r} is mapped twice")
        out[key] = row[1].strip() or None
    return out


@dataclass(frozen=True)
class Source:
    """Where the user's own data is: ``csv`` (with images under ``image_root``, default the CSV's folder) or
    ``folder`` (one sub-folder per class, optionally inside train/val/test folders), and the label options."""

    csv: Path | None = None
    folder: Path | None = None
    image_root: Path | None = None
    classes: tuple[str, ...] | None = None
    label_map: Path | None = None

    @property
    def root(self) -> Path:
        if self.folder is not None:
            return Path(self.folder)
        return Path(self.image_root) if self.image_root is not None else Path(self.csv).parent

    @property
    def shown(self) -> str:
        return str(self.csv if self.csv is not None else self.folder)

    @property
    def name(self) -> str:
        """A short name for run directories: the folder (and the CSV's stem)."""
        if self.folder is not None:
            return Path(self.folder).resolve().name
        p = Path(self.csv).resolve()
        return f"{p.parent.name}-{p.stem}"


def source_from_args(args) -> Source | None:
    """The recipe flags as a :class:`Source`, or None when the run reads a published layout or synthetic faces."""
    data_csv = getattr(args, "data_csv", None)
    folders = getattr(args, "data_format", "published") == "folders"
    if not data_csv and not folders:
        return None
    return Source(csv=Path(data_csv) if data_csv else None,
                  folder=Path(args.data_dir) if folders and getattr(args, "data_dir", None) else None,
                  image_root=getattr(args, "image_root", None), classes=parse_classes(getattr(args, "classes", None)),
                  label_map=getattr(args, "label_map", None))


@dataclass
class Custom:
    """What :func:`read` found: the :class:`Scan` (labels ``expression`` int32 when the data has classes,
    ``valence``/``arousal`` float32 when it has them, ``identity`` int32 when it names who is shown), the class
    ``vocabulary`` (None without classes), the identity names, each kept row's ``split`` ("" where not given), the
    ``form`` it was read as, and notes a run should carry."""

    scan: Scan
    vocabulary: label_sets.Vocabulary | None
    identities: tuple[str, ...] = ()
    split: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    form: str = "csv"
    notes: list = field(default_factory=list)

    def has(self, label: str) -> bool:
        return label in self.scan.labels

    def require(self, label: str, system: str, why: str) -> None:
        """ValueError when the data lacks a label column the system cannot do without."""
        if not self.has(label):
            cols = {"expression": "an expression column (class names, or indices with --classes)",
                    "valence": "valence and arousal columns (numbers in [-1, 1])",
                    "identity": "an identity (or character) column"}[label]
            raise ValueError(f"{self.scan.summary.source}: {system} needs {cols}: {why}")

    def parts(self, held_fraction: float = 0.1, seed: int = 0, held_splits=("val", "test")) -> tuple[Scan, Scan]:
        """(training, held-out) scans: the ``split`` column when the data has one (rows of ``held_splits`` are
        held out), otherwise a seeded ``held_fraction`` of each class (of all rows without classes), at least one
        row per class where a class has two or more."""
        n = len(self.scan)
        if n == 0:
            raise ValueError(f"{self.scan.summary.source}: no usable rows")
        given = np.asarray(self.split, dtype=object)
        if given.size == n and (given != "").any():
            held = np.isin(given, list(held_splits))
            train = given == "train"
            if not train.any():
                raise ValueError(f"{self.scan.summary.source}: the split column marks no row 'train'")
            if not held.any():
                held = train.copy()   # nothing held out: evaluate on the training rows, as FACES does
            return self.scan.select(np.flatnonzero(train)), self.scan.select(np.flatnonzero(held))
        rng = np.random.default_rng([seed, 0x5E7])
        groups = self.scan.labels.get("expression", np.zeros(n, np.int64))
        held = np.zeros(n, dtype=bool)
        for k in np.unique(groups):
            idx = np.flatnonzero(groups == k)
            if len(idx) < 2:
                continue
            take = max(1, int(round(held_fraction * len(idx))))
            held[rng.permutation(idx)[:take]] = True
        if not held.any():
            held[:] = True
            return self.scan, self.scan
        return self.scan.select(np.flatnonzero(~held)), self.scan.select(np.flatnonzero(held))


# --------------------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------------------
def _first(columns, names) -> str | None:
    lower = {c.lower(): c for c in columns}
    for n in names:
        if n.lower() in lower:
            return lower[n.lower()]
    return None


def _form(header) -> str:
    cols = {h.lower() for h in header}
    if {"crop_x0", "source", "box_x"} <= cols:
        return "data crop csv"
    if "subdirectory_filepath" in cols and {"face_x", "valence"} <= cols:
        return "affectnet csv"
    if "subdirectory_filepath" in cols:
        return "ganmut csv"
    return "csv"


class _Root:
    """Resolves image paths inside the image root; a path that leaves it is reported (not raised)."""

    def __init__(self, root: Path):
        self.root = os.path.realpath(root)

    def __call__(self, relative: str) -> str | None:
        rel = relative.replace("\\", "/")
        full = os.path.realpath(rel if os.path.isabs(rel) else os.path.join(self.root, rel))
        return full if full.startswith(self.root + os.sep) else None


def _labels_of(raw: np.ndarray, label_map: dict, rows: RowFilter) -> np.ndarray:
    """Apply the label map to raw label strings; rows whose class the map drops are skipped, counted per class."""
    out = raw.astype(object).copy()
    if not label_map:
        return out
    lower = np.array([str(v).strip().lower() for v in raw], dtype=object)
    for key, target in label_map.items():
        hit = lower == key
        if not hit.any():
            continue
        if target is None:
            rows.drop(hit, f"class {key!r} dropped by --label-map")
        else:
            out[hit] = target
    return out


def _classes(values: np.ndarray, ok: np.ndarray, source: Source, default: label_sets.Vocabulary | None,
             rows: RowFilter, where: str) -> tuple[np.ndarray, label_sets.Vocabulary]:
    """Class indices (-1 where skipped) and the vocabulary, from label strings (names or indices)."""
    text = np.array([str(v).strip() for v in values], dtype=object)
    rows.drop(ok & (text == ""), "no expression label")
    live = rows.keep & ok
    numeric = np.array([t.lstrip("-").isdigit() for t in text], dtype=bool)
    names_given = live & ~numeric
    if source.classes is not None:
        vocab = make_vocabulary(source.classes)
    elif names_given.any():
        vocab = make_vocabulary(order_names(_unique_names(text[names_given])))
        rows.drop(live & numeric, "class index among class names (name the classes with --classes)")
        live = rows.keep & ok
    elif default is not None:
        vocab = default
    else:
        raise ValueError(f"{where}: the expression column holds class indices; name the classes with --classes "
                         "(e.g. --classes neutral,happy,sad) or write the class names into the CSV")
    index = np.full(len(text), -1, dtype=np.int64)
    lookup = {}
    for i, (n, c) in enumerate(zip(vocab.names, vocab.canonical)):
        lookup.setdefault(n.lower(), i)
    for i, c in enumerate(vocab.canonical):
        if c is not None:
            lookup.setdefault(c, i)
    for i in np.flatnonzero(live):
        t = text[i]
        if numeric[i]:
            index[i] = int(t)
        else:
            index[i] = lookup.get(t.lower(), lookup.get(canonical(t) or "", -2))
    rows.drop(live & numeric & ((index < 0) | (index >= len(vocab))),
              f"class index out of range 0-{len(vocab) - 1}")
    for name in sorted(set(text[live & (index == -2)].tolist())):
        rows.drop(live & (index == -2) & (text == name), f"unknown class {name!r}")
    return index, vocab


def _unique_names(values) -> list[str]:
    """One name per class: spellings of one emotion (happy, Happiness, joy) are one class, the first spelling
    names it; other names are compared ignoring case."""
    seen = {}
    for v in values:
        seen.setdefault(canonical(v) or str(v).lower(), str(v))
    return list(seen.values())


def _read_csv(source: Source, default, summary: ReadSummary, label_map: dict):
    from tfgan_emotion.data import pipeline

    table = pipeline.read_csv(source.csv, NAME, "Expected a CSV whose first line names the columns, e.g. "
                                               "path,expression (see docs/datasets.md, 'Your own data').")
    table.count_bad(summary)
    cols = table.columns
    path_col = _first(table.header, PATH_COLUMNS)
    if path_col is None:
        raise ValueError(f"{source.csv} line 1 (header): no image path column; name it one of "
                         f"{', '.join(PATH_COLUMNS)} (found {', '.join(table.header)})")
    form = _form(table.header)
    rows = pipeline.RowFilter(summary, pipeline.line_locations(source.csv, table.lines))
    relative = cols[path_col]
    rows.drop(relative == "", "empty image path")
    labels: dict[str, np.ndarray] = {}
    vocab = None
    expr_col = _first(table.header, EXPRESSION_COLUMNS)
    if expr_col is not None:
        values = _labels_of(cols[expr_col], label_map, rows)
        index, vocab = _classes(values, rows.keep.copy(), source, default, rows, f"{source.csv}")
        labels["expression"] = index
    va = [_first(table.header, (k,)) for k in ("valence", "arousal")]
    if all(va):
        for key, col in zip(("valence", "arousal"), va):
            v = pipeline.to_numbers(cols[col])
            rows.drop(~np.isfinite(v) | (v < VA_RANGE[0]) | (v > VA_RANGE[1]), f"{key} not a number in [-1, 1]")
            labels[key] = v
    elif any(va):
        raise ValueError(f"{source.csv} line 1 (header): valence and arousal come together; found only "
                         f"{[c for c in va if c][0]}")
    identities: tuple[str, ...] = ()
    id_col = _first(table.header, IDENTITY_COLUMNS)
    if id_col is not None:
        who = cols[id_col]
        rows.drop(who == "", f"no {id_col}")
        identities = tuple(sorted(set(who[rows.keep].tolist()), key=pipeline.natural_key))
        pos = {n: i for i, n in enumerate(identities)}
        labels["identity"] = np.array([pos.get(w, -1) for w in who], dtype=np.int64)
    split = np.full(len(relative), "", dtype=object)
    split_col = _first(table.header, (SPLIT_COLUMN,))
    if split_col is not None:
        raw = np.array([s.strip().lower() for s in cols[split_col]], dtype=object)
        known = np.array([s in SPLITS for s in raw], dtype=bool)
        rows.drop((raw != "") & ~known, "split not one of train, val, test")
        split = np.array([SPLITS.get(s, "") for s in raw], dtype=object)
    boxes = None
    box_cols = [_first(table.header, (c,)) for c in BOX_COLUMNS]
    if form != "data crop csv" and all(box_cols):
        b = np.stack([pipeline.to_numbers(cols[c]) for c in box_cols], axis=1)
        rows.drop(~np.isfinite(b).all(axis=1) | (b[:, 2] < 0) | (b[:, 3] < 0), "face box not four numbers >= 0")
        boxes = np.where(np.isfinite(b), b, 0).astype(np.int64)
    locations = np.array([f"{source.csv.name} line {ln}: {p}" for ln, p in zip(table.lines, relative)], dtype=object)
    return relative, labels, vocab, identities, split, boxes, rows, locations, form


def _read_folders(source: Source, summary: ReadSummary, label_map: dict):
    from tfgan_emotion.data import pipeline

    root = Path(source.folder)
    subdirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not subdirs:
        raise ValueError(f"{root}: no class folders; --data-format folders expects one sub-folder per class "
                         "(DIR/happy/001.jpg ...), optionally inside train/ val/ test/")
    if all(d.name.lower() in SPLITS for d in subdirs):
        parts = [(SPLITS[d.name.lower()], d) for d in subdirs]
    else:
        parts = [("", root)]
    relative, classes, split = [], [], []
    for name, base in parts:
        for cls in sorted(d for d in base.iterdir() if d.is_dir() and not d.name.startswith(".")):
            for dirpath, dirnames, filenames in os.walk(cls):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for f in sorted(filenames, key=pipeline.natural_key):
                    if f.startswith(".") or not f.lower().endswith(IMAGE_SUFFIXES):
                        continue
                    relative.append(os.path.relpath(os.path.join(dirpath, f), root))
                    classes.append(cls.name)
                    split.append(name)
    relative = np.array(relative, dtype=object)
    rows = pipeline.RowFilter(summary, relative)
    values = _labels_of(np.array(classes, dtype=object), label_map, rows)
    return relative, values, np.array(split, dtype=object), rows


def read(source: Source, default_vocabulary: label_sets.Vocabulary | None = None, *, check: str = "decode",
         verbose: bool = False) -> Custom:
    """Index the user's data: parse and validate every row, check every image (``check``: "decode", "header" or
    "none" to skip opening the images, for reading the vocabulary only). See the module docstring."""
    from tfgan_emotion.data import pipeline

    label_map = read_label_map(source.label_map) if source.label_map else {}
    summary = pipeline.ReadSummary(NAME, None, source.shown)
    if source.csv is not None:
        if not Path(source.csv).is_file():
            raise FileNotFoundError(f"--data-csv {source.csv}: no such file")
        if source.image_root is not None and not Path(source.image_root).is_dir():
            raise FileNotFoundError(f"--image-root {source.image_root}: no such folder")
        relative, labels, vocab, identities, split, boxes, rows, locations, form = \
            _read_csv(source, default_vocabulary, summary, label_map)
    else:
        if not Path(source.folder).is_dir():
            raise FileNotFoundError(f"--data-dir {source.folder}: no such folder")
        relative, values, split, rows = _read_folders(source, summary, label_map)
        index, vocab = _classes(values, rows.keep.copy(), source, default_vocabulary, rows, str(source.folder))
        labels, identities, boxes, locations, form = {"expression": index}, (), None, relative, "folders"
    inside = _Root(source.root)
    full = np.empty(len(relative), dtype=object)
    first_of: dict[str, int] = {}
    outside = np.zeros(len(relative), dtype=bool)
    dup = np.zeros(len(relative), dtype=bool)
    for i in np.flatnonzero(rows.keep):
        f = inside(str(relative[i]))
        if f is None:
            outside[i] = True
            continue
        full[i] = f
        if f in first_of:
            dup[i] = True
        else:
            first_of[f] = i
    rows.drop(outside, "path leaves the image root")
    rows.drop(dup, "duplicate image (listed on an earlier line)")
    keep = np.flatnonzero(rows.keep)
    if check != "none":
        checked = pipeline.check_images(full[keep], summary, locations=locations[keep], level=check)
        ok = checked.ok
        width, height = checked.width[ok], checked.height[ok]
    else:
        ok = np.ones(len(keep), dtype=bool)
        width = height = np.zeros(len(keep), dtype=np.int64)
    keep = keep[ok]
    summary.kept = int(len(keep))
    if not len(keep) and check != "none":
        raise ValueError(_nothing_left(source, summary))
    if boxes is not None:
        box = boxes[keep]
        x0, y0 = box[:, 0], box[:, 1]
        zero = (box[:, 2] <= 0) | (box[:, 3] <= 0)
        xyxy = np.stack([x0, y0, x0 + box[:, 2], y0 + box[:, 3]], axis=1)
        xyxy = np.where(zero[:, None], pipeline.whole_image_boxes(width, height), xyxy)
        if zero.any():
            pipeline.RowFilter(summary, locations[keep]).note(zero, pipeline.ZERO_BOX)
        out_boxes = pipeline.clamp_boxes(xyxy, width, height) if check != "none" else xyxy
    else:
        out_boxes = pipeline.whole_image_boxes(width, height)
    out = {}
    if "expression" in labels:
        out["expression"] = labels["expression"][keep].astype(np.int32)
    for k in ("valence", "arousal"):
        if k in labels:
            out[k] = labels[k][keep].astype(np.float32)
    if "identity" in labels:
        out["identity"] = labels["identity"][keep].astype(np.int32)
    scan = pipeline.Scan(summary, out, paths=full[keep].astype(str).reshape(-1), boxes=out_boxes)
    result = Custom(scan, vocab, identities, split[keep], form)
    if verbose:
        print(describe(result), flush=True)
    return result


def _nothing_left(source: Source, summary: ReadSummary) -> str:
    reasons = "; ".join(f"{r} {n}" + (f" (e.g. {summary.where[r][0]})" if summary.where.get(r) else "")
                        for r, n in sorted(summary.skipped.items(), key=lambda kv: -kv[1])) or "the file lists none"
    return (f"{source.shown}: no usable image: every row was skipped ({reasons}). Fix or delete those rows; image "
            f"paths are looked up inside {source.root} (set it with --image-root), and `tfgan-emotion data summary "
            f"--data-csv FILE` lists what is skipped and why")


def peek_vocabulary(source: Source, default: label_sets.Vocabulary | None = None) -> label_sets.Vocabulary | None:
    """The class vocabulary of the data without opening any image (for building a system's networks)."""
    return read(source, default, check="none").vocabulary


def stored_vocabulary(config: dict, default: label_sets.Vocabulary) -> label_sets.Vocabulary:
    """The vocabulary a run was trained with: its config's ``classes`` (a run on the user's own data), else the
    system's ``default``."""
    names = config.get("classes") if isinstance(config, dict) else None
    return make_vocabulary(names) if names else default


def describe(custom: Custom) -> str:
    """``tfgan-emotion data summary`` for the user's own data: what was kept and skipped (by reason, with lines),
    the classes, the counts per class and per split, valence/arousal histograms, the number of identities."""
    from tfgan_emotion.data import pipeline

    lines = [pipeline.describe(custom.scan, custom.vocabulary), f"  read as: {custom.form}"]
    if custom.vocabulary is not None:
        lines.append(f"  classes ({len(custom.vocabulary)}): " + ", ".join(
            f"{i} {n}" + (f" ({c})" if c and c != n.lower() else "")
            for i, (n, c) in enumerate(zip(custom.vocabulary.names, custom.vocabulary.canonical))))
    if custom.identities:
        lines.append(f"  identities: {len(custom.identities)}")
    if (np.asarray(custom.split) != "").any():
        names, counts = np.unique(np.asarray(custom.split, dtype=str), return_counts=True)
        lines.append("  split: " + ", ".join(f"{n or '(none)'} {c}" for n, c in zip(names, counts)))
    return "\n".join(lines)
