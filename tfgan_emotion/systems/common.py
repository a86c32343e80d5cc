"""Small helpers the system modules share: emotion requests as endpoint inputs, edit-flag parsing, picture sheets."""
from __future__ import annotations

import numpy as np

from ..data import labels as L


def keys(ds, names):
    """Keep only ``names`` of a dataset of dicts."""
    return ds.map(lambda e: {k: e[k] for k in names})


def expression_classifier(size: int, channels: int, n_classes: int) -> list:
    """The evaluation network of the systems that read transfers with a trained expression classifier (bench)."""
    from ..eval.common import build_classifier

    return [("expression_classifier", build_classifier(size, channels, n_classes))]


def to_uint8(x) -> np.ndarray:
    """Images in [-1, 1] -> uint8 (a single channel is dropped, as Pillow wants grey images 2-D)."""
    x = np.clip((np.asarray(x, np.float32) + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)
    return x[..., 0] if x.shape[-1] == 1 else x


def grid_sheet(images, ncol: int) -> np.ndarray:
    from ..training import image_grid

    return image_grid(np.asarray(images), ncol)


def direction(canonical: str) -> tuple[float, float]:
    """Unit (valence, arousal) direction of an emotion on the circumplex (labels.CIRCUMPLEX_DEGREES); (0, 0) for
    neutral."""
    if canonical == "neutral":
        return 0.0, 0.0
    if canonical not in L.CIRCUMPLEX_DEGREES:
        raise ValueError(f"{canonical!r} has no place on the circumplex; choose from neutral, "
                         f"{', '.join(L.CIRCUMPLEX_DEGREES)}")
    rad = np.radians(L.CIRCUMPLEX_DEGREES[canonical])
    return float(np.cos(rad)), float(np.sin(rad))


def intensities(emotions, intensity) -> np.ndarray:
    """One intensity per request (0 for neutral)."""
    t = np.broadcast_to(np.asarray(intensity, np.float32), (len(emotions),)).astype(np.float32)
    return np.where(np.array([e == "neutral" for e in emotions], bool), 0.0, t).astype(np.float32)


def circumplex_va(emotions, intensity) -> tuple[np.ndarray, np.ndarray]:
    """(valence, arousal) = intensity x each emotion's circumplex direction (computed in float64, returned as
    float32); neutral is (0, 0) whatever its intensity."""
    t = np.broadcast_to(np.asarray(intensity, np.float64), (len(emotions),))
    d = np.array([direction(e) for e in emotions], np.float64).reshape(-1, 2)
    return (t * d[:, 0]).astype(np.float32), (t * d[:, 1]).astype(np.float32)


def neutral_mix(vocabulary, emotions, intensity) -> np.ndarray:
    """Label vectors (1 - t) onehot(neutral) + t onehot(emotion) in ``vocabulary`` (t = 1: the plain one-hot)."""
    t = intensities(emotions, intensity)
    n = len(emotions)
    vec = np.zeros((n, len(vocabulary)), np.float32)
    vec[np.arange(n), vocabulary.index("neutral")] = 1.0 - t
    vec[np.arange(n), [vocabulary.index(e) for e in emotions]] += t
    return vec


def parse_affect(text: str, names) -> np.ndarray:
    """An affect by name (``joy``), as ``name+name`` (both on), or as a comma-separated vector of len(names)."""
    names = tuple(n.lower() for n in names)
    text = str(text).strip().lower()
    if "," in text:
        try:
            v = np.asarray([float(t) for t in text.split(",")], np.float32)
        except ValueError:
            raise ValueError(f"--affect {text!r}: a vector must be {len(names)} comma-separated numbers") from None
        if len(v) != len(names):
            raise ValueError(f"--affect vector has {len(v)} values; this model needs {len(names)} "
                             f"({', '.join(names)})")
        return v
    v = np.zeros(len(names), np.float32)
    for part in text.split("+"):
        if part not in names:
            raise ValueError(f"--affect {part!r} is not an affect of this model; choose from {', '.join(names)}, "
                             "join two with '+', or give a comma-separated vector")
        v[names.index(part)] = 1.0
    return v


def parse_label(text: str, names, flag: str = "--affect") -> int:
    """One class by name (``happy``) or index (``3``)."""
    names = tuple(n.lower() for n in names)
    text = str(text).strip().lower()
    if text.isdigit() and int(text) < len(names):
        return int(text)
    if text not in names:
        raise ValueError(f"{flag} {text!r} is not a label of this model; choose from {', '.join(names)} "
                         f"(or an index 0-{len(names) - 1})")
    return names.index(text)
