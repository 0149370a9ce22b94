"""Action spaces and their mapping to quotes.

Three action kinds (``action_type``):

- ``"continuous"`` (default): ``Box(-1, 1, (2,))``; column 0 the bid offset, column 1 the ask
  offset, each mapped to ticks from the mid by the ``action_mapping`` (below).
- ``"continuous_sizes"``: ``Box(-1, 1, (4,))``; offsets as above, then bid and ask sizes mapped
  from [-1, 1] to [0, ``max_size_lots``] lots (rounded; 0 means no quote on that side).
- ``"discrete"``: ``Discrete(n_spreads * n_skews)``; action ``i`` picks half-spread
  ``spreads[i // n_skews]`` and skew ``skews[i % n_skews]`` (ticks, positive skew shifts both
  quotes down, i.e. leans to selling).

Three offset mappings (``action_mapping``), each continuous and clipped to [-1, 1]. ``"touch"``
and ``"mid"`` map each column on its own (increasing):

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

``"spread_skew"`` (opt-in) maps the pair jointly: column 0 is the half-spread ``s``, column 1
the skew ``k`` (positive leans to selling, as the discrete grid's), and the offsets are
``bid = clip(s + k, 0, max_offset_ticks)``, ``ask = clip(s - k, 0, max_offset_ticks)``:

| action | column 0: half-spread ``s`` | column 1: skew ``k`` |
| --- | --- | --- |
| -1 | 0 ticks: the mid | ``-max_offset_ticks / 4``: both quotes up (leaning to buy) |
| 0 | 0.3125 tick: the touch at a 1- or 2-tick spread | 0: no skew, as on all of [-0.5, 0.5] |
| 0.6 | 0.5 tick: all of (-1, 0.6] quotes the touch there | |
| +1 | ``max_offset_ticks`` | ``+max_offset_ticks / 4``: both quotes down |

(The 0.3125 and 0.5 tick hold for ``max_offset_ticks >= 1``; below, they scale with it.)
``s`` is linear on [-1, 0.6] and on [0.6, 1] (:data:`SPREAD_TOUCH_ACTION`,
:data:`TOUCH_SPREAD_TICKS`); ``k`` is 0 on [-0.5, 0.5] (:data:`SKEW_DEAD_ZONE`) and linear
beyond (:data:`SKEW_RANGE`). Exploration noise then moves both quotes together, and most of
it around 0 quotes the touch on both sides; under the per-side maps a Gaussian policy quotes
each side behind the touch about half the time, independently (issue #13, measurements in the
README). Its actions come in (bid, ask) pairs: a last axis of 2. The two offsets are at most
``2 * SKEW_RANGE * max_offset_ticks`` apart (5 ticks by default) unless one is clipped.

Quote prices: ``bid = floor(mid - bid_offset)``, ``ask = ceil(mid + ask_offset)`` in ticks, so
a maker never quotes inside its own offsets; quotes are post-only (see the simulator). The mid is
a multiple of half a tick, so an offset in ``(k / 2, (k + 1) / 2]`` quotes the same price as
any other offset in that interval: :func:`offsets_to_actions` returns, for ``"touch"`` and
``"spread_skew"``, float32 actions whose offsets lie in the same half-tick intervals as the
offsets asked for, so a scripted policy quotes exactly the prices of its offsets whatever the
float32 rounding.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

__all__ = [
    "ACTION_MAPPINGS",
    "ACTION_TYPES",
    "DEFAULT_ACTION_MAPPING",
    "LEGACY_ACTION_MAPPING",
    "PAIR_MAPPINGS",
    "SKEW_DEAD_ZONE",
    "SKEW_RANGE",
    "SPREAD_TOUCH_ACTION",
    "TOUCH_OFFSET_TICKS",
    "TOUCH_SPREAD_TICKS",
    "action_pair_to_offsets",
    "action_to_offset",
    "action_to_size",
    "actions_to_offsets",
    "actions_to_sizes",
    "check_action_mapping",
    "discrete_offsets_table",
    "offset_function",
    "offsets_to_actions",
    "pair_offset_function",
]

ACTION_TYPES: tuple[str, ...] = ("continuous", "continuous_sizes", "discrete")
"""The accepted ``action_type`` values."""

ACTION_MAPPINGS: tuple[str, ...] = ("touch", "mid", "spread_skew")
"""The accepted ``action_mapping`` values (see the module docstring)."""

PAIR_MAPPINGS: tuple[str, ...] = ("spread_skew",)
"""The mappings of a (bid, ask) pair of actions jointly (the others map each action alone)."""

DEFAULT_ACTION_MAPPING = "touch"
"""The mapping of new environments."""

LEGACY_ACTION_MAPPING = "mid"
"""The mapping of everything recorded before ``action_mapping`` existed (policies, pickles)."""

TOUCH_OFFSET_TICKS = 0.25
"""Offset, ticks from the mid, of action 0 under ``"touch"``: the best price when the spread is
1 or 2 ticks (about 97% of steps in the default book), inside it otherwise; the middle of the
interval ``(0, 0.5]`` of offsets that quote the touch, so a small action either side of 0 quotes
the same price."""

SPREAD_TOUCH_ACTION = 0.6
"""Under ``"spread_skew"``, the half-spread action up to which (from -1) the half-spread is at
most :data:`TOUCH_SPREAD_TICKS`: the touch at a 1- or 2-tick spread."""

TOUCH_SPREAD_TICKS = 0.5
"""Under ``"spread_skew"``, the half-spread (ticks) of the action :data:`SPREAD_TOUCH_ACTION`:
the far end of the offsets ``(0, 0.5]`` that quote the touch at a 1- or 2-tick spread."""

SKEW_DEAD_ZONE = 0.5
"""Under ``"spread_skew"``, skew actions with ``abs(a) <= SKEW_DEAD_ZONE`` do not skew."""

SKEW_RANGE = 0.25
"""Under ``"spread_skew"``, the skew of action +1, as a fraction of ``max_offset_ticks``. The
bid and ask offsets are then at most ``2 * SKEW_RANGE * max_offset_ticks`` apart unless one is
clipped at 0 or at ``max_offset_ticks`` (see :func:`offsets_to_actions`). Measured with SB3 PPO
(issue #13): 0.25 kept the deterministic policy above its start on PPO seeds 0-2 where 0.5 did
not; on fresh seeds 3-5 it ended below its start (README, Actions)."""


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
        actions: Actions of any shape; under a mapping of :data:`PAIR_MAPPINGS`, (bid, ask)
            pairs: a last axis of 2.
        max_offset_ticks: The offset of +1.
        mapping: One of :data:`ACTION_MAPPINGS`.

    Returns:
        float64 offsets, ticks from the mid, of the shape of ``actions``.

    Raises:
        ValueError: If ``mapping`` is unknown, or pairs are needed and the last axis is not 2.
    """
    a = np.clip(np.asarray(actions, dtype=np.float64), -1.0, 1.0)
    if mapping == "mid":
        return (a + 1.0) * (0.5 * max_offset_ticks)
    check_action_mapping(mapping)
    if mapping == "spread_skew":
        return _spread_skew_offsets(a, max_offset_ticks)
    h = _touch(max_offset_ticks)
    # The same operations as action_to_offset, element by element (bit-identical).
    return np.where(a <= 0.0, (a + 1.0) * h, h + a * (max_offset_ticks - h))


def _check_pairs(shape: tuple[int, ...], mapping: str) -> None:
    """Raise ValueError unless ``shape`` has a last axis of 2 ((bid, ask) pairs)."""
    if shape[-1:] != (2,):
        raise ValueError(
            f"action_mapping={mapping!r} maps (bid, ask) pairs jointly: the last axis must be "
            f"2; got shape {shape}"
        )


def _spread_shape(max_offset_ticks: float) -> tuple[float, float, float]:
    """``(t, lower, upper)`` of the ``"spread_skew"`` half-spread map.

    ``t`` is the half-spread at :data:`SPREAD_TOUCH_ACTION` (half the range if that is smaller);
    ``lower`` and ``upper`` the slopes, ticks per unit of action, below and above it.
    """
    t = min(TOUCH_SPREAD_TICKS, 0.5 * max_offset_ticks)
    return t, t / (1.0 + SPREAD_TOUCH_ACTION), (max_offset_ticks - t) / (1.0 - SPREAD_TOUCH_ACTION)


def _skew_slope(max_offset_ticks: float) -> float:
    """Ticks of skew per unit of action beyond the dead zone (``SKEW_RANGE * max`` at 1)."""
    return SKEW_RANGE * max_offset_ticks / (1.0 - SKEW_DEAD_ZONE)


def _spread_skew_offsets(a: np.ndarray, max_offset_ticks: float) -> np.ndarray:
    """``"spread_skew"``: clipped ``(..., 2)`` actions to (bid, ask) offsets."""
    _check_pairs(a.shape, "spread_skew")
    t, lower, upper = _spread_shape(max_offset_ticks)
    x, y = a[..., 0], a[..., 1]
    # The same operations as action_pair_to_offsets, element by element (bit-identical).
    s = np.where(x <= SPREAD_TOUCH_ACTION, (x + 1.0) * lower, t + (x - SPREAD_TOUCH_ACTION) * upper)
    k = np.sign(y) * np.maximum(np.abs(y) - SKEW_DEAD_ZONE, 0.0) * _skew_slope(max_offset_ticks)
    out = np.empty(a.shape)
    out[..., 0] = np.clip(s + k, 0.0, max_offset_ticks)
    out[..., 1] = np.clip(s - k, 0.0, max_offset_ticks)
    return out


def action_to_offset(
    action: float, max_offset_ticks: float, mapping: str = DEFAULT_ACTION_MAPPING
) -> float:
    """:func:`actions_to_offsets` of one Python float (bit-identical; no numpy call).

    A caller mapping many actions with the same arguments binds them once with
    :func:`offset_function`. A mapping of :data:`PAIR_MAPPINGS` needs both actions:
    :func:`action_pair_to_offsets`.
    """
    if mapping not in ACTION_MAPPINGS:
        check_action_mapping(mapping)  # raises, naming the allowed values
    return _bound_offset(float(max_offset_ticks), mapping)(action)


@functools.lru_cache(maxsize=64)
def _bound_offset(max_offset_ticks: float, mapping: str) -> Callable[[float], float]:
    """:func:`offset_function`, made once per ``(max_offset_ticks, mapping)``."""
    return offset_function(max_offset_ticks, mapping)


def offset_function(
    max_offset_ticks: float, mapping: str = DEFAULT_ACTION_MAPPING
) -> Callable[[float], float]:
    """:func:`action_to_offset` for this ``max_offset_ticks`` and ``mapping``, constants bound.

    The single environment maps its action with this scalar twin of :func:`actions_to_offsets`
    (the same operations on the same values, so bit-identical): a numpy call on a two-element
    array costs more than the whole mapping.

    Raises:
        ValueError: If ``mapping`` is not one of :data:`ACTION_MAPPINGS`, or maps (bid, ask)
            pairs jointly (:data:`PAIR_MAPPINGS`: :func:`action_pair_to_offsets`).
    """
    check_action_mapping(mapping)
    if mapping in PAIR_MAPPINGS:
        raise ValueError(
            f"action_mapping={mapping!r} maps (bid, ask) pairs jointly: use action_pair_to_offsets"
        )
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


def pair_offset_function(
    max_offset_ticks: float, mapping: str = DEFAULT_ACTION_MAPPING
) -> Callable[[float, float], tuple[float, float]]:
    """:func:`action_pair_to_offsets` for this ``max_offset_ticks`` and ``mapping``, bound.

    The single environment maps its (bid, ask) actions with it: under a per-side mapping both go
    through one :func:`offset_function`; under ``"spread_skew"`` the pair is mapped jointly with
    the constants worked out here once (bit-identical to :func:`actions_to_offsets` either way).

    Raises:
        ValueError: If ``mapping`` is not one of :data:`ACTION_MAPPINGS`.
    """
    check_action_mapping(mapping)
    if mapping in PAIR_MAPPINGS:
        return _spread_skew_pair(max_offset_ticks)
    offset = offset_function(max_offset_ticks, mapping)

    def each(bid_action: float, ask_action: float) -> tuple[float, float]:
        return offset(bid_action), offset(ask_action)

    return each


def _spread_skew_pair(max_offset_ticks: float) -> Callable[[float, float], tuple[float, float]]:
    """The scalar ``"spread_skew"`` map of one (bid, ask) pair, its constants bound."""
    t, lower, upper = _spread_shape(max_offset_ticks)
    slope = _skew_slope(max_offset_ticks)

    def joint(bid_action: float, ask_action: float) -> tuple[float, float]:
        # The same operations as _spread_skew_offsets, element by element (bit-identical).
        x = min(max(bid_action, -1.0), 1.0)
        y = min(max(ask_action, -1.0), 1.0)
        s = (x + 1.0) * lower if x <= SPREAD_TOUCH_ACTION else t + (x - SPREAD_TOUCH_ACTION) * upper
        z = max(abs(y) - SKEW_DEAD_ZONE, 0.0) * slope
        k = z if y > 0.0 else -z  # np.sign(y) * z: +-0.0 inside the dead zone adds nothing
        return (
            min(max(s + k, 0.0), max_offset_ticks),
            min(max(s - k, 0.0), max_offset_ticks),
        )

    return joint


def action_pair_to_offsets(
    bid_action: float,
    ask_action: float,
    max_offset_ticks: float,
    mapping: str = DEFAULT_ACTION_MAPPING,
) -> tuple[float, float]:
    """:func:`actions_to_offsets` of one (bid, ask) pair of Python floats (bit-identical).

    A caller mapping many pairs with the same arguments binds them once with
    :func:`pair_offset_function`.
    """
    if mapping not in ACTION_MAPPINGS:
        check_action_mapping(mapping)  # raises, naming the allowed values
    return _bound_pair(float(max_offset_ticks), mapping)(bid_action, ask_action)


@functools.lru_cache(maxsize=64)
def _bound_pair(
    max_offset_ticks: float, mapping: str
) -> Callable[[float, float], tuple[float, float]]:
    """:func:`pair_offset_function`, made once per ``(max_offset_ticks, mapping)``."""
    return pair_offset_function(max_offset_ticks, mapping)


def offsets_to_actions(
    offsets_ticks: np.ndarray, max_offset_ticks: float, mapping: str = DEFAULT_ACTION_MAPPING
) -> np.ndarray:
    """Inverse of :func:`actions_to_offsets`: offsets in ticks to float32 actions in [-1, 1].

    Offsets outside [0, max_offset_ticks] are clipped (a negative offset, a quote through the
    mid, is quoted at the mid). For ``"touch"``, an action whose float32 rounding would carry
    its offset across a half-tick boundary (and so quote one tick off) is moved by one float32
    step back, so ``actions_to_offsets(offsets_to_actions(o))`` quotes the prices of ``o``. For
    ``"spread_skew"`` the inverse keeps prices, not offsets: the actions quote the middle of
    each offset's half-tick interval (exactly 0 for an offset of 0), so that float32 rounding
    (about 1e-6 tick) cannot cross a boundary. For an integer ``max_offset_ticks`` every price
    of a pair the skew reaches is kept (for a non-integer one, a pair at the edge of the reach
    can come back with its far side one tick nearer); a pair further apart than the skew reaches
    (``2 * SKEW_RANGE * max_offset_ticks`` ticks, unless clipping at 0 or at
    ``max_offset_ticks`` bridges the gap) keeps the price of its side nearer the mid and
    quotes the other side that far from it. For ``"mid"`` the function is the one of earlier
    releases, unchanged.

    Args:
        offsets_ticks: Offsets of any shape, ticks from the mid; (bid, ask) pairs, a last axis
            of 2, under a mapping of :data:`PAIR_MAPPINGS`.
        max_offset_ticks: The offset of +1.
        mapping: One of :data:`ACTION_MAPPINGS`.
    """
    o = np.clip(np.asarray(offsets_ticks, dtype=np.float64), 0.0, max_offset_ticks)
    if mapping == "mid":
        return (o / (0.5 * max_offset_ticks) - 1.0).astype(np.float32)
    check_action_mapping(mapping)
    if mapping == "spread_skew":
        return _spread_skew_actions(o, max_offset_ticks)
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


def _spread_skew_actions(o: np.ndarray, max_offset_ticks: float) -> np.ndarray:
    """``"spread_skew"``: clipped ``(..., 2)`` offsets to actions quoting the same prices.

    Each offset is replaced by the middle of its price class ``((c - 1) / 2, min(c / 2,
    max_offset_ticks)]``, ``c = ceil(2 * o)``; an offset of 0 (class 0) is aimed ``margin``
    below 0, which the map clips to exactly 0, the other side keeping its middle. Then
    ``s = (bid + ask) / 2`` and ``k = (bid - ask) / 2`` are inverted through the half-spread
    and skew maps (``k`` = 0 at action 0, the middle of the dead zone). A skew beyond
    ``SKEW_RANGE * max_offset_ticks`` is cut to it, the side nearer the mid kept.
    """
    _check_pairs(o.shape, "spread_skew")
    m = max_offset_ticks
    c = np.ceil(2.0 * o)
    middle = 0.5 * (0.5 * (c - 1.0) + np.minimum(0.5 * c, m))
    zero = c == 0.0
    both = zero[..., 0] & zero[..., 1]
    # The side that is not at 0 (if one is); the margin keeps s >= 0.
    other = np.where(zero[..., 0], middle[..., 1], middle[..., 0])
    margin = np.minimum(np.minimum(0.25, other), m - other)
    bid = np.where(zero[..., 0], -margin, middle[..., 0])
    ask = np.where(zero[..., 1], -margin, middle[..., 1])
    k = 0.5 * (bid - ask)
    reach = SKEW_RANGE * m
    s = np.where(np.abs(k) > reach, np.minimum(bid, ask) + reach, 0.5 * (bid + ask))
    s = np.where(both, 0.0, np.maximum(s, 0.0))
    k = np.where(both, 0.0, np.clip(k, -reach, reach))
    t, lower, upper = _spread_shape(m)
    x = np.where(s <= t, s / lower - 1.0, SPREAD_TOUCH_ACTION + (s - t) / upper)
    y = np.sign(k) * (SKEW_DEAD_ZONE + np.abs(k) / _skew_slope(m))
    y = np.where(k == 0.0, 0.0, y)
    return np.clip(np.stack([x, y], axis=-1), -1.0, 1.0).astype(np.float32)


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
