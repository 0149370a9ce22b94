"""``n`` portfolios of A assets x V venues: risk measures, hedging overlay, observations.

Asset ``a`` is a :class:`~mm_gym.multivenue.MultiVenueCore` (its venues, latency, routing,
arbitrage and mm1's summed-inventory limit, unchanged) built with ``asset=a`` and row ``a`` of
the Cholesky factor of the portfolio's correlation matrix: market ``i`` of every asset resets
from the same episode seed, each asset draws its own streams except the one of the
fundamental's innovations, which every asset and venue shares, so the assets' fundamentals move
with the configured correlation (:mod:`mm_gym.market.processes`). With one asset the market is
exactly MultiVenue-v0's.

A step: every asset steps with its part of the action; then the risk: the assets' one-step
returns ``r_a = mid_a(t) / mid_a(t-1) - 1`` (consolidated mids) update the EWMA covariance
(:class:`~mm_gym.portfolio.risk.EWMACovariance`), and the delta-normal VaR of mm1's exposures
``e_a = inventory_a * lot_size * price_a`` (currency per unit return) is measured
(:func:`~mm_gym.portfolio.risk.delta_normal_var`; 0 in an episode's first ``cov_min_steps``
steps). With the overlay on (``portfolio.hedge``) and the VaR above ``var_limit``, mm1 sends the
marketable orders of :func:`~mm_gym.portfolio.risk.hedge_orders` (cut to its inventory limit),
each asset's on the venue with the lowest taker cost for that direction (taker fee plus the
distance from the consolidated mid to the venue's best price, in bps), executed against that
venue's book (:func:`mm_gym.portfolio.hedge.take`), and the VaR is measured again. A step that
ends with the VaR above the limit is a breach. The historical VaR and expected shortfall of the
per-step portfolio PnL over the last ``hist_window_steps`` steps complete the risk.

The reward is :func:`mm_gym.rewards.step_reward` of the portfolio's PnL (every asset's cash on
every venue plus its inventory at its consolidated mid), its inventory PnL, and the Euclidean
norm of the per-asset inventories (so the running penalty is ``phi * sum_a q_a**2``).

With ``two_makers=True`` (the PettingZoo form, :mod:`mm_gym.portfolio.parallel`) every asset is
a two-maker :class:`~mm_gym.multivenue.MultiVenueCore`: mm2 quotes like mm1 (its own latency
buffers and summed-inventory limit per asset), and each maker has its own risk
(:class:`MakerRisk`): its exposures, VaR, breaches, historical VaR / ES of its own PnL and,
with the overlay on, its own hedges, cut to its own limit. The covariance of the assets' returns
is the market's and is shared. The overlays act in maker order: mm1's VaR is measured and
hedged, then mm2's, on the books mm1's hedge left (mm1 takes first from the books the step
left: an asymmetry of the order, not of the makers). mm2's hedge moves the books and mids and
can fill mm1's quotes after mm1's VaR was measured, so with the overlay on both makers' VaR is
measured again at the end of the step, after both hedges: ``var``, the observed
``var_fraction`` and the breaches are of the step's end (``var_pre_hedge`` is each maker's
before its own orders). :meth:`PortfolioCore.observations`, :meth:`~PortfolioCore.infos`,
:meth:`~PortfolioCore.settle` and :meth:`~PortfolioCore.context` take a ``maker`` (0: mm1,
1: mm2) and give that maker's view; with one maker they are mm1's (maker 1 is refused).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
from gymnasium import spaces

from mm_gym.config import MarketConfig
from mm_gym.envs.config import EnvConfig
from mm_gym.envs.seeding import RootSeeds
from mm_gym.multivenue.config import VenueConfig
from mm_gym.multivenue.core import MultiVenueCore
from mm_gym.policy import PolicyContext
from mm_gym.portfolio.config import REVISION_CLUSTER_STEPS, PortfolioConfig
from mm_gym.portfolio.hedge import take
from mm_gym.portfolio.risk import EWMACovariance, delta_normal_var, hedge_orders
from mm_gym.rewards import COMPONENT_NAMES, RewardParams, step_reward

__all__ = ["PORTFOLIO_FEATURES", "MakerRisk", "PortfolioCore", "asset_names", "revisions_on"]

PORTFOLIO_FEATURES: tuple[str, ...] = ("time_left", "var_fraction")
"""The portfolio's own features, first in the observation; then each asset's block."""
VAR_FRACTION_MAX = 10.0  # the observed VaR over its limit is clipped here
_NO_PRICE_BPS = 1e9  # the taker cost of a venue side with no resting order


def revisions_on(market_config: MarketConfig, portfolio: PortfolioConfig) -> bool:
    """Whether the assets' books carry common quote revisions (:mod:`mm_gym.market.revision`).

    Under the ``"book"`` price formation with two or more assets and ``revision_ticks > 0``;
    under ``"legacy"`` the fundamental carries the correlation, and one asset has none to carry.
    """
    return (
        market_config.price_formation == "book"
        and portfolio.n_assets > 1
        and portfolio.revision_ticks > 0.0
    )


def asset_names(n_assets: int) -> tuple[str, ...]:
    """The assets' names, ``asset0``, ``asset1``, ... (they prefix the assets' features)."""
    return tuple(f"asset{a}" for a in range(n_assets))


class MakerRisk:
    """One maker's portfolio risk and hedges in ``n`` markets (see :class:`PortfolioCore`).

    Attributes:
        var, var_pre_hedge, breaches, hedges, hedge_lots, hedge_venue, hedge_cost,
        hedge_cost_total, hedge_cost_asset: As :class:`PortfolioCore`'s, for this maker.
        pnl: ``(n, hist_window_steps)`` its per-step PnL, a ring buffer indexed by step.
    """

    def __init__(self, n: int, n_assets: int, window: int) -> None:
        """Zero risk, no hedges."""
        self.var = np.zeros(n)
        self.var_pre_hedge = np.zeros(n)
        self.breaches = np.zeros(n, np.int64)
        self.hedges = np.zeros(n, np.int64)
        self.hedge_lots = np.zeros((n, n_assets), np.int64)
        self.hedge_venue = np.full((n, n_assets), -1, np.int64)
        self.hedge_cost = np.zeros(n)
        self.hedge_cost_total = np.zeros(n)
        self.hedge_cost_asset = np.zeros((n, n_assets))
        self.pnl = np.zeros((n, window))

    def reset(self, m: slice | np.ndarray) -> None:
        """Forget the risk and hedges of the markets ``m`` (a new episode)."""
        for arr in (self.var, self.var_pre_hedge, self.hedge_cost, self.hedge_cost_total):
            arr[m] = 0.0
        for iarr in (self.breaches, self.hedges, self.hedge_lots):
            iarr[m] = 0
        self.hedge_venue[m] = -1
        self.hedge_cost_asset[m] = 0.0
        self.pnl[m] = 0.0

    def clear_step(self) -> None:
        """Forget the last step's hedges (every market)."""
        self.hedge_lots[:] = 0
        self.hedge_venue[:] = -1
        self.hedge_cost[:] = 0.0
        self.hedge_cost_asset[:] = 0.0


_RISK_FIELDS = (
    "var",
    "var_pre_hedge",
    "breaches",
    "hedges",
    "hedge_lots",
    "hedge_venue",
    "hedge_cost",
    "hedge_cost_total",
    "hedge_cost_asset",
)
"""The :class:`MakerRisk` fields a one-maker :class:`PortfolioCore` held as its own before the
two-maker forms (pickles of 4f57f95, back to debc193, which added ``hedge_cost_asset``;
:meth:`PortfolioCore.__setstate__`)."""


class _Mm1:
    """A :class:`PortfolioCore` attribute that is mm1's :class:`MakerRisk` field of that name.

    Read on use (pickles keep no views); with one maker these are the whole risk.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, core: Any, owner: type | None = None) -> Any:
        return getattr(core.risk[0], self.name)


class PortfolioCore(RootSeeds):
    """``n`` portfolios (module docstring).

    Args:
        market_config: Every asset's market (``fills="book"``).
        env_config: The environment options (continuous actions only, as MultiVenue-v0).
        venues: The venues every asset trades on.
        portfolio: The portfolio: assets, correlation, VaR limit, overlay.
        n: Number of markets.
        two_makers: mm2 learns too, with its own risk (module docstring); False: mm2 is each
            venue's built-in rival and only mm1's risk is measured.
        mm2_latency: With ``two_makers``, mm2's latency per venue (default the venues').

    Attributes:
        assets: The assets' :class:`~mm_gym.multivenue.MultiVenueCore`, in order.
        risk: Each maker's :class:`MakerRisk` (one: mm1's; two with ``two_makers``). The
            attributes below from ``var`` on are mm1's, ``risk[0]``'s.
        feature_names: ``time_left``, ``var_fraction``, then ``asset<a>.<feature>`` for each
            asset's MultiVenue-v0 features (its inventory, sentiment and venues).
        cov: The EWMA covariance of the assets' one-step returns.
        var: ``(n,)`` delta-normal VaR at the end of the last step, currency.
        var_pre_hedge: ``(n,)`` the VaR before the overlay's orders in the last step.
        breaches: ``(n,)`` int64 steps of the episode that ended with ``var > var_limit``.
        hedges: ``(n,)`` int64 steps of the episode in which the overlay traded.
        hedge_lots: ``(n, A)`` int64 signed lots the overlay traded in the last step.
        hedge_venue: ``(n, A)`` int64 venue of each asset's hedge (-1: none).
        hedge_cost: ``(n,)`` the overlay's cost in the last step: taker fees plus the fills'
            distance from the consolidated mid, currency.
        hedge_cost_total: ``(n,)`` the same over the episode.
        hedge_cost_asset: ``(n, A)`` the last step's ``hedge_cost`` of each asset's orders.
    """

    var = _Mm1()
    var_pre_hedge = _Mm1()
    breaches = _Mm1()
    hedges = _Mm1()
    hedge_lots = _Mm1()
    hedge_venue = _Mm1()
    hedge_cost = _Mm1()
    hedge_cost_total = _Mm1()
    hedge_cost_asset = _Mm1()

    def __init__(
        self,
        market_config: MarketConfig,
        env_config: EnvConfig,
        venues: tuple[VenueConfig, ...],
        portfolio: PortfolioConfig,
        n: int = 1,
        *,
        two_makers: bool = False,
        mm2_latency: tuple[int, ...] | None = None,
    ) -> None:
        """Build the assets and the risk bookkeeping."""
        super().__init__(n)
        self.portfolio = portfolio
        self.n_assets = a = portfolio.n_assets
        chol = portfolio.cholesky()
        self.assets = [
            MultiVenueCore(
                market_config,
                env_config,
                venues,
                n,
                asset=k,
                correlation=None if a == 1 else tuple(float(x) for x in chol[k, :a]),
                two_makers=two_makers,
                mm2_latency=mm2_latency,
            )
            for k in range(a)
        ]
        self.revisions = revisions_on(market_config, portfolio)
        if self.revisions:
            rows = portfolio.revision_cholesky()
            for k, c in enumerate(self.assets):
                for sim in c.sims:
                    row = tuple(float(x) for x in rows[k, :a])
                    sim.set_revisions(
                        row,
                        portfolio.revision_ticks,
                        portfolio.revision_prob,
                        pegged=portfolio.revision_pegging,
                        clustering=portfolio.revision_clustering,
                        clustering_steps=REVISION_CLUSTER_STEPS,
                    )
        first = self.assets[0]
        self.market_config = market_config
        self.env_config = env_config
        self.venues = first.venues
        self.n_venues = first.n_venues
        self.action_width = a * first.action_width
        self.horizon = first.horizon
        self.limit = first.limit
        self.limits = first.limits
        self.two_makers = first.two_makers
        self.names = asset_names(a)
        self.feature_names = PORTFOLIO_FEATURES + tuple(
            f"{name}.{f}" for name in self.names for f in first.feature_names
        )
        self.reward_params = RewardParams.from_env_config(env_config)
        self.tick = float(market_config.tick_size)
        self.lot_size = float(market_config.lot_size)
        self.value = float(market_config.value_per_tick_lot)
        self.cov = EWMACovariance(n, a, portfolio.cov_halflife_steps)
        window = portfolio.hist_window_steps
        self.risk = [MakerRisk(n, a, window) for _ in range(2 if self.two_makers else 1)]
        self.steps = np.zeros(n, np.int64)
        self.prev_mid = np.zeros((n, a))
        taker = np.array([v.taker_fee_bps for v in self.venues])
        self._taker_bps = taker  # (V,)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle, also a core pickled before the two-maker forms (a checkpoint's).

        Such a core held mm1's risk as its own arrays and its PnL ring buffer as ``_pnl``:
        they become ``risk[0]``, the core a one-maker one.
        """
        if "risk" not in state:
            risk = MakerRisk.__new__(MakerRisk)
            for name in _RISK_FIELDS:
                setattr(risk, name, state.pop(name))
            risk.pnl = state.pop("_pnl")
            state.pop("prev_wealth", None)  # kept then, never read
            state["risk"] = [risk]
            state["two_makers"] = False
            state["limits"] = (state["limit"], int(state["market_config"].makers.mm2_limit))
        self.__dict__.update(state)

    # ------------------------------------------------------------------ spaces and context
    def spaces(self) -> tuple[spaces.Box, spaces.Box]:
        """The observation and action spaces of one market."""
        obs, act = self.assets[0].spaces()
        low = np.concatenate([[0.0, 0.0], np.tile(obs.low, self.n_assets)]).astype(np.float32)
        high = np.concatenate([[1.0, VAR_FRACTION_MAX], np.tile(obs.high, self.n_assets)])
        space = spaces.Box(low, high.astype(np.float32), dtype=np.float32)
        action = spaces.Box(-1.0, 1.0, (self.n_assets * act.shape[0],), np.float32)
        return space, action

    def check_maker(self, maker: int, who: str) -> int:
        """``maker`` (0: mm1, 1: mm2) if it is one of this core's learning makers.

        Raises:
            ValueError: Naming ``who``, the maker and the allowed ones: mm2 (1) in a one-maker
                core, where mm2 is each venue's built-in rival, or anything but the integers
                0 and 1 (a bool is refused) in a two-maker one.
        """
        valid = isinstance(maker, (int, np.integer)) and not isinstance(maker, bool)
        if valid and 0 <= maker < len(self.risk):
            return int(maker)
        name = repr(("mm1", "mm2")[maker]) if valid and maker in (0, 1) else repr(maker)
        if len(self.risk) == 2:
            raise ValueError(f"{who}: maker={name}: choose 0 ('mm1') or 1 ('mm2')")
        raise ValueError(
            f"{who}: maker={name}: a one-maker portfolio has only 'mm1' (mm2 is each venue's "
            "built-in rival; PortfolioParallelEnv has two learning makers)"
        )

    def context(self, maker: int = 0) -> PolicyContext:
        """``maker``'s :class:`~mm_gym.policy.PolicyContext` over the whole observation.

        Raises:
            ValueError: For mm2 in a one-maker core (:meth:`check_maker`).
        """
        k = self.check_maker(maker, f"{type(self).__name__}.context")
        return replace(self.assets[0].context(k), feature_names=self.feature_names)

    def asset_contexts(self, maker: int, who: str) -> list[PolicyContext]:
        """``maker``'s MultiVenue-v0 context of each asset (:meth:`check_maker`, as ``who``)."""
        k = self.check_maker(maker, who)
        return [c.context(k) for c in self.assets]

    def step_count(self) -> np.ndarray:
        """``(n,)`` steps since each market's episode started."""
        return self.steps

    def render_frame(self, m: int) -> str:
        """A text frame of market ``m``: the risk, then each asset's venues."""
        from mm_gym.multivenue.env import render_venues  # the env module imports the cores

        who = ("mm1 ", "mm2 ") if self.two_makers else ("",)
        lines = [
            f"t={int(self.steps[m])} {who[k]}pnl={self.wealth(k)[m]:.2f} VaR={r.var[m]:.2f} "
            f"(limit {self.portfolio.var_limit:g}, breaches {int(r.breaches[m])}, "
            f"hedges {int(r.hedges[m])})"
            for k, r in enumerate(self.risk)
        ]
        for name, asset in zip(self.names, self.assets, strict=True):
            lines.append(f"[{name}] " + render_venues(asset, m))
        return "\n".join(lines)

    def asset_slices(self) -> list[slice]:
        """Where each asset's block (its MultiVenue-v0 observation) lies in the observation."""
        width = len(self.assets[0].feature_names)
        start = len(PORTFOLIO_FEATURES)
        return [slice(start + k * width, start + (k + 1) * width) for k in range(self.n_assets)]

    # ------------------------------------------------------------------ read-out
    def mids(self) -> np.ndarray:
        """``(n, A)`` each asset's consolidated mid, ticks."""
        return np.stack([c.consolidated_mid() for c in self.assets], axis=1)

    def inventories(self, maker: int = 0) -> np.ndarray:
        """``(n, A)`` ``maker``'s inventory in each asset, summed over the venues, lots."""
        return np.stack([c.inventories(maker).sum(axis=1) for c in self.assets], axis=1)

    def wealth(self, maker: int = 0) -> np.ndarray:
        """``(n,)`` ``maker``'s mark-to-market PnL over every asset and venue, currency."""
        return np.asarray(sum(c.wealth(maker) for c in self.assets), np.float64)

    def exposures(self, maker: int = 0) -> np.ndarray:
        """``(n, A)`` ``maker``'s exposure to each asset's return, currency per unit return."""
        return self.inventories(maker) * self.lot_size * self.mids() * self.tick

    def measured_var(self, maker: int = 0) -> np.ndarray:
        """``(n,)`` the delta-normal VaR of ``maker``'s exposures, currency (0 while warming)."""
        cov = self.cov.covariance
        ready = self.steps >= self.portfolio.cov_min_steps
        cov = np.where(ready[:, None, None], np.nan_to_num(cov), 0.0)
        p = self.portfolio
        return delta_normal_var(self.exposures(maker), cov, p.var_level, p.var_horizon_steps)

    def historical_var_es(self, maker: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``(n,)`` historical VaR and expected shortfall of ``maker``'s per-step PnL.

        Over the episode's last ``min(steps, hist_window_steps)`` steps, with the rule of
        :func:`mm_gym.metrics.var_es` (``k = ceil(m (1 - level))`` worst losses; VaR the k-th,
        ES their mean); 0 in an episode's first ``cov_min_steps`` steps. Currency.
        """
        p = self.portfolio
        var = np.zeros(self.n)
        es = np.zeros(self.n)
        used = np.minimum(self.steps, p.hist_window_steps)
        for m in np.unique(used[self.steps >= p.cov_min_steps]):
            rows = np.flatnonzero((used == m) & (self.steps >= p.cov_min_steps))
            k = max(1, math.ceil(round(int(m) * (1.0 - p.var_level), 9)))
            worst = np.partition(self.risk[maker].pnl[rows, : int(m)], k - 1, axis=1)[:, :k]
            var[rows] = -worst.max(axis=1)
            es[rows] = -worst.mean(axis=1)
        return var, es

    # ------------------------------------------------------------------ episodes and steps
    def start(self, mask: np.ndarray | None = None) -> None:
        """Reset the markets in ``mask`` (default all) of every asset, and their risk."""
        for c in self.assets:
            c.roots[:] = self.roots
            c.episodes[:] = self.episodes
            c.seeded = self.seeded
            c.start(mask)
        self.next_episode(mask)
        m: slice | np.ndarray = slice(None) if mask is None else mask
        self.cov.reset(None if mask is None else mask)
        self.steps[m] = 0
        self.prev_mid[m] = self.mids()[m]
        for risk in self.risk:
            risk.reset(m)

    def act(
        self,
        actions: np.ndarray,
        active: np.ndarray | None = None,
        mm2_actions: np.ndarray | None = None,
    ) -> None:
        """Step with ``(n, A * 2V)`` validated actions (asset by asset, as each asset's).

        ``mm2_actions``: mm2's, alike, with ``two_makers`` (required then).
        """
        per = actions.reshape(self.n, self.n_assets, -1)
        per2 = None if mm2_actions is None else mm2_actions.reshape(self.n, self.n_assets, -1)
        for k, c in enumerate(self.assets):
            c.act(per[:, k], active, None if per2 is None else per2[:, k])
        stepped = np.ones(self.n, np.bool_) if active is None else active
        mid = self.mids()
        self.cov.update(mid / self.prev_mid - 1.0)  # markets not stepped are reset next
        self.prev_mid[:] = mid
        self.steps[stepped] += 1
        for k in range(len(self.risk)):  # maker order: mm2's overlay sees mm1's hedge
            self._measure_and_hedge(stepped, k)
        if self.two_makers and self.portfolio.hedge:
            # mm2's hedge moved the books, the mids and (filling mm1's quotes) mm1's positions
            # after mm1's VaR was measured: each maker's VaR is that of the step's end
            for k, risk in enumerate(self.risk):
                risk.var[:] = self.measured_var(k)
        for risk in self.risk:
            risk.breaches += stepped & (risk.var > self.portfolio.var_limit)

    def _measure_and_hedge(self, stepped: np.ndarray, maker: int) -> None:
        """``maker``'s VaR, and its overlay's orders where it is over the limit."""
        risk = self.risk[maker]
        var = self.measured_var(maker)
        risk.var_pre_hedge[:] = var
        risk.clear_step()
        over = stepped & (var > self.portfolio.var_limit)
        if self.portfolio.hedge and over.any():
            self._hedge(over, maker)
            var = np.where(over, self.measured_var(maker), var)
        risk.var[:] = var

    def _taker_costs(self) -> np.ndarray:
        """``(n, A, V, 2)`` cost of buying and selling on each venue, bps of the mid.

        The taker fee plus the distance from the asset's consolidated mid to the venue's best
        ask (buying) or best bid (selling).
        """
        out = np.empty((self.n, self.n_assets, self.n_venues, 2))
        for k, c in enumerate(self.assets):
            bids, asks = c.tops()
            mid = c.consolidated_mid()[:, None]
            out[:, k, :, 0] = (asks - mid) / mid * 1e4 + self._taker_bps
            out[:, k, :, 1] = (mid - bids) / mid * 1e4 + self._taker_bps
        return np.where(np.isfinite(out), out, _NO_PRICE_BPS)

    def _hedge(self, over: np.ndarray, maker: int = 0) -> None:
        """``maker``'s overlay orders for the markets in ``over`` (module docstring)."""
        p = self.portfolio
        risk = self.risk[maker]
        limit_lots = self.limits[maker]
        rows = np.flatnonzero(over)
        cov = np.nan_to_num(self.cov.covariance[rows])
        mid = self.mids()
        lot_value = self.lot_size * mid[rows] * self.tick
        lots, venue = hedge_orders(
            self.exposures(maker)[rows], cov, p.var_limit, lot_value, self._taker_costs()[rows],
            max_lots=2 * limit_lots, level=p.var_level, horizon_steps=p.var_horizon_steps,
        )  # fmt: skip
        inv = self.inventories(maker)[rows]
        lots = np.clip(lots, -limit_lots - inv, limit_lots - inv).astype(np.int64)
        venue = np.where(lots != 0, venue, -1)
        order = np.zeros(self.n, np.int64)
        limit = np.zeros(self.n, np.int64)
        filled = np.zeros(self.n, np.int64)
        notional = np.zeros(self.n)
        for k, c in enumerate(self.assets):
            for v, sim in enumerate(c.sims):
                send = venue[:, k] == v
                if not send.any():
                    continue
                order[:] = 0
                order[rows[send]] = lots[send, k]
                m = mid[:, k]
                reach = p.hedge_limit_ticks
                limit[:] = np.where(order > 0, np.floor(m + reach), np.ceil(m - reach))
                take(sim.state, sim.params, order, limit, np.bool_(sim.record), filled, notional,
                     maker)  # fmt: skip
                fee = np.abs(filled) * sim.params.taker_fee
                cost = fee + (notional - filled * m) * self.value
                risk.hedge_cost_asset[:, k] += np.where(order != 0, cost, 0.0)
                risk.hedge_lots[:, k] += filled
                risk.hedge_venue[rows[send], k] = v
            c._tops = None  # the books changed
        for k in range(self.n_assets):  # in asset order, as the costs were incurred
            risk.hedge_cost += risk.hedge_cost_asset[:, k]
        risk.hedge_cost_total += risk.hedge_cost
        risk.hedges += (risk.hedge_lots != 0).any(axis=1)

    def settle(self, maker: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
        """``(reward, components, terminated)`` of ``maker``'s step just taken; roll forward.

        With two makers call it once per maker each step.
        """
        maker = self.check_maker(maker, f"{type(self).__name__}.settle")  # before any change
        pnl = np.zeros(self.n)
        inventory_pnl = np.zeros(self.n)
        prev_norm = np.sqrt(sum(c.prev_inv[maker].sum(axis=1) ** 2 for c in self.assets))
        for c in self.assets:
            _, comps, terminated = c.settle(maker)
            pnl += comps["pnl"]
            inventory_pnl += comps["inventory_pnl"]
        wealth = self.wealth(maker)
        risk = self.risk[maker]
        rows = np.flatnonzero(self.steps > 0)  # a market just reset has no step yet
        risk.pnl[rows, (self.steps[rows] - 1) % risk.pnl.shape[1]] = pnl[rows]
        norm = np.sqrt((self.inventories(maker) ** 2).sum(axis=1))
        reward, comps = step_reward(
            pnl,
            inventory_pnl,
            norm,
            terminated.astype(np.float64),
            wealth,
            self.reward_params,
            (prev_norm, self.horizon - self.assets[0].sims[0].scalars.t),
        )
        return reward, comps, terminated

    # ------------------------------------------------------------------ observations, infos
    def observations(self, maker: int = 0) -> np.ndarray:
        """``(n, obs_dim)`` float32 observations of ``maker`` (see :attr:`feature_names`)."""
        maker = self.check_maker(maker, f"{type(self).__name__}.observations")
        blocks = [c.observations(maker) for c in self.assets]
        out = np.empty((self.n, len(self.feature_names)), np.float32)
        out[:, 0] = blocks[0][:, 1]  # time_left, the same in every asset
        var = self.risk[maker].var
        out[:, 1] = np.clip(var / self.portfolio.var_limit, 0.0, VAR_FRACTION_MAX)
        for s, block in zip(self.asset_slices(), blocks, strict=True):
            out[:, s] = block
        return out

    def infos(self, components: dict[str, np.ndarray] | None, maker: int = 0) -> dict[str, Any]:
        """The batched info dict of ``maker`` (arrays with a leading ``n``)."""
        k = self.check_maker(maker, f"{type(self).__name__}.infos")
        r = self.risk[k]
        hist_var, hist_es = self.historical_var_es(k)
        fills = np.stack([c.step_fills(k).sum(axis=1) for c in self.assets], axis=1)
        fees = sum(sum(s.accounts.fees[:, k] for s in c.sims) for c in self.assets)
        venue_inventory = np.stack([c.inventories(k) for c in self.assets], 1)
        info: dict[str, Any] = {
            "pnl": self.wealth(k),
            "inventory": self.inventories(k).astype(np.int64),
            "venue_inventory": venue_inventory.astype(np.int64),
            "mid": self.mids() * self.tick,
            "exposure": self.exposures(k),
            "fills": fills.astype(np.int64),
            "fees": np.asarray(fees, np.float64),
            "var": r.var.copy(),
            "var_pre_hedge": r.var_pre_hedge.copy(),
            "var_limit": np.full(self.n, self.portfolio.var_limit),
            "var_breaches": r.breaches.copy(),
            "hist_var": hist_var,
            "hist_es": hist_es,
            "hedges": r.hedges.copy(),
            "hedge_lots": r.hedge_lots.copy(),
            "hedge_venue": r.hedge_venue.copy(),
            "hedge_cost": r.hedge_cost.copy(),
            "hedge_cost_total": r.hedge_cost_total.copy(),
            "step": self.assets[0].sims[0].scalars.t.copy(),
        }
        if components is None:
            components = dict.fromkeys(COMPONENT_NAMES, np.zeros(self.n))
        info["reward_components"] = components
        return info
