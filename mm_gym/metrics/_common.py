"""Shared types, tolerances and input validation of :mod:`mm_gym.metrics`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray: TypeAlias = NDArray[np.float64]
#: A statistic of a 1-D series (``float``) or of each row of a 2-D batch (``(n_episodes,)``).
FloatOrArray: TypeAlias = float | FloatArray

# A standard deviation below this fraction of |mean| is rounding noise of a constant series
# (e.g. the std of [0.1] * 100 is ~3e-17, not 0), so the Sharpe ratio is reported as 0.
_STD_REL_TOL = 1e-12
# Inventory and fills are in lots (usually integers); this relative tolerance only absorbs
# rounding of fractional sizes when checking that fills explain the inventory changes.
_INVENTORY_REL_TOL = 1e-9
# Bootstrap resampling is done in chunks of at most this many drawn indices to bound memory.
_BOOTSTRAP_CHUNK = 1 << 22


# --------------------------------------------------------------------------- validation helpers


def _float_array(
    x: ArrayLike,
    name: str,
    *,
    ndims: Sequence[int] = (1,),
    min_len: int = 1,
    allow_nan: bool = False,
) -> FloatArray:
    """Convert ``x`` to a float64 array, checking its number of dimensions, length and values."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array, got {type(x).__name__}") from exc
    if arr.ndim not in ndims:
        allowed = " or ".join(f"{d}-D" for d in ndims)
        raise ValueError(f"{name} must be {allowed}, got shape {arr.shape}")
    if arr.ndim > 0 and arr.shape[-1] < min_len:
        raise ValueError(
            f"{name} needs at least {min_len} value(s) per series, got shape {arr.shape}"
        )
    bad = np.isinf(arr) if allow_nan else ~np.isfinite(arr)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        what = "inf" if allow_nan else "NaN or inf"
        raise ValueError(f"{name} must not contain {what}; got {arr[where]} at index {where}")
    return arr


def _scalar(
    x: float,
    name: str,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Check that ``x`` is a finite real in the given range and return it as a float."""
    try:
        v = float(x)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a real number, got {x!r}") from exc
    too_low = v <= low if low_open else v < low
    too_high = v >= high if high_open else v > high
    if not math.isfinite(v) or too_low or too_high:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        raise ValueError(f"{name} must be finite and in {lo}{low}, {high}{hi}, got {x!r}")
    return v


def _level(level: float) -> float:
    return _scalar(level, "level", low=0.0, high=1.0, low_open=True, high_open=True)


def _out(values: FloatArray, batched: bool) -> FloatOrArray:
    """Return a reduction as a ``float`` for a single series or as an array for a batch."""
    return np.asarray(values, dtype=np.float64) if batched else float(values)
