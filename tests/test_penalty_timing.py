"""``penalty_timing="upfront"``: the same episode total as ``"running"``, paid earlier.

Every env family computes its reward with :func:`mm_gym.rewards.step_reward`; these tests run the
same seeded episode under both timings and compare the totals (equal up to float rounding) and
the per-step rewards (different: otherwise the option would do nothing).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import mm_gym  # noqa: F401  (registers the ids)
from mm_gym import TwoMakerVectorEnv
from mm_gym.config import ConfigError


def _episode_rewards(make, steps: int) -> np.ndarray:
    """Rewards of one seeded episode of ``make()`` (single env or vector env), fixed actions."""
    env = make()
    rng = np.random.default_rng(7)
    env.reset(seed=3)
    rewards = []
    for _ in range(steps):
        action = rng.uniform(-1.0, 0.6, env.action_space.shape).astype(np.float32)
        _, reward, terminated, truncated, _ = env.step(action)
        rewards.append(np.asarray(reward, np.float64))
        if np.all(np.logical_or(terminated, truncated)):
            break
    env.close()
    return np.array(rewards)


CASES = {
    "book single": (lambda **kw: gym.make("mm_gym/MarketMaking-v1", horizon_steps=120, **kw), 120),
    "book vector": (
        lambda **kw: gym.make_vec("mm_gym/MarketMaking-v1", num_envs=3, horizon_steps=120, **kw),
        120,
    ),
    "AS2008 single": (lambda **kw: gym.make("mm_gym/AS2008-v1", inventory_penalty=0.01, **kw), 200),
    "AS2008 vector": (
        lambda **kw: gym.make_vec("mm_gym/AS2008-v1", num_envs=3, inventory_penalty=0.01, **kw),
        200,
    ),
    "two makers": (lambda **kw: TwoMakerVectorEnv(2, horizon_steps=120, **kw), 120),
    "AS2008 start inventory": (
        lambda **kw: gym.make(
            "mm_gym/AS2008-v1", inventory_penalty=0.01, **{"intensity.q0": 5}, **kw
        ),
        200,
    ),
    "AS2008 vector start inventory": (
        lambda **kw: gym.make_vec(
            "mm_gym/AS2008-v1", num_envs=3, inventory_penalty=0.01, **{"intensity.q0": 5}, **kw
        ),
        200,
    ),
    "multi-venue": (lambda **kw: gym.make("mm_gym/MultiVenue-v0", horizon_steps=80, **kw), 80),
    "portfolio": (lambda **kw: gym.make("mm_gym/Portfolio-v0", horizon_steps=80, **kw), 80),
}


@pytest.mark.parametrize("case", list(CASES))
def test_upfront_pays_the_same_episode_total_at_other_steps(case):
    make, steps = CASES[case]
    running = _episode_rewards(lambda: make(penalty_timing="running"), steps)
    upfront = _episode_rewards(lambda: make(penalty_timing="upfront"), steps)
    assert running.shape == upfront.shape and len(running) == steps  # one whole episode
    np.testing.assert_allclose(upfront.sum(axis=0), running.sum(axis=0), rtol=1e-9, atol=1e-6)
    assert np.abs(upfront - running).max() > 1e-3  # the timing did change


def test_upfront_total_equals_running_on_an_early_end():
    """A drawdown breach ends the episode early: the penalty not yet accrued is handed back."""

    def make(timing):
        return lambda: gym.make(
            "mm_gym/MarketMaking-v1", horizon_steps=400, max_drawdown=5.0, penalty_timing=timing
        )

    running = _episode_rewards(make("running"), 400)
    upfront = _episode_rewards(make("upfront"), 400)
    assert len(running) == len(upfront) < 400  # it did end early
    assert upfront.sum() == pytest.approx(running.sum(), rel=1e-9, abs=1e-6)


def test_the_default_is_running_and_a_bad_timing_names_the_choices():
    assert gym.make("mm_gym/MarketMaking-v1").unwrapped.env_config.penalty_timing == "running"
    with pytest.raises(ConfigError, match=r"penalty_timing.*'later'.*\['running', 'upfront'\]"):
        gym.make("mm_gym/MarketMaking-v1", penalty_timing="later")
