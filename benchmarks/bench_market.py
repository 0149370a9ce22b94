"""Market-simulator throughput: market-steps/s per batch size, median of 5 runs.

Run: ``python benchmarks/bench_market.py`` (or ``make bench``). Prints a markdown table and the
first-call compile time (numba, cache=True: later processes load the cached machine code).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from mm_gym.config import preset


def _rate(sim, steps: int) -> float:
    q = sim.quotes_buffer()
    q[:, 0] = [1.0, 1.0, 1, 1]
    sim.step(q, check=False)
    t0 = time.perf_counter()
    for _ in range(steps):
        sim.step(q, check=False)
    return sim.n_markets * steps / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 64, 1024, 4096])
    ap.add_argument(
        "--presets",
        nargs="+",
        default=["default"],
        help="presets to time; their runs are interleaved (e.g. default volatile)",
    )
    args = ap.parse_args()

    from mm_gym.market import MarketSimulator

    t0 = time.perf_counter()
    warm = MarketSimulator(preset("default"), 1)
    warm.reset(0)
    warm.step(warm.quotes_buffer())
    warm64 = MarketSimulator(preset("default"), 64)
    warm64.reset(0)
    warm64.step(warm64.quotes_buffer())
    print(f"first call (compile or cache load): {time.perf_counter() - t0:.2f} s\n")

    print(f"| preset | n_markets | market-steps/s (median of {args.repeats}) |")
    print("| --- | ---: | ---: |")
    for n in args.sizes:
        rates: dict[str, list[float]] = {name: [] for name in args.presets}
        for r in range(args.repeats):
            for name in args.presets:  # interleaved: a noisy machine hits all presets alike
                sim = MarketSimulator(preset(name), n)
                sim.reset(np.arange(n, dtype=np.uint64) + r * n)
                rates[name].append(_rate(sim, max(100, 200_000 // n)))
        for name in args.presets:
            print(f"| {name} | {n:,} | {statistics.median(rates[name]):,.0f} |")


if __name__ == "__main__":
    main()
