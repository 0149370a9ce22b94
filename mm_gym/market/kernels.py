"""The compiled hot loop: one call steps every market.

Calling a compiled function once per book operation from Python gains nothing; the whole step of
all markets runs inside one call (:func:`step_serial`, or :func:`step_parallel` with ``prange``
over markets for large batches). Each market touches only its own rows and its own random
streams, so results do not depend on the thread count or on the batch a market runs in.

Step order (DESIGN.md "The market"): 1 quotes, 2 exogenous state, 3 background liquidity,
4 market orders (noise, informed, shocks) with 5 matching and 6 impact as each arrives,
7 accounting (per fill, inside matching), then the mid, statistics and features.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from mm_gym.market.book import (
    NONE_HIGH,
    NONE_LOW,
    best_tick,
    full_rescan,
    join,
    level_lots,
    shift_window,
)
from mm_gym.market.flow import background_liquidity, market_orders, update_mid
from mm_gym.market.params import (
    P_ANCHOR,
    P_RIV_FLOW,
    P_RIV_HALF,
    P_RIV_INV,
    P_SIGMA,
    Q_HORIZON,
    Q_LIMIT1,
    Q_LIMIT2,
    Q_REGIME_MODE,
    Q_RIV_SIZE,
    REGIME_SWITCHING,
)
from mm_gym.market.processes import step_exogenous
from mm_gym.market.rng import STREAM_EXO, seed_streams, uniform
from mm_gym.market.state import (
    A_INV,
    A_STEP_BOUGHT,
    A_STEP_EDGE,
    A_STEP_FILLS,
    A_STEP_SOLD,
    F_FLOW_ABS,
    F_FLOW_SIGNED,
    F_FUND,
    F_MID,
    F_PREV_MID,
    F_SENT_OBS,
    F_VAR,
    I_BASE,
    I_BEST_ASK,
    I_BEST_BID,
    I_NEWS,
    I_ONE_SIDED,
    I_REGIME,
    I_SHOCK_LEFT,
    I_SHOCK_STEP,
    I_SHOCKS,
    I_T,
    I_UNFILLED,
    O_SIZE,
    O_TICK,
)
from mm_gym.observations import N_RETURNS, NO_QUOTE_OFFSET

FLOW_EMA = 0.1  # weight of the newest step in the flow EMAs
VAR_EMA = 0.05  # weight of the newest squared mid change in the volatility EWMA
IMBALANCE_TICKS = 5  # ticks from the best price summed by imbalance_l5


@nb.njit(cache=True)
def _clip(x: float, lo: float, hi: float) -> float:
    return min(hi, max(lo, x))


@nb.njit(cache=True)
def place_quotes(
    m: int,
    maker: int,
    bid_off: float,
    ask_off: float,
    bid_size: int,
    ask_size: int,
    limit: int,
    fs: np.ndarray,
    is_: np.ndarray,
    bid_vol: np.ndarray,
    ask_vol: np.ndarray,
    orders: np.ndarray,
    acct: np.ndarray,
) -> None:
    """Turn one maker's offsets (ticks) and sizes (lots) into resting orders.

    Prices: ``bid = floor(mid - bid_off)``, ``ask = ceil(mid + ask_off)``. If they meet (both
    offsets 0 at a whole-tick mid), the side with the larger offset steps one tick away; on a tie,
    the side that would add exposure steps away (bid when long, ask when short; when flat, by step
    parity) so that symmetric quotes carry no directional bias. Post-only: at most one tick inside
    the best opposite price of the rest of the book (background and the other maker); inside the
    price window. Sizes are cut so that a full fill cannot take inventory past the limit, so at
    ``+limit`` the maker does not bid and at ``-limit`` it does not ask. An unchanged price with a
    size not larger than what rests keeps its queue position (a smaller size keeps it too); a new
    price or a larger size cancels and re-joins at the back, as on most exchanges.
    """
    n = bid_vol.shape[1]
    mid = fs[m, F_MID]
    inv = int(acct[m, maker, A_INV])
    bid_size = max(0, min(bid_size, limit - inv))
    ask_size = max(0, min(ask_size, limit + inv))
    bid_off = _clip(bid_off, -n, n)
    ask_off = _clip(ask_off, -n, n)
    bid = int(math.floor(mid - bid_off))
    ask = int(math.ceil(mid + ask_off))
    opp_ask = best_tick(m, 1, is_, orders, n, maker)
    opp_bid = best_tick(m, 0, is_, orders, n, maker)
    if opp_ask != NONE_HIGH and bid >= opp_ask:
        bid = opp_ask - 1
    if opp_bid != NONE_LOW and ask <= opp_bid:
        ask = opp_bid + 1
    if ask <= bid:  # the two quotes meet: one steps away (away from the book: still post-only)
        if bid_off > ask_off or (
            bid_off == ask_off and (inv > 0 or (inv == 0 and is_[m, I_T] % 2 == 0))
        ):
            bid = ask - 1
        else:
            ask = bid + 1
    base = is_[m, I_BASE]
    if bid < base or bid >= base + n:
        bid_size = 0
    if ask < base or ask >= base + n:
        ask_size = 0
    for side in range(2):
        tick = bid if side == 0 else ask
        size = bid_size if side == 0 else ask_size
        vol = bid_vol if side == 0 else ask_vol
        o = orders[m, maker, side]
        if size == 0:
            o[O_SIZE] = 0
        elif o[O_SIZE] > 0 and o[O_TICK] == tick and size <= o[O_SIZE]:
            o[O_SIZE] = size  # keeps its place in the queue
        else:
            join(m, maker, side, tick, size, is_, vol, orders)


@nb.njit(cache=True)
def _builtin_rival(
    m: int,
    P: np.ndarray,
    Q: np.ndarray,
    fs: np.ndarray,
    is_: np.ndarray,
    bid_vol: np.ndarray,
    ask_vol: np.ndarray,
    orders: np.ndarray,
    acct: np.ndarray,
) -> None:
    """The built-in rival (mm2): fixed half-spread around a centre skewed by inventory and flow."""
    limit = Q[Q_LIMIT2]
    q = acct[m, 1, A_INV] / limit
    fa = fs[m, F_FLOW_ABS]
    flow = fs[m, F_FLOW_SIGNED] / fa if fa > 1e-12 else 0.0
    shift = -P[P_RIV_INV] * q + P[P_RIV_FLOW] * flow  # centre - mid, ticks
    half = P[P_RIV_HALF]
    size = Q[Q_RIV_SIZE]
    place_quotes(
        m, 1, half - shift, half + shift, size, size, limit, fs, is_, bid_vol, ask_vol, orders, acct
    )


@nb.njit(cache=True)
def write_features(
    m: int,
    Q: np.ndarray,
    fs: np.ndarray,
    is_: np.ndarray,
    bid_vol: np.ndarray,
    ask_vol: np.ndarray,
    orders: np.ndarray,
    acct: np.ndarray,
    rets: np.ndarray,
    features: np.ndarray,
) -> None:
    """Write both makers' observation vectors (see :mod:`mm_gym.observations` for the table)."""
    n = bid_vol.shape[1]
    mid = fs[m, F_MID]
    horizon = Q[Q_HORIZON]
    time_left = _clip((horizon - is_[m, I_T]) / horizon, 0.0, 1.0)
    b = best_tick(m, 0, is_, orders, n, -1)
    a = best_tick(m, 1, is_, orders, n, -1)
    spread = NO_QUOTE_OFFSET
    imb1 = 0.0
    imb5 = 0.0
    if b != NONE_LOW and a != NONE_HIGH:
        spread = _clip(float(a - b), 0.0, NO_QUOTE_OFFSET)
        bl = level_lots(m, 0, b, is_, bid_vol, orders)
        al = level_lots(m, 1, a, is_, ask_vol, orders)
        imb1 = (bl - al) / (bl + al) if bl + al > 0 else 0.0
        for j in range(1, IMBALANCE_TICKS):
            bl += level_lots(m, 0, b - j, is_, bid_vol, orders)
            al += level_lots(m, 1, a + j, is_, ask_vol, orders)
        imb5 = (bl - al) / (bl + al) if bl + al > 0 else 0.0
    fa = fs[m, F_FLOW_ABS]
    flow = _clip(fs[m, F_FLOW_SIGNED] / fa, -1.0, 1.0) if fa > 1e-12 else 0.0
    vol = _clip(math.sqrt(fs[m, F_VAR]), 0.0, 100.0)
    regime = is_[m, I_REGIME]
    for k in range(2):
        limit = Q[Q_LIMIT1] if k == 0 else Q[Q_LIMIT2]
        f = features[m, k]
        f[0] = _clip(acct[m, k, A_INV] / limit, -1.0, 1.0)
        f[1] = time_left
        for j in range(N_RETURNS):
            f[2 + j] = _clip(rets[m, j], -50.0, 50.0)
        c = 2 + N_RETURNS
        f[c] = spread
        f[c + 1] = imb1
        f[c + 2] = imb5
        f[c + 3] = flow
        f[c + 4] = fs[m, F_SENT_OBS]
        f[c + 5] = vol
        for who in range(2):
            j = k if who == 0 else 1 - k
            ob = orders[m, j, 0]
            oa = orders[m, j, 1]
            f[c + 6 + 2 * who] = (
                _clip(mid - ob[O_TICK], 0.0, NO_QUOTE_OFFSET) if ob[O_SIZE] > 0 else NO_QUOTE_OFFSET
            )
            f[c + 7 + 2 * who] = (
                _clip(oa[O_TICK] - mid, 0.0, NO_QUOTE_OFFSET) if oa[O_SIZE] > 0 else NO_QUOTE_OFFSET
            )
        for r in range(3):
            f[c + 10 + r] = 1.0 if regime == r else 0.0


@nb.njit(cache=True)
def step_market(
    m: int,
    P: np.ndarray,
    Q: np.ndarray,
    quotes: np.ndarray,
    makers_active: bool,
    builtin_rival: bool,
    record: bool,
    fs: np.ndarray,
    is_: np.ndarray,
    rng: np.ndarray,
    bid_vol: np.ndarray,
    ask_vol: np.ndarray,
    orders: np.ndarray,
    acct: np.ndarray,
    others: np.ndarray,
    rets: np.ndarray,
    features: np.ndarray,
    fills: np.ndarray,
    n_fills: np.ndarray,
    mos: np.ndarray,
    n_mos: np.ndarray,
) -> None:
    """Advance market ``m`` by one step (the documented order)."""
    n = bid_vol.shape[1]
    n_fills[m] = 0
    n_mos[m] = 0
    for k in range(2):
        acct[m, k, A_STEP_BOUGHT] = 0.0
        acct[m, k, A_STEP_SOLD] = 0.0
        acct[m, k, A_STEP_EDGE] = 0.0
        acct[m, k, A_STEP_FILLS] = 0.0
    is_[m, I_SHOCK_STEP] = 0
    is_[m, I_ONE_SIDED] = 0
    fs[m, F_PREV_MID] = fs[m, F_MID]
    # 1. quotes; the makers take turns placing first (time priority at a shared new price and
    # the post-only check against the other's quotes would otherwise always favour one seat)
    if makers_active:
        first = is_[m, I_T] % 2
        for j in range(2):
            k = first if j == 0 else 1 - first
            if k == 1 and builtin_rival:
                _builtin_rival(m, P, Q, fs, is_, bid_vol, ask_vol, orders, acct)
            else:
                q = quotes[m, k]
                limit = Q[Q_LIMIT1] if k == 0 else Q[Q_LIMIT2]
                place_quotes(
                    m, k, q[0], q[1], int(q[2]), int(q[3]), limit,
                    fs, is_, bid_vol, ask_vol, orders, acct,
                )  # fmt: skip
        update_mid(m, fs, is_, orders, n)  # the makers' new quotes are part of the book
    # 2. exogenous state; keep the price window centred on the fundamental
    step_exogenous(m, P, Q, fs, is_, rng)
    centre = is_[m, I_BASE] + n // 2
    f = fs[m, F_FUND]
    if abs(f - centre) > n // 4:
        shift_window(m, int(round(f)) - centre, is_, bid_vol, ask_vol, orders)
    # 3. background liquidity
    background_liquidity(
        m,
        P,
        fs,
        is_,
        rng,
        bid_vol,
        ask_vol,
        orders,
        acct,
        others,
        fills,
        n_fills,
        mos,
        n_mos,
        record,
    )
    # 4.-7. market orders, matching, impact, accounting
    signed, absolute = market_orders(
        m,
        P,
        Q,
        fs,
        is_,
        rng,
        bid_vol,
        ask_vol,
        orders,
        acct,
        others,
        fills,
        n_fills,
        mos,
        n_mos,
        record,
    )
    is_[m, I_ONE_SIDED] = 0  # the flag describes the book at the end of the step
    update_mid(m, fs, is_, orders, n)
    # statistics behind the features
    r = fs[m, F_MID] - fs[m, F_PREV_MID]
    for j in range(N_RETURNS - 1, 0, -1):
        rets[m, j] = rets[m, j - 1]
    rets[m, 0] = r
    fs[m, F_VAR] = (1.0 - VAR_EMA) * fs[m, F_VAR] + VAR_EMA * r * r
    fs[m, F_FLOW_SIGNED] = (1.0 - FLOW_EMA) * fs[m, F_FLOW_SIGNED] + FLOW_EMA * signed
    fs[m, F_FLOW_ABS] = (1.0 - FLOW_EMA) * fs[m, F_FLOW_ABS] + FLOW_EMA * absolute
    is_[m, I_T] += 1
    write_features(m, Q, fs, is_, bid_vol, ask_vol, orders, acct, rets, features)


@nb.njit(cache=True)
def reset_market(
    m: int,
    seed: np.uint64,
    warmup_steps: int,
    P: np.ndarray,
    Q: np.ndarray,
    quotes: np.ndarray,
    fs: np.ndarray,
    is_: np.ndarray,
    rng: np.ndarray,
    bid_vol: np.ndarray,
    ask_vol: np.ndarray,
    orders: np.ndarray,
    acct: np.ndarray,
    others: np.ndarray,
    rets: np.ndarray,
    features: np.ndarray,
    fills: np.ndarray,
    n_fills: np.ndarray,
    mos: np.ndarray,
    n_mos: np.ndarray,
) -> None:
    """Start a new episode of market ``m`` from ``seed``: empty book, warm-up, zero accounts."""
    n = bid_vol.shape[1]
    fs[m, :] = 0.0
    is_[m, :] = 0
    bid_vol[m, :] = 0
    ask_vol[m, :] = 0
    orders[m, :, :, :] = 0
    acct[m, :, :] = 0.0
    others[m, :] = 0.0
    rets[m, :] = 0.0
    seed_streams(rng, m, seed)
    price0 = P[P_ANCHOR]
    fs[m, F_FUND] = price0
    fs[m, F_MID] = price0
    fs[m, F_VAR] = P[P_SIGMA] * P[P_SIGMA]
    is_[m, I_BASE] = int(price0) - n // 2
    is_[m, I_BEST_BID] = -1
    is_[m, I_BEST_ASK] = n
    if Q[Q_REGIME_MODE] == REGIME_SWITCHING:
        is_[m, I_REGIME] = min(2, int(uniform(rng, m, STREAM_EXO) * 3.0))
    else:
        is_[m, I_REGIME] = Q[Q_REGIME_MODE]
    for _ in range(warmup_steps):
        step_market(
            m,
            P,
            Q,
            quotes,
            False,
            False,
            False,
            fs,
            is_,
            rng,
            bid_vol,
            ask_vol,
            orders,
            acct,
            others,
            rets,
            features,
            fills,
            n_fills,
            mos,
            n_mos,
        )
    full_rescan(m, is_, bid_vol, ask_vol)
    update_mid(m, fs, is_, orders, n)
    fs[m, F_PREV_MID] = fs[m, F_MID]
    is_[m, I_T] = 0
    is_[m, I_SHOCKS] = 0
    is_[m, I_UNFILLED] = 0
    is_[m, I_SHOCK_STEP] = 0  # per-step flags describe the episode's steps, not the warm-up
    is_[m, I_NEWS] = 0
    is_[m, I_SHOCK_LEFT] = 0  # a shock started in the warm-up does not spill into the episode
    n_fills[m] = 0
    n_mos[m] = 0
    write_features(m, Q, fs, is_, bid_vol, ask_vol, orders, acct, rets, features)


@nb.njit(cache=True)
def step_serial(
    P,
    Q,
    quotes,
    active,
    builtin_rival,
    record,
    fs,
    is_,
    rng,
    bid_vol,
    ask_vol,
    orders,
    acct,
    others,
    rets,
    features,
    fills,
    n_fills,
    mos,
    n_mos,
) -> None:
    """Step the markets with ``active[m]`` in a plain loop (small batches, no thread overhead)."""
    for m in range(fs.shape[0]):
        if active[m]:
            step_market(
                m,
                P,
                Q,
                quotes,
                True,
                builtin_rival,
                record,
                fs,
                is_,
                rng,
                bid_vol,
                ask_vol,
                orders,
                acct,
                others,
                rets,
                features,
                fills,
                n_fills,
                mos,
                n_mos,
            )


@nb.njit(cache=True, parallel=True)
def step_parallel(
    P,
    Q,
    quotes,
    active,
    builtin_rival,
    record,
    fs,
    is_,
    rng,
    bid_vol,
    ask_vol,
    orders,
    acct,
    others,
    rets,
    features,
    fills,
    n_fills,
    mos,
    n_mos,
) -> None:
    """Step the markets with ``active[m]``, ``prange`` over markets (large batches)."""
    for m in nb.prange(fs.shape[0]):
        if active[m]:
            step_market(
                m,
                P,
                Q,
                quotes,
                True,
                builtin_rival,
                record,
                fs,
                is_,
                rng,
                bid_vol,
                ask_vol,
                orders,
                acct,
                others,
                rets,
                features,
                fills,
                n_fills,
                mos,
                n_mos,
            )


@nb.njit(cache=True, parallel=True)
def reset_markets(
    seeds,
    mask,
    warmup_steps,
    P,
    Q,
    quotes,
    fs,
    is_,
    rng,
    bid_vol,
    ask_vol,
    orders,
    acct,
    others,
    rets,
    features,
    fills,
    n_fills,
    mos,
    n_mos,
) -> None:
    """Reset the markets with ``mask[m]`` from ``seeds[m]`` (warm-up runs in parallel)."""
    for m in nb.prange(fs.shape[0]):
        if mask[m]:
            reset_market(
                m,
                seeds[m],
                warmup_steps,
                P,
                Q,
                quotes,
                fs,
                is_,
                rng,
                bid_vol,
                ask_vol,
                orders,
                acct,
                others,
                rets,
                features,
                fills,
                n_fills,
                mos,
                n_mos,
            )


@nb.njit(cache=True)
def reset_markets_serial(
    seeds,
    mask,
    warmup_steps,
    P,
    Q,
    quotes,
    fs,
    is_,
    rng,
    bid_vol,
    ask_vol,
    orders,
    acct,
    others,
    rets,
    features,
    fills,
    n_fills,
    mos,
    n_mos,
) -> None:
    """Serial twin of :func:`reset_markets` for small batches."""
    for m in range(fs.shape[0]):
        if mask[m]:
            reset_market(
                m,
                seeds[m],
                warmup_steps,
                P,
                Q,
                quotes,
                fs,
                is_,
                rng,
                bid_vol,
                ask_vol,
                orders,
                acct,
                others,
                rets,
                features,
                fills,
                n_fills,
                mos,
                n_mos,
            )
