"""The shared evaluation network: one CNN (valence/arousal head + identity head) trained on renders of every
compared domain, the measuring stick applied to every system's outputs."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from ..data import labels as L
from .protocol import EVAL_CHANNELS, EVAL_SIZE, Domain, log, to_common

# --------------------------------------------------------------------------------------------------------------
# The shared evaluation network
# --------------------------------------------------------------------------------------------------------------

class Evaluator:
    """The measuring stick: outputs [valence, arousal, identity logits...]; ``fc1`` gives the features."""

    def __init__(self, model):
        self.model = model

    def measure(self, images) -> dict:
        from ..eval import common

        x = to_common(images)
        out = common.predict(self.model, x)
        return {"va": out[:, :2], "features": common.classifier_features(self.model, x)}


def _training_domain_ids(domain: Domain, s: dict) -> tuple[np.ndarray, int]:
    """(identity ids, class offset) of an evaluation-network training domain (training identity ranges)."""
    if domain.style == "ferg":
        return np.arange(len(L.FERG_CHARACTERS)), s["train_ids_plain"] + s["train_ids_faces"]
    if domain.style == "faces":
        return np.arange(s["train_ids_faces"]), s["train_ids_plain"]
    return np.arange(s["train_ids_plain"]), 0


def evaluator_training_set(domains: list[Domain], s: dict, seed: int) -> dict:
    """Renders of every domain (training identities, nuisance on) with their (valence, arousal) and identity class.
    (valence, arousal): 15% near neutral, the rest uniform in angle with radius U(0.1, 1)."""
    rng = np.random.default_rng([seed, 0xC0A1])
    images, va, ident = [], [], []
    for d_i, d in enumerate(domains):
        pool, offset = _training_domain_ids(d, s)
        n = s["evaluator_images"]
        ids = rng.choice(pool, n)
        r = np.where(rng.uniform(size=n) < 0.15, rng.uniform(0, 0.15, n), rng.uniform(0.1, 1.0, n))
        th = rng.uniform(0, 2 * np.pi, n)
        v, a = (r * np.cos(th)).astype(np.float32), (r * np.sin(th)).astype(np.float32)
        images.append(to_common(d.render(ids, v, a, nuisance=True, seed=seed * 100 + d_i)))
        va.append(np.stack([v, a], 1))
        ident.append(np.searchsorted(pool, ids) + offset)
    n_classes = s["train_ids_plain"] + s["train_ids_faces"] + len(L.FERG_CHARACTERS)
    return {"image": np.concatenate(images), "va": np.concatenate(va),
            "identity": np.concatenate(ident).astype(np.int64), "n_classes": n_classes}


def _evaluator_loss(out, y):
    """10 x MSE of (valence, arousal) + cross-entropy of the identity; ``y`` = [valence, arousal, identity]."""
    import tensorflow as tf

    va = tf.reduce_mean(tf.square(out[:, :2] - y[:, :2]))
    ce = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.cast(y[:, 2], tf.int32),
                                                                       logits=out[:, 2:]))
    return 10.0 * va + ce


def train_evaluator(domains: list[Domain], s: dict, seed: int, out_dir: Path) -> tuple[Evaluator, dict]:
    """Train (or load from ``out_dir``, when its settings match) the shared evaluation network."""
    import keras

    from ..eval import common

    keras.mixed_precision.set_global_policy("float32")
    key = {"domains": [vars(d) for d in domains], "seed": seed,
           **{k: s[k] for k in ("evaluator_images", "evaluator_steps", "evaluator_width", "train_ids_plain",
                                "train_ids_faces")}}
    model_path, meta_path = out_dir / "evaluator.keras", out_dir / "evaluator.json"
    if model_path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("key") == json.loads(json.dumps(key)):
            log(f"shared evaluation network: reusing {model_path}")
            return Evaluator(keras.saving.load_model(model_path, safe_mode=True, compile=False)), meta
    t0 = time.monotonic()
    data = evaluator_training_set(domains, s, seed)
    log(f"shared evaluation network: {len(data['image'])} renders of {len(domains)} domains, "
        f"{data['n_classes']} identities, {s['evaluator_steps']} steps")
    model = common.build_classifier(EVAL_SIZE, EVAL_CHANNELS, 2 + data["n_classes"], width=s["evaluator_width"],
                                    seed=seed, name="compare_evaluator")
    targets = np.concatenate([data["va"], data["identity"][:, None].astype(np.float32)], 1)

    common.fit(model, _evaluator_loss, data["image"], targets, s["evaluator_steps"], 64,
                common.warmup_cosine(2e-3, s["evaluator_steps"]), seed, "shared evaluation network",
                "10 MSE(VA) + CE(identity)", log)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(model_path)
    sel = np.arange(0, len(data["image"]), max(1, len(data["image"]) // 2048))  # every domain
    pred = common.predict(model, data["image"][sel])
    meta = {"key": key, "seconds": round(time.monotonic() - t0, 1), "training_images": int(len(data["image"])),
            "identity_classes": int(data["n_classes"]),
            "train_va_rmse": float(np.sqrt(np.mean((pred[:, :2] - data["va"][sel]) ** 2))),
            "train_identity_accuracy": float(np.mean(np.argmax(pred[:, 2:], 1) == data["identity"][sel])),
            "architecture": f"eval/common.build_classifier(48, 1, 2 + {data['n_classes']}, width "
                            f"{s['evaluator_width']}): 4 stride-2 3x3 convs, fc1, linear head; features = fc1"}
    meta_path.write_text(json.dumps(meta, indent=2))
    return Evaluator(model), meta

