"""The environments: single-agent, vector and PettingZoo parallel, on one batched core.

Attributes are imported on first access, so ``import mm_gym.envs`` stays cheap (the market and
its compiled kernels load only when an environment class is used).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mm_gym.envs.config import EnvConfig
    from mm_gym.envs.intensity import IntensityMarketMakingEnv
    from mm_gym.envs.parallel import MarketMakingParallelEnv, parallel_env
    from mm_gym.envs.single import MarketMakingEnv
    from mm_gym.envs.vector import MarketMakingVectorEnv

__all__ = [
    "EnvConfig",
    "IntensityMarketMakingEnv",
    "MarketMakingEnv",
    "MarketMakingParallelEnv",
    "MarketMakingVectorEnv",
    "parallel_env",
]

_WHERE = {
    "EnvConfig": "mm_gym.envs.config",
    "IntensityMarketMakingEnv": "mm_gym.envs.intensity",
    "MarketMakingEnv": "mm_gym.envs.single",
    "MarketMakingParallelEnv": "mm_gym.envs.parallel",
    "MarketMakingVectorEnv": "mm_gym.envs.vector",
    "parallel_env": "mm_gym.envs.parallel",
}


def __getattr__(name: str) -> Any:
    """Import the public classes lazily."""
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'mm_gym.envs' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
