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

from mm_gym.config import MarketConfig
from mm_gym.envs.core import describe_value, numeric_array
from mm_gym.envs.intensity import IntensityMarketMakingEnv, intensity_policy_context
from mm_gym.envs.pcg64 import seed_stream, step_double
from mm_gym.envs.seeding import RootSeeds
from mm_gym.envs.vector_base import NativeVectorEnv, check_num_envs
from mm_gym.market.intensity import _MAX_EXPONENT
from mm_gym.policy import PolicyContext
from mm_gym.rewards import COMPONENT_NAMES, cara_utility

__all__ = ["IntensityMarketMakingVectorEnv"]

_MID, _FILL = 0, 1  # the two child streams of IntensityMarket.reset: mid path, fill uniforms
# Rows of the float64 output block of one step (fresh each step: the infos hold views of it).
_R_REWARD, _R_PNL, _R_CASH, _R_MID = 0, 1, 2, 3
_R_COMP = 4  # then the reward components, in COMPONENT_NAMES order
_N_FLOAT_ROWS = _R_COMP + len(COMPONENT_NAMES)
# The rows of the reward components, by name.
_C_PNL = _R_COMP + COMPONENT_NAMES.index("pnl")
_C_INV_PNL = _R_COMP + COMPONENT_NAMES.index("inventory_pnl")
_C_DAMP = _R_COMP + COMPONENT_NAMES.index("dampening")
_C_RUNNING = _R_COMP + COMPONENT_NAMES.index("inventory_penalty")
_C_TERMINAL = _R_COMP + COMPONENT_NAMES.index("terminal_penalty")
_C_UTILITY = _R_COMP + COMPONENT_NAMES.index("utility")
# Rows of the int64 block: inventory, fills this step, step index.
_R_INV, _R_FILLS, _R_STEP = 0, 1, 2


# The state of the sub-environments: float64 columns of ``fs`` (n, 6) and int64 columns of
# ``ins`` (n, 2), and the scalar parameters in one float64 array ``pr`` (every integer in it is
# far below 2**53, so exact), which keeps the compiled call's arguments few (each costs time).
_F_S, _F_CASH, _F_PREV_W, _F_PREV_Q, _F_PREV_S, _F_PEAK = range(6)
_I_Q, _I_T = range(2)
(
    _P_S0, _P_Q0, _P_DS, _P_LIMIT, _P_N_STEPS, _P_OBS_LIMIT, _P_MAX_DD, _P_SCALE, _P_INV_PEN,
    _P_TERM_PEN, _P_DAMP, _P_NEG_K, _P_HALF_DELTA, _P_A_DT, _P_FLAGS, _P_BAND,
) = range(16)  # fmt: skip
_N_PARAMS = 16
# _P_FLAGS bits: an inventory limit on fills, a drawdown limit, the CARA utility.
_HAS_LIMIT, _HAS_DD, _CARA, _UPFRONT = 1, 2, 4, 8

# Fill decisions without numpy's exp. exp(z) = 2**(z / ln 2) = 2**n * 2**f with n an integer
# and |f| <= 1/2; 2**f from its Taylor series to degree 7 (truncation below 6e-9 relative, in
# Estrin's scheme for a short dependency chain), 2**n exactly. A decision is taken from this value
# only when the uniform lies outside p * (1 -+ _BAND), over a hundred times wider than the
# error, so it is the decision numpy's exp gives; inside the band (about 2e-6 * p of the
# draws) numpy decides.
_LOG2E = 1.4426950408889634
_C0, _C1, _C2, _C3, _C4, _C5, _C6, _C7 = (math.log(2.0) ** k / math.factorial(k) for k in range(8))
_BAND = 1e-6
_UNSURE = 2  # a decision code besides 0 (no fill) and 1 (fill)


@nb.njit(cache=True, inline="always")
def _decide(u: float, z: float, a_dt: float, band: float) -> int:
    """Whether ``u < min(a_dt * exp(z), 1)`` (the "linear" fill), or ``_UNSURE``."""
    if not -700.0 <= z <= 700.0:
        return _UNSURE
    y = z * _LOG2E
    n = math.floor(y + 0.5)
    f = y - n
    f2 = f * f
    e = ((_C0 + _C1 * f) + f2 * (_C2 + _C3 * f)) + (f2 * f2) * (
        (_C4 + _C5 * f) + f2 * (_C6 + _C7 * f)
    )
    k = int(n)
    # 2**k: exact as 1 / 2**-k in the usual range (z = -k * delta <= 0); ldexp, slower, else.
    p = a_dt * e / float(1 << -k) if -62 <= k <= 0 else a_dt * math.ldexp(e, k)
    # Without branches (the uniform makes them unpredictable): 1, 0 or _UNSURE.
    below, above = u < p * (1.0 - band), u >= p * (1.0 + band)
    return np.int64(below) + _UNSURE * np.int64(not (below or above))


@nb.njit(cache=True, inline="always")
def _write_outputs(i, fs, ins, pr, obs, fl, it):
    """Observation and info rows of sub-environment ``i`` (the single env's ``_obs``, ``_info``)."""
    q, t = ins[i, _I_Q], ins[i, _I_T]
    x = q / pr[_P_OBS_LIMIT]
    obs[i, 0] = np.float32(min(max(x, -1.0), 1.0))
    obs[i, 1] = np.float32((pr[_P_N_STEPS] - t) / pr[_P_N_STEPS])
    fl[_R_PNL, i] = fs[i, _F_CASH] + q * fs[i, _F_S]
    fl[_R_CASH, i] = fs[i, _F_CASH]
    fl[_R_MID, i] = fs[i, _F_S]
    it[_R_INV, i] = q
    it[_R_STEP, i] = t


@nb.njit(cache=True)
def _reset_kernel(mask, seeds, rng, fs, ins, pr, obs, fl, it):
    """Reset the masked sub-environments; write every observation and info row.

    As ``IntensityMarket.reset(seed)`` and the single env's ``reset`` do.
    """
    s0, q0 = pr[_P_S0], pr[_P_Q0]
    scratch = np.empty(17, np.uint64)
    for i in range(fs.shape[0]):
        if mask[i]:
            seed_stream(rng, i, _MID, seeds[i], scratch)
            seed_stream(rng, i, _FILL, seeds[i], scratch)
            fs[i, _F_S] = s0
            fs[i, _F_CASH] = 0.0
            fs[i, _F_PREV_W] = 0.0 + q0 * s0
            fs[i, _F_PREV_Q] = q0
            fs[i, _F_PREV_S] = s0
            fs[i, _F_PEAK] = fs[i, _F_PREV_W]
            ins[i, _I_Q] = np.int64(q0)
            ins[i, _I_T] = 0
            for r in range(fl.shape[0]):
                fl[r, i] = 0.0
            it[_R_FILLS, i] = 0
        _write_outputs(i, fs, ins, pr, obs, fl, it)


@nb.njit(cache=True)
def _step_kernel(stepping, a, p_exact, rng, fs, ins, pr, buf, obs, fl, it, term):
    """One step of the sub-environments in ``stepping``.

    ``IntensityMarket.step``, then the reward of ``IntensityMarketMakingEnv.step``, operation
    for operation (so bit-identical).

    ``p_exact`` (``(n, 2)``) are the fill probabilities when the caller computed them
    (``"poisson"``), else empty. ``buf`` ``(n, 6)`` receives the distances (bid, ask), the
    uniforms (bid, ask, mid) and, in column 5, the fill decisions ``dec_bid + 4 * dec_ask``.

    Returns:
        0 when done; -1 (nothing drawn) if an action is NaN or infinite; else the number of
        fill decisions left to the caller (code ``_UNSURE``), who then calls
        :func:`_apply_kernel` (the uniforms are drawn, nothing else has changed).
    """
    n = a.shape[0]
    for i in range(n):
        for j in range(2):
            x = float(a[i, j])
            if not -np.inf < x < np.inf:
                return -1
    exact = p_exact.shape[0] == n
    neg_k, half, a_dt, band = pr[_P_NEG_K], pr[_P_HALF_DELTA], pr[_P_A_DT], pr[_P_BAND]
    unsure = 0
    for i in range(n):
        if not stepping[i]:
            continue
        # IntensityMarket.step: the fill stream draws (bid, ask), then the mid stream one.
        # (Through scalars: a compiled helper taking the array costs its reference counting.)
        hi, lo, u0 = step_double(
            rng[i, _FILL, 0], rng[i, _FILL, 1], rng[i, _FILL, 2], rng[i, _FILL, 3]
        )
        hi, lo, u1 = step_double(hi, lo, rng[i, _FILL, 2], rng[i, _FILL, 3])
        rng[i, _FILL, 0], rng[i, _FILL, 1] = hi, lo
        hi, lo, buf[i, 4] = step_double(
            rng[i, _MID, 0], rng[i, _MID, 1], rng[i, _MID, 2], rng[i, _MID, 3]
        )
        rng[i, _MID, 0], rng[i, _MID, 1] = hi, lo
        # actions.action_to_offset, "mid": (clip(a, -1, 1) + 1) * (0.5 * max_delta).
        d0 = (min(max(float(a[i, 0]), -1.0), 1.0) + 1.0) * half
        d1 = (min(max(float(a[i, 1]), -1.0), 1.0) + 1.0) * half
        if exact:
            c0 = 1 if u0 < p_exact[i, 0] else 0
            c1 = 1 if u1 < p_exact[i, 1] else 0
        else:
            # IntensityMarket.fill_probability: a_dt * exp(min(-k * delta, 700)).
            c0 = _decide(u0, min(neg_k * d0, _MAX_EXPONENT), a_dt, band)
            c1 = _decide(u1, min(neg_k * d1, _MAX_EXPONENT), a_dt, band)
            if c0 == _UNSURE or c1 == _UNSURE:
                unsure += (c0 == _UNSURE) + (c1 == _UNSURE)
        buf[i, 0], buf[i, 1], buf[i, 2], buf[i, 3] = d0, d1, u0, u1
        buf[i, 5] = c0 + 4 * c1
    if unsure:
        return unsure
    _apply(stepping, fs, ins, pr, buf, obs, fl, it, term)
    return 0


@nb.njit(cache=True)
def _apply_kernel(stepping, fs, ins, pr, buf, obs, fl, it, term):
    """The rest of :func:`_step_kernel` once the caller has decided the unsure fills."""
    _apply(stepping, fs, ins, pr, buf, obs, fl, it, term)


@nb.njit(cache=True, inline="always")
def _apply(stepping, fs, ins, pr, buf, obs, fl, it, term):
    """Fills, accounting, mid move and reward (the CARA utility is left to the caller)."""
    flags = int(pr[_P_FLAGS])
    has_limit, has_dd, cara = flags & _HAS_LIMIT, flags & _HAS_DD, flags & _CARA
    upfront = flags & _UPFRONT
    limit, ds, n_steps, obs_limit = pr[_P_LIMIT], pr[_P_DS], pr[_P_N_STEPS], pr[_P_OBS_LIMIT]
    scale, inv_pen, term_pen, damping = pr[_P_SCALE], pr[_P_INV_PEN], pr[_P_TERM_PEN], pr[_P_DAMP]
    for i in range(fs.shape[0]):
        if not stepping[i]:
            continue
        code = int(buf[i, 5])
        bid_filled = (code & 3) == 1
        ask_filled = (code >> 2) == 1
        q = ins[i, _I_Q]
        if has_limit:
            bid_filled = bid_filled and q < limit
            ask_filled = ask_filled and q > -limit
        si = fs[i, _F_S]
        bid_price = si - buf[i, 0]
        ask_price = si + buf[i, 1]
        cash = fs[i, _F_CASH] + (
            (ask_price if ask_filled else 0.0) - (bid_price if bid_filled else 0.0)
        )
        q += np.int64(bid_filled) - np.int64(ask_filled)
        # AS (2008) section 3.3: the mid moves up or down by sigma*sqrt(dt), equally likely.
        sf = si + (ds if buf[i, 4] < 0.5 else -ds)
        t = ins[i, _I_T] + 1
        fs[i, _F_S], fs[i, _F_CASH] = sf, cash
        ins[i, _I_Q], ins[i, _I_T] = q, t
        it[_R_FILLS, i] = np.int64(bid_filled) + np.int64(ask_filled)
        # IntensityMarketMakingEnv.step and rewards.step_reward.
        qf = float(q)
        wealth = cash + qf * sf
        terminated = t >= n_steps
        if has_dd:
            fs[i, _F_PEAK] = max(fs[i, _F_PEAK], wealth)
            terminated = terminated or fs[i, _F_PEAK] - wealth >= pr[_P_MAX_DD]
        pnl = wealth - fs[i, _F_PREV_W]
        inv_pnl = fs[i, _F_PREV_Q] * (sf - fs[i, _F_PREV_S])
        q2 = qf * qf
        if upfront:
            # the first step pays the start inventory (q0) in full (intensity.py, upfront)
            p2 = fs[i, _F_PREV_Q] * fs[i, _F_PREV_Q] if t > 1 else 0.0
            left = n_steps - t
            held = left * (0.0 if terminated else 1.0)
            running = inv_pen * ((1.0 + held) * q2 - (1.0 + left) * p2)
            terminal_pen = term_pen * (q2 - p2)
        else:
            running = inv_pen * q2
            terminal_pen = term_pen * q2 * (1.0 if terminated else 0.0)
        damp = damping * max(inv_pnl, 0.0)
        if cara:
            utility = 0.0  # the caller writes the utility of the terminal steps
            reward = scale * (utility - running - terminal_pen)
        else:
            utility = 0.0 * pnl
            reward = scale * (pnl - damp - running - terminal_pen)
        fs[i, _F_PREV_W], fs[i, _F_PREV_Q], fs[i, _F_PREV_S] = wealth, qf, sf
        term[i] = terminated
        fl[_R_REWARD, i] = reward
        fl[_C_PNL, i] = pnl
        fl[_C_INV_PNL, i] = inv_pnl
        fl[_C_DAMP, i] = damp
        fl[_C_RUNNING, i] = running
        fl[_C_TERMINAL, i] = terminal_pen
        fl[_C_UTILITY, i] = utility
        # The single env's _obs and _info (written here, not by a helper: a compiled call that
        # takes arrays costs reference counting on each, most of the step's time).
        obs[i, 0] = np.float32(min(max(q / obs_limit, -1.0), 1.0))
        obs[i, 1] = np.float32((n_steps - t) / n_steps)
        fl[_R_PNL, i] = cash + q * sf
        fl[_R_CASH, i] = cash
        fl[_R_MID, i] = sf
        it[_R_INV, i] = q
        it[_R_STEP, i] = t


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
        self._pr = pr
        self.single_action_space = template.action_space
        self.single_observation_space = template.observation_space
        self.action_space = batch_space(self.single_action_space, n)
        self.observation_space = batch_space(self.single_observation_space, n)
        self._rng = np.zeros((n, 2, 4), np.uint64)
        self._fs = np.zeros((n, 6))
        self._ins = np.zeros((n, 2), np.int64)
        self._seeds = RootSeeds(n)
        self._buf = np.zeros((n, 6))  # the step's distances, uniforms and fill decisions
        self._no_p = np.zeros((0, 2))

    # ------------------------------------------------------------------ reset

    def _reset_batch(
        self, seed: int | list[int | None] | None, mask: np.ndarray | None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset the masked sub-environments (all on None) by :func:`_reset_kernel`."""
        full = mask is None or bool(mask.all())
        m = self._all_true if mask is None else mask
        self._seeds.set_roots(seed, self.np_random, m)
        obs, fl, it = self._reset(m)
        self._autoreset[m] = False
        self._started = True
        return obs, self._infos(fl, it, None if full else m)

    def _reset(
        self, m: np.ndarray, out: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Start the next episode of the sub-environments of ``m`` by :func:`_reset_kernel`.

        Returns the observations and the info blocks (written into ``out`` if given).
        """
        n = self.num_envs
        if out is None:
            out = (
                np.empty((n, 2), np.float32),
                np.zeros((_N_FLOAT_ROWS, n)),
                np.zeros((3, n), np.int64),
            )
        obs, fl, it = out
        seeds = self._seeds.next_episode(m)
        _reset_kernel(m, seeds, self._rng, self._fs, self._ins, self._pr, obs, fl, it)
        return obs, fl, it

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

    def _decide_unsure(self, stepping: np.ndarray, buf: np.ndarray) -> None:
        """Decide the fills :func:`_step_kernel` left unsure with numpy's ``exp``."""
        code = buf[:, 5].astype(np.int64)
        for j, shift in ((0, 0), (1, 2)):
            c = (code >> shift) & 3
            where = stepping & (c == _UNSURE)
            if where.any():
                filled = buf[where, 2 + j] < self._fill_probability(buf[where, j].copy())
                c[where] = filled
            code = code & ~(3 << shift) | (c << shift)
        buf[:, 5] = code

    def _step_batch(
        self, actions: Any, auto: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """One compiled step; the ``auto`` ones reset instead (``NEXT_STEP``)."""
        any_auto = auto.any()
        a = self._checked_actions(actions)
        n = self.num_envs
        obs = np.empty((n, 2), np.float32)
        fl = np.empty((_N_FLOAT_ROWS, n))
        it = np.empty((3, n), np.int64)
        stepping = np.logical_not(auto, out=self._stepping) if any_auto else self._all_true
        terminated = np.zeros(n, np.bool_)
        if self.fill_model == "linear":
            p_exact = self._no_p
        else:
            p_exact = self._fill_probability(self._distances(a))
        fs, ins, pr, buf = self._fs, self._ins, self._pr, self._buf
        unsure = _step_kernel(
            stepping, a, p_exact, self._rng, fs, ins, pr, buf, obs, fl, it, terminated
        )
        if unsure < 0:
            raise self._bad_action(actions, "NaN or infinite value")
        if unsure > 0:  # rare (see _BAND): numpy's exp decides, as in the single env
            self._decide_unsure(stepping, buf)
            _apply_kernel(stepping, fs, ins, pr, buf, obs, fl, it, terminated)
        if any_auto:  # NEXT_STEP only: these return their reset observation instead
            self._reset(auto, (obs, fl, it))
        rp = self._params
        if rp.cara and terminated.any():
            # rewards.step_reward: utility = cara_utility(W_T) on the terminal step.
            util = np.where(terminated, cara_utility(fl[_R_PNL], rp.cara_gamma), 0.0)
            fl[_C_UTILITY] = util
            fl[_R_REWARD] = rp.scale * (util - fl[_C_RUNNING] - fl[_C_TERMINAL])
        truncated = self._truncated(self._ins[:, _I_T]) & stepping
        ended = terminated | truncated
        reward = fl[_R_REWARD]
        if self._same_step_reset(ended):
            final_info = self._infos(fl, it, ended)
            obs2, fl2, it2 = self._reset(ended)
            next_obs = np.where(ended[:, None], obs2, obs)
            keep = ~ended
            fl2[:, keep] = fl[:, keep]
            it2[:, keep] = it[:, keep]
            infos = self._add_final(self._infos(fl2, it2), obs, final_info, ended)
            return next_obs, reward.copy(), terminated, truncated, infos
        self._end_step(ended)
        return obs, reward, terminated, truncated, self._infos(fl, it)

    def _infos(
        self, fl: np.ndarray, it: np.ndarray, mask: np.ndarray | None = None
    ) -> dict[str, Any]:
        """The single env's info keys as arrays, with Gymnasium's ``_key`` masks."""
        m = self._all_true if mask is None else mask
        comps = {name: fl[_R_COMP + j] for j, name in enumerate(COMPONENT_NAMES)}
        comps.update({f"_{name}": m for name in COMPONENT_NAMES})
        return {
            "pnl": fl[_R_PNL],
            "_pnl": m,
            "cash": fl[_R_CASH],
            "_cash": m,
            "inventory": it[_R_INV],
            "_inventory": m,
            "mid": fl[_R_MID],
            "_mid": m,
            "fills": it[_R_FILLS],
            "_fills": m,
            "step": it[_R_STEP],
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
