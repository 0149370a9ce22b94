"""Intensity mode, AS 2008 preset: time to simulate 1,000 paths x 200 steps (target < 0.05 s).

Run ``python benchmarks/bench_as2008.py``. Each run is one full episode of the Avellaneda-Stoikov
inventory strategy (quotes recomputed every step for every path) on the ``as2008`` intensity
model, reset included; the script prints the median of 5 runs in seconds, and the same for the
market alone (constant quotes) to separate the strategy's cost from the simulator's.
"""

from __future__ import annotations

import argparse
import statistics
import time

from baselines.intensity_quotes import InventoryQuotes
from mm_gym.config import preset
from mm_gym.market.intensity import simulate

TARGET_SECONDS = 0.05


def _median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up (imports, allocator)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--paths", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    config = preset("as2008").intensity
    strategy = InventoryQuotes.from_config(0.1, config)
    seeds = iter(range(10**6))

    def with_strategy() -> None:
        simulate(strategy, config, args.paths, next(seeds))

    def market_only() -> None:
        simulate(lambda s, q, t: (0.75, 0.75), config, args.paths, next(seeds))

    full = _median_seconds(with_strategy, args.repeats)
    bare = _median_seconds(market_only, args.repeats)
    steps = config.n_steps
    verdict = "met" if full < TARGET_SECONDS else "NOT met"
    print(
        f"as2008 intensity: {args.paths} paths x {steps} steps, median of {args.repeats} runs: "
        f"{full:.4f} s with the AS inventory strategy ({args.paths * steps / full / 1e6:.1f}M "
        f"path-steps/s; target < {TARGET_SECONDS} s: {verdict})"
    )
    print(f"  market alone (constant quotes): {bare:.4f} s")


if __name__ == "__main__":
    main()
