"""Trained contestants of ``evaluate.py --runs``: run folders loaded as policies, and checked.

A run folder (``runs/<name>``, written by ``train.py``) becomes the contestant ``ppo:<name>``
through ``agents.load_policy``. ``--runs auto`` picks the newest completed run and skips, with a
note on stderr, one that cannot be played (a multi-venue run, a corrupt checkpoint); runs named
explicitly fail instead, with one :class:`~mm_gym.cli.CliError` line. Like the rest of the
command line, this module reports what it chose on stdout.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mm_gym.cli import CliError
from mm_gym.evaluation.settings import observation_overrides, setting_configs
from mm_gym.policy import QuotingPolicy

__all__ = ["check_features", "load_runs"]


def load_runs(runs: str, prog: str, runs_dir: Path = Path("runs")) -> dict[str, QuotingPolicy]:
    """The policies of ``runs`` (``--runs``: comma-separated folders, ``auto`` or ``none``).

    Args:
        runs: The flag's value.
        prog: The tool's name, starting each note on stderr.
        runs_dir: Where ``auto`` looks for the newest completed run.

    Returns:
        ``{"ppo:<folder name>": policy}``, in the order given.

    Raises:
        CliError: On a missing folder, a run that does not load as a policy, or (for runs named
            explicitly) a multi-venue run or a missing ``agents`` package.
    """
    if runs == "none":
        return {}
    if runs == "auto":
        from agents.run_folder import newest_completed_run

        newest = newest_completed_run(runs_dir)
        if newest is None:
            print(f"--runs auto: no completed train.py run under {runs_dir}/; none added")
            return {}
        print(f"--runs auto: adding {newest} (the newest completed run under {runs_dir}/)")
        folders, explicit = [newest], False
    else:
        folders, explicit = [Path(p.strip()) for p in runs.split(",") if p.strip()], True
    for folder in folders:
        if not folder.is_dir():
            existing = sorted(p.name for p in runs_dir.glob("*") if p.is_dir())
            problem = "is a file, not a folder" if folder.exists() else "does not exist"
            raise CliError(
                f"run folder {str(folder)!r} {problem}; runs under {runs_dir}/: "
                f"{', '.join(existing) or '(none)'}"
            )
    try:
        load_policy = importlib.import_module("agents").load_policy
        agents_policy = importlib.import_module("agents.policy")
    except (ImportError, AttributeError) as exc:
        if explicit:
            raise CliError(
                f"--runs needs agents.load_policy, which cannot be imported: {exc}"
            ) from None
        return {}
    from mm_gym import MULTI_VENUE_ENV_IDS

    policies = {}
    for folder in folders:
        if (env_id := agents_policy.trained_env_id(folder)) in MULTI_VENUE_ENV_IDS:
            # Without --env-id evaluate.py plays the single-venue envs.
            why = (
                f"run {str(folder)!r} was trained on a multi-venue env: evaluate it with "
                f"evaluate.py --env-id {env_id} --runs {folder} (or "
                f"python -m mm_gym.multivenue.tournament --runs {folder})"
            )
            if not explicit:
                print(f"{prog}: note: skipping newest {why}", file=sys.stderr)
                continue
            raise CliError(why)
        try:
            policy = load_policy(str(folder))
        except Exception as exc:  # a corrupt run is reported, whatever broke inside
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if not explicit:
                print(f"{prog}: note: skipping newest run {str(folder)!r}: {msg}", file=sys.stderr)
                continue
            raise CliError(f"cannot load run {str(folder)!r}: {msg}") from None
        if not isinstance(policy, QuotingPolicy):
            raise CliError(f"run {str(folder)!r} did not load as a QuotingPolicy: {policy!r}")
        label = f"ppo:{folder.name}"
        if label in policies:
            raise CliError(
                f"--runs: two run folders are named {folder.name!r} (contestant {label!r}); "
                "give runs with different folder names"
            )
        policies[label] = policy
    return policies


def check_features(
    policies: Mapping[str, Any], regimes: list[str], env_overrides: Mapping[str, Any]
) -> None:
    """Every trained contestant must find its features in every regime's observation.

    Raises:
        CliError: Naming the run, the features it lacks and the regime.
    """
    from mm_gym.envs.core import observed_features

    for label, policy in policies.items():
        needed = tuple(getattr(policy, "feature_names", ()) or ())
        for r in regimes:
            env_config = setting_configs(r, observation_overrides(env_overrides, policy))[1]
            missing = [f for f in needed if f not in observed_features(env_config)]
            if missing:
                raise CliError(
                    f"run {label.split(':', 1)[-1]!r} was trained on features {missing} that "
                    f"the {r!r} environment does not observe"
                )
