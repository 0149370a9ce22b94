"""``MultiVenueParallelEnv``: two learning makers on one multi-venue asset (PettingZoo API).

``mm_gym.multivenue.parallel_env(...)`` makes it, as ``mm_gym.parallel_env(...)`` makes the
single-venue :class:`~mm_gym.envs.parallel.MarketMakingParallelEnv`. Its batched form, ``n``
markets as ``2n`` seats of one vector env, is
:class:`~mm_gym.multivenue.two_makers.MultiVenueTwoMakerVectorEnv`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from mm_gym.config import MarketConfig
from mm_gym.envs.config import EnvConfig
from mm_gym.envs.core import check_render_mode
from mm_gym.envs.parallel import (
    AGENTS,
    ParallelStep,
    TwoSeatParallelEnv,
    agent_index,
    max_cycles_overrides,
)
from mm_gym.multivenue.config import DEFAULT_VENUES, VenueConfig
from mm_gym.multivenue.core import MultiVenueCore
from mm_gym.multivenue.env import _checked_actions, _first, _VenueCores
from mm_gym.policy import PolicyContext

__all__ = ["MultiVenueParallelEnv", "TwoMakerCores", "parallel_env"]


class TwoMakerCores(_VenueCores):
    """How the two-maker multi-venue envs build their markets: ``two_makers=True``.

    Takes ``mm2_latency`` (and ``action_form``) out of the overrides for
    :class:`~mm_gym.multivenue.MultiVenueCore`.
    """

    _OPTIONS: tuple[str, ...] = ("action_form", "mm2_latency")

    def _new_core(
        self, market: MarketConfig, env_config: EnvConfig, venues: Any, n: int, **options: Any
    ) -> MultiVenueCore:
        return MultiVenueCore(market, env_config, venues, n, two_makers=True, **options)


class MultiVenueParallelEnv(TwoMakerCores, TwoSeatParallelEnv):
    """Two learning market makers, ``"mm1"`` and ``"mm2"``, quoting one asset on several venues.

    Description:
        The market of :class:`~mm_gym.multivenue.MultiVenueEnv` with ``two_makers=True``
        (:class:`~mm_gym.multivenue.MultiVenueMarket`): mm2 is not each venue's built-in rival
        but an agent quoting per venue exactly as mm1 does, with its own latency buffers, its
        own limit ``makers.mm2_limit`` on its inventory summed over the venues, the same
        order-protection slide and its own fill rates.

    Action Space:
        Each agent's as :class:`~mm_gym.multivenue.MultiVenueEnv`'s for ``action_form`` (the
        same form for both). ``step`` takes exactly one action per agent,
        ``{"mm1": a1, "mm2": a2}``; a missing or unknown key is an error.

    Observation Space:
        Each agent's as :class:`~mm_gym.multivenue.MultiVenueEnv`'s, from its own point of
        view: ``inventory`` and ``<venue>.venue_inventory`` over its own limit, its fills, fill
        rates and spread capture, its quotes as ``own_*`` and the other maker's as ``rival_*``.
        ``state()`` is mm1's then mm2's observation (``state_space``).

    Rewards:
        Each agent's :func:`mm_gym.rewards.step_reward` of its own PnL over the venues and its
        own summed inventory, as the one-maker env computes mm1's.

    Starting State:
        As :class:`~mm_gym.multivenue.MultiVenueEnv`'s: every venue's book built by the
        warm-up's background flow without makers, both makers' accounts flat, everything drawn
        from the episode's seed; with a latency ``L`` on a venue, a maker's quotes there rest
        from step ``L`` on (none in the episode's first ``L`` steps).

    Episode End:
        Both agents terminate together after ``horizon_steps`` (``max_cycles``); ``agents`` is
        then empty.

    Info:
        Per agent the one-maker env's keys, for that maker.

    Arguments:
        preset, config, env_config, venues, action_form, **overrides: As
            :class:`~mm_gym.multivenue.MultiVenueEnv`.
        mm2_latency: mm2's latency on each venue, steps (one per venue; default the venues'
            ``latency_steps``, as mm1's).
        render_mode: None, ``"ansi"`` (a text frame: both makers' quotes per venue) or
            ``"human"`` (that frame written to standard output; there is no window).
        max_cycles: PettingZoo's name for the episode length, ``horizon_steps``; giving both
            with different values is a ``ConfigError``.

    Seeding: ``reset(seed=s)`` seeds as :class:`~mm_gym.multivenue.MultiVenueEnv` does;
    ``reset(options=...)`` accepts and ignores any options (PettingZoo's API test passes some).

    Version History:
        * v0: Initial version (issue #15).
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "mm_gym_multi_venue_v0",
        "render_modes": ["ansi", "human"],
        "render_fps": 20,
        "is_parallelizable": True,
    }

    def __init__(
        self,
        preset: str = "default",
        *,
        config: MarketConfig | None = None,
        env_config: EnvConfig | None = None,
        venues: Sequence[VenueConfig | dict[str, Any]] = DEFAULT_VENUES,
        render_mode: str | None = None,
        max_cycles: int | None = None,
        **overrides: Any,
    ) -> None:
        """Build the venues (see the class docstring)."""
        check_render_mode(render_mode, self.metadata["render_modes"])
        overrides = max_cycles_overrides(max_cycles, overrides)
        self._core = self._make_core(
            preset, config, env_config, venues, overrides, 1, ("max_cycles",)
        )
        self.render_mode = render_mode
        self.market_config = self._core.market_config
        self.env_config = self._core.env_config
        self.venues = self._core.venues
        self.feature_names: tuple[str, ...] = self._core.feature_names
        self._init_seats(self._core.spaces)

    def policy_context(self, agent: str) -> PolicyContext:
        """The :class:`~mm_gym.policy.PolicyContext` of a policy quoting for ``agent``."""
        who = f"{type(self).__name__}.policy_context"
        return self._core.context(agent_index(agent, who))

    def state(self) -> np.ndarray:
        """mm1's then mm2's observation as one float32 vector (``state_space``)."""
        return np.concatenate([self._core.observations(k)[0] for k in range(2)])

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        """Start a new episode; ``(observations, infos)``. ``options`` is unused.

        Raises:
            TypeError, ValueError: On a bad ``seed`` (:func:`~mm_gym.envs.parallel.seed_roots`).
        """
        self._seed(seed)
        c = self._core
        c.start()
        obs = {a: c.observations(k)[0] for k, a in enumerate(AGENTS)}
        return obs, {a: _first(c.infos(None, k)) for k, a in enumerate(AGENTS)}

    def step(self, actions: dict[str, Any]) -> ParallelStep:
        """Quote both agents' actions on every venue for one step, then the arbitrageurs.

        Raises:
            RuntimeError: If the episode is over (no live agents) or was never reset.
            TypeError: If ``actions`` is not a mapping.
            ValueError: On a missing or unknown agent key, or an action of the wrong type or
                shape, or with NaN/infinite values (naming the agent).
        """
        who = self._check_step(actions)
        c = self._core
        a1, a2 = (
            _checked_actions(
                actions[a],
                (c.action_width,),
                f"{who}: action of {a}",
                self._act_spaces[a],
                self._action_layout(),
            )
            for a in AGENTS
        )
        c.act(a1.reshape(1, -1), None, a2.reshape(1, -1))
        rewards, infos = {}, {}
        done = False
        for k, agent in enumerate(AGENTS):
            reward, comps, terminated = c.settle(k)
            rewards[agent] = float(reward[0])
            infos[agent] = _first(c.infos(comps, k))
            done = bool(terminated[0])
        obs = {a: c.observations(k)[0] for k, a in enumerate(AGENTS)}
        if done:
            self.agents = []
        terms = dict.fromkeys(AGENTS, done)
        return obs, rewards, terms, dict.fromkeys(AGENTS, False), infos

    def _text_frame(self) -> str:
        return self._core.render_frame(0)


def parallel_env(**kwargs: Any) -> MultiVenueParallelEnv:
    """Make the two-maker multi-venue PettingZoo environment.

    Args:
        **kwargs: As :class:`MultiVenueParallelEnv`.
    """
    return MultiVenueParallelEnv(**kwargs)
