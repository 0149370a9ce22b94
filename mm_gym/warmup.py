"""Compile every numba kernel once, ahead of first use: ``python -m mm_gym.warmup``.

``make setup`` runs it, so the first env, test, tour or training does not stop for the compile
(several CPU-minutes for the market's step on a fresh install; numba caches the machine code
beside the sources, and later processes load it in about a second). Each entry point is
compiled once and shared: the serial and the parallel loops of the market, the evaluator's
per-step recorder, the multi-venue joint warm-up, routing and arbitrage passes (and the
stepwise warm-up of ``MarketSimulator.warm_up``), the portfolio's hedge orders, and the
AS2008 vector env's step and reset. Running it again costs only the cache loads. ``--quiet``
prints nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import numpy as np

from mm_gym.config import preset


def _market(parallel: bool) -> None:
    from mm_gym.market import MarketSimulator

    sim = MarketSimulator(preset("default"), n_markets=2, parallel=parallel)
    sim.reset(np.arange(2, dtype=np.uint64))
    sim.step(sim.quotes_buffer())
    sim.stepper(sim.quotes_buffer())()  # the single env's way in (serial: mm_gym.market.bound)


def _recorder() -> None:
    from mm_gym.evaluation.recorder import SeriesBuffers
    from mm_gym.market import MarketSimulator

    cfg = preset("default")
    sim = MarketSimulator(cfg, n_markets=2, parallel=False, record=True)
    sim.reset(np.arange(2, dtype=np.uint64))
    sim.step(sim.quotes_buffer())
    series = SeriesBuffers(horizon=1, n=2)
    series.record(0, sim, cfg.tick_size, cfg.tick_size * cfg.lot_size, np.ones(2, np.bool_))


def _venues() -> None:
    from mm_gym.multivenue import DEFAULT_VENUES, MultiVenueMarket

    # one compiled joint warm-up for every number of venues (the tuples are padded: market.venues)
    market = MultiVenueMarket(preset("default"), DEFAULT_VENUES, n=2)
    market.reset()
    market.step(np.zeros((2, 3, 2)), np.ones((2, 3, 2)))  # order protection, routing, arbitrage
    sim = market.sims[0]  # a warm-up stepped from Python (MarketSimulator.warm_up)
    sim.reset(0, warmup_steps=0)
    sim.warm_up()
    sim.start_episodes()


def _as2008() -> None:
    from mm_gym.envs.intensity_vector import IntensityMarketMakingVectorEnv

    envs = IntensityMarketMakingVectorEnv(2)  # compiles the rare path's kernel too
    envs.reset(seed=0)
    for dtype in (np.float32, np.float64):  # the two action types taken without a copy
        envs.step(np.zeros((2, 2), dtype))


def _hedge() -> None:
    from mm_gym.multivenue import DEFAULT_VENUES, MultiVenueMarket
    from mm_gym.portfolio.hedge import take

    market = MultiVenueMarket(preset("default"), DEFAULT_VENUES[:1], n=2)
    market.reset()
    sim = market.sims[0]
    lots, limit = np.array([1, -1], np.int64), np.array([2**40, -(2**40)], np.int64)
    take(sim.state, sim.params, lots, limit, np.bool_(False), np.zeros(2, np.int64), np.zeros(2))


STEPS: tuple[tuple[str, Callable[[], None]], ...] = (
    ("market step and reset, serial loop", lambda: _market(parallel=False)),
    ("market step and reset, parallel loop", lambda: _market(parallel=True)),
    ("evaluation recorder", _recorder),
    ("multi-venue joint warm-up, routing and arbitrage", _venues),
    ("portfolio hedge orders", _hedge),
    ("AS2008 vector env step and reset", _as2008),
)


def main(argv: list[str] | None = None) -> int:
    """Compile (or load) each kernel in turn, saying which and how long it took."""
    parser = argparse.ArgumentParser(
        prog="python -m mm_gym.warmup", description=__doc__, allow_abbrev=False
    )
    parser.add_argument("--quiet", action="store_true", help="print nothing")
    args = parser.parse_args(argv)
    say = (lambda _msg: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr))
    say("mm_gym: compiling the numba kernels once (minutes on a fresh install, cached afterwards)")
    for name, run in STEPS:
        t0 = time.perf_counter()
        run()
        say(f"  {name}: {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
