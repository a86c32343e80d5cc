"""FExGAN evaluation (paper 004 sections 4-5).

- :func:`discriminator_table`: paper Table 1, the discriminator's binary (real/fake) and multi-class (affect)
  accuracy on real images and on generated ones.
- :func:`transfer_table`: an expression classifier trained on the training images (NOT the GAN's discriminator,
  which the generator was trained to please) reads every face transferred to every affect; per-affect accuracy.
- :func:`character_preservation` (synthetic characters): share of transfers a character classifier still
  assigns to the source character.
- Figures: :func:`save_random_sheet` (Fig. 4, random latent vectors x every affect), :func:`save_transfer_sheet`
  (Fig. 5, each character's neutral face decoded with every affect), :func:`save_mix_sheet` (Fig. 6, two affects
  on at once, plus slider rows from one affect to the other).

Generated images use the encoder's mean mu (no sampling noise), so the numbers and figures are deterministic. When
the model trained on randomly cropped and jittered pairs (paper 4.1), Table 1 reads faces pre-processed the same way
(one seeded window per face, :func:`pipeline.crop_jitter_arrays`): the paper pre-processed every image before it
split off the validation set. The transfer accuracy and the figures use the faces without jitter.
``model`` is a :class:`tfgan_emotion.gans.fexgan.FExGAN`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from ..data import labels as label_sets
from .common import (class_predictor, figure, inference_fn, preservation, save_figure, show_image_rows,
                     transfer_accuracy)

VOCAB = label_sets.FERG.names


def _one_hot(classes, n) -> np.ndarray:
    return np.eye(n, dtype=np.float32)[np.asarray(classes, np.int64)]


def transfer(model, images, source_classes, target, batch_size: int = 64) -> np.ndarray:
    """Transfer ``images`` (sources of ``source_classes``) to ``target``: class indices [N] or vectors [N, 7]."""
    n_classes = model.config.n_classes
    images = np.asarray(images, np.float32)
    target = np.asarray(target)
    target = _one_hot(target, n_classes) if target.ndim == 1 else target.astype(np.float32)
    a_s = _one_hot(source_classes, n_classes)
    out = [model.transfer(images[s:s + batch_size], a_s[s:s + batch_size], target[s:s + batch_size]).numpy()
           for s in range(0, len(images), batch_size)]
    return np.concatenate(out) if out else np.zeros((0,) + images.shape[1:], np.float32)


def _disc_outputs(model, images, batch_size=128):
    fn = inference_fn(model.discriminator)
    real, cls = [], []
    for s in range(0, len(images), batch_size):
        r, c = fn(tf.convert_to_tensor(images[s:s + batch_size], tf.float32))
        real.append(r.numpy()[:, 0])
        cls.append(np.argmax(c.numpy(), -1))
    return np.concatenate(real), np.concatenate(cls)


def discriminator_table(model, images, classes, target_classes, batch_size: int = 64) -> dict:
    """Paper Table 1 on one split: ``real_binary`` (share of real images with D_bin > 0.5), ``real_multi`` (share
    whose affect head names their class), ``fake_binary`` (share of generated images with D_bin < 0.5),
    ``fake_multi`` (share whose affect head names the target class). Generated = ``images`` transferred to
    ``target_classes``."""
    images = np.asarray(images, np.float32)
    classes = np.asarray(classes, np.int64)
    target_classes = np.asarray(target_classes, np.int64)
    fakes = transfer(model, images, classes, target_classes, batch_size)
    r_bin, r_cls = _disc_outputs(model, images)
    f_bin, f_cls = _disc_outputs(model, fakes)
    return {"real_binary": float(np.mean(r_bin > 0.5)), "real_multi": float(np.mean(r_cls == classes)),
            "fake_binary": float(np.mean(f_bin < 0.5)), "fake_multi": float(np.mean(f_cls == target_classes)),
            "n": int(len(images))}


def transfer_table(model, images, classes, classifier, batch_size: int = 64, log=print) -> dict:
    """Every face transferred to every affect; ``classifier`` (images -> class) reads the results.

    Returns {"per_affect": {name: accuracy}, "mean": mean over affects, "real_accuracy": the classifier's accuracy
    on the untransferred faces (its own ceiling), "confusion": [target][predicted] counts, "n_images"}."""
    n_classes = model.config.n_classes
    images = np.asarray(images, np.float32)
    names = VOCAB if n_classes == len(VOCAB) else None
    out = transfer_accuracy(lambda x, k: transfer(model, x, classes, np.full(len(x), k), batch_size), images,
                            n_classes, classifier, names, log)
    out["per_affect"] = out.pop("per_class")
    out["real_accuracy"] = float(np.mean(class_predictor(classifier)(images) == np.asarray(classes)))
    return out


def character_preservation(model, images, classes, characters, classifier, batch_size: int = 64) -> dict:
    """Share of transfers (every face to every affect) still classified as the source character."""
    return preservation(lambda x, k: transfer(model, x, classes, np.full(len(x), k), batch_size), images,
                        characters, model.config.n_classes, classifier)


# ----------------------------------------------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------------------------------------------
def save_random_sheet(model, path, rows: int = 6, seed: int = 0) -> Path:
    """Fig. 4: ``rows`` latent vectors z ~ N(0, I), each decoded with every affect (columns)."""
    c = model.config
    z = np.random.default_rng(seed).standard_normal((rows, c.latent)).astype(np.float32)
    dec = model.decoder
    cols = [dec([z, np.tile(_one_hot([k], c.n_classes), (rows, 1))], training=False).numpy()
            for k in range(c.n_classes)]
    grid = np.stack(cols, axis=1)
    fig = figure((1.2 * c.n_classes + 1, 1.2 * rows + 0.8))
    show_image_rows(fig, grid, col_titles=VOCAB[:c.n_classes], row_titles=[f"z{i + 1}" for i in range(rows)],
                    title="Random latent vectors z ~ N(0, I) decoded with every affect (paper Fig. 4)")
    return save_figure(fig, path)


def save_transfer_sheet(model, faces, source_classes, row_titles, path) -> Path:
    """Fig. 5: each face (one per character, neutral in the paper) encoded and decoded with every affect."""
    c = model.config
    faces = np.asarray(faces, np.float32)
    cols = [faces] + [transfer(model, faces, source_classes, np.full(len(faces), k)) for k in range(c.n_classes)]
    fig = figure((1.2 * (c.n_classes + 1) + 1, 1.2 * len(faces) + 0.8))
    show_image_rows(fig, np.stack(cols, axis=1), col_titles=("input",) + VOCAB[:c.n_classes],
                    row_titles=row_titles, title="Each character's neutral face decoded with every affect (paper Fig. 5)")
    return save_figure(fig, path)


def mix_condition(first: str, second: str, weight_second: float = 1.0, weight_first: float = 1.0) -> np.ndarray:
    """Condition vector with two affects on: ``weight_first`` on ``first``, ``weight_second`` on ``second``."""
    v = np.zeros(len(VOCAB), np.float32)
    v[VOCAB.index(first)] = weight_first
    v[VOCAB.index(second)] = weight_second
    return v


def save_mix_sheet(model, faces, source_classes, row_titles, path, mixes, slider_steps: int = 11) -> Path:
    """Fig. 6: for each mix (a, b): rows of faces with a, b and a+b (both on, paper Fig. 6), and one slider row of
    the first face going from a to b with weights (1 - w, w), w = 0 .. 1 in ``slider_steps`` steps."""
    faces = np.asarray(faces, np.float32)
    n = len(faces)
    sheets = []
    for a, b in mixes:
        conds = [mix_condition(a, b, 0.0), mix_condition(a, b, 1.0, 0.0), mix_condition(a, b)]
        block = np.stack([faces] + [transfer(model, faces, source_classes, np.tile(v, (n, 1))) for v in conds], 1)
        ws = np.linspace(0.0, 1.0, slider_steps)
        slider = transfer(model, np.repeat(faces[:1], slider_steps, 0), np.repeat(source_classes[:1], slider_steps),
                          np.stack([mix_condition(a, b, w, 1.0 - w) for w in ws]))
        sheets.append((a, b, block, slider, ws))
    ncol = max(4, slider_steps)
    nrow = sum(len(s[2]) + 1 for s in sheets)
    fig = figure((1.0 * ncol + 1.5, 1.0 * nrow + 1.2))
    subs = fig.subfigures(len(sheets), 1, height_ratios=[len(s[2]) + 1 for s in sheets])
    for sub, (a, b, block, slider, ws) in zip(np.atleast_1d(subs), sheets):
        top, bottom = sub.subfigures(2, 1, height_ratios=[len(block), 1])
        show_image_rows(top, block, col_titles=("input", a, b, f"{a}+{b}"), row_titles=row_titles,
                        title=f"{a} + {b} (both affects on)")
        show_image_rows(bottom, slider[None], col_titles=[f"{1 - w:.1f}/{w:.1f}" for w in ws],
                        row_titles=[f"{a}->{b}"])
    fig.suptitle("Mixed expressions (paper Fig. 6) and sliders between the two affects")
    return save_figure(fig, path)


def neutral_per_character(val: dict):
    """(faces, classes, names): one neutral face of every character in ``val`` (paper Fig. 5's inputs)."""
    neutral = label_sets.FERG.index("neutral")
    idx, names = [], []
    for c, name in enumerate(label_sets.FERG_CHARACTERS):
        hit = np.flatnonzero((val["character"] == c) & (val["expression"] == neutral))
        if len(hit):
            idx.append(int(hit[0]))
            names.append(name)
    idx = np.asarray(idx, np.int64)
    return val["image"][idx], val["expression"][idx], names


def evaluate(model, train: dict, val: dict, ev: dict, figures_dir, mixes, seed: int = 0,
             character_preservation_too: bool = False, table1_crop_jitter: bool = False, log=print) -> dict:
    """Paper 004 sections 4-5 on one run: Table 1 (discriminator accuracy on training and validation faces, real and
    transferred; ``table1_crop_jitter``: on faces randomly cropped and jittered as in training, module docstring),
    transfer accuracy by an independent expression classifier trained on ``train``, Fig. 4-6 in ``figures_dir``;
    ``character_preservation_too`` (synthetic characters) adds character preservation.
    ``train``/``val``: dicts of ``image``, ``expression``, ``character``."""
    from ..data.pipeline import crop_jitter_arrays
    from .common import train_classifier

    n_classes = len(label_sets.FERG.names)
    rng = np.random.default_rng(seed + 7)
    n = min(ev["eval_faces"], len(val["image"]))
    pick = np.sort(rng.permutation(len(val["image"]))[:n])
    faces = {k: v[pick] for k, v in val.items()}
    ntr = min(n, len(train["image"]))
    tr = {k: v[:ntr] for k, v in train.items()}
    log(f"Table 1: discriminator accuracy on {ntr} training and {n} validation faces, real and transferred"
        + (", randomly cropped and jittered as in training" if table1_crop_jitter else ""))
    table1 = {split: discriminator_table(model, crop_jitter_arrays(d["image"], seed + k) if table1_crop_jitter
                                         else d["image"], d["expression"], rng.integers(0, n_classes, len(d["image"])))
              for k, (split, d) in enumerate((("train", tr), ("val", faces)))}
    metrics = {"table1_discriminator": table1}
    clf = train_classifier(train["image"], train["expression"], steps=ev["classifier_steps"], seed=seed,
                           what="expression classifier", log=log)
    metrics["transfer"] = transfer_table(model, faces["image"], faces["expression"], clf, log=log)
    if character_preservation_too:
        chars = train_classifier(train["image"], train["character"], steps=max(1, ev["classifier_steps"] // 2),
                                 seed=seed, what="character classifier", log=log)
        metrics["character_preservation"] = character_preservation(
            model, faces["image"], faces["expression"], faces["character"], chars)
    figures_dir = Path(figures_dir)
    save_random_sheet(model, figures_dir / "fig4_random_latents.png", seed=seed)
    nf, nc, names = neutral_per_character(val)
    if len(nf):
        save_transfer_sheet(model, nf, nc, names, figures_dir / "fig5_transfer.png")
        save_mix_sheet(model, nf, nc, names, figures_dir / "fig6_mixed.png", mixes)
    else:
        log("no neutral validation face: Fig. 5 and 6 skipped")
    return metrics
