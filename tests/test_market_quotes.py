"""Quote placement: queue keeping, post-only, tie-break, seat fairness, input checks."""

from __future__ import annotations

import numpy as np
import pytest

from mm_gym.config import MarketConfig, with_overrides
from mm_gym.market import MarketSimulator, book
from mm_gym.market.kernels import place_quotes
from mm_gym.market.state import (
    A_INV,
    A_VOLUME,
    F_MID,
    I_BASE,
    I_BEST_ASK,
    I_BEST_BID,
    I_T,
    O_AHEAD,
    O_SEQ,
    O_SIZE,
    O_TICK,
    allocate,
)

L, BASE = 64, 1000


def book_with_depth():
    s = allocate(1, L)
    s.is_[0, I_BASE] = BASE
    s.is_[0, I_BEST_BID] = -1
    s.is_[0, I_BEST_ASK] = L
    for j in range(5):
        book.rest_background(s, 0, 0, BASE + 29 - j, 4)
        book.rest_background(s, 0, 1, BASE + 31 + j, 4)
    s.fs[0, F_MID] = BASE + 30.0
    return s


def place(s, maker, bid_off, ask_off, bid_size=1, ask_size=1, limit=20):
    place_quotes(s, 0, maker, bid_off, ask_off, bid_size, ask_size, limit)


def test_prices_are_floor_and_ceil_of_the_offsets():
    s = book_with_depth()
    s.fs[0, F_MID] = BASE + 30.5
    place(s, 0, 1.2, 2.2)
    assert s.orders[0, 0, 0, O_TICK] == BASE + 29  # floor(30.5 - 1.2)
    assert s.orders[0, 0, 1, O_TICK] == BASE + 33  # ceil(30.5 + 2.2)


def test_unchanged_price_keeps_queue_position_and_a_new_price_rejoins_at_the_back():
    s = book_with_depth()
    place(s, 0, 1.0, 1.0, 2, 2)
    seq, ahead = s.orders[0, 0, 0, O_SEQ], s.orders[0, 0, 0, O_AHEAD]
    book.rest_background(s, 0, 0, BASE + 29, 3)  # arrives behind
    place(s, 0, 1.0, 1.0, 2, 2)
    assert (s.orders[0, 0, 0, O_SEQ], s.orders[0, 0, 0, O_AHEAD]) == (seq, ahead)
    place(s, 0, 1.0, 1.0, 1, 2)  # a smaller size keeps the place too
    assert s.orders[0, 0, 0, O_SEQ] == seq and s.orders[0, 0, 0, O_SIZE] == 1
    place(s, 0, 1.0, 1.0, 2, 2)  # a larger size re-joins at the back
    assert s.orders[0, 0, 0, O_SEQ] > seq and s.orders[0, 0, 0, O_AHEAD] == 7
    place(s, 0, 2.0, 1.0, 2, 2)  # a new price re-joins at the back
    assert s.orders[0, 0, 0, O_TICK] == BASE + 28 and s.orders[0, 0, 0, O_AHEAD] == 4


def test_post_only_against_background_and_the_other_maker():
    s = book_with_depth()
    place(s, 0, -5.0, -0.5)  # bid through the mid: clamped one tick below the best ask (31)
    assert s.orders[0, 0, 0, O_TICK] == BASE + 30
    assert s.orders[0, 0, 1, O_TICK] == BASE + 31  # ceil(30 - 0.5) = 30 meets the bid: steps up
    s.is_[0, I_T] = 0
    place(s, 0, -5.0, -5.0)  # both through the mid: both clamped to 30, then the bid steps away
    assert (s.orders[0, 0, 0, O_TICK], s.orders[0, 0, 1, O_TICK]) == (BASE + 29, BASE + 30)
    place(s, 1, -3.0, 0.5)
    assert s.orders[0, 1, 0, O_TICK] < s.orders[0, 0, 1, O_TICK]


def test_zero_offsets_at_a_whole_tick_mid_step_away_the_exposure_side():
    s = book_with_depth()
    s.is_[0, I_T] = 0
    place(s, 0, 0.0, 0.0)  # flat, even step: the bid steps down
    assert (s.orders[0, 0, 0, O_TICK], s.orders[0, 0, 1, O_TICK]) == (BASE + 29, BASE + 30)
    s.is_[0, I_T] = 1
    place(s, 0, 0.0, 0.0)  # flat, odd step: the ask steps up
    assert (s.orders[0, 0, 0, O_TICK], s.orders[0, 0, 1, O_TICK]) == (BASE + 30, BASE + 31)
    s.acct[0, 0, A_INV] = 3
    place(s, 0, 0.0, 0.0)  # long: keep the ask at the mid, the bid steps away
    assert (s.orders[0, 0, 0, O_TICK], s.orders[0, 0, 1, O_TICK]) == (BASE + 29, BASE + 30)
    place(s, 0, 0.0, 0.4)  # the larger offset steps away
    assert (s.orders[0, 0, 0, O_TICK], s.orders[0, 0, 1, O_TICK]) == (BASE + 30, BASE + 31)


def test_symmetric_zero_offsets_do_not_drift_inventory():
    sim = MarketSimulator(MarketConfig(), 128)
    sim.reset(0)
    q = sim.quotes_buffer()
    q[:, 0] = [0.0, 0.0, 1, 1]
    for _ in range(300):
        sim.step(q)
    assert abs(sim.inventory[:, 0].mean()) < 2.0


def test_seats_are_treated_alike():
    cfg = with_overrides(MarketConfig(), {"flow.shock_rate": 0.0})
    sim = MarketSimulator(cfg, 128, builtin_rival=False)
    sim.reset(0)
    q = sim.quotes_buffer()
    q[:, :] = [1.0, 1.0, 1, 1]
    for _ in range(500):
        sim.step(q)
    v = sim.state.acct[:, :, A_VOLUME].sum(axis=0)
    assert abs(v[0] - v[1]) / v.sum() < 0.03, v


def test_quotes_rest_inside_the_whole_book(make_sim):
    sim = make_sim(16, builtin_rival=False)
    q = sim.quotes_buffer()
    q[:, 0] = [-5.0, -5.0, 1, 1]
    q[:, 1] = [0.0, 0.0, 1, 1]
    st = sim.state
    for _ in range(300):
        sim.step(q)
        for m in range(16):
            b = book.best_tick(st, m, 0, -1)
            a = book.best_tick(st, m, 1, -1)
            assert b < a


@pytest.mark.parametrize(
    ("quotes", "match"),
    [
        (np.zeros((2, 2, 4)), "shape"),
        (np.zeros((1, 2, 4), np.float32), "float64"),
        (np.full((1, 2, 4), np.nan), "not finite"),
        (np.array([[[1.0, 1.0, -1.0, 1.0], [1.0, 1.0, 1.0, 1.0]]]), ">= 0"),
    ],
)
def test_step_rejects_bad_quotes(quotes, match):
    sim = MarketSimulator(MarketConfig(), 1)
    sim.reset(0)
    with pytest.raises(ValueError, match=match):
        sim.step(quotes)


def test_reset_rejects_bad_seeds():
    sim = MarketSimulator(MarketConfig(), 2)
    for bad in (-1, 1.5, "a", np.array([1, -2])):
        with pytest.raises(ValueError, match="seeds"):
            sim.reset(bad)


def test_book_levels_outside_the_window_are_empty():
    cfg = with_overrides(MarketConfig(), {"n_levels": 64})
    sim = MarketSimulator(cfg, 1)
    sim.reset(0)
    bt, bl, at, al = sim.book_levels(0, depth=60)
    base = sim.state.is_[0, I_BASE]
    assert (bl[bt < base] == 0).all() and (al[at >= base + 64] == 0).all()
