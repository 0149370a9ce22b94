"""``MultiVenueTwoMakerVectorEnv``: both makers of ``num_markets`` multi-venue markets as seats.

The batched form of :class:`~mm_gym.multivenue.MultiVenueParallelEnv`, as
:class:`~mm_gym.envs.two_makers.TwoMakerVectorEnv` is of the single-venue parallel env: every
market of one :class:`~mm_gym.multivenue.MultiVenueCore` (``two_makers=True``) steps with both
makers' actions in one call, and each maker of each market is a sub-environment ("seat") of a
Gymnasium vector env, seat ``2i + k`` maker ``k`` of market ``i``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode

from mm_gym.config import MarketConfig
from mm_gym.envs.config import EnvConfig
from mm_gym.envs.parallel import agent_index
from mm_gym.envs.two_makers import TwoMakerSeats, check_agent_id
from mm_gym.envs.vector_base import BatchStep, NativeVectorEnv, check_num_envs, refuse_same_step
from mm_gym.multivenue.config import DEFAULT_VENUES, VenueConfig
from mm_gym.multivenue.env import _checked_actions
from mm_gym.multivenue.parallel import TwoMakerCores
from mm_gym.policy import PolicyContext

__all__ = ["MultiVenueTwoMakerVectorEnv"]

_KWARGS = ("num_markets", "agent_id", "autoreset_mode", "max_episode_steps")


class MultiVenueTwoMakerVectorEnv(TwoMakerCores, TwoMakerSeats):
    """Both makers of ``num_markets`` multi-venue markets, one seat per maker and market.

    Seat ``2 * i + k`` is maker ``k`` (0 ``"mm1"``, 1 ``"mm2"``) of market ``i``:
    ``num_envs = 2 * num_markets``. Every step takes one action per seat, ``(num_envs, 2V)``
    (``action_form="routed"``: ``(num_envs, 2 + V)``), and steps every market once with both
    makers' quotes. Market ``i`` with its two seats is
    :class:`~mm_gym.multivenue.MultiVenueParallelEnv` (the same arguments) reset with seed
    ``seed + i``, seen from both makers: the same observations (each maker's own point of
    view), rewards, flags and infos, episode after episode (the parallel env's own
    ``reset()`` seeding per further episode), whatever ``num_markets``. Two seats of a market
    always end, reset and autoreset together.

    ``agent_id=True`` appends the feature :data:`~mm_gym.policy.AGENT_ID_FEATURE` (0 for mm1,
    1 for mm2) to every observation, for a policy shared by both seats.

    Seeding, ``reset(options={"reset_mask": mask})`` (both seats of a market alike) and any
    other reset option refused: as :class:`~mm_gym.envs.two_makers.TwoMakerVectorEnv`.
    Autoreset (``NEXT_STEP`` default, ``DISABLED``; ``SAME_STEP`` is not supported, as in
    :class:`~mm_gym.multivenue.MultiVenueVectorEnv`) and ``max_episode_steps`` (truncation) as
    :class:`mm_gym.MarketMakingVectorEnv`; the step that autoresets a market gives its seats
    the new episode's first observations, reward 0 and the infos of the parallel env's
    ``reset``. Infos: the parallel env's keys as arrays with a leading ``num_envs`` (seat
    order), with their ``_key`` masks. No rendering.

    Args:
        num_markets: Number of markets, >= 1.
        preset: The asset's market preset.
        config: A full market config (replaces the preset).
        env_config: Environment options, as :class:`~mm_gym.multivenue.MultiVenueEnv`.
        venues: The venues (default :data:`~mm_gym.multivenue.DEFAULT_VENUES`).
        agent_id: Append the seat feature to the observations.
        autoreset_mode: A :class:`gymnasium.vector.AutoresetMode` or its name.
        max_episode_steps: Truncate episodes at this many steps (None: the horizon only).
        **overrides: ``action_form``, ``mm2_latency`` and config overrides, as
            :class:`~mm_gym.multivenue.MultiVenueParallelEnv`.
    """

    metadata: dict[str, Any] = {"render_modes": [], **NativeVectorEnv.metadata}  # noqa: RUF012

    def __init__(
        self,
        num_markets: int = 1,
        preset: str = "default",
        *,
        config: MarketConfig | None = None,
        env_config: EnvConfig | None = None,
        venues: Sequence[VenueConfig | dict[str, Any]] = DEFAULT_VENUES,
        agent_id: bool = False,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        max_episode_steps: int | None = None,
        **overrides: Any,
    ) -> None:
        """Build the markets; see the class docstring for the arguments."""
        n = check_num_envs(num_markets, "num_markets")
        check_agent_id(agent_id)
        self._init_batch(2 * n, autoreset_mode, max_episode_steps, None)
        refuse_same_step(self.autoreset_mode, type(self).__name__)
        self.num_markets = n
        self._core = self._make_core(preset, config, env_config, venues, overrides, n, _KWARGS)
        self.market_config = self._core.market_config
        self.env_config = self._core.env_config
        self.venues = self._core.venues
        obs, act = self._core.spaces()
        self._init_seats(self._core.feature_names, obs, act, agent_id)

    def policy_context(self, maker: str = "mm1") -> PolicyContext:
        """The :class:`~mm_gym.policy.PolicyContext` of ``maker``'s seats.

        With ``agent_id=True`` its ``feature_names`` end with the seat feature.

        Raises:
            ValueError: If ``maker`` is neither ``"mm1"`` nor ``"mm2"``.
        """
        k = agent_index(maker, f"{type(self).__name__}.policy_context")
        return self._seat_context(self._core.context(k))

    # ------------------------------------------------------------------ seats <-> markets
    def _observations(self) -> np.ndarray:
        """``(num_envs, d)`` observations in seat order (a fresh array)."""
        d = len(self._core.feature_names)
        for k in range(2):
            self._obs[:, k, :d] = self._core.observations(k)
        return self._obs.reshape(self.num_envs, -1).copy()

    def _infos(self, components: Sequence[dict[str, np.ndarray] | None]) -> dict[str, Any]:
        """Both makers' infos (``components[k]``: maker ``k``'s reward components)."""
        return self._seat_infos([self._core.infos(components[k], k) for k in range(2)])

    # ------------------------------------------------------------------ the vector API
    def _reset_batch(
        self, seed: int | list[int | None] | None, markets: np.ndarray | None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset the markets of ``markets`` (None: all), both seats of each."""
        c = self._core
        c.set_roots(seed, self.np_random, markets)
        c.start(markets)
        seats = None if markets is None else self._seat_mask(markets)
        if seats is None:
            self._autoreset[:] = False
        else:
            self._autoreset[seats] = False
        self._started = True
        return self._observations(), self._masked(self._infos((None, None)), seats)

    def _step_batch(self, actions: Any, auto: np.ndarray) -> BatchStep:
        """Both makers' actions into the quotes, one step of every venue, rewards per seat."""
        c = self._core
        who = f"{type(self).__name__}.step: actions"
        shape = (self.num_envs, c.action_width)
        layout = f"one row per seat, seat 2i+k maker k of market i: {self._action_layout()}"
        a = _checked_actions(actions, shape, who, self.action_space, layout)
        restart = auto[0::2]  # NEXT_STEP: these markets reset instead of stepping
        if restart.any():
            np.logical_not(restart, out=self._stepping_markets)
            c.act(a[0::2], self._stepping_markets, a[1::2])
            c.start(restart)
        else:
            c.act(a[0::2], None, a[1::2])
        rewards, components = np.empty((self.num_markets, 2)), []
        for k in range(2):
            reward, comps, terminated = c.settle(k)
            rewards[:, k] = np.where(restart, 0.0, reward)
            components.append({name: np.where(restart, 0.0, v) for name, v in comps.items()})
        terminated &= ~restart
        truncated = self._truncated(c.step_count()) & ~restart
        self._end_step(self._seat_mask(terminated | truncated))
        return (
            self._observations(),
            rewards.reshape(-1),
            self._seat_mask(terminated),
            self._seat_mask(truncated),
            self._masked(self._infos(components)),
        )

    def __repr__(self) -> str:
        """``MultiVenueTwoMakerVectorEnv(regime, venues=V, num_markets=N)``."""
        return (
            f"{type(self).__name__}({self.market_config.regime}, venues={len(self.venues)}, "
            f"num_markets={self.num_markets})"
        )
