"""Helpers the test modules import: scripts as modules, a tiny training run, toy policy files."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

from mm_gym.observations import FEATURE_NAMES

ROOT = Path(__file__).resolve().parents[1]

# train.py at the smallest scale that trains and evaluates: 8 markets x 16 steps per update,
# 40-step episodes, 256 steps in all, 4 evaluation episodes. Callers add --eval-baselines.
TINY_TRAIN_EVAL = [
    "--n-envs", "8", "--n-steps", "16", "--batch-size", "64", "--n-epochs", "2",
    "--net-arch", "16", "16", "--env-kwargs", "horizon_steps=40", "--no-progress",
    "--checkpoint-every", "0", "--total-timesteps", "256", "--eval-episodes", "4",
]  # fmt: skip


def load_script(filename: str, module_name: str) -> ModuleType:
    """Import the script ``ROOT/filename`` (e.g. ``train.py``) as the module ``module_name``."""
    spec = importlib.util.spec_from_file_location(module_name, ROOT / filename)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their string annotations through it
    spec.loader.exec_module(module)
    return module


def toy_policy_arrays(feature_names=FEATURE_NAMES, max_offset=10.0) -> dict[str, np.ndarray]:
    """The arrays of a small valid ``policy.npz`` (a 4-unit tanh actor) over ``feature_names``."""
    d = len(feature_names)
    rng = np.random.default_rng(0)
    return {
        "weights_0": rng.normal(size=(4, d)).astype(np.float32),
        "biases_0": np.zeros(4, np.float32),
        "weights_1": rng.normal(size=(2, 4)).astype(np.float32),
        "biases_1": np.array([-0.5, 0.3], np.float32),
        "obs_mean": np.zeros(d),
        "obs_var": np.ones(d),
        "clip_obs": np.float64(10.0),
        "epsilon": np.float64(1e-8),
        "activation": np.array("tanh"),
        "feature_names": np.array(list(feature_names)),
        "max_offset_ticks": np.float64(max_offset),
    }


def assert_vector_equals_singles(vec, singles, seed: int, steps: int, info_keys=()) -> None:
    """``vec`` (NEXT_STEP autoreset) steps as its ``singles`` do, seeded ``seed + i``.

    Random actions for ``steps`` steps across the episodes' ends: observations, rewards,
    terminations and the ``info_keys`` of each sub-environment equal the single env's bit for
    bit (a single env that ended is reset where the vector env autoresets it).
    """
    obs, _ = vec.reset(seed=seed)
    for i, e in enumerate(singles):
        np.testing.assert_array_equal(obs[i], e.reset(seed=seed + i)[0])
    rng = np.random.default_rng(0)
    done = [False] * len(singles)
    for _ in range(steps):
        a = rng.uniform(-1, 1, vec.action_space.shape).astype(np.float32)
        obs, rew, term, _, info = vec.step(a)
        for i, e in enumerate(singles):
            if done[i]:  # NEXT_STEP: the vector env resets it in this step
                o, r, t, one = e.reset()[0], 0.0, False, None
            else:
                o, r, t, _, one = e.step(a[i])
            done[i] = t
            np.testing.assert_array_equal(obs[i], o)
            assert rew[i] == r and term[i] == t
            for key in info_keys if one is not None else ():
                np.testing.assert_array_equal(info[key][i], one[key])


def sb3_ppo_before_and_after(
    env_id: str, steps: int, **env_kwargs
) -> tuple[list[float], list[float], int, int, float]:
    """Stock SB3 PPO (default hyper-parameters, PPO seed 0, one env, one torch thread).

    Returns the deterministic returns on held-out seeds 100-102 before and after ``steps``
    training steps, the mm1 fills over those episodes before and after, and the training time
    in seconds. The episodes are ``benchmarks/ppo_action_mappings.py``'s ``held_out``.
    """
    import time

    import gymnasium as gym
    import torch
    from stable_baselines3 import PPO

    bench = load_script("benchmarks/ppo_action_mappings.py", "ppo_action_mappings")
    torch.set_num_threads(1)
    env = gym.make(env_id, **env_kwargs)
    model = PPO("MlpPolicy", gym.make(env_id, **env_kwargs), seed=0, device="cpu")
    before = bench.held_out(model, env)
    start = time.perf_counter()
    model.learn(steps)
    elapsed = time.perf_counter() - start
    after = bench.held_out(model, env)
    return before["returns"], after["returns"], before["fills"], after["fills"], elapsed


def baseline_rollout(env_id: str, policy, mapping: str, steps: int = 150) -> dict[str, np.ndarray]:
    """Observations, PnL and mm1's quote ticks of ``policy`` on 3 markets under ``mapping``.

    ``steps`` steps of a seeded ``gym.make_vec(env_id, num_envs=3, horizon_steps=steps)``,
    the policy reset with its own seeded generator and the env's context.
    """
    import gymnasium as gym

    envs = gym.make_vec(env_id, num_envs=3, horizon_steps=steps, action_mapping=mapping)
    obs, _ = envs.reset(seed=0)
    core = envs.unwrapped._core
    policy.reset(np.random.default_rng(5), core.context(0))
    out: dict[str, list] = {"obs": [], "pnl": [], "ticks": []}
    for _ in range(steps):
        obs, _, _, _, info = envs.step(policy.act(obs))
        out["obs"].append(obs)
        out["pnl"].append(info["pnl"])
        out["ticks"].append(core.orders.tick[:, 0].copy())
    envs.close()
    return {k: np.asarray(v) for k, v in out.items()}
