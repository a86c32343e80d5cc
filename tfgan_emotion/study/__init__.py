"""``tfgan-emotion study``: paper 000's perception study (section 5.5, Fig. 12) for any face-emotion run.

  study make     a static questionnaire page (HTML + images; no server, no external scripts or fonts; opens from
                 file://) with real and generated faces, each rated for EVERY emotion on a 5-point Likert scale
                 (1 = strongly agree .. 5 = strongly disagree), in a random order per participant, answerable with the
                 keyboard alone; participants download their answers as CSV. The key (image id -> real/generated,
                 intended emotion) stays in the study folder, outside the page.
  study analyze  checks the answer files, merges them with the key and reports: mean agreement per intended x rated
                 emotion for real and generated images with 95% CIs (the Fig. 12 analogue), recognition rates and a
                 confusion matrix per source.

Examples:
  tfgan-emotion study make --run checkpoints/cgan_faces/synthetic-seed0 --per-emotion 3 -o studies/faces
  tfgan-emotion study make --run RUN --real-dir ~/data/FACES --real-dataset faces -o studies/faces-real
  tfgan-emotion study make --run checkpoints/caae_affectnet/RUN --emotions neutral happy sad anger --intensity 0.8 \\
      --source-dir my_neutral_faces/ -o studies/caae
  # send studies/faces/page/ to the participants (zipped), collect their CSV files, then:
  tfgan-emotion study analyze studies/faces responses/*.csv
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="study_command", metavar="SUBCOMMAND")
    from . import analyze, make

    m = sub.add_parser("make", help="write the questionnaire page, its images and the hidden key",
                       description=make.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    m.add_argument("--run", type=Path, required=True, help="a trained run directory (holds config.json and "
                   "export/saved_model) of cgan_faces, caae_affectnet, fexgan_ferg, dcgan_fer2013 or ganmut_affwild2")
    m.add_argument("-o", "--output", type=Path, required=True, help="the study folder to create (must not hold a "
                   "study already)")
    m.add_argument("--per-emotion", type=int, default=3, help="images per emotion and per source (default 3: paper "
                   "000 showed 18 real + 18 generated over 6 emotions)")
    m.add_argument("--real-dir", type=Path, help="real faces: one sub-folder per emotion, or a dataset release with "
                   "--real-dataset (default: the built-in renderer's faces stand in)")
    m.add_argument("--real-dataset", choices=("faces", "ferg", "fer2013", "affectnet", "affwild2"),
                   help="read --real-dir as this dataset's release format")
    m.add_argument("--real-split", help="the dataset split to draw real faces from (default: faces all, ferg val, "
                   "fer2013 test, affectnet validation, affwild2 validation)")
    m.add_argument("--emotions", nargs="+", metavar="NAME", help="the emotions to rate (default: every emotion "
                   "the run is conditioned on; CAAE: AffectNet's 7 basic ones, contempt can be added)")
    m.add_argument("--mode", choices=("generate", "edit"), help="generate from noise (default where the run can: "
                   "cGAN, FExGAN, fer2013 DCGAN) or edit source faces (CAAE, GANmut; --mode edit for FExGAN/DCGAN)")
    m.add_argument("--source-dir", type=Path, help="edit mode: a folder of face images to edit (default: neutral "
                   "faces of held-out identities from the built-in renderer)")
    m.add_argument("--intensity", type=float, default=1.0, help="CAAE: radius of the (valence, arousal) target; "
                   "GANmut: rho (default 1.0, the full emotion)")
    m.add_argument("--title", default="How do these faces feel?", help="the page's title")
    m.add_argument("--display-size", type=int, help="on-screen image size in CSS pixels (default max(256, the "
                   "run's image size); paper 000 used 256)")
    m.add_argument("--seed", type=int, default=0, help="seed of the noise vectors and of the real-image draw")
    m.set_defaults(study_func=make.make_study)

    a = sub.add_parser("analyze", help="check the answer files, merge them with the key, write the report",
                       description=analyze.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("study_dir", type=Path, help="the study folder (from study make)")
    a.add_argument("responses", type=Path, nargs="+", help="the participants' CSV files (or folders of them)")
    a.add_argument("-o", "--output", type=Path, help="report folder (default STUDY_DIR/analysis)")
    a.add_argument("--allow-incomplete", action="store_true", help="keep files that do not answer every image")
    a.add_argument("--skip-bad", action="store_true", help="analyse the good files and list the refused ones in the "
                   "report, instead of stopping")
    a.set_defaults(study_func=analyze.analyze_study)


def main(args) -> int:
    func = getattr(args, "study_func", None)
    if func is None:
        print("tfgan-emotion study: choose a subcommand: make, analyze (see --help)", file=sys.stderr)
        return 2
    from .analyze import AnswersRejected

    try:
        func(args)
    except AnswersRejected as e:
        print(f"tfgan-emotion study {args.study_command}: {e}", file=sys.stderr)
        return 2
    except (OSError, ValueError, KeyError, RuntimeError) as e:  # readers: missing ffmpeg, unreadable files
        print(f"tfgan-emotion study {args.study_command}: {e}", file=sys.stderr)
        return 2
    return 0
