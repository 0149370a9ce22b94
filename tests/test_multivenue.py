"""mm_gym/MultiVenue-v0: shared price formation, arbitrage, latency, the summed limit, the envs."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from helpers import assert_quotes_rest_latency_later, assert_vector_equals_singles

import mm_gym
from mm_gym.config import ConfigError, MarketConfig
from mm_gym.market import MarketSimulator
from mm_gym.market.views import KIND_ROUTED
from mm_gym.multivenue import (
    DEFAULT_VENUES,
    MultiVenueEnv,
    MultiVenueMarket,
    MultiVenueVectorEnv,
    VenueConfig,
    bps_to_currency_per_lot,
    venue_market_config,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _touch_quotes(n: int, v: int, size: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    return np.full((n, v, 2), 0.25), np.full((n, v, 2), size)


def _crossing(market: MultiVenueMarket) -> float:
    """The largest best bid minus best ask between two different venues, ticks."""
    bids = np.stack([s.book.best_bid for s in market.sims], 1)
    asks = np.stack([s.book.best_ask for s in market.sims], 1)
    worst = -np.inf
    for a in range(market.n_venues):
        for b in range(market.n_venues):
            if a != b:
                worst = max(worst, float((bids[:, a] - asks[:, b]).max()))
    return worst


def test_venue_zero_is_the_single_venue_market() -> None:
    cfg = MarketConfig()
    one, zero = MarketSimulator(cfg, 2), MarketSimulator(cfg, 2, venue=0)
    one.reset(7)
    zero.reset(7)
    q = np.zeros((2, 2, 4))
    for _ in range(50):
        one.step(q)
        zero.step(q)
    for a, b in zip(one.state, zero.state, strict=True):
        np.testing.assert_array_equal(a, b)


def test_venues_share_the_exogenous_path_and_draw_their_own_flow() -> None:
    cfg = mm_gym.preset("switching")
    sims = [MarketSimulator(cfg, 2, venue=v) for v in range(3)]
    for s in sims:
        s.reset(11)
    q = np.zeros((2, 2, 4))
    regimes, sentiment, mids = [], [], []
    for _ in range(400):
        for s in sims:
            s.step(q)
        regimes.append([s.scalars.regime.copy() for s in sims])
        sentiment.append([s.scalars.sentiment.copy() for s in sims])
        mids.append([s.book.mid.copy() for s in sims])
    r, se, mi = np.array(regimes), np.array(sentiment), np.array(mids)
    assert len(np.unique(r[:, 0])) > 1  # the chain switched: the test sees a path
    np.testing.assert_array_equal(r[:, 0], r[:, 1])
    np.testing.assert_array_equal(r[:, 0], r[:, 2])
    np.testing.assert_array_equal(se[:, 0], se[:, 1])
    np.testing.assert_array_equal(se[:, 0], se[:, 2])
    assert not np.array_equal(mi[:, 0], mi[:, 1])  # their own order flow


def test_the_arbitrageurs_leave_no_venue_through_another() -> None:
    market = MultiVenueMarket(MarketConfig(), DEFAULT_VENUES, n=4)
    market.reset()
    fee = max(
        (a.params.taker_fee + b.params.taker_fee) / a.params.value_per_tick_lot
        for a in market.sims
        for b in market.sims
    )
    offsets, sizes = _touch_quotes(4, 3)
    traded, gaps = 0, []
    for _ in range(600):
        market.step(offsets, sizes)
        assert _crossing(market) <= fee
        traded += int(market.arbitrage_lots.sum())
        mids = market.mids()
        gaps.append(np.abs(mids - mids.mean(1, keepdims=True)).mean())
    assert traded > 0  # the venues do drift apart, and get taken
    assert np.mean(gaps) < 1.5  # aligned to about a tick (the spread)


def test_arbitrage_keeps_cash_and_lots_conserved_per_venue() -> None:
    market = MultiVenueMarket(mm_gym.preset("volatile"), DEFAULT_VENUES, n=3)
    market.reset(np.array([True, True, True]))
    offsets, sizes = _touch_quotes(3, 3, size=3.0)
    for _ in range(300):
        market.step(offsets, sizes)
    for s in market.sims:
        acc = s.accounts
        lots = acc.inventory.sum(1) + acc.others_inventory
        cash = acc.cash.sum(1) + acc.others_cash + acc.exchange_income
        np.testing.assert_array_equal(lots, 0.0)
        np.testing.assert_allclose(cash, 0.0, atol=1e-6)


def test_quotes_slide_off_other_venues_best_prices() -> None:
    market = MultiVenueMarket(mm_gym.preset("volatile"), DEFAULT_VENUES, n=4)
    market.reset()
    sizes = np.ones((4, 3, 2))
    rng = np.random.default_rng(1)
    for _ in range(300):
        away = market._other_venues_best()
        offsets = rng.uniform(-1.0, 3.0, (4, 3, 2))  # often through the other venues
        market.step(offsets, sizes)
        # at placement (the kernel's first act), no mm1 quote locked or crossed another venue;
        # a quote still resting (not filled) shows its placed price
        for v, s in enumerate(market.sims):
            o = s.orders
            placed = o.size[:, 0, 0] > 0
            assert (o.tick[placed, 0, 0] < away[placed, v, 1]).all()
            placed = o.size[:, 0, 1] > 0
            assert (o.tick[placed, 0, 1] > away[placed, v, 0]).all()


def test_wealth_marks_the_summed_inventory_at_the_consolidated_mid() -> None:
    market = MultiVenueMarket(MarketConfig(), DEFAULT_VENUES, n=3)
    market.reset()
    offsets, sizes = _touch_quotes(3, 3, size=2.0)
    for _ in range(200):
        market.step(offsets, sizes)
    bid = np.max([s.book.best_bid for s in market.sims], axis=0)
    ask = np.min([s.book.best_ask for s in market.sims], axis=0)
    np.testing.assert_array_equal(market.consolidated_mid(), 0.5 * (bid + ask))
    cash = sum(s.accounts.cash[:, 0] for s in market.sims)
    inv = market.inventories().sum(1)
    np.testing.assert_allclose(market.wealth(), cash + inv * 0.5 * (bid + ask) * market.value)
    assert (inv != 0).any()


def test_maker_fees_follow_each_venues_schedule() -> None:
    market = MultiVenueMarket(MarketConfig(), DEFAULT_VENUES, n=2)
    market.reset()
    offsets, sizes = _touch_quotes(2, 3)
    for _ in range(300):
        market.step(offsets, sizes)
    for venue, s in zip(DEFAULT_VENUES, market.sims, strict=True):
        rebate = bps_to_currency_per_lot(market.market_config, -venue.maker_fee_bps)
        vol = s.accounts.volume[:, 0]
        assert vol.sum() > 0
        np.testing.assert_allclose(s.accounts.fees[:, 0], vol * rebate, rtol=1e-12)


def test_a_slow_venue_places_the_quote_sent_latency_steps_earlier() -> None:
    venues = (VenueConfig("fast", latency_steps=0), VenueConfig("slow", latency_steps=2))
    market = MultiVenueMarket(MarketConfig(), venues, n=1)
    assert_quotes_rest_latency_later(market, steps=8, period=3, latency={0: 2})


def test_the_limit_binds_on_the_inventory_summed_over_venues() -> None:
    cfg = mm_gym.with_overrides(mm_gym.preset("shock_heavy"), {"makers.mm1_limit": 6})
    market = MultiVenueMarket(cfg, DEFAULT_VENUES, n=4)
    market.reset()
    offsets, sizes = _touch_quotes(4, 3, size=4.0)
    peak = 0
    for _ in range(800):
        market.step(offsets, sizes)
        total = np.abs(market.inventories().sum(1)).max()
        assert total <= 6
        peak = max(peak, total)
    assert peak == 6  # it does get there


def test_vector_env_equals_single_envs_across_autoresets() -> None:
    kw = {"horizon_steps": 40}
    singles = [MultiVenueEnv(**kw) for _ in range(3)]
    assert_vector_equals_singles(MultiVenueVectorEnv(3, **kw), singles, 5, 100)


def test_gym_make_passes_the_env_checker_and_make_vec_is_native() -> None:
    env = gym.make("mm_gym/MultiVenue-v0")
    check_env(env.unwrapped, skip_render_check=True)
    assert len(env.unwrapped.feature_names) == env.observation_space.shape[0]
    assert env.action_space.shape == (6,)
    envs = gym.make_vec("mm_gym/MultiVenue-v0", num_envs=2)
    assert isinstance(envs.unwrapped, MultiVenueVectorEnv)
    envs.reset(seed=0)
    obs, *_ = envs.step(envs.action_space.sample())
    assert envs.observation_space.contains(obs)


def test_info_and_render_describe_every_venue() -> None:
    env = MultiVenueEnv(render_mode="ansi")
    env.reset(seed=1)
    _, _, _, _, info = env.step(np.zeros(6, np.float32))
    assert info["venue_inventory"].shape == (3,)
    assert info["inventory"] == info["venue_inventory"].sum()
    assert info["fills"] == info["venue_fills"].sum()
    frame = env.render()
    assert all(v.name + ":" in frame for v in DEFAULT_VENUES)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"venues": [{"taker_fee_bps": -1.0}]}, r"venues\[0\].*taker_fee_bps=-1"),
        ({"venues": [{"name": "X"}, {"name": "X"}]}, r"venues\[1\]\.name='X' repeats"),
        ({"venues": [{"speed": 1}]}, r"venues\[0\] has unknown key 'speed'"),
        ({"venues": []}, r"venues has 0 entries"),
        ({"venues": "A"}, r"must be a list of venues"),
        ({"action_type": "discrete"}, r"action_type='discrete'"),
    ],
)
def test_bad_settings_are_named(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        MultiVenueEnv(**kwargs)


def test_same_step_autoreset_is_refused_naming_the_modes_it_takes() -> None:
    with pytest.raises(
        ConfigError, match=r"SAME_STEP is not supported .*\['NEXT_STEP', 'DISABLED'\]"
    ):
        MultiVenueVectorEnv(1, autoreset_mode="SAME_STEP")


def test_a_finished_episode_refuses_steps() -> None:
    env = MultiVenueEnv(horizon_steps=3)
    env.reset(seed=0)
    assert [env.step(np.zeros(6))[2] for _ in range(3)] == [False, False, True]
    with pytest.raises(RuntimeError, match="finished episode"):
        env.step(np.zeros(6))
    env.reset()
    env.step(np.zeros(6))


def test_bad_actions_are_refused_with_the_shape() -> None:
    env = MultiVenueEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(6,\)"):
        env.step(np.zeros(2))
    with pytest.raises(ValueError, match="NaN"):
        env.step(np.full(6, np.nan))


def test_venue_market_config_converts_bps_at_the_start_price() -> None:
    cfg = MarketConfig()
    v = VenueConfig("X", maker_fee_bps=-0.1, taker_fee_bps=0.3, depth_mult=2.0)
    out = venue_market_config(cfg, v, 3)
    notional = cfg.price0_ticks * cfg.value_per_tick_lot
    assert out.makers.maker_rebate == pytest.approx(0.1e-4 * notional)
    assert out.makers.taker_fee == pytest.approx(0.3e-4 * notional)
    assert out.flow.lo_rate == pytest.approx(2.0 * cfg.flow.lo_rate)
    assert out.makers.mm1_limit == 3 * cfg.makers.mm1_limit


@pytest.fixture(scope="module")
def facts() -> dict[str, dict[str, float]]:
    from mm_gym.multivenue.facts import measure

    return measure(MarketConfig(), DEFAULT_VENUES, n_markets=64, steps=3_000, seed=0)


def test_the_consolidated_mid_has_the_stylized_facts(facts: dict[str, dict[str, float]]) -> None:
    c = facts["consolidated"]
    # the realism report's targets (mm_gym.realism.facts)
    assert c["max_abs_acf_2_20"] < 0.03
    assert c["kurtosis_1"] >= 3.0
    assert c["kurtosis_100"] > 0.5
    assert c["acf_abs_10"] >= 0.1
    assert c["acf_abs_50"] >= 0.05
    for v in DEFAULT_VENUES:
        assert facts[v.name]["mean_abs_gap_ticks"] < 1.0  # the venues stay aligned
    assert 0.0 < facts["asset"]["steps_with_arbitrage"] < 0.5


@pytest.mark.xfail(
    strict=True,
    reason="known defect (issue #15): the consolidated mid reverts, OOS R^2 about 0.15 "
    "(lag-1 ACF -0.36) and each venue's 0.05-0.20, against the realism target 0.005. Measured "
    "(benchmarks/mv_maker_skew.py, held-out seeds, paired): a taker loses on it after costs; "
    "a maker at the touch on every venue leaning its quotes on the OLS forecast earns about "
    "+10 per episode over the same maker unleaned (~505, i.e. 2-3 %; +7.3 [-1.6, +16.2] to "
    "+13.0 [+0.9, +26.1] on three seed sets), nothing on venue A alone or one tick behind the "
    "touch: a small free lunch from the best-of-venue prices' bounce (without mm1 their mid's "
    "R^2 0.086, the mean of the venues' mids 0.003) and mm1's own stale quotes on the slow "
    "venues (B/C R^2 0.19/0.16 with them, 0.014/0.011 without); README 'Several venues'",
)
def test_no_mid_is_linearly_predictable_from_its_past_returns(
    facts: dict[str, dict[str, float]],
) -> None:
    from mm_gym.realism.facts import R2_TARGET

    bad = {
        name: round(facts[name]["predictor_oos_r2"], 4)
        for name in [v.name for v in DEFAULT_VENUES] + ["consolidated"]
        if not facts[name]["predictor_oos_r2"] < R2_TARGET
    }
    assert not bad, f"OOS R^2 at or above {R2_TARGET}: {bad}"


def test_an_episode_starts_at_the_steady_state_spread() -> None:
    from mm_gym.multivenue.facts import spread_by_step

    # Warmed up alone and then uncrossed, the venues started at 4.7-5.9 ticks and needed four
    # steps to come down to their ~1.9; warmed up together they start where they stay.
    spreads = spread_by_step(MarketConfig(), n_markets=128, steps=100, seed=3)
    for name, s in spreads.items():
        steady = s[50:].mean()
        assert abs(s[0] - steady) < 0.35, (name, s[:5], steady)
        assert np.abs(s[:5] - steady).max() < 0.5, (name, s[:5], steady)


def test_takers_never_trade_through_another_venue_and_are_routed() -> None:
    market = MultiVenueMarket(mm_gym.preset("volatile"), DEFAULT_VENUES, n=4)
    for s in market.sims:
        s.record = True
    market.reset()
    offsets, sizes = _touch_quotes(4, 3)
    routed, routed_fills = 0, 0
    for _ in range(400):
        market.step(offsets, sizes)
        routed += int(market.routed_lots.sum())
        for s in market.sims:
            r = s.fills.records()
            sc = s.scalars
            taker = r["kind"] <= 2  # noise, informed, shock: protected
            bid_hit = taker & (r["side"] == 0)  # a taker sold into a resting bid
            ask_hit = taker & (r["side"] == 1)
            assert (r["price_ticks"][bid_hit] >= sc.protect_bid[r["market"][bid_hit]]).all()
            assert (r["price_ticks"][ask_hit] <= sc.protect_ask[r["market"][ask_hit]]).all()
            routed_fills += int(np.sum(r["kind"] == KIND_ROUTED))
    assert routed > 0 and routed_fills > 0  # the better prices elsewhere do get the flow


def test_a_single_venue_has_no_protection() -> None:
    sim = MarketSimulator(MarketConfig(), 2)
    sim.reset(0)
    assert (sim.scalars.protect_bid == -np.inf).all() and (sim.scalars.protect_ask == np.inf).all()
    sim.step(np.zeros((2, 2, 4)))
    assert (sim.scalars.routed_buy_lots == 0).all() and (sim.scalars.routed_sell_lots == 0).all()


def _routing_trace(roots: list[int], steps: int) -> list[list[tuple[np.ndarray, ...]]]:
    """Per step and market: each venue's market orders, fills and unfilled lots, and routed lots.

    ``len(roots)`` markets of the volatile preset (routing every step or so), mm1 at the touch.
    """
    n = len(roots)
    market = MultiVenueMarket(mm_gym.preset("volatile"), DEFAULT_VENUES, n=n)
    for s in market.sims:
        s.record = True
    market.set_roots(roots, np.random.default_rng(0))
    market.reset()
    offsets, sizes = _touch_quotes(n, 3)
    trace = []
    for _ in range(steps):
        market.step(offsets, sizes)
        per_market: list[tuple[np.ndarray, ...]] = [() for _ in range(n)]
        for s in market.sims:
            orders, fills = s.market_orders.records(), s.fills.records()
            for m in range(n):
                own_orders = orders[orders["market"] == m][["size_lots", "side", "kind"]]
                own_fills = fills[fills["market"] == m][["maker", "side", "price_ticks", "kind"]]
                unfilled = np.array([s.scalars.unfilled_lots[m]])
                per_market[m] += (own_orders, own_fills, unfilled)
        trace.append([(*x, np.array([market.routed_lots[m]])) for m, x in enumerate(per_market)])
    return trace


def test_a_markets_routing_is_the_same_alone_and_in_a_batch() -> None:
    """Routing stops per market: another market still routing adds no round to this one's."""
    roots, steps = [11, 12, 13, 14], 150
    batch = _routing_trace(roots, steps)
    for j, root in enumerate(roots):
        alone = _routing_trace([root], steps)
        for t in range(steps):
            for got, want in zip(batch[t][j], alone[t][0], strict=True):
                np.testing.assert_array_equal(got, want, err_msg=f"market {j}, step {t}")
    # A routed order that executed nothing is not recorded (its lots stay routed away).
    for step in batch:
        for market in step:
            for orders in market[:-1][0::3]:  # each venue's orders (the last: routed lots)
                assert not ((orders["kind"] == KIND_ROUTED) & (orders["size_lots"] == 0)).any()
