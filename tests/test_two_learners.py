"""Two independent SB3 learners on one two-maker market, in lockstep (issue #17)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecNormalize

from agents.two_learners import learn_together, seat_envs
from agents.vec_env import MarketMakingSB3VecEnv
from mm_gym.envs.two_makers import TwoMakerVectorEnv

N_MARKETS, N_STEPS = 4, 16


def _pair(n_steps1: int = N_STEPS, seed: int = 0):
    torch.set_num_threads(1)
    shared = MarketMakingSB3VecEnv(TwoMakerVectorEnv(N_MARKETS, horizon_steps=24))
    shared.seed(seed)
    mm1, mm2 = seat_envs(shared, timeout=60.0)
    kw = {"batch_size": 32, "n_epochs": 2, "device": "cpu"}
    m1 = PPO("MlpPolicy", VecNormalize(mm1), n_steps=N_STEPS, seed=seed, **kw)
    m2 = PPO("MlpPolicy", VecNormalize(mm2), n_steps=n_steps1, seed=seed + 1, **kw)
    return shared, mm1.lockstep, m1, m2


def _params(model: PPO) -> np.ndarray:
    return torch.cat([p.detach().flatten() for p in model.policy.parameters()]).numpy()


def test_both_learners_train_separate_networks_reproducibly():
    runs = []
    for _ in range(2):
        _, lockstep, m1, m2 = _pair()
        start = (_params(m1), _params(m2))
        learn_together(lambda m1=m1: m1.learn(128), lambda m2=m2: m2.learn(128), lockstep)
        end = (_params(m1), _params(m2))
        assert not np.array_equal(start[0], end[0]) and not np.array_equal(start[1], end[1])
        assert m1.num_timesteps == m2.num_timesteps == 128
        runs.append(end)
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_the_seats_see_one_market_from_both_sides():
    shared = MarketMakingSB3VecEnv(TwoMakerVectorEnv(2, horizon_steps=24))
    mm1, mm2 = seat_envs(shared, timeout=60.0)
    seen: dict[int, list] = {0: [], 1: []}

    def play(env, k):
        def run():
            env.reset()
            for t in range(5):
                env.step_async(np.full((2, 2), -1.0 if k == 0 else 1.0))
                env.step_wait()
                seen[k].append(t)
            return k

        return run

    assert learn_together(play(mm1, 0), play(mm2, 1), mm1.lockstep) == (0, 1)
    assert seen == {0: list(range(5)), 1: list(range(5))}
    quotes = shared.env.unwrapped._core.quotes
    assert (quotes[:, 0, 0] < quotes[:, 1, 0]).all()  # mm1 one tick inside, mm2 far away


@pytest.mark.parametrize("first", [0, 1])
def test_a_learner_that_finishes_first_stops_the_other_with_an_error_not_a_hang(first):
    _, lockstep, m1, m2 = _pair(n_steps1=8)  # other n_steps are fine, other step counts not
    steps = (64, 128) if first == 0 else (128, 64)
    with pytest.raises(RuntimeError, match=f"learner {first} .* finished before"):
        learn_together(lambda: m1.learn(steps[0]), lambda: m2.learn(steps[1]), lockstep)


def test_an_error_in_one_learner_stops_the_other():
    _, lockstep, m1, _ = _pair()

    def broken():
        raise ValueError("mm2 broke")

    with pytest.raises(ValueError, match="mm2 broke"):
        learn_together(lambda: m1.learn(64), broken, lockstep)
