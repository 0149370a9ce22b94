"""evaluate.py --cross-play (issue #17): the mm1 x mm2 matrix as an export, its diagonal, errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers import FEATURE_NAMES, load_script, toy_policy_arrays

cli = load_script("evaluate.py", "evaluate_crossplay_cli")
QUICK = ["--episodes", "4", "--horizon", "50", "--no-progress", "--regimes", "default"]


def test_cross_play_export_and_its_diagonal_equals_a_self_play_tournament(tmp_path):
    out = tmp_path / "cp"
    assert cli.main(["--cross-play", "fixed_spread", "order_flow_skew", *QUICK,
                     "--out", str(out)]) == 0  # fmt: skip
    matrix = pd.read_csv(out / "crossplay" / "default" / "matrix.csv")
    assert len(matrix) == 4 and (matrix["episodes"] == 4).all()
    assert (out / "plots" / "crossplay_default.png").stat().st_size > 1000
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF")
    assert json.loads((out / "run.json").read_text())["policies"] == [
        "fixed_spread", "order_flow_skew"
    ]  # fmt: skip
    episodes = pd.read_csv(out / "crossplay" / "default" / "episodes.csv")
    for policy in ("order_flow_skew",):  # a tournament of it against itself, same seeds
        tour = tmp_path / f"t_{policy}"
        assert cli.main(["--contestants", policy, "--rival", policy, "--runs", "none", *QUICK,
                         "--out", str(tour)]) == 0  # fmt: skip
        ref = pd.read_csv(tour / "episodes.csv")
        cell = episodes[(episodes.mm1 == policy) & (episodes.mm2 == policy)]
        np.testing.assert_array_equal(cell["seed"], ref["seed"])
        np.testing.assert_allclose(cell["mm1_reward"], ref["episode_reward"], rtol=0, atol=1e-8)
        np.testing.assert_allclose(cell["mm1_pnl"], ref["total_pnl"], rtol=0, atol=1e-8)


def test_a_two_learner_run_gives_both_learners(tmp_path):
    run = tmp_path / "pair"
    for seat in ("mm1", "mm2"):
        (run / seat).mkdir(parents=True)
        np.savez(run / seat / "policy.npz", **toy_policy_arrays(FEATURE_NAMES))
    (run / "config.yaml").write_text("learners: mm1,mm2\n")
    out = tmp_path / "cp"
    assert cli.main(["--cross-play", str(run), "fixed_spread", *QUICK, "--episodes", "2",
                     "--out", str(out)]) == 0  # fmt: skip
    matrix = pd.read_csv(out / "crossplay" / "default" / "matrix.csv")
    assert list(dict.fromkeys(matrix["mm1"])) == ["pair.mm1", "pair.mm2", "fixed_spread"]


@pytest.mark.parametrize(
    ("policies", "says"),
    [
        (["runs/does_not_exist"], "--cross-play runs/does_not_exist: no such run folder"),
        (["nope"], "'nope' is neither a run folder nor a baseline"),
        (["fixed_spread", "fixed_spread"], "the name 'fixed_spread' is taken twice"),
    ],
)
def test_bad_cross_play_input_is_one_line_before_any_output(tmp_path, capsys, policies, says):
    out = tmp_path / "cp"
    with pytest.raises(SystemExit) as stop:
        cli.main(["--cross-play", *policies, *QUICK, "--out", str(out)])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert says in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()
