"""mm_gym: Gymnasium and PettingZoo environments for market making on a simulated limit order book.

Importing the package registers the environment ids with Gymnasium and nothing else: the market
simulator (numba) is loaded when an environment is first made, and torch is never imported.

Example:
    >>> import gymnasium as gym
    >>> import mm_gym
    >>> env = gym.make("mm_gym/MarketMaking-v1", regime="trending", inventory_penalty=0.01)
    >>> obs, info = env.reset(seed=0)
    >>> obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    >>> envs = gym.make_vec("mm_gym/MarketMaking-v1", num_envs=1024)  # the native batched env
    >>> par = mm_gym.parallel_env()  # PettingZoo: agents "mm1" and "mm2" both learn
    >>> from baselines import AvellanedaStoikov
    >>> res = mm_gym.rollout("mm_gym/Trending-v1", AvellanedaStoikov(), episodes=8)
    >>> res.pnl.mean()  # any QuotingPolicy; see mm_gym.rollout

Registered ids (each versioned; the version bumps when dynamics, reward or observation change):

| id | market preset |
| --- | --- |
| ``mm_gym/MarketMaking-v1`` | ``default`` (mean-reverting fundamental) |
| ``mm_gym/MeanReverting-v1`` | ``mean_reverting`` |
| ``mm_gym/Trending-v1`` | ``trending`` (drift follows news sentiment) |
| ``mm_gym/Volatile-v1`` | ``volatile`` |
| ``mm_gym/Switching-v1`` | ``switching`` (Markov chain over the three regimes) |
| ``mm_gym/ShockHeavy-v1`` | ``shock_heavy`` (frequent adverse liquidity shocks) |
| ``mm_gym/Hawkes-v1`` | ``hawkes`` (self-exciting noise flow) |
| ``mm_gym/AS2008-v1`` | ``as2008`` (Avellaneda & Stoikov 2008 intensity model, no book) |
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gymnasium as gym

from mm_gym.config import ConfigError, MarketConfig, preset, preset_names, with_overrides
from mm_gym.envs.config import EnvConfig
from mm_gym.lazy import lazy_getattr
from mm_gym.policy import PolicyContext, QuotingPolicy

# Imported eagerly, not through __getattr__: it needs only numpy (gymnasium is loaded anyway),
# and importing the submodule lazily would bind the *module* mm_gym.rollout over the function.
from mm_gym.rollout import RolloutResult, rollout

if TYPE_CHECKING:
    from mm_gym.envs.intensity import IntensityMarketMakingEnv
    from mm_gym.envs.parallel import MarketMakingParallelEnv
    from mm_gym.envs.single import MarketMakingEnv
    from mm_gym.envs.two_makers import TwoMakerVectorEnv
    from mm_gym.envs.vector import MarketMakingVectorEnv

__version__ = "0.2.0"

__all__ = [
    "BOOK_ENV_IDS",
    "ENV_IDS",
    "MULTI_VENUE_ENV_IDS",
    "PORTFOLIO_ENV_IDS",
    "ConfigError",
    "EnvConfig",
    "IntensityMarketMakingEnv",
    "MarketConfig",
    "MarketMakingEnv",
    "MarketMakingParallelEnv",
    "MarketMakingVectorEnv",
    "PolicyContext",
    "QuotingPolicy",
    "RolloutResult",
    "TwoMakerVectorEnv",
    "__version__",
    "check_trained_env_id",
    "parallel_env",
    "preset",
    "preset_names",
    "retired_env_id",
    "rollout",
    "with_overrides",
]

_BOOK_IDS: dict[str, str] = {
    "mm_gym/MarketMaking-v1": "default",
    "mm_gym/MeanReverting-v1": "mean_reverting",
    "mm_gym/Trending-v1": "trending",
    "mm_gym/Volatile-v1": "volatile",
    "mm_gym/Switching-v1": "switching",
    "mm_gym/ShockHeavy-v1": "shock_heavy",
    "mm_gym/Hawkes-v1": "hawkes",
}

BOOK_ENV_IDS: tuple[str, ...] = tuple(_BOOK_IDS)
"""The registered limit-order-book environment ids."""

MULTI_VENUE_ENV_IDS: tuple[str, ...] = ("mm_gym/MultiVenue-v0",)
"""The registered multi-venue environment ids (:mod:`mm_gym.multivenue`)."""

PORTFOLIO_ENV_IDS: tuple[str, ...] = ("mm_gym/Portfolio-v0",)
"""The registered multi-asset environment ids (:mod:`mm_gym.portfolio`)."""

ENV_IDS: tuple[str, ...] = (*BOOK_ENV_IDS, "mm_gym/AS2008-v1")
"""The registered single-venue environment ids (the ones ``train.py`` and ``evaluate.py`` take)."""


# id -> (entry point, vector entry point, preset), in registration order.
_ENTRY_POINTS: dict[str, tuple[str, str, str]] = {
    **{
        env_id: (
            "mm_gym.envs.single:MarketMakingEnv",
            "mm_gym.envs.vector:MarketMakingVectorEnv",
            preset_name,
        )
        for env_id, preset_name in _BOOK_IDS.items()
    },
    "mm_gym/AS2008-v1": (
        "mm_gym.envs.intensity:IntensityMarketMakingEnv",
        "mm_gym.envs.intensity_vector:IntensityMarketMakingVectorEnv",
        "as2008",
    ),
    "mm_gym/MultiVenue-v0": (
        "mm_gym.multivenue.env:MultiVenueEnv",
        "mm_gym.multivenue.env:MultiVenueVectorEnv",
        "default",
    ),
    "mm_gym/Portfolio-v0": (
        "mm_gym.portfolio.env:PortfolioEnv",
        "mm_gym.portfolio.env:PortfolioVectorEnv",
        "default",
    ),
}


def _register() -> None:
    for env_id, (entry_point, vector_entry_point, preset_name) in _ENTRY_POINTS.items():
        if env_id not in gym.registry:
            gym.register(
                id=env_id,
                entry_point=entry_point,
                vector_entry_point=vector_entry_point,
                kwargs={"preset": preset_name},
            )


_register()


def retired_env_id(env_id: str) -> str | None:
    """The current id of the environment of ``env_id`` if ``env_id`` is a retired version.

    ``"mm_gym/MarketMaking-v0"`` (the 0.1 market) gives ``"mm_gym/MarketMaking-v1"``; a
    registered id, or one with no registered version, gives ``None``.
    """
    if env_id in gym.registry or "-v" not in env_id:
        return None
    name = env_id.rsplit("-v", 1)[0]
    current = [i for i in ENV_IDS if i.rsplit("-v", 1)[0] == name]
    return current[0] if current else None


def check_trained_env_id(env_id: str, what: str) -> None:
    """Refuse, in one line, a policy or run trained on an environment version no longer registered.

    Args:
        env_id: The id ``what`` was trained on (a run's ``metadata.json`` ``env_id``).
        what: Names the run in the message (``"run 'runs/demo'"``).

    Raises:
        ConfigError: If ``env_id`` is a retired version of a registered id (its dynamics,
            observation or actions differ from the current one's).
    """
    current = retired_env_id(env_id)
    if current is not None:
        raise ConfigError(
            f"{what} was trained on {env_id}, which is no longer registered (the market and the "
            f"actions changed); the current id is {current}: retrain it with train.py"
        )


_LAZY = {
    "IntensityMarketMakingEnv": "mm_gym.envs.intensity",
    "MarketMakingEnv": "mm_gym.envs.single",
    "MarketMakingParallelEnv": "mm_gym.envs.parallel",
    "MarketMakingVectorEnv": "mm_gym.envs.vector",
    "TwoMakerVectorEnv": "mm_gym.envs.two_makers",
}


__getattr__ = lazy_getattr(__name__, _LAZY)


def parallel_env(**kwargs: Any) -> MarketMakingParallelEnv:
    """Make the two-learner PettingZoo ``ParallelEnv`` (agents ``"mm1"`` and ``"mm2"``).

    Args:
        **kwargs: As :class:`~mm_gym.envs.parallel.MarketMakingParallelEnv` (``preset``,
            ``config``, ``env_config``, ``render_mode``, ``reward_info``, ``max_cycles`` and any
            config override).
    """
    from mm_gym.envs.parallel import MarketMakingParallelEnv

    return MarketMakingParallelEnv(**kwargs)
