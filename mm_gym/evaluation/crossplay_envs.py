"""Which market a cross-play plays, and which contestants may play it (issues #15 and #17).

Cross-play (:mod:`mm_gym.evaluation.crossplay`) plays one of two markets:

- :data:`SINGLE_VENUE_ENV_ID` (the default): one book per market, both makers quoting through
  :class:`~mm_gym.envs.two_makers.TwoMakerVectorEnv`; the market is ``preset``'s.
- ``mm_gym/MultiVenue-v0``: one asset on several venues, both makers quoting every venue
  through :class:`~mm_gym.multivenue.MultiVenueTwoMakerVectorEnv` (``preset`` is the asset's).

A contestant must quote the market it plays. A policy trained by ``train.py`` records the env
it was trained on (:attr:`agents.policy.PPOPolicy.env_id`, from its run's ``metadata.json``;
else its ``n_venues``); a baseline quotes several venues if it says so with the attribute
``multi_venue = True`` (:class:`baselines.multivenue.QuoteEverywhere` and
:class:`~baselines.multivenue.RoutedAS`). :func:`check_contestant` refuses the rest in one
line naming the contestant, the env it was made for and the env asked for (and a trained
policy quoting another number of venues than the market has). Portfolio-v0 has a
two-maker form (:class:`~mm_gym.portfolio.PortfolioTwoMakerVectorEnv`), but cross-play does not
play it (:func:`check_crossplay_env_id` says so).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mm_gym import BOOK_ENV_IDS, MULTI_VENUE_ENV_IDS, PORTFOLIO_ENV_IDS
from mm_gym.config import ConfigError
from mm_gym.policy import QuotingPolicy

__all__ = [
    "CROSSPLAY_ENV_IDS",
    "SINGLE_VENUE_ENV_ID",
    "baseline_factory",
    "check_contestant",
    "check_crossplay_env_id",
    "is_multi_venue",
    "two_maker_env",
    "venue_count",
]

SINGLE_VENUE_ENV_ID = "mm_gym/MarketMaking-v1"
"""The default cross-play env: the single-venue book market of any preset."""
CROSSPLAY_ENV_IDS: tuple[str, ...] = (SINGLE_VENUE_ENV_ID, *MULTI_VENUE_ENV_IDS)
"""The env ids cross-play takes."""


def is_multi_venue(env_id: str) -> bool:
    """Whether ``env_id`` is a multi-venue cross-play env."""
    return env_id in MULTI_VENUE_ENV_IDS


def check_crossplay_env_id(env_id: Any) -> str:
    """``env_id`` if cross-play plays it; else a one-line :class:`ConfigError` saying why."""
    if env_id in CROSSPLAY_ENV_IDS:
        return str(env_id)
    if env_id in PORTFOLIO_ENV_IDS:
        raise ConfigError(
            f"cross-play on {env_id} is not supported: it plays {', '.join(CROSSPLAY_ENV_IDS)}"
        )
    if env_id in BOOK_ENV_IDS:
        raise ConfigError(
            f"cross-play env_id={env_id!r}: the single-venue market is {SINGLE_VENUE_ENV_ID} "
            "with a preset (--preset / --regimes chooses it, e.g. trending); env ids: "
            f"{', '.join(CROSSPLAY_ENV_IDS)}"
        )
    raise ConfigError(f"cross-play env_id={env_id!r} is not valid: choose from {CROSSPLAY_ENV_IDS}")


def two_maker_env(
    env_id: str, n_markets: int, preset: str, overrides: Mapping[str, Any] | None = None
) -> Any:
    """Both makers of ``n_markets`` markets of ``env_id`` as a two-maker native vector env."""
    if is_multi_venue(env_id):
        from mm_gym.multivenue import MultiVenueTwoMakerVectorEnv

        return MultiVenueTwoMakerVectorEnv(n_markets, preset, **dict(overrides or {}))
    from mm_gym.envs.two_makers import TwoMakerVectorEnv

    return TwoMakerVectorEnv(n_markets, preset, **dict(overrides or {}))


def venue_count(env: Any) -> int:
    """The venues of a two-maker cross-play env (a bid and an ask action per venue)."""
    return int(env.single_action_space.shape[0]) // 2


def _made_for(policy: Any) -> tuple[str, bool]:
    """What ``policy`` was made for, as words, and whether that quotes several venues."""
    trained_on = getattr(policy, "env_id", None)
    if isinstance(trained_on, str):  # a trained policy whose run recorded its env
        return trained_on, is_multi_venue(trained_on)
    n_venues = getattr(policy, "n_venues", None)
    if isinstance(n_venues, int):  # a trained policy without that record: its actions tell
        if n_venues > 1:
            return f"a multi-venue env ({n_venues} venues)", True
        return "a single-venue env", False
    if getattr(policy, "multi_venue", False) is True:
        return "several venues (a multi-venue baseline)", True
    return "a single venue (it cannot quote several venues)", False


def check_contestant(policy: Any, name: str, env_id: str, n_venues: int | None = None) -> None:
    """Refuse ``policy`` (contestant ``name``) if it cannot quote ``env_id``'s market.

    ``n_venues``: the venues of the market played (None: not checked); a trained policy
    quoting another number of venues is refused.

    Raises:
        ConfigError: One line naming the contestant, what it was made for and ``env_id``: a
            policy trained on Portfolio-v0, a single-venue policy or baseline in a multi-venue
            cross-play, a multi-venue one in a single-venue cross-play, a policy trained on
            another number of venues, or a policy trained on MultiVenue-v0's routed action
            form (cross-play's makers both quote per venue).
    """
    made_for, multi = _made_for(policy)
    if made_for in PORTFOLIO_ENV_IDS:
        raise ConfigError(
            f"contestant {name!r} was trained on {made_for}; cross-play does not play its "
            f"policies (it plays {', '.join(CROSSPLAY_ENV_IDS)})"
        )
    verb = "was trained on" if hasattr(policy, "n_venues") else "quotes"
    if multi != is_multi_venue(env_id):
        raise ConfigError(
            f"contestant {name!r} {verb} {made_for}; this cross-play plays {env_id}: give "
            f"{'multi-venue' if is_multi_venue(env_id) else 'single-venue'} policies only"
        )
    trained = getattr(policy, "n_venues", None)
    if n_venues is not None and isinstance(trained, int) and trained != n_venues:
        raise ConfigError(
            f"contestant {name!r} was trained on {trained} venue(s); this cross-play's market "
            f"of {env_id} has {n_venues}: play it on the venues it was trained on (its run's "
            "metadata.json env_kwargs; evaluate.py --cross-play --env-kwargs venues=...)"
        )
    if getattr(policy, "action_form", "per_venue") != "per_venue":
        raise ConfigError(
            f"contestant {name!r} was trained on {env_id}'s routed action form; cross-play's "
            "makers both quote per venue (action_form='per_venue'): give per-venue policies"
        )


def baseline_factory(
    name: str, env_id: str, where: str
) -> Callable[[str, Mapping[str, Any]], QuotingPolicy]:
    """``(preset, overrides) -> a fresh baseline`` for the baseline ``name`` on ``env_id``.

    Single-venue: :func:`baselines.registry.make_policy` (AS and GLFT calibrated with the
    overrides). Multi-venue: :func:`baselines.multivenue.make_multivenue_policy` (calibrated on
    the preset, as the multi-venue tournament's; the start price from the preset).

    Raises:
        ConfigError: One line starting with ``where``: an unknown name, a single-venue baseline
            on a multi-venue env or a multi-venue one on the single-venue env.
    """
    from baselines.multivenue import MULTIVENUE_BASELINES, make_multivenue_policy
    from baselines.registry import BASELINE_NAMES, make_policy

    multi = is_multi_venue(env_id)
    allowed = list(MULTIVENUE_BASELINES if multi else BASELINE_NAMES)
    if name in allowed and multi:
        return lambda preset, overrides: make_multivenue_policy(
            name, preset, start_price=_start_price(preset)
        )
    if name in allowed:
        return lambda preset, overrides: make_policy(name, preset, dict(overrides))
    if name in BASELINE_NAMES or name in MULTIVENUE_BASELINES:
        kind = "a single-venue baseline: it cannot quote several venues" if multi else (
            "a multi-venue baseline: it quotes several venues"
        )  # fmt: skip
        raise ConfigError(
            f"{where}: {name!r} is {kind}, and this cross-play plays {env_id}; its baselines: "
            f"{', '.join(allowed)}"
        )
    raise ConfigError(f"{where}: {name!r} is not a baseline of {env_id}: choose from {allowed}")


def _start_price(preset: str) -> float:
    """The preset's start price (currency), as the multi-venue tournament gives its baselines."""
    from mm_gym import preset as get_preset

    cfg = get_preset(preset)
    return float(cfg.price0_ticks * cfg.tick_size)
