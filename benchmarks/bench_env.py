"""Throughput of the environments (not a test): single, vector and parallel, random actions.

Run: ``python benchmarks/bench_env.py`` (``--repeats 5`` by default; ``--quick`` for a short run;
``--only as2008`` for the AS2008 intensity env's rows alone, ``--only book`` for the others).
With ``--mbt-gym-python PY --mbt-gym-src DIR`` it also prints issue #14's side-by-side table
against mbt_gym at 1, 1,000 and 4,096 envs: mm_gym's rows and mbt_gym's (run by
``benchmarks/mbt_gym_rate.py`` in mbt_gym's own interpreter, see there how to install it)
interleaved repeat by repeat, so that a busy machine slows both alike; medians.
Prints a markdown table of the median of the repeats. Actions are drawn up front from a seeded
generator so the figure is the environment's speed, not the sampler's (the ``sample()`` row shows
the cost of ``env.action_space.sample()`` per step on top). Episodes are reset when they end,
so resets (about 0.2 ms each, one per 1,000 steps by default) are included.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

import mm_gym

ENV_ID = "mm_gym/MarketMaking-v1"
AS2008_ID = "mm_gym/AS2008-v1"
# Issue #14: at least 5x mbt_gym's vector env (JJJerome/mbt_gym, not installed here), which the
# issue measured on this machine at 5.3 M env-steps/s (1,000 envs) and 7.3 M (4,096 envs).
AS2008_TARGETS = {1_000: "26,500,000", 4_096: "36,500,000"}
MAX_STEPS_PER_RUN = 20_000  # caps small batches, whose per-step Python cost dominates
# Issue #14's targets for the book env (the first group; the moonshot in the side-by-side table).
BOOK_TARGETS = {"1": "150,000", "4,096": "2,500,000"}
MOONSHOT = {1_000: 5_500_000, 4_096: 7_500_000}


def _median_rate(fn, repeats: int) -> float:
    return statistics.median(fn() for _ in range(repeats))


def bench_single(steps: int, repeats: int, *, sample: bool = False) -> float:
    env = gym.make(ENV_ID)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1.0, 1.0, (steps, 2)).astype(np.float32)
    step, reset, space = env.step, env.reset, env.action_space
    space.seed(0)
    for k in range(min(steps, 2_000)):  # warm up
        if step(actions[k])[2]:
            reset()

    def run() -> float:
        t0 = time.perf_counter()
        if sample:
            for _ in range(steps):
                if step(space.sample())[2]:
                    reset()
        else:
            for k in range(steps):
                if step(actions[k])[2]:
                    reset()
        return steps / (time.perf_counter() - t0)

    return _median_rate(run, repeats)


def bench_vector(num_envs: int, env_steps: int, repeats: int, env_id: str = ENV_ID) -> float:
    envs = gym.make_vec(env_id, num_envs=num_envs)
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    batches = rng.uniform(-1.0, 1.0, (8, num_envs, 2)).astype(np.float32)
    steps = min(max(20, env_steps // num_envs), MAX_STEPS_PER_RUN)
    for k in range(5):
        envs.step(batches[k % 8])

    def run() -> float:
        t0 = time.perf_counter()
        for k in range(steps):
            envs.step(batches[k % 8])
        return steps * num_envs / (time.perf_counter() - t0)

    return _median_rate(run, repeats)


def bench_simulator(num_markets: int, market_steps: int, repeats: int) -> float:
    """The raw simulator (fixed quotes), the ceiling any environment on it can reach."""
    from mm_gym.config import MarketConfig
    from mm_gym.market import MarketSimulator

    sim = MarketSimulator(MarketConfig(), num_markets)
    sim.reset(0)
    quotes = sim.quotes_buffer()
    quotes[:, 0] = [2.0, 2.0, 1.0, 1.0]
    steps = min(max(20, market_steps // num_markets), 10 * MAX_STEPS_PER_RUN)
    for _ in range(5):
        sim.step(quotes)

    def run() -> float:
        t0 = time.perf_counter()
        for _ in range(steps):
            sim.step(quotes)
        return steps * num_markets / (time.perf_counter() - t0)

    return _median_rate(run, repeats)


def bench_parallel(steps: int, repeats: int) -> float:
    env = mm_gym.parallel_env()
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    a1 = rng.uniform(-1.0, 1.0, (steps, 2)).astype(np.float32)
    a2 = rng.uniform(-1.0, 1.0, (steps, 2)).astype(np.float32)

    def run() -> float:
        t0 = time.perf_counter()
        for k in range(steps):
            if not env.agents:
                env.reset()
            env.step({"mm1": a1[k], "mm2": a2[k]})
        return steps / (time.perf_counter() - t0)

    return _median_rate(run, repeats)


def _book_rows(
    single_steps: int, vec_steps: int, repeats: int
) -> list[tuple[str, str, float, str]]:
    rows: list[tuple[str, str, float, str]] = []
    rows.append(
        ("single env, `gym.make`", "1", bench_single(single_steps, repeats), BOOK_TARGETS["1"])
    )
    rows.append(
        (
            "single env, `gym.make`, `action_space.sample()`",
            "1",
            bench_single(single_steps // 2, repeats, sample=True),
            "",
        )
    )
    for n in (1, 64, 1_000, 4_096):
        target = BOOK_TARGETS.get(f"{n:,}", "") if n > 1 else ""
        rows.append(
            (
                "vector env, `gym.make_vec`",
                f"{n:,}",
                bench_vector(n, vec_steps, repeats),
                target,
            )
        )
    rows.append(
        (
            "parallel env (PettingZoo), 2 agents",
            "1",
            bench_parallel(single_steps // 2, repeats),
            "",
        )
    )
    for n in (1, 4_096):
        rows.append(
            ("raw simulator (ceiling)", f"{n:,}", bench_simulator(n, vec_steps, repeats), "")
        )

    return rows


def mbt_gym_rate(python: str, src: str, envs: int, steps: int) -> float:
    """mbt_gym's env-steps/s at ``envs`` (one run of ``mbt_gym_rate.py`` in its interpreter)."""
    script = Path(__file__).with_name("mbt_gym_rate.py")
    cmd = [python, str(script), "--src", src, "--envs", str(envs), "--steps", str(steps)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.exit(f"bench_env.py: mbt_gym failed: {out.stderr.strip().splitlines()[-1:]}")
    return float(out.stdout.split()[-1])


def side_by_side(python: str, src: str, single_steps: int, vec_steps: int, repeats: int) -> None:
    """Issue #14's table: mm_gym (book, AS2008) and mbt_gym, interleaved per repeat; medians."""
    print("\n| envs | mm_gym book env | mm_gym `AS2008-v1` | mbt_gym | book / mbt_gym "
          "| AS2008 / mbt_gym | moonshot (book) |")  # fmt: skip
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in (1, 1_000, 4_096):
        book, as2008, mbt = [], [], []
        for _ in range(repeats):
            if n == 1:
                book.append(bench_single(single_steps, 1))
                as2008.append(bench_vector(1, single_steps // 4, 1, AS2008_ID))
                mbt.append(mbt_gym_rate(python, src, 1, single_steps // 4))
            else:
                book.append(bench_vector(n, vec_steps, 1))
                as2008.append(bench_vector(n, 4 * vec_steps, 1, AS2008_ID))
                mbt.append(mbt_gym_rate(python, src, n, 4 * vec_steps))
        b, a, m = (statistics.median(x) for x in (book, as2008, mbt))
        goal = f"{MOONSHOT[n]:,}" if n in MOONSHOT else ""
        print(f"| {n:,} | {b:,.0f} | {a:,.0f} | {m:,.0f} | {b / m:.2f}x | {a / m:.2f}x | {goal} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per row (median)")
    parser.add_argument("--quick", action="store_true", help="fewer steps per run")
    parser.add_argument(
        "--only", choices=("all", "book", "as2008"), default="all", help="which rows to run"
    )
    parser.add_argument("--mbt-gym-python", help="mbt_gym's interpreter (see mbt_gym_rate.py)")
    parser.add_argument("--mbt-gym-src", help="a checkout of JJJerome/mbt_gym")
    args = parser.parse_args()
    if bool(args.mbt_gym_python) != bool(args.mbt_gym_src):
        parser.error("--mbt-gym-python and --mbt-gym-src go together")
    scale = 0.2 if args.quick else 1.0
    single_steps = int(100_000 * scale)
    vec_steps = int(500_000 * scale)

    t0 = time.perf_counter()
    gym.make(ENV_ID if args.only != "as2008" else AS2008_ID).reset(seed=0)
    first_make = time.perf_counter() - t0

    rows: list[tuple[str, str, float, str]] = []
    if args.only != "as2008":
        rows += _book_rows(single_steps, vec_steps, args.repeats)
    if args.only != "book":
        for n in (1, 1_000, 4_096):
            rows.append(
                (
                    "AS2008 vector env, `gym.make_vec`",
                    f"{n:,}",
                    # 4x the steps: at least two 200-step episodes (autoresets included).
                    bench_vector(n, 4 * vec_steps, args.repeats, AS2008_ID),
                    AS2008_TARGETS.get(n, ""),
                )
            )
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}, numba threads "
        f"{os.environ.get('NUMBA_NUM_THREADS', 'default')}; first make+reset {first_make:.2f} s; "
        f"median of {args.repeats}"
    )
    print()
    print("| what | envs | env-steps/s | target |")
    print("| --- | ---: | ---: | ---: |")
    for what, envs, rate, target in rows:
        print(f"| {what} | {envs} | {rate:,.0f} | {target} |")
    if args.mbt_gym_python:
        side_by_side(
            args.mbt_gym_python, args.mbt_gym_src, single_steps, vec_steps, min(args.repeats, 3)
        )


if __name__ == "__main__":
    main()
