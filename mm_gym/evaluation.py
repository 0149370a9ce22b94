"""Monte Carlo evaluation of quoting policies on the batched environment.

Every contestant (a :class:`~mm_gym.policy.QuotingPolicy`) quotes as **mm1** in
:class:`~mm_gym.envs.vector.MarketMakingVectorEnv` against the same rival, over the same list of
evaluation seeds: episode ``i`` of every contestant runs on the same seed, so all contestants
face the same exogenous path (fundamental, regime, sentiment, news, noise flow; common random
numbers) and their per-episode results can be compared pairwise
(:func:`mm_gym.metrics.paired_diff_ci`).

All episodes of one contestant in one setting run in one vector environment (``batch_size``
episodes at a time), so the Python cost per step is shared by the whole batch. Per step the
rollout stores a few ``(T, n)`` arrays read from the simulator (mid, inventory, PnL, cash, fees,
spread capture, quotes) and streams the market-impact sums; the per-episode metrics of
:mod:`mm_gym.metrics` are then computed for the whole batch at once.

Main entry points:

- :func:`evaluate_policies`: one setting (preset or env id) -> per-episode ``DataFrame``;
- :func:`run_tournament`: several settings, with sample traces and plot data;
- :func:`summarize`, :func:`leaderboard`, :func:`format_leaderboard`: statistics and tables.

Example:
    >>> from baselines import FixedSpread, RandomQuoter
    >>> from mm_gym.evaluation import evaluate_policies, summarize
    >>> df = evaluate_policies({"fixed": FixedSpread(2.0), "random": RandomQuoter()},
    ...                        "mean_reverting", n_episodes=64, seed=0)
    >>> summary = summarize(df, baseline="fixed")
"""

from __future__ import annotations

import copy
import math
import warnings
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numba as nb
import numpy as np
import pandas as pd

from mm_gym import metrics
from mm_gym.config import ConfigError, preset, preset_names
from mm_gym.market.state import (
    A_AVG,
    A_CASH,
    A_FEES,
    A_INV,
    A_N_FILLS,
    A_REALIZED,
    A_STEP_BOUGHT,
    A_STEP_EDGE,
    A_STEP_SOLD,
    A_VOLUME,
    F_FUND,
    F_MID,
    F_SENT_OBS,
    FILL_CAP,
    I_NEWS,
    I_ONE_SIDED,
    I_REGIME,
    I_SHOCK_STEP,
    I_SHOCKS,
    KIND_BACKGROUND,
    KIND_NAMES,
    M_KIND,
    M_POST_MID,
    M_PRE_MID,
    M_SIDE,
    M_SIZE,
    MO_CAP,
    O_SIZE,
    O_TICK,
    R_KIND,
    R_MAKER,
    R_SIDE,
    R_SIZE,
    R_TICK,
)
from mm_gym.observations import FEATURE_NAMES, FEATURE_NAMES_ALL
from mm_gym.policy import PolicyContext, QuotingPolicy

__all__ = [
    "BAND_QUANTILES",
    "EPISODE_COLUMNS",
    "SUMMARY_CI_METRICS",
    "PolicyOrFactory",
    "Rollout",
    "Tournament",
    "csv_text",
    "evaluate_policies",
    "evaluation_seeds",
    "format_leaderboard",
    "leaderboard",
    "make_figures",
    "resolve_setting",
    "rollout",
    "run_tournament",
    "safe_name",
    "setting_configs",
    "summarize",
    "write_figures",
    "write_report",
    "write_tables",
]

BAND_QUANTILES: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)
"""Quantiles of the equity and inventory paths kept for the fan plots."""

EPISODE_COLUMNS: dict[str, str] = {
    "total_pnl": "mark-to-market PnL at the end, currency (metrics.pnl_attribution_from_steps)",
    "spread_capture": "edge of the fills against the mid at each fill, currency",
    "inventory_pnl": "mark-to-market PnL of held inventory (carry + intra-step), currency",
    "fees": "maker rebates received minus fees, currency",
    "inventory_carry": "sum of q_{t-1} x (mid_t - mid_{t-1}) x lot_size, currency",
    "realized_pnl": "average-cost realized PnL at the end, fees excluded, currency",
    "unrealized_pnl": "inventory x (mid - average cost) at the end, currency",
    "sharpe": "mean / std of per-step PnL x sqrt(T) (metrics.sharpe)",
    "max_drawdown": "largest fall of the equity curve from its running peak, currency",
    "var": "95% historical VaR of per-step PnL, currency per step (metrics.var_es)",
    "es": "95% expected shortfall of per-step PnL, currency per step",
    "mean_inventory": "mean inventory, lots",
    "mean_abs_inventory": "mean |inventory|, lots",
    "inventory_variance": "population variance of the inventory, lots^2",
    "max_abs_inventory": "max |inventory|, lots",
    "frac_at_limit": "fraction of steps with |inventory| at the limit (time at limit)",
    "final_inventory": "inventory at the end, lots",
    "n_fills": "number of fills",
    "volume_lots": "lots traded",
    "fill_rate": "fills per step (metrics.fill_rate)",
    "quoted_spread_ticks": "mean ask - bid of the posted quotes over two-sided steps, ticks",
    "mean_impact": "mean signed mid move of a market order, price units (metrics.market_impact_*)",
    "impact_per_lot": "sum of signed mid moves / lots of market orders, price units per lot",
    "impact_slope": "OLS slope of signed mid move on order size, price units per lot",
    "impact_intercept": "intercept of that regression, price units",
    "n_orders": "market orders (noise, informed, shock) that traded",
    "episode_reward": "sum of the environment's rewards (the training objective)",
    "rival_pnl": "the rival's (mm2's) mark-to-market PnL at the end, currency",
    "n_shocks": "liquidity shocks in the episode",
}
"""Per-episode metric columns of :func:`evaluate_policies` and what they mean. Each row also
has ``preset``, ``policy``, ``rival``, ``episode`` (index in the seed list), ``seed`` and
``length`` (steps), and one ``reward_<component>`` column per reward component (episode sums,
unscaled, see :mod:`mm_gym.rewards`)."""

SUMMARY_CI_METRICS: tuple[str, ...] = ("total_pnl", "sharpe", "episode_reward")
"""Metrics that :func:`summarize` gives bootstrap CIs and paired differences for."""

_DEFAULT_BATCH = 2048
# 12 significant digits: prices like 99.99000000000001 (binary rounding of tick x size) print as
# 99.99, while cents on a cash balance of 10^9 survive.
_CSV_FLOAT = "%.12g"
_SEED_SALT = 0x6D6D5F65  # "mm_e": evaluation seeds are unrelated to training seeds 0, 1, 2...


# --------------------------------------------------------------------------- settings and seeds


def evaluation_seeds(n_episodes: int, seed: int = 0, stream: int = 0) -> np.ndarray:
    """The fixed list of evaluation seeds: ``n_episodes`` distinct root seeds from ``seed``.

    The list is a prefix-stable function of ``seed`` (the first 100 seeds of a 1,000-episode
    evaluation are the seeds of the 100-episode one), drawn from ``SeedSequence`` so that
    evaluation seeds do not collide with the small integers used for training.

    Args:
        n_episodes: Number of episodes, >= 1.
        seed: Master seed, >= 0.
        stream: Independent list number, >= 0 (e.g. one per stress scenario); stream 0 is the
            default list.

    Returns:
        ``(n_episodes,)`` uint64 root seeds (below 2**63).

    Raises:
        ConfigError: On a non-positive ``n_episodes`` or a negative ``seed``.
    """
    _check_int("n_episodes", n_episodes, 1)
    _check_int("seed", seed, 0)
    _check_int("stream", stream, 0)
    seeds = np.empty(n_episodes, np.uint64)
    extra = [int(stream)] if stream else []
    # Blocks of 1,024 from one SeedSequence each keep the list prefix-stable.
    for start in range(0, n_episodes, 1024):
        stop = min(n_episodes, start + 1024)
        block = np.random.SeedSequence([int(seed), _SEED_SALT, start // 1024, *extra])
        seeds[start:stop] = block.generate_state(1024, np.uint64)[: stop - start] >> np.uint64(1)
    return seeds


def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ConfigError(f"{name}={value!r} must be an integer >= {low}")


def resolve_setting(setting: str) -> tuple[str, dict[str, Any]]:
    """Turn a preset name or a registered env id into ``(env_id, make_kwargs)``.

    Args:
        setting: A book preset (``"mean_reverting"``, ...) or an id such as
            ``"mm_gym/Trending-v0"``.

    Returns:
        The env id for ``gym.make_vec`` and the keyword arguments that select the preset.

    Raises:
        ConfigError: On an unknown name (the message lists the valid ones) or the intensity
            preset (it has no order book and no vector environment).
    """
    import mm_gym

    book_presets = [p for p in preset_names() if preset(p).fills == "book"]
    if isinstance(setting, str) and setting in mm_gym.BOOK_ENV_IDS:
        return setting, {}
    if isinstance(setting, str) and setting in book_presets:
        return "mm_gym/MarketMaking-v0", {"preset": setting}
    raise ConfigError(
        f"setting={setting!r} is not valid: choose a book preset {book_presets} or an env id "
        f"{list(mm_gym.BOOK_ENV_IDS)}"
    )


def setting_configs(setting: str, overrides: Mapping[str, Any] | None = None) -> tuple[Any, Any]:
    """The ``(MarketConfig, EnvConfig)`` an environment of ``setting`` with ``overrides`` uses.

    Raises:
        ConfigError: On an unknown setting or an invalid override.
    """
    import gymnasium as gym

    from mm_gym.envs.config import resolve_configs

    env_id, kwargs = resolve_setting(setting)
    spec_kwargs = dict(gym.spec(env_id).kwargs)
    name = kwargs.get("preset", spec_kwargs.get("preset", "default"))
    return resolve_configs(name, None, None, dict(overrides or {}))


# --------------------------------------------------------------------------- one rollout


@dataclass
class Rollout:
    """Everything one contestant produced in one setting.

    Attributes:
        policy: Contestant name.
        setting: Preset name or env id.
        episodes: One row per episode (columns: see :data:`EPISODE_COLUMNS`).
        traces: ``{"MM1": df, "MM2": df}`` per-step traces of the sample episode (columns step,
            mid, bid, ask, inventory, cash, realized, unrealized, fees, total, lots_traded,
            regime, sentiment, fundamental, event); empty without a sample episode.
        impacts: ``{"market": df, "MM1": df, "MM2": df}``: the sample episode's aggressive
            orders (step, kind, size, side, pre_mid, post_mid, impact) and, per maker, the
            orders of the kind and side that filled it in their step (plus ``maker_lots``).
        bands: ``{"equity": (T + 1, q), "inventory": (T, q)}`` quantiles
            (:data:`BAND_QUANTILES`) over the first batch's full-length episodes, and
            ``"equity_mean"`` ``(T + 1,)`` over all full-length episodes.
    """

    policy: str
    setting: str
    episodes: pd.DataFrame
    traces: dict[str, pd.DataFrame] = field(default_factory=dict)
    impacts: dict[str, pd.DataFrame] = field(default_factory=dict)
    bands: dict[str, np.ndarray] = field(default_factory=dict)


def _policy_rng(seed: int, setting: str, name: str, batch: int) -> np.random.Generator:
    """The generator a contestant gets at reset: a function of the seed, setting and name."""
    key = [int(seed), zlib.crc32(setting.encode()), zlib.crc32(name.encode()), int(batch)]
    return np.random.default_rng(key)


def _enable_recording(venv: Any) -> None:
    """Switch on the simulator's per-step fill and market-order records (``record=True``).

    The environments do not need them and run with the simulator's default (off); the impact
    statistics and the sample traces do.
    """
    venv.simulator.record = True


def _make_env(setting: str, overrides: Mapping[str, Any] | None, n: int, rival: Any) -> Any:
    """The vector env of ``n`` markets for ``setting`` (a gymnasium ``make_vec``)."""
    import gymnasium as gym

    import mm_gym  # noqa: F401  (registers the ids)

    env_id, kwargs = resolve_setting(setting)
    kw = {**kwargs, **dict(overrides or {})}
    if kw.get("action_type", "continuous") != "continuous":
        raise ConfigError(
            f"action_type={kw['action_type']!r}: evaluation runs QuotingPolicies, whose actions "
            "are continuous (bid, ask) offsets; use action_type='continuous'"
        )
    return gym.make_vec(
        env_id, num_envs=n, vectorization_mode="vector_entry_point", rival=rival, **kw
    )


_REGIME_FEATURES = frozenset(FEATURE_NAMES_ALL) - frozenset(FEATURE_NAMES)


def observation_overrides(overrides: Mapping[str, Any] | None, *policies: Any) -> dict[str, Any]:
    """``overrides``, with the regime one-hot observed if one of ``policies`` was trained on it.

    A policy may declare the features it reads as ``feature_names`` (a trained
    :class:`agents.PPOPolicy` does); one trained with ``observe_regime=True`` needs the
    ``regime_*`` columns, which the environment only appends when asked. Observing them changes
    neither the market nor the other columns (policies pick their columns by name), so the
    episodes stay comparable with the other contestants'. An explicit ``observe_regime`` in
    ``overrides`` is kept as given.
    """
    out = dict(overrides or {})
    wanted: set[str] = set()
    for p in policies:
        wanted.update(str(f) for f in getattr(p, "feature_names", None) or ())
    if wanted & _REGIME_FEATURES and "observe_regime" not in out:
        out["observe_regime"] = True
    return out


def tournament_memory_bytes(
    settings: Sequence[str],
    overrides: Mapping[str, Any] | None,
    n_episodes: int,
    n_policies: int,
    batch_size: int = _DEFAULT_BATCH,
    *,
    n_boot: int = 2000,
    n_scenarios: int = 0,
) -> float:
    """A rough peak-memory estimate of :func:`run_tournament` plus :func:`summarize`, in bytes.

    Cheap (no episode is simulated): it builds a 2-market vector env per setting to measure the
    simulator state per market. The terms:

    - one batch: ``min(n_episodes, batch_size)`` markets, each with its simulator state and the
      eight ``(T,)`` float64 series :func:`rollout` keeps, doubled for the temporaries of the
      metrics (so ``128 T`` bytes per episode);
    - the per-episode rows: about 60 float64 columns per (setting, policy, episode), plus the
      seed list;
    - the bootstrap of :func:`summarize`: ``n_boot`` float64 resample weights per episode, for
      each setting and for the pooled rows (``n_scenarios``: the stress grid's settings).

    Args:
        settings: Presets or env ids.
        overrides: Environment overrides (``horizon_steps`` matters most).
        n_episodes: Episodes per (setting, policy).
        n_policies: Number of contestants.
        batch_size: Episodes per vector environment.
        n_boot: Bootstrap resamples of :func:`summarize`.
        n_scenarios: Extra (setting, stress) combinations simulated after the tournament.

    Returns:
        The estimate in bytes (a float: it may exceed any machine).

    Raises:
        ConfigError: On an invalid setting or override.
    """
    per_market = 0.0
    horizon = 1
    for s in settings:
        horizon = max(horizon, int(setting_configs(s, overrides)[0].horizon_steps))
        # The state does not depend on the horizon: measure it on a 1-step env of 2 markets.
        env = _make_env(s, {**dict(overrides or {}), "horizon_steps": 1}, 2, "builtin")
        try:
            st = getattr(env, "unwrapped", env).simulator.state
            arrays = [v for v in vars(st).values() if isinstance(v, np.ndarray)]
            per_market = max(per_market, sum(a.nbytes for a in arrays) / 2)
        finally:
            env.close()
    batch = min(n_episodes, batch_size) * (per_market + 2 * 8 * 8 * (horizon + 1))
    n_settings = len(settings)
    rows = float(n_episodes) * n_policies * (n_settings + n_scenarios) * 60 * 8 + 8 * n_episodes
    pooled = n_settings if n_settings > 1 else 0
    boot = 8.0 * n_boot * n_episodes * (n_settings + pooled + n_scenarios)
    return batch + rows + boot


def _context(venv: Any) -> PolicyContext:
    """mm1's :class:`PolicyContext`, from the vector env's public attributes."""
    mc, ec = venv.market_config, venv.env_config
    return PolicyContext(
        feature_names=tuple(venv.feature_names),
        max_offset_ticks=float(ec.max_offset_ticks),
        horizon_steps=int(mc.horizon_steps),
        inventory_limit=int(mc.makers.mm1_limit),
        tick_size=float(mc.tick_size),
        quote_size_lots=int(ec.quote_size_lots),
    )


def _resolve_rival(rival: Any, contestant: QuotingPolicy) -> Any:
    """Return ``"builtin"``, a fresh policy from a factory, or the given policy.

    The given policy is copied if it is the contestant itself, so mm1 and mm2 share no state.
    """
    if isinstance(rival, str):
        return rival
    if isinstance(rival, QuotingPolicy):
        return copy.deepcopy(rival) if rival is contestant else rival
    if callable(rival):
        made = rival()
        if not isinstance(made, QuotingPolicy):
            raise ConfigError(f"the rival factory returned {made!r}, not a QuotingPolicy")
        return made
    raise ConfigError(
        f"rival={rival!r} is not valid: use 'builtin', a QuotingPolicy or a factory of them"
    )


def _rival_name(rival: Any) -> str:
    if isinstance(rival, str):
        return rival
    if isinstance(rival, QuotingPolicy):
        return str(rival.name)
    return str(getattr(rival, "__name__", "policy"))


class _Trace:
    """Per-step record of one market of the batch (the sample episode), both makers."""

    def __init__(self, j: int, tick: float, value: float) -> None:
        self.j, self.tick, self.value = j, tick, value
        self.rows: list[list[list[float | str]]] = [[], []]
        self.orders: list[tuple[float, ...]] = []
        self.fills: list[tuple[int, ...]] = []
        self.prev_regime = -1

    def record(self, t: int, st: Any) -> None:
        j, tick, value = self.j, self.tick, self.value
        fs, is_, acct, orders = st.fs[j], st.is_[j], st.acct[j], st.orders[j]
        mid = float(fs[F_MID])
        regime = int(is_[I_REGIME])
        events = []
        if is_[I_SHOCK_STEP]:
            events.append("shock")
        if is_[I_NEWS] > 0:
            events.append("news")
        if self.prev_regime >= 0 and regime != self.prev_regime:
            events.append("regime_switch")
        if is_[I_ONE_SIDED]:
            events.append("one_sided")
        self.prev_regime = regime
        event = ";".join(events)
        for k in range(2):
            a, o = acct[k], orders[k]
            bid_q = o[0, O_SIZE] > 0 or a[A_STEP_BOUGHT] > 0
            ask_q = o[1, O_SIZE] > 0 or a[A_STEP_SOLD] > 0
            inv = float(a[A_INV])
            self.rows[k].append(
                [
                    t + 1,
                    mid * tick,
                    float(o[0, O_TICK]) * tick if bid_q else math.nan,
                    float(o[1, O_TICK]) * tick if ask_q else math.nan,
                    inv,
                    float(a[A_CASH]),
                    float(a[A_REALIZED]),
                    inv * (mid - float(a[A_AVG])) * value if inv != 0.0 else 0.0,
                    float(a[A_FEES]),
                    float(a[A_CASH]) + inv * mid * value,
                    float(a[A_STEP_BOUGHT] + a[A_STEP_SOLD]),  # lots traded this step
                    regime,
                    float(fs[F_SENT_OBS]),
                    float(fs[F_FUND]) * tick,
                    event,
                ]
            )
        for r in st.mos[j, : min(int(st.n_mos[j]), MO_CAP)]:
            self.orders.append((t + 1, *r.tolist()))
        for r in st.fills[j, : min(int(st.n_fills[j]), FILL_CAP)]:
            self.fills.append(tuple(int(x) for x in r))

    def frames(self) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
        from mm_gym.config import REGIMES

        cols = [
            "step", "mid", "bid", "ask", "inventory", "cash", "realized", "unrealized", "fees",
            "total", "lots_traded", "regime", "sentiment", "fundamental", "event",
        ]  # fmt: skip
        traces = {}
        for k, name in enumerate(("MM1", "MM2")):
            df = pd.DataFrame(self.rows[k], columns=cols)
            df["regime"] = [REGIMES[int(r)] for r in df["regime"]]
            traces[name] = df
        o = np.asarray(self.orders, dtype=np.float64).reshape(-1, 6)
        market = pd.DataFrame(
            {
                "step": o[:, 0].astype(np.int64),
                "kind": [KIND_NAMES[int(x)] for x in o[:, 1 + M_KIND]],
                "size": o[:, 1 + M_SIZE],
                "side": o[:, 1 + M_SIDE].astype(np.int64),
                "pre_mid": o[:, 1 + M_PRE_MID] * self.tick,
                "post_mid": o[:, 1 + M_POST_MID] * self.tick,
            }
        )
        # + 0.0 turns -0.0 (a sell that did not move the mid) into 0.0 in the files.
        market["impact"] = market["side"] * (market["post_mid"] - market["pre_mid"]) + 0.0
        market = market[market["size"] > 0].reset_index(drop=True)
        f = np.asarray(self.fills, dtype=np.int64).reshape(-1, 6)
        impacts = {"market": market}
        for k, name in enumerate(("MM1", "MM2")):
            mine = f[f[:, R_MAKER] == k]
            # A fill of a resting bid (side 0) comes from a sell (-1), of an ask from a buy (+1).
            lots = pd.DataFrame(
                {
                    "step": mine[:, 0] + 1,
                    "kind": [KIND_NAMES[int(x)] for x in mine[:, R_KIND]],
                    "side": np.where(mine[:, R_SIDE] == 0, -1, 1),
                    "maker_lots": mine[:, R_SIZE],
                    "maker_price": mine[:, R_TICK] * self.tick,
                }
            )
            lots = lots.groupby(["step", "kind", "side"], as_index=False).agg(
                maker_lots=("maker_lots", "sum"), maker_vwap=("maker_price", "mean")
            )
            impacts[name] = market.merge(lots, on=["step", "kind", "side"], how="inner")
        return traces, impacts


def rollout(
    policy: QuotingPolicy,
    setting: str = "mean_reverting",
    overrides: Mapping[str, Any] | None = None,
    seeds: Sequence[int] | np.ndarray | None = None,
    *,
    n_episodes: int = 200,
    seed: int = 0,
    rival: Any = "builtin",
    name: str | None = None,
    batch_size: int = _DEFAULT_BATCH,
    sample_episode: int | None = 0,
    progress: Callable[[int], Any] | None = None,
) -> Rollout:
    """Run ``policy`` as mm1 for one episode per seed and compute its per-episode metrics.

    Args:
        policy: The contestant.
        setting: Book preset name or registered env id (:func:`resolve_setting`).
        overrides: Keyword overrides of the environment (``gym.make`` keywords, e.g.
            ``{"flow.shock_rate": 0.01, "horizon_steps": 500}``).
        seeds: Root seeds, one per episode; default :func:`evaluation_seeds` ``(n_episodes,
            seed)``.
        n_episodes: Number of episodes when ``seeds`` is not given.
        seed: Master seed (evaluation seeds and the policy's generator).
        rival: ``"builtin"``, a :class:`QuotingPolicy` or a zero-argument factory of one.
        name: Contestant name (default ``policy.name``).
        batch_size: Episodes per vector environment (eight float64 series of ``T`` steps are
            kept per episode: 64 kB per episode at ``T = 1000``).
        sample_episode: Index (in ``seeds``) of the episode traced step by step, or None.
        progress: Called after each step of the vector env with the number of new steps (1).

    Returns:
        The :class:`Rollout`.

    Raises:
        ConfigError: On an invalid setting, override, rival or seed list.
        ValueError: If the policy's actions have the wrong shape or are not finite.
    """
    if not isinstance(policy, QuotingPolicy):
        raise ConfigError(f"policy={policy!r} is not a QuotingPolicy (name, reset, act)")
    label = name or str(policy.name)
    seed_arr = evaluation_seeds(n_episodes, seed) if seeds is None else _seed_array(seeds)
    _check_int("batch_size", batch_size, 1)
    n_total = seed_arr.size
    if sample_episode is not None and not 0 <= sample_episode < n_total:
        raise ConfigError(f"sample_episode={sample_episode!r} must be in [0, {n_total - 1}]")
    rival_obj = _resolve_rival(rival, policy)
    frames = []
    out = Rollout(label, setting, pd.DataFrame())
    equity_sum: np.ndarray | None = None
    n_full = 0
    for b, start in enumerate(range(0, n_total, batch_size)):
        chunk = seed_arr[start : start + batch_size]
        j = None
        if sample_episode is not None and start <= sample_episode < start + chunk.size:
            j = sample_episode - start
        res = _run_batch(
            policy, setting, overrides, chunk, rival_obj, _policy_rng(seed, setting, label, b),
            j, progress, first=b == 0,
        )  # fmt: skip
        df = res.pop("episodes")
        df.insert(0, "episode", np.arange(start, start + chunk.size))
        frames.append(df)
        if "equity_sum" in res:
            e = res.pop("equity_sum")
            equity_sum = e if equity_sum is None else equity_sum + e
            n_full += int(res.pop("n_full"))
        if "traces" in res:
            out.traces, out.impacts = res.pop("traces"), res.pop("impacts")
        out.bands.update(res.get("bands", {}))
    if equity_sum is not None and n_full:
        out.bands["equity_mean"] = equity_sum / n_full
    episodes = pd.concat(frames, ignore_index=True)
    episodes.insert(0, "rival", _rival_name(rival_obj))
    episodes.insert(0, "policy", label)
    episodes.insert(0, "preset", setting)
    out.episodes = episodes
    return out


def _seed_array(seeds: Sequence[int] | np.ndarray) -> np.ndarray:
    arr = np.asarray(seeds)
    if arr.ndim != 1 or arr.size == 0 or arr.dtype.kind not in "iu" or (arr < 0).any():
        raise ConfigError(f"seeds={seeds!r} must be a non-empty 1-D list of non-negative ints")
    return arr.astype(np.uint64)


def _run_batch(
    policy: QuotingPolicy,
    setting: str,
    overrides: Mapping[str, Any] | None,
    seeds: np.ndarray,
    rival: Any,
    rng: np.random.Generator,
    sample: int | None,
    progress: Callable[[int], Any] | None,
    *,
    first: bool,
) -> dict[str, Any]:
    """Roll out one batch of episodes in one vector env and compute their metrics."""
    n = int(seeds.size)
    env = _make_env(setting, observation_overrides(overrides, policy, rival), n, rival)
    try:
        venv = getattr(env, "unwrapped", env)
        _enable_recording(venv)
        mc = venv.market_config
        horizon = int(mc.horizon_steps)
        tick, lot = float(mc.tick_size), float(mc.lot_size)
        value = tick * lot
        limit = int(mc.makers.mm1_limit)
        st = venv.simulator.state
        acct, orders = st.acct, st.orders

        obs, _ = env.reset(seed=[int(s) for s in seeds])
        policy.reset(rng, _context(venv))
        trace = _Trace(sample, tick, value) if sample is not None else None

        # (T, n) series, one contiguous row per step written by _record_step.
        mid = np.empty((horizon + 1, n))
        inv = np.empty((horizon, n))
        pnl = np.empty((horizon, n))
        cash = np.empty((horizon, n))
        fees = np.empty((horizon, n))
        edge = np.empty((horizon, n))
        bid = np.empty((horizon, n))
        ask = np.empty((horizon, n))
        mid[0] = st.fs[:, F_MID] * tick
        reward = np.zeros(n)
        comps: dict[str, np.ndarray] = {}
        impact = np.zeros((5, n))  # count, sum size, sum size^2, sum impact, sum size x impact
        alive = np.ones(n, np.bool_)
        length = np.full(n, horizon, np.int64)
        final: dict[str, np.ndarray] = {
            k: np.zeros(n)
            for k in ("realized_pnl", "unrealized_pnl", "n_fills", "volume", "rival", "shocks")
        }
        t = 0
        for t in range(horizon):
            actions = policy.act(obs)
            obs, r, terminated, _, info = env.step(actions)
            _record_step(
                t, tick, value, _COLS, st.fs, acct, orders, st.mos, st.n_mos, alive,
                mid, inv, pnl, cash, fees, edge, bid, ask, impact,
            )  # fmt: skip
            reward += np.where(alive, r, 0.0)
            for key, val in info["reward_components"].items():
                if not key.startswith("_"):
                    c = comps.setdefault(key, np.zeros(n))
                    c += np.where(alive, val, 0.0)
            if trace is not None and alive[trace.j]:
                trace.record(t, st)
            ended = terminated & alive
            if ended.any():
                idx = np.flatnonzero(ended)
                length[idx] = t + 1
                a = acct[idx, 0]
                final["realized_pnl"][idx] = a[:, A_REALIZED]
                final["unrealized_pnl"][idx] = info["unrealized"][idx]
                final["n_fills"][idx] = a[:, A_N_FILLS]
                final["volume"][idx] = a[:, A_VOLUME]
                final["rival"][idx] = info["rival_pnl"][idx]
                final["shocks"][idx] = st.is_[idx, I_SHOCKS]
                alive &= ~ended
            if progress is not None:
                progress(1)
            if not alive.any():
                break
        if progress is not None and t + 1 < horizon:
            progress(horizon - t - 1)
    finally:
        env.close()

    cols: dict[str, np.ndarray] = {"seed": seeds.astype(np.uint64), "length": length}
    metric_cols = _batch_metrics(
        mid, inv, pnl, cash, fees, edge, bid, ask, length, lot=lot, limit=limit
    )
    cols.update(metric_cols)
    cols["realized_pnl"] = final["realized_pnl"]
    cols["unrealized_pnl"] = final["unrealized_pnl"]
    cols["n_fills"] = final["n_fills"]
    cols["volume_lots"] = final["volume"]
    cols["fill_rate"] = np.asarray(metrics.fill_rate(final["n_fills"], length))
    cols.update(metrics.market_impact_from_sums(*impact))  # type: ignore[arg-type]
    cols["episode_reward"] = reward
    for key, val in comps.items():
        cols[f"reward_{key}"] = val
    cols["rival_pnl"] = final["rival"]
    cols["n_shocks"] = final["shocks"]
    order = ["seed", "length", *EPISODE_COLUMNS, *(f"reward_{k}" for k in comps)]
    result: dict[str, Any] = {"episodes": pd.DataFrame({k: cols[k] for k in order})}

    full = length == horizon
    if full.any():
        equity = np.vstack([np.zeros((1, n)), pnl])[:, full]
        result["equity_sum"] = equity.sum(axis=1)
        result["n_full"] = int(full.sum())
        if first:
            q = np.asarray(BAND_QUANTILES)
            result["bands"] = {
                "equity": np.quantile(equity, q, axis=1).T,
                "inventory": np.quantile(inv[:, full], q, axis=1).T,
            }
    if trace is not None:
        result["traces"], result["impacts"] = trace.frames()
    return result


# Column indices handed to the compiled helper as data (not globals), so that its numba cache
# stays valid if the state layout in mm_gym.market.state changes.
_COLS = np.array(
    [
        F_MID, A_CASH, A_INV, A_FEES, A_STEP_EDGE, A_STEP_BOUGHT, A_STEP_SOLD, O_SIZE, O_TICK,
        M_SIZE, M_SIDE, M_PRE_MID, M_POST_MID, M_KIND, KIND_BACKGROUND, MO_CAP,
    ],
    dtype=np.int64,
)  # fmt: skip


@nb.njit(cache=True)
def _record_step(
    t, tick, value, cols, fs, acct, orders, mos, n_mos, alive,
    mid, inv, pnl, cash, fees, edge, bid, ask, impact,
):  # fmt: skip
    """Copy mm1's state after step ``t`` into row ``t`` of the series; add market orders.

    Per market: mid (currency), inventory, mark-to-market PnL ``cash + inventory x mid x
    value`` (as the environment's ``info["pnl"]``), cash, fees, the step's spread capture, the
    posted bid and ask ticks (NaN if that side was not quoted: a side was quoted if its order
    still rests or it traded this step) and, for live episodes, the impact sums of the step's
    market orders (noise, informed, shock; lots filled > 0; see
    :func:`mm_gym.metrics.market_impact_from_sums`).
    """
    f_mid, a_cash, a_inv, a_fees, a_edge, a_bought, a_sold = cols[0:7]
    o_size, o_tick, m_size, m_side, m_pre, m_post, m_kind = cols[7:14]
    kind_bg, mo_cap = cols[14], cols[15]
    for m in range(fs.shape[0]):
        x = fs[m, f_mid]
        a = acct[m, 0]
        q = a[a_inv]
        mid[t + 1, m] = x * tick
        inv[t, m] = q
        pnl[t, m] = a[a_cash] + q * x * value
        cash[t, m] = a[a_cash]
        fees[t, m] = a[a_fees]
        edge[t, m] = a[a_edge]
        o = orders[m, 0]
        bid[t, m] = o[0, o_tick] if (o[0, o_size] > 0 or a[a_bought] > 0) else np.nan
        ask[t, m] = o[1, o_tick] if (o[1, o_size] > 0 or a[a_sold] > 0) else np.nan
        if not alive[m]:
            continue
        for j in range(min(n_mos[m], mo_cap)):
            r = mos[m, j]
            size = r[m_size]
            if size <= 0 or int(r[m_kind]) == kind_bg:
                continue
            imp = r[m_side] * (r[m_post] - r[m_pre]) * tick
            impact[0, m] += 1.0
            impact[1, m] += size
            impact[2, m] += size * size
            impact[3, m] += imp
            impact[4, m] += size * imp


def _batch_metrics(
    mid: np.ndarray,
    inv: np.ndarray,
    pnl: np.ndarray,
    cash: np.ndarray,
    fees: np.ndarray,
    edge: np.ndarray,
    bid: np.ndarray,
    ask: np.ndarray,
    length: np.ndarray,
    *,
    lot: float,
    limit: int,
) -> dict[str, np.ndarray]:
    """The :mod:`mm_gym.metrics` statistics of a batch, vectorized per episode length.

    The series are ``(T, n)`` (``mid`` ``(T + 1, n)``); each group of equal-length episodes is
    transposed to the ``(episodes, steps)`` layout of :mod:`mm_gym.metrics`.
    """
    n = length.size
    keys = [
        "total_pnl", "spread_capture", "inventory_pnl", "fees", "inventory_carry", "sharpe",
        "max_drawdown", "var", "es", "mean_inventory", "mean_abs_inventory",
        "inventory_variance", "max_abs_inventory", "frac_at_limit", "final_inventory",
        "quoted_spread_ticks",
    ]  # fmt: skip
    out = {k: np.full(n, np.nan) for k in keys}
    for ell in np.unique(length):
        g = np.flatnonzero(length == ell)
        L = int(ell)
        zero = np.zeros((g.size, 1))

        def rows(x: np.ndarray, steps: int, g: np.ndarray = g) -> np.ndarray:
            return np.ascontiguousarray(x[:steps, g].T)

        cash_g = np.hstack([zero, rows(cash, L)])
        fees_g = np.hstack([zero, rows(fees, L)])
        d_fees = np.diff(fees_g, axis=1)
        att = metrics.pnl_attribution_from_steps(
            rows(mid, L + 1),
            rows(inv, L),
            np.diff(cash_g, axis=1) - d_fees,
            rows(edge, L),
            d_fees,
            lot_size=lot,
        )
        for k, v in att.items():
            out[k][g] = v
        equity = np.hstack([zero, rows(pnl, L)])
        step_pnl = np.diff(equity, axis=1)
        if L >= 2:
            out["sharpe"][g] = metrics.sharpe(step_pnl)
        else:
            out["sharpe"][g] = 0.0
        out["max_drawdown"][g] = metrics.max_drawdown(equity)
        var, es = metrics.var_es(step_pnl, 0.95)
        out["var"][g], out["es"][g] = var, es
        for k, v in metrics.inventory_stats(rows(inv, L), limit).items():
            out[k][g] = v
        out["final_inventory"][g] = inv[L - 1, g]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out["quoted_spread_ticks"][g] = metrics.quoted_spread(rows(bid, L), rows(ask, L))
    return out


# --------------------------------------------------------------------------- many rollouts


def evaluate_policies(
    policies: Mapping[str, QuotingPolicy],
    setting: str = "mean_reverting",
    overrides: Mapping[str, Any] | None = None,
    n_episodes: int = 200,
    seeds: Sequence[int] | np.ndarray | None = None,
    *,
    seed: int = 0,
    rival: Any = "builtin",
    batch_size: int = _DEFAULT_BATCH,
    progress: Callable[[int], Any] | None = None,
) -> pd.DataFrame:
    """Per-episode metrics of each policy as mm1, all on the same seeds (common random numbers).

    Args:
        policies: Contestants by display name.
        setting: Book preset name or registered env id (:func:`resolve_setting`).
        overrides: Environment keyword overrides (``gym.make`` keywords).
        n_episodes: Episodes per policy when ``seeds`` is not given.
        seeds: Root seeds, one per episode (default :func:`evaluation_seeds`).
        seed: Master seed of the default seed list and of the policies' generators.
        rival: ``"builtin"``, a :class:`QuotingPolicy`, or a zero-argument factory (called
            once per policy, recommended for stateful rivals).
        batch_size: Episodes per vector environment.
        progress: Called with the number of steps done, per step (e.g. ``tqdm.update``).

    Returns:
        One row per (policy, episode): ``preset``, ``policy``, ``rival``, ``episode``, ``seed``,
        ``length`` and the columns of :data:`EPISODE_COLUMNS` plus ``reward_*`` components.

    Raises:
        ConfigError: On an empty or invalid ``policies`` mapping, or as :func:`rollout`.
    """
    policies = _check_policies(policies)
    seed_arr = evaluation_seeds(n_episodes, seed) if seeds is None else _seed_array(seeds)
    frames = [
        rollout(
            pol, setting, overrides, seed_arr, seed=seed, rival=rival, name=name,
            batch_size=batch_size, sample_episode=None, progress=progress,
        ).episodes
        for name, pol in policies.items()
    ]  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def _check_policies(policies: Mapping[str, QuotingPolicy]) -> dict[str, QuotingPolicy]:
    if not isinstance(policies, Mapping) or not policies:
        raise ConfigError("policies must be a non-empty mapping {name: QuotingPolicy}")
    for name, pol in policies.items():
        if not isinstance(name, str) or not name:
            raise ConfigError(f"policy name {name!r} must be a non-empty string")
        if not isinstance(pol, QuotingPolicy):
            raise ConfigError(f"policies[{name!r}]={pol!r} is not a QuotingPolicy")
    return dict(policies)


@dataclass
class Tournament:
    """The results of :func:`run_tournament`.

    Attributes:
        episodes: All per-episode rows (every setting and policy).
        rollouts: The :class:`Rollout` of each (setting, policy), in run order.
    """

    episodes: pd.DataFrame
    rollouts: list[Rollout]

    def rollout(self, setting: str, policy: str) -> Rollout:
        """The rollout of ``policy`` in ``setting``."""
        for r in self.rollouts:
            if r.setting == setting and r.policy == policy:
                return r
        raise KeyError(f"no rollout for setting={setting!r}, policy={policy!r}")


PolicyOrFactory = QuotingPolicy | Callable[[str], QuotingPolicy]
"""A policy, or a function ``setting -> policy`` (e.g. a baseline calibrated per setting)."""


def run_tournament(
    policies: Mapping[str, PolicyOrFactory],
    settings: Sequence[str] = ("mean_reverting", "trending", "switching"),
    overrides: Mapping[str, Any] | None = None,
    n_episodes: int = 200,
    *,
    seed: int = 0,
    stream: int = 0,
    rival: Any = "builtin",
    batch_size: int = _DEFAULT_BATCH,
    sample_episode: int | None = 0,
    progress: Callable[[int], Any] | None = None,
) -> Tournament:
    """Every policy in every setting on one seed list, with sample traces and plot data.

    Args:
        policies: Contestants by display name: policies, or factories ``setting -> policy``
            called once per setting.
        settings: Presets or env ids.
        overrides: Environment keyword overrides applied in every setting.
        n_episodes: Episodes per (setting, policy); the seed list is the same everywhere.
        seed: Master seed.
        stream: Seed list number (:func:`evaluation_seeds`).
        rival: As :func:`evaluate_policies`, or a factory ``setting -> policy``.
        batch_size: Episodes per vector environment.
        sample_episode: Index of the episode traced step by step (None: no traces).
        progress: Called with the number of steps done, per step.

    Returns:
        The :class:`Tournament`.
    """
    if not isinstance(policies, Mapping) or not policies:
        raise ConfigError("policies must be a non-empty mapping {name: policy or factory}")
    for s in settings:
        resolve_setting(s)
    seed_arr = evaluation_seeds(n_episodes, seed, stream)
    runs = []
    for s in settings:
        made = {
            name: p if isinstance(p, QuotingPolicy) or not callable(p) else p(s)
            for name, p in policies.items()
        }
        for name, pol in _check_policies(made).items():
            riv = rival
            if callable(rival) and not isinstance(rival, QuotingPolicy):
                riv = _setting_factory(rival, s)
            runs.append(
                rollout(
                    pol, s, overrides, seed_arr, seed=seed, rival=riv, name=name,
                    batch_size=batch_size, sample_episode=sample_episode, progress=progress,
                )
            )  # fmt: skip
    return Tournament(pd.concat([r.episodes for r in runs], ignore_index=True), runs)


def _setting_factory(factory: Callable[..., QuotingPolicy], setting: str) -> Any:
    """A zero-argument factory from one taking the setting (or already zero-argument)."""
    import inspect

    try:
        n_args = len(inspect.signature(factory).parameters)
    except (TypeError, ValueError):
        n_args = 1
    return factory if n_args == 0 else (lambda: factory(setting))


# --------------------------------------------------------------------------- statistics


def summarize(
    episodes: pd.DataFrame,
    *,
    baseline: str | None = "avellaneda_stoikov",
    ci_metrics: Sequence[str] = SUMMARY_CI_METRICS,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
    pooled: bool = True,
) -> pd.DataFrame:
    """Per (preset, policy): mean and std of every metric, bootstrap CIs, paired differences.

    Columns: ``preset``, ``policy``, ``n_episodes``; ``<metric>_mean`` and ``<metric>_std`` for
    every numeric metric; for each of ``ci_metrics``: ``<m>_ci_low``/``<m>_ci_high`` (percentile
    bootstrap CI of the mean) and, if ``baseline`` ran on the same episodes of the preset,
    ``<m>_diff`` (mean of ``policy - baseline`` episode by episode) with
    ``<m>_diff_low``/``<m>_diff_high`` (its paired bootstrap CI, as
    :func:`mm_gym.metrics.paired_diff_ci`). All of a preset's CIs come from one set of episode
    resamples (:func:`mm_gym.metrics.bootstrap_means`). With ``pooled``, rows with ``preset ==
    "all"`` pool each policy's episodes over the presets (paired by preset and episode).

    Args:
        episodes: Rows of :func:`evaluate_policies` / :func:`run_tournament`.
        baseline: Policy name for the paired differences (None: none).
        ci_metrics: Metrics with CIs and paired differences.
        n_boot: Bootstrap resamples.
        level: Confidence level.
        seed: Seed of the bootstrap generator (the table is reproducible).
        pooled: Add the pooled ``"all"`` rows when there is more than one preset.

    Returns:
        The summary, one row per (preset, policy) in the order of first appearance.

    Raises:
        ConfigError: If a required column is missing or ``ci_metrics`` names an unknown column.
    """
    for col in ("preset", "policy", "episode"):
        if col not in episodes.columns:
            raise ConfigError(f"episodes has no {col!r} column; got {list(episodes.columns)}")
    unknown = [m for m in ci_metrics if m not in episodes.columns]
    if unknown:
        raise ConfigError(f"ci_metrics {unknown} are not columns of episodes")
    skip = {"episode", "seed", "length"}
    numeric = [
        c for c in episodes.columns if c not in skip and pd.api.types.is_numeric_dtype(episodes[c])
    ]
    data = episodes
    presets = list(dict.fromkeys(data["preset"]))
    if pooled and len(presets) > 1:
        allrows = data.copy()
        # Pair pooled episodes by (preset, episode): a unique key per original episode.
        allrows["episode"] = allrows.groupby("policy").cumcount()
        allrows["preset"] = "all"
        data = pd.concat([data, allrows], ignore_index=True)
    rows = []
    ci = list(ci_metrics)
    weights: dict[tuple[Any, int], np.ndarray] = {}
    for (pre, pol), g in data.groupby(["preset", "policy"], sort=False):
        row: dict[str, Any] = {"preset": pre, "policy": pol, "n_episodes": len(g)}
        for c in numeric:
            x = g[c].to_numpy(dtype=np.float64)
            ok = np.isfinite(x)
            row[f"{c}_mean"] = float(x[ok].mean()) if ok.any() else math.nan
            row[f"{c}_std"] = float(x[ok].std(ddof=1)) if ok.sum() > 1 else math.nan
        for m in ci:
            for suffix in ("ci_low", "ci_high", "diff", "diff_low", "diff_high"):
                row[f"{m}_{suffix}"] = math.nan
        gi = g.drop_duplicates("episode").set_index("episode").sort_index()
        # One set of resamples per preset and episode count: every policy of a preset is
        # resampled on the same episode draws (its episodes are paired across policies).
        key = (pre, len(gi))
        if key not in weights and len(gi) >= 2:
            rng = np.random.default_rng([int(seed), 0x5355, zlib.crc32(str(pre).encode())])
            weights[key] = metrics.bootstrap_weights(len(gi), n_boot, rng)
        x = gi[ci].to_numpy(dtype=np.float64)
        diffs = None
        if baseline is not None and pol == baseline:
            for m in ci:
                row[f"{m}_diff"] = row[f"{m}_diff_low"] = row[f"{m}_diff_high"] = 0.0
        elif baseline is not None:
            b = data[(data["preset"] == pre) & (data["policy"] == baseline)]
            bi = b.drop_duplicates("episode").set_index("episode")
            if len(bi) and bi.index.equals(bi.index.intersection(gi.index)) and len(bi) == len(gi):
                diffs = x - bi.loc[gi.index, ci].to_numpy(dtype=np.float64)
        if len(x) >= 2 and np.isfinite(x).all():
            cols = x if diffs is None or not np.isfinite(diffs).all() else np.hstack([x, diffs])
            est, lo, hi = metrics.bootstrap_means(cols, level=level, weights=weights[key])
            for j, m in enumerate(ci):
                row[f"{m}_ci_low"], row[f"{m}_ci_high"] = float(lo[j]), float(hi[j])
                if cols.shape[1] > len(ci):
                    k = len(ci) + j
                    row[f"{m}_diff"] = float(est[k])
                    row[f"{m}_diff_low"], row[f"{m}_diff_high"] = float(lo[k]), float(hi[k])
        rows.append(row)
    return pd.DataFrame(rows)


def leaderboard(
    summary: pd.DataFrame, preset: str | None = None, by: str = "total_pnl"
) -> pd.DataFrame:
    """Rank policies by the mean of ``by`` (descending) within each preset of ``summary``.

    Args:
        summary: The output of :func:`summarize`.
        preset: Keep only this preset (e.g. ``"all"``); None keeps every preset.
        by: Metric to rank by (its ``<by>_mean`` column), higher is better.

    Returns:
        ``summary`` rows sorted by preset then rank, with a ``rank`` column (1 = best).
    """
    col = f"{by}_mean"
    if col not in summary.columns:
        raise ConfigError(f"summary has no column {col!r}")
    df = summary if preset is None else summary[summary["preset"] == preset]
    order = list(dict.fromkeys(df["preset"]))
    parts = []
    for p in order:
        g = df[df["preset"] == p].sort_values(col, ascending=False, kind="stable").copy()
        g.insert(0, "rank", np.arange(1, len(g) + 1))
        parts.append(g)
    return pd.concat(parts, ignore_index=True) if parts else df.assign(rank=[])


def format_leaderboard(board: pd.DataFrame, baseline: str | None = "avellaneda_stoikov") -> str:
    """A plain-text table of a :func:`leaderboard`, one block per preset.

    Columns: rank, policy, mean total PnL with its 95% CI, the paired difference to
    ``baseline`` with its CI, Sharpe, max drawdown, mean |inventory|, time at limit, fill rate,
    quoted spread and mean episode reward.
    """

    def ci(row: pd.Series, m: str) -> str:
        return f"{row[f'{m}_mean']:9.1f} [{row[f'{m}_ci_low']:8.1f}, {row[f'{m}_ci_high']:8.1f}]"

    def diff(row: pd.Series, m: str) -> str:
        d = row.get(f"{m}_diff", math.nan)
        if not np.isfinite(d):
            return f"{'-':>28s}"
        return f"{d:+9.1f} [{row[f'{m}_diff_low']:+8.1f}, {row[f'{m}_diff_high']:+8.1f}]"

    vs = f"vs {baseline} [95% CI]" if baseline else "paired diff"
    header = (
        f"{'#':>2s}  {'policy':24s} {'PnL [95% CI]':>29s} {vs:>28s} {'Sharpe':>7s} "
        f"{'maxDD':>7s} {'|inv|':>6s} {'@lim':>5s} {'fills/s':>7s} {'spread':>6s} {'reward':>9s}"
    )
    lines = []
    for pre, g in board.groupby("preset", sort=False):
        n = int(g["n_episodes"].iloc[0])
        lines.append(f"== {pre} ({n} episodes per policy) ==")
        lines.append(header)
        for _, row in g.iterrows():
            lines.append(
                f"{int(row['rank']):2d}  {str(row['policy'])[:24]:24s} {ci(row, 'total_pnl')} "
                f"{diff(row, 'total_pnl')} {row['sharpe_mean']:7.2f} "
                f"{row['max_drawdown_mean']:7.1f} {row['mean_abs_inventory_mean']:6.2f} "
                f"{row['frac_at_limit_mean']:5.3f} {row['fill_rate_mean']:7.3f} "
                f"{row['quoted_spread_ticks_mean']:6.2f} {row['episode_reward_mean']:9.1f}"
            )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


# --------------------------------------------------------------------------- exports


def csv_text(df: pd.DataFrame) -> str:
    """``df`` as CSV text without the index, floats to 12 significant digits."""
    return df.to_csv(index=False, float_format=_CSV_FLOAT)


def safe_name(name: str) -> str:
    """A file-system-safe version of a contestant or setting name (``/`` and ``:`` -> ``_``)."""
    keep = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(name))
    return keep.strip("._") or "unnamed"


def write_tables(
    folder: Any,
    tournament: Tournament,
    summary: pd.DataFrame,
    board_text: str,
) -> list[str]:
    """Write the tables and the sample-episode traces of a tournament into ``folder``.

    Files (paths relative to ``folder``): ``summary.csv`` (:func:`summarize`), ``episodes.csv``
    (one row per episode), ``leaderboard.txt`` (:func:`format_leaderboard`) and, per contestant
    and setting, ``contestants/<policy>/<setting>/`` with ``MM1_metrics.csv`` and
    ``MM2_metrics.csv`` (per-step trace of the sample episode: step, mid, bid, ask, inventory,
    cash, realized, unrealized, fees, total, lots_traded, regime, sentiment, fundamental, event),
    ``MM1_market_impact.csv`` and ``MM2_market_impact.csv`` (the market orders that filled that
    maker: step, kind, size, side, pre_mid, post_mid, impact, maker_lots, maker_vwap) and
    ``market_impact.csv`` (every market order of the episode). Every file is written
    atomically (:func:`mm_gym.files.atomic_write_text`).

    Returns:
        The relative paths written.
    """
    from pathlib import Path

    from mm_gym.files import atomic_write_text

    root = Path(folder)
    written = []

    def put(rel: str, content: str | pd.DataFrame) -> None:
        text = content if isinstance(content, str) else csv_text(content)
        atomic_write_text(root / rel, text)
        written.append(rel)

    put("summary.csv", summary)
    put("episodes.csv", tournament.episodes)
    put("leaderboard.txt", board_text)
    for r in tournament.rollouts:
        if not r.traces:
            continue
        base = f"contestants/{safe_name(r.policy)}/{safe_name(r.setting)}"
        for who in ("MM1", "MM2"):
            put(f"{base}/{who}_metrics.csv", r.traces[who])
            put(f"{base}/{who}_market_impact.csv", r.impacts[who])
        put(f"{base}/market_impact.csv", r.impacts["market"])
    return written


def make_figures(tournament: Tournament) -> dict[str, Any]:
    """Matplotlib figures of a tournament, keyed by file stem (``plots/<stem>.png``).

    Per setting: ``pnl_attribution_<setting>`` (the sample episode of each contestant: realized,
    unrealized and total PnL, inventory on the right axis), ``inventory_paths_<setting>`` (the
    sample path and the 5-95 % and 25-75 % bands over episodes), ``market_impact_<setting>``
    (signed mid move against size of every market order of the sample episodes, with the OLS
    line) and ``equity_curves_<setting>`` (mean equity curve and 25-75 % band per contestant).
    Overall: ``pnl_distributions`` (box plots of episode PnL per contestant and setting).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs: dict[str, Any] = {}
    settings = list(dict.fromkeys(r.setting for r in tournament.rollouts))
    policies = list(dict.fromkeys(r.policy for r in tournament.rollouts))
    colors = {p: plt.get_cmap("tab10")(i % 10) for i, p in enumerate(policies)}
    for s in settings:
        runs = [r for r in tournament.rollouts if r.setting == s]
        ncols = min(3, len(runs))
        nrows = math.ceil(len(runs) / ncols)
        traced = [r for r in runs if r.traces]
        if traced:
            fig, axes = plt.subplots(
                nrows, ncols, figsize=(5 * ncols, 3.2 * nrows), squeeze=False, sharex=True
            )
            for ax, r in zip(axes.flat, runs, strict=False):
                if not r.traces:
                    continue
                tr = r.traces["MM1"]
                ax.plot(tr["step"], tr["realized"], label="realized", lw=1)
                ax.plot(tr["step"], tr["unrealized"], label="unrealized", lw=1)
                ax.plot(tr["step"], tr["total"], label="total", lw=1.5, color="k")
                ax2 = ax.twinx()
                ax2.plot(tr["step"], tr["inventory"], color="tab:red", lw=0.7, alpha=0.5)
                ax2.set_ylabel("inventory (lots)", color="tab:red", fontsize=8)
                ax.set_title(r.policy, fontsize=9)
                ax.set_ylabel("PnL")
            for ax in axes.flat[len(runs) :]:
                ax.axis("off")
            axes.flat[0].legend(fontsize=7, loc="upper left")
            fig.suptitle(f"PnL attribution, sample episode: {s}")
            fig.tight_layout()
            figs[f"pnl_attribution_{safe_name(s)}"] = fig

        fig, axes = plt.subplots(
            nrows, ncols, figsize=(5 * ncols, 3 * nrows), squeeze=False, sharey=True
        )
        for ax, r in zip(axes.flat, runs, strict=False):
            band = r.bands.get("inventory")
            if band is not None:
                x = np.arange(1, band.shape[0] + 1)
                ax.fill_between(x, band[:, 0], band[:, 4], color=colors[r.policy], alpha=0.15)
                ax.fill_between(x, band[:, 1], band[:, 3], color=colors[r.policy], alpha=0.3)
            if r.traces:
                tr = r.traces["MM1"]
                ax.plot(tr["step"], tr["inventory"], color=colors[r.policy], lw=1)
            ax.axhline(0, color="k", lw=0.5)
            ax.set_title(r.policy, fontsize=9)
        for ax in axes.flat[len(runs) :]:
            ax.axis("off")
        fig.suptitle(f"Inventory paths (sample episode, 25-75 % and 5-95 % bands): {s}")
        fig.tight_layout()
        figs[f"inventory_paths_{safe_name(s)}"] = fig

        orders = [r.impacts["market"] for r in runs if r.impacts]
        if orders:
            mo = pd.concat(orders, ignore_index=True)
            mo = mo[mo["kind"] != "background"]
            fig, ax = plt.subplots(figsize=(7, 4.5))
            for kind, g in mo.groupby("kind"):
                ax.scatter(g["size"], g["impact"], s=6, alpha=0.4, label=str(kind))
            if len(mo) > 2 and mo["size"].nunique() > 1:
                slope, icpt = np.polyfit(mo["size"], mo["impact"], 1)
                xs = np.linspace(mo["size"].min(), mo["size"].max(), 50)
                ax.plot(xs, icpt + slope * xs, "k--", lw=1, label=f"OLS slope {slope:.4f}/lot")
            ax.set_xlabel("order size (lots filled)")
            ax.set_ylabel("signed mid move (price units)")
            ax.set_title(f"Market impact of market orders, sample episodes: {s}")
            ax.legend(fontsize=8)
            fig.tight_layout()
            figs[f"market_impact_{safe_name(s)}"] = fig

        fig, ax = plt.subplots(figsize=(8, 4.5))
        for r in runs:
            mean = r.bands.get("equity_mean")
            band = r.bands.get("equity")
            if mean is None:
                continue
            x = np.arange(mean.size)
            ax.plot(x, mean, color=colors[r.policy], label=r.policy, lw=1.5)
            if band is not None:
                ax.fill_between(x, band[:, 1], band[:, 3], color=colors[r.policy], alpha=0.15)
        ax.set_xlabel("step")
        ax.set_ylabel("mark-to-market PnL")
        ax.set_title(f"Equity curves (mean, 25-75 % band): {s}")
        ax.legend(fontsize=8)
        fig.tight_layout()
        figs[f"equity_curves_{safe_name(s)}"] = fig

    ep = tournament.episodes
    fig, axes = plt.subplots(
        1, len(settings), figsize=(max(5, 0.9 * len(policies)) * len(settings), 4.5), squeeze=False
    )
    for ax, s in zip(axes.flat, settings, strict=True):
        data = [ep.loc[(ep["preset"] == s) & (ep["policy"] == p), "total_pnl"] for p in policies]
        ax.boxplot(data, showfliers=False)
        ax.set_xticks(range(1, len(policies) + 1), policies, rotation=30, ha="right", fontsize=8)
        ax.axhline(0, color="k", lw=0.5)
        ax.set_title(s)
        ax.set_ylabel("episode PnL")
    fig.suptitle("Distribution of episode PnL (boxes: quartiles, whiskers: 1.5 IQR)")
    fig.tight_layout()
    figs["pnl_distributions"] = fig
    return figs


def write_figures(folder: Any, figs: Mapping[str, Any], *, dpi: int = 110) -> list[str]:
    """Save each figure as ``plots/<stem>.png`` in ``folder`` (atomically); return the paths."""
    import io
    from pathlib import Path

    from mm_gym.files import atomic_write_bytes

    written = []
    for stem, fig in figs.items():
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi)
        atomic_write_bytes(Path(folder) / "plots" / f"{stem}.png", buf.getvalue())
        written.append(f"plots/{stem}.png")
    return written


def write_report(path: Any, title: str, text_pages: Sequence[str], figs: Mapping[str, Any]) -> None:
    """A PDF (matplotlib ``PdfPages``): the title and text pages (monospace), then the figures.

    Written to a temporary file next to ``path`` and renamed into place.
    """
    import os
    import tempfile
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with PdfPages(tmp) as pdf:
            for i, text in enumerate(text_pages):
                lines = text.splitlines()
                for start in range(0, max(1, len(lines)), 70):
                    fig = plt.figure(figsize=(11.69, 8.27))  # A4 landscape
                    head = f"{title}\n\n" if i == 0 and start == 0 else ""
                    fig.text(
                        0.03, 0.97, head + "\n".join(lines[start : start + 70]),
                        va="top", ha="left", family="monospace", fontsize=6.5,
                    )  # fmt: skip
                    pdf.savefig(fig)
                    plt.close(fig)
            for fig in figs.values():
                pdf.savefig(fig)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
