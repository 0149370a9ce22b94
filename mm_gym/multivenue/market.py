"""``n`` multi-venue markets of one asset: V venue books, latency, arbitrage, total inventory.

Venue ``v`` is a :class:`~mm_gym.market.MarketSimulator` of ``n`` markets built from its own
market config (:func:`~mm_gym.multivenue.config.venue_market_config`) with ``venue=v``. Market
``i`` of every venue resets from the same episode seed, so the venues of one market share the
asset's regime, sentiment, news, informed signal, activity and shock times
(:data:`mm_gym.market.rng.SHARED_STREAMS`) and draw their own order flow; venue 0 is exactly the
single-venue market of the same seed until the makers or the arbitrageurs act. After every venue
has stepped, :func:`mm_gym.market.venues.uncross` takes every crossed pair of books.

A step, per venue in venue order: mm1's quote for the venue (offsets from the venue's mid in
ticks, sizes in lots) is turned into prices at the venue's current mid; with latency ``L`` the
prices wait ``L`` steps (the quote resting in step ``t`` is the one sent at ``t - L``; none in an
episode's first ``L`` steps). Sizes are then cut so that fills on all venues together cannot
take mm1's summed inventory past its limit (bids from the first venue on get the room left,
likewise asks), and a bid at or above another venue's best ask (an ask at or below another's
best bid) slides to one tick away from it, as post-only orders do under order-protection rules.
mm2 is each venue's built-in rival, with its own account per venue.

Takers have order protection: each venue's noise, informed and shock orders may not trade through
the other venues' best prices at the step's start (:meth:`MarketSimulator.set_protection`); what
they would have taken beyond them is routed after the venues' steps to the venues with the best
prices (:func:`mm_gym.market.venues.route`, kind ``routed``), as a smart order router sends it.
Then the arbitrageurs uncross the books.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mm_gym.config import ConfigError, MarketConfig
from mm_gym.envs.seeding import RootSeeds
from mm_gym.market import MarketSimulator
from mm_gym.market.venues import route, uncross
from mm_gym.multivenue.config import VenueConfig, check_venues, venue_market_config

__all__ = ["MultiVenueMarket"]


def _slide(offsets: np.ndarray, mid: np.ndarray, away: np.ndarray) -> None:
    """Slide quotes that would lock or cross another venue's best price one tick away (in place).

    ``offsets`` ``(n, 2)`` bid and ask offsets from ``mid`` (ticks), ``away`` ``(n, 2)`` the
    other venues' best bid and ask. A bid at or above another venue's best ask moves to one tick
    below it, an ask at or below another venue's best bid to one tick above it: the price sliding
    of a post-only order under order-protection rules (no venue displays a quote that locks or
    crosses another's), which is also what keeps a slow venue's stale quote from setting its mid.
    """
    bid = np.floor(mid - offsets[:, 0])
    ask = np.ceil(mid + offsets[:, 1])
    high = bid >= away[:, 1]
    low = ask <= away[:, 0]
    if high.any():
        offsets[high, 0] = mid[high] - (away[high, 1] - 1.0) - _EPS
    if low.any():
        offsets[low, 1] = (away[low, 0] + 1.0) - mid[low] - _EPS


_EPS = 1e-9  # keeps floor(mid - (mid - tick - eps)) == tick under rounding
FILL_RATE_EMA = 0.1  # weight of the newest step in each venue's fill-rate estimate


class MultiVenueMarket(RootSeeds):
    """``n`` markets of one asset quoted on several venues (see the module docstring).

    Args:
        market_config: The asset's market (``fills="book"``); its ``makers.mm1_limit`` is mm1's
            limit on the inventory summed over the venues.
        venues: The venues (:class:`VenueConfig` or mappings of its fields).
        n: Number of markets.
        asset: The asset's index in a portfolio (:mod:`mm_gym.portfolio`; 0: a single asset).
        correlation: The asset's row of the Cholesky factor of the portfolio's correlation
            matrix (None: a single asset); see :class:`~mm_gym.market.MarketSimulator`.

    Attributes:
        sims: The venues' simulators, in venue order.
        venues: The venues' configs.
        limit: mm1's limit on its summed inventory, lots.
        latency: ``(V,)`` int64 latency of each venue, steps.
        arbitrage_lots: ``(n,)`` int64 lots the arbitrageurs traded in the last step (or reset).
        routed_lots: ``(n,)`` int64 takers' lots routed to another venue's better price and
            executed there in the last step.
        fill_rate: ``(n, V)`` EWMA of mm1's lots filled per step on each venue.
    """

    def __init__(
        self,
        market_config: MarketConfig,
        venues: Sequence[VenueConfig],
        n: int = 1,
        *,
        asset: int = 0,
        correlation: tuple[float, ...] | None = None,
    ) -> None:
        """Build the venues' simulators and the latency buffers."""
        if market_config.fills != "book":
            raise ConfigError(f"fills={market_config.fills!r}: the venues are limit order books")
        super().__init__(n)
        self.venues = check_venues(venues)
        self.market_config = market_config
        self.n_venues = len(self.venues)
        self.sims = [
            MarketSimulator(
                venue_market_config(market_config, v, self.n_venues),
                n,
                venue=i,
                asset=asset,
                correlation=correlation,
            )
            for i, v in enumerate(self.venues)
        ]
        self.limit = int(market_config.makers.mm1_limit)
        self.value = float(market_config.value_per_tick_lot)
        self.latency = np.array([v.latency_steps for v in self.venues], np.int64)
        # per venue, (max(L, 1), n, 4) sent prices and sizes: bid tick, ask tick, bid, ask lots
        self._sent = [np.zeros((max(int(lat), 1), n, 4)) for lat in self.latency]
        self._quotes = [np.zeros((n, 2, 4)) for _ in self.sims]
        self.arbitrage_lots = np.zeros(n, np.int64)
        self.routed_lots = np.zeros(n, np.int64)
        self.fill_rate = np.zeros((n, self.n_venues))
        self._tops: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # see tops()

    # ------------------------------------------------------------------ read-out
    def mids(self) -> np.ndarray:
        """``(n, V)`` each venue's mid, ticks."""
        return np.stack([s.book.mid for s in self.sims], axis=1)

    def inventories(self, maker: int = 0) -> np.ndarray:
        """``(n, V)`` ``maker``'s inventory on each venue, lots."""
        return np.stack([s.accounts.inventory[:, maker] for s in self.sims], axis=1)

    def tops(self) -> tuple[np.ndarray, np.ndarray]:
        """``(n, V)`` best bid and best ask of every venue, ticks, makers' orders included.

        -inf / +inf where a side is empty. Computed once per step or reset (read-only arrays).
        """
        if self._tops is None:
            self._refresh_tops()
        assert self._tops is not None
        return self._tops[0], self._tops[1]

    def consolidated_mid(self) -> np.ndarray:
        """``(n,)`` the mid of the best bid and best ask over all venues (NBBO), ticks.

        The venues' mean mid where every venue lacks a side. Read-only; once per step or reset.
        """
        if self._tops is None:
            self._refresh_tops()
        assert self._tops is not None
        return self._tops[2]

    def _refresh_tops(self) -> None:
        bids = np.stack([s.book.best_bid for s in self.sims], axis=1)
        asks = np.stack([s.book.best_ask for s in self.sims], axis=1)
        bids[np.isnan(bids)] = -np.inf
        asks[np.isnan(asks)] = np.inf
        bid, ask = bids.max(axis=1), asks.min(axis=1)
        ok = np.isfinite(bid) & np.isfinite(ask)
        if ok.all():
            mid = 0.5 * (bid + ask)
        else:
            nbbo = 0.5 * (np.where(ok, bid, 0.0) + np.where(ok, ask, 0.0))
            mid = np.where(ok, nbbo, self.mids().mean(axis=1))
        for a in (bids, asks, mid):
            a.flags.writeable = False
        self._tops = (bids, asks, mid)

    def wealth(self, maker: int = 0) -> np.ndarray:
        """``(n,)`` ``maker``'s mark-to-market PnL (one position in one asset, one mark).

        Its cash over the venues plus its summed inventory at :meth:`consolidated_mid`.
        """
        cash = sum(s.accounts.cash[:, maker] for s in self.sims)
        inv = self.inventories(maker).sum(axis=1)
        return np.asarray(cash + inv * self.consolidated_mid() * self.value, np.float64)

    def step_fills(self, maker: int = 0) -> np.ndarray:
        """``(n, V)`` ``maker``'s lots filled on each venue in the last step."""
        acc = [s.accounts for s in self.sims]
        return np.stack([a.step_bought[:, maker] + a.step_sold[:, maker] for a in acc], axis=1)

    # ------------------------------------------------------------------ episodes and steps
    def reset(self, mask: np.ndarray | None = None) -> None:
        """Start the next episode of the markets in ``mask`` (default all), then uncross them."""
        seeds = self.next_episode(mask)
        m: slice | np.ndarray = slice(None) if mask is None else mask
        for sim, sent in zip(self.sims, self._sent, strict=True):
            sim.reset(seeds, mask)
            sent[:, m] = 0.0
        self.fill_rate[m] = 0.0
        self.arbitrage_lots[:] = 0
        self.arbitrage_lots[m] = uncross(self.sims, mask)[m]
        self._tops = None

    def step(
        self, offsets: np.ndarray, sizes: np.ndarray, active: np.ndarray | None = None
    ) -> None:
        """Step every venue of the markets in ``active`` (default all), then uncross them.

        Args:
            offsets: ``(n, V, 2)`` mm1's bid and ask offsets from each venue's mid, ticks.
            sizes: ``(n, V, 2)`` mm1's bid and ask sizes, lots (before the limit's cut).
            active: ``(n,)`` bool, the markets to step.
        """
        inv = self.inventories().sum(axis=1)
        room = np.stack([self.limit - inv, self.limit + inv], axis=1).clip(0.0, None)  # (n, 2)
        away = self._other_venues_best()
        for v, sim in enumerate(self.sims):
            sim.set_protection(away[:, v, 0], away[:, v, 1])
            mid = sim.book.mid
            q = self._quotes[v]
            lat = int(self.latency[v])
            if lat == 0:
                q[:, 0, :2] = offsets[:, v]
                want = sizes[:, v]
            else:
                q[:, 0, :2], want = self._delayed(v, mid, offsets[:, v], sizes[:, v])
            _slide(q[:, 0, :2], mid, away[:, v])
            got = np.minimum(want, room)
            room = room - got
            q[:, 0, 2:] = got
            sim.step(q, active, check=False)
        self.routed_lots[:] = route(self.sims, active)
        arb = uncross(self.sims, active)
        self._tops = None
        self.arbitrage_lots[:] = arb if active is None else np.where(active, arb, 0)
        f = self.step_fills()
        a = FILL_RATE_EMA
        stepped = slice(None) if active is None else active
        self.fill_rate[stepped] = ((1.0 - a) * self.fill_rate + a * f)[stepped]

    def _other_venues_best(self) -> np.ndarray:
        """``(n, V, 2)``: per venue, the best bid and best ask among the *other* venues, ticks.

        Makers' orders included; -inf / +inf where no other venue has that side.
        """
        bids, asks = self.tops()
        out = np.empty((self.n, self.n_venues, 2))
        for v in range(self.n_venues):
            others = np.arange(self.n_venues) != v
            out[:, v, 0] = bids[:, others].max(axis=1, initial=-np.inf)
            out[:, v, 1] = asks[:, others].min(axis=1, initial=np.inf)
        return out

    def _delayed(
        self,
        v: int,
        mid: np.ndarray,
        offsets: np.ndarray,
        sizes: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Send this step's quote to venue ``v``; return the arriving one's offsets and sizes.

        The arriving quote was sent ``L`` steps ago at prices fixed then; its offsets are taken
        from the venue's current mid (so the kernel places it at exactly those prices).
        """
        lat = int(self.latency[v])
        buf = self._sent[v]
        t = self.sims[v].scalars.t
        slot = t % lat  # (n,): each market's own clock (markets reset at different times)
        rows = np.arange(self.n)
        arriving = buf[slot, rows].copy()  # (n, 4)
        buf[slot, rows, 0] = np.floor(mid - offsets[:, 0])
        buf[slot, rows, 1] = np.ceil(mid + offsets[:, 1])
        buf[slot, rows, 2:] = sizes
        waiting = t < lat  # nothing sent yet arrives in an episode's first L steps
        off = np.stack([mid - arriving[:, 0] - _EPS, arriving[:, 1] - mid - _EPS], axis=1)
        size = np.where(waiting[:, None], 0.0, arriving[:, 2:])
        return off, size
