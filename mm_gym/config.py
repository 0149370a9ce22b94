"""Typed, validated, frozen configuration for the market and the environments.

Every dataclass here is frozen and validates itself in ``__post_init__``; a bad value raises
:class:`ConfigError` naming the field, the value and the allowed range. Configs nest:
:class:`MarketConfig` holds a :class:`ProcessConfig`, a :class:`FlowConfig`, a
:class:`MakersConfig`, a :class:`RivalConfig`, an :class:`IntensityConfig` and a
:class:`FormationConfig`.

Units: prices in integer ticks (``tick_size`` currency per tick), sizes in integer lots
(``lot_size`` units of the asset per lot), time in integer steps. Rates are per step.
Cash and PnL are in currency: one tick on one lot is ``tick_size * lot_size`` (1.0 by default).

Use :func:`preset` for the named presets and :func:`load_config` / :func:`save_config` for YAML
or JSON files (unknown keys are an error). This module defines the classes and the checks of
their values; the preset table lives in :mod:`mm_gym.presets`, overrides and files in
:mod:`mm_gym.config_files`, and both are importable from here too.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import reprlib
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeGuard

import numpy as np

__all__ = [
    "MAX_CONFIG_BYTES",
    "MAX_CONFIG_NODES",
    "REGIMES",
    "ConfigError",
    "FlowConfig",
    "FormationConfig",
    "IntensityConfig",
    "MakersConfig",
    "MarketConfig",
    "ProcessConfig",
    "RivalConfig",
    "UnknownKeywordError",
    "book_preset_names",
    "load_config",
    "preset",
    "preset_names",
    "preset_overrides",
    "read_config_file",
    "save_config",
    "setting_preset",
    "with_overrides",
]

MARKET_MODEL_VERSION = 3
"""Version of the simulated dynamics; bumped whenever the market's behaviour changes for the same
config (it is part of the fingerprint that stored baseline calibrations are matched by)."""

REGIMES: tuple[str, ...] = ("mean_reverting", "trending", "volatile")
"""The regimes of the fundamental, in the order of their integer codes (0, 1, 2)."""

REGIME_CHOICES: tuple[str, ...] = (*REGIMES, "switching")
FILL_MODES: tuple[str, ...] = ("book", "intensity")
PRICE_FORMATIONS: tuple[str, ...] = ("legacy", "book")
NEWS_MODELS: tuple[str, ...] = ("none", "vader", "lm")
"""Values of :attr:`ProcessConfig.news_model`: no headlines, or the lexicon model scoring them
(:data:`mm_gym.news.MODELS`)."""


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the field, the value and the range."""


class UnknownKeywordError(ConfigError, TypeError):
    """An environment constructor got a keyword argument it does not know.

    A :class:`ConfigError` (so ``except ConfigError`` still catches it) and a :class:`TypeError`
    worded as Python's own (``"X() got an unexpected keyword argument 'k'"``): libraries that
    probe optional keywords, such as TorchRL's ``GymEnv`` with ``frameskip=``, catch that
    ``TypeError`` and retry without the keyword. The message also lists the valid keys.

    The message is one line of at most :data:`MAX_KEYWORD_MESSAGE` characters: ``gym.make``
    re-raises a ``TypeError`` as ``type(e)(f"{e} ... with kwargs ({kwargs})")``, every keyword
    value printed in full, so the cut happens here.
    """

    def __init__(self, message: str) -> None:
        """Keep ``message`` (Python's wording first) as one bounded line."""
        text = " ".join(str(message).splitlines())
        if len(text) > MAX_KEYWORD_MESSAGE:
            text = text[: MAX_KEYWORD_MESSAGE - 3] + "..."
        super().__init__(text)


MAX_KEYWORD_MESSAGE = 1_000
"""Most characters of an :class:`UnknownKeywordError` message."""


def excerpt(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters, for error messages about untrusted input.

    The value is abbreviated while it is formatted (:mod:`reprlib`: the first few items of a
    container, the start of a string, the size of a huge integer), so a million-item list costs
    no more than a short one; the result is one line, and a failing ``repr`` is named by type.

    Args:
        value: Anything.
        limit: Most characters returned (>= 10).

    Returns:
        The (possibly cut) representation; a cut one ends in ``"..."``.
    """
    limit = max(int(limit), 10)
    text = " ".join(_ExcerptRepr(limit).repr(value).splitlines())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _ExcerptRepr(reprlib.Repr):
    """A :class:`reprlib.Repr` sized so that its output only needs cutting at the end."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        items = limit // 2 + 1  # each item shows at least "0, "
        self.maxlist = self.maxtuple = self.maxset = self.maxfrozenset = items
        self.maxdeque = self.maxarray = self.maxdict = items
        # reprlib cuts long strings and reprs in the middle; keep the cut past our limit.
        self.maxstring = self.maxother = self.maxlong = 2 * limit + 10

    def repr_int(self, x: int, level: int) -> str:
        # repr() of an int over 4,300 digits raises ValueError (CPython's conversion limit).
        if x.bit_length() > 4 * self.maxlong:
            return f"<an integer of about {int(x.bit_length() * math.log10(2)) + 1} digits>"
        return super().repr_int(x, level)

    # reprlib sorts a whole dict or set before showing its first items; take them as they come.
    def repr_dict(self, x: dict[Any, Any], level: int) -> str:
        if not x:
            return "{}"
        if level <= 0:
            return "{...}"
        shown = [
            f"{self.repr1(k, level - 1)}: {self.repr1(v, level - 1)}"
            for k, v in itertools.islice(x.items(), self.maxdict)
        ]
        return "{" + ", ".join(shown) + (", ...}" if len(x) > self.maxdict else "}")

    def repr_set(self, x: set[Any], level: int) -> str:
        if not x:
            return "set()"
        if level <= 0:
            return "{...}"
        shown = [self.repr1(v, level - 1) for v in itertools.islice(x, self.maxset)]
        return "{" + ", ".join(shown) + (", ...}" if len(x) > self.maxset else "}")


def _check_range(
    name: str,
    value: Any,
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    integer: bool = False,
) -> None:
    """Raise ConfigError unless ``value`` is a finite number in the given interval."""
    lo_s = "-inf" if lo is None else repr(lo)
    hi_s = "inf" if hi is None else repr(hi)
    left = "(" if lo_open or lo is None else "["
    right = ")" if hi_open or hi is None else "]"
    interval = f"{left}{lo_s}, {hi_s}{right}"
    kind = "an integer" if integer else "a number"
    shown = f"{name}={excerpt(value)}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{shown} must be {kind} in {interval}")
    # Only floats can be fractional or non-finite; a huge int would overflow float().
    if isinstance(value, float) and (
        not math.isfinite(value) or (integer and not value.is_integer())
    ):
        raise ConfigError(f"{shown} must be {kind} in {interval}")
    if lo is not None and (value < lo or (lo_open and value == lo)):
        raise ConfigError(f"{shown} is out of range: must be {kind} in {interval}")
    if hi is not None and (value > hi or (hi_open and value == hi)):
        raise ConfigError(f"{shown} is out of range: must be {kind} in {interval}")


def is_integer(value: Any) -> TypeGuard[int | np.integer]:
    """Whether ``value`` is a Python or numpy integer; bools (Python's and numpy's) are not."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _plain_number(value: Any) -> Any:
    """A numpy integer or float (a sweep's ``np.linspace``) as the equal Python number."""
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(f"{name}={excerpt(value)} is not valid: choose one of {list(choices)}")


# Each field of the config classes states its own check; ``__post_init__`` (inherited from
# :class:`_Validated`) runs them all with :func:`_check_fields`, so a field's default and its
# allowed values are written in one place.


def _ranged(
    default: float,
    lo: float | str | None,
    hi: float | str | None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    integer: bool = False,
) -> Any:
    """A field that must be a number in ``[lo, hi]`` (see :func:`_check_range`).

    A bound given as a string names another field of the same config whose value is the bound.
    """
    bounds = {"lo_open": lo_open, "hi_open": hi_open, "integer": integer}
    return field(default=default, metadata={"range": (lo, hi, bounds)})


def _flag(default: bool) -> Any:
    """A field that must be a bool (``true`` or ``false`` in a file)."""
    return field(default=default, metadata={"flag": True})


def _choice(default: str, choices: tuple[str, ...]) -> Any:
    """A field that must be one of the strings ``choices``."""
    return field(default=default, metadata={"choices": choices})


def _text(default: str) -> Any:
    """A field that must be a string (any text; its meaning is checked with the other fields)."""
    return field(default=default, metadata={"text": True})


def _part(cls: type) -> Any:
    """A field holding a nested config of class ``cls`` (default: ``cls()``)."""
    return field(default_factory=cls, metadata={"part": cls})


def _check_fields(config: Any, prefix: str) -> None:
    """Run the check each field of the config dataclass ``config`` states, in field order.

    Raises:
        ConfigError: For the first invalid field, named ``prefix + name`` (``"flow.lo_rate"``).
    """
    for f in dataclasses.fields(config):
        name, value, rule = prefix + f.name, getattr(config, f.name), f.metadata
        if "range" in rule:
            lo, hi, bounds = rule["range"]
            lo = getattr(config, lo) if isinstance(lo, str) else lo
            hi = getattr(config, hi) if isinstance(hi, str) else hi
            value = _plain_number(value)
            _check_range(name, value, lo, hi, **bounds)
            if bounds["integer"]:
                value = int(value)  # 1e3 (integer-valued) counts steps as 1000 does
            if value is not getattr(config, f.name):
                object.__setattr__(config, f.name, value)
        elif "flag" in rule:
            if not isinstance(value, bool):
                raise ConfigError(f"{name}={excerpt(value)} must be true or false")
        elif "choices" in rule:
            _check_choice(name, value, rule["choices"])
        elif "text" in rule:
            if not isinstance(value, str):
                raise ConfigError(f"{name}={excerpt(value)} must be a string")
        elif "part" in rule:
            if not isinstance(value, rule["part"]):
                raise ConfigError(f"{name}={excerpt(value)} must be a {rule['part'].__name__}")


class _Validated:
    """Base of the config dataclasses: ``__post_init__`` runs the check of every field.

    A subclass gives the prefix of its field names in error messages as a class keyword
    (``class FlowConfig(_Validated, prefix="flow.")``) and puts the checks that involve several
    fields in :meth:`_check_together`, which runs after the fields' own checks.
    """

    _prefix: ClassVar[str] = ""

    def __init_subclass__(cls, prefix: str = "", **kwargs: Any) -> None:
        """Record ``prefix`` (``"flow."``: errors name ``flow.lo_rate``)."""
        super().__init_subclass__(**kwargs)
        cls._prefix = prefix

    def __post_init__(self) -> None:
        """Validate every field, then the fields together."""
        _check_fields(self, self._prefix)
        self._check_together()

    def _check_together(self) -> None:
        """Check constraints across fields (none unless a subclass adds them)."""


@dataclass(frozen=True)
class ProcessConfig(_Validated, prefix="process."):
    """Exogenous processes: the fundamental price per regime, the regime chain, sentiment, news.

    Attributes:
        sigma_ticks: Standard deviation of the fundamental's per-step innovation, in ticks
            (0.6 ticks/step at 1 s steps and 1-cent ticks on a 100.00 price is about 1 %/day).
        ou_kappa: Per-step pull of the fundamental to its anchor in ``mean_reverting``
            (discrete OU: ``F += kappa * (anchor - F) + sigma * eps``; AR(1) coefficient 1-kappa).
        trend_drift_ticks: Drift per step in ``trending``, multiplied by the latent sentiment
            (so its sign follows sentiment), in ticks.
        volatile_sigma_mult: Multiplier of ``sigma_ticks`` in ``volatile``.
        volatile_flow_mult: Multiplier of the noise and informed arrival rates in ``volatile``.
        switch_prob: Per-step probability that the ``switching`` chain leaves its regime; the
            next regime is drawn uniformly among the other two (mean dwell ``1/switch_prob``).
        sentiment_kappa: Per-step mean reversion of the latent sentiment driver ``x``
            (sentiment ``s = tanh(x)`` lies in [-1, 1]).
        sentiment_sigma: Per-step standard deviation of the latent driver's innovation.
        news_rate: Poisson rate of news items per step; each reads ``s + noise`` (or, with
            ``news_model`` set, is a headline whose score is the reading).
        news_noise: Standard deviation of a news item's reading error (unused by headlines).
        alpha_smooth: EMA weight of a news item in the observed sentiment.
        news_model: ``"none"`` (default: each news item reads ``clip(s + noise, -1, 1)`` and the
            observed sentiment is an EMA updated only on arrival), or the lexicon model that
            scores headlines, ``"vader"`` or ``"lm"`` (:mod:`mm_gym.news`; needs the extra
            ``news``). With a model, each news item is a headline drawn uniformly from the
            bank's bucket of the latent sentiment ``s``, its score the reading, and the observed
            sentiment decays every step: ``o <- d * o``, ``d = 2 ** (-1 / news_half_life_steps)``,
            then ``o <- (1 - alpha_smooth) * o + alpha_smooth * score`` per headline. The
            market (prices, flow, fills) is the same with or without headlines; only the
            observed sentiment and the headline records differ.
        news_half_life_steps: Half-life, steps, of the observed sentiment's decay towards 0
            between headlines (only with a ``news_model``). The default, 140, is about the
            latent sentiment's own half-life ``ln 2 / sentiment_kappa`` at the default kappa.
        news_buckets: Sentiment buckets ``B`` of the headline bank (over [-1, 1]).
        news_per_bucket: Headlines ``N`` per bucket in the bank.
        news_bank_seed: Seed of the bank's headline text (the bank is built once and cached,
            :func:`mm_gym.news.load_bank`).
        news_file: A user's headline file (``.csv`` / ``.parquet``, :func:`mm_gym.news.
            load_headlines`) that replaces the bank: replay. ``""`` (default): no file. Needs
            ``news_model`` ``"vader"`` or ``"lm"`` to score it. Each episode replays the same
            headlines at the same steps (:class:`mm_gym.news.HeadlineReplay` has the rule:
            integer timestamp ``k`` is env step ``max(k, 1)``; date-times are
            ``1 + floor((t - t_first) / news_seconds_per_step)``; beyond ``horizon_steps``
            ignored, with a warning); the market itself is unchanged.
        news_asset: The asset of ``news_file`` to replay (its ``asset`` column); ``""`` takes
            the file's only asset (a file with several needs one named).
        news_seconds_per_step: Seconds per env step when ``news_file`` has date-time stamps.
        alpha_sentiment_weight: Weight ``w_s`` of the observed sentiment in the ``alpha``
            observation feature, ``clip(w_s * sentiment + w_i * imbalance_l1, -1, 1)``
            (observed with ``observe_alpha=True``; it changes nothing else).
        alpha_imbalance_weight: Weight ``w_i`` of the best-level book imbalance in ``alpha``.
            The defaults ``(1, 1)`` are the weights :class:`baselines.SentimentAS` calibrates to
            on ``trending`` (VADER, LM and noisy readings alike).
    """

    sigma_ticks: float = _ranged(0.6, 0.0, 50.0)
    ou_kappa: float = _ranged(0.01, 0.0, 1.0)
    trend_drift_ticks: float = _ranged(0.08, 0.0, 10.0)
    volatile_sigma_mult: float = _ranged(2.5, 1.0, 20.0)
    volatile_flow_mult: float = _ranged(1.5, 1.0, 20.0)
    switch_prob: float = _ranged(0.002, 0.0, 1.0)
    sentiment_kappa: float = _ranged(0.005, 0.0, 1.0)
    sentiment_sigma: float = _ranged(0.05, 0.0, 5.0)
    news_rate: float = _ranged(0.05, 0.0, 10.0)
    news_noise: float = _ranged(0.3, 0.0, 10.0)
    alpha_smooth: float = _ranged(0.3, 0.0, 1.0, lo_open=True)
    news_model: str = _choice("none", NEWS_MODELS)
    news_half_life_steps: float = _ranged(140.0, 0.0, 1e9, lo_open=True)
    news_buckets: int = _ranged(21, 2, 1_001, integer=True)
    news_per_bucket: int = _ranged(256, 1, 100_000, integer=True)
    news_bank_seed: int = _ranged(0, 0, 2**63 - 1, integer=True)
    news_file: str = _text("")
    news_asset: str = _text("")
    news_seconds_per_step: float = _ranged(1.0, 0.0, 1e9, lo_open=True)
    alpha_sentiment_weight: float = _ranged(1.0, -10.0, 10.0)
    alpha_imbalance_weight: float = _ranged(1.0, -10.0, 10.0)

    def _check_together(self) -> None:
        """A headline file needs a model to score it; an asset needs a file."""
        if self.news_file and self.news_model == "none":
            raise ConfigError(
                f"process.news_file={excerpt(self.news_file)} needs process.news_model 'vader' "
                "or 'lm' to score its headlines (it is 'none')"
            )
        if self.news_asset and not self.news_file:
            raise ConfigError(
                f"process.news_asset={excerpt(self.news_asset)} picks an asset of "
                "process.news_file, which is not set"
            )


@dataclass(frozen=True)
class FlowConfig(_Validated, prefix="flow."):
    """Order flow: background liquidity, noise and informed market orders, Hawkes, shocks, impact.

    Attributes:
        lo_rate: Poisson rate per side per step of background limit orders.
        lo_mean_distance_ticks: Mean distance (geometric) of a background limit order from the
            fundamental; arrival rate decays with distance. A limit order that would cross the
            book executes as a marketable order up to its price (stale quotes get picked off).
        lo_mean_size_lots: Mean (geometric, >= 1) size of a background limit order.
        cancel_rate: Per-lot per-step probability that a background lot is cancelled.
        noise_rate: Poisson rate per step of noise market orders (side 50/50).
        noise_size_alpha: Pareto tail index of noise order sizes (heavy-tailed, ``size =
            ceil(U ** (-1/alpha))``), capped at ``max_order_lots``.
        informed_rate: Poisson rate per step of informed market orders.
        informed_scale_ticks: Informed traders buy with probability
            ``sigmoid((F - mid) / scale + informed_sentiment_weight * s)``.
        informed_sentiment_weight: Weight of the latent sentiment in the informed side.
        informed_mean_size_lots: Mean (geometric, >= 1) size of an informed order.
        max_order_lots: Cap of any single market order.
        hawkes: Whether noise arrivals self-excite: ``lambda = mu + sum alpha e^{-beta dt}``.
        hawkes_alpha: Jump of the intensity per event (per step units).
        hawkes_beta: Decay rate per step; ``alpha / beta < 1`` keeps the process stationary.
            The discrete kernel is scaled so that its total mass is exactly ``alpha / beta``,
            hence the mean rate is ``noise_rate / (1 - alpha / beta)``.
        shock_rate: Per-step probability that a liquidity shock starts.
        shock_duration_steps: How many steps a shock lasts.
        shock_size_lots: Size of the market order a shock sends each step.
        p_adversarial: Probability that a shock's side goes against mm1's inventory (a long mm1
            gets sells); otherwise, or when mm1 is flat, the side is random.
        permanent_impact_ticks: Permanent impact on the fundamental per lot of signed market
            volume (0 disables it; book depletion is the transient part either way).
    """

    lo_rate: float = _ranged(5.0, 0.0, 100.0, lo_open=True)
    lo_mean_distance_ticks: float = _ranged(3.0, 0.0, 50.0)
    lo_mean_size_lots: float = _ranged(2.0, 1.0, 100.0)
    cancel_rate: float = _ranged(0.05, 0.0, 1.0)
    noise_rate: float = _ranged(1.0, 0.0, 100.0)
    noise_size_alpha: float = _ranged(2.0, 0.5, 10.0)
    informed_rate: float = _ranged(0.25, 0.0, 100.0)
    informed_scale_ticks: float = _ranged(1.0, 0.0, 100.0, lo_open=True)
    informed_sentiment_weight: float = _ranged(1.0, -10.0, 10.0)
    informed_mean_size_lots: float = _ranged(2.0, 1.0, 100.0)
    max_order_lots: int = _ranged(50, 1, 10_000, integer=True)
    hawkes: bool = _flag(False)
    hawkes_alpha: float = _ranged(0.5, 0.0, 100.0)
    hawkes_beta: float = _ranged(1.0, 0.0, 100.0, lo_open=True)
    shock_rate: float = _ranged(0.001, 0.0, 1.0)
    shock_duration_steps: int = _ranged(5, 1, 10_000, integer=True)
    shock_size_lots: int = _ranged(8, 1, 10_000, integer=True)
    p_adversarial: float = _ranged(0.8, 0.0, 1.0)
    permanent_impact_ticks: float = _ranged(0.0, 0.0, 10.0)

    def _check_together(self) -> None:
        """Check the constraint across fields."""
        if self.hawkes_alpha / self.hawkes_beta >= 1.0:
            raise ConfigError(
                f"flow.hawkes_alpha/flow.hawkes_beta={self.hawkes_alpha / self.hawkes_beta!r} "
                "must be < 1 (branching ratio; a stationary Hawkes process needs alpha < beta)"
            )


@dataclass(frozen=True)
class MakersConfig(_Validated, prefix="makers."):
    """The two makers' accounts: inventory limits and fees.

    Attributes:
        mm1_limit: mm1's inventory limit in lots; at ``+limit`` it may not bid, at ``-limit``
            it may not ask (only the side that adds exposure is blocked).
        mm2_limit: mm2's inventory limit in lots.
        maker_rebate: Rebate paid to a maker per lot filled, in currency.
        taker_fee: Fee paid by an aggressor per lot, in currency (the makers never take:
            their quotes are post-only).
    """

    mm1_limit: int = _ranged(20, 1, 1_000_000, integer=True)
    mm2_limit: int = _ranged(20, 1, 1_000_000, integer=True)
    maker_rebate: float = _ranged(0.2, 0.0, 1_000.0)
    taker_fee: float = _ranged(0.3, 0.0, 1_000.0)


@dataclass(frozen=True)
class RivalConfig(_Validated, prefix="rival."):
    """The market's built-in scripted rival (mm2's fast path).

    Its half-spread is ``half_spread_ticks``; its centre is the mid shifted by
    ``-inventory_skew_ticks * q / limit + flow_skew_ticks * flow_signal`` where ``flow_signal`` is
    the EMA of signed market-order volume divided by its EMA of absolute volume (in [-1, 1]).

    Attributes:
        half_spread_ticks: Distance of each quote from its centre, in ticks (>= 0.5).
        inventory_skew_ticks: Shift of the centre at a full inventory limit, in ticks.
        flow_skew_ticks: Shift of the centre at fully one-sided recent flow, in ticks.
        size_lots: Size of each quote in lots.
    """

    half_spread_ticks: float = _ranged(1.0, 0.5, 100.0)
    inventory_skew_ticks: float = _ranged(2.0, 0.0, 100.0)
    flow_skew_ticks: float = _ranged(1.0, 0.0, 100.0)
    size_lots: int = _ranged(1, 1, 10_000, integer=True)


@dataclass(frozen=True)
class IntensityConfig(_Validated, prefix="intensity."):
    """The intensity (no-book) fill model of Avellaneda & Stoikov (2008).

    The mid is an arithmetic random walk that moves ``+- sigma * sqrt(dt)`` with equal
    probability each step; a quote at distance ``delta`` is filled with probability
    ``A * exp(-k * delta) * dt`` per step, one unit. Prices here are in currency, not ticks.

    Attributes:
        s0: Initial mid.
        horizon: Terminal time T.
        sigma: Volatility of the mid (currency per sqrt time).
        dt: Time step (``horizon / dt`` is the number of steps).
        k: Decay of the fill intensity with distance.
        A: Fill intensity at distance zero.
        q0: Initial inventory.
    """

    s0: float = _ranged(100.0, 0.0, 1e9, lo_open=True)
    horizon: float = _ranged(1.0, 0.0, 1e6, lo_open=True)
    sigma: float = _ranged(2.0, 0.0, 1e6)
    dt: float = _ranged(0.005, 0.0, "horizon", lo_open=True)
    k: float = _ranged(1.5, 0.0, 1e6, lo_open=True)
    A: float = _ranged(140.0, 0.0, 1e9)
    q0: int = _ranged(0, -1_000_000, 1_000_000, integer=True)

    def _check_together(self) -> None:
        """Check the constraint across fields."""
        if self.A * self.dt > 1.0:
            raise ConfigError(
                f"intensity.A*intensity.dt={self.A * self.dt!r} must be <= 1 "
                "(it is a per-step fill probability at distance zero)"
            )

    @property
    def n_steps(self) -> int:
        """Number of steps ``round(horizon / dt)``."""
        return round(self.horizon / self.dt)


@dataclass(frozen=True)
class FormationConfig(_Validated, prefix="formation."):
    """The order-book price formation, used when ``MarketConfig.price_formation == "book"``.

    Ignored by ``"legacy"``. Each mechanism is needed for one stylized fact (README, "Realism
    report"; measured by ``python -m mm_gym.realism``) and each has a value that switches it
    off. Rates are per step, sizes in lots, prices in ticks.

    Attributes:
        queue_ref_lots: Queue-reactive limit-order arrivals (Huang, Lehalle & Rosenbaum 2015):
            the rate at a level holding ``q`` lots is ``lo_rate * 2 q_ref / (q_ref + q)``; gives a
            1-tick spread most steps, concave impact, no empty side. 0 switches it off (constant
            ``lo_rate``). Limit orders are placed ``Geometric(lo_mean_distance_ticks)`` ticks
            behind the same-side best (not around the hidden fundamental).
        inside_spread_prob: Probability that a limit order arriving while the spread is wider
            than one tick goes uniformly inside the spread (sides in random order each step);
            0 switches it off.
        metaorder_share: Share of the uninformed market orders that are children of a parent
            metaorder (Lillo, Mike & Farmer 2005); 0 switches metaorders off (i.i.d. signs).
        metaorder_count: Parent metaorders running at once per market (<= 8).
        metaorder_tail: Pareto tail exponent of parent lengths in child orders (sign Hurst
            ``H = (3 - tail) / 2``, 0.75 at 1.5).
        activity_sigma: Stationary standard deviation of each of three log-OU components of a
            slow activity factor that scales market, limit and cancel rates alike (volatility
            clustering); 0 switches it off (factor 1).
        activity_tau_fast_steps: Time scale (steps) of the first component.
        activity_tau_mid_steps: Time scale of the second.
        activity_tau_slow_steps: Time scale of the third.
        activity_cap: Cap of the activity factor (its mean is 1 before the cap).
        touch_take_prob: Depth-relative market-order sizes (Farmer et al. 2004): with this
            probability an order takes exactly the opposite touch's depth, else the fraction
            ``U ** depth_fraction_power`` of it (at least 1 lot). Sizes then scale with the
            liquidity available: impact exponent ~0.5. 0 together with power 0 is "take the
            touch"; there is no i.i.d.-size fallback in this model.
        depth_fraction_power: Power of the uniform giving the fraction of the touch taken.
        adaptive_kappa: Adaptive liquidity providers: limit-order rate on the side expected to
            be hit is scaled by ``1 + kappa * e`` (the other ``1 - kappa * e``), ``e`` the EWMA
            of past market-order signs; removes the momentum metaorders leave. 0 switches off.
        adaptive_half_life_orders: Half-life of that EWMA, in market orders.
        informed_decay: Per-step decay of the informed traders' private signal (the gap between
            the hidden fundamental and the mid); 1 means the information lives one step. Short
            lived information keeps the mid unpredictable (a persistent gap would not).
        pull_mult: Gain of the OU pull to the anchor in ``mean_reverting`` on the private
            signal (``g += pull_mult * ou_kappa * (anchor - mid)``); the pull reaches the price
            only through informed order flow, so it needs a larger gain than the legacy model's
            direct pull. 0 switches mean reversion off. (``trending`` adds
            ``trend_drift_ticks * s`` with gain 1.)
        volatile_lo_mult: Multiplier of the limit-order arrival rate in ``volatile``; 1 is off.
            The liquidity providers keep pace with the faster flow (``volatile_mo_mult``), so
            the book keeps its depth: in a thinner book even a 1-lot order often clears the
            touch, and impact stops growing with size (exponent ~0.3 at 0.4, below the square
            root law).
        volatile_mo_mult: Multiplier of the market-order rates (noise and informed) in
            ``volatile``, on top of ``process.volatile_flow_mult`` (which the legacy model reads
            alone); 1 is off. With depth-relative sizes about a third of the orders clear the
            touch whatever its depth, so the mid's variance grows with the order rate: volatile
            trading is busier (Clark 1973; Ane & Geman 2000), and its volatility is at least
            twice the default's.
        shock_one_step: A liquidity shock is one market order of ``flow.shock_size_lots`` in
            the step it starts (at most two ticks through the book), not one per step for
            ``flow.shock_duration_steps`` steps: a multi-step burst in one direction is a trend
            anyone who saw its first step could ride (return ACF 0.065 at lags 2-4 and a 5-lag
            predictor's R^2 of 0.012 in ``shock_heavy``); its start stays unpredictable. False
            restores the burst.
    """

    queue_ref_lots: float = _ranged(8.0, 0.0, 1e4)
    inside_spread_prob: float = _ranged(0.5, 0.0, 1.0)
    metaorder_share: float = _ranged(0.7, 0.0, 1.0)
    metaorder_count: int = _ranged(4, 1, 8, integer=True)
    metaorder_tail: float = _ranged(1.5, 1.0, 10.0, lo_open=True)
    activity_sigma: float = _ranged(0.7, 0.0, 3.0)
    activity_tau_fast_steps: float = _ranged(30.0, 1.0, 1e7)
    activity_tau_mid_steps: float = _ranged(300.0, 1.0, 1e7)
    activity_tau_slow_steps: float = _ranged(3_000.0, 1.0, 1e7)
    activity_cap: float = _ranged(8.0, 1.0, 1e3)
    touch_take_prob: float = _ranged(0.3, 0.0, 1.0)
    depth_fraction_power: float = _ranged(2.0, 0.0, 20.0)
    adaptive_kappa: float = _ranged(0.5, 0.0, 1.0)
    adaptive_half_life_orders: float = _ranged(20.0, 0.1, 1e6)
    informed_decay: float = _ranged(0.5, 0.0, 1.0, lo_open=True)
    pull_mult: float = _ranged(15.0, 0.0, 1e3)
    volatile_lo_mult: float = _ranged(2.5, 0.0, 10.0, lo_open=True)
    volatile_mo_mult: float = _ranged(2.5, 1.0, 20.0)
    shock_one_step: bool = _flag(True)


@dataclass(frozen=True)
class MarketConfig(_Validated):
    """Everything the market simulator needs.

    Attributes:
        fills: ``"book"`` (the limit order book) or ``"intensity"`` (the AS 2008 model).
        regime: ``"mean_reverting"``, ``"trending"``, ``"volatile"`` or ``"switching"`` (a
            Markov chain over the three; it starts in a uniformly drawn regime).
        tick_size: Currency per tick.
        lot_size: Units of the asset per lot.
        price0_ticks: Initial fundamental and the mean-reversion anchor, in ticks.
        horizon_steps: Steps in an episode.
        n_levels: Width of each market's price window in ticks; the window re-centres on the
            fundamental when it drifts a quarter-width from the centre.
        warmup_steps: Steps of background flow (no makers) run at reset to build the book.
        process: Exogenous processes.
        flow: Order flow.
        makers: Makers' accounts.
        rival: Built-in rival.
        intensity: The intensity model (used when ``fills == "intensity"``).
        price_formation: ``"book"`` (the default since 0.2.0, env ids ``-v1``: liquidity
            anchored on the book, the mechanisms of :class:`FormationConfig`; the fundamental
            reaches the price only through informed order flow) or ``"legacy"`` (the 0.1 market
            of the ``-v0`` ids: liquidity re-centred on the hidden fundamental each step, so the
            mid lags it and past returns predict the next; kept for comparison).
        formation: Parameters of the ``"book"`` price formation.
    """

    fills: str = _choice("book", FILL_MODES)
    regime: str = _choice("mean_reverting", REGIME_CHOICES)
    tick_size: float = _ranged(0.01, 0.0, 1e6, lo_open=True)
    lot_size: float = _ranged(100.0, 0.0, 1e9, lo_open=True)
    price0_ticks: int = _ranged(10_000, 1_000, 1_000_000_000, integer=True)
    horizon_steps: int = _ranged(1_000, 1, 100_000_000, integer=True)
    n_levels: int = _ranged(256, 64, 4_096, integer=True)
    warmup_steps: int = _ranged(100, 0, 100_000, integer=True)
    process: ProcessConfig = _part(ProcessConfig)
    flow: FlowConfig = _part(FlowConfig)
    makers: MakersConfig = _part(MakersConfig)
    rival: RivalConfig = _part(RivalConfig)
    intensity: IntensityConfig = _part(IntensityConfig)
    price_formation: str = _choice("book", PRICE_FORMATIONS)
    formation: FormationConfig = _part(FormationConfig)

    @property
    def value_per_tick_lot(self) -> float:
        """Currency value of one tick on one lot."""
        return self.tick_size * self.lot_size


def config_to_dict(config: Any) -> dict[str, Any]:
    """Return a plain nested dict of a config dataclass (for YAML/JSON)."""
    return dataclasses.asdict(config)


# The preset table and the file reading build on the classes above, so they are imported after
# them (``import mm_gym`` imports this module first, so neither ever runs before it); their
# names stay importable from here, where they were first defined.
from mm_gym.config_files import (  # noqa: E402  (see above)
    MAX_CONFIG_BYTES,
    MAX_CONFIG_NODES,
    load_config,
    read_config_file,
    save_config,
    with_overrides,
)
from mm_gym.presets import (  # noqa: E402  (see above)
    book_preset_names,
    preset,
    preset_names,
    preset_overrides,
    setting_preset,
)
