"""The stress grid of ``evaluate.py --scenarios``: each regime x volatility x shock rate.

Every scenario re-runs the tournament on its own evaluation seeds (stream ``i`` of the grid, so
independent of the main tournament's episodes), with the preset's fundamental volatility
multiplied by each of :data:`SIGMA_MULTIPLIERS` and liquidity shocks at the preset's rate or at
:data:`STRESS_SHOCK_RATE`. Calibrated policies keep their regime's calibration: they are
stressed, not re-tuned.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mm_gym.evaluation.rollout import PolicyOrFactory, run_tournament
from mm_gym.evaluation.settings import setting_configs
from mm_gym.evaluation.stats import summarize

__all__ = [
    "SIGMA_MULTIPLIERS",
    "STRESS_SHOCK_RATE",
    "Scenario",
    "run_scenarios",
    "scenario_figure",
    "scenario_grid",
    "write_scenarios",
]

SIGMA_MULTIPLIERS = (1.0, 2.0, 4.0)
"""Multipliers of the preset's ``process.sigma_ticks``."""
STRESS_SHOCK_RATE = 0.01
"""The stressed ``flow.shock_rate`` (shocks per step), beside the preset's own."""

Scenario = tuple[str, float, float | None]
"""``(regime, sigma multiplier, shock rate or None for the preset's)``."""

_TABLE_COLUMNS = [
    "preset", "policy", "total_pnl_mean", "total_pnl_ci_low", "total_pnl_ci_high",
    "total_pnl_diff", "sharpe_mean", "max_drawdown_mean", "mean_abs_inventory_mean",
    "frac_at_limit_mean", "n_shocks_mean",
]  # fmt: skip


def scenario_grid(regimes: list[str]) -> list[Scenario]:
    """Every regime x sigma multiplier x shock rate, in the order they run."""
    rates = (None, STRESS_SHOCK_RATE)
    return [(r, m, rate) for r in regimes for m in SIGMA_MULTIPLIERS for rate in rates]


def run_scenarios(
    policies: Mapping[str, PolicyOrFactory],
    grid: list[Scenario],
    overrides: Mapping[str, Any],
    episodes: int,
    *,
    seed: int,
    rival: Any,
    batch_size: int,
    baseline: str | None,
    progress: Callable[[int], object] | None = None,
) -> tuple[dict[str, pd.DataFrame], str]:
    """Run the grid; return ``{"summary", "episodes"}`` frames and the printed table.

    Args:
        policies: The contestants (as :func:`~mm_gym.evaluation.run_tournament` takes them).
        grid: The scenarios (:func:`scenario_grid`); scenario ``i`` (from 1) runs on seed stream
            ``i``.
        overrides: Environment overrides applied to every scenario (e.g. ``horizon_steps``).
        episodes: Episodes per contestant and scenario.
        seed: Master seed of the evaluation seed lists.
        rival: mm2, as for :func:`~mm_gym.evaluation.run_tournament`.
        batch_size: Episodes per vector env.
        baseline: Contestant the paired differences are taken against, or None.
        progress: Optional callback ``progress(vector_env_steps)``.
    """
    frames = []
    for i, (r, mult, rate) in enumerate(grid, start=1):
        sigma = float(setting_configs(r)[0].process.sigma_ticks)
        stress = {**overrides, "process.sigma_ticks": sigma * mult}
        if rate is not None:
            stress["flow.shock_rate"] = rate
        label = f"{r} sigma x{mult:g} " + ("shock 0.01" if rate is not None else "shock preset")
        t = run_tournament(
            dict(policies), [r], stress, episodes, seed=seed, stream=i, rival=rival,
            batch_size=batch_size, sample_episode=None, progress=progress,
        )  # fmt: skip
        ep = t.episodes.assign(
            scenario=label, sigma_mult=mult, shock_rate=rate if rate is not None else -1.0
        )
        ep["preset"] = label
        frames.append(ep)
    all_episodes = pd.concat(frames, ignore_index=True)
    summary = summarize(all_episodes, baseline=baseline, seed=seed, pooled=False)
    table = summary[_TABLE_COLUMNS].rename(columns={"preset": "scenario"})
    text = "== stress scenarios (mean episode PnL, 95% CI, paired difference to AS) ==\n"
    text += table.to_string(index=False, float_format=lambda x: f"{x:8.2f}") + "\n"
    summary = summary.rename(columns={"preset": "scenario"})
    return {"summary": summary, "episodes": all_episodes}, text


def write_scenarios(folder: Path, scen: Mapping[str, pd.DataFrame]) -> Figure:
    """Write ``scenarios.csv`` and ``scenario_episodes.csv`` into ``folder``; return the figure."""
    from mm_gym.files import atomic_write_text

    for name, frame in (
        ("scenarios.csv", scen["summary"]),
        ("scenario_episodes.csv", scen["episodes"]),
    ):
        atomic_write_text(folder / name, frame.to_csv(index=False, float_format="%.12g"))
    return scenario_figure(scen["summary"])


def scenario_figure(summary: pd.DataFrame) -> Figure:
    """Heatmap of mean episode PnL per scenario (rows) and contestant (columns).

    Each cell shows the mean and its 95 % CI; the colour scale is diverging and centred on 0.
    """
    from matplotlib.colors import TwoSlopeNorm

    scen = list(dict.fromkeys(summary["scenario"]))
    pols = list(dict.fromkeys(summary["policy"]))
    grid = summary.pivot(index="scenario", columns="policy").reindex(index=scen)
    mean = grid["total_pnl_mean"][pols].to_numpy(dtype=np.float64)
    lo = grid["total_pnl_ci_low"][pols].to_numpy(dtype=np.float64)
    hi = grid["total_pnl_ci_high"][pols].to_numpy(dtype=np.float64)
    fig = Figure(figsize=(3.5 + 1.6 * len(pols), 1.2 + 0.42 * len(scen)), layout="constrained")
    ax = fig.add_subplot()
    span = float(np.nanmax(np.abs(mean))) if np.isfinite(mean).any() else 1.0
    norm = TwoSlopeNorm(0.0, -span or -1.0, span or 1.0)
    image = ax.imshow(mean, cmap="RdBu", norm=norm, aspect="auto")
    for i in range(len(scen)):
        for j in range(len(pols)):
            dark = abs(mean[i, j]) > 0.6 * span
            ax.text(j, i, f"{mean[i, j]:.1f}\n[{lo[i, j]:.1f}, {hi[i, j]:.1f}]", ha="center",
                    va="center", fontsize=7, color="w" if dark else "k")  # fmt: skip
    ax.set_xticks(range(len(pols)), pols, fontsize=8)
    ax.set_yticks(range(len(scen)), scen, fontsize=8)
    ax.set_xlabel("contestant")
    ax.set_ylabel("scenario (regime, volatility multiple, shock rate)")
    ax.set_title("Stress scenarios: mean episode PnL [95 % CI] (currency)")
    fig.colorbar(image, ax=ax, label="mean episode PnL (currency)")
    return fig
