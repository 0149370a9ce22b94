"""A smart order router that learns each venue's value per lot from the maker's own fills.

One of the scripted building blocks of issue #15 (multi-venue market making); no environment
uses it yet. Batched over ``n`` environments and ``V`` venues, numpy only.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mm_gym.config import _check_range
from mm_gym.portfolio.risk import env_mask

__all__ = ["VenueRouter"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

# Fields of a fill waiting for its adverse-selection horizon, in record order.
_PENDING_FIELDS = ("step", "env", "venue", "side", "price", "mid", "lots", "rebate")


def _fill_columns(named: dict[str, ArrayLike]) -> dict[str, np.ndarray]:
    """:meth:`VenueRouter.record_fills`' arrays, checked real and finite, broadcast to one length.

    Raises:
        ValueError: If an array is not 1-D (or a scalar), not real, not finite, or the 1-D ones
            differ in length (the message names the argument).
    """
    arrays = {}
    for name, x in named.items():
        a = np.asarray(x)
        if a.ndim > 1:
            raise ValueError(f"VenueRouter.record_fills: {name} must be 1-D, got {a.shape}")
        if not (
            np.issubdtype(a.dtype, np.number) and not np.issubdtype(a.dtype, np.complexfloating)
        ):
            raise ValueError(
                f"VenueRouter.record_fills: {name} must be real numbers, got dtype {a.dtype}"
            )
        if not np.isfinite(a).all():
            raise ValueError(f"VenueRouter.record_fills: {name} must be finite")
        arrays[name] = a
    lengths = {a.shape[0] for a in arrays.values() if a.ndim == 1}
    if len(lengths) > 1:
        shapes = {k: a.shape for k, a in arrays.items()}
        raise ValueError(f"VenueRouter.record_fills: the fill arrays differ in length: {shapes}")
    length = lengths.pop() if lengths else 1
    return {k: np.broadcast_to(a, (length,)) for k, a in arrays.items()}


def _fill_indices(a: np.ndarray, name: str, hi: int) -> IntArray:
    """The index array ``a`` of :meth:`VenueRouter.record_fills` as int64, checked in [0, hi)."""
    if not np.all(a == np.round(a)) or (a < 0).any() or (a >= hi).any():
        raise ValueError(
            f"VenueRouter.record_fills: {name} must be integers in [0, {hi}), got "
            f"{a[(a != np.round(a)) | (a < 0) | (a >= hi)][0].item()!r}"
        )
    return a.astype(np.int64)


class VenueRouter:
    """Learns the expected value per lot of quoting on each venue and routes quotes to the best.

    Issue #15's smart router: "learns each venue's expected value per lot from its own fills
    (spread capture + rebate - adverse selection measured as the mid move after the fill, as an
    exponentially weighted average, with exploration) and quotes on the top k venues,
    allocating size by visible depth".

    **Value of a fill**, ticks per lot. A fill at step ``t`` on venue ``v``, where the maker
    traded ``side`` (+1: the maker bought at its bid, -1: it sold at its ask) at
    ``price_ticks`` while the venue's mid was ``mid_ticks``, and ``mid_H`` is the venue's mid at
    the first :meth:`observe_mid` at or after step ``t + adverse_horizon_steps``::

        spread_capture = side * (mid_ticks - price_ticks)     (> 0 for a maker at a fair quote)
        adverse        = side * (mid_ticks - mid_H)           (> 0 when the mid moved against it)
        value          = spread_capture + rebate_ticks - adverse
                       = side * (mid_H - price_ticks) + rebate_ticks

    i.e. the fill's mark-out at the horizon plus its maker rebate (ticks per lot; negative for a
    maker fee).

    **Estimate**, per (environment, venue). When a fill's horizon has passed, its value enters
    an exponentially weighted average over that venue's fills, each weighted by its lots, the
    older ones decayed by ``lambda = 0.5^(1 / halflife_fills)`` per newer fill::

        S <- lambda S + lots * value,   W <- lambda W + lots,   expected_value = S / W

    Dividing by ``W`` (the weights actually given) leaves the first fills unbiased. Before a
    venue's first resolved fill its estimate is NaN: there is no prior.

    **Choice** (:meth:`choose`): each environment, with probability ``explore``, picks
    ``top_k`` venues uniformly at random; otherwise the ``top_k`` venues with the highest
    estimate, venues without an estimate first (so every venue is tried), ties broken at random.
    A venue stays "without an estimate" until its first fill's horizon has passed, so a new
    venue is chosen for at least ``adverse_horizon_steps`` steps after its first fill.

    **Size** (:meth:`allocate`): an environment's lots are split over its chosen venues in
    proportion to their visible depth (largest-remainder rounding, summing exactly to the
    total); with no visible depth on any chosen venue, all go to the best chosen venue.

    All randomness comes from the router's own ``numpy.random.Generator`` seeded by ``seed``:
    the same calls give the same choices.

    Args:
        n_envs: Number of environments, >= 1.
        n_venues: Number of venues ``V``, >= 1.
        halflife_fills: Half-life of the estimate's weights, in fills, > 0.
        adverse_horizon_steps: Steps after a fill at which its mid move is measured, >= 0.
        explore: Probability that an environment picks its venues at random, in [0, 1].
        top_k: Number of venues chosen per environment, in [1, n_venues].
        seed: Seed of the router's random generator, an integer >= 0.

    Raises:
        ConfigError: If an argument is out of range (the message names it).
    """

    def __init__(
        self,
        n_envs: int,
        n_venues: int,
        *,
        halflife_fills: float = 50.0,
        adverse_horizon_steps: int = 10,
        explore: float = 0.05,
        top_k: int = 1,
        seed: int = 0,
    ) -> None:
        """Make a router with no estimates and no pending fills."""
        _check_range("VenueRouter.n_envs", n_envs, 1, None, integer=True)
        _check_range("VenueRouter.n_venues", n_venues, 1, None, integer=True)
        _check_range("VenueRouter.halflife_fills", halflife_fills, 0.0, None, lo_open=True)
        _check_range(
            "VenueRouter.adverse_horizon_steps", adverse_horizon_steps, 0, None, integer=True
        )
        _check_range("VenueRouter.explore", explore, 0.0, 1.0)
        _check_range("VenueRouter.top_k", top_k, 1, n_venues, integer=True)
        _check_range("VenueRouter.seed", seed, 0, None, integer=True)
        self.n_envs = int(n_envs)
        self.n_venues = int(n_venues)
        self.halflife_fills = float(halflife_fills)
        self.adverse_horizon_steps = int(adverse_horizon_steps)
        self.explore = float(explore)
        self.top_k = int(top_k)
        self.seed = int(seed)
        self.decay = 0.5 ** (1.0 / self.halflife_fills)
        self._rng = np.random.default_rng(self.seed)
        shape = (self.n_envs, self.n_venues)
        self._sum = np.zeros(shape)  # S: decayed sum of lots * value
        self._weight = np.zeros(shape)  # W: decayed sum of lots
        self._n_resolved = np.zeros(shape, dtype=np.int64)
        self._pending: dict[str, np.ndarray] = self._empty_pending()
        self._last_step: int | None = None
        self._chosen: BoolArray | None = None

    # ----------------------------------------------------------------------- fills

    @staticmethod
    def _empty_pending() -> dict[str, np.ndarray]:
        ints = ("step", "env", "venue", "side")
        return {
            f: np.zeros(0, dtype=np.int64 if f in ints else np.float64) for f in _PENDING_FIELDS
        }

    def _step(self, step: Any, method: str) -> int:
        try:
            s = operator.index(step)
        except TypeError:
            s = -1
        if s < 0:
            raise ValueError(f"VenueRouter.{method}: step={step!r} must be an integer >= 0")
        if self._last_step is not None and s < self._last_step:
            raise ValueError(
                f"VenueRouter.{method}: step={s} is before the last observed step "
                f"{self._last_step}; steps must not go back"
            )
        return s

    def record_fills(
        self,
        step: int,
        env_idx: ArrayLike,
        venue: ArrayLike,
        side: ArrayLike,
        price_ticks: ArrayLike,
        mid_ticks: ArrayLike,
        lots: ArrayLike,
        rebate_ticks: ArrayLike,
    ) -> None:
        """Record the maker's fills of one step; they are valued once their horizon has passed.

        The array arguments are 1-D of one common length (any number of fills, 0 included); a
        scalar is broadcast to it.

        Args:
            step: The step of the fills, an integer >= 0, not before the last
                :meth:`observe_mid` step.
            env_idx: Environment of each fill, in [0, n_envs).
            venue: Venue of each fill, in [0, n_venues).
            side: +1 if the maker bought (its bid was hit), -1 if it sold.
            price_ticks: Fill price, ticks.
            mid_ticks: The venue's mid at the fill, ticks.
            lots: Fill size, lots, > 0.
            rebate_ticks: Maker rebate, ticks per lot (negative for a maker fee).

        Raises:
            ValueError: On mismatched lengths, NaN/inf, or a value out of range (the message
                names the argument).
        """
        s = self._step(step, "record_fills")
        b = _fill_columns(
            {
                "env_idx": env_idx,
                "venue": venue,
                "side": side,
                "price_ticks": price_ticks,
                "mid_ticks": mid_ticks,
                "lots": lots,
                "rebate_ticks": rebate_ticks,
            }
        )
        env = _fill_indices(b["env_idx"], "env_idx", self.n_envs)
        ven = _fill_indices(b["venue"], "venue", self.n_venues)
        if not np.isin(b["side"], (1, -1)).all():
            raise ValueError("VenueRouter.record_fills: side must be +1 or -1")
        if (b["lots"] <= 0).any():
            smallest = b["lots"].min().item()
            raise ValueError(f"VenueRouter.record_fills: lots must be > 0, got {smallest!r}")
        k = b["side"].size
        new = {
            "step": np.full(k, s, dtype=np.int64),
            "env": env,
            "venue": ven,
            "side": b["side"].astype(np.int64),
            "price": b["price_ticks"].astype(np.float64),
            "mid": b["mid_ticks"].astype(np.float64),
            "lots": b["lots"].astype(np.float64),
            "rebate": b["rebate_ticks"].astype(np.float64),
        }
        self._pending = {f: np.concatenate([self._pending[f], new[f]]) for f in _PENDING_FIELDS}

    def observe_mid(self, step: int, mid_ticks: ArrayLike) -> None:
        """Give the venues' mids at ``step``; fills whose horizon has passed are valued.

        A fill of step ``t`` is resolved here if ``step >= t + adverse_horizon_steps``, with
        these mids as ``mid_H``; call it every step so that the horizon is exact. Fills resolved
        together on one (environment, venue) enter its average in the order they were recorded.

        Args:
            step: The current step, an integer >= 0, not before the last observed step.
            mid_ticks: Each venue's mid, ticks, shape ``(n_envs, n_venues)``, finite.

        Raises:
            ValueError: On a wrong shape, NaN/inf or a step that goes back.
        """
        s = self._step(step, "observe_mid")
        mid = np.asarray(mid_ticks, dtype=np.float64)
        if mid.shape != (self.n_envs, self.n_venues):
            raise ValueError(
                f"VenueRouter.observe_mid: mid_ticks must have shape "
                f"({self.n_envs}, {self.n_venues}), got {mid.shape}"
            )
        if not np.isfinite(mid).all():
            raise ValueError("VenueRouter.observe_mid: mid_ticks must be finite")
        self._last_step = s
        p = self._pending
        due = p["step"] + self.adverse_horizon_steps <= s
        if not due.any():
            return
        env, ven = p["env"][due], p["venue"][due]
        value = p["side"][due] * (mid[env, ven] - p["price"][due]) + p["rebate"][due]
        lots = p["lots"][due]
        # Rank of each resolved fill among those of its (env, venue), in record order: fills of
        # one rank touch distinct pairs, so each rank is one vectorised update.
        pair = env * self.n_venues + ven
        order = np.argsort(pair, kind="stable")
        sorted_pair = pair[order]
        first = np.r_[0, np.flatnonzero(np.diff(sorted_pair)) + 1]
        group_start = np.repeat(first, np.diff(np.r_[first, sorted_pair.size]))
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size) - group_start
        lam = self.decay
        for r in range(int(rank.max()) + 1):
            at = rank == r
            e, v = env[at], ven[at]
            self._sum[e, v] = lam * self._sum[e, v] + lots[at] * value[at]
            self._weight[e, v] = lam * self._weight[e, v] + lots[at]
            self._n_resolved[e, v] += 1
        self._pending = {f: a[~due] for f, a in p.items()}

    # ----------------------------------------------------------------------- estimates

    @property
    def expected_value(self) -> FloatArray:
        """Estimated value per lot of each venue, ticks, shape ``(n_envs, n_venues)``.

        NaN for a venue with no resolved fill yet.
        """
        has = self._weight > 0
        return np.where(has, self._sum / np.where(has, self._weight, 1.0), np.nan)

    @property
    def n_resolved(self) -> IntArray:
        """Number of fills valued so far per (environment, venue), shape ``(n_envs, V)``."""
        return self._n_resolved.copy()

    @property
    def n_pending(self) -> int:
        """Number of recorded fills still waiting for their horizon."""
        return int(self._pending["step"].size)

    # ----------------------------------------------------------------------- routing

    def _ranking_key(self) -> FloatArray:
        """Higher is better: the estimate, +inf for a venue without one (tried first)."""
        ev = self.expected_value
        return np.where(np.isnan(ev), np.inf, ev)

    def choose(self) -> BoolArray:
        """Choose ``top_k`` venues per environment.

        Returns:
            Boolean ``(n_envs, n_venues)`` with exactly ``top_k`` True per row; also kept as
            the default of :meth:`allocate`'s ``chosen``.
        """
        n, v = self.n_envs, self.n_venues
        key = self._ranking_key()
        tie = self._rng.random((n, v))
        # np.lexsort sorts by its last key first: best estimate, then a random tie-break.
        greedy = np.lexsort((tie, -key), axis=-1)
        random_order = np.argsort(self._rng.random((n, v)), axis=-1)
        exploring = self._rng.random(n) < self.explore
        order = np.where(exploring[:, None], random_order, greedy)
        chosen = np.zeros((n, v), dtype=bool)
        np.put_along_axis(chosen, order[:, : self.top_k], True, axis=-1)
        self._chosen = chosen
        return chosen.copy()

    def allocate(
        self, depth_lots: ArrayLike, total_lots: ArrayLike, chosen: ArrayLike | None = None
    ) -> IntArray:
        """Split each environment's lots over its chosen venues in proportion to visible depth.

        Venue ``v``'s quota is ``total * depth_v / sum(depth over chosen venues)``; each venue
        gets its quota rounded down, and the lots left over go one each to the venues with the
        largest fractional remainders (then the deeper, then the lower index): the result sums
        exactly to ``total`` and differs from each quota by less than one lot. If every chosen
        venue shows zero depth, all lots go to the best chosen venue (highest estimate, a venue
        without one first, then the lowest index).

        Args:
            depth_lots: Visible depth on the quoted side of each venue, lots, >= 0, shape
                ``(n_envs, n_venues)``.
            total_lots: Lots to place per environment, integers >= 0, shape ``(n_envs,)``.
            chosen: Boolean ``(n_envs, n_venues)`` with at least one True per row; ``None``:
                the last :meth:`choose`.

        Returns:
            Lots per venue, int64 ``(n_envs, n_venues)``, zero on venues not chosen.

        Raises:
            ValueError: On a wrong shape, a negative or non-finite depth, a total that is not a
                non-negative integer, or a row of ``chosen`` with no venue.
            RuntimeError: If ``chosen`` is ``None`` and :meth:`choose` was never called.
        """
        depth, total, mask = self._allocation_inputs(depth_lots, total_lots, chosen)
        return self._split_by_depth(depth, total, mask)

    def _allocation_inputs(
        self, depth_lots: ArrayLike, total_lots: ArrayLike, chosen: ArrayLike | None
    ) -> tuple[FloatArray, IntArray, BoolArray]:
        """Check :meth:`allocate`'s arguments; return depth, total and the chosen mask."""
        n, v = self.n_envs, self.n_venues
        depth = np.asarray(depth_lots, dtype=np.float64)
        if depth.shape != (n, v):
            raise ValueError(
                f"VenueRouter.allocate: depth_lots must have shape ({n}, {v}), got {depth.shape}"
            )
        if not np.isfinite(depth).all() or (depth < 0).any():
            raise ValueError("VenueRouter.allocate: depth_lots must be finite and >= 0")
        total = np.asarray(total_lots)
        if total.shape != (n,):
            raise ValueError(
                f"VenueRouter.allocate: total_lots must have shape ({n},), got {total.shape}"
            )
        if not np.issubdtype(total.dtype, np.integer) or (total < 0).any():
            raise ValueError(
                f"VenueRouter.allocate: total_lots must be integers >= 0, got dtype "
                f"{total.dtype} and minimum {total.min() if total.size else None!r}"
            )
        total = total.astype(np.int64)
        if chosen is None:
            if self._chosen is None:
                raise RuntimeError("VenueRouter.allocate: call choose() first or pass chosen")
            mask = self._chosen
        else:
            mask = np.asarray(chosen)
            if mask.dtype != np.bool_ or mask.shape != (n, v):
                raise ValueError(
                    f"VenueRouter.allocate: chosen must be a boolean array of shape ({n}, {v}), "
                    f"got dtype {mask.dtype} and shape {mask.shape}"
                )
        if not mask.any(axis=1).all():
            row = int(np.argmin(mask.any(axis=1)))
            raise ValueError(f"VenueRouter.allocate: chosen has no venue in row {row}")
        return depth, total, mask

    def _split_by_depth(self, depth: FloatArray, total: IntArray, mask: BoolArray) -> IntArray:
        """:meth:`allocate` on checked arguments: largest-remainder quotas of visible depth."""
        n, v = self.n_envs, self.n_venues
        d = np.where(mask, depth, 0.0)
        visible = d.sum(axis=1)
        has_depth = visible > 0
        quota = total[:, None] * d / np.where(has_depth, visible, 1.0)[:, None]
        lots = np.floor(quota).astype(np.int64)
        left = total - lots.sum(axis=1)  # in [0, number of chosen venues)
        frac = np.where(mask, quota - lots, -1.0)
        # Largest remainder first, then deeper, then lower index (lexsort: last key first).
        idx = np.broadcast_to(np.arange(v), (n, v))
        order = np.lexsort((idx, -d, -frac), axis=-1)
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.broadcast_to(np.arange(v), (n, v)), axis=-1)
        lots += (rank < left[:, None]).astype(np.int64)
        # No depth on any chosen venue: everything on the best chosen venue.
        key = np.where(mask, self._ranking_key(), -np.inf)
        best = np.argmax(key, axis=1)  # first maximum: the lowest index on a tie
        flat = ~has_depth
        lots[flat] = 0
        lots[flat, best[flat]] = total[flat]
        return lots

    def reset(self, mask: ArrayLike | None = None, *, seed: int | None = None) -> None:
        """Forget the estimates and pending fills of some or all environments.

        Args:
            mask: Boolean ``(n_envs,)``, True for the environments to reset; ``None``: all (the
                step counter too, so steps may start again from 0).
            seed: If given, a new generator seeded with it (an integer >= 0); ``None`` keeps
                the current random stream.

        Raises:
            ValueError: If ``mask`` is not a boolean array of shape ``(n_envs,)``.
            ConfigError: If ``seed`` is out of range.
        """
        if mask is None:
            m = np.ones(self.n_envs, dtype=bool)
            self._last_step = None
            self._chosen = None
        else:
            m = env_mask(mask, self.n_envs, "VenueRouter.reset: mask")
        if seed is not None:
            _check_range("VenueRouter.reset: seed", seed, 0, None, integer=True)
            self._rng = np.random.default_rng(int(seed))
        self._sum[m] = 0.0
        self._weight[m] = 0.0
        self._n_resolved[m] = 0
        keep = ~m[self._pending["env"]]
        self._pending = {f: a[keep] for f, a in self._pending.items()}
