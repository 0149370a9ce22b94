"""numpy's ``default_rng(SeedSequence(seed).spawn(2)[c])`` streams, compiled, many at once.

The AS2008 intensity env draws from ``numpy.random.default_rng`` (PCG64 seeded through a
``SeedSequence``, :meth:`mm_gym.market.intensity.IntensityMarket.reset`). Its native vector env
must give sub-environment ``i`` the same draws bit for bit without a Python loop over the
sub-environments, so this module re-implements, in numba, the two pieces of numpy it needs:

- ``SeedSequence(entropy).spawn(2)[child].generate_state(4, np.uint64)`` for an entropy of one
  64-bit integer (numpy's ``bit_generator.pyx``: ``_coerce_to_uint32_array``,
  ``get_assembled_entropy``, ``mix_entropy``, ``generate_state``; the hash is M. E. O'Neill's
  ``seed_seq_fe``, pool size 4, all arithmetic modulo 2**32);
- PCG64 (O'Neill 2014, XSL-RR 128/64, numpy's ``pcg64.h``): seeding ``pcg64_set_seed``, the
  128-bit LCG step, and ``Generator.random()`` = ``(next_uint64 >> 11) * 2**-53``.

A stream's state is four uint64 words ``[state_hi, state_lo, inc_hi, inc_lo]``. The LCG step is
one 128-bit multiply-add in LLVM's ``i128`` (:data:`lcg128`, a numba intrinsic: numba has no
128-bit integer), which x86-64 does in three multiplies (a ``mulx`` and two ``imul``) where
the high half's product spelt out in 32-bit pieces took seven.
``tests/test_envs_intensity_vector.py`` checks every function against numpy itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numba as nb
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

__all__ = ["lcg128", "next_double", "output_bits", "seed_stream", "step_double", "to_double"]

_M32 = np.uint64(0xFFFFFFFF)
_U32 = np.uint64(32)
# SeedSequence constants (numpy/random/bit_generator.pyx).
_INIT_A = np.uint64(0x43B0D7E5)
_MULT_A = np.uint64(0x931E8875)
_INIT_B = np.uint64(0x8B51F9DD)
_MULT_B = np.uint64(0x58F38DED)
_MIX_MULT_L = np.uint64(0xCA01F9DD)
_MIX_MULT_R = np.uint64(0x4973F715)
_XSHIFT = np.uint64(16)
# PCG64's 128-bit multiplier (numpy/random/src/pcg64/pcg64.h, PCG_DEFAULT_MULTIPLIER_128).
_MUL_HI = np.uint64(2549297995355413924)
_MUL_LO = np.uint64(4865540595714422341)
_INV53 = 1.0 / 9007199254740992.0  # 2**-53


_MULT_128 = (int(_MUL_HI) << 64) | int(_MUL_LO)
_U64 = types.uint64


def _lcg128(typingctx: Any, hi: Any, lo: Any, inc_hi: Any, inc_lo: Any) -> tuple[Any, Any]:
    """The typing and code of :data:`lcg128` (numba calls it at compile time)."""
    sig = types.UniTuple(_U64, 2)(_U64, _U64, _U64, _U64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        i64, i128 = ir.IntType(64), ir.IntType(128)
        shift = ir.Constant(i128, 64)

        def wide(h: Any, low: Any) -> Any:
            return builder.or_(builder.shl(builder.zext(h, i128), shift), builder.zext(low, i128))

        state = builder.add(
            builder.mul(wide(args[0], args[1]), ir.Constant(i128, _MULT_128)),
            wide(args[2], args[3]),
        )
        out_hi = builder.trunc(builder.lshr(state, shift), i64)
        out_lo = builder.trunc(state, i64)
        return context.make_tuple(builder, signature.return_type, (out_hi, out_lo))

    return sig, codegen


lcg128 = cast(
    "Callable[[np.uint64, np.uint64, np.uint64, np.uint64], tuple[np.uint64, np.uint64]]",
    intrinsic(_lcg128),
)
"""``lcg128(hi, lo, inc_hi, inc_lo)``: ``(hi, lo) * MULT + (inc_hi, inc_lo)`` modulo 2**128,
as ``(hi, lo)``, uint64 words: PCG64's LCG step (``pcg_setseq_128_step_r``) in LLVM's 128-bit
integers. Callable only from compiled code."""


@nb.njit(cache=True, inline="always")
def _lcg_step(st: np.ndarray, i: int, c: int) -> None:
    """``state = state * MULT + inc`` modulo 2**128 for stream ``st[i, c]``."""
    st[i, c, 0], st[i, c, 1] = lcg128(st[i, c, 0], st[i, c, 1], st[i, c, 2], st[i, c, 3])


@nb.njit(cache=True, inline="always")
def next_double(st: np.ndarray, i: int, c: int) -> float:
    """``Generator.random()`` of stream ``c`` of sub-environment ``i`` (advances it)."""
    hi, lo, x = step_double(st[i, c, 0], st[i, c, 1], st[i, c, 2], st[i, c, 3])
    st[i, c, 0], st[i, c, 1] = hi, lo
    return x


@nb.njit(cache=True, inline="always")
def output_bits(
    hi: np.uint64, lo: np.uint64, inc_hi: np.uint64, inc_lo: np.uint64
) -> tuple[np.uint64, np.uint64, np.uint64]:
    """One ``next_uint64`` from state ``(hi, lo)``: the new state and the 64 output bits.

    XSL-RR: the state's two halves xored, rotated right by its top six bits.
    """
    hi, lo = lcg128(hi, lo, inc_hi, inc_lo)
    x = hi ^ lo
    rot = hi >> np.uint64(58)
    return hi, lo, (x >> rot) | (x << ((np.uint64(64) - rot) & np.uint64(63)))


@nb.njit(cache=True, inline="always")
def to_double(bits: np.uint64) -> float:
    """``Generator.random()``'s double from 64 output bits: ``(bits >> 11) * 2**-53``.

    Converted as a signed integer (below 2**53, so the same value): one instruction, where an
    unsigned 64-bit conversion takes several on x86-64.
    """
    return float(np.int64(bits >> np.uint64(11))) * _INV53


@nb.njit(cache=True, inline="always")
def step_double(
    hi: np.uint64, lo: np.uint64, inc_hi: np.uint64, inc_lo: np.uint64
) -> tuple[np.uint64, np.uint64, float]:
    """One ``Generator.random()`` from state ``(hi, lo)``, increment ``(inc_hi, inc_lo)``.

    Returns the new state and the draw (scalars only, for the hot loops).
    """
    hi, lo, bits = output_bits(hi, lo, inc_hi, inc_lo)
    return hi, lo, to_double(bits)


@nb.njit(cache=True, inline="always")
def _hashmix(value: np.uint64, hash_const: np.uint64) -> tuple[np.uint64, np.uint64]:
    value = (value ^ hash_const) & _M32
    hash_const = (hash_const * _MULT_A) & _M32
    value = (value * hash_const) & _M32
    return value ^ (value >> _XSHIFT), hash_const


@nb.njit(cache=True, inline="always")
def _mix(x: np.uint64, y: np.uint64) -> np.uint64:
    r = (_MIX_MULT_L * x - _MIX_MULT_R * y) & _M32
    return r ^ (r >> _XSHIFT)


@nb.njit(cache=True)
def seed_stream(st: np.ndarray, i: int, c: int, seed: np.uint64, scratch: np.ndarray) -> None:
    """Seed stream ``st[i, c]`` as ``default_rng(SeedSequence(int(seed)).spawn(2)[c])``.

    ``scratch`` is any uint64 array of 17 entries (reused, so a reset allocates nothing).
    """
    # get_assembled_entropy: the seed as 32-bit words (one word below 2**32), zero-padded to the
    # pool size because a spawn key follows, then the spawn key (the child index).
    entropy, pool, words = scratch[:5], scratch[5:9], scratch[9:17]
    entropy[0] = seed & _M32
    entropy[1] = seed >> _U32
    entropy[2] = entropy[3] = np.uint64(0)
    entropy[4] = np.uint64(c)
    # mix_entropy
    h = _INIT_A
    for k in range(4):
        pool[k], h = _hashmix(entropy[k], h)
    for src in range(4):
        for dst in range(4):
            if src != dst:
                v, h = _hashmix(pool[src], h)
                pool[dst] = _mix(pool[dst], v)
    for dst in range(4):
        v, h = _hashmix(entropy[4], h)
        pool[dst] = _mix(pool[dst], v)
    # generate_state(4, np.uint64): eight 32-bit words, read as four little-endian uint64.
    hb = _INIT_B
    for k in range(8):
        v = (pool[k % 4] ^ hb) & _M32
        hb = (hb * _MULT_B) & _M32
        v = (v * hb) & _M32
        words[k] = v ^ (v >> _XSHIFT)
    w0 = words[0] | (words[1] << _U32)
    w1 = words[2] | (words[3] << _U32)
    w2 = words[4] | (words[5] << _U32)
    w3 = words[6] | (words[7] << _U32)
    # pcg64_set_seed: initstate = (w0 << 64) | w1, initseq = (w2 << 64) | w3;
    # pcg_setseq_128_srandom_r: state = 0, inc = (initseq << 1) | 1, step, state += initstate, step.
    st[i, c, 0] = np.uint64(0)
    st[i, c, 1] = np.uint64(0)
    st[i, c, 2] = (w2 << np.uint64(1)) | (w3 >> np.uint64(63))
    st[i, c, 3] = (w3 << np.uint64(1)) | np.uint64(1)
    _lcg_step(st, i, c)
    lo = st[i, c, 1] + w1
    carry = np.uint64(1) if lo < w1 else np.uint64(0)
    st[i, c, 0] = st[i, c, 0] + w0 + carry
    st[i, c, 1] = lo
    _lcg_step(st, i, c)
