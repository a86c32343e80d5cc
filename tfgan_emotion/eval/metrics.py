"""Evaluation metrics of the five papers as small pure functions (DESIGN.md "eval/").

Every function takes array-likes (lists, numpy arrays, eager ``tf.Tensor``s; anything ``np.asarray`` accepts),
computes in float64 and returns a Python ``float``. Inputs are validated: an empty input, inputs of different
lengths, or a NaN/inf value raise ``ValueError`` with a message that says which argument is wrong.

Sources
- Paper 001 (Lindt et al. 2019, CAAE), section IV.A: RMSE, CCC, SAGR; CORR is the Pearson correlation rho that
  IV.A.2 builds CCC from (the paper's tables report RMSE, SAGR and CCC; CORR is kept to tell a shift from noise).
- Paper 002 (Surani, GANmut), section VI.B: Frechet Emotion Distance (FED) = Frechet distance between emotion
  classifier features of real and generated images; VI.C: smoothness score; VI.D: discriminator F1.
- The Frechet distance follows TF-GAN's ``frechet_classifier_distance``: moments in float64 and the trace of the
  matrix square root taken from SVDs of symmetric positive semi-definite matrices (no ``scipy.linalg.sqrtm``).

No TensorFlow import here: the CLI and the report import this module and must stay fast.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

# Paper 002 section VI.C: the neutral face is edited in 10 steps of increasing intensity rho_j = 0.1 j, j = 1..10.
SMOOTHNESS_INTENSITIES = tuple(round(0.1 * j, 1) for j in range(1, 11))


def _as_vector(x: Any, name: str) -> np.ndarray:
    """``x`` as a 1-D float64 array; a column/row vector such as shape (n, 1) is flattened, a matrix is refused."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim > 1 and sum(1 for s in a.shape if s != 1) > 1:
        raise ValueError(f"{name} must be a vector, got shape {a.shape}; compute each dimension (e.g. valence and "
                         "arousal) separately")
    a = a.reshape(-1)
    if a.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(a)):
        bad = int(np.flatnonzero(~np.isfinite(a))[0])
        raise ValueError(f"{name} contains a non-finite value ({a[bad]}) at index {bad}")
    return a


def _pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    t = _as_vector(y_true, "y_true")
    p = _as_vector(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in length: {t.size} vs {p.size}")
    return t, p


def rmse(y_true: Any, y_pred: Any) -> float:
    """Root mean squared error, paper 001 section IV.A.1.

    ``RMSE(x, y) = sqrt( (1/n) * sum_i (x_i - y_i)^2 )``. 0 is perfect; the unit is that of the labels.
    """
    t, p = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((t - p) ** 2)))


def corr(y_true: Any, y_pred: Any) -> float:
    """Pearson correlation coefficient (CORR), the rho inside paper 001's CCC (section IV.A.2).

    ``CORR(x, y) = cov(x, y) / (sigma_x * sigma_y)`` with population moments (the normalisation cancels).
    In [-1, 1]; invariant to shifting and positive scaling of either vector.

    Degenerate case: if either vector is constant (zero variance) the coefficient is undefined and ``nan`` is
    returned (as numpy and scipy do), because a constant prediction carries no linear trend to correlate; a
    caller averaging CORR over dimensions should treat ``nan`` as "undefined", not as 0.
    """
    t, p = _pair(y_true, y_pred)
    dt = t - t.mean()
    dp = p - p.mean()
    var_t = float(np.mean(dt * dt))
    var_p = float(np.mean(dp * dp))
    if var_t == 0.0 or var_p == 0.0:
        return float("nan")
    r = float(np.mean(dt * dp)) / math.sqrt(var_t * var_p)
    return float(min(1.0, max(-1.0, r)))


def sagr(y_true: Any, y_pred: Any) -> float:
    """Sign agreement (SAGR), paper 001 section IV.A.3.

    ``SAGR(x, y) = (1/n) * sum_i delta(sign(x_i), sign(y_i))`` with the Kronecker delta. In [0, 1]; 1 means all
    signs agree.

    Zeros: ``sign(0) = 0`` (``np.sign``), taken literally as in the paper's formula, so 0 is its own sign: a value of
    exactly 0 agrees only with another exact 0, and disagrees with any positive or negative value. Against a
    real-valued prediction (a regressor's reading) a true 0 therefore practically never agrees: where some true
    values are 0 (paper 001's 7x7 edit grid has 7 of 49 labels at 0 in each dimension) SAGR is capped at the share
    of non-zero true values; :func:`sagr_nonzero` leaves them out.
    """
    t, p = _pair(y_true, y_pred)
    return float(np.mean(np.sign(t) == np.sign(p)))


def sagr_nonzero(y_true: Any, y_pred: Any) -> float:
    """Sign agreement over the entries whose TRUE value is not 0: :func:`sagr` of ``y_true[y_true != 0]`` and the
    matching predictions (ours; paper 001 section IV.A.3 defines SAGR over all entries).

    A true 0 has no sign for a prediction to agree with, so leaving it out measures only what SAGR is meant to
    measure (does the prediction point the right way?). ``nan`` when every true value is 0.
    """
    t, p = _pair(y_true, y_pred)
    keep = t != 0
    if not keep.any():
        return float("nan")
    return float(np.mean(np.sign(t[keep]) == np.sign(p[keep])))


def ccc(y_true: Any, y_pred: Any) -> float:
    """Lin's concordance correlation coefficient (CCC), paper 001 section IV.A.2.

    ``CCC(x, y) = 2 rho sigma_x sigma_y / (sigma_x^2 + sigma_y^2 + (mu_x - mu_y)^2)
               = 2 cov(x, y) / (var(x) + var(y) + (mu_x - mu_y)^2)``
    with POPULATION (1/n) variances and covariance, as in Lin (1989). In [-1, 1]; 1 only for identical vectors.
    Unlike CORR it penalises predictions that are correlated but shifted or scaled.

    Degenerate case: if both vectors are the same constant the ratio is 0/0 and ``nan`` is returned (agreement
    is undefined without variation); one constant vector against a varying one gives 0 (no covariance).
    """
    t, p = _pair(y_true, y_pred)
    mt, mp = t.mean(), p.mean()
    var_t = float(np.mean((t - mt) ** 2))
    var_p = float(np.mean((p - mp) ** 2))
    cov = float(np.mean((t - mt) * (p - mp)))
    denom = var_t + var_p + float(mt - mp) ** 2
    if denom == 0.0:
        return float("nan")
    return float(2.0 * cov / denom)


def regression_report(y_true: Any, y_pred: Any) -> dict[str, float]:
    """Paper 001 section IV's four numbers for one label dimension: ``{"rmse", "corr", "sagr", "ccc"}``."""
    t, p = _pair(y_true, y_pred)
    return {"rmse": rmse(t, p), "corr": corr(t, p), "sagr": sagr(t, p), "ccc": ccc(t, p)}


def _labels(x: Any, name: str) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim > 1 and sum(1 for s in a.shape if s != 1) > 1:
        raise ValueError(f"{name} must be a vector of class labels, got shape {a.shape}")
    a = a.reshape(-1)
    if a.size == 0:
        raise ValueError(f"{name} is empty")
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} contains a non-finite value")
        if not np.all(a == np.round(a)):
            raise ValueError(f"{name} must hold class labels, got a non-integer value")
        a = a.astype(np.int64)
    return a


def _f1_of(tp: int, fp: int, fn: int) -> float:
    denom = 2 * tp + fp + fn
    return 2.0 * tp / denom if denom else 0.0


def f1(y_true: Any, y_pred: Any, average: str = "binary", num_classes: int | None = None,
       positive: Any = 1) -> float:
    """F1 score, the harmonic mean of precision and recall (paper 002 section VI.D, discriminator F1).

    Per class c: ``F1_c = 2 P R / (P + R) = 2 TP / (2 TP + FP + FN)``.

    - ``average="binary"``: F1 of the class ``positive`` (paper 002 scores "fake" as positive; pass the label
      that stands for it). At most two distinct labels may occur.
    - ``average="macro"``: unweighted mean of ``F1_c`` over the classes ``0 .. num_classes-1`` when
      ``num_classes`` is given (labels must then lie in that range), otherwise over the sorted union of labels
      seen in ``y_true`` and ``y_pred``. Paper 002 Table V's "Average" row is this over {real, fake}.

    Degenerate case: a class with no true and no predicted samples (TP + FP + FN = 0) scores 0.0, as
    scikit-learn's default ``zero_division`` does.
    """
    t = _labels(y_true, "y_true")
    p = _labels(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in length: {t.size} vs {p.size}")
    if average == "binary":
        seen = np.union1d(t, p)
        if seen.size > 2:
            raise ValueError(f"average='binary' needs at most two labels, got {seen.tolist()}; use 'macro'")
        tp = int(np.sum((t == positive) & (p == positive)))
        fp = int(np.sum((t != positive) & (p == positive)))
        fn = int(np.sum((t == positive) & (p != positive)))
        return float(_f1_of(tp, fp, fn))
    if average == "macro":
        if num_classes is not None:
            if int(num_classes) < 1:
                raise ValueError(f"num_classes must be >= 1, got {num_classes}")
            classes = np.arange(int(num_classes))
            outside = np.setdiff1d(np.union1d(t, p), classes)
            if outside.size:
                raise ValueError(f"labels {outside.tolist()} are outside 0..{int(num_classes) - 1}")
        else:
            classes = np.union1d(t, p)
        scores = []
        for c in classes:
            tp = int(np.sum((t == c) & (p == c)))
            fp = int(np.sum((t != c) & (p == c)))
            fn = int(np.sum((t == c) & (p != c)))
            scores.append(_f1_of(tp, fp, fn))
        return float(np.mean(scores))
    raise ValueError(f"average must be 'binary' or 'macro', got {average!r}")


def _features(x: Any, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"{name} must be (num_examples, num_features), got shape {a.shape}")
    if a.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 examples to estimate a covariance, got {a.shape[0]}")
    if a.shape[1] == 0:
        raise ValueError(f"{name} has no features")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains a non-finite value")
    return a


def _symmetric_sqrt(mat: np.ndarray, eps: float = 1e-10) -> np.ndarray:
    """Square root of a symmetric PSD matrix from its SVD ``U S U^T`` (= eigendecomposition for PSD input).

    ``U diag(sqrt(s)) V^T`` is the TF-GAN form of the root. Singular values below ``eps`` are rounding noise of a
    rank-deficient covariance (fewer examples than features); like TF-GAN they are kept as they are rather than
    square-rooted, which would blow 1e-16 up to 1e-8 per dimension.
    """
    u, s, vt = np.linalg.svd(mat)
    root = np.where(s < eps, s, np.sqrt(s))
    return (u * root) @ vt


def _trace_sqrt_product(sigma_a: np.ndarray, sigma_b: np.ndarray) -> float:
    """``trace( sqrt(sigma_a sigma_b) )`` as ``trace( sqrt( sqrt(A) B sqrt(A) ) )``: the inner matrix is symmetric
    PSD, so both roots come from SVDs, while ``sigma_a sigma_b`` itself is not symmetric."""
    root_a = _symmetric_sqrt(sigma_a)
    inner = root_a @ sigma_b @ root_a
    inner = 0.5 * (inner + inner.T)
    return float(np.trace(_symmetric_sqrt(inner)))


def frechet_distance_from_moments(mu_a: Any, sigma_a: Any, mu_b: Any, sigma_b: Any) -> float:
    """Frechet distance between the Gaussians N(mu_a, sigma_a) and N(mu_b, sigma_b):

    ``d^2 = ||mu_a - mu_b||^2 + trace(sigma_a + sigma_b - 2 sqrt(sigma_a sigma_b))``

    (squared 2-Wasserstein distance; FID/FED report this squared value). Float64 throughout.
    """
    mu_a = np.asarray(mu_a, dtype=np.float64).reshape(-1)
    mu_b = np.asarray(mu_b, dtype=np.float64).reshape(-1)
    sigma_a = np.atleast_2d(np.asarray(sigma_a, dtype=np.float64))
    sigma_b = np.atleast_2d(np.asarray(sigma_b, dtype=np.float64))
    d = mu_a.size
    if mu_b.size != d or sigma_a.shape != (d, d) or sigma_b.shape != (d, d):
        raise ValueError(f"moment shapes disagree: mu_a {mu_a.shape}, sigma_a {sigma_a.shape}, mu_b {mu_b.shape}, "
                         f"sigma_b {sigma_b.shape}")
    for name, v in (("mu_a", mu_a), ("mu_b", mu_b), ("sigma_a", sigma_a), ("sigma_b", sigma_b)):
        if not np.all(np.isfinite(v)):
            raise ValueError(f"{name} contains a non-finite value")
    mean_term = float(np.sum((mu_a - mu_b) ** 2))
    cov_term = float(np.trace(sigma_a) + np.trace(sigma_b)) - 2.0 * _trace_sqrt_product(sigma_a, sigma_b)
    return float(mean_term + cov_term)


def frechet_distance(feats_a: Any, feats_b: Any) -> float:
    """Frechet distance between two sets of features (paper 002 section VI.B: FED on emotion-classifier features).

    Each set, shape (num_examples, num_features) (a 1-D input is one feature), is summarised by its mean and its
    unbiased (1/(n-1)) covariance in float64, as TF-GAN does, then
    ``d^2 = ||mu_a - mu_b||^2 + trace(C_a + C_b - 2 sqrt(C_a C_b))`` where the trace of the root is computed as
    ``trace(sqrt(sqrt(C_a) C_b sqrt(C_a)))`` from SVDs of symmetric PSD matrices. Lower is closer; 0 for a set
    against itself. The sets may differ in size but not in feature count.
    """
    a = _features(feats_a, "feats_a")
    b = _features(feats_b, "feats_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feats_a and feats_b differ in feature count: {a.shape[1]} vs {b.shape[1]}")
    return frechet_distance_from_moments(a.mean(axis=0), np.cov(a, rowvar=False, ddof=1).reshape(a.shape[1], -1),
                                         b.mean(axis=0), np.cov(b, rowvar=False, ddof=1).reshape(b.shape[1], -1))


def smoothness(curve: Any) -> float:
    """Smoothness of one emotion-intensity transition, paper 002 section VI.C.

    ``curve[j]`` is the classifier's confidence for the target emotion on the face edited at the j-th intensity,
    in increasing order (the paper uses rho_j = 0.1 j, j = 1..10, see ``SMOOTHNESS_INTENSITIES``). Then

    ``S = max_j (s_{j+1} - s_j) / (s_last - s_first)``

    the largest increase between consecutive steps over the total variation range "from the most neutral to the
    most intense" expression. Lower is smoother; a linear ramp over n steps scores 1/(n-1) (1/9 for 10 steps),
    the minimum for a rising curve, and a single jump scores 1 or more.

    Degenerate case: if the confidence does not rise overall (``s_last <= s_first``) the range is not a
    transition and the ratio would be infinite or of the wrong sign (a negative score would look better than a
    smooth one), so ``nan`` is returned ("does not rise"; :func:`smoothness_score` leaves such curves out of the
    average and counts them). At least two steps are needed.
    """
    s = _as_vector(curve, "curve")
    if s.size < 2:
        raise ValueError(f"curve needs at least 2 intensity steps, got {s.size}")
    total = float(s[-1] - s[0])
    if total <= 0.0:
        return float("nan")
    return float(np.max(np.diff(s)) / total)


SMOOTHNESS_RULE = ("a curve whose confidence does not rise from the first to the last intensity step has no "
                   "defined smoothness (the ratio's range is zero or negative); it is left out of the average, "
                   "which is over the rising curves only and NaN when none rises; the count of rising curves is "
                   "reported beside it")


def smoothness_score(curves: Any) -> float:
    """Smoothness score of a model, paper 002 section VI.C: ``smoothness`` averaged over emotions.

    ``curves`` has shape (num_emotions, num_steps), or (..., num_steps) with any leading axes (e.g. images x
    emotions): one curve per row. Lower is smoother. The paper averages "across all emotions" and defines no value
    for a curve that does not rise; here (:data:`SMOOTHNESS_RULE`) such a curve (``smoothness`` returns ``nan``)
    is left out of the average, so the score is the mean over the rising curves, ``nan`` when none rises. Report
    :func:`smoothness_rising` beside it, so that a model rendering fewer emotions is not mistaken for a smoother one.
    """
    values = _smoothness_rows(curves)
    rising = values[np.isfinite(values)]
    return float(np.mean(rising)) if rising.size else float("nan")


def smoothness_rising(curves: Any) -> int:
    """How many of the curves rise, i.e. enter :func:`smoothness_score`'s average (same ``curves`` layout)."""
    return int(np.isfinite(_smoothness_rows(curves)).sum())


def _smoothness_rows(curves: Any) -> np.ndarray:
    c = np.asarray(curves, dtype=np.float64)
    if c.ndim < 2:
        raise ValueError(f"curves must be (num_emotions, num_steps), got shape {c.shape}; use smoothness() for one")
    if c.size == 0:
        raise ValueError(f"curves is empty (shape {c.shape})")
    return np.array([smoothness(r) for r in c.reshape(-1, c.shape[-1])])
