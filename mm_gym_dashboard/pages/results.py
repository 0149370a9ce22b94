"""The "Results" page: one ``evaluate.py`` export folder (default ``exports/latest``).

Leaderboard with confidence intervals, PnL attribution, equity curves and inventory bands (one
regime at a time, from ``bands.csv``), market-impact scatter, PnL distributions, the venues of
an ``evaluate.py --env-id`` export (per maker and venue, router choices over time), and the
export's own plots and report. The terms mean what the report's definitions page says
(:data:`mm_gym.evaluation.definitions.TERMS`). A file that cannot be read is named in a warning
and the rest is still shown.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import cast

import streamlit as st

from mm_gym.evaluation.definitions import TERMS
from mm_gym_dashboard import charts
from mm_gym_dashboard.exports import (
    BANDS_FILE,
    MAKERS,
    MARKET,
    ExportData,
    list_exports,
    load_export,
    read_csv,
    resolve_export,
)
from mm_gym_dashboard.paths import ENV_EXPORTS, DashboardError
from mm_gym_dashboard.tables import (
    attribution,
    attribution_paths,
    bands,
    groups,
    impact_points,
    leaderboard,
    metric_choices,
    name_column,
    pnl_distribution,
    step_paths,
    venue_views,
)

__all__ = ["render"]


def _fingerprint(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and modification times of the folder's files (the cache key)."""
    out = []
    for p in sorted(folder.rglob("*")):
        try:
            if p.is_file():
                s = p.stat()
                out.append((str(p.relative_to(folder)), s.st_size, s.st_mtime_ns))
        except OSError:
            continue
    return tuple(out)


@st.cache_data(max_entries=8, show_spinner="Reading the export…")
def _load(folder: str, fingerprint: tuple[tuple[str, int, int], ...]) -> ExportData:
    del fingerprint  # only part of the cache key: a changed file reloads the export
    return load_export(Path(folder))


def _choose_folder(root: Path) -> Path | None:
    exports = list_exports(root)
    names = ["latest", *(p.name for p in exports)]
    wanted = st.query_params.get("export", "latest")
    with st.sidebar:
        st.markdown("### Export")
        choice = st.selectbox(
            "Export folder",
            names,
            index=names.index(wanted) if wanted in names else 0,
            help=f"Folders in {root} (set {ENV_EXPORTS} to look elsewhere)",
            key="results_export",
        )
        custom = st.text_input("…or another folder", "", key="results_custom").strip()
    if not custom and not exports and not (root / "latest").exists():
        st.info(
            f"No evaluation exports in `{root.resolve()}` yet. Run `python evaluate.py` (it "
            f"writes `exports/<timestamp>/`), or set `{ENV_EXPORTS}` to a folder of exports, "
            "or type a folder in the sidebar."
        )
        return None
    folder, note = resolve_export(root, custom or choice)
    if note:
        st.warning(note)
    if folder is None:
        st.info(f"No export folder found in `{root}`.")
    return folder


def _choose_group(data: ExportData) -> str | None:
    """Sidebar choice of one regime / preset (None: every one)."""
    options = [g for g in groups(data) if g != "all"]
    if len(options) < 2:
        return None
    with st.sidebar:
        choice = st.selectbox(
            "Regime / preset",
            ["every", *options],
            format_func=lambda g: "every one (pooled)" if g == "every" else g,
            key="results_group",
        )
    return None if choice == "every" else choice


def _leaderboard_tab(data: ExportData, group: str | None) -> None:
    metrics = metric_choices(data)
    if not metrics:
        st.info("No numeric measure found in episodes.csv or summary.csv.")
    else:
        c1, c2 = st.columns([2, 1])
        metric = str(c1.selectbox("Rank by", metrics, key="results_metric"))
        level = float(
            cast(float, c2.selectbox("Confidence level", (0.95, 0.9, 0.99), key="results_level"))
        )
        board = leaderboard(data, metric, level=level)
        source = str(board["source"].iloc[0]) if len(board) else ""
        if group is not None:
            board = board[board["group"] == group]
        if board.empty:
            st.info(f"No {metric} for {group}.")
            return
        if board["ci_low"].isna().all():
            st.caption("No confidence intervals: fewer than 2 episodes and no CI columns.")
        st.altair_chart(charts.leaderboard_chart(board, metric))
        names = {
            "diff": "vs baseline",
            "diff_low": "vs baseline low",
            "diff_high": "vs baseline high",
        }
        st.dataframe(
            board.drop(columns="source").rename(columns=names),
            hide_index=True,
            column_config={
                c: st.column_config.NumberColumn(format="%.3f")
                for c in ("mean", "ci_low", "ci_high", *names.values())
            },
        )
        how = (
            "CIs and paired differences as evaluate.py computed them"
            if source.endswith("summary.csv")
            else f"CI: percentile bootstrap of the mean at {level:.0%}"
        )
        st.caption(f"From {source}; {how}.")
    if data.summary is not None:
        with st.expander("summary.csv as written by evaluate.py", expanded=not metrics):
            st.dataframe(data.summary, hide_index=True)


def _term(name: str) -> None:
    """The report's definition of a term, as a caption."""
    st.caption(f"**{name}** {TERMS[name]}")


def _choose_regime(data: ExportData, group: str | None, key: str) -> str:
    """A regime of the export, chosen in the tab (the sidebar's choice first); "all" if none."""
    options = [g for g in groups(data) if g != "all"]
    if data.bands is not None:
        options += [g for g in dict.fromkeys(data.bands["group"]) if g not in options]
    if not options:
        return "all"
    index = options.index(group) if group in options else 0
    return str(st.radio("Regime", options, index=index, horizontal=True, key=key))


def _attribution_tab(data: ExportData, group: str | None) -> None:
    _term("PnL attribution")
    found = attribution(data, group)
    if found is None:
        st.info(
            "No PnL attribution: episodes.csv and summary.csv have no spread_capture / "
            "inventory_pnl / fees columns and no MM1_metrics.csv has spread_capture / fees / "
            "total columns."
        )
    else:
        parts, source = found
        st.altair_chart(charts.attribution_chart(parts))
        table = parts.pivot_table(index="contestant", columns="part", values="value", sort=False)
        table["total"] = table.sum(axis=1)
        st.dataframe(table.round(3))
        st.caption(f"Mean per episode {'of ' + group if group else 'over every regime'}; from "
                   f"{source}.")  # fmt: skip
    regime = _choose_regime(data, group, "results_attr_regime")
    paths = attribution_paths(data, None if regime == "all" else regime)
    if not paths.empty:
        st.altair_chart(charts.attribution_path_chart(paths))
        st.caption(f"The sample episode of {regime} (mm1), as in the report.")


def _bands_tab(data: ExportData, group: str | None, series: str, key: str) -> None:
    """Equity curves (``series="pnl"``) or inventory bands of one regime, from bands.csv."""
    _term("Equity curve")
    regime = _choose_regime(data, group, f"{key}_regime")
    pnl = series == "pnl"
    if data.bands is None:
        st.info(
            f"This export has no {BANDS_FILE} (evaluate.py writes it since issue #18; rerun "
            "evaluate.py to get the mean and 25-75 % band over episodes). The sample episode's "
            "traces are below."
        )
    else:
        band = bands(data, series, regime)
        if band.empty:
            st.info(f"No rows of {regime} in {BANDS_FILE}.")
        else:
            what = "Equity curves" if pnl else "Inventory"
            y_title = charts.column_title("total" if pnl else "inventory")
            title = f"{what}: mean over episodes and 25-75 % band per contestant ({regime})"
            st.altair_chart(charts.band_chart(band, title, y_title))
            name = "mm1's mark-to-market PnL" if pnl else "mm1's inventory"
            st.caption(f"From {BANDS_FILE}: the line is the mean over episodes of {name}, the band "
                       "spans its 25 % and 75 % quantiles.")  # fmt: skip
    with st.expander("Sample episode traces", expanded=data.bands is None):
        column = "total" if pnl else "inventory"
        _paths_tab(data, None if regime == "all" else regime, column, key=key)


def _maker_and_episode(data: ExportData, key: str) -> tuple[str, object | None]:
    c1, c2 = st.columns(2)
    maker = str(c1.radio("Maker", MAKERS, horizontal=True, key=f"{key}_maker"))
    episodes: list[object] = []
    for c in data.contestants.values():
        m = c.metrics.get(maker)
        if m is not None and "episode" in m.columns:
            episodes += [e for e in m["episode"].dropna().unique().tolist() if e not in episodes]
    episode = c2.selectbox("Episode", episodes, key=f"{key}_episode") if episodes else None
    return maker, episode


def _paths_tab(data: ExportData, group: str | None, column: str, key: str) -> None:
    """One per-step column of the sample episode's traces, a line per contestant."""
    if not data.contestants:
        st.info("No contestant folders with MM1_metrics.csv / MM2_metrics.csv in this export.")
        return
    maker, episode = _maker_and_episode(data, key)
    paths = step_paths(data, column, maker, episode, group)
    if paths.empty:
        st.info(f"No {maker}_metrics.csv in this export has a {column!r} column.")
        return
    title = f"{charts.column_title(column)} of the sample episode ({maker})"
    st.altair_chart(charts.paths_chart(paths, title, charts.column_title(column)))
    labels = paths[["step", "event"]].drop_duplicates()["event"].astype(str).str.split(";")
    kinds = [charts.event_kind(e) for e in labels.explode().dropna()]
    if kinds.count("shock") or kinds.count("regime"):
        st.caption(
            f"Dashed rules: {kinds.count('shock')} shock steps and {kinds.count('regime')} "
            "regime switches (the traces' event column)."
        )


def _impact_tab(data: ExportData, group: str | None) -> None:
    sources = list(MAKERS)
    if any(MARKET in c.impact for c in data.contestants.values()):
        sources.append(MARKET)
    names = {
        MARKET: "every order",
        "MM1": "orders that filled MM1",
        "MM2": "orders that filled MM2",
    }
    maker = str(
        st.radio(
            "Market orders",
            sources,
            format_func=names.__getitem__,
            horizontal=True,
            key="results_impact_maker",
        )
    )
    points = impact_points(data, maker, group=group)
    if points.empty:
        file = "market_impact.csv" if maker == MARKET else f"{maker}_market_impact.csv"
        st.info(f"No {file} with rows in this export.")
        return
    options = [c for c in ("contestant", "kind", "side") if c in points.columns]
    color = str(st.radio("Colour by", options, horizontal=True, key="results_impact_color"))
    st.altair_chart(charts.impact_chart(points, color))
    stats = points.groupby("contestant").agg(
        orders=("impact", "size"),
        mean_size=("size", "mean"),
        mean_abs_impact=("impact", lambda s: s.abs().mean()),
    )
    st.dataframe(stats.round(4))


def _distribution_tab(data: ExportData, group: str | None) -> None:
    found = pnl_distribution(data)
    if found is None:
        st.info("No per-episode PnL: episodes.csv is missing or has no total_pnl / pnl column.")
        return
    dist, column = found
    if group is not None:
        dist = dist[dist["group"] == group]
    if dist.empty:
        st.info(f"No episodes of {group} in episodes.csv.")
        return
    st.altair_chart(charts.distribution_chart(dist, column))
    title = charts.column_title(column)
    table = dist.groupby(["group", "contestant"], sort=False)["pnl"].describe(
        percentiles=[0.05, 0.25, 0.5, 0.75, 0.95]
    )
    table = table.rename(columns={"count": "episodes"}).rename_axis(["regime", "contestant"])
    st.dataframe(table.round(2))
    st.caption(f"{title}: boxes quartiles, whiskers 1.5 IQR; the table's columns are its mean, "
               "standard deviation and percentiles over episodes.")  # fmt: skip


def _files_tab(data: ExportData) -> None:
    for path in data.texts:
        with st.expander(path.name, expanded=path.suffix == ".txt"):
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                st.warning(f"{path}: cannot be read ({exc})")
                continue
            if path.suffix == ".json":
                try:
                    st.json(json.loads(text), expanded=False)
                except json.JSONDecodeError as exc:
                    st.warning(f"{path}: not valid JSON ({exc})")
            else:
                st.code(text, language="text")
    scenarios = data.folder / "scenarios.csv"
    if scenarios.is_file():
        with st.expander("scenarios.csv (stress grid)"):
            try:
                st.dataframe(read_csv(scenarios), hide_index=True)
            except DashboardError as exc:
                st.warning(str(exc))
    if data.report is not None:
        st.download_button(
            "Download report.pdf",
            data.report.read_bytes(),
            file_name="report.pdf",
            mime="application/pdf",
            key="results_report",
        )
    images = list(data.images)
    for c in data.contestants.values():
        images += c.images
    if not images and data.report is None and not data.texts:
        st.info("No plots (PNG), report.pdf or leaderboard.txt in this export.")
    for path in images:
        try:
            st.image(str(path), caption=str(path.relative_to(data.folder)))
        except Exception as exc:  # PIL may raise anything on a corrupt image
            st.warning(f"{path}: cannot be shown as an image ({exc})")


def _venues_tab(data: ExportData, group: str | None) -> None:
    try:
        views = venue_views(data, group)
    except DashboardError as exc:
        st.warning(str(exc))
        return
    if views is None:
        st.info(
            "No venues.csv: this export is of the single-venue envs. `python evaluate.py "
            "--env-id mm_gym/MultiVenue-v0` (or `mm_gym/Portfolio-v0`) writes the per-venue "
            "tables."
        )
        return
    where = f"in {group}" if group and group != "all" else "over every regime"
    if "makers" in views:
        st.dataframe(views["makers"].round(3), hide_index=True)
        st.caption(f"Per maker, means per episode {where} (makers.csv): the parts sum to the PnL.")
    st.altair_chart(charts.attribution_chart(views["parts"], charts.VENUE_PART_COLORS))
    st.dataframe(views["venues"].round(3), hide_index=True)
    st.caption(
        f"Per maker and venue, means per episode {where} (venues.csv): the parts sum to the "
        "venue's PnL; fill_share is the venue's share of the maker's filled lots."
    )
    router = views.get("router")
    if router is not None and not router.empty:
        makers = list(dict.fromkeys(router["maker"]))
        maker = st.selectbox("Maker", makers, key="results_router_maker")
        chosen = router[router["maker"] == maker]
        st.altair_chart(charts.paths_chart(chosen, "Venues quoted over time", "share of episodes"))
        st.caption("Share of the episodes in which the maker quoted each venue at each step "
                   "(router.csv): the router's choices over time.")  # fmt: skip


TABS: dict[str, Callable[[ExportData, str | None], None]] = {
    "Leaderboard": _leaderboard_tab,
    "PnL attribution": _attribution_tab,
    "Equity curves": partial(_bands_tab, series="pnl", key="results_eq"),
    "Inventory": partial(_bands_tab, series="inventory", key="results_inv"),
    "Market impact": _impact_tab,
    "PnL distributions": _distribution_tab,
    "Venues": _venues_tab,
    "Files": lambda data, _group: _files_tab(data),
}
"""The page's tabs in order: title -> ``draw(data, group)``, called inside the tab."""


def _export_size(data: ExportData) -> str:
    """``"6 contestants x 3 regimes, 3,600 episodes (18 trace folders)"``, as far as known."""
    names = {n.split("/")[0] for n in data.contestants}
    table = data.episodes if data.episodes is not None else data.summary
    if table is not None:
        names = set(table[name_column(table)].astype(str))
    regimes = [g for g in groups(data) if g != "all"]
    text = f"{len(names)} contestant{'s' * (len(names) != 1)}"
    if regimes:
        text += f" x {len(regimes)} regime{'s' * (len(regimes) != 1)}"
    if data.episodes is not None:
        text += f", {len(data.episodes):,} episodes"
    if data.contestants:
        text += f" ({len(data.contestants)} sample-trace folders)"
    return text


def render(root: Path) -> None:
    """Draw the page for the exports in ``root``."""
    st.title("Results")
    folder = _choose_folder(root)
    if folder is None:
        return
    try:
        data = _load(str(folder), _fingerprint(folder) if folder.is_dir() else ())
    except DashboardError as exc:
        st.error(str(exc))
        return
    st.caption(f"Export `{folder}`: {_export_size(data)}")
    for problem in data.problems:
        st.warning(f"Skipped a file that cannot be read: {problem}")
    group = _choose_group(data)
    for tab, draw in zip(st.tabs(list(TABS)), TABS.values(), strict=True):
        with tab:
            draw(data, group)
