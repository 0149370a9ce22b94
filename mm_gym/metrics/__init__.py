"""Performance metrics of market-making episodes: PnL attribution, risk and execution statistics.

Pure numpy functions, shared by ``evaluate.py`` (tournament tables) and ``train.py`` (logging).
Nothing here prints, draws random numbers from a global generator or imports torch.

Conventions (every function follows them):

- An episode has ``T`` steps, numbered ``0 .. T-1``.
- ``mid`` has ``T + 1`` values in currency: ``mid[0]`` is the mid before step 0 and
  ``mid[t + 1]`` the mid after step ``t`` (the mark of step ``t``).
- ``inventory`` has ``T`` values in lots: ``inventory[t]`` is held after step ``t``;
  ``initial_inventory`` is held before step 0.
- A fill record (:class:`FillRecord`) lists the maker's fills in chronological order: ``step``
  (0-based step in which the fill happened), ``side`` (+1: the maker bought at its bid, -1: the
  maker sold at its ask), ``price`` (currency per unit of the asset), ``size`` (lots, > 0),
  ``fee`` (currency for the whole fill; positive = rebate received, negative = fee paid) and
  optionally ``mid`` (the mid at the time of the fill, currency).
- ``lot_size`` is the number of units of the asset in one lot: a fill moves
  ``price * size * lot_size`` of cash. Inventory PnL is ``inventory * price_change * lot_size``.
- Per-step series are 1-D arrays ``(T,)`` for one episode, or 2-D ``(n_episodes, T)`` where a
  function says so; statistics reduce over the last axis, so a 1-D input gives a ``float`` and a
  2-D input an array of shape ``(n_episodes,)``.
- Bad input (wrong shape, NaN or inf where not allowed, out-of-range parameter) raises
  ``ValueError`` naming the argument.

The functions live in submodules: :mod:`~mm_gym.metrics.pnl` (fill records, PnL attribution,
average-cost PnL), :mod:`~mm_gym.metrics.risk` (Sharpe, drawdown, VaR/ES, inventory, fill rate,
spread, market impact) and :mod:`~mm_gym.metrics.stats` (episode summaries, bootstrap CIs,
paired differences); import them from here.
"""

from __future__ import annotations

from mm_gym.metrics._common import FloatArray, FloatOrArray
from mm_gym.metrics.pnl import (
    AverageCostPnL,
    FillRecord,
    PnLAttribution,
    average_cost_pnl,
    equity_curve,
    pnl_attribution,
    pnl_attribution_from_steps,
    unrealized_pnl,
)
from mm_gym.metrics.risk import (
    fill_rate,
    inventory_stats,
    market_impact_from_sums,
    market_impact_stats,
    max_drawdown,
    quoted_spread,
    sharpe,
    var_es,
)
from mm_gym.metrics.stats import (
    ConfidenceInterval,
    bootstrap_ci,
    bootstrap_means,
    bootstrap_weights,
    episode_metrics,
    paired_diff_ci,
)

__all__ = [
    "AverageCostPnL",
    "ConfidenceInterval",
    "FillRecord",
    "FloatArray",
    "FloatOrArray",
    "PnLAttribution",
    "average_cost_pnl",
    "bootstrap_ci",
    "bootstrap_means",
    "bootstrap_weights",
    "episode_metrics",
    "equity_curve",
    "fill_rate",
    "inventory_stats",
    "market_impact_from_sums",
    "market_impact_stats",
    "max_drawdown",
    "paired_diff_ci",
    "pnl_attribution",
    "pnl_attribution_from_steps",
    "quoted_spread",
    "sharpe",
    "unrealized_pnl",
    "var_es",
]
