"""The multi-venue baselines (baselines.multivenue) and their tournament (mm_gym.multivenue)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import mm_gym
from baselines import AvellanedaStoikov, FixedSpread
from baselines.multivenue import QuoteEverywhere, RoutedAS, rebate_ticks_per_lot, routed_as_for
from mm_gym.config import ConfigError, MarketConfig, with_overrides
from mm_gym.multivenue import (
    DEFAULT_VENUES,
    MultiVenueEnv,
    MultiVenueVectorEnv,
    VenueConfig,
    bps_to_currency_per_lot,
)
from mm_gym.multivenue import tournament as tour

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _two_venues(rebate_b_bps: float) -> list[VenueConfig]:
    """Two venues equal in everything but B's maker fee (A's is -0.05 bps)."""
    return [
        VenueConfig("A", maker_fee_bps=-0.05, taker_fee_bps=0.2, latency_steps=0),
        VenueConfig("B", maker_fee_bps=-rebate_b_bps, taker_fee_bps=0.2, latency_steps=0),
    ]


def _route(venues: list[VenueConfig], steps: int, n: int = 16) -> tuple[RoutedAS, np.ndarray]:
    """Run RoutedAS (touch quotes, top 1) for ``steps``; the choice counts of the second half."""
    env = MultiVenueVectorEnv(n, venues=venues, horizon_steps=steps + 10)
    policy = RoutedAS(FixedSpread(0.25), top_k=1, explore=0.05)
    obs, _ = env.reset(seed=list(range(100, 100 + n)))
    policy.reset(np.random.default_rng(3), env.policy_context())
    half = np.zeros(2, np.int64)
    for t in range(steps):
        if t == steps // 2:
            half = policy.choice_counts.copy()
        obs, *_ = env.step(policy.act(obs))
    return policy, policy.choice_counts - half


def test_router_converges_to_the_venue_with_the_higher_rebate() -> None:
    # B rebates 2 bps = 2 ticks per lot (price 100, tick 0.01), A 0.05: B is clearly better.
    policy, late = _route(_two_venues(2.0), 600)
    share_b = late[1] / late.sum()
    assert share_b > 0.85, f"router chose B in {share_b:.2f} of the late steps"
    assert policy.router is not None
    ev = policy.router.expected_value
    assert np.mean(ev[:, 1] > ev[:, 0]) >= 0.9, ev


def test_router_spreads_over_equal_venues() -> None:
    # Equal venues: each environment settles on whichever looked better, so pooled ~ half each.
    _, late = _route(_two_venues(0.05), 600)
    share_b = late[1] / late.sum()
    assert 0.2 < share_b < 0.8, f"router chose B in {share_b:.2f} of the late steps"


def test_routed_as_quotes_on_top_k_venues_and_parks_the_others() -> None:
    env = MultiVenueVectorEnv(8, horizon_steps=200)
    policy = RoutedAS(FixedSpread(0.25), top_k=2)
    obs, _ = env.reset(seed=list(range(8)))
    policy.reset(np.random.default_rng(0), env.policy_context())
    for _ in range(50):
        actions = policy.act(obs)
        parked = (actions.reshape(8, 3, 2) == 1.0).all(axis=2)
        np.testing.assert_array_equal(parked.sum(axis=1), 1)
        obs, *_ = env.step(actions)
    assert policy.choice_counts.sum() == 50 * 8 * 2


def _synthesised_venue_pnl(
    fill_price: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The router's fills summed per venue (ticks, at the last mid), the true PnL, the lots."""
    import baselines.router

    fills: list[tuple[np.ndarray, ...]] = []
    record = baselines.router.VenueRouter.record_fills

    def spy(self: Any, step: int, env: Any, ven: Any, side: Any, price: Any, *rest: Any) -> None:
        _mid, lots, rebate = rest
        fills.append(tuple(np.broadcast_arrays(env, ven, side, price, lots, rebate)))
        record(self, step, env, ven, side, price, *rest)

    monkeypatch.setattr(baselines.router.VenueRouter, "record_fills", spy)
    policy = RoutedAS(FixedSpread(0.25), top_k=2, explore=0.3, fill_price=fill_price)
    env = MultiVenueVectorEnv(4, horizon_steps=800)
    obs, _ = env.reset(seed=[1, 2, 3, 4])
    policy.reset(np.random.default_rng(0), env.policy_context())
    for _ in range(600):
        obs, *_ = env.step(policy.act(obs))
    policy.act(obs)  # takes in the last step's fills
    e, v, side, price, lots, rebate = (np.concatenate(x) for x in zip(*fills, strict=True))
    est, lots_v = np.zeros((4, 3)), np.zeros((4, 3))
    np.add.at(est, (e, v), lots * (side * (policy._mid[e, v] - price) + rebate))
    np.add.at(lots_v, (e, v), lots)
    true = tour.venue_local_pnl(env.unwrapped._core)  # type: ignore[attr-defined]
    return est, true / env.market_config.value_per_tick_lot, lots_v


def test_router_fills_priced_from_its_quotes_add_up_to_each_venues_pnl(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    est, true, lots = _synthesised_venue_pnl("quotes", monkeypatch)
    assert lots.min() > 10  # every venue traded
    np.testing.assert_allclose(est[:, 0], true[:, 0], atol=1e-9)  # latency 0: exact
    assert np.abs(est - true).sum() / lots.sum() < 0.01  # latency: within a tick on a few lots


def test_router_fills_priced_from_the_edge_feature_miss_the_venues_pnl(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The comparison that makes "quotes" the default: the edge pricing errs by several times more.
    est, true, lots = _synthesised_venue_pnl("edge", monkeypatch)
    assert np.abs(est - true).sum() / lots.sum() > 0.03


def test_quote_everywhere_on_one_venue_quotes_as_the_single_venue_baseline() -> None:
    # One venue with the single-venue market's fees (0.2 rebate, 0.3 fee per lot = 0.2 / 0.3 bps
    # at price 100) and no latency: the same market, so the same quotes, step by step.
    single = gym.make("mm_gym/MarketMaking-v1", horizon_steps=300)
    venue = VenueConfig("A", maker_fee_bps=-0.2, taker_fee_bps=0.3, latency_steps=0)
    multi = MultiVenueEnv(venues=[venue], horizon_steps=300)
    p1 = AvellanedaStoikov(0.05, 1.2)
    p2 = QuoteEverywhere(AvellanedaStoikov(0.05, 1.2))
    o1, _ = single.reset(seed=5)
    o2, _ = multi.reset(seed=5)
    p1.reset(np.random.default_rng(0), single.unwrapped.policy_context())  # type: ignore[attr-defined]
    p2.reset(np.random.default_rng(0), multi.policy_context())
    inventories = set()
    for t in range(300):
        a1, a2 = p1.act(o1[None]), p2.act(o2[None])
        np.testing.assert_array_equal(a1, a2, err_msg=f"step {t}")
        o1, _, _, _, i1 = single.step(a1[0])
        o2, _, _, _, i2 = multi.step(a2[0])
        inventories.add(i1["inventory"])
        assert i1["pnl"] == i2["pnl"]
    assert inventories - {0}  # a non-zero inventory: the skew was exercised


def test_rebate_in_ticks_per_lot_follows_the_bps_conversion() -> None:
    # Default preset: price 100, tick 0.01, lot value 1 per tick: 1 bps = 1 tick per lot.
    assert rebate_ticks_per_lot(-1.0, 100.0, 0.01) == pytest.approx(1.0)
    cfg = with_overrides(MarketConfig(), {"price0_ticks": 25_000, "tick_size": 0.02})  # price 500
    ticks = rebate_ticks_per_lot(-0.08, cfg.price0_ticks * cfg.tick_size, cfg.tick_size)
    currency = bps_to_currency_per_lot(cfg, 0.08)
    assert ticks * cfg.value_per_tick_lot == pytest.approx(currency)
    env = MultiVenueVectorEnv(1, config=cfg)
    assert routed_as_for(env, FixedSpread(1.0)).start_price == pytest.approx(500.0)


def test_attribution_sums_to_the_total_pnl_and_matches_the_env() -> None:
    policy = QuoteEverywhere(FixedSpread(0.25))
    seeds = [7, 8, 9, 10]
    res = tour.run_batch(policy, seeds, 150, np.random.default_rng(0))
    parts = sum(res[p] for p in tour.PARTS)
    np.testing.assert_allclose(parts.sum(axis=1), res["total_pnl"], rtol=1e-9, atol=1e-9)
    # The same episodes played directly report the same PnL.
    env = MultiVenueVectorEnv(4, horizon_steps=150)
    obs, _ = env.reset(seed=seeds)
    policy.reset(np.random.default_rng(0), env.policy_context())
    for _ in range(150):
        obs, _, _, _, info = env.step(policy.act(obs))
    np.testing.assert_allclose(res["total_pnl"], info["pnl"], rtol=1e-9)
    # Rebates are each venue's maker rebate per filled lot (mm1 never takes).
    cfg = mm_gym.preset("default")
    per_lot = [bps_to_currency_per_lot(cfg, -v.maker_fee_bps) for v in DEFAULT_VENUES]
    np.testing.assert_allclose(res["rebates_fees"], res["fills"] * per_lot, rtol=1e-9)
    assert (res["spread_capture"] >= 0).all() and res["fills"].sum() > 0


def test_contestants_see_the_same_exogenous_path() -> None:
    episodes = tour.play(
        ["routed_as", "everywhere_touch"], episodes=4, steps=120, batch=2, progress=False
    )
    hashes = episodes.pivot(index="seed", columns="contestant", values="path_hash")
    assert (hashes["routed_as"] == hashes["everywhere_touch"]).all()
    assert hashes["routed_as"].nunique() == 4  # a different path per episode
    pnl = episodes.pivot(index="seed", columns="contestant", values="total_pnl")
    assert (pnl["routed_as"] != pnl["everywhere_touch"]).any()


def test_cli_writes_its_files_and_refuses_to_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mv"
    argv = [
        *("--episodes", "2", "--steps", "60", "--contestants", "everywhere_fixed", "routed_as"),
        *("--baseline", "everywhere_fixed", "--out", str(out), "--no-progress"),
    ]
    assert tour.main(argv) == 0
    for name in ("episodes.csv", "summary.csv", "attribution.csv", "plots/attribution.png"):
        assert (out / name).stat().st_size > 0, name
    assert (out / tour.MARKER).exists()
    import pandas as pd

    summary = pd.read_csv(out / "summary.csv").set_index("contestant")
    assert summary.loc["everywhere_fixed", "total_pnl_diff"] == 0.0
    assert list(summary.n_episodes) == [2, 2]
    capsys.readouterr()
    assert tour.main(argv) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert tour.main([*argv, "--overwrite"]) == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"top_k": 0}, r"RoutedAS\.top_k=0"),
        ({"explore": 1.5}, r"RoutedAS\.explore=1\.5"),
        ({"halflife_fills": 0.0}, r"RoutedAS\.halflife_fills=0\.0"),
        ({"adverse_horizon_steps": -1}, r"RoutedAS\.adverse_horizon_steps=-1"),
        ({"start_price": 0.0}, r"RoutedAS\.start_price=0\.0"),
        ({"fill_price": "mid"}, r"RoutedAS\.fill_price='mid' must be one of"),
    ],
)
def test_bad_parameters_are_named(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        RoutedAS(FixedSpread(1.0), **kwargs)


def test_bad_base_and_too_many_venues_are_named() -> None:
    with pytest.raises(ConfigError, match=r"QuoteEverywhere\.base"):
        QuoteEverywhere("fixed")  # type: ignore[arg-type]
    env = MultiVenueVectorEnv(1)
    with pytest.raises(ConfigError, match=r"RoutedAS\.top_k=4"):
        RoutedAS(FixedSpread(1.0), top_k=4).reset(np.random.default_rng(0), env.policy_context())


@pytest.mark.parametrize("mapping", ["touch", "mid", "spread_skew"])
def test_routed_as_parks_the_venues_it_leaves_at_the_widest_quote(mapping: str) -> None:
    """Venues RoutedAS does not choose get both sides at max_offset_ticks under every mapping,
    and quoted_venues counts exactly the chosen ones as quoted."""
    from mm_gym.actions import actions_to_offsets
    from mm_gym.multivenue.routing import quoted_venues

    n, m = 8, 2.0
    env = MultiVenueVectorEnv(n, horizon_steps=40, max_offset_ticks=m, action_mapping=mapping)
    policy = RoutedAS(FixedSpread(0.25), top_k=1, explore=0.05)
    obs, _ = env.reset(seed=list(range(n)))
    policy.reset(np.random.default_rng(0), env.policy_context())
    for _ in range(20):
        actions = policy.act(obs)
        offsets = actions_to_offsets(actions.reshape(n, -1, 2), m, mapping)
        quoted = quoted_venues(actions, "per_venue", 0, mapping)
        assert quoted.sum() == n  # top 1: one venue quoted in each market
        assert (offsets[~quoted] == m).all() and (offsets[quoted] < m).all()
        obs, *_ = env.step(actions)
