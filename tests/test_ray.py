"""evaluate.py --ray, train.py --seeds --ray and examples/rllib_ppo.py on a local Ray (issue #19).

Marked ``ray`` (deselected by default; ``make test-ray`` installs the ``ray`` extra in a venv of
its own and runs them). One local Ray instance with 2 CPUs serves the module; the CLIs find it
initialised and use it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import ROOT, TINY_TRAIN_EVAL, load_script

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.ray

evaluate = load_script("evaluate.py", "evaluate_ray_cli")
train = load_script("train.py", "train_ray_cli")

# Two batches per rollout (5 episodes, --batch-size 3): the tasks split each rollout, and
# 'random' draws from the per-batch policy generator, so a wrong split changes its numbers.
TOUR = [
    "--contestants", "fixed_spread,random,avellaneda_stoikov", "--regimes", "trending,switching",
    "--episodes", "5", "--batch-size", "3", "--horizon", "40", "--runs", "none", "--no-progress",
]  # fmt: skip
TABLES = ("episodes.csv", "summary.csv", "bands.csv")


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    os.environ.setdefault("MM_GYM_PARALLEL", "off")  # the workers inherit it
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def single_process(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local") / "export"
    assert evaluate.main([*TOUR, "--out", str(out)]) == 0
    return out


def _assert_same_export(a: Path, b: Path) -> None:
    for name in TABLES:
        pd.testing.assert_frame_equal(
            pd.read_csv(a / name), pd.read_csv(b / name), check_exact=True
        )
    assert (a / "leaderboard.txt").read_text() == (b / "leaderboard.txt").read_text()
    traces = sorted(p.relative_to(a) for p in (a / "contestants").rglob("*.csv"))
    assert traces and traces == sorted(p.relative_to(b) for p in (b / "contestants").rglob("*.csv"))
    for rel in traces:
        pd.testing.assert_frame_equal(pd.read_csv(a / rel), pd.read_csv(b / rel), check_exact=True)


def test_evaluate_ray_equals_the_single_process_run(single_process, tmp_path, capsys):
    out = tmp_path / "export"
    assert evaluate.main([*TOUR, "--out", str(out), "--ray"]) == 0
    _assert_same_export(single_process, out)
    episodes = pd.read_csv(out / "episodes.csv")
    assert len(episodes) == 3 * 2 * 5 and episodes["episode_reward"].abs().sum() > 0
    # common random numbers: every contestant saw the same seeds in each regime
    seeds = episodes.groupby(["preset", "policy"])["seed"].apply(tuple)
    assert seeds.groupby(level="preset").nunique().eq(1).all()
    assert json.loads((out / "run.json").read_text())["args"]["ray"] == "local"


def test_run_tournament_ray_runs_one_task_per_batch():
    from baselines import FixedSpread, RandomQuoter
    from mm_gym.evaluation import run_tournament
    from mm_gym.evaluation.distributed import run_tournament_ray

    policies = {"fixed": FixedSpread(2.0), "random": RandomQuoter()}
    kw = {"overrides": {"horizon_steps": 30}, "n_episodes": 7, "seed": 3, "batch_size": 2}
    done: list[int] = []
    remote = run_tournament_ray(policies, ["mean_reverting"], progress=done.append, **kw)
    local = run_tournament(policies, ["mean_reverting"], **kw)
    assert len(done) == 2 * 4  # 2 contestants x 1 regime x ceil(7 / 2) batches
    pd.testing.assert_frame_equal(remote.episodes, local.episodes, check_exact=True)
    for a, b in zip(remote.rollouts, local.rollouts, strict=True):
        assert a.bands.keys() == b.bands.keys()
        for key in a.bands:
            np.testing.assert_array_equal(a.bands[key], b.bands[key])


def test_evaluate_ray_retries_a_task_whose_worker_died(single_process, tmp_path, monkeypatch):
    from mm_gym.evaluation.distributed import CRASH_ONCE_ENV

    crash = tmp_path / "crash"
    crash.mkdir()
    monkeypatch.setenv(CRASH_ONCE_ENV, str(crash))
    out = tmp_path / "export"
    assert evaluate.main([*TOUR, "--out", str(out), "--ray"]) == 0
    assert (crash / "crashed").is_file()  # a worker did die (os._exit) in its first attempt
    _assert_same_export(single_process, out)


def test_evaluate_ray_unreachable_address_is_one_line_naming_it(tmp_path, cli_error):
    import socket

    with socket.socket() as s:  # a free port on this machine: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "export"
    err = cli_error(evaluate.main, [*TOUR, "--out", str(out), "--ray", f"127.0.0.1:{port}"],
                    prog="evaluate.py")  # fmt: skip
    assert f"--ray 127.0.0.1:{port}: no Ray cluster reachable there" in err
    assert not out.exists()


TINY_TRAIN = [*TINY_TRAIN_EVAL, "--eval-baselines", "fixed_spread,avellaneda_stoikov"]


def test_train_seed_sweep_on_ray_writes_a_run_per_seed_and_the_aggregate(tmp_path, capsys):
    from agents.sweep import t_quantile

    out = train.main([*TINY_TRAIN, "--runs-dir", str(tmp_path), "--run-name", "sw",
                      "--seeds", "3-4", "--ray"])  # fmt: skip
    assert out == tmp_path / "sw_seeds"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sw_s3", "sw_s4", "sw_seeds"]
    runs = {}
    for s in (3, 4):
        meta = json.loads((tmp_path / f"sw_s{s}" / "metadata.json").read_text())
        assert meta["status"] == "completed" and meta["seed"] == s
        runs[s] = pd.read_csv(tmp_path / f"sw_s{s}" / "evaluation.csv").set_index("policy")
    agg = pd.read_csv(out / "aggregate.csv").set_index(["comparison", "metric"])
    own = np.array([runs[s].loc[f"sw_s{s}", "episode_reward_mean"] for s in (3, 4)])
    row = agg.loc[("policy", "episode_reward")]
    assert row["mean"] == pytest.approx(own.mean())
    half = t_quantile(1) * own.std(ddof=1) / np.sqrt(2)
    assert row["ci_low"] == pytest.approx(own.mean() - half)
    diff = np.array([-runs[s].loc["fixed_spread", "sharpe_diff"] for s in (3, 4)])
    assert agg.loc[("policy - fixed_spread", "sharpe"), "mean"] == pytest.approx(diff.mean())
    assert "train.py across 2 seeds (3-4)" in capsys.readouterr().out
    assert (out / "aggregate.txt").read_text().startswith("train.py across 2 seeds")


def test_rllib_example_runs_one_iteration_single_and_multi_agent(capsys):
    example = load_script("examples/rllib_ppo.py", "rllib_ppo_example")
    results = example.main(["--iterations", "1", "--horizon", "50", "--batch", "100"])
    assert set(results) == {"single", "multi"}
    for result in results.values():
        runners = result["env_runners"]
        assert runners["num_env_steps_sampled_lifetime"] >= 100
        assert np.isfinite(runners["episode_return_mean"])  # two 50-step episodes ended
    printed = capsys.readouterr().out
    assert "single-agent: iteration 1" in printed and "multi-agent: iteration 1" in printed
    assert ROOT.joinpath("examples", "rllib_ppo.py").is_file()


def test_without_retries_the_killed_worker_fails_the_run(tmp_path, monkeypatch):
    from baselines import FixedSpread
    from mm_gym.evaluation.distributed import CRASH_ONCE_ENV, run_tournament_ray

    monkeypatch.setenv(CRASH_ONCE_ENV, str(tmp_path))
    with pytest.raises(ray.exceptions.WorkerCrashedError):
        run_tournament_ray({"fixed": FixedSpread(2.0)}, ["trending"], {"horizon_steps": 20},
                           n_episodes=2, max_retries=0)  # fmt: skip
    assert (tmp_path / "crashed").is_file()
