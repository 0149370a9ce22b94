"""What the multi-venue environments add to :class:`~.market.MultiVenueMarket`.

The observation, per market: mm1's summed inventory over its limit, the time left and the
observed sentiment (shared by the venues), then per venue ``<name>.<feature>`` for
:data:`VENUE_BOOK_FEATURES` (the venue's book as the single-venue env observes it, from mm1's
point of view) and :data:`VENUE_OWN_FEATURES` (the venue's mid minus the consolidated mid,
mm1's recent fill rate there, its lots bought and sold there in the last step and their spread
capture per lot in ticks, its inventory there over its limit, the venue's fees and latency):
what a router needs to value a venue from its own fills.

The reward is :func:`mm_gym.rewards.step_reward` of mm1's PnL over the venues (its cash on every
venue plus its summed inventory marked at the consolidated mid, the mid of the best bid and ask
over all venues) and its summed inventory.

With ``two_makers=True`` (:class:`~mm_gym.multivenue.MultiVenueMarket`) mm2 acts too
(:meth:`MultiVenueCore.act`'s ``mm2_actions``), and :meth:`~MultiVenueCore.observations`,
:meth:`~MultiVenueCore.infos`, :meth:`~MultiVenueCore.settle` and
:meth:`~MultiVenueCore.context` take a ``maker`` (0: mm1, 1: mm2): the same quantities from that
maker's point of view (its inventory over its own limit, its fills, its quotes as ``own_*`` and
the other maker's as ``rival_*``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from mm_gym.actions import actions_to_offsets
from mm_gym.config import ConfigError, MarketConfig
from mm_gym.envs.config import EnvConfig
from mm_gym.multivenue.config import VenueConfig
from mm_gym.multivenue.market import MultiVenueMarket
from mm_gym.multivenue.routing import (
    DEFAULT_ACTION_FORM,
    check_action_form,
    routed_quotes,
)
from mm_gym.observations import FEATURE_NAMES_ALL, feature_bounds
from mm_gym.policy import PolicyContext
from mm_gym.rewards import COMPONENT_NAMES, RewardParams, step_reward

__all__ = [
    "GLOBAL_FEATURES",
    "VENUE_BOOK_FEATURES",
    "VENUE_OWN_FEATURES",
    "MultiVenueCore",
    "check_env_config",
]

GLOBAL_FEATURES: tuple[str, ...] = ("inventory", "time_left", "sentiment")
VENUE_BOOK_FEATURES: tuple[str, ...] = (
    "spread_ticks",
    "imbalance_l1",
    "ret_1",
    "flow",
    "volatility_ticks",
    "own_bid_offset",
    "own_ask_offset",
    "rival_bid_offset",
    "rival_ask_offset",
)
VENUE_OWN_FEATURES: tuple[str, ...] = (
    "mid_gap_ticks",
    "fill_rate",
    "bought_lots",
    "sold_lots",
    "edge_ticks",
    "venue_inventory",
    "maker_fee_bps",
    "taker_fee_bps",
    "latency_steps",
)
_OWN_BOUNDS = {
    "mid_gap_ticks": (-50.0, 50.0),
    "fill_rate": (0.0, 1_000.0),
    "bought_lots": (0.0, 1_000.0),
    "sold_lots": (0.0, 1_000.0),
    "edge_ticks": (0.0, 100.0),
    "maker_fee_bps": (-100.0, 0.0),
    "taker_fee_bps": (0.0, 100.0),
    "latency_steps": (0.0, 1_000.0),
}
_COL = {name: i for i, name in enumerate(FEATURE_NAMES_ALL)}


def check_env_config(env_config: EnvConfig) -> None:
    """Refuse the :class:`EnvConfig` options the multi-venue envs do not implement.

    Raises:
        ConfigError: For ``action_type`` other than ``"continuous"`` or a ``max_drawdown``.
    """
    if env_config.action_type != "continuous":
        raise ConfigError(
            f"action_type={env_config.action_type!r}: the multi-venue envs take "
            "action_type='continuous' only (a bid and an ask action per venue)"
        )
    if env_config.max_drawdown is not None:
        raise ConfigError(
            f"max_drawdown={env_config.max_drawdown!r}: not supported by the multi-venue envs"
        )


class MultiVenueCore(MultiVenueMarket):
    """``n`` multi-venue markets with observations, rewards and infos (module docstring).

    Args:
        market_config: The asset's market.
        env_config: The environment options (continuous actions only).
        venues: The venues.
        n: Number of markets.
        asset: The asset's index in a portfolio (:class:`~mm_gym.multivenue.MultiVenueMarket`).
        correlation: Its row of the portfolio's Cholesky factor (None: a single asset).
        action_form: ``"per_venue"`` (a bid and an ask action per venue) or ``"routed"`` (one
            quote and a routing vector, :mod:`mm_gym.multivenue.routing`); both makers' form.
        two_makers: mm2 acts too (module docstring); False: mm2 is the built-in rival.
        mm2_latency: With ``two_makers``, mm2's latency per venue (default the venues').
    """

    def __init__(
        self,
        market_config: MarketConfig,
        env_config: EnvConfig,
        venues: tuple[VenueConfig, ...],
        n: int = 1,
        *,
        asset: int = 0,
        correlation: tuple[float, ...] | None = None,
        action_form: str = DEFAULT_ACTION_FORM,
        two_makers: bool = False,
        mm2_latency: tuple[int, ...] | None = None,
    ) -> None:
        """Build the venues and the bookkeeping."""
        check_env_config(env_config)
        self.action_form = check_action_form(action_form)
        super().__init__(
            market_config,
            venues,
            n,
            asset=asset,
            correlation=correlation,
            two_makers=two_makers,
            mm2_latency=mm2_latency,
        )
        self.env_config = env_config
        self.horizon = int(market_config.horizon_steps)
        self.reward_params = RewardParams.from_env_config(env_config)
        self.max_offset = float(env_config.max_offset_ticks)
        self.mapping = env_config.action_mapping
        self.quote_size = float(env_config.quote_size_lots)
        self.feature_names = GLOBAL_FEATURES + tuple(
            f"{v.name}.{f}" for v in self.venues for f in VENUE_BOOK_FEATURES + VENUE_OWN_FEATURES
        )
        self._book_cols = np.array([_COL[f] for f in VENUE_BOOK_FEATURES])
        self._fees = np.array([[v.maker_fee_bps, v.taker_fee_bps] for v in self.venues])
        # per maker: the wealth, venue inventories and consolidated mid at the last settle
        self.prev_wealth = np.zeros((2, n))
        self.prev_inv = np.zeros((2, n, self.n_venues))
        self.prev_mid = np.zeros((2, n))
        self.routed = self.action_form == "routed"
        # per venue a bid and an ask action; routed: one bid, one ask, then a weight per venue
        self.action_width = 2 + self.n_venues if self.routed else 2 * self.n_venues
        self.budget_lots = int(env_config.quote_size_lots) * self.n_venues  # routed, per side
        # each maker's offsets and sizes of this step (mm1's are also _offsets and _sizes)
        self._maker_offsets = np.zeros((2, n, self.n_venues, 2))
        self._maker_sizes = np.full((2, n, self.n_venues, 2), self.quote_size)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle, also a core pickled before the two-maker mode (a checkpoint's)."""
        if "_maker_offsets" not in state:  # one maker's layout: mm1's arrays only
            for key in ("prev_wealth", "prev_inv", "prev_mid"):
                state[key] = np.stack([state[key], np.zeros_like(state[key])])
            for key in ("offsets", "sizes"):
                mine = state.pop(f"_{key}")
                state[f"_maker_{key}"] = np.stack([mine, mine])
        super().__setstate__(state)

    @property
    def _offsets(self) -> np.ndarray:
        """``(n, V, 2)`` mm1's offsets of this step (a view taken on use: pickles keep none)."""
        return self._maker_offsets[0]

    @property
    def _sizes(self) -> np.ndarray:
        """``(n, V, 2)`` mm1's sizes of this step (a view taken on use)."""
        return self._maker_sizes[0]

    def spaces(self) -> tuple[spaces.Box, spaces.Box]:
        """The observation and action spaces of one market."""
        low, high = [], []
        venue = len(VENUE_BOOK_FEATURES) + len(VENUE_OWN_FEATURES)
        for name in self.feature_names:
            short = name.split(".", 1)[-1]
            if short == "venue_inventory":
                lo, hi = -float(self.n_venues), float(self.n_venues)
            elif short in _OWN_BOUNDS:
                lo, hi = _OWN_BOUNDS[short]
            else:
                b = feature_bounds((short,))
                lo, hi = float(b[0][0]), float(b[1][0])
            low.append(lo)
            high.append(hi)
        assert len(low) == len(GLOBAL_FEATURES) + venue * self.n_venues
        obs = spaces.Box(np.array(low, np.float32), np.array(high, np.float32), dtype=np.float32)
        act = spaces.Box(-1.0, 1.0, (self.action_width,), np.float32)
        return obs, act

    def context(self, maker: int = 0) -> PolicyContext:
        """``maker``'s :class:`~mm_gym.policy.PolicyContext` (limit: on its summed inventory)."""
        return PolicyContext(
            feature_names=self.feature_names,
            max_offset_ticks=self.max_offset,
            horizon_steps=self.horizon,
            inventory_limit=self.limits[maker],
            tick_size=float(self.market_config.tick_size),
            quote_size_lots=int(self.quote_size),
            action_mapping=self.mapping,
            maker=("mm1", "mm2")[maker],
        )

    def step_count(self) -> np.ndarray:
        """``(n,)`` steps since each market's episode started (read-only)."""
        return self.sims[0].scalars.t

    def render_frame(self, m: int) -> str:
        """The text frame of market ``m`` (:func:`mm_gym.multivenue.env.render_venues`)."""
        from mm_gym.multivenue.env import render_venues  # the env module imports this one

        return render_venues(self, m)

    # ------------------------------------------------------------------ episodes and steps
    def start(self, mask: np.ndarray | None = None) -> None:
        """Reset the markets in ``mask`` (default all) and their reward bookkeeping."""
        self.reset(mask)
        m: slice | np.ndarray = slice(None) if mask is None else mask
        for k in range(2 if self.two_makers else 1):
            self.prev_wealth[k, m] = self.wealth(k)[m]
            self.prev_inv[k, m] = self.inventories(k)[m]
            self.prev_mid[k, m] = self.consolidated_mid()[m]

    def act(
        self,
        actions: np.ndarray,
        active: np.ndarray | None = None,
        mm2_actions: np.ndarray | None = None,
    ) -> None:
        """Step with ``(n, action_width)`` validated float actions (and mm2's, with two makers).

        Per venue: a bid and an ask action per venue, in venue order. Routed: a bid and an ask
        action, then a routing action per venue (:meth:`routed_quotes`).
        """
        self._set_quotes(actions, 0)
        mm2 = None
        if mm2_actions is not None:
            self._set_quotes(mm2_actions, 1)
            mm2 = (self._maker_offsets[1], self._maker_sizes[1])
        self.step(self._offsets, self._sizes, active, mm2)

    def _set_quotes(self, actions: np.ndarray, k: int) -> None:
        """Set maker ``k``'s offsets and sizes for this step from its actions."""
        if self.routed:
            self.routed_quotes(actions, k)
            return
        a = actions.reshape(self.n * self.n_venues, 2)
        self._maker_offsets[k] = actions_to_offsets(a, self.max_offset, self.mapping).reshape(
            self.n, self.n_venues, 2
        )

    def routed_quotes(self, actions: np.ndarray, maker: int = 0) -> None:
        """Set ``maker``'s offsets and sizes for this step from ``(n, 2 + V)`` routed actions.

        :func:`~mm_gym.multivenue.routing.routed_quotes`: the bid and ask offsets (one pair,
        every venue, from its own mid) and the sizes, :attr:`budget_lots` allocated by the
        routing weights, the same on both sides (0 lots: no quote on that venue).
        """
        offsets, lots = routed_quotes(actions, self.max_offset, self.mapping, self.budget_lots)
        self._maker_offsets[maker] = offsets
        self._maker_sizes[maker] = lots[:, :, None]

    def settle(self, maker: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
        """``(reward, components, terminated)`` of ``maker``'s step just taken; roll its books.

        With two makers call it once per maker each step.
        """
        wealth = self.wealth(maker)
        inv_v = self.inventories(maker)
        mid = self.consolidated_mid()
        prev_inv, prev_mid = self.prev_inv[maker], self.prev_mid[maker]
        pnl = wealth - self.prev_wealth[maker]
        inventory_pnl = prev_inv.sum(axis=1) * (mid - prev_mid) * self.value
        terminated = self.sims[0].scalars.t >= self.horizon
        reward, comps = step_reward(
            pnl,
            inventory_pnl,
            inv_v.sum(axis=1),
            terminated.astype(np.float64),
            wealth,
            self.reward_params,
            (prev_inv.sum(axis=1), self.horizon - self.sims[0].scalars.t),
        )
        self.prev_wealth[maker] = wealth
        prev_inv[:] = inv_v
        prev_mid[:] = mid
        return reward, comps, terminated

    # ------------------------------------------------------------------ read-out
    def observations(self, maker: int = 0) -> np.ndarray:
        """``(n, obs_dim)`` float32 observations of ``maker`` (module docstring)."""
        n, nv, k = self.n, self.n_venues, maker
        inv_v = self.inventories(k)
        mids = self.mids()
        limit = self.limits[k]
        out = np.empty((n, len(self.feature_names)), np.float32)
        first = self.sims[0].features[:, k]
        out[:, 0] = np.clip(inv_v.sum(axis=1) / limit, -1.0, 1.0)
        out[:, 1] = first[:, _COL["time_left"]]
        out[:, 2] = first[:, _COL["sentiment"]]
        width = len(VENUE_BOOK_FEATURES) + len(VENUE_OWN_FEATURES)
        gap = np.clip(mids - self.consolidated_mid()[:, None], -50.0, 50.0)
        for v, sim in enumerate(self.sims):
            c = len(GLOBAL_FEATURES) + v * width
            b = len(VENUE_BOOK_FEATURES)
            out[:, c : c + b] = sim.features[:, k][:, self._book_cols]
            own = out[:, c + b : c + width]
            acc = sim.accounts
            bought, sold = acc.step_bought[:, k], acc.step_sold[:, k]
            lots = bought + sold
            edge = acc.step_edge[:, k] / (np.maximum(lots, 1.0) * self.value)
            own[:, 0] = gap[:, v]
            own[:, 1] = np.minimum(self.fill_rates[k, :, v], 1_000.0)
            own[:, 2] = np.minimum(bought, 1_000.0)
            own[:, 3] = np.minimum(sold, 1_000.0)
            own[:, 4] = np.clip(edge, 0.0, 100.0)
            own[:, 5] = np.clip(inv_v[:, v] / limit, -nv, nv)
            own[:, 6:8] = self._fees[v]
            own[:, 8] = self.latencies[k, v]
        return out

    def infos(self, components: dict[str, np.ndarray] | None, maker: int = 0) -> dict[str, Any]:
        """The batched info dict of ``maker`` (arrays with a leading ``n``)."""
        tick = float(self.market_config.tick_size)
        inv_v = self.inventories(maker)
        sc = self.sims[0].scalars
        fees = sum(s.accounts.fees[:, maker] for s in self.sims)
        fills = self.step_fills(maker)
        info: dict[str, Any] = {
            "pnl": self.wealth(maker),
            "inventory": inv_v.sum(axis=1).astype(np.int64),
            "venue_inventory": inv_v.astype(np.int64),
            "venue_mid": self.mids() * tick,
            "venue_fills": fills.astype(np.int64),
            "fills": fills.sum(axis=1).astype(np.int64),
            "fees": np.asarray(fees, np.float64),
            "arbitrage_lots": self.arbitrage_lots.copy(),
            "mid": self.consolidated_mid() * tick,
            "regime": sc.regime.copy(),
            "step": sc.t.copy(),
        }
        if components is None:
            components = dict.fromkeys(COMPONENT_NAMES, np.zeros(self.n))
        info["reward_components"] = components
        return info
