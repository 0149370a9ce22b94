"""RLlib PPO on mm_gym: the single-agent env by its id string, and the two-maker PettingZoo env.

    python examples/rllib_ppo.py                      # both, one iteration each, small
    python examples/rllib_ppo.py --setup multi --iterations 5 --horizon 1000

Needs the ``ray`` extra (``ray[rllib]``, which pins its own Gymnasium: install it in a venv of its
own, as ``make test-ray`` does). RLlib (its new API stack) makes the single-agent env from the
string ``mm_gym:mm_gym/MarketMaking-v1``: Gymnasium imports ``mm_gym`` first, which registers
the ids, so nothing needs registering by hand. The multi-agent setup wraps
:func:`mm_gym.parallel_env` (agents ``mm1`` and ``mm2``, both learning) in RLlib's
``ParallelPettingZooEnv`` and trains one policy per maker.

The settings are small so that an iteration takes seconds on a laptop (a short horizon, a
200-step batch, no remote env runners); they show the wiring, not a tuned agent.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

ENV_ID = "mm_gym:mm_gym/MarketMaking-v1"
"""The default env by its string id (``module:id``: the module registers the id on import)."""

MULTI_ENV = "mm_gym_parallel"
"""The name under which the PettingZoo env is registered with RLlib."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """``--setup``, ``--iterations``, ``--horizon``, ``--batch``, ``--seed``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--setup", choices=("single", "multi", "both"), default="both")
    parser.add_argument("--iterations", type=int, default=1, help="training iterations (>= 1)")
    parser.add_argument("--horizon", type=int, default=100, help="steps per episode (>= 10)")
    parser.add_argument("--batch", type=int, default=200, help="env steps per iteration (>= 32)")
    parser.add_argument("--seed", type=int, default=0, help="seed of RLlib and the env")
    args = parser.parse_args(argv)
    for name, low in (("iterations", 1), ("horizon", 10), ("batch", 32), ("seed", 0)):
        if getattr(args, name) < low:
            parser.error(f"--{name}={getattr(args, name)} must be >= {low}")
    return args


def base_config(args: argparse.Namespace) -> Any:
    """PPO's settings shared by both setups: small batches, local sampling, CPU learner."""
    from ray.rllib.algorithms.ppo import PPOConfig

    return (
        PPOConfig()
        .framework("torch")
        .env_runners(num_env_runners=0, num_envs_per_env_runner=1)
        .learners(num_learners=0)
        .training(
            train_batch_size_per_learner=args.batch,
            minibatch_size=min(64, args.batch),
            num_epochs=1,
            lr=3e-4,
        )
        .debugging(seed=args.seed)
    )


def single_agent(args: argparse.Namespace) -> Any:
    """PPO for mm1 against the built-in rival, the env made from its id string."""
    return base_config(args).environment(ENV_ID, env_config={"horizon_steps": args.horizon})


def multi_agent(args: argparse.Namespace) -> Any:
    """PPO for both makers of the PettingZoo env, one policy (RLModule) each."""
    from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv
    from ray.tune.registry import register_env

    import mm_gym

    register_env(MULTI_ENV, lambda cfg: ParallelPettingZooEnv(mm_gym.parallel_env(**cfg)))
    return (
        base_config(args)
        .environment(MULTI_ENV, env_config={"horizon_steps": args.horizon})
        .multi_agent(
            policies={"mm1", "mm2"},
            policy_mapping_fn=lambda agent_id, episode, **kwargs: agent_id,
        )
    )


def train(config: Any, iterations: int, label: str) -> dict[str, Any]:
    """Build the algorithm, train ``iterations`` times, print and return the last result."""
    algo = config.build_algo()
    try:
        result: dict[str, Any] = {}
        for i in range(iterations):
            result = algo.train()
            runners = result.get("env_runners", {})
            steps = result.get(
                "num_env_steps_sampled_lifetime", runners.get("num_env_steps_sampled_lifetime")
            )
            ret = runners.get("episode_return_mean", float("nan"))
            print(f"{label}: iteration {i + 1}: env steps {steps}, episode return mean {ret}")
        return result
    finally:
        algo.stop()


def main(argv: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Run the chosen setups; return each one's last training result."""
    args = parse_args(argv)
    import ray

    # One CPU per process, the serial market kernel (Ray's workers inherit the environment).
    os.environ.setdefault("MM_GYM_PARALLEL", "off")
    started = not ray.is_initialized()
    if started:
        ray.init(include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        results = {}
        if args.setup in ("single", "both"):
            results["single"] = train(single_agent(args), args.iterations, "single-agent")
        if args.setup in ("multi", "both"):
            results["multi"] = train(multi_agent(args), args.iterations, "multi-agent")
        return results
    finally:
        if started:
            ray.shutdown()


if __name__ == "__main__":
    main()
