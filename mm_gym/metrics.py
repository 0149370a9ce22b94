"""Performance metrics of market-making episodes: PnL attribution, risk and execution statistics.

Pure numpy functions, shared by ``evaluate.py`` (tournament tables) and ``train.py`` (logging).
Nothing here prints, draws random numbers from a global generator or imports torch.

Conventions (every function follows them):

- An episode has ``T`` steps, numbered ``0 .. T-1``.
- ``mid`` has ``T + 1`` values in currency: ``mid[0]`` is the mid before step 0 and
  ``mid[t + 1]`` the mid after step ``t`` (the mark of step ``t``).
- ``inventory`` has ``T`` values in lots: ``inventory[t]`` is held after step ``t``;
  ``initial_inventory`` is held before step 0.
- A fill record (:class:`FillRecord`) lists the maker's fills in chronological order: ``step``
  (0-based step in which the fill happened), ``side`` (+1: the maker bought at its bid, -1: the
  maker sold at its ask), ``price`` (currency per unit of the asset), ``size`` (lots, > 0),
  ``fee`` (currency for the whole fill; positive = rebate received, negative = fee paid) and
  optionally ``mid`` (the mid at the time of the fill, currency).
- ``lot_size`` is the number of units of the asset in one lot: a fill moves
  ``price * size * lot_size`` of cash. Inventory PnL is ``inventory * price_change * lot_size``.
- Per-step series are 1-D arrays ``(T,)`` for one episode, or 2-D ``(n_episodes, T)`` where a
  function says so; statistics reduce over the last axis, so a 1-D input gives a ``float`` and a
  2-D input an array of shape ``(n_episodes,)``.
- Bad input (wrong shape, NaN or inf where not allowed, out-of-range parameter) raises
  ``ValueError`` naming the argument.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "AverageCostPnL",
    "ConfidenceInterval",
    "FillRecord",
    "PnLAttribution",
    "average_cost_pnl",
    "bootstrap_ci",
    "bootstrap_means",
    "bootstrap_weights",
    "episode_metrics",
    "equity_curve",
    "fill_rate",
    "inventory_stats",
    "market_impact_from_sums",
    "market_impact_stats",
    "max_drawdown",
    "paired_diff_ci",
    "pnl_attribution",
    "pnl_attribution_from_steps",
    "quoted_spread",
    "sharpe",
    "unrealized_pnl",
    "var_es",
]

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


# --------------------------------------------------------------------------- fill records


@dataclass(frozen=True)
class FillRecord:
    """The fills of one maker in one episode, as parallel arrays in chronological order.

    Attributes:
        step: 0-based step of each fill, ``int64``, non-decreasing.
        side: +1 if the maker bought (its bid was hit), -1 if it sold (its ask was lifted).
        price: Fill price, currency per unit of the asset.
        size: Filled size in lots, > 0.
        fee: Cash received for the fill on top of the trade, currency (positive = maker rebate,
            negative = fee paid). Zeros if not given.
        mid: Mid at the time of the fill, currency; ``None`` means the step's closing mark
            ``mid[step + 1]`` is used (see :func:`pnl_attribution`).

    Raises:
        ValueError: If the arrays are not 1-D of equal length, contain NaN/inf, a side other
            than +/-1, a non-positive size, a negative or non-integer step, or steps out of order.
    """

    step: NDArray[Any]
    side: NDArray[Any]
    price: FloatArray
    size: FloatArray
    fee: FloatArray = field(default_factory=lambda: np.zeros(0))
    mid: FloatArray | None = None

    def __post_init__(self) -> None:
        """Validate and coerce the columns (frozen, hence ``object.__setattr__``)."""
        price = _float_array(self.price, "fills.price", min_len=0)
        n = price.size
        step_f = _float_array(self.step, "fills.step", min_len=0)
        side_f = _float_array(self.side, "fills.side", min_len=0)
        size = _float_array(self.size, "fills.size", min_len=0)
        fee_in = np.asarray(self.fee)
        fee = (
            np.zeros(n)
            if fee_in.size == 0 and n > 0
            else _float_array(fee_in, "fills.fee", min_len=0)
        )
        mid = None if self.mid is None else _float_array(self.mid, "fills.mid", min_len=0)
        columns = {"step": step_f, "side": side_f, "size": size, "fee": fee}
        if mid is not None:
            columns["mid"] = mid
        for name, col in columns.items():
            if col.size != n:
                raise ValueError(
                    f"fills.{name} has {col.size} values but fills.price has {n}; "
                    "all fill columns must have the same length"
                )
        if n:
            if np.any(step_f != np.round(step_f)) or step_f.min() < 0:
                raise ValueError("fills.step must be non-negative integers")
            if np.any(np.diff(step_f) < 0):
                i = int(np.argmax(np.diff(step_f) < 0))
                raise ValueError(
                    f"fills.step must be non-decreasing (chronological order); "
                    f"step {step_f[i + 1]:g} at index {i + 1} follows step {step_f[i]:g}"
                )
            if not np.all(np.abs(side_f) == 1.0):
                i = int(np.argmax(np.abs(side_f) != 1.0))
                raise ValueError(f"fills.side must be +1 or -1, got {side_f[i]:g} at index {i}")
            if np.any(size <= 0):
                i = int(np.argmax(size <= 0))
                raise ValueError(f"fills.size must be > 0, got {size[i]:g} at index {i}")
        object.__setattr__(self, "step", step_f.astype(np.int64))
        object.__setattr__(self, "side", side_f.astype(np.int64))
        object.__setattr__(self, "price", price)
        object.__setattr__(self, "size", size)
        object.__setattr__(self, "fee", fee)
        object.__setattr__(self, "mid", mid)

    def __len__(self) -> int:
        """Number of fills."""
        return int(self.price.size)

    @property
    def signed_size(self) -> FloatArray:
        """``side * size``: the inventory change of each fill, lots."""
        return self.side * self.size

    @classmethod
    def empty(cls) -> FillRecord:
        """A record with no fills."""
        z = np.zeros(0)
        return cls(step=z, side=z, price=z, size=z, fee=z)

    @classmethod
    def from_columns(cls, columns: Any) -> FillRecord:
        """Build a record from a mapping or a ``pandas.DataFrame`` with the named columns.

        Args:
            columns: Object indexable by ``"step"``, ``"side"``, ``"price"``, ``"size"`` and
                optionally ``"fee"`` and ``"mid"`` (``name in columns`` tells whether present).

        Returns:
            The validated record.

        Raises:
            ValueError: If a required column is missing or a column is invalid.
        """
        missing = [k for k in ("step", "side", "price", "size") if k not in columns]
        if missing:
            raise ValueError(f"fill columns {missing} are missing")

        def col(name: str) -> Any:
            return np.asarray(columns[name])

        return cls(
            step=col("step"),
            side=col("side"),
            price=col("price"),
            size=col("size"),
            fee=col("fee") if "fee" in columns else np.zeros(0),
            mid=col("mid") if "mid" in columns else None,
        )


def _fills(fills: Any, n_steps: int) -> FillRecord:
    """Coerce ``fills`` to a :class:`FillRecord` whose steps lie in ``[0, n_steps)``."""
    rec = fills if isinstance(fills, FillRecord) else None
    if rec is None:
        if not hasattr(fills, "__getitem__") or not hasattr(fills, "__contains__"):
            raise ValueError(
                "fills must be a FillRecord, a mapping or a DataFrame of fill columns, "
                f"got {type(fills).__name__}"
            )
        rec = FillRecord.from_columns(fills)
    if len(rec) and rec.step[-1] >= n_steps:
        raise ValueError(
            f"fills.step must be < the number of steps {n_steps}, got {int(rec.step[-1])}"
        )
    return rec


def _episode(
    mid: ArrayLike,
    inventory: ArrayLike | None,
    fills: Any,
    initial_inventory: float,
    lot_size: float,
) -> tuple[FloatArray, FloatArray | None, FillRecord, float, float]:
    """Validate one episode's mid, inventory and fills against each other."""
    m = _float_array(mid, "mid", min_len=2)
    n_steps = m.size - 1
    q0 = _scalar(initial_inventory, "initial_inventory")
    lots = _scalar(lot_size, "lot_size", low=0.0, low_open=True)
    rec = _fills(fills, n_steps)
    if inventory is None:
        return m, None, rec, q0, lots
    q = _float_array(inventory, "inventory")
    if q.size != n_steps:
        raise ValueError(
            f"inventory must have one value per step ({n_steps} = len(mid) - 1), got {q.size}"
        )
    # The attribution identity holds only if the fills explain every inventory change.
    dq = np.diff(q, prepend=q0)
    dq_fills = np.bincount(rec.step, weights=rec.signed_size, minlength=n_steps)
    tol = _INVENTORY_REL_TOL * max(1.0, float(np.max(np.abs(q))), abs(q0))
    mismatch = np.abs(dq - dq_fills) > tol
    if mismatch.any():
        t = int(np.argmax(mismatch))
        raise ValueError(
            f"inventory change at step {t} is {dq[t]:g} lots but the fills of that step sum to "
            f"{dq_fills[t]:g} lots; inventory and fills are inconsistent"
        )
    return m, q, rec, q0, lots


# --------------------------------------------------------------------------- PnL


@dataclass(frozen=True)
class PnLAttribution:
    """Decomposition of one episode's total PnL (all in currency).

    ``total = spread_capture + inventory_pnl + fees`` up to float rounding.

    Attributes:
        total: Final cash + final inventory x final mid - (initial cash + initial inventory x
            initial mid), i.e. the mark-to-market PnL of the episode.
        spread_capture: Edge of the fills against the mid at the time of each fill.
        inventory_pnl: Mark-to-market PnL of held inventory, ``inventory_carry`` plus the move
            from each fill's mid to the close of its step on the size just filled.
        fees: Sum of fill fees/rebates (positive = net rebate received).
        inventory_carry: ``sum_t inventory_{t-1} x (mid_t - mid_{t-1}) x lot_size`` alone.
    """

    total: float
    spread_capture: float
    inventory_pnl: float
    fees: float
    inventory_carry: float

    def as_dict(self) -> dict[str, float]:
        """The fields as a flat ``dict`` of floats."""
        return {
            "total_pnl": self.total,
            "spread_capture": self.spread_capture,
            "inventory_pnl": self.inventory_pnl,
            "fees": self.fees,
            "inventory_carry": self.inventory_carry,
        }


def pnl_attribution(
    mid: ArrayLike,
    inventory: ArrayLike,
    fills: Any,
    *,
    initial_inventory: float = 0.0,
    lot_size: float = 1.0,
) -> PnLAttribution:
    """Split one episode's total PnL into spread capture, inventory PnL and fees.

    With ``L = lot_size``, ``q_{-1} = initial_inventory``, ``m = mid`` and for each fill ``i``
    the signed size ``d_i = side_i x size_i``, fill mid ``f_i`` and step close ``c_i =
    m[step_i + 1]``::

        spread_capture  = L x sum_i d_i x (f_i - price_i)
                          (buy: size x (mid - price); sell: size x (price - mid))
        inventory_carry = L x sum_t q_{t-1} x (m[t+1] - m[t])
        inventory_pnl   = inventory_carry + L x sum_i d_i x (c_i - f_i)
        fees            = sum_i fee_i
        total           = L x (-sum_i d_i x price_i) + fees + L x (q_{T-1} x m[T] - q_{-1} x m[0])

    ``total`` is computed from the cash flows, independently of the parts; summation by parts
    shows ``total = spread_capture + inventory_pnl + fees`` exactly in real arithmetic. Without
    fill mids (``fills.mid is None``), ``f_i = c_i`` and ``inventory_pnl = inventory_carry``.
    With them, the move between the fill and the step's close on the newly filled size (e.g.
    the adverse move right after an informed order) is inventory PnL, not spread capture.

    Args:
        mid: Mid before the first step and after each step, shape ``(T + 1,)``, currency.
        inventory: Inventory after each step, shape ``(T,)``, lots.
        fills: A :class:`FillRecord`, or a mapping / DataFrame with its columns.
        initial_inventory: Inventory before the first step, lots.
        lot_size: Units of the asset per lot, > 0.

    Returns:
        The attribution, all fields in currency.

    Raises:
        ValueError: On invalid arrays, steps out of range, or inventory changes that the fills
            do not explain.
    """
    m, q, rec, q0, lots = _episode(mid, inventory, fills, initial_inventory, lot_size)
    assert q is not None  # _episode returns an inventory when one is given
    d = rec.signed_size
    close = m[rec.step + 1]
    fill_mid = close if rec.mid is None else rec.mid
    fees = float(np.sum(rec.fee))
    q_prev = np.concatenate(([q0], q[:-1]))
    carry = lots * float(np.sum(q_prev * np.diff(m)))
    intrastep = lots * float(np.sum(d * (close - fill_mid)))
    spread = lots * float(np.sum(d * (fill_mid - rec.price)))
    cash_change = -lots * float(np.sum(d * rec.price)) + fees
    total = cash_change + lots * (float(q[-1]) * float(m[-1]) - q0 * float(m[0]))
    return PnLAttribution(
        total=total,
        spread_capture=spread,
        inventory_pnl=carry + intrastep,
        fees=fees,
        inventory_carry=carry,
    )


def pnl_attribution_from_steps(
    mid: ArrayLike,
    inventory: ArrayLike,
    trade_cash: ArrayLike,
    edge: ArrayLike,
    fees: ArrayLike,
    *,
    initial_inventory: ArrayLike = 0.0,
    lot_size: float = 1.0,
) -> dict[str, FloatOrArray]:
    """:func:`pnl_attribution` from per-step aggregates of the fills, for a batch of episodes.

    A simulator that accounts fills as they happen can sum them per step instead of keeping
    every fill. For each step ``t`` (fills ``i`` in that step, ``L = lot_size``, ``d_i`` the
    signed size, ``p_i`` the price, ``f_i`` the mid at the fill):

    - ``trade_cash[t] = -L x sum_i d_i x p_i``: cash paid (< 0) or received for the step's fills,
      fees excluded;
    - ``edge[t] = L x sum_i d_i x (f_i - p_i)``: the step's spread capture against the fill mids;
    - ``fees[t] = sum_i fee_i``: rebates received minus fees paid.

    Then, with ``m = mid``, ``q = inventory`` and ``dq_t = q_t - q_{t-1}`` (``q_{-1} =
    initial_inventory``), exactly as :func:`pnl_attribution`::

        spread_capture  = sum_t edge[t]
        inventory_carry = L x sum_t q_{t-1} x (m[t+1] - m[t])
        inventory_pnl   = inventory_carry + sum_t (L x dq_t x m[t+1] + trade_cash[t] - edge[t])
                          (the second sum is L x sum_i d_i x (c_i - f_i), c_i the step's close)
        fees            = sum_t fees[t]
        total           = sum_t trade_cash[t] + fees + L x (q_{T-1} x m[T] - q_{-1} x m[0])

    ``total`` comes from the cash flows alone, so ``total = spread_capture + inventory_pnl +
    fees`` holds to rounding only if the inputs are consistent (a check on the simulator).

    Args:
        mid: Mid before the first step and after each step, ``(T + 1,)`` or ``(n, T + 1)``,
            currency.
        inventory: Inventory after each step, ``(T,)`` or ``(n, T)``, lots.
        trade_cash: Cash of each step's fills, fees excluded, same shape as ``inventory``.
        edge: Spread capture of each step's fills, same shape, currency.
        fees: Fees/rebates of each step, same shape, currency (positive = received).
        initial_inventory: Inventory before the first step, lots: a scalar or ``(n,)``.
        lot_size: Units of the asset per lot, > 0.

    Returns:
        ``total_pnl``, ``spread_capture``, ``inventory_pnl``, ``fees``, ``inventory_carry``:
        floats for 1-D inputs, arrays ``(n,)`` for 2-D inputs.

    Raises:
        ValueError: On NaN/inf or inconsistent shapes.
    """
    m = _float_array(mid, "mid", ndims=(1, 2), min_len=2)
    q = _float_array(inventory, "inventory", ndims=(1, 2))
    shape = (*m.shape[:-1], m.shape[-1] - 1)
    arrays = {"inventory": q}
    for name, value in (("trade_cash", trade_cash), ("edge", edge), ("fees", fees)):
        arrays[name] = _float_array(value, name, ndims=(1, 2))
    for name, arr in arrays.items():
        if arr.shape != shape:
            raise ValueError(f"{name} must have shape {shape} (mid has {m.shape}), got {arr.shape}")
    lots = _scalar(lot_size, "lot_size", low=0.0, low_open=True)
    q0 = _float_array(initial_inventory, "initial_inventory", ndims=(0, 1), min_len=0)
    if q0.ndim == 1 and q0.shape != shape[:-1]:
        raise ValueError(f"initial_inventory must be a scalar or of shape {shape[:-1]}")
    q0c = q0[..., None] if q0.ndim == 1 else q0
    q_prev = np.concatenate([np.broadcast_to(q0c, (*shape[:-1], 1)), q[..., :-1]], axis=-1)
    dm = np.diff(m, axis=-1)
    carry = lots * np.sum(q_prev * dm, axis=-1)
    cash, e, fee = arrays["trade_cash"], arrays["edge"], arrays["fees"]
    intrastep = np.sum(lots * (q - q_prev) * m[..., 1:] + cash - e, axis=-1)
    fees_total = fee.sum(axis=-1)
    total = cash.sum(axis=-1) + fees_total + lots * (q[..., -1] * m[..., -1] - q0 * m[..., 0])
    batched = m.ndim == 2
    return {
        "total_pnl": _out(total, batched),
        "spread_capture": _out(e.sum(axis=-1), batched),
        "inventory_pnl": _out(carry + intrastep, batched),
        "fees": _out(fees_total, batched),
        "inventory_carry": _out(carry, batched),
    }


def equity_curve(
    mid: ArrayLike,
    inventory: ArrayLike,
    fills: Any,
    *,
    initial_inventory: float = 0.0,
    lot_size: float = 1.0,
) -> FloatArray:
    """Mark-to-market PnL path of one episode, relative to its start.

    ``equity[0] = 0`` and ``equity[t + 1] = cash change through step t + lot_size x
    (inventory[t] x mid[t + 1] - initial_inventory x mid[0])``, where the cash change of a fill
    is ``-side x size x price x lot_size + fee``. ``equity[-1]`` equals
    :attr:`PnLAttribution.total` and ``np.diff(equity)`` is the per-step PnL for
    :func:`sharpe` and :func:`var_es`.

    Args:
        mid: Mid before the first step and after each step, shape ``(T + 1,)``, currency.
        inventory: Inventory after each step, shape ``(T,)``, lots.
        fills: A :class:`FillRecord`, or a mapping / DataFrame with its columns.
        initial_inventory: Inventory before the first step, lots.
        lot_size: Units of the asset per lot, > 0.

    Returns:
        Array of shape ``(T + 1,)``, currency.

    Raises:
        ValueError: As :func:`pnl_attribution`.
    """
    m, q, rec, q0, lots = _episode(mid, inventory, fills, initial_inventory, lot_size)
    assert q is not None  # _episode returns an inventory when one is given
    flows = -lots * rec.signed_size * rec.price + rec.fee
    cash = np.cumsum(np.bincount(rec.step, weights=flows, minlength=m.size - 1))
    equity = np.empty(m.size)
    equity[0] = 0.0
    equity[1:] = cash + lots * (q * m[1:] - q0 * m[0])
    return equity


@dataclass(frozen=True)
class AverageCostPnL:
    """Per-step PnL by the average-cost method (arrays of shape ``(T,)``, after each step).

    ``total = realized + unrealized + fees`` at every step; it equals ``equity_curve(...)[1:]``.

    Attributes:
        inventory: Inventory, lots.
        avg_cost: Average entry price of the open position, currency per unit; NaN when flat.
        realized: Cumulative realized PnL, currency.
        unrealized: ``inventory x (mid - avg_cost) x lot_size`` (0 when flat), currency.
        fees: Cumulative fees/rebates, currency (positive = received).
        total: ``realized + unrealized + fees``, currency.
    """

    inventory: FloatArray
    avg_cost: FloatArray
    realized: FloatArray
    unrealized: FloatArray
    fees: FloatArray
    total: FloatArray


def average_cost_pnl(
    mid: ArrayLike,
    fills: Any,
    *,
    initial_inventory: float = 0.0,
    lot_size: float = 1.0,
) -> AverageCostPnL:
    """Walk the fills and book realized and unrealized PnL by average cost.

    A fill that adds to the position (or opens one) moves the average cost to the size-weighted
    mean ``(|q| x avg + size x price) / (|q| + size)``. A fill against the position closes
    ``c = min(size, |q|)`` lots and realizes ``c x (price - avg) x sign(q) x lot_size``; if it
    flips the position, the remainder opens at ``avg = price``. The initial inventory is booked
    at ``mid[0]``, so PnL is measured from the start of the episode like
    :func:`pnl_attribution`. Unrealized PnL uses the step's closing mark ``mid[t + 1]``.

    Args:
        mid: Mid before the first step and after each step, shape ``(T + 1,)``, currency.
        fills: A :class:`FillRecord`, or a mapping / DataFrame with its columns, in the order
            they happened (the order within a step matters for the realized/unrealized split).
        initial_inventory: Inventory before the first step, lots.
        lot_size: Units of the asset per lot, > 0.

    Returns:
        Per-step series; see :class:`AverageCostPnL`.

    Raises:
        ValueError: On invalid arrays or steps out of range.
    """
    m, _, rec, q0, lots = _episode(mid, None, fills, initial_inventory, lot_size)
    n_steps = m.size - 1
    n = len(rec)
    q_after = np.empty(n)
    avg_after = np.empty(n)
    realized_after = np.empty(n)
    q = q0
    avg = float(m[0]) if q0 != 0.0 else math.nan
    realized = 0.0
    # A Python loop over plain floats: the average cost is path dependent, and a few thousand
    # fills per episode walk in well under a millisecond.
    for i, (d, p) in enumerate(zip(rec.signed_size.tolist(), rec.price.tolist(), strict=True)):
        if q == 0.0 or (q > 0.0) == (d > 0.0):
            new_q = q + d
            avg = p if q == 0.0 else (abs(q) * avg + abs(d) * p) / abs(new_q)
        else:
            closed = min(abs(d), abs(q))
            realized += closed * (p - avg) * (1.0 if q > 0.0 else -1.0) * lots
            new_q = q + d
            if abs(new_q) <= _INVENTORY_REL_TOL * max(abs(q), abs(d)):
                new_q, avg = 0.0, math.nan
            elif (new_q > 0.0) != (q > 0.0):
                avg = p
        q = new_q
        q_after[i], avg_after[i], realized_after[i] = q, avg, realized
    # Index of the last fill at or before each step (-1: none yet, use the initial state).
    last = np.searchsorted(rec.step, np.arange(n_steps), side="right") - 1
    has = last >= 0
    idx = np.maximum(last, 0)
    inv = np.where(has, q_after[idx] if n else q0, q0)
    avg_cost = np.where(has, avg_after[idx] if n else math.nan, m[0] if q0 != 0.0 else math.nan)
    realized_s = np.where(has, realized_after[idx] if n else 0.0, 0.0)
    fees = np.cumsum(np.bincount(rec.step, weights=rec.fee, minlength=n_steps), dtype=np.float64)
    unreal = unrealized_pnl(inv, m[1:], avg_cost, lot_size=lots)
    assert isinstance(unreal, np.ndarray)
    return AverageCostPnL(
        inventory=inv,
        avg_cost=avg_cost,
        realized=realized_s,
        unrealized=unreal,
        fees=fees,
        total=realized_s + unreal + fees,
    )


def unrealized_pnl(
    inventory: ArrayLike, mark: ArrayLike, avg_cost: ArrayLike, *, lot_size: float = 1.0
) -> FloatOrArray:
    """Unrealized PnL ``inventory x (mark - avg_cost) x lot_size``, currency.

    Args:
        inventory: Inventory, lots; scalar or array.
        mark: Mark price (the mid), currency per unit; same shape as ``inventory``.
        avg_cost: Average entry price, currency per unit; same shape. NaN is allowed (and
            ignored, giving 0) exactly where the inventory is 0.
        lot_size: Units of the asset per lot, > 0.

    Returns:
        A float for scalar inputs, otherwise an array of the inputs' shape.

    Raises:
        ValueError: On mismatched shapes, NaN/inf, or a NaN average cost with open inventory.
    """
    q = _float_array(inventory, "inventory", ndims=(0, 1, 2), min_len=0)
    mk = _float_array(mark, "mark", ndims=(0, 1, 2), min_len=0)
    ac = _float_array(avg_cost, "avg_cost", ndims=(0, 1, 2), min_len=0, allow_nan=True)
    lots = _scalar(lot_size, "lot_size", low=0.0, low_open=True)
    if not q.shape == mk.shape == ac.shape:
        raise ValueError(
            f"inventory, mark and avg_cost must have the same shape, got {q.shape}, "
            f"{mk.shape}, {ac.shape}"
        )
    if np.any(np.isnan(ac) & (q != 0.0)):
        raise ValueError("avg_cost is NaN where inventory is not 0")
    out = np.where(q == 0.0, 0.0, q * (mk - np.where(np.isnan(ac), 0.0, ac)) * lots)
    return float(out) if out.ndim == 0 else out


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
    assert q is not None  # _episode returns an inventory when one is given
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
