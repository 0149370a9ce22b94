"""An SB3 ``VecEnv`` over the native batched :class:`~mm_gym.envs.vector.MarketMakingVectorEnv`.

The multi-venue :class:`~mm_gym.multivenue.MultiVenueVectorEnv` is adapted the same way (its
info carries the same keys, summed over the venues; its action is a bid and an ask per venue).

Stable-Baselines3 steps a ``VecEnv``; wrapping each market in its own process
(``SubprocVecEnv``) or looping over Python envs (``DummyVecEnv``) would throw away the batched
core, which steps all ``num_envs`` markets in one compiled call. :class:`MarketMakingSB3VecEnv`
adapts the native Gymnasium vector env instead, with two differences of protocol handled here:

- **Autoreset.** SB3 expects the reset observation in the step that ends an episode (the final
  one in ``infos[i]["terminal_observation"]``); the native env uses Gymnasium's ``NEXT_STEP``
  mode (the step *after* the end ignores its action and returns the reset observation). When
  every sub-env ends on the same step (the normal case: fixed horizon, all reset together) the
  adapter takes that extra step at once, in which no market advances, so the result is exactly
  SB3's protocol. If only some sub-envs end (e.g. ``max_drawdown``), it cannot step the others,
  so SB3 sees one extra transition per such episode (the final observation, any action,
  reward 0, then the reset observation) at the start of the next episode; see
  :attr:`MarketMakingSB3VecEnv.partial_resets`.
- **Infos.** SB3 wants a list of per-env dicts; building ``num_envs`` dicts of a dozen arrays
  every step would cost more than the market step. The adapter returns empty dicts except at
  the end of an episode (``terminal_observation`` and SB3's ``episode`` record), and keeps
  per-episode statistics itself, vectorised (:meth:`pop_episode_stats`): reward, PnL, inventory,
  fills, quoted spread and each reward component, for the training logs.

SB3's ``VecMonitor`` is not used for the ``episode`` records: it would count the extra
transition of a partial reset (above) as the first step of the next episode (lengths one too
long), it keeps Python per-env lists where the statistics here are arrays, and a wrapper between
this adapter and ``VecNormalize`` would change what checkpoints pickle, so existing runs could
no longer resume.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices, VecEnvStepReturn

from mm_gym.actions import LEGACY_ACTION_MAPPING, actions_to_offsets

__all__ = ["EPISODE_STAT_NAMES", "MarketMakingSB3VecEnv"]

EPISODE_STAT_NAMES: tuple[str, ...] = (
    "reward",
    "length",
    "pnl",
    "pnl_sharpe",
    "final_inventory",
    "mean_abs_inventory",
    "inventory_std",
    "max_abs_inventory",
    "fills",
    "fill_rate",
    "quoted_spread_ticks",
)
"""Per-episode statistics kept by the adapter (plus ``component/<name>``, the episode sum of
each reward component of ``info["reward_components"]``). ``pnl_sharpe`` is the Sharpe ratio of
the episode's step PnL (the ``pnl`` reward component), ``mean / std * sqrt(T)``, as
:func:`mm_gym.metrics.sharpe` computes it for evaluations. On a two-maker env
(:class:`~mm_gym.envs.two_makers.TwoMakerVectorEnv`, ``seat_names``) also ``seat``: the maker
of each episode's sub-env (0 mm1, 1 mm2), and ``sub_env``: its index."""


def _sharpe(total: np.ndarray, total_sq: np.ndarray, n_steps: np.ndarray) -> np.ndarray:
    """Per-episode Sharpe of step PnL from its sum and sum of squares (``ddof=1``, x sqrt(T)).

    As :func:`mm_gym.metrics.sharpe`: 0 where the standard deviation is (numerically) zero or
    the episode has fewer than 2 steps.
    """
    n = n_steps.astype(np.float64)
    ok = n >= 2
    n_safe = np.where(ok, n, 2.0)
    mean = total / n_safe
    var = np.maximum(total_sq - n_safe * mean * mean, 0.0) / (n_safe - 1.0)
    std = np.sqrt(var)
    good = ok & (std > 1e-12 * np.abs(mean))
    return np.where(good, mean / np.where(good, std, 1.0) * np.sqrt(n_safe), 0.0)


class MarketMakingSB3VecEnv(VecEnv):
    """Present a native Gymnasium vector env of mm_gym to Stable-Baselines3 as a ``VecEnv``.

    Args:
        env: A :class:`~mm_gym.envs.vector.MarketMakingVectorEnv`, e.g. from
            ``gym.make_vec("mm_gym/MarketMaking-v1", num_envs=512)`` (any Gymnasium vector env
            with ``NEXT_STEP`` or ``SAME_STEP`` autoreset and dict-of-arrays infos works; the
            statistics read the mm_gym info keys when present).

    Attributes:
        env: The wrapped vector env.
        partial_resets: Number of episodes that ended while other sub-envs kept running (each
            cost SB3 one extra reward-0 transition; 0 in the default setting).
        episodes_done: Number of finished episodes.
    """

    def __init__(self, env: gym.vector.VectorEnv) -> None:
        """Wrap ``env``; the spaces are its single-env spaces."""
        self.env = env  # before VecEnv.__init__, which reads render_mode through get_attr
        super().__init__(env.num_envs, env.single_observation_space, env.single_action_space)
        mode = env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
        if mode not in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP):
            raise ValueError(
                f"autoreset_mode={mode!r} is not supported: use NEXT_STEP or SAME_STEP"
            )
        self._same_step = mode == AutoresetMode.SAME_STEP
        base = env.unwrapped
        env_config = getattr(base, "env_config", None)
        self._max_offset = float(getattr(env_config, "max_offset_ticks", 2.0))
        self._mapping = getattr(env_config, "action_mapping", LEGACY_ACTION_MAPPING)
        # MultiVenue-v0's routed form: one bid and one ask action, then the routing actions.
        self._routed = getattr(base, "action_form", "per_venue") == "routed"
        # action_type="continuous_sizes": a bid and an ask action, then the two size actions.
        self._sizes = getattr(env_config, "action_type", "continuous") == "continuous_sizes"
        self._actions: np.ndarray | None = None
        self._pending = np.zeros(self.num_envs, np.bool_)  # NEXT_STEP resets owed to SB3
        self.partial_resets = 0
        self.episodes_done = 0
        self._finished: list[dict[str, np.ndarray]] = []
        self._clear_stats(np.ones(self.num_envs, np.bool_))

    @property
    def action_form(self) -> str:
        """The env's action form: ``"routed"`` (MultiVenue-v0's routed form) or ``"per_venue"``."""
        return "routed" if self._routed else "per_venue"

    @property
    def action_type(self) -> str:
        """The env's ``action_type`` (``"continuous"`` for an env without an ``env_config``)."""
        env_config = getattr(self.env.unwrapped, "env_config", None)
        return str(getattr(env_config, "action_type", "continuous"))

    # ------------------------------------------------------------------ statistics
    def _clear_stats(self, mask: np.ndarray) -> None:
        """Zero the running per-episode sums of the sub-envs in ``mask``."""
        n = self.num_envs
        if not hasattr(self, "_ret"):
            self._ret = np.zeros(n)
            self._len = np.zeros(n, np.int64)
            self._abs_inv = np.zeros(n)
            self._inv = np.zeros(n)
            self._inv2 = np.zeros(n)
            self._max_inv = np.zeros(n)
            self._fills = np.zeros(n)
            self._spread = np.zeros(n)
            self._pnl2 = np.zeros(n)
            self._comp: dict[str, np.ndarray] = {}
        for arr in (
            self._ret,
            self._len,
            self._abs_inv,
            self._inv,
            self._inv2,
            self._max_inv,
            self._fills,
            self._spread,
            self._pnl2,
            *self._comp.values(),
        ):
            arr[mask] = 0

    def _accumulate(self, actions: np.ndarray, reward: np.ndarray, info: dict[str, Any]) -> None:
        """Add one step of every sub-env to the running episode sums."""
        self._ret += reward
        self._len += 1
        inv = info.get("inventory")
        if inv is not None:
            q = inv.astype(np.float64)
            aq = np.abs(q)
            self._abs_inv += aq
            self._inv += q
            self._inv2 += q * q
            np.maximum(self._max_inv, aq, out=self._max_inv)
        fills = info.get("fills")
        if fills is not None:
            self._fills += fills
        if actions.ndim == 2 and (self._routed or self._sizes):
            actions = actions[:, :2]  # the one quote; routing or size actions are not offsets
        if actions.ndim == 2 and actions.shape[1] >= 2 and actions.shape[1] % 2 == 0:
            # Quoted spread in ticks: the sum of the requested bid and ask offsets, averaged over
            # the venues (a bid and an ask action per venue; one venue but on MultiVenue-v0).
            o = actions_to_offsets(
                actions.reshape(self.num_envs, -1, 2), self._max_offset, self._mapping
            )
            self._spread += (o[..., 0] + o[..., 1]).mean(axis=1)
        comps = info.get("reward_components")
        if isinstance(comps, dict):
            for name, value in comps.items():
                if name.startswith("_"):
                    continue
                acc = self._comp.get(name)
                if acc is None:
                    acc = self._comp[name] = np.zeros(self.num_envs)
                acc += value
            step_pnl = comps.get("pnl")
            if step_pnl is not None:
                self._pnl2 += step_pnl * step_pnl

    def _finish(self, done: np.ndarray, info: dict[str, Any]) -> None:
        """Record the statistics of the episodes ending now, then clear their sums."""
        idx = np.flatnonzero(done)
        length = np.maximum(self._len[idx], 1).astype(np.float64)
        mean_inv = self._inv[idx] / length
        seats = getattr(self.env.unwrapped, "seat_names", None)
        stats: dict[str, np.ndarray] = {
            "reward": self._ret[idx].copy(),
            "length": self._len[idx].astype(np.float64),
            "pnl": np.asarray(info.get("pnl", np.full(self.num_envs, np.nan)))[idx].astype(float),
            "final_inventory": np.asarray(info.get("inventory", np.full(self.num_envs, np.nan)))[
                idx
            ].astype(float),
            "mean_abs_inventory": self._abs_inv[idx] / length,
            "inventory_std": np.sqrt(np.maximum(self._inv2[idx] / length - mean_inv**2, 0.0)),
            "max_abs_inventory": self._max_inv[idx].copy(),
            "fills": self._fills[idx].copy(),
            "fill_rate": self._fills[idx] / length,
            "quoted_spread_ticks": self._spread[idx] / length,
        }
        pnl_sum = self._comp.get("pnl")
        if pnl_sum is not None:
            stats["pnl_sharpe"] = _sharpe(pnl_sum[idx], self._pnl2[idx], self._len[idx])
        for name, acc in self._comp.items():
            stats[f"component/{name}"] = acc[idx].copy()
        if seats is not None:  # a two-maker env: sub-env 2i + k is seat k of market i
            stats["seat"] = (idx % len(seats)).astype(np.float64)
            stats["sub_env"] = idx.astype(np.float64)
        self._finished.append(stats)
        self.episodes_done += len(idx)
        self._clear_stats(done)

    def pop_episode_stats(self) -> dict[str, np.ndarray]:
        """Statistics of the episodes finished since the last call (arrays, one entry each).

        Keys: :data:`EPISODE_STAT_NAMES` and ``component/<name>`` for each reward component.
        Money in currency, inventory in lots, the spread in ticks; an empty dict if none ended.
        """
        if not self._finished:
            return {}
        keys = self._finished[0].keys()
        out = {k: np.concatenate([f[k] for f in self._finished]) for k in keys}
        self._finished = []
        return out

    # ------------------------------------------------------------------ VecEnv API
    def reset(self) -> np.ndarray:
        """Reset every sub-env (with the seeds of :meth:`seed`, if set since the last reset)."""
        seeds: Any = None
        if any(s is not None for s in self._seeds):
            seeds = [None if s is None else int(s) for s in self._seeds]
        obs, _ = self.env.reset(seed=seeds)
        self._reset_seeds()
        self._reset_options()
        self._pending[:] = False
        self._clear_stats(np.ones(self.num_envs, np.bool_))
        self.reset_infos = [{} for _ in range(self.num_envs)]
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        """Store the actions ``(num_envs, action_dim)`` for :meth:`step_wait`."""
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        """Step every sub-env; see the module docstring for the autoreset protocol."""
        actions = np.asarray(self._actions)
        obs, reward, terminated, truncated, info = self.env.step(actions)
        # SAME_STEP: the top-level info of an ended sub-env is its reset info; this step's
        # values (every sub-env's, read before the reset) are in final_info.
        step_info = info["final_info"] if self._same_step and "final_info" in info else info
        self._accumulate(actions, reward, step_info)
        if self._pending.any():
            # NEXT_STEP resets owed since a partial end: these sub-envs ignored the action.
            self._clear_stats(self._pending)
            self._pending[:] = False
        done = np.logical_or(terminated, truncated)
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        if not done.any():
            return obs, reward, done, infos
        self._finish(done, step_info)
        final_obs = obs
        if self._same_step:
            final_obs = np.stack(
                [info["final_obs"][i] if d else obs[i] for i, d in enumerate(done)]
            )
        elif done.all():
            # Every market ended: take the autoreset step now (no market advances in it).
            obs, _, _, _, _ = self.env.step(actions)
        else:
            self.partial_resets += int(done.sum())
            self._pending = done.copy()
        for i in np.flatnonzero(done):
            infos[i]["terminal_observation"] = final_obs[i]
            infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
        last = self._finished[-1]
        for j, i in enumerate(np.flatnonzero(done)):
            infos[i]["episode"] = {"r": float(last["reward"][j]), "l": int(last["length"][j])}
        return obs, reward, done, infos

    def close(self) -> None:
        """Close the wrapped env."""
        self.env.close()

    def _indices(self, indices: VecEnvIndices) -> Iterable[int]:
        if indices is None:
            return range(self.num_envs)
        if isinstance(indices, int):
            return [indices]
        return indices

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """The attribute of the wrapped env, repeated per requested index (one shared env)."""
        value = getattr(self.env, attr_name)
        return [value for _ in self._indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Set an attribute on the wrapped env (shared by every index)."""
        setattr(self.env, attr_name, value)

    def env_method(
        self,
        method_name: str,
        *method_args: Any,
        indices: VecEnvIndices = None,
        **method_kwargs: Any,
    ) -> list[Any]:
        """Call a method of the wrapped env once; its result is repeated per index."""
        result = getattr(self.env, method_name)(*method_args, **method_kwargs)
        return [result for _ in self._indices(indices)]

    def env_is_wrapped(
        self,
        wrapper_class: type[gym.Wrapper],
        indices: VecEnvIndices = None,
    ) -> list[bool]:
        """Always False: the sub-envs are markets of one batched env, not wrapped envs."""
        return [False for _ in self._indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        """Not supported (the native env renders sub-env 0 only)."""
        return [None for _ in range(self.num_envs)]

    # ------------------------------------------------------------------ checkpointing
    def __getstate__(self) -> dict[str, Any]:
        """Pickle the whole state (the native env pickles its markets), for exact resumes."""
        state = self.__dict__.copy()
        state["_actions"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle; an adapter pickled before ``action_mapping`` existed used ``"mid"``."""
        if "_half_offset" in state:
            state = dict(state)
            state["_max_offset"] = 2.0 * state.pop("_half_offset")
            state.setdefault("_mapping", LEGACY_ACTION_MAPPING)
        # Pickled before the routed form, or before sizes were told apart from offsets.
        state = {"_routed": False, "_sizes": False, **state}
        self.__dict__.update(state)
