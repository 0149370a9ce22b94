"""Estimate the fill-intensity curve ``lambda(delta) = A * exp(-k * delta)`` from fill counts.

Avellaneda & Stoikov (2008), eq. (12), model the rate at which a quote at distance ``delta``
from the mid is filled as ``A * exp(-k * delta)``; both their quotes (through ``k``) and those of
Guéant, Lehalle & Fernandez-Tapia (2013) (through ``A`` and ``k``) need the two numbers. Quote
at a few fixed depths, count the fills and the time spent at each depth, and fit.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from mm_gym.config import ConfigError

__all__ = ["calibrate_k"]


def calibrate_k(
    depths: np.ndarray | list[float],
    fill_counts: np.ndarray | list[float],
    exposure_steps: np.ndarray | list[float],
) -> tuple[float, float]:
    """Maximum-likelihood fit of ``lambda(delta) = A * exp(-k * delta)`` to fill counts.

    Model: the number of fills ``N_i`` of a quote kept at depth ``delta_i`` for ``E_i`` steps is
    Poisson with mean ``E_i * A * exp(-k * delta_i)``. This is a Poisson regression with a log
    link, and its likelihood is concave; profiling ``A`` out (``A = sum N / sum E e^{-k delta}``)
    leaves one equation in ``k``: the observed fill-weighted mean depth must equal the mean
    depth under the weights ``E_i e^{-k delta_i}``, which decreases strictly in ``k``, so the
    root is unique and found by safeguarded Newton steps.

    The Poisson likelihood's score equations only involve the means, so the fit is consistent
    whenever ``E[N_i] = E_i * A * exp(-k * delta_i)``, whatever the count distribution: e.g. for
    at most one fill per step with probability ``A * exp(-k * delta) * dt`` (the intensity model
    of :mod:`mm_gym.market.intensity`), with ``E_i`` in units of time.

    Args:
        depths: Quote depths ``delta_i`` (e.g. ticks from the mid), at least two distinct.
        fill_counts: Fills observed at each depth (>= 0).
        exposure_steps: Steps (or time) spent quoting at each depth (> 0).

    Returns:
        ``(A, k)``: fills per unit of exposure at depth zero, and the decay per unit of depth.
        A negative ``k`` (fills increasing with depth) is returned with a warning.

    Raises:
        ConfigError: On mismatched lengths, negative or non-finite values, fewer than two
            distinct depths, no fills, or data for which the MLE does not exist (all fills at the
            shallowest depth or all at the deepest: ``k`` would be infinite).
    """
    d = _as_1d("depths", depths)
    n = _as_1d("fill_counts", fill_counts)
    e = _as_1d("exposure_steps", exposure_steps)
    if not (d.size == n.size == e.size):
        raise ConfigError(
            f"depths, fill_counts and exposure_steps must have the same length; got "
            f"{d.size}, {n.size} and {e.size}"
        )
    if np.any(n < 0):
        raise ConfigError(f"fill_counts={n.tolist()!r} must all be >= 0")
    if np.any(e <= 0):
        raise ConfigError(f"exposure_steps={e.tolist()!r} must all be > 0")
    if np.unique(d).size < 2:
        raise ConfigError(f"depths={d.tolist()!r} must hold at least two distinct values")
    total = float(n.sum())
    if total <= 0:
        raise ConfigError("fill_counts are all zero: no fills, so A and k cannot be estimated")
    # Centre the depths: k is unchanged, and exp() stays well scaled.
    centre = float(np.average(d, weights=e))
    x = d - centre
    target = float(np.dot(n, x) / total)  # observed fill-weighted mean depth
    lo, hi = float(x.min()), float(x.max())
    span = hi - lo
    if not (lo + 1e-12 * span < target < hi - 1e-12 * span):
        where = "shallowest" if target <= lo + 1e-12 * span else "deepest"
        raise ConfigError(
            f"all fills are at the {where} depth: the likelihood has no maximum (k is infinite); "
            "quote at depths where both ends get some fills"
        )

    def moments(k: float) -> tuple[float, float, float]:
        """Mean and variance of the depth under weights ``E e^{-k x}``, and log of their sum."""
        z = -k * x
        zmax = float(z.max())
        w = e * np.exp(z - zmax)
        sw = float(w.sum())
        mean = float(np.dot(w, x) / sw)
        var = float(np.dot(w, (x - mean) ** 2) / sw)
        return mean, var, math.log(sw) + zmax

    # g(k) = mean_k - target is strictly decreasing (g' = -var < 0): bracket, then Newton with
    # bisection as the safeguard.
    k_lo, k_hi = -1.0 / span, 1.0 / span
    while moments(k_lo)[0] <= target:
        k_lo *= 2.0
    while moments(k_hi)[0] >= target:
        k_hi *= 2.0
    k = 0.0  # inside the bracket: k_lo < 0 < k_hi
    for _ in range(200):
        mean, var, _ = moments(k)
        g = mean - target
        if g > 0:
            k_lo = k
        else:
            k_hi = k
        step = g / var if var > 0 else 0.0
        k_new = k + step
        if not (k_lo < k_new < k_hi):
            k_new = 0.5 * (k_lo + k_hi)
        if abs(k_new - k) <= 1e-13 * max(1.0, abs(k)):
            k = k_new
            break
        k = k_new
    _, _, log_sw = moments(k)
    # A at the centred origin, moved back to depth zero: A0 = A_c * exp(k * centre).
    log_a = math.log(total) - log_sw + k * centre
    if k <= 0:
        warnings.warn(
            f"calibrate_k: estimated k={k!r} <= 0 (fills do not decrease with depth)",
            RuntimeWarning,
            stacklevel=2,
        )
    return math.exp(log_a), k


def _as_1d(name: str, values: np.ndarray | list[float]) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ConfigError(f"{name} must be a non-empty 1-D sequence; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ConfigError(f"{name}={arr.tolist()!r} must be finite")
    return arr
