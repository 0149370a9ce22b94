"""``IntensityMarketMakingEnv``: the Avellaneda & Stoikov (2008) model as a Gymnasium env.

Registered as ``mm_gym/AS2008-v1``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from mm_gym.actions import LEGACY_ACTION_MAPPING, action_to_offset
from mm_gym.config import (
    ConfigError,
    MarketConfig,
    UnknownKeywordError,
    excerpt,
    is_integer,
    with_overrides,
)
from mm_gym.config import preset as preset_config
from mm_gym.envs.config import EnvConfig
from mm_gym.envs.core import describe_value, maker_index, numeric_array
from mm_gym.envs.seeding import OneMarketEnv, RootSeeds
from mm_gym.market.intensity import FILL_MODELS, IntensityMarket
from mm_gym.policy import PolicyContext
from mm_gym.rewards import COMPONENT_NAMES, REWARD_KEYS, RewardParams, step_reward

__all__ = ["IntensityMarketMakingEnv"]

_OWN_KEYS = ("preset", "config", "max_delta", "inventory_limit", "fill_model", "render_mode")
_INF = float("inf")


class IntensityMarketMakingEnv(OneMarketEnv):
    """Market making in the Avellaneda & Stoikov (2008) intensity model.

    ## Description

    No order book: the mid ``s`` moves ``+-sigma * sqrt(dt)`` per step with equal probability,
    and a bid (ask) quoted ``delta`` below (above) the mid is filled, one unit, with probability
    ``A * exp(-k * delta) * dt`` per step (:mod:`mm_gym.market.intensity`). With the default
    ``as2008`` preset (``s0=100, T=1, sigma=2, dt=0.005, k=1.5, A=140``: 200 steps) this is the
    simulation of the paper's section 4, and the default reward is its objective, the CARA
    utility of terminal wealth with ``gamma = 0.1``.

    ## Action Space

    ``Box(-1, 1, (2,), float32)``: bid and ask distances from the mid, each mapped linearly from
    [-1, 1] to [0, ``max_delta``] (currency): the ``"mid"`` mapping of :mod:`mm_gym.actions`
    (the model has no book, hence no touch for the book envs' default ``"touch"`` mapping).
    NaN, infinite or wrongly shaped actions raise ValueError, and so do bools, complex numbers
    and strings.

    ## Observation Space

    | index | feature | min | max | meaning |
    | --- | --- | --- | --- | --- |
    | 0 | inventory | -1 | 1 | inventory / inventory_limit |
    | 1 | time_left | 0 | 1 | (T - t) / T |

    ## Rewards

    As :mod:`mm_gym.rewards` with wealth ``W = cash + q * s``: by default
    (``utility="cara"``, ``cara_gamma=0.1``) 0 until the horizon, then
    ``(1 - exp(-0.1 * W_T)) / 0.1``. ``utility="pnl"`` gives ``dW`` per step, with the
    optional ``inventory_penalty``, ``terminal_penalty`` and ``dampening``.

    ## Starting State

    ``s = s0``, ``q = q0``, cash 0, ``t = 0``.

    ## Episode End

    ``terminated=True`` at ``T`` (``round(T / dt)`` steps), or on a ``max_drawdown`` breach.

    ## Arguments

    ``preset`` (default ``"as2008"``), ``config`` (a MarketConfig with ``fills="intensity"``),
    ``max_delta`` (currency, default 3.0), ``inventory_limit`` (default None: ``|q|`` bounded
    by the step count, which never binds, as in the paper), ``fill_model`` (``"linear"``, the
    paper, or ``"poisson"``), the reward options ``reward_scale``, ``inventory_penalty``,
    ``terminal_penalty``, ``dampening``, ``utility``, ``cara_gamma``, ``max_drawdown``, and
    model overrides as dotted keys (``**{"intensity.sigma": 1.0}``). ``render_mode="ansi"``.

    ## Info

    ``pnl`` (wealth), ``cash``, ``inventory``, ``mid``, ``fills`` (this step), ``step``,
    ``reward_components``.

    ## Policy Context

    ``env.unwrapped.policy_context()`` is the :class:`~mm_gym.policy.PolicyContext` of a
    :class:`~mm_gym.policy.QuotingPolicy` quoting here (there is only ``"mm1"``). The model has
    no tick: the context counts in currency (``tick_size=1.0``, ``max_offset_ticks=max_delta``),
    so a policy's offsets "in ticks" are distances in currency; its ``action_mapping`` is
    ``"mid"``. Only ``inventory`` and ``time_left`` are observed, so a book policy reading more
    features raises ``KeyError`` at reset.

    ## Version History

    - v1 (0.2.0): the id's version follows the book envs' (the intensity model is unchanged).
    - v0 (0.1.0): Initial release.
    """

    # Gymnasium declares metadata as an instance attribute, hence no ClassVar.
    metadata: dict[str, Any] = {"render_modes": ["ansi"], "render_fps": 20}  # noqa: RUF012

    def __init__(
        self,
        preset: str = "as2008",
        *,
        config: MarketConfig | None = None,
        max_delta: float = 3.0,
        inventory_limit: int | None = None,
        fill_model: str = "linear",
        render_mode: str | None = None,
        utility: str = "cara",
        cara_gamma: float = 0.1,
        inventory_penalty: float = 0.0,
        terminal_penalty: float = 0.0,
        **overrides: Any,
    ) -> None:
        """Build the model; see the class docstring for the arguments."""
        market = config if config is not None else preset_config(preset)
        if not isinstance(market, MarketConfig):
            raise ConfigError(f"config={excerpt(market)} must be a MarketConfig")
        reward_kw: dict[str, Any] = {
            "utility": utility,
            "cara_gamma": cara_gamma,
            "inventory_penalty": inventory_penalty,
            "terminal_penalty": terminal_penalty,
        }
        model_kw: dict[str, Any] = {}
        for key, value in overrides.items():
            if key in REWARD_KEYS:
                reward_kw[key] = value
            elif isinstance(key, str) and (key == "intensity" or key.startswith("intensity.")):
                model_kw[key] = value
            else:
                valid = sorted({*REWARD_KEYS, *_OWN_KEYS, "intensity.<field>"})
                raise UnknownKeywordError(
                    f"unknown key {excerpt(key)}: {type(self).__name__}() got an unexpected "
                    f"keyword argument {excerpt(key)}; valid keys are {valid}"
                )
        if model_kw:
            market = with_overrides(market, model_kw)
        if market.fills != "intensity":
            raise ConfigError(
                f"fills={market.fills!r}: IntensityMarketMakingEnv needs fills='intensity' "
                "(use the 'as2008' preset)"
            )
        env_config = EnvConfig(**reward_kw)
        _check_options(max_delta, fill_model, render_mode, self.metadata["render_modes"])
        model = market.intensity
        n_steps = model.n_steps
        limit = n_steps + abs(model.q0) if inventory_limit is None else inventory_limit
        if not is_integer(limit) or limit < 1:
            raise ConfigError(
                f"inventory_limit={excerpt(inventory_limit)} must be None or an integer >= 1"
            )
        self.market_config = market
        self.env_config = env_config
        self.render_mode = render_mode
        self.max_delta = float(max_delta)
        self.inventory_limit = int(limit)
        self._market = IntensityMarket(
            model,
            1,
            fill_model=fill_model,  # type: ignore[arg-type]
            inventory_limit=None if inventory_limit is None else self.inventory_limit,
        )
        self._n_steps = n_steps
        self._params = RewardParams.from_env_config(env_config)
        self.feature_names: tuple[str, ...] = ("inventory", "time_left")
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.observation_space = spaces.Box(
            np.array([-1.0, 0.0], np.float32), np.array([1.0, 1.0], np.float32), dtype=np.float32
        )
        self._seeds = RootSeeds(1)
        self._done = True

    def _obs(self) -> np.ndarray:
        m = self._market
        q = min(max(int(m.q[0]) / self.inventory_limit, -1.0), 1.0)
        return np.array([q, (self._n_steps - m.step_index) / self._n_steps], np.float32)

    def _info(self, fills: int, components: dict[str, float]) -> dict[str, Any]:
        m = self._market
        return {
            "pnl": float(m.cash[0] + m.q[0] * m.s[0]),
            "cash": float(m.cash[0]),
            "inventory": int(m.q[0]),
            "mid": float(m.s[0]),
            "fills": fills,
            "step": m.step_index,
            "reward_components": components,
        }

    def _start_episode(self) -> tuple[np.ndarray, dict[str, Any]]:
        self._market.reset(int(self._seeds.next_episode()[0]))
        self._prev_wealth = 0.0 + float(self._market.q[0] * self._market.s[0])
        self._prev_q = float(self._market.q[0])
        self._prev_s = float(self._market.s[0])
        self._peak = self._prev_wealth
        self._done = False
        return self._obs(), self._info(0, dict.fromkeys(COMPONENT_NAMES, 0.0))

    def _bad_action(self, action: Any, why: str) -> ValueError:
        return ValueError(
            f"{type(self).__name__}.step: invalid action {describe_value(action)}: {why} "
            f"(action_space={self.action_space})"
        )

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Quote for one step; returns ``(obs, reward, terminated, truncated, info)``."""
        if self._done:
            raise RuntimeError("step() called on a finished episode (or before reset())")
        a = numeric_array(action, "fiu")
        if a is None:
            raise self._bad_action(action, "expected 2 real numbers")
        if a.shape != (2,):
            raise self._bad_action(action, f"shape {a.shape}, expected (2,)")
        x0, x1 = a.astype(np.float64, copy=False).tolist()
        if not (-_INF < x0 < _INF and -_INF < x1 < _INF):
            raise self._bad_action(action, "NaN or infinite value")
        db = action_to_offset(x0, self.max_delta, LEGACY_ACTION_MAPPING)
        da = action_to_offset(x1, self.max_delta, LEGACY_ACTION_MAPPING)
        m = self._market
        res = m.step(db, da)
        fills = int(res.bid_filled[0]) + int(res.ask_filled[0])
        q = float(m.q[0])
        s = float(m.s[0])
        wealth = float(m.cash[0]) + q * s
        terminated = m.step_index >= self._n_steps
        if self.env_config.max_drawdown is not None:
            self._peak = max(self._peak, wealth)
            terminated = terminated or self._peak - wealth >= self.env_config.max_drawdown
        reward, comps = step_reward(
            wealth - self._prev_wealth,
            self._prev_q * (s - self._prev_s),
            q,
            terminated,
            wealth,
            self._params,
            # upfront: the potential of the episode's start is 0, so its first step pays the
            # start inventory (intensity.q0) in full, as the running timing does over time
            (self._prev_q if m.step_index > 1 else 0.0, self._n_steps - m.step_index),
        )
        self._prev_wealth, self._prev_q, self._prev_s = wealth, q, s
        self._done = terminated
        return self._obs(), float(reward), terminated, False, self._info(fills, comps)

    def policy_context(self, maker: str = "mm1") -> PolicyContext:
        """The :class:`~mm_gym.policy.PolicyContext` of a policy quoting as mm1 (see above).

        Raises:
            ValueError: If ``maker`` is not ``"mm1"`` (the model has a single maker).
        """
        return intensity_policy_context(self, maker)

    def render(self) -> str | None:
        """A one-line text summary (``render_mode="ansi"``)."""
        if self.render_mode is None:
            return None
        m = self._market
        wealth = float(m.cash[0] + m.q[0] * m.s[0])
        return (
            f"step {m.step_index}/{self._n_steps}  mid {m.s[0]:.4f}  inventory {int(m.q[0]):+d}"
            f"  cash {m.cash[0]:+.4f}  wealth {wealth:+.4f}\n"
        )


def _check_options(
    max_delta: Any, fill_model: Any, render_mode: Any, render_modes: list[str]
) -> None:
    """Raise ``ConfigError`` naming the first invalid one of these env arguments."""
    if (
        isinstance(max_delta, bool)
        or not isinstance(max_delta, (int, float))
        or not (0.0 < max_delta < 1e6)
    ):
        raise ConfigError(f"max_delta={excerpt(max_delta)} must be a number in (0, 1e6)")
    if fill_model not in FILL_MODELS:
        raise ConfigError(
            f"fill_model={excerpt(fill_model)} is not valid: choose one of {FILL_MODELS}"
        )
    if render_mode is not None and render_mode not in render_modes:
        raise ConfigError(f"render_mode={excerpt(render_mode)} is not valid: choose None or 'ansi'")


def intensity_policy_context(env: Any, maker: str) -> PolicyContext:
    """The context of a policy quoting as ``maker`` on an intensity env, single or vector.

    ``env`` has ``feature_names``, ``max_delta``, ``_n_steps`` and ``inventory_limit``.

    Raises:
        ValueError: If ``maker`` is not ``"mm1"`` (the model has a single maker).
    """
    who = f"{type(env).__name__}.policy_context"
    if maker_index(maker, who) != 0:
        raise ValueError(f"{who}: maker={maker!r}: the intensity model has only 'mm1'")
    return PolicyContext(
        feature_names=env.feature_names,
        max_offset_ticks=env.max_delta,
        horizon_steps=env._n_steps,
        inventory_limit=env.inventory_limit,
        tick_size=1.0,
        quote_size_lots=1,
        action_mapping=LEGACY_ACTION_MAPPING,
    )
