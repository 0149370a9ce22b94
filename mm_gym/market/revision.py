"""Common quote revisions: a portfolio's shared factor moves every asset's whole book.

Under the ``"book"`` price formation the fundamental reaches the mid only through the informed
flow, which carries too little of the mid's variance for a correlation of the fundamentals to
show in the prices (README, "Several assets"). A revision is the market-wide repricing that
news common to the assets causes: every participant moves its quotes at once.

Each step, after the exogenous state (step 2), an asset of a portfolio with ``revision_ticks >
0`` draws, in this order (after the news intensity's, when it clusters, below): a uniform ``u``
and ``corr_n`` standard normals ``z_b`` from the shared ``STREAM_CORR`` (after the
fundamental's; every asset and venue draws the same ones), and a uniform dither ``d`` from its
own ``STREAM_EXO`` (shared by its venues, not by the other assets). With probability
``revision_prob`` (``u < revision_prob``, or the clustered probability: the same steps for every
asset, common news) the book moves by ``k = floor(revision_ticks / sqrt(revision_prob) * x +
d)`` ticks, ``x = sum_b rev_b * z_b``, where ``rev_0 .. rev_7`` is the asset's row of the
Cholesky factor of the revisions' correlation matrix; otherwise ``k = 0``. So the revisions have
mean 0, variance ``revision_ticks**2`` per step plus the dither's rounding (at most 1/4 per
revision, about 1/6 on average: ``revision_prob / 6`` per step, independent across assets), and
their sizes and signs are independent across steps: nothing before a step predicts its
revision's direction, and an asset's revision says nothing about the direction of the next step
of any asset (without clustering, below, whether a revision comes is independent too). Rare,
larger revisions cost less rounding per step than a small one every step (whose rounding would
either add 1/6 per step or, tracked by a residual, make the next revision predictable).

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

Clustered news (``PortfolioConfig.revision_clustering`` = ``sigma > 0``): real common news
comes in bursts, so the revision probability is ``q_t = min(1, revision_prob * exp(y_0 + y_1 +
c))``, a news intensity common to the portfolio. ``y_0, y_1`` are log-OU components (AR(1)
coefficients ``exp(-1 / tau_j)``, each of stationary variance ``sigma**2 / 2``, time scales
``tau_j`` from ``clustering_steps``), advanced each step, before ``u``, by two further normals
of the shared ``STREAM_CORR``, and kept in ``F_CLUST_0 ..`` of each market's row: every asset
and venue draws the same normals and so holds the same intensity without shared memory. A reset
draws them from their stationary law (two more ``STREAM_CORR`` normals) and the warm-up runs
them on. ``c`` makes the capped mean ``E[q_t] = revision_prob`` (:func:`_log_norm`), so the
expected revision variance per step, ``revision_ticks**2``, and the rounding's, and so the
correlation's calibration, are unchanged; a revision's size, ``revision_ticks /
sqrt(revision_prob)`` times the normals, is too. The intensity predicts how many revisions come,
so the mids' absolute moves cluster, never their sign: a revision's sign and size stay
independent of everything before it. ``sigma = 0``: none of these draws, the revisions of
before bit for bit.

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
    F_CLUST_0,
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

MAX_CLUSTERING = 3.0  # revision_clustering's range: [0, MAX_CLUSTERING]

__all__ = ["news_probability", "pick_off", "revise_quotes", "revision_params", "start_news"]


@nb.njit(cache=True, inline="always")
def revise_quotes(s: MarketState, p: MarketParams, m: int, record: bool) -> None:
    """Draw this step's common factor of market ``m`` and move its book (module docstring)."""
    fs, is_, orders, rng = s.fs, s.is_, s.orders, s.rng
    row = (p.rev_0, p.rev_1, p.rev_2, p.rev_3, p.rev_4, p.rev_5, p.rev_6, p.rev_7)
    prob = news_probability(s, p, m) if p.clust_on else p.revision_prob
    news = uniform(rng, m, STREAM_CORR) < prob
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
def news_probability(s: MarketState, p: MarketParams, m: int) -> float:
    """Advance market ``m``'s news intensity; return this step's revision probability.

    Two log-OU components ``y_0, y_1`` (``F_CLUST_0 ..``) over two shared ``STREAM_CORR``
    normals: every asset and venue of the portfolio computes the same intensity.
    """
    fs, rng = s.fs, s.rng
    y0 = p.clust_a0 * fs[m, F_CLUST_0] + p.clust_b0 * normal(rng, m, STREAM_CORR)
    y1 = p.clust_a1 * fs[m, F_CLUST_0 + 1] + p.clust_b1 * normal(rng, m, STREAM_CORR)
    fs[m, F_CLUST_0] = y0
    fs[m, F_CLUST_0 + 1] = y1
    return min(1.0, p.revision_prob * math.exp(y0 + y1 + p.clust_log_norm))


@nb.njit(cache=True, inline="always")
def start_news(s: MarketState, p: MarketParams, m: int) -> None:
    """Draw market ``m``'s news intensity components from their stationary law (at a reset)."""
    if not p.clust_on:
        return
    fs, rng = s.fs, s.rng
    sd0 = p.clust_b0 / math.sqrt(1.0 - p.clust_a0 * p.clust_a0)
    sd1 = p.clust_b1 / math.sqrt(1.0 - p.clust_a1 * p.clust_a1)
    fs[m, F_CLUST_0] = sd0 * normal(rng, m, STREAM_CORR)
    fs[m, F_CLUST_0 + 1] = sd1 * normal(rng, m, STREAM_CORR)


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
    row: Any,
    revision_ticks: float,
    revision_prob: float,
    pegged: bool = True,
    clustering: float = 0.0,
    clustering_steps: tuple[float, float] = (1.0, 1.0),
) -> dict[str, Any]:
    """The :class:`MarketParams` fields of an asset's revisions.

    Args:
        row: The asset's row of the lower-triangular Cholesky factor of the revisions'
            correlation matrix, one entry per asset (as many as the ``correlation`` row).
        revision_ticks: Standard deviation of the revisions per step, ticks (0: none).
        revision_prob: Probability of a revision each step, in (0, 1]; with ``clustering``
            its mean over the news intensity's stationary law.
        pegged: Whether the makers' resting orders move with a revision (True) or keep their
            prices and are picked off when the revised book crosses them (module docstring).
        clustering: Stationary standard deviation of the log news intensity that scales the
            revision probability (0: none, no draws; module docstring).
        clustering_steps: Time scales (steps) of its two log-OU components, which share its
            variance equally.

    Raises:
        ConfigError: For a row that is not 1 to ``MAX_ASSETS`` finite numbers, a negative or
            non-finite ``revision_ticks``, ``revision_prob`` outside (0, 1], ``clustering``
            outside [0, 3], with ``clustering > 0`` a ``revision_prob`` of 1 (no room to
            cluster) or a time scale below 1 step.
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
        **_clustering_params(clustering, clustering_steps, revision_prob, revision_ticks > 0.0),
    }


def _clustering_params(
    sigma: float, steps: tuple[float, float], prob: float, on: bool
) -> dict[str, Any]:
    """The news intensity's :class:`MarketParams` fields (``clust_*``; see revision_params)."""
    if not 0.0 <= sigma <= MAX_CLUSTERING:  # also NaN
        raise ConfigError(
            f"revision_clustering={sigma!r} must be in [0, {MAX_CLUSTERING:g}] "
            "(the log news intensity's standard deviation)"
        )
    if sigma == 0.0 or not on:
        return {"clust_on": False}
    if prob >= 1.0:
        raise ConfigError(
            f"revision_clustering={sigma!r} needs revision_prob < 1 (it is {prob!r}): "
            "a revision every step leaves no room to cluster"
        )
    if len(steps) != 2 or not all(math.isfinite(t) and t >= 1.0 for t in steps):
        raise ConfigError(f"revision clustering steps={steps!r} must be two time scales >= 1")
    a = [math.exp(-1.0 / t) for t in steps]
    b = [sigma * math.sqrt(0.5 * (1.0 - x * x)) for x in a]
    return {
        "clust_on": True,
        "clust_a0": a[0],
        "clust_a1": a[1],
        "clust_b0": b[0],
        "clust_b1": b[1],
        "clust_log_norm": _log_norm(sigma, 1.0 / prob),
    }


def _log_norm(sigma: float, cap: float) -> float:
    """The ``c`` with ``E[min(cap, exp(Y + c))] = 1`` for ``Y ~ N(0, sigma^2)``, ``cap > 1``.

    The capped lognormal's mean is ``e^(c + s2/2) Phi((ln cap - c - s2) / sigma) + cap (1 -
    Phi((ln cap - c) / sigma))``, increasing in ``c``; bisection between ``-s2/2`` (the
    uncapped mean-one shift, mean at most 1) and a bound whose mean reaches 1.
    """
    s2 = sigma * sigma
    log_cap = math.log(cap)

    def mean(c: float) -> float:
        head = math.exp(c + 0.5 * s2) * _phi((log_cap - c - s2) / sigma)
        return head + cap * (1.0 - _phi((log_cap - c) / sigma))

    lo, hi = -0.5 * s2, log_cap + 1.0
    while mean(hi) < 1.0:
        hi += 1.0 + hi - lo
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if mean(mid) < 1.0 else (lo, mid)
    return 0.5 * (lo + hi)


def _phi(x: float) -> float:
    """The standard normal distribution function."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))
