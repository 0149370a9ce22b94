"""``MarketSimulator``: the batched limit-order-book market, driven from Python.

One object holds ``n_markets`` independent markets as arrays (:mod:`mm_gym.market.state`) and
advances all of them with one compiled call per step (:mod:`mm_gym.market.kernels`).

Example:
    >>> import numpy as np
    >>> from mm_gym.config import MarketConfig
    >>> from mm_gym.market import MarketSimulator
    >>> sim = MarketSimulator(MarketConfig(), n_markets=4)
    >>> sim.reset(np.arange(4))
    >>> quotes = sim.quotes_buffer()        # (4, 2, 4): bid_off, ask_off, bid_lots, ask_lots
    >>> quotes[:, 0] = [2.0, 2.0, 1, 1]     # mm1 quotes 2 ticks either side of the mid
    >>> res = sim.step(quotes)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mm_gym.config import ConfigError, MarketConfig
from mm_gym.market import kernels
from mm_gym.market.params import pack_params
from mm_gym.market.state import (
    A_AVG,
    A_CASH,
    A_FEES,
    A_INV,
    A_REALIZED,
    F_FUND,
    F_MID,
    F_SENT_OBS,
    F_SENT_X,
    I_BASE,
    I_REGIME,
    I_SHOCK_STEP,
    I_T,
    MarketState,
    allocate,
)

PARALLEL_MIN_MARKETS = 64  # below this the thread launch costs more than it saves


@dataclass(frozen=True)
class StepResult:
    """Live views of the markets' state after a step (overwritten in place by the next step).

    Attributes:
        mid: ``(n,)`` mid in ticks.
        inventory: ``(n, 2)`` each maker's inventory, lots.
        features: ``(n, 2, N_FEATURES_ALL)`` float32 observation features per maker.
    """

    mid: np.ndarray
    inventory: np.ndarray
    features: np.ndarray


class MarketSimulator:
    """``n_markets`` limit-order-book markets, two makers each, stepped in one compiled call.

    Args:
        config: The market config (``fills`` must be ``"book"``; the intensity model lives in
            :mod:`mm_gym.market.intensity`).
        n_markets: Batch size (>= 1).
        builtin_rival: If True, mm2 quotes with the config's built-in rival inside the compiled
            step and ``quotes[:, 1]`` is ignored.
        record: If True, each step's maker fills and market orders are recorded
            (:attr:`state` ``fills``/``mos``) for analysis; off it saves time.
        parallel: Force the parallel (True) or serial (False) kernel; by default parallel from
            :data:`PARALLEL_MIN_MARKETS` markets on. Results are identical either way.
    """

    def __init__(
        self,
        config: MarketConfig,
        n_markets: int = 1,
        *,
        builtin_rival: bool = True,
        record: bool = False,
        parallel: bool | None = None,
    ) -> None:
        """Allocate the state arrays and pick the kernels (see the class docstring)."""
        if not isinstance(config, MarketConfig):
            raise ConfigError(f"config={config!r} must be a MarketConfig")
        if config.fills != "book":
            raise ConfigError(
                f"fills={config.fills!r}: MarketSimulator runs the book; use "
                "mm_gym.market.intensity for fills='intensity'"
            )
        if (
            isinstance(n_markets, bool)
            or not isinstance(n_markets, (int, np.integer))
            or n_markets < 1
        ):
            raise ConfigError(f"n_markets={n_markets!r} must be an integer >= 1")
        self.config = config
        self.n_markets = int(n_markets)
        self.builtin_rival = bool(builtin_rival)
        self.record = bool(record)
        self.P, self.Q = pack_params(config)
        self.state: MarketState = allocate(self.n_markets, config.n_levels)
        self._quotes = np.zeros((self.n_markets, 2, 4), np.float64)
        self._all = np.ones(self.n_markets, np.bool_)
        self._parallel = self.n_markets >= PARALLEL_MIN_MARKETS if parallel is None else parallel
        self._bind_kernels()
        self._value = config.tick_size * config.lot_size
        self._reset_done = False
        st = self.state
        self._result = StepResult(st.fs[:, F_MID], st.acct[:, :, A_INV], st.features)

    def _bind_kernels(self) -> None:
        self._step = kernels.step_parallel if self._parallel else kernels.step_serial
        self._reset = kernels.reset_markets if self._parallel else kernels.reset_markets_serial

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the arrays, not the compiled kernels (they pickle by value and recompile)."""
        state = self.__dict__.copy()
        del state["_step"], state["_reset"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore the arrays and re-bind the module's compiled kernels."""
        self.__dict__.update(state)
        self._bind_kernels()

    # ------------------------------------------------------------------ driving
    def quotes_buffer(self) -> np.ndarray:
        """A zeroed ``(n_markets, 2, 4)`` float64 quotes array.

        Per maker: bid offset, ask offset (ticks from the mid), bid size, ask size (lots; 0 means
        no quote).
        """
        return np.zeros((self.n_markets, 2, 4), np.float64)

    def reset(self, seeds: np.ndarray | int, mask: np.ndarray | None = None) -> None:
        """Start new episodes.

        Args:
            seeds: One non-negative integer seed per market (or one int for market ``i`` to get
                ``seed + i``). A market's whole episode is a function of its seed alone.
            mask: Reset only the markets where ``mask`` is True (default: all).
        """
        n = self.n_markets
        if np.isscalar(seeds):
            if isinstance(seeds, (bool, np.bool_)) or not isinstance(seeds, (int, np.integer)):
                raise ValueError(f"seeds={seeds!r} must be a non-negative integer")
            if not 0 <= int(seeds) <= 2**64 - 1 - n:
                raise ValueError(f"seeds={seeds!r} is out of range: must be in [0, 2**64 - 1 - n]")
            seeds = np.uint64(int(seeds)) + np.arange(n, dtype=np.uint64)
        s = np.asarray(seeds)
        if s.shape != (n,):
            raise ValueError(f"seeds has shape {s.shape}; expected ({n},)")
        if s.dtype.kind not in "iu" or (s.dtype.kind == "i" and (s < 0).any()):
            raise ValueError(f"seeds must be non-negative integers, got {s!r}")
        m = self._all if mask is None else np.asarray(mask, dtype=np.bool_)
        if m.shape != (n,):
            raise ValueError(f"mask has shape {m.shape}; expected ({n},)")
        st = self.state
        self._reset(
            s.astype(np.uint64), m, self.config.warmup_steps, self.P, self.Q, self._quotes,
            st.fs, st.is_, st.rng, st.bid_vol, st.ask_vol, st.orders, st.acct, st.others,
            st.rets, st.features, st.fills, st.n_fills, st.mos, st.n_mos,
        )  # fmt: skip
        self._reset_done = True

    def step(
        self, quotes: np.ndarray, active: np.ndarray | None = None, *, check: bool = True
    ) -> StepResult:
        """Advance every market (or those with ``active[m]``) by one step.

        Args:
            quotes: ``(n_markets, 2, 4)`` float64: per maker bid offset, ask offset (ticks from
                the mid, finite), bid size, ask size (lots >= 0). ``quotes[:, 1]`` is ignored
                with the built-in rival.
            active: Optional boolean mask of the markets to step.
            check: Validate ``quotes`` and ``active`` (shape, dtype, finite, sizes >= 0). Callers
                that validated them already (the environments) pass False to save the time.

        Raises:
            ValueError: On a quotes array of the wrong shape or dtype, non-finite values or
                negative sizes, naming what is wrong.
        """
        if not self._reset_done:
            raise RuntimeError("call reset() before step()")
        if check:
            self._check_step_input(quotes, active)
        st = self.state
        self._step(
            self.P, self.Q, quotes, self._all if active is None else active, self.builtin_rival,
            self.record, st.fs, st.is_, st.rng, st.bid_vol, st.ask_vol, st.orders, st.acct,
            st.others, st.rets, st.features, st.fills, st.n_fills, st.mos, st.n_mos,
        )  # fmt: skip
        return self._result

    def _check_step_input(self, quotes: Any, active: Any) -> None:
        shape = (self.n_markets, 2, 4)
        if not isinstance(quotes, np.ndarray) or quotes.dtype != np.float64:
            raise ValueError(
                f"quotes must be a float64 numpy array of shape {shape} (see quotes_buffer()), "
                f"got {type(quotes).__name__} {getattr(quotes, 'dtype', '')}"
            )
        if quotes.shape != shape:
            raise ValueError(f"quotes has shape {quotes.shape}; expected {shape}")
        if not quotes.flags.c_contiguous:
            raise ValueError("quotes must be C-contiguous (use np.ascontiguousarray)")
        if not np.isfinite(quotes).all():
            bad = np.argwhere(~np.isfinite(quotes))[0]
            raise ValueError(f"quotes{tuple(int(i) for i in bad)} is not finite")
        if (quotes[:, :, 2:] < 0).any():
            raise ValueError("quotes sizes (columns 2 and 3) must be >= 0 lots")
        if active is not None:
            a = np.asarray(active)
            if a.dtype != np.bool_ or a.shape != (self.n_markets,):
                raise ValueError(
                    f"active must be a bool array of shape ({self.n_markets},), "
                    f"got {a.dtype} {a.shape}"
                )

    # ------------------------------------------------------------------ views
    @property
    def t(self) -> np.ndarray:
        """Steps since each market's episode started."""
        return self.state.is_[:, I_T]

    @property
    def mid(self) -> np.ndarray:
        """Mid per market, ticks."""
        return self.state.fs[:, F_MID]

    @property
    def fundamental(self) -> np.ndarray:
        """Fundamental per market, ticks (hidden from agents)."""
        return self.state.fs[:, F_FUND]

    @property
    def regime(self) -> np.ndarray:
        """Current regime code per market (0 mean_reverting, 1 trending, 2 volatile)."""
        return self.state.is_[:, I_REGIME]

    @property
    def sentiment(self) -> np.ndarray:
        """Observed sentiment per market."""
        return self.state.fs[:, F_SENT_OBS]

    @property
    def latent_sentiment(self) -> np.ndarray:
        """Latent sentiment ``tanh(x)`` per market (hidden from agents)."""
        return np.tanh(self.state.fs[:, F_SENT_X])

    @property
    def shock_step(self) -> np.ndarray:
        """1 where a liquidity shock sent an order in the last step."""
        return self.state.is_[:, I_SHOCK_STEP]

    @property
    def inventory(self) -> np.ndarray:
        """``(n, 2)`` inventories, lots."""
        return self.state.acct[:, :, A_INV]

    @property
    def cash(self) -> np.ndarray:
        """``(n, 2)`` cash, currency (fees and rebates included)."""
        return self.state.acct[:, :, A_CASH]

    @property
    def total_pnl(self) -> np.ndarray:
        """``(n, 2)`` mark-to-market PnL: cash + inventory x mid, currency."""
        a = self.state.acct
        return a[:, :, A_CASH] + a[:, :, A_INV] * self.state.fs[:, F_MID, None] * self._value

    @property
    def realized(self) -> np.ndarray:
        """``(n, 2)`` realized PnL by average cost, currency, fees excluded."""
        return self.state.acct[:, :, A_REALIZED]

    @property
    def unrealized(self) -> np.ndarray:
        """``(n, 2)`` unrealized PnL: inventory x (mid - average cost), currency."""
        a = self.state.acct
        return a[:, :, A_INV] * (self.state.fs[:, F_MID, None] - a[:, :, A_AVG]) * self._value

    @property
    def fees(self) -> np.ndarray:
        """``(n, 2)`` rebates received minus fees paid, currency."""
        return self.state.acct[:, :, A_FEES]

    def book_levels(
        self, m: int, depth: int = 10
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Background depth around the mid of market ``m``.

        Returns:
            ``(bid_ticks, bid_lots, ask_ticks, ask_lots)`` for the ``depth`` ticks below and above
            the mid (makers' orders not included).
        """
        st = self.state
        base = int(st.is_[m, I_BASE])
        mid = float(st.fs[m, F_MID])
        n = st.bid_vol.shape[1]
        bt = np.arange(int(np.ceil(mid)) - 1, int(np.ceil(mid)) - 1 - depth, -1)
        at = np.arange(int(np.floor(mid)) + 1, int(np.floor(mid)) + 1 + depth)
        bi = bt - base
        ai = at - base
        b_in = (bi >= 0) & (bi < n)
        a_in = (ai >= 0) & (ai < n)
        bid_lots = np.where(b_in, st.bid_vol[m, np.clip(bi, 0, n - 1)], 0)
        ask_lots = np.where(a_in, st.ask_vol[m, np.clip(ai, 0, n - 1)], 0)
        return bt, bid_lots, at, ask_lots  # ticks outside the price window hold nothing
