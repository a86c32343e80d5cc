"""What every recipe shares: the common command-line flags (DESIGN.md "Contracts"), the run directory and its
config.json, and the check that re-running a command resumes the same run rather than mixing two configurations.

The driver in ``systems/base.py`` uses these for every system: :func:`common_parser` for the flags,
:func:`check_resumable` before any data is read, :func:`start` for the run directory, :meth:`Run.train`.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import fileio, paths, runtime


class OneLineErrorParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (what is wrong, and where to look), not the usage block."""

    def error(self, message):
        self.exit(2, f"{self.prog}: {message} (see --help)\n")


def common_parser(recipe: str, description: str | None, default_batch_size: int, default_steps: int | None = None,
                  smoke_steps: int = 4) -> argparse.ArgumentParser:
    """An ArgumentParser with the flags every recipe has."""
    p = OneLineErrorParser(prog=f"python recipes/{recipe}.py", description=description,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("data")
    g.add_argument("--data-dir", type=Path, help="root of the real dataset in its published layout; without it the "
                   "recipe trains on the built-in synthetic stand-in")
    g.add_argument("--synthetic", action="store_true", help="use the built-in synthetic faces even if --data-dir "
                   "is given (the default when --data-dir and --data-csv are absent)")
    g = p.add_argument_group("your own data (docs/datasets.md, 'Your own data')")
    g.add_argument("--data-csv", type=Path, metavar="FILE", help="your own labelled faces: a CSV with one row per "
                   "image (a path column and the labels the system needs, e.g. path,expression), GANmut's "
                   "subDirectory_filePath,expression CSV, or the CSV `tfgan-emotion data crop` writes")
    g.add_argument("--image-root", type=Path, metavar="DIR", help="the folder the CSV's image paths are relative to "
                   "(default: the CSV's folder); rows whose path leaves it are skipped")
    g.add_argument("--data-format", choices=("published", "folders"), default="published", help="published: "
                   "--data-dir is the paper's dataset in its published layout (default); folders: --data-dir holds "
                   "one sub-folder of images per class (optionally inside train/ val/ test/)")
    g.add_argument("--classes", metavar="A,B,...", help="the class names in index order (the CSV may then give "
                   "indices); default: the names found in the data, known emotions first in AffectNet's order")
    g.add_argument("--label-map", type=Path, metavar="FILE", help="rename, merge or drop classes before training: "
                   "a CSV with the header from,to (an empty 'to' drops the class), or a JSON object")
    g = p.add_argument_group("training length")
    x = g.add_mutually_exclusive_group()
    x.add_argument("--steps", type=int, help=f"total training steps (default: the recipe's"
                   f"{f' {default_steps}' if default_steps else ''} paper setting)")
    x.add_argument("--epochs", type=float, help="total epochs over the training set (converted to steps)")
    g.add_argument("--batch-size", type=int, default=default_batch_size,
                   help=f"the global batch (paper: {default_batch_size}), split evenly across the replicas (GPUs, "
                   "workers); it must divide by their number. A run may resume on another number of replicas")
    g.add_argument("--smoke", action="store_true", help=f"keep the architecture, shrink steps (to {smoke_steps}) and "
                   "evaluation samples: for tests and a quick check that everything runs")
    g = p.add_argument_group("runtime")
    g.add_argument("--strategy", choices=runtime.STRATEGIES, default="auto",
                   help="auto: all GPUs mirrored, else one device; mirrored; multi_worker (TF_CONFIG); default")
    g.add_argument("--precision", choices=runtime.PRECISIONS, default="auto",
                   help="auto: mixed_bfloat16 where the hardware runs bf16 natively, else float32")
    g.add_argument("--seed", type=int, default=0, help="seed for Python, NumPy, TensorFlow and the data (default 0)")
    g.add_argument("--deterministic", action="store_true", help="TensorFlow op determinism (slower)")
    g.add_argument("--jit-compile", action="store_true", help="compile train steps with XLA (slower on some CPUs)")
    g = p.add_argument_group("output")
    g.add_argument("--out", type=Path, default=Path(paths.DEFAULT_OUT) / recipe, help="root of run directories "
                   f"(default ./{paths.DEFAULT_OUT}/{recipe}: each recipe has its own, so run names never collide)")
    g.add_argument("--run", help="run name (default: derived from the data, seed and --smoke, so that re-running the "
                   "same command resumes the same run)")
    g.add_argument("--reports", type=Path, default=Path(paths.DEFAULT_REPORTS), help="reports root (default ./reports)")
    g.add_argument("--checkpoint-every", type=int, default=500, help="checkpoint every N steps (default 500)")
    g.add_argument("--sample-every", type=int, default=500, help="write a sample grid every N steps (default 500)")
    g.add_argument("--log-every", type=int, default=10, help="log losses every N steps (default 10)")
    g.add_argument("--logical-cpus", type=int, default=0, help=argparse.SUPPRESS)
    return p


def is_synthetic(args) -> bool:
    """True when the run trains on the built-in synthetic faces (no --data-dir, no --data-csv, or --synthetic)."""
    return bool(args.synthetic or not (getattr(args, "data_dir", None) or getattr(args, "data_csv", None)))


def is_custom(args) -> bool:
    """True when the run reads the user's own data (--data-csv, or --data-format folders)."""
    return not is_synthetic(args) and (bool(getattr(args, "data_csv", None))
                                       or getattr(args, "data_format", "published") == "folders")


def default_run_name(args) -> str:
    if is_synthetic(args):
        data = "synthetic"
    elif getattr(args, "data_csv", None):
        csv = Path(args.data_csv).resolve()
        data = f"{csv.parent.name}-{csv.stem}"
    else:
        data = Path(args.data_dir).resolve().name
    return f"{'smoke-' if args.smoke else ''}{data}-seed{args.seed}"


# Flags that may change between invocations of the same run (they do not change what is trained).
RESUMABLE_FLAGS = {"steps", "epochs", "out", "run", "reports", "checkpoint_every", "sample_every", "log_every",
                   "strategy", "logical_cpus"}


def _jsonable(v):
    if isinstance(v, Path):
        return str(v)
    if dataclasses.is_dataclass(v):
        return {k: _jsonable(x) for k, x in dataclasses.asdict(v).items()}
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


@dataclass
class Run:
    recipe: str
    name: str
    dir: Path
    args: argparse.Namespace
    strategy: object
    runtime: runtime.RuntimeInfo
    config: dict
    notes: list = field(default_factory=list)
    write: bool = True     # False: a reopened run (evaluate / export) leaves config.json as training wrote it
    callbacks: list = field(default_factory=list)   # the user's own Keras callbacks (Python API), for every phase
    environment: dict | None = field(default=None, repr=False)   # runtime.environment(), read on the first write

    def train_config(self, steps: int, **overrides):
        from .training import TrainConfig

        a = self.args
        settings = dict(steps=steps, batch_size=a.batch_size, checkpoint_every=a.checkpoint_every,
                        sample_every=a.sample_every, log_every=a.log_every, jit_compile=a.jit_compile)
        return TrainConfig(**{**settings, **overrides})

    def note(self, text: str) -> None:
        """Add a line researchers must read first (what a smoke/synthetic run shrank, untrained features, ...)."""
        if text not in self.notes:
            self.notes.append(text)
            print(f"[tfgan-emotion] NOTE: {text}", file=sys.stderr, flush=True)
        self._write_config()

    def write_metrics(self, metrics: dict, step: int) -> Path:
        path = paths.run_file(self.dir, paths.METRICS)
        fileio.atomic_write(path, json.dumps(_jsonable({"step": step, **metrics}), indent=2, allow_nan=True))
        return path

    def train(self, model, dataset, steps: int, **overrides):
        """Train ``model`` to ``steps`` total steps in this run's directory; None (after saying why on stderr) when
        training stopped on a NaN/Inf loss, a signal or (multi-worker) the loss of a peer worker - the recipe then
        exits with status 3. ``overrides``: :class:`training.TrainConfig` fields (e.g. a per-step ``batch_size``
        other than --batch-size)."""
        from . import training

        try:
            return training.train(model, dataset, self.dir, self.train_config(steps, **overrides), self.strategy,
                                  self.runtime.is_chief, extra_callbacks=self.callbacks)
        except (training.NonFiniteLossError, training.TrainingInterrupted) as e:  # WorkerLost is one too
            print(f"{self.recipe}: {e}", file=sys.stderr)
            return None

    def _write_config(self):
        if not self.runtime.is_chief or not self.write:
            return
        if self.environment is None:
            self.environment = runtime.environment()
        doc = {"recipe": self.recipe, "run": self.name, "system": self.config.get("system", self.recipe),
               "config": self.config, "args": _jsonable(vars(self.args)), "runtime": self.runtime.to_dict(),
               "environment": self.environment,
               "command": [sys.executable] + sys.argv, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
               "notes": self.notes}
        # Replaced at once: a kill while it is written must not leave a torn file that the next run refuses.
        fileio.atomic_write(paths.run_file(self.dir, paths.CONFIG), json.dumps(doc, indent=2))


class ConfigMismatch(ValueError):
    pass


def check_resumable(run_dir: Path, config: dict | None, args, resumable=()) -> None:
    """Refuse to resume ``run_dir`` with a different configuration (a different batch size, say). Flags in
    :data:`RESUMABLE_FLAGS` and ``resumable`` may differ, and so may config fields named in ``resumable`` (those
    derived from a resumable flag, e.g. a schedule's length from --steps). ``config`` None compares the flags
    only (the check made before any data is read)."""
    path = run_dir / paths.CONFIG
    if not path.exists():
        return
    old = json.loads(path.read_text())
    free = RESUMABLE_FLAGS | set(resumable)
    new_args = {k: v for k, v in _jsonable(vars(args)).items() if k not in free}
    old_args = {k: v for k, v in old.get("args", {}).items() if k not in free}
    diffs = [f"{k}: {old_args.get(k)!r} -> {new_args.get(k)!r}" for k in sorted(set(new_args) | set(old_args))
             if old_args.get(k) != new_args.get(k)]
    old_cfg, new_cfg = old.get("config", {}), _jsonable(config) if config is not None else old.get("config", {})
    diffs += [f"config.{k}: {old_cfg.get(k)!r} -> {new_cfg.get(k)!r}" for k in sorted(set(old_cfg) | set(new_cfg))
              if k not in free and old_cfg.get(k) != new_cfg.get(k)]
    if diffs:
        raise ConfigMismatch(f"{run_dir} already holds a run with a different configuration ({'; '.join(diffs)}). "
                             "Re-run with the original flags to resume it, or pass --run NEW_NAME for a new run.")


def setup_runtime(args, auto_precision: tuple[str, str] | None = None):
    """(strategy, RuntimeInfo) from the common flags; must run before TensorFlow creates its runtime.
    ``auto_precision``: what --precision auto means for this run when the recipe decides it (runtime.setup)."""
    return runtime.setup(args.strategy, args.precision, args.seed, args.deterministic, args.logical_cpus,
                         auto_precision=auto_precision)


def start(args, recipe: str, config, notes=(), resumable=(), runtime_setup=None) -> Run:
    """Set up the runtime from the common flags (unless ``runtime_setup`` gives it), create (or reopen) the run
    directory and write config.json. ``resumable`` names recipe flags that may change when the run is resumed."""
    strat, info = runtime_setup or setup_runtime(args)
    name = args.run or default_run_name(args)
    run_dir = Path(args.out) / name
    cfg = _jsonable(config)
    check_resumable(run_dir, cfg, args, resumable)
    run_dir.mkdir(parents=True, exist_ok=True)
    r = Run(recipe, name, run_dir, args, strat, info, cfg, list(notes))
    old = run_dir / paths.CONFIG
    if old.exists():
        r.notes = list(dict.fromkeys(json.loads(old.read_text()).get("notes", []) + r.notes))
    r._write_config()
    print(f"[tfgan-emotion] {recipe}: run {name} in {run_dir}", file=sys.stderr)
    print(json.dumps({"config": cfg, "runtime": info.to_dict()}, indent=2), file=sys.stderr, flush=True)
    return r


def add_eval_flags(parser, title: str, faces_help: str, synth: dict, real: dict):
    """The evaluation flags of the recipes that train an expression classifier: --eval-faces, --classifier-steps
    (defaults from the ``synth`` / ``real`` tables) and --skip-eval."""
    g = parser.add_argument_group(title)
    g.add_argument("--eval-faces", type=int, help=f"{faces_help} (default {real['eval_faces']} on real data, "
                   f"{synth['eval_faces']} synthetic)")
    g.add_argument("--classifier-steps", type=int, help="training steps of the expression classifier (default "
                   f"{real['classifier_steps']} real, {synth['classifier_steps']} synthetic)")
    g.add_argument("--skip-eval", action="store_true", help="train and export only")
    return g


def setting(args, name: str, synthetic: bool, smoke: dict, synth: dict, real: dict):
    """A recipe setting: the flag ``--name`` when given, else the --smoke, synthetic or real-data default."""
    given = getattr(args, name, None)
    if given is not None:
        return given
    return (smoke if args.smoke else synth if synthetic else real)[name]


def steps_from(args, paper_steps: int, steps_per_epoch: int | None = None, smoke_steps: int = 4) -> int:
    """Total steps from --steps / --epochs / --smoke, else the paper's."""
    if args.smoke and not args.steps:
        return smoke_steps
    if args.steps:
        if args.steps < 1:
            raise ValueError("--steps must be >= 1")
        return args.steps
    if args.epochs:
        if not steps_per_epoch:
            raise ValueError("--epochs needs a dataset of known size; give --steps instead")
        return max(1, int(round(args.epochs * steps_per_epoch)))
    return paper_steps
