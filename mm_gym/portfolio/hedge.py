"""A maker's marketable hedge orders, executed against a venue's real book.

The hedging overlay of :mod:`mm_gym.portfolio` sends a maker's marketable orders (mm1's, or with
two learning makers each maker's own) through the book
like any taker's: :func:`take` walks the book level by level up to a limit price with
:func:`mm_gym.market.flow.market_order` (kind :data:`~mm_gym.market.state.KIND_ROUTED`, an
order a router sends), which fills the resting makers (mm2, and background liquidity) in
price-time priority, pays them their rebates and applies the market's permanent impact. The
market order's aggressor is accounted in ``others`` by the book; :func:`take` then hands that
side of every fill to the hedging maker's account: the lots, the notional at the fill prices and
the taker fee, so cash and inventory stay conserved over all participants. That maker's own
resting quote on the side it takes is cancelled first (no trade with itself); the other maker's
quotes are filled like any resting order.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from mm_gym.market.book import NONE_HIGH, NONE_LOW, best_tick, level_lots
from mm_gym.market.flow import market_order
from mm_gym.market.kernels import NO_RUNTIME
from mm_gym.market.makers import position_update
from mm_gym.market.params import MarketParams
from mm_gym.market.state import (
    A_AVG,
    A_CASH,
    A_FEES,
    A_INV,
    A_REALIZED,
    A_VOLUME,
    KIND_ROUTED,
    O_SIZE,
    X_CASH,
    X_INV,
    MarketState,
)
from mm_gym.market.venues import _refresh

__all__ = ["take"]

MAX_LEVELS = 64  # price levels one hedge order may walk (a bound, not a model)


@nb.njit(cache=True, **NO_RUNTIME)  # no reference counting: see mm_gym.market.kernels
def take(
    s: MarketState,
    p: MarketParams,
    lots: np.ndarray,
    limit: np.ndarray,
    record: bool,
    filled: np.ndarray,
    notional_ticks: np.ndarray,
    maker: int = 0,
) -> None:
    """Maker ``maker`` takes ``|lots[m]|`` lots (buys if positive) in each market, to ``limit[m]``.

    Args:
        s: The venue's state.
        p: Its parameters (taker fee, value per tick and lot).
        lots: ``(n,)`` int64 signed lots to trade (+ buy, - sell, 0 nothing).
        limit: ``(n,)`` int64 limit price, ticks: a buy takes asks at or below it, a sell bids
            at or above it.
        record: Record the orders and fills as the step does.
        filled: ``(n,)`` int64, set to the signed lots traded.
        notional_ticks: ``(n,)`` float64, set to the signed sum of ``tick * lots`` traded.
        maker: The hedging maker, 0 (mm1) or 1 (mm2).
    """
    value = p.value_per_tick_lot
    for m in range(s.fs.shape[0]):
        filled[m] = 0
        notional_ticks[m] = 0.0
        if lots[m] == 0:
            continue
        side = 1 if lots[m] > 0 else -1
        rest = 1 if side > 0 else 0  # a buy takes the asks
        s.orders[m, maker, rest, O_SIZE] = 0  # a maker does not trade with its own quote
        left = abs(lots[m])
        got = 0
        notional = 0.0
        a = s.acct[m, maker]
        for _ in range(MAX_LEVELS):
            tick = best_tick(s, m, rest, -1)
            if tick == NONE_HIGH or tick == NONE_LOW or side * (tick - limit[m]) > 0:
                break
            n = market_order(s, p, m, side, min(left, level_lots(s, m, rest, tick)), tick,
                             KIND_ROUTED, record)  # fmt: skip
            if n == 0:
                break
            inv, avg, realized = position_update(a[A_INV], a[A_AVG], float(side * n), float(tick))
            a[A_INV] = inv
            a[A_AVG] = avg
            a[A_REALIZED] += realized * value
            got += n
            notional += tick * n
            left -= n
            if left == 0:
                break
        if got == 0:
            continue
        # the aggressor's side of the fills, booked to ``others`` by the book, is the maker's
        fee = p.taker_fee * got
        cash = -side * notional * value - fee
        s.others[m, X_CASH] -= cash
        s.others[m, X_INV] -= side * got
        a[A_CASH] += cash
        a[A_FEES] -= fee
        a[A_VOLUME] += got
        filled[m] = side * got
        notional_ticks[m] = side * notional
        _refresh(s, p, m)
