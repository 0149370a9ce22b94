"""``TwoMakerVectorEnv`` (issue #17): both makers of n markets as 2n seats of one vector env."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.vector import AutoresetMode
from helpers import assert_same_seat_info, assert_seats_equal_parallel

import mm_gym
from mm_gym.config import ConfigError
from mm_gym.envs.parallel import MarketMakingParallelEnv
from mm_gym.envs.two_makers import AGENT_ID_FEATURE, TwoMakerVectorEnv

KW = {"horizon_steps": 30}


def _actions(rng: np.random.Generator, n_seats: int) -> np.ndarray:
    return rng.uniform(-1.0, 1.0, (n_seats, 2))


def test_seats_equal_the_parallel_env_market_by_market_across_autoresets():
    n = 3
    venv = TwoMakerVectorEnv(n, **KW)
    assert len(venv.feature_names) == venv.single_observation_space.shape[0]
    pars = [MarketMakingParallelEnv(**KW) for _ in range(n)]

    # 75 steps: two and a half episodes
    assert assert_seats_equal_parallel(venv, pars, 7, 75, assert_same_seat_info) == 2 * n


def test_both_seats_trade_in_one_book_and_cash_is_conserved():
    venv = TwoMakerVectorEnv(2, **{**KW, "horizon_steps": 200})
    venv.reset(seed=1)
    for _ in range(150):
        _, _, _, _, info = venv.step(np.zeros((4, 2)))  # both makers at the touch
    inv = info["inventory"].reshape(2, 2)
    assert np.array_equal(inv[:, 0], info["rival_inventory"][1::2])
    assert np.array_equal(inv[:, 1], info["rival_inventory"][0::2])
    assert (np.abs(inv) > 0).any(), "no maker traded in 150 steps at the touch"


def test_agent_id_feature_marks_the_seat_and_the_context_names_it():
    venv = TwoMakerVectorEnv(2, agent_id=True, **KW)
    obs, _ = venv.reset(seed=0)
    plain = TwoMakerVectorEnv(2, **KW)
    np.testing.assert_array_equal(plain.reset(seed=0)[0], obs[:, :-1])
    assert AGENT_ID_FEATURE not in plain.feature_names
    assert venv.feature_names[-1] == AGENT_ID_FEATURE
    np.testing.assert_array_equal(obs[:, -1], [0.0, 1.0, 0.0, 1.0])
    assert venv.single_observation_space.contains(obs[1])
    obs, *_ = venv.step(np.zeros((4, 2)))
    np.testing.assert_array_equal(obs[:, -1], [0.0, 1.0, 0.0, 1.0])
    assert venv.policy_context("mm2").feature_names == venv.feature_names


def test_symmetric_seats_give_the_same_policy_the_same_reward_in_distribution():
    """With shocks off and equal limits a fixed rule earns the same in either seat (CRN pairs)."""
    kw = {"horizon_steps": 200, "flow.shock_rate": 0.0}
    venv = TwoMakerVectorEnv(64, **kw)
    venv.reset(seed=3)
    total = np.zeros(128)
    for _ in range(200):
        _, reward, *_ = venv.step(np.zeros((128, 2)))
        total += reward
    diff = total[0::2] - total[1::2]
    se = diff.std(ddof=1) / np.sqrt(diff.size)
    assert abs(diff.mean()) < 3.0 * se + 1e-9, (diff.mean(), se)


def test_same_step_and_disabled_autoreset_and_truncation():
    venv = TwoMakerVectorEnv(2, autoreset_mode="SAME_STEP", max_episode_steps=5, **KW)
    venv.reset(seed=0)
    for _ in range(5):
        obs, _, term, trunc, info = venv.step(np.zeros((4, 2)))
    assert trunc.all() and not term.any()
    assert info["_final_obs"].all() and info["final_obs"][3].shape == obs[3].shape
    assert (info["step"] == 0).all()
    off = TwoMakerVectorEnv(1, autoreset_mode=AutoresetMode.DISABLED, max_episode_steps=2, **KW)
    off.reset(seed=0)
    off.step(np.zeros((2, 2)))
    off.step(np.zeros((2, 2)))
    with pytest.raises(RuntimeError, match="DISABLED"):
        off.step(np.zeros((2, 2)))
    off.reset(options={"reset_mask": np.array([True, True])})
    off.step(np.zeros((2, 2)))


def test_bad_input_names_what_is_wrong():
    with pytest.raises(ConfigError, match="num_markets=0 must be an integer >= 1"):
        TwoMakerVectorEnv(0)
    with pytest.raises(ConfigError, match="agent_id"):
        TwoMakerVectorEnv(1, agent_id="yes")
    with pytest.raises(TypeError, match="unexpected keyword"):
        TwoMakerVectorEnv(1, frameskip=4)
    with pytest.raises(ConfigError, match="no rival policy"):
        TwoMakerVectorEnv(1, rival="builtin")
    venv = TwoMakerVectorEnv(2, **KW)
    venv.reset(seed=0)
    with pytest.raises(ValueError, match=r"expected \(4, \.\.\.\)"):
        venv.step(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="both seats"):
        venv.reset(options={"reset_mask": np.array([True, False, False, False])})
    with pytest.raises(ValueError, match="expected 2"):
        venv.reset(seed=[1, 2, 3])
    seats, _ = venv.reset(seed=[5, 99, 6, 98])  # one per seat: market i takes seat 2i's
    np.testing.assert_array_equal(seats, venv.reset(seed=[5, 6])[0])
    assert mm_gym.TwoMakerVectorEnv is TwoMakerVectorEnv


def test_sb3_ppo_trains_one_shared_policy_on_both_seats():
    """Self-play with a shared policy: stock SB3 PPO on the seats through the repo's adapter."""
    import torch
    from stable_baselines3 import PPO

    from agents.vec_env import MarketMakingSB3VecEnv

    torch.set_num_threads(1)
    venv = MarketMakingSB3VecEnv(TwoMakerVectorEnv(4, agent_id=True, horizon_steps=16))
    model = PPO("MlpPolicy", venv, n_steps=16, batch_size=64, n_epochs=1, seed=0, device="cpu")
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(256)
    after = list(model.policy.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))
    stats = venv.pop_episode_stats()
    assert stats["length"].size > 0 and (stats["length"] == 16).all()


def test_a_policy_trained_with_the_seat_feature_reads_its_seat_from_the_context():
    """PPOPolicy with an agent_id feature: observed in the two-maker env, else from the context."""
    from agents.policy import PPOPolicy

    plain = TwoMakerVectorEnv(2, **KW)
    names = (*plain.feature_names, AGENT_ID_FEATURE)
    d = len(names)
    w = np.zeros((2, d), np.float32)
    w[0, -1] = 1.0  # bid action = the seat feature
    arrays = {
        "feature_names": np.array(names), "obs_mean": np.zeros(d), "obs_var": np.ones(d),
        "clip_obs": np.array(10.0), "epsilon": np.array(1e-8), "weights_0": w,
        "biases_0": np.zeros(2, np.float32), "activation": np.array("tanh"),
        "max_offset_ticks": np.array(10.0), "action_mapping": np.array("touch"),
    }  # fmt: skip
    policy = PPOPolicy(arrays, name="shared")
    obs, _ = plain.reset(seed=0)
    for maker, seat in (("mm1", 0.0), ("mm2", 1.0)):
        policy.reset(np.random.default_rng(0), plain.policy_context(maker))
        np.testing.assert_allclose(policy.act(obs[0::2])[:, 0], seat)
    with_id = TwoMakerVectorEnv(2, agent_id=True, **KW)
    obs, _ = with_id.reset(seed=0)
    policy.reset(np.random.default_rng(0), with_id.policy_context("mm1"))
    np.testing.assert_allclose(policy.act(obs)[:, 0], [0.0, 1.0, 0.0, 1.0])
