"""The batched market simulator: state as arrays with a leading ``n_markets`` dimension."""

from mm_gym.market._cache import ensure_consistent_cache

ensure_consistent_cache()

# isort: split

from mm_gym.market.simulator import MarketSimulator, StepResult

__all__ = ["MarketSimulator", "StepResult"]
