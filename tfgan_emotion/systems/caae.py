"""CAAE: edit a face to any continuous (valence, arousal) label (paper 001, Lindt et al. 2019).

With --data-dir AFFECTNET_ROOT it trains on AffectNet with the paper's settings (96x96, batch 49, full widths,
VGG-Face identity loss on 16 of 49 images at 224x224, Adam 2e-4/0.5/0.999) and evaluates as paper section IV.
Without --data-dir it trains on the built-in AffectNet-like synthetic faces, shrunk to finish in about 15 minutes
on a 2-core CPU; everything it shrinks is listed in the run's config notes and at the top of its report.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np

from .. import paths, run
from ..data import labels as L
from .base import BenchSpec, CompareSpec, Data, Plan, StudySpec, System, UsageError
from .common import circumplex_va, grid_sheet, keys, to_uint8

PAPER_EPOCHS = 50          # (ours) paper 001 gives no training length; 50 epochs is the original CAAE code's default
PAPER_EVAL_FACES = 4500    # [IV.C.1] 4,500 faces x 49 labels = 220,500 generated images
# Synthetic default run, sized for ~15 minutes on a 2-core CPU (stated in the run's notes).
SYNTH = dict(steps=6000, image_size=48, width=0.25, identity_net="none", identity_size=32, train_images=10000,
             eval_faces=100, regressor_steps=2000, regressor_width=0.125, regressor_lr=1e-2, identity_steps=400)
SMOKE = dict(steps=4, eval_faces=4, regressor_steps=4, identity_steps=4, train_images=98)
DATA_KEYS = ("image", "valence", "arousal")
GRID_VALUES = (0.75, 0.5, 0.25, 0.0, -0.25, -0.5, -0.75)   # paper 001's 7x7 edit grid


def _bench_build(size, batch, width):
    from ..gans.caae import CAAE, CAAEConfig

    # identity_net "random": the paper's VGG-Face graph with untrained weights (no weights file; same cost).
    return CAAE(CAAEConfig(image_size=size, batch_size=batch, width=width, identity_net="random"))


def _bench_stream(source, model, seed):
    from .. import training
    from ..bench import base_dataset

    c = model.config
    ds = keys(base_dataset(source, c.image_size, c.channels, 8), DATA_KEYS)
    return training.add_noise(ds, "z_prior", (c.z_dim,), seed=seed)


def _bench_evaluators(size):
    from ..eval.caae import build_regressor

    return [("table2_valence_regressor", build_regressor(size, 3, 1.0, name="valence", seed=0)),
            ("table2_arousal_regressor", build_regressor(size, 3, 1.0, name="arousal", seed=1))]


class CAAESystem(System):
    name, kind, paper = "caae_affectnet", "caae", "001"
    title = "CAAE (001)"
    summary = "CAAE continuous valence/arousal editing on AffectNet (Lindt et al. 2019)"
    doc = __doc__
    dataset = "affectnet"
    batch_size = 49
    smoke_steps = SMOKE["steps"]
    weight_flags = ("vggface_weights",)
    resumable = frozenset({"skip_eval", "regressor_images", "eval_faces", "regressor_steps", "regressor_width"})
    endpoint_names = ("edit",)
    compare = CompareSpec("continuous", True, "plain", 49, "yes", SYNTH["image_size"], 3, 2.7)
    study = StudySpec(("edit",), "plain", any_circumplex_emotion=True, uses_intensity=True)
    bench = BenchSpec("affectnet", 96, 3, 49, 8, _bench_build, _bench_stream, "edit", _bench_evaluators)
    edit_help = "--valence V --arousal A (each in [-1, 1]), or --grid for paper 001's 7x7 sheet"

    @property
    def config_class(self):
        from ..gans.caae import CAAEConfig

        return CAAEConfig

    def add_arguments(self, p):
        g = p.add_argument_group("CAAE (paper 001)")
        g.add_argument("--vggface-weights", type=Path, help="VGG-Face weights (keras-vggface "
                       "rcmalli_vggface_tf_vgg16.h5 layout) for the identity loss; required on real data unless "
                       "--identity-net random/none")
        g.add_argument("--identity-net", choices=("vggface", "random", "none"), help="identity-loss features: "
                       "vggface (published weights, default on real data), random (untrained VGG-Face: the loss then "
                       "measures untrained features; default on synthetic faces, which have no VGG-Face weights), "
                       "none")
        g.add_argument("--identity-size", type=int, help="VGG-Face input size (paper 224; synthetic default 64)")
        g.add_argument("--label-concat", choices=("every", "first"), default="every", help="D_img label "
                       "concatenation: after every block (paper III.B.1, default) or once after block 1 (authors' "
                       "code)")
        g.add_argument("--image-size", type=int, help="image size, a multiple of 16 (paper 96; synthetic default 48)")
        g.add_argument("--width", type=float, help="channel multiplier of all four networks (paper 1.0; synthetic "
                       "default 0.25)")
        g.add_argument("--oversample", action="store_true", help="oversample AffectNet classes to equal counts (the "
                       "authors' code did this)")
        g = p.add_argument_group("evaluation (paper IV)")
        g.add_argument("--eval-faces", type=int, help=f"held-out faces edited to each of the 49 grid labels (paper "
                       f"{PAPER_EVAL_FACES}; synthetic default {SYNTH['eval_faces']})")
        g.add_argument("--regressor-steps", type=int, help="training steps of each Table II regressor (default: 5 "
                       f"epochs of the regressor training images on real data, {SYNTH['regressor_steps']} on "
                       "synthetic)")
        g.add_argument("--regressor-width", type=float, help="width multiplier of the Table II regressors (paper "
                       "1.0)")
        g.add_argument("--regressor-images", type=int, default=30000, help="training images held in memory for the "
                       "regressors on real data (default 30000)")
        g.add_argument("--skip-eval", action="store_true", help="train and export only")

    def plan(self, args) -> Plan:
        from ..gans.caae import CAAEConfig

        synthetic = args.synthetic or not args.data_dir
        notes = []
        if synthetic:
            notes.append("Trained and evaluated on the built-in AffectNet-like SYNTHETIC faces, not AffectNet: the "
                         "numbers show that the pipeline edits expressions, not the paper's results.")
            shrunk = dict(SYNTH)
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
                raise UsageError("the identity loss needs VGG-Face weights on real data: pass --vggface-weights PATH "
                                 "(keras-vggface rcmalli_vggface_tf_vgg16.h5; nothing is downloaded), or "
                                 "--identity-net random to train with untrained identity features")
        if identity_net == "random":
            notes.append("The identity loss used UNTRAINED (randomly initialised) VGG-Face features, not the "
                         "published face-recognition weights.")
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
        return Plan(synthetic, cfg, ev, notes)

    def load_data(self, args, plan, run_dir, log, purpose="train") -> Data:
        import tensorflow as tf

        cfg, ev = plan.config, plan.ev
        if plan.synthetic:
            from ..data import synthetic as synth

            train = synth.make_arrays("affectnet", "train", n=ev["train_images"], size=cfg.image_size, seed=args.seed)
            held = synth.make_arrays("affectnet", "val", n=max(ev["eval_faces"], 64), size=cfg.image_size,
                                     seed=args.seed)
            ds = tf.data.Dataset.from_tensor_slices({k: train[k] for k in DATA_KEYS})
            ds = ds.shuffle(len(train["image"]), seed=args.seed, reshuffle_each_iteration=True)
            return Data(self._noise(ds, cfg, args), len(train["image"]) // cfg.batch_size, held, train)
        from ..data import affectnet, pipeline

        ds, summary = affectnet.load(args.data_dir, "train", image_size=cfg.image_size, channels=cfg.channels,
                                     oversample=args.oversample, shuffle_files=True, seed=args.seed)
        steps_per_epoch = max(1, summary.emitted // cfg.batch_size) if summary.emitted else None
        ds = ds.map(lambda e: {k: e[k] for k in DATA_KEYS}, num_parallel_calls=tf.data.AUTOTUNE)
        val_ds, _ = affectnet.load(args.data_dir, "validation", image_size=cfg.image_size, channels=cfg.channels)
        held = pipeline.take_arrays(val_ds, DATA_KEYS, ev["eval_faces"])
        reg_train = pipeline.take_arrays(ds, DATA_KEYS, args.regressor_images) if not args.skip_eval else None
        return Data(self._noise(ds, cfg, args), steps_per_epoch, held, reg_train)

    @staticmethod
    def _noise(ds, cfg, args):
        from .. import training

        return training.add_noise(ds, "z_prior", (cfg.z_dim,), seed=args.seed)  # p_prior(z) = U(-1, 1)^50 (eq. 3)

    def finalize(self, args, plan, data):
        cfg, ev = plan.config, plan.ev
        paper_steps = SYNTH["steps"] if plan.synthetic else PAPER_EPOCHS * (data.steps_per_epoch or 1)
        plan.steps = run.steps_from(args, paper_steps, data.steps_per_epoch, smoke_steps=SMOKE["steps"])
        if plan.synthetic:
            plan.notes.insert(1, f"Shrunk to fit ~15 min on a 2-core CPU: images {cfg.image_size}x{cfg.image_size} "
                                 f"(paper 96), network width x{cfg.width} (paper 1.0), identity loss "
                                 f"{cfg.identity_net} (paper: VGG-Face; cartoon faces have no VGG-Face weights), "
                                 f"{plan.steps} steps, {ev['train_images']} training faces; Table II regressors at "
                                 f"width x{ev['regressor_width']} trained {ev['regressor_steps']} steps with SGD lr "
                                 f"{ev['regressor_lr']} (paper 1e-3, far more steps); {ev['eval_faces']} evaluation "
                                 "faces (paper 4,500).")
        plan.run_config = {"system": self.kind, **asdict(cfg)}

    def build(self, config, args, data):
        from ..gans.caae import CAAE

        faces = data.held["image"][:6] if data is not None and data.held is not None else None
        return CAAE(config, vggface_weights=args.vggface_weights, sample_faces=faces)

    def evaluate(self, r, model, plan, data, log):
        from ..eval import caae as E

        def edit_fn(images, valence, arousal):
            return model.edit(images, valence, arousal).numpy()

        probe = None
        if plan.synthetic:
            from ..data import synthetic as synth

            probe = synth.make_arrays("affectnet", "train", n=min(plan.ev["eval_faces"], 64),
                                      size=plan.config.image_size, seed=r.args.seed + 1)
        train = data.arrays
        if train is None:
            from ..data import affectnet, pipeline

            ds, _ = affectnet.load(r.args.data_dir, "train", image_size=plan.config.image_size,
                                   channels=plan.config.channels, shuffle_files=True, seed=r.args.seed)
            train = pipeline.take_arrays(ds, DATA_KEYS, r.args.regressor_images)
        return E.evaluate(edit_fn, data.held, train, plan.ev, r.dir / paths.FIGURES, seed=r.args.seed,
                          identity_probe=probe, log=log)

    def endpoints(self, model):
        from ..gans.caae import saved_model_endpoints

        return saved_model_endpoints(model)

    def conclude(self, r, metrics, log):
        t4 = metrics.get("table4_edits", {}).get("all", {})
        if t4:
            log(f"edited faces: valence CCC {t4['valence']['ccc']:.3f}, arousal CCC {t4['arousal']['ccc']:.3f} "
                "(Table IV analogue, all labels)")
        log(f"edit a face: tfgan-emotion edit --run {r.dir} --image face.jpg --valence 0.5 --arousal -0.2 -o out.png")

    # ------------------------------------------------------------------ endpoints
    def vocabulary(self, config):
        return L.GANMUT    # AffectNet's 7 basic emotions (any circumplex emotion can be requested)

    def request(self, config, emotions, intensity, mode="edit"):
        v, a = circumplex_va(emotions, intensity)
        return "edit", {"valence": v, "arousal": a}

    def editor(self, config, model, request):
        valence, arousal, grid = request.get("valence"), request.get("arousal"), request.get("grid")
        if not grid and (valence is None or arousal is None):
            raise ValueError("give --valence and --arousal (each in [-1, 1]), or --grid for the 7x7 sheet")
        for flag, val in (("valence", valence), ("arousal", arousal)):
            if val is not None and not -1.0 <= val <= 1.0:
                raise ValueError(f"--{flag} must be in [-1, 1], got {val}")

        def edit(faces, v, a):
            return model.edit(image=faces.astype(np.float32), valence=np.asarray(v, np.float32),
                              arousal=np.asarray(a, np.float32))["image"].numpy()

        if grid:
            v = np.repeat(GRID_VALUES, 7).astype(np.float32)
            a = np.tile(GRID_VALUES, 7).astype(np.float32)
            return lambda face: grid_sheet(edit(np.repeat(face[None], 49, axis=0), v, a), 7)
        return lambda face: to_uint8(edit(face[None], [valence], [arousal])[0])


SYSTEMS = (CAAESystem(),)
