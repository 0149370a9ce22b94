"""Reliability of evaluate.py and agents.load_policy (issue #10).

Most tests replace the tournament (``evaluate.run``) by a stub that writes one file into the
temporary folder, so they check the output machinery (ownership, locks, temporaries, signals)
in milliseconds; one test per item runs the real tournament on a tiny problem.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import ROOT, toy_policy_arrays
from test_evaluate_cli import cli, error_line

from agents.policy import POLICY_FILE, PolicyFileError, load_policy, save_policy_arrays
from mm_gym.files import exclusive_lock, temp_name
from mm_gym.observations import FEATURE_NAMES, FEATURE_NAMES_ALL

QUICK = ["--episodes", "2", "--horizon", "20", "--no-progress", "--runs", "none"]
ONE = ["--contestants", "fixed_spread", "--regimes", "trending"]
DEAD_PID = 2**22 + 12345  # above Linux's pid_max (2**22): never a live process


@pytest.fixture
def fake_run(monkeypatch):
    """Replace the tournament by a stub; ``calls`` records each temporary folder it wrote."""
    calls: list[Path] = []

    def run(args, regimes, contestants, rival, tmp):
        calls.append(tmp)
        (tmp / "summary.csv").write_text(f"run {len(calls)}\n")

    monkeypatch.setattr(cli, "run", run)
    return calls


@pytest.fixture
def no_run(monkeypatch):
    """The tournament must not start: every check happens before it."""

    def run(*args, **kwargs):
        raise AssertionError("the tournament ran although the input was refused")

    monkeypatch.setattr(cli, "run", run)


def _tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# --------------------------------------------------------------------------- 1. --overwrite


def test_overwrite_refuses_a_folder_that_is_not_an_export(tmp_path, cli_error, no_run):
    out = tmp_path / "results"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    line = error_line(cli_error, [*ONE, *QUICK, "--out", str(out), "--overwrite"])
    assert "is not an evaluate.py export" in line and "results" in line
    assert _tree(tmp_path) == ["results", "results/thesis.tex"]


@pytest.mark.parametrize("target", [".", "..", "ROOT", "CWD_ABS"])
def test_out_refuses_the_working_folder_its_parents_and_the_repo(
    tmp_path, cli_error, monkeypatch, no_run, target
):
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("x")
    # Even a folder carrying the export marker is refused when it is the working folder.
    (work / cli.EXPORT_MARKER).write_text("")
    monkeypatch.chdir(work)
    out = {"ROOT": str(ROOT), "CWD_ABS": str(work)}.get(target, target)
    line = error_line(cli_error, [*ONE, *QUICK, "--out", out, "--overwrite"])
    assert "--out" in line and "refusing" in line
    assert _tree(tmp_path) == ["work", f"work/{cli.EXPORT_MARKER}", "work/notes.txt"]
    assert (ROOT / "evaluate.py").is_file()


def test_overwrite_replaces_an_export_and_keeps_it_marked(tmp_path, fake_run):
    out = tmp_path / "exp"
    assert cli.main([*ONE, *QUICK, "--out", str(out)]) == 0
    assert (out / cli.EXPORT_MARKER).is_file()
    assert cli.main([*ONE, *QUICK, "--out", str(out), "--overwrite"]) == 0
    assert (out / "summary.csv").read_text() == "run 2\n"
    assert (out / cli.EXPORT_MARKER).is_file()
    assert _tree(tmp_path) == ["exp", f"exp/{cli.EXPORT_MARKER}", "exp/summary.csv"]


_KILLED_BETWEEN_THE_RENAMES = """
import os, signal, sys
from pathlib import Path

sys.path.insert(0, sys.argv[1])
import evaluate

def run(args, regimes, contestants, rival, tmp):
    (tmp / "summary.csv").write_text("run 2\\n")

rename = Path.rename

def rename_or_die(self, target):  # SIGKILL at the rename that puts the new export in place
    if Path(target).name == "exp" and self.name.startswith(".exp.tmp-"):
        os.kill(os.getpid(), signal.SIGKILL)
    return rename(self, target)

evaluate.run, Path.rename = run, rename_or_die
evaluate.main(sys.argv[2:])
"""


def _export_then_overwrite_killed(tmp_path: Path, script: str):
    """Export "run 1" into ``tmp_path/exp``, then run ``script`` (an ``--overwrite`` that kills
    itself with SIGKILL); return the folder, the ``--overwrite`` argv and the killed process."""
    out = tmp_path / "exp"
    assert cli.main([*ONE, *QUICK, "--out", str(out)]) == 0  # "run 1"
    argv = [*ONE, *QUICK, "--out", str(out), "--overwrite"]
    killed = subprocess.Popen(
        [sys.executable, "-c", script, str(ROOT), *argv],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    _, err = killed.communicate(timeout=300)
    assert killed.returncode == -signal.SIGKILL, err
    return out, argv, killed


def test_a_kill_while_overwriting_keeps_the_old_export_where_the_user_sees_it(
    tmp_path, capsys, fake_run
):
    out, argv, killed = _export_then_overwrite_killed(tmp_path, _KILLED_BETWEEN_THE_RENAMES)
    assert not out.exists()  # killed after moving the old export aside
    kept = [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    assert [p.name for p in kept] == [f"exp.previous-{killed.pid}"], _tree(tmp_path)
    assert (kept[0] / "summary.csv").read_text() == "run 1\n"
    assert (kept[0] / cli.EXPORT_MARKER).is_file()
    capsys.readouterr()
    # The next run cleans the dead run's hidden temporary, says where the old export waits and
    # leaves it there.
    assert cli.main(argv) == 0
    assert f"exp.previous-{killed.pid}" in capsys.readouterr().err
    assert (out / "summary.csv").read_text() == "run 2\n"
    assert (kept[0] / "summary.csv").read_text() == "run 1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exp", kept[0].name]


_KILLED_WHILE_DELETING_THE_OLD_EXPORT = """
import os, signal, sys

sys.path.insert(0, sys.argv[1])
import evaluate
import mm_gym.files

def run(args, regimes, contestants, rival, tmp):
    (tmp / "summary.csv").write_text("run 2\\n")

def remove_or_die(folder, marker, what):  # SIGKILL as the replaced export is being deleted
    os.kill(os.getpid(), signal.SIGKILL)

evaluate.run, mm_gym.files.remove_owned_folder = run, remove_or_die
evaluate.main(sys.argv[2:])
"""


def test_a_kill_while_deleting_the_replaced_export_leaves_no_visible_leftover(
    tmp_path, capsys, fake_run
):
    out, argv, _ = _export_then_overwrite_killed(tmp_path, _KILLED_WHILE_DELETING_THE_OLD_EXPORT)
    assert (out / "summary.csv").read_text() == "run 2\n"  # the new export is in place
    # The superseded export waits only as the dead run's hidden temporary: nothing visible
    # invites the user to "move it back" over the newer result.
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == ["exp"]
    capsys.readouterr()
    assert cli.main(argv) == 0
    assert "previous" not in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exp"]  # the temporary cleaned


def test_a_set_aside_export_with_this_runs_pid_is_named_and_never_renamed_over(
    tmp_path, capsys, fake_run
):
    # In a container every run may get the same pid: an earlier killed run's set-aside export
    # can bear this run's pid.
    out = tmp_path / "exp"
    assert cli.main([*ONE, *QUICK, "--out", str(out)]) == 0
    earlier = tmp_path / f"exp.previous-{os.getpid()}"
    shutil.copytree(out, earlier)
    (earlier / "summary.csv").write_text("run 0\n")
    capsys.readouterr()
    assert cli.main([*ONE, *QUICK, "--out", str(out), "--overwrite"]) == 0
    assert earlier.name in capsys.readouterr().err
    assert (out / "summary.csv").read_text() == "run 2\n"
    assert (earlier / "summary.csv").read_text() == "run 0\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exp", earlier.name]


def test_out_refuses_a_symbolic_link(tmp_path, cli_error, no_run):
    real = tmp_path / "real"
    real.mkdir()
    (real / cli.EXPORT_MARKER).write_text("")
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    line = error_line(cli_error, [*ONE, *QUICK, "--out", str(tmp_path / "link"), "--overwrite"])
    assert "symbolic link" in line
    assert (real / cli.EXPORT_MARKER).is_file()


# --------------------------------------------------------------------------- 2. concurrency


def test_two_default_runs_in_the_same_second_get_their_own_folders(tmp_path, monkeypatch, fake_run):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli.time, "strftime", lambda fmt: "20250101-000000")
    inner: list[int] = []
    started: list[bool] = []
    first_run = cli.run

    def run(args, regimes, contestants, rival, tmp):
        first_run(args, regimes, contestants, rival, tmp)
        if not started:  # a second run starts while the first is still running
            started.append(True)
            inner.append(cli.main([*ONE, *QUICK]))

    monkeypatch.setattr(cli, "run", run)
    assert cli.main([*ONE, *QUICK]) == 0
    assert inner == [0]
    exports = tmp_path / "exports"
    names = sorted(p.name for p in exports.iterdir())
    assert names == ["20250101-000000", "20250101-000000-1", "latest"]
    # Each run kept its own result; latest points at the one that finished last (the first).
    contents = {(exports / n / "summary.csv").read_text() for n in names[:2]}
    assert contents == {"run 1\n", "run 2\n"}
    assert os.readlink(exports / "latest") == "20250101-000000"


def test_second_run_into_a_busy_out_fails_with_one_line(tmp_path, cli_error, no_run):
    out = tmp_path / "exp"
    with exclusive_lock(out, "test"):
        line = error_line(cli_error, [*ONE, *QUICK, "--out", str(out)])
    assert "in use by another process" in line
    assert _tree(tmp_path) == ["exp", "exp/.lock"]  # the other process's folder, untouched


# --------------------------------------------------------------------------- 3. temporaries


def test_stale_temporaries_are_removed_and_live_ones_kept(tmp_path, monkeypatch, fake_run):
    monkeypatch.chdir(tmp_path)
    exports = tmp_path / "exports"
    stale = exports / f".20240101-000000.tmp-{DEAD_PID}"
    stale.mkdir(parents=True)
    (stale / "summary.csv").write_text("half")
    live = exports / f".20240101-000001.tmp-{os.getppid()}"
    live.mkdir()
    assert cli.main([*ONE, *QUICK]) == 0
    assert not stale.exists() and live.is_dir()
    # The run's own temporary folder was named by temp_name (pid recorded).
    assert re.fullmatch(rf"\.\d{{8}}-\d{{6}}\.tmp-{os.getpid()}", fake_run[0].name)


def test_temporary_is_named_with_pid_and_removed_after_a_crash(tmp_path, monkeypatch):
    seen = []

    def crash(args, regimes, contestants, rival, tmp):
        seen.append(tmp.name)
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(cli, "run", crash)
    with pytest.raises(RuntimeError):
        cli.main([*ONE, *QUICK, "--out", str(tmp_path / "exp")])
    assert seen == [temp_name("exp")]
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_prints_one_line_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "run", interrupted)
    assert cli.main([*ONE, *QUICK, "--out", str(tmp_path / "exp")]) == 130
    assert capsys.readouterr().err.strip() == "evaluate.py: interrupted; nothing written"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_during_the_tournament_leaves_nothing(tmp_path, sig, code):
    out = tmp_path / "exp"
    cmd = [
        sys.executable, str(ROOT / "evaluate.py"), *ONE, "--episodes", "100000",
        "--horizon", "1000", "--batch-size", "64", "--no-progress", "--runs", "none",
        "--out", str(out),
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (tmp_path / temp_name("exp").replace(str(os.getpid()), str(proc.pid))).exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.1)
    time.sleep(1.0)  # into the tournament
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and "nothing written" in lines[0], lines
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- 4. memory


@pytest.mark.parametrize(
    ("flags", "named"),
    [(["--episodes", str(10**12)], "--episodes"), (["--horizon", str(10**8)], "--horizon")],
)
def test_huge_requests_are_refused_up_front(tmp_path, cli_error, no_run, flags, named):
    t0 = time.perf_counter()
    line = error_line(cli_error, [*ONE, *QUICK, "--out", str(tmp_path / "o"), *flags])
    assert named in line and "needs about" in line and "available" in line
    assert time.perf_counter() - t0 < 60
    assert list(tmp_path.iterdir()) == []


def test_memory_estimate_grows_with_episodes_and_horizon():
    from mm_gym.evaluation import tournament_memory_bytes

    small = tournament_memory_bytes(["trending"], {"horizon_steps": 100}, 10, 2, 64)
    assert 0 < small < 50e6
    more_eps = tournament_memory_bytes(["trending"], {"horizon_steps": 100}, 10_000, 2, 64)
    longer = tournament_memory_bytes(["trending"], {"horizon_steps": 100_000}, 10, 2, 64)
    assert more_eps > 100 * small / 2 and longer > 100 * small


# --------------------------------------------------------------------------- 5. load_policy


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=False)
    return buf.getvalue()


def _expect_refused(file: Path, *fragments: str) -> None:
    with pytest.raises(ValueError) as info:
        load_policy(file)
    msg = str(info.value)
    assert isinstance(info.value, PolicyFileError)
    assert str(file) in msg and "\n" not in msg, msg
    for f in fragments:
        assert f in msg, msg


def test_load_policy_round_trip_still_works(tmp_path):
    save_policy_arrays(tmp_path / "run" / POLICY_FILE, toy_policy_arrays())
    assert load_policy(tmp_path / "run").feature_names == FEATURE_NAMES
    assert [p.name for p in (tmp_path / "run").iterdir()] == [POLICY_FILE]  # no temporary left


def test_load_policy_refuses_empty_and_truncated_files(tmp_path):
    save_policy_arrays(tmp_path / "good.npz", toy_policy_arrays())
    data = (tmp_path / "good.npz").read_bytes()
    (tmp_path / "empty.npz").write_bytes(b"")
    _expect_refused(tmp_path / "empty.npz", "empty")
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    _expect_refused(tmp_path / "cut.npz", "not a valid")
    (tmp_path / "text.npz").write_bytes(b"hello, I am not a zip file at all" * 10)
    _expect_refused(tmp_path / "text.npz", "not a valid")


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        (lambda a: a.pop("obs_var"), ["obs_var", "missing"]),
        (lambda a: a.pop("weights_1"), ["weights_1"]),
        (lambda a: a.update(obs_mean=np.zeros(3)), ["obs_mean", "shape"]),
        (lambda a: a.update(obs_var=-np.ones(len(FEATURE_NAMES))), ["obs_var", "negative"]),
        (lambda a: a.update(obs_var=np.full(len(FEATURE_NAMES), np.nan)), ["obs_var"]),
        (lambda a: a.update(weights_0=np.full((4, len(FEATURE_NAMES)), np.inf)), ["weights_0"]),
        (lambda a: a.update(biases_0=np.zeros(5, np.float32)), ["layer 0"]),
        (lambda a: a.update(clip_obs=np.float64(-1.0)), ["clip_obs"]),
        (lambda a: a.update(max_offset_ticks=np.float64(0.0)), ["max_offset_ticks"]),
        (lambda a: a.update(feature_names=np.array(["a", "a"])), ["feature_names"]),
        (lambda a: a.update(activation=np.array("softmax")), ["activation"]),
        (lambda a: a.update(weights_0=np.zeros((2, 2, 2))), ["weights_0"]),
    ],
)
def test_load_policy_refuses_bad_contents_naming_the_file(tmp_path, change, fragments):
    arrays = toy_policy_arrays()
    change(arrays)
    save_policy_arrays(tmp_path / POLICY_FILE, arrays)
    _expect_refused(tmp_path / POLICY_FILE, *fragments)


def test_load_policy_refuses_an_array_whose_header_claims_a_huge_shape(tmp_path):
    file = tmp_path / POLICY_FILE
    arrays = toy_policy_arrays()
    with zipfile.ZipFile(file, "w") as zf:
        for key, value in arrays.items():
            zf.writestr(f"{key}.npy", _npy(np.asarray(value)))
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            header, {"descr": "<f4", "fortran_order": False, "shape": (10**6, 10**6)}
        )
        zf.writestr("weights_2.npy", header.getvalue() + b"\0" * 64)
    _expect_refused(file, "weights_2", "(1000000, 1000000)")


def test_load_policy_refuses_a_zip_bomb_before_decompressing(tmp_path, monkeypatch):
    import agents.policy

    monkeypatch.setattr(agents.policy, "MAX_POLICY_BYTES", 1 << 20)
    file = tmp_path / POLICY_FILE
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key, value in toy_policy_arrays().items():
            zf.writestr(f"{key}.npy", _npy(np.asarray(value)))
        zf.writestr("padding.npy", _npy(np.zeros(1 << 20)))  # 8 MiB of zeros, ~8 kB zipped
    assert file.stat().st_size < 100_000
    _expect_refused(file, "MiB", "limit")


def test_load_policy_refuses_a_pickled_array(tmp_path):
    file = tmp_path / POLICY_FILE
    arrays = {k: np.asarray(v) for k, v in toy_policy_arrays().items()}
    arrays["feature_names"] = np.array(list(FEATURE_NAMES), dtype=object)
    np.savez(file, **arrays)
    _expect_refused(file, "feature_names")


def test_evaluate_reports_a_corrupt_policy_in_one_line(tmp_path, cli_error, no_run):
    run = tmp_path / "run"
    run.mkdir()
    (run / POLICY_FILE).write_bytes(b"PK\x03\x04 truncated")
    line = error_line(cli_error, [*ONE, *QUICK, "--runs", str(run), "--out", str(tmp_path / "o")])
    assert "cannot load run" in line and POLICY_FILE in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


# --------------------------------------------------------------------------- 6. observe_regime


def test_run_trained_with_observe_regime_is_evaluated(tmp_path):
    run = tmp_path / "regime_run"
    save_policy_arrays(run / POLICY_FILE, toy_policy_arrays(FEATURE_NAMES_ALL))
    out = tmp_path / "exp"
    argv = ["--contestants", "fixed_spread", "--regimes", "trending", "--runs", str(run)]
    assert cli.main([*argv, *QUICK[:-2], "--out", str(out)]) == 0
    episodes = pd.read_csv(out / "episodes.csv")
    assert set(episodes["policy"]) == {"fixed_spread", "ppo:regime_run"}
    assert np.isfinite(episodes["total_pnl"]).all()


def test_observing_the_regime_leaves_the_market_unchanged():
    # The rollout switches observe_regime on for a policy that needs it: the market paths must
    # stay those of the other contestants (common random numbers).
    from agents.policy import PPOPolicy
    from mm_gym.evaluation import evaluate_policies

    def pnl(observe):
        policy = PPOPolicy(toy_policy_arrays(FEATURE_NAMES), name="p")
        df = evaluate_policies(
            {"p": policy}, "switching", {"horizon_steps": 40, "observe_regime": observe}, 3
        )
        return df[["seed", "total_pnl", "n_fills"]].to_numpy()

    np.testing.assert_array_equal(pnl(False), pnl(True))


def test_run_needing_an_unknown_feature_is_refused_before_running(tmp_path, cli_error, no_run):
    run = tmp_path / "odd_run"
    save_policy_arrays(run / POLICY_FILE, toy_policy_arrays((*FEATURE_NAMES, "moon_phase")))
    argv = [*ONE, *QUICK[:-2], "--runs", str(run), "--out", str(tmp_path / "o")]
    line = error_line(cli_error, argv)
    assert "moon_phase" in line and "odd_run" in line


# --------------------------------------------------------------------------- 7. one-line errors


def test_invalid_env_override_is_one_line_before_running(tmp_path, cli_error, no_run):
    line = error_line(cli_error, [*ONE, *QUICK, "--horizon", str(10**9), "--out", str(tmp_path)])
    assert "horizon" in line


def test_unexpected_error_from_the_command_line_is_one_line(tmp_path):
    code = (
        "import sys, runpy; sys.argv = ['evaluate.py', '--contestants', 'fixed_spread', "
        "'--regimes', 'trending', '--episodes', '2', '--horizon', '20', '--no-progress', "
        f"'--runs', 'none', '--out', {str(tmp_path / 'o')!r}]; "
        "import mm_gym.evaluation as ev; "
        "ev.run_tournament = lambda *a, **k: (_ for _ in ()).throw(RuntimeError('boom'))\n"
        "runpy.run_path('evaluate.py', run_name='__main__')"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 1, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("evaluate.py: error: ") and "boom" in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_surfacing_as_another_error_is_an_interruption(tmp_path, capsys, monkeypatch):
    # Ctrl-C inside matplotlib's C code surfaced as "ValueError: Invalid affine transformation
    # matrix" (evaluate.py --env-id drawing its figures): it must read as an interruption.
    def drawing(args, regimes, contestants, rival, tmp):
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:
            raise ValueError("Invalid affine transformation matrix") from None

    monkeypatch.setattr(cli, "run", drawing)
    assert cli.main([*ONE, *QUICK, "--out", str(tmp_path / "exp")]) == 130
    assert capsys.readouterr().err.strip() == "evaluate.py: interrupted; nothing written"
    assert list(tmp_path.iterdir()) == []
    # Without a signal the same error is reported as an error, not an interruption.
    monkeypatch.setattr(cli, "run", lambda *a: (_ for _ in ()).throw(ValueError("bad")))
    with pytest.raises(ValueError, match="bad"):
        cli.main([*ONE, *QUICK, "--out", str(tmp_path / "exp")])
