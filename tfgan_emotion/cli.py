"""``tfgan-emotion``: the console entry point.

Subcommands: ``train`` (run a recipe), ``evaluate``, ``edit``, ``export``, ``report``, ``bench``, ``compare``, ``study``, ``data``. A subcommand
whose system has not landed yet says which issue brings it and exits with status 2.
"""
from __future__ import annotations

import argparse
import runpy
import sys
from pathlib import Path

# Recipe name -> (paper file in shared/papers, what it reproduces).
RECIPES = {
    "caae_affectnet": ("001", "CAAE continuous valence/arousal editing on AffectNet (Lindt et al. 2019)"),
    "fexgan_ferg": ("004", "FExGAN on FERG-DB (Siddiqui 2022)"),
    "dcgan_fer2013": ("003", "conditional DCGAN + inverse encoder on fer2013 (Fan, Liu, Wang)"),
    "cgan_fashion_mnist": ("000", "label-interpolation cGAN on Fashion-MNIST (Mertes et al.)"),
    "cgan_cifar10": ("000", "label-interpolation cGAN on CIFAR-10 (Mertes et al.)"),
    "cgan_faces": ("000", "label-interpolation cGAN on FACES (Mertes et al.)"),
    "ganmut_affwild2": ("002", "GANmut polar emotion space on Aff-Wild2 (+AffectNet)"),
}

# Subcommand -> the issue that brings it, for the ones not available yet.
PENDING = {
    "evaluate": "the per-system issues #4-#8 (each recipe evaluates at the end of training meanwhile)",
    "export": "the per-system issues #4-#8 (each recipe exports at the end of training meanwhile)",
}


def recipes_dir() -> Path:
    """The ``recipes/`` folder of the checkout this package was installed from (``pip install -e .``)."""
    return Path(__file__).resolve().parent.parent / "recipes"


def _pending(name: str):
    def run(args) -> int:
        print(f"tfgan-emotion {name}: not available yet; it arrives with {PENDING[name]}.", file=sys.stderr)
        return 2

    return run


def cmd_train(args) -> int:
    if args.list or not args.recipe:
        print("recipes (python recipes/<name>.py --help for each one's flags):")
        for name, (paper, what) in RECIPES.items():
            print(f"  {name:20s} paper {paper}: {what}")
        return 0 if args.list else 2
    if args.recipe not in RECIPES:
        print(f"tfgan-emotion train: unknown recipe {args.recipe!r}; known: {', '.join(RECIPES)}", file=sys.stderr)
        return 2
    script = recipes_dir() / f"{args.recipe}.py"
    if not script.exists():
        print(f"tfgan-emotion train: {script} not found; recipes live in the repository's recipes/ folder, so "
              "install the package from a checkout with `pip install -e .`", file=sys.stderr)
        return 2
    sys.argv = [str(script)] + list(args.recipe_args)
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as e:
        return int(e.code or 0) if not isinstance(e.code, str) else (print(e.code, file=sys.stderr) or 1)
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
            editing.run_edit(args.run, args.image, args.output, args.valence, args.arousal, args.grid, args.affect,
                             theta=args.theta, rho=args.rho, emotion=args.emotion)
    except (FileNotFoundError, ValueError) as e:
        print(f"tfgan-emotion edit: {e}", file=sys.stderr)
        return 2
    return 0


def cmd_data(args) -> int:
    if args.data_command == "summary":
        from .data import pipeline

        try:
            print(pipeline.summarize(args.dataset, args.data_dir))
        except (FileNotFoundError, ValueError, KeyError) as e:
            print(f"tfgan-emotion data summary: {e}", file=sys.stderr)
            return 2
        return 0
    if args.data_command == "crop":
        from .data import detect

        try:
            summary = detect.crop_folder(args.src, args.dst, detector=args.detector, weights=args.weights,
                                         margin=args.margin, size=args.size,
                                         labels=args.labels, log=lambda m: print(m, file=sys.stderr, flush=True))
        except (FileNotFoundError, ValueError, RuntimeError) as e:
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

    e = sub.add_parser("evaluate", help="evaluate a run with its paper's protocol")
    e.add_argument("run_dir", type=Path)
    e.set_defaults(func=_pending("evaluate"))

    ed = sub.add_parser("edit", help="edit faces with an exported run",
                        description="Edit a face (or every image of a folder) with a trained run's exported model. "
                        "CAAE: --valence V --arousal A, or --grid for the 7x7 sheet of paper 001. FExGAN: --affect "
                        "joy (or anger+sadness, or a vector of 7 numbers), or --grid for every affect. fer2013 DCGAN: "
                        "--affect happy (a fer2013 label name or index), or --grid for every label. Label-interpolation cGAN: "
                        "--mix neutral=0.3,happiness=0.7 (no --image). GANmut: --theta 1.2 --rho 0.7 (a point of the "
                        "polar emotion space, radians), --emotion happy --rho 0.5 (along a learned direction), or "
                        "--grid for the 7 emotions.")
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

    x = sub.add_parser("export", help="export a run's networks as .keras files and a SavedModel")
    x.add_argument("run_dir", type=Path)
    x.set_defaults(func=_pending("export"))

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
