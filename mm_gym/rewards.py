"""Reward functions returning ``(reward, components)``.

Every function here works on numpy arrays (a batch of markets, or markets x makers) and on plain
Python floats alike, and performs the same IEEE operations in the same order on both, so the
single environment (floats, for speed) and the vector environment (arrays) produce bit-identical
rewards. All money is in currency (one tick on one lot is ``tick_size * lot_size``); inventories
are in lots.

The reward of one step for one maker (:func:`step_reward`), with ``W`` its mark-to-market PnL
(cash + inventory x mid value), ``q`` its inventory and ``m`` the mid:

- ``pnl = W_{t+1} - W_t``: the change of mark-to-market PnL. It splits exactly into the
  inventory PnL ``q_t * (m_{t+1} - m_t) * value`` (gain or loss from holding inventory while the
  mid moves) and the rest: spread capture plus rebates on the step's fills.
- ``dampening = eta * max(0, inventory_pnl)``: the asymmetric dampening of Spooner, Fearnley,
  Savani & Koukorinis (2018), "Market making via reinforcement learning" (AAMAS): speculative
  gains from inventory count less, losses in full, which discourages directional bets.
- ``inventory_penalty = phi * q_{t+1}**2``: a running quadratic inventory penalty (a
  mean-variance proxy: holding ``q`` lots over a step of mid variance ``sigma**2`` risks
  ``q**2 * sigma**2``, see Cartea, Jaimungal & Penalva 2015, ch. 10).
- ``terminal_penalty = psi * q_T**2`` at the end of the episode (a liquidation-cost proxy).
- ``utility``: with ``utility="cara"``, 0 before the end and the CARA utility of the episode's
  PnL at the end, ``(1 - exp(-gamma * W_T)) / gamma`` (:func:`cara_utility`), the objective of
  Avellaneda & Stoikov (2008) (exponential utility of terminal wealth), shifted and scaled
  so that it tends to ``W_T`` as ``gamma -> 0`` and is measured in currency.

``reward = scale * (pnl - dampening - inventory_penalty - terminal_penalty)`` for
``utility="pnl"`` and ``reward = scale * (utility - inventory_penalty - terminal_penalty)`` for
``utility="cara"``. The components are reported unscaled.

**When the penalties are paid** (``penalty_timing``). ``"running"`` (the default) is the above:
``phi * q**2`` every step the inventory is held and ``psi * q_T**2`` at the end. ``"upfront"``
charges the same penalties when the inventory is taken on: a step that moves the inventory from
``q_t`` to ``q_{t+1}`` with ``L`` steps left after it pays

- ``inventory_penalty = phi * ((L + 1) * q_{t+1}**2 - (L + 1) * q_t**2)`` (or, on a step that
  ends the episode early, ``phi * (q_{t+1}**2 - (L + 1) * q_t**2)``: the running penalty that
  will not accrue is handed back), and
- ``terminal_penalty = psi * (q_{t+1}**2 - q_t**2)``,

so holding an inventory costs nothing more and unwinding it earns its remaining penalty back.
This is the potential-based shaping of Ng, Harada & Russell (1999) with the potential
``-(phi * (T - t) + psi) * q_t**2`` (0 at the end of the episode and, so that a start
inventory is paid in full on the first step, at its start): the total reward of every episode
that ends (at the horizon or early) is the same as with ``"running"`` (up to float rounding),
but the cost of an inventory reaches the step that took it on instead of arriving over the rest
of the episode. An episode cut short by truncation (``max_episode_steps`` below the horizon, an
outer ``TimeLimit``) has paid upfront for steps it did not run; bootstrapping learners (SB3 on
``truncated``) are unaffected.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, overload

import numpy as np

__all__ = [
    "COMPONENT_NAMES",
    "REWARD_KEYS",
    "RewardParams",
    "cara_utility",
    "positive_part",
    "step_reward",
]

COMPONENT_NAMES: tuple[str, ...] = (
    "pnl",
    "inventory_pnl",
    "dampening",
    "inventory_penalty",
    "terminal_penalty",
    "utility",
)
"""Keys of the components dict (``info["reward_components"]``), in this order."""

REWARD_KEYS: tuple[str, ...] = (
    "reward_scale",
    "inventory_penalty",
    "terminal_penalty",
    "penalty_timing",
    "dampening",
    "utility",
    "cara_gamma",
    "max_drawdown",
)
"""The env options that shape the reward (and nothing else): ``EnvConfig`` fields."""

CARA_MAX_EXPONENT = 50.0
"""Cap of ``-gamma * W`` in :func:`cara_utility`, so a huge loss gives a large finite penalty
(``(1 - e**50) / gamma``) instead of an overflow."""

FloatOrArray = float | np.ndarray
"""A Python float (one market) or a float64 array (a batch)."""


@dataclass(frozen=True, slots=True)
class RewardParams:
    """Parameters of :func:`step_reward` (see the module docstring for the formula).

    Attributes:
        scale: Multiplies the reward.
        inventory_penalty: ``phi``, currency per lot squared per step.
        terminal_penalty: ``psi``, currency per lot squared.
        dampening: ``eta`` in [0, 1].
        cara: Whether the objective is the CARA terminal utility instead of the running PnL.
        cara_gamma: ``gamma``, per currency unit.
        upfront: Whether the penalties are paid when the inventory is taken on
            (``penalty_timing="upfront"``) instead of while it is held.
    """

    scale: float = 1.0
    inventory_penalty: float = 0.0
    terminal_penalty: float = 0.0
    dampening: float = 0.0
    cara: bool = False
    cara_gamma: float = 0.01
    upfront: bool = False

    def __setstate__(self, state: list[Any]) -> None:
        """Unpickle; a params object pickled before a later field existed gets its default."""
        fields = dataclasses.fields(self)
        values = [*state, *(f.default for f in fields[len(state) :])]
        for f, value in zip(fields, values, strict=True):
            object.__setattr__(self, f.name, value)

    @classmethod
    def from_env_config(cls, env_config: Any) -> RewardParams:
        """Take the reward fields of an :class:`mm_gym.envs.config.EnvConfig`."""
        return cls(
            scale=float(env_config.reward_scale),
            inventory_penalty=float(env_config.inventory_penalty),
            terminal_penalty=float(env_config.terminal_penalty),
            dampening=float(env_config.dampening),
            cara=env_config.utility == "cara",
            cara_gamma=float(env_config.cara_gamma),
            upfront=env_config.penalty_timing == "upfront",
        )


@overload
def positive_part(x: float) -> float: ...
@overload
def positive_part(x: np.ndarray) -> np.ndarray: ...
def positive_part(x: FloatOrArray) -> FloatOrArray:
    """``max(x, 0)`` elementwise, for a float or an array."""
    if isinstance(x, np.ndarray):
        return np.maximum(x, 0.0)
    return max(x, 0.0)


@overload
def cara_utility(wealth: float, gamma: float) -> float: ...
@overload
def cara_utility(wealth: np.ndarray, gamma: float) -> np.ndarray: ...
def cara_utility(wealth: FloatOrArray, gamma: float) -> FloatOrArray:
    """CARA utility ``(1 - exp(-gamma * W)) / gamma`` of a PnL ``W`` (currency).

    The exponent is capped at :data:`CARA_MAX_EXPONENT` so the result stays finite. Accepts a
    float or an array; both go through ``np.exp`` so they agree bit for bit.
    """
    z = np.minimum(-gamma * np.asarray(wealth, dtype=np.float64), CARA_MAX_EXPONENT)
    u = (1.0 - np.exp(z)) / gamma
    if isinstance(wealth, np.ndarray):
        return u
    return float(u)


def step_reward(
    pnl: Any,
    inventory_pnl: Any,
    inventory: Any,
    terminal: Any,
    wealth: Any,
    params: RewardParams,
    before: tuple[Any, Any] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """The reward of one step and its components (see the module docstring).

    Args:
        pnl: Change of mark-to-market PnL over the step, currency.
        inventory_pnl: ``q_t * (mid_{t+1} - mid_t) * value``, currency.
        inventory: Inventory after the step, lots.
        terminal: Whether the episode ends with this step (bool, or a boolean array).
        wealth: Mark-to-market PnL after the step, currency (read by ``utility="cara"``).
        params: The reward parameters.
        before: ``(inventory before the step, lots; steps of the episode left after it)``,
            needed with ``params.upfront`` (a ``ValueError`` without it), ignored otherwise.

    Returns:
        ``(reward, components)``; the components (keys :data:`COMPONENT_NAMES`) are unscaled.
    """
    q2 = inventory * inventory
    if params.upfront:
        if before is None:
            raise ValueError(
                "step_reward: params.upfront needs before=(prev_inventory, steps_left)"
            )
        prev_inventory, steps_left = before
        p2 = prev_inventory * prev_inventory
        held = steps_left * (1.0 - terminal)  # the steps this inventory will still be held
        running = params.inventory_penalty * ((1.0 + held) * q2 - (1.0 + steps_left) * p2)
        terminal_pen = params.terminal_penalty * (q2 - p2)
    else:
        running = params.inventory_penalty * q2
        terminal_pen = params.terminal_penalty * q2 * terminal
    damp = params.dampening * positive_part(inventory_pnl)
    utility: Any
    if params.cara:
        if isinstance(terminal, np.ndarray):
            utility = np.where(terminal, cara_utility(wealth, params.cara_gamma), 0.0)
        else:
            utility = cara_utility(wealth, params.cara_gamma) if terminal else 0.0
        reward = params.scale * (utility - running - terminal_pen)
    else:
        utility = 0.0 * pnl
        reward = params.scale * (pnl - damp - running - terminal_pen)
    components = {
        "pnl": pnl,
        "inventory_pnl": inventory_pnl,
        "dampening": damp,
        "inventory_penalty": running,
        "terminal_penalty": terminal_pen,
        "utility": utility,
    }
    return reward, components
