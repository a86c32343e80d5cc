"""What a run writes to TensorBoard besides the training scalars and sample grids of the engine: its hyper-parameters
(the HParams dashboard) and its evaluation metrics (scalars under ``eval/``), both in the run's ``tensorboard/``
folder, each in an event file of its own (``events.out.tfevents.*.hparams``, ``*.eval``).

Nothing here may stop a run: a failure to write is said in one line on stderr and training or evaluation goes on.
"""
from __future__ import annotations

import math
import re
import sys
from numbers import Integral, Real
from pathlib import Path

from . import paths

HPARAMS_SUFFIX = ".hparams"
EVAL_SUFFIX = ".eval"


def _hparam_value(v):
    """A value the HParams plugin accepts (bool, int, float, str), or None to leave the entry out."""
    if v is None:
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, Integral):
        return int(v)
    if isinstance(v, Real):
        return float(v) if math.isfinite(float(v)) else str(float(v))
    if isinstance(v, (list, tuple)):
        return ", ".join(str(x) for x in v)
    return str(v)


def _flatten(d: dict, prefix: str, sep: str, out: dict) -> dict:
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            _flatten(v, key + sep, sep, out)
        else:
            out[key] = v
    return out


def hparams_of(run) -> dict:
    """The run's hyper-parameters as the HParams plugin takes them: ``config/<field>`` (the resolved configuration,
    nested fields joined with "."), ``flags/<flag>`` (every recipe flag) and ``runtime/<field>`` (strategy,
    replicas, precision, ...); None left out, lists and paths as text."""
    flat = {}
    for group, values in (("config", run.config or {}), ("flags", vars(run.args)),
                          ("runtime", run.runtime.to_dict())):
        for k, v in _flatten(dict(values), "", ".", {}).items():
            value = _hparam_value(v)
            if value is not None:
                flat[f"{group}/{k}"] = value
    return flat


def log_hparams(run_dir, run) -> Path | None:
    """Write the run's hyper-parameters (:func:`hparams_of`) to ``run_dir/tensorboard`` for the HParams dashboard,
    the run's name as the trial id. Only the chief writes; an earlier invocation's hparams file is replaced (a
    resumed run may have changed --steps). Returns the event file, or None."""
    if not run.runtime.is_chief:
        return None
    try:
        import tensorflow as tf
        from tensorboard.plugins.hparams import api as hp

        folder = Path(run_dir) / paths.TENSORBOARD
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob(f"events.out.tfevents.*{HPARAMS_SUFFIX}*"):
            old.unlink()
        writer = tf.summary.create_file_writer(str(folder), filename_suffix=HPARAMS_SUFFIX)
        with writer.as_default():
            hp.hparams(hparams_of(run), trial_id=str(run.name))
        writer.flush()
        writer.close()
        return next(iter(sorted(folder.glob(f"events.out.tfevents.*{HPARAMS_SUFFIX}*"))), None)
    except Exception as e:  # noqa: BLE001 - the dashboard is a convenience; the run goes on
        print(f"[tfgan-emotion] TensorBoard hparams not written ({type(e).__name__}: {e})", file=sys.stderr)
        return None


def eval_scalars(metrics: dict) -> dict[str, float]:
    """Every finite number of ``metrics`` (nested dicts flattened with "/") under ``eval/``; booleans, text,
    lists, NaN and Inf are left out, and so is the top-level ``step``. Characters TensorBoard tags do not take
    become "_"."""
    out = {}
    for key, v in _flatten({k: v for k, v in metrics.items() if k != "step"}, "", "/", {}).items():
        if isinstance(v, bool) or not isinstance(v, Real):
            try:  # NumPy scalars
                import numpy as np

                if not isinstance(v, np.number) or isinstance(v, np.bool_):
                    continue
            except ImportError:
                continue
        x = float(v)
        if math.isfinite(x):
            out["eval/" + re.sub(r"[^A-Za-z0-9_.\-/]", "_", str(key))] = x
    return out


def log_evaluation(run_dir, metrics: dict, step: int) -> Path | None:
    """Write :func:`eval_scalars` of ``metrics`` as TensorBoard scalars at ``step`` to ``run_dir/tensorboard``.
    Returns the event file, or None when there was nothing to write (or writing failed)."""
    scalars = eval_scalars(metrics)
    if not scalars:
        return None
    try:
        import tensorflow as tf

        folder = Path(run_dir) / paths.TENSORBOARD
        folder.mkdir(parents=True, exist_ok=True)
        before = set(folder.glob(f"events.out.tfevents.*{EVAL_SUFFIX}*"))
        writer = tf.summary.create_file_writer(str(folder), filename_suffix=EVAL_SUFFIX)
        with writer.as_default():
            for tag, value in scalars.items():
                tf.summary.scalar(tag, value, step=int(step))
        writer.flush()
        writer.close()
        new = sorted(set(folder.glob(f"events.out.tfevents.*{EVAL_SUFFIX}*")) - before)
        return new[-1] if new else None
    except Exception as e:  # noqa: BLE001 - as above
        print(f"[tfgan-emotion] TensorBoard evaluation scalars not written ({type(e).__name__}: {e})",
              file=sys.stderr)
        return None
