"""Estimators of the stylized facts, pure numpy, pooled over markets and bootstrappable.

Every estimator comes in two halves:

- ``*_parts(...)`` reduces the raw per-market series to **per-market sufficient statistics**: a
  dict of arrays whose leading dimension is the market (``Parts``);
- ``*_from_parts(parts, weights)`` combines them into the estimate, each market's contribution
  multiplied by ``weights[m]`` (``None``: every market once).

The split makes the bootstrap over markets cheap and exact: :func:`bootstrap_draws` resamples
markets with replacement by drawing multinomial counts as ``weights``, so a resample never touches
the raw series again. Markets, not steps, are resampled because steps within a market are
dependent (volatility clustering, long memory); markets are independent.

Units: returns ``r`` are mid changes in **ticks per step**; order sizes in **lots**; lags and
horizons in **steps** (or in **orders** for the sign series, which lives in event time).

References:
    Cont, R. (2001). Empirical properties of asset returns: stylized facts and statistical issues.
    Quantitative Finance 1, 223-236.
    Lillo, F. & Farmer, J. D. (2004). The long memory of the efficient market. Studies in
    Nonlinear Dynamics & Econometrics 8(3).
    Lillo, F., Mike, S. & Farmer, J. D. (2005). Theory for long memory in supply and demand.
    Physical Review E 71, 066122.
    Bouchaud, J.-P., Gefen, Y., Potters, M. & Wyart, M. (2004). Fluctuations and response in
    financial markets: the subtle nature of 'random' price changes. Quantitative Finance 4, 176.
    Bouchaud, J.-P., Farmer, J. D. & Lillo, F. (2009). How markets slowly digest changes in supply
    and demand. In Handbook of Financial Markets: Dynamics and Evolution, 57-160.
    Lo, A. W. & MacKinlay, A. C. (1988). Stock market prices do not follow random walks: evidence
    from a simple specification test. Review of Financial Studies 1, 41-66.
    Beran, J. (1994). Statistics for Long-Memory Processes, section 4.4 (aggregated variance).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "Lags",
    "Parts",
    "Series",
    "acf_from_parts",
    "acf_parts",
    "aggregate",
    "bootstrap_draws",
    "depth_profile_from_parts",
    "excess_kurtosis_from_parts",
    "hurst_from_parts",
    "impact_curve_from_parts",
    "impact_exponent_from_parts",
    "impact_parts",
    "kurtosis_parts",
    "log_bins",
    "percentile_ci",
    "predictor_parts",
    "predictor_r2_from_parts",
    "response_from_parts",
    "response_parts",
    "sign_hurst_parts",
    "spread_parts",
    "spread_stats_from_parts",
    "variance_from_parts",
    "variance_parts",
    "variance_ratio_from_parts",
    "weighted_sum",
    "xcorr_from_parts",
    "xcorr_parts",
]

Parts = dict[str, np.ndarray]
"""Per-market sufficient statistics: every array's leading dimension is the market."""

Series = Sequence[np.ndarray] | np.ndarray
"""One 1-D series per market: a 2-D array ``(n_markets, T)`` or a list of 1-D arrays (ragged)."""

Lags = Sequence[int] | np.ndarray
"""Integer lags, block sizes or horizons (a list or a 1-D integer array)."""


def weighted_sum(a: np.ndarray, weights: np.ndarray | None) -> Any:
    """Sum of ``a`` over its leading (market) axis, market ``m`` counted ``weights[m]`` times.

    Args:
        a: Per-market statistics, leading dimension ``n_markets``.
        weights: ``(n_markets,)`` weights, or ``None`` for every market once.
    """
    if weights is None:
        return a.sum(axis=0)
    return np.tensordot(np.asarray(weights, np.float64), a, axes=(0, 0))


# --------------------------------------------------------------------------- bootstrap


def bootstrap_draws(
    parts: Parts,
    statistic: Callable[[Parts, np.ndarray | None], Any],
    n_boot: int = 1000,
    seed: int = 0,
) -> np.ndarray:
    """The statistic on ``n_boot`` resamples of the markets (with replacement).

    Args:
        parts: Per-market statistics (leading dimension ``n_markets``).
        statistic: ``statistic(parts, weights)``, e.g. :func:`acf_from_parts`.
        n_boot: Number of resamples.
        seed: Seed of the resampling generator (fixed: reports are reproducible).

    Returns:
        ``(n_boot, ...)`` array of the statistic per resample.
    """
    n = next(iter(parts.values())).shape[0]
    rng = np.random.default_rng(seed)
    # Multinomial counts are exactly "draw n markets with replacement": market m enters
    # weights[m] times.
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.float64)
    return np.asarray([statistic(parts, w) for w in counts], dtype=np.float64)


def percentile_ci(draws: np.ndarray, level: float = 0.95) -> tuple[Any, Any]:
    """Percentile interval of bootstrap draws (NaN draws ignored).

    Args:
        draws: ``(n_boot, ...)`` from :func:`bootstrap_draws`.
        level: Coverage, e.g. 0.95.

    Returns:
        ``(lo, hi)``, each of the statistic's shape.
    """
    a = (1.0 - level) / 2.0
    lo = np.nanquantile(draws, a, axis=0)
    hi = np.nanquantile(draws, 1.0 - a, axis=0)
    return lo, hi


# --------------------------------------------------------------------------- helpers


def aggregate(r: np.ndarray, k: int) -> np.ndarray:
    """Overlapping ``k``-step sums of each row of ``r`` (``(n, T)`` -> ``(n, T - k + 1)``).

    Overlapping windows use all the data; the moments they estimate are those of
    non-overlapping ``k``-step returns (the windows are only dependent, not different).
    """
    if k < 1 or k > r.shape[1]:
        raise ValueError(f"k={k} must be in [1, {r.shape[1]}]")
    c = np.zeros((r.shape[0], r.shape[1] + 1))
    np.cumsum(r, axis=1, out=c[:, 1:])
    return c[:, k:] - c[:, :-k]


def log_bins(lo: float, hi: float, n: int) -> np.ndarray:
    """``n + 1`` bin edges spaced evenly in log between ``lo`` and ``hi``."""
    return np.geomspace(lo, hi, n + 1)


# --------------------------------------------------------------------------- (cross-)correlation


def xcorr_parts(
    x: Series,
    y: Series,
    lags: Lags,
    center_x: float = 0.0,
    center_y: float = 0.0,
) -> Parts:
    """Per-market lagged cross-products for ``corr(x_t, y_{t+k})``.

    Args:
        x: One series per market.
        y: One series per market, each as long as its ``x``.
        lags: Lags ``k`` (may be negative: ``y`` leads ``x``).
        center_x: Subtracted from ``x`` (pass the pooled mean to get a centred correlation).
        center_y: Subtracted from ``y``.

    Returns:
        Parts ``cross (n, L)``, ``count (n, L)``, ``sxx (n,)``, ``syy (n,)``, ``n (n,)``.
    """
    lags = [int(k) for k in lags]
    m = len(x)
    cross = np.zeros((m, len(lags)))
    count = np.zeros((m, len(lags)))
    sxx = np.zeros(m)
    syy = np.zeros(m)
    nn = np.zeros(m)
    for i in range(m):
        a = np.asarray(x[i], np.float64) - center_x
        b = np.asarray(y[i], np.float64) - center_y
        if a.shape != b.shape or a.ndim != 1:
            raise ValueError(f"market {i}: x and y must be 1-D of equal length")
        t = a.size
        sxx[i] = a @ a
        syy[i] = b @ b
        nn[i] = t
        for j, k in enumerate(lags):
            if abs(k) >= t:
                continue
            if k >= 0:
                cross[i, j] = a[: t - k] @ b[k:]
            else:
                cross[i, j] = a[-k:] @ b[: t + k]
            count[i, j] = t - abs(k)
    return {"cross": cross, "count": count, "sxx": sxx, "syy": syy, "n": nn}


def xcorr_from_parts(parts: Parts, weights: np.ndarray | None = None) -> np.ndarray:
    """Pooled ``corr(x_t, y_{t+k})`` per lag: ``[sum x_t y_{t+k} / N_k] / sqrt(var x var y)``.

    The variances use all ``N`` points and the lagged products the ``N_k`` available pairs (the
    usual ACF normalisation of Cont 2001, pooled over markets).
    """
    cross = weighted_sum(parts["cross"], weights)
    count = weighted_sum(parts["count"], weights)
    n = weighted_sum(parts["n"], weights)
    var = np.sqrt(weighted_sum(parts["sxx"], weights) / n * weighted_sum(parts["syy"], weights) / n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(cross / count / var, np.float64)


def acf_parts(x: Series, lags: Lags, center: float | None = None) -> Parts:
    """Per-market statistics of the autocorrelation function of ``x``.

    Args:
        x: One series per market (e.g. returns in ticks, their absolute values, order signs).
        lags: Lags in steps (or orders).
        center: Subtracted before the products; ``None``: the pooled mean over all markets
            (fixed once, so the bootstrap resamples the products, not the centring).

    Returns:
        Parts for :func:`acf_from_parts`.
    """
    if center is None:
        tot = sum(float(np.sum(s)) for s in x)
        cnt = sum(int(np.size(s)) for s in x)
        center = tot / max(cnt, 1)
    return xcorr_parts(x, x, lags, center, center)


def acf_from_parts(parts: Parts, weights: np.ndarray | None = None) -> np.ndarray:
    """Pooled autocorrelation per lag (see :func:`xcorr_from_parts`)."""
    return xcorr_from_parts(parts, weights)


# --------------------------------------------------------------------------- moments


def kurtosis_parts(r: np.ndarray, k: int = 1) -> Parts:
    """Per-market raw moments (orders 1-4) of ``k``-step returns for the excess kurtosis.

    Args:
        r: ``(n, T)`` one-step returns, ticks.
        k: Aggregation in steps (overlapping ``k``-step sums).

    Returns:
        Parts ``s1..s4 (n,)`` (sums of powers after centring on the pooled mean) and ``n``.
    """
    x = aggregate(r - r.mean(), k)
    x2 = x * x
    return {
        "s1": x.sum(axis=1),
        "s2": x2.sum(axis=1),
        "s3": (x2 * x).sum(axis=1),
        "s4": (x2 * x2).sum(axis=1),
        "n": np.full(x.shape[0], float(x.shape[1])),
    }


def excess_kurtosis_from_parts(parts: Parts, weights: np.ndarray | None = None) -> float:
    """Pooled excess kurtosis ``m4 / m2**2 - 3`` (0 for a Gaussian; Cont 2001, fact 3)."""
    n = weighted_sum(parts["n"], weights)
    mu = weighted_sum(parts["s1"], weights) / n
    e2 = weighted_sum(parts["s2"], weights) / n
    e3 = weighted_sum(parts["s3"], weights) / n
    e4 = weighted_sum(parts["s4"], weights) / n
    m2 = e2 - mu * mu
    m4 = e4 - 4 * mu * e3 + 6 * mu * mu * e2 - 3 * mu**4
    if m2 <= 0:
        return float("nan")
    return float(m4 / (m2 * m2) - 3.0)


def variance_parts(r: np.ndarray, k: int) -> Parts:
    """Per-market sums of squared ``k``-step returns (about zero) and their counts.

    Zero is used as the mean rather than the sample mean: the markets are symmetric (no drift on
    average), and a per-market sample mean would remove part of a trending market's persistence.
    """
    x = aggregate(r, k)
    return {
        "ss": (x * x).sum(axis=1),
        "n": np.full(x.shape[0], float(x.shape[1])),
        "k": np.full(x.shape[0], float(k)),
    }


def variance_from_parts(parts: Parts, weights: np.ndarray | None = None) -> float:
    """Variance per step implied by ``k``-step returns: ``E[R_k^2] / k``, ticks^2 per step."""
    k = float(parts["k"][0])
    return float(weighted_sum(parts["ss"], weights) / weighted_sum(parts["n"], weights) / k)


def variance_ratio_from_parts(
    parts_k: Parts, parts_1: Parts, weights: np.ndarray | None = None
) -> float:
    """Lo & MacKinlay (1988) variance ratio ``VR(k) = Var(R_k) / (k Var(r))``.

    1 for a random walk; < 1 mean reversion; > 1 momentum or persistent drift.

    Args:
        parts_k: :func:`variance_parts` at ``k``.
        parts_1: :func:`variance_parts` at 1.
        weights: Market weights (the same for both).
    """
    return variance_from_parts(parts_k, weights) / variance_from_parts(parts_1, weights)


# --------------------------------------------------------------------------- long memory of signs


def sign_hurst_parts(signs: Series, block_sizes: Lags, center: float | None = None) -> Parts:
    """Per-market statistics for the aggregated-variance Hurst exponent of order signs.

    The sign series ``eps_i = +1`` (buy) / ``-1`` (sell) lives in event time (one entry per
    market order). For each block size ``n`` the series is cut into non-overlapping blocks and
    the squared block sums are added up: ``V(n) = E[(sum_{block} eps)^2] ~ n^{2H}`` (Beran 1994,
    section 4.4). Long memory with ACF ``~ tau^{-gamma}`` gives ``H = 1 - gamma / 2``; the
    Lillo, Mike & Farmer (2005) metaorder model with Pareto tail exponent ``alpha`` gives
    ``gamma = alpha - 1``, ``H = (3 - alpha) / 2``.

    The block sums are taken about a pooled mean (``center``; default the pooled mean sign over
    all markets), not each market's own mean: removing a per-market mean biases ``H`` down on
    short series, which is what this method is chosen to avoid (against DFA, which read 0.05-0.1
    high on the synthetic Lillo-Mike-Farmer process in the self-tests' setting).

    Args:
        signs: One sign series per market (ragged allowed).
        block_sizes: Block sizes ``n`` in orders (log-spaced, e.g. 10 to a twentieth of the
            series length).
        center: Mean sign subtracted; ``None``: the pooled mean.

    Returns:
        Parts ``ss (n_markets, B)`` and ``blocks (n_markets, B)``, and ``sizes (n_markets, B)``.
    """
    if center is None:
        tot = sum(float(np.sum(s)) for s in signs)
        cnt = sum(int(np.size(s)) for s in signs)
        center = tot / max(cnt, 1)
    sizes = np.asarray([int(b) for b in block_sizes])
    if sizes.size < 2 or (sizes < 1).any():
        raise ValueError("block_sizes needs at least two sizes >= 1")
    m = len(signs)
    ss = np.zeros((m, sizes.size))
    blocks = np.zeros((m, sizes.size))
    for i in range(m):
        e = np.asarray(signs[i], np.float64) - center
        for j, b in enumerate(sizes):
            nb = e.size // b
            if nb == 0:
                continue
            s = e[: nb * b].reshape(nb, b).sum(axis=1)
            ss[i, j] = s @ s
            blocks[i, j] = nb
    return {"ss": ss, "blocks": blocks, "sizes": np.broadcast_to(sizes, (m, sizes.size)).copy()}


def hurst_from_parts(
    parts: Parts, weights: np.ndarray | None = None, min_blocks: int = 32
) -> float:
    """Hurst exponent ``H``: half the slope of ``log V(n)`` against ``log n`` (OLS).

    Block sizes with fewer than ``min_blocks`` blocks in total are left out (their variance is
    too noisy). NaN if fewer than two sizes remain.
    """
    ss = weighted_sum(parts["ss"], weights)
    nb = weighted_sum(parts["blocks"], weights)
    sizes = parts["sizes"][0].astype(np.float64)
    ok = (nb >= min_blocks) & (ss > 0)
    if ok.sum() < 2:
        return float("nan")
    slope = np.polyfit(np.log(sizes[ok]), np.log(ss[ok] / nb[ok]), 1)[0]
    return float(slope / 2.0)


# --------------------------------------------------------------------------- price impact


def impact_parts(sizes: Series, impacts: Series, bin_edges: np.ndarray) -> Parts:
    """Per-market, per-size-bin sums for the impact curve ``E[eps * dmid | size]``.

    Args:
        sizes: Per market, the executed size of each market order, lots (> 0).
        impacts: Per market, each order's signed mid move ``eps * (mid_after - mid_before)``,
            ticks (positive when the price moves in the order's direction).
        bin_edges: Size bin edges in lots (e.g. :func:`log_bins`); bin ``j`` is
            ``[edges[j], edges[j+1])``.

    Returns:
        Parts ``count``, ``impact_sum``, ``log_size_sum``, each ``(n_markets, n_bins)``.
    """
    nbins = len(bin_edges) - 1
    m = len(sizes)
    count = np.zeros((m, nbins))
    isum = np.zeros((m, nbins))
    lsum = np.zeros((m, nbins))
    for i in range(m):
        v = np.asarray(sizes[i], np.float64)
        dm = np.asarray(impacts[i], np.float64)
        j = np.searchsorted(bin_edges, v, side="right") - 1
        ok = (j >= 0) & (j < nbins) & (v > 0)
        count[i] = np.bincount(j[ok], minlength=nbins)
        isum[i] = np.bincount(j[ok], weights=dm[ok], minlength=nbins)
        lsum[i] = np.bincount(j[ok], weights=np.log(v[ok]), minlength=nbins)
    return {"count": count, "impact_sum": isum, "log_size_sum": lsum}


def impact_curve_from_parts(
    parts: Parts, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Binned impact curve.

    Returns:
        ``(size_lots, mean_impact_ticks, count)`` per bin; the size is the bin's geometric mean.
    """
    c = weighted_sum(parts["count"], weights)
    with np.errstate(invalid="ignore", divide="ignore"):
        size = np.exp(weighted_sum(parts["log_size_sum"], weights) / c)
        mean = weighted_sum(parts["impact_sum"], weights) / c
    return size, mean, c


def impact_exponent_from_parts(
    parts: Parts, weights: np.ndarray | None = None, min_count: int = 100
) -> float:
    """Exponent ``beta`` of ``E[eps * dmid | V] ~ V^beta``: OLS slope of the binned log-log curve.

    Concave impact (``beta`` about 0.5, the "square-root law") is the fact of Lillo, Farmer &
    Mantegna (2003) for single orders and Bouchaud et al. (2009), section 5, for metaorders. Bins
    with fewer than ``min_count`` orders or a non-positive mean impact are left out; every kept
    bin counts once (the fit is of the curve's shape, not dominated by the many small orders).
    NaN if fewer than two bins remain.
    """
    size, mean, c = impact_curve_from_parts(parts, weights)
    ok = (c >= min_count) & (mean > 0) & np.isfinite(size)
    if ok.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(size[ok]), np.log(mean[ok]), 1)[0])


def response_parts(
    mid: np.ndarray,
    sign_sum: np.ndarray,
    signed_pre_mid: np.ndarray,
    count: np.ndarray,
    lags: Lags,
) -> Parts:
    """Per-market sums for the response function ``R(tau) = E[eps_i (mid_{t_i + tau} - mid_i^-)]``.

    Bouchaud et al. (2004): the average signed mid move ``tau`` steps after an order, measured
    from the mid just before it. Inputs are per-step aggregates over the orders of interest
    (e.g. uninformed noise orders) so that memory stays ``(n, T)``.

    Args:
        mid: ``(n, T)`` mid at the end of each step, ticks.
        sign_sum: ``(n, T)`` sum of the orders' signs in each step.
        signed_pre_mid: ``(n, T)`` sum of ``sign * mid just before the order``, ticks.
        count: ``(n, T)`` number of orders in each step.
        lags: ``tau`` in steps (0: the end of the order's own step).

    Returns:
        Parts ``resp (n, L)`` (summed signed moves, ticks) and ``count (n, L)``.
    """
    n, t = mid.shape
    resp = np.zeros((n, len(lags)))
    cnt = np.zeros((n, len(lags)))
    for j, tau in enumerate(lags):
        tau = int(tau)
        if tau < 0 or tau >= t:
            raise ValueError(f"lag {tau} must be in [0, {t})")
        span = t - tau
        resp[:, j] = (sign_sum[:, :span] * mid[:, tau:]).sum(axis=1) - signed_pre_mid[:, :span].sum(
            axis=1
        )
        cnt[:, j] = count[:, :span].sum(axis=1)
    return {"resp": resp, "count": cnt}


def response_from_parts(parts: Parts, weights: np.ndarray | None = None) -> np.ndarray:
    """Pooled response ``R(tau)`` per lag, ticks."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(
            weighted_sum(parts["resp"], weights) / weighted_sum(parts["count"], weights), np.float64
        )


# --------------------------------------------------------------------------- the book


def depth_profile_from_parts(parts: Parts, weights: np.ndarray | None = None) -> np.ndarray:
    """Mean resting depth per level, lots, from per-market sums.

    Args:
        parts: ``depth_sum (n, L)``: lots summed over snapshots at level ``l`` ticks behind the
            same side's best price (0 = the best), both sides added; ``count (n,)``: snapshots
            times sides.
        weights: Market weights.

    A hump (maximum behind the best) is the fact of Bouchaud, Mezard & Potters (2002).
    """
    return np.asarray(
        weighted_sum(parts["depth_sum"], weights) / weighted_sum(parts["count"], weights),
        np.float64,
    )


def spread_parts(spread_ticks: np.ndarray, max_ticks: int = 10) -> Parts:
    """Per-market histogram of the spread in whole ticks.

    Args:
        spread_ticks: ``(n, T)`` integer spread per step, ticks; values <= 0 mean undefined (a
            side empty) and are skipped.
        max_ticks: Spreads above it are counted in the last bin (as ``max_ticks``).

    Returns:
        Parts ``hist (n, max_ticks)``: counts of spreads 1, 2, ..., ``max_ticks`` ticks.
    """
    s = np.asarray(spread_ticks)
    hist = np.zeros((s.shape[0], max_ticks))
    for i in range(s.shape[0]):
        v = s[i][s[i] > 0]
        hist[i] = np.bincount(np.minimum(v, max_ticks) - 1, minlength=max_ticks)[:max_ticks]
    return {"hist": hist}


def spread_stats_from_parts(parts: Parts, weights: np.ndarray | None = None) -> np.ndarray:
    """``[fraction of steps at 1 tick, mean spread in ticks]`` (top bin counted at its floor)."""
    h = weighted_sum(parts["hist"], weights)
    tot = h.sum()
    ticks = np.arange(1, h.size + 1)
    return np.asarray([h[0] / tot, (h * ticks).sum() / tot], np.float64)


# --------------------------------------------------------------------------- predictability


def predictor_parts(r: np.ndarray, n_lags: int = 5) -> Parts:
    """Per-market normal-equation sums for regressing ``r_{t+1}`` on ``1, r_t, ..., r_{t-n+1}``.

    Args:
        r: ``(n, T)`` one-step returns, ticks.
        n_lags: Past returns used as features.

    Returns:
        Parts ``xtx (n, p, p)``, ``xty (n, p)``, ``yty``, ``sy``, ``n`` with ``p = n_lags + 1``.
    """
    n, t = r.shape
    if t <= n_lags + 1:
        raise ValueError(f"need more than {n_lags + 1} steps, got {t}")
    y = r[:, n_lags:]  # target r_{t+1}; feature j is r_{t-j}
    feats = [np.ones_like(y)] + [r[:, n_lags - 1 - j : t - 1 - j] for j in range(n_lags)]
    x = np.stack(feats, axis=2)
    return {
        "xtx": np.einsum("mti,mtj->mij", x, x),
        "xty": np.einsum("mti,mt->mi", x, y),
        "yty": (y * y).sum(axis=1),
        "sy": y.sum(axis=1),
        "n": np.full(n, float(y.shape[1])),
    }


def predictor_r2_from_parts(
    parts: Parts,
    weights: np.ndarray | None = None,
    train: np.ndarray | None = None,
    ridge: float = 1e-6,
) -> float:
    """Out-of-sample R^2 of the linear next-return predictor, fitted on ``train`` markets.

    The model is fitted (ridge ``ridge`` times the mean feature variance, for conditioning only)
    on the training markets and scored on the others: ``R^2 = 1 - SSE / SST`` with ``SST`` about
    the *training* mean, so a model that only learns the mean scores about 0 and one that learns
    noise scores below 0. Both sums come straight from the per-market normal-equation sums:
    ``SSE = y'y - 2 b'X'y + b'X'X b``.

    Args:
        parts: :func:`predictor_parts`.
        weights: Market weights.
        train: Boolean mask of the training markets; default the first half.
        ridge: Ridge penalty as a fraction of the mean diagonal of ``X'X`` (tiny by default:
            it only guards against a singular matrix, e.g. a market that never moved).
    """
    n = parts["n"].shape[0]
    if train is None:
        train = np.arange(n) < n // 2
    w = np.ones(n) if weights is None else np.asarray(weights, np.float64)
    wtr = np.where(train, w, 0.0)
    wte = np.where(train, 0.0, w)
    xtx = weighted_sum(parts["xtx"], wtr)
    xty = weighted_sum(parts["xty"], wtr)
    ntr = weighted_sum(parts["n"], wtr)
    if ntr == 0 or weighted_sum(parts["n"], wte) == 0:
        return float("nan")
    p = xtx.shape[0]
    scale = np.trace(xtx) / p
    beta = np.linalg.solve(xtx + ridge * scale * np.eye(p), xty)
    ybar = weighted_sum(parts["sy"], wtr) / ntr
    xtx_te = weighted_sum(parts["xtx"], wte)
    xty_te = weighted_sum(parts["xty"], wte)
    yty_te = weighted_sum(parts["yty"], wte)
    sse = yty_te - 2 * beta @ xty_te + beta @ xtx_te @ beta
    sst = (
        yty_te
        - 2 * ybar * weighted_sum(parts["sy"], wte)
        + ybar * ybar * weighted_sum(parts["n"], wte)
    )
    return float(1.0 - sse / sst)
