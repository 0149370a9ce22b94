"""Per-episode metrics of a batch: the columns of ``episodes.csv`` and how they are computed.

Adding a metric touches this file (a line in :data:`EPISODE_COLUMNS`, its computation in
:func:`batch_metrics`) and the :mod:`mm_gym.metrics` function it calls; it then appears in
``episodes.csv``, ``summary.csv`` (mean, std, CI) and the leaderboard.
"""

from __future__ import annotations

import warnings

import numpy as np

from mm_gym import metrics

__all__ = ["EPISODE_COLUMNS", "batch_metrics"]

EPISODE_COLUMNS: dict[str, str] = {
    "total_pnl": "mark-to-market PnL at the end, currency (metrics.pnl_attribution_from_steps)",
    "spread_capture": "edge of the fills against the mid at each fill, currency",
    "inventory_pnl": "mark-to-market PnL of held inventory (carry + intra-step), currency",
    "fees": "maker rebates received minus fees, currency",
    "inventory_carry": "sum of q_{t-1} x (mid_t - mid_{t-1}) x lot_size, currency",
    "realized_pnl": "average-cost realized PnL at the end, fees excluded, currency",
    "unrealized_pnl": "inventory x (mid - average cost) at the end, currency",
    "sharpe": "mean / std of per-step PnL x sqrt(T) (metrics.sharpe)",
    "max_drawdown": "largest fall of the equity curve from its running peak, currency",
    "var": "95% historical VaR of per-step PnL, currency per step (metrics.var_es)",
    "es": "95% expected shortfall of per-step PnL, currency per step",
    "mean_inventory": "mean inventory, lots",
    "mean_abs_inventory": "mean |inventory|, lots",
    "inventory_variance": "population variance of the inventory, lots^2",
    "max_abs_inventory": "max |inventory|, lots",
    "frac_at_limit": "fraction of steps with |inventory| at the limit (time at limit)",
    "final_inventory": "inventory at the end, lots",
    "n_fills": "number of fills",
    "volume_lots": "lots traded",
    "fill_rate": "fills per step (metrics.fill_rate)",
    "quoted_spread_ticks": "mean ask - bid of the posted quotes over two-sided steps, ticks",
    "mean_impact": "mean signed mid move of a market order, price units (metrics.market_impact_*)",
    "impact_per_lot": "sum of signed mid moves / lots of market orders, price units per lot",
    "impact_slope": "OLS slope of signed mid move on order size, price units per lot",
    "impact_intercept": "intercept of that regression, price units",
    "n_orders": "market orders (noise, informed, shock) that traded",
    "episode_reward": "sum of the environment's rewards (the training objective)",
    "rival_pnl": "the rival's (mm2's) mark-to-market PnL at the end, currency",
    "n_shocks": "liquidity shocks in the episode",
}
"""Per-episode metric columns of :func:`evaluate_policies` and what they mean. Each row also
has ``preset``, ``policy``, ``rival``, ``episode`` (index in the seed list), ``seed`` and
``length`` (steps), and one ``reward_<component>`` column per reward component (episode sums,
unscaled, see :mod:`mm_gym.rewards`)."""


def batch_metrics(
    mid: np.ndarray,
    inv: np.ndarray,
    pnl: np.ndarray,
    cash: np.ndarray,
    fees: np.ndarray,
    edge: np.ndarray,
    bid: np.ndarray,
    ask: np.ndarray,
    length: np.ndarray,
    *,
    lot: float,
    limit: int,
) -> dict[str, np.ndarray]:
    """The :mod:`mm_gym.metrics` statistics of a batch, vectorized per episode length.

    The series are ``(T, n)`` (``mid`` ``(T + 1, n)``); each group of equal-length episodes is
    transposed to the ``(episodes, steps)`` layout of :mod:`mm_gym.metrics`.
    """
    n = length.size
    keys = [
        "total_pnl", "spread_capture", "inventory_pnl", "fees", "inventory_carry", "sharpe",
        "max_drawdown", "var", "es", "mean_inventory", "mean_abs_inventory",
        "inventory_variance", "max_abs_inventory", "frac_at_limit", "final_inventory",
        "quoted_spread_ticks",
    ]  # fmt: skip
    out = {k: np.full(n, np.nan) for k in keys}
    for ell in np.unique(length):
        g = np.flatnonzero(length == ell)
        L = int(ell)
        zero = np.zeros((g.size, 1))

        def rows(x: np.ndarray, steps: int, g: np.ndarray = g) -> np.ndarray:
            return np.ascontiguousarray(x[:steps, g].T)

        inv_g = rows(inv, L)
        cash_g = np.hstack([zero, rows(cash, L)])
        fees_g = np.hstack([zero, rows(fees, L)])
        d_fees = np.diff(fees_g, axis=1)
        att = metrics.pnl_attribution_from_steps(
            rows(mid, L + 1),
            inv_g,
            np.diff(cash_g, axis=1) - d_fees,
            rows(edge, L),
            d_fees,
            lot_size=lot,
        )
        for k, v in att.items():
            out[k][g] = v
        equity = np.hstack([zero, rows(pnl, L)])
        step_pnl = np.diff(equity, axis=1)
        if L >= 2:
            out["sharpe"][g] = metrics.sharpe(step_pnl)
        else:
            out["sharpe"][g] = 0.0
        out["max_drawdown"][g] = metrics.max_drawdown(equity)
        var, es = metrics.var_es(step_pnl, 0.95)
        out["var"][g], out["es"][g] = var, es
        for k, v in metrics.inventory_stats(inv_g, limit).items():
            out[k][g] = v
        out["final_inventory"][g] = inv[L - 1, g]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out["quoted_spread_ticks"][g] = metrics.quoted_spread(rows(bid, L), rows(ask, L))
    return out
