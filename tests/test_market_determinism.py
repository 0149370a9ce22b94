"""Determinism: same seed, identical arrays; a market's path is independent of its batch."""

from __future__ import annotations

import time

import numpy as np
import pytest

from mm_gym.config import ConfigError, MarketConfig, preset, with_overrides
from mm_gym.market import MarketSimulator


def _rollout(n, seeds, steps=300, parallel=None, cfg=None, off=None):
    sim = MarketSimulator(cfg or preset("switching"), n, parallel=parallel, builtin_rival=True)
    sim.reset(np.asarray(seeds, np.uint64))
    q = sim.quotes_buffer()
    q[:, 0] = [1.5, 2.5, 1, 2] if off is None else off
    out = []
    for _ in range(steps):
        sim.step(q)
        out.append(
            np.concatenate(
                [sim.mid, sim.fundamental, sim.total_pnl.ravel(), sim.state.features.ravel()]
            )
        )
    return np.array(out), sim


def test_same_seed_gives_identical_arrays():
    a, sa = _rollout(4, [1, 2, 3, 4])
    b, sb = _rollout(4, [1, 2, 3, 4])
    np.testing.assert_array_equal(a, b)
    for name in ("fs", "is_", "rng", "bid_vol", "ask_vol", "orders", "acct"):
        np.testing.assert_array_equal(getattr(sa.state, name), getattr(sb.state, name))


def test_different_seeds_differ():
    a, _ = _rollout(1, [1])
    b, _ = _rollout(1, [2])
    assert not np.array_equal(a, b)


@pytest.mark.parallel
def test_batch_of_64_equals_64_single_runs():
    seeds = np.arange(100, 164, dtype=np.uint64)
    _, batch = _rollout(64, seeds, steps=200, parallel=True)
    for i in range(0, 64, 7):
        _, single = _rollout(1, seeds[i : i + 1], steps=200, parallel=False)
        np.testing.assert_array_equal(batch.state.fs[i], single.state.fs[0])
        np.testing.assert_array_equal(batch.state.acct[i], single.state.acct[0])
        np.testing.assert_array_equal(batch.state.bid_vol[i], single.state.bid_vol[0])
        np.testing.assert_array_equal(batch.state.features[i], single.state.features[0])


@pytest.mark.parametrize("price_formation", ["book", "legacy"])
def test_exogenous_path_does_not_depend_on_quotes(price_formation):
    # Regime and sentiment are exogenous in both models; the hidden fundamental only in
    # "legacy" (in "book", the default, it is the mid plus the informed traders' gap).
    cfg = with_overrides(preset("switching"), {"price_formation": price_formation})
    _, s1 = _rollout(2, [7, 8], cfg=cfg, off=[1.0, 1.0, 1, 1])
    _, s2 = _rollout(2, [7, 8], cfg=cfg, off=[6.0, 0.0, 3, 0])
    assert not np.array_equal(s1.total_pnl, s2.total_pnl)
    if price_formation == "legacy":
        np.testing.assert_array_equal(s1.fundamental, s2.fundamental)
    np.testing.assert_array_equal(s1.regime, s2.regime)
    np.testing.assert_array_equal(s1.sentiment, s2.sentiment)
    np.testing.assert_array_equal(s1.latent_sentiment, s2.latent_sentiment)


def test_reset_mask_resets_only_selected_markets():
    sim = MarketSimulator(MarketConfig(), 3)
    sim.reset(np.array([1, 2, 3], np.uint64))
    q = sim.quotes_buffer()
    for _ in range(10):
        sim.step(q)
    sim.reset(np.array([1, 2, 3], np.uint64), mask=np.array([False, True, False]))
    assert list(sim.t) == [10, 0, 10]


def test_pickled_simulator_continues_identically_without_pickling_kernels():
    import pickle

    sim = MarketSimulator(preset("default"), 2)
    sim.reset(np.array([3, 4], np.uint64))
    q = sim.quotes_buffer()
    q[:, 0] = [1.0, 1.0, 1, 1]
    for _ in range(20):
        sim.step(q)
    blob = pickle.dumps(sim)
    assert b"numba" not in blob  # the compiled kernels are re-bound, not serialized
    twin = pickle.loads(blob)
    for _ in range(20):
        sim.step(q)
        twin.step(q)
    np.testing.assert_array_equal(sim.state.fs, twin.state.fs)
    np.testing.assert_array_equal(sim.state.acct, twin.state.acct)


@pytest.mark.parametrize(
    ("mode", "n", "expected"), [("off", 64, False), ("auto", 63, False), ("auto", 64, True)]
)
def test_parallel_environment_variable_picks_the_kernel(monkeypatch, mode, n, expected):
    monkeypatch.setenv("MM_GYM_PARALLEL", mode)
    assert MarketSimulator(MarketConfig(), n).parallel is expected
    assert MarketSimulator(MarketConfig(), n, parallel=True).parallel  # explicit wins


def test_parallel_environment_variable_rejects_other_values(monkeypatch):
    monkeypatch.setenv("MM_GYM_PARALLEL", "yes")
    with pytest.raises(ConfigError, match="MM_GYM_PARALLEL='yes' must be 'auto' or 'off'"):
        MarketSimulator(MarketConfig(), 2)


def test_a_slow_kernel_bind_says_it_is_compiling_once(monkeypatch, capsys):
    from mm_gym.market import simulator

    monkeypatch.setattr(simulator, "_COMPILE_NOTICE_SHOWN", False)
    monkeypatch.setattr(simulator, "COMPILE_NOTICE_AFTER_S", 0.05)
    with simulator._compile_notice():
        time.sleep(0.5)  # a compile: longer than the notice's delay
    with simulator._compile_notice():
        time.sleep(0.5)  # said once per process
    assert capsys.readouterr().err.count("compiling the market kernels") == 1
    monkeypatch.setattr(simulator, "_COMPILE_NOTICE_SHOWN", False)
    monkeypatch.setattr(simulator, "COMPILE_NOTICE_AFTER_S", 30.0)
    with simulator._compile_notice():
        pass  # a cache load: silent
    time.sleep(0.1)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("parallel", [False, pytest.param(True, marks=pytest.mark.parallel)])
def test_stepper_steps_as_step_does_bit_for_bit(parallel):
    # The single env's way in (serial: the arrays bound once in mm_gym.market.bound).
    sims = [MarketSimulator(preset("switching"), 2, parallel=parallel) for _ in range(2)]
    for sim in sims:
        sim.reset(np.array([5, 6], np.uint64))
    quotes = [sim.quotes_buffer() for sim in sims]
    stepper = sims[1].stepper(quotes[1])
    offsets = np.random.default_rng(0).uniform(0.0, 4.0, (150, 2, 2))
    recorded = False
    for k in range(150):
        for q in quotes:  # the buffer is read at each call, not copied when bound
            q[:, 0, :2] = offsets[k]
            q[:, 0, 2:] = 1.0
        if k == 100:  # record is read at each call too
            sims[0].record = sims[1].record = True
        if k == 120:  # and so is builtin_rival
            sims[0].builtin_rival = sims[1].builtin_rival = False
        sims[0].step(quotes[0], check=False)
        stepper()
        recorded = recorded or bool(sims[1].market_orders.count.any())
    for name in sims[0].state._fields:  # the fill and market-order tables included
        np.testing.assert_array_equal(getattr(sims[0].state, name), getattr(sims[1].state, name))
    assert recorded  # the stepper recorded from step 100 on


def test_stepper_checks_its_buffer_and_refuses_to_step_before_reset():
    sim = MarketSimulator(preset("default"), 1)
    with pytest.raises(ValueError, match="shape"):
        sim.stepper(np.zeros((2, 2, 4)))
    stepper = sim.stepper(sim.quotes_buffer())
    with pytest.raises(RuntimeError, match="reset"):
        stepper()
