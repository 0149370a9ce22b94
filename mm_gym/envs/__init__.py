"""The environments: single-agent, vector and PettingZoo parallel, on one batched core.

Attributes are imported on first access, so ``import mm_gym.envs`` stays cheap (the market and
its compiled kernels load only when an environment class is used).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mm_gym.lazy import lazy_attributes

if TYPE_CHECKING:
    from mm_gym.envs.config import EnvConfig
    from mm_gym.envs.intensity import IntensityMarketMakingEnv
    from mm_gym.envs.parallel import MarketMakingParallelEnv, parallel_env
    from mm_gym.envs.single import MarketMakingEnv
    from mm_gym.envs.two_makers import TwoMakerVectorEnv
    from mm_gym.envs.vector import MarketMakingVectorEnv

__all__ = [
    "EnvConfig",
    "IntensityMarketMakingEnv",
    "MarketMakingEnv",
    "MarketMakingParallelEnv",
    "MarketMakingVectorEnv",
    "TwoMakerVectorEnv",
    "parallel_env",
]

_WHERE = {
    "EnvConfig": "mm_gym.envs.config",
    "IntensityMarketMakingEnv": "mm_gym.envs.intensity",
    "MarketMakingEnv": "mm_gym.envs.single",
    "MarketMakingParallelEnv": "mm_gym.envs.parallel",
    "MarketMakingVectorEnv": "mm_gym.envs.vector",
    "TwoMakerVectorEnv": "mm_gym.envs.two_makers",
    "parallel_env": "mm_gym.envs.parallel",
}


__getattr__, __dir__ = lazy_attributes(__name__, _WHERE)
