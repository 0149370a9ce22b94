"""The AS2008 native vector env: its compiled PCG64 streams, vector == singles, modes, inputs."""

from __future__ import annotations

import gymnasium as gym
import numba as nb
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import mm_gym  # noqa: F401  (registers the ids)
from mm_gym.config import ConfigError, UnknownKeywordError
from mm_gym.envs.intensity_vector import (
    _LEAST_POSITIVE,
    _P_BAND,
    IntensityMarketMakingVectorEnv,
    _fill_bounds,
)
from mm_gym.envs.pcg64 import next_double, seed_stream

ID = "mm_gym/AS2008-v1"
INFO_KEYS = ("pnl", "cash", "inventory", "mid", "fills", "step")


@nb.njit
def _draws(seed, child, k):
    st = np.zeros((1, 2, 4), np.uint64)
    seed_stream(st, 0, child, seed, np.zeros(17, np.uint64))
    return np.array([next_double(st, 0, child) for _ in range(k)])


@pytest.mark.parametrize("seed", [0, 1, 2**32 - 1, 2**32, 2**63 + 12_345, 2**64 - 1])
def test_pcg64_streams_match_numpy_seedsequence_children(seed):
    for child in (0, 1):
        ref = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[child]).random(40)
        np.testing.assert_array_equal(_draws(np.uint64(seed), child, 40), ref)


def _single_rollout(kw, seed, actions, max_episode_steps=None):
    """A single env driven as sub-env ``i`` of a NEXT_STEP vector env (reset after an end)."""
    env = gym.make(ID, max_episode_steps=max_episode_steps, **kw)
    obs, info = env.reset(seed=seed)
    rows = [(obs, 0.0, False, False, info)]
    done = False
    for a in actions:
        if done:
            obs, info = env.reset()
            rows.append((obs, 0.0, False, False, info))
            done = False
        else:
            obs, r, te, tr, info = env.step(a)
            rows.append((obs, r, te, tr, info))
            done = te or tr
    return rows


def _assert_sub_env_equals(rows, vec_rows, i):
    for k, ((o, r, te, tr, info), (vo, vr, vte, vtr, vinfo)) in enumerate(
        zip(rows, vec_rows, strict=True)
    ):
        where = f"step {k}"
        assert np.array_equal(o, vo[i]), where
        assert r == vr[i] and te == vte[i] and tr == vtr[i], where
        for key in INFO_KEYS:
            assert info[key] == vinfo[key][i], (where, key)
            assert vinfo[f"_{key}"][i]
        comps = vinfo["reward_components"]
        assert set(info["reward_components"]) == {c for c in comps if not c.startswith("_")}
        for c, v in info["reward_components"].items():
            assert v == comps[c][i], (where, c)


def _vector_rollout(envs, seed, actions):
    obs, info = envs.reset(seed=seed)
    rows = [(obs, np.zeros(envs.num_envs), *(np.zeros(envs.num_envs, bool),) * 2, info)]
    rows += [envs.step(a) for a in actions]
    return rows


CONFIGS = [
    {},  # the paper: CARA utility at the horizon, "linear" fills, no inventory bound
    {"utility": "pnl", "inventory_penalty": 0.01, "dampening": 0.5, "terminal_penalty": 0.1},
    {"fill_model": "poisson", "inventory_limit": 3, "max_drawdown": 2.0, "utility": "pnl"},
]


@pytest.mark.parametrize("kw", CONFIGS)
def test_vector_sub_envs_equal_single_envs_across_autoresets(kw):
    n, seed = 3, 10
    # Actions beyond [-1, 1] too (clipped as by the single env); 450 steps: three episodes.
    actions = np.random.default_rng(1).uniform(-1.3, 1.3, (450, n, 2)).astype(np.float32)
    envs = gym.make_vec(ID, num_envs=n, **kw)
    assert isinstance(envs, IntensityMarketMakingVectorEnv)
    vec_rows = _vector_rollout(envs, seed, actions)
    assert sum(int(r[2].sum()) for r in vec_rows) >= 2 * n  # episodes did end
    for i in range(n):
        _assert_sub_env_equals(_single_rollout(kw, seed + i, actions[:, i]), vec_rows, i)


def test_fill_decisions_left_to_numpy_are_the_same(monkeypatch):
    """A band of 0.3 sends many fill decisions to numpy's exp (the rare path)."""
    n, seed = 2, 5
    actions = np.random.default_rng(2).uniform(-1, 1, (220, n, 2)).astype(np.float32)
    envs = gym.make_vec(ID, num_envs=n)
    envs.unwrapped._pr[_P_BAND] = 0.3
    calls = []
    decide = envs.unwrapped._decide_unsure
    monkeypatch.setattr(envs.unwrapped, "_decide_unsure", lambda *a: calls.append(1) or decide(*a))
    vec_rows = _vector_rollout(envs, seed, actions)
    assert len(calls) > 20  # steps with a decision made by numpy
    for i in range(n):
        _assert_sub_env_equals(_single_rollout({}, seed + i, actions[:, i]), vec_rows, i)


@nb.njit
def _bounds(actions, pr):
    th = np.empty((2, actions.shape[0]))
    _fill_bounds(actions, pr, th)
    return th


@pytest.mark.parametrize(
    ("kw", "tiny_p"),
    [
        ({}, "none"),
        ({"max_delta": 1000.0}, "some"),  # -k * delta down to -1500: exp below the double range
        ({"intensity.A": 1e-300, "intensity.k": 40.0}, "all"),  # p from 5e-303 down to 0
        ({"intensity.A": 200.0, "intensity.k": 1e-3}, "none"),  # A * dt = 1: p = 1 at delta 0
    ],
)
def test_fill_bounds_bracket_numpys_fill_probability(kw, tiny_p):
    """Every uniform below ``lo`` fills and every one from ``hi`` does not, as with numpy's exp.

    The uniforms are multiples of 2**-53: a bracket ``(0, least positive double)`` (tiny p)
    is sound only if numpy's p is below 2**-53.
    """
    envs = IntensityMarketMakingVectorEnv(1, **kw)
    rng = np.random.default_rng(7)
    actions = np.concatenate([rng.uniform(-1.2, 1.2, 20_000), [-1.0, 1.0, 0.0, -0.0, 2.0]])
    lo, hi = _bounds(actions.astype(np.float32), envs._pr)
    delta = (np.clip(actions.astype(np.float32).astype(np.float64), -1, 1) + 1) * (
        0.5 * envs.max_delta
    )
    p = envs._template._market.fill_probability(delta)
    tiny = (lo == 0.0) & (hi == _LEAST_POSITIVE)
    assert np.all(tiny | ((lo <= p) & (p <= hi)))
    assert np.all(p[tiny] < 2.0**-53)
    # the band is narrow: numpy decides about 2e-6 of the draws at most
    assert np.all(tiny | (hi - lo <= 2.1e-6 * p))
    assert {"none": not tiny.any(), "some": 0 < tiny.sum() < len(p), "all": tiny.all()}[tiny_p]


def test_tiny_fill_probabilities_are_decided_without_numpy(monkeypatch):
    """Quotes 500+ away (p < 1e-300): no fill unless the uniform is exactly 0, decided in the
    kernel, which leaves nothing to numpy; the path equals the single envs'."""
    n, seed = 3, 8
    rng = np.random.default_rng(9)
    actions = rng.uniform(-1, 1, (260, n, 2)).astype(np.float32)
    actions[:, :, 0] = np.abs(actions[:, :, 0])  # bid at least 500 away: z <= -750
    envs = gym.make_vec(ID, num_envs=n, max_delta=1000.0)
    calls = []
    decide = envs.unwrapped._decide_unsure
    monkeypatch.setattr(envs.unwrapped, "_decide_unsure", lambda *a: calls.append(1) or decide(*a))
    vec_rows = _vector_rollout(envs, seed, actions)
    for i in range(n):
        _assert_sub_env_equals(
            _single_rollout({"max_delta": 1000.0}, seed + i, actions[:, i]), vec_rows, i
        )
    assert not calls


def test_returned_arrays_are_not_reused_by_later_steps():
    envs = gym.make_vec(ID, num_envs=3, max_episode_steps=2, utility="pnl")
    first = envs.reset(seed=1)
    kept = [first]
    for _ in range(5):  # autoresets included
        kept.append(envs.step(np.full((3, 2), 0.1, np.float32)))
    copies = [
        (np.copy(r[0]), {k: np.copy(v) for k, v in r[-1].items() if k != "reward_components"})
        for r in kept
    ]
    for _ in range(3):
        envs.step(np.full((3, 2), -0.4, np.float32))
    for r, (obs, info) in zip(kept, copies, strict=True):
        assert np.array_equal(r[0], obs)
        for k, v in info.items():
            assert np.array_equal(r[-1][k], v), k


def test_max_episode_steps_truncates_as_time_limit():
    n, seed = 2, 3
    actions = np.random.default_rng(3).uniform(-1, 1, (130, n, 2)).astype(np.float32)
    envs = gym.make_vec(ID, num_envs=n, max_episode_steps=60)
    vec_rows = _vector_rollout(envs, seed, actions)
    assert vec_rows[60][3].all() and not vec_rows[60][2].any()
    for i in range(n):
        rows = _single_rollout({}, seed + i, actions[:, i], max_episode_steps=60)
        _assert_sub_env_equals(rows, vec_rows, i)


def test_sub_env_path_does_not_depend_on_the_batch_size():
    actions = np.random.default_rng(4).uniform(-1, 1, (250, 5, 2)).astype(np.float32)
    big = _vector_rollout(gym.make_vec(ID, num_envs=5), 20, actions)
    small = _vector_rollout(gym.make_vec(ID, num_envs=1), 23, actions[:, 3:4])
    for (o, r, *_), (so, sr, *_) in zip(big, small, strict=True):
        assert np.array_equal(o[3], so[0]) and r[3] == sr[0]


def test_spaces_and_info_keys_match_the_single_env():
    single = gym.make(ID)
    envs = gym.make_vec(ID, num_envs=4)
    assert envs.single_observation_space == single.observation_space
    assert envs.single_action_space == single.action_space
    assert envs.observation_space.shape == (4, 2) and envs.action_space.shape == (4, 2)
    obs, info = envs.reset(seed=0)
    _, sinfo = single.reset(seed=0)
    assert envs.observation_space.contains(obs)
    assert {k for k in info if not k.startswith("_")} == set(sinfo)
    *_, info = envs.step(envs.action_space.sample())
    assert {k for k in info if not k.startswith("_")} == set(sinfo)
    assert info["inventory"].dtype == np.int64 and info["pnl"].dtype == np.float64
    assert envs.unwrapped.policy_context() == single.unwrapped.policy_context()


def test_same_step_mode_reports_final_obs_and_resets():
    envs = gym.make_vec(ID, num_envs=2, autoreset_mode="SAME_STEP")
    envs.reset(seed=0)
    a = np.zeros((2, 2), np.float32)
    for _ in range(199):
        obs, _, term, _, info = envs.step(a)
        assert not term.any() and "final_obs" not in info
    obs, _, term, _, info = envs.step(a)
    assert term.all() and info["_final_obs"].all()
    assert info["final_obs"][0][1] == 0.0  # time_left at the horizon
    assert np.array_equal(obs[:, 1], [1.0, 1.0]) and (info["step"] == 0).all()
    assert (info["final_info"]["step"] == 200).all()


def test_disabled_mode_needs_a_masked_reset():
    envs = gym.make_vec(ID, num_envs=2, autoreset_mode=AutoresetMode.DISABLED)
    envs.reset(seed=0)
    a = np.zeros((2, 2), np.float32)
    for _ in range(200):
        envs.step(a)
    with pytest.raises(RuntimeError, match="DISABLED"):
        envs.step(a)
    obs, info = envs.reset(options={"reset_mask": np.array([True, False])})
    assert info["_step"].tolist() == [True, False] and obs[0, 1] == 1.0
    with pytest.raises(RuntimeError, match="DISABLED"):
        envs.step(a)  # sub-env 1 is still ended


def test_bad_inputs_raise_and_leave_the_state_alone():
    with pytest.raises(UnknownKeywordError):
        gym.make_vec(ID, num_envs=2, regime="trending")
    with pytest.raises(ConfigError, match="num_envs"):
        IntensityMarketMakingVectorEnv(0)
    with pytest.raises(ConfigError, match="autoreset_mode"):
        gym.make_vec(ID, num_envs=2, autoreset_mode="sometimes")
    with pytest.raises(ConfigError, match="max_episode_steps"):
        gym.make_vec(ID, num_envs=2, max_episode_steps=0)
    envs = gym.make_vec(ID, num_envs=2)
    with pytest.raises(RuntimeError, match="before reset"):
        envs.step(np.zeros((2, 2), np.float32))
    envs.reset(seed=7)
    good = np.full((2, 2), 0.2, np.float32)
    for bad in (
        np.array([[0.1, np.nan], [0.0, 0.0]]),
        np.array([[0.1, 0.1], [np.inf, 0.0]], np.float32),
        np.zeros((3, 2)),
        np.zeros((2, 2), bool),
        [[True, 0.5], [0.0, 0.0]],
        "buy",
    ):
        with pytest.raises(ValueError, match="invalid actions"):
            envs.step(bad)
    with pytest.raises(TypeError):
        envs.reset(seed=1.5)
    with pytest.raises(ValueError):
        envs.reset(seed=[1, 2, 3])
    # The rejected steps drew nothing: the path is the one of a fresh env.
    obs = envs.step(good)[0]
    fresh = gym.make_vec(ID, num_envs=2)
    fresh.reset(seed=7)
    assert np.array_equal(obs, fresh.step(good)[0])


def test_ansi_render_gives_one_frame_per_sub_env():
    envs = gym.make_vec(ID, num_envs=3, render_mode="ansi")
    single = gym.make(ID, render_mode="ansi")
    envs.reset(seed=4)
    single.reset(seed=5)
    a = np.full((3, 2), -0.2, np.float32)
    for _ in range(7):
        envs.step(a)
        single.step(a[1])
    frames = envs.render()
    assert isinstance(frames, tuple) and len(frames) == 3
    assert frames[1] == single.render()
