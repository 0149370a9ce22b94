"""The run folder of ``train.py``: name, lock, ``metadata.json``, ``--overwrite``, temporaries.

A new run claims its folder with :func:`start_new_run`, a resumed one opens it with
:func:`open_resumed_run`.

A run holds an exclusive lock on its folder while it trains. ``--overwrite`` deletes only a
folder holding :data:`RUN_MARKER` (written as a run starts), and only once every setting has
been checked and the env and model built. A run that stopped before its first checkpoint
(:func:`unstarted_run`: nothing in its folder but what train.py writes before one) does not
block its name: a new run of that name replaces it without ``--overwrite``. Every problem is
reported through the tool's ``fail`` (one error line, exit code 2), as :mod:`mm_gym.cli` does.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import os
import platform
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml

from agents.train_settings import resumed_settings
from mm_gym.cli import Fail
from mm_gym.config import ConfigError, read_config_file
from mm_gym.files import (
    LOCK_FILE,
    FolderBusyError,
    UnsafePathError,
    atomic_write_text,
    clean_stale_temps,
    exclusive_lock,
    is_owned_folder,
    remove_owned_folder,
)

# The file that makes a folder recognisably a train.py run (written as the run starts); only
# such a folder may be deleted by --overwrite.
RUN_MARKER = "metadata.json"

# What train.py writes into a run folder before its first checkpoint (and the lock).
_BEFORE_FIRST_CHECKPOINT = frozenset({RUN_MARKER, "config.yaml", "tb", LOCK_FILE})


def write_metadata(run_dir: Path, metadata: dict[str, Any]) -> None:
    """Write ``metadata.json`` atomically."""
    atomic_write_text(run_dir / RUN_MARKER, json.dumps(metadata, indent=2, default=str) + "\n")


def default_run_name(env_id: str, seed: int) -> str:
    """``ppo_<env>_s<seed>_<time>_<pid>``: the pid keeps runs started in the same second apart."""
    env = env_id.split("/")[-1].split("-")[0].lower()
    name = f"ppo_{env}_s{seed}_{time.strftime('%Y%m%d-%H%M%S')}_{os.getpid()}"
    return re.sub(r"[^A-Za-z0-9_.+=,@-]", "_", name)


def _has_content(folder: Path) -> bool:
    """Whether ``folder`` holds anything besides the lock file."""
    return any(p.name != LOCK_FILE for p in folder.iterdir())


def enter_lock(stack: contextlib.ExitStack, folder: Path, fail: Fail) -> None:
    """Lock ``folder`` until ``stack`` closes (one error line if another process holds it)."""
    try:
        # Removed on release (while still held), so a finished run folder holds only its files.
        stack.enter_context(exclusive_lock(folder, "run folder", remove_on_release=True))
    except FolderBusyError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot use the run folder {str(folder)!r}: {exc.strerror or exc}")


def _remove_run(run_dir: Path, fail: Fail) -> None:
    """Delete ``run_dir`` if it is a train.py run (else fail, deleting nothing)."""
    try:
        remove_owned_folder(run_dir, RUN_MARKER, "a train.py run")
    except UnsafePathError as exc:
        fail(str(exc))


def _exists(run_dir: Path, fail: Fail) -> None:
    fail(f"{run_dir} exists: pass --resume {run_dir}, --overwrite or another --run-name")


def unstarted_run(run_dir: Path) -> bool:
    """Whether ``run_dir`` is a train.py run that stopped before its first checkpoint.

    True only for a real folder holding :data:`RUN_MARKER` and nothing but what train.py
    writes before its first checkpoint (``config.yaml``, ``tb/``, the lock, hidden
    temporaries): such a folder holds no training to lose, so its name may be reused.
    """
    if not is_owned_folder(run_dir, RUN_MARKER):
        return False
    for entry in run_dir.iterdir():
        temporary = entry.name.startswith(".") and ".tmp" in entry.name
        if entry.is_symlink() or not (entry.name in _BEFORE_FIRST_CHECKPOINT or temporary):
            return False
    return True


def check_new_run_folder(run_dir: Path, overwrite: bool, fail: Fail) -> bool:
    """Fail early (before the env is built) if ``run_dir`` cannot become this run's folder.

    Returns:
        Whether ``run_dir`` holds a run that stopped before its first checkpoint and will be
        replaced without ``--overwrite`` (:func:`unstarted_run`).
    """
    if run_dir.is_symlink() or (run_dir.exists() and not run_dir.is_dir()):
        fail(f"{str(run_dir)!r} exists and is not a run folder; choose another --run-name")
    if not run_dir.is_dir() or not _has_content(run_dir):
        return False
    reuse = not overwrite and unstarted_run(run_dir)
    if not overwrite and not reuse:
        _exists(run_dir, fail)
    if not is_owned_folder(run_dir, RUN_MARKER):
        _remove_run(run_dir, fail)  # raises, deletes nothing
    with contextlib.ExitStack() as probe:  # busy now: say so before the expensive part
        enter_lock(probe, run_dir, fail)
    return reuse


def claim_run_folder(
    runs_dir: str,
    run_name: str,
    overwrite: bool,
    default_name: str,
    hold: contextlib.ExitStack,
    fail: Fail,
) -> Path:
    """Create (or, with ``overwrite``, replace) the run folder and lock it in ``hold``.

    A run of the name that stopped before its first checkpoint (:func:`unstarted_run`) is
    replaced without ``overwrite``.

    Every setting has been checked and the env and model built before this is called, so a
    failed run never deletes the old one.

    Args:
        runs_dir: ``--runs-dir``.
        run_name: ``--run-name``; ``""`` for ``default_name`` (``_2``, ``_3``... if taken).
        overwrite: ``--overwrite``.
        default_name: The name when ``run_name`` is empty.
        hold: Holds the lock until the run ends.
        fail: The tool's error reporter.
    """
    runs = Path(runs_dir)
    try:
        runs.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"cannot create --runs-dir {runs_dir!r}: {exc.strerror or exc}")
    if not run_name:
        for i in itertools.count(1):
            run_dir = runs / (default_name if i == 1 else f"{default_name}_{i}")
            try:
                run_dir.mkdir()
            except FileExistsError:
                continue
            enter_lock(hold, run_dir, fail)
            return run_dir
    run_dir = runs / run_name
    check_new_run_folder(run_dir, overwrite, fail)
    run_dir.mkdir(exist_ok=True)
    with contextlib.ExitStack() as old:
        enter_lock(old, run_dir, fail)
        if not _has_content(run_dir):
            hold.enter_context(old.pop_all())
            return run_dir
        if not overwrite and not unstarted_run(run_dir):  # changed since the early check
            _exists(run_dir, fail)
        _remove_run(run_dir, fail)
    try:
        run_dir.mkdir()
    except FileExistsError:
        fail(f"{run_dir} was created by another process meanwhile; choose another --run-name")
    enter_lock(hold, run_dir, fail)
    return run_dir


def clean_run_folder(run_dir: Path) -> None:
    """Remove temporaries a killed train.py left in its (locked) run folder."""
    clean_stale_temps(run_dir)
    for seat in ("mm1", "mm2"):  # two learners' seat folders (agents.learner_pair)
        if (run_dir / seat).is_dir() and not (run_dir / seat).is_symlink():
            clean_stale_temps(run_dir / seat)
    # Earlier versions named temporaries without the pid; under the lock none is in use.
    for entry in run_dir.iterdir():
        legacy = entry.name.startswith(".checkpoint-") or (
            entry.name.startswith(".") and entry.name.endswith(".tmp")
        )
        if legacy and not entry.is_symlink():
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def versions() -> dict[str, str]:
    """Versions of Python and of the packages that determine a run's results."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("mm-gym", "numpy", "numba", "torch", "stable-baselines3", "gymnasium"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    try:
        out["git_commit"] = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).resolve().parents[1], check=False,
        ).stdout.strip() or "unknown"  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        out["git_commit"] = "unknown"
    return out


def newest_completed_run(runs_dir: Path) -> Path | None:
    """The run under ``runs_dir`` that completed last, or None.

    Completed: its ``metadata.json`` says ``"status": "completed"`` and it holds a
    ``policy.npz``; a run that is still training, was interrupted or failed is passed over.
    The newest is the one whose ``metadata.json`` was written last (at the end of its run).
    """
    if not runs_dir.is_dir():
        return None
    done = []
    for folder in runs_dir.iterdir():
        meta = folder / "metadata.json"
        if folder.is_symlink() or not folder.is_dir() or not (folder / "policy.npz").is_file():
            continue
        try:
            status = json.loads(meta.read_text(encoding="utf-8")).get("status")
            mtime = meta.stat().st_mtime
        except (OSError, ValueError, AttributeError):  # no, unreadable or not an object
            continue
        if status == "completed":
            done.append((mtime, folder.name, folder))
    return max(done)[2] if done else None


def start_new_run(
    args: Any, hold: contextlib.ExitStack, fail: Fail, prog: str
) -> tuple[Path, dict[str, Any]]:
    """Claim ``train.py``'s run folder (locked in ``hold``); write its marker and settings first.

    ``args``: the run's settings dataclass (``env_id``, ``seed``, ``runs_dir``, ``run_name``,
    ``overwrite``); ``run_name`` is set to the folder's name.
    """
    default_name = default_run_name(args.env_id, args.seed)
    run_dir = claim_run_folder(
        args.runs_dir, args.run_name, args.overwrite, default_name, hold, fail
    )
    args.run_name = run_dir.name
    # The marker first: from here on --overwrite recognises the folder as a run.
    metadata = {
        "created_by": prog,
        "status": "running",
        "run_name": run_dir.name,
        "env_id": args.env_id,
        "seed": args.seed,
        "num_timesteps": 0,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "checkpoint_sha256": [],
    }
    write_metadata(run_dir, metadata)
    atomic_write_text(run_dir / "config.yaml", yaml.safe_dump(dataclasses.asdict(args)))
    return run_dir, metadata


def read_metadata(run_dir: Path, fail: Fail) -> dict[str, Any]:
    """The run's ``metadata.json`` (empty if the run predates it)."""
    path = run_dir / RUN_MARKER
    try:
        return read_config_file(path, "run metadata") if path.exists() else {}
    except ConfigError as exc:
        fail(str(exc))


def open_resumed_run(
    args: Any, given: set[str], hold: contextlib.ExitStack, fail: Fail
) -> tuple[Any, Path, dict[str, Any]]:
    """Lock ``--resume``'s folder; return its settings, the folder and its metadata.

    The settings are the saved ones with this command line's resume-mutable flags
    (:func:`agents.train_settings.resumed_settings`; ``args``: ``train.py``'s ``Args``).
    """
    run_dir = Path(args.resume)
    if not (run_dir / "config.yaml").is_file():
        why = "no config.yaml there (not a train.py run folder)"
        fail(f"--resume {args.resume!r}: {why if run_dir.exists() else 'no such folder'}")
    enter_lock(hold, run_dir, fail)
    clean_run_folder(run_dir)
    args = resumed_settings(args, given, run_dir, fail)
    metadata = read_metadata(run_dir, fail)
    metadata.pop("evaluation", None)  # of an earlier session; redone at the end if asked
    return args, run_dir, metadata
