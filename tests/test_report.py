"""report.pdf: cover, leaderboard rows, definitions and regime sections, read back as text."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from mm_gym.evaluation import leaderboard, leaderboard_cells, summarize, write_report
from mm_gym.evaluation.definitions import METRIC_DEFINITIONS
from mm_gym.evaluation.episode_metrics import EPISODE_COLUMNS

pypdf = pytest.importorskip("pypdf")

POLICIES = ("avellaneda_stoikov", "glft", "random")
REGIMES = ("mean_reverting", "trending")


def _episodes() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    rows = []
    for regime in REGIMES:
        for k, policy in enumerate(POLICIES):
            for e in range(6):
                row = {"preset": regime, "policy": policy, "episode": e, "seed": e, "length": 50}
                for col in EPISODE_COLUMNS:
                    row[col] = float(rng.normal(10.0 * k, 3.0))
                rows.append(row)
    return pd.DataFrame(rows)


def _figure(title: str) -> Figure:
    fig = Figure(figsize=(10, 4))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1])
    ax.set_title(title)
    return fig


def _pdf_text(path) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(str(path)).pages]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    summary = summarize(_episodes(), baseline="avellaneda_stoikov", n_boot=200)
    figs = {"pnl_distributions": _figure("distributions")}
    for regime in REGIMES:
        for stem in ("pnl_attribution", "equity_curves", "inventory_paths", "market_impact"):
            figs[f"{stem}_{regime}"] = _figure(f"{stem} {regime}")
    path = tmp_path_factory.mktemp("report") / "report.pdf"
    setup = [("presets (regimes)", "`mean_reverting`, `trending`"), ("rival (mm2)", "`builtin`"),
             ("episodes", "6 per contestant and regime"), ("seeds", "master seed 7")]  # fmt: skip
    write_report(path, title="Test report", setup=setup, summary=summary, figs=figs,
                 baseline="avellaneda_stoikov")  # fmt: skip
    return path, summary, _pdf_text(path)


def test_report_cover_names_the_setup_versions_and_date(report):
    _, _, pages = report
    cover = pages[0]
    for words in ("Test report", "presets (regimes)", "mean_reverting, trending", "rival (mm2)",
                  "builtin", "master seed 7", "package versions", "mm_gym 0.2.0", "numpy",
                  "date"):  # fmt: skip
        assert words in cover, words


def test_report_leaderboard_has_every_pooled_row_with_its_cells(report):
    _, summary, pages = report
    board_page = pages[1]
    assert "Leaderboard, pooled over regimes" in board_page
    assert "vs avellaneda_stoikov" in board_page
    lines = board_page.replace("\n", " ")
    pooled = leaderboard(summary, preset="all")
    assert len(pooled) == len(POLICIES)
    for _, row in pooled.iterrows():
        for cell in leaderboard_cells(row):
            assert cell in lines, (row["policy"], cell)


def test_report_definitions_page_defines_every_metric(report):
    _, _, pages = report
    text = "\n".join(pages)
    start = text.index("Definitions: units and metrics")
    defs = text[start:].replace("\n", " ")
    for d in METRIC_DEFINITIONS:
        assert d.column in defs, d.column
        assert d.meaning.split(":")[0].replace("`", "").replace("**", "")[:30] in defs, d.column
    for col in EPISODE_COLUMNS:
        assert col in defs, col
    for words in ("tick_size × lot_size", "√T", "not annualised", "φ", "ψ"):
        assert words in defs, words


def test_report_has_one_section_per_regime_in_order(report):
    _, _, pages = report
    text = "\n".join(pages)
    positions = [text.index(f"Regime: {r}") for r in REGIMES]
    assert positions == sorted(positions)
    assert text.index("Definitions: units and metrics") < positions[0]


def test_report_is_a_normal_file_written_atomically(report):
    path, _, _ = report
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert path.read_bytes().startswith(b"%PDF")
    assert sorted(p.name for p in path.parent.iterdir()) == ["report.pdf"]  # no temporary left
