"""The live market behind the dashboard's first page: one environment stepped by a policy.

:class:`LiveMarket` makes ``mm_gym/MarketMaking-v1`` for a preset (and optional regime), lets
an mm1 :class:`~mm_gym.policy.QuotingPolicy` (a baseline or a trained run) quote against a rival
(the built-in maker, a baseline or a trained run), and records after every step what the page
plots: mid and fundamental, both makers' quotes, inventories, PnL (realized, unrealized, total),
sentiment, regime and shocks. With a news model (``process.news_model``) it also lists the
episode's headlines as they arrive (:meth:`LiveMarket.headlines`). It reads the market through
the environment's public views (:attr:`MarketMakingEnv.simulator`, the observation features,
``env.unwrapped.headlines()``) and imports no Streamlit.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from mm_gym_dashboard.paths import DashboardError

__all__ = [
    "BASELINES",
    "BUILTIN_RIVAL",
    "FEED_COLUMNS",
    "NEWS_CHOICES",
    "RUN_PREFIX",
    "LiveMarket",
    "LiveSettings",
    "RiskSnapshot",
    "book_presets",
    "describe_choice",
    "evaluation_baselines",
    "make_policy",
    "policy_choices",
]

BUILTIN_RIVAL = "builtin"
"""The rival choice for the simulator's built-in scripted maker."""

RUN_PREFIX = "run:"
"""Prefix of a policy choice naming a trained run (``run:<name>`` for ``runs/<name>``)."""

BASELINES: dict[str, dict[str, Any]] = {
    "FixedSpread": {},
    "OrderFlowSkew": {},
    "AvellanedaStoikov": {"gamma": 0.01, "k": 1.5},
    "GLFT": {"gamma": 0.01, "k": 1.5, "A": 0.5},
    "RandomQuoter": {},
}
"""The baseline policies offered, with the keyword arguments they get unless overridden."""

REGIME_CHOICES: tuple[str, ...] = ("preset", "mean_reverting", "trending", "volatile", "switching")
"""Regime choices: ``"preset"`` keeps the preset's regime."""

NEWS_CHOICES: dict[str, str] = {
    "none": "off",
    "vader": "VADER headlines",
    "lm": "Loughran-McDonald headlines",
}
"""News-model choices (:data:`mm_gym.config.NEWS_MODELS`) and their menu labels."""

FEED_COLUMNS: tuple[str, ...] = ("step", "score", "sentiment", "bucket", "flat_index", "text")
"""Columns of :meth:`LiveMarket.headlines`."""


def book_presets() -> list[str]:
    """The market presets with an order book (the intensity-model ``as2008`` has none)."""
    from mm_gym.config import preset, preset_names

    return [name for name in preset_names() if preset(name).fills == "book"]


def evaluation_baselines() -> tuple[str, ...]:
    """Every registered baseline by name (:func:`baselines.registry.policy_names`).

    ``evaluate.py --contestants all`` runs these but the opt-in ones
    (:data:`baselines.registry.OPT_IN_NAMES`, e.g. ``sentiment_as``). They carry
    ``evaluate.py``'s parameters (Avellaneda-Stoikov and GLFT calibrated on the setting), so the
    live market shows the same opponents as the leaderboard.
    """
    from baselines.registry import policy_names

    return policy_names()


def policy_choices(runs_root: Path, *, rival: bool = False) -> list[str]:
    """Policy choices in menu order.

    ``"builtin"`` (rival only), :func:`evaluation_baselines`, the baseline classes of
    :data:`BASELINES` (with editable parameters), then ``run:<name>`` per run folder.
    """
    from mm_gym_dashboard.runs import list_runs

    runs = [f"{RUN_PREFIX}{p.name}" for p in list_runs(runs_root)]
    head = [BUILTIN_RIVAL] if rival else []
    return head + list(evaluation_baselines()) + list(BASELINES) + runs


def describe_choice(choice: str) -> str:
    """A choice of :func:`policy_choices` as shown in the menus."""
    if choice == BUILTIN_RIVAL:
        return "builtin (the simulator's rival)"
    if choice in BASELINES:
        return f"{choice}(…) with your parameters"
    if choice.startswith(RUN_PREFIX):
        return f"trained: {choice[len(RUN_PREFIX) :]}"
    return f"{choice} (as in evaluate.py)"


def _parse_params(text: str, who: str) -> dict[str, Any]:
    if not text.strip():
        return {}
    try:
        params = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DashboardError(f"{who} parameters are not valid JSON ({exc})") from None
    if not isinstance(params, dict):
        raise DashboardError(f'{who} parameters must be a JSON object, e.g. {{"gamma": 0.1}}')
    return params


def make_policy(
    choice: str,
    params: str = "",
    runs_root: Path = Path("runs"),
    setting: str = "default",
    overrides: dict[str, Any] | None = None,
) -> Any:
    """Build the policy for a choice of :func:`policy_choices`.

    Args:
        choice: An :func:`evaluation_baselines` name, a baseline class name, ``run:<name>``,
            or ``"builtin"`` (returns None).
        params: JSON object of keyword arguments for a baseline class (over
            :data:`BASELINES`).
        runs_root: Folder of the trained runs.
        setting: Preset the ``evaluate.py`` baselines are calibrated on.
        overrides: Environment overrides of that setting (e.g. the regime).

    Returns:
        A :class:`~mm_gym.policy.QuotingPolicy`, or None for the built-in rival.

    Raises:
        DashboardError: On an unknown choice, bad parameters or a run that cannot be loaded.
    """
    if choice == BUILTIN_RIVAL:
        return None
    if choice in evaluation_baselines():
        from baselines.registry import make_policy as registry_policy

        try:
            return registry_policy(choice, setting, overrides)
        except Exception as exc:  # calibration runs the market; report whatever it raises
            raise DashboardError(f"cannot build {choice} for {setting}: {exc}") from None
    if choice in BASELINES:
        import baselines

        kwargs = {**BASELINES[choice], **_parse_params(params, choice)}
        try:
            return getattr(baselines, choice)(**kwargs)
        except (TypeError, ValueError) as exc:  # ConfigError is a ValueError
            raise DashboardError(f"{choice}(**{kwargs}) failed: {exc}") from None
    if choice.startswith(RUN_PREFIX):
        path = runs_root / choice[len(RUN_PREFIX) :]
        try:
            import agents

            load_policy = agents.load_policy
        except (ImportError, AttributeError) as exc:
            raise DashboardError(
                f"cannot load trained run {path}: agents.load_policy is not available ({exc})"
            ) from None
        try:
            return load_policy(str(path))
        except Exception as exc:  # a broken run may fail in torch, zip or pickle code
            raise DashboardError(f"cannot load trained run {path}: {exc}") from None
    raise DashboardError(f"unknown policy {choice!r}: choose one of {policy_choices(runs_root)}")


@dataclass(frozen=True)
class LiveSettings:
    """What the user chose for the live market (a new episode starts when it changes).

    Attributes:
        preset: Market preset (:func:`book_presets`).
        regime: ``"preset"`` or a regime name overriding the preset's.
        mm1: mm1's policy choice (:func:`policy_choices`).
        mm1_params: JSON keyword arguments for a baseline mm1.
        rival: mm2's policy choice, or ``"builtin"``.
        rival_params: JSON keyword arguments for a baseline rival.
        seed: Episode seed.
        news_model: ``"none"`` (noisy news readings) or the lexicon model scoring headlines,
            ``"vader"`` or ``"lm"`` (``process.news_model``; menu labels :data:`NEWS_CHOICES`).
    """

    preset: str = "default"
    regime: str = "preset"
    mm1: str = "FixedSpread"  # the page defaults to the first choice offered
    mm1_params: str = ""
    rival: str = BUILTIN_RIVAL
    rival_params: str = ""
    seed: int = 0
    news_model: str = "none"


@dataclass(frozen=True)
class RiskSnapshot:
    """Value-at-risk of mm1's inventory against the same risk at its inventory limit.

    With ``sigma`` the standard deviation of one-step mid changes over the window (currency per
    lot) and ``z`` the normal quantile of ``level``: ``var = z * sigma * |q|`` and
    ``var_limit = z * sigma * limit`` (one-step, parametric), so ``utilisation = |q| / limit``.
    ``hist_var`` / ``hist_es`` are the historical VaR and ES of the realized one-step
    inventory PnL ``q[t-1] * dmid[t]`` over the window (:func:`mm_gym.metrics.var_es`).

    Attributes:
        level: Confidence level.
        window: Steps of history used.
        sigma: Standard deviation of one-step mid changes, currency per lot.
        inventory: mm1's inventory, lots.
        limit: mm1's inventory limit, lots.
        var: Parametric one-step VaR of the inventory, currency.
        var_limit: The same at the inventory limit, currency.
        utilisation: ``|inventory| / limit``.
        hist_var: Historical one-step VaR of inventory PnL, currency (NaN without history).
        hist_es: Historical expected shortfall of inventory PnL, currency.
    """

    level: float
    window: int
    sigma: float
    inventory: float
    limit: float
    var: float
    var_limit: float
    utilisation: float
    hist_var: float
    hist_es: float


class LiveMarket:
    """One ``MarketMakingEnv`` episode driven by an mm1 policy, with its recorded history.

    Args:
        settings: The user's choices.
        runs_root: Folder of the trained runs (for ``run:<name>`` choices).

    Raises:
        DashboardError: If a policy cannot be built or the environment rejects the settings.
    """

    def __init__(self, settings: LiveSettings, runs_root: Path = Path("runs")) -> None:
        """Make the environment and both policies, and reset to step 0."""
        import gymnasium as gym

        import mm_gym
        from mm_gym.evaluation import observation_overrides
        from mm_gym.policy import PolicyContext

        self.settings = settings
        overrides: dict[str, Any] = (
            {} if settings.regime == "preset" else {"regime": settings.regime}
        )
        if settings.news_model != "none":
            overrides["news_model"] = settings.news_model  # sentiment_as tunes its kappa on it
        mm1 = make_policy(settings.mm1, settings.mm1_params, runs_root, settings.preset, overrides)
        if mm1 is None:
            raise DashboardError("mm1 needs a policy: the built-in maker can only be the rival")
        self.mm1 = mm1
        rival = make_policy(
            settings.rival, settings.rival_params, runs_root, settings.preset, overrides
        )
        self.rival_name = "built-in rival" if rival is None else _policy_name(rival)
        kwargs: dict[str, Any] = {
            "preset": settings.preset,
            "rival": BUILTIN_RIVAL if rival is None else rival,
            # the regime one-hot or alpha, if a policy reads them (sentiment_as reads alpha)
            **observation_overrides(overrides, mm1, rival),
        }
        try:
            self.env = gym.make(mm_gym.BOOK_ENV_IDS[0], **kwargs)
        # ConfigError is a ValueError; ImportError: a news model's package (the extra "news")
        except (ValueError, TypeError, ImportError) as exc:
            raise DashboardError(f"cannot make the environment: {exc}") from None
        env: Any = self.env.unwrapped  # a MarketMakingEnv
        self.market_config = env.market_config
        self.env_config = env.env_config
        self.sim = env.simulator
        self.feature_names: tuple[str, ...] = tuple(env.feature_names)
        self.tick_size = float(self.market_config.tick_size)
        self.lot_size = float(self.market_config.lot_size)
        self.horizon = int(self.market_config.horizon_steps)
        self.limits = (
            int(self.market_config.makers.mm1_limit),
            int(self.market_config.makers.mm2_limit),
        )
        context = PolicyContext(
            feature_names=self.feature_names,
            max_offset_ticks=float(self.env_config.max_offset_ticks),
            horizon_steps=self.horizon,
            inventory_limit=self.limits[0],
            tick_size=self.tick_size,
            quote_size_lots=int(self.env_config.quote_size_lots),
            action_mapping=self.env_config.action_mapping,
        )
        self._col = {name: i for i, name in enumerate(self.feature_names)}
        try:
            self.mm1.reset(np.random.default_rng([settings.seed, 1]), context)
        except (KeyError, TypeError, ValueError) as exc:
            raise DashboardError(f"mm1 policy {self.mm1_name} cannot quote here: {exc}") from None
        self.obs, info = self.env.reset(seed=int(settings.seed))
        self.done = False
        self.last_reward = 0.0
        self._rows: list[dict[str, Any]] = []
        self._frame: pd.DataFrame | None = None
        self._record(info, 0.0)

    # ------------------------------------------------------------------ driving
    @property
    def mm1_name(self) -> str:
        """mm1's display name."""
        return _policy_name(self.mm1)

    @property
    def step_count(self) -> int:
        """Steps taken in the episode."""
        return len(self._rows) - 1

    def step(self, n: int = 1) -> int:
        """Advance up to ``n`` steps (fewer if the episode ends); returns the steps taken.

        Raises:
            DashboardError: If the mm1 policy returns an unusable action.
        """
        taken = 0
        for _ in range(max(0, int(n))):
            if self.done:
                break
            try:
                action = np.asarray(self.mm1.act(self.obs[None, :]), dtype=np.float32)[0]
                self.obs, reward, terminated, truncated, info = self.env.step(action)
            except (ValueError, TypeError, KeyError, IndexError) as exc:
                raise DashboardError(
                    f"step {self.step_count + 1}: mm1 policy {self.mm1_name} or the rival "
                    f"failed: {exc}"
                ) from None
            self.done = bool(terminated or truncated)
            self._record(info, float(reward))
            taken += 1
        return taken

    def _quote(self, mid_ticks: float, feature: str) -> float:
        """A resting quote's price from its observed offset (NaN when none rests)."""
        from mm_gym.observations import NO_QUOTE_OFFSET

        off = float(self.obs[self._col[feature]])
        if off >= NO_QUOTE_OFFSET:
            return math.nan
        sign = -1.0 if feature.endswith("bid_offset") else 1.0
        return (mid_ticks + sign * off) * self.tick_size

    def _record(self, info: dict[str, Any], reward: float) -> None:
        from mm_gym.config import REGIMES

        sim = self.sim
        mid_ticks = float(sim.mid[0])
        total, realized, unrealized, fees = (
            sim.total_pnl[0],
            sim.realized[0],
            sim.unrealized[0],
            sim.fees[0],
        )
        row: dict[str, Any] = {
            "step": int(info.get("step", len(self._rows))),
            "mid": mid_ticks * self.tick_size,
            "fundamental": float(sim.fundamental[0]) * self.tick_size,
            "mm1_bid": self._quote(mid_ticks, "own_bid_offset"),
            "mm1_ask": self._quote(mid_ticks, "own_ask_offset"),
            "mm2_bid": self._quote(mid_ticks, "rival_bid_offset"),
            "mm2_ask": self._quote(mid_ticks, "rival_ask_offset"),
            "sentiment": float(sim.sentiment[0]),
            "regime": REGIMES[int(sim.regime[0])],
            "shock": bool(sim.shock_step[0]),
            "fills": int(info.get("fills", 0)),
            "reward": reward,
        }
        for k, maker in enumerate(("mm1", "mm2")):
            row[f"{maker}_inventory"] = float(sim.inventory[0, k])
            row[f"{maker}_realized"] = float(realized[k])
            row[f"{maker}_unrealized"] = float(unrealized[k])
            row[f"{maker}_fees"] = float(fees[k])
            row[f"{maker}_total"] = float(total[k])
        self.last_reward = reward
        self._rows.append(row)
        self._frame = None

    # ------------------------------------------------------------------ read-out
    @property
    def has_headlines(self) -> bool:
        """Whether the market draws headlines (a news model is set)."""
        return self.sim.headline_bank is not None

    def headlines(self, limit: int | None = None) -> pd.DataFrame:
        """The episode's headlines so far, newest first (:data:`FEED_COLUMNS`).

        ``step``, ``score`` (the news model's), ``bucket``, ``flat_index`` and ``text`` as
        ``env.unwrapped.headlines()`` lists them (:class:`~mm_gym.envs.core.HeadlineRecord`),
        and ``sentiment``: the observed sentiment after that step (every headline of the step
        averaged in). Empty without headlines.

        Args:
            limit: Keep only the newest ``limit`` headlines (None: all).
        """
        from mm_gym.envs.core import HeadlineRecord

        if not self.has_headlines:
            return pd.DataFrame(columns=list(FEED_COLUMNS))
        env: Any = self.env.unwrapped  # a MarketMakingEnv
        records = env.headlines()
        if limit is not None:
            records = records[len(records) - max(0, int(limit)) :]
        feed = pd.DataFrame(list(reversed(records)), columns=list(HeadlineRecord._fields))
        sentiment = self.history.set_index("step")["sentiment"]
        feed["sentiment"] = sentiment.reindex(feed["step"]).to_numpy()
        return feed[list(FEED_COLUMNS)]

    @property
    def history(self) -> pd.DataFrame:
        """One row per step from the reset on (step 0): everything the page plots."""
        if self._frame is None:
            self._frame = pd.DataFrame(self._rows)
        return self._frame

    @property
    def last(self) -> dict[str, Any]:
        """The latest row of :attr:`history`."""
        return self._rows[-1]

    def events(self) -> pd.DataFrame:
        """Shocks and regime changes: columns ``step``, ``event``."""
        h = self.history
        shocks = h.loc[h["shock"], ["step"]].assign(event="shock")
        changed = h["regime"].ne(h["regime"].shift()) & (h.index > 0)
        regimes = h.loc[changed, ["step", "regime"]]
        regimes = regimes.assign(event="regime → " + regimes["regime"])[["step", "event"]]
        return pd.concat([shocks, regimes]).sort_values("step", kind="stable")

    def book(self, depth: int = 10) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The depth ladder around the mid and the makers' resting quotes on it.

        Returns:
            ``(levels, quotes)``: ``levels`` has ``price``, ``lots``, ``side`` (background
            volume per tick; the makers' own orders are not included), ``quotes`` has
            ``price``, ``maker`` (``"mm1 bid"``, ...).
        """
        bt, bl, at, al = self.sim.book_levels(0, depth)
        tick = self.tick_size
        levels = pd.DataFrame(
            {
                "price": np.concatenate([bt, at]) * tick,
                "lots": np.concatenate([bl, al]).astype(int),
                "side": ["bid"] * len(bt) + ["ask"] * len(at),
            }
        )
        last = self.last
        quotes = [
            {"price": last[key], "maker": key.replace("_", " ")}
            for key in ("mm1_bid", "mm1_ask", "mm2_bid", "mm2_ask")
            if np.isfinite(last[key])
        ]
        return levels, pd.DataFrame(quotes, columns=["price", "maker"])

    def risk(self, window: int = 100, level: float = 0.95) -> RiskSnapshot:
        """mm1's inventory VaR now, against the VaR at its limit (see :class:`RiskSnapshot`)."""
        from mm_gym.metrics import var_es

        h = self.history
        mid = h["mid"].to_numpy()[-(window + 1) :]
        dmid = np.diff(mid) * self.lot_size  # currency per lot per step
        q = h["mm1_inventory"].to_numpy()[-(window + 1) :]
        sigma = float(dmid.std(ddof=1)) if dmid.size >= 2 else math.nan
        z = NormalDist().inv_cdf(level)
        inv, limit = float(q[-1]), float(self.limits[0])
        hist_var = hist_es = math.nan
        if dmid.size >= 1:
            hist_var, hist_es = (float(x) for x in var_es(q[:-1] * dmid, level))
        return RiskSnapshot(
            level=level,
            window=window,
            sigma=sigma,
            inventory=inv,
            limit=limit,
            var=z * sigma * abs(inv),
            var_limit=z * sigma * limit,
            utilisation=abs(inv) / limit,
            hist_var=hist_var,
            hist_es=hist_es,
        )

    def risk_path(self, window: int = 100, level: float = 0.95) -> pd.DataFrame:
        """Parametric VaR of mm1's inventory per step (rolling sigma), and at the limit.

        Returns:
            Columns ``step``, ``VaR`` (inventory), ``VaR at limit``; rows before two mid
            changes exist are left out.
        """
        h = self.history
        sigma = (h["mid"].diff() * self.lot_size).rolling(window, min_periods=2).std()
        z = NormalDist().inv_cdf(level)
        out = pd.DataFrame(
            {
                "step": h["step"],
                "VaR": z * sigma * h["mm1_inventory"].abs(),
                "VaR at limit": z * sigma * self.limits[0],
            }
        )
        return out.dropna()


def _policy_name(policy: Any) -> str:
    name = getattr(policy, "name", None)
    return name if isinstance(name, str) and name else type(policy).__name__
