"""The tournament as Ray tasks: ``evaluate.py --ray [ADDRESS]``.

``run_tournament(..., ray=True)`` (:func:`run_on_ray`; :data:`run_tournament_ray` for short)
gives the same :class:`~mm_gym.evaluation.rollout.Tournament` as
:func:`~mm_gym.evaluation.rollout.run_tournament` in one process, bit for bit: it plans the same
rollouts (each contestant in each setting, on the one seed list, so common random numbers are
kept), and each task runs one batch of one rollout (:func:`~mm_gym.evaluation.rollout.batch_plan`:
``batch_size`` consecutive seeds, the seed chunk) exactly as the single process runs it: the
same seeds, the same policy generator (drawn from the seed, setting, name and batch index), a
fresh environment. The driver then assembles each rollout from its batches in order
(:func:`~mm_gym.evaluation.rollout.assemble_rollout`), so sums and quantile bands are formed as
in one process. Policies and rivals are built on the driver (calibrations are looked up once)
and shipped to the tasks; every batch resets them, as in one process.

Tasks are ``contestants x settings x ceil(episodes / batch_size)``; a smaller ``batch_size``
gives more, smaller tasks (and, in one process too, other policy generators: compare runs at
the same ``batch_size``). A task whose worker dies is run again (Ray's ``max_retries``); a task
that raises fails the run, and nothing is returned.

Test hook: with ``MM_GYM_RAY_TEST_CRASH_ONCE=<folder>`` in the driver's environment, the first
task to start creates ``<folder>/crashed`` and kills its worker (``os._exit``); its retry and
every other task find the file and run normally. Only the tests set it.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mm_gym.config import ConfigError
from mm_gym.evaluation.rollout import (
    Contestant,
    PolicyOrFactory,
    Tournament,
    _contestants,
    _resolve_rival,
    _rival_name,
    assemble_rollout,
    batch_plan,
    run_batches,
    run_tournament,
)
from mm_gym.evaluation.settings import DEFAULT_BATCH, MAX_RETRIES
from mm_gym.policy import QuotingPolicy

__all__ = [
    "CRASH_ONCE_ENV",
    "MAX_RETRIES",
    "RolloutJob",
    "plan_tournament",
    "run_on_ray",
    "run_tournament_ray",
]

CRASH_ONCE_ENV = "MM_GYM_RAY_TEST_CRASH_ONCE"
"""Test-only: a folder; the first task to start there kills its worker once (see above)."""


@dataclass
class RolloutJob:
    """One rollout of the tournament (a contestant in a setting), before it is split in tasks.

    Attributes:
        setting: Preset name or env id.
        name: Contestant name.
        policy: The contestant, built for this setting.
        rival: ``"builtin"`` or the rival policy (resolved as :func:`rollout` resolves it).
        batches: Its :func:`batch_plan`.
    """

    setting: str
    name: str
    policy: QuotingPolicy
    rival: Any
    batches: list[tuple[int, int, int]]


def plan_tournament(
    policies: Mapping[str, PolicyOrFactory],
    settings: Sequence[str],
    n_episodes: int,
    *,
    rival: Any = "builtin",
    batch_size: int = DEFAULT_BATCH,
) -> list[RolloutJob]:
    """The rollouts of :func:`run_tournament`, in its order, built as it builds them."""
    return _jobs(_contestants(policies, settings, rival), n_episodes, batch_size)


def _jobs(contestants: Iterable[Contestant], n_episodes: int, batch_size: int) -> list[RolloutJob]:
    plan = batch_plan(n_episodes, batch_size)
    return [
        RolloutJob(s, name, pol, _resolve_rival(riv, pol), plan)
        for s, name, pol, riv in contestants
    ]


def _batch_task(
    job: RolloutJob,
    batch: tuple[int, int, int],
    overrides: Mapping[str, Any] | None,
    seeds: np.ndarray,
    seed: int,
    sample_episode: int | None,
    crash_folder: str,
) -> tuple[int, dict[str, Any]]:
    """One batch of one rollout (runs in a Ray worker)."""
    if crash_folder:
        try:  # O_EXCL: exactly one attempt of one task gets here first
            os.close(os.open(Path(crash_folder) / "crashed", os.O_CREAT | os.O_EXCL))
            os._exit(1)  # the worker dies as a killed process would: Ray retries the task
        except FileExistsError:
            pass
    return run_batches(
        job.policy, job.setting, overrides, seeds, job.rival, [batch], seed=seed,
        name=job.name, sample_episode=sample_episode,
    )[0]  # fmt: skip


run_tournament_ray = functools.partial(run_tournament, ray=True)
""":func:`~mm_gym.evaluation.rollout.run_tournament` with ``ray=True``: one Ray task per batch
(Ray must be initialised); ``progress`` is called with 1 as each task finishes."""


def run_on_ray(
    contestants: Iterable[Contestant],
    seeds: np.ndarray,
    overrides: Mapping[str, Any] | None,
    *,
    seed: int,
    batch_size: int,
    sample_episode: int | None,
    progress: Callable[[int], Any] | None,
    max_retries: int,
) -> Tournament:
    """The tournament of ``contestants`` as Ray tasks, one per batch (``run_tournament(ray=True)``).

    Args:
        contestants: The rollouts, as :func:`~mm_gym.evaluation.rollout.run_tournament` makes
            them.
        seeds: The evaluation seeds.
        overrides: Environment keyword overrides applied in every setting.
        seed: Master seed.
        batch_size: Episodes per vector environment, and so per task.
        sample_episode: Index of the episode traced step by step (None: no traces).
        progress: Called with 1 as each task finishes.
        max_retries: Times a task whose worker died is retried.

    Returns:
        The :class:`Tournament`, equal to the single process's with the same arguments.
    """
    import ray

    if sample_episode is not None and not 0 <= sample_episode < seeds.size:
        raise ConfigError(f"sample_episode={sample_episode!r} must be in [0, {seeds.size - 1}]")
    jobs = _jobs(contestants, seeds.size, batch_size)
    task = ray.remote(num_cpus=1, max_retries=max_retries, retry_exceptions=False)(_batch_task)
    seeds_ref, overrides_ref = ray.put(seeds), ray.put(dict(overrides or {}))
    crash = os.environ.get(CRASH_ONCE_ENV, "")
    refs: list[list[Any]] = []
    for job in jobs:
        job_ref = ray.put(job)
        refs.append([
            task.remote(job_ref, b, overrides_ref, seeds_ref, seed, sample_episode, crash)
            for b in job.batches
        ])  # fmt: skip
    done = _wait_all([r for row in refs for r in row], progress)
    rollouts = [
        assemble_rollout(job.name, job.setting, _rival_name(job.rival), [done[r] for r in row])
        for job, row in zip(jobs, refs, strict=True)
    ]
    return Tournament(pd.concat([r.episodes for r in rollouts], ignore_index=True), rollouts)


def _wait_all(refs: list[Any], progress: Callable[[int], Any] | None) -> dict[Any, Any]:
    """The results of ``refs`` by reference, gathered as they finish (``progress(1)`` each)."""
    import ray

    results: dict[Any, Any] = {}
    pending = list(refs)
    try:
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                results[ref] = ray.get(ref)
                if progress is not None:
                    progress(1)
    except BaseException:
        for ref in pending:  # do not leave the cluster busy with a failed run's tasks
            ray.cancel(ref, force=True)
        raise
    return results
