"""Record (``python tests/golden_record.py``) or compare the golden rollouts of every env id.

A refactor that must not change behaviour (issue #11) is checked against rollouts recorded
before it: every registered id (single env, seeded actions), the native vector env of the
default id across an autoreset, and the summary of a small tournament. The file
``tests/golden/rollouts.npz`` is regenerated only when the dynamics change on purpose (and the
env ids' versions bump with it).
"""

from __future__ import annotations

import sys
from pathlib import Path

import gymnasium as gym
import numpy as np

import mm_gym

GOLDEN = Path(__file__).resolve().parent / "golden" / "rollouts.npz"
STEPS = 120
INFO_KEYS = ("pnl", "inventory", "mid", "cash")


def _single(env_id: str) -> dict[str, np.ndarray]:
    env = gym.make(env_id, horizon_steps=STEPS // 2) if "AS2008" not in env_id else gym.make(env_id)
    rng = np.random.default_rng(7)
    obs, info = env.reset(seed=11)
    out: dict[str, list] = {"obs": [obs], "reward": [], "done": [], **{k: [] for k in INFO_KEYS}}
    for _ in range(STEPS):
        action = rng.uniform(-1, 1, env.action_space.shape).astype(np.float32)
        obs, reward, term, trunc, info = env.step(action)
        out["obs"].append(obs)
        out["reward"].append(reward)
        out["done"].append(term or trunc)
        for k in INFO_KEYS:
            out[k].append(float(info.get(k, np.nan)))
        if term or trunc:
            obs, info = env.reset()
            out["obs"].append(obs)
    env.close()
    return {k: np.asarray(v) for k, v in out.items()}


def _vector() -> dict[str, np.ndarray]:
    envs = gym.make_vec("mm_gym/MarketMaking-v1", num_envs=4, horizon_steps=STEPS // 3)
    rng = np.random.default_rng(3)
    obs, _ = envs.reset(seed=5)
    out: dict[str, list] = {"obs": [obs], "reward": [], "done": []}
    for _ in range(STEPS):
        action = rng.uniform(-1, 1, envs.action_space.shape).astype(np.float32)
        obs, reward, term, trunc, _ = envs.step(action)
        out["obs"].append(obs)
        out["reward"].append(reward)
        out["done"].append(term | trunc)
    envs.close()
    return {k: np.asarray(v) for k, v in out.items()}


def _tournament() -> dict[str, np.ndarray]:
    """The numeric summary of a small tournament (two baselines, two regimes, short episodes)."""
    from baselines import AvellanedaStoikov, FixedSpread
    from mm_gym.evaluation import run_tournament, summarize

    policies = {
        "fixed_spread": FixedSpread(half_spread_ticks=1.0),
        "avellaneda_stoikov": AvellanedaStoikov(gamma=0.1, k=1.5),
    }
    t = run_tournament(
        policies, ("mean_reverting", "trending"), {"horizon_steps": 60}, n_episodes=6, seed=1
    )
    summary = summarize(t.episodes, n_boot=200)
    numeric = summary.select_dtypes("number")
    return {
        "columns": np.asarray(list(numeric.columns)),
        "values": numeric.to_numpy(dtype=np.float64),
        "episodes": t.episodes.select_dtypes("number").to_numpy(dtype=np.float64),
    }


def record_all() -> dict[str, np.ndarray]:
    """Every golden array, keyed ``<id>/<name>``."""
    data: dict[str, np.ndarray] = {}
    for env_id in mm_gym.ENV_IDS:
        for k, v in _single(env_id).items():
            data[f"{env_id}/{k}"] = v
    for k, v in _vector().items():
        data[f"vector/{k}"] = v
    for k, v in _tournament().items():
        data[f"tournament/{k}"] = v
    return data


if __name__ == "__main__":
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    arrays = record_all()
    np.savez_compressed(GOLDEN, **arrays)
    print(f"wrote {GOLDEN} ({len(arrays)} arrays)", file=sys.stderr)
