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

Joint warm-up: :func:`warm_up` runs the venues' whole warm-up at a reset in one compiled call
(:func:`warm_market` per market): each warm-up step is an episode's step without the makers,
with protection, routing and arbitrage on, through the same per-market bodies as the step
(``step_one``), :func:`route` and :func:`uncross` (``_route_one``, ``_uncross_one``).
"""

from __future__ import annotations

import math
from typing import Any

import numba as nb
import numpy as np

from mm_gym.market.book import NONE_HIGH, NONE_LOW, best_tick, level_lots
from mm_gym.market.flow import market_order
from mm_gym.market.kernels import NO_RUNTIME, start_episode, step_one, write_features
from mm_gym.market.params import MarketParams
from mm_gym.market.state import (
    F_MID,
    F_PREV_MID,
    F_PROTECT_ASK,
    F_PROTECT_BID,
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


@nb.njit(cache=True, inline="always")
def _route_one(
    sa: MarketState,
    pa: MarketParams,
    sb: MarketState,
    pb: MarketParams,
    m: int,
    best_bid: int,
    best_ask: int,
    record: bool,
) -> int:
    """Market ``m``'s part of :func:`route_pair`; returns the lots executed on ``b``."""
    got = 0
    buy = sa.is_[m, I_ROUTED_BUY]
    if buy > 0 and best_ask != NONE_HIGH:
        lim = min(int(sa.fs[m, F_ROUTE_BUY_LIMIT]), best_ask)
        n = market_order(sb, pb, m, 1, buy, lim, KIND_ROUTED, record)
        sa.is_[m, I_ROUTED_BUY] = buy - n
        got += n
    sell = sa.is_[m, I_ROUTED_SELL]
    if sell > 0 and best_bid != NONE_LOW:
        lim = max(int(sa.fs[m, F_ROUTE_SELL_LIMIT]), best_bid)
        n = market_order(sb, pb, m, -1, sell, lim, KIND_ROUTED, record)
        sa.is_[m, I_ROUTED_SELL] = sell - n
        got += n
    if got > 0:
        _refresh(sb, pb, m)
    return got


@nb.njit(cache=True, inline="always")
def _uncross_one(
    sa: MarketState,
    pa: MarketParams,
    sb: MarketState,
    pb: MarketParams,
    m: int,
    fee_ticks: float,
    record: bool,
) -> int:
    """Market ``m``'s part of :func:`arbitrage_pair`; returns the lots traded (both legs)."""
    n = _take(sa, pa, sb, pb, m, fee_ticks, record)
    n += _take(sb, pb, sa, pa, m, fee_ticks, record)
    if n > 0:
        _refresh(sa, pa, m)
        _refresh(sb, pb, m)
    return n


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
        if active[m]:
            lots[m] += _route_one(sa, pa, sb, pb, m, best_bid[m], best_ask[m], record)


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
        if active[m]:
            lots[m] += _uncross_one(sa, pa, sb, pb, m, fee_ticks, record)


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
            fee, record = _fee_ticks(a, b), np.bool_(a.record or b.record)
            arbitrage_pair(a.state, a.params, b.state, b.params, fee, act, record, lots)
    return lots


def _fee_ticks(a: Any, b: Any) -> float:
    """Venues ``a`` and ``b``'s taker fees per lot summed, in ticks: what a crossing must exceed."""
    return float((a.params.taker_fee + b.params.taker_fee) / a.params.value_per_tick_lot)


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


# ------------------------------------------------------------------ the joint warm-up
# The venues of one asset warm up together (mm_gym.multivenue.MultiVenueMarket.reset): each
# warm-up step is an episode's step without the makers, with order protection, routing and
# arbitrage on. One compiled call runs every step of every market; the bodies are those of the
# step (step_one, start_episode) and of route / uncross (_route_one, _uncross_one), per market.
# ``states`` and ``params`` are tuples of the venues' MarketState and MarketParams: every
# venue's are of one numba type (a homogeneous tuple), so ``states[v]`` takes a runtime ``v``.
# A tuple's length is part of its numba type, so :func:`warm_up` pads both to WARM_VENUES
# entries (repeating the last venue) and the kernels loop over the first ``n_venues`` only:
# one compiled warm-up serves every number of venues.
WARM_VENUES = 16
"""The venues one compiled warm-up takes (``mm_gym.multivenue.MAX_VENUES``, a test checks)."""


@nb.njit(cache=True, inline="always")
def _protect(states: tuple[MarketState, ...], n_venues: int, m: int) -> None:
    """Set market ``m``'s order protection on every venue: the other venues' best prices.

    As ``MultiVenueMarket.step`` sets them (makers' orders included; -inf / +inf where no other
    venue has that side).
    """
    for v in range(n_venues):
        bid = -math.inf
        ask = math.inf
        for u in range(n_venues):
            if u != v:
                b = best_tick(states[u], m, 0, -1)
                a = best_tick(states[u], m, 1, -1)
                if b != NONE_LOW:
                    bid = max(bid, float(b))
                if a != NONE_HIGH:
                    ask = min(ask, float(a))
        states[v].fs[m, F_PROTECT_BID] = bid
        states[v].fs[m, F_PROTECT_ASK] = ask


@nb.njit(cache=True, inline="always")
def _route_market(
    states: tuple[MarketState, ...],
    params: tuple[MarketParams, ...],
    m: int,
    records: np.ndarray,
) -> None:
    """:func:`route`'s rounds for market ``m``: the same rounds, best prices and stops."""
    n_venues = records.shape[0]
    for _ in range(ROUTE_ROUNDS):
        left = 0
        for v in range(n_venues):
            left += states[v].is_[m, I_ROUTED_BUY] + states[v].is_[m, I_ROUTED_SELL]
        if left <= 0:
            break
        best_bid = NONE_LOW
        best_ask = NONE_HIGH
        for v in range(n_venues):
            best_bid = max(best_bid, best_tick(states[v], m, 0, -1))
            best_ask = min(best_ask, best_tick(states[v], m, 1, -1))
        got = 0
        for a in range(n_venues):
            for b in range(n_venues):
                if a != b:
                    rec = records[a] or records[b]
                    sa, sb = states[a], states[b]
                    got += _route_one(sa, params[a], sb, params[b], m, best_bid, best_ask, rec)
        if got == 0:  # a round that executed none leaves the state as it was: stop
            break


@nb.njit(cache=True, **NO_RUNTIME)  # no reference counting: see mm_gym.market.kernels
def warm_market(
    states: tuple[MarketState, ...],
    params: tuple[MarketParams, ...],
    m: int,
    mask: np.ndarray,
    steps: int,
    fees: np.ndarray,
    records: np.ndarray,
    quotes: np.ndarray,
) -> None:
    """Warm market ``m`` up on every venue together, if ``mask[m]``, and start its episodes.

    Each of the ``steps`` steps: order protection from the other venues' best prices at the
    step's start (:func:`_protect`), each venue's warm-up step in venue order (``step_one``
    with the makers inactive), routing (:func:`route`'s rounds), then the arbitrage of each
    venue pair in order (:func:`uncross`); then each venue's ``start_episode``. A market not in
    ``mask`` only gets its protection set, from its books as they are (the next step sets it
    again), when ``steps > 0``: what the warm-up stepped venue by venue from Python did.
    ``fees[a, b]`` (``a < b``): the pair's fee in ticks (:func:`uncross`), ``(V, V)`` for the
    ``V`` venues (``states`` and ``params`` may be longer: padded, see :data:`WARM_VENUES`);
    ``records[v]``: whether venue ``v`` records; ``quotes``: a ``(n, 2, 4)`` float64 buffer
    (not read).
    """
    n_venues = fees.shape[0]
    if not mask[m]:
        if steps > 0:
            _protect(states, n_venues, m)
        return
    off = np.bool_(False)  # not a literal False: the same compiled step_one as the loops
    for _ in range(steps):
        _protect(states, n_venues, m)
        for v in range(n_venues):
            step_one(states[v], params[v], m, quotes, off, off, off)
        _route_market(states, params, m, records)
        for a in range(n_venues):
            for b in range(a + 1, n_venues):
                rec = records[a] or records[b]
                sa, sb = states[a], states[b]
                _uncross_one(sa, params[a], sb, params[b], m, fees[a, b], rec)
    for v in range(n_venues):
        start_episode(states[v], params[v], m)


# Serial only: under ``prange`` numba's parfor lowering refused the tuple of the venues'
# parameters ("scalar type MarketParams given for non scalar argument"), numba 0.6x.
@nb.njit(cache=True)
def warm_venues(states, params, mask, steps, fees, records, quotes):  # see warm_market
    """:func:`warm_market` for every market, in a plain loop."""
    for m in range(states[0].fs.shape[0]):
        warm_market(states, params, m, mask, steps, fees, records, quotes)


def warm_up(sims: list[Any], active: np.ndarray, steps: int) -> None:
    """Warm the venues' markets in ``active`` up together and start their episodes.

    One compiled call (:func:`warm_venues`: :func:`warm_market` per market, serially) for the
    ``steps`` steps of every market: each step with order protection, routing and arbitrage
    on, as an episode's step without the makers. The markets must have been reset with no
    warm-up (``MarketSimulator.reset(..., warmup_steps=0)``). Each market touches only its own
    rows, so its warm-up is the same alone or in a batch, and the same as stepping the venues
    together from Python step by step (``MarketSimulator.warm_up``, ``set_protection``,
    :func:`route`, :func:`uncross`, then ``start_episodes``; a test compares them).

    Args:
        sims: The venues' :class:`~mm_gym.market.MarketSimulator` (the same ``n`` markets, the
            same tick grid), in venue order.
        active: ``(n,)`` bool, the markets to warm up.
        steps: Warm-up steps.
    """
    n_venues = len(sims)
    if not 1 <= n_venues <= WARM_VENUES:
        raise ValueError(f"warm_up takes 1 to {WARM_VENUES} venues, got {n_venues}")
    fees = np.zeros((n_venues, n_venues))
    for i, a in enumerate(sims):
        for j in range(i + 1, n_venues):
            fees[i, j] = _fee_ticks(a, sims[j])
    records = np.array([s.record for s in sims], np.bool_)
    padded = [*sims, *[sims[-1]] * (WARM_VENUES - n_venues)]  # one tuple type: module comment
    warm_venues(
        tuple(s.state for s in padded), tuple(s.params for s in padded),
        np.ascontiguousarray(active, np.bool_), int(steps), fees, records,
        sims[0].quotes_buffer(),
    )  # fmt: skip
