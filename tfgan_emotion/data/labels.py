"""Label vocabularies of every dataset, in each dataset's own class order, and maps between them.

Every reader emits ``expression`` as an index into its dataset's vocabulary below (DESIGN.md "Contracts"). Cross-
dataset work (Aff-Wild2 merged with AffectNet for GANmut, the cross-model comparison) goes through the canonical
emotion names with :func:`remap`.

Sources: SPECS.md "Dataset formats"; AffectNet (Mollahosseini et al. 2017) class list; fer2013 (ICML 2013
challenge) order; FERG-DB folder names; FACES file-name codes (Ebner et al. 2010); Aff-Wild2 EXPR header; the
Fashion-MNIST and CIFAR-10 class lists.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The canonical emotion vocabulary used to map between datasets.
CANONICAL = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt")


@dataclass(frozen=True)
class Vocabulary:
    """The classes of one dataset: ``names`` as the dataset spells them, ``canonical`` as in :data:`CANONICAL`
    (``None`` for a class that is not an emotion, such as AffectNet's "no-face" or a CIFAR-10 class)."""

    dataset: str
    names: tuple[str, ...]
    canonical: tuple[str | None, ...]

    def __post_init__(self):
        if len(self.names) != len(self.canonical):
            raise ValueError(f"{self.dataset}: {len(self.names)} names but {len(self.canonical)} canonical names")

    def __len__(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        """Index of a class given by its dataset name or its canonical name (case-insensitive)."""
        key = name.strip().lower()
        for i, (n, c) in enumerate(zip(self.names, self.canonical)):
            if key == n.lower() or (c is not None and key == c):
                return i
        raise KeyError(f"{self.dataset} has no class {name!r}; classes: {', '.join(self.names)}")


AFFECTNET = Vocabulary(
    "affectnet",
    ("neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt", "none", "uncertain", "no-face"),
    ("neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt", None, None, None),
)
# The 8 emotion classes kept by default (SPECS: "classes 0-7 only").
AFFECTNET_EMOTIONS = 8
# GANmut uses AffectNet's first 7 classes (SPECS "GANmut").
GANMUT = Vocabulary("ganmut", AFFECTNET.names[:7], AFFECTNET.canonical[:7])

FER2013 = Vocabulary(
    "fer2013",
    ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"),
    ("anger", "disgust", "fear", "happy", "sad", "surprise", "neutral"),
)

FERG = Vocabulary(
    "ferg",
    ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"),
    ("anger", "disgust", "fear", "happy", "neutral", "sad", "surprise"),
)
FERG_CHARACTERS = ("aia", "bonnie", "jules", "malcolm", "mery", "ray")

# Paper 000 section 5 order; file-name codes a d f h n s (SPECS "Dataset formats").
FACES = Vocabulary(
    "faces",
    ("neutral", "fear", "anger", "sadness", "disgust", "happiness"),
    ("neutral", "fear", "anger", "sad", "disgust", "happy"),
)
FACES_CODES = {"n": "neutral", "f": "fear", "a": "anger", "s": "sadness", "d": "disgust", "h": "happiness"}

AFFWILD2 = Vocabulary(
    "affwild2",
    ("Neutral", "Anger", "Disgust", "Fear", "Happiness", "Sadness", "Surprise", "Other"),
    ("neutral", "anger", "disgust", "fear", "happy", "sad", "surprise", None),
)

FASHION_MNIST = Vocabulary(
    "fashion_mnist",
    ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    (None,) * 10,
)
CIFAR10 = Vocabulary(
    "cifar10",
    ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
    (None,) * 10,
)

VOCABULARIES = {v.dataset: v for v in (AFFECTNET, GANMUT, FER2013, FERG, FACES, AFFWILD2, FASHION_MNIST, CIFAR10)}


def vocabulary(dataset: str) -> Vocabulary:
    try:
        return VOCABULARIES[dataset]
    except KeyError:
        raise KeyError(f"unknown dataset {dataset!r}; known: {', '.join(sorted(VOCABULARIES))}") from None


def remap(src: Vocabulary, dst: Vocabulary) -> np.ndarray:
    """Lookup table ``t`` with ``t[i]`` = the index in ``dst`` of ``src`` class ``i`` (same canonical emotion),
    or -1 where ``dst`` has no such class (e.g. Aff-Wild2 "Other" -> AffectNet)."""
    table = np.full(len(src), -1, dtype=np.int64)
    for i, c in enumerate(src.canonical):
        if c is None:
            continue
        for j, d in enumerate(dst.canonical):
            if d == c:
                table[i] = j
                break
    return table


# --- Categories as binned continuous labels --------------------------------------------------------------------
# Paper 000 (section 1) treats categorical labels as "binned versions of continuous labels" on Russell's valence/
# arousal circumplex (paper 000 Fig. 9, after Russell and Barrett 1999). Each canonical emotion is a DIRECTION on
# that circle, in degrees counter-clockwise from the pleasure (+valence) axis, arousal up; its intensity is the
# distance from the origin, and points within NEUTRAL_RADIUS of the origin are neutral. A (valence, arousal) point
# belongs to the nearest direction of the vocabulary at hand.
#
# Placements: Russell (1980), "A circumplex model of affect", J. Pers. Soc. Psychol. 39(6), the circular scaling
# of 28 affect words (approximate angles as commonly tabulated from that paper): "happy" ~8, "astonished" ~70
# (our surprise), "angry" ~99, "afraid" ~117, "sad" ~208. Disgust and contempt are not among Russell's 28 words;
# their placements are ours: both unpleasant, disgust moderately aroused between "distressed" (~138) and
# "miserable" (~189), contempt less aroused, closer to the displeasure axis. Anger and fear lie only 18 degrees
# apart on the circle, which is why a renderer needs more than a linear map of (valence, arousal) to tell their
# faces apart (see data/synthetic/).
CIRCUMPLEX_DEGREES = {
    "happy": 8.0,
    "surprise": 70.0,
    "anger": 99.0,
    "fear": 117.0,
    "disgust": 145.0,
    "contempt": 170.0,
    "sad": 208.0,
}
NEUTRAL_RADIUS = 0.2


def _as_vocabulary(vocab: "Vocabulary | str") -> Vocabulary:
    return vocab if isinstance(vocab, Vocabulary) else vocabulary(vocab)


def _angle_difference(a, b):
    """Absolute circular difference in degrees, in [0, 180]."""
    return np.abs((np.asarray(a, dtype=np.float64) - b + 180.0) % 360.0 - 180.0)


def circumplex_table(vocab: "Vocabulary | str") -> tuple[np.ndarray, np.ndarray, int]:
    """The binning of one vocabulary: (class indices that are circumplex directions, their angles in degrees,
    index of the neutral class or -1). Classes that are not emotions (AffectNet "none", Aff-Wild2 "Other", ...)
    take no part."""
    voc = _as_vocabulary(vocab)
    idx, deg, neutral, seen = [], [], -1, set()
    for i, c in enumerate(voc.canonical):
        if c == "neutral" and neutral < 0:
            neutral = i
        elif c in CIRCUMPLEX_DEGREES and c not in seen:      # first class of each emotion
            seen.add(c)
            idx.append(i)
            deg.append(CIRCUMPLEX_DEGREES[c])
    if not idx:
        raise ValueError(f"{voc.dataset} has no emotion classes to place on the valence/arousal circumplex")
    return np.asarray(idx, dtype=np.int64), np.asarray(deg, dtype=np.float64), neutral


def bin_half_widths(vocab: "Vocabulary | str") -> dict[int, float]:
    """Half the angular gap (degrees) from each direction class to its nearest neighbour in the same vocabulary:
    a point within this angle of a class direction (and outside the neutral disc) is binned to that class."""
    idx, deg, _ = circumplex_table(vocab)
    out = {}
    for i, d in zip(idx, deg):
        others = deg[deg != d]
        out[int(i)] = 180.0 if others.size == 0 else float(_angle_difference(others, d).min() / 2.0)
    return out


def category_from_va(valence, arousal, vocab: "Vocabulary | str", neutral_radius: float = NEUTRAL_RADIUS) -> np.ndarray:
    """Bin continuous labels into ``vocab``'s classes: the class whose circumplex direction
    (:data:`CIRCUMPLEX_DEGREES`) is nearest in angle, or the neutral class where ``hypot(valence, arousal) <
    neutral_radius`` (when the vocabulary has one). Returns an int64 array of class indices, broadcast shape."""
    idx, deg, neutral = circumplex_table(vocab)
    v, a = np.broadcast_arrays(np.asarray(valence, dtype=np.float64), np.asarray(arousal, dtype=np.float64))
    theta = np.degrees(np.arctan2(a, v)) % 360.0
    nearest = np.argmin(_angle_difference(theta[..., None], deg), axis=-1)
    out = idx[nearest]
    if neutral >= 0:
        out = np.where(np.hypot(v, a) < neutral_radius, neutral, out)
    return out.astype(np.int64)


def va_from_category(category, vocab: "Vocabulary | str", intensity=1.0, rng: np.random.Generator | None = None,
                     angle_jitter=0.0, neutral_jitter: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(valence, arousal) float32 arrays for class indices ``category`` of ``vocab``: the class direction at radius
    ``intensity`` (scalar or per item). With ``rng``: the angle moves uniformly by up to ``angle_jitter`` degrees
    (scalar or per item),
    capped at 95% of the class's bin half-width so that :func:`category_from_va` gives the class back; neutral
    items fall uniformly in a disc of radius ``min(neutral_jitter, 0.95 * NEUTRAL_RADIUS)`` (the origin without
    ``rng``). Emotion intensities must be at least NEUTRAL_RADIUS where the vocabulary has a neutral class."""
    voc = _as_vocabulary(vocab)
    idx, deg, neutral = circumplex_table(voc)
    half = bin_half_widths(voc)
    cat = np.asarray(category, dtype=np.int64)
    r = np.broadcast_to(np.asarray(intensity, dtype=np.float64), cat.shape).copy()
    lookup_deg = np.full(len(voc), np.nan)
    lookup_deg[idx] = deg
    lookup_half = np.zeros(len(voc))
    for i, h in half.items():
        lookup_half[i] = h
    bad = (cat < 0) | (cat >= len(voc))
    if bad.any():
        raise ValueError(f"{voc.dataset}: class index out of range: {cat[bad][:5].tolist()}")
    is_neutral = cat == neutral
    unplaced = ~is_neutral & np.isnan(lookup_deg[cat])
    if unplaced.any():
        names = sorted({voc.names[i] for i in cat[unplaced].tolist()})
        raise ValueError(f"{voc.dataset}: classes {names} have no place on the valence/arousal circumplex")
    if neutral >= 0 and np.any(r[~is_neutral] < NEUTRAL_RADIUS):
        raise ValueError(f"emotion intensity must be >= NEUTRAL_RADIUS={NEUTRAL_RADIUS} (smaller is neutral)")
    theta = np.where(is_neutral, 0.0, lookup_deg[np.where(is_neutral, idx[0], cat)])
    if rng is not None:
        cap = np.minimum(angle_jitter, 0.95 * lookup_half[cat])
        theta = theta + rng.uniform(-1.0, 1.0, size=cat.shape) * cap
        n_r = min(neutral_jitter, 0.95 * NEUTRAL_RADIUS) * np.sqrt(rng.uniform(size=cat.shape))
        n_theta = rng.uniform(0.0, 360.0, size=cat.shape)
        theta = np.where(is_neutral, n_theta, theta)
        r = np.where(is_neutral, n_r, r)
    else:
        r = np.where(is_neutral, 0.0, r)
    rad = np.radians(theta)
    return (r * np.cos(rad)).astype(np.float32), (r * np.sin(rad)).astype(np.float32)
