"""The venues' joint warm-up: one compiled call, bit for bit the warm-up stepped from Python."""

from __future__ import annotations

import dataclasses
import types

import gymnasium as gym
import numpy as np
import pytest

import mm_gym
from mm_gym.market.simulator import PARALLEL_ENV
from mm_gym.market.venues import route, uncross
from mm_gym.multivenue import DEFAULT_VENUES, MultiVenueMarket, VenueConfig

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

SLOW_D = VenueConfig(name="D", maker_fee_bps=-0.01, taker_fee_bps=0.3, latency_steps=3)


def _stepwise_warm_up(self: MultiVenueMarket, seeds: np.ndarray, mask: np.ndarray | None) -> None:
    """``MultiVenueMarket._warm_up`` as it was before the compiled call (91bd8aa): the venues
    stepped together from Python, each step's protection, warm-up steps, routing, arbitrage."""
    act = np.ones(self.n, np.bool_) if mask is None else np.asarray(mask, np.bool_)
    for sim in self.sims:
        sim.reset(seeds, mask, warmup_steps=0)
    for _ in range(int(self.market_config.warmup_steps)):
        self._tops = None
        away = self._other_venues_best()
        for v, sim in enumerate(self.sims):
            sim.set_protection(away[:, v, 0], away[:, v, 1])
            sim.warm_up(act)
        route(self.sims, act)
        uncross(self.sims, act)
    for sim in self.sims:
        sim.start_episodes(act)


def _stepwise(market: MultiVenueMarket) -> MultiVenueMarket:
    """``market`` with its resets warmed up by :func:`_stepwise_warm_up` (the reference)."""
    market._warm_up = types.MethodType(_stepwise_warm_up, market)  # type: ignore[method-assign]
    return market


def _assert_same_states(got: MultiVenueMarket, want: MultiVenueMarket, when: str) -> None:
    for v, (a, b) in enumerate(zip(got.sims, want.sims, strict=True)):
        for name, x, y in zip(a.state._fields, a.state, b.state, strict=True):
            np.testing.assert_array_equal(x, y, err_msg=f"venue {v}, {name}, {when}")


@pytest.mark.parametrize(
    ("preset", "venues", "n", "masks", "record", "two_makers", "warmup_steps"),
    [
        ("volatile", DEFAULT_VENUES, 5, [[1, 0, 1, 0, 0], [0, 1, 0, 0, 1]], True, False, None),
        ("default", DEFAULT_VENUES, 3, [[0, 1, 0]], False, True, None),
        ("shock_heavy", (*DEFAULT_VENUES, SLOW_D), 2, [[0, 1]], False, False, None),
        ("hawkes", DEFAULT_VENUES[:2], 3, [[1, 1, 0]], False, False, 7),
        ("default", DEFAULT_VENUES, 3, [[1, 0, 1]], False, False, 0),
    ],
)
def test_the_compiled_warm_up_equals_the_stepwise_one(
    preset: str,
    venues: tuple[VenueConfig, ...],
    n: int,
    masks: list[list[int]],
    record: bool,
    two_makers: bool,
    warmup_steps: int | None,
) -> None:
    """Same seeds, same states on every venue: after a reset of all markets, after resets of
    some markets in mid-episode (the others' protection included), and in the steps after."""
    cfg = mm_gym.preset(preset)
    if warmup_steps is not None:
        cfg = dataclasses.replace(cfg, warmup_steps=warmup_steps)
    markets = []
    for _ in range(2):
        market = MultiVenueMarket(cfg, venues, n=n, two_makers=two_makers)
        for s in market.sims:
            s.record = record
        market.set_roots(17, np.random.default_rng(0))
        markets.append(market)
    compiled, stepwise = markets[0], _stepwise(markets[1])
    offsets, sizes = np.full((n, len(venues), 2), 0.25), np.ones((n, len(venues), 2))
    mm2 = (offsets, sizes) if two_makers else None
    for m in (compiled, stepwise):
        m.reset()
    _assert_same_states(compiled, stepwise, "first reset")
    for k, mask in enumerate(masks):
        for m in (compiled, stepwise):
            for _ in range(15):
                m.step(offsets, sizes, mm2=mm2)
            m.reset(np.array(mask, np.bool_))
        _assert_same_states(compiled, stepwise, f"masked reset {k}")
        for m in (compiled, stepwise):
            m.step(offsets, sizes, mm2=mm2)
        _assert_same_states(compiled, stepwise, f"the step after masked reset {k}")


def test_portfolio_resets_warm_each_asset_up_as_the_stepwise_warm_up() -> None:
    envs = [gym.make("mm_gym/Portfolio-v0") for _ in range(2)]
    for asset in envs[1].unwrapped._core.assets:  # type: ignore[attr-defined]
        _stepwise(asset)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (12, *envs[0].action_space.shape)).astype(np.float32)
    got, want = ([e.reset(seed=5)[0]] for e in envs)
    for a in actions:
        got.append(envs[0].step(a)[0])
        want.append(envs[1].step(a)[0])
    got.append(envs[0].reset()[0])
    want.append(envs[1].reset()[0])
    np.testing.assert_array_equal(np.array(got), np.array(want))
    cores = [e.unwrapped._core.assets for e in envs]  # type: ignore[attr-defined]
    for a, b in zip(*cores, strict=True):
        _assert_same_states(a, b, "second reset")


@pytest.mark.parallel
def test_a_parallel_batch_warms_up_as_the_stepwise_warm_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch that resets and steps with the parallel kernels (the warm-up itself is serial)."""
    monkeypatch.setenv(PARALLEL_ENV, "auto")
    n = 64
    cfg = mm_gym.preset("volatile")
    compiled, stepwise = (MultiVenueMarket(cfg, DEFAULT_VENUES, n) for _ in "ab")
    assert compiled.sims[0].parallel
    _stepwise(stepwise)
    for m in (compiled, stepwise):
        m.set_roots(3, np.random.default_rng(0))
        m.reset()
    _assert_same_states(compiled, stepwise, "first reset")
    offsets, sizes = np.full((n, 3, 2), 0.25), np.ones((n, 3, 2))
    for m in (compiled, stepwise):
        for _ in range(10):
            m.step(offsets, sizes)
        m.reset(np.arange(n) % 3 == 1)
    _assert_same_states(compiled, stepwise, "masked reset")


def test_one_compiled_warm_up_takes_every_number_of_venues() -> None:
    """The tuples are padded to WARM_VENUES: as many as a multi-venue market may have."""
    from mm_gym.market.venues import WARM_VENUES
    from mm_gym.multivenue import MAX_VENUES

    assert WARM_VENUES == MAX_VENUES
