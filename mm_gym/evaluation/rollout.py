"""Batched rollouts of quoting policies: one contestant in one setting, or a whole tournament.

Every contestant (a :class:`~mm_gym.policy.QuotingPolicy`) quotes as **mm1** in
:class:`~mm_gym.envs.vector.MarketMakingVectorEnv` against the same rival, over the same list of
evaluation seeds, so all contestants face the same exogenous path (common random numbers). All
episodes of one contestant in one setting run in one vector environment (``batch_size``
episodes at a time); per step the rollout copies a few ``(T, n)`` series out of the simulator's
read-only views (:mod:`mm_gym.evaluation.recorder`) and the per-episode metrics of
:mod:`mm_gym.metrics` are computed for the whole batch at once.
"""

from __future__ import annotations

import copy
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mm_gym import metrics
from mm_gym.config import ConfigError
from mm_gym.evaluation.episode_metrics import EPISODE_COLUMNS, batch_metrics
from mm_gym.evaluation.recorder import SeriesBuffers, Trace
from mm_gym.evaluation.settings import (
    DEFAULT_BATCH,
    MAX_RETRIES,
    _check_int,
    evaluation_seeds,
    make_vector_env,
    observation_overrides,
    resolve_setting,
)
from mm_gym.policy import QuotingPolicy

__all__ = [
    "BAND_QUANTILES",
    "EPISODE_COLUMNS",
    "PolicyOrFactory",
    "Rollout",
    "Tournament",
    "evaluate_policies",
    "rollout",
    "run_tournament",
]

BAND_QUANTILES: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)
"""Quantiles of the equity and inventory paths kept for the fan plots."""


@dataclass
class Rollout:
    """Everything one contestant produced in one setting.

    Attributes:
        policy: Contestant name.
        setting: Preset name or env id.
        episodes: One row per episode (columns: see :data:`EPISODE_COLUMNS`).
        traces: ``{"MM1": df, "MM2": df}`` per-step traces of the sample episode (columns step,
            mid, bid, ask, inventory, cash, realized, unrealized, fees, total, lots_traded,
            regime, sentiment, fundamental, event, spread_capture: cumulative, currency); empty
            without a sample episode. With headlines on (``process.news_model``) also
            ``"headlines"``: the sample episode's headlines (step, flat_index, bucket, score,
            headline).
        impacts: ``{"market": df, "MM1": df, "MM2": df}``: the sample episode's aggressive
            orders (step, kind, size, side, pre_mid, post_mid, impact) and, per maker, the
            orders of the kind and side that filled it in their step (plus ``maker_lots``).
        bands: ``{"equity": (T + 1, q), "inventory": (T, q)}`` quantiles
            (:data:`BAND_QUANTILES`) over the first batch's full-length episodes, and
            ``"equity_mean"`` ``(T + 1,)`` and ``"inventory_mean"`` ``(T,)`` over all
            full-length episodes (``bands.csv``, :func:`~mm_gym.evaluation.export.bands_table`).
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
    batch_size: int = DEFAULT_BATCH,
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
    plan = batch_plan(n_total, batch_size)
    results = run_batches(
        policy, setting, overrides, seed_arr, rival_obj, plan, seed=seed, name=label,
        sample_episode=sample_episode, progress=progress,
    )  # fmt: skip
    return assemble_rollout(label, setting, _rival_name(rival_obj), results)


def batch_plan(n_episodes: int, batch_size: int) -> list[tuple[int, int, int]]:
    """The batches of a rollout: ``(index, first episode, episodes)`` each, in order.

    A rollout's result depends on its batches (the policy's generator is drawn per batch,
    :func:`_policy_rng`, and the quantile bands come from batch 0), so a rollout split across
    processes (:mod:`mm_gym.evaluation.distributed`) runs exactly these batches.
    """
    return [
        (b, start, min(batch_size, n_episodes - start))
        for b, start in enumerate(range(0, n_episodes, batch_size))
    ]


def run_batches(
    policy: QuotingPolicy,
    setting: str,
    overrides: Mapping[str, Any] | None,
    seeds: np.ndarray,
    rival: Any,
    batches: Sequence[tuple[int, int, int]],
    *,
    seed: int,
    name: str,
    sample_episode: int | None,
    progress: Callable[[int], Any] | None = None,
) -> list[tuple[int, dict[str, Any]]]:
    """Run some batches of :func:`batch_plan` of a rollout; ``(first episode, result)`` each.

    Args:
        policy: The contestant (reset at the start of each batch).
        setting: Book preset name or env id.
        overrides: Environment keyword overrides.
        seeds: The rollout's root seeds, all of them (``batches`` index into it).
        rival: ``"builtin"`` or a :class:`QuotingPolicy` (already resolved).
        batches: ``(index, first episode, episodes)`` of the batches to run.
        seed: Master seed (the policy's generator).
        name: Contestant name (the policy's generator).
        sample_episode: Index in ``seeds`` of the traced episode, or None.
        progress: Called after each step of the vector env with the number of new steps.
    """
    out = []
    for b, start, size in batches:
        chunk = seeds[start : start + size]
        j = None
        if sample_episode is not None and start <= sample_episode < start + size:
            j = sample_episode - start
        res = _run_batch(
            policy, setting, overrides, chunk, rival, _policy_rng(seed, setting, name, b),
            j, progress, first=b == 0,
        )  # fmt: skip
        out.append((start, res))
    return out


def assemble_rollout(
    label: str, setting: str, rival_name: str, results: Sequence[tuple[int, dict[str, Any]]]
) -> Rollout:
    """The :class:`Rollout` from its batches' results (:func:`run_batches`, in batch order)."""
    frames = []
    out = Rollout(label, setting, pd.DataFrame())
    sums: dict[str, np.ndarray] = {}
    n_full = 0
    for start, res in results:
        res = dict(res)
        df = res.pop("episodes")
        df.insert(0, "episode", np.arange(start, start + len(df)))
        frames.append(df)
        if "n_full" in res:
            for key, total in res.pop("sums").items():
                sums[key] = total if key not in sums else sums[key] + total
            n_full += int(res.pop("n_full"))
        if "traces" in res:
            out.traces, out.impacts = res.pop("traces"), res.pop("impacts")
        out.bands.update(res.get("bands", {}))
    if n_full:
        for key, total in sums.items():
            out.bands[f"{key}_mean"] = total / n_full
    episodes = pd.concat(frames, ignore_index=True)
    episodes.insert(0, "rival", rival_name)
    episodes.insert(0, "policy", label)
    episodes.insert(0, "preset", setting)
    out.episodes = episodes
    return out


def _seed_array(seeds: Sequence[int] | np.ndarray) -> np.ndarray:
    arr = np.asarray(seeds)
    if arr.ndim != 1 or arr.size == 0 or arr.dtype.kind not in "iu" or (arr < 0).any():
        raise ConfigError(f"seeds={seeds!r} must be a non-empty 1-D list of non-negative ints")
    return arr.astype(np.uint64)


_FINAL_KEYS = ("realized_pnl", "unrealized_pnl", "n_fills", "volume", "rival", "shocks")


@dataclass
class _BatchRun:
    """What one batch accumulates while it runs (see :func:`_simulate`)."""

    series: SeriesBuffers
    horizon: int
    lot: float
    limit: int
    trace: Trace | None
    length: np.ndarray  # steps of each episode (the horizon unless it ended early)
    reward: np.ndarray = field(init=False)
    comps: dict[str, np.ndarray] = field(default_factory=dict)
    final: dict[str, np.ndarray] = field(init=False)  # values at each episode's end

    def __post_init__(self) -> None:
        n = self.length.size
        self.reward = np.zeros(n)
        self.final = {k: np.zeros(n) for k in _FINAL_KEYS}

    def add_rewards(self, r: np.ndarray, components: Mapping[str, Any], alive: np.ndarray) -> None:
        """Add a step's rewards and reward components of the live episodes."""
        n = self.length.size
        # Adding in place where alive is bit-identical to adding np.where(alive, x, 0.0): a sum
        # that starts at +0.0 is never -0.0, and x + 0.0 == x bit for bit for any other x.
        np.add(self.reward, r, out=self.reward, where=alive)
        for key, val in components.items():
            if not key.startswith("_"):
                c = self.comps.setdefault(key, np.zeros(n))
                np.add(c, val, out=c, where=alive)

    def end(self, idx: np.ndarray, t: int, sim: Any, info: Mapping[str, Any]) -> None:
        """Record the final values of the episodes ``idx``, which ended at step ``t``."""
        acc = sim.accounts
        self.length[idx] = t + 1
        self.final["realized_pnl"][idx] = acc.realized[idx, 0]
        self.final["unrealized_pnl"][idx] = info["unrealized"][idx]
        self.final["n_fills"][idx] = acc.n_fills[idx, 0]
        self.final["volume"][idx] = acc.volume[idx, 0]
        self.final["rival"][idx] = info["rival_pnl"][idx]
        self.final["shocks"][idx] = sim.scalars.shocks[idx]


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
    env = make_vector_env(setting, observation_overrides(overrides, policy, rival), n, rival)
    try:
        venv = getattr(env, "unwrapped", env)
        # The environments do not need the per-step fill and market-order records and run
        # without them (the simulator's default); the impact statistics and traces do.
        venv.simulator.record = True
        run = _simulate(env, venv, policy, seeds, rng, sample, progress)
    finally:
        env.close()
    return _batch_result(run, seeds, first=first)


def _simulate(
    env: Any,
    venv: Any,
    policy: QuotingPolicy,
    seeds: np.ndarray,
    rng: np.random.Generator,
    sample: int | None,
    progress: Callable[[int], Any] | None,
) -> _BatchRun:
    """Reset ``env`` on ``seeds`` and step it with ``policy`` until every episode has ended."""
    mc, sim = venv.market_config, venv.simulator
    horizon = int(mc.horizon_steps)
    tick, lot = float(mc.tick_size), float(mc.lot_size)
    value = tick * lot
    n = int(seeds.size)
    obs, _ = env.reset(seed=[int(s) for s in seeds])
    policy.reset(rng, venv.policy_context(maker="mm1"))
    trace = Trace(sample, tick, value) if sample is not None else None
    run = _BatchRun(
        SeriesBuffers(horizon, n), horizon, lot, int(mc.makers.mm1_limit), trace,
        np.full(n, horizon, np.int64),
    )  # fmt: skip
    run.series.mid[0] = sim.book.mid * tick
    alive = np.ones(n, np.bool_)
    t = 0
    for t in range(horizon):
        obs, r, terminated, _, info = env.step(policy.act(obs))
        run.series.record(t, sim, tick, value, alive)
        run.add_rewards(r, info["reward_components"], alive)
        if trace is not None and alive[trace.j]:
            trace.record(t, sim)
        ended = terminated & alive
        if ended.any():
            run.end(np.flatnonzero(ended), t, sim, info)
            alive &= ~ended
        if progress is not None:
            progress(1)
        if not alive.any():
            break
    if progress is not None and t + 1 < horizon:
        progress(horizon - t - 1)
    return run


def _batch_result(run: _BatchRun, seeds: np.ndarray, *, first: bool) -> dict[str, Any]:
    """Per-episode rows, equity sums and (first batch) quantile bands of a finished batch."""
    s, length, final = run.series, run.length, run.final
    cols: dict[str, np.ndarray] = {"seed": seeds.astype(np.uint64), "length": length}
    cols.update(
        batch_metrics(
            s.mid, s.inv, s.pnl, s.cash, s.fees, s.edge, s.bid, s.ask, length,
            lot=run.lot, limit=run.limit,
        )
    )  # fmt: skip
    cols["realized_pnl"] = final["realized_pnl"]
    cols["unrealized_pnl"] = final["unrealized_pnl"]
    cols["n_fills"] = final["n_fills"]
    cols["volume_lots"] = final["volume"]
    cols["fill_rate"] = np.asarray(metrics.fill_rate(final["n_fills"], length))
    cols.update(metrics.market_impact_from_sums(*s.impact))  # type: ignore[arg-type]
    cols["episode_reward"] = run.reward
    for key, val in run.comps.items():
        cols[f"reward_{key}"] = val
    cols["rival_pnl"] = final["rival"]
    cols["n_shocks"] = final["shocks"]
    order = ["seed", "length", *EPISODE_COLUMNS, *(f"reward_{k}" for k in run.comps)]
    result: dict[str, Any] = {"episodes": pd.DataFrame({k: cols[k] for k in order})}

    full = length == run.horizon
    if full.any():
        equity = np.vstack([np.zeros((1, length.size)), s.pnl])[:, full]
        result["sums"] = {"equity": equity.sum(axis=1), "inventory": s.inv[:, full].sum(axis=1)}
        result["n_full"] = int(full.sum())
        if first:
            q = np.asarray(BAND_QUANTILES)
            result["bands"] = {
                "equity": np.quantile(equity, q, axis=1).T,
                "inventory": np.quantile(s.inv[:, full], q, axis=1).T,
            }
    if run.trace is not None:
        result["traces"], result["impacts"] = run.trace.frames()
    return result


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
    batch_size: int = DEFAULT_BATCH,
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
    batch_size: int = DEFAULT_BATCH,
    sample_episode: int | None = 0,
    progress: Callable[[int], Any] | None = None,
    ray: bool = False,
    max_retries: int = MAX_RETRIES,
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
        batch_size: Episodes per vector environment (with ``ray``, per task).
        sample_episode: Index of the episode traced step by step (None: no traces).
        progress: Called with the number of steps done, per step (with ``ray``: with 1 as each
            task finishes).
        ray: Run each batch of each rollout as a Ray task
            (:mod:`mm_gym.evaluation.distributed`; Ray must be initialised); the result is the
            same, bit for bit.
        max_retries: With ``ray``, times a task whose worker died is run again.

    Returns:
        The :class:`Tournament`.
    """
    contestants = _contestants(policies, settings, rival)
    seed_arr = evaluation_seeds(n_episodes, seed, stream)
    if ray:
        from mm_gym.evaluation.distributed import run_on_ray

        return run_on_ray(
            contestants, seed_arr, overrides, seed=seed, batch_size=batch_size,
            sample_episode=sample_episode, progress=progress, max_retries=max_retries,
        )  # fmt: skip
    runs = [
        rollout(
            pol, s, overrides, seed_arr, seed=seed, rival=riv, name=name,
            batch_size=batch_size, sample_episode=sample_episode, progress=progress,
        )
        for s, name, pol, riv in contestants
    ]  # fmt: skip
    return Tournament(pd.concat([r.episodes for r in runs], ignore_index=True), runs)


Contestant = tuple[str, str, QuotingPolicy, Any]
"""One rollout of a tournament: ``(setting, name, policy, rival)``, the rival as :func:`rollout`
takes it."""


def _contestants(
    policies: Mapping[str, PolicyOrFactory], settings: Sequence[str], rival: Any
) -> Iterator[Contestant]:
    """The rollouts of :func:`run_tournament` in run order; the arguments are checked now.

    The factories of a setting are called when the iteration reaches it; a rival factory
    taking the setting is bound to it.
    """
    if not isinstance(policies, Mapping) or not policies:
        raise ConfigError("policies must be a non-empty mapping {name: policy or factory}")
    for s in settings:
        resolve_setting(s)

    def contestants() -> Iterator[Contestant]:
        for s in settings:
            made = {
                name: p if isinstance(p, QuotingPolicy) or not callable(p) else p(s)
                for name, p in policies.items()
            }
            for name, pol in _check_policies(made).items():
                riv = rival
                if callable(rival) and not isinstance(rival, QuotingPolicy):
                    riv = _setting_factory(rival, s)
                yield s, name, pol, riv

    return contestants()


def _setting_factory(factory: Callable[..., QuotingPolicy], setting: str) -> Any:
    """A zero-argument factory from one taking the setting (or already zero-argument)."""
    import inspect

    try:
        n_args = len(inspect.signature(factory).parameters)
    except (TypeError, ValueError):
        n_args = 1
    return factory if n_args == 0 else (lambda: factory(setting))
