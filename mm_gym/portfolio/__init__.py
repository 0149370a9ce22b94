"""Several correlated assets on several venues: portfolio VaR and a hedging overlay (issue #15).

``gym.make("mm_gym/Portfolio-v0")`` is :class:`PortfolioEnv`: A assets (default two), each a
MultiVenue-v0 market on the same venues, whose fundamentals' innovations are correlated by
:attr:`PortfolioConfig.correlation`; mm1's portfolio risk (delta-normal VaR from an EWMA
covariance of the assets' returns, historical VaR and expected shortfall of its PnL) is
measured every step, observed as a fraction of its limit, and, with the overlay on, hedged by
marketable orders on the cheapest venue (:mod:`mm_gym.portfolio.core`). The batched numpy
building blocks are in :mod:`mm_gym.portfolio.risk` (exposures in currency per unit return,
covariances of one-step returns, VaR in currency).

Both makers learn in :class:`PortfolioParallelEnv` (PettingZoo, ``parallel_env(...)``) and its
batched form :class:`PortfolioTwoMakerVectorEnv` (seat ``2i + k`` maker ``k`` of market ``i``):
each maker with its own inventory per asset, its own VaR and, with the overlay on, its own hedges.

The environments are imported lazily (they load the market simulator).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mm_gym.lazy import lazy_getattr
from mm_gym.portfolio.config import MAX_ASSETS, PortfolioConfig, correlation_matrix
from mm_gym.portfolio.risk import EWMACovariance, delta_normal_var, hedge_orders, marginal_var

if TYPE_CHECKING:
    from mm_gym.portfolio.core import PortfolioCore
    from mm_gym.portfolio.env import PortfolioEnv, PortfolioVectorEnv
    from mm_gym.portfolio.parallel import PortfolioParallelEnv, parallel_env
    from mm_gym.portfolio.two_makers import PortfolioTwoMakerVectorEnv

__all__ = [
    "MAX_ASSETS",
    "EWMACovariance",
    "PortfolioConfig",
    "PortfolioCore",
    "PortfolioEnv",
    "PortfolioParallelEnv",
    "PortfolioTwoMakerVectorEnv",
    "PortfolioVectorEnv",
    "correlation_matrix",
    "delta_normal_var",
    "hedge_orders",
    "marginal_var",
    "parallel_env",
]

__getattr__ = lazy_getattr(
    __name__,
    {
        "PortfolioCore": "mm_gym.portfolio.core",
        "PortfolioEnv": "mm_gym.portfolio.env",
        "PortfolioVectorEnv": "mm_gym.portfolio.env",
        "PortfolioParallelEnv": "mm_gym.portfolio.parallel",
        "PortfolioTwoMakerVectorEnv": "mm_gym.portfolio.two_makers",
        "parallel_env": "mm_gym.portfolio.parallel",
    },
)
