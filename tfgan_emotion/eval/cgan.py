"""Label-interpolation evaluation (paper 000 sections 4.4 and 5.6; SPECS "Label-interpolation cGAN").

- :func:`build_efficientnet`: the paper's evaluation classifier, keras.applications EfficientNet-B0 with
  ``weights=None`` (trained here on the dataset; nothing is downloaded). Our images in [-1, 1] are mapped back to
  the 0-255 range EfficientNet's built-in rescaling expects; grey 28x28 images are resized to 32x32 (EfficientNet's
  smallest input) and repeated to 3 channels inside the model.
- :func:`pair_confidences`: for every ordered class pair (i, j), ``noise_vectors`` z are decoded with the 11
  labels from one-hot(i) to one-hot(j) (paper 4.4: "1,000 image sets were randomly generated for each class
  combination i, j", alpha 0.1); the classifier's mean softmax confidence of i and of j per step (Fig. 7/8), and
  whether j's mean confidence rises at every step (the monotonicity figure, ours). Every pair draws its own z set
  (:func:`curve_noise`, seeded by the run's seed and the pair), as the paper generated image sets per combination.
- :func:`build_mobilenet_regressor` / :func:`va_curves`: the faces study (paper 5.6): a MobileNetV2 (weights=None)
  valence/arousal regressor reads the images decoded along neutral -> each emotion, its own 1,000 z per emotion
  (paper: "1,000 noise vectors per class", 5,000 in all); mean (valence, arousal) per step (Fig. 14). Paper 5.4
  trains the regressor "on the AffectNet dataset for 100 epochs with Adam optimizer and a learning rate of 0.001":
  with an AffectNet root (:func:`affectnet_va`) it does exactly that, streaming the training split from disk every
  epoch (:func:`fit_stream`), and scores paper Table 1 on the whole validation split; without one it learns from the
  built-in AffectNet-like faces held in memory (:func:`synthetic_va`) for the run's ``regressor_steps``.
- Figures: :func:`save_confidence_figure`, :func:`save_monotonicity_figure`, :func:`save_strips` (Fig. 5/6/13),
  :func:`save_va_figure`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import keras
import tensorflow as tf

from .. import conditioning
from ..data.stream import without_tuning_thread
from .common import (Progress, figure, float32_policy, predict, save_figure, set_bn_momentum, show_image_rows,
                     zero_init_residuals)


def _input_adapter(image_size: int, channels: int, min_size: int = 32):
    x = inputs = keras.Input((image_size, image_size, channels), name="image")
    if image_size < min_size:
        x = keras.layers.Resizing(min_size, min_size, name="resize")(x)
    if channels == 1:
        x = keras.layers.Concatenate(name="grey_to_rgb")([x, x, x])
    return inputs, x


def build_efficientnet(image_size: int, channels: int, n_classes: int, seed: int = 0) -> keras.Model:
    """EfficientNet-B0 (weights=None) classifier: image in [-1, 1] -> logits (the softmax is taken at use).

    The B0 graph is keras.applications' (stochastic depth 0.2, top dropout 0.2), built in float32
    (:func:`common.float32_policy`). Three changes for training from scratch in a few hundred steps, measured on
    the Fashion-MNIST stand-in (600 steps, batch 64): zero-initialised classifier and zero-gamma residual blocks
    (:func:`zero_init_residuals`), batch-norm momentum 0.9, and the warm-up + cosine schedule of
    :data:`EFFICIENTNET_LR`. Held-out accuracy with all of them: 0.89 (CIFAR-10 stand-in 0.93); with the plain
    application, constant Adam 1e-3: 0.23."""
    keras.utils.set_random_seed(seed)
    with float32_policy():
        inputs, x = _input_adapter(image_size, channels)
        x = keras.layers.Rescaling(127.5, offset=127.5, name="to_0_255")(x)
        size = max(image_size, 32)
        net = keras.applications.EfficientNetB0(include_top=False, weights=None, input_shape=(size, size, 3),
                                                pooling="avg")
        zero_init_residuals(net)
        set_bn_momentum(net, 0.9)
        x = keras.layers.Dropout(0.2, name="top_dropout")(net(x))   # B0's own top: pool, dropout 0.2, dense
        out = keras.layers.Dense(n_classes, kernel_initializer="zeros", name="logits")(x)
    return keras.Model(inputs, out, name="efficientnet_b0")


EFFICIENTNET_LR = 2e-3   # peak Adam learning rate of the warm-up + cosine schedule (common.warmup_cosine)


def build_mobilenet_regressor(image_size: int, channels: int = 3, seed: int = 0) -> keras.Model:
    """MobileNetV2 (weights=None) valence/arousal regressor: image in [-1, 1] (MobileNetV2's own input range) ->
    tanh (valence, arousal). Built in float32 with zero-gamma residual blocks and batch-norm momentum 0.9, as
    :func:`build_efficientnet`."""
    keras.utils.set_random_seed(seed)
    with float32_policy():
        inputs, x = _input_adapter(image_size, channels)
        size = max(image_size, 32)
        base = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(size, size, 3),
                                              pooling="avg")
        zero_init_residuals(base)
        set_bn_momentum(base, 0.9)
        out = keras.layers.Dense(2, activation="tanh", name="va")(base(x))
    return keras.Model(inputs, out, name="mobilenetv2_va")


# Paper 000 section 5.4: the regressor "was trained on the AffectNet dataset for 100 epochs with Adam optimizer and a
# learning rate of 0.001". The batch size, the loss and the rows used are not given: ours.
REGRESSOR_EPOCHS = 100
REGRESSOR_LR = 1e-3
REGRESSOR_BATCH = 64          # ours
# Every AffectNet row with a valid (valence, arousal), whatever its class (0-10): rows whose valence or arousal is -2
# (the reader's "invalid valence -2") are dropped and counted. Ours: AffectNet's own valence/arousal baselines use
# the same rows.
AFFECTNET_VA_CLASSES = tuple(range(11))
NOISE_SETS = "independent per ordered class pair, seeded by (run seed, source class, target class)"
VA_NOISE_SETS = "independent per emotion, seeded by (run seed, neutral, emotion)"


def curve_noise(seed: int, source: int, target: int, n: int, z_dim: int) -> np.ndarray:
    """The ``n`` noise vectors z ~ U(-1, 1)^z_dim of one curve (class ``source`` -> class ``target``), drawn
    independently for every ordered pair from a generator seeded by (``seed``, ``source``, ``target``): paper 4.4
    generates image sets "for each class combination i, j" and 5.6 takes 1,000 noise vectors per emotion. Any pair's
    set can be drawn again on its own."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, int(source), int(target)])
    return rng.uniform(-1, 1, (int(n), int(z_dim))).astype(np.float32)


def _softmax(logits):
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def pair_confidences(model, classifier, n_classes: int, noise_vectors: int, seed: int = 0, names=None,
                     log=print) -> dict:
    """Mean softmax confidence of the source and the target class along the 11 interpolation steps, for every
    ordered pair (module docstring). Returns {"source": [n][n][11], "target": [n][n][11] (NaN on the diagonal),
    "mean_source", "mean_target" (over pairs, per step), "monotonic_share" (share of pairs whose mean target
    confidence never falls from one step to the next), "monotonic_by_source" {name: share}, "noise_vectors",
    "noise_sets"}. Each pair decodes its own :func:`curve_noise` set."""
    steps = conditioning.STEPS
    src = np.full((n_classes, n_classes, steps), np.nan)
    tgt = np.full((n_classes, n_classes, steps), np.nan)
    progress = Progress("pair confidences", n_classes * (n_classes - 1), "pairs", log)
    done = 0
    for i in range(n_classes):
        for j in range(n_classes):
            if i == j:
                continue
            labels = conditioning.interpolate(i, j, n_classes, steps)
            z = curve_noise(seed, i, j, noise_vectors, model.config.z_dim)
            images = np.concatenate([model.generate(z, np.tile(v, (noise_vectors, 1))).numpy() for v in labels])
            p = _softmax(predict(classifier, images)).reshape(steps, noise_vectors, -1).mean(1)
            src[i, j], tgt[i, j] = p[:, i], p[:, j]
            done += 1
            progress.update(done)
    off = ~np.eye(n_classes, dtype=bool)
    rising = np.all(np.diff(tgt, axis=-1) >= 0, axis=-1)
    names = tuple(names) if names is not None else tuple(str(k) for k in range(n_classes))
    return {"source": src.tolist(), "target": tgt.tolist(),
            "mean_source": src[off].mean(0).tolist(), "mean_target": tgt[off].mean(0).tolist(),
            "monotonic_share": float(rising[off].mean()),
            "monotonic_by_source": {names[i]: float(rising[i][off[i]].mean()) for i in range(n_classes)},
            "noise_vectors": int(noise_vectors), "noise_sets": NOISE_SETS}


def va_curves(model, regressor, neutral: int, emotions, noise_vectors: int, seed: int = 0, names=None) -> dict:
    """Mean (valence, arousal) read by ``regressor`` along neutral -> each of ``emotions`` (11 steps; paper
    Fig. 14), each emotion with its own :func:`curve_noise` set. Returns {emotion name: {"valence": [11], "arousal":
    [11]}}."""
    n = model.config.n_classes
    names = tuple(names) if names is not None else tuple(str(k) for k in range(n))
    out = {}
    for e in emotions:
        z = curve_noise(seed, neutral, e, noise_vectors, model.config.z_dim)
        va = [predict(regressor, model.generate(z, np.tile(v, (noise_vectors, 1))).numpy()).mean(0)
              for v in conditioning.neutral_to_emotion(e, n, neutral)]
        out[names[e]] = {"valence": [float(a[0]) for a in va], "arousal": [float(a[1]) for a in va]}
    return out


# ----------------------------------------------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------------------------------------------
def save_confidence_figure(conf: dict, path, title: str) -> Path:
    """Fig. 7/8 analogue: mean source / target confidence per step over all pairs, with the 10-90% band."""
    steps = np.arange(conditioning.STEPS) / (conditioning.STEPS - 1)
    src, tgt = np.asarray(conf["source"], float), np.asarray(conf["target"], float)
    off = ~np.eye(src.shape[0], dtype=bool)
    fig = figure((6.0, 3.8))
    ax = fig.subplots()
    for arr, label, color in ((src[off], "source class", "tab:blue"), (tgt[off], "target class", "tab:orange")):
        ax.plot(steps, arr.mean(0), color=color, label=f"{label} (mean over pairs)")
        ax.fill_between(steps, np.percentile(arr, 10, 0), np.percentile(arr, 90, 0), color=color, alpha=0.2)
    ax.set_xlabel("portion e moved from the source to the target class")
    ax.set_ylabel("classifier confidence")
    ax.set_ylim(0, 1)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    return save_figure(fig, path)


def save_monotonicity_figure(conf: dict, path, title: str) -> Path:
    """Share of pairs (per source class and overall) whose target confidence rises at every step."""
    names = list(conf["monotonic_by_source"])
    shares = [conf["monotonic_by_source"][k] for k in names] + [conf["monotonic_share"]]
    fig = figure((max(5.0, 0.6 * len(shares) + 1.5), 3.6))
    ax = fig.subplots()
    ax.bar(range(len(shares)), shares, color=["tab:gray"] * len(names) + ["tab:green"])
    ax.set_xticks(range(len(shares)), names + ["all pairs"], rotation=45, ha="right", fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of pairs rising at every step")
    ax.set_title(title, fontsize=10)
    return save_figure(fig, path)


def save_strips(model, pairs, names, path, title: str, seed: int = 0) -> Path:
    """One row per (source, target) pair: the 11 images from the source to the target label, one z per row."""
    z = np.random.default_rng(seed).uniform(-1, 1, (len(pairs), model.config.z_dim)).astype(np.float32)
    rows = [model.generate(np.repeat(z[k:k + 1], conditioning.STEPS, 0),
                           conditioning.interpolate(i, j, model.config.n_classes)).numpy()
            for k, (i, j) in enumerate(pairs)]
    fig = figure((1.0 * conditioning.STEPS + 2.0, 1.0 * len(pairs) + 1.0))
    show_image_rows(fig, np.stack(rows), col_titles=[f"e={e / 10:.1f}" for e in range(conditioning.STEPS)],
                    row_titles=[f"{names[i]}->{names[j]}" for i, j in pairs], title=title)
    return save_figure(fig, path)


def save_va_figure(curves: dict, path) -> Path:
    """Fig. 14 analogue: mean valence and arousal per step from neutral to each emotion."""
    steps = np.arange(conditioning.STEPS) / (conditioning.STEPS - 1)
    fig = figure((9.0, 3.6))
    axes = fig.subplots(1, 2)
    for ax, dim in zip(axes, ("valence", "arousal")):
        for name, c in curves.items():
            ax.plot(steps, c[dim], marker="o", markersize=3, label=name)
        ax.set_xlabel("weight of the emotion (neutral = 1 - weight)")
        ax.set_ylabel(f"mean {dim}")
        ax.set_ylim(-1, 1)
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("Valence and arousal from neutral to each emotion (paper Fig. 14)")
    return save_figure(fig, path)


@dataclass
class AffectNetVA:
    """AffectNet as the regressor's data (paper 5.4): ``train`` = endless batches ``(image, (valence, arousal))``
    decoded from disk, the whole training split reshuffled every epoch (nothing is held in memory); ``validation`` =
    one pass over the whole validation split in batches (paper Table 1)."""

    root: str
    train: tf.data.Dataset
    n_train: int
    steps_per_epoch: int
    validation: tf.data.Dataset
    n_validation: int
    batch_size: int


def check_affectnet_va(root) -> None:
    """Refuse (FileNotFoundError naming what is missing) an AffectNet root without both splits the regressor needs,
    before any training starts."""
    from ..data import affectnet

    root = Path(root).expanduser()
    release = affectnet.detect_release(root)
    if release == "csv":
        need = [root / affectnet.LISTS_DIR / affectnet.CSV_NAMES[k] for k in ("train", "validation")]
        need.append(root / affectnet.IMAGES_DIR)
    else:
        need = [root / affectnet.CROPPED_DIRS[k] / "images" for k in ("train", "validation")]
    missing = [str(p.relative_to(root)) for p in need if not p.exists()]
    if missing:
        raise FileNotFoundError(f"AffectNet {root}: the valence/arousal regressor trains on the training split and is "
                                f"scored on the validation split (paper 5.4, Table 1), but {', '.join(missing)} is "
                                "missing (docs/datasets.md, AffectNet)")


def affectnet_va(root, size: int, batch_size: int = REGRESSOR_BATCH, seed: int = 0, log=print) -> AffectNetVA:
    """The AffectNet training and validation splits at ``size`` x ``size`` RGB as :class:`AffectNetVA` streams: every
    row with a valid valence/arousal (:data:`AFFECTNET_VA_CLASSES`), face box crop, decoded by the AffectNet reader
    (corrupt files skipped and counted in its summary, logged here)."""
    from ..data import affectnet

    def va(ex):
        return ex["image"], tf.stack([ex["valence"], ex["arousal"]])

    train, summary = affectnet.load(root, "train", image_size=size, channels=3, classes=AFFECTNET_VA_CLASSES,
                                    shuffle_files=True, seed=seed, verbose=False)
    val, val_summary = affectnet.load(root, "validation", image_size=size, channels=3,
                                      classes=AFFECTNET_VA_CLASSES, verbose=False)
    if log is not None:
        log(f"valence/arousal regressor data:\n{summary}\n{val_summary}")
    n, n_val = summary.size, val_summary.size
    if n < batch_size or n_val == 0:
        raise ValueError(f"AffectNet {root}: {n} training and {n_val} validation images with a valid valence/arousal; "
                         f"the regressor needs at least one batch ({batch_size}) to train and one image to score")
    stream = train.map(va, num_parallel_calls=tf.data.AUTOTUNE).repeat().batch(batch_size, drop_remainder=True)
    held = val.map(va, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size)
    return AffectNetVA(str(root), without_tuning_thread(stream.prefetch(tf.data.AUTOTUNE)), n, n // batch_size,
                       held.prefetch(tf.data.AUTOTUNE), n_val, batch_size)


def synthetic_va(size: int, n: int, seed: int = 0):
    """The fallback without AffectNet: ``n`` built-in AffectNet-like faces with their (valence, arousal) in memory,
    and max(100, n / 10) held-out ones: (train, held), dicts of ``image`` and ``va``."""
    from ..data import synthetic as synth

    tr = synth.make_arrays("affectnet", "train", n=n, size=size, seed=seed)
    va = synth.make_arrays("affectnet", "val", n=max(100, n // 10), size=size, seed=seed)
    pack = lambda d: {"image": d["image"], "va": np.stack([d["valence"], d["arousal"]], -1)}  # noqa: E731
    return pack(tr), pack(va)


def fit_stream(model: keras.Model, batches: tf.data.Dataset, steps: int, lr: float, what: str = "regressor",
               log=print) -> dict:
    """Adam(``lr``) on the mean squared error of ``model`` on ``steps`` batches ``(images, targets)`` of the stream
    ``batches`` (read as it trains, nothing held in memory), with progress lines. Returns {"steps", "last_mse"}."""
    from .common import fit_batches

    def mse(pred, y):
        return tf.reduce_mean(tf.square(pred - tf.cast(y, tf.float32)))

    last = fit_batches(model, mse, batches, steps, lr, what, "MSE", log, report_last=True)
    return {"steps": int(steps), "last_mse": last}


def regressor_steps(ev: dict, steps_per_epoch: int) -> int:
    """Training steps of the AffectNet regressor: ``ev["regressor_steps"]`` when set (a cheaper run, or --smoke),
    else the paper's ``ev["regressor_epochs"]`` (100) epochs of ``steps_per_epoch``."""
    if ev.get("regressor_steps"):
        return int(ev["regressor_steps"])
    return int(ev.get("regressor_epochs", REGRESSOR_EPOCHS)) * int(steps_per_epoch)


def train_va_regressor(size: int, ev: dict, va_data=None, seed: int = 0, log=print):
    """The faces study's valence/arousal reader: (regressor, paper Table 1 on its held-out images, what it learnt
    from). With ``va_data`` (an AffectNet root) paper 5.4's schedule on the AffectNet stream (:func:`affectnet_va`,
    :func:`regressor_steps`, Adam ``ev["regressor_lr"]``), Table 1 on the whole validation split; without, the
    built-in faces (:func:`synthetic_va`, ``ev["va_images"]`` of them, ``ev["regressor_steps"]`` steps)."""
    from . import common
    from .metrics import regression_report

    reg = build_mobilenet_regressor(size, 3, seed=seed)
    what = "MobileNetV2 valence/arousal regressor"
    if va_data:
        data = affectnet_va(va_data, size, int(ev.get("regressor_batch", REGRESSOR_BATCH)), seed, log)
        steps = regressor_steps(ev, data.steps_per_epoch)
        lr = float(ev.get("regressor_lr", REGRESSOR_LR))
        if log is not None:
            log(f"{what}: AffectNet {data.n_train} training images streamed from disk, {steps} steps of batch "
                f"{data.batch_size} = {steps / data.steps_per_epoch:.2f} epochs, Adam {lr:g}, MSE")
        fit_stream(reg, data.train, steps, lr, what, log)
        fn = common.inference_fn(reg)
        pred, truth = [], []
        for x, y in data.validation:
            pred.append(fn(x).numpy())
            truth.append(y.numpy())
        pred, truth = np.concatenate(pred), np.concatenate(truth)
        info = {"trained_on": "AffectNet", "train_images": data.n_train, "steps": steps,
                "epochs": steps / data.steps_per_epoch, "batch_size": data.batch_size, "learning_rate": lr,
                "heldout": f"AffectNet validation split ({data.n_validation} images)"}
    else:
        tr, held = synthetic_va(size, int(ev["va_images"]), seed)
        common.train_regressor(reg, tr["image"], tr["va"], steps=ev["regressor_steps"], batch_size=REGRESSOR_BATCH,
                               lr=REGRESSOR_LR, seed=seed, what=what, log=log)
        pred, truth = common.predict(reg, held["image"]), held["va"]
        info = {"trained_on": SYNTHETIC_VA, "train_images": len(tr["image"]), "steps": int(ev["regressor_steps"]),
                "batch_size": REGRESSOR_BATCH, "learning_rate": REGRESSOR_LR,
                "heldout": f"{len(held['image'])} held-out synthetic faces"}
    table1 = {dim: regression_report(truth[:, k], pred[:, k]) for k, dim in enumerate(("valence", "arousal"))}
    return reg, table1, info


SYNTHETIC_VA = "synthetic AffectNet-like faces"


def evaluate_classes(model, vocabulary, dataset: str, channels: int, train: dict, held: dict, ev: dict, figures_dir,
                     seed: int = 0, smoke: bool = False, note=None, log=print) -> dict:
    """Paper 000 sections 4.4 (Fashion-MNIST, CIFAR-10): an EfficientNet-B0 trained on ``train`` reads the images
    along every ordered class pair's interpolation (Fig. 5-8). ``vocabulary``: the run's classes (the model's
    label order); ``dataset``: what the figure titles call the data."""
    from . import common

    names = vocabulary.names
    n = len(names)
    size = train["image"].shape[1]
    clf = build_efficientnet(size, channels, n, seed=seed)
    common.train_classifier(train["image"], train["expression"], steps=ev["classifier_steps"], batch_size=64,
                            lr=common.warmup_cosine(EFFICIENTNET_LR, ev["classifier_steps"]), seed=seed,
                            what="EfficientNet-B0 classifier", log=log, model=clf)
    acc = float(np.mean(common.class_predictor(clf)(held["image"]) == held["expression"]))
    log(f"EfficientNet-B0 accuracy on {len(held['image'])} held-out images: {acc:.3f}")
    if acc < 0.5 and not smoke and note is not None:
        note(f"The EfficientNet-B0 reader reached only {100 * acc:.0f}% held-out accuracy, so the confidence curves "
               "below measure little about the interpolation; train it longer (--classifier-steps).")
    conf = pair_confidences(model, clf, n, ev["noise_vectors"], seed=seed, names=names, log=log)
    fig = Path(figures_dir)
    label = dataset.replace("_", "-")
    classes = f" ({n} classes: {', '.join(names)})" if n <= 12 else ""
    save_confidence_figure(conf, fig / "fig7_confidence.png",
                             f"{label}: classifier confidence along the interpolation (paper Fig. 7/8)")
    save_monotonicity_figure(conf, fig / "fig_monotonicity.png",
                               f"{label}: pairs whose target confidence rises at every step{classes}")
    rng = np.random.default_rng(seed)
    pairs = [tuple(rng.choice(n, 2, replace=False)) for _ in range(6)]
    save_strips(model, pairs, names, fig / "fig5_strips.png", f"{label}: interpolation examples (paper Fig. 5/6)",
                  seed=seed)
    return {"classifier": {"architecture": "EfficientNet-B0 (weights=None)", "heldout_accuracy": acc,
                           "steps": ev["classifier_steps"], "classes": ", ".join(names)},
            "interpolation": {k: v for k, v in conf.items() if k not in ("source", "target")},
            "interpolation_pairs": {"source": conf["source"], "target": conf["target"]}}


def neutral_class(vocabulary) -> int | None:
    """Index of the neutral class (by its name or its canonical name), or None when the classes have none."""
    try:
        return vocabulary.index("neutral")
    except KeyError:
        return None


def evaluate_faces(model, vocabulary, ev: dict, figures_dir, seed: int = 0, va_data=None, note=None,
                   log=print) -> dict:
    """Paper 000 sections 5.1, 5.4 and 5.6 (FACES): a MobileNetV2 valence/arousal regressor
    (:func:`train_va_regressor`: on AffectNet at the paper's schedule when ``va_data`` is given) reads neutral ->
    each emotion, and the valence/arousal targeting (Table 1, Fig. 13-14).

    ``vocabulary``: the run's classes. Every class other than neutral gets its curve; the targeting picks among the
    classes with a place on the circumplex (labels.CIRCUMPLEX_DEGREES). Classes without a neutral class (your own
    data) leave the curves, strips and targeting out (``neutral_to_emotion_skipped`` says why, and so does a run
    note); classes none of which is on the circumplex leave the targeting out (``va_targeting_skipped``)."""
    from .. import conditioning
    from . import common

    names = vocabulary.names
    size = model.config.image_size
    reg, table1, info = train_va_regressor(size, ev, va_data, seed, log)
    out = {"va_regressor": {"architecture": "MobileNetV2 (weights=None)", **info, "table1_heldout": table1}}
    neutral = neutral_class(vocabulary)
    if neutral is None:
        why = (f"the run's classes ({', '.join(names)}) have no neutral class, so the curves from neutral to each "
               "emotion (Fig. 13, Fig. 14) and the valence/arousal targeting (a mix of neutral and one emotion) "
               "were not made; name a class 'neutral' (e.g. with --label-map) to get them")
        if note is not None:
            note(f"Faces evaluation: {why}.")
        log(why)
        return {**out, "neutral_to_emotion_skipped": why}
    emotions = [k for k in range(len(names)) if k != neutral]
    curves = va_curves(model, reg, neutral, emotions, ev["noise_vectors"], seed=seed, names=names)
    out.update(neutral_to_emotion_va=curves, va_curve_noise=VA_NOISE_SETS)
    placed = conditioning.emotion_va(vocabulary)
    placed.pop(names[neutral], None)
    if placed:
        targeting = []
        z = np.random.default_rng(seed).uniform(-1, 1, (ev["noise_vectors"], model.config.z_dim))
        for dim in ("valence", "arousal"):
            for value in (0.25, 0.5, 0.75, 1.0):
                v, emotion, w = conditioning.va_target(dim, value, vocabulary, neutral=names[neutral])
                va = common.predict(reg, model.generate(z.astype(np.float32),
                                                        np.tile(v, (len(z), 1))).numpy()).mean(0)
                targeting.append({"dimension": dim, "requested": value, "emotion": emotion, "weight": w,
                                  "measured_valence": float(va[0]), "measured_arousal": float(va[1])})
        out["va_targeting"] = targeting
    else:
        why = (f"none of the run's classes ({', '.join(names)}) is an emotion with a place on the valence/arousal "
               "circumplex (happy, surprise, anger, fear, disgust, contempt, sad), so the valence/arousal targeting "
               "(paper 5.1) was not made")
        if note is not None:
            note(f"Faces evaluation: {why}.")
        out["va_targeting_skipped"] = why
    fig = Path(figures_dir)
    save_va_figure(curves, fig / "fig14_valence_arousal.png")
    save_strips(model, [(neutral, e) for e in emotions], names, fig / "fig13_strips.png",
                "Neutral -> each emotion (paper Fig. 13)", seed=seed)
    return out
