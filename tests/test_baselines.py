"""Scripted policies, the closed-form formulas, and the fill-curve estimator (baselines/)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from baselines import (
    GLFT,
    AvellanedaStoikov,
    FixedSpread,
    GLFTQuotes,
    InventoryQuotes,
    OrderFlowSkew,
    RandomQuoter,
    SymmetricQuotes,
    calibrate_k,
)
from baselines.formulas import as_quote_distances, as_reservation_price, as_spread
from mm_gym.actions import actions_to_offsets
from mm_gym.config import ConfigError, IntensityConfig
from mm_gym.market.intensity import IntensityMarket
from mm_gym.observations import FEATURE_NAMES
from mm_gym.policy import PolicyContext, QuotingPolicy

MAX_OFFSET = 20.0
CONTEXT = PolicyContext(
    feature_names=FEATURE_NAMES, max_offset_ticks=MAX_OFFSET, horizon_steps=1000, inventory_limit=20
)


def _obs(n: int = 1, **features: float | list[float]) -> np.ndarray:
    """Observations with every feature zero except the given ones (scalars or per-row lists)."""
    obs = np.zeros((n, len(FEATURE_NAMES)), dtype=np.float32)
    for name, value in features.items():
        obs[:, FEATURE_NAMES.index(name)] = value
    return obs


def _offsets(policy: QuotingPolicy, obs: np.ndarray) -> np.ndarray:
    actions = policy.act(obs)
    assert actions.dtype == np.float32 and actions.shape == (obs.shape[0], 2)
    assert np.all(np.abs(actions) <= 1.0)
    return actions_to_offsets(actions, MAX_OFFSET)


def _ready(policy, seed: int = 0):
    policy.reset(np.random.default_rng(seed), CONTEXT)
    return policy


ALL_POLICIES = [
    lambda: FixedSpread(2.0),
    lambda: OrderFlowSkew(2.0, c_flow=1.0, c_inv=2.0),
    lambda: AvellanedaStoikov(gamma=0.01, k=1.5),
    lambda: AvellanedaStoikov(gamma=0.01, k=1.5, sigma=0.5, horizon=100.0),
    lambda: GLFT(gamma=0.01, k=1.5, A=0.5),
    lambda: GLFT(gamma=0.01, k=1.5, A=0.5, sigma=0.5, q_max=10),
    lambda: RandomQuoter(),
]


# --------------------------------------------------------------------------- protocol


@pytest.mark.parametrize("make", ALL_POLICIES)
def test_policies_satisfy_the_protocol_and_are_batched(make):
    policy = make()
    assert isinstance(policy, QuotingPolicy) and isinstance(policy.name, str)
    _ready(policy)
    rng = np.random.default_rng(0)
    obs = _obs(64)
    obs[:, FEATURE_NAMES.index("inventory")] = rng.uniform(-1, 1, 64)
    obs[:, FEATURE_NAMES.index("time_left")] = rng.uniform(0, 1, 64)
    obs[:, FEATURE_NAMES.index("flow")] = rng.uniform(-1, 1, 64)
    obs[:, FEATURE_NAMES.index("volatility_ticks")] = rng.uniform(0, 2, 64)
    offsets = _offsets(policy, obs)
    assert np.all(np.isfinite(offsets))


@pytest.mark.parametrize("make", ALL_POLICIES)
def test_policies_at_inventory_limits_park_the_blocked_side(make):
    policy = _ready(make())
    offsets = _offsets(policy, _obs(2, inventory=[1.0, -1.0], time_left=0.5, volatility_ticks=1.0))
    assert offsets[0, 0] == MAX_OFFSET  # long at the limit: no bid
    assert offsets[1, 1] == MAX_OFFSET  # short at the limit: no ask
    assert 0.0 <= offsets[0, 1] <= MAX_OFFSET and 0.0 <= offsets[1, 0] <= MAX_OFFSET


@pytest.mark.parametrize("make", ALL_POLICIES)
def test_act_before_reset_raises(make):
    with pytest.raises(RuntimeError, match="before reset"):
        make().act(_obs(1))


def test_act_rejects_observations_of_the_wrong_shape():
    policy = _ready(FixedSpread(1.0))
    with pytest.raises(ValueError, match="shape"):
        policy.act(np.zeros((3, len(FEATURE_NAMES) - 1), dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        policy.act(np.zeros(len(FEATURE_NAMES), dtype=np.float32))


def test_random_quoter_checks_its_range_against_the_context():
    with pytest.raises(ConfigError, match="low_ticks"):
        _ready(RandomQuoter(low_ticks=MAX_OFFSET + 1))


def test_reset_names_a_missing_feature():
    context = PolicyContext(("inventory", "time_left"), MAX_OFFSET, 1000, 20)
    with pytest.raises(KeyError, match="flow"):
        OrderFlowSkew().reset(np.random.default_rng(0), context)
    with pytest.raises(KeyError, match="volatility_ticks"):
        AvellanedaStoikov(gamma=0.1, k=1.5).reset(np.random.default_rng(0), context)
    # With sigma given, AS needs no volatility feature.
    AvellanedaStoikov(gamma=0.1, k=1.5, sigma=1.0).reset(np.random.default_rng(0), context)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: FixedSpread(-1.0), "half_spread_ticks"),
        (lambda: OrderFlowSkew(c_flow=math.nan), "c_flow"),
        (lambda: AvellanedaStoikov(gamma=0.0, k=1.5), "gamma"),
        (lambda: AvellanedaStoikov(gamma=0.1, k=-1.0), "k"),
        (lambda: AvellanedaStoikov(gamma=0.1, k=1.5, sigma=-1.0), "sigma"),
        (lambda: GLFT(gamma=0.1, k=1.5, A=0.0), "A"),
        (lambda: GLFT(gamma=0.1, k=1.5, A=1.0, q_max=0), "q_max"),
        (lambda: RandomQuoter(low_ticks=5.0, high_ticks=1.0), "high_ticks"),
        (lambda: FixedSpread(1.0, name=""), "name"),
    ],
)
def test_bad_parameters_raise_config_errors(make, match):
    with pytest.raises(ConfigError, match=match):
        make()


# --------------------------------------------------------------------------- FixedSpread


def test_fixed_spread_quotes_the_half_spread_on_both_sides():
    offsets = _offsets(_ready(FixedSpread(2.5)), _obs(3, inventory=[0.0, 0.5, -0.5]))
    np.testing.assert_allclose(offsets, 2.5, rtol=1e-6)


# --------------------------------------------------------------------------- OrderFlowSkew


def test_order_flow_skew_hand_computed():
    policy = _ready(OrderFlowSkew(2.0, c_flow=1.0, c_inv=2.0))
    offsets = _offsets(policy, _obs(4, inventory=[0.0, 0.5, 0.0, 0.5], flow=[0.0, 0.0, 0.5, 0.5]))
    # centre shift = c_flow * flow - c_inv * inventory; bid = h - shift, ask = h + shift
    expected = [[2.0, 2.0], [3.0, 1.0], [1.5, 2.5], [2.5, 1.5]]
    np.testing.assert_allclose(offsets, expected, atol=1e-5)


def test_order_flow_skew_is_symmetric_flat_and_skews_away_from_inventory():
    policy = _ready(OrderFlowSkew(2.0, c_flow=0.0, c_inv=2.0))
    flat, long, short = _offsets(policy, _obs(3, inventory=[0.0, 0.5, -0.5]))
    assert flat[0] == pytest.approx(flat[1])
    assert long[0] > long[1]  # long: bid further, ask closer (sell to flatten)
    assert short[0] < short[1]


# --------------------------------------------------------------------------- Avellaneda-Stoikov


def test_as_formulas_hand_computed():
    # gamma=0.1, sigma=2, k=1.5, T-t=1 (the paper's t=0): spread = 0.4 + 20 ln(1 + 1/15)
    spread = 0.4 + 20.0 * math.log(16.0 / 15.0)
    assert as_spread(1.0, gamma=0.1, sigma=2.0, k=1.5) == pytest.approx(spread)
    assert as_reservation_price(100.0, 3, 1.0, gamma=0.1, sigma=2.0) == pytest.approx(98.8)
    bid, ask = as_quote_distances(3, 1.0, gamma=0.1, sigma=2.0, k=1.5)
    assert bid == pytest.approx(spread / 2 + 1.2) and ask == pytest.approx(spread / 2 - 1.2)


def test_as_policy_hand_computed_in_ticks_and_steps():
    # gamma=0.01 /(tick lot), k=1.5 /tick, sigma=0.5 tick/sqrt(step); time_left=0.1 of 1000 steps
    # -> tau = 100 steps; inventory 0.1 of 20 lots -> q = 2 lots.
    policy = _ready(AvellanedaStoikov(gamma=0.01, k=1.5, sigma=0.5))
    spread = 0.01 * 0.25 * 100 + 200.0 * math.log1p(0.01 / 1.5)  # eq. (30): 1.5789 ticks
    skew = 2 * 0.01 * 0.25 * 100  # q gamma sigma^2 tau = 0.5 ticks (eq. 29)
    offsets = _offsets(policy, _obs(1, inventory=0.1, time_left=0.1))
    np.testing.assert_allclose(offsets[0], [spread / 2 + skew, spread / 2 - skew], atol=1e-5)


def test_as_policy_is_symmetric_flat_and_skews_away_from_inventory():
    policy = _ready(AvellanedaStoikov(gamma=0.01, k=1.5, sigma=0.5))
    flat, long, short = _offsets(policy, _obs(3, inventory=[0.0, 0.1, -0.1], time_left=0.5))
    assert flat[0] == pytest.approx(flat[1])
    assert long[0] > flat[0] > long[1]
    assert short[0] < flat[0] < short[1]
    np.testing.assert_allclose(long, short[::-1], atol=1e-5)


def test_as_spread_shrinks_as_time_runs_out():
    policy = _ready(AvellanedaStoikov(gamma=0.01, k=1.5, sigma=0.5))
    offsets = _offsets(policy, _obs(3, time_left=[1.0, 0.5, 0.0]))
    spreads = offsets.sum(axis=1)
    assert spreads[0] > spreads[1] > spreads[2]
    assert spreads[2] == pytest.approx(200.0 * math.log1p(0.01 / 1.5), abs=1e-5)
    # ... and the inventory skew vanishes with it
    at_end = _offsets(policy, _obs(1, inventory=0.1, time_left=0.0))[0]
    assert at_end[0] == pytest.approx(at_end[1], abs=1e-5)


def test_as_policy_reads_sigma_from_the_volatility_feature():
    estimated = _ready(AvellanedaStoikov(gamma=0.01, k=1.5))
    fixed = _ready(AvellanedaStoikov(gamma=0.01, k=1.5, sigma=0.8))
    obs = _obs(2, inventory=[0.1, -0.05], time_left=0.3, volatility_ticks=0.8)
    np.testing.assert_allclose(_offsets(estimated, obs), _offsets(fixed, obs), atol=1e-6)


def test_as_policy_with_a_fixed_horizon_ignores_time_left():
    policy = _ready(AvellanedaStoikov(gamma=0.01, k=1.5, sigma=0.5, horizon=100.0))
    offsets = _offsets(policy, _obs(2, inventory=0.1, time_left=[0.9, 0.0]))
    np.testing.assert_allclose(offsets[0], offsets[1])
    reference = _ready(AvellanedaStoikov(gamma=0.01, k=1.5, sigma=0.5))
    np.testing.assert_allclose(
        offsets[0], _offsets(reference, _obs(1, inventory=0.1, time_left=0.1))[0]
    )


def test_as_policy_clips_a_quote_through_the_mid_to_the_mid():
    policy = _ready(AvellanedaStoikov(gamma=0.1, k=1.5, sigma=1.0))
    offsets = _offsets(policy, _obs(1, inventory=0.5, time_left=1.0))
    assert offsets[0, 1] == 0.0 and offsets[0, 0] == MAX_OFFSET


# --------------------------------------------------------------------------- GLFT


def _glft_c(gamma, sigma, A, k):
    return math.sqrt(sigma**2 * gamma / (2 * k * A) * (1 + gamma / k) ** (1 + k / gamma))


def test_glft_hand_computed_and_symmetric_at_zero_inventory():
    gamma, k, A, sigma = 0.05, 1.0, 0.5, 0.6
    c = _glft_c(gamma, sigma, A, k)  # 0.2553 ticks per lot
    base = math.log(1 + gamma / k) / gamma  # 0.9758 ticks
    policy = _ready(GLFT(gamma=gamma, k=k, A=A, sigma=sigma))
    q = np.array([0, 1, -2])
    offsets = _offsets(policy, _obs(3, inventory=q / CONTEXT.inventory_limit))
    expected = np.stack([base + (2 * q + 1) / 2 * c, base - (2 * q - 1) / 2 * c], axis=1)
    np.testing.assert_allclose(offsets, expected, atol=1e-5)
    assert offsets[0, 0] == pytest.approx(offsets[0, 1])
    # spread psi = (2/gamma) ln(1 + gamma/k) + c, independent of q
    np.testing.assert_allclose(offsets.sum(axis=1), 2 * base + c, atol=1e-5)


def test_glft_skews_away_from_inventory_and_stops_at_its_bound():
    policy = _ready(GLFT(gamma=0.05, k=1.0, A=0.5, sigma=0.6, q_max=3))
    q = np.array([0, 2, 3, -3])
    offsets = _offsets(policy, _obs(4, inventory=q / CONTEXT.inventory_limit))
    assert offsets[1, 0] > offsets[0, 0] and offsets[1, 1] < offsets[0, 1]
    assert offsets[2, 0] == MAX_OFFSET and offsets[2, 1] < MAX_OFFSET  # q = Q: no bid
    assert offsets[3, 1] == MAX_OFFSET and offsets[3, 0] < MAX_OFFSET  # q = -Q: no ask


def test_glft_skew_is_stable_for_tiny_gamma():
    # (1 + g/k)^(1 + k/g) -> e as g/k -> 0, so c -> sqrt(sigma^2 g e / (2 k A)).
    c = GLFTQuotes(gamma=1e-9, sigma=1.0, A=1.0, k=1.0, q_max=5)(
        np.array([100.0]), np.array([1]), 0.0
    )
    expected = math.sqrt(1e-9 * math.e / 2)
    bid, ask = c
    assert (bid[0] - ask[0]) / 2 == pytest.approx(expected, rel=1e-6)


# --------------------------------------------------------------------------- RandomQuoter


def test_random_quoter_is_reproducible_and_in_range():
    a = _ready(RandomQuoter(low_ticks=1.0, high_ticks=3.0), seed=5)
    b = _ready(RandomQuoter(low_ticks=1.0, high_ticks=3.0), seed=5)
    obs = _obs(100)
    oa, ob = _offsets(a, obs), _offsets(b, obs)
    np.testing.assert_array_equal(oa, ob)
    assert oa.min() >= 1.0 - 1e-5 and oa.max() <= 3.0 + 1e-5
    assert np.unique(oa).size > 150  # independent draws per row and side


# --------------------------------------------------------------------------- intensity strategies


def test_intensity_strategies_in_currency_units():
    config = IntensityConfig()
    inv = InventoryQuotes.from_config(0.1, config)
    bid, ask = inv(np.array([100.0, 100.0]), np.array([0, 2]), 0.0)
    spread = 0.4 + 20.0 * math.log(16.0 / 15.0)
    np.testing.assert_allclose(bid, [spread / 2, spread / 2 + 0.8])
    np.testing.assert_allclose(ask, [spread / 2, spread / 2 - 0.8])
    average = SymmetricQuotes.matching(inv)
    assert average(np.zeros(1), np.zeros(1), 0.3) == pytest.approx((0.745, 0.745), abs=1e-3)
    matched = SymmetricQuotes.matching(inv, "matched")
    assert matched(np.zeros(1), np.zeros(1), 0.0) == pytest.approx((spread / 2, spread / 2))
    with pytest.raises(ConfigError, match="mode"):
        SymmetricQuotes.matching(inv, "other")  # type: ignore[arg-type]
    glft = GLFTQuotes.from_config(0.1, config, q_max=2)
    bid, ask = glft(np.full(3, 100.0), np.array([-2, 0, 2]), 0.0)
    assert bid[1] == pytest.approx(ask[1])
    assert ask[0] == np.inf and bid[2] == np.inf and np.isfinite(bid[0]) and np.isfinite(ask[2])


# --------------------------------------------------------------------------- calibrate_k


def test_calibrate_k_recovers_exact_parameters_from_expected_counts():
    depths = np.array([0.0, 1.0, 2.0, 3.0, 5.0])
    exposure = np.array([1000.0, 2000.0, 3000.0, 4000.0, 5000.0])
    counts = exposure * 0.8 * np.exp(-0.6 * depths)
    A, k = calibrate_k(depths, counts, exposure)
    assert A == pytest.approx(0.8, rel=1e-9) and k == pytest.approx(0.6, rel=1e-9)


def test_calibrate_k_on_synthetic_poisson_counts():
    """Known A = 1.2 fills/step, k = 0.7 /tick; 20,000 steps at each of 7 depths.

    About 48,000 fills in all; the MLE's standard errors are about 0.6 % on A and 0.5 % on k,
    so 3 % is a safe tolerance at a fixed seed.
    """
    rng = np.random.default_rng(123)
    depths = np.arange(7.0)
    exposure = np.full(7, 20_000.0)
    counts = rng.poisson(exposure * 1.2 * np.exp(-0.7 * depths))
    A, k = calibrate_k(depths, counts, exposure)
    assert A == pytest.approx(1.2, rel=0.03) and k == pytest.approx(0.7, rel=0.03)


def test_calibrate_k_on_the_intensity_market():
    """Quote fixed depths on the AS model: Bernoulli fills with mean A e^{-k d} dt per step.

    160,000 quote-steps per depth and 1,700 to 18,000 fills each: the standard errors are about
    1 % on k and 2 % on A; tolerances 5 % and 10 % at a fixed seed.
    """
    config = IntensityConfig()
    depths = np.array([1.2, 1.6, 2.0, 2.4, 2.8])
    market = IntensityMarket(config, n_paths=depths.size * 400)
    market.reset(seed=9)
    d = np.repeat(depths, 400)
    while not market.done:
        market.step(d, d)
    counts = (market.bid_fills + market.ask_fills).reshape(depths.size, 400).sum(axis=1)
    exposure = np.full(depths.size, 2 * 400 * config.n_steps * config.dt)  # in model time
    A, k = calibrate_k(depths, counts, exposure)
    assert k == pytest.approx(config.k, rel=0.05) and A == pytest.approx(config.A, rel=0.1)


@pytest.mark.parametrize(
    ("depths", "counts", "exposure", "match"),
    [
        ([0.0, 1.0], [5, 5, 5], [1, 1], "same length"),
        ([1.0, 1.0], [5, 3], [1, 1], "distinct"),
        ([0.0, 1.0], [0, 0], [1, 1], "no fills"),
        ([0.0, 1.0], [-1, 3], [1, 1], ">= 0"),
        ([0.0, 1.0], [1, 3], [0, 1], "> 0"),
        ([0.0, 1.0, 2.0], [9, 0, 0], [1, 1, 1], "shallowest"),
        ([0.0, 1.0, 2.0], [0, 0, 9], [1, 1, 1], "deepest"),
        ([0.0, math.nan], [1, 1], [1, 1], "finite"),
    ],
)
def test_calibrate_k_rejects_unusable_data(depths, counts, exposure, match):
    with pytest.raises(ConfigError, match=match):
        calibrate_k(depths, counts, exposure)


def test_calibrate_k_warns_when_fills_increase_with_depth():
    with pytest.warns(RuntimeWarning, match="k="):
        _, k = calibrate_k([0.0, 1.0, 2.0], [10, 20, 40], [1.0, 1.0, 1.0])
    assert k < 0
