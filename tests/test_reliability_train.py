"""train.py reliability (issue #10): safe run names, exclusive runs, stale temporaries, memory,
finite hyper-parameters, corrupt checkpoints, checkpoint digests and one-line errors."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("stable_baselines3")

from helpers import ROOT
from stable_baselines3.common.callbacks import BaseCallback
from test_train import TINY, _assert_same_params, _params, train

from mm_gym.files import exclusive_lock


def _main(tmp_path: Path, name: str, *extra: str, callbacks=None) -> Path:
    return train.main(
        [*TINY, "--runs-dir", str(tmp_path), "--run-name", name, *extra], callbacks=callbacks
    )


def _error(capsys) -> str:
    """The captured stderr, checked to be one ``train.py: error:`` line."""
    err = capsys.readouterr().err.strip()
    assert err.startswith("train.py: error: "), err
    assert "\n" not in err and "Traceback" not in err, err
    return err


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


@pytest.fixture(scope="module")
def base_run(tmp_path_factory) -> Path:
    """A finished tiny run (two checkpoints), copied by the tests that damage it."""
    root = tmp_path_factory.mktemp("base")
    return _main(root, "base", "--total-timesteps", "256")


@pytest.fixture
def run_copy(base_run, tmp_path) -> Path:
    dest = tmp_path / "runs" / "copy"
    shutil.copytree(base_run, dest)
    return dest


# ---- 1. run names and --overwrite ------------------------------------------------------------


def test_an_empty_runs_dir_is_refused_before_any_folder_is_made(tmp_path, capsys, monkeypatch):
    # Path("") / name is name: the run would land in the working folder.
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        train.main([*TINY, "--runs-dir", "", "--run-name", "x", "--total-timesteps", "64"])
    err = _error(capsys)
    assert "runs_dir=''" in err and "--runs-dir" in err, err
    assert list(tmp_path.iterdir()) == []


def test_a_saved_torch_thread_count_over_this_machines_bound_says_how_to_resume(
    tmp_path, capsys, monkeypatch
):
    # A run begun on a machine with more CPUs saved a thread count this machine's bound refuses.
    import torch

    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)  # keep this process's pool
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    _main(tmp_path, "big", "--torch-threads", "16", "--total-timesteps", "64")
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    capsys.readouterr()
    argv = ["--resume", str(tmp_path / "big"), "--total-timesteps", "128", "--no-progress"]
    with pytest.raises(SystemExit):
        train.main(argv)
    err = _error(capsys)
    assert "torch_threads=16 must be in [1, 8]" in err, err
    assert "--torch-threads may be changed on --resume" in err, err
    train.main([*argv, "--torch-threads", "1"])  # which resumes


@pytest.mark.parametrize("name", ["..", ".", "a/b", ".hidden", "-x", ""])
def test_run_name_must_be_one_safe_component(tmp_path, capsys, name):
    runs = tmp_path / "checkout" / "runs"
    runs.mkdir(parents=True)
    (tmp_path / "checkout" / "precious.py").write_text("x = 1\n")
    (tmp_path / "sibling").mkdir()
    argv = ["--runs-dir", str(runs), f"--run-name={name}", "--overwrite", "--no-progress"]
    with pytest.raises(SystemExit):
        train.main(argv)
    assert "run_name" in _error(capsys)
    assert (tmp_path / "checkout" / "precious.py").is_file()
    assert (tmp_path / "sibling").is_dir()


def test_overwrite_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    other = tmp_path / "notarun"
    other.mkdir()
    (other / "data.csv").write_text("1,2\n")
    with pytest.raises(SystemExit):
        _main(tmp_path, "notarun", "--overwrite", "--total-timesteps", "128")
    assert "not a train.py run" in _error(capsys)
    assert (other / "data.csv").read_text() == "1,2\n"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        (["--env-kwargs", "inventory_penalty=-1"], "inventory_penalty"),
        (["--regime", "sideways"], "regime"),
        (["--rival", "no_such_rival"], "no_such_rival"),
        (["--eval-baselines", "nope", "--eval-episodes", "2"], "nope"),
        (["--n-envs", "100000000", "--batch-size", "64"], "memory"),
    ],
)
def test_failed_overwrite_leaves_the_old_run_untouched(run_copy, capsys, extra, field):
    before = _snapshot(run_copy)
    with pytest.raises(SystemExit):
        _main(run_copy.parent, run_copy.name, "--overwrite", "--total-timesteps", "128", *extra)
    assert field in _error(capsys)
    assert _snapshot(run_copy) == before


def test_overwrite_replaces_a_run(run_copy):
    (run_copy / "stray.txt").write_text("old")
    _main(run_copy.parent, run_copy.name, "--overwrite", "--total-timesteps", "128")
    assert not (run_copy / "stray.txt").exists()
    meta = json.loads((run_copy / "metadata.json").read_text())
    assert meta["status"] == "completed" and meta["num_timesteps"] == 128


# ---- 2. one process per run folder, unique default names -------------------------------------


def test_second_run_on_a_locked_folder_fails(run_copy, tmp_path, capsys):
    with exclusive_lock(run_copy):
        with pytest.raises(SystemExit):
            train.main(["--resume", str(run_copy), "--total-timesteps", "512", "--no-progress"])
        assert "in use by another process" in _error(capsys)
        with pytest.raises(SystemExit):
            _main(run_copy.parent, run_copy.name, "--overwrite", "--total-timesteps", "128")
        assert "in use by another process" in _error(capsys)
        fresh = tmp_path / "runs" / "fresh"
        fresh.mkdir()
        with exclusive_lock(fresh), pytest.raises(SystemExit):
            _main(fresh.parent, "fresh", "--total-timesteps", "128")
        assert "in use by another process" in _error(capsys)
    assert json.loads((run_copy / "metadata.json").read_text())["num_timesteps"] == 256


def test_default_run_names_are_unique(tmp_path):
    argv = [*TINY, "--runs-dir", str(tmp_path), "--total-timesteps", "64"]
    a = train.main(argv)
    b = train.main(argv)
    assert a != b and a.parent == b.parent == tmp_path
    assert str(os.getpid()) in a.name


# ---- 3. stale temporaries and SIGTERM ----------------------------------------------------------


def test_stale_temporaries_are_removed_on_resume(run_copy):
    pid = _dead_pid()
    stale_dir = run_copy / f".checkpoint.tmp-{pid}"
    stale_dir.mkdir()
    (stale_dir / "model.zip").write_bytes(b"partial")
    stale_file = run_copy / f".policy.npz.tmp-{pid}"
    stale_file.write_bytes(b"partial")
    train.main(["--resume", str(run_copy), "--total-timesteps", "384", "--no-progress"])
    assert not stale_dir.exists() and not stale_file.exists()


def test_checkpoint_temporaries_carry_the_pid(tmp_path, monkeypatch):
    import agents.training as training

    seen: list[str] = []
    real_savez = training.np.savez

    def spy(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)):  # rng_state.npz, inside the temporary folder
            seen.extend(p.name for p in Path(file).parent.parent.iterdir())
        return real_savez(file, *args, **kwargs)

    monkeypatch.setattr(training.np, "savez", spy)
    _main(tmp_path, "pid", "--total-timesteps", "128")
    assert f".checkpoint.tmp-{os.getpid()}" in seen


def _cli(*argv: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, str(ROOT / "train.py"), *argv],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs,
    )  # fmt: skip


def test_sigterm_saves_a_checkpoint_like_ctrl_c(tmp_path):
    runs = tmp_path / "runs"
    proc = _cli(
        *TINY, "--runs-dir", str(runs), "--run-name", "term", "--total-timesteps", "100000000",
        "--checkpoint-every", "0",
    )  # fmt: skip
    run = runs / "term"
    # Into training: the first update has written its scalars (an events file past its header;
    # a fixed sleep after the folder appears was not enough on a loaded machine).
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if any(f.stat().st_size > 200 for f in (run / "tb").rglob("events*")):
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    meta = json.loads((run / "metadata.json").read_text())
    assert meta["status"] == "interrupted" and meta["num_timesteps"] > 0
    assert (run / "checkpoint" / "progress.json").is_file()


# ---- 4. memory -------------------------------------------------------------------------------


def test_huge_n_envs_is_refused_before_allocating(tmp_path, capsys):
    t0 = time.perf_counter()
    with pytest.raises(SystemExit):
        _main(tmp_path, "huge", "--n-envs", "100000000", "--batch-size", "64")
    err = _error(capsys)
    assert "n_envs=100000000" in err and "memory" in err
    assert time.perf_counter() - t0 < 30
    assert not (tmp_path / "huge").exists()


# ---- 5. hyper-parameters -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("clip-range", "nan"),
        ("target-kl", "nan"),
        ("learning-rate", "nan"),
        ("learning-rate", "inf"),
        ("learning-rate", "0"),
        ("gamma", "nan"),
        ("gae-lambda", "nan"),
        ("ent-coef", "nan"),
        ("ent-coef", "-1"),
        ("vf-coef", "-0.5"),
        ("max-grad-norm", "0"),
        ("max-grad-norm", "inf"),
        ("target-kl", "-1"),
        ("log-std-init", "nan"),
        ("log-std-init", "-inf"),
        ("clip-obs", "inf"),
        ("seed", "99999999999"),
    ],
)
def test_float_settings_must_be_finite_and_in_range(capsys, flag, value):
    with pytest.raises(SystemExit):
        train.parse_args([f"--{flag}={value}"])
    err = _error(capsys)
    name = flag.replace("-", "_")
    assert f"{name}={value}" in err or f"{name}={float(value)}" in err
    assert "must be" in err


# ---- 6. corrupt files on --resume, changed settings, --config ----------------------------------


@pytest.mark.parametrize(
    ("file", "content", "problem"),
    [
        ("checkpoint/env_state.pkl", b"not a pickle", "env_state.pkl"),
        ("checkpoint/model.zip", b"not a zip", "model.zip"),
        ("checkpoint/rng_state.npz", b"not a zip", "rng_state.npz"),
        ("checkpoint/progress.json", b"\xff\xfe", "progress.json"),
        ("checkpoint/progress.json", b"{", "progress.json"),
        ("checkpoint/progress.json", b"{}", "progress.json"),
    ],
)
def test_corrupt_checkpoint_file_is_one_line(run_copy, capsys, file, content, problem):
    (run_copy / file).write_bytes(content)
    with pytest.raises(SystemExit):
        train.main(["--resume", str(run_copy), "--total-timesteps", "512", "--no-progress"])
    err = _error(capsys)
    assert "digest" in err and "--trust" in err
    with pytest.raises(SystemExit):
        train.main(["--resume", str(run_copy), "--total-timesteps", "512", "--trust"])
    err = _error(capsys)
    assert problem in err


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("n_envz: 3\n", "n_envz"),
        ("n_envs: [\n", "not valid YAML"),
        ("1: 2\n", "keys must be names"),
        ("n_envs: eight\n", "n_envs"),
    ],
)
def test_corrupt_saved_config_is_one_line(run_copy, capsys, content, problem):
    (run_copy / "config.yaml").write_text(content)
    with pytest.raises(SystemExit):
        train.main(["--resume", str(run_copy), "--no-progress"])
    err = _error(capsys)
    assert problem in err and "config.yaml" in err


def test_corrupt_metadata_is_one_line(run_copy, capsys):
    (run_copy / "metadata.json").write_text("{oops")
    with pytest.raises(SystemExit):
        train.main(["--resume", str(run_copy), "--no-progress"])
    assert "metadata.json" in _error(capsys)


def test_resume_with_changed_n_envs_names_the_setting(run_copy, capsys):
    with pytest.raises(SystemExit):
        train.main(["--resume", str(run_copy), "--n-envs", "4"])
    err = _error(capsys)
    assert "differ from the saved settings" in err and "n_envs" in err


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (BOMB, "alias"),
        ("1: 2\n", "keys must be names"),
        ("n_envs: [\n", "not valid YAML"),
        ("- 1\n- 2\n", "mapping"),
        ("n_envz: 3\n", "n_envz"),
    ],
)
def test_bad_config_file_is_one_line(tmp_path, capsys, content, problem):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(content)
    with pytest.raises(SystemExit):
        train.parse_args(["--config", str(cfg)])
    assert problem in _error(capsys)


# ---- 7. checkpoint digests, --trust, resuming a run stopped before its first checkpoint -------


def test_help_says_resume_unpickles(capsys):
    with pytest.raises(SystemExit):
        train.parse_args(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "unpickles" in out and "--trust" in out
    assert "unpickles" in train.__doc__


def test_checkpoint_digests_are_recorded_and_checked(run_copy, capsys):
    meta = json.loads((run_copy / "metadata.json").read_text())
    digests = meta["checkpoint_sha256"]
    assert isinstance(digests, list) and len(digests) == 1
    assert set(digests[0]) >= {"model.zip", "env_state.pkl", "rng_state.npz", "progress.json"}
    progress = run_copy / "checkpoint" / "progress.json"
    progress.write_text(progress.read_text().replace('"n_updates"', '"n_updates" ', 1))
    with pytest.raises(SystemExit):
        train.main(["--resume", str(run_copy), "--total-timesteps", "384", "--no-progress"])
    err = _error(capsys)
    assert "progress.json" in err and "--trust" in err
    train.main(["--resume", str(run_copy), "--total-timesteps", "384", "--no-progress", "--trust"])
    meta = json.loads((run_copy / "metadata.json").read_text())
    assert meta["num_timesteps"] == 384 and len(meta["checkpoint_sha256"]) == 1


class _AbortAtStart(BaseCallback):
    """A second Ctrl-C before the first rollout: the run folder has no checkpoint yet."""

    def _on_training_start(self) -> None:
        raise KeyboardInterrupt

    def _on_step(self) -> bool:
        return True


def test_run_stopped_before_its_first_checkpoint_resumes_from_the_start(tmp_path):
    straight = _main(tmp_path, "straight", "--total-timesteps", "256", "--seed", "3")
    with pytest.raises(KeyboardInterrupt):
        _main(tmp_path, "early", "--total-timesteps", "256", "--seed", "3",
              callbacks=[_AbortAtStart()])  # fmt: skip
    early = tmp_path / "early"
    assert (early / "metadata.json").is_file() and not (early / "checkpoint").exists()
    train.main(["--resume", str(early), "--no-progress"])
    assert json.loads((early / "metadata.json").read_text())["status"] == "completed"
    _assert_same_params(_params(straight), _params(early))


def test_run_stopped_before_its_first_checkpoint_does_not_block_its_name(tmp_path, capsys):
    with pytest.raises(KeyboardInterrupt):
        _main(tmp_path, "early", "--total-timesteps", "256", callbacks=[_AbortAtStart()])
    early = tmp_path / "early"
    assert not (early / "checkpoint").exists()
    capsys.readouterr()
    run = _main(tmp_path, "early", "--total-timesteps", "256")  # no --resume, no --overwrite
    assert "stopped before its first checkpoint" in capsys.readouterr().err
    assert json.loads((run / "metadata.json").read_text())["status"] == "completed"
    # A run with a checkpoint still needs --resume or --overwrite.
    with pytest.raises(SystemExit):
        _main(tmp_path, "early", "--total-timesteps", "256")
    assert "--resume" in _error(capsys)


def test_folder_without_checkpoint_but_with_other_files_is_not_reused(tmp_path, capsys):
    with pytest.raises(KeyboardInterrupt):
        _main(tmp_path, "early", "--total-timesteps", "256", callbacks=[_AbortAtStart()])
    (tmp_path / "early" / "notes.txt").write_text("mine\n")
    with pytest.raises(SystemExit):
        _main(tmp_path, "early", "--total-timesteps", "256")
    assert "--resume" in _error(capsys)
    assert (tmp_path / "early" / "notes.txt").read_text() == "mine\n"


@pytest.mark.parametrize(
    ("extra", "shown"),
    [
        (["--regime", "sideways"], ["'sideways'", "shock_heavy"]),
        (["--env-id", "CartPole-v1"], ["'CartPole-v1'", "mm_gym/MarketMaking-v1"]),
        (["--env-id", "mm_gym/AS2008-v1"], ["'mm_gym/AS2008-v1'", "no order book"]),
        (["--rival", "no_such_rival"], ["'no_such_rival'", "avellaneda_stoikov"]),
        (["--env-kwargs", "no_such_key=1"], ["'no_such_key'", "inventory_penalty"]),
        (["--env-kwargs", "action_type=discrete"], ["Discrete(", "continuous (bid, ask)"]),
    ],
)
def test_failed_start_creates_no_run_folder(tmp_path, capsys, extra, shown):
    with pytest.raises(SystemExit):
        _main(tmp_path, "x", "--total-timesteps", "128", *extra)
    err = _error(capsys)
    assert all(s in err for s in shown), err
    assert not (tmp_path / "x").exists()


# ---- 8. one line on every error path of the command line ---------------------------------------


def test_cli_errors_are_one_line_without_traceback(tmp_path):
    proc = _cli("--runs-dir", str(tmp_path), "--run-name", "..", "--overwrite")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.strip().startswith("train.py: error: ") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_swallowed_ctrl_c_still_stops_the_run(tmp_path, monkeypatch, capsys):
    """A Ctrl-C raised inside a weakref callback (the import machinery's module locks) is
    swallowed by Python; the recorded signal stops the run before any folder is made."""
    real = train.set_up_torch

    def swallowed(threads: int) -> None:
        real(threads)
        train._INTERRUPTED.append("running")  # what _interrupted records before it raises

    monkeypatch.setattr(train, "set_up_torch", swallowed)
    monkeypatch.setattr(train, "_INTERRUPTED", [])
    argv = [*TINY, "--runs-dir", str(tmp_path), "--run-name", "x", "--total-timesteps", "64"]
    assert train.cli(argv) == 130
    assert not (tmp_path / "x").exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("train.py: error: interrupted"), err


def test_the_unraisable_hook_keeps_only_a_swallowed_ctrl_c_quiet(monkeypatch, capsys):
    class RaisesOnDel:
        def __init__(self, exc: BaseException) -> None:
            self.exc = exc

        def __del__(self) -> None:
            raise self.exc

    monkeypatch.setattr(sys, "unraisablehook", train._unraisable)
    RaisesOnDel(KeyboardInterrupt())  # Python swallows it: "Exception ignored in ..."
    assert capsys.readouterr().err == ""
    RaisesOnDel(ValueError("lost"))
    assert "ValueError: lost" in capsys.readouterr().err


def test_ctrl_c_before_training_is_one_line(tmp_path):
    proc = _cli(*TINY, "--runs-dir", str(tmp_path), "--run-name", "x", "--total-timesteps", "64")
    time.sleep(1.5)  # importing torch, building the env
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert "Traceback" not in err, err
    lines = [line for line in err.strip().splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("train.py: "), err


def test_an_in_process_cli_call_forgets_an_earlier_ctrl_c_and_restores_the_handler(
    tmp_path, monkeypatch
):
    """A notebook calling train.cli again after a Ctrl-C: the new run trains; Ctrl-C is its own."""
    before = signal.getsignal(signal.SIGINT)
    monkeypatch.setattr(train, "_INTERRUPTED", ["running"])  # an earlier call's Ctrl-C
    argv = [*TINY, "--runs-dir", str(tmp_path), "--run-name", "x", "--total-timesteps", "64"]
    assert train.cli(argv) == 0
    assert json.loads((tmp_path / "x" / "metadata.json").read_text())["status"] == "completed"
    assert signal.getsignal(signal.SIGINT) is before
    assert train._INTERRUPTED == []
