"""The output folder of a tool (``evaluate.py``, the realism report): reserved, locked, published.

A run writes into a hidden temporary folder (``.<name>.tmp-<pid>``) next to its output folder
and renames it into place at the end (:func:`publish`), so an interrupted run leaves nothing
half-written. An earlier output being replaced (``--overwrite``) waits under the visible name
``<name>.previous-<pid>`` until the new one is in place: a run killed meanwhile leaves it there,
never deleted, and the next run into that folder names it. The output folder is locked
(:func:`mm_gym.files.exclusive_lock`) for the run.
Every folder holds its tool's marker (:class:`FolderOwner`; ``evaluate.py``'s exports
:data:`EXPORT_MARKER`); ``--overwrite`` replaces only a folder holding it, never the working
folder, one of its parents or the repository. Bad input raises :class:`mm_gym.cli.CliError` (one
line, exit code 2).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from mm_gym.cli import CliError

__all__ = [
    "EVALUATE",
    "EXPORTS",
    "EXPORT_MARKER",
    "LOCK_FILE",
    "PACKAGE_ROOT",
    "FolderOwner",
    "Output",
    "check_replaceable",
    "export_folder",
    "prepare_output",
    "publish",
    "write_export",
    "written",
]

EXPORTS = Path("exports")
EXPORT_MARKER = ".mm_gym-export"
"""Marker file in every export: ``--overwrite`` replaces only a folder that holds it."""
LOCK_FILE = ".lock"  # mm_gym.files.exclusive_lock's lock file inside the locked folder
PACKAGE_ROOT = Path(__file__).resolve().parents[1]
"""The folder holding the ``mm_gym`` package (the repository in a checkout): never written to."""
_DEFAULT_NAME = re.compile(r"^\d{8}-\d{6}(-\d+)?$")  # exports/<timestamp>[-k]


@dataclass(frozen=True)
class FolderOwner:
    """The tool that writes a kind of output folder.

    Attributes:
        tool: The tool's name in messages and in the marker file (``"evaluate.py"``).
        marker: The file every folder it writes holds (``--overwrite`` needs it).
        what: One such folder, in messages (``"an evaluate.py export"``).
    """

    tool: str
    marker: str
    what: str


EVALUATE = FolderOwner("evaluate.py", EXPORT_MARKER, "an evaluate.py export")
"""``evaluate.py``'s exports."""


@dataclass
class Output:
    """Where a run writes: the final folder, its hidden temporary, what to undo on failure."""

    out: Path
    tmp: Path
    latest: bool
    created: bool  # the final folder was made by this run (a placeholder until publish)
    replace: bool  # the final folder is an earlier export, replaced at publish (--overwrite)
    owner: FolderOwner = EVALUATE


def _refuse_dangerous_out(out: Path, root: Path) -> None:
    """``--out`` must not be a link, the working folder, one of its parents or the repository."""
    if out.is_symlink():
        raise CliError(
            f"--out {str(out)!r} is a symbolic link: refusing to replace it; give a real folder"
        )
    real, cwd = out.resolve(), Path.cwd().resolve()
    for guarded, what in ((cwd, "the working folder"), (root, "the mm_gym repository")):
        if real == guarded or real in guarded.parents:
            raise CliError(
                f"--out {str(out)!r} is {what} or one of its parents: refusing to write there; "
                "choose a new folder such as exports/<name>"
            )


def _reserve(out: Path) -> bool:
    """Create ``out`` (True) or accept an existing one (False); refuse a foreign folder."""
    try:
        out.mkdir()
        return True
    except FileExistsError:
        pass
    if not out.is_dir():
        raise CliError(f"output path {str(out)!r} exists and is not a folder")
    return False


def check_replaceable(out: Path, overwrite: bool, owner: FolderOwner = EVALUATE) -> bool:
    """For a folder that exists: True if it is ``owner``'s output to replace, False if empty.

    Raises:
        CliError: If it holds anything (but a lock file) and ``overwrite`` is off, or it is not
            ``owner``'s (no marker): nothing is deleted.
    """
    from mm_gym.files import is_owned_folder

    if not ({p.name for p in out.iterdir()} - {LOCK_FILE}):
        return False
    if not overwrite:
        raise CliError(f"output folder {str(out)!r} exists and is not empty (use --overwrite)")
    if not is_owned_folder(out, owner.marker):
        raise CliError(
            f"--overwrite: {str(out)!r} is not {owner.what} (no {owner.marker} in it): "
            "refusing to delete it; remove it yourself or choose another folder"
        )
    return True


def check_out_flag(out: Path, overwrite: bool, owner: FolderOwner) -> None:
    """Refuse an ``--out`` folder a run of ``owner`` may not write, before any work is done.

    Raises:
        CliError: If its name is not a single safe path component, it exists and is not a
            folder (or is a link), or it exists and :func:`check_replaceable` refuses it.
    """
    from mm_gym.files import UnsafePathError, safe_component

    if out.name in ("", ".", ".."):  # "." has no name of its own: say what was given
        raise CliError(
            f"--out {str(out)!r} names no new folder (the working folder, a parent or the root): "
            "choose one such as exports/<name>"
        )
    try:
        safe_component(out.name, "--out")
    except UnsafePathError as exc:
        raise CliError(str(exc)) from None
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise CliError(f"--out {str(out)!r} exists and is not a folder")
    if out.is_dir():
        check_replaceable(out, overwrite, owner)


def _clean_abandoned(parent: Path) -> None:
    """Remove stale temporaries and the empty placeholders of killed runs from ``exports/``."""
    from mm_gym.files import FolderBusyError, clean_stale_temps, exclusive_lock

    clean_stale_temps(parent)
    for entry in parent.iterdir():
        if entry.is_symlink() or not entry.is_dir() or not _DEFAULT_NAME.match(entry.name):
            continue
        if {p.name for p in entry.iterdir()} != {LOCK_FILE}:
            continue
        try:
            with exclusive_lock(entry, "output folder"):  # free lock: its run is gone
                (entry / LOCK_FILE).unlink()
                entry.rmdir()
        except (FolderBusyError, OSError):
            continue


def _clean_own_stale_temps(out: Path) -> None:
    """Remove dead runs' temporaries of ``out`` and nothing else (its parent may be anyone's).

    :func:`mm_gym.files.clean_stale_temps` sweeps a whole folder, right for ``exports/`` but not
    for the parent of an arbitrary ``--out``; this applies its rule to ``.<name>.tmp-<pid>*``.
    """
    pattern = re.compile(rf"^\.{re.escape(out.name)}\.tmp-(\d+)(?:-[A-Za-z0-9_]+)?$")
    for entry in out.parent.iterdir():
        m = pattern.match(entry.name)
        if m is None or _pid_alive(int(m.group(1))):
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()


def _previous_path(out: Path) -> Path:
    """A free visible name for ``out`` to wait under while replaced: ``<name>.previous-<pid>``.

    ``-<k>`` is appended where that name is taken (a run in a container gets the pid of an
    earlier, killed one), so an earlier output set aside is never renamed over.
    """
    base = f"{out.name}.previous-{os.getpid()}"
    path, k = out.parent / base, 1
    while path.exists() or path.is_symlink():
        k += 1
        path = out.parent / f"{base}-{k}"
    return path


def _name_set_aside(out: Path, owner: FolderOwner) -> None:
    """Name (stderr) the earlier outputs of ``out`` that a killed ``--overwrite`` set aside.

    :func:`publish` moves an output it replaces to ``<name>.previous-<pid>[-<k>]`` and hides it
    once the new one is in place; one still visible whose run is gone (or has this run's pid: a
    container's runs share pids) was left by a kill in between. It is the user's earlier result:
    kept, and said, never deleted.
    """
    pattern = re.compile(rf"^{re.escape(out.name)}\.previous-(\d+)(?:-\d+)?$")
    for entry in sorted(out.parent.iterdir()):
        m = pattern.match(entry.name)
        if m is None:
            continue
        pid = int(m.group(1))
        if pid == os.getpid() or not _pid_alive(pid):
            print(
                f"{owner.tool}: note: {str(entry)!r} holds the {str(out)!r} that a killed "
                "--overwrite run had set aside (kept: move it back or delete it yourself)",
                file=sys.stderr,
            )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # someone else's process / not a pid: keep
        return pid > 0
    return True


def _reserve_default() -> Path:
    """Create ``exports/<timestamp>`` (or ``<timestamp>-1``, ``-2`` ... when taken)."""
    EXPORTS.mkdir(parents=True, exist_ok=True)
    latest = EXPORTS / "latest"
    if latest.exists() and not latest.is_symlink():
        raise CliError(f"{str(latest)!r} is not a symbolic link: move it away")
    _clean_abandoned(EXPORTS)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for k in range(1000):
        out = EXPORTS / (stamp if k == 0 else f"{stamp}-{k}")
        with contextlib.suppress(FileExistsError):
            out.mkdir()
            return out
    raise CliError(f"no free folder name {stamp}-<k> under {str(EXPORTS)!r}")


def _reserve_given(out_flag: str, root: Path, owner: FolderOwner) -> tuple[Path, bool]:
    """``(--out, created)``: refuse a dangerous folder, clean dead runs' temporaries, reserve.

    Earlier outputs a killed ``--overwrite`` set aside are named, not removed.
    """
    out = Path(out_flag)
    _refuse_dangerous_out(out, root)
    out.parent.mkdir(parents=True, exist_ok=True)
    _clean_own_stale_temps(out)
    _name_set_aside(out, owner)
    return out, _reserve(out)


@contextlib.contextmanager
def prepare_output(
    out_flag: str, overwrite: bool, root: Path, owner: FolderOwner = EVALUATE
) -> Iterator[Output]:
    """Reserve and lock the output folder, make its temporary, and undo both on failure.

    The default folder is ``exports/<timestamp>``, or ``<timestamp>-1``, ``-2`` ... when taken
    (created atomically with ``mkdir``, so two runs started together get different folders). The
    final folder is locked (:func:`mm_gym.files.exclusive_lock`) until the run has published
    into it: a second run into the same ``--out`` fails at once.

    Args:
        out_flag: ``--out`` ("": the default folder under ``exports/``).
        overwrite: ``--overwrite``: an earlier export there may be replaced.
        root: The repository (never written to).
        owner: The tool writing the folder (its marker goes into the temporary).

    Yields:
        The :class:`Output`.

    Raises:
        CliError: If the folder is dangerous, foreign, busy or cannot be written.
    """
    from mm_gym.files import FolderBusyError, exclusive_lock, temp_name

    default = not out_flag
    try:
        if default:
            out, created = _reserve_default(), True
        else:
            out, created = _reserve_given(out_flag, root, owner)
    except OSError as exc:
        raise CliError(
            f"cannot write the output folder {out_flag or str(EXPORTS)!r}: {exc.strerror}"
        ) from None
    tmp = out.parent / temp_name(out.name)
    lock_existed = (out / LOCK_FILE).exists()
    try:
        with exclusive_lock(out, "output folder"):
            try:
                replace = False if created else check_replaceable(out, overwrite, owner)
                try:
                    tmp.mkdir()
                    (tmp / owner.marker).write_text(f"written by {owner.tool}\n")
                except OSError as exc:
                    raise CliError(
                        f"cannot write the output folder {str(out)!r}: {exc.strerror}"
                    ) from None
                yield Output(out, tmp, default, created, replace, owner)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                # Take back what this run added: its lock file and its placeholder folder.
                if not lock_existed:
                    with contextlib.suppress(OSError):
                        (out / LOCK_FILE).unlink()
                if created:
                    with contextlib.suppress(OSError):
                        out.rmdir()
                raise
    except FolderBusyError as exc:
        raise CliError(str(exc)) from None


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back for a few renames, so a publish is never left halfway.

    A signal that arrives meanwhile is consumed, not delivered afterwards: the export is
    complete by then, and reporting "interrupted; nothing written" would be false.
    """
    sigs = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        yield
    finally:
        for sig in signal.sigpending() & sigs:
            signal.sigwait({sig})
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def written(out: Path) -> str:
    """The line a command prints at the end: ``out`` and what it holds (hidden files left out)."""
    names = sorted(f"{p.name}/" if p.is_dir() else p.name for p in Path(out).iterdir())
    return f"wrote {out}/ ({', '.join(n for n in names if not n.startswith('.'))})"


def publish(output: Output) -> None:
    """Move the finished temporary folder into place (and point ``exports/latest`` at it).

    A placeholder (or an empty folder) is replaced in one ``rename``; an earlier export is moved
    aside to ``<name>.previous-<pid>`` (``-<k>`` added if taken), replaced, then hidden as this
    run's temporary and deleted (only if it carries the export marker). Its visible name is what
    keeps it safe from a kill between the two renames: the next run deletes dead runs' hidden
    temporaries, but only names this one.
    """
    from mm_gym.files import remove_owned_folder, temp_name

    out, tmp = output.out, output.tmp
    with _signals_held():
        if not output.replace:
            # rename() replaces an empty folder atomically: drop our lock file first (the lock
            # itself stays held through the open descriptor until the run ends).
            (out / LOCK_FILE).unlink(missing_ok=True)
            tmp.rename(out)
        else:
            previous = _previous_path(out)
            out.rename(previous)
            try:
                tmp.rename(out)
            except OSError:
                previous.rename(out)
                raise
            # The new output is in place: hide the old one as this run's temporary before
            # deleting it, so a kill during the deletion leaves a dead run's temporary (which
            # the next run removes), not a visible half-deleted "earlier result".
            old = out.parent / temp_name(out.name, "old")
            previous.rename(old)
            remove_owned_folder(old, output.owner.marker, output.owner.what)
        if output.latest:
            link = out.parent / "latest"
            tmp_link = out.parent / temp_name("latest")
            tmp_link.unlink(missing_ok=True)
            tmp_link.symlink_to(out.name, target_is_directory=True)
            os.replace(tmp_link, link)


def export_folder(out_flag: str | None, folder: str) -> Path:
    """``--out``, or ``exports/<folder>/<local time, YYYYmmdd-HHMMSS>`` (the standalone tools)."""
    return Path(out_flag or Path(EXPORTS, folder, time.strftime("%Y%m%d-%H%M%S")))


def write_export(
    out: Path, overwrite: bool, owner: FolderOwner, write: Callable[[Path], object]
) -> None:
    """Write a tool's files with ``write(temporary folder)``, publish them at ``out``, say so.

    :func:`prepare_output` and :func:`publish`: the folder appears complete or not at all.
    """
    with prepare_output(str(out), overwrite, PACKAGE_ROOT, owner) as output:
        write(output.tmp)
        publish(output)
    print(f"wrote {out}")
