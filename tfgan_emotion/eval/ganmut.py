"""GANmut evaluation (paper 002 section VI; SPECS "GANmut", Metrics).

- Emotion classifiers (VI.A): keras.applications VGG16 and ResNet50 "fine-tuned for emotion classification" from
  ImageNet on a separate balanced labelled set (the paper's: AffectNet's pre-cropped images, classes balanced),
  never the GAN's training images unless the caller has nothing else (its fallback, which the run states). The
  paper names the ingredients of its fine-tuning and not their values; the values here are ours:
  augmentation = the GAN's own loader transforms (rotation +-7.5 deg, shift +-7.5 px, zoom 1.075-1.15, horizontal
  flip; inside the model, active only in training); "additional dense layers and dropout" = global average pool,
  dense 512 ReLU, dropout 0.5, dense 256 ReLU named ``features`` (the FED layer), dropout 0.5, one logit per class;
  "learning rate schedulers" = linear warm-up then cosine decay; "unfreezing the last convolutional block" = with
  ImageNet weights, a first third of the steps trains the head on frozen ImageNet layers (Adam peak 1e-3), the rest
  unfreezes the last block (VGG16 ``block5``, ResNet50 ``conv5``) at peak 1e-4, earlier blocks stay frozen.
  ``weights``: a path to the Keras ImageNet "notop" weight file of the network (nothing is downloaded); without it
  the network starts from random weights (``weights=None``) and trains whole in one phase, which the report says.
  Inputs in [-1, 1] are mapped to the networks' own caffe preprocessing (0-255, BGR, ImageNet channel means
  subtracted). ResNet50 from scratch gets zero-gamma residual blocks and BN momentum 0.9
  (:func:`common.zero_init_residuals`).
- Tables I/II: macro F1 of each classifier on held-out real faces ("Real") and on generated faces (each held-out
  face edited to each class at rho = 1, neutral at rho = 0; the requested class is the truth). When the
  classifier set has a validation split, the classifiers' accuracy and F1 on it are reported too.
- Table III: FED = Frechet distance between the ``features`` activations of real and generated faces, per
  classifier (:func:`metrics.frechet_distance`).
- Table IV: smoothness (:func:`metrics.smoothness`) of the classifier's confidence in emotion e along
  rho_j = 0.1 j, j = 1..10, on neutral held-out faces (mean confidence over faces per step), per emotion, and
  :func:`metrics.smoothness_score` averaged as :data:`metrics.SMOOTHNESS_RULE` says (a curve that does not rise is
  left out and counted).
- Table V: discriminator F1 on the GAN's TRAINING images, as paper VI.D ("original training images as real,
  processed by the same data loader used during training"): training faces through the training augmentation
  (``augment``) as "real", the generator's edits of those same inputs as "generated" (what the critic sees in
  training). D_src (mean over its patch) is thresholded at the median of all scores (real and generated sets are
  the same size; a Wasserstein critic has no fixed threshold, ours); F1 of "real", of "generated" and the macro
  average. The same on held-out faces is kept as ``discriminator_held_out``.
- Classes: ``names`` in class order, neutral first (class 0 is the centre of GANmut's space): GANmut's 7
  (AffectNet's first 7) on the paper's data, the data's own classes on a run on your own data; every table, per-class
  score and figure is named and sized from them.
- Figures: each training set's emotion distribution (Fig. 8), increasing intensity per emotion (Fig. 9), a
  sample sheet of every class (Fig. 10), the learned directions on the unit circle, and a (theta, rho) grid showing the
  gamut.
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


LAST_BLOCK = {"vgg16": "block5_", "resnet50": "conv5_"}   # the layer-name prefix of each network's last conv block
HEAD_UNITS = (512, 256)      # "additional dense layers" (paper VI.A; the sizes are ours), each followed by dropout
DROPOUT = 0.5


def build_classifier(name: str, image_size: int, n_classes: int = 7, weights=None, seed: int = 0,
                     input_size: int | None = None, augment: bool = True) -> keras.Model:
    """``vgg16`` or ``resnet50`` emotion classifier (module docstring): image in [-1, 1] -> logits. ``input_size``:
    the network's own input side (images are resized to it inside the model; default the image size, at least
    32). ``augment``: the training-time augmentation layer (identity in inference)."""
    if name not in CLASSIFIERS:
        raise ValueError(f"classifier must be one of {CLASSIFIERS}, got {name!r}")
    if weights is not None and not Path(weights).is_file():
        raise FileNotFoundError(f"{name} ImageNet weights not found: '{weights}'. Pass the Keras "
                                f"'{name}_weights_tf_dim_ordering_tf_kernels_notop.h5' file, or leave the flag out to "
                                "train the classifier from random weights.")
    from ..data import pipeline

    keras.utils.set_random_seed(seed)
    size = max(int(input_size or image_size), MIN_INPUT)
    x = inputs = keras.Input((image_size, image_size, 3), name="image")
    if augment:
        x = pipeline.augment_layer(image_size, seed=seed)(x)
    if image_size != size:
        x = keras.layers.Resizing(size, size, name="resize")(x)
    x = CaffePreprocess(name="caffe_preprocess")(x)
    app = keras.applications.VGG16 if name == "vgg16" else keras.applications.ResNet50
    base = app(include_top=False, weights=None if weights is None else str(weights), input_shape=(size, size, 3),
               pooling="avg", name=name)
    if name == "resnet50" and weights is None:
        zero_init_residuals(base)
        set_bn_momentum(base, 0.9)
    h = base(x)
    for k, units in enumerate(HEAD_UNITS, start=1):
        last = k == len(HEAD_UNITS)
        h = keras.layers.Dense(units, activation="relu", name="features" if last else f"dense_{k}")(h)
        h = keras.layers.Dropout(DROPOUT, name="dropout" if last else f"dropout_{k}")(h)
    out = keras.layers.Dense(n_classes, dtype="float32", name="logits")(h)
    model = keras.Model(inputs, out, name=f"{name}_emotion")
    model.pretrained = weights is not None
    return model


def freeze_for_phase(model: keras.Model, name: str, phase: str) -> int:
    """Which ImageNet layers train (module docstring): ``phase`` "head" freezes the whole network, "last_block"
    unfreezes its last conv block only, "all" everything. Returns the number of trainable base layers."""
    base = model.get_layer(name)
    base.trainable = phase != "head"
    trainable = 0
    if phase != "head":
        for layer in base.layers:
            layer.trainable = phase == "all" or layer.name.startswith(LAST_BLOCK[name])
            trainable += bool(layer.trainable and layer.weights)
    return trainable


def train_emotion_classifier(name: str, images, labels, steps: int, image_size: int, weights=None, seed: int = 0,
                             input_size: int | None = None, log=print, batch_size: int = 32) -> keras.Model:
    """Build and fine-tune one classifier on ``images`` / ``labels`` (the run's class indices, neutral 0) with the
    recipe of the module docstring; the model's ``class_ids`` are the classes it saw and ``phases`` what it trained
    when."""
    from .common import train_classifier, warmup_cosine

    labels = np.asarray(labels).reshape(-1)
    seen = np.unique(labels)
    clf = build_classifier(name, image_size, len(seen), weights, seed=seed, input_size=input_size)
    if clf.pretrained:
        head = max(1, int(steps) // 3)
        rest = max(1, int(steps) - head)
        freeze_for_phase(clf, name, "head")
        train_classifier(images, labels, head, batch_size, lr=warmup_cosine(1e-3, head), seed=seed, log=log,
                         model=clf, what=f"{name} emotion classifier, head on frozen ImageNet layers")
        freeze_for_phase(clf, name, "last_block")
        train_classifier(images, labels, rest, batch_size, lr=warmup_cosine(1e-4, rest), seed=seed + 1, log=log,
                         model=clf, what=f"{name} emotion classifier, last block unfrozen")
        clf.phases = ({"trains": "head", "steps": head, "peak_lr": 1e-3},
                      {"trains": f"{LAST_BLOCK[name]}* + head", "steps": rest, "peak_lr": 1e-4})
    else:
        peak = 2e-4 if name == "vgg16" else 1e-3   # VGG16 has no batch norm: a smaller step
        train_classifier(images, labels, steps, batch_size, lr=warmup_cosine(peak, steps), seed=seed, log=log,
                         model=clf, what=f"{name} emotion classifier")
        clf.phases = ({"trains": "all (random initial weights)", "steps": int(steps), "peak_lr": peak},)
    return clf


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


FED_UNDEFINED = ("the classifier's feature layer gives the same output for every real face (it learned nothing), "
                 "so FED, a distance between feature distributions, is undefined (NaN), not 0")


def classifier_scores(clf, real, real_labels, fake, fake_labels, n_classes: int = 7) -> dict:
    """Macro F1 on real and on generated faces, and FED between their ``features`` (NaN with ``fed_undefined``
    when the features of the real faces do not vary: a dead feature layer would otherwise score a perfect 0)."""
    pred_real = np.argmax(_softmax(clf, real, n_classes), -1)
    pred_fake = np.argmax(_softmax(clf, fake, n_classes), -1)
    f_real, f_fake = classifier_features(clf, real, "features"), classifier_features(clf, fake, "features")
    constant = float(np.var(np.asarray(f_real, np.float64), axis=0).sum()) <= 1e-12
    return {"f1_real": metrics.f1(real_labels, pred_real, "macro", n_classes),
            "accuracy_real": float(np.mean(pred_real == real_labels)),
            "f1_generated": metrics.f1(fake_labels, pred_fake, "macro", n_classes),
            "accuracy_generated": float(np.mean(pred_fake == fake_labels)),
            "classes_predicted_real": int(len(np.unique(pred_real))),
            "fed": float("nan") if constant else metrics.frechet_distance(f_real, f_fake),
            **({"fed_undefined": FED_UNDEFINED} if constant else {})}


def smoothness_curves(gan, clf, neutral_faces, n_classes: int = 7) -> np.ndarray:
    """[n_classes - 1, 10]: mean confidence of emotion e over the faces edited at rho = 0.1 j."""
    return np.array([[float(_softmax(clf, _edit_batches(gan, neutral_faces, e, rho), n_classes)[:, e].mean())
                      for rho in conditioning.SMOOTHNESS_RHO] for e in range(1, n_classes)])


def smoothness_table(curves, names) -> dict:
    """Per-emotion smoothness and the average by :data:`metrics.SMOOTHNESS_RULE` (one rule, that of
    :func:`metrics.smoothness_score`): ``average`` over the rising curves, ``rising`` of ``emotions`` counted,
    ``non_rising`` named."""
    per = {n: metrics.smoothness(c) for n, c in zip(names, curves)}
    return {"per_emotion": per, "average": metrics.smoothness_score(curves),
            "rising": metrics.smoothness_rising(curves), "emotions": len(per),
            "non_rising": [n for n, v in per.items() if not np.isfinite(v)], "rule": metrics.SMOOTHNESS_RULE,
            "curves": np.asarray(curves).tolist()}


def spread(total: int, n: int) -> np.ndarray:
    """``min(n, total)`` indices spread evenly over ``range(total)`` (faces come video by video: the first ones are
    one person)."""
    return np.unique(np.linspace(0, total - 1, min(int(n), total)).astype(int)) if total else np.zeros(0, int)


def discriminator_inputs(gan, train_images, n: int, augment=None, n_classes: int = 7):
    """Table V's sets on the GAN's training images (paper VI.D, module docstring): up to ``n`` training faces
    spread over the set, passed through ``augment`` (the training loader's augmentation layer, when given) as
    "real", and the generator's edits of those same inputs to every class as "generated"; equal sizes."""
    real = np.asarray(train_images, np.float32)[spread(len(train_images), n)]
    if augment is not None:
        real = np.concatenate([tf.cast(augment(real[s:s + 256], training=True), tf.float32).numpy()
                               for s in range(0, len(real), 256)])
    per_class = max(1, len(real) // n_classes)
    fake, _ = generated_set(gan, real[:per_class], n_classes)
    return real[:len(fake)], fake[:len(real)]


def discriminator_f1(gan, real, fake) -> dict:
    """Table V (module docstring): F1 of the critic's real/generated decision on ``real`` and ``fake``."""
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
    """Fig. 10 analogue: rows = input faces; columns = input, then every class of ``names`` at rho = 1 (neutral,
    class 0, at rho = 0)."""
    faces = np.asarray(faces, np.float32)
    cols = [faces] + [gan.edit_emotion(faces, k, 0.0 if k == 0 else 1.0).numpy() for k in range(len(names))]
    fig = figure((1.0 * len(cols) + 1.0, 1.0 * len(faces) + 1.0))
    show_image_rows(fig, np.stack(cols, axis=1), col_titles=["input"] + list(names),
                    title=f"The {len(names)} classes at full intensity (paper Fig. 10)")
    return save_figure(fig, path)


def save_directions_figure(unit_directions, names, path, neutral: str = "neutral") -> Path:
    """The learned emotion directions on the unit circle, with their angles (``names``: the emotions, class 1 on;
    ``neutral``: the name of class 0, the centre)."""
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
    ax.text(0, 0, neutral, ha="center", va="center", fontsize=7, color="0.4")
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


def save_distribution_figure(distribution: dict, names, path) -> Path:
    """Fig. 8: one bar chart per training set, ``distribution`` = {set name: {class name: images}} (the run's
    Aff-Wild2 crops, and with the combined set also its AffectNet part and the whole), the count on each bar."""
    sets = list(distribution)
    fig = figure((3.4 * max(1, len(sets)) + 0.6, 3.4))
    axes = fig.subplots(1, max(1, len(sets)), squeeze=False)[0]
    for ax, set_name in zip(axes, sets):
        counts = [int(distribution[set_name].get(n, 0)) for n in names]
        bars = ax.bar(range(len(names)), counts, color="#4878a8")
        ax.set_xticks(range(len(names)), list(names), rotation=45, ha="right", fontsize=8)
        ax.set_title(f"{set_name}: {sum(counts):,} images", fontsize=9)
        ax.tick_params(axis="y", labelsize=7)
        for bar, c in zip(bars, counts):
            ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(), f"{c:,}", ha="center", va="bottom",
                    fontsize=6)
    fig.suptitle("Emotion distribution of the training sets (paper Fig. 8)", fontsize=10)
    return save_figure(fig, path)


def save_crops_figure(examples, detector: str, path) -> Path:
    """Fig. 6 analogue: each example (source image path, crop window (x0, y0, x1, y1), crop path) as the source
    frame with the window drawn, beside the crop the run trains on."""
    from matplotlib.patches import Rectangle
    from PIL import Image

    examples = list(examples)
    fig = figure((4.8, 2.0 * max(1, len(examples)) + 0.4))
    axes = fig.subplots(max(1, len(examples)), 2, squeeze=False)
    for (src, window, crop), (a, b) in zip(examples, axes):
        with Image.open(src) as im:
            a.imshow(np.asarray(im.convert("RGB")))
        x0, y0, x1, y1 = window
        a.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="#e04040", lw=1.5))
        with Image.open(crop) as im:
            b.imshow(np.asarray(im.convert("RGB")))
        for ax in (a, b):
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0][0].set_title("frame", fontsize=9)
    axes[0][1].set_title(f"{detector} crop", fontsize=9)
    fig.suptitle(f"Face crops by {detector} (paper Fig. 6 shows MTCNN beside RetinaFace)", fontsize=10)
    return save_figure(fig, path)


def classifier_set_info(images_labels: dict, n_classes: int, names) -> dict:
    labels = np.asarray(images_labels["expression"], np.int64).reshape(-1)
    counts = np.bincount(labels, minlength=n_classes)
    return {"images": int(len(labels)), "per_class": {names[k]: int(counts[k]) for k in range(n_classes)}}


def evaluate(gan, classifier_set, held, gan_train, names, classifier_steps: int, weights: dict | None = None,
             seed: int = 0, log=print, figures_dir=None, max_eval_faces: int = 200,
             classifier_size: int | None = None, classifier_validation: dict | None = None, augment=None,
             distribution: dict | None = None, crop_examples=None, detector: str = "") -> dict:
    """The whole section-VI protocol (module docstring). ``classifier_set``: the balanced labelled set the two
    classifiers are fine-tuned on (dict ``image``, ``expression`` indices into ``names``), ``classifier_validation``
    its validation split (optional); ``held``: the held-out faces (Tables I-IV); ``gan_train``: the GAN's training
    images (dict ``image``) for the discriminator F1 (Table V), ``augment`` the training loader's augmentation;
    ``distribution``: {training set: {class: count}} for Fig. 8; ``crop_examples``: (frame, window, crop) for the
    Fig. 6 analogue; ``classifier_size``: the classifiers' input side (default the image size). Returns the
    metrics dict; writes the figures to ``figures_dir``."""
    weights = weights or {}
    n = len(names)
    pick = spread(len(held["image"]), max_eval_faces)
    real = np.asarray(held["image"], np.float32)[pick]
    real_labels = np.asarray(held["expression"], np.int64)[pick]
    neutral = real[real_labels == 0]
    inputs = "neutral held-out faces"
    if len(neutral) == 0:
        log("no neutral held-out face: the smoothness study uses all held-out faces as inputs")
        neutral, inputs = real, "all held-out faces (none is labelled neutral)"
    neutral = neutral[:max(8, max_eval_faces // 4)]
    per_class = max(1, len(real) // n)
    fake, fake_labels = generated_set(gan, real[:per_class], n)
    out = {"eval_faces": int(len(real)), "generated_faces": int(len(fake)), "neutral_inputs": int(len(neutral)),
           "smoothness_inputs": inputs,
           "classifier_input_size": int(max(classifier_size or gan.config.image_size, MIN_INPUT)),
           "classifier_set": classifier_set_info(classifier_set, n, names), "classifiers": {}}
    progress = Progress("GANmut evaluation", len(CLASSIFIERS), "classifiers", log)
    seen = np.unique(np.asarray(classifier_set["expression"]))
    if len(seen) < n:
        log(f"the classifier set shows {len(seen)} of the {n} classes: the classifiers cannot predict the others")
    for k, name in enumerate(CLASSIFIERS, start=1):
        clf = train_emotion_classifier(name, classifier_set["image"], classifier_set["expression"],
                                       classifier_steps, gan.config.image_size, weights.get(name), seed=seed,
                                       input_size=classifier_size, log=log)
        scores = classifier_scores(clf, real, real_labels, fake, fake_labels, n)
        if classifier_validation is not None and len(classifier_validation["image"]):
            truth = np.asarray(classifier_validation["expression"], np.int64)
            pred = np.argmax(_softmax(clf, classifier_validation["image"], n), -1)
            scores["validation"] = {"images": int(len(truth)), "accuracy": float(np.mean(pred == truth)),
                                    "f1": metrics.f1(truth, pred, "macro", n)}
        curves = smoothness_curves(gan, clf, neutral, n)
        scores["smoothness"] = smoothness_table(curves, names[1:])
        scores["pretrained"] = bool(clf.pretrained)
        scores["training_phases"] = list(clf.phases)
        out["classifiers"][name] = scores
        log(f"{name}: F1 real {scores['f1_real']:.3f}, generated {scores['f1_generated']:.3f}, FED "
            f"{scores['fed']:.2f}, smoothness {scores['smoothness']['average']:.3f} "
            f"({scores['smoothness']['rising']} of {scores['smoothness']['emotions']} emotions rise)")
        if figures_dir is not None:
            save_smoothness_figure(curves, names[1:], Path(figures_dir) / f"smoothness_{name}.png",
                                   f"{name}: confidence along rho (Table IV curves)")
        progress.update(k)
    if gan.discriminator is None:       # a generator converted from the authors' checkpoint, which has none
        log("no discriminator in this run (a converted generator): no discriminator F1 (Table V)")
    else:
        d_real, d_fake = discriminator_inputs(gan, gan_train["image"], max_eval_faces, augment, n)
        out["discriminator"] = {**discriminator_f1(gan, d_real, d_fake), "images": int(len(d_real) + len(d_fake)),
                                "real_images": "the GAN's training images" + (" through the training augmentation"
                                                                              if augment is not None else "")}
        out["discriminator_held_out"] = discriminator_f1(gan, real[:len(fake)], fake[:len(real)])
    out["directions_degrees"] = conditioning.direction_angles(gan.unit_directions(), names[1:])
    if figures_dir is not None:
        fd = Path(figures_dir)
        if distribution:
            save_distribution_figure(distribution, names, fd / "fig8_emotion_distribution.png")
        if crop_examples:
            save_crops_figure(crop_examples, detector, fd / "fig6_face_crops.png")
        save_intensity_figure(gan, neutral[0], names, fd / "fig9_intensity.png")
        save_sample_sheet(gan, real[np.linspace(0, len(real) - 1, min(6, len(real))).astype(int)], names,
                          fd / "fig10_sample_sheet.png")
        save_directions_figure(gan.unit_directions(), names[1:], fd / "directions.png", neutral=names[0])
        save_gamut_figure(gan, neutral[0], fd / "gamut.png")
    return out
