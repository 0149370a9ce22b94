"""Order routing and arbitrage between the venues of one asset (:mod:`mm_gym.multivenue`).

Routing: a venue's takers may not trade through the other venues' best prices (order protection,
``MarketSimulator.set_protection``); their lots beyond them wait in ``I_ROUTED_*`` and
:func:`route` sends them to the venues with the best prices (:func:`route_pair`).

Arbitrage:

The venues of one asset are separate simulators whose markets share the asset's exogenous
streams (:data:`mm_gym.market.rng.SHARED_STREAMS`) but not their order flow, so their prices
drift apart; arbitrageurs keep them aligned. After every venue has stepped, :func:`arbitrage_pair`
takes each crossed pair of books: while venue ``a``'s best bid (makers included) exceeds venue
``b``'s best ask by more than the two taker fees in ticks, it sells the smaller of the two touch
quantities on ``a`` (limit: that bid) and buys the same on ``b`` (limit: that ask), both as
:data:`~mm_gym.market.state.KIND_ARBITRAGE` market orders, then the other direction. A maker's
stale quote through another venue's price is what gets taken first. Taking liquidity only lowers
bids and raises asks, so one pass over the venue pairs leaves no pair crossed.

Each market touched gets its last return (``rets[m, 0]``, the step's mid change) and its
features rewritten; the volatility and flow estimates see the arbitrage move from the next step
on. Compiled without numba's runtime like the step (:mod:`mm_gym.market.kernels`).
"""

from __future__ import annotations

from typing import Any

import numba as nb
import numpy as np

from mm_gym.market.book import NONE_HIGH, NONE_LOW, best_tick, level_lots
from mm_gym.market.flow import market_order
from mm_gym.market.kernels import NO_RUNTIME, write_features
from mm_gym.market.params import MarketParams
from mm_gym.market.state import (
    F_MID,
    F_PREV_MID,
    F_ROUTE_BUY_LIMIT,
    F_ROUTE_SELL_LIMIT,
    I_ROUTED_BUY,
    I_ROUTED_SELL,
    KIND_ARBITRAGE,
    KIND_ROUTED,
    MarketState,
)

MAX_ROUNDS = 64  # touch levels taken per direction and market in one pass (a bound, not a model)
ROUTE_ROUNDS = 8  # routing passes over the venue pairs per step (each takes the best level)


@nb.njit(cache=True, inline="always")
def _take(
    sa: MarketState,
    pa: MarketParams,
    sb: MarketState,
    pb: MarketParams,
    m: int,
    fee_ticks: float,
    record: bool,
) -> int:
    """Sell on ``a`` and buy on ``b`` while ``a``'s bid is through ``b``'s ask; returns lots."""
    lots = 0
    for _ in range(MAX_ROUNDS):
        bid = best_tick(sa, m, 0, -1)
        ask = best_tick(sb, m, 1, -1)
        if bid == NONE_LOW or ask == NONE_HIGH or bid - ask <= fee_ticks:
            break
        size = min(level_lots(sa, m, 0, bid), level_lots(sb, m, 1, ask))
        sold = market_order(sa, pa, m, -1, size, bid, KIND_ARBITRAGE, record)
        bought = market_order(sb, pb, m, 1, size, ask, KIND_ARBITRAGE, record)
        lots += sold + bought
        if sold == 0 and bought == 0:
            break
    return lots


@nb.njit(cache=True, inline="always")
def _refresh(s: MarketState, p: MarketParams, m: int) -> None:
    """Make market ``m``'s last return and features include the arbitrage move."""
    s.rets[m, 0] = s.fs[m, F_MID] - s.fs[m, F_PREV_MID]
    write_features(s, p, m)


@nb.njit(cache=True, **NO_RUNTIME)  # no reference counting: see mm_gym.market.kernels
def route_pair(
    sa: MarketState,
    pa: MarketParams,
    sb: MarketState,
    pb: MarketParams,
    best_bid: np.ndarray,
    best_ask: np.ndarray,
    active: np.ndarray,
    record: bool,
    lots: np.ndarray,
) -> None:
    """Send venue ``a``'s routed-away lots to venue ``b`` at the best price over the venues.

    A buy executes on ``b`` at prices up to the lower of its taker's limit and ``best_ask[m]``
    (the best ask over all venues this round), a sell down to the higher of its limit and
    ``best_bid[m]``: the lots go to the venue with the best price, as a smart order router sends
    them, as :data:`~mm_gym.market.state.KIND_ROUTED` market orders.

    Args:
        sa: The routing venue's state (its ``I_ROUTED_*`` lots fall by what executes).
        pa: Its parameters.
        sb: The venue receiving the lots.
        pb: Its parameters.
        best_bid: ``(n,)`` int64 best bid over the venues, ticks (``NONE_LOW``: none).
        best_ask: ``(n,)`` int64 best ask over the venues, ticks (``NONE_HIGH``: none).
        active: ``(n,)`` bool, the markets to route.
        record: Record the orders and fills.
        lots: ``(n,)`` int64, incremented by the lots executed.
    """
    for m in range(sa.fs.shape[0]):
        if not active[m]:
            continue
        got = 0
        buy = sa.is_[m, I_ROUTED_BUY]
        if buy > 0 and best_ask[m] != NONE_HIGH:
            lim = min(int(sa.fs[m, F_ROUTE_BUY_LIMIT]), best_ask[m])
            n = market_order(sb, pb, m, 1, buy, lim, KIND_ROUTED, record)
            sa.is_[m, I_ROUTED_BUY] = buy - n
            got += n
        sell = sa.is_[m, I_ROUTED_SELL]
        if sell > 0 and best_bid[m] != NONE_LOW:
            lim = max(int(sa.fs[m, F_ROUTE_SELL_LIMIT]), best_bid[m])
            n = market_order(sb, pb, m, -1, sell, lim, KIND_ROUTED, record)
            sa.is_[m, I_ROUTED_SELL] = sell - n
            got += n
        if got > 0:
            _refresh(sb, pb, m)
            lots[m] += got


@nb.njit(cache=True, **NO_RUNTIME)  # no reference counting: see mm_gym.market.kernels
def arbitrage_pair(
    sa: MarketState,
    pa: MarketParams,
    sb: MarketState,
    pb: MarketParams,
    fee_ticks: float,
    active: np.ndarray,
    record: bool,
    lots: np.ndarray,
) -> None:
    """Uncross venues ``a`` and ``b`` of every market with ``active[m]``.

    Args:
        sa: Venue ``a``'s state.
        pa: Venue ``a``'s parameters.
        sb: Venue ``b``'s state (the same ``n`` markets, the same tick grid).
        pb: Venue ``b``'s parameters.
        fee_ticks: The sum of the two venues' taker fees per lot, in ticks: a crossing must
            exceed it to be taken.
        active: ``(n,)`` bool, the markets to uncross.
        record: Record the orders and fills (``mos``, ``fills``) as the step does.
        lots: ``(n,)`` int64, incremented by the lots the arbitrageurs traded (both legs).
    """
    for m in range(sa.fs.shape[0]):
        if not active[m]:
            continue
        n = _take(sa, pa, sb, pb, m, fee_ticks, record)
        n += _take(sb, pb, sa, pa, m, fee_ticks, record)
        if n > 0:
            _refresh(sa, pa, m)
            _refresh(sb, pb, m)
            lots[m] += n


def uncross(sims: list[Any], active: np.ndarray | None = None) -> np.ndarray:
    """Take every crossed pair among the venues ``sims`` (:func:`arbitrage_pair`, pair by pair).

    Args:
        sims: The venues' :class:`~mm_gym.market.MarketSimulator` (the same ``n`` markets, the
            same tick grid), in venue order.
        active: ``(n,)`` bool, the markets to uncross (default all).

    Returns:
        ``(n,)`` int64 lots the arbitrageurs traded (both legs counted).
    """
    n = sims[0].n_markets
    act = np.ones(n, np.bool_) if active is None else np.ascontiguousarray(active, np.bool_)
    lots = np.zeros(n, np.int64)
    for i, a in enumerate(sims):
        for b in sims[i + 1 :]:
            fee = (a.params.taker_fee + b.params.taker_fee) / a.params.value_per_tick_lot
            record = np.bool_(a.record or b.record)
            arbitrage_pair(a.state, a.params, b.state, b.params, fee, act, record, lots)
    return lots


def _bests(sims: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """``(n,)`` int64 best bid and ask over the venues (``NONE_LOW`` / ``NONE_HIGH``: none)."""
    bid = np.fmax.reduce([s.book.best_bid for s in sims])
    ask = np.fmin.reduce([s.book.best_ask for s in sims])
    bid = np.where(np.isnan(bid), NONE_LOW, bid).astype(np.int64)
    ask = np.where(np.isnan(ask), NONE_HIGH, ask).astype(np.int64)
    return bid, ask


def route(sims: list[Any], active: np.ndarray | None = None) -> np.ndarray:
    """Route every venue's routed-away lots to the venues with the best prices (:func:`route_pair`).

    Rounds over the ordered venue pairs, each round at that round's best prices over the venues;
    a market stops when it has no lots left, after a round that executed none of its lots, or
    after :data:`ROUTE_ROUNDS`. Lots left then (no venue within the taker's limit) expire and
    stay counted in the routing venue's ``routed_*_lots``. Each market stops on its own, so its
    routing (orders, fills, unfilled lots) is the same whatever else is in the batch.

    Returns:
        ``(n,)`` int64 lots executed on another venue.
    """
    n = sims[0].n_markets
    act = np.ones(n, np.bool_) if active is None else np.ascontiguousarray(active, np.bool_)
    lots = np.zeros(n, np.int64)
    for _ in range(ROUTE_ROUNDS):
        left = sum(s.scalars.routed_buy_lots + s.scalars.routed_sell_lots for s in sims)
        act = act & (left > 0)  # a new array: the caller's ``active`` is never written
        if not act.any():
            break
        before = lots.copy()
        best_bid, best_ask = _bests(sims)
        for a in sims:
            for b in sims:
                if a is not b:
                    rec = np.bool_(a.record or b.record)
                    route_pair(
                        a.state, a.params, b.state, b.params, best_bid, best_ask, act, rec, lots
                    )
        # A round that executed none of a market's lots leaves its state as it was: every later
        # round would only repeat the attempts (and their unfilled lots) for it.
        act = act & (lots > before)
    return lots
