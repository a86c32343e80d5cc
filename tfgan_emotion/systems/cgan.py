"""The label-interpolation cGAN (paper 000, Mertes et al.): one system per dataset setup, ``cgan_fashion_mnist``,
``cgan_cifar10`` and ``cgan_faces``, which differ only in data, image size and learning schedule.

Training (paper 4.2, 4.3, 5.4): Fashion-MNIST 20,000 batches of 32 and CIFAR-10 30,000 batches of 32, Adam 2e-4 /
beta1 0.5; FACES 256x256, 6 emotions, 10,000 epochs of the 2,052 images, Adam 1e-4. Evaluation (paper 4.4, 5.6):
EfficientNet-B0 trained here reads the images along every ordered class pair's 11 interpolation steps, each pair
with its own set of noise vectors; on faces a MobileNetV2 valence/arousal regressor reads neutral -> each emotion
(its own noise vectors per emotion) and the valence/arousal targeting of paper 5.1. With --va-data AFFECTNET_ROOT the
regressor trains as paper 5.4: on AffectNet, 100 epochs, Adam 1e-3, streamed from disk; without it, it learns from
the built-in AffectNet-like faces and the run's notes say so.

Own data (--data-csv, or --data-dir with --data-format folders): the label has one entry per class of the data, named
as the data names them, in the networks, the evaluation, the endpoints and ``edit --mix``; the setup still decides
the image size, the channels and the learning schedule. The classes evaluation reads every ordered pair of the data's
classes with an EfficientNet-B0 trained on the data's training part and scored on its held-out part. The faces
evaluation reads neutral -> each other class, so it needs a class that is neutral; without one those curves are
left out and the run's notes say so (the regressor's Table 1 is still made).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .. import paths, run
from ..data import custom
from ..data import labels as L
from .base import BenchSpec, CompareSpec, Data, PaperItem, Plan, StudySpec, System, UsageError
from .common import grid_sheet, keys, neutral_mix


@dataclass(frozen=True)
class Setup:
    dataset: str
    paper: str
    size: int
    channels: int
    vocab: L.Vocabulary
    lr: float
    paper_steps: int = 0            # batches (Fashion-MNIST, CIFAR-10)
    paper_epochs: int = 0           # epochs (FACES)
    synth: dict = field(default_factory=dict)
    real: dict = field(default_factory=dict)


SMOKE = dict(steps=4, train_images=160, noise_vectors=2, classifier_steps=2, regressor_steps=2, va_images=64,
             image_size=None)
SETUPS = {
    "fashion_mnist": Setup("fashion_mnist", "paper 000 4.2: Fashion-MNIST, 20,000 batches of 32", 28, 1,
                           L.FASHION_MNIST, 2e-4, paper_steps=20000,
                           synth=dict(steps=8000, width=0.5, train_images=6000, noise_vectors=50,
                                      classifier_steps=600, image_size=None),
                           real=dict(noise_vectors=1000, classifier_steps=4000)),
    "cifar10": Setup("cifar10", "paper 000 4.3: CIFAR-10, 30,000 batches of 32", 32, 3, L.CIFAR10, 2e-4,
                     paper_steps=30000,
                     synth=dict(steps=6000, width=0.5, train_images=6000, noise_vectors=30, classifier_steps=600,
                                image_size=None),
                     real=dict(noise_vectors=1000, classifier_steps=4000)),
    "faces": Setup("faces", "paper 000 5.4: FACES 256x256, 10,000 epochs, Adam 1e-4", 256, 3, L.FACES, 1e-4,
                   paper_epochs=10000,
                   synth=dict(steps=3000, width=0.5, train_images=1200, noise_vectors=100, regressor_steps=400,
                              image_size=64),
                   real=dict(noise_vectors=1000, regressor_steps=5000)),
}
DATA_KEYS = ("image", "expression")
PRETTY = {"fashion_mnist": "Fashion-MNIST", "cifar10": "CIFAR-10", "faces": "FACES"}

# Paper 000's tables and figures, with the setup whose run makes each (None: no run makes it). The three setups
# declare the same list; a run marks the items of the other setups "not reproduced" (CGANSystem.coverage).
PAPER_ITEMS = (
    (PaperItem("Fig. 1", "Fashion-MNIST's classes, example images", "not reproduced",
               "a picture of the dataset (Xiao et al.), not a result"), None),
    (PaperItem("Fig. 2", "CIFAR-10's classes, example images", "not reproduced",
               "a picture of the dataset (Krizhevsky and Hinton), not a result"), None),
    (PaperItem("Fig. 3", "outputs of the Fashion-MNIST cGAN for one-hot labels", "reproduced",
               "cgan_fashion_mnist.py: samples/step_*.png (one row per class, 8 noise vectors; the report shows the "
               "latest)"), "fashion_mnist"),
    (PaperItem("Fig. 4", "outputs of the CIFAR-10 cGAN for one-hot labels", "reproduced",
               "cgan_cifar10.py: samples/step_*.png (one row per class)"), "cifar10"),
    (PaperItem("Fig. 5", "Fashion-MNIST interpolation steps between two classes", "reproduced",
               "cgan_fashion_mnist.py: figures/fig5_strips.png (6 random ordered pairs x 11 steps)"), "fashion_mnist"),
    (PaperItem("Fig. 6", "CIFAR-10 interpolation steps between two classes", "reproduced",
               "cgan_cifar10.py: figures/fig5_strips.png"), "cifar10"),
    (PaperItem("Fig. 7", "Fashion-MNIST: EfficientNet-B0 confidence in the source and target class along the 11 "
               "steps, 1,000 image sets per class combination", "reproduced",
               "cgan_fashion_mnist.py: figures/fig7_confidence.png, metrics.json interpolation and "
               "interpolation_pairs (--noise-vectors, paper 1,000 per ordered pair, a set per pair; "
               "--classifier-steps)"), "fashion_mnist"),
    (PaperItem("Fig. 8", "CIFAR-10: the same confidence curves", "reproduced",
               "cgan_cifar10.py: figures/fig7_confidence.png, metrics.json interpolation and interpolation_pairs "
               "(--noise-vectors, --classifier-steps)"), "cifar10"),
    (PaperItem("Fig. 9", "Russell's valence/arousal circumplex", "not reproduced",
               "a diagram from the literature (the emotions' directions are labels.CIRCUMPLEX_DEGREES)"), None),
    (PaperItem("Fig. 10", "FACES example photos, six emotions", "not reproduced",
               "a picture of the dataset (Ebner et al.), not a result"), None),
    (PaperItem("Fig. 11", "outputs of the FACES cGAN for the six one-hot labels", "reproduced",
               "cgan_faces.py: samples/step_*.png (one row per emotion)"), "faces"),
    (PaperItem("Fig. 12", "user study: 20 people rate real and generated faces for every emotion", "not reproduced",
               "needs human raters: tfgan-emotion study make --run RUN builds the paper's 36-face Likert study and "
               "study analyze draws this figure from the answers"), None),
    (PaperItem("Fig. 13", "FACES interpolation steps from neutral to each emotion", "reproduced",
               "cgan_faces.py: figures/fig13_strips.png"), "faces"),
    (PaperItem("Table 1", "the valence/arousal regressor against AffectNet's baseline: RMSE, CORR, SAGR, CCC",
               "reproduced", "cgan_faces.py --va-data AFFECTNET_ROOT: metrics.json va_regressor.table1_heldout "
               "(MobileNetV2 trained 100 epochs on AffectNet, Adam 1e-3; the whole validation split); without "
               "--va-data an analogue (regressor trained on the built-in faces)"), "faces"),
    (PaperItem("Fig. 14", "mean valence and arousal along neutral -> each emotion, 1,000 noise vectors per emotion",
               "reproduced", "cgan_faces.py --va-data AFFECTNET_ROOT: figures/fig14_valence_arousal.png, metrics.json "
               "neutral_to_emotion_va (--noise-vectors, a set per emotion); without --va-data an analogue"), "faces"),
)
PAPER_NOISE_VECTORS = 1000      # paper 4.4 and 5.6


def _draws(ds, cfg, seed):
    from .. import training

    return training.add_noise(ds, "z", (cfg.z_dim,), seed=seed)


class CGANSystem(System):
    kind, paper = "cgan", "000"
    batch_size = 32
    smoke_steps = SMOKE["steps"]
    resumable = frozenset({"skip_eval", "noise_vectors", "classifier_steps", "regressor_steps", "affectnet_dir"})
    endpoint_names = ("generate",)
    eval_flags = ("noise_vectors", "classifier_steps", "regressor_steps", "affectnet_dir")   # those its setup has
    paper_items = tuple(item for item, _ in PAPER_ITEMS)

    def __init__(self, dataset: str):
        s = self.setup = SETUPS[dataset]
        self.name = f"cgan_{dataset}"
        self.dataset = dataset
        self.title = "label-interp. cGAN (000)" if dataset == "faces" else f"label-interp. cGAN {dataset} (000)"
        pretty = {"fashion_mnist": "Fashion-MNIST", "cifar10": "CIFAR-10", "faces": "FACES"}[dataset]
        self.summary = f"label-interpolation cGAN on {pretty} (Mertes et al.)"
        self.edit_help = (f"--mix {self.mix_example()} (no --image): images for a label between classes, weights "
                          "summing to 1")
        self.doc = f"Label-interpolation cGAN ({s.paper}).\n\n" + __doc__
        n = len(s.vocab.names)
        faces = dataset == "faces"
        self.compare = CompareSpec("continuous", False, "faces", 32, "yes", s.synth["image_size"], 3, 5.1) if faces \
            else None
        self.study = StudySpec(("generate",), "faces") if faces else None
        self.bench = BenchSpec(dataset, s.size, s.channels, 32, n, self._bench_build, self._bench_stream, "generate",
                               self._bench_evaluators,
                               default=dict(size=s.synth["image_size"] or s.size, width=s.synth["width"], batch=32))

    @property
    def config_class(self):
        from ..gans.cgan import CGANConfig

        return CGANConfig

    # ------------------------------------------------------------------ bench
    def _bench_build(self, size, batch, width):
        from ..gans.cgan import CGAN, CGANConfig

        s = self.setup
        return CGAN(CGANConfig(image_size=size, channels=s.channels, n_classes=len(s.vocab.names), width=width,
                               batch_size=batch, learning_rate=s.lr))

    def _bench_stream(self, source, model, seed):
        from ..bench import base_dataset

        c = model.config
        return _draws(keys(base_dataset(source, c.image_size, c.channels, c.n_classes), DATA_KEYS), c, seed)

    def _bench_evaluators(self, size):
        from ..eval.cgan import build_efficientnet, build_mobilenet_regressor

        s = self.setup
        if self.dataset == "faces":
            return [("mobilenetv2_va_regressor", build_mobilenet_regressor(size, s.channels))]
        return [("efficientnet_b0_classifier", build_efficientnet(size, s.channels, len(s.vocab.names)))]

    # ------------------------------------------------------------------ flags and plan
    def add_arguments(self, p):
        s = self.setup
        g = p.add_argument_group("cGAN (paper 000)")
        g.add_argument("--width", type=float, help=f"channel multiplier of G and D (paper: DCGAN widths = 1.0; "
                       f"synthetic default {s.synth['width']})")
        g.add_argument("--learning-rate", type=float, default=s.lr, help=f"Adam learning rate (paper {s.lr:g})")
        if self.dataset == "faces":
            g.add_argument("--image-size", type=int, help="image size: 256 (paper) or 64 (synthetic default)")
            g.add_argument("--va-data", "--affectnet-dir", dest="affectnet_dir", type=Path, metavar="AFFECTNET_ROOT",
                           help="AffectNet root (docs/datasets.md) for the valence/arousal regressor: trained as "
                           "paper 5.4 (MobileNetV2, 100 epochs of the training split streamed from disk, Adam 1e-3) "
                           "and scored on the whole validation split (Table 1). Without it the regressor learns from "
                           "the built-in AffectNet-like faces, and the run's notes say so")
            g.add_argument("--regressor-steps", type=int, help="training steps of the MobileNetV2 regressor (with "
                           "--va-data: default 100 epochs, paper 5.4; a smaller number is a cheaper, stated variant; "
                           f"without: default {s.real['regressor_steps']} on real data, {s.synth['regressor_steps']} "
                           "synthetic)")
        else:
            g.add_argument("--classifier-steps", type=int, help="training steps of the EfficientNet-B0 classifier")
        g.add_argument("--noise-vectors", type=int, help="noise vectors per class pair (paper 1,000), drawn anew "
                       "for every pair" + (" and every emotion" if self.dataset == "faces" else ""))
        g.add_argument("--skip-eval", action="store_true", help="train and export only")

    def plan(self, args) -> Plan:
        from ..gans.cgan import CGANConfig

        s = self.setup
        synthetic = run.is_synthetic(args)
        vocab = s.vocab
        if run.is_custom(args):
            # the labels only (no image is opened): the networks' label size is the data's number of classes
            own = self.own_data(args, s.vocab, check="none", verbose=False)
            own.require("expression", self.name, "the generator and the discriminator are conditioned on the class")
            vocab = own.vocabulary
            if len(vocab) < 2:
                raise ValueError(f"{own.scan.summary.source}: label interpolation needs at least two classes; the "
                                 f"data has {len(vocab)} ({', '.join(vocab.names)})")
        # --smoke on own data takes the synthetic run's small networks (a few steps only show that it runs)
        small = synthetic or (args.smoke and run.is_custom(args))
        size = getattr(args, "image_size", None) or (s.synth["image_size"] if small else None) or s.size
        width = args.width if args.width is not None else (s.synth["width"] if small else 1.0)
        names = ("noise_vectors", "regressor_steps") if self.dataset == "faces" else \
            ("noise_vectors", "classifier_steps")
        ev = {k: run.setting(args, k, synthetic, SMOKE, s.synth, s.real) for k in names}
        ev["train_images"] = (SMOKE if args.smoke else s.synth)["train_images"]
        notes = []
        if self.dataset == "faces":
            notes.append(self._regressor_plan(args, ev))
            notes.append(f"Fig. 14 (paper 5.6): {ev['noise_vectors']} noise vectors per emotion (paper 1,000), an "
                         "independent set for every neutral -> emotion curve, seeded by the run's seed and the "
                         "emotion.")
        else:
            notes.append(f"Fig. 7/8 (paper 4.4): {ev['noise_vectors']} noise vectors per ordered class pair (paper "
                         "1,000 image sets for each class combination), an independent set for every pair, seeded by "
                         "the run's seed and the pair. The reader is keras.applications' EfficientNet-B0 "
                         f"(weights=None) trained here from scratch for {ev['classifier_steps']} steps, Adam with a "
                         "warm-up to 2e-3 and cosine decay (ours: the paper gives its accuracies, 0.9089 and 0.9931, "
                         "not how it was trained); its held-out accuracy is in metrics.json.")
        cfg = CGANConfig(image_size=size, channels=s.channels, n_classes=len(vocab), width=width,
                         batch_size=args.batch_size, learning_rate=args.learning_rate)
        return Plan(synthetic, cfg, ev, notes, extra={"vocabulary": vocab})

    def _regressor_plan(self, args, ev) -> str:
        """The faces regressor's settings in ``ev`` and the note that states them (paper 5.4)."""
        from ..eval import cgan as E

        common = ("MobileNetV2 (keras.applications, weights=None: the paper does not say it started from ImageNet "
                  f"weights, and nothing is downloaded), batch {E.REGRESSOR_BATCH}, mean squared error (ours: the "
                  "paper gives no batch size or loss)")
        if args.affectnet_dir:
            ev.update(regressor_steps=args.regressor_steps or (SMOKE["regressor_steps"] if args.smoke else None),
                      regressor_epochs=E.REGRESSOR_EPOCHS, regressor_lr=E.REGRESSOR_LR,
                      regressor_batch=E.REGRESSOR_BATCH, va_data="AffectNet")
            length = (f"{ev['regressor_steps']} steps (--regressor-steps; paper 5.4: {E.REGRESSOR_EPOCHS} epochs; "
                      "metrics.json va_regressor.epochs gives the epochs run)" if ev["regressor_steps"] else
                      f"{E.REGRESSOR_EPOCHS} epochs (paper 5.4)")
            return (f"Valence/arousal regressor: trained on AffectNet (--va-data) for {length} with Adam "
                    f"{E.REGRESSOR_LR:g}, the whole training split streamed from disk and reshuffled every epoch; "
                    "every row with a valid valence/arousal (classes 0-10; rows with -2 dropped and counted; ours), "
                    f"{common}. Table 1 scores it on the whole validation split.")
        ev.update(va_images=SMOKE["va_images"] if args.smoke else max(ev["regressor_steps"] * 4, 2000),
                  va_data="synthetic")
        return (f"Valence/arousal regressor: no --va-data, so it learns from {ev['va_images']} built-in AffectNet-like "
                f"SYNTHETIC faces held in memory, {ev['regressor_steps']} steps of Adam {E.REGRESSOR_LR:g}, {common}; "
                f"paper 5.4 trains it on AffectNet for {E.REGRESSOR_EPOCHS} epochs. Table 1 scores this stand-in "
                "reader on held-out synthetic faces, and the Fig. 14 curves and the valence/arousal targeting are read "
                "by it. Give --va-data AFFECTNET_ROOT for the paper's regressor.")

    def check_files(self, args) -> None:
        super().check_files(args)
        va = getattr(args, "affectnet_dir", None)
        if va is not None and not Path(va).is_dir():
            raise UsageError(f"--va-data {va}: no such folder; give the AffectNet root (the folder holding "
                             "Manually_Annotated_file_lists/ or train_set/, see docs/datasets.md), or leave the flag "
                             "out to train the valence/arousal regressor on the built-in faces")

    def load_data(self, args, plan, run_dir, log, purpose="train") -> Data:
        from ..data import pipeline
        from ..data import stream as streams

        s, cfg, ev = self.setup, plan.config, plan.ev
        size = cfg.image_size
        if getattr(args, "affectnet_dir", None):
            from ..eval.cgan import check_affectnet_va

            check_affectnet_va(args.affectnet_dir)   # before training, not after it
        own = self.own_data(args, s.vocab)
        if own is not None:
            train_scan, held_scan = self._own_parts(own, args.seed)
            # The training stream decodes each image when it is reached (exactly resumable, nothing held in memory).
            # The faces evaluation reads no images; the classes evaluation's EfficientNet-B0 trains on the training
            # part and is scored on the held-out part, held in memory as the published readers' arrays are (not
            # decoded for a run that trains and exports only).
            train = held = None
            if s.dataset != "faces" and (purpose == "evaluate" or not getattr(args, "skip_eval", False)):
                train = pipeline.take_arrays(train_scan.dataset(size, s.channels), DATA_KEYS)
                held = pipeline.take_arrays(held_scan.dataset(size, s.channels), DATA_KEYS, 5000)
            ds = keys(train_scan.stream(size, s.channels, args.seed), DATA_KEYS)
            data = Data(_draws(ds, cfg, args.seed), max(1, len(train_scan) // cfg.batch_size), held, train)
            data.info["own_data"] = self.own_data_info(own)
            plan.notes.append(self.own_data_note(own))
            plan.notes.append(self._own_split_note(own, train_scan, held_scan))
            return data
        if plan.synthetic:
            from ..data import synthetic as synth

            train = synth.make_arrays(s.dataset, "train", n=ev["train_images"], size=size, seed=args.seed)
            held = synth.make_arrays(s.dataset, "test" if s.dataset != "faces" else "val",
                                     n=min(1000, ev["train_images"] // 4), size=size, seed=args.seed)
            train, held = ({k: d[k] for k in DATA_KEYS} for d in (train, held))
        else:
            reader = pipeline.READERS[s.dataset]
            if s.dataset == "faces":
                ds, _ = reader.load(args.data_dir, "all", image_size=size, channels=s.channels)
                # FACES has no test split; the paper trains on all 2,052 images. The faces evaluation reads no
                # held-out images, so held-out = a view of the training images.
                train = held = pipeline.take_arrays(ds, DATA_KEYS)
            else:
                train_ds, _ = reader.load(args.data_dir, "train", image_size=size, channels=s.channels)
                test_ds, _ = reader.load(args.data_dir, "test", image_size=size, channels=s.channels, verbose=False)
                train, held = pipeline.take_arrays(train_ds, DATA_KEYS), pipeline.take_arrays(test_ds, DATA_KEYS, 5000)
        ds = streams.from_tensors(train, args.seed)
        return Data(_draws(ds, cfg, args.seed), max(1, len(train["image"]) // cfg.batch_size), held, train)

    def _own_parts(self, own, seed):
        """(training, held-out) scans of the user's data. FACES: the paper trains on all its images and the faces
        evaluation reads none, so every row trains unless the data's split column holds some out. The other setups:
        the data's split, else a seeded tenth of each class held out for the EfficientNet-B0 reader."""
        if self.dataset == "faces":
            if (np.asarray(own.split) != "").any():
                return own.parts(seed=seed)[0], own.scan
            return own.scan, own.scan
        return own.parts(held_fraction=0.1, seed=seed)

    def _own_split_note(self, own, train_scan, held_scan) -> str:
        if self.dataset == "faces":
            return (f"The cGAN trains on {len(train_scan)} of your images (paper 5.4 trains on all of FACES; the "
                    "faces evaluation reads no held-out image).")
        how = "the data's split" if (np.asarray(own.split) != "").any() else "a seeded tenth of each class"
        return (f"The cGAN and the EfficientNet-B0 reader train on {len(train_scan)} of your images; the reader's "
                f"held-out accuracy is measured on {len(held_scan)} held out by {how}.")

    def finalize(self, args, plan, data):
        s, cfg, ev = self.setup, plan.config, plan.ev
        shrink = SMOKE if args.smoke else s.synth if plan.synthetic else s.real
        paper = s.paper_steps or s.paper_epochs * data.steps_per_epoch
        plan.steps = steps = run.steps_from(args, shrink.get("steps", paper) if (plan.synthetic or args.smoke)
                                            else paper, data.steps_per_epoch, smoke_steps=SMOKE["steps"])
        if s.dataset != "faces":
            reader = f"EfficientNet-B0 {ev['classifier_steps']} steps."
        elif ev.get("regressor_steps"):
            reader = f"regressor {ev['regressor_steps']} steps."
        else:
            reader = f"regressor {ev['regressor_epochs']} epochs of AffectNet."
        if plan.synthetic:
            plan.notes.insert(0, f"Trained and evaluated on the built-in {s.dataset}-like SYNTHETIC images, not the "
                                 "real dataset: the numbers show whether label interpolation works in this pipeline, "
                                 "not the paper's results.")
            plan.notes.insert(1, f"Shrunk to fit ~15 min on a 2-core CPU: {steps} steps of batch {cfg.batch_size} "
                                 f"(paper: {s.paper}), {ev['train_images']} training images, width x{cfg.width}, "
                                 f"images {cfg.image_size}x{cfg.image_size}, {ev['noise_vectors']} noise vectors per "
                                 f"class pair (paper 1,000), {reader}")
        if args.smoke:
            plan.notes.append("--smoke: a few steps; the numbers mean nothing.")
        plan.run_config = {"system": self.kind, "dataset": s.dataset, **asdict(cfg)}
        if run.is_custom(args):
            plan.run_config["classes"] = list(plan.extra["vocabulary"].names)

    def build(self, config, args, data):
        from ..gans.cgan import CGAN

        return CGAN(config, seed=args.seed)

    def evaluate(self, r, model, plan, data, log):
        from ..eval import cgan as E

        s = self.setup
        vocab = self.vocabulary(r.config)
        if s.dataset == "faces":
            return E.evaluate_faces(model, vocab, plan.ev, r.dir / paths.FIGURES, seed=r.args.seed,
                                    va_data=getattr(r.args, "affectnet_dir", None), note=r.note, log=log)
        label = "your data" if run.is_custom(r.args) else s.dataset.replace("_", "-")
        return E.evaluate_classes(model, vocab, label, s.channels, data.arrays, data.held, plan.ev,
                                  r.dir / paths.FIGURES, seed=r.args.seed, smoke=r.args.smoke, note=r.note, log=log)

    def endpoints(self, model):
        from ..gans.cgan import saved_model_endpoints

        return saved_model_endpoints(model)

    def coverage(self, args, plan, metrics):
        """Each setup's own items as its run made them; the other setups' items "not reproduced" (their recipes
        make them). An item becomes an analogue on synthetic data or on your own data (Table 1 excepted: it scores
        the regressor, whose data is --va-data's), with fewer noise vectors than the paper's, or (Table 1, Fig. 14)
        with a regressor not trained on AffectNet for the paper's 100 epochs. Fig. 13 and Fig. 14 are not made on
        own data without a neutral class (the evaluation says why)."""
        rows = []
        reg = metrics.get("va_regressor", {})
        custom_data = run.is_custom(args)
        skipped = metrics.get("neutral_to_emotion_skipped")
        for item, owner in PAPER_ITEMS:
            row = item.row()
            if item.status == "not reproduced":
                rows.append(row)
                continue
            if owner != self.dataset:
                rows.append(item.row("not reproduced", f"a {PRETTY[owner]} item: python recipes/cgan_{owner}.py "
                                                       "makes it, this run does not"))
                continue
            if skipped and item.item in ("Fig. 13", "Fig. 14"):
                rows.append(item.row("not reproduced", skipped))
                continue
            why = []
            if plan.synthetic and item.item != "Table 1":
                why.append("on the built-in synthetic images, not the paper's data")
            if custom_data and item.item != "Table 1":
                names = ", ".join(plan.extra["vocabulary"].names)
                why.append(f"on your own data ({names}), not the paper's")
            if item.item in ("Fig. 7", "Fig. 8", "Fig. 14") and plan.ev.get("noise_vectors", 0) < PAPER_NOISE_VECTORS:
                why.append(f"{plan.ev['noise_vectors']} noise vectors per curve (paper {PAPER_NOISE_VECTORS:,}; "
                           "--noise-vectors)")
            if item.item in ("Table 1", "Fig. 14"):
                if reg.get("trained_on") != "AffectNet":
                    why.append("the regressor learnt from the built-in AffectNet-like faces, not AffectNet for 100 "
                               "epochs (no --va-data)")
                elif reg.get("epochs", 0) < plan.ev.get("regressor_epochs", 100):
                    why.append(f"the regressor trained {reg['epochs']:.2f} epochs on AffectNet (paper "
                               f"{plan.ev.get('regressor_epochs', 100)}; --regressor-steps)")
            rows.append(item.row("analogue", f"{item.how}; {'; '.join(why)}") if why else row)
        return rows

    def conclude(self, r, metrics, log):
        if "interpolation" in metrics:
            i = metrics["interpolation"]
            log(f"target-class confidence from {i['mean_target'][0]:.3f} (source label) to {i['mean_target'][-1]:.3f} "
                f"(target label); {100 * i['monotonic_share']:.0f}% of class pairs rise at every step")
        example = self.mix_example(self.vocabulary(r.config))
        log(f"images for a mixed label: tfgan-emotion edit --run {r.dir} --mix '{example}' -o mix.png")

    def mix_example(self, vocab=None) -> str:
        """A --mix for ``vocab`` (default: the setup's): on faces neutral with another emotion (happiness where there
        is one), else the first two classes half and half."""
        vocab = vocab or self.setup.vocab
        names = vocab.names
        neutral = _neutral(vocab)
        if self.dataset == "faces" and neutral is not None:
            others = [k for k in range(len(names)) if k != neutral]
            other = next((k for k in others if vocab.canonical[k] == "happy"), others[0])
            return f"{names[neutral]}=0.3,{names[other]}=0.7"
        return f"{names[0]}=0.5,{names[1]}=0.5"

    # ------------------------------------------------------------------ endpoints
    def vocabulary(self, config):
        """The run's classes: those of its own data (config.json "classes"), else the setup's paper vocabulary."""
        return custom.stored_vocabulary(config, self.setup.vocab)

    def request(self, config, emotions, intensity, mode="generate"):
        vocab = self.vocabulary(config)
        if _neutral(vocab) is None:
            t = np.broadcast_to(np.asarray(intensity, np.float32), (len(emotions),))
            if not np.allclose(t, 1.0):
                raise ValueError(f"this run's classes ({', '.join(vocab.names)}) have no neutral class, so an "
                                 "emotion at an intensity below 1 (a mix with neutral) cannot be asked for")
            return "generate", {"label": np.eye(len(vocab), dtype=np.float32)[[vocab.index(e) for e in emotions]]}
        return "generate", {"label": neutral_mix(vocab, emotions, intensity)}

    def draw(self, config, model, request):
        """``request["n"]`` images (one row, z ~ U(-1, 1) seeded by ``request["seed"]``) for the mixed label
        ``request["mix"]``, e.g. "neutral=0.3,happiness=0.7" (weights summing to 1, paper 000 eq. 2), over the run's
        classes."""
        from ..conditioning import parse_mix

        n, seed = int(request.get("n", 8)), int(request.get("seed", 0))
        v = parse_mix(request["mix"], self.vocabulary(config).names)
        z = np.random.default_rng(seed).uniform(-1, 1, (n, config["z_dim"])).astype(np.float32)
        out = model.generate(z=z, label=np.tile(v, (n, 1)))["image"].numpy()
        return grid_sheet(out, n)


def _neutral(vocab) -> int | None:
    """Index of the neutral class of ``vocab`` (by name or canonical name), or None."""
    try:
        return vocab.index("neutral")
    except KeyError:
        return None


SYSTEMS = tuple(CGANSystem(d) for d in ("fashion_mnist", "cifar10", "faces"))
