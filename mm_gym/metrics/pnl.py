"""PnL of an episode: fill records, attribution, average-cost and mark-to-market PnL."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mm_gym.metrics._common import (
    _INVENTORY_REL_TOL,
    FloatArray,
    FloatOrArray,
    _float_array,
    _out,
    _scalar,
)

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


def _episode_fills(
    mid: ArrayLike, fills: Any, initial_inventory: float, lot_size: float
) -> tuple[FloatArray, FillRecord, float, float]:
    """Validate one episode's mid and fills (steps within the episode) and its two scalars."""
    m = _float_array(mid, "mid", min_len=2)
    q0 = _scalar(initial_inventory, "initial_inventory")
    lots = _scalar(lot_size, "lot_size", low=0.0, low_open=True)
    return m, _fills(fills, m.size - 1), q0, lots


def _episode(
    mid: ArrayLike,
    inventory: ArrayLike,
    fills: Any,
    initial_inventory: float,
    lot_size: float,
) -> tuple[FloatArray, FloatArray, FillRecord, float, float]:
    """Validate one episode's mid, inventory and fills against each other."""
    m, rec, q0, lots = _episode_fills(mid, fills, initial_inventory, lot_size)
    n_steps = m.size - 1
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
    m, rec, q0, lots = _episode_fills(mid, fills, initial_inventory, lot_size)
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
