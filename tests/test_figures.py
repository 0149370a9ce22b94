"""The tournament's figures, read through matplotlib's objects: labels with units, shared scales,
a PnL attribution that adds up, impact binned by size, the scenario heatmap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from baselines import FixedSpread, RandomQuoter
from mm_gym.evaluation import make_figures, run_tournament
from mm_gym.evaluation.figures import ATTRIBUTION_PARTS, impact_bins
from mm_gym.evaluation.scenarios import scenario_figure

REGIMES = ("mean_reverting", "trending")
UNITS = ("(currency", "(lots")


@pytest.fixture(scope="module")
def tournament():
    policies = {"fixed": FixedSpread(1.0), "random": RandomQuoter()}
    return run_tournament(policies, REGIMES, {"horizon_steps": 150}, 6, seed=3)


@pytest.fixture(scope="module")
def figs(tournament):
    return make_figures(tournament)


def _panels(fig):
    return [ax for ax in fig.axes if ax.axison]


def test_every_axis_of_every_figure_is_labelled_with_its_unit(figs):
    assert {f"{stem}_{r}" for stem in ("pnl_attribution", "inventory_paths", "market_impact",
            "equity_curves") for r in REGIMES} | {"pnl_distributions"} == set(figs)  # fmt: skip
    for stem, fig in figs.items():
        panels = _panels(fig)
        assert panels, stem
        for ax in panels:
            assert ax.get_xlabel(), (stem, ax.get_title())
            assert any(u in ax.get_ylabel() for u in UNITS), (stem, ax.get_ylabel())
            assert ax.get_title() or fig.get_suptitle(), stem


def test_compared_panels_share_their_y_scale(figs):
    for stem in ("pnl_attribution_trending", "inventory_paths_trending", "pnl_distributions"):
        limits = {ax.get_ylim() for ax in _panels(figs[stem])}
        assert len(limits) == 1, (stem, limits)


def test_pnl_attribution_parts_sum_to_the_drawn_total_and_to_the_episode_metrics(figs, tournament):
    for regime in REGIMES:
        fig = figs[f"pnl_attribution_{regime}"]
        for ax in _panels(fig):
            lines = {line.get_label(): line.get_ydata() for line in ax.get_lines()}
            parts = [np.asarray(lines[label], dtype=float) for label in ATTRIBUTION_PARTS.values()]
            total = np.asarray(lines["total"], dtype=float)
            np.testing.assert_allclose(sum(parts), total, rtol=0, atol=1e-9)
            # The sample episode is episode 0: its end values are the episode's metrics.
            ep = tournament.episodes
            row = ep[(ep["preset"] == regime) & (ep["policy"] == ax.get_title())]
            row = row[row["episode"] == 0].iloc[0]
            spread, inventory, fees = (p[-1] for p in parts)
            assert total[-1] == pytest.approx(row["total_pnl"], abs=1e-6)
            assert spread == pytest.approx(row["spread_capture"], abs=1e-6)
            assert fees == pytest.approx(row["fees"], abs=1e-6)
            assert inventory == pytest.approx(row["inventory_pnl"], abs=1e-6)


def test_market_impact_is_binned_by_size_on_log_axes(figs):
    ax = _panels(figs["market_impact_trending"])[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert ax.containers, "mean +- CI error bars per bin"
    assert not ax.collections or all(len(c.get_offsets()) == 0 for c in ax.collections
                                     if c.__class__.__name__ == "PathCollection")  # fmt: skip


def test_impact_bins_mean_and_ci_per_log_bin():
    orders = pd.DataFrame(
        {
            "size": [1, 1, 1, 1, 10, 10, 10, 11, 50],
            "impact": [0.0, 0.01, 0.0, 0.01, 0.02, 0.04, 0.02, 0.04, 0.1],
        }
    )
    b = impact_bins(orders, min_count=3)
    assert list(b["n"]) == [4, 4]  # the single 50-lot order is dropped
    assert b["mean"].tolist() == pytest.approx([0.005, 0.03])
    half = 1.96 * np.std([0.0, 0.01, 0.0, 0.01], ddof=1) / 2
    assert b["ci_low"].iloc[0] == pytest.approx(0.005 - half)
    assert b["size"].tolist() == pytest.approx([1.0, 10.25])


def test_scenario_figure_is_a_heatmap_of_mean_pnl():
    rows = []
    for i, scen in enumerate(("a sigma x1", "a sigma x2", "b sigma x1")):
        for j, pol in enumerate(("p", "q")):
            m = 10.0 * i - 5.0 * j
            rows.append({"scenario": scen, "policy": pol, "total_pnl_mean": m,
                         "total_pnl_ci_low": m - 1, "total_pnl_ci_high": m + 1})  # fmt: skip
    fig = scenario_figure(pd.DataFrame(rows))
    ax = fig.axes[0]
    image = ax.get_images()[0]
    np.testing.assert_array_equal(image.get_array(), [[0, -5], [10, 5], [20, 15]])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a sigma x1", "a sigma x2",
                                                            "b sigma x1"]  # fmt: skip
    assert "(currency)" in ax.get_title() and ax.get_xlabel() == "contestant"
    assert "20.0\n[19.0, 21.0]" in [t.get_text() for t in ax.texts]
