"""The layout of a run directory, shared by training, evaluation, export and reports (DESIGN.md "Contracts").

``<out>/<run>/``
    ``config.json``   {"recipe", "run", "system", "config": {...resolved hyperparameters...},
                       "runtime": {"strategy", "replicas", "devices", "precision"},
                       "environment": {...runtime.environment(): versions, CUDA, driver, devices, commit...},
                       "command", "created", "notes": [...]}
    ``metrics.json``  evaluation results: {"step": int, "<table name>": {row: {column: value}} or {column: value}, ...}
    ``logs/losses.csv``  one row per logged step: ``step`` then one column per loss/metric reported by train_step
    ``samples/``      image grids written during training (``step_000100.png``)
    ``figures/``      evaluation figures (PNG), each included in the report
    ``ckpt/``         tf.train.CheckpointManager checkpoints
    ``tensorboard/``  TensorBoard event files
    ``export/``       ``<network>.keras`` files and ``saved_model/``

Reports go to ``<reports root>/<recipe>/<run>/report.{md,html}`` with their figures beside them.
"""
from __future__ import annotations

from pathlib import Path

CONFIG = "config.json"
METRICS = "metrics.json"
LOSSES = "logs/losses.csv"
SAMPLES = "samples"
FIGURES = "figures"
CKPT = "ckpt"
TENSORBOARD = "tensorboard"
EXPORT = "export"
SAVED_MODEL = "export/saved_model"
DEFAULT_OUT = "checkpoints"
DEFAULT_REPORTS = "reports"


def run_file(run_dir: str | Path, name: str) -> Path:
    """Path of one of the files above inside ``run_dir``, its parent folder created."""
    p = Path(run_dir) / name
    p.parent.mkdir(parents=True, exist_ok=True)
    return p
