"""The native vector environment: make_vec, autoreset, vector == singles, determinism."""

from __future__ import annotations

import copy
import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import data_equivalence
from gymnasium.vector import AutoresetMode

import mm_gym  # noqa: F401  (registers the ids)
from mm_gym.actions import offsets_to_actions
from mm_gym.config import ConfigError
from mm_gym.envs.seeding import episode_seeds
from mm_gym.envs.vector import MarketMakingVectorEnv

ID = "mm_gym/MarketMaking-v1"


def test_make_vec_returns_native_vector_env():
    envs = gym.make_vec(ID, num_envs=8, horizon_steps=10, regime="trending")
    assert isinstance(envs, MarketMakingVectorEnv)
    assert envs.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert envs.num_envs == 8
    assert envs.observation_space.shape == (8, 17)
    assert envs.action_space.shape == (8, 2)
    assert envs.unwrapped.market_config.regime == "trending"
    obs, infos = envs.reset(seed=0)
    assert obs.shape == (8, 17) and obs.dtype == np.float32
    assert envs.observation_space.contains(obs)
    obs, rew, term, trunc, infos = envs.step(envs.action_space.sample())
    assert rew.shape == term.shape == trunc.shape == (8,)
    assert infos["pnl"].shape == (8,) and infos["_pnl"].all()
    assert infos["reward_components"]["pnl"].shape == (8,)


def test_sync_vectorization_still_works():
    envs = gym.make_vec(ID, num_envs=2, vectorization_mode="sync", horizon_steps=10)
    envs.reset(seed=0)
    envs.step(envs.action_space.sample())


def _compare(step_single, vector_step, i):
    obs, rew, term, trunc, info = step_single
    vobs, vrew, vterm, vtrunc, vinfo = vector_step
    assert np.array_equal(obs, vobs[i])
    assert rew == vrew[i] and term == vterm[i] and trunc == vtrunc[i]
    for key, value in info.items():
        if key == "reward_components":
            for name, v in value.items():
                assert v == vinfo[key][name][i], (key, name)
        else:
            assert value == vinfo[key][i], key


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"action_type": "continuous_sizes"},
        {"action_type": "discrete", "observe_regime": True, "regime": "switching"},
        {"utility": "cara", "dampening": 0.5, "max_drawdown": 3.0},
    ],
    ids=["continuous", "sizes", "discrete", "cara-drawdown"],
)
def test_vector_equals_singles_across_autoreset(kwargs):
    n, horizon, steps = 3, 25, 90
    envs = gym.make_vec(ID, num_envs=n, horizon_steps=horizon, **kwargs)
    singles = [gym.make(ID, horizon_steps=horizon, **kwargs) for _ in range(n)]
    vobs, vinfo = envs.reset(seed=100)
    for i, env in enumerate(singles):
        obs, info = env.reset(seed=100 + i)
        _compare(
            (obs, 0.0, False, False, info), (vobs, np.zeros(n), [False] * n, [False] * n, vinfo), i
        )
    envs.action_space.seed(0)
    done = [False] * n
    episodes_ended = 0
    for _ in range(steps):
        actions = envs.action_space.sample()
        vstep = envs.step(actions)
        for i, env in enumerate(singles):
            if done[i]:
                obs, info = env.reset()  # NEXT_STEP autoreset: the vector resets here
                single = (obs, 0.0, False, False, info)
            else:
                single = env.step(actions[i])
            _compare(single, vstep, i)
            done[i] = single[2]
            episodes_ended += single[2]
    assert episodes_ended >= 2 * n  # every sub-env went through at least two autoresets


@pytest.mark.parallel
def test_vector_sub_env_does_not_depend_on_batch_size():
    small = gym.make_vec(ID, num_envs=2, horizon_steps=30)
    large = gym.make_vec(ID, num_envs=70, horizon_steps=30)  # parallel kernel from 64 markets
    o_small, _ = small.reset(seed=5)
    o_large, _ = large.reset(seed=5)
    assert np.array_equal(o_small, o_large[:2])
    rng = np.random.default_rng(0)
    for _ in range(70):
        a = rng.uniform(-1, 1, (70, 2)).astype(np.float32)
        s = small.step(a[:2])
        g = large.step(a)
        assert np.array_equal(s[0], g[0][:2]) and np.array_equal(s[1], g[1][:2])


def test_vector_same_seed_bit_identical_and_seed_lists():
    def run(seed):
        envs = gym.make_vec(ID, num_envs=4, horizon_steps=20)
        out = [envs.reset(seed=seed)]
        envs.action_space.seed(1)
        for _ in range(50):
            out.append(envs.step(envs.action_space.sample()))
        return out

    assert data_equivalence(run(3), run(3), exact=True)
    assert not data_equivalence(run(3), run(4))
    listed = gym.make_vec(ID, num_envs=2, horizon_steps=20)
    obs_list, _ = listed.reset(seed=[3, 4])
    obs_int, _ = gym.make_vec(ID, num_envs=2, horizon_steps=20).reset(seed=3)
    assert np.array_equal(obs_list, obs_int)
    with pytest.raises(ValueError, match="expected 2"):
        listed.reset(seed=[1, 2, 3])


def test_episode_seeds_are_distinct():
    roots = np.repeat(np.arange(50, dtype=np.uint64), 50)
    episodes = np.tile(np.arange(50), 50)
    seeds = episode_seeds(roots, episodes)
    assert len(np.unique(seeds)) == seeds.size


def test_vector_bad_actions():
    envs = gym.make_vec(ID, num_envs=3)
    envs.reset(seed=0)
    with pytest.raises(ValueError, match="shape"):
        envs.step(np.zeros((2, 2), np.float32))
    bad = np.zeros((3, 2), np.float32)
    bad[1, 0] = np.nan
    with pytest.raises(ValueError, match=r"NaN.*\(action_space=Box\(-1\.0, 1\.0, \(3, 2\)"):
        envs.step(bad)
    d = gym.make_vec(ID, num_envs=3, action_type="discrete")
    d.reset(seed=0)
    with pytest.raises(ValueError, match="out of range"):
        d.step(np.array([0, 1, 99]))
    with pytest.raises(ValueError, match="integers"):
        d.step(np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ConfigError, match="num_envs=0"):
        MarketMakingVectorEnv(0)


@pytest.mark.parametrize("copier", ["pickle", "deepcopy"])
def test_vector_pickle_mid_episode(copier):
    envs = gym.make_vec(ID, num_envs=3, horizon_steps=15)
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (40, 3, 2)).astype(np.float32)
    for k in range(10):
        envs.step(actions[k])
    clone = pickle.loads(pickle.dumps(envs)) if copier == "pickle" else copy.deepcopy(envs)
    for k in range(10, 40):
        assert data_equivalence(envs.step(actions[k]), clone.step(actions[k]), exact=True)


def test_vector_render_and_policy_rival():
    class Rival:
        name = "tight"

        def reset(self, rng, context):
            self.context = context

        def act(self, obs):  # 1 tick from the mid, in the env's action mapping
            ctx = self.context
            offsets = np.full((obs.shape[0], 2), 1.0)
            return offsets_to_actions(offsets, ctx.max_offset_ticks, ctx.action_mapping)

    envs = gym.make_vec(ID, num_envs=4, rival=Rival(), render_mode="ansi", horizon_steps=50)
    envs.reset(seed=0)
    for _ in range(50):
        envs.step(envs.action_space.sample())
    texts = envs.render()
    assert isinstance(texts, tuple) and len(texts) == 4  # one frame per sub-environment
    assert all("mm2" in text for text in texts)
    assert np.allclose(envs.unwrapped._core.quotes[:, 1, :2], 1.0)


@pytest.mark.parametrize("vector_id", [ID, "mm_gym/AS2008-v1"])
def test_none_in_a_seed_list_continues_that_sub_env_like_sync_vectorization(vector_id):
    """``reset(seed=[s, None])`` reseeds sub-env 0 and continues sub-env 1's episode sequence,
    as Gymnasium's SyncVectorEnv does (it calls the sub-env's ``reset(seed=None)``)."""
    native = gym.make_vec(vector_id, num_envs=2, vectorization_mode="vector_entry_point")
    sync = gym.make_vec(vector_id, num_envs=2, vectorization_mode="sync")
    for envs in (native, sync):
        envs.reset(seed=[3, 4])
    first = [envs.reset(seed=[7, None])[0] for envs in (native, sync)]
    second = [envs.reset(seed=[None, None])[0] for envs in (native, sync)]
    np.testing.assert_array_equal(first[0], first[1])
    np.testing.assert_array_equal(second[0], second[1])
    fresh = gym.make(vector_id)
    fresh.reset(seed=4)
    np.testing.assert_array_equal(first[0][1], fresh.reset()[0])  # its second episode
