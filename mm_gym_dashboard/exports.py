"""Reading the export folders that ``evaluate.py`` writes (:mod:`.tables` derives what is drawn).

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

import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mm_gym.evaluation.figures import ATTRIBUTION_PARTS as FIGURE_PARTS
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
    "find_column",
    "list_exports",
    "load_export",
    "read_csv",
    "resolve_export",
    "resolve_latest",
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
