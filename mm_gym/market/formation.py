"""The "book" price formation: liquidity anchored on the book, flow with documented mechanisms.

Used instead of :func:`mm_gym.market.flow.background_liquidity` and
:func:`mm_gym.market.flow.market_orders` when ``MarketConfig.price_formation == "book"``
(README, "Realism report"; each mechanism is needed for one fact and has a ``FormationConfig``
value that switches it off):

1. Activity factor (``STREAM_ACTIVITY``): ``A = min(cap, exp(x0 + x1 + x2 - var / 2))``, three
   log-OU components at 30 / 300 / 3,000 steps; it scales market, limit and cancel rates alike
   (volatility clustering).
2. Limit orders (``STREAM_LIQUIDITY``): the sides in random order; per side
   ``Poisson(2 * lo_rate * A * tilt)`` candidates, each placed ``Geometric(lo_mean_distance)``
   ticks behind the *same-side best* (or, while the spread is wider than a tick, with probability
   ``inside_spread_prob`` uniformly inside it) and kept with probability ``q_ref / (q_ref + q)``
   (queue-reactive: rate ``lo_rate * 2 q_ref / (q_ref + q)`` at a level of ``q`` lots). ``tilt =
   1 +- adaptive_kappa * e`` with ``e`` the EWMA of market-order signs: the adaptive providers
   refill faster the side they expect hit. Limit orders never cross.
3. Cancels (``STREAM_CANCEL``): ``Poisson(cancel_rate * A * lots)`` uniform lots per side, never
   the side's last lot.
4. Uninformed market orders (``STREAM_NOISE`` count, ``STREAM_META`` sides and sizes):
   ``Poisson(noise_rate * A * m_r + h)``; a share ``metaorder_share`` are children of one of
   ``metaorder_count`` parents (side fixed, Pareto length with tail ``metaorder_tail``), the rest
   random. Sizes are depth-relative: with probability ``touch_take_prob`` exactly the opposite
   touch's depth, else ``ceil(U ** depth_fraction_power * depth)`` (>= 1 lot); an order never
   walks past the touch and never takes a side's last background lot.
5. Informed market orders (``STREAM_INFORMED``): ``Poisson(informed_rate * A * m_r)``, side as in
   the legacy model from ``sigmoid((F - mid) / scale + w * s)`` where ``F - mid`` is the
   short-lived private signal of :mod:`mm_gym.market.processes`; depth-relative sizes.
6. Shocks (``STREAM_SHOCK``): as in the legacy model, but limited to three ticks through the book
   and never the side's last background lot; with ``shock_one_step`` (``pack_params`` sets
   ``shock_duration_steps`` to 1) a shock is one order, not a multi-step burst.

In ``volatile``, ``m_r = process.volatile_flow_mult * volatile_mo_mult`` (packed into
``volatile_flow_mult``) and limit orders arrive at ``lo_rate * volatile_lo_mult``: busier flow
into a book that keeps pace.
"""

from __future__ import annotations

import math

import numba as nb

from mm_gym.market.book import (
    NONE_HIGH,
    NONE_LOW,
    background_lots_at,
    best_tick,
    cancel_background_lot,
    level_lots,
    rest_background,
)
from mm_gym.market.flow import (
    REGIME_VOLATILE,
    hawkes_decay,
    informed_buy_logit,
    market_order,
    start_shock,
    update_mid,
)
from mm_gym.market.params import MarketParams
from mm_gym.market.rng import (
    STREAM_ACTIVITY,
    STREAM_CANCEL,
    STREAM_INFORMED,
    STREAM_LIQUIDITY,
    STREAM_META,
    STREAM_NOISE,
    geometric_of,
    normal,
    poisson,
    uniform,
    uniform_pos,
)
from mm_gym.market.state import (
    F_ACT_0,
    F_ACTIVITY,
    F_HAWKES,
    F_MID,
    F_SIGN_EWMA,
    I_ASK_LOTS,
    I_BG_ARRIVED,
    I_BID_LOTS,
    I_META_LEFT,
    I_META_SIDE,
    I_REGIME,
    I_SHOCK_LEFT,
    I_SHOCK_SIDE,
    I_SHOCK_STEP,
    KIND_INFORMED,
    KIND_NOISE,
    KIND_SHOCK,
    MarketState,
)

SHOCK_DEPTH_TICKS = 2  # a shock order walks at most this many ticks past the touch


@nb.njit(cache=True, inline="always")
def step_activity(s: MarketState, p: MarketParams, m: int) -> float:
    """Advance the three log-OU components; return (and store) the activity factor."""
    fs, rng = s.fs, s.rng
    if not p.activity_on:
        fs[m, F_ACTIVITY] = 1.0
        return 1.0
    x0 = p.act_a0 * fs[m, F_ACT_0] + p.act_b0 * normal(rng, m, STREAM_ACTIVITY)
    x1 = p.act_a1 * fs[m, F_ACT_0 + 1] + p.act_b1 * normal(rng, m, STREAM_ACTIVITY)
    x2 = p.act_a2 * fs[m, F_ACT_0 + 2] + p.act_b2 * normal(rng, m, STREAM_ACTIVITY)
    fs[m, F_ACT_0] = x0
    fs[m, F_ACT_0 + 1] = x1
    fs[m, F_ACT_0 + 2] = x2
    a = min(p.activity_cap, math.exp(x0 + x1 + x2 + p.act_log_norm))
    fs[m, F_ACTIVITY] = a
    return a


@nb.njit(cache=True, inline="always")
def book_liquidity(s: MarketState, p: MarketParams, m: int, act: float) -> None:
    """Limit-order arrivals anchored on the same-side best (queue-reactive, adaptive), cancels."""
    fs, is_, rng = s.fs, s.is_, s.rng
    st = STREAM_LIQUIDITY
    e = fs[m, F_SIGN_EWMA]
    qref = p.queue_ref_lots
    lo_rate = p.lo_rate * (p.volatile_lo_mult if is_[m, I_REGIME] == REGIME_VOLATILE else 1.0)
    first = 1 if uniform(rng, m, st) < 0.5 else 0  # random priority between the sides
    # the best prices, kept up to date below: an order that rests can only improve its side's
    # best (limit orders never cross), so b = max(b, tick) / a = min(a, tick) is best_tick's value
    b = best_tick(s, m, 0, -1)
    a = best_tick(s, m, 1, -1)
    for j in range(2):
        side = first if j == 0 else 1 - first
        # buys (e > 0) hit the asks: refill the asks faster
        tilt = 1.0 + p.adaptive_kappa * e if side == 1 else 1.0 - p.adaptive_kappa * e
        lam = lo_rate * act * max(0.0, tilt) * (2.0 if qref > 0.0 else 1.0)
        k = poisson(rng, m, st, lam)
        for _ in range(k):
            # the four uniforms in stream order; a logarithm only for a value that is used
            u_d = uniform_pos(rng, m, st)
            u_size = uniform_pos(rng, m, st)
            u = uniform(rng, m, st)
            u2 = uniform(rng, m, st)
            inside = b != NONE_LOW and a != NONE_HIGH and a - b > 1 and u < p.inside_spread_prob
            if inside:
                tick = b + 1 + int(u2 * (a - b - 1))  # uniform strictly inside the spread
            else:
                d = geometric_of(u_d, p.lo_distance_log_q)
                if side == 0:
                    if b != NONE_LOW:
                        ref = b
                    elif a != NONE_HIGH:
                        ref = a - 1
                    else:
                        ref = int(math.ceil(fs[m, F_MID])) - 1
                    tick = ref - d
                else:
                    if a != NONE_HIGH:
                        ref = a
                    elif b != NONE_LOW:
                        ref = b + 1
                    else:
                        ref = int(math.floor(fs[m, F_MID])) + 1
                    tick = ref + d
            if qref > 0.0 and not inside:  # keep with probability q_ref / (q_ref + q)
                q = level_lots(s, m, side, tick)
                if u2 * (qref + q) >= qref:
                    continue
            size = 1 + geometric_of(u_size, p.lo_size_log_q)
            if rest_background(s, m, side, tick, size):
                is_[m, I_BG_ARRIVED] += size
                if side == 0:
                    b = max(b, tick)
                else:
                    a = min(a, tick)
    for side in range(2):
        total = is_[m, I_BID_LOTS if side == 0 else I_ASK_LOTS]
        k = poisson(rng, m, STREAM_CANCEL, p.cancel_rate * act * total)
        for _ in range(min(k, total - 1)):  # never the last lot: no empty side
            u = int(uniform(rng, m, STREAM_CANCEL) * total)
            cancel_background_lot(s, m, side, u)
            total -= 1
    update_mid(s, m)


@nb.njit(cache=True, inline="always")
def _touch_order(s: MarketState, p: MarketParams, m: int, side: int, u: float, u2: float):
    """Depth-relative size and limit tick of a market order on ``side`` (+1 buy); size 0: none."""
    rest = 1 if side > 0 else 0
    tick = best_tick(s, m, rest, -1)
    if tick == NONE_HIGH or tick == NONE_LOW:
        return 0, tick
    depth = level_lots(s, m, rest, tick)
    if u < p.touch_take_prob:
        size = depth
    else:
        size = max(1, min(depth, int(math.ceil(u2**p.depth_fraction_power * depth))))
    total = s.is_[m, I_ASK_LOTS if rest == 1 else I_BID_LOTS]
    bg_here = background_lots_at(s, m, rest, tick)
    if total - bg_here <= 0:  # the touch holds the side's last background lots
        size = min(size, bg_here - 1)  # (conservative: a maker may queue behind them)
    return min(size, p.max_order_lots), tick


@nb.njit(cache=True, inline="always")
def _record_sign(s: MarketState, p: MarketParams, m: int, side: int) -> None:
    e = s.fs[m, F_SIGN_EWMA]
    s.fs[m, F_SIGN_EWMA] = p.sign_ewma_decay * e + (1.0 - p.sign_ewma_decay) * side


@nb.njit(cache=True, inline="always")
def book_market_orders(s: MarketState, p: MarketParams, m: int, act: float, record: bool) -> None:
    """Uninformed (metaorder children and noise), informed and shock market orders of one step.

    Executed lots add up in ``F_STEP_SIGNED`` and ``F_STEP_ABS``
    (:func:`mm_gym.market.flow.market_order`).
    """
    fs, is_, rng = s.fs, s.is_, s.rng
    mult = p.volatile_flow_mult if is_[m, I_REGIME] == REGIME_VOLATILE else 1.0
    lam = p.noise_rate * mult * act
    if p.hawkes:
        lam += fs[m, F_HAWKES]
    k = poisson(rng, m, STREAM_NOISE, lam)
    sm = STREAM_META
    for _ in range(k):
        u_meta = uniform(rng, m, sm)
        u_side = uniform(rng, m, sm)
        if u_meta < p.metaorder_share:
            j = min(p.metaorder_count - 1, int(u_side * p.metaorder_count))
            if is_[m, I_META_LEFT + j] <= 0:  # a new parent: random side, Pareto length
                is_[m, I_META_SIDE + j] = 1 if uniform(rng, m, sm) < 0.5 else -1
                length = uniform_pos(rng, m, sm) ** (-p.metaorder_inv_tail)
                is_[m, I_META_LEFT + j] = int(min(1e9, math.ceil(length)))
            side = is_[m, I_META_SIDE + j]
            is_[m, I_META_LEFT + j] -= 1
        else:
            side = 1 if u_side < 0.5 else -1
        size, tick = _touch_order(s, p, m, side, uniform(rng, m, sm), uniform(rng, m, sm))
        _record_sign(s, p, m, side)
        if size > 0:
            market_order(s, p, m, side, size, tick, KIND_NOISE, record)
    if p.hawkes:
        hawkes_decay(s, p, m, k)
    k = poisson(rng, m, STREAM_INFORMED, p.informed_rate * mult * act)
    for _ in range(k):
        u = uniform(rng, m, STREAM_INFORMED)
        z = informed_buy_logit(s, p, m)
        side = 1 if u < 1.0 / (1.0 + math.exp(-z)) else -1
        u_size = uniform(rng, m, STREAM_INFORMED)
        size, tick = _touch_order(s, p, m, side, u_size, uniform(rng, m, STREAM_INFORMED))
        _record_sign(s, p, m, side)
        if size > 0:
            market_order(s, p, m, side, size, tick, KIND_INFORMED, record)
    start_shock(s, p, m)
    if is_[m, I_SHOCK_LEFT] > 0:
        side = is_[m, I_SHOCK_SIDE]
        rest = 1 if side > 0 else 0
        tick = best_tick(s, m, rest, -1)
        if tick != NONE_HIGH and tick != NONE_LOW:
            lim = tick + side * SHOCK_DEPTH_TICKS
            total = is_[m, I_ASK_LOTS if rest == 1 else I_BID_LOTS]
            size = min(p.shock_size_lots, max(0, total - 1))
            if size > 0:
                market_order(s, p, m, side, size, lim, KIND_SHOCK, record)
        is_[m, I_SHOCK_LEFT] -= 1
        is_[m, I_SHOCK_STEP] = 1
