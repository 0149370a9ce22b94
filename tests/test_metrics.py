from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mm_gym.metrics import (
    ConfidenceInterval,
    FillRecord,
    average_cost_pnl,
    bootstrap_ci,
    bootstrap_means,
    bootstrap_weights,
    episode_metrics,
    equity_curve,
    fill_rate,
    inventory_stats,
    market_impact_from_sums,
    market_impact_stats,
    max_drawdown,
    paired_diff_ci,
    pnl_attribution,
    pnl_attribution_from_steps,
    quoted_spread,
    sharpe,
    unrealized_pnl,
    var_es,
)


def _fills(step, side, price, size, fee=None, mid=None) -> FillRecord:
    return FillRecord(
        step=np.asarray(step),
        side=np.asarray(side),
        price=np.asarray(price, dtype=float),
        size=np.asarray(size, dtype=float),
        fee=np.zeros(0) if fee is None else np.asarray(fee, dtype=float),
        mid=None if mid is None else np.asarray(mid, dtype=float),
    )


def _inventory_from(fills: FillRecord, n_steps: int, q0: float = 0.0) -> np.ndarray:
    dq = np.bincount(fills.step, weights=fills.signed_size, minlength=n_steps)
    return q0 + np.cumsum(dq)


def _cash_oracle_total(mid, inventory, fills, q0, lot_size) -> float:
    """Total PnL from a plain loop over the cash account, independent of the module."""
    cash = 0.0
    for side, price, size, fee in zip(
        fills.side.tolist(),
        fills.price.tolist(),
        fills.size.tolist(),
        fills.fee.tolist(),
        strict=True,
    ):
        cash += -side * size * lot_size * price + fee
    return cash + lot_size * (inventory[-1] * mid[-1] - q0 * mid[0])


# --------------------------------------------------------------------------- attribution, by hand


def test_round_trip_spread_capture_is_two():
    mid = [100.0, 100.0, 100.0]
    fills = _fills(step=[0, 1], side=[1, -1], price=[99.0, 101.0], size=[1, 1])
    att = pnl_attribution(mid, [1, 0], fills)
    assert att.spread_capture == pytest.approx(2.0)
    assert att.inventory_pnl == pytest.approx(0.0)
    assert att.fees == 0.0
    assert att.total == pytest.approx(2.0)


def test_round_trip_with_rebates_and_lot_size():
    mid = [100.0, 100.0, 100.0]
    fills = _fills(
        step=[0, 1], side=[1, -1], price=[99.0, 101.0], size=[3, 3], fee=[0.2 * 3, 0.2 * 3]
    )
    att = pnl_attribution(mid, [3, 0], fills, lot_size=10.0)
    assert att.spread_capture == pytest.approx(2.0 * 3 * 10)
    assert att.fees == pytest.approx(1.2)
    assert att.total == pytest.approx(61.2)


def test_sell_edge_is_price_minus_mid():
    fills = _fills(step=[0], side=[-1], price=[100.5], size=[2])
    att = pnl_attribution([100.0, 100.0], [-2], fills)
    assert att.spread_capture == pytest.approx(1.0)
    assert att.total == pytest.approx(1.0)


def test_inventory_carry_is_lagged_inventory_times_mid_change():
    # Bought 1 at 99 in step 0 (close 100); then the mid goes 100 -> 102 -> 101 while holding 1.
    mid = [100.0, 100.0, 102.0, 101.0]
    fills = _fills(step=[0], side=[1], price=[99.0], size=[1])
    att = pnl_attribution(mid, [1, 1, 1], fills)
    assert att.spread_capture == pytest.approx(1.0)
    assert att.inventory_carry == pytest.approx(2.0 - 1.0)
    assert att.inventory_pnl == pytest.approx(1.0)
    assert att.total == pytest.approx(-99.0 + 101.0)


def test_fill_mid_moves_adverse_move_into_inventory_pnl():
    # Bid at 99 hit while the mid is 100; the order's impact leaves the step's close at 99.5.
    fills = _fills(step=[0], side=[1], price=[99.0], size=[1], mid=[100.0])
    att = pnl_attribution([100.0, 99.5], [1], fills)
    assert att.spread_capture == pytest.approx(1.0)
    assert att.inventory_carry == pytest.approx(0.0)
    assert att.inventory_pnl == pytest.approx(-0.5)
    assert att.total == pytest.approx(0.5)
    # Without the fill mid, the edge is measured against the close instead.
    att_close = pnl_attribution([100.0, 99.5], [1], _fills([0], [1], [99.0], [1]))
    assert att_close.spread_capture == pytest.approx(0.5)
    assert att_close.total == pytest.approx(0.5)


def test_initial_inventory_is_marked_from_mid_zero():
    att = pnl_attribution([100.0, 101.0, 103.0], [2, 2], FillRecord.empty(), initial_inventory=2)
    assert att.inventory_pnl == pytest.approx(6.0)
    assert att.total == pytest.approx(6.0)
    ac = average_cost_pnl([100.0, 101.0, 103.0], FillRecord.empty(), initial_inventory=2)
    np.testing.assert_allclose(ac.avg_cost, [100.0, 100.0])
    np.testing.assert_allclose(ac.unrealized, [2.0, 6.0])
    np.testing.assert_allclose(ac.realized, [0.0, 0.0])


def test_fills_accepted_as_dataframe():
    df = pd.DataFrame(
        {"step": [0, 1], "side": [1, -1], "price": [99.0, 101.0], "size": [1, 1], "fee": [0.1, 0.1]}
    )
    att = pnl_attribution([100.0, 100.0, 100.0], [1, 0], df)
    assert att.total == pytest.approx(2.2)


def test_equity_curve_by_hand():
    mid = [100.0, 100.0, 102.0, 101.0]
    fills = _fills(step=[0, 2], side=[1, -1], price=[99.0, 101.5], size=[1, 1], fee=[0.1, 0.1])
    eq = equity_curve(mid, [1, 1, 0], fills)
    # step 0: cash -99 + 0.1, holds 1 at 100; step 1: at 102; step 2: sold at 101.5.
    np.testing.assert_allclose(eq, [0.0, 1.1, 3.1, 2.7])


# --------------------------------------------------------------------------- average cost, by hand


def test_average_cost_walk_by_hand():
    mid = [100.0, 100.0, 100.0, 100.0, 97.0]
    fills = _fills(
        step=[0, 1, 2, 3], side=[1, 1, -1, -1], price=[99.0, 101.0, 102.0, 98.0], size=[2, 2, 3, 2]
    )
    ac = average_cost_pnl(mid, fills)
    np.testing.assert_allclose(ac.inventory, [2, 4, 1, -1])
    # 2@99 + 2@101 -> 100; selling 3 keeps 100; selling 2 against 1 long flips to short at 98.
    np.testing.assert_allclose(ac.avg_cost, [99.0, 100.0, 100.0, 98.0])
    np.testing.assert_allclose(ac.realized, [0.0, 0.0, 6.0, 4.0])
    np.testing.assert_allclose(ac.unrealized, [2.0, 0.0, 0.0, 1.0])
    np.testing.assert_allclose(ac.total, [2.0, 0.0, 6.0, 5.0])
    att = pnl_attribution(mid, ac.inventory, fills)
    assert att.total == pytest.approx(5.0)


def test_average_cost_is_nan_when_flat_and_unrealized_zero():
    fills = _fills(step=[0, 1], side=[1, -1], price=[99.0, 101.0], size=[1, 1])
    ac = average_cost_pnl([100.0, 100.0, 100.0], fills, lot_size=2.0)
    assert math.isnan(ac.avg_cost[1])
    assert ac.unrealized[1] == 0.0
    assert ac.realized[1] == pytest.approx(4.0)


def test_unrealized_pnl_rejects_nan_cost_with_open_inventory():
    assert unrealized_pnl(2.0, 101.0, 100.0, lot_size=3.0) == pytest.approx(6.0)
    with pytest.raises(ValueError, match="avg_cost is NaN"):
        unrealized_pnl([1.0], [100.0], [np.nan])


# --------------------------------------------------------------------------- attribution identity


@st.composite
def _episodes(draw):
    n_steps = draw(st.integers(1, 40))
    lot_size = draw(st.sampled_from([1.0, 0.01, 100.0]))
    q0 = float(draw(st.integers(-5, 5)))
    moves = draw(st.lists(st.integers(-3, 3), min_size=n_steps, max_size=n_steps))
    mid = 100.0 + 0.01 * np.cumsum([0, *moves])
    n_fills = draw(st.integers(0, 30))

    def col(strategy):
        return draw(st.lists(strategy, min_size=n_fills, max_size=n_fills))

    step = np.sort(np.asarray(col(st.integers(0, n_steps - 1)), dtype=np.int64))
    side = np.asarray(col(st.sampled_from([-1, 1])), dtype=np.int64)
    size = np.asarray(col(st.integers(1, 5)), dtype=float)
    price = mid[step] + 0.01 * np.asarray(col(st.integers(-5, 5)), dtype=float)
    fee = np.asarray(col(st.floats(-1.0, 1.0)), dtype=float)
    fill_mid = None
    if draw(st.booleans()):
        fill_mid = mid[step] + 0.01 * np.asarray(col(st.integers(-2, 2)), dtype=float)
    fills = FillRecord(step=step, side=side, price=price, size=size, fee=fee, mid=fill_mid)
    return mid, _inventory_from(fills, n_steps, q0), fills, q0, lot_size


def _check_identities(mid, inventory, fills, q0, lot_size):
    att = pnl_attribution(mid, inventory, fills, initial_inventory=q0, lot_size=lot_size)
    gross = lot_size * (
        float(np.sum(fills.size * fills.price)) + float(np.max(np.abs(inventory))) * max(mid)
    )
    tol = 1e-9 * max(1.0, gross + abs(q0) * lot_size * mid[0])
    oracle = _cash_oracle_total(mid, inventory, fills, q0, lot_size)
    assert att.total == pytest.approx(oracle, abs=tol)
    assert att.spread_capture + att.inventory_pnl + att.fees == pytest.approx(att.total, abs=tol)
    eq = equity_curve(mid, inventory, fills, initial_inventory=q0, lot_size=lot_size)
    assert eq[-1] == pytest.approx(att.total, abs=tol)
    ac = average_cost_pnl(mid, fills, initial_inventory=q0, lot_size=lot_size)
    np.testing.assert_allclose(ac.inventory, inventory, atol=1e-9)
    np.testing.assert_allclose(ac.total, eq[1:], rtol=0, atol=tol)
    np.testing.assert_allclose(ac.realized + ac.unrealized + ac.fees, ac.total, atol=tol)


@settings(max_examples=150, deadline=None)
@given(_episodes())
def test_attribution_parts_sum_to_total_property(episode):
    _check_identities(*episode)


def test_attribution_parts_sum_to_total_random_float_sizes():
    rng = np.random.default_rng(12345)
    for _ in range(50):
        n_steps = int(rng.integers(1, 300))
        mid = 100.0 + np.cumsum(np.r_[0.0, rng.normal(0, 0.05, n_steps)])
        n_fills = int(rng.integers(0, 200))
        step = np.sort(rng.integers(0, n_steps, n_fills))
        side = rng.choice([-1, 1], n_fills)
        fills = FillRecord(
            step=step,
            side=side,
            price=mid[step] - side * rng.uniform(0, 0.1, n_fills),
            size=rng.uniform(0.1, 10.0, n_fills),
            fee=rng.normal(0, 0.05, n_fills),
            mid=mid[step] + rng.normal(0, 0.02, n_fills),
        )
        q0 = float(rng.normal(0, 3))
        inv = _inventory_from(fills, n_steps, q0)
        _check_identities(mid, inv, fills, q0, float(rng.choice([1.0, 0.5, 25.0])))


# --------------------------------------------------------------------------- risk and return


def test_max_drawdown_known_series():
    assert max_drawdown([0.0, 3.0, 1.0, 4.0, -2.0, 5.0, 2.0]) == pytest.approx(6.0)
    assert max_drawdown([0.0, -1.0, -3.0]) == pytest.approx(3.0)
    assert max_drawdown([0.0, 1.0, 2.0]) == 0.0
    batch = max_drawdown(np.array([[0.0, 3.0, 1.0], [0.0, 1.0, 2.0]]))
    np.testing.assert_allclose(batch, [2.0, 0.0])


def test_var_es_known_sample():
    pnl = -np.arange(1.0, 101.0)  # losses 1 .. 100
    np.random.default_rng(0).shuffle(pnl)
    var, es = var_es(pnl, level=0.95)
    # 5 tail observations (100 x 0.05 must give 5 despite float rounding): 96 .. 100.
    assert var == pytest.approx(96.0)
    assert es == pytest.approx(98.0)
    var99, es99 = var_es(pnl, level=0.99)
    assert (var99, es99) == (pytest.approx(100.0), pytest.approx(100.0))


def test_var_es_batched_and_gains_are_negative():
    pnl = np.array([[1.0, 2.0, 3.0, 4.0], [-4.0, -1.0, 0.0, 2.0]])
    var, es = var_es(pnl, level=0.5)  # k = 2
    np.testing.assert_allclose(var, [-2.0, 1.0])
    np.testing.assert_allclose(es, [-1.5, 2.5])


def test_sharpe_known_value_and_scalings():
    x = [1.0, -1.0, 1.0, 3.0]  # mean 1, sample std sqrt(8/3)
    assert sharpe(x) == pytest.approx(1.0 / math.sqrt(8 / 3) * 2.0)
    assert sharpe(x, periods_per_year=252) == pytest.approx(1.0 / math.sqrt(8 / 3) * math.sqrt(252))
    batch = sharpe(np.array([x, [-v for v in x]]))
    np.testing.assert_allclose(batch, [math.sqrt(1.5), -math.sqrt(1.5)])


def test_sharpe_zero_std_is_zero():
    assert sharpe(np.zeros(10)) == 0.0
    assert sharpe([0.1] * 100) == 0.0  # rounding leaves std ~3e-17: still constant
    np.testing.assert_array_equal(
        sharpe(np.array([[2.0, 2.0, 2.0], [1.0, 2.0, 3.0]])), [0.0, 2 * math.sqrt(3)]
    )


# --------------------------------------------------------------------------- inventory and quoting


def test_inventory_stats_by_hand():
    s = inventory_stats([0, 2, -3, 5, 5], limit=5)
    assert s["mean_inventory"] == pytest.approx(1.8)
    assert s["mean_abs_inventory"] == pytest.approx(3.0)
    assert s["inventory_variance"] == pytest.approx(12.6 - 1.8**2)
    assert s["max_abs_inventory"] == pytest.approx(5.0)
    assert s["frac_at_limit"] == pytest.approx(0.4)


def test_fill_rate_and_quoted_spread():
    assert fill_rate(5, 10) == pytest.approx(0.5)
    np.testing.assert_allclose(fill_rate([0, 4], 8), [0.0, 0.5])
    assert quoted_spread([99.0, 98.0, np.nan], [101.0, 103.0, 102.0]) == pytest.approx(3.5)
    assert math.isnan(quoted_spread([np.nan], [100.0]))
    np.testing.assert_allclose(
        quoted_spread([[1.0, 2.0], [0.0, 0.0]], [[2.0, 4.0], [1.0, 1.0]]), [1.5, 1.0]
    )


def test_market_impact_slope_on_linear_relation():
    rng = np.random.default_rng(7)
    n = 400
    size = rng.integers(1, 21, n).astype(float)
    side = rng.choice([-1.0, 1.0], n)
    pre = 100.0 + rng.normal(0, 1, n)
    impact = 0.002 + 0.01 * size
    s = market_impact_stats(size, side, pre, pre + side * impact)
    assert s["impact_slope"] == pytest.approx(0.01, rel=1e-9)
    assert s["impact_intercept"] == pytest.approx(0.002, abs=1e-9)
    assert s["mean_impact"] == pytest.approx(np.mean(impact))
    assert s["impact_per_lot"] == pytest.approx(impact.sum() / size.sum())
    assert s["n_orders"] == n
    noisy = market_impact_stats(size, side, pre, pre + side * (impact + rng.normal(0, 0.01, n)))
    assert noisy["impact_slope"] == pytest.approx(0.01, abs=1e-3)


def test_market_impact_degenerate_cases():
    same = market_impact_stats([2.0, 2.0], [1, -1], [100.0, 100.0], [100.1, 99.9])
    assert math.isnan(same["impact_slope"])
    assert same["mean_impact"] == pytest.approx(0.1)
    empty = market_impact_stats([], [], [], [])
    assert empty["n_orders"] == 0.0
    assert math.isnan(empty["mean_impact"])


# --------------------------------------------------------------------------- episode summary


def test_episode_metrics_round_trip():
    fills = _fills(step=[0, 1], side=[1, -1], price=[99.0, 101.0], size=[1, 1])
    impact = {
        "size": [1.0, 3.0],
        "side": [1, -1],
        "pre_mid": [100.0, 100.0],
        "post_mid": [100.1, 99.7],
    }
    m = episode_metrics(
        [100.0, 100.0, 100.0],
        [1, 0],
        fills,
        inventory_limit=1,
        bid=[99.0, 99.0],
        ask=[101.0, 101.0],
        impact=impact,
    )
    assert m["total_pnl"] == pytest.approx(2.0)
    assert m["spread_capture"] == pytest.approx(2.0)
    assert m["realized_pnl"] == pytest.approx(2.0)
    assert m["unrealized_pnl"] == 0.0
    assert m["max_drawdown"] == 0.0
    assert m["n_fills"] == 2.0
    assert m["fill_rate"] == pytest.approx(1.0)
    assert m["frac_at_limit"] == pytest.approx(0.5)
    assert m["quoted_spread"] == pytest.approx(2.0)
    assert m["sharpe"] == 0.0  # step PnL [1, 1]: constant
    assert m["impact_slope"] == pytest.approx(0.1)
    assert all(isinstance(v, float) for v in m.values())


# --------------------------------------------------------------------------- bootstrap


def test_bootstrap_ci_covers_true_mean_on_seeded_sample():
    rng = np.random.default_rng(2024)
    x = rng.normal(1.0, 2.0, 500)
    ci = bootstrap_ci(x, rng=np.random.default_rng(1))
    assert isinstance(ci, ConfidenceInterval)
    assert ci.low < 1.0 < ci.high
    assert ci.estimate == pytest.approx(x.mean())
    # Width close to the normal-theory 2 x 1.96 x sigma / sqrt(n).
    assert ci.high - ci.low == pytest.approx(2 * 1.96 * 2.0 / math.sqrt(500), rel=0.15)
    assert bootstrap_ci(x, rng=5) == bootstrap_ci(x, rng=5)


def test_bootstrap_ci_coverage_near_nominal():
    rng = np.random.default_rng(99)
    hits = 0
    n_trials = 200
    for _ in range(n_trials):
        ci = bootstrap_ci(rng.exponential(1.0, 60), n_boot=500, level=0.9, rng=rng)
        hits += ci.low < 1.0 < ci.high
    # Nominal 0.90; binomial sd over 200 trials is ~0.02, the percentile bootstrap of a skewed
    # sample undercovers a little.
    assert 0.82 <= hits / n_trials <= 0.96


def test_paired_diff_ci_removes_shared_noise():
    rng = np.random.default_rng(3)
    base = rng.normal(0.0, 50.0, 300)  # shared market noise, far larger than the effect
    a = base + 0.5 + rng.normal(0, 0.2, 300)
    ci = paired_diff_ci(a, base, rng=0)
    assert ci.low > 0.0
    assert ci.low < 0.5 < ci.high
    assert ci.high - ci.low < 0.1


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: pnl_attribution([100.0, np.nan], [0], FillRecord.empty()), "mid must not contain"),
        (lambda: pnl_attribution([100.0, 100.0], [0, 0], FillRecord.empty()), "one value per step"),
        (lambda: pnl_attribution([100.0, 100.0], [1], FillRecord.empty()), "inconsistent"),
        (
            lambda: pnl_attribution([100.0, 100.0], [1], _fills([1], [1], [99.0], [1])),
            "< the number",
        ),
        (lambda: pnl_attribution([100.0, 100.0], [0], FillRecord.empty(), lot_size=0), "lot_size"),
        (lambda: _fills([0], [0], [99.0], [1]), "side must be"),
        (lambda: _fills([0], [1], [99.0], [-1]), "size must be > 0"),
        (lambda: _fills([1, 0], [1, 1], [99.0, 99.0], [1, 1]), "non-decreasing"),
        (lambda: _fills([0, 1], [1], [99.0, 99.0], [1, 1]), "same length"),
        (lambda: sharpe([1.0]), "at least 2"),
        (lambda: sharpe([1.0, 2.0], periods_per_year=0), "periods_per_year"),
        (lambda: sharpe(np.ones((2, 2, 2))), "1-D or 2-D"),
        (lambda: var_es([1.0, 2.0], level=1.0), "level"),
        (lambda: max_drawdown([0.0, np.inf]), "equity"),
        (lambda: inventory_stats([1.0], limit=0), "limit"),
        (lambda: fill_rate(1, 0), "n_steps"),
        (lambda: quoted_spread([1.0, 2.0], [2.0]), "same shape"),
        (lambda: market_impact_stats([1.0], [2], [100.0], [100.0]), "side"),
        (lambda: bootstrap_ci([1.0]), "at least 2"),
        (lambda: bootstrap_ci([1.0, 2.0], n_boot=0), "n_boot"),
        (lambda: paired_diff_ci([1.0, 2.0], [1.0, 2.0, 3.0]), "paired"),
        (lambda: pnl_attribution([100.0, 100.0], [0], {"step": [0]}), "missing"),
        (lambda: pnl_attribution([100.0, 100.0], [0], 3), "FillRecord"),
        (
            lambda: episode_metrics(
                [100.0, 100.0], [0], FillRecord.empty(), inventory_limit=1, bid=[99.0]
            ),
            "together",
        ),
    ],
)
def test_invalid_input_raises_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --------------------------------------------------------------------------- step aggregates


def _step_aggregates(fills: FillRecord, n_steps: int, lot_size: float):
    """Per-step trade cash, edge and fees of a fill record (what a simulator accumulates)."""
    assert fills.mid is not None
    d = fills.signed_size
    cash = np.bincount(fills.step, weights=-lot_size * d * fills.price, minlength=n_steps)
    edge = np.bincount(
        fills.step, weights=lot_size * d * (fills.mid - fills.price), minlength=n_steps
    )
    fee = np.bincount(fills.step, weights=fills.fee, minlength=n_steps)
    return cash, edge, fee


def test_attribution_from_steps_by_hand():
    # Step 0: bid 99 hit at fill mid 100, close 99.5 (adverse move). Step 1: ask 100.5 lifted at
    # fill mid 99.5, close 100. Rebate 0.1 per fill, lot size 2.
    mid = [100.0, 99.5, 100.0]
    att = pnl_attribution_from_steps(
        mid,
        [1, 0],
        trade_cash=[-2 * 99.0, 2 * 100.5],
        edge=[2 * 1.0, 2 * 1.0],
        fees=[0.1, 0.1],
        lot_size=2.0,
    )
    assert att["spread_capture"] == pytest.approx(4.0)
    assert att["fees"] == pytest.approx(0.2)
    assert att["inventory_carry"] == pytest.approx(2 * 1 * 0.5)  # held 1 from 99.5 to 100
    # intra-step: bought 1 at fill mid 100, close 99.5 (-1.0); sold 1 at 99.5, close 100 (-1.0)
    assert att["inventory_pnl"] == pytest.approx(1.0 - 1.0 - 1.0)
    assert att["total_pnl"] == pytest.approx(2 * (100.5 - 99.0) + 0.2)
    assert att["total_pnl"] == pytest.approx(
        att["spread_capture"] + att["inventory_pnl"] + att["fees"]
    )


@settings(max_examples=40, deadline=None)
@given(
    n_steps=st.integers(1, 12),
    n_fills=st.integers(0, 25),
    q0=st.integers(-3, 3),
    seed=st.integers(0, 2**31 - 1),
)
def test_attribution_from_steps_matches_fill_level(n_steps, n_fills, q0, seed):
    rng = np.random.default_rng(seed)
    step = np.sort(rng.integers(0, n_steps, n_fills))
    fills = _fills(
        step,
        rng.choice([-1, 1], n_fills),
        np.round(rng.uniform(98, 102, n_fills), 2),
        rng.integers(1, 5, n_fills),
        fee=rng.uniform(-0.5, 0.5, n_fills),
        mid=np.round(rng.uniform(98, 102, n_fills), 2),
    )
    mid = np.round(rng.uniform(98, 102, n_steps + 1), 2)
    inv = _inventory_from(fills, n_steps, q0)
    ref = pnl_attribution(mid, inv, fills, initial_inventory=q0, lot_size=3.0)
    cash, edge, fee = _step_aggregates(fills, n_steps, 3.0)
    got = pnl_attribution_from_steps(mid, inv, cash, edge, fee, initial_inventory=q0, lot_size=3.0)
    for key, value in ref.as_dict().items():
        assert got[key] == pytest.approx(value, abs=1e-9)
    # Batched (2-D) input gives the same numbers per row.
    batch = pnl_attribution_from_steps(
        np.stack([mid, mid]),
        np.stack([inv, inv]),
        np.stack([cash, cash]),
        np.stack([edge, edge]),
        np.stack([fee, fee]),
        initial_inventory=np.array([q0, q0]),
        lot_size=3.0,
    )
    for key, value in ref.as_dict().items():
        np.testing.assert_allclose(batch[key], [value, value], atol=1e-9)


def test_attribution_from_steps_rejects_bad_shapes():
    with pytest.raises(ValueError, match="edge must have shape"):
        pnl_attribution_from_steps([1.0, 2.0, 3.0], [0, 0], [0, 0], [0.0], [0, 0])
    with pytest.raises(ValueError, match="trade_cash must not contain"):
        pnl_attribution_from_steps([1.0, 2.0], [0], [np.nan], [0.0], [0.0])


def test_impact_from_sums_matches_order_level():
    rng = np.random.default_rng(3)
    size = rng.integers(1, 20, 200).astype(float)
    side = rng.choice([-1.0, 1.0], 200)
    pre = 100 + rng.normal(0, 0.1, 200)
    post = pre + side * (0.001 * size + rng.normal(0, 0.002, 200))
    ref = market_impact_stats(size, side, pre, post)
    imp = side * (post - pre)
    got = market_impact_from_sums(200, size.sum(), (size**2).sum(), imp.sum(), (size * imp).sum())
    for key, value in ref.items():
        assert got[key] == pytest.approx(value, rel=1e-9)
    assert got["impact_slope"] == pytest.approx(0.001, rel=0.2)


def test_impact_from_sums_degenerate_and_batched():
    got = market_impact_from_sums(
        np.array([0.0, 3.0]),
        np.array([0.0, 6.0]),
        np.array([0.0, 12.0]),
        np.array([0.0, 0.3]),
        np.array([0.0, 0.6]),
    )
    assert np.isnan(got["mean_impact"][0]) and np.isnan(got["impact_per_lot"][0])
    assert got["mean_impact"][1] == pytest.approx(0.1)
    assert got["impact_per_lot"][1] == pytest.approx(0.05)
    # All three orders had size 2: no slope.
    assert np.isnan(got["impact_slope"][1]) and np.isnan(got["impact_intercept"][1])
    with pytest.raises(ValueError, match="same shape"):
        market_impact_from_sums(np.zeros(2), np.zeros(3), np.zeros(2), np.zeros(2), np.zeros(2))


def test_bootstrap_means_equals_bootstrap_ci_per_column():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 2))
    est, low, high = bootstrap_means(x, n_boot=500, rng=7)
    for j in range(2):
        ref = bootstrap_ci(x[:, j], n_boot=500, rng=7)
        assert est[j] == pytest.approx(ref.estimate)
        assert low[j] == pytest.approx(ref.low, rel=1e-12)
        assert high[j] == pytest.approx(ref.high, rel=1e-12)


def test_bootstrap_weights_are_counts_and_shared_resamples_keep_pairs():
    w = bootstrap_weights(50, 40, rng=1)
    assert w.shape == (40, 50)
    assert (w.sum(axis=1) == 50).all() and (w == np.round(w)).all()
    a = np.arange(50.0)
    # A constant column (e.g. the paired difference of a policy and itself shifted by 3) has a
    # CI of zero width.
    _, low, high = bootstrap_means(np.stack([a, np.full(50, 3.0)], axis=1), weights=w)
    assert low[1] == high[1] == pytest.approx(3.0)
    ref = paired_diff_ci(a + 1.0, a, n_boot=40, rng=1)
    assert ref.low == ref.high == pytest.approx(1.0)
    with pytest.raises(ValueError, match="weights must have 49 columns"):
        bootstrap_means(np.zeros((49, 1)), weights=w)
    with pytest.raises(ValueError, match="at least 2 rows"):
        bootstrap_means(np.zeros((1, 3)))
