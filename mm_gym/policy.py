"""The ``QuotingPolicy`` protocol shared by baselines, learned agents and the rival.

A quoting policy maps a batch of observations to a batch of actions in the environment's
continuous action space ``Box(-1, 1, (2,))``, mapped to a bid and an ask offset in [0,
``max_offset_ticks``] ticks from the mid by the environment's ``action_mapping`` (see
:mod:`mm_gym.actions`: column 0 the bid offset and column 1 the ask offset, or under
``"spread_skew"`` the half-spread and the skew); a policy that thinks in ticks converts its
``(n, 2)`` (bid, ask) offsets with ``offsets_to_actions(offsets, ctx.max_offset_ticks,
ctx.action_mapping)``. It sees only what
an agent observes, by feature name (:data:`mm_gym.observations.FEATURE_NAMES`), plus the static
:class:`PolicyContext`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from mm_gym.actions import DEFAULT_ACTION_MAPPING

__all__ = ["AGENT_ID_FEATURE", "PolicyContext", "QuotingPolicy"]


AGENT_ID_FEATURE = "agent_id"
"""The seat feature of :class:`~mm_gym.envs.two_makers.TwoMakerVectorEnv` and
:class:`~mm_gym.multivenue.two_makers.MultiVenueTwoMakerVectorEnv` (``agent_id=True``): 0.0 for
mm1, 1.0 for mm2."""


@dataclass(frozen=True)
class PolicyContext:
    """Static facts about the environment a policy quotes in.

    Attributes:
        feature_names: Names of the observation columns, in order.
        max_offset_ticks: Offset (ticks from mid) that an action of +1 maps to.
        horizon_steps: Steps in an episode (``time_left * horizon_steps`` is steps left).
        inventory_limit: The quoting maker's inventory limit in lots.
        tick_size: Currency per tick.
        quote_size_lots: Default quote size in lots.
        action_mapping: The environment's offset mapping (:data:`mm_gym.actions.ACTION_MAPPINGS`):
            pass it to :func:`mm_gym.actions.offsets_to_actions`.
        maker: The seat the policy quotes for, ``"mm1"`` or ``"mm2"`` (e.g. a policy trained
            on both seats with an ``agent_id`` feature reads it where that is not observed).
    """

    feature_names: tuple[str, ...]
    max_offset_ticks: float
    horizon_steps: int
    inventory_limit: int
    tick_size: float = 0.01
    quote_size_lots: int = 1
    action_mapping: str = DEFAULT_ACTION_MAPPING
    maker: str = "mm1"

    def index(self, name: str) -> int:
        """Column of feature ``name``; raises KeyError naming the valid features."""
        try:
            return self.feature_names.index(name)
        except ValueError:
            raise KeyError(
                f"feature {name!r} not observed; features are {self.feature_names}"
            ) from None


@runtime_checkable
class QuotingPolicy(Protocol):
    """A batched, numpy-only quoting policy.

    Attributes:
        name: A short display name.
    """

    name: str

    def reset(self, rng: np.random.Generator, context: PolicyContext) -> None:
        """Prepare for new episodes; ``rng`` is the policy's only source of randomness."""
        ...

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Map observations ``(n, d)`` float32 to actions ``(n, 2)`` in [-1, 1]."""
        ...
