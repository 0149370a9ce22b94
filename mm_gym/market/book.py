"""A level book on an integer tick grid with the two makers' orders at exact queue positions.

Each market keeps background (non-maker) volume per tick in a window of ``n_levels`` ticks
(``bid_vol``, ``ask_vol``; window index ``i`` is tick ``base + i``). Background volume at a tick is
one FIFO queue; a maker's order at that tick sits at a queue position given by ``O_AHEAD``, the
background lots ahead of it, and, between the two makers at one tick, by join sequence ``O_SEQ``.

Queue-position model (explicit, as in hftbacktest's terms a "no-partial-cancel-ahead-risk-free"
FIFO model with random cancellation):
- a maker's order joins behind all volume resting at its price (``ahead = background lots there``);
- background lots arriving later rest behind it;
- a market order consumes a level strictly in queue order: background lots ahead of the first
  maker order, that order, background lots between, the second order, the rest;
- a cancelled background lot is drawn uniformly from the level's background lots, so it is ahead of
  a maker order with probability ``ahead / volume`` (then ``ahead`` falls by one).

The book never rests crossed: background limit orders that would cross execute first (up to their
limit price) and rest only the remainder; makers' quotes are post-only (clamped to one tick inside
the opposite best).
"""

from __future__ import annotations

import numba as nb

from mm_gym.market.makers import background_fill, maker_fill
from mm_gym.market.params import MarketParams
from mm_gym.market.state import (
    I_ASK_LOTS,
    I_BASE,
    I_BEST_ASK,
    I_BEST_BID,
    I_BG_CANCELLED,
    I_BG_EXECUTED,
    I_BID_LOTS,
    I_SEQ,
    O_AHEAD,
    O_SEQ,
    O_SIZE,
    O_TICK,
    MarketState,
)

NONE_HIGH = 1 << 62  # "no ask": above every tick
NONE_LOW = -(1 << 62)  # "no bid": below every tick


# Argument convention (see kernels.py): every helper takes the whole ``MarketState`` ``s``, then
# the ``MarketParams`` ``p`` if it reads any, then the market index ``m``, then its own arguments.
# The helpers are inlined into ``step_one``, which runs without numba's reference counting, so
# reading an array out of ``s`` costs nothing.


@nb.njit(cache=True, inline="always")
def rescan_bid(s: MarketState, m: int) -> None:
    """Move the cached best background bid down to the highest non-empty index (-1 if none)."""
    bid_vol, is_ = s.bid_vol, s.is_
    i = min(is_[m, I_BEST_BID], bid_vol.shape[1] - 1)
    while i >= 0 and bid_vol[m, i] == 0:
        i -= 1
    is_[m, I_BEST_BID] = i


@nb.njit(cache=True, inline="always")
def rescan_ask(s: MarketState, m: int) -> None:
    """Move the cached best background ask up to the lowest non-empty index (n_levels if none)."""
    ask_vol, is_ = s.ask_vol, s.is_
    n = ask_vol.shape[1]
    i = max(is_[m, I_BEST_ASK], 0)
    while i < n and ask_vol[m, i] == 0:
        i += 1
    is_[m, I_BEST_ASK] = i


@nb.njit(cache=True, inline="always")
def full_rescan(s: MarketState, m: int) -> None:
    """Recompute both cached best indices and side totals from scratch."""
    bid_vol, ask_vol, is_ = s.bid_vol, s.ask_vol, s.is_
    is_[m, I_BID_LOTS] = bid_vol[m].sum()
    is_[m, I_ASK_LOTS] = ask_vol[m].sum()
    is_[m, I_BEST_BID] = bid_vol.shape[1] - 1
    rescan_bid(s, m)
    is_[m, I_BEST_ASK] = 0
    rescan_ask(s, m)


@nb.njit(cache=True, inline="always")
def best_tick(s: MarketState, m: int, side: int, exclude: int) -> int:
    """Best price on ``side`` (0 bids, 1 asks) including the makers' orders but ``exclude``'s.

    ``exclude`` is a maker index whose orders are ignored, or -1. Returns :data:`NONE_LOW` /
    :data:`NONE_HIGH` when the side is empty.
    """
    is_, orders, n_levels = s.is_, s.orders, s.bid_vol.shape[1]
    base = is_[m, I_BASE]
    if side == 0:
        i = is_[m, I_BEST_BID]
        best = base + i if i >= 0 else NONE_LOW
        for k in range(2):
            if k != exclude and orders[m, k, 0, O_SIZE] > 0 and orders[m, k, 0, O_TICK] > best:
                best = orders[m, k, 0, O_TICK]
    else:
        i = is_[m, I_BEST_ASK]
        best = base + i if i < n_levels else NONE_HIGH
        for k in range(2):
            if k != exclude and orders[m, k, 1, O_SIZE] > 0 and orders[m, k, 1, O_TICK] < best:
                best = orders[m, k, 1, O_TICK]
    return best


@nb.njit(cache=True, inline="always")
def background_lots_at(s: MarketState, m: int, side: int, tick: int) -> int:
    """Background lots resting at ``tick`` on ``side`` (0 bids, 1 asks); 0 outside the window."""
    vol = s.bid_vol if side == 0 else s.ask_vol
    i = tick - s.is_[m, I_BASE]
    return vol[m, i] if 0 <= i < vol.shape[1] else 0


@nb.njit(cache=True, inline="always")
def level_lots(s: MarketState, m: int, side: int, tick: int) -> int:
    """All lots resting at ``tick`` on ``side``: background plus makers."""
    orders = s.orders
    total = background_lots_at(s, m, side, tick)
    for k in range(2):
        if orders[m, k, side, O_SIZE] > 0 and orders[m, k, side, O_TICK] == tick:
            total += orders[m, k, side, O_SIZE]
    return total


@nb.njit(cache=True, inline="always")
def rest_background(s: MarketState, m: int, side: int, tick: int, size: int) -> bool:
    """Rest ``size`` background lots at ``tick`` behind the queue; False if outside the window."""
    is_ = s.is_
    vol = s.bid_vol if side == 0 else s.ask_vol
    i = tick - is_[m, I_BASE]
    n = vol.shape[1]
    if i < 0 or i >= n:
        return False
    vol[m, i] += size
    is_[m, I_BID_LOTS if side == 0 else I_ASK_LOTS] += size
    if side == 0:
        if i > is_[m, I_BEST_BID]:
            is_[m, I_BEST_BID] = i
    elif i < is_[m, I_BEST_ASK]:
        is_[m, I_BEST_ASK] = i
    return True


@nb.njit(cache=True, inline="always")
def _rescan(s: MarketState, m: int, side: int) -> None:
    if side == 0:
        rescan_bid(s, m)
    else:
        rescan_ask(s, m)


@nb.njit(cache=True, inline="always")
def cancel_background_lot(s: MarketState, m: int, side: int, u: int) -> None:
    """Cancel the ``u``-th background lot of ``side``, counted from the best price outward.

    Within its level the lot's position is uniform, so a maker order there loses one lot ahead
    exactly when the cancelled lot was ahead of it.
    """
    is_, orders = s.is_, s.orders
    vol = s.bid_vol if side == 0 else s.ask_vol
    n = vol.shape[1]
    if side == 0:
        i = is_[m, I_BEST_BID]
        step = -1
    else:
        i = is_[m, I_BEST_ASK]
        step = 1
    while 0 <= i < n:
        v = vol[m, i]
        if u < v:
            tick = is_[m, I_BASE] + i
            for k in range(2):
                if orders[m, k, side, O_SIZE] > 0 and orders[m, k, side, O_TICK] == tick:
                    if u < orders[m, k, side, O_AHEAD]:
                        orders[m, k, side, O_AHEAD] -= 1
            vol[m, i] = v - 1
            is_[m, I_BG_CANCELLED] += 1
            is_[m, I_BID_LOTS if side == 0 else I_ASK_LOTS] -= 1
            if v == 1 and i == (is_[m, I_BEST_BID] if side == 0 else is_[m, I_BEST_ASK]):
                _rescan(s, m, side)
            return
        u -= v
        i += step


@nb.njit(cache=True, inline="always")
def join(s: MarketState, m: int, maker: int, side: int, tick: int, size: int) -> None:
    """Place a maker order at the back of the queue at ``tick`` (replacing any previous one)."""
    is_ = s.is_
    o = s.orders[m, maker, side]
    o[O_TICK] = tick
    o[O_SIZE] = size
    o[O_AHEAD] = background_lots_at(s, m, side, tick)
    o[O_SEQ] = is_[m, I_SEQ]
    is_[m, I_SEQ] += 1


@nb.njit(cache=True, inline="always")
def _consume_level(
    s: MarketState,
    p: MarketParams,
    m: int,
    side_rest: int,
    tick: int,
    size: int,
    kind: int,
    record: bool,
) -> int:
    """Fill up to ``size`` lots at ``tick`` in queue order; return the lots filled."""
    is_, orders = s.is_, s.orders
    vol = s.bid_vol if side_rest == 0 else s.ask_vol
    i = tick - is_[m, I_BASE]
    in_window = 0 <= i < vol.shape[1]
    v = vol[m, i] if in_window else 0
    # the makers at this tick, in queue order (ahead, then join sequence)
    q0 = -1
    q1 = -1
    for k in range(2):
        if orders[m, k, side_rest, O_SIZE] > 0 and orders[m, k, side_rest, O_TICK] == tick:
            if q0 < 0:
                q0 = k
            else:
                q1 = k
    if q1 >= 0:
        a0 = orders[m, q0, side_rest, O_AHEAD]
        a1 = orders[m, q1, side_rest, O_AHEAD]
        if a1 < a0 or (
            a1 == a0 and orders[m, q1, side_rest, O_SEQ] < orders[m, q0, side_rest, O_SEQ]
        ):
            q0, q1 = q1, q0
    remaining = size
    taken_bg = 0
    for j in range(2):
        k = q0 if j == 0 else q1
        if k < 0 or remaining == 0:
            break
        take = min(remaining, orders[m, k, side_rest, O_AHEAD] - taken_bg)
        if take > 0:
            taken_bg += take
            remaining -= take
        if remaining == 0:
            break
        f = min(remaining, orders[m, k, side_rest, O_SIZE])
        maker_fill(s, p, m, k, side_rest, tick, f, kind, record)
        orders[m, k, side_rest, O_SIZE] -= f
        remaining -= f
    if remaining > 0:
        take = min(remaining, v - taken_bg)
        taken_bg += take
        remaining -= take
    if taken_bg > 0:
        vol[m, i] = v - taken_bg
        is_[m, I_BG_EXECUTED] += taken_bg
        is_[m, I_BID_LOTS if side_rest == 0 else I_ASK_LOTS] -= taken_bg
        background_fill(s, p, m, taken_bg)
        for k in range(2):
            if orders[m, k, side_rest, O_SIZE] > 0 and orders[m, k, side_rest, O_TICK] == tick:
                orders[m, k, side_rest, O_AHEAD] = max(
                    0, orders[m, k, side_rest, O_AHEAD] - taken_bg
                )
        if vol[m, i] == 0:
            _rescan(s, m, side_rest)
    return size - remaining


@nb.njit(cache=True, inline="always")
def execute(
    s: MarketState,
    p: MarketParams,
    m: int,
    aggressor_side: int,
    size: int,
    limit_tick: int,
    kind: int,
    record: bool,
) -> int:
    """Walk the book with an order of ``size`` lots (side +1 buy, -1 sell) up to ``limit_tick``.

    Price-time priority: best price first, queue order within a price; each maker fill is
    accounted (:func:`mm_gym.market.makers.maker_fill`). Returns lots filled; the rest finds no
    liquidity within the limit.
    """
    side_rest = 1 if aggressor_side > 0 else 0  # a buy takes the asks
    remaining = size
    while remaining > 0:
        tick = best_tick(s, m, side_rest, -1)
        if aggressor_side > 0:
            if tick == NONE_HIGH or tick > limit_tick:
                break
        elif tick == NONE_LOW or tick < limit_tick:
            break
        remaining -= _consume_level(s, p, m, side_rest, tick, remaining, kind, record)
    return size - remaining


@nb.njit(cache=True, inline="always")
def shift_window(s: MarketState, m: int, shift: int) -> None:
    """Move the price window up by ``shift`` ticks (down if negative).

    Background lots that fall off the window's far end are counted as cancelled; a maker order
    outside the new window is cancelled.
    """
    bid_vol, ask_vol, is_, orders = s.bid_vol, s.ask_vol, s.is_, s.orders
    n = bid_vol.shape[1]
    if shift == 0:
        return
    dropped = 0
    if shift > 0:
        for i in range(min(shift, n)):
            dropped += bid_vol[m, i] + ask_vol[m, i]
        for i in range(n):
            j = i + shift
            bid_vol[m, i] = bid_vol[m, j] if j < n else 0
            ask_vol[m, i] = ask_vol[m, j] if j < n else 0
    else:
        down = -shift
        for i in range(max(0, n - down), n):
            dropped += bid_vol[m, i] + ask_vol[m, i]
        for i in range(n - 1, -1, -1):
            j = i - down
            bid_vol[m, i] = bid_vol[m, j] if j >= 0 else 0
            ask_vol[m, i] = ask_vol[m, j] if j >= 0 else 0
    is_[m, I_BG_CANCELLED] += dropped
    is_[m, I_BASE] += shift
    base = is_[m, I_BASE]
    for k in range(2):
        for side in range(2):
            t = orders[m, k, side, O_TICK] - base
            if orders[m, k, side, O_SIZE] > 0 and (t < 0 or t >= n):
                orders[m, k, side, O_SIZE] = 0
    full_rescan(s, m)
