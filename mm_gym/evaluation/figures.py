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

__all__ = ["make_figures", "write_figures"]

_Colors = dict[str, Any]


def make_figures(tournament: Tournament) -> dict[str, Figure]:
    """Matplotlib figures of a tournament, keyed by file stem (``plots/<stem>.png``).

    Per setting: ``pnl_attribution_<setting>`` (the sample episode of each contestant: realized,
    unrealized and total PnL, inventory on the right axis), ``inventory_paths_<setting>`` (the
    sample path and the 5-95 % and 25-75 % bands over episodes), ``market_impact_<setting>``
    (signed mid move against size of every market order of the sample episodes, with the OLS
    line) and ``equity_curves_<setting>`` (mean equity curve and 25-75 % band per contestant).
    Overall: ``pnl_distributions`` (box plots of episode PnL per contestant and setting).
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
    figs["pnl_distributions"] = _pnl_distributions(tournament.episodes, settings, policies)
    return figs


def _grid(n: int, width: float, height: float, **kw: Any) -> tuple[Figure, Any]:
    """A figure with ``n`` panels, at most three a row; the spare panels are switched off."""
    from matplotlib.figure import Figure

    ncols = min(3, n)
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(width * ncols, height * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, axes


def _pnl_attribution(setting: str, runs: list[Rollout]) -> Figure:
    fig, axes = _grid(len(runs), 5, 3.2, sharex=True)
    for ax, r in zip(axes.flat, runs, strict=False):
        if not r.traces:
            continue
        tr = r.traces["MM1"]
        ax.plot(tr["step"], tr["realized"], label="realized", lw=1)
        ax.plot(tr["step"], tr["unrealized"], label="unrealized", lw=1)
        ax.plot(tr["step"], tr["total"], label="total", lw=1.5, color="k")
        ax2 = ax.twinx()
        ax2.plot(tr["step"], tr["inventory"], color="tab:red", lw=0.7, alpha=0.5)
        ax2.set_ylabel("inventory (lots)", color="tab:red", fontsize=8)
        ax.set_title(r.policy, fontsize=9)
        ax.set_ylabel("PnL")
    axes.flat[0].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"PnL attribution, sample episode: {setting}")
    fig.tight_layout()
    return fig


def _inventory_paths(setting: str, runs: list[Rollout], colors: _Colors) -> Figure:
    fig, axes = _grid(len(runs), 5, 3, sharey=True)
    for ax, r in zip(axes.flat, runs, strict=False):
        band = r.bands.get("inventory")
        if band is not None:
            x = np.arange(1, band.shape[0] + 1)
            ax.fill_between(x, band[:, 0], band[:, 4], color=colors[r.policy], alpha=0.15)
            ax.fill_between(x, band[:, 1], band[:, 3], color=colors[r.policy], alpha=0.3)
        if r.traces:
            tr = r.traces["MM1"]
            ax.plot(tr["step"], tr["inventory"], color=colors[r.policy], lw=1)
        ax.axhline(0, color="k", lw=0.5)
        ax.set_title(r.policy, fontsize=9)
    fig.suptitle(f"Inventory paths (sample episode, 25-75 % and 5-95 % bands): {setting}")
    fig.tight_layout()
    return fig


def _market_impact(setting: str, runs: list[Rollout]) -> Figure | None:
    orders = [r.impacts["market"] for r in runs if r.impacts]
    if not orders:
        return None
    mo = pd.concat(orders, ignore_index=True)
    mo = mo[mo["kind"] != "background"]
    fig, ax = _single(7, 4.5)
    for kind, g in mo.groupby("kind"):
        ax.scatter(g["size"], g["impact"], s=6, alpha=0.4, label=str(kind))
    if len(mo) > 2 and mo["size"].nunique() > 1:
        slope, icpt = np.polyfit(mo["size"], mo["impact"], 1)
        xs = np.linspace(mo["size"].min(), mo["size"].max(), 50)
        ax.plot(xs, icpt + slope * xs, "k--", lw=1, label=f"OLS slope {slope:.4f}/lot")
    return _labelled(
        fig, ax, "order size (lots filled)", "signed mid move (price units)",
        f"Market impact of market orders, sample episodes: {setting}",
    )  # fmt: skip


def _equity_curves(setting: str, runs: list[Rollout], colors: _Colors) -> Figure:
    fig, ax = _single(8, 4.5)
    for r in runs:
        mean = r.bands.get("equity_mean")
        band = r.bands.get("equity")
        if mean is None:
            continue
        x = np.arange(mean.size)
        ax.plot(x, mean, color=colors[r.policy], label=r.policy, lw=1.5)
        if band is not None:
            ax.fill_between(x, band[:, 1], band[:, 3], color=colors[r.policy], alpha=0.15)
    return _labelled(
        fig, ax, "step", "mark-to-market PnL", f"Equity curves (mean, 25-75 % band): {setting}"
    )


def _pnl_distributions(ep: pd.DataFrame, settings: list[str], policies: list[str]) -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(max(5, 0.9 * len(policies)) * len(settings), 4.5))
    axes = fig.subplots(1, len(settings), squeeze=False)
    for ax, s in zip(axes.flat, settings, strict=True):
        data = [ep.loc[(ep["preset"] == s) & (ep["policy"] == p), "total_pnl"] for p in policies]
        ax.boxplot(data, showfliers=False)
        ax.set_xticks(range(1, len(policies) + 1), policies, rotation=30, ha="right", fontsize=8)
        ax.axhline(0, color="k", lw=0.5)
        ax.set_title(s)
        ax.set_ylabel("episode PnL")
    fig.suptitle("Distribution of episode PnL (boxes: quartiles, whiskers: 1.5 IQR)")
    fig.tight_layout()
    return fig


def _labelled(fig: Figure, ax: Axes, xlabel: str, ylabel: str, title: str) -> Figure:
    """``fig`` with its one axes labelled and titled, a legend, and a tight layout."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _single(width: float, height: float) -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
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
