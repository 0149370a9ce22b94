"""Quoting policies by name: the scripted baselines and trained runs, as rivals or contestants.

``make_policy("avellaneda_stoikov")`` returns the calibrated Avellaneda-Stoikov baseline,
``make_policy("runs/ppo_s0")`` a trained run (:func:`agents.policy.load_policy`). The baseline
parameters are those of ``evaluate.py``'s contestants, so a training run's final table and a
later ``python evaluate.py`` tournament compare against the same opponents.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mm_gym.policy import QuotingPolicy

__all__ = ["BASELINE_NAMES", "make_policy", "make_rival"]


def _baseline_table() -> dict[str, Callable[[str, Mapping[str, Any] | None], QuotingPolicy]]:
    from baselines import FixedSpread, OrderFlowSkew, RandomQuoter
    from baselines.calibration import calibrated_as, calibrated_glft

    return {
        "fixed_spread": lambda s, o: FixedSpread(1.0, name="fixed_spread"),
        "order_flow_skew": lambda s, o: OrderFlowSkew(1.0, 1.0, 2.0, name="order_flow_skew"),
        "avellaneda_stoikov": lambda s, o: calibrated_as(s, o),
        "glft": lambda s, o: calibrated_glft(s, o),
        "random": lambda s, o: RandomQuoter(name="random"),
    }


BASELINE_NAMES: tuple[str, ...] = (
    "fixed_spread",
    "order_flow_skew",
    "avellaneda_stoikov",
    "glft",
    "random",
)
"""Names :func:`make_policy` accepts besides run directories. ``avellaneda_stoikov`` and
``glft`` are calibrated on the setting (:mod:`baselines.calibration`)."""


def make_policy(
    spec: str, setting: str = "default", overrides: Mapping[str, Any] | None = None
) -> QuotingPolicy:
    """A quoting policy from a baseline name or a trained run directory.

    Args:
        spec: One of :data:`BASELINE_NAMES`, or a run directory (``runs/<name>``) or
            ``policy.npz`` written by ``train.py``.
        setting: Preset name or env id the calibrated baselines are fitted on.
        overrides: Environment keyword overrides of that setting.

    Returns:
        The policy (call ``reset(rng, context)`` before ``act``).

    Raises:
        ValueError: If ``spec`` is neither a baseline name nor an existing run.
    """
    if spec in BASELINE_NAMES:
        return _baseline_table()[spec](setting, overrides)
    path = Path(spec)
    if path.is_dir() or (path.suffix == ".npz" and path.is_file()):
        from agents.policy import load_policy

        return load_policy(path)
    raise ValueError(
        f"policy {spec!r} is not valid: use one of {list(BASELINE_NAMES)} or a run directory "
        "written by train.py (runs/<name>)"
    )


def make_rival(
    spec: str, setting: str = "default", overrides: Mapping[str, Any] | None = None
) -> Any:
    """The ``rival`` argument of the environments: ``"builtin"`` or a policy (see above)."""
    if spec == "builtin":
        return "builtin"
    return make_policy(spec, setting, overrides)
