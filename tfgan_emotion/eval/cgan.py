"""Label-interpolation evaluation (paper 000 sections 4.4 and 5.6; SPECS "Label-interpolation cGAN").

- :func:`build_efficientnet`: the paper's evaluation classifier, keras.applications EfficientNet-B0 with
  ``weights=None`` (trained here on the dataset; nothing is downloaded). Our images in [-1, 1] are mapped back to
  the 0-255 range EfficientNet's built-in rescaling expects; grey 28x28 images are resized to 32x32 (EfficientNet's
  smallest input) and repeated to 3 channels inside the model.
- :func:`pair_confidences`: for every ordered class pair (i, j), ``noise_vectors`` z are decoded with the 11
  labels from one-hot(i) to one-hot(j) (paper 4.4: "1,000 image sets ... for each class combination", alpha 0.1);
  the classifier's mean softmax confidence of i and of j per step (Fig. 7/8), and whether j's mean confidence
  rises at every step (the monotonicity figure, ours).
- :func:`build_mobilenet_regressor` / :func:`va_curves`: the faces study (paper 5.6): a MobileNetV2 (weights=None)
  valence/arousal regressor (paper: Adam 1e-3, trained on AffectNet) reads the images decoded along neutral ->
  each emotion; mean (valence, arousal) per step (Fig. 14).
- Figures: :func:`save_confidence_figure`, :func:`save_monotonicity_figure`, :func:`save_strips` (Fig. 5/6/13),
  :func:`save_va_figure`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import keras

from .. import conditioning
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


def _softmax(logits):
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def pair_confidences(model, classifier, n_classes: int, noise_vectors: int, seed: int = 0, names=None,
                     log=print) -> dict:
    """Mean softmax confidence of the source and the target class along the 11 interpolation steps, for every
    ordered pair (module docstring). Returns {"source": [n][n][11], "target": [n][n][11] (NaN on the diagonal),
    "mean_source", "mean_target" (over pairs, per step), "monotonic_share" (share of pairs whose mean target
    confidence never falls from one step to the next), "monotonic_by_source" {name: share}, "noise_vectors"}."""
    z = np.random.default_rng(seed).uniform(-1, 1, (noise_vectors, model.config.z_dim)).astype(np.float32)
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
            "noise_vectors": int(noise_vectors)}


def va_curves(model, regressor, neutral: int, emotions, noise_vectors: int, seed: int = 0, names=None) -> dict:
    """Mean (valence, arousal) read by ``regressor`` along neutral -> each of ``emotions`` (11 steps; paper
    Fig. 14). Returns {emotion name: {"valence": [11], "arousal": [11]}}."""
    n = model.config.n_classes
    names = tuple(names) if names is not None else tuple(str(k) for k in range(n))
    z = np.random.default_rng(seed).uniform(-1, 1, (noise_vectors, model.config.z_dim)).astype(np.float32)
    out = {}
    for e in emotions:
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


def va_data(affectnet_dir, size: int, n: int, seed: int = 0):
    """Images with (valence, arousal) for the faces regressor: AffectNet if given, else the synthetic faces."""
    from ..data import synthetic as synth

    if affectnet_dir:
        from ..data import affectnet

        out = {"image": [], "va": []}
        ds, _ = affectnet.load(affectnet_dir, "train", image_size=size, channels=3, shuffle_files=True,
                               seed=seed)
        for e in ds.take(n).as_numpy_iterator():
            out["image"].append(e["image"])
            out["va"].append((e["valence"], e["arousal"]))
        val, _ = affectnet.load(affectnet_dir, "validation", image_size=size, channels=3, verbose=False)
        held = {"image": [], "va": []}
        for e in val.take(1000).as_numpy_iterator():
            held["image"].append(e["image"])
            held["va"].append((e["valence"], e["arousal"]))
        return ({k: np.asarray(v, np.float32) for k, v in out.items()},
                {k: np.asarray(v, np.float32) for k, v in held.items()}, "AffectNet")
    tr = synth.make_arrays("affectnet", "train", n=n, size=size, seed=seed)
    va = synth.make_arrays("affectnet", "val", n=max(100, n // 10), size=size, seed=seed)
    pack = lambda d: {"image": d["image"], "va": np.stack([d["valence"], d["arousal"]], -1)}  # noqa: E731
    return pack(tr), pack(va), "synthetic AffectNet-like faces"


def evaluate_classes(model, vocabulary, dataset: str, channels: int, train: dict, held: dict, ev: dict, figures_dir,
                     seed: int = 0, smoke: bool = False, note=None, log=print) -> dict:
    """Paper 000 sections 4.4 (Fashion-MNIST, CIFAR-10): an EfficientNet-B0 trained on ``train`` reads the images
    along every ordered class pair's interpolation (Fig. 5-8)."""
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
    save_confidence_figure(conf, fig / "fig7_confidence.png",
                             f"{label}: classifier confidence along the interpolation (paper Fig. 7/8)")
    save_monotonicity_figure(conf, fig / "fig_monotonicity.png",
                               f"{label}: pairs whose target confidence rises at every step")
    rng = np.random.default_rng(seed)
    pairs = [tuple(rng.choice(n, 2, replace=False)) for _ in range(6)]
    save_strips(model, pairs, names, fig / "fig5_strips.png", f"{label}: interpolation examples (paper Fig. 5/6)",
                  seed=seed)
    return {"classifier": {"architecture": "EfficientNet-B0 (weights=None)", "heldout_accuracy": acc,
                           "steps": ev["classifier_steps"]},
            "interpolation": {k: v for k, v in conf.items() if k not in ("source", "target")},
            "interpolation_pairs": {"source": conf["source"], "target": conf["target"]}}


def evaluate_faces(model, vocabulary, ev: dict, figures_dir, seed: int = 0, smoke: bool = False, affectnet_dir=None,
                   log=print) -> dict:
    """Paper 000 sections 5.1 and 5.6 (FACES): a MobileNetV2 valence/arousal regressor (AffectNet when given)
    reads neutral -> each emotion, and the valence/arousal targeting (Table 1, Fig. 13-14)."""
    from .. import conditioning
    from . import common
    from .metrics import regression_report

    names = vocabulary.names
    neutral = names.index("neutral")
    emotions = [k for k in range(len(names)) if k != neutral]
    size = model.config.image_size
    tr, held, source = va_data(affectnet_dir, size, max(ev["regressor_steps"] * 4, 2000) if not smoke else 64,
                               seed)
    reg = build_mobilenet_regressor(size, 3, seed=seed)
    common.train_regressor(reg, tr["image"], tr["va"], steps=ev["regressor_steps"], batch_size=64,
                           seed=seed, what="MobileNetV2 valence/arousal regressor", log=log)
    pred = common.predict(reg, held["image"])
    table1 = {dim: regression_report(held["va"][:, k], pred[:, k]) for k, dim in enumerate(("valence", "arousal"))}
    curves = va_curves(model, reg, neutral, emotions, ev["noise_vectors"], seed=seed, names=names)
    targeting = []
    z = np.random.default_rng(seed).uniform(-1, 1, (ev["noise_vectors"], model.config.z_dim))
    for dim in ("valence", "arousal"):
        for value in (0.25, 0.5, 0.75, 1.0):
            v, emotion, w = conditioning.va_target(dim, value, vocabulary)
            va = common.predict(reg, model.generate(z.astype(np.float32), np.tile(v, (len(z), 1))).numpy()).mean(0)
            targeting.append({"dimension": dim, "requested": value, "emotion": emotion, "weight": w,
                              "measured_valence": float(va[0]), "measured_arousal": float(va[1])})
    fig = Path(figures_dir)
    save_va_figure(curves, fig / "fig14_valence_arousal.png")
    save_strips(model, [(neutral, e) for e in emotions], names, fig / "fig13_strips.png",
                  "Neutral -> each emotion (paper Fig. 13)", seed=seed)
    return {"va_regressor": {"architecture": "MobileNetV2 (weights=None)", "trained_on": source,
                             "steps": ev["regressor_steps"], "table1_heldout": table1},
            "neutral_to_emotion_va": curves, "va_targeting": targeting}
