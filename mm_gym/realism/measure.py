"""Run one book preset under fixed quotes and record what the realism estimators need.

The protocol (the same for every preset, so presets compare): ``n_markets`` markets, seeds
``seed, seed + 1, ...``; after the reset's own warm-up, ``burn_in_steps`` steps are run and
discarded (sentiment and the regime chain relax to their stationary laws on a few hundred
steps), then ``n_steps`` steps are recorded. Both makers quote 1 lot 2 ticks either side of the
mid every step and the built-in rival is off, so the makers are passive, symmetric and small: they
take part in the book (as any maker would) but steer nothing.

Everything that reads the simulator's internals is in :class:`_Recorder`; the rest of the package
sees plain arrays (:class:`Measurement`). When ``mm_gym.market`` exposes public read-only views
of the book and of the recorded orders, only :class:`_Recorder` has to change.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mm_gym.config import MarketConfig

__all__ = [
    "DEPTH_LEVELS",
    "QUOTE_LOTS",
    "QUOTE_OFFSET_TICKS",
    "Measurement",
    "OrderRecords",
    "estimate_bytes",
    "measure_preset",
]

QUOTE_OFFSET_TICKS = 2.0
"""Distance of both makers' quotes from the mid, ticks."""
QUOTE_LOTS = 1
"""Size of each of the makers' quotes, lots."""
DEPTH_LEVELS = 20
"""Levels of the depth profile, counted from each side's best background price."""
BYTES_PER_MARKET_STEP = 400
"""Rough peak memory of a measurement plus its analysis per market-step (recorded series, order
records at about 3 orders per step, and the estimators' temporaries), for the memory check."""


@dataclass
class OrderRecords:
    """The market orders of a measurement, one entry per order, in time order within a market.

    Attributes:
        market: Market index.
        step: Step index within the recorded window.
        size_lots: Lots executed (0: the order found no liquidity).
        side: +1 buy, -1 sell.
        kind: Aggressor kind (``mm_gym.market.state.KIND_NAMES``: noise, informed, shock,
            background = a marketable background limit order).
        pre_mid_ticks: Mid just before the order, ticks.
        impact_ticks: ``side * (mid after - mid before)``, ticks.
    """

    market: np.ndarray
    step: np.ndarray
    size_lots: np.ndarray
    side: np.ndarray
    kind: np.ndarray
    pre_mid_ticks: np.ndarray
    impact_ticks: np.ndarray

    def __len__(self) -> int:
        """Number of orders."""
        return int(self.market.size)


@dataclass
class Measurement:
    """What one preset's run recorded (arrays ``(n_markets, n_steps)`` unless noted).

    Attributes:
        preset: Preset name.
        n_markets: Markets.
        n_steps: Recorded steps per market (after the burn-in).
        burn_in_steps: Steps run and discarded before recording.
        seed: Seed of market 0 (market ``m`` has ``seed + m``).
        mid_start_ticks: ``(n_markets,)`` mid before the first recorded step, ticks.
        mid_ticks: Mid at the end of each step, ticks.
        fundamental_ticks: Hidden fundamental at the end of each step, ticks.
        sentiment: Observed sentiment at the end of each step, in [-1, 1].
        regime: Regime code per step (0 mean_reverting, 1 trending, 2 volatile).
        spread_ticks: Best ask - best bid (makers included) at the end of each step, ticks; 0
            where a side was empty.
        empty_side_steps: ``(n_markets,)`` steps that ended with a side of the *background* book
            empty (the makers' own orders do not count: the market must not need them).
        one_sided_steps: ``(n_markets,)`` steps the simulator flagged one-sided (makers
            included; the mid then keeps its last valid value).
        depth_sum_lots: ``(n_markets, DEPTH_LEVELS)`` background lots summed over steps and both
            sides at 0, 1, ... ticks behind the same side's best background price.
        depth_snapshots: ``(n_markets,)`` snapshots times sides added into ``depth_sum_lots``.
        orders: The recorded market orders.
        orders_lost: Market orders beyond the simulator's per-step record capacity (not in
            ``orders``).
        elapsed_s: Wall time of the run, seconds.
    """

    preset: str
    n_markets: int
    n_steps: int
    burn_in_steps: int
    seed: int
    mid_start_ticks: np.ndarray
    mid_ticks: np.ndarray
    fundamental_ticks: np.ndarray
    sentiment: np.ndarray
    regime: np.ndarray
    spread_ticks: np.ndarray
    empty_side_steps: np.ndarray
    one_sided_steps: np.ndarray
    depth_sum_lots: np.ndarray
    depth_snapshots: np.ndarray
    orders: OrderRecords
    orders_lost: int = 0
    elapsed_s: float = 0.0

    @property
    def returns_ticks(self) -> np.ndarray:
        """One-step mid returns ``(n_markets, n_steps)``, ticks."""
        return np.diff(self.mid_ticks, axis=1, prepend=self.mid_start_ticks[:, None])

    @property
    def market_steps(self) -> int:
        """Recorded market-steps."""
        return self.n_markets * self.n_steps


class _Recorder:
    """The only reader of the simulator's internals (``sim.state`` and its column constants).

    Public views are used where the simulator has them (``mid``, ``fundamental``, ``sentiment``,
    ``regime``); the best prices, the background depth, the one-sided flag and the recorded
    market orders come from the state arrays of :mod:`mm_gym.market.state`, read-only.
    """

    def __init__(self, sim: object, depth_levels: int) -> None:
        from mm_gym.market import state as st

        self._st = st
        self.sim = sim
        self.state = sim.state  # type: ignore[attr-defined]
        self.n_levels = int(self.state.bid_vol.shape[1])
        self.depth_offsets = np.arange(depth_levels)
        self.mo_cap = int(st.MO_CAP)
        self._slots = np.arange(self.mo_cap)

    # --- public views
    def mid(self) -> np.ndarray:
        """Mid per market, ticks (a copy)."""
        return np.array(self.sim.mid, np.float64)  # type: ignore[attr-defined]

    def exogenous(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(fundamental, observed sentiment, regime)`` per market (copies)."""
        sim = self.sim
        return (
            np.array(sim.fundamental, np.float64),  # type: ignore[attr-defined]
            np.array(sim.sentiment, np.float64),  # type: ignore[attr-defined]
            np.array(sim.regime, np.int8),  # type: ignore[attr-defined]
        )

    # --- internals
    def book(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(spread_ticks, background_side_empty, one_sided_flag, depth_lots)`` per market.

        ``spread_ticks`` includes the makers' orders (as the simulator's mid does) and is 0 where
        a side is empty; ``depth_lots`` is ``(n, DEPTH_LEVELS)``, bid and ask added, by distance
        from each side's best background price.
        """
        st, s = self._st, self.state
        n = self.n_levels
        base = s.is_[:, st.I_BASE]
        ib = s.is_[:, st.I_BEST_BID]
        ia = s.is_[:, st.I_BEST_ASK]
        bid_bg_empty = ib < 0
        ask_bg_empty = ia >= n
        # The book's best prices include the makers' resting orders (mirrors book.best_tick).
        big = np.iinfo(np.int64).max // 4
        best_bid = np.where(bid_bg_empty, -big, base + ib)
        best_ask = np.where(ask_bg_empty, big, base + ia)
        o = s.orders
        for k in range(2):
            live_b = o[:, k, 0, st.O_SIZE] > 0
            live_a = o[:, k, 1, st.O_SIZE] > 0
            best_bid = np.where(live_b, np.maximum(best_bid, o[:, k, 0, st.O_TICK]), best_bid)
            best_ask = np.where(live_a, np.minimum(best_ask, o[:, k, 1, st.O_TICK]), best_ask)
        two_sided = (best_bid > -big) & (best_ask < big)
        spread = np.where(two_sided, best_ask - best_bid, 0)
        # Background depth behind each side's own best, so the profile's shape does not depend
        # on the spread (Bouchaud, Mezard & Potters 2002 measure it the same way).
        bi = ib[:, None] - self.depth_offsets
        ai = ia[:, None] + self.depth_offsets
        bid_lots = np.where(bi >= 0, np.take_along_axis(s.bid_vol, np.clip(bi, 0, n - 1), 1), 0)
        ask_lots = np.where(ai < n, np.take_along_axis(s.ask_vol, np.clip(ai, 0, n - 1), 1), 0)
        bid_lots[bid_bg_empty] = 0
        ask_lots[ask_bg_empty] = 0
        return (
            spread,
            bid_bg_empty | ask_bg_empty,
            s.is_[:, st.I_ONE_SIDED] != 0,
            bid_lots + ask_lots,
        )

    def market_orders(self) -> tuple[np.ndarray, np.ndarray, int]:
        """This step's recorded market orders.

        Returns:
            ``(market, records, lost)``: market index per order, ``(k, N_M)`` records (columns
            ``M_SIZE, M_SIDE, M_PRE_MID, M_POST_MID, M_KIND``), and how many orders exceeded the
            record capacity.
        """
        s = self.state
        n_mos = s.n_mos
        kept = np.minimum(n_mos, self.mo_cap)
        mi, ji = np.nonzero(self._slots[None, :] < kept[:, None])
        return mi, s.mos[mi, ji], int((n_mos - kept).sum())

    def unpack(self, rec: np.ndarray) -> tuple[np.ndarray, ...]:
        """``(size, side, pre_mid, post_mid, kind)`` columns of market-order records."""
        st = self._st
        return (
            rec[:, st.M_SIZE],
            rec[:, st.M_SIDE],
            rec[:, st.M_PRE_MID],
            rec[:, st.M_POST_MID],
            rec[:, st.M_KIND],
        )


def estimate_bytes(n_markets: int, n_steps: int) -> int:
    """Rough peak memory of measuring and analysing one preset, bytes."""
    return int(n_markets) * int(n_steps) * BYTES_PER_MARKET_STEP


def measure_preset(
    name: str,
    config: MarketConfig,
    n_markets: int,
    n_steps: int,
    burn_in_steps: int,
    seed: int,
    chunk_steps: int = 250,
    progress: Callable[[int], object] | None = None,
) -> Measurement:
    """Run one preset under the fixed-quotes protocol (module docstring) and record it.

    Args:
        name: Preset name (stored in the result).
        config: Its market config (``fills="book"``).
        n_markets: Markets (independent, seeds ``seed + m``).
        n_steps: Steps recorded per market after the burn-in.
        burn_in_steps: Steps run and discarded first.
        seed: Seed of market 0.
        chunk_steps: Steps per chunk: orders are gathered per chunk and ``progress`` is called
            once per chunk with the steps done (burn-in included).
        progress: Optional callback ``progress(steps)``.

    Returns:
        The :class:`Measurement`.
    """
    from mm_gym.market import MarketSimulator

    t0 = time.perf_counter()
    sim = MarketSimulator(config, n_markets, builtin_rival=False, record=True)
    rec = _Recorder(sim, DEPTH_LEVELS)
    sim.reset(int(seed))
    quotes = sim.quotes_buffer()
    quotes[:, :] = (QUOTE_OFFSET_TICKS, QUOTE_OFFSET_TICKS, QUOTE_LOTS, QUOTE_LOTS)
    done = 0
    while done < burn_in_steps:
        k = min(chunk_steps, burn_in_steps - done)
        for _ in range(k):
            sim.step(quotes)
        done += k
        if progress is not None:
            progress(k)

    n = n_markets
    mid = np.empty((n, n_steps))
    fund = np.empty((n, n_steps))
    sent = np.empty((n, n_steps))
    regime = np.empty((n, n_steps), np.int8)
    spread = np.empty((n, n_steps), np.int16)
    empty = np.zeros(n, np.int64)
    one_sided = np.zeros(n, np.int64)
    depth_sum = np.zeros((n, DEPTH_LEVELS))
    depth_count = np.zeros(n)
    mid_start = rec.mid()
    chunks: list[tuple[np.ndarray, ...]] = []
    lost = 0
    t = 0
    while t < n_steps:
        k = min(chunk_steps, n_steps - t)
        c_market: list[np.ndarray] = []
        c_step: list[np.ndarray] = []
        c_rec: list[np.ndarray] = []
        for _ in range(k):
            sim.step(quotes)
            mid[:, t] = rec.mid()
            fund[:, t], sent[:, t], regime[:, t] = rec.exogenous()
            sp, bg_empty, flag, depth = rec.book()
            spread[:, t] = sp
            empty += bg_empty
            one_sided += flag
            ok = ~bg_empty  # an empty side has no best price to count depth from
            depth_sum[ok] += depth[ok]
            depth_count += 2 * ok
            mi, recs, n_lost = rec.market_orders()
            lost += n_lost
            c_market.append(mi)
            c_step.append(np.full(mi.size, t, np.int32))
            c_rec.append(recs)
            t += 1
        if c_rec:
            size, side, pre, post, kind = rec.unpack(np.concatenate(c_rec))
            chunks.append(
                (
                    np.concatenate(c_market).astype(np.int32),
                    np.concatenate(c_step),
                    size.astype(np.float32),
                    side.astype(np.int8),
                    kind.astype(np.int8),
                    pre.copy(),
                    (side * (post - pre)).astype(np.float32),
                )
            )
        if progress is not None:
            progress(k)
    cols = [np.concatenate([c[i] for c in chunks]) for i in range(7)] if chunks else None
    if cols is None:
        orders = OrderRecords(
            *(
                np.zeros(0, d)
                for d in (np.int32, np.int32, np.float32, np.int8, np.int8, np.float64, np.float32)
            )
        )
    else:
        # Chunks are in time order and each step's records in execution order; a stable sort by
        # market keeps that order within each market (the sign series is in event time).
        order = np.argsort(cols[0], kind="stable")
        orders = OrderRecords(*(c[order] for c in cols))
    return Measurement(
        preset=name,
        n_markets=n,
        n_steps=n_steps,
        burn_in_steps=burn_in_steps,
        seed=int(seed),
        mid_start_ticks=mid_start,
        mid_ticks=mid,
        fundamental_ticks=fund,
        sentiment=sent,
        regime=regime,
        spread_ticks=spread,
        empty_side_steps=empty,
        one_sided_steps=one_sided,
        depth_sum_lots=depth_sum,
        depth_snapshots=depth_count,
        orders=orders,
        orders_lost=lost,
        elapsed_s=time.perf_counter() - t0,
    )
