"""mbt_gym's env-steps/s at one batch size: run by ``bench_env.py --mbt-gym-python``.

mbt_gym (JJJerome/mbt_gym, the nearest peer: vectorised numpy, Brownian mid, Poisson arrivals,
exponential fill function, no book) is not a dependency of mm_gym and is never imported by it:
it needs the old ``gym`` 0.26 and torch, so it lives in its own virtual environment, e.g.::

    python3.11 -m venv /tmp/mbt_venv
    /tmp/mbt_venv/bin/pip install torch==2.13.0 numpy gym==0.26.2
    git clone https://github.com/JJJerome/mbt_gym /tmp/mbt_gym_src

Usage (prints one number, env-steps per second): ``/tmp/mbt_venv/bin/python
benchmarks/mbt_gym_rate.py --src /tmp/mbt_gym_src --envs 1000 --steps 200000``. The env is
mbt_gym's default ``TradingEnvironment`` (its Avellaneda-Stoikov setup, 200 steps per episode)
with ``num_trajectories`` envs; actions are uniform in its normalised action space, drawn up
front so that the figure is the environment's speed, as in ``bench_env.py``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--src", required=True, help="a checkout of JJJerome/mbt_gym")
    parser.add_argument("--envs", type=int, required=True, help="num_trajectories")
    parser.add_argument("--steps", type=int, required=True, help="env-steps to time (total)")
    args = parser.parse_args()
    sys.path.insert(0, args.src)
    warnings.filterwarnings("ignore")
    import numpy as np
    from mbt_gym.gym.TradingEnvironment import TradingEnvironment

    n = args.envs
    env = TradingEnvironment(num_trajectories=n, seed=0)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1.0, 1.0, (256, n, 2))
    steps = max(1, args.steps // n)
    env.reset()
    for k in range(min(steps, 200)):  # warm up
        if np.all(env.step(actions[k % 256])[2]):
            env.reset()
    t0 = time.perf_counter()
    for k in range(steps):
        if np.all(env.step(actions[k % 256])[2]):
            env.reset()
    print(steps * n / (time.perf_counter() - t0))


if __name__ == "__main__":
    main()
