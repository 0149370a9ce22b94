"""Statistics of per-episode rows: the summary table, the leaderboard and its text form.

The summary schema
------------------
:func:`summarize` is the one builder of confidence-interval tables (``evaluate.py``'s
``summary.csv``, :mod:`agents.compare`, the dashboard). One row per (``preset``, ``policy``)
with ``n_episodes`` (:data:`SUMMARY_KEYS`), then, named ``<metric>_<stat>``
(:func:`summary_column`):

==============  ============================================================================
stat            meaning
==============  ============================================================================
``mean``        mean over the episodes (non-finite values left out); every numeric metric
``std``         sample standard deviation (ddof = 1); every numeric metric
``ci_low``      lower bound of the percentile bootstrap CI of the mean (``ci_metrics`` only)
``ci_high``     upper bound of that CI
``diff``        mean of ``policy - baseline`` episode by episode (paired on the same seeds)
``diff_low``    lower bound of the paired bootstrap CI of ``diff``
``diff_high``   upper bound of that CI
==============  ============================================================================

The sign is always *row's policy minus the baseline*; the baseline's own row has 0.0.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mm_gym import metrics
from mm_gym.config import ConfigError
from mm_gym.evaluation.definitions import leaderboard_legend

__all__ = [
    "CI_STATS",
    "DIFF_STATS",
    "LEADERBOARD_LEGEND",
    "SUMMARY_CI_METRICS",
    "SUMMARY_KEYS",
    "SUMMARY_STATS",
    "format_leaderboard",
    "leaderboard",
    "leaderboard_cells",
    "summarize",
    "summary_column",
]

SUMMARY_CI_METRICS: tuple[str, ...] = ("total_pnl", "sharpe", "episode_reward")
"""Metrics that :func:`summarize` gives bootstrap CIs and paired differences for."""

SUMMARY_KEYS: tuple[str, ...] = ("preset", "policy", "n_episodes")
"""The leading columns of a :func:`summarize` table."""

CI_STATS: tuple[str, ...] = ("ci_low", "ci_high")
"""Bounds of the bootstrap CI of a metric's mean."""

DIFF_STATS: tuple[str, ...] = ("diff", "diff_low", "diff_high")
"""The paired difference to the baseline and its CI bounds."""

SUMMARY_STATS: tuple[str, ...] = ("mean", "std", *CI_STATS, *DIFF_STATS)
"""Every ``<metric>_<stat>`` suffix of a :func:`summarize` table, in the module's schema."""


LEADERBOARD_LEGEND: str = leaderboard_legend()
"""The legend of :func:`format_leaderboard`'s columns and of their units: printed under the
leaderboard by ``evaluate.py`` and written into ``leaderboard.txt``; the plain-ASCII form of
:mod:`mm_gym.evaluation.definitions`, whose text the README's "Units and metrics" and the
report's definitions page also show."""


def summary_column(metric: str, stat: str) -> str:
    """The column of ``metric``'s ``stat`` (one of :data:`SUMMARY_STATS`) in a summary table.

    Raises:
        ConfigError: On an unknown ``stat``.
    """
    if stat not in SUMMARY_STATS:
        raise ConfigError(f"stat={stat!r} is not one of {list(SUMMARY_STATS)}")
    return f"{metric}_{stat}"


def summarize(
    episodes: pd.DataFrame,
    *,
    baseline: str | None = "avellaneda_stoikov",
    ci_metrics: Sequence[str] = SUMMARY_CI_METRICS,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
    pooled: bool = True,
) -> pd.DataFrame:
    """Per (preset, policy): mean and std of every metric, bootstrap CIs, paired differences.

    The table follows the schema of this module (:data:`SUMMARY_STATS`). Columns: ``preset``,
    ``policy``, ``n_episodes``; ``<metric>_mean`` and ``<metric>_std`` for
    every numeric metric; for each of ``ci_metrics``: ``<m>_ci_low``/``<m>_ci_high`` (percentile
    bootstrap CI of the mean) and, if ``baseline`` ran on the same episodes of the preset,
    ``<m>_diff`` (mean of ``policy - baseline`` episode by episode) with
    ``<m>_diff_low``/``<m>_diff_high`` (its paired bootstrap CI, as
    :func:`mm_gym.metrics.paired_diff_ci`). All of a preset's CIs come from one set of episode
    resamples (:func:`mm_gym.metrics.bootstrap_means`). With ``pooled``, rows with ``preset ==
    "all"`` pool each policy's episodes over the presets (paired by preset and episode).

    Args:
        episodes: Rows of :func:`evaluate_policies` / :func:`run_tournament`.
        baseline: Policy name for the paired differences (None: none).
        ci_metrics: Metrics with CIs and paired differences.
        n_boot: Bootstrap resamples.
        level: Confidence level.
        seed: Seed of the bootstrap generator (the table is reproducible).
        pooled: Add the pooled ``"all"`` rows when there is more than one preset.

    Returns:
        The summary, one row per (preset, policy) in the order of first appearance.

    Raises:
        ConfigError: If a required column is missing or ``ci_metrics`` names an unknown column.
    """
    numeric = _numeric_metrics(episodes, ci_metrics)
    data = episodes
    if pooled and len(set(data["preset"])) > 1:
        data = _with_pooled_rows(data)
    ci = list(ci_metrics)
    # One set of resamples per preset and episode count: every policy of a preset is resampled
    # on the same episode draws (its episodes are paired across policies).
    weights: dict[tuple[Any, int], np.ndarray] = {}
    rows = []
    for (pre, pol), g in data.groupby(["preset", "policy"], sort=False):
        row: dict[str, Any] = {"preset": pre, "policy": pol, "n_episodes": len(g)}
        for c in numeric:
            x = g[c].to_numpy(dtype=np.float64)
            ok = np.isfinite(x)
            row[f"{c}_mean"] = float(x[ok].mean()) if ok.any() else math.nan
            row[f"{c}_std"] = float(x[ok].std(ddof=1)) if ok.sum() > 1 else math.nan
        gi = g.drop_duplicates("episode").set_index("episode").sort_index()
        key = (pre, len(gi))
        if key not in weights and len(gi) >= 2:
            rng = np.random.default_rng([int(seed), 0x5355, zlib.crc32(str(pre).encode())])
            weights[key] = metrics.bootstrap_weights(len(gi), n_boot, rng)
        diffs = None
        if baseline is not None and pol != baseline:
            diffs = _paired_diffs(data, pre, baseline, gi, ci)
        row.update(_intervals(gi, ci, diffs, weights.get(key), level, is_baseline=pol == baseline))
        rows.append(row)
    return pd.DataFrame(rows)


def _numeric_metrics(episodes: pd.DataFrame, ci_metrics: Sequence[str]) -> list[str]:
    """The numeric metric columns of ``episodes``, after checking the required columns."""
    for col in ("preset", "policy", "episode"):
        if col not in episodes.columns:
            raise ConfigError(f"episodes has no {col!r} column; got {list(episodes.columns)}")
    unknown = [m for m in ci_metrics if m not in episodes.columns]
    if unknown:
        raise ConfigError(f"ci_metrics {unknown} are not columns of episodes")
    skip = {"episode", "seed", "length"}
    return [
        c for c in episodes.columns if c not in skip and pd.api.types.is_numeric_dtype(episodes[c])
    ]


def _with_pooled_rows(data: pd.DataFrame) -> pd.DataFrame:
    """``data`` plus a copy of every row under ``preset == "all"``."""
    allrows = data.copy()
    # Pair pooled episodes by (preset, episode): a unique key per original episode.
    allrows["episode"] = allrows.groupby("policy").cumcount()
    allrows["preset"] = "all"
    return pd.concat([data, allrows], ignore_index=True)


def _paired_diffs(
    data: pd.DataFrame, preset: Any, baseline: str, gi: pd.DataFrame, ci: list[str]
) -> np.ndarray | None:
    """``policy - baseline`` per episode of ``preset``, or None if the episodes do not pair."""
    b = data[(data["preset"] == preset) & (data["policy"] == baseline)]
    bi = b.drop_duplicates("episode").set_index("episode")
    if len(bi) and bi.index.equals(bi.index.intersection(gi.index)) and len(bi) == len(gi):
        return gi[ci].to_numpy(dtype=np.float64) - bi.loc[gi.index, ci].to_numpy(dtype=np.float64)
    return None


def _intervals(
    gi: pd.DataFrame,
    ci: list[str],
    diffs: np.ndarray | None,
    weights: np.ndarray | None,
    level: float,
    *,
    is_baseline: bool,
) -> dict[str, float]:
    """The ``ci_low`` ... ``diff_high`` columns of one row (NaN where they cannot be computed)."""
    row = {f"{m}_{s}": math.nan for m in ci for s in (*CI_STATS, *DIFF_STATS)}
    if is_baseline:
        for m in ci:
            row[f"{m}_diff"] = row[f"{m}_diff_low"] = row[f"{m}_diff_high"] = 0.0
    x = gi[ci].to_numpy(dtype=np.float64)
    if len(x) >= 2 and np.isfinite(x).all():
        cols = x if diffs is None or not np.isfinite(diffs).all() else np.hstack([x, diffs])
        est, lo, hi = metrics.bootstrap_means(cols, level=level, weights=weights)
        for j, m in enumerate(ci):
            row[f"{m}_ci_low"], row[f"{m}_ci_high"] = float(lo[j]), float(hi[j])
            if cols.shape[1] > len(ci):
                k = len(ci) + j
                row[f"{m}_diff"] = float(est[k])
                row[f"{m}_diff_low"], row[f"{m}_diff_high"] = float(lo[k]), float(hi[k])
    return row


def leaderboard(
    summary: pd.DataFrame, preset: str | None = None, by: str = "total_pnl"
) -> pd.DataFrame:
    """Rank policies by the mean of ``by`` (descending) within each preset of ``summary``.

    Args:
        summary: The output of :func:`summarize`.
        preset: Keep only this preset (e.g. ``"all"``); None keeps every preset.
        by: Metric to rank by (its ``<by>_mean`` column), higher is better.

    Returns:
        ``summary`` rows sorted by preset then rank, with a ``rank`` column (1 = best).
    """
    col = f"{by}_mean"
    if col not in summary.columns:
        raise ConfigError(f"summary has no column {col!r}")
    df = summary if preset is None else summary[summary["preset"] == preset]
    order = list(dict.fromkeys(df["preset"]))
    parts = []
    for p in order:
        g = df[df["preset"] == p].sort_values(col, ascending=False, kind="stable").copy()
        g.insert(0, "rank", np.arange(1, len(g) + 1))
        parts.append(g)
    return pd.concat(parts, ignore_index=True) if parts else df.assign(rank=[])


def leaderboard_cells(row: pd.Series, *, padded: bool = False) -> list[str]:
    """The cells of one :func:`leaderboard` row, as the leaderboard prints them.

    Rank, policy, mean PnL with its 95 % CI, the paired difference with its CI (``-`` if there
    is none), Sharpe, max drawdown, mean |inventory|, time at limit, fill rate, quoted spread and
    mean reward: the columns of :data:`~mm_gym.evaluation.definitions.METRIC_DEFINITIONS`.
    ``padded`` gives the fixed widths of :func:`format_leaderboard`'s text table.
    """

    def f(value: float, width: int, spec: str) -> str:
        sign, rest = (spec[0], spec[1:]) if spec[0] == "+" else ("", spec)
        return format(value, f"{sign}{width if padded else ''}{rest}")

    def interval(stat: str, low: str, high: str, sign: str = "") -> str:
        centre, lo, hi = (row[f"total_pnl_{k}"] for k in (stat, low, high))
        spec = sign + ".1f"
        return f"{f(centre, 9, spec)} [{f(lo, 8, spec)}, {f(hi, 8, spec)}]"

    d = row.get("total_pnl_diff", math.nan)
    diff = interval("diff", "diff_low", "diff_high", "+") if np.isfinite(d) else "-"
    return [
        f(int(row["rank"]), 2, "d"),
        str(row["policy"]),
        interval("mean", "ci_low", "ci_high"),
        f"{diff:>28s}" if padded else diff,
        f(row["sharpe_mean"], 7, ".2f"),
        f(row["max_drawdown_mean"], 7, ".1f"),
        f(row["mean_abs_inventory_mean"], 6, ".2f"),
        f(row["frac_at_limit_mean"], 5, ".3f"),
        f(row["fill_rate_mean"], 7, ".3f"),
        f(row["quoted_spread_ticks_mean"], 6, ".2f"),
        f(row["episode_reward_mean"], 9, ".1f"),
    ]


def format_leaderboard(board: pd.DataFrame, baseline: str | None = "avellaneda_stoikov") -> str:
    """A plain-text table of a :func:`leaderboard`, one block per preset.

    Columns: rank, policy (the whole name), mean total PnL with its 95% CI, the paired difference to
    ``baseline`` with its CI, Sharpe, max drawdown, mean |inventory|, time at limit, fill rate,
    quoted spread and mean episode reward; :data:`LEADERBOARD_LEGEND` defines each.
    """
    vs = f"vs {baseline} [95% CI]" if baseline else "paired diff"
    w = max([24, *(len(str(p)) for p in board["policy"])])  # whole names: runs differ at the end
    header = (
        f"{'#':>2s}  {'policy':{w}s} {'PnL [95% CI]':>29s} {vs:>28s} {'Sharpe':>7s} "
        f"{'maxDD':>7s} {'|inv|':>6s} {'@lim':>5s} {'fills/s':>7s} {'spread':>6s} {'reward':>9s}"
    )
    lines = []
    for pre, g in board.groupby("preset", sort=False):
        n = int(g["n_episodes"].iloc[0])
        lines.append(f"== {pre} ({n} episodes per policy) ==")
        lines.append(header)
        for _, row in g.iterrows():
            rank, policy, *cells = leaderboard_cells(row, padded=True)
            lines.append(f"{rank}  {policy:{w}s} " + " ".join(cells))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
