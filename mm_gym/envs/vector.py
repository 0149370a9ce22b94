"""``MarketMakingVectorEnv``: ``num_envs`` markets stepped by one compiled call."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from mm_gym.config import MarketConfig
from mm_gym.envs.config import EnvConfig, resolve_configs
from mm_gym.envs.core import (
    CoreEnvMixin,
    MarketCore,
    check_render_mode,
    check_reward_info,
    check_rival,
    make_action_space,
    make_observation_space,
)
from mm_gym.envs.render import HISTORY_STEPS, render_ansi, render_rgb
from mm_gym.envs.seeding import rival_generator
from mm_gym.envs.single import ENV_KWARGS
from mm_gym.envs.vector_base import BatchStep, NativeVectorEnv, check_autoreset_mode, check_num_envs

__all__ = ["VECTOR_KWARGS", "MarketMakingVectorEnv", "check_autoreset_mode"]

VECTOR_KWARGS: tuple[str, ...] = ("num_envs", "autoreset_mode", "max_episode_steps")
"""Constructor keywords of the vector environment besides the single environment's."""


class MarketMakingVectorEnv(CoreEnvMixin, NativeVectorEnv):
    """``num_envs`` copies of :class:`~mm_gym.envs.single.MarketMakingEnv` on one batched core.

    Made by ``gym.make_vec(id, num_envs=N)`` (the registered ``vector_entry_point``) or
    directly. It takes the same keyword arguments as the single environment, plus
    ``autoreset_mode`` and ``max_episode_steps`` (below). Sub-environment ``i`` behaves exactly
    as a single environment with the same arguments:

    - ``reset(seed=s)`` seeds sub-environment ``i`` with ``s + i`` (or ``seed`` may be a list of
      ``num_envs`` ints or Nones; ints, numpy ones too, in [0, 2**63)), and each autoreset of
      ``i`` starts its next episode from its own seed sequence, so episode ``k`` of
      sub-environment ``i`` equals episode ``k`` of a single environment seeded ``s + i``
      (whatever ``num_envs``);
    - ``infos`` is a dict of arrays ``(num_envs,)`` with the single environment's keys (and
      ``reward_components`` a dict of arrays, or flat ``reward_<component>`` arrays with
      ``reward_info="flat"``), each with its ``_key`` mask; with headlines on
      (``news_model``), ``headline_score`` and ``headline_index`` per sub-environment, and
      ``envs.unwrapped.headlines(i)`` lists sub-environment ``i``'s headlines of its current
      episode.

    Autoreset (``autoreset_mode=``, a :class:`gymnasium.vector.AutoresetMode` or its name; also
    the attribute ``envs.autoreset_mode`` and ``metadata["autoreset_mode"]``):

    - ``NEXT_STEP`` (default): the step after a sub-environment terminates or truncates ignores
      its action and returns its reset observation, reward 0, ``terminated=False``,
      ``truncated=False`` and its reset info;
    - ``SAME_STEP``: the step that ends an episode returns the reset observation and info, the
      last ones in ``infos["final_obs"]`` (an object array, None where not ended) and
      ``infos["final_info"]`` (masked by ``_final_obs`` / ``_final_info``); reward and flags are
      the ending step's;
    - ``DISABLED``: nothing resets by itself; call ``reset(options={"reset_mask": mask})``
      (a bool array ``(num_envs,)``) before stepping again, else ``step`` raises
      ``RuntimeError``.

    ``reset(options={"reset_mask": mask})`` works in every mode: it starts the next episode of
    the masked sub-environments only (a ``seed`` then applies to them only) and returns every
    observation, with the infos' ``_key`` masks True for the reset ones.

    ``max_episode_steps=T`` (as ``gym.make_vec`` forwards it): a sub-environment whose episode
    reaches ``T`` steps before its horizon ends with ``truncated=True`` (``terminated`` stays the
    market's own), then autoresets as above; the single environment gets the same from
    Gymnasium's ``TimeLimit`` wrapper.

    Actions: ``(num_envs, 2)`` (or ``(num_envs, 4)``) real numbers, or ``(num_envs,)`` integers
    for ``action_type="discrete"``; bools, complex numbers, strings, NaN and infinities raise
    ``ValueError``. With a policy ``rival``, the policy acts on the whole batch of mm2
    observations; its ``reset`` is called on a full ``reset()`` only (not on autoresets or
    masked resets), with the generator of sub-environment 0 (so vector == singles holds for
    rivals without episode state).

    Rendering (``render_mode`` "ansi" or "rgb_array") returns a tuple of ``num_envs`` frames,
    one per sub-environment, as Gymnasium's vector ``RecordVideo`` expects (an ``rgb_array``
    frame is 360x640x3 bytes, about 0.7 MB per sub-environment).

    Policy context: ``envs.unwrapped.policy_context(maker="mm1")`` is the
    :class:`~mm_gym.policy.PolicyContext` of a :class:`~mm_gym.policy.QuotingPolicy` acting on
    the whole ``(num_envs, d)`` batch of observations as ``maker`` (the same for every
    sub-environment, and equal to the single environment's).
    """

    # Gymnasium declares metadata as an instance attribute, hence no ClassVar.
    metadata: dict[str, Any] = {"render_modes": ["ansi", "rgb_array"], **NativeVectorEnv.metadata}  # noqa: RUF012

    def __init__(
        self,
        num_envs: int = 1,
        preset: str = "default",
        *,
        config: MarketConfig | None = None,
        env_config: EnvConfig | None = None,
        rival: Any = "builtin",
        render_mode: str | None = None,
        reward_info: str = "nested",
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        max_episode_steps: int | None = None,
        **overrides: Any,
    ) -> None:
        """Build ``num_envs`` markets; see :class:`MarketMakingEnv` for the arguments."""
        n = check_num_envs(num_envs)
        policy = check_rival(rival)
        market, envc = resolve_configs(
            preset,
            config,
            env_config,
            overrides,
            extra_keys=(*ENV_KWARGS, *VECTOR_KWARGS),
            owner=type(self).__name__,
        )
        check_render_mode(render_mode, self.metadata["render_modes"])
        flat = check_reward_info(reward_info)
        self._init_batch(n, autoreset_mode, max_episode_steps, render_mode)
        self.market_config = market
        self.env_config = envc
        self._core = MarketCore(
            market,
            envc,
            self.num_envs,
            builtin_rival=policy is None,
            history=HISTORY_STEPS if render_mode == "rgb_array" else 0,
            flat_reward_info=flat,
        )
        self._rival = policy
        self.feature_names: tuple[str, ...] = self._core.feature_names
        self.single_action_space = make_action_space(envc)
        self.single_observation_space = make_observation_space(self.feature_names)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)

    def _reset_batch(
        self, seed: int | list[int | None] | None, mask: np.ndarray | None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset the masked markets (all on None); a full reset also resets a policy rival."""
        c = self._core
        if mask is None or mask.all():
            c.set_roots(seed, self.np_random)
            c.reset()
            if self._rival is not None:
                self._rival.reset(
                    rival_generator(int(c.roots[0]), int(c.episodes[0])), c.context(1)
                )
            self._autoreset[:] = False
            self._started = True
            return c.observations(0), self._masked(c.infos(0, None))
        c.set_roots(seed, self.np_random, mask)
        c.reset(mask)
        self._autoreset[mask] = False
        return c.observations(0), self._masked(c.infos(0, None), mask)

    def _step_batch(self, actions: Any, auto: np.ndarray) -> BatchStep:
        """One compiled step of every market (``auto``: reset instead, ``NEXT_STEP``)."""
        c = self._core
        c.write_actions(
            actions, 0, who=f"{type(self).__name__}.step: actions", space=self.action_space
        )
        if self._rival is not None:
            c.write_rival_actions(self._rival.act(c.observations(1)))
        if auto.any():  # NEXT_STEP only: the other modes never leave a flag set here
            np.logical_not(auto, out=self._stepping)
            c.advance(self._stepping)
            c.reset(auto)
        else:
            c.advance()
        reward, components, terminated, pnl = c.settle(0)
        truncated = self._truncated(c.scalars.t)
        ended = terminated | truncated
        if self._same_step_reset(ended):
            last = c.observations(0)
            final_info = self._masked(c.infos(0, components, pnl), ended)
            c.reset(ended)
            # The reset sub-environments report their reset info, as after reset().
            zeros = {name: np.where(ended, 0.0, v) for name, v in components.items()}
            infos = self._add_final(self._masked(c.infos(0, zeros)), last, final_info, ended)
            return c.observations(0), reward, terminated, truncated, infos
        self._end_step(ended)
        return (
            c.observations(0),
            reward,
            terminated,
            truncated,
            self._masked(c.infos(0, components, pnl)),
        )

    def render(self) -> tuple[Any, ...] | None:
        """One frame per sub-environment (a ``num_envs`` tuple), or None without a render_mode."""
        if not self._check_render():
            return None
        draw = render_ansi if self.render_mode == "ansi" else render_rgb
        return tuple(draw(self._core, m) for m in range(self.num_envs))

    def __repr__(self) -> str:
        """``MarketMakingVectorEnv(id, num_envs=N)``."""
        name = self.spec.id if self.spec is not None else self.market_config.regime
        return f"MarketMakingVectorEnv({name}, num_envs={self.num_envs})"
