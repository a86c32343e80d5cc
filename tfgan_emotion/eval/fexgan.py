"""FExGAN evaluation (paper 004 sections 4-5).

- :func:`discriminator_table`: paper Table 1, the discriminator's binary (real/fake) and multi-class (affect)
  accuracy on real images and on generated ones.
- :func:`transfer_table`: an expression classifier trained on the training images (NOT the GAN's discriminator,
  which the generator was trained to please) reads every face transferred to every affect; per-affect accuracy.
- :func:`character_preservation` (synthetic characters, and own data that names who is shown): share of transfers
  a character classifier still assigns to the source character.
- Figures: :func:`save_random_sheet` (Fig. 4, random latent vectors x every affect), :func:`save_transfer_sheet`
  (Fig. 5, each character's neutral face decoded with every affect), :func:`save_mix_sheet` (Fig. 6, two affects
  on at once, plus slider rows from one affect to the other).

Generated images use the encoder's mean mu (no sampling noise), so the numbers and figures are deterministic. When
the model trained on randomly cropped and jittered pairs (paper 4.1), Table 1 reads faces pre-processed the same way
(one seeded window per face, :func:`pipeline.crop_jitter_arrays`): the paper pre-processed every image before it
split off the validation set. The transfer accuracy and the figures use the faces without jitter.
``model`` is a :class:`tfgan_emotion.gans.fexgan.FExGAN`.

Every function that names affects takes the run's class ``names`` (``vocabulary``): FERG-DB's seven by default, the
data's own classes on a run that trained on them.
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
    """Transfer ``images`` (sources of ``source_classes``) to ``target``: class indices [N] or vectors
    [N, n_classes]."""
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


def transfer_table(model, images, classes, classifier, batch_size: int = 64, log=print, names=None) -> dict:
    """Every face transferred to every affect; ``classifier`` (images -> class) reads the results. ``names``: the
    run's class names (default FERG-DB's when the model has its seven affects, else the indices).

    Returns {"per_affect": {name: accuracy}, "mean": mean over affects, "real_accuracy": the classifier's accuracy
    on the untransferred faces (its own ceiling), "confusion": [target][predicted] counts, "n_images"}."""
    n_classes = model.config.n_classes
    images = np.asarray(images, np.float32)
    if names is None:
        names = VOCAB if n_classes == len(VOCAB) else None
    elif len(names) != n_classes:
        raise ValueError(f"{len(names)} class names for a model of {n_classes} affects")
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
def save_random_sheet(model, path, rows: int = 6, seed: int = 0, names=VOCAB) -> Path:
    """Fig. 4: ``rows`` latent vectors z ~ N(0, I), each decoded with every affect (columns, titled ``names``)."""
    c = model.config
    z = np.random.default_rng(seed).standard_normal((rows, c.latent)).astype(np.float32)
    dec = model.decoder
    cols = [dec([z, np.tile(_one_hot([k], c.n_classes), (rows, 1))], training=False).numpy()
            for k in range(c.n_classes)]
    grid = np.stack(cols, axis=1)
    fig = figure((1.2 * c.n_classes + 1, 1.2 * rows + 0.8))
    show_image_rows(fig, grid, col_titles=tuple(names[:c.n_classes]), row_titles=[f"z{i + 1}" for i in range(rows)],
                    title="Random latent vectors z ~ N(0, I) decoded with every affect (paper Fig. 4)")
    return save_figure(fig, path)


def save_transfer_sheet(model, faces, source_classes, row_titles, path, names=VOCAB,
                        title="Each character's neutral face decoded with every affect (paper Fig. 5)") -> Path:
    """Fig. 5: each face (one per character, neutral in the paper) encoded and decoded with every affect."""
    c = model.config
    faces = np.asarray(faces, np.float32)
    cols = [faces] + [transfer(model, faces, source_classes, np.full(len(faces), k)) for k in range(c.n_classes)]
    fig = figure((1.2 * (c.n_classes + 1) + 1, 1.2 * len(faces) + 0.8))
    show_image_rows(fig, np.stack(cols, axis=1), col_titles=("input",) + tuple(names[:c.n_classes]),
                    row_titles=row_titles, title=title)
    return save_figure(fig, path)


def mix_condition(first: str, second: str, weight_second: float = 1.0, weight_first: float = 1.0,
                  names=VOCAB) -> np.ndarray:
    """Condition vector with two affects on: ``weight_first`` on ``first``, ``weight_second`` on ``second``
    (affects of ``names``, the run's classes)."""
    names = tuple(names)
    v = np.zeros(len(names), np.float32)
    v[names.index(first)] = weight_first
    v[names.index(second)] = weight_second
    return v


def mixes_for(vocabulary, paper_mixes) -> tuple[tuple, str]:
    """(mixes, how): the paper's Fig. 6 pairs (FERG-DB names) as classes of ``vocabulary``, matched by their
    canonical emotion (FERG-DB's joy is AffectNet's happy); the pairs whose two affects the vocabulary lacks are
    left out. When none is left, the first two classes that are not neutral stand in. ``how`` says which."""
    found = []
    for a, b in paper_mixes:
        try:
            found.append((vocabulary.names[vocabulary.index(label_sets.FERG.canonical[VOCAB.index(a)])],
                          vocabulary.names[vocabulary.index(label_sets.FERG.canonical[VOCAB.index(b)])]))
        except KeyError:
            continue
    if len(found) == len(paper_mixes):
        return tuple(found), "the paper's mixes"
    if found:
        return tuple(found), (f"{len(found)} of the paper's {len(paper_mixes)} mixes (the others need affects the "
                              "data has no class for)")
    others = [n for n, c in zip(vocabulary.names, vocabulary.canonical) if c != "neutral"]
    if len(others) < 2:
        return (), "none: the data has fewer than two classes that are not neutral"
    return ((others[0], others[1]),), (f"{others[0]}+{others[1]} (the data has no class pair of the paper's "
                                       "mixes)")


def save_mix_sheet(model, faces, source_classes, row_titles, path, mixes, slider_steps: int = 11,
                   names=VOCAB) -> Path:
    """Fig. 6: for each mix (a, b): rows of faces with a, b and a+b (both on, paper Fig. 6), and one slider row of
    the first face going from a to b with weights (1 - w, w), w = 0 .. 1 in ``slider_steps`` steps."""
    faces = np.asarray(faces, np.float32)
    n = len(faces)
    sheets = []
    for a, b in mixes:
        conds = [mix_condition(a, b, 0.0, names=names), mix_condition(a, b, 1.0, 0.0, names=names),
                 mix_condition(a, b, names=names)]
        block = np.stack([faces] + [transfer(model, faces, source_classes, np.tile(v, (n, 1))) for v in conds], 1)
        ws = np.linspace(0.0, 1.0, slider_steps)
        slider = transfer(model, np.repeat(faces[:1], slider_steps, 0), np.repeat(source_classes[:1], slider_steps),
                          np.stack([mix_condition(a, b, w, 1.0 - w, names=names) for w in ws]))
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


FIG5_ROWS = 6   # paper Fig. 5: FERG-DB's six characters


def neutral_per_character(val: dict, vocabulary=label_sets.FERG, characters=label_sets.FERG_CHARACTERS,
                          rows: int = FIG5_ROWS):
    """(faces, classes, row names, how): paper Fig. 5's inputs, one neutral face of every character in ``val``
    (at most ``rows``). Data without a neutral class gives each character's first face; data that names no
    characters (``characters`` empty) gives its first ``rows`` neutral faces. ``how`` says which, for the title."""
    try:
        neutral = vocabulary.index("neutral")
    except KeyError:
        neutral = None
    source = (val["expression"] == neutral) if neutral is not None else np.ones(len(val["expression"]), bool)
    idx, names = [], []
    if len(characters):
        for c, name in enumerate(characters):
            hit = np.flatnonzero((val["character"] == c) & source)
            if len(hit):
                idx.append(int(hit[0]))
                names.append(str(name))
            if len(idx) == rows:
                break
        how = ("Each character's neutral face decoded with every affect (paper Fig. 5)" if neutral is not None else
               "Each character's first face decoded with every affect (no neutral class; paper Fig. 5)")
    else:
        idx = [int(i) for i in np.flatnonzero(source)[:rows]]
        names = [f"face {k + 1}" for k in range(len(idx))]
        how = ("Held-out neutral faces" if neutral is not None else "Held-out faces (no neutral class)") + \
            " decoded with every affect (paper Fig. 5)"
    idx = np.asarray(idx, np.int64)
    return val["image"][idx], val["expression"][idx], names, how


def evaluate(model, train: dict, val: dict, ev: dict, figures_dir, mixes, seed: int = 0,
             character_preservation_too: bool = False, table1_crop_jitter: bool = False, log=print,
             vocabulary=label_sets.FERG, characters=label_sets.FERG_CHARACTERS) -> dict:
    """Paper 004 sections 4-5 on one run: Table 1 (discriminator accuracy on training and validation faces, real and
    transferred; ``table1_crop_jitter``: on faces randomly cropped and jittered as in training, module docstring),
    transfer accuracy by an independent expression classifier trained on ``train``, Fig. 4-6 in ``figures_dir``;
    ``character_preservation_too`` (characters known) adds character preservation, read on the validation faces of
    characters the training images show. ``train``/``val``: dicts of ``image``, ``expression``, ``character``;
    ``vocabulary``: the run's classes (names of the affects in tables and figures); ``characters``: the names of the
    character indices (empty when the data names none); ``mixes``: Fig. 6's pairs of class names."""
    from ..data.pipeline import crop_jitter_arrays
    from .common import train_classifier

    n_classes = model.config.n_classes
    names = tuple(vocabulary.names[:n_classes])
    if len(names) != n_classes:
        raise ValueError(f"the vocabulary names {len(vocabulary)} affects; the model has {n_classes}")
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
    metrics["transfer"] = transfer_table(model, faces["image"], faces["expression"], clf, log=log, names=names)
    if character_preservation_too:
        known = np.isin(faces["character"], train["character"])
        if known.any():
            chars = train_classifier(train["image"], train["character"], steps=max(1, ev["classifier_steps"] // 2),
                                     seed=seed, what="character classifier", log=log)
            metrics["character_preservation"] = character_preservation(
                model, faces["image"][known], faces["expression"][known], faces["character"][known], chars)
        else:
            log("no validation face shows a character of the training images: character preservation skipped")
    figures_dir = Path(figures_dir)
    save_random_sheet(model, figures_dir / "fig4_random_latents.png", seed=seed, names=names)
    nf, nc, rows, how = neutral_per_character(val, vocabulary, characters)
    if len(nf):
        save_transfer_sheet(model, nf, nc, rows, figures_dir / "fig5_transfer.png", names=names, title=how)
        if mixes:
            save_mix_sheet(model, nf, nc, rows, figures_dir / "fig6_mixed.png", mixes, names=names)
        else:
            log("no two affects to mix: Fig. 6 skipped")
    else:
        log("no neutral validation face: Fig. 5 and 6 skipped")
    return metrics
