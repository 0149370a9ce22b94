"""Portfolio risk of ``n`` environments at once: covariance, delta-normal VaR, hedging.

The building blocks of issue #15's portfolio risk, in numpy, batched over environments, used by
``mm_gym/Portfolio-v0`` (:mod:`mm_gym.portfolio.core`). Conventions:

- ``n`` environments, ``A`` assets, ``V`` venues. Every array has the environment axis first.
- A **return** is the relative price change of an asset over one step (dimensionless).
- An **exposure** ``e_a`` is the portfolio's PnL, in currency, per unit return of asset ``a``:
  the position's market value (``inventory_lots * lot_size * price``), signed, positive when
  long. The one-step PnL of the portfolio is ``e . r`` for returns ``r``.
- A **covariance** ``Sigma`` is that of one-step returns, shape ``(n, A, A)``
  (:class:`EWMACovariance`). The variance of the one-step PnL is ``e' Sigma e``, currency^2.
- VaR and its contributions are positive numbers for losses, in currency.

The measures:

- :func:`delta_normal_var`: ``VaR = z_level * sqrt(h * e' Sigma e)`` (PnL normal with mean 0,
  returns independent across steps, so the variance over ``h`` steps is ``h`` times that of one);
- :func:`marginal_var`: its Euler allocation over assets, which sums to the VaR;
- :func:`hedge_orders`: greedy one-lot marketable trades that bring the VaR under a limit, each
  asset's trades on its cheapest venue for a taker.

The **historical** VaR and expected shortfall of a portfolio's PnL are those of any PnL series:
:func:`mm_gym.metrics.var_es` on the per-step portfolio PnL (currency), for example
``var_es(pnl_steps, level=0.99)`` with ``pnl_steps`` of shape ``(n, T)``; it is not repeated
here.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mm_gym.config import _check_range

__all__ = [
    "EWMACovariance",
    "delta_normal_var",
    "hedge_orders",
    "marginal_var",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# Relative tolerance of the checks that a covariance is symmetric and positive semi-definite
# (round-off of the EWMA recursion and of user-built matrices is far below this).
_COV_REL_TOL = 1e-9
# A one-lot trade must lower the PnL variance by more than this fraction to count as lowering
# it: the greedy hedge then never trades back and forth on round-off.
_IMPROVE_REL_TOL = 1e-12


# --------------------------------------------------------------------------- input checks


def _floats(x: ArrayLike, name: str, shape: tuple[int | None, ...]) -> FloatArray:
    """``x`` as a finite float64 array of ``shape`` (``None``: any length on that axis)."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array, got {type(x).__name__}") from exc
    if arr.ndim != len(shape) or any(
        s is not None and s != a for s, a in zip(shape, arr.shape, strict=True)
    ):
        dims = ["any" if s is None else str(s) for s in shape]
        want = f"({dims[0]},)" if len(dims) == 1 else "(" + ", ".join(dims) + ")"
        raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} must be finite; got {arr[where]} at index {where}")
    return arr


def _level_z(level: float) -> float:
    """The standard normal quantile of ``level``, which must be in (0.5, 1)."""
    _check_range("level", level, 0.5, 1.0, lo_open=True, hi_open=True)
    return NormalDist().inv_cdf(float(level))


def _exposure_cov(exposure: ArrayLike, cov: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Check ``exposure (n, A)`` and ``cov (n, A, A)`` or ``(A, A)``; return cov as (n, A, A)."""
    e = _floats(exposure, "exposure", (None, None))
    n, n_assets = e.shape
    if np.ndim(cov) == 2:
        c = np.broadcast_to(_floats(cov, "cov", (n_assets, n_assets)), (n, n_assets, n_assets))
    else:
        c = _floats(cov, "cov", (n, n_assets, n_assets))
    scale = np.abs(c).max(initial=0.0)
    asym = np.abs(c - np.swapaxes(c, 1, 2)).max(initial=0.0)
    if asym > _COV_REL_TOL * max(scale, 1e-300):
        raise ValueError(f"cov must be symmetric; the largest |cov - cov'| is {asym:g}")
    diag = np.diagonal(c, axis1=1, axis2=2)
    if (diag < 0).any():
        where = tuple(int(i) for i in np.argwhere(diag < 0)[0])
        raise ValueError(f"cov must have non-negative variances; got {diag[where]:g} at {where}")
    return e, c


# The products below are summed in one fixed order per environment, element-wise over the
# environment axis: an environment's result is then bit for bit the same in any batch (einsum's
# order of summation can depend on the batch size), so a vector env equals its single envs.


def _matvec(c: FloatArray, e: FloatArray) -> FloatArray:
    """``(n, A)`` ``Sigma e`` per environment for ``c (n, A, A)`` and ``e (n, A)``."""
    out = np.zeros(e.shape)
    for b in range(e.shape[1]):
        out += c[:, :, b] * e[:, b, None]
    return out


def _quadratic(x: FloatArray, c: FloatArray, y: FloatArray) -> FloatArray:
    """``(n,)`` ``x' Sigma y`` per environment."""
    xs = x * _matvec(c, y)
    out = np.zeros(x.shape[0])
    for a in range(x.shape[1]):
        out += xs[:, a]
    return out


def _variance(e: FloatArray, c: FloatArray) -> FloatArray:
    """``e' Sigma e`` per environment, currency^2, checked to be non-negative up to round-off."""
    q = _quadratic(e, c, e)
    # Round-off can leave a PSD quadratic form slightly negative; a clearly negative one means
    # the matrix is not a covariance.
    bound = _COV_REL_TOL * _quadratic(np.abs(e), np.abs(c), np.abs(e))
    if (q < -bound).any():
        i = int(np.argmax(q < -bound))
        raise ValueError(
            f"cov is not positive semi-definite: e' cov e = {q[i]:g} < 0 for environment {i}"
        )
    return np.maximum(q, 0.0)


def _horizon(horizon_steps: float) -> float:
    _check_range("horizon_steps", horizon_steps, 0.0, None, lo_open=True)
    return float(horizon_steps)


# --------------------------------------------------------------------------- covariance


def env_mask(mask: ArrayLike, n_envs: int, who: str) -> NDArray[np.bool_]:
    """``mask`` as a boolean array of shape ``(n_envs,)``.

    Raises:
        ValueError: Naming ``who``, if ``mask`` is not a boolean array of that shape.
    """
    m = np.asarray(mask)
    if m.dtype != np.bool_ or m.shape != (n_envs,):
        raise ValueError(
            f"{who} must be a boolean array of shape ({n_envs},), "
            f"got dtype {m.dtype} and shape {m.shape}"
        )
    return m


class EWMACovariance:
    """Exponentially weighted mean and covariance of asset returns, per environment.

    RiskMetrics-style weights: after ``T`` updates the return of update ``t`` (``t = 1 .. T``)
    has weight ``w_t = lambda^(T - t)`` with decay ``lambda = 0.5^(1 / halflife_steps)``, so a
    return's weight halves every ``halflife_steps`` updates. The estimates are the weighted
    mean and the weighted covariance with the reliability-weights bias correction::

        W1 = sum_t w_t,   W2 = sum_t w_t^2
        mean = sum_t w_t r_t / W1
        cov  = sum_t w_t (r_t - mean)(r_t - mean)' / (W1 - W2 / W1)

    Normalising by the weights actually given (not by their limit ``1 / (1 - lambda)``) makes the
    first updates unbiased rather than shrunk towards 0 (the same as
    ``pandas.DataFrame.ewm(halflife=h, adjust=True).cov(bias=False)``); with equal weights
    (``halflife_steps -> inf``) it is the sample covariance with ``ddof=1``. It is updated in
    O(A^2) per environment and step by West's weighted recursion.

    **Warm-up.** The covariance of an environment needs two updates: :attr:`covariance` is NaN
    for environments with fewer (see :attr:`n_updates`), and so is :attr:`mean` before the
    first. The effective number of observations ``W1^2 / W2`` tends to
    ``(1 + lambda) / (1 - lambda)``, about ``2.885 x halflife_steps``: the estimate's relative
    sampling error is about ``sqrt(2 / that)`` for a variance.

    Args:
        n_envs: Number of environments, >= 1.
        n_assets: Number of assets ``A``, >= 1.
        halflife_steps: Half-life of the weights, in updates (steps), > 0.

    Raises:
        ConfigError: If an argument is out of range (the message names it).
    """

    def __init__(self, n_envs: int, n_assets: int, halflife_steps: float) -> None:
        """Make empty estimates (no update yet) for ``n_envs`` environments."""
        _check_range("EWMACovariance.n_envs", n_envs, 1, None, integer=True)
        _check_range("EWMACovariance.n_assets", n_assets, 1, None, integer=True)
        _check_range("EWMACovariance.halflife_steps", halflife_steps, 0.0, None, lo_open=True)
        self.n_envs = int(n_envs)
        self.n_assets = int(n_assets)
        self.halflife_steps = float(halflife_steps)
        self.decay = 0.5 ** (1.0 / self.halflife_steps)
        n, a = self.n_envs, self.n_assets
        self._w1 = np.zeros(n)
        self._w2 = np.zeros(n)
        self._mean = np.zeros((n, a))
        self._m2 = np.zeros((n, a, a))  # sum_t w_t (r_t - mean)(r_t - mean)'
        self._count = np.zeros(n, dtype=np.int64)

    def update(self, returns: ArrayLike) -> None:
        """Add one step's returns of every environment.

        Args:
            returns: One-step returns, dimensionless, shape ``(n_envs, n_assets)``, finite.

        Raises:
            ValueError: On a wrong shape or a NaN/inf return (the message names ``returns``).
        """
        r = _floats(returns, "returns", (self.n_envs, self.n_assets))
        lam = self.decay
        self._w1 = lam * self._w1 + 1.0
        self._w2 = lam * lam * self._w2 + 1.0
        delta = r - self._mean
        # West (1979): with the new weight 1 and total W1, mean += delta / W1 and
        # M2 += (r - mean_old)(r - mean_new)' = (1 - 1 / W1) delta delta' (symmetric as written).
        self._mean += delta / self._w1[:, None]
        gain = (1.0 - 1.0 / self._w1)[:, None, None]
        self._m2 = lam * self._m2 + gain * (delta[:, :, None] * delta[:, None, :])
        self._count += 1

    @property
    def covariance(self) -> FloatArray:
        """The covariance estimate of one-step returns, shape ``(n_envs, A, A)``.

        NaN for environments with fewer than two updates (the warm-up).
        """
        denom = self._w1 - np.divide(
            self._w2, self._w1, out=np.zeros_like(self._w1), where=self._w1 > 0
        )
        ready = self._count >= 2
        safe = np.where(ready, denom, 1.0)
        cov = self._m2 / safe[:, None, None]
        cov[~ready] = np.nan
        return cov

    @property
    def mean(self) -> FloatArray:
        """The weighted mean return, shape ``(n_envs, A)``; NaN before an env's first update."""
        out = self._mean.copy()
        out[self._count == 0] = np.nan
        return out

    @property
    def n_updates(self) -> IntArray:
        """Number of updates since each environment's last reset, shape ``(n_envs,)``."""
        return self._count.copy()

    def reset(self, mask: ArrayLike | None = None) -> None:
        """Forget the returns of some or all environments.

        Args:
            mask: Boolean ``(n_envs,)``, True for the environments to reset; ``None``: all.

        Raises:
            ValueError: If ``mask`` is not a boolean array of shape ``(n_envs,)``.
        """
        m: Any = slice(None) if mask is None else env_mask(mask, self.n_envs, "mask")
        self._w1[m] = 0.0
        self._w2[m] = 0.0
        self._mean[m] = 0.0
        self._m2[m] = 0.0
        self._count[m] = 0


# --------------------------------------------------------------------------- delta-normal VaR


def delta_normal_var(
    exposure: ArrayLike, cov: ArrayLike, level: float = 0.99, horizon_steps: float = 1.0
) -> FloatArray:
    """Delta-normal value-at-risk of each environment's portfolio, in currency.

    ``VaR = z_level * sqrt(h * e' Sigma e)``: the ``level`` quantile of the loss ``-e . r`` when
    the one-step returns ``r`` are normal with mean 0 and covariance ``Sigma`` and independent
    across steps (the square-root-of-time rule for ``h`` steps); ``z_level`` is the standard
    normal quantile (2.326 at 0.99). The mean return is ignored, as is usual for short horizons.

    Args:
        exposure: Currency PnL per unit return of each asset, shape ``(n, A)``.
        cov: Covariance of one-step returns, ``(n, A, A)``, or ``(A, A)`` shared by all ``n``;
            symmetric positive semi-definite.
        level: Confidence level in (0.5, 1).
        horizon_steps: Horizon ``h`` in steps, > 0 (need not be an integer).

    Returns:
        VaR per environment, currency, shape ``(n,)``, >= 0.

    Raises:
        ValueError: On a wrong shape, NaN/inf, a covariance that is not symmetric, has a
            negative variance or gives a negative ``e' Sigma e`` (not positive semi-definite;
            the full eigenvalue check is left out for speed), or ``level`` / ``horizon_steps``
            out of range (a :class:`~mm_gym.config.ConfigError`); the message names the
            argument.
    """
    z = _level_z(level)
    h = _horizon(horizon_steps)
    e, c = _exposure_cov(exposure, cov)
    return np.asarray(z * np.sqrt(h * _variance(e, c)), dtype=np.float64)


def marginal_var(
    exposure: ArrayLike, cov: ArrayLike, level: float = 0.99, horizon_steps: float = 1.0
) -> FloatArray:
    """Euler allocation of :func:`delta_normal_var` over assets, in currency.

    ``contribution_a = e_a * dVaR/de_a = z_level * sqrt(h) * e_a (Sigma e)_a / sqrt(e' Sigma e)``;
    VaR is homogeneous of degree 1 in ``e``, so the contributions sum to the VaR (Euler's
    theorem). A contribution is negative for an asset that hedges the rest. An environment with
    zero variance (``e' Sigma e = 0``) has VaR 0 and every contribution 0.

    Args:
        exposure: Currency PnL per unit return of each asset, shape ``(n, A)``.
        cov: Covariance of one-step returns, ``(n, A, A)`` or ``(A, A)``.
        level: Confidence level in (0.5, 1).
        horizon_steps: Horizon in steps, > 0.

    Returns:
        Contributions, currency, shape ``(n, A)``; each row sums to that environment's VaR.

    Raises:
        ValueError: As :func:`delta_normal_var`.
    """
    z = _level_z(level)
    h = _horizon(horizon_steps)
    e, c = _exposure_cov(exposure, cov)
    sd = np.sqrt(_variance(e, c))
    s = _matvec(c, e)
    safe = np.where(sd > 0, sd, 1.0)
    contrib = z * math.sqrt(h) * e * s / safe[:, None]
    return np.asarray(np.where(sd[:, None] > 0, contrib, 0.0), dtype=np.float64)


# --------------------------------------------------------------------------- hedging


def hedge_orders(
    exposure: ArrayLike,
    cov: ArrayLike,
    var_limit: ArrayLike,
    lot_value: ArrayLike,
    taker_cost_bps: ArrayLike,
    max_lots: ArrayLike,
    level: float = 0.99,
    horizon_steps: float = 1.0,
) -> tuple[IntArray, IntArray]:
    """Marketable hedge trades, in lots, that bring each environment's VaR under its limit.

    For each environment whose :func:`delta_normal_var` exceeds ``var_limit``, trades are chosen
    one lot at a time, greedily: at each step, among the one-lot trades in every asset and both
    directions (buying a lot of asset ``a`` adds ``lot_value[a]`` to ``e_a``, selling subtracts
    it), the one that lowers the VaR most. It stops when the VaR is at or under the limit, when
    no one-lot trade lowers it (by more than a relative 1e-12 of the variance), or when every
    asset that could still lower it has ``|lots| == max_lots``. Environments already within
    their limit trade nothing.

    The direction is the one that reduces the **measured** exposure, ``e' Sigma e`` under the
    given covariance, not the position asset by asset: with correlated assets the best trade
    can be in an asset the portfolio holds no position in (a long in a second asset hedges a
    long in the first when their returns are negatively correlated), or a smaller trade in the
    held asset than flattening it. The hedge is only as good as ``cov``.

    Each asset's trades go to its venue with the lowest taker cost (the first such venue on a
    tie). The costs do not enter the choice of trades; the caller pays them (fees and impact).

    Args:
        exposure: Currency PnL per unit return of each asset, shape ``(n, A)``.
        cov: Covariance of one-step returns, ``(n, A, A)`` or ``(A, A)``.
        var_limit: VaR limit, currency, >= 0: a scalar or shape ``(n,)``.
        lot_value: Exposure change of buying one lot of each asset, currency per unit return
            (``lot_size * price``), > 0, shape ``(A,)`` or per environment ``(n, A)``.
        taker_cost_bps: Cost of taking liquidity on each venue (fee plus expected impact),
            basis points of notional, shape ``(A, V)`` or per environment ``(n, A, V)``; or per
            environment and side, ``(n, A, V, 2)`` (buying, selling), where each trade's venue
            is the cheapest for its direction.
        max_lots: Largest ``|lots|`` per asset, integer >= 0: a scalar or shape ``(A,)``.
        level: Confidence level of the VaR, in (0.5, 1).
        horizon_steps: Horizon of the VaR in steps, > 0.

    Returns:
        ``(lots, venue)``, both int64 of shape ``(n, A)``: ``lots`` signed lots to trade
        (+ buy, - sell) and ``venue`` the venue index of each asset's trade, -1 where
        ``lots == 0``.

    Raises:
        ValueError: On a wrong shape, NaN/inf or an argument out of range (the message names
            it).
    """
    z = _level_z(level)
    h = _horizon(horizon_steps)
    e, c = _exposure_cov(exposure, cov)
    limit, lv, costs, cap = _hedge_inputs(e.shape, var_limit, lot_value, taker_cost_bps, max_lots)
    # VaR <= limit  <=>  e' Sigma e <= (limit / (z sqrt(h)))^2: the search works on variances.
    target = (limit / (z * math.sqrt(h))) ** 2
    lots = _greedy_hedge_lots(e, c, target, lv, cap)
    if costs.ndim == 4:  # per side: a buy's cost where lots > 0, a sell's otherwise
        costs = np.where((lots > 0)[:, :, None], costs[..., 0], costs[..., 1])
    cheapest = np.argmin(costs, axis=2).astype(np.int64)  # (n, A)
    venue = np.where(lots != 0, cheapest, -1).astype(np.int64)
    return lots, venue


def _hedge_inputs(
    shape: tuple[int, int],
    var_limit: ArrayLike,
    lot_value: ArrayLike,
    taker_cost_bps: ArrayLike,
    max_lots: ArrayLike,
) -> tuple[FloatArray, FloatArray, FloatArray, IntArray]:
    """Check the arguments of :func:`hedge_orders` for an exposure of ``shape`` ``(n, A)``.

    Returns:
        ``(limit, lot_value, costs, cap)``: the VaR limits ``(n,)``, the lot values
        ``(n, A)``, the costs ``(n, A, V)`` or ``(n, A, V, 2)`` and the lot caps, int64 ``(A,)``.
    """
    n, n_assets = shape
    if np.ndim(var_limit) == 0:
        limit = np.full(n, float(_floats(var_limit, "var_limit", ())))
    else:
        limit = _floats(var_limit, "var_limit", (n,))
    if (limit < 0).any():
        raise ValueError(f"var_limit must be >= 0, got {limit.min():g}")
    if np.ndim(lot_value) == 2:
        lv = _floats(lot_value, "lot_value", (n, n_assets))
    else:
        lv = np.broadcast_to(_floats(lot_value, "lot_value", (n_assets,)), (n, n_assets))
    if (lv <= 0).any():
        raise ValueError(f"lot_value must be > 0, got {lv.min():g}")
    if np.ndim(taker_cost_bps) == 2:
        costs = _floats(taker_cost_bps, "taker_cost_bps", (n_assets, None))
        costs = np.broadcast_to(costs, (n, *costs.shape))
    elif np.ndim(taker_cost_bps) == 4:
        costs = _floats(taker_cost_bps, "taker_cost_bps", (n, n_assets, None, 2))
    else:
        costs = _floats(taker_cost_bps, "taker_cost_bps", (n, n_assets, None))
    if costs.shape[2] < 1:
        raise ValueError(f"taker_cost_bps needs at least one venue, got shape {costs.shape}")
    cap = np.asarray(max_lots)
    if cap.shape not in ((), (n_assets,)):
        raise ValueError(f"max_lots must be a scalar or of shape ({n_assets},), got {cap.shape}")
    cap = np.broadcast_to(cap, (n_assets,))
    if not np.issubdtype(cap.dtype, np.integer) or (cap < 0).any():
        raise ValueError(f"max_lots must be integers >= 0, got {np.asarray(max_lots)!r}")
    cap = cap.astype(np.int64)
    return limit, lv, costs, cap


def _greedy_hedge_lots(
    e: FloatArray, c: FloatArray, target: FloatArray, lv: FloatArray, cap: IntArray
) -> IntArray:
    """The greedy one-lot search of :func:`hedge_orders`, on PnL variances.

    Args:
        e: Exposure, ``(n, A)``.
        c: Covariance, ``(n, A, A)``.
        target: Largest allowed variance ``e' Sigma e`` per environment, ``(n,)``.
        lv: Exposure change of one lot of each asset, ``(n, A)``.
        cap: Largest ``|lots|`` per asset, ``(A,)``.

    Returns:
        Signed lots to trade, int64 ``(n, A)``.
    """
    n, n_assets = e.shape
    diag = np.diagonal(c, axis1=1, axis2=2)  # (n, A)
    lots = np.zeros((n, n_assets), dtype=np.int64)
    cur = e.copy()
    var = _variance(cur, c)
    active = var > target
    direction = np.array([1, -1], dtype=np.int64)
    # Every move strictly lowers the variance, so no state repeats: the loop ends after at most
    # prod(2 max_lots + 1) moves, in practice after about the number of lots traded.
    while active.any():
        idx = np.flatnonzero(active)
        s = _matvec(c[idx], cur[idx])  # (k, A) = Sigma e
        # Variance after d * one lot of asset a: q + 2 d L_a s_a + L_a^2 Sigma_aa, d = +1 / -1.
        d = direction[None, None, :]
        new_var = (
            var[idx, None, None]
            + 2.0 * d * (lv[idx] * s)[:, :, None]
            + (lv[idx] ** 2 * diag[idx])[:, :, None]
        )
        allowed = np.abs(lots[idx][:, :, None] + d) <= cap[None, :, None]
        new_var = np.where(allowed, new_var, np.inf)
        flat = new_var.reshape(len(idx), -1)
        best = np.argmin(flat, axis=1)
        best_var = flat[np.arange(len(idx)), best]
        improves = best_var < var[idx] * (1.0 - _IMPROVE_REL_TOL)
        moving = idx[improves]
        asset = best[improves] // 2
        step = direction[best[improves] % 2]
        lots[moving, asset] += step
        cur[moving, asset] += step * lv[moving, asset]
        # Recomputed from the exposure (not from best_var) so round-off does not accumulate.
        var[moving] = _variance(cur[moving], c[moving])
        active[idx[~improves]] = False
        active[moving] = var[moving] > target[moving]
    return lots
