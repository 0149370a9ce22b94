"""The batched core shared by the single, vector and parallel environments.

:class:`MarketCore` owns one :class:`~mm_gym.market.MarketSimulator` of ``n`` markets and
everything the environments add around it: the seeding rule, the action-to-quote mapping, the
reward bookkeeping (previous PnL, inventory, mid, peak PnL) and the per-step read-out. The
vector environment uses it with ``n = num_envs``, the single and the parallel environments with
``n = 1``; the single environment replaces the batched read-out by a scalar twin for speed,
performing the same floating-point operations in the same order, so both agree bit for bit.

The seeding rule is :mod:`mm_gym.envs.seeding`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from gymnasium import spaces

from mm_gym.actions import actions_to_offsets, actions_to_sizes, discrete_offsets_table
from mm_gym.config import ConfigError, MarketConfig, excerpt, is_integer
from mm_gym.envs.config import EnvConfig
from mm_gym.envs.seeding import (
    RootSeeds,
)
from mm_gym.market import MarketSimulator
from mm_gym.market.simulator import PARALLEL_MIN_MARKETS
from mm_gym.observations import FEATURE_NAMES_ALL, feature_bounds, observed_feature_names
from mm_gym.policy import PolicyContext, QuotingPolicy
from mm_gym.rewards import COMPONENT_NAMES, RewardParams, step_reward

__all__ = [
    "HEADLINE_INFO_KEYS",
    "MAKERS",
    "REWARD_INFO_KEYS",
    "REWARD_INFO_MODES",
    "CoreEnvMixin",
    "HeadlineRecord",
    "MarketCore",
    "add_reward_components",
    "check_reward_info",
    "check_rival",
    "describe_value",
    "make_action_space",
    "make_observation_space",
    "maker_index",
    "numeric_array",
]

MAKERS: tuple[str, str] = ("mm1", "mm2")
"""The makers' names; maker ``k`` is ``MAKERS[k]`` (mm1 the learner, mm2 the rival)."""

REWARD_INFO_MODES: tuple[str, ...] = ("nested", "flat")
"""Values of the environments' ``reward_info`` keyword: the reward components as one
``info["reward_components"]`` dict (``"nested"``, the default) or as flat scalar keys
``info["reward_<component>"]`` (``"flat"``: what readers of flat info dicts, such as TorchRL's
default info reader, need)."""

REWARD_INFO_KEYS: dict[str, str] = {name: f"reward_{name}" for name in COMPONENT_NAMES}
"""The flat info key of each reward component (``"pnl"`` -> ``"reward_pnl"``)."""

HEADLINE_INFO_KEYS: tuple[str, str] = ("headline_score", "headline_index")
"""The info keys of an env with headlines (``process.news_model`` set): the score of the step's
last headline (NaN if none) and its flat bank index ``b * N + j`` (-1 if none); replaying a
headline file (``process.news_file``), its row in the file instead."""


class HeadlineRecord(NamedTuple):
    """One headline of an episode, as :meth:`CoreEnvMixin.headlines` lists it.

    Attributes:
        step: The env step it arrived in (1 for the first ``step()`` after a reset).
        flat_index: Its flat index ``b * N + j`` in the bank; replaying a headline file
            (``process.news_file``), its row in the file (0 the first after the header).
        bucket: ``b``, the latent-sentiment bucket it was drawn from (-1 for a file's).
        score: The scoring model's score, the value the observed sentiment averaged.
        text: The headline.
    """

    step: int
    flat_index: int
    bucket: int
    score: float
    text: str


def _holds_bool(value: Any) -> bool:
    """Whether a (nested) list or tuple holds a bool (numpy turns ``[True, 0.5]`` into floats)."""
    if isinstance(value, (bool, np.bool_)):
        return True
    return isinstance(value, (list, tuple)) and any(_holds_bool(x) for x in value)


def numeric_array(value: Any, kinds: str) -> np.ndarray | None:
    """``np.asarray(value)`` if it holds only numbers of the numpy dtype ``kinds``, else None.

    Args:
        value: An array or (nested) sequence.
        kinds: The accepted :attr:`numpy.dtype.kind` letters: ``"fiu"`` for real numbers,
            ``"iu"`` for integers. Bools (``"b"``), complex numbers (``"c"``), strings and
            objects are never numbers here, not even inside a list of floats.
    """
    if isinstance(value, np.ndarray):
        return value if value.dtype.kind in kinds else None
    try:
        a = np.asarray(value)
    except (TypeError, ValueError, OverflowError):  # ragged nesting, unconvertible objects
        return None
    if a.dtype.kind not in kinds or _holds_bool(value):
        return None
    return a


def describe_value(value: Any) -> str:
    """A short description of an action for error messages: dtype and shape, or type and value."""
    if isinstance(value, np.ndarray):
        return f"{value.dtype} array of shape {value.shape}: {excerpt(value, 60)}"
    return f"{type(value).__name__} {excerpt(value, 60)}"


def maker_index(maker: Any, who: str) -> int:
    """The index (0 or 1) of ``maker`` (``"mm1"`` or ``"mm2"``), or a ValueError naming ``who``."""
    if isinstance(maker, str) and maker in MAKERS:
        return MAKERS.index(maker)
    raise ValueError(f"{who}: maker={excerpt(maker)} is not valid: choose one of {list(MAKERS)}")


def _naming(space: Any) -> str:
    """`` (action_space=...)`` for an error message, or "" without a space.

    Called only on an error: a Box's repr costs tens of microseconds, too much for every step.
    """
    return "" if space is None else f" (action_space={space})"


def check_render_mode(render_mode: str | None, modes: Sequence[str]) -> None:
    """Raise ConfigError unless ``render_mode`` is None or one of ``modes``."""
    if render_mode is not None and render_mode not in modes:
        raise ConfigError(
            f"render_mode={excerpt(render_mode)} is not valid: choose None or one of {list(modes)}"
        )


def check_reward_info(reward_info: Any) -> bool:
    """Validate the ``reward_info`` keyword; return whether the flat keys are wanted.

    Raises:
        ConfigError: Unless ``reward_info`` is one of :data:`REWARD_INFO_MODES`.
    """
    if isinstance(reward_info, str) and reward_info in REWARD_INFO_MODES:
        return reward_info == "flat"
    raise ConfigError(
        f"reward_info={excerpt(reward_info)} is not valid: choose one of {list(REWARD_INFO_MODES)}"
    )


def check_rival(rival: Any) -> QuotingPolicy | None:
    """Validate the ``rival`` argument; return the policy, or None for the built-in rival.

    Raises:
        ConfigError: If ``rival`` is neither ``"builtin"`` nor a :class:`QuotingPolicy`.
    """
    if isinstance(rival, str):
        if rival == "builtin":
            return None
        raise ConfigError(
            f"rival={excerpt(rival)} is not valid: use 'builtin' or a QuotingPolicy object"
        )
    if isinstance(rival, QuotingPolicy) and callable(rival.act) and callable(rival.reset):
        return rival
    raise ConfigError(
        f"rival={excerpt(rival)} is not valid: use 'builtin' or a QuotingPolicy object (with a "
        "name, "
        "reset(rng, context) and act(obs) -> actions (n, 2) in [-1, 1]); tune the built-in "
        "rival with dotted keys, e.g. **{'rival.half_spread_ticks': 3.0}"
    )


def add_reward_components(
    info: dict[str, Any], components: dict[str, Any], flat: bool
) -> dict[str, Any]:
    """Put the reward components into ``info``; return ``info``.

    As one ``reward_components`` dict, or with ``flat`` as a ``reward_<component>`` key each
    (:data:`REWARD_INFO_KEYS`).
    """
    if flat:
        for name, part in components.items():
            info[REWARD_INFO_KEYS[name]] = part
    else:
        info["reward_components"] = components
    return info


def make_action_space(env_config: EnvConfig) -> spaces.Space[Any]:
    """The action space of one maker for ``env_config.action_type``."""
    if env_config.action_type == "continuous":
        return spaces.Box(-1.0, 1.0, (2,), np.float32)
    if env_config.action_type == "continuous_sizes":
        return spaces.Box(-1.0, 1.0, (4,), np.float32)
    n = len(env_config.discrete_half_spreads_ticks) * len(env_config.discrete_skews_ticks)
    return spaces.Discrete(n)


def observed_features(env_config: EnvConfig) -> tuple[str, ...]:
    """Names of the observed features (regime one-hot, ``alpha``: only when asked)."""
    return observed_feature_names(env_config.observe_regime, env_config.observe_alpha)


def observed_columns(names: tuple[str, ...]) -> slice | np.ndarray:
    """The simulator's feature columns of ``names``.

    A slice when they lead its table (the default: a view), else an index array
    (``observe_alpha`` without ``observe_regime``).
    """
    cols = [FEATURE_NAMES_ALL.index(n) for n in names]
    if cols == list(range(len(cols))):
        return slice(0, len(cols))
    return np.asarray(cols, dtype=np.intp)


def make_observation_space(feature_names: tuple[str, ...]) -> spaces.Box:
    """The float32 ``Box`` of the named features, with their finite bounds."""
    low, high = feature_bounds(feature_names)
    return spaces.Box(low, high, dtype=np.float32)


class MarketCore(RootSeeds):
    """``n`` markets with two makers each, plus the environment bookkeeping around them.

    Args:
        market_config: The market config (``fills="book"``).
        env_config: The environment options.
        n: Number of markets.
        builtin_rival: Whether mm2 is the simulator's built-in rival (``quotes[:, 1]`` ignored).
        history: Steps of mid and quotes kept per market for ``rgb_array`` rendering (0: none).
        flat_reward_info: Put the reward components in :meth:`infos` as flat
            ``reward_<component>`` keys instead of one ``reward_components`` dict.

    Attributes:
        sim: The simulator.
        parallel: Whether the simulator runs its parallel kernels (calls then hold a lock).
        quotes: ``(n, 2, 4)`` float64 quotes handed to the simulator each step.
        feature_names: The observed feature names.
        obs_dim: Number of observed features.
        obs_cols: Their columns in the simulator's features (:func:`observed_columns`).
        headline_bank: The simulator's :class:`~mm_gym.news.HeadlineBank`, or its
            :class:`~mm_gym.news.HeadlineReplay` replaying a file (None: no headlines).
        roots: ``(n,)`` uint64 root seeds (see the module docstring).
        episodes: ``(n,)`` int64 index of the current episode of each market.
    """

    def __init__(
        self,
        market_config: MarketConfig,
        env_config: EnvConfig,
        n: int,
        *,
        builtin_rival: bool,
        history: int = 0,
        flat_reward_info: bool = False,
    ) -> None:
        """Allocate the simulator and the bookkeeping arrays."""
        super().__init__(n)
        self.flat_reward_info = bool(flat_reward_info)
        self.market_config = market_config
        self.env_config = env_config
        self.sim = MarketSimulator(market_config, self.n, builtin_rival=builtin_rival)
        # The simulator's own rule for its default kernel choice (MarketCore never forces it).
        self.parallel = self.n >= PARALLEL_MIN_MARKETS
        self.builtin_rival = bool(builtin_rival)
        self.feature_names = observed_features(env_config)
        self.obs_dim = len(self.feature_names)
        self.obs_cols = observed_columns(self.feature_names)
        self.headline_bank = self.sim.headline_bank
        # (step, flat index) of each market's headlines in its current episode
        self.headline_log: list[list[tuple[int, int]]] = [[] for _ in range(self.n)]
        self.value = float(market_config.value_per_tick_lot)
        self.tick_size = float(market_config.tick_size)
        self.horizon = int(market_config.horizon_steps)
        self.limits = (int(market_config.makers.mm1_limit), int(market_config.makers.mm2_limit))
        self.reward_params = RewardParams.from_env_config(env_config)
        self.max_drawdown = env_config.max_drawdown
        self.max_offset = float(env_config.max_offset_ticks)
        self.action_mapping = env_config.action_mapping
        self.half_offset = 0.5 * self.max_offset
        self.quote_size = float(env_config.quote_size_lots)
        self.max_size = int(env_config.max_size_lots)
        self.half_size = 0.5 * self.max_size
        self.offsets_table = discrete_offsets_table(
            env_config.discrete_half_spreads_ticks, env_config.discrete_skews_ticks
        )
        self.offsets_rows = [tuple(r) for r in self.offsets_table.tolist()]
        self._bind_views()
        self.quotes = self.sim.quotes_buffer()
        self.quotes[:, :, 2:] = self.quote_size
        self.prev_total = np.zeros((self.n, 2))
        self.prev_inv = np.zeros((self.n, 2))
        self.prev_mid = np.zeros(self.n)
        self.peak = np.zeros((self.n, 2))
        self.history_len = int(history)
        self.hist = np.full((max(self.history_len, 1), self.n, 5), np.nan)
        self.hist_count = np.zeros(self.n, np.int64)

    def _bind_views(self) -> None:
        """Take the simulator's live read-only views (see :mod:`mm_gym.market.views`)."""
        sim = self.sim
        self.accounts = sim.accounts
        self.book = sim.book
        self.scalars = sim.scalars
        self.orders = sim.orders
        self.features = sim.features

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without :attr:`features` (a plain array view would unpickle as a copy)."""
        state = self.__dict__.copy()
        del state["features"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore, then take the views of the restored simulator again."""
        self.__dict__.update(state)
        # A core pickled before action_mapping existed: its EnvConfig unpickles as "mid".
        if "action_mapping" not in state:
            self.action_mapping = self.env_config.action_mapping
        self._bind_views()

    # ------------------------------------------------------------------ resets
    def reset(self, mask: np.ndarray | None = None) -> None:
        """Start the next episode of the markets in ``mask`` (default all)."""
        self.sim.reset(self.next_episode(mask), mask)
        m: slice | np.ndarray = slice(None) if mask is None else mask
        self.prev_total[m] = 0.0
        self.prev_inv[m] = 0.0
        self.peak[m] = 0.0
        self.prev_mid[m] = self.book.mid[m]
        if self.headline_bank is not None:
            for i in range(self.n) if mask is None else np.flatnonzero(mask):
                self.headline_log[i] = []
        if self.history_len:
            self.hist[:, m] = np.nan
            self.hist_count[m] = 0
            self.record_history(mask)

    def context(self, maker: int) -> PolicyContext:
        """The :class:`PolicyContext` of ``maker`` (0 mm1, 1 mm2)."""
        return PolicyContext(
            feature_names=self.feature_names,
            max_offset_ticks=self.max_offset,
            horizon_steps=self.horizon,
            inventory_limit=self.limits[maker],
            tick_size=self.tick_size,
            quote_size_lots=int(self.quote_size),
            action_mapping=self.action_mapping,
            maker=("mm1", "mm2")[maker],
        )

    # ------------------------------------------------------------------ stepping
    def advance(self, active: np.ndarray | None = None) -> None:
        """Step the markets (those with ``active[m]``, default all) with :attr:`quotes`."""
        # check=False: the actions were validated on the way in.
        self.sim.step(self.quotes, active, check=False)
        if self.history_len:
            self.record_history(active)
        if self.headline_bank is not None:
            self.record_headlines()

    def record_headlines(self) -> None:
        """Append the last step's headlines of every market to :attr:`headline_log`.

        A market not stepped keeps its record of the step before, which :attr:`headline_log`
        already holds: its step counter did not move, so it is skipped by step. Only markets
        with news in their last step have headlines to record (``headline`` keeps the last one).
        """
        sc = self.scalars
        for i in np.flatnonzero((sc.news > 0) & (sc.headline >= 0)):
            log, t = self.headline_log[i], int(sc.t[i])
            if log and log[-1][0] == t:
                continue
            log.extend((t, int(k)) for k in sc.headlines(int(i)))

    def headlines(self, m: int) -> list[HeadlineRecord]:
        """Market ``m``'s headlines in its current episode, oldest first, with their text."""
        bank = self.headline_bank
        assert bank is not None
        return [HeadlineRecord(t, k, *bank.lookup(k)) for t, k in self.headline_log[m]]

    def write_actions(
        self, actions: Any, maker: int, *, who: str = "actions", space: Any = None
    ) -> None:
        """Validate a batch of actions of ``maker`` and write them into :attr:`quotes`.

        Args:
            actions: ``(n, 2)`` / ``(n, 4)`` real numbers (floats or integers) for the continuous
                kinds, ``(n,)`` integers for ``"discrete"``; bools, complex numbers, strings and
                objects are refused.
            maker: 0 (mm1) or 1 (mm2).
            who: Name used in error messages (e.g. ``"MarketMakingVectorEnv.step: actions"``).
            space: The action space named in error messages (None: not named).

        Raises:
            ValueError: On a wrong type or shape, a NaN or infinite value, or a discrete index out
                of range.
        """
        kind = self.env_config.action_type
        q = self.quotes[:, maker]
        if kind == "discrete":
            a = numeric_array(actions, "iu")
            if a is None or a.shape != (self.n,):
                raise ValueError(
                    f"{who} must be integers of shape ({self.n},) for action_type='discrete'; "
                    f"got {describe_value(actions)}{_naming(space)}"
                )
            n_actions = len(self.offsets_rows)
            if a.size and (a.min() < 0 or a.max() >= n_actions):
                raise ValueError(
                    f"{who} {excerpt(a)} out of range: must lie in [0, {n_actions - 1}]"
                    f"{_naming(space)}"
                )
            q[:, :2] = self.offsets_table[a]
            return
        width = 2 if kind == "continuous" else 4
        numbers = numeric_array(actions, "fiu")
        if numbers is None:
            raise ValueError(
                f"{who} must be real numbers of shape ({self.n}, {width}); got "
                f"{describe_value(actions)}{_naming(space)}"
            )
        if numbers.shape != (self.n, width):
            raise ValueError(
                f"{who} has shape {numbers.shape}; expected ({self.n}, {width}) for "
                f"action_type={kind!r}{_naming(space)}"
            )
        a = numbers.astype(np.float64, copy=False)
        if not np.isfinite(a).all():
            bad = a[~np.isfinite(a).all(1)]
            raise ValueError(
                f"{who} contain NaN or infinite values: {excerpt(bad)}{_naming(space)}"
            )
        q[:, :2] = actions_to_offsets(a[:, :2], self.max_offset, self.action_mapping)
        if width == 4:
            q[:, 2:] = actions_to_sizes(a[:, 2:], self.max_size)

    def write_rival_actions(self, actions: Any) -> None:
        """Write a policy rival's ``(n, 2)`` continuous actions into mm2's quotes."""
        a = np.asarray(actions, dtype=np.float64)
        if a.shape != (self.n, 2):
            raise ValueError(
                f"the rival policy's actions have shape {a.shape}; expected ({self.n}, 2)"
            )
        if not np.isfinite(a).all():
            raise ValueError("the rival policy's actions contain NaN or infinite values")
        q = self.quotes[:, 1]
        q[:, :2] = actions_to_offsets(a, self.max_offset, self.action_mapping)
        q[:, 2:] = self.quote_size

    # ------------------------------------------------------------------ read-out
    def observations(self, maker: int) -> np.ndarray:
        """A copy of the ``(n, obs_dim)`` float32 observations of ``maker``."""
        return self.features[:, maker, self.obs_cols].copy()

    def settle(
        self, makers: int | slice
    ) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray, np.ndarray]:
        """Rewards for the step just taken, then roll the bookkeeping forward.

        Args:
            makers: ``0`` (mm1 only: single and vector env; arrays ``(n,)``) or ``slice(None)``
                (both makers: parallel env; arrays ``(n, 2)``). A drawdown breach of any maker
                settled here ends the episode.

        Returns:
            ``(reward, components {name: array}, terminated (n,), pnl)``, the last being the
            makers' mark-to-market PnL (for :meth:`infos`).
        """
        acc = self.accounts
        one = isinstance(makers, int)
        inv = acc.inventory[:, makers]
        mid = self.book.mid
        mid_b = mid if one else mid[:, None]
        prev_mid_b = self.prev_mid if one else self.prev_mid[:, None]
        total = acc.cash[:, makers] + inv * mid_b * self.value
        pnl = total - self.prev_total[:, makers]
        inventory_pnl = self.prev_inv[:, makers] * (mid_b - prev_mid_b) * self.value
        terminated = self.scalars.t >= self.horizon
        if self.max_drawdown is not None:
            peak = np.maximum(self.peak[:, makers], total)
            self.peak[:, makers] = peak
            breach = (peak - total) >= self.max_drawdown
            terminated |= breach if one else breach.any(axis=1)
        # A float flag multiplies like the single env's Python bool (x * 1.0 == x * True).
        flag = terminated.astype(np.float64)
        left = self.horizon - self.scalars.t
        reward, comps = step_reward(
            pnl,
            inventory_pnl,
            inv,
            flag if one else flag[:, None],
            total,
            self.reward_params,
            (self.prev_inv[:, makers], left if one else left[:, None]),
        )
        self.prev_total[:, makers] = total
        self.prev_inv[:, makers] = inv
        self.prev_mid[:] = mid
        return reward, comps, terminated, total

    def infos(
        self,
        maker: int,
        components: dict[str, np.ndarray] | None,
        pnl: np.ndarray | None = None,
    ) -> dict[str, Any]:
        """The batched info dict of ``maker`` (arrays ``(n,)``), without the ``_key`` masks.

        The reward components come as one ``reward_components`` dict of arrays, or as flat
        ``reward_<component>`` arrays with :attr:`flat_reward_info`.

        Args:
            maker: 0 (mm1) or 1 (mm2).
            components: The maker's reward components (None: zeros, after a reset).
            pnl: The maker's PnL ``(n,)`` from :meth:`settle` (computed if None).
        """
        k, r = maker, 1 - maker
        acc, sc = self.accounts, self.scalars
        mid = self.book.mid
        value = self.value
        # Snapshots: the views are live, an info must keep this step's values.
        if pnl is None:
            pnl = acc.cash[:, k] + acc.inventory[:, k] * mid * value
        info: dict[str, Any] = {
            "pnl": pnl,
            "realized": acc.realized[:, k].copy(),
            "unrealized": acc.inventory[:, k] * (mid - acc.avg_cost[:, k]) * value,
            "fees": acc.fees[:, k].copy(),
            "cash": acc.cash[:, k].copy(),
            "inventory": acc.inventory[:, k].astype(np.int64),
            "mid": mid * self.tick_size,
            "fills": acc.step_fills[:, k].astype(np.int64),
            "regime": sc.regime.copy(),
            "shock": sc.shock_step != 0,
            "step": sc.t.copy(),
            "rival_pnl": acc.cash[:, r] + acc.inventory[:, r] * mid * value,
            "rival_inventory": acc.inventory[:, r].astype(np.int64),
        }
        if self.headline_bank is not None:
            score_key, index_key = HEADLINE_INFO_KEYS
            info[score_key] = sc.headline_score.copy()
            info[index_key] = sc.headline.copy()
        if components is None:
            components = dict.fromkeys(COMPONENT_NAMES, np.zeros(self.n))
        return add_reward_components(info, components, self.flat_reward_info)

    # ------------------------------------------------------------------ rendering support
    def record_history(self, mask: np.ndarray | None = None) -> None:
        """Append the current mid and both makers' quotes (ticks; NaN if none) to the history.

        Args:
            mask: The markets to record (default all).
        """
        idx = np.arange(self.n) if mask is None else np.flatnonzero(mask)
        pos = self.hist_count[idx] % self.history_len
        ticks = self.orders.tick[idx].reshape(len(idx), 4).astype(np.float64)
        ticks[self.orders.size[idx].reshape(len(idx), 4) <= 0] = np.nan
        self.hist[pos, idx, 0] = self.book.mid[idx]
        self.hist[pos, idx, 1:] = ticks
        self.hist_count[idx] += 1

    def history(self, m: int) -> np.ndarray:
        """The ``(steps, 5)`` history of market ``m``, oldest first.

        Columns: mid, mm1 bid, mm1 ask, mm2 bid, mm2 ask, in ticks.
        """
        count = int(self.hist_count[m])
        w = self.history_len
        if count <= w:
            return self.hist[:count, m].copy()
        start = count % w
        return np.concatenate([self.hist[start:, m], self.hist[:start, m]])


class CoreEnvMixin:
    """What the book environments (single, vector, parallel) read straight from their core."""

    _core: MarketCore

    def policy_context(self, maker: str = "mm1") -> PolicyContext:
        """The :class:`~mm_gym.policy.PolicyContext` of a policy quoting as ``maker``.

        In the vector environment the policy acts on the whole ``(num_envs, d)`` batch of
        observations, with the single environment's context.

        Args:
            maker: ``"mm1"`` (the agent) or ``"mm2"`` (the rival, e.g. for a policy passed as
                ``rival=``; the second agent of the parallel environment).

        Raises:
            ValueError: If ``maker`` is neither ``"mm1"`` nor ``"mm2"``.
        """
        return self._core.context(maker_index(maker, f"{type(self).__name__}.policy_context"))

    def headlines(self, env_index: int = 0) -> list[HeadlineRecord]:
        """The headlines of the current episode, oldest first (``process.news_model`` set).

        Each a :class:`HeadlineRecord` ``(step, index, bucket, score, text)``; the text is
        looked up in the bank (or the replayed file, ``process.news_file``) here, never in the
        step. At most four per step are listed (see
        :meth:`mm_gym.market.views.ScalarsView.headlines`).

        Args:
            env_index: The sub-environment (vector env); 0 in the single and parallel envs.

        Raises:
            ValueError: If the env has no headlines, or ``env_index`` is out of range.
        """
        core = self._core
        who = f"{type(self).__name__}.headlines"
        if core.headline_bank is None:
            raise ValueError(
                f"{who}: this env has no headlines; make it with news_model='vader' or 'lm' "
                "(**{'process.news_model': 'vader'})"
            )
        if not is_integer(env_index) or not 0 <= env_index < core.n:
            raise ValueError(f"{who}: env_index={excerpt(env_index)} must be in [0, {core.n})")
        return core.headlines(int(env_index))

    @property
    def simulator(self) -> Any:
        """The underlying :class:`~mm_gym.market.MarketSimulator`, for read-only use.

        One market, or ``num_envs`` in the vector environment.
        """
        return self._core.sim
