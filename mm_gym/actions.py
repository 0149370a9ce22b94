"""Action spaces and their mapping to quotes.

Three action kinds (``action_type``):

- ``"continuous"`` (default): ``Box(-1, 1, (2,))``; column 0 the bid offset, column 1 the ask
  offset, each mapped linearly from [-1, 1] to [0, ``max_offset_ticks``] ticks from the mid.
- ``"continuous_sizes"``: ``Box(-1, 1, (4,))``; offsets as above, then bid and ask sizes mapped
  from [-1, 1] to [0, ``max_size_lots``] lots (rounded; 0 means no quote on that side).
- ``"discrete"``: ``Discrete(n_spreads * n_skews)``; action ``i`` picks half-spread
  ``spreads[i // n_skews]`` and skew ``skews[i % n_skews]`` (ticks, positive skew shifts both
  quotes down, i.e. leans to selling).

Quote prices: ``bid = floor(mid - bid_offset)``, ``ask = ceil(mid + ask_offset)`` in ticks, so
a maker never quotes inside its own offsets; quotes are post-only (see the simulator).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "ACTION_TYPES",
    "action_to_offset",
    "action_to_size",
    "actions_to_offsets",
    "actions_to_sizes",
    "discrete_offsets_table",
    "offsets_to_actions",
]

ACTION_TYPES: tuple[str, ...] = ("continuous", "continuous_sizes", "discrete")
"""The accepted ``action_type`` values."""


def actions_to_offsets(actions: np.ndarray, max_offset_ticks: float) -> np.ndarray:
    """Map continuous actions in [-1, 1] to offsets in [0, max_offset_ticks] (clipped)."""
    a = np.clip(np.asarray(actions, dtype=np.float64), -1.0, 1.0)
    return (a + 1.0) * (0.5 * max_offset_ticks)


def offsets_to_actions(offsets_ticks: np.ndarray, max_offset_ticks: float) -> np.ndarray:
    """Inverse of :func:`actions_to_offsets`: offsets in ticks to float32 actions in [-1, 1].

    Offsets outside [0, max_offset_ticks] are clipped (a negative offset, a quote through the
    mid, is quoted at the mid).
    """
    o = np.clip(np.asarray(offsets_ticks, dtype=np.float64), 0.0, max_offset_ticks)
    return (o / (0.5 * max_offset_ticks) - 1.0).astype(np.float32)


def actions_to_sizes(actions: np.ndarray, max_size_lots: int) -> np.ndarray:
    """Map continuous size actions in [-1, 1] to lots in {0, ..., max_size_lots} (float64).

    ``lots = rint((a + 1) / 2 * max_size_lots)`` after clipping ``a`` to [-1, 1] (round half to
    even, as Python's ``round``); 0 lots means no quote on that side.
    """
    a = np.clip(np.asarray(actions, dtype=np.float64), -1.0, 1.0)
    return np.rint((a + 1.0) * (0.5 * max_size_lots))


def action_to_offset(action: float, max_offset_ticks: float) -> float:
    """:func:`actions_to_offsets` of one Python float (bit-identical; no numpy call).

    The single environment maps its action with this scalar twin: a numpy call on a
    two-element array costs more than the rest of the mapping.
    """
    return (min(max(action, -1.0), 1.0) + 1.0) * (0.5 * max_offset_ticks)


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
