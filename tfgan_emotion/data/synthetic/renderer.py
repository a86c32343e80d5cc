"""The procedural face renderer of the built-in synthetic faces: faces drawn from identity, valence and arousal.

The faces are NOT real faces: they are cartoon faces drawn from smooth masks (head ellipse, hair, eyes, irises,
brows, nose, mouth, shirt, background), rendered in numpy for a whole batch at once, with exact ground truth for
identity and expression. The dataset stand-ins (:mod:`.standins`) and the dataset-shaped files
(:mod:`.writers`) are drawn with :func:`render_faces` and its helpers.

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
    a wrinkle under the eyes and smile lines; low valence raises the inner brows and the lower eyelids and turns
    the mouth corners down; high arousal raises the upper lip, widens the eyes, raises and arches the brows and
    opens the mouth; low arousal narrows the eyes, closes the mouth and lowers the brows a little.
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

Nuisance (``nuisance=True``): pose jitter (shift up to 2.5% of the frame width, rotation +-6 degrees, scale
+-5%), a linear lighting gradient (up to +-22% across the frame), brightness (+-0.06) and contrast (+-10%)
jitter, Gaussian defocus blur (sigma up to ``MAX_BLUR`` = 2.5% of the frame width; real face crops differ in focus
and in the resolution they were upscaled from) and Gaussian pixel noise (sigma 0.01-0.03 of the intensity range), so
models cannot memorise pixels and do not depend on perfectly sharp edges.

Determinism: :func:`render_faces` gives the same pixels for the same arguments (the nuisance of face i depends
on ``seed`` and on i).
"""
from __future__ import annotations

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
