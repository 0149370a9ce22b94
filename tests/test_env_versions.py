"""Env id versions (issue #12 deliverable 7): the v1 ids are registered, v0 is not, and a run
trained on a v0 id is refused in one line naming its id and the current one."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import gymnasium as gym
import pytest
import yaml
from helpers import load_script, toy_policy_arrays

import mm_gym
from agents import load_policy, make_rival
from agents.policy import save_policy_arrays
from mm_gym.config import MarketConfig, preset, preset_names

evaluate_cli = load_script("evaluate.py", "evaluate_cli_versions")
train_cli = load_script("train.py", "train_cli_versions")

V0, V1 = "mm_gym/MarketMaking-v0", "mm_gym/MarketMaking-v1"


def _old_run(root: Path, env_id: str = V0) -> Path:
    """A run folder as train.py 0.1 wrote it: policy.npz, config.yaml, metadata.json."""
    run = root / "old_run"
    save_policy_arrays(run / "policy.npz", toy_policy_arrays())
    args = dataclasses.asdict(train_cli.Args())
    args.update(env_id=env_id, run_name="old_run", runs_dir=str(root))
    (run / "config.yaml").write_text(yaml.safe_dump(args))
    meta = {"created_by": "train.py", "status": "completed", "env_id": env_id, "seed": 0}
    (run / "metadata.json").write_text(json.dumps(meta))
    return run


def test_v1_ids_are_registered_and_v0_ids_are_not():
    assert mm_gym.__version__ == "0.2.0"
    assert len(mm_gym.ENV_IDS) == 8
    for env_id in mm_gym.ENV_IDS:
        assert env_id.endswith("-v1") and env_id in gym.registry
        old = env_id[: -len("-v1")] + "-v0"
        assert old not in gym.registry
        assert mm_gym.retired_env_id(old) == env_id
        assert mm_gym.retired_env_id(env_id) is None
    assert mm_gym.retired_env_id("mm_gym/NoSuchEnv-v0") is None
    with pytest.raises(gym.error.Error), pytest.warns(DeprecationWarning, match="out of date"):
        gym.make(V0)


def test_book_presets_default_to_the_book_price_formation():
    assert MarketConfig().price_formation == "book"
    for name in preset_names():
        if preset(name).fills == "book":
            assert preset(name).price_formation == "book", name
    # the 0.1 market stays selectable
    env = gym.make(V1, price_formation="legacy", horizon_steps=5)
    assert env.unwrapped.market_config.price_formation == "legacy"
    env.close()


def test_load_policy_refuses_a_run_trained_on_v0_in_one_line(tmp_path):
    run = _old_run(tmp_path)
    for target in (run, run / "policy.npz"):
        with pytest.raises(mm_gym.ConfigError) as info:
            load_policy(target)
        msg = str(info.value)
        assert "\n" not in msg and V0 in msg and V1 in msg and str(run) in msg
    with pytest.raises(mm_gym.ConfigError, match="MarketMaking-v1"):
        make_rival(str(run))
    # the same folder recorded as a v1 run loads
    meta = json.loads((run / "metadata.json").read_text())
    (run / "metadata.json").write_text(json.dumps({**meta, "env_id": V1}))
    assert load_policy(run).name == "old_run"


def test_evaluate_runs_refuses_a_v0_run_in_one_line(tmp_path, cli_error):
    run = _old_run(tmp_path)
    argv = ["--episodes", "2", "--horizon", "20", "--no-progress", "--runs", str(run)]
    err = cli_error(evaluate_cli.main, [*argv, "--out", str(tmp_path / "o")]).splitlines()
    assert len(err) == 1 and err[0].startswith("evaluate.py: error: "), err
    assert V0 in err[0] and V1 in err[0]
    assert not (tmp_path / "o").exists()


def test_train_refuses_a_v0_rival_and_resume_in_one_line(tmp_path, cli_error):
    run = _old_run(tmp_path)
    for argv, code in (
        (["--rival", str(run), "--runs-dir", str(tmp_path / "new"), "--no-progress"], 2),
        (["--resume", str(run)], 2),
        (["--env-id", V0, "--runs-dir", str(tmp_path / "new")], 2),
    ):
        err = cli_error(train_cli.cli, argv, code).splitlines()
        assert len(err) == 1 and err[0].startswith("train.py: error: "), err
        assert V0 in err[0] and V1 in err[0], err
    assert not (tmp_path / "new").exists()
