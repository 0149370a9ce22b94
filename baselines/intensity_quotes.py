"""The baselines' formulas as strategies for the intensity model, in its own units.

:func:`mm_gym.market.intensity.simulate` calls a strategy as ``strategy(s, q, t)`` with mids
and inventories ``(n_paths,)`` and the time ``t``, and expects the bid and ask distances from
the mid in currency. The classes here are such callables, built from the same formulas as the
book-environment policies (:mod:`baselines.formulas`) but in the units of Avellaneda & Stoikov
(2008): prices in currency, inventory in units, time in the model's time (``T = horizon``).

Example:
    >>> from mm_gym.config import IntensityConfig
    >>> from mm_gym.market.intensity import simulate
    >>> config = IntensityConfig()
    >>> run = simulate(InventoryQuotes.from_config(0.1, config), config, n_paths=100, seed=0)
    >>> run.profit.shape
    (100,)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from baselines.formulas import (
    as_average_spread,
    as_quote_distances,
    as_spread,
    glft_quote_distances,
)
from baselines.policies import _check_model_params
from mm_gym.config import ConfigError, IntensityConfig, _check_range

__all__ = ["GLFTQuotes", "InventoryQuotes", "SymmetricQuotes"]


@dataclass(frozen=True)
class InventoryQuotes:
    """The Avellaneda-Stoikov "inventory strategy": eq. (30)'s spread around eq. (29)'s price.

    Attributes:
        gamma: Risk aversion, 1 / currency (> 0).
        sigma: Mid volatility, currency / sqrt(time).
        k: Decay of the fill intensity, 1 / currency (> 0).
        horizon: Terminal time ``T``.
    """

    gamma: float
    sigma: float
    k: float
    horizon: float

    def __post_init__(self) -> None:
        """Validate every field."""
        _check_model_params("InventoryQuotes", self.gamma, self.k, self.sigma)
        _check_range("InventoryQuotes.horizon", self.horizon, 0.0, 1e6, lo_open=True)

    @classmethod
    def from_config(cls, gamma: float, config: IntensityConfig) -> InventoryQuotes:
        """The strategy with risk aversion ``gamma`` on the market ``config``."""
        return cls(gamma=gamma, sigma=config.sigma, k=config.k, horizon=config.horizon)

    def spread(self, t: float) -> float:
        """The total quoted spread at time ``t`` (eq. (30); the same on every path)."""
        tau = max(self.horizon - t, 0.0)
        return float(as_spread(tau, gamma=self.gamma, sigma=self.sigma, k=self.k))

    def __call__(self, s: np.ndarray, q: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray]:
        """Bid and ask distances from the mid for inventories ``q`` at time ``t``."""
        tau = max(self.horizon - t, 0.0)
        return as_quote_distances(q, tau, gamma=self.gamma, sigma=self.sigma, k=self.k)


@dataclass(frozen=True)
class SymmetricQuotes:
    """A spread centred on the mid, ignoring inventory: the benchmark of AS (2008), section 3.3.

    Attributes:
        spread: Constant total spread (currency) when ``inventory`` is ``None``.
        inventory: If given, quote that strategy's spread at each time instead (centred on the
            mid), rather than a constant one.
    """

    spread: float | None = None
    inventory: InventoryQuotes | None = None

    def __post_init__(self) -> None:
        """Check that exactly one of ``spread`` and ``inventory`` is given."""
        if (self.spread is None) == (self.inventory is None):
            raise ConfigError(
                f"SymmetricQuotes needs exactly one of spread={self.spread!r} and "
                f"inventory={self.inventory!r}"
            )
        if self.spread is not None:
            _check_range("SymmetricQuotes.spread", self.spread, 0.0, 1e9)

    @classmethod
    def matching(
        cls, inventory: InventoryQuotes, mode: Literal["average", "matched"] = "average"
    ) -> SymmetricQuotes:
        """The symmetric counterpart of an inventory strategy.

        Args:
            inventory: The inventory strategy.
            mode: ``"average"``: the constant time-average over ``[0, T]`` of the inventory
                strategy's spread (:func:`baselines.formulas.as_average_spread`;
                the paper: the symmetric strategy "uses the average bid/ask spread of the
                inventory strategy over the time period, but centres it around the mid-price");
                ``"matched"``: the inventory strategy's spread at each time.
        """
        if mode == "average":
            spread = as_average_spread(
                inventory.horizon, gamma=inventory.gamma, sigma=inventory.sigma, k=inventory.k
            )
            return cls(spread=spread)
        if mode == "matched":
            return cls(inventory=inventory)
        raise ConfigError(f"mode={mode!r} is not valid: choose 'average' or 'matched'")

    def __call__(self, s: np.ndarray, q: np.ndarray, t: float) -> tuple[float, float]:
        """Half the spread on each side of the mid."""
        spread = self.spread if self.inventory is None else self.inventory.spread(t)
        assert spread is not None  # one of the two is set (checked in __post_init__)
        return 0.5 * spread, 0.5 * spread


@dataclass(frozen=True)
class GLFTQuotes:
    """The GLFT (2013) closed-form asymptotic quotes, with inventory bound ``q_max``.

    At ``q >= q_max`` the bid is withdrawn (distance ``+inf``), at ``q <= -q_max`` the ask.

    Attributes:
        gamma: Risk aversion, 1 / currency (> 0).
        sigma: Mid volatility, currency / sqrt(time).
        A: Fill intensity at distance zero, per unit of time (> 0).
        k: Decay of the fill intensity, 1 / currency (> 0).
        q_max: Inventory bound (>= 1).
    """

    gamma: float
    sigma: float
    A: float
    k: float
    q_max: int

    def __post_init__(self) -> None:
        """Validate every field."""
        _check_model_params("GLFTQuotes", self.gamma, self.k, self.sigma)
        _check_range("GLFTQuotes.A", self.A, 0.0, 1e9, lo_open=True)
        _check_range("GLFTQuotes.q_max", self.q_max, 1, 1_000_000, integer=True)

    @classmethod
    def from_config(cls, gamma: float, config: IntensityConfig, q_max: int) -> GLFTQuotes:
        """The strategy with risk aversion ``gamma`` and bound ``q_max`` on ``config``."""
        return cls(gamma=gamma, sigma=config.sigma, A=config.A, k=config.k, q_max=q_max)

    def __call__(self, s: np.ndarray, q: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray]:
        """Bid and ask distances from the mid for inventories ``q`` (time-independent)."""
        bid, ask = glft_quote_distances(q, gamma=self.gamma, sigma=self.sigma, A=self.A, k=self.k)
        return np.where(q >= self.q_max, np.inf, bid), np.where(q <= -self.q_max, np.inf, ask)
