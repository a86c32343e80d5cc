"""Conditional DCGAN on fer2013 plus an inverse encoder for emotion transfer (paper 003, Fan, Liu,
Wang).

With --data-dir DIR (fer2013.csv, or the folder release with train/ and test/) it trains on fer2013 with the
paper's settings: all 35,887 CSV rows (--usage Training for the training rows only), 48x48 grey, batch 64, Adam
2e-4 / 0.5, 50 epochs of the cDCGAN, then the encoder with G frozen (two phases; --schedule joint updates D, G and
E every step as the authors' final code did). Without --data-dir it trains on the built-in fer2013-like faces,
shrunk to finish in about 15 minutes on a 2-core CPU; everything it shrinks is listed in the run's config notes and
at the top of its report. With --data-csv FILE or --data-dir DIR --data-format folders it trains on your own
labelled faces (read 48x48 grey) with the paper's settings: the label one-hot, the encoder, the evaluation's
expression classifier and every figure take the data's classes. Pixels are scaled to [-1, 1] to match the tanh
output (the authors' code used [0, 1]).
"""
from __future__ import annotations

from dataclasses import asdict
from functools import partial

import numpy as np

from .. import paths, run
from ..data import labels as L
from .base import BenchSpec, CompareSpec, Data, PaperItem, Plan, StudySpec, System
from .common import expression_classifier, grid_sheet, keys, parse_label, to_uint8

PAPER_EPOCHS = 50          # paper 3
ENCODER_EPOCHS = 10        # (ours) the paper does not say how long E was trained
SYNTH = dict(gan_steps=2800, encoder_steps=1000, width=0.5, train_images=8000, eval_faces=140,
             classifier_steps=800)
SMOKE = dict(gan_steps=4, encoder_steps=4, train_images=128, eval_faces=14, classifier_steps=4)
REAL = dict(eval_faces=1000, classifier_steps=3000)
DATA_KEYS = ("image", "expression")


def _draws(ds, cfg, seed):
    from .. import training

    ds = training.add_noise(ds, "z", (cfg.z_dim,), seed=seed)                  # z ~ U(-1, 1)^100
    return training.add_noise(ds, "y_random", (), seed=seed + 1)               # labels for eq. 13


def _bench_build(size, batch, width):
    from ..gans.dcgan import DCGAN, DCGANConfig

    return DCGAN(DCGANConfig(image_size=size, batch_size=batch, width=width))


def _bench_stream(source, model, seed):
    from ..bench import base_dataset

    c = model.config
    return _draws(keys(base_dataset(source, c.image_size, c.channels, 7), DATA_KEYS), c, seed)


class DCGANSystem(System):
    name, kind, paper = "dcgan_fer2013", "dcgan", "003"
    title = "fer2013 DCGAN+E (003)"
    summary = "conditional DCGAN + inverse encoder on fer2013 (Fan, Liu, Wang)"
    doc = __doc__
    dataset = "fer2013"
    batch_size = 64
    smoke_steps = SMOKE["gan_steps"]
    resumable = frozenset({"skip_eval", "eval_faces", "classifier_steps", "usage"})
    endpoint_names = ("generate", "transfer")
    eval_flags = ("eval_faces", "classifier_steps")
    compare = CompareSpec("categorical", True, "plain", 64, "no", 48, 1, 3.9)
    study = StudySpec(("generate", "edit"), "plain")
    bench = BenchSpec("fer2013", 48, 1, 64, 7, _bench_build, _bench_stream, "transfer",
                      partial(expression_classifier, channels=1, n_classes=7),
                      default=dict(size=48, width=SYNTH["width"], batch=64))
    edit_help = ("--affect happy (a label name or index of the run: fer2013's, or your data's classes), or --grid "
                 "for every label")
    # Paper 003 has no tables; its figures 1-4 are diagrams of the networks and their training graphs.
    paper_items = (
        PaperItem("Fig. 1", "the overall structure: encoder E, then the conditional generator G", "not reproduced",
                  "a diagram, not a result; the networks are tfgan_emotion/nets/dcgan.py (export/*.keras)"),
        PaperItem("Fig. 2", "the cDCGAN's computational graph (G, D, the label y, the losses)", "not reproduced",
                  "a diagram, not a result; the training rule is gans/dcgan.py's train_step"),
        PaperItem("Fig. 3", "a further diagram of the training computation, before the Adam update rule "
                  "(eqs. 7-12); the text does not describe it", "not reproduced", "a diagram, not a result"),
        PaperItem("Fig. 4", "the encoder E's computational graph", "not reproduced",
                  "a diagram, not a result; E is nets/dcgan.py's encoder, trained on eq. 14 (--encoder-loss)"),
        PaperItem("Fig. 5", "samples of G (64 z) after epochs 0, 6, 12, 18, 24, 39 of training", "reproduced",
                  "figures/fig5_gallery.png: up to 6 of the 8x8 sample grids written every --sample-every steps of "
                  "the cDCGAN phase, evenly spaced from the first to the last (epochs in the titles)"),
        PaperItem("Fig. 6", "real fer2013 faces -> E -> G with the label happy", "reproduced",
                  "figures/fig6_happy.png: 8 held-out faces (PrivateTest rows or test/)"),
        PaperItem("Fig. 7", "the same faces with every label", "reproduced",
                  "figures/fig7_every_label.png: the 8 faces of Fig. 6 with each of the 7 labels"),
    )
    # The share of a training budget spent on the encoder phase (the synthetic default's 1,000 of 3,800).
    encoder_share = SYNTH["encoder_steps"] / (SYNTH["gan_steps"] + SYNTH["encoder_steps"])

    @property
    def config_class(self):
        from ..gans.dcgan import DCGANConfig

        return DCGANConfig

    def budget_flags(self, total_steps: int) -> list:
        """Flags that train ``total_steps`` steps in all, split between the two phases as the synthetic default."""
        enc = max(1, round(total_steps * self.encoder_share))
        return ["--steps", str(max(1, total_steps - enc)), "--encoder-steps", str(enc)]

    def add_arguments(self, p):
        g = p.add_argument_group("fer2013 cDCGAN + encoder (paper 003)")
        g.add_argument("--usage", default="all", help="CSV rows to train on: all (paper: 35,887 rows), Training, "
                       "PublicTest or PrivateTest; the folder release: train or test (default: all rows / train)")
        g.add_argument("--encoder-loss", choices=("image", "latent"), default="image", help="image: mean (x - "
                       "G(E(x, y), y))^2 (paper eq. 14, default); latent: mean (z - E(G(z, y), y))^2 (paper eq. 13)")
        g.add_argument("--schedule", choices=("two_phase", "joint"), default="two_phase", help="two_phase: the "
                       "cDCGAN, then E with G frozen (paper, default); joint: D, G and E every step (authors' code)")
        g.add_argument("--encoder-epochs", type=float, default=ENCODER_EPOCHS, help="length of the encoder phase in "
                       f"epochs (two_phase; ours: {ENCODER_EPOCHS}, the paper does not say)")
        g.add_argument("--encoder-steps", type=int, help="length of the encoder phase in steps (overrides "
                       "--encoder-epochs)")
        g.add_argument("--width", type=float, help=f"channel multiplier of G, D and E (paper 1.0; synthetic default "
                       f"{SYNTH['width']})")
        run.add_eval_flags(p, "evaluation", "held-out faces for the transfer and reconstruction numbers", SYNTH,
                           REAL)

    def plan(self, args) -> Plan:
        from ..gans.dcgan import DCGANConfig

        synthetic = run.is_synthetic(args)
        width = args.width if args.width is not None else (SYNTH["width"] if synthetic else 1.0)
        extra = {}
        if run.is_custom(args):
            # The data's classes size the generator's one-hot, D's and E's label inputs (read without an image).
            vocab = self.own_vocabulary(args, L.FER2013)
            if vocab is None:
                raise ValueError(f"{args.data_csv or args.data_dir}: {self.name} needs an expression column (class "
                                 "names, or indices with --classes): the cDCGAN is conditioned on a class")
            extra["vocabulary"] = vocab
        n_classes = len(extra["vocabulary"]) if "vocabulary" in extra else DCGANConfig.n_classes
        cfg = DCGANConfig(batch_size=args.batch_size, width=width, encoder_loss=args.encoder_loss,
                          schedule=args.schedule, n_classes=n_classes)
        ev = {k: run.setting(args, k, synthetic, SMOKE, SYNTH, REAL) for k in ("eval_faces", "classifier_steps")}
        ev["train_images"] = (SMOKE if args.smoke else SYNTH)["train_images"]
        return Plan(synthetic, cfg, ev, extra=extra)

    def load_data(self, args, plan, run_dir, log, purpose="train") -> Data:
        from ..data import stream as streams

        cfg, ev = plan.config, plan.ev
        if plan.synthetic:
            from ..data import synthetic as synth

            train = synth.make_arrays("fer2013", "train", n=ev["train_images"], size=48, seed=args.seed)
            held = synth.make_arrays("fer2013", "val", n=ev["eval_faces"], size=48, seed=args.seed)
            ds = streams.from_tensors({k: train[k] for k in DATA_KEYS}, args.seed)
            return Data(_draws(ds, cfg, args.seed), len(train["image"]) // cfg.batch_size, held, train)
        if run.is_custom(args):
            return self._own_data(args, plan, purpose)
        from ..data import fer2013, pipeline

        release = fer2013.detect_release(args.data_dir)
        usage = None if args.usage == "all" and release == "csv" else ("train" if args.usage == "all" else args.usage)
        ds, summary = fer2013.load(args.data_dir, usage, shuffle_files=True, seed=args.seed, stream=True)
        if not summary.kept:
            raise ValueError(f"no usable fer2013 images in {args.data_dir} (usage {args.usage})")
        ds = keys(ds, DATA_KEYS)
        held_split = "PrivateTest" if release == "csv" else "test"
        held_ds, _ = fer2013.load(args.data_dir, held_split, verbose=False)
        held = pipeline.take_arrays(held_ds, DATA_KEYS, ev["eval_faces"])
        train = pipeline.take_arrays(ds, DATA_KEYS, 20000) if not (args.skip_eval and purpose == "train") else None
        return Data(_draws(ds, cfg, args.seed), max(1, summary.kept // cfg.batch_size), held, train)

    def _own_data(self, args, plan, purpose) -> Data:
        """The user's own faces, read as the fer2013 path reads its rows (48x48 grey, the endless training stream
        with the same draws): the training part trains, the held-out part (``split`` column, val/ folder, or a
        seeded tenth of each class) gives the evaluation faces, the training part the expression classifier."""
        from ..data import pipeline

        cfg, ev = plan.config, plan.ev
        own = self.own_data(args, L.FER2013)
        own.require("expression", self.name, "the cDCGAN is conditioned on a class")
        train, held_scan = own.parts(seed=args.seed)
        ds = keys(train.stream(cfg.image_size, cfg.channels, args.seed), DATA_KEYS)
        held = pipeline.take_arrays(held_scan.dataset(cfg.image_size, cfg.channels), DATA_KEYS, ev["eval_faces"])
        arrays = None
        if not (args.skip_eval and purpose == "train"):
            arrays = pipeline.take_arrays(train.dataset(cfg.image_size, cfg.channels), DATA_KEYS, 20000)
        plan.notes.append(self.own_data_note(own))
        info = {"train_images": len(train), "held_out_images": len(held_scan), "own_data": self.own_data_info(own)}
        return Data(_draws(ds, cfg, args.seed), max(1, len(train) // cfg.batch_size), held, arrays, info=info)

    def finalize(self, args, plan, data):
        cfg, ev = plan.config, plan.ev
        spe = data.steps_per_epoch
        shrink = SMOKE if args.smoke else (SYNTH if plan.synthetic else {})
        gan_steps = run.steps_from(args, shrink.get("gan_steps", PAPER_EPOCHS * spe), spe,
                                   smoke_steps=SMOKE["gan_steps"])
        if cfg.schedule == "joint":
            encoder_steps = 0
        elif args.encoder_steps:
            encoder_steps = args.encoder_steps
        elif "encoder_steps" in shrink:
            encoder_steps = shrink["encoder_steps"]
        else:
            encoder_steps = max(1, int(round(args.encoder_epochs * spe)))
        notes = plan.notes
        if plan.synthetic:
            notes.append("Trained and evaluated on the built-in fer2013-like SYNTHETIC faces, not fer2013: the numbers "
                         "show that the pipeline transfers emotions, not the paper's results.")
            notes.append(f"Shrunk to fit ~15 min on a 2-core CPU: network width x{cfg.width} (paper 1.0), {gan_steps} "
                         f"cDCGAN steps = {gan_steps / spe:.0f} epochs of {ev['train_images']} faces (paper 50 "
                         f"epochs of 35,887), {encoder_steps} encoder steps; expression classifier "
                         f"{ev['classifier_steps']} steps; {ev['eval_faces']} evaluation faces.")
        elif run.is_custom(args):
            notes.append("Evaluation faces are the held-out part of your data (its split column or val/ folder, else "
                         "a seeded tenth of each class), kept out of training; the expression classifier that reads "
                         "the transfers trains on the training part.")
        else:
            notes.append("Evaluation faces are the PrivateTest rows (CSV) or test/ (folders); with --usage all they "
                         "were also training rows, as in the paper, which trained on all 35,887 images.")
        if args.smoke:
            notes.append("--smoke: a few steps per phase; the numbers mean nothing.")
        notes.append(f"Schedule {cfg.schedule}: " + (
            "the cDCGAN for the first steps, then the encoder alone with G frozen in inference mode (paper 2.2)"
            if cfg.schedule == "two_phase" else "D, G and E each updated every step (authors' final code)")
            + f"; encoder loss {cfg.encoder_loss} (paper eq. {14 if cfg.encoder_loss == 'image' else 13}).")
        plan.steps = gan_steps + encoder_steps
        plan.extra.update(gan_steps=gan_steps, encoder_steps=encoder_steps, steps_per_epoch=spe)
        plan.run_config = {"system": self.kind, **asdict(cfg), "gan_steps": gan_steps,
                           "encoder_steps": encoder_steps}
        if "vocabulary" in plan.extra:
            plan.run_config["classes"] = list(plan.extra["vocabulary"].names)

    def build(self, config, args, data):
        from ..gans.dcgan import DCGAN

        return DCGAN(config, seed=args.seed)

    def fit(self, r, model, data, plan, log):
        gan_steps, encoder_steps = plan.extra["gan_steps"], plan.extra["encoder_steps"]
        phases = [("gan", gan_steps), ("encoder", gan_steps + encoder_steps)] \
            if plan.config.schedule == "two_phase" else [("joint", gan_steps)]
        per_phase, result = {}, None
        for phase, until in phases:
            log(f"phase {phase}: to step {until}")
            model.phase = phase
            model.train_function = None  # retrace: the step's players change with the phase
            result = r.train(model, data.train, until)
            if result is None:
                return None
            per_phase[phase] = result.to_dict()
        return result, {"training_phases": per_phase}

    def evaluate(self, r, model, plan, data, log):
        from ..eval import dcgan as E

        probe = None
        if plan.synthetic:
            from ..data import synthetic as synth

            probe = synth.make_arrays("fer2013", "train", n=64, size=48, seed=r.args.seed + 1)
        if data.arrays is None:
            raise ValueError("the training images for the expression classifier were not loaded")
        return E.evaluate(model, data.arrays, data.held, plan.ev, r.dir / paths.FIGURES, r.dir / paths.SAMPLES,
                          data.steps_per_epoch, r.config.get("gan_steps", plan.extra["gan_steps"]), seed=r.args.seed,
                          identity_probe=probe, log=log, vocabulary=self.vocabulary(r.config))

    def coverage(self, args, plan, metrics):
        """Figs. 5-7 turn "analogue" on real data when the networks were trained otherwise than the paper's: the
        authors' joint schedule (--schedule joint) or narrower networks (--width). On your own data (already
        "analogue") they also say which classes they show."""
        rows = super().coverage(args, plan, metrics)
        if plan.synthetic:
            return rows
        cfg, why = plan.config, []
        if cfg.schedule == "joint":
            why.append("trained with --schedule joint (the authors' final code), not the paper's two phases")
        if cfg.width != 1.0:
            why.append(f"networks at width x{cfg.width} (--width; paper 1.0)")
        per_item = {item: list(why) for item in ("Fig. 5", "Fig. 6", "Fig. 7")}
        vocab = plan.extra.get("vocabulary")
        if vocab is not None:
            from ..eval.dcgan import fig6_class

            k, name = fig6_class(vocab)
            per_item["Fig. 5"].append(f"one of your data's {len(vocab)} classes per row")
            per_item["Fig. 6"].append("held-out faces of your data")
            if vocab.canonical[k] != "happy":
                per_item["Fig. 6"].append(f"the label {name}: your data has no happy class")
            per_item["Fig. 7"].append(f"held-out faces of your data with each of its {len(vocab)} classes "
                                      f"({', '.join(vocab.names)}), not fer2013's 7")
        return [{**row, "status": "analogue", "how": row["how"] + "; this run: " + "; ".join(per_item[row["item"]])}
                if per_item.get(row["item"]) and row["status"] != "not reproduced" else row
                for row in rows]

    def endpoints(self, model):
        from ..gans.dcgan import saved_model_endpoints

        return saved_model_endpoints(model)

    def conclude(self, r, metrics, log):
        tr = metrics.get("transfer")
        if tr:
            log(f"transferred faces: expression classifier accuracy {tr['mean']:.3f} over the "
                f"{len(tr['per_label'])} target labels "
                f"(held-out real faces {metrics['classifier_accuracy_heldout']:.3f}); encoder reconstruction MSE "
                f"{metrics['reconstruction']['mse']:.4f}")
        log(f"transfer a face: tfgan-emotion edit --run {r.dir} --image face.png --affect happy -o out.png")

    # ------------------------------------------------------------------ endpoints
    def vocabulary(self, config):
        """fer2013's 7 classes, or the classes of your own data (config.json "classes")."""
        from ..data import custom

        return custom.stored_vocabulary(config, L.FER2013)

    def request(self, config, emotions, intensity, mode="edit"):
        t = np.broadcast_to(np.asarray(intensity, np.float32), (len(emotions),))
        if any(e != "neutral" and v != 1.0 for e, v in zip(emotions, t)):
            raise ValueError("the fer2013 DCGAN takes a class index only: intensities other than 1 have no control")
        vocab = self.vocabulary(config)
        label = np.array([vocab.index(e) for e in emotions], np.int32)
        return ("generate" if mode == "generate" else "transfer"), {"label": label}

    def editor(self, config, model, request):
        names = self.vocabulary(config).names
        grid, affect = request.get("grid"), request.get("affect")
        if not grid and affect is None:
            raise ValueError(f"give --affect (one of {', '.join(names)}), or --grid for every label")

        def transfer(faces, labels):
            return model.transfer(image=faces.astype(np.float32),
                                  label=np.asarray(labels, np.int32))["image"].numpy()

        if grid:
            k = len(names)
            return lambda face: grid_sheet(np.concatenate([face[None], transfer(np.repeat(face[None], k, axis=0),
                                                                                np.arange(k))]), k + 1)
        label = parse_label(affect, names)
        return lambda face: to_uint8(transfer(face[None], [label])[0])


SYSTEMS = (DCGANSystem(),)
