"""The tournament in one process against the same tournament as Ray tasks (README "More than one
machine"): :func:`mm_gym.evaluation.run_tournament` and
:func:`mm_gym.evaluation.distributed.run_tournament_ray` on the same arguments, timed, checked
equal, and Ray's own cost per task (no-op tasks) measured.

    .venv-ray/bin/python benchmarks/bench_ray.py                       # local Ray, 2 CPUs
    .venv-ray/bin/python benchmarks/bench_ray.py --batch-sizes 2048 50 --episodes 200
    .venv-ray/bin/python benchmarks/bench_ray.py --address HEAD:6379   # an existing cluster

Contestants: the five default baselines of :mod:`baselines.registry` (fixed spread, order-flow
skew, calibrated AS, calibrated GLFT, random) on three regimes, built once on the driver (the AS
/ GLFT calibrations looked up first). The Ray time includes starting each worker's Python and
loading the numba cache (about a second per worker), not ``ray.init``, which is timed apart. Not
a test; the load average is printed with the result (other processes slow both sides).
"""

from __future__ import annotations

import argparse
import os
import time

import pandas as pd

os.environ.setdefault("MM_GYM_PARALLEL", "off")  # one CPU per task, and the same locally

from baselines.registry import default_policy_names, make_policy
from mm_gym.evaluation import run_tournament
from mm_gym.evaluation.distributed import run_tournament_ray

REGIMES = ("mean_reverting", "trending", "switching")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[2048, 50])
    parser.add_argument("--num-cpus", type=int, default=2, help="CPUs of the local Ray")
    parser.add_argument("--address", default="", help="an existing cluster (default: local)")
    args = parser.parse_args()
    import ray

    factories = {n: (lambda r, n=n: make_policy(n, r)) for n in default_policy_names()}
    for r in REGIMES:
        for make in factories.values():
            make(r)  # calibrations looked up before the clocks start
    t0 = time.perf_counter()
    if args.address:
        ray.init(address=args.address, log_to_driver=False, logging_level="ERROR")
    else:
        ray.init(num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False,
                 logging_level="ERROR")  # fmt: skip
    print(f"ray.init: {time.perf_counter() - t0:.1f} s; CPUs {ray.cluster_resources()['CPU']:.0f}")
    noop_cost()
    for batch in args.batch_sizes:
        kw = {"n_episodes": args.episodes, "batch_size": batch}
        t0 = time.perf_counter()
        local = run_tournament(factories, REGIMES, **kw)
        t_local = time.perf_counter() - t0
        t0 = time.perf_counter()
        remote = run_tournament_ray(factories, REGIMES, **kw)
        t_ray = time.perf_counter() - t0
        pd.testing.assert_frame_equal(local.episodes, remote.episodes, check_exact=True)
        n_tasks = len(factories) * len(REGIMES) * -(-args.episodes // batch)
        print(
            f"batch {batch}: {n_tasks} tasks; one process {t_local:.1f} s, Ray {t_ray:.1f} s "
            f"(speed-up {t_local / t_ray:.2f}x, {n_tasks / t_ray:.2f} tasks/s); results equal; "
            f"load average {os.getloadavg()[0]:.2f}"
        )
    ray.shutdown()


def noop_cost() -> None:
    """Ray's own round trip per task, from no-op tasks on warm workers."""
    import ray

    @ray.remote(num_cpus=1)
    def noop(x: int) -> int:
        return x

    ray.get([noop.remote(i) for i in range(20)])
    t0 = time.perf_counter()
    ray.get([noop.remote(i) for i in range(1000)])
    dt = time.perf_counter() - t0
    print(f"1,000 no-op tasks: {dt:.2f} s ({1000 / dt:.0f} tasks/s, {dt:.2f} ms each)")


if __name__ == "__main__":
    main()
