"""The routed action form of the multi-venue envs: one quote, sized over the venues by weights.

``action_form="routed"`` (:data:`ACTION_FORMS`) replaces the per-venue action ``Box(-1, 1, (2V,))``
by ``Box(-1, 1, (2 + V,))``: a bid and an ask offset action, mapped to ticks by the env's
``action_mapping`` as on one venue and quoted from *each venue's own mid*, then one routing action
per venue. The routing actions become weights by the clipped-linear map
``w_v = (clip(a_v, -1, 1) + 1) / 2`` (:func:`route_weights`), and the size budget
``quote_size_lots * V`` lots per side (the total the per-venue form quotes) is split over the
venues in proportion to the weights, in whole lots, by the largest-remainder method
(:func:`allocate_lots`). A venue allocated 0 lots gets no quote; all weights 0 quote nowhere.
:func:`routed_quotes` is the whole map, from actions to per-venue offsets and lots: the env
quotes with it, and the evaluator reads a routed policy's venue choices with it.

Why clipped-linear rather than a softmax: -1 is an exact 0 (a router can leave a venue out, which
no finite softmax input can), the centre of the Box, where PPO, SAC and TD3 start, splits the
budget evenly (a fresh policy quotes everywhere and gets fills to learn from), and the map's
slope is the same everywhere in the Box (a softmax saturates).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mm_gym.actions import (
    DEFAULT_ACTION_MAPPING,
    PAIR_MAPPINGS,
    SKEW_DEAD_ZONE,
    actions_to_offsets,
    check_action_mapping,
)
from mm_gym.config import ConfigError, excerpt

__all__ = [
    "ACTION_FORMS",
    "DEFAULT_ACTION_FORM",
    "WEIGHT_RESOLUTION",
    "allocate_lots",
    "check_action_form",
    "parked_action",
    "quoted_venues",
    "route_weights",
    "routed_quotes",
]

ACTION_FORMS: tuple[str, ...] = ("per_venue", "routed")
"""The accepted ``action_form`` values of the multi-venue envs (module docstring)."""

DEFAULT_ACTION_FORM = "per_venue"
"""A bid and an ask action per venue, as before ``action_form`` existed."""

WEIGHT_RESOLUTION = 2**20
"""Routing weights are integers ``rint((a + 1) * WEIGHT_RESOLUTION)``: the allocation is then
exact integer arithmetic (no float rounding can move a lot), at a resolution of about 1e-6."""


def check_action_form(action_form: Any) -> str:
    """Return ``action_form`` if it is one of :data:`ACTION_FORMS`.

    Raises:
        ConfigError: Naming the value and the allowed ones.
    """
    if not isinstance(action_form, str) or action_form not in ACTION_FORMS:
        raise ConfigError(
            f"action_form={excerpt(action_form)} is not valid: choose one of {list(ACTION_FORMS)}"
        )
    return action_form


def route_weights(actions: np.ndarray) -> np.ndarray:
    """``(n, V)`` routing actions in [-1, 1] (clipped) as int64 weights in [0, 2 * resolution].

    The clipped-linear map ``(a + 1) / 2`` of the module docstring, scaled to integers by
    :data:`WEIGHT_RESOLUTION`: -1 is weight 0 (no lots), +1 the largest weight.
    """
    a = np.clip(np.asarray(actions, dtype=np.float64), -1.0, 1.0)
    return np.rint((a + 1.0) * WEIGHT_RESOLUTION).astype(np.int64)


def allocate_lots(weights: np.ndarray, budget_lots: int) -> np.ndarray:
    """Split ``budget_lots`` over the venues in proportion to ``weights``, in whole lots.

    The largest-remainder (Hamilton) method: venue ``v`` first gets
    ``floor(budget * w_v / W)`` lots (``W`` the row's total weight), then the lots left, one
    each, go to the venues with the largest remainders ``budget * w_v mod W``, ties to the lower
    venue index. Integer arithmetic throughout, so the result is deterministic.

    Args:
        weights: ``(n, V)`` non-negative int64 weights (:func:`route_weights`).
        budget_lots: Lots to split per row (>= 0).

    Returns:
        ``(n, V)`` int64 lots; each row sums to ``budget_lots``, or is all 0 where its weights
        are all 0.
    """
    w = np.asarray(weights, dtype=np.int64)
    total = w.sum(axis=1, keepdims=True)
    safe = np.maximum(total, 1)
    scaled = budget_lots * w
    lots = scaled // safe
    remainder = scaled % safe
    left = budget_lots - lots.sum(axis=1, keepdims=True)  # in [0, V): one per remainder
    order = np.argsort(-remainder, axis=1, kind="stable")  # ties: lower venue first
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(w.shape[1])[None, :].repeat(len(w), 0), axis=1)
    lots += rank < left
    return np.where(total > 0, lots, 0)


def routed_quotes(
    actions: np.ndarray, max_offset_ticks: float, mapping: str, budget_lots: int
) -> tuple[np.ndarray, np.ndarray]:
    """The per-venue quotes of ``(n, 2 + V)`` routed actions (the module docstring's map).

    Args:
        actions: A bid and an ask action, then a routing action per venue, per row.
        max_offset_ticks: The offset of an action of +1 (the env's ``max_offset_ticks``).
        mapping: The env's ``action_mapping`` (:func:`mm_gym.actions.actions_to_offsets`).
        budget_lots: Lots per side split over the venues (``quote_size_lots * V``).

    Returns:
        ``(offsets, lots)``: ``(n, V, 2)`` bid and ask offsets in ticks from each venue's own
        mid (the same pair on every venue) and ``(n, V)`` int64 lots per side (0: no quote).
    """
    a = np.asarray(actions)
    pair = actions_to_offsets(a[:, :2], max_offset_ticks, mapping)
    offsets = np.repeat(pair[:, None, :], a.shape[1] - 2, axis=1)
    return offsets, allocate_lots(route_weights(a[:, 2:]), budget_lots)


def parked_action(mapping: str = DEFAULT_ACTION_MAPPING) -> np.ndarray:
    """The (bid, ask) action pair that parks a venue: both sides ``max_offset_ticks`` away.

    The action space has no size, so the multi-venue baselines leave a venue by quoting it as
    far from the mid as the env allows: (+1, +1) under the per-side mappings, (+1, 0) under
    ``"spread_skew"`` (the widest half-spread, no skew).

    Raises:
        ValueError: If ``mapping`` is not one of :data:`mm_gym.actions.ACTION_MAPPINGS`.
    """
    check_action_mapping(mapping)
    return np.array([1.0, 0.0] if mapping in PAIR_MAPPINGS else [1.0, 1.0])


def _parked(pairs: np.ndarray, mapping: str) -> np.ndarray:
    """``(...)`` bool: the ``(..., 2)`` action pairs that quote both sides at the widest offset."""
    if mapping in PAIR_MAPPINGS:  # the widest half-spread, a skew inside its dead zone
        return (pairs[..., 0] >= 1.0) & (np.abs(pairs[..., 1]) <= SKEW_DEAD_ZONE)
    return np.asarray((pairs >= 1.0).all(axis=-1))  # .all() is typed bool-or-array


def quoted_venues(
    actions: np.ndarray,
    action_form: str,
    budget_lots: int,
    mapping: str = DEFAULT_ACTION_MAPPING,
) -> np.ndarray:
    """``(n, V)`` bool: the venues ``(n, width)`` actions quote (not parked, not sized 0).

    Per venue: a venue is parked when its action pair quotes both sides at the widest offset
    (:func:`parked_action`, which the multi-venue baselines send to leave a venue; ``mapping``
    is the env's ``action_mapping``). Routed: the one quote is parked so on every venue, and a
    venue allocated 0 lots (:func:`routed_quotes`) is not quoted either.
    """
    a = np.asarray(actions)
    if action_form != "routed":
        return np.logical_not(_parked(a.reshape(len(a), -1, 2), mapping))
    lots = allocate_lots(route_weights(a[:, 2:]), budget_lots)
    return (lots > 0) & ~_parked(a[:, None, :2], mapping)
