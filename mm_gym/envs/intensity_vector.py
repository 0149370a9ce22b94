"""``IntensityMarketMakingVectorEnv``: ``num_envs`` AS2008 intensity markets in one compiled call.

Registered as the ``vector_entry_point`` of ``mm_gym/AS2008-v0``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numba as nb
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from mm_gym.actions import LEGACY_ACTION_MAPPING
from mm_gym.config import ConfigError, MarketConfig, excerpt
from mm_gym.envs.core import (
    check_seeds,
    describe_value,
    episode_seeds,
    maker_index,
    numeric_array,
)
from mm_gym.envs.intensity import IntensityMarketMakingEnv
from mm_gym.envs.pcg64 import next_double, seed_stream
from mm_gym.envs.vector import _check_max_episode_steps, check_autoreset_mode
from mm_gym.market.intensity import _MAX_EXPONENT
from mm_gym.policy import PolicyContext
from mm_gym.rewards import COMPONENT_NAMES, cara_utility

__all__ = ["IntensityMarketMakingVectorEnv"]

_MASK64 = (1 << 64) - 1
_MID, _FILL = 0, 1  # the two child streams of IntensityMarket.reset: mid path, fill uniforms
# Rows of the float64 output block of one step (fresh each step: the infos hold views of it).
_R_REWARD, _R_PNL, _R_CASH, _R_MID = 0, 1, 2, 3
_R_COMP = 4  # then the reward components, in COMPONENT_NAMES order
_N_FLOAT_ROWS = _R_COMP + len(COMPONENT_NAMES)
_C_PNL, _C_INV_PNL, _C_DAMP, _C_RUNNING, _C_TERMINAL, _C_UTILITY = range(
    _R_COMP, _N_FLOAT_ROWS
)
assert COMPONENT_NAMES == (
    "pnl",
    "inventory_pnl",
    "dampening",
    "inventory_penalty",
    "terminal_penalty",
    "utility",
)
# Rows of the int64 block: inventory, fills this step, step index.
_R_INV, _R_FILLS, _R_STEP = 0, 1, 2


@nb.njit(cache=True)
def _reset_one(i, seed, rng, s, q, cash, t, acc, s0, q0):  # type: ignore[no-untyped-def]
    """Start sub-environment ``i``'s next episode as ``IntensityMarket.reset(seed)`` does."""
    seed_stream(rng, i, _MID, seed)
    seed_stream(rng, i, _FILL, seed)
    s[i] = s0
    q[i] = q0
    cash[i] = 0.0
    t[i] = 0
    # acc: previous wealth, inventory and mid, and the peak wealth (IntensityMarketMakingEnv).
    acc[i, 0] = 0.0 + q0 * s0
    acc[i, 1] = float(q0)
    acc[i, 2] = s0
    acc[i, 3] = acc[i, 0]


@nb.njit(cache=True)
def _write_outputs(i, s, q, cash, t, n_steps, obs_limit, obs, fl, it):  # type: ignore[no-untyped-def]
    """Observation and info rows of sub-environment ``i`` (as the single env's ``_obs``/``_info``)."""
    x = q[i] / obs_limit
    obs[i, 0] = np.float32(min(max(x, -1.0), 1.0))
    obs[i, 1] = np.float32((n_steps - t[i]) / n_steps)
    fl[_R_PNL, i] = cash[i] + q[i] * s[i]
    fl[_R_CASH, i] = cash[i]
    fl[_R_MID, i] = s[i]
    it[_R_INV, i] = q[i]
    it[_R_STEP, i] = t[i]


@nb.njit(cache=True)
def _reset_kernel(mask, seeds, rng, s, q, cash, t, acc, s0, q0, n_steps, obs_limit, obs, fl, it):  # type: ignore[no-untyped-def]
    """Reset the masked sub-environments; write every observation and info row."""
    for i in range(s.shape[0]):
        if mask[i]:
            _reset_one(i, seeds[i], rng, s, q, cash, t, acc, s0, q0)
            for r in range(fl.shape[0]):
                fl[r, i] = 0.0
            it[_R_FILLS, i] = 0
        _write_outputs(i, s, q, cash, t, n_steps, obs_limit, obs, fl, it)


@nb.njit(cache=True)
def _step_kernel(  # type: ignore[no-untyped-def]
    stepping, p, d, rng, s, q, cash, t, acc, ds, limit, has_limit, n_steps, obs_limit,
    max_drawdown, has_drawdown, scale, inv_penalty, term_penalty, dampening, cara, obs, fl, it, term,
):
    """One step of the sub-environments in ``stepping`` (``IntensityMarket.step`` then the
    reward of ``IntensityMarketMakingEnv.step``, operation for operation, so bit-identical);
    the CARA utility, which needs numpy's ``exp``, is left to the caller."""
    for i in range(s.shape[0]):
        if not stepping[i]:
            continue
        # IntensityMarket.step: the fill stream draws (bid, ask), then the mid stream one.
        u0 = next_double(rng, i, _FILL)
        u1 = next_double(rng, i, _FILL)
        up = next_double(rng, i, _MID) < 0.5
        bid_filled = u0 < p[i, 0]
        ask_filled = u1 < p[i, 1]
        if has_limit:
            bid_filled = bid_filled and q[i] < limit
            ask_filled = ask_filled and q[i] > -limit
        si = s[i]
        bid_price = si - d[i, 0]
        ask_price = si + d[i, 1]
        cash[i] += (ask_price if ask_filled else 0.0) - (bid_price if bid_filled else 0.0)
        q[i] += np.int64(bid_filled) - np.int64(ask_filled)
        # AS (2008) section 3.3: the mid moves up or down by sigma*sqrt(dt), equally likely.
        s[i] = si + (ds if up else -ds)
        t[i] += 1
        it[_R_FILLS, i] = np.int64(bid_filled) + np.int64(ask_filled)
        # IntensityMarketMakingEnv.step and rewards.step_reward.
        qf = float(q[i])
        sf = s[i]
        wealth = cash[i] + qf * sf
        terminated = t[i] >= n_steps
        if has_drawdown:
            acc[i, 3] = max(acc[i, 3], wealth)
            terminated = terminated or acc[i, 3] - wealth >= max_drawdown
        pnl = wealth - acc[i, 0]
        inv_pnl = acc[i, 1] * (sf - acc[i, 2])
        q2 = qf * qf
        running = inv_penalty * q2
        terminal_pen = term_penalty * q2 * (1.0 if terminated else 0.0)
        damp = dampening * max(inv_pnl, 0.0)
        if cara:
            utility = 0.0  # the caller writes the utility of the terminal steps
            reward = scale * (utility - running - terminal_pen)
        else:
            utility = 0.0 * pnl
            reward = scale * (pnl - damp - running - terminal_pen)
        acc[i, 0], acc[i, 1], acc[i, 2] = wealth, qf, sf
        term[i] = terminated
        fl[_R_REWARD, i] = reward
        fl[_C_PNL, i] = pnl
        fl[_C_INV_PNL, i] = inv_pnl
        fl[_C_DAMP, i] = damp
        fl[_C_RUNNING, i] = running
        fl[_C_TERMINAL, i] = terminal_pen
        fl[_C_UTILITY, i] = utility
        _write_outputs(i, s, q, cash, t, n_steps, obs_limit, obs, fl, it)


class IntensityMarketMakingVectorEnv(VectorEnv):
    """``num_envs`` copies of :class:`~mm_gym.envs.intensity.IntensityMarketMakingEnv`.

    Made by ``gym.make_vec("mm_gym/AS2008-v0", num_envs=N)`` (the registered
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
    metadata: dict[str, Any] = {  # noqa: RUF012
        "render_modes": ["ansi"],
        "render_fps": 20,
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }

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
        if (
            isinstance(num_envs, bool)
            or not isinstance(num_envs, (int, np.integer))
            or num_envs < 1
        ):
            raise ConfigError(f"num_envs={excerpt(num_envs)} must be an integer >= 1")
        # The single environment checks every shared argument (UnknownKeywordError included)
        # and is the template the sub-environments copy; it is never stepped.
        template = IntensityMarketMakingEnv(preset, config=config, **kwargs)
        mode = check_autoreset_mode(autoreset_mode)
        self.max_episode_steps = _check_max_episode_steps(max_episode_steps)
        self.metadata = {**self.metadata, "autoreset_mode": mode}
        self.autoreset_mode = mode
        self.num_envs = n = int(num_envs)
        self.render_mode = template.render_mode
        self.market_config = template.market_config
        self.env_config = template.env_config
        self.max_delta = template.max_delta
        self.inventory_limit = template.inventory_limit
        self.feature_names = template.feature_names
        self._template = template
        market = template._market
        model = market.config
        self.fill_model = market.fill_model
        self._limit = market.inventory_limit  # None: no bound on fills (the paper)
        self._n_steps = market.n_steps
        self._s0, self._q0 = float(model.s0), int(model.q0)
        self._a_dt, self._k, self._ds = market._a_dt, market._k, market._ds
        self._params = template._params
        self.single_action_space = template.action_space
        self.single_observation_space = template.observation_space
        self.action_space = batch_space(self.single_action_space, n)
        self.observation_space = batch_space(self.single_observation_space, n)
        self._rng = np.zeros((n, 2, 4), np.uint64)
        self._s = np.full(n, self._s0)
        self._q = np.full(n, self._q0, np.int64)
        self._cash = np.zeros(n)
        self._t = np.zeros(n, np.int64)
        self._acc = np.zeros((n, 4))
        self._roots = np.zeros(n, np.uint64)
        self._episodes = np.zeros(n, np.int64)
        self._seeded = False
        self._started = False
        self._autoreset = np.zeros(n, np.bool_)
        self._stepping = np.ones(n, np.bool_)
        self._all_true = np.ones(n, np.bool_)
        self._half_delta = 0.5 * self.max_delta

    # ------------------------------------------------------------------ reset

    def reset(
        self,
        *,
        seed: int | Sequence[int | None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every sub-environment, or those of ``options["reset_mask"]``.

        Args:
            seed: None, an int (sub-environment ``i`` gets ``seed + i``) or ``num_envs`` ints
                or Nones.
            options: None, or ``{"reset_mask": mask}`` with ``mask`` a bool numpy array
                ``(num_envs,)`` holding at least one True.

        Raises:
            TypeError: On a seed or mask of the wrong type.
            ValueError: On a seed out of range, a sequence of the wrong length, or a mask of the
                wrong shape or without a True entry.
            RuntimeError: On a masked reset before the first full one.
        """
        who = f"{type(self).__name__}.reset"
        seed = check_seeds(seed, self.num_envs, who)
        mask = self._reset_mask(options, who)
        if mask is not None and not self._started and not mask.all():
            raise RuntimeError(f"{who}: a reset_mask needs a first reset() of every sub-env")
        super().reset(seed=seed if isinstance(seed, int) else None)
        full = mask is None or bool(mask.all())
        m = self._all_true if mask is None else mask
        self._set_roots(seed, m)
        obs, fl, it = self._reset(m)
        self._autoreset[m] = False
        self._started = True
        return obs, self._infos(fl, it, None if full else m)

    def _set_roots(self, seed: int | list[int | None] | None, m: np.ndarray) -> None:
        """Root seeds as the single env's ``reset``: a seed restarts the episode count."""
        n = self.num_envs
        if seed is None:
            if self._seeded:
                self._episodes[m] += 1
                return
            base = int(self.np_random.integers(0, 2**63))
            roots = (base + np.arange(n, dtype=np.uint64)) & np.uint64(_MASK64)
            fresh = m
        elif isinstance(seed, int):
            roots = np.uint64(seed & _MASK64) + np.arange(n, dtype=np.uint64)  # wraps mod 2**64
            fresh = m
        else:
            roots = self._roots.copy()
            fresh = m.copy()
            for i, s in enumerate(seed):
                if not m[i]:
                    continue
                if s is not None:
                    roots[i] = np.uint64(s & _MASK64)
                elif not self._seeded:
                    roots[i] = np.uint64(int(self.np_random.integers(0, 2**63)))
                else:
                    fresh[i] = False
        self._episodes[m & ~fresh] += 1
        self._roots[fresh] = roots[fresh]
        self._episodes[fresh] = 0
        self._seeded = True

    def _reset(self, m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Reset the sub-environments of ``m`` (episode counters already set)."""
        n = self.num_envs
        obs = np.empty((n, 2), np.float32)
        fl = np.zeros((_N_FLOAT_ROWS, n))
        it = np.zeros((3, n), np.int64)
        seeds = episode_seeds(self._roots, self._episodes)
        _reset_kernel(
            m, seeds, self._rng, self._s, self._q, self._cash, self._t, self._acc,
            self._s0, self._q0, self._n_steps, self.inventory_limit, obs, fl, it,
        )  # fmt: skip
        return obs, fl, it

    def _reset_mask(self, options: dict[str, Any] | None, who: str) -> np.ndarray | None:
        """The ``reset_mask`` of ``options``, checked as Gymnasium's vector envs do."""
        if not options or "reset_mask" not in options:
            return None
        mask = options["reset_mask"]
        if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_:
            raise TypeError(
                f"{who}: options['reset_mask'] must be a bool numpy array of shape "
                f"({self.num_envs},); got {excerpt(mask)}"
            )
        if mask.shape != (self.num_envs,) or not mask.any():
            raise ValueError(
                f"{who}: options['reset_mask'] must have shape ({self.num_envs},) and at least "
                f"one True entry; got {excerpt(mask)}"
            )
        return mask

    # ------------------------------------------------------------------ step

    def _distances(self, actions: Any) -> np.ndarray:
        """Actions ``(num_envs, 2)`` to distances in currency (the ``"mid"`` mapping)."""
        a = actions
        if not (isinstance(a, np.ndarray) and a.dtype.kind == "f"):
            a = numeric_array(actions, "fiu")
            if a is None:
                raise self._bad_action(actions, f"expected {self.num_envs}x2 real numbers")
        if a.shape != (self.num_envs, 2):
            raise self._bad_action(actions, f"shape {a.shape}, expected ({self.num_envs}, 2)")
        x = a.astype(np.float64)
        # sum is NaN for any NaN or infinity (inf - inf, inf + x) and finite otherwise.
        if not np.isfinite(x.sum()) and not np.isfinite(x).all():
            raise self._bad_action(actions, "NaN or infinite value")
        # actions.action_to_offset, "mid": (clip(a, -1, 1) + 1) * (0.5 * max_delta).
        np.clip(x, -1.0, 1.0, out=x)
        x += 1.0
        x *= self._half_delta
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

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every sub-environment; see the class docstring for autoreset and infos.

        Raises:
            RuntimeError: Before the first reset, or with ``autoreset_mode=DISABLED`` when a
                sub-environment has ended and was not reset.
            ValueError: On invalid actions.
        """
        if not self._started:
            raise RuntimeError("step() called before reset()")
        mode = self.autoreset_mode
        auto = self._autoreset
        any_auto = auto.any()
        if mode == AutoresetMode.DISABLED and any_auto:
            raise RuntimeError(
                f"step() called on ended sub-environments {np.flatnonzero(auto).tolist()} "
                "with autoreset_mode=DISABLED: call reset(options={'reset_mask': mask}) first"
            )
        d = self._distances(actions)
        p = self._fill_probability(d * 1.0)
        n = self.num_envs
        if any_auto:  # NEXT_STEP only: these return their reset observation instead
            self._episodes[auto] += 1
            obs, fl, it = self._reset(auto)
            stepping = np.logical_not(auto, out=self._stepping)
        else:
            obs = np.empty((n, 2), np.float32)
            fl = np.empty((_N_FLOAT_ROWS, n))
            it = np.empty((3, n), np.int64)
            stepping = self._all_true
        terminated = np.zeros(n, np.bool_)
        rp = self._params
        dd = self.env_config.max_drawdown
        _step_kernel(
            stepping, p, d, self._rng, self._s, self._q, self._cash, self._t, self._acc,
            self._ds, 0 if self._limit is None else self._limit, self._limit is not None,
            self._n_steps, self.inventory_limit, 0.0 if dd is None else float(dd),
            dd is not None, rp.scale, rp.inventory_penalty, rp.terminal_penalty, rp.dampening,
            rp.cara, obs, fl, it, terminated,
        )  # fmt: skip
        if rp.cara and terminated.any():
            # rewards.step_reward: utility = cara_utility(W_T) on the terminal step.
            util = np.where(terminated, cara_utility(fl[_R_PNL], rp.cara_gamma), 0.0)
            fl[_C_UTILITY] = util
            fl[_R_REWARD] = rp.scale * (util - fl[_C_RUNNING] - fl[_C_TERMINAL])
        if self.max_episode_steps is None:
            truncated = np.zeros(n, np.bool_)
        else:
            truncated = self._t >= self.max_episode_steps
            truncated &= stepping
        ended = terminated | truncated
        reward = fl[_R_REWARD]
        if mode == AutoresetMode.SAME_STEP and ended.any():
            final_obs = np.full(n, None, dtype=object)
            for i in np.flatnonzero(ended).tolist():
                final_obs[i] = obs[i]
            final_info = self._infos(fl, it, ended)
            self._episodes[ended] += 1
            obs2, fl2, it2 = self._reset(ended)
            obs = np.where(ended[:, None], obs2, obs)
            keep = ~ended
            fl2[:, keep] = fl[:, keep]
            it2[:, keep] = it[:, keep]
            infos = self._infos(fl2, it2)
            infos["final_obs"], infos["_final_obs"] = final_obs, ended
            infos["final_info"], infos["_final_info"] = final_info, ended
            return obs, reward.copy(), terminated, truncated, infos
        # NEXT_STEP autoresets these on the next step; DISABLED refuses to step them.
        self._autoreset = ended if mode != AutoresetMode.SAME_STEP else np.zeros_like(ended)
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
        if self.render_mode is None:
            return None
        if not self._started:
            raise RuntimeError("render() called before reset()")
        frames = []
        for i in range(self.num_envs):
            s, q, cash = self._s[i], int(self._q[i]), self._cash[i]
            wealth = float(cash + q * s)
            frames.append(
                f"step {int(self._t[i])}/{self._n_steps}  mid {s:.4f}  inventory {q:+d}"
                f"  cash {cash:+.4f}  wealth {wealth:+.4f}\n"
            )
        return tuple(frames)

    def policy_context(self, maker: str = "mm1") -> PolicyContext:
        """The :class:`~mm_gym.policy.PolicyContext` of a policy quoting as mm1 on the batch.

        Raises:
            ValueError: If ``maker`` is not ``"mm1"`` (the model has a single maker).
        """
        who = f"{type(self).__name__}.policy_context"
        if maker_index(maker, who) != 0:
            raise ValueError(f"{who}: maker={maker!r}: the intensity model has only 'mm1'")
        return PolicyContext(
            feature_names=self.feature_names,
            max_offset_ticks=self.max_delta,
            horizon_steps=self._n_steps,
            inventory_limit=self.inventory_limit,
            tick_size=1.0,
            quote_size_lots=1,
            action_mapping=LEGACY_ACTION_MAPPING,
        )

    def __repr__(self) -> str:
        """``IntensityMarketMakingVectorEnv(id, num_envs=N)``."""
        name = self.spec.id if self.spec is not None else "AS2008"
        return f"IntensityMarketMakingVectorEnv({name}, num_envs={self.num_envs})"
