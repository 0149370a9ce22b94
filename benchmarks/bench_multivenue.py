"""MultiVenue-v0 throughput: env-steps/s of ``gym.make`` and of the native vector env.

Run ``python benchmarks/bench_multivenue.py``. One env-step steps every venue (three by default)
and the arbitrageurs, so it is compared with the single-venue book env at the same batch sizes
(``MarketMaking-v1``, same random actions). Medians of ``--repeats`` runs; no target (issue #15
asks for a figure, not a speed). ``--resets`` prints instead the median time of a reset (its joint
warm-up of the venues) of MultiVenue-v0 and Portfolio-v0 at the same batch sizes.
"""

from __future__ import annotations

import argparse
import statistics
import time

import gymnasium as gym
import numpy as np

import mm_gym  # noqa: F401  (registers the ids)


def _rate(make, n: int, steps: int, repeats: int) -> float:
    env = make(n)
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    space = env.action_space if n == 1 else env.single_action_space
    shape = space.shape if n == 1 else (n, *space.shape)
    actions = rng.uniform(-1, 1, (64, *shape)).astype(np.float32)
    single = n == 1

    def run(k: int) -> None:
        for i in range(k):
            out = env.step(actions[i % 64])
            if single and (out[2] or out[3]):
                env.reset()

    run(20)  # warm-up (kernels loaded, buffers touched)
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run(steps)
        rates.append(steps * n / (time.perf_counter() - t0))
    env.close()
    return statistics.median(rates)


def _reset_ms(env_id: str, n: int, repeats: int) -> float:
    env = gym.make(env_id) if n == 1 else gym.make_vec(env_id, num_envs=n)
    env.reset(seed=0)  # kernels loaded, buffers touched
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        env.reset(seed=i + 1)
        times.append(time.perf_counter() - t0)
    env.close()
    return 1e3 * statistics.median(times)


def _resets(sizes: list[int], repeats: int) -> None:
    print("| envs | MultiVenue-v0 reset, ms | Portfolio-v0 reset, ms |")
    print("|---|---|---|")
    for n in sizes:
        multi = _reset_ms("mm_gym/MultiVenue-v0", n, repeats)
        portfolio = _reset_ms("mm_gym/Portfolio-v0", n, repeats)
        print(f"| {n:,} | {multi:,.1f} | {portfolio:,.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 64, 1000])
    parser.add_argument("--resets", action="store_true", help="time resets, not steps")
    args = parser.parse_args()
    if args.resets:
        _resets(args.sizes, max(args.repeats, 5))
        return
    print("| envs | MultiVenue-v0 (3 venues) | MarketMaking-v1 | ratio |")
    print("|---|---|---|---|")
    for n in args.sizes:
        steps = max(200, 20_000 // n)
        if n == 1:
            multi = _rate(lambda _: gym.make("mm_gym/MultiVenue-v0"), 1, steps, args.repeats)
            book = _rate(lambda _: gym.make("mm_gym/MarketMaking-v1"), 1, steps, args.repeats)
        else:
            multi = _rate(
                lambda k: gym.make_vec("mm_gym/MultiVenue-v0", num_envs=k), n, steps, args.repeats
            )
            book = _rate(
                lambda k: gym.make_vec("mm_gym/MarketMaking-v1", num_envs=k), n, steps, args.repeats
            )
        print(f"| {n:,} | {multi:,.0f} | {book:,.0f} | {multi / book:.2f} |")


if __name__ == "__main__":
    main()
