"""Smoke tests of ``python -m mm_gym.realism`` at a reduced scale (one preset, 16 x 600)."""

import csv
import subprocess
import sys

import pytest

from mm_gym.market.views import KIND_NAMES
from mm_gym.realism.report import MARKER, main

SMALL = ["--preset", "default", "--markets", "16", "--steps", "600", "--burn-in", "50"]
SMALL += ["--bootstrap", "50", "--no-progress"]


def test_cli_writes_table_csv_markdown_and_plots(tmp_path, capsys):
    out = tmp_path / "report"
    assert main([*SMALL, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "== default: 16 markets x 600 steps" in printed
    assert "excess kurtosis of 1-step returns" in printed
    names = {p.name for p in out.iterdir()}
    assert {MARKER, "realism.csv", "realism.md"} <= names
    assert {"acf_returns.png", "sign_acf.png", "impact.png", "depth_profile.png"} <= names
    assert "return_distribution.png" in names
    rows = list(csv.DictReader((out / "realism.csv").open()))
    keys = {r["fact"] for r in rows}
    assert {"kurtosis_1", "max_abs_acf_r_2_20", "sign_hurst", "impact_exponent"} <= keys
    assert {"empty_side_steps", "predictor_oos_r2", "vr_250", "noise_response_50"} <= keys
    assert all(r["status"] in {"pass", "FAIL", "n/a", "info"} for r in rows)
    # the flow composition names the market's kinds of market orders (a pick-off is a fill of a
    # revision, no market order), and every executed order has one of them
    shares = {r["fact"]: float(r["value"]) for r in rows if r["fact"].startswith("share_")}
    assert set(shares) == {f"share_{name}" for name in KIND_NAMES if name != "pickoff"}
    assert sum(shares.values()) == pytest.approx(1.0)
    for r in rows:  # plain numbers a spreadsheet reads ("nan" where there is no CI)
        float(r["value"]), float(r["ci_lo"]), float(r["ci_hi"])
    assert "| fact |" in (out / "realism.md").read_text()
    # A second run refuses the folder without --overwrite, replaces it with it.
    assert main([*SMALL, "--out", str(out)]) == 2
    assert "not empty (use --overwrite)" in capsys.readouterr().err
    (out / "stale.txt").write_text("x")
    assert main([*SMALL, "--out", str(out), "--overwrite", "--steps", "300"]) == 0
    assert not (out / "stale.txt").exists()
    assert "300 steps" in (out / "realism.md").read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries left


def test_overwrite_refuses_a_folder_it_did_not_write(tmp_path, capsys):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "precious.txt").write_text("keep")
    assert main([*SMALL, "--out", str(foreign), "--overwrite"]) == 2
    assert "refusing to delete it" in capsys.readouterr().err
    assert (foreign / "precious.txt").read_text() == "keep"


def test_module_entry_point_and_lazy_import():
    res = subprocess.run(
        [sys.executable, "-m", "mm_gym.realism", "--preset", "as2008"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 2 and "error: --preset 'as2008'" in res.stderr
    code = "import sys, mm_gym; print('mm_gym.realism' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "False"
