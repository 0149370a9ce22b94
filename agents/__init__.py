"""Learned quoting policies: PPO on the batched market, and trained runs as QuotingPolicies.

- :func:`load_policy` (``agents.load_policy("runs/<name>")``) returns a trained run's actor as a
  numpy-only :class:`~mm_gym.policy.QuotingPolicy` (:class:`PPOPolicy`) for ``evaluate.py``,
  :mod:`mm_gym.evaluation` or as the rival mm2. It imports neither torch nor SB3.
- :class:`MarketMakingSB3VecEnv` presents the native batched vector env to Stable-Baselines3
  (no ``SubprocVecEnv``: every market steps in one compiled call).
- :func:`make_training_env`, :func:`build_ppo` and :func:`policy_arrays` (:mod:`agents.ppo`)
  build the training stack and export the actor; :mod:`agents.training` holds the logging,
  checkpoint and resume plumbing of ``train.py``; :func:`make_policy` / :func:`make_rival`
  resolve :mod:`baselines.registry` names, run folders and ``mypkg.mymod:MyPolicy`` import
  specs; :func:`compare_with_baselines` makes the final table.

The torch-dependent names are imported on first access, so ``from agents import load_policy``
stays light.

Example:
    >>> import agents, numpy as np
    >>> from mm_gym.evaluation import evaluate_policies
    >>> ppo = agents.load_policy("runs/ppo_s0")
    >>> df = evaluate_policies({"ppo": ppo}, "default", n_episodes=200)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agents.policy import PPOPolicy, load_policy
from agents.rivals import BASELINE_NAMES, make_policy, make_rival
from mm_gym.lazy import lazy_attributes

if TYPE_CHECKING:
    from agents.compare import Comparison, compare_with_baselines, format_comparison
    from agents.ppo import build_ppo, make_training_env, policy_arrays
    from agents.vec_env import MarketMakingSB3VecEnv

__all__ = [
    "BASELINE_NAMES",
    "Comparison",
    "MarketMakingSB3VecEnv",
    "PPOPolicy",
    "build_ppo",
    "compare_with_baselines",
    "format_comparison",
    "load_policy",
    "make_policy",
    "make_rival",
    "make_training_env",
    "policy_arrays",
]

_LAZY = {
    "Comparison": "agents.compare",
    "compare_with_baselines": "agents.compare",
    "format_comparison": "agents.compare",
    "MarketMakingSB3VecEnv": "agents.vec_env",
    "build_ppo": "agents.ppo",
    "make_training_env": "agents.ppo",
    "policy_arrays": "agents.ppo",
}


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
