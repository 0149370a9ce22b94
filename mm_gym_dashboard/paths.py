"""Where the dashboard finds evaluation exports and training runs."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "ENV_EXPORTS",
    "ENV_PUBLIC",
    "ENV_RUNS",
    "DashboardError",
    "exports_root",
    "inside_roots",
    "is_loopback",
    "runs_root",
]

ENV_EXPORTS = "MM_GYM_EXPORTS"
"""Environment variable naming the exports folder (default ``exports``)."""

ENV_RUNS = "MM_GYM_RUNS"
"""Environment variable naming the runs folder (default ``runs``)."""


ENV_PUBLIC = "MM_GYM_DASHBOARD_PUBLIC"
"""Set to ``1`` to let the dashboard serve on an address other than the loopback interface."""


class DashboardError(Exception):
    """Something the dashboard cannot show; the message says what and, for a file, which."""


def exports_root() -> Path:
    """The folder of ``evaluate.py`` exports: ``$MM_GYM_EXPORTS`` or ``./exports``."""
    return Path(os.environ.get(ENV_EXPORTS) or "exports")


def runs_root() -> Path:
    """The folder of ``train.py`` runs: ``$MM_GYM_RUNS`` or ``./runs``."""
    return Path(os.environ.get(ENV_RUNS) or "runs")


def inside_roots(path: Path, roots: tuple[Path, ...]) -> Path:
    """``path`` resolved (links followed), if it lies inside one of ``roots``.

    Raises:
        DashboardError: If it lies outside every root (the message names the roots, not what
            the path holds).
    """
    resolved = path.resolve()
    for root in roots:
        base = root.resolve()
        if resolved == base or base in resolved.parents:
            return resolved
    names = ", ".join(f"`{r}`" for r in roots)
    raise DashboardError(
        f"{path} is outside the dashboard's folders ({names}); set {ENV_EXPORTS} or {ENV_RUNS} "
        "to look elsewhere"
    )


def is_loopback(address: str | None) -> bool:
    """True if a server address only accepts connections from this machine."""
    if not address:
        return False  # Streamlit's default (None or "") binds every interface
    if address == "localhost":
        return True
    import ipaddress

    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False
