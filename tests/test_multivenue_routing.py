"""MultiVenue-v0's routed action form: one quote plus a routing vector over the venues."""

from __future__ import annotations

import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env, data_equivalence
from helpers import assert_vector_equals_singles

from mm_gym.actions import actions_to_offsets
from mm_gym.config import ConfigError
from mm_gym.multivenue import (
    MultiVenueEnv,
    MultiVenueVectorEnv,
    allocate_lots,
    route_weights,
)
from mm_gym.portfolio import PortfolioEnv, PortfolioVectorEnv

ROUTED = {"action_form": "routed"}


def _rollout(env, actions, seed: int) -> list:
    """Observations, rewards and venue fills of ``env`` stepped with ``actions`` from ``seed``."""
    out = [env.reset(seed=seed)[0]]
    for a in actions:
        obs, r, term, _, info = env.step(a)
        out += [obs, r, info["venue_fills"], info["venue_inventory"]]
        if term:
            break
    return out


def _direct(env: MultiVenueEnv, quotes: list, sizes: np.ndarray, seed: int) -> list:
    """:func:`_rollout`'s record of ``env``'s market stepped directly (no action mapping).

    ``quotes``: per step the ``(V, 2)`` offsets, ticks; ``sizes``: the ``(V, 2)`` lots.
    """
    out = [env.reset(seed=seed)[0]]
    core = env._core
    for offsets in quotes:
        core.step(offsets[None], sizes[None])
        reward, _, _ = core.settle()
        info = core.infos(None)
        out += [core.observations()[0], reward[0], info["venue_fills"][0],
                info["venue_inventory"][0]]  # fmt: skip
    return out


def _assert_same(a: list, b: list) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


# ---------------------------------------------------------------- the allocation
@pytest.mark.parametrize(
    ("actions", "budget", "want"),
    [
        ([0.0, 0.0, 0.0], 3, [1, 1, 1]),  # the centre of the Box: an even split
        ([1.0, -1.0, -1.0], 3, [3, 0, 0]),  # -1 is an exact 0
        ([-1.0, -1.0, -1.0], 3, [0, 0, 0]),  # no weight: no quote anywhere
        ([1.0, 1.0, 0.0], 3, [1, 1, 1]),  # quotas 1.2, 1.2, 0.6: the lot left to 0.6
        ([0.0, 0.0, 0.0], 4, [2, 1, 1]),  # equal remainders: the lower venue first
        ([0.0, 0.0, 0.0, 0.0], 2, [1, 1, 0, 0]),
        ([0.5, 0.2, -0.3], 10, [4, 4, 2]),  # quotas 4.41, 3.53, 2.06
        ([3.0, -7.0], 5, [5, 0]),  # clipped to [-1, 1]
    ],
)
def test_allocate_lots_by_the_largest_remainder(actions, budget, want) -> None:
    lots = allocate_lots(route_weights(np.array([actions])), budget)
    assert lots.dtype == np.int64
    np.testing.assert_array_equal(lots[0], want)


def test_the_allocation_sums_to_the_budget_within_a_lot_of_each_quota() -> None:
    rng = np.random.default_rng(0)
    for v in (1, 2, 3, 7, 16):
        a = rng.uniform(-1.3, 1.3, (2_000, v))
        a[rng.random(a.shape) < 0.3] = -1.0  # venues left out
        budget = int(rng.integers(0, 50))
        w = route_weights(a)
        lots = allocate_lots(w, budget)
        some = w.sum(axis=1) > 0
        np.testing.assert_array_equal(lots.sum(axis=1), np.where(some, budget, 0))
        assert (lots[w == 0] == 0).all()  # a venue with no weight gets no lot
        quota = budget * w[some] / w[some].sum(axis=1, keepdims=True)
        assert (lots[some] >= np.floor(quota) - 1e-9).all()  # Hamilton's quota property
        assert (lots[some] <= np.ceil(quota) + 1e-9).all()
        np.testing.assert_array_equal(allocate_lots(w, budget), lots)  # deterministic


# ---------------------------------------------------------------- the env
def test_the_default_form_is_the_per_venue_one_and_quotes_every_venue() -> None:
    rng = np.random.default_rng(1)
    actions = rng.uniform(-1, 1, (60, 6)).astype(np.float32)
    default = _rollout(MultiVenueEnv(horizon_steps=50), actions, 3)
    explicit = MultiVenueEnv(horizon_steps=50, action_form="per_venue")
    _assert_same(default, _rollout(explicit, actions, 3))
    # The default env steps its market with the per-venue offsets and quote_size_lots per venue.
    quotes = [actions_to_offsets(a.reshape(3, 2), 10.0, "touch") for a in actions[:50]]
    _assert_same(default, _direct(MultiVenueEnv(horizon_steps=50), quotes, np.ones((3, 2)), 3))


def test_an_even_routing_vector_is_the_per_venue_action_with_the_same_quote_everywhere() -> None:
    rng = np.random.default_rng(2)
    quote = rng.uniform(-1, 1, (80, 2)).astype(np.float32)
    routed = np.concatenate([quote, np.zeros((80, 3), np.float32)], axis=1)
    per_venue = np.tile(quote, (1, 3))  # budget 3 lots split 1, 1, 1 = quote_size_lots each
    kw = {"horizon_steps": 70}
    _assert_same(
        _rollout(MultiVenueEnv(**kw, **ROUTED), routed, 4),
        _rollout(MultiVenueEnv(**kw), per_venue, 4),
    )


@pytest.mark.parametrize("venue", [0, 1, 2])
def test_all_weight_on_one_venue_quotes_only_there(venue: int) -> None:
    rng = np.random.default_rng(venue)
    steps = 60
    quote = rng.uniform(-1, -0.5, (steps, 2)).astype(np.float32)  # inside or at the touch
    route = np.full((steps, 3), -1.0, np.float32)
    route[:, venue] = rng.uniform(-0.9, 1.0, steps)  # any weight > 0 takes the whole budget
    env = MultiVenueEnv(horizon_steps=steps, quote_size_lots=2, **ROUTED)
    got = _rollout(env, np.concatenate([quote, route], axis=1), 5)
    core = env.unwrapped._core
    others = [v for v in range(3) if v != venue]
    fills = np.array(got[3::4])  # venue_fills per step
    assert fills[:, venue].sum() > 0 and (fills[:, others] == 0).all()
    assert all((core.sims[v].orders.size[0, 0] == 0).all() for v in others)
    # The same market stepped with that quote on the one venue (all 6 lots) and none elsewhere.
    sizes = np.zeros((3, 2))
    sizes[venue] = 6.0
    quotes = [np.repeat(actions_to_offsets(q[None], 10.0, "touch"), 3, 0) for q in quote]
    twin = MultiVenueEnv(horizon_steps=steps, quote_size_lots=2)
    _assert_same(got, _direct(twin, quotes, sizes, 5))


def test_routed_vector_env_equals_single_envs_across_autoresets() -> None:
    kw = {"horizon_steps": 40, **ROUTED}
    singles = [MultiVenueEnv(**kw) for _ in range(3)]
    vec = MultiVenueVectorEnv(3, **kw)
    assert vec.single_action_space.shape == (5,)
    assert_vector_equals_singles(vec, singles, 5, 100, ("venue_fills", "venue_inventory"))


def test_routed_gym_make_passes_the_env_checker_and_pickles() -> None:
    env = gym.make("mm_gym/MultiVenue-v0", action_form="routed", horizon_steps=30)
    assert env.action_space.shape == (5,)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped, skip_render_check=True)
    env.reset(seed=0)
    env.step(env.action_space.sample())
    copy = pickle.loads(pickle.dumps(env.unwrapped))
    a = np.array([0.1, -0.2, 0.5, -1.0, 0.3], np.float32)
    assert data_equivalence(env.unwrapped.step(a), copy.step(a))
    envs = gym.make_vec("mm_gym/MultiVenue-v0", num_envs=2, action_form="routed")
    assert isinstance(envs.unwrapped, MultiVenueVectorEnv)
    assert envs.action_space.shape == (2, 5)
    same = gym.make("mm_gym/MultiVenue-v0")
    assert same.observation_space == env.observation_space  # the observation is unchanged


@pytest.mark.parametrize("form", ["route", "", 1, None, "ROUTED"])
def test_bad_action_forms_are_named(form) -> None:
    with pytest.raises(
        ConfigError, match=r"action_form=.* choose one of \['per_venue', 'routed'\]"
    ):
        MultiVenueEnv(action_form=form)
    with pytest.raises(ConfigError, match="action_form="):
        gym.make_vec("mm_gym/MultiVenue-v0", num_envs=2, action_form=form)


@pytest.mark.parametrize("make", [PortfolioEnv, lambda **kw: PortfolioVectorEnv(2, **kw)])
def test_portfolio_refuses_the_routed_form(make) -> None:
    with pytest.raises(ConfigError, match=r"action_form='routed'.*'per_venue' only"):
        make(action_form="routed")
    assert make(action_form="per_venue") is not None


def test_routed_actions_of_the_wrong_shape_are_refused() -> None:
    env = MultiVenueEnv(**ROUTED)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(5,\) \(a bid and an ask action, then a routing"):
        env.step(np.zeros(6))


def test_the_training_adapter_logs_the_routed_quote_spread_only() -> None:
    pytest.importorskip("stable_baselines3")
    from agents.vec_env import MarketMakingSB3VecEnv

    venues = [{"name": "A"}, {"name": "B", "latency_steps": 1}]  # 2 + V = 2V: 4 actions
    env = MultiVenueVectorEnv(2, venues=venues, horizon_steps=5, **ROUTED)
    adapter = MarketMakingSB3VecEnv(env)
    adapter.seed(0)
    adapter.reset()
    a = np.array([[-0.5, 0.0, 1.0, -1.0]] * 2, np.float32)
    for _ in range(5):
        adapter.step(a)
    want = actions_to_offsets(a[0, :2], 10.0, "touch").sum()  # 0.125 + 0.25 ticks
    np.testing.assert_allclose(adapter.pop_episode_stats()["quoted_spread_ticks"], [want, want])
