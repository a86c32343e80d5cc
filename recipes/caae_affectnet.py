"""CAAE: edit a face to any continuous (valence, arousal) label (paper 001, Lindt et al. 2019; SPECS "CAAE").

With --data-dir AFFECTNET_ROOT it trains on AffectNet with the paper's settings (96x96, batch 49, full widths,
VGG-Face identity loss on 16 of 49 images at 224x224, Adam 2e-4/0.5/0.999) and evaluates as paper section IV.
Without --data-dir it trains on the built-in AffectNet-like synthetic faces, shrunk to finish in about 15 minutes
on a 2-core CPU; everything it shrinks is listed in the run's config notes and at the top of its report.
"""
from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

from tfgan_emotion import run

RECIPE = "caae_affectnet"

# Real-data defaults: the paper's (section in brackets).
PAPER_EPOCHS = 50          # (ours) paper 001 gives no training length; 50 epochs is the original CAAE code's default
PAPER_EVAL_FACES = 4500    # [IV.C.1] 4,500 faces x 49 labels = 220,500 generated images
# Synthetic default run, sized for ~15 minutes on a 2-core CPU (stated in the run's notes).
# Measured on a 2-core CPU (bf16): 6,000 steps in 10m25s, evaluation about 1m30s, 12m08s in all.
SYNTH = dict(steps=6000, image_size=48, width=0.25, identity_net="none", identity_size=32, train_images=10000,
             eval_faces=100, regressor_steps=2000, regressor_width=0.125, regressor_lr=1e-2, identity_steps=400)
SMOKE = dict(steps=4, eval_faces=4, regressor_steps=4, identity_steps=4, train_images=98)


def parser():
    p = run.common_parser(RECIPE, __doc__, default_batch_size=49)
    g = p.add_argument_group("CAAE (paper 001)")
    g.add_argument("--vggface-weights", type=Path, help="VGG-Face weights (keras-vggface rcmalli_vggface_tf_vgg16.h5 "
                   "layout) for the identity loss; required on real data unless --identity-net random/none")
    g.add_argument("--identity-net", choices=("vggface", "random", "none"), help="identity-loss features: vggface "
                   "(published weights, default on real data), random (untrained VGG-Face: the loss then measures "
                   "untrained features; default on synthetic faces, which have no VGG-Face weights), none")
    g.add_argument("--identity-size", type=int, help="VGG-Face input size (paper 224; synthetic default 64)")
    g.add_argument("--label-concat", choices=("every", "first"), default="every", help="D_img label concatenation: "
                   "after every block (paper III.B.1, default) or once after block 1 (authors' code)")
    g.add_argument("--image-size", type=int, help="image size, a multiple of 16 (paper 96; synthetic default 48)")
    g.add_argument("--width", type=float, help="channel multiplier of all four networks (paper 1.0; synthetic "
                   "default 0.25)")
    g.add_argument("--oversample", action="store_true", help="oversample AffectNet classes to equal counts (the "
                   "authors' code did this; SPECS 'Data (code)')")
    g = p.add_argument_group("evaluation (paper IV)")
    g.add_argument("--eval-faces", type=int, help=f"held-out faces edited to each of the 49 grid labels (paper "
                   f"{PAPER_EVAL_FACES}; synthetic default {SYNTH['eval_faces']})")
    g.add_argument("--regressor-steps", type=int, help="training steps of each Table II regressor (default: 5 epochs "
                   f"of the regressor training images on real data, {SYNTH['regressor_steps']} on synthetic)")
    g.add_argument("--regressor-width", type=float, help="width multiplier of the Table II regressors (paper 1.0)")
    g.add_argument("--regressor-images", type=int, default=30000, help="training images held in memory for the "
                   "regressors on real data (default 30000)")
    g.add_argument("--skip-eval", action="store_true", help="train and export only")
    return p


def resolve(args):
    """The CAAE config and evaluation settings for this invocation, plus the notes saying what was shrunk."""
    from tfgan_emotion.gans.caae import CAAEConfig

    synthetic = args.synthetic or not args.data_dir
    notes = []
    if synthetic:
        notes.append("Trained and evaluated on the built-in AffectNet-like SYNTHETIC faces, not AffectNet: the numbers "
                     "show that the pipeline edits expressions, not the paper's results.")
        shrunk = {k: v for k, v in SYNTH.items()}
        identity_net = args.identity_net or SYNTH["identity_net"]
        width = args.width if args.width is not None else SYNTH["width"]
        identity_size = args.identity_size or SYNTH["identity_size"]
        image_size = args.image_size or SYNTH["image_size"]
    else:
        shrunk = {}
        image_size = args.image_size or 96
        identity_net = args.identity_net or "vggface"
        width = args.width if args.width is not None else 1.0
        identity_size = args.identity_size or 224
        if identity_net == "vggface" and not args.vggface_weights:
            raise SystemExit("caae_affectnet: the identity loss needs VGG-Face weights on real data: pass "
                             "--vggface-weights PATH (keras-vggface rcmalli_vggface_tf_vgg16.h5; nothing is downloaded),"
                             " or --identity-net random to train with untrained identity features.")
    if identity_net == "random":
        notes.append("The identity loss used UNTRAINED (randomly initialised) VGG-Face features, not the published "
                     "face-recognition weights.")
    elif identity_net == "none" and not synthetic:
        notes.append("The identity loss was switched off (--identity-net none).")
    if args.smoke:
        notes.append(f"--smoke: {SMOKE['steps']} training steps and {SMOKE['eval_faces']} evaluation faces; the "
                     "numbers mean nothing.")
    cfg = CAAEConfig(image_size=image_size, batch_size=args.batch_size, label_concat=args.label_concat,
                     width=width, identity_net=identity_net, identity_size=identity_size)
    ev = dict(eval_faces=args.eval_faces or (SMOKE["eval_faces"] if args.smoke else
                                             shrunk.get("eval_faces", PAPER_EVAL_FACES)),
              regressor_width=args.regressor_width or shrunk.get("regressor_width", 1.0),
              regressor_steps=args.regressor_steps or (SMOKE["regressor_steps"] if args.smoke else
                                                       shrunk.get("regressor_steps")),
              regressor_lr=shrunk.get("regressor_lr", 1e-3),
              identity_steps=SMOKE["identity_steps"] if args.smoke else SYNTH["identity_steps"],
              train_images=SMOKE["train_images"] if args.smoke else SYNTH["train_images"])
    if synthetic:
        notes.insert(1, f"Shrunk to fit ~15 min on a 2-core CPU: images {image_size}x{image_size} (paper 96), network "
                        f"width x{width} (paper 1.0), identity loss {identity_net} (paper: VGG-Face; cartoon faces "
                        f"have no VGG-Face weights), {args.steps or (SMOKE['steps'] if args.smoke else SYNTH['steps'])} "
                        f"steps, {ev['train_images']} "
                        f"training faces; Table II regressors at width x{ev['regressor_width']} trained "
                        f"{ev['regressor_steps']} steps with SGD lr {ev['regressor_lr']} (paper 1e-3, far more "
                        f"steps); {ev['eval_faces']} evaluation faces (paper 4,500).")
    return synthetic, cfg, ev, notes


def load_data(args, synthetic, cfg, ev):
    """(training dataset of dicts, steps per epoch or None, held-out arrays, training arrays for the regressors)."""
    import tensorflow as tf

    keys = ("image", "valence", "arousal")
    if synthetic:
        from tfgan_emotion.data import synthetic as synth

        train = synth.make_arrays("affectnet", "train", n=ev["train_images"], size=cfg.image_size, seed=args.seed)
        held = synth.make_arrays("affectnet", "val", n=max(ev["eval_faces"], 64), size=cfg.image_size, seed=args.seed)
        ds = tf.data.Dataset.from_tensor_slices({k: train[k] for k in keys})
        ds = ds.shuffle(len(train["image"]), seed=args.seed, reshuffle_each_iteration=True)
        return ds, len(train["image"]) // cfg.batch_size, held, train
    from tfgan_emotion.data import affectnet, pipeline

    ds, summary = affectnet.load(args.data_dir, "train", image_size=cfg.image_size, channels=cfg.channels,
                                 oversample=args.oversample, shuffle_files=True, seed=args.seed)
    steps_per_epoch = max(1, summary.emitted // cfg.batch_size) if summary.emitted else None
    ds = ds.map(lambda e: {k: e[k] for k in keys}, num_parallel_calls=tf.data.AUTOTUNE)

    val_ds, _ = affectnet.load(args.data_dir, "validation", image_size=cfg.image_size, channels=cfg.channels)
    held = pipeline.take_arrays(val_ds, keys, ev["eval_faces"])
    reg_train = pipeline.take_arrays(ds, keys, args.regressor_images) if not args.skip_eval else None
    return ds, steps_per_epoch, held, reg_train


def evaluate(r, model, cfg, ev, held, train, synthetic, log):
    """Paper IV: Table III (regressors), Table IV (edits), Fig. 2-4; on synthetic faces also identity preservation."""
    import numpy as np
    from tfgan_emotion import paths
    from tfgan_emotion.eval import caae as caae_eval

    def edit_fn(images, valence, arousal):
        return model.edit(images, valence, arousal).numpy()

    va = lambda d: np.stack([d["valence"], d["arousal"]], -1).astype(np.float32)  # noqa: E731
    steps = ev["regressor_steps"] or max(1, 5 * len(train["image"]) // 64)
    log(f"training the two Table II regressors ({steps} steps, width x{ev['regressor_width']})")
    regs = caae_eval.train_regressors(train["image"], va(train), steps=steps, width=ev["regressor_width"],
                                      lr=ev["regressor_lr"], seed=r.args.seed, log=log)
    faces = {k: v[:ev["eval_faces"]] for k, v in held.items()}
    metrics = {"table3_regressors": caae_eval.regressor_table(regs, held["image"], va(held))}
    log(f"editing {len(faces['image'])} held-out faces to the 49 grid labels (Table IV)")
    metrics["table4_edits"] = caae_eval.edit_table(edit_fn, faces["image"], regs)
    fig = r.dir / paths.FIGURES
    fig.mkdir(parents=True, exist_ok=True)
    caae_eval.save_heatmap_sheet(caae_eval.heatmaps(edit_fn, faces["image"]), fig / "fig2_heatmaps.png")
    caae_eval.save_edit_grid(edit_fn, faces["image"][0], fig / "fig3_edit_grid.png")
    n4 = min(25, len(held["image"]))
    caae_eval.save_faces_grid(edit_fn, held["image"][:n4], caae_eval.fig3_labels()[:n4], fig / "fig4_faces_grid.png")
    if synthetic:
        from tfgan_emotion.data import synthetic as synth

        log("training the synthetic identity classifier (identity preservation)")
        clf = caae_eval.train_identity_classifier(train["image"], train["identity"], steps=ev["identity_steps"],
                                                  seed=r.args.seed)
        probe = synth.make_arrays("affectnet", "train", n=min(ev["eval_faces"], 64), size=cfg.image_size,
                                  seed=r.args.seed + 1)
        metrics["identity_preservation"] = caae_eval.identity_preservation(
            edit_fn, probe["image"], probe["identity"], clf)
    return metrics


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    synthetic, cfg, ev, notes = resolve(args)
    r = run.start(args, RECIPE, {"system": "caae", **asdict(cfg)}, notes=notes,
                  resumable={"skip_eval", "regressor_images", "eval_faces", "regressor_steps", "regressor_width"})

    from tfgan_emotion import training
    from tfgan_emotion.gans.caae import CAAE, saved_model_endpoints

    log = lambda m: print(f"[{RECIPE}] {m}", file=sys.stderr, flush=True)  # noqa: E731
    ds, steps_per_epoch, held, train = load_data(args, synthetic, cfg, ev)
    paper_steps = SYNTH["steps"] if synthetic else PAPER_EPOCHS * (steps_per_epoch or 1)
    steps = run.steps_from(args, paper_steps, steps_per_epoch, smoke_steps=SMOKE["steps"])
    ds = training.add_noise(ds, "z_prior", (cfg.z_dim,), seed=args.seed)  # p_prior(z) = U(-1, 1)^50 (eq. 3)
    with r.strategy.scope():
        model = CAAE(cfg, vggface_weights=args.vggface_weights, sample_faces=held["image"][:6])
    result = r.train(model, ds, steps)
    if result is None:
        return 3
    done = r.finish(model, result, {"evaluation_settings": ev}, saved_model_endpoints(model),
                    lambda: evaluate(r, model, cfg, ev, held, train, synthetic, log))
    if done is None:
        return 0
    metrics, md = done
    t4 = metrics.get("table4_edits", {}).get("all", {})
    if t4:
        log(f"edited faces: valence CCC {t4['valence']['ccc']:.3f}, arousal CCC {t4['arousal']['ccc']:.3f} "
            "(Table IV analogue, all labels)")
    log(f"report: {md}")
    log(f"edit a face: tfgan-emotion edit --run {r.dir} --image face.jpg --valence 0.5 --arousal -0.2 -o out.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
