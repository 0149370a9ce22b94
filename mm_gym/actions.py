"""Action spaces and their mapping to quotes.

Three action kinds (``action_type``):

- ``"continuous"`` (default): ``Box(-1, 1, (2,))``; column 0 the bid offset, column 1 the ask
  offset, each mapped to ticks from the mid by the ``action_mapping`` (below).
- ``"continuous_sizes"``: ``Box(-1, 1, (4,))``; offsets as above, then bid and ask sizes mapped
  from [-1, 1] to [0, ``max_size_lots``] lots (rounded; 0 means no quote on that side).
- ``"discrete"``: ``Discrete(n_spreads * n_skews)``; action ``i`` picks half-spread
  ``spreads[i // n_skews]`` and skew ``skews[i % n_skews]`` (ticks, positive skew shifts both
  quotes down, i.e. leans to selling).

Two offset mappings (``action_mapping``), each continuous, increasing and clipped to [-1, 1]:

| action | ``"touch"`` (default) | ``"mid"`` (the earlier default, linear) |
| --- | --- | --- |
| -1 | 0 ticks: the mid, inside the touch where the spread allows | 0 ticks |
| 0 | 0.25 tick: at the touch for a 1- or 2-tick spread | ``max_offset_ticks / 2`` |
| +1 | ``max_offset_ticks`` | ``max_offset_ticks`` |

``"touch"`` is piecewise linear: ``(a + 1) * h`` for ``a <= 0`` and ``h + a * (max - h)`` for
``a > 0``, with ``h = min(TOUCH_OFFSET_TICKS, max_offset_ticks / 2)``. It puts the centre of the
Box, where PPO, SAC and TD3 start, at the touch, so a fresh policy trades and gets a learning
signal; ``"mid"`` is ``(a + 1) / 2 * max_offset_ticks``. At a 1- or 2-tick spread every offset in
``(0, 0.5]`` quotes the touch, and ``h`` = 0.25 is the middle of that interval: the small outputs
of a fresh policy (about +-0.01) quote the touch on both sides (at ``h`` = 0.5, the edge, any
positive output quoted one tick behind: a coin flip of the initial weights).

Quote prices: ``bid = floor(mid - bid_offset)``, ``ask = ceil(mid + ask_offset)`` in ticks, so
a maker never quotes inside its own offsets; quotes are post-only (see the simulator). The mid is
a multiple of half a tick, so an offset in ``(k / 2, (k + 1) / 2]`` quotes the same price as
any other offset in that interval: :func:`offsets_to_actions` returns, for the ``"touch"``
mapping, a float32 action whose offset lies in the same half-tick interval as the offset asked
for, so a scripted policy quotes exactly the prices of its offsets whatever the float32 rounding.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = [
    "ACTION_MAPPINGS",
    "ACTION_TYPES",
    "DEFAULT_ACTION_MAPPING",
    "LEGACY_ACTION_MAPPING",
    "TOUCH_OFFSET_TICKS",
    "action_to_offset",
    "action_to_size",
    "actions_to_offsets",
    "actions_to_sizes",
    "check_action_mapping",
    "discrete_offsets_table",
    "offset_function",
    "offsets_to_actions",
]

ACTION_TYPES: tuple[str, ...] = ("continuous", "continuous_sizes", "discrete")
"""The accepted ``action_type`` values."""

ACTION_MAPPINGS: tuple[str, ...] = ("touch", "mid")
"""The accepted ``action_mapping`` values (see the module docstring)."""

DEFAULT_ACTION_MAPPING = "touch"
"""The mapping of new environments."""

LEGACY_ACTION_MAPPING = "mid"
"""The mapping of everything recorded before ``action_mapping`` existed (policies, pickles)."""

TOUCH_OFFSET_TICKS = 0.25
"""Offset, ticks from the mid, of action 0 under ``"touch"``: the best price when the spread is
1 or 2 ticks (about 97% of steps in the default book), inside it otherwise; the middle of the
interval ``(0, 0.5]`` of offsets that quote the touch, so a small action either side of 0 quotes
the same price."""


def check_action_mapping(mapping: object) -> str:
    """Return ``mapping`` if it is one of :data:`ACTION_MAPPINGS`, else raise ValueError."""
    if mapping not in ACTION_MAPPINGS:
        raise ValueError(
            f"action_mapping={mapping!r} is not valid: choose one of {list(ACTION_MAPPINGS)}"
        )
    return str(mapping)


def _touch(max_offset_ticks: float) -> float:
    """``h``, the offset of action 0 under ``"touch"`` (half the range if that is smaller)."""
    return min(TOUCH_OFFSET_TICKS, 0.5 * max_offset_ticks)


def actions_to_offsets(
    actions: np.ndarray, max_offset_ticks: float, mapping: str = DEFAULT_ACTION_MAPPING
) -> np.ndarray:
    """Map continuous actions (clipped to [-1, 1]) to offsets in [0, max_offset_ticks] ticks.

    Args:
        actions: Actions of any shape.
        max_offset_ticks: The offset of +1.
        mapping: One of :data:`ACTION_MAPPINGS`.

    Returns:
        float64 offsets, ticks from the mid, of the shape of ``actions``.
    """
    a = np.clip(np.asarray(actions, dtype=np.float64), -1.0, 1.0)
    if mapping == "mid":
        return (a + 1.0) * (0.5 * max_offset_ticks)
    check_action_mapping(mapping)
    h = _touch(max_offset_ticks)
    # The same operations as action_to_offset, element by element (bit-identical).
    return np.where(a <= 0.0, (a + 1.0) * h, h + a * (max_offset_ticks - h))


def action_to_offset(
    action: float, max_offset_ticks: float, mapping: str = DEFAULT_ACTION_MAPPING
) -> float:
    """:func:`actions_to_offsets` of one Python float (bit-identical; no numpy call).

    A caller mapping many actions with the same arguments binds them once with
    :func:`offset_function`.
    """
    return offset_function(max_offset_ticks, mapping)(action)


def offset_function(
    max_offset_ticks: float, mapping: str = DEFAULT_ACTION_MAPPING
) -> Callable[[float], float]:
    """:func:`action_to_offset` for this ``max_offset_ticks`` and ``mapping``, constants bound.

    The single environment maps its action with this scalar twin of :func:`actions_to_offsets`
    (the same operations on the same values, so bit-identical): a numpy call on a two-element
    array costs more than the whole mapping.

    Raises:
        ValueError: If ``mapping`` is not one of :data:`ACTION_MAPPINGS`.
    """
    check_action_mapping(mapping)
    if mapping == "mid":
        half = 0.5 * max_offset_ticks

        def mid(action: float) -> float:
            # Clipping by comparisons: min(max(x, -1.0), 1.0) in half the time, the same value.
            a = -1.0 if action < -1.0 else 1.0 if action > 1.0 else action
            return (a + 1.0) * half

        return mid
    h = _touch(max_offset_ticks)
    beyond = max_offset_ticks - h

    def touch(action: float) -> float:
        a = -1.0 if action < -1.0 else 1.0 if action > 1.0 else action
        return (a + 1.0) * h if a <= 0.0 else h + a * beyond

    return touch


def offsets_to_actions(
    offsets_ticks: np.ndarray, max_offset_ticks: float, mapping: str = DEFAULT_ACTION_MAPPING
) -> np.ndarray:
    """Inverse of :func:`actions_to_offsets`: offsets in ticks to float32 actions in [-1, 1].

    Offsets outside [0, max_offset_ticks] are clipped (a negative offset, a quote through the
    mid, is quoted at the mid). For ``"touch"``, an action whose float32 rounding would carry
    its offset across a half-tick boundary (and so quote one tick off) is moved by one float32
    step back, so ``actions_to_offsets(offsets_to_actions(o))`` quotes the prices of ``o``. For
    ``"mid"`` the function is the one of earlier releases, unchanged.

    Args:
        offsets_ticks: Offsets of any shape, ticks from the mid.
        max_offset_ticks: The offset of +1.
        mapping: One of :data:`ACTION_MAPPINGS`.
    """
    o = np.clip(np.asarray(offsets_ticks, dtype=np.float64), 0.0, max_offset_ticks)
    if mapping == "mid":
        return (o / (0.5 * max_offset_ticks) - 1.0).astype(np.float32)
    check_action_mapping(mapping)
    h = _touch(max_offset_ticks)
    exact = np.where(o <= h, o / h - 1.0, (o - h) / (max_offset_ticks - h))
    a = exact.astype(np.float32)
    # The price class of an offset: bid = floor(mid - o) and ask = ceil(mid + o) are constant
    # for o in (k/2, (k+1)/2] because the mid is a multiple of half a tick.
    want = np.ceil(2.0 * o)
    got = np.ceil(2.0 * actions_to_offsets(a, max_offset_ticks, mapping))
    # One float32 step moves the offset by at most 2**-23 * max_offset_ticks <= 1.2e-5 ticks,
    # far less than half a tick, so one step towards the exact action always suffices.
    # Most batches need no step at all: test first, then move only what is off.
    over, under = got > want, got < want
    if over.any():
        a = np.where(over, np.nextafter(a, np.float32(-1.0)), a)
    if under.any():
        a = np.where(under, np.nextafter(a, np.float32(1.0)), a)
    return np.asarray(a, dtype=np.float32)


def actions_to_sizes(actions: np.ndarray, max_size_lots: int) -> np.ndarray:
    """Map continuous size actions in [-1, 1] to lots in {0, ..., max_size_lots} (float64).

    ``lots = rint((a + 1) / 2 * max_size_lots)`` after clipping ``a`` to [-1, 1] (round half to
    even, as Python's ``round``); 0 lots means no quote on that side.
    """
    a = np.clip(np.asarray(actions, dtype=np.float64), -1.0, 1.0)
    return np.rint((a + 1.0) * (0.5 * max_size_lots))


def action_to_size(action: float, max_size_lots: int) -> float:
    """:func:`actions_to_sizes` of one Python float (bit-identical).

    Python's ``round`` rounds half to even, as ``np.rint`` does.
    """
    return float(round((min(max(action, -1.0), 1.0) + 1.0) * (0.5 * max_size_lots)))


def discrete_offsets_table(
    half_spreads_ticks: tuple[float, ...], skews_ticks: tuple[float, ...]
) -> np.ndarray:
    """The ``(n_spreads * n_skews, 2)`` float64 table of (bid, ask) offsets of the discrete grid.

    Action ``i`` has half-spread ``h = half_spreads_ticks[i // n_skews]`` and skew
    ``s = skews_ticks[i % n_skews]``: bid offset ``max(h + s, 0)``, ask offset ``max(h - s, 0)``
    (a positive skew moves both quotes down, leaning to selling; offsets never cross the mid).
    """
    h = np.asarray(half_spreads_ticks, dtype=np.float64)[:, None]
    k = np.asarray(skews_ticks, dtype=np.float64)[None, :]
    bid = np.maximum(h + k, 0.0).reshape(-1)
    ask = np.maximum(h - k, 0.0).reshape(-1)
    return np.stack([bid, ask], axis=1)
