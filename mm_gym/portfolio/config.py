"""The portfolio of ``mm_gym/Portfolio-v0``: correlation, VaR limit and hedging overlay."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from mm_gym.config import ConfigError, _check_range, _flag, _ranged, _Validated, excerpt
from mm_gym.market.params import MAX_ASSETS
from mm_gym.market.revision import MAX_CLUSTERING

__all__ = ["MAX_ASSETS", "PortfolioConfig", "check_portfolio", "correlation_matrix"]

_PSD_TOL = 1e-10  # smallest eigenvalue allowed below 0 (round-off of a singular matrix)
_SYM_TOL = 1e-12  # largest |C - C'| allowed
# The common quote revisions' defaults (README, "Several assets", how they were chosen):
REVISION_TICKS = 0.75  # revisions' std per step, ticks
REVISION_PROB = 0.1  # probability of a revision each step
BOOK_VARIANCE_TICKS2 = 0.15  # an asset's own mid variance per step at 50 steps, ticks^2
ROUNDING_VARIANCE_TICKS2 = 1.0 / 6.0  # a dithered revision's rounding, mean of f (1 - f)
REVISION_CLUSTER_STEPS = (30.0, 300.0)  # time scales of the news intensity's two components
REVISION_CLUSTERING = 1.0  # the log news intensity's std (README, "Several assets": 10/10 facts)


def correlation_matrix(value: Any, n_assets: int) -> np.ndarray:
    """The ``(n_assets, n_assets)`` correlation matrix a :class:`PortfolioConfig` holds.

    Args:
        value: A number ``rho`` (every pair of assets has correlation ``rho``) or a nested
            sequence of ``n_assets`` rows of ``n_assets`` numbers.
        n_assets: The number of assets.

    Raises:
        ConfigError: Naming ``portfolio.correlation``, the value and the rule broken: shape
            ``n_assets x n_assets``, finite numbers in [-1, 1], symmetric, unit diagonal,
            positive semi-definite (smallest eigenvalue >= 0).
    """
    name = "portfolio.correlation"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        _check_range(name, value, -1.0, 1.0)
        c = np.full((n_assets, n_assets), float(value))
        np.fill_diagonal(c, 1.0)
    else:
        try:
            c = np.array(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise ConfigError(
                f"{name}={excerpt(value)} must be a number or a {n_assets}x{n_assets} matrix "
                "(a list of rows)"
            ) from None
        if c.shape != (n_assets, n_assets):
            raise ConfigError(
                f"{name}={excerpt(value)} has shape {c.shape}; must be {n_assets}x{n_assets} "
                f"(portfolio.n_assets={n_assets})"
            )
    if not np.isfinite(c).all() or (np.abs(c) > 1.0).any():
        raise ConfigError(f"{name}={excerpt(value)} must hold finite numbers in [-1, 1]")
    if np.abs(c - c.T).max() > _SYM_TOL:
        i, j = np.unravel_index(int(np.argmax(np.abs(c - c.T))), c.shape)
        raise ConfigError(
            f"{name}={excerpt(value)} must be symmetric: entry [{i}][{j}] is {c[i, j]:g}, "
            f"[{j}][{i}] is {c[j, i]:g}"
        )
    if (np.diagonal(c) != 1.0).any():
        k = int(np.argmax(np.diagonal(c) != 1.0))
        raise ConfigError(
            f"{name}={excerpt(value)} must have a unit diagonal: entry [{k}][{k}] is {c[k, k]:g}"
        )
    low = float(np.linalg.eigvalsh(c).min())
    if low < -_PSD_TOL:
        raise ConfigError(
            f"{name}={excerpt(value)} must be positive semi-definite: its smallest eigenvalue "
            f"is {low:.3g} < 0"
        )
    return c


@dataclass(frozen=True)
class PortfolioConfig(_Validated, prefix="portfolio."):
    """The portfolio of ``mm_gym/Portfolio-v0`` (:mod:`mm_gym.portfolio.env`).

    Every asset trades on the same market config and the same venues; the assets differ by
    their random streams, and their fundamentals' innovations are correlated.

    Attributes:
        n_assets: Number of assets ``A`` (1 to :data:`MAX_ASSETS`).
        correlation: Correlation of the assets' fundamental innovations: a number (every pair)
            or an ``A x A`` matrix (symmetric, unit diagonal, positive semi-definite); see
            :func:`correlation_matrix`.
        var_level: Confidence level of the VaRs, in (0.5, 1).
        var_horizon_steps: Horizon of the delta-normal VaR, steps (square-root-of-time rule).
        var_limit: mm1's limit on the delta-normal VaR of its portfolio, currency; a step that
            ends with the VaR above it is a breach.
        cov_halflife_steps: Half-life of the EWMA covariance of the assets' one-step returns.
        cov_min_steps: Steps of an episode before the VaR is measured (the covariance needs a
            few returns); until then the VaR is 0 and the overlay idle.
        hist_window_steps: Window of the historical VaR and expected shortfall of the per-step
            portfolio PnL, steps (they are 0 in an episode's first ``cov_min_steps`` steps).
        hedge: The hedging overlay: at the end of a step whose VaR exceeds ``var_limit``, mm1
            (with two learning makers, each maker whose own VaR does) sends marketable orders
            (:func:`mm_gym.portfolio.risk.hedge_orders`), each asset's on the venue with the
            lowest taker cost, until the VaR is back under the limit.
        hedge_limit_ticks: A hedge order's limit price, ticks through the asset's consolidated
            mid: it walks the book no further (what it cannot fill there is dropped).
        revision_ticks: Under the ``"book"`` price formation with two or more assets, the
            standard deviation per step of the common quote revisions that carry the
            correlation to the prices (:mod:`mm_gym.market.revision`), ticks; 0 turns them
            off (the prices are then about uncorrelated). Unused under ``"legacy"``.
        revision_prob: The probability of a revision each step (every asset revises on the
            same steps; a revision's std is ``revision_ticks / sqrt(revision_prob)``): rarer,
            larger revisions round less per step.
        revision_pegging: Whether the makers' resting orders move with a revision (pegged: they
            keep their queue and are never filled by it, so news costs a maker nothing).
            False (the default): they keep their prices, and one the revised book's opposite
            side reaches is picked off, filled whole at its own price
            (:mod:`mm_gym.market.revision`; README, "Several assets", for the measured cost).
        revision_clustering: The standard deviation of the log news intensity, common to
            the portfolio, that scales the revision probability step by step (two log-OU
            components of time scales :data:`REVISION_CLUSTER_STEPS`, mean probability
            ``revision_prob``), so that news, and the mids' volatility, cluster in time; in
            [0, 3], and above 0 it needs ``revision_prob < 1``; default 1. 0: revisions
            independent across steps (the rule before, bit for bit). The expected revision
            variance per step and the correlation's calibration do not depend on it
            (:mod:`mm_gym.market.revision`).
        book_variance_ticks2: The variance per step of an asset's mid without revisions
            (the book's own, idiosyncratic moves) over the 50-step horizon the correlation
            is calibrated at, ticks squared (default: measured at the default preset and
            venues). The revisions' correlation is the configured one divided by
            :attr:`max_correlation` so that the mids' correlation is the configured one
            (:meth:`revision_matrix`).
    """

    n_assets: int = _ranged(2, 1, MAX_ASSETS, integer=True)
    correlation: Any = 0.6
    var_level: float = _ranged(0.99, 0.5, 1.0, lo_open=True, hi_open=True)
    var_horizon_steps: float = _ranged(1.0, 0.0, 1e6, lo_open=True)
    var_limit: float = _ranged(33.0, 0.0, 1e15, lo_open=True)  # 16 lots' VaR (README)
    cov_halflife_steps: float = _ranged(100.0, 1.0, 1e6)
    cov_min_steps: int = _ranged(20, 2, 1_000_000, integer=True)
    hist_window_steps: int = _ranged(250, 2, 100_000, integer=True)
    hedge: bool = _flag(False)
    hedge_limit_ticks: int = _ranged(10, 1, 10_000, integer=True)
    revision_ticks: float = _ranged(REVISION_TICKS, 0.0, 100.0)
    revision_prob: float = _ranged(REVISION_PROB, 0.0, 1.0, lo_open=True)
    revision_pegging: bool = _flag(False)
    revision_clustering: float = _ranged(REVISION_CLUSTERING, 0.0, MAX_CLUSTERING)
    book_variance_ticks2: float = _ranged(BOOK_VARIANCE_TICKS2, 0.0, 1e4)

    def _check_together(self) -> None:
        correlation_matrix(self.correlation, self.n_assets)
        if self.revision_clustering > 0.0 and self.revision_prob >= 1.0:
            raise ConfigError(
                f"portfolio.revision_clustering={self.revision_clustering!r} needs "
                f"portfolio.revision_prob < 1 (it is {self.revision_prob!r}): a revision "
                "every step leaves no room to cluster"
            )

    @property
    def matrix(self) -> np.ndarray:
        """The ``A x A`` correlation matrix (a copy)."""
        return correlation_matrix(self.correlation, self.n_assets)

    def cholesky(self) -> np.ndarray:
        """A lower-triangular ``L`` with ``L L' =`` :attr:`matrix` (semi-definite ones too).

        Row ``a`` is asset ``a``'s :class:`~mm_gym.market.MarketSimulator` ``correlation``.
        """
        return _cholesky(self.matrix)

    @property
    def max_correlation(self) -> float:
        """The largest ``|correlation|`` the revisions can carry to the mids.

        ``s2 / (s2 + book_variance_ticks2 + revision_prob / 6)``, ``s2 = revision_ticks**2``:
        the share of a mid's variance per step at the calibration horizon that the revisions'
        common part makes; the other parts, the book's own moves and the revisions' rounding
        (1/6 per revision on average), are independent across assets. 0 without revisions.
        """
        common = self.revision_ticks**2
        own = self.book_variance_ticks2 + self.revision_prob * ROUNDING_VARIANCE_TICKS2
        return common / (common + own) if common > 0.0 else 0.0

    def revision_matrix(self) -> np.ndarray:
        """The revisions' correlation matrix: :attr:`matrix`, off the diagonal scaled up.

        Each off-diagonal entry is divided by :attr:`max_correlation`.
        A mid's change over the calibration horizon is its revisions' common part (variance
        ``revision_ticks**2`` per step) plus parts independent of it and of the other assets'
        (the book's own, ``book_variance_ticks2``, and the revisions' rounding), so two mids
        whose revisions have correlation ``rho_e`` have correlation ``rho_e *
        max_correlation``.

        Raises:
            ConfigError: Naming ``portfolio.correlation`` if an entry exceeds
                :attr:`max_correlation` in magnitude or the scaled matrix is not positive
                semi-definite (raise ``revision_ticks`` to reach further, at a more volatile
                mid), or ``portfolio.revision_ticks`` if it is 0.
        """
        name = "portfolio.correlation"
        if self.revision_ticks <= 0.0:
            raise ConfigError(
                f"portfolio.revision_ticks={self.revision_ticks!r}: no revisions to correlate"
            )
        c = self.matrix
        reach = self.max_correlation
        off = ~np.eye(self.n_assets, dtype=bool)
        if (np.abs(c[off]) > reach).any():
            worst = float(np.abs(c[off]).max())
            raise ConfigError(
                f"{name}={excerpt(self.correlation)} has an entry of magnitude {worst:g}; with "
                f"portfolio.revision_ticks={self.revision_ticks:g} and book_variance_ticks2="
                f"{self.book_variance_ticks2:g} the mids can be correlated up to "
                f"{reach:.3f} in magnitude (raise revision_ticks to reach further)"
            )
        e = np.where(off, c / reach, 1.0)
        low = float(np.linalg.eigvalsh(e).min())
        if low < -_PSD_TOL:
            raise ConfigError(
                f"{name}={excerpt(self.correlation)}: the revisions' matrix (its off-diagonal "
                f"entries divided by {reach:.3f}, portfolio.max_correlation) is not positive "
                f"semi-definite (smallest eigenvalue {low:.3g}); raise revision_ticks"
            )
        return e

    def revision_cholesky(self) -> np.ndarray:
        """A lower-triangular ``L`` with ``L L' =`` :meth:`revision_matrix` (raises as it)."""
        return _cholesky(self.revision_matrix())


def _cholesky(c: np.ndarray) -> np.ndarray:
    """Lower-triangular ``L`` with ``L L' = c``, ``c`` positive semi-definite."""
    try:
        return np.linalg.cholesky(c)
    except np.linalg.LinAlgError:  # singular (e.g. correlation 1): LDL' with D >= 0
        return _semidefinite_cholesky(c)


def _semidefinite_cholesky(c: np.ndarray) -> np.ndarray:
    """Lower-triangular ``L`` with ``L L' = c`` for a positive semi-definite ``c``."""
    n = c.shape[0]
    low = np.zeros_like(c)
    for j in range(n):
        d = c[j, j] - low[j, :j] @ low[j, :j]
        low[j, j] = np.sqrt(max(d, 0.0))
        for i in range(j + 1, n):
            r = c[i, j] - low[i, :j] @ low[j, :j]
            low[i, j] = r / low[j, j] if low[j, j] > 1e-12 else 0.0
    return low


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def check_portfolio(portfolio: Any) -> PortfolioConfig:
    """``portfolio`` as a :class:`PortfolioConfig` (a mapping of its fields is accepted).

    Raises:
        ConfigError: For a value neither a PortfolioConfig nor a mapping, an unknown key, or an
            invalid field (named ``portfolio.<field>``).
    """
    if portfolio is None:
        return PortfolioConfig()
    if isinstance(portfolio, PortfolioConfig):
        return portfolio
    if not isinstance(portfolio, Mapping):
        raise ConfigError(
            f"portfolio={excerpt(portfolio)} must be a PortfolioConfig or a mapping of its fields"
        )
    keys = {f.name for f in fields(PortfolioConfig)}
    unknown = sorted(set(portfolio) - keys)
    if unknown:
        raise ConfigError(f"portfolio has unknown key {unknown[0]!r}; valid keys: {sorted(keys)}")
    values = dict(portfolio)
    if _is_list(values.get("correlation")):  # rows as tuples: the config stays hashable
        values["correlation"] = tuple(
            tuple(row) if _is_list(row) else row for row in values["correlation"]
        )
    return PortfolioConfig(**values)
