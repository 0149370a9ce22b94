"""Estimate the fill-intensity curve ``lambda(delta) = A * exp(-k * delta)`` from fill counts.

Avellaneda & Stoikov (2008), eq. (12), model the rate at which a quote at distance ``delta``
from the mid is filled as ``A * exp(-k * delta)``; both their quotes (through ``k``) and those of
Guéant, Lehalle & Fernandez-Tapia (2013) (through ``A`` and ``k``) need the two numbers. Quote
at a few fixed depths, count the fills and the time spent at each depth, and fit:
:func:`calibrate_k` is the estimator, :func:`calibrate_on_env` runs the depth ladder on the book
env and fits its counts. The baselines' stored calibrations and their risk aversions are in
:mod:`baselines.calibration`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mm_gym.actions import offsets_to_actions
from mm_gym.config import ConfigError
from mm_gym.policy import PolicyContext

__all__ = [
    "CALIBRATION_DEPTHS",
    "CALIBRATION_SEED",
    "FillCurve",
    "calibrate_k",
    "calibrate_on_env",
]


def calibrate_k(
    depths: np.ndarray | list[float],
    fill_counts: np.ndarray | list[float],
    exposure_steps: np.ndarray | list[float],
) -> tuple[float, float]:
    """Maximum-likelihood fit of ``lambda(delta) = A * exp(-k * delta)`` to fill counts.

    Model: the number of fills ``N_i`` of a quote kept at depth ``delta_i`` for ``E_i`` steps is
    Poisson with mean ``E_i * A * exp(-k * delta_i)``. This is a Poisson regression with a log
    link, and its likelihood is concave; profiling ``A`` out (``A = sum N / sum E e^{-k delta}``)
    leaves one equation in ``k``: the observed fill-weighted mean depth must equal the mean
    depth under the weights ``E_i e^{-k delta_i}``, which decreases strictly in ``k``, so the
    root is unique and found by safeguarded Newton steps.

    The Poisson likelihood's score equations only involve the means, so the fit is consistent
    whenever ``E[N_i] = E_i * A * exp(-k * delta_i)``, whatever the count distribution: e.g. for
    at most one fill per step with probability ``A * exp(-k * delta) * dt`` (the intensity model
    of :mod:`mm_gym.market.intensity`), with ``E_i`` in units of time.

    Args:
        depths: Quote depths ``delta_i`` (e.g. ticks from the mid), at least two distinct.
        fill_counts: Fills observed at each depth (>= 0).
        exposure_steps: Steps (or time) spent quoting at each depth (> 0).

    Returns:
        ``(A, k)``: fills per unit of exposure at depth zero, and the decay per unit of depth.
        A negative ``k`` (fills increasing with depth) is returned with a warning.

    Raises:
        ConfigError: On mismatched lengths, negative or non-finite values, fewer than two
            distinct depths, no fills, or data for which the MLE does not exist (all fills at the
            shallowest depth or all at the deepest: ``k`` would be infinite).
    """
    d = _as_1d("depths", depths)
    n = _as_1d("fill_counts", fill_counts)
    e = _as_1d("exposure_steps", exposure_steps)
    _check_fill_data(d, n, e)
    total = float(n.sum())
    if total <= 0:
        raise ConfigError("fill_counts are all zero: no fills, so A and k cannot be estimated")
    # Centre the depths: k is unchanged, and exp() stays well scaled.
    centre = float(np.average(d, weights=e))
    x = d - centre
    target = float(np.dot(n, x) / total)  # observed fill-weighted mean depth
    lo, hi = float(x.min()), float(x.max())
    span = hi - lo
    if not (lo + 1e-12 * span < target < hi - 1e-12 * span):
        where = "shallowest" if target <= lo + 1e-12 * span else "deepest"
        raise ConfigError(
            f"all fills are at the {where} depth: the likelihood has no maximum (k is infinite); "
            "quote at depths where both ends get some fills"
        )

    k, log_sw = _solve_k(x, e, target, span)
    # A at the centred origin, moved back to depth zero: A0 = A_c * exp(k * centre).
    log_a = math.log(total) - log_sw + k * centre
    if k <= 0:
        warnings.warn(
            f"calibrate_k: estimated k={k!r} <= 0 (fills do not decrease with depth)",
            RuntimeWarning,
            stacklevel=2,
        )
    return math.exp(log_a), k


def _check_fill_data(d: np.ndarray, n: np.ndarray, e: np.ndarray) -> None:
    """Refuse data :func:`calibrate_k` cannot fit (mismatched, negative, one depth)."""
    if not (d.size == n.size == e.size):
        raise ConfigError(
            f"depths, fill_counts and exposure_steps must have the same length; got "
            f"{d.size}, {n.size} and {e.size}"
        )
    if np.any(n < 0):
        raise ConfigError(f"fill_counts={n.tolist()!r} must all be >= 0")
    if np.any(e <= 0):
        raise ConfigError(f"exposure_steps={e.tolist()!r} must all be > 0")
    if np.unique(d).size < 2:
        raise ConfigError(f"depths={d.tolist()!r} must hold at least two distinct values")


def _solve_k(x: np.ndarray, e: np.ndarray, target: float, span: float) -> tuple[float, float]:
    """The root ``k`` of :func:`calibrate_k`'s score equation, and ``log sum E e^{-k x}``.

    Args:
        x: Centred depths.
        e: Exposures.
        target: The observed fill-weighted mean of ``x`` (strictly inside its range).
        span: ``x.max() - x.min()``.
    """

    def moments(k: float) -> tuple[float, float, float]:
        """Mean and variance of the depth under weights ``E e^{-k x}``, and log of their sum."""
        z = -k * x
        zmax = float(z.max())
        w = e * np.exp(z - zmax)
        sw = float(w.sum())
        mean = float(np.dot(w, x) / sw)
        var = float(np.dot(w, (x - mean) ** 2) / sw)
        return mean, var, math.log(sw) + zmax

    # g(k) = mean_k - target is strictly decreasing (g' = -var < 0): bracket, then Newton with
    # bisection as the safeguard.
    k_lo, k_hi = -1.0 / span, 1.0 / span
    while moments(k_lo)[0] <= target:
        k_lo *= 2.0
    while moments(k_hi)[0] >= target:
        k_hi *= 2.0
    k = 0.0  # inside the bracket: k_lo < 0 < k_hi
    for _ in range(200):
        mean, var, _ = moments(k)
        g = mean - target
        if g > 0:
            k_lo = k
        else:
            k_hi = k
        step = g / var if var > 0 else 0.0
        k_new = k + step
        if not (k_lo < k_new < k_hi):
            k_new = 0.5 * (k_lo + k_hi)
        if abs(k_new - k) <= 1e-13 * max(1.0, abs(k)):
            k = k_new
            break
        k = k_new
    _, _, log_sw = moments(k)
    return k, log_sw


def _as_1d(name: str, values: np.ndarray | list[float]) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ConfigError(f"{name} must be a non-empty 1-D sequence; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ConfigError(f"{name}={arr.tolist()!r} must be finite")
    return arr


# ------------------------------------------------------------------ the depth ladder on the book


CALIBRATION_DEPTHS: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
"""Quote depths (ticks from the mid) of :func:`calibrate_on_env`. Fills die out beyond ~4
ticks in the default book, so deeper quotes add exposure but no information."""

CALIBRATION_SEED = 7_919
"""Master seed of the calibration episodes; evaluation seeds derived from another master seed
(:func:`mm_gym.evaluation.evaluation_seeds`) are unrelated, so baselines are not tuned on the
episodes they are scored on."""


@dataclass(frozen=True)
class FillCurve:
    """The fill-intensity curve ``lambda(delta) = A * exp(-k * delta)`` fitted on an environment.

    Attributes:
        A: Fills per step of a one-lot quote at depth 0.
        k: Decay per tick of depth.
        depths: Quote depths, ticks (the offsets the quotes were placed at).
        fill_counts: Fills observed at each depth (both sides).
        exposure_steps: Steps quoted at each depth (both sides; a side blocked at the inventory
            limit is not exposed).
    """

    A: float
    k: float
    depths: tuple[float, ...]
    fill_counts: tuple[float, ...]
    exposure_steps: tuple[float, ...]

    @property
    def fill_probability(self) -> tuple[float, ...]:
        """Observed fills per quoted step at each depth."""
        return tuple(n / e for n, e in zip(self.fill_counts, self.exposure_steps, strict=True))


class _DepthLadder:
    """A quoting policy whose row ``i`` quotes both sides at ``depths[i]`` ticks, always."""

    name = "depth_ladder"

    def __init__(self, depths: np.ndarray) -> None:
        self.depths = depths
        self._actions = np.zeros((len(depths), 2), np.float32)

    def reset(self, rng: np.random.Generator, context: PolicyContext) -> None:
        # (bid, ask) pairs: a mapping may map a pair jointly ("spread_skew").
        self._actions = offsets_to_actions(
            np.stack([self.depths, self.depths], axis=1),
            context.max_offset_ticks,
            context.action_mapping,
        )

    def act(self, obs: np.ndarray) -> np.ndarray:
        return self._actions.copy()


def calibrate_on_env(
    setting: str = "mean_reverting",
    overrides: Mapping[str, Any] | None = None,
    *,
    depths: Sequence[float] = CALIBRATION_DEPTHS,
    markets_per_depth: int = 64,
    seed: int = CALIBRATION_SEED,
    rival: Any = "builtin",
) -> FillCurve:
    """Fit ``A * exp(-k * delta)`` on the book environment by quoting at fixed depths.

    ``markets_per_depth`` markets per depth run one full episode each in one vector environment,
    mm1 quoting one lot on both sides at that depth every step (offsets map to prices as for
    any policy: ``bid = floor(mid - delta)``, ``ask = ceil(mid + delta)``, so the fitted depth is
    in the same units the AS and GLFT baselines quote in). Each side counts one step of exposure
    when it may quote (inventory not at the limit on that side) and one fill when it traded in
    the step (a one-lot quote fills at most once per step). :func:`calibrate_k` then fits the
    curve by Poisson maximum likelihood.

    Args:
        setting: Book preset name or env id (:func:`mm_gym.evaluation.resolve_setting`).
        overrides: Environment keyword overrides.
        depths: Quote depths, ticks, at least two distinct, in ``[0, max_offset_ticks]``.
        markets_per_depth: Episodes per depth.
        seed: Master seed of the episodes.
        rival: The rival, as for :func:`mm_gym.evaluation.rollout`.

    Returns:
        The :class:`FillCurve`.

    Raises:
        ConfigError: On invalid arguments or data the fit cannot use (e.g. no fills).
    """
    import gymnasium as gym

    from mm_gym.evaluation import resolve_setting

    d = _ladder_depths(depths, markets_per_depth)
    per_market = np.repeat(d, markets_per_depth)
    env_id, kwargs = resolve_setting(setting)
    env: Any = gym.make_vec(
        env_id,
        num_envs=per_market.size,
        vectorization_mode="vector_entry_point",
        rival=rival,
        **{**kwargs, **dict(overrides or {})},
    )
    try:
        _check_ladder_env(env.unwrapped, d)
        fills, exposure = _count_ladder_fills(env, per_market, seed)
    finally:
        env.close()
    depth_index = np.repeat(np.arange(d.size), markets_per_depth)
    counts = np.bincount(depth_index, weights=fills)
    expo = np.bincount(depth_index, weights=exposure)
    A, k = calibrate_k(d, counts, expo)
    return FillCurve(
        A=float(A),
        k=float(k),
        depths=tuple(float(x) for x in d),
        fill_counts=tuple(float(x) for x in counts),
        exposure_steps=tuple(float(x) for x in expo),
    )


def _ladder_depths(depths: Sequence[float], markets_per_depth: int) -> np.ndarray:
    """The checked depths of :func:`calibrate_on_env` (and its ``markets_per_depth``)."""
    d = _as_1d("depths", list(depths))
    if np.any(d < 0):
        raise ConfigError(f"depths={d.tolist()!r} must be >= 0 ticks")
    if (
        isinstance(markets_per_depth, bool)
        or not isinstance(markets_per_depth, int)
        or markets_per_depth < 1
    ):
        raise ConfigError(f"markets_per_depth={markets_per_depth!r} must be an integer >= 1")
    return d


def _check_ladder_env(venv: Any, d: np.ndarray) -> None:
    """The vector env must take continuous offsets and allow the deepest depth."""
    if venv.env_config.action_type != "continuous":
        raise ConfigError(
            f"action_type={venv.env_config.action_type!r}: the depth ladder quotes "
            "continuous (bid, ask) offsets; use action_type='continuous'"
        )
    if float(d.max()) > venv.env_config.max_offset_ticks:
        raise ConfigError(
            f"depths={d.tolist()!r} must be <= max_offset_ticks="
            f"{venv.env_config.max_offset_ticks!r}"
        )


def _count_ladder_fills(
    env: Any, per_market: np.ndarray, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """One episode of the depth ladder; ``(fills, exposure_steps)`` per market, both sides."""
    from mm_gym.evaluation import evaluation_seeds

    venv = env.unwrapped
    n = per_market.size
    accounts = venv.simulator.accounts  # live read-only (n, 2) arrays
    limit = int(venv.market_config.makers.mm1_limit)
    ladder = _DepthLadder(per_market)
    obs, _ = env.reset(seed=[int(s) for s in evaluation_seeds(n, seed)])
    ladder.reset(np.random.default_rng(seed), venv.policy_context("mm1"))
    fills = np.zeros(n)
    exposure = np.zeros(n)
    for _ in range(int(venv.market_config.horizon_steps)):
        q = accounts.inventory[:, 0].copy()
        obs, _, _, _, _ = env.step(ladder.act(obs))
        exposure += (q < limit).astype(np.float64) + (q > -limit)
        fills += (accounts.step_bought[:, 0] > 0).astype(np.float64)
        fills += accounts.step_sold[:, 0] > 0
    return fills, exposure
