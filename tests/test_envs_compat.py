"""What RL libraries expect of the environments (issue #13): make_vec's max_episode_steps,
one frame per sub-env, unknown keywords as TypeError, PettingZoo's declared attributes, flat
reward info and the vector autoreset modes. No optional package needed (see
tests/test_integrations.py for the libraries themselves)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import data_equivalence
from gymnasium.vector import AutoresetMode
from pettingzoo.test import parallel_api_test, render_test
from pettingzoo.utils.conversions import parallel_to_aec

import mm_gym
from mm_gym.config import ConfigError, UnknownKeywordError
from mm_gym.envs.core import REWARD_INFO_KEYS
from mm_gym.envs.intensity import IntensityMarketMakingEnv
from mm_gym.envs.parallel import MarketMakingParallelEnv
from mm_gym.envs.single import MarketMakingEnv
from mm_gym.envs.vector import MarketMakingVectorEnv
from mm_gym.rewards import COMPONENT_NAMES

ID = "mm_gym/MarketMaking-v1"


# ---------------------------------------------------------------- item 2: max_episode_steps
def test_make_vec_max_episode_steps_truncates_then_autoresets():
    envs = gym.make_vec(ID, num_envs=3, max_episode_steps=4, horizon_steps=10)
    assert isinstance(envs, MarketMakingVectorEnv) and envs.max_episode_steps == 4
    envs.reset(seed=0)
    for k in range(1, 5):
        _, _, term, trunc, info = envs.step(envs.action_space.sample())
        assert not term.any()
        assert trunc.all() == (k == 4) and trunc.any() == (k == 4)
        assert (info["step"] == k).all()
    obs, rew, term, trunc, info = envs.step(envs.action_space.sample())  # NEXT_STEP autoreset
    assert (info["step"] == 0).all() and not (term.any() or trunc.any()) and not rew.any()
    # The truncated episode was episode 0; this is episode 1 of each sub-env's seed.
    single = gym.make(ID, horizon_steps=10)
    single.reset(seed=2)
    for _ in range(4):
        single.step(single.action_space.sample())
    first_obs, _ = single.reset()
    assert np.array_equal(obs[2], first_obs)


def test_max_episode_steps_beyond_the_horizon_never_truncates():
    envs = gym.make_vec(ID, num_envs=2, max_episode_steps=50, horizon_steps=5)
    envs.reset(seed=0)
    for _ in range(5):
        _, _, term, trunc, _ = envs.step(envs.action_space.sample())
        assert not trunc.any()
    assert term.all()


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "10"])
def test_max_episode_steps_must_be_a_positive_integer(bad):
    with pytest.raises(ConfigError, match="max_episode_steps"):
        MarketMakingVectorEnv(2, max_episode_steps=bad)


# ---------------------------------------------------------------- item 3: one frame per env
@pytest.mark.parametrize("mode", ["rgb_array", "ansi"])
def test_vector_render_returns_one_frame_per_sub_env_equal_to_singles(mode):
    n = 3
    envs = gym.make_vec(ID, num_envs=n, render_mode=mode, horizon_steps=30)
    singles = [gym.make(ID, render_mode=mode, horizon_steps=30) for _ in range(n)]
    envs.reset(seed=7)
    for i, env in enumerate(singles):
        env.reset(seed=7 + i)
    actions = np.random.default_rng(0).uniform(-1, 1, (12, n, 2)).astype(np.float32)
    for a in actions:
        envs.step(a)
        for i, env in enumerate(singles):
            env.step(a[i])
    frames = envs.render()
    assert isinstance(frames, tuple) and len(frames) == n
    for i, env in enumerate(singles):
        assert data_equivalence(frames[i], env.render(), exact=True)


# ---------------------------------------------------------------- item 4: unknown keywords
@pytest.mark.parametrize(
    "make",
    [
        lambda **kw: gym.make(ID, **kw),
        lambda **kw: gym.make_vec(ID, num_envs=2, **kw),
        lambda **kw: MarketMakingEnv(**kw),
        lambda **kw: MarketMakingVectorEnv(2, **kw),
        lambda **kw: MarketMakingParallelEnv(**kw),
        lambda **kw: mm_gym.parallel_env(**kw),
        lambda **kw: IntensityMarketMakingEnv(**kw),
        lambda **kw: gym.make("mm_gym/AS2008-v1", **kw),
    ],
    ids=["make", "make_vec", "single", "vector", "parallel", "parallel_env", "as2008", "make-as"],
)
def test_unknown_keyword_is_a_type_error_worded_as_python_with_the_valid_keys(make):
    with pytest.raises(TypeError, match=r"got an unexpected keyword argument 'frameskip'") as err:
        make(frameskip=4)
    assert isinstance(err.value, ConfigError)  # existing `except ConfigError` still catch it
    assert "valid keys are" in str(err.value) and "inventory_penalty" in str(err.value)
    assert len(str(err.value)) <= 1_000 and "\n" not in str(err.value)  # gym.make appends kwargs


def test_unknown_keyword_error_is_raised_by_resolve_and_keeps_the_old_wording():
    with pytest.raises(UnknownKeywordError, match="unknown key 'inventory_penalti'"):
        MarketMakingEnv(inventory_penalti=0.1)
    with pytest.raises(ConfigError) as err:  # an invalid value is not a TypeError
        MarketMakingEnv(inventory_penalty=-1.0)
    assert not isinstance(err.value, TypeError)


# ---------------------------------------------------------------- item 5: PettingZoo
def test_parallel_env_declares_the_space_dicts():
    env = MarketMakingParallelEnv(action_type="discrete")
    assert set(env.observation_spaces) == set(env.action_spaces) == set(env.possible_agents)
    for agent in env.possible_agents:
        assert env.observation_spaces[agent] is env.observation_space(agent)
        assert env.action_spaces[agent] is env.action_space(agent)
    assert isinstance(env.action_spaces["mm2"], gym.spaces.Discrete)
    obs, _ = env.reset(seed=0)
    state = env.state()  # the global state of centralised critics: both observations
    assert env.state_space.contains(state)
    assert np.array_equal(state, np.concatenate([obs["mm1"], obs["mm2"]]))


def test_parallel_max_cycles_is_the_horizon():
    env = mm_gym.parallel_env(max_cycles=7)
    assert env.market_config.horizon_steps == 7
    env.reset(seed=0)
    for k in range(7):
        _, _, terms, truncs, _ = env.step({a: env.action_space(a).sample() for a in env.agents})
        assert all(terms.values()) == (k == 6) and not any(truncs.values())
    assert env.agents == []
    assert mm_gym.parallel_env(max_cycles=9, horizon_steps=9).market_config.horizon_steps == 9
    assert mm_gym.parallel_env(max_cycles=np.int64(9)).market_config.horizon_steps == 9
    with pytest.raises(ConfigError, match="max_cycles=5 and horizon_steps=9"):
        mm_gym.parallel_env(max_cycles=5, horizon_steps=9)
    with pytest.raises(ConfigError, match=r"max_cycles=0 is out of range: .* \[1, 100000000\]"):
        mm_gym.parallel_env(max_cycles=0)


def test_parallel_env_passes_pettingzoo_api_and_render_tests(capsys):
    parallel_api_test(MarketMakingParallelEnv(max_cycles=20), num_cycles=50)

    def make(render_mode=None):
        return parallel_to_aec(MarketMakingParallelEnv(render_mode=render_mode, max_cycles=20))

    render_test(make)  # includes "human": writes the text ladder, returns None
    assert "mm1  inventory" in capsys.readouterr().out


def test_parallel_human_render_writes_the_ansi_ladder(capsys):
    human = MarketMakingParallelEnv(render_mode="human")
    ansi = MarketMakingParallelEnv(render_mode="ansi")
    human.reset(seed=3)
    ansi.reset(seed=3)
    assert human.render() is None
    assert capsys.readouterr().out == ansi.render()


# ---------------------------------------------------------------- item 6: flat reward info
def _flat_equals_nested(nested: dict, flat: dict) -> None:
    assert "reward_components" not in flat
    assert not any(isinstance(v, dict) for v in flat.values())
    for name in COMPONENT_NAMES:
        assert data_equivalence(flat[REWARD_INFO_KEYS[name]], nested["reward_components"][name])
    rest = {k: v for k, v in nested.items() if k not in ("reward_components", "_reward_components")}
    assert data_equivalence(rest, {k: v for k, v in flat.items() if k in rest}, exact=True)
    if "_pnl" in flat:  # a vector info: every flat key has its mask
        assert all(f"_{REWARD_INFO_KEYS[name]}" in flat for name in COMPONENT_NAMES)


def test_single_env_flat_reward_info_matches_nested():
    nested = gym.make(ID, horizon_steps=6, dampening=0.5)
    flat = gym.make(ID, horizon_steps=6, dampening=0.5, reward_info="flat")
    _, a = nested.reset(seed=1)
    _, b = flat.reset(seed=1)
    _flat_equals_nested(a, b)
    for _ in range(6):
        action = nested.action_space.sample()
        ra = nested.step(action)
        rb = flat.step(action)
        assert ra[1] == rb[1]
        _flat_equals_nested(ra[4], rb[4])
    assert REWARD_INFO_KEYS["pnl"] == "reward_pnl"


def test_vector_and_parallel_flat_reward_info_match_nested():
    nested = gym.make_vec(ID, num_envs=3, horizon_steps=4)
    flat = gym.make_vec(ID, num_envs=3, horizon_steps=4, reward_info="flat")
    _flat_equals_nested(nested.reset(seed=0)[1], flat.reset(seed=0)[1])
    for _ in range(6):  # across an autoreset
        a = nested.action_space.sample()
        _flat_equals_nested(nested.step(a)[4], flat.step(a)[4])
    pn = mm_gym.parallel_env(horizon_steps=4)
    pf = mm_gym.parallel_env(horizon_steps=4, reward_info="flat")
    infos_n, infos_f = pn.reset(seed=0)[1], pf.reset(seed=0)[1]
    for _ in range(4):
        acts = {a: pn.action_space(a).sample() for a in pn.agents}
        for agent in ("mm1", "mm2"):
            _flat_equals_nested(infos_n[agent], infos_f[agent])
        infos_n, infos_f = pn.step(acts)[4], pf.step(acts)[4]


@pytest.mark.parametrize("bad", ["flattened", None, 1])
def test_reward_info_must_be_nested_or_flat(bad):
    for make in (
        MarketMakingEnv,
        MarketMakingParallelEnv,
        lambda **kw: MarketMakingVectorEnv(2, **kw),
    ):
        with pytest.raises(ConfigError, match="reward_info="):
            make(reward_info=bad)


# ---------------------------------------------------------------- item 6: autoreset modes
def test_vector_autoreset_mode_is_an_attribute_and_metadata():
    envs = gym.make_vec(ID, num_envs=2)
    assert envs.autoreset_mode == envs.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    for given, mode in [
        (AutoresetMode.SAME_STEP, AutoresetMode.SAME_STEP),
        ("SameStep", AutoresetMode.SAME_STEP),
        ("DISABLED", AutoresetMode.DISABLED),
        ("next_step", AutoresetMode.NEXT_STEP),
    ]:
        envs = gym.make_vec(ID, num_envs=2, autoreset_mode=given)
        assert envs.autoreset_mode == envs.metadata["autoreset_mode"] == mode
    # The class default is untouched by an instance's choice.
    assert MarketMakingVectorEnv.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    with pytest.raises(ConfigError, match="autoreset_mode="):
        MarketMakingVectorEnv(2, autoreset_mode="sometimes")


def _singles(n, seed, **kw):
    singles = [gym.make(ID, **kw) for _ in range(n)]
    first = [env.reset(seed=seed + i) for i, env in enumerate(singles)]
    return singles, first


def test_same_step_autoreset_equals_singles():
    n, kw = 3, {"horizon_steps": 6, "max_drawdown": 4.0}
    envs = gym.make_vec(ID, num_envs=n, autoreset_mode="SAME_STEP", max_episode_steps=5, **kw)
    singles = [gym.make(ID, max_episode_steps=5, **kw) for _ in range(n)]
    for i, env in enumerate(singles):
        env.reset(seed=40 + i)
    envs.reset(seed=40)
    rng = np.random.default_rng(1)
    ended_count = 0
    for _ in range(25):
        a = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
        obs, rew, term, trunc, info = envs.step(a)
        for i, env in enumerate(singles):
            s_obs, s_rew, s_term, s_trunc, s_info = env.step(a[i])
            assert s_rew == rew[i] and s_term == term[i] and s_trunc == trunc[i]
            if s_term or s_trunc:
                ended_count += 1
                assert info["_final_obs"][i] and info["_final_info"][i]
                assert np.array_equal(info["final_obs"][i], s_obs)
                assert info["final_info"]["pnl"][i] == s_info["pnl"]
                s_obs, s_info = env.reset()
            elif "_final_obs" in info:
                assert not info["_final_obs"][i]
            assert np.array_equal(obs[i], s_obs)
            assert info["pnl"][i] == s_info["pnl"] and info["step"][i] == s_info["step"]
            assert info["reward_components"]["pnl"][i] == s_info["reward_components"]["pnl"]
    assert ended_count >= n


def test_disabled_autoreset_needs_a_masked_reset():
    n, kw = 3, {"horizon_steps": 3}
    envs = gym.make_vec(ID, num_envs=n, autoreset_mode=AutoresetMode.DISABLED, **kw)
    envs.reset(seed=5)
    for _ in range(3):
        _, _, term, _, _ = envs.step(envs.action_space.sample())
    assert term.all()
    with pytest.raises(RuntimeError, match="autoreset_mode=DISABLED"):
        envs.step(envs.action_space.sample())
    mask = np.array([True, False, True])
    obs, info = envs.reset(options={"reset_mask": mask})
    assert np.array_equal(info["_step"], mask) and (info["step"][mask] == 0).all()
    with pytest.raises(RuntimeError, match=r"sub-environments \[1\]"):
        envs.step(envs.action_space.sample())
    obs, info = envs.reset(options={"reset_mask": ~mask})
    # Each manual reset starts the sub-env's next episode, as a single env's reset() does.
    singles, _ = _singles(n, 5, **kw)
    for i, env in enumerate(singles):
        for _ in range(3):
            env.step(env.action_space.sample())
        assert np.array_equal(obs[i], env.reset()[0])
    envs.step(envs.action_space.sample())


def test_masked_reset_reseeds_only_the_masked_sub_envs():
    envs = gym.make_vec(ID, num_envs=3, horizon_steps=10)
    envs.reset(seed=0)
    before = envs.step(envs.action_space.sample())[0]
    obs, _ = envs.reset(seed=[None, 11, 99], options={"reset_mask": np.array([False, True, False])})
    assert np.array_equal(obs[[0, 2]], before[[0, 2]])
    assert np.array_equal(obs[1], gym.make(ID, horizon_steps=10).reset(seed=11)[0])


@pytest.mark.parametrize(
    ("mask", "error"),
    [
        ([True, False], TypeError),
        (np.array([1, 0]), TypeError),
        (np.array([True, False, True]), ValueError),
        (np.array([False, False]), ValueError),
    ],
)
def test_reset_mask_is_checked(mask, error):
    envs = MarketMakingVectorEnv(2)
    envs.reset(seed=0)
    with pytest.raises(error, match="reset_mask"):
        envs.reset(options={"reset_mask": mask})


def test_masked_reset_before_the_first_reset_is_refused():
    envs = MarketMakingVectorEnv(2)
    with pytest.raises(RuntimeError, match="first reset"):
        envs.reset(options={"reset_mask": np.array([True, False])})
    envs.reset(options={"reset_mask": np.array([True, True])})  # all: a full reset
