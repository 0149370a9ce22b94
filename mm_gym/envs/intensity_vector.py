"""``IntensityMarketMakingVectorEnv``: ``num_envs`` AS2008 intensity markets in one compiled call.

Registered as the ``vector_entry_point`` of ``mm_gym/AS2008-v1``.
"""

from __future__ import annotations

import math
from typing import Any

import numba as nb
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from mm_gym.config import MarketConfig
from mm_gym.envs.core import describe_value, numeric_array
from mm_gym.envs.intensity import IntensityMarketMakingEnv, intensity_policy_context
from mm_gym.envs.pcg64 import output_bits, seed_stream, to_double
from mm_gym.envs.seeding import RootSeeds
from mm_gym.envs.vector_base import NativeVectorEnv, check_num_envs
from mm_gym.market.intensity import _MAX_EXPONENT
from mm_gym.market.kernels import NO_RUNTIME
from mm_gym.policy import PolicyContext
from mm_gym.rewards import COMPONENT_NAMES, cara_utility

__all__ = ["IntensityMarketMakingVectorEnv"]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))  # actions taken as they are
_MID, _FILL = 0, 1  # the two child streams of IntensityMarket.reset: mid path, fill uniforms
# Columns of the float64 info block ``fl`` of one step, one row per sub-environment (fresh each
# step: the infos hold its columns, strided views): pnl, cash, mid, then the reward components.
_FL_PNL, _FL_CASH, _FL_MID = 0, 1, 2
_FL_COMP = 3  # then the reward components, in COMPONENT_NAMES order
_N_FLOAT_COLS = _FL_COMP + len(COMPONENT_NAMES)
# The columns of the reward components, by name.
_COMP_COLS = tuple((name, _FL_COMP + j) for j, name in enumerate(COMPONENT_NAMES))
_C_PNL = _FL_COMP + COMPONENT_NAMES.index("pnl")
_C_INV_PNL = _FL_COMP + COMPONENT_NAMES.index("inventory_pnl")
_C_DAMP = _FL_COMP + COMPONENT_NAMES.index("dampening")
_C_RUNNING = _FL_COMP + COMPONENT_NAMES.index("inventory_penalty")
_C_TERMINAL = _FL_COMP + COMPONENT_NAMES.index("terminal_penalty")
_C_UTILITY = _FL_COMP + COMPONENT_NAMES.index("utility")
# Columns of the int64 info block ``it``: inventory, fills this step, step index. (The rewards
# are an array of their own: contiguous.)
_IT_INV, _IT_FILLS, _IT_STEP = 0, 1, 2


# The state of the sub-environments, one row each: float64 ``fs`` (n, 3) and int64 ``ins``
# (n, 2) (the single env's previous wealth, inventory and mid follow from them), and the scalar
# parameters in one float64 array ``pr`` (every integer in it is far below 2**53, so exact),
# which keeps the compiled call's arguments few.
_F_S, _F_CASH, _F_PEAK = range(3)
_I_Q, _I_T = range(2)
(
    _P_S0, _P_Q0, _P_DS, _P_LIMIT, _P_N_STEPS, _P_OBS_LIMIT, _P_MAX_DD, _P_SCALE, _P_INV_PEN,
    _P_TERM_PEN, _P_DAMP, _P_NEG_K, _P_HALF_DELTA, _P_A_DT, _P_FLAGS, _P_BAND, _P_MAX_STEPS,
) = range(17)  # fmt: skip
_N_PARAMS = 17
# _P_FLAGS bits: an inventory limit on fills, a drawdown limit, the CARA utility, the penalties
# paid up front; _P_MAX_STEPS is max_episode_steps (0: none).
_HAS_LIMIT, _HAS_DD, _CARA, _UPFRONT = 1, 2, 4, 8
# A step the kernel leaves to numpy's exp (see _fill_bounds): the columns of its row of ``buf``.
_B_ENV, _B_D0, _B_D1, _B_U0, _B_U1, _B_UP, _B_CODE = range(7)

# Fill decisions without numpy's exp (_fill_bounds). exp(z) = 2**(z / ln 2) = 2**n * 2**f with n
# an integer and |f| <= 1/2; 2**f from its Taylor series to degree 7 (truncation below 7.1e-9
# relative, in Estrin's scheme for a short dependency chain), 2**n exactly. A decision is taken
# from this value only when the uniform lies outside p * (1 -+ _BAND), over a hundred times wider
# than the error, so it is the decision numpy's exp gives; inside the band (about 2e-6 * p of
# the draws) numpy decides. Below _TINY_P (z < -700 included, where p < 1e-304) only a uniform
# of exactly 0 can fill (the least positive one is 2**-53): 0 is left to numpy, any other is no
# fill.
_LOG2E = 1.4426950408889634
_F64 = types.float64


@intrinsic
def pow2(typingctx: Any, k: Any) -> tuple[Any, Any]:
    """``2.0 ** k`` for an integer ``-1022 <= k <= 1023``, exactly: its bits, made directly."""
    sig = _F64(types.int64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        i64 = ir.IntType(64)
        biased = builder.add(args[0], ir.Constant(i64, 1023))
        return builder.bitcast(builder.shl(biased, ir.Constant(i64, 52)), ir.DoubleType())

    return sig, codegen


_C0, _C1, _C2, _C3, _C4, _C5, _C6, _C7 = (math.log(2.0) ** k / math.factorial(k) for k in range(8))
_BAND = 1e-6
_TINY_P = 1e-200
_MIN_Z = -700.0
_UNSURE = 2  # a decision code besides 0 (no fill) and 1 (fill)
_LEAST_POSITIVE = 5e-324


@intrinsic
def select(typingctx: Any, cond: Any, if_true: Any, if_false: Any) -> tuple[Any, Any]:
    """``if_true if cond else if_false`` for floats, without a branch (LLVM's ``select``).

    numba compiles a conditional expression to a branch, which mispredicts half the time on a
    random fill; the values are the same.
    """
    sig = _F64(types.boolean, _F64, _F64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.select(args[0], args[1], args[2])

    return sig, codegen


@nb.njit(cache=True, inline="always")
def _fill_bounds(a, pr, th):
    """Bounds on each uniform's fill decision, from the fast ``exp``, into ``th`` ``(2, 2n)``.

    ``a`` is the actions flattened, ``(2n,)`` (bid, ask of sub-environment 0, then 1, ...).
    ``IntensityMarket.fill_probability`` ("linear"): ``p = min(a_dt * exp(-k * delta), 1)``,
    ``-k * delta <= 0``. Column ``j`` of ``th`` holds ``(lo, hi)`` for uniform ``j``: ``u < lo``
    fills, ``u >= hi`` does not, any other is left to numpy (see _BAND and _TINY_P). A loop of
    its own over flat arrays: it runs in SIMD lanes, some six times faster than over ``(n, 2)``
    rows, and inside the step's loop its latency (some 70 cycles) held each sub-environment up.
    """
    neg_k, half, a_dt, band = pr[_P_NEG_K], pr[_P_HALF_DELTA], pr[_P_A_DT], pr[_P_BAND]
    below, above = 1.0 - band, 1.0 + band
    for j in range(a.shape[0]):
        # actions.action_to_offset, "mid": (clip(a, -1, 1) + 1) * (0.5 * max_delta).
        z = neg_k * ((min(max(float(a[j]), -1.0), 1.0) + 1.0) * half)
        y = max(z, _MIN_Z) * _LOG2E
        n = math.floor(y + 0.5)
        f = y - n
        f2 = f * f
        e = ((_C0 + _C1 * f) + f2 * (_C2 + _C3 * f)) + (f2 * f2) * (
            (_C4 + _C5 * f) + f2 * (_C6 + _C7 * f)
        )
        p = a_dt * e * pow2(int(n))  # 2**n exact: n >= -1010 (a normal number)
        normal = (p >= _TINY_P) & (z >= _MIN_Z)
        # tiny p: no certain fill (lo = 0), a certain miss for any u > 0 (hi: the least
        # positive double; every uniform is a multiple of 2**-53)
        th[0, j] = select(normal, p * below, 0.0)
        th[1, j] = select(normal, p * above, _LEAST_POSITIVE)


@nb.njit(cache=True, inline="always")
def _decision(u: float, lo: float, hi: float) -> int:
    """1 (fill: ``u < lo``), 0 (no fill: ``u >= hi``) or ``_UNSURE``; without branches."""
    fill, no_fill = u < lo, u >= hi
    return np.int64(fill) + _UNSURE * (1 - np.int64(fill | no_fill))


@nb.njit(cache=True, inline="always")
def _write_outputs(i, fs, ins, pr, obs, fl, it):
    """Observation and info row of sub-environment ``i`` (the single env's ``_obs``, ``_info``)."""
    q, t = ins[i, _I_Q], ins[i, _I_T]
    x = q / pr[_P_OBS_LIMIT]
    obs[i, 0] = np.float32(min(max(x, -1.0), 1.0))
    obs[i, 1] = np.float32((pr[_P_N_STEPS] - t) / pr[_P_N_STEPS])
    fl[i, _FL_PNL] = fs[i, _F_CASH] + q * fs[i, _F_S]
    fl[i, _FL_CASH] = fs[i, _F_CASH]
    fl[i, _FL_MID] = fs[i, _F_S]
    it[i, _IT_INV] = q
    it[i, _IT_STEP] = t


@nb.njit(cache=True, **NO_RUNTIME)  # allocates nothing: no reference counting (market.kernels)
def _reset_kernel(mask, write_all, seeds, scratch, rng, fs, ins, pr, obs, rew, fl, it):
    """Reset the masked sub-environments; write their observation, reward and info rows.

    As ``IntensityMarket.reset(seed)`` and the single env's ``reset`` do. With ``write_all``
    the rows of the others too (from their state; zero reward, components and fills).
    ``scratch``: 17 uint64 for :func:`~mm_gym.envs.pcg64.seed_stream`.
    """
    s0, q0 = pr[_P_S0], pr[_P_Q0]
    for i in range(fs.shape[0]):
        if mask[i]:
            seed_stream(rng, i, _MID, seeds[i], scratch)
            seed_stream(rng, i, _FILL, seeds[i], scratch)
            fs[i, _F_S] = s0
            fs[i, _F_CASH] = 0.0
            fs[i, _F_PEAK] = 0.0 + q0 * s0  # the start's wealth
            ins[i, _I_Q] = np.int64(q0)
            ins[i, _I_T] = 0
        elif not write_all:
            continue
        rew[i] = 0.0
        for r in range(fl.shape[1]):
            fl[i, r] = 0.0
        it[i, _IT_FILLS] = 0
        _write_outputs(i, fs, ins, pr, obs, fl, it)


# No zero-division checks (error_model): every divisor is >= 1. No runtime: see _reset_kernel.
@nb.njit(cache=True, error_model="numpy", **NO_RUNTIME)
def _step_kernel(a, auto, fast, th, rng, fs, ins, pr, buf, obs, rew, fl, it, term, trunc, ended):
    """One step of every sub-environment: the fill bounds in one pass, then one pass each.

    ``IntensityMarket.step``, then the reward of ``IntensityMarketMakingEnv.step``, operation
    for operation (so bit-identical). ``a`` is the actions flattened, ``(2n,)``. With ``fast``
    ("linear" fills) the bounds ``th`` ``(2, 2n)`` come from :func:`_fill_bounds`, else the
    caller wrote the fill probabilities into both rows. The ``auto`` sub-environments are
    skipped (the caller resets them). Each of the others draws its three uniforms, decides its
    fills, then (:func:`_settle`) its accounting, mid move, reward, observation and info row,
    and its ``term``, ``trunc`` and ``ended`` (either) flags; unless a fill is left to numpy:
    then its distances, uniforms and decisions go to the next row of ``buf`` ``(n, 7)``
    (columns ``_B_*``), for the caller to decide and :func:`_settle_kernel` to finish.

    Returns:
        ``(unsure, terminated, ended, auto)`` counts, the first the rows of ``buf`` written; or
        ``(-1, 0, 0, 0)`` (nothing drawn) if an action is NaN or infinite.
    """
    n = auto.shape[0]
    finite = True
    for j in range(a.shape[0]):  # no early exit: this loop runs in SIMD lanes
        finite &= abs(float(a[j])) < np.inf
    if not finite:
        return -1, 0, 0, 0
    if fast:
        _fill_bounds(a, pr, th)
    half = pr[_P_HALF_DELTA]
    unsure = n_term = n_ended = n_auto = 0
    for i in range(n):
        if auto[i]:
            term[i] = trunc[i] = ended[i] = False
            n_auto += 1
            continue
        # IntensityMarket.step: the fill stream draws (bid, ask), then the mid stream one.
        inc_hi, inc_lo = rng[i, _FILL, 2], rng[i, _FILL, 3]
        hi, lo, b0 = output_bits(rng[i, _FILL, 0], rng[i, _FILL, 1], inc_hi, inc_lo)
        hi, lo, b1 = output_bits(hi, lo, inc_hi, inc_lo)
        rng[i, _FILL, 0], rng[i, _FILL, 1] = hi, lo
        hi, lo, bm = output_bits(rng[i, _MID, 0], rng[i, _MID, 1], rng[i, _MID, 2], rng[i, _MID, 3])
        rng[i, _MID, 0], rng[i, _MID, 1] = hi, lo
        # random() < 0.5 exactly when the top output bit is clear: (bits >> 11) < 2**52.
        up = (bm >> np.uint64(63)) == 0
        u0, u1 = to_double(b0), to_double(b1)
        c0 = _decision(u0, th[0, 2 * i], th[1, 2 * i])
        c1 = _decision(u1, th[0, 2 * i + 1], th[1, 2 * i + 1])
        # actions.action_to_offset, "mid": (clip(a, -1, 1) + 1) * (0.5 * max_delta).
        d0 = (min(max(float(a[2 * i]), -1.0), 1.0) + 1.0) * half
        d1 = (min(max(float(a[2 * i + 1]), -1.0), 1.0) + 1.0) * half
        if (c0 | c1) & _UNSURE:
            row = buf[unsure]
            row[_B_ENV], row[_B_D0], row[_B_D1], row[_B_U0], row[_B_U1] = i, d0, d1, u0, u1
            row[_B_UP], row[_B_CODE] = up, c0 + 4 * c1
            unsure += 1
            continue
        te, en = _settle(
            i, c0 == 1, c1 == 1, up, d0, d1, fs, ins, pr, obs, rew, fl, it, term, trunc, ended
        )
        n_term += te
        n_ended += en
    return unsure, n_term, n_ended, n_auto


# No zero-division checks (error_model): every divisor is >= 1. No runtime: see _reset_kernel.
@nb.njit(cache=True, error_model="numpy", **NO_RUNTIME)
def _settle_kernel(count, buf, fs, ins, pr, obs, rew, fl, it, term, trunc, ended):
    """Finish the ``count`` steps :func:`_step_kernel` left in ``buf``, fills decided.

    Returns:
        ``(terminated, ended)`` counts among them.
    """
    n_term = n_ended = 0
    for k in range(count):
        row = buf[k]
        code = int(row[_B_CODE])
        te, en = _settle(
            int(row[_B_ENV]), (code & 3) == 1, (code >> 2) == 1, row[_B_UP] != 0.0,
            row[_B_D0], row[_B_D1], fs, ins, pr, obs, rew, fl, it, term, trunc, ended,
        )  # fmt: skip
        n_term += te
        n_ended += en
    return n_term, n_ended


@nb.njit(cache=True, inline="always")
def _settle(
    i, bid_filled, ask_filled, up, d0, d1, fs, ins, pr, obs, rew, fl, it, term, trunc, ended
):
    """Fills, accounting, mid move and reward of sub-environment ``i`` (CARA utility: caller).

    Returns:
        Whether it terminated, and whether it ended (terminated or truncated).
    """
    flags = int(pr[_P_FLAGS])
    n_steps = pr[_P_N_STEPS]
    q = ins[i, _I_Q]
    if flags & _HAS_LIMIT:
        limit = pr[_P_LIMIT]
        bid_filled = bid_filled & (q < limit)
        ask_filled = ask_filled & (q > -limit)
    si, prev_cash = fs[i, _F_S], fs[i, _F_CASH]
    # The state before the step, as the single env keeps it (prev_q, prev_s, prev_wealth): the
    # same numbers (its wealth is cash + float(q) * s, the start's 0.0 + q0 * s0).
    prev_q = float(q)
    prev_w = prev_cash + prev_q * si
    bid_price = si - d0
    ask_price = si + d1
    cash = prev_cash + (select(ask_filled, ask_price, 0.0) - select(bid_filled, bid_price, 0.0))
    q += np.int64(bid_filled) - np.int64(ask_filled)
    # AS (2008) section 3.3: the mid moves up or down by sigma*sqrt(dt), equally likely.
    ds = pr[_P_DS]
    sf = si + select(up, ds, -ds)
    t = ins[i, _I_T] + 1
    fs[i, _F_S], fs[i, _F_CASH] = sf, cash
    ins[i, _I_Q], ins[i, _I_T] = q, t
    it[i, _IT_FILLS] = np.int64(bid_filled) + np.int64(ask_filled)
    # IntensityMarketMakingEnv.step and rewards.step_reward.
    qf = float(q)
    wealth = cash + qf * sf
    terminated = t >= n_steps
    if flags & _HAS_DD:
        fs[i, _F_PEAK] = max(fs[i, _F_PEAK], wealth)
        terminated = terminated | (fs[i, _F_PEAK] - wealth >= pr[_P_MAX_DD])
    pnl = wealth - prev_w
    inv_pnl = prev_q * (sf - si)
    q2 = qf * qf
    inv_pen, term_pen = pr[_P_INV_PEN], pr[_P_TERM_PEN]
    if flags & _UPFRONT:
        # the first step pays the start inventory (q0) in full (intensity.py, upfront)
        p2 = select(t > 1, prev_q * prev_q, 0.0)
        left = n_steps - t
        held = left * select(terminated, 0.0, 1.0)
        running = inv_pen * ((1.0 + held) * q2 - (1.0 + left) * p2)
        terminal_pen = term_pen * (q2 - p2)
    else:
        running = inv_pen * q2
        terminal_pen = term_pen * q2 * select(terminated, 1.0, 0.0)
    damp = pr[_P_DAMP] * max(inv_pnl, 0.0)
    if flags & _CARA:
        utility = 0.0  # the caller writes the utility of the terminal steps
        reward = pr[_P_SCALE] * (utility - running - terminal_pen)
    else:
        utility = 0.0 * pnl
        reward = pr[_P_SCALE] * (pnl - damp - running - terminal_pen)
    max_steps = pr[_P_MAX_STEPS]
    truncated = (max_steps > 0.0) & (t >= max_steps)
    ended_now = terminated | truncated
    term[i], trunc[i], ended[i] = terminated, truncated, ended_now
    rew[i] = reward
    fl[i, _C_PNL] = pnl
    fl[i, _C_INV_PNL] = inv_pnl
    fl[i, _C_DAMP] = damp
    fl[i, _C_RUNNING] = running
    fl[i, _C_TERMINAL] = terminal_pen
    fl[i, _C_UTILITY] = utility
    # The single env's _obs and _info.
    obs_limit = pr[_P_OBS_LIMIT]
    obs[i, 0] = np.float32(min(max(q / obs_limit, -1.0), 1.0))
    obs[i, 1] = np.float32((n_steps - t) / n_steps)
    fl[i, _FL_PNL] = cash + q * sf
    fl[i, _FL_CASH] = cash
    fl[i, _FL_MID] = sf
    it[i, _IT_INV] = q
    it[i, _IT_STEP] = t
    return terminated, ended_now


class IntensityMarketMakingVectorEnv(NativeVectorEnv):
    """``num_envs`` copies of :class:`~mm_gym.envs.intensity.IntensityMarketMakingEnv`.

    Made by ``gym.make_vec("mm_gym/AS2008-v1", num_envs=N)`` (the registered
    ``vector_entry_point``) or directly. It takes the single environment's keyword arguments
    plus ``autoreset_mode`` and ``max_episode_steps``, with the conventions of
    :class:`~mm_gym.envs.vector.MarketMakingVectorEnv`:

    - sub-environment ``i`` behaves exactly, bit for bit, as a single environment with the same
      arguments: ``reset(seed=s)`` seeds it with ``s + i`` (or ``seed`` may be a list of
      ``num_envs`` ints or Nones), and each autoreset starts its next episode from its own seed
      sequence, so episode ``k`` of sub-environment ``i`` equals episode ``k`` of a single
      environment seeded ``s + i``, whatever ``num_envs``. The single environment draws from
      numpy's PCG64 through a ``SeedSequence``; the compiled step reproduces those streams
      (:mod:`mm_gym.envs.pcg64`);
    - ``infos`` is a dict of arrays ``(num_envs,)`` with the single environment's keys (``pnl``,
      ``cash``, ``inventory``, ``mid``, ``fills``, ``step``, and ``reward_components`` a dict of
      arrays), each with its ``_key`` mask;
    - ``autoreset_mode`` ``NEXT_STEP`` (default), ``SAME_STEP`` (``final_obs`` and
      ``final_info`` in the infos) or ``DISABLED`` (``reset(options={"reset_mask": mask})``);
    - ``max_episode_steps=T``: an episode reaching ``T`` steps before the horizon ends with
      ``truncated=True``.

    Observations, actions and infos are fresh arrays each step (no buffer is reused).
    ``render_mode="ansi"`` renders a tuple of ``num_envs`` text frames.
    """

    # Gymnasium declares metadata as an instance attribute, hence no ClassVar.
    metadata: dict[str, Any] = {"render_modes": ["ansi"], **NativeVectorEnv.metadata}  # noqa: RUF012

    def __init__(
        self,
        num_envs: int = 1,
        preset: str = "as2008",
        *,
        config: MarketConfig | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        max_episode_steps: int | None = None,
        **kwargs: Any,
    ) -> None:
        """Build ``num_envs`` markets; see :class:`IntensityMarketMakingEnv` for the arguments.

        Raises:
            ConfigError: On an invalid argument (naming it).
            UnknownKeywordError: On a keyword neither environment takes.
        """
        n = check_num_envs(num_envs)
        # The single environment checks every shared argument (UnknownKeywordError included)
        # and is the template the sub-environments copy; it is never stepped.
        template = IntensityMarketMakingEnv(preset, config=config, **kwargs)
        self._init_batch(n, autoreset_mode, max_episode_steps, template.render_mode)
        self.market_config = template.market_config
        self.env_config = template.env_config
        self.max_delta = template.max_delta
        self.inventory_limit = template.inventory_limit
        self.feature_names = template.feature_names
        self._template = template
        market = template._market
        model = market.config
        self.fill_model = market.fill_model
        self._n_steps = market.n_steps
        self._k, self._a_dt = market._k, market._a_dt
        self._params = rp = template._params
        dd = self.env_config.max_drawdown
        limit = market.inventory_limit  # None: no bound on fills (the paper)
        pr = np.zeros(_N_PARAMS)
        pr[_P_S0], pr[_P_Q0], pr[_P_DS] = model.s0, model.q0, market._ds
        pr[_P_LIMIT] = 0 if limit is None else limit
        pr[_P_N_STEPS], pr[_P_OBS_LIMIT] = self._n_steps, self.inventory_limit
        pr[_P_MAX_DD] = 0.0 if dd is None else dd
        pr[_P_SCALE], pr[_P_INV_PEN] = rp.scale, rp.inventory_penalty
        pr[_P_TERM_PEN], pr[_P_DAMP] = rp.terminal_penalty, rp.dampening
        pr[_P_NEG_K], pr[_P_HALF_DELTA], pr[_P_A_DT] = -market._k, 0.5 * self.max_delta, self._a_dt
        pr[_P_FLAGS] = (
            (_HAS_LIMIT if limit is not None else 0)
            | (_HAS_DD if dd is not None else 0)
            | (_CARA if rp.cara else 0)
            | (_UPFRONT if rp.upfront else 0)
        )
        pr[_P_BAND] = _BAND  # tests widen it to send many decisions to numpy
        pr[_P_MAX_STEPS] = self.max_episode_steps or 0
        self._pr = pr
        self._linear = self.fill_model == "linear"
        self._same_step = self.autoreset_mode == AutoresetMode.SAME_STEP
        self.single_action_space = template.action_space
        self.single_observation_space = template.observation_space
        self.action_space = batch_space(self.single_action_space, n)
        self.observation_space = batch_space(self.single_observation_space, n)
        self._rng = np.zeros((n, 2, 4), np.uint64)
        self._fs = np.zeros((n, 3))
        self._ins = np.zeros((n, 2), np.int64)
        self._seeds = RootSeeds(n)
        self._buf = np.zeros((n, 7))  # the fill decisions left to numpy (_step_kernel)
        self._th = np.zeros((2, 2 * n))  # fill bounds (_fill_bounds)
        self._scratch = np.zeros(17, np.uint64)
        # The step writes the ended flags into the array that is not _autoreset (it reads that
        # one), then the two swap (internal: never handed out).
        self._spare = np.zeros(n, np.bool_)
        self._comp_masks = {f"_{c}": self._all_true for c in COMPONENT_NAMES}
        # The rare path's kernel compiled (or loaded from numba's cache) now, not in the middle
        # of a run at the first fill left to numpy.
        _settle_kernel(
            0, self._buf, self._fs, self._ins, pr, np.empty((0, 2), np.float32), np.empty(0),
            np.empty((0, _N_FLOAT_COLS)), np.empty((0, 3), np.int64), *np.empty((3, 0), np.bool_),
        )  # fmt: skip

    # ------------------------------------------------------------------ reset

    def _reset_batch(
        self, seed: int | list[int | None] | None, mask: np.ndarray | None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset the masked sub-environments (all on None) by :func:`_reset_kernel`."""
        full = mask is None or bool(mask.all())
        m = self._all_true if mask is None else mask
        self._seeds.set_roots(seed, self.np_random, m)
        obs, _, fl, it = self._reset(m)
        self._autoreset[m] = False
        self._started = True
        return obs, self._infos(fl, it, None if full else m)

    def _reset(
        self,
        m: np.ndarray,
        out: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Start the next episode of the sub-environments of ``m`` by :func:`_reset_kernel`.

        Returns the observations, rewards and info blocks: fresh, every row written, or
        ``out`` with the rows of ``m`` written.
        """
        n = self.num_envs
        write_all = out is None
        if out is None:
            out = (
                np.empty((n, 2), np.float32),
                np.empty(n),
                np.empty((n, _N_FLOAT_COLS)),
                np.empty((n, 3), np.int64),
            )
        obs, rew, fl, it = out
        seeds = self._seeds.next_episode(m)
        _reset_kernel(
            m, write_all, seeds, self._scratch, self._rng, self._fs, self._ins, self._pr,
            obs, rew, fl, it,
        )  # fmt: skip
        return out

    # ------------------------------------------------------------------ step

    def _checked_actions(self, actions: Any) -> np.ndarray:
        """The actions as a float32 or float64 array ``(num_envs, 2)``.

        Finiteness is checked by the compiled step, before it draws.
        """
        a = actions
        if not (isinstance(a, np.ndarray) and a.dtype in (np.float32, np.float64)):
            a = numeric_array(actions, "fiu")
            if a is None:
                raise self._bad_action(actions, f"expected {self.num_envs}x2 real numbers")
            a = a.astype(np.float64)
        if a.shape != (self.num_envs, 2):
            raise self._bad_action(actions, f"shape {a.shape}, expected ({self.num_envs}, 2)")
        return a

    def _distances(self, a: np.ndarray) -> np.ndarray:
        """Checked actions to distances in currency (the ``"mid"`` mapping), with numpy."""
        x = a.astype(np.float64)
        if not np.isfinite(x).all():
            raise self._bad_action(a, "NaN or infinite value")
        # actions.action_to_offset, "mid": (clip(a, -1, 1) + 1) * (0.5 * max_delta).
        np.clip(x, -1.0, 1.0, out=x)
        x += 1.0
        x *= self._pr[_P_HALF_DELTA]
        return x

    def _bad_action(self, actions: Any, why: str) -> ValueError:
        return ValueError(
            f"{type(self).__name__}.step: invalid actions {describe_value(actions)}: {why} "
            f"(action_space={self.action_space})"
        )

    def _fill_probability(self, d: np.ndarray) -> np.ndarray:
        """``IntensityMarket.fill_probability`` (numpy's ``exp``, so bit-identical)."""
        z = d * -self._k
        np.minimum(z, _MAX_EXPONENT, out=z)
        np.exp(z, out=z)
        z *= self._a_dt
        if self.fill_model == "linear":
            return np.minimum(z, 1.0, out=z)
        np.negative(z, out=z)
        np.expm1(z, out=z)
        return np.negative(z, out=z)

    def _decide_unsure(self, count: int) -> None:
        """Decide the fills :func:`_step_kernel` left in ``buf[:count]`` with numpy's ``exp``."""
        rows = self._buf[:count]
        code = rows[:, _B_CODE].astype(np.int64)
        for d, u, shift in ((_B_D0, _B_U0, 0), (_B_D1, _B_U1, 2)):
            c = (code >> shift) & 3
            where = c == _UNSURE
            if where.any():
                c[where] = rows[where, u] < self._fill_probability(rows[where, d])
            code = code & ~(3 << shift) | (c << shift)
        rows[:, _B_CODE] = code

    def _step_batch(
        self, actions: Any, auto: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """One compiled step; the ``auto`` ones reset instead (``NEXT_STEP``)."""
        a = actions
        n = self.num_envs
        if not (type(a) is np.ndarray and a.dtype in _FLOAT_DTYPES and a.shape == (n, 2)):
            a = self._checked_actions(actions)
        obs = np.empty((n, 2), np.float32)
        rew = np.empty(n)
        fl = np.empty((n, _N_FLOAT_COLS))
        it = np.empty((n, 3), np.int64)
        term, trunc = np.empty((2, n), np.bool_)
        ended = self._spare
        th = self._th
        if not self._linear:  # "poisson": numpy decides every fill (lo = hi = p)
            th[0] = th[1] = self._fill_probability(self._distances(a)).reshape(-1)
        fs, ins, pr, buf = self._fs, self._ins, self._pr, self._buf
        unsure, n_term, n_ended, n_auto = _step_kernel(
            a.reshape(-1), auto, self._linear, th, self._rng, fs, ins, pr, buf, obs, rew, fl, it,
            term, trunc, ended,
        )  # fmt: skip
        if unsure < 0:
            raise self._bad_action(actions, "NaN or infinite value")
        if unsure > 0:  # rare (see _BAND): numpy's exp decides, as in the single env
            self._decide_unsure(unsure)
            more_term, more_ended = _settle_kernel(
                unsure, buf, fs, ins, pr, obs, rew, fl, it, term, trunc, ended
            )
            n_term += more_term
            n_ended += more_ended
        if n_auto:  # NEXT_STEP only: these return their reset observation instead
            self._reset(auto, (obs, rew, fl, it))
        if n_term and self._params.cara:
            # rewards.step_reward: utility = cara_utility(W_T) on the terminal step.
            rp = self._params
            util = np.where(term, cara_utility(fl[:, _FL_PNL], rp.cara_gamma), 0.0)
            fl[:, _C_UTILITY] = util
            rew[:] = rp.scale * (util - fl[:, _C_RUNNING] - fl[:, _C_TERMINAL])
        if self._same_step:
            if n_ended:
                return self._same_step_reset_batch(obs, rew, fl, it, term, trunc, ended.copy())
        else:
            self._autoreset, self._spare = ended, auto
        return obs, rew, term, trunc, self._infos(fl, it)

    def _same_step_reset_batch(
        self,
        obs: np.ndarray,
        rew: np.ndarray,
        fl: np.ndarray,
        it: np.ndarray,
        term: np.ndarray,
        trunc: np.ndarray,
        ended: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """A ``SAME_STEP`` step's return when the ``ended`` ones reset in it."""
        final_info = self._infos(fl, it, ended)
        obs2, _, fl2, it2 = self._reset(ended)
        next_obs = np.where(ended[:, None], obs2, obs)
        keep = ~ended
        fl2[keep] = fl[keep]
        it2[keep] = it[keep]
        infos = self._add_final(self._infos(fl2, it2), obs, final_info, ended)
        return next_obs, rew, term, trunc, infos

    def _infos(
        self, fl: np.ndarray, it: np.ndarray, mask: np.ndarray | None = None
    ) -> dict[str, Any]:
        """The single env's info keys as arrays (columns of ``fl``, ``it``), with ``_key`` masks."""
        m = self._all_true if mask is None else mask
        # Rows of the transposes: an integer index makes a view faster than fl[:, c] does.
        cols, int_cols = fl.T, it.T
        comps = {name: cols[c] for name, c in _COMP_COLS}
        comps.update(self._comp_masks if mask is None else {f"_{c}": m for c in COMPONENT_NAMES})
        return {
            "pnl": cols[_FL_PNL],
            "_pnl": m,
            "cash": cols[_FL_CASH],
            "_cash": m,
            "inventory": int_cols[_IT_INV],
            "_inventory": m,
            "mid": cols[_FL_MID],
            "_mid": m,
            "fills": int_cols[_IT_FILLS],
            "_fills": m,
            "step": int_cols[_IT_STEP],
            "_step": m,
            "reward_components": comps,
            "_reward_components": m,
        }

    # ------------------------------------------------------------------ the rest

    def render(self) -> tuple[str, ...] | None:
        """One text frame per sub-environment (a ``num_envs`` tuple), or None."""
        if not self._check_render():
            return None
        frames = []
        for i in range(self.num_envs):
            s, cash = float(self._fs[i, _F_S]), float(self._fs[i, _F_CASH])
            q = int(self._ins[i, _I_Q])
            wealth = float(cash + q * s)
            frames.append(
                f"step {int(self._ins[i, _I_T])}/{self._n_steps}  mid {s:.4f}  inventory {q:+d}"
                f"  cash {cash:+.4f}  wealth {wealth:+.4f}\n"
            )
        return tuple(frames)

    def policy_context(self, maker: str = "mm1") -> PolicyContext:
        """The :class:`~mm_gym.policy.PolicyContext` of a policy quoting as mm1 on the batch.

        Raises:
            ValueError: If ``maker`` is not ``"mm1"`` (the model has a single maker).
        """
        return intensity_policy_context(self, maker)

    def __repr__(self) -> str:
        """``IntensityMarketMakingVectorEnv(id, num_envs=N)``."""
        name = self.spec.id if self.spec is not None else "AS2008"
        return f"IntensityMarketMakingVectorEnv({name}, num_envs={self.num_envs})"
