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
"""
from __future__ import annotations

import numpy as np

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
