"""Common quote revisions: a portfolio's shared factor moves every asset's whole book.

Under the ``"book"`` price formation the fundamental reaches the mid only through the informed
flow, which carries too little of the mid's variance for a correlation of the fundamentals to
show in the prices (README, "Several assets"). A revision is the market-wide repricing that
news common to the assets causes: every participant moves its quotes at once.

Each step, after the exogenous state (step 2), an asset of a portfolio with
``revision_ticks > 0`` draws, in this order: a uniform ``u`` and ``corr_n`` standard normals
``z_b`` from the shared ``STREAM_CORR`` (after the fundamental's; every asset and venue draws the
same ones), and a uniform dither ``d`` from its own ``STREAM_EXO`` (shared by its venues, not by
the other assets). With probability ``revision_prob`` (``u < revision_prob``: the same steps for
every asset, common news) the book moves by ``k = floor(revision_ticks / sqrt(revision_prob) *
x + d)`` ticks, ``x = sum_b rev_b * z_b``, where ``rev_0 .. rev_7`` is the asset's row of the
Cholesky factor of the revisions' correlation matrix; otherwise ``k = 0``. So the revisions have
mean 0, variance ``revision_ticks**2`` per step plus the dither's rounding (at most 1/4 per
revision, about 1/6 on average: ``revision_prob / 6`` per step, independent across assets), and
are independent across steps: nothing before a step predicts its revision, and an asset's
revision says nothing about the next step of any asset. Rare, larger revisions cost less
rounding per step than a small one every step (whose rounding would either add 1/6 per step or,
tracked by a residual, make the next revision predictable).

The move is a translation of everything priced: the window (``I_BASE``), so every resting
background lot keeps its level and queue; the mid, the fundamental (the informed traders' signal
``F - mid`` is unchanged), the mean-reversion anchor (else the regime's pull would undo the
revision and make it predictable), and the other venues' protected prices (every venue of an
asset draws the same factor and moves alike). The mid at the step's start (``F_PREV_MID``) is
not moved: the step's return includes ``k``. The factor is fresh each step and applied within
the step, so nothing observed before it predicts it.

The makers' resting orders (``revision_pegged``, ``PortfolioConfig.revision_pegging``):

- **pegged**: they move with the book and keep their queue positions: a revision moves a
  maker's mark, never fills it (the makers reprice for free on news);
- **unpegged**: they keep their prices, as a real maker's quotes do until it sends new ones,
  and the news's fastest traders pick off the stale ones. After an up move (``k > 0``) a
  maker's ask at or below the revised book's best background bid (``base + best bid index``,
  both moved), after a down move a bid at or above its best ask, is filled whole at its own
  price (kind :data:`~mm_gym.market.state.KIND_PICKOFF`) by a taker that keeps the lots
  (``others``): booked as any passive fill (:func:`~mm_gym.market.makers.maker_fill`: the
  maker rebate, the taker fee, cash and inventory conserved), its spread capture measured
  against the mid before the revision (the mid when the order was hit; the revision's move is
  then the fill's adverse selection), and counted in ``A_STEP_PICKED``. The taker's trade does
  not touch the background book (the revised book's prices already hold the news). A maker's
  order the revised book does not cross stays at its price: now away from the touch, or
  inside the spread alone, or behind it, and the maker re-quotes it at its next step as usual
  (an unchanged price keeps this queue position). The background lots now at its price moved
  there after it rested, so it is first in its level's queue (``O_AHEAD = 0``; between the two
  makers the earlier join first, ``O_SEQ``). Pick-off needs a background level on the other
  side: with that side empty nothing is filled.

``revision_ticks = 0`` (every single-asset market, MultiVenue-v0): no draw, nothing moves.
"""

from __future__ import annotations

import math
from typing import Any

import numba as nb
import numpy as np

from mm_gym.config import ConfigError
from mm_gym.market.book import NONE_HIGH, NONE_LOW
from mm_gym.market.makers import maker_fill
from mm_gym.market.params import MAX_ASSETS, REV_FIELDS, MarketParams
from mm_gym.market.rng import STREAM_CORR, STREAM_EXO, normal, uniform
from mm_gym.market.state import (
    A_STEP_PICKED,
    F_ANCHOR,
    F_FUND,
    F_MID,
    F_PROTECT_ASK,
    F_PROTECT_BID,
    I_BASE,
    I_BEST_ASK,
    I_BEST_BID,
    I_REVISION,
    KIND_PICKOFF,
    O_AHEAD,
    O_SIZE,
    O_TICK,
    MarketState,
)

__all__ = ["pick_off", "revise_quotes", "revision_params"]


@nb.njit(cache=True, inline="always")
def revise_quotes(s: MarketState, p: MarketParams, m: int, record: bool) -> None:
    """Draw this step's common factor of market ``m`` and move its book (module docstring)."""
    fs, is_, orders, rng = s.fs, s.is_, s.orders, s.rng
    row = (p.rev_0, p.rev_1, p.rev_2, p.rev_3, p.rev_4, p.rev_5, p.rev_6, p.rev_7)
    news = uniform(rng, m, STREAM_CORR) < p.revision_prob
    x = 0.0
    for b in range(p.corr_n):  # drawn every step: the shared stream's pattern is fixed
        x += row[b] * normal(rng, m, STREAM_CORR)
    dither = uniform(rng, m, STREAM_EXO)
    k = int(math.floor(p.revision_ticks / math.sqrt(p.revision_prob) * x + dither)) if news else 0
    is_[m, I_REVISION] = k
    if k == 0:
        return
    is_[m, I_BASE] += k
    if p.revision_pegged:
        for maker in range(2):
            for side in range(2):
                if orders[m, maker, side, O_SIZE] > 0:
                    orders[m, maker, side, O_TICK] += k
    else:
        pick_off(s, p, m, k, record)  # before the mid moves: the fills' mid is the old one
    fs[m, F_MID] += k
    fs[m, F_FUND] += k
    fs[m, F_ANCHOR] += k
    fs[m, F_PROTECT_BID] += k  # -inf (no other venue) stays -inf
    fs[m, F_PROTECT_ASK] += k


@nb.njit(cache=True, inline="always")
def pick_off(s: MarketState, p: MarketParams, m: int, k: int, record: bool) -> None:
    """Unpegged makers after a revision of ``k`` ticks (the book already moved; module docstring).

    An ask at or below the revised best background bid (``k > 0``), or a bid at or above the
    revised best background ask (``k < 0``), is filled whole at its price; every other resting
    order keeps its price and goes to the front of its level's queue.
    """
    is_, orders, acct = s.is_, s.orders, s.acct
    n = s.bid_vol.shape[1]
    base = is_[m, I_BASE]
    if k > 0:  # the asks are stale: the revised bids may reach them
        stale = 1
        i = is_[m, I_BEST_BID]
        reach = base + i if i >= 0 else NONE_LOW
    else:
        stale = 0
        i = is_[m, I_BEST_ASK]
        reach = base + i if i < n else NONE_HIGH
    for maker in range(2):
        for side in range(2):
            o = orders[m, maker, side]
            size = o[O_SIZE]
            if size <= 0:
                continue
            tick = o[O_TICK]
            crossed = side == stale and (tick <= reach if stale == 1 else tick >= reach)
            if crossed:
                maker_fill(s, p, m, maker, side, tick, size, KIND_PICKOFF, record)
                acct[m, maker, A_STEP_PICKED] += size
                o[O_SIZE] = 0
            else:
                o[O_AHEAD] = 0


def revision_params(
    row: Any, revision_ticks: float, revision_prob: float, pegged: bool = True
) -> dict[str, Any]:
    """The :class:`MarketParams` fields of an asset's revisions.

    Args:
        row: The asset's row of the lower-triangular Cholesky factor of the revisions'
            correlation matrix, one entry per asset (as many as the ``correlation`` row).
        revision_ticks: Standard deviation of the revisions per step, ticks (0: none).
        revision_prob: Probability of a revision each step, in (0, 1].
        pegged: Whether the makers' resting orders move with a revision (True) or keep their
            prices and are picked off when the revised book crosses them (module docstring).

    Raises:
        ConfigError: For a row that is not 1 to ``MAX_ASSETS`` finite numbers, a negative or
            non-finite ``revision_ticks``, or ``revision_prob`` outside (0, 1].
    """
    r = np.asarray(row, np.float64)
    if r.ndim != 1 or not 1 <= r.size <= MAX_ASSETS or not np.isfinite(r).all():
        raise ConfigError(
            f"revision row={row!r} must be 1 to {MAX_ASSETS} finite numbers (a Cholesky row)"
        )
    if not math.isfinite(revision_ticks) or revision_ticks < 0.0:
        raise ConfigError(f"revision_ticks={revision_ticks!r} must be a finite number >= 0")
    if not 0.0 < revision_prob <= 1.0:
        raise ConfigError(f"revision_prob={revision_prob!r} must be in (0, 1]")
    padded = [float(x) for x in r] + [0.0] * (MAX_ASSETS - r.size)
    return {
        "revision_ticks": float(revision_ticks),
        "revision_prob": float(revision_prob),
        "revision_pegged": bool(pegged),
        **dict(zip(REV_FIELDS, padded, strict=True)),
    }
