"""mm_gym.portfolio.risk: EWMA covariance, delta-normal VaR, Euler contributions, hedging."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pytest

from mm_gym.config import ConfigError
from mm_gym.portfolio import EWMACovariance, delta_normal_var, hedge_orders, marginal_var

Z99 = NormalDist().inv_cdf(0.99)


def _cov(sd, corr) -> np.ndarray:
    sd = np.asarray(sd, dtype=float)
    return np.asarray(corr, dtype=float) * np.outer(sd, sd)


COV3 = _cov([0.01, 0.02, 0.015], [[1.0, 0.6, -0.3], [0.6, 1.0, 0.2], [-0.3, 0.2, 1.0]])


# --------------------------------------------------------------------------- EWMACovariance


def _weighted_cov(r: np.ndarray, halflife: float) -> tuple[np.ndarray, np.ndarray]:
    """The batch formula of the class docstring, for one series r (T, A)."""
    lam = 0.5 ** (1.0 / halflife)
    w = lam ** np.arange(len(r) - 1, -1, -1)
    w1, w2 = w.sum(), (w * w).sum()
    mean = (w[:, None] * r).sum(axis=0) / w1
    dev = r - mean
    cov = np.einsum("t,ta,tb->ab", w, dev, dev) / (w1 - w2 / w1)
    return mean, cov


def _random_covariances(rng: np.random.Generator, n: int, a: int) -> np.ndarray:
    """``n`` random positive semi-definite ``(a, a)`` covariances ``X X' * 1e-4``."""
    x = rng.normal(size=(n, a, a))
    return np.einsum("nab,ncb->nac", x, x) * 1e-4


def test_ewma_covariance_equals_the_weighted_batch_formula():
    rng = np.random.default_rng(1)
    r = rng.normal(0.001, 0.01, size=(2, 30, 3))
    est = EWMACovariance(2, 3, halflife_steps=7.0)
    for t in range(30):
        est.update(r[:, t])
    for i in range(2):
        mean, cov = _weighted_cov(r[i], 7.0)
        np.testing.assert_allclose(est.mean[i], mean, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(est.covariance[i], cov, rtol=1e-10, atol=1e-16)
    np.testing.assert_array_equal(est.covariance, np.swapaxes(est.covariance, 1, 2))


def test_ewma_covariance_with_a_huge_halflife_is_the_sample_covariance():
    rng = np.random.default_rng(2)
    r = rng.normal(size=(12, 2))
    est = EWMACovariance(1, 2, halflife_steps=1e15)
    for t in range(12):
        est.update(r[None, t])
    np.testing.assert_allclose(est.covariance[0], np.cov(r.T, ddof=1), rtol=1e-9)


def test_ewma_covariance_warm_up_is_nan_then_defined():
    est = EWMACovariance(2, 2, halflife_steps=10.0)
    assert np.isnan(est.covariance).all() and np.isnan(est.mean).all()
    est.update([[0.01, 0.0], [0.0, 0.01]])
    assert np.isnan(est.covariance).all()
    np.testing.assert_allclose(est.mean, [[0.01, 0.0], [0.0, 0.01]])
    est.update([[-0.01, 0.0], [0.0, -0.01]])
    assert np.isfinite(est.covariance).all()
    np.testing.assert_array_equal(est.n_updates, [2, 2])


def test_ewma_covariance_converges_to_the_true_covariance_of_correlated_normals():
    # 200 envs x 6,000 steps at a half-life of 300 steps (~866 effective observations, so a
    # variance's relative error is ~5% per env, ~0.35% in the mean over envs).
    n, steps = 200, 6_000
    rng = np.random.default_rng(3)
    chol = np.linalg.cholesky(COV3)
    est = EWMACovariance(n, 3, halflife_steps=300.0)
    for _ in range(steps):
        est.update(rng.standard_normal((n, 3)) @ chol.T + 0.002)
    cov = est.covariance
    scale = np.sqrt(np.outer(np.diag(COV3), np.diag(COV3)))
    # Mean over envs: within 2% of each entry's scale sqrt(var_a var_b).
    assert (np.abs(cov.mean(axis=0) - COV3) / scale).max() < 0.02, cov.mean(axis=0)
    # Every env: within 25% (five standard errors of a variance).
    assert (np.abs(cov - COV3) / scale).max() < 0.25
    np.testing.assert_allclose(est.mean.mean(axis=0), 0.002, atol=2e-4)


def test_ewma_covariance_reset_mask_forgets_only_the_masked_envs():
    rng = np.random.default_rng(4)
    est = EWMACovariance(3, 2, halflife_steps=5.0)
    for _ in range(5):
        est.update(rng.normal(size=(3, 2)))
    before = est.covariance
    est.reset(np.array([False, True, False]))
    np.testing.assert_array_equal(est.n_updates, [5, 0, 5])
    assert np.isnan(est.covariance[1]).all()
    np.testing.assert_array_equal(est.covariance[[0, 2]], before[[0, 2]])
    est.reset()
    np.testing.assert_array_equal(est.n_updates, [0, 0, 0])


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n_envs": 0, "n_assets": 2, "halflife_steps": 5.0}, "n_envs"),
        ({"n_envs": 1, "n_assets": 1.5, "halflife_steps": 5.0}, "n_assets"),
        ({"n_envs": 1, "n_assets": 2, "halflife_steps": 0.0}, "halflife_steps"),
        ({"n_envs": 1, "n_assets": 2, "halflife_steps": float("nan")}, "halflife_steps"),
    ],
)
def test_ewma_covariance_rejects_bad_arguments_naming_them(kwargs, field):
    with pytest.raises(ConfigError, match=f"EWMACovariance.{field}="):
        EWMACovariance(**kwargs)


def test_ewma_covariance_update_and_reset_reject_bad_input():
    est = EWMACovariance(2, 3, halflife_steps=5.0)
    with pytest.raises(ValueError, match=r"returns must have shape \(2, 3\), got \(3,\)"):
        est.update(np.zeros(3))
    with pytest.raises(ValueError, match=r"returns must be finite; got nan at index \(1, 2\)"):
        est.update([[0, 0, 0], [0, 0, np.nan]])
    with pytest.raises(ValueError, match="mask must be a boolean array"):
        est.reset(np.array([1, 0]))
    np.testing.assert_array_equal(est.n_updates, [0, 0])  # a refused update changes nothing


# --------------------------------------------------------------------------- delta-normal VaR


def test_delta_normal_var_of_one_asset_is_z_times_the_sd():
    var = delta_normal_var([[1000.0], [-500.0]], [[[1e-4]], [[4e-4]]], level=0.99)
    np.testing.assert_allclose(var, [Z99 * 10.0, Z99 * 10.0], rtol=1e-12)
    np.testing.assert_allclose(
        delta_normal_var([[1000.0]], [[1e-4]], level=0.99, horizon_steps=9),
        [3 * Z99 * 10.0],
        rtol=1e-12,
    )


def test_delta_normal_var_matches_the_monte_carlo_loss_quantile():
    # 400,000 draws: the 0.99 quantile's standard error is ~0.25% of the VaR; tolerance 1.5%.
    exposure = np.array([[1e4, 2e4, -5e3], [-3e4, 1e4, 1e4], [5e3, 0.0, 0.0]])
    n_draws, horizon = 400_000, 4
    rng = np.random.default_rng(5)
    chol = np.linalg.cholesky(COV3)
    returns = sum(rng.standard_normal((n_draws, 3)) @ chol.T for _ in range(horizon))
    losses = -(returns @ exposure.T)  # (n_draws, n)
    mc = np.quantile(losses, 0.99, axis=0)
    var = delta_normal_var(exposure, COV3, level=0.99, horizon_steps=horizon)
    np.testing.assert_allclose(var, mc, rtol=0.015)


def test_euler_contributions_sum_to_the_var():
    rng = np.random.default_rng(6)
    n, a = 50, 4
    cov = _random_covariances(rng, n, a)
    exposure = rng.normal(scale=1e4, size=(n, a))
    contrib = marginal_var(exposure, cov, level=0.975)
    var = delta_normal_var(exposure, cov, level=0.975)
    np.testing.assert_allclose(contrib.sum(axis=1), var, rtol=1e-10)
    # Each contribution is e_a times the numerical derivative of the VaR.
    eps = 1e-3
    bump = exposure.copy()
    bump[:, 0] += eps
    deriv = (delta_normal_var(bump, cov, level=0.975) - var) / eps
    np.testing.assert_allclose(contrib[:, 0], exposure[:, 0] * deriv, rtol=1e-4)


def test_euler_contribution_of_a_hedging_asset_is_negative_and_zero_exposure_gives_zero():
    cov = _cov([0.01, 0.01], [[1.0, -0.8], [-0.8, 1.0]])
    contrib = marginal_var([[1e4, 2e3], [0.0, 0.0]], cov)
    assert contrib[0, 1] < 0 < contrib[0, 0]
    np.testing.assert_array_equal(contrib[1], [0.0, 0.0])


def test_var_functions_reject_bad_input_naming_the_argument():
    e = np.ones((2, 2))
    with pytest.raises(ValueError, match=r"cov must have shape \(2, 2, 2\)"):
        delta_normal_var(e, np.eye(3)[None].repeat(2, axis=0))
    with pytest.raises(ValueError, match=r"exposure must have shape \(any, any\), got \(2,\)"):
        delta_normal_var(np.ones(2), np.eye(2))
    with pytest.raises(ValueError, match="exposure must be finite"):
        marginal_var([[np.inf, 0.0]], np.eye(2))
    with pytest.raises(ValueError, match="cov must be symmetric"):
        delta_normal_var(e, [[1.0, 0.5], [0.0, 1.0]])
    with pytest.raises(ValueError, match="cov is not positive semi-definite"):
        delta_normal_var([[1.0, -1.0]], [[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match="non-negative variances"):
        delta_normal_var(e, [[-1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(ConfigError, match=r"level=1\.0 is out of range.*\(0\.5, 1\.0\)"):
        delta_normal_var(e, np.eye(2), level=1.0)
    with pytest.raises(ConfigError, match="horizon_steps=0"):
        marginal_var(e, np.eye(2), horizon_steps=0)


# --------------------------------------------------------------------------- hedging

COSTS = np.array([[0.20, 0.25, 0.18], [0.30, 0.22, 0.40]])  # (A=2, V=3) bps: cheapest 2 and 1


def test_hedge_lowers_the_var_below_the_limit_on_the_cheapest_venue():
    cov = _cov([0.01, 0.02], [[1.0, 0.3], [0.3, 1.0]])
    exposure = np.array([[5e4, 0.0], [-5e4, 2e4]])
    lot_value = np.array([1e3, 1e3])
    before = delta_normal_var(exposure, cov)
    limit = 0.51 * before
    lots, venue = hedge_orders(exposure, cov, limit, lot_value, COSTS, max_lots=100)
    assert lots.dtype == venue.dtype == np.int64
    after = delta_normal_var(exposure + lots * lot_value, cov)
    assert (after <= limit).all() and (after < before).all()
    assert lots[0, 0] < 0 and lots[1, 0] > 0  # sells the long, buys back the short
    np.testing.assert_array_equal(venue, np.where(lots != 0, [[2, 1]], -1))
    # Env 0 sells only the asset it holds, and no more than needed: one lot fewer is not enough.
    assert lots[0, 1] == 0
    one_less = exposure[0] + [(lots[0, 0] + 1) * lot_value[0], 0.0]
    assert delta_normal_var(one_less[None], cov)[0] > limit[0]


def test_hedge_with_negatively_correlated_assets_trades_the_asset_not_held():
    # Long asset 0 only (E = 100, variance E^2 s1^2 = 1); asset 1 (sd 3%) is -0.9 correlated
    # with it (sd 1%). With lots of L = 10, a one-lot buy of asset 1 lowers the PnL variance by
    # 2 E L |rho| s1 s2 - L^2 s2^2 = 0.45, a one-lot sale of asset 0 only by
    # L s1^2 (2 E - L) = 0.19: the greedy buys asset 1 (VaR x 0.742; the sale: x 0.9).
    cov = _cov([0.01, 0.03], [[1.0, -0.9], [-0.9, 1.0]])
    exposure = np.array([[100.0, 0.0]])
    lot_value = np.array([10.0, 10.0])
    before = delta_normal_var(exposure, cov)[0]
    limit = 0.8 * before
    lots, venue = hedge_orders(exposure, cov, limit, lot_value, COSTS, max_lots=50)
    np.testing.assert_array_equal(lots, [[0, 1]])
    np.testing.assert_array_equal(venue, [[-1, 1]])
    assert delta_normal_var(exposure + lots * lot_value, cov)[0] <= limit
    # Flattening the held asset by the same one lot would not have been enough.
    assert delta_normal_var(exposure - [[10.0, 0.0]], cov)[0] > limit


def test_hedge_each_move_is_the_best_one_lot_trade_and_the_end_is_a_local_optimum():
    rng = np.random.default_rng(7)
    n, a = 40, 3
    cov = _random_covariances(rng, n, a)
    exposure = rng.normal(scale=2e3, size=(n, a))
    lot_value = np.array([100.0, 250.0, 400.0])
    var0 = delta_normal_var(exposure, cov)
    limit = 0.3 * var0
    cap = np.array([5, 8, 3])
    lots, _ = hedge_orders(exposure, cov, limit, lot_value, np.ones((a, 1)), max_lots=cap)
    assert (np.abs(lots) <= cap).all()
    after = delta_normal_var(exposure + lots * lot_value, cov)
    for i in range(n):
        if after[i] <= limit[i]:
            continue
        # Not at the limit: no allowed one-lot trade lowers the VaR.
        for asset in range(a):
            for d in (1, -1):
                if abs(lots[i, asset] + d) > cap[asset]:
                    continue
                moved = exposure[i] + lots[i] * lot_value
                moved[asset] += d * lot_value[asset]
                assert delta_normal_var(moved[None], cov[i])[0] >= after[i] * (1 - 1e-9)
    # The first move equals a brute-force search over the 2A one-lot trades.
    one, _ = hedge_orders(exposure, cov, var0 * 0.999999, lot_value, np.ones((a, 1)), cap)
    for i in range(n):
        best, best_var = None, var0[i]
        for asset in range(a):
            for d in (1, -1):
                moved = exposure[i].copy()
                moved[asset] += d * lot_value[asset]
                v = delta_normal_var(moved[None], cov[i])[0]
                if v < best_var:
                    best, best_var = (asset, d), v
        expected = np.zeros(a, dtype=np.int64)
        if best is not None:
            expected[best[0]] = best[1]
        np.testing.assert_array_equal(one[i], expected)  # one lot reaches this limit


def test_hedge_within_the_limit_or_at_the_cap_trades_nothing_more():
    cov = np.array([[1e-4]])
    lots, venue = hedge_orders([[1e4]], cov, 1e6, [100.0], [[0.1, 0.2]], max_lots=10)
    np.testing.assert_array_equal(lots, [[0]])
    np.testing.assert_array_equal(venue, [[-1]])
    lots, venue = hedge_orders([[1e4]], cov, 0.0, [100.0], [[0.1, 0.2]], max_lots=10)
    np.testing.assert_array_equal(lots, [[-10]])  # capped: the VaR stays above the limit
    np.testing.assert_array_equal(venue, [[0]])
    lots, _ = hedge_orders([[1e4]], cov, 0.0, [100.0], [[0.1, 0.2]], max_lots=1000)
    np.testing.assert_array_equal(lots, [[-100]])  # flat: no trade lowers it further


def test_hedge_venue_per_env_costs():
    cov = np.array([[1e-4]])
    costs = np.array([[[0.1, 0.2]], [[0.3, 0.2]]])  # (n=2, A=1, V=2)
    _, venue = hedge_orders([[1e4], [1e4]], cov, 0.0, [100.0], costs, max_lots=5)
    np.testing.assert_array_equal(venue, [[0], [1]])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"var_limit": -1.0}, "var_limit must be >= 0"),
        ({"var_limit": [1.0, 2.0, 3.0]}, r"var_limit must have shape \(1,\)"),
        ({"lot_value": [0.0, 1.0]}, "lot_value must be > 0"),
        ({"lot_value": [1.0]}, r"lot_value must have shape \(2,\)"),
        ({"taker_cost_bps": [[0.1], [np.nan]]}, "taker_cost_bps must be finite"),
        ({"taker_cost_bps": np.zeros((2, 0))}, "taker_cost_bps needs at least one venue"),
        ({"max_lots": 1.5}, "max_lots must be integers >= 0"),
        ({"max_lots": [3, -1]}, "max_lots must be integers >= 0"),
        ({"max_lots": [3, 3, 3]}, r"max_lots must be a scalar or of shape \(2,\)"),
    ],
)
def test_hedge_rejects_bad_input_naming_the_argument(change, message):
    kwargs = {
        "exposure": [[1e4, 0.0]],
        "cov": np.eye(2) * 1e-4,
        "var_limit": 1.0,
        "lot_value": [100.0, 100.0],
        "taker_cost_bps": [[0.1], [0.2]],
        "max_lots": 5,
    }
    kwargs.update(change)
    with pytest.raises(ValueError, match=message):
        hedge_orders(**kwargs)
