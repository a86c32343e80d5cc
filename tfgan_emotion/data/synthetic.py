"""Built-in synthetic faces: a procedural face renderer with known ground truth, and stand-ins for every dataset.

DESIGN.md ("Contracts"): without any dataset on disk every recipe still runs on these faces. They are NOT real
faces and NOT samples of the real datasets: they are cartoon faces drawn from smooth masks (head ellipse, hair,
eyes, irises, brows, nose, mouth, shirt, background), rendered in numpy for a whole batch at once. They exist so
that the pipelines, losses and evaluation protocols can be exercised end to end, and so that a model's ability to
learn expression and identity can be measured against exact labels. Numbers obtained on them say nothing about
the papers' results.

Identity
    :func:`identity_params` maps an integer id to face shape, skin tone, hair colour and style, eye spacing and
    colour, brows, nose, mouth, ears, occasional beard or glasses, shirt and background, through a counter-based
    hash: the same id is the same person everywhere, any int64 is a valid id, and ids differ in about two dozen
    continuous parameters plus discrete ones (7 hair styles, palettes of skin, hair and iris colours, beard,
    glasses): thousands of visually distinct people (a test checks 600 pairwise-distinct ones). ``style``
    overrides it with a preset: the six FERG-like characters (:data:`CHARACTER_STYLES`, flat-shaded, outlined,
    with strongly distinct head shapes, colours and proportions) or ``"faces"`` (the FACES-like studio look:
    uniform grey background and shirt, no glasses).

Expression: a smooth function of (valence, arousal), :func:`expression_features`
    Linear part, after paper 001 section IV.D (what the CAAE heat maps show valence and arousal change): high
    valence pulls the mouth corners up, opens the mouth into a grin that shows the upper teeth (a bright band, as
    in most happy faces of AffectNet; the dark open mouth belongs to arousal), raises the upper eyelid, and forms
    a wrinkle under the eyes and smile lines; low valence raises the inner brows and the lower eyelids and turns the mouth corners
    down; high arousal raises the upper lip, widens the eyes, raises and arches the brows and opens the mouth; low
    arousal narrows the eyes, closes the mouth and lowers the brows a little.
    Angular part (ours): (valence, arousal) alone cannot tell anger from fear, 18 degrees apart on Russell's
    circumplex (labels.CIRCUMPLEX_DEGREES) yet with opposite brows. Each emotion direction carries a FACS-style
    accent (action units in brackets) that is added with weight ``r * w_k(theta)``, ``r`` = distance from the
    origin: anger lowers and draws the brows together with the inner ends down (AU4) and presses the lips
    (AU23/24); fear raises the inner brows (AU1+2+4), opens the eyes wide (AU5) and stretches the lips (AU20);
    surprise raises the brows and drops the jaw into a round mouth (AU1+2+5+26); disgust wrinkles the nose and
    raises the upper lip (AU9+10); contempt raises ONE mouth corner (unilateral AU14); sadness adds the oblique
    brow and lip-corner depressor (AU1+15); happiness the cheek raiser (AU6+12); "sleepy" (Russell ~272 degrees)
    droops the lids. The weights ``w_k`` form a partition of unity over these directions, flat near each direction
    and passing to the next through a C2 smootherstep around the bin boundary, so the face is a smooth function
    of (valence, arousal) away from the origin and continuous at it (every accent is scaled by ``r``).
    Legibility (ours): the moves are exaggerated, cartoon-like, and given in absolute face units (not relative to
    the person's features) so that they read the same on every identity down to 48x48 pixels; (valence, arousal)
    are scaled by ``1.5 - 0.5 r`` before use, so mild expressions (r ~ 0.3) are still clearly not neutral.

Categories are binned continuous labels (paper 000 section 1): ``expression`` is always
``labels.category_from_va(valence, arousal, vocabulary)`` of the rendered point (nearest direction, neutral
within radius 0.2), except for the 10-class stand-ins whose classes are the prototypes below.

Nuisance (``nuisance=True``): pose jitter (shift up to 2.5% of the frame width, rotation +-6 degrees, scale
+-5%), a linear lighting gradient (up to +-22% across the frame), brightness (+-0.06) and contrast (+-10%)
jitter, Gaussian defocus blur (sigma up to ``MAX_BLUR`` = 2.5% of the frame width; real face crops differ in focus
and in the resolution they were upscaled from) and Gaussian pixel noise (sigma 0.01-0.03 of the intensity range), so
models cannot memorise pixels and do not depend on perfectly sharp edges.
Determinism: :func:`render_faces` gives the same pixels for the same arguments (the nuisance of face i depends
on ``seed`` and on i); :func:`make_arrays` / :func:`make_dataset` give the same examples for the same
(kind, split, n, size, seed) (a different ``n`` draws a different sample, not a prefix).

Stand-ins (:data:`STANDINS`, :func:`make_arrays`, :func:`make_dataset`): each has its dataset's vocabulary,
size, channels and label fields, and validation/test splits use identities held out from training (except
"ferg", whose six characters appear in every split, like FExGAN's split of FERG-DB images).

- "affectnet": 96x96 RGB, the 8 AffectNet emotion classes plus valence/arousal; classes balanced (the real set is
  heavily imbalanced), emotion intensity U(0.3, 1), neutral within radius 0.12. No "none/uncertain/no-face".
- "fer2013": 48x48 grey, fer2013's 7 classes in fer2013 order; no valence/arousal (the real set has none).
- "ferg": 6 cartoon characters x 7 FERG expressions, 128x128 RGB, strong expressions (intensity U(0.7, 1)),
  several images per character and expression; fields ``character`` (index into labels.FERG_CHARACTERS) and
  ``identity`` (= character). Looks nothing like FERG-DB's 3D-rendered characters beyond "same six characters".
- "faces": the 6 FACES emotions, every identity showing each emotion twice (sets a, b), posed at high intensity,
  uniform grey background and shirt, no lighting gradient and 40% of the pose jitter (studio photographs),
  256x256 RGB (the real images are 2835x3543 photos of 171 people).
- "affwild2": videos of 64 frames, 112x112 RGB (Aff-Wild2's cropped-aligned size); valence/arousal drift smoothly
  along a random low-frequency path, head pose drifts smoothly, and 0-2 runs of 3-8 frames per video (about a
  tenth of the frames) carry expression -1 ("ignore"); fields ``video`` and ``frame`` (0-based position in the
  video's label file, i.e. file number - 1). Valence/arousal are given for every frame; lighting and noise level
  are constant within a video. Class 7 "Other" never occurs.
- "fashion_mnist" (28x28 grey) and "cifar10" (32x32 RGB): 10 classes that are expression prototypes, NOT
  clothes or objects: class k is the face at circumplex angle :data:`PROTOTYPES_10` [k] at intensity U(0.85, 1)
  (angle +-3 degrees), so interpolating a label between two classes (paper 000) means moving between two
  expressions: 0 happy 8, 1 surprise 70, 2 anger 99, 3 fear 117, 4 disgust 145, 5 contempt 170, 6 sad 208,
  7 bored 242, 8 sleepy 272, 9 relaxed 318 (degrees; the last three from Russell 1980's "bored", "sleepy" and
  "relaxed"). The ``expression`` field holds the class; no valence/arousal fields.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from tfgan_emotion.data import labels as L

# ----------------------------------------------------------------------------------------------------------------
# Deterministic per-id randomness: a splitmix64 hash of (id, salt) -> uniform [0, 1), fully vectorised.
# ----------------------------------------------------------------------------------------------------------------
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _hash_uniform(ids: np.ndarray, salt) -> np.ndarray:
    """Uniform [0, 1) floats, one per (id, salt) pair (arrays broadcast), float32."""
    with np.errstate(over="ignore"):
        z = np.asarray(ids).astype(np.int64).view(np.uint64) * _GOLDEN + \
            np.asarray(salt).astype(np.uint64) * np.uint64(0xD1B54A32D192ED03)
        z = z + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        z = z ^ (z >> np.uint64(31))
    return ((z >> np.uint64(11)).astype(np.float64) / float(1 << 53)).astype(np.float32)


def _lerp(a, b, t):
    return a + (b - a) * t


def _palette(table, u):
    """Piecewise-linear walk through the rows of ``table`` by u in [0, 1): (N, 3)."""
    table = np.asarray(table, dtype=np.float32)
    x = u * (len(table) - 1)
    i = np.minimum(x.astype(np.int64), len(table) - 2)
    f = (x - i)[:, None]
    return table[i] * (1 - f) + table[i + 1] * f


_SKIN = [[0.99, 0.88, 0.78], [0.95, 0.77, 0.64], [0.85, 0.63, 0.48], [0.68, 0.47, 0.33], [0.50, 0.33, 0.22],
         [0.34, 0.22, 0.15]]
_HAIR = np.array([[0.07, 0.06, 0.06], [0.22, 0.13, 0.08], [0.42, 0.27, 0.15], [0.55, 0.22, 0.09],
                  [0.86, 0.71, 0.42], [0.62, 0.61, 0.60]], dtype=np.float32)
_IRIS = np.array([[0.22, 0.12, 0.06], [0.40, 0.24, 0.10], [0.45, 0.40, 0.15], [0.25, 0.48, 0.30],
                  [0.25, 0.45, 0.75], [0.45, 0.52, 0.58]], dtype=np.float32)

# Hair styles: (cap, hairline height as a fraction of head height above the centre, hairline curvature,
# part asymmetry, curl amplitude, volume, long hair behind the head).
_HAIR_STYLES = np.array([
    [1.0, 0.78, 0.55, 0.00, 0.00, 0.03, 0.0],   # short
    [1.0, 0.72, 0.10, 0.00, 0.00, 0.04, 0.0],   # fringe
    [1.0, 0.78, 0.45, 0.00, 0.00, 0.04, 1.0],   # long, middle part
    [1.0, 0.76, 0.30, 0.45, 0.00, 0.04, 0.0],   # side part
    [1.0, 0.78, 0.40, 0.00, 0.035, 0.12, 0.0],  # curly / afro
    [0.35, 0.80, 0.50, 0.00, 0.00, 0.00, 0.0],  # buzz cut
    [1.0, 0.72, 0.15, 0.20, 0.00, 0.05, 1.0],   # long with fringe
], dtype=np.float32)

IDENTITY_FIELDS = (
    "head_w", "head_h", "head_cy", "jaw", "skin", "hair", "hair_cap", "hairline", "hair_curve", "hair_part",
    "hair_curl", "hair_volume", "hair_long", "eye_dx", "eye_y", "eye_w", "eye_h", "eye_lo", "iris", "iris_r",
    "brow_gap", "brow_thick", "brow_color", "nose_y", "nose_w", "mouth_y", "mouth_w", "lip_thick", "lip",
    "ear", "beard", "glasses", "bg", "bg2", "shirt", "outline", "shade",
)

# FERG-like characters (labels.FERG_CHARACTERS): deliberately far apart in every visible parameter.
CHARACTER_STYLES = {
    "aia": dict(head_w=0.56, head_h=0.60, head_cy=-0.04, jaw=0.12, skin=(1.0, 0.86, 0.80), hair=(0.08, 0.07, 0.12),
                style=6, eye_w=0.125, eye_h=0.62, iris=(0.30, 0.16, 0.08), iris_r=0.62, mouth_w=0.15,
                lip=(0.90, 0.45, 0.55), bg=(0.90, 0.90, 0.96), shirt=(0.85, 0.25, 0.45), ear=0.8),
    "bonnie": dict(head_w=0.58, head_h=0.58, head_cy=-0.02, jaw=0.05, skin=(0.98, 0.80, 0.66), hair=(0.92, 0.46, 0.10),
                   style=4, eye_w=0.11, eye_h=0.55, iris=(0.20, 0.55, 0.25), iris_r=0.55, mouth_w=0.17,
                   lip=(0.85, 0.40, 0.35), bg=(0.96, 0.92, 0.70), shirt=(0.20, 0.55, 0.30), ear=0.9),
    "jules": dict(head_w=0.46, head_h=0.70, head_cy=-0.06, jaw=0.30, skin=(0.80, 0.60, 0.44), hair=(0.92, 0.80, 0.35),
                  style=0, eye_w=0.09, eye_h=0.48, iris=(0.20, 0.40, 0.85), iris_r=0.5, mouth_w=0.16,
                  lip=(0.70, 0.40, 0.35), bg=(0.70, 0.85, 0.97), shirt=(0.15, 0.20, 0.55), ear=1.0),
    "malcolm": dict(head_w=0.60, head_h=0.62, head_cy=-0.03, jaw=0.02, skin=(0.94, 0.76, 0.64), hair=(0.65, 0.65, 0.65),
                    style=5, eye_w=0.085, eye_h=0.45, iris=(0.35, 0.22, 0.10), iris_r=0.5, mouth_w=0.19,
                    lip=(0.75, 0.45, 0.42), bg=(0.80, 0.88, 0.78), shirt=(0.45, 0.30, 0.18), ear=1.2, beard=1.0,
                    glasses=1.0),
    "mery": dict(head_w=0.50, head_h=0.64, head_cy=-0.05, jaw=0.38, skin=(1.0, 0.92, 0.88), hair=(0.62, 0.10, 0.06),
                 style=2, eye_w=0.115, eye_h=0.58, iris=(0.50, 0.30, 0.70), iris_r=0.6, mouth_w=0.14,
                 lip=(0.85, 0.20, 0.30), bg=(0.97, 0.82, 0.88), shirt=(0.30, 0.30, 0.75), ear=0.8),
    "ray": dict(head_w=0.54, head_h=0.63, head_cy=-0.04, jaw=0.18, skin=(0.42, 0.27, 0.18), hair=(0.05, 0.04, 0.04),
                style=5, eye_w=0.10, eye_h=0.52, iris=(0.25, 0.13, 0.06), iris_r=0.6, mouth_w=0.21,
                lip=(0.45, 0.22, 0.20), bg=(0.98, 0.78, 0.55), shirt=(0.85, 0.80, 0.20), ear=1.45),
}
STYLES = (None, "faces") + tuple(CHARACTER_STYLES)


def identity_params(identity, style=None) -> dict[str, np.ndarray]:
    """Per-person parameters, float32 arrays of shape (N,) or (N, 3) for colours, keyed by IDENTITY_FIELDS.

    ``identity``: int array (N,), hashed deterministically (the same id is the same person in every call).
    ``style``: None, one name from :data:`STYLES`, or a sequence of N such names (None = the id's own look)."""
    ids = np.atleast_1d(np.asarray(identity, dtype=np.int64))
    n = ids.shape[0]
    u = _hash_uniform(ids[None, :], np.arange(48)[:, None])
    p = {}
    p["head_w"] = _lerp(0.46, 0.56, u[0])
    p["head_h"] = _lerp(0.58, 0.68, u[1])
    p["head_cy"] = _lerp(-0.08, -0.02, u[2])
    p["jaw"] = _lerp(0.0, 0.35, u[3])
    skin = _palette(_SKIN, u[4])
    p["skin"] = np.clip(skin * (1 + 0.06 * (np.stack([u[5], u[6], u[7]], 1) - 0.5)), 0, 1)
    hair_i = np.minimum((u[8] * len(_HAIR)).astype(np.int64), len(_HAIR) - 1)
    p["hair"] = np.clip(_HAIR[hair_i] * _lerp(0.85, 1.15, u[9])[:, None], 0, 1)
    style_i = np.minimum((u[10] * len(_HAIR_STYLES)).astype(np.int64), len(_HAIR_STYLES) - 1)
    _apply_hair_style(p, _HAIR_STYLES[style_i], u[11])
    p["eye_dx"] = _lerp(0.16, 0.215, u[12])
    p["eye_y"] = _lerp(-0.11, -0.05, u[13])
    p["eye_w"] = _lerp(0.095, 0.11, u[14])
    p["eye_h"] = _lerp(0.42, 0.50, u[15])
    p["eye_lo"] = _lerp(0.31, 0.36, u[16])
    iris_i = np.minimum((u[17] * len(_IRIS)).astype(np.int64), len(_IRIS) - 1)
    p["iris"] = _IRIS[iris_i] * _lerp(0.85, 1.15, u[18])[:, None]
    p["iris_r"] = _lerp(0.42, 0.52, u[19])
    p["brow_gap"] = _lerp(0.078, 0.092, u[20])
    p["brow_thick"] = _lerp(0.028, 0.042, u[21])
    p["brow_color"] = np.minimum(p["hair"] * 0.6, p["skin"] * 0.45)
    p["nose_y"] = _lerp(0.11, 0.16, u[22])
    p["nose_w"] = _lerp(0.055, 0.085, u[23])
    p["mouth_y"] = _lerp(0.30, 0.35, u[24])
    p["mouth_w"] = _lerp(0.16, 0.19, u[25])
    p["lip_thick"] = _lerp(0.022, 0.038, u[26])
    lip_tint = np.array([0.86, 0.52, 0.52], dtype=np.float32)
    p["lip"] = p["skin"] * _lerp(lip_tint, np.array([0.72, 0.38, 0.40], np.float32), u[27][:, None])
    p["ear"] = _lerp(0.8, 1.2, u[28])
    p["beard"] = np.where(u[29] < 0.12, _lerp(0.35, 0.9, u[30]), 0.0).astype(np.float32)
    p["glasses"] = (u[31] < 0.10).astype(np.float32)
    hue = np.stack([u[32], u[33], u[34]], 1)
    grey = hue.mean(1, keepdims=True)
    p["bg"] = (0.2 + 0.7 * _lerp(grey, hue, _lerp(0.2, 0.8, u[35])[:, None])).astype(np.float32)
    p["bg2"] = np.clip(p["bg"] * _lerp(0.7, 1.15, u[36])[:, None], 0, 1)
    p["shirt"] = (0.1 + 0.8 * np.stack([u[37], u[38], u[39]], 1)).astype(np.float32)
    p["outline"] = np.zeros(n, np.float32)
    p["shade"] = _lerp(0.12, 0.25, u[40])
    if style is not None:
        styles = [style] * n if isinstance(style, str) else list(style)
        if len(styles) != n:
            raise ValueError(f"style has {len(styles)} entries for {n} identities")
        for name in set(styles):
            if name is None:
                continue
            if name not in STYLES:
                raise ValueError(f"unknown style {name!r}; known: {STYLES[1:]}")
            _apply_style(p, np.asarray([s == name for s in styles]), name)
    return {k: np.asarray(p[k], dtype=np.float32) for k in IDENTITY_FIELDS}


def _apply_hair_style(p, rows, jitter):
    p["hair_cap"], p["hairline"], p["hair_curve"], p["hair_part"], p["hair_curl"], p["hair_volume"], \
        p["hair_long"] = [rows[:, j].copy() for j in range(7)]
    p["hairline"] = p["hairline"] + 0.06 * (jitter - 0.5)


def _apply_style(p, sel, name):
    if name == "faces":
        # FACES-like studio (Ebner et al. 2010): uniform grey background, the same grey shirt, no glasses.
        p["bg"][sel] = (0.78, 0.78, 0.78)
        p["bg2"][sel] = (0.78, 0.78, 0.78)
        p["shirt"][sel] = (0.42, 0.42, 0.45)
        p["glasses"][sel] = 0.0
        return
    c = dict(CHARACTER_STYLES[name])
    _apply_hair_style_sel(p, sel, _HAIR_STYLES[c.pop("style")])
    for k, v in c.items():
        p[k][sel] = v
    p["bg2"][sel] = c["bg"]
    p["brow_color"][sel] = np.asarray(c["hair"], np.float32) * 0.6
    p["eye_dx"][sel] = c["head_w"] * 0.40
    p["eye_y"][sel] = -0.06
    p["brow_thick"][sel] = 0.045
    p["brow_gap"][sel] = c["eye_w"] * 1.0
    p["nose_y"][sel] = 0.13
    p["mouth_y"][sel] = 0.33
    p["lip_thick"][sel] = 0.03
    p["glasses"][sel] = c.get("glasses", 0.0)
    p["beard"][sel] = c.get("beard", 0.0)
    p["outline"][sel] = 0.022
    p["shade"][sel] = 0.0


def _apply_hair_style_sel(p, sel, row):
    for j, k in enumerate(("hair_cap", "hairline", "hair_curve", "hair_part", "hair_curl", "hair_volume",
                           "hair_long")):
        p[k][sel] = row[j]


# ----------------------------------------------------------------------------------------------------------------
# Expression model (module docstring; paper 001 section IV.D for the linear part).
# ----------------------------------------------------------------------------------------------------------------
EXPRESSION_FEATURES = ("smile", "teeth", "open", "stretch", "lip_raise", "press", "smirk", "eye_open", "lower_lid", "cheek",
                       "brow_raise", "brow_inner", "brow_arch", "brow_squeeze", "nose_wrinkle")

# Accent per circumplex direction (FACS action units in the module docstring), in EXPRESSION_FEATURES units.
_ACCENTS = {
    "happy": dict(smile=0.45, cheek=0.3, eye_open=-0.35, lower_lid=0.35, open=0.1),
    "surprise": dict(open=0.6, stretch=-0.45, brow_raise=0.3, eye_open=0.5, smile=-0.3, cheek=-0.3),
    "anger": dict(brow_raise=-1.15, brow_inner=-1.5, brow_arch=-0.5, brow_squeeze=1.0, open=-0.9, press=1.0,
                  lip_raise=-0.5, eye_open=-0.35, smile=-0.35),
    "fear": dict(brow_inner=0.5, brow_squeeze=0.6, stretch=0.9, eye_open=0.6, open=0.15,
                 smile=-0.25),
    "disgust": dict(nose_wrinkle=1.2, lip_raise=0.9, brow_raise=-0.8, brow_inner=-0.7, brow_squeeze=0.6,
                    open=-0.35, eye_open=-0.5, lower_lid=0.3, smile=0.2),
    "contempt": dict(smirk=1.5, smile=0.75, brow_inner=-0.5, press=0.5, open=-0.3, eye_open=-0.25),
    "sad": dict(brow_inner=0.6, smile=-0.45, eye_open=-0.3, press=0.2, open=-0.2),
    "sleepy": dict(eye_open=-0.6, brow_raise=-0.2),
}
# Directions in degrees: labels.CIRCUMPLEX_DEGREES plus Russell (1980)'s "sleepy" (~272) for the low-arousal side.
_ACCENT_DEGREES = dict(L.CIRCUMPLEX_DEGREES, sleepy=272.0)
ACCENT_NAMES = tuple(sorted(_ACCENT_DEGREES, key=_ACCENT_DEGREES.get))
_ACCENT_ANGLES = np.array([_ACCENT_DEGREES[k] for k in ACCENT_NAMES] + [_ACCENT_DEGREES[ACCENT_NAMES[0]] + 360.0])
_ACCENT_TABLE = np.array([[_ACCENTS[k].get(f, 0.0) for f in EXPRESSION_FEATURES] for k in ACCENT_NAMES]
                         + [[_ACCENTS[ACCENT_NAMES[0]].get(f, 0.0) for f in EXPRESSION_FEATURES]])
# Sharpness of the passage between neighbouring accents: weights are flat within 25% of the gap around each
# direction and change in the middle half (around the bin boundary).
_ACCENT_SHARPNESS = 2.0

# Ten expression prototypes of the 10-class stand-ins (module docstring).
PROTOTYPES_10 = (("happy", 8.0), ("surprise", 70.0), ("anger", 99.0), ("fear", 117.0), ("disgust", 145.0),
                 ("contempt", 170.0), ("sad", 208.0), ("bored", 242.0), ("sleepy", 272.0), ("relaxed", 318.0))


def _softplus0(x, eps=0.08):
    """Smooth positive part, 0 at 0: (x + sqrt(x^2 + eps^2) - eps) / 2."""
    return 0.5 * (x + np.sqrt(x * x + eps * eps) - eps)


def accent_weights(valence, arousal) -> np.ndarray:
    """Partition-of-unity weights (N, len(ACCENT_NAMES)) of the emotion accents at the angle of each point."""
    v = np.atleast_1d(np.asarray(valence, np.float64))
    a = np.atleast_1d(np.asarray(arousal, np.float64))
    theta = np.degrees(np.arctan2(a, v)) % 360.0
    theta = np.where(theta < _ACCENT_ANGLES[0], theta + 360.0, theta)
    i = np.clip(np.searchsorted(_ACCENT_ANGLES, theta, side="right") - 1, 0, len(ACCENT_NAMES) - 1)
    t = (theta - _ACCENT_ANGLES[i]) / (_ACCENT_ANGLES[i + 1] - _ACCENT_ANGLES[i])
    s = np.clip((t - 0.5) * _ACCENT_SHARPNESS + 0.5, 0.0, 1.0)
    s = np.clip(s * s * s * (s * (6 * s - 15) + 10), 0.0, 1.0)
    w = np.zeros((v.shape[0], len(ACCENT_NAMES) + 1))
    rows = np.arange(v.shape[0])
    w[rows, i] = 1 - s
    w[rows, i + 1] = s
    w[:, 0] += w[:, -1]
    return w[:, :-1]


def expression_features(valence, arousal) -> dict[str, np.ndarray]:
    """The face's expression parameters (EXPRESSION_FEATURES) as a smooth function of (valence, arousal)."""
    v = np.clip(np.atleast_1d(np.asarray(valence, np.float64)), -1, 1)
    a = np.clip(np.atleast_1d(np.asarray(arousal, np.float64)), -1, 1)
    # Radial gain: mild expressions are drawn a little stronger (x1.5 near the origin, x1 at intensity 1) so that
    # low-intensity faces stay distinguishable from neutral ones at small image sizes.
    gain = 1.5 - 0.5 * np.minimum(np.hypot(v, a), 1.0)
    v, a = v * gain, a * gain
    vp, vn, ap, an = _softplus0(v), _softplus0(-v), _softplus0(a), _softplus0(-a)
    f = {k: np.zeros_like(v) for k in EXPRESSION_FEATURES}
    # Paper 001 IV.D: valence -> mouth corners, mouth opening, eye wrinkle / lower lid and inner brows.
    f["smile"] = 0.9 * v
    f["teeth"] = 1.0 * vp
    f["cheek"] = 0.9 * vp
    f["lower_lid"] = 0.5 * vn
    f["brow_inner"] = 0.8 * vn
    # Paper 001 IV.D: arousal -> upper lip, eye opening, brow height and rear arch; low arousal closes and narrows.
    f["open"] = 0.6 * ap - 0.3 * an
    f["lip_raise"] = 0.5 * ap
    f["press"] = 0.5 * an
    f["eye_open"] = 0.8 * a + 0.2 * vp
    f["brow_raise"] = 0.8 * ap - 0.5 * an
    f["brow_arch"] = 0.5 * ap
    r = np.minimum(np.hypot(v, a), 1.0)
    acc = (accent_weights(v, a) @ _ACCENT_TABLE[:-1]) * r[:, None]
    for j, k in enumerate(EXPRESSION_FEATURES):
        f[k] = (f[k] + acc[:, j]).astype(np.float32)
    return f


# ----------------------------------------------------------------------------------------------------------------
# Nuisance
# ----------------------------------------------------------------------------------------------------------------
NUISANCE_FIELDS = ("tx", "ty", "rot", "scale", "light_dir", "light", "bright", "contrast", "noise", "blur")
# Largest defocus blur: Gaussian sigma as a fraction of the frame width (1.2 pixels at 48x48, 2.4 at 96x96).
MAX_BLUR = 0.025


def sample_nuisance(n: int, rng: np.random.Generator, enabled: bool = True) -> dict[str, np.ndarray]:
    """Per-image pose, lighting and noise level (all zero / identity when ``enabled`` is False)."""
    if not enabled:
        zeros = {k: np.zeros(n, np.float32) for k in NUISANCE_FIELDS}
        zeros["scale"][:] = 1.0
        zeros["contrast"][:] = 1.0
        return zeros
    u = rng.uniform(size=(9, n)).astype(np.float32)
    return dict(tx=_lerp(-0.05, 0.05, u[0]), ty=_lerp(-0.05, 0.05, u[1]), rot=np.radians(_lerp(-6.0, 6.0, u[2])),
                scale=_lerp(0.95, 1.05, u[3]), light_dir=_lerp(0, 2 * np.pi, u[4]), light=_lerp(0.0, 0.22, u[5]),
                bright=_lerp(-0.06, 0.06, u[6]), contrast=_lerp(0.9, 1.1, u[7]),
                noise=_lerp(0.01, 0.03, u[8]),
                blur=_lerp(0.0, MAX_BLUR, rng.uniform(size=n).astype(np.float32)))


# ----------------------------------------------------------------------------------------------------------------
# Renderer
# ----------------------------------------------------------------------------------------------------------------
_CHUNK_PIXELS = 40_000    # images per numpy batch ~ this many pixels / size^2: keeps temporaries in cache
_ZOOM = 1.3    # face units per half frame: the head fills the frame like an aligned face crop
_GREY = np.array([0.299, 0.587, 0.114], np.float32)


class _Frame:
    """Pixel grid of one batch: face coordinates per pixel and helpers to fill smooth masks on sub-windows."""

    def __init__(self, nz, size):
        self.size = size
        self.n = nz["tx"].shape[0]
        c = ((np.arange(size, dtype=np.float32) + 0.5) * (2.0 / size) - 1.0)
        col = lambda k: np.asarray(nz[k], np.float32)[:, None, None]
        self.tx, self.ty, self.s = col("tx"), col("ty"), col("scale")
        cos, sin = np.cos(col("rot")), np.sin(col("rot"))
        self.cos, self.sin = cos, sin
        xs = (c[None, None, :] - self.tx)
        ys = (c[None, :, None] - self.ty)
        zs = self.s * _ZOOM
        self.X = (xs * cos + ys * sin) / zs          # face coordinates: x right, y down, head near the centre
        self.Y = (-xs * sin + ys * cos) / zs
        self.inv_px = zs * (size / 2.0)              # 1 / (pixel size in face units): masks are 1 pixel soft

    def window(self, x0, x1, y0, y1):
        """Pixel slices covering the face-coordinate box [x0, x1] x [y0, y1] in every image of the batch."""
        xs = np.array([x0, x1, x0, x1], np.float32)
        ys = np.array([y0, y0, y1, y1], np.float32)
        s, cos, sin = self.s[:, 0, 0, None] * _ZOOM, self.cos[:, 0, 0, None], self.sin[:, 0, 0, None]
        px = s * (xs * cos - ys * sin) + self.tx[:, 0, 0, None]
        py = s * (xs * sin + ys * cos) + self.ty[:, 0, 0, None]
        to_pix = lambda q: (q + 1.0) * (self.size / 2.0)
        c0 = int(np.clip(np.floor(to_pix(px.min())) - 2, 0, self.size))
        c1 = int(np.clip(np.ceil(to_pix(px.max())) + 2, 0, self.size))
        r0 = int(np.clip(np.floor(to_pix(py.min())) - 2, 0, self.size))
        r1 = int(np.clip(np.ceil(to_pix(py.max())) + 2, 0, self.size))
        return slice(r0, max(r0, r1)), slice(c0, max(c0, c1))


def _fill(d, inv_px):
    """Coverage of the region where the signed distance ``d`` < 0, antialiased over one pixel."""
    m = d * (-inv_px)
    m += 0.5
    np.clip(m, 0.0, 1.0, out=m)
    return m


def _paint(canvas, mask, color):
    """Composite ``color`` ((N, 3) per image, or (3, N, h, w) per pixel) over the channel-planar ``canvas``
    (3, N, h, w) with coverage ``mask`` (N, h, w). Planar layout keeps numpy's inner loops long."""
    for ch in range(3):
        cv = canvas[ch]
        col = color[:, ch, None, None] if color.ndim == 2 else color[ch]
        cv += mask * (col - cv)


def _col(p, k):
    return p[k][:, None, None]


def _render_batch(idp, ex, nz, size, channels, noise_rng):
    """Render one batch (all arguments already per image); returns float32 [N, size, size, channels] in [-1, 1]."""
    fr = _Frame(nz, size)
    n = fr.n
    X, Y, ip = fr.X, fr.Y, fr.inv_px
    g = lambda k: _col(idp, k)
    e = lambda k: np.asarray(ex[k], np.float32)[:, None, None]
    # Background: per-identity colour with a vertical gradient.
    t = ((np.arange(size, dtype=np.float32) + 0.5) / size)[None, :, None]
    canvas = np.empty((3, n, size, size), np.float32)
    for ch in range(3):
        canvas[ch] = idp["bg"][:, ch, None, None] + (idp["bg2"] - idp["bg"])[:, ch, None, None] * t
    skin = idp["skin"]
    hw, hh, cy = g("head_w"), g("head_h"), g("head_cy")
    hwmax = float(idp["head_w"].max())

    # Long hair behind the head.
    if idp["hair_long"].any():
        r, c = fr.window(-hwmax * 1.3, hwmax * 1.3, -1.0, 0.8)
        x, y = X[:, r, c], Y[:, r, c]
        d = np.sqrt((x / (hw * 1.22)) ** 2 + ((y - cy - 0.12) / (hh * 1.12)) ** 2) - 1.0
        d = np.maximum(d * hw, y - 0.72)
        _paint(canvas[:, :, r, c], _fill(d, ip) * g("hair_long"), idp["hair"] * 0.85)

    # Neck and shirt (shoulders).
    r, c = fr.window(-2.0, 2.0, 0.2, 2.0)
    x, y = X[:, r, c], Y[:, r, c]
    neck = np.maximum(np.abs(x) - hw * 0.42, cy + hh * 0.5 - y)
    _paint(canvas[:, :, r, c], _fill(neck, ip), skin * 0.82)
    sh = np.sqrt((x / 1.05) ** 2 + ((y - 1.3) / 0.62) ** 2) - 1.0
    _paint(canvas[:, :, r, c], _fill(sh * 0.6, ip), idp["shirt"])
    collar = np.maximum(np.abs(x) * 1.2 - (y - 0.68) * 0.6 - 0.02, 0.67 - y)
    _paint(canvas[:, :, r, c], _fill(np.maximum(collar, sh * 0.6), ip), skin * 0.8)

    # Ears, then the head with a soft radial shading, then an outline for the cartoon styles.
    r, c = fr.window(-hwmax * 1.25, hwmax * 1.25, -0.4, 0.3)
    x, y = X[:, r, c], Y[:, r, c]
    ear_r = 0.075 * g("ear")
    de = np.sqrt(((np.abs(x) - hw * 0.97) / ear_r) ** 2 + ((y - g("eye_y") - 0.06) / (ear_r * 1.5)) ** 2) - 1.0
    _paint(canvas[:, :, r, c], _fill(de * ear_r, ip), skin * 0.9)

    r, c = fr.window(-hwmax * 1.1 - 0.2, hwmax * 1.1 + 0.2, -1.1, 0.75)
    x, y = X[:, r, c], Y[:, r, c]
    yy = (y - cy) / hh
    ax = hw * (1.0 - g("jaw") * np.clip(yy, 0, 1) ** 2)
    rho2 = (x / ax) ** 2 + yy * yy
    dh = (np.sqrt(rho2) - 1.0) * np.minimum(ax, hh)
    shade = 1.0 - g("shade") * (rho2 * rho2)
    _paint(canvas[:, :, r, c], _fill(dh, ip), skin.T[:, :, None, None] * shade[None])
    if idp["outline"].any():
        ring = np.abs(dh) - g("outline") * 0.5
        _paint(canvas[:, :, r, c], _fill(ring, ip) * (g("outline") > 0), skin * 0.35)

    # Beard (lower face, drawn under the mouth).
    if idp["beard"].any():
        db = np.maximum(dh, g("mouth_y") - 0.09 - y + 0.05 * (x / hw) ** 2)
        _paint(canvas[:, :, r, c], _fill(db, ip) * (g("beard") * 0.85), idp["hair"] * 0.9)

    # Hair cap: inside a slightly larger ellipse and above the hairline.
    vol = g("hair_volume")
    rad_h = 1.0
    if idp["hair_curl"].any():
        rad_h = 1.0 + g("hair_curl") * np.sin(np.arctan2(y - cy, x) * 14.0) / (hh + vol)
    dc = (np.sqrt((x / (hw * 1.05 + vol)) ** 2 + ((y - cy + 0.02) / (hh * 1.03 + vol)) ** 2) - rad_h) * hw
    hairline = cy - hh * g("hairline") + g("hair_curve") * x * x / hw + g("hair_part") * (x + 0.2 * hw) * 0.25
    # Hair above the hairline, and at the sides a band along the head's edge down to the ears.
    dline = np.minimum(y - hairline, np.maximum(-dh - 0.03, y - cy - 0.02))
    dcap = np.maximum(dc, dline)
    _paint(canvas[:, :, r, c], _fill(dcap, ip) * g("hair_cap"), idp["hair"])

    _draw_eyes_and_brows(canvas, fr, idp, ex, g, e)
    _draw_nose_and_mouth(canvas, fr, idp, ex, g, e)

    # Lighting gradient, brightness and contrast, then pixel noise.
    lx = (np.cos(nz["light_dir"]) * nz["light"]).astype(np.float32)[:, None, None]
    ly = (np.sin(nz["light_dir"]) * nz["light"]).astype(np.float32)[:, None, None]
    cgrid = ((np.arange(size, dtype=np.float32) + 0.5) * (2.0 / size) - 1.0)
    gain = (1.0 + lx * cgrid[None, None, :] + ly * cgrid[None, :, None]) * \
        np.asarray(nz["contrast"], np.float32)[:, None, None]
    if channels == 1:
        canvas = (canvas[0] * _GREY[0] + canvas[1] * _GREY[1] + canvas[2] * _GREY[2])[None]
    # Still channel-planar here (C, N, H, W); the output [-1, 1] = 2 * value - 1 is folded into the affine map.
    canvas -= 0.5
    canvas *= gain * 2.0
    canvas += (2.0 * np.asarray(nz["bright"], np.float32))[:, None, None]
    # Defocus (before the sensor noise): real face crops differ in focus and in the resolution they were upscaled
    # from, so a model of the stand-in must not depend on perfectly sharp edges.
    for i, b in enumerate(np.asarray(nz["blur"], np.float32) * size):
        if b > 0.05:
            canvas[:, i] = ndimage.gaussian_filter(canvas[:, i], (0.0, b, b), mode="nearest", truncate=3.0)
    if np.any(nz["noise"] > 0):
        canvas += noise_rng.standard_normal(canvas.shape, dtype=np.float32) * \
            (2.0 * np.asarray(nz["noise"], np.float32))[:, None, None]
    np.clip(canvas, -1.0, 1.0, out=canvas)
    return canvas.transpose(1, 2, 3, 0)


def _draw_eyes_and_brows(canvas, fr, idp, ex, g, e):
    ip = fr.inv_px
    dxm = float((idp["eye_dx"] + idp["eye_w"] * 1.9).max())
    r, c = fr.window(-dxm, dxm, float(idp["eye_y"].min()) - 0.6, float(idp["eye_y"].max()) + 0.2)
    X, Y = fr.X[:, r, c], fr.Y[:, r, c]
    cv = canvas[:, :, r, c]
    ew = g("eye_w")
    # Both eyes at once: mirror x so "inner" (towards the nose) is negative.
    x = np.abs(X) - g("eye_dx")
    y = Y - g("eye_y")
    skin = idp["skin"]
    # Eyelid aperture (paper 001 IV.D: arousal and valence widen the eyes; low arousal narrows them; low valence
    # raises the lower lid).
    # Expression moves are in absolute face units, not proportional to the person's features, so that they read
    # the same on every identity.
    up = np.clip(ew * g("eye_h") + 0.05 * e("eye_open"), 0.006, 0.13)
    lo = np.clip(ew * g("eye_lo") + 0.015 * e("eye_open") - 0.025 * e("lower_lid"), 0.005, 0.09)
    q = 1.0 - (x / ew) ** 2
    qc = np.maximum(q, 0.0)
    y_up = -up * qc
    y_lo = lo * qc
    d_eye = np.maximum(np.maximum(y_up - y, y - y_lo), np.abs(x) - ew)
    m_eye = _fill(d_eye, ip)
    _paint(cv, m_eye, np.full_like(skin, 0.95))
    rr = np.sqrt(x * x + y * y)
    iris_r = ew * g("iris_r")
    _paint(cv, _fill(rr - iris_r, ip) * m_eye, idp["iris"])
    _paint(cv, _fill(rr - iris_r * 0.45, ip) * m_eye, np.full_like(skin, 0.03))
    # Upper lid line (lashes) and a fainter lower lid line.
    lash = np.maximum(np.abs(y - y_up) - 0.011, np.abs(x) - ew * 1.06)
    _paint(cv, _fill(lash, ip), np.full_like(skin, 0.08))
    low = np.maximum(np.abs(y - y_lo) - 0.006, np.abs(x) - ew * 0.95)
    _paint(cv, _fill(low, ip) * 0.5, skin * 0.55)
    # Wrinkle under the eyes with high valence / cheek raise (paper 001 IV.D).
    wr = np.maximum(np.abs(y - y_lo - 0.035 - 0.01 * qc) - 0.006, np.abs(x) - ew * 0.8)
    _paint(cv, _fill(wr, ip) * (0.6 * np.clip(e("cheek"), 0, 1.2)), skin * 0.6)
    # Glasses.
    if idp["glasses"].any():
        ring = np.abs(np.sqrt((x / 1.05) ** 2 + (y * 1.15) ** 2) - ew * 1.55) - 0.009
        bridge = np.maximum(np.abs(y + 0.01) - 0.008, x + ew * 1.5)
        _paint(cv, _fill(np.minimum(ring, bridge), ip) * g("glasses"), np.full_like(skin, 0.1))
    # Brows: a tapered stroke from the inner end (x_in) to the outer end (x_out); height, arch, inner-end offset
    # and squeeze from the expression (module docstring).
    x_in = -ew * 1.05 - 0.035 * np.clip(e("brow_squeeze"), 0, 1.5)
    x_out = ew * 1.25
    ln = x_out - x_in
    tt = np.clip((x - x_in) / ln, 0.0, 1.0)
    base = -(up * 0.35 + ew * g("eye_h") + g("brow_gap"))
    raise_ = 0.12 * e("brow_raise")
    arch = 0.025 + 0.045 * e("brow_arch")
    inner = -0.06 * e("brow_inner")                  # positive: inner end lowered (anger), negative: raised (sad)
    yb = base - raise_ - arch * 4 * tt * (1 - tt) + inner * (1 - tt) ** 2
    slope = (-arch * 4 * (1 - 2 * tt) - 2 * inner * (1 - tt)) / ln
    th = g("brow_thick") * (1.0 - 0.45 * tt)
    d_brow = np.maximum(np.abs(y - yb) / np.sqrt(1 + slope * slope) - th * 0.5, np.maximum(x_in - x, x - x_out))
    _paint(cv, _fill(d_brow, ip), idp["brow_color"])
    # Frown lines between the brows when they are drawn together (anger, disgust).
    fl = np.maximum(np.abs(np.abs(X) - 0.025) - 0.006, np.abs(Y - (g("eye_y") + base + 0.01)) - 0.035)
    _paint(cv, _fill(fl, ip) * (0.5 * np.clip(e("brow_squeeze"), 0, 1)), skin * 0.6)


def _draw_nose_and_mouth(canvas, fr, idp, ex, g, e):
    ip = fr.inv_px
    wm = float(idp["mouth_w"].max()) * 1.6 + 0.1
    r, c = fr.window(-wm, wm, float(idp["eye_y"].min()), float(idp["mouth_y"].max()) + 0.4)
    X, Y = fr.X[:, r, c], fr.Y[:, r, c]
    cv = canvas[:, :, r, c]
    skin = idp["skin"]
    ax = np.abs(X)
    nw = g("nose_w") * (1.0 + 0.25 * np.clip(e("nose_wrinkle"), 0, 1.5))
    ny = g("nose_y") - 0.02 * np.clip(e("nose_wrinkle"), 0, 1.5)
    # Nose: side shadow along the bridge, the tip, the nostrils; wrinkles across the bridge for disgust (AU9).
    bridge = np.maximum(np.abs(X - nw * 0.5) - 0.008, np.maximum(g("eye_y") + 0.05 - Y, Y - ny + 0.03))
    _paint(cv, _fill(bridge, ip) * 0.35, skin * 0.7)
    tip = np.sqrt((X / nw) ** 2 + ((Y - ny) / 0.04) ** 2) - 1.0
    _paint(cv, _fill(tip * 0.04, ip) * 0.3, skin * 0.7)
    nos = np.sqrt(((ax - nw * 0.55) / 0.024) ** 2 + ((Y - ny - 0.015) / 0.014) ** 2) - 1.0
    _paint(cv, _fill(nos * 0.014, ip), skin * 0.35)
    wk = np.maximum(np.abs(np.mod(Y - g("eye_y") - 0.04, 0.035) - 0.0175) - 0.005,
                    np.maximum(ax - 0.05, np.maximum(g("eye_y") + 0.04 - Y, Y - ny + 0.045)))
    _paint(cv, _fill(wk, ip) * (0.7 * np.clip(e("nose_wrinkle"), 0, 1)), skin * 0.55)
    # Mouth: corners up/down (smile), one-sided corner (smirk), opening (jaw drop + upper lip raise), stretch,
    # pressed lips; paper 001 IV.D and the accents in the module docstring.
    smile, smirk = e("smile"), e("smirk")
    mw = g("mouth_w") + 0.05 * e("stretch") + 0.02 * np.clip(smile, 0, 1.5) - 0.017 * np.clip(e("press"), 0, 1)
    x = X
    y = Y - g("mouth_y")
    xn = x / mw
    q = np.maximum(1.0 - xn * xn, 0.0)
    corner = (smile + smirk * 0.5 * (1.0 + np.tanh(4.0 * xn))) * 0.17
    yc = -corner * xn * xn
    opening = np.clip(e("open"), 0, 1.4)
    lip_raise = np.clip(e("lip_raise"), 0, 1.5)
    grin = np.clip(e("teeth"), 0, 1.4)
    sq = np.sqrt(q)
    y_u = yc - (0.025 * opening + 0.028 * lip_raise + 0.015 * grin) * sq
    y_l = yc + (0.16 * opening + 0.06 * grin) * sq
    lt = g("lip_thick") * (1.0 - 0.7 * np.clip(e("press"), 0, 1))
    d_lips = np.maximum(np.maximum(y_u - lt * sq - y, y - y_l - lt * 1.2 * sq), np.abs(xn) - 1.04)
    _paint(cv, _fill(d_lips, ip), idp["lip"])
    d_in = np.maximum(np.maximum(y_u - y, y - y_l), np.abs(xn) - 0.97)
    m_in = _fill(d_in, ip)
    _paint(cv, m_in, np.full_like(skin, 0.18) * np.array([1.0, 0.35, 0.35], np.float32))
    teeth = np.maximum(d_in, y - y_u - mw * 0.16 - 0.075 * grin)
    _paint(cv, _fill(teeth, ip), np.full_like(skin, 0.93))
    seam = np.maximum(np.abs(y - yc) - 0.007, np.abs(xn) - 1.0)
    _paint(cv, _fill(seam, ip) * 0.85, idp["lip"] * 0.35)
    # Smile lines (nasolabial folds) with the cheek raise: segments from the nose wing towards the mouth corner.
    ax0, ay0 = nw * 1.25, ny
    bx0, by0 = mw * 1.15, g("mouth_y") + 0.03 - (smile + 0.5 * smirk) * 0.17 * 0.8
    px, py = ax - ax0, Y - ay0
    vx, vy = bx0 - ax0, by0 - ay0
    h = np.clip((px * vx + py * vy) / (vx * vx + vy * vy), 0, 1)
    dseg = np.sqrt((px - vx * h) ** 2 + (py - vy * h) ** 2) - 0.007
    _paint(cv, _fill(dseg, ip) * (0.55 * np.clip(e("cheek"), 0, 1.2)), skin * 0.62)


def render_faces(identity, valence, arousal, size: int = 96, channels: int = 3, seed: int = 0,
                 nuisance: bool = True, style=None) -> np.ndarray:
    """Render N faces: float32 [N, size, size, channels] in [-1, 1].

    ``identity`` (ints), ``valence``, ``arousal`` (floats in [-1, 1]) broadcast to a common length N; ``size`` 28
    to 256; ``channels`` 1 (grey) or 3 (RGB); ``seed`` fixes the nuisance (pose, lighting, noise) of the batch:
    the same arguments give the same pixels. ``nuisance=False`` renders the canonical pose without noise.
    ``style``: None, a name from :data:`STYLES` or one name per face (see :func:`identity_params`)."""
    ids, v, a = np.broadcast_arrays(np.atleast_1d(np.asarray(identity, np.int64)),
                                    np.atleast_1d(np.asarray(valence, np.float32)),
                                    np.atleast_1d(np.asarray(arousal, np.float32)))
    _check_size(size, channels)
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0x5EED])
    nz = sample_nuisance(len(ids), rng, nuisance)
    return _render(ids, v, a, nz, size, channels, rng, style)


def _check_size(size, channels):
    if not 28 <= int(size) <= 256:
        raise ValueError(f"size must be in 28..256, got {size}")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")


def _render(ids, v, a, nz, size, channels, rng, style):
    n = len(ids)
    styles = style if (style is None or isinstance(style, str)) else list(style)
    out = np.empty((n, size, size, channels), np.float32)
    chunk = int(np.clip(2 ** np.floor(np.log2(_CHUNK_PIXELS / size ** 2)), 2, 128))
    for s in range(0, n, chunk):
        sl = slice(s, min(n, s + chunk))
        st = styles if (styles is None or isinstance(styles, str)) else styles[sl]
        idp = identity_params(ids[sl], st)
        ex = expression_features(v[sl], a[sl])
        out[sl] = _render_batch(idp, ex, {k: val[sl] for k, val in nz.items()}, size, channels, rng)
    return out


# ----------------------------------------------------------------------------------------------------------------
# Stand-ins for the real datasets (module docstring; DESIGN.md "Contracts"; SPECS.md "Dataset formats")
# ----------------------------------------------------------------------------------------------------------------
SPLITS = ("train", "val", "test")
# Identity ids of each split live in disjoint ranges: validation and test faces are people never seen in training.
_SPLIT_ID_BASE = {"train": 0, "val": 1_000_000, "test": 2_000_000}
AFFWILD2_FRAMES = 64


@dataclass(frozen=True)
class StandIn:
    """One built-in stand-in: its label vocabulary (a key of ``labels.VOCABULARIES``), default image size and
    channels, the fields of its examples, default example counts and identity counts per split, and an honest
    description of what it imitates and what it does not."""

    kind: str
    vocabulary: str
    size: int
    channels: int
    fields: tuple[str, ...]
    n: dict = field(default_factory=dict)
    identities: dict = field(default_factory=dict)
    description: str = ""


STANDINS = {
    "affectnet": StandIn(
        "affectnet", "affectnet", 96, 3, ("image", "expression", "valence", "arousal", "identity"),
        n=dict(train=4000, val=500, test=500), identities=dict(train=400, val=50, test=50),
        description="AffectNet-like: 8 emotion classes (AffectNet order) binned from valence/arousal, classes "
                    "balanced, 96x96 RGB. Not in-the-wild photos; no none/uncertain/no-face classes, no landmarks."),
    "fer2013": StandIn(
        "fer2013", "fer2013", 48, 1, ("image", "expression", "identity"),
        n=dict(train=4000, val=500, test=500), identities=dict(train=400, val=50, test=50),
        description="fer2013-like: 7 classes in fer2013 order, 48x48 grey, classes balanced. No valence/arousal "
                    "(fer2013 has none); not real low-resolution web faces."),
    "ferg": StandIn(
        "ferg", "ferg", 128, 3, ("image", "expression", "identity", "character"),
        n=dict(train=504, val=126, test=126), identities=dict(train=6, val=6, test=6),
        description="FERG-like: the six characters (labels.FERG_CHARACTERS) as flat outlined cartoon styles x 7 "
                    "FERG expressions at high intensity, 128x128 RGB; every split has all six characters (FERG-DB "
                    "has only six), different images. Not FERG-DB's 3D renders."),
    "faces": StandIn(
        "faces", "faces", 256, 3, ("image", "expression", "identity"),
        n=dict(train=1764, val=144, test=144), identities=dict(train=147, val=12, test=12),
        description="FACES-like: every identity poses the 6 FACES emotions twice (sets a and b) at high intensity "
                    "on a uniform grey background in the same grey shirt, 256x256 RGB (171 identities x 12 = "
                    "2,052 images over the three splits, as in FACES). Not photographs; no age or gender groups."),
    "affwild2": StandIn(
        "affwild2", "affwild2", 112, 3, ("image", "expression", "valence", "arousal", "identity", "video", "frame"),
        n=dict(train=24 * AFFWILD2_FRAMES, val=4 * AFFWILD2_FRAMES, test=4 * AFFWILD2_FRAMES),
        identities=dict(train=24, val=4, test=4),
        description=f"Aff-Wild2-like: videos of {AFFWILD2_FRAMES} frames (one identity each), 112x112 RGB, valence/"
                    "arousal and head pose drifting smoothly, per-frame expression binned from valence/arousal with "
                    "runs of -1 (ignore) frames. Not real videos; 'Other' never occurs; no VA ignore (-5) values."),
    "fashion_mnist": StandIn(
        "fashion_mnist", "fashion_mnist", 28, 1, ("image", "expression", "identity"),
        n=dict(train=6000, val=1000, test=1000), identities=dict(train=600, val=100, test=100),
        description="Fashion-MNIST-sized stand-in (28x28 grey, 10 classes) whose classes are the 10 expression "
                    "prototypes PROTOTYPES_10, NOT clothes: label interpolation moves between expressions."),
    "cifar10": StandIn(
        "cifar10", "cifar10", 32, 3, ("image", "expression", "identity"),
        n=dict(train=6000, val=1000, test=1000), identities=dict(train=600, val=100, test=100),
        description="CIFAR-10-sized stand-in (32x32 RGB, 10 classes) whose classes are the 10 expression "
                    "prototypes PROTOTYPES_10, NOT objects: label interpolation moves between expressions."),
}
_KIND_INDEX = {k: i for i, k in enumerate(STANDINS)}


def _standin(kind, split):
    if kind not in STANDINS:
        raise KeyError(f"unknown stand-in {kind!r}; known: {', '.join(STANDINS)}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return STANDINS[kind]


def _balanced_classes(n, n_classes, rng):
    return rng.permutation(np.arange(n) % n_classes)


def _identity_pool(kind, split, n, rng):
    """Identity ids of ``n`` examples drawn evenly from the split's own (held-out) pool."""
    spec = STANDINS[kind]
    return (_SPLIT_ID_BASE[split] + rng.permutation(n) % spec.identities[split]).astype(np.int64)


def _va_for_classes(cls, vocab, rng, intensity, jitter_fraction, neutral_jitter):
    half = L.bin_half_widths(vocab)
    jit = np.array([half.get(int(c), 0.0) for c in cls]) * jitter_fraction
    return L.va_from_category(cls, vocab, intensity, rng, angle_jitter=jit, neutral_jitter=neutral_jitter)


def _plan(kind, split, n, seed):
    """Labels and render arguments of every example (everything but the pixels), deterministic in the seed."""
    spec = _standin(kind, split)
    n = spec.n[split] if n is None else int(n)
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, _KIND_INDEX[kind], SPLITS.index(split)])
    style = None
    out = {}
    if kind in ("affectnet", "fer2013"):
        voc = L.vocabulary(spec.vocabulary)
        n_cls = L.AFFECTNET_EMOTIONS if kind == "affectnet" else len(voc)
        cls = _balanced_classes(n, n_cls, rng)
        v, a = _va_for_classes(cls, voc, rng, rng.uniform(0.3, 1.0, n), 0.6, 0.12)
        ids = _identity_pool(kind, split, n, rng)
        nz = sample_nuisance(n, rng)
    elif kind in ("fashion_mnist", "cifar10"):
        cls = _balanced_classes(n, len(PROTOTYPES_10), rng)
        theta = np.radians(np.array([d for _, d in PROTOTYPES_10])[cls] + rng.uniform(-3.0, 3.0, n))
        r = rng.uniform(0.85, 1.0, n)
        v, a = (r * np.cos(theta)).astype(np.float32), (r * np.sin(theta)).astype(np.float32)
        ids = _identity_pool(kind, split, n, rng)
        nz = sample_nuisance(n, rng)
    elif kind == "ferg":
        voc = L.FERG
        combo = rng.permutation(np.arange(n) % (len(L.FERG_CHARACTERS) * len(voc)))
        char, cls = combo // len(voc), combo % len(voc)
        v, a = _va_for_classes(cls, voc, rng, rng.uniform(0.7, 1.0, n), 0.5, 0.1)
        ids = char.astype(np.int64)
        style = [L.FERG_CHARACTERS[c] for c in char]
        out["character"] = char
        nz = sample_nuisance(n, rng)
    elif kind == "faces":
        voc = L.FACES
        j = np.arange(n)
        ids = (_SPLIT_ID_BASE[split] + j // (2 * len(voc))).astype(np.int64)
        cls = (j % (2 * len(voc))) // 2
        v, a = _va_for_classes(cls, voc, rng, rng.uniform(0.85, 1.0, n), 0.3, 0.05)
        style = "faces"
        nz = sample_nuisance(n, rng)
        # Studio photographs: no lighting gradient, little pose change (FACES is frontal and evenly lit).
        nz["light"][:] = 0.0
        for k in ("tx", "ty", "rot"):
            nz[k] *= 0.4
    elif kind == "affwild2":
        ids, v, a, cls, nz, video, frame = _affwild2_plan(split, n, rng)
        out["video"], out["frame"] = video, frame
    else:
        raise AssertionError(kind)
    if kind not in ("fashion_mnist", "cifar10", "affwild2"):
        # Categories are binned continuous labels: the class is exactly the bin of the rendered point.
        if not np.array_equal(L.category_from_va(v, a, spec.vocabulary), cls):
            raise RuntimeError(f"{kind}: sampled valence/arousal points left their class bins")
    out["expression"] = cls
    if "valence" in spec.fields:
        out["valence"], out["arousal"] = v, a
    out["identity"] = ids
    labels = {k: (np.asarray(out[k], np.float32) if k in ("valence", "arousal") else np.asarray(out[k], np.int32))
              for k in spec.fields if k != "image"}
    return dict(identity=ids, valence=np.asarray(v, np.float32), arousal=np.asarray(a, np.float32), style=style,
                nuisance=nz, labels=labels, n=n)


def _smooth_path(rng, n_videos, t, n_waves, freq, amp):
    """Sum of low-frequency sinusoids: (n_videos, len(t)); ``freq`` in cycles per video."""
    f = rng.uniform(*freq, size=(n_videos, n_waves, 1))
    ph = rng.uniform(0, 2 * np.pi, size=(n_videos, n_waves, 1))
    am = rng.uniform(0.5, 1.0, size=(n_videos, n_waves, 1)) * amp / n_waves
    return (am * np.sin(2 * np.pi * f * t[None, None, :] + ph)).sum(1)


def _affwild2_plan(split, n, rng):
    t_len = AFFWILD2_FRAMES
    n_videos = -(-n // t_len)
    t = np.arange(t_len) / t_len
    centre = rng.uniform(-0.5, 0.5, size=(n_videos, 2, 1))
    v = centre[:, 0] + _smooth_path(rng, n_videos, t, 3, (0.3, 1.5), 1.2)
    a = centre[:, 1] + _smooth_path(rng, n_videos, t, 3, (0.3, 1.5), 1.2)
    rad = np.hypot(v, a)
    shrink = np.where(rad > 0.95, 0.95 / np.maximum(rad, 1e-9), 1.0)
    v, a = (v * shrink).astype(np.float32), (a * shrink).astype(np.float32)
    cls = L.category_from_va(v, a, L.AFFWILD2)
    # Frames without a usable expression label (-1 in the EXPR files, SPECS "Dataset formats"): 0-2 runs per video.
    for vid in range(n_videos):
        for _ in range(rng.integers(0, 3)):
            start, length = rng.integers(0, t_len - 3), rng.integers(3, 9)
            cls[vid, start:start + length] = -1
    nz = {}
    pose = dict(tx=0.04, ty=0.03, rot=np.radians(5.0), scale=0.04)
    for k, amp in pose.items():
        nz[k] = _smooth_path(rng, n_videos, t, 2, (0.2, 1.0), amp) + (1.0 if k == "scale" else 0.0)
    per_video = sample_nuisance(n_videos, rng)
    for k in ("light_dir", "light", "bright", "contrast", "noise", "blur"):
        nz[k] = np.repeat(per_video[k][:, None], t_len, axis=1)
    ids = (_SPLIT_ID_BASE[split] + np.arange(n_videos)).astype(np.int64)
    video = np.repeat(np.arange(n_videos)[:, None], t_len, axis=1)
    frame = np.repeat(np.arange(t_len)[None, :], n_videos, axis=0)
    flat = lambda x: np.asarray(x).reshape(-1)[:n]
    nz = {k: flat(x).astype(np.float32) for k, x in nz.items()}
    frame_ids = np.repeat(ids[:, None], t_len, axis=1)
    return flat(frame_ids), flat(v), flat(a), flat(cls), nz, flat(video), flat(frame)


def _block_size(size):
    """Images per rendered block of a stand-in; blocks are the unit of determinism of make_arrays/make_dataset."""
    return int(max(8, min(256, 2 ** int(np.log2(max(1, 1_500_000 // (size * size)))))))


def _render_block(plan, block, size, channels, seed, kind, split):
    bs = _block_size(size)
    sl = slice(block * bs, min(plan["n"], (block + 1) * bs))
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, _KIND_INDEX[kind], SPLITS.index(split), 0xB10C, block])
    style = plan["style"]
    if style is not None and not isinstance(style, str):
        style = style[sl]
    nz = {k: v[sl] for k, v in plan["nuisance"].items()}
    return _render(plan["identity"][sl], plan["valence"][sl], plan["arousal"][sl], nz, size, channels, rng, style)


def make_arrays(kind: str, split: str = "train", n: int | None = None, size: int | None = None,
                seed: int = 0) -> dict[str, np.ndarray]:
    """A stand-in as numpy arrays: ``image`` float32 [n, size, size, C] in [-1, 1] and the label fields of
    ``STANDINS[kind].fields`` (``expression`` in the vocabulary's class order; ints int32, floats float32).
    ``n`` and ``size`` default to the stand-in's; the same arguments always give the same arrays."""
    spec = _standin(kind, split)
    size = spec.size if size is None else int(size)
    _check_size(size, spec.channels)
    plan = _plan(kind, split, n, seed)
    images = np.empty((plan["n"], size, size, spec.channels), np.float32)
    bs = _block_size(size)
    for b in range(-(-plan["n"] // bs)):
        images[b * bs:(b + 1) * bs] = _render_block(plan, b, size, spec.channels, seed, kind, split)
    return dict(image=images, **plan["labels"])


def make_dataset(kind: str, split: str = "train", n: int | None = None, size: int | None = None, seed: int = 0):
    """A stand-in as a ``tf.data.Dataset`` of dict examples (DESIGN.md "Contracts"): the same examples as
    :func:`make_arrays`, in the same order, with the pixels rendered lazily block by block as it is iterated."""
    import tensorflow as tf

    spec = _standin(kind, split)
    size = spec.size if size is None else int(size)
    _check_size(size, spec.channels)
    plan = _plan(kind, split, n, seed)
    bs = _block_size(size)
    n_blocks = -(-plan["n"] // bs)

    def render(block):
        return _render_block(plan, int(block), size, spec.channels, seed, kind, split)

    def render_tf(block):
        img = tf.numpy_function(render, [block], tf.float32, stateful=False)
        img.set_shape([None, size, size, spec.channels])
        return img

    images = tf.data.Dataset.range(n_blocks).map(render_tf, num_parallel_calls=tf.data.AUTOTUNE,
                                                 deterministic=True).unbatch()
    labels = tf.data.Dataset.from_tensor_slices(plan["labels"])
    return tf.data.Dataset.zip(images, labels).map(lambda img, lab: dict(image=img, **lab))


# ----------------------------------------------------------------------------------------------------------------
# Aff-Wild2-like whole frames on disk, in the real annotation layout (SPECS.md "Dataset formats", Aff-Wild2), for the
# paper-002 data preparation (frames -> face detector -> crops + CSV, tfgan_emotion.data.crops) without the dataset.
# ----------------------------------------------------------------------------------------------------------------
_AFFWILD2_SPLITS = {"train": ("Train_Set", "train", 0), "validation": ("Validation_Set", "val", 1000),
                    "val": ("Validation_Set", "val", 1000)}


def _textured_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A static uint8 [height, width, 3] scene: a smooth colour gradient, a mid-frequency grey texture, two to four
    flat rectangles (furniture, windows: straight edges a detector must not take for a face) and fixed pixel
    noise."""
    from PIL import Image

    def upsample(coarse, resample):
        return np.asarray(Image.fromarray(np.clip(coarse, 0, 255).astype(np.uint8)).resize((width, height), resample),
                          dtype=np.float32)

    coarse = rng.uniform(40, 200, size=(3, 4, 3))
    coarse = coarse.mean(axis=2, keepdims=True) + 0.5 * (coarse - coarse.mean(axis=2, keepdims=True))  # muted
    scene = upsample(coarse, Image.BICUBIC)
    scene += upsample(rng.uniform(0, 255, size=(max(2, height // 8), max(2, width // 8))), Image.BILINEAR)[
        ..., None] * (50.0 / 255.0) - 25.0
    for _ in range(rng.integers(2, 5)):
        h, w = int(rng.uniform(0.15, 0.6) * height), int(rng.uniform(0.1, 0.4) * width)
        y, x = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
        scene[y:y + h, x:x + w] = 0.4 * scene[y:y + h, x:x + w] + 0.6 * rng.uniform(20, 235, size=3)
    scene += rng.normal(0.0, 3.0, size=scene.shape)
    return np.clip(np.rint(scene), 0, 255).astype(np.uint8)


def _feather(size: int) -> np.ndarray:
    """[size, size, 1] alpha: 1 inside, falling linearly to 0 over the outer ``size // 12`` pixels, so the pasted
    face square has no hard edge."""
    ramp = max(2, size // 12)
    edge = np.minimum(np.arange(size), np.arange(size)[::-1]).astype(np.float32)
    one = np.clip((edge + 0.5) / ramp, 0.0, 1.0)
    return (one[:, None] * one[None, :])[..., None]


def write_affwild2_frames(root, n_videos: int, frames_per_video: int, seed: int = 0, frame_size=(144, 192),
                          face_size: int = 96, split: str = "train") -> dict:
    """Write Aff-Wild2-like videos as whole frames plus expression annotations in the real Aff-Wild2 layout.

    Annotations: ``<root>/EXPR_Classification_Challenge/{Train_Set|Validation_Set}/<video>.txt``, header
    ``Neutral,Anger,Disgust,Fear,Happiness,Sadness,Surprise,Other`` then one label per frame (Aff-Wild2 order, -1 =
    ignore), as :mod:`tfgan_emotion.data.affwild2` reads them. Frames: ``<root>/frames/<video>/00001.jpg ...``
    (1-based, 5 digits, JPEG quality 95; read with ``affwild2.scan(..., frames="extracted",
    frames_dir=<root>/frames)``). Videos are named like Aff-Wild2's ``<id>-30-<width>x<height>``.

    Each frame (``frame_size`` = (height, width)) is a textured static scene (gradient, texture, rectangles, noise)
    with the "affwild2" stand-in face of the frame (:func:`make_arrays` at ``face_size``: identity, expression and
    head pose drifting smoothly along the video, -1 runs) pasted with feathered edges at a position that drifts
    smoothly over the video, so a face detector has to find it (paper 002 V). At most :data:`AFFWILD2_FRAMES` frames
    per video (the stand-in's video length); "Other" never occurs. Deterministic in ``seed`` (and ``split``:
    validation videos show identities held out from training).

    Returns (JSON-serialisable) ``{"root", "annotations_dir", "frames_dir", "videos": [names], "labels": {video:
    [label per frame]}, "face_boxes": {"<video>/00001.jpg": (x, y, w, h) of the pasted face square}, "frames",
    "labelled", "ignored", "per_class": {Aff-Wild2 class name: frames}, "seconds"}``.
    """
    import time
    from pathlib import Path

    from PIL import Image

    start = time.monotonic()
    try:
        set_dir, standin_split, id_base = _AFFWILD2_SPLITS[str(split).lower()]
    except KeyError:
        raise ValueError(f"split must be 'train' or 'validation', got {split!r}") from None
    n_videos, frames_per_video, face_size = int(n_videos), int(frames_per_video), int(face_size)
    height, width = (int(v) for v in frame_size)
    if n_videos < 1:
        raise ValueError(f"n_videos must be positive, got {n_videos}")
    if not 1 <= frames_per_video <= AFFWILD2_FRAMES:
        raise ValueError(f"frames_per_video must be in 1..{AFFWILD2_FRAMES} (the stand-in's video length), got "
                         f"{frames_per_video}")
    _check_size(face_size, 3)
    if height < face_size or width < face_size:
        raise ValueError(f"frame_size {frame_size} (height, width) must hold the {face_size}x{face_size} face")

    faces = make_arrays("affwild2", standin_split, n=n_videos * AFFWILD2_FRAMES, size=face_size, seed=seed)
    pixels = np.clip(np.rint((faces["image"] + 1.0) * 127.5), 0, 255).astype(np.float32)
    pixels = pixels.reshape(n_videos, AFFWILD2_FRAMES, face_size, face_size, 3)
    expression = faces["expression"].reshape(n_videos, AFFWILD2_FRAMES)[:, :frames_per_video]
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0xAFF2, id_base])
    t = np.arange(frames_per_video) / AFFWILD2_FRAMES
    # Face position as a fraction of the free range, drifting smoothly (speed per frame independent of the length).
    drift = np.clip(0.5 + _smooth_path(rng, 2 * n_videos, t, 2, (0.2, 0.8), 0.9), 0.0, 1.0)
    alpha = _feather(face_size)

    root = Path(root)
    annotations = root / "EXPR_Classification_Challenge" / set_dir
    frames_dir = root / "frames"
    annotations.mkdir(parents=True, exist_ok=True)
    header = ",".join(L.AFFWILD2.names)
    videos, labels, boxes = [], {}, {}
    for v in range(n_videos):
        name = f"{id_base + v + 1}-30-{width}x{height}"
        folder = frames_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        scene = _textured_background(rng, height, width).astype(np.float32)
        for f in range(frames_per_video):
            x = int(round(drift[2 * v, f] * (width - face_size)))
            y = int(round(drift[2 * v + 1, f] * (height - face_size)))
            frame = scene.copy()
            window = frame[y:y + face_size, x:x + face_size]
            window += alpha * (pixels[v, f] - window)
            Image.fromarray(np.clip(np.rint(frame), 0, 255).astype(np.uint8)).save(folder / f"{f + 1:05d}.jpg",
                                                                                   quality=95)
            boxes[f"{name}/{f + 1:05d}.jpg"] = (x, y, face_size, face_size)
        (annotations / f"{name}.txt").write_text("\n".join([header] + [str(int(k)) for k in expression[v]]) + "\n")
        videos.append(name)
        labels[name] = [int(k) for k in expression[v]]
    classes, counts = np.unique(expression[expression >= 0], return_counts=True)
    return {"root": str(root), "annotations_dir": str(annotations), "frames_dir": str(frames_dir), "videos": videos,
            "labels": labels, "face_boxes": boxes, "frames": int(expression.size),
            "labelled": int((expression >= 0).sum()), "ignored": int((expression < 0).sum()),
            "per_class": {L.AFFWILD2.names[int(k)]: int(c) for k, c in zip(classes, counts)},
            "seconds": round(time.monotonic() - start, 3)}


def write_affectnet_files(root, n: int, seed: int = 0, frame_size: int = 256, face_size: int = 160,
                          split: str = "train") -> dict:
    """Write an AffectNet-like image set in the original release's layout (SPECS.md "Dataset formats", AffectNet):
    ``<root>/Manually_Annotated_Images/<dir>/<i>.jpg`` whole frames (``frame_size`` square, JPEG quality 90) with the
    "affectnet" stand-in face of example ``i`` (``face_size`` square) pasted at a random position, and
    ``<root>/Manually_Annotated_file_lists/{training|validation}.csv`` with the face box, 68 landmarks, expression,
    valence and arousal of every row, as :mod:`tfgan_emotion.data.affectnet` reads them. The input-pipeline
    benchmark (``tfgan-emotion bench``) decodes these to measure the real-format path (JPEG decode + box crop +
    resize). Deterministic in ``seed``. Returns ``{"root", "csv", "n", "seconds"}``."""
    import time
    from pathlib import Path

    from PIL import Image

    start = time.monotonic()
    names = {"train": "training.csv", "validation": "validation.csv"}
    if split not in names:
        raise ValueError(f"split must be 'train' or 'validation', got {split!r}")
    n, frame_size, face_size = int(n), int(frame_size), int(face_size)
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    if face_size > frame_size:
        raise ValueError(f"face_size {face_size} must fit in frame_size {frame_size}")
    faces = make_arrays("affectnet", "train" if split == "train" else "val", n=n, size=face_size, seed=seed)
    pixels = np.clip(np.rint((faces["image"] + 1.0) * 127.5), 0, 255).astype(np.float32)
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0xAF7E])
    root = Path(root)
    lists = root / "Manually_Annotated_file_lists"
    lists.mkdir(parents=True, exist_ok=True)
    alpha = _feather(face_size)
    grid = np.linspace(0.2, 0.8, 17)
    rows = ["subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal"]
    for i in range(n):
        sub = f"{i // 500:03d}"
        folder = root / "Manually_Annotated_Images" / sub
        folder.mkdir(parents=True, exist_ok=True)
        x, y = (int(v) for v in rng.integers(0, frame_size - face_size + 1, size=2))
        frame = _textured_background(rng, frame_size, frame_size).astype(np.float32)
        window = frame[y:y + face_size, x:x + face_size]
        window += alpha * (pixels[i] - window)
        Image.fromarray(np.clip(np.rint(frame), 0, 255).astype(np.uint8)).save(folder / f"{i}.jpg", quality=90)
        # Landmarks are not used by any recipe; a plausible 68-point layout inside the box keeps the row valid.
        pts = [(x + face_size * grid[k % 17], y + face_size * grid[k // 17 * 4 % 17]) for k in range(68)]
        lm = ";".join(f"{px:.1f};{py:.1f}" for px, py in pts)
        rows.append(f"{sub}/{i}.jpg,{x},{y},{face_size},{face_size},{lm},{int(faces['expression'][i])},"
                    f"{float(faces['valence'][i]):.4f},{float(faces['arousal'][i]):.4f}")
    csv_path = lists / names[split]
    csv_path.write_text("\n".join(rows) + "\n")
    return {"root": str(root), "csv": str(csv_path), "n": n, "seconds": round(time.monotonic() - start, 3)}
