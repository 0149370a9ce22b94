"""``MarketMakingVectorEnv``: ``num_envs`` markets stepped by one compiled call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from mm_gym.config import ConfigError, MarketConfig, excerpt
from mm_gym.envs.config import EnvConfig, resolve_configs
from mm_gym.envs.core import (
    MarketCore,
    check_render_mode,
    check_rival,
    check_seeds,
    make_action_space,
    make_observation_space,
    maker_index,
    rival_generator,
)
from mm_gym.envs.render import HISTORY_STEPS, render_ansi, render_rgb
from mm_gym.envs.single import ENV_KWARGS
from mm_gym.policy import PolicyContext

__all__ = ["MarketMakingVectorEnv"]


class MarketMakingVectorEnv(VectorEnv):
    """``num_envs`` copies of :class:`~mm_gym.envs.single.MarketMakingEnv` on one batched core.

    Made by ``gym.make_vec(id, num_envs=N)`` (the registered ``vector_entry_point``) or
    directly. It takes the same keyword arguments as the single environment. Sub-environment
    ``i`` behaves exactly as a single environment with the same arguments:

    - ``reset(seed=s)`` seeds sub-environment ``i`` with ``s + i`` (or ``seed`` may be a list of
      ``num_envs`` ints or Nones; ints, numpy ones too, in [0, 2**63)), and each autoreset of
      ``i`` starts its next episode from its own seed sequence, so episode ``k`` of
      sub-environment ``i`` equals episode ``k`` of a single environment seeded ``s + i``
      (whatever ``num_envs``);
    - autoreset is Gymnasium's ``NEXT_STEP`` mode (``metadata["autoreset_mode"]``): the step
      after a sub-environment terminates ignores its action and returns its reset observation,
      reward 0, ``terminated=False`` and its reset info;
    - ``infos`` is a dict of arrays ``(num_envs,)`` with the single environment's keys (and
      ``reward_components`` a dict of arrays), each with its ``_key`` mask (all True).

    Actions: ``(num_envs, 2)`` (or ``(num_envs, 4)``) real numbers, or ``(num_envs,)`` integers
    for ``action_type="discrete"``; bools, complex numbers, strings, NaN and infinities raise
    ``ValueError``. With a policy ``rival``, the policy acts on the whole batch of mm2
    observations; its ``reset`` is called on ``reset()`` only (not on autoresets), with the
    generator of sub-environment 0 (so vector == singles holds for rivals without episode state).

    Rendering (``render_mode`` "ansi" or "rgb_array") draws sub-environment 0 and returns a
    one-element tuple.

    Policy context: ``envs.unwrapped.policy_context(maker="mm1")`` is the
    :class:`~mm_gym.policy.PolicyContext` of a :class:`~mm_gym.policy.QuotingPolicy` acting on
    the whole ``(num_envs, d)`` batch of observations as ``maker`` (the same for every
    sub-environment, and equal to the single environment's).
    """

    # Gymnasium declares metadata as an instance attribute, hence no ClassVar.
    metadata: dict[str, Any] = {  # noqa: RUF012
        "render_modes": ["ansi", "rgb_array"],
        "render_fps": 20,
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }

    def __init__(
        self,
        num_envs: int = 1,
        preset: str = "default",
        *,
        config: MarketConfig | None = None,
        env_config: EnvConfig | None = None,
        rival: Any = "builtin",
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        """Build ``num_envs`` markets; see :class:`MarketMakingEnv` for the arguments."""
        if (
            isinstance(num_envs, bool)
            or not isinstance(num_envs, (int, np.integer))
            or num_envs < 1
        ):
            raise ConfigError(f"num_envs={excerpt(num_envs)} must be an integer >= 1")
        policy = check_rival(rival)
        market, envc = resolve_configs(
            preset, config, env_config, overrides, extra_keys=(*ENV_KWARGS, "num_envs")
        )
        check_render_mode(render_mode, self.metadata["render_modes"])
        self.num_envs = int(num_envs)
        self.render_mode = render_mode
        self.market_config = market
        self.env_config = envc
        self._core = MarketCore(
            market,
            envc,
            self.num_envs,
            builtin_rival=policy is None,
            history=HISTORY_STEPS if render_mode == "rgb_array" else 0,
        )
        self._rival = policy
        self.feature_names: tuple[str, ...] = self._core.feature_names
        self.single_action_space = make_action_space(envc)
        self.single_observation_space = make_observation_space(self.feature_names)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self._autoreset = np.zeros(self.num_envs, np.bool_)
        self._stepping = np.ones(self.num_envs, np.bool_)
        self._all_true = np.ones(self.num_envs, np.bool_)
        self._started = False

    def reset(
        self,
        *,
        seed: int | Sequence[int | None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every sub-environment (``options`` is unused); see the class docstring.

        Raises:
            TypeError: If ``seed`` is not None, an integer or a sequence of integers or Nones.
            ValueError: If a seed lies outside [0, 2**63) or a sequence is not ``num_envs`` long.
        """
        seed = check_seeds(seed, self.num_envs, f"{type(self).__name__}.reset")
        super().reset(seed=seed if isinstance(seed, int) else None)
        c = self._core
        c.set_roots(seed, self.np_random)
        c.reset()
        if self._rival is not None:
            self._rival.reset(rival_generator(int(c.roots[0]), int(c.episodes[0])), c.context(1))
        self._autoreset[:] = False
        self._started = True
        return c.observations(0), self._masked(c.infos(0, None))

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every sub-environment; see the class docstring for autoreset and infos."""
        if not self._started:
            raise RuntimeError("step() called before reset()")
        c = self._core
        c.write_actions(
            actions, 0, who=f"{type(self).__name__}.step: actions", space=self.action_space
        )
        if self._rival is not None:
            c.write_rival_actions(self._rival.act(c.features[:, 1, : c.obs_dim].copy()))
        auto = self._autoreset
        if auto.any():
            np.logical_not(auto, out=self._stepping)
            c.advance(self._stepping)
            c.reset(auto)
        else:
            c.advance()
        reward, components, terminated, pnl = c.settle(0)
        self._autoreset = terminated.copy()
        truncated = np.zeros(self.num_envs, np.bool_)
        return (
            c.observations(0),
            reward,
            terminated,
            truncated,
            self._masked(c.infos(0, components, pnl)),
        )

    def _masked(self, info: dict[str, Any]) -> dict[str, Any]:
        """Add Gymnasium's ``_key`` masks (every key is present for every sub-environment)."""
        out: dict[str, Any] = {}
        mask = self._all_true
        for key, value in info.items():
            out[key] = self._masked(value) if isinstance(value, dict) else value
            out[f"_{key}"] = mask
        return out

    def render(self) -> tuple[Any, ...] | None:
        """Render sub-environment 0 (a one-element tuple), or None without a render_mode."""
        if self.render_mode is None:
            return None
        if not self._started:
            raise RuntimeError("render() called before reset()")
        if self.render_mode == "ansi":
            return (render_ansi(self._core, 0),)
        return (render_rgb(self._core, 0),)

    def policy_context(self, maker: str = "mm1") -> PolicyContext:
        """The :class:`~mm_gym.policy.PolicyContext` of a policy quoting as ``maker``.

        Args:
            maker: ``"mm1"`` (the agent) or ``"mm2"`` (the rival).

        Raises:
            ValueError: If ``maker`` is neither ``"mm1"`` nor ``"mm2"``.
        """
        return self._core.context(maker_index(maker, f"{type(self).__name__}.policy_context"))

    @property
    def simulator(self) -> Any:
        """The underlying :class:`~mm_gym.market.MarketSimulator` (``num_envs`` markets)."""
        return self._core.sim

    def __repr__(self) -> str:
        """``MarketMakingVectorEnv(id, num_envs=N)``."""
        name = self.spec.id if self.spec is not None else self.market_config.regime
        return f"MarketMakingVectorEnv({name}, num_envs={self.num_envs})"
