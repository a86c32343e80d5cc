"""Fashion-MNIST reader (SPECS.md "Dataset formats": idx files ``{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz``;
SPECS "Label-interpolation cGAN": 28x28x1, 10 classes).

The files may be gzipped or not. ``data_dir`` is the folder holding them, e.g. the Keras cache
``~/.keras/datasets/fashion-mnist/`` (never looked up implicitly: pass it). Each file's magic number (0x00000803
images, 0x00000801 labels), dimensions and exact byte size are checked; a mismatch is a ``ValueError`` naming the
file. A label outside 0-9 is skipped and counted.

Examples carry ``image`` (28x28x1 by default) and ``expression`` (the class index in :data:`labels.FASHION_MNIST`;
the key is the one every reader uses for its class label).
"""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from tfgan_emotion.data import labels as label_sets
from tfgan_emotion.data import pipeline
from tfgan_emotion.data.pipeline import ReadSummary, RowFilter, Scan

NAME = "fashion_mnist"
VOCABULARY = label_sets.FASHION_MNIST
SPLITS = ("train", "test")
PREFIXES = {"train": "train", "test": "t10k"}
IMAGES_MAGIC = 0x00000803  # unsigned byte, 3 dimensions
LABELS_MAGIC = 0x00000801  # unsigned byte, 1 dimension


def _find(root: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem):
        if (root / name).is_file():
            return root / name
    raise FileNotFoundError(f"Fashion-MNIST: neither {stem}.gz nor {stem} is in {root}. Point data_dir at the "
                            f"folder holding the idx files (e.g. ~/.keras/datasets/fashion-mnist).")


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError) as error:
        raise ValueError(f"Fashion-MNIST: {path} cannot be read ({error}); re-download it.") from None


def read_idx(path: str | Path, magic: int) -> np.ndarray:
    """The uint8 array stored in one idx file, after checking its magic number and size."""
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise ValueError(f"Fashion-MNIST: {path} has {len(data)} bytes, too short for an idx header; re-download it.")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        kind = "images (idx3)" if magic == IMAGES_MAGIC else "labels (idx1)"
        raise ValueError(f"Fashion-MNIST: {path} has magic number {found:#010x}, expected {magic:#010x} for "
                         f"unsigned-byte {kind}. The file is not a Fashion-MNIST {kind} file or is damaged; "
                         f"re-download it.")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"Fashion-MNIST: {path} ends inside its header; re-download it.")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(data) != expected:
        raise ValueError(f"Fashion-MNIST: {path} has {len(data)} bytes but its header {shape} needs {expected}; the "
                         f"file is truncated or damaged. Re-download it.")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def scan(data_dir: str | Path, split: str = "train") -> Scan:
    """Read and check both idx files of ``split`` (``"train"`` or ``"test"``)."""
    if split not in PREFIXES:
        raise ValueError(f"Fashion-MNIST split must be 'train' or 'test', got {split!r}")
    root = pipeline.require_dir(data_dir, "Fashion-MNIST",
                                "Pass the folder holding the idx files, e.g. ~/.keras/datasets/fashion-mnist.")
    images_path = _find(root, f"{PREFIXES[split]}-images-idx3-ubyte")
    labels_path = _find(root, f"{PREFIXES[split]}-labels-idx1-ubyte")
    images = read_idx(images_path, IMAGES_MAGIC)
    classes = read_idx(labels_path, LABELS_MAGIC)
    if len(images) != len(classes):
        raise ValueError(f"Fashion-MNIST: {images_path} holds {len(images)} images but {labels_path} "
                         f"{len(classes)} labels; the pair does not match. Re-download both.")
    summary = ReadSummary(NAME, split, str(images_path))
    rows = RowFilter(summary, np.array([f"{labels_path.name} item {i}" for i in range(len(classes))], dtype=object))
    rows.drop(classes >= len(VOCABULARY), "label outside 0-9")
    keep = rows.keep
    summary.kept = int(keep.sum())
    return Scan(summary, {"expression": classes[keep].astype(np.int32)}, images=images[keep][..., None])


def load(
    data_dir: str | Path,
    split: str = "train",
    image_size=28,
    channels: int = 1,
    *,
    shuffle_files: bool = False,
    seed: int | None = None,
    verbose: bool = True,
):
    """Fashion-MNIST as unbatched ``{"image", "expression"}`` dicts and its :class:`ReadSummary`."""
    result = scan(data_dir, split)
    return pipeline.finish(result, image_size, channels, shuffle_files=shuffle_files, seed=seed, verbose=verbose)
