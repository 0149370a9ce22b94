"""baselines.router.VenueRouter: fill values, EWMA estimates, venue choice, size allocation."""

from __future__ import annotations

import numpy as np
import pytest

from baselines.router import VenueRouter
from mm_gym.config import ConfigError


def _simulate(
    router: VenueRouter,
    capture: np.ndarray,
    rebate: np.ndarray,
    adverse: np.ndarray,
    steps: int,
    seed: int,
    fill_prob: float = 0.5,
    mid_sd_ticks: float = 0.5,
) -> np.ndarray:
    """A constructed market with a known value per lot on each venue.

    Every step each chosen venue fills the maker with probability ``fill_prob`` (side +/-1 at
    random, 1-3 lots) at ``capture[v]`` ticks from the mid plus noise, pays ``rebate[v]``, and
    its mid then jumps ``adverse[v]`` ticks against the maker (permanently); mids also follow a
    random walk of ``mid_sd_ticks`` per step. A fill's expected value is
    ``capture + rebate - adverse``. Returns the choices, ``(steps, n, V)`` bool.
    """
    rng = np.random.default_rng(seed)
    n, v = router.n_envs, router.n_venues
    mid = np.full((n, v), 1000.0)
    history = np.zeros((steps, n, v), dtype=bool)
    for t in range(steps):
        chosen = router.choose()
        history[t] = chosen
        fills = chosen & (rng.random((n, v)) < fill_prob)
        env, ven = np.nonzero(fills)
        side = rng.choice([-1, 1], size=env.size)
        price = mid[env, ven] - side * (capture[ven] + rng.normal(0.0, 0.3, env.size))
        lots = rng.integers(1, 4, size=env.size)
        router.record_fills(t, env, ven, side, price, mid[env, ven], lots, rebate[ven])
        np.subtract.at(mid, (env, ven), side * adverse[ven])
        mid += rng.normal(0.0, mid_sd_ticks, (n, v))
        router.observe_mid(t, mid)
    return history


def test_router_converges_to_the_venue_with_the_higher_value():
    capture = np.array([1.0, 1.0, 1.0])
    rebate = np.array([0.2, 0.5, 0.2])
    adverse = np.array([1.0, 0.3, 0.9])  # values per lot 0.2, 1.2, 0.3 ticks
    router = VenueRouter(50, 3, halflife_fills=50.0, adverse_horizon_steps=5, explore=0.05)
    history = _simulate(router, capture, rebate, adverse, steps=1_500, seed=11)
    share = history[-500:].mean(axis=(0, 1))
    # Expected once converged: 0.95 + 0.05 / 3 = 0.967 on venue 1.
    assert share[1] > 0.9, share
    ev = router.expected_value
    assert (np.nanargmax(ev, axis=1) == 1).mean() >= 0.95
    # Venue 1's estimate, from ~100 effective fills per env, is unbiased: mean over envs.
    assert abs(ev[:, 1].mean() - 1.2) < 0.1, ev[:, 1].mean()


def test_router_spreads_across_venues_of_equal_value():
    same = np.array([1.0, 1.0, 1.0])
    router = VenueRouter(600, 3, adverse_horizon_steps=3, explore=0.05, top_k=1, seed=5)
    history = _simulate(router, same, same * 0.2, same * 0.7, steps=300, seed=12)
    share = history.mean(axis=(0, 1))
    # Each env settles on whichever venue its noisy estimates favour; by symmetry each venue
    # gets a third (sd ~0.02 over 600 envs if every env locked on one venue).
    assert np.all((share > 0.27) & (share < 0.40)), share
    # With top_k = V every venue is chosen at every step, and size follows depth.
    router_all = VenueRouter(4, 3, top_k=3)
    assert router_all.choose().all()
    depth = np.array([[10, 10, 10]] * 4)
    np.testing.assert_array_equal(router_all.allocate(depth, np.full(4, 9)), np.full((4, 3), 3))


def test_fill_value_is_the_markout_at_the_horizon_plus_the_rebate():
    router = VenueRouter(2, 2, adverse_horizon_steps=3)
    mids = np.array([[100.0, 200.0], [100.0, 200.0]])
    # Env 0, venue 1: bought 2 lots at 199 (mid 200): capture 1, rebate 0.1.
    router.record_fills(0, [0], [1], [1], [199.0], [200.0], [2], [0.1])
    for t in range(3):
        router.observe_mid(t, mids)
        assert router.n_pending == 1 and np.isnan(router.expected_value).all()
    mids[0, 1] = 199.5  # the mid fell 0.5 against the buyer: adverse 0.5
    router.observe_mid(3, mids)
    assert router.n_pending == 0
    ev = router.expected_value
    assert ev[0, 1] == pytest.approx(1.0 + 0.1 - 0.5)
    assert np.isnan(ev[[0, 1, 1], [0, 0, 1]]).all()
    np.testing.assert_array_equal(router.n_resolved, [[0, 1], [0, 0]])


def test_estimate_is_a_lot_weighted_ewma_in_record_order():
    router = VenueRouter(1, 1, halflife_fills=2.0, adverse_horizon_steps=0)
    lam = 0.5**0.5
    # Three fills resolved in one call (values 1, 3, -2 ticks; lots 1, 2, 1), then one more.
    router.record_fills(0, 0, 0, [1, -1, 1], [99.0, 103.0, 102.0], 100.0, [1, 2, 1], 0.0)
    router.observe_mid(0, [[100.0]])
    s = ((1 * 1.0) * lam + 2 * 3.0) * lam + 1 * -2.0
    w = (1 * lam + 2) * lam + 1
    assert router.expected_value[0, 0] == pytest.approx(s / w)
    router.record_fills(1, 0, 0, 1, 99.0, 100.0, 4, 0.5)
    router.observe_mid(1, [[100.0]])  # value 1.5
    assert router.expected_value[0, 0] == pytest.approx((lam * s + 4 * 1.5) / (lam * w + 4))


def test_venues_without_an_estimate_are_tried_first():
    router = VenueRouter(1, 3, adverse_horizon_steps=0, explore=0.0)
    router.record_fills(0, [0, 0], [0, 2], [1, 1], [99.0, 90.0], [100.0, 100.0], 1, 0.0)
    router.observe_mid(0, [[100.0, 100.0, 100.0]])  # venue 0: +1, venue 2: +10, venue 1: none
    np.testing.assert_array_equal(router.choose(), [[False, True, False]])
    router.record_fills(1, 0, 1, 1, 100.0, 100.0, 1, 0.0)
    router.observe_mid(1, [[100.0, 100.0, 100.0]])  # venue 1: 0
    np.testing.assert_array_equal(router.choose(), [[False, False, True]])


def test_exploration_share_matches_explore():
    router = VenueRouter(2_000, 4, explore=0.2, seed=3)
    router.record_fills(0, np.arange(2_000), 0, 1, 99.0, 100.0, 1, 0.0)
    router.record_fills(0, np.arange(2_000), [1, 2, 3] * 666 + [1, 2], 1, 100.0, 100.0, 1, 0.0)
    router.observe_mid(10, np.full((2_000, 4), 100.0))
    router.record_fills(10, np.arange(2_000), [2, 3, 1] * 666 + [2, 3], 1, 100.0, 100.0, 1, 0.0)
    router.record_fills(10, np.arange(2_000), [3, 1, 2] * 666 + [3, 1], 1, 100.0, 100.0, 1, 0.0)
    router.observe_mid(20, np.full((2_000, 4), 100.0))
    assert router.n_resolved.min() == 1  # venue 0 best (EV 1), the others 0
    share = np.mean([router.choose()[:, 0].mean() for _ in range(10)])
    # Venue 0 unless exploring, and then 1 in 4: 0.8 + 0.2 / 4 = 0.85 (sd ~0.0025).
    assert share == pytest.approx(0.85, abs=0.015)


def test_router_is_reproducible_by_seed_and_reset():
    def run(router: VenueRouter) -> np.ndarray:
        return _simulate(router, np.ones(3), np.zeros(3), np.ones(3) * 0.5, steps=50, seed=1)

    a = run(VenueRouter(8, 3, adverse_horizon_steps=2, explore=0.3, seed=7))
    b_router = VenueRouter(8, 3, adverse_horizon_steps=2, explore=0.3, seed=7)
    b = run(b_router)
    np.testing.assert_array_equal(a, b)
    c = run(VenueRouter(8, 3, adverse_horizon_steps=2, explore=0.3, seed=8))
    assert not np.array_equal(a, c)
    b_router.reset(seed=7)
    assert np.isnan(b_router.expected_value).all() and b_router.n_pending == 0
    np.testing.assert_array_equal(run(b_router), a)


def test_reset_mask_forgets_only_the_masked_envs():
    router = VenueRouter(2, 2, adverse_horizon_steps=1)
    router.record_fills(0, [0, 1], [0, 0], [1, 1], [99.0, 99.0], [100.0, 100.0], 1, 0.0)
    router.observe_mid(1, np.full((2, 2), 100.0))
    router.record_fills(1, [0, 1], [1, 1], [1, 1], [99.0, 99.0], [100.0, 100.0], 1, 0.0)
    router.reset(np.array([True, False]))
    assert router.n_pending == 1
    ev = router.expected_value
    assert np.isnan(ev[0]).all() and ev[1, 0] == 1.0
    with pytest.raises(ValueError, match="step=0 is before the last observed step 1"):
        router.observe_mid(0, np.full((2, 2), 100.0))  # a masked reset keeps the clock


def test_allocate_largest_remainder_over_the_chosen_venues():
    router = VenueRouter(3, 4)
    chosen = np.array(
        [[True, True, True, False], [True, False, True, False], [False, True, False, False]]
    )
    depth = np.array([[5, 3, 2, 100], [1, 50, 1, 0], [0, 0, 7, 7]])
    lots = router.allocate(depth, np.array([7, 5, 3]), chosen=chosen)
    # Quotas 3.5, 2.1, 1.4 -> 3, 2, 1 and the left-over lot to the largest remainder (0.5).
    np.testing.assert_array_equal(lots[0], [4, 2, 1, 0])
    # Quotas 2.5, 2.5: the tie goes to the lower index (equal depth).
    np.testing.assert_array_equal(lots[1], [3, 0, 2, 0])
    # No depth on the one chosen venue: all of it there.
    np.testing.assert_array_equal(lots[2], [0, 3, 0, 0])
    assert lots.dtype == np.int64


def test_allocate_with_no_depth_puts_everything_on_the_best_chosen_venue():
    router = VenueRouter(1, 3, adverse_horizon_steps=0, explore=0.0, top_k=2)
    router.record_fills(0, [0, 0, 0], [0, 1, 2], 1, [99.0, 97.0, 98.0], 100.0, 1, 0.0)
    router.observe_mid(0, [[100.0, 100.0, 100.0]])  # values 1, 3, 2
    np.testing.assert_array_equal(router.choose(), [[False, True, True]])
    np.testing.assert_array_equal(router.allocate([[0, 0, 0]], np.array([6])), [[0, 6, 0]])
    both = np.array([[True, False, True]])
    np.testing.assert_array_equal(router.allocate([[0, 9, 0]], np.array([6]), both), [[0, 0, 6]])


def test_allocate_sums_exactly_and_stays_within_one_lot_of_the_quota():
    rng = np.random.default_rng(9)
    n, v = 500, 5
    router = VenueRouter(n, v, top_k=3, explore=1.0, seed=2)
    chosen = router.choose()
    depth = rng.integers(0, 40, size=(n, v)).astype(float) * (rng.random((n, v)) < 0.8)
    total = rng.integers(0, 100, size=n)
    lots = router.allocate(depth, total)
    np.testing.assert_array_equal(lots.sum(axis=1), total)
    assert (lots[~chosen] == 0).all() and (lots >= 0).all()
    d = np.where(chosen, depth, 0.0)
    ok = d.sum(axis=1) > 0
    quota = total[ok, None] * d[ok] / d[ok].sum(axis=1, keepdims=True)
    assert (np.abs(lots[ok] - quota) < 1).all()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n_envs": 0, "n_venues": 2}, "n_envs"),
        ({"n_envs": 1, "n_venues": 2, "halflife_fills": -1.0}, "halflife_fills"),
        ({"n_envs": 1, "n_venues": 2, "adverse_horizon_steps": 1.5}, "adverse_horizon_steps"),
        ({"n_envs": 1, "n_venues": 2, "explore": 1.5}, "explore"),
        ({"n_envs": 1, "n_venues": 2, "top_k": 3}, "top_k"),
        ({"n_envs": 1, "n_venues": 2, "seed": -1}, "seed"),
    ],
)
def test_router_rejects_bad_arguments_naming_them(kwargs, field):
    with pytest.raises(ConfigError, match=f"VenueRouter.{field}="):
        VenueRouter(**kwargs)


def test_router_methods_reject_bad_input_naming_the_argument():
    r = VenueRouter(2, 2)
    good = {
        "step": 0,
        "env_idx": [0],
        "venue": [1],
        "side": [1],
        "price_ticks": [99.0],
        "mid_ticks": [100.0],
        "lots": [1],
        "rebate_ticks": [0.0],
    }
    bad = [
        ({"env_idx": [2]}, r"env_idx must be integers in \[0, 2\), got 2"),
        ({"venue": [0.5]}, r"venue must be integers in \[0, 2\)"),
        ({"side": [0]}, "side must be"),
        ({"lots": [0]}, "lots must be > 0"),
        ({"price_ticks": [np.nan]}, "price_ticks must be finite"),
        ({"mid_ticks": [[100.0]]}, "mid_ticks must be 1-D"),
        ({"rebate_ticks": [0.0, 0.1]}, "the fill arrays differ in length"),
        ({"step": -1}, "step=-1 must be an integer >= 0"),
    ]
    for change, message in bad:
        with pytest.raises(ValueError, match=message):
            r.record_fills(**{**good, **change})
    assert r.n_pending == 0
    with pytest.raises(ValueError, match=r"mid_ticks must have shape \(2, 2\)"):
        r.observe_mid(0, np.zeros(2))
    with pytest.raises(ValueError, match="mid_ticks must be finite"):
        r.observe_mid(0, [[1.0, np.inf], [1.0, 1.0]])
    with pytest.raises(RuntimeError, match="call choose"):
        r.allocate(np.ones((2, 2)), np.array([1, 1]))
    with pytest.raises(ValueError, match="depth_lots must be finite and >= 0"):
        r.allocate(-np.ones((2, 2)), np.array([1, 1]), np.ones((2, 2), dtype=bool))
    with pytest.raises(ValueError, match="total_lots must be integers >= 0"):
        r.allocate(np.ones((2, 2)), np.array([1.5, 1.0]), np.ones((2, 2), dtype=bool))
    with pytest.raises(ValueError, match="chosen has no venue in row 1"):
        r.allocate(np.ones((2, 2)), np.array([1, 1]), np.array([[True, False], [False, False]]))
    with pytest.raises(ValueError, match="mask must be a boolean array"):
        r.reset(np.array([0, 1]))
