"""PPO training throughput with train.py's defaults: env-steps/s, median of 3 short runs.

Each run builds the training stack of ``train.py`` (native vector env -> SB3 adapter ->
VecNormalize -> PPO) with its default settings, trains one update untimed (warm-up), then times
``--updates`` further updates (rollout + PPO update, everything ``model.learn`` does). Also
reported: the share of the time spent collecting rollouts (env + policy forward) versus
updating. Targets on 2 cores: >= 20,000 env-steps/s (README, "Performance"); issue #14 asks
>= 150,000.

    python benchmarks/bench_train.py [--runs 3] [--updates 20] [--n-envs N] [--torch-threads N]
    python benchmarks/bench_train.py --two-learners   # issue #17: self-play vs one learner
    python benchmarks/bench_train.py --pair [--league]  # two networks (and their league)

``--two-learners`` interleaves each run with a self-play run of ``train.py --learners mm1,mm2
--share-policy`` (the same settings, ``n_envs`` markets of two seats each) and reports its
market-steps/s (both makers' steps counted once per market step) and its ratio to the one
learner's env-steps/s (issue #17's target: >= 60 %). ``--pair`` interleaves a run of two
independent learners (``train.py --learners mm1,mm2``: two networks in lockstep on ``n_envs``
shared markets) and ``--league`` one of their league (``--league``: each learner on its own
``n_envs`` markets against the league's opponents, ``2 * n_envs`` markets per step); both
report market-steps/s (every market stepped once per step, whoever quotes in it) and each
learner's steps/s, and their ratio to the one learner's env-steps/s.
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


def one_run(args, updates: int, seed: int, self_play: bool = False) -> tuple[float, float]:
    """Market-steps/s of ``updates`` PPO iterations, and the share of time in rollouts.

    ``self_play``: both makers learn one shared policy (``2 * n_envs`` seats); a market step
    is two of SB3's env steps.
    """
    import torch
    from stable_baselines3.common.callbacks import BaseCallback

    from agents.ppo import build_ppo, make_self_play_env, make_training_env

    torch.set_num_threads(args.torch_threads)
    if self_play:
        norm = {"gamma": args.gamma, "norm_obs": True, "norm_reward": True,
                "clip_obs": args.clip_obs, "clip_reward": 10.0}  # fmt: skip
        venv = make_self_play_env(args.env_id, args.n_envs, dict(args.env_kwargs), **norm)
    else:
        venv = make_training_env(
            args.env_id, args.n_envs, dict(args.env_kwargs), gamma=args.gamma,
            clip_obs=args.clip_obs,
        )  # fmt: skip
    model = build_ppo(
        venv, seed=seed, learning_rate=args.learning_rate, lr_schedule=args.lr_schedule,
        n_steps=args.n_steps, batch_size=args.batch_size, n_epochs=args.n_epochs,
        gamma=args.gamma, gae_lambda=args.gae_lambda, clip_range=args.clip_range,
        ent_coef=args.ent_coef, vf_coef=args.vf_coef, max_grad_norm=args.max_grad_norm,
        net_arch=args.net_arch, activation=args.activation, log_std_init=args.log_std_init,
    )  # fmt: skip
    per_update = args.n_envs * args.n_steps * (2 if self_play else 1)
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
    market_steps = per_update * updates // (2 if self_play else 1)
    return market_steps / elapsed, timer.rollout_s / elapsed


def pair_run(args, updates: int, seed: int, league: bool) -> tuple[float, float]:
    """Market-steps/s and each learner's steps/s of ``updates`` updates of two learners."""
    import tempfile

    import torch

    from agents.league import league_of
    from agents.learner_pair import new_pair
    from agents.two_learners import RolloutBarrier, learn_together

    torch.set_num_threads(args.torch_threads)
    norm = {"gamma": args.gamma, "norm_obs": True, "norm_reward": True,
            "clip_obs": args.clip_obs, "clip_reward": 10.0}  # fmt: skip
    args.league = league
    pair = new_pair(
        args.env_id, args.n_envs, dict(args.env_kwargs), norm, seed=seed,
        league=league_of(args, dict(args.env_kwargs)), learning_rate=args.learning_rate,
        lr_schedule=args.lr_schedule, n_steps=args.n_steps, batch_size=args.batch_size,
        n_epochs=args.n_epochs, gamma=args.gamma, gae_lambda=args.gae_lambda,
        clip_range=args.clip_range, ent_coef=args.ent_coef, vf_coef=args.vf_coef,
        max_grad_norm=args.max_grad_norm, net_arch=args.net_arch, activation=args.activation,
        log_std_init=args.log_std_init,
    )  # fmt: skip
    per_update = args.n_envs * args.n_steps
    with tempfile.TemporaryDirectory() as tmp:
        if pair.league is not None:
            pair.league.run_dir = Path(tmp)  # snapshots (none at the default schedule)

        def session(steps: int) -> None:
            lockstep = pair.lockstep
            learn = [
                lambda k=k: pair.models[k].learn(
                    steps, callback=[RolloutBarrier(lockstep, k)], reset_num_timesteps=False
                )
                for k in range(2)
            ]
            learn_together(learn[0], learn[1], lockstep)

        session(per_update)  # warm-up
        t0 = time.perf_counter()
        session(per_update * updates)
        elapsed = time.perf_counter() - t0
    learner_rate = per_update * updates / elapsed
    return learner_rate * (2 if league else 1), learner_rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--updates", type=int, default=20)
    parser.add_argument("--n-envs", type=int, default=0, help="0: train.py's default")
    parser.add_argument("--torch-threads", type=int, default=0, help="0: train.py's default")
    parser.add_argument(
        "--two-learners", action="store_true",
        help="also time self-play (--learners mm1,mm2 --share-policy), interleaved",
    )  # fmt: skip
    parser.add_argument(
        "--pair", action="store_true",
        help="also time two independent learners (--learners mm1,mm2), interleaved",
    )  # fmt: skip
    parser.add_argument(
        "--league", action="store_true", help="also time their league (--league), interleaved"
    )
    opts = parser.parse_args()
    if opts.torch_threads:  # 0: train.py's default
        from agents.train_settings import check_torch_threads

        check_torch_threads(opts.torch_threads, "--torch-threads", parser.error)
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
    rates: list[float] = []
    pairs: list[float] = []
    others: dict[str, list[float]] = {"pair": [], "league": []}
    for i in range(opts.runs):
        rate, rollout_share = one_run(args, opts.updates, seed=i)
        rates.append(rate)
        print(f"run {i + 1}: {rate:10,.0f} env-steps/s  (rollouts {rollout_share:.0%} of the time)")
        if opts.two_learners:
            two, share = one_run(args, opts.updates, seed=i, self_play=True)
            pairs.append(two)
            print(f"       self-play {two:10,.0f} market-steps/s (rollouts {share:.0%}), "
                  f"{two / rate:.0%} of one learner")  # fmt: skip
        for kind in ("pair", "league"):
            if getattr(opts, kind):
                market, learner = pair_run(args, opts.updates, seed=i, league=kind == "league")
                others[kind].append(market)
                print(f"       {kind} {market:10,.0f} market-steps/s ({learner:,.0f} per "
                      f"learner), {market / rate:.0%} of one learner")  # fmt: skip
    median = statistics.median(rates)
    print(f"median: {median:,.0f} env-steps/s (target >= 20,000; issue #14: >= 150,000)")
    if opts.two_learners:
        two = statistics.median(pairs)
        print(f"self-play median: {two:,.0f} market-steps/s, {two / median:.0%} of one learner "
              "(issue #17: >= 60 %)")  # fmt: skip
    for kind, values in others.items():
        if values:
            two = statistics.median(values)
            print(f"{kind} median: {two:,.0f} market-steps/s, {two / median:.0%} of one "
                  "learner (issue #17: >= 60 %)")  # fmt: skip


if __name__ == "__main__":
    main()
