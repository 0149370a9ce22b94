"""Safe file handling shared by the library, ``train.py``, ``evaluate.py`` and the dashboard.

The reliability contract (README, "Reliability") rests on five rules, each implemented once here:

- **Atomic writes**: :func:`atomic_write_text` / :func:`atomic_write_bytes` write a temporary file
  in the target's folder and rename it, so a reader never sees half a file.
- **Safe names**: :func:`safe_component` accepts a run or export name only if it is one plain path
  component (no ``/``, no ``..``, no leading dot), so a name can never point outside its parent.
- **Owned folders**: a tool marks what it creates with a marker file; :func:`remove_owned_folder`
  deletes a folder only if that marker is present and the folder is not a symbolic link.
- **Exclusive use**: :func:`exclusive_lock` takes a non-blocking ``flock`` on a lock file inside a
  folder; a second process gets :class:`FolderBusyError` (one clear line) instead of sharing it.
- **Stale temporaries**: hidden temporary folders carry their creator's pid
  (:func:`temp_name`); :func:`clean_stale_temps` removes those whose process is gone (SIGKILL).

Memory: :func:`check_memory` refuses a request whose estimated size exceeds the memory available
(``MemAvailable`` less a 20 % margin) with the figures, before anything is allocated.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "FolderBusyError",
    "MemoryLimitError",
    "UnsafePathError",
    "array_bytes",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_memory",
    "clean_stale_temps",
    "exclusive_lock",
    "is_owned_folder",
    "memory_available_bytes",
    "remove_owned_folder",
    "safe_component",
    "temp_name",
]

LOCK_FILE = ".lock"
"""Name of the lock file :func:`exclusive_lock` keeps inside a folder."""

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+=,@-]{0,127}$")
_TEMP_PID = re.compile(r"\.tmp-(\d+)(?:-[A-Za-z0-9_]+)?$")


class UnsafePathError(ValueError):
    """A name is not a single safe path component, or a folder is not this tool's to delete."""


class FolderBusyError(RuntimeError):
    """Another process holds the folder's lock."""


class MemoryLimitError(MemoryError):
    """A request would need more memory than the machine has available."""


# --------------------------------------------------------------------------- atomic writes


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write text to ``path`` atomically (temporary file in the same folder, then rename)."""
    atomic_write_bytes(path, text.encode())


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write bytes to ``path`` atomically (temporary file in the same folder, then rename).

    The file gets the permissions a plain ``open()`` would give it (``mkstemp`` makes 0600).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The pid in the name lets clean_stale_temps remove what a killed writer left behind.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temp_name(path.name) + "-")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# --------------------------------------------------------------------------- names and ownership


def safe_component(name: object, field: str) -> str:
    """Return ``name`` if it is one safe path component, else raise :class:`UnsafePathError`.

    Allowed: 1 to 128 characters from letters, digits and ``_ . + = , @ -``, not starting with a dot
    or a dash, so ``..``, ``.``, hidden names, separators and options are all refused.

    Args:
        name: The proposed folder or file name.
        field: The setting it came from, named in the error (e.g. ``"--run-name"``).
    """
    if not isinstance(name, str) or not _SAFE_NAME.match(name) or name in (".", ".."):
        raise UnsafePathError(
            f"{field}={name!r} must be a single folder name: 1-128 letters, digits or _.+=,@- "
            "(not starting with '.' or '-', no '/')"
        )
    return name


def is_owned_folder(path: str | os.PathLike[str], marker: str) -> bool:
    """True if ``path`` is a real folder (not a link) that holds the file ``marker``."""
    path = Path(path)
    return path.is_dir() and not path.is_symlink() and (path / marker).is_file()


def remove_owned_folder(path: str | os.PathLike[str], marker: str, what: str) -> None:
    """Delete ``path`` only if it is recognisably this tool's output (holds ``marker``).

    Args:
        path: The folder to delete.
        marker: A file name the tool writes into every folder it creates.
        what: What the folder should be, for the error (e.g. ``"a train.py run"``).

    Raises:
        UnsafePathError: If the folder lacks the marker or is a symbolic link; nothing is deleted.
    """
    path = Path(path)
    if not is_owned_folder(path, marker):
        raise UnsafePathError(
            f"{str(path)!r} is not {what} (no {marker} in it): refusing to delete it; "
            "remove it yourself or choose another name"
        )
    shutil.rmtree(path)


# --------------------------------------------------------------------------- locks and temporaries


@contextlib.contextmanager
def exclusive_lock(
    folder: str | os.PathLike[str], what: str = "folder", *, remove_on_release: bool = False
) -> Iterator[Path]:
    """Hold an exclusive, non-blocking lock on ``folder`` for the duration of the block.

    The lock is an ``flock`` on ``folder/.lock``; the operating system releases it when the process
    ends, however it ends, so a killed run never leaves a folder locked.

    Args:
        folder: The folder to lock (created if missing).
        what: What the folder is, for the error message.
        remove_on_release: Delete the lock file when the block ends (while still holding the
            lock), so a finished folder holds no hidden file. A process that opened the old file
            meanwhile notices that it is gone and locks the new one instead: the lock stays
            exclusive.

    Raises:
        FolderBusyError: If another process holds the lock.
    """
    import fcntl

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise FolderBusyError(
                    f"{what} {str(folder)!r} is in use by another process; wait for it to "
                    "finish or choose another name"
                ) from None
            raise
        # The holder may have removed the file between our open() and flock(): then our lock is
        # on an orphaned inode and worthless; open the current file and try again.
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        yield folder
    finally:
        if remove_on_release:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        os.close(fd)


def temp_name(final_name: str, tag: str = "") -> str:
    """A hidden temporary name for ``final_name`` that records this process's pid.

    ``.NAME.tmp-PID`` or ``.NAME.tmp-PID-TAG``; :func:`clean_stale_temps` recognises it.
    """
    return f".{final_name}.tmp-{os.getpid()}" + (f"-{tag}" if tag else "")


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def clean_stale_temps(parent: str | os.PathLike[str]) -> list[Path]:
    """Remove hidden temporaries in ``parent`` (made by :func:`temp_name`) whose process is gone.

    Only entries whose name starts with a dot and ends in ``.tmp-PID`` (optionally ``-TAG``)
    are considered, and only when no process with that pid exists: a temporary of a live run is
    never touched. Returns the paths removed.
    """
    parent = Path(parent)
    removed: list[Path] = []
    if not parent.is_dir():
        return removed
    for entry in parent.iterdir():
        m = _TEMP_PID.search(entry.name)
        if not entry.name.startswith(".") or m is None or _pid_alive(int(m.group(1))):
            continue
        try:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except OSError:
            continue
        removed.append(entry)
    return removed


# --------------------------------------------------------------------------- memory


def memory_available_bytes() -> int | None:
    """``MemAvailable`` from ``/proc/meminfo`` in bytes (None where it cannot be read)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def array_bytes(obj: Any, seen: set[int] | None = None, depth: int = 0) -> int:
    """Bytes of the numpy arrays reachable from ``obj`` (attributes, slots, containers).

    Each object is counted once and the walk stops 8 levels deep: a memory estimate, e.g. of a
    vector env (``train.py`` measures one and three markets and takes the difference).
    """
    import numpy as np

    seen = set() if seen is None else seen
    if id(obj) in seen or depth > 8:
        return 0
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    if isinstance(obj, dict):
        return sum(array_bytes(v, seen, depth + 1) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(array_bytes(v, seen, depth + 1) for v in obj)
    total = array_bytes(vars(obj), seen, depth + 1) if hasattr(obj, "__dict__") else 0
    for slot in getattr(type(obj), "__slots__", ()):
        total += array_bytes(getattr(obj, slot, None), seen, depth + 1)
    return total


def check_memory(nbytes: float, what: str, margin: float = 0.2) -> None:
    """Refuse a request estimated at ``nbytes`` that would not fit in available memory.

    Args:
        nbytes: The estimated peak allocation of the request.
        what: The request, named in the error (e.g. ``"--episodes 1000000000000"``).
        margin: The fraction of available memory kept free (default 20 %).

    Raises:
        MemoryLimitError: With the estimate and the memory available.
    """
    available = memory_available_bytes()
    if available is None:
        return
    allowed = available * (1.0 - margin)
    if nbytes > allowed:
        raise MemoryLimitError(
            f"{what} needs about {_human(nbytes)} of memory; {_human(available)} is available "
            f"(at most {_human(allowed)} may be used, a {margin:.0%} margin kept free)"
        )


def _human(nbytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(nbytes) < 1024 or unit == "PiB":
            return f"{nbytes:,.0f} {unit}" if unit == "B" else f"{nbytes:,.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.1f} PiB"  # pragma: no cover (loop always returns)
