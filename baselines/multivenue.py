"""Scripted baselines for ``mm_gym/MultiVenue-v0``: quote everywhere, or route with AS on top.

Both read the multi-venue observation by feature name (:class:`mm_gym.policy.PolicyContext`;
global ``inventory``, ``time_left``, ``sentiment``, then ``<venue>.<feature>`` per venue, see
:mod:`mm_gym.multivenue.core`) and return ``(n, 2V)`` actions, a bid and an ask per venue.

:class:`QuoteEverywhere` runs a single-venue quoting rule (:class:`~baselines.FixedSpread`,
:class:`~baselines.AvellanedaStoikov`, :class:`~baselines.GLFT`, ...) once per venue on a
*view* of the observation: the global features (so the reservation price comes from mm1's
inventory summed over the venues, over the summed limit) and that venue's book features (its
spread, volatility, flow ...). The rule's offsets are offsets from that venue's mid.

:class:`RoutedAS` is issue #15's smart router with a quoting model on top: the same per-venue
quotes, sent only to the ``top_k`` venues a :class:`~baselines.VenueRouter` ranks best; the
other venues are parked (:func:`mm_gym.multivenue.routing.parked_action`: both sides
``max_offset_ticks`` from the mid, (+1, +1) under the per-side action mappings and (+1, 0) under
``"spread_skew"``, :mod:`mm_gym.actions`): the action space has no size, so "no quote" is a
quote parked as far from the mid as the env allows.

**What the router learns from.** Only what mm1 observes and its own actions. Step ``t``'s
observation carries, per venue, ``bought_lots`` and ``sold_lots`` (mm1's fills in step ``t``),
``ret_1`` (the venue's mid change in step ``t``, ticks, arbitrage included), ``spread_ticks``,
``latency_steps`` and ``maker_fee_bps``. The policy keeps each venue's mid relative to the
episode's first by summing ``ret_1``, and remembers the prices of the quotes it sent (the env
prices a quote at ``floor(mid - offset)`` / ``ceil(mid + offset)``, which the spread's parity
fixes relative to the mid; a quote arriving at or through the observed opposite best is moved
one tick inside it, the simulator's post-only rule). A step's buys (sells) on a venue are one
fill of side +1 (-1) at the price of the quote resting there, the one sent ``latency_steps``
steps before, so the router's value per lot is the fill's mark-out plus its rebate::

    side * (mid_H - price) + rebate_ticks

with ``mid_H`` the venue's mid ``adverse_horizon_steps`` later (:class:`~baselines.VenueRouter`).
Summed over an episode's fills and marked at its last mid this is the venue's PnL exactly at
latency 0 and to within a tick on a few lots with latency (the post-only rule is applied against
the observed best, which may be mm1's own quote; the simulator excludes it).
``fill_price="edge"`` instead prices a fill at the step's starting mid minus the observed
``edge_ticks`` (spread capture per lot against the mid at the fill, clipped at 0): it misses the
mid's move within the step and overvalues stale quotes, and ranked a 20-step-latency venue first
in a measured two-venue market where it was the worse one; kept for comparison.

**Rebate in ticks per lot.** A maker fee of ``b`` bps is charged on one lot's notional at the
start price ``P`` (currency; :func:`mm_gym.multivenue.bps_to_currency_per_lot`): ``b * 1e-4 * P
* lot`` currency per lot, i.e. ``b * 1e-4 * P / tick_size`` ticks·lot per lot, since one tick
per lot is ``tick_size * lot`` currency. So ``rebate_ticks = -maker_fee_bps * 1e-4 *
start_price / tick_size`` with ``tick_size`` from the PolicyContext and ``start_price`` a
parameter (the observation holds no price level); the default preset's ``P = 100``, tick 0.01,
gives 1 bps = 1 tick per lot. :func:`routed_as_for` reads ``P`` from an environment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from baselines.policies import FixedSpread
from baselines.router import VenueRouter
from mm_gym.actions import actions_to_offsets
from mm_gym.config import ConfigError, _check_range
from mm_gym.multivenue.routing import parked_action
from mm_gym.policy import PolicyContext, QuotingPolicy

__all__ = [
    "MULTIVENUE_BASELINES",
    "QuoteEverywhere",
    "RoutedAS",
    "make_multivenue_policy",
    "rebate_ticks_per_lot",
    "routed_as_for",
    "venue_names",
]

_ROUTER_FEATURES = (
    "bought_lots", "sold_lots", "edge_ticks", "ret_1", "maker_fee_bps", "latency_steps",
    "spread_ticks", "mid_gap_ticks",
)  # fmt: skip
FILL_PRICES = ("quotes", "edge")
"""How :class:`RoutedAS` prices a step's fills (module docstring)."""


def rebate_ticks_per_lot(maker_fee_bps: Any, start_price: float, tick_size: float) -> Any:
    """A maker fee in bps as a rebate in ticks per lot (module docstring; negative: a fee)."""
    return -np.asarray(maker_fee_bps, np.float64) * 1e-4 * start_price / tick_size


def venue_names(context: PolicyContext) -> tuple[str, ...]:
    """The venues of a multi-venue context, in order (from its ``<venue>.<feature>`` names)."""
    names = [f.split(".", 1)[0] for f in context.feature_names if "." in f]
    return tuple(dict.fromkeys(names))


def _check_policy(owner: str, base: Any) -> QuotingPolicy:
    if not isinstance(base, QuotingPolicy):
        raise ConfigError(
            f"{owner}.base={base!r} must be a single-venue QuotingPolicy "
            "(reset(rng, context) and act(obs)), e.g. baselines.FixedSpread(1.0)"
        )
    return base


class QuoteEverywhere:
    """A single-venue quoting rule run on every venue (module docstring).

    Args:
        base: The single-venue policy; it sees ``inventory``, ``time_left``, ``sentiment`` and
            one venue's book features (:data:`mm_gym.multivenue.core.VENUE_BOOK_FEATURES`)
            under their single-venue names, with the summed inventory limit.
        name: Display name (default ``"everywhere_<base.name>"``).

    Raises:
        ConfigError: If ``base`` is not a QuotingPolicy or ``name`` is empty.
    """

    multi_venue = True
    """It quotes every venue of a multi-venue env (what cross-play checks a baseline for)."""

    def __init__(self, base: QuotingPolicy, *, name: str | None = None) -> None:
        """Wrap ``base``."""
        self.base = _check_policy(type(self).__name__, base)
        if name is not None and (not isinstance(name, str) or not name):
            raise ConfigError(f"{type(self).__name__}.name={name!r} must be a non-empty string")
        self.name = name or f"everywhere_{base.name}"
        self._context: PolicyContext | None = None
        self._cols = np.zeros((0, 0), np.int64)

    @property
    def context(self) -> PolicyContext:
        """The multi-venue context of the last :meth:`reset`."""
        if self._context is None:
            raise RuntimeError(
                f"{type(self).__name__}.act() called before reset(rng, context); get the "
                "context from env.unwrapped.policy_context()"
            )
        return self._context

    def reset(self, rng: np.random.Generator, context: PolicyContext) -> None:
        """Build the per-venue views and reset ``base`` with the single-venue context.

        Raises:
            KeyError: If ``context`` is not a multi-venue one (a feature is missing).
        """
        # Imported here: mm_gym.multivenue loads the simulator, which `import baselines` avoids.
        from mm_gym.multivenue.core import GLOBAL_FEATURES, VENUE_BOOK_FEATURES

        venues = venue_names(context)
        if not venues:
            raise KeyError(f"no '<venue>.<feature>' features in {context.feature_names}")
        view = (*GLOBAL_FEATURES, *VENUE_BOOK_FEATURES)
        self._cols = np.array(
            [
                [context.index(f if f in GLOBAL_FEATURES else f"{v}.{f}") for f in view]
                for v in venues
            ],
            np.int64,
        )
        self._context = context
        self.base.reset(rng, replace(context, feature_names=view))

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Map observations ``(n, d)`` to actions ``(n, 2V)`` float32, bid and ask per venue."""
        ctx = self.context
        obs = np.asarray(obs)
        if obs.ndim != 2 or obs.shape[1] != len(ctx.feature_names):
            raise ValueError(
                f"{type(self).__name__}.act: obs has shape {obs.shape}; expected "
                f"(n, {len(ctx.feature_names)})"
            )
        n, nv = obs.shape[0], self._cols.shape[0]
        views = obs[:, self._cols]  # (n, V, view features)
        actions = np.asarray(self.base.act(views.reshape(n * nv, -1)), np.float32)
        return actions.reshape(n, 2 * nv)


class RoutedAS(QuoteEverywhere):
    """A quoting model (AS or GLFT) on the ``top_k`` venues a learning router ranks best.

    Every step the router (:class:`~baselines.VenueRouter`) is fed mm1's fills of the last step
    synthesised from the observed features and the venues' relative mids (module docstring),
    then chooses ``top_k`` venues (random ones with probability ``explore``); the model's
    quotes go to those, the others get action +1 (the farthest offset). Estimates are per
    environment and per episode: an environment whose ``time_left`` goes up (a new episode)
    starts afresh. :attr:`choice_counts` counts the steps each venue was chosen.

    Args:
        base: The quoting model (single-venue; e.g. ``calibrated_as("default")``).
        top_k: Venues quoted per step, >= 1 (at most the number of venues, checked at reset).
        halflife_fills: Half-life of the router's weights, fills, > 0.
        adverse_horizon_steps: Steps after a fill at which its mark-out is taken, >= 0.
        explore: Probability of a random choice per environment and step, in [0, 1].
        start_price: The asset's start price, currency (> 0), to turn bps into ticks.
        seed: Seed of the router's generator when :meth:`reset` gets no rng, >= 0.
        name: Display name (default ``"routed_<base.name>"``).

    Raises:
        ConfigError: Naming the parameter, its value and the allowed range.
    """

    def __init__(
        self,
        base: QuotingPolicy,
        *,
        top_k: int = 1,
        halflife_fills: float = 50.0,
        adverse_horizon_steps: int = 10,
        explore: float = 0.05,
        start_price: float = 100.0,
        fill_price: str = "quotes",
        name: str | None = None,
    ) -> None:
        """Validate the parameters."""
        if fill_price not in FILL_PRICES:
            raise ConfigError(f"RoutedAS.fill_price={fill_price!r} must be one of {FILL_PRICES}")
        _check_range("RoutedAS.top_k", top_k, 1, 16, integer=True)
        _check_range("RoutedAS.halflife_fills", halflife_fills, 0.0, 1e9, lo_open=True)
        _check_range("RoutedAS.adverse_horizon_steps", adverse_horizon_steps, 0, 1e6, integer=True)
        _check_range("RoutedAS.explore", explore, 0.0, 1.0)
        _check_range("RoutedAS.start_price", start_price, 0.0, 1e12, lo_open=True)
        super().__init__(base, name=name or f"routed_{base.name}")
        self.top_k = int(top_k)
        self.halflife_fills = float(halflife_fills)
        self.adverse_horizon_steps = int(adverse_horizon_steps)
        self.explore = float(explore)
        self.start_price = float(start_price)
        self.fill_price = fill_price
        self.router: VenueRouter | None = None
        self.choice_counts = np.zeros(0, np.int64)
        self._rng = np.random.default_rng(0)
        self._fcols: dict[str, np.ndarray] = {}
        self._time_col = 0
        self._mid = np.zeros((0, 0))  # (n, V) each venue's mid minus the episode's first, ticks
        self._time_left = np.zeros(0)
        self._step = 0

    def reset(self, rng: np.random.Generator, context: PolicyContext) -> None:
        """Reset the model and forget the router (rebuilt at the next :meth:`act`).

        Raises:
            ConfigError: If ``top_k`` exceeds the number of venues.
            KeyError: If a needed feature is missing.
        """
        super().reset(rng, context)
        nv = self._cols.shape[0]
        _check_range("RoutedAS.top_k", self.top_k, 1, nv, integer=True)
        venues = venue_names(context)
        self._fcols = {
            f: np.array([context.index(f"{v}.{f}") for v in venues]) for f in _ROUTER_FEATURES
        }
        self._time_col = context.index("time_left")
        self._rng = rng
        self.router = None
        self.choice_counts = np.zeros(nv, np.int64)

    def _start_router(self, n: int, latency: np.ndarray) -> VenueRouter:
        nv = self._cols.shape[0]
        self.router = VenueRouter(
            n,
            nv,
            halflife_fills=self.halflife_fills,
            adverse_horizon_steps=self.adverse_horizon_steps,
            explore=self.explore,
            top_k=self.top_k,
            seed=int(self._rng.integers(2**62)),
        )
        self._mid = np.zeros((n, nv))
        self._time_left = np.full(n, np.inf)
        self._episode_start = np.zeros(n, np.int64)
        # Ring of the quotes sent, (bid, ask) prices relative to the episode's first mid, ticks.
        self._sent = np.zeros((int(latency.max()) + 2, n, nv, 2))
        self._step = 0
        return self.router

    def _fill_prices(
        self, f: dict[str, np.ndarray], start_mid: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(n, V)`` prices of last step's buys and sells, ticks relative to the first mid.

        ``"quotes"``: the quote resting in the last step, sent ``latency + 1`` calls ago;
        ``"edge"``: the step's starting mid minus (plus) the observed ``edge_ticks``.
        """
        if self.fill_price == "edge":
            return start_mid - f["edge_ticks"], start_mid + f["edge_ticks"]
        lat = f["latency_steps"][0].astype(np.int64)  # the same in every environment
        sent_at = self._step - 1 - lat  # (V,)
        ring = self._sent[sent_at % self._sent.shape[0], :, np.arange(lat.size)]  # (V, n, 2)
        return ring[..., 0].T, ring[..., 1].T

    def _remember_quotes(self, actions: np.ndarray, f: dict[str, np.ndarray]) -> None:
        """Store the prices ``actions`` quote, then post-only-clamp the quotes arriving next.

        The env quotes ``floor(mid - bid offset)`` and ``ceil(mid + ask offset)``; the mid is a
        whole tick at an even spread and half a tick off at an odd one, so the distances follow
        from the observed spread. A quote arriving (sent ``latency`` calls ago) at or through
        the opposite best is placed one tick inside it (:func:`mm_gym.market.kernels`'s
        post-only rule, here against the observed best, which may be mm1's own quote), and one at
        or through another venue's best price slides one tick away from it (the env's order
        protection, from the venues' ``mid_gap_ticks`` and spreads).
        """
        ctx = self.context
        spread = f["spread_ticks"]
        n, nv = spread.shape
        off = actions_to_offsets(
            actions.reshape(n, nv, 2), ctx.max_offset_ticks, ctx.action_mapping
        )
        half = 0.5 * (np.rint(spread) % 2)
        bid = np.floor(half - off[..., 0]) - half
        ask = np.ceil(half + off[..., 1]) - half
        size = self._sent.shape[0]
        self._sent[self._step % size] = np.stack([self._mid + bid, self._mid + ask], axis=-1)
        venue = np.arange(nv)
        slot = (self._step - f["latency_steps"][0].astype(np.int64)) % size
        arriving = self._sent[slot, :, venue]  # (V, n, 2)
        best_bid, best_ask = (self._mid - 0.5 * spread).T, (self._mid + 0.5 * spread).T
        arriving[..., 0] = np.minimum(arriving[..., 0], best_ask - 1.0)
        arriving[..., 1] = np.maximum(arriving[..., 1], best_bid + 1.0)
        # the env slides a quote off the other venues' best prices (order protection): their
        # bests relative to the consolidated mid, moved into this venue's coordinates
        gap = f["mid_gap_ticks"]
        away_bid, away_ask = gap - 0.5 * spread, gap + 0.5 * spread  # (n, V)
        for v in range(nv):
            others = venue != v
            if not others.any():
                continue
            shift = self._mid[:, v] - gap[:, v]
            arriving[v, :, 0] = np.minimum(
                arriving[v, :, 0], away_ask[:, others].min(1) + shift - 1.0
            )
            arriving[v, :, 1] = np.maximum(
                arriving[v, :, 1], away_bid[:, others].max(1) + shift + 1.0
            )
        self._sent[slot, :, venue] = arriving

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Feed the router last step's fills, choose venues, quote on them (class docstring)."""
        actions = super().act(obs)
        ctx = self.context
        n = obs.shape[0]
        f = {k: obs[:, c].astype(np.float64) for k, c in self._fcols.items()}
        router = self.router
        if router is None or router.n_envs != n:
            router = self._start_router(n, f["latency_steps"][0])
        time_left = obs[:, self._time_col].astype(np.float64)
        new = time_left > self._time_left  # a new episode: forget its fills and estimates
        self._time_left = time_left
        if new.any():
            router.reset(new)
            self._mid[new] = 0.0
            self._episode_start[new] = self._step
        start_mid = self._mid.copy()
        self._mid[~new] += f["ret_1"][~new]
        rebate = rebate_ticks_per_lot(f["maker_fee_bps"], self.start_price, ctx.tick_size)
        prices = self._fill_prices(f, start_mid)
        sent_at = self._step - 1 - f["latency_steps"].astype(np.int64)
        valid = ~new[:, None] & (sent_at >= self._episode_start[:, None])
        for side, lots, price in (
            (1, f["bought_lots"], prices[0]),
            (-1, f["sold_lots"], prices[1]),
        ):
            env, ven = np.nonzero((lots > 0) & valid)
            router.record_fills(
                self._step, env, ven, side, price[env, ven], self._mid[env, ven],
                lots[env, ven], rebate[env, ven],
            )  # fmt: skip
        router.observe_mid(self._step, self._mid)
        chosen = router.choose()
        self.choice_counts += chosen.sum(axis=0)
        # Not chosen: parked, both sides at the farthest offset.
        actions.reshape(n, -1, 2)[~chosen] = parked_action(ctx.action_mapping)
        if self.fill_price == "quotes":
            self._remember_quotes(actions, f)
        self._step += 1
        return actions

    @property
    def choice_shares(self) -> np.ndarray:
        """Share of (environment, step) choices each venue got since :meth:`reset`."""
        total = self.choice_counts.sum()
        return self.choice_counts / total if total else np.zeros(self.choice_counts.shape)


def routed_as_for(env: Any, base: QuotingPolicy, **kwargs: Any) -> RoutedAS:
    """A :class:`RoutedAS` with ``env``'s start price (``env`` a Gymnasium or vector env)."""
    cfg = getattr(env, "unwrapped", env).market_config
    return RoutedAS(base, start_price=cfg.price0_ticks * cfg.tick_size, **kwargs)


def _as(preset: str) -> QuotingPolicy:
    from baselines.calibration import calibrated_as

    return calibrated_as(preset)


def _glft(preset: str) -> QuotingPolicy:
    from baselines.calibration import calibrated_glft

    return calibrated_glft(preset)


def _fixed(preset: str) -> QuotingPolicy:
    # 1 tick from the mid, as evaluate.py's fixed_spread (2 ticks sits behind the book).
    return FixedSpread(1.0)


def _touch(preset: str) -> QuotingPolicy:
    # 0.25 tick: the best price at a 1- or 2-tick spread (mm_gym.actions.TOUCH_OFFSET_TICKS).
    return FixedSpread(0.25, name="touch")


MULTIVENUE_BASELINES: dict[str, tuple[Callable[[str], QuotingPolicy], bool]] = {
    "routed_as": (_as, True),
    "routed_glft": (_glft, True),
    "everywhere_as": (_as, False),
    "everywhere_glft": (_glft, False),
    "everywhere_fixed": (_fixed, False),
    "everywhere_touch": (_touch, False),
}
"""Name -> (single-venue model of a preset, routed?): the multi-venue tournament's contestants.
The models are :mod:`baselines.registry`'s (AS and GLFT calibrated on the asset's preset)."""


def make_multivenue_policy(
    name: str, preset: str = "default", start_price: float = 100.0, top_k: int = 1
) -> QuoteEverywhere:
    """The multi-venue baseline ``name`` of :data:`MULTIVENUE_BASELINES` for ``preset``.

    Raises:
        ValueError: If ``name`` is unknown (the message lists the names).
    """
    if name not in MULTIVENUE_BASELINES:
        raise ValueError(
            f"multi-venue baseline {name!r} is not valid: choose from {list(MULTIVENUE_BASELINES)}"
        )
    model, routed = MULTIVENUE_BASELINES[name]
    if routed:
        return RoutedAS(model(preset), top_k=top_k, start_price=start_price, name=name)
    return QuoteEverywhere(model(preset), name=name)
