"""Altair charts of the dashboard, built from plain DataFrames (no Streamlit here).

Prices are in currency per unit of the asset, PnL in currency, inventory in lots, time in steps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeAlias

import altair as alt
import numpy as np
import pandas as pd

__all__ = [
    "COLUMN_TITLES",
    "TONE_COLORS",
    "VENUE_PART_COLORS",
    "AnyChart",
    "attribution_chart",
    "attribution_path_chart",
    "band_chart",
    "column_title",
    "distribution_chart",
    "event_kind",
    "impact_chart",
    "inventory_chart",
    "ladder_chart",
    "leaderboard_chart",
    "learning_curve_chart",
    "paths_chart",
    "pnl_chart",
    "price_chart",
    "sentiment_chart",
    "tone",
    "var_chart",
]

AnyChart: TypeAlias = (
    alt.Chart | alt.LayerChart | alt.VConcatChart | alt.HConcatChart | alt.FacetChart
)
"""What the chart builders return (all accepted by ``st.altair_chart``)."""

_HEIGHT = 260
_LEGEND = alt.Legend(labelLimit=320)
_PARTS = {
    "spread capture": "#43a047",
    "inventory mark-to-market": "#fb8c00",
    "fees and rebates": "#1e88e5",
    "total": "#212121",
}
VENUE_PART_COLORS = {**_PARTS, "hedge taker fees": "#8e24aa", "hedge slippage": "#e53935"}
"""Colours of the parts of a multi-venue export (``venues.csv``): the single-venue ones and the
hedging overlay's two."""
_SERIES_COLORS = {
    "mid": "#9aa0a6",
    "fundamental": "#f2c14e",
    "mm1 bid": "#2e7d32",
    "mm1 ask": "#c62828",
    "mm2 bid": "#81c784",
    "mm2 ask": "#ef9a9a",
}
_EVENT_COLORS = {"shock": "#d32f2f", "regime": "#7e57c2"}
_REGIME_COLORS = {"mean_reverting": "#90caf9", "trending": "#ffcc80", "volatile": "#ef9a9a"}
TONE_COLORS: dict[str, str] = {"positive": "#2e7d32", "neutral": "#757575", "negative": "#c62828"}
"""Colour of a headline by the sign of its score (chart points and the page's feed)."""


def tone(score: float) -> str:
    """``"positive"``, ``"negative"`` or ``"neutral"`` (zero or NaN): the sign of a score."""
    return "positive" if score > 0 else "negative" if score < 0 else "neutral"


def _scale(mapping: dict[str, str], domain: Sequence[str] | None = None) -> alt.Scale:
    keys = list(mapping) if domain is None else [k for k in mapping if k in domain]
    return alt.Scale(domain=keys, range=[mapping[k] for k in keys])


def event_kind(event: str) -> str | None:
    """``"shock"``, ``"regime"`` or None (not marked) for one event label.

    Labels are those of the live market (``"shock"``, ``"regime → trending"``) and of the
    export traces (``"shock"``, ``"regime_switch"``; ``"news"`` and ``"one_sided"`` are too
    frequent to mark).
    """
    e = event.strip().lower()
    if e.startswith("shock"):
        return "shock"
    if e.startswith("regime"):
        return "regime"
    return None


def _event_rules(events: pd.DataFrame | None) -> alt.Chart | None:
    """Vertical rules at the ``step`` of each shock or regime change in ``events``.

    ``events`` has columns ``step`` and ``event``; an event may hold several labels joined by
    ``;`` (export traces).
    """
    if events is None or events.empty:
        return None
    ev = events[["step", "event"]].copy()
    ev["event"] = ev["event"].astype(str).str.split(";")
    ev = ev.explode("event")
    ev["kind"] = ev["event"].map(event_kind)
    ev = ev.dropna(subset=["kind"]).drop_duplicates(["step", "kind"])
    if ev.empty:
        return None
    return (
        alt.Chart(ev)
        .mark_rule(strokeDash=[4, 3], opacity=0.55)
        .encode(
            x="step:Q",
            color=alt.Color("kind:N", scale=_scale(_EVENT_COLORS), title="event"),
            tooltip=["step:Q", "event:N"],
        )
    )


def _with_events(chart: AnyChart, events: pd.DataFrame | None) -> AnyChart:
    rules = _event_rules(events)
    if rules is None:
        return chart
    return alt.layer(chart, rules).resolve_scale(color="independent")


def price_chart(history: pd.DataFrame, events: pd.DataFrame | None = None) -> AnyChart:
    """Mid, fundamental and both makers' quotes per step, with events as dashed rules."""
    cols = {
        "mid": "mid",
        "fundamental": "fundamental",
        "mm1_bid": "mm1 bid",
        "mm1_ask": "mm1 ask",
        "mm2_bid": "mm2 bid",
        "mm2_ask": "mm2 ask",
    }
    long = history[["step", *cols]].rename(columns=cols).melt("step", var_name="series")
    long = long.dropna()
    lines = (
        alt.Chart(long, title="Price: mid, fundamental and quotes")
        .mark_line(interpolate="step-after", strokeWidth=1.5, point=len(history) == 1)
        .encode(
            x=_step_x(None),
            y=alt.Y("value:Q", title="price", scale=alt.Scale(zero=False)),
            color=alt.Color("series:N", scale=_scale(_SERIES_COLORS), title=None),
            strokeDash=alt.condition(
                alt.datum.series == "fundamental", alt.value([5, 3]), alt.value([1, 0])
            ),
            tooltip=["step:Q", "series:N", alt.Tooltip("value:Q", format=".4f")],
        )
        .properties(height=_HEIGHT + 40)
    )
    if events is not None and not events.empty:
        events = events[events["step"].between(history["step"].min(), history["step"].max())]
    return _with_events(lines, events)


def _step_x(horizon: int | None, title: str = "step", field: str = "step") -> alt.X:
    """The step axis: integer labels, and the whole episode ``[0, horizon]`` when given."""
    scale = alt.Scale(domain=[0, horizon]) if horizon else alt.Undefined
    return alt.X(f"{field}:Q", title=title, scale=scale, axis=alt.Axis(format="d"))


def _numbers(fmt: str, *fields: str) -> list[alt.Tooltip]:
    """Tooltips of the quantitative ``fields``, each shown with the d3 format ``fmt``."""
    return [alt.Tooltip(f, format=fmt) for f in fields]


def _decimals(tick_size: float) -> int:
    return max(0, min(8, math.ceil(-math.log10(tick_size) - 1e-9)))


def ladder_chart(
    levels: pd.DataFrame, quotes: pd.DataFrame, mid: float, tick_size: float = 0.01
) -> AnyChart:
    """The depth ladder: background lots per price (bids green, asks red), makers' quotes named.

    Args:
        levels: Columns ``price``, ``lots``, ``side`` (:meth:`LiveMarket.book`).
        quotes: Columns ``price``, ``maker``; each maker's quote is named beside its price.
        mid: The mid (in the title).
        tick_size: Price of one tick (sets the decimals shown).
    """
    dec = _decimals(tick_size)
    levels = levels.assign(label=levels["price"].map(lambda p: f"{p:.{dec}f}"))
    order = sorted(levels["label"].unique(), key=float, reverse=True)
    y = alt.Y("label:O", sort=order, title="price", axis=alt.Axis(labelOverlap=False))
    longest = max(1, int(levels["lots"].max()))
    x_scale = alt.Scale(domain=[0, longest * 1.7])
    bars = (
        alt.Chart(levels, title=f"Book around the mid {mid:.{dec + 1}f}")
        .mark_bar()
        .encode(
            x=alt.X("lots:Q", title="background lots", scale=x_scale),
            y=y,
            color=alt.Color(
                "side:N", scale=alt.Scale(domain=["bid", "ask"], range=["#43a047", "#e53935"])
            ),
            tooltip=["label:O", "side:N", "lots:Q"],
        )
        .properties(height=18 * len(order) + 20)
    )
    if quotes.empty:
        return bars
    q = quotes.assign(label=quotes["price"].map(lambda p: f"{p:.{dec}f}"))
    q = q[q["label"].isin(order)]
    q = q.groupby("label", as_index=False)["maker"].agg(", ".join).assign(x=longest * 1.05)
    marks = (
        alt.Chart(q)
        .mark_text(align="left", fontWeight="bold", color="#37474f")
        .encode(y=y, x=alt.X("x:Q", scale=x_scale), text="maker:N", tooltip=["label:O", "maker:N"])
    )
    return alt.layer(bars, marks)


def inventory_chart(
    history: pd.DataFrame,
    limits: tuple[int, int],
    events: pd.DataFrame | None = None,
    horizon: int | None = None,
) -> AnyChart:
    """Both makers' inventories (lots) per step, with mm1's +-limit as rules."""
    long = history[["step", "mm1_inventory", "mm2_inventory"]].rename(
        columns={"mm1_inventory": "mm1", "mm2_inventory": "mm2"}
    )
    long = long.melt("step", var_name="maker", value_name="lots")
    lines = (
        alt.Chart(long, title="Inventory (lots)")
        .mark_line(interpolate="step-after", point=len(history) == 1)
        .encode(
            x=_step_x(horizon),
            y=alt.Y("lots:Q", title="lots"),
            color=alt.Color("maker:N", scale=alt.Scale(range=["#1e88e5", "#fb8c00"])),
            tooltip=["step:Q", "maker:N", "lots:Q"],
        )
        .properties(height=_HEIGHT)
    )
    lim = pd.DataFrame({"lots": [limits[0], -limits[0]], "what": ["+limit", "-limit"]})
    rules = alt.Chart(lim).mark_rule(color="#9e9e9e", strokeDash=[2, 2]).encode(y="lots:Q")
    return _with_events(alt.layer(lines, rules), events)


def pnl_chart(
    history: pd.DataFrame, events: pd.DataFrame | None = None, horizon: int | None = None
) -> AnyChart:
    """mm1's realized, unrealized and total PnL, and mm2's total, per step (currency)."""
    cols = {
        "mm1_realized": "mm1 realized",
        "mm1_unrealized": "mm1 unrealized",
        "mm1_total": "mm1 total",
        "mm2_total": "mm2 total",
    }
    long = history[["step", *cols]].rename(columns=cols).melt("step", var_name="series")
    lines = (
        alt.Chart(long, title="PnL (currency)")
        .mark_line(point=len(history) == 1)
        .encode(
            x=_step_x(horizon),
            y=alt.Y("value:Q", title="PnL"),
            color=alt.Color(
                "series:N",
                scale=alt.Scale(
                    domain=list(cols.values()), range=["#43a047", "#8e24aa", "#1e88e5", "#fb8c00"]
                ),
                title=None,
            ),
            tooltip=["step:Q", "series:N", alt.Tooltip("value:Q", format=".2f")],
        )
        .properties(height=_HEIGHT)
    )
    return _with_events(lines, events)


def _regime_spans(history: pd.DataFrame) -> pd.DataFrame:
    h = history[["step", "regime"]]
    start = h["regime"].ne(h["regime"].shift())
    spans = h[start].copy()
    spans["end"] = spans["step"].shift(-1).fillna(h["step"].iloc[-1] + 1)
    return spans.rename(columns={"step": "start"})


def sentiment_chart(
    history: pd.DataFrame,
    events: pd.DataFrame | None = None,
    horizon: int | None = None,
    headlines: pd.DataFrame | None = None,
) -> AnyChart:
    """Observed sentiment per step over coloured bands of the (hidden) regime.

    ``headlines`` (columns ``step``, ``score``, ``text``; e.g.
    :meth:`~mm_gym_dashboard.live.LiveMarket.headlines`) adds one point per headline at its
    score, coloured by its sign.
    """
    spans = _regime_spans(history)
    bands = (
        alt.Chart(spans)
        .mark_rect(opacity=0.25)
        .encode(
            x=_step_x(horizon, field="start"),
            x2="end:Q",
            color=alt.Color("regime:N", scale=_scale(_REGIME_COLORS), title="regime"),
            tooltip=["regime:N", "start:Q", "end:Q"],
        )
    )
    line = (
        alt.Chart(history[["step", "sentiment"]], title="Sentiment (observed) and regime")
        .mark_line(color="#37474f", point=len(history) == 1)
        .encode(
            x=_step_x(horizon),
            y=alt.Y("sentiment:Q", scale=alt.Scale(domain=[-1, 1])),
            tooltip=["step:Q", alt.Tooltip("sentiment:Q", format=".3f")],
        )
        .properties(height=_HEIGHT)
    )
    if headlines is None or headlines.empty:
        return _with_events(alt.layer(bands, line), events)
    points = headlines[["step", "score", "text"]].assign(tone=[tone(x) for x in headlines["score"]])
    dots = (
        alt.Chart(points)
        .mark_point(filled=True, size=45)
        .encode(
            x=_step_x(horizon),
            y=alt.Y("score:Q", scale=alt.Scale(domain=[-1, 1])),
            color=alt.Color("tone:N", scale=_scale(TONE_COLORS), title="headline"),
            tooltip=["step:Q", alt.Tooltip("score:Q", format="+.3f"), "text:N"],
        )
    )
    return _with_events(alt.layer(bands, line, dots).resolve_scale(color="independent"), events)


def var_chart(path: pd.DataFrame, level: float, horizon: int | None = None) -> AnyChart:
    """mm1's one-step inventory VaR per step against the VaR at its inventory limit."""
    long = path.melt("step", var_name="series")
    return (
        alt.Chart(long, title=f"One-step {level:.0%} VaR of mm1's inventory vs its limit")
        .mark_line()
        .encode(
            x=_step_x(horizon),
            y=alt.Y("value:Q", title="VaR (currency)"),
            color=alt.Color(
                "series:N",
                scale=alt.Scale(domain=["VaR", "VaR at limit"], range=["#e53935", "#9e9e9e"]),
                title=None,
            ),
            strokeDash=alt.condition(
                alt.datum.series == "VaR at limit", alt.value([4, 3]), alt.value([1, 0])
            ),
            tooltip=["step:Q", "series:N", alt.Tooltip("value:Q", format=".2f")],
        )
        .properties(height=_HEIGHT - 40)
    )


# --------------------------------------------------------------------------- results


def leaderboard_chart(board: pd.DataFrame, metric: str) -> AnyChart:
    """Mean of ``metric`` per contestant with its confidence interval, one row per group."""
    order = board.groupby("contestant")["mean"].mean().sort_values(ascending=False).index.tolist()
    base = alt.Chart(board).encode(
        y=alt.Y("contestant:N", sort=order, title=None),
        color=alt.Color("group:N", title="regime"),
        yOffset="group:N",
        tooltip=[
            "contestant:N",
            "group:N",
            *_numbers(".3f", "mean:Q", "ci_low:Q", "ci_high:Q"),
            "n:Q",
        ],
    )
    points = base.mark_point(filled=True, size=70).encode(x=alt.X("mean:Q", title=metric))
    bars = base.mark_rule(strokeWidth=2).encode(x="ci_low:Q", x2="ci_high:Q")
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(color="#bdbdbd").encode(x="x:Q")
    n_rows = max(1, len(order)) * max(1, board["group"].nunique())
    return alt.layer(zero, bars, points).properties(
        title=f"Mean {metric} with confidence interval", height=min(600, 40 + 22 * n_rows)
    )


def attribution_chart(parts: pd.DataFrame, colors: dict[str, str] | None = None) -> AnyChart:
    """Stacked mean PnL parts per contestant (currency), with their sum, the total, as a tick.

    ``parts``: columns ``contestant``, ``part``, ``value``
    (:func:`~mm_gym_dashboard.tables.attribution`, or ``venue_views``'s ``parts`` with
    ``colors=VENUE_PART_COLORS``).
    """
    colors = _PARTS if colors is None else colors
    totals = parts.groupby("contestant", as_index=False, sort=False)["value"].sum()
    bars = (
        alt.Chart(parts, title="PnL attribution: mean per episode (parts sum to the total)")
        .mark_bar()
        .encode(
            x=alt.X("contestant:N", title=None, axis=alt.Axis(labelAngle=0, labelLimit=200)),
            y=alt.Y("sum(value):Q", title="mean PnL per episode (currency)"),
            color=alt.Color(
                "part:N", title=None, scale=_scale(colors, parts["part"].unique().tolist())
            ),
            tooltip=["contestant:N", "part:N", alt.Tooltip("value:Q", format=".2f")],
        )
    )
    ticks = (
        alt.Chart(totals)
        .mark_tick(color="black", thickness=3, size=30)
        .encode(
            x="contestant:N",
            y="value:Q",
            tooltip=["contestant:N", alt.Tooltip("value:Q", format=".2f", title="total")],
        )
    )
    return alt.layer(bars, ticks).properties(height=_HEIGHT + 40)


def attribution_path_chart(paths: pd.DataFrame) -> AnyChart:
    """Each contestant's sample episode: cumulative attribution parts and the total, per step.

    ``paths``: columns ``contestant``, ``step``, ``part``, ``value``
    (:func:`~mm_gym_dashboard.tables.attribution_paths`); one panel per contestant, one scale.
    """
    return (
        alt.Chart(paths)
        .mark_line()
        .encode(
            x=alt.X("step:Q", title="step", axis=alt.Axis(format="d")),
            y=alt.Y("value:Q", title="cumulative PnL (currency)"),
            color=alt.Color("part:N", title=None, scale=_scale(_PARTS)),
            strokeWidth=alt.condition(alt.datum.part == "total", alt.value(2.5), alt.value(1.3)),
            tooltip=["contestant:N", "step:Q", "part:N", alt.Tooltip("value:Q", format=".2f")],
        )
        .properties(width=220, height=_HEIGHT - 60)
        .facet(
            facet=alt.Facet(
                "contestant:N", title=None, sort=list(dict.fromkeys(paths["contestant"]))
            ),
            columns=3,
        )
        .properties(
            title="PnL attribution of the sample episode (cumulative; parts sum to the total)"
        )
    )


def band_chart(band: pd.DataFrame, title: str, y_title: str) -> AnyChart:
    """Mean per step with its 25-75 % band, one colour per contestant.

    ``band``: columns ``contestant``, ``step``, ``mean``, ``p25``, ``p75``
    (:func:`~mm_gym_dashboard.tables.bands`).
    """
    color = alt.Color("contestant:N", title="contestant", legend=_LEGEND,
                      scale=alt.Scale(scheme="tableau10"),
                      sort=list(dict.fromkeys(band["contestant"])))  # fmt: skip
    x = alt.X("step:Q", title="step", axis=alt.Axis(format="d"))
    area = (
        alt.Chart(band)
        .mark_area(opacity=0.18)
        .encode(x=x, y=alt.Y("p25:Q", title=y_title), y2="p75:Q", color=color)
    )
    line = (
        alt.Chart(band)
        .mark_line(strokeWidth=1.8)
        .encode(
            x=x,
            y=alt.Y("mean:Q", title=y_title),
            color=color,
            tooltip=[
                "contestant:N",
                "step:Q",
                alt.Tooltip("mean:Q", format=".3f"),
                alt.Tooltip("p25:Q", format=".3f", title="25 %"),
                alt.Tooltip("p75:Q", format=".3f", title="75 %"),
            ],
        )
    )
    zero = alt.Chart(pd.DataFrame({"y": [0.0]})).mark_rule(color="#9e9e9e").encode(y="y:Q")
    return alt.layer(area, zero, line).properties(title=title, height=_HEIGHT + 60)


def paths_chart(paths: pd.DataFrame, title: str, y_title: str) -> AnyChart:
    """Per-step lines of each contestant (:func:`~mm_gym_dashboard.tables.step_paths`)."""
    lines = (
        alt.Chart(paths, title=title)
        .mark_line()
        .encode(
            x="step:Q",
            y=alt.Y("value:Q", title=y_title),
            color=alt.Color("contestant:N", title=None, legend=_LEGEND),
            tooltip=["contestant:N", "step:Q", alt.Tooltip("value:Q", format=".3f")],
        )
        .properties(height=_HEIGHT + 40)
    )
    if "event" not in paths.columns:
        return lines
    ev = paths.loc[paths["event"].astype(str).str.len() > 0, ["step", "event"]]
    ev = ev.drop_duplicates()
    return _with_events(lines, ev if not ev.empty else None)


def impact_chart(points: pd.DataFrame, color: str = "contestant") -> AnyChart:
    """Market-order size against the mid's move (impact), one point per order.

    Args:
        points: Columns ``contestant``, ``size``, ``impact`` and optionally ``side``, ``kind``
            (:func:`~mm_gym_dashboard.tables.impact_points`).
        color: The column that colours the points (``contestant``, ``side`` or ``kind``).
    """
    tips = ("contestant", "step", "kind", "side", "size", "pre_mid", "post_mid", "impact")
    enc: dict[str, object] = {
        "x": alt.X("size:Q", title="market order size (lots)"),
        "y": alt.Y("impact:Q", title="impact: side x (post mid - pre mid)"),
        "color": alt.Color(f"{color}:N", title=color, legend=_LEGEND),
        "tooltip": [c for c in tips if c in points.columns],
    }
    if "side" in points.columns and color != "side":
        enc["shape"] = alt.Shape("side:N")
    return (
        alt.Chart(points, title="Market impact per market order")
        .mark_point(opacity=0.55, filled=True, size=35)
        .encode(**enc)
        .properties(height=_HEIGHT + 60)
    )


COLUMN_TITLES: dict[str, str] = {
    "total_pnl": "episode PnL (currency)",
    "pnl": "episode PnL (currency)",
    "episode_reward": "episode reward (currency)",
    "sharpe": "Sharpe ratio (per episode, not annualised)",
    "max_drawdown": "max drawdown (currency)",
    "mean_abs_inventory": "mean |inventory| (lots)",
    "frac_at_limit": "fraction of steps at the inventory limit",
    "fill_rate": "fills per step",
    "quoted_spread_ticks": "quoted spread (ticks)",
    "spread_capture": "spread capture (currency)",
    "inventory_pnl": "inventory mark-to-market (currency)",
    "fees": "fees and rebates (currency)",
    "inventory": "inventory q (lots)",
    "total": "mark-to-market PnL (currency)",
}
"""Readable names, with units, of the export's columns (README "Units and metrics")."""


def column_title(column: str) -> str:
    """The readable name of ``column`` (:data:`COLUMN_TITLES`), else the column itself."""
    return COLUMN_TITLES.get(column, column.replace("_", " "))


def distribution_chart(dist: pd.DataFrame, column: str) -> AnyChart:
    """Box plots of per-episode PnL per contestant, one panel per regime, on one scale.

    Boxes: quartiles; whiskers: 1.5 IQR; episodes beyond the whiskers are drawn as points but do
    not set the scale (it spans the whiskers of every panel), so one outlier cannot flatten the
    boxes; the tooltip gives the counts.
    """
    title = column_title(column)
    q = dist.groupby(["group", "contestant"])["pnl"].quantile(np.array([0.25, 0.75])).unstack()
    iqr = q[0.75] - q[0.25]
    lo, hi = float((q[0.25] - 1.5 * iqr).min()), float((q[0.75] + 1.5 * iqr).max())
    pad = 0.05 * (hi - lo or 1.0)
    box = (
        alt.Chart(dist)
        .mark_boxplot(extent=1.5, size=22, clip=True)
        .encode(
            x=alt.X("contestant:N", title=None, axis=alt.Axis(labelAngle=-30, labelLimit=200)),
            y=alt.Y("pnl:Q", title=title, scale=alt.Scale(domain=[lo - pad, hi + pad])),
            color=alt.Color("contestant:N", title=None, legend=None),
        )
        .properties(width=max(160, 70 * dist["contestant"].nunique()), height=_HEIGHT)
    )
    return box.facet(
        column=alt.Column("group:N", title=None, sort=list(dict.fromkeys(dist["group"])))
    ).properties(title=f"Distribution of {title} per contestant, by regime")


# --------------------------------------------------------------------------- training


def learning_curve_chart(curves: pd.DataFrame, tag: str, x: str = "step") -> AnyChart:
    """One tag's curves per run: the raw values faint, the smoothed values bold.

    Args:
        curves: Columns ``run``, ``step``, ``wall_time``, ``value``, ``smoothed``.
        tag: The tag (title).
        x: ``"step"`` or ``"wall_time"`` (then plotted as relative hours).
    """
    data = curves.copy()
    if x == "wall_time":
        data["hours"] = (
            data["wall_time"] - data.groupby("run")["wall_time"].transform("min")
        ) / 3600
        x_enc = alt.X("hours:Q", title="hours since the run's first log")
    else:
        x_enc = alt.X("step:Q", title="environment steps")
    base = alt.Chart(data, title=tag).encode(x=x_enc, color=alt.Color("run:N", title="run"))
    raw = base.mark_line(opacity=0.25).encode(y=alt.Y("value:Q", title=tag))
    smooth = base.mark_line(strokeWidth=2).encode(
        y="smoothed:Q",
        tooltip=["run:N", "step:Q", *_numbers(".4g", "value:Q", "smoothed:Q")],
    )
    return alt.layer(raw, smooth).properties(height=_HEIGHT)
