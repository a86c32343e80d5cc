"""``tfgan-emotion``: the console entry point.

Subcommands: ``train`` (a system's recipe), ``evaluate`` and ``export`` (any run directory, finished or stopped
mid-training), ``edit``, ``report``, ``bench``, ``compare``, ``study``, ``data``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def cmd_train(args) -> int:
    from . import systems

    if args.list or not args.recipe:
        print("recipes (tfgan-emotion train <name> --help for each one's flags):")
        for s in systems.all_systems():
            print(f"  {s.name:20s} paper {s.paper}: {s.summary}")
        return 0 if args.list else 2
    try:
        system = systems.get(args.recipe)
    except KeyError as e:
        print(f"tfgan-emotion train: {e.args[0]}", file=sys.stderr)
        return 2
    return systems.main(system, list(args.recipe_args))


def _eval_overrides(args) -> dict:
    """The evaluation flags given on the command line (None = keep the run's own)."""
    flags = {}
    for key in ("eval_faces", "classifier_steps", "regressor_steps", "regressor_width", "regressor_images",
                "noise_vectors", "classifier_size", "vgg16_weights", "resnet50_weights", "vggface_weights",
                "affectnet_dir", "reports"):
        value = getattr(args, key, None)
        if value is not None:
            flags[key] = value
    return flags


def cmd_evaluate(args) -> int:
    from . import systems

    try:
        return systems.evaluate_run(args.run, _eval_overrides(args))
    except systems.UsageError as e:
        print(f"tfgan-emotion evaluate: {e}", file=sys.stderr)
        return 2


def cmd_export(args) -> int:
    from . import systems

    try:
        out = systems.export_from_run(args.run)
    except systems.UsageError as e:
        print(f"tfgan-emotion export: {e}", file=sys.stderr)
        return 2
    print(out)
    return 0


def cmd_report(args) -> int:
    from . import report

    try:
        path = report.write_report(args.run_dir, args.reports)
    except (FileNotFoundError, ValueError) as e:
        print(f"tfgan-emotion report: {e}", file=sys.stderr)
        return 2
    print(path)
    print(path.with_suffix(".html"))
    return 0


def cmd_edit(args) -> int:
    from . import editing

    try:
        if args.mix:
            editing.run_mix(args.run, args.output, args.mix, n=args.count, seed=args.seed)
        elif args.image is None:
            raise ValueError("give --image (a face or a folder) to edit, or --mix for a label-interpolation cGAN run")
        else:
            editing.run_edit(args.run, args.image, args.output, valence=args.valence, arousal=args.arousal,
                             grid=args.grid, affect=args.affect, theta=args.theta, rho=args.rho, emotion=args.emotion)
    except (FileNotFoundError, ValueError) as e:
        print(f"tfgan-emotion edit: {e}", file=sys.stderr)
        return 2
    return 0


def cmd_data(args) -> int:
    if args.data_command == "summary":
        from .data import pipeline

        try:
            print(pipeline.summarize(args.dataset, args.data_dir))
        except (FileNotFoundError, ValueError, KeyError, RuntimeError, ImportError) as e:
            print(f"tfgan-emotion data summary: {e}", file=sys.stderr)
            return 2
        return 0
    if args.data_command == "crop":
        from .data import detect

        try:
            summary = detect.crop_folder(args.src, args.dst, detector=args.detector, weights=args.weights,
                                         margin=args.margin, size=args.size,
                                         labels=args.labels, log=lambda m: print(m, file=sys.stderr, flush=True))
        except (FileNotFoundError, ValueError, RuntimeError, ImportError) as e:
            print(f"tfgan-emotion data crop: {e}", file=sys.stderr)
            return 2
        import json

        print(json.dumps(summary, indent=2, default=str))
        return 0
    print("tfgan-emotion data: choose a subcommand: summary, crop (see --help)", file=sys.stderr)
    return 2


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tfgan-emotion", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser("train", help="train a recipe (same as python recipes/<name>.py)",
                       description="Run a recipe script; everything after the recipe name goes to the recipe.")
    t.add_argument("recipe", nargs="?", help="recipe name (see --list)")
    t.add_argument("recipe_args", nargs=argparse.REMAINDER, help="flags for the recipe (see its --help)")
    t.add_argument("--list", action="store_true", help="list the recipes and the papers they reproduce")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="evaluate a run with its paper's protocol (finished, or stopped mid-training)",
                       description="Rebuild a run's model from its config.json and newest complete checkpoint, run "
                       "the paper's evaluation, and rewrite metrics.json and the report. Works on a finished run and "
                       "on one stopped mid-training. Evaluation flags given here replace the run's own.")
    e.add_argument("--run", type=Path, required=True, help="run directory (holds config.json and ckpt/)")
    g = e.add_argument_group("evaluation settings (each only for the systems that have it; default: the run's own)")
    g.add_argument("--eval-faces", type=int, help="held-out faces to evaluate on")
    g.add_argument("--classifier-steps", type=int, help="training steps of the evaluation classifier(s)")
    g.add_argument("--regressor-steps", type=int, help="training steps of the valence/arousal regressor(s)")
    g.add_argument("--regressor-width", type=float, help="CAAE: width of the Table II regressors")
    g.add_argument("--regressor-images", type=int, help="CAAE: regressor training images on real data")
    g.add_argument("--noise-vectors", type=int, help="cGAN: noise vectors per class pair")
    g.add_argument("--classifier-size", type=int, help="GANmut: input side of the VGG16/ResNet50 classifiers")
    g.add_argument("--vgg16-weights", type=Path, help="GANmut: VGG16 ImageNet weights file")
    g.add_argument("--resnet50-weights", type=Path, help="GANmut: ResNet50 ImageNet weights file")
    g.add_argument("--affectnet-dir", type=Path, help="cGAN on FACES: AffectNet root for the VA regressor")
    g.add_argument("--reports", type=Path, help="reports root (default: the run's own)")
    e.set_defaults(func=cmd_evaluate)

    from . import systems

    ed = sub.add_parser("edit", help="edit faces with an exported run",
                        description="Edit a face (or every image of a folder) with a trained run's exported model. "
                        "What each system takes:\n" + "\n".join(
                            f"  {s.name}: {s.edit_help}" for s in systems.all_systems()),
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    ed.add_argument("--run", type=Path, required=True, help="run directory (printed at the end of training)")
    ed.add_argument("--image", type=Path, help="an image file or a folder of images (not with --mix)")
    ed.add_argument("-o", "--output", type=Path, required=True, help="output PNG (or folder, for a folder input)")
    ed.add_argument("--valence", type=float, help="target valence in [-1, 1] (CAAE)")
    ed.add_argument("--arousal", type=float, help="target arousal in [-1, 1] (CAAE)")
    ed.add_argument("--affect", help="target affect: FExGAN a name, two names joined by '+', or a "
                    "comma-separated vector; fer2013 DCGAN a label name or index")
    ed.add_argument("--theta", type=float, help="GANmut: angle of the polar code, in radians")
    ed.add_argument("--rho", type=float, help="GANmut: intensity, 0 (neutral) .. 1 (full)")
    ed.add_argument("--emotion", help="GANmut: an emotion name (AffectNet's: neutral, happy, sad, surprise, fear, "
                    "disgust, anger) whose learned direction to follow")
    ed.add_argument("--mix", help="label-interpolation cGAN runs: images for a mixed label, e.g. "
                    "neutral=0.3,happiness=0.7 (weights sum to 1)")
    ed.add_argument("--count", type=int, default=8, help="images to draw for --mix (default 8)")
    ed.add_argument("--seed", type=int, default=0, help="noise seed for --mix (default 0)")
    ed.add_argument("--grid", action="store_true", help="write a sheet instead: the 7x7 valence x arousal grid "
                    "(CAAE) or every affect / label (FExGAN, fer2013 DCGAN)")
    ed.set_defaults(func=cmd_edit)

    x = sub.add_parser("export", help="export a run's networks as .keras files and a SavedModel",
                       description="Rebuild a run's model from its config.json and newest complete checkpoint and "
                       "write export/<network>.keras and export/saved_model (with the system's endpoints). Works on a "
                       "finished run and on one stopped mid-training.")
    x.add_argument("--run", type=Path, required=True, help="run directory (holds config.json and ckpt/)")
    x.set_defaults(func=cmd_export)

    r = sub.add_parser("report", help="write reports/<recipe>/<run>/report.{md,html} from a run directory")
    r.add_argument("run_dir", type=Path, help="a run directory (holds config.json)")
    r.add_argument("--reports", type=Path, default=Path("reports"), help="reports root (default ./reports)")
    r.set_defaults(func=cmd_report)

    from . import bench, compare, study

    b = sub.add_parser("bench", help="benchmark training, input pipeline, precision, generation+evaluation, memory",
                       description=bench.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bench.add_arguments(b)
    b.set_defaults(func=bench.main)

    cp = sub.add_parser("compare", help="train/evaluate all five systems on the synthetic faces' ground truth",
                        description=compare.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    compare.add_arguments(cp)
    cp.set_defaults(func=compare.main)

    st = sub.add_parser("study", help="user study of paper 000 (section 5.5): make the questionnaire page, analyze "
                        "the answers", description=study.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    study.add_arguments(st)
    st.set_defaults(func=study.main)

    d = sub.add_parser("data", help="dataset tools: summary, crop")
    dsub = d.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    s = dsub.add_parser("summary", help="counts per class, valence/arousal histogram, skipped files")
    s.add_argument("--dataset", required=True, help="affectnet, fer2013, ferg, faces, affwild2, fashion_mnist, cifar10")
    s.add_argument("--data-dir", type=Path, required=True)
    c = dsub.add_parser("crop", help="detect the most confident face in every image of SRC, write crops + CSV to DST")
    c.add_argument("src", type=Path)
    c.add_argument("dst", type=Path)
    c.add_argument("--detector", choices=("mtcnn", "retinaface"), default="mtcnn")
    c.add_argument("--weights", type=Path, help="RetinaFace weights file (required for --detector retinaface)")
    c.add_argument("--margin", type=float, default=0.2, help="margin around the box, as a fraction of its size")
    c.add_argument("--labels", type=Path, help="CSV with a 'path' column (relative to SRC) and label columns to copy "
                   "into the training CSV; images without a label are skipped (paper 002 V.D)")
    c.add_argument("--size", type=int, default=128, help="resize crops to SIZE x SIZE (default 128, paper 002)")
    d.set_defaults(func=cmd_data)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
