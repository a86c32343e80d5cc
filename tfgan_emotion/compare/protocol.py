"""The comparison's protocol: which systems take part (every registered system that declares a CompareSpec), the
common classes and the requests, each system's controls (its System.request), how each system's faces are
rendered (Domain), and the measures computed on the evaluation network's outputs."""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np

from .. import systems as _systems
from ..data import labels as L
from ..data.synthetic.standins import _SPLIT_ID_BASE
from ..systems.common import circumplex_va


def compared() -> dict:
    """{recipe: System} of the systems the comparison covers, in the registry's order."""
    return {s.name: s for s in _systems.all_systems() if s.compare is not None}


SYSTEMS = compared()

# The common classes: FACES' 6 emotions (every vocabulary has them), by canonical name, in FACES order.
COMMON = L.FACES
NEUTRAL = COMMON.index("neutral")
# Paper 002 VI.C: rho = 0.1 .. 1.0 (= conditioning.SMOOTHNESS_RHO; not imported: that module imports TensorFlow, and
# the CLI imports this module to build its parser).
SWEEP = tuple(round(0.1 * j, 1) for j in range(1, 11))
EVAL_SIZE, EVAL_CHANNELS = 48, 1  # the common format: fer2013's 48x48 grey
GALLERY = 6                      # identities per identification gallery (FERG has 6 characters)
TEST_ID_BASE = _SPLIT_ID_BASE["test"]  # the stand-ins' held-out (test) identity range: no system trains on these
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
    names = [COMMON.canonical[c] for c in np.atleast_1d(np.asarray(category, np.int64))]
    return circumplex_va(names, intensity)


def controls(recipe: str, category, intensity, config: dict | None = None) -> dict:
    """The inputs of a system's SavedModel endpoint for requests (FACES class ``category``, intensity ``t``), from
    its :meth:`System.request`. Returns ``{"endpoint": name, **arrays}`` (one row per request; the image / z input is
    added by the caller)."""
    cat = np.atleast_1d(np.asarray(category, np.int64))
    t = np.broadcast_to(np.atleast_1d(np.asarray(intensity, np.float32)), cat.shape).astype(np.float32)
    names = [COMMON.canonical[c] for c in cat]
    endpoint, inputs = _systems.get(recipe).request(config or {}, names, t, mode="edit")
    return {"endpoint": endpoint, **inputs}


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
        from ..data import synthetic

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
    from ..eval import metrics as M

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
    from ..eval import metrics as M

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

