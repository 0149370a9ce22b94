"""The realism report's PNG plots (matplotlib's object API: no pyplot, no global backend)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mm_gym.realism.facts import IMPACT_MIN_COUNT, PresetResult
from mm_gym.realism.measure import DEPTH_LEVELS
from mm_gym.realism.tables import fmt_value

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["PLOT_FILES", "write_plots"]


def _figure(**kwargs: Any) -> Figure:
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def _png(fig: Figure) -> bytes:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def _one_axes(
    results: Sequence[PresetResult],
    plot: Callable[[Any, PresetResult], object],
    title: str,
    xlabel: str,
    ylabel: str,
) -> Figure:
    """One 6 x 4.5 axes, one ``plot(ax, result)`` per preset, a legend."""
    fig = _figure(figsize=(6, 4.5))
    ax = fig.subplots()
    for r in results:
        plot(ax, r)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.legend(fontsize=7)
    return fig


def _acf_returns(results: Sequence[PresetResult]) -> Figure:
    fig = _figure(figsize=(11, 4))
    a1, a2 = fig.subplots(1, 2)
    for r in results:
        c = r.curves
        a1.plot(c["acf_lags"], c["acf_r"], label=r.preset, lw=1)
        a2.plot(c["acf_lags"], c["acf_abs_r"], label=r.preset, lw=1)
    a1.axhspan(-0.03, 0.03, color="0.9", zorder=0)
    a1.set(title="ACF of mid returns r", xlabel="lag, steps", ylabel="ACF", xscale="log")
    a2.set(title="ACF of |r| (volatility clustering)", xlabel="lag, steps", xscale="log")
    a2.axhline(0, color="0.5", lw=0.5)
    a1.legend(fontsize=7)
    return fig


def _plot_sign_acf(ax: Any, r: PresetResult) -> None:
    y = r.curves["sign_acf"]
    ok = y > 0
    ax.loglog(r.curves["sign_acf_lags"][ok], y[ok], "o-", ms=3, lw=1, label=r.preset)


def _sign_acf(results: Sequence[PresetResult]) -> Figure:
    title = "ACF of market-order signs (log-log; H = 1 - gamma/2)"
    return _one_axes(results, _plot_sign_acf, title, "lag, orders", "ACF")


def _plot_impact(ax: Any, r: PresetResult) -> None:
    c = r.curves
    s, m, cnt = c["impact_size"], c["impact_mean"], c["impact_count"]
    ok = (cnt >= IMPACT_MIN_COUNT) & (m > 0)
    label = f"{r.preset} (beta {fmt_value(r.fact('impact_exponent').value)})"
    ax.loglog(s[ok], m[ok], "o-", ms=3, lw=1, label=label)


def _impact(results: Sequence[PresetResult]) -> Figure:
    title = "Impact of single market orders"
    return _one_axes(results, _plot_impact, title, "size, lots", "E[eps dmid | size], ticks")


def _plot_depth(ax: Any, r: PresetResult) -> None:
    ax.plot(np.arange(DEPTH_LEVELS), r.curves["depth"], "o-", ms=3, lw=1, label=r.preset)


def _depth_profile(results: Sequence[PresetResult]) -> Figure:
    title = "Depth profile (background, mean of both sides)"
    return _one_axes(results, _plot_depth, title, "ticks behind the same side's best", "lots")


def _plot_return_distribution(ax: Any, r: PresetResult, grid: np.ndarray) -> None:
    for k in (1, 10, 100):
        x = r.curves.get(f"ret_std_{k}")
        if x is None or x.size < 10:
            continue
        hist, e = np.histogram(x, bins=np.linspace(-8, 8, 65), density=True)
        ok = hist > 0
        ax.semilogy(0.5 * (e[1:] + e[:-1])[ok], hist[ok], ".-", ms=2, lw=0.8, label=f"{k}-step")
    gauss = np.exp(-0.5 * grid**2) / math.sqrt(2 * math.pi)
    ax.semilogy(grid, gauss, "k--", lw=0.8, label="Gaussian")
    ax.set(title=r.preset, xlabel="standardised return", ylim=(1e-5, 2))
    ax.legend(fontsize=6)


def _return_distribution(results: Sequence[PresetResult]) -> Figure:
    ncol = min(4, len(results))
    nrow = math.ceil(len(results) / ncol)
    fig = _figure(figsize=(3.2 * ncol, 2.8 * nrow), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrow, ncol, squeeze=False)).ravel()
    grid = np.linspace(-8, 8, 161)
    for ax, r in zip(axes, results, strict=False):
        _plot_return_distribution(ax, r, grid)
    for ax in axes[len(results) :]:
        ax.set_axis_off()
    fig.suptitle("Return distribution vs Gaussian")
    return fig


def _fundamental_and_noise_impact(results: Sequence[PresetResult]) -> Figure:
    fig = _figure(figsize=(11, 4))
    a1, a2 = fig.subplots(1, 2)
    for r in results:
        a1.plot(r.curves["xcorr_lags"], r.curves["xcorr"], "o-", ms=2, lw=1, label=r.preset)
        a2.plot(r.curves["noise_response_lags"], r.curves["noise_response"], lw=1, label=r.preset)
    a1.set(title="corr(dF_t, dmid_t+k): mid lagging the fundamental", xlabel="k, steps")
    a2.set(title="Response to noise orders R(tau)", xlabel="tau, steps", ylabel="ticks")
    a1.legend(fontsize=7)
    return fig


PLOT_FILES: dict[str, Callable[[Sequence[PresetResult]], Figure]] = {
    "acf_returns.png": _acf_returns,
    "sign_acf.png": _sign_acf,
    "impact.png": _impact,
    "depth_profile.png": _depth_profile,
    "return_distribution.png": _return_distribution,
    "fundamental_and_noise_impact.png": _fundamental_and_noise_impact,
}
"""The plots by file name, in the order they are written."""


def write_plots(results: Sequence[PresetResult], folder: Path) -> list[str]:
    """Write the report's PNG plots into ``folder``.

    Returns:
        The file names written.
    """
    from mm_gym.files import atomic_write_bytes

    for name, draw in PLOT_FILES.items():
        atomic_write_bytes(folder / name, _png(draw(results)))
    return list(PLOT_FILES)
