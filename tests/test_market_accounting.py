"""Accounting: conservation per fill, spread capture, PnL identity, inventory limits."""

from __future__ import annotations

import numpy as np
import pytest

from mm_gym.config import MarketConfig, with_overrides
from mm_gym.market import book
from mm_gym.market.makers import position_update
from mm_gym.market.params import pack_params
from mm_gym.market.state import (
    A_CASH,
    A_FEES,
    A_INV,
    I_BASE,
    I_BEST_ASK,
    I_BEST_BID,
    X_CASH,
    X_EXCHANGE,
    X_INV,
    allocate,
)


def _quotes(sim, off=1.0, size=1):
    q = sim.quotes_buffer()
    q[:, 0] = [off, off, size, size]
    q[:, 1] = [off + 1, off + 1, size, size]
    return q


MODELS = [MarketConfig(price_formation="legacy"), MarketConfig()]  # legacy and "book" (default)


@pytest.mark.parametrize("config", MODELS, ids=["legacy", "book"])
def test_cash_and_inventory_sum_to_zero_over_all_participants(make_sim, config):
    sim = make_sim(8, config, builtin_rival=False, record=True)
    q = _quotes(sim)
    for _ in range(300):
        cash0 = sim.cash.sum(axis=1) + sim.state.others[:, X_CASH] + sim.state.others[:, X_EXCHANGE]
        sim.step(q)
        cash1 = sim.cash.sum(axis=1) + sim.state.others[:, X_CASH] + sim.state.others[:, X_EXCHANGE]
        np.testing.assert_allclose(cash1, cash0, atol=1e-6)
        np.testing.assert_array_equal(sim.inventory.sum(axis=1) + sim.state.others[:, X_INV], 0.0)
    assert sim.state.acct[:, :, 6].sum() > 50  # fills did happen


@pytest.mark.parametrize("config", MODELS, ids=["legacy", "book"])
def test_total_equals_realized_plus_unrealized_plus_fees(make_sim, config):
    sim = make_sim(8, config, builtin_rival=False)
    q = _quotes(sim, off=0.5)
    for _ in range(500):
        sim.step(q)
        np.testing.assert_allclose(
            sim.total_pnl, sim.realized + sim.unrealized + sim.fees, atol=1e-6
        )
    assert np.abs(sim.realized).sum() > 0


def test_buy_at_bid_then_sell_at_ask_earns_the_spread():
    L, base = 64, 1000
    s = allocate(1, L)
    s.is_[0, I_BASE] = base
    s.is_[0, I_BEST_BID] = -1
    s.is_[0, I_BEST_ASK] = L
    cfg = MarketConfig()
    p = pack_params(cfg)
    book.join(s, 0, 0, 0, base + 10, 1)
    book.join(s, 0, 0, 1, base + 13, 1)
    assert book.execute(s, p, 0, -1, 1, book.NONE_LOW + 1, 0, False) == 1
    assert book.execute(s, p, 0, +1, 1, book.NONE_HIGH - 1, 0, False) == 1
    value = cfg.tick_size * cfg.lot_size
    assert s.acct[0, 0, A_INV] == 0
    assert s.acct[0, 0, A_FEES] == 2 * cfg.makers.maker_rebate
    assert abs(s.acct[0, 0, A_CASH] - (3 * value + 2 * cfg.makers.maker_rebate)) < 1e-9


def test_position_update_average_cost():
    inv, avg, r = position_update(0.0, 0.0, 2.0, 100.0)
    assert (inv, avg, r) == (2.0, 100.0, 0.0)
    inv, avg, r = position_update(inv, avg, 2.0, 102.0)
    assert (inv, avg, r) == (4.0, 101.0, 0.0)
    inv, avg, r = position_update(inv, avg, -1.0, 105.0)  # partial close keeps the cost
    assert (inv, avg, r) == (3.0, 101.0, 4.0)
    inv, avg, r = position_update(inv, avg, -5.0, 99.0)  # flip: new short opened at 99
    assert (inv, avg, r) == (-2.0, 99.0, -6.0)
    inv, avg, r = position_update(inv, avg, 2.0, 98.0)
    assert (inv, avg, r) == (0.0, 0.0, 2.0)


def test_inventory_limit_blocks_only_the_side_adding_exposure(make_sim):
    cfg = with_overrides(MarketConfig(), {"makers.mm1_limit": 3})
    sim = make_sim(4, config=cfg)
    q = sim.quotes_buffer()
    q[:, 0] = [0.0, 30.0, 5, 1]  # bid aggressively, ask far away: inventory builds up
    for _ in range(400):
        sim.step(q)
        assert (sim.inventory[:, 0] <= 3).all()
    assert (sim.inventory[:, 0] == 3).any()
    at_limit = sim.inventory[:, 0] == 3
    assert (sim.state.orders[at_limit, 0, 0, 1] == 0).all()  # no bid rests at +limit
    assert (sim.state.orders[at_limit, 0, 1, 1] > 0).any()  # the ask still may


def test_post_only_quotes_never_cross(make_sim):
    sim = make_sim(8, builtin_rival=False)
    q = sim.quotes_buffer()
    q[:, 0] = [-5.0, -5.0, 1, 1]  # offsets through the mid: must be clamped inside the book
    q[:, 1] = [0.0, 0.0, 1, 1]
    for _ in range(300):
        sim.step(q)
        o = sim.state.orders
        bid = np.where(o[:, :, 0, 1] > 0, o[:, :, 0, 0], -(10**9)).max(axis=1)
        ask = np.where(o[:, :, 1, 1] > 0, o[:, :, 1, 0], 10**9).min(axis=1)
        assert (bid < ask).all()
