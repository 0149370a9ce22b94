"""The market's book operations called on a whole :class:`MarketState`, for the tests.

The compiled helpers of :mod:`mm_gym.market.book` and :func:`mm_gym.market.kernels.place_quotes`
take the state arrays they touch (see the argument convention in ``book.py``); these wrappers
pass them from a state, so that a test reads as the operation it checks.
"""

from __future__ import annotations

from mm_gym.market import book, kernels
from mm_gym.market.book import NONE_HIGH, NONE_LOW
from mm_gym.market.params import MarketParams
from mm_gym.market.state import MarketState

__all__ = [
    "NONE_HIGH",
    "NONE_LOW",
    "best_tick",
    "cancel_background_lot",
    "execute",
    "join",
    "place_quotes",
    "rest_background",
    "shift_window",
]


def best_tick(s: MarketState, m: int, side: int, exclude: int) -> int:
    """:func:`mm_gym.market.book.best_tick` of market ``m``."""
    return book.best_tick(s.is_, s.orders, s.bid_vol.shape[1], m, side, exclude)


def rest_background(s: MarketState, m: int, side: int, tick: int, size: int) -> bool:
    """:func:`mm_gym.market.book.rest_background` in market ``m``."""
    return book.rest_background(s.bid_vol, s.ask_vol, s.is_, m, side, tick, size)


def cancel_background_lot(s: MarketState, m: int, side: int, u: int) -> None:
    """:func:`mm_gym.market.book.cancel_background_lot` in market ``m``."""
    book.cancel_background_lot(s.bid_vol, s.ask_vol, s.is_, s.orders, m, side, u)


def join(s: MarketState, m: int, maker: int, side: int, tick: int, size: int) -> None:
    """:func:`mm_gym.market.book.join` in market ``m``."""
    book.join(s.bid_vol, s.ask_vol, s.is_, s.orders, m, maker, side, tick, size)


def shift_window(s: MarketState, m: int, shift: int) -> None:
    """:func:`mm_gym.market.book.shift_window` of market ``m``."""
    book.shift_window(s.bid_vol, s.ask_vol, s.is_, s.orders, m, shift)


def execute(
    s: MarketState,
    p: MarketParams,
    m: int,
    aggressor_side: int,
    size: int,
    limit_tick: int,
    kind: int,
    record: bool,
) -> int:
    """:func:`mm_gym.market.book.execute` in market ``m``; returns the lots filled."""
    return book.execute(
        s.bid_vol, s.ask_vol, s.is_, s.orders, s.fs, s.acct, s.others, s.fills, s.n_fills, p, m,
        aggressor_side, size, limit_tick, kind, record,
    )  # fmt: skip


def place_quotes(
    s: MarketState,
    m: int,
    maker: int,
    bid_off: float,
    ask_off: float,
    bid_size: int,
    ask_size: int,
    limit: int,
) -> None:
    """:func:`mm_gym.market.kernels.place_quotes` of ``maker`` in market ``m``."""
    kernels.place_quotes(
        s.fs, s.is_, s.acct, s.bid_vol, s.ask_vol, s.orders, m, maker, bid_off, ask_off,
        bid_size, ask_size, limit,
    )  # fmt: skip
