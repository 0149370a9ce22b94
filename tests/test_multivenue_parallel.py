"""The two-maker multi-venue market and its PettingZoo form (issue #15).

The built-in rival cannot be reproduced through mm2's quote path on venues it crosses: the
rival's quote is placed where it falls, while every quote sent through
:meth:`MultiVenueMarket.step` slides off the other venues' best prices (test below). The
equivalence tests therefore use one venue, and several venues with a rival wide enough never
to reach another venue's best price, where the two must agree bit for bit.
"""

from __future__ import annotations

import pickle
import re

import numpy as np
import pytest
from helpers import assert_quotes_rest_latency_later
from pettingzoo.test import parallel_api_test, parallel_seed_test, render_test
from pettingzoo.utils.conversions import parallel_to_aec

import mm_gym
from mm_gym.actions import offsets_to_actions
from mm_gym.config import ConfigError
from mm_gym.envs.config import EnvConfig
from mm_gym.market.state import A_INV, F_FLOW_ABS, F_FLOW_SIGNED
from mm_gym.multivenue import (
    DEFAULT_VENUES,
    MultiVenueCore,
    MultiVenueEnv,
    MultiVenueMarket,
    VenueConfig,
    parallel_env,
)
from mm_gym.portfolio import parallel_env as portfolio_parallel_env

KW = {"horizon_steps": 60}


def _rival_quotes(ref: MultiVenueMarket, market: MultiVenueMarket) -> tuple[np.ndarray, ...]:
    """The built-in rival's offsets and sizes (``ref``'s parameters) in ``market``'s state.

    The arithmetic of ``mm_gym.market.kernels._builtin_rival``, in the same order.
    """
    n, nv = market.n, market.n_venues
    off, size = np.empty((n, nv, 2)), np.empty((n, nv, 2))
    for v, (r, sim) in enumerate(zip(ref.sims, market.sims, strict=True)):
        p, s = r.params, sim.state
        q = s.acct[:, 1, A_INV] / p.mm2_limit
        fa = s.fs[:, F_FLOW_ABS]
        moving = fa > 1e-12
        flow = np.where(moving, s.fs[:, F_FLOW_SIGNED] / np.where(moving, fa, 1.0), 0.0)
        shift = -p.rival_inventory_skew_ticks * q + p.rival_flow_skew_ticks * flow
        off[:, v, 0] = p.rival_half_spread_ticks - shift
        off[:, v, 1] = p.rival_half_spread_ticks + shift
        size[:, v] = p.rival_size_lots
    return off, size


@pytest.mark.parametrize(
    ("preset", "venues", "overrides"),
    [
        # default limits: with one venue the summed limit is the venue's
        ("volatile", (VenueConfig("A"),), {}),
        # a rival 3 ticks wide does not reach another venue's best in these episodes and still
        # trades (4 ticks wide it traded only while the venues warmed up alone started far
        # apart); a large limit keeps mm2's summed limit off
        ("default", DEFAULT_VENUES, {"rival.half_spread_ticks": 3.0, "makers.mm2_limit": 10**5}),
    ],
    ids=["one-venue", "three-venues-wide-rival"],
)
def test_mm2_fed_the_builtin_rivals_quotes_reproduces_the_one_maker_market(
    preset, venues, overrides
):
    cfg = mm_gym.with_overrides(mm_gym.preset(preset), {"horizon_steps": 500, **overrides})
    n, nv = 4, len(venues)
    one = MultiVenueCore(cfg, EnvConfig(), venues, n)
    two = MultiVenueCore(cfg, EnvConfig(), venues, n, two_makers=True, mm2_latency=(0,) * nv)
    for c in (one, two):
        c.set_roots(3, np.random.default_rng(0))
        c.start()
    rng = np.random.default_rng(5)
    for _ in range(400):
        offsets = rng.uniform(-0.5, 5.0, (n, nv, 2))
        sizes = rng.integers(0, 4, (n, nv, 2)).astype(np.float64)
        mm2 = _rival_quotes(one, two)
        one.step(offsets, sizes)
        two.step(offsets, sizes, None, mm2)
        np.testing.assert_array_equal(one.settle()[0], two.settle()[0])
        np.testing.assert_array_equal(one.observations(), two.observations())
        np.testing.assert_array_equal(one.wealth(1), two.wealth(1))  # mm2 is the rival
        for a, b in zip(one.sims, two.sims, strict=True):
            np.testing.assert_array_equal(a.orders.tick, b.orders.tick)
            np.testing.assert_array_equal(a.orders.size, b.orders.size)
    assert np.abs(one.inventories(1)).max() > 0  # the rival traded


def test_parallel_env_with_mm2_quoting_the_rival_equals_the_one_maker_env() -> None:
    # through the actions: offsets_to_actions of the rival's offsets, quote_size_lots its size
    kw = {"venues": (VenueConfig("A"),), "mm2_limit": 10**5, "horizon_steps": 300}
    kw["quote_size_lots"] = mm_gym.MarketConfig().rival.size_lots
    one = MultiVenueEnv(**kw)
    par = parallel_env(mm2_latency=(0,), **kw)
    obs1, _ = one.reset(seed=8)
    obs2, _ = par.reset(seed=8)
    np.testing.assert_array_equal(obs1, obs2["mm1"])
    core = par._core
    rng = np.random.default_rng(1)
    done = False
    while not done:
        a1 = rng.uniform(-1, 1, one.action_space.shape)
        offsets, _ = _rival_quotes(one._core, core)
        a2 = offsets_to_actions(offsets[0], core.max_offset, core.mapping).reshape(-1)
        obs1, r1, done, _, info1 = one.step(a1)
        obs2, r2, _, _, info2 = par.step({"mm1": a1, "mm2": a2})
        np.testing.assert_array_equal(obs1, obs2["mm1"])
        assert r1 == r2["mm1"]
        assert info1["pnl"] == info2["mm1"]["pnl"]
    assert par.agents == []
    assert (info2["mm2"]["venue_inventory"] != 0).any() or info2["mm2"]["pnl"] != 0.0


def _placed_through(market: MultiVenueMarket, k: int, away: np.ndarray) -> np.ndarray:
    """``(n,)`` whether a quote of maker ``k`` rests at or through another venue's best."""
    out = np.zeros(market.n, bool)
    for v, s in enumerate(market.sims):
        o = s.orders
        out |= (o.size[:, k, 0] > 0) & (o.tick[:, k, 0] >= away[:, v, 1])
        out |= (o.size[:, k, 1] > 0) & (o.tick[:, k, 1] <= away[:, v, 0])
    return out


def test_the_builtin_rival_rests_through_other_venues_where_mm2_slides() -> None:
    cfg = mm_gym.preset("volatile")
    n = 4
    one = MultiVenueMarket(cfg, DEFAULT_VENUES, n)
    two = MultiVenueMarket(cfg, DEFAULT_VENUES, n, two_makers=True, mm2_latency=(0, 0, 0))
    one.reset()
    two.reset()
    rng = np.random.default_rng(2)
    rival_through = 0
    for _ in range(200):
        offsets = rng.uniform(0.0, 4.0, (n, 3, 2))
        sizes = np.ones((n, 3, 2))
        away1, away2 = one._other_venues_best(), two._other_venues_best()
        mm2 = _rival_quotes(one, two)
        one.step(offsets, sizes)
        two.step(offsets, sizes, None, (mm2[0] - 1.0, mm2[1]))  # a tick inside the rival
        rival_through += int(_placed_through(one, 1, away1).sum())
        assert not _placed_through(two, 1, away2).any()
    assert rival_through > 0


def test_cash_and_lots_are_conserved_and_mm2s_summed_limit_binds() -> None:
    cfg = mm_gym.with_overrides(mm_gym.preset("shock_heavy"), {"makers.mm2_limit": 5})
    n = 3
    market = MultiVenueMarket(cfg, DEFAULT_VENUES, n, two_makers=True)
    market.reset()
    rng = np.random.default_rng(4)
    peak = 0
    for _ in range(600):
        quotes = [(rng.uniform(0.0, 2.0, (n, 3, 2)), np.full((n, 3, 2), 3.0)) for _ in range(2)]
        market.step(*quotes[0], None, quotes[1])
        total = np.abs(market.inventories(1).sum(axis=1)).max()
        assert total <= 5
        peak = max(peak, total)
    assert peak == 5  # it does get there
    for s in market.sims:
        acc = s.accounts
        assert (acc.inventory[:, 1] != 0).any() or (acc.cash[:, 1] != 0).any()
        np.testing.assert_array_equal(acc.inventory.sum(1) + acc.others_inventory, 0.0)
        cash = acc.cash.sum(1) + acc.others_cash + acc.exchange_income
        np.testing.assert_allclose(cash, 0.0, atol=1e-6)


def test_mm2s_quote_rests_exactly_its_latency_later() -> None:
    venues = (VenueConfig("fast"), VenueConfig("slow"))
    market = MultiVenueMarket(mm_gym.MarketConfig(), venues, 1, two_makers=True, mm2_latency=(0, 3))
    # mm1 has no latency on either venue
    assert_quotes_rest_latency_later(market, steps=9, period=4, latency={0: 0, 1: 3})


@pytest.mark.parametrize("action_form", ["per_venue", "routed"])
def test_parallel_env_passes_the_pettingzoo_api_and_seed_tests(action_form) -> None:
    parallel_api_test(parallel_env(max_cycles=30, action_form=action_form), num_cycles=60)
    parallel_seed_test(lambda: parallel_env(max_cycles=30, action_form=action_form), 60)


def _run(seed: int, env=None, steps: int = 40) -> list[np.ndarray]:
    env = parallel_env(**KW) if env is None else env
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(0)
    out = [obs["mm1"], obs["mm2"]]
    for _ in range(steps):
        acts = {a: rng.uniform(-1, 1, env.action_space(a).shape) for a in env.agents}
        obs, rew, _, _, info = env.step(acts)
        out += [obs["mm1"], obs["mm2"], np.array([rew["mm1"], rew["mm2"]])]
        out += [info["mm2"]["venue_inventory"]]
    return out


def test_same_seed_gives_the_same_trajectories() -> None:
    env = parallel_env(**KW)
    _run(9, env, steps=25)  # mid-episode: the reset must clear mm2's latency buffers too
    a, b, c = _run(4), _run(4, env), _run(5)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert any(not np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_each_agent_observes_from_its_own_seat() -> None:
    env = parallel_env(mm1_limit=10, mm2_limit=40, **KW)
    env.reset(seed=1)
    names = env.feature_names
    rng = np.random.default_rng(3)
    for _ in range(30):
        acts = {a: rng.uniform(-1, 1, env.action_space(a).shape) for a in env.agents}
        obs, _, _, _, info = env.step(acts)
    col = {f: i for i, f in enumerate(names)}
    for v in env.venues:
        for own, rival in (
            ("own_bid_offset", "rival_bid_offset"),
            ("own_ask_offset", "rival_ask_offset"),
        ):
            assert obs["mm1"][col[f"{v.name}.{own}"]] == obs["mm2"][col[f"{v.name}.{rival}"]]
    for agent, limit in (("mm1", 10), ("mm2", 40)):
        inv = info[agent]["inventory"]
        assert obs[agent][col["inventory"]] == np.float32(np.clip(inv / limit, -1, 1))
        assert env.policy_context(agent).inventory_limit == limit
    assert (
        info["mm1"]["inventory"] != info["mm2"]["inventory"]
        or info["mm1"]["pnl"] != info["mm2"]["pnl"]
    )


def test_each_agent_sees_its_own_latency_and_fill_rate() -> None:
    env = parallel_env(mm2_latency=[4, 0, 2], **KW)
    env.reset(seed=2)
    col = {f: i for i, f in enumerate(env.feature_names)}
    rng = np.random.default_rng(5)
    for _ in range(40):
        acts = {a: rng.uniform(-1, 0, env.action_space(a).shape) for a in env.agents}
        obs, _, _, _, _ = env.step(acts)
    rates = env._core.fill_rates
    assert rates[0].any() and rates[1].any() and not np.array_equal(rates[0], rates[1])
    for k, agent in enumerate(("mm1", "mm2")):
        lat = env._core.latencies[k]
        for v, venue in enumerate(env.venues):
            assert obs[agent][col[f"{venue.name}.latency_steps"]] == lat[v]
            assert obs[agent][col[f"{venue.name}.fill_rate"]] == np.float32(rates[k, 0, v])
    assert list(env._core.latencies[1]) == [4, 0, 2]
    assert list(env._core.latencies[0]) != [4, 0, 2]


def test_render_shows_both_makers(capsys) -> None:
    env = parallel_env(render_mode="ansi", **KW)
    env.reset(seed=0)
    env.step({a: np.zeros(env.action_space(a).shape) for a in env.agents})
    frame = env.render()
    header, *rows = frame.splitlines()
    assert all(" mm1 " in r and " mm2 " in r for r in rows) and len(rows) == 3
    # the header gives each maker's inventory and PnL, not mm1's alone
    core = env._core
    for k, seat in enumerate(("mm1", "mm2")):
        inv, pnl = int(core.inventories(k)[0].sum()), core.wealth(k)[0]
        assert f"{seat} inventory={inv} pnl={pnl:.2f}" in header, header
    render_test(
        lambda render_mode=None: parallel_to_aec(parallel_env(render_mode=render_mode, **KW))
    )
    assert " mm2 " in capsys.readouterr().out  # "human" wrote the frame


def test_render_labels_each_makers_own_latency() -> None:
    lat = (4, 0, 2)  # mm2's; the default venues' (mm1's) are 0, 1, 2
    env = parallel_env(render_mode="ansi", mm2_latency=lat, **KW)
    env.reset(seed=0)
    rows = env.render().splitlines()[1:]
    assert len(rows) == len(env.venues) == 3
    row_form = re.compile(
        r" mm1 \S+ inventory -?\d+ latency (\d+) mm2 \S+ inventory -?\d+ latency (\d+)$"
    )
    for v, (venue, row) in enumerate(zip(env.venues, rows, strict=True)):
        found = row_form.search(row)
        assert row.startswith(f"{venue.name}: ") and found is not None, row
        assert (int(found[1]), int(found[2])) == (venue.latency_steps, lat[v]), row


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mm2_latency": (0, 1)}, r"mm2_latency=.* list or tuple of 3 latencies"),
        ({"mm2_latency": (0, -1, 2)}, r"mm2_latency\[1\]=-1 must be an integer in \[0, 1000\]"),
        ({"mm2_latency": (0, True, 2)}, r"mm2_latency\[1\]=True"),
        ({"max_cycles": 5, "horizon_steps": 9}, "max_cycles=5 and horizon_steps=9 disagree"),
        ({"render_mode": "rgb_array"}, "render_mode='rgb_array' is not valid"),
        ({"rivals": 2}, "unknown key 'rivals'"),
    ],
)
@pytest.mark.parametrize("make", [parallel_env, portfolio_parallel_env])
def test_bad_construction_is_refused_naming_the_field(make, kwargs, match) -> None:
    with pytest.raises((ConfigError, ValueError), match=match):
        make(**kwargs)


def test_mm2_latency_without_two_makers_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"mm2_latency=.* needs two_makers=True"):
        MultiVenueMarket(mm_gym.MarketConfig(), DEFAULT_VENUES, 1, mm2_latency=(0, 0, 0))


def test_bad_actions_are_refused_naming_the_agent() -> None:
    env = parallel_env(**KW)
    with pytest.raises(RuntimeError, match="no live agents"):
        env.step({"mm1": np.zeros(6), "mm2": np.zeros(6)})
    env.reset(seed=0)
    good = np.zeros(6)
    with pytest.raises(ValueError, match="no entry for agent 'mm2'"):
        env.step({"mm1": good})
    with pytest.raises(ValueError, match="unknown agent key"):
        env.step({"mm1": good, "mm2": good, "mm3": good})
    with pytest.raises(TypeError, match="must be a dict"):
        env.step([good, good])
    with pytest.raises(ValueError, match=r"action of mm2 must be real numbers of shape \(6,\)"):
        env.step({"mm1": good, "mm2": np.zeros(4)})
    with pytest.raises(ValueError, match="action of mm1 has NaN"):
        env.step({"mm1": np.full(6, np.nan), "mm2": good})


def test_a_pickled_env_continues_exactly() -> None:
    # mid-episode, with mm2's quotes in flight on the slow venues (checkpoints pickle the env)
    env = parallel_env(**KW)
    env.reset(seed=2)
    rng = np.random.default_rng(0)
    for _ in range(10):
        env.step({a: rng.uniform(-1, 1, env.action_space(a).shape) for a in env.agents})
    copy = pickle.loads(pickle.dumps(env))
    for _ in range(20):
        acts = {a: rng.uniform(-1, 1, env.action_space(a).shape) for a in env.agents}
        obs, rew, _, _, _ = env.step(acts)
        obs_c, rew_c, _, _, _ = copy.step(acts)
        assert rew == rew_c
        for a in obs:
            np.testing.assert_array_equal(obs[a], obs_c[a])


def test_a_market_pickled_in_the_one_maker_layout_still_continues_exactly() -> None:
    # a checkpoint written before the two-maker mode holds mm1's arrays only
    cfg = mm_gym.with_overrides(mm_gym.preset("default"), {"horizon_steps": 200})
    core = MultiVenueCore(cfg, EnvConfig(), DEFAULT_VENUES, 2)
    core.set_roots(1, np.random.default_rng(0))
    core.start()
    rng = np.random.default_rng(1)
    for _ in range(5):
        core.act(rng.uniform(-1, 1, (2, 6)))
        core.settle()
    state = pickle.loads(pickle.dumps(core)).__dict__
    old = {k: v for k, v in state.items() if k not in ("_maker_offsets", "_maker_sizes")}
    old.update(_offsets=state["_maker_offsets"][0], _sizes=state["_maker_sizes"][0])
    old.update(fill_rate=state["fill_rates"][0], _sent=state["_sent"][0])
    old.update({k: state[k][0] for k in ("prev_wealth", "prev_inv", "prev_mid")})
    for k in ("fill_rates", "two_makers", "latencies", "limits"):
        del old[k]
    restored = MultiVenueCore.__new__(MultiVenueCore)
    restored.__setstate__(old)
    for _ in range(30):
        a = rng.uniform(-1, 1, (2, 6))
        core.act(a)
        restored.act(a)
        np.testing.assert_array_equal(core.settle()[0], restored.settle()[0])
        np.testing.assert_array_equal(core.observations(), restored.observations())


@pytest.mark.parametrize("make", [mm_gym.parallel_env, parallel_env])
def test_an_unknown_agent_is_named_with_the_valid_ones(make) -> None:
    env = make(**KW)
    assert env.observation_space("mm2") is env.observation_spaces["mm2"]
    for method in ("observation_space", "action_space", "policy_context"):
        with pytest.raises(ValueError, match=r"'mm3'.*\['mm1', 'mm2'\]"):
            getattr(env, method)("mm3")
