"""Evaluation settings, seeds and environments: what a tournament runs on.

A *setting* is a book preset (``"mean_reverting"``...) or a registered env id; the seed list
(:func:`evaluation_seeds`) is the same for every contestant, so their episodes are paired.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mm_gym.config import ConfigError, is_integer, setting_preset
from mm_gym.observations import REGIME_FEATURES, SIGNAL_FEATURES

__all__ = [
    "DEFAULT_BATCH",
    "MAX_RETRIES",
    "evaluation_seeds",
    "make_vector_env",
    "observation_overrides",
    "override_fields",
    "resolve_setting",
    "setting_configs",
    "tournament_memory_bytes",
]

DEFAULT_BATCH = 2048
"""Episodes per vector environment unless told otherwise."""

MAX_RETRIES = 3
"""Times a Ray task whose worker died is run again before the run fails (``evaluate.py --ray``)."""

_SEED_SALT = 0x6D6D5F65  # "mm_e": evaluation seeds are unrelated to training seeds 0, 1, 2...


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
    if not is_integer(value) or value < low:
        raise ConfigError(f"{name}={value!r} must be an integer >= {low}")


def resolve_setting(setting: str) -> tuple[str, dict[str, Any]]:
    """Turn a preset name or a registered env id into ``(env_id, make_kwargs)``.

    Args:
        setting: A book preset (``"mean_reverting"``, ...) or an id such as
            ``"mm_gym/Trending-v1"``.

    Returns:
        The env id for ``gym.make_vec`` and the keyword arguments that select the preset.

    Raises:
        ConfigError: On an unknown name (the message lists the valid ones) or the intensity
            preset (it has no order book).
    """
    import mm_gym

    name = setting_preset(setting)  # the one vocabulary; raises naming every accepted value
    if setting in mm_gym.BOOK_ENV_IDS:
        return setting, {}
    return "mm_gym/MarketMaking-v1", {"preset": name}


def override_fields(overrides: Mapping[Any, Any], prefix: str = "") -> dict[str, str]:
    """Every field that ``overrides`` sets, dotted and aliases resolved, to the key given for it.

    ``{"news_model": "vader", "process": {"sigma_ticks": 1}}`` gives ``{"process.news_model":
    "news_model", "process": "process", "process.sigma_ticks": "process"}``: a field is found
    however it was written (:data:`mm_gym.envs.config.MARKET_ALIASES`, nested mappings).
    """
    from mm_gym.envs.config import MARKET_ALIASES

    out: dict[str, str] = {}
    for key, value in overrides.items():
        name = prefix + str(key)
        name = MARKET_ALIASES.get(name, name)
        out[name] = str(key)
        if isinstance(value, Mapping):
            nested = override_fields(value, name + ".")
            out.update({field: str(key) for field in nested})
    return out


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


def make_vector_env(setting: str, overrides: Mapping[str, Any] | None, n: int, rival: Any) -> Any:
    """The vector env of ``n`` markets for ``setting`` (a gymnasium ``make_vec``).

    Args:
        setting: Book preset or env id (:func:`resolve_setting`).
        overrides: ``gym.make`` keyword overrides.
        n: Number of markets (episodes run side by side).
        rival: ``"builtin"`` or a :class:`~mm_gym.policy.QuotingPolicy` quoting as mm2.

    Raises:
        ConfigError: On an invalid setting or a non-continuous ``action_type``.
    """
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


_REGIME_FEATURES = frozenset(REGIME_FEATURES)
_SIGNAL_FEATURES = frozenset(SIGNAL_FEATURES)


def observation_overrides(overrides: Mapping[str, Any] | None, *policies: Any) -> dict[str, Any]:
    """``overrides``, with the regime one-hot (``alpha``) observed if one of ``policies`` reads it.

    A policy may declare the features it reads as ``feature_names`` (a trained
    :class:`agents.PPOPolicy` does, and :class:`baselines.SentimentAS`); one trained with
    ``observe_regime=True`` needs the ``regime_*`` columns, one reading ``alpha`` needs
    ``observe_alpha=True``: the environment only appends them when asked. Observing them changes
    neither the market nor the other columns (policies pick their columns by name), so the
    episodes stay comparable with the other contestants'. An explicit ``observe_regime`` or
    ``observe_alpha`` in ``overrides`` is kept as given.
    """
    out = dict(overrides or {})
    wanted: set[str] = set()
    for p in policies:
        wanted.update(str(f) for f in getattr(p, "feature_names", None) or ())
    if wanted & _REGIME_FEATURES and "observe_regime" not in out:
        out["observe_regime"] = True
    if wanted & _SIGNAL_FEATURES and "observe_alpha" not in out:
        out["observe_alpha"] = True
    return out


def tournament_memory_bytes(
    settings: Sequence[str],
    overrides: Mapping[str, Any] | None,
    n_episodes: int,
    n_policies: int,
    batch_size: int = DEFAULT_BATCH,
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
        env = make_vector_env(s, {**dict(overrides or {}), "horizon_steps": 1}, 2, "builtin")
        try:
            sim = getattr(env, "unwrapped", env).simulator
            per_market = max(per_market, sim.state.nbytes / sim.n_markets)
        finally:
            env.close()
    batch = min(n_episodes, batch_size) * (per_market + 2 * 8 * 8 * (horizon + 1))
    n_settings = len(settings)
    rows = float(n_episodes) * n_policies * (n_settings + n_scenarios) * 60 * 8 + 8 * n_episodes
    pooled = n_settings if n_settings > 1 else 0
    boot = 8.0 * n_boot * n_episodes * (n_settings + pooled + n_scenarios)
    return batch + rows + boot
