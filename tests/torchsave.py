"""Writing PyTorch ``torch.save`` files of state dicts without PyTorch, for the converter's tests: the same bytes
layout torch.save produces (pickle protocol 2; tensors as ``torch._utils._rebuild_tensor_v2`` calls on storages
given as persistent ids), in the zip layout (PyTorch 1.6 and later) and the legacy one.

Also the original GANmut generator's state-dict keys and shapes (linear and gaussian 2-D models) with random
values, and a NumPy reference of its forward pass (NCHW, BGR), written from the architecture: conv2d with PyTorch's
zero padding, instance norm with per-image statistics, ReLU, residual blocks, transposed conv, tanh, and the code
tiled as two extra input channels.
"""
from __future__ import annotations

import collections
import io
import pickle
import struct
import zipfile

import numpy as np

STORAGE_NAMES = {np.dtype("float32"): "FloatStorage", np.dtype("float64"): "DoubleStorage",
                 np.dtype("float16"): "HalfStorage", np.dtype("int64"): "LongStorage", np.dtype("int32"): "IntStorage",
                 np.dtype("int16"): "ShortStorage", np.dtype("int8"): "CharStorage", np.dtype("uint8"): "ByteStorage",
                 np.dtype("bool"): "BoolStorage"}


class Global:
    """A reference to ``module.name`` written as a pickle GLOBAL without importing it (torch is not installed)."""

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, *args):          # save_reduce wants a callable
        raise RuntimeError("a placeholder")


class Storage:
    """A storage: a 1-D array and its key in the file."""

    def __init__(self, array, key):
        self.array, self.key = np.ascontiguousarray(array).reshape(-1), key


class Tensor:
    """A tensor viewing ``storage`` at ``offset`` with ``size`` and ``stride`` (in elements)."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def __reduce__(self):
        return (Global("torch._utils", "_rebuild_tensor_v2"),
                (self.storage, self.offset, self.size, self.stride, False, collections.OrderedDict()))


class _Pickler(pickle._Pickler):
    """The pure-Python pickler, writing :class:`Global` as GLOBAL and storages as persistent ids."""

    dispatch = dict(pickle._Pickler.dispatch)

    def __init__(self, file, legacy=False):
        super().__init__(file, protocol=2)
        self.legacy = legacy
        self.storages = {}

    def save_placeholder_global(self, obj):
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
        self.memoize(obj)

    dispatch[Global] = save_placeholder_global

    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            self.storages[obj.key] = obj
            pid = ("storage", Global("torch", STORAGE_NAMES[obj.array.dtype]), obj.key, "cpu", obj.array.size)
            return pid + (None,) if self.legacy else pid
        return None


def tensor(array) -> Tensor:
    """A contiguous tensor on its own storage (keys are given by :func:`state_dict_bytes`)."""
    a = np.require(array, requirements="C")    # (np.ascontiguousarray would make a scalar 1-D)
    stride = tuple(s // a.itemsize for s in a.strides)
    return Tensor(Storage(a, None), 0, a.shape, stride)


def _prepare(state: dict):
    """An OrderedDict of Tensors (arrays wrapped), storages keyed "0", "1", ... in order of first use, and
    torch's ``_metadata`` attribute."""
    out = collections.OrderedDict()
    keys = {}
    for k, v in state.items():
        t = v if isinstance(v, Tensor) else tensor(v)
        if id(t.storage) not in keys:
            keys[id(t.storage)] = str(len(keys))
        t.storage.key = keys[id(t.storage)]
        out[k] = t
    out._metadata = collections.OrderedDict([("", {"version": 1})])
    return out


def zip_bytes(state: dict, archive: str = "archive", pickled=None) -> bytes:
    """``torch.save(state, f)`` in the zip layout; ``pickled``: data.pkl's bytes instead of the state's pickle."""
    od = _prepare(state)
    buf = io.BytesIO()
    p = _Pickler(buf)
    p.dump(od)
    data = buf.getvalue() if pickled is None else pickled
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{archive}/data.pkl", data)
        zf.writestr(f"{archive}/byteorder", "little")
        for key, s in sorted(p.storages.items(), key=lambda kv: int(kv[0])):
            zf.writestr(f"{archive}/data/{key}", s.array.astype(s.array.dtype.newbyteorder("<")).tobytes())
        zf.writestr(f"{archive}/version", "3\n")
    return out.getvalue()


LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def legacy_bytes(state: dict, pickled=None) -> bytes:
    """``torch.save(state, f, _use_new_zipfile_serialization=False)``: magic, protocol, system info, the pickle,
    the storage keys, then each storage as an int64 element count and its little-endian bytes."""
    od = _prepare(state)
    buf = io.BytesIO()
    for header in (LEGACY_MAGIC, 1001, {"protocol_version": 1001, "little_endian": True,
                                        "type_sizes": {"short": 2, "int": 4, "long": 4}}):
        pickle.dump(header, buf, protocol=2)
    p = _Pickler(buf, legacy=True)
    if pickled is None:
        p.dump(od)
    else:
        buf.write(pickled)
    keys = sorted(p.storages)
    pickle.dump(keys, buf, protocol=2)
    for key in keys:
        a = p.storages[key].array
        buf.write(struct.pack("<q", a.size) + a.astype(a.dtype.newbyteorder("<")).tobytes())
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------------------------
# The original GANmut generator: state-dict keys and shapes, and its forward pass in NumPy
# ---------------------------------------------------------------------------------------------------------------

def ganmut_state(parametrization="linear", conv_dim=8, blocks=6, n_classes=7, seed=0, running_stats=True):
    """A state dict with the original generator's keys and shapes (``nn.Sequential`` indices of the authors'
    Generator), random values; instance norms with running statistics as the authors' ``track_running_stats``."""
    rng = np.random.default_rng(seed)
    st = collections.OrderedDict()

    def conv(name, o, i, k):
        st[f"{name}.weight"] = (rng.normal(size=(o, i, k, k)) / np.sqrt(i * k * k)).astype(np.float32)

    def norm(name, c):
        st[f"{name}.weight"] = rng.uniform(0.5, 1.5, c).astype(np.float32)
        st[f"{name}.bias"] = rng.normal(0, 0.2, c).astype(np.float32)
        if running_stats:
            st[f"{name}.running_mean"] = rng.normal(size=c).astype(np.float32)
            st[f"{name}.running_var"] = rng.uniform(0.5, 2, c).astype(np.float32)
            st[f"{name}.num_batches_tracked"] = np.array(123456, np.int64)

    c = conv_dim
    if parametrization == "linear":
        st["axes.weight"] = rng.normal(size=(n_classes - 1, 2)).astype(np.float32)
        st["axes.bias"] = rng.normal(size=(n_classes - 1,)).astype(np.float32)
    else:
        st["covariance_angles.weight"] = rng.uniform(-1, 1, (1, n_classes)).astype(np.float32)
        st["covariance_axes.weight"] = rng.uniform(0.3, 2, (n_classes, 2)).astype(np.float32)
        st["mu.weight"] = rng.uniform(-0.7, 0.7, (n_classes, 2)).astype(np.float32)
    conv("main.0", c, 5, 7)
    norm("main.1", c)
    conv("main.3", 2 * c, c, 4)
    norm("main.4", 2 * c)
    conv("main.6", 4 * c, 2 * c, 4)
    norm("main.7", 4 * c)
    for b in range(blocks):
        conv(f"main.{9 + b}.main.0", 4 * c, 4 * c, 3)
        norm(f"main.{9 + b}.main.1", 4 * c)
        conv(f"main.{9 + b}.main.3", 4 * c, 4 * c, 3)
        norm(f"main.{9 + b}.main.4", 4 * c)
    r = blocks
    st[f"main.{9 + r}.weight"] = (rng.normal(size=(4 * c, 2 * c, 4, 4)) / np.sqrt(4 * c * 4)).astype(np.float32)
    norm(f"main.{10 + r}", 2 * c)
    st[f"main.{12 + r}.weight"] = (rng.normal(size=(2 * c, c, 4, 4)) / np.sqrt(2 * c * 4)).astype(np.float32)
    norm(f"main.{13 + r}", c)
    conv(f"main.{15 + r}", 3, c, 7)
    return st


def conv2d(x, w, stride=1, pad=0):
    """PyTorch Conv2d (cross-correlation, zero padding), NCHW x OIHW, no bias."""
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    k = w.shape[2]
    win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::stride, ::stride]
    return np.einsum("nchwij,ocij->nohw", win, w)


def conv_transpose2d(x, w, stride=2, pad=1):
    """PyTorch ConvTranspose2d, NCHW x IOHW (in, out, kh, kw), no bias: every input pixel adds w scaled by it at
    stride-spaced positions, then ``pad`` is cut from each border."""
    n, _, h, wd = x.shape
    k = w.shape[2]
    out = np.zeros((n, w.shape[1], (h - 1) * stride + k, (wd - 1) * stride + k))
    for a in range(k):
        for b in range(k):
            out[:, :, a:a + stride * h:stride, b:b + stride * wd:stride] += np.einsum("nihw,io->nohw", x, w[:, :, a, b])
    return out[:, :, pad:out.shape[2] - pad, pad:out.shape[3] - pad]


def instance_norm(x, gamma, beta, eps=1e-5):
    """Per image and channel, biased variance (PyTorch InstanceNorm2d in training mode), affine."""
    mean = x.mean(axis=(2, 3), keepdims=True)
    var = x.var(axis=(2, 3), keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma[None, :, None, None] + beta[None, :, None, None]


def ganmut_forward(st, x_bgr, z, blocks=6):
    """The original generator on NCHW BGR images in [-1, 1] and codes z [N, 2], in float64."""
    g = {k: np.asarray(v, np.float64) for k, v in st.items()}
    code = np.broadcast_to(np.asarray(z, np.float64)[:, :, None, None], (len(x_bgr), 2) + x_bgr.shape[2:])
    h = np.concatenate([np.asarray(x_bgr, np.float64), code], axis=1)

    def block(h, conv_name, norm_name, stride, pad, relu=True):
        h = instance_norm(conv2d(h, g[f"{conv_name}.weight"], stride, pad), g[f"{norm_name}.weight"],
                          g[f"{norm_name}.bias"])
        return np.maximum(h, 0) if relu else h

    h = block(h, "main.0", "main.1", 1, 3)
    h = block(h, "main.3", "main.4", 2, 1)
    h = block(h, "main.6", "main.7", 2, 1)
    for b in range(blocks):
        p = f"main.{9 + b}.main"
        r = block(h, f"{p}.0", f"{p}.1", 1, 1)
        h = h + block(r, f"{p}.3", f"{p}.4", 1, 1, relu=False)
    for t, nrm in ((9 + blocks, 10 + blocks), (12 + blocks, 13 + blocks)):
        h = conv_transpose2d(h, g[f"main.{t}.weight"])
        h = np.maximum(instance_norm(h, g[f"main.{nrm}.weight"], g[f"main.{nrm}.bias"]), 0)
    return np.tanh(conv2d(h, g[f"main.{15 + blocks}.weight"], 1, 3))


def linear_code(st, emotion, rho):
    """The original linear model's test-mode code: rho * normalised row (emotion - 1) of axes.weight; 0 neutral."""
    axes = np.asarray(st["axes.weight"], np.float64)
    unit = axes / np.maximum(np.linalg.norm(axes, axis=1, keepdims=True), 1e-12)
    table = np.concatenate([np.zeros((1, 2)), unit])
    return table[np.asarray(emotion)] * np.asarray(rho, np.float64).reshape(-1, 1)


def gaussian_code(st, emotion, rho):
    """The gaussian model's code of class e at intensity rho: tanh(mu_0) + rho (tanh(mu_e) - tanh(mu_0))."""
    m = np.tanh(np.asarray(st["mu.weight"], np.float64))
    return m[0] + np.asarray(rho, np.float64).reshape(-1, 1) * (m[np.asarray(emotion)] - m[0])
