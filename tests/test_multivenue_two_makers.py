"""``MultiVenueTwoMakerVectorEnv`` (issue #15): both makers of n multi-venue markets as 2n seats."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from gymnasium.vector import AutoresetMode
from helpers import assert_same_seat_info, assert_same_seat_steps, assert_seats_equal_parallel

import mm_gym
from mm_gym.config import ConfigError
from mm_gym.multivenue import MultiVenueTwoMakerVectorEnv, parallel_env
from mm_gym.policy import AGENT_ID_FEATURE

KW = {"horizon_steps": 25}


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"action_form": "routed", "mm2_latency": (2, 0, 1), "mm2_limit": 7}],
    ids=["per-venue", "routed-own-latency"],
)
def test_seats_equal_the_parallel_env_market_by_market_across_autoresets(kwargs) -> None:
    n = 3
    venv = MultiVenueTwoMakerVectorEnv(n, **KW, **kwargs)
    assert len(venv.feature_names) == venv.single_observation_space.shape[0]
    pars = [parallel_env(**KW, **kwargs) for _ in range(n)]
    steps = 2 * KW["horizon_steps"] + 10  # into a third episode
    assert assert_seats_equal_parallel(venv, pars, 11, steps, assert_same_seat_info) == 2 * n


def _trajectory(venv: MultiVenueTwoMakerVectorEnv, seed, market: int, steps: int = 40) -> list:
    """Market ``market``'s seats' observations and rewards under actions drawn per market."""
    obs, _ = venv.reset(seed=seed)
    out = [obs[2 * market : 2 * market + 2]]
    rng = np.random.default_rng(3)
    width = venv.single_action_space.shape[0]
    for _ in range(steps):
        mine = rng.uniform(-1.0, 1.0, (2, width))
        a = np.zeros(venv.action_space.shape)
        a[2 * market : 2 * market + 2] = mine
        obs, reward, *_ = venv.step(a)
        out += [obs[2 * market : 2 * market + 2], reward[2 * market : 2 * market + 2]]
    return out


def test_a_markets_trajectory_depends_on_its_seed_alone_not_the_batch() -> None:
    alone = _trajectory(MultiVenueTwoMakerVectorEnv(1, **KW), 9, 0)
    in_batch = _trajectory(MultiVenueTwoMakerVectorEnv(4, **KW), 7, 2)  # market 2: seed 9
    again = _trajectory(MultiVenueTwoMakerVectorEnv(4, **KW), [1, 2, 9, 3], 2)
    other = _trajectory(MultiVenueTwoMakerVectorEnv(1, **KW), 10, 0)
    for x, y, z in zip(alone, in_batch, again, strict=True):
        np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(x, z)
    assert any(not np.array_equal(x, y) for x, y in zip(alone, other, strict=True))


def test_cash_and_lots_are_conserved_with_both_makers_trading() -> None:
    venv = MultiVenueTwoMakerVectorEnv(3, "shock_heavy", horizon_steps=300)
    venv.reset(seed=4)
    for _ in range(250):
        _, _, _, _, info = venv.step(np.zeros(venv.action_space.shape))  # both at the touch
    for s in venv._core.sims:  # the venues' accounts, read-only
        acc = s.accounts
        np.testing.assert_array_equal(acc.inventory.sum(1) + acc.others_inventory, 0.0)
        cash = acc.cash.sum(1) + acc.others_cash + acc.exchange_income
        np.testing.assert_allclose(cash, 0.0, atol=1e-6)
    fills = info["fills"].reshape(3, 2)
    assert (fills[:, 0] > 0).any() and (fills[:, 1] > 0).any(), "a maker never traded"
    summed = np.stack([venv._core.inventories(k).sum(axis=1) for k in range(2)], axis=1)
    np.testing.assert_array_equal(info["inventory"].reshape(3, 2), summed)


def test_reset_mask_resets_only_the_masked_markets() -> None:
    venv = MultiVenueTwoMakerVectorEnv(2, **KW)
    venv.reset(seed=0)
    for _ in range(5):
        venv.step(np.zeros(venv.action_space.shape))
    obs, info = venv.reset(seed=[None, 40], options={"reset_mask": np.array([0, 0, 1, 1], bool)})
    assert list(info["step"]) == [5, 5, 0, 0] and list(info["_step"]) == [False, False, True, True]
    fresh, _ = MultiVenueTwoMakerVectorEnv(1, **KW).reset(seed=40)
    np.testing.assert_array_equal(obs[2:], fresh)
    _, _, _, _, info = venv.step(np.zeros(venv.action_space.shape))
    assert list(info["step"]) == [6, 6, 1, 1]


def test_disabled_autoreset_and_truncation() -> None:
    venv = MultiVenueTwoMakerVectorEnv(
        2, autoreset_mode=AutoresetMode.DISABLED, max_episode_steps=3, **KW
    )
    venv.reset(seed=0)
    for _ in range(3):
        _, _, term, trunc, _ = venv.step(np.zeros(venv.action_space.shape))
    assert trunc.all() and not term.any()
    with pytest.raises(RuntimeError, match="DISABLED"):
        venv.step(np.zeros(venv.action_space.shape))
    venv.reset(options={"reset_mask": np.ones(4, bool)})
    venv.step(np.zeros(venv.action_space.shape))


def test_agent_id_feature_marks_the_seat_and_contexts_name_the_maker() -> None:
    venv = MultiVenueTwoMakerVectorEnv(2, agent_id=True, mm2_limit=30, **KW)
    plain = MultiVenueTwoMakerVectorEnv(2, **KW)
    obs, _ = venv.reset(seed=0)
    np.testing.assert_array_equal(plain.reset(seed=0)[0], obs[:, :-1])
    assert venv.feature_names[-1] == AGENT_ID_FEATURE
    assert AGENT_ID_FEATURE not in plain.feature_names
    np.testing.assert_array_equal(obs[:, -1], [0.0, 1.0, 0.0, 1.0])
    assert venv.single_observation_space.contains(obs[1])
    obs, *_ = venv.step(np.zeros(venv.action_space.shape))
    np.testing.assert_array_equal(obs[:, -1], [0.0, 1.0, 0.0, 1.0])
    mm2 = venv.policy_context("mm2")
    assert (mm2.maker, mm2.inventory_limit, mm2.feature_names) == ("mm2", 30, venv.feature_names)
    assert venv.policy_context().maker == "mm1"
    assert parallel_env(**KW).policy_context("mm2").maker == "mm2"


def test_bad_input_names_what_is_wrong() -> None:
    with pytest.raises(ConfigError, match="num_markets=0 must be an integer >= 1"):
        MultiVenueTwoMakerVectorEnv(0)
    with pytest.raises(ConfigError, match="agent_id='yes'"):
        MultiVenueTwoMakerVectorEnv(1, agent_id="yes")
    with pytest.raises(
        ConfigError, match=r"SAME_STEP is not supported .*\['NEXT_STEP', 'DISABLED'\]"
    ):
        MultiVenueTwoMakerVectorEnv(1, autoreset_mode="SAME_STEP")
    with pytest.raises(ConfigError, match=r"mm2_latency\[1\]=-1"):
        MultiVenueTwoMakerVectorEnv(1, mm2_latency=(0, -1, 0))
    with pytest.raises((ConfigError, TypeError), match="frameskip"):
        MultiVenueTwoMakerVectorEnv(1, frameskip=4)
    venv = MultiVenueTwoMakerVectorEnv(2, **KW)
    with pytest.raises(RuntimeError, match="before reset"):
        venv.step(np.zeros((4, 6)))
    venv.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions must be real numbers of shape \(4, 6\)"):
        venv.step(np.zeros((2, 6)))
    with pytest.raises(ValueError, match=r"shape \(4, 6\).*seat 2i\+k maker k of market i"):
        venv.step(np.zeros((4, 5)))
    bad = np.zeros((4, 6))
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="actions has NaN"):
        venv.step(bad)
    with pytest.raises(ValueError, match="options key 'seed_offset' is not valid"):
        venv.reset(options={"seed_offset": 1})
    # seeds and reset_mask per seat: TwoMakerSeats, tested with TwoMakerVectorEnv
    with pytest.raises(ValueError, match=r"agent=.*'mm3'.*\['mm1', 'mm2'\]"):
        venv.policy_context("mm3")


def test_a_pickled_env_continues_exactly() -> None:
    # mid-episode, with mm2's quotes in flight on the slow venues (checkpoints pickle the env)
    venv = MultiVenueTwoMakerVectorEnv(2, **KW)
    venv.reset(seed=2)
    rng = np.random.default_rng(0)
    for _ in range(KW["horizon_steps"] - 5):
        venv.step(rng.uniform(-1.0, 1.0, venv.action_space.shape))
    copy = pickle.loads(pickle.dumps(venv))
    for _ in range(15):  # through the autoreset
        a = rng.uniform(-1.0, 1.0, venv.action_space.shape)
        assert_same_seat_steps(copy.step(a), venv.step(a))
    assert repr(copy) == "MultiVenueTwoMakerVectorEnv(mean_reverting, venues=3, num_markets=2)"


def test_it_is_exported_where_the_single_venue_form_is() -> None:
    import mm_gym.multivenue as mv

    assert mv.MultiVenueTwoMakerVectorEnv is MultiVenueTwoMakerVectorEnv
    assert "MultiVenueTwoMakerVectorEnv" in mv.__all__
    assert mm_gym.TwoMakerVectorEnv.__name__ == "TwoMakerVectorEnv"
