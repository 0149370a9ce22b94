"""``PortfolioParallelEnv``: two learning makers on a portfolio of assets (PettingZoo API).

``mm_gym.portfolio.parallel_env(...)`` makes it, as ``mm_gym.multivenue.parallel_env(...)``
makes :class:`~mm_gym.multivenue.MultiVenueParallelEnv`, whose stepping, seeding and rendering
it keeps; its market is a two-maker :class:`~mm_gym.portfolio.core.PortfolioCore`. Its batched
form, ``n`` portfolios as ``2n`` seats of one vector env, is
:class:`~mm_gym.portfolio.two_makers.PortfolioTwoMakerVectorEnv`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from mm_gym.multivenue.parallel import MultiVenueParallelEnv
from mm_gym.portfolio.env import _Assets

__all__ = ["PortfolioParallelEnv", "TwoMakerAssets", "parallel_env"]


class TwoMakerAssets(_Assets):
    """How the two-maker portfolio envs build their markets: ``two_makers=True``.

    Takes ``mm2_latency`` (and ``portfolio``, ``action_form``) out of the overrides for
    :class:`~mm_gym.portfolio.core.PortfolioCore`.
    """

    _OPTIONS: tuple[str, ...] = ("portfolio", "action_form", "mm2_latency")
    _TWO_MAKERS = True


class PortfolioParallelEnv(TwoMakerAssets, MultiVenueParallelEnv):
    """Two learning market makers, ``"mm1"`` and ``"mm2"``, quoting a portfolio of assets.

    Description:
        The market of :class:`~mm_gym.portfolio.PortfolioEnv` (A correlated assets, each on
        the same V venues) where mm2 is not each venue's built-in rival but an agent quoting
        every asset on every venue exactly as mm1 does (per asset, as
        :class:`~mm_gym.multivenue.MultiVenueParallelEnv`: its own latency buffers, its own
        limit ``makers.mm2_limit`` on each asset's inventory summed over the venues). Each
        maker has its own portfolio risk: the delta-normal VaR of its own exposures (the
        covariance of the assets' returns is the market's, shared), its breaches, the
        historical VaR / ES of its own PnL and, with ``portfolio.hedge``, its own overlay's
        marketable orders on the cheapest venue, cut to its own limit. The overlays act in
        maker order each step: mm1's, then mm2's on the books mm1's hedge left; then both
        makers' VaR is measured again, at the step's end, and breaches are counted on it
        (:mod:`mm_gym.portfolio.core`).

    Action Space:
        Each agent's as :class:`~mm_gym.portfolio.PortfolioEnv`'s, ``Box(-1, 1, (A * 2V,))``.
        ``step`` takes exactly one action per agent, ``{"mm1": a1, "mm2": a2}``; a missing or
        unknown key is an error.

    Observation Space:
        Each agent's as :class:`~mm_gym.portfolio.PortfolioEnv`'s, from its own point of view:
        ``var_fraction`` is its own VaR over the limit, each asset's block is that asset's
        MultiVenue-v0 observation of that maker (its inventory, fills and fill rates, its
        quotes as ``own_*`` and the other maker's as ``rival_*``). ``state()`` is mm1's then
        mm2's observation (``state_space``).

    Rewards:
        Each agent's :func:`mm_gym.rewards.step_reward` of its own portfolio PnL (its hedging
        costs included), with the running and terminal penalties on its own ``sum_a q_a**2``.

    Starting State:
        As :class:`~mm_gym.portfolio.PortfolioEnv`'s, both makers' accounts flat and their
        risk zero.

    Episode End:
        Both agents terminate together after ``horizon_steps`` (``max_cycles``); ``agents`` is
        then empty.

    Info:
        Per agent :class:`~mm_gym.portfolio.PortfolioEnv`'s keys, for that maker (``var``,
        ``hedge_lots``, ``hedge_cost``... are its own; ``mid`` and ``var_limit`` are shared).

    Arguments:
        preset, config, env_config, venues, portfolio, **overrides: As
            :class:`~mm_gym.portfolio.PortfolioEnv`.
        action_form: ``"per_venue"`` only.
        mm2_latency: mm2's latency on each venue, steps (one per venue, every asset; default
            the venues' ``latency_steps``, as mm1's).
        render_mode, max_cycles: As :class:`~mm_gym.multivenue.MultiVenueParallelEnv`; the
            text frame gives each maker's risk, then each asset's venues with both makers'
            quotes.

    Seeding: as :class:`~mm_gym.multivenue.MultiVenueParallelEnv`.

    Version History:
        * v0: Initial version (issue #15).
    """

    metadata: ClassVar[dict[str, Any]] = {
        **MultiVenueParallelEnv.metadata,
        "name": "mm_gym_portfolio_v0",
    }


def parallel_env(**kwargs: Any) -> PortfolioParallelEnv:
    """Make the two-maker portfolio PettingZoo environment.

    Args:
        **kwargs: As :class:`PortfolioParallelEnv`.
    """
    return PortfolioParallelEnv(**kwargs)
