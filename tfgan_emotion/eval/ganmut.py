"""GANmut evaluation (paper 002 section VI; SPECS "GANmut", Metrics).

- Emotion classifiers (VI.A): keras.applications VGG16 and ResNet50 with a new head (global average pool, dense
  256 ReLU named ``features``, dropout 0.5, 7 logits), trained on the run's training faces ("adapted through
  fine-tuning for emotion recognition"). ``weights``: a path to the Keras ImageNet "notop" weight file of the
  network (nothing is downloaded); without it the network starts from random weights (``weights=None``), which the
  report says. Inputs in [-1, 1] are mapped to the networks' own caffe preprocessing (0-255, BGR, ImageNet channel
  means subtracted). ResNet50 from scratch gets zero-gamma residual blocks and BN momentum 0.9
  (:func:`common.zero_init_residuals`).
- Tables I/II analogue: macro F1 of each classifier on held-out real faces and on generated faces (each held-out
  face edited to each of the 7 classes at rho = 1, neutral at rho = 0; the requested class is the truth).
- Table III: FED = Frechet distance between the ``features`` activations of real and generated faces, per
  classifier (:func:`metrics.frechet_distance`).
- Table IV: smoothness (:func:`metrics.smoothness`) of the classifier's confidence in emotion e along
  rho_j = 0.1 j, j = 1..10, on neutral held-out faces (mean confidence over faces per step), per emotion and averaged.
- Table V: discriminator F1, real vs generated: D_src (mean over its patch) thresholded at the median of all scores
  (real and generated sets are the same size; a Wasserstein critic has no fixed threshold, ours); F1 of "real" and
  the macro average over {real, generated}.
- Figures: increasing intensity per emotion (Fig. 9), a 7-emotion sample sheet (Fig. 10), the learned directions on
  the unit circle, and a (theta, rho) grid showing the gamut.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf
import keras

from .. import conditioning
from . import metrics
from .common import (Progress, classifier_features, figure, inference_fn, predict, save_figure, set_bn_momentum,
                     show_image_rows, zero_init_residuals)

IMAGENET_BGR_MEANS = (103.939, 116.779, 123.68)
CLASSIFIERS = ("vgg16", "resnet50")
MIN_INPUT = 32


@keras.saving.register_keras_serializable(package="tfgan_emotion")
class CaffePreprocess(keras.layers.Layer):
    """[-1, 1] RGB -> the caffe input of VGG16/ResNet50: 0-255, BGR, ImageNet channel means subtracted."""

    def call(self, x):
        x = (tf.cast(x, self.compute_dtype) + 1.0) * 127.5
        return x[..., ::-1] - tf.constant(IMAGENET_BGR_MEANS, self.compute_dtype)


def build_classifier(name: str, image_size: int, n_classes: int = 7, weights=None, seed: int = 0,
                     input_size: int | None = None) -> keras.Model:
    """``vgg16`` or ``resnet50`` emotion classifier (module docstring): image in [-1, 1] -> logits. ``input_size``:
    the network's own input side (images are resized to it inside the model; default the image size, at least
    32)."""
    if name not in CLASSIFIERS:
        raise ValueError(f"classifier must be one of {CLASSIFIERS}, got {name!r}")
    if weights is not None and not Path(weights).is_file():
        raise FileNotFoundError(f"{name} ImageNet weights not found: '{weights}'. Pass the Keras "
                                f"'{name}_weights_tf_dim_ordering_tf_kernels_notop.h5' file, or leave the flag out to "
                                "train the classifier from random weights.")
    keras.utils.set_random_seed(seed)
    size = max(int(input_size or image_size), MIN_INPUT)
    x = inputs = keras.Input((image_size, image_size, 3), name="image")
    if image_size != size:
        x = keras.layers.Resizing(size, size, name="resize")(x)
    x = CaffePreprocess(name="caffe_preprocess")(x)
    app = keras.applications.VGG16 if name == "vgg16" else keras.applications.ResNet50
    base = app(include_top=False, weights=None if weights is None else str(weights), input_shape=(size, size, 3),
               pooling="avg")
    if name == "resnet50" and weights is None:
        zero_init_residuals(base)
        set_bn_momentum(base, 0.9)
    h = keras.layers.Dense(256, activation="relu", name="features")(base(x))
    h = keras.layers.Dropout(0.5, name="dropout")(h)
    out = keras.layers.Dense(n_classes, dtype="float32", name="logits")(h)
    model = keras.Model(inputs, out, name=f"{name}_emotion")
    model.pretrained = weights is not None
    return model


def _softmax(model, images, n_classes: int = 7) -> np.ndarray:
    """[N, n_classes] class probabilities; a classifier trained on fewer classes (``class_ids``, set by
    :func:`common.train_classifier`) gives 0 to the classes it never saw."""
    p = tf.nn.softmax(predict(model, images)).numpy()
    ids = list(getattr(model, "class_ids", range(p.shape[1])))
    out = np.zeros((len(p), n_classes), np.float32)
    out[:, ids] = p[:, :len(ids)]
    return out


def _edit_batches(gan, faces, emotion: int, rho: float, batch_size: int = 64) -> np.ndarray:
    return np.concatenate([gan.edit_emotion(faces[s:s + batch_size], emotion, rho).numpy()
                           for s in range(0, len(faces), batch_size)])


def generated_set(gan, faces, n_classes: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Every face edited to every class at rho = 1 (neutral: rho = 0): images [n_classes * N] and their classes."""
    images = [_edit_batches(gan, faces, k, 0.0 if k == 0 else 1.0) for k in range(n_classes)]
    return np.concatenate(images), np.repeat(np.arange(n_classes), len(faces))


def classifier_scores(clf, real, real_labels, fake, fake_labels, n_classes: int = 7) -> dict:
    """Macro F1 on real and on generated faces, and FED between their ``features``."""
    pred_real = np.argmax(_softmax(clf, real, n_classes), -1)
    pred_fake = np.argmax(_softmax(clf, fake, n_classes), -1)
    return {"f1_real": metrics.f1(real_labels, pred_real, "macro", n_classes),
            "accuracy_real": float(np.mean(pred_real == real_labels)),
            "f1_generated": metrics.f1(fake_labels, pred_fake, "macro", n_classes),
            "accuracy_generated": float(np.mean(pred_fake == fake_labels)),
            "fed": metrics.frechet_distance(classifier_features(clf, real, "features"),
                                            classifier_features(clf, fake, "features"))}


def smoothness_curves(gan, clf, neutral_faces, n_classes: int = 7) -> np.ndarray:
    """[n_classes - 1, 10]: mean confidence of emotion e over the faces edited at rho = 0.1 j."""
    return np.array([[float(_softmax(clf, _edit_batches(gan, neutral_faces, e, rho), n_classes)[:, e].mean())
                      for rho in conditioning.SMOOTHNESS_RHO] for e in range(1, n_classes)])


def smoothness_table(curves, names) -> dict:
    per = {n: metrics.smoothness(c) for n, c in zip(names, curves)}
    finite = [v for v in per.values() if np.isfinite(v)]
    return {"per_emotion": per, "average": float(np.mean(finite)) if finite else float("nan"),
            "non_rising": [n for n, v in per.items() if not np.isfinite(v)], "curves": np.asarray(curves).tolist()}


def discriminator_f1(gan, real, fake) -> dict:
    """Table V analogue (module docstring)."""
    def scores(x):
        fn = inference_fn(gan.discriminator)
        out = []
        for s in range(0, len(x), 256):
            src = fn(tf.convert_to_tensor(np.asarray(x[s:s + 256], np.float32)))[0]
            out.append(tf.reduce_mean(tf.cast(src, tf.float32), axis=[1, 2, 3]).numpy())
        return np.concatenate(out)

    s_real, s_fake = scores(real), scores(fake)
    threshold = float(np.median(np.concatenate([s_real, s_fake])))
    truth = np.concatenate([np.ones(len(s_real), int), np.zeros(len(s_fake), int)])
    pred = (np.concatenate([s_real, s_fake]) > threshold).astype(int)
    return {"f1_real": metrics.f1(truth, pred, "binary", positive=1),
            "f1_generated": metrics.f1(truth, pred, "binary", positive=0),
            "f1_average": metrics.f1(truth, pred, "macro", 2), "threshold": threshold,
            "mean_score_real": float(s_real.mean()), "mean_score_generated": float(s_fake.mean())}


# -- figures --------------------------------------------------------------------------------------------------------
def save_intensity_figure(gan, face, names, path) -> Path:
    """Fig. 9 analogue: one neutral face, a row per emotion, rho = 0.1 .. 1.0."""
    face = np.asarray(face, np.float32)[None]
    rows = [np.concatenate([gan.edit_emotion(face, e, rho).numpy() for rho in conditioning.SMOOTHNESS_RHO])
            for e in range(1, len(names))]
    fig = figure((1.0 * len(conditioning.SMOOTHNESS_RHO) + 1.5, 1.0 * len(rows) + 1.0))
    show_image_rows(fig, np.stack(rows), col_titles=[f"rho {r:.1f}" for r in conditioning.SMOOTHNESS_RHO],
                    row_titles=list(names[1:]), title="Increasing emotion intensity (paper Fig. 9)")
    return save_figure(fig, path)


def save_sample_sheet(gan, faces, names, path) -> Path:
    """Fig. 10 analogue: rows = input faces; columns = input, then the 7 classes at rho = 1 (neutral rho = 0)."""
    faces = np.asarray(faces, np.float32)
    cols = [faces] + [gan.edit_emotion(faces, k, 0.0 if k == 0 else 1.0).numpy() for k in range(len(names))]
    fig = figure((1.0 * len(cols) + 1.0, 1.0 * len(faces) + 1.0))
    show_image_rows(fig, np.stack(cols, axis=1), col_titles=["input"] + list(names),
                    title="The 7 emotions at full intensity (paper Fig. 10)")
    return save_figure(fig, path)


def save_directions_figure(unit_directions, names, path) -> Path:
    """The learned emotion directions on the unit circle, with their angles."""
    u = np.asarray(unit_directions, float)
    angles = conditioning.direction_angles(u, names)
    fig = figure((4.6, 4.6))
    ax = fig.subplots()
    t = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(t), np.sin(t), color="0.7", lw=1)
    ax.plot(0.2 * np.cos(t), 0.2 * np.sin(t), color="0.8", lw=1, ls="--")
    for (x, y), name in zip(u, names):
        ax.annotate("", (x, y), (0, 0), arrowprops=dict(arrowstyle="->", lw=1.5))
        ax.text(1.12 * x, 1.12 * y, f"{name}\n{angles[name]:.0f} deg", ha="center", va="center", fontsize=8)
    ax.text(0, 0, "neutral", ha="center", va="center", fontsize=7, color="0.4")
    ax.set_xlim(-1.45, 1.45)
    ax.set_ylim(-1.45, 1.45)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("Learned emotion directions (linear conditional space)", fontsize=10)
    return save_figure(fig, path)


def save_gamut_figure(gan, face, path, thetas: int = 12, rhos=(0.25, 0.5, 0.75, 1.0)) -> Path:
    """One face over a (theta, rho) grid: the gamut of the learned space, including angles between emotions."""
    face = np.asarray(face, np.float32)[None]
    th = np.arange(thetas) * 2 * np.pi / thetas
    rows = [np.concatenate([gan.edit(face, t, r).numpy() for t in th]) for r in rhos]
    fig = figure((1.0 * thetas + 1.5, 1.0 * len(rhos) + 1.0))
    show_image_rows(fig, np.stack(rows), col_titles=[f"{np.degrees(t):.0f} deg" for t in th],
                    row_titles=[f"rho {r:.2f}" for r in rhos], title="The (theta, rho) gamut")
    return save_figure(fig, path)


def save_smoothness_figure(curves, names, path, title: str) -> Path:
    fig = figure((6.0, 3.8))
    ax = fig.subplots()
    for c, n in zip(np.asarray(curves), names):
        ax.plot(conditioning.SMOOTHNESS_RHO, c, marker="o", markersize=3, label=n)
    ax.set_xlabel("rho (intensity)")
    ax.set_ylabel("classifier confidence in the emotion")
    ax.set_ylim(0, 1)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(title, fontsize=10)
    return save_figure(fig, path)


def evaluate(gan, train, held, names, classifier_steps: int, weights: dict | None = None, seed: int = 0,
             log=print, figures_dir=None, max_eval_faces: int = 200, classifier_size: int | None = None) -> dict:
    """The whole section-VI protocol (module docstring). ``train``/``held``: dicts with ``image`` and
    ``expression`` (AffectNet order); ``classifier_size``: the classifiers' input side (default the image size).
    Returns the metrics dict; writes the figures to ``figures_dir``."""
    from .common import train_classifier, warmup_cosine

    weights = weights or {}
    n = len(names)
    # An even spread over the held-out faces (they come video by video: the first ones are one person).
    pick = np.unique(np.linspace(0, len(held["image"]) - 1, min(max_eval_faces, len(held["image"]))).astype(int))
    real = np.asarray(held["image"], np.float32)[pick]
    real_labels = np.asarray(held["expression"], np.int64)[pick]
    neutral = real[real_labels == 0]
    if len(neutral) == 0:
        log("no neutral held-out face: the smoothness study uses all held-out faces as inputs")
        neutral = real
    neutral = neutral[:max(8, max_eval_faces // 4)]
    per_class = max(1, len(real) // n)
    fake, fake_labels = generated_set(gan, real[:per_class], n)
    out = {"eval_faces": int(len(real)), "generated_faces": int(len(fake)), "neutral_inputs": int(len(neutral)),
           "classifier_input_size": int(max(classifier_size or gan.config.image_size, MIN_INPUT)), "classifiers": {}}
    progress = Progress("GANmut evaluation", len(CLASSIFIERS), "classifiers", log)
    seen = np.unique(np.asarray(train["expression"]))
    if len(seen) < n:
        log(f"the training faces show {len(seen)} of the {n} classes: the classifiers cannot predict the others")
    for k, name in enumerate(CLASSIFIERS, start=1):
        clf = build_classifier(name, gan.config.image_size, len(seen), weights.get(name), seed=seed,
                               input_size=classifier_size)
        peak = 2e-4 if name == "vgg16" else 1e-3   # VGG16 has no batch norm: a smaller step
        train_classifier(train["image"], train["expression"], steps=classifier_steps, batch_size=32,
                         lr=warmup_cosine(peak, classifier_steps), seed=seed, log=log, model=clf,
                         what=f"{name} emotion classifier")
        scores = classifier_scores(clf, real, real_labels, fake, fake_labels, n)
        curves = smoothness_curves(gan, clf, neutral, n)
        scores["smoothness"] = smoothness_table(curves, names[1:])
        scores["pretrained"] = bool(clf.pretrained)
        out["classifiers"][name] = scores
        log(f"{name}: F1 real {scores['f1_real']:.3f}, generated {scores['f1_generated']:.3f}, FED "
            f"{scores['fed']:.2f}, smoothness {scores['smoothness']['average']:.3f}")
        if figures_dir is not None:
            save_smoothness_figure(curves, names[1:], Path(figures_dir) / f"smoothness_{name}.png",
                                   f"{name}: confidence along rho (Table IV curves)")
        progress.update(k)
    out["discriminator"] = discriminator_f1(gan, real[:len(fake)], fake[:len(real)])
    out["directions_degrees"] = conditioning.direction_angles(gan.unit_directions(), names[1:])
    if figures_dir is not None:
        fd = Path(figures_dir)
        save_intensity_figure(gan, neutral[0], names, fd / "fig9_intensity.png")
        save_sample_sheet(gan, real[np.linspace(0, len(real) - 1, min(6, len(real))).astype(int)], names,
                          fd / "fig10_sample_sheet.png")
        save_directions_figure(gan.unit_directions(), names[1:], fd / "directions.png")
        save_gamut_figure(gan, neutral[0], fd / "gamut.png")
    return out
