"""CIFAR-10 reader (SPECS.md "Dataset formats": ``cifar-10-batches-py/{data_batch_1..5,test_batch}`` pickles with keys
b'data' (10000x3072 uint8, planar RGB) and b'labels'; SPECS "Label-interpolation cGAN": 32x32x3, 10 classes).

The batches are Python pickles, and unpickling runs whatever a file names. They are read with
:class:`RestrictedUnpickler`, which resolves only the globals a genuine batch needs to rebuild its numpy array
(``numpy.core.multiarray._reconstruct`` / ``numpy._core.multiarray._reconstruct``, ``numpy.ndarray``,
``numpy.dtype``; ``numpy._core.numeric._frombuffer`` for protocol-5 re-saves; ``_codecs.encode`` limited to latin-1,
which Python 3 protocol-2 re-saves use for bytes). Everything else in a batch (the dict, its bytes/str keys, the
label list of ints, the file-name list of bytes) is built by pickle opcodes without any global. Any other global
(``os.system``, ``builtins.eval``, ...) raises :class:`ForbiddenGlobalError` (a :class:`pickle.UnpicklingError`)
naming the file and the global, before anything is called. After loading, the structure is checked: a dict of
bytes/str/int/list values with a uint8 ndarray ``data`` of shape [N, 3072] and N labels (a label outside 0-9 is
skipped and counted).

Examples carry ``image`` (32x32x3: the planar rows reshaped to [N, 3, 32, 32] and transposed to HWC) and
``expression`` (the class index in :data:`labels.CIFAR10`; the key every reader uses for its class label).
"""
from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np

from tfgan_emotion.data import labels as label_sets
from tfgan_emotion.data import pipeline
from tfgan_emotion.data.pipeline import ReadSummary, RowFilter, Scan

NAME = "cifar10"
VOCABULARY = label_sets.CIFAR10
SPLITS = ("train", "test")
FOLDER = "cifar-10-batches-py"
BATCHES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
SIDE = 32
ROW = 3 * SIDE * SIDE


def _reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct as fn
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct as fn
    return fn


def _frombuffer():
    try:
        from numpy._core.numeric import _frombuffer as fn
    except ImportError:  # numpy < 2
        from numpy.core.numeric import _frombuffer as fn
    return fn


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as Python 3 protocol-2 pickles use it for bytes, restricted to latin-1."""
    if encoding.replace("-", "").replace("_", "").lower() not in ("latin1", "iso88591"):
        raise ForbiddenGlobalError(f"_codecs.encode with encoding {encoding!r} refused (only latin-1 is used "
                                     f"by pickled bytes)")
    return str(text).encode("latin1")


# The only globals a CIFAR-10 batch needs (module docstring).
ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("_codecs", "encode"): lambda: _latin1_encode,
}


class ForbiddenGlobalError(pickle.UnpicklingError):
    """A batch file asked for a global outside :data:`ALLOWED_GLOBALS` (or for a persistent id)."""


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only :data:`ALLOWED_GLOBALS` and refuses every other global."""

    def __init__(self, file, source: str):
        super().__init__(file, encoding="bytes")
        self.source = source

    def find_class(self, module: str, name: str):
        factory = ALLOWED_GLOBALS.get((module, name))
        if factory is None:
            raise ForbiddenGlobalError(
                f"CIFAR-10: {self.source} asks to load the global {module}.{name}, which is refused: a genuine "
                f"CIFAR-10 batch needs only numpy's array reconstruction. The file is not a CIFAR-10 batch (or has "
                f"been tampered with); do not load it with pickle elsewhere, and re-download cifar-10-python.tar.gz."
            )
        return factory()

    def persistent_load(self, pid):
        raise ForbiddenGlobalError(f"CIFAR-10: {self.source} uses persistent ids, which a CIFAR-10 batch never "
                                     f"does; re-download it.")


def _check_value(value, path: str, source: str) -> None:
    if isinstance(value, (bytes, str, int, float)) or value is None:
        return
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            raise ValueError(f"CIFAR-10: {source} holds an object array under {path}; re-download it.")
        return
    if isinstance(value, list):
        if all(isinstance(v, (int, bytes, str)) for v in value):
            return
        for i, v in enumerate(value):
            _check_value(v, f"{path}[{i}]", source)
        return
    raise ValueError(f"CIFAR-10: {source} holds a {type(value).__name__} under {path}; a batch holds only a dict of "
                     f"bytes, str, int, lists and a uint8 array. Re-download it.")


def read_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``(data [N, 3072] uint8, labels [N] int64)`` of one batch file, read with :class:`RestrictedUnpickler`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CIFAR-10: {path} not found. Extract cifar-10-python.tar.gz and point data_dir at "
                                f"{FOLDER} or the folder that contains it.")
    raw = path.read_bytes()
    try:
        batch = RestrictedUnpickler(io.BytesIO(raw), str(path)).load()
    except ForbiddenGlobalError:
        raise
    except Exception as error:  # truncated or garbled pickle data
        raise ValueError(f"CIFAR-10: {path} is not a readable pickle ({type(error).__name__}: {error}); "
                         f"re-download it.") from None
    if not isinstance(batch, dict):
        raise ValueError(f"CIFAR-10: {path} holds a {type(batch).__name__}, not the dict of a batch; re-download it.")
    batch = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    for key, value in batch.items():
        _check_value(value, repr(key), str(path))
    missing = [k for k in ("data", "labels") if k not in batch]
    if missing:
        raise ValueError(f"CIFAR-10: {path} lacks key(s) {', '.join(missing)}; found {', '.join(map(str, batch))}. "
                         f"Re-download it.")
    data, labels = batch["data"], np.asarray(batch["labels"])
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != ROW:
        what = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise ValueError(f"CIFAR-10: {path} b'data' is {what}; expected a uint8 array [N, {ROW}]. Re-download it.")
    if labels.ndim != 1 or len(labels) != len(data) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"CIFAR-10: {path} has {len(data)} images but labels of shape {labels.shape} "
                         f"({labels.dtype}); re-download it.")
    return data, labels.astype(np.int64)


def find_root(data_dir: str | Path) -> Path:
    root = Path(data_dir).expanduser()
    if (root / FOLDER).is_dir():
        return root / FOLDER
    if root.is_dir():
        return root
    raise FileNotFoundError(f"CIFAR-10: {root} does not exist. Point data_dir at {FOLDER} or its parent.")


def scan(data_dir: str | Path, split: str = "train") -> Scan:
    """Read and check the batches of ``split`` (``"train"``: data_batch_1..5, ``"test"``: test_batch)."""
    if split not in BATCHES:
        raise ValueError(f"CIFAR-10 split must be 'train' or 'test', got {split!r}")
    root = find_root(data_dir)
    summary = ReadSummary(NAME, split, str(root))
    images, classes, locations = [], [], []
    for name in BATCHES[split]:
        data, labels = read_batch(root / name)
        images.append(data.reshape(-1, 3, SIDE, SIDE).transpose(0, 2, 3, 1))  # planar RGB -> HWC
        classes.append(labels)
        locations += [f"{name} item {i}" for i in range(len(labels))]
    images = np.concatenate(images)
    classes = np.concatenate(classes)
    rows = RowFilter(summary, np.array(locations, dtype=object))
    rows.drop((classes < 0) | (classes >= len(VOCABULARY)), "label outside 0-9")
    keep = rows.keep
    summary.kept = int(keep.sum())
    return Scan(summary, {"expression": classes[keep].astype(np.int32)}, images=np.ascontiguousarray(images[keep]))


def load(
    data_dir: str | Path,
    split: str = "train",
    image_size=SIDE,
    channels: int = 3,
    *,
    shuffle_files: bool = False,
    seed: int | None = None,
    verbose: bool = True,
):
    """CIFAR-10 as unbatched ``{"image", "expression"}`` dicts and its :class:`ReadSummary`."""
    result = scan(data_dir, split)
    return pipeline.finish(result, image_size, channels, shuffle_files=shuffle_files, seed=seed, verbose=verbose)
