"""The System interface and the one driver that trains, evaluates and exports every system.

A system module (``systems/caae.py``, ...) subclasses :class:`System` and fills in what makes its paper: the
flags, the presets, how the data is read and the training stream built (with its own noise and random draws), the
model, the paper's evaluation, the SavedModel endpoints, and how an emotion request maps to those endpoints.
Everything around that is here, written once:

* :func:`main`: the recipe command (``python recipes/<name>.py`` = ``tfgan-emotion train <name>``): flags checked
  before anything is created, the run directory, training, then **export first**, evaluation, and the report.
* :func:`reopen`: a run directory back as (system, flags, model restored from its newest complete checkpoint),
  for ``tfgan-emotion evaluate`` / ``export`` and the Python API; it works on a finished run and on one killed
  mid-training.
* :class:`UsageError`: every problem a user can fix (bad or conflicting flags, a configuration that differs from the
  run already in the directory, a missing weights file or dataset) ends as exit status 2 with one line.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .. import paths, run, tboard


class UsageError(Exception):
    """A problem the user can fix from the command line; the command exits with status 2 and this one line."""


@dataclass
class Plan:
    """What one invocation will do, resolved from the flags and the presets before any data is read."""

    synthetic: bool
    config: Any                       # the system's frozen hyper-parameter dataclass
    ev: dict                          # evaluation settings (sizes, steps of the evaluation networks)
    notes: list = field(default_factory=list)
    steps: int = 0                    # total training steps (set by System.finalize once the data size is known)
    run_config: dict = field(default_factory=dict)   # what config.json stores under "config"
    extra: dict = field(default_factory=dict)         # system-specific values (e.g. a cGAN setup)
    auto_precision: tuple | None = None   # (policy, reason) that --precision auto means here; None: the hardware's


@dataclass
class Data:
    """The data of one run: the unbatched training stream (with its draws) and the arrays evaluation reads."""

    train: Any = None                 # tf.data.Dataset of dicts, unbatched, or None (evaluation / export only)
    steps_per_epoch: int | None = None
    held: dict | None = None          # held-out arrays (image + labels)
    arrays: dict | None = None        # training arrays for the evaluation networks
    info: dict = field(default_factory=dict)   # what metrics.json records about the data


@dataclass(frozen=True)
class PaperItem:
    """One table or figure of the system's paper, and how this port reproduces it.

    ``status``: "reproduced" (the paper's protocol, on the paper's data when the run has it), "analogue" (the same
    measurement under a stated difference, e.g. a stand-in network or data the paper did not use) or "not
    reproduced". ``how``: where the run puts it (a metrics.json key or figure) and the flag that selects the
    paper's protocol or the cheaper variant. The README's per-system section lists the same items."""

    item: str            # "Table IV", "Fig. 2"
    shows: str           # what the paper's item shows
    status: str          # "reproduced" | "analogue" | "not reproduced"
    how: str             # metrics key / figure file, and the flags that decide it

    STATUSES = ("reproduced", "analogue", "not reproduced")

    def __post_init__(self):
        if self.status not in self.STATUSES:
            raise ValueError(f"PaperItem {self.item}: status must be one of {self.STATUSES}, got {self.status!r}")

    def row(self, status: str | None = None, how: str | None = None) -> dict:
        """This item as the run records it, with the run's own status / explanation where they differ."""
        return {"item": self.item, "shows": self.shows, "status": status or self.status, "how": how or self.how}


@dataclass(frozen=True)
class CompareSpec:
    """How ``tfgan-emotion compare`` treats a system (its request protocol is :meth:`System.request`)."""

    control: str          # "continuous" or "categorical"
    editing: bool         # edits a given face (identity preservation applies)
    style: str            # the renderer's look: "plain", "faces" (FACES studio) or "ferg" (FERG characters)
    images_per_step: int  # training images drawn per step at the default batch
    smoothness: str       # "yes", "marked" (applies with a caveat) or "no"
    size: int             # the synthetic default's image size
    channels: int
    seconds_per_1k_images: float   # measured training time at the synthetic default on a 2-core CPU (orders --jobs)
    marked_because: str = ""       # why a "marked" smoothness comes with a caveat (a footnote of the table)


@dataclass(frozen=True)
class StudySpec:
    """How ``tfgan-emotion study make`` draws a system's stimuli."""

    modes: tuple          # "generate" and/or "edit"; the first is the default
    style: str            # the renderer's look for stand-in and source faces
    any_circumplex_emotion: bool = False   # requests are (valence, arousal): any emotion with a circumplex angle
    uses_intensity: bool = False           # --intensity scales the request (a continuous control)


@dataclass(frozen=True)
class BenchSpec:
    """What ``tfgan-emotion bench`` needs to time a system at its paper settings."""

    dataset: str          # the synthetic stand-in / reader
    size: int
    channels: int
    batch: int
    n_classes: int
    build: Callable       # (size, batch, width) -> model
    stream: Callable      # (source, model, seed) -> unbatched training stream
    endpoint: str         # SavedModel endpoint timed for generation
    evaluators: Callable  # (size) -> [(name, keras model)]
    # The recipe's run without data (`--preset default`): {"size", "width", "batch"[, "build", "precision"]}, or
    # None; "precision" is the policy that run takes for --precision auto, where it fixes one.
    default: dict | None = None


def log_to_stderr(name: str) -> Callable[[str], None]:
    return lambda m: print(f"[{name}] {m}", file=sys.stderr, flush=True)


class System:
    """One paper's system. Subclasses set the class attributes and implement the methods that raise
    NotImplementedError; the defaults cover the common case."""

    name: str = ""             # the recipe name, e.g. "caae_affectnet"
    kind: str = ""             # config.json "system", e.g. "caae"
    paper: str = ""            # "001"
    title: str = ""            # short display name, e.g. "CAAE (001)"
    summary: str = ""          # one line for `tfgan-emotion train --list`
    doc: str = ""              # --help description
    dataset: str = ""          # the dataset reader (data summary, study real images)
    batch_size: int = 32       # the paper's batch
    default_steps: int | None = None
    smoke_steps: int = 4
    weight_flags: tuple = ()   # flags naming weight files, checked for existence before anything starts
    data_flags: tuple = ("data_dir",)   # flags naming dataset folders, checked the same way
    resumable: frozenset = frozenset()  # flags/config fields that may change between invocations of one run
    eval_flags: tuple = ()     # recipe flags `tfgan-emotion evaluate` (and api.evaluate) may change on a run
    endpoint_names: tuple = ()          # the SavedModel signatures
    config_class: type | None = None
    compare: CompareSpec | None = None
    study: StudySpec | None = None
    bench: BenchSpec | None = None
    edit_help: str = ""        # how `tfgan-emotion edit` addresses this system
    latent_prior: str = "uniform"   # how generate()'s z is drawn: "uniform" U(-1, 1) or "normal" N(0, 1)
    paper_items: tuple = ()    # PaperItem per table and figure of the paper (README lists the same)

    # ------------------------------------------------------------------ flags and plan
    def parser(self) -> argparse.ArgumentParser:
        p = run.common_parser(self.name, self.doc, self.batch_size, self.default_steps, self.smoke_steps)
        self.add_arguments(p)
        return p

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        pass

    def budget_flags(self, total_steps: int) -> list:
        """Recipe flags that train ``total_steps`` steps in all (``tfgan-emotion compare``'s budgets)."""
        return ["--steps", str(total_steps)]

    def plan(self, args) -> Plan:
        raise NotImplementedError

    def check_files(self, args) -> None:
        """Refuse missing datasets and weight files, and own-data flags that do not go together, before anything
        is created."""
        self._check_own_data(args)
        synthetic = run.is_synthetic(args)
        for flag in self.data_flags:
            p = getattr(args, flag, None)
            if p is None or (flag == "data_dir" and synthetic):
                continue
            if not Path(p).exists():
                raise UsageError(f"--{flag.replace('_', '-')} {p}: no such folder or file; give the dataset's root in "
                                 "its published layout (see docs/datasets.md), or leave the flag out to train on the "
                                 "built-in synthetic faces")
        for flag in self.weight_flags:
            p = getattr(args, flag, None)
            if p is not None and not Path(p).is_file():
                raise UsageError(f"--{flag.replace('_', '-')} {p}: no such file; give the path of the weights file "
                                 "(nothing is downloaded), or leave the flag out (the recipe's --help says what "
                                 "happens then)")

    def _check_own_data(self, args) -> None:
        data_csv, folders = getattr(args, "data_csv", None), getattr(args, "data_format", "published") == "folders"
        if data_csv and getattr(args, "data_dir", None):
            raise UsageError("--data-csv and --data-dir name two datasets; give one (--data-csv with --image-root "
                             "for a CSV, --data-dir with --data-format folders for class folders)")
        if folders and not getattr(args, "data_dir", None):
            raise UsageError("--data-format folders reads --data-dir DIR (one sub-folder per class); add --data-dir")
        if data_csv and not Path(data_csv).is_file():
            raise UsageError(f"--data-csv {data_csv}: no such file")
        root = getattr(args, "image_root", None)
        if root is not None and not data_csv:
            raise UsageError("--image-root goes with --data-csv (the folder the CSV's image paths are relative to)")
        if root is not None and not Path(root).is_dir():
            raise UsageError(f"--image-root {root}: no such folder")
        own = data_csv or folders
        for flag in ("classes", "label_map"):
            if getattr(args, flag, None) is not None and not own:
                raise UsageError(f"--{flag.replace('_', '-')} applies to your own data; add --data-csv FILE or "
                                 "--data-dir DIR --data-format folders")
        if own and args.synthetic:
            raise UsageError("--synthetic trains on the built-in faces; leave it out to read your own data")
        if own:
            from ..data import custom

            try:
                custom.parse_classes(getattr(args, "classes", None))
                if getattr(args, "label_map", None) is not None:
                    custom.read_label_map(args.label_map)
            except (ValueError, FileNotFoundError) as e:
                raise UsageError(str(e)) from None

    def own_data(self, args, default_vocabulary=None, *, check: str = "decode", verbose: bool = True):
        """The user's own data (:class:`data.custom.Custom`) when the flags name it, else None."""
        from ..data import custom

        source = custom.source_from_args(args)
        if source is None or run.is_synthetic(args):
            return None
        return custom.read(source, default_vocabulary, check=check, verbose=verbose)

    @staticmethod
    def own_data_info(own) -> dict:
        """What metrics.json records (``data.own_data``) about the user's own data: the read summary (kept, skipped
        by reason with lines), the form it was read as, and the classes."""
        return {**own.scan.summary.to_dict(), "form": own.form,
                "classes": list(own.vocabulary.names) if own.vocabulary is not None else None,
                "identities": len(own.identities)}

    @staticmethod
    def own_data_note(own) -> str:
        """The run note that says the run trained on the user's own data, and what was read."""
        s = own.scan.summary
        skipped = ", ".join(f"{r} {n}" for r, n in sorted(s.skipped.items(), key=lambda kv: -kv[1]))
        classes = (f"; {len(own.vocabulary)} classes from the data: {', '.join(own.vocabulary.names)}"
                   if own.vocabulary is not None else "")
        return (f"Trained on your own data ({own.form}, {s.source}): {s.kept} images kept, {s.skipped_total} rows "
                f"skipped{f' ({skipped})' if skipped else ''}{classes}. The paper's numbers were measured on its "
                "own dataset; these are this data's.")

    def own_vocabulary(self, args, default_vocabulary=None):
        """The class vocabulary of the user's own data (read without opening an image), or None."""
        own = self.own_data(args, default_vocabulary, check="none", verbose=False)
        return None if own is None else own.vocabulary

    # ------------------------------------------------------------------ data, model, training
    def load_data(self, args, plan: Plan, run_dir: Path, log, purpose: str = "train") -> Data:
        """``purpose``: "train" (the training stream and evaluation arrays) or "evaluate" (evaluation arrays; the
        training stream may be left out)."""
        raise NotImplementedError

    def finalize(self, args, plan: Plan, data: Data) -> None:
        """Set ``plan.steps`` and ``plan.run_config`` (and notes that need the data's size)."""
        raise NotImplementedError

    def model_config(self, stored: dict):
        """The hyper-parameter dataclass from a run's config.json "config"."""
        names = {f.name for f in dataclasses.fields(self.config_class)}
        return self.config_class(**{k: v for k, v in stored.items() if k in names})

    def build(self, config, args, data: Data | None):
        """The model (called inside the strategy's scope); ``data`` is None when only exporting."""
        raise NotImplementedError

    def fit(self, r: run.Run, model, data: Data, plan: Plan, log):
        """Train; returns (TrainResult, extra metrics) or None when training stopped (NaN, signal)."""
        result = r.train(model, data.train, plan.steps)
        return None if result is None else (result, {})

    def evaluate(self, r: run.Run, model, plan: Plan, data: Data, log) -> dict:
        raise NotImplementedError

    def endpoints(self, model) -> dict:
        raise NotImplementedError

    def coverage(self, args, plan: Plan, metrics: dict) -> list:
        """The paper's tables and figures as this run reproduced them (metrics.json "paper_items", the report's
        first table after the notes). The default is :attr:`paper_items` with the synthetic-data caveat;
        systems override it where a flag or a fallback taken during evaluation changes an item's status."""
        rows = []
        for it in self.paper_items:
            if plan.synthetic and it.status == "reproduced":
                rows.append(it.row("analogue", it.how + "; on the built-in synthetic faces, not the paper's data"))
            elif run.is_custom(args) and it.status == "reproduced":
                rows.append(it.row("analogue", it.how + "; on your own data, not the paper's"))
            else:
                rows.append(it.row())
        return rows

    def conclude(self, r: run.Run, metrics: dict, log) -> None:
        """Print the headline numbers and how to use the run."""

    # ------------------------------------------------------------------ what the run's endpoints mean
    def vocabulary(self, config: dict):
        """The classes the system is conditioned on (a data.labels.Vocabulary), from config.json "config"."""
        raise NotImplementedError

    def request(self, config: dict, emotions, intensity, mode: str = "edit") -> tuple[str, dict]:
        """(endpoint, its non-image / non-noise inputs) for one output per entry of ``emotions`` (canonical
        names) at ``intensity`` (a number or one per entry; 0 is neutral, 1 the full emotion)."""
        raise NotImplementedError

    def editor(self, config: dict, model, request: dict) -> Callable:
        """A function face [H, W, C] in [-1, 1] -> uint8 picture for ``tfgan-emotion edit``; ``request`` holds
        the edit flags. ValueError names what is missing or wrong."""
        raise ValueError(f"{self.name} runs do not edit faces")

    def draw(self, config: dict, model, request: dict) -> Any:
        """Images from noise for ``tfgan-emotion edit --mix`` (generator-only systems)."""
        raise ValueError(f"--mix is for the label-interpolation cGAN runs; this run is {self.name}")


# ---------------------------------------------------------------------------------------------------------------
# The driver
# ---------------------------------------------------------------------------------------------------------------

def _plan(system: System, args) -> Plan:
    try:
        return system.plan(args)
    except ValueError as e:
        raise UsageError(str(e)) from None


def _data(system: System, args, plan: Plan, run_dir: Path, log, purpose: str) -> Data:
    try:
        data = system.load_data(args, plan, run_dir, log, purpose)
        system.finalize(args, plan, data)
    except (FileNotFoundError, ValueError, ImportError, KeyError) as e:
        raise UsageError(f"cannot read the data: {e}") from None
    return data


def _check_batch(args, replicas: int) -> None:
    """--batch-size is the global batch: refuse one that does not split evenly across the replicas."""
    from .. import training

    try:
        training.check_global_batch(args.batch_size, replicas)
    except ValueError as e:
        raise UsageError(str(e)) from None


def main(system: System, argv=None, callbacks=()) -> int:
    """The recipe command: train (or resume), export, evaluate, report. Exit status 0 done, 2 usage error, 3
    training stopped (NaN/Inf loss or a signal; the last good checkpoint is kept), 1 evaluation failed (the export
    is in place; the printed command resumes the evaluation). ``callbacks``: Keras callbacks added to the engine's
    own in every training phase (the Python API's ``train(..., callbacks=[...])``)."""
    args = system.parser().parse_args(argv)
    log = log_to_stderr(system.name)
    try:
        # What can be checked without TensorFlow comes first: files named by flags, then the flags against a run
        # already in the directory, then the plan (which builds the system's config).
        system.check_files(args)
        run_dir = Path(args.out) / (args.run or run.default_run_name(args))
        run.check_resumable(run_dir, None, args, system.resumable)
        plan = _plan(system, args)
        strategy, info = run.setup_runtime(args, plan.auto_precision)
        _check_batch(args, info.replicas)
        data = _data(system, args, plan, run_dir, log, "train")
        r = run.start(args, system.name, plan.run_config, notes=plan.notes, resumable=system.resumable,
                      runtime_setup=(strategy, info))
    except (UsageError, run.ConfigMismatch) as e:
        print(f"{system.name}: {e}", file=sys.stderr)
        return 2
    tboard.log_hparams(r.dir, r)
    r.callbacks = list(callbacks)
    with r.strategy.scope():
        model = system.build(plan.config, args, data)
    fitted = system.fit(r, model, data, plan, log)
    if fitted is None:
        return 3
    result, extra = fitted
    if not r.runtime.is_chief:
        return 0
    training = {"training": result.to_dict(), **extra, "evaluation_settings": plan.ev,
                **({"data": data.info} if data.info else {})}
    export_run(system, r.dir, model, log)
    return _evaluate_and_report(system, r, model, plan, data, training, result.step, log,
                                skip=getattr(args, "skip_eval", False))


def export_run(system: System, run_dir: Path, model, log) -> Path:
    """The networks as ``export/<name>.keras`` and one SavedModel ``export/saved_model`` with the endpoints."""
    from .. import export

    out = Path(run_dir) / paths.EXPORT
    export.export_networks(model.networks(), out)
    export.export_saved_model(Path(run_dir) / paths.SAVED_MODEL, model.networks(), system.endpoints(model),
                              classes=_class_names(system, run_dir))
    log(f"exported {', '.join(model.networks())} and the SavedModel ({', '.join(system.endpoint_names)}) to {out}")
    return out


def _class_names(system: System, run_dir) -> list | None:
    """The class names of the run's endpoints (index order), from its config.json; None for a system without."""
    p = Path(run_dir) / paths.CONFIG
    config = json.loads(p.read_text()).get("config", {}) if p.exists() else {}
    try:
        vocab = system.vocabulary(config)
    except NotImplementedError:
        return None
    return list(vocab.names[:config.get("n_classes", len(vocab))]) if vocab is not None else None


def _evaluate_and_report(system, r, model, plan, data, training: dict, step: int, log, skip=False) -> int:
    from .. import report

    metrics = dict(training)
    r.write_metrics(metrics, step)
    status = 0
    # Notes the evaluation adds (a fallback it took) belong to this evaluation: metrics.json carries them (the
    # report shows them with config.json's notes), so a later `tfgan-emotion evaluate` replaces them instead of
    # piling up beside them; config.json keeps the notes of training.
    notes_before, writes = list(r.notes), r.write
    if not skip:
        r.write = False
        try:
            metrics.update(system.evaluate(r, model, plan, data, log))
            metrics["paper_items"] = system.coverage(r.args, plan, metrics)
        except Exception as e:  # noqa: BLE001 - whatever failed, the export stays and the user gets the command
            traceback.print_exc()
            print(f"{system.name}: the evaluation failed ({type(e).__name__}: {e}). The trained networks are exported "
                  f"in {r.dir / paths.EXPORT}; once the cause is fixed, resume the evaluation with:\n"
                  f"  tfgan-emotion evaluate --run {shlex.quote(str(r.dir))}", file=sys.stderr)
            status = 1
        finally:
            r.write = writes
        added = [n for n in r.notes if n not in notes_before]
        r.notes = notes_before
        if added:
            metrics["evaluation_notes"] = added
        r.write_metrics(metrics, step)
    tboard.log_evaluation(r.dir, metrics, step)
    md = report.write_report(r.dir, r.args.reports)
    if status == 0:
        system.conclude(r, metrics, log)
    log(f"report: {md}")
    return status


# ---------------------------------------------------------------------------------------------------------------
# Reopening a run: evaluate, export, the Python API
# ---------------------------------------------------------------------------------------------------------------

def read_run_config(run_dir) -> dict:
    p = Path(run_dir) / paths.CONFIG
    if not p.exists():
        raise UsageError(f"{run_dir} is not a run directory (no {paths.CONFIG}); give the folder a recipe printed "
                         "when it started")
    try:
        return json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise UsageError(f"{p} is not valid JSON ({e}); the run directory is damaged") from None


def stored_args(system: System, stored: dict, overrides: dict | None = None) -> argparse.Namespace:
    """The run's flags as a Namespace (the parser's defaults, then what config.json recorded, then ``overrides``),
    with paths typed as the parser types them."""
    parser = system.parser()
    args = parser.parse_args([])
    typed = {a.dest: a.type for a in parser._actions if a.dest != "help"}
    unknown = [k for k in (overrides or {}) if k not in typed]
    if unknown:
        raise UsageError(f"{', '.join('--' + k.replace('_', '-') for k in unknown)}: {system.name} runs have no such "
                         f"setting (python recipes/{system.name}.py --help lists the system's flags)")
    for key, value in {**stored, **(overrides or {})}.items():
        if value is not None and typed.get(key) is Path:
            value = Path(value)
        setattr(args, key, value)
    return args


@dataclass
class Reopened:
    system: System
    run: run.Run
    args: argparse.Namespace
    model: Any
    step: int
    checkpoint: str


def reopen(run_dir, overrides: dict | None = None, purpose: str = "evaluate", log=None):
    """(Reopened, Plan, Data): the run in ``run_dir`` rebuilt from its config.json and restored from its newest
    complete checkpoint. ``overrides``: flags to change (evaluation settings). ``purpose`` "export" skips the data."""
    from . import get

    run_dir = Path(run_dir)
    cfg = read_run_config(run_dir)
    try:
        system = get(cfg.get("recipe", ""))
    except KeyError as e:
        raise UsageError(f"{run_dir}: {e}") from None
    log = log or log_to_stderr(system.name)
    args = stored_args(system, cfg.get("args", {}), overrides)
    args.out, args.run, args.strategy, args.logical_cpus = run_dir.parent, run_dir.name, "default", 0
    system.check_files(args)
    from .. import runtime, training

    plan = _plan(system, args)
    strategy, info = runtime.setup("default", cfg.get("runtime", {}).get("precision", args.precision),
                                   args.seed, quiet=True)
    data = None
    if purpose != "export":
        data = _data(system, args, plan, run_dir, log, "evaluate")
    r = run.Run(system.name, run_dir.name, run_dir, args, strategy, info, cfg.get("config", {}),
                list(cfg.get("notes", [])), write=False)
    with strategy.scope():
        model = system.build(system.model_config(cfg.get("config", {})), args, data)
    step, prefix = training.restore(model, run_dir)
    if step is None:
        raise UsageError(f"{run_dir / paths.CKPT} holds no complete checkpoint yet: the run stopped before its first "
                         "checkpoint (--checkpoint-every); resume training with the same command first")
    return Reopened(system, r, args, model, step, prefix), plan, data


def evaluate_run(run_dir, overrides: dict | None = None, log=None) -> int:
    """``tfgan-emotion evaluate --run DIR``: the paper's evaluation on the newest complete checkpoint; rewrites
    metrics.json and the report. Returns the exit status."""
    cfg = read_run_config(run_dir)
    from . import get

    try:
        system = get(cfg.get("recipe", ""))
    except KeyError as e:
        raise UsageError(f"{run_dir}: {e}") from None
    settings = set(system.eval_flags) | {"reports"}
    refused = [k for k in (overrides or {}) if k not in settings]
    if refused:
        own = ", ".join("--" + k.replace("_", "-") for k in system.eval_flags) or "none"
        raise UsageError(f"{', '.join('--' + k.replace('_', '-') for k in refused)}: not an evaluation setting of "
                         f"{system.name} runs (theirs: {own})")
    re, plan, data = reopen(run_dir, overrides, "evaluate", log)
    log = log or log_to_stderr(re.system.name)
    old = {}
    metrics_path = Path(run_dir) / paths.METRICS
    if metrics_path.exists():
        old = json.loads(metrics_path.read_text())
    keep = ("training", "training_phases", "data")
    training = {k: old[k] for k in keep if k in old}
    if int(old.get("step", -1)) != re.step or "training" not in training:
        training["training"] = {"step": re.step, "checkpoint": re.checkpoint,
                                "note": "evaluated from the newest complete checkpoint"}
    training["evaluation_settings"] = plan.ev
    log(f"evaluating {run_dir} at step {re.step} ({re.checkpoint})")
    return _evaluate_and_report(re.system, re.run, re.model, plan, data, training, re.step, log)


def export_from_run(run_dir, log=None) -> Path:
    """``tfgan-emotion export --run DIR``: the networks of the newest complete checkpoint as .keras files and the
    SavedModel."""
    re, _, _ = reopen(run_dir, None, "export", log)
    log = log or log_to_stderr(re.system.name)
    log(f"exporting {run_dir} at step {re.step} ({re.checkpoint})")
    return export_run(re.system, Path(run_dir), re.model, log)
