"""``tfgan-emotion compare``: the five systems side by side on the synthetic faces' ground truth (issue #9).

Trains (or, with --reuse, takes existing runs of) CAAE, FExGAN, the fer2013 DCGAN + encoder, the FACES
label-interpolation cGAN and GANmut on their built-in synthetic stand-ins with ONE budget of training images, then
scores every system with ONE protocol against the renderer's ground truth:

  request      (held-out identity, FACES emotion c, intensity t): the 6 FACES emotions (neutral, fear, anger,
               sadness, disgust, happiness) are the classes every system knows; the requested (valence, arousal) is
               t x the emotion's circumplex direction (labels.CIRCUMPLEX_DEGREES), neutral = (0, 0).
  control      CAAE edit(v, a); GANmut edit_emotion(c, rho=t); cGAN label (1-t) onehot(neutral) + t onehot(c)
               from a fixed z; FExGAN transfer with affect (1-t) onehot(neutral) + t onehot(c); DCGAN
               transfer(c) (categorical, t = 1 only).
  source       the identity rendered neutral in the canonical pose (no nuisance) at the system's own size,
               channels and stand-in style (FERG characters for FExGAN, the FACES studio look for the cGAN).
  truth        the renderer's face of the same identity and style at the requested (valence, arousal).
  measuring    ONE evaluation network for all systems, on 48x48 grey (every image is converted): a CNN with a
  stick        valence/arousal regression head and an identity head, trained once per comparison on renders of all
               five domains (cached in OUT/evaluator); its own held-out quality is in the report.

Columns: valence/arousal CCC, RMSE and SAGR between requested and measured (continuous systems); accuracy of the
requested category (category_from_va of the measured point on the FACES vocabulary, at t = 1, every system);
identity preservation (top-1 identification of each edit among the truth renders of 6 identities showing the same
request; editing systems); Frechet distance between the evaluation network's features of generated faces and of
the truth renders of the same requests; smoothness (paper 002's score) of the measured intensity along sweeps
t = 0.1 .. 1.0 toward each emotion (systems with a continuous control); the budget. Cells that do not apply say
n/a and why. Writes OUT/compare.json, compare.md, compare.html and figures/edits.png; OUT defaults to
reports/compare/<timestamp>. The trained runs live in OUT/runs/<recipe>/ (re-running with the same --out reuses
the finished runs, resumes unfinished ones and reuses the evaluation network).

Examples:
  tfgan-emotion compare                                  # all five, default budget (~30 min on an idle 2-core CPU)
  tfgan-emotion compare --smoke                          # a few steps each: checks that everything runs
  tfgan-emotion compare --systems caae_affectnet ganmut_affwild2 --budget-images 20000
  tfgan-emotion compare --reuse checkpoints/caae_affectnet/synthetic-seed0 checkpoints/fexgan_ferg/synthetic-seed0
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import paths
from .data import labels as L

# --------------------------------------------------------------------------------------------------------------
# The systems and the protocol constants
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class System:
    recipe: str
    system: str          # config.json "system"
    title: str
    control: str         # "continuous" or "categorical" (issue #9's split)
    editing: bool        # edits a given face (identity preservation applies)
    style: str           # "plain" (generic identities), "faces" (FACES studio look) or "ferg" (FERG characters)
    images_per_step: int  # training images drawn per step at the recipe's default batch
    smoothness: str      # "yes", "marked" (applies with a caveat) or "no"


SYSTEMS = {
    "caae_affectnet": System("caae_affectnet", "caae", "CAAE (001)", "continuous", True, "plain", 49, "yes"),
    "fexgan_ferg": System("fexgan_ferg", "fexgan", "FExGAN (004)", "categorical", True, "ferg", 32, "marked"),
    "dcgan_fer2013": System("dcgan_fer2013", "dcgan", "fer2013 DCGAN+E (003)", "categorical", True, "plain", 64,
                            "no"),
    "cgan_faces": System("cgan_faces", "cgan", "label-interp. cGAN (000)", "continuous", False, "faces", 32, "yes"),
    "ganmut_affwild2": System("ganmut_affwild2", "ganmut", "GANmut (002)", "continuous", True, "plain", 80, "yes"),
}
# Training order with --jobs > 1: slowest last in this tuple.
TRAIN_ORDER = ("cgan_faces", "caae_affectnet", "dcgan_fer2013", "fexgan_ferg", "ganmut_affwild2")
# fer2013 DCGAN: the share of its budget spent on the encoder phase (its synthetic default: 1,000 of 2,800 + 1,000).
DCGAN_ENCODER_SHARE = 1000 / 3800

# The common classes: FACES' 6 emotions (every vocabulary has them), by canonical name, in FACES order.
COMMON = L.FACES
EMOTIONS = tuple(c for c in COMMON.canonical)
NEUTRAL = COMMON.index("neutral")
# Paper 002 VI.C: rho = 0.1 .. 1.0 (= conditioning.SMOOTHNESS_RHO; not imported: that module imports TensorFlow, and
# the CLI imports this module to build its parser).
SWEEP = tuple(round(0.1 * j, 1) for j in range(1, 11))
EVAL_SIZE, EVAL_CHANNELS = 48, 1  # the common format: fer2013's 48x48 grey
GALLERY = 6                      # identities per identification gallery (FERG has 6 characters)
TEST_ID_BASE = 2_000_000         # synthetic.py's held-out (test) identity range: no system trains on these
DEFAULT_BUDGET = 64_000
COLUMNS = ("va_ccc", "va_rmse", "va_sagr", "category_accuracy", "identity_top1", "frechet_distance", "smoothness",
           "budget_images")
COLUMN_TITLES = {"va_ccc": "VA CCC (v / a)", "va_rmse": "VA RMSE (v / a)", "va_sagr": "VA SAGR (v / a)",
                 "category_accuracy": "category acc.", "identity_top1": "identity top-1",
                 "frechet_distance": "FD", "smoothness": "smoothness", "budget_images": "budget (images)"}

SETTINGS = dict(
    default=dict(identities=12, intensities=(0.4, 0.7, 1.0), sweep_identities=6, evaluator_images=3000,
                 evaluator_steps=3000, evaluator_width=0.5, train_ids_plain=300, train_ids_faces=150),
    smoke=dict(identities=3, intensities=(0.5, 1.0), sweep_identities=2, evaluator_images=160,
               evaluator_steps=250, evaluator_width=0.25, train_ids_plain=20, train_ids_faces=10),
)


def log(msg: str) -> None:
    print(f"[compare] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------------------
# Requests and their controls
# --------------------------------------------------------------------------------------------------------------

def emotion_direction(category) -> tuple[np.ndarray, np.ndarray]:
    """Unit (cos, sin) of each FACES class's circumplex direction; (0, 0) for neutral."""
    cat = np.asarray(category, np.int64)
    deg = np.array([L.CIRCUMPLEX_DEGREES.get(c, np.nan) for c in COMMON.canonical])
    rad = np.radians(np.nan_to_num(deg[cat]))
    on = cat != NEUTRAL
    return np.where(on, np.cos(rad), 0.0), np.where(on, np.sin(rad), 0.0)


def requested_va(category, intensity) -> tuple[np.ndarray, np.ndarray]:
    """The requested (valence, arousal): ``intensity`` x the FACES class's direction (= labels.va_from_category at
    that radius, which refuses radii below NEUTRAL_RADIUS; sweeps start at 0.1); neutral is (0, 0)."""
    cx, cy = emotion_direction(category)
    t = np.asarray(intensity, np.float64)
    return (t * cx).astype(np.float32), (t * cy).astype(np.float32)


def controls(system: str, category, intensity) -> dict:
    """The inputs of ``system``'s SavedModel endpoint for requests (FACES class ``category``, intensity ``t``).

    Returns ``{"endpoint": name, **arrays}`` (one row per request; the image / z input is added by the caller)."""
    cat = np.atleast_1d(np.asarray(category, np.int64))
    t = np.broadcast_to(np.atleast_1d(np.asarray(intensity, np.float32)), cat.shape).astype(np.float32)
    t = np.where(cat == NEUTRAL, 0.0, t).astype(np.float32)
    names = [COMMON.canonical[c] for c in cat]
    if system == "caae":
        v, a = requested_va(cat, t)
        return {"endpoint": "edit", "valence": v, "arousal": a}
    if system == "ganmut":
        return {"endpoint": "edit_emotion", "emotion": np.array([L.GANMUT.index(n) for n in names], np.int32),
                "rho": t}
    if system in ("cgan", "fexgan"):
        voc = COMMON if system == "cgan" else L.FERG
        neutral = voc.index("neutral")
        vec = np.zeros((len(cat), len(voc)), np.float32)
        vec[np.arange(len(cat)), neutral] = 1.0 - t
        idx = np.array([voc.index(n) for n in names])
        vec[np.arange(len(cat)), idx] += t
        return {"endpoint": "generate", "label": vec} if system == "cgan" else {"endpoint": "transfer", "affect": vec}
    if system == "dcgan":
        if np.any((cat != NEUTRAL) & (t != 1.0)):
            raise ValueError("the fer2013 DCGAN takes a class index only: intensities other than 1 have no control")
        return {"endpoint": "transfer", "label": np.array([L.FER2013.index(n) for n in names], np.int32)}
    raise ValueError(f"unknown system {system!r}")


@dataclass
class Requests:
    """One system's requests: slot (index into the identity list), FACES class, intensity; ``full`` marks the
    t = 1 set (every class once per identity) that category accuracy, identity and FD use."""

    slot: np.ndarray
    category: np.ndarray
    intensity: np.ndarray

    @property
    def full(self) -> np.ndarray:
        return (self.category == NEUTRAL) | (self.intensity == 1.0)

    def __len__(self):
        return len(self.slot)


def make_requests(n_ids: int, intensities) -> Requests:
    """Per identity: neutral once, then every other FACES class at each intensity (sorted, 1.0 included)."""
    levels = sorted(set(float(t) for t in intensities) | {1.0})
    slot, cat, t = [], [], []
    for k in range(n_ids):
        slot.append(k), cat.append(NEUTRAL), t.append(0.0)
        for c in range(len(COMMON)):
            if c == NEUTRAL:
                continue
            for lv in levels:
                slot.append(k), cat.append(c), t.append(lv)
    return Requests(np.array(slot), np.array(cat), np.array(t, np.float32))


# --------------------------------------------------------------------------------------------------------------
# Domains: how each system's faces are rendered
# --------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Domain:
    size: int
    channels: int
    style: str   # plain / faces / ferg

    def identities(self, n: int) -> np.ndarray:
        """Held-out identities of the comparison (the FERG style has only its 6 characters)."""
        if self.style == "ferg":
            return np.arange(min(n, len(L.FERG_CHARACTERS)), dtype=np.int64)
        return TEST_ID_BASE + np.arange(n, dtype=np.int64)

    def styles(self, ids):
        if self.style == "ferg":
            return [L.FERG_CHARACTERS[int(i) % len(L.FERG_CHARACTERS)] for i in np.atleast_1d(ids)]
        return "faces" if self.style == "faces" else None

    def render(self, ids, valence, arousal, nuisance=False, seed=0) -> np.ndarray:
        from .data import synthetic

        ids = np.atleast_1d(np.asarray(ids, np.int64))
        if len(ids) == 0:
            return np.zeros((0, self.size, self.size, self.channels), np.float32)
        ids, v, a = np.broadcast_arrays(ids, np.asarray(valence, np.float32), np.asarray(arousal, np.float32))
        return synthetic.render_faces(ids, v, a, self.size, self.channels, seed=seed, nuisance=nuisance,
                                      style=self.styles(ids))


def to_common(images) -> np.ndarray:
    """Any [N, H, W, 1|3] batch in [-1, 1] -> the evaluation format [N, 48, 48, 1] (luminance, area resize)."""
    import tensorflow as tf

    x = np.asarray(images, np.float32)
    if x.shape[-1] == 3:
        x = x @ np.array([0.299, 0.587, 0.114], np.float32)[:, None]
    if x.shape[1:3] != (EVAL_SIZE, EVAL_SIZE):
        x = tf.image.resize(x, (EVAL_SIZE, EVAL_SIZE), method="area").numpy()
    return np.clip(x, -1.0, 1.0).astype(np.float32)


# --------------------------------------------------------------------------------------------------------------
# The shared evaluation network
# --------------------------------------------------------------------------------------------------------------

class Evaluator:
    """The measuring stick: outputs [valence, arousal, identity logits...]; ``fc1`` gives the features."""

    def __init__(self, model):
        self.model = model

    def measure(self, images) -> dict:
        from .eval import common

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

    from .eval import common

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


# --------------------------------------------------------------------------------------------------------------
# Measures
# --------------------------------------------------------------------------------------------------------------

def _normalise(f):
    return f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)


def identification(edit_feats, gallery_feats, slots, gallery_slots) -> float:
    """Top-1 identification: each edit's nearest (cosine) gallery face must be its own identity. ``gallery_feats``
    [N, G, F]: the truth renders of the G identities of the edit's group showing the same request."""
    e = _normalise(edit_feats)[:, None, :]
    g = gallery_feats / np.maximum(np.linalg.norm(gallery_feats, axis=2, keepdims=True), 1e-12)
    best = np.argmax(np.sum(e * g, axis=2), axis=1)
    return float(np.mean(gallery_slots[np.arange(len(slots)), best] == slots))


def va_scores(req_v, req_a, measured) -> dict:
    from .eval import metrics as M

    out = {}
    for i, (dim, req) in enumerate((("valence", req_v), ("arousal", req_a))):
        m = measured[:, i]
        nz = req != 0  # SAGR: a requested 0 (neutral) has no sign to agree with
        out[dim] = {"ccc": M.ccc(req, m), "rmse": M.rmse(req, m), "corr": M.corr(req, m),
                    "sagr": M.sagr(req[nz], m[nz]) if nz.any() else float("nan")}
    return out


def sweep_smoothness(measured_va, category, n_ids) -> dict:
    """Paper 002's score on the measured intensity (projection of the measured (v, a) on the requested emotion's
    direction), averaged over identities per step: one curve per emotion; emotions whose curve does not rise are
    left out of the score and counted."""
    from .eval import metrics as M

    cx, cy = emotion_direction(category)
    proj = measured_va[:, 0] * cx + measured_va[:, 1] * cy
    emotions = [c for c in range(len(COMMON)) if c != NEUTRAL]
    proj = proj.reshape(len(emotions), n_ids, len(SWEEP))
    curves = proj.mean(axis=1)
    per = {COMMON.names[c]: M.smoothness(curves[i]) for i, c in enumerate(emotions)}
    rising = [v for v in per.values() if math.isfinite(v)]
    return {"score": float(np.mean(rising)) if rising else float("nan"), "rising": len(rising),
            "emotions": len(emotions), "per_emotion": per,
            "curves": {COMMON.names[c]: [float(x) for x in curves[i]] for i, c in enumerate(emotions)}}


def sweep_requests(n_ids: int) -> Requests:
    emotions = [c for c in range(len(COMMON)) if c != NEUTRAL]
    slot, cat, t = [], [], []
    for c in emotions:
        for k in range(n_ids):
            for lv in SWEEP:
                slot.append(k), cat.append(c), t.append(lv)
    return Requests(np.array(slot), np.array(cat), np.array(t, np.float32))


# --------------------------------------------------------------------------------------------------------------
# Running a system's SavedModel
# --------------------------------------------------------------------------------------------------------------

class Runner:
    """A run's SavedModel plus what the protocol needs to drive it."""

    def __init__(self, spec: System, run_dir: Path, cfg: dict, seed: int):
        from .export import load_saved_model

        self.spec, self.run_dir, self.cfg, self.seed = spec, run_dir, cfg, seed
        c = cfg["config"]
        self.domain = Domain(int(c["image_size"]), int(c["channels"]), spec.style)
        self.model = load_saved_model(run_dir)
        self.z_dim = c.get("z_dim")

    def z(self, slot, category) -> np.ndarray:
        """cGAN latent vectors: one fixed z per identity slot (so a sweep or a row follows one face),
        z ~ U(-1, 1) as editing.run_mix draws them."""
        zs = np.random.default_rng([self.seed, 0x2A]).uniform(-1, 1, (int(np.max(slot)) + 1, self.z_dim))
        return zs[np.asarray(slot)].astype(np.float32)

    def apply(self, sources, req: Requests) -> np.ndarray:
        ctrl = controls(self.spec.system, req.category, req.intensity)
        endpoint = getattr(self.model, ctrl.pop("endpoint"))
        out = []
        for s in range(0, len(req), 128):
            sl = slice(s, s + 128)
            args = {k: v[sl] for k, v in ctrl.items()}
            if self.spec.system == "cgan":
                args["z"] = self.z(req.slot, req.category)[sl]
            else:
                args["image"] = sources[sl].astype(np.float32)
            out.append(endpoint(**args)["image"].numpy())
        return np.concatenate(out).astype(np.float32)


def evaluate_system(runner: Runner, ev: Evaluator, s: dict, seed: int) -> dict:
    """Every measure of one system (see the module docstring); also the pieces of the figure and the evaluation
    network's quality on this system's domain."""
    spec, dom = runner.spec, runner.domain
    ids = dom.identities(s["identities"])
    n = len(ids)
    levels = s["intensities"] if spec.control == "continuous" else (1.0,)
    req = make_requests(n, levels)
    rv, ra = requested_va(req.category, req.intensity)
    src = dom.render(ids, 0.0, 0.0)
    truth = dom.render(ids[req.slot], rv, ra)
    gen = runner.apply(src[req.slot], req)
    m_gen, m_truth = ev.measure(gen), ev.measure(truth)
    full = req.full
    res = {"requests": int(len(req)), "requests_t1": int(full.sum()), "identities": int(n),
           "domain": vars(dom)}

    if spec.control == "continuous":
        res["va"] = va_scores(rv, ra, m_gen["va"])
    cat_pred = L.category_from_va(m_gen["va"][:, 0], m_gen["va"][:, 1], COMMON)
    res["category_accuracy"] = float(np.mean(cat_pred[full] == req.category[full]))
    res["category_accuracy_per_class"] = {COMMON.names[c]: float(np.mean(cat_pred[full & (req.category == c)] == c))
                                          for c in range(len(COMMON))}

    # Identity: galleries of GALLERY identities (consecutive slots; the last group ends at the last identity),
    # truth renders of the same request.
    g = min(GALLERY, n)
    start = np.minimum((req.slot // g) * g, n - g)
    gallery_slots = np.stack([start + j for j in range(g)], 1)
    feat_truth = {}
    for i in range(len(req)):
        feat_truth[(int(req.slot[i]), int(req.category[i]), float(req.intensity[i]))] = m_truth["features"][i]
    gallery = np.stack([[feat_truth[(int(gs), int(req.category[i]), float(req.intensity[i]))]
                         for gs in gallery_slots[i]] for i in range(len(req))])
    res["identity_chance"] = 1.0 / g
    m_src = ev.measure(src)
    if spec.editing:
        res["identity_top1"] = identification(m_gen["features"][full], gallery[full], req.slot[full],
                                              gallery_slots[full])
        f_src = _normalise(m_src["features"])[req.slot]
        res["cosine_source_edit"] = float(np.mean(np.sum(f_src * _normalise(m_gen["features"]), 1)[full]))
        res["cosine_source_truth"] = float(np.mean(np.sum(f_src * _normalise(m_truth["features"]), 1)[full]))
    from .eval import metrics as M

    res["frechet_distance"] = M.frechet_distance(m_gen["features"][full], m_truth["features"][full])
    res["frechet_samples"], res["feature_dim"] = int(full.sum()), int(m_gen["features"].shape[1])

    # Smoothness sweeps.
    sw_ids = min(s["sweep_identities"], n)
    sw = sweep_requests(sw_ids)
    if spec.smoothness != "no":
        sw_gen = runner.apply(src[sw.slot], sw)
        res["smoothness"] = sweep_smoothness(ev.measure(sw_gen)["va"], sw.category, sw_ids)

    # The measuring stick on this domain: held-out identities rendered WITH nuisance (another pose, light, noise).
    noisy = dom.render(ids[req.slot], rv, ra, nuisance=True, seed=seed + 7)
    m_noisy = ev.measure(noisy)
    q = {"va": va_scores(rv, ra, m_noisy["va"])}
    q_cat = L.category_from_va(m_noisy["va"][:, 0], m_noisy["va"][:, 1], COMMON)
    q["category_accuracy"] = float(np.mean(q_cat[full] == req.category[full]))
    q["identity_top1"] = identification(m_noisy["features"][full], gallery[full], req.slot[full], gallery_slots[full])
    sw_truth = dom.render(ids[sw.slot], *requested_va(sw.category, sw.intensity))
    q["smoothness_truth"] = sweep_smoothness(ev.measure(sw_truth)["va"], sw.category, sw_ids)["score"]
    q["truth_va_ccc"] = {k: v["ccc"] for k, v in va_scores(rv, ra, m_truth["va"]).items()}
    t_cat = L.category_from_va(m_truth["va"][:, 0], m_truth["va"][:, 1], COMMON)
    q["truth_category_accuracy"] = float(np.mean(t_cat[full] == req.category[full]))
    res["evaluator_quality"] = q

    # Figure rows: slot 0, the six classes at t = 1 (source first).
    order = [int(np.flatnonzero(full & (req.slot == 0) & (req.category == c))[0]) for c in range(len(COMMON))]
    res["_figure"] = {"source": src[0], "truth": truth[order], "generated": gen[order]}
    return res


# --------------------------------------------------------------------------------------------------------------
# Training the runs
# --------------------------------------------------------------------------------------------------------------

def steps_for(recipe: str, budget: int) -> dict:
    """Recipe flags and steps for a budget of training images: steps = ceil(budget / images per step). The fer2013
    DCGAN's steps are split between its two phases as in its synthetic default."""
    spec = SYSTEMS[recipe]
    total = max(1, math.ceil(budget / spec.images_per_step))
    if recipe == "dcgan_fer2013":
        # At least one step per phase (the recipe reads --encoder-steps 0 as "its default").
        enc = max(1, round(total * DCGAN_ENCODER_SHARE))
        gan = max(1, total - enc)
        return {"flags": ["--steps", str(gan), "--encoder-steps", str(enc)], "steps": gan + enc}
    return {"flags": ["--steps", str(total)], "steps": total}


# Written into a run directory when compare trained it to the end: a later compare with the same --out reuses the
# run and the wall time it took, instead of re-running the recipe (which would only resume, re-export and time that).
WALL_FILE = "compare_wall.json"


def recipes_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "recipes"


def train_system(recipe: str, args, out: Path) -> dict:
    """Run one recipe in a subprocess (its own precision policy and memory): synthetic defaults, --skip-eval, the
    budget's steps (or --smoke). Returns the run directory and the wall time; raises RuntimeError on failure."""
    script = recipes_dir() / f"{recipe}.py"
    if not script.exists():
        raise RuntimeError(f"{script} not found: compare runs the recipes of a source checkout (pip install -e .)")
    name = f"compare-{'smoke' if args.smoke else f'b{args.budget_images}'}-seed{args.seed}"
    runs = out / "runs" / recipe
    cmd = [sys.executable, str(script), "--skip-eval", "--seed", str(args.seed), "--out", str(runs), "--run", name,
           "--reports", str(out / "runs" / "reports")]
    plan = {"flags": ["--smoke"], "steps": None} if args.smoke else steps_for(recipe, args.budget_images)
    cmd += plan["flags"]
    done = runs / name / WALL_FILE
    if done.exists() and (runs / name / paths.SAVED_MODEL / "saved_model.pb").exists():
        wall = json.loads(done.read_text())["wall_seconds"]
        log(f"{recipe}: already trained in {runs / name} ({wall:.0f}s then); not run again")
        return {"run_dir": runs / name, "wall_seconds": wall}
    log_path = out / "logs" / f"{recipe}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root] + [p for p in [os.environ.get("PYTHONPATH")] if p]),
               TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
    log(f"training {recipe}: {' '.join(plan['flags'])} (log {log_path})")
    t0 = time.monotonic()
    with open(log_path, "w") as fh:
        fh.write(" ".join(cmd) + "\n")
        fh.flush()
        rc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env).returncode
    wall = time.monotonic() - t0
    if rc != 0:
        tail = log_path.read_text()[-1500:]
        raise RuntimeError(f"{recipe} failed with exit status {rc} after {wall:.0f}s; see {log_path}:\n{tail}")
    log(f"trained {recipe} in {wall:.0f}s")
    (runs / name / WALL_FILE).write_text(json.dumps({"wall_seconds": wall, "command": cmd}))
    return {"run_dir": runs / name, "wall_seconds": wall}


def check_run(run_dir: Path) -> dict:
    """config.json of a run usable by compare; clear errors otherwise."""
    run_dir = Path(run_dir)
    cfg_path = run_dir / paths.CONFIG
    if not cfg_path.exists():
        raise ValueError(f"--reuse {run_dir}: not a run directory (no {paths.CONFIG})")
    if not (run_dir / paths.SAVED_MODEL / "saved_model.pb").exists():
        raise ValueError(f"--reuse {run_dir}: no {paths.SAVED_MODEL}/saved_model.pb; train the run to the end (the "
                         "recipe exports when training finishes)")
    cfg = json.loads(cfg_path.read_text())
    recipe = cfg.get("recipe")
    if recipe not in SYSTEMS:
        raise ValueError(f"--reuse {run_dir}: recipe {recipe!r} is not one of the compared systems "
                         f"({', '.join(SYSTEMS)})")
    return cfg


def budget_of(recipe: str, run_dir: Path, cfg: dict, wall: float | None) -> dict:
    """What a run actually trained: steps, images per step (from its config), images seen, seconds."""
    c = cfg["config"]
    metrics_path = run_dir / paths.METRICS
    m = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    step = int(m.get("step", 0))
    per = int(c.get("batch_size", SYSTEMS[recipe].images_per_step))
    if recipe == "ganmut_affwild2":
        per *= int(c.get("n_critic", 5))
    train_s = m.get("training", {}).get("seconds")
    if "training_phases" in m:
        train_s = sum(p.get("seconds", 0.0) for p in m["training_phases"].values() if isinstance(p, dict))
    replicas = int(cfg.get("runtime", {}).get("replicas", 1) or 1)
    return {"run_dir": str(run_dir), "steps": step, "images_per_step": per * replicas, "images": step * per * replicas,
            "training_seconds": None if train_s is None else round(float(train_s), 1),
            "wall_seconds": None if wall is None else round(float(wall), 1),
            "resolution": f"{c['image_size']}x{c['image_size']}x{c['channels']}",
            "precision": cfg.get("runtime", {}).get("precision"), "smoke": bool(cfg.get("args", {}).get("smoke"))}


# --------------------------------------------------------------------------------------------------------------
# The table, the figure and the report
# --------------------------------------------------------------------------------------------------------------

NA_REASONS = {
    "categorical": "categorical control (a class, no valence/arousal request): issue #9 scores categorical systems by "
                   "category accuracy",
    "generator": "not an editing model: it draws faces from z, so there is no input identity to preserve",
    "no_intensity": "no continuous control: the fer2013 DCGAN takes a class index, there is no intensity to sweep",
    "no_rise": "no sweep raises the measured intensity toward its emotion (paper 002's score is undefined)",
}


def table_cells(recipe: str, res: dict, budget: dict) -> dict:
    """{column: {"value": number or {"valence", "arousal"}} or {"na": reason key}} for one system."""
    spec = SYSTEMS[recipe]
    cells = {}
    if "va" in res:
        for col, key in (("va_ccc", "ccc"), ("va_rmse", "rmse"), ("va_sagr", "sagr")):
            cells[col] = {"value": {d: res["va"][d][key] for d in ("valence", "arousal")}}
    else:
        for col in ("va_ccc", "va_rmse", "va_sagr"):
            cells[col] = {"na": "categorical"}
    cells["category_accuracy"] = {"value": res["category_accuracy"]}
    cells["identity_top1"] = {"value": res["identity_top1"]} if spec.editing else {"na": "generator"}
    cells["frechet_distance"] = {"value": res["frechet_distance"]}
    if spec.smoothness == "no":
        cells["smoothness"] = {"na": "no_intensity"}
    elif not math.isfinite(res["smoothness"]["score"]):
        cells["smoothness"] = {"na": "no_rise"}
    else:
        cells["smoothness"] = {"value": res["smoothness"]["score"], "marked": spec.smoothness == "marked",
                               "rising": f"{res['smoothness']['rising']}/{res['smoothness']['emotions']}"}
    cells["budget_images"] = {"value": budget["images"]}
    return cells


def _fmt(x, digits=3) -> str:
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}"
    return "nan" if not math.isfinite(x) else f"{x:.{digits}g}" if abs(x) >= 100 else f"{x:.{digits}f}"


def cell_text(col: str, cell: dict, footnotes: list) -> str:
    if "na" in cell:
        key = cell["na"]
        if key not in footnotes:
            footnotes.append(key)
        return f"n/a [{footnotes.index(key) + 1}]"
    v = cell["value"]
    if isinstance(v, dict):
        return f"{_fmt(v['valence'])} / {_fmt(v['arousal'])}"
    text = _fmt(v) if col != "budget_images" else f"{int(v):,}"
    if col == "smoothness":
        text += f" ({cell['rising']} rise)" + (" †" if cell.get("marked") else "")
    return text


def save_figure(results: dict, path: Path) -> Path:
    """Rows: per system the truth (its domain) and the system; columns: the source, then the 6 classes at t = 1."""
    import tensorflow as tf

    from .eval import common

    rows, titles = [], []

    def display(x):
        x = np.asarray(x, np.float32)
        if x.shape[-1] == 1:
            x = np.repeat(x, 3, -1)
        return tf.image.resize(x, (64, 64), method="bilinear").numpy()

    for recipe, res in results.items():
        f = res["_figure"]
        gen_src = f["source"] if SYSTEMS[recipe].editing else np.zeros_like(f["source"])
        rows.append(display(np.concatenate([f["source"][None], f["truth"]])))
        titles.append(f"truth ({res['domain']['style']})")
        rows.append(display(np.concatenate([gen_src[None], f["generated"]])))
        titles.append(SYSTEMS[recipe].title.split(" (")[0].replace("label-interp. ", ""))
    fig = common.figure((1.3 * 7 + 2.0, 1.25 * len(rows) + 0.6))
    common.show_image_rows(fig, np.stack(rows), col_titles=["source"] + list(COMMON.names), row_titles=titles,
                           title="The same identities edited to each FACES emotion (t = 1); cGAN: one z per row")
    return common.save_figure(fig, path)


def write_report(out: Path, doc_json: dict) -> Path:
    from . import report

    systems = doc_json["systems"]
    footnotes: list = []
    header = ["system", "control"] + [COLUMN_TITLES[c] for c in COLUMNS]
    rows = [[SYSTEMS[r].title, SYSTEMS[r].control] + [cell_text(c, doc_json["table"][r][c], footnotes)
                                                        for c in COLUMNS] for r in systems]
    doc = report.Document()
    doc.heading(1, "Five systems compared on the synthetic faces' ground truth (issue #9)")
    smoke = "SMOKE RUN: a few steps per system, the numbers mean nothing. " if doc_json["smoke"] else ""
    doc.para(f"{doc_json['created']}; {smoke}budget {doc_json['budget_text']}. "
             f"Command: {' '.join(doc_json['command'])}")
    doc.heading(2, "Results")
    doc.table(header, rows)
    notes = [f"[{i + 1}] {NA_REASONS[k]}" for i, k in enumerate(footnotes)]
    if "fexgan_ferg" in systems:
        notes.append("† FExGAN's affect vector is categorical in its paper; its sweep interpolates the condition "
                     "vector (1-t) neutral + t emotion, which its decoder accepts (it was trained on intensities "
                     "0.5-1.5 of one-hot vectors), so its smoothness is shown but is not a control the paper claims.")
    fd_n = sorted({doc_json["results"][r]["frechet_samples"] for r in systems})
    fd_dim = doc_json["results"][systems[0]]["feature_dim"]
    notes.append(f"FD: {'/'.join(str(n) for n in fd_n)} faces per side in {fd_dim}-D features, so it is biased "
                 "upward by the small sample and only comparable between the rows of this table (each against the "
                 "truth of its own domain), not with published FID/FED values.")
    notes.append("Read identity top-1 together with category accuracy: an editor that returned its input unchanged "
                 "would keep the identity and score 1/6 on categories. The identification compares grey 48x48 "
                 "features, so outline, hair and tones already carry much of it, even in blurry edits.")
    notes.append("Higher is better for CCC, SAGR, accuracy and identity top-1; lower for RMSE, FD and smoothness "
                 "(a linear ramp scores 1/9, a single jump 1). 'k/5 rise': emotions whose measured-intensity curve "
                 "rises from t = 0.1 to 1.0; the score averages those.")
    doc.items(notes, "notes")
    doc.heading(2, "Budget")
    bud = doc_json["budget"]
    doc.table(["system", "recipe", "resolution", "precision", "steps", "images/step", "images seen", "training s",
               "wall s", "run"],
              [[SYSTEMS[r].title, r, bud[r]["resolution"], bud[r]["precision"], bud[r]["steps"],
                bud[r]["images_per_step"], f"{bud[r]['images']:,}",
                "-" if bud[r]["training_seconds"] is None else bud[r]["training_seconds"],
                "-" if bud[r]["wall_seconds"] is None else bud[r]["wall_seconds"], bud[r]["run_dir"]]
               for r in systems])
    doc.items(doc_json["budget_notes"])
    doc.heading(2, "The measuring stick: the shared evaluation network")
    ev = doc_json["evaluator"]
    doc.para(f"{ev['architecture']}; trained on {ev['training_images']:,} renders ({ev['identity_classes']} training "
             f"identities, nuisance on) in {ev['seconds']} s; on its training renders VA RMSE "
             f"{ev['train_va_rmse']:.3f}, identity accuracy {ev['train_identity_accuracy']:.3f}. Below, per "
             "system domain (held-out identities): 'perfect editor' = the truth renders of every request, i.e. the "
             "best any system can score here; 'with nuisance' = the same faces rendered with pose, light, blur and "
             "noise (how well the network generalises); smoothness of the renderer's own sweeps (ideal 1/9).")

    def quality_row(r):
        q, d = doc_json["results"][r]["evaluator_quality"], doc_json["results"][r]["domain"]
        return [f"{SYSTEMS[r].title} {d['size']}px {d['style']}",
                f"{_fmt(q['truth_va_ccc']['valence'])} / {_fmt(q['truth_va_ccc']['arousal'])}",
                _fmt(q["truth_category_accuracy"]),
                f"{_fmt(q['va']['valence']['ccc'])} / {_fmt(q['va']['arousal']['ccc'])}",
                _fmt(q["category_accuracy"]), _fmt(q["identity_top1"]),
                _fmt(doc_json["results"][r]["identity_chance"]), _fmt(q["smoothness_truth"])]

    doc.table(["domain (system)", "perfect editor: VA CCC (v / a)", "perfect editor: category acc.",
               "with nuisance: VA CCC (v / a)", "with nuisance: category acc.", "with nuisance: identity top-1",
               "chance", "truth smoothness"], [quality_row(r) for r in systems])
    doc.heading(2, "Details")
    det = []
    for r in systems:
        res = doc_json["results"][r]
        line = (f"{SYSTEMS[r].title}: {res['requests']} requests ({res['requests_t1']} at t = 1) on "
                f"{res['identities']} held-out identities; category accuracy per class "
                + ", ".join(f"{k} {_fmt(v, 2)}" for k, v in res["category_accuracy_per_class"].items()))
        if "cosine_source_edit" in res:
            line += (f"; feature cosine source-edit {_fmt(res['cosine_source_edit'])} (source-truth "
                     f"{_fmt(res['cosine_source_truth'])}); identification chance {_fmt(res['identity_chance'])}")
        if "smoothness" in res:
            line += "; smoothness per emotion " + ", ".join(f"{k} {_fmt(v, 2)}" for k, v in
                                                            res["smoothness"]["per_emotion"].items())
        det.append(line)
    doc.items(det)
    doc.heading(2, "Protocol")
    doc.items(doc_json["protocol"])
    doc.image("figures/edits.png", "Rows: the renderer's truth in each system's domain, then the system; columns: "
              "the source face and the six FACES emotions at full intensity")
    md = out / "compare.md"
    md.write_text(report.render_markdown(doc))
    (out / "compare.html").write_text(report.render_html(doc, "tfgan-emotion compare"))
    return md


PROTOCOL = [
    "Classes: the 6 FACES emotions (neutral, fear, anger, sadness, disgust, happiness), every vocabulary's common "
    "subset, mapped to each system's class index by canonical name (labels.Vocabulary.index).",
    "Request (identity, class c, intensity t): requested (valence, arousal) = t x the class's circumplex direction "
    "(labels.CIRCUMPLEX_DEGREES; what labels.va_from_category gives at radius t), neutral = (0, 0). Continuous "
    "systems get neutral plus the 5 emotions at each intensity of --intensities (1.0 always included); categorical "
    "systems neutral plus the 5 emotions at t = 1.",
    "Controls: CAAE edit(v, a); GANmut edit_emotion(c in AffectNet order, rho = t); label-interpolation cGAN "
    "generate(z, (1-t) onehot(neutral) + t onehot(c)) (paper 000's neutral -> emotion interpolation; its 5.1 VA "
    "targeting addresses one dimension at a time, so it is not used for 2-D requests), one fixed z ~ U(-1, 1) per "
    "identity slot; FExGAN transfer(x, (1-t) onehot(neutral) + t onehot(c)) in FERG order; fer2013 DCGAN "
    "transfer(x, c in fer2013 order).",
    "Source faces: held-out identities (synthetic.py's test id range, never trained on) rendered neutral in the "
    "canonical pose without nuisance, at each system's own size/channels and stand-in style (FExGAN: the FERG "
    "characters, which are the only 6 identities of its stand-in and are seen in its training; cGAN: the FACES "
    "studio style). Truth: the renderer's face of the same identity and style at the requested (valence, arousal).",
    "Shared evaluation network: every image converted to 48x48 grey (luminance, area resize); one CNN "
    "(eval/common.build_classifier) with a linear (valence, arousal) head and an identity head, trained with "
    "10 x MSE + cross-entropy on renders of all five domains (training identities, nuisance on, (valence, arousal) "
    "15% near neutral, else uniform angle, radius U(0.1, 1)); cached in OUT/evaluator and reused when its settings "
    "match.",
    "VA CCC / RMSE / SAGR: requested vs measured (the head's raw output) over all requests of a continuous system; "
    "SAGR leaves out requested zeros (neutral: no sign to agree with).",
    "Category accuracy: labels.category_from_va(measured, FACES) equals the requested class, on the t = 1 requests "
    "(every class once per identity), for every system.",
    f"Identity preservation: top-1 identification of each t = 1 edit among the truth renders of the {GALLERY} "
    "identities of its gallery (consecutive held-out identities) showing the same request, by cosine similarity of "
    "the evaluation network's fc1 features (chance = 1 / gallery size); editing systems only.",
    "FD: Frechet distance (eval/metrics.frechet_distance) between fc1 features of the generated faces and of the "
    "truth renders of the same t = 1 requests.",
    "Smoothness: paper 002's score (eval/metrics.smoothness) of the measured intensity toward the requested "
    "emotion (projection of the measured (v, a) on its direction), averaged over identities at t = 0.1 .. 1.0, one "
    "curve per emotion, averaged over the emotions whose curve rises (the count is shown).",
    "Budget: one number of training images for every system; steps = ceil(budget / images per step) with images "
    "per step = the recipe's default batch (GANmut: 5 critic batches of 16 = 80 per generator step; FExGAN: 32 "
    "source/target pairs; fer2013 DCGAN: its steps split between the cDCGAN and encoder phases as in its synthetic "
    "default, 1,000 of 3,800). Each recipe runs with its synthetic defaults plus --steps, --skip-eval, in its own "
    "process.",
]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--systems", nargs="+", metavar="RECIPE", help=f"systems to compare (default all five: "
                   f"{' '.join(SYSTEMS)}; with --reuse: the reused runs' systems)")
    p.add_argument("--budget-images", type=int, default=DEFAULT_BUDGET, help="training images every system sees "
                   f"(default {DEFAULT_BUDGET:,}: the five train in about 30 minutes on 2 CPU cores)")
    p.add_argument("--reuse", nargs="+", type=Path, metavar="RUN_DIR", help="existing runs (holding "
                   "export/saved_model) to evaluate instead of training their systems")
    p.add_argument("--smoke", action="store_true", help="recipes with --smoke (a few steps), a tiny evaluation "
                   "network and few requests: checks that everything runs; the numbers mean nothing")
    p.add_argument("--out", type=Path, help="output folder (default reports/compare/<timestamp>); runs, logs, the "
                   "evaluation network, compare.{json,md,html} and figures go there")
    p.add_argument("--identities", type=int, help="held-out identities per system (default 12, smoke 3; FExGAN "
                   "has 6 characters at most)")
    p.add_argument("--intensities", type=float, nargs="+", help="request intensities of continuous systems "
                   "(default 0.4 0.7 1.0; 1.0 is always added)")
    p.add_argument("--evaluator-steps", type=int, help="training steps of the shared evaluation network "
                   "(default 3000, smoke 250)")
    p.add_argument("--jobs", type=int, default=1, help="recipes trained at the same time (default 1; more "
                   "shares the CPU, so the measured seconds are not each system's own)")
    p.add_argument("--seed", type=int, default=0, help="seed of the recipes, requests and evaluation network")


def _resolve(args) -> tuple[list[str], dict, dict]:
    """(systems, {recipe: reused run dir}, settings); ValueError for bad flags."""
    reuse = {}
    for d in args.reuse or ():
        cfg = check_run(d)
        if cfg["recipe"] in reuse:
            raise ValueError(f"--reuse: two runs of {cfg['recipe']} ({reuse[cfg['recipe']]} and {d})")
        reuse[cfg["recipe"]] = Path(d)
    systems = list(args.systems) if args.systems else (list(reuse) if reuse else list(SYSTEMS))
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        raise ValueError(f"--systems: unknown {', '.join(unknown)}; choose from {', '.join(SYSTEMS)}")
    if len(set(systems)) != len(systems):
        raise ValueError("--systems: a system is named twice")
    extra = [r for r in reuse if r not in systems]
    if extra:
        raise ValueError(f"--reuse gives runs of {', '.join(extra)}, which --systems leaves out")
    systems = [s for s in SYSTEMS if s in systems]  # the table's fixed order
    if args.budget_images < 1:
        raise ValueError("--budget-images must be positive")
    if args.jobs < 1:
        raise ValueError("--jobs must be positive")
    s = dict(SETTINGS["smoke" if args.smoke else "default"])
    if args.identities is not None:
        if args.identities < 2:
            raise ValueError("--identities must be at least 2 (identification needs a gallery)")
        s["identities"] = args.identities
    if args.intensities:
        if any(not 0.2 <= t <= 1.0 for t in args.intensities):
            raise ValueError("--intensities must lie in [0.2, 1] (below 0.2 the renderer's faces are neutral)")
        s["intensities"] = tuple(args.intensities)
    if args.evaluator_steps is not None:
        if args.evaluator_steps < 1:
            raise ValueError("--evaluator-steps must be positive")
        s["evaluator_steps"] = args.evaluator_steps
    return systems, reuse, s


def _default_domain(recipe: str) -> Domain:
    return {"caae_affectnet": Domain(48, 3, "plain"), "fexgan_ferg": Domain(64, 3, "ferg"),
            "dcgan_fer2013": Domain(48, 1, "plain"), "cgan_faces": Domain(64, 3, "faces"),
            "ganmut_affwild2": Domain(64, 3, "plain")}[recipe]


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items() if not str(k).startswith("_")}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return float(x) if math.isfinite(float(x)) else None
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, Path):
        return str(x)
    return x


def main(args) -> int:
    try:
        systems, reuse, s = _resolve(args)
    except ValueError as e:
        print(f"tfgan-emotion compare: {e}", file=sys.stderr)
        return 2
    t_start = time.monotonic()
    out = Path(args.out) if args.out else Path(paths.DEFAULT_REPORTS) / "compare" / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    log(f"comparing {', '.join(systems)} in {out}")

    # 1. Runs: reuse or train (the recipes in subprocesses, --jobs at a time).
    runs, walls = {}, {}
    for r in systems:
        if r in reuse:
            runs[r], walls[r] = reuse[r], None
            log(f"reusing {r}: {reuse[r]}")
    # Longest first, so that with --jobs > 1 GANmut (slowest per image, and its crops) starts at once.
    todo = sorted((r for r in systems if r not in reuse), key=lambda r: -TRAIN_ORDER.index(r))
    try:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for r, res in zip(todo, pool.map(lambda r: train_system(r, args, out), todo)):
                runs[r], walls[r] = res["run_dir"], res["wall_seconds"]
    except RuntimeError as e:
        print(f"tfgan-emotion compare: {e}", file=sys.stderr)
        return 1
    cfgs = {r: check_run(runs[r]) for r in systems}
    budget = {r: budget_of(r, Path(runs[r]), cfgs[r], walls[r]) for r in systems}

    # 2. The shared evaluation network, trained on every domain (the compared runs' sizes, defaults for the rest).
    domains = []
    for r in SYSTEMS:
        d = (Domain(int(cfgs[r]["config"]["image_size"]), int(cfgs[r]["config"]["channels"]), SYSTEMS[r].style)
             if r in cfgs else _default_domain(r))
        if d not in domains:
            domains.append(d)
    import keras

    keras.utils.set_random_seed(args.seed)
    evaluator, ev_meta = train_evaluator(domains, s, args.seed, out / "evaluator")

    # 3. Every system through the protocol.
    results, table = {}, {}
    for r in systems:
        t0 = time.monotonic()
        log(f"evaluating {r} ({runs[r]})")
        runner = Runner(SYSTEMS[r], Path(runs[r]), cfgs[r], args.seed)
        results[r] = evaluate_system(runner, evaluator, s, args.seed)
        results[r]["seconds"] = round(time.monotonic() - t0, 1)
        table[r] = table_cells(r, results[r], budget[r])
        del runner
        log(f"evaluated {r} in {results[r]['seconds']}s: " + ", ".join(
            f"{c} {cell_text(c, table[r][c], [])}" for c in COLUMNS))

    # 4. Report.
    save_figure(results, out / "figures" / "edits.png")
    images = {budget[r]["images"] for r in systems}
    budget_text = ("--smoke (each recipe's smoke steps)" if args.smoke else
                   f"{args.budget_images:,} training images per system" + ("" if not reuse else
                                                                          " (reused runs: as they were trained)"))
    budget_notes = []
    if len(images) > 1:
        budget_notes.append("Images seen differ between systems where steps round up to whole batches, where runs "
                            "were reused, or under --smoke.")
    if args.jobs > 1:
        budget_notes.append(f"--jobs {args.jobs}: recipes trained concurrently, so wall and training seconds include "
                            "sharing the CPU.")
    budget_notes.append("Wall seconds: the whole recipe process (start-up, data, training, export); training seconds: "
                        "the training loop alone (both phases for the fer2013 DCGAN). Each recipe keeps its synthetic "
                        "defaults (size, width, precision) apart from the number of steps.")
    doc = {"created": time.strftime("%Y-%m-%d %H:%M:%S"), "command": [Path(sys.argv[0]).name] + sys.argv[1:],
           "smoke": bool(args.smoke), "budget_images": None if args.smoke else args.budget_images,
           "budget_text": budget_text, "systems": systems, "columns": list(COLUMNS),
           "column_titles": COLUMN_TITLES, "table": table, "na_reasons": NA_REASONS, "budget": budget,
           "budget_notes": budget_notes, "evaluator": {k: v for k, v in ev_meta.items() if k != "key"},
           "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in s.items()},
           "results": results, "protocol": PROTOCOL}
    doc["seconds"] = round(time.monotonic() - t_start, 1)
    md = write_report(out, doc)
    (out / "compare.json").write_text(json.dumps(_jsonable(doc), indent=2))
    log(f"done in {doc['seconds']:.0f}s")
    print(md)
    print(md.with_suffix(".html"))
    return 0
