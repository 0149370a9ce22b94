"""Keep numba's on-disk cache consistent across the market's modules.

numba's ``cache=True`` invalidates a cached function only when *its own* source file changes, not
when a function it calls (in another module) changes, so an edit to ``book.py`` would leave the
cached ``kernels.step_serial`` running the old book. Before any kernel loads, this module hashes
the sources the compiled code depends on and, when the hash differs from the one stored beside
the cache, deletes the market's cached machine code so that everything recompiles together, and
that of the packages whose kernels compile the market's code into theirs (:data:`DEPENDENTS`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

_MARKET = Path(__file__).resolve().parent
_SOURCES = (*sorted(_MARKET.glob("*.py")), _MARKET.parent / "observations.py")
# packages with kernels that call the market's (numba links a callee's code into its caller's)
DEPENDENTS = ("multivenue", "portfolio")


def ensure_consistent_cache() -> None:
    """Drop stale numba cache files of ``mm_gym.market`` (best effort; read-only dirs are left)."""
    digest = hashlib.sha256()
    for path in _SOURCES:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    cache_dir = _MARKET / "__pycache__"
    stamp = cache_dir / "mm_gym_kernels.sha256"
    want = digest.hexdigest()
    try:
        if stamp.is_file() and stamp.read_text() == want:
            return
        cache_dir.mkdir(exist_ok=True)
        for folder in (cache_dir, *(_MARKET.parent / d / "__pycache__" for d in DEPENDENTS)):
            for f in (*folder.glob("*.nbi"), *folder.glob("*.nbc")):
                f.unlink(missing_ok=True)
        stamp.write_text(want)
    except OSError:
        pass
