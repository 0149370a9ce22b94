"""A simulator's arrays bound in one numba struct: the serial step called with one pointer.

A call into a compiled function unboxes each of its arguments. For the serial step those are
the state's 18 arrays and the 80 scalars of :class:`~mm_gym.market.params.MarketParams`: about
1.2 us per call, a third of the whole step of one market (the single environment's case). A
:class:`BoundStep` holds them (and the caller's quotes buffer and mask) in a numba ``StructRef``
made once; :func:`step_bound` unboxes that one object and calls
:func:`~mm_gym.market.kernels.step_serial` on the same arrays, so the step is the same, bit for
bit. :meth:`MarketSimulator.stepper <mm_gym.market.MarketSimulator.stepper>` is the way in.

This module lives beside the kernels on purpose: numba caches :func:`step_bound` with a copy of
the kernel it calls, and :mod:`mm_gym.market._cache` drops every cached kernel of the package
together when any of its sources changes.
"""

from __future__ import annotations

from typing import Any

import numba as nb
import numpy as np
from numba.core import types
from numba.experimental import structref

from mm_gym.market.kernels import step_serial
from mm_gym.market.params import MarketParams
from mm_gym.market.state import MarketState

__all__ = ["BoundStep", "step_bound"]


@structref.register
class _BoundStepType(types.StructRef):
    """The numba type of :class:`BoundStep` (one per set of array and parameter types)."""

    def preprocess_fields(self, fields: Any) -> tuple[tuple[str, Any], ...]:
        return tuple((name, types.unliteral(typ)) for name, typ in fields)


class BoundStep(structref.StructRefProxy):
    """The arguments of the serial step that do not change between calls, held by numba.

    Args:
        state: The simulator's state (its arrays are referenced, not copied).
        params: The simulator's parameters.
        quotes: The ``(n_markets, 2, 4)`` float64 quotes buffer the caller writes each step.
        active: ``(n_markets,)`` bool mask of the markets to step.
    """

    def __new__(
        cls, state: MarketState, params: MarketParams, quotes: np.ndarray, active: np.ndarray
    ) -> BoundStep:
        """Box the arguments into the struct (with :func:`_new_bound_step`, cached)."""
        bound: BoundStep = _new_bound_step(state, params, quotes, active)
        return bound


structref.define_proxy(BoundStep, _BoundStepType, ["state", "params", "quotes", "active"])


@nb.njit(cache=True)
def _new_bound_step(state, params, quotes, active):  # argument types: numba's
    # StructRefProxy.__new__ would compile its constructor afresh in every process (0.6 s).
    return BoundStep(state, params, quotes, active)


@nb.njit(cache=True)
def step_bound(bound, builtin_rival, record):  # argument types: numba's, from the call
    """``step_serial`` on the arrays of ``bound`` (see the module docstring)."""
    step_serial(bound.state, bound.params, bound.quotes, bound.active, builtin_rival, record)
