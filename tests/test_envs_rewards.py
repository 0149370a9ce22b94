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
    upfront=st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(
    params=params_strategy,
    rows=st.lists(
        st.tuples(
            finite,
            finite,
            st.integers(-50, 50),
            st.booleans(),
            finite,
            st.integers(-50, 50),
            st.integers(0, 1000),
        ),
        min_size=1,
        max_size=8,
    ),
)
def test_float_and_array_rewards_agree_bit_for_bit(params, rows):
    pnl, ipnl, inv, term, wealth, prev, left = (np.array(c) for c in zip(*rows, strict=True))
    inv, prev = inv.astype(np.float64), prev.astype(np.float64)
    reward, comps = step_reward(pnl, ipnl, inv, term, wealth, params, (prev, left))
    for i, (p, ip, q, t, w, q0, n_left) in enumerate(rows):
        r1, c1 = step_reward(p, ip, float(q), t, w, params, (float(q0), n_left))
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


def test_upfront_penalties_are_paid_when_the_inventory_changes():
    p = RewardParams(inventory_penalty=0.1, terminal_penalty=1.0, upfront=True)
    # From 2 to 3 lots with 9 steps left after this one: (0.1 * 10 + 1) * (9 - 4).
    r, c = step_reward(10.0, 0.0, 3.0, False, 0.0, p, (2.0, 9))
    assert c["inventory_penalty"] == pytest.approx(0.1 * 10 * 5)
    assert c["terminal_penalty"] == pytest.approx(5.0)
    assert r == pytest.approx(10.0 - 10.0)
    r, c = step_reward(0.0, 0.0, 3.0, False, 0.0, p, (3.0, 9))  # holding costs nothing more
    assert r == 0.0
    r, c = step_reward(0.0, 0.0, 1.0, False, 0.0, p, (3.0, 4))  # unwinding earns it back
    assert r == pytest.approx((0.1 * 5 + 1.0) * 8)
    # An early end (a drawdown breach) with 4 steps left: the 4 steps' running penalty on the
    # 3 lots held before it is handed back; this step's own running and terminal penalties
    # on 1 lot are paid.
    r, c = step_reward(0.0, 0.0, 1.0, True, 0.0, p, (3.0, 4))
    assert c["inventory_penalty"] == pytest.approx(0.1 * (1 - 5 * 9))
    assert r == pytest.approx(-(0.1 * (1 - 45) + 1.0 * (1 - 9)))


def test_upfront_without_the_state_before_the_step_is_refused():
    with pytest.raises(ValueError, match="before"):
        step_reward(0.0, 0.0, 1.0, False, 0.0, RewardParams(upfront=True))


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


def test_params_pickled_before_the_penalty_timing_field_unpickle_with_its_default(monkeypatch):
    """A run checkpointed before ``upfront`` existed resumes (its pickled params have 6 fields)."""
    import pickle

    params = RewardParams(2.0, 0.1, 0.2, 0.3, False, 0.05, upfront=True)
    assert pickle.loads(pickle.dumps(params)) == params
    six_fields = [2.0, 0.1, 0.2, 0.3, False, 0.05]
    monkeypatch.setattr(RewardParams, "__getstate__", lambda self: six_fields)
    old = pickle.dumps(params)
    monkeypatch.undo()
    restored = pickle.loads(old)
    assert restored == RewardParams(2.0, 0.1, 0.2, 0.3, False, 0.05, upfront=False)
    assert step_reward(1.0, 0.0, 3.0, 0.0, 0.0, restored)[0] == pytest.approx(2.0 * (1.0 - 0.9))
