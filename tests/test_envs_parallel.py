"""The PettingZoo parallel environment: API and seed tests, both makers' views, determinism."""

from __future__ import annotations

import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import data_equivalence
from pettingzoo.test import parallel_api_test, parallel_seed_test

import mm_gym
from mm_gym.config import ConfigError
from mm_gym.multivenue import parallel_env as multivenue_parallel_env


@pytest.mark.parametrize("action_type", ["continuous", "continuous_sizes", "discrete"])
def test_parallel_api(action_type):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parallel_api_test(
            mm_gym.parallel_env(horizon_steps=60, action_type=action_type), num_cycles=100
        )


def test_parallel_seed_test():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parallel_seed_test(lambda: mm_gym.parallel_env(horizon_steps=60), num_cycles=100)


def _run(env, seed, actions):
    out = [env.reset(seed=seed)]
    for a1, a2 in actions:
        if not env.agents:
            out.append(env.reset())
        out.append(env.step({"mm1": a1, "mm2": a2}))
    return out


def test_parallel_same_seed_bit_identical():
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (120, 2, 2)).astype(np.float32)
    a = _run(mm_gym.parallel_env(horizon_steps=50), 4, actions)
    b = _run(mm_gym.parallel_env(horizon_steps=50), 4, actions)
    c = _run(mm_gym.parallel_env(horizon_steps=50), 5, actions)
    assert data_equivalence(a, b, exact=True)
    assert not data_equivalence(a, c)
    env = mm_gym.parallel_env(horizon_steps=50)
    _run(env, 4, actions[:30])
    clone = pickle.loads(pickle.dumps(env))
    rest = actions[30:45]
    assert data_equivalence(_run_more(env, rest), _run_more(clone, rest), exact=True)


def _run_more(env, actions):
    return [env.step({"mm1": a1, "mm2": a2}) for a1, a2 in actions]


class _Replay:
    """A QuotingPolicy replaying fixed actions (mm2's side of a parallel run)."""

    name = "replay"

    def __init__(self, actions):
        self.actions = actions

    def reset(self, rng, context):
        self.k = 0

    def act(self, obs):
        a = self.actions[self.k]
        self.k += 1
        return a[None]


def test_mm1_view_equals_single_env_with_policy_rival():
    rng = np.random.default_rng(1)
    a1 = rng.uniform(-1, 1, (40, 2)).astype(np.float32)
    a2 = rng.uniform(-1, 1, (40, 2)).astype(np.float32)
    single = gym.make("mm_gym/MarketMaking-v1", horizon_steps=40, rival=_Replay(a2))
    par = mm_gym.parallel_env(horizon_steps=40)
    obs, info = single.reset(seed=9)
    pobs, pinfo = par.reset(seed=9)
    assert np.array_equal(obs, pobs["mm1"]) and data_equivalence(info, pinfo["mm1"], exact=True)
    for k in range(40):
        obs, rew, term, trunc, info = single.step(a1[k])
        pobs, prew, pterm, ptrunc, pinfo = par.step({"mm1": a1[k], "mm2": a2[k]})
        assert np.array_equal(obs, pobs["mm1"])
        assert rew == prew["mm1"] and term == pterm["mm1"] and trunc == ptrunc["mm1"]
        assert data_equivalence(info, pinfo["mm1"], exact=True)
    assert par.agents == []


def test_each_agent_sees_its_own_point_of_view():
    par = mm_gym.parallel_env(horizon_steps=300, mm1_limit=10, mm2_limit=20)
    par.reset(seed=2)
    names = par.feature_names
    inv, own_bid, rival_bid = (
        names.index(n) for n in ("inventory", "own_bid_offset", "rival_bid_offset")
    )
    tight, wide = np.array([-1.0, -1.0], np.float32), np.array([0.0, 0.0], np.float32)
    for _ in range(300):
        obs, rewards, _, _, infos = par.step({"mm1": tight, "mm2": wide})
        assert obs["mm1"][own_bid] == obs["mm2"][rival_bid]
        assert obs["mm2"][own_bid] == obs["mm1"][rival_bid]
        assert obs["mm1"][inv] == pytest.approx(infos["mm1"]["inventory"] / 10)
        assert obs["mm2"][inv] == pytest.approx(infos["mm2"]["inventory"] / 20)
        assert infos["mm1"]["rival_pnl"] == infos["mm2"]["pnl"]
        for agent in ("mm1", "mm2"):
            c = infos[agent]["reward_components"]
            expected = c["pnl"] - c["inventory_penalty"] - c["terminal_penalty"]
            assert rewards[agent] == pytest.approx(expected, abs=1e-12)
    assert infos["mm1"]["fills"] >= 0 and infos["mm1"]["pnl"] != infos["mm2"]["pnl"]


def test_parallel_errors():
    par = mm_gym.parallel_env(horizon_steps=5)
    par.reset(seed=0)
    with pytest.raises(ValueError, match="no entry for agent 'mm2'"):
        par.step({"mm1": np.zeros(2, np.float32)})
    with pytest.raises(ValueError, match="shape"):
        par.step({"mm1": np.zeros(3, np.float32), "mm2": np.zeros(2, np.float32)})
    with pytest.raises(ValueError, match="NaN"):
        par.step({"mm1": np.array([0.0, np.nan]), "mm2": np.zeros(2)})
    with pytest.raises(ConfigError, match="no rival policy"):
        mm_gym.parallel_env(rival="builtin")
    with pytest.raises(ConfigError, match="unknown key"):
        mm_gym.parallel_env(rivals=1)
    assert par.observation_space("mm1") is par.observation_space("mm1")
    assert par.action_space("mm2") is par.action_space("mm2")


@pytest.mark.parametrize(
    ("make", "line_end"),
    [
        (mm_gym.parallel_env, ""),  # the ladder's text ends its last line itself
        (multivenue_parallel_env, "\n"),
    ],
)
def test_human_render_writes_the_ansi_frame(make, line_end, capsys) -> None:
    frames = {}
    for mode in ("ansi", "human"):
        env = make(render_mode=mode, horizon_steps=20)
        env.reset(seed=3)
        frames[mode] = env.render()
    assert frames["human"] is None
    assert frames["ansi"].endswith("\n") != bool(line_end)
    assert capsys.readouterr().out == frames["ansi"] + line_end
