"""Per-episode summaries and comparisons: bootstrap confidence intervals, paired differences."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from mm_gym.metrics._common import _BOOTSTRAP_CHUNK, FloatArray, _float_array, _level, _scalar
from mm_gym.metrics.pnl import _episode, average_cost_pnl, equity_curve, pnl_attribution
from mm_gym.metrics.risk import (
    fill_rate,
    inventory_stats,
    market_impact_stats,
    max_drawdown,
    quoted_spread,
    sharpe,
    var_es,
)

# --------------------------------------------------------------------------- per-episode summary


def episode_metrics(
    mid: ArrayLike,
    inventory: ArrayLike,
    fills: Any,
    *,
    inventory_limit: float,
    initial_inventory: float = 0.0,
    lot_size: float = 1.0,
    bid: ArrayLike | None = None,
    ask: ArrayLike | None = None,
    var_level: float = 0.95,
    periods_per_year: float | None = None,
    impact: Any = None,
) -> dict[str, float]:
    """All scalar metrics of one episode, as a flat dict (one row of a tournament table).

    Args:
        mid: Mid before the first step and after each step, shape ``(T + 1,)``, currency.
        inventory: Inventory after each step, shape ``(T,)``, lots.
        fills: A :class:`FillRecord`, or a mapping / DataFrame with its columns.
        inventory_limit: The maker's inventory limit, lots (for ``frac_at_limit``).
        initial_inventory: Inventory before the first step, lots.
        lot_size: Units of the asset per lot, > 0.
        bid: Optional quoted bid per step (NaN = not quoted), adds ``quoted_spread``.
        ask: Optional quoted ask per step, required with ``bid``.
        var_level: Level of :func:`var_es`.
        periods_per_year: Passed to :func:`sharpe` (``None``: per-episode scaling).
        impact: Optional mapping / DataFrame with market-order columns ``size``, ``side``,
            ``pre_mid``, ``post_mid``; adds the :func:`market_impact_stats` keys.

    Returns:
        Floats keyed by name: ``total_pnl``, ``spread_capture``, ``inventory_pnl``, ``fees``,
        ``inventory_carry`` (:func:`pnl_attribution`); ``realized_pnl``, ``unrealized_pnl``
        (:func:`average_cost_pnl`, at the end); ``sharpe``; ``max_drawdown``; ``var``, ``es``
        (per step); the :func:`inventory_stats` keys; ``final_inventory``; ``n_fills``;
        ``volume_lots``; ``fill_rate``; and optionally ``quoted_spread`` and impact keys.

    Raises:
        ValueError: As the functions it calls, or if only one of ``bid`` / ``ask`` is given.
    """
    if (bid is None) != (ask is None):
        raise ValueError("bid and ask must be given together")
    m, q, rec, q0, lots = _episode(mid, inventory, fills, initial_inventory, lot_size)
    out = pnl_attribution(m, q, rec, initial_inventory=q0, lot_size=lots).as_dict()
    ac = average_cost_pnl(m, rec, initial_inventory=q0, lot_size=lots)
    out["realized_pnl"] = float(ac.realized[-1])
    out["unrealized_pnl"] = float(ac.unrealized[-1])
    equity = equity_curve(m, q, rec, initial_inventory=q0, lot_size=lots)
    step_pnl = np.diff(equity)
    n_steps = step_pnl.size
    out["sharpe"] = float(sharpe(step_pnl, periods_per_year)) if n_steps >= 2 else 0.0
    out["max_drawdown"] = float(max_drawdown(equity))
    var, es = var_es(step_pnl, var_level)
    out["var"], out["es"] = float(var), float(es)
    out.update({k: float(v) for k, v in inventory_stats(q, inventory_limit).items()})
    out["final_inventory"] = float(q[-1])
    out["n_fills"] = float(len(rec))
    out["volume_lots"] = float(np.sum(rec.size))
    out["fill_rate"] = float(fill_rate(len(rec), n_steps))
    if bid is not None and ask is not None:
        out["quoted_spread"] = float(quoted_spread(bid, ask))
    if impact is not None:
        try:
            cols = [impact[k] for k in ("size", "side", "pre_mid", "post_mid")]
        except (KeyError, TypeError, IndexError) as exc:
            raise ValueError(
                "impact must be a mapping or DataFrame with columns size, side, pre_mid, post_mid"
            ) from exc
        out.update(market_impact_stats(*cols))
    return out


# --------------------------------------------------------------------------- comparisons


class ConfidenceInterval(NamedTuple):
    """A point estimate with a two-sided confidence interval.

    Attributes:
        estimate: The statistic on the sample (the mean).
        low: Lower bound.
        high: Upper bound.
    """

    estimate: float
    low: float
    high: float


def _bootstrap_mean(
    x: FloatArray, n_boot: int, level: float, rng: np.random.Generator | int | None
) -> ConfidenceInterval:
    """Percentile bootstrap CI of the mean of a 1-D sample."""
    n_b = int(_scalar(n_boot, "n_boot", low=1))
    if n_b != n_boot:
        raise ValueError(f"n_boot must be an integer, got {n_boot!r}")
    lvl = _level(level)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    n = x.size
    means = np.empty(n_b)
    rows = max(1, _BOOTSTRAP_CHUNK // n)
    for start in range(0, n_b, rows):
        stop = min(n_b, start + rows)
        idx = gen.integers(0, n, size=(stop - start, n))
        means[start:stop] = x[idx].mean(axis=1)
    alpha = 1.0 - lvl
    low, high = np.quantile(means, [alpha / 2.0, 1.0 - alpha / 2.0])
    return ConfidenceInterval(float(x.mean()), float(low), float(high))


def bootstrap_ci(
    values: ArrayLike,
    n_boot: int = 2000,
    level: float = 0.95,
    rng: np.random.Generator | int | None = None,
) -> ConfidenceInterval:
    """Percentile bootstrap confidence interval of the mean.

    Draws ``n_boot`` resamples of size ``n`` with replacement, takes each resample's mean and
    returns the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of those means.

    Args:
        values: One value per episode (e.g. total PnL), shape ``(n,)``, ``n >= 2``.
        n_boot: Number of bootstrap resamples, >= 1.
        level: Confidence level in (0, 1).
        rng: A ``numpy.random.Generator`` or a seed; ``None`` draws fresh OS entropy (not
            reproducible), so pass one for reproducible reports.

    Returns:
        ``(estimate, low, high)`` in the units of ``values``; ``estimate`` is the sample mean.

    Raises:
        ValueError: On fewer than 2 values, NaN/inf, or invalid ``n_boot`` / ``level``.
    """
    x = _float_array(values, "values", min_len=2)
    return _bootstrap_mean(x, n_boot, level, rng)


def bootstrap_weights(
    n: int, n_boot: int = 2000, rng: np.random.Generator | int | None = None
) -> FloatArray:
    """Resample counts of the percentile bootstrap: ``(n_boot, n)``, each row sums to ``n``.

    Row ``b`` counts how often each of the ``n`` observations is drawn (uniformly, with
    replacement) in resample ``b``, so the resampled means of columns ``x`` are
    ``weights @ x / n``. The draws are those of :func:`bootstrap_ci` with the same generator.

    Args:
        n: Number of observations, >= 1.
        n_boot: Number of resamples, >= 1.
        rng: A ``numpy.random.Generator`` or a seed; ``None`` draws fresh OS entropy.

    Returns:
        float64 counts of shape ``(n_boot, n)``.
    """
    n_obs = int(_scalar(n, "n", low=1))
    n_b = int(_scalar(n_boot, "n_boot", low=1))
    if n_obs != n or n_b != n_boot:
        raise ValueError(f"n and n_boot must be integers, got {n!r} and {n_boot!r}")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    weights = np.empty((n_b, n_obs))
    rows = max(1, _BOOTSTRAP_CHUNK // n_obs)
    for start in range(0, n_b, rows):
        stop = min(n_b, start + rows)
        idx = gen.integers(0, n_obs, size=(stop - start, n_obs))
        flat = (idx + n_obs * np.arange(stop - start)[:, None]).ravel()
        counts = np.bincount(flat, minlength=(stop - start) * n_obs)
        weights[start:stop] = counts.reshape(stop - start, n_obs)
    return weights


def bootstrap_means(
    values: ArrayLike,
    n_boot: int = 2000,
    level: float = 0.95,
    rng: np.random.Generator | int | None = None,
    *,
    weights: ArrayLike | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Percentile bootstrap CIs of the means of several columns, on shared resamples.

    The same as :func:`bootstrap_ci` applied to each column of ``values``, except that every
    resample draws the same ``n`` rows (with replacement) for all columns, so columns computed
    from the same episodes (e.g. a policy's PnL and its paired difference ``a - b`` to another
    policy) are resampled together. A resample is held as a count per row
    (:func:`bootstrap_weights`), so its means are one matrix product ``weights @ values / n``.

    Args:
        values: ``(n, k)`` array: ``n >= 2`` rows (episodes), ``k`` columns (statistics).
        n_boot: Number of resamples, >= 1 (ignored with ``weights``).
        level: Confidence level in (0, 1).
        rng: A ``numpy.random.Generator`` or a seed; ``None`` draws fresh OS entropy.
        weights: Optional precomputed ``(n_boot, n)`` counts, to reuse one set of resamples
            for several calls (e.g. every policy evaluated on the same episodes).

    Returns:
        ``(estimate, low, high)``, each ``(k,)``: the column means and the ``(1 - level) / 2``
        and ``(1 + level) / 2`` quantiles of the resampled means.

    Raises:
        ValueError: On fewer than 2 rows, NaN/inf, mismatched ``weights``, or invalid
            ``n_boot`` / ``level``.
    """
    x = _float_array(values, "values", ndims=(2,), min_len=1)
    n = x.shape[0]
    if n < 2:
        raise ValueError(f"values needs at least 2 rows, got shape {x.shape}")
    lvl = _level(level)
    if weights is None:
        w = bootstrap_weights(n, n_boot, rng)
    else:
        w = _float_array(weights, "weights", ndims=(2,))
        if w.shape[1] != n:
            raise ValueError(
                f"weights must have {n} columns (one per row of values), got {w.shape}"
            )
    means = w @ x / n
    alpha = 1.0 - lvl
    low, high = np.quantile(means, [alpha / 2.0, 1.0 - alpha / 2.0], axis=0)
    return x.mean(axis=0), low, high


def paired_diff_ci(
    a: ArrayLike,
    b: ArrayLike,
    n_boot: int = 2000,
    level: float = 0.95,
    rng: np.random.Generator | int | None = None,
) -> ConfidenceInterval:
    """Bootstrap confidence interval of the mean paired difference ``mean(a - b)``.

    For two policies run on the same seeds (common random numbers), episode ``i`` of ``a`` and
    of ``b`` share the market path, so resampling the differences ``a_i - b_i`` removes the
    shared noise; an interval excluding 0 means ``a`` and ``b`` differ at that level.

    Args:
        a: Per-episode values of the first policy, shape ``(n,)``, ``n >= 2``.
        b: Per-episode values of the second policy on the same episodes, shape ``(n,)``.
        n_boot: Number of bootstrap resamples, >= 1.
        level: Confidence level in (0, 1).
        rng: A ``numpy.random.Generator`` or a seed; ``None`` draws fresh OS entropy.

    Returns:
        ``(estimate, low, high)`` of ``mean(a - b)``.

    Raises:
        ValueError: On different lengths, fewer than 2 pairs, NaN/inf, or invalid parameters.
    """
    xa = _float_array(a, "a", min_len=2)
    xb = _float_array(b, "b", min_len=2)
    if xa.shape != xb.shape:
        raise ValueError(f"a and b must be paired (same length), got {xa.size} and {xb.size}")
    return _bootstrap_mean(xa - xb, n_boot, level, rng)
