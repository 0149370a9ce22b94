"""Portfolio risk building blocks of issue #15 (multi-venue and multi-asset market making).

Batched numpy parts that the multi-venue and portfolio environments will use; no environment
uses them yet. See :mod:`mm_gym.portfolio.risk` for the conventions (exposures in currency per
unit return, covariances of one-step returns, VaR in currency).
"""

from __future__ import annotations

from mm_gym.portfolio.risk import EWMACovariance, delta_normal_var, hedge_orders, marginal_var

__all__ = ["EWMACovariance", "delta_normal_var", "hedge_orders", "marginal_var"]
