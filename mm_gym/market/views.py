"""Typed, read-only views of a :class:`~mm_gym.market.MarketSimulator`'s state.

The simulator keeps ``n_markets`` markets in arrays (:class:`~mm_gym.market.state.MarketState`);
these classes name what is in them, so that code outside the market package never indexes a
column constant. Arrays marked *live* are read-only numpy views of the state: they are made once,
cost nothing to read, and show the values after the latest ``reset``/``step`` (copy them to keep
a snapshot). Everything else (``best_bid``, ``total_pnl``, ``records()``...) is computed on each
access and returned as a new array.

Units: prices in ticks (multiply by ``tick_size`` for currency), sizes in lots, money in
currency. Makers are indexed 0 (mm1) and 1 (mm2); order sides 0 (bid) and 1 (ask); aggressor
sides +1 (buy) and -1 (sell).

Pickling a view pickles the state it reads (shared with the simulator in the same pickle), not
copies of its arrays.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import numpy as np

from mm_gym.market import state as _s
from mm_gym.market.state import (
    KIND_ARBITRAGE,
    KIND_BACKGROUND,
    KIND_INFORMED,
    KIND_NAMES,
    KIND_NOISE,
    KIND_PICKOFF,
    KIND_ROUTED,
    KIND_SHOCK,
    MarketState,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FILL_DTYPE",
    "KIND_ARBITRAGE",
    "KIND_BACKGROUND",
    "KIND_INFORMED",
    "KIND_NAMES",
    "KIND_NOISE",
    "KIND_PICKOFF",
    "KIND_ROUTED",
    "KIND_SHOCK",
    "MARKET_ORDER_DTYPE",
    "AccountsView",
    "BookDepth",
    "BookView",
    "FillsView",
    "MakerOrdersView",
    "MarketOrdersView",
    "ScalarsView",
]


def _ro(a: np.ndarray) -> np.ndarray:
    """A read-only view of ``a`` (``a`` itself stays writable for the kernels)."""
    v = a.view()
    v.flags.writeable = False
    return v


class _View:
    """Base of the views: holds the state; pickles as ``(class, (state, *extra))``."""

    __slots__ = ("_state",)

    def __init__(self, state: MarketState) -> None:
        self._state = state

    def _args(self) -> tuple[Any, ...]:
        return (self._state,)

    def __reduce__(self) -> tuple[type, tuple[Any, ...]]:
        """Rebuild from the state (the arrays are pickled once, with the state)."""
        return (type(self), self._args())

    @property
    def n_markets(self) -> int:
        """Number of markets."""
        return self._state.n_markets


class BookDepth(NamedTuple):
    """Lots per tick on each side of one market, nearest the mid first.

    Attributes:
        bid_ticks: ``(depth,)`` int64 ticks below the mid, descending.
        bid_lots: ``(depth,)`` int64 lots resting at those ticks.
        ask_ticks: ``(depth,)`` int64 ticks above the mid, ascending.
        ask_lots: ``(depth,)`` int64 lots resting at those ticks.
    """

    bid_ticks: np.ndarray
    bid_lots: np.ndarray
    ask_ticks: np.ndarray
    ask_lots: np.ndarray


class BookView(_View):
    """The books: the mid, the best prices and the depth ladder.

    Attributes:
        mid: Live ``(n,)`` float64 mid, ticks (the last valid mid while a side is empty).
        base_tick: Live ``(n,)`` int64 tick of price-window index 0.
        background_bid_lots: Live ``(n, n_levels)`` int64 background (non-maker) bid lots per
            window index (tick ``base_tick + i``).
        background_ask_lots: Live ``(n, n_levels)`` int64, the same for asks.
        background_best_bid_index: Live ``(n,)`` int64 window index of the best background bid
            (the highest index with ``background_bid_lots > 0``; -1 if there is none). Its tick
            is ``base_tick + index``; the makers' orders are not included (see ``best_bid``).
        background_best_ask_index: Live ``(n,)`` int64 window index of the best background ask
            (the lowest index with ``background_ask_lots > 0``; ``n_levels`` if there is none).
    """

    __slots__ = (
        "background_ask_lots",
        "background_best_ask_index",
        "background_best_bid_index",
        "background_bid_lots",
        "base_tick",
        "mid",
    )

    def __init__(self, state: MarketState) -> None:
        """Make the live views of ``state``."""
        super().__init__(state)
        self.mid = _ro(state.fs[:, _s.F_MID])
        self.base_tick = _ro(state.is_[:, _s.I_BASE])
        self.background_bid_lots = _ro(state.bid_vol)
        self.background_ask_lots = _ro(state.ask_vol)
        self.background_best_bid_index = _ro(state.is_[:, _s.I_BEST_BID])
        self.background_best_ask_index = _ro(state.is_[:, _s.I_BEST_ASK])

    @property
    def n_levels(self) -> int:
        """Ticks in each market's price window."""
        return int(self._state.bid_vol.shape[1])

    def _best(self, side: int) -> np.ndarray:
        s = self._state
        i = s.is_[:, _s.I_BEST_BID if side == 0 else _s.I_BEST_ASK]
        empty = i < 0 if side == 0 else i >= self.n_levels
        best = np.where(empty, np.nan, (s.is_[:, _s.I_BASE] + i).astype(np.float64))
        for k in range(2):
            o = s.orders[:, k, side]
            tick = np.where(o[:, _s.O_SIZE] > 0, o[:, _s.O_TICK].astype(np.float64), np.nan)
            best = np.fmax(best, tick) if side == 0 else np.fmin(best, tick)
        return best

    @property
    def best_bid(self) -> np.ndarray:
        """``(n,)`` float64 best bid, ticks, makers' orders included; NaN if the side is empty."""
        return self._best(0)

    @property
    def best_ask(self) -> np.ndarray:
        """``(n,)`` float64 best ask, ticks, makers' orders included; NaN if the side is empty."""
        return self._best(1)

    @property
    def spread(self) -> np.ndarray:
        """``(n,)`` float64 best ask - best bid, ticks; NaN if a side is empty."""
        return self.best_ask - self.best_bid

    def depth(self, m: int, levels: int = 10, *, makers: bool = False) -> BookDepth:
        """The ``levels`` ticks below and above the mid of market ``m`` and the lots there.

        Bids start at ``ceil(mid) - 1`` and asks at ``floor(mid) + 1`` (at a one-tick spread,
        the best prices); ticks outside the price window hold nothing.

        Args:
            m: Market index.
            levels: Ticks per side.
            makers: Add the makers' resting lots to the background lots.
        """
        s = self._state
        base = int(s.is_[m, _s.I_BASE])
        mid = float(s.fs[m, _s.F_MID])
        n = self.n_levels
        bt = np.arange(int(np.ceil(mid)) - 1, int(np.ceil(mid)) - 1 - levels, -1)
        at = np.arange(int(np.floor(mid)) + 1, int(np.floor(mid)) + 1 + levels)
        bi = bt - base
        ai = at - base
        b_in = (bi >= 0) & (bi < n)
        a_in = (ai >= 0) & (ai < n)
        bid_lots = np.where(b_in, s.bid_vol[m, np.clip(bi, 0, n - 1)], 0)
        ask_lots = np.where(a_in, s.ask_vol[m, np.clip(ai, 0, n - 1)], 0)
        if makers:
            for k in range(2):
                for side, ticks, lots in ((0, bt, bid_lots), (1, at, ask_lots)):
                    o = s.orders[m, k, side]
                    if o[_s.O_SIZE] > 0:
                        lots += np.where(ticks == o[_s.O_TICK], o[_s.O_SIZE], 0)
        return BookDepth(bt, bid_lots, at, ask_lots)


class MakerOrdersView(_View):
    """The makers' resting orders, one per maker and side: arrays ``(n, 2 makers, 2 sides)``.

    Attributes:
        tick: Live int64 price, ticks (meaningless where ``size == 0``).
        size: Live int64 remaining lots (0: no order rests).
        ahead: Live int64 background lots ahead in the queue at that price.
        seq: Live int64 join sequence (earlier joins fill first among makers at one price).
    """

    __slots__ = ("ahead", "seq", "size", "tick")

    def __init__(self, state: MarketState) -> None:
        """Make the live views of ``state``."""
        super().__init__(state)
        o = state.orders
        self.tick = _ro(o[..., _s.O_TICK])
        self.size = _ro(o[..., _s.O_SIZE])
        self.ahead = _ro(o[..., _s.O_AHEAD])
        self.seq = _ro(o[..., _s.O_SEQ])

    @property
    def resting(self) -> np.ndarray:
        """``(n, 2, 2)`` bool: an order rests (``size > 0``)."""
        return self.size > 0


class AccountsView(_View):
    """The makers' accounts: arrays ``(n, 2)``, column 0 mm1, column 1 mm2.

    Attributes:
        cash: Live float64 cash, currency (rebates and fees included).
        inventory: Live float64 inventory, lots (integer-valued).
        avg_cost: Live float64 average cost of the open position, ticks (0 when flat).
        realized: Live float64 realized PnL by average cost, currency, fees excluded.
        fees: Live float64 rebates received minus fees paid, currency.
        volume: Live float64 lots traded in the episode.
        n_fills: Live float64 fills in the episode.
        step_bought: Live float64 lots bought in the last step.
        step_sold: Live float64 lots sold in the last step.
        step_edge: Live float64 last step's spread capture, ``sum size * |price - mid|``,
            currency.
        step_fills: Live float64 fills in the last step.
        step_picked: Live float64 lots of the last step's fills that its quote revision
            picked off (an unpegged portfolio's asset, :mod:`mm_gym.market.revision`).
        others_cash: Live ``(n,)`` float64 cash of all other participants (traders and
            background liquidity).
        others_inventory: Live ``(n,)`` float64 their inventory, lots.
        exchange_income: Live ``(n,)`` float64 the exchange's fees net of rebates, currency.
    """

    __slots__ = (
        "_value",
        "avg_cost",
        "cash",
        "exchange_income",
        "fees",
        "inventory",
        "n_fills",
        "others_cash",
        "others_inventory",
        "realized",
        "step_bought",
        "step_edge",
        "step_fills",
        "step_picked",
        "step_sold",
        "volume",
    )

    def __init__(self, state: MarketState, value_per_tick_lot: float) -> None:
        """Make the live views of ``state``; ``value_per_tick_lot`` = tick size x lot size."""
        super().__init__(state)
        self._value = float(value_per_tick_lot)
        a = state.acct
        self.cash = _ro(a[:, :, _s.A_CASH])
        self.inventory = _ro(a[:, :, _s.A_INV])
        self.avg_cost = _ro(a[:, :, _s.A_AVG])
        self.realized = _ro(a[:, :, _s.A_REALIZED])
        self.fees = _ro(a[:, :, _s.A_FEES])
        self.volume = _ro(a[:, :, _s.A_VOLUME])
        self.n_fills = _ro(a[:, :, _s.A_N_FILLS])
        self.step_bought = _ro(a[:, :, _s.A_STEP_BOUGHT])
        self.step_sold = _ro(a[:, :, _s.A_STEP_SOLD])
        self.step_edge = _ro(a[:, :, _s.A_STEP_EDGE])
        self.step_fills = _ro(a[:, :, _s.A_STEP_FILLS])
        self.step_picked = _ro(a[:, :, _s.A_STEP_PICKED])
        self.others_cash = _ro(state.others[:, _s.X_CASH])
        self.others_inventory = _ro(state.others[:, _s.X_INV])
        self.exchange_income = _ro(state.others[:, _s.X_EXCHANGE])

    def _args(self) -> tuple[Any, ...]:
        return (self._state, self._value)

    @property
    def value_per_tick_lot(self) -> float:
        """Currency per tick per lot (tick size x lot size)."""
        return self._value

    @property
    def unrealized(self) -> np.ndarray:
        """``(n, 2)`` unrealized PnL ``inventory x (mid - avg_cost)``, currency."""
        a = self._state.acct
        return (
            a[:, :, _s.A_INV]
            * (self._state.fs[:, _s.F_MID, None] - a[:, :, _s.A_AVG])
            * self._value
        )

    @property
    def total_pnl(self) -> np.ndarray:
        """``(n, 2)`` mark-to-market PnL ``cash + inventory x mid``, currency."""
        a = self._state.acct
        return (
            a[:, :, _s.A_CASH] + a[:, :, _s.A_INV] * self._state.fs[:, _s.F_MID, None] * self._value
        )


FILL_DTYPE = np.dtype(
    [
        ("step", np.int64),
        ("market", np.int64),
        ("maker", np.int64),
        ("side", np.int64),
        ("price_ticks", np.int64),
        ("size_lots", np.int64),
        ("kind", np.int64),
    ]
)
"""One maker fill: step (of the episode, before the step's increment), market, maker (0 mm1,
1 mm2), side of the maker's resting order (0 bid: the maker bought, 1 ask), price, lots, the
aggressor's kind (index into ``KIND_NAMES``)."""

MARKET_ORDER_DTYPE = np.dtype(
    [
        ("market", np.int64),
        ("size_lots", np.float64),
        ("side", np.int64),
        ("kind", np.int64),
        ("pre_mid", np.float64),
        ("post_mid", np.float64),
    ]
)
"""One market order: market, lots filled (may be 0), side (+1 buy, -1 sell), kind (index into
``KIND_NAMES``), mid before and after it, ticks."""


class _RecordsView(_View):
    """Per-step records: a ``(n, capacity, columns)`` table and a count per market."""

    __slots__ = ("count", "table")
    capacity: ClassVar[int]
    _dtype: ClassVar[np.dtype]
    _columns: ClassVar[dict[str, tuple[str, int]]]  # attribute -> (record field, table column)

    def __init__(self, state: MarketState, table: np.ndarray, count: np.ndarray) -> None:
        super().__init__(state)
        self.table = _ro(table)
        self.count = _ro(count)
        for attr, (_, col) in self._columns.items():
            setattr(self, attr, _ro(table[:, :, col]))

    def records(self) -> np.ndarray:
        """All records of the last step, market by market, as a record array."""
        cap = self.capacity
        k = np.minimum(self.count, cap)
        rows = self.table[np.arange(cap)[None, :] < k[:, None]]
        out = np.empty(rows.shape[0], self._dtype)
        out["market"] = np.repeat(np.arange(self.table.shape[0]), k)
        for field, col in self._columns.values():
            out[field] = rows[:, col]
        return out

    def to_frame(self) -> pd.DataFrame:
        """:meth:`records` as a DataFrame, ``kind`` as its name (``"noise"``...)."""
        import pandas as pd

        df = pd.DataFrame(self.records())
        df["kind"] = [KIND_NAMES[int(k)] for k in df["kind"]]
        return df


class FillsView(_RecordsView):
    """The makers' fills of the last step (recorded only while the simulator's ``record`` is on).

    Row ``j < min(count[m], capacity)`` of each ``(n, capacity)`` array is market ``m``'s
    ``j``-th fill in the step; :meth:`records` (:data:`FILL_DTYPE`) and :meth:`to_frame` list
    them all.

    Attributes:
        count: Live ``(n,)`` int64 fills in the last step (may exceed ``capacity``; the rest
            were not recorded).
        step: Live ``(n, capacity)`` int64 step of the episode the fill happened in (0-based).
        maker: Live ``(n, capacity)`` int64 maker (0 mm1, 1 mm2).
        side: Live ``(n, capacity)`` int64 side of the maker's order (0 bid, 1 ask).
        tick: Live ``(n, capacity)`` int64 price, ticks.
        size: Live ``(n, capacity)`` int64 lots.
        kind: Live ``(n, capacity)`` int64 aggressor kind (index into ``KIND_NAMES``).
        table: Live ``(n, capacity, 6)`` int64 all of the above as columns step, maker, side,
            tick, size, kind.
    """

    __slots__ = ("kind", "maker", "side", "size", "step", "tick")
    capacity: ClassVar[int] = _s.FILL_CAP  # fills recorded per market per step
    _dtype = FILL_DTYPE
    _columns: ClassVar[dict[str, tuple[str, int]]] = {
        "step": ("step", _s.R_STEP),
        "maker": ("maker", _s.R_MAKER),
        "side": ("side", _s.R_SIDE),
        "tick": ("price_ticks", _s.R_TICK),
        "size": ("size_lots", _s.R_SIZE),
        "kind": ("kind", _s.R_KIND),
    }
    step: np.ndarray
    maker: np.ndarray
    side: np.ndarray
    tick: np.ndarray
    size: np.ndarray
    kind: np.ndarray

    def __init__(self, state: MarketState) -> None:
        """Make the live views of ``state``."""
        super().__init__(state, state.fills, state.n_fills)


class MarketOrdersView(_RecordsView):
    """The market orders of the last step (recorded only while ``record`` is on).

    Background limit orders that crossed appear too (kind ``background``) when they filled, and
    routed orders (kind ``routed``, several venues) only when they filled: a taker's order that
    found no liquidity is recorded with 0 lots.
    Row ``j < min(count[m], capacity)`` of each ``(n, capacity)`` array is market ``m``'s
    ``j``-th order in the step; :meth:`records` (:data:`MARKET_ORDER_DTYPE`) and
    :meth:`to_frame` list them all.

    Attributes:
        count: Live ``(n,)`` int64 orders in the last step (may exceed ``capacity``).
        size: Live ``(n, capacity)`` float64 lots filled (0 if the book side was empty).
        side: Live ``(n, capacity)`` float64 +1 buy, -1 sell.
        kind: Live ``(n, capacity)`` float64 kind (index into ``KIND_NAMES``).
        pre_mid: Live ``(n, capacity)`` float64 mid before the order, ticks.
        post_mid: Live ``(n, capacity)`` float64 mid after it, ticks.
        table: Live ``(n, capacity, 5)`` float64 as columns size, side, pre_mid, post_mid,
            kind.
    """

    __slots__ = ("kind", "post_mid", "pre_mid", "side", "size")
    capacity: ClassVar[int] = _s.MO_CAP  # market orders recorded per market per step
    _dtype = MARKET_ORDER_DTYPE
    _columns: ClassVar[dict[str, tuple[str, int]]] = {
        "size": ("size_lots", _s.M_SIZE),
        "side": ("side", _s.M_SIDE),
        "kind": ("kind", _s.M_KIND),
        "pre_mid": ("pre_mid", _s.M_PRE_MID),
        "post_mid": ("post_mid", _s.M_POST_MID),
    }
    size: np.ndarray
    side: np.ndarray
    kind: np.ndarray
    pre_mid: np.ndarray
    post_mid: np.ndarray

    def __init__(self, state: MarketState) -> None:
        """Make the live views of ``state``."""
        super().__init__(state, state.mos, state.n_mos)


class ScalarsView(_View):
    """The scalar state of each market: arrays ``(n,)``.

    Attributes:
        t: Live int64 steps since the episode started.
        regime: Live int64 regime code (index into ``mm_gym.config.REGIMES``).
        one_sided: Live int64 1 if a side of the book (makers included) was empty at the end of
            the last step.
        shock_step: Live int64 1 if a liquidity shock sent an order in the last step.
        shock_steps_left: Live int64 steps left in the current shock (0: none).
        shock_side: Live int64 side of the current shock's orders (+1 buy, -1 sell).
        shocks: Live int64 shocks started in the episode.
        news: Live int64 news items that arrived in the last step.
        headline: Live int64 flat bank index ``b * N + j`` of the last step's last headline, -1
            if none (always -1 without ``process.news_model``).
        headline_score: Live float64 that headline's score, NaN if none.
        unfilled_lots: Live int64 market-order lots in the episode that found no liquidity.
        routed_buy_lots: Live int64 takers' buy lots of the last step that a better price on
            another venue sent away and that have not executed there (several venues only).
        routed_sell_lots: Live int64 the same for sells.
        protect_bid: Live float64 the other venues' best bid the takers may not trade through,
            ticks (-inf: a single venue).
        protect_ask: Live float64 the other venues' best ask, ticks (+inf: a single venue).
        background_arrived: Live int64 background lots that arrived (since the reset, warm-up
            included).
        background_cancelled: Live int64 background lots cancelled (or dropped off the window).
        background_executed: Live int64 background lots executed against.
        mid: Live float64 mid, ticks.
        prev_mid: Live float64 mid at the start of the last step, ticks.
        sentiment: Live float64 observed sentiment (EMA of news readings, or decaying average
            of headline scores), in [-1, 1].
        fundamental: Live float64 fundamental price, ticks (hidden from agents; diagnostics).
        hawkes_excitation: Live float64 Hawkes excitation of the noise rate, orders per step.
        flow_signed: Live float64 EMA of signed market-order lots per step (buys > 0).
        flow_abs: Live float64 EMA of absolute market-order lots per step.
        variance: Live float64 EWMA of squared mid changes, ticks^2 per step.
    """

    __slots__ = (
        "background_arrived",
        "background_cancelled",
        "background_executed",
        "flow_abs",
        "flow_signed",
        "fundamental",
        "hawkes_excitation",
        "headline",
        "headline_score",
        "mid",
        "news",
        "one_sided",
        "prev_mid",
        "protect_ask",
        "protect_bid",
        "regime",
        "routed_buy_lots",
        "routed_sell_lots",
        "sentiment",
        "shock_side",
        "shock_step",
        "shock_steps_left",
        "shocks",
        "t",
        "unfilled_lots",
        "variance",
    )

    def __init__(self, state: MarketState) -> None:
        """Make the live views of ``state``."""
        super().__init__(state)
        i, f = state.is_, state.fs
        self.t = _ro(i[:, _s.I_T])
        self.regime = _ro(i[:, _s.I_REGIME])
        self.one_sided = _ro(i[:, _s.I_ONE_SIDED])
        self.shock_step = _ro(i[:, _s.I_SHOCK_STEP])
        self.shock_steps_left = _ro(i[:, _s.I_SHOCK_LEFT])
        self.shock_side = _ro(i[:, _s.I_SHOCK_SIDE])
        self.shocks = _ro(i[:, _s.I_SHOCKS])
        self.news = _ro(i[:, _s.I_NEWS])
        self.headline = _ro(i[:, _s.I_HEADLINE])
        self.headline_score = _ro(f[:, _s.F_HEADLINE_SCORE])
        self.unfilled_lots = _ro(i[:, _s.I_UNFILLED])
        self.routed_buy_lots = _ro(i[:, _s.I_ROUTED_BUY])
        self.routed_sell_lots = _ro(i[:, _s.I_ROUTED_SELL])
        self.protect_bid = _ro(f[:, _s.F_PROTECT_BID])
        self.protect_ask = _ro(f[:, _s.F_PROTECT_ASK])
        self.background_arrived = _ro(i[:, _s.I_BG_ARRIVED])
        self.background_cancelled = _ro(i[:, _s.I_BG_CANCELLED])
        self.background_executed = _ro(i[:, _s.I_BG_EXECUTED])
        self.mid = _ro(f[:, _s.F_MID])
        self.prev_mid = _ro(f[:, _s.F_PREV_MID])
        self.sentiment = _ro(f[:, _s.F_SENT_OBS])
        self.fundamental = _ro(f[:, _s.F_FUND])
        self.hawkes_excitation = _ro(f[:, _s.F_HAWKES])
        self.flow_signed = _ro(f[:, _s.F_FLOW_SIGNED])
        self.flow_abs = _ro(f[:, _s.F_FLOW_ABS])
        self.variance = _ro(f[:, _s.F_VAR])

    def headlines(self, m: int) -> np.ndarray:
        """The flat bank indices of market ``m``'s headlines in the last step, in arrival order.

        A copy of the first :data:`~mm_gym.market.state.HEADLINE_CAP` (4) of them; more in one
        step (about once in 4 * 10**8 steps at the default ``news_rate`` of 0.05) still count in
        :attr:`news` and in the observed sentiment, and the last is :attr:`headline`. Empty
        without headlines.
        """
        i = self._state.is_
        if i[m, _s.I_HEADLINE] < 0:
            return np.zeros(0, np.int64)
        k = min(int(i[m, _s.I_NEWS]), _s.HEADLINE_CAP)
        return i[m, _s.I_HEADLINES : _s.I_HEADLINES + k].copy()

    @property
    def latent_sentiment(self) -> np.ndarray:
        """``(n,)`` latent sentiment ``tanh(x)`` (hidden from agents; diagnostics)."""
        return np.tanh(self._state.fs[:, _s.F_SENT_X])
