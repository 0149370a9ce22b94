"""Benchmark of the evaluation tournament (README "Performance" target: 6 policies x 3 regimes x
1,000 episodes of the default 1,000-step horizon in < 60 s on 2 cores).

Times :func:`mm_gym.evaluation.run_tournament` (simulation and per-episode metrics, sample
traces included) plus :func:`summarize` (bootstrap CIs and paired differences), the median of
``--repeats`` runs after one warm-up run that loads the numba cache. Contestants: the five
baselines of the policy registry (:mod:`baselines.registry`, ``evaluate.py``'s contestants: fixed
spread, order-flow skew, calibrated AS, calibrated GLFT, random) and a 2-tick fixed spread as the
sixth. The AS / GLFT calibrations are looked up before timing.

    python benchmarks/bench_evaluate.py                 # 6 x 3 x 1,000 episodes, median of 3
    python benchmarks/bench_evaluate.py --episodes 200 --repeats 1
    python benchmarks/bench_evaluate.py --cli           # also time `python evaluate.py` once

This is not a test: a full run takes minutes on a busy machine. The load average is printed
with the result, since other processes on the machine slow the parallel kernel down.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba

from baselines import FixedSpread
from baselines.calibration import calibrated_as
from baselines.registry import BASELINE_NAMES, make_policy
from mm_gym.evaluation import run_tournament, summarize

REGIMES = ("mean_reverting", "trending", "switching")


def contestants() -> dict:
    """The registry's baselines (``evaluate.py``'s contestants) and a 2-tick fixed spread."""
    table = {name: (lambda s, name=name: make_policy(name, s)) for name in BASELINE_NAMES}
    table["fixed_spread_2"] = lambda s: FixedSpread(2.0, name="fixed_spread_2")
    return table


def one_run(episodes: int, batch_size: int) -> tuple[float, float, int]:
    t0 = time.perf_counter()
    t = run_tournament(contestants(), REGIMES, None, episodes, seed=0, batch_size=batch_size)
    t1 = time.perf_counter()
    summarize(t.episodes, baseline="avellaneda_stoikov")
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, int(t.episodes["length"].sum())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    ap.add_argument("--episodes", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=2048)
    ap.add_argument("--cli", action="store_true", help="also time one full `evaluate.py` run")
    args = ap.parse_args()

    for r in REGIMES:  # calibrations (stored, or computed once) before any timing
        calibrated_as(r)
    one_run(8, args.batch_size)  # warm-up: numba cache load, first-call overheads
    print(
        f"bench_evaluate: 6 contestants x {len(REGIMES)} regimes x {args.episodes} episodes, "
        f"numba threads {numba.get_num_threads()}, cpus {os.cpu_count()}"
    )
    sims, stats = [], []
    for i in range(args.repeats):
        load = os.getloadavg()[0]
        sim, stat, steps = one_run(args.episodes, args.batch_size)
        sims.append(sim + stat)
        stats.append(stat)
        print(
            f"  run {i + 1}: {sim + stat:6.1f} s (simulation + metrics {sim:.1f} s, summary "
            f"{stat:.1f} s), {steps / sim:,.0f} market-steps/s, load avg before {load:.2f}",
            flush=True,
        )
    print(f"median {statistics.median(sims):.1f} s (target < 60 s)")

    if args.cli:
        root = Path(__file__).resolve().parents[1]
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [
                sys.executable, str(root / "evaluate.py"), "--episodes", str(args.episodes),
                "--runs", "none", "--no-progress", "--out", str(Path(tmp) / "out"),
            ]  # fmt: skip
            t0 = time.perf_counter()
            subprocess.run(cmd, cwd=root, check=True, stdout=subprocess.DEVNULL)
            print(f"evaluate.py (5 baselines, plots, report) end to end: "
                  f"{time.perf_counter() - t0:.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
