"""Per-market, per-component random streams kept in an array (splitmix64).

Each market owns :data:`N_STREAMS` independent 64-bit generator states, one per component, seeded
from the market's episode seed. A market's draws therefore never depend on the batch it runs in,
on thread scheduling, or on what another component drew: the exogenous path (fundamental, regime,
sentiment, news, noise flow, background arrivals) consumes its own streams in a fixed pattern, so a
maker's quotes cannot shift it (common random numbers across policies).

splitmix64 (Steele, Lea & Flood 2014, "Fast splittable pseudorandom number generators") passes
BigCrush and needs one 64-bit word of state, which keeps the state array small.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

STREAM_EXO = 0  # regime chain, sentiment, news, fundamental
STREAM_NOISE = 1  # noise market orders (and their Hawkes excitation)
STREAM_LIQUIDITY = 2  # background limit-order arrivals
STREAM_CANCEL = 3  # background cancellations (their count depends on resting volume)
STREAM_INFORMED = 4  # informed market orders
STREAM_SHOCK = 5  # liquidity shocks (the side depends on mm1's inventory)
STREAM_RIVAL = 6  # reserved for randomized rivals
STREAM_ACTIVITY = 7  # the slow activity factor ("book" price formation)
STREAM_META = 8  # metaorder parents and market-order sizes ("book" price formation)
STREAM_NEWS = 9  # which headline of its bucket a news item is (ProcessConfig.news_model)
STREAM_CORR = 10  # a portfolio's correlated fundamental innovations (mm_gym.portfolio)
N_STREAMS = 11
# Streams of the asset rather than of one venue: the venues of one asset (mm_gym.multivenue) seed
# them alike, so they share the regime, sentiment, news, informed signal, activity and shocks.
# Every other stream (the venue's own order flow) is seeded per venue (seed_venue_streams).
# STREAM_CORR is shared by every asset and venue of a portfolio (seed_asset_streams).
SHARED_STREAMS = (STREAM_EXO, STREAM_SHOCK, STREAM_ACTIVITY, STREAM_NEWS, STREAM_CORR)

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_STREAM_SALT = np.uint64(0xD1B54A32D192ED03)
_VENUE_SALT = np.uint64(0x8CB92BA72F3D8DD7)
_ASSET_SALT = np.uint64(0xA0761D6478BD642F)
_INV53 = 1.0 / 9007199254740992.0  # 2**-53


@nb.njit(cache=True, inline="always")
def _mix(z: np.uint64) -> np.uint64:
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@nb.njit(cache=True, inline="always")
def uniform(rng: np.ndarray, m: int, s: int) -> float:
    """A uniform draw in [0, 1) from stream ``s`` of market ``m`` (advances the state)."""
    st = rng[m, s] + _GOLDEN
    rng[m, s] = st
    return float(_mix(st) >> np.uint64(11)) * _INV53


@nb.njit(cache=True, inline="always")
def uniform_pos(rng: np.ndarray, m: int, s: int) -> float:
    """A uniform draw in (0, 1) (safe for logarithms)."""
    return uniform(rng, m, s) * (1.0 - 2.0 * _INV53) + _INV53


@nb.njit(cache=True)
def normal(rng: np.ndarray, m: int, s: int) -> float:
    """A standard normal draw (Box-Muller, two uniforms)."""
    u1 = uniform_pos(rng, m, s)
    u2 = uniform(rng, m, s)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@nb.njit(cache=True)
def poisson(rng: np.ndarray, m: int, s: int, lam: float) -> int:
    """A Poisson(lam) draw by inversion (one uniform per 200 of rate)."""
    if lam <= 0.0:
        uniform(rng, m, s)  # keep the stream's consumption fixed
        return 0
    total = 0
    while lam > 0.0:
        chunk = min(lam, 200.0)  # keeps exp(-chunk) far from underflow
        lam -= chunk
        u = uniform(rng, m, s)
        p = math.exp(-chunk)
        cdf = p
        k = 0
        while u > cdf and k < 10_000:
            k += 1
            p *= chunk / k
            cdf += p
        total += k
    return total


@nb.njit(cache=True)
def geometric_log_q(rng: np.ndarray, m: int, s: int, log_q: float) -> int:
    """A geometric draw on {0, 1, ...} with ``log_q = log(mean / (1 + mean))`` precomputed.

    ``log_q == 0`` stands for mean 0 (always 0). One uniform either way.
    """
    return geometric_of(uniform_pos(rng, m, s), log_q)


@nb.njit(cache=True, inline="always")
def geometric_of(u: float, log_q: float) -> int:
    """The geometric draw of :func:`geometric_log_q` from its uniform ``u`` in (0, 1).

    Lets a caller draw the uniform in stream order and take the logarithm only if the value is
    used (the same bits either way).
    """
    if log_q == 0.0:
        return 0
    return int(math.log(u) / log_q)


def geometric_log_q_of_mean(mean: float) -> float:
    """The ``log_q`` argument of :func:`geometric_log_q` for a given mean (0.0 for mean 0)."""
    return 0.0 if mean <= 0.0 else math.log(mean / (1.0 + mean))


@nb.njit(cache=True)
def geometric(rng: np.ndarray, m: int, s: int, mean: float) -> int:
    """A geometric draw on {0, 1, ...} with the given mean (one uniform)."""
    if mean <= 0.0:
        uniform(rng, m, s)
        return 0
    q = mean / (1.0 + mean)  # P(X >= k+1 | X >= k)
    return int(math.log(uniform_pos(rng, m, s)) / math.log(q))


@nb.njit(cache=True)
def seed_streams(rng: np.ndarray, m: int, seed: np.uint64) -> None:
    """Seed all streams of market ``m`` from one 64-bit seed.

    Stream ``s`` depends only on ``seed`` and ``s``, so a stream added at the end leaves the
    existing ones (and every path drawn from them) as they were.
    """
    for s in range(rng.shape[1]):
        rng[m, s] = _mix(seed + np.uint64(s + 1) * _STREAM_SALT)


@nb.njit(cache=True)
def seed_venue_streams(rng: np.ndarray, m: int, seed: np.uint64, venue: int) -> None:
    """Re-seed venue ``venue``'s own streams of market ``m`` (all but :data:`SHARED_STREAMS`).

    Venue 0 keeps :func:`seed_streams`' seeding (so one venue is the single-venue market); venue
    ``v > 0`` seeds its own streams from ``seed`` mixed with ``v``.
    """
    if venue == 0:
        return
    vseed = _mix(seed ^ _mix(np.uint64(venue) * _VENUE_SALT))
    for s in range(rng.shape[1]):
        shared = s == STREAM_EXO or s == STREAM_SHOCK or s == STREAM_ACTIVITY or s == STREAM_NEWS
        if not shared and s != STREAM_CORR:
            rng[m, s] = _mix(vseed + np.uint64(s + 1) * _STREAM_SALT)


@nb.njit(cache=True)
def seed_asset_streams(rng: np.ndarray, m: int, seed: np.uint64, asset: int) -> np.uint64:
    """Re-seed asset ``asset``'s streams of market ``m`` (all but ``STREAM_CORR``); its seed.

    The assets of a portfolio (:mod:`mm_gym.portfolio`) reset from one seed: they share
    ``STREAM_CORR``, from which each draws the same standard normals every step and combines them
    with its row of the correlation matrix's Cholesky factor, and have every other stream of their
    own. Asset 0 keeps :func:`seed_streams`' seeding; asset ``a > 0`` seeds its streams from
    ``seed`` mixed with ``a``. Returns the seed the asset's venues derive theirs from
    (:func:`seed_venue_streams`).
    """
    if asset == 0:
        return seed
    aseed = _mix(seed ^ _mix(np.uint64(asset) * _ASSET_SALT))
    for s in range(rng.shape[1]):
        if s != STREAM_CORR:
            rng[m, s] = _mix(aseed + np.uint64(s + 1) * _STREAM_SALT)
    return aseed
