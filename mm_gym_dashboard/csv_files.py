"""Reading the CSV files of exports and runs: columns checked, failures naming the file."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from mm_gym_dashboard.paths import DashboardError

__all__ = ["DataFileError", "find_column", "read_csv"]


class DataFileError(DashboardError):
    """A file exists but cannot be used; the message starts with its path.

    Attributes:
        path: The file.
    """

    def __init__(self, path: Path, reason: str) -> None:
        """Name the file and the reason."""
        super().__init__(f"{path}: {reason}")
        self.path = path


def find_column(columns: Iterable[str], candidates: Sequence[str]) -> str | None:
    """The first of ``candidates`` among ``columns`` (case-insensitive), or None.

    A column ``mm1_<candidate>`` also matches (an export may prefix mm1's figures), after the
    exact names.
    """
    cols = list(columns)
    lower = {str(c).lower(): c for c in cols}
    for cand in candidates:
        if cand.lower() in lower:
            return lower[cand.lower()]
    for cand in candidates:
        for prefix in ("mm1_", "mm1."):
            if prefix + cand.lower() in lower:
                return lower[prefix + cand.lower()]
    return None


def read_csv(
    path: Path,
    required: Sequence[str] = (),
    numeric: Sequence[str] = (),
    *,
    allow_empty: bool = False,
) -> pd.DataFrame:
    """Read a CSV file, checking its columns.

    Args:
        path: The file.
        required: Columns that must be present.
        numeric: Columns converted to numbers when present; a required one with no number at
            all is an error.
        allow_empty: Whether a file with a header and no rows is acceptable.

    Returns:
        The table, column names stripped of surrounding spaces.

    Raises:
        DataFileError: If the file cannot be parsed, lacks a required column or has no rows.
    """
    try:
        df = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise DataFileError(path, "is empty (no header, no rows)") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataFileError(path, f"cannot be read as CSV ({reason})") from None
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in required if c not in df.columns]
    if missing:
        shown = list(df.columns)[:12]
        raise DataFileError(path, f"lacks column(s) {missing}; its columns are {shown}")
    if df.empty and not allow_empty:
        raise DataFileError(path, "has a header but no rows")
    for col in numeric:
        if col in df.columns:
            values = pd.to_numeric(df[col], errors="coerce")
            if col in required and len(df) and values.isna().all():
                raise DataFileError(path, f"column {col!r} holds no numbers")
            df[col] = values
    return df
