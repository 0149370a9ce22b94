"""``MarketMakingEnv``: the single-agent Gymnasium environment (the learner is mm1)."""

from __future__ import annotations

import functools
import inspect
import sys
from typing import Any

import gymnasium as gym
import numpy as np

from mm_gym.actions import action_to_size, pair_offset_function
from mm_gym.config import REGIMES, MarketConfig, is_integer
from mm_gym.envs.config import EnvConfig, resolve_configs
from mm_gym.envs.core import (
    CoreEnvMixin,
    MarketCore,
    add_reward_components,
    check_render_mode,
    check_reward_info,
    check_rival,
    describe_value,
    make_action_space,
    make_observation_space,
    numeric_array,
)
from mm_gym.envs.render import HISTORY_STEPS, render_ansi, render_rgb
from mm_gym.envs.seeding import OneMarketEnv
from mm_gym.envs.seeding import rival_generator as _rival_generator
from mm_gym.rewards import COMPONENT_NAMES, step_reward

__all__ = ["ENV_KWARGS", "MarketMakingEnv"]

_INF = float("inf")
_ZERO_COMPONENTS = dict.fromkeys(COMPONENT_NAMES, 0.0)


def _info_dict(
    inv: float,
    cash: float,
    rival_inv: float,
    rival_cash: float,
    mid: float,
    t: int,
    env: MarketMakingEnv,
    components: dict[str, float],
) -> dict[str, Any]:
    """The info dict; the scalars passed are those the step reads anyway."""
    value = env._value
    info: dict[str, Any] = {
        "pnl": cash + inv * mid * value,
        "realized": env._realized.item(0),
        "unrealized": inv * (mid - env._avg.item(0)) * value,
        "fees": env._fees.item(0),
        "cash": cash,
        "inventory": int(inv),
        "mid": mid * env._tick,
        "fills": int(env._fills.item(0)),
        "regime": env._regime.item(0),
        "shock": env._shock.item(0) != 0,
        "step": t,
        "rival_pnl": rival_cash + rival_inv * mid * value,
        "rival_inventory": int(rival_inv),
    }
    if env._headlines_on:
        info["headline_score"] = env._headline_score.item(0)
        info["headline_index"] = env._headline.item(0)
    return add_reward_components(info, components, env._flat_reward_info)


class MarketMakingEnv(CoreEnvMixin, OneMarketEnv):
    """Market making on a simulated limit order book against a competing maker.

    ## Description

    The agent is market maker **mm1** in a limit order book with price-time priority, queue
    positions and integer ticks and lots. Each step (a unit of time with no calendar length: every
    rate is per step) it sets a bid and an ask around the mid; background limit orders arrive and
    cancel, noise and informed traders send market orders (the informed ones cause adverse
    selection), rare liquidity shocks send bursts of large orders, mostly against mm1's inventory,
    and a second maker, **mm2** (the rival), competes for the same flow. The regime (mean-reverting,
    trending with a drift that follows news sentiment, volatile, or a Markov switching mix of the
    three) acts on the price through order flow: liquidity is anchored on the book, and the hidden
    fundamental, the informed traders' target, reaches the price only through their orders
    (``price_formation="book"``, the default; ``"legacy"`` is the v0 market, which re-centres
    liquidity on a fundamental that follows the regime). The agent earns the spread and rebates, and
    bears inventory risk and adverse selection. See ``docs/ARCHITECTURE.md`` for the fixed order of
    events within a step.

    ## Action Space

    ``action_type="continuous"`` (default): ``Box(-1, 1, (2,), float32)``.

    | index | action | maps to |
    | --- | --- | --- |
    | 0 | bid offset | ``offset(a)`` ticks below the mid |
    | 1 | ask offset | ``offset(a)`` ticks above the mid |

    ``offset`` is set by ``action_mapping`` (see :mod:`mm_gym.actions`), continuous and
    increasing:

    | a | ``"touch"`` (default) | ``"mid"`` (the earlier default) |
    | --- | --- | --- |
    | -1 | 0 ticks, the mid: one tick inside the touch at a 2-3 tick spread | 0 |
    | 0 | 0.25 tick: at the touch at a 1-2 tick spread (the usual book) | ``max_offset_ticks / 2`` |
    | +1 | ``max_offset_ticks`` (10 by default) | ``max_offset_ticks`` |

    ``"touch"`` is linear on [-1, 0] and on [0, 1]; ``"mid"`` is ``(a + 1) / 2 *
    max_offset_ticks``, whose centre (5 ticks) is behind the book, where a fresh policy gets no
    fills and a zero reward. ``"spread_skew"`` (opt-in) reads index 0 as the half-spread ``s``
    (-1 the mid, 0 the touch, 0.3125 tick, every action up to 0.6 within half a tick, +1
    ``max_offset_ticks``) and index 1 as the skew ``k`` (0 on [-0.5, 0.5], then linear to
    ``+-max_offset_ticks / 4``; positive leans to selling): bid offset ``clip(s + k, 0,
    max_offset_ticks)``, ask offset ``clip(s - k, 0, max_offset_ticks)``. Both quotes have
    ``quote_size_lots`` lots.

    ``"continuous_sizes"``: ``Box(-1, 1, (4,))``, indices 2 and 3 the bid and ask sizes,
    ``rint((a + 1) / 2 * max_size_lots)`` lots (0: no quote). ``"discrete"``:
    ``Discrete(len(half_spreads) * len(skews))``; action ``i`` quotes half-spread
    ``h = half_spreads[i // len(skews)]`` and skew ``s = skews[i % len(skews)]``: bid offset
    ``max(h + s, 0)``, ask offset ``max(h - s, 0)``. Values outside [-1, 1] are clipped; NaN,
    infinite or wrongly shaped actions raise ``ValueError``, and so do bools, complex numbers and
    strings (a discrete action is a Python or numpy integer). Quote prices are
    ``floor(mid - bid_offset)`` and ``ceil(mid + ask_offset)`` (if they meet, the side adding
    exposure steps one tick away); quotes are post-only; an unchanged price with a size not larger
    than what rests keeps its queue position (a larger size re-joins at the back); at ``+mm1_limit``
    inventory mm1 cannot bid, at ``-mm1_limit`` it cannot ask.

    ## Observation Space

    ``Box(low, high, (17,), float32)`` (20 with ``observe_regime=True``, one more with
    ``observe_alpha=True``), from mm1's point of view (names in ``env.unwrapped.feature_names``):

    | index | feature | min | max | meaning |
    | --- | --- | --- | --- | --- |
    | 0 | inventory | -1 | 1 | inventory / mm1_limit |
    | 1 | time_left | 0 | 1 | (horizon_steps - t) / horizon_steps |
    | 2-6 | ret_1 .. ret_5 | -50 | 50 | last five mid changes, ticks (ret_1 newest) |
    | 7 | spread_ticks | 0 | 100 | best ask - best bid, ticks |
    | 8 | imbalance_l1 | -1 | 1 | (bid - ask) / (bid + ask) lots at the best prices |
    | 9 | imbalance_l5 | -1 | 1 | the same over the five ticks from each best price |
    | 10 | flow | -1 | 1 | EMA of signed market-order lots / EMA of absolute lots |
    | 11 | sentiment | -1 | 1 | observed news sentiment (EMA of news readings or headlines) |
    | 12 | volatility_ticks | 0 | 100 | EWMA realized volatility of the mid, ticks per step |
    | 13 | own_bid_offset | 0 | 100 | mid - own resting bid, ticks (100: none) |
    | 14 | own_ask_offset | 0 | 100 | own resting ask - mid, ticks (100: none) |
    | 15 | rival_bid_offset | 0 | 100 | mid - rival's resting bid, ticks (100: none) |
    | 16 | rival_ask_offset | 0 | 100 | rival's resting ask - mid, ticks (100: none) |
    | 17-19 | regime_* | 0 | 1 | one-hot of the regime (only with ``observe_regime``) |
    | last | alpha | -1 | 1 | ``clip(w_s * sentiment + w_i * imbalance_l1, -1, 1)`` (only with
    ``observe_alpha``; index 17 without the regime one-hot, 20 with it) |

    The fundamental price, latent sentiment and (by default) the regime are hidden. ``alpha``'s
    weights are ``process.alpha_sentiment_weight`` (``w_s``, 1) and
    ``process.alpha_imbalance_weight`` (``w_i``, 1).

    ## News headlines

    With ``news_model="vader"`` or ``"lm"`` (dotted ``process.news_model``; the extra ``news``)
    each news item is a headline drawn from a pre-scored bank (:mod:`mm_gym.news`) in the
    bucket of the latent sentiment, its lexicon score the reading, and the observed sentiment
    decays every step with half-life ``process.news_half_life_steps`` (140) before averaging
    the step's headlines in (weight ``process.alpha_smooth`` each). The market itself is the
    same as without headlines. ``env.unwrapped.headlines()`` lists the episode's headlines as
    ``HeadlineRecord(step, flat_index, bucket, score, text)``. ``news_file="news.csv"`` (a CSV
    or Parquet file with the columns ``timestamp, asset, headline``; ``news_asset`` picks one
    asset of several) replays your own headlines instead, at the same steps every episode:
    integer timestamps are env steps, date-times count ``process.news_seconds_per_step`` (1)
    seconds per step from the file's first. See ``docs/ARCHITECTURE.md``, "News headlines".

    ## Rewards

    Per step, in currency (one tick on one lot is ``tick_size * lot_size``, 1.0 by default), with
    ``W`` mm1's mark-to-market PnL (cash + inventory x mid) and ``q`` its inventory in lots:
    ``reward_scale * (dW - dampening * max(0, q_t * dmid) - inventory_penalty * q**2
    - [end] terminal_penalty * q**2)``. With ``penalty_timing="upfront"`` the two penalties are
    charged when the inventory is taken on and handed back when it is unwound (the same episode
    total for an episode that reaches its horizon or ends early; ``train.py`` trains this way).
    ``dampening`` is the asymmetric dampening of Spooner et al. (2018) (0, off, by default);
    with ``utility="cara"`` the PnL term is replaced by the CARA utility
    ``(1 - exp(-cara_gamma * W_T)) / cara_gamma`` paid at the end. The unscaled terms
    are in ``info["reward_components"]``; see :mod:`mm_gym.rewards`.

    ## Starting State

    Each episode starts from a book built by ``warmup_steps`` steps of background flow without
    makers, the fundamental at ``price0_ticks``, flat accounts for both makers, and the regime of
    the preset (drawn uniformly for ``switching``). Everything is drawn from the episode's seed.

    ## Episode End

    ``terminated=True`` after ``horizon_steps`` steps (time left is observed, so this is a true
    terminal state), or, with ``max_drawdown`` set, when mm1's PnL falls ``max_drawdown`` below
    its peak in the episode. ``truncated`` is always False (an outer ``TimeLimit`` may set it).
    Stepping a finished episode raises ``RuntimeError``.

    ## Arguments

    ``gym.make("mm_gym/MarketMaking-v1", **kwargs)`` with:

    - ``preset``: market preset (:func:`mm_gym.config.preset`); the registered ids fix it.
    - ``config``: a full :class:`~mm_gym.config.MarketConfig` (replaces the preset).
    - ``env_config``: a full :class:`~mm_gym.envs.config.EnvConfig`.
    - ``rival``: ``"builtin"`` or a :class:`~mm_gym.policy.QuotingPolicy` (see Rival).
    - ``render_mode``: None, ``"ansi"`` (text ladder), ``"rgb_array"`` (360x640 frame) or
      ``"human"`` (the text ladder written to standard output at every reset and step; there is
      no window, so no pygame; ``render()`` writes it too and returns None).
    - ``reward_info``: ``"nested"`` (default: ``info["reward_components"]``, a dict) or
      ``"flat"`` (scalar keys ``info["reward_pnl"]``, ``info["reward_inventory_pnl"]``, ... in
      its place, for readers of flat info dicts such as TorchRL's).
    - Any :class:`EnvConfig` field: ``action_type``, ``action_mapping``, ``max_offset_ticks``,
      ``quote_size_lots``, ``max_size_lots``, ``discrete_half_spreads_ticks``,
      ``discrete_skews_ticks``, ``observe_regime``, ``observe_alpha``, ``reward_scale``,
      ``inventory_penalty``, ``terminal_penalty``, ``penalty_timing``, ``dampening``,
      ``utility``, ``cara_gamma``, ``max_drawdown``.
    - Any :class:`~mm_gym.config.MarketConfig` field (``regime``, ``horizon_steps``, ...), nested
      ones as mappings or dotted keys (``**{"flow.shock_rate": 0.01}``), and the aliases
      ``mm1_limit`` / ``mm2_limit`` / ``news_model`` / ``news_file`` / ``news_asset``
      (``process.news_model``, ...).

    Invalid values raise :class:`~mm_gym.config.ConfigError`; an unknown keyword raises
    :class:`~mm_gym.config.UnknownKeywordError`, a ``ConfigError`` that is also a ``TypeError``
    worded as Python's ``"MarketMakingEnv() got an unexpected keyword argument 'k'"`` (so
    libraries that probe optional keywords, e.g. TorchRL's ``frameskip=``, fall back), with
    the list of valid keys.

    ## Rival

    By default mm2 is the simulator's built-in scripted maker (``rival.*`` config: fixed
    half-spread, centre skewed by its inventory and by recent order flow), run inside the
    compiled step. ``rival=`` any :class:`~mm_gym.policy.QuotingPolicy` makes it quote mm2
    instead: each step it gets mm2's observation (same features, from mm2's point of view) as a
    ``(1, d)`` batch and returns ``(1, 2)`` continuous actions (sizes ``quote_size_lots``); at
    each reset it gets ``reset(rng, context)`` with a generator derived from the episode seed.

    ## Policy Context

    ``env.unwrapped.policy_context(maker="mm1")`` returns the
    :class:`~mm_gym.policy.PolicyContext` a :class:`~mm_gym.policy.QuotingPolicy` needs to
    quote as ``maker`` (``"mm1"``, the agent, or ``"mm2"``, the rival): the observed feature
    names, ``max_offset_ticks``, ``horizon_steps``, the maker's inventory limit, ``tick_size``,
    ``quote_size_lots`` and ``action_mapping`` (a policy quoting in ticks converts with
    ``mm_gym.actions.offsets_to_actions(offsets, ctx.max_offset_ticks, ctx.action_mapping)``).
    Pass it to ``policy.reset(rng, context)`` before ``policy.act``; :func:`mm_gym.rollout` does
    this for you.

    ## Info

    Flat scalars after every ``reset`` and ``step``: ``pnl`` (mark-to-market, currency),
    ``realized`` (average-cost, fees excluded), ``unrealized``, ``fees`` (rebates - fees; ``pnl =
    realized + unrealized + fees``), ``cash``, ``inventory`` (lots), ``mid`` (price units),
    ``fills`` (mm1's fills this step), ``regime`` (0 mean_reverting, 1 trending, 2 volatile),
    ``shock`` (a liquidity shock traded this step), ``step``, ``rival_pnl``,
    ``rival_inventory``, and ``reward_components`` (a dict of floats: ``pnl``,
    ``inventory_pnl``, ``dampening``, ``inventory_penalty``, ``terminal_penalty``, ``utility``),
    or with ``reward_info="flat"`` the same floats as ``reward_pnl``, ``reward_inventory_pnl``,
    ... (no dict). With headlines on (``news_model`` set) also ``headline_score`` (the score of
    the step's last headline, NaN if none) and ``headline_index`` (its flat bank index
    ``b * N + j``, or its row in a replayed ``news_file``; -1 if none).

    ## Seeding

    ``reset(seed=s)`` makes the whole episode, and each following episode of ``reset()``
    calls, a function of ``s`` (see :mod:`mm_gym.envs.seeding`); the exogenous path (regime,
    sentiment, news) does not depend on the agent's actions (under ``"legacy"`` the fundamental
    neither; under ``"book"`` it is the mid plus the informed traders' gap). ``s`` is a
    Python or numpy integer in [0, 2**63); anything else (a bool, a float) raises ``TypeError``
    or ``ValueError``.

    ## Version History

    - v1 (0.2.0): the market's default price formation is ``"book"`` (liquidity anchored on the
      book, no free lunch in past returns; ``price_formation="legacy"`` gives the v0 market) and
      the default ``action_mapping`` is ``"touch"`` (action 0 at the touch;
      ``action_mapping="mid"`` gives the v0 mapping). v0 is no longer registered.
      ``reward_info`` added (the default is unchanged).
    - v0 (0.1.0): Initial release.
    """

    # Gymnasium declares metadata as an instance attribute, hence no ClassVar.
    metadata: dict[str, Any] = {  # noqa: RUF012
        "render_modes": ["ansi", "rgb_array", "human"],
        "render_fps": 20,
    }

    def __init__(
        self,
        preset: str = "default",
        *,
        config: MarketConfig | None = None,
        env_config: EnvConfig | None = None,
        rival: Any = "builtin",
        render_mode: str | None = None,
        reward_info: str = "nested",
        **overrides: Any,
    ) -> None:
        """Build the market; see the class docstring for the arguments."""
        policy = check_rival(rival)
        market, envc = resolve_configs(
            preset, config, env_config, overrides, extra_keys=ENV_KWARGS, owner=type(self).__name__
        )
        check_render_mode(render_mode, self.metadata["render_modes"])
        self._flat_reward_info = check_reward_info(reward_info)
        self.render_mode = render_mode
        self.market_config = market
        self.env_config = envc
        core = MarketCore(
            market,
            envc,
            1,
            builtin_rival=policy is None,
            history=HISTORY_STEPS if render_mode == "rgb_array" else 0,
            flat_reward_info=self._flat_reward_info,
        )
        self._core = core
        self._rival = policy
        self._rival_context = core.context(1) if policy is not None else None
        self.feature_names: tuple[str, ...] = core.feature_names
        self.action_space = make_action_space(envc)
        self.observation_space = make_observation_space(core.feature_names)
        self._bind()
        self._done = True
        self._started = False

    # ------------------------------------------------------------------ fast-path plumbing
    def _bind(self) -> None:
        """Cache the views and constants the per-step code reads (rebuilt after unpickling)."""
        c = self._core
        self._seeds = c  # the roots OneMarketEnv.reset sets
        # The quotes are the env's own (validated actions, a checked rival's): not re-checked.
        self._sim_step = c.sim.stepper(c.quotes)
        # Market 0 of the simulator's live views: (2,) per maker, (1,) per market.
        acc, sc = c.accounts, c.scalars
        self._inv = acc.inventory[0]
        self._cash = acc.cash[0]
        self._realized = acc.realized[0]
        self._avg = acc.avg_cost[0]
        self._fees = acc.fees[0]
        self._fills = acc.step_fills[0]
        self._mid = c.book.mid
        self._t = sc.t
        self._regime = sc.regime
        self._shock = sc.shock_step
        cols = c.obs_cols
        # A copy of mm1's observation: of a view when the columns lead the table (default).
        self._obs = (
            c.features[0, 0, cols].copy
            if isinstance(cols, slice)
            else functools.partial(np.take, c.features[0, 0], cols)
        )
        self._headlines_on = c.headline_bank is not None
        self._headline = sc.headline
        self._headline_score = sc.headline_score
        self._q0 = c.quotes[0, 0]
        self._value = c.value
        self._tick = c.tick_size
        self._horizon = c.horizon
        self._params = c.reward_params
        self._max_dd = c.max_drawdown
        self._offsets = pair_offset_function(c.max_offset, c.action_mapping)
        self._max_size = c.max_size
        self._offsets_rows = c.offsets_rows
        self._record = c.history_len > 0
        self._human = self.render_mode == "human"
        kind = self.env_config.action_type
        if kind == "continuous":
            self._write = self._write_continuous
        elif kind == "continuous_sizes":
            self._write = self._write_sizes
        else:
            self._write = self._write_discrete

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the cached views and bound methods (rebuilt by ``__setstate__``)."""
        state = self.__dict__.copy()
        for key in (
            "_sim_step",
            "_inv",
            "_cash",
            "_realized",
            "_avg",
            "_fees",
            "_fills",
            "_mid",
            "_t",
            "_regime",
            "_shock",
            "_obs",
            "_headline",
            "_headline_score",
            "_q0",
            "_offsets",
            "_write",
        ):
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore and rebuild the cached views onto the restored arrays."""
        self.__dict__.update(state)
        self._bind()

    def _bad_action(self, action: Any, why: str) -> ValueError:
        return ValueError(
            f"{type(self).__name__}.step: invalid action {describe_value(action)}: {why} "
            f"(action_space={self.action_space})"
        )

    def _floats(self, action: Any, width: int) -> list[float]:
        # Fast paths: the float array a policy returns, or a list of Python floats (kind "f"
        # and type float both exclude bools and complex numbers).
        values: list[float]
        if type(action) is np.ndarray and action.dtype.kind == "f" and action.shape == (width,):
            values = action.tolist()
        elif (
            type(action) is list and len(action) == width and all(type(x) is float for x in action)
        ):
            values = action
        else:
            arr = numeric_array(action, "fiu")
            if arr is None:
                raise self._bad_action(action, f"expected {width} real numbers")
            if arr.shape != (width,):
                raise self._bad_action(action, f"shape {arr.shape}, expected ({width},)")
            values = arr.astype(np.float64, copy=False).tolist()
        for x in values:
            if not -_INF < x < _INF:
                raise self._bad_action(action, "NaN or infinite value")
        return values

    def _write_continuous(self, action: Any) -> None:
        x0, x1 = self._floats(action, 2)
        q = self._q0
        # The scalar twin of MarketCore.write_actions' mapping, so vector == single.
        q[0], q[1] = self._offsets(x0, x1)

    def _write_sizes(self, action: Any) -> None:
        x0, x1, x2, x3 = self._floats(action, 4)
        q = self._q0
        q[0], q[1] = self._offsets(x0, x1)
        q[2] = action_to_size(x2, self._max_size)
        q[3] = action_to_size(x3, self._max_size)

    def _write_discrete(self, action: Any) -> None:
        if is_integer(action):
            i = int(action)
        elif isinstance(action, np.ndarray) and action.shape == () and action.dtype.kind in "iu":
            i = int(action)
        else:
            raise self._bad_action(action, "expected an integer")
        rows = self._offsets_rows
        if not 0 <= i < len(rows):
            raise self._bad_action(action, f"out of range [0, {len(rows) - 1}]")
        self._q0[0], self._q0[1] = rows[i]

    # ------------------------------------------------------------------ Gymnasium API
    def _start_episode(self) -> tuple[np.ndarray, dict[str, Any]]:
        c = self._core
        c.reset()
        self._prev_total = 0.0
        self._prev_inv = 0.0
        self._prev_mid = self._mid.item(0)
        self._peak = 0.0
        if self._rival is not None:
            assert self._rival_context is not None
            self._rival.reset(
                _rival_generator(int(c.roots[0]), int(c.episodes[0])), self._rival_context
            )
        self._done = False
        self._started = True
        if self.render_mode == "human":
            self.render()
        return self._obs(), self._info(dict(_ZERO_COMPONENTS))

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Quote ``action`` for one step; returns ``(obs, reward, terminated, truncated, info)``."""
        if self._done:
            raise RuntimeError(
                "step() called on a finished episode; call reset() first"
                if self._started
                else "step() called before reset()"
            )
        self._write(action)
        if self._rival is not None:
            self._core.write_rival_actions(self._rival.act(self._core.observations(1)))
        self._sim_step()
        if self._record:
            self._core.record_history()
        if self._headlines_on and self._headline.item(0) >= 0:  # a scalar test: most steps
            self._core.record_headlines()
        # Scalar twin of MarketCore.settle (same operations, same order).
        inv, rival_inv = self._inv.tolist()
        cash, rival_cash = self._cash.tolist()
        mid = self._mid.item(0)
        t = self._t.item(0)
        value = self._value
        total = cash + inv * mid * value
        pnl = total - self._prev_total
        inventory_pnl = self._prev_inv * (mid - self._prev_mid) * value
        terminated = t >= self._horizon
        if self._max_dd is not None:
            self._peak = peak = max(self._peak, total)
            if peak - total >= self._max_dd:
                terminated = True
        reward, components = step_reward(
            pnl,
            inventory_pnl,
            inv,
            terminated,
            total,
            self._params,
            (self._prev_inv, self._horizon - t),
        )
        self._prev_total = total
        self._prev_inv = inv
        self._prev_mid = mid
        self._done = terminated
        info = _info_dict(inv, cash, rival_inv, rival_cash, mid, t, self, components)
        if self._human:
            self.render()
        return self._obs(), reward, terminated, False, info

    def _info(self, components: dict[str, float]) -> dict[str, Any]:
        """The info dict of the current state (after a reset)."""
        inv, rival_inv = self._inv.tolist()
        cash, rival_cash = self._cash.tolist()
        mid, t = self._mid.item(0), self._t.item(0)
        return _info_dict(inv, cash, rival_inv, rival_cash, mid, t, self, components)

    def render(self) -> str | np.ndarray | None:
        """Render the current state ("ansi": text; "rgb_array": frame; "human": text to stdout)."""
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode= to make()")
            return None
        if not self._started:
            raise RuntimeError("render() called before reset()")
        if self.render_mode == "rgb_array":
            return render_rgb(self._core, 0)
        text = render_ansi(self._core, 0)
        if self.render_mode == "human":
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
            return None
        return text

    # ------------------------------------------------------------------ extras
    @property
    def regime_name(self) -> str:
        """Name of the current regime (hidden from the agent unless ``observe_regime``)."""
        return REGIMES[int(self._regime.item(0))]


ENV_KWARGS: tuple[str, ...] = tuple(
    name
    for name, p in inspect.signature(MarketMakingEnv).parameters.items()
    if p.kind is not p.VAR_KEYWORD
)
"""Constructor keywords besides the config overrides (read from :class:`MarketMakingEnv`'s)."""
