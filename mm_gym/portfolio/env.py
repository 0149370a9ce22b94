"""``PortfolioEnv`` and ``PortfolioVectorEnv``: A correlated assets, each on V venues.

Registered as ``mm_gym/Portfolio-v0``; ``gym.make_vec("mm_gym/Portfolio-v0", num_envs=N)``
returns the native :class:`PortfolioVectorEnv`. See :mod:`mm_gym.portfolio.core` for the market,
the risk measures and the hedging overlay.
"""

from __future__ import annotations

from typing import Any

from mm_gym.config import ConfigError, MarketConfig, excerpt
from mm_gym.envs.config import EnvConfig
from mm_gym.envs.parallel import agent_index
from mm_gym.multivenue.env import MultiVenueEnv, MultiVenueVectorEnv
from mm_gym.multivenue.routing import DEFAULT_ACTION_FORM
from mm_gym.policy import PolicyContext
from mm_gym.portfolio.config import PortfolioConfig, check_portfolio
from mm_gym.portfolio.core import PortfolioCore

__all__ = ["DEFAULT_PRICE_FORMATION", "PortfolioEnv", "PortfolioVectorEnv"]

DEFAULT_PRICE_FORMATION = "book"
"""The assets' price formation unless a ``config`` or ``price_formation`` is given (the package's
default): the common quote revisions carry the correlation to the prices (README, "Several
assets"; :mod:`mm_gym.market.revision`)."""


class _Assets:
    """What the portfolio envs add to the multi-venue ones: the portfolio and its assets.

    :attr:`_TWO_MAKERS` builds a two-maker :class:`PortfolioCore` (the PettingZoo form and its
    vector env, which also name ``mm2_latency`` in their :attr:`_OPTIONS`).
    """

    _OPTIONS: tuple[str, ...] = ("portfolio", "action_form")
    _TWO_MAKERS = False
    _core: Any

    def _defaults(self, config: MarketConfig | None, overrides: dict[str, Any]) -> dict[str, Any]:
        if config is None and "price_formation" not in overrides:
            return {**overrides, "price_formation": DEFAULT_PRICE_FORMATION}
        return overrides

    def _new_core(
        self, market: MarketConfig, env_config: EnvConfig, venues: Any, n: int, **options: Any
    ) -> Any:  # a PortfolioCore where the multi-venue envs build a MultiVenueCore
        form = options.pop("action_form", DEFAULT_ACTION_FORM)
        if form != DEFAULT_ACTION_FORM:
            raise ConfigError(
                f"action_form={excerpt(form)}: {type(self).__name__} takes "
                f"action_form={DEFAULT_ACTION_FORM!r} only (the routed form is MultiVenue-v0's)"
            )
        portfolio = check_portfolio(options.pop("portfolio", None))
        return PortfolioCore(
            market, env_config, venues, portfolio, n, two_makers=self._TWO_MAKERS, **options
        )

    def _action_layout(self) -> str:
        """What an action row holds, in words (for errors)."""
        return "asset by asset, a bid and an ask action per venue"

    @property
    def portfolio(self) -> PortfolioConfig:
        """The portfolio's config."""
        return self._core.portfolio

    def asset_contexts(self, maker: str = "mm1") -> list[PolicyContext]:
        """Each asset's MultiVenue-v0 context (its block is ``obs[..., asset_slices()[a]]``).

        ``maker``'s (``"mm2"`` with two learning makers only).

        Raises:
            ValueError: If ``maker`` is not an agent, or is ``"mm2"`` in a one-maker portfolio
                (its mm2 is each venue's built-in rival, not a learner with a context).
        """
        who = f"{type(self).__name__}.asset_contexts"
        return self._core.asset_contexts(agent_index(maker, who), who)

    def asset_slices(self) -> list[slice]:
        """Where each asset's MultiVenue-v0 observation lies in an observation row."""
        return self._core.asset_slices()


class PortfolioEnv(_Assets, MultiVenueEnv):
    """A assets x V venues with portfolio VaR and a hedging overlay (Gymnasium env).

    Description:
        mm1 quotes every asset on every venue (each asset is a MultiVenue-v0 market); the
        assets' prices are correlated (``portfolio.correlation``) through common quote
        revisions of their books (:mod:`mm_gym.market.revision`; under ``"legacy"``, through
        their fundamentals' correlated innovations). mm1's
        portfolio risk is measured each step: the delta-normal VaR from the EWMA covariance
        of the assets' returns, and the historical VaR / expected shortfall of its per-step
        PnL; with ``portfolio.hedge`` an overlay sends marketable orders on the cheapest venue
        when the VaR exceeds its limit (:mod:`mm_gym.portfolio.core`). Stepping, seeding and
        rendering are :class:`~mm_gym.multivenue.MultiVenueEnv`'s.

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
            in the package's default price formation, ``"book"`` (:data:`DEFAULT_PRICE_FORMATION`).
        config: Every asset's market config.
        env_config: Environment options (``action_type="continuous"`` only, no drawdown stop).
        venues: The venues every asset trades on (default
            :data:`~mm_gym.multivenue.DEFAULT_VENUES`).
        portfolio: A :class:`~mm_gym.portfolio.PortfolioConfig` or a mapping of its fields
            (default: two assets, correlation 0.6, VaR limit 33, overlay off).
        render_mode: None or ``"ansi"``.
        action_form: ``"per_venue"`` only (MultiVenue-v0's ``"routed"`` form is refused).
        **overrides: Config overrides as for :class:`mm_gym.MarketMakingEnv`.

    Rival:
        mm2 is each venue's built-in rival, as in MultiVenue-v0 (a second learner in
        :class:`~mm_gym.portfolio.PortfolioParallelEnv`).

    Info:
        ``pnl``, ``inventory`` ``(A,)``, ``venue_inventory`` ``(A, V)``, ``mid`` ``(A,)``
        (consolidated, currency), ``exposure`` ``(A,)`` (currency per unit return), ``fills``
        ``(A,)``, ``fees``, ``var`` and ``var_pre_hedge`` (delta-normal, currency),
        ``var_limit``, ``var_breaches`` (episode), ``hist_var``, ``hist_es`` (currency; 0
        early), ``hedges`` (episode), ``hedge_lots`` ``(A,)``, ``hedge_venue`` ``(A,)``,
        ``hedge_cost``, ``hedge_cost_total``, ``step``, ``reward_components``.

    Version History:
        v0: first version; during 0.2 development its default price formation became
        ``"book"`` with common quote revisions (was ``"legacy"``) and its VaR limit 33
        (was 15), and then the revisions picked off the makers' stale quotes
        (``portfolio.revision_pegging=False``; they were pegged to the book), and then the
        news clustered in time (``portfolio.revision_clustering=1.0``; they arrived at a
        constant rate). The id was not bumped: v0 was never released.
    """


class PortfolioVectorEnv(_Assets, MultiVenueVectorEnv):
    """``num_envs`` portfolios stepped together (native Gymnasium vector env).

    Sub-environment ``i`` reset with seed ``s`` is bit for bit :class:`PortfolioEnv` reset with
    ``s``. Autoreset (``NEXT_STEP`` or ``DISABLED``), ``reset_mask`` and ``max_episode_steps``
    as :class:`~mm_gym.multivenue.MultiVenueVectorEnv`. Arguments as :class:`PortfolioEnv`.
    """
