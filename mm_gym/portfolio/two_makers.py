"""``PortfolioTwoMakerVectorEnv``: both makers of ``num_markets`` portfolios as seats.

The batched form of :class:`~mm_gym.portfolio.parallel.PortfolioParallelEnv`, as
:class:`~mm_gym.multivenue.MultiVenueTwoMakerVectorEnv` is of the multi-venue parallel env (whose
seats, stepping, autoreset and seeding it keeps): every portfolio of one two-maker
:class:`~mm_gym.portfolio.core.PortfolioCore` steps with both makers' actions in one call, and
each maker of each portfolio is a sub-environment ("seat"), seat ``2i + k`` maker ``k`` of
market ``i``.
"""

from __future__ import annotations

from mm_gym.multivenue.two_makers import MultiVenueTwoMakerVectorEnv
from mm_gym.portfolio.parallel import TwoMakerAssets

__all__ = ["PortfolioTwoMakerVectorEnv"]


class PortfolioTwoMakerVectorEnv(TwoMakerAssets, MultiVenueTwoMakerVectorEnv):
    """Both makers of ``num_markets`` portfolios, one seat per maker and market.

    Seat ``2 * i + k`` is maker ``k`` (0 ``"mm1"``, 1 ``"mm2"``) of market ``i``:
    ``num_envs = 2 * num_markets``; every step takes one action per seat, ``(num_envs, A * 2V)``
    (asset by asset, per venue a bid and an ask action). Market ``i`` with its two seats is
    :class:`~mm_gym.portfolio.PortfolioParallelEnv` (the same arguments) reset with seed
    ``seed + i``, seen from both makers: the same observations (each maker's own point of
    view, its own ``var_fraction``), rewards, flags and infos (each maker's own risk and
    hedges), episode after episode, whatever ``num_markets``.

    ``agent_id``, seeding, ``reset_mask``, autoreset (``NEXT_STEP`` default, ``DISABLED``),
    ``max_episode_steps`` and the infos: as
    :class:`~mm_gym.multivenue.MultiVenueTwoMakerVectorEnv`. No rendering.

    Args:
        num_markets: Number of portfolios, >= 1.
        preset, config, env_config, venues, agent_id, autoreset_mode, max_episode_steps: As
            :class:`~mm_gym.multivenue.MultiVenueTwoMakerVectorEnv`.
        **overrides: ``portfolio``, ``mm2_latency`` and config overrides, as
            :class:`~mm_gym.portfolio.PortfolioParallelEnv`.
    """

    def __repr__(self) -> str:
        """``PortfolioTwoMakerVectorEnv(regime, assets=A, venues=V, num_markets=N)``."""
        return (
            f"{type(self).__name__}({self.market_config.regime}, assets={self._core.n_assets}, "
            f"venues={len(self.venues)}, num_markets={self.num_markets})"
        )
