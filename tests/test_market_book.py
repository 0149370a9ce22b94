"""The level book: one test per operation, and Hypothesis stateful invariants."""

from __future__ import annotations

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from mm_gym.config import MarketConfig
from mm_gym.market import book
from mm_gym.market.params import pack_params
from mm_gym.market.state import (
    A_CASH,
    A_INV,
    I_ASK_LOTS,
    I_BASE,
    I_BEST_ASK,
    I_BEST_BID,
    I_BID_LOTS,
    O_AHEAD,
    O_SIZE,
    O_TICK,
    allocate,
)

L = 64
BASE = 1000


def empty_book():
    st_ = allocate(1, L)
    st_.is_[0, I_BASE] = BASE
    st_.is_[0, I_BEST_BID] = -1
    st_.is_[0, I_BEST_ASK] = L
    st_.fs[0, 1] = BASE + L / 2  # mid
    return st_, pack_params(MarketConfig())


def execute(s, P, side, size, limit=None):
    if limit is None:
        limit = book.NONE_HIGH - 1 if side > 0 else book.NONE_LOW + 1
    return book.execute(s, P, 0, side, size, limit, 0, True)


def test_rest_background_updates_best_price():
    s, _ = empty_book()
    assert book.rest_background(s, 0, 0, BASE + 10, 3)
    assert book.rest_background(s, 0, 0, BASE + 12, 2)
    assert book.rest_background(s, 0, 1, BASE + 20, 4)
    assert book.best_tick(s, 0, 0, -1) == BASE + 12
    assert book.best_tick(s, 0, 1, -1) == BASE + 20
    assert not book.rest_background(s, 0, 0, BASE + L + 5, 1)  # outside the window


def test_join_sits_behind_resting_volume():
    s, _ = empty_book()
    book.rest_background(s, 0, 1, BASE + 20, 5)
    book.join(s, 0, 0, 1, BASE + 20, 2)
    assert s.orders[0, 0, 1, O_AHEAD] == 5
    book.rest_background(s, 0, 1, BASE + 20, 3)  # arrives behind the maker
    assert s.orders[0, 0, 1, O_AHEAD] == 5


def test_market_order_fills_in_queue_order_with_partial_fill():
    s, P = empty_book()
    book.rest_background(s, 0, 1, BASE + 20, 5)
    book.join(s, 0, 0, 1, BASE + 20, 2)
    book.rest_background(s, 0, 1, BASE + 20, 3)
    assert execute(s, P, +1, 4) == 4  # only background ahead is consumed
    assert s.orders[0, 0, 1, O_SIZE] == 2
    assert s.orders[0, 0, 1, O_AHEAD] == 1
    assert execute(s, P, +1, 2) == 2  # 1 ahead, then 1 of the maker's 2 (partial)
    assert s.orders[0, 0, 1, O_SIZE] == 1
    assert s.acct[0, 0, A_INV] == -1
    assert execute(s, P, +1, 2) == 2  # the maker's last lot, then background behind it
    assert s.orders[0, 0, 1, O_SIZE] == 0
    assert s.ask_vol[0, 20] == 2


def test_two_makers_at_one_price_ordered_by_join_time():
    s, P = empty_book()
    book.join(s, 0, 1, 0, BASE + 10, 1)  # mm2 first
    book.join(s, 0, 0, 0, BASE + 10, 1)
    assert execute(s, P, -1, 1) == 1
    assert s.acct[0, 1, A_INV] == 1 and s.acct[0, 0, A_INV] == 0


def test_market_order_walks_levels_and_respects_limit():
    s, P = empty_book()
    book.rest_background(s, 0, 1, BASE + 20, 2)
    book.rest_background(s, 0, 1, BASE + 22, 2)
    assert execute(s, P, +1, 3, limit=BASE + 21) == 2  # stops at the limit
    assert book.best_tick(s, 0, 1, -1) == BASE + 22
    assert execute(s, P, +1, 5) == 2  # the book runs dry
    assert book.best_tick(s, 0, 1, -1) == book.NONE_HIGH


def test_cancel_ahead_moves_maker_forward():
    s, _ = empty_book()
    book.rest_background(s, 0, 0, BASE + 10, 4)
    book.join(s, 0, 0, 0, BASE + 10, 1)
    book.rest_background(s, 0, 0, BASE + 10, 4)
    book.cancel_background_lot(s, 0, 0, 0)  # lot 0: ahead
    assert s.orders[0, 0, 0, O_AHEAD] == 3
    book.cancel_background_lot(s, 0, 0, 6)  # lot 6: behind
    assert s.orders[0, 0, 0, O_AHEAD] == 3
    assert s.bid_vol[0, 10] == 6


def test_cancel_last_lot_at_best_rescans():
    s, _ = empty_book()
    book.rest_background(s, 0, 1, BASE + 20, 1)
    book.rest_background(s, 0, 1, BASE + 25, 1)
    book.cancel_background_lot(s, 0, 1, 0)
    assert book.best_tick(s, 0, 1, -1) == BASE + 25


def test_shift_window_keeps_prices_and_drops_far_volume():
    s, _ = empty_book()
    book.rest_background(s, 0, 0, BASE + 2, 3)
    book.rest_background(s, 0, 0, BASE + 30, 1)
    book.join(s, 0, 0, 0, BASE + 3, 1)
    book.shift_window(s, 0, 5)
    assert s.is_[0, I_BASE] == BASE + 5
    assert book.best_tick(s, 0, 0, 0) == BASE + 30
    assert s.bid_vol[0].sum() == 1
    assert s.orders[0, 0, 0, O_SIZE] == 0  # fell outside the window: cancelled


class BookMachine(RuleBasedStateMachine):
    """Random operations on one market's book; invariants after each."""

    def __init__(self) -> None:
        super().__init__()
        self.s, self.P = empty_book()
        self.arrived = 0
        self.cancelled = 0
        self.executed = 0
        self.maker_lots_joined = 0

    def _best(self, side: int) -> int:
        return book.best_tick(self.s, 0, side, -1)

    @rule(side=st.integers(0, 1), tick=st.integers(BASE + 1, BASE + L - 2), size=st.integers(1, 5))
    def limit_order(self, side: int, tick: int, size: int) -> None:
        s = self.s
        if side == 0 and tick >= self._best(1):
            size -= self._execute(+1, size, tick)
        if side == 1 and tick <= self._best(0):
            size -= self._execute(-1, size, tick)
        if size > 0:
            book.rest_background(s, 0, side, tick, size)
            self.arrived += size

    @rule(side=st.integers(0, 1), frac=st.floats(0, 0.999))
    def cancel(self, side: int, frac: float) -> None:
        vol = self.s.bid_vol if side == 0 else self.s.ask_vol
        total = int(vol.sum())
        if total:
            book.cancel_background_lot(self.s, 0, side, int(frac * total))
            self.cancelled += 1

    @rule(
        maker=st.integers(0, 1),
        side=st.integers(0, 1),
        dist=st.integers(0, 5),
        size=st.integers(1, 3),
    )
    def maker_join(self, maker: int, side: int, dist: int, size: int) -> None:
        s = self.s
        # cancel/replace: the old order leaves first, the new one is post-only against the rest
        self.maker_lots_joined -= s.orders[0, maker, side, O_SIZE]
        s.orders[0, maker, side, O_SIZE] = 0
        if side == 0:
            opp = book.best_tick(s, 0, 1, -1)
            tick = (opp - 1 - dist) if opp != book.NONE_HIGH else BASE + 20 - dist
            own_ask = s.orders[0, maker, 1]
            if own_ask[O_SIZE] > 0:
                tick = min(tick, own_ask[O_TICK] - 1)
        else:
            opp = book.best_tick(s, 0, 0, -1)
            tick = (opp + 1 + dist) if opp != book.NONE_LOW else BASE + 40 + dist
            own_bid = s.orders[0, maker, 0]
            if own_bid[O_SIZE] > 0:
                tick = max(tick, own_bid[O_TICK] + 1)
        if not BASE <= tick < BASE + L:
            return
        book.join(s, 0, maker, side, tick, size)
        self.maker_lots_joined += size

    @rule(side=st.sampled_from([-1, 1]), size=st.integers(1, 12))
    def market_order(self, side: int, size: int) -> None:
        self._execute(side, size, None)

    def _execute(self, side: int, size: int, limit: int | None) -> int:
        s = self.s
        before_bg = int(s.bid_vol.sum() + s.ask_vol.sum())
        before_mk = int(s.orders[0, :, :, O_SIZE].sum())
        filled = execute(s, self.P, side, size, limit)
        after_bg = int(s.bid_vol.sum() + s.ask_vol.sum())
        after_mk = int(s.orders[0, :, :, O_SIZE].sum())
        assert filled == (before_bg - after_bg) + (before_mk - after_mk)
        self.executed += before_bg - after_bg
        self.maker_lots_joined -= before_mk - after_mk
        return filled

    @invariant()
    def never_crossed(self) -> None:
        b, a = self._best(0), self._best(1)
        if b != book.NONE_LOW and a != book.NONE_HIGH:
            assert b < a

    @invariant()
    def quantities_conserved(self) -> None:
        s = self.s
        assert (
            int(s.bid_vol.sum() + s.ask_vol.sum()) == self.arrived - self.cancelled - self.executed
        )
        assert int(s.orders[0, :, :, O_SIZE].sum()) == self.maker_lots_joined

    @invariant()
    def sizes_non_negative_and_queue_positions_valid(self) -> None:
        s = self.s
        assert (s.bid_vol >= 0).all() and (s.ask_vol >= 0).all()
        assert (s.orders[0, :, :, O_SIZE] >= 0).all()
        for k in range(2):
            for side in range(2):
                o = s.orders[0, k, side]
                if o[O_SIZE] > 0:
                    vol = s.bid_vol if side == 0 else s.ask_vol
                    assert 0 <= o[O_AHEAD] <= vol[0, o[O_TICK] - BASE]

    @invariant()
    def cached_best_matches_scan(self) -> None:
        s = self.s
        nz_b = np.nonzero(s.bid_vol[0])[0]
        nz_a = np.nonzero(s.ask_vol[0])[0]
        assert s.is_[0, I_BEST_BID] == (nz_b.max() if nz_b.size else -1)
        assert s.is_[0, I_BEST_ASK] == (nz_a.min() if nz_a.size else L)
        assert s.is_[0, I_BID_LOTS] == s.bid_vol[0].sum()
        assert s.is_[0, I_ASK_LOTS] == s.ask_vol[0].sum()

    @invariant()
    def cash_and_inventory_sum_to_zero(self) -> None:
        s = self.s
        assert abs(s.acct[0, :, A_INV].sum() + s.others[0, 1]) < 1e-9
        assert abs(s.acct[0, :, A_CASH].sum() + s.others[0, 0] + s.others[0, 2]) < 1e-6


BookMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestBookStateful = BookMachine.TestCase


def test_fifo_maker_fill_equals_volume_past_its_queue_position():
    # A maker with `ahead` lots in front fills exactly max(0, min(size, order - ahead)).
    for ahead in range(0, 6):
        for order in range(1, 10):
            s, P = empty_book()
            book.rest_background(s, 0, 1, BASE + 20, ahead)
            book.join(s, 0, 0, 1, BASE + 20, 3)
            book.rest_background(s, 0, 1, BASE + 20, 10)
            execute(s, P, +1, order)
            assert -s.acct[0, 0, A_INV] == max(0, min(3, order - ahead))
