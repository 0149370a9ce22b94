"""How correlated a portfolio's prices are: the assets' mids and their realised correlation."""

from __future__ import annotations

import math

import numpy as np

from mm_gym.portfolio.core import PortfolioCore

__all__ = ["fisher_interval", "record_mids", "window_correlation"]


def record_mids(core: PortfolioCore, steps: int, actions: np.ndarray | None = None) -> np.ndarray:
    """``(n, steps + 1, A)`` the assets' consolidated mids over ``steps`` steps of ``core``, ticks.

    Args:
        core: Started markets (:meth:`PortfolioCore.start`).
        steps: Steps to take.
        actions: ``(n, A * 2V)`` every step's actions; default +1 (mm1 parks its quotes at the
            farthest offset and barely trades, so the prices are the market's own).
    """
    if actions is None:
        actions = np.ones((core.n, core.action_width))
    mids = np.empty((core.n, steps + 1, core.n_assets))
    mids[:, 0] = core.mids()
    for t in range(steps):
        core.act(actions)
        core.settle()
        mids[:, t + 1] = core.mids()
    return mids


def window_correlation(mids: np.ndarray, a: int, b: int, h: int) -> tuple[float, int]:
    """Correlation of assets ``a`` and ``b``'s mid changes over non-overlapping ``h`` steps.

    Pooled over the markets after removing each market's mean change. Returns the correlation
    and the number of windows.
    """
    x = np.diff(mids[:, ::h, a], axis=1)
    y = np.diff(mids[:, ::h, b], axis=1)
    x = x - x.mean(axis=1, keepdims=True)
    y = y - y.mean(axis=1, keepdims=True)
    return float((x * y).sum() / math.sqrt((x * x).sum() * (y * y).sum())), int(x.size)


def fisher_interval(r: float, m: int, z: float = 1.96) -> tuple[float, float]:
    """The interval ``tanh(atanh(r) +- z / sqrt(m - 3))`` of a correlation from ``m`` pairs.

    The Fisher-z interval (95 % for ``z = 1.96``), for independent pairs.
    """
    half = z / math.sqrt(m - 3)
    return math.tanh(math.atanh(r) - half), math.tanh(math.atanh(r) + half)
