"""Order flow: background liquidity and cancels, noise / informed market orders, Hawkes, shocks.

Per step, in this order (each from its own random stream):
1. Background limit orders (``STREAM_LIQUIDITY``): per side ``Poisson(lo_rate)`` orders at
   distance ``d ~ Geometric(mean lo_mean_distance_ticks)`` from the fundamental (bids at
   ``ceil(F) - 1 - d``, asks at ``floor(F) + 1 + d``), size ``1 + Geometric``. An order that would
   cross executes first up to its price (kind ``background``), the rest rests behind the queue.
2. Background cancels (``STREAM_CANCEL``): per side ``Poisson(cancel_rate * resting lots)``
   lots, each drawn uniformly from the side's background lots.
3. Noise market orders (``STREAM_NOISE``): ``Poisson(noise_rate * m_r + h)`` orders, side 50/50,
   size ``min(max_order_lots, ceil(U ** (-1 / noise_size_alpha)))`` (Pareto tail); ``m_r`` is
   ``volatile_flow_mult`` in the volatile regime, else 1; ``h`` the Hawkes excitation.
4. Informed market orders (``STREAM_INFORMED``): ``Poisson(informed_rate * m_r)`` orders that
   buy with probability ``sigmoid((F - mid) / informed_scale + w * s)``: adverse selection.
5. Liquidity shocks (``STREAM_SHOCK``): with probability ``shock_rate`` a shock starts (if none
   is running); for ``shock_duration_steps`` steps it sends a market order of
   ``shock_size_lots``. Its side is against mm1's inventory with probability ``p_adversarial``
   (long mm1: sells), otherwise (or when mm1 is flat) random.

Each market order is matched at once (:func:`mm_gym.market.book.execute`); its pre- and
post-trade mids are recorded, and with ``permanent_impact_ticks > 0`` the fundamental moves by
that much per lot of signed executed volume.
"""

from __future__ import annotations

import math

import numba as nb

from mm_gym.market.book import (
    NONE_HIGH,
    NONE_LOW,
    best_tick,
    cancel_background_lot,
    execute,
    rest_background,
)
from mm_gym.market.params import MarketParams
from mm_gym.market.rng import (
    STREAM_CANCEL,
    STREAM_INFORMED,
    STREAM_LIQUIDITY,
    STREAM_NOISE,
    STREAM_SHOCK,
    geometric_log_q,
    poisson,
    uniform,
    uniform_pos,
)
from mm_gym.market.state import (
    A_INV,
    F_FUND,
    F_HAWKES,
    F_MID,
    F_PROTECT_ASK,
    F_PROTECT_BID,
    F_ROUTE_BUY_LIMIT,
    F_ROUTE_SELL_LIMIT,
    F_SENT_X,
    F_STEP_ABS,
    F_STEP_SIGNED,
    I_ASK_LOTS,
    I_BG_ARRIVED,
    I_BID_LOTS,
    I_ONE_SIDED,
    I_REGIME,
    I_ROUTED_BUY,
    I_ROUTED_SELL,
    I_SHOCK_LEFT,
    I_SHOCK_SIDE,
    I_SHOCK_STEP,
    I_SHOCKS,
    I_UNFILLED,
    KIND_BACKGROUND,
    KIND_INFORMED,
    KIND_NOISE,
    KIND_ROUTED,
    KIND_SHOCK,
    M_KIND,
    M_POST_MID,
    M_PRE_MID,
    M_SIDE,
    M_SIZE,
    MO_CAP,
    MarketState,
)

REGIME_VOLATILE = 2


@nb.njit(cache=True, inline="always")
def update_mid(s: MarketState, m: int) -> None:
    """Set the mid from the best prices (makers included); keep the last mid if a side is empty."""
    b = best_tick(s, m, 0, -1)
    a = best_tick(s, m, 1, -1)
    if b == NONE_LOW or a == NONE_HIGH:
        s.is_[m, I_ONE_SIDED] = 1
    else:
        s.fs[m, F_MID] = 0.5 * (a + b)


@nb.njit(cache=True, inline="always")
def market_order(
    s: MarketState,
    p: MarketParams,
    m: int,
    side: int,
    size: int,
    limit_tick: int,
    kind: int,
    record: bool,
) -> int:
    """Execute one aggressive order, record its impact, apply permanent impact.

    Matching is :func:`mm_gym.market.book.execute`; the order is recorded in ``mos``, ``n_mos``.

    Returns:
        Lots filled.
    """
    fs, is_, mos, n_mos = s.fs, s.is_, s.mos, s.n_mos
    pre = fs[m, F_MID]
    # order protection (several venues): a taker does not trade through another venue's best
    # price; what it would have taken beyond it is routed away (I_ROUTED_*, mm_gym.market.venues)
    lim = limit_tick
    if kind < KIND_BACKGROUND:
        if side > 0 and limit_tick > fs[m, F_PROTECT_ASK]:
            lim = int(fs[m, F_PROTECT_ASK])
        elif side < 0 and limit_tick < fs[m, F_PROTECT_BID]:
            lim = int(fs[m, F_PROTECT_BID])
    filled = execute(s, p, m, side, size, lim, kind, record)
    if lim != limit_tick:
        if side > 0:
            is_[m, I_ROUTED_BUY] += size - filled
            fs[m, F_ROUTE_BUY_LIMIT] = max(fs[m, F_ROUTE_BUY_LIMIT], limit_tick)
        else:
            is_[m, I_ROUTED_SELL] += size - filled
            fs[m, F_ROUTE_SELL_LIMIT] = min(fs[m, F_ROUTE_SELL_LIMIT], limit_tick)
    if kind != KIND_BACKGROUND:  # a market order (a crossing limit order is not flow)
        if lim == limit_tick:
            is_[m, I_UNFILLED] += size - filled
        fs[m, F_STEP_SIGNED] += side * filled
        fs[m, F_STEP_ABS] += filled
    update_mid(s, m)
    if filled > 0 and p.permanent_impact_ticks > 0.0:
        fs[m, F_FUND] += p.permanent_impact_ticks * side * filled
    # A routed order that executed nothing is no trade: its lots stay routed away (venues.route)
    if record and (filled > 0 or (kind != KIND_BACKGROUND and kind != KIND_ROUTED)):
        j = n_mos[m]
        if j < MO_CAP:
            r = mos[m, j]
            r[M_SIZE] = filled
            r[M_SIDE] = side
            r[M_PRE_MID] = pre
            r[M_POST_MID] = fs[m, F_MID]
            r[M_KIND] = kind
        n_mos[m] = j + 1
    return filled


@nb.njit(cache=True, inline="always")
def background_liquidity(s: MarketState, p: MarketParams, m: int, record: bool) -> None:
    """Background limit-order arrivals (marketable ones execute first), then cancels."""
    fs, is_, rng = s.fs, s.is_, s.rng
    f = fs[m, F_FUND]
    top_bid = int(math.ceil(f)) - 1
    top_ask = int(math.floor(f)) + 1
    for side in range(2):
        k = poisson(rng, m, STREAM_LIQUIDITY, p.lo_rate)
        for _ in range(k):
            d = geometric_log_q(rng, m, STREAM_LIQUIDITY, p.lo_distance_log_q)
            size = 1 + geometric_log_q(rng, m, STREAM_LIQUIDITY, p.lo_size_log_q)
            if side == 0:
                tick = top_bid - d
                crosses = tick >= best_tick(s, m, 1, -1)
            else:
                tick = top_ask + d
                crosses = tick <= best_tick(s, m, 0, -1)
            if crosses:  # a buy (side 0 -> +1) or sell (-1) up to its own price
                size -= market_order(s, p, m, 1 - 2 * side, size, tick, KIND_BACKGROUND, record)
            if size > 0 and rest_background(s, m, side, tick, size):
                is_[m, I_BG_ARRIVED] += size
    # cancels: each resting background lot independently with probability ~ cancel_rate
    for side in range(2):
        total = is_[m, I_BID_LOTS if side == 0 else I_ASK_LOTS]
        k = poisson(rng, m, STREAM_CANCEL, p.cancel_rate * total)
        for _ in range(min(k, total)):
            u = int(uniform(rng, m, STREAM_CANCEL) * total)
            cancel_background_lot(s, m, side, u)
            total -= 1
    update_mid(s, m)


@nb.njit(cache=True, inline="always")
def hawkes_decay(s: MarketState, p: MarketParams, m: int, k: int) -> None:
    """Decay the Hawkes excitation by one step and add the ``k`` noise orders that just arrived.

    Discrete kernel scaled so its total mass is alpha / beta: mean rate mu / (1 - alpha/beta).
    """
    fs = s.fs
    decay = math.exp(-p.hawkes_beta)
    fs[m, F_HAWKES] = decay * fs[m, F_HAWKES] + (p.hawkes_alpha / p.hawkes_beta) * (1.0 - decay) * k


@nb.njit(cache=True, inline="always")
def informed_buy_logit(s: MarketState, p: MarketParams, m: int) -> float:
    """``z`` of an informed order's buy probability ``sigmoid(z)``: signal plus sentiment."""
    fs = s.fs
    return (fs[m, F_FUND] - fs[m, F_MID]) / p.informed_scale_ticks + (
        p.informed_sentiment_weight * math.tanh(fs[m, F_SENT_X])
    )


@nb.njit(cache=True, inline="always")
def start_shock(s: MarketState, p: MarketParams, m: int) -> None:
    """Maybe start a liquidity shock and choose its side (three uniforms every step).

    Drawing the three uniforms whether or not a shock starts keeps ``STREAM_SHOCK`` aligned.
    """
    is_, rng, acct = s.is_, s.rng, s.acct
    u_start = uniform(rng, m, STREAM_SHOCK)
    u_adv = uniform(rng, m, STREAM_SHOCK)
    u_side = uniform(rng, m, STREAM_SHOCK)
    if is_[m, I_SHOCK_LEFT] == 0 and u_start < p.shock_rate:
        is_[m, I_SHOCK_LEFT] = p.shock_duration_steps
        is_[m, I_SHOCKS] += 1
        inv = acct[m, 0, A_INV]
        if inv != 0.0 and u_adv < p.p_adversarial:
            is_[m, I_SHOCK_SIDE] = -1 if inv > 0.0 else 1
        else:
            is_[m, I_SHOCK_SIDE] = 1 if u_side < 0.5 else -1


@nb.njit(cache=True, inline="always")
def market_orders(s: MarketState, p: MarketParams, m: int, record: bool) -> None:
    """Noise, informed and shock market orders of one step.

    Executed lots add up in ``F_STEP_SIGNED`` and ``F_STEP_ABS`` (:func:`market_order`).
    """
    fs, is_, rng = s.fs, s.is_, s.rng
    mult = p.volatile_flow_mult if is_[m, I_REGIME] == REGIME_VOLATILE else 1.0
    max_lots = p.max_order_lots
    no_limit_buy = NONE_HIGH - 1
    no_limit_sell = NONE_LOW + 1
    # noise traders (Hawkes-excited when enabled)
    lam = p.noise_rate * mult
    if p.hawkes:
        lam += fs[m, F_HAWKES]
    k = poisson(rng, m, STREAM_NOISE, lam)
    for _ in range(k):
        side = 1 if uniform(rng, m, STREAM_NOISE) < 0.5 else -1
        size = min(
            max_lots,
            int(math.ceil(uniform_pos(rng, m, STREAM_NOISE) ** (-1.0 / p.noise_size_alpha))),
        )
        lim = no_limit_buy if side > 0 else no_limit_sell
        market_order(s, p, m, side, size, lim, KIND_NOISE, record)
    if p.hawkes:
        hawkes_decay(s, p, m, k)
    # informed traders: adverse selection
    k = poisson(rng, m, STREAM_INFORMED, p.informed_rate * mult)
    for _ in range(k):
        u = uniform(rng, m, STREAM_INFORMED)
        size = 1 + geometric_log_q(rng, m, STREAM_INFORMED, p.informed_size_log_q)
        z = informed_buy_logit(s, p, m)
        p_buy = 1.0 / (1.0 + math.exp(-z))
        side = 1 if u < p_buy else -1
        lim = no_limit_buy if side > 0 else no_limit_sell
        market_order(s, p, m, side, size, lim, KIND_INFORMED, record)
    # liquidity shocks
    start_shock(s, p, m)
    if is_[m, I_SHOCK_LEFT] > 0:
        side = is_[m, I_SHOCK_SIDE]
        lim = no_limit_buy if side > 0 else no_limit_sell
        market_order(s, p, m, side, p.shock_size_lots, lim, KIND_SHOCK, record)
        is_[m, I_SHOCK_LEFT] -= 1
        is_[m, I_SHOCK_STEP] = 1
