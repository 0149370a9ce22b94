"""mm_gym.files: safe names, owned-folder removal, folder locks, stale temporaries, memory."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mm_gym import files


@pytest.mark.parametrize("name", ["ppo_s0", "run-1", "a.b", "A_9+x=y,z@w"])
def test_safe_component_accepts_plain_names(name: str) -> None:
    assert files.safe_component(name, "--run-name") == name


@pytest.mark.parametrize(
    "name",
    ["..", ".", "", "a/b", "../x", "/abs", ".hidden", "-rf", "a\\b", "a\0b", 3, None, "x" * 129],
)
def test_safe_component_refuses_paths_and_odd_names(name: object) -> None:
    with pytest.raises(files.UnsafePathError, match="--run-name"):
        files.safe_component(name, "--run-name")


def test_remove_owned_folder_only_removes_marked_folders(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "run.json").write_text("{}")
    other = tmp_path / "other"
    other.mkdir()
    (other / "precious.txt").write_text("keep")
    with pytest.raises(files.UnsafePathError, match="refusing to delete"):
        files.remove_owned_folder(other, "run.json", "a train.py run")
    assert (other / "precious.txt").read_text() == "keep"
    files.remove_owned_folder(mine, "run.json", "a train.py run")
    assert not mine.exists()


def test_remove_owned_folder_never_follows_a_link(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    (target / "run.json").write_text("{}")
    link = tmp_path / "link"
    link.symlink_to(target, target_is_directory=True)
    with pytest.raises(files.UnsafePathError):
        files.remove_owned_folder(link, "run.json", "a run")
    assert (target / "run.json").exists()


def test_exclusive_lock_refuses_a_second_process(tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import sys
        from mm_gym.files import exclusive_lock, FolderBusyError
        try:
            with exclusive_lock({str(tmp_path)!r}, "run folder"):
                print("got it")
        except FolderBusyError as exc:
            print("busy:", exc)
        """
    )
    with files.exclusive_lock(tmp_path, "run folder"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert out.stdout.startswith("busy: run folder"), out.stdout + out.stderr
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "got it", out.stderr


def test_clean_stale_temps_removes_only_dead_owners(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    dead = int(proc.stdout)  # that process has exited
    stale = tmp_path / f".20260101-000000.tmp-{dead}"
    stale.mkdir()
    (stale / "half.csv").write_text("x")
    stale_file = tmp_path / f".config.yaml.tmp-{dead}-ab12"
    stale_file.write_text("x")
    live = tmp_path / files.temp_name("20260101-000001")
    live.mkdir()
    user = tmp_path / f"notes.tmp-{dead}"  # not hidden: not ours
    user.mkdir()
    removed = files.clean_stale_temps(tmp_path)
    assert sorted(removed) == sorted([stale, stale_file])
    assert live.exists() and user.exists()


def test_check_memory_refuses_with_the_figures() -> None:
    available = files.memory_available_bytes()
    assert available is not None and available > 0
    files.check_memory(1024, "a small request")
    with pytest.raises(files.MemoryLimitError, match="--episodes 10") as info:
        files.check_memory(available * 2, "--episodes 10")
    assert "available" in str(info.value) and "GiB" in str(info.value)


def test_atomic_write_leaves_no_temporary_and_plain_permissions(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "f.txt"
    files.atomic_write_text(path, "hello")
    assert path.read_text() == "hello"
    assert [p.name for p in path.parent.iterdir()] == ["f.txt"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_atomic_write_temporaries_carry_the_pid(tmp_path: Path, monkeypatch) -> None:
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append(Path(src).name)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    files.atomic_write_text(tmp_path / "f.txt", "x")
    assert seen and seen[0].startswith(f".f.txt.tmp-{os.getpid()}-")
    # a copy of that name left by a dead writer is recognised as stale
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    left = tmp_path / seen[0].replace(str(os.getpid()), dead)
    left.write_text("half")
    assert files.clean_stale_temps(tmp_path) == [left]


def test_lock_removed_on_release_stays_exclusive(tmp_path: Path) -> None:
    with files.exclusive_lock(tmp_path, "run folder", remove_on_release=True):
        assert (tmp_path / files.LOCK_FILE).exists()
        with pytest.raises(files.FolderBusyError):
            with files.exclusive_lock(tmp_path, "run folder"):
                pass
    assert not (tmp_path / files.LOCK_FILE).exists()
    with files.exclusive_lock(tmp_path, "run folder", remove_on_release=True):
        pass


def test_lock_on_a_removed_file_is_not_taken(tmp_path: Path, monkeypatch) -> None:
    # A waiter that opened the lock file just before the holder removed it must not believe it
    # holds the lock: simulate by removing the file between open() and flock().
    import fcntl

    real_flock = fcntl.flock
    calls = []

    def flock_after_removal(fd, op):
        if not calls:
            (tmp_path / files.LOCK_FILE).unlink()
        calls.append(op)
        return real_flock(fd, op)

    monkeypatch.setattr(fcntl, "flock", flock_after_removal)
    with files.exclusive_lock(tmp_path, "run folder"):
        assert (tmp_path / files.LOCK_FILE).exists()
    assert len(calls) == 2  # the first lock was on the orphaned file, so it locked again
