"""``tfgan-emotion``: the console entry point.

Subcommands: ``train`` (a system's recipe), ``evaluate`` and ``export`` (any run directory, finished or stopped
mid-training), ``edit``, ``report``, ``bench``, ``compare``, ``budget`` (CAAE quality vs training compute),
``study``, ``data``, ``convert`` (networks published with a paper's original code -> a run directory), ``doctor``
(what TensorFlow sees on this machine).
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
    keys = {"reports"} | {dest for s in _systems().all_systems() for dest in s.eval_flags}
    return {k: getattr(args, k) for k in sorted(keys) if getattr(args, k, None) is not None}


def _systems():
    from . import systems

    return systems


def add_evaluation_flags(group) -> None:
    """Every system's evaluation flags (``System.eval_flags``), as that system's recipe defines them, each with the
    systems that have it; the default None keeps the run's own setting."""
    flags: dict = {}
    for s in _systems().all_systems():
        for a in s.parser()._actions:
            if a.dest in s.eval_flags:
                flags.setdefault(a.dest, (a, []))[1].append(s.name)
    for dest, (a, names) in flags.items():
        owners = list(dict.fromkeys(n.split("_")[0] if n.startswith("cgan_") else n for n in names))
        what = a.help if len(owners) == 1 else "what the flag means differs by system; python recipes/<name>.py " \
            "--help says it for each"
        kw = dict(dest=dest, default=None, help=f"{', '.join(owners)}: {what}")
        if a.nargs == 0:
            kw.update(action="store_const", const=a.const)
        else:
            kw.update(type=a.type, metavar=a.metavar, choices=a.choices)
        group.add_argument(*a.option_strings, **kw)


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
                             grid=args.grid, affect=args.affect, theta=args.theta, rho=args.rho, emotion=args.emotion,
                             detect=args.detect, detector=args.detector, weights=args.detector_weights,
                             face=args.face, margin=args.margin)
    except (FileNotFoundError, ValueError) as e:
        print(f"tfgan-emotion edit: {e}", file=sys.stderr)
        return 2
    return 0


def cmd_bench(args) -> int:
    if args.gpu_check:
        from . import gpucheck

        return gpucheck.main(args)
    from . import bench

    return bench.main(args)


def cmd_convert(args) -> int:
    from .convert import CheckpointError
    from .convert import ganmut

    try:
        out = ganmut.convert(args.checkpoint, args.output, parametrization=args.parametrization,
                             image_size=args.image_size, recipe_flags=args.recipe_flags,
                             log=lambda m: print(f"[convert] {m}", file=sys.stderr, flush=True))
    except (CheckpointError, ValueError, FileNotFoundError) as e:
        print(f"tfgan-emotion convert: {e}", file=sys.stderr)
        return 2
    print(out)
    return 0


CONVERT_HELP = """\
Load a generator the GANmut authors published (learned_generators/<model>/<iterations>-G.ckpt in their repository:
a PyTorch state dict of their linear or gaussian 2-D model) into a ganmut_affwild2 run directory, which `edit`,
`evaluate`, `export`, `compare`, `study` and the Python API take like a trained run.

The file is read without PyTorch: a zip (PyTorch 1.6 and later) or legacy torch.save file whose pickle may name only
collections.OrderedDict, torch._utils._rebuild_tensor_v2 / _rebuild_parameter and the torch.<Type>Storage types;
a file naming anything else is refused before anything in it runs. Every key must map: a missing, unexpected or
mis-shaped key is named in the error. The instance norms' running statistics (and the linear model's unused
axes.bias) are accepted and not used: the generator normalises each image with its own statistics, as the authors'
notebook runs it. The original works in BGR order; the converted generator takes and returns RGB (the first and
last convolutions' colour channels are swapped at conversion).

There is no discriminator in the file: `tfgan-emotion evaluate --run DIR` trains the emotion classifiers on the
run's data and reports F1, FED and smoothness for the converted generator (the paper's "GANmut Original" column),
but no discriminator F1. Flags after the checkpoint that this command does not know are ganmut_affwild2 recipe
flags stored with the run for that evaluation (e.g. --data-dir AFF_WILD2 --detector retinaface --detector-weights
retinaface.h5 --vgg16-weights FILE); without --data-dir the evaluation uses the built-in synthetic faces.

example:
  tfgan-emotion convert ganmut learned_generators/gaus_2d/1800000-G.ckpt -o runs/original-gaussian
  tfgan-emotion edit --run runs/original-gaussian --emotion happy --rho 0.8 --image face.jpg -o out.png
  tfgan-emotion evaluate --run runs/original-gaussian
"""


def cmd_doctor(args) -> int:
    import json

    from . import runtime

    env = runtime.environment(probe_xla=True)
    print(json.dumps(env, indent=2) if args.json else runtime.doctor_text(env))
    return 0


DOCTOR_HELP = """\
Print what decides how runs execute on this machine: the Python, TensorFlow (with the CUDA and cuDNN versions it
was built for) and Keras versions, the NVIDIA driver, the CPU (and whether it runs bf16 natively), every device
TensorFlow sees (GPUs with their compute capability), whether XLA compiles, what --strategy auto and --precision
auto pick here and why, TF_CONFIG, and the git commit of this checkout. Every run records the same facts in its
config.json ("environment") and its report. On a GPU machine a GPU missing from the devices means TensorFlow cannot
use it: install with pip install -e ".[gpu]" and check the driver.
"""


def _data_summary(args) -> str:
    from .data import custom

    own = args.data_csv is not None or args.data_format == "folders"
    if not own:
        if args.dataset is None or args.data_dir is None:
            raise ValueError("give --dataset NAME --data-dir DIR (a published layout), --data-csv FILE (your own "
                             "CSV) or --data-dir DIR --data-format folders (class folders)")
        from .data import pipeline

        return pipeline.summarize(args.dataset, args.data_dir)
    if args.dataset is not None:
        raise ValueError("--dataset names a published layout; leave it out with --data-csv / --data-format folders")
    if args.data_csv is not None and args.data_dir is not None:
        raise ValueError("--data-csv and --data-dir name two datasets; give one")
    if args.data_format == "folders" and args.data_dir is None:
        raise ValueError("--data-format folders reads --data-dir DIR (one sub-folder per class)")
    default = None
    if args.system:
        from . import systems

        default = systems.get(args.system).vocabulary({})
    source = custom.Source(csv=args.data_csv, folder=args.data_dir if args.data_csv is None else None,
                           image_root=args.image_root, classes=custom.parse_classes(args.classes),
                           label_map=args.label_map)
    return custom.describe(custom.read(source, default))


def cmd_data(args) -> int:
    if args.data_command == "summary":
        try:
            print(_data_summary(args))
        except (FileNotFoundError, ValueError, KeyError, RuntimeError, ImportError) as e:
            print(f"tfgan-emotion data summary: {e}", file=sys.stderr)
            return 2
        return 0
    if args.data_command == "crop":
        from .data import detect

        try:
            summary = detect.crop_folder(args.src, args.dst, detector=args.detector, weights=args.weights,
                                         margin=args.margin, size=args.size, rule=args.face_rule,
                                         min_face=args.min_face, min_confidence=args.min_confidence,
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
    g = e.add_argument_group("evaluation settings (each only for the systems named; default: the run's own)")
    add_evaluation_flags(g)
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
    g = ed.add_argument_group("photographs")
    x = g.add_mutually_exclusive_group()
    x.add_argument("--detect", action="store_true", help="find the faces of the photograph, cut each as `data crop` "
                   "cuts training faces, edit it and paste it back with a soft edge: the output is the whole "
                   "photograph (size unchanged) with its faces edited")
    x.add_argument("--crop-only", action="store_true", help="edit the centre square of the image and write the "
                   "edited crop (the default)")
    g.add_argument("--detector", choices=("mtcnn", "retinaface"), default="mtcnn", help="face detector for --detect "
                   "(default mtcnn, whose weights come with its package; retinaface needs --detector-weights)")
    g.add_argument("--detector-weights", type=Path, help="RetinaFace weights file (nothing is downloaded)")
    g.add_argument("--face", type=int, help="edit only face N of the photograph (0 = the most confident); "
                   "default: every face found")
    g.add_argument("--margin", type=float, default=0.2, help="how far the crop reaches beyond the detected box, as "
                   "a fraction of its size (default 0.2, as `data crop`)")
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

    from . import bench, budget, compare, gpucheck, study

    b = sub.add_parser("bench", help="benchmark training, input pipeline, precision, generation+evaluation, memory; "
                       "--gpu-check: does everything run on this GPU machine", description=bench.__doc__,
                       epilog="--gpu-check:\n" + gpucheck.__doc__.split("\n\n", 1)[1],
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    bench.add_arguments(b)
    gpucheck.add_arguments(b)
    b.set_defaults(func=cmd_bench)

    cp = sub.add_parser("compare", help="train/evaluate all five systems on the synthetic faces' ground truth",
                        description=compare.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    compare.add_arguments(cp)
    cp.set_defaults(func=compare.main)

    bu = sub.add_parser("budget", help="quality vs training compute of the CAAE recipe on the synthetic faces (runs "
                        "at 1x, 4x, 16x the default run's steps)", description=budget.__doc__,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    budget.add_arguments(bu)
    bu.set_defaults(func=budget.main)

    st = sub.add_parser("study", help="user study of paper 000 (section 5.5): make the questionnaire page, analyze "
                        "the answers", description=study.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    study.add_arguments(st)
    st.set_defaults(func=study.main)

    cv = sub.add_parser("convert", help="load published original networks (GANmut generators) into a run directory",
                        description=CONVERT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
                        allow_abbrev=False)
    cv.add_argument("system", choices=("ganmut",), help="whose networks: ganmut (the authors' -G.ckpt generators)")
    cv.add_argument("checkpoint", type=Path, help="the authors' generator file, e.g. 1800000-G.ckpt")
    cv.add_argument("--parametrization", choices=("linear", "gaussian"), help="the model the file holds (default: "
                    "read from its keys: axes.weight = linear, mu.weight = gaussian)")
    cv.add_argument("-o", "--output", type=Path, required=True, help="the run directory to write (new or empty)")
    cv.add_argument("--image-size", type=int, default=128, help="input side of the converted generator (default "
                    "128, the authors'; the network is convolutional, so it runs at other powers of two >= 32 too)")
    cv.set_defaults(func=cmd_convert, recipe_flags=[])

    dr = sub.add_parser("doctor", help="what TensorFlow sees here: versions, CUDA, driver, devices, what auto picks",
                        description=DOCTOR_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    dr.add_argument("--json", action="store_true", help="print the facts as JSON (as config.json stores them)")
    dr.set_defaults(func=cmd_doctor)

    d = sub.add_parser("data", help="dataset tools: summary, crop")
    dsub = d.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    s = dsub.add_parser("summary", help="counts per class, valence/arousal histogram, skipped files")
    s.add_argument("--dataset", help="a published layout: affectnet, fer2013, ferg, faces, affwild2, fashion_mnist, "
                   "cifar10")
    s.add_argument("--data-dir", type=Path, help="the dataset's folder")
    s.add_argument("--data-csv", type=Path, metavar="FILE", help="your own labelled faces (docs/datasets.md, 'Your "
                   "own data'): what a recipe's --data-csv would keep, skip (by reason and line) and count per class")
    s.add_argument("--image-root", type=Path, metavar="DIR", help="the folder the CSV's paths are relative to "
                   "(default: the CSV's folder)")
    s.add_argument("--data-format", choices=("published", "folders"), default="published",
                   help="folders: --data-dir holds one sub-folder per class")
    s.add_argument("--classes", metavar="A,B,...", help="the class names in index order")
    s.add_argument("--label-map", type=Path, metavar="FILE", help="a from,to CSV (or JSON) renaming, merging or "
                   "dropping classes")
    s.add_argument("--system", metavar="RECIPE", help="read class indices in this system's own vocabulary, as its "
                   "recipe does without --classes (e.g. ganmut_affwild2)")
    c = dsub.add_parser("crop", help="detect the most confident face in every image of SRC, write crops + CSV to DST")
    c.add_argument("src", type=Path)
    c.add_argument("dst", type=Path)
    c.add_argument("--detector", choices=("mtcnn", "retinaface"), default="mtcnn")
    c.add_argument("--weights", type=Path, help="RetinaFace weights file (required for --detector retinaface)")
    c.add_argument("--margin", type=float, default=0.2, help="margin around the box, as a fraction of its size")
    c.add_argument("--labels", type=Path, help="CSV with a 'path' column (relative to SRC) and label columns to copy "
                   "into the training CSV; images without a label are skipped (paper 002 V.D)")
    c.add_argument("--size", type=int, default=128, help="resize crops to SIZE x SIZE (default 128, paper 002)")
    from .data import detect

    detect.add_face_arguments(c)
    c.add_argument("--min-confidence", type=float, default=0.0, help="skip images whose best face scores lower "
                   "(default 0)")
    d.set_defaults(func=cmd_data)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and getattr(args, "func", None) is not cmd_convert:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:
        args.recipe_flags = extra  # convert: the recipe flags stored with the run
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
