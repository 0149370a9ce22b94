"""evaluate.py: smoke run into tmp_path, output files and columns, one-line errors on bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import ROOT, load_script

cli = load_script("evaluate.py", "evaluate_cli")
QUICK = ["--episodes", "3", "--horizon", "60", "--no-progress", "--runs", "none"]


def test_cli_smoke_writes_every_output(tmp_path):
    out = tmp_path / "exp"
    cmd = [
        sys.executable, str(ROOT / "evaluate.py"), "--contestants",
        "fixed_spread,avellaneda_stoikov,random", "--regimes", "mean_reverting,trending",
        "--out", str(out), *QUICK,
    ]  # fmt: skip
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert "== all (6 episodes per policy) ==" in res.stdout
    from mm_gym.evaluation import LEADERBOARD_LEGEND

    assert LEADERBOARD_LEGEND in res.stdout  # under the leaderboard, and in leaderboard.txt
    assert res.stdout.index(LEADERBOARD_LEGEND) > res.stdout.index("== all")
    assert (out / "leaderboard.txt").read_text().endswith(LEADERBOARD_LEGEND)
    for rel in ("summary.csv", "episodes.csv", "leaderboard.txt", "report.pdf", "run.json"):
        assert (out / rel).is_file(), rel
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF")
    pypdf = pytest.importorskip("pypdf")
    pages = pypdf.PdfReader(out / "report.pdf").pages
    report = " ".join(" ".join(p.extract_text() for p in pages).split())  # lines joined
    for words in ("fixed_spread, avellaneda_stoikov, random", "Leaderboard, pooled over regimes",
                  "Definitions: units and metrics", "Regime: mean_reverting", "Regime: trending",
                  "--episodes 3 --horizon 60"):  # fmt: skip
        assert words in report, words
    summary = pd.read_csv(out / "summary.csv")
    for col in (
        "preset", "policy", "n_episodes", "total_pnl_mean", "total_pnl_std", "total_pnl_ci_low",
        "total_pnl_ci_high", "total_pnl_diff", "total_pnl_diff_low", "total_pnl_diff_high",
        "spread_capture_mean", "inventory_pnl_mean", "fees_mean", "realized_pnl_mean",
        "unrealized_pnl_mean", "sharpe_mean", "max_drawdown_mean", "mean_abs_inventory_mean",
        "inventory_variance_mean", "frac_at_limit_mean", "fill_rate_mean",
        "quoted_spread_ticks_mean", "var_mean", "es_mean", "mean_impact_mean",
        "impact_slope_mean", "episode_reward_mean",
    ):  # fmt: skip
        assert col in summary.columns, col
    assert len(summary) == 3 * 3  # 3 contestants x (2 regimes + pooled)
    as_rows = summary[summary["policy"] == "avellaneda_stoikov"]
    assert (as_rows["total_pnl_diff"] == 0).all()
    episodes = pd.read_csv(out / "episodes.csv")
    assert len(episodes) == 3 * 2 * 3 and (episodes["length"] == 60).all()
    for name in ("fixed_spread", "avellaneda_stoikov", "random"):
        for regime in ("mean_reverting", "trending"):
            folder = out / "contestants" / name / regime
            for who in ("MM1", "MM2"):
                trace = pd.read_csv(folder / f"{who}_metrics.csv")
                assert list(trace.columns[:10]) == [
                    "step", "mid", "bid", "ask", "inventory", "cash", "realized", "unrealized",
                    "fees", "total",
                ]  # fmt: skip
                assert {"regime", "sentiment", "event"} <= set(trace.columns)
                assert len(trace) == 60
                impact = pd.read_csv(folder / f"{who}_market_impact.csv")
                assert {"size", "side", "pre_mid", "post_mid", "impact"} <= set(impact.columns)
            assert (folder / "market_impact.csv").is_file()
            assert not (folder / "headlines.csv").exists()  # only with --news-model
    plots = {p.name for p in (out / "plots").iterdir()}
    for stem in ("pnl_attribution", "inventory_paths", "market_impact", "equity_curves"):
        assert f"{stem}_trending.png" in plots
    assert "pnl_distributions.png" in plots
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exp"]  # no temporary folder left


def test_news_model_exports_the_sample_episodes_headlines(tmp_path, tmp_path_factory, monkeypatch):
    """--news-model: headlines.csv per sample episode; the market (and so the PnL) unchanged."""
    pytest.importorskip("vaderSentiment")
    from mm_gym.news import load_bank

    cache = tmp_path_factory.getbasetemp() / "news_cache"
    monkeypatch.setenv("MM_GYM_CACHE", str(cache))
    args = ["--contestants", "fixed_spread,random", "--regimes", "trending", *QUICK]
    args += ["--horizon", "400"]  # about 20 headlines at the preset's news rate
    assert cli.main([*args, "--news-model", "vader", "--out", str(tmp_path / "news")]) == 0
    assert cli.main([*args, "--out", str(tmp_path / "plain")]) == 0
    news, plain = tmp_path / "news", tmp_path / "plain"
    bank = load_bank("vader")  # the one the runs used, from the cache
    first = None
    for name in ("fixed_spread", "random"):
        folder = news / "contestants" / name / "trending"
        heads = pd.read_csv(folder / "headlines.csv")
        assert list(heads.columns) == ["step", "flat_index", "bucket", "score", "headline"]
        assert len(heads) >= 5 and heads["step"].is_monotonic_increasing
        for row in heads.itertuples():  # as the bank has them (score to the csv's precision)
            bucket, score, text = bank.lookup(row.flat_index)
            assert (row.bucket, row.headline) == (bucket, text)
            assert row.score == pytest.approx(score, abs=1e-12)
        # the same exogenous path for every contestant (common random numbers)
        first = heads if first is None else first
        pd.testing.assert_frame_equal(heads, first)
    assert json.loads((news / "run.json").read_text())["args"]["news_model"] == "vader"
    # Headlines change the observed sentiment only: policies that do not read it score the same.
    on, off = pd.read_csv(news / "episodes.csv"), pd.read_csv(plain / "episodes.csv")
    pd.testing.assert_frame_equal(on, off)
    assert not list(plain.glob("contestants/*/*/headlines.csv"))


def test_cli_scenarios_mode(tmp_path):
    out = tmp_path / "stress"
    args = ["--contestants", "fixed_spread", "--regimes", "trending", "--scenarios"]
    assert cli.main([*args, "--out", str(out), *QUICK]) == 0
    scen = pd.read_csv(out / "scenarios.csv")
    assert scen["scenario"].nunique() == 6  # 3 sigma multipliers x 2 shock rates
    assert (out / "plots" / "scenarios.png").is_file()
    episodes = pd.read_csv(out / "scenario_episodes.csv")
    # Scenarios re-simulate independent episodes: seeds differ from the tournament's.
    base = pd.read_csv(out / "episodes.csv")
    assert not set(episodes["seed"]) & set(base["seed"])


@pytest.mark.slow  # 14-30 s; in make test-full (the default suite's 600 s budget)
def test_cli_realism_mode(tmp_path):
    """--realism writes each regime's realism report (as python -m mm_gym.realism would)."""
    from mm_gym.config import preset
    from mm_gym.realism.report import measure

    out = tmp_path / "real"
    args = ["--contestants", "fixed_spread", "--regimes", "mm_gym/Trending-v1,trending"]
    sample = ["--realism-markets", "4", "--realism-steps", "400"]
    assert cli.main([*args, "--realism", *sample, "--out", str(out), *QUICK]) == 0
    table = pd.read_csv(out / "realism" / "realism.csv")
    assert set(table["preset"]) == {"trending"}  # an id and its preset name: measured once
    assert (out / "realism" / "realism.md").is_file()
    assert (out / "realism" / "acf_returns.png").is_file()
    seconds = json.loads((out / "run.json").read_text())["seconds"]
    assert seconds["realism"] > 0
    # The same measurement as the report's own (same sample, seed and preset).
    alone = measure({"trending": preset("trending")}, 4, 400, seed=0, progress=False)[0]
    ret = table.set_index("fact").loc["kurtosis_1"]
    fact = next(f for f in alone.facts if f.key == "kurtosis_1")
    assert float(ret["value"]) == pytest.approx(fact.value, rel=1e-9)


def error_line(cli_error, argv, code=2) -> str:
    """evaluate.py's one ``evaluate.py: error:`` line for ``argv`` (exit status ``code``)."""
    return cli_error(cli.main, argv, code, prog="evaluate.py")


def test_missing_run_folder(tmp_path, cli_error):
    line = error_line(cli_error, ["--out", str(tmp_path / "o"), *QUICK, "--runs", "runs/nope_x"])
    assert "run folder 'runs/nope_x' does not exist" in line
    assert list(tmp_path.iterdir()) == []


def test_corrupt_run_folder(tmp_path, cli_error, monkeypatch):
    import agents

    def load_policy(path):
        raise ValueError(f"{path}/model.zip is not a valid checkpoint\n(details)")

    monkeypatch.setattr(agents, "load_policy", load_policy, raising=False)
    run = tmp_path / "broken_run"
    run.mkdir()
    (run / "model.zip").write_bytes(b"garbage")
    line = error_line(cli_error, ["--out", str(tmp_path / "o"), *QUICK, "--runs", str(run)])
    assert "cannot load run" in line and "not a valid checkpoint" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken_run"]


def test_unwritable_output_folder(tmp_path, cli_error):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    line = error_line(cli_error, ["--out", str(blocker / "sub" / "out"), *QUICK])
    assert "cannot write the output folder" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


def test_non_empty_output_folder_needs_overwrite(tmp_path, cli_error):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    line = error_line(cli_error, ["--out", str(out), *QUICK])
    assert "exists and is not empty (use --overwrite)" in line
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_failure_during_the_run_leaves_nothing_behind(tmp_path, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(cli, "run", explode)
    with pytest.raises(RuntimeError, match="simulated crash"):
        cli.main(["--contestants", "random", "--out", str(tmp_path / "out"), *QUICK])
    assert list(tmp_path.iterdir()) == []


USER_MODULE = '''
from baselines import FixedSpread


class TwoTicks(FixedSpread):
    def __init__(self):
        super().__init__(2.0, name="two_ticks")


def tuned(setting, overrides):
    """A factory of (setting, overrides), as the registry's own entries."""
    assert overrides == {"horizon_steps": 60}, overrides
    return FixedSpread(3.0, name="three_ticks")
'''


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """A module ``my_mm_policies`` on sys.path, as a user's package would be."""
    (tmp_path / "my_mm_policies.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "my_mm_policies"
    sys.modules.pop("my_mm_policies", None)


def test_contestants_and_rival_accept_import_specs(tmp_path, user_module):
    out = tmp_path / "exp"
    argv = [
        "--contestants", f"fixed_spread,{user_module}:TwoTicks", "--rival",
        f"{user_module}:tuned", "--regimes", "trending", "--out", str(out), *QUICK,
    ]  # fmt: skip
    assert cli.main(argv) == 0
    episodes = pd.read_csv(out / "episodes.csv")
    assert set(episodes["policy"]) == {"fixed_spread", f"{user_module}:TwoTicks"}


@pytest.mark.parametrize(
    ("spec", "message"),
    [("no_such_module_xyz:Policy", "cannot import"), ("my_mm_policies:Missing", "no attribute")],
)
def test_bad_import_specs_are_one_line_errors(cli_error, user_module, spec, message):
    for flag in ("--contestants", "--rival"):
        line = error_line(cli_error, [flag, spec, "--regimes", "trending", *QUICK])
        assert message in line, line


def _fake_run(folder, status: str | None, mtime: float, policy: bool = True) -> None:
    folder.mkdir(parents=True)
    if policy:
        (folder / "policy.npz").write_bytes(b"not read by the selection")
    if status is not None:
        (folder / "metadata.json").write_text(json.dumps({"status": status}))
        os.utime(folder / "metadata.json", (mtime, mtime))


def test_runs_auto_adds_the_newest_completed_run_and_says_which(tmp_path, monkeypatch, capsys):
    import agents
    from baselines import FixedSpread

    runs = tmp_path / "runs"
    _fake_run(runs / "old_done", "completed", 1_000)
    _fake_run(runs / "new_done", "completed", 2_000)
    _fake_run(runs / "newer_interrupted", "interrupted", 3_000)
    _fake_run(runs / "newest_no_checkpoint", "running", 4_000, policy=False)
    _fake_run(runs / "no_metadata", None, 0)
    loaded = []
    monkeypatch.setattr(
        agents, "load_policy", lambda p: loaded.append(p) or FixedSpread(2.0), raising=False
    )
    monkeypatch.chdir(tmp_path)
    assert list(cli.load_runs(cli.parse_args(["--runs", "auto"]))) == ["ppo:new_done"]
    assert loaded == [str(Path("runs") / "new_done")]
    assert "--runs auto: adding runs/new_done (the newest completed run" in capsys.readouterr().out
    for name in ("old_done", "new_done"):
        shutil.rmtree(runs / name)
    assert cli.load_runs(cli.parse_args(["--runs", "auto"])) == {}
    assert "no completed train.py run under runs/; none added" in capsys.readouterr().out


def test_regimes_and_train_regime_share_one_vocabulary():
    from mm_gym.config import book_preset_names

    train = load_script("train.py", "train_cli")
    names = book_preset_names()
    assert {"default", "shock_heavy", "hawkes"} <= set(names)
    assert cli.select_regimes(cli.parse_args(["--regimes", ",".join(names)])) == names
    for name in names:
        assert train.parse_args(["--regime", name])[0].regime == name
    helps = (cli.Args.__dataclass_fields__["regimes"], train.Args.__dataclass_fields__["regime"])
    assert all(", ".join(names) in f.metadata["help"] for f in helps)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (["bogus=1"], "--env-kwargs: unknown key 'bogus'"),
        (["flow.shock_rate=-1"], "--env-kwargs: flow.shock_rate=-1 is out of range"),
        (["horizon_steps=50"], "--env-kwargs horizon_steps: set it with --horizon"),
        (["process.news_model=vader"], "--env-kwargs process.news_model: set it with --news-model"),
        (["inventory_penalty"], "--env-kwargs expects KEY=VALUE items"),
        (["action_type=discrete"], "--env-kwargs action_type: the contestants send continuous"),
    ],
)
def test_bad_env_kwargs_are_one_line_errors_before_any_folder(tmp_path, cli_error, kwargs, message):
    out = tmp_path / "o"
    line = error_line(cli_error, ["--out", str(out), *QUICK, "--env-kwargs", *kwargs])
    assert message in line, line
    assert not out.exists()


@pytest.mark.slow  # 14-30 s; in make test-full (the default suite's 600 s budget)
def test_env_kwargs_reach_every_regime_and_are_named_under_the_leaderboard(tmp_path):
    base = ["--contestants", "fixed_spread", "--regimes", "mean_reverting,trending", *QUICK]
    plain, penalised = tmp_path / "plain", tmp_path / "penalised"
    assert cli.main([*base, "--out", str(plain)]) == 0
    assert cli.main([*base, "--out", str(penalised), "--env-kwargs", "inventory_penalty=0.01"]) == 0
    a = pd.read_csv(plain / "episodes.csv")
    b = pd.read_csv(penalised / "episodes.csv")
    assert list(a.preset) == list(b.preset) and set(a.preset) == {"mean_reverting", "trending"}
    # The same market and quotes: the same PnL; a ten times higher penalty: a lower reward.
    pd.testing.assert_series_equal(a.total_pnl, b.total_pnl)
    assert (b.episode_reward < a.episode_reward).all()
    text = (penalised / "leaderboard.txt").read_text()
    assert "environment overrides (--env-kwargs, in every regime): inventory_penalty=0.01" in text
    assert json.loads((penalised / "run.json").read_text())["args"]["env_kwargs"] == {
        "inventory_penalty": 0.01
    }


def test_sentiment_as_is_tuned_before_the_clock_and_its_shift_reaches_the_quotes(
    tmp_path, tmp_path_factory, monkeypatch, capsys
):
    """sentiment_as's tuning is calibration time, not simulation (it made a 20-episode run
    report 508 market-steps/s); its pick goes to run.json, and a kappa != 0 changes the play."""
    pytest.importorskip("vaderSentiment")
    from baselines import calibration

    monkeypatch.setenv("MM_GYM_CACHE", str(tmp_path_factory.getbasetemp() / "news_cache"))
    monkeypatch.setattr(calibration, "_KAPPA_CACHE", {})  # tuned in this run, not earlier
    monkeypatch.setattr(calibration, "SENTIMENT_KAPPAS", (2.0,))
    monkeypatch.setattr(calibration, "SENTIMENT_WEIGHTS", ((1.0, 1.0),))
    monkeypatch.setattr(calibration, "SENTIMENT_TUNING_EPISODES", 2)
    phase = {"simulating": False, "tuned_while_simulating": 0}
    tune, simulate = calibration.tune_gamma, cli.simulate

    def tune_gamma(*args, **kwargs):
        phase["tuned_while_simulating"] += phase["simulating"]
        return tune(*args, **kwargs)

    def simulating(*args, **kwargs):
        phase["simulating"] = True
        return simulate(*args, **kwargs)

    monkeypatch.setattr(calibration, "tune_gamma", tune_gamma)
    monkeypatch.setattr(cli, "simulate", simulating)
    out = tmp_path / "sent"
    args = ["--contestants", "avellaneda_stoikov,sentiment_as", "--regimes", "mean_reverting"]
    assert cli.main([*args, "--news-model", "vader", "--out", str(out), *QUICK]) == 0
    assert phase == {"simulating": True, "tuned_while_simulating": 0}
    calib = json.loads((out / "run.json").read_text())["calibrations"]["mean_reverting"]
    assert calib["sentiment_as"] == {"weights": [1.0, 1.0], "kappa": 2.0}
    said = "sentiment_as on mean_reverting: tuned weights (1.0, 1.0), kappa 2\n"
    assert said in capsys.readouterr().out
    eps = pd.read_csv(out / "episodes.csv").set_index(["policy", "episode"])
    shifted, plain = eps.loc["sentiment_as"], eps.loc["avellaneda_stoikov"]
    # The shift reached the quotes: kappa * alpha != 0 plays otherwise than AS.
    assert not np.allclose(shifted["episode_reward"], plain["episode_reward"])
