"""``MarketMakingParallelEnv``: both makers learn (PettingZoo Parallel API)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import fields
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from pettingzoo import ParallelEnv

from mm_gym.config import ConfigError, MarketConfig, _check_range, _plain_number, excerpt
from mm_gym.envs.config import EnvConfig, resolve_configs
from mm_gym.envs.core import (
    CoreEnvMixin,
    MarketCore,
    check_render_mode,
    check_reward_info,
    describe_value,
    make_action_space,
    make_observation_space,
    numeric_array,
)
from mm_gym.envs.render import HISTORY_STEPS, render_ansi, render_rgb
from mm_gym.envs.seeding import RootSeeds, check_seed
from mm_gym.rewards import COMPONENT_NAMES

__all__ = [
    "AGENTS",
    "MarketMakingParallelEnv",
    "ParallelStep",
    "TwoSeatParallelEnv",
    "agent_index",
    "check_agent_actions",
    "max_cycles_overrides",
    "parallel_env",
    "seed_roots",
]

AGENTS: tuple[str, str] = ("mm1", "mm2")
"""The agent ids; ``"mm1"`` is maker 0 (the target of adverse liquidity shocks), ``"mm2"``
maker 1."""

ParallelStep = tuple[
    dict[str, np.ndarray],
    dict[str, float],
    dict[str, bool],
    dict[str, bool],
    dict[str, dict[str, Any]],
]
"""What a parallel env's ``step`` returns: observations, rewards, terminations, truncations and
infos, each a dict by agent."""

_HORIZON = next(f for f in fields(MarketConfig) if f.name == "horizon_steps")

_PARALLEL_KWARGS = ("preset", "config", "env_config", "render_mode", "reward_info", "max_cycles")


def max_cycles_overrides(max_cycles: Any, overrides: dict[str, Any]) -> dict[str, Any]:
    """``overrides`` with ``horizon_steps=max_cycles`` (PettingZoo's name for the episode length).

    Raises:
        ConfigError: If ``max_cycles`` is out of ``horizon_steps``'s range, or ``overrides``
            gives a different ``horizon_steps``.
    """
    if max_cycles is None:
        return overrides
    max_cycles = _plain_number(max_cycles)  # np.int64(50) as horizon_steps takes it
    lo, hi, bounds = _HORIZON.metadata["range"]  # checked as horizon_steps is, named as given
    _check_range("max_cycles", max_cycles, lo, hi, **bounds)
    max_cycles = int(max_cycles)
    horizon = overrides.get("horizon_steps", max_cycles)
    if horizon != max_cycles:
        raise ConfigError(
            f"max_cycles={excerpt(max_cycles)} and horizon_steps={excerpt(horizon)} "
            "disagree: they name the same episode length, give one"
        )
    return {**overrides, "horizon_steps": max_cycles}


def seed_roots(
    seed: Any, np_random: np.random.Generator | None, roots: RootSeeds, who: str
) -> np.random.Generator:
    """A parallel env's reset seeding: check ``seed``, renew the generator, set the roots.

    As the single environments: a seed makes a new generator (as does the first reset), and the
    market roots are set from ``seed`` or drawn from the generator (:mod:`mm_gym.envs.seeding`).

    Returns:
        The env's generator, to keep for the next reset.

    Raises:
        TypeError: If ``seed`` is neither None nor an integer (bools are refused).
        ValueError: If ``seed`` lies outside [0, 2**63).
    """
    seed = check_seed(seed, who)
    if seed is not None or np_random is None:
        np_random, _ = seeding.np_random(seed)
    roots.set_roots(seed, np_random)
    return np_random


def agent_index(agent: Any, who: str) -> int:
    """The maker index of ``agent`` (0 for ``"mm1"``, 1 for ``"mm2"``).

    Raises:
        ValueError: Naming ``agent`` and the valid agents.
    """
    if isinstance(agent, str) and agent in AGENTS:
        return AGENTS.index(agent)
    raise ValueError(f"{who}: agent={excerpt(agent)} is not an agent: choose one of {list(AGENTS)}")


def check_agent_actions(actions: Any, who: str) -> None:
    """Refuse ``actions`` unless it is a mapping with exactly one entry per agent of AGENTS.

    Raises:
        TypeError: If ``actions`` is not a mapping.
        ValueError: Naming the missing and unknown agent keys.
    """
    if not isinstance(actions, Mapping):
        raise TypeError(
            f"{who}: actions must be a dict {{agent: action}} for the agents "
            f"{list(AGENTS)}, not a {type(actions).__name__}"
        )
    if len(actions) == len(AGENTS) and all(agent in actions for agent in AGENTS):
        return
    missing = [agent for agent in AGENTS if agent not in actions]
    unknown = [key for key in actions if key not in AGENTS]
    problems = []
    if missing:
        problems.append(f"no entry for agent {' or '.join(map(repr, missing))}")
    if unknown:
        problems.append(f"unknown agent key(s) {excerpt(unknown)}")
    raise ValueError(
        f"{who}: actions has {' and '.join(problems)}; give one action per agent of {list(AGENTS)}"
    )


class TwoSeatParallelEnv(ParallelEnv):
    """What the two-maker PettingZoo envs share: the seats, their spaces, render and close.

    A subclass calls :meth:`_init_seats` in its constructor, keeps its market in ``_core``
    (a :class:`~mm_gym.envs.seeding.RootSeeds`) and writes its text frame in
    :meth:`_text_frame`.
    """

    render_mode: str | None
    _core: Any

    def _init_seats(self, make_spaces: Callable[[], tuple[spaces.Box, spaces.Space[Any]]]) -> None:
        """Both seats' observation and action spaces (one pair each), the state space, no agents.

        The state space is mm1's then mm2's observation space.
        """
        self.possible_agents = list(AGENTS)
        self.agents: list[str] = []
        built = {a: make_spaces() for a in AGENTS}
        self._obs_spaces = {a: built[a][0] for a in AGENTS}
        self._act_spaces = {a: built[a][1] for a in AGENTS}
        # ParallelEnv declares these dicts; wrappers (skrl's) read them instead of the methods.
        self.observation_spaces: dict[str, spaces.Space[Any]] = dict(self._obs_spaces)
        self.action_spaces: dict[str, spaces.Space[Any]] = dict(self._act_spaces)
        obs_space = self._obs_spaces["mm1"]
        self.state_space = spaces.Box(
            np.concatenate([obs_space.low, obs_space.low]),
            np.concatenate([obs_space.high, obs_space.high]),
            dtype=np.float32,
        )
        self._np_random: np.random.Generator | None = None

    def observation_space(self, agent: str) -> spaces.Box:
        """The observation space of ``agent`` (the same object on every call)."""
        who = f"{type(self).__name__}.observation_space"
        return self._obs_spaces[AGENTS[agent_index(agent, who)]]

    def action_space(self, agent: str) -> spaces.Space[Any]:
        """The action space of ``agent`` (the same object on every call)."""
        who = f"{type(self).__name__}.action_space"
        return self._act_spaces[AGENTS[agent_index(agent, who)]]

    def _seed(self, seed: int | None) -> None:
        """Seed the market for a new episode (:func:`seed_roots`) and bring both agents in."""
        who = f"{type(self).__name__}.reset"
        self._np_random = seed_roots(seed, self._np_random, self._core, who)
        self.agents = list(AGENTS)

    def _check_step(self, actions: Any) -> str:
        """Refuse a step with no live agents or without exactly one action per agent.

        Returns:
            The name of the step for error messages (``"<Env>.step"``).
        """
        if not self.agents:
            raise RuntimeError("step() called with no live agents; call reset() first")
        who = f"{type(self).__name__}.step"
        check_agent_actions(actions, who)
        return who

    def _text_frame(self) -> str:
        """The text frame of the ``"ansi"`` and ``"human"`` render modes."""
        raise NotImplementedError

    def render(self) -> str | np.ndarray | None:
        """The text frame ("ansi"; "human" writes it to standard output and returns None)."""
        if self.render_mode is None:
            return None
        text = self._text_frame()
        if self.render_mode == "human":
            # The human mode of a text environment: there is no window to draw in.
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
            return None
        return text

    def close(self) -> None:
        """Nothing to release."""


class MarketMakingParallelEnv(CoreEnvMixin, TwoSeatParallelEnv):
    """Two learning market makers, ``"mm1"`` and ``"mm2"``, quoting in one book.

    The market, actions, observations, rewards and info are those of
    :class:`~mm_gym.envs.single.MarketMakingEnv` (see its docstring), for each maker from its own
    point of view: ``inventory`` and ``own_*`` features are the agent's, ``rival_*`` the other
    maker's, and the reward is computed from the agent's own PnL and inventory (with
    ``mm1_limit`` / ``mm2_limit`` scaling the respective ``inventory`` features). Both agents act
    through the same action space. There is no built-in rival: mm2's quotes are its actions.

    Liquidity shocks target mm1's inventory (the market's definition), so the two seats are not
    symmetric under shocks; swap seats between training runs if that matters.

    Episode end: both agents terminate together after ``horizon_steps``, or when either maker
    breaches ``max_drawdown`` (the market session ends for both). ``agents`` is then empty.

    Seeding: as the single environment (``reset(seed=s)`` -> root seed ``s``), so mm1's view of
    the market with mm2 quoting ``a2`` is the single environment with a policy rival quoting
    ``a2``. ``s`` is None or an integer (numpy ones too) in [0, 2**63).

    Actions: ``step`` takes exactly one action per agent, ``{"mm1": a1, "mm2": a2}``. Both
    makers quote every step, so a missing agent is an error, not a "no quote" (to pull a quote,
    use ``action_type="continuous_sizes"`` with a size of 0); so is an unknown key (a typo would
    otherwise go unnoticed). Values are checked as in the single environment.

    Policy context: ``env.policy_context("mm1")`` / ``env.policy_context("mm2")`` is the
    :class:`~mm_gym.policy.PolicyContext` of a :class:`~mm_gym.policy.QuotingPolicy` quoting
    for that agent (its inventory limit is that maker's); feed it ``obs[agent][None]``.

    Spaces: ``observation_space(agent)`` / ``action_space(agent)``, and the dicts
    ``observation_spaces`` / ``action_spaces`` that ``ParallelEnv`` declares (the same objects);
    ``state()`` is mm1's then mm2's observation as one vector, in ``state_space``.

    Rendering: ``"ansi"`` returns the text ladder, ``"rgb_array"`` a 360x640x3 frame, and
    ``"human"`` writes the text ladder to standard output and returns None (there is no window).

    Args:
        preset: Market preset.
        config: A full market config (replaces the preset).
        env_config: A full environment config.
        render_mode: None, ``"ansi"``, ``"rgb_array"`` or ``"human"``.
        reward_info: ``"nested"`` (``info["reward_components"]`` a dict) or ``"flat"``
            (``info["reward_pnl"]``, ... instead), as for the single environment.
        max_cycles: PettingZoo's name for the episode length: the same as ``horizon_steps``
            (the episode terminates after it; the time left is observed). Giving both with
            different values is a ``ConfigError``.
        **overrides: Any :class:`~mm_gym.envs.config.EnvConfig` or market config field (nested
            market fields as dotted keys), as for the single environment. An unknown key raises
            :class:`~mm_gym.config.UnknownKeywordError` (a ``ConfigError`` and a ``TypeError``).
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "mm_gym_market_making_v0",
        "render_modes": ["ansi", "rgb_array", "human"],
        "render_fps": 20,
        "is_parallelizable": True,
    }

    def __init__(
        self,
        preset: str = "default",
        *,
        config: MarketConfig | None = None,
        env_config: EnvConfig | None = None,
        render_mode: str | None = None,
        reward_info: str = "nested",
        max_cycles: int | None = None,
        **overrides: Any,
    ) -> None:
        """Build the market; see the class docstring for the arguments."""
        if "rival" in overrides and not isinstance(overrides["rival"], Mapping):
            raise ConfigError(
                f"rival={excerpt(overrides['rival'])}: the parallel env has no rival policy, "
                "mm2 is an agent (use mm_gym.MarketMakingEnv(rival=...) for a scripted mm2)"
            )
        overrides = max_cycles_overrides(max_cycles, overrides)
        market, envc = resolve_configs(
            preset,
            config,
            env_config,
            overrides,
            extra_keys=_PARALLEL_KWARGS,
            owner=type(self).__name__,
        )
        check_render_mode(render_mode, self.metadata["render_modes"])
        flat = check_reward_info(reward_info)
        self.render_mode = render_mode
        self.market_config = market
        self.env_config = envc
        self._core = MarketCore(
            market,
            envc,
            1,
            builtin_rival=False,
            history=HISTORY_STEPS if render_mode == "rgb_array" else 0,
            flat_reward_info=flat,
        )
        self.feature_names: tuple[str, ...] = self._core.feature_names
        self._init_seats(
            lambda: (make_observation_space(self.feature_names), make_action_space(envc))
        )
        self._discrete = envc.action_type == "discrete"
        self._width = {"continuous": 2, "continuous_sizes": 4, "discrete": 0}[envc.action_type]

    def state(self) -> np.ndarray:
        """The global state: mm1's then mm2's observation, one float32 vector (``state_space``).

        For centralised critics (e.g. skrl's MAPPO); the hidden fundamental stays hidden.
        """
        f = self._core.features
        return f[0][:, self._core.obs_cols].reshape(-1).copy()

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        """Start a new episode (``options`` is unused); returns ``(observations, infos)``.

        Raises:
            TypeError: If ``seed`` is neither None nor an integer (bools are refused).
            ValueError: If ``seed`` lies outside [0, 2**63).
        """
        self._seed(seed)
        self._core.reset()
        zeros = np.zeros((1, 2))
        comps = {name: zeros for name in COMPONENT_NAMES}
        return self._observations(), self._infos(comps)

    def step(self, actions: dict[str, Any]) -> ParallelStep:
        """Quote both agents' actions for one step.

        Args:
            actions: ``{"mm1": action, "mm2": action}``: exactly one action per live agent,
                each as the single environment takes it (numbers, not bools or strings).

        Raises:
            RuntimeError: If the episode is over (no live agents) or was never reset.
            TypeError: If ``actions`` is not a mapping.
            ValueError: On a missing or unknown agent key (both makers quote every step, so
                there is no "no action" default), or an invalid action.
        """
        who = self._check_step(actions)
        c = self._core
        for k, agent in enumerate(AGENTS):
            c.write_actions(
                self._batch(actions[agent], agent, who),
                k,
                who=f"{who}: action of {agent}",
                space=self._act_spaces[agent],
            )
        c.advance()
        reward, comps, terminated, total = c.settle(slice(None))
        done = bool(terminated[0])
        rewards = {a: float(reward[0, k]) for k, a in enumerate(AGENTS)}
        terms = dict.fromkeys(AGENTS, done)
        truncs = dict.fromkeys(AGENTS, False)
        obs = self._observations()
        infos = self._infos(comps, total)
        if done:
            self.agents = []
        return obs, rewards, terms, truncs, infos

    def _batch(self, action: Any, agent: str, who: str) -> np.ndarray:
        """``agent``'s action as a batch of one, its type and shape checked."""
        expected: tuple[int, ...] = () if self._discrete else (self._width,)
        space = self._act_spaces[agent]
        a = numeric_array(action, "iu" if self._discrete else "fiu")
        if a is None:
            what = "an integer" if self._discrete else f"{self._width} real numbers"
            raise ValueError(
                f"{who}: action of {agent} must be {what}; got {describe_value(action)} "
                f"(action_space={space})"
            )
        if a.shape != expected:
            raise ValueError(
                f"{who}: action of {agent} has shape {a.shape}; expected {expected} "
                f"(action_space={space})"
            )
        return a[None]

    def _observations(self) -> dict[str, np.ndarray]:
        f = self._core.features
        cols = self._core.obs_cols
        return {a: f[0, k, cols].copy() for k, a in enumerate(AGENTS)}

    def _infos(
        self, comps: dict[str, np.ndarray], total: np.ndarray | None = None
    ) -> dict[str, dict[str, Any]]:
        out = {}
        for k, agent in enumerate(AGENTS):
            pnl = None if total is None else total[:, k]
            info = self._core.infos(k, {n: v[:, k] for n, v in comps.items()}, pnl)
            scalars = {key: v.item() for key, v in info.items() if key != "reward_components"}
            if "reward_components" in info:
                scalars["reward_components"] = {
                    n: v.item() for n, v in info["reward_components"].items()
                }
            out[agent] = scalars
        return out

    def render(self) -> str | np.ndarray | None:
        """Render the book ("ansi": text; "rgb_array": frame; "human": text to stdout, None)."""
        if self.render_mode == "rgb_array":
            return render_rgb(self._core, 0)
        return super().render()

    def _text_frame(self) -> str:
        return render_ansi(self._core, 0)


def parallel_env(**kwargs: Any) -> MarketMakingParallelEnv:
    """Make the two-learner PettingZoo environment.

    Args:
        **kwargs: As :class:`MarketMakingParallelEnv`.
    """
    return MarketMakingParallelEnv(**kwargs)
