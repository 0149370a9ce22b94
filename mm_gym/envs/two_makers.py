"""``TwoMakerVectorEnv``: both makers of ``num_markets`` markets as ``2 * num_markets`` seats.

The batched form of :class:`~mm_gym.envs.parallel.MarketMakingParallelEnv` (issue #17): one
compiled call steps every market with both makers' actions, and each maker of each market is a
sub-environment ("seat") of a Gymnasium vector env, so that one learner can train both seats
with a shared policy (self-play), or two learners each take one seat of every market.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from mm_gym.config import ConfigError, MarketConfig, excerpt
from mm_gym.envs.config import EnvConfig, resolve_configs
from mm_gym.envs.core import (
    CoreEnvMixin,
    MarketCore,
    check_reward_info,
    make_action_space,
    make_observation_space,
)
from mm_gym.envs.parallel import AGENTS
from mm_gym.envs.seeding import check_options, check_seeds
from mm_gym.envs.vector_base import BatchStep, NativeVectorEnv, check_num_envs
from mm_gym.policy import AGENT_ID_FEATURE, PolicyContext

__all__ = ["AGENT_ID_FEATURE", "TwoMakerSeats", "TwoMakerVectorEnv", "check_agent_id"]


def check_agent_id(agent_id: Any) -> None:
    """Refuse an ``agent_id`` that is not a bool.

    Raises:
        ConfigError: Naming the value.
    """
    if not isinstance(agent_id, (bool, np.bool_)):
        raise ConfigError(f"agent_id={excerpt(agent_id)} must be True or False")


_KWARGS = ("num_markets", "agent_id", "reward_info", "autoreset_mode", "max_episode_steps")


class TwoMakerSeats(NativeVectorEnv):
    """What the two-maker vector envs share: seat ``2i + k`` is maker ``k`` of market ``i``.

    :class:`TwoMakerVectorEnv` (one venue) and
    :class:`~mm_gym.multivenue.two_makers.MultiVenueTwoMakerVectorEnv` (several venues) check
    their reset's seeds and ``reset_mask``, map markets to seats and truncate markets here
    (the class docstring of :class:`TwoMakerVectorEnv` states the rules). Subclasses set
    ``num_markets``.
    """

    num_markets: int
    agent_id: bool
    _obs: np.ndarray
    _stepping_markets: np.ndarray
    feature_names: tuple[str, ...]

    def _init_seats(
        self, names: tuple[str, ...], obs: spaces.Box, act: spaces.Space[Any], agent_id: bool
    ) -> None:
        """Set the seats' names, features and spaces from one maker's (after ``_init_batch``).

        ``agent_id`` appends :data:`AGENT_ID_FEATURE` (0 mm1, 1 mm2) to ``names`` and ``obs``;
        :attr:`_obs` ``(num_markets, 2, d)`` then holds the seat column already.
        """
        self.seat_names: tuple[str, ...] = AGENTS  # seat 2i + k is maker seat_names[k]
        self.agent_id = bool(agent_id)
        if self.agent_id:
            names = (*names, AGENT_ID_FEATURE)
            obs = spaces.Box(
                np.append(obs.low, np.float32(0.0)),
                np.append(obs.high, np.float32(1.0)),
                dtype=np.float32,
            )
        self.feature_names = names
        self.single_observation_space = obs
        self.single_action_space = act
        self.observation_space = batch_space(obs, self.num_envs)
        self.action_space = batch_space(act, self.num_envs)
        self._obs = np.zeros((self.num_markets, 2, len(names)), np.float32)
        if self.agent_id:
            self._obs[:, 1, -1] = 1.0
        self._stepping_markets = np.ones(self.num_markets, np.bool_)

    def _seat_infos(self, per_maker: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """mm1's and mm2's batched infos ``(num_markets,)`` as one dict in seat order."""
        return _interleave(per_maker[0], per_maker[1])

    def _seat_context(self, context: PolicyContext) -> PolicyContext:
        """``context`` with the seats' ``feature_names`` (:data:`AGENT_ID_FEATURE` last if set)."""
        return replace(context, feature_names=self.feature_names) if self.agent_id else context

    def _seat_mask(self, markets: np.ndarray) -> np.ndarray:
        return np.repeat(markets, 2)

    def _check_reset(
        self, seed: Any, options: dict[str, Any] | None, who: str
    ) -> tuple[int | list[int | None] | None, np.ndarray | None]:
        """Seeds and ``reset_mask`` per market (the class docstring's seeding rule).

        Raises:
            TypeError: On a seed of the wrong type, ``options`` not a dict, or a ``reset_mask``
                that is not a bool array.
            ValueError: On an options key other than ``reset_mask``, a seed out of range or a
                list neither ``num_markets`` nor ``num_envs`` long, a ``reset_mask`` of the
                wrong shape, with no True entry, or whose two seats of a market disagree.
            RuntimeError: On a masked reset before the first full one.
        """
        check_options(options, who, ("reset_mask",))
        if isinstance(seed, (Sequence, np.ndarray)) and not isinstance(seed, (str, bytes)):
            if len(seed) == self.num_envs:  # one per seat (SB3's VecEnv.seed): seat 2i's
                seed = list(seed)[0::2]
        checked = check_seeds(seed, self.num_markets, who)
        seats = self._reset_mask(options, who)
        if seats is None:
            return checked, None
        if not np.array_equal(seats[0::2], seats[1::2]):
            raise ValueError(
                f"{who}: options['reset_mask'] must hold both seats of a market alike "
                f"(seats 2i and 2i+1 are market i's); got {excerpt(seats)}"
            )
        markets = seats[0::2]
        if not self._started and not markets.all():
            raise RuntimeError(f"{who}: a reset_mask needs a first reset() of every market")
        return checked, markets

    def _truncated(self, steps: np.ndarray) -> np.ndarray:
        """Per market (``(num_markets,)``), unlike the base's per sub-environment flags."""
        if self.max_episode_steps is None:
            return np.zeros(self.num_markets, np.bool_)
        return steps >= self.max_episode_steps


class TwoMakerVectorEnv(CoreEnvMixin, TwoMakerSeats):
    """Both makers of ``num_markets`` markets, one seat (sub-environment) per maker and market.

    Seat ``2 * i + k`` is maker ``k`` (0 ``"mm1"``, 1 ``"mm2"``, :data:`AGENTS`) of market
    ``i``: ``num_envs = 2 * num_markets``. Every step takes one action per seat, ``(num_envs,
    2)`` (or ``(num_envs, 4)``, or ``(num_envs,)`` integers for ``action_type="discrete"``),
    and steps every market once, in one compiled call. Market ``i`` with its two seats is
    :class:`~mm_gym.envs.parallel.MarketMakingParallelEnv` seeded ``seed + i``, seen from both
    makers: the same observations (each maker's own point of view), rewards, flags and infos,
    episode after episode (the parallel env's own ``reset(seed=...)`` rule per episode). Two
    seats of a market always end, reset and autoreset together.

    ``agent_id=True`` appends the feature :data:`AGENT_ID_FEATURE` (0 for mm1, 1 for mm2) to
    every observation, so a policy shared by both seats knows which maker it quotes for.

    Seeding: ``reset(seed=s)`` seeds market ``i`` with ``s + i``; a list gives one seed (or
    None) per market, ``num_markets`` long, or one per seat, ``num_envs`` long (as SB3's
    ``VecEnv.seed`` sets them), of which market ``i`` takes seat ``2i``'s.
    ``reset(options={"reset_mask": mask})`` takes a ``(num_envs,)`` seat mask in which both
    seats of a market agree.

    Autoreset and ``max_episode_steps`` as :class:`~mm_gym.envs.vector.MarketMakingVectorEnv`
    (``NEXT_STEP`` default, ``SAME_STEP``, ``DISABLED``). Infos: the parallel env's keys as
    arrays ``(num_envs,)`` (seat order), with their ``_key`` masks. No rendering.

    Liquidity shocks target mm1's inventory (the market's definition): the seats are symmetric
    only with shocks off or unaimed (``flow.shock_rate=0``) and equal ``makers.mm1_limit`` /
    ``makers.mm2_limit``.

    Args:
        num_markets: Number of markets, >= 1.
        preset: Market preset.
        config: A full market config (replaces the preset).
        env_config: A full environment config.
        agent_id: Append :data:`AGENT_ID_FEATURE` to the observations.
        reward_info: ``"nested"`` or ``"flat"``, as for the single environment.
        autoreset_mode: A :class:`gymnasium.vector.AutoresetMode` or its name.
        max_episode_steps: Truncate episodes at this many steps (None: the horizon only).
        **overrides: Environment or market config fields, as for the single environment.
    """

    metadata: dict[str, Any] = {"render_modes": [], **NativeVectorEnv.metadata}  # noqa: RUF012

    def __init__(
        self,
        num_markets: int = 1,
        preset: str = "default",
        *,
        config: MarketConfig | None = None,
        env_config: EnvConfig | None = None,
        agent_id: bool = False,
        reward_info: str = "nested",
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        max_episode_steps: int | None = None,
        **overrides: Any,
    ) -> None:
        """Build the markets; see the class docstring for the arguments."""
        n = check_num_envs(num_markets, "num_markets")
        check_agent_id(agent_id)
        if "rival" in overrides and not isinstance(overrides["rival"], Mapping):
            raise ConfigError(
                f"rival={excerpt(overrides['rival'])}: {type(self).__name__} has no rival "
                "policy, mm2's seats are sub-environments (the built-in rival's settings go in "
                "a mapping, rival={...})"
            )
        market, envc = resolve_configs(
            preset,
            config,
            env_config,
            overrides,
            extra_keys=("preset", "config", "env_config", *_KWARGS),
            owner=type(self).__name__,
        )
        flat = check_reward_info(reward_info)
        self._init_batch(2 * n, autoreset_mode, max_episode_steps, None)
        self.num_markets = n
        self.market_config = market
        self.env_config = envc
        self._core = MarketCore(market, envc, n, builtin_rival=False, flat_reward_info=flat)
        self._init_seats(
            self._core.feature_names,
            make_observation_space(self._core.feature_names),
            make_action_space(envc),
            agent_id,
        )

    # ------------------------------------------------------------------ seats <-> markets
    def _observations(self) -> np.ndarray:
        """``(num_envs, d)`` observations in seat order (a fresh array)."""
        c = self._core
        self._obs[:, :, : c.obs_dim] = c.features[:, :, c.obs_cols]
        return self._obs.reshape(self.num_envs, -1).copy()

    def _infos(
        self, components: dict[str, np.ndarray] | None, pnl: np.ndarray | None = None
    ) -> dict[str, Any]:
        """Both makers' infos interleaved in seat order, without the ``_key`` masks."""
        per_maker = [
            self._core.infos(
                k,
                None if components is None else {a: v[:, k] for a, v in components.items()},
                None if pnl is None else pnl[:, k],
            )
            for k in range(2)
        ]
        return self._seat_infos(per_maker)

    def _reset_batch(
        self, seed: int | list[int | None] | None, markets: np.ndarray | None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset the markets of ``markets`` (None: all), both seats of each."""
        c = self._core
        full = markets is None or markets.all()
        c.set_roots(seed, self.np_random, None if full else markets)
        c.reset(None if full else markets)
        if full:
            self._autoreset[:] = False
            self._started = True
            return self._observations(), self._masked(self._infos(None))
        assert markets is not None
        seat_mask = self._seat_mask(markets)
        self._autoreset[seat_mask] = False
        return self._observations(), self._masked(self._infos(None), seat_mask)

    def _step_batch(self, actions: Any, auto: np.ndarray) -> BatchStep:
        """Both makers' actions into the quotes, one compiled step, rewards per seat."""
        c = self._core
        who = f"{type(self).__name__}.step: actions"
        a = np.asarray(actions)
        if a.shape[:1] != (self.num_envs,):
            raise ValueError(
                f"{who} has shape {a.shape}; expected ({self.num_envs}, ...): one action per "
                f"seat, seat 2i+k being maker k of market i (action_space={self.action_space})"
            )
        for k in range(2):
            c.write_actions(a[k::2], k, who=f"{who} of {AGENTS[k]}", space=self.action_space)
        auto_markets = auto[0::2]
        if auto_markets.any():  # NEXT_STEP only
            np.logical_not(auto_markets, out=self._stepping_markets)
            c.advance(self._stepping_markets)
            c.reset(auto_markets)
        else:
            c.advance()
        reward, components, terminated, pnl = c.settle(slice(None))
        truncated = self._truncated(c.scalars.t)
        ended = terminated | truncated
        seat_terminated = self._seat_mask(terminated)
        seat_truncated = self._seat_mask(truncated)
        seat_reward = reward.reshape(-1)
        if self._same_step_reset(ended):
            last = self._observations()
            seats_ended = self._seat_mask(ended)
            final_info = self._masked(self._infos(components, pnl), seats_ended)
            c.reset(ended)
            zeros = {name: np.where(ended[:, None], 0.0, v) for name, v in components.items()}
            infos = self._add_final(self._masked(self._infos(zeros)), last, final_info, seats_ended)
            return self._observations(), seat_reward, seat_terminated, seat_truncated, infos
        self._end_step(self._seat_mask(ended))
        infos = self._masked(self._infos(components, pnl))
        return self._observations(), seat_reward, seat_terminated, seat_truncated, infos

    def policy_context(self, maker: str = "mm1") -> PolicyContext:
        """The :class:`~mm_gym.policy.PolicyContext` of ``maker``'s seats.

        With ``agent_id=True`` its ``feature_names`` end with :data:`AGENT_ID_FEATURE`.
        """
        return self._seat_context(super().policy_context(maker))

    def __repr__(self) -> str:
        """``TwoMakerVectorEnv(preset, num_markets=N)``."""
        return f"TwoMakerVectorEnv({self.market_config.regime}, num_markets={self.num_markets})"


def _interleave(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Two makers' batched info dicts ``(n, ...)`` as one ``(2n, ...)`` dict in seat order."""
    out: dict[str, Any] = {}
    for key, value in a.items():
        if isinstance(value, dict):
            out[key] = _interleave(value, b[key])
        else:
            first = np.asarray(value)  # (n, ...): market i's rows go to seats 2i and 2i + 1
            both = np.stack([first, np.asarray(b[key])], axis=1)
            out[key] = both.reshape(-1, *first.shape[1:])
    return out
