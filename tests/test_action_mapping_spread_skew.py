"""The opt-in ``"spread_skew"`` action mapping: a half-spread and a skew instead of two offsets.

Exploration noise on the half-spread moves both quotes together, and the skew's dead zone keeps
small skews at the touch (issue #13 item 1). The mapping takes (bid, ask) pairs jointly, so
everything that maps actions must hand it pairs; its inverse must keep scripted policies'
prices exactly.
"""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest
from helpers import assert_vector_equals_singles, baseline_rollout, toy_policy_arrays

import mm_gym  # noqa: F401  (registers the env ids)
from agents.policy import PPOPolicy
from baselines import GLFT, AvellanedaStoikov, FixedSpread, OrderFlowSkew, RandomQuoter
from mm_gym.actions import (
    SKEW_RANGE,
    action_pair_to_offsets,
    action_to_offset,
    actions_to_offsets,
    offsets_to_actions,
)
from mm_gym.envs.config import EnvConfig
from mm_gym.observations import FEATURE_NAMES
from mm_gym.policy import PolicyContext

ID = "mm_gym/MarketMaking-v1"
MAX_OFFSETS = (10.0, 8.0, 20.0, 3.0, 0.6, 100.0, 0.3)
SS = "spread_skew"


def _price_class(offsets: np.ndarray) -> np.ndarray:
    """``ceil(2 * offset)``: offsets with equal values quote equal prices (the mid is k/2)."""
    return np.ceil(2.0 * np.asarray(offsets, dtype=np.float64))


def test_mapping_table_of_minus_one_zero_plus_one():
    """Column 0 the half-spread, column 1 the skew (positive leans to selling), max 10 ticks."""
    table = {
        (-1.0, 0.0): (0.0, 0.0),  # the mid on both sides
        (0.0, 0.0): (0.3125, 0.3125),  # the touch at a 1- or 2-tick spread
        (0.6, 0.0): (0.5, 0.5),  # the last half-spread within half a tick
        (1.0, 0.0): (10.0, 10.0),
        (0.0, -1.0): (0.0, 2.8125),  # both quotes up by 2.5 ticks (clipped at the mid)
        (0.0, 1.0): (2.8125, 0.0),  # both quotes down by 2.5 ticks
        (0.0, 0.5): (0.3125, 0.3125),  # the skew's dead zone ends at 0.5
        (0.0, -0.5): (0.3125, 0.3125),
        (0.0, 0.75): (1.5625, 0.0),
        (1.0, 1.0): (10.0, 7.5),  # clipped to max_offset_ticks
        (-3.0, 3.0): (2.5, 0.0),  # out-of-range actions are clipped
    }
    actions = np.array(list(table), dtype=np.float64)
    np.testing.assert_array_equal(actions_to_offsets(actions, 10.0, SS), list(table.values()))


def test_exploration_around_zero_quotes_the_touch_on_both_sides():
    """Every action in (-1, 0.6] x [-0.5, 0.5] quotes both sides in (0, 0.5] ticks.

    Offsets in (0, 0.5] quote the touch at a 1- or 2-tick spread (about 97% of steps in the
    default book); under "touch" only actions up to 0.0257 did, per side.
    """
    rng = np.random.default_rng(0)
    a = np.stack([rng.uniform(-0.999, 0.6, 10_000), rng.uniform(-0.5, 0.5, 10_000)], axis=1)
    o = actions_to_offsets(a, 10.0, SS)
    assert ((o > 0.0) & (o <= 0.5)).all()
    assert (o[:, 0] == o[:, 1]).all()  # no skew in the dead zone


def test_pairs_are_required():
    with pytest.raises(ValueError, match=r"'spread_skew' maps \(bid, ask\) pairs.*shape \(3,\)"):
        actions_to_offsets(np.zeros(3), 10.0, SS)
    with pytest.raises(ValueError, match=r"'spread_skew' maps \(bid, ask\) pairs.*shape \(2, 3\)"):
        offsets_to_actions(np.zeros((2, 3)), 10.0, SS)
    with pytest.raises(ValueError, match="use action_pair_to_offsets"):
        action_to_offset(0.0, 10.0, SS)


def test_scalar_twin_is_bit_identical():
    x = np.concatenate([np.linspace(-1.5, 1.5, 61), [-0.0, 0.0, 0.5, -0.5, 0.6, 1e-17]])
    pairs = np.stack(np.meshgrid(x, x), axis=-1).reshape(-1, 2)
    for mapping in ("touch", "mid", SS):
        for max_offset in MAX_OFFSETS:
            batched = actions_to_offsets(pairs, max_offset, mapping)
            scalar = np.array(
                [action_pair_to_offsets(b, a, max_offset, mapping) for b, a in pairs.tolist()]
            )
            np.testing.assert_array_equal(scalar, batched)
            assert (np.signbit(scalar) == np.signbit(batched)).all()


@pytest.mark.parametrize("max_offset", MAX_OFFSETS)
def test_inverse_keeps_every_price_the_skew_reaches(max_offset):
    """offsets -> actions -> offsets quotes the prices asked for, including exactly the mid.

    The skew reaches ``SKEW_RANGE * max_offset`` (2.5 ticks at 10): pairs at most twice that
    apart, less a tick for the half-tick middles, keep both prices; pairs further apart keep
    the side nearer the mid and quote the other as far from it as the skew reaches.
    """
    rng = np.random.default_rng(0)
    halves = np.arange(0.0, 2 * max_offset + 1) / 2
    near = np.concatenate([halves, halves - 1e-7, halves + 1e-7, np.zeros(50)])
    pool = np.clip(np.concatenate([near, rng.uniform(0, max_offset, 2000)]), 0.0, max_offset)
    offsets = np.stack([rng.choice(pool, 20_000), rng.choice(pool, 20_000)], axis=1)
    a = offsets_to_actions(offsets, max_offset, SS)
    assert a.dtype == np.float32 and a.shape == offsets.shape and (np.abs(a) <= 1).all()
    back = actions_to_offsets(a, max_offset, SS)
    gap = np.abs(offsets[:, 0] - offsets[:, 1])
    reach = 2.0 * SKEW_RANGE * max_offset
    kept = gap <= reach - 1.0
    np.testing.assert_array_equal(_price_class(back[kept]), _price_class(offsets[kept]))
    # Too far apart: the nearer side's price is kept, the other comes in to the reach.
    cut = gap > reach + 1.0
    near_side = np.argmin(offsets, axis=1)
    rows = np.arange(len(offsets))
    np.testing.assert_array_equal(
        _price_class(back[rows, near_side][cut]), _price_class(offsets[rows, near_side][cut])
    )
    far_side = 1 - near_side
    far = back[rows, far_side][cut]
    assert (far < offsets[rows, far_side][cut]).all()
    assert (far >= np.minimum(back[rows, near_side][cut] + reach - 0.75, max_offset)).all()
    # And actions -> offsets -> actions -> offsets: the same prices again (always reachable).
    x = rng.uniform(-1, 1, (5000, 2)).astype(np.float32)
    o = actions_to_offsets(x, max_offset, SS)
    again = actions_to_offsets(offsets_to_actions(o, max_offset, SS), max_offset, SS)
    np.testing.assert_array_equal(_price_class(again), _price_class(o))


@pytest.mark.parametrize(
    "policy",
    [
        FixedSpread(1.0),
        OrderFlowSkew(),
        AvellanedaStoikov(gamma=0.1, k=1.5),
        GLFT(gamma=0.1, k=1.5, A=1.0),
    ],
    ids=lambda p: p.name,
)
def test_baselines_quote_exactly_as_under_touch(policy):
    """Scripted policies think in ticks: their rollouts are bit-identical under both mappings.

    (``RandomQuoter`` draws each side's offset independently up to ``max_offset_ticks``, beyond
    the skew's reach: see the next test.)
    """
    touch = baseline_rollout(ID, policy, "touch")
    skew = baseline_rollout(ID, policy, SS)
    for key in touch:
        np.testing.assert_array_equal(skew[key], touch[key], err_msg=key)


def test_random_quoter_keeps_its_nearer_side_beyond_the_skew_reach():
    touch = baseline_rollout(ID, RandomQuoter(), "touch", steps=1)
    skew = baseline_rollout(ID, RandomQuoter(), SS, steps=1)
    # Observed own quote offsets (ticks from the mid) after the first step.
    cols = [FEATURE_NAMES.index("own_bid_offset"), FEATURE_NAMES.index("own_ask_offset")]
    want, got = touch["obs"][0][:, cols], skew["obs"][0][:, cols]
    near = np.argmin(want, axis=1)
    rows = np.arange(len(want))
    np.testing.assert_array_equal(got[rows, near], want[rows, near])


@pytest.mark.parametrize("venues", [1, 2])
def test_policy_trained_under_touch_quotes_its_prices_in_a_spread_skew_env(venues):
    """PPOPolicy converts through offsets, a (bid, ask) pair per venue."""
    obs = np.random.default_rng(2).normal(size=(400, len(FEATURE_NAMES))).astype(np.float32)
    arrays = toy_policy_arrays()
    arrays["action_mapping"] = np.array("touch")
    # Outputs in about [-0.3, 0.3]: offsets 0.2-3.2 ticks apart by less than the skew's reach.
    rng = np.random.default_rng(1)
    arrays["weights_1"] = 0.02 * rng.normal(size=(2 * venues, 4)).astype(np.float32)
    arrays["biases_1"] = rng.uniform(-0.1, 0.1, 2 * venues).astype(np.float32)
    policy = PPOPolicy(arrays)

    def ctx(mapping: str) -> PolicyContext:
        return PolicyContext(
            feature_names=FEATURE_NAMES, max_offset_ticks=10.0, horizon_steps=1000,
            inventory_limit=20, action_mapping=mapping,
        )  # fmt: skip

    policy.reset(np.random.default_rng(0), ctx("touch"))
    trained = policy.act(obs).reshape(-1, 2)
    policy.reset(np.random.default_rng(0), ctx(SS))
    here = policy.act(obs).reshape(-1, 2)
    assert not np.array_equal(here, trained)
    np.testing.assert_array_equal(
        _price_class(actions_to_offsets(here, 10.0, SS)),
        _price_class(actions_to_offsets(trained, 10.0, "touch")),
    )


def test_action_zero_trades():
    env = gym.make(ID, horizon_steps=200, action_mapping=SS)
    env.reset(seed=0)
    fills = 0
    for _ in range(200):
        fills += env.step(np.zeros(2, np.float32))[4]["fills"]
    assert fills >= 20, fills  # measured: 171 (both sides at the touch)
    assert env.unwrapped.policy_context().action_mapping == SS


def test_pickle_round_trip_keeps_the_mapping():
    config = EnvConfig(action_mapping=SS)
    assert pickle.loads(pickle.dumps(config)) == config
    env = gym.make(ID, action_mapping=SS).unwrapped
    env.reset(seed=3)
    action = np.array([0.2, 0.8], np.float32)  # a skew beyond the dead zone
    env.step(action)
    restored = pickle.loads(pickle.dumps(env))
    assert restored.env_config.action_mapping == SS
    for e in (env, restored):
        e.step(action)
    np.testing.assert_array_equal(restored._core.quotes, env._core.quotes)
    np.testing.assert_array_equal(env._core.quotes[0, 0, :2], actions_to_offsets(action, 10.0, SS))


@pytest.mark.parametrize("action_type", ["continuous", "continuous_sizes"])
def test_single_env_maps_pairs_as_the_vector_env_does(action_type):
    """The single env's scalar pair mapping equals the vector env's array mapping, bit for bit."""
    kw = dict(action_mapping=SS, action_type=action_type, horizon_steps=60)
    singles = [gym.make(ID, **kw).unwrapped for _ in range(3)]
    assert_vector_equals_singles(gym.make_vec(ID, num_envs=3, **kw), singles, 7, 150)
