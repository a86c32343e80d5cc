"""Pieces every paper's evaluation uses: progress lines, batched inference in a ``tf.function``, a small CNN
classifier trained on the training images (expression, identity or character), and image-sheet figures."""
from __future__ import annotations

import functools
from pathlib import Path
import time
import weakref
from typing import Callable

import numpy as np
import tensorflow as tf
import keras

from ..data.stream import without_tuning_thread
from ..runtime import float32_policy  # noqa: F401  (re-exported: the readers build in float32)
from ..training import format_duration, image_grid


class Progress:
    """Logs ``what: done/total (pct) rate ETA`` at every 10% and at least every ``every_s`` seconds."""

    def __init__(self, what: str, total: int, unit: str, log, every_s: float = 30.0):
        self.what, self.total, self.unit, self.log, self.every_s = what, max(1, int(total)), unit, log, every_s
        self.t0 = self.last = time.monotonic()
        self.next_pct = 10

    def due(self, done: int) -> bool:
        """Whether :meth:`update` would log now (lets a training loop fetch its losses only then)."""
        return self.log is not None and (100.0 * done / self.total >= self.next_pct or done >= self.total
                                         or time.monotonic() - self.last >= self.every_s)

    def update(self, done: int, extra: str = "") -> None:
        if not self.due(done):
            return
        now = time.monotonic()
        pct = 100.0 * done / self.total
        while self.next_pct <= pct:
            self.next_pct += 10
        self.last = now
        elapsed = now - self.t0
        rate = done / elapsed if elapsed > 0 else float("inf")
        eta = (self.total - done) / rate if rate > 0 else 0.0
        self.log(f"{self.what}: {done}/{self.total} {self.unit} ({pct:.0f}%) {rate:.1f} {self.unit}/s "
                 f"elapsed {format_duration(elapsed)} ETA {format_duration(eta)}{extra}")


# One inference tf.function per Keras model, reused by every evaluation of that model (a new tf.function per call
# would retrace). The function holds only a weak reference to its model, so an entry goes when its model goes, and
# nothing is attached to the model (its export stays as it is).
_INFERENCE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _call_in_inference_mode(model_ref, *inputs):
    model = model_ref()
    out = model(list(inputs) if len(inputs) > 1 else inputs[0], training=False)
    if isinstance(out, (list, tuple)):
        return [tf.cast(o, tf.float32) for o in out]
    return tf.cast(out, tf.float32)


def inference_fn(model: keras.Model) -> Callable:
    """The model in inference mode (dropout off, BN moving statistics) as one ``tf.function`` traced once for any
    batch size, outputs in float32. A model with several inputs takes them as positional float32 arguments, in the
    order of ``model.inputs``."""
    fn = _INFERENCE.get(model)
    if fn is None:
        ref = weakref.ref(model)
        shapes = model.input_shape if isinstance(model.input_shape, list) else [model.input_shape]
        specs = [tf.TensorSpec((None,) + tuple(shape[1:]), tf.float32) for shape in shapes]
        # A partial (no __code__) gives each model its own retracing statistics in tf.function: one function per
        # model, each traced once, is not the "retracing in a loop" that TensorFlow warns about.
        fn = tf.function(functools.partial(_call_in_inference_mode, ref), input_signature=specs)
        _INFERENCE[model] = fn
    return fn


def warmup_cosine(peak: float, steps: int, warmup: float = 0.1) -> keras.optimizers.schedules.LearningRateSchedule:
    """Linear warm-up from 0 to ``peak`` over the first ``warmup`` share of ``steps``, then cosine decay to 0."""
    steps = max(int(steps), 1)
    w = int(round(steps * warmup))
    return keras.optimizers.schedules.CosineDecay(0.0, max(steps - w, 1), alpha=0.0, warmup_target=float(peak),
                                                  warmup_steps=w)


def describe_lr(lr) -> str:
    if isinstance(lr, keras.optimizers.schedules.CosineDecay):
        return f"lr warm-up to {lr.warmup_target:g} over {lr.warmup_steps} steps, cosine decay to 0"
    return f"lr {lr:g}"


def zero_init_residuals(net: keras.Model) -> int:
    """Set gamma = 0 in the last batch norm of every residual branch of a keras.applications network (the BN named
    like its block's ``*add`` layer with ``project_bn`` / ``project_BN`` (EfficientNet, MobileNetV2) or ``3_bn``
    (ResNet50) in place of ``add``), so each residual block starts as the identity (Goyal et al. 2017,
    "zero-gamma"). Returns how many were set."""
    names = {layer.name: layer for layer in net.layers}
    n = 0
    for layer in net.layers:
        if isinstance(layer, keras.layers.Add) and layer.name.endswith("add"):
            prefix = layer.name[:-len("add")]
            for bn_name in (prefix + "project_bn", prefix + "project_BN", prefix + "3_bn"):
                bn = names.get(bn_name)
                if isinstance(bn, keras.layers.BatchNormalization):
                    bn.gamma.assign(np.zeros(bn.gamma.shape, "float32"))
                    n += 1
    return n


def set_bn_momentum(net: keras.Model, momentum: float) -> None:
    """Batch-norm moving-average momentum (Keras default 0.99 remembers ~100 steps; a reader trained a few hundred
    steps needs its moving statistics to follow the weights)."""
    for layer in net.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = float(momentum)


def index_batches(n: int, batch_size: int, seed: int, arrays: tuple[np.ndarray, ...]) -> tf.data.Dataset:
    """Endless shuffled batches gathered from numpy arrays: shuffling indices (not pixels) keeps memory flat and
    keeps large arrays out of the graph."""
    dtypes = tuple(tf.as_dtype(a.dtype) for a in arrays)

    def gather(idx):
        return tuple(a[idx] for a in arrays)

    def gather_tf(idx):
        out = tf.numpy_function(gather, [idx], dtypes, stateful=False)
        for t, a in zip(out, arrays):
            t.set_shape((batch_size,) + a.shape[1:])
        return out

    ds = tf.data.Dataset.range(n).shuffle(n, seed=seed, reshuffle_each_iteration=True).repeat()
    return without_tuning_thread(ds.batch(batch_size, drop_remainder=True).map(gather_tf).prefetch(tf.data.AUTOTUNE))


def check_images(x, name: str = "images") -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 4:
        raise ValueError(f"{name} must be a batch [N, H, W, C], got shape {x.shape}")
    if len(x) == 0:
        raise ValueError(f"{name} is empty")
    return x


def _scaled(units: int, width: float) -> int:
    return max(1, int(round(units * width)))


def build_classifier(image_size: int, channels: int, n_classes: int, width: float = 1.0, seed: int = 0,
                     name: str = "classifier") -> keras.Model:
    """Small CNN: four 3x3 stride-2 convs (32, 64, 128, 256 x width, ReLU) - flatten - FC 256 ReLU - FC logits."""
    L = keras.layers
    seeds = iter(range(int(seed) * 100, 10 ** 9))
    x = inputs = keras.Input((image_size, image_size, channels), name="image")
    for i, f in enumerate((32, 64, 128, 256), start=1):
        x = L.Conv2D(_scaled(f, width), 3, strides=2, padding="same", activation="relu",
                     kernel_initializer=keras.initializers.GlorotUniform(seed=next(seeds)), name=f"conv{i}")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(_scaled(256, width), activation="relu",
                kernel_initializer=keras.initializers.GlorotUniform(seed=next(seeds)), name="fc1")(x)
    x = L.Dense(n_classes, dtype="float32", kernel_initializer=keras.initializers.GlorotUniform(seed=next(seeds)),
                name="logits")(x)
    return keras.Model(inputs, x, name=name)


def train_classifier(images, labels, steps: int, batch_size: int = 64, width: float = 1.0, lr=1e-3,
                     seed: int = 0, what: str = "classifier",
                     log: Callable[[str], None] | None = print, model: keras.Model | None = None) -> keras.Model:
    """Train :func:`build_classifier` (or ``model``, any image -> logits network) with Adam (``lr``: a number or a
    Keras schedule such as :func:`warmup_cosine`) and softmax cross-entropy on integer ``labels``.

    The model outputs logits; its attribute ``class_ids`` (tuple of ints) maps output k back to the label value
    (labels need not be 0..K-1). ``what`` names it in the progress lines. The training accuracy is logged."""
    images = check_images(images)
    ids = np.asarray(labels).reshape(-1).astype(np.int64)
    if len(ids) != len(images):
        raise ValueError(f"labels has {len(ids)} entries for {len(images)} images")
    steps = int(steps)
    if steps < 1:
        raise ValueError(f"steps must be positive, got {steps}")
    uniq, cls = np.unique(ids, return_inverse=True)
    if len(uniq) < 2:
        raise ValueError(f"{what} needs at least two classes")
    _, h, _, c = images.shape
    if model is None:
        model = build_classifier(h, c, len(uniq), width, seed, name=what.replace(" ", "_"))
    if log is not None:
        log(f"{what}: {len(images)} images of {len(uniq)} classes, {steps} steps of batch {batch_size}, Adam "
            f"{describe_lr(lr)}")

    def cross_entropy(logits, y):
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))

    fit(model, cross_entropy, images, cls.astype(np.int32), steps, batch_size, lr, seed, what, "cross-entropy", log)
    model.class_ids = tuple(int(i) for i in uniq)
    if log is not None:
        acc = float(np.mean(class_predictor(model)(images[:4096]) == ids[:4096]))
        log(f"{what}: accuracy on its training images {acc:.3f}")
    return model


def fit(model, loss_fn, images, targets, steps: int, batch_size: int, lr, seed: int, what: str,
         loss_name: str, log) -> None:
    """Adam on ``loss_fn(float32 outputs, targets)`` over shuffled batches, with progress lines."""
    fit_batches(model, loss_fn, index_batches(len(images), int(batch_size), seed, (images, targets)), steps, lr,
                what, loss_name, log)


# Fewer training steps than this run eagerly: tracing the step costs more than it saves (ResNet-50 at 64x64 on two
# CPU cores: 21 s to trace, then 0.8 s a step, against 4.1-4.5 s a step eagerly; VGG-16: 2.4 s, 1.3 s, 1.8-2.5 s).
EAGER_BELOW_STEPS = 5


def fit_batches(model, loss_fn, batches, steps: int, lr, what: str, loss_name: str, log,
                report_last: bool = False) -> float:
    """Adam(``lr``) on ``loss_fn(float32 outputs, targets)`` over the first ``steps`` ``(x, y)`` batches of the
    dataset ``batches`` (read as it trains), with progress lines (also at the last step with ``report_last``).
    Returns the mean loss of the last reported window (NaN when none was reported)."""
    opt = keras.optimizers.Adam(learning_rate=lr)
    if keras.mixed_precision.global_policy().name == "mixed_float16":
        opt = keras.optimizers.LossScaleOptimizer(opt)
    opt.build(model.trainable_variables)

    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(tf.cast(model(x, training=True), tf.float32), y)
            scaled = opt.scale_loss(loss)
        opt.apply(tape.gradient(scaled, model.trainable_variables), model.trainable_variables)
        return loss

    if int(steps) >= EAGER_BELOW_STEPS:
        train_step = tf.function(train_step)

    progress = Progress(what, steps, "steps", log)
    window, last = [], float("nan")
    for step, (x, y) in enumerate(batches.take(int(steps)), start=1):
        window.append(train_step(x, y))
        if progress.due(step) or (report_last and step == steps):
            last = float(tf.reduce_mean(tf.stack(window)))
            window = []
            progress.update(step, f"  {loss_name} {last:.4g}")
    return last


def class_predictor(classifier) -> Callable[[np.ndarray], np.ndarray]:
    """images -> predicted label values [N]. A Keras model from :func:`train_classifier` (logits plus
    ``class_ids``); any other callable must return the labels itself."""
    if isinstance(classifier, keras.Model):
        ids = np.asarray(getattr(classifier, "class_ids", range(classifier.output_shape[-1])), np.int64)
        fn = inference_fn(classifier)

        def predict(x):
            x = np.asarray(x, np.float32)
            return np.concatenate([ids[np.argmax(fn(tf.convert_to_tensor(x[s:s + 512], tf.float32)).numpy(), -1)]
                                   for s in range(0, len(x), 512)] or [np.zeros(0, np.int64)])
        return predict
    return lambda x: np.asarray(classifier(x)).reshape(-1).astype(np.int64)


def figure(figsize):
    from matplotlib.figure import Figure

    # A bare Figure with the Agg canvas: no pyplot global state (report.py convention).
    return Figure(figsize=figsize, layout="constrained")


def save_figure(fig, path) -> Path:
    """Write ``fig`` (from :func:`figure`) as a PNG at ``path``, creating its folder; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def show_image_rows(fig, rows: np.ndarray, col_titles=None, row_titles=None, title: str | None = None, pad: int = 2):
    """Draw ``rows`` [R, C, H, W, ch] (values in [-1, 1]) as one picture on ``fig`` (a Figure or SubFigure), with
    column titles on top and row titles on the left."""
    rows = np.asarray(rows, np.float32)
    r, c, h, w = rows.shape[:4]
    grid = image_grid(rows.reshape((r * c,) + rows.shape[2:]), ncol=c, pad=pad)
    ax = fig.subplots()
    ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
    ax.set_xticks([pad + j * (w + pad) + w / 2 for j in range(c)],
                  list(col_titles) if col_titles is not None else [""] * c, fontsize=8)
    ax.set_yticks([pad + i * (h + pad) + h / 2 for i in range(r)],
                  list(row_titles) if row_titles is not None else [""] * r, fontsize=8)
    ax.xaxis.set_ticks_position("top")
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=10)
    return ax


def transfer_accuracy(transfer_fn: Callable[[np.ndarray, int], np.ndarray], images, n_classes: int, classifier,
                      names=None, log=print) -> dict:
    """Every image transferred to every class k (``transfer_fn(images, k)``); ``classifier`` (a model from
    :func:`train_classifier` or a callable images -> class) reads the results.

    Returns {"per_class": {name: share classified as the target}, "mean": mean over classes, "confusion":
    [target][predicted] counts, "n_images"}."""
    predict = class_predictor(classifier)
    images = check_images(images)
    names = tuple(names) if names is not None else tuple(str(k) for k in range(n_classes))
    confusion = np.zeros((n_classes, n_classes), np.int64)
    progress = Progress("transfer accuracy", n_classes * len(images), "images", log)
    for k in range(n_classes):
        pred = predict(transfer_fn(images, k))
        confusion[k] += np.bincount(np.clip(pred, 0, n_classes - 1), minlength=n_classes)[:n_classes]
        progress.update((k + 1) * len(images))
    per = confusion.diagonal() / np.maximum(confusion.sum(1), 1)
    return {"per_class": {names[k]: float(per[k]) for k in range(n_classes)}, "mean": float(per.mean()),
            "confusion": confusion.tolist(), "n_images": int(n_classes * len(images))}


def preservation(transfer_fn: Callable[[np.ndarray, int], np.ndarray], images, truth, n_classes: int,
                 classifier) -> dict:
    """Share of transfers (every image to every class) that ``classifier`` still assigns to ``truth`` (the input's
    identity or character), and its accuracy on the untransferred images (the ceiling)."""
    predict = class_predictor(classifier)
    images = check_images(images)
    truth = np.asarray(truth, np.int64).reshape(-1)
    hits = [np.mean(predict(transfer_fn(images, k)) == truth) for k in range(n_classes)]
    return {"share_recognised": float(np.mean(hits)), "share_unedited": float(np.mean(predict(images) == truth)),
            "n_images": int(n_classes * len(images))}


def classifier_features(classifier: keras.Model, images, layer: str = "fc1", batch_size: int = 512) -> np.ndarray:
    """Activations of ``layer`` (the penultimate layer of :func:`build_classifier`) for Frechet distances."""
    images = check_images(images)
    feats = keras.Model(classifier.inputs, classifier.get_layer(layer).output)
    fn = inference_fn(feats)
    return np.concatenate([fn(tf.convert_to_tensor(images[s:s + batch_size])).numpy()
                           for s in range(0, len(images), batch_size)]).astype(np.float64)


def train_regressor(model: keras.Model, images, targets, steps: int, batch_size: int = 64, lr=1e-3,
                    seed: int = 0, what: str = "regressor", log: Callable[[str], None] | None = print) -> keras.Model:
    """Train ``model`` (images -> [N, k] values) with Adam (``lr``: a number or a Keras schedule) and the mean
    squared error to ``targets``."""
    images = check_images(images)
    targets = np.asarray(targets, np.float32).reshape(len(images), -1)
    if log is not None:
        log(f"{what}: {len(images)} images, {steps} steps of batch {batch_size}, Adam {describe_lr(lr)}, "
            "MSE")

    def mse(out, y):
        return tf.reduce_mean(tf.square(out - y))

    fit(model, mse, images, targets, steps, batch_size, lr, seed, what, "MSE", log)
    return model


def predict(model: keras.Model, images, batch_size: int = 256) -> np.ndarray:
    """The model's float32 outputs for ``images`` in batches, in inference mode."""
    images = check_images(images)
    fn = inference_fn(model)
    return np.concatenate([fn(tf.convert_to_tensor(images[s:s + batch_size])).numpy()
                           for s in range(0, len(images), batch_size)])
