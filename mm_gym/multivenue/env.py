"""``MultiVenueEnv`` and ``MultiVenueVectorEnv``: one asset quoted on several venues.

Registered as ``mm_gym/MultiVenue-v0``; ``gym.make_vec("mm_gym/MultiVenue-v0", num_envs=N)``
returns the native :class:`MultiVenueVectorEnv`. See :mod:`mm_gym.multivenue` for the market.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from mm_gym.config import MarketConfig
from mm_gym.envs.config import EnvConfig, resolve_configs
from mm_gym.envs.core import check_render_mode, describe_value, numeric_array
from mm_gym.envs.seeding import OneMarketEnv
from mm_gym.envs.vector_base import BatchStep, NativeVectorEnv, check_num_envs, refuse_same_step
from mm_gym.multivenue.config import DEFAULT_VENUES, VenueConfig, check_venues
from mm_gym.multivenue.core import MultiVenueCore
from mm_gym.multivenue.routing import DEFAULT_ACTION_FORM, check_action_form
from mm_gym.policy import PolicyContext

__all__ = ["MultiVenueEnv", "MultiVenueVectorEnv", "render_venues"]

_KWARGS = ("preset", "config", "env_config", "venues", "render_mode")
_VECTOR_KWARGS = ("num_envs", "autoreset_mode", "max_episode_steps")


_LAYOUT = {
    "per_venue": "a bid and an ask action per venue",
    "routed": "a bid and an ask action, then a routing action per venue",
}


def _checked_actions(
    actions: Any, shape: tuple[int, ...], who: str, space: Any, layout: str = _LAYOUT["per_venue"]
) -> np.ndarray:
    """``actions`` as float64 of ``shape``, or a ValueError naming what is wrong.

    ``layout`` says in words what a row holds (e.g. :data:`_LAYOUT`'s entries).
    """
    a = numeric_array(actions, "fiu")
    if a is None or a.shape != shape:
        raise ValueError(
            f"{who} must be real numbers of shape {shape} ({layout}); "
            f"got {describe_value(actions)} (action space {space})"
        )
    a = a.astype(np.float64, copy=False)
    if not np.isfinite(a).all():
        raise ValueError(f"{who} has NaN or infinite values: {describe_value(actions)}")
    return a


def render_venues(core: MultiVenueCore, m: int) -> str:
    """A text frame of market ``m``: per venue the mid, best prices and mm1's quotes.

    The first line has the step, the inventory and PnL (with two makers, each maker's) and the
    arbitrage lots. Each maker's quotes are followed by its inventory and its own latency on the
    venue. With two makers (:class:`~mm_gym.multivenue.parallel.MultiVenueParallelEnv`) mm2's
    come after mm1's (mm2's latency is ``mm2_latency``'s, which may differ from the venue's).
    """
    tick = float(core.market_config.tick_size)
    inv = core.inventories()[m]
    inv2 = core.inventories(1)[m]
    accounts = f"inventory={int(inv.sum())} pnl={core.wealth()[m]:.2f}"
    if core.two_makers:  # both makers' totals, each named
        accounts = f"mm1 {accounts} mm2 inventory={int(inv2.sum())} pnl={core.wealth(1)[m]:.2f}"
    lines = [
        f"t={int(core.sims[0].scalars.t[m])} {accounts} "
        f"arbitrage lots={int(core.arbitrage_lots[m])}"
    ]
    for v, (venue, sim) in enumerate(zip(core.venues, core.sims, strict=True)):
        bid, ask = float(sim.book.best_bid[m]) * tick, float(sim.book.best_ask[m]) * tick
        own = sim.orders
        quotes = [
            [f"{own.tick[m, k, side] * tick:.2f}" if own.size[m, k, side] > 0 else "-"
             for side in (0, 1)]
            for k in range(2)
        ]  # fmt: skip
        mm2 = ""
        if core.two_makers:
            mm2 = (
                f" mm2 {quotes[1][0]}/{quotes[1][1]} inventory {int(inv2[v])}"
                f" latency {int(core.latencies[1, v])}"
            )
        lines.append(
            f"{venue.name}: mid {sim.book.mid[m] * tick:.3f} bid {bid:.2f} ask {ask:.2f} "
            f"mm1 {quotes[0][0]}/{quotes[0][1]} inventory {int(inv[v])} "
            f"latency {int(core.latencies[0, v])}{mm2}"
        )
    return "\n".join(lines)


class _VenueCores:
    """How both envs of this module build their markets; a subclass may build another kind.

    A subclass names its own constructor keywords in :attr:`_OPTIONS` (taken out of the
    overrides and handed to :meth:`_new_core`), may set defaults on the overrides
    (:meth:`_defaults`) and builds its markets in :meth:`_new_core`.
    """

    _OPTIONS: tuple[str, ...] = ("action_form",)

    def _make_core(
        self,
        preset: str,
        config: MarketConfig | None,
        env_config: EnvConfig | None,
        venues: Any,
        overrides: dict[str, Any],
        n: int,
        extra: tuple[str, ...] = (),
    ) -> MultiVenueCore:
        options = {k: overrides.pop(k) for k in self._OPTIONS if k in overrides}
        self.action_form = check_action_form(options.get("action_form", DEFAULT_ACTION_FORM))
        market, envc = resolve_configs(
            preset,
            config,
            env_config,
            self._defaults(config, overrides),
            extra_keys=(*_KWARGS, *self._OPTIONS, *extra),
            owner=type(self).__name__,
        )
        return self._new_core(market, envc, check_venues(venues), n, **options)

    def _defaults(self, config: MarketConfig | None, overrides: dict[str, Any]) -> dict[str, Any]:
        """The overrides, with this env's defaults added."""
        return overrides

    def _action_layout(self) -> str:
        """What an action row holds, in words (for errors)."""
        return _LAYOUT[self.action_form]

    def _new_core(
        self, market: MarketConfig, env_config: EnvConfig, venues: Any, n: int, **options: Any
    ) -> MultiVenueCore:
        return MultiVenueCore(market, env_config, venues, n, **options)


class MultiVenueEnv(_VenueCores, OneMarketEnv):
    """One asset on several venues; the learner is mm1 on every venue (Gymnasium env).

    Args:
        preset: The asset's market preset (:func:`mm_gym.preset`), if ``config`` is None.
        config: The asset's market config.
        env_config: Environment options (``action_type="continuous"`` only, no drawdown stop).
        venues: The venues (:class:`~mm_gym.multivenue.VenueConfig` or mappings of its fields;
            default :data:`~mm_gym.multivenue.DEFAULT_VENUES`).
        render_mode: None or ``"ansi"``.
        action_form: ``"per_venue"`` (default) or ``"routed"`` (below); kept as the
            ``action_form`` attribute.
        **overrides: Config overrides as for :class:`mm_gym.MarketMakingEnv`.

    Action (``action_form="per_venue"``): ``Box(-1, 1, (2V,))``: a bid and an ask action per
    venue in venue order, each mapped to an offset from that venue's mid by
    ``env_config.action_mapping`` (as the single-venue env), size ``env_config.quote_size_lots``.
    Action (``action_form="routed"``): ``Box(-1, 1, (2 + V,))``: one bid and one ask action,
    mapped the same way and quoted from every venue's own mid, then a routing action per venue:
    weights ``(a_v + 1) / 2`` split ``quote_size_lots * V`` lots per side over the venues by the
    largest-remainder method; a venue allocated 0 lots is not quoted
    (:mod:`mm_gym.multivenue.routing`). Observation: ``feature_names`` (see
    :mod:`mm_gym.multivenue.core`). Reward: the single-venue env's, on the PnL and inventory
    summed over the venues. ``info``: ``pnl``, ``inventory`` (summed), ``venue_inventory``,
    ``venue_mid``, ``venue_fills``, ``fills``, ``fees``, ``arbitrage_lots``, ``mid`` (the
    venues' mean, currency), ``regime``, ``step``, ``reward_components``.
    """

    metadata: dict[str, Any] = {"render_modes": ["ansi"], "render_fps": 20}  # noqa: RUF012

    def __init__(
        self,
        preset: str = "default",
        *,
        config: MarketConfig | None = None,
        env_config: EnvConfig | None = None,
        venues: Sequence[VenueConfig | dict[str, Any]] = DEFAULT_VENUES,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        """Build the venues (see the class docstring)."""
        check_render_mode(render_mode, self.metadata["render_modes"])
        self._core = self._make_core(preset, config, env_config, venues, overrides, 1)
        self._seeds = self._core
        self.render_mode = render_mode
        self.market_config = self._core.market_config
        self.env_config = self._core.env_config
        self.venues = self._core.venues
        self.feature_names: tuple[str, ...] = self._core.feature_names
        self.observation_space, self.action_space = self._core.spaces()
        self._started = False

    def policy_context(self) -> PolicyContext:
        """The :class:`~mm_gym.policy.PolicyContext` of a policy quoting as mm1."""
        return self._core.context()

    def _start_episode(self) -> tuple[np.ndarray, dict[str, Any]]:
        self._core.start()
        self._started = True
        self._ended = False
        return self._core.observations()[0], _first(self._core.infos(None))

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """One step of every venue, then the arbitrageurs (see the class docstring).

        Raises:
            RuntimeError: Before the first reset, or after the episode ended.
            ValueError: On an action of the wrong type or shape, or with NaN/infinite values.
        """
        if not self._started:
            raise RuntimeError("step() called before reset()")
        if self._ended:
            raise RuntimeError("step() called on a finished episode; call reset() first")
        c = self._core
        who = f"{type(self).__name__}.step: action"
        shape = (c.action_width,)
        a = _checked_actions(action, shape, who, self.action_space, self._action_layout())
        c.act(a.reshape(1, -1))
        reward, comps, terminated = c.settle()
        self._ended = bool(terminated[0])
        return (
            c.observations()[0],
            float(reward[0]),
            bool(terminated[0]),
            False,
            _first(c.infos(comps)),
        )

    def render(self) -> str | None:
        """The ``"ansi"`` text frame (None without a render_mode)."""
        if self.render_mode is None:
            return None
        if not self._started:
            raise RuntimeError("render() called before reset()")
        return self._core.render_frame(0)


def _first(info: dict[str, Any]) -> dict[str, Any]:
    """The batched info of market 0 as plain values."""
    out: dict[str, Any] = {}
    for key, value in info.items():
        if isinstance(value, dict):
            out[key] = {k: float(v[0]) for k, v in value.items()}
        elif value.ndim == 1:
            out[key] = value[0].item()
        else:
            out[key] = value[0].copy()
    return out


class MultiVenueVectorEnv(_VenueCores, NativeVectorEnv):
    """``num_envs`` multi-venue markets stepped together (native Gymnasium vector env).

    Sub-environment ``i`` reset with seed ``s`` is bit for bit :class:`MultiVenueEnv` reset with
    ``s``. Autoreset, ``reset_mask`` and ``max_episode_steps`` behave as in
    :class:`mm_gym.MarketMakingVectorEnv` (``SAME_STEP`` is not supported here). Arguments as
    :class:`MultiVenueEnv`.
    """

    metadata: dict[str, Any] = {"render_modes": ["ansi"], **NativeVectorEnv.metadata}  # noqa: RUF012

    def __init__(
        self,
        num_envs: int = 1,
        preset: str = "default",
        *,
        config: MarketConfig | None = None,
        env_config: EnvConfig | None = None,
        venues: Sequence[VenueConfig | dict[str, Any]] = DEFAULT_VENUES,
        render_mode: str | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        max_episode_steps: int | None = None,
        **overrides: Any,
    ) -> None:
        """Build ``num_envs`` markets."""
        n = check_num_envs(num_envs)
        check_render_mode(render_mode, self.metadata["render_modes"])
        self._init_batch(n, autoreset_mode, max_episode_steps, render_mode)
        refuse_same_step(self.autoreset_mode, type(self).__name__)
        self._core = self._make_core(
            preset, config, env_config, venues, overrides, n, _VECTOR_KWARGS
        )
        self.market_config = self._core.market_config
        self.env_config = self._core.env_config
        self.venues = self._core.venues
        self.feature_names: tuple[str, ...] = self._core.feature_names
        self.single_observation_space, self.single_action_space = self._core.spaces()
        self.action_space = batch_space(self.single_action_space, n)
        self.observation_space = batch_space(self.single_observation_space, n)

    def policy_context(self) -> PolicyContext:
        """The :class:`~mm_gym.policy.PolicyContext` of a policy quoting as mm1."""
        return self._core.context()

    def _reset_batch(
        self, seed: int | list[int | None] | None, mask: np.ndarray | None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        c = self._core
        c.set_roots(seed, self.np_random, mask)
        c.start(mask)
        if mask is None:
            self._autoreset[:] = False
        else:
            self._autoreset[mask] = False
        self._started = True
        return c.observations(), self._masked(c.infos(None), mask)

    def _step_batch(self, actions: Any, auto: np.ndarray) -> BatchStep:
        c = self._core
        who = f"{type(self).__name__}.step: actions"
        shape = (self.num_envs, c.action_width)
        a = _checked_actions(actions, shape, who, self.action_space, self._action_layout())
        if auto.any():
            np.logical_not(auto, out=self._stepping)
            c.act(a, self._stepping)
            c.start(auto)
        else:
            c.act(a)
        reward, components, terminated = c.settle()
        reward = np.where(auto, 0.0, reward)
        terminated &= ~auto
        truncated = self._truncated(c.step_count()) & ~auto
        self._end_step(terminated | truncated)
        return c.observations(), reward, terminated, truncated, self._masked(c.infos(components))

    def render(self) -> tuple[str, ...] | None:
        """One text frame per sub-environment (None without a render_mode)."""
        if not self._check_render():
            return None
        return tuple(self._core.render_frame(m) for m in range(self.num_envs))
