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


def assert_quotes_rest_latency_later(market, steps: int, period: int, latency: dict) -> None:
    """Each maker's quote rests on the slow venue exactly its latency after it was sent.

    ``market`` is a :class:`mm_gym.multivenue.MultiVenueMarket` of one market on two venues,
    the second one slow; ``latency`` maps a maker (0 mm1, 1 mm2: it then quotes too) to its
    latency there, steps. Every step sends one-lot quotes far from the touch (not filled, not
    clamped) at a different price (cycling over ``period`` steps), so a resting quote tells
    which step sent it; before ``latency`` steps nothing has arrived (sizes 0).
    """
    market.reset()
    slow = market.sims[1]
    sent = []
    ones = np.ones((1, 2, 2))
    for t in range(steps):
        offsets = np.full((1, 2, 2), 6.0 + t % period)
        mid = float(slow.book.mid[0])
        sent.append((np.floor(mid - offsets[0, 1, 0]), np.ceil(mid + offsets[0, 1, 1])))
        market.step(offsets, ones, None, (offsets, ones) if 1 in latency else None)
        o = slow.orders
        for k, lag in latency.items():
            if t < lag:
                assert o.size[0, k, 0] == 0 and o.size[0, k, 1] == 0, (k, t)
            else:
                assert (o.tick[0, k, 0], o.tick[0, k, 1]) == sent[t - lag], (k, t)
                assert o.size[0, k, 0] == 1 and o.size[0, k, 1] == 1, (k, t)


def assert_seats_equal_parallel(venv, pars, seed: int, steps: int, same_info) -> int:
    """A two-maker vector env's seats (NEXT_STEP) step as its parallel envs ``pars`` do.

    ``pars[i]`` is reset with ``seed + i``; random actions for ``steps`` steps across the
    episodes' ends (a parallel env that ended is reset where ``venv`` autoresets its market):
    seat ``2i + k``'s observations, rewards and flags equal agent ``k``'s of ``pars[i]`` bit for
    bit, and ``same_info(batched_info, seat, agent_info)`` checks the infos. Returns the number
    of episodes that ended.
    """
    agents = ("mm1", "mm2")
    obs, info = venv.reset(seed=seed)
    assert venv.num_envs == 2 * len(pars) and obs.shape[0] == venv.num_envs
    for i, p in enumerate(pars):
        o, inf = p.reset(seed=seed + i)
        for k, agent in enumerate(agents):
            np.testing.assert_array_equal(obs[2 * i + k], o[agent])
            same_info(info, 2 * i + k, inf[agent])
    rng = np.random.default_rng(0)
    pending = np.zeros(len(pars), bool)  # NEXT_STEP: the step after an end resets instead
    ends = 0
    for _ in range(steps):
        a = rng.uniform(-1.0, 1.0, venv.action_space.shape)
        obs, reward, term, trunc, info = venv.step(a)
        for i, p in enumerate(pars):
            if pending[i]:
                o, inf = p.reset()  # the parallel env's next episode (its own seed rule)
                r, done = dict.fromkeys(agents, 0.0), False
            else:
                o, r, te, _, inf = p.step({agent: a[2 * i + k] for k, agent in enumerate(agents)})
                done = te["mm1"]
            for k, agent in enumerate(agents):
                s = 2 * i + k
                np.testing.assert_array_equal(obs[s], o[agent])
                assert reward[s] == r[agent]
                assert bool(term[s]) == done and not trunc[s]
                same_info(info, s, inf[agent])
            pending[i] = done
            ends += done
    return ends


def seat_info(info: dict, s: int) -> dict:
    """Seat ``s``'s entries of a batched info dict (nested dicts flattened, masks left out)."""
    out = {}
    for key, value in info.items():
        if key.startswith("_"):
            continue
        if isinstance(value, dict):
            out.update({f"{key}.{a}": v[s] for a, v in value.items() if not a.startswith("_")})
        else:
            out[key] = value[s]
    return out


def assert_same_seat_steps(got: tuple, want: tuple) -> None:
    """Two two-maker vector env steps are the same bit for bit: arrays, flags, every seat's info."""
    for x, y in zip(got[:4], want[:4], strict=True):
        np.testing.assert_array_equal(x, y)
    for s in range(len(got[0])):
        a, b = seat_info(got[4], s), seat_info(want[4], s)
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def flat_info(info: dict) -> dict:
    """One env's info dict with nested dicts flattened (``"reward_components.pnl"``)."""
    out = {}
    for key, value in info.items():
        if isinstance(value, dict):
            out.update({f"{key}.{a}": v for a, v in value.items()})
        else:
            out[key] = value
    return out


def assert_same_seat_info(batched: dict, s: int, single: dict) -> None:
    """Seat ``s`` of a two-maker vector env's ``batched`` info equals ``single`` bit for bit."""
    a, b = seat_info(batched, s), flat_info(single)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


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
