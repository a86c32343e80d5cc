"""Metrics of papers 001 (section IV.A) and 002 (sections VI.B-D) against hand-computed values and references."""
import math

import numpy as np
import pytest
from scipy import linalg, stats

from tfgan_emotion.eval import metrics as M


# --- RMSE / CORR / SAGR / CCC (paper 001 section IV.A) -------------------------------------------------------

def test_rmse_hand_case():
    # errors 1, -2, 2 -> mean square (1 + 4 + 4) / 3 = 3
    assert M.rmse([1.0, 2.0, 3.0], [0.0, 4.0, 1.0]) == pytest.approx(math.sqrt(3.0))
    assert M.rmse([0.5, -0.5], [0.5, -0.5]) == 0.0


def test_rmse_paper_example_same_for_both_predictions():
    # paper 001 IV.A.3: for a true valence of +0.3, predictions +0.7 and -0.1 have the same RMSE ...
    assert M.rmse([0.3], [0.7]) == pytest.approx(M.rmse([0.3], [-0.1]))
    # ... but only +0.7 agrees in sign
    assert M.sagr([0.3], [0.7]) == 1.0
    assert M.sagr([0.3], [-0.1]) == 0.0


def test_sagr_hand_case_and_zero_rule():
    assert M.sagr([0.2, -0.4, 0.9, -0.1], [0.5, 0.3, 0.1, -0.7]) == pytest.approx(0.75)
    # sign(0) = 0: a zero agrees only with an exact zero
    assert M.sagr([0.0, 0.0, 0.5], [0.0, 0.1, 0.5]) == pytest.approx(2 / 3)


def test_ccc_identical_is_one():
    x = np.array([-0.8, -0.1, 0.3, 0.45, 0.9])
    assert M.ccc(x, x) == pytest.approx(1.0)
    assert M.corr(x, x) == pytest.approx(1.0)


def test_shift_keeps_corr_but_loses_ccc():
    x = np.array([-0.8, -0.1, 0.3, 0.45, 0.9])
    y = x + 0.5
    assert M.corr(x, y) == pytest.approx(1.0)
    # population variance of x, shift 0.5: CCC = 2 var / (2 var + 0.25)
    var = float(np.var(x))
    assert M.ccc(x, y) == pytest.approx(2 * var / (2 * var + 0.25))
    assert M.ccc(x, y) < 0.9


def test_ccc_hand_case_population_moments():
    x = [1.0, 2.0, 3.0]
    y = [2.0, 2.0, 5.0]
    # mu_x = 2, mu_y = 3, var_x = 2/3, var_y = 2, cov = ((-1)(-1) + 0 + (1)(2)) / 3 = 1
    expected = 2 * 1.0 / (2 / 3 + 2 + 1.0)
    assert M.ccc(x, y) == pytest.approx(expected)
    # the sample-variance (1/(n-1)) variant would differ, so this pins the population definition
    assert M.ccc(x, y) != pytest.approx(2 * 1.5 / (1 + 3 + 1.0))


def test_ccc_scaled_prediction_penalised():
    x = np.linspace(-1, 1, 11)
    assert M.corr(x, 0.5 * x) == pytest.approx(1.0)
    var = float(np.var(x))
    assert M.ccc(x, 0.5 * x) == pytest.approx(2 * 0.5 * var / (var + 0.25 * var))


def test_corr_matches_scipy_on_random_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=50)
    y = 0.3 * x + rng.normal(size=50)
    assert M.corr(x, y) == pytest.approx(stats.pearsonr(x, y)[0], abs=1e-12)


def test_degenerate_variance():
    assert math.isnan(M.corr([1.0, 1.0, 1.0], [0.1, 0.2, 0.3]))
    assert M.ccc([1.0, 1.0, 1.0], [0.1, 0.2, 0.3]) == 0.0
    assert math.isnan(M.ccc([0.5, 0.5], [0.5, 0.5]))


def test_regression_report_keys_and_values():
    t = [0.1, -0.2, 0.4, 0.8]
    p = [0.0, -0.1, 0.5, 0.6]
    r = M.regression_report(t, p)
    assert set(r) == {"rmse", "corr", "sagr", "ccc"}
    assert all(type(v) is float for v in r.values())
    assert r["rmse"] == pytest.approx(math.sqrt((0.01 + 0.01 + 0.01 + 0.04) / 4))
    assert r["sagr"] == pytest.approx(0.75)  # 0.1 vs 0.0 disagrees under the sign(0) = 0 rule
    assert r["ccc"] == pytest.approx(M.ccc(t, p))


def test_column_vectors_and_array_protocol_accepted():
    class Tensorish:  # stands in for an eager tf.Tensor: np.asarray goes through __array__
        def __init__(self, v):
            self.v = np.asarray(v, dtype=np.float32)

        def __array__(self, dtype=None, copy=None):
            return self.v if dtype is None else self.v.astype(dtype)

    t = np.array([[0.1], [0.5], [-0.3]])
    assert M.rmse(t, Tensorish([0.1, 0.5, -0.3])) == pytest.approx(0.0, abs=1e-7)


@pytest.mark.parametrize("fn", [M.rmse, M.corr, M.sagr, M.ccc, M.regression_report])
def test_bad_regression_input_raises(fn):
    with pytest.raises(ValueError, match="differ in length"):
        fn([0.1, 0.2, 0.3], [0.1, 0.2])
    with pytest.raises(ValueError, match="empty"):
        fn([], [])
    with pytest.raises(ValueError, match="non-finite"):
        fn([0.1, float("nan")], [0.1, 0.2])
    with pytest.raises(ValueError, match="vector"):
        fn(np.zeros((3, 2)), np.zeros((3, 2)))


# --- F1 (paper 002 section VI.D) ------------------------------------------------------------------------------

Y_TRUE = [1, 1, 1, 0, 0, 0, 0, 1]
Y_PRED = [1, 0, 1, 1, 0, 0, 1, 1]


def test_f1_binary_hand():
    # positive 1: TP=3, FP=2, FN=1 -> 2*3 / (6 + 2 + 1) = 2/3
    assert M.f1(Y_TRUE, Y_PRED) == pytest.approx(2 / 3)
    # positive 0: TP=2, FP=1, FN=2 -> 4 / 7
    assert M.f1(Y_TRUE, Y_PRED, positive=0) == pytest.approx(4 / 7)


def test_f1_macro_hand():
    assert M.f1(Y_TRUE, Y_PRED, average="macro") == pytest.approx((2 / 3 + 4 / 7) / 2)
    t = [0, 1, 2, 2, 1, 0]
    p = [0, 2, 2, 2, 1, 1]
    # class 0: TP1 FP0 FN1 -> 2/3; class 1: TP1 FP1 FN1 -> 1/2; class 2: TP2 FP1 FN0 -> 4/5
    assert M.f1(t, p, average="macro") == pytest.approx((2 / 3 + 1 / 2 + 4 / 5) / 3)
    # a declared but absent class 3 scores 0 and is averaged in
    assert M.f1(t, p, average="macro", num_classes=4) == pytest.approx((2 / 3 + 1 / 2 + 4 / 5) / 4)


def test_f1_vs_sklearn_if_available():
    skm = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    t = rng.integers(0, 4, size=40)
    p = rng.integers(0, 4, size=40)
    assert M.f1(t, p, average="macro") == pytest.approx(skm.f1_score(t, p, average="macro"))
    assert M.f1(Y_TRUE, Y_PRED) == pytest.approx(skm.f1_score(Y_TRUE, Y_PRED))


def test_f1_bad_input_raises():
    with pytest.raises(ValueError, match="at most two labels"):
        M.f1([0, 1, 2], [0, 1, 2])
    with pytest.raises(ValueError, match="outside"):
        M.f1([0, 1, 5], [0, 1, 1], average="macro", num_classes=3)
    with pytest.raises(ValueError, match="average"):
        M.f1([0, 1], [0, 1], average="micro")
    with pytest.raises(ValueError, match="differ in length"):
        M.f1([0, 1], [0])
    with pytest.raises(ValueError, match="empty"):
        M.f1([], [])


# --- Frechet distance (paper 002 section VI.B, FED) -----------------------------------------------------------

def _exact_moments(rng, n, mean, cov):
    """n samples whose sample mean and unbiased covariance are exactly ``mean`` and ``cov``."""
    d = len(mean)
    z = rng.normal(size=(n, d))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T
    return np.asarray(mean) + z @ np.linalg.cholesky(np.asarray(cov)).T


def _scipy_frechet(a, b):
    mu_a, mu_b = a.mean(0), b.mean(0)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = np.real(linalg.sqrtm(ca @ cb))
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(ca + cb - 2 * root))


def test_frechet_self_is_zero():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(200, 8))
    assert M.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)


def test_frechet_matches_scipy_sqrtm_formula():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6))
    b = rng.normal(loc=0.4, size=(250, 6)) @ rng.normal(size=(6, 6))
    got = M.frechet_distance(a, b)
    assert got > 1.0
    assert got == pytest.approx(_scipy_frechet(a, b), rel=1e-8)
    assert M.frechet_distance(a, b) == pytest.approx(M.frechet_distance(b, a), rel=1e-8)


def test_frechet_closed_form_gaussians():
    rng = np.random.default_rng(4)
    # diagonal covariances: d^2 = |mu_a - mu_b|^2 + sum_i (sqrt(a_i) - sqrt(b_i))^2
    a = _exact_moments(rng, 500, [0.0, 1.0, -1.0], np.diag([1.0, 4.0, 9.0]))
    b = _exact_moments(rng, 400, [1.0, 1.0, 1.0], np.diag([4.0, 1.0, 9.0]))
    expected = (1 + 0 + 4) + (1 + 1 + 0)
    assert M.frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)
    # full covariance C against c*C: d^2 = (1 - sqrt(c))^2 trace(C)
    c_mat = np.array([[2.0, 0.6, 0.2], [0.6, 1.0, 0.3], [0.2, 0.3, 0.5]])
    x = _exact_moments(rng, 500, [0.0, 0.0, 0.0], c_mat)
    y = _exact_moments(rng, 500, [0.0, 0.0, 0.0], 4.0 * c_mat)
    assert M.frechet_distance(x, y) == pytest.approx(1.0 * np.trace(c_mat), rel=1e-9)


def test_frechet_from_moments_closed_form():
    assert M.frechet_distance_from_moments([0, 0], np.eye(2), [3, 4], 9 * np.eye(2)) == pytest.approx(25 + 2 * 4)


def test_frechet_rank_deficient_covariance_is_finite():
    rng = np.random.default_rng(5)
    a = rng.normal(size=(10, 32))  # fewer examples than features
    b = rng.normal(size=(12, 32))
    assert M.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert np.isfinite(M.frechet_distance(a, b))


def test_frechet_bad_input_raises():
    with pytest.raises(ValueError, match="feature count"):
        M.frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="at least 2"):
        M.frechet_distance(np.zeros((1, 3)), np.zeros((5, 3)))
    bad = np.ones((4, 2))
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        M.frechet_distance(bad, np.ones((4, 2)))


# --- Smoothness score (paper 002 section VI.C) ----------------------------------------------------------------

def test_smoothness_linear_curve():
    # rho_j = 0.1 j, j = 1..10; a confidence rising linearly: every step adds 1/9 of the range
    curve = [0.05 + 0.1 * r for r in M.SMOOTHNESS_INTENSITIES]
    assert len(curve) == 10
    assert M.smoothness(curve) == pytest.approx(1 / 9)


def test_smoothness_curve_with_dip():
    curve = [0.1, 0.2, 0.15, 0.5, 0.6]
    # increments 0.1, -0.05, 0.35, 0.1; max 0.35; range 0.6 - 0.1 = 0.5
    assert M.smoothness(curve) == pytest.approx(0.35 / 0.5)
    # a dip below the start: the range is last - first (0.4), not max - min (0.5) nor sum |increments| (0.6)
    assert M.smoothness([0.2, 0.1, 0.4, 0.6]) == pytest.approx(0.3 / 0.4)


def test_smoothness_single_jump_is_one():
    assert M.smoothness([0.0, 0.0, 0.0, 1.0, 1.0]) == pytest.approx(1.0)


def test_smoothness_not_rising_is_nan():
    assert math.isnan(M.smoothness([0.5, 0.4, 0.3]))
    assert math.isnan(M.smoothness([0.5, 0.9, 0.5]))


def test_smoothness_score_averages_over_emotions():
    curves = [
        [0.1, 0.2, 0.3, 0.4, 0.5],   # 0.1 / 0.4 = 0.25
        [0.1, 0.2, 0.15, 0.5, 0.6],  # 0.7
        [0.0, 0.0, 0.0, 1.0, 1.0],   # 1.0
    ]
    assert M.smoothness_score(curves) == pytest.approx((0.25 + 0.7 + 1.0) / 3)
    stacked = np.stack([curves, curves])  # images x emotions x steps
    assert M.smoothness_score(stacked) == pytest.approx((0.25 + 0.7 + 1.0) / 3)
    # one rule (metrics.SMOOTHNESS_RULE): a curve that does not rise is left out of the average and counted
    falling = [[0.5, 0.4, 0.3, 0.2, 0.1]]
    assert M.smoothness_score(curves + falling) == pytest.approx((0.25 + 0.7 + 1.0) / 3)
    assert M.smoothness_rising(curves + falling) == 3 and M.smoothness_rising(stacked) == 6
    assert math.isnan(M.smoothness_score(falling)) and M.smoothness_rising(falling) == 0


def test_smoothness_bad_input_raises():
    with pytest.raises(ValueError, match="at least 2"):
        M.smoothness([0.3])
    with pytest.raises(ValueError, match="non-finite"):
        M.smoothness([0.1, float("nan"), 0.3])
    with pytest.raises(ValueError, match="num_emotions"):
        M.smoothness_score([0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="empty"):
        M.smoothness([])
