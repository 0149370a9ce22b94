"""Figures of a tournament, built with matplotlib's object API.

Every figure is a :class:`matplotlib.figure.Figure` made directly (no ``pyplot``, no backend
switch): nothing is registered in pyplot's global list of open figures, so a figure is freed as
soon as its last reference goes, and library users keep whatever backend they chose.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mm_gym.evaluation.export import safe_name

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from mm_gym.evaluation.rollout import Rollout, Tournament

__all__ = [
    "ATTRIBUTION_PARTS",
    "UNITS",
    "attribution_parts",
    "impact_bins",
    "make_figures",
    "write_figures",
]

_Colors = dict[str, Any]


UNITS = {"pnl": "PnL (currency)", "step": "step", "inventory": "inventory q (lots)"}
"""Axis labels shared by the figures (the units of README "Units and metrics")."""

ATTRIBUTION_PARTS: dict[str, str] = {
    "spread_capture": "spread capture",
    "inventory_mtm": "inventory mark-to-market",
    "fees": "fees and rebates",
}
"""The parts of the PnL attribution figure, in their stacking order; they sum to the total."""

_WIDTH = 13.0  # inches: every figure is this wide, so that the report shows them at one scale


def make_figures(tournament: Tournament) -> dict[str, Figure]:
    """Matplotlib figures of a tournament, keyed by file stem (``plots/<stem>.png``).

    Per setting: ``pnl_attribution_<setting>`` (each contestant's sample episode: cumulative
    spread capture, inventory mark-to-market and fees/rebates, which add up to the total PnL,
    drawn in black; one panel per contestant, one y-scale), ``inventory_paths_<setting>`` (the
    sample path and the 25-75 % and 5-95 % bands over episodes, one y-scale),
    ``market_impact_<setting>`` (signed mid move after a market order of the sample episodes,
    mean and 95 % CI per order-size bin, log-log, per kind of order) and
    ``equity_curves_<setting>`` (mean mark-to-market PnL and its 25-75 % band per contestant).
    Overall: ``pnl_distributions`` (box plots of episode PnL per contestant, one panel per
    setting, one y-scale). Every axis is labelled with its unit.
    """
    import matplotlib

    figs: dict[str, Figure] = {}
    settings = list(dict.fromkeys(r.setting for r in tournament.rollouts))
    policies = list(dict.fromkeys(r.policy for r in tournament.rollouts))
    cmap = matplotlib.colormaps["tab10"]
    colors = {p: cmap(i % 10) for i, p in enumerate(policies)}
    for s in settings:
        runs = [r for r in tournament.rollouts if r.setting == s]
        stem = safe_name(s)
        if any(r.traces for r in runs):
            figs[f"pnl_attribution_{stem}"] = _pnl_attribution(s, runs)
        figs[f"inventory_paths_{stem}"] = _inventory_paths(s, runs, colors)
        impact = _market_impact(s, runs)
        if impact is not None:
            figs[f"market_impact_{stem}"] = impact
        figs[f"equity_curves_{stem}"] = _equity_curves(s, runs, colors)
    figs["pnl_distributions"] = _pnl_distributions(tournament.episodes, settings, policies, colors)
    return figs


def attribution_parts(trace: pd.DataFrame) -> dict[str, np.ndarray]:
    """The cumulative PnL attribution of a sample-episode trace, per step, currency.

    ``spread_capture`` (the edge of the fills against the mid at each fill), ``fees`` (rebates
    received minus fees paid), ``inventory_mtm`` = total - spread capture - fees (the carry
    q_{t-1} x (mid_t - mid_{t-1}) plus the move from each fill to the step's close, as
    :func:`mm_gym.metrics.pnl_attribution_from_steps` defines inventory PnL) and ``total``
    (mark-to-market PnL): ``spread_capture + inventory_mtm + fees == total`` at every step.
    """
    total = trace["total"].to_numpy(dtype=np.float64)
    spread = trace["spread_capture"].to_numpy(dtype=np.float64)
    fees = trace["fees"].to_numpy(dtype=np.float64)
    return {"spread_capture": spread, "inventory_mtm": total - spread - fees, "fees": fees,
            "total": total}  # fmt: skip


def _grid(n: int, height: float, **kw: Any) -> tuple[Figure, Any]:
    """A figure ``_WIDTH`` wide with ``n`` panels, at most three a row; spare panels are off."""
    from matplotlib.figure import Figure

    ncols = min(3, n)
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(_WIDTH, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, axes


def _pnl_attribution(setting: str, runs: list[Rollout]) -> Figure:
    fig, axes = _grid(len(runs), 3.4, sharex=True, sharey=True)
    for ax, r in zip(axes.flat, runs, strict=False):
        if not r.traces:
            continue
        tr = r.traces["MM1"]
        parts = attribution_parts(tr)
        for key, label in ATTRIBUTION_PARTS.items():
            ax.plot(tr["step"], parts[key], label=label, lw=1.1)
        ax.plot(tr["step"], parts["total"], label="total", lw=1.8, color="k")
        ax.axhline(0, color="0.6", lw=0.5)
        ax.set_title(r.policy, fontsize=10)
        _axis_labels(ax, UNITS["step"], UNITS["pnl"])
    axes.flat[0].legend(fontsize=8, loc="upper left")
    fig.suptitle(
        f"PnL attribution of the sample episode (cumulative; parts sum to the total): {setting}"
    )
    return fig


def _inventory_paths(setting: str, runs: list[Rollout], colors: _Colors) -> Figure:
    fig, axes = _grid(len(runs), 3.2, sharex=True, sharey=True)
    for ax, r in zip(axes.flat, runs, strict=False):
        band = r.bands.get("inventory")
        if band is not None:
            x = np.arange(1, band.shape[0] + 1)
            ax.fill_between(x, band[:, 0], band[:, 4], color=colors[r.policy], alpha=0.15,
                            lw=0, label="5-95 %")  # fmt: skip
            ax.fill_between(x, band[:, 1], band[:, 3], color=colors[r.policy], alpha=0.35,
                            lw=0, label="25-75 %")  # fmt: skip
        if r.traces:
            tr = r.traces["MM1"]
            ax.plot(tr["step"], tr["inventory"], color=colors[r.policy], lw=1, label="sample")
        ax.axhline(0, color="k", lw=0.5)
        ax.set_title(r.policy, fontsize=10)
        _axis_labels(ax, UNITS["step"], UNITS["inventory"])
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(f"Inventory: sample episode and bands over episodes: {setting}")
    return fig


def impact_bins(orders: pd.DataFrame, min_count: int = 3) -> pd.DataFrame:
    """Mean signed mid move per order-size bin, with a normal 95 % CI of the mean.

    Bins are log-spaced in size (lots filled): edges 1, 2, 3, 5, 8, ... (a factor of about 1.6),
    so each bin holds orders of similar size on a log axis. Bins with fewer than ``min_count``
    orders are dropped.

    Returns:
        One row per bin: ``size`` (mean size in the bin, lots), ``mean``, ``ci_low``, ``ci_high``
        (signed mid move, currency) and ``n``.
    """
    cols = ["size", "mean", "ci_low", "ci_high", "n"]
    if orders.empty:
        return pd.DataFrame(columns=cols)
    top = float(orders["size"].max())
    edges = np.unique(np.round(np.geomspace(1.0, max(top, 1.0) + 1.0, 12)))
    which = np.digitize(orders["size"].to_numpy(), edges)
    rows = []
    for _, g in orders.groupby(which):
        n = len(g)
        if n < min_count:
            continue
        mean = float(g["impact"].mean())
        half = 1.96 * float(g["impact"].std(ddof=1)) / math.sqrt(n)
        rows.append((float(g["size"].mean()), mean, mean - half, mean + half, n))
    return pd.DataFrame(rows, columns=cols)


def _market_impact(setting: str, runs: list[Rollout]) -> Figure | None:
    orders = [r.impacts["market"] for r in runs if r.impacts]
    if not orders:
        return None
    mo = pd.concat(orders, ignore_index=True)
    mo = mo[mo["kind"] != "background"]
    fig, ax = _single(5.0)
    dropped = 0
    for kind, g in mo.groupby("kind"):
        b = impact_bins(g)
        keep = b["mean"] > 0  # a log axis shows positive means only
        dropped += int((~keep).sum())
        b = b[keep]
        if b.empty:
            continue
        lower = np.clip(b["mean"] - b["ci_low"], 0, b["mean"] * (1 - 1e-3))
        label = f"{kind} ({int(b['n'].sum())} orders)"
        ax.errorbar(b["size"], b["mean"], yerr=[lower, b["ci_high"] - b["mean"]], marker="o",
                    ms=4, capsize=3, lw=1, label=label)  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    note = f"; bins with a mean <= 0 not shown: {dropped}" if dropped else ""
    return _labelled(
        fig, ax, "order size (lots filled, log scale)",
        "mean signed mid move (currency, log scale)",
        f"Market impact by order size (mean, 95 % CI per bin; sample episodes{note}): {setting}",
    )  # fmt: skip


def _equity_curves(setting: str, runs: list[Rollout], colors: _Colors) -> Figure:
    fig, ax = _single(5.0)
    for r in runs:
        mean = r.bands.get("equity_mean")
        band = r.bands.get("equity")
        if mean is None:
            continue
        x = np.arange(mean.size)
        ax.plot(x, mean, color=colors[r.policy], label=r.policy, lw=1.5)
        if band is not None:
            ax.fill_between(x, band[:, 1], band[:, 3], color=colors[r.policy], alpha=0.15, lw=0)
    ax.axhline(0, color="k", lw=0.5)
    return _labelled(
        fig, ax, UNITS["step"], f"mark-to-market {UNITS['pnl']}",
        f"Equity curves: mean over episodes and 25-75 % band: {setting}",
    )  # fmt: skip


def _pnl_distributions(
    ep: pd.DataFrame, settings: list[str], policies: list[str], colors: _Colors
) -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(_WIDTH, 4.8), layout="constrained")
    axes = fig.subplots(1, len(settings), squeeze=False, sharey=True)
    for ax, s in zip(axes.flat, settings, strict=True):
        data = [ep.loc[(ep["preset"] == s) & (ep["policy"] == p), "total_pnl"] for p in policies]
        boxes = ax.boxplot(data, showfliers=False, showmeans=True, patch_artist=True,
                           medianprops={"color": "k"},
                           meanprops={"marker": "D", "markersize": 4, "markerfacecolor": "k",
                                      "markeredgecolor": "k"})  # fmt: skip
        for patch, p in zip(boxes["boxes"], policies, strict=True):
            patch.set(facecolor=colors[p], alpha=0.5)
        ax.set_xticks(range(1, len(policies) + 1), policies, rotation=30, ha="right", fontsize=8)
        ax.axhline(0, color="k", lw=0.5)
        ax.set_title(s)
        _axis_labels(ax, "contestant", f"episode {UNITS['pnl']}")
    fig.suptitle(
        "Distribution of episode PnL (boxes: quartiles, whiskers: 1.5 IQR, diamond: mean; "
        "outliers not drawn)"
    )
    return fig


def _axis_labels(ax: Axes, xlabel: str, ylabel: str) -> None:
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel(ylabel, fontsize=9)
    ax.tick_params(labelsize=8)


def _labelled(fig: Figure, ax: Axes, xlabel: str, ylabel: str, title: str) -> Figure:
    """``fig`` with its one axes labelled and titled, and a legend."""
    _axis_labels(ax, xlabel, ylabel)
    ax.set_title(title, fontsize=11)
    ax.legend(fontsize=8)
    return fig


def _single(height: float) -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(_WIDTH, height), layout="constrained")
    return fig, fig.subplots()


def write_figures(folder: Any, figs: Mapping[str, Any], *, dpi: int = 110) -> list[str]:
    """Save each figure as ``plots/<stem>.png`` in ``folder`` (atomically); return the paths."""
    from mm_gym.files import atomic_write_bytes

    written = []
    for stem, fig in figs.items():
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi)
        atomic_write_bytes(Path(folder) / "plots" / f"{stem}.png", buf.getvalue())
        written.append(f"plots/{stem}.png")
    return written
