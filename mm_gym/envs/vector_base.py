"""``NativeVectorEnv``: the conventions the two native vector envs share.

:class:`~mm_gym.envs.vector.MarketMakingVectorEnv` (the book) and
:class:`~mm_gym.envs.intensity_vector.IntensityMarketMakingVectorEnv` (AS2008) step their
sub-environments their own way, but check their arguments, seeds and ``reset_mask``, refuse
steps and frames out of turn, truncate at ``max_episode_steps`` and hand over the last
observations of a ``SAME_STEP`` autoreset in one way, written here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv

from mm_gym.config import ConfigError, excerpt, is_integer
from mm_gym.envs.seeding import check_options, check_seeds

__all__ = [
    "BatchStep",
    "NativeVectorEnv",
    "check_autoreset_mode",
    "check_num_envs",
    "refuse_same_step",
]

BatchStep = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]
"""What a vector env's ``step`` returns: observations, rewards, terminations and truncations
(one row per sub-environment), and the infos."""


def check_autoreset_mode(mode: Any) -> AutoresetMode:
    """``mode`` as an :class:`~gymnasium.vector.AutoresetMode` (its value or name also accepted).

    Raises:
        ConfigError: If ``mode`` names no autoreset mode.
    """
    if isinstance(mode, AutoresetMode):
        return mode
    if isinstance(mode, str):
        for m in AutoresetMode:
            if mode in (m.value, m.name, m.name.lower()):
                return m
    choices = [m.name for m in AutoresetMode]
    raise ConfigError(
        f"autoreset_mode={excerpt(mode)} is not valid: use a gymnasium.vector.AutoresetMode "
        f"or its name, one of {choices}"
    )


def refuse_same_step(mode: AutoresetMode, owner: str) -> None:
    """Refuse ``SAME_STEP`` in a vector env (``owner``) that has no such autoreset.

    Raises:
        ConfigError: If ``mode`` is ``SAME_STEP``, listing the modes ``owner`` takes.
    """
    if mode == AutoresetMode.SAME_STEP:
        allowed = [m.name for m in AutoresetMode if m != AutoresetMode.SAME_STEP]
        raise ConfigError(
            f"autoreset_mode=SAME_STEP is not supported by {owner}; use one of {allowed} "
            "(NEXT_STEP is the default)"
        )


def check_num_envs(num_envs: Any, name: str = "num_envs") -> int:
    """``num_envs`` as an int; ``name``: the argument it was given as (``"num_markets"``).

    Raises:
        ConfigError: If ``num_envs`` is not an integer >= 1 (bools are refused), naming ``name``.
    """
    if not is_integer(num_envs) or num_envs < 1:
        raise ConfigError(f"{name}={excerpt(num_envs)} must be an integer >= 1")
    return int(num_envs)


def _check_max_episode_steps(value: Any) -> int | None:
    if value is None:
        return None
    if not is_integer(value) or value < 1:
        raise ConfigError(f"max_episode_steps={excerpt(value)} must be None or an integer >= 1")
    return int(value)


class NativeVectorEnv(VectorEnv):
    """A vector env that steps its ``num_envs`` sub-environments itself, with autoreset.

    ``reset`` and ``step`` check what every such env checks, then call the subclass's
    :meth:`_reset_batch` and :meth:`_step_batch`. Subclasses call :meth:`_init_batch` in
    their constructor and end ``_step_batch`` with :meth:`_end_step` (or, for a ``SAME_STEP``
    autoreset, :meth:`_add_final`).
    """

    # Gymnasium declares metadata as an instance attribute, hence no ClassVar. Subclasses add
    # their "render_modes"; "autoreset_mode" is the default, set per instance.
    metadata: dict[str, Any] = {  # noqa: RUF012
        "render_fps": 20,
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }
    num_envs: int
    autoreset_mode: AutoresetMode
    max_episode_steps: int | None

    def reset(
        self,
        *,
        seed: int | Sequence[int | None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every sub-environment, or those of ``options["reset_mask"]``.

        Args:
            seed: None, an int (sub-environment ``i`` gets ``seed + i``) or ``num_envs`` ints
                or Nones; see the class docstring.
            options: None, or ``{"reset_mask": mask}`` with ``mask`` a bool numpy array
                ``(num_envs,)`` holding at least one True entry (no other key).

        Raises:
            TypeError: If ``seed`` is not None, an integer or a sequence of integers or Nones,
                ``options`` is not a dict, or ``reset_mask`` is not a bool numpy array.
            ValueError: If a seed lies outside [0, 2**63), a sequence is not ``num_envs`` long,
                ``options`` holds a key other than ``reset_mask``, or ``reset_mask`` has the
                wrong shape or no True entry.
            RuntimeError: On a masked reset before the first full one.
        """
        who = f"{type(self).__name__}.reset"
        checked, mask = self._check_reset(seed, options, who)
        super().reset(seed=checked if isinstance(checked, int) else None)
        return self._reset_batch(checked, mask)

    def _check_reset(
        self, seed: Any, options: dict[str, Any] | None, who: str
    ) -> tuple[int | list[int | None] | None, np.ndarray | None]:
        """The checked seeds and ``reset_mask`` of a reset, as :meth:`_reset_batch` takes them."""
        check_options(options, who, ("reset_mask",))
        checked = check_seeds(seed, self.num_envs, who)
        mask = self._reset_mask(options, who)
        if mask is not None and not self._started and not mask.all():
            raise RuntimeError(f"{who}: a reset_mask needs a first reset() of every sub-env")
        return checked, mask

    def step(self, actions: Any) -> BatchStep:
        """Step every sub-environment; see the class docstring for autoreset and infos.

        Raises:
            RuntimeError: Before the first reset, or with ``autoreset_mode=DISABLED`` when a
                sub-environment has ended and was not reset.
            ValueError: On invalid actions.
        """
        if not self._started:
            raise RuntimeError("step() called before reset()")
        auto = self._autoreset
        if self.autoreset_mode == AutoresetMode.DISABLED and auto.any():
            raise RuntimeError(
                f"step() called on ended sub-environments {np.flatnonzero(auto).tolist()} "
                "with autoreset_mode=DISABLED: call reset(options={'reset_mask': mask}) first"
            )
        return self._step_batch(actions, auto)

    def _reset_batch(
        self, seed: int | list[int | None] | None, mask: np.ndarray | None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset the sub-environments of ``mask`` (None: all) with checked seeds.

        ``np_random`` is seeded already; this sets ``_started`` and clears their
        ``_autoreset`` flags.
        """
        raise NotImplementedError

    def _step_batch(self, actions: Any, auto: np.ndarray) -> BatchStep:
        """Step once started; ``auto`` flags the sub-environments to autoreset (``NEXT_STEP``)."""
        raise NotImplementedError

    def _init_batch(
        self, num_envs: int, autoreset_mode: Any, max_episode_steps: Any, render_mode: str | None
    ) -> None:
        """Check and set the batch's options; allocate its autoreset flags.

        Raises:
            ConfigError: On an invalid autoreset mode or ``max_episode_steps``.
        """
        mode = check_autoreset_mode(autoreset_mode)
        self.max_episode_steps = _check_max_episode_steps(max_episode_steps)
        # Per instance: the mode is a constructor option. Gymnasium 1.x clients (TorchRL) read
        # the attribute, Gymnasium's own wrappers the metadata key.
        self.metadata = {**self.metadata, "autoreset_mode": mode}
        self.autoreset_mode = mode
        self.num_envs = num_envs
        self.render_mode = render_mode
        self._autoreset = np.zeros(num_envs, np.bool_)  # ended, to reset on the next step
        self._stepping = np.ones(num_envs, np.bool_)
        self._all_true = np.ones(num_envs, np.bool_)
        self._started = False

    def _reset_mask(self, options: dict[str, Any] | None, who: str) -> np.ndarray | None:
        """The ``reset_mask`` of ``options``, checked as Gymnasium's vector envs do."""
        if not options or "reset_mask" not in options:
            return None
        mask = options["reset_mask"]
        if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_:
            raise TypeError(
                f"{who}: options['reset_mask'] must be a bool numpy array of shape "
                f"({self.num_envs},); got {excerpt(mask)}"
            )
        if mask.shape != (self.num_envs,) or not mask.any():
            raise ValueError(
                f"{who}: options['reset_mask'] must have shape ({self.num_envs},) and at least "
                f"one True entry; got {excerpt(mask)}"
            )
        return mask

    def _truncated(self, steps: np.ndarray) -> np.ndarray:
        """The ``truncated`` flags of episodes at ``steps`` steps (``max_episode_steps``)."""
        if self.max_episode_steps is None:
            return np.zeros(self.num_envs, np.bool_)
        return steps >= self.max_episode_steps

    def _same_step_reset(self, ended: np.ndarray) -> bool:
        """Whether this step resets the ``ended`` sub-environments itself (``SAME_STEP``)."""
        return self.autoreset_mode == AutoresetMode.SAME_STEP and bool(ended.any())

    def _add_final(
        self,
        infos: dict[str, Any],
        last_obs: np.ndarray,
        final_info: dict[str, Any],
        ended: np.ndarray,
    ) -> dict[str, Any]:
        """Add ``final_obs`` and ``final_info`` of a ``SAME_STEP`` autoreset to ``infos``.

        ``final_obs`` is an object array holding the last observation where ``ended``, else None.
        """
        final_obs = np.full(self.num_envs, None, dtype=object)
        for i in np.flatnonzero(ended).tolist():
            final_obs[i] = last_obs[i]
        infos["final_obs"], infos["_final_obs"] = final_obs, ended
        infos["final_info"], infos["_final_info"] = final_info, ended
        return infos

    def _masked(self, info: dict[str, Any], mask: np.ndarray | None = None) -> dict[str, Any]:
        """Add Gymnasium's ``_key`` masks (default: every key is there for every sub-env)."""
        out: dict[str, Any] = {}
        if mask is None:
            mask = self._all_true
        for key, value in info.items():
            out[key] = self._masked(value, mask) if isinstance(value, dict) else value
            out[f"_{key}"] = mask
        return out

    def _end_step(self, ended: np.ndarray) -> None:
        """Remember the ended sub-environments (outside ``SAME_STEP``, which reset them).

        ``NEXT_STEP`` autoresets them on the next step; ``DISABLED`` refuses to step them.
        """
        same_step = self.autoreset_mode == AutoresetMode.SAME_STEP
        self._autoreset = np.zeros_like(ended) if same_step else ended

    def _check_render(self) -> bool:
        """Whether to render (a ``render_mode`` is set).

        Raises:
            RuntimeError: Before the first reset, with a ``render_mode``.
        """
        if self.render_mode is None:
            return False
        if not self._started:
            raise RuntimeError("render() called before reset()")
        return True
