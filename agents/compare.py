"""A trained policy against the baselines on held-out seeds, with paired confidence intervals.

All contestants quote as mm1 on the same evaluation seeds (:func:`mm_gym.evaluation.
evaluation_seeds`, unrelated to the small training seeds), so episode ``i`` of every contestant
sees the same exogenous market; the differences ``contender_i - baseline_i`` are then
bootstrapped. The two headline metrics are the environment's episode reward and the per-episode
Sharpe ratio of step PnL. The table is :func:`mm_gym.evaluation.summarize`'s, with the
contender as the baseline of the paired differences (see :mod:`mm_gym.evaluation.stats` for the
columns).

On ``mm_gym/MultiVenue-v0`` :func:`compare_multivenue` makes the same table from the
multi-venue tournament (:mod:`mm_gym.multivenue.tournament`): the policy against the
multi-venue baselines (:data:`baselines.multivenue.MULTIVENUE_BASELINES`) on the same held-out
seeds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from agents.rivals import make_policy, make_rival
from mm_gym.policy import QuotingPolicy

__all__ = [
    "HEADLINE_METRICS",
    "Comparison",
    "compare_multivenue",
    "compare_with_baselines",
    "format_comparison",
]

HEADLINE_METRICS: tuple[str, ...] = ("episode_reward", "sharpe", "total_pnl")
"""Per-episode columns summarised in the table (the first two decide whether a policy wins)."""


@dataclass
class Comparison:
    """The result of :func:`compare_with_baselines`.

    Attributes:
        contender: Name of the evaluated policy.
        episodes: Per-episode rows of :func:`mm_gym.evaluation.evaluate_policies` (of
            :func:`mm_gym.multivenue.tournament.play` for :func:`compare_multivenue`).
        table: One row per policy, the :func:`mm_gym.evaluation.summarize` schema with the
            contender as baseline: ``policy``, ``n_episodes``, ``<m>_mean`` and ``<m>_std`` of
            every metric, ``<m>_ci_low``, ``<m>_ci_high`` (95% bootstrap CI of the mean) and
            ``<m>_diff``, ``<m>_diff_low``, ``<m>_diff_high`` (policy minus contender, paired;
            0 on the contender's row) for each headline metric; and ``beaten`` (both the reward
            and the Sharpe difference CIs of a baseline lie below 0).
        n_episodes: Episodes per policy.
        setting: Preset or env id evaluated.
        overrides: The env overrides evaluated under (the regime among them), as given.
    """

    contender: str
    episodes: pd.DataFrame
    table: pd.DataFrame
    n_episodes: int
    setting: str
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def beats_all(self) -> bool:
        """Whether the contender beats every baseline on reward and Sharpe (CIs above 0)."""
        rows = self.table[self.table["policy"] != self.contender]
        return bool(len(rows)) and bool(rows["beaten"].all())


def compare_with_baselines(
    contender: QuotingPolicy,
    baselines: Sequence[str],
    setting: str = "default",
    overrides: Mapping[str, Any] | None = None,
    *,
    n_episodes: int = 200,
    seed: int = 0,
    rival: str = "builtin",
    n_boot: int = 2000,
) -> Comparison:
    """Evaluate ``contender`` and the named baselines on the same held-out seeds.

    Args:
        contender: The policy to test (its ``name`` labels it).
        baselines: Baseline names (:data:`agents.rivals.BASELINE_NAMES`).
        setting: Preset name or env id.
        overrides: Environment keyword overrides (use the env's default reward here).
        n_episodes: Episodes per policy (>= 2).
        seed: Master seed of :func:`mm_gym.evaluation.evaluation_seeds` (and the bootstrap).
        rival: mm2 for everyone: ``"builtin"``, a baseline name or a run directory.
        n_boot: Bootstrap resamples.

    Returns:
        The :class:`Comparison`.
    """
    from mm_gym.evaluation import evaluate_policies, summarize

    name = str(contender.name)
    # The calibrated baselines are stored per preset name (mm_gym/MarketMaking-v1 -> "default").
    preset_name = _preset_of(setting)
    policies: dict[str, QuotingPolicy] = {name: contender}
    for b in baselines:
        policies[b] = make_policy(b, preset_name, overrides)
    riv = make_rival(rival, preset_name, overrides)
    # A stateful rival policy must not carry state from one contestant's episodes to the next.
    rival_arg: Any = (
        riv if isinstance(riv, str) else (lambda: make_rival(rival, preset_name, overrides))
    )
    episodes = evaluate_policies(
        policies, setting, overrides, n_episodes, seed=seed, rival=rival_arg
    )
    table = summarize(
        episodes, baseline=name, ci_metrics=HEADLINE_METRICS, n_boot=n_boot, seed=seed,
        pooled=False,
    ).drop(columns="preset")  # fmt: skip
    return Comparison(name, episodes, _with_beaten(table, name), int(n_episodes), str(setting),
                      dict(overrides or {}))  # fmt: skip


def _with_beaten(table: pd.DataFrame, contender: str) -> pd.DataFrame:
    """Add ``beaten``: the baseline is below the contender on both headline metrics.

    That is, the CIs of (baseline - contender) of the episode reward and the Sharpe ratio
    both lie below 0.
    """
    table["beaten"] = (
        (table["policy"] != contender)
        & (table["episode_reward_diff_high"] < 0)
        & (table["sharpe_diff_high"] < 0)
    )
    return table


def compare_multivenue(
    contender: QuotingPolicy,
    baselines: Sequence[str],
    env_id: str = "mm_gym/MultiVenue-v0",
    overrides: Mapping[str, Any] | None = None,
    *,
    n_episodes: int = 200,
    seed: int = 0,
    n_boot: int = 2000,
) -> Comparison:
    """:func:`compare_with_baselines` on a multi-venue env, through its tournament.

    The contender and the multi-venue baselines play the same held-out episodes (the seeds
    of :func:`mm_gym.evaluation.evaluation_seeds`, unrelated to the small training seeds) of
    ``env_id`` with ``overrides`` (its preset, venues and market fields; the episode length is
    the env's ``horizon_steps``), with :func:`mm_gym.multivenue.tournament.play`; the table is
    :func:`~mm_gym.multivenue.tournament.summary_table`'s with the contender as baseline (the
    same columns as :func:`compare_with_baselines`'s, ``policy`` naming the row).

    Args:
        contender: The policy (a multi-venue one: ``(n, 2V)`` actions, or a routed run's
            ``(n, 2 + V)``, played on the routed env while the baselines play per venue).
        baselines: Names of :data:`baselines.multivenue.MULTIVENUE_BASELINES`.
        env_id: A multi-venue env id (:data:`mm_gym.MULTI_VENUE_ENV_IDS`).
        overrides: The env's keyword overrides (no reward options: the env's default reward).
        n_episodes: Episodes per policy (>= 2).
        seed: Master seed of the evaluation seeds (and of the bootstrap).
        n_boot: Bootstrap resamples.
    """
    import gymnasium as gym

    from mm_gym.evaluation import evaluation_seeds
    from mm_gym.multivenue.tournament import play, summary_table

    name = str(contender.name)
    kwargs = dict(overrides or {})
    env: Any = gym.make_vec(env_id, num_envs=1, vectorization_mode="vector_entry_point", **kwargs)
    steps = int(env.unwrapped.market_config.horizon_steps)
    env.close()
    preset = str(kwargs.pop("preset", gym.spec(env_id).kwargs.get("preset", "default")))
    venues = kwargs.pop("venues", None)
    kwargs.pop("horizon_steps", None)  # play() sets it
    episodes = play(
        [contender, *baselines], steps=steps, seed=seed, preset=preset, venues=venues,
        progress=False, seeds=evaluation_seeds(n_episodes, seed).tolist(), overrides=kwargs,
    ).rename(columns={"contestant": "policy"})  # fmt: skip
    table = summary_table(
        episodes.rename(columns={"policy": "contestant"}), name, n_boot, seed
    ).rename(columns={"contestant": "policy"})
    return Comparison(name, episodes, _with_beaten(table, name), int(n_episodes), env_id,
                      dict(overrides or {}))  # fmt: skip


def _preset_of(setting: str) -> str:
    """The preset name behind a registered env id (the setting itself otherwise)."""
    import gymnasium as gym

    if setting in gym.registry:
        return str(gym.spec(setting).kwargs.get("preset", setting))
    return setting


def format_comparison(comp: Comparison) -> str:
    """A plain-text table of a :class:`Comparison` (means with 95% CIs, paired differences)."""
    c = comp.contender

    def ci(row: pd.Series, m: str) -> str:
        mean, low, high = row[f"{m}_mean"], row[f"{m}_ci_low"], row[f"{m}_ci_high"]
        return f"{mean:7.2f} [{low:7.2f}, {high:7.2f}]"

    def diff(row: pd.Series, m: str) -> str:
        if row["policy"] == c or not np.isfinite(row[f"{m}_diff"]):
            return f"{'':>29s}"
        # The table holds policy - contender; the column shows contender - policy.
        d, low, high = -row[f"{m}_diff"], -row[f"{m}_diff_high"], -row[f"{m}_diff_low"]
        return f"{d:+8.2f} [{low:+8.2f}, {high:+8.2f}]"

    changed = ", ".join(f"{k}={v}" for k, v in comp.overrides.items())
    w = max([20, *(len(str(p)) for p in comp.table["policy"])])  # whole names
    lines = [
        f"{c} vs baselines on {comp.n_episodes} held-out episodes of {comp.setting}"
        f"{f' with {changed}' if changed else ''} (95% bootstrap CIs; differences paired by seed)",
        f"{'policy':{w}s} {'episode reward':>25s} {'PnL Sharpe':>25s} {'PnL':>9s} "
        f"{c[:10] + ' - policy: reward':>29s} {'Sharpe':>29s}  beaten",
    ]
    for _, row in comp.table.iterrows():
        beaten = "" if row["policy"] == c else ("yes" if row["beaten"] else "no")
        lines.append(
            f"{row['policy']!s:{w}s} {ci(row, 'episode_reward')} {ci(row, 'sharpe')} "
            f"{row['total_pnl_mean']:9.2f} {diff(row, 'episode_reward')} {diff(row, 'sharpe')}  "
            f"{beaten}"
        )
    verdict = "beats" if comp.beats_all else "does NOT beat"
    lines.append(f"=> {c} {verdict} every baseline on both reward and Sharpe (paired 95% CIs)")
    return "\n".join(lines)
