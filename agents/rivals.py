"""Quoting policies by name (registry entries, runs, import specs), as rivals or contestants.

``make_policy("avellaneda_stoikov")`` returns the calibrated Avellaneda-Stoikov baseline of
:mod:`baselines.registry` (the one table of baselines: ``evaluate.py``'s contestants, so a
training run's final table and a later ``python evaluate.py`` tournament compare against the
same opponents), ``make_policy("runs/ppo_s0")`` a trained run (:func:`agents.policy.load_policy`)
and ``make_policy("mypkg.mymod:MyPolicy")`` the user's own policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from baselines.registry import BASELINE_NAMES, is_import_spec, policy_names
from baselines.registry import make_policy as registry_policy
from mm_gym.policy import QuotingPolicy

__all__ = ["BASELINE_NAMES", "make_policy", "make_rival"]


def make_policy(
    spec: str, setting: str = "default", overrides: Mapping[str, Any] | None = None
) -> QuotingPolicy:
    """A quoting policy from a registry name, a trained run directory or an import spec.

    Args:
        spec: A name of :func:`baselines.registry.policy_names`, a run directory
            (``runs/<name>``) or ``policy.npz`` written by ``train.py``, or
            ``"mypkg.mymod:MyPolicy"``.
        setting: Preset name or env id the calibrated baselines are fitted on.
        overrides: Environment keyword overrides of that setting.

    Returns:
        The policy (call ``reset(rng, context)`` before ``act``).

    Raises:
        ValueError: If ``spec`` is none of these, or cannot be built.
    """
    if spec in policy_names() or is_import_spec(spec):
        return registry_policy(spec, setting, overrides)
    path = Path(spec)
    if path.is_dir() or (path.suffix == ".npz" and path.is_file()):
        from agents.policy import load_policy

        return load_policy(path)
    raise ValueError(
        f"policy {spec!r} is not valid: use one of {list(policy_names())}, a run directory "
        "written by train.py (runs/<name>) or an import spec 'mypkg.mymod:MyPolicy'"
    )


def make_rival(
    spec: str, setting: str = "default", overrides: Mapping[str, Any] | None = None
) -> Any:
    """The ``rival`` argument of the environments: ``"builtin"`` or a policy (see above)."""
    if spec == "builtin":
        return "builtin"
    return make_policy(spec, setting, overrides)
