"""Export trained networks: one ``.keras`` file per sub-network (loadable with ``safe_mode=True``) and one
SavedModel with named serving signatures (``generate``, ``edit``, ``transfer``, ... filled by each system).

Custom layers must be registered with ``keras.saving.register_keras_serializable(package="tfgan_emotion")`` so that
the ``.keras`` files load without ``custom_objects`` and without unsafe lambda deserialisation.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import tensorflow as tf
import keras

from . import nets as _nets  # noqa: F401  (registers custom layers for loading)
from . import paths


def export_networks(networks: dict, out_dir, verify: bool = True) -> dict[str, Path]:
    """Save each named ``keras.Model`` as ``out_dir/<name>.keras``. With ``verify``, reload each file in safe mode
    and check it has the same weights, so an export that cannot be loaded fails here rather than at the user's."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, net in networks.items():
        path = out_dir / f"{name}.keras"
        net.save(path)
        if verify:
            loaded = keras.saving.load_model(path, safe_mode=True, compile=False)
            for a, b in zip(net.get_weights(), loaded.get_weights()):
                if a.shape != b.shape or not np.array_equal(a, b):
                    raise RuntimeError(f"exported {path} does not reload with the same weights")
        written[name] = path
    return written


def export_saved_model(path, networks: dict, endpoints: dict, classes=None) -> Path:
    """Write a SavedModel at ``path`` with one serving signature per entry of ``endpoints``:
    ``{name: (fn, [tf.TensorSpec, ...])}`` where ``fn`` calls the tracked ``networks``. Uses
    ``keras.export.ExportArchive`` (what ``model.export`` builds on), so the networks' variables are saved once.
    ``classes``: the class names the endpoints' label / emotion / affect inputs index, written to
    ``classes.json`` beside the signatures file."""
    path = Path(path)
    archive = keras.export.ExportArchive()
    for name, net in networks.items():
        archive.track(net)
    for name, (fn, signature) in endpoints.items():
        archive.add_endpoint(name=name, fn=fn, input_signature=signature)
    archive.write_out(str(path), verbose=False)
    signatures = {name: [{"name": s.name, "shape": [d for d in s.shape], "dtype": s.dtype.name} for s in sig]
                  for name, (_, sig) in endpoints.items()}
    if classes is not None:
        (path / "classes.json").write_text(json.dumps({"classes": list(classes)}, indent=2) + "\n")
    (path / "tfgan_emotion_signatures.json").write_text(json.dumps(signatures, indent=2))
    return path


def load_networks(run_dir, names=None) -> dict:
    """Load the exported ``.keras`` networks of a run (safe mode)."""
    export_dir = Path(run_dir) / paths.EXPORT
    files = sorted(export_dir.glob("*.keras"))
    if not files:
        raise FileNotFoundError(f"{export_dir} holds no .keras files: train the run to the end (the recipe exports "
                                "when training finishes) or run `tfgan-emotion export RUN_DIR`")
    nets = {f.stem: f for f in files if names is None or f.stem in names}
    return {k: keras.saving.load_model(v, safe_mode=True, compile=False) for k, v in nets.items()}


def load_saved_model(run_dir_or_path):
    """Load a run's SavedModel (``export/saved_model``) or a SavedModel folder; its endpoints are attributes."""
    p = Path(run_dir_or_path)
    if (p / paths.SAVED_MODEL).exists():
        p = p / paths.SAVED_MODEL
    if not (p / "saved_model.pb").exists():
        raise FileNotFoundError(f"no SavedModel at {p} (expected saved_model.pb); export the run first")
    return tf.saved_model.load(str(p))
