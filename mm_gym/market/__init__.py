"""The batched market simulator: state as arrays with a leading ``n_markets`` dimension."""

from mm_gym.market._cache import ensure_consistent_cache

ensure_consistent_cache()  # before any compiled kernel is imported and loaded

# isort: split

from mm_gym.market.simulator import MarketSimulator, StepResult  # noqa: E402

__all__ = ["MarketSimulator", "StepResult"]
