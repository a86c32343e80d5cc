"""GANmut: a learned polar emotion space, trained on Aff-Wild2 face crops (paper 002, Surani; GANmut, d'Apolito
et al. CVPR 2021).

With --data-dir AFF_WILD2 it builds the paper's training CSV (section V.D): the annotated frames of every training
video (cropped_aligned/, frames already extracted with --frames extracted --frames-dir DIR, or the videos through
ffmpeg), labels remapped to AffectNet's order with "Other" dropped, the most confident face of each frame cropped
by MTCNN or RetinaFace (--detector; RetinaFace needs --detector-weights retinaface.h5, nothing is downloaded) and
resized to 128x128. --combined AFFECTNET_DIR adds AffectNet's training images of the 7 classes (paper V.C), passed
through the same detector (paper V.D; --affectnet-crops box cuts them to their annotation boxes instead). It then
trains GANmut with the authors' settings (batch 16, n_critic 5, Adam 1e-4 (0.5, 0.999), 2,000,000 iterations =
400,000 generator updates; --parametrization gaussian trains the authors' gaussian model instead of the paper's
linear one) and evaluates as paper section VI: VGG16 and ResNet50 emotion classifiers (F1 on real
and generated faces, FED, smoothness) fine-tuned on a separate balanced labelled set (--classifier-data, paper
VI.A: AffectNet's pre-cropped images), discriminator F1 on training images, each training set's emotion
distribution (Fig. 8), and the learned directions.

With your own labelled faces (--data-csv FILE, or --data-dir DIR --data-format folders; docs/datasets.md "Your own
data") they replace the Aff-Wild2 crops as they are (no detector runs; tfgan-emotion data crop cuts faces from
photographs first): the model learns one direction per class of the data, which must include neutral as its first
class (the centre of the emotion space), and the evaluation holds out the data's val/test rows (else 10% of each
class) and names every table and figure with the data's classes.

Without --data-dir it writes built-in Aff-Wild2-like videos (whole frames with a face in them, in Aff-Wild2's
annotation layout) and runs the very same path on them, shrunk to finish in about 15 minutes on a 2-core CPU;
everything it shrinks is listed in the run's notes and at the top of its report.
"""
from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from .. import paths, run
from ..data import detect
from ..data import labels as L
from .base import BenchSpec, CompareSpec, Data, PaperItem, Plan, StudySpec, System
from .common import grid_sheet, intensities, keys, parse_label, to_uint8

PAPER_ITERATIONS = 2_000_000     # the original code: 2,000,000 iterations (the generator is updated every 5th)
# Synthetic default run, sized for ~15 minutes on a 2-core CPU (stated in the run's notes).
SYNTH = dict(steps=450, image_size=64, width=0.25, videos=32, val_videos=8, frames_per_video=24, eval_faces=160,
             classifier_steps=300, classifier_size=32, classifier_images=700)
SMOKE = dict(steps=2, videos=3, val_videos=2, frames_per_video=8, eval_faces=14, classifier_steps=2,
             classifier_size=32, classifier_images=70)
REAL = dict(eval_faces=1400, classifier_steps=3000, classifier_size=None, classifier_images=20000)
DATA_KEYS = ("image", "expression")
GAN_TRAIN_ARRAYS = 20000   # the GAN's training crops held in memory when the classifiers fall back to them
AFFECTNET_THRESHOLD = 0.1  # paper V.D: RetinaFace's threshold on AffectNet (data.crops.AFFECTNET_RETINAFACE_THRESHOLD)
CLASSIFIER_SET = {"classifier_data": "classifier_data", "synthetic": "synthetic", "fallback": "gan_training_crops"}
# What a paper item shows, said without the paper's class list, for runs on the user's own classes.
OWN_DATA_SHOWS = {"Fig. 9": "One face at increasing intensity of each emotion (the paper shows four)",
                  "Fig. 10": "Every emotion at full intensity, one row per trained model"}
# Where a paper item is in a run on the user's own data, where the paper's text names flags that build Aff-Wild2 crops.
OWN_DATA_HOW = {
    "Table I": "metrics.json classifiers.<vgg16|resnet50>.f1_real (Real) and f1_generated (this run's model); the "
               "classifiers fine-tuned on --classifier-data FILE from --vgg16-weights / --resnet50-weights",
    "Table II": "the same numbers as Table I (one set of faces per run: the paper's two tables differ by detector)",
    "Fig. 8": "figures/fig8_emotion_distribution.png and metrics.json data.label_distribution",
}
OWN_HELD_OUT = 0.1         # own data without a split column: this fraction of each class is held out for evaluation


def _bench_build(size, batch, width):
    from ..gans.ganmut import GANmut, GANmutConfig

    return GANmut(GANmutConfig(image_size=size, batch_size=batch, width=width))


def _bench_stream(source, model, seed):
    from ..bench import base_dataset
    from ..gans.ganmut import attach_draws

    c = model.config
    return attach_draws(keys(base_dataset(source, c.image_size, c.channels, c.n_classes), DATA_KEYS), seed=seed)


def _bench_evaluators(size):
    from ..eval.ganmut import build_classifier

    return [("vgg16_classifier", build_classifier("vgg16", size)),
            ("resnet50_classifier", build_classifier("resnet50", size))]


class GANmutSystem(System):
    name, kind, paper = "ganmut_affwild2", "ganmut", "002"
    title = "GANmut (002)"
    summary = "GANmut polar emotion space on Aff-Wild2 (+AffectNet)"
    doc = __doc__
    dataset = "affwild2"
    batch_size = 16
    smoke_steps = SMOKE["steps"]
    weight_flags = ("detector_weights", "vgg16_weights", "resnet50_weights")
    data_flags = ("data_dir", "combined", "classifier_data")   # --frames-dir may be where ffmpeg writes: see plan()
    # --steps may grow on resume; the learning-rate window follows the run's length.
    resumable = frozenset({"skip_eval", "eval_faces", "classifier_steps", "classifier_size", "vgg16_weights",
                           "resnet50_weights", "total_iterations", "lr_decay_iterations", "classifier_data",
                           "classifier_images"})
    endpoint_names = ("edit", "edit_emotion")
    eval_flags = ("eval_faces", "classifier_steps", "classifier_size", "vgg16_weights", "resnet50_weights",
                  "classifier_data", "classifier_images")
    compare = CompareSpec("continuous", True, "plain", 80, "yes", SYNTH["image_size"], 3, 18.4)
    study = StudySpec(("edit",), "plain", uses_intensity=True)
    bench = BenchSpec("affwild2", 128, 3, 16, 7, _bench_build, _bench_stream, "edit", _bench_evaluators,
                      default=dict(size=SYNTH["image_size"], width=SYNTH["width"], batch=16))
    edit_help = ("--theta 1.2 --rho 0.7 (a point of the polar emotion space, radians), --emotion happy --rho 0.5 "
                 "(along a learned direction; gaussian runs: from the neutral mode toward the emotion's), or --grid "
                 "for every class of the run (GANmut's 7 emotions, or your data's classes)")

    paper_items = (
        PaperItem("Table I", "Average F1 of the VGG16 and ResNet50 emotion classifiers on real faces and on faces "
                  "generated by each model, RetinaFace crops (Real, Combined, Aff-Wild2, GANmut Original)",
                  "reproduced", "metrics.json classifiers.<vgg16|resnet50>.f1_real (Real) and f1_generated (this run's "
                  "column: Aff-Wild2, or Combined with --combined AFFECTNET_DIR); --detector retinaface "
                  "--detector-weights FILE, classifiers fine-tuned on --classifier-data AFFECTNET_DIR from "
                  "--vgg16-weights / --resnet50-weights"),
        PaperItem("Table II", "The same F1 scores with MTCNN crops", "reproduced",
                  "metrics.json classifiers.<vgg16|resnet50>.f1_real / f1_generated; --detector mtcnn (the default) "
                  "and the classifier flags of Table I"),
        PaperItem("Table III", "FED between real and generated faces on each classifier's features, per dataset and "
                  "detector", "reproduced", "metrics.json classifiers.<vgg16|resnet50>.fed (last dense layer); the "
                  "classifier flags of Table I"),
        PaperItem("Table IV", "Smoothness score of the neutral-to-emotion transitions (rho 0.1 .. 1.0), per dataset "
                  "and detector", "reproduced", "metrics.json classifiers.<vgg16|resnet50>.smoothness.average, over "
                  "the emotions whose confidence rises (.rising of .emotions, .rule); curves in "
                  "figures/smoothness_<net>.png; the classifier flags of Table I"),
        PaperItem("Table V", "Discriminator F1 (average, real, fake) on training images against generated images, "
                  "per dataset and detector", "reproduced", "metrics.json discriminator.f1_average / f1_real / "
                  "f1_generated on the GAN's training images through the training augmentation, the critic's score "
                  "thresholded at the median; discriminator_held_out: the same on held-out faces"),
        PaperItem("Fig. 1", "The valence-arousal plane", "not reproduced", "a background diagram, not a result"),
        PaperItem("Fig. 2", "Facial action units of happiness and anger", "not reproduced",
                  "an illustration taken from another work, not a result"),
        PaperItem("Fig. 3", "Blended expressions (surprised, sadly and angrily surprised)", "not reproduced",
                  "photographs from another work illustrating blends, not a result; figures/gamut.png shows the "
                  "run's own blends between its directions"),
        PaperItem("Fig. 4", "The gamut of emotions as vectors from a neutral centre", "not reproduced",
                  "a diagram drawn with another tool; the run's learned directions are figures/directions.png"),
        PaperItem("Fig. 5", "The GANmut architecture and training flow", "not reproduced",
                  "an architecture diagram; the networks are nets/ganmut.py, the losses gans/ganmut.py"),
        PaperItem("Fig. 6", "An Aff-Wild2 frame and its MTCNN and RetinaFace crops", "analogue",
                  "figures/fig6_face_crops.png: training frames beside the crops of the run's --detector (one "
                  "detector per run; the paper shows both side by side)"),
        PaperItem("Fig. 7", "Difficult conditions in Aff-Wild2 frames", "not reproduced",
                  "a choice of dataset frames, not a result"),
        PaperItem("Fig. 8", "Emotion distribution of the training sets: Aff-Wild2, AffectNet, Combined", "reproduced",
                  "figures/fig8_emotion_distribution.png and metrics.json data.label_distribution: the Aff-Wild2 "
                  "crops; with --combined AFFECTNET_DIR also its AffectNet part and the combined set"),
        PaperItem("Fig. 9", "One face at increasing intensity of anger, disgust, happiness and sadness", "reproduced",
                  "figures/fig9_intensity.png: a neutral held-out face at rho 0.1 .. 1.0 for every emotion"),
        PaperItem("Fig. 10", "The 7 emotions at full intensity, one row per trained model", "analogue",
                  "figures/fig10_sample_sheet.png: held-out faces edited by this run's one model (the paper's rows "
                  "are five models: one run per dataset and detector)"),
    )

    @property
    def config_class(self):
        from ..gans.ganmut import GANmutConfig

        return GANmutConfig

    def add_arguments(self, p):
        g = p.add_argument_group("faces (paper 002 section V)")
        g.add_argument("--detector", choices=("mtcnn", "retinaface", "none"), default="mtcnn",
                       help="face detector for the crops (paper V.A-B); 'none' uses the frames as they are "
                       "(cropped_aligned frames are already face crops). Default mtcnn")
        g.add_argument("--detector-weights", type=Path, help="RetinaFace weight file (retinaface.h5 of the "
                       "retina-face package); required with --detector retinaface")
        g.add_argument("--min-confidence", type=float, default=0.0, help="skip frames whose best face scores lower "
                       "(default 0: keep the most confident face whatever its score)")
        detect.add_face_arguments(g)
        g.add_argument("--frames", choices=("auto", "cropped_aligned", "extracted", "ffmpeg"), default="auto",
                       help="where the frames come from (default auto: cropped_aligned/ when present, else ffmpeg)")
        g.add_argument("--frames-dir", type=Path, help="folder of already extracted frames <video>/00001.jpg (with "
                       "--frames extracted), or where ffmpeg writes them")
        g.add_argument("--crops-dir", type=Path, help="where the crops and crops.csv go (default "
                       "<run directory>/crops/<detector>-<image size>); reused when already built with the same "
                       "settings")
        g.add_argument("--combined", type=Path, metavar="AFFECTNET_DIR", help="add AffectNet's training images of "
                       "the 7 classes (paper V.C 'Combined')")
        g.add_argument("--affectnet-crops", choices=("detector", "box"), help="with --combined: 'detector' passes "
                       "every AffectNet image through --detector like the Aff-Wild2 frames (paper V.D; default), "
                       "'box' cuts it to its annotation face box (the cropped release: the whole image) without "
                       "detection, which the notes state")
        g.add_argument("--affectnet-threshold", type=float, default=AFFECTNET_THRESHOLD, help="RetinaFace's confidence "
                       "threshold on the AffectNet images (paper V.D lowered the package's 0.9 to 0.4, then 0.1; "
                       f"default {AFFECTNET_THRESHOLD}); the Aff-Wild2 frames keep 0.9")
        g = p.add_argument_group("GANmut (the original code's defaults)")
        g.add_argument("--image-size", type=int, help=f"image size, a power of two >= 32 (paper 128; synthetic "
                       f"default {SYNTH['image_size']})")
        g.add_argument("--width", type=float, help=f"channel multiplier of G and D (paper 1.0; synthetic default "
                       f"{SYNTH['width']})")
        g.add_argument("--n-critic", type=int, default=5, help="critic updates per generator update (default 5)")
        for flag, default, what in (("lambda-cls", 1.0, "classification"), ("lambda-rec", 10.0, "cycle "
                                    "reconstruction"), ("lambda-gp", 10.0, "gradient penalty"),
                                    ("lambda-info-d", 1.0, "D code regression"),
                                    ("lambda-info-g", 1.0, "G code regression"),
                                    ("lambda-rho", 1.0, "interpolation loss L_rho (the authors' scripts use 4)")):
            g.add_argument(f"--{flag}", type=float, default=default, help=f"weight of the {what} term (default "
                           f"{default})")
        g.add_argument("--cycle-code", choices=("coor", "label"), default="coor", help="code of the real face in "
                       "L_rec: D_coor(x) (paper eq. 7, default) or direction(label) * max softmax D_cls(x) (authors' "
                       "default; linear only)")
        g.add_argument("--parametrization", choices=("linear", "gaussian"), default="linear", help="the conditional "
                       "space: linear (default; the paper's model: a learned unit direction per emotion, neutral at "
                       "the centre) or gaussian (the authors' second model: a learned Gaussian per class, neutral "
                       "included, trained with their symmetric-KL and prediction losses; --emotion E --rho R then "
                       "means the point R of the way from the neutral mode to E's mode)")
        g.add_argument("--lambda-prediction", type=float, default=0.5, help="gaussian only: weight of the term that "
                       "makes D classify faces made at each class's mode as that class (default 0.5, the authors'; "
                       "their gaussian script also sets --lambda-cls 2)")
        g.add_argument("--lr-decay-iterations", type=int, help="the learning rates decay during the last N "
                       "iterations (original 100,000 of 2,000,000; default 5%% of the run)")
        g.add_argument("--lr-update-every", type=int, default=1000, help="decay step every N iterations (original "
                       "1000, which lowers the rates by only 0.1%%; 1 = linear decay to zero)")
        g = run.add_eval_flags(p, "evaluation (paper 002 section VI)", "held-out faces for F1, FED, smoothness and "
                               "discriminator F1", SYNTH, REAL)
        g.add_argument("--classifier-size", type=int, help="input side of the VGG16/ResNet50 classifiers (faces are "
                       "resized inside the model; default the image size on real data, "
                       f"{SYNTH['classifier_size']} synthetic)")
        g.add_argument("--vgg16-weights", type=Path, help="Keras VGG16 ImageNet 'notop' weight file (default: random "
                       "initial weights)")
        g.add_argument("--resnet50-weights", type=Path, help="Keras ResNet50 ImageNet 'notop' weight file (default: "
                       "random initial weights)")
        g.add_argument("--classifier-data", type=Path, metavar="DIR_OR_CSV", help="the balanced labelled set the "
                       "VGG16/ResNet50 classifiers are fine-tuned on (paper VI.A: AffectNet's pre-cropped images, "
                       "classes balanced): an AffectNet root, either release (its train split trains, its validation "
                       "split measures the classifiers), or a CSV with path and expression (GANmut order; on your "
                       "own data: in your classes, names or indices, a split column's train rows train and its "
                       "val/test rows measure them; an AffectNet root is matched to your classes by emotion name). "
                       "Without it a real-data run trains them on the GAN's own training faces, a fallback the notes "
                       "and report state; a synthetic run draws a separate synthetic AffectNet-like set")
        g.add_argument("--classifier-images", type=int, help="at most this many classifier images, the same number "
                       f"per class (default {REAL['classifier_images']:,} real, {SYNTH['classifier_images']} synthetic)")

    def plan(self, args) -> Plan:
        from ..gans.ganmut import GANmutConfig

        synthetic, own = run.is_synthetic(args), run.is_custom(args)
        vocab = self._own_classes(args) if own else L.GANMUT
        # Own data reads at the paper's settings; its --smoke run shrinks the networks as the synthetic one does.
        shrink = SYNTH if synthetic or (own and args.smoke) else {}
        if args.detector == "retinaface" and args.detector_weights is None:
            raise ValueError("--detector retinaface needs --detector-weights retinaface.h5 (the retina-face package's "
                             "weight file; nothing is downloaded). Or use --detector mtcnn, whose weights ship with "
                             "the mtcnn package.")
        if args.frames == "extracted" and not synthetic and args.frames_dir and not Path(args.frames_dir).is_dir():
            raise ValueError(f"--frames-dir {args.frames_dir}: no such folder; with --frames extracted it is the folder "
                             "of already extracted frames (<video>/00001.jpg)")
        if args.affectnet_crops and not args.combined:
            raise ValueError("--affectnet-crops says how --combined's AffectNet images are cropped; give --combined "
                             "AFFECTNET_DIR too, or leave it out")
        image_size = args.image_size or shrink.get("image_size", 128)
        width = args.width if args.width is not None else shrink.get("width", 1.0)
        ev = {k: run.setting(args, k, synthetic, SMOKE, SYNTH, REAL)
              for k in ("eval_faces", "classifier_steps", "classifier_size", "classifier_images")}
        if not own:
            ev.update({k: (SMOKE if args.smoke else SYNTH)[k] for k in ("videos", "val_videos", "frames_per_video")})
        else:
            ev["held_out_fraction"] = OWN_HELD_OUT
        steps = run.steps_from(args, SYNTH["steps"] if synthetic else PAPER_ITERATIONS // args.n_critic,
                               smoke_steps=SMOKE["steps"])
        total = steps * args.n_critic
        decay = args.lr_decay_iterations or max(1, total // 20)
        cfg = GANmutConfig(image_size=image_size, width=width, batch_size=args.batch_size, n_critic=args.n_critic,
                           lambda_cls=args.lambda_cls, lambda_rec=args.lambda_rec, lambda_gp=args.lambda_gp,
                           lambda_info_d=args.lambda_info_d, lambda_info_g=args.lambda_info_g,
                           lambda_rho=args.lambda_rho, cycle_code=args.cycle_code, total_iterations=total,
                           lr_decay_iterations=decay, lr_update_every=args.lr_update_every,
                           random_angle_samples=min(5, args.batch_size), parametrization=args.parametrization,
                           lambda_prediction=args.lambda_prediction, n_classes=len(vocab))
        notes = []
        if args.parametrization == "gaussian":
            notes.append("Gaussian conditional space (the authors' second model, trained by their code; the paper "
                         "describes the linear one). Emotion e at intensity rho is the point rho of the way from the "
                         "learned neutral mode to e's mode (ours: the original has no intensity for this model), so "
                         "rho = 1 is e's mode and the smoothness study walks that segment.")
        if synthetic:
            notes.append("Trained and evaluated on the built-in Aff-Wild2-like SYNTHETIC videos, not Aff-Wild2: the "
                         "numbers show that the pipeline learns an emotion space, not the paper's results.")
            notes.append(f"Shrunk to fit ~15 min on a 2-core CPU: images {image_size}x{image_size} (paper 128), "
                         f"network width x{width} (paper 1.0), {steps} generator updates = {total} iterations (paper "
                         f"2,000,000), {ev['videos']} training videos of {ev['frames_per_video']} frames; classifiers "
                         f"{ev['classifier_steps']} steps at {ev['classifier_size']}x{ev['classifier_size']}; "
                         f"{ev['eval_faces']} evaluation faces.")
        if args.smoke:
            notes.append(f"--smoke: {steps} training steps"
                         + (f", images {image_size}x{image_size}, network width x{width}" if own else "")
                         + "; the numbers mean nothing.")
        if not (args.vgg16_weights and args.resnet50_weights):
            notes.append("VGG16/ResNet50 classifiers without ImageNet weights start from random weights and train "
                         "whole (paper VI.A fine-tunes ImageNet networks, unfreezing their last block): pass "
                         "--vgg16-weights / --resnet50-weights for the paper's setting.")
        if args.combined and args.affectnet_crops == "box":
            notes.append(f"--affectnet-crops box: the combined set's AffectNet images are cut to their annotation "
                         f"face boxes (the cropped release: used whole) instead of passing through {args.detector} "
                         "like the Aff-Wild2 frames, as paper V.D does.")
        return Plan(synthetic, cfg, ev, notes, steps=steps, extra={"vocabulary": vocab, "own": own})

    def _own_classes(self, args):
        """The classes of the user's own data, checked against what GANmut's model needs: neutral is the centre of
        its space (rho = 0, no direction), so the data must have a neutral class and it must come first; the
        flags that build the paper's Aff-Wild2 crops do not apply to data that brings its own faces."""
        for flag, given in (("combined", args.combined), ("affectnet-crops", args.affectnet_crops),
                            ("frames-dir", args.frames_dir), ("crops-dir", args.crops_dir),
                            ("detector-weights", args.detector_weights), ("frames", args.frames != "auto"),
                            ("min-confidence", args.min_confidence != 0.0),
                            ("face-rule", args.face_rule != "checked"), ("min-face", args.min_face != 0),
                            ("detector", args.detector not in ("mtcnn", "none"))):
            if given:
                raise ValueError(f"--{flag} builds the paper's Aff-Wild2 face crops; your own data is read as its "
                                 "images are (cut to its face box columns when it has them): leave the flag out, "
                                 "and crop photographs first with tfgan-emotion data crop")
        vocab = self.own_vocabulary(args, L.GANMUT)
        where = args.data_csv or args.data_dir
        if vocab is None:
            raise ValueError(f"{where}: GANmut needs an expression column (class names, or indices with --classes): "
                             "it learns one direction per emotion class")
        canonical = list(vocab.canonical)
        if "neutral" not in canonical:
            raise ValueError(f"{where}: GANmut needs a neutral class (the centre of its emotion space, rho = 0) and "
                             f"the data's classes are {', '.join(vocab.names)}; add neutral faces, or name the class "
                             "that is neutral with --label-map")
        if canonical[0] != "neutral":
            first = [vocab.names[canonical.index("neutral")]] + [n for n, c in zip(vocab.names, canonical)
                                                                 if c != "neutral"]
            raise ValueError(f"--classes {','.join(vocab.names)}: GANmut's neutral class must come first (class 0 is "
                             f"the centre of its emotion space); give --classes {','.join(first)} and the indices "
                             "in that order")
        if len(vocab) < 2:
            raise ValueError(f"{where}: only the neutral class; GANmut needs at least one emotion beside it")
        return vocab

    def load_data(self, args, plan, run_dir, log, purpose="train") -> Data:
        from ..data import crops, pipeline
        from ..data import synthetic as synth
        from ..gans.ganmut import attach_draws

        cfg, ev = plan.config, plan.ev
        if plan.extra.get("own"):
            return self._load_own_data(args, plan, log)
        run_dir = Path(run_dir)
        data_dir, frames, frames_dir = args.data_dir, args.frames, args.frames_dir
        info = {}
        if plan.synthetic:
            data_dir = run_dir / "synthetic_affwild2"
            for split, key in (("train", "videos"), ("validation", "val_videos")):
                written = synth.write_affwild2_frames(data_dir, n_videos=ev[key],
                                                      frames_per_video=ev["frames_per_video"], seed=args.seed,
                                                      split=split)
                info[f"synthetic_{split}"] = {k: v for k, v in written.items() if isinstance(v, (int, float, str))}
            frames, frames_dir = "extracted", data_dir / "frames"
        crops_dir = args.crops_dir or run_dir / "crops" / f"{args.detector}-{cfg.image_size}"
        built = {}
        for split in ("train", "validation"):
            built[split] = crops.build(data_dir, crops_dir, split=split, detector=args.detector,
                                       weights=args.detector_weights, frames=frames, frames_dir=frames_dir,
                                       size=cfg.image_size, min_confidence=args.min_confidence, log=log,
                                       progress_every=250, rule=args.face_rule, min_face=args.min_face)
        info["crops"] = built
        plan.notes.append(crops.detection_note(built, args.detector))
        if args.combined:
            scan = self._combined_scan(args, plan, crops, built["train"]["csv"], crops_dir, info, log)
        else:
            scan = crops.scan(built["train"]["csv"])
        info["label_distribution"] = self._distribution(crops, scan)
        train_ds, _ = pipeline.finish(scan, cfg.image_size, 3, shuffle_files=True, seed=args.seed, verbose=True,
                                      stream=True)
        held_ds, _ = crops.load(built["validation"]["csv"], cfg.image_size, verbose=False)
        source = self._classifier_source(args, plan)
        # The GAN's training images the evaluation reads: Table V's "real" faces, and the classifiers' set only in
        # the fallback (no --classifier-data on real data).
        train = pipeline.take_arrays(train_ds, DATA_KEYS, GAN_TRAIN_ARRAYS if source == CLASSIFIER_SET["fallback"]
                                     else ev["eval_faces"])
        held = pipeline.take_arrays(held_ds, DATA_KEYS, ev["eval_faces"])
        if len(train["image"]) == 0 or len(held["image"]) == 0:
            raise ValueError(f"too few face crops: {len(train['image'])} for training, {len(held['image'])} held out "
                             f"(see {crops_dir}/*/summary.json for what was skipped)")
        classifier, validation, info["classifier_set"] = self._classifier_set(args, plan, source, train, log)
        ds = keys(train_ds, DATA_KEYS)
        ds = pipeline.augment_stream(ds, args.seed)
        arrays = {"gan_train": train, "classifier": classifier, "classifier_validation": validation,
                  "crop_examples": crops.crop_examples(built["train"])}
        return Data(attach_draws(ds, seed=args.seed), None, held, arrays, info)

    def _load_own_data(self, args, plan, log) -> Data:
        """The user's own faces in place of the Aff-Wild2 crops: the same training stream (the images as they are,
        cut to their face boxes when the data gives them, through the training augmentation, with the same draws)
        and the same evaluation arrays. The held-out faces (Tables I-V, Figs. 9-10) are the data's val/test rows
        when it has a split, else a seeded 10% of each class; the GAN trains on the rest."""
        from ..data import crops, pipeline
        from ..gans.ganmut import attach_draws

        cfg, ev, vocab = plan.config, plan.ev, plan.extra["vocabulary"]
        own = self.own_data(args, L.GANMUT)
        own.require("expression", "GANmut", "it learns one direction per emotion class")
        if own.vocabulary.names != vocab.names:     # the data changed between plan() and now
            raise ValueError(f"{own.scan.summary.source}: the classes changed while reading "
                             f"({', '.join(vocab.names)} before, {', '.join(own.vocabulary.names)} now)")
        train_scan, held_scan = own.parts(ev["held_out_fraction"], seed=args.seed)
        split = "its split column / folders" if (np.asarray(own.split) != "").any() else \
            f"a seeded {ev['held_out_fraction']:.0%} of each class (at least one)"
        plan.notes.append(self.own_data_note(own))
        plan.notes.append(f"Your own faces replace paper V.D's Aff-Wild2 crops: read as they are (cut to the data's "
                          f"face box columns where given; no face detector runs), resized to "
                          f"{cfg.image_size}x{cfg.image_size}. The GAN trains on {len(train_scan):,} of them; "
                          f"{len(held_scan):,} held out by {split} are the evaluation faces (Tables I-V, Figs. 9-10).")
        info = {"own_data": self.own_data_info(own),
                "held_out": {"train": int(len(train_scan)), "held_out": int(len(held_scan)), "by": split},
                "label_distribution": {"your data (training part)":
                                       crops.class_counts(train_scan.labels["expression"], vocab)}}
        source = self._classifier_source(args, plan)
        train_ds = train_scan.dataset(cfg.image_size, 3, shuffle_files=True, seed=args.seed)
        train = pipeline.take_arrays(train_ds, DATA_KEYS, GAN_TRAIN_ARRAYS if source == CLASSIFIER_SET["fallback"]
                                     else ev["eval_faces"])
        held = pipeline.take_arrays(held_scan.dataset(cfg.image_size, 3), DATA_KEYS, ev["eval_faces"])
        if len(train["image"]) == 0 or len(held["image"]) == 0:
            raise ValueError(f"{own.scan.summary.source}: too few images: {len(train['image'])} for training, "
                             f"{len(held['image'])} held out (GANmut needs both; add images or a split column)")
        classifier, validation, info["classifier_set"] = self._classifier_set(args, plan, source, train, log)
        ds = pipeline.augment_stream(keys(train_scan.stream(cfg.image_size, 3, args.seed), DATA_KEYS), args.seed)
        arrays = {"gan_train": train, "classifier": classifier, "classifier_validation": validation,
                  "crop_examples": None}
        return Data(attach_draws(ds, seed=args.seed), None, held, arrays, info)

    # ------------------------------------------------------------------ data of paper V.C-D and VI.A
    @staticmethod
    def _combined_scan(args, plan, crops, affwild2_csv, crops_dir, info, log):
        """Paper V.C-D "Combined": the Aff-Wild2 crops plus AffectNet's images of the 7 classes, through the
        same detector (--affectnet-crops detector, the paper) or cut to their annotation boxes (box)."""
        source = args.combined
        if (args.affectnet_crops or "detector") == "detector":
            net = crops.build_affectnet(args.combined, Path(crops_dir) / "affectnet_train", detector=args.detector,
                                        weights=args.detector_weights, size=plan.config.image_size,
                                        min_confidence=args.min_confidence, threshold=args.affectnet_threshold,
                                        log=log, progress_every=250)
            info["affectnet_crops"] = {k: v for k, v in net.items() if k != "errors"}
            source = net["csv"]
            threshold = f", RetinaFace threshold {args.affectnet_threshold:g}" if args.detector == "retinaface" else ""
            plan.notes.append(f"Combined set (paper V.C-D): AffectNet's training images of the 7 classes pass "
                              f"through {args.detector} like the Aff-Wild2 frames{threshold}: {net['kept']:,} of "
                              f"{net['images']:,} kept ({100 * net['detection_rate']:.1f}%; paper V.D reports about "
                              "half with RetinaFace).")
        return crops.combined_scan(affwild2_csv, source)

    @staticmethod
    def _distribution(crops, scan) -> dict:
        """Fig. 8: {training set: {class: images}} of what the GAN trains on."""
        expression = scan.labels["expression"]
        source = scan.labels.get("source")
        if source is None:
            return {"Aff-Wild2": crops.class_counts(expression)}
        return {"Aff-Wild2": crops.class_counts(expression[source == 0]),
                "AffectNet": crops.class_counts(expression[source == 1]), "Combined": crops.class_counts(expression)}

    @staticmethod
    def _classifier_source(args, plan) -> str:
        if getattr(args, "classifier_data", None):
            return CLASSIFIER_SET["classifier_data"]
        return CLASSIFIER_SET["synthetic"] if plan.synthetic else CLASSIFIER_SET["fallback"]

    def _classifier_set(self, args, plan, source, gan_train, log):
        """(training arrays, validation arrays or None, what metrics.json records) of the set the emotion
        classifiers are fine-tuned on (paper VI.A): --classifier-data balanced; on synthetic runs a separate
        synthetic AffectNet-like set; else (the fallback) the GAN's own training crops."""
        from ..data import crops, pipeline

        size, total, seed = plan.config.image_size, plan.ev["classifier_images"], args.seed
        n_classes = len(L.GANMUT)
        if source == CLASSIFIER_SET["fallback"]:
            return gan_train, None, {"source": source, "images": int(len(gan_train["expression"]))}
        if source == CLASSIFIER_SET["synthetic"]:
            train = self._synthetic_classifier_arrays("test", total, size, seed)
            validation = self._synthetic_classifier_arrays("val", max(n_classes, total // 5), size, seed)
            return train, validation, {"source": source, "images": int(len(train["expression"])),
                                       "validation_images": int(len(validation["expression"]))}
        vocab = plan.extra.get("vocabulary", L.GANMUT)
        own = plan.extra.get("own")
        if own:
            n_classes = len(vocab)
        arrays, counts = {}, {}
        for split, cap in (("train", total), ("validation", max(n_classes, total // 5))):
            try:
                scan = (self._own_classifier_scan(args.classifier_data, split, vocab) if own
                        else crops.labelled_scan(args.classifier_data, split))
            except FileNotFoundError as e:
                if split == "train":
                    raise
                log(f"classifier set: no validation split ({e})")
                continue
            scan = scan.select(crops.balanced_indices(scan.labels["expression"], cap, seed=seed))
            counts[split] = int(len(scan))
            ds, _ = pipeline.finish(scan, size, 3, shuffle_files=False, seed=None, verbose=False)
            arrays[split] = pipeline.take_arrays(ds, DATA_KEYS)
        if not len(arrays["train"]["expression"]):
            raise ValueError(f"--classifier-data {args.classifier_data}: no image of the {n_classes} classes "
                             f"({', '.join(vocab.names)}) to train the emotion classifiers on")
        info = {"source": source, "path": str(args.classifier_data), "images": counts["train"]}
        if "validation" in counts:
            info["validation_images"] = counts["validation"]
        return arrays["train"], arrays.get("validation"), info

    @staticmethod
    def _own_classifier_scan(source, split, vocab):
        """--classifier-data on an own-data run, in the run's classes: a CSV in any form --data-csv reads (names, or
        indices in the run's class order; a split column's train rows train the classifiers, its val/test rows
        measure them), or an AffectNet root (its 7 GANmut classes matched to the run's by emotion name, the others
        left out)."""
        from ..data import crops, custom

        path = Path(source).expanduser()
        if path.is_file():
            data = custom.read(custom.Source(csv=path, classes=vocab.names), check="header")
            given = np.asarray(data.split, dtype=object)
            if (given != "").any():
                rows = given == "train" if split == "train" else np.isin(given, ["val", "test"])
            elif split == "train":
                rows = np.ones(len(data.scan), bool)
            else:
                raise FileNotFoundError(f"{path} has no split column: no validation rows")
            return data.scan.select(np.flatnonzero(rows))
        scan = crops.labelled_scan(path, split)
        to_run = np.array([vocab.canonical.index(c) if c in vocab.canonical else -1 for c in L.GANMUT.canonical])
        index = to_run[scan.labels["expression"]]
        scan = scan.select(np.flatnonzero(index >= 0))
        scan.labels["expression"] = index[index >= 0].astype(np.int32)
        return scan

    @staticmethod
    def _synthetic_classifier_arrays(split, total, size, seed):
        """The synthetic stand-in for paper VI.A's balanced AffectNet set: the AffectNet-like stand-in's "test"
        (training) or "val" (validation) people, who appear neither in the GAN's training videos nor among the
        evaluation faces, classes 0-6 balanced."""
        from ..data import crops
        from ..data import synthetic as synth

        n_classes = len(L.GANMUT)
        per_class = max(1, total // n_classes)
        drawn = synth.make_arrays("affectnet", split, n=(per_class + 2) * (n_classes + 1), size=size, seed=seed)
        keep = np.flatnonzero(drawn["expression"] < n_classes)
        pick = keep[crops.balanced_indices(drawn["expression"][keep], per_class * n_classes, seed=seed)]
        return {"image": drawn["image"][pick], "expression": drawn["expression"][pick].astype(np.int32)}

    def finalize(self, args, plan, data):
        plan.run_config = {"system": self.kind, **asdict(plan.config)}
        if plan.extra.get("own"):
            plan.run_config["classes"] = list(plan.extra["vocabulary"].names)

    def build(self, config, args, data):
        from ..gans.ganmut import GANmut

        faces = None
        if data is not None and data.held is not None:
            held = data.held["image"]
            faces = held[[int(i) for i in np.linspace(0, len(held) - 1, min(6, len(held)))]]
        return GANmut(config, sample_faces=faces, seed=args.seed)

    def fit(self, r, model, data, plan, log):
        from .. import conditioning

        result = r.train(model, data.train, plan.steps, batch_size=plan.config.step_batch)
        if result is None:
            return None
        angles = conditioning.direction_angles(model.unit_directions(), list(self._names(plan))[1:])
        log("learned directions: " + ", ".join(f"{n} {d:.0f} deg" for n, d in angles.items()))
        return result, {}

    def evaluate(self, r, model, plan, data, log):
        from ..eval import ganmut as G

        from ..data import pipeline

        a, ev, arrays, info = r.args, plan.ev, data.arrays, data.info
        names = list(self._names(plan))
        out = G.evaluate(model, arrays["classifier"], data.held, arrays["gan_train"], names, ev["classifier_steps"],
                         weights={"vgg16": a.vgg16_weights, "resnet50": a.resnet50_weights}, seed=a.seed, log=log,
                         figures_dir=r.dir / paths.FIGURES, max_eval_faces=ev["eval_faces"],
                         classifier_size=ev["classifier_size"], classifier_validation=arrays["classifier_validation"],
                         augment=pipeline.augment_layer(plan.config.image_size, seed=a.seed + 1),
                         distribution=info.get("label_distribution"), crop_examples=arrays["crop_examples"],
                         detector=a.detector)
        out["classifier_set"] = {**info.get("classifier_set", {}), **out["classifier_set"]}
        for note in self.evaluation_notes(a, out, own=bool(plan.extra.get("own"))):
            r.note(note)
        return out

    def _names(self, plan) -> tuple:
        """The run's class names, index order (neutral first): the data's on own data, else GANmut's 7."""
        return tuple(plan.extra.get("vocabulary", self.vocabulary(plan.run_config)).names)

    @staticmethod
    def evaluation_notes(args, metrics: dict, own: bool = False) -> list:
        """What the run's evaluation did that paper 002 VI does not, or does not say (the run's notes)."""
        cs = metrics.get("classifier_set", {})
        per = ", ".join(f"{k} {v}" for k, v in cs.get("per_class", {}).items())
        val = (f"; its validation split ({cs['validation_images']:,} images) measures them"
               if cs.get("validation_images") else "")
        notes = []
        if cs.get("source") == CLASSIFIER_SET["fallback"] and own:
            notes.append(f"FALLBACK: no --classifier-data, so the VGG16/ResNet50 emotion classifiers (Tables I-IV) "
                         f"are trained on the GAN's own training part of your data ({cs.get('images', 0):,} images, "
                         f"not balanced: {per}), faces the GAN also learned from; they are measured on the held-out "
                         "part. Paper VI.A fine-tunes them on a separate balanced labelled set: pass --classifier-data "
                         "with a CSV of other faces in your classes (or an AffectNet root, matched by emotion name).")
        elif cs.get("source") == CLASSIFIER_SET["fallback"]:
            notes.append(f"FALLBACK: no --classifier-data, so the VGG16/ResNet50 emotion classifiers (Tables I-IV) "
                         f"are trained on the GAN's own training crops ({cs.get('images', 0):,} images, not "
                         f"balanced: {per}), faces the GAN also learned from. Paper VI.A fine-tunes them on a separate "
                         "balanced set of AffectNet's pre-cropped images: pass --classifier-data AFFECTNET_DIR.")
        elif cs.get("source") == CLASSIFIER_SET["synthetic"]:
            notes.append(f"The emotion classifiers (Tables I-IV) are trained on a separate SYNTHETIC AffectNet-like "
                         f"set ({cs.get('images', 0):,} images: {per}), people who appear neither in the GAN's "
                         f"training videos nor among the evaluation faces{val}; it stands in for paper VI.A's balanced "
                         "AffectNet pre-cropped images (--classifier-data DIR for a real set).")
        elif cs.get("source") == CLASSIFIER_SET["classifier_data"]:
            same = (args.combined is not None and Path(cs.get("path", "")).expanduser().resolve()
                    == Path(args.combined).expanduser().resolve())
            notes.append(f"The emotion classifiers (Tables I-IV) are fine-tuned on a balanced set from "
                         f"--classifier-data {cs.get('path')} ({cs.get('images', 0):,} images: {per}){val}, separate "
                         f"from the GAN's {'training faces' if own else 'Aff-Wild2 crops'} (paper VI.A)."
                         + (" Its AffectNet training images are also in the combined GAN set, as in the paper, "
                            "which uses AffectNet for both." if same else ""))
        notes.append("Evaluation choices where paper 002 is silent (ours): classifier fine-tuning with the GAN "
                     "loader's augmentation, dense 512 and 256 layers each with dropout 0.5, a warm-up + cosine "
                     "learning rate and, from ImageNet weights, a third of the steps on the head alone before the "
                     "last conv block is unfrozen; the classifier set balanced by drawing the same number of images "
                     "per class; discriminator F1 with the critic's score thresholded at the median.")
        if metrics.get("smoothness_inputs", "").startswith("all"):
            notes.append("Table IV and Fig. 9: no held-out face is labelled neutral, so the intensity edits start "
                         "from all held-out faces (paper VI.C starts from neutral faces).")
        for name, scores in metrics.get("classifiers", {}).items():
            if scores.get("fed_undefined"):
                notes.append(f"{name} FED (Table III): {scores['fed_undefined']}.")
            if scores.get("classes_predicted_real") == 1:
                notes.append(f"{name} gives every held-out real face the same class: it has learned no emotion, so "
                             "its F1, FED and smoothness (Tables I-IV) measure nothing.")
            sm = scores.get("smoothness", {})
            if sm.get("non_rising"):
                notes.append(f"{name} smoothness (Table IV): the average covers {sm['rising']} of {sm['emotions']} "
                             f"emotions; {', '.join(sm['non_rising'])} do not rise from rho 0.1 to 1.0, have no "
                             "defined score and are left out (metrics.json smoothness.rule).")
        return notes

    def coverage(self, args, plan, metrics):
        """The paper's items as this run reproduced them: the data, detector and classifier flags (and the
        classifier fallback taken) decide each item's status (PaperItem)."""
        own = run.is_custom(args)
        data = []
        if plan.synthetic:
            data.append("on the built-in synthetic faces, not the paper's data")
        if own:
            data.append("on your own data, not the paper's Aff-Wild2 crops")
        if args.combined and args.affectnet_crops == "box":
            data.append("AffectNet cut to its annotation boxes (--affectnet-crops box), not through the detector")
        if args.detector == "none":
            data.append("--detector none: the frames' own crops, no face detector")
        classifiers = []
        if metrics.get("classifier_set", {}).get("source") == CLASSIFIER_SET["fallback"]:
            classifiers.append("classifiers trained on the GAN's own training "
                               + ("part of your data" if own else "crops") + " (no --classifier-data)")
        elif metrics.get("classifier_set", {}).get("source") == CLASSIFIER_SET["synthetic"]:
            classifiers.append("classifiers trained on a synthetic AffectNet-like set")
        if not (args.vgg16_weights and args.resnet50_weights):
            classifiers.append("classifiers from random weights, not ImageNet (--vgg16-weights / --resnet50-weights)")
        rows = []
        for it in self.paper_items:
            status, how, reasons = it.status, it.how, []
            if own:
                it = replace(it, shows=OWN_DATA_SHOWS.get(it.item, it.shows), how=OWN_DATA_HOW.get(it.item, it.how))
                how = it.how
            if own and it.item == "Fig. 6":
                rows.append(it.row("not reproduced", "your own data is read as its images are: this run cuts no "
                                   "face crops (tfgan-emotion data crop cuts them from photographs)"))
                continue
            if own and it.item in ("Table I", "Table II"):
                reasons.append("your images as given, no face detector (the paper's Table I crops with RetinaFace, "
                               "Table II with MTCNN)")
            elif it.item in ("Table I", "Table II"):
                wanted, other = ("retinaface", "Table II") if it.item == "Table I" else ("mtcnn", "Table I")
                if args.detector not in (wanted, "none"):
                    rows.append(it.row("not reproduced", f"this run's crops are {args.detector}'s ({other}); run "
                                                         f"with --detector {wanted} for {it.item}"))
                    continue
            if it.item == "Table V" and "discriminator" not in metrics:
                rows.append(it.row("not reproduced", "this run has no discriminator: its generator was converted "
                                   "from the authors' published checkpoint (tfgan-emotion convert), which holds none"))
                continue
            if it.item in ("Table I", "Table II", "Table III", "Table IV"):
                reasons = data + classifiers + reasons
            elif it.item in ("Table V", "Fig. 6", "Fig. 8", "Fig. 9", "Fig. 10"):
                reasons = list(data)
            if it.item == "Fig. 8" and own:
                status = "analogue"
                reasons.insert(0, "one panel: the training part of your data")
            elif it.item == "Fig. 8" and not args.combined:
                status = "analogue"
                reasons.insert(0, "only the Aff-Wild2 panel: the AffectNet and Combined panels need --combined "
                                  "AFFECTNET_DIR")
            if status == "reproduced" and reasons:
                status = "analogue"
            rows.append(it.row(status, how + ("; " + "; ".join(reasons) if reasons else "")))
        return rows

    def endpoints(self, model):
        from ..gans.ganmut import saved_model_endpoints

        return saved_model_endpoints(model)

    def conclude(self, r, metrics, log):
        names = self.vocabulary(r.config).names
        log(f"edit a face: tfgan-emotion edit --run {r.dir} --image face.png --emotion {names[1]} --rho 0.5 -o "
            f"out.png (or --theta 1.2 --rho 0.7); classes: {', '.join(names)}")

    # ------------------------------------------------------------------ endpoints
    def vocabulary(self, config):
        """GANmut's 7 classes, or the classes of the user's own data the run was trained on (index 0 neutral)."""
        from ..data import custom

        return custom.stored_vocabulary(config, L.GANMUT)

    def request(self, config, emotions, intensity, mode="edit"):
        vocab = self.vocabulary(config)
        index = []
        for e in emotions:
            try:
                index.append(vocab.index(e))
            except KeyError:
                raise ValueError(f"this GANmut run has no class {e!r}: its classes are {', '.join(vocab.names)}") \
                    from None
        return "edit_emotion", {"emotion": np.array(index, np.int32), "rho": intensities(emotions, intensity)}

    def editor(self, config, model, request):
        theta, rho, emotion, grid = (request.get(k) for k in ("theta", "rho", "emotion", "grid"))
        vocab = self.vocabulary(config)
        names = vocab.names
        if grid:
            if theta is not None or emotion is not None:
                raise ValueError("--grid draws every emotion; leave out --theta/--emotion")
            k = config["n_classes"]

            def sheet(face):
                x = face[None].astype(np.float32)
                out = model.edit_emotion(image=np.repeat(x, k, axis=0), emotion=np.arange(k, dtype=np.int32),
                                         rho=np.array([0.0] + [1.0] * (k - 1), np.float32))["image"].numpy()
                return grid_sheet(np.concatenate([x, out]), k + 1)

            return sheet
        if (theta is None) == (emotion is None):
            raise ValueError("GANmut runs take --theta T --rho R (radians, rho in [0, 1]), or --emotion NAME --rho R "
                             f"(NAME one of {', '.join(names)}), or --grid")
        if rho is None:
            raise ValueError("give --rho (the intensity, 0 = neutral .. 1 = full)")
        if not 0.0 <= float(rho) <= 1.5:
            raise ValueError(f"--rho {rho} is outside the trained range [0, 1] (up to 1.5 is allowed, to "
                             "extrapolate)")
        r = np.array([rho], np.float32)
        if theta is not None:
            t = np.array([theta], np.float32)
            return lambda face: to_uint8(model.edit(image=face[None].astype(np.float32), theta=t,
                                                    rho=r)["image"].numpy()[0])
        try:
            index = vocab.index(str(emotion))      # a class name or the emotion it spells ("happy" for "Happiness")
        except KeyError:
            index = parse_label(emotion, names, "--emotion")
        e = np.array([index], np.int32)
        return lambda face: to_uint8(model.edit_emotion(image=face[None].astype(np.float32), emotion=e,
                                                        rho=r)["image"].numpy()[0])


SYSTEMS = (GANmutSystem(),)
