"""Reading the export folders that ``evaluate.py`` writes.

An export folder (``exports/<timestamp>/``) holds:

| file | content |
| --- | --- |
| ``summary.csv`` | a row per contestant (and regime): aggregate metrics, maybe CIs |
| ``episodes.csv`` | a row per contestant and episode: total PnL, its attribution, ... |
| ``bands.csv`` | a row per contestant, regime and step: mean, 25 % and 75 % quantiles of |
| | mark-to-market PnL and inventory over episodes (older exports lack it) |
| ``<contestant>/MM1_metrics.csv`` | mm1's path per step (columns below) |
| ``<contestant>/MM2_metrics.csv`` | the same for mm2 |
| ``<contestant>/MM1_market_impact.csv`` | a row per market order (columns below) |
| ``<contestant>/MM2_market_impact.csv`` | the same, in mm2's episodes |
| ``*.png``, ``report.pdf`` | plots and the report |

Metrics columns: step, mid, bid, ask, inventory, cash, realized, unrealized, total, regime,
sentiment, event (and optionally episode). Market-impact columns: size, side, pre_mid,
post_mid, impact.

``exports/latest`` is a link to (or a text file naming) the newest export.

``summary.csv`` follows the summary schema of :mod:`mm_gym.evaluation.stats` (``<metric>_mean``,
``<metric>_ci_low``, ``<metric>_ci_high``, ``<metric>_diff``...; the schema every export of
``evaluate.py`` has used). A missing file is skipped; a file that cannot be read is reported in
:attr:`ExportData.problems` with its path, and everything else is still shown. Nothing here
imports Streamlit.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
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
from mm_gym_dashboard.csv_files import DataFileError, find_column, read_csv
from mm_gym_dashboard.paths import DashboardError, inside_roots, runs_root

__all__ = [
    "ATTRIBUTION_PARTS",
    "BANDS_SERIES",
    "MAKERS",
    "MARKET",
    "ContestantData",
    "DataFileError",
    "ExportData",
    "attribution",
    "bands",
    "contestants_in",
    "find_column",
    "groups",
    "impact_points",
    "leaderboard",
    "list_exports",
    "load_export",
    "metric_choices",
    "pnl_distribution",
    "read_csv",
    "resolve_export",
    "resolve_latest",
    "step_paths",
]

MAKERS: tuple[str, ...] = ("MM1", "MM2")
"""The makers whose per-step files an export holds (``MM1_metrics.csv``, ...)."""

MARKET = "market"
"""Key of the impact records of every aggressive order (``market_impact.csv``)."""

MARKET_IMPACT_FILE = "market_impact.csv"
"""A contestant folder's file of every aggressive order of its sample episode."""

CONTESTANTS_DIR = "contestants"
"""The folder of evaluate.py's per-contestant sub-folders (left out of contestant names)."""

TEXT_FILES: tuple[str, ...] = ("leaderboard.txt", "run.json")
"""Small text files of an export shown as they are."""

NAME_COLUMNS: tuple[str, ...] = ("contestant", "policy", "name", "agent", "strategy", "mm1")
"""Column names that name the contestant, in order of preference."""

GROUP_COLUMNS: tuple[str, ...] = ("regime", "preset", "scenario", "env")
"""Column names that split contestants' results further (e.g. by regime)."""

ID_COLUMNS: tuple[str, ...] = (
    "episode",
    "seed",
    "step",
    "index",
    "run",
    "rank",
    "n",
    "count",
    "length",
    "n_episodes",
)
"""Numeric columns that identify rows rather than measure anything."""

PNL_COLUMNS: tuple[str, ...] = ("total_pnl", "pnl", "final_pnl", "total", "pnl_total")
"""Column names of an episode's total PnL, in order of preference."""

ATTRIBUTION_PARTS: dict[str, str] = dict(
    zip(("spread_capture", "inventory_pnl", "fees"), FIGURE_PARTS.values(), strict=True)
)
"""The columns of ``episodes.csv`` that add up to the total PnL, with the names the figures and
the report give them (:data:`mm_gym.evaluation.figures.ATTRIBUTION_PARTS`, in that order)."""

BANDS_FILE = "bands.csv"
"""The export's equity curves and inventory bands (:func:`mm_gym.evaluation.bands_table`)."""

BANDS_SERIES: dict[str, str] = {"pnl": "mark-to-market PnL", "inventory": "inventory"}
"""The series of ``bands.csv`` (column prefixes) and their names."""

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".svg")


@dataclass
class ContestantData:
    """The per-contestant subfolder of an export.

    Attributes:
        name: The contestant (the subfolder's name).
        folder: The subfolder.
        metrics: Per-step paths by maker (``"MM1"``, ``"MM2"``), from ``<maker>_metrics.csv``.
        impact: Market-order impact records by maker, from ``<maker>_market_impact.csv`` (the
            orders that filled that maker), and every aggressive order under :data:`MARKET`.
        images: PNG (or other image) plots in the subfolder.
    """

    name: str
    folder: Path
    metrics: dict[str, pd.DataFrame] = field(default_factory=dict)
    impact: dict[str, pd.DataFrame] = field(default_factory=dict)
    images: list[Path] = field(default_factory=list)


@dataclass
class ExportData:
    """Everything readable in one export folder.

    Attributes:
        folder: The export folder.
        summary: ``summary.csv``, or None if missing or unreadable.
        episodes: ``episodes.csv``, or None if missing or unreadable.
        bands: ``bands.csv``, or None if missing (an export older than the file) or unreadable.
        contestants: The per-contestant subfolders, by name.
        images: Plots at the top of the folder or in its ``plots/``.
        texts: Small text files shown as they are (:data:`TEXT_FILES`).
        report: ``report.pdf`` if present.
        problems: One message per file that could not be read, each naming the file.
    """

    folder: Path
    summary: pd.DataFrame | None = None
    episodes: pd.DataFrame | None = None
    bands: pd.DataFrame | None = None
    contestants: dict[str, ContestantData] = field(default_factory=dict)
    images: list[Path] = field(default_factory=list)
    texts: list[Path] = field(default_factory=list)
    report: Path | None = None
    problems: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- files


def _read_named_table(path: Path) -> pd.DataFrame:
    """Read ``summary.csv`` / ``episodes.csv``: a contestant column and numeric measures."""
    df = read_csv(path)
    name = find_column(df.columns, NAME_COLUMNS)
    if name is None:
        raise DataFileError(
            path,
            f"has no contestant column (one of {list(NAME_COLUMNS)}); its columns are "
            f"{list(df.columns)[:12]}",
        )
    df[name] = df[name].astype(str)
    for col in df.columns:
        if col != name and df[col].dtype == object:
            converted = pd.to_numeric(df[col], errors="coerce")
            if converted.notna().sum() == df[col].notna().sum() and df[col].notna().any():
                df[col] = converted
    return df


def _read_bands(path: Path) -> pd.DataFrame:
    stats = [f"{k}_{q}" for k in BANDS_SERIES for q in ("mean", "p25", "p75")]
    df = read_csv(path, required=("step", *stats), numeric=("step", *stats), allow_empty=True)
    name, group = find_column(df.columns, NAME_COLUMNS), find_column(df.columns, GROUP_COLUMNS)
    if name is None:
        raise DataFileError(path, f"has no contestant column (one of {list(NAME_COLUMNS)})")
    return df.assign(
        contestant=df[name].astype(str), group=df[group].astype(str) if group else "all"
    )


def _read_metrics(path: Path) -> pd.DataFrame:
    numeric = ("step", "mid", "bid", "ask", "inventory", "cash", "realized", "unrealized")
    df = read_csv(path, required=("step",), numeric=(*numeric, "total", "sentiment", "episode"))
    return df.sort_values([c for c in ("episode", "step") if c in df.columns], kind="stable")


def _read_impact(path: Path) -> pd.DataFrame:
    numeric = ("size", "pre_mid", "post_mid", "impact")
    return read_csv(path, required=("size", "impact"), numeric=numeric, allow_empty=True)


def _being_written(folder: Path) -> bool:
    names = [c.name for c in folder.iterdir()]
    return ".lock" in names and all(n.startswith(".") for n in names)


def list_exports(root: Path) -> list[Path]:
    """The export folders in ``root``, newest first (timestamps sort by name); [] if none.

    A folder that holds a lock file and nothing visible is an export still being written
    (``evaluate.py`` keeps such a placeholder while the run goes on) and is left out.
    """
    if not root.is_dir():
        return []
    folders = [
        p
        for p in root.iterdir()
        if p.is_dir()
        and not p.name.startswith(".")
        and p.name != "latest"
        and not _being_written(p)
    ]
    return sorted(folders, key=lambda p: (p.name, p.stat().st_mtime), reverse=True)


def resolve_latest(root: Path) -> tuple[Path | None, str | None]:
    """The export that ``root/latest`` points to, else the newest export.

    Returns:
        ``(folder or None, note)``: the note (or None) says why ``latest`` was not used.
    """
    latest = root / "latest"
    note = None
    if latest.is_dir():
        return latest.resolve(), None
    if latest.is_symlink():
        note = f"{latest} is a broken link (to {os.readlink(latest)})"
    elif latest.is_file():
        try:
            name = latest.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            name = ""
            note = f"{latest} cannot be read ({exc})"
        if name:
            target = Path(name) if Path(name).is_absolute() else root / name
            if target.is_dir():
                return target, None
            note = f"{latest} names {name!r}, which is not a folder"
        elif note is None:
            note = f"{latest} is empty"
    exports = list_exports(root)
    if exports and note is not None:
        note += f"; showing the newest export, {exports[0].name}"
    return (exports[0] if exports else None), note


def resolve_export(root: Path, choice: str | None) -> tuple[Path | None, str | None]:
    """The folder for a user's ``choice``: ``"latest"``/empty, a name in ``root`` or a path.

    A typed path is only accepted inside the configured roots (``root``, and the runs root):
    the folder box of a served dashboard must not open arbitrary server paths.

    Raises:
        DashboardError: If the chosen folder lies outside the configured roots.
    """
    if not choice or choice == "latest":
        return resolve_latest(root)
    path = Path(choice).expanduser()
    if not path.is_absolute() and not path.exists():
        path = root / choice
    return inside_roots(path, (root, runs_root())), None


def load_export(folder: Path) -> ExportData:
    """Read every file of an export folder that can be read.

    Raises:
        DashboardError: If ``folder`` is missing, not a folder, or holds no export file at all.
    """
    if not folder.exists():
        raise DashboardError(f"export folder {folder} does not exist")
    if not folder.is_dir():
        raise DashboardError(f"{folder} is not a folder")
    data = ExportData(folder=folder)
    for attr in ("summary", "episodes"):
        path = folder / f"{attr}.csv"
        if path.is_file():
            try:
                setattr(data, attr, _read_named_table(path))
            except DataFileError as exc:
                data.problems.append(str(exc))
    if (folder / BANDS_FILE).is_file():
        try:
            data.bands = _read_bands(folder / BANDS_FILE)
        except DataFileError as exc:
            data.problems.append(str(exc))
    for child in sorted(folder.iterdir()):
        if child.name.lower() == "report.pdf":
            data.report = child
        elif child.name in TEXT_FILES and child.is_file():
            data.texts.append(child)
    plots = folder / "plots"
    data.images = sorted(
        p
        for d in (folder, plots)
        if d.is_dir()
        for p in d.iterdir()
        if p.is_file() and p.suffix.lower() in _IMAGE_SUFFIXES
    )
    for sub in _contestant_folders(folder):
        contestant = _load_contestant(sub, folder, data.problems)
        if contestant is not None:
            data.contestants[contestant.name] = contestant
    if (
        data.summary is None
        and data.episodes is None
        and not data.contestants
        and not data.problems
    ):
        raise DashboardError(
            f"{folder} holds no summary.csv, episodes.csv or contestant folder with "
            "MM1_metrics.csv: is it an evaluate.py export?"
        )
    return data


def _contestant_folders(folder: Path, max_depth: int = 3) -> list[Path]:
    """Sub-folders (at most ``max_depth`` levels down) holding a maker's metrics or impact file.

    A contestant folder may sit directly in the export (``<policy>/``) or deeper, e.g. one per
    regime (``contestants/<policy>/<regime>/``, evaluate.py's layout); its name is then the
    relative path without a leading ``contestants/``.
    """
    names = {f"{m}_{kind}.csv" for m in MAKERS for kind in ("metrics", "market_impact")}
    names.add(MARKET_IMPACT_FILE)
    found: list[Path] = []
    level = [folder]
    for _ in range(max_depth):
        nxt = []
        for d in level:
            for child in sorted(d.iterdir()):
                if child.is_dir() and not child.name.startswith(".") and not child.is_symlink():
                    if any((child / n).is_file() for n in names):
                        found.append(child)
                    nxt.append(child)
        level = nxt
    return found


def _contestant_name(folder: Path, export: Path) -> str:
    parts = folder.relative_to(export).parts
    if len(parts) > 1 and parts[0] == CONTESTANTS_DIR:
        parts = parts[1:]
    return "/".join(parts)


def _load_contestant(folder: Path, export: Path, problems: list[str]) -> ContestantData | None:
    found = False
    c = ContestantData(name=_contestant_name(folder, export), folder=folder)
    market = folder / MARKET_IMPACT_FILE
    if market.is_file():
        found = True
        try:
            c.impact[MARKET] = _read_impact(market)
        except DataFileError as exc:
            problems.append(str(exc))
    for maker in MAKERS:
        for kind, reader, store in (
            ("metrics", _read_metrics, c.metrics),
            ("market_impact", _read_impact, c.impact),
        ):
            path = folder / f"{maker}_{kind}.csv"
            if path.is_file():
                found = True
                try:
                    store[maker] = reader(path)
                except DataFileError as exc:
                    problems.append(str(exc))
    c.images = sorted(p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
    return c if found else None


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
