"""train.py --seeds (agents.sweep) without Ray, and the --ray flags' bad input (issue #19).

These run in the default suite, with or without Ray installed; the Ray runs themselves are in
tests/test_ray.py (marked ``ray``).
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest
from helpers import TINY_TRAIN_EVAL, load_script

from agents.sweep import aggregate, parse_seeds, t_quantile
from mm_gym.cli import CliError

train = load_script("train.py", "train_sweep_cli")
evaluate = load_script("evaluate.py", "evaluate_sweep_cli")
HAS_RAY = importlib.util.find_spec("ray") is not None

TINY_TRAIN = [*TINY_TRAIN_EVAL, "--eval-baselines", "fixed_spread"]


@pytest.mark.parametrize(
    ("text", "seeds"),
    [("0-9", list(range(10))), ("0,2,5", [0, 2, 5]), ("0-2,7", [0, 1, 2, 7]), (" 4 , 6", [4, 6])],
)
def test_parse_seeds_accepts_ranges_and_lists(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("x", "'x' is not a non-negative integer or a range A-B"),
        ("-3", "'-3' is not a non-negative integer"),
        ("5-2", "the range '5-2' is empty (A > B)"),
        ("0,0", "a seed is given twice"),
        ("3", "a sweep needs at least 2 seeds"),
        ("0-4294967296", "above 4294967295"),
        ("0-5000", "more than 1000 seeds"),
    ],
)
def test_parse_seeds_errors_name_the_flag_value_and_form(text, why):
    with pytest.raises(CliError) as err:
        parse_seeds(text)
    msg = str(err.value)
    assert msg.startswith(f"--seeds={text!r}: ") and why in msg
    assert "the form is a range A-B (A <= B), a comma-separated list" in msg


def test_train_seeds_bad_value_is_one_error_line(cli_error, tmp_path):
    err = cli_error(train.cli, ["--seeds", "9-1", "--runs-dir", str(tmp_path)], prog="train.py")
    assert "--seeds='9-1': the range '9-1' is empty" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--ray"], "--ray trains the seeds of --seeds as Ray tasks: give --seeds too"),
        (["--seeds", "0-1", "--seed", "3"], "--seed=3 and --seeds=0-1: give one"),
        (["--seeds", "0-1", "--eval-episodes", "0"], "--seeds aggregates each run's held-out"),
    ],
)
def test_train_sweep_flag_conflicts_are_one_error_line(cli_error, tmp_path, argv, message):
    err = cli_error(train.cli, [*argv, "--runs-dir", str(tmp_path)], prog="train.py")
    assert message in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "p_df_t", [(1, 12.7062), (2, 4.3027), (4, 2.7764), (9, 2.2622), (100, 1.9840)]
)
def test_t_quantile_matches_the_tables(p_df_t):
    df, t = p_df_t
    assert t_quantile(df) == pytest.approx(t, abs=1e-4)


def _table(name: str, reward: float, diff: float, beaten: bool) -> list[dict]:
    cols = {f"{m}_{k}": 0.0 for m in ("episode_reward", "sharpe", "total_pnl")
            for k in ("mean", "diff")}  # fmt: skip
    me = {**cols, "policy": name, "episode_reward_mean": reward, "beaten": False}
    base = {**cols, "policy": "fixed_spread", "episode_reward_diff": diff, "beaten": beaten}
    return [me, base]


def test_aggregate_means_ci_and_beaten_count():
    results = [
        {"name": f"r{i}", "run_dir": f"/x/r{i}", "table": _table(f"r{i}", rew, d, b)}
        for i, (rew, d, b) in enumerate([(1.0, -2.0, True), (3.0, 0.5, False), (8.0, -1.0, True)])
    ]
    agg = aggregate([0, 1, 2], results).set_index(["comparison", "metric"])
    own = agg.loc[("policy", "episode_reward")]
    x = np.array([1.0, 3.0, 8.0])
    half = t_quantile(2) * x.std(ddof=1) / np.sqrt(3)
    assert own["mean"] == pytest.approx(4.0)
    assert (own["ci_low"], own["ci_high"]) == pytest.approx((4.0 - half, 4.0 + half))
    d = agg.loc[("policy - fixed_spread", "episode_reward")]
    assert d["mean"] == pytest.approx((2.0 - 0.5 + 1.0) / 3)  # policy - baseline = -diff
    assert d["beaten_seeds"] == 2 and d["n_seeds"] == 3


def test_train_seed_sweep_without_ray_writes_a_run_per_seed_and_the_aggregate(tmp_path, capsys):
    out = train.main([*TINY_TRAIN, "--runs-dir", str(tmp_path), "--run-name", "sw",
                      "--seeds", "0,2"])  # fmt: skip
    assert out == tmp_path / "sw_seeds"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sw_s0", "sw_s2", "sw_seeds"]
    assert sorted(p.name for p in out.iterdir()) == [
        ".mm_gym-sweep",
        "aggregate.csv",
        "aggregate.txt",
        "seeds.csv",
    ]
    per_seed = pd.read_csv(out / "seeds.csv")
    assert per_seed["seed"].tolist() == [0, 2]
    for s, reward in zip((0, 2), per_seed["episode_reward"], strict=True):
        table = pd.read_csv(tmp_path / f"sw_s{s}" / "evaluation.csv").set_index("policy")
        assert reward == table.loc[f"sw_s{s}", "episode_reward_mean"]
    text = capsys.readouterr().out
    assert "train.py across 2 seeds (0,2)" in text and "policy - fixed_spread" in text
    # The same sweep again: its run folders are taken, refused before anything trains.
    again = train.cli([*TINY_TRAIN, "--runs-dir", str(tmp_path), "--run-name", "sw",
                       "--seeds", "0,2"])  # fmt: skip
    assert again == 2 and "sw_s0" in capsys.readouterr().err


@pytest.mark.skipif(HAS_RAY, reason="Ray is installed")
def test_ray_flag_without_ray_says_how_to_install(cli_error, tmp_path):
    err = cli_error(evaluate.main, ["--ray", "--out", str(tmp_path / "e"), "--runs", "none"],
                    prog="evaluate.py")  # fmt: skip
    assert "--ray needs Ray, which is not installed: pip install 'mm-gym[ray]'" in err
    assert not (tmp_path / "e").exists()


@pytest.mark.skipif(not HAS_RAY, reason="needs Ray (make test-ray)")
@pytest.mark.parametrize("address", ["nohost", "host:notaport", "1.2.3.4:0"])
def test_ray_malformed_address_is_one_error_line(cli_error, tmp_path, address):
    err = cli_error(evaluate.main, ["--ray", address, "--out", str(tmp_path / "e"),
                                    "--runs", "none"], prog="evaluate.py")  # fmt: skip
    assert f"--ray {address!r}: an address is host:port" in err
