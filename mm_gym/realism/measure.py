"""Run one book preset under fixed quotes and record what the realism estimators need.

The protocol (the same for every preset, so presets compare): ``n_markets`` markets, seeds
``seed, seed + 1, ...``; after the reset's own warm-up, ``burn_in_steps`` steps are run and
discarded (sentiment and the regime chain relax to their stationary laws on a few hundred
steps), then ``n_steps`` steps are recorded. Both makers quote 1 lot 2 ticks either side of the
mid every step and the built-in rival is off, so the makers are passive, symmetric and small: they
take part in the book (as any maker would) but steer nothing.

:class:`_Recorder` reads the simulator through its public views only; the rest of the package
sees plain arrays (:class:`Measurement`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from mm_gym.config import MarketConfig

__all__ = [
    "DEPTH_LEVELS",
    "ORDER_DTYPE",
    "QUOTE_LOTS",
    "QUOTE_OFFSET_TICKS",
    "Measurement",
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


ORDER_DTYPE = np.dtype(
    {
        "names": ["market", "step", "size_lots", "side", "kind", "pre_mid_ticks", "impact_ticks"],
        "formats": [np.int32, np.int32, np.float32, np.int8, np.int8, np.float64, np.float32],
    }
)
"""One recorded market order (:attr:`Measurement.orders`): market index, step index within the
recorded window, lots executed (0: the order found no liquidity), side (+1 buy, -1 sell), the
aggressor's kind (index into ``mm_gym.market.views.KIND_NAMES``: noise, informed, shock,
background = a marketable background limit order), the mid just before it and its impact
``side * (mid after - mid before)``, ticks."""


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
        orders: ``(n_orders,)`` :data:`ORDER_DTYPE` records of the market orders, by market and in
            time order within a market.
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
    orders: np.ndarray
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
    """Reads the simulator after each step into the series of a :class:`Measurement`.

    Everything comes from the simulator's public views (``sim.scalars``, ``sim.book``,
    ``sim.market_orders``).
    """

    def __init__(self, sim: Any, n_steps: int) -> None:
        n = sim.n_markets
        self.sim = sim
        self.depth_offsets = np.arange(DEPTH_LEVELS)
        self.mid_start = np.array(sim.scalars.mid, np.float64)
        self.mid = np.empty((n, n_steps))
        self.fund = np.empty((n, n_steps))
        self.sent = np.empty((n, n_steps))
        self.regime = np.empty((n, n_steps), np.int8)
        self.spread = np.empty((n, n_steps), np.int16)
        self.empty = np.zeros(n, np.int64)
        self.one_sided = np.zeros(n, np.int64)
        self.depth_sum = np.zeros((n, DEPTH_LEVELS))
        self.depth_count = np.zeros(n)
        self.order_chunks: list[np.ndarray] = []
        self.lost = 0

    def record_chunk(self, quotes: np.ndarray, first_step: int, k: int) -> None:
        """Step ``k`` times, recording steps ``first_step ...``; gather the chunk's orders."""
        c_step: list[np.ndarray] = []
        c_rec: list[np.ndarray] = []
        for t in range(first_step, first_step + k):
            self.sim.step(quotes)
            self._record_step(t)
            recs, n_lost = self._market_orders()
            self.lost += n_lost
            c_step.append(np.full(recs.size, t, np.int32))
            c_rec.append(recs)
        if c_rec:
            self.order_chunks.append(_order_records(np.concatenate(c_rec), np.concatenate(c_step)))

    def _record_step(self, t: int) -> None:
        s = self.sim.scalars
        self.mid[:, t] = np.array(s.mid, np.float64)
        self.fund[:, t] = np.array(s.fundamental, np.float64)
        self.sent[:, t] = np.array(s.sentiment, np.float64)
        self.regime[:, t] = np.array(s.regime, np.int8)
        bg_empty, depth = self._background_depth()
        self.spread[:, t] = np.nan_to_num(self.sim.book.spread, nan=0.0)
        self.empty += bg_empty
        self.one_sided += s.one_sided != 0
        ok = ~bg_empty  # an empty side has no best price to count depth from
        self.depth_sum[ok] += depth[ok]
        self.depth_count += 2 * ok

    def _background_depth(self) -> tuple[np.ndarray, np.ndarray]:
        """``(background_side_empty, depth_lots)`` per market.

        ``depth_lots`` is ``(n, DEPTH_LEVELS)``, bid and ask added, by distance from each side's
        best background price: the profile's shape then does not depend on the spread (Bouchaud,
        Mezard & Potters 2002 measure it the same way).
        """
        book = self.sim.book
        n = book.n_levels
        # Best *background* prices (``book.best_bid`` includes the makers' orders); a bid index
        # < 0 or an ask index >= n_levels means that side of the background book is empty.
        ib, ia = book.background_best_bid_index, book.background_best_ask_index
        bid_bg_empty = ib < 0
        ask_bg_empty = ia >= n
        bi = ib[:, None] - self.depth_offsets
        ai = ia[:, None] + self.depth_offsets
        bid_vol, ask_vol = book.background_bid_lots, book.background_ask_lots
        bid_lots = np.where(bi >= 0, np.take_along_axis(bid_vol, np.clip(bi, 0, n - 1), 1), 0)
        ask_lots = np.where(ai < n, np.take_along_axis(ask_vol, np.clip(ai, 0, n - 1), 1), 0)
        bid_lots[bid_bg_empty] = 0
        ask_lots[ask_bg_empty] = 0
        return bid_bg_empty | ask_bg_empty, bid_lots + ask_lots

    def _market_orders(self) -> tuple[np.ndarray, int]:
        """This step's recorded market orders (``MARKET_ORDER_DTYPE``) and how many were lost."""
        view = self.sim.market_orders
        lost = view.count - np.minimum(view.count, view.capacity)
        return view.records(), int(lost.sum())

    def orders(self) -> np.ndarray:
        """All recorded market orders, sorted by market (time order kept within a market)."""
        if not self.order_chunks:
            return np.zeros(0, ORDER_DTYPE)
        orders = np.concatenate(self.order_chunks)
        # Chunks are in time order and each step's records in execution order; a stable sort by
        # market keeps that order within each market (the sign series is in event time).
        return orders[np.argsort(orders["market"], kind="stable")]


def _order_records(recs: np.ndarray, step: np.ndarray) -> np.ndarray:
    """:data:`ORDER_DTYPE` records of one chunk's market orders (``MARKET_ORDER_DTYPE``)."""
    out = np.empty(recs.size, ORDER_DTYPE)
    out["market"] = recs["market"]
    out["step"] = step
    out["size_lots"] = recs["size_lots"]
    out["side"] = recs["side"]
    out["kind"] = recs["kind"]
    out["pre_mid_ticks"] = recs["pre_mid"]
    out["impact_ticks"] = recs["side"] * (recs["post_mid"] - recs["pre_mid"])
    return out


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
    make_simulator: Callable[[MarketConfig, int], Any] | None = None,
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
        make_simulator: ``make_simulator(config, n_markets)`` builds the simulator (e.g. a
            portfolio's asset, ``benchmarks/portfolio_realism.py``); default a
            :class:`~mm_gym.market.MarketSimulator` without the built-in rival, recording.
            It must record (``record=True``) and leave mm2 to the quotes.

    Returns:
        The :class:`Measurement`.
    """
    from mm_gym.market import MarketSimulator

    t0 = time.perf_counter()
    if make_simulator is None:
        sim = MarketSimulator(config, n_markets, builtin_rival=False, record=True)
    else:
        sim = make_simulator(config, n_markets)
    sim.reset(int(seed))
    quotes = sim.quotes_buffer()
    quotes[:, :] = (QUOTE_OFFSET_TICKS, QUOTE_OFFSET_TICKS, QUOTE_LOTS, QUOTE_LOTS)
    for _, k in _chunks(burn_in_steps, chunk_steps):
        for _ in range(k):
            sim.step(quotes)
        if progress is not None:
            progress(k)
    rec = _Recorder(sim, n_steps)
    for t, k in _chunks(n_steps, chunk_steps):
        rec.record_chunk(quotes, t, k)
        if progress is not None:
            progress(k)
    return Measurement(
        preset=name,
        n_markets=n_markets,
        n_steps=n_steps,
        burn_in_steps=burn_in_steps,
        seed=int(seed),
        mid_start_ticks=rec.mid_start,
        mid_ticks=rec.mid,
        fundamental_ticks=rec.fund,
        sentiment=rec.sent,
        regime=rec.regime,
        spread_ticks=rec.spread,
        empty_side_steps=rec.empty,
        one_sided_steps=rec.one_sided,
        depth_sum_lots=rec.depth_sum,
        depth_snapshots=rec.depth_count,
        orders=rec.orders(),
        orders_lost=rec.lost,
        elapsed_s=time.perf_counter() - t0,
    )


def _chunks(total: int, size: int) -> Iterator[tuple[int, int]]:
    """``(first, length)`` of consecutive chunks of at most ``size`` covering ``range(total)``."""
    done = 0
    while done < total:
        k = min(size, total - done)
        yield done, k
        done += k
