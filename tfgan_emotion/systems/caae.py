"""CAAE: edit a face to any continuous (valence, arousal) label (paper 001, Lindt et al. 2019).

With --data-dir AFFECTNET_ROOT it trains on AffectNet with the paper's settings (96x96, batch 49, full widths,
VGG-Face identity loss on 16 of 49 images at 224x224, Adam 2e-4/0.5/0.999) and evaluates as paper section IV.
With --data-csv FILE (valence and arousal columns in [-1, 1]) or class-labelled faces (--data-csv with an
expression column, or --data-dir DIR --data-format folders) it trains on your own data with the same settings;
classes without valence/arousal stand in as their directions on the valence/arousal circumplex (stated in the
run's notes). Without --data-dir it trains on the built-in AffectNet-like synthetic faces, shrunk to finish in
about 13.5-15 minutes on a 2-core CPU with AVX-512 (about twice that without); everything it shrinks is listed in the
run's config notes and at the top of its report.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np

from .. import paths, run
from ..data import labels as L
from .base import BenchSpec, CompareSpec, Data, PaperItem, Plan, StudySpec, System, UsageError
from .common import circumplex_va, grid_sheet, keys, to_uint8

PAPER_EPOCHS = 50          # (ours) paper 001 gives no training length; 50 epochs is the original CAAE code's default
PAPER_EVAL_FACES = 4500    # [IV.C.1] 4,500 faces x 49 labels = 220,500 generated images
# Synthetic default run, sized for ~15 minutes on a 2-core AVX-512 CPU (stated in the run's notes). 12,000 steps:
# of the lengths measured (7,000, 8,500, 10,000, 12,000; one seed-1 run resumed, AVX-512 CPU), the first at which
# seed 1, the weakest of seeds 0-2, followed both labels with CCC >= 0.5 (valence 0.36, 0.42, 0.42, 0.52).
# Labels cover the valence/arousal square (va "plane"), so every label the evaluation asks for was seen in
# training. float32: on the synthetic faces at these widths mixed_bfloat16 cost edit quality (32x32, seed 0, 6,000
# steps: CCC valence/arousal 0.54/0.52 in bf16, 0.64/0.78 in float32; identity kept 70% vs 83%).
SYNTH = dict(steps=12000, image_size=32, width=0.25, precision="float32", identity_net="none", identity_size=32,
             train_images=10000, eval_faces=100, regressor_steps=2000, regressor_width=0.125, regressor_lr=1e-2,
             identity_steps=400, va="plane", fd_real_images=2000)
SMOKE = dict(steps=4, eval_faces=4, regressor_steps=4, identity_steps=4, train_images=98)
DATA_KEYS = ("image", "valence", "arousal")
GRID_VALUES = (0.75, 0.5, 0.25, 0.0, -0.25, -0.5, -0.75)   # paper 001's 7x7 edit grid
FIG2_FACES = 200           # [IV.C.2] the first 200 frontal CelebA faces (eval.caae.FIG2_FACES)
# Own data with classes but no valence/arousal: each class is its circumplex direction at this radius, the full
# emotion (what request() asks at intensity 1; neutral is (0, 0)).
CIRCUMPLEX_RADIUS = 1.0


def circumplex_labels(own) -> str | None:
    """Give the user's own data its (valence, arousal) labels: its own columns when it has them (returns None), else
    its classes as binned continuous labels on the valence/arousal circumplex (paper 000's reading of categories;
    directions data.labels.CIRCUMPLEX_DEGREES, neutral at the origin), written into ``own.scan.labels``; returns the
    run note that says so. ValueError (naming the file and the columns to add) when the data has neither, or when
    one of its classes is not an emotion with a place on the circumplex."""
    if own.has("valence"):
        return None
    where = own.scan.summary.source
    if not own.has("expression"):
        raise ValueError(f"{where}: CAAE is conditioned on valence and arousal: add valence and arousal columns "
                         "(numbers in [-1, 1]), or an expression column whose classes are emotions")
    vocab = own.vocabulary
    present = np.unique(own.scan.labels["expression"]).tolist()
    unplaced = [vocab.names[k] for k in present
                if vocab.canonical[k] != "neutral" and vocab.canonical[k] not in L.CIRCUMPLEX_DEGREES]
    if unplaced:
        raise ValueError(f"{where}: CAAE is conditioned on valence and arousal, which the data lacks, and its "
                         f"class(es) {', '.join(unplaced)} have no place on the valence/arousal circumplex (not an "
                         "emotion: neutral, happy, sad, surprise, fear, disgust, anger, contempt): add valence and "
                         "arousal columns (numbers in [-1, 1]), or rename or drop those classes with --label-map")
    v, a = L.va_from_category(own.scan.labels["expression"], vocab, intensity=CIRCUMPLEX_RADIUS)
    own.scan.labels["valence"], own.scan.labels["arousal"] = v, a
    pv, pa = L.va_from_category(present, vocab, intensity=CIRCUMPLEX_RADIUS)
    places = ", ".join(f"{vocab.names[k]} ({x:+.2f}, {y:+.2f})" for k, x, y in zip(present, pv, pa))
    return ("Your data has classes but no valence/arousal columns: each class stands in as a binned continuous "
            "label, its direction on the valence/arousal circumplex at full intensity (Russell 1980; "
            f"data.labels.CIRCUMPLEX_DEGREES; neutral at the origin): {places}. The paper trained on AffectNet's "
            "annotated valence and arousal; here every face of a class carries the same label, so the CAAE sees "
            f"{len(present)} points of the plane instead of a continuum, and Tables III and IV measure against "
            "these placed labels. Add valence and arousal columns to train on annotated values.")


def _bench_build(size, batch, width):
    from ..gans.caae import CAAE, CAAEConfig

    # identity_net "random": the paper's VGG-Face graph with untrained weights (no weights file; same cost).
    return CAAE(CAAEConfig(image_size=size, batch_size=batch, width=width, identity_net="random"))


def _bench_build_default(size, batch, width):
    from ..gans.caae import CAAE, CAAEConfig

    # The run without data: no identity network (SYNTH identity_net "none").
    return CAAE(CAAEConfig(image_size=size, batch_size=batch, width=width, identity_net=SYNTH["identity_net"]))


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
    resumable = frozenset({"skip_eval", "regressor_images", "eval_faces", "regressor_steps", "regressor_width",
                           "fig2_faces"})
    endpoint_names = ("edit",)
    eval_flags = ("eval_faces", "regressor_steps", "regressor_width", "regressor_images", "fig2_faces")
    compare = CompareSpec("continuous", True, "plain", 49, "yes", SYNTH["image_size"], 3, 2.7)
    study = StudySpec(("edit",), "plain", any_circumplex_emotion=True, uses_intensity=True)
    bench = BenchSpec("affectnet", 96, 3, 49, 8, _bench_build, _bench_stream, "edit", _bench_evaluators,
                      default=dict(size=SYNTH["image_size"], width=SYNTH["width"], batch=49,
                                   build=_bench_build_default, precision=SYNTH["precision"]))
    edit_help = "--valence V --arousal A (each in [-1, 1]), or --grid for paper 001's 7x7 sheet"
    paper_items = (
        PaperItem("Fig. 1", "the architecture: encoder E, generator G, discriminators D_img and D_z", "not reproduced",
                  "a diagram, not a result; the networks it draws are built as it shows them "
                  "(tfgan_emotion/nets/caae.py) and exported as export/*.keras"),
        PaperItem("Table I", "agreement of two AffectNet annotators on valence and arousal (RMSE, SAGR, CCC)",
                  "not reproduced", "quoted from AffectNet's own paper: it needs the 36,000 doubly annotated images, "
                  "which the AffectNet release does not include"),
        PaperItem("Table II", "the valence and arousal regressors' architecture (VGG-style, output in [-1, 1])",
                  "reproduced", "eval/caae.py build_regressor, trained at the end of every run on the whole "
                  "training split streamed from disk, SGD lr 1e-3 momentum 0.9, MAE; 5 epochs of batch 64 (ours: the "
                  "paper gives neither); metrics.json table3_regressors regressor_*; --regressor-images N (cheaper "
                  "in-memory variant), --regressor-width, --regressor-steps"),
        PaperItem("Table III", "the regressors' accuracy on 4,500 held-out AffectNet faces (RMSE, SAGR, CCC)",
                  "reproduced", "metrics.json table3_regressors (also CORR), on the first --eval-faces (4,500) "
                  "AffectNet validation faces"),
        PaperItem("Table IV", "RMSE, SAGR, CCC of the regressors' reading of 220,500 edited images (4,500 faces x "
                  "49 labels), all and the 18,000 extreme", "reproduced",
                  "metrics.json table4_edits: all 49 labels and the 4 extreme corners; SAGR over all labels as the "
                  "paper defines it and sagr_nonzero without the labels at 0 (sagr_zero_labels says why); "
                  "--eval-faces (paper 4,500)"),
        PaperItem("Fig. 2", "difference heatmaps to the neutral edit [0, 0] for 48 labels, summed over 200 frontal "
                  "CelebA faces", "reproduced", "figures/fig2_heatmaps.png, metrics.json fig2_heatmaps; "
                  "--fig2-faces DIR (the faces; without it the first 200 evaluation faces, an analogue)"),
        PaperItem("Fig. 3", "one face edited to 25 (valence, arousal) labels", "reproduced",
                  "figures/fig3_edit_grid.png: the first evaluation face; the paper does not list the 25 labels, "
                  "the 5x5 grid 1 .. -1 in steps of 0.5 is ours"),
        PaperItem("Fig. 4", "25 faces, each edited to one of 25 labels", "reproduced",
                  "figures/fig4_faces_grid.png: the first 25 evaluation faces on the same 5x5 labels"),
    )

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
        g.add_argument("--identity-size", type=int, help="VGG-Face input size (paper 224; synthetic default "
                       f"{SYNTH['identity_size']})")
        g.add_argument("--label-concat", choices=("every", "first"), default="every", help="D_img label "
                       "concatenation: after every block (paper III.B.1, default) or once after block 1 (authors' "
                       "code)")
        g.add_argument("--image-size", type=int, help="image size, a multiple of 16 (paper 96; synthetic default "
                       f"{SYNTH['image_size']})")
        g.add_argument("--width", type=float, help="channel multiplier of all four networks (paper 1.0; synthetic "
                       "default 0.25)")
        g.add_argument("--oversample", action="store_true", help="oversample AffectNet classes to equal counts (the "
                       "authors' code did this)")
        g = p.add_argument_group("evaluation (paper IV)")
        g.add_argument("--eval-faces", type=int, help=f"held-out faces edited to each of the 49 grid labels (paper "
                       f"{PAPER_EVAL_FACES}; synthetic default {SYNTH['eval_faces']})")
        g.add_argument("--regressor-steps", type=int, help="training steps of each Table II regressor (default on "
                       "real data: 5 epochs of their training images at batch 64, ours: the paper gives neither; "
                       f"{SYNTH['regressor_steps']} on synthetic)")
        g.add_argument("--regressor-width", type=float, help="width multiplier of the Table II regressors (paper "
                       "1.0)")
        g.add_argument("--regressor-images", type=int, metavar="N", help="cheaper variant on real data: train the "
                       "regressors on N training images held in memory instead of the whole AffectNet training split "
                       "streamed from disk (the paper's protocol, the default; 0 also selects it, e.g. to re-evaluate "
                       "a run that used the variant); the run's notes and report say so")
        g.add_argument("--fig2-faces", type=Path, metavar="DIR", help="folder of frontal face images for the Fig. 2 "
                       f"heatmaps (paper: the first {FIG2_FACES} frontal CelebA faces): the first {FIG2_FACES} "
                       "image files in name order, centre-cropped square and resized to the run's image size "
                       "(docs/datasets.md). Default: the first evaluation faces (AffectNet validation on real data), "
                       "stated in the run's notes and report")
        g.add_argument("--skip-eval", action="store_true", help="train and export only")

    def plan(self, args) -> Plan:
        from ..gans.caae import CAAEConfig

        synthetic, custom = run.is_synthetic(args), run.is_custom(args)
        notes, extra = [], {}
        if custom:
            # The labels decide what the networks are conditioned on: read them (no image opened) and refuse data
            # without valence/arousal or placeable classes before anything is created.
            own = self.own_data(args, L.GANMUT, check="none", verbose=False)
            extra["vocabulary"] = own.vocabulary
            extra["va_fallback"] = circumplex_labels(own) is not None
        small = synthetic or (custom and args.smoke)
        if synthetic:
            notes.append("Trained and evaluated on the built-in AffectNet-like SYNTHETIC faces, not AffectNet: the "
                         "numbers show that the pipeline edits expressions, not the paper's results.")
        if small:
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
        elif identity_net == "none" and not small:
            notes.append("The identity loss was switched off (--identity-net none).")
        if args.smoke:
            notes.append(f"--smoke: {SMOKE['steps']} training steps and {SMOKE['eval_faces']} evaluation faces; the "
                         "numbers mean nothing.")
        if small and custom:
            notes.append(f"--smoke on your own data: the synthetic default's small networks (images {image_size}x"
                         f"{image_size}, width x{width}, identity loss {identity_net}, regressors at width "
                         f"x{shrunk['regressor_width']}) unless set by flags; without --smoke your data trains at "
                         "the paper's settings.")
        cfg = CAAEConfig(image_size=image_size, batch_size=args.batch_size, label_concat=args.label_concat,
                         width=width, identity_net=identity_net, identity_size=identity_size)
        ev = dict(eval_faces=args.eval_faces or (SMOKE["eval_faces"] if args.smoke else
                                                 shrunk.get("eval_faces", PAPER_EVAL_FACES)),
                  regressor_width=args.regressor_width or shrunk.get("regressor_width", 1.0),
                  regressor_steps=args.regressor_steps or (SMOKE["regressor_steps"] if args.smoke else
                                                           shrunk.get("regressor_steps")),
                  regressor_lr=shrunk.get("regressor_lr", 1e-3),
                  regressor_images=None if synthetic else (args.regressor_images or None),
                  identity_steps=SMOKE["identity_steps"] if args.smoke else SYNTH["identity_steps"],
                  train_images=SMOKE["train_images"] if args.smoke else SYNTH["train_images"],
                  fd_real_images=SYNTH["fd_real_images"])
        auto_precision = None
        if synthetic:
            auto_precision = (SYNTH["precision"], "auto: float32 for the synthetic default run, where bf16 "
                              "cost edit quality at its small widths")
            if args.precision == "auto":
                notes.append("Precision float32 although --precision auto picks mixed_bfloat16 where the hardware "
                             "has native bf16: bf16 cost edit quality on these faces (measured at width x0.25, 32x32, "
                             "seed 0, 6,000 steps: CCC valence/arousal 0.54/0.52 in bf16, 0.64/0.78 in float32). "
                             "--precision mixed_bfloat16 trains in bf16 anyway.")
        return Plan(synthetic, cfg, ev, notes, extra=extra, auto_precision=auto_precision)

    def load_data(self, args, plan, run_dir, log, purpose="train") -> Data:
        from ..data import stream as streams

        cfg, ev = plan.config, plan.ev
        if plan.synthetic:
            from ..data import synthetic as synth

            train = synth.make_arrays("affectnet", "train", n=ev["train_images"], size=cfg.image_size, seed=args.seed,
                                      va=SYNTH["va"])
            held = synth.make_arrays("affectnet", "val", n=max(ev["eval_faces"], 64), size=cfg.image_size,
                                     seed=args.seed, va=SYNTH["va"])
            ds = streams.from_tensors({k: train[k] for k in DATA_KEYS}, args.seed)
            return Data(self._noise(ds, cfg, args), len(train["image"]) // cfg.batch_size, held, train)
        if run.is_custom(args):
            return self._own_data(args, plan)
        from ..data import affectnet, pipeline

        ds, summary = affectnet.load(args.data_dir, "train", image_size=cfg.image_size, channels=cfg.channels,
                                     oversample=args.oversample, shuffle_files=True, seed=args.seed,
                                     stream=True)
        steps_per_epoch = max(1, summary.emitted // cfg.batch_size) if summary.emitted else None
        ds = ds.map(lambda e: {k: e[k] for k in DATA_KEYS})
        val_ds, _ = affectnet.load(args.data_dir, "validation", image_size=cfg.image_size, channels=cfg.channels)
        held = pipeline.take_arrays(val_ds, DATA_KEYS, ev["eval_faces"])
        # The Table II regressors read the training stream itself at evaluation time (see evaluate): nothing of
        # the training split is held in memory during training.
        return Data(self._noise(ds, cfg, args), steps_per_epoch, held, None, info={"train_images": summary.size})

    def _own_data(self, args, plan) -> Data:
        """The user's own data, read as the AffectNet path reads its splits: the training part as the endless
        stream (valence/arousal from the data, or the classes' circumplex directions), the held-out part
        (``split`` column, val/ folder, or a seeded tenth of each class) as the evaluation faces."""
        from ..data import pipeline

        cfg, ev = plan.config, plan.ev
        own = self.own_data(args, L.GANMUT)
        note = circumplex_labels(own)
        train, held_scan = own.parts(seed=args.seed)
        if args.oversample:
            own.require("expression", self.name, "--oversample repeats faces until every class has as many as the "
                        "largest; leave the flag out")
            train = train.select(pipeline.oversample_indices(train.labels["expression"]))
        ds = train.stream(cfg.image_size, cfg.channels, args.seed).map(lambda e: {k: e[k] for k in DATA_KEYS})
        held = pipeline.take_arrays(held_scan.dataset(cfg.image_size, cfg.channels), DATA_KEYS, ev["eval_faces"])
        plan.notes.append(self.own_data_note(own))
        if note:
            plan.notes.append(note)
        info = {"train_images": len(train), "held_out_images": len(held_scan), "own_data": self.own_data_info(own),
                "valence_arousal": "circumplex directions of the classes" if note else "the data's columns"}
        return Data(self._noise(ds, cfg, args), max(1, len(train) // cfg.batch_size), held, None, info=info)

    @staticmethod
    def _noise(ds, cfg, args):
        from .. import training

        return training.add_noise(ds, "z_prior", (cfg.z_dim,), seed=args.seed)  # p_prior(z) = U(-1, 1)^50 (eq. 3)

    def finalize(self, args, plan, data):
        cfg, ev = plan.config, plan.ev
        paper_steps = SYNTH["steps"] if plan.synthetic else PAPER_EPOCHS * (data.steps_per_epoch or 1)
        plan.steps = run.steps_from(args, paper_steps, data.steps_per_epoch, smoke_steps=SMOKE["steps"])
        if plan.synthetic:
            plan.notes.insert(1, f"Shrunk to fit 13.5-15 min on a 2-core CPU with AVX-512: images "
                                 f"{cfg.image_size}x{cfg.image_size} (paper 96), network width x{cfg.width} "
                                 f"(paper 1.0), identity loss "
                                 f"{cfg.identity_net} (paper: VGG-Face; cartoon faces have no VGG-Face weights), "
                                 f"{plan.steps} steps, {ev['train_images']} training faces; Table II regressors at "
                                 f"width x{ev['regressor_width']} trained {ev['regressor_steps']} steps with SGD lr "
                                 f"{ev['regressor_lr']} (paper 1e-3, far more steps); {ev['eval_faces']} evaluation "
                                 "faces (paper 4,500). The synthetic faces' valence and arousal are drawn uniformly "
                                 "over the square [-1, 1]^2 (classes binned from them, so not balanced), as "
                                 "AffectNet's annotations cover the plane, so that every label the evaluation asks "
                                 "for occurs in training; the identity check and the Frechet distance to real faces "
                                 "(ours) use other renders of the training identities.")
        plan.run_config = {"system": self.kind, **asdict(cfg)}
        vocab = plan.extra.get("vocabulary")
        if vocab is not None:
            plan.run_config["classes"] = list(vocab.names)

    def build(self, config, args, data):
        from ..gans.caae import CAAE

        faces = data.held["image"][:6] if data is not None and data.held is not None else None
        return CAAE(config, vggface_weights=args.vggface_weights, sample_faces=faces)

    def check_files(self, args) -> None:
        super().check_files(args)
        folder = getattr(args, "fig2_faces", None)
        if folder is None:
            return
        from ..editing import IMAGE_SUFFIXES

        folder = Path(folder)
        if not folder.is_dir():
            raise UsageError(f"--fig2-faces {folder}: no such folder; give a folder of frontal face images "
                             "(docs/datasets.md, \"Fig. 2 faces\"), or leave the flag out to draw Fig. 2 from the "
                             "evaluation faces")
        if not any(f.suffix.lower() in IMAGE_SUFFIXES for f in folder.iterdir()):
            raise UsageError(f"--fig2-faces {folder} holds no images ({', '.join(IMAGE_SUFFIXES)}); give a folder of "
                             "frontal face images, or leave the flag out to draw Fig. 2 from the evaluation faces")

    def evaluate(self, r, model, plan, data, log):
        from ..eval import caae as E

        import tensorflow as tf

        c = plan.config
        # One traced function for every batch size: the evaluation edits each face to 49 labels in calls of up to
        # 128 faces, and each call run eagerly takes about twice as long (Keras runs the layers one by one).
        edit = tf.function(model.edit, input_signature=[
            tf.TensorSpec([None, c.image_size, c.image_size, c.channels], tf.float32),
            tf.TensorSpec([None], tf.float32), tf.TensorSpec([None], tf.float32)])

        def edit_fn(images, valence, arousal):
            return edit(tf.convert_to_tensor(images, tf.float32), tf.convert_to_tensor(valence, tf.float32),
                        tf.convert_to_tensor(arousal, tf.float32)).numpy()

        ev = plan.ev
        probe = fd_real = None
        if plan.synthetic:
            from ..data import synthetic as synth

            probe = synth.make_arrays("affectnet", "train", n=min(ev["eval_faces"], 64),
                                      size=plan.config.image_size, seed=r.args.seed + 1, va=SYNTH["va"])
            # Other renders of the training identities, the real side of the edits' Frechet distance.
            fd_real = synth.make_arrays("affectnet", "train", n=SMOKE["eval_faces"] * 16 if r.args.smoke else
                                        ev["fd_real_images"], size=plan.config.image_size, seed=r.args.seed + 2,
                                        va=SYNTH["va"])["image"]
            train = data.arrays
        else:
            train = self._regressor_data(r, plan, data)
        fig2, fig2_source = self._fig2_faces(r, plan, log, len(data.held["image"]))
        return E.evaluate(edit_fn, data.held, train, ev, r.dir / paths.FIGURES, seed=r.args.seed,
                          identity_probe=probe, log=log, fig2_faces=fig2, fig2_source=fig2_source, fd_real=fd_real)

    @staticmethod
    def _regressor_data(r, plan, data):
        """The Table II regressors' training data on real data, with the run note that says what it is: the whole
        training split streamed from disk (paper IV.C.1), or N images of it held in memory (--regressor-images)."""
        from ..eval import caae as E

        ev, n_split = plan.ev, int(data.info["train_images"])
        split = "training part of your data" if run.is_custom(r.args) else "AffectNet training split"
        oversampled = " (class-oversampled, --oversample, as the CAAE trained)" if r.args.oversample else ""
        schedule = (f"SGD lr {ev['regressor_lr']}, momentum 0.9, mean absolute error loss (paper IV.C.1); the paper "
                    f"gives neither their training length nor their batch size: {E.REGRESSOR_EPOCHS} epochs of batch "
                    f"{E.REGRESSOR_BATCH} by default (ours; --regressor-steps sets the length)")
        width = (f" Their width is x{ev['regressor_width']} (--regressor-width; paper 1.0)."
                 if ev["regressor_width"] != 1.0 else "")
        n_mem = ev.get("regressor_images")
        if n_mem:
            from ..data import pipeline

            train = pipeline.take_arrays(data.train, DATA_KEYS, min(int(n_mem), n_split))
            steps = E.regressor_steps(ev, len(train["image"]))
            r.note(f"Table II regressors: CHEAPER VARIANT (--regressor-images {n_mem}): trained on "
                   f"{len(train['image']):,} training images held in memory, not on the whole {split} "
                   f"({n_split:,} images{oversampled}) streamed from disk as the paper's protocol (the default "
                   f"without the flag); {steps:,} steps of batch {E.REGRESSOR_BATCH}; {schedule}. Tables III and IV "
                   f"measure with these regressors.{width}")
            return train
        steps = E.regressor_steps(ev, n_split)
        r.note(f"Table II regressors: trained on the whole {split} streamed from disk ({n_split:,} "
               f"images{oversampled}), {steps:,} steps of batch {E.REGRESSOR_BATCH} = "
               f"{steps * E.REGRESSOR_BATCH / max(1, n_split):.3g} epochs; {schedule}.{width}")
        from ..data.stream import as_dataset

        # The training stream from its first example (epochs reshuffled as in training), as a tf.data.Dataset.
        return E.TrainingStream(as_dataset(data.train), n_split)

    def _fig2_faces(self, r, plan, log, n_held=None):
        """(faces or None, what they are) for the Fig. 2 heatmaps, with the run note: the first 200 images of
        --fig2-faces DIR (paper IV.C.2: 200 frontal CelebA faces), or None for the first evaluation faces."""
        folder = getattr(r.args, "fig2_faces", None)
        size = plan.config.image_size
        if folder is None:
            n = min(FIG2_FACES, plan.ev["eval_faces"], n_held or FIG2_FACES)
            custom = run.is_custom(r.args)
            where = ("synthetic evaluation faces" if plan.synthetic else
                     "held-out faces of your data (the evaluation faces)" if custom else
                     "AffectNet validation faces (the evaluation faces)")
            r.note(f"Fig. 2 heatmaps from the first {n} {where}, not the paper's {FIG2_FACES} frontal CelebA faces "
                   "(paper IV.C.2)" + ("" if plan.synthetic else ", whose alignment (same position and size) the "
                                       "summed heatmaps rely on; "
                                       + ("your faces may vary more in pose and framing" if custom else
                                          "AffectNet faces vary more in pose and framing"))
                   + "; --fig2-faces DIR takes a folder of frontal faces.")
            return None, f"the first {n} {where}"
        from ..data.pipeline import natural_key
        from ..editing import IMAGE_SUFFIXES, read_face

        folder = Path(folder)
        files = sorted((f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES),
                       key=lambda f: natural_key(f.name))
        faces, unreadable = [], []
        for f in files:
            if len(faces) == FIG2_FACES:
                break
            try:
                faces.append(read_face(f, size, plan.config.channels))
            except ValueError:
                unreadable.append(f.name)
        if not faces:
            raise ValueError(f"--fig2-faces {folder}: none of its {len(files)} image files could be read")
        skipped = (f" {len(unreadable)} unreadable file(s) skipped (e.g. {unreadable[0]})." if unreadable else "")
        fewer = (f" {len(faces)} faces where the paper used {FIG2_FACES}." if len(faces) < FIG2_FACES else "")
        r.note(f"Fig. 2 heatmaps from the first {len(faces)} of the {len(files)} images in {folder} (--fig2-faces), "
               f"centre-cropped square and resized to {size}x{size} (paper IV.C.2: the first {FIG2_FACES} frontal "
               f"CelebA faces, cut square around their centre).{fewer}{skipped}")
        log(f"Fig. 2 faces: {len(faces)} images from {folder}")
        return np.stack(faces).astype(np.float32), f"{len(faces)} images from {folder} (--fig2-faces)"

    def coverage(self, args, plan, metrics):
        """Table II-IV turn "analogue" when the regressors are the in-memory variant or narrower than the paper's,
        or (your own data) read valence/arousal placed from classes, Tables III/IV when fewer faces are measured,
        Fig. 2 when it comes from the evaluation faces, Table IV and Figs. 2-4 when the CAAE itself was trained
        otherwise than the paper's (identity loss, size, width, label concatenation)."""
        rows = super().coverage(args, plan, metrics)
        t3, t4, f2 = (metrics.get(k) or {} for k in ("table3_regressors", "table4_edits", "fig2_heatmaps"))
        if plan.synthetic:
            return [{**row, "how": row["how"] + f"; this run: {t3['regressor_images']} synthetic training faces held "
                     "in memory"} if row["item"] == "Table II" and "regressor_images" in t3 else row for row in rows]
        c, caae = plan.config, []
        if c.identity_net != "vggface":
            caae.append(f"the CAAE trained with --identity-net {c.identity_net} (paper: VGG-Face identity loss)")
        if (c.image_size, c.width, c.identity_size) != (96, 1.0, 224):
            caae.append(f"the CAAE at {c.image_size}x{c.image_size}, width x{c.width}, identity input "
                        f"{c.identity_size} (paper 96, 1.0, 224)")
        if c.label_concat != "every":
            caae.append("the CAAE with --label-concat first (the authors' code)")
        regs = []
        if t3.get("regressor_data") == "held in memory":
            regs.append(f"regressors trained on {t3.get('regressor_images')} training images held in memory "
                        "(--regressor-images), not the whole training split streamed from disk")
        if plan.ev["regressor_width"] != 1.0:
            regs.append(f"regressors at width x{plan.ev['regressor_width']} (--regressor-width; paper 1.0)")
        if plan.extra.get("va_fallback"):
            regs.append("valence and arousal of your data's classes placed on the circumplex (the data has no "
                        "valence/arousal columns), not annotated values")
        why = {"Table II": list(regs), "Table III": list(regs), "Table IV": regs + caae, "Fig. 2": list(caae),
               "Fig. 3": list(caae), "Fig. 4": list(caae)}
        if t3 and t3.get("n_faces", PAPER_EVAL_FACES) < PAPER_EVAL_FACES:
            why["Table III"].append(f"{t3['n_faces']} validation faces (paper {PAPER_EVAL_FACES:,}; --eval-faces)")
        if t4 and t4.get("n_faces", PAPER_EVAL_FACES) != PAPER_EVAL_FACES:
            why["Table IV"].append(f"{t4['n_faces']} faces x 49 labels (paper {PAPER_EVAL_FACES:,}; --eval-faces)")
        if f2 and not args.fig2_faces:
            why["Fig. 2"].append(f"from {f2.get('faces')}, not {FIG2_FACES} frontal CelebA faces (--fig2-faces DIR)")
        elif f2 and f2.get("n_faces", FIG2_FACES) < FIG2_FACES:
            why["Fig. 2"].append(f"{f2['n_faces']} faces (paper {FIG2_FACES})")
        out = []
        for row in rows:
            reasons = why.get(row["item"])
            if reasons and row["status"] != "not reproduced":   # "analogue" already on your own data
                row = {**row, "status": "analogue", "how": row["how"] + "; this run: " + "; ".join(reasons)}
            out.append(row)
        return out

    def endpoints(self, model):
        from ..gans.caae import saved_model_endpoints

        return saved_model_endpoints(model)

    def conclude(self, r, metrics, log):
        t4 = metrics.get("table4_edits", {}).get("all", {})
        if t4:
            log(f"edited faces: valence CCC {t4['valence']['ccc']:.3f}, arousal CCC {t4['arousal']['ccc']:.3f} "
                "(Table IV analogue, all labels)")
        ident, fd = metrics.get("identity_preservation"), metrics.get("frechet_distance")
        if ident and fd:
            log(f"edited faces: identity kept in {ident['share_recognised']:.0%} (unedited {ident['share_unedited']:.0%}), "
                f"Frechet distance to real faces {fd['value']:.2f} (real vs real {fd['real_vs_real']:.2f})")
        log(f"edit a face: tfgan-emotion edit --run {r.dir} --image face.jpg --valence 0.5 --arousal -0.2 -o out.png")

    # ------------------------------------------------------------------ endpoints
    def vocabulary(self, config):
        # AffectNet's 7 basic emotions, or the classes of your own data (any circumplex emotion can be requested)
        from ..data import custom

        return custom.stored_vocabulary(config, L.GANMUT)

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
