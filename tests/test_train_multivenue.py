"""train.py on mm_gym/MultiVenue-v0: a run, exact resume, its policy in the tournament."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import load_script

pytest.importorskip("stable_baselines3")

import agents
from mm_gym.multivenue import MultiVenueVectorEnv
from mm_gym.multivenue import tournament as tour

train = load_script("train.py", "train_cli")
evaluate = load_script("evaluate.py", "evaluate_cli")
# The single-venue tests' tiny PPO settings and exact-resume check.
from test_train import TINY, check_resume_after_ctrl_c_is_exact  # noqa: E402

MV = ["--env-id", "mm_gym/MultiVenue-v0"]


def _run(tmp_path: Path, name: str, *extra: str, callbacks=None) -> Path:
    argv = [*TINY, *MV, "--runs-dir", str(tmp_path), "--run-name", name, *extra]
    return train.main(argv, callbacks=callbacks)


def test_multivenue_run_its_final_table_and_its_policy_in_the_tournament(tmp_path, capsys):
    run = _run(
        tmp_path, "mv", "--total-timesteps", "256", "--regime", "trending",
        "--eval-episodes", "4",
    )  # fmt: skip
    meta = json.loads((run / "metadata.json").read_text())
    assert meta["status"] == "completed" and meta["num_timesteps"] == 256
    assert meta["env_id"] == "mm_gym/MultiVenue-v0"
    assert meta["feature_names"][:3] == ["inventory", "time_left", "sentiment"]
    # The final table: the multi-venue baselines, on the training env (regime and horizon).
    table = pd.read_csv(run / "evaluation.csv")
    assert list(table.policy) == ["mv", "routed_as", "routed_glft", "everywhere_as"]
    assert (table.n_episodes == 4).all() and np.isfinite(table.sharpe_diff).all()
    assert meta["evaluation"]["episodes"] == 4
    # The saved policy is a QuotingPolicy of the multi-venue env: a bid and an ask per venue.
    policy = agents.load_policy(run)
    env = MultiVenueVectorEnv(3, horizon_steps=20)
    obs, _ = env.reset(seed=[1, 2, 3])
    policy.reset(np.random.default_rng(0), env.policy_context())
    actions = policy.act(obs)
    assert actions.shape == (3, 6) and np.abs(actions).max() <= 1.0
    # The tournament plays it as ppo:<name>, paired against the routers on the same seeds.
    out = tmp_path / "tour"
    argv = [
        "--runs", str(run), "--contestants", "routed_as", "routed_glft", "--baseline",
        "routed_as", "--episodes", "2", "--steps", "40", "--out", str(out), "--no-progress",
    ]  # fmt: skip
    assert tour.main(argv) == 0
    summary = pd.read_csv(out / "summary.csv").set_index("contestant")
    assert list(summary.index) == ["routed_as", "routed_glft", "ppo:mv"]
    episodes = pd.read_csv(out / "episodes.csv")
    mine = episodes[episodes.contestant == "ppo:mv"].set_index("seed")
    base = episodes[episodes.contestant == "routed_as"].set_index("seed")
    assert (mine.path_hash == base.path_hash).all()
    diff = (mine.total_pnl - base.total_pnl).mean()
    assert summary.loc["ppo:mv", "total_pnl_diff"] == pytest.approx(diff)
    # evaluate.py --env-id plays it too, as ppo:<name>, with the per-venue exports.
    out = tmp_path / "eval"
    argv = [
        "--env-id", "mm_gym/MultiVenue-v0", "--runs", str(run), "--contestants", "routed_as",
        "--regimes", "trending", "--episodes", "2", "--horizon", "40", "--out", str(out),
        "--no-progress",
    ]  # fmt: skip
    assert evaluate.main(argv) == 0
    makers = pd.read_csv(out / "makers.csv")
    assert list(makers.contestant) == ["routed_as", "ppo:mv"]
    assert set(pd.read_csv(out / "venues.csv").contestant) == {"routed_as", "ppo:mv"}


def test_multivenue_resume_after_ctrl_c_is_exact(tmp_path):
    # 96 steps per market: 40-step episodes end mid-rollout before the cut (384) and after it.
    check_resume_after_ctrl_c_is_exact(_run, tmp_path, 768)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([*MV, "--rival", "avellaneda_stoikov"], "mm2 is each venue's built-in rival"),
        ([*MV, "--eval-baselines", "avellaneda_stoikov"], "not a baseline of mm_gym/MultiVenue"),
        (["--eval-baselines", "routed_as"], "'routed_as' is not a baseline of mm_gym/MarketMak"),
        ([*MV, "--regime", "nope"], "regime='nope' is not valid"),
    ],
)
def test_unsupported_multivenue_combinations_exit_with_one_line(argv, message, cli_error):
    assert message in cli_error(train.cli, argv, prog="train.py")


def test_a_routed_run_its_final_table_and_its_evaluation(tmp_path, capsys, cli_error):
    routed = [x if x != "horizon_steps=40" else "horizon_steps=40 action_form=routed" for x in TINY]
    argv = [*routed, *MV, "--runs-dir", str(tmp_path), "--run-name", "rt", "--eval-episodes", "2"]
    run = train.main([w for x in [*argv, "--total-timesteps", "256"] for w in x.split(" ")], None)
    meta = json.loads((run / "metadata.json").read_text())
    assert meta["status"] == "completed" and meta["env_kwargs"]["action_form"] == "routed"
    # The final table: the routed policy against the per-venue baselines, on the same seeds.
    table = pd.read_csv(run / "evaluation.csv")
    assert list(table.policy) == ["rt", "routed_as", "routed_glft", "everywhere_as"]
    assert (table.n_episodes == 2).all() and np.isfinite(table.total_pnl_diff).all()
    policy = agents.load_policy(run)
    assert policy.action_form == "routed" and policy.n_venues == 3
    with np.load(run / "policy.npz") as arrays:  # recorded in the file too
        assert str(arrays["action_form"]) == "routed" and arrays["biases_2"].shape == (5,)
    # evaluate.py --env-id plays it beside the baselines; summary.csv has its row.
    out = tmp_path / "eval"
    argv = [
        "--env-id", "mm_gym/MultiVenue-v0", "--runs", str(run), "--contestants",
        "routed_as,everywhere_as", "--regimes", "default", "--episodes", "2", "--horizon", "40",
        "--out", str(out), "--no-progress",
    ]  # fmt: skip
    assert evaluate.main(argv) == 0
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.contestant) == ["routed_as", "everywhere_as", "ppo:rt"]
    assert np.isfinite(summary.total_pnl_mean).all()
    router = pd.read_csv(out / "router.csv")
    assert set(router.contestant) == {"routed_as", "everywhere_as", "ppo:rt"}
    # The tournament too; as a single-venue contestant it is refused in one line.
    argv = ["--runs", str(run), "--contestants", "everywhere_as", "--episodes", "2", "--steps",
            "40", "--out", str(tmp_path / "tour"), "--no-progress"]  # fmt: skip
    assert tour.main(argv) == 0
    assert "ppo:rt" in set(pd.read_csv(tmp_path / "tour" / "summary.csv").contestant)
    capsys.readouterr()
    err = cli_error(evaluate.main, ["--runs", str(run)], prog="evaluate.py")
    assert f"run {str(run)!r} was trained on a multi-venue env" in err
    argv = ["--env-id", "mm_gym/Portfolio-v0", "--runs", str(run), "--contestants", "routed_as"]
    err = cli_error(evaluate.main, argv, prog="evaluate.py")
    assert "--runs is not available with --env-id mm_gym/Portfolio-v0" in err


def _fake_run(folder: Path, env_id: str) -> Path:
    """A run folder whose metadata names ``env_id`` (the dispatch reads it before the policy)."""
    folder.mkdir(parents=True)
    (folder / "metadata.json").write_text(json.dumps({"created_by": "train.py", "env_id": env_id}))
    return folder


def test_each_tool_refuses_the_other_kind_of_run_in_one_line(tmp_path, capsys, cli_error):
    single = _fake_run(tmp_path / "single", "mm_gym/MarketMaking-v1")
    assert tour.main(["--runs", str(single), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "not on a multi-venue env" in err and "evaluate.py --runs" in err
    assert err.count("\n") == 1 and not (tmp_path / "o").exists()
    multi = _fake_run(tmp_path / "multi", "mm_gym/MultiVenue-v0")
    err = cli_error(evaluate.main, ["--runs", str(multi)], prog="evaluate.py")
    assert f"python -m mm_gym.multivenue.tournament --runs {multi}" in err


def test_multivenue_seed_sweep_aggregates_the_multivenue_tables(tmp_path):
    argv = [
        *TINY, *MV, "--runs-dir", str(tmp_path), "--run-name", "sw", "--seeds", "0,1",
        "--total-timesteps", "128", "--eval-episodes", "2", "--eval-baselines", "routed_as",
    ]  # fmt: skip
    out = train.main(argv)
    agg = pd.read_csv(out / "aggregate.csv").set_index(["comparison", "metric"])
    d = agg.loc[("policy - routed_as", "total_pnl")]
    per_run = [
        pd.read_csv(tmp_path / f"sw_s{s}" / "evaluation.csv").set_index("policy") for s in (0, 1)
    ]
    # The tables hold routed_as - policy; the aggregate policy - routed_as, its mean over seeds.
    assert d["mean"] == pytest.approx(
        -np.mean([t.loc["routed_as", "total_pnl_diff"] for t in per_run])
    )
    assert d["n_seeds"] == 2


def test_quote_profile_tells_the_touch_from_a_wider_quote():
    from baselines.multivenue import make_multivenue_policy

    profile = load_script("examples/multivenue_quotes.py", "multivenue_quotes").quote_profile
    touch, held = profile(make_multivenue_policy("everywhere_touch"), episodes=2, steps=30)
    wide, _ = profile(make_multivenue_policy("everywhere_as"), episodes=2, steps=30)
    assert list(touch.venue) == ["A", "B", "C"]
    assert (touch.bid_at_touch > 0.9).all() and (touch.ask_at_touch > 0.9).all()
    assert (wide.bid_at_touch == 0).all() and (wide.bid_offset > 0.5).all()
    assert 0 <= held["at_limit"] <= 1 and held["mean_abs_inventory"] >= 0
