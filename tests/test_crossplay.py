"""Cross-play of policies as mm1 x mm2 (issue #17): matrix, diagonal, CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from baselines import AvellanedaStoikov, FixedSpread
from mm_gym.evaluation.crossplay import cross_play, crossplay_matrix, format_matrix, main
from mm_gym.evaluation.rollout import rollout
from mm_gym.evaluation.settings import evaluation_seeds

KW = {"horizon_steps": 60}
CONTESTANTS = {
    "fixed_1": lambda: FixedSpread(1.0, name="fixed_1"),
    "fixed_3": lambda: FixedSpread(3.0, name="fixed_3"),
}


def test_every_ordered_pair_on_the_same_seeds_and_seats_mirror_each_other():
    eps = cross_play(CONTESTANTS, "default", KW, n_episodes=6, seed=1, batch_size=4)
    assert len(eps) == 4 * 6
    pairs = list(dict.fromkeys(zip(eps["mm1"], eps["mm2"], strict=True)))
    assert pairs == [("fixed_1", "fixed_1"), ("fixed_1", "fixed_3"), ("fixed_3", "fixed_1"),
                     ("fixed_3", "fixed_3")]  # fmt: skip
    for _, group in eps.groupby(["mm1", "mm2"]):
        np.testing.assert_array_equal(group["seed"], evaluation_seeds(6, 1))
    ab = eps[(eps.mm1 == "fixed_1") & (eps.mm2 == "fixed_3")]
    assert (ab["mm1_pnl"] != 0).any() and (ab["mm1_reward"] != ab["mm2_reward"]).any()


def test_the_diagonal_equals_a_self_play_rollout_of_the_same_seeds():
    """A policy against a copy of itself: cross-play's diagonal = rollout(rival=policy)."""
    policy = AvellanedaStoikov(gamma=0.05, k=1.5, name="as")
    eps = cross_play({"as": lambda: AvellanedaStoikov(gamma=0.05, k=1.5, name="as")}, "default", KW,
                     n_episodes=5, seed=2, batch_size=3)  # fmt: skip
    seeds = evaluation_seeds(5, 2)
    ref = rollout(policy, "default", KW, seeds, rival=policy, batch_size=3, sample_episode=None)
    np.testing.assert_allclose(eps["mm1_reward"], ref.episodes["episode_reward"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(eps["mm1_pnl"], ref.episodes["total_pnl"], rtol=0, atol=1e-9)


def test_matrix_intervals_bracket_the_means_and_the_text_lists_every_pair():
    eps = cross_play(CONTESTANTS, "default", KW, n_episodes=8, seed=0, batch_size=8)
    m = crossplay_matrix(eps, n_boot=200)
    assert len(m) == 4 and (m["episodes"] == 8).all()
    for value in ("mm1_pnl", "mm2_reward"):
        assert (m[f"{value}_low"] <= m[f"{value}_mean"]).all()
        assert (m[f"{value}_mean"] <= m[f"{value}_high"]).all()
    means = eps.groupby(["mm1", "mm2"], sort=False)["mm1_pnl"].mean().to_numpy()
    np.testing.assert_allclose(m["mm1_pnl_mean"], means)
    text = format_matrix(m)
    assert text.count("fixed_3") == 2 and f"{m['mm1_pnl_mean'][1]:.1f}" in text


def test_cli_writes_the_matrix_and_refuses_bad_flags(tmp_path, capsys):
    out = tmp_path / "cp"
    args = ["--contestants", "fixed_spread", "--episodes", "2", "--batch", "2", "--no-progress",
            "--bootstrap", "100", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    matrix = pd.read_csv(out / "matrix.csv")
    assert list(matrix[["mm1", "mm2"]].iloc[0]) == ["fixed_spread", "fixed_spread"]
    assert (out / "plots" / "crossplay.png").stat().st_size > 1000
    assert main(args) == 2  # exists: needs --overwrite
    assert "--overwrite" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0
    for bad, says in (
        (["--contestants", "nope"], "contestant 'nope'"),
        (["--episodes", "1"], "--episodes=1 must be in"),
        (["--preset", "nope"], "--preset 'nope'"),
        (["--contestants", "--runs", str(tmp_path / "missing")], "--runs"),
    ):
        assert main([*bad, "--out", str(tmp_path / "x")]) == 2
        assert says in capsys.readouterr().err
        assert not (tmp_path / "x").exists()


def test_a_run_needing_an_unobserved_feature_is_refused_before_play(tmp_path, capsys):
    from helpers import FEATURE_NAMES, toy_policy_arrays

    run = tmp_path / "news"
    run.mkdir()
    np.savez(run / "policy.npz", **toy_policy_arrays((*FEATURE_NAMES[:-1], "headline_score")))
    out = tmp_path / "cp"
    assert main(["--contestants", "fixed_spread", "--runs", str(run), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--runs" in err and "headline_score" in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("n", [1, 3])
def test_drawdown_ends_are_counted_once(n):
    """A market ending early (max_drawdown) stops accumulating while the others go on."""
    eps = cross_play(CONTESTANTS, "default", {**KW, "max_drawdown": 5.0}, n_episodes=n,
                     seed=0, batch_size=n)  # fmt: skip
    assert np.isfinite(eps[["mm1_pnl", "mm2_pnl"]].to_numpy()).all()
