"""The figures and ``report.pdf`` of ``evaluate.py --env-id`` (:mod:`mm_gym.evaluation.venues`).

Per regime: ``attribution_<regime>`` (mm1's PnL parts per venue, the multi-venue tournament's
:func:`~mm_gym.multivenue.tournament.attribution_figure`), ``fill_share_<regime>`` (each
maker's filled lots split over the venues), ``router_<regime>`` (the share of episodes in which
each maker quoted each venue, step by step: the router's choices over time) and, on a portfolio,
``risk_<regime>`` (VaR-limit breaches, hedges, the overlay's cost and the VaRs per maker).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mm_gym.evaluation.export import safe_name

if TYPE_CHECKING:
    from mm_gym.evaluation.venues import VenuePlan

__all__ = ["ROUTER_SMOOTH_STEPS", "venue_figures", "write_venue_report"]

ROUTER_SMOOTH_STEPS = 20
"""The router figure's lines are rolling means over this many steps (the CSV is unsmoothed)."""


def _slot(asset: str, venue: str, portfolio: bool) -> str:
    return f"{asset}.{venue}" if portfolio else venue


def _grid(n: int, width: float, height: float, cols: int = 3) -> tuple[Any, np.ndarray]:
    """A figure with ``n`` panels, at most ``cols`` a row (the unused ones hidden)."""
    from matplotlib.figure import Figure

    cols = min(cols, n)
    rows = -(-n // cols)
    fig = Figure(figsize=(width * cols, height * rows + 0.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes


def fill_share_figure(venues: pd.DataFrame, portfolio: bool) -> Any:
    """Each maker's filled lots split over the venues (stacked horizontal bars, sum 1)."""
    from matplotlib.figure import Figure

    slot = [_slot(a, v, portfolio) for a, v in zip(venues.asset, venues.venue, strict=True)]
    share = venues.assign(slot=slot).pivot_table(
        index="contestant", columns="slot", values="fill_share", aggfunc="sum", sort=False
    )
    fig = Figure(figsize=(8.5, 1.0 + 0.45 * len(share)), layout="constrained")
    ax = fig.subplots()
    left = np.zeros(len(share))
    for name in dict.fromkeys(slot):
        ax.barh(list(share.index), share[name], left=left, label=name)
        left += share[name].to_numpy()
    ax.set_xlim(0.0, 1.0)
    ax.invert_yaxis()
    ax.set_xlabel("share of the maker's filled lots")
    ax.legend(title="venue", fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle("Fill share per venue")
    return fig


def router_figure(router: pd.DataFrame, portfolio: bool) -> Any:
    """Per maker, the share of episodes quoting each venue at each step (smoothed)."""
    names = list(dict.fromkeys(router.contestant))
    fig, axes = _grid(len(names), 4.2, 3.0)
    for ax, name in zip(axes, names, strict=False):
        g = router[router.contestant == name]
        for (asset, venue), h in g.groupby(["asset", "venue"], sort=False):
            share = h.quote_share.rolling(ROUTER_SMOOTH_STEPS, min_periods=1).mean()
            ax.plot(h.step, share, label=_slot(asset, venue, portfolio), linewidth=1.0)
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("step")
        ax.set_ylabel("share of episodes quoting")
    axes[0].legend(title="venue", fontsize=7)
    fig.suptitle(
        f"Router choices over time: venues quoted (not parked at +1), "
        f"{ROUTER_SMOOTH_STEPS}-step rolling mean"
    )
    return fig


def risk_figure(makers: pd.DataFrame) -> Any:
    """A portfolio's risk per maker: breaches, hedges, the overlay's cost, the VaRs."""
    fig, axes = _grid(4, 5.0, 3.0, cols=2)
    panels = (
        ("var_breaches", "steps ending above the VaR limit"),
        ("hedges", "steps the overlay traded"),
        ("hedge_cost", "hedging cost (currency)"),
    )
    names = list(makers.contestant)
    for ax, (column, label) in zip(axes, panels, strict=False):
        ax.bar(names, makers[column])
        ax.set_ylabel(label)
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
    x = np.arange(len(names))
    for j, (column, label) in enumerate(
        (("mean_var", "delta-normal VaR (mean)"), ("hist_var", "historical VaR (end)"),
         ("hist_es", "historical ES (end)"))
    ):  # fmt: skip
        axes[3].bar(x + (j - 1) * 0.27, makers[column], 0.27, label=label)
    axes[3].set_xticks(x, names, rotation=30, fontsize=7)
    axes[3].set_ylabel("currency")
    axes[3].legend(fontsize=7)
    fig.suptitle("Portfolio risk per maker (means per episode)")
    return fig


def venue_figures(
    tables: dict[str, pd.DataFrame], router: pd.DataFrame, plan: VenuePlan
) -> dict[str, Any]:
    """Every figure of the run, by file stem (module docstring)."""
    from mm_gym.multivenue.tournament import attribution_figure

    portfolio = plan.portfolio is not None
    figs = {}
    for regime in plan.regimes:
        key = safe_name(regime)
        venues = tables["venues"][tables["venues"].regime == regime]
        slots = [_slot(a, v, portfolio) for a, v in zip(venues.asset, venues.venue, strict=True)]
        att = venues.assign(venue=slots)
        if not portfolio:
            att = att.drop(columns=["taker_fees", "hedge_slippage"])
        figs[f"attribution_{key}"] = attribution_figure(att)
        figs[f"fill_share_{key}"] = fill_share_figure(venues, portfolio)
        figs[f"router_{key}"] = router_figure(router[router.regime == regime], portfolio)
        if portfolio:
            figs[f"risk_{key}"] = risk_figure(tables["makers"][tables["makers"].regime == regime])
    return figs


CAPTIONS = {
    "attribution": "mm1's PnL attribution per venue, mean per episode (currency): spread capture, "
    "maker rebates minus fees, (portfolio) the hedging overlay's taker fees and slippage, and "
    "inventory PnL sum to the venue's PnL (last bar), its cash plus inventory at the asset's "
    "consolidated mid.",
    "fill_share": "Share of each maker's filled lots on each venue (sums to 1 per maker).",
    "router": "Share of the episodes in which each maker quoted each venue at each step (not "
    f"parked at action +1), {ROUTER_SMOOTH_STEPS}-step rolling mean: the router's choices over "
    "time (flat at 1 for the makers quoting everywhere).",
    "risk": "Per maker, means per episode: steps ending with the delta-normal VaR above its "
    "limit, steps in which the hedging overlay traded, its cost (taker fees plus slippage from "
    "the mid), and the VaRs.",
}


def write_venue_report(
    folder: Any, figs: dict[str, Any], tables: dict[str, pd.DataFrame], plan: VenuePlan, args: Any
) -> None:
    """``plots/*.png`` and ``report.pdf`` into ``folder``: a section per regime."""
    from mm_gym.cli import changed_flags
    from mm_gym.evaluation.figures import write_figures
    from mm_gym.evaluation.report import write_sections_report
    from mm_gym.evaluation.venues import format_tables

    write_figures(folder, figs)
    setup = [
        ("environment", f"`{plan.env_id}` (default venues; mm2: each venue's built-in rival)"),
        ("presets (regimes)", ", ".join(f"`{r}`" for r in plan.regimes)),
        ("contestants (mm1)", ", ".join(f"`{c}`" for c in plan.names)),
        ("episodes", f"{plan.episodes:,} per contestant and regime, {plan.steps:,} steps each"),
        ("seeds", f"evaluation_seeds({plan.episodes}, {plan.seed}): common random numbers"),
        ("paired differences", f"against `{plan.baseline}` (summary.csv)"),
        ("command", f"`evaluate.py {' '.join(changed_flags(args))}`"),
    ]
    sections = []
    for regime in plan.regimes:
        items: list[Any] = [format_tables(tables, plan, [regime])]
        for stem, caption in CAPTIONS.items():
            fig = figs.get(f"{stem}_{safe_name(regime)}")
            if fig is not None:
                items.append((fig, caption))
        sections.append((f"{plan.env_id}: regime {regime}", items))
    contents = (
        "Contents: one section per regime: per maker, the means per episode of the reward, PnL, "
        "Sharpe, inventory and the PnL attribution (and a portfolio's risk), then per venue, "
        "then the figures."
    )
    write_sections_report(
        folder / "report.pdf", title=f"mm_gym evaluation: {plan.env_id}", setup=setup,
        contents=contents, sections=sections,
    )  # fmt: skip
