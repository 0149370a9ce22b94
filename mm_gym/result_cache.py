"""A persistent cache of deterministic results (the baselines' calibrations), as small JSON files.

Calibrating the Avellaneda-Stoikov / GLFT baselines off their stored presets, and tuning
``sentiment_as``, takes seconds to minutes, and the result is a pure function of its inputs.
:func:`cached_result` stores it in ``<root>/<subfolder>/`` and hands it back in later processes.

**Root**: ``$MM_GYM_CACHE_DIR`` if set (not empty), else ``$MM_GYM_CACHE`` (the headline bank's
variable, :mod:`mm_gym.news.bank`), else ``$XDG_CACHE_HOME/mm_gym``, else ``~/.cache/mm_gym``
(:func:`cache_root`). ``MM_GYM_NO_CACHE=1`` turns the cache off: every result is recomputed and
nothing is read or written.

**Key**: the SHA-256 of canonical JSON (sorted keys) of everything the result depends on: the
full market and environment configs, the setting, the caller's parameters (seeds, episode
counts, candidate lists), the package version, the numpy / numba / Python versions, the
SHA-256 of the package sources (:func:`source_digest`: ``mm_gym`` and the caller's own package)
and of the market kernels' sources (:func:`kernels_digest`, the digest numba's cache stamp
``mm_gym_kernels.sha256`` holds), the installed version of the news scoring model and the
contents of a news file, when set. A change of any of them is another file, so a stale entry is
never used (old entries stay until the user deletes the folder; the project never deletes it).

**Files**: ``<kind>-<setting>-<key16>.json`` holding the full key and the value, written
atomically (:func:`mm_gym.files.atomic_write_text`). A file that cannot be read, or whose key or
value is not what is expected, is ignored with one :class:`ResultCacheWarning` and the result
recomputed; it is replaced only in a folder the cache owns (marked by :data:`MARKER`, as the
headline bank's), never followed through a symbolic link. Nothing here raises on a cache
problem: an unwritable folder means the result is used unstored.

**Bit-identity**: a computed value goes through the same JSON round trip as a loaded one before
it is returned, so a hit, a miss and a disabled cache return equal values of equal types.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import platform
import re
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from mm_gym.files import atomic_write_text, clean_stale_temps

__all__ = [
    "CACHE_DIR_ENV",
    "ENTRY_FORMAT",
    "MARKER",
    "NO_CACHE_ENV",
    "ResultCacheWarning",
    "cache_enabled",
    "cache_root",
    "cached_result",
    "entry_path",
    "json_round_trip",
    "kernels_digest",
    "report_to",
    "result_key",
    "source_digest",
]

CACHE_DIR_ENV = "MM_GYM_CACHE_DIR"
"""Environment variable naming the cache root (before ``MM_GYM_CACHE`` and XDG)."""
NO_CACHE_ENV = "MM_GYM_NO_CACHE"
"""Set to ``1`` (or ``true``, ``yes``, ``on``) to recompute without reading or writing the cache."""
MARKER = ".mm_gym_result_cache"
"""Marker file of a cache subfolder this module owns (may replace its entry files there)."""
ENTRY_FORMAT = 1
"""Layout of an entry file; part of the key."""

_UNSAFE = re.compile(r"[^A-Za-z0-9_.=+-]")
_REPORTERS: list[Callable[[str], Any]] = []


class ResultCacheWarning(UserWarning):
    """A cache entry was unusable (recomputed) or could not be stored."""


def cache_root() -> Path:
    """The cache root folder (not created here); see the module docstring for the order."""
    for var in (CACHE_DIR_ENV, "MM_GYM_CACHE"):
        if os.environ.get(var):
            return Path(os.environ[var])
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "mm_gym"


def cache_enabled() -> bool:
    """False when ``MM_GYM_NO_CACHE`` is ``1``, ``true``, ``yes`` or ``on`` (any case)."""
    return os.environ.get(NO_CACHE_ENV, "").strip().lower() not in ("1", "true", "yes", "on")


@contextlib.contextmanager
def report_to(say: Callable[[str], Any]) -> Iterator[None]:
    """Within the block, each load or store is announced by calling ``say`` with one line.

    ``"calibration: loaded from cache <path>"`` or ``"calibrated in N s (cached to <path>)"``
    (``evaluate.py`` passes ``print``); the library itself prints nothing.
    """
    _REPORTERS.append(say)
    try:
        yield
    finally:
        _REPORTERS.remove(say)


def _say(message: str) -> None:
    if _REPORTERS:
        _REPORTERS[-1](message)


# --------------------------------------------------------------------------- the key


def _digest_files(files: list[tuple[str, Path]]) -> str:
    digest = hashlib.sha256()
    for name, path in files:
        data = path.read_bytes()
        for part in (name.encode(), data):
            digest.update(len(part).to_bytes(8, "little"))
            digest.update(part)
    return digest.hexdigest()


@functools.cache
def source_digest(*folders: str) -> str:
    """SHA-256 of every source file under ``mm_gym`` and ``folders`` (caches and hidden skipped).

    Computed once per process (about 1 MB of sources). Any edit of the package changes it, so
    results computed by older code are never reused.
    """
    roots = [Path(__file__).resolve().parent, *(Path(f).resolve() for f in folders)]
    files = []
    for root in dict.fromkeys(roots):
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root.parent)
            hidden = any(p.startswith(".") or p == "__pycache__" for p in rel.parts)
            if path.is_file() and not hidden and path.suffix not in (".pyc", ".nbi", ".nbc"):
                files.append((rel.as_posix(), path))
    return _digest_files(files)


@functools.cache
def kernels_digest() -> str:
    """The market kernels' source digest, as :mod:`mm_gym.market._cache` stamps numba's cache.

    The same SHA-256 as the stamp file ``mm_gym/market/__pycache__/mm_gym_kernels.sha256``
    (recomputed here: the stamp may be absent in a read-only install).
    """
    from mm_gym.market import _cache

    digest = hashlib.sha256()
    for path in _cache._SOURCES:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _versions() -> dict[str, str]:
    import numba
    import numpy

    from mm_gym import __version__

    return {
        "mm_gym": __version__,
        "numpy": numpy.__version__,
        "numba": numba.__version__,
        "python": platform.python_version(),
    }


def _config_json(config: Any) -> Any:
    """A config dataclass as plain JSON data (every field, nested; tuples become lists)."""
    import dataclasses

    return json.loads(json.dumps(dataclasses.asdict(config), sort_keys=True, default=repr))


def _news_inputs(market: Any) -> dict[str, str]:
    """The scoring model's version and the news file's SHA-256, where the market uses them."""
    from mm_gym.news.scoring import model_version

    process = market.process
    out: dict[str, str] = {}
    if process.news_model != "none":
        out["model_version"] = model_version(process.news_model)
    if process.news_file:
        out["file_sha256"] = hashlib.sha256(Path(process.news_file).read_bytes()).hexdigest()
    return out


def result_key(
    kind: str,
    setting: str,
    overrides: Mapping[str, Any] | None,
    params: Mapping[str, Any],
    code_folders: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Everything a result of ``kind`` on ``setting`` depends on, as JSON data (the cache key).

    Args:
        kind: What is cached (``"calibration"``, ``"sentiment_as"``): part of the file name.
        setting: Book preset name or env id.
        overrides: Environment keyword overrides (resolved into the full configs).
        params: The computation's own inputs (seeds, episode counts, candidate lists).
        code_folders: Source folders of the computing code besides ``mm_gym``.

    Raises:
        ConfigError: On an unknown setting or an invalid override.
        OSError: If a news file cannot be read.
    """
    from mm_gym.evaluation import setting_configs

    market, env = setting_configs(setting, overrides)
    return {
        "format": ENTRY_FORMAT,
        "kind": kind,
        "setting": setting,
        "market": _config_json(market),
        "env": _config_json(env),
        "news": _news_inputs(market),
        "params": json_round_trip(params),
        "versions": _versions(),
        "source_sha256": source_digest(*code_folders),
        "kernels_sha256": kernels_digest(),
    }


def json_round_trip(value: Any) -> Any:
    """``value`` as it reads back from the cache (numpy scalars become Python numbers)."""
    return json.loads(json.dumps(value, default=_number))


def _number(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON data")


def _hash(key: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def entry_path(folder: Path, key: Mapping[str, Any]) -> Path:
    """The entry file of ``key`` in ``folder``: ``<kind>-<setting>-<first 16 hex of the key>``."""
    setting = _UNSAFE.sub("_", str(key["setting"]))[:60]
    return folder / f"{key['kind']}-{setting}-{_hash(key)[:16]}.json"


# --------------------------------------------------------------------------- load and store


def _read(path: Path, key: Mapping[str, Any], check: Callable[[Any], bool]) -> Any:
    """The value stored at ``path`` for ``key``, None without a file; ValueError if unusable."""
    if not path.exists() and not path.is_symlink():
        return None
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"cannot be read ({type(exc).__name__}: {exc})") from None
    if not isinstance(entry, dict) or set(entry) != {"key", "key_sha256", "value"}:
        raise ValueError("is not a result-cache entry")
    if entry["key"] != json.loads(json.dumps(key)) or entry["key_sha256"] != _hash(key):
        raise ValueError("holds another key")
    if not check(entry["value"]):
        raise ValueError("holds a value of the wrong form")
    return entry["value"]


def _claim(folder: Path) -> str:
    """Why ``folder`` is not the cache's own ("" if it is: marked, or new or empty, then marked)."""
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        return f"{folder} is not a folder"
    if not folder.exists() or not any(folder.iterdir()):
        atomic_write_text(folder / MARKER, "mm_gym result cache (delete the folder to clear)\n")
    if not (folder / MARKER).is_file():
        return f"{folder} is not mm_gym's cache folder (no {MARKER})"
    clean_stale_temps(folder)  # only hidden .tmp-PID names of dead processes
    return ""


def _store(path: Path, key: Mapping[str, Any], value: Any) -> str:
    """Write the entry; returns what to tell the user about where it went."""
    entry = {"key": key, "key_sha256": _hash(key), "value": value}
    try:
        foreign = _claim(path.parent)
        if not foreign and (path.is_symlink() or (path.exists() and not path.is_file())):
            foreign = f"{path} is not a regular file"
        if foreign:
            return f"not cached: {foreign}"
        atomic_write_text(path, json.dumps(entry, indent=1, sort_keys=True) + "\n")
    except OSError as exc:
        warnings.warn(
            f"could not store a result in {str(path)!r} ({exc}); it is used unstored",
            ResultCacheWarning,
            stacklevel=3,
        )
        return f"not cached: {exc}"
    return f"cached to {path}"


def cached_result(
    key: Mapping[str, Any],
    compute: Callable[[], Any],
    check: Callable[[Any], bool],
    *,
    subfolder: str = "calibration",
    refresh: bool = False,
) -> Any:
    """``compute()``'s value (JSON data), loaded from the cache when stored under ``key``.

    Args:
        key: :func:`result_key` of the computation.
        compute: Computes the value: JSON-serializable data (floats round-trip exactly).
        check: Whether a loaded value has the expected form (else it is recomputed).
        subfolder: Folder under :func:`cache_root`.
        refresh: Recompute (and store) even if an entry exists.

    Returns:
        The value after a JSON round trip (so a hit and a miss are identical).

    Warns:
        ResultCacheWarning: If an entry was unusable (recomputed) or could not be stored.
    """
    enabled = cache_enabled()
    path = entry_path(cache_root() / subfolder, key)
    if enabled and not refresh:
        try:
            value = _read(path, key, check)
        except ValueError as exc:
            warnings.warn(
                f"ignoring cache entry {str(path)!r}: it {exc}; recomputing",
                ResultCacheWarning,
                stacklevel=3,
            )
        else:
            if value is not None:
                _say(f"calibration: loaded from cache {path}")
                return value
    t0 = time.perf_counter()
    value = json_round_trip(compute())
    seconds = time.perf_counter() - t0
    where = _store(path, key, value) if enabled else f"cache off: {NO_CACHE_ENV} is set"
    _say(f"calibrated in {seconds:.1f} s ({where})")
    return value
