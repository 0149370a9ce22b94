"""``mm_gym.rollout``: run a :class:`~mm_gym.policy.QuotingPolicy` for a few episodes.

The shortest way from "I wrote a policy" to numbers: it makes the environment (or takes one),
hands the policy its :class:`~mm_gym.policy.PolicyContext` (``env.unwrapped.policy_context()``),
steps until every episode ends and returns one row per episode. For a tournament with metrics,
confidence intervals and reports, use :mod:`mm_gym.evaluation`.

Example:
    >>> import mm_gym
    >>> from baselines import AvellanedaStoikov
    >>> res = mm_gym.rollout("mm_gym/Trending-v1", AvellanedaStoikov(), episodes=4, seed=0)
    >>> res.pnl.shape, res.steps.tolist()
    ((4,), [1000, 1000, 1000, 1000])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from mm_gym.config import ConfigError, excerpt, is_integer
from mm_gym.files import check_memory
from mm_gym.policy import PolicyContext, QuotingPolicy

__all__ = ["RolloutResult", "rollout"]

_MAX_BATCH = 256
"""Sub-environments of the vector environment ``rollout`` makes for an env id."""


@dataclass(frozen=True)
class RolloutResult:
    """Per-episode results of :func:`rollout`, arrays ``(episodes,)`` in episode order.

    Attributes:
        seeds: uint64 seed of each episode (``seed + i`` for episode ``i``).
        total_reward: float64 sum of the environment's rewards over the episode.
        pnl: float64 mark-to-market PnL at the end (``info["pnl"]``), currency.
        final_inventory: int64 inventory at the end, lots.
        steps: int64 steps in the episode.
    """

    seeds: np.ndarray
    total_reward: np.ndarray
    pnl: np.ndarray
    final_inventory: np.ndarray
    steps: np.ndarray

    def __len__(self) -> int:
        """Number of episodes."""
        return int(self.seeds.size)


def _policy_rng(seed: int, first_episode: int) -> np.random.Generator:
    """The generator the policy gets at the reset before episode ``first_episode``."""
    return np.random.default_rng([seed, first_episode])


def _check_args(policy: Any, episodes: Any, seed: Any) -> None:
    if not (isinstance(policy, QuotingPolicy) and callable(policy.act)):
        raise ConfigError(
            f"policy={excerpt(policy)} is not a QuotingPolicy (a name, reset(rng, context) and "
            "act(obs) -> actions (n, 2) in [-1, 1])"
        )
    if not is_integer(episodes) or episodes < 1:
        raise ConfigError(f"episodes={excerpt(episodes)} must be an integer >= 1")
    if not is_integer(seed) or not 0 <= seed < 2**63 - episodes:
        raise ConfigError(f"seed={excerpt(seed)} must be an integer in [0, 2**63 - episodes)")


def _context(unwrapped: Any) -> PolicyContext:
    """mm1's context, refusing environments whose actions a QuotingPolicy cannot produce."""
    if not callable(getattr(unwrapped, "policy_context", None)):
        raise ConfigError(
            f"{type(unwrapped).__name__} has no policy_context(); rollout runs mm_gym "
            "environments (an env id, gym.make(...) or gym.make_vec(...) of one)"
        )
    env_config = getattr(unwrapped, "env_config", None)
    action_type = getattr(env_config, "action_type", "continuous")
    if action_type != "continuous":
        raise ConfigError(
            f"action_type={action_type!r}: a QuotingPolicy returns continuous (bid, ask) "
            "offsets; make the environment with action_type='continuous'"
        )
    context: PolicyContext = unwrapped.policy_context("mm1")
    return context


def _run_single(env: Any, policy: QuotingPolicy, episodes: int, seed: int) -> RolloutResult:
    context = _context(env.unwrapped)
    out = _empty(episodes, seed)
    for i in range(episodes):
        policy.reset(_policy_rng(seed, i), context)
        obs, info = env.reset(seed=seed + i)
        total, steps, done = 0.0, 0, False
        while not done:
            action = np.asarray(policy.act(obs[None]))[0]
            obs, reward, terminated, truncated, info = env.step(action)
            total += float(reward)
            steps += 1
            done = terminated or truncated
        out["total_reward"][i] = total
        out["pnl"][i] = info["pnl"]
        out["final_inventory"][i] = info["inventory"]
        out["steps"][i] = steps
    return RolloutResult(**out)


def _run_vector(envs: Any, policy: QuotingPolicy, episodes: int, seed: int) -> RolloutResult:
    context = _context(envs.unwrapped)
    n = int(envs.num_envs)
    out = _empty(episodes, seed)
    for first in range(0, episodes, n):
        count = min(n, episodes - first)
        policy.reset(_policy_rng(seed, first), context)
        # Sub-environment j runs episode first + j; spare ones (last batch) run further seeds.
        obs, _ = envs.reset(seed=[seed + first + j for j in range(n)])
        total = np.zeros(n)
        steps = np.zeros(n, np.int64)
        running = np.ones(n, np.bool_)
        while running[:count].any():
            obs, reward, terminated, truncated, info = envs.step(policy.act(obs))
            total[running] += reward[running]
            steps += running
            ended = running & (terminated | truncated)
            rows = first + np.flatnonzero(ended[:count])
            ended_rows = np.flatnonzero(ended[:count])
            out["pnl"][rows] = info["pnl"][ended_rows]
            out["final_inventory"][rows] = info["inventory"][ended_rows]
            running &= ~ended
        out["total_reward"][first : first + count] = total[:count]
        out["steps"][first : first + count] = steps[:count]
    return RolloutResult(**out)


def _empty(episodes: int, seed: int) -> dict[str, np.ndarray]:
    return {
        "seeds": seed + np.arange(episodes, dtype=np.uint64),
        "total_reward": np.zeros(episodes),
        "pnl": np.zeros(episodes),
        "final_inventory": np.zeros(episodes, np.int64),
        "steps": np.zeros(episodes, np.int64),
    }


def rollout(
    env_or_id: Any, policy: QuotingPolicy, *, episodes: int = 1, seed: int = 0, **env_kwargs: Any
) -> RolloutResult:
    """Run ``policy`` as mm1 for ``episodes`` episodes; episode ``i`` is seeded ``seed + i``.

    The policy is reset with ``env.unwrapped.policy_context("mm1")`` and the generator
    ``np.random.default_rng([seed, i])`` before each batch of episodes starting at episode ``i``
    (one episode per batch on a single environment, ``num_envs`` on a vector environment).
    Episode ``i`` is the same market path on either kind of environment (see
    :mod:`mm_gym.envs.seeding`), so a policy that draws no random numbers gets identical results;
    one that does gets identical results per kind of environment and batch size.

    Args:
        env_or_id: A registered id (``"mm_gym/Trending-v1"``; every id, ``"mm_gym/AS2008-v1"``
            included, runs as a vector environment of up to 256 markets), or an
            environment: ``gym.make(...)``, ``gym.make_vec(...)`` (any wrappers kept) or an
            :class:`~mm_gym.envs.intensity.IntensityMarketMakingEnv`. A given environment is
            reset with the episode seeds and not closed.
        policy: The :class:`~mm_gym.policy.QuotingPolicy`; it quotes mm1 against the
            environment's rival (``rival=`` in ``env_kwargs`` to change it).
        episodes: Number of episodes, >= 1.
        seed: Seed of episode 0, in ``[0, 2**63 - episodes)``.
        **env_kwargs: Keyword arguments of ``gym.make`` when ``env_or_id`` is an id (e.g.
            ``horizon_steps=200``, ``rival=FixedSpread()``); refused with an environment.

    Returns:
        The :class:`RolloutResult`: total reward, final PnL, final inventory and steps per
        episode.

    Raises:
        ConfigError: On an invalid argument, an environment that is not an mm_gym one, or a
            non-continuous ``action_type`` (a QuotingPolicy returns continuous offsets).
        MemoryLimitError: If ``episodes``' result arrays would not fit in available memory
            (a :class:`MemoryError`).

    Example:
        >>> import gymnasium as gym
        >>> from baselines import FixedSpread
        >>> env = gym.make("mm_gym/MarketMaking-v1", horizon_steps=100)
        >>> mm_gym.rollout(env, FixedSpread(2.0), episodes=2).steps.tolist()
        [100, 100]
    """
    _check_args(policy, episodes, seed)
    episodes, seed = int(episodes), int(seed)
    # the five per-episode result arrays, 8 bytes an entry, before any episode runs
    check_memory(5 * 8 * episodes, f"rollout(episodes={episodes:,})")
    if isinstance(env_or_id, str):
        return _run_id(env_or_id, policy, episodes, seed, env_kwargs)
    if env_kwargs:
        raise ConfigError(
            f"rollout got an environment and keyword arguments {sorted(env_kwargs)}; pass "
            "them to gym.make, or pass an env id"
        )
    return _run_env(env_or_id, policy, episodes, seed)


def _run_env(env: Any, policy: QuotingPolicy, episodes: int, seed: int) -> RolloutResult:
    """Roll out on a given environment (a vector one in batches of ``num_envs``)."""
    import gymnasium as gym
    from gymnasium.vector import VectorEnv

    if isinstance(env, VectorEnv):
        return _run_vector(env, policy, episodes, seed)
    if isinstance(env, gym.Env):
        return _run_single(env, policy, episodes, seed)
    raise ConfigError(f"env_or_id={excerpt(env)} must be an env id or a Gymnasium (vector) env")


def _run_id(
    env_id: str, policy: QuotingPolicy, episodes: int, seed: int, env_kwargs: dict[str, Any]
) -> RolloutResult:
    """Make the environment of ``env_id`` (a vector one where the id has one), roll out, close."""
    import gymnasium as gym

    import mm_gym  # noqa: F401  (registers the ids)

    if env_id not in gym.registry:
        raise ConfigError(f"env_or_id={env_id!r} is not a registered id: use one of mm_gym.ENV_IDS")
    run: Callable[[Any, QuotingPolicy, int, int], RolloutResult]
    if gym.spec(env_id).vector_entry_point is not None:
        env: Any = gym.make_vec(
            env_id,
            num_envs=min(episodes, _MAX_BATCH),
            vectorization_mode="vector_entry_point",
            **env_kwargs,
        )
        run = _run_vector
    else:
        env = gym.make(env_id, **env_kwargs)
        run = _run_single
    try:
        return run(env, policy, episodes, seed)
    finally:
        env.close()
