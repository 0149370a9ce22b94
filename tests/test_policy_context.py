"""``env.unwrapped.policy_context()`` on every env kind, ``mm_gym.rollout``, and the README's
"Bring your own policy" snippet."""

from __future__ import annotations

import re
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import mm_gym
from baselines import AvellanedaStoikov, FixedSpread, RandomQuoter
from mm_gym.config import ConfigError
from mm_gym.policy import PolicyContext

ID = "mm_gym/Trending-v1"
KW = {"horizon_steps": 60, "mm1_limit": 7, "mm2_limit": 9, "max_offset_ticks": 8.0}


class Recorder(FixedSpread):
    """A FixedSpread that keeps every context it is reset with."""

    def __init__(self) -> None:
        super().__init__(1.0, name="recorder")
        self.contexts: list[PolicyContext] = []

    def reset(self, rng: np.random.Generator, context: PolicyContext) -> None:
        super().reset(rng, context)
        self.contexts.append(context)


def _expected(venv, maker: int) -> PolicyContext:
    """The context built from the env's public configs (what the evaluator passes)."""
    mc, ec = venv.market_config, venv.env_config
    return PolicyContext(
        feature_names=tuple(venv.feature_names),
        max_offset_ticks=float(ec.max_offset_ticks),
        horizon_steps=int(mc.horizon_steps),
        inventory_limit=int((mc.makers.mm1_limit, mc.makers.mm2_limit)[maker]),
        tick_size=float(mc.tick_size),
        quote_size_lots=int(ec.quote_size_lots),
        maker=("mm1", "mm2")[maker],
    )


@pytest.mark.parametrize("observe_regime", [False, True])
def test_policy_context_is_the_same_on_single_vector_and_parallel_envs(observe_regime):
    single = gym.make(ID, observe_regime=observe_regime, **KW).unwrapped
    vector = gym.make_vec(
        ID, num_envs=3, vectorization_mode="vector_entry_point", observe_regime=observe_regime, **KW
    ).unwrapped
    par = mm_gym.parallel_env(preset="trending", observe_regime=observe_regime, **KW).unwrapped
    for k, maker in enumerate(("mm1", "mm2")):
        want = _expected(single, k)
        assert want.inventory_limit == (7, 9)[k]
        assert single.policy_context(maker) == want
        assert vector.policy_context(maker) == want
        assert par.policy_context(maker) == want
    assert single.policy_context() == single.policy_context("mm1")
    assert len(single.policy_context().feature_names) == single.observation_space.shape[0]


def test_policy_context_equals_what_the_evaluator_and_the_rival_get():
    from mm_gym.evaluation import rollout as evaluation_rollout

    mm1, mm2 = Recorder(), Recorder()
    evaluation_rollout(mm1, ID, KW, n_episodes=2, rival=mm2, sample_episode=None)
    envs = gym.make_vec(ID, num_envs=2, vectorization_mode="vector_entry_point", **KW)
    assert mm1.contexts and all(c == envs.unwrapped.policy_context("mm1") for c in mm1.contexts)
    assert mm2.contexts and all(c == envs.unwrapped.policy_context("mm2") for c in mm2.contexts)
    rival = Recorder()
    env = gym.make(ID, rival=rival, **KW)
    env.reset(seed=0)
    assert rival.contexts == [env.unwrapped.policy_context("mm2")]


@pytest.mark.parametrize("maker", ["mm3", "MM1", 0, None])
def test_policy_context_refuses_an_unknown_maker(maker):
    env = gym.make(ID)
    with pytest.raises(ValueError, match=r"maker=.*'mm1', 'mm2'"):
        env.unwrapped.policy_context(maker)


def test_avellaneda_stoikov_runs_on_gym_make_through_policy_context():
    env = gym.make(ID, **KW)
    policy = AvellanedaStoikov(gamma=0.1, k=1.5)
    policy.reset(np.random.default_rng([5, 0]), env.unwrapped.policy_context())
    obs, _ = env.reset(seed=5)
    total, done, steps = 0.0, False, 0
    while not done:
        action = policy.act(obs[None])[0]
        assert env.action_space.contains(action)
        obs, reward, terminated, truncated, info = env.step(action)
        total += reward
        steps += 1
        done = terminated or truncated
    assert steps == KW["horizon_steps"]
    res = mm_gym.rollout(ID, AvellanedaStoikov(gamma=0.1, k=1.5), episodes=1, seed=5, **KW)
    assert res.total_reward.tolist() == [total]
    assert res.pnl.tolist() == [info["pnl"]]
    assert res.final_inventory.tolist() == [info["inventory"]]


def test_rollout_is_deterministic_and_equal_on_single_and_vector_envs():
    def policy():
        return AvellanedaStoikov(gamma=0.1, k=1.5)

    by_id = mm_gym.rollout(ID, policy(), episodes=5, seed=11, **KW)
    again = mm_gym.rollout(ID, policy(), episodes=5, seed=11, **KW)
    single = mm_gym.rollout(gym.make(ID, **KW), policy(), episodes=5, seed=11)
    # 2 sub-envs for 5 episodes: the last batch has a spare sub-environment.
    vector = mm_gym.rollout(
        gym.make_vec(ID, num_envs=2, vectorization_mode="vector_entry_point", **KW),
        policy(),
        episodes=5,
        seed=11,
    )
    for res in (again, single, vector):
        for field in ("seeds", "total_reward", "pnl", "final_inventory", "steps"):
            np.testing.assert_array_equal(getattr(res, field), getattr(by_id, field))
    assert len(by_id) == 5 and by_id.seeds.tolist() == [11, 12, 13, 14, 15]
    assert (by_id.steps == KW["horizon_steps"]).all()
    other = mm_gym.rollout(ID, policy(), episodes=5, seed=12, **KW)
    np.testing.assert_array_equal(other.pnl[:4], by_id.pnl[1:])  # episode i is seed + i
    assert not np.array_equal(other.pnl, by_id.pnl)


def test_rollout_of_a_random_policy_is_deterministic_per_seed():
    a = mm_gym.rollout(ID, RandomQuoter(), episodes=3, seed=2, **KW)
    b = mm_gym.rollout(ID, RandomQuoter(), episodes=3, seed=2, **KW)
    np.testing.assert_array_equal(a.total_reward, b.total_reward)


def test_rollout_stops_an_episode_at_a_drawdown_breach():
    res = mm_gym.rollout(ID, FixedSpread(0.0), episodes=4, seed=0, max_drawdown=1.0, **KW)
    single = mm_gym.rollout(gym.make(ID, max_drawdown=1.0, **KW), FixedSpread(0.0), episodes=4)
    assert (res.steps < KW["horizon_steps"]).all()
    np.testing.assert_array_equal(res.steps, single.steps)
    np.testing.assert_array_equal(res.pnl, single.pnl)


def test_rollout_and_policy_context_on_the_intensity_env():
    env = gym.make("mm_gym/AS2008-v1")
    ctx = env.unwrapped.policy_context()
    assert ctx.feature_names == ("inventory", "time_left")
    assert ctx.max_offset_ticks == env.unwrapped.max_delta and ctx.tick_size == 1.0
    with pytest.raises(ValueError, match="only 'mm1'"):
        env.unwrapped.policy_context("mm2")
    res = mm_gym.rollout(env, FixedSpread(1.0), episodes=2, seed=3)
    assert res.steps.tolist() == [200, 200]
    again = mm_gym.rollout("mm_gym/AS2008-v1", FixedSpread(1.0), episodes=2, seed=3)
    np.testing.assert_array_equal(res.total_reward, again.total_reward)


def test_rollout_refuses_bad_arguments():
    with pytest.raises(ConfigError, match="action_type='discrete'"):
        mm_gym.rollout(ID, FixedSpread(), action_type="discrete")
    with pytest.raises(ConfigError, match="keyword arguments"):
        mm_gym.rollout(gym.make(ID), FixedSpread(), horizon_steps=10)
    with pytest.raises(ConfigError, match="not a QuotingPolicy"):
        mm_gym.rollout(ID, object())
    with pytest.raises(ConfigError, match="episodes="):
        mm_gym.rollout(ID, FixedSpread(), episodes=0)
    with pytest.raises(ConfigError, match="not a registered id"):
        mm_gym.rollout("mm_gym/Nope-v1", FixedSpread())
    # refused before any env is built or array allocated (40 TB of result arrays)
    with pytest.raises(MemoryError, match=r"rollout\(episodes=1,000,000,000,000\) needs about"):
        mm_gym.rollout(ID, FixedSpread(), episodes=10**12)


def test_import_mm_gym_binds_the_rollout_function():
    import mm_gym.rollout  # importing the submodule must not shadow the function

    assert callable(mm_gym.rollout) and mm_gym.rollout.__name__ == "rollout"


def test_readme_bring_your_own_policy_snippet_runs_and_prints_what_the_readme_shows(capsys):
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = text.split("## Bring your own policy", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    shown = re.search(r"```text\n(.*?)```", section, re.S)
    assert code is not None and shown is not None
    namespace: dict = {}
    exec(compile(code.group(1), "README.md", "exec"), namespace)
    res = namespace["res"]
    assert isinstance(res, mm_gym.RolloutResult) and len(res) == 8
    assert isinstance(namespace["policy"], mm_gym.QuotingPolicy)
    assert capsys.readouterr().out == shown.group(1)
