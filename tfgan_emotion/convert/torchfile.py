"""Read a PyTorch ``torch.save`` file of a state dict into NumPy arrays, without PyTorch and without running any code
the file brings.

A ``torch.save`` file is a pickle whose tensors point into raw storages kept beside it, in one of two layouts:

- **zip** (PyTorch 1.6 and later): ``<name>/data.pkl`` holds the pickle, ``<name>/data/<key>`` each storage's raw
  bytes, ``<name>/byteorder`` (when present) their byte order;
- **legacy** (before 1.6): one stream of consecutive pickles (a magic number, the protocol version, facts about the
  saving machine, the object, the sorted list of storage keys), then every storage in that order as an 8-byte
  little-endian element count followed by its raw little-endian bytes.

In both, a storage is a pickle *persistent id* ``('storage', storage type, key, location, element count[, view])``
and a tensor is the call ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)``.

Unpickling can run arbitrary code: a pickle may name any importable function and call it. :class:`StateDictUnpickler`
resolves only the handful of names a state dict needs (``collections.OrderedDict``, the tensor rebuild functions
and the ``torch.<Type>Storage`` markers), each to a function of this module; any other name stops the reading at
once, before anything it names is looked up or called (:class:`UnsafeCheckpointError`). Storages become NumPy arrays
of their dtype, and tensors views of them with the saved offset, size and stride, bounds-checked, then copied.
"""
from __future__ import annotations

import collections
import io
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np

# The legacy format's first pickle: this number (torch.serialization.MAGIC_NUMBER) and protocol version 1001.
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001


class CheckpointError(ValueError):
    """The file is not a PyTorch state dict this reader can take (the message says why)."""


class UnsafeCheckpointError(CheckpointError):
    """The pickle names a global outside the allowed few; nothing it names was imported or called."""


class StorageType:
    """What ``torch.<Name>Storage`` stands for here: the element dtype of a storage."""

    def __init__(self, name: str, dtype: str):
        self.name, self.dtype = name, dtype

    @property
    def itemsize(self) -> int:
        return 2 if self.dtype == "bfloat16" else np.dtype(self.dtype).itemsize

    def __repr__(self):
        return f"torch.{self.name}"


STORAGE_TYPES = {name: StorageType(name, dtype) for name, dtype in (
    ("FloatStorage", "float32"), ("DoubleStorage", "float64"), ("HalfStorage", "float16"),
    ("BFloat16Storage", "bfloat16"), ("LongStorage", "int64"), ("IntStorage", "int32"), ("ShortStorage", "int16"),
    ("CharStorage", "int8"), ("ByteStorage", "uint8"), ("BoolStorage", "bool"))}


def _as_numpy(raw: bytes, storage_type: StorageType, byteorder: str) -> np.ndarray:
    """Raw storage bytes -> a 1-D array (bfloat16 widened to float32, exactly)."""
    if storage_type.dtype == "bfloat16":
        half = np.frombuffer(raw, np.dtype("<u2" if byteorder == "little" else ">u2"))
        return (half.astype(np.uint32) << 16).view(np.float32)
    dt = np.dtype(storage_type.dtype)
    if dt.itemsize > 1:
        dt = dt.newbyteorder("<" if byteorder == "little" else ">")
    return np.frombuffer(raw, dt).astype(dt.newbyteorder("="))


def rebuild_tensor(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    """``torch._utils._rebuild_tensor_v2``: the tensor ``storage[offset + sum(i_k * stride_k)]`` over the index grid
    of ``size``, as a C-contiguous copy."""
    if not isinstance(storage, np.ndarray):
        raise CheckpointError("a tensor refers to something that is not a storage")
    size = tuple(int(s) for s in size)
    stride = tuple(int(s) for s in stride)
    offset = int(storage_offset)
    if len(size) != len(stride) or any(s < 0 for s in size) or any(s < 0 for s in stride) or offset < 0:
        raise CheckpointError(f"a tensor has an invalid layout (size {size}, stride {stride}, offset {offset})")
    if 0 in size:
        return np.zeros(size, storage.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= storage.size:
        raise CheckpointError(f"a tensor (size {size}, stride {stride}, offset {offset}) reaches past the end of its "
                              f"storage of {storage.size} elements")
    view = np.lib.stride_tricks.as_strided(storage[offset:], shape=size,
                                           strides=tuple(s * storage.itemsize for s in stride), writeable=False)
    return np.array(view, copy=True, order="C")


def rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    """``torch._utils._rebuild_parameter``: a parameter is its data here."""
    return data


# Every global a state dict's pickle may name, and what it means here (all of them defined above).
ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): rebuild_parameter,
    **{("torch", name): t for name, t in STORAGE_TYPES.items()},
}


class StateDictUnpickler(pickle.Unpickler):
    """An Unpickler that resolves only :data:`ALLOWED_GLOBALS` and turns storage persistent ids into arrays through
    ``read_storage(key, storage type, element count)``."""

    def __init__(self, file, read_storage, what: str, rebuild_tensor_v2=rebuild_tensor):
        super().__init__(file)
        self._read_storage = read_storage
        self._what = what
        self._globals = {**ALLOWED_GLOBALS, ("torch._utils", "_rebuild_tensor_v2"): rebuild_tensor_v2}

    def find_class(self, module, name):
        target = self._globals.get((module, name))
        if target is None:
            raise UnsafeCheckpointError(f"{self._what}: it references {module}.{name}, which is not allowed; nothing "
                                        "in it was executed")
        return target

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] in ("storage", b"storage")):
            kind = pid[0] if isinstance(pid, tuple) and pid else pid
            raise CheckpointError(f"{self._what}: it holds an object of kind {str(kind)[:40]!r} where only tensor "
                                  "storages are expected")
        _, storage_type, key, _location, numel = pid[:5]
        if not isinstance(storage_type, StorageType):
            raise CheckpointError(f"{self._what}: a storage has the unknown type {storage_type!r}")
        view = pid[5] if len(pid) == 6 else None
        array = self._read_storage(key.decode() if isinstance(key, bytes) else str(key), storage_type, int(numel))
        if view is not None:
            _view_key, view_offset, view_size = view
            array = array[int(view_offset):int(view_offset) + int(view_size)]
        return array


def _check_state_dict(obj, what: str) -> "collections.OrderedDict[str, np.ndarray]":
    if not isinstance(obj, dict):
        raise CheckpointError(f"{what}: it holds a {type(obj).__name__}, not a state dict (a mapping of parameter "
                              "names to tensors)")
    out = collections.OrderedDict()
    for k, v in obj.items():
        if not isinstance(k, str) or not isinstance(v, np.ndarray):
            raise CheckpointError(f"{what}: entry {k!r} is not a named tensor (a state dict maps names to tensors)")
        out[k] = v
    return out


def _read_zip(path: Path, what: str):
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        pickles = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            hint = " (a TorchScript archive, made by torch.jit.save, is not a state dict)" \
                if any(n.endswith("/constants.pkl") for n in names) else ""
            raise CheckpointError(f"{what}: a zip archive without exactly one <name>/data.pkl, so not a torch.save "
                                  f"file{hint}")
        prefix = pickles[0][:-len("data.pkl")]
        byteorder = "little"
        if prefix + "byteorder" in names:
            byteorder = zf.read(prefix + "byteorder").decode("ascii", "replace").strip()
            if byteorder not in ("little", "big"):
                raise CheckpointError(f"{what}: unknown byte order {byteorder!r}")
        cache = {}

        def read_storage(key, storage_type, numel):
            if key not in cache:
                entry = f"{prefix}data/{key}"
                if entry not in names:
                    raise CheckpointError(f"{what}: storage {key} is missing from the archive ({entry})")
                raw = zf.read(entry)
                if len(raw) < numel * storage_type.itemsize:
                    raise CheckpointError(f"{what}: storage {key} holds {len(raw)} bytes, fewer than its "
                                          f"{numel} x {storage_type.itemsize}")
                cache[key] = _as_numpy(raw[:numel * storage_type.itemsize], storage_type, byteorder)
            return cache[key]

        with zf.open(pickles[0]) as f:
            obj = StateDictUnpickler(io.BytesIO(f.read()), read_storage, what).load()
    return obj


def _read_legacy(data: bytes, what: str):
    f = io.BytesIO(data)

    def no_storage(*_):
        raise CheckpointError(f"{what}: a storage appears where none is expected")

    def header():
        return StateDictUnpickler(f, no_storage, what).load()

    if header() != LEGACY_MAGIC:
        raise CheckpointError(f"{what}: a pickle, but not a torch.save file (no PyTorch magic number)")
    if header() != LEGACY_PROTOCOL:
        raise CheckpointError(f"{what}: a legacy torch.save file of an unknown protocol version")
    sys_info = header()
    if isinstance(sys_info, dict) and sys_info.get("little_endian") is False:
        raise CheckpointError(f"{what}: saved on a big-endian machine, which this reader does not support")
    wanted = {}

    def note_storage(key, storage_type, numel):
        if key in wanted and (wanted[key][0] is not storage_type or wanted[key][1] != numel):
            raise CheckpointError(f"{what}: storage {key} is described twice, differently")
        wanted[key] = (storage_type, numel)
        return _Pending(key)

    obj = StateDictUnpickler(f, note_storage, what, rebuild_tensor_v2=lambda *args: _PendingTensor(args)).load()
    keys = header()
    if not isinstance(keys, list) or set(map(str, keys)) != set(wanted):
        raise CheckpointError(f"{what}: its list of storages does not match the tensors")
    arrays = {}
    for key in map(str, keys):
        storage_type, numel = wanted[key]
        head = f.read(8)
        if len(head) != 8:
            raise CheckpointError(f"{what}: the file ends before storage {key}")
        (count,) = struct.unpack("<q", head)
        if count != numel:
            raise CheckpointError(f"{what}: storage {key} holds {count} elements, its tensors say {numel}")
        raw = f.read(numel * storage_type.itemsize)
        if len(raw) != numel * storage_type.itemsize:
            raise CheckpointError(f"{what}: the file ends inside storage {key}")
        arrays[key] = _as_numpy(raw, storage_type, "little")
    return _resolve(obj, arrays)


class _Pending:
    """A legacy storage whose bytes come after the pickle (or a slice of one: a view); tensors on it are rebuilt
    once the bytes are read."""

    def __init__(self, key, sl=slice(None)):
        self.key, self.slice = key, sl

    def __getitem__(self, sl):
        return _Pending(self.key, sl)


class _PendingTensor:
    def __init__(self, args):
        self.args = args


def _resolve(obj, arrays):
    """Replace the legacy placeholders by arrays, recursively through dicts and lists."""
    if isinstance(obj, _PendingTensor):
        storage, *rest = obj.args
        return rebuild_tensor(_resolve(storage, arrays), *rest)
    if isinstance(obj, _Pending):
        return arrays[obj.key][obj.slice]
    if isinstance(obj, dict):
        out = type(obj)() if isinstance(obj, collections.OrderedDict) else {}
        for k, v in obj.items():
            out[k] = _resolve(v, arrays)
        return out
    if isinstance(obj, list):
        return [_resolve(v, arrays) for v in obj]
    return obj


def read_state_dict(path, what: str | None = None) -> "collections.OrderedDict[str, np.ndarray]":
    """The state dict in a ``torch.save`` file (zip or legacy layout) as ``{name: array}``, in the file's order.
    Raises :class:`CheckpointError` (or :class:`UnsafeCheckpointError`) with a message naming the file and the
    problem; never imports or calls anything the file names beyond :data:`ALLOWED_GLOBALS`."""
    path = Path(path)
    what = what or f"{path}"
    if not path.is_file():
        raise CheckpointError(f"{what}: no such file")
    if zipfile.is_zipfile(path):
        try:
            obj = _read_zip(path, what)
        except (zipfile.BadZipFile, EOFError, pickle.UnpicklingError) as e:
            raise CheckpointError(f"{what}: a damaged zip archive ({e})") from None
        return _check_state_dict(obj, what)
    data = path.read_bytes()
    if not data.startswith(b"\x80"):
        raise CheckpointError(f"{what}: neither a zip archive nor a pickle, so not a torch.save file")
    try:
        obj = _read_legacy(data, what)
    except (EOFError, pickle.UnpicklingError, struct.error) as e:
        raise CheckpointError(f"{what}: a damaged legacy torch.save file ({e})") from None
    return _check_state_dict(obj, what)

