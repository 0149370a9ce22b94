"""Where the dashboard finds evaluation exports and training runs."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ENV_EXPORTS", "ENV_RUNS", "DashboardError", "exports_root", "runs_root"]

ENV_EXPORTS = "MM_GYM_EXPORTS"
"""Environment variable naming the exports folder (default ``exports``)."""

ENV_RUNS = "MM_GYM_RUNS"
"""Environment variable naming the runs folder (default ``runs``)."""


class DashboardError(Exception):
    """Something the dashboard cannot show; the message says what and, for a file, which."""


def exports_root() -> Path:
    """The folder of ``evaluate.py`` exports: ``$MM_GYM_EXPORTS`` or ``./exports``."""
    return Path(os.environ.get(ENV_EXPORTS) or "exports")


def runs_root() -> Path:
    """The folder of ``train.py`` runs: ``$MM_GYM_RUNS`` or ``./runs``."""
    return Path(os.environ.get(ENV_RUNS) or "runs")
