"""train.py: smoke run, determinism, exact resume after Ctrl-C, config precedence, atomic saves."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers import load_script

pytest.importorskip("stable_baselines3")

from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.save_util import load_from_zip_file

import agents
from mm_gym.evaluation import evaluate_policies

train = load_script("train.py", "train_cli")

# A tiny run: 8 markets x 16 steps per update, 40-step episodes (several ends per run).
TINY = [
    "--n-envs", "8", "--n-steps", "16", "--batch-size", "64", "--n-epochs", "2",
    "--net-arch", "16", "16", "--env-kwargs", "horizon_steps=40", "--no-progress",
    "--eval-episodes", "0", "--checkpoint-every", "256",
]  # fmt: skip


def _run(tmp_path: Path, name: str, *extra: str, callbacks=None) -> Path:
    argv = [*TINY, "--runs-dir", str(tmp_path), "--run-name", name, *extra]
    return train.main(argv, callbacks=callbacks)


def _params(run: Path, where: str = "checkpoint/model.zip") -> dict[str, np.ndarray]:
    """Every tensor of the policy and of its optimizer state, flattened to numpy arrays."""
    _, params, _ = load_from_zip_file(run / where, device="cpu")
    out: dict[str, np.ndarray] = {}

    def walk(prefix: str, obj) -> None:
        if hasattr(obj, "detach"):
            out[prefix] = obj.detach().cpu().numpy()
        elif isinstance(obj, dict):
            for k, v in obj.items():
                walk(f"{prefix}.{k}", v)
        elif isinstance(obj, (list, tuple)):
            for i, v in enumerate(obj):
                walk(f"{prefix}.{i}", v)
        elif isinstance(obj, (int, float)):
            out[prefix] = np.asarray(obj)

    walk("", params)
    return out


def _assert_same_params(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_train_smoke_resume_and_load_policy(tmp_path, capsys):
    run = _run(tmp_path, "smoke", "--total-timesteps", "512")
    for name in ("config.yaml", "metadata.json", "policy.npz", "model.zip", "vecnormalize.pkl"):
        assert (run / name).is_file(), name
    assert list((run / "tb").iterdir()), "no TensorBoard events"
    meta = json.loads((run / "metadata.json").read_text())
    assert meta["status"] == "completed" and meta["num_timesteps"] == 512
    assert meta["seed"] == 0 and "torch" in meta["versions"]
    # No compiled market kernel is pickled by value: a resumed process loads them from numba's
    # cache instead of recompiling them (over a minute).
    state = (run / "checkpoint" / "env_state.pkl").read_bytes()
    assert b"numba.core.serialize" not in state
    # Resume to a larger budget: continues from 512 steps.
    train.main(["--resume", str(run), "--total-timesteps", "1024", "--no-progress"])
    meta = json.loads((run / "metadata.json").read_text())
    assert meta["num_timesteps"] == 1024 and meta["wall_time_s"] > 0
    # Resuming a completed run says there is nothing to train, and trains nothing.
    capsys.readouterr()
    train.main(["--resume", str(run), "--no-progress"])
    assert "already trained 1,024 steps" in capsys.readouterr().err
    assert json.loads((run / "metadata.json").read_text())["num_timesteps"] == 1024
    policy = agents.load_policy(run)
    df = evaluate_policies({"ppo": policy}, "default", {"horizon_steps": 40}, n_episodes=2)
    assert np.isfinite(df["episode_reward"]).all()


def test_deterministic_training_same_seed_same_parameters(tmp_path):
    a = _run(tmp_path, "a", "--total-timesteps", "768", "--seed", "5")
    b = _run(tmp_path, "b", "--total-timesteps", "768", "--seed", "5")
    c = _run(tmp_path, "c", "--total-timesteps", "768", "--seed", "6")
    _assert_same_params(_params(a), _params(b))
    assert not np.array_equal(
        _params(a)[".policy.action_net.weight"], _params(c)[".policy.action_net.weight"]
    )


class _InterruptAt(BaseCallback):
    """Send ourselves SIGINT (a Ctrl-C) once ``steps`` steps are done."""

    def __init__(self, steps: int) -> None:
        super().__init__()
        self.steps = steps
        self.sent = False

    def _on_step(self) -> bool:
        if not self.sent and self.num_timesteps >= self.steps:
            self.sent = True
            os.kill(os.getpid(), signal.SIGINT)
        return True


def check_resume_after_ctrl_c_is_exact(run, tmp_path: Path, total: int, *extra: str) -> None:
    """A run of ``total`` steps equals one cut by a Ctrl-C at step 300 and resumed, bit for bit.

    ``run`` is a test file's ``_run`` (its tiny settings: 8 x 16 steps per update); the
    parameters, the optimizer state and ``policy.npz`` are compared.
    """
    straight = run(tmp_path, "straight", "--total-timesteps", str(total), *extra)
    # Ctrl-C in the middle of the third update's rollout (episodes end mid-rollout too).
    cut = run(
        tmp_path, "cut", "--total-timesteps", str(total), *extra, "--checkpoint-every", "0",
        callbacks=[_InterruptAt(300)],
    )  # fmt: skip
    meta = json.loads((cut / "metadata.json").read_text())
    assert meta["status"] == "interrupted" and meta["num_timesteps"] == 384
    assert not (cut / "evaluation.txt").exists()
    train.main(["--resume", str(cut), "--no-progress"])
    assert json.loads((cut / "metadata.json").read_text())["num_timesteps"] == total
    _assert_same_params(_params(straight), _params(cut))
    with np.load(straight / "policy.npz") as x, np.load(cut / "policy.npz") as y:
        for k in x.files:
            np.testing.assert_array_equal(x[k], y[k], err_msg=k)


def test_resume_after_ctrl_c_is_exact(tmp_path):
    check_resume_after_ctrl_c_is_exact(_run, tmp_path, 1280, "--lr-schedule", "linear")


def test_config_file_and_command_line_precedence(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"n_envs": 256, "learning_rate": 1e-4, "env_kwargs": {"a": 1}}))
    args, given = train.parse_args(["--config", str(cfg), "--learning-rate", "2e-4"])
    assert args.n_envs == 256 and args.learning_rate == 2e-4 and args.env_kwargs == {"a": 1}
    assert given == {"config", "learning_rate"}
    args, _ = train.parse_args(["--env-kwargs", "inventory_penalty=0.01", "flow.shock_rate=1e-3"])
    assert args.env_kwargs == {"inventory_penalty": 0.01, "flow.shock_rate": 1e-3}
    assert train.Args().total_timesteps > 0


def test_total_timesteps_accepts_integer_valued_floats(cli_error):
    assert train.parse_args(["--total-timesteps", "1e5"])[0].total_timesteps == 100_000
    assert train.parse_args(["--total-timesteps", "2_000"])[0].total_timesteps == 2_000
    err = cli_error(train.parse_args, ["--total-timesteps", "1.5"])
    assert "--total-timesteps" in err and "invalid int value: '1.5'" in err


def test_total_timesteps_rounded_up_to_whole_rollouts_and_said(tmp_path, capsys):
    run = _run(tmp_path, "rounded", "--total-timesteps", "200")  # rollouts of 8 x 16 = 128
    err = capsys.readouterr().err
    assert "--total-timesteps 200 rounded up to 256" in err and "8 x 16 = 128" in err
    assert json.loads((run / "metadata.json").read_text())["num_timesteps"] == 256
    assert yaml.safe_load((run / "config.yaml").read_text())["total_timesteps"] == 256


def test_regime_takes_every_book_preset_as_overrides_of_the_env():
    from mm_gym.config import book_preset_names, preset, preset_overrides, with_overrides

    def market_overrides(argv):
        overrides = train.env_overrides(train.parse_args(argv)[0])
        assert overrides.pop("penalty_timing") == "upfront"  # --penalty-timing's default
        return overrides

    for name in book_preset_names():
        overrides = market_overrides(["--regime", name])
        assert with_overrides(preset("default"), overrides) == preset(name)
    overrides = market_overrides(["--regime", "trending", "--env-kwargs", "flow.hawkes=true"])
    assert overrides == {"regime": "trending", "flow.hawkes": True}
    assert market_overrides(["--regime", "mm_gym/ShockHeavy-v1"]) == preset_overrides("shock_heavy")


def test_penalty_timing_reaches_the_env_and_an_old_run_resumes_with_running(tmp_path, capsys):
    args, _ = train.parse_args(["--penalty-timing", "running"])
    assert train.env_overrides(args) == {"penalty_timing": "running"}
    args, _ = train.parse_args(["--env-kwargs", "penalty_timing=running"])  # env kwargs win
    assert train.env_overrides(args)["penalty_timing"] == "running"
    run = _run(tmp_path, "t", "--total-timesteps", "128")
    assert yaml.safe_load((run / "config.yaml").read_text())["penalty_timing"] == "upfront"
    assert json.loads((run / "metadata.json").read_text())["env_kwargs"] == {
        "horizon_steps": 40,
        "penalty_timing": "upfront",
    }
    config = yaml.safe_load((run / "config.yaml").read_text())
    del config["penalty_timing"]  # as saved before the flag: those runs trained with "running"
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    resumed = train.resumed_settings(train.Args(resume=str(run)), {"resume"}, run)
    assert resumed.penalty_timing == "running"
    with pytest.raises(SystemExit):
        train.main([*TINY, "--runs-dir", str(tmp_path), "--penalty-timing", "later"])
    err = capsys.readouterr().err
    assert "penalty_timing='later' must be 'upfront' or 'running'" in err


def test_bad_config_key_and_bad_env_override(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("n_envz: 3\n")
    with pytest.raises(SystemExit):
        train.parse_args(["--config", str(cfg)])
    assert "n_envz" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _run(tmp_path, "bad", "--env-kwargs", "no_such_key=1")
    assert "no_such_key" in capsys.readouterr().err


def test_resume_of_a_missing_or_foreign_folder_says_which(tmp_path, capsys):
    with pytest.raises(SystemExit):
        train.main(["--resume", str(tmp_path / "nope")])
    assert "no such folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        train.main(["--resume", str(tmp_path)])
    assert "no config.yaml there" in capsys.readouterr().err
    assert not (tmp_path / "nope").exists()


def test_resume_rejects_changed_training_settings(tmp_path, capsys):
    run = _run(tmp_path, "r", "--total-timesteps", "128")
    with pytest.raises(SystemExit):
        train.main(["--resume", str(run), "--learning-rate", "0.1"])
    assert "learning_rate" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _run(tmp_path, "r", "--total-timesteps", "128")  # exists, no --overwrite
    assert "--resume" in capsys.readouterr().err


def test_failed_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch):
    run = _run(tmp_path, "atomic", "--total-timesteps", "256")
    before = _params(run)
    import agents.training as training

    def broken_dump(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(training.pickle, "dump", broken_dump)
    with pytest.raises(OSError, match="disk full"):
        train.main(["--resume", str(run), "--total-timesteps", "512", "--no-progress"])
    monkeypatch.undo()
    _assert_same_params(before, _params(run))
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == []


def test_rival_accepts_an_import_spec(tmp_path, monkeypatch):
    (tmp_path / "my_train_rival.py").write_text(
        "from baselines import FixedSpread\n\n\n"
        "def rival(setting, overrides):\n"
        "    # the training env's overrides: --penalty-timing's default, then --env-kwargs\n"
        "    assert overrides == {'penalty_timing': 'upfront', 'horizon_steps': 40}, overrides\n"
        "    return FixedSpread(2.0, name='my_rival')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    run = _run(
        tmp_path / "runs", "spec", "--total-timesteps", "128", "--rival", "my_train_rival:rival"
    )
    sys.modules.pop("my_train_rival", None)
    meta = json.loads((run / "metadata.json").read_text())
    assert meta["status"] == "completed" and meta["rival"] == "my_train_rival:rival"


def test_continuous_sizes_is_refused_before_training_unless_no_final_table(tmp_path, capsys):
    # The final table plays only continuous offsets: refused before any folder or training.
    sizes = ["--env-kwargs", "horizon_steps=40", "action_type=continuous_sizes"]
    with pytest.raises(SystemExit):
        _run(tmp_path, "sizes", "--total-timesteps", "128", *sizes, "--eval-episodes", "2")
    assert "--eval-episodes 0" in capsys.readouterr().err
    assert not (tmp_path / "sizes").exists()
    run = _run(tmp_path, "sizes", "--total-timesteps", "128", *sizes)  # TINY: no final table
    assert json.loads((run / "metadata.json").read_text())["status"] == "completed"
