"""Conditional DCGAN on fer2013 plus an inverse encoder for emotion transfer (paper 003; SPECS "fer2013 conditional
DCGAN").

With --data-dir DIR (fer2013.csv, or the folder release with train/ and test/) it trains on fer2013 with the
paper's settings: all 35,887 CSV rows (--usage Training for the training rows only), 48x48 grey, batch 64, Adam
2e-4 / 0.5, 50 epochs of the cDCGAN, then the encoder with G frozen (two phases; --schedule joint updates D, G and
E every step as the authors' final code did). Without --data-dir it trains on the built-in fer2013-like faces,
shrunk to finish in about 15 minutes on a 2-core CPU; everything it shrinks is listed in the run's config notes and
at the top of its report. Pixels are scaled to [-1, 1] to match the tanh output (the authors' code used [0, 1]).
"""
from __future__ import annotations

import sys
from dataclasses import asdict

from tfgan_emotion import run

RECIPE = "dcgan_fer2013"

PAPER_EPOCHS = 50          # paper 3
ENCODER_EPOCHS = 10        # (ours) the paper does not say how long E was trained
SYNTH = dict(gan_steps=2800, encoder_steps=1000, width=0.5, train_images=8000, eval_faces=140,
             classifier_steps=800)
SMOKE = dict(gan_steps=4, encoder_steps=4, train_images=128, eval_faces=14, classifier_steps=4)
REAL = dict(eval_faces=1000, classifier_steps=3000)


def parser():
    p = run.common_parser(RECIPE, __doc__, default_batch_size=64)
    g = p.add_argument_group("fer2013 cDCGAN + encoder (paper 003)")
    g.add_argument("--usage", default="all", help="CSV rows to train on: all (paper: 35,887 rows), Training, "
                   "PublicTest or PrivateTest; the folder release: train or test (default: all rows / train)")
    g.add_argument("--encoder-loss", choices=("image", "latent"), default="image", help="image: mean (x - "
                   "G(E(x, y), y))^2 (paper eq. 14, default); latent: mean (z - E(G(z, y), y))^2 (paper eq. 13)")
    g.add_argument("--schedule", choices=("two_phase", "joint"), default="two_phase", help="two_phase: the "
                   "cDCGAN, then E with G frozen (paper, default); joint: D, G and E every step (authors' code)")
    g.add_argument("--encoder-epochs", type=float, default=ENCODER_EPOCHS, help="length of the encoder phase in "
                   f"epochs (two_phase; ours: {ENCODER_EPOCHS}, the paper does not say)")
    g.add_argument("--encoder-steps", type=int, help="length of the encoder phase in steps (overrides "
                   "--encoder-epochs)")
    g.add_argument("--width", type=float, help=f"channel multiplier of G, D and E (paper 1.0; synthetic default "
                   f"{SYNTH['width']})")
    run.add_eval_flags(p, "evaluation", "held-out faces for the transfer and reconstruction numbers", SYNTH, REAL)
    return p


def load_data(args, synthetic, cfg, ev):
    """(training dataset, steps per epoch, training arrays for the classifiers, held-out arrays)."""
    import tensorflow as tf

    keys = ("image", "expression")
    if synthetic:
        from tfgan_emotion.data import synthetic as synth

        train = synth.make_arrays("fer2013", "train", n=ev["train_images"], size=48, seed=args.seed)
        held = synth.make_arrays("fer2013", "val", n=ev["eval_faces"], size=48, seed=args.seed)
        ds = tf.data.Dataset.from_tensor_slices({k: train[k] for k in keys})
        ds = ds.shuffle(len(train["image"]), seed=args.seed, reshuffle_each_iteration=True)
        return ds, len(train["image"]) // cfg.batch_size, train, held
    from tfgan_emotion.data import fer2013, pipeline

    release = fer2013.detect_release(args.data_dir)
    usage = None if args.usage == "all" and release == "csv" else ("train" if args.usage == "all" else args.usage)
    ds, summary = fer2013.load(args.data_dir, usage, shuffle_files=True, seed=args.seed)
    if not summary.kept:
        raise ValueError(f"no usable fer2013 images in {args.data_dir} (usage {args.usage})")
    ds = ds.map(lambda e: {k: e[k] for k in keys})

    held_split = "PrivateTest" if release == "csv" else "test"
    held_ds, _ = fer2013.load(args.data_dir, held_split, verbose=False)
    held = pipeline.take_arrays(held_ds, keys, ev["eval_faces"])
    train = pipeline.take_arrays(ds, keys, 20000) if not args.skip_eval else None
    return ds, max(1, summary.kept // cfg.batch_size), train, held


def evaluate(r, model, cfg, ev, train, held, synthetic, steps_per_epoch, log):
    import numpy as np
    from tfgan_emotion import paths
    from tfgan_emotion.eval import common, dcgan as E

    fig = r.dir / paths.FIGURES
    metrics = {"reconstruction": E.reconstruction(model, held["image"], held["expression"])}
    clf = common.train_classifier(train["image"], train["expression"], steps=ev["classifier_steps"],
                                  seed=r.args.seed, what="expression classifier", log=log)
    metrics["classifier_accuracy_heldout"] = float(np.mean(common.class_predictor(clf)(held["image"]) ==
                                                           held["expression"]))
    metrics["transfer"] = E.transfer_table(model, held["image"], clf, log=log)
    metrics["frechet"] = E.frechet_distance_real_generated(model, clf, held["image"], held["expression"],
                                                           seed=r.args.seed)
    if synthetic:
        from tfgan_emotion.data import synthetic as synth

        ids = common.train_classifier(train["image"], train["identity"], steps=ev["classifier_steps"],
                                      seed=r.args.seed, what="identity classifier", log=log)
        probe = synth.make_arrays("fer2013", "train", n=64, size=48, seed=r.args.seed + 1)
        metrics["identity_preservation"] = common.preservation(
            lambda x, k: E.transfer(model, x, np.full(len(x), k)), probe["image"], probe["identity"],
            cfg.n_classes, ids)
    E.save_gallery(r.dir / paths.SAMPLES, fig / "fig5_gallery.png", steps_per_epoch,
                   last_step=r.config["gan_steps"])
    faces = held["image"][:8]
    happy = E.VOCAB.index("happy")
    E.save_label_sheet(model, faces, fig / "fig6_happy.png", labels=[happy],
                       title="Real faces -> E -> G with the label happy (paper Fig. 6)")
    E.save_label_sheet(model, faces, fig / "fig7_every_label.png",
                       title="The same faces with every label (paper Fig. 7)")
    return metrics


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    from tfgan_emotion.gans.dcgan import DCGANConfig

    synthetic = args.synthetic or not args.data_dir
    shrink = SMOKE if args.smoke else (SYNTH if synthetic else {})
    width = args.width if args.width is not None else (SYNTH["width"] if synthetic else 1.0)
    cfg = DCGANConfig(batch_size=args.batch_size, width=width, encoder_loss=args.encoder_loss,
                      schedule=args.schedule)
    ev = {k: run.setting(args, k, synthetic, SMOKE, SYNTH, REAL) for k in ("eval_faces", "classifier_steps")}
    ev["train_images"] = (SMOKE if args.smoke else SYNTH)["train_images"]
    log = lambda m: print(f"[{RECIPE}] {m}", file=sys.stderr, flush=True)  # noqa: E731
    try:
        ds, steps_per_epoch, train, held = load_data(args, synthetic, cfg, ev)
    except (FileNotFoundError, ValueError) as e:
        print(f"{RECIPE}: cannot read the data: {e}", file=sys.stderr)
        return 2
    gan_steps = run.steps_from(args, shrink.get("gan_steps", PAPER_EPOCHS * steps_per_epoch), steps_per_epoch,
                               smoke_steps=SMOKE["gan_steps"])
    if cfg.schedule == "joint":
        encoder_steps = 0
    elif args.encoder_steps:
        encoder_steps = args.encoder_steps
    elif "encoder_steps" in shrink:
        encoder_steps = shrink["encoder_steps"]
    else:
        encoder_steps = max(1, int(round(args.encoder_epochs * steps_per_epoch)))
    notes = []
    if synthetic:
        notes.append("Trained and evaluated on the built-in fer2013-like SYNTHETIC faces, not fer2013: the numbers "
                     "show that the pipeline transfers emotions, not the paper's results.")
        notes.append(f"Shrunk to fit ~15 min on a 2-core CPU: network width x{width} (paper 1.0), {gan_steps} cDCGAN "
                     f"steps = {gan_steps / steps_per_epoch:.0f} epochs of {ev['train_images']} faces (paper 50 "
                     f"epochs of 35,887), {encoder_steps} encoder steps; expression classifier "
                     f"{ev['classifier_steps']} steps; {ev['eval_faces']} evaluation faces.")
    else:
        notes.append("Evaluation faces are the PrivateTest rows (CSV) or test/ (folders); with --usage all they were "
                     "also training rows, as in the paper, which trained on all 35,887 images.")
    if args.smoke:
        notes.append("--smoke: a few steps per phase; the numbers mean nothing.")
    notes.append(f"Schedule {cfg.schedule}: " + ("the cDCGAN for the first steps, then the encoder alone with G frozen "
                                                  "in inference mode (paper 2.2)" if cfg.schedule == "two_phase" else
                                                  "D, G and E each updated every step (authors' final code)")
                 + f"; encoder loss {cfg.encoder_loss} (paper eq. {14 if cfg.encoder_loss == 'image' else 13}).")
    r = run.start(args, RECIPE, {"system": "dcgan", **asdict(cfg), "gan_steps": gan_steps,
                                 "encoder_steps": encoder_steps}, notes=notes,
                  resumable={"skip_eval", "eval_faces", "classifier_steps", "usage"})
    from tfgan_emotion import training
    from tfgan_emotion.gans.dcgan import DCGAN, saved_model_endpoints

    ds = training.add_noise(ds, "z", (cfg.z_dim,), seed=args.seed)                  # z ~ U(-1, 1)^100
    ds = training.add_noise(ds, "y_random", (), seed=args.seed + 1)                 # labels for eq. 13
    with r.strategy.scope():
        model = DCGAN(cfg, seed=args.seed)
    phases = [("gan", gan_steps), ("encoder", gan_steps + encoder_steps)] if cfg.schedule == "two_phase" else \
        [("joint", gan_steps)]
    per_phase = {}
    for phase, until in phases:
        log(f"phase {phase}: to step {until}")
        model.phase = phase
        model.train_function = None  # retrace: the step's players change with the phase
        result = r.train(model, ds, until)
        if result is None:
            return 3
        per_phase[phase] = result.to_dict()
    done = r.finish(model, result, {"training_phases": per_phase, "evaluation_settings": ev},
                    saved_model_endpoints(model),
                    lambda: evaluate(r, model, cfg, ev, train, held, synthetic, steps_per_epoch, log))
    if done is None:
        return 0
    metrics, md = done
    tr = metrics.get("transfer")
    if tr:
        log(f"transferred faces: expression classifier accuracy {tr['mean']:.3f} over the 7 target labels "
            f"(held-out real faces {metrics['classifier_accuracy_heldout']:.3f}); encoder reconstruction MSE "
            f"{metrics['reconstruction']['mse']:.4f}")
    log(f"report: {md}")
    log(f"transfer a face: tfgan-emotion edit --run {r.dir} --image face.png --affect happy -o out.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
