"""The named market presets and the one vocabulary of market settings of the tools.

:func:`preset` returns a named :class:`~mm_gym.config.MarketConfig`; :func:`book_preset_names`,
:func:`setting_preset` and :func:`preset_overrides` are how ``train.py --regime``,
``evaluate.py --regimes`` and the registered env ids name the same markets. Every name here is
also importable from :mod:`mm_gym.config`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from mm_gym.config import ConfigError, IntensityConfig, MarketConfig, config_to_dict, excerpt

__all__ = [
    "book_preset_names",
    "preset",
    "preset_names",
    "preset_overrides",
    "setting_preset",
]


def _presets() -> dict[str, MarketConfig]:
    base = MarketConfig()
    return {
        "default": base,
        "mean_reverting": replace(base, regime="mean_reverting"),
        "trending": replace(base, regime="trending"),
        "volatile": replace(base, regime="volatile"),
        "switching": replace(base, regime="switching"),
        "shock_heavy": replace(
            base,
            regime="switching",
            flow=replace(base.flow, shock_rate=0.01, shock_size_lots=12, p_adversarial=0.9),
        ),
        "hawkes": replace(base, flow=replace(base.flow, hawkes=True)),
        # Avellaneda & Stoikov (2008), section 4: s0=100, T=1, sigma=2, dt=0.005, k=1.5, A=140.
        "as2008": replace(base, fills="intensity", horizon_steps=200, intensity=IntensityConfig()),
    }


def preset_names() -> list[str]:
    """Names accepted by :func:`preset`."""
    return list(_presets())


def preset(name: str) -> MarketConfig:
    """Return the named preset config.

    Args:
        name: One of :func:`preset_names`.

    Raises:
        ConfigError: If the name is unknown (the message lists the valid names).
    """
    presets = _presets()
    if not isinstance(name, str) or name not in presets:
        raise ConfigError(f"preset={excerpt(name)} is not valid: choose one of {list(presets)}")
    return presets[name]


def book_preset_names() -> list[str]:
    """The presets with a limit order book (all but the intensity model's ``as2008``).

    The one vocabulary of market settings of the tools: ``train.py --regime`` and
    ``evaluate.py --regimes`` accept these names (or the env ids of :func:`setting_preset`).
    """
    return [name for name, config in _presets().items() if config.fills == "book"]


def setting_preset(setting: str) -> str:
    """The book preset of ``setting``: a name of :func:`book_preset_names` or a book env id.

    Raises:
        ConfigError: Naming the value and every accepted name and id.
    """
    import mm_gym  # the registry of env ids (imports this module first)

    books = book_preset_names()
    if isinstance(setting, str) and setting in books:
        return setting
    if isinstance(setting, str) and setting in mm_gym.BOOK_ENV_IDS:
        import gymnasium as gym

        return str(gym.spec(setting).kwargs["preset"])
    raise ConfigError(
        f"setting={excerpt(setting)} is not valid: choose a book preset {books} or an env id "
        f"{list(mm_gym.BOOK_ENV_IDS)}"
    )


def preset_overrides(name: str, base: str = "default") -> dict[str, Any]:
    """Dotted overrides that turn preset ``base`` into preset ``name``, always with ``regime``.

    ``with_overrides(preset(base), preset_overrides(name, base)) == preset(name)``. The regime
    is always included, so that the overrides select the preset's regime on top of any other
    preset too (``train.py --regime trending --env-id mm_gym/Hawkes-v1``: Hawkes flow, trending
    fundamental).

    Raises:
        ConfigError: On an unknown preset name.
    """

    def flat(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in d.items():
            if isinstance(v, Mapping):
                out.update(flat(v, f"{prefix}{k}."))
            else:
                out[prefix + k] = v
        return out

    target, origin = preset(name), preset(base)
    new, old = flat(config_to_dict(target)), flat(config_to_dict(origin))
    changed = {k: v for k, v in new.items() if k == "regime" or old.get(k) != v}
    for k, v in changed.items():  # asdict turns tuples into lists: give them back
        if isinstance(v, list):
            changed[k] = tuple(v)
    return changed
