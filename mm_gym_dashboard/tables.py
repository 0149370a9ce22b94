"""The tables the results page draws, derived from an export read by :mod:`.exports`.

The leaderboard, the PnL attribution, the equity and inventory bands, the PnL distribution, the
per-step paths and the market-impact points, each from an :class:`~.exports.ExportData`.
Nothing here imports Streamlit.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from mm_gym.evaluation.figures import ATTRIBUTION_PARTS as FIGURE_PARTS
from mm_gym.evaluation.figures import attribution_parts
from mm_gym.evaluation.stats import (
    CI_STATS,
    DIFF_STATS,
    SUMMARY_KEYS,
    SUMMARY_STATS,
    summary_column,
)
from mm_gym_dashboard.csv_files import find_column
from mm_gym_dashboard.exports import (
    ATTRIBUTION_PARTS,
    GROUP_COLUMNS,
    ID_COLUMNS,
    NAME_COLUMNS,
    PNL_COLUMNS,
    ContestantData,
    ExportData,
)
from mm_gym_dashboard.paths import DashboardError

__all__ = [
    "attribution",
    "attribution_paths",
    "bands",
    "contestants_in",
    "group_column",
    "groups",
    "impact_points",
    "leaderboard",
    "metric_choices",
    "name_column",
    "pnl_distribution",
    "step_paths",
    "venue_views",
]


# --------------------------------------------------------------------------- views


def name_column(df: pd.DataFrame) -> str:
    """The contestant column of a summary or episodes table."""
    col = find_column(df.columns, NAME_COLUMNS)
    assert col is not None  # _read_named_table guarantees it
    return col


def group_column(df: pd.DataFrame) -> str | None:
    """The regime (or other split) column of a summary or episodes table, if any."""
    return find_column(df.columns, GROUP_COLUMNS)


def groups(data: ExportData) -> list[str]:
    """The regimes / presets of the export (``episodes.csv``, else ``summary.csv``), in order."""
    for table in (data.episodes, data.summary):
        if table is not None and (col := group_column(table)) is not None:
            return [str(g) for g in dict.fromkeys(table[col].astype(str))]
    return []


def contestants_in(data: ExportData, group: str | None = None) -> list[tuple[str, ContestantData]]:
    """``(label, contestant)`` of the contestant folders in ``group`` (None: all).

    Folders nested by setting (``<policy>/<regime>`` as evaluate.py writes them, or
    ``<regime>/<policy>``) belong to the group named in their path and are labelled by the
    rest of it once a group is chosen; folders not nested belong to every group.
    """
    out = []
    for name, c in data.contestants.items():
        parts = name.split("/")
        if group is None or len(parts) == 1:
            out.append((name, c))
        elif group in parts:
            out.append(("/".join(p for p in parts if p != group), c))
    return out


def _is_derived_column(name: str) -> bool:
    """A summary column that qualifies a metric (``<metric>_<stat>`` of the schema)."""
    return name.endswith(tuple(f"_{stat}" for stat in SUMMARY_STATS if stat != "mean"))


def metric_choices(data: ExportData) -> list[str]:
    """Measures a leaderboard can rank by: the PnL first, then the other numeric columns.

    The columns of ``episodes.csv``, or, without it, the metrics of ``summary.csv`` (the
    ``<metric>`` of each ``<metric>_mean`` column, or its plain numeric columns).
    """
    cols: list[str] = []
    for table in (data.episodes, data.summary):
        if table is None:
            continue
        skip = {name_column(table), group_column(table)}
        numeric = [
            c
            for c in table.columns
            if c not in skip
            and pd.api.types.is_numeric_dtype(table[c])
            and c.lower() not in ID_COLUMNS
        ]
        if table is data.summary:
            means = [c[: -len("_mean")] for c in numeric if c.lower().endswith("_mean")]
            numeric = means or [c for c in numeric if not _is_derived_column(c)]
        cols = numeric
        if cols:
            break
    pnl = find_column(cols, PNL_COLUMNS)
    if pnl is not None:
        cols.remove(pnl)
        cols.insert(0, pnl)
    return cols


def leaderboard(
    data: ExportData, metric: str, *, level: float = 0.95, n_boot: int = 2000
) -> pd.DataFrame:
    """Mean of ``metric`` per contestant (and regime) with a confidence interval, best first.

    From ``summary.csv`` when it has the metric's mean and CI columns (``<metric>_mean``,
    ``<metric>_ci_low``, ``<metric>_ci_high``: the figures of the report), else
    from ``episodes.csv`` (percentile bootstrap CI of the mean, seed 0,
    :func:`mm_gym.metrics.bootstrap_ci`), else from the summary's mean alone.

    Returns:
        Columns ``rank``, ``contestant``, ``group`` (the regime or preset, or ``"all"``),
        ``mean``, ``ci_low``, ``ci_high``, ``n`` (episodes; NaN if unknown), the summary's
        paired-difference columns ``diff``, ``diff_low``, ``diff_high`` when it has them, and
        ``source`` (the file).

    Raises:
        DashboardError: If neither table has ``metric``.
    """
    sm, ep = data.summary, data.episodes
    mean = summary_column(metric, "mean")
    has_ci = sm is not None and summary_column(metric, "ci_low") in sm.columns
    if sm is not None and mean in sm.columns and (has_ci or ep is None or metric not in ep.columns):
        return _leaderboard_from_summary(sm, metric, data.folder / "summary.csv")
    if ep is not None and metric in ep.columns:
        return _leaderboard_from_episodes(ep, metric, level, n_boot, data.folder / "episodes.csv")
    raise DashboardError(f"no column {metric!r} in episodes.csv or summary.csv of {data.folder}")


def _leaderboard_from_episodes(
    ep: pd.DataFrame, metric: str, level: float, n_boot: int, source: Path
) -> pd.DataFrame:
    from mm_gym.metrics import bootstrap_ci

    name, group = name_column(ep), group_column(ep)
    rows = []
    keys = [name] if group is None else [name, group]
    for key, frame in ep.groupby(keys, sort=False):
        values = frame[metric].to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        k = key if isinstance(key, tuple) else (key,)
        row = {"contestant": str(k[0]), "group": str(k[1]) if group else "all", "n": values.size}
        if values.size >= 2:
            ci = bootstrap_ci(values, n_boot=n_boot, level=level, rng=0)
            row.update(mean=ci.estimate, ci_low=ci.low, ci_high=ci.high)
        else:
            row.update(mean=float(values.mean()) if values.size else math.nan)
            row.update(ci_low=math.nan, ci_high=math.nan)
        rows.append(row)
    return _rank(pd.DataFrame(rows), str(source))


def _leaderboard_from_summary(sm: pd.DataFrame, metric: str, source: Path) -> pd.DataFrame:
    """The leaderboard from the schema columns of ``summary.csv`` (NaN where one is missing)."""

    def column(name: str) -> pd.Series | float:
        return pd.to_numeric(sm[name], errors="coerce") if name in sm.columns else math.nan

    name, group = name_column(sm), group_column(sm)
    out = pd.DataFrame(
        {
            "contestant": sm[name].astype(str),
            "group": sm[group].astype(str) if group else "all",
            "mean": column(summary_column(metric, "mean")),
            **{stat: column(summary_column(metric, stat)) for stat in CI_STATS},
            "n": column(SUMMARY_KEYS[-1]),  # n_episodes
        }
    )
    for stat in DIFF_STATS:
        if summary_column(metric, stat) in sm.columns:
            out[stat] = column(summary_column(metric, stat))
    return _rank(out, str(source))


def _rank(df: pd.DataFrame, source: str) -> pd.DataFrame:
    groups = list(dict.fromkeys(df["group"]))  # the file's order of groups
    df = df.assign(_g=df["group"].map(groups.index))
    df = df.sort_values(["_g", "mean"], ascending=[True, False], kind="stable").drop(columns="_g")
    df.insert(0, "rank", df.groupby("group").cumcount() + 1)
    df["source"] = source
    return df.reset_index(drop=True)


def attribution(data: ExportData, group: str | None = None) -> tuple[pd.DataFrame, str] | None:
    """Mean PnL per contestant split into its parts, long format, and where it came from.

    The PnL attribution of the report: spread capture + inventory mark-to-market + fees and
    rebates = the total (mark-to-market) PnL. ``group`` keeps one regime / preset (None: every
    episode, or the summary's pooled ``all`` rows when it has them).

    From the attribution columns of ``episodes.csv`` (:data:`ATTRIBUTION_PARTS`,
    :func:`mm_gym.metrics.pnl_attribution`), else of ``summary.csv``, else from the last step
    of each sample episode's ``MM1_metrics.csv`` (its cumulative ``spread_capture`` and
    ``fees`` and its ``total``, :func:`attribution_paths`).

    Returns:
        ``(table, source)`` with columns ``contestant``, ``part`` (the parts' names of
        :data:`ATTRIBUTION_PARTS`), ``value``; None if nothing to attribute.
    """
    for table, file in ((data.episodes, "episodes.csv"), (data.summary, "summary.csv")):
        if table is None:
            continue
        parts = {
            p: find_column(table.columns, (p, summary_column(p, "mean"))) for p in ATTRIBUTION_PARTS
        }
        if all(c is not None for c in parts.values()):
            table = _in_group(table, group)
            name = name_column(table)
            means = table.groupby(name, sort=False)[list(parts.values())].mean()
            means.columns = list(ATTRIBUTION_PARTS.values())
            long = means.reset_index(names="contestant").melt(
                id_vars="contestant", var_name="part", value_name="value"
            )
            return long, str(data.folder / file)
    paths = attribution_paths(data, group)
    if paths.empty:
        return None
    last = paths[paths["part"] != "total"].groupby(["contestant", "part"], sort=False).tail(1)
    return last[["contestant", "part", "value"]].reset_index(drop=True), (
        "MM1_metrics.csv (last step of the sample episode)"
    )


def attribution_paths(data: ExportData, group: str | None = None) -> pd.DataFrame:
    """The cumulative PnL attribution of each contestant's sample episode (mm1), per step.

    The parts of :func:`mm_gym.evaluation.figures.attribution_parts` (the report's figure),
    named as in :data:`ATTRIBUTION_PARTS`, and ``"total"``; traces without ``spread_capture``,
    ``fees`` and ``total`` columns (older exports) are left out.

    Returns:
        Columns ``contestant``, ``step``, ``part``, ``value`` (currency).
    """
    names = {**dict(zip(FIGURE_PARTS, ATTRIBUTION_PARTS.values(), strict=True)), "total": "total"}
    frames = []
    for label, c in contestants_in(data, group):
        m = c.metrics.get("MM1")
        if m is None or not {"spread_capture", "fees", "total"} <= set(m.columns):
            continue
        if "episode" in m.columns and len(m):
            m = m[m["episode"] == m["episode"].iloc[0]]
        for key, values in attribution_parts(m).items():
            frames.append(
                pd.DataFrame(
                    {"contestant": label, "step": m["step"].to_numpy(), "part": names[key],
                     "value": values}
                )
            )  # fmt: skip
    if not frames:
        return pd.DataFrame(columns=["contestant", "step", "part", "value"])
    return pd.concat(frames, ignore_index=True)


def bands(data: ExportData, series: str, group: str) -> pd.DataFrame:
    """One regime's equity curves (``series="pnl"``) or inventory bands (``"inventory"``).

    From ``bands.csv``: per contestant and step the mean and the 25 % / 75 % quantiles over
    episodes. Steps without a value (the inventory before the first step) are left out.

    Returns:
        Columns ``contestant``, ``step``, ``mean``, ``p25``, ``p75``; empty without
        ``bands.csv`` or rows of ``group``.
    """
    cols = ["contestant", "step", "mean", "p25", "p75"]
    b = data.bands
    if b is None:
        return pd.DataFrame(columns=cols)
    rows = b if group == "all" else b[b["group"] == group]
    out = rows[["contestant", "step", f"{series}_mean", f"{series}_p25", f"{series}_p75"]]
    out.columns = cols
    return out.dropna(subset=["mean"]).reset_index(drop=True)


def _in_group(table: pd.DataFrame, group: str | None) -> pd.DataFrame:
    """The rows of ``group``; with None, all rows except a summary's pooled ``all`` rows."""
    col = group_column(table)
    if col is None:
        return table
    values = table[col].astype(str)
    if group is None:
        pooled = values == "all"
        return table[pooled] if pooled.any() else table
    return table[values == group]


def pnl_distribution(data: ExportData) -> tuple[pd.DataFrame, str] | None:
    """Per-episode total PnL, columns ``contestant``, ``group``, ``pnl``; None if unknown."""
    ep = data.episodes
    if ep is None:
        return None
    col = find_column(ep.columns, PNL_COLUMNS)
    if col is None:
        return None
    group = group_column(ep)
    out = pd.DataFrame(
        {
            "contestant": ep[name_column(ep)].astype(str),
            "group": ep[group].astype(str) if group else "all",
            "pnl": pd.to_numeric(ep[col], errors="coerce"),
        }
    ).dropna()
    return out, col


def step_paths(
    data: ExportData,
    column: str,
    maker: str = "MM1",
    episode: object | None = None,
    group: str | None = None,
) -> pd.DataFrame:
    """One per-step column of every contestant's ``<maker>_metrics.csv``, long format.

    Args:
        data: The export.
        column: The column (``"inventory"``, ``"total"``, ...).
        maker: ``"MM1"`` or ``"MM2"``.
        episode: Which episode when a file holds several (an ``episode`` column); default the
            first of each file.
        group: Keep the contestant folders of this regime / preset (:func:`contestants_in`).

    Returns:
        Columns ``contestant``, ``step``, ``value``, ``event`` (empty string if none); files
        without the column are left out.
    """
    frames = []
    for label, c in contestants_in(data, group):
        m = c.metrics.get(maker)
        if m is None or column not in m.columns:
            continue
        if "episode" in m.columns and len(m):
            ep = m["episode"].iloc[0] if episode is None else episode
            m = m[m["episode"] == ep]
        event = m["event"].fillna("").astype(str) if "event" in m.columns else ""
        frames.append(
            pd.DataFrame(
                {
                    "contestant": label,
                    "step": m["step"].to_numpy(),
                    "value": pd.to_numeric(m[column], errors="coerce").to_numpy(),
                    "event": event if isinstance(event, str) else event.to_numpy(),
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=["contestant", "step", "value", "event"])
    return pd.concat(frames, ignore_index=True)


def impact_points(
    data: ExportData, maker: str = "MM1", max_points: int = 5000, group: str | None = None
) -> pd.DataFrame:
    """Every contestant's market-impact records of ``maker``, with a ``contestant`` column.

    At most ``max_points`` rows per contestant (an even subsample) so that plots stay light;
    ``group`` keeps one regime / preset's folders (:func:`contestants_in`).
    """
    frames = []
    for label, c in contestants_in(data, group):
        m = c.impact.get(maker)
        if m is None or m.empty:
            continue
        if len(m) > max_points:
            m = m.iloc[np.linspace(0, len(m) - 1, max_points).astype(int)]
        m = m.copy()
        m.insert(0, "contestant", label)
        if "side" in m.columns:
            m["side"] = m["side"].map(_side_name)
        frames.append(m)
    if not frames:
        return pd.DataFrame(columns=["contestant", "size", "side", "impact"])
    return pd.concat(frames, ignore_index=True)


def _side_name(side: object) -> str:
    """``"buy"`` / ``"sell"`` from the side encodings an export may use (+1/-1, "B"/"S", ...)."""
    if isinstance(side, str):
        s = side.strip().lower()
        if s in ("1", "+1", "b", "buy", "bid"):
            return "buy"
        if s in ("-1", "s", "sell", "ask"):
            return "sell"
        return s
    try:
        x = float(side)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(side)
    return "buy" if x > 0 else "sell" if x < 0 else "none"


# --------------------------------------------------------------------------- several venues

VENUE_PARTS: dict[str, str] = {
    "spread_capture": "spread capture",
    "rebates_fees": "fees and rebates",
    "taker_fees": "hedge taker fees",
    "hedge_slippage": "hedge slippage",
    "inventory_pnl": "inventory mark-to-market",
}
"""The PnL parts of ``venues.csv`` (``evaluate.py --env-id``) and their labels in the charts."""


def venue_views(data: ExportData, group: str | None = None) -> dict[str, pd.DataFrame] | None:
    """The tables of an ``evaluate.py --env-id`` export in ``group`` (a regime); None without.

    Returns:
        ``makers`` and ``venues`` (``makers.csv`` and ``venues.csv``), ``parts`` (the venues'
        PnL parts in the long form of the attribution chart: ``contestant`` is
        ``<maker> · <asset>.<venue>``, ``part`` a label of :data:`VENUE_PARTS`, ``value``) and,
        if ``router.csv`` is there, ``router`` (``maker``, ``contestant`` the venue, ``step``,
        ``value`` the share of episodes quoting it, averaged over bins of steps: the router's
        choices over time).

    Raises:
        DashboardError: If one of the files cannot be read (naming it).
    """
    from mm_gym_dashboard.csv_files import read_csv

    files = {name: data.folder / f"{name}.csv" for name in ("makers", "venues", "router")}
    if not files["venues"].is_file():
        return None
    out: dict[str, pd.DataFrame] = {}
    for name, path in files.items():
        if path.is_file():
            df = read_csv(path)
            if group not in (None, "all") and "regime" in df:
                df = df[df["regime"].astype(str) == group]
            out[name] = df.reset_index(drop=True)
    v = out["venues"]
    slot = v["asset"].astype(str) + "." + v["venue"].astype(str)
    parts = [p for p in VENUE_PARTS if p in v and (p in ("spread_capture", "rebates_fees",
             "inventory_pnl") or v[p].abs().sum() > 0)]  # fmt: skip
    long = v.assign(contestant=v["contestant"].astype(str) + " · " + slot)
    out["parts"] = long.melt(
        id_vars="contestant", value_vars=parts, var_name="part", value_name="value"
    ).replace({"part": VENUE_PARTS})
    if "router" in out:
        out["router"] = _router_lines(out["router"])
    return out


ROUTER_POINTS = 4_000
"""The most points the router chart draws for one maker (Vega-Lite's inline data stays small):
its steps are averaged in bins of equal width."""


def _router_lines(r: pd.DataFrame) -> pd.DataFrame:
    """``router.csv`` as lines per maker and venue, steps averaged in bins (ROUTER_POINTS)."""
    lines = r.assign(
        maker=r["contestant"].astype(str),
        contestant=r["asset"].astype(str) + "." + r["venue"].astype(str),
    )
    n_lines = max(1, lines.groupby("maker")["contestant"].nunique().max())
    width = max(1, math.ceil(lines["step"].nunique() * n_lines / ROUTER_POINTS))
    lines["bin"] = (lines["step"] - 1) // width
    binned = lines.groupby(["maker", "contestant", "bin"], sort=False).agg(
        step=("step", "max"), value=("quote_share", "mean")
    )
    return binned.reset_index()[["maker", "contestant", "step", "value"]]
