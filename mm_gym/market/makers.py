"""Maker accounts: cash, inventory, average cost, realized PnL, rebates and fees.

Maker perspective: a fill of the maker's bid buys (inventory up, cash down), a fill of its ask
sells. Every fill moves cash and inventory between the maker and the aggressor (part of
``others``) and the fee/rebate through the exchange, so the changes sum to zero over all
participants. Realized PnL is by average cost: closing ``c`` lots of a long at price ``p``
realizes ``c * (p - avg) * value``. With cash starting at 0 and a flat book,
``cash + inv * mark * value == realized + inv * (mark - avg) * value + fees`` at every step.
"""

from __future__ import annotations

import numba as nb

from mm_gym.market.params import MarketParams
from mm_gym.market.state import (
    A_AVG,
    A_CASH,
    A_FEES,
    A_INV,
    A_N_FILLS,
    A_REALIZED,
    A_STEP_BOUGHT,
    A_STEP_EDGE,
    A_STEP_FILLS,
    A_STEP_SOLD,
    A_VOLUME,
    F_MID,
    FILL_CAP,
    I_T,
    R_KIND,
    R_MAKER,
    R_SIDE,
    R_SIZE,
    R_STEP,
    R_TICK,
    X_CASH,
    X_EXCHANGE,
    X_INV,
    MarketState,
)


@nb.njit(cache=True, inline="always")
def position_update(
    inv: float, avg: float, signed_size: float, price: float
) -> tuple[float, float, float]:
    """Average-cost position update.

    Args:
        inv: Inventory before the trade (lots).
        avg: Average cost before the trade (ticks; ignored when flat).
        signed_size: Lots traded, positive for a buy.
        price: Trade price (ticks).

    Returns:
        ``(new_inv, new_avg, realized_ticks_lots)``: realized PnL in tick-lots.
    """
    realized = 0.0
    if inv == 0.0 or (inv > 0.0) == (signed_size > 0.0):
        new_inv = inv + signed_size
        new_avg = (inv * avg + signed_size * price) / new_inv if new_inv != 0.0 else 0.0
        return new_inv, new_avg, realized
    closing = min(abs(signed_size), abs(inv))
    if inv > 0.0:
        realized = closing * (price - avg)
    else:
        realized = closing * (avg - price)
    new_inv = inv + signed_size
    if new_inv == 0.0:
        new_avg = 0.0
    elif (new_inv > 0.0) == (inv > 0.0):
        new_avg = avg  # partly closed: the rest keeps its cost
    else:
        new_avg = price  # flipped: the new position opened at this price
    return new_inv, new_avg, realized


@nb.njit(cache=True, inline="always")
def maker_fill(
    s: MarketState,
    p: MarketParams,
    m: int,
    maker: int,
    side_rest: int,
    tick: int,
    size: int,
    kind: int,
    record: bool,
) -> None:
    """Account a fill of ``size`` lots of ``maker``'s resting order (side 0 bid, 1 ask).

    Writes the maker's account (``acct``), the aggressor's (``others``) and, with ``record``,
    the fill (``fills``, ``n_fills``); reads the mid (``fs``) and the step (``is_``).
    """
    acct, others, fs, is_, fills, n_fills = s.acct, s.others, s.fs, s.is_, s.fills, s.n_fills
    value = p.value_per_tick_lot
    rebate = p.maker_rebate * size
    fee = p.taker_fee * size
    notional = tick * size * value
    signed = size if side_rest == 0 else -size
    a = acct[m, maker]
    a[A_CASH] += -notional if side_rest == 0 else notional
    a[A_CASH] += rebate
    a[A_FEES] += rebate
    inv, avg, realized = position_update(a[A_INV], a[A_AVG], float(signed), float(tick))
    a[A_INV] = inv
    a[A_AVG] = avg
    a[A_REALIZED] += realized * value
    a[A_VOLUME] += size
    a[A_N_FILLS] += 1
    a[A_STEP_FILLS] += 1
    mid = fs[m, F_MID]
    if side_rest == 0:
        a[A_STEP_BOUGHT] += size
        a[A_STEP_EDGE] += (mid - tick) * size * value
    else:
        a[A_STEP_SOLD] += size
        a[A_STEP_EDGE] += (tick - mid) * size * value
    # the aggressor
    others[m, X_CASH] += (notional if side_rest == 0 else -notional) - fee
    others[m, X_INV] -= signed
    others[m, X_EXCHANGE] += fee - rebate
    if record:
        j = n_fills[m]
        if j < FILL_CAP:
            r = fills[m, j]
            r[R_STEP] = is_[m, I_T]
            r[R_MAKER] = maker
            r[R_SIDE] = side_rest
            r[R_TICK] = tick
            r[R_SIZE] = size
            r[R_KIND] = kind
        n_fills[m] = j + 1


@nb.njit(cache=True, inline="always")
def background_fill(s: MarketState, p: MarketParams, m: int, size: int) -> None:
    """Account lots executed between an aggressor and background liquidity (both in ``others``).

    Cash and inventory move within ``others``; the aggressor pays the taker fee and the resting
    background order earns the maker rebate, the difference going to the exchange.
    """
    others = s.others
    fee = p.taker_fee * size
    rebate = p.maker_rebate * size
    others[m, X_CASH] += rebate - fee
    others[m, X_EXCHANGE] += fee - rebate
