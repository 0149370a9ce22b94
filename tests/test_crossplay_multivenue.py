"""Cross-play on mm_gym/MultiVenue-v0 (issues #15 and #17): both makers on every venue.

The matrix of multi-venue baselines and two-learner runs, on common seeds; the refusals (a
contestant of the other market, a baseline that cannot quote several venues, Portfolio-v0), each
one line before any play or output.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers import FEATURE_NAMES, load_script, toy_policy_arrays

from baselines import FixedSpread
from baselines.multivenue import make_multivenue_policy
from mm_gym.config import ConfigError
from mm_gym.evaluation.crossplay import cross_play, main
from mm_gym.evaluation.settings import evaluation_seeds
from mm_gym.multivenue import MultiVenueTwoMakerVectorEnv

MV = "mm_gym/MultiVenue-v0"
KW = {"horizon_steps": 30}
QUICK = ["--episodes", "2", "--batch", "2", "--horizon", "20", "--bootstrap", "100",
         "--no-progress"]  # fmt: skip
cli = load_script("evaluate.py", "evaluate_crossplay_mv_cli")


def _mv(name: str):
    return lambda: make_multivenue_policy(name, "default")


def _run(folder, feature_names, n_out: int, env_id: str | None, seats=("mm1", "mm2"), **meta):
    """A fabricated train.py run: one policy, or a two-learner pair, over ``feature_names``."""
    arrays = toy_policy_arrays(feature_names)
    arrays["weights_1"] = np.random.default_rng(1).normal(size=(n_out, 4)).astype(np.float32)
    arrays["biases_1"] = np.zeros(n_out, np.float32)
    for seat in seats:
        (folder / seat).mkdir(parents=True)
        np.savez(folder / seat / "policy.npz", **arrays)
    (folder / "config.yaml").write_text("learners: mm1,mm2\n")
    data = {"status": "completed", **meta} | ({"env_id": env_id} if env_id else {})
    (folder / "metadata.json").write_text(json.dumps(data))
    return folder


def _mv_features() -> tuple[str, ...]:
    return MultiVenueTwoMakerVectorEnv(1, horizon_steps=20).policy_context("mm1").feature_names


def test_two_multivenue_baselines_play_every_pair_on_the_same_seeds():
    players = {"fixed": _mv("everywhere_fixed"), "touch": _mv("everywhere_touch")}
    eps = cross_play(players, "default", KW, n_episodes=3, seed=1, batch_size=2, env_id=MV)
    assert len(eps) == 4 * 3
    assert list(dict.fromkeys(zip(eps.mm1, eps.mm2, strict=True))) == [
        ("fixed", "fixed"), ("fixed", "touch"), ("touch", "fixed"), ("touch", "touch")
    ]  # fmt: skip
    for _, group in eps.groupby(["mm1", "mm2"]):
        np.testing.assert_array_equal(group["seed"], evaluation_seeds(3, 1))
    values = eps[["mm1_pnl", "mm2_pnl", "mm1_reward", "mm2_reward"]].to_numpy()
    assert np.isfinite(values).all() and (values != 0).any()
    # another opponent changes mm1's episodes: the makers meet in the same books
    a = eps[(eps.mm1 == "fixed") & (eps.mm2 == "fixed")]["mm1_pnl"].to_numpy()
    b = eps[(eps.mm1 == "fixed") & (eps.mm2 == "touch")]["mm1_pnl"].to_numpy()
    assert (a != b).any()


def _cells(eps: pd.DataFrame) -> dict[tuple[str, str], pd.DataFrame]:
    return {pair: g.reset_index(drop=True) for pair, g in eps.groupby(["mm1", "mm2"])}


def test_symmetric_contestants_give_a_table_consistent_with_the_seat_swap():
    """Two copies of one policy: four equal cells; two policies: the seats' roles swap."""
    copies = {"a": _mv("everywhere_fixed"), "b": _mv("everywhere_fixed")}
    cells = _cells(cross_play(copies, "default", KW, n_episodes=2, seed=4, env_id=MV))
    cols = ["mm1_reward", "mm2_reward", "mm1_pnl", "mm2_pnl"]
    for pair in (("a", "b"), ("b", "a"), ("b", "b")):
        pd.testing.assert_frame_equal(cells[pair][cols], cells[("a", "a")][cols])
    # A policy's PnL against the other is about the same from either seat (the seats differ
    # only in tie-breaks: measured 0.7 per episode on a 27 gap between the two policies).
    players = {"fixed": _mv("everywhere_fixed"), "touch": _mv("everywhere_touch")}
    eps = cross_play(players, "default", {"horizon_steps": 100}, n_episodes=4, seed=1,
                     env_id=MV)  # fmt: skip
    cells = _cells(eps)
    fixed_as_mm1 = cells[("fixed", "touch")]["mm1_pnl"].mean()
    fixed_as_mm2 = cells[("touch", "fixed")]["mm2_pnl"].mean()
    touch_as_mm2 = cells[("fixed", "touch")]["mm2_pnl"].mean()
    assert abs(fixed_as_mm1 - fixed_as_mm2) < 0.1 * abs(fixed_as_mm1 - touch_as_mm2)


def test_a_single_venue_policy_is_refused_before_any_play():
    played = []
    players = {"fixed": _mv("everywhere_fixed"), "fixed_1": lambda: FixedSpread(1.0)}
    with pytest.raises(ConfigError, match="contestant 'fixed_1' quotes a single venue") as err:
        cross_play(players, "default", KW, n_episodes=2, env_id=MV, progress=played.append)
    assert MV in str(err.value) and "\n" not in str(err.value) and not played
    with pytest.raises(ConfigError, match="contestant 'x' quotes several venues"):
        cross_play({"x": _mv("routed_as")}, "default", KW, n_episodes=2)


def test_portfolio_cross_play_is_refused():
    with pytest.raises(ConfigError, match="cross-play on mm_gym/Portfolio-v0 is not supported"):
        cross_play({"as": _mv("everywhere_as")}, env_id="mm_gym/Portfolio-v0")


def test_cli_plays_a_two_learner_multivenue_run_against_a_baseline(tmp_path):
    run = _run(tmp_path / "mvpair", _mv_features(), 6, MV)
    out = tmp_path / "cp"
    args = ["--env-id", MV, "--contestants", "routed_as", "--runs", str(run), *QUICK]
    matrix = main([*args, "--out", str(out)])
    assert matrix == 0
    table = pd.read_csv(out / "matrix.csv")
    assert list(dict.fromkeys(table["mm1"])) == ["routed_as", "mvpair.mm1", "mvpair.mm2"]
    assert len(table) == 9 and (table["episodes"] == 2).all()


@pytest.mark.parametrize(
    ("case", "says"),
    [
        ("single_run_on_mv", "was trained on mm_gym/MarketMaking-v1; this cross-play plays " + MV),
        ("mv_run_on_single", f"was trained on {MV}; this cross-play plays mm_gym/MarketMaking-v1"),
        ("routed_run", "routed action form"),
        ("single_baseline_on_mv", "'fixed_spread' is a single-venue baseline: it cannot quote"),
        ("mv_baseline_on_single", "'routed_as' is a multi-venue baseline"),
        ("portfolio", "cross-play on mm_gym/Portfolio-v0 is not supported"),
        ("fewer_venues", f"trained on 2 venue(s); this cross-play's market of {MV} has 3"),
        ("portfolio_run", "was trained on mm_gym/Portfolio-v0; cross-play does not play"),
    ],
)
def test_cli_refusals_are_one_line_before_any_output(tmp_path, capsys, case, says):
    single = ["--contestants", "fixed_spread"]
    argv = {
        "single_run_on_mv": ["--env-id", MV, "--runs", str(_run(
            tmp_path / "sv", FEATURE_NAMES, 2, "mm_gym/MarketMaking-v1"))],
        "mv_run_on_single": [*single, "--runs", str(_run(tmp_path / "mv", _mv_features(), 6, MV))],
        "routed_run": ["--env-id", MV, "--runs", str(_run(
            tmp_path / "routed", _mv_features(), 5, MV, env_kwargs={"action_form": "routed"}))],
        "single_baseline_on_mv": ["--env-id", MV, "--contestants", "fixed_spread"],
        "mv_baseline_on_single": ["--contestants", "routed_as"],
        "portfolio": ["--env-id", "mm_gym/Portfolio-v0"],
        # a run on venues A and B of A, B, C: its features are a subset, its env id the same
        "fewer_venues": ["--env-id", MV, "--contestants", "routed_as", "--runs", str(_run(
            tmp_path / "mv2", tuple(f for f in _mv_features() if not f.startswith("C.")), 4,
            MV))],
        "portfolio_run": ["--env-id", MV, "--runs", str(_run(
            tmp_path / "port", _mv_features(), 6, "mm_gym/Portfolio-v0"))],
    }[case]  # fmt: skip
    out = tmp_path / "out"
    assert main([*argv, *QUICK, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert says in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()


def test_evaluate_cross_play_on_multivenue_writes_the_export(tmp_path):
    run = _run(tmp_path / "mvpair", _mv_features(), 6, MV, seats=("mm1", "mm2"))
    out = tmp_path / "cp"
    assert cli.main(["--env-id", MV, "--cross-play", str(run), "everywhere_fixed",
                     "--regimes", "default", "--episodes", "2", "--horizon", "20",
                     "--no-progress", "--out", str(out)]) == 0  # fmt: skip
    matrix = pd.read_csv(out / "crossplay" / "default" / "matrix.csv")
    assert list(dict.fromkeys(matrix["mm1"])) == ["mvpair.mm1", "mvpair.mm2", "everywhere_fixed"]
    meta = json.loads((out / "run.json").read_text())
    assert meta["env_id"] == MV and (out / "report.pdf").read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--env-id", "mm_gym/Portfolio-v0", "--cross-play", "everywhere_as"],
         "cross-play on mm_gym/Portfolio-v0 is not supported"),
        (["--env-id", MV, "--cross-play", "glft"], "'glft' is a single-venue baseline"),
        (["--cross-play", "everywhere_as", "--regimes", "default"],
         "'everywhere_as' is a multi-venue baseline"),
        (["--env-id", MV, "--cross-play", "routed_as", "--news-model", "lm"],
         "--news-model is not available with --env-id"),
    ],
)  # fmt: skip
def test_evaluate_cross_play_refusals(tmp_path, capsys, extra, says):
    if "--news-model" in extra:  # evaluate.py checks the model's package first
        from mm_gym.news.scoring import model_version

        try:
            model_version("lm")
        except ImportError:
            pytest.skip("the news extra is not installed")
    out = tmp_path / "cp"
    with pytest.raises(SystemExit) as stop:
        cli.main([*extra, "--episodes", "2", "--no-progress", "--out", str(out)])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert says in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()
