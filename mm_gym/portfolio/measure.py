"""How correlated a portfolio's prices are: the assets' mids and their realised correlation."""

from __future__ import annotations

import math

import numpy as np

from mm_gym.portfolio.core import PortfolioCore

__all__ = [
    "fisher_interval",
    "lead_lag_r2",
    "record_mids",
    "record_prices",
    "window_correlation",
]


def record_mids(core: PortfolioCore, steps: int, actions: np.ndarray | None = None) -> np.ndarray:
    """``(n, steps + 1, A)`` the assets' consolidated mids over ``steps`` steps of ``core``, ticks.

    Args:
        core: Started markets (:meth:`PortfolioCore.start`).
        steps: Steps to take.
        actions: ``(n, A * 2V)`` every step's actions; default +1 (mm1 parks its quotes at the
            farthest offset and barely trades, so the prices are the market's own).
    """
    return record_prices(core, steps, actions)[0]


def record_prices(
    core: PortfolioCore, steps: int, actions: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The assets' consolidated mids and fundamentals over ``steps`` steps of ``core``, ticks.

    Returns ``(mids, fundamentals)``, each ``(n, steps + 1, A)``; an asset's fundamental is its
    first venue's (hidden from agents; every venue of an asset shares it). Arguments as
    :func:`record_mids`.
    """
    if actions is None:
        actions = np.ones((core.n, core.action_width))
    mids = np.empty((core.n, steps + 1, core.n_assets))
    funds = np.empty_like(mids)

    def keep(t: int) -> None:
        mids[:, t] = core.mids()
        funds[:, t] = np.stack([c.sims[0].scalars.fundamental for c in core.assets], axis=1)

    keep(0)
    for t in range(steps):
        core.act(actions)
        core.settle()
        keep(t + 1)
    return mids, funds


def lead_lag_r2(
    target: np.ndarray, predictors: np.ndarray, n_lags: int = 5, train: np.ndarray | None = None
) -> float:
    """Out-of-sample R^2 of a linear forecast of ``target``'s next change from past changes.

    Regresses ``dy_{t+1}`` (``y = target``) on a constant and ``dx_t, ..., dx_{t-n_lags+1}`` of
    every series ``x`` of ``predictors`` (changes up to and including step ``t``), fitted on the
    ``train`` markets (default the first half) and scored on the others
    (:func:`mm_gym.realism.estimators.predictor_r2_from_parts`: about 0 when nothing predicts,
    below 0 when the fit learned noise).

    Args:
        target: ``(n, T + 1)`` prices, ticks.
        predictors: ``(n, T + 1, k)`` the series whose past changes are the features (e.g. the
            other assets' mids, or a fundamental).
        n_lags: Past changes of each series used.
        train: Boolean mask of the training markets.
    """
    from mm_gym.realism.estimators import predictor_r2_from_parts  # the realism report's fit

    y_all = np.diff(target, axis=1)
    dx = np.diff(predictors, axis=1)
    n, t = y_all.shape
    y = y_all[:, n_lags:]
    feats = [np.ones_like(y)]
    for j in range(dx.shape[2]):
        feats += [dx[:, n_lags - 1 - lag : t - 1 - lag, j] for lag in range(n_lags)]
    x = np.stack(feats, axis=2)
    parts = {
        "xtx": np.einsum("mti,mtj->mij", x, x),
        "xty": np.einsum("mti,mt->mi", x, y),
        "yty": (y * y).sum(axis=1),
        "sy": y.sum(axis=1),
        "n": np.full(n, float(y.shape[1])),
    }
    return predictor_r2_from_parts(parts, train=train)


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
