"""Stand-ins for every dataset, drawn with the face renderer (:mod:`.renderer`): same vocabulary, size, channels,
label fields and splits as the real dataset, with exact labels.

Without any dataset on disk every recipe still runs on these faces. They are NOT samples of the real datasets;
numbers obtained on them say nothing about the papers' results.

Categories are binned continuous labels (paper 000 section 1): ``expression`` is always
``labels.category_from_va(valence, arousal, vocabulary)`` of the rendered point (nearest direction, neutral
within radius 0.2), except for the 10-class stand-ins whose classes are the prototypes below.

Determinism: :func:`make_arrays` / :func:`make_dataset` give the same examples for the same
(kind, split, n, size, seed) (a different ``n`` draws a different sample, not a prefix).

Stand-ins (:data:`STANDINS`, :func:`make_arrays`, :func:`make_dataset`): each has its dataset's vocabulary,
size, channels and label fields, and validation/test splits use identities held out from training (except
"ferg", whose six characters appear in every split, like FExGAN's split of FERG-DB images).

- "affectnet": 96x96 RGB, the 8 AffectNet emotion classes plus valence/arousal; classes balanced (the real set is
  heavily imbalanced), emotion intensity U(0.3, 1), neutral within radius 0.12. No "none/uncertain/no-face".
  ``va="plane"`` draws valence and arousal uniformly over the square [-1, 1]^2 instead and bins the class from the
  point (AffectNet's annotations cover the plane; classes then not balanced): the CAAE default run trains on it.
- "fer2013": 48x48 grey, fer2013's 7 classes in fer2013 order; no valence/arousal (the real set has none).
- "ferg": 6 cartoon characters x 7 FERG expressions, 128x128 RGB, strong expressions (intensity U(0.7, 1)),
  several images per character and expression; fields ``character`` (index into labels.FERG_CHARACTERS) and
  ``identity`` (= character). Looks nothing like FERG-DB's 3D-rendered characters beyond "same six characters".
- "faces": the 6 FACES emotions, every identity showing each emotion twice (sets a, b), posed at high intensity,
  uniform grey background and shirt, no lighting gradient and 40% of the pose jitter (studio photographs),
  256x256 RGB (the real images are 2835x3543 photos of 171 people).
- "affwild2": videos of 64 frames, 112x112 RGB (Aff-Wild2's cropped-aligned size); valence/arousal drift smoothly
  along a random low-frequency path, head pose drifts smoothly, and 0-2 runs of 3-8 frames per video (about a
  tenth of the frames) carry expression -1 ("ignore"); fields ``video`` and ``frame`` (0-based position in the
  video's label file, i.e. file number - 1). Valence/arousal are given for every frame; lighting and noise level
  are constant within a video. Class 7 "Other" never occurs.
- "fashion_mnist" (28x28 grey) and "cifar10" (32x32 RGB): 10 classes that are expression prototypes, NOT
  clothes or objects: class k is the face at circumplex angle :data:`PROTOTYPES_10` [k] at intensity U(0.85, 1)
  (angle +-3 degrees), so interpolating a label between two classes (paper 000) means moving between two
  expressions: 0 happy 8, 1 surprise 70, 2 anger 99, 3 fear 117, 4 disgust 145, 5 contempt 170, 6 sad 208,
  7 bored 242, 8 sleepy 272, 9 relaxed 318 (degrees; the last three from Russell 1980's "bored", "sleepy" and
  "relaxed"). The ``expression`` field holds the class; no valence/arousal fields.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tfgan_emotion.data import labels as L
from tfgan_emotion.data.synthetic.renderer import _check_size, _render, sample_nuisance

# ----------------------------------------------------------------------------------------------------------------
# Stand-ins for the real datasets (module docstring; DESIGN "Contracts"; SPECS "Dataset formats")
# ----------------------------------------------------------------------------------------------------------------
SPLITS = ("train", "val", "test")
# Identity ids of each split live in disjoint ranges: validation and test faces are people never seen in training.
_SPLIT_ID_BASE = {"train": 0, "val": 1_000_000, "test": 2_000_000}
AFFWILD2_FRAMES = 64

# Ten expression prototypes of the 10-class stand-ins (module docstring).
PROTOTYPES_10 = (("happy", 8.0), ("surprise", 70.0), ("anger", 99.0), ("fear", 117.0), ("disgust", 145.0),
                 ("contempt", 170.0), ("sad", 208.0), ("bored", 242.0), ("sleepy", 272.0), ("relaxed", 318.0))



@dataclass(frozen=True)
class StandIn:
    """One built-in stand-in: its label vocabulary (a key of ``labels.VOCABULARIES``), default image size and
    channels, the fields of its examples, default example counts and identity counts per split, and an honest
    description of what it imitates and what it does not."""

    kind: str
    vocabulary: str
    size: int
    channels: int
    fields: tuple[str, ...]
    n: dict = field(default_factory=dict)
    identities: dict = field(default_factory=dict)
    description: str = ""


STANDINS = {
    "affectnet": StandIn(
        "affectnet", "affectnet", 96, 3, ("image", "expression", "valence", "arousal", "identity"),
        n=dict(train=4000, val=500, test=500), identities=dict(train=400, val=50, test=50),
        description="AffectNet-like: 8 emotion classes (AffectNet order) binned from valence/arousal, classes "
                    "balanced, 96x96 RGB. Not in-the-wild photos; no none/uncertain/no-face classes, no landmarks."),
    "fer2013": StandIn(
        "fer2013", "fer2013", 48, 1, ("image", "expression", "identity"),
        n=dict(train=4000, val=500, test=500), identities=dict(train=400, val=50, test=50),
        description="fer2013-like: 7 classes in fer2013 order, 48x48 grey, classes balanced. No valence/arousal "
                    "(fer2013 has none); not real low-resolution web faces."),
    "ferg": StandIn(
        "ferg", "ferg", 128, 3, ("image", "expression", "identity", "character"),
        n=dict(train=504, val=126, test=126), identities=dict(train=6, val=6, test=6),
        description="FERG-like: the six characters (labels.FERG_CHARACTERS) as flat outlined cartoon styles x 7 "
                    "FERG expressions at high intensity, 128x128 RGB; every split has all six characters (FERG-DB "
                    "has only six), different images. Not FERG-DB's 3D renders."),
    "faces": StandIn(
        "faces", "faces", 256, 3, ("image", "expression", "identity"),
        n=dict(train=1764, val=144, test=144), identities=dict(train=147, val=12, test=12),
        description="FACES-like: every identity poses the 6 FACES emotions twice (sets a and b) at high intensity "
                    "on a uniform grey background in the same grey shirt, 256x256 RGB (171 identities x 12 = "
                    "2,052 images over the three splits, as in FACES). Not photographs; no age or gender groups."),
    "affwild2": StandIn(
        "affwild2", "affwild2", 112, 3, ("image", "expression", "valence", "arousal", "identity", "video", "frame"),
        n=dict(train=24 * AFFWILD2_FRAMES, val=4 * AFFWILD2_FRAMES, test=4 * AFFWILD2_FRAMES),
        identities=dict(train=24, val=4, test=4),
        description=f"Aff-Wild2-like: videos of {AFFWILD2_FRAMES} frames (one identity each), 112x112 RGB, valence/"
                    "arousal and head pose drifting smoothly, per-frame expression binned from valence/arousal with "
                    "runs of -1 (ignore) frames. Not real videos; 'Other' never occurs; no VA ignore (-5) values."),
    "fashion_mnist": StandIn(
        "fashion_mnist", "fashion_mnist", 28, 1, ("image", "expression", "identity"),
        n=dict(train=6000, val=1000, test=1000), identities=dict(train=600, val=100, test=100),
        description="Fashion-MNIST-sized stand-in (28x28 grey, 10 classes) whose classes are the 10 expression "
                    "prototypes PROTOTYPES_10, NOT clothes: label interpolation moves between expressions."),
    "cifar10": StandIn(
        "cifar10", "cifar10", 32, 3, ("image", "expression", "identity"),
        n=dict(train=6000, val=1000, test=1000), identities=dict(train=600, val=100, test=100),
        description="CIFAR-10-sized stand-in (32x32 RGB, 10 classes) whose classes are the 10 expression "
                    "prototypes PROTOTYPES_10, NOT objects: label interpolation moves between expressions."),
}
_KIND_INDEX = {k: i for i, k in enumerate(STANDINS)}


def _standin(kind, split):
    if kind not in STANDINS:
        raise KeyError(f"unknown stand-in {kind!r}; known: {', '.join(STANDINS)}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return STANDINS[kind]


def _balanced_classes(n, n_classes, rng):
    return rng.permutation(np.arange(n) % n_classes)


def _identity_pool(kind, split, n, rng):
    """Identity ids of ``n`` examples drawn evenly from the split's own (held-out) pool."""
    spec = STANDINS[kind]
    return (_SPLIT_ID_BASE[split] + rng.permutation(n) % spec.identities[split]).astype(np.int64)


def _va_for_classes(cls, vocab, rng, intensity, jitter_fraction, neutral_jitter):
    half = L.bin_half_widths(vocab)
    jit = np.array([half.get(int(c), 0.0) for c in cls]) * jitter_fraction
    return L.va_from_category(cls, vocab, intensity, rng, angle_jitter=jit, neutral_jitter=neutral_jitter)


VA_COVERAGE = ("classes", "plane")


def _plan(kind, split, n, seed, va="classes"):
    """Labels and render arguments of every example (everything but the pixels), deterministic in the seed.
    ``va`` (affectnet only): "classes" draws each example's (valence, arousal) around its class's circumplex
    direction, classes balanced; "plane" draws (valence, arousal) uniformly over the square [-1, 1]^2 and bins the
    class from the point (AffectNet's annotated labels cover the plane continuously; the classes are then not
    balanced)."""
    spec = _standin(kind, split)
    if va not in VA_COVERAGE:
        raise ValueError(f"va must be one of {VA_COVERAGE}, got {va!r}")
    if va != "classes" and kind != "affectnet":
        raise ValueError(f"va={va!r} applies to the affectnet stand-in only, not {kind!r}")
    n = spec.n[split] if n is None else int(n)
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, _KIND_INDEX[kind], SPLITS.index(split)])
    style = None
    out = {}
    if kind in ("affectnet", "fer2013"):
        voc = L.vocabulary(spec.vocabulary)
        n_cls = L.AFFECTNET_EMOTIONS if kind == "affectnet" else len(voc)
        cls = _balanced_classes(n, n_cls, rng)
        v, a = _va_for_classes(cls, voc, rng, rng.uniform(0.3, 1.0, n), 0.6, 0.12)
        if va == "plane":
            v, a = (rng.uniform(-1.0, 1.0, n).astype(np.float32) for _ in range(2))
            cls = L.category_from_va(v, a, voc)
        ids = _identity_pool(kind, split, n, rng)
        nz = sample_nuisance(n, rng)
    elif kind in ("fashion_mnist", "cifar10"):
        cls = _balanced_classes(n, len(PROTOTYPES_10), rng)
        theta = np.radians(np.array([d for _, d in PROTOTYPES_10])[cls] + rng.uniform(-3.0, 3.0, n))
        r = rng.uniform(0.85, 1.0, n)
        v, a = (r * np.cos(theta)).astype(np.float32), (r * np.sin(theta)).astype(np.float32)
        ids = _identity_pool(kind, split, n, rng)
        nz = sample_nuisance(n, rng)
    elif kind == "ferg":
        voc = L.FERG
        combo = rng.permutation(np.arange(n) % (len(L.FERG_CHARACTERS) * len(voc)))
        char, cls = combo // len(voc), combo % len(voc)
        v, a = _va_for_classes(cls, voc, rng, rng.uniform(0.7, 1.0, n), 0.5, 0.1)
        ids = char.astype(np.int64)
        style = [L.FERG_CHARACTERS[c] for c in char]
        out["character"] = char
        nz = sample_nuisance(n, rng)
    elif kind == "faces":
        voc = L.FACES
        j = np.arange(n)
        ids = (_SPLIT_ID_BASE[split] + j // (2 * len(voc))).astype(np.int64)
        cls = (j % (2 * len(voc))) // 2
        v, a = _va_for_classes(cls, voc, rng, rng.uniform(0.85, 1.0, n), 0.3, 0.05)
        style = "faces"
        nz = sample_nuisance(n, rng)
        # Studio photographs: no lighting gradient, little pose change (FACES is frontal and evenly lit).
        nz["light"][:] = 0.0
        for k in ("tx", "ty", "rot"):
            nz[k] *= 0.4
    elif kind == "affwild2":
        ids, v, a, cls, nz, video, frame = _affwild2_plan(split, n, rng)
        out["video"], out["frame"] = video, frame
    else:
        raise AssertionError(kind)
    if kind not in ("fashion_mnist", "cifar10", "affwild2"):
        # Categories are binned continuous labels: the class is exactly the bin of the rendered point.
        if not np.array_equal(L.category_from_va(v, a, spec.vocabulary), cls):
            raise RuntimeError(f"{kind}: sampled valence/arousal points left their class bins")
    out["expression"] = cls
    if "valence" in spec.fields:
        out["valence"], out["arousal"] = v, a
    out["identity"] = ids
    labels = {k: (np.asarray(out[k], np.float32) if k in ("valence", "arousal") else np.asarray(out[k], np.int32))
              for k in spec.fields if k != "image"}
    return dict(identity=ids, valence=np.asarray(v, np.float32), arousal=np.asarray(a, np.float32), style=style,
                nuisance=nz, labels=labels, n=n)


def _smooth_path(rng, n_videos, t, n_waves, freq, amp):
    """Sum of low-frequency sinusoids: (n_videos, len(t)); ``freq`` in cycles per video."""
    f = rng.uniform(*freq, size=(n_videos, n_waves, 1))
    ph = rng.uniform(0, 2 * np.pi, size=(n_videos, n_waves, 1))
    am = rng.uniform(0.5, 1.0, size=(n_videos, n_waves, 1)) * amp / n_waves
    return (am * np.sin(2 * np.pi * f * t[None, None, :] + ph)).sum(1)


def _affwild2_plan(split, n, rng):
    t_len = AFFWILD2_FRAMES
    n_videos = -(-n // t_len)
    t = np.arange(t_len) / t_len
    centre = rng.uniform(-0.5, 0.5, size=(n_videos, 2, 1))
    v = centre[:, 0] + _smooth_path(rng, n_videos, t, 3, (0.3, 1.5), 1.2)
    a = centre[:, 1] + _smooth_path(rng, n_videos, t, 3, (0.3, 1.5), 1.2)
    rad = np.hypot(v, a)
    shrink = np.where(rad > 0.95, 0.95 / np.maximum(rad, 1e-9), 1.0)
    v, a = (v * shrink).astype(np.float32), (a * shrink).astype(np.float32)
    cls = L.category_from_va(v, a, L.AFFWILD2)
    # Frames without a usable expression label (-1 in the EXPR files, SPECS "Dataset formats"): 0-2 runs per video.
    for vid in range(n_videos):
        for _ in range(rng.integers(0, 3)):
            start, length = rng.integers(0, t_len - 3), rng.integers(3, 9)
            cls[vid, start:start + length] = -1
    nz = {}
    pose = dict(tx=0.04, ty=0.03, rot=np.radians(5.0), scale=0.04)
    for k, amp in pose.items():
        nz[k] = _smooth_path(rng, n_videos, t, 2, (0.2, 1.0), amp) + (1.0 if k == "scale" else 0.0)
    per_video = sample_nuisance(n_videos, rng)
    for k in ("light_dir", "light", "bright", "contrast", "noise", "blur"):
        nz[k] = np.repeat(per_video[k][:, None], t_len, axis=1)
    ids = (_SPLIT_ID_BASE[split] + np.arange(n_videos)).astype(np.int64)
    video = np.repeat(np.arange(n_videos)[:, None], t_len, axis=1)
    frame = np.repeat(np.arange(t_len)[None, :], n_videos, axis=0)
    flat = lambda x: np.asarray(x).reshape(-1)[:n]
    nz = {k: flat(x).astype(np.float32) for k, x in nz.items()}
    frame_ids = np.repeat(ids[:, None], t_len, axis=1)
    return flat(frame_ids), flat(v), flat(a), flat(cls), nz, flat(video), flat(frame)


def _block_size(size):
    """Images per rendered block of a stand-in; blocks are the unit of determinism of make_arrays/make_dataset."""
    return int(max(8, min(256, 2 ** int(np.log2(max(1, 1_500_000 // (size * size)))))))


def _render_block(plan, block, size, channels, seed, kind, split):
    bs = _block_size(size)
    sl = slice(block * bs, min(plan["n"], (block + 1) * bs))
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, _KIND_INDEX[kind], SPLITS.index(split), 0xB10C, block])
    style = plan["style"]
    if style is not None and not isinstance(style, str):
        style = style[sl]
    nz = {k: v[sl] for k, v in plan["nuisance"].items()}
    return _render(plan["identity"][sl], plan["valence"][sl], plan["arousal"][sl], nz, size, channels, rng, style)


def make_arrays(kind: str, split: str = "train", n: int | None = None, size: int | None = None,
                seed: int = 0, va: str = "classes") -> dict[str, np.ndarray]:
    """A stand-in as numpy arrays: ``image`` float32 [n, size, size, C] in [-1, 1] and the label fields of
    ``STANDINS[kind].fields`` (``expression`` in the vocabulary's class order; ints int32, floats float32).
    ``n`` and ``size`` default to the stand-in's; the same arguments always give the same arrays. ``va``: how the
    affectnet stand-in's (valence, arousal) are drawn, "classes" or "plane" (see :func:`_plan`)."""
    spec = _standin(kind, split)
    size = spec.size if size is None else int(size)
    _check_size(size, spec.channels)
    plan = _plan(kind, split, n, seed, va)
    images = np.empty((plan["n"], size, size, spec.channels), np.float32)
    bs = _block_size(size)
    for b in range(-(-plan["n"] // bs)):
        images[b * bs:(b + 1) * bs] = _render_block(plan, b, size, spec.channels, seed, kind, split)
    return dict(image=images, **plan["labels"])


def make_dataset(kind: str, split: str = "train", n: int | None = None, size: int | None = None, seed: int = 0):
    """A stand-in as a ``tf.data.Dataset`` of dict examples: the same examples as :func:`make_arrays`, in the same
    order, with the pixels rendered lazily block by block as it is iterated."""
    import tensorflow as tf

    spec = _standin(kind, split)
    size = spec.size if size is None else int(size)
    _check_size(size, spec.channels)
    plan = _plan(kind, split, n, seed)
    bs = _block_size(size)
    n_blocks = -(-plan["n"] // bs)

    def render(block):
        return _render_block(plan, int(block), size, spec.channels, seed, kind, split)

    def render_tf(block):
        img = tf.numpy_function(render, [block], tf.float32, stateful=False)
        img.set_shape([None, size, size, spec.channels])
        return img

    images = tf.data.Dataset.range(n_blocks).map(render_tf, num_parallel_calls=tf.data.AUTOTUNE,
                                                 deterministic=True).unbatch()
    labels = tf.data.Dataset.from_tensor_slices(plan["labels"])
    return tf.data.Dataset.zip(images, labels).map(lambda img, lab: dict(image=img, **lab))
