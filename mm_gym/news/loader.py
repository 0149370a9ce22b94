"""A user's own headline file (CSV or Parquet) read, checked and scored.

The file has exactly the columns :data:`COLUMNS`:

- ``timestamp``: non-decreasing; either integer steps (>= 0) or date-times that pandas parses
  as ISO 8601 (read as UTC);
- ``asset``: a non-empty name;
- ``headline``: a non-empty text.

:func:`load_headlines` returns them as a pandas DataFrame with a ``score`` column (float64) from
the chosen model. Every error is a :class:`HeadlineFileError` naming the file, the column, the
line (CSV: the line in the file, the header being line 1; Parquet: the row, from 0) and what is
allowed. Nothing is written.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from mm_gym.config import excerpt
from mm_gym.news.scoring import check_model, get_scorer

__all__ = ["COLUMNS", "SUFFIXES", "HeadlineFileError", "load_headlines"]

COLUMNS: tuple[str, ...] = ("timestamp", "asset", "headline")
"""The columns of a headline file, all required, no others allowed."""
SUFFIXES: tuple[str, ...] = (".csv", ".parquet", ".pq")
"""The file name endings read (CSV, Parquet)."""


class HeadlineFileError(ValueError):
    """A headline file is missing, unreadable or malformed (the message says where and why)."""


def load_headlines(path: str | os.PathLike[str], model: str = "vader") -> pd.DataFrame:
    """Read a headline file and score each headline.

    Args:
        path: A ``.csv``, ``.parquet`` or ``.pq`` file with the columns :data:`COLUMNS`.
        model: The scoring model, ``"vader"`` or ``"lm"`` (:mod:`mm_gym.news.scoring`).

    Returns:
        A DataFrame with ``timestamp`` (int64 steps or UTC datetime64), ``asset`` and ``headline``
        (str), and ``score`` (float64 in [-1, 1]), in file order, index 0..n-1.

    Raises:
        HeadlineFileError: Naming the file and what is wrong with it.
        ConfigError: If ``model`` is not a scoring model.
        ImportError: If the model's package is missing.
    """
    check_model(model)
    path = Path(path)
    where = f"headline file {str(path)!r}"
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise HeadlineFileError(
            f"{where}: cannot read a {suffix or 'suffix-less'!r} file; use one of {list(SUFFIXES)}"
        )
    if not path.is_file():
        raise HeadlineFileError(f"{where} does not exist or is not a file")
    csv = suffix == ".csv"
    try:
        if csv:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        else:
            frame = pd.read_parquet(path)
    except Exception as exc:  # parsers raise many types for a malformed file
        raise HeadlineFileError(f"{where} cannot be read: {type(exc).__name__}: {exc}") from None
    columns = [str(c) for c in frame.columns]
    missing = [c for c in COLUMNS if c not in columns]
    unknown = [c for c in columns if c not in COLUMNS]
    if missing or unknown or len(set(columns)) != len(columns):
        problem = (
            f"has no column {missing[0]!r}" if missing else
            f"has an unknown column {unknown[0]!r}" if unknown else
            "repeats a column"
        )  # fmt: skip
        raise HeadlineFileError(
            f"{where} {problem}: the columns must be exactly {list(COLUMNS)} (found {columns})"
        )

    def line(i: int) -> str:
        return f"line {i + 2}" if csv else f"row {i}"

    out = pd.DataFrame(
        {
            "timestamp": _timestamps(frame["timestamp"], where, line),
            "asset": _texts(frame["asset"], "asset", where, line),
            "headline": _texts(frame["headline"], "headline", where, line),
        }
    )
    out["score"] = get_scorer(model).score_many(out["headline"])
    return out


def _texts(column: pd.Series, name: str, where: str, line: Callable[[int], str]) -> pd.Series:
    """Non-empty strings (Parquet may hold other types; they are refused, not converted)."""
    values = column.tolist()
    for i, v in enumerate(values):
        if not isinstance(v, str) or not v.strip():
            raise HeadlineFileError(
                f"{where}, {line(i)}: column {name!r} is {excerpt(v)}; it must be a non-empty text"
            )
    return pd.Series(values, dtype=object)


def _timestamps(column: pd.Series, where: str, line: Callable[[int], str]) -> pd.Series:
    """Integer steps (>= 0) or ISO 8601 date-times as UTC; non-decreasing either way."""
    allowed = "integer steps >= 0 or ISO 8601 date-times (e.g. 2024-05-01T09:30:00Z)"
    values = column.tolist()
    if not values:
        return pd.Series([], dtype=np.int64)
    as_int = [_as_step(v) for v in values]
    # The first value decides the kind (steps or date-times); the first value not of it is named.
    if as_int[0] is not None:
        bad = [i for i, v in enumerate(as_int) if v is None or v < 0]
        if bad:
            raise HeadlineFileError(
                f"{where}, {line(bad[0])}: column 'timestamp' is {excerpt(values[bad[0]])}; "
                f"it must be {allowed}, one kind for the whole file"
            )
        result = pd.Series(as_int, dtype=np.int64)
    else:
        parsed = []
        for i, v in enumerate(values):
            try:
                t = pd.Timestamp(v) if not isinstance(v, (int, float, np.number)) else pd.NaT
            except (ValueError, TypeError):
                t = pd.NaT
            if pd.isna(t):
                raise HeadlineFileError(
                    f"{where}, {line(i)}: column 'timestamp' is {excerpt(v)}; it must be "
                    f"{allowed}, one kind for the whole file"
                )
            parsed.append(t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC"))
        result = pd.Series(pd.DatetimeIndex(parsed))
    earlier = np.flatnonzero(result.to_numpy()[1:] < result.to_numpy()[:-1])
    if earlier.size:
        i = int(earlier[0]) + 1
        raise HeadlineFileError(
            f"{where}, {line(i)}: column 'timestamp' goes back in time "
            f"({excerpt(values[i])} after {excerpt(values[i - 1])}); it must be non-decreasing"
        )
    return result


def _as_step(value: object) -> int | None:
    """``value`` as an integer step if it is one (an int, an integral float, or such a string)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return int(value) if float(value).is_integer() else None
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("+-").isdigit():
            return int(text)
    return None
