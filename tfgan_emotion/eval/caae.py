"""Evaluation protocol of the CAAE paper (paper 001, Lindt et al. 2019, section IV; SPECS.md "CAAE", "Evaluation").

Quantitative (paper IV.C.1, Tables II-IV)
    Two VGG-style regressors (:func:`build_regressor`, paper Table II), one for valence and one for arousal, are
    trained on the training faces with SGD (lr 1e-3, momentum 0.9) and a mean-absolute-error loss
    (:func:`train_regressors`), from arrays in memory or streamed from disk (:class:`TrainingStream`: the whole
    AffectNet training split); the paper gives no length or batch size, 5 epochs of batch 64 are ours.
    :func:`regressor_table` scores them on held-out faces (Table III analogue).
    :func:`edit_table` then edits every evaluation face to every one of the 49 grid labels (the paper's 220,500
    images = 4,500 faces x 49 labels) and compares the requested labels with what the regressors read from the
    edited images: RMSE, SAGR, CCC and CORR (section IV.A) over all labels and over the four "extreme" corner labels
    (the paper's 18,000 extreme images = 4,500 faces x 4 labels; Table IV analogue), and SAGR over the labels that
    are not 0 (a requested 0 cannot sign-match a real-valued reading: :func:`sagr_zero_labels_note`).

Qualitative (paper IV.C.2, Figs. 2-4)
    :func:`heatmaps` and :func:`save_heatmap_sheet` draw the 7x7 sheet of difference heatmaps of Fig. 2 (paper: 200
    frontal CelebA faces; :func:`evaluate` takes any faces and falls back to the evaluation faces);
    :func:`save_edit_grid` one face under 25 labels (Fig. 3); :func:`save_faces_grid` 25 faces under 25 labels
    (Fig. 4).

Synthetic-only (ours; SPECS "CAAE"): on the built-in synthetic faces the identity of every face is known, so
    :func:`train_identity_classifier` and :func:`identity_preservation` measure how often an edited face is still
    recognised as its input's person - the paper only judges identity preservation by eye (section V.A, Fig. 3).

An *edit function* is ``edit_fn(images, valence, arousal) -> images`` with ``images`` float32 [N, H, W, C] in
[-1, 1] and ``valence``, ``arousal`` float32 [N] (for the CAAE: ``G(E(x), y)``, paper section III.C). Anything
array-like may be returned. Every table is a plain dict of Python floats and ints (JSON-serialisable).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import tensorflow as tf
import keras

from ..data.stream import without_tuning_thread
from ..training import image_grid
from .common import (Progress, _scaled, check_images, class_predictor, figure, index_batches, inference_fn,
                     train_classifier)
from .metrics import frechet_distance, regression_report, sagr_nonzero

# Paper IV.C.2 and the authors' code (SPECS "CAAE", edit grid): valence and arousal each from 0.75 down to -0.75
# in steps of 0.25; the 7 x 7 = 49 labels include the neutral label [0, 0].
GRID_VALUES = (0.75, 0.5, 0.25, 0.0, -0.25, -0.5, -0.75)
# Paper IV.D.1: the "extreme" images are those for very high/low valence AND very high/low arousal; 18,000 of
# 220,500 = 4 of 49 labels per face, i.e. the four corners of the grid.
EXTREME_LABELS = ((0.75, 0.75), (0.75, -0.75), (-0.75, 0.75), (-0.75, -0.75))
NEUTRAL_LABEL = (0.0, 0.0)
# Figs. 3 and 4 show 25 labels "in [-1, 1]^2" from high to low valence (rows) and arousal (columns); the paper
# does not list the values, so we take the 5 x 5 grid that spans that range in steps of 0.5.
FIG3_VALUES = (1.0, 0.5, 0.0, -0.5, -1.0)

# Paper IV.C.2: "the first 200 CelebA images that show a frontal face", cut square around their centre.
FIG2_FACES = 200
# Paper IV.C.1 trains the regressors with SGD (lr 1e-3, momentum 0.9) on the MAE but gives neither their training
# length nor their batch size: 5 epochs of batch 64 (ours).
REGRESSOR_EPOCHS = 5
REGRESSOR_BATCH = 64

EditFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
# Faces edited per call of an edit function by Table IV, identity preservation and the Frechet distance.
EDIT_BATCH = 128


def grid_labels() -> list[tuple[float, float]]:
    """The 49 (valence, arousal) labels of paper IV.C.2 in row-major order of Fig. 2: valence from +0.75 (first
    row) to -0.75, arousal from +0.75 (first column) to -0.75; includes the neutral label (0, 0)."""
    return [(v, a) for v in GRID_VALUES for a in GRID_VALUES]


def fig3_labels() -> list[tuple[float, float]]:
    """The 25 labels of Figs. 3 and 4 in row-major order: valence rows 1 .. -1, arousal columns 1 .. -1."""
    return [(v, a) for v in FIG3_VALUES for a in FIG3_VALUES]


# ----------------------------------------------------------------------------------------------------------------
# Helpers: input checks, progress with ETA, batched prediction
# ----------------------------------------------------------------------------------------------------------------
def _va(va, n: int, name: str = "va") -> np.ndarray:
    """(valence, arousal) targets as float32 [n, 2] from an [n, 2] array, a dict with "valence"/"arousal", or a
    pair of length-n vectors."""
    if isinstance(va, dict):
        a = np.stack([np.asarray(va["valence"], np.float32).reshape(-1),
                      np.asarray(va["arousal"], np.float32).reshape(-1)], axis=1)
    elif isinstance(va, (tuple, list)) and len(va) == 2 and np.ndim(va[0]) == 1 and np.size(va[0]) == n:
        a = np.stack([np.asarray(va[0], np.float32), np.asarray(va[1], np.float32)], axis=1)
    else:
        a = np.asarray(va, np.float32)
    if a.shape != (n, 2):
        raise ValueError(f"{name} must be [{n}, 2] (valence, arousal) for {n} images, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains a non-finite value")
    return a


def _labels(labels) -> list[tuple[float, float]]:
    out = [(float(v), float(a)) for v, a in labels]
    if not out:
        raise ValueError("labels is empty")
    return out


def _scalar_predictor(reg) -> Callable[[np.ndarray], np.ndarray]:
    """images -> float64 [N]. A Keras model runs in inference mode (dropout off) inside one ``tf.function``; any
    other callable (an oracle in tests, a wrapped external model) is called as it is."""
    if isinstance(reg, keras.Model):
        fn = inference_fn(reg)
        return lambda x: fn(tf.convert_to_tensor(x, tf.float32)).numpy().reshape(-1).astype(np.float64)
    return lambda x: np.asarray(reg(x), dtype=np.float64).reshape(-1)


def _regressor_pair(regressors) -> tuple[Callable, Callable]:
    missing = {"valence", "arousal"} - set(regressors)
    if missing:
        raise ValueError(f"regressors needs the keys 'valence' and 'arousal'; missing {sorted(missing)}")
    return _scalar_predictor(regressors["valence"]), _scalar_predictor(regressors["arousal"])


def _predict_batched(fn, images: np.ndarray, batch_size: int) -> np.ndarray:
    return np.concatenate([fn(images[s:s + batch_size]) for s in range(0, len(images), batch_size)])


def _edit(edit_fn: EditFn, faces: np.ndarray, v: float, a: float) -> np.ndarray:
    n = len(faces)
    out = np.asarray(edit_fn(faces, np.full(n, v, np.float32), np.full(n, a, np.float32)), dtype=np.float32)
    if out.shape[0] != n or out.ndim != 4:
        raise ValueError(f"edit_fn returned shape {out.shape} for {n} input faces; expected [N, H, W, C]")
    return out


def _edit_pass(edit_fn: EditFn, faces: np.ndarray, labels: list, batch_size: int, sinks: list, what: str,
               log: Callable[[str], None] | None) -> None:
    """Edit every face to every label exactly once and hand each edited batch to every sink.

    Several measurements read the same edits (Table IV and the Fig. 2 heatmaps edit the evaluation faces to the
    same 49 labels; identity preservation and the Frechet distance the probe faces), so they share one pass instead
    of editing again. Faces go in batches of ``batch_size``; within a batch the neutral label comes first when it
    is requested (the heatmaps compare every edit with it), then the others in order. A sink has
    ``start(s, batch)`` (a new batch of faces from row ``s``) and ``add(s, j, edited)`` (``batch`` edited to
    ``labels[j]``); only one edited batch exists at a time unless a sink keeps it."""
    bs = int(batch_size)
    if bs < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    order = list(range(len(labels)))
    if NEUTRAL_LABEL in labels:
        first = labels.index(NEUTRAL_LABEL)
        order = [first] + [j for j in order if j != first]
    progress = Progress(what, len(faces) * len(labels), "images", log)
    done = 0
    for s in range(0, len(faces), bs):
        batch = faces[s:s + bs]
        for sink in sinks:
            sink.start(s, batch)
        for j in order:
            edited = _edit(edit_fn, batch, *labels[j])
            for sink in sinks:
                sink.add(s, j, edited)
            done += len(batch)
            progress.update(done)


class _ReadBack:
    """Table IV: the regressors' readings of every edit, ``read[label, face, (valence, arousal)]``."""

    def __init__(self, regressors: dict, n_faces: int, n_labels: int):
        self.pv, self.pa = _regressor_pair(regressors)
        self.read = np.empty((n_labels, n_faces, 2), np.float64)

    def start(self, s, batch):
        pass

    def add(self, s, j, edited):
        self.read[j, s:s + len(edited), 0] = self.pv(edited)
        self.read[j, s:s + len(edited), 1] = self.pa(edited)


class _HeatmapSums:
    """Fig. 2: per grid cell, the sum over the first ``n_faces`` faces of the per-pixel max channel difference
    between the edit and the neutral edit of the same face."""

    def __init__(self, labels: list, n_faces: int, size: tuple[int, int]):
        if NEUTRAL_LABEL not in labels:
            raise ValueError("the Fig. 2 heatmaps need the neutral label (0, 0) among the labels")
        index = {v: i for i, v in enumerate(GRID_VALUES)}
        self.cells = [(index.get(v), index.get(a)) for v, a in labels]
        self.labels, self.n = labels, int(n_faces)
        self.acc = np.zeros((len(GRID_VALUES), len(GRID_VALUES)) + tuple(size), np.float64)
        self.neutral = None

    def start(self, s, batch):
        self.neutral = None

    def add(self, s, j, edited):
        keep = max(0, min(len(edited), self.n - s))
        if not keep:
            return
        if self.labels[j] == NEUTRAL_LABEL:
            self.neutral = edited[:keep]
            return
        if edited.shape[1:] != self.neutral.shape[1:]:
            raise ValueError(f"edit_fn returned {edited.shape} for label {self.labels[j]} but "
                             f"{self.neutral.shape} for the neutral label")
        i, k = self.cells[j]
        if i is not None and k is not None:
            self.acc[i, k] += np.abs(edited[:keep] - self.neutral).max(axis=-1).sum(axis=0)

    def result(self, normalise: str) -> np.ndarray:
        acc = self.acc
        if normalise == "none":
            return (acc / (2.0 * self.n)).astype(np.float32)
        if normalise == "label":
            peak = acc.max(axis=(2, 3), keepdims=True)
            return np.where(peak > 0, acc / np.where(peak > 0, peak, 1.0), 0.0).astype(np.float32)
        peak = acc.max()
        return (acc / peak if peak > 0 else acc).astype(np.float32)


class _IdentityHits:
    """Identity preservation: per label, how many edits the classifier still names as their input's person."""

    def __init__(self, classifier, identities, n_faces: int, n_labels: int):
        ids = np.asarray(identities).reshape(-1).astype(np.int64)
        if len(ids) != n_faces:
            raise ValueError(f"identities has {len(ids)} entries for {n_faces} faces")
        self.predict, self.ids = class_predictor(classifier), ids
        self.hits = np.zeros(n_labels, np.int64)
        self.unedited = 0

    def start(self, s, batch):
        self.unedited += int(np.sum(self.predict(batch) == self.ids[s:s + len(batch)]))

    def add(self, s, j, edited):
        self.hits[j] += int(np.sum(self.predict(edited) == self.ids[s:s + len(edited)]))


class _KeepEdits:
    """Every edited image (the Frechet distance reads them all at once), in face-batch then label order."""

    def __init__(self):
        self.edited = {}

    def start(self, s, batch):
        pass

    def add(self, s, j, edited):
        self.edited[(s, j)] = edited

    def images(self) -> np.ndarray:
        return np.concatenate([self.edited[k] for k in sorted(self.edited)])


# ----------------------------------------------------------------------------------------------------------------
# Paper Table II: the valence / arousal regressors
# ----------------------------------------------------------------------------------------------------------------
# (kind, width): "conv" 3x3 stride 1, "pool" 2x2 stride 2, "fc" dense, "drop" dropout 0.5 (paper Table II).
TABLE_II = (("conv", 64), ("pool", None), ("conv", 128), ("pool", None), ("conv", 256), ("conv", 256),
            ("pool", None), ("conv", 512), ("conv", 512), ("pool", None), ("fc", 4096), ("drop", 0.5),
            ("fc", 2622), ("drop", 0.5), ("fc", 2622), ("drop", 0.5), ("fc", 1))


def build_regressor(image_size: int = 96, channels: int = 3, width: float = 1.0, name: str = "regressor",
                    seed: int | None = None) -> keras.Model:
    """One valence or arousal regressor, paper 001 Table II (section IV.C.1), as a functional Keras model.

    conv3x3/1 64 - maxpool 2x2/2 - conv 128 - pool - conv 256 - conv 256 - pool - conv 512 - conv 512 - pool -
    FC 4096 - dropout .5 - FC 2622 - dropout .5 - FC 2622 - dropout .5 - FC 1.

    Choices where Table II is silent (documented, not the paper's words):
    - activations: ReLU after every convolution and hidden FC layer, as in VGG-16, on which the network the paper
      follows (its reference [19]) is based (section IV.C.1);
    - padding "same" (VGG's 1-pixel padding of 3x3 convolutions), so a 96x96 input reaches 6x6x512 before FC;
    - output: the paper says each network "outputs a value in [-1, 1]", so the FC 1 unit is followed by tanh;
    - initialisation (not given): He-uniform for the ReLU layers; the FC 1 layer with 1% of the fan-in variance so
      that tanh starts unsaturated (with a Glorot-sized output layer our synthetic runs stalled at the start).

    ``width`` scales every convolution and hidden FC width (``round(n * width)``, at least 1); 1.0 is the paper's
    network, smaller widths are for CPU runs on synthetic faces. The last FC layer and the tanh run in float32 so the
    output is float32 under mixed precision policies. ``seed`` makes the initial weights and dropout masks
    deterministic without touching the global random state.
    """
    if width <= 0:
        raise ValueError(f"width must be positive, got {width}")
    if image_size < 16:
        raise ValueError(f"image_size must be at least 16 (four 2x2 poolings), got {image_size}")
    L = keras.layers
    seeds = iter(range(0 if seed is None else int(seed) * 100, 10 ** 9))

    def init():
        return keras.initializers.HeUniform(seed=None if seed is None else next(seeds))

    x = inputs = keras.Input((image_size, image_size, channels), name="image")
    conv_i = pool_i = fc_i = drop_i = 0
    for kind, arg in TABLE_II:
        if kind == "conv":
            conv_i += 1
            x = L.Conv2D(_scaled(arg, width), 3, strides=1, padding="same", activation="relu",
                         kernel_initializer=init(), name=f"conv{conv_i}")(x)
        elif kind == "pool":
            pool_i += 1
            x = L.MaxPooling2D(pool_size=2, strides=2, name=f"pool{pool_i}")(x)
        elif kind == "drop":
            drop_i += 1
            x = L.Dropout(arg, seed=None if seed is None else next(seeds), name=f"dropout{drop_i}")(x)
        elif arg != 1:
            if fc_i == 0:
                x = L.Flatten(name="flatten")(x)
            fc_i += 1
            x = L.Dense(_scaled(arg, width), activation="relu", kernel_initializer=init(), name=f"fc{fc_i}")(x)
        else:
            fc_i += 1
            # A small output initialisation keeps tanh out of saturation at the start: hidden ReLU activations are
            # positive, so a He/Glorot-sized last layer starts at |pre-activation| >> 1 with vanishing gradients.
            x = L.Dense(1, kernel_initializer=keras.initializers.VarianceScaling(
                0.01, seed=None if seed is None else next(seeds)), dtype="float32", name=f"fc{fc_i}")(x)
            x = L.Activation("tanh", dtype="float32", name="output")(x)
    return keras.Model(inputs, x, name=name)


def _sgd(lr: float, momentum: float, name: str):
    opt = keras.optimizers.SGD(learning_rate=lr, momentum=momentum, name=name)
    if keras.mixed_precision.global_policy().name == "mixed_float16":
        opt = keras.optimizers.LossScaleOptimizer(opt, name=f"{name}_loss_scale")
    return opt


def stream_batches(stream: tf.data.Dataset, batch_size: int) -> tf.data.Dataset:
    """Endless batches ``(images [B, H, W, C], va [B, 2])`` from an unbatched stream of dicts with ``image``,
    ``valence`` and ``arousal`` (e.g. a dataset reader's training split, decoded from disk as it is read; other keys
    are ignored). The stream is repeated; its own order (a reader's per-epoch file shuffle) is kept."""
    spec = stream.element_spec
    if not isinstance(spec, dict) or not {"image", "valence", "arousal"} <= set(spec):
        raise ValueError("the regressors' training stream must yield dicts with 'image', 'valence' and 'arousal'")

    def pair(e):
        return (tf.cast(e["image"], tf.float32),
                tf.stack([tf.cast(e["valence"], tf.float32), tf.cast(e["arousal"], tf.float32)]))

    return without_tuning_thread(stream.map(pair, num_parallel_calls=tf.data.AUTOTUNE).repeat()
                                 .batch(int(batch_size), drop_remainder=True).prefetch(tf.data.AUTOTUNE))


def train_regressors(train_images, train_va, steps: int, batch_size: int = 64, width: float = 1.0,
                     lr: float = 1e-3, momentum: float = 0.9, seed: int = 0, val=None,
                     log: Callable[[str], None] | None = print) -> dict:
    """Train the two regressors of paper IV.C.1 (Table II) and return ``{"valence": model, "arousal": model}``.

    Both networks have the same architecture (:func:`build_regressor`) and are trained separately - their own
    weights and optimizer - but in one loop on the same batches, with SGD (learning rate ``lr`` = 1e-3, momentum
    0.9) on the mean absolute error (paper IV.C.1). ``train_images`` is either float32 [N, H, W, C] in [-1, 1] held
    in memory, with ``train_va`` [N, 2] (valence, arousal) or a dict with those keys (shuffled batches drawn from
    the arrays), or an unbatched ``tf.data.Dataset`` of dicts with ``image``, ``valence`` and ``arousal`` with
    ``train_va`` None: a stream read from disk as training goes (:func:`stream_batches`), so the training set need
    not fit in memory. ``val`` = (images, va) or None: when given, :func:`regressor_table` on it is logged at the
    end (paper Table III). ``log`` (None = silent) receives progress lines with the running MAE, speed and ETA.
    """
    steps = int(steps)
    if steps < 1:
        raise ValueError(f"steps must be positive, got {steps}")
    if isinstance(train_images, tf.data.Dataset):
        if train_va is not None:
            raise ValueError("train_va must be None for a stream: the stream's dicts carry valence and arousal")
        ds = stream_batches(train_images, batch_size)
        shape = ds.element_spec[0].shape
        if shape.rank != 4 or None in shape.as_list()[1:]:
            raise ValueError(f"the stream's images need a static shape [H, W, C], got {shape[1:]}")
        h, w, c = shape.as_list()[1:]
        source = "faces streamed from disk"
    else:
        images = check_images(train_images, "train_images")
        va = _va(train_va, len(images), "train_va")
        _, h, w, c = images.shape
        ds = index_batches(len(images), int(batch_size), seed, (images, va))
        source = f"{len(images)} faces in memory"
    if h != w:
        raise ValueError(f"train_images must be square, got {h}x{w}")
    nets = {k: build_regressor(h, c, width, name=f"{k}_regressor", seed=seed + i)
            for i, k in enumerate(("valence", "arousal"))}
    opts = {k: _sgd(lr, momentum, f"{k}_sgd") for k in nets}
    for k in nets:
        opts[k].build(nets[k].trainable_variables)

    @tf.function
    def train_step(x, y):
        losses = []
        with tf.GradientTape(persistent=True) as tape:
            for i, k in enumerate(("valence", "arousal")):
                pred = tf.cast(nets[k](x, training=True)[:, 0], tf.float32)
                loss = tf.reduce_mean(tf.abs(pred - y[:, i]))  # MAE, paper IV.C.1
                losses.append((k, loss, opts[k].scale_loss(loss)))
        for k, _, scaled in losses:
            grads = tape.gradient(scaled, nets[k].trainable_variables)
            opts[k].apply(grads, nets[k].trainable_variables)
        del tape
        return tf.stack([loss for _, loss, _ in losses])

    if log is not None:
        log(f"regressors (paper Table II, width {width}): {source}, {h}x{w}x{c}, {steps} steps of batch "
            f"{batch_size}, SGD lr {lr} momentum {momentum}, MAE loss; "
            f"{nets['valence'].count_params():,} parameters each")
    progress = Progress("regressors", steps, "steps", log)
    window = []
    for step, (x, y) in enumerate(ds.take(steps), start=1):
        window.append(train_step(x, y))
        if progress.due(step):
            mae = tf.reduce_mean(tf.stack(window), axis=0).numpy()
            window = []
            progress.update(step, f"  MAE valence {mae[0]:.3f} arousal {mae[1]:.3f}")
    if val is not None and log is not None:
        v_images = check_images(val[0], "val images")
        table = regressor_table(nets, v_images, _va(val[1], len(v_images), "val va"))
        for k, row in table.items():
            log(f"regressors, held-out {k}: " + " ".join(f"{m.upper()} {row[m]:.3f}" for m in row))
    return nets


def regressor_table(regressors: dict, images, va, batch_size: int = 256) -> dict:
    """Paper Table III analogue: RMSE, SAGR, CCC (and CORR) of each regressor on labelled held-out faces.

    ``regressors`` = {"valence": model_or_callable, "arousal": ...} (a callable maps images to [N] or [N, 1]);
    ``va`` [N, 2] (valence, arousal) or a dict. Returns {"valence": {"rmse", "corr", "sagr", "ccc"}, "arousal": ...}.
    """
    images = check_images(images)
    va = _va(va, len(images))
    pv, pa = _regressor_pair(regressors)
    return {"valence": regression_report(va[:, 0], _predict_batched(pv, images, batch_size)),
            "arousal": regression_report(va[:, 1], _predict_batched(pa, images, batch_size))}


# ----------------------------------------------------------------------------------------------------------------
# Paper Table IV: edited faces read back by the regressors
# ----------------------------------------------------------------------------------------------------------------
def sagr_zero_labels_note(labels=None) -> str:
    """How the requested labels of value 0 count in Table IV's SAGR, with the ceiling they put on SAGR "all"
    (the report shows it beside the table)."""
    labels = grid_labels() if labels is None else _labels(labels)
    nl = len(labels)
    zeros = [sum(1 for lab in labels if lab[i] == 0.0) for i in range(2)]
    caps = ", ".join(f"{dim} {nl - z}/{nl} = {(nl - z) / nl:.3f}" for dim, z in zip(("valence", "arousal"), zeros))
    return (f"SAGR takes sign(0) = 0 as its own sign (paper IV.A.3 read literally): a requested 0 agrees only with a "
            f"reading of exactly 0, which a real-valued regressor practically never gives. {zeros[0]} of the {nl} "
            f"labels request valence 0 and {zeros[1]} arousal 0, so SAGR over all labels is at most {caps} even "
            "when every other sign agrees; sagr_nonzero is SAGR over the labels whose requested value is not 0 in "
            "that dimension.")


def edit_table(edit_fn: EditFn, faces, regressors: dict, batch_size: int = EDIT_BATCH, labels=None,
               log: Callable[[str], None] | None = print) -> dict:
    """Paper Table IV analogue (section IV.C.1 / IV.D.1): edit every face to every label, read the labels back.

    Each face of ``faces`` [N, H, W, C] is edited to each of the 49 labels of :func:`grid_labels` (or ``labels``);
    the regressors estimate valence and arousal of every edited image, and RMSE, SAGR, CCC and CORR compare the
    requested with the estimated values, once over all N x 49 images and once over the N x 4 images edited to the
    :data:`EXTREME_LABELS` (the paper: 220,500 images of which 18,000 extreme, from 4,500 faces). Faces are
    streamed in batches of ``batch_size``, so only one batch of edited images is held at a time.

    Each dimension's row holds ``rmse``, ``corr``, ``sagr`` (over all labels, as the paper defines it) and
    ``sagr_nonzero`` (over the labels whose requested value in that dimension is not 0:
    :func:`metrics.sagr_nonzero`). A requested 0 practically never sign-matches a regressor's reading, so on the
    7x7 grid SAGR "all" is at most 42/49 per dimension; ``sagr_zero_labels`` says so in words for the report.

    Returns {"all": {"valence": {...}, "arousal": {...}}, "extreme": {...} (None when no extreme label was
    requested), "sagr_zero_labels", "n_images", "n_extreme", "n_faces", "n_labels", "per_label": [{"valence",
    "arousal", "mean_valence", "mean_arousal"}]} where ``mean_*`` are the regressors' mean readings per requested
    label.
    """
    faces = check_images(faces, "faces")
    labels = grid_labels() if labels is None else _labels(labels)
    reader = _ReadBack(regressors, len(faces), len(labels))
    if log is not None:
        log(f"edit table (paper Table IV): {len(faces)} faces x {len(labels)} labels = "
            f"{len(faces) * len(labels)} edited images")
    _edit_pass(edit_fn, faces, labels, batch_size, [reader], "edit table", log)
    return _edit_table_result(reader.read, labels)


def _edit_table_result(read: np.ndarray, labels: list) -> dict:
    """The Table IV dict of :func:`edit_table` from the readings ``read[label, face, (valence, arousal)]``."""
    nl, n = read.shape[:2]
    req = np.broadcast_to(np.asarray(labels, np.float64)[:, None, :], read.shape)
    extreme = np.array([lab in EXTREME_LABELS for lab in labels])

    def table(mask):
        r, q = req[mask].reshape(-1, 2), read[mask].reshape(-1, 2)
        return {dim: {**regression_report(r[:, i], q[:, i]), "sagr_nonzero": sagr_nonzero(r[:, i], q[:, i])}
                for i, dim in enumerate(("valence", "arousal"))}

    return {"all": table(np.ones(nl, bool)), "extreme": table(extreme) if extreme.any() else None,
            "sagr_zero_labels": sagr_zero_labels_note(labels),
            "n_images": int(n * nl), "n_extreme": int(n * extreme.sum()), "n_faces": int(n), "n_labels": int(nl),
            "per_label": [{"valence": v, "arousal": a, "mean_valence": float(read[j, :, 0].mean()),
                           "mean_arousal": float(read[j, :, 1].mean())} for j, (v, a) in enumerate(labels)]}


# ----------------------------------------------------------------------------------------------------------------
# Paper Fig. 2: difference heatmaps against the neutral edit
# ----------------------------------------------------------------------------------------------------------------
def heatmaps(edit_fn: EditFn, faces, batch_size: int = 64, normalise: str = "global",
             log: Callable[[str], None] | None = print) -> np.ndarray:
    """The 7x7 overall heatmaps of paper IV.C.2 / Fig. 2 as float32 [7, 7, H, W].

    Every face is edited to the neutral label [0, 0] and to each of the 48 other grid labels (the paper compares
    with the neutral edit, not with the input). For each label the heatmap of one face is, per pixel, the max over
    the colour channels of |edit(label) - edit([0, 0])|; heatmaps are summed over all faces. ``maps[i, j]`` is the
    label (GRID_VALUES[i], GRID_VALUES[j]) = (valence, arousal): valence from +0.75 (row 0) down, arousal from +0.75
    (column 0) to -0.75, as Fig. 2 is laid out. The neutral cell is zero.

    Normalisation (the paper only says "normalize the outcome"): ``"global"`` (default) divides all 48 sums by
    their common maximum, so the brightest pixel of the sheet is 1 and the cells stay comparable - weak labels
    near neutral stay darker than extreme ones, as in Fig. 2. ``"label"`` divides each cell by its own maximum
    (shows where each label acts, hides how much); ``"none"`` returns the mean over faces of the per-pixel max
    channel difference in units of the [0, 1] intensity range (difference of [-1, 1] images / 2). An all-zero
    result (an edit that ignores the label) stays zero.
    """
    if normalise not in ("global", "label", "none"):
        raise ValueError(f"normalise must be 'global', 'label' or 'none', got {normalise!r}")
    faces = check_images(faces, "faces")
    labels = grid_labels()
    sums = _HeatmapSums(labels, len(faces), faces.shape[1:3])
    _edit_pass(edit_fn, faces, labels, batch_size, [sums], "heatmaps", log)
    return sums.result(normalise)


def save_heatmap_sheet(maps, path, title: str | None = None) -> Path:
    """Save the 7x7 heatmap sheet of paper Fig. 2 as a PNG (``maps`` from :func:`heatmaps`).

    Rows: valence from +0.75 (top) to -0.75; columns: arousal from +0.75 (left) to -0.75, as in Fig. 2. Grey scale
    from 0 (black) to the sheet's maximum (white), one colour bar for all cells; the neutral cell [0, 0] is the
    reference and is marked as such.
    """
    maps = np.asarray(maps, np.float32)
    nv = len(GRID_VALUES)
    if maps.ndim != 4 or maps.shape[:2] != (nv, nv):
        raise ValueError(f"maps must be [{nv}, {nv}, H, W], got shape {maps.shape}")
    vmax = float(maps.max()) if maps.max() > 0 else 1.0
    fig = figure((1.45 * nv + 1.0, 1.45 * nv + 0.6))
    axes = fig.subplots(nv, nv)
    im = None
    for i, v in enumerate(GRID_VALUES):
        for j, a in enumerate(GRID_VALUES):
            ax = axes[i, j]
            im = ax.imshow(maps[i, j], cmap="gray", vmin=0.0, vmax=vmax, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if (v, a) == NEUTRAL_LABEL:
                ax.text(0.5, 0.5, "[0, 0]\nneutral\nreference", color="white", ha="center", va="center",
                        fontsize=7, transform=ax.transAxes)
            if i == 0:
                ax.set_title(f"arousal {a:+.2f}", fontsize=8)
            if j == 0:
                ax.set_ylabel(f"valence {v:+.2f}", fontsize=8)
    fig.supxlabel("arousal: high (left) to low (right)")
    fig.supylabel("valence: high (top) to low (bottom)")
    fig.suptitle(title or "Difference to the neutral edit [0, 0], summed over faces (paper Fig. 2)")
    fig.colorbar(im, ax=axes, shrink=0.5, label="normalised difference")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


# ----------------------------------------------------------------------------------------------------------------
# Paper Figs. 3 and 4: edit grids
# ----------------------------------------------------------------------------------------------------------------
def _show_grid(ax, faces: np.ndarray, ncol: int, pad: int = 2):
    grid = image_grid(faces, ncol=ncol, pad=pad)
    ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
    return grid


def _grid_ticks(ax, h: int, w: int, values, pad: int = 2) -> None:
    centres_x = [pad + j * (w + pad) + w / 2 for j in range(len(values))]
    centres_y = [pad + i * (h + pad) + h / 2 for i in range(len(values))]
    ax.set_xticks(centres_x, [f"{a:+.1f}" for a in values], fontsize=8)
    ax.set_yticks(centres_y, [f"{v:+.1f}" for v in values], fontsize=8)
    ax.set_xlabel("arousal: high (left) to low (right)")
    ax.set_ylabel("valence: high (top) to low (bottom)")
    ax.tick_params(length=0)


def save_edit_grid(edit_fn: EditFn, face, path, values=FIG3_VALUES) -> Path:
    """Paper Fig. 3 analogue: one input face (top) and its edits to the 5x5 labels (valence, arousal) from
    ``values`` (default :data:`FIG3_VALUES`, 1 .. -1 in steps of 0.5: the paper's caption gives 25 labels in
    [-1, 1]^2 without their values), valence from high (top row) to low, arousal from high (left) to low."""
    face = np.asarray(face, np.float32)
    if face.ndim == 3:
        face = face[None]
    face = check_images(face, "face")[:1]
    labels = [(v, a) for v in values for a in values]
    batch = np.repeat(face, len(labels), axis=0)
    lab = np.asarray(labels, np.float32)
    edited = np.asarray(edit_fn(batch, lab[:, 0], lab[:, 1]), np.float32)
    if edited.shape[0] != len(labels):
        raise ValueError(f"edit_fn returned {edited.shape[0]} images for {len(labels)} labels")
    k = len(values)
    fig = figure((1.3 * k + 1.2, 1.3 * (k + 1) + 1.0))
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.2, k])
    ax_in = top.subplots()
    _show_grid(ax_in, face, ncol=1)
    ax_in.set_axis_off()
    ax_in.set_title("input", fontsize=9)
    ax = bottom.subplots()
    _show_grid(ax, edited, ncol=k)
    _grid_ticks(ax, face.shape[1], face.shape[2], values)
    fig.suptitle("One face edited to 25 (valence, arousal) labels (paper Fig. 3)", fontsize=10)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def save_faces_grid(edit_fn: EditFn, faces, labels, path, ncol: int | None = None) -> Path:
    """Paper Fig. 4 analogue: 25 different input faces, each edited to a different one of 25 labels.

    Fig. 4's caption: "images generated ... for 25 different emotion labels and 25 different input images, from high
    arousal (left) to low arousal (right) and from high valence (top) to low valence (bottom)" - one face per label,
    laid out on the label grid. ``labels`` = one (valence, arousal) per face, or None for :func:`fig3_labels`
    (the 5x5 grid, which then needs 25 faces); face k is edited to ``labels[k]`` and drawn in cell k (row-major,
    ``ncol`` columns, default sqrt of the count). The inputs are shown in the same layout beside the edits.
    """
    faces = check_images(faces, "faces")
    default = labels is None
    labels = fig3_labels() if default else _labels(labels)
    if len(labels) != len(faces):
        raise ValueError(f"save_faces_grid needs one label per face: {len(faces)} faces, {len(labels)} labels")
    lab = np.asarray(labels, np.float32)
    edited = np.asarray(edit_fn(faces, lab[:, 0], lab[:, 1]), np.float32)
    if edited.shape[0] != len(faces):
        raise ValueError(f"edit_fn returned {edited.shape[0]} images for {len(faces)} faces")
    ncol = ncol or int(math.ceil(math.sqrt(len(faces))))
    nrow = int(math.ceil(len(faces) / ncol))
    _, h, w, _ = faces.shape
    fig = figure((2 * 1.1 * ncol + 1.5, 1.1 * nrow + 1.2))
    ax_in, ax_out = fig.subplots(1, 2)
    _show_grid(ax_in, faces, ncol)
    ax_in.set_axis_off()
    ax_in.set_title("inputs", fontsize=9)
    _show_grid(ax_out, edited, ncol)
    ax_out.set_title("edited to the label of their cell", fontsize=9)
    if default:
        _grid_ticks(ax_out, h, w, FIG3_VALUES)
    else:
        ax_out.set_xticks([])
        ax_out.set_yticks([])
        for k, (v, a) in enumerate(labels):
            r, q = divmod(k, ncol)
            ax_out.text(2 + q * (w + 2) + 1, 2 + r * (h + 2) + 1, f"{v:+.2f},{a:+.2f}", fontsize=5, va="top",
                        color="yellow", bbox=dict(facecolor="black", alpha=0.5, pad=0.5, linewidth=0))
    fig.suptitle(f"{len(faces)} faces, each edited to one (valence, arousal) label (paper Fig. 4)", fontsize=10)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


# ----------------------------------------------------------------------------------------------------------------
# Synthetic-only: identity preservation (ours)
# ----------------------------------------------------------------------------------------------------------------
def train_identity_classifier(images, identities, steps: int, batch_size: int = 64, width: float = 1.0,
                              lr: float = 1e-3, seed: int = 0,
                              log: Callable[[str], None] | None = print) -> keras.Model:
    """Train a small CNN (:func:`common.train_classifier`) to recognise the synthetic identities of the faces that
    will be edited (ours).

    On synthetic faces the person behind every image is known (``identity`` of ``data.synthetic``), so whether an
    edit keeps the person can be measured instead of judged by eye (paper V.A). It is a closed-set classifier: the
    faces given to :func:`identity_preservation` must show identities it was trained on - use other images
    (other expressions, poses, lighting) of the TRAINING identities, e.g. ``make_arrays(kind, "train", seed=s + 1)``,
    not the validation or test splits, whose identities are held out.
    """
    return train_classifier(images, identities, steps, batch_size=batch_size, width=width, lr=lr, seed=seed,
                            what="identity classifier", log=log)


def identity_preservation(edit_fn: EditFn, faces, identities, classifier, labels=None, batch_size: int = EDIT_BATCH,
                          log: Callable[[str], None] | None = print) -> dict:
    """Share of edited faces still recognised as their input's identity (synthetic faces only; ours).

    Every face is edited to every label (default: the 49 of :func:`grid_labels`) and ``classifier`` (from
    :func:`train_identity_classifier`, or a callable images -> identity ids) names the person in each edit. The
    faces must show identities the classifier knows (see :func:`train_identity_classifier`: other images of the
    training identities). Returns {"share_recognised": over all edits, "share_unedited": the classifier's accuracy
    on the unedited faces (its own error, the ceiling of the edit score), "per_label": [{"valence", "arousal",
    "share"}], "n_images", "n_faces"}.
    """
    faces = check_images(faces, "faces")
    labels = grid_labels() if labels is None else _labels(labels)
    hits = _IdentityHits(classifier, identities, len(faces), len(labels))
    _edit_pass(edit_fn, faces, labels, batch_size, [hits], "identity preservation", log)
    return _identity_result(hits, labels)


def _identity_result(hits: _IdentityHits, labels: list) -> dict:
    n = len(hits.ids)
    return {"share_recognised": float(hits.hits.sum() / (n * len(labels))),
            "share_unedited": float(hits.unedited / n),
            "per_label": [{"valence": v, "arousal": a, "share": float(hits.hits[j] / n)}
                          for j, (v, a) in enumerate(labels)],
            "n_images": int(n * len(labels)), "n_faces": int(n)}


def edit_frechet_distance(edit_fn: EditFn, faces, real_images, classifier, labels=None, batch_size: int = EDIT_BATCH,
                          log: Callable[[str], None] | None = print) -> dict:
    """Frechet distance between the penultimate features (``fc1``) of ``classifier`` (the synthetic identity
    classifier of :func:`train_identity_classifier`) on ``real_images`` and on ``faces`` edited to every label
    (default: the 49 of :func:`grid_labels`); synthetic faces only, ours. Lower is closer: it measures how much the
    edited faces differ from real ones as a network trained on real faces sees them (blur, speckles, broken
    features). ``real_vs_real`` is the distance between the two halves of ``real_images``, the value sampling alone
    gives. Returns {"value", "real_vs_real", "n_real", "n_edited", "features"}."""
    faces = check_images(faces, "faces")
    real = check_images(real_images, "real_images")
    labels = grid_labels() if labels is None else _labels(labels)
    kept = _KeepEdits()
    _edit_pass(edit_fn, faces, labels, batch_size, [kept], "Frechet distance", log)
    return _frechet_result(kept.images(), real, classifier)


def _frechet_result(edited: np.ndarray, real: np.ndarray, classifier) -> dict:
    from .common import classifier_features

    fe = classifier_features(classifier, edited)
    fr = classifier_features(classifier, real)
    half = len(fr) // 2
    return {"value": float(frechet_distance(fr, fe)), "real_vs_real": float(frechet_distance(fr[:half], fr[half:])),
            "n_real": int(len(fr)), "n_edited": int(len(fe)),
            "features": "penultimate layer (fc1) of the synthetic identity classifier"}


@dataclass(frozen=True)
class TrainingStream:
    """The regressors' training data as a stream read from disk as training goes (paper IV.C.1: the regressors are
    trained on the hand-annotated AffectNet images, the whole training split; it does not fit in memory).
    ``dataset``: unbatched dicts with ``image``, ``valence``, ``arousal`` (other keys ignored), finite or endless;
    ``size``: the images in one pass over it (one epoch)."""

    dataset: tf.data.Dataset
    size: int


def regressor_steps(ev: dict, n_images: int) -> int:
    """The regressors' training steps: ``ev["regressor_steps"]`` when set, else :data:`REGRESSOR_EPOCHS` epochs of
    ``n_images`` at batch :data:`REGRESSOR_BATCH` (ours: the paper gives neither)."""
    return int(ev.get("regressor_steps") or max(1, REGRESSOR_EPOCHS * int(n_images) // REGRESSOR_BATCH))


def evaluate(edit_fn: EditFn, held: dict, train, ev: dict, figures_dir, seed: int = 0, identity_probe=None,
             log=print, fig2_faces=None, fig2_source: str = "", fd_real=None) -> dict:
    """Paper 001 section IV on one run: the two Table II regressors trained on ``train`` (Table III on ``held``),
    Table IV (the first ``ev["eval_faces"]`` held-out faces edited to the 49 grid labels), Fig. 2-4 in
    ``figures_dir``; with ``identity_probe`` (synthetic faces of known identity) also identity preservation.

    ``held``: a dict of ``image``, ``valence``, ``arousal`` arrays. ``train``: the same held in memory (and
    ``identity`` for the probe), or a :class:`TrainingStream` (the regressors then stream it from disk, for
    :func:`regressor_steps` steps). ``fd_real``: with ``identity_probe``, real faces against which the probe's edits
    get their Frechet distance (:func:`edit_frechet_distance`). ``fig2_faces``: the faces of the Fig. 2 heatmaps (paper IV.C.2: 200 frontal
    CelebA faces), described by ``fig2_source``; None takes the first :data:`FIG2_FACES` evaluation faces instead.
    How the regressors were trained is recorded beside Table III (``regressor_*``), the Fig. 2 faces under
    ``fig2_heatmaps``. Each face is edited to each label once: Table IV and the Fig. 2 heatmaps drawn from the
    evaluation faces read the same edits, and so do identity preservation and the Frechet distance."""
    figures_dir = Path(figures_dir)

    def va(d):
        return np.stack([d["valence"], d["arousal"]], -1).astype(np.float32)

    streamed = isinstance(train, TrainingStream)
    n_train = train.size if streamed else len(train["image"])
    steps = regressor_steps(ev, n_train)
    log(f"training the two Table II regressors ({steps} steps, width x{ev['regressor_width']}, "
        + (f"streaming {n_train} training faces from disk)" if streamed else f"{n_train} training faces in memory)"))
    if streamed:
        regs = train_regressors(train.dataset, None, steps=steps, batch_size=REGRESSOR_BATCH,
                                width=ev["regressor_width"], lr=ev["regressor_lr"], seed=seed, log=log)
    else:
        regs = train_regressors(train["image"], va(train), steps=steps, batch_size=REGRESSOR_BATCH,
                                width=ev["regressor_width"], lr=ev["regressor_lr"], seed=seed, log=log)
    faces = held["image"][:ev["eval_faces"]]
    metrics = {"table3_regressors": {
        **regressor_table(regs, held["image"], va(held)), "n_faces": int(len(held["image"])),
        "regressor_data": "streamed from disk" if streamed else "held in memory", "regressor_images": int(n_train),
        "regressor_steps": steps, "regressor_epochs": round(steps * REGRESSOR_BATCH / max(1, n_train), 3),
        "regressor_batch_size": REGRESSOR_BATCH, "regressor_optimizer": f"SGD lr {ev['regressor_lr']} momentum 0.9",
        "regressor_loss": "mean absolute error", "regressor_width": ev["regressor_width"]}}
    faces = check_images(faces, "faces")
    labels = grid_labels()
    reader = _ReadBack(regs, len(faces), len(labels))
    sinks = [reader]
    if fig2_faces is None:
        # Fig. 2 from the first evaluation faces: their edits to the grid labels are Table IV's, read once.
        n2, fig2_source = min(FIG2_FACES, len(faces)), fig2_source or "the first evaluation faces"
        sums = _HeatmapSums(labels, n2, faces.shape[1:3])
        sinks.append(sums)
        log(f"editing {len(faces)} held-out faces to the 49 grid labels (Table IV; Fig. 2 heatmaps from the first "
            f"{n2} of them, {fig2_source})")
    else:
        fig2_faces = check_images(fig2_faces, "fig2_faces")
        n2 = len(fig2_faces)
        log(f"editing {len(faces)} held-out faces to the 49 grid labels (Table IV)")
    _edit_pass(edit_fn, faces, labels, EDIT_BATCH, sinks, "edit table", log)
    metrics["table4_edits"] = _edit_table_result(reader.read, labels)
    if fig2_faces is None:
        maps = sums.result("global")
    else:
        log(f"Fig. 2 heatmaps on {n2} faces ({fig2_source})")
        maps = heatmaps(edit_fn, fig2_faces)
    figures_dir.mkdir(parents=True, exist_ok=True)
    save_heatmap_sheet(maps, figures_dir / "fig2_heatmaps.png")
    metrics["fig2_heatmaps"] = {"faces": fig2_source, "n_faces": int(n2), "figure": "fig2_heatmaps.png"}
    save_edit_grid(edit_fn, faces[0], figures_dir / "fig3_edit_grid.png")
    n4 = min(25, len(held["image"]))
    save_faces_grid(edit_fn, held["image"][:n4], fig3_labels()[:n4], figures_dir / "fig4_faces_grid.png")
    if identity_probe is not None:
        log("training the synthetic identity classifier (identity preservation)")
        clf = train_identity_classifier(train["image"], train["identity"], steps=ev["identity_steps"], seed=seed)
        probe = check_images(identity_probe["image"], "identity probe")
        # Identity preservation and the Frechet distance read the same edits of the probe faces: edit them once.
        hits, kept = _IdentityHits(clf, identity_probe["identity"], len(probe), len(labels)), _KeepEdits()
        real = None if fd_real is None else check_images(fd_real, "fd_real")
        _edit_pass(edit_fn, probe, labels, EDIT_BATCH, [hits] + ([kept] if real is not None else []),
                   "identity preservation" + (" and Frechet distance" if real is not None else ""), log)
        metrics["identity_preservation"] = _identity_result(hits, labels)
        if real is not None:
            metrics["frechet_distance"] = _frechet_result(kept.images(), real, clf)
    return metrics
