"""The market state as arrays with a leading dimension ``n_markets``, and its allocation.

Scalars per market live in two tables, ``fs`` (float64) and ``is_`` (int64), addressed by the
column constants below; the books, the makers' orders and accounts are arrays of their own, all
bundled in one :class:`MarketState`. The compiled step (:mod:`mm_gym.market.kernels`) reads and
writes them in place; numba treats the module-level integer constants as compile-time constants.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from mm_gym.market.rng import N_STREAMS
from mm_gym.observations import N_FEATURES_ALL, N_RETURNS

# --- float scalars per market (fs[m, F_*]); prices in ticks (float), money in currency
F_FUND = 0  # fundamental price (hidden from agents)
F_MID = 1  # mid of the book (makers included); the last valid mid if a side is empty
F_PREV_MID = 2  # mid at the start of the step
F_SENT_X = 3  # latent sentiment driver; sentiment s = tanh(x)
F_SENT_OBS = 4  # observed sentiment (EMA of news readings; decaying average of headline scores)
F_HAWKES = 5  # Hawkes excitation of the noise arrival rate (orders per step)
F_FLOW_SIGNED = 6  # EMA of signed market-order lots per step (buys > 0)
F_FLOW_ABS = 7  # EMA of absolute market-order lots per step
F_VAR = 8  # EWMA of squared mid changes (ticks^2 per step)
# "book" price formation only (mm_gym.market.formation)
F_ACT_0 = 9  # three log-OU components of the activity factor (F_ACT_0 .. F_ACT_0 + 2)
F_ACTIVITY = 12  # the activity factor this step (multiplies market, limit and cancel rates)
F_SIGN_EWMA = 13  # EWMA of market-order signs (+1 buy), the adaptive providers' forecast
F_ANCHOR = 14  # mean-reversion anchor (reset to the mid at a regime change), ticks
F_STEP_SIGNED = 15  # signed market-order lots executed this step (buys > 0; not crossing limits)
F_STEP_ABS = 16  # absolute market-order lots executed this step
F_HEADLINE_SCORE = 17  # score of this step's last headline (NaN: none; news_model set only)
# several venues (mm_gym.multivenue): order protection of the takers
F_PROTECT_BID = 18  # the other venues' best bid, ticks (-inf: none, a single venue)
F_PROTECT_ASK = 19  # the other venues' best ask, ticks (+inf: none)
F_ROUTE_BUY_LIMIT = 20  # highest limit of this step's buy lots routed away, ticks
F_ROUTE_SELL_LIMIT = 21  # lowest limit of this step's sell lots routed away, ticks
# a portfolio's clustered common news (mm_gym.market.revision): two log-OU components of the
# log news intensity that scales the revision probability (F_CLUST_0 .. F_CLUST_0 + 1)
F_CLUST_0 = 22
N_FS = 24

# --- int scalars per market (is_[m, I_*])
I_T = 0  # steps since the episode started
I_REGIME = 1  # current regime code (0 mean_reverting, 1 trending, 2 volatile)
I_BASE = 2  # tick of window index 0
I_SHOCK_LEFT = 3  # steps left in the current shock (0: none)
I_SHOCK_SIDE = 4  # side of the current shock's market orders (+1 buy, -1 sell)
I_SEQ = 5  # join-sequence counter for the makers' orders (time priority)
I_ONE_SIDED = 6  # 1 if a side of the book (makers included) was empty at the end of the step
I_SHOCK_STEP = 7  # 1 if a shock sent an order this step
I_BEST_BID = 8  # window index of the best background bid (-1 if none)
I_BEST_ASK = 9  # window index of the best background ask (n_levels if none)
I_NEWS = 10  # news items that arrived this step
I_BG_ARRIVED = 11  # background lots that ever arrived (conservation bookkeeping)
I_BG_CANCELLED = 12  # background lots cancelled (including those dropped off the window)
I_BG_EXECUTED = 13  # background lots executed against
I_SHOCKS = 14  # shocks started in this episode
I_UNFILLED = 15  # market-order lots that found no liquidity (book side empty)
I_BID_LOTS = 16  # background lots resting on the bid side (kept in step with bid_vol)
I_ASK_LOTS = 17  # background lots resting on the ask side
# "book" price formation only: parent metaorders (side +1/-1, child orders left)
MAX_META = 8
I_META_SIDE = 18  # I_META_SIDE .. I_META_SIDE + MAX_META - 1
I_META_LEFT = 18 + MAX_META  # I_META_LEFT .. I_META_LEFT + MAX_META - 1
# headlines (ProcessConfig.news_model set): flat bank indices b * N + j, -1 when none
HEADLINE_CAP = 4  # headlines of one step listed in I_HEADLINES (the rest only count in I_NEWS)
I_HEADLINE = 18 + 2 * MAX_META  # this step's last headline
I_HEADLINES = I_HEADLINE + 1  # this step's first HEADLINE_CAP headlines, in arrival order
# several venues: takers' lots that a better price on another venue sent away this step
I_ROUTED_BUY = I_HEADLINES + HEADLINE_CAP
I_ROUTED_SELL = I_ROUTED_BUY + 1
# a portfolio's common quote revisions: ticks the whole book moved this step (signed)
I_REVISION = I_ROUTED_SELL + 1
N_IS = I_REVISION + 1

# --- makers' orders: orders[m, maker, side, O_*]; side 0 bid, 1 ask
O_TICK = 0
O_SIZE = 1  # remaining lots (0: no order)
O_AHEAD = 2  # background lots ahead of this order at its price (queue position)
O_SEQ = 3  # join sequence (earlier joins first among makers at one price)
N_O = 4

# --- makers' accounts: acct[m, maker, A_*]
A_CASH = 0  # currency
A_INV = 1  # lots (integer-valued)
A_AVG = 2  # average cost of the open position, ticks (0 when flat)
A_REALIZED = 3  # realized PnL by average cost, currency, fees excluded
A_FEES = 4  # rebates received minus fees paid, currency
A_VOLUME = 5  # lots traded in the episode
A_N_FILLS = 6  # fills in the episode
A_STEP_BOUGHT = 7  # lots bought this step
A_STEP_SOLD = 8  # lots sold this step
A_STEP_EDGE = 9  # this step's spread capture: sum of size * |price - mid at fill|, currency
A_STEP_FILLS = 10  # fills this step
A_STEP_PICKED = 11  # lots of it picked off by this step's quote revision (mm_gym.market.revision)
N_A = 12

# --- all other participants together: others[m, X_*]
X_CASH = 0  # traders' and background liquidity's cash
X_INV = 1  # their inventory (lots)
X_EXCHANGE = 2  # the exchange's fee income net of rebates
N_X = 3

# --- per-step records (when record=True)
FILL_CAP = 64  # fills recorded per market per step
R_STEP, R_MAKER, R_SIDE, R_TICK, R_SIZE, R_KIND = range(6)
N_R = 6
MO_CAP = 64  # market orders recorded per market per step (M_SIZE: lots filled, may be 0)
M_SIZE, M_SIDE, M_PRE_MID, M_POST_MID, M_KIND = range(5)
N_M = 5

# aggressor kinds
KIND_NOISE = 0
KIND_INFORMED = 1
KIND_SHOCK = 2
KIND_BACKGROUND = 3  # a marketable background limit order
KIND_ARBITRAGE = 4  # a cross-venue arbitrageur's order (mm_gym.multivenue)
KIND_ROUTED = 5  # a taker's order routed from a venue with a worse price (mm_gym.multivenue)
KIND_PICKOFF = 6  # a taker picking off a maker's stale quote after a revision (unpegged)
KIND_NAMES = ("noise", "informed", "shock", "background", "arbitrage", "routed", "pickoff")

NO_ORDER_TICK = -1


class _StateArrays(NamedTuple):
    fs: np.ndarray  # (n, N_FS) float64
    is_: np.ndarray  # (n, N_IS) int64
    rng: np.ndarray  # (n, N_STREAMS) uint64
    bid_vol: np.ndarray  # (n, n_levels) int64 background lots per tick
    ask_vol: np.ndarray  # (n, n_levels) int64
    orders: np.ndarray  # (n, 2, 2, N_O) int64
    acct: np.ndarray  # (n, 2, N_A) float64
    others: np.ndarray  # (n, N_X) float64
    rets: np.ndarray  # (n, N_RETURNS) float64, newest first
    features: np.ndarray  # (n, 2, N_FEATURES_ALL) float32, from each maker's point of view
    fills: np.ndarray  # (n, FILL_CAP, N_R) int64, this step's maker fills
    n_fills: np.ndarray  # (n,) int64, this step's maker fills (may exceed FILL_CAP)
    mos: np.ndarray  # (n, MO_CAP, N_M) float64, this step's market orders
    n_mos: np.ndarray  # (n,) int64, this step's market orders (may exceed MO_CAP)
    # not per market: the headline bank's scores[B, N], read-only to the kernels; (1, 1) zeros
    # without headlines (mm_gym.news.HeadlineBank.scores, copied once at construction)
    news_scores: np.ndarray
    # not per market either: a replayed headline file (ProcessConfig.news_file), read-only to the
    # kernels. The headlines of kernel step i (env step i + 1) are entries
    # news_replay_start[i] .. news_replay_start[i + 1] - 1 of news_replay_scores (their scores)
    # and news_replay_rows (their rows in the file, recorded as the headline index); without a
    # file start is [0] (no step has headlines) and the others are empty
    news_replay_start: np.ndarray  # (horizon_steps + 1,) int64, non-decreasing
    news_replay_scores: np.ndarray  # (n_headlines,) float64
    news_replay_rows: np.ndarray  # (n_headlines,) int64


class MarketState(_StateArrays):
    """All arrays of ``n_markets`` markets, the one argument every kernel takes.

    A ``NamedTuple`` of arrays: numba passes it as a heterogeneous tuple (``state.fs`` in
    compiled code is a field read) and caches kernels typed on it. See the column constants of
    this module for the layout. Every array has the leading dimension ``n_markets`` except
    ``news_scores``, the headline bank shared by all markets. The simulator's public, read-only
    views (:mod:`mm_gym.market.views`) are the way to read it from outside the market package.
    """

    @property
    def n_markets(self) -> int:
        """Number of markets."""
        return int(self.fs.shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes held by all the arrays."""
        return sum(a.nbytes for a in self)


def allocate(
    n_markets: int,
    n_levels: int,
    news_scores: np.ndarray | None = None,
    news_replay: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> MarketState:
    """Allocate zeroed state arrays for ``n_markets`` markets with ``n_levels`` price levels.

    ``news_scores`` is the headline bank's ``scores[B, N]`` (copied; None: no headlines);
    ``news_replay`` the replayed file's ``(start, scores, rows)`` (copied; None: no file; see
    :class:`MarketState` and :meth:`mm_gym.news.HeadlineReplay.kernel_arrays`).
    """
    n = n_markets
    scores = np.zeros((1, 1)) if news_scores is None else news_scores
    scores = np.array(scores, dtype=np.float64, order="C", copy=True)
    if news_replay is None:
        news_replay = (np.zeros(1, np.int64), np.zeros(0, np.float64), np.zeros(0, np.int64))
    start, replay_scores, rows = (
        np.array(a, dtype=t, order="C", copy=True)
        for a, t in zip(news_replay, (np.int64, np.float64, np.int64), strict=True)
    )
    state = MarketState(
        fs=np.zeros((n, N_FS), np.float64),
        is_=np.zeros((n, N_IS), np.int64),
        rng=np.zeros((n, N_STREAMS), np.uint64),
        bid_vol=np.zeros((n, n_levels), np.int64),
        ask_vol=np.zeros((n, n_levels), np.int64),
        orders=np.zeros((n, 2, 2, N_O), np.int64),
        acct=np.zeros((n, 2, N_A), np.float64),
        others=np.zeros((n, N_X), np.float64),
        rets=np.zeros((n, N_RETURNS), np.float64),
        features=np.zeros((n, 2, N_FEATURES_ALL), np.float32),
        fills=np.zeros((n, FILL_CAP, N_R), np.int64),
        n_fills=np.zeros(n, np.int64),
        mos=np.zeros((n, MO_CAP, N_M), np.float64),
        n_mos=np.zeros(n, np.int64),
        news_scores=scores,
        news_replay_start=start,
        news_replay_scores=replay_scores,
        news_replay_rows=rows,
    )
    return state
