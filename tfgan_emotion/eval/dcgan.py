"""fer2013 conditional DCGAN evaluation (paper 003 section 3).

The paper judges its results by eye (Fig. 5-7); we add numbers (ours):

- :func:`reconstruction`: the encoder's reconstruction error, mean (x - G(E(x, y), y))^2 (and the mean absolute
  error) on held-out faces with their own labels (what paper eq. 14 minimises).
- :func:`transfer_table`: an expression classifier trained on the training images reads every face transferred to
  every label: accuracy per target label.
- :func:`frechet_distance_real_generated`: Frechet distance between that classifier's penultimate features of
  real held-out faces and of generated faces G(z, y) with z ~ U(-1, 1) and the real faces' labels.
- identity preservation on synthetic faces: :func:`common.preservation` with an identity classifier.

Figures: :func:`save_gallery` (Fig. 5: the 8x8 sample grids written during training, at several steps),
:func:`save_label_sheet` (Fig. 6: faces -> E -> G with label happy; Fig. 7: the same faces with every label).
``model`` is a :class:`tfgan_emotion.gans.dcgan.DCGAN`; ``vocabulary`` (a :class:`data.labels.Vocabulary`, default
fer2013's) names its classes in the tables and figures: a run on your own data passes its data's classes.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..data import labels as label_sets
from .common import (check_images, classifier_features, figure, save_figure, show_image_rows,
                     transfer_accuracy)
from .metrics import frechet_distance


def _names(model, vocabulary) -> tuple:
    """The model's class names: ``vocabulary``'s (default fer2013's), which must name every class of the model."""
    names = tuple((vocabulary or label_sets.FER2013).names)
    n = model.config.n_classes
    if len(names) < n:
        raise ValueError(f"the vocabulary names {len(names)} classes, the model has {n}")
    return names[:n]


def fig6_class(vocabulary) -> tuple[int, str]:
    """(class index, what it is) for Fig. 6, the paper's transfer to happy: the class that is happy, else (data
    without a happy class) the first class that is an emotion other than neutral, else class 0."""
    voc = vocabulary or label_sets.FER2013
    canon = list(voc.canonical)
    if "happy" in canon:
        return canon.index("happy"), voc.names[canon.index("happy")]
    k = next((i for i, c in enumerate(canon) if c not in (None, "neutral")), 0)
    return k, voc.names[k]


def _one_hot(classes, n):
    return np.eye(n, dtype=np.float32)[np.asarray(classes, np.int64)]


def transfer(model, images, classes, batch_size: int = 128) -> np.ndarray:
    """G(E(x, y), y) for the target ``classes`` (one per image)."""
    images = check_images(images)
    y = _one_hot(classes, model.config.n_classes)
    return np.concatenate([model.transfer(images[s:s + batch_size], y[s:s + batch_size]).numpy()
                           for s in range(0, len(images), batch_size)])


def generate(model, n: int, classes, seed: int = 0, batch_size: int = 256) -> np.ndarray:
    """G(z, y) for z ~ U(-1, 1)^z_dim (seeded) and the given ``classes``."""
    c = model.config
    z = np.random.default_rng(seed).uniform(-1, 1, (n, c.z_dim)).astype(np.float32)
    y = _one_hot(classes, c.n_classes)
    return np.concatenate([model.generator([z[s:s + batch_size], y[s:s + batch_size]], training=False).numpy()
                           for s in range(0, n, batch_size)]).astype(np.float32)


def reconstruction(model, images, classes) -> dict:
    """Encoder reconstruction error on faces with their own labels: {"mse", "mae", "n"}."""
    images = check_images(images)
    rec = transfer(model, images, classes)
    return {"mse": float(np.mean((rec - images) ** 2)), "mae": float(np.mean(np.abs(rec - images))),
            "n": int(len(images))}


def transfer_table(model, images, classifier, log=print, vocabulary=None) -> dict:
    """Per-target-label accuracy of ``classifier`` on every face transferred to every label (named by
    ``vocabulary``, default fer2013's)."""
    n = model.config.n_classes
    out = transfer_accuracy(lambda x, k: transfer(model, x, np.full(len(x), k)), images, n, classifier,
                            _names(model, vocabulary), log)
    out["per_label"] = out.pop("per_class")
    return out


def frechet_distance_real_generated(model, classifier, images, classes, seed: int = 0) -> dict:
    """Frechet distance between classifier features of real faces and of as many generated faces (same labels)."""
    images = check_images(images)
    fake = generate(model, len(images), classes, seed=seed)
    d = frechet_distance(classifier_features(classifier, images), classifier_features(classifier, fake))
    return {"frechet_distance": float(d), "n": int(len(images)), "features": "expression classifier fc1"}


# ----------------------------------------------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------------------------------------------
def _step_of(path: Path) -> int:
    return int(re.findall(r"\d+", path.stem)[-1])


def save_gallery(samples_dir, path, steps_per_epoch: int, max_panels: int = 6, last_step: int | None = None
                 ) -> Path | None:
    """Fig. 5: up to ``max_panels`` sample grids written during training up to ``last_step`` (the end of the
    cDCGAN phase: G is frozen afterwards), evenly spaced, first and last included, side by side, titled by epoch.
    None when no sample grid exists."""
    from PIL import Image

    files = sorted(f for f in Path(samples_dir).glob("step_*.png") if last_step is None or _step_of(f) <= last_step)
    if not files:
        return None
    pick = sorted({int(round(i)) for i in np.linspace(0, len(files) - 1, min(max_panels, len(files)))})
    files = [files[i] for i in pick]
    fig = figure((3.2 * len(files), 3.6))
    axes = np.atleast_1d(fig.subplots(1, len(files)))
    for ax, f in zip(axes, files):
        step = _step_of(f)
        ax.imshow(np.asarray(Image.open(f)), cmap="gray", interpolation="nearest")
        ax.set_title(f"step {step} (epoch {step / max(1, steps_per_epoch):.1f})", fontsize=9)
        ax.axis("off")
    fig.suptitle("Generated samples over training, one label per row (paper Fig. 5)")
    return save_figure(fig, path)


def save_label_sheet(model, faces, path, labels=None, title: str = "", vocabulary=None) -> Path:
    """Rows: ``faces``; columns: the input, then G(E(x, y), y) for each of ``labels`` (default every class), titled
    by ``vocabulary``'s names (default fer2013's)."""
    faces = check_images(faces)
    names = _names(model, vocabulary)
    labels = list(range(len(names))) if labels is None else list(labels)
    cols = [faces] + [transfer(model, faces, np.full(len(faces), k)) for k in labels]
    fig = figure((1.1 * (len(labels) + 1) + 1.0, 1.1 * len(faces) + 0.8))
    show_image_rows(fig, np.stack(cols, axis=1), col_titles=["input"] + [names[k] for k in labels],
                    row_titles=[""] * len(faces), title=title)
    return save_figure(fig, path)


def evaluate(model, train: dict, held: dict, ev: dict, figures_dir, samples_dir, steps_per_epoch, gan_steps: int,
             seed: int = 0, identity_probe=None, log=print, vocabulary=None) -> dict:
    """Paper 003's evaluation on one run: encoder reconstruction, transfer accuracy by an expression classifier
    trained on ``train``, the Frechet distance of real vs generated faces, Fig. 5-7 in ``figures_dir`` (Fig. 5 from
    the sample grids in ``samples_dir``); with ``identity_probe`` (synthetic faces of known identity) also identity
    preservation. ``train``/``held``: dicts of ``image`` and ``expression`` (and ``identity`` for the probe).
    ``vocabulary``: the run's classes (default fer2013's), which name the tables and figures."""
    from .common import class_predictor, preservation, train_classifier

    figures_dir = Path(figures_dir)
    metrics = {"reconstruction": reconstruction(model, held["image"], held["expression"])}
    clf = train_classifier(train["image"], train["expression"], steps=ev["classifier_steps"], seed=seed,
                           what="expression classifier", log=log)
    metrics["classifier_accuracy_heldout"] = float(np.mean(class_predictor(clf)(held["image"]) == held["expression"]))
    metrics["transfer"] = transfer_table(model, held["image"], clf, log=log, vocabulary=vocabulary)
    metrics["frechet"] = frechet_distance_real_generated(model, clf, held["image"], held["expression"], seed=seed)
    if identity_probe is not None:
        ids = train_classifier(train["image"], train["identity"], steps=ev["classifier_steps"], seed=seed,
                               what="identity classifier", log=log)
        metrics["identity_preservation"] = preservation(
            lambda x, k: transfer(model, x, np.full(len(x), k)), identity_probe["image"], identity_probe["identity"],
            model.config.n_classes, ids)
    save_gallery(samples_dir, figures_dir / "fig5_gallery.png", steps_per_epoch, last_step=gan_steps)
    faces = held["image"][:8]
    k, name = fig6_class(vocabulary)
    paper = ("" if (vocabulary or label_sets.FER2013).canonical[k] == "happy" else
             ": happy; the data has no happy class")
    save_label_sheet(model, faces, figures_dir / "fig6_happy.png", labels=[k], vocabulary=vocabulary,
                     title=f"Real faces -> E -> G with the label {name} (paper Fig. 6{paper})")
    save_label_sheet(model, faces, figures_dir / "fig7_every_label.png", vocabulary=vocabulary,
                     title="The same faces with every label (paper Fig. 7)")
    return metrics
