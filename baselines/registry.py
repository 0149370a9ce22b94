"""One registry of quoting policies by name (train.py, evaluate.py, the dashboard, benchmarks).

A *factory* makes a policy for one setting (a preset name or an env id) and optional environment
overrides: ``factory(setting, overrides) -> QuotingPolicy``. The built-in entries are the scripted
baselines with ``evaluate.py``'s parameters; Avellaneda-Stoikov and GLFT are calibrated on the
setting (:mod:`baselines.calibration`). Users add their own in two ways:

- ``register_policy("my_mm", factory)`` from Python, or
- ``"mypkg.mymod:MyPolicy"`` wherever a policy name is accepted (``evaluate.py --contestants``,
  ``train.py --rival``): the module is imported and ``MyPolicy`` is called with
  ``(setting, overrides)`` if it accepts two arguments, else with none.

Example:
    >>> from baselines.registry import make_policy, policy_names
    >>> policy = make_policy("avellaneda_stoikov", "trending")
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any

from mm_gym.policy import QuotingPolicy

__all__ = [
    "BASELINE_NAMES",
    "OPT_IN_NAMES",
    "PolicyFactory",
    "default_policy_names",
    "is_import_spec",
    "make_policy",
    "policy_names",
    "register_policy",
]

PolicyFactory = Callable[[str, "Mapping[str, Any] | None"], QuotingPolicy]
"""``factory(setting, overrides) -> QuotingPolicy``."""

_IMPORT_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def _fixed_spread(setting: str, overrides: Mapping[str, Any] | None) -> QuotingPolicy:
    from baselines.policies import FixedSpread

    # 1 tick from the mid: the class default (2 ticks) sits behind the book and hardly trades.
    return FixedSpread(1.0, name="fixed_spread")


def _order_flow_skew(setting: str, overrides: Mapping[str, Any] | None) -> QuotingPolicy:
    from baselines.policies import OrderFlowSkew

    return OrderFlowSkew(1.0, 1.0, 2.0, name="order_flow_skew")


def _avellaneda_stoikov(setting: str, overrides: Mapping[str, Any] | None) -> QuotingPolicy:
    from baselines.calibration import calibrated_as

    return calibrated_as(setting, overrides)


def _glft(setting: str, overrides: Mapping[str, Any] | None) -> QuotingPolicy:
    from baselines.calibration import calibrated_glft

    return calibrated_glft(setting, overrides)


def _sentiment_as(setting: str, overrides: Mapping[str, Any] | None) -> QuotingPolicy:
    from baselines.calibration import calibrated_sentiment_as

    return calibrated_sentiment_as(setting, overrides)


def _random(setting: str, overrides: Mapping[str, Any] | None) -> QuotingPolicy:
    from baselines.policies import RandomQuoter

    return RandomQuoter(name="random")


_REGISTRY: dict[str, PolicyFactory] = {
    "fixed_spread": _fixed_spread,
    "order_flow_skew": _order_flow_skew,
    "avellaneda_stoikov": _avellaneda_stoikov,
    "glft": _glft,
    "random": _random,
}

BASELINE_NAMES: tuple[str, ...] = tuple(_REGISTRY)
"""The built-in scripted baselines, in leaderboard order of the CLI's ``--list``."""

_REGISTRY["sentiment_as"] = _sentiment_as

OPT_IN_NAMES: tuple[str, ...] = ("sentiment_as",)
"""Registered names that run only when named, not with ``evaluate.py --contestants all``:
``sentiment_as`` reads the news ``alpha`` signal (worth it with headlines on,
``process.news_model``) and tunes its ``kappa`` on first use (about a minute per setting)."""


def register_policy(name: str, factory: PolicyFactory, *, overwrite: bool = False) -> None:
    """Add ``factory`` under ``name`` (used as the contestant's display name).

    Raises:
        ValueError: If ``name`` is taken (and not ``overwrite``), or not an identifier-like name.
    """
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][\w\-]*", name):
        raise ValueError(f"policy name {name!r} must be letters, digits, '_' or '-'")
    if not callable(factory):
        raise ValueError(f"factory for {name!r} must be callable, got {type(factory).__name__}")
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"policy {name!r} is registered already (pass overwrite=True)")
    _REGISTRY[name] = factory


def policy_names() -> tuple[str, ...]:
    """Every registered name, built-ins first."""
    return tuple(_REGISTRY)


def default_policy_names() -> tuple[str, ...]:
    """The registered names ``evaluate.py --contestants all`` runs: all but :data:`OPT_IN_NAMES`."""
    return tuple(n for n in _REGISTRY if n not in OPT_IN_NAMES)


def is_import_spec(spec: str) -> bool:
    """True if ``spec`` reads ``module.path:Attribute``."""
    return bool(_IMPORT_SPEC.match(spec))


def make_policy(
    spec: str, setting: str = "default", overrides: Mapping[str, Any] | None = None
) -> QuotingPolicy:
    """A quoting policy from a registered name or a ``module:Attribute`` import spec.

    Args:
        spec: A name of :func:`policy_names`, or ``"mypkg.mymod:MyPolicy"``.
        setting: Preset name or env id (calibrated baselines are fitted on it).
        overrides: Environment keyword overrides of that setting.

    Returns:
        The policy (call ``reset(rng, context)`` before ``act``).

    Raises:
        ValueError: If the name is unknown, the import fails, or the result is not a
            :class:`~mm_gym.policy.QuotingPolicy`; the message says which.
    """
    if spec in _REGISTRY:
        policy = _REGISTRY[spec](setting, overrides)
    elif isinstance(spec, str) and is_import_spec(spec):
        policy = _from_import(spec, setting, overrides)
    else:
        raise ValueError(
            f"policy {spec!r} is not valid: use one of {list(_REGISTRY)} or an import spec "
            "'mypkg.mymod:MyPolicy'"
        )
    if not isinstance(policy, QuotingPolicy):
        raise ValueError(
            f"policy {spec!r} made {type(policy).__name__}, which is not a QuotingPolicy "
            "(it needs reset(rng, context) and act(obs))"
        )
    return policy


def _from_import(spec: str, setting: str, overrides: Mapping[str, Any] | None) -> Any:
    module_name, _, attr_path = spec.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"policy {spec!r}: cannot import {module_name!r}: {exc}") from None
    for part in attr_path.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"policy {spec!r}: {module_name!r} has no attribute {attr_path!r}")
        obj = getattr(obj, part)
    if isinstance(obj, QuotingPolicy) and not inspect.isclass(obj):
        return obj
    if not callable(obj):
        raise ValueError(f"policy {spec!r} is neither a QuotingPolicy nor callable")
    try:
        n_params = len(
            [
                p
                for p in inspect.signature(obj).parameters.values()
                if p.default is inspect.Parameter.empty
                and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            ]
        )
    except (TypeError, ValueError):
        n_params = 0
    return obj(setting, overrides) if n_params >= 2 else obj()
