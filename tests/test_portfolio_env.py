"""mm_gym/Portfolio-v0: correlated assets, portfolio VaR, the hedging overlay, the envs."""

from __future__ import annotations

import gzip
import math
import pickle
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from helpers import assert_vector_equals_singles

import mm_gym
from mm_gym.config import ConfigError
from mm_gym.envs.config import EnvConfig
from mm_gym.market import MarketSimulator
from mm_gym.market.book import NONE_HIGH, NONE_LOW, best_tick
from mm_gym.market.rng import STREAM_CORR, STREAM_EXO, STREAM_NOISE
from mm_gym.metrics import var_es
from mm_gym.multivenue import DEFAULT_VENUES, MultiVenueEnv
from mm_gym.portfolio import PortfolioConfig, PortfolioEnv, PortfolioVectorEnv
from mm_gym.portfolio.core import PortfolioCore
from mm_gym.portfolio.env import DEFAULT_PRICE_FORMATION
from mm_gym.portfolio.measure import record_mids, window_correlation

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _core(portfolio: PortfolioConfig, n: int, venues=DEFAULT_VENUES, **market) -> PortfolioCore:
    market = {"price_formation": DEFAULT_PRICE_FORMATION, **market}  # the envs' default
    cfg = mm_gym.with_overrides(mm_gym.preset("default"), market)
    core = PortfolioCore(cfg, EnvConfig(), venues, portfolio, n)
    core.set_roots(3, np.random.default_rng(0))
    core.start()
    return core


# --------------------------------------------------------------------------- correlated assets


def test_one_asset_is_the_multivenue_env_bit_for_bit() -> None:
    one = PortfolioEnv(portfolio={"n_assets": 1}, horizon_steps=60)
    mv = MultiVenueEnv(horizon_steps=60, price_formation=DEFAULT_PRICE_FORMATION)
    o1, _ = one.reset(seed=9)
    o2, _ = mv.reset(seed=9)
    block = one.asset_slices()[0]
    np.testing.assert_array_equal(o1[block], o2)
    rng = np.random.default_rng(1)
    for _ in range(60):
        a = rng.uniform(-1, 1, 6).astype(np.float32)
        o1, r1, *_ = one.step(a)
        o2, r2, *_ = mv.step(a)
        np.testing.assert_array_equal(o1[block], o2)
        assert r1 == r2


def test_assets_share_only_the_innovation_stream() -> None:
    core = _core(PortfolioConfig(n_assets=3, correlation=0.3), 2)
    rng = [[s.state.rng for s in asset.sims] for asset in core.assets]
    for asset in rng:
        for venue in asset[1:]:  # the venues of one asset share its exogenous stream
            np.testing.assert_array_equal(venue[:, STREAM_EXO], asset[0][:, STREAM_EXO])
            assert (venue[:, STREAM_NOISE] != asset[0][:, STREAM_NOISE]).all()
    for a in range(3):
        for b in range(a + 1, 3):
            assert (rng[a][0][:, STREAM_EXO] != rng[b][0][:, STREAM_EXO]).all()
            for v in range(3):
                np.testing.assert_array_equal(rng[a][v][:, STREAM_CORR], rng[b][0][:, STREAM_CORR])


@pytest.mark.parametrize(
    "correlation",
    [  # 0.6 in the default suite; the others, 7-10 s each, in make test-full (marker slow)
        0.6,
        pytest.param(-0.4, marks=pytest.mark.slow),
        pytest.param(((1.0, 0.6, -0.3), (0.6, 1.0, 0.2), (-0.3, 0.2, 1.0)), marks=pytest.mark.slow),
    ],
)
def test_realised_correlation_of_50_step_returns_matches_the_configured_one(
    correlation,
) -> None:
    portfolio = PortfolioConfig(n_assets=2 if np.ndim(correlation) == 0 else 3,
                                correlation=correlation)  # fmt: skip
    core = _core(portfolio, 24)
    mids = record_mids(core, 1000)  # mm1 parks its quotes at the farthest offset
    want = portfolio.matrix
    for a in range(core.n_assets):
        for b in range(a + 1, core.n_assets):
            r, m = window_correlation(mids, a, b, 50)
            # Fisher z: atanh(r) ~ N(atanh(rho), 1 / (m - 3)); 3.5 standard errors
            assert abs(math.atanh(r) - math.atanh(want[a, b])) < 3.5 / math.sqrt(m - 3), (a, b, r)


@pytest.mark.slow  # 10-30 s: make test-full
def test_uncorrelated_assets_show_no_correlation_and_one_step_returns_are_attenuated() -> None:
    mids = record_mids(_core(PortfolioConfig(n_assets=2, correlation=0.0), 24), 1000)
    r, m = window_correlation(mids, 0, 1, 50)
    assert abs(math.atanh(r)) < 3.5 / math.sqrt(m - 3)
    mids = record_mids(_core(PortfolioConfig(n_assets=2, correlation=0.6), 64), 1000)
    r1, m1 = window_correlation(mids, 0, 1, 1)
    r50, m50 = window_correlation(mids, 0, 1, 50)
    # The books' own noise and the revisions' rounding dilute the one-step returns': r1 below
    # r50 by more than 3 standard errors of the Fisher-z difference (at 08fa14f 0.532 against
    # 0.601, 3.6 se; the fixed margin 0.1 this asserted before held while r50 overshot the
    # configured 0.6: 0.529 against 0.651 without clustered news)
    se = math.sqrt(1.0 / (m1 - 3) + 1.0 / (m50 - 3))
    assert r1 > 0.0 and math.atanh(r50) - math.atanh(r1) > 3.0 * se, (r1, r50, se)


@pytest.mark.slow  # 5-14 s: make test-full
def test_the_legacy_price_formation_carries_the_correlation_through_the_fundamental() -> None:
    portfolio = PortfolioConfig(n_assets=2, correlation=-0.4)
    mids = record_mids(_core(portfolio, 24, price_formation="legacy"), 1000)
    r, m = window_correlation(mids, 0, 1, 50)
    assert abs(math.atanh(r) - math.atanh(-0.4)) < 3.5 / math.sqrt(m - 3), r


@pytest.mark.parallel
def test_a_correlated_asset_steps_alike_on_the_parallel_and_the_serial_kernel() -> None:
    # the Cholesky row is 8 scalar MarketParams fields: as a tuple it broke the parallel compile
    out = []
    for parallel in (False, True):
        sim = MarketSimulator(mm_gym.preset("default"), 4, parallel=parallel, asset=1,
                              correlation=(0.6, 0.8))  # fmt: skip
        sim.reset(np.arange(4, dtype=np.uint64))
        q = sim.quotes_buffer()
        q[:, 0] = [1.5, 2.5, 1, 2]
        for _ in range(50):
            sim.step(q)
        out.append(sim.state.fs.copy())
    np.testing.assert_array_equal(out[0], out[1])


@pytest.mark.parametrize(
    ("portfolio", "match"),
    [
        ({"correlation": ((1.0, 0.5), (0.4, 1.0))}, r"portfolio\.correlation=.*must be symmetric"),
        ({"correlation": ((0.9, 0.5), (0.5, 1.0))}, r"portfolio\.correlation=.*unit diagonal"),
        (
            {"n_assets": 3, "correlation": -0.8},
            r"portfolio\.correlation=-0\.8 must be positive semi-definite",
        ),
        ({"correlation": ((1.0, 0.5, 0.1), (0.5, 1.0, 0.1))}, r"has shape \(2, 3\); must be 2x2"),
        ({"correlation": 1.5}, r"portfolio\.correlation=1\.5 is out of range"),
        ({"correlation": "high"}, r"portfolio\.correlation='high' must be a number or"),
        ({"n_assets": 9}, r"portfolio\.n_assets=9 is out of range"),
        ({"var_limit": 0.0}, r"portfolio\.var_limit=0\.0 is out of range"),
        ({"hedge": "yes"}, r"portfolio\.hedge='yes' must be true or false"),
        ({"hedging": True}, r"portfolio has unknown key 'hedging'"),
    ],
)
def test_bad_portfolio_settings_are_named(portfolio: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        PortfolioEnv(portfolio=portfolio)


# --------------------------------------------------------------------------- risk and hedging


def test_historical_var_and_es_are_those_of_the_step_pnl() -> None:
    env = PortfolioEnv(portfolio={"hist_window_steps": 50})
    env.reset(seed=2)
    rng = np.random.default_rng(0)
    pnl = []
    for t in range(1, 121):
        *_, info = env.step(rng.uniform(-1, 0.2, 12).astype(np.float32))
        pnl.append(info["reward_components"]["pnl"])
        if t < 20:
            assert info["hist_var"] == info["hist_es"] == 0.0
        else:
            var, es = var_es(np.array(pnl[-50:]), level=0.99)
            assert info["hist_var"] == pytest.approx(var, rel=1e-12, abs=1e-9)
            assert info["hist_es"] == pytest.approx(es, rel=1e-12, abs=1e-9)


def test_var_is_the_delta_normal_var_of_the_exposures() -> None:
    env = PortfolioEnv()
    env.reset(seed=4)
    rng = np.random.default_rng(3)
    for _ in range(79):
        *_, info = env.step(rng.uniform(-1, 0.0, 12).astype(np.float32))
    core = env.unwrapped._core
    cov = core.cov.covariance[0]
    e = info["exposure"]
    want = 2.3263478740408408 * math.sqrt(e @ cov @ e)
    assert info["var"] == pytest.approx(want, rel=1e-9)
    assert info["exposure"] == pytest.approx(info["inventory"] * 100.0 * info["mid"])
    assert env.unwrapped._core.observations()[0, 1] == pytest.approx(
        min(want / PortfolioConfig().var_limit, 10.0), 1e-6
    )


def _touch(sim, exclude: int) -> np.ndarray:
    """``(n, 2)`` best bid and best ask of a venue, ticks, but maker ``exclude``'s (-1: none).

    Read with the book's own scan (the one a hedge order walks from); -inf / +inf where the
    side is empty.
    """
    out = np.empty((sim.n_markets, 2))
    for m in range(sim.n_markets):
        for side, none, empty in ((0, NONE_LOW, -np.inf), (1, NONE_HIGH, np.inf)):
            tick = best_tick(sim.state, m, side, exclude)
            out[m, side] = empty if tick == none else tick
    return out


def _taker_costs_now(core: PortfolioCore) -> np.ndarray:
    """``(n, A, V, 2)`` taker cost of buying / selling an asset on a venue now, bps.

    The venue's taker fee plus the distance from the consolidated mid (of the best bid and ask
    over the venues) to the venue's best ask (a buy) or best bid (a sell), every quote included
    as the overlay prices it: mm1's own too, although its order cancels that quote before it
    takes (the overlay's cost misses this on a few percent of its hedges).
    """
    fee_bps = np.array([v.taker_fee_bps for v in core.venues])
    out = []
    for asset in core.assets:
        top = np.stack([_touch(sim, -1) for sim in asset.sims], axis=1)  # (n, V, 2)
        mid = (0.5 * (top[:, :, 0].max(axis=1) + top[:, :, 1].min(axis=1)))[:, None]
        out.append(np.stack([fee_bps + (top[:, :, 1] - mid) / mid * 1e4,
                             fee_bps + (mid - top[:, :, 0]) / mid * 1e4], axis=-1))  # fmt: skip
    return np.stack(out, axis=1)


def _hedging_run(hedge: bool, steps: int = 300):
    # The default venues, whose taker fees (0.20 / 0.25 / 0.18 bps) are within a tick's bps of
    # one another: which venue is cheapest for a taker changes from step to step with the books.
    core = _core(PortfolioConfig(hedge=hedge, var_limit=8.0), 6)
    seen = []  # what the overlay saw (costs, exposures, lot values, covariance), its orders
    overlay = core._hedge

    def watched(over: np.ndarray, maker: int = 0) -> None:
        costs, exposure = _taker_costs_now(core), core.exposures().copy()
        lot_value = core.lot_size * core.mids() * core.tick  # a lot's exposure, at the step's mid
        cov = core.cov.covariance.copy()
        overlay(over, maker)
        seen.append((costs, exposure, lot_value, cov, core.hedge_lots.copy(),
                     core.hedge_venue.copy()))  # fmt: skip

    core._hedge = watched  # the instance's overlay, observed
    rng = np.random.default_rng(5)
    rows = []
    for _ in range(steps):
        # mm1 leans to buying asset 0 and selling asset 1: exposure builds up
        a = rng.uniform(-1, 1, (core.n, 12))
        a[:, 0:6:2] = -1.0
        a[:, 7:12:2] = -1.0
        core.act(a)
        core.settle()
        rows.append((core.var_pre_hedge.copy(), core.var.copy(), core.hedge_lots.copy(),
                     core.hedge_cost.copy()))  # fmt: skip
    return core, rows, seen


@pytest.fixture(scope="module")
def hedged_run():
    """One 300-step run with the overlay on, which the tests below read (none changes it)."""
    return _hedging_run(hedge=True)


def test_a_hedge_lowers_the_measured_var(hedged_run) -> None:
    core, rows, _ = hedged_run
    hedged = 0
    for pre, post, lots, cost in rows:
        traded = (lots != 0).any(axis=1)
        hedged += int(traded.sum())
        assert (post[traded] < pre[traded]).all()
        assert (cost[traded] > 0).all() and (cost[~traded] == 0).all()
    assert hedged > 20
    assert (core.hedge_cost_total > 0).all()


def test_a_hedge_is_sent_on_the_cheapest_venue_in_the_direction_that_lowers_the_exposure(
    hedged_run,
) -> None:
    _, _, seen = hedged_run
    chosen = np.zeros(3, np.int64)
    for costs, exposure, lot_value, cov, lots, venue in seen:
        m, a = np.nonzero(lots)
        side = np.where(lots[m, a] > 0, 0, 1)  # a buy pays the ask, a sell the bid
        cost = costs[m, a, :, side]  # (hedges, V)
        assert (cost[np.arange(len(m)), venue[m, a]] <= cost.min(axis=1) + 1e-9).all()
        # each asset's trade, with the other assets' trades, lowers the PnL variance e' Sigma e
        hedged = exposure + lots * lot_value
        for i, k in zip(m, a, strict=True):
            without = hedged[i].copy()
            without[k] = exposure[i, k]
            assert hedged[i] @ cov[i] @ hedged[i] < without @ cov[i] @ without
        chosen += np.bincount(venue[m, a], minlength=3)
    # every venue is the cheapest at some step: the choice follows the books, not the fees alone
    assert (chosen > 20).all(), chosen


def test_the_overlay_cuts_the_breaches(hedged_run) -> None:
    off, *_ = _hedging_run(hedge=False)
    on, *_ = hedged_run
    assert off.breaches.sum() > 100
    assert on.breaches.sum() < 0.2 * off.breaches.sum()


def test_cash_and_inventory_are_conserved_with_hedges(hedged_run) -> None:
    core, rows, _ = hedged_run
    assert sum(int((r[2] != 0).sum()) for r in rows) > 0
    for asset in core.assets:
        for s in asset.sims:
            acc = s.accounts
            np.testing.assert_array_equal(acc.inventory.sum(1) + acc.others_inventory, 0.0)
            cash = acc.cash.sum(1) + acc.others_cash + acc.exchange_income
            np.testing.assert_allclose(cash, 0.0, atol=1e-6)


def test_hedge_orders_pick_the_cheapest_venue_per_direction() -> None:
    from mm_gym.portfolio import hedge_orders

    costs = np.zeros((1, 1, 2, 2))
    costs[0, 0] = [[1.0, 5.0], [4.0, 2.0]]  # venue 0 cheap to buy, venue 1 cheap to sell
    cov = np.array([[1e-8]])
    buy, vb = hedge_orders([[-1e6]], cov, 0.0, [1e4], costs, max_lots=10)
    sell, vs = hedge_orders([[1e6]], cov, 0.0, [1e4], costs, max_lots=10)
    assert buy[0, 0] > 0 and vb[0, 0] == 0
    assert sell[0, 0] < 0 and vs[0, 0] == 1


# --------------------------------------------------------------------------- the envs


def test_vector_env_equals_single_envs_across_autoresets() -> None:
    kw = {"horizon_steps": 40, "portfolio": {"hedge": True, "var_limit": 5.0}}
    singles = [PortfolioEnv(**kw) for _ in range(3)]
    keys = ("var", "hedge_lots", "hedge_cost", "hist_var")
    assert_vector_equals_singles(PortfolioVectorEnv(3, **kw), singles, 5, 100, keys)


def test_a_pickled_env_steps_on_as_the_original() -> None:
    env = PortfolioEnv(portfolio={"hedge": True, "var_limit": 5.0})
    env.reset(seed=3)
    for _ in range(30):
        env.step(np.full(12, -0.5, np.float32))
    twin = pickle.loads(pickle.dumps(env))
    for _ in range(30):
        a = np.full(12, -0.8, np.float32)
        o1, r1, *_, i1 = env.step(a)
        o2, r2, *_, i2 = twin.step(a)
        np.testing.assert_array_equal(o1, o2)
        assert r1 == r2 and i1["var"] == i2["var"]


def test_an_env_pickled_by_release_4f57f95_steps_on_as_that_release_did() -> None:
    # checkpoints written before the two-maker forms hold mm1's risk as the core's own arrays
    # (tests/data/make_portfolio_4f57f95.py wrote the pickle there, and that release's next steps)
    data = Path(__file__).parent / "data"
    with gzip.open(data / "portfolio_4f57f95.pkl.gz") as f:
        env, venv = pickle.load(f)
    want = np.load(data / "portfolio_4f57f95.npz")
    # The vector env's episodes end at step 60 and the next start with the venues' joint warm-up
    # (added after that release, a deliberate change of every multi-venue episode's start): its
    # steps are compared up to the one that ends the episode, the later ones only taken.
    last = {
        "env": len(want["env.action"]) - 1,
        "venv": int(np.argmax(want["venv.terminated"].any(1))),
    }
    for name, e in (("env", env), ("venv", venv)):
        for t, action in enumerate(want[f"{name}.action"]):
            obs, reward, terminated, _, info = e.step(action)
            if t > last[name]:
                continue
            got = {"obs": obs, "reward": reward, "terminated": terminated, **info}
            for key in ("obs", "reward", "terminated", "var", "var_pre_hedge", "var_breaches",
                        "hedge_lots", "hedges", "pnl", "hist_var"):  # fmt: skip
                np.testing.assert_array_equal(got[key], want[f"{name}.{key}"][t], f"{name} {key}")
        assert not e._core.two_makers and len(e._core.risk) == 1
    assert want["env.hedge_lots"].any() and want["venv.terminated"].any()  # hedges, autoreset


def test_seeding_is_reproducible() -> None:
    runs = []
    for _ in range(2):
        env = PortfolioEnv(portfolio={"hedge": True, "var_limit": 5.0})
        obs, _ = env.reset(seed=11)
        out = [obs]
        for t in range(50):
            out.append(env.step(np.full(12, 0.1 * (t % 5) - 0.3, np.float32))[0])
        runs.append(np.stack(out))
    np.testing.assert_array_equal(runs[0], runs[1])


def test_gym_make_passes_the_env_checkers_and_make_vec_is_native() -> None:
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    env = gym.make("mm_gym/Portfolio-v0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)
        sb3_check_env(gym.make("mm_gym/Portfolio-v0").unwrapped, warn=True)
    u = env.unwrapped
    assert len(u.feature_names) == env.observation_space.shape[0]
    assert env.action_space.shape == (12,)
    assert u.feature_names[:2] == ("time_left", "var_fraction")
    assert "asset1.inventory" in u.feature_names and "asset0.B.spread_ticks" in u.feature_names
    envs = gym.make_vec("mm_gym/Portfolio-v0", num_envs=2)
    assert isinstance(envs.unwrapped, PortfolioVectorEnv)
    envs.reset(seed=0)
    obs, *_ = envs.step(envs.action_space.sample())
    assert envs.observation_space.contains(obs)
    assert "mm_gym/Portfolio-v0" in mm_gym.PORTFOLIO_ENV_IDS


def test_info_and_render_describe_every_asset() -> None:
    env = PortfolioEnv(render_mode="ansi")
    env.reset(seed=1)
    _, _, _, _, info = env.step(np.zeros(12, np.float32))
    assert info["inventory"].shape == (2,) and info["venue_inventory"].shape == (2, 3)
    np.testing.assert_array_equal(info["inventory"], info["venue_inventory"].sum(1))
    frame = env.render()
    assert "[asset0]" in frame and "[asset1]" in frame and "VaR=" in frame


def test_per_asset_runs_a_multivenue_policy_on_each_assets_block() -> None:
    from baselines import FixedSpread
    from baselines.multivenue import QuoteEverywhere
    from baselines.portfolio import PerAsset

    env = PortfolioEnv(portfolio={"n_assets": 3, "correlation": 0.2})
    obs, _ = env.reset(seed=0)
    for _ in range(5):
        obs, *_ = env.step(np.zeros(18, np.float32))
    policy = PerAsset(lambda: QuoteEverywhere(FixedSpread(2.0)))
    policy.reset(np.random.default_rng(0), env.policy_context())
    got = policy.act(obs[None])
    want = []
    for block, context in zip(env.asset_slices(), env.asset_contexts(), strict=True):
        alone = QuoteEverywhere(FixedSpread(2.0))
        alone.reset(np.random.default_rng(0), context)
        want.append(alone.act(obs[None, block]))
    np.testing.assert_array_equal(got, np.concatenate(want, axis=1))
    assert got.shape == (1, 18) and policy.name == "per_asset_everywhere_fixed_spread"
    with pytest.raises(KeyError, match="asset<a>"):
        policy.reset(np.random.default_rng(0), MultiVenueEnv().policy_context())


@pytest.mark.parametrize("make", [PortfolioEnv, lambda: PortfolioVectorEnv(2)])
def test_a_one_maker_portfolio_has_no_mm2_context(make) -> None:
    # its mm2 is each venue's built-in rival: no learner's seat, context or hedges
    env = make()
    who = type(env).__name__
    with pytest.raises(ValueError, match=rf"{who}.asset_contexts: maker='mm2'.*only 'mm1'"):
        env.asset_contexts("mm2")
    core = env._core
    for method, args in (("context", ()), ("observations", ()), ("infos", (None,))):
        with pytest.raises(ValueError, match=rf"PortfolioCore.{method}: maker='mm2'.*only 'mm1'"):
            getattr(core, method)(*args, maker=1)
    env.reset(seed=0)
    env.step(env.action_space.sample())
    before = pickle.dumps(core)
    with pytest.raises(ValueError, match=r"PortfolioCore.settle: maker='mm2'.*only 'mm1'"):
        core.settle(1)
    assert pickle.dumps(core) == before  # refused before it rolled anything forward
    assert [c.maker for c in env.asset_contexts()] == ["mm1", "mm1"]


def test_a_bad_action_is_described_asset_by_asset_and_nan_is_named():
    env = gym.make("mm_gym/Portfolio-v0", horizon_steps=10)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(12,\) \(asset by asset, a bid and an ask"):
        env.step(np.zeros(6))
    with pytest.raises(ValueError, match="action has NaN or infinite values"):
        env.step(np.full(12, np.nan))
    venues = gym.make("mm_gym/MultiVenue-v0", horizon_steps=10)
    venues.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(6,\) \(a bid and an ask action per venue\)"):
        venues.step(np.zeros(5))
