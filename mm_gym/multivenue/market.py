"""``n`` multi-venue markets of one asset: V venue books, latency, arbitrage, total inventory.

Venue ``v`` is a :class:`~mm_gym.market.MarketSimulator` of ``n`` markets built from its own
market config (:func:`~mm_gym.multivenue.config.venue_market_config`) with ``venue=v``. Market
``i`` of every venue resets from the same episode seed, so the venues of one market share the
asset's regime, sentiment, news, informed signal, activity and shock times
(:data:`mm_gym.market.rng.SHARED_STREAMS`) and draw their own order flow; venue 0 is exactly the
single-venue market of the same seed until the makers or the arbitrageurs act. After every venue
has stepped, :func:`mm_gym.market.venues.uncross` takes every crossed pair of books.

A reset warms the venues up together: each venue starts from an empty book and the venues take
``warmup_steps`` warm-up steps in lockstep (no maker quotes), each step with order protection,
routing and arbitrage as in an episode's step, all in one compiled call
(:func:`mm_gym.market.venues.warm_up`), so an episode starts from books that have been
aligned all along (warmed up alone, each venue drifted off on its own flow and the uncrossing
that followed left spreads of 5-6 ticks at step 0). With one venue the warm-up is the venue's
own, and the market is the single-venue market of the same seed.

A step, per venue in venue order: mm1's quote for the venue (offsets from the venue's mid in
ticks, sizes in lots) is turned into prices at the venue's current mid; with latency ``L`` the
prices wait ``L`` steps (the quote resting in step ``t`` is the one sent at ``t - L``; none in an
episode's first ``L`` steps). Sizes are then cut so that fills on all venues together cannot
take mm1's summed inventory past its limit (bids from the first venue on get the room left,
likewise asks), and a bid at or above another venue's best ask (an ask at or below another's
best bid) slides to one tick away from it, as post-only orders do under order-protection rules.
mm2 is each venue's built-in rival, with its own account per venue; or, with ``two_makers=True``
(the PettingZoo form, :mod:`mm_gym.multivenue.parallel`), a second maker quoting per venue exactly
as mm1 does: its own latency buffers (``mm2_latency``, default the venues' latencies), its own
limit on its summed inventory (``makers.mm2_limit``), the same slide, its own fill rates. The
makers' quotes for a venue are prepared in maker order, both against the other venues' best
prices at the step's start.

Takers have order protection: each venue's noise, informed and shock orders may not trade through
the other venues' best prices at the step's start (:meth:`MarketSimulator.set_protection`); what
they would have taken beyond them is routed after the venues' steps to the venues with the best
prices (:func:`mm_gym.market.venues.route`, kind ``routed``), as a smart order router sends it.
Then the arbitrageurs uncross the books.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mm_gym.config import ConfigError, MarketConfig, _plain_number, excerpt
from mm_gym.envs.seeding import RootSeeds
from mm_gym.market import MarketSimulator
from mm_gym.market.venues import route, uncross, warm_up
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
        two_makers: If True, mm2 quotes through :meth:`step` like mm1 (module docstring);
            False (the default): mm2 is each venue's built-in rival.
        mm2_latency: With ``two_makers``, mm2's latency on each venue, steps (default: the
            venues' ``latency_steps``, as mm1's).

    Attributes:
        sims: The venues' simulators, in venue order.
        venues: The venues' configs.
        limit: mm1's limit on its summed inventory, lots.
        limits: ``(2,)`` each maker's limit on its summed inventory, lots (mm2's binds only
            with ``two_makers``).
        latency: ``(V,)`` int64 latency of each venue, steps (mm1's).
        latencies: ``(2, V)`` int64 each maker's latency on each venue, steps.
        arbitrage_lots: ``(n,)`` int64 lots the arbitrageurs traded in the last step (0 after a
            reset: the warm-up's trades are not the episode's).
        routed_lots: ``(n,)`` int64 takers' lots routed to another venue's better price and
            executed there in the last step.
        fill_rate: ``(n, V)`` EWMA of mm1's lots filled per step on each venue.
        fill_rates: ``(2, n, V)`` the same per maker (``fill_rates[0]`` is ``fill_rate``).
    """

    def __init__(
        self,
        market_config: MarketConfig,
        venues: Sequence[VenueConfig],
        n: int = 1,
        *,
        asset: int = 0,
        correlation: tuple[float, ...] | None = None,
        two_makers: bool = False,
        mm2_latency: Sequence[int] | None = None,
    ) -> None:
        """Build the venues' simulators and the latency buffers."""
        if market_config.fills != "book":
            raise ConfigError(f"fills={market_config.fills!r}: the venues are limit order books")
        super().__init__(n)
        self.venues = check_venues(venues)
        self.market_config = market_config
        self.n_venues = len(self.venues)
        self.two_makers = bool(two_makers)
        self.sims = [
            MarketSimulator(
                venue_market_config(market_config, v, self.n_venues, two_makers=self.two_makers),
                n,
                builtin_rival=not self.two_makers,
                venue=i,
                asset=asset,
                correlation=correlation,
            )
            for i, v in enumerate(self.venues)
        ]
        self.limit = int(market_config.makers.mm1_limit)
        self.limits = (self.limit, int(market_config.makers.mm2_limit))
        self.value = float(market_config.value_per_tick_lot)
        self.latency = np.array([v.latency_steps for v in self.venues], np.int64)
        self.latencies = np.stack([self.latency, self._mm2_latency(mm2_latency)])
        # per maker and venue, (max(L, 1), n, 4) sent prices and sizes: bid tick, ask tick,
        # bid, ask lots
        self._sent = [[np.zeros((max(int(lat), 1), n, 4)) for lat in row] for row in self.latencies]
        self._quotes = [np.zeros((n, 2, 4)) for _ in self.sims]
        self.arbitrage_lots = np.zeros(n, np.int64)
        self.routed_lots = np.zeros(n, np.int64)
        self.fill_rates = np.zeros((2, n, self.n_venues))
        self._tops: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # see tops()

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle, also a market pickled before the two-maker mode (a checkpoint's)."""
        if "fill_rates" not in state:  # one maker's layout: mm1's arrays only
            rate = state.pop("fill_rate")
            state["fill_rates"] = np.stack([rate, np.zeros_like(rate)])
            state["two_makers"] = False
            state["latencies"] = np.stack([state["latency"], state["latency"]])
            state["_sent"] = [state["_sent"], [np.zeros_like(b) for b in state["_sent"]]]
            state["limits"] = (state["limit"], int(state["market_config"].makers.mm2_limit))
        self.__dict__.update(state)

    def _mm2_latency(self, mm2_latency: Sequence[int] | None) -> np.ndarray:
        """``(V,)`` mm2's latencies: ``mm2_latency`` checked, or the venues' latencies."""
        if mm2_latency is None:
            return self.latency.copy()
        if not self.two_makers:
            raise ConfigError(
                f"mm2_latency={excerpt(mm2_latency)} needs two_makers=True (mm2 is otherwise "
                "each venue's built-in rival, which quotes without latency)"
            )
        listed = isinstance(mm2_latency, (Sequence, np.ndarray)) and np.ndim(mm2_latency) == 1
        lat = list(mm2_latency) if listed and not isinstance(mm2_latency, str) else None
        if lat is None or len(lat) != self.n_venues:
            raise ConfigError(
                f"mm2_latency={excerpt(mm2_latency)} must be a list or tuple of {self.n_venues} "
                "latencies in steps, one per venue"
            )
        for v, value in enumerate(lat):
            value = _plain_number(value)  # 1.0 and np.int64(1) as VenueConfig takes them
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not ok or not 0 <= value <= 1_000 or value != int(value):
                raise ConfigError(
                    f"mm2_latency[{v}]={excerpt(value)} must be an integer in [0, 1000] (steps)"
                )
            lat[v] = int(value)
        return np.array(lat, np.int64)

    # ------------------------------------------------------------------ read-out
    @property
    def fill_rate(self) -> np.ndarray:
        """``(n, V)`` mm1's fill rates, ``fill_rates[0]`` (a property: pickling keeps no views)."""
        return self.fill_rates[0]

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
        """Start the next episode of the markets in ``mask`` (default all), warmed up together."""
        seeds = self.next_episode(mask)
        m: slice | np.ndarray = slice(None) if mask is None else mask
        if self.n_venues == 1:
            self.sims[0].reset(seeds, mask)
        else:
            self._warm_up(seeds, mask)
        for sent in self._sent[0] + self._sent[1]:
            sent[:, m] = 0.0
        self.fill_rates[:, m] = 0.0
        self.arbitrage_lots[:] = 0
        self._tops = None

    def _warm_up(self, seeds: np.ndarray, mask: np.ndarray | None) -> None:
        """Reset the venues' markets in ``mask`` and warm them up together (module docstring)."""
        act = np.ones(self.n, np.bool_) if mask is None else np.asarray(mask, np.bool_)
        for sim in self.sims:
            sim.reset(seeds, mask, warmup_steps=0)
        warm_up(self.sims, act, int(self.market_config.warmup_steps))  # one compiled call

    def step(
        self,
        offsets: np.ndarray,
        sizes: np.ndarray,
        active: np.ndarray | None = None,
        mm2: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        """Step every venue of the markets in ``active`` (default all), then uncross them.

        Args:
            offsets: ``(n, V, 2)`` mm1's bid and ask offsets from each venue's mid, ticks.
            sizes: ``(n, V, 2)`` mm1's bid and ask sizes, lots (before the limit's cut).
            active: ``(n,)`` bool, the markets to step.
            mm2: With ``two_makers``, mm2's offsets and sizes as mm1's (required then);
                otherwise None.
        """
        if (mm2 is None) == self.two_makers:
            raise ValueError(
                f"mm2 quotes must be given exactly when two_makers=True; two_makers="
                f"{self.two_makers}, mm2 {'missing' if mm2 is None else 'given'}"
            )
        quotes = [(offsets, sizes)] if mm2 is None else [(offsets, sizes), mm2]
        rooms = []
        for k in range(len(quotes)):
            inv = self.inventories(k).sum(axis=1)
            limit = self.limits[k]
            rooms.append(np.stack([limit - inv, limit + inv], axis=1).clip(0.0, None))  # (n, 2)
        away = self._other_venues_best()
        for v, sim in enumerate(self.sims):
            sim.set_protection(away[:, v, 0], away[:, v, 1])
            mid = sim.book.mid
            q = self._quotes[v]
            for k, (off, size) in enumerate(quotes):
                if self.latencies[k, v] == 0:
                    q[:, k, :2] = off[:, v]
                    want = size[:, v]
                else:
                    q[:, k, :2], want = self._delayed(k, v, mid, off[:, v], size[:, v])
                _slide(q[:, k, :2], mid, away[:, v])
                got = np.minimum(want, rooms[k])
                rooms[k] = rooms[k] - got
                q[:, k, 2:] = got
            sim.step(q, active, check=False)
        self.routed_lots[:] = route(self.sims, active)
        arb = uncross(self.sims, active)
        self._tops = None
        self.arbitrage_lots[:] = arb if active is None else np.where(active, arb, 0)
        a = FILL_RATE_EMA
        stepped = slice(None) if active is None else active
        for k in range(len(quotes)):
            f = self.step_fills(k)
            rate = self.fill_rates[k]
            rate[stepped] = ((1.0 - a) * rate + a * f)[stepped]

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
        k: int,
        v: int,
        mid: np.ndarray,
        offsets: np.ndarray,
        sizes: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Send maker ``k``'s quote to venue ``v``; return the arriving one's offsets and sizes.

        The arriving quote was sent ``L`` steps ago at prices fixed then; its offsets are taken
        from the venue's current mid (so the kernel places it at exactly those prices).
        """
        lat = int(self.latencies[k, v])
        buf = self._sent[k][v]
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
