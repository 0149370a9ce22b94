"""Environment-level options (:class:`EnvConfig`) and the resolution of keyword overrides.

The market itself is configured by :class:`mm_gym.config.MarketConfig`; everything the
environment adds on top of it (the action space, the observation, the reward, risk limits) is an
:class:`EnvConfig`. :func:`resolve_configs` splits the keyword arguments of ``gym.make`` between
the two, so ``gym.make(id, regime="trending", inventory_penalty=0.01, **{"flow.shock_rate": 0.01})``
works, and an unknown key raises :class:`~mm_gym.config.UnknownKeywordError` (a
:class:`~mm_gym.config.ConfigError` and a ``TypeError``) listing the valid ones.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from mm_gym.actions import (
    ACTION_MAPPINGS,
    ACTION_TYPES,
    DEFAULT_ACTION_MAPPING,
    LEGACY_ACTION_MAPPING,
)
from mm_gym.config import (
    ConfigError,
    MarketConfig,
    UnknownKeywordError,
    excerpt,
    preset,
    with_overrides,
)

__all__ = [
    "ACTION_MAPPINGS",
    "ACTION_TYPES",
    "MARKET_ALIASES",
    "PENALTY_TIMINGS",
    "UTILITIES",
    "EnvConfig",
    "env_config_keys",
    "resolve_configs",
]

UTILITIES: tuple[str, ...] = ("pnl", "cara")
PENALTY_TIMINGS: tuple[str, ...] = ("running", "upfront")
"""Accepted values of :attr:`EnvConfig.utility`."""

MARKET_ALIASES: dict[str, str] = {
    "mm1_limit": "makers.mm1_limit",
    "mm2_limit": "makers.mm2_limit",
    "news_model": "process.news_model",
    "news_file": "process.news_file",
    "news_asset": "process.news_asset",
}
"""Short keyword names accepted by the environments for nested market fields."""

MAX_GRID = 1_000
"""Most entries of a discrete grid (``discrete_*_ticks``); the action count is their product."""


def _fail(name: str, value: Any, what: str) -> ConfigError:
    return ConfigError(f"{name}={excerpt(value)} {what}")


def _number(name: str, value: Any, lo: float, hi: float, *, lo_open: bool = False) -> None:
    """Raise ConfigError unless ``value`` is a finite number in ``[lo, hi]`` (``(lo, hi]``)."""
    interval = f"{'(' if lo_open else '['}{lo!r}, {hi!r}]"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _fail(name, value, f"must be a number in {interval}")
    try:
        v = float(value)
    except OverflowError:  # an int beyond the float range
        raise _fail(name, value, f"is out of range: must be a number in {interval}") from None
    if not math.isfinite(v):
        raise _fail(name, value, f"must be a number in {interval}")
    if v < lo or v > hi or (lo_open and v == lo):
        raise _fail(name, value, f"is out of range: must be a number in {interval}")


def _integer(name: str, value: Any, lo: int, hi: int) -> None:
    """Raise ConfigError unless ``value`` is an integer in ``[lo, hi]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise _fail(name, value, f"must be an integer in [{lo}, {hi}]")
    if int(value) < lo or int(value) > hi:
        raise _fail(name, value, f"is out of range: must be an integer in [{lo}, {hi}]")


def _grid(name: str, value: Any, lo: float, hi: float) -> tuple[float, ...]:
    """Validate a non-empty sequence of numbers in ``[lo, hi]``; return it as a float tuple."""
    what = f"must be a non-empty sequence of at most {MAX_GRID:,} numbers in [{lo!r}, {hi!r}]"
    if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__iter__"):
        raise _fail(name, value, what)
    items = tuple(itertools.islice(value, MAX_GRID + 1))
    if not items or len(items) > MAX_GRID:
        raise _fail(name, value, what)
    for i, x in enumerate(items):
        _number(f"{name}[{i}]", x, lo, hi)
    return tuple(float(x) for x in items)


@dataclass(frozen=True)
class EnvConfig:
    """Options of the environments on top of the market config (frozen, validated).

    Attributes:
        action_type: ``"continuous"`` (``Box(-1, 1, (2,))``: bid and ask offsets),
            ``"continuous_sizes"`` (``Box(-1, 1, (4,))``: offsets then sizes) or ``"discrete"``
            (a half-spread x skew grid). See :mod:`mm_gym.actions`.
        action_mapping: How a continuous offset action in [-1, 1] becomes ticks from the mid:
            ``"touch"`` (default: -1 at the mid, 0 at the touch (0.25 tick), +1
            ``max_offset_ticks``), ``"mid"`` (the earlier default, linear: -1 at the mid, 0 at
            ``max_offset_ticks / 2``, +1 ``max_offset_ticks``) or ``"spread_skew"`` (the pair
            read as a half-spread, 0 at the touch, and a skew, 0 on [-0.5, 0.5]). See
            :mod:`mm_gym.actions`.
        max_offset_ticks: Offset from the mid, ticks, that an action of +1 maps to (-1 maps to 0).
        quote_size_lots: Size of each quote, lots, for ``"continuous"`` and ``"discrete"``.
        max_size_lots: Size, lots, that a size action of +1 maps to (``"continuous_sizes"``).
        discrete_half_spreads_ticks: Half-spreads of the discrete grid, ticks.
        discrete_skews_ticks: Skews of the discrete grid, ticks (positive leans to selling).
        observe_regime: Append the one-hot of the current regime to the observation (off by
            default: the regime is hidden, partial observability is the realistic default).
        observe_alpha: Append ``alpha``, the blend of news sentiment and best-level book
            imbalance ``clip(w_s * sentiment + w_i * imbalance_l1, -1, 1)`` (weights
            ``process.alpha_sentiment_weight`` and ``process.alpha_imbalance_weight``), after
            the regime one-hot (off by default; see :mod:`mm_gym.observations`).
        reward_scale: Multiplies the whole reward (the components in ``info`` are unscaled).
        inventory_penalty: Running penalty ``phi`` per step on the squared inventory,
            currency per lot squared (``- phi * q**2`` every step).
        terminal_penalty: Penalty ``psi`` on the squared inventory at the end of the episode,
            currency per lot squared (``- psi * q_T**2``, a stand-in for liquidation cost).
        penalty_timing: When those two penalties are paid: ``"running"`` (default: while the
            inventory is held, and at the end) or ``"upfront"`` (when the inventory is taken
            on, handed back when it is unwound; the same total over an episode that ends at
            its horizon or early, see :mod:`mm_gym.rewards`). An episode truncated before
            ``horizon_steps`` (``max_episode_steps``, an outer ``TimeLimit``) has paid upfront
            for the steps it never ran: shorten ``horizon_steps`` instead.
        dampening: ``eta`` in [0, 1] of the asymmetrically dampened PnL of Spooner et al. (2018):
            ``eta * max(0, inventory PnL)`` is subtracted, so speculative gains from holding
            inventory count less than spread capture while losses count in full.
        utility: ``"pnl"`` (the reward is the step's mark-to-market PnL, dampened and penalised)
            or ``"cara"`` (the reward is 0 until the end, then the exponential utility of the
            episode's PnL ``(1 - exp(-gamma * W_T)) / gamma``; the penalties still apply).
        cara_gamma: Absolute risk aversion ``gamma`` of the CARA utility, per currency unit.
        max_drawdown: If set, the episode terminates when mm1's PnL falls this far (currency)
            below its running peak in the episode (a risk-limit breach). ``None`` disables it.
    """

    action_type: str = "continuous"
    action_mapping: str = DEFAULT_ACTION_MAPPING
    max_offset_ticks: float = 10.0
    quote_size_lots: int = 1
    max_size_lots: int = 5
    discrete_half_spreads_ticks: tuple[float, ...] = (1.0, 2.0, 3.0, 5.0)
    discrete_skews_ticks: tuple[float, ...] = (-2.0, -1.0, 0.0, 1.0, 2.0)
    observe_regime: bool = False
    observe_alpha: bool = False
    reward_scale: float = 1.0
    inventory_penalty: float = 0.001
    terminal_penalty: float = 0.1
    penalty_timing: str = "running"
    dampening: float = 0.0
    utility: str = "pnl"
    cara_gamma: float = 0.01
    max_drawdown: float | None = None

    def __post_init__(self) -> None:
        """Validate every field (turn grid lists into tuples, numpy scalars into Python's)."""
        for f in fields(self):  # np.True_, np.float32(2.0), np.int64(3): a sweep's values
            value = getattr(self, f.name)
            if isinstance(value, (np.bool_, np.number)):
                object.__setattr__(self, f.name, value.item())
        if self.action_type not in ACTION_TYPES:
            raise _fail(
                "action_type", self.action_type, f"is not valid: choose one of {list(ACTION_TYPES)}"
            )
        if self.action_mapping not in ACTION_MAPPINGS:
            raise _fail(
                "action_mapping",
                self.action_mapping,
                f"is not valid: choose one of {list(ACTION_MAPPINGS)}",
            )
        _number("max_offset_ticks", self.max_offset_ticks, 0.0, 100.0, lo_open=True)
        _integer("quote_size_lots", self.quote_size_lots, 1, 10_000)
        _integer("max_size_lots", self.max_size_lots, 1, 10_000)
        object.__setattr__(self, "quote_size_lots", int(self.quote_size_lots))
        object.__setattr__(self, "max_size_lots", int(self.max_size_lots))
        spreads = _grid("discrete_half_spreads_ticks", self.discrete_half_spreads_ticks, 0.0, 100.0)
        skews = _grid("discrete_skews_ticks", self.discrete_skews_ticks, -100.0, 100.0)
        object.__setattr__(self, "discrete_half_spreads_ticks", spreads)
        object.__setattr__(self, "discrete_skews_ticks", skews)
        if not isinstance(self.observe_regime, bool):
            raise _fail("observe_regime", self.observe_regime, "must be true or false")
        if not isinstance(self.observe_alpha, bool):
            raise _fail("observe_alpha", self.observe_alpha, "must be true or false")
        _number("reward_scale", self.reward_scale, 0.0, 1e6, lo_open=True)
        _number("inventory_penalty", self.inventory_penalty, 0.0, 1e6)
        _number("terminal_penalty", self.terminal_penalty, 0.0, 1e6)
        if self.penalty_timing not in PENALTY_TIMINGS:
            raise _fail(
                "penalty_timing",
                self.penalty_timing,
                f"is not valid: choose one of {list(PENALTY_TIMINGS)}",
            )
        _number("dampening", self.dampening, 0.0, 1.0)
        if self.utility not in UTILITIES:
            raise _fail("utility", self.utility, f"is not valid: choose one of {list(UTILITIES)}")
        _number("cara_gamma", self.cara_gamma, 0.0, 100.0, lo_open=True)
        if self.max_drawdown is not None:
            _number("max_drawdown", self.max_drawdown, 0.0, 1e12, lo_open=True)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle; a config pickled before ``action_mapping`` existed keeps the old mapping.

        Without this, the class default (``"touch"``) would silently reinterpret the actions of
        an environment saved in an older checkpoint (``train.py --resume``).
        """
        state = dict(state)
        state.setdefault("action_mapping", LEGACY_ACTION_MAPPING)
        state.setdefault("observe_alpha", False)
        state.setdefault("penalty_timing", "running")
        for key, value in state.items():
            object.__setattr__(self, key, value)


def env_config_keys() -> list[str]:
    """The names of the :class:`EnvConfig` fields."""
    return [f.name for f in fields(EnvConfig)]


def resolve_configs(
    preset_name: str = "default",
    config: MarketConfig | None = None,
    env_config: EnvConfig | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    extra_keys: tuple[str, ...] = (),
    owner: str = "the environment",
) -> tuple[MarketConfig, EnvConfig]:
    """Build the market and environment configs from a base and keyword overrides.

    Args:
        preset_name: Base market preset (:func:`mm_gym.config.preset`), used if ``config`` is
            None.
        config: Base market config (overrides ``preset_name``).
        env_config: Base environment config (default :class:`EnvConfig()`).
        overrides: Keyword overrides: :class:`EnvConfig` fields, :class:`MarketConfig` fields
            (nested as mappings or dotted keys such as ``"flow.shock_rate"``) and the aliases
            ``mm1_limit`` / ``mm2_limit`` / ``news_model`` / ``news_file`` / ``news_asset``
            (:data:`MARKET_ALIASES`).
        extra_keys: Further keys the caller accepts (only used to list them in errors).
        owner: The constructor named in the unknown-key error, e.g. ``"MarketMakingEnv"``.

    Returns:
        ``(market_config, env_config)``.

    Raises:
        UnknownKeywordError: On an unknown key (a ConfigError and a TypeError worded as Python's
            ``"X() got an unexpected keyword argument 'k'"``; the message lists the valid keys).
        ConfigError: On an invalid value (or an unknown field under a dotted key).
    """
    if config is not None and not isinstance(config, MarketConfig):
        raise ConfigError(f"config={excerpt(config)} must be a MarketConfig")
    if env_config is not None and not isinstance(env_config, EnvConfig):
        raise ConfigError(f"env_config={excerpt(env_config)} must be an EnvConfig")
    market = config if config is not None else preset(preset_name)
    env = env_config if env_config is not None else EnvConfig()
    env_keys = set(env_config_keys())
    market_keys = {f.name for f in fields(MarketConfig)}
    env_changes: dict[str, Any] = {}
    market_changes: dict[str, Any] = {}
    for key, value in (overrides or {}).items():
        if not isinstance(key, str):
            raise ConfigError(f"override key {excerpt(key)} must be a string")
        head = key.split(".", 1)[0]
        if key in env_keys:
            env_changes[key] = value
        elif key in MARKET_ALIASES:
            market_changes[MARKET_ALIASES[key]] = value
        elif head in market_keys:
            market_changes[key] = value
        else:
            valid = sorted(env_keys | market_keys | set(MARKET_ALIASES) | set(extra_keys))
            raise UnknownKeywordError(
                f"unknown key {excerpt(key)}: {owner}() got an unexpected keyword argument "
                f"{excerpt(key)}; valid keys are {valid} (nested market fields also as dotted "
                "keys, e.g. 'flow.shock_rate')"
            )
    if market_changes:
        market = with_overrides(market, market_changes)
    if env_changes:
        env = replace(env, **env_changes)
    return market, env
