"""The seeding rule of every environment (the intensity ones included), and its checks.

Seeding rule (the same for every environment, the intensity ones included; :class:`RootSeeds`
keeps its state, :class:`OneMarketEnv` is the one-market environments' ``reset``):

- ``reset(seed=s)`` gives market ``i`` the *root seed* ``s + i`` (mod 2**64); ``reset()``
  without a seed before any seeded reset draws the root from the environment's ``np_random``.
- Episode ``k`` (0 for the episode started by a seeded reset, then 1, 2, ... for each further
  reset or autoreset of that market) runs on the market seed
  :func:`episode_seeds` ``(root, k)``, a splitmix64 hash of the pair.

Hence episode ``k`` of vector sub-environment ``i`` seeded with ``s`` is episode ``k`` of a single
environment seeded with ``s + i``, whatever the batch size, and a market's whole episode (its
exogenous path in particular) is a function of its seed alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from mm_gym.config import excerpt, is_integer

__all__ = [
    "SEED_RANGE",
    "OneMarketEnv",
    "RootSeeds",
    "check_options",
    "check_seed",
    "check_seeds",
    "episode_seeds",
    "rival_generator",
]

_MASK64 = (1 << 64) - 1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_RIVAL_SALT = 0x52495641  # "RIVA": keeps the rival's generator apart from the market seed


def episode_seeds(roots: np.ndarray, episodes: np.ndarray) -> np.ndarray:
    """The market seed of episode ``episodes[i]`` of the market with root seed ``roots[i]``.

    splitmix64 (Steele, Lea & Flood 2014) of ``root + (episode + 1) * golden``: consecutive
    episodes of one root, and the same episode of consecutive roots, get unrelated seeds.

    Args:
        roots: ``(n,)`` uint64 root seeds.
        episodes: ``(n,)`` non-negative integer episode indices.

    Returns:
        ``(n,)`` uint64 seeds.
    """
    r = np.asarray(roots, dtype=np.uint64)
    k = np.asarray(episodes).astype(np.uint64)
    # uint64 array arithmetic wraps modulo 2**64, which is what splitmix64 wants.
    z = r + (k + np.uint64(1)) * _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def rival_generator(root: int, episode: int) -> np.random.Generator:
    """The generator handed to a policy rival's ``reset`` for one episode of one market."""
    return np.random.default_rng([int(root), int(episode), _RIVAL_SALT])


SEED_RANGE = "[0, 2**63)"
"""The seeds a reset accepts (the range unseeded roots are drawn from; they fit an int64)."""

_SEED_END = 2**63


def check_seed(seed: Any, who: str, name: str = "seed") -> int | None:
    """Return a reset's ``seed`` as a Python int (None passes through), or raise a clear error.

    Gymnasium takes only Python ints (a numpy integer fails with a message about the type, and a
    bool passes as 0 or 1); the environments take None or any non-bool integer in
    :data:`SEED_RANGE`, numpy integers included, and hand Gymnasium the equal Python int.

    Args:
        seed: The value passed.
        who: The method named in errors, e.g. ``"MarketMakingEnv.reset"``.
        name: The argument named in errors (``"seed[3]"`` for an entry of a list).

    Raises:
        TypeError: If ``seed`` is neither None nor an integer (bools are refused).
        ValueError: If it lies outside :data:`SEED_RANGE`.
    """
    if seed is None:
        return None
    if not is_integer(seed):
        raise TypeError(
            f"{who}: {name}={excerpt(seed, 40)} must be None or an integer in {SEED_RANGE}, "
            f"not a {type(seed).__name__}"
        )
    value = int(seed)
    if not 0 <= value < _SEED_END:
        raise ValueError(
            f"{who}: {name}={excerpt(seed, 40)} is out of range: must be an integer in {SEED_RANGE}"
        )
    return value


def check_options(options: Any, who: str, keys: tuple[str, ...] = ()) -> None:
    """Refuse reset ``options`` the environment would ignore (a mistyped key would go unseen).

    Args:
        options: The value passed: None, or a dict whose keys are among ``keys``.
        who: The method named in errors, e.g. ``"MarketMakingEnv.reset"``.
        keys: The option keys the environment reads (none for a one-market environment).

    Raises:
        TypeError: If ``options`` is neither None nor a dict.
        ValueError: On a key not in ``keys``.
    """
    if options is None:
        return
    takes = f"the keys {list(keys)}" if keys else "no keys (this environment has no reset options)"
    if not isinstance(options, dict):
        raise TypeError(f"{who}: options={excerpt(options, 40)} must be None or a dict of {takes}")
    unknown = [k for k in options if k not in keys]
    if unknown:
        raise ValueError(
            f"{who}: options key {excerpt(unknown[0], 40)} is not valid: it takes {takes}"
        )


def check_seeds(seed: Any, n: int, who: str) -> int | list[int | None] | None:
    """Return a batched reset's ``seed`` checked: None, one int, or ``n`` ints or Nones.

    Args:
        seed: None, an integer (market ``i`` gets ``seed + i``) or a sequence (list, tuple, 1-D
            array) of ``n`` integers or Nones; every integer as :func:`check_seed` accepts.
        n: The number of markets.
        who: The method named in errors.

    Raises:
        TypeError: On a value of the wrong type (naming the entry for a sequence).
        ValueError: On a sequence of the wrong length or an integer out of range.
    """
    if seed is None or isinstance(seed, (int, np.integer, np.bool_)):
        return check_seed(seed, who)
    if isinstance(seed, (str, bytes)) or not (
        isinstance(seed, Sequence) or (isinstance(seed, np.ndarray) and seed.ndim == 1)
    ):
        raise TypeError(
            f"{who}: seed={excerpt(seed, 40)} must be None, an integer in {SEED_RANGE} or a "
            f"sequence of {n} such integers or Nones"
        )
    if len(seed) != n:
        raise ValueError(f"{who}: seed has {len(seed)} entries; expected {n} (one per env)")
    return [check_seed(s, who, f"seed[{i}]") for i, s in enumerate(seed)]


class RootSeeds:
    """The seeding rule's state for ``n`` markets: their root seeds and episode counters.

    Args:
        n: Number of markets.

    Attributes:
        n: Number of markets.
        roots: ``(n,)`` uint64 root seeds (see the module docstring).
        episodes: ``(n,)`` int64 index of the current episode of each market (-1 before the
            first episode of a root).
        seeded: Whether the roots have been set.
    """

    def __init__(self, n: int) -> None:
        """Allocate the roots and counters; the roots are set by the first reset."""
        self.n = int(n)
        self.roots = np.zeros(self.n, np.uint64)
        self.episodes = np.full(self.n, -1, np.int64)
        self.seeded = False

    def set_roots(
        self,
        seed: int | Sequence[int | None] | None,
        np_random: np.random.Generator,
        mask: np.ndarray | None = None,
    ) -> bool:
        """Set the root seeds from a reset's ``seed`` argument, checked by :func:`check_seeds`.

        Args:
            seed: None (keep the roots; draw them from ``np_random`` if never set), an int ``s``
                (market ``i`` gets ``s + i``) or a sequence of ``n`` ints or Nones. A None entry
                keeps that market's root and continues its episode sequence, as ``reset(seed=None)``
                of a single env does under Gymnasium's ``SyncVectorEnv`` (drawn from
                ``np_random`` if the roots were never set).
            np_random: The environment's generator, for roots not given.
            mask: The markets whose roots to set (default all; with a mask, entries of ``seed``
                for other markets are ignored, as Gymnasium's ``reset_mask`` does).

        Returns:
            Whether any new root was set (those markets' episode counters then restart at 0).
        """
        m = np.ones(self.n, np.bool_) if mask is None else np.asarray(mask, np.bool_)
        if seed is None:
            if self.seeded:
                return False
            base = int(np_random.integers(0, 2**63))
            roots = (base + np.arange(self.n, dtype=np.uint64)) & np.uint64(_MASK64)
        elif isinstance(seed, int):
            base = np.uint64(seed & _MASK64)
            roots = base + np.arange(self.n, dtype=np.uint64)  # wraps modulo 2**64
        else:
            roots = self.roots.copy()
            m = m.copy()
            for i, s in enumerate(seed):
                if not m[i]:
                    continue
                if s is not None:
                    roots[i] = np.uint64(s & _MASK64)
                elif not self.seeded:
                    roots[i] = np.uint64(int(np_random.integers(0, 2**63)))
                else:
                    m[i] = False  # keep this market's root and episode count
        self.roots[m] = roots[m]
        self.episodes[m] = -1
        self.seeded = True
        return bool(m.any())

    def next_episode(self, mask: np.ndarray | None = None) -> np.ndarray:
        """Advance the episode counters of the markets in ``mask`` (default all).

        Returns:
            ``(n,)`` uint64 :func:`episode_seeds` of every market's current episode.
        """
        if mask is None:
            self.episodes += 1
        else:
            self.episodes[mask] += 1
        return episode_seeds(self.roots, self.episodes)


class OneMarketEnv(gym.Env[np.ndarray, Any]):
    """The ``reset`` of the one-market environments: the seeding rule, then the episode start.

    Subclasses set :attr:`_seeds` and implement :meth:`_start_episode`.
    """

    _seeds: RootSeeds

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start a new episode; seeding as :mod:`mm_gym.envs.seeding`.

        ``options`` must be None or empty: the environment has no reset options.

        Raises:
            TypeError: If ``seed`` is neither None nor an integer (bools are refused), or
                ``options`` is not a dict.
            ValueError: If ``seed`` lies outside [0, 2**63), or ``options`` holds a key.
        """
        check_options(options, f"{type(self).__name__}.reset")
        seed = check_seed(seed, f"{type(self).__name__}.reset")
        super().reset(seed=seed)
        self._seeds.set_roots(seed, self.np_random)
        return self._start_episode()

    def _start_episode(self) -> tuple[np.ndarray, dict[str, Any]]:
        """Start the next episode of the market (roots set); return ``(obs, info)``."""
        raise NotImplementedError
