"""The three recipes of the label-interpolation study (paper 000; SPECS "Label-interpolation cGAN"):
``recipes/cgan_fashion_mnist.py``, ``recipes/cgan_cifar10.py`` and ``recipes/cgan_faces.py`` call :func:`main`
with their dataset. One driver, because the three differ only in data, image size and learning schedule.

Training (paper 4.2, 4.3, 5.4): Fashion-MNIST 20,000 batches of 32 and CIFAR-10 30,000 batches of 32, Adam 2e-4 /
beta1 0.5; FACES 256x256, 6 emotions, 10,000 epochs of the 2,052 images, Adam 1e-4. Evaluation (paper 4.4, 5.6):
EfficientNet-B0 trained here reads the images along every ordered class pair's 11 interpolation steps; on faces a
MobileNetV2 valence/arousal regressor (trained on AffectNet when --affectnet-dir is given, else on the built-in
AffectNet-like faces) reads neutral -> each emotion, and the valence/arousal targeting of paper 5.1.
"""
from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field

import numpy as np

from . import run
from .data import labels as L


@dataclass(frozen=True)
class Setup:
    dataset: str
    paper: str
    size: int
    channels: int
    vocab: L.Vocabulary
    lr: float
    paper_steps: int = 0            # batches (Fashion-MNIST, CIFAR-10)
    paper_epochs: int = 0           # epochs (FACES)
    synth: dict = field(default_factory=dict)
    real: dict = field(default_factory=dict)


SMOKE = dict(steps=4, train_images=160, noise_vectors=2, classifier_steps=2, regressor_steps=2, image_size=None)
SETUPS = {
    "fashion_mnist": Setup("fashion_mnist", "paper 000 4.2: Fashion-MNIST, 20,000 batches of 32", 28, 1,
                           L.FASHION_MNIST, 2e-4, paper_steps=20000,
                           synth=dict(steps=8000, width=0.5, train_images=6000, noise_vectors=50,
                                      classifier_steps=600, image_size=None),
                           real=dict(noise_vectors=1000, classifier_steps=4000)),
    "cifar10": Setup("cifar10", "paper 000 4.3: CIFAR-10, 30,000 batches of 32", 32, 3, L.CIFAR10, 2e-4,
                     paper_steps=30000,
                     synth=dict(steps=6000, width=0.5, train_images=6000, noise_vectors=30, classifier_steps=600,
                                image_size=None),
                     real=dict(noise_vectors=1000, classifier_steps=4000)),
    "faces": Setup("faces", "paper 000 5.4: FACES 256x256, 10,000 epochs, Adam 1e-4", 256, 3, L.FACES, 1e-4,
                   paper_epochs=10000,
                   synth=dict(steps=3000, width=0.5, train_images=1200, noise_vectors=100, regressor_steps=400,
                              image_size=64),
                   real=dict(noise_vectors=1000, regressor_steps=5000)),
}


def parser(setup: Setup):
    recipe = f"cgan_{setup.dataset}"
    p = run.common_parser(recipe, f"Label-interpolation cGAN ({setup.paper}).\n\n" + __doc__, default_batch_size=32)
    g = p.add_argument_group("cGAN (paper 000)")
    g.add_argument("--width", type=float, help=f"channel multiplier of G and D (paper: DCGAN widths = 1.0; synthetic "
                   f"default {setup.synth['width']})")
    g.add_argument("--learning-rate", type=float, default=setup.lr, help=f"Adam learning rate (paper {setup.lr:g})")
    if setup.dataset == "faces":
        g.add_argument("--image-size", type=int, help="image size: 256 (paper) or 64 (synthetic default)")
        g.add_argument("--affectnet-dir", help="AffectNet root for the valence/arousal regressor (paper 5.6); "
                       "without it the regressor learns from the built-in AffectNet-like faces")
        g.add_argument("--regressor-steps", type=int, help="training steps of the MobileNetV2 regressor")
    else:
        g.add_argument("--classifier-steps", type=int, help="training steps of the EfficientNet-B0 classifier")
    g.add_argument("--noise-vectors", type=int, help="noise vectors per class pair (paper 1,000)")
    g.add_argument("--skip-eval", action="store_true", help="train and export only")
    return p


def load_data(setup: Setup, args, synthetic: bool, size: int, ev: dict):
    """(training arrays, held-out arrays) with ``image`` in [-1, 1] and ``expression`` (class index)."""
    from .data import pipeline
    from .data import synthetic as synth

    if synthetic:
        kind = setup.dataset
        train = synth.make_arrays(kind, "train", n=ev["train_images"], size=size, seed=args.seed)
        held = synth.make_arrays(kind, "test" if kind != "faces" else "val", n=min(1000, ev["train_images"] // 4),
                                 size=size, seed=args.seed)
        return ({k: train[k] for k in ("image", "expression")}, {k: held[k] for k in ("image", "expression")})
    reader = pipeline.READERS[setup.dataset]
    if setup.dataset == "faces":
        ds, _ = reader.load(args.data_dir, "all", image_size=size, channels=setup.channels)
        data = pipeline.take_arrays(ds, ("image", "expression"))
        # FACES has no test split; the paper trains on all 2,052 images. The classifier-free faces evaluation needs
        # none, so held-out = a view of the training images.
        return data, data
    train_ds, _ = reader.load(args.data_dir, "train", image_size=size, channels=setup.channels)
    test_ds, _ = reader.load(args.data_dir, "test", image_size=size, channels=setup.channels, verbose=False)
    keys = ("image", "expression")
    return pipeline.take_arrays(train_ds, keys), pipeline.take_arrays(test_ds, keys, 5000)


def _va_data(args, size: int, n: int):
    """Images with (valence, arousal) for the faces regressor: AffectNet if given, else the synthetic faces."""
    from .data import synthetic as synth

    if getattr(args, "affectnet_dir", None):
        from .data import affectnet

        out = {"image": [], "va": []}
        ds, _ = affectnet.load(args.affectnet_dir, "train", image_size=size, channels=3, shuffle_files=True,
                               seed=args.seed)
        for e in ds.take(n).as_numpy_iterator():
            out["image"].append(e["image"])
            out["va"].append((e["valence"], e["arousal"]))
        val, _ = affectnet.load(args.affectnet_dir, "validation", image_size=size, channels=3, verbose=False)
        held = {"image": [], "va": []}
        for e in val.take(1000).as_numpy_iterator():
            held["image"].append(e["image"])
            held["va"].append((e["valence"], e["arousal"]))
        return ({k: np.asarray(v, np.float32) for k, v in out.items()},
                {k: np.asarray(v, np.float32) for k, v in held.items()}, "AffectNet")
    tr = synth.make_arrays("affectnet", "train", n=n, size=size, seed=args.seed)
    va = synth.make_arrays("affectnet", "val", n=max(100, n // 10), size=size, seed=args.seed)
    pack = lambda d: {"image": d["image"], "va": np.stack([d["valence"], d["arousal"]], -1)}  # noqa: E731
    return pack(tr), pack(va), "synthetic AffectNet-like faces"


def evaluate_classes(r, setup, model, train, held, ev, log) -> dict:
    from .eval import cgan as E, common

    names = setup.vocab.names
    n = len(names)
    size = train["image"].shape[1]
    clf = E.build_efficientnet(size, setup.channels, n, seed=r.args.seed)
    common.train_classifier(train["image"], train["expression"], steps=ev["classifier_steps"], batch_size=64,
                            lr=common.warmup_cosine(E.EFFICIENTNET_LR, ev["classifier_steps"]), seed=r.args.seed,
                            what="EfficientNet-B0 classifier", log=log, model=clf)
    acc = float(np.mean(common.class_predictor(clf)(held["image"]) == held["expression"]))
    log(f"EfficientNet-B0 accuracy on {len(held['image'])} held-out images: {acc:.3f}")
    if acc < 0.5 and not r.args.smoke:
        r.note(f"The EfficientNet-B0 reader reached only {100 * acc:.0f}% held-out accuracy, so the confidence curves "
               "below measure little about the interpolation; train it longer (--classifier-steps).")
    conf = E.pair_confidences(model, clf, n, ev["noise_vectors"], seed=r.args.seed, names=names, log=log)
    fig = r.dir / "figures"
    label = setup.dataset.replace("_", "-")
    E.save_confidence_figure(conf, fig / "fig7_confidence.png",
                             f"{label}: classifier confidence along the interpolation (paper Fig. 7/8)")
    E.save_monotonicity_figure(conf, fig / "fig_monotonicity.png",
                               f"{label}: pairs whose target confidence rises at every step")
    rng = np.random.default_rng(r.args.seed)
    pairs = [tuple(rng.choice(n, 2, replace=False)) for _ in range(6)]
    E.save_strips(model, pairs, names, fig / "fig5_strips.png", f"{label}: interpolation examples (paper Fig. 5/6)",
                  seed=r.args.seed)
    return {"classifier": {"architecture": "EfficientNet-B0 (weights=None)", "heldout_accuracy": acc,
                           "steps": ev["classifier_steps"]},
            "interpolation": {k: v for k, v in conf.items() if k not in ("source", "target")},
            "interpolation_pairs": {"source": conf["source"], "target": conf["target"]}}


def evaluate_faces(r, setup, model, ev, log) -> dict:
    from . import conditioning
    from .eval import cgan as E, common
    from .eval.metrics import regression_report

    names = setup.vocab.names
    neutral = names.index("neutral")
    emotions = [k for k in range(len(names)) if k != neutral]
    size = model.config.image_size
    tr, held, source = _va_data(r.args, size, max(ev["regressor_steps"] * 4, 2000) if not r.args.smoke else 64)
    reg = E.build_mobilenet_regressor(size, 3, seed=r.args.seed)
    common.train_regressor(reg, tr["image"], tr["va"], steps=ev["regressor_steps"], batch_size=64,
                           seed=r.args.seed, what="MobileNetV2 valence/arousal regressor", log=log)
    pred = common.predict(reg, held["image"])
    table1 = {dim: regression_report(held["va"][:, k], pred[:, k]) for k, dim in enumerate(("valence", "arousal"))}
    curves = E.va_curves(model, reg, neutral, emotions, ev["noise_vectors"], seed=r.args.seed, names=names)
    targeting = []
    z = np.random.default_rng(r.args.seed).uniform(-1, 1, (ev["noise_vectors"], model.config.z_dim))
    for dim in ("valence", "arousal"):
        for value in (0.25, 0.5, 0.75, 1.0):
            v, emotion, w = conditioning.va_target(dim, value, setup.vocab)
            va = common.predict(reg, model.generate(z.astype(np.float32), np.tile(v, (len(z), 1))).numpy()).mean(0)
            targeting.append({"dimension": dim, "requested": value, "emotion": emotion, "weight": w,
                              "measured_valence": float(va[0]), "measured_arousal": float(va[1])})
    fig = r.dir / "figures"
    E.save_va_figure(curves, fig / "fig14_valence_arousal.png")
    E.save_strips(model, [(neutral, e) for e in emotions], names, fig / "fig13_strips.png",
                  "Neutral -> each emotion (paper Fig. 13)", seed=r.args.seed)
    return {"va_regressor": {"architecture": "MobileNetV2 (weights=None)", "trained_on": source,
                             "steps": ev["regressor_steps"], "table1_heldout": table1},
            "neutral_to_emotion_va": curves, "va_targeting": targeting}


def main(dataset: str, argv=None) -> int:
    setup = SETUPS[dataset]
    recipe = f"cgan_{dataset}"
    args = parser(setup).parse_args(argv)
    synthetic = args.synthetic or not args.data_dir
    shrink = SMOKE if args.smoke else setup.synth if synthetic else setup.real
    size = getattr(args, "image_size", None) or (setup.synth["image_size"] if synthetic else None) or setup.size
    width = args.width if args.width is not None else (setup.synth["width"] if synthetic else 1.0)
    keys = ("noise_vectors", "regressor_steps") if dataset == "faces" else ("noise_vectors", "classifier_steps")
    ev = {k: run.setting(args, k, synthetic, SMOKE, setup.synth, setup.real) for k in keys}
    ev["train_images"] = (SMOKE if args.smoke else setup.synth)["train_images"]
    log = lambda m: print(f"[{recipe}] {m}", file=sys.stderr, flush=True)  # noqa: E731
    from .gans.cgan import CGAN, CGANConfig, saved_model_endpoints

    cfg = CGANConfig(image_size=size, channels=setup.channels, n_classes=len(setup.vocab.names), width=width,
                     batch_size=args.batch_size, learning_rate=args.learning_rate)
    try:
        train, held = load_data(setup, args, synthetic, size, ev)
    except (FileNotFoundError, ValueError) as e:
        print(f"{recipe}: cannot read the data: {e}", file=sys.stderr)
        return 2
    steps_per_epoch = max(1, len(train["image"]) // cfg.batch_size)
    paper = setup.paper_steps or setup.paper_epochs * steps_per_epoch
    steps = run.steps_from(args, shrink.get("steps", paper) if (synthetic or args.smoke) else paper, steps_per_epoch,
                           smoke_steps=SMOKE["steps"])
    notes = []
    if synthetic:
        notes.append(f"Trained and evaluated on the built-in {setup.dataset}-like SYNTHETIC images, not the real "
                     "dataset: the numbers show whether label interpolation works in this pipeline, not the paper's "
                     "results.")
        notes.append(f"Shrunk to fit ~15 min on a 2-core CPU: {steps} steps of batch {cfg.batch_size} (paper: "
                     f"{setup.paper}), {ev['train_images']} training images, width x{width}, images {size}x{size}, "
                     f"{ev['noise_vectors']} noise vectors per class pair (paper 1,000), "
                     + (f"regressor {ev['regressor_steps']} steps." if dataset == "faces" else
                        f"EfficientNet-B0 {ev['classifier_steps']} steps."))
    if args.smoke:
        notes.append("--smoke: a few steps; the numbers mean nothing.")
    r = run.start(args, recipe, {"system": "cgan", "dataset": dataset, **asdict(cfg)}, notes=notes,
                  resumable={"skip_eval", "noise_vectors", "classifier_steps", "regressor_steps", "affectnet_dir"})
    import tensorflow as tf
    from . import training

    ds = tf.data.Dataset.from_tensor_slices(train).shuffle(len(train["image"]), seed=args.seed,
                                                          reshuffle_each_iteration=True)
    ds = training.add_noise(ds, "z", (cfg.z_dim,), seed=args.seed)
    with r.strategy.scope():
        model = CGAN(cfg, seed=args.seed)
    result = r.train(model, ds, steps)
    if result is None:
        return 3
    done = r.finish(model, result, {"evaluation_settings": ev}, saved_model_endpoints(model),
                    lambda: evaluate_faces(r, setup, model, ev, log) if dataset == "faces" else
                    evaluate_classes(r, setup, model, train, held, ev, log))
    if done is None:
        return 0
    metrics, md = done
    if "interpolation" in metrics:
        i = metrics["interpolation"]
        log(f"target-class confidence from {i['mean_target'][0]:.3f} (source label) to {i['mean_target'][-1]:.3f} "
            f"(target label); {100 * i['monotonic_share']:.0f}% of class pairs rise at every step")
    log(f"report: {md}")
    mix = "neutral=0.3,happiness=0.7" if dataset == "faces" else \
        f"{setup.vocab.names[0]}=0.5,{setup.vocab.names[1]}=0.5"
    log(f"images for a mixed label: tfgan-emotion edit --run {r.dir} --mix '{mix}' -o mix.png")
    return 0
