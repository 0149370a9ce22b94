"""Self-tests of mm_gym.realism.estimators on synthetic data with known answers (fixed seeds)."""

import numpy as np
import pytest

from mm_gym.realism import estimators as est


def _ar1(rng, n, t, phi):
    e = rng.standard_normal((n, t))
    x = np.empty_like(e)
    x[:, 0] = e[:, 0] / np.sqrt(1 - phi * phi)
    for i in range(1, t):
        x[:, i] = phi * x[:, i - 1] + e[:, i]
    return x


def _pareto_runs(rng, n, alpha):
    """Lillo-Mike-Farmer-style signs: runs of one random sign with Pareto(alpha) lengths."""
    lengths = np.ceil(rng.pareto(alpha, size=n) + 1).astype(int)
    return np.repeat(rng.choice([-1.0, 1.0], size=n), lengths)[:n]


def test_acf_of_ar1_is_phi_to_the_lag():
    rng = np.random.default_rng(1)
    x = _ar1(rng, 32, 4000, 0.6)
    acf = est.acf_from_parts(est.acf_parts(x, [1, 2, 3, 5]))
    np.testing.assert_allclose(acf, 0.6 ** np.array([1, 2, 3, 5]), atol=0.015)


def test_acf_of_iid_is_zero_and_ci_covers_it():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((64, 2000))
    parts = est.acf_parts(x, range(1, 21))
    acf = est.acf_from_parts(parts)
    assert np.max(np.abs(acf)) < 0.01  # SE about 1/sqrt(128,000) = 0.0028
    lo, hi = est.percentile_ci(est.bootstrap_draws(parts, est.acf_from_parts, 300, seed=0))
    assert np.mean((lo <= 0) & (0 <= hi)) >= 0.8  # 95 % intervals: most of 20 lags cover 0


def test_xcorr_finds_a_known_lead():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((16, 3000))
    y = np.roll(x, 3, axis=1) + rng.standard_normal((16, 3000))  # y_{t+3} = x_t + noise
    c = est.xcorr_from_parts(est.xcorr_parts(x, y, [-1, 0, 3]))
    assert abs(c[0]) < 0.03 and abs(c[1]) < 0.03
    assert c[2] == pytest.approx(1 / np.sqrt(2), abs=0.02)


def test_excess_kurtosis_of_student_t_and_gaussian_sums():
    rng = np.random.default_rng(4)
    nu = 10.0  # excess kurtosis 6 / (nu - 4) = 1; k-step sums of iid: 1 / k
    x = rng.standard_t(nu, size=(64, 20_000))
    k1 = est.excess_kurtosis_from_parts(est.kurtosis_parts(x, 1))
    k10 = est.excess_kurtosis_from_parts(est.kurtosis_parts(x, 10))
    assert k1 == pytest.approx(1.0, abs=0.15)
    assert k10 == pytest.approx(0.1, abs=0.06)
    g = est.excess_kurtosis_from_parts(est.kurtosis_parts(rng.standard_normal((16, 5000)), 1))
    assert abs(g) < 0.06


def test_variance_ratio_of_random_walk_is_one_and_of_ar1_returns_is_not():
    rng = np.random.default_rng(5)
    r = rng.standard_normal((64, 5000))
    p1 = est.variance_parts(r, 1)
    for q in (10, 100):
        assert est.variance_ratio_from_parts(est.variance_parts(r, q), p1) == pytest.approx(
            1.0, abs=0.06
        )
    # AR(1) returns: VR(q) = (1 + phi) / (1 - phi) - 2 phi (1 - phi^q) / (q (1 - phi)^2).
    phi, q = 0.5, 100
    ra = _ar1(rng, 64, 5000, phi)
    vr = est.variance_ratio_from_parts(est.variance_parts(ra, q), est.variance_parts(ra, 1))
    expected = (1 + phi) / (1 - phi) - 2 * phi * (1 - phi**q) / (q * (1 - phi) ** 2)
    assert vr == pytest.approx(expected, abs=0.2)
    assert est.variance_from_parts(p1) == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize(("alpha", "tol"), [(1.5, 0.05), (1.8, 0.05)])
def test_sign_hurst_of_pareto_runs_is_three_minus_alpha_over_two(alpha, tol):
    rng = np.random.default_rng(6)
    signs = [_pareto_runs(rng, 8000, alpha) for _ in range(48)]
    sizes = np.unique(np.geomspace(10, 400, 10).astype(int))
    h = est.hurst_from_parts(est.sign_hurst_parts(signs, sizes))
    assert h == pytest.approx((3 - alpha) / 2, abs=tol)


def test_sign_hurst_of_iid_signs_is_one_half():
    rng = np.random.default_rng(7)
    signs = [rng.choice([-1.0, 1.0], size=int(rng.integers(3000, 6000))) for _ in range(48)]
    h = est.hurst_from_parts(est.sign_hurst_parts(signs, [10, 20, 40, 80, 160]))
    assert h == pytest.approx(0.5, abs=0.03)


def test_impact_exponent_of_square_root_impact_is_one_half():
    rng = np.random.default_rng(8)
    sizes, impacts = [], []
    for _ in range(16):
        v = np.minimum(np.ceil(rng.pareto(1.2, 20_000) + 1), 100)
        sizes.append(v)
        impacts.append(0.3 * np.sqrt(v) + rng.standard_normal(v.size))  # noise 1 tick
    parts = est.impact_parts(sizes, impacts, est.log_bins(1, 101, 12))
    beta = est.impact_exponent_from_parts(parts)
    assert beta == pytest.approx(0.5, abs=0.07)
    lo, hi = est.percentile_ci(est.bootstrap_draws(parts, est.impact_exponent_from_parts, 200))
    assert lo < 0.5 < hi or abs(beta - 0.5) < 0.03


def test_response_function_of_a_known_permanent_impact():
    # Each order moves the mid by 0.5 ticks in its direction for good: R(tau) = 0.5 for all tau.
    rng = np.random.default_rng(9)
    n, t = 8, 500
    eps = rng.choice([-1.0, 1.0], size=(n, t))
    mid = 100 + np.cumsum(0.5 * eps, axis=1)
    pre = mid - 0.5 * eps
    parts = est.response_parts(mid, eps, eps * pre, np.ones((n, t)), [0, 1, 10])
    np.testing.assert_allclose(est.response_from_parts(parts), 0.5, atol=0.05)


def test_predictor_has_no_skill_on_iid_and_finds_ar1():
    rng = np.random.default_rng(10)
    r = rng.standard_normal((32, 3000))
    r2 = est.predictor_r2_from_parts(est.predictor_parts(r, 5))
    assert abs(r2) < 0.002
    ra = _ar1(rng, 32, 3000, 0.3)  # R^2 of the best linear predictor: phi^2 = 0.09
    assert est.predictor_r2_from_parts(est.predictor_parts(ra, 5)) == pytest.approx(0.09, abs=0.01)


def test_spread_and_depth_summaries():
    spread = np.array([[1, 1, 2, 0], [1, 3, 15, 1]])
    frac, mean = est.spread_stats_from_parts(est.spread_parts(spread, max_ticks=10))
    assert frac == pytest.approx(4 / 7)
    assert mean == pytest.approx((1 + 1 + 2 + 1 + 3 + 10 + 1) / 7)
    parts = {
        "depth_sum": np.array([[2.0, 6.0, 4.0], [4.0, 6.0, 2.0]]),
        "count": np.array([2.0, 2.0]),
    }
    np.testing.assert_allclose(est.depth_profile_from_parts(parts), [1.5, 3.0, 1.5])


def test_bootstrap_weights_resample_markets():
    # One market with a different mean: the bootstrap spread of the pooled mean reflects it.
    parts = {"s": np.array([0.0, 0.0, 0.0, 10.0]), "n": np.ones(4)}

    def mean(p, w):
        return est.weighted_sum(p["s"], w) / est.weighted_sum(p["n"], w)

    d = est.bootstrap_draws(parts, mean, 500, seed=1)
    assert mean(parts, None) == 2.5
    assert d.min() == 0.0 and d.max() >= 5.0
    np.testing.assert_array_equal(d, est.bootstrap_draws(parts, mean, 500, seed=1))
