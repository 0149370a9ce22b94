"""The compiled hot loop: one call steps every market.

Calling a compiled function once per book operation from Python gains nothing; the whole step of
all markets runs inside one call. One body steps one market (:func:`step_one`); two thin loops
call it, :func:`step_serial` with ``range`` for small batches and :func:`step_parallel` with
``prange`` for large ones (likewise :func:`reset_serial` / :func:`reset_parallel`). Each market
touches only its own rows and its own random streams, so results do not depend on the thread
count or on the batch a market runs in.

Step order (docs/ARCHITECTURE.md, "One step of the market"): 1 quotes, 2 exogenous state,
3 background liquidity, 4 market orders (noise, informed, shocks) with 5 matching and 6 impact as
each arrives, 7 accounting (per fill, inside matching), then the mid, statistics and features.

The entry points and every helper take the whole :class:`~mm_gym.market.state.MarketState` ``s``
and the :class:`~mm_gym.market.params.MarketParams` ``p`` (when they read any), then the market
index ``m``. The helpers are compiled with ``inline="always"`` (a call that is not inlined passed
both tuples flattened, some 200 machine words: about 40 % slower per market). ``step_one`` and
``reset_one`` are compiled without numba's runtime (``_nrt=False``): no reference counting at all.
With it, an inlined helper that bound the state tuple took a reference on each of its 14 arrays
on every call (72 % of a ``perf`` profile of the step), and even a helper given single arrays
kept an acquire/release pair (two atomic operations behind a call) on each array it bound, and
on each view (``orders[m, k, side]``) or chosen array (``bid_vol if side == 0 else ask_vol``):
still about a quarter of the step's time. Without it, reading an array out of ``s`` is free.
``step_one`` and ``reset_one`` can run without it: they allocate nothing and only read and write
the arrays they are given, which their callers keep alive for the call (``_nrt`` is numba's own
private flag; a body that allocated would fail to compile, not misbehave).
"""

from __future__ import annotations

import math
from typing import Any

import numba as nb
import numpy as np

from mm_gym.config import REGIMES
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
from mm_gym.market.formation import book_liquidity, book_market_orders, step_activity
from mm_gym.market.params import FORMATION_BOOK, REGIME_SWITCHING, MarketParams
from mm_gym.market.processes import step_exogenous
from mm_gym.market.revision import revise_quotes, start_news
from mm_gym.market.rng import (
    STREAM_ACTIVITY,
    STREAM_EXO,
    normal,
    seed_asset_streams,
    seed_streams,
    seed_venue_streams,
    uniform,
)
from mm_gym.market.state import (
    A_INV,
    A_STEP_BOUGHT,
    A_STEP_EDGE,
    A_STEP_FILLS,
    A_STEP_PICKED,
    A_STEP_SOLD,
    F_ACT_0,
    F_ANCHOR,
    F_FLOW_ABS,
    F_FLOW_SIGNED,
    F_FUND,
    F_HEADLINE_SCORE,
    F_MID,
    F_PREV_MID,
    F_PROTECT_ASK,
    F_PROTECT_BID,
    F_ROUTE_BUY_LIMIT,
    F_ROUTE_SELL_LIMIT,
    F_SENT_OBS,
    F_STEP_ABS,
    F_STEP_SIGNED,
    F_VAR,
    I_BASE,
    I_BEST_ASK,
    I_BEST_BID,
    I_HEADLINE,
    I_NEWS,
    I_ONE_SIDED,
    I_REGIME,
    I_ROUTED_BUY,
    I_ROUTED_SELL,
    I_SHOCK_LEFT,
    I_SHOCK_STEP,
    I_SHOCKS,
    I_T,
    I_UNFILLED,
    O_SIZE,
    O_TICK,
    MarketState,
)
from mm_gym.observations import FEATURE_NAMES_ALL, N_RETURNS, NO_QUOTE_OFFSET, REGIME_FEATURES

# numba's private option for a body compiled without its runtime (see the module docstring),
# passed by name: numba's type stubs do not list it
NO_RUNTIME: dict[str, Any] = {"_nrt": False}

FLOW_EMA = 0.1  # weight of the newest step in the flow EMAs
VAR_EMA = 0.05  # weight of the newest squared mid change in the volatility EWMA
IMBALANCE_TICKS = 5  # ticks from the best price summed by imbalance_l5

# Feature columns, from the table in mm_gym.observations (the one place that orders them).
_COL = {name: i for i, name in enumerate(FEATURE_NAMES_ALL)}
FEAT_INVENTORY = _COL["inventory"]
FEAT_TIME_LEFT = _COL["time_left"]
FEAT_RET_1 = _COL["ret_1"]  # ret_1 .. ret_N_RETURNS follow
FEAT_SPREAD = _COL["spread_ticks"]
FEAT_IMBALANCE_L1 = _COL["imbalance_l1"]
FEAT_IMBALANCE_L5 = _COL["imbalance_l5"]
FEAT_FLOW = _COL["flow"]
FEAT_SENTIMENT = _COL["sentiment"]
FEAT_VOLATILITY = _COL["volatility_ticks"]
FEAT_OWN_BID = _COL["own_bid_offset"]
FEAT_OWN_ASK = _COL["own_ask_offset"]
FEAT_RIVAL_BID = _COL["rival_bid_offset"]
FEAT_RIVAL_ASK = _COL["rival_ask_offset"]
FEAT_REGIME = _COL[REGIME_FEATURES[0]]  # one-hot over the regime codes follows
FEAT_ALPHA = _COL["alpha"]
# the kernel writes runs of columns: the returns and the regime one-hot must be contiguous
assert [_COL[f"ret_{j + 1}"] for j in range(N_RETURNS)] == list(
    range(FEAT_RET_1, FEAT_RET_1 + N_RETURNS)
)
assert [_COL[f"regime_{r}"] for r in REGIMES] == list(range(FEAT_REGIME, FEAT_REGIME + 3))


@nb.njit(cache=True, inline="always")
def _clip(x: float, lo: float, hi: float) -> float:
    return min(hi, max(lo, x))


@nb.njit(cache=True, inline="always")
def place_quotes(
    s: MarketState,
    m: int,
    maker: int,
    bid_off: float,
    ask_off: float,
    bid_size: int,
    ask_size: int,
    limit: int,
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
    is_, orders = s.is_, s.orders
    n = s.bid_vol.shape[1]
    mid = s.fs[m, F_MID]
    inv = int(s.acct[m, maker, A_INV])
    bid_size = max(0, min(bid_size, limit - inv))
    ask_size = max(0, min(ask_size, limit + inv))
    bid_off = _clip(bid_off, -n, n)
    ask_off = _clip(ask_off, -n, n)
    bid = int(math.floor(mid - bid_off))
    ask = int(math.ceil(mid + ask_off))
    opp_ask = best_tick(s, m, 1, maker)
    opp_bid = best_tick(s, m, 0, maker)
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
        o = orders[m, maker, side]
        if size == 0:
            o[O_SIZE] = 0
        elif o[O_SIZE] > 0 and o[O_TICK] == tick and size <= o[O_SIZE]:
            o[O_SIZE] = size  # keeps its place in the queue
        else:
            join(s, m, maker, side, tick, size)


@nb.njit(cache=True, inline="always")
def _builtin_rival(s: MarketState, p: MarketParams, m: int) -> None:
    """The built-in rival (mm2): fixed half-spread around a centre skewed by inventory and flow."""
    fs = s.fs
    limit = p.mm2_limit
    q = s.acct[m, 1, A_INV] / limit
    fa = fs[m, F_FLOW_ABS]
    flow = fs[m, F_FLOW_SIGNED] / fa if fa > 1e-12 else 0.0
    shift = -p.rival_inventory_skew_ticks * q + p.rival_flow_skew_ticks * flow  # centre - mid
    half = p.rival_half_spread_ticks
    size = p.rival_size_lots
    place_quotes(s, m, 1, half - shift, half + shift, size, size, limit)


@nb.njit(cache=True, inline="always")
def _quote_offset(mid: float, order: np.ndarray, side: int) -> float:
    """Distance (ticks) of a resting order from the mid; NO_QUOTE_OFFSET if none rests."""
    if order[O_SIZE] <= 0:
        return NO_QUOTE_OFFSET
    d = mid - order[O_TICK] if side == 0 else order[O_TICK] - mid
    return _clip(d, 0.0, NO_QUOTE_OFFSET)


@nb.njit(cache=True, inline="always")
def write_features(s: MarketState, p: MarketParams, m: int) -> None:
    """Write both makers' observation vectors (see :mod:`mm_gym.observations` for the table)."""
    fs, is_, orders, acct, rets, features = s.fs, s.is_, s.orders, s.acct, s.rets, s.features
    mid = fs[m, F_MID]
    horizon = p.horizon_steps
    time_left = _clip((horizon - is_[m, I_T]) / horizon, 0.0, 1.0)
    b = best_tick(s, m, 0, -1)
    a = best_tick(s, m, 1, -1)
    spread = NO_QUOTE_OFFSET
    imb1 = 0.0
    imb5 = 0.0
    if b != NONE_LOW and a != NONE_HIGH:
        spread = _clip(float(a - b), 0.0, NO_QUOTE_OFFSET)
        bl = level_lots(s, m, 0, b)
        al = level_lots(s, m, 1, a)
        imb1 = (bl - al) / (bl + al) if bl + al > 0 else 0.0
        for j in range(1, IMBALANCE_TICKS):
            bl += level_lots(s, m, 0, b - j)
            al += level_lots(s, m, 1, a + j)
        imb5 = (bl - al) / (bl + al) if bl + al > 0 else 0.0
    fa = fs[m, F_FLOW_ABS]
    flow = _clip(fs[m, F_FLOW_SIGNED] / fa, -1.0, 1.0) if fa > 1e-12 else 0.0
    vol = _clip(math.sqrt(fs[m, F_VAR]), 0.0, 100.0)
    regime = is_[m, I_REGIME]
    # the blended signal of mm_gym.observations (sentiment and best-level imbalance)
    alpha = _clip(
        p.alpha_sentiment_weight * fs[m, F_SENT_OBS] + p.alpha_imbalance_weight * imb1, -1.0, 1.0
    )
    for k in range(2):
        limit = p.mm1_limit if k == 0 else p.mm2_limit
        f = features[m, k]
        f[FEAT_INVENTORY] = _clip(acct[m, k, A_INV] / limit, -1.0, 1.0)
        f[FEAT_TIME_LEFT] = time_left
        for j in range(N_RETURNS):
            f[FEAT_RET_1 + j] = _clip(rets[m, j], -50.0, 50.0)
        f[FEAT_SPREAD] = spread
        f[FEAT_IMBALANCE_L1] = imb1
        f[FEAT_IMBALANCE_L5] = imb5
        f[FEAT_FLOW] = flow
        f[FEAT_SENTIMENT] = fs[m, F_SENT_OBS]
        f[FEAT_VOLATILITY] = vol
        own, rival = orders[m, k], orders[m, 1 - k]
        f[FEAT_OWN_BID] = _quote_offset(mid, own[0], 0)
        f[FEAT_OWN_ASK] = _quote_offset(mid, own[1], 1)
        f[FEAT_RIVAL_BID] = _quote_offset(mid, rival[0], 0)
        f[FEAT_RIVAL_ASK] = _quote_offset(mid, rival[1], 1)
        for r in range(3):
            f[FEAT_REGIME + r] = 1.0 if regime == r else 0.0
        f[FEAT_ALPHA] = alpha


@nb.njit(cache=True, **NO_RUNTIME)  # no reference counting: see the module docstring
def step_one(
    s: MarketState,
    p: MarketParams,
    m: int,
    quotes: np.ndarray,
    makers_active: bool,
    builtin_rival: bool,
    record: bool,
) -> None:
    """Advance market ``m`` by one step (the documented order).

    Callers pass the flags as runtime booleans (``np.bool_(True)``, not ``True``): numba compiles a
    function again for every literal it is called with, and this body takes minutes to compile.
    """
    fs, is_, acct, rets = s.fs, s.is_, s.acct, s.rets
    n = s.bid_vol.shape[1]
    s.n_fills[m] = 0
    s.n_mos[m] = 0
    for k in range(2):
        acct[m, k, A_STEP_BOUGHT] = 0.0
        acct[m, k, A_STEP_SOLD] = 0.0
        acct[m, k, A_STEP_EDGE] = 0.0
        acct[m, k, A_STEP_FILLS] = 0.0
        acct[m, k, A_STEP_PICKED] = 0.0
    is_[m, I_SHOCK_STEP] = 0
    is_[m, I_ONE_SIDED] = 0
    fs[m, F_PREV_MID] = fs[m, F_MID]
    fs[m, F_STEP_SIGNED] = 0.0
    fs[m, F_STEP_ABS] = 0.0
    is_[m, I_ROUTED_BUY] = 0
    is_[m, I_ROUTED_SELL] = 0
    fs[m, F_ROUTE_BUY_LIMIT] = -math.inf
    fs[m, F_ROUTE_SELL_LIMIT] = math.inf
    # 1. quotes; the makers take turns placing first (time priority at a shared new price and
    # the post-only check against the other's quotes would otherwise always favour one seat)
    if makers_active:
        first = is_[m, I_T] % 2
        for j in range(2):
            k = first if j == 0 else 1 - first
            if k == 1 and builtin_rival:
                _builtin_rival(s, p, m)
            else:
                q = quotes[m, k]
                limit = p.mm1_limit if k == 0 else p.mm2_limit
                place_quotes(s, m, k, q[0], q[1], int(q[2]), int(q[3]), limit)
        update_mid(s, m)  # the makers' new quotes are part of the book
    # 2. exogenous state; keep the price window centred on the fundamental (the book model:
    # on the mid, which the fundamental only leads by the informed traders' short-lived signal)
    step_exogenous(s, p, m, makers_active)  # the makers are inactive only in the warm-up
    if p.revision_ticks > 0.0:  # a portfolio's common quote revisions move the whole book
        revise_quotes(s, p, m, record)
    book = p.price_formation == FORMATION_BOOK
    centre = is_[m, I_BASE] + n // 2
    f = fs[m, F_MID] if book else fs[m, F_FUND]
    if abs(f - centre) > n // 4:
        shift_window(s, m, int(round(f)) - centre)
    if book:
        # 3.-7. with the "book" price formation (mm_gym.market.formation)
        act = step_activity(s, p, m)
        book_liquidity(s, p, m, act)
        book_market_orders(s, p, m, act, record)
    else:
        # 3. background liquidity
        background_liquidity(s, p, m, record)
        # 4.-7. market orders, matching, impact, accounting
        market_orders(s, p, m, record)
    is_[m, I_ONE_SIDED] = 0  # the flag describes the book at the end of the step
    update_mid(s, m)
    # statistics behind the features
    r = fs[m, F_MID] - fs[m, F_PREV_MID]
    for j in range(N_RETURNS - 1, 0, -1):
        rets[m, j] = rets[m, j - 1]
    rets[m, 0] = r
    fs[m, F_VAR] = (1.0 - VAR_EMA) * fs[m, F_VAR] + VAR_EMA * r * r
    signed, absolute = fs[m, F_STEP_SIGNED], fs[m, F_STEP_ABS]
    fs[m, F_FLOW_SIGNED] = (1.0 - FLOW_EMA) * fs[m, F_FLOW_SIGNED] + FLOW_EMA * signed
    fs[m, F_FLOW_ABS] = (1.0 - FLOW_EMA) * fs[m, F_FLOW_ABS] + FLOW_EMA * absolute
    is_[m, I_T] += 1
    write_features(s, p, m)


@nb.njit(cache=True, **NO_RUNTIME)  # see step_one
def reset_one(
    s: MarketState,
    p: MarketParams,
    m: int,
    seed: np.uint64,
    warmup_steps: int,
    quotes: np.ndarray,
) -> None:
    """Start a new episode of market ``m`` from ``seed``: empty book, warm-up, zero accounts."""
    fs, is_, rng = s.fs, s.is_, s.rng
    n = s.bid_vol.shape[1]
    fs[m, :] = 0.0
    fs[m, F_PROTECT_BID] = -math.inf  # no other venue (mm_gym.multivenue sets them per step)
    fs[m, F_PROTECT_ASK] = math.inf
    fs[m, F_ROUTE_BUY_LIMIT] = -math.inf
    fs[m, F_ROUTE_SELL_LIMIT] = math.inf
    is_[m, :] = 0
    s.bid_vol[m, :] = 0
    s.ask_vol[m, :] = 0
    s.orders[m, :, :, :] = 0
    s.acct[m, :, :] = 0.0
    s.others[m, :] = 0.0
    s.rets[m, :] = 0.0
    seed_streams(rng, m, seed)
    aseed = seed_asset_streams(rng, m, seed, p.asset)  # seed itself for asset 0 (one asset)
    seed_venue_streams(rng, m, aseed, p.venue)  # nothing for venue 0 (a single-venue market)
    price0 = p.anchor_ticks
    fs[m, F_FUND] = price0
    fs[m, F_MID] = price0
    fs[m, F_ANCHOR] = price0
    if p.price_formation == FORMATION_BOOK and p.activity_on:
        # the activity components start from their stationary law (the slow one is 3,000 steps)
        sd = math.sqrt(-2.0 * p.act_log_norm / 3.0)
        for j in range(3):
            fs[m, F_ACT_0 + j] = sd * normal(rng, m, STREAM_ACTIVITY)
    start_news(s, p, m)  # a portfolio's clustered news intensity (nothing without)
    fs[m, F_VAR] = p.sigma_ticks * p.sigma_ticks
    is_[m, I_BASE] = int(price0) - n // 2
    is_[m, I_BEST_BID] = -1
    is_[m, I_BEST_ASK] = n
    if p.regime_mode == REGIME_SWITCHING:
        is_[m, I_REGIME] = min(2, int(uniform(rng, m, STREAM_EXO) * 3.0))
    else:
        is_[m, I_REGIME] = p.regime_mode
    off = np.bool_(False)  # not a literal False: the same compiled step_one as the loops
    for _ in range(warmup_steps):
        step_one(s, p, m, quotes, off, off, off)  # np.bool_ flags: see above
    start_episode(s, p, m)


@nb.njit(cache=True, inline="always")
def start_episode(s: MarketState, p: MarketParams, m: int) -> None:
    """End market ``m``'s warm-up: its episode starts here at step 0, flags and records cleared."""
    fs, is_ = s.fs, s.is_
    full_rescan(s, m)
    update_mid(s, m)
    fs[m, F_PREV_MID] = fs[m, F_MID]
    is_[m, I_T] = 0
    is_[m, I_SHOCKS] = 0
    is_[m, I_UNFILLED] = 0
    is_[m, I_SHOCK_STEP] = 0  # per-step flags describe the episode's steps, not the warm-up
    is_[m, I_NEWS] = 0
    is_[m, I_HEADLINE] = -1  # no headline yet in the episode (the warm-up's do not count)
    fs[m, F_HEADLINE_SCORE] = math.nan
    is_[m, I_SHOCK_LEFT] = 0  # a shock started in the warm-up does not spill into the episode
    s.n_fills[m] = 0
    s.n_mos[m] = 0
    write_features(s, p, m)


@nb.njit(cache=True)
def warm_serial(s, p, mask, quotes):  # argument types: see reset_one
    """One warm-up step (makers inactive) of the markets with ``mask[m]``, reset with none.

    With :func:`start_serial` after the last one, what ``reset_one``'s own warm-up does, in
    steps a caller can interleave with its own (:meth:`MarketSimulator.warm_up`; the venues of
    one asset warm up together in one compiled call, :func:`mm_gym.market.venues.warm_up`,
    which the tests check against such steps).
    """
    off = np.bool_(False)
    for m in range(s.fs.shape[0]):
        if mask[m]:
            step_one(s, p, m, quotes, off, off, off)


@nb.njit(cache=True)
def start_serial(s, p, mask):  # argument types: see reset_one
    """Start the episodes of the markets with ``mask[m]`` after :func:`warm_serial`'s warm-up."""
    for m in range(s.fs.shape[0]):
        if mask[m]:
            start_episode(s, p, m)


# The thin loops over markets. numba caches a function by its own name, so the serial and the
# parallel loop are two functions (one per flag set), each a few lines around the one body, which
# all four call with the same argument types (one compile of step_one and of reset_one): the
# market index as int64 (prange's index is unsigned) and the flags as runtime booleans.


@nb.njit(cache=True)
def step_serial(s, p, quotes, active, builtin_rival, record):  # argument types: see step_one
    """Step the markets with ``active[m]`` in a plain loop (small batches, no thread overhead)."""
    for m in range(s.fs.shape[0]):
        if active[m]:
            step_one(s, p, m, quotes, np.bool_(True), builtin_rival, record)


@nb.njit(cache=True, parallel=True)
def step_parallel(s, p, quotes, active, builtin_rival, record):  # argument types: see step_one
    """Step the markets with ``active[m]``, ``prange`` over markets (large batches)."""
    for m in nb.prange(s.fs.shape[0]):
        if active[m]:
            step_one(s, p, np.int64(m), quotes, np.bool_(True), builtin_rival, record)


@nb.njit(cache=True)
def reset_serial(s, p, seeds, mask, warmup_steps, quotes):  # argument types: see reset_one
    """Reset the markets with ``mask[m]`` from ``seeds[m]`` in a plain loop."""
    for m in range(s.fs.shape[0]):
        if mask[m]:
            reset_one(s, p, m, seeds[m], warmup_steps, quotes)


@nb.njit(cache=True, parallel=True)
def reset_parallel(s, p, seeds, mask, warmup_steps, quotes):  # argument types: see reset_one
    """Reset the markets with ``mask[m]`` from ``seeds[m]``, warm-ups in parallel."""
    for m in nb.prange(s.fs.shape[0]):
        if mask[m]:
            reset_one(s, p, np.int64(m), seeds[m], warmup_steps, quotes)
