"""Closed-form optimal quotes of Avellaneda & Stoikov (2008) and Guéant et al. (2013).

The functions are unit-agnostic: they take numbers (or numpy arrays, broadcast together) in any
consistent system of units and return distances from the mid in the price unit. Two systems are
used in this package:

======================  ==================================  ==================================
quantity                intensity model (currency, time)    book environment (ticks, steps)
======================  ==================================  ==================================
``s``, distances        currency                            ticks
``q``                   units of the asset                  lots (``inventory * limit``)
``tau = T - t``         time                                steps (``time_left * horizon``)
``sigma``               currency / sqrt(time)               ticks / sqrt(step)
``gamma``               1 / currency                        1 / (tick * lot)
``k``                   1 / currency                        1 / tick
``A``                   fills / time                        fills / step
======================  ==================================  ==================================

References:
    M. Avellaneda & S. Stoikov (2008), "High-frequency trading in a limit order book",
    Quantitative Finance 8(3), 217-224. Equation numbers are those of the published article.

    O. Guéant, C.-A. Lehalle & J. Fernandez-Tapia (2013), "Dealing with the inventory risk:
    a solution to the market making problem", Mathematics and Financial Economics 7(4),
    477-507 (arXiv:1105.3115).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "as_average_spread",
    "as_quote_distances",
    "as_reservation_price",
    "as_spread",
    "glft_quote_distances",
    "glft_skew",
]

ArrayLike = np.ndarray | float


def as_reservation_price(
    s: ArrayLike, q: ArrayLike, tau: ArrayLike, *, gamma: float, sigma: ArrayLike
) -> np.ndarray:
    """Reservation (indifference) price ``r = s - q * gamma * sigma**2 * tau``.

    Avellaneda & Stoikov (2008), eq. (29) (the same expression as eq. (8) of the frozen-inventory
    problem): a long maker (``q > 0``) values the asset below the mid.
    """
    return np.asarray(s, dtype=np.float64) - _skew(q, tau, gamma, sigma)


def as_spread(tau: ArrayLike, *, gamma: float, sigma: ArrayLike, k: float) -> np.ndarray:
    """Total optimal spread ``delta_a + delta_b = gamma*sigma**2*tau + (2/gamma)*ln(1 + gamma/k)``.

    Avellaneda & Stoikov (2008), eq. (30). It does not depend on the inventory and shrinks to
    ``(2/gamma) ln(1 + gamma/k)`` as ``tau = T - t -> 0``.
    """
    tau = np.asarray(tau, dtype=np.float64)
    sigma = np.asarray(sigma, dtype=np.float64)
    return gamma * sigma**2 * tau + (2.0 / gamma) * np.log1p(gamma / k)


def as_average_spread(horizon: float, *, gamma: float, sigma: float, k: float) -> float:
    """Time-average of eq. (30) over ``[0, T]``: ``gamma*sigma**2*T/2 + (2/gamma) ln(1 + gamma/k)``.

    This is the "average spread" column of Avellaneda & Stoikov (2008), tables 1-3 (1.49, 1.35
    and 3.02 at ``gamma`` = 0.1, 0.01 and 1), and the constant spread of their symmetric
    benchmark strategy. (Quotes revised at ``t = 0, dt, ..., T - dt`` average
    ``gamma*sigma**2*(T + dt)/2 + ...`` instead: 3.03 rather than 3.02 at ``gamma = 1``.)
    """
    return float(0.5 * gamma * sigma**2 * horizon + (2.0 / gamma) * math.log1p(gamma / k))


def as_quote_distances(
    q: ArrayLike, tau: ArrayLike, *, gamma: float, sigma: ArrayLike, k: float
) -> tuple[np.ndarray, np.ndarray]:
    """Bid and ask distances from the mid of the Avellaneda-Stoikov inventory strategy.

    The quotes are the spread of eq. (30) centred on the reservation price of eq. (29):
    ``bid = r - spread/2``, ``ask = r + spread/2``, hence
    ``delta_bid = s - bid = spread/2 + q*gamma*sigma**2*tau`` and
    ``delta_ask = ask - s = spread/2 - q*gamma*sigma**2*tau``. A distance may be negative (a
    quote through the mid) at large inventory.

    Returns:
        ``(delta_bid, delta_ask)``.
    """
    half = 0.5 * as_spread(tau, gamma=gamma, sigma=sigma, k=k)
    skew = _skew(q, tau, gamma, sigma)
    return half + skew, half - skew


def glft_skew(*, gamma: float, sigma: ArrayLike, A: float, k: float) -> np.ndarray:
    """The GLFT inventory coefficient ``sqrt(sigma**2*gamma/(2*k*A) * (1+gamma/k)**(1+k/gamma))``.

    Guéant, Lehalle & Fernandez-Tapia (2013), the closed-form approximation of the asymptotic
    quotes that follows their theorem on the asymptotics of the optimal quotes: each unit of
    inventory shifts both quotes by this amount, and it is also the inventory-risk part of the
    spread.
    """
    sigma = np.asarray(sigma, dtype=np.float64)
    # (1 + gamma/k)**(1 + k/gamma) via log1p: exact for tiny gamma/k, where it tends to e.
    growth = np.exp((1.0 + k / gamma) * np.log1p(gamma / k))
    return np.sqrt(sigma**2 * gamma / (2.0 * k * A) * growth)


def glft_quote_distances(
    q: ArrayLike, *, gamma: float, sigma: ArrayLike, A: float, k: float
) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form approximation of the GLFT asymptotic (``T -> infinity``) optimal quotes.

    Guéant, Lehalle & Fernandez-Tapia (2013), approximations of the asymptotic quotes::

        delta_b(q) ~ (1/gamma) ln(1 + gamma/k) + (2q + 1)/2 * c
        delta_a(q) ~ (1/gamma) ln(1 + gamma/k) - (2q - 1)/2 * c
        psi(q) = delta_b + delta_a ~ (2/gamma) ln(1 + gamma/k) + c

    with ``c = sqrt(sigma**2*gamma/(2*k*A) * (1 + gamma/k)**(1 + k/gamma))`` (:func:`glft_skew`).
    The quotes are symmetric at ``q = 0``; the paper shows that they approximate the exact
    asymptotic quotes (its spectral characterisation) well for small ``|q|`` and less well near
    the inventory bound ``Q``, which does not enter the approximation: the caller stops bidding
    at ``q = Q`` and asking at ``q = -Q``.

    Returns:
        ``(delta_bid, delta_ask)``.
    """
    base = np.log1p(gamma / k) / gamma
    c = glft_skew(gamma=gamma, sigma=sigma, A=A, k=k)
    q = np.asarray(q, dtype=np.float64)
    return base + (q + 0.5) * c, base - (q - 0.5) * c


def _skew(q: ArrayLike, tau: ArrayLike, gamma: float, sigma: ArrayLike) -> np.ndarray:
    """``q * gamma * sigma**2 * tau``: the reservation price's distance below the mid."""
    q = np.asarray(q, dtype=np.float64)
    tau = np.asarray(tau, dtype=np.float64)
    sigma = np.asarray(sigma, dtype=np.float64)
    return q * gamma * sigma**2 * tau
