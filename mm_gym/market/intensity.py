"""The intensity (no-book) market of Avellaneda & Stoikov (2008), batched over paths.

Model (Avellaneda & Stoikov, "High-frequency trading in a limit order book", Quantitative
Finance 8(3), 2008, sections 2 and 3.3), per step of length ``dt``, for every path at once:

1. **Quotes.** The maker quotes a bid at ``s - delta_bid`` and an ask at ``s + delta_ask``
   around the current mid ``s`` (distances in currency, one unit each side).
2. **Fills.** The bid is hit with probability ``A * exp(-k * delta_bid) * dt``, the ask is
   lifted with probability ``A * exp(-k * delta_ask) * dt``, independently; a fill is one unit
   at the quoted price. This is the paper's "with probability lambda * dt" read literally: it is
   what reproduces its tables (with ``A * dt = 0.7`` the exact Poisson probability
   ``1 - exp(-lambda * dt)`` is noticeably smaller; ``fill_model="poisson"`` selects it).
3. **Accounting.** A bid fill adds one unit and pays the bid price; an ask fill removes one
   unit and receives the ask price.
4. **Mid.** The mid moves ``+sigma * sqrt(dt)`` or ``-sigma * sqrt(dt)`` with equal
   probability, independently of everything else.

Profit at the horizon is ``cash + q * s`` (:attr:`IntensityMarket.wealth`).

Quotes through the mid. A negative distance (a bid above the mid, which the reservation price
of eq. (29) produces at large inventory) is *not* clipped: the formula is applied as is and the
fill probability is capped at 1, and the fill happens at the quoted price (a loss against the
mid). This is what the paper's tables need: at ``gamma = 1`` about 4 % of the inventory
strategy's quotes are through the mid, and on 20,000 paths this model gives a mean profit of
31.4 (published: 31.4), whereas clipping the distances at zero gives 38.2. (At ``gamma = 0.1``
it is 0.07 % of quotes and makes no visible difference.) ``+inf`` means "no quote on that
side" (probability 0); NaN and ``-inf`` are rejected.

Randomness. :meth:`IntensityMarket.reset` splits its seed into two independent child streams:
child 0 draws the mid path (one uniform per path per step), child 1 the fill uniforms (two per
path per step, bid then ask). Both are consumed in a fixed pattern whatever the quotes, so two
strategies run with the same seed see the same mid path and the same fill uniforms (common
random numbers): the comparison measures the strategies, not the luck of the draw.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np

from mm_gym.config import ConfigError, IntensityConfig, is_integer

__all__ = [
    "FILL_MODELS",
    "IntensityMarket",
    "IntensityRun",
    "IntensityStep",
    "IntensityStrategy",
    "simulate",
]

FILL_MODELS: tuple[str, ...] = ("linear", "poisson")
"""``"linear"``: ``min(1, lambda * dt)`` (the paper); ``"poisson"``: ``1 - exp(-lambda * dt)``."""

SeedLike = int | np.random.SeedSequence | np.random.Generator | None

IntensityStrategy = Callable[
    [np.ndarray, np.ndarray, float], tuple[np.ndarray | float, np.ndarray | float]
]
"""``strategy(s, q, t) -> (delta_bid, delta_ask)``: mids ``(n,)``, inventories ``(n,)``, the
current time, to distances from the mid in currency (arrays ``(n,)`` or scalars)."""

# exp() argument cap: A*dt*exp(700) is far above 1 for any sensible A*dt, and exp(700) is finite.
_MAX_EXPONENT = 700.0


class IntensityStep(NamedTuple):
    """What happened in one step, per path (all arrays ``(n_paths,)``).

    Attributes:
        bid_filled: Whether the bid was hit.
        ask_filled: Whether the ask was lifted.
        bid_price: The quoted bid price (``s - delta_bid`` at the start of the step).
        ask_price: The quoted ask price (``s + delta_ask`` at the start of the step).
    """

    bid_filled: np.ndarray
    ask_filled: np.ndarray
    bid_price: np.ndarray
    ask_price: np.ndarray


class IntensityMarket:
    """``n_paths`` independent copies of the Avellaneda-Stoikov intensity market.

    All paths advance in lockstep; the state is held in arrays of shape ``(n_paths,)``.

    Args:
        config: The model parameters (``s0, horizon, sigma, dt, k, A, q0``).
        n_paths: Number of paths simulated at once.
        fill_model: ``"linear"`` (the paper, default) or ``"poisson"``; see :data:`FILL_MODELS`.
        inventory_limit: Optional bound on ``|q|``: at ``q >= limit`` bids are not filled, at
            ``q <= -limit`` asks are not filled (the paper has no bound; ``None``).

    Attributes:
        config: The model parameters.
        n_paths: Number of paths.
        n_steps: Steps per episode, ``round(horizon / dt)``.
        s: Mids, float64 ``(n_paths,)``.
        q: Inventories in units, int64 ``(n_paths,)``.
        cash: Cash, float64 ``(n_paths,)``.
        bid_fills: Bid fills so far, int64 ``(n_paths,)``.
        ask_fills: Ask fills so far, int64 ``(n_paths,)``.
        step_index: Steps taken since :meth:`reset` (the same for all paths).

    Example:
        >>> from mm_gym.config import IntensityConfig
        >>> market = IntensityMarket(IntensityConfig(), n_paths=4)
        >>> market.reset(seed=0)
        >>> while not market.done:
        ...     _ = market.step(0.75, 0.75)
        >>> market.wealth.shape
        (4,)
    """

    def __init__(
        self,
        config: IntensityConfig,
        n_paths: int,
        *,
        fill_model: Literal["linear", "poisson"] = "linear",
        inventory_limit: int | None = None,
    ) -> None:
        """Allocate the state arrays; call :meth:`reset` before stepping."""
        if not isinstance(config, IntensityConfig):
            raise ConfigError(f"config={config!r} must be an IntensityConfig")
        if not is_integer(n_paths) or n_paths < 1:
            raise ConfigError(f"n_paths={n_paths!r} must be an integer >= 1")
        if fill_model not in FILL_MODELS:
            raise ConfigError(
                f"fill_model={fill_model!r} is not valid: choose one of {FILL_MODELS}"
            )
        if inventory_limit is not None and (not is_integer(inventory_limit) or inventory_limit < 1):
            raise ConfigError(
                f"inventory_limit={inventory_limit!r} must be None or an integer >= 1"
            )
        self.config = config
        self.n_paths = int(n_paths)
        self.n_steps = config.n_steps
        self.fill_model = fill_model
        self.inventory_limit = None if inventory_limit is None else int(inventory_limit)
        self._dt = config.dt
        self._a_dt = config.A * config.dt
        self._k = config.k
        self._ds = config.sigma * math.sqrt(config.dt)
        n = self.n_paths
        self.s = np.full(n, config.s0, dtype=np.float64)
        self.q = np.full(n, config.q0, dtype=np.int64)
        self.cash = np.zeros(n, dtype=np.float64)
        self.bid_fills = np.zeros(n, dtype=np.int64)
        self.ask_fills = np.zeros(n, dtype=np.int64)
        self.step_index = 0
        self._mid_rng: np.random.Generator | None = None
        self._fill_rng: np.random.Generator | None = None

    # ------------------------------------------------------------------ state views

    @property
    def t(self) -> float:
        """Current time ``step_index * dt``."""
        return self.step_index * self._dt

    @property
    def time_left(self) -> float:
        """Time to the horizon, ``T - t`` (never negative)."""
        return max(self.config.horizon - self.t, 0.0)

    @property
    def done(self) -> bool:
        """Whether the horizon has been reached."""
        return self.step_index >= self.n_steps

    @property
    def wealth(self) -> np.ndarray:
        """Mark-to-market wealth ``cash + q * s`` per path (the profit at the horizon)."""
        return self.cash + self.q * self.s

    @property
    def fills(self) -> np.ndarray:
        """Total fills so far per path (bid + ask)."""
        return self.bid_fills + self.ask_fills

    # ------------------------------------------------------------------ dynamics

    def reset(self, seed: SeedLike = None) -> None:
        """Start new episodes on all paths.

        Args:
            seed: An int, a ``SeedSequence`` or a ``Generator`` (its two children are spawned),
                or ``None`` for fresh entropy. Child stream 0 drives the mid, child 1 the fills.
        """
        if isinstance(seed, np.random.Generator):
            mid_rng, fill_rng = seed.spawn(2)
        else:
            if seed is not None and not isinstance(seed, np.random.SeedSequence):
                if not is_integer(seed) or seed < 0:
                    raise ConfigError(f"seed={seed!r} must be None or an integer >= 0")
            root = (
                seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
            )
            mid_ss, fill_ss = root.spawn(2)
            mid_rng, fill_rng = np.random.default_rng(mid_ss), np.random.default_rng(fill_ss)
        self._mid_rng, self._fill_rng = mid_rng, fill_rng
        self.s.fill(self.config.s0)
        self.q.fill(self.config.q0)
        self.cash.fill(0.0)
        self.bid_fills.fill(0)
        self.ask_fills.fill(0)
        self.step_index = 0

    def fill_probability(self, delta: np.ndarray) -> np.ndarray:
        """Per-step fill probability of a quote at distance ``delta`` from the mid."""
        rate_dt = self._a_dt * np.exp(np.minimum(-self._k * delta, _MAX_EXPONENT))
        if self.fill_model == "linear":
            return np.minimum(rate_dt, 1.0)
        return -np.expm1(-rate_dt)

    def step(self, delta_bid: np.ndarray | float, delta_ask: np.ndarray | float) -> IntensityStep:
        """Quote, fill, account, then move the mid (the order of the module docstring).

        Args:
            delta_bid: Distance of the bid below the mid, currency, scalar or ``(n_paths,)``.
            delta_ask: Distance of the ask above the mid, currency, scalar or ``(n_paths,)``.

        Returns:
            The fills and quoted prices of this step.

        Raises:
            RuntimeError: Before :meth:`reset` or after the horizon.
            ValueError: On a NaN or ``-inf`` distance or a shape that does not broadcast.
        """
        if self._mid_rng is None or self._fill_rng is None:
            raise RuntimeError("IntensityMarket.step() called before reset()")
        if self.step_index >= self.n_steps:
            raise RuntimeError(
                f"IntensityMarket.step() called after the horizon ({self.n_steps} steps); "
                "call reset()"
            )
        n = self.n_paths
        db = _as_distance("delta_bid", delta_bid, n)
        da = _as_distance("delta_ask", delta_ask, n)
        # Both streams are consumed in a fixed pattern whatever the quotes (common random numbers).
        u = self._fill_rng.random((2, n))
        up = self._mid_rng.random(n) < 0.5
        bid_filled = u[0] < self.fill_probability(db)
        ask_filled = u[1] < self.fill_probability(da)
        if self.inventory_limit is not None:
            bid_filled &= self.q < self.inventory_limit
            ask_filled &= self.q > -self.inventory_limit
        s = self.s
        bid_price = s - db
        ask_price = s + da
        self.cash += np.where(ask_filled, ask_price, 0.0) - np.where(bid_filled, bid_price, 0.0)
        self.q += bid_filled
        self.q -= ask_filled
        self.bid_fills += bid_filled
        self.ask_fills += ask_filled
        # AS (2008) section 3.3: the mid moves up or down by sigma*sqrt(dt) with equal probability.
        s += np.where(up, self._ds, -self._ds)
        self.step_index += 1
        return IntensityStep(bid_filled, ask_filled, bid_price, ask_price)


def _as_distance(name: str, value: np.ndarray | float, n: int) -> np.ndarray:
    """Broadcast a distance to ``(n,)`` float64 and reject NaN and ``-inf``."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != (n,):
        try:
            arr = np.broadcast_to(arr, (n,))
        except ValueError:
            raise ValueError(f"{name} has shape {arr.shape}; expected a scalar or ({n},)") from None
    # NaN > -inf is False, so this one comparison rejects both NaN and -inf.
    if not np.all(arr > -np.inf):
        bad = arr[~(arr > -np.inf)][0]
        raise ValueError(f"{name} contains {bad!r}: distances must be finite or +inf (no quote)")
    return arr


@dataclass(frozen=True)
class IntensityRun:
    """The outcome of :func:`simulate` (arrays ``(n_paths,)``).

    Attributes:
        profit: ``cash + q * s`` at the horizon.
        final_q: Inventory at the horizon.
        final_s: Mid at the horizon.
        mean_spread: Time-average of the quoted total spread ``delta_bid + delta_ask`` per path
            (steps with a missing side are left out of a path's average; NaN if none).
        bid_fills: Bid fills per path.
        ask_fills: Ask fills per path.
        s_path: Mids ``(n_steps + 1, n_paths)`` if ``record=True``, else ``None``.
        q_path: Inventories ``(n_steps + 1, n_paths)`` if ``record=True``, else ``None``.
    """

    profit: np.ndarray
    final_q: np.ndarray
    final_s: np.ndarray
    mean_spread: np.ndarray
    bid_fills: np.ndarray
    ask_fills: np.ndarray
    s_path: np.ndarray | None = None
    q_path: np.ndarray | None = None


def simulate(
    strategy: IntensityStrategy,
    config: IntensityConfig,
    n_paths: int,
    seed: SeedLike = None,
    *,
    fill_model: Literal["linear", "poisson"] = "linear",
    inventory_limit: int | None = None,
    record: bool = False,
) -> IntensityRun:
    """Run ``strategy`` on ``n_paths`` paths of the intensity market from 0 to the horizon.

    Args:
        strategy: ``strategy(s, q, t) -> (delta_bid, delta_ask)`` in currency (see
            :data:`IntensityStrategy`), called once per step before the fills.
        config: The model parameters.
        n_paths: Number of paths.
        seed: Passed to :meth:`IntensityMarket.reset`; the same seed gives the same mid path and
            fill uniforms to every strategy.
        fill_model: ``"linear"`` (the paper) or ``"poisson"``.
        inventory_limit: Optional bound on ``|q|`` (see :class:`IntensityMarket`).
        record: Also return the mid and inventory paths.

    Returns:
        Profits, final inventories and mids, average quoted spreads and fill counts per path.
    """
    market = IntensityMarket(
        config, n_paths, fill_model=fill_model, inventory_limit=inventory_limit
    )
    market.reset(seed)
    spread_sum = np.zeros(market.n_paths)
    spread_count = np.zeros(market.n_paths, dtype=np.int64)
    s_path = q_path = None
    if record:
        s_path = np.empty((market.n_steps + 1, market.n_paths))
        q_path = np.empty((market.n_steps + 1, market.n_paths), dtype=np.int64)
        s_path[0], q_path[0] = market.s, market.q
    for j in range(market.n_steps):
        db, da = strategy(market.s, market.q, market.t)
        total = np.asarray(db, dtype=np.float64) + np.asarray(da, dtype=np.float64)
        quoted = np.isfinite(total)
        spread_sum += np.where(quoted, total, 0.0)
        spread_count += quoted
        market.step(db, da)
        if record:
            assert s_path is not None and q_path is not None
            s_path[j + 1], q_path[j + 1] = market.s, market.q
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_spread = np.where(spread_count > 0, spread_sum / np.maximum(spread_count, 1), np.nan)
    return IntensityRun(
        profit=market.wealth,
        final_q=market.q.copy(),
        final_s=market.s.copy(),
        mean_spread=mean_spread,
        bid_fills=market.bid_fills.copy(),
        ask_fills=market.ask_fills.copy(),
        s_path=s_path,
        q_path=q_path,
    )
