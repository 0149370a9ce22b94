"""Scripted quoting policies for the book environment (batched, numpy only).

Each class satisfies :class:`mm_gym.policy.QuotingPolicy`: ``reset(rng, context)`` looks up the
observed features it needs by name (:meth:`PolicyContext.index`), and ``act(obs)`` maps a batch
of observations ``(n, d)`` to actions ``(n, 2)`` in [-1, 1] through
:func:`mm_gym.actions.offsets_to_actions` (column 0 the bid offset, column 1 the ask offset, in
ticks from the mid; offsets beyond [0, ``max_offset_ticks``] are clipped, so a quote the formula
puts through the mid is quoted at the mid).

Units are those of the environment: prices and offsets in ticks, inventory in lots
(``q = inventory * inventory_limit``), time in steps (``T - t = time_left * horizon_steps``);
see :mod:`baselines.formulas` for the parameters' units.

Inventory limits. At ``q >= +limit`` the market does not let a maker bid, at ``q <= -limit`` it
does not let it ask. Every policy here then parks the blocked side at ``max_offset_ticks``
(action +1) instead of asking for a quote the market would refuse; the other side is unchanged.
"""

from __future__ import annotations

import numpy as np

from baselines.formulas import as_quote_distances, glft_quote_distances
from mm_gym.actions import offsets_to_actions
from mm_gym.config import ConfigError, _check_range
from mm_gym.policy import PolicyContext

__all__ = [
    "GLFT",
    "AvellanedaStoikov",
    "FixedSpread",
    "OrderFlowSkew",
    "RandomQuoter",
    "SentimentAS",
]


def _check_model_params(owner: str, gamma: float, k: float, sigma: float | None) -> None:
    """Validate the parameters the Avellaneda-Stoikov and GLFT models share.

    Raises :class:`ConfigError` naming ``owner.field``: ``gamma`` and ``k`` must be in (0, 1e6],
    ``sigma`` (unless ``None``, read from the observation) in [0, 1e6].
    """
    _check_range(f"{owner}.gamma", gamma, 0.0, 1e6, lo_open=True)
    _check_range(f"{owner}.k", k, 0.0, 1e6, lo_open=True)
    if sigma is not None:
        _check_range(f"{owner}.sigma", sigma, 0.0, 1e6)


class _ScriptedPolicy:
    """Shared plumbing: feature lookup at reset, observation checks, offsets -> actions."""

    name: str = "scripted"
    _features: tuple[str, ...] = ("inventory",)

    def __init__(self, name: str | None) -> None:
        if name is not None:
            if not isinstance(name, str) or not name:
                raise ConfigError(f"name={name!r} must be a non-empty string")
            self.name = name
        self._context: PolicyContext | None = None
        self._col: dict[str, int] = {}
        self._rng: np.random.Generator | None = None

    def reset(self, rng: np.random.Generator, context: PolicyContext) -> None:
        """Look up the needed features in ``context``; ``rng`` is kept for random policies.

        Raises:
            KeyError: If a needed feature is not observed (the message lists the observed ones).
        """
        self._context = context
        self._col = {f: context.index(f) for f in self._features}
        self._rng = rng

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Map observations ``(n, d)`` to actions ``(n, 2)`` float32 in [-1, 1]."""
        ctx = self._ready()
        obs = np.asarray(obs)
        if obs.ndim != 2 or obs.shape[1] != len(ctx.feature_names):
            raise ValueError(
                f"{type(self).__name__}.act: obs has shape {obs.shape}; expected "
                f"(n, {len(ctx.feature_names)}) for features {ctx.feature_names}"
            )
        bid, ask = self._offsets(obs, ctx)
        n = obs.shape[0]
        offsets = np.empty((n, 2), dtype=np.float64)
        offsets[:, 0] = bid
        offsets[:, 1] = ask
        # The blocked side at an inventory limit is parked at the far end of the action range.
        q = self._inventory_lots(obs, ctx)
        offsets[q >= ctx.inventory_limit, 0] = ctx.max_offset_ticks
        offsets[q <= -ctx.inventory_limit, 1] = ctx.max_offset_ticks
        return offsets_to_actions(offsets, ctx.max_offset_ticks, ctx.action_mapping)

    def _offsets(self, obs: np.ndarray, ctx: PolicyContext) -> tuple[np.ndarray, np.ndarray]:
        """Bid and ask offsets in ticks, each ``(n,)`` or scalar."""
        raise NotImplementedError

    def _ready(self) -> PolicyContext:
        if self._context is None:
            raise RuntimeError(
                f"{type(self).__name__}.act() called before reset(rng, context); get the context "
                "from env.unwrapped.policy_context() (maker 'mm1' or 'mm2'), or run the policy "
                "with mm_gym.rollout(env, policy)"
            )
        return self._context

    def _feature(self, obs: np.ndarray, name: str) -> np.ndarray:
        return obs[:, self._col[name]].astype(np.float64)

    def _inventory_lots(self, obs: np.ndarray, ctx: PolicyContext) -> np.ndarray:
        """Inventory in lots: the feature is ``inventory / limit``, and lots are integers."""
        return np.rint(self._feature(obs, "inventory") * ctx.inventory_limit)


class FixedSpread(_ScriptedPolicy):
    """Quote both sides at a fixed distance from the mid.

    Args:
        half_spread_ticks: Offset of each quote from the mid, ticks (>= 0).
        name: Display name (default ``"fixed_spread"``).
    """

    name = "fixed_spread"

    def __init__(self, half_spread_ticks: float = 2.0, *, name: str | None = None) -> None:
        """Validate the parameters."""
        _check_range("FixedSpread.half_spread_ticks", half_spread_ticks, 0.0, 1e6)
        super().__init__(name)
        self.half_spread_ticks = float(half_spread_ticks)

    def _offsets(self, obs: np.ndarray, ctx: PolicyContext) -> tuple[np.ndarray, np.ndarray]:
        h = np.full(obs.shape[0], self.half_spread_ticks)
        return h, h


class OrderFlowSkew(_ScriptedPolicy):
    """A fixed half-spread around a centre that leans with order flow and against inventory.

    ``centre = mid + c_flow * flow - c_inv * inventory`` (ticks), where ``flow`` and
    ``inventory`` are the observed features, both in [-1, 1] (signed-flow EMA ratio, buy > 0;
    inventory / limit). Buying pressure raises both quotes; a long position lowers them.

    Args:
        half_spread_ticks: Distance of each quote from the centre, ticks (>= 0).
        c_flow: Centre shift at fully one-sided buying flow, ticks.
        c_inv: Centre shift (downwards) at a full long inventory, ticks.
        name: Display name (default ``"order_flow_skew"``).
    """

    name = "order_flow_skew"
    _features = ("inventory", "flow")

    def __init__(
        self,
        half_spread_ticks: float = 2.0,
        c_flow: float = 1.0,
        c_inv: float = 2.0,
        *,
        name: str | None = None,
    ) -> None:
        """Validate the parameters."""
        _check_range("OrderFlowSkew.half_spread_ticks", half_spread_ticks, 0.0, 1e6)
        _check_range("OrderFlowSkew.c_flow", c_flow, -1e6, 1e6)
        _check_range("OrderFlowSkew.c_inv", c_inv, -1e6, 1e6)
        super().__init__(name)
        self.half_spread_ticks = float(half_spread_ticks)
        self.c_flow = float(c_flow)
        self.c_inv = float(c_inv)

    def _offsets(self, obs: np.ndarray, ctx: PolicyContext) -> tuple[np.ndarray, np.ndarray]:
        shift = self.c_flow * self._feature(obs, "flow") - self.c_inv * self._feature(
            obs, "inventory"
        )
        # bid = centre - h = mid - (h - shift); ask = centre + h = mid + (h + shift)
        return self.half_spread_ticks - shift, self.half_spread_ticks + shift


class _ModelPolicy(_ScriptedPolicy):
    """Shared by the closed-form models: risk aversion, intensity decay and volatility.

    ``sigma`` is a fixed value, or ``None`` to read the observed ``volatility_ticks`` feature
    (looked up after the model's own ``features``).
    """

    def __init__(
        self,
        name: str | None,
        gamma: float,
        k: float,
        sigma: float | None,
        features: tuple[str, ...] = ("inventory",),
    ) -> None:
        super().__init__(name)
        self.gamma = float(gamma)
        self.k = float(k)
        self.sigma = None if sigma is None else float(sigma)
        self._features = features if sigma is not None else (*features, "volatility_ticks")

    def _sigma(self, obs: np.ndarray) -> np.ndarray | float:
        """Mid volatility, ticks / sqrt(step): ``sigma``, or the observed ``volatility_ticks``."""
        return self._feature(obs, "volatility_ticks") if self.sigma is None else self.sigma


class AvellanedaStoikov(_ModelPolicy):
    """Avellaneda & Stoikov (2008): the spread of eq. (30) around the reservation price (29).

    In the book environment's units::

        q     = inventory * inventory_limit               (lots)
        tau   = time_left * horizon_steps                 (steps), or ``horizon`` if given
        r     = mid - q * gamma * sigma**2 * tau          (eq. 29, ticks)
        delta_a + delta_b = gamma * sigma**2 * tau + (2/gamma) ln(1 + gamma/k)   (eq. 30)

    so ``bid = r - spread/2`` and ``ask = r + spread/2``. The spread shrinks to
    ``(2/gamma) ln(1 + gamma/k)`` as ``tau -> 0`` and the skew vanishes with it.

    Args:
        gamma: Risk aversion, 1 / (tick * lot) (> 0).
        k: Decay of the fill intensity with distance, 1 / tick (> 0); estimate it with
            :func:`baselines.fill_fit.calibrate_k`.
        sigma: Mid volatility, ticks / sqrt(step) (>= 0); ``None`` reads the observed
            ``volatility_ticks`` feature (the EWMA of one-step mid changes, ticks per step,
            which is sigma in ticks / sqrt(step)).
        horizon: ``T - t`` in steps to use at every step instead of the episode's remaining
            time (a rolling-horizon variant); ``None`` uses ``time_left * horizon_steps``.
        name: Display name (default ``"avellaneda_stoikov"``).
    """

    name = "avellaneda_stoikov"

    def __init__(
        self,
        gamma: float,
        k: float,
        sigma: float | None = None,
        horizon: float | None = None,
        *,
        name: str | None = None,
    ) -> None:
        """Validate the parameters."""
        _check_model_params("AvellanedaStoikov", gamma, k, sigma)
        if horizon is not None:
            _check_range("AvellanedaStoikov.horizon", horizon, 0.0, 1e9)
        # Without a fixed horizon, T - t is read from the observed time left.
        features = ("inventory",) if horizon is not None else ("inventory", "time_left")
        super().__init__(name, gamma, k, sigma, features)
        self.horizon = None if horizon is None else float(horizon)

    def _offsets(self, obs: np.ndarray, ctx: PolicyContext) -> tuple[np.ndarray, np.ndarray]:
        q = self._inventory_lots(obs, ctx)
        tau = (
            self._feature(obs, "time_left") * ctx.horizon_steps
            if self.horizon is None
            else self.horizon
        )
        return as_quote_distances(q, tau, gamma=self.gamma, sigma=self._sigma(obs), k=self.k)


class SentimentAS(AvellanedaStoikov):
    """Avellaneda-Stoikov with the reservation price shifted by a news-and-imbalance signal.

    The signal is ``alpha = clip(w_s * sentiment + w_i * imbalance_l1, -1, 1)``, the blend of
    the observed news sentiment and the best-level book imbalance. Without ``weights`` the
    policy reads the env's own ``alpha`` feature (:mod:`mm_gym.observations`, weights
    ``process.alpha_sentiment_weight`` and ``process.alpha_imbalance_weight``, observed with
    ``observe_alpha=True``, which :func:`mm_gym.evaluation.observation_overrides` turns on for
    this policy); with ``weights=(w_s, w_i)`` it computes the same formula from the observed
    ``sentiment`` and ``imbalance_l1`` (so its weights can be calibrated like ``gamma``,
    :func:`baselines.calibration.calibrated_sentiment_as`). The reservation price of eq. (29)
    moves by ``kappa * alpha`` ticks::

        r = mid - q * gamma * sigma**2 * tau + kappa * alpha

    so a positive signal raises both quotes (the bid nearer the mid, the ask farther) and the
    spread of eq. (30) is unchanged. ``kappa = 0`` is plain :class:`AvellanedaStoikov`.

    Args:
        gamma: Risk aversion, 1 / (tick * lot) (> 0).
        k: Decay of the fill intensity with distance, 1 / tick (> 0).
        kappa: Shift of the reservation price at ``alpha = 1``, ticks (in [-100, 100]).
        weights: ``(w_s, w_i)``, each in [-10, 10], to blend the signal here; ``None`` reads
            the env's ``alpha``.
        sigma: Mid volatility, ticks / sqrt(step); ``None`` reads ``volatility_ticks``.
        horizon: As for :class:`AvellanedaStoikov`.
        name: Display name (default ``"sentiment_as"``).
    """

    name = "sentiment_as"

    def __init__(
        self,
        gamma: float,
        k: float,
        kappa: float = 1.0,
        weights: tuple[float, float] | None = None,
        sigma: float | None = None,
        horizon: float | None = None,
        *,
        name: str | None = None,
    ) -> None:
        """Validate the parameters."""
        _check_range("SentimentAS.kappa", kappa, -100.0, 100.0)
        if weights is not None:
            if not isinstance(weights, (tuple, list)) or len(weights) != 2:
                raise ConfigError(f"SentimentAS.weights={weights!r} must be a pair (w_s, w_i)")
            _check_range("SentimentAS.weights[0]", weights[0], -10.0, 10.0)
            _check_range("SentimentAS.weights[1]", weights[1], -10.0, 10.0)
        super().__init__(gamma, k, sigma, horizon, name=name)
        self.kappa = float(kappa)
        self.weights = None if weights is None else (float(weights[0]), float(weights[1]))
        signal = ("alpha",) if weights is None else ("sentiment", "imbalance_l1")
        self._features = (*self._features, *signal)

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The observed features this policy reads (``alpha`` without ``weights``)."""
        return self._features

    def _alpha(self, obs: np.ndarray) -> np.ndarray:
        """The signal in [-1, 1]: the env's ``alpha``, or the same blend with :attr:`weights`."""
        if self.weights is None:
            return self._feature(obs, "alpha")
        w_s, w_i = self.weights
        raw = w_s * self._feature(obs, "sentiment") + w_i * self._feature(obs, "imbalance_l1")
        return np.clip(raw, -1.0, 1.0)

    def _offsets(self, obs: np.ndarray, ctx: PolicyContext) -> tuple[np.ndarray, np.ndarray]:
        bid, ask = super()._offsets(obs, ctx)
        shift = self.kappa * self._alpha(obs)  # r moves up by the shift (ticks)
        return bid - shift, ask + shift


class GLFT(_ModelPolicy):
    """Guéant, Lehalle & Fernandez-Tapia (2013): closed-form asymptotic quotes, bounded inventory.

    In the book environment's units (``q`` in lots)::

        c        = sqrt(sigma**2 * gamma / (2 k A) * (1 + gamma/k)**(1 + k/gamma))
        delta_b  = (1/gamma) ln(1 + gamma/k) + (2q + 1)/2 * c
        delta_a  = (1/gamma) ln(1 + gamma/k) - (2q - 1)/2 * c

    (the approximations of the asymptotic optimal quotes in GLFT 2013; see
    :func:`baselines.formulas.glft_quote_distances`). They do not depend on time: the optimal
    quotes converge to them far from the horizon. The model bounds the inventory by ``Q``: at
    ``q >= Q`` there is no bid and at ``q <= -Q`` no ask, which is enforced here.

    Args:
        gamma: Risk aversion, 1 / (tick * lot) (> 0).
        k: Decay of the fill intensity with distance, 1 / tick (> 0).
        A: Fill intensity at distance zero, fills per step (> 0).
        sigma: Mid volatility, ticks / sqrt(step); ``None`` reads ``volatility_ticks``.
        q_max: Inventory bound ``Q`` in lots (>= 1); ``None`` uses the environment's
            ``inventory_limit``.
        name: Display name (default ``"glft"``).
    """

    name = "glft"

    def __init__(
        self,
        gamma: float,
        k: float,
        A: float,
        sigma: float | None = None,
        q_max: int | None = None,
        *,
        name: str | None = None,
    ) -> None:
        """Validate the parameters."""
        _check_model_params("GLFT", gamma, k, sigma)
        _check_range("GLFT.A", A, 0.0, 1e9, lo_open=True)
        if q_max is not None:
            _check_range("GLFT.q_max", q_max, 1, 1_000_000, integer=True)
        super().__init__(name, gamma, k, sigma)
        self.A = float(A)
        self.q_max = None if q_max is None else int(q_max)

    def _offsets(self, obs: np.ndarray, ctx: PolicyContext) -> tuple[np.ndarray, np.ndarray]:
        q = self._inventory_lots(obs, ctx)
        sigma = self._sigma(obs)
        bid, ask = glft_quote_distances(q, gamma=self.gamma, sigma=sigma, A=self.A, k=self.k)
        q_max = ctx.inventory_limit if self.q_max is None else self.q_max
        bid = np.where(q >= q_max, ctx.max_offset_ticks, bid)
        ask = np.where(q <= -q_max, ctx.max_offset_ticks, ask)
        return bid, ask


class RandomQuoter(_ScriptedPolicy):
    """Quote each side at an independent uniform offset (a sanity floor for comparisons).

    The offsets are drawn from the ``rng`` passed to :meth:`reset`, so a seeded tournament is
    reproducible.

    Args:
        low_ticks: Smallest offset, ticks (>= 0).
        high_ticks: Largest offset, ticks; ``None`` uses the environment's ``max_offset_ticks``.
        name: Display name (default ``"random"``).
    """

    name = "random"

    def __init__(
        self, low_ticks: float = 0.0, high_ticks: float | None = None, *, name: str | None = None
    ) -> None:
        """Validate the parameters."""
        _check_range("RandomQuoter.low_ticks", low_ticks, 0.0, 1e6)
        if high_ticks is not None:
            _check_range("RandomQuoter.high_ticks", high_ticks, float(low_ticks), 1e6)
        super().__init__(name)
        self.low_ticks = float(low_ticks)
        self.high_ticks = None if high_ticks is None else float(high_ticks)

    def reset(self, rng: np.random.Generator, context: PolicyContext) -> None:
        """Keep ``rng`` and check the offset range against ``context``."""
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"RandomQuoter.reset: rng={rng!r} must be a numpy Generator")
        high = context.max_offset_ticks if self.high_ticks is None else self.high_ticks
        if self.low_ticks > high:
            raise ConfigError(
                f"RandomQuoter.low_ticks={self.low_ticks!r} must be <= the high end {high!r} "
                "(high_ticks, or the environment's max_offset_ticks)"
            )
        super().reset(rng, context)

    def _offsets(self, obs: np.ndarray, ctx: PolicyContext) -> tuple[np.ndarray, np.ndarray]:
        assert self._rng is not None  # set by reset()
        high = ctx.max_offset_ticks if self.high_ticks is None else self.high_ticks
        u = self._rng.uniform(self.low_ticks, high, size=(2, obs.shape[0]))
        return u[0], u[1]
