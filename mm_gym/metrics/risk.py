"""Risk, return, inventory and quoting statistics of episodes."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from mm_gym.metrics._common import _STD_REL_TOL, FloatOrArray, _float_array, _level, _out, _scalar

# --------------------------------------------------------------------------- risk and return


def sharpe(step_pnl: ArrayLike, periods_per_year: float | None = None) -> FloatOrArray:
    """Sharpe ratio of per-step PnL increments (no risk-free rate: a maker holds no capital).

    ``sharpe = mean(x) / std(x) x scale`` with the sample standard deviation (``ddof=1``) and

    - ``scale = sqrt(T)`` by default (``T`` = number of steps): the per-episode Sharpe, i.e.
      expected episode PnL over its standard deviation if steps were i.i.d.;
    - ``scale = sqrt(periods_per_year)`` if given: the annualized Sharpe (e.g. steps of 1 s over
      252 days of 6.5 h: ``periods_per_year = 252 * 6.5 * 3600``).

    A (numerically) constant series, ``std <= 1e-12 x |mean|`` (including ``std == 0``), has
    no defined ratio; it returns 0.0 so that a policy that never trades scores 0, not inf/NaN.

    Args:
        step_pnl: Per-step PnL, currency, shape ``(T,)`` or ``(n_episodes, T)``, ``T >= 2``.
        periods_per_year: Steps per year for annualization, > 0; ``None`` for per-episode.

    Returns:
        Dimensionless ratio: a float, or an array ``(n_episodes,)`` for 2-D input.

    Raises:
        ValueError: On NaN/inf, fewer than 2 steps, or a non-positive ``periods_per_year``.
    """
    x = _float_array(step_pnl, "step_pnl", ndims=(1, 2), min_len=2)
    n_steps = x.shape[-1]
    if periods_per_year is None:
        scale = math.sqrt(n_steps)
    else:
        scale = math.sqrt(_scalar(periods_per_year, "periods_per_year", low=0.0, low_open=True))
    mean = x.mean(axis=-1)
    std = x.std(axis=-1, ddof=1)
    degenerate = std <= _STD_REL_TOL * np.abs(mean)
    ratio = np.where(degenerate, 0.0, mean / np.where(degenerate, 1.0, std) * scale)
    return _out(ratio, x.ndim == 2)


def max_drawdown(equity: ArrayLike) -> FloatOrArray:
    """Largest peak-to-trough fall of an equity (cumulative PnL) curve.

    ``max_drawdown = max_t (max_{s <= t} equity_s - equity_t) >= 0``, in the units of
    ``equity`` (currency). Absolute, not relative: a maker's equity starts at 0, so a
    percentage of the peak is not meaningful. Include the starting value (``equity[0] = 0``
    from :func:`equity_curve`) so that a loss from the start counts.

    Args:
        equity: Cumulative PnL, shape ``(T + 1,)`` or ``(n_episodes, T + 1)``.

    Returns:
        A float, or an array ``(n_episodes,)`` for 2-D input.

    Raises:
        ValueError: On an empty series or NaN/inf.
    """
    e = _float_array(equity, "equity", ndims=(1, 2))
    dd = (np.maximum.accumulate(e, axis=-1) - e).max(axis=-1)
    return _out(dd, e.ndim == 2)


def var_es(step_pnl: ArrayLike, level: float = 0.95) -> tuple[FloatOrArray, FloatOrArray]:
    """Historical value-at-risk and expected shortfall of per-step PnL, as positive losses.

    With losses ``l = -step_pnl`` sorted from worst and ``k = ceil(n x (1 - level))`` tail
    observations (at least 1; ``n x (1 - level)`` rounded to 9 decimals first so that
    ``100 x 0.05`` gives 5, not 6):

    - ``VaR`` = the k-th largest loss (the smallest loss in the tail);
    - ``ES``  = the mean of the k largest losses, so ``ES >= VaR``.

    Both are in the units of ``step_pnl`` (currency per step); a negative value means that
    even the tail is a gain.

    Args:
        step_pnl: Per-step PnL, shape ``(n,)`` or ``(n_episodes, n)``.
        level: Confidence level in (0, 1), e.g. 0.95 or 0.99.

    Returns:
        ``(var, es)``: floats, or arrays ``(n_episodes,)`` for 2-D input.

    Raises:
        ValueError: On an empty series, NaN/inf, or ``level`` outside (0, 1).
    """
    x = _float_array(step_pnl, "step_pnl", ndims=(1, 2))
    lvl = _level(level)
    n = x.shape[-1]
    k = max(1, math.ceil(round(n * (1.0 - lvl), 9)))
    tail = -np.sort(x, axis=-1)[..., :k]  # the k most negative PnLs, as losses, worst first
    return _out(tail[..., -1], x.ndim == 2), _out(tail.mean(axis=-1), x.ndim == 2)


# --------------------------------------------------------------------------- inventory and quoting


def inventory_stats(inventory: ArrayLike, limit: float) -> dict[str, FloatOrArray]:
    """Summary of the inventory path against its limit.

    Args:
        inventory: Inventory after each step, lots, shape ``(T,)`` or ``(n_episodes, T)``.
        limit: Inventory limit, lots, > 0.

    Returns:
        A dict (floats, or arrays ``(n_episodes,)`` for 2-D input) with:

        - ``mean_inventory``: ``mean(q)``, lots (sign shows a directional bias);
        - ``mean_abs_inventory``: ``mean(|q|)``, lots;
        - ``inventory_variance``: ``mean((q - mean(q))^2)`` (population variance), lots^2;
        - ``max_abs_inventory``: ``max(|q|)``, lots;
        - ``frac_at_limit``: fraction of steps with ``|q| >= limit``, in [0, 1].

    Raises:
        ValueError: On an empty series, NaN/inf or ``limit <= 0``.
    """
    q = _float_array(inventory, "inventory", ndims=(1, 2))
    lim = _scalar(limit, "limit", low=0.0, low_open=True)
    a = np.abs(q)
    batched = q.ndim == 2
    return {
        "mean_inventory": _out(q.mean(axis=-1), batched),
        "mean_abs_inventory": _out(a.mean(axis=-1), batched),
        "inventory_variance": _out(q.var(axis=-1), batched),
        "max_abs_inventory": _out(a.max(axis=-1), batched),
        "frac_at_limit": _out((a >= lim).mean(axis=-1), batched),
    }


def fill_rate(n_fills: ArrayLike, n_steps: ArrayLike) -> FloatOrArray:
    """Fills per step: ``n_fills / n_steps``.

    Args:
        n_fills: Number of fill records (partial fills count separately), >= 0; scalar or array.
        n_steps: Number of steps, > 0; scalar or array broadcastable with ``n_fills``.

    Returns:
        Fills per step: a float for scalar inputs, otherwise an array.

    Raises:
        ValueError: On negative fills, non-positive steps, NaN/inf or unbroadcastable shapes.
    """
    f = _float_array(n_fills, "n_fills", ndims=(0, 1, 2), min_len=0)
    s = _float_array(n_steps, "n_steps", ndims=(0, 1, 2), min_len=0)
    if np.any(f < 0):
        raise ValueError(f"n_fills must be >= 0, got {f.min():g}")
    if np.any(s <= 0):
        raise ValueError(f"n_steps must be > 0, got {s.min():g}")
    try:
        rate = f / s
    except ValueError as exc:
        raise ValueError(f"n_fills {f.shape} and n_steps {s.shape} do not broadcast") from exc
    return float(rate) if rate.ndim == 0 else rate


def quoted_spread(bid: ArrayLike, ask: ArrayLike) -> FloatOrArray:
    """Mean quoted spread ``mean(ask - bid)`` over the steps where both sides are quoted.

    NaN in ``bid`` or ``ask`` marks a side not quoted at that step; such steps are left out.
    Units are those of the inputs (currency or ticks).

    Args:
        bid: The maker's bid at each step, shape ``(T,)`` or ``(n_episodes, T)``.
        ask: The maker's ask, same shape.

    Returns:
        The mean spread (NaN if no step is two-sided): a float, or an array ``(n_episodes,)``.

    Raises:
        ValueError: On mismatched shapes, empty series or inf.
    """
    b = _float_array(bid, "bid", ndims=(1, 2), allow_nan=True)
    a = _float_array(ask, "ask", ndims=(1, 2), allow_nan=True)
    if a.shape != b.shape:
        raise ValueError(f"bid and ask must have the same shape, got {b.shape} and {a.shape}")
    spread = a - b
    ok = ~np.isnan(spread)
    count = ok.sum(axis=-1)
    total = np.where(ok, spread, 0.0).sum(axis=-1)
    mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return _out(mean, b.ndim == 2)


def market_impact_stats(
    size: ArrayLike, side: ArrayLike, pre_mid: ArrayLike, post_mid: ArrayLike
) -> dict[str, float]:
    """Price impact of market orders from their pre- and post-trade mids.

    The signed impact of order ``i`` is ``I_i = side_i x (post_mid_i - pre_mid_i)`` (currency;
    positive when a buy, side +1, lifts the mid or a sell lowers it).

    Args:
        size: Order sizes, lots, > 0, shape ``(n,)``.
        side: Aggressor side, +1 buy, -1 sell, shape ``(n,)``.
        pre_mid: Mid just before each order, currency, shape ``(n,)``.
        post_mid: Mid just after each order, currency, shape ``(n,)``.

    Returns:
        A dict of floats (NaN where undefined, e.g. with no orders):

        - ``mean_impact``: ``mean(I)``, currency;
        - ``impact_per_lot``: ``sum(I) / sum(size)``, currency per lot (volume weighted);
        - ``impact_slope``: OLS slope of ``I`` on ``size`` with intercept, currency per lot
          (NaN unless at least two distinct sizes);
        - ``impact_intercept``: that regression's intercept, currency;
        - ``n_orders``: number of orders.

    Raises:
        ValueError: On mismatched lengths, NaN/inf, a side other than +/-1 or a size <= 0.
    """
    sz = _float_array(size, "size", min_len=0)
    sd = _float_array(side, "side", min_len=0)
    pre = _float_array(pre_mid, "pre_mid", min_len=0)
    post = _float_array(post_mid, "post_mid", min_len=0)
    if not sz.shape == sd.shape == pre.shape == post.shape:
        raise ValueError(
            "size, side, pre_mid and post_mid must have the same length, got "
            f"{sz.size}, {sd.size}, {pre.size}, {post.size}"
        )
    if np.any(np.abs(sd) != 1.0):
        raise ValueError("side must be +1 or -1")
    if np.any(sz <= 0):
        raise ValueError("size must be > 0")
    n = sz.size
    nan = math.nan
    if n == 0:
        return {
            "mean_impact": nan,
            "impact_per_lot": nan,
            "impact_slope": nan,
            "impact_intercept": nan,
            "n_orders": 0.0,
        }
    impact = sd * (post - pre)
    dx = sz - sz.mean()
    sxx = float(np.sum(dx * dx))
    # Sizes are lots; a spread this small relative to the mean size means all sizes are equal.
    if sxx > (1e-12 * float(sz.mean())) ** 2 * n:
        slope = float(np.sum(dx * (impact - impact.mean()))) / sxx
        intercept = float(impact.mean()) - slope * float(sz.mean())
    else:
        slope = intercept = nan
    return {
        "mean_impact": float(impact.mean()),
        "impact_per_lot": float(impact.sum() / sz.sum()),
        "impact_slope": slope,
        "impact_intercept": intercept,
        "n_orders": float(n),
    }


def market_impact_from_sums(
    n_orders: ArrayLike,
    sum_size: ArrayLike,
    sum_size_sq: ArrayLike,
    sum_impact: ArrayLike,
    sum_size_impact: ArrayLike,
) -> dict[str, FloatOrArray]:
    """:func:`market_impact_stats` from running sums, for many episodes at once.

    With ``n`` orders, sizes ``s_i`` and signed impacts ``I_i = side_i x (post_mid_i -
    pre_mid_i)`` accumulated as ``S_s = sum s``, ``S_ss = sum s^2``, ``S_I = sum I`` and
    ``S_sI = sum s x I``::

        mean_impact      = S_I / n
        impact_per_lot   = S_I / S_s
        impact_slope     = (S_sI - S_s S_I / n) / (S_ss - S_s^2 / n)      (OLS of I on s)
        impact_intercept = S_I / n - impact_slope x S_s / n

    A streaming caller adds each step's orders to the sums instead of keeping the orders. The
    slope is NaN when the sizes do not vary (``S_ss - S_s^2 / n <= 1e-9 x S_ss``), everything
    is NaN with no orders.

    Args:
        n_orders: Number of orders, ``()`` or ``(n_episodes,)``.
        sum_size: ``S_s``, lots; same shape.
        sum_size_sq: ``S_ss``, lots^2.
        sum_impact: ``S_I``, currency.
        sum_size_impact: ``S_sI``, lots x currency.

    Returns:
        ``mean_impact``, ``impact_per_lot``, ``impact_slope``, ``impact_intercept``,
        ``n_orders``: floats for scalar inputs, arrays otherwise.

    Raises:
        ValueError: On NaN/inf, negative counts or mismatched shapes.
    """
    arrs = [
        _float_array(x, name, ndims=(0, 1), min_len=0)
        for x, name in (
            (n_orders, "n_orders"),
            (sum_size, "sum_size"),
            (sum_size_sq, "sum_size_sq"),
            (sum_impact, "sum_impact"),
            (sum_size_impact, "sum_size_impact"),
        )
    ]
    if len({a.shape for a in arrs}) != 1:
        raise ValueError(f"the sums must have the same shape, got {[a.shape for a in arrs]}")
    n, s, ss, si_, ssi = arrs
    if np.any(n < 0):
        raise ValueError("n_orders must be >= 0")
    has = n > 0
    n1 = np.where(has, n, 1.0)
    mean = np.where(has, si_ / n1, np.nan)
    per_lot = np.where(has & (s > 0), si_ / np.where(s > 0, s, 1.0), np.nan)
    sxx = ss - s * s / n1
    ok = has & (sxx > 1e-9 * np.maximum(ss, 1e-300))
    slope = np.where(ok, (ssi - s * si_ / n1) / np.where(ok, sxx, 1.0), np.nan)
    intercept = np.where(ok, si_ / n1 - slope * s / n1, np.nan)
    scalar = n.ndim == 0
    out = {
        "mean_impact": mean,
        "impact_per_lot": per_lot,
        "impact_slope": slope,
        "impact_intercept": intercept,
        "n_orders": n,
    }
    return {k: float(v) if scalar else np.asarray(v, dtype=np.float64) for k, v in out.items()}
