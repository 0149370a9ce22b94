"""Stock SB3 PPO under candidate action parameterisations (issue #13 item 1): held-out returns.

Run ``python benchmarks/ppo_action_mappings.py VARIANT PPO_SEED`` (e.g. ``spread_skew 0``); it
prints one JSON line per checkpoint (24,576 and 49,152 steps by default, ``--steps``): the
deterministic returns on held-out seeds 100-102 before and after, the fills, the mean and spread
of the deterministic actions, mean ``|inventory|`` and PPO's log-std. The protocol is
``tests/test_action_mapping.py``'s (whose held-out episodes are :func:`held_out`):
``PPO("MlpPolicy", env, seed=PPO_SEED)``, default hyper-parameters, one env, one torch thread.
49,152 steps continue the 24,576-step model (``reset_num_timesteps=False``; the rollouts are
2,048 steps, so the boundaries match one 49,152-step run). About 1-2 minutes a run on a free
core. Run it where this checkout's ``mm_gym`` is the one imported (``PYTHONPATH=.``).

``touch``, ``mid`` and ``spread_skew`` are the package's mappings (``action_mapping=``). The
other variants are the candidates measured for ``spread_skew``, as a wrapper: a half-spread
``s`` and a skew ``k`` (bid ``clip(s + k)``, ask ``clip(s - k)``, or with ``pullback`` bid
``s + max(k, 0)``, ask ``s + max(-k, 0)``), converted to ``"touch"`` actions by
:func:`mm_gym.actions.offsets_to_actions`, which keeps every price. ``s``: -1 the mid, ``edge``
the half-spread ``h``, +1 ``max_offset_ticks``; ``k``: 0 inside the dead zone ``dz``, then
linear (or ``power`` 2) to ``range * max_offset_ticks`` at +-1.
"""

from __future__ import annotations

import argparse
import json
import time

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO

import mm_gym  # noqa: F401  (registers the env ids)
from mm_gym.actions import offsets_to_actions

ENV_ID = "mm_gym/MarketMaking-v1"
HELD_OUT_SEEDS = (100, 101, 102)

WRAPPED = {  # the spread_skew candidates; "wide_dz5_r25" is what the package ships
    "ss": dict(edge=0.0, h=0.25, dz=0.0, range=0.5),
    "ss_dz5": dict(edge=0.0, h=0.25, dz=0.5, range=0.5),
    "wide_dz5": dict(edge=0.6, h=0.5, dz=0.5, range=0.5),
    "wide_dz7": dict(edge=0.6, h=0.5, dz=0.7, range=0.5),
    "wide_dz5_r25": dict(edge=0.6, h=0.5, dz=0.5, range=0.25),
    "wide_dz5_quadratic": dict(edge=0.6, h=0.5, dz=0.5, range=0.5, power=2),
    "wide_dz5_pullback": dict(edge=0.6, h=0.5, dz=0.5, range=1.0, pullback=True),
}


class SpreadSkewCandidate(gym.ActionWrapper):
    """A (half-spread, skew) action pair mapped to the wrapped env's ``"touch"`` actions."""

    def __init__(self, env: gym.Env, edge, h, dz, range, power=1, pullback=False) -> None:
        super().__init__(env)
        self.max_offset = float(env.unwrapped.env_config.max_offset_ticks)
        self.edge, self.h, self.dz, self.power, self.pullback = edge, h, dz, power, pullback
        self.skew_at_one = range * self.max_offset

    def action(self, action: np.ndarray) -> np.ndarray:
        x, y = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        m, e = self.max_offset, self.edge
        s = (x + 1) / (e + 1) * self.h if x <= e else self.h + (x - e) / (1 - e) * (m - self.h)
        k = np.sign(y) * (max(abs(y) - self.dz, 0.0) / (1 - self.dz)) ** self.power
        k *= self.skew_at_one
        pair = [s + max(k, 0.0), s + max(-k, 0.0)] if self.pullback else [s + k, s - k]
        offsets = np.clip(np.array(pair), 0.0, m)
        return offsets_to_actions(offsets, m, "touch")


def make_env(variant: str) -> gym.Env:
    """The env of ``variant``: a package mapping by name, or a wrapped candidate."""
    if variant in WRAPPED:
        return SpreadSkewCandidate(gym.make(ENV_ID), **WRAPPED[variant])
    return gym.make(ENV_ID, action_mapping=variant)


def held_out(model: PPO, env: gym.Env) -> dict[str, object]:
    """Deterministic episodes on the held-out seeds: returns, fills and what the policy did."""
    returns, fills, actions, inventory = [], 0, [], []
    for seed in HELD_OUT_SEEDS:
        obs, _ = env.reset(seed=seed)
        done, total = False, 0.0
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, info = env.step(action)
            total += float(reward)
            fills += info["fills"]
            actions.append(np.clip(action, -1.0, 1.0))
            inventory.append(abs(info["inventory"]))
            done = terminated or truncated
        returns.append(total)
    a = np.array(actions)
    return {
        "mean": round(float(np.mean(returns)), 3),
        "returns": returns,
        "fills": fills,
        "action_mean": a.mean(0).round(3).tolist(),
        "action_std": a.std(0).round(3).tolist(),
        "mean_abs_inventory": round(float(np.mean(inventory)), 2),
    }


def main() -> None:
    """Train once per checkpoint and print each checkpoint's held-out figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("variant", choices=["touch", "mid", "spread_skew", *WRAPPED])
    parser.add_argument("ppo_seed", type=int)
    parser.add_argument("--steps", type=int, nargs="+", default=[24_576, 49_152])
    args = parser.parse_args()
    torch.set_num_threads(1)
    env = make_env(args.variant)
    model = PPO("MlpPolicy", make_env(args.variant), seed=args.ppo_seed, device="cpu")
    start = held_out(model, env)
    done, t0 = 0, time.perf_counter()
    for steps in sorted(args.steps):
        model.learn(steps - done, reset_num_timesteps=done == 0)
        done = steps
        row = {"variant": args.variant, "ppo_seed": args.ppo_seed, "steps": steps}
        row |= {"start": start, "after": held_out(model, env)}
        row["log_std"] = model.policy.log_std.detach().numpy().round(3).tolist()
        row["train_seconds"] = round(time.perf_counter() - t0)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
