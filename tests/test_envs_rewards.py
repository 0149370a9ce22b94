"""Reward functions: formula, float/array agreement (bit for bit), CARA utility."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mm_gym.rewards import COMPONENT_NAMES, RewardParams, cara_utility, step_reward

finite = st.floats(-1e4, 1e4, allow_nan=False)
params_strategy = st.builds(
    RewardParams,
    scale=st.floats(0.01, 10.0),
    inventory_penalty=st.floats(0.0, 1.0),
    terminal_penalty=st.floats(0.0, 1.0),
    dampening=st.floats(0.0, 1.0),
    cara=st.booleans(),
    cara_gamma=st.floats(1e-4, 1.0),
)


@settings(max_examples=200, deadline=None)
@given(
    params=params_strategy,
    rows=st.lists(
        st.tuples(finite, finite, st.integers(-50, 50), st.booleans(), finite),
        min_size=1,
        max_size=8,
    ),
)
def test_float_and_array_rewards_agree_bit_for_bit(params, rows):
    pnl, ipnl, inv, term, wealth = (np.array(c) for c in zip(*rows, strict=True))
    inv = inv.astype(np.float64)
    reward, comps = step_reward(pnl, ipnl, inv, term, wealth, params)
    for i, (p, ip, q, t, w) in enumerate(rows):
        r1, c1 = step_reward(p, ip, float(q), t, w, params)
        assert isinstance(r1, float)
        assert r1 == reward[i] or (np.isnan(r1) and np.isnan(reward[i]))
        for name in COMPONENT_NAMES:
            assert c1[name] == comps[name][i], name


def test_reward_formula():
    p = RewardParams(scale=2.0, inventory_penalty=0.1, terminal_penalty=1.0, dampening=0.5)
    r, c = step_reward(10.0, 4.0, 3.0, False, 50.0, p)
    assert c == {
        "pnl": 10.0,
        "inventory_pnl": 4.0,
        "dampening": 2.0,
        "inventory_penalty": pytest.approx(0.9),
        "terminal_penalty": 0.0,
        "utility": 0.0,
    }
    assert r == pytest.approx(2.0 * (10.0 - 2.0 - 0.9))
    r, c = step_reward(10.0, -4.0, -3.0, True, 50.0, p)  # losses are not dampened
    assert c["dampening"] == 0.0 and c["terminal_penalty"] == pytest.approx(9.0)
    assert r == pytest.approx(2.0 * (10.0 - 0.9 - 9.0))


def test_cara_utility():
    assert cara_utility(0.0, 0.1) == 0.0
    assert cara_utility(1e-6, 1e-3) == pytest.approx(1e-6, rel=1e-3)  # ~ W for small gamma
    assert cara_utility(10.0, 0.1) == pytest.approx((1 - np.exp(-1.0)) / 0.1)
    assert np.isfinite(cara_utility(-1e9, 1.0))  # capped exponent
    assert cara_utility(5.0, 0.5) > cara_utility(4.0, 0.5)
    u = cara_utility(np.array([-1.0, 0.0, 1.0]), 0.2)
    assert u.shape == (3,) and u[0] < 0.0 < u[2]
    p = RewardParams(cara=True, cara_gamma=0.2, inventory_penalty=0.01)
    r, c = step_reward(3.0, 1.0, 2.0, False, 7.0, p)
    assert c["utility"] == 0.0 and r == pytest.approx(-0.04)
    r, c = step_reward(3.0, 1.0, 2.0, True, 7.0, p)
    assert c["utility"] == pytest.approx(cara_utility(7.0, 0.2))
