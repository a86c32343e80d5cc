"""GANmut: a learned polar emotion space, trained on Aff-Wild2 face crops (paper 002, Surani; GANmut, d'Apolito
et al. CVPR 2021; SPECS "GANmut").

With --data-dir AFF_WILD2 it builds the paper's training CSV (section V.D): the annotated frames of every training
video (cropped_aligned/, frames already extracted with --frames extracted --frames-dir DIR, or the videos through
ffmpeg), labels remapped to AffectNet's order with "Other" dropped, the most confident face of each frame cropped
by MTCNN or RetinaFace (--detector; RetinaFace needs --detector-weights retinaface.h5, nothing is downloaded) and
resized to 128x128. --combined AFFECTNET_DIR adds AffectNet's training images of the 7 classes (paper V.C). It then
trains GANmut with the authors' settings (batch 16, n_critic 5, Adam 1e-4 (0.5, 0.999), 2,000,000 iterations =
400,000 generator updates) and evaluates as paper section VI: VGG16 and ResNet50 emotion classifiers (F1 on real
and generated faces, FED, smoothness), discriminator F1, and the learned directions.

Without --data-dir it writes built-in Aff-Wild2-like videos (whole frames with a face in them, in Aff-Wild2's
annotation layout) and runs the very same path on them, shrunk to finish in about 15 minutes on a 2-core CPU;
everything it shrinks is listed in the run's notes and at the top of its report.
"""
from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

from tfgan_emotion import run

RECIPE = "ganmut_affwild2"
PAPER_ITERATIONS = 2_000_000     # SPECS "GANmut": 2,000,000 iterations (the generator is updated every 5th)
# Synthetic default run, sized for ~15 minutes on a 2-core CPU (stated in the run's notes).
SYNTH = dict(steps=450, image_size=64, width=0.25, videos=32, val_videos=8, frames_per_video=24, eval_faces=160,
             classifier_steps=300, classifier_size=32)
SMOKE = dict(steps=2, videos=3, val_videos=2, frames_per_video=8, eval_faces=14, classifier_steps=2,
             classifier_size=32)
REAL = dict(eval_faces=1400, classifier_steps=3000, classifier_size=None)


def parser():
    p = run.common_parser(RECIPE, __doc__, default_batch_size=16)
    g = p.add_argument_group("faces (paper 002 section V)")
    g.add_argument("--detector", choices=("mtcnn", "retinaface", "none"), default="mtcnn",
                   help="face detector for the crops (paper V.A-B); 'none' uses the frames as they are (cropped_aligned "
                   "frames are already face crops). Default mtcnn")
    g.add_argument("--detector-weights", type=Path, help="RetinaFace weight file (retinaface.h5 of the retina-face "
                   "package); required with --detector retinaface")
    g.add_argument("--min-confidence", type=float, default=0.0, help="skip frames whose best face scores lower "
                   "(default 0: keep the most confident face whatever its score)")
    g.add_argument("--frames", choices=("auto", "cropped_aligned", "extracted", "ffmpeg"), default="auto",
                   help="where the frames come from (default auto: cropped_aligned/ when present, else ffmpeg)")
    g.add_argument("--frames-dir", type=Path, help="folder of already extracted frames <video>/00001.jpg (with "
                   "--frames extracted), or where ffmpeg writes them")
    g.add_argument("--crops-dir", type=Path, help="where the crops and crops.csv go (default <out>/crops/<detector>); "
                   "reused when already built with the same settings")
    g.add_argument("--combined", type=Path, metavar="AFFECTNET_DIR", help="add AffectNet's training images of the 7 "
                   "classes (paper V.C 'Combined')")
    g = p.add_argument_group("GANmut (SPECS; the original code's defaults)")
    g.add_argument("--image-size", type=int, help=f"image size, a power of two >= 32 (paper 128; synthetic default "
                   f"{SYNTH['image_size']})")
    g.add_argument("--width", type=float, help=f"channel multiplier of G and D (paper 1.0; synthetic default "
                   f"{SYNTH['width']})")
    g.add_argument("--n-critic", type=int, default=5, help="critic updates per generator update (default 5)")
    for name, default, what in (("lambda-cls", 1.0, "classification"), ("lambda-rec", 10.0, "cycle reconstruction"),
                                ("lambda-gp", 10.0, "gradient penalty"), ("lambda-info-d", 1.0, "D code regression"),
                                ("lambda-info-g", 1.0, "G code regression"),
                                ("lambda-rho", 1.0, "interpolation loss L_rho (the authors' scripts use 4)")):
        g.add_argument(f"--{name}", type=float, default=default, help=f"weight of the {what} term (default {default})")
    g.add_argument("--cycle-code", choices=("coor", "label"), default="coor", help="code of the real face in L_rec: "
                   "D_coor(x) (paper eq. 7, default) or direction(label) * max softmax D_cls(x) (authors' default)")
    g.add_argument("--lr-decay-iterations", type=int, help="the learning rates decay during the last N iterations "
                   "(original 100,000 of 2,000,000; default 5%% of the run)")
    g.add_argument("--lr-update-every", type=int, default=1000, help="decay step every N iterations (original 1000, "
                   "which lowers the rates by only 0.1%%; 1 = linear decay to zero)")
    g = run.add_eval_flags(p, "evaluation (paper 002 section VI)", "held-out faces for F1, FED, smoothness and "
                           "discriminator F1", SYNTH, REAL)
    g.add_argument("--classifier-size", type=int, help="input side of the VGG16/ResNet50 classifiers (faces are "
                   "resized inside the model; default the image size on real data, "
                   f"{SYNTH['classifier_size']} synthetic)")
    g.add_argument("--vgg16-weights", type=Path, help="Keras VGG16 ImageNet 'notop' weight file (default: random "
                   "initial weights)")
    g.add_argument("--resnet50-weights", type=Path, help="Keras ResNet50 ImageNet 'notop' weight file (default: "
                   "random initial weights)")
    return p


def resolve(args, replicas_hint: int = 1):
    """(synthetic, config, evaluation settings, notes)."""
    from tfgan_emotion.gans.ganmut import GANmutConfig

    synthetic = args.synthetic or not args.data_dir
    shrink = SYNTH if synthetic else {}
    if args.detector == "retinaface" and args.detector_weights is None:
        raise ValueError("--detector retinaface needs --detector-weights retinaface.h5 (the retina-face package's "
                         "weight file; nothing is downloaded). Or use --detector mtcnn, whose weights ship with "
                         "the mtcnn package.")
    image_size = args.image_size or shrink.get("image_size", 128)
    width = args.width if args.width is not None else shrink.get("width", 1.0)
    ev = {k: run.setting(args, k, synthetic, SMOKE, SYNTH, REAL)
          for k in ("eval_faces", "classifier_steps", "classifier_size")}
    ev.update({k: (SMOKE if args.smoke else SYNTH)[k] for k in ("videos", "val_videos", "frames_per_video")})
    steps = run.steps_from(args, SYNTH["steps"] if synthetic else PAPER_ITERATIONS // args.n_critic,
                           smoke_steps=SMOKE["steps"])
    total = steps * args.n_critic
    decay = args.lr_decay_iterations or max(1, total // 20)
    cfg = GANmutConfig(image_size=image_size, width=width, batch_size=args.batch_size, n_critic=args.n_critic,
                       lambda_cls=args.lambda_cls, lambda_rec=args.lambda_rec, lambda_gp=args.lambda_gp,
                       lambda_info_d=args.lambda_info_d, lambda_info_g=args.lambda_info_g,
                       lambda_rho=args.lambda_rho, cycle_code=args.cycle_code, total_iterations=total,
                       lr_decay_iterations=decay, lr_update_every=args.lr_update_every,
                       random_angle_samples=min(5, args.batch_size))
    notes = []
    if synthetic:
        notes.append("Trained and evaluated on the built-in Aff-Wild2-like SYNTHETIC videos, not Aff-Wild2: the "
                     "numbers show that the pipeline learns an emotion space, not the paper's results.")
    if args.smoke:
        notes.append(f"--smoke: {steps} training steps; the numbers mean nothing.")
    if not (args.vgg16_weights and args.resnet50_weights):
        notes.append("VGG16/ResNet50 classifiers without ImageNet weights start from random weights and are trained "
                     "on the run's faces only (paper VI.A fine-tunes ImageNet networks): pass --vgg16-weights / "
                     "--resnet50-weights for the paper's setting.")
    return synthetic, cfg, ev, steps, notes


def _held_dict(scan_ds, n):
    from tfgan_emotion.data import pipeline

    return pipeline.take_arrays(scan_ds, ("image", "expression"), n)


def load_data(args, synthetic, cfg, ev, out_root: Path, log):
    """(training dataset, train arrays for the classifiers, held-out arrays, data summary dict)."""
    from tfgan_emotion.data import crops, synthetic as synth

    data_dir, frames, frames_dir = args.data_dir, args.frames, args.frames_dir
    info = {}
    if synthetic:
        data_dir = out_root / "synthetic_affwild2"
        for split, key in (("train", "videos"), ("validation", "val_videos")):
            written = synth.write_affwild2_frames(data_dir, n_videos=ev[key], frames_per_video=ev["frames_per_video"],
                                                  seed=args.seed, split=split)
            info[f"synthetic_{split}"] = {k: v for k, v in written.items() if isinstance(v, (int, float, str))}
        frames, frames_dir = "extracted", data_dir / "frames"
    crops_dir = args.crops_dir or out_root / "crops" / f"{args.detector}-{cfg.image_size}"
    built = {}
    for split in ("train", "validation"):
        built[split] = crops.build(data_dir, crops_dir, split=split, detector=args.detector,
                                   weights=args.detector_weights, frames=frames, frames_dir=frames_dir,
                                   size=cfg.image_size, min_confidence=args.min_confidence, log=log,
                                   progress_every=250)
    info["crops"] = built
    if args.combined:
        train_ds, summary = crops.combined(built["train"]["csv"], args.combined, cfg.image_size, seed=args.seed)
    else:
        train_ds, summary = crops.load(built["train"]["csv"], cfg.image_size, shuffle_files=True, seed=args.seed)
    held_ds, _ = crops.load(built["validation"]["csv"], cfg.image_size, verbose=False)
    train = _held_dict(train_ds, 20000)
    held = _held_dict(held_ds, ev["eval_faces"])
    if len(train["image"]) == 0 or len(held["image"]) == 0:
        raise ValueError(f"too few face crops: {len(train['image'])} for training, {len(held['image'])} held out "
                         f"(see {crops_dir}/*/summary.json for what was skipped)")
    return train_ds, train, held, info


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    log = lambda m: print(f"[{RECIPE}] {m}", file=sys.stderr, flush=True)  # noqa: E731
    try:
        synthetic, cfg, ev, steps, notes = resolve(args)
    except ValueError as e:
        print(f"{RECIPE}: {e}", file=sys.stderr)
        return 2
    import numpy as np

    from tfgan_emotion import conditioning, paths
    from tfgan_emotion.data import labels, pipeline
    from tfgan_emotion.gans.ganmut import GANmut, attach_draws, saved_model_endpoints

    if synthetic:
        notes.insert(1, f"Shrunk to fit ~15 min on a 2-core CPU: images {cfg.image_size}x{cfg.image_size} (paper "
                        f"128), network width x{cfg.width} (paper 1.0), {steps} generator updates = "
                        f"{steps * cfg.n_critic} iterations (paper 2,000,000), {ev['videos']} training videos of "
                        f"{ev['frames_per_video']} frames; classifiers {ev['classifier_steps']} steps at "
                        f"{ev['classifier_size']}x{ev['classifier_size']}; "
                        f"{ev['eval_faces']} evaluation faces.")
    try:
        # --steps may grow on resume; the learning-rate window follows the run's length.
        r = run.start(args, RECIPE, {"system": "ganmut", **asdict(cfg)}, notes=notes,
                      resumable={"skip_eval", "eval_faces", "classifier_steps", "classifier_size", "vgg16_weights",
                                 "resnet50_weights", "total_iterations", "lr_decay_iterations"})
    except run.ConfigMismatch as e:
        print(f"{RECIPE}: {e}", file=sys.stderr)
        return 2
    try:
        ds, train, held, info = load_data(args, synthetic, cfg, ev, Path(r.dir), log)
    except (FileNotFoundError, ValueError, ImportError) as e:
        print(f"{RECIPE}: cannot read the data: {e}", file=sys.stderr)
        return 2
    names = list(labels.GANMUT.names)
    ds = ds.map(lambda ex: {"image": ex["image"], "expression": ex["expression"]})
    augment = pipeline.augment_layer(cfg.image_size, seed=args.seed)
    ds = ds.map(lambda ex: {**ex, "image": augment(ex["image"], training=True)})
    ds = attach_draws(ds, seed=args.seed)
    with r.strategy.scope():
        spread = [int(i) for i in np.linspace(0, len(held["image"]) - 1, min(6, len(held["image"])))]
        model = GANmut(cfg, sample_faces=held["image"][spread], seed=args.seed)
    result = r.train(model, ds, steps, batch_size=cfg.step_batch)
    if result is None:
        return 3
    angles = conditioning.direction_angles(model.unit_directions(), names[1:])
    log("learned directions: " + ", ".join(f"{n} {d:.0f} deg" for n, d in angles.items()))

    def evaluate():
        from tfgan_emotion.eval import ganmut as G

        return G.evaluate(model, train, held, names, ev["classifier_steps"],
                          weights={"vgg16": args.vgg16_weights, "resnet50": args.resnet50_weights},
                          seed=args.seed, log=log, figures_dir=r.dir / paths.FIGURES,
                          max_eval_faces=ev["eval_faces"], classifier_size=ev["classifier_size"])

    done = r.finish(model, result, {"evaluation_settings": ev, "data": info}, saved_model_endpoints(model),
                    evaluate)
    if done is None:
        return 0
    _, md = done
    log(f"report: {md}")
    log(f"edit a face: tfgan-emotion edit --run {r.dir} --image face.png --emotion happy --rho 0.5 -o out.png "
        "(or --theta 1.2 --rho 0.7)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
