"""GANmut: a learned polar emotion space, trained on Aff-Wild2 face crops (paper 002, Surani; GANmut, d'Apolito
et al. CVPR 2021).

With --data-dir AFF_WILD2 it builds the paper's training CSV (section V.D): the annotated frames of every training
video (cropped_aligned/, frames already extracted with --frames extracted --frames-dir DIR, or the videos through
ffmpeg), labels remapped to AffectNet's order with "Other" dropped, the most confident face of each frame cropped
by MTCNN or RetinaFace (--detector; RetinaFace needs --detector-weights retinaface.h5, nothing is downloaded) and
resized to 128x128. --combined AFFECTNET_DIR adds AffectNet's training images of the 7 classes (paper V.C). It then
trains GANmut with the authors' settings (batch 16, n_critic 5, Adam 1e-4 (0.5, 0.999), 2,000,000 iterations =
400,000 generator updates; --parametrization gaussian trains the authors' gaussian model instead of the paper's
linear one) and evaluates as paper section VI: VGG16 and ResNet50 emotion classifiers (F1 on real
and generated faces, FED, smoothness), discriminator F1, and the learned directions.

Without --data-dir it writes built-in Aff-Wild2-like videos (whole frames with a face in them, in Aff-Wild2's
annotation layout) and runs the very same path on them, shrunk to finish in about 15 minutes on a 2-core CPU;
everything it shrinks is listed in the run's notes and at the top of its report.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np

from .. import paths, run
from ..data import labels as L
from .base import BenchSpec, CompareSpec, Data, Plan, StudySpec, System
from .common import grid_sheet, intensities, keys, parse_label, to_uint8

PAPER_ITERATIONS = 2_000_000     # the original code: 2,000,000 iterations (the generator is updated every 5th)
# Synthetic default run, sized for ~15 minutes on a 2-core CPU (stated in the run's notes).
SYNTH = dict(steps=450, image_size=64, width=0.25, videos=32, val_videos=8, frames_per_video=24, eval_faces=160,
             classifier_steps=300, classifier_size=32)
SMOKE = dict(steps=2, videos=3, val_videos=2, frames_per_video=8, eval_faces=14, classifier_steps=2,
             classifier_size=32)
REAL = dict(eval_faces=1400, classifier_steps=3000, classifier_size=None)
DATA_KEYS = ("image", "expression")


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
    data_flags = ("data_dir", "combined")    # --frames-dir may be where ffmpeg is to write: checked in plan()
    # --steps may grow on resume; the learning-rate window follows the run's length.
    resumable = frozenset({"skip_eval", "eval_faces", "classifier_steps", "classifier_size", "vgg16_weights",
                           "resnet50_weights", "total_iterations", "lr_decay_iterations"})
    endpoint_names = ("edit", "edit_emotion")
    compare = CompareSpec("continuous", True, "plain", 80, "yes", SYNTH["image_size"], 3, 18.4)
    study = StudySpec(("edit",), "plain", uses_intensity=True)
    bench = BenchSpec("affwild2", 128, 3, 16, 7, _bench_build, _bench_stream, "edit", _bench_evaluators)
    edit_help = ("--theta 1.2 --rho 0.7 (a point of the polar emotion space, radians), --emotion happy --rho 0.5 "
                 "(along a learned direction; gaussian runs: from the neutral mode toward the emotion's), or --grid "
                 "for the 7 emotions")

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
        g.add_argument("--frames", choices=("auto", "cropped_aligned", "extracted", "ffmpeg"), default="auto",
                       help="where the frames come from (default auto: cropped_aligned/ when present, else ffmpeg)")
        g.add_argument("--frames-dir", type=Path, help="folder of already extracted frames <video>/00001.jpg (with "
                       "--frames extracted), or where ffmpeg writes them")
        g.add_argument("--crops-dir", type=Path, help="where the crops and crops.csv go (default "
                       "<run directory>/crops/<detector>-<image size>); reused when already built with the same "
                       "settings")
        g.add_argument("--combined", type=Path, metavar="AFFECTNET_DIR", help="add AffectNet's training images of "
                       "the 7 classes (paper V.C 'Combined')")
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

    def plan(self, args) -> Plan:
        from ..gans.ganmut import GANmutConfig

        synthetic = args.synthetic or not args.data_dir
        shrink = SYNTH if synthetic else {}
        if args.detector == "retinaface" and args.detector_weights is None:
            raise ValueError("--detector retinaface needs --detector-weights retinaface.h5 (the retina-face package's "
                             "weight file; nothing is downloaded). Or use --detector mtcnn, whose weights ship with "
                             "the mtcnn package.")
        if args.frames == "extracted" and not synthetic and args.frames_dir and not Path(args.frames_dir).is_dir():
            raise ValueError(f"--frames-dir {args.frames_dir}: no such folder; with --frames extracted it is the folder "
                             "of already extracted frames (<video>/00001.jpg)")
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
                           random_angle_samples=min(5, args.batch_size), parametrization=args.parametrization,
                           lambda_prediction=args.lambda_prediction)
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
            notes.append(f"--smoke: {steps} training steps; the numbers mean nothing.")
        if not (args.vgg16_weights and args.resnet50_weights):
            notes.append("VGG16/ResNet50 classifiers without ImageNet weights start from random weights and are "
                         "trained on the run's faces only (paper VI.A fine-tunes ImageNet networks): pass "
                         "--vgg16-weights / --resnet50-weights for the paper's setting.")
        return Plan(synthetic, cfg, ev, notes, steps=steps)

    def load_data(self, args, plan, run_dir, log, purpose="train") -> Data:
        from ..data import crops, pipeline
        from ..data import synthetic as synth
        from ..gans.ganmut import attach_draws

        cfg, ev = plan.config, plan.ev
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
                                       progress_every=250)
        info["crops"] = built
        if args.combined:
            train_ds, _ = crops.combined(built["train"]["csv"], args.combined, cfg.image_size, seed=args.seed)
        else:
            train_ds, _ = crops.load(built["train"]["csv"], cfg.image_size, shuffle_files=True, seed=args.seed)
        held_ds, _ = crops.load(built["validation"]["csv"], cfg.image_size, verbose=False)
        train = pipeline.take_arrays(train_ds, DATA_KEYS, 20000)
        held = pipeline.take_arrays(held_ds, DATA_KEYS, ev["eval_faces"])
        if len(train["image"]) == 0 or len(held["image"]) == 0:
            raise ValueError(f"too few face crops: {len(train['image'])} for training, {len(held['image'])} held out "
                             f"(see {crops_dir}/*/summary.json for what was skipped)")
        ds = keys(train_ds, DATA_KEYS)
        augment = pipeline.augment_layer(cfg.image_size, seed=args.seed)
        ds = ds.map(lambda ex: {**ex, "image": augment(ex["image"], training=True)})
        return Data(attach_draws(ds, seed=args.seed), None, held, train, info)

    def finalize(self, args, plan, data):
        plan.run_config = {"system": self.kind, **asdict(plan.config)}

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
        angles = conditioning.direction_angles(model.unit_directions(), list(L.GANMUT.names)[1:])
        log("learned directions: " + ", ".join(f"{n} {d:.0f} deg" for n, d in angles.items()))
        return result, {}

    def evaluate(self, r, model, plan, data, log):
        from ..eval import ganmut as G

        a, ev = r.args, plan.ev
        return G.evaluate(model, data.arrays, data.held, list(L.GANMUT.names), ev["classifier_steps"],
                          weights={"vgg16": a.vgg16_weights, "resnet50": a.resnet50_weights}, seed=a.seed, log=log,
                          figures_dir=r.dir / paths.FIGURES, max_eval_faces=ev["eval_faces"],
                          classifier_size=ev["classifier_size"])

    def endpoints(self, model):
        from ..gans.ganmut import saved_model_endpoints

        return saved_model_endpoints(model)

    def conclude(self, r, metrics, log):
        log(f"edit a face: tfgan-emotion edit --run {r.dir} --image face.png --emotion happy --rho 0.5 -o out.png "
            "(or --theta 1.2 --rho 0.7)")

    # ------------------------------------------------------------------ endpoints
    def vocabulary(self, config):
        return L.GANMUT

    def request(self, config, emotions, intensity, mode="edit"):
        return "edit_emotion", {"emotion": np.array([L.GANMUT.index(e) for e in emotions], np.int32),
                                "rho": intensities(emotions, intensity)}

    def editor(self, config, model, request):
        theta, rho, emotion, grid = (request.get(k) for k in ("theta", "rho", "emotion", "grid"))
        names = L.GANMUT.names
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
        e = np.array([parse_label(emotion, names, "--emotion")], np.int32)
        return lambda face: to_uint8(model.edit_emotion(image=face[None].astype(np.float32), emotion=e,
                                                        rho=r)["image"].numpy()[0])


SYSTEMS = (GANmutSystem(),)
