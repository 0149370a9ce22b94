"""The batched market simulator: state as arrays with a leading ``n_markets`` dimension."""

import os

import numba

from mm_gym.market._cache import ensure_consistent_cache

ensure_consistent_cache()  # before any compiled kernel is imported and loaded

# numba's OpenMP layer spin-waits between parallel regions: with another busy process on a
# 2-core machine the 64-market step fell from ~450k to ~34k market-steps/s. The built-in
# workqueue layer does not spin (measured 447k at 64, 297k vs 227k at 4,096 under load). A user's
# own NUMBA_THREADING_LAYER wins. (workqueue must not be entered by two Python threads at once.)
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"  # type: ignore[attr-defined]

# isort: split

from mm_gym.market.simulator import MarketSimulator, StepResult  # noqa: E402

__all__ = ["MarketSimulator", "StepResult"]
