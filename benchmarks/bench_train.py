"""PPO training throughput with train.py's defaults: env-steps/s, median of 3 short runs.

Each run builds the training stack of ``train.py`` (native vector env -> SB3 adapter ->
VecNormalize -> PPO) with its default settings, trains one update untimed (warm-up), then times
``--updates`` further updates (rollout + PPO update, everything ``model.learn`` does). Also
reported: the share of the time spent collecting rollouts (env + policy forward) versus
updating. Targets on 2 cores: >= 20,000 env-steps/s (README, "Performance"); issue #14 asks
>= 150,000.

    python benchmarks/bench_train.py [--runs 3] [--updates 20] [--n-envs N] [--torch-threads N]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
from pathlib import Path

# Same as train.py: numba's and torch's OpenMP pools must not busy-wait against each other.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

ROOT = Path(__file__).resolve().parents[1]


def _train_module():
    spec = importlib.util.spec_from_file_location("train_cli", ROOT / "train.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def one_run(args, updates: int, seed: int) -> tuple[float, float]:
    """Steps/s of ``updates`` PPO iterations, and the fraction of time spent in rollouts."""
    import torch
    from stable_baselines3.common.callbacks import BaseCallback

    from agents.ppo import build_ppo, make_training_env

    torch.set_num_threads(args.torch_threads)
    venv = make_training_env(
        args.env_id, args.n_envs, dict(args.env_kwargs), gamma=args.gamma, clip_obs=args.clip_obs
    )
    model = build_ppo(
        venv, seed=seed, learning_rate=args.learning_rate, lr_schedule=args.lr_schedule,
        n_steps=args.n_steps, batch_size=args.batch_size, n_epochs=args.n_epochs,
        gamma=args.gamma, gae_lambda=args.gae_lambda, clip_range=args.clip_range,
        ent_coef=args.ent_coef, vf_coef=args.vf_coef, max_grad_norm=args.max_grad_norm,
        net_arch=args.net_arch, activation=args.activation, log_std_init=args.log_std_init,
    )  # fmt: skip
    per_update = args.n_envs * args.n_steps
    model.learn(per_update)  # warm-up: first allocations, kernels already compiled

    class Timer(BaseCallback):
        def _init_callback(self) -> None:
            self.rollout_s = 0.0
            self._t = 0.0

        def _on_rollout_start(self) -> None:
            self._t = time.perf_counter()

        def _on_rollout_end(self) -> None:
            self.rollout_s += time.perf_counter() - self._t

        def _on_step(self) -> bool:
            return True

    timer = Timer()
    t0 = time.perf_counter()
    model.learn(per_update * updates, callback=timer, reset_num_timesteps=False)
    elapsed = time.perf_counter() - t0
    venv.close()
    return per_update * updates / elapsed, timer.rollout_s / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--updates", type=int, default=20)
    parser.add_argument("--n-envs", type=int, default=0, help="0: train.py's default")
    parser.add_argument("--torch-threads", type=int, default=0, help="0: train.py's default")
    opts = parser.parse_args()
    train = _train_module()
    args = train.Args()
    if opts.n_envs:
        args.n_envs = opts.n_envs
        args.batch_size = min(args.batch_size, args.n_envs * args.n_steps)
    if opts.torch_threads:
        args.torch_threads = opts.torch_threads
    import mm_gym  # noqa: F401

    print(
        f"train.py defaults: n_envs={args.n_envs} n_steps={args.n_steps} "
        f"batch_size={args.batch_size} n_epochs={args.n_epochs} net_arch={args.net_arch} "
        f"torch_threads={args.torch_threads}; {opts.updates} updates of "
        f"{args.n_envs * args.n_steps:,} steps per run"
    )
    rates = []
    for i in range(opts.runs):
        rate, rollout_share = one_run(args, opts.updates, seed=i)
        rates.append(rate)
        print(f"run {i + 1}: {rate:10,.0f} env-steps/s  (rollouts {rollout_share:.0%} of the time)")
    median = statistics.median(rates)
    print(f"median: {median:,.0f} env-steps/s (target >= 20,000; issue #14: >= 150,000)")


if __name__ == "__main__":
    main()
