"""``PortfolioEnv`` and ``PortfolioVectorEnv``: A correlated assets, each on V venues.

Registered as ``mm_gym/Portfolio-v0``; ``gym.make_vec("mm_gym/Portfolio-v0", num_envs=N)``
returns the native :class:`PortfolioVectorEnv`. See :mod:`mm_gym.portfolio.core` for the market,
the risk measures and the hedging overlay.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from mm_gym.config import ConfigError, MarketConfig
from mm_gym.envs.config import EnvConfig, resolve_configs
from mm_gym.envs.core import check_render_mode
from mm_gym.envs.seeding import OneMarketEnv
from mm_gym.envs.vector_base import NativeVectorEnv, check_num_envs
from mm_gym.multivenue.config import DEFAULT_VENUES, VenueConfig, check_venues
from mm_gym.multivenue.env import _checked_actions, _first, render_venues
from mm_gym.policy import PolicyContext
from mm_gym.portfolio.config import PortfolioConfig, check_portfolio
from mm_gym.portfolio.core import PortfolioCore

__all__ = ["DEFAULT_PRICE_FORMATION", "PortfolioEnv", "PortfolioVectorEnv"]

DEFAULT_PRICE_FORMATION = "legacy"
"""The assets' price formation unless a ``config`` or ``price_formation`` is given: the one in
which the fundamental, and with it the configured correlation, reaches the price (README,
"Several assets"; under ``"book"`` the measured correlation of the assets' returns is about 0)."""

_KWARGS = ("preset", "config", "env_config", "venues", "portfolio", "render_mode")
_VECTOR_KWARGS = ("num_envs", "autoreset_mode", "max_episode_steps")


def _build(
    owner: str,
    preset: str,
    config: MarketConfig | None,
    env_config: EnvConfig | None,
    venues: Any,
    portfolio: Any,
    overrides: dict[str, Any],
    n: int,
    extra: tuple[str, ...] = (),
) -> PortfolioCore:
    if config is None and "price_formation" not in overrides:
        overrides = {**overrides, "price_formation": DEFAULT_PRICE_FORMATION}
    market, envc = resolve_configs(
        preset, config, env_config, overrides, extra_keys=(*_KWARGS, *extra), owner=owner
    )
    return PortfolioCore(market, envc, check_venues(venues), check_portfolio(portfolio), n)


def _render(core: PortfolioCore, m: int) -> str:
    """A text frame of market ``m``: the risk, then each asset's venues."""
    lines = [
        f"t={int(core.steps[m])} pnl={core.wealth()[m]:.2f} VaR={core.var[m]:.2f} "
        f"(limit {core.portfolio.var_limit:g}, breaches {int(core.breaches[m])}, "
        f"hedges {int(core.hedges[m])})"
    ]
    for name, asset in zip(core.names, core.assets, strict=True):
        lines.append(f"[{name}] " + render_venues(asset, m))
    return "\n".join(lines)


class PortfolioEnv(OneMarketEnv):
    """A assets x V venues with portfolio VaR and a hedging overlay (Gymnasium env).

    Description:
        mm1 quotes every asset on every venue (each asset is a MultiVenue-v0 market); the
        assets' fundamentals have correlated innovations (``portfolio.correlation``). mm1's
        portfolio risk is measured each step: the delta-normal VaR from the EWMA covariance
        of the assets' returns, and the historical VaR / expected shortfall of its per-step
        PnL; with ``portfolio.hedge`` an overlay sends marketable orders on the cheapest venue
        when the VaR exceeds its limit (:mod:`mm_gym.portfolio.core`).

    Action Space:
        ``Box(-1, 1, (A * 2V,))``: per asset, per venue a bid and an ask action (asset by
        asset, venue by venue), mapped as in MultiVenue-v0.

    Observation Space:
        ``feature_names``: ``time_left``, ``var_fraction`` (the VaR over its limit, clipped to
        [0, 10]), then for each asset ``asset<a>.<feature>`` of MultiVenue-v0's features (its
        inventory over its limit, time left, sentiment, and per venue the book and own
        features).

    Rewards:
        :func:`mm_gym.rewards.step_reward` of the portfolio's PnL, with the running and
        terminal penalties on ``sum_a q_a**2``.

    Episode End:
        Terminated after ``horizon_steps`` steps.

    Arguments:
        preset: Every asset's market preset (:func:`mm_gym.preset`), if ``config`` is None,
            with ``price_formation="legacy"`` unless given (:data:`DEFAULT_PRICE_FORMATION`).
        config: Every asset's market config.
        env_config: Environment options (``action_type="continuous"`` only, no drawdown stop).
        venues: The venues every asset trades on (default
            :data:`~mm_gym.multivenue.DEFAULT_VENUES`).
        portfolio: A :class:`~mm_gym.portfolio.PortfolioConfig` or a mapping of its fields
            (default: two assets, correlation 0.6, VaR limit 15, overlay off).
        render_mode: None or ``"ansi"``.
        **overrides: Config overrides as for :class:`mm_gym.MarketMakingEnv`.

    Rival:
        mm2 is each venue's built-in rival, as in MultiVenue-v0.

    Info:
        ``pnl``, ``inventory`` ``(A,)``, ``venue_inventory`` ``(A, V)``, ``mid`` ``(A,)``
        (consolidated, currency), ``exposure`` ``(A,)`` (currency per unit return), ``fills``
        ``(A,)``, ``fees``, ``var`` and ``var_pre_hedge`` (delta-normal, currency),
        ``var_limit``, ``var_breaches`` (episode), ``hist_var``, ``hist_es`` (currency; 0
        early), ``hedges`` (episode), ``hedge_lots`` ``(A,)``, ``hedge_venue`` ``(A,)``,
        ``hedge_cost``, ``hedge_cost_total``, ``step``, ``reward_components``.

    Version History:
        v0: first version.
    """

    metadata: dict[str, Any] = {"render_modes": ["ansi"], "render_fps": 20}  # noqa: RUF012

    def __init__(
        self,
        preset: str = "default",
        *,
        config: MarketConfig | None = None,
        env_config: EnvConfig | None = None,
        venues: Sequence[VenueConfig | dict[str, Any]] = DEFAULT_VENUES,
        portfolio: PortfolioConfig | dict[str, Any] | None = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        """Build the assets (see the class docstring)."""
        check_render_mode(render_mode, self.metadata["render_modes"])
        owner = type(self).__name__
        self._core = _build(owner, preset, config, env_config, venues, portfolio, overrides, 1)
        self._seeds = self._core
        self.render_mode = render_mode
        self.market_config = self._core.market_config
        self.env_config = self._core.env_config
        self.venues = self._core.venues
        self.portfolio = self._core.portfolio
        self.feature_names: tuple[str, ...] = self._core.feature_names
        self.observation_space, self.action_space = self._core.spaces()
        self._started = False

    def policy_context(self) -> PolicyContext:
        """The :class:`~mm_gym.policy.PolicyContext` of a policy quoting as mm1."""
        return self._core.context()

    def asset_contexts(self) -> list[PolicyContext]:
        """Each asset's MultiVenue-v0 context (its block is ``obs[asset_slices()[a]]``)."""
        return [c.context() for c in self._core.assets]

    def asset_slices(self) -> list[slice]:
        """Where each asset's MultiVenue-v0 observation lies in this env's observation."""
        return self._core.asset_slices()

    def _start_episode(self) -> tuple[np.ndarray, dict[str, Any]]:
        self._core.start()
        self._started = True
        self._ended = False
        return self._core.observations()[0], _first(self._core.infos(None))

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """One step of every asset, then the risk and the overlay (class docstring).

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
        a = _checked_actions(action, (c.n_assets * 2 * c.n_venues,), who, self.action_space)
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
        return _render(self._core, 0)


class PortfolioVectorEnv(NativeVectorEnv):
    """``num_envs`` portfolios stepped together (native Gymnasium vector env).

    Sub-environment ``i`` reset with seed ``s`` is bit for bit :class:`PortfolioEnv` reset with
    ``s``. Autoreset (``NEXT_STEP`` or ``DISABLED``), ``reset_mask`` and ``max_episode_steps``
    as :class:`~mm_gym.multivenue.MultiVenueVectorEnv`. Arguments as :class:`PortfolioEnv`.
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
        portfolio: PortfolioConfig | dict[str, Any] | None = None,
        render_mode: str | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        max_episode_steps: int | None = None,
        **overrides: Any,
    ) -> None:
        """Build ``num_envs`` portfolios."""
        n = check_num_envs(num_envs)
        check_render_mode(render_mode, self.metadata["render_modes"])
        self._init_batch(n, autoreset_mode, max_episode_steps, render_mode)
        if self.autoreset_mode == AutoresetMode.SAME_STEP:
            raise ConfigError("autoreset_mode=SAME_STEP is not supported by PortfolioVectorEnv")
        owner = type(self).__name__
        self._core = _build(
            owner, preset, config, env_config, venues, portfolio, overrides, n, _VECTOR_KWARGS
        )
        self.market_config = self._core.market_config
        self.env_config = self._core.env_config
        self.venues = self._core.venues
        self.portfolio = self._core.portfolio
        self.feature_names: tuple[str, ...] = self._core.feature_names
        self.single_observation_space, self.single_action_space = self._core.spaces()
        self.action_space = batch_space(self.single_action_space, n)
        self.observation_space = batch_space(self.single_observation_space, n)

    def policy_context(self) -> PolicyContext:
        """The :class:`~mm_gym.policy.PolicyContext` of a policy quoting as mm1."""
        return self._core.context()

    def asset_contexts(self) -> list[PolicyContext]:
        """Each asset's MultiVenue-v0 context (:meth:`PortfolioEnv.asset_contexts`)."""
        return [c.context() for c in self._core.assets]

    def asset_slices(self) -> list[slice]:
        """Where each asset's MultiVenue-v0 observation lies in an observation row."""
        return self._core.asset_slices()

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

    def _step_batch(
        self, actions: Any, auto: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        c = self._core
        who = f"{type(self).__name__}.step: actions"
        shape = (self.num_envs, c.n_assets * 2 * c.n_venues)
        a = _checked_actions(actions, shape, who, self.action_space)
        if auto.any():
            np.logical_not(auto, out=self._stepping)
            c.act(a, self._stepping)
            c.start(auto)
        else:
            c.act(a)
        reward, components, terminated = c.settle()
        reward = np.where(auto, 0.0, reward)
        terminated &= ~auto
        truncated = self._truncated(c.steps) & ~auto
        self._end_step(terminated | truncated)
        return c.observations(), reward, terminated, truncated, self._masked(c.infos(components))

    def render(self) -> tuple[str, ...] | None:
        """One text frame per sub-environment (None without a render_mode)."""
        if not self._check_render():
            return None
        return tuple(_render(self._core, m) for m in range(self.num_envs))
