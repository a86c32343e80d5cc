"""Condition vectors between discrete classes (paper 000 sections 3.2 and 5.1; SPECS "Label-interpolation cGAN").

A cGAN trained on one-hot labels (paper eq. 1-2: v in {0, 1}^n, sum(v) = 1) is fed non-binary labels after
training (eq. 3: v in [0, 1]^n). The paper keeps sum(v) = 1 ("interpolation is done by subtracting some portion e
from the input representative of one class and adding it to another class"):

- :func:`interpolate`: class i -> class j in equal steps (paper: e = 0.1, so 11 points including both ends).
- :func:`neutral_to_emotion`: for faces, v_neutral + v_emotion = 1 (paper eq. 4).
- :func:`va_target`: a wanted degree of valence or arousal (paper 5.1): "use the one-hot element of the emotion
  that maximizes the specific value, for example Happy when it comes to valence, or Angry for arousal, and then
  decrease it to the desired degree. At the same time, we increase the one-hot element related to Neutral by the
  same amount". The emotions' (valence, arousal) positions are the circumplex directions of
  ``data.labels.CIRCUMPLEX_DEGREES`` at radius 1. "The desired degree" (ours): the emotion's weight w is chosen so
  that the LINEAR path from neutral (0, 0) to the emotion's position reaches the wanted value, w = value /
  coordinate, clipped to [0, 1]; negative values use the emotion that minimises the dimension (the paper only
  treats 0 <= value <= 1).
- :func:`parse_mix`: ``"neutral=0.3,happiness=0.7"`` -> a vector (sum must be 1).

GANmut's polar conditional space (paper 002 sections III-IV.A; SPECS "GANmut", linear conditional space; the
learnable directions themselves are :class:`nets.layers.EmotionDirections`):

- :func:`sample_rho`: rho ~ U[0.2, 1) for an emotion, U[0, 0.2) for neutral (``NEUTRAL_RHO``).
- :func:`training_codes`: z = rho * direction + N(0, 0.075^2) noise, except the batch's first
  ``RANDOM_ANGLE_SAMPLES`` (5) samples, which take z = rho (cos phi, sin phi) at a random angle phi, no noise.
- :func:`polar_code` (inference): z = rho (cos theta, sin theta); :func:`direction_angles` reads the learned
  directions as angles.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from .data import labels as label_sets

STEPS = 11   # paper 4.4: e = 0.1 -> 10 interpolation steps + the source


def _one_hot(k: int, n: int) -> np.ndarray:
    if not 0 <= int(k) < n:
        raise ValueError(f"class {k} outside 0..{n - 1}")
    v = np.zeros(n, np.float32)
    v[int(k)] = 1.0
    return v


def interpolate(source: int, target: int, n_classes: int, steps: int = STEPS) -> np.ndarray:
    """[steps, n_classes]: row k moves e_k = k / (steps - 1) from ``source`` to ``target``; every row sums to 1,
    the first row is one-hot(source) and the last one-hot(target) exactly."""
    if steps < 2:
        raise ValueError(f"steps must be >= 2, got {steps}")
    e = np.linspace(0.0, 1.0, steps, dtype=np.float64)[:, None]
    out = (1.0 - e) * _one_hot(source, n_classes) + e * _one_hot(target, n_classes)
    out[0], out[-1] = _one_hot(source, n_classes), _one_hot(target, n_classes)
    return out.astype(np.float32)


def neutral_to_emotion(emotion: int, n_classes: int, neutral: int = 0, steps: int = STEPS) -> np.ndarray:
    """[steps, n_classes] from neutral to ``emotion`` with v_neutral + v_emotion = 1 (paper eq. 4)."""
    if emotion == neutral:
        raise ValueError("emotion must differ from neutral")
    return interpolate(neutral, emotion, n_classes, steps)


def emotion_va(vocab: label_sets.Vocabulary) -> dict[str, tuple[float, float]]:
    """(valence, arousal) at radius 1 of every non-neutral class of ``vocab`` (circumplex directions)."""
    out = {}
    for name, canon in zip(vocab.names, vocab.canonical):
        if canon in label_sets.CIRCUMPLEX_DEGREES:
            rad = np.radians(label_sets.CIRCUMPLEX_DEGREES[canon])
            out[name] = (float(np.cos(rad)), float(np.sin(rad)))
    return out


def va_target(dimension: str, value: float, vocab: label_sets.Vocabulary = label_sets.FACES,
              neutral: str = "neutral") -> tuple[np.ndarray, str, float]:
    """(condition vector, chosen emotion, its weight) for a wanted ``value`` of ``dimension`` ("valence" or
    "arousal"), value in [-1, 1] (paper 5.1; module docstring)."""
    if dimension not in ("valence", "arousal"):
        raise ValueError(f"dimension must be 'valence' or 'arousal', got {dimension!r}")
    if not -1.0 <= value <= 1.0:
        raise ValueError(f"value must be in [-1, 1], got {value}")
    d = 0 if dimension == "valence" else 1
    va = emotion_va(vocab)
    if not va:
        raise ValueError(f"vocabulary {vocab.dataset} has no emotion with a circumplex position")
    pick = max if value >= 0 else min
    emotion = pick(va, key=lambda k: va[k][d])
    coord = va[emotion][d]
    weight = float(np.clip(value / coord, 0.0, 1.0)) if coord != 0 else 0.0
    v = np.zeros(len(vocab.names), np.float32)
    v[vocab.names.index(emotion)] = weight
    v[vocab.names.index(neutral)] = 1.0 - weight
    return v, emotion, weight


def parse_mix(text: str, names) -> np.ndarray:
    """``"neutral=0.3,happiness=0.7"`` -> a condition vector over ``names``; the weights must sum to 1."""
    names = tuple(names)
    v = np.zeros(len(names), np.float32)
    for part in str(text).split(","):
        if "=" not in part:
            raise ValueError(f"--mix part {part!r}: write NAME=WEIGHT, e.g. neutral=0.3,happiness=0.7")
        name, weight = (t.strip() for t in part.split("=", 1))
        if name not in names:
            raise ValueError(f"--mix: {name!r} is not a class of this model; classes: {', '.join(names)}")
        try:
            v[names.index(name)] += float(weight)
        except ValueError:
            raise ValueError(f"--mix: weight {weight!r} of {name} is not a number") from None
    if np.any(v < 0) or not np.isclose(v.sum(), 1.0, atol=1e-4):
        raise ValueError(f"--mix weights must be >= 0 and sum to 1 (paper 000 eq. 2), got {v.sum():g}")
    return v


# GANmut polar space -------------------------------------------------------------------------------------------------
NEUTRAL_RHO = 0.2            # SPECS: rho ~ U[0.2, 1) for emotions, [0, 0.2) for neutral
CODE_NOISE_STD = 0.075       # SPECS: + N(0, 0.075^2) noise in training
RANDOM_ANGLE_SAMPLES = 5     # SPECS: a few samples per batch (5) take a random angle in [0, 2 pi)
SMOOTHNESS_RHO = tuple(round(0.1 * j, 1) for j in range(1, 11))   # paper 002 VI.C: rho_j = 0.1 j, j = 1..10


def sample_rho(label, u):
    """rho from a uniform draw ``u`` in [0, 1): ``NEUTRAL_RHO + (1 - NEUTRAL_RHO) u`` for an emotion, ``NEUTRAL_RHO
    u`` for neutral (class 0). Tensors or arrays of the same shape."""
    u = tf.convert_to_tensor(u, tf.float32)
    neutral = tf.equal(tf.cast(label, tf.int32), 0)
    return tf.where(neutral, NEUTRAL_RHO * u, NEUTRAL_RHO + (1.0 - NEUTRAL_RHO) * u)


def polar_code(theta, rho):
    """z = rho (cos theta, sin theta): ``[..., 2]`` (theta in radians)."""
    theta = tf.convert_to_tensor(theta, tf.float32)
    rho = tf.convert_to_tensor(rho, tf.float32)
    return tf.stack([rho * tf.cos(theta), rho * tf.sin(theta)], axis=-1)


def random_angle_mask(batch_size, n_random: int = RANDOM_ANGLE_SAMPLES):
    """[B] booleans: True for the first ``n_random`` samples of the batch (``n_random`` may be a tensor). Under
    ``tf.distribute`` ``batch_size`` is this replica's share and the samples are the first of the whole (global)
    batch, so one replica or many pick the same ones."""
    from .training import global_rows

    return global_rows(batch_size) < tf.cast(n_random, tf.int32)


def training_codes(directions, rho, noise, phi, random_angle):
    """The conditional codes of one training batch (SPECS "GANmut"): ``directions`` [B, 2] (unit, zero for
    neutral), ``rho`` [B], ``noise`` [B, 2] (already scaled to std ``CODE_NOISE_STD``), ``phi`` [B] random angles,
    ``random_angle`` [B] booleans. z = rho * direction + noise, or rho (cos phi, sin phi) where ``random_angle``."""
    rho = tf.convert_to_tensor(rho, tf.float32)
    along = directions * rho[:, None] + noise
    return tf.where(random_angle[:, None], polar_code(phi, rho), along)


def direction_angles(unit_directions, names=None) -> dict:
    """The learned directions (n_emotions x 2 unit vectors, emotion 1.. in order) as ``{name: degrees}``, angles
    in [0, 360). ``names``: the emotion names (default ``emotion1..``)."""
    u = np.asarray(unit_directions, np.float64)
    deg = np.degrees(np.arctan2(u[:, 1], u[:, 0])) % 360.0
    names = list(names) if names is not None else [f"emotion{k + 1}" for k in range(len(u))]
    if len(names) != len(u):
        raise ValueError(f"{len(names)} names for {len(u)} directions")
    return {n: float(d) for n, d in zip(names, deg)}
