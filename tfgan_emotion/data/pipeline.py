"""Stages every dataset reader shares: the read summary, the image pre-check, decode/crop/resize/scale, the paper-002
augmentation, the paper-004 random crop + jitter and the batching stage.

DESIGN.md "Contracts": a reader yields unbatched dicts with ``image`` (float32, HxWxC, in [-1, 1]) and the labels
its dataset has; it validates its inputs, fails with an error naming the file, row and problem, and skips and
COUNTS a corrupt image instead of crashing. SPECS.md "Dataset formats": some AffectNet boxes are 0 and some files
are corrupt or not JPEG/PNG.

How a corrupt image is counted (and not just dropped): before any tf.data stage runs, :func:`check_images` opens
every listed file with PIL in a thread pool and decodes it completely (JPEGs through PIL's ``draft`` reduced-scale
DCT, which still reads the whole entropy-coded stream, so truncation is caught). Missing files, files that are not
JPEG/PNG and files that fail to decode are recorded in the :class:`ReadSummary` with the file and CSV line, and only
the files that passed reach tf.data, where TensorFlow's own decoders read them. As a last guard for the rare file
that PIL decodes and TensorFlow refuses, the decode stage is followed by ``ignore_errors(log_warning=True)``, so
such a file is logged by tf.data rather than ending training (those are not in the pre-pass counts).
"""
from __future__ import annotations

import concurrent.futures
import csv
import functools
import importlib
import io
import math
import os
import re
import sys
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
from PIL import Image

from tfgan_emotion.data import labels as label_sets


class _Deferred:
    """A module imported at its first attribute access, which then takes this placeholder's place among the module's
    globals. Reading rows and checking images (``data summary``, the own-data reader) needs neither TensorFlow nor
    Keras, which take seconds to import; building datasets does."""

    def __init__(self, alias: str, name: str):
        self._alias, self._name = alias, name

    def __getattr__(self, attr):
        module = importlib.import_module(self._name)
        globals()[self._alias] = module
        return getattr(module, attr)


tf = _Deferred("tf", "tensorflow")
keras = _Deferred("keras", "keras")

#: Reasons shared by every reader (the keys of :attr:`ReadSummary.skipped`).
MISSING_FILE = "missing file"
CORRUPT_IMAGE = "corrupt image"
ZERO_BOX = "zero face box (whole image used)"
ACCEPTED_FORMATS = ("JPEG", "PNG")  # SPECS "Dataset formats": "some files are ... not JPEG/PNG"


# --------------------------------------------------------------------------------------------------------------------
# Read summary
# --------------------------------------------------------------------------------------------------------------------
@dataclass
class ReadSummary:
    """What a reader kept and what it skipped, by reason (DESIGN "Contracts": the count is reported).

    ``skipped`` counts examples left out, by reason (``{"invalid valence -2": 3, "class 9 (uncertain)": 1,
    "missing file": 1, "corrupt image": 1}``). ``notes`` counts examples that were kept but treated specially
    (``{"zero face box (whole image used)": 1}``). ``where`` holds, per reason, the first few places (file and line)
    it happened. ``emitted`` is the number of examples the dataset yields: ``kept`` unless oversampling repeated some.
    """

    dataset: str
    split: str | None = None
    source: str = ""
    kept: int = 0
    emitted: int | None = None
    skipped: dict[str, int] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)
    where: dict[str, list[str]] = field(default_factory=dict)

    max_where = 5

    def skip(self, reason: str, where: str | None = None, count: int = 1) -> None:
        """Count ``count`` examples left out for ``reason``; ``where`` is the file/line of one of them."""
        self.skipped[reason] = self.skipped.get(reason, 0) + count
        self._remember(reason, where)

    def note(self, reason: str, where: str | None = None, count: int = 1) -> None:
        """Count ``count`` kept examples that were treated specially for ``reason``."""
        self.notes[reason] = self.notes.get(reason, 0) + count
        self._remember(reason, where)

    def _remember(self, reason: str, where: str | None) -> None:
        if where is None:
            return
        places = self.where.setdefault(reason, [])
        if len(places) < self.max_where:
            places.append(where)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    @property
    def size(self) -> int:
        """Number of examples the dataset yields."""
        return self.kept if self.emitted is None else self.emitted

    def to_dict(self) -> dict:
        return {
            "dataset": self.dataset,
            "split": self.split,
            "source": self.source,
            "kept": self.kept,
            "emitted": self.size,
            "skipped_total": self.skipped_total,
            "skipped": dict(self.skipped),
            "notes": dict(self.notes),
            "where": {k: list(v) for k, v in self.where.items()},
        }

    def _lines(self, counts: dict[str, int]) -> list[str]:
        out = []
        for reason, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            places = self.where.get(reason, [])
            more = ", ..." if n > len(places) and places else ""
            at = f"  e.g. {'; '.join(places)}{more}" if places else ""
            out.append(f"    {reason}: {n}{at}")
        return out

    def __str__(self) -> str:
        split = f" [{self.split}]" if self.split else ""
        lines = [f"{self.dataset}{split}: kept {self.kept} examples" + (f" from {self.source}" if self.source else "")]
        if self.emitted is not None and self.emitted != self.kept:
            lines.append(f"  yields {self.emitted} examples (after oversampling)")
        if self.skipped:
            lines.append(f"  skipped {self.skipped_total}:")
            lines += self._lines(self.skipped)
        else:
            lines.append("  skipped 0")
        if self.notes:
            lines.append("  counted, not skipped:")
            lines += self._lines(self.notes)
        return "\n".join(lines)


class RowFilter:
    """Vectorised row filtering that counts every dropped row in a :class:`ReadSummary`.

    The first reason that applies to a row is the one it is counted under; ``locations[i]`` names row ``i`` (e.g.
    ``"training.csv line 7"``).
    """

    def __init__(self, summary: ReadSummary, locations: np.ndarray):
        self.summary = summary
        self.locations = np.asarray(locations, dtype=object)
        self.keep = np.ones(len(self.locations), dtype=bool)

    def drop(self, mask: np.ndarray, reason: str) -> None:
        hit = np.asarray(mask, dtype=bool) & self.keep
        n = int(hit.sum())
        if n:
            first = np.flatnonzero(hit)[: ReadSummary.max_where]
            self.summary.skip(reason, count=n)
            for i in first:
                self.summary._remember(reason, str(self.locations[i]))
            self.keep &= ~hit

    def note(self, mask: np.ndarray, reason: str) -> None:
        hit = np.asarray(mask, dtype=bool) & self.keep
        n = int(hit.sum())
        if n:
            self.summary.note(reason, count=n)
            for i in np.flatnonzero(hit)[: ReadSummary.max_where]:
                self.summary._remember(reason, str(self.locations[i]))

    def drop_classes(self, expression: np.ndarray, keep_classes, vocabulary: label_sets.Vocabulary) -> None:
        """Drop rows whose class is not in ``keep_classes``, counted per class as ``"class 9 (uncertain)"``."""
        keep_classes = np.asarray(sorted(set(int(c) for c in keep_classes)), dtype=np.int64)
        outside = ~np.isin(expression, keep_classes) & self.keep
        for k in np.unique(expression[outside]):
            name = vocabulary.names[k] if 0 <= k < len(vocabulary) else "unknown"
            self.drop(outside & (expression == k), f"class {int(k)} ({name})")


def line_locations(source: str | Path, lines: np.ndarray) -> np.ndarray:
    """``"<file> line N"`` for each line number in ``lines``."""
    name = Path(source).name
    return np.array([f"{name} line {int(i)}" for i in lines], dtype=object)


@dataclass
class CsvTable:
    """A CSV file as :func:`read_csv` returns it: ``columns[name]``  (object arrays of stripped strings, header names
    stripped too), ``lines[i]`` = the file line of row ``i``, and ``bad`` = (line, fields) of rows whose field count
    differs from the header's (left out; :meth:`count_bad` records them in a summary)."""

    path: Path
    header: list[str]
    columns: dict[str, np.ndarray]
    lines: np.ndarray
    bad: list[tuple[int, int]]

    def __len__(self) -> int:
        return len(self.lines)

    def count_bad(self, summary: ReadSummary) -> None:
        for line, fields in self.bad:
            summary.skip("wrong number of fields", f"{self.path.name} line {line} ({fields} fields, header has "
                                                    f"{len(self.header)})")


def read_csv(path: str | Path, dataset: str, hint: str) -> CsvTable:
    """Read a CSV whose first line is the header. A missing or empty file raises (``FileNotFoundError`` /
    ``ValueError``) with ``hint`` saying what was expected; a row with the wrong number of fields is left out and
    listed in ``bad`` with its line number, never shifting the line numbers of the rows after it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{dataset}: {path} not found. {hint}")
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
        text = f.read()
    if '"' in text:  # quoted fields may hold commas or line breaks: let the csv module parse them
        csv.field_size_limit(1 << 30)
        reader = csv.reader(io.StringIO(text, newline=""))
        numbered = ((reader.line_num, row) for row in reader)
    else:  # fast path (fer2013, AffectNet): a plain split, several times faster than csv.reader on 300 MB
        numbered = ((i + 1, line.rstrip("\r").split(",")) for i, line in enumerate(text.split("\n")))
    del text
    first = next(numbered, None)
    if first is None or not any(h.strip() for h in first[1]):
        raise ValueError(f"{dataset}: {path} is empty (no header line). {hint}")
    header = [h.strip() for h in first[1]]
    width = len(header)
    rows, lines, bad = [], [], []
    for line, row in numbered:
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != width:
            bad.append((line, len(row)))
            continue
        rows.append(row)
        lines.append(line)
    columns = {}
    for j, name in enumerate(header):
        columns[name] = np.array([r[j].strip() for r in rows], dtype=object)
    return CsvTable(path, header, columns, np.asarray(lines, dtype=np.int64), bad)


def to_numbers(values: np.ndarray) -> np.ndarray:
    """Strings -> float64, NaN where a value does not parse."""
    return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(np.float64)


# --------------------------------------------------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------------------------------------------------
class PathGuard:
    """Joins paths read from a dataset's index file to the dataset folder and refuses any that resolve outside it.

    A path with ``..`` or a symlink that leaves ``root`` raises ``ValueError`` naming the index file, the row and
    what to do. The folder itself may be a symlink (datasets often live on another disk); it is resolved once.
    """

    def __init__(self, root: str | Path, source: str | Path):
        self.root = os.path.realpath(root)
        self.shown_root = str(root)
        self.source = str(source)
        self._dirs: dict[str, str] = {}

    def __call__(self, relative: str, row: str) -> str:
        rel = relative.replace("\\", "/")
        if os.path.isabs(rel):
            self._refuse(relative, rel, row, "is an absolute path")
        head, tail = os.path.split(rel)
        real_head = self._dirs.get(head)
        if real_head is None:
            real_head = self._dirs[head] = os.path.realpath(os.path.join(self.root, head))
        full = os.path.join(real_head, tail)
        if tail in ("", ".", "..") or os.path.islink(full):
            full = os.path.realpath(full)
        if not (full == self.root or full.startswith(self.root + os.sep)):
            self._refuse(relative, full, row, f"resolves to {full}")
        return full

    def _refuse(self, relative: str, full: str, row: str, what: str) -> None:
        raise ValueError(
            f"{self.source} {row}: image path {relative!r} {what}, outside the dataset folder {self.shown_root}. "
            f"Paths in the file list must stay inside that folder (no '..', no absolute paths, no symlinks leading "
            f"out of it): correct or delete this row, or move the images inside {self.shown_root}."
        )


def natural_key(text: str) -> tuple:
    """Sort key that orders embedded numbers numerically (``x_9`` before ``x_10``)."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text))


def require_dir(path: str | Path, what: str, hint: str) -> Path:
    path = Path(path).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"{what}: folder {path} does not exist. {hint}")
    return path


# --------------------------------------------------------------------------------------------------------------------
# Image pre-check
# --------------------------------------------------------------------------------------------------------------------
@dataclass
class ImageCheck:
    """Result of :func:`check_images`: ``ok[i]`` and the original ``width``/``height`` of file ``i``."""

    ok: np.ndarray
    width: np.ndarray
    height: np.ndarray


def _check_one(path: str, level: str) -> tuple[str | None, int, int]:
    try:
        image = Image.open(path)
    except FileNotFoundError:
        return MISSING_FILE, 0, 0
    except IsADirectoryError:
        return MISSING_FILE, 0, 0
    except Exception:  # PIL raises UnidentifiedImageError, OSError, SyntaxError, ValueError... on bad headers
        return CORRUPT_IMAGE, 0, 0
    try:
        with image:
            fmt = image.format
            if fmt not in ACCEPTED_FORMATS:
                return f"not JPEG/PNG ({fmt})", 0, 0
            width, height = image.size
            if width <= 0 or height <= 0:
                return CORRUPT_IMAGE, 0, 0
            if level == "decode":
                if fmt == "JPEG":
                    image.draft(image.mode if image.mode in ("L", "RGB") else "RGB", (1, 1))
                image.load()
    except Exception:  # truncated data ("image file is truncated"), broken Huffman tables, bad CRCs ...
        return CORRUPT_IMAGE, 0, 0
    return None, width, height


def check_images(
    paths,
    summary: ReadSummary,
    *,
    locations=None,
    level: str = "decode",
    workers: int | None = None,
    progress: bool | None = None,
) -> ImageCheck:
    """Open (``level="header"``) or fully decode (``level="decode"``, the default) every file, in a thread pool.

    Files that are missing, not JPEG/PNG or undecodable are counted in ``summary`` (under ``"missing file"``,
    ``"not JPEG/PNG (GIF)"``, ``"corrupt image"``), with ``locations[i]`` (default: the path) as the place.
    ``progress`` (default: when there are 2,000 files or more) prints a line to stderr every few seconds.
    ``level="header"`` is faster but cannot see truncated data; such a file is then dropped by the tf.data guard
    with a logged warning rather than counted here.
    """
    if level not in ("decode", "header"):
        raise ValueError(f"check level must be 'decode' or 'header', got {level!r}")
    paths = [str(p) for p in paths]
    n = len(paths)
    ok = np.zeros(n, dtype=bool)
    width = np.zeros(n, dtype=np.int64)
    height = np.zeros(n, dtype=np.int64)
    if n == 0:
        return ImageCheck(ok, width, height)
    workers = workers or min(32, 4 * (os.cpu_count() or 1))
    progress = n >= 2000 if progress is None else progress
    start = last = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        for i, (reason, w, h) in enumerate(pool.map(lambda p: _check_one(p, level), paths)):
            if reason is None:
                ok[i], width[i], height[i] = True, w, h
            else:
                summary.skip(reason, str(locations[i]) if locations is not None else paths[i])
            now = time.monotonic()
            if progress and (now - last >= 5.0 or i == n - 1):
                last = now
                rate = (i + 1) / max(now - start, 1e-9)
                print(f"  checking images: {i + 1}/{n} ({100 * (i + 1) / n:.0f}%, {rate:.0f}/s)",
                      file=sys.stderr, flush=True)
    return ImageCheck(ok, width, height)


# --------------------------------------------------------------------------------------------------------------------
# Boxes
# --------------------------------------------------------------------------------------------------------------------
def clamp_boxes(boxes: np.ndarray, width: np.ndarray, height: np.ndarray) -> np.ndarray:
    """Clip ``[top, left, height, width]`` boxes to the image; an empty result has height or width 0."""
    boxes = np.asarray(boxes, dtype=np.int64)
    top = np.clip(boxes[:, 0], 0, height)
    left = np.clip(boxes[:, 1], 0, width)
    bottom = np.clip(boxes[:, 0] + boxes[:, 2], 0, height)
    right = np.clip(boxes[:, 1] + boxes[:, 3], 0, width)
    return np.stack([top, left, np.maximum(bottom - top, 0), np.maximum(right - left, 0)], axis=1)


def whole_image_boxes(width: np.ndarray, height: np.ndarray) -> np.ndarray:
    zeros = np.zeros_like(np.asarray(width, dtype=np.int64))
    return np.stack([zeros, zeros, np.asarray(height, np.int64), np.asarray(width, np.int64)], axis=1)


def center_square(boxes: np.ndarray) -> np.ndarray:
    """The largest centred square inside each ``[top, left, height, width]`` box."""
    boxes = np.asarray(boxes, dtype=np.int64)
    side = np.minimum(boxes[:, 2], boxes[:, 3])
    top = boxes[:, 0] + (boxes[:, 2] - side) // 2
    left = boxes[:, 1] + (boxes[:, 3] - side) // 2
    return np.stack([top, left, side, side], axis=1)


# --------------------------------------------------------------------------------------------------------------------
# Decode, crop, resize, scale
# --------------------------------------------------------------------------------------------------------------------
def image_hw(image_size) -> tuple[int, int]:
    if isinstance(image_size, (tuple, list)):
        h, w = (int(v) for v in image_size)
    else:
        h = w = int(image_size)
    if h <= 0 or w <= 0:
        raise ValueError(f"image_size must be positive, got {image_size!r}")
    return h, w


def check_channels(channels: int) -> int:
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (grey) or 3 (RGB), got {channels!r}")
    return int(channels)


def to_unit_range(image: tf.Tensor) -> tf.Tensor:
    """uint8-range pixels -> float32 in [-1, 1] (SPECS: "images in [-1, 1]")."""
    image = tf.cast(image, tf.float32)
    return tf.clip_by_value(image / 127.5 - 1.0, -1.0, 1.0)


def resize(image: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    """Resize to ``size``: area averaging when shrinking both sides (a box-filter antialias; it made the
    AffectNet-style JPEG pipeline 1.7-1.9x faster than the antialiased bilinear filter, `tfgan-emotion bench`, for
    a mean difference under 2 grey levels), bilinear otherwise; a no-op cast when the size already matches."""
    image = tf.cast(image, tf.float32)
    shape = tf.shape(image)
    same = tf.logical_and(tf.equal(shape[0], size[0]), tf.equal(shape[1], size[1]))
    shrink = tf.logical_and(shape[0] >= size[0], shape[1] >= size[1])
    out = tf.cond(same, lambda: image, lambda: tf.cond(
        shrink, lambda: tf.image.resize(image, size, method="area"),
        lambda: tf.image.resize(image, size, method="bilinear", antialias=True)))
    out.set_shape([size[0], size[1], image.shape[-1]])
    return out


def match_channels(image: tf.Tensor, channels: int) -> tf.Tensor:
    """Grey <-> RGB for in-memory arrays (file decoders convert themselves)."""
    have = image.shape[-1]
    if have == channels:
        return image
    if have == 1 and channels == 3:
        return tf.repeat(image, 3, axis=-1)
    if have == 3 and channels == 1:
        return tf.cast(tf.round(tf.image.rgb_to_grayscale(tf.cast(image, tf.float32))), image.dtype)
    raise ValueError(f"cannot convert {have} channels to {channels}")


def _decode_tf(path: tf.Tensor, box: tf.Tensor, size: tuple[int, int], channels: int) -> tf.Tensor:
    data = tf.io.read_file(path)
    # Always decoded as RGB (alpha dropped): TensorFlow's JPEG decoder cannot turn a CMYK JPEG into grey directly.
    # JPEGs decode only the face box (decode_and_crop_jpeg skips the blocks outside it: the same pixels, 1.1x faster
    # when the face is 160 of a 256-pixel frame, more when it is a small part of a large photo); PNGs decode whole
    # and are sliced.
    image = tf.cond(
        tf.io.is_jpeg(data),
        lambda: tf.io.decode_and_crop_jpeg(data, box, channels=3),
        lambda: tf.io.decode_image(data, channels=3, expand_animations=False)[
            box[0]: box[0] + box[2], box[1]: box[1] + box[3], :])
    if channels == 1:
        image = tf.image.rgb_to_grayscale(tf.cast(image, tf.float32))
    return resize(image, size)


def _decode_pil(path: bytes, box: np.ndarray, size: np.ndarray, channels: np.ndarray) -> np.ndarray:
    """PIL decode for very large originals: JPEG ``draft`` decodes at 1/2, 1/4 or 1/8 scale in the DCT."""
    out_h, out_w = int(size[0]), int(size[1])
    mode = "L" if int(channels) == 1 else "RGB"
    top, left, box_h, box_w = (int(v) for v in box)
    with Image.open(path.decode() if isinstance(path, bytes) else str(path)) as image:
        full_w, full_h = image.size
        if image.format == "JPEG":
            need = (math.ceil(full_w * out_w / max(box_w, 1)), math.ceil(full_h * out_h / max(box_h, 1)))
            image.draft(mode, need)
        sx, sy = image.size[0] / full_w, image.size[1] / full_h
        crop = (round(left * sx), round(top * sy), round((left + box_w) * sx), round((top + box_h) * sy))
        image = image.convert(mode).crop(crop).resize((out_w, out_h), Image.BILINEAR)
        array = np.asarray(image, dtype=np.uint8)
    return array[..., None] if array.ndim == 2 else array


def _file_decoder(image_size, channels: int, decoder: str):
    """The decode stage of a file dataset: ``(source {path, box}, labels) -> {"image", **labels}``."""
    size = image_hw(image_size)
    channels = check_channels(channels)
    if decoder not in ("tf", "pil"):
        raise ValueError(f"decoder must be 'tf' or 'pil', got {decoder!r}")

    def decode(src, lab):
        if decoder == "tf":
            image = _decode_tf(src["path"], src["box"], size, channels)
        else:
            image = tf.numpy_function(
                _decode_pil, [src["path"], src["box"], np.array(size), np.int64(channels)], tf.uint8, stateful=False)
            image.set_shape([size[0], size[1], channels])
        return {"image": to_unit_range(image), **lab}

    return decode


def _file_sources(paths, boxes) -> dict:
    paths = np.asarray([str(p) for p in paths], dtype=object).astype(str) if len(paths) else np.zeros(0, str)
    return {"path": paths, "box": np.asarray(boxes, dtype=np.int32).reshape(-1, 4)}


def files_dataset(
    paths,
    labels: Mapping[str, np.ndarray],
    *,
    boxes: np.ndarray,
    image_size,
    channels: int,
    decoder: str = "tf",
    shuffle_files: bool = False,
    seed: int | None = None,
) -> tf.data.Dataset:
    """Unbatched dicts ``{"image": float32 HxWxC in [-1, 1], **labels}`` from checked files.

    ``boxes[i]`` = ``[top, left, height, width]`` in pixels of file ``i`` (already clamped to the image). ``decoder``
    ``"tf"`` uses TensorFlow's JPEG/PNG decoders; ``"pil"`` decodes in PIL with JPEG draft scaling (for originals
    many times larger than the output, e.g. FACES). ``shuffle_files`` shuffles the whole file list every epoch
    before decoding (cheap: only paths and labels are shuffled).
    """
    decode = _file_decoder(image_size, channels, decoder)
    source = _file_sources(paths, boxes)
    ds = tf.data.Dataset.from_tensor_slices((source, _label_tensors(labels, len(source["path"]))))
    if shuffle_files and len(source["path"]):
        ds = ds.shuffle(len(source["path"]), seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE)
    # Last guard (module docstring): a file PIL accepted but TensorFlow cannot decode is logged, not fatal.
    return ds.ignore_errors(log_warning=True)


def _array_preparer(image_size, channels: int):
    size = image_hw(image_size)
    channels = check_channels(channels)

    def prepare(image, lab):
        image = match_channels(image, channels)
        return {"image": to_unit_range(resize(image, size)), **lab}

    return prepare


def _uint8_images(images) -> np.ndarray:
    images = np.asarray(images, dtype=np.uint8)
    return images[..., None] if images.ndim == 3 else images


def arrays_dataset(
    images: np.ndarray,
    labels: Mapping[str, np.ndarray],
    *,
    image_size,
    channels: int,
    shuffle_files: bool = False,
    seed: int | None = None,
) -> tf.data.Dataset:
    """Unbatched dicts from in-memory uint8 images ``[N, H, W, C]`` (fer2013 CSV, Fashion-MNIST, CIFAR-10)."""
    prepare = _array_preparer(image_size, channels)
    images = _uint8_images(images)
    ds = tf.data.Dataset.from_tensor_slices((images, _label_tensors(labels, len(images))))
    if shuffle_files and len(images):
        ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    return ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)


def _label_tensors(labels: Mapping[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    out = {}
    for name, values in labels.items():
        values = np.asarray(values)
        if len(values) != n:
            raise ValueError(f"label {name!r} has {len(values)} values for {n} examples")
        if np.issubdtype(values.dtype, np.integer) or values.dtype == bool:
            out[name] = values.astype(np.int32)
        else:
            out[name] = values.astype(np.float32)
    return out


# --------------------------------------------------------------------------------------------------------------------
# Augmentation (SPECS "GANmut": "augmentation rotation +-7.5 deg, translation +-7.5 px, zoom 1.075-1.15,
# horizontal flip p .5")
# --------------------------------------------------------------------------------------------------------------------
ROTATION_DEGREES = 7.5
TRANSLATION_PIXELS = 7.5
ZOOM_RANGE = (1.075, 1.15)  # magnification > 1: zoom IN


@functools.cache
def _augmentation_class():
    """The Keras layer class of :func:`augment_layer` (made at first use, so that importing this module does not
    import Keras)."""

    class Augmentation(keras.layers.Layer):
        """The four random transforms of :func:`augment_layer`, applied in order (``steps``); accepts one image
        [H, W, C] or a batch [N, H, W, C] (a ``keras.Sequential`` would fix the rank at its first call)."""

        def __init__(self, steps, **kwargs):
            super().__init__(**kwargs)
            self.steps = list(steps)

        def call(self, images, training=None):
            for step in self.steps:
                images = step(images, training=training)
            return images

        def compute_output_shape(self, input_shape):
            return input_shape

    return Augmentation


def augment_layer(size, seed: int | None = None):
    """The paper-002 augmentation as Keras preprocessing layers, for images of ``size`` (int or (h, w)).

    Keras' ``RandomZoom`` samples a factor f and reads the output from an input window (1 + f) times the image, so a
    magnification m (1.075 .. 1.15) is f = 1/m - 1 (-0.130 .. -0.070). Fill mode ``reflect`` (ours: the authors'
    fill is not in SPECS). The +-7.5 px shift is a fraction 7.5/size of the image (capped at the whole image for
    images under 8 px). Call with ``training=True``; works on one image or a batch, keeps shape and [-1, 1].
    """
    h, w = image_hw(size)
    zoom = (1.0 / ZOOM_RANGE[1] - 1.0, 1.0 / ZOOM_RANGE[0] - 1.0)
    seeds = [None] * 4 if seed is None else [seed + i for i in range(4)]
    return _augmentation_class()(
        [
            keras.layers.RandomRotation(ROTATION_DEGREES / 360.0, fill_mode="reflect", seed=seeds[0]),
            keras.layers.RandomTranslation(min(1.0, TRANSLATION_PIXELS / h), min(1.0, TRANSLATION_PIXELS / w),
                                           fill_mode="reflect", seed=seeds[1]),
            keras.layers.RandomZoom(zoom, zoom, fill_mode="reflect", seed=seeds[2]),
            keras.layers.RandomFlip("horizontal", seed=seeds[3]),
        ],
        name="paper002_augmentation",
    )


#: Salt of the stateless key of :func:`augment_stream` (its draws differ from any noise keyed by (seed, position)).
AUGMENT_SALT = 0xA6_0002


def augment_image(image, key):
    """The paper-002 augmentation of one image [H, W, C] drawn from the stateless-RNG ``key`` (shape [2]): a rotation
    of +-7.5 degrees, a shift of +-7.5 px either way, a magnification of 1.075-1.15 and a horizontal flip with
    probability .5, each uniform, composed into one affine resampling about the centre (bilinear, mirrored border,
    as :func:`augment_layer`'s ``reflect`` fill; one resampling instead of one per transform)."""
    h, w = int(image.shape[0]), int(image.shape[1])
    u = tf.random.stateless_uniform([5], key, dtype=tf.float32)
    theta = (2.0 * u[0] - 1.0) * (ROTATION_DEGREES * math.pi / 180.0)
    tx = (2.0 * u[1] - 1.0) * min(TRANSLATION_PIXELS, float(w))
    ty = (2.0 * u[2] - 1.0) * min(TRANSLATION_PIXELS, float(h))
    m = ZOOM_RANGE[0] + u[3] * (ZOOM_RANGE[1] - ZOOM_RANGE[0])
    f = tf.where(u[4] < 0.5, -1.0, 1.0)
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    cos, sin = tf.cos(theta) / m, tf.sin(theta) / m
    # Output pixel (x, y) reads input c + R(theta) (flip(x - cx), y - cy) / m - t.
    transform = tf.stack([f * cos, -sin, cx - (f * cos * cx - sin * cy) - tx,
                          f * sin, cos, cy - (f * sin * cx + cos * cy) - ty, 0.0, 0.0])
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=tf.cast(image, tf.float32)[None], transforms=transform[None], output_shape=tf.constant([h, w]),
        fill_value=0.0, interpolation="BILINEAR", fill_mode="REFLECT")
    return tf.ensure_shape(out[0], image.shape)


def augment_stream(stream, seed: int):
    """:func:`augment_image` on the ``image`` of every example of a :class:`stream.Stream`, keyed by (``seed``,
    position): new transforms every epoch, the same on any number of devices and after a resume."""
    def augment(position, ex):
        key = tf.stack([tf.cast(seed, tf.int64) + AUGMENT_SALT, position])
        return {**ex, "image": augment_image(ex["image"], key)}

    return stream.map_with_position(augment)


# --------------------------------------------------------------------------------------------------------------------
# Random crop + jitter (paper 004 section 4.1: "resize the image, normalize and then add random noise by cropping and
# adding jitter"; the paper gives no sizes)
# --------------------------------------------------------------------------------------------------------------------
#: The play of pix2pix's "random jitter" (Isola et al. 2017, section 6.2: a 256x256 image enlarged to 286x286 and cut
#: back to 256x256 at a random offset): 30 of 256 pixels, i.e. up to 15/256 of the side either way. Kept as a ratio
#: so that it scales with the image size (ours: paper 004 names the operation, not its amount).
JITTER_MARGIN = 15 / 256


def jitter_margin(image_size) -> tuple[int, int]:
    """Pixels a window may move either way in :func:`crop_jitter` (256 -> 15, 128 -> 8, 64 -> 4)."""
    h, w = image_hw(image_size)
    return max(1, int(round(h * JITTER_MARGIN))), max(1, int(round(w * JITTER_MARGIN)))


def crop_jitter(images, key) -> tuple:
    """The SAME random crop + jitter of every image in ``images`` (a tuple of float [H, W, C] tensors of one static
    size, e.g. a source image and the target it must stay aligned with): each is padded by :func:`jitter_margin`
    pixels on every side (mirrored, ``REFLECT``) and an H x W window is cut at one offset drawn uniformly from the
    stateless-RNG ``key`` (shape [2]), so the content moves by up to the margin either way (+-8 px at 128); the middle
    offset gives the image back. Unlike pix2pix, which cuts from an image enlarged 286/256 times, nothing is zoomed:
    FExGAN's decoder reproduces the framing it was trained on, and a zoom in every training image made every transfer
    of an unjittered face about 12% larger than its input (seen on the synthetic characters). Values are copied, so they
    stay in the input range."""
    h, w = int(images[0].shape[0]), int(images[0].shape[1])
    mh, mw = jitter_margin((h, w))
    u = tf.random.stateless_uniform([2], key, dtype=tf.float32)
    top = tf.minimum(tf.cast(tf.floor(u[0] * (2 * mh + 1)), tf.int32), 2 * mh)
    left = tf.minimum(tf.cast(tf.floor(u[1] * (2 * mw + 1)), tf.int32), 2 * mw)
    padded = tf.pad(tf.stack([tf.cast(image, tf.float32) for image in images]), [[0, 0], [mh, mh], [mw, mw], [0, 0]],
                    mode="REFLECT")
    crop = padded[:, top:top + h, left:left + w, :]
    crop.set_shape([len(images), h, w, images[0].shape[-1]])
    return tuple(tf.unstack(crop))


def crop_jitter_arrays(images: np.ndarray, seed: int) -> np.ndarray:
    """:func:`crop_jitter` of every image of ``images`` [N, H, W, C] (each its own window, drawn from ``seed``):
    evaluation sets pre-processed as the training images were."""
    images = np.asarray(images, np.float32)
    n, h, w = images.shape[:3]
    mh, mw = jitter_margin((h, w))
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0x6A17])
    top, left = rng.integers(0, 2 * mh + 1, n), rng.integers(0, 2 * mw + 1, n)
    padded = np.pad(images, [(0, 0), (mh, mh), (mw, mw), (0, 0)], mode="reflect")
    return np.stack([padded[k, top[k]:top[k] + h, left[k]:left[k] + w] for k in range(n)]).astype(np.float32)


# --------------------------------------------------------------------------------------------------------------------
# Batching
# --------------------------------------------------------------------------------------------------------------------
def finalize(
    ds: tf.data.Dataset,
    batch_size: int,
    shuffle: bool = True,
    drop_remainder: bool = True,
    cache: bool | str = False,
    prefetch: bool = True,
    seed: int | None = None,
    *,
    shuffle_buffer: int = 4096,
    augment: keras.layers.Layer | None = None,
) -> tf.data.Dataset:
    """cache -> shuffle -> fixed-size batches -> augment -> prefetch.

    ``drop_remainder=True`` keeps every batch at exactly ``batch_size`` (CAAE trains on batches of 49 and takes the
    identity loss on the first 16 of each, SPECS "CAAE"). ``cache``: ``True`` in memory, a path string for a cache
    file, ``False`` none; it sits before the shuffle so every epoch is reshuffled. ``augment`` (e.g.
    :func:`augment_layer`) is applied to the batched ``image`` in training mode, after the cache.
    """
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if cache is True:
        ds = ds.cache()
    elif cache:
        Path(cache).parent.mkdir(parents=True, exist_ok=True)
        ds = ds.cache(str(cache))
    if shuffle:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    if augment is not None:
        ds = ds.map(lambda b: {**b, "image": augment(b["image"], training=True)},
                    num_parallel_calls=tf.data.AUTOTUNE)
    if prefetch:
        ds = ds.prefetch(tf.data.AUTOTUNE)
    return ds


# --------------------------------------------------------------------------------------------------------------------
# Oversampling (SPECS "CAAE", Data (code): "classes oversampled to equal counts")
# --------------------------------------------------------------------------------------------------------------------
def oversample_indices(classes: np.ndarray, seed: int = 0) -> np.ndarray:
    """Indices that repeat each class's examples until every class has as many as the largest one.

    Each class is repeated whole as often as fits, the remainder drawn without replacement (seeded), so every example
    appears floor(m/n) or ceil(m/n) times. The result is grouped by class; shuffle downstream.
    """
    classes = np.asarray(classes)
    rng = np.random.default_rng(seed)
    values, counts = np.unique(classes, return_counts=True)
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    target = counts.max()
    out = []
    for value in values:
        idx = np.flatnonzero(classes == value)
        reps, rest = divmod(target, len(idx))
        out.append(np.concatenate([np.tile(idx, reps), rng.choice(idx, rest, replace=False)]))
    return np.concatenate(out).astype(np.int64)


# --------------------------------------------------------------------------------------------------------------------
# Vectorised number parsing
# --------------------------------------------------------------------------------------------------------------------
def parse_number_rows(rows, expected: int, dtype=np.int64, sep: str = " ",
                      chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Parse rows of ``expected`` numbers separated by ``sep`` (whitespace when ``" "``) without a per-number loop.

    Rows are joined in chunks and parsed by one ``np.fromstring`` each; rows whose separator count is off, or in a
    chunk that fails to parse, are re-checked one by one. Returns ``(values [n, expected], counts [n])`` where
    ``counts[i]`` is the number of values in row ``i`` (-1 when it holds something that is not a number); rows
    with ``counts != expected`` have undefined values.
    """
    rows = [("" if r is None else str(r)).strip() for r in rows]
    n = len(rows)
    values = np.empty((n, expected), dtype=dtype)
    counts = np.fromiter((r.count(sep) + 1 if r else 0 for r in rows), dtype=np.int64, count=n)

    def single(text: str) -> np.ndarray | None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                return np.fromstring(text, dtype=dtype, sep=sep)
        except (ValueError, DeprecationWarning):
            return None

    for i in np.flatnonzero(counts != expected):  # doubled separators, garbage, short or long rows
        parsed = single(rows[i])
        counts[i] = -1 if parsed is None else len(parsed)
        if counts[i] == expected:
            values[i] = parsed
    good = np.flatnonzero(counts == expected)
    joiner = sep if sep.strip() else " "
    for start in range(0, len(good), chunk):
        idx = good[start: start + chunk]
        parsed = single(joiner.join(rows[i] for i in idx))
        if parsed is not None and len(parsed) == len(idx) * expected:
            values[idx] = parsed.reshape(len(idx), expected)
            continue
        for i in idx:
            one = single(rows[i])
            counts[i] = -1 if one is None else len(one)
            if counts[i] == expected:
                values[i] = one
    return values, counts


# --------------------------------------------------------------------------------------------------------------------
# Scan result shared by readers, the registry and `tfgan-emotion data summary`
# --------------------------------------------------------------------------------------------------------------------
@dataclass
class Scan:
    """What a reader found before any pixel reaches tf.data: per-example ``labels`` and either ``paths`` + ``boxes``
    (file datasets) or ``images`` (uint8 arrays held in memory), plus the :class:`ReadSummary`."""

    summary: ReadSummary
    labels: dict[str, np.ndarray]
    paths: np.ndarray | None = None
    boxes: np.ndarray | None = None
    images: np.ndarray | None = None
    decoder: str = "tf"

    def __len__(self) -> int:
        return len(self.paths) if self.paths is not None else (0 if self.images is None else len(self.images))

    def dataset(self, image_size, channels: int, shuffle_files: bool = False,
                seed: int | None = None) -> tf.data.Dataset:
        if self.images is not None:
            return arrays_dataset(self.images, self.labels, image_size=image_size, channels=channels,
                                  shuffle_files=shuffle_files, seed=seed)
        paths = self.paths if self.paths is not None else np.zeros(0, dtype=str)
        boxes = self.boxes if self.boxes is not None else np.zeros((0, 4), dtype=np.int64)
        return files_dataset(paths, self.labels, boxes=boxes, image_size=image_size, channels=channels,
                             decoder=self.decoder, shuffle_files=shuffle_files, seed=seed)

    def stream(self, image_size, channels: int, seed: int | None, shuffle: bool = True):
        """The endless training stream of these examples (:class:`stream.Stream`): a new permutation every epoch
        keyed by (``seed``, epoch), each example decoded only when it is reached, so a resumed run skips to its
        position without decoding the skipped images."""
        from . import stream as streams

        labels = {k: tf.constant(v) for k, v in _label_tensors(self.labels, len(self)).items()}
        order = streams.order(len(self), seed, shuffle)

        def rows(i, tensors):
            return {k: tf.gather(v, i) for k, v in tensors.items()}

        if self.images is not None:
            prepare = _array_preparer(image_size, channels)
            images = tf.constant(_uint8_images(self.images))
            return order.map(lambda i: prepare(tf.gather(images, i), rows(i, labels)))
        decode = _file_decoder(image_size, channels, self.decoder)
        source = {k: tf.constant(v) for k, v in _file_sources(self.paths, self.boxes).items()}
        # Last guard (module docstring), as in files_dataset.
        return order.map(lambda i: decode(rows(i, source), rows(i, labels))).ignore_errors(log_warning=True)

    def select(self, index: np.ndarray) -> "Scan":
        """The examples at ``index`` (oversampling, splits)."""
        return Scan(
            summary=self.summary,
            labels={k: v[index] for k, v in self.labels.items()},
            paths=None if self.paths is None else self.paths[index],
            boxes=None if self.boxes is None else self.boxes[index],
            images=None if self.images is None else self.images[index],
            decoder=self.decoder,
        )


def finish(scan: Scan, image_size, channels: int, *, shuffle_files: bool, seed: int | None,
           verbose: bool, stream: bool = False) -> tuple[tf.data.Dataset, ReadSummary]:
    """The end of every reader's ``load``: record the sizes, print the summary, build the dataset (``stream``:
    the endless training stream of :meth:`Scan.stream`, shuffled every epoch when ``shuffle_files``)."""
    if scan.summary.emitted is None and len(scan) != scan.summary.kept:
        scan.summary.emitted = len(scan)
    if verbose:
        print(scan.summary, flush=True)
    if stream:
        return scan.stream(image_size, channels, seed, shuffle=shuffle_files), scan.summary
    return scan.dataset(image_size, channels, shuffle_files=shuffle_files, seed=seed), scan.summary


def take_arrays(dataset: tf.data.Dataset, keys, n: int | None = None) -> dict[str, np.ndarray]:
    """The first ``n`` examples (all when None) of an unbatched dataset of dicts as stacked numpy arrays of ``keys``
    (for evaluation sets and classifier training data held in memory)."""
    out = {k: [] for k in keys}
    for e in (dataset if n is None else dataset.take(n)).as_numpy_iterator():
        for k in keys:
            out[k].append(e[k])
    return {k: np.stack(v) if v else np.zeros((0,)) for k, v in out.items()}


# --------------------------------------------------------------------------------------------------------------------
# Registry and `tfgan-emotion data summary`
# --------------------------------------------------------------------------------------------------------------------
class _Readers(Mapping):
    """Dataset name -> reader module, imported on first use (the modules import this one)."""

    def __init__(self, modules: dict[str, str]):
        self._modules = modules

    def __getitem__(self, name: str) -> ModuleType:
        try:
            return importlib.import_module(self._modules[name])
        except KeyError:
            raise KeyError(f"no reader for dataset {name!r}; readers: {', '.join(self._modules)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __len__(self) -> int:
        return len(self._modules)


READERS: Mapping[str, ModuleType] = _Readers({
    name: f"tfgan_emotion.data.{name}"
    for name in ("affectnet", "fer2013", "ferg", "faces", "affwild2", "fashion_mnist", "cifar10")
})


def _bar(count: int, largest: int, width: int = 40) -> str:
    return "#" * (round(width * count / largest) if largest else 0)


def histogram_text(values: np.ndarray, name: str, bins: int = 8, low: float = -1.0, high: float = 1.0) -> str:
    counts, edges = np.histogram(np.asarray(values, dtype=np.float64), bins=bins, range=(low, high))
    lines = [f"  {name} histogram ({len(values)} values, {bins} bins over [{low:g}, {high:g}]):"]
    for i, c in enumerate(counts):
        close = "]" if i == bins - 1 else ")"
        lines.append(f"    [{edges[i]:+.2f}, {edges[i + 1]:+.2f}{close} {int(c):>8d} {_bar(int(c), counts.max())}")
    return "\n".join(lines)


def describe(scan: Scan, vocabulary: label_sets.Vocabulary | None) -> str:
    """Counts per class, valence/arousal histograms where present, and what was skipped."""
    lines = [str(scan.summary)]
    labels = scan.labels
    if "expression" in labels and vocabulary is not None:
        classes, counts = np.unique(labels["expression"], return_counts=True)
        largest = counts.max() if len(counts) else 0
        lines.append(f"  expression counts ({len(labels['expression'])} examples):")
        for k, c in zip(classes, counts):
            name = vocabulary.names[k] if 0 <= k < len(vocabulary) else "?"
            lines.append(f"    {int(k):>2d} {name:<12s} {int(c):>8d} {_bar(int(c), largest)}")
    for key in ("valence", "arousal"):
        if key in labels:
            lines.append(histogram_text(labels[key], key))
    return "\n".join(lines)


def summarize(dataset_name: str, data_dir: str | Path, split: str | None = None, **options) -> str:
    """Text summary of a dataset on disk for ``tfgan-emotion data summary``: for each split (or ``split``), the
    counts per class, valence/arousal histograms where the dataset has them, and what was skipped and why."""
    module = READERS[dataset_name]
    if split is not None:
        splits = [split]
    elif hasattr(module, "splits"):
        splits = list(module.splits(data_dir))
    else:
        splits = list(module.SPLITS)
    parts = []
    for name in splits:
        scan = module.scan(data_dir, name, **options)
        parts.append(describe(scan, getattr(module, "VOCABULARY", None)))
    return "\n\n".join(parts)
