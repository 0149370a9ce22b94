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

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

from mm_gym.config import ConfigError, MarketConfig, is_integer
from mm_gym.market import kernels
from mm_gym.market.bound import BoundStep, step_bound
from mm_gym.market.params import CORR_FIELDS, MAX_ASSETS, MarketParams, pack_params
from mm_gym.market.revision import revision_params
from mm_gym.market.state import (
    A_INV,
    F_MID,
    F_PROTECT_ASK,
    F_PROTECT_BID,
    N_A,
    N_FS,
    MarketState,
    allocate,
)
from mm_gym.market.views import (
    AccountsView,
    BookDepth,
    BookView,
    FillsView,
    MakerOrdersView,
    MarketOrdersView,
    ScalarsView,
    _ro,
)

PARALLEL_MIN_MARKETS = 64  # below this the thread launch costs more than it saves
PARALLEL_ENV = "MM_GYM_PARALLEL"  # "auto" (default) or "off": see _parallel_by_default


def _parallel_by_default(n_markets: int) -> bool:
    """Whether a batch of ``n_markets`` runs the parallel kernel when ``parallel`` is not given.

    ``MM_GYM_PARALLEL=off`` keeps every batch on the serial kernel (one thread): for
    process-level parallelism (SubprocVecEnv, several trainings or Ray workers on one machine),
    where threads per process only compete, and to skip compiling the parallel kernels.
    """
    mode = os.environ.get(PARALLEL_ENV, "auto").strip().lower()
    if mode not in ("auto", "off"):
        raise ConfigError(f"{PARALLEL_ENV}={mode!r} must be 'auto' or 'off'")
    return mode == "auto" and n_markets >= PARALLEL_MIN_MARKETS


class _Alias:
    """A read-only attribute of the simulator that forwards to one of its views."""

    def __init__(self, view: str, name: str, doc: str) -> None:
        self._view, self._name, self.__doc__ = view, name, doc

    def __get__(self, obj: Any, objtype: type | None = None) -> np.ndarray:
        return getattr(getattr(obj, self._view), self._name)


# numba's workqueue threading layer (mm_gym.market's default) aborts the whole process when two
# Python threads run parallel kernels at once ("Concurrent access has been detected"). Calls
# into the parallel kernels hold this process-wide lock; the workqueue runs one parallel region
# at a time anyway, so it costs nothing but the acquire (~0.4 us against ~1 ms per step).
_PARALLEL_LOCK = threading.Lock()


def _renew_parallel_lock() -> None:
    global _PARALLEL_LOCK
    _PARALLEL_LOCK = threading.Lock()


# A child forked while another thread held the lock would otherwise wait for it for ever.
if hasattr(os, "register_at_fork"):  # POSIX only
    os.register_at_fork(after_in_child=_renew_parallel_lock)


COMPILE_NOTICE_AFTER_S = 2.0  # a cache load takes about a second; longer means a compile


@contextlib.contextmanager
def _compile_notice() -> Iterator[None]:
    """Say on stderr, once per process, when binding the kernels is a compile and not a load."""
    timer = threading.Timer(COMPILE_NOTICE_AFTER_S, _say_compiling)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _say_compiling() -> None:
    global _COMPILE_NOTICE_SHOWN
    if not _COMPILE_NOTICE_SHOWN:
        _COMPILE_NOTICE_SHOWN = True
        print(
            "mm_gym: compiling the market kernels (first use after an install or an edit of "
            "mm_gym/market: minutes; cached afterwards; `python -m mm_gym.warmup` does it ahead)",
            file=sys.stderr,
            flush=True,
        )


_COMPILE_NOTICE_SHOWN = False


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


_VIEW_ATTRS = (
    "_result",
    "_book",
    "_orders",
    "_accounts",
    "_fills",
    "_market_orders",
    "_scalars",
    "_features",
)


def _headline_bank(config: MarketConfig) -> Any:
    """The headline source of ``config``: None, the replayed ``news_file`` or the bank.

    None without ``news_model``; the modules are imported only when used.
    """
    pr = config.process
    if pr.news_model == "none":
        return None
    if pr.news_file:
        from mm_gym.news.replay import load_replay

        return load_replay(
            pr.news_file,
            pr.news_model,
            config.horizon_steps,
            asset=pr.news_asset,
            seconds_per_step=pr.news_seconds_per_step,
        )
    from mm_gym.news import load_bank

    return load_bank(pr.news_model, pr.news_buckets, pr.news_per_bucket, pr.news_bank_seed)


def _correlation_params(row: Any) -> dict[str, Any]:
    """The ``corr_n`` and ``corr_0 .. corr_7`` of :class:`MarketParams` for a Cholesky row."""
    r = np.asarray(row, np.float64)
    if r.ndim != 1 or not 1 <= r.size <= MAX_ASSETS or not np.isfinite(r).all():
        raise ConfigError(
            f"correlation={row!r} must be 1 to {MAX_ASSETS} finite numbers (a Cholesky row)"
        )
    padded = [float(x) for x in r] + [0.0] * (MAX_ASSETS - r.size)
    return {"corr_n": int(r.size), **dict(zip(CORR_FIELDS, padded, strict=True))}


class MarketSimulator:
    """``n_markets`` limit-order-book markets, two makers each, stepped in one compiled call.

    Args:
        config: The market config (``fills`` must be ``"book"``; the intensity model lives in
            :mod:`mm_gym.market.intensity`).
        n_markets: Batch size (>= 1).
        builtin_rival: If True, mm2 quotes with the config's built-in rival inside the compiled
            step and ``quotes[:, 1]`` is ignored.
        record: If True, each step's maker fills and market orders are recorded
            (:attr:`fills`, :attr:`market_orders`) for analysis; off it saves time. The
            :attr:`record` property switches it later.
        parallel: Force the parallel (True) or serial (False) kernel; by default parallel from
            :data:`PARALLEL_MIN_MARKETS` markets on unless the environment variable
            ``MM_GYM_PARALLEL=off``. Results are identical either way.
        venue: The venue index of a multi-venue asset (:mod:`mm_gym.multivenue`): venues of
            one asset reset from the same seeds share its exogenous streams and draw their own
            order flow (:func:`mm_gym.market.rng.seed_venue_streams`). 0 (the default) is the
            single-venue market.
        asset: The asset index in a portfolio (:mod:`mm_gym.portfolio`): the assets of one
            portfolio reset from the same seeds have streams of their own
            (:func:`mm_gym.market.rng.seed_asset_streams`) but one shared stream of the
            fundamental's innovations. 0 (the default) is a single asset.
        correlation: With ``asset``, the asset's row of the lower-triangular Cholesky factor
            of the assets' correlation matrix, one entry per asset (at most
            :data:`~mm_gym.market.params.MAX_ASSETS`): the fundamental's innovation is this row
            times the standard normals every asset draws alike. None (the default): the
            market's own innovation, as a single asset.

    Attributes:
        headline_bank: The :class:`~mm_gym.news.HeadlineBank` the news items are drawn from
            when ``config.process.news_model`` is set (loaded once here, from the cache after
            the first time), else None. Its ``scores`` are copied into the state; the kernels
            record flat indices ``b * N + j`` (:attr:`scalars` ``headline``,
            ``headline_score``, :meth:`headline_indices`), whose text is
            ``headline_bank.text(*divmod(index, N))``. With ``config.process.news_file``
            it is the file's :class:`~mm_gym.news.HeadlineReplay` instead (its arrays copied
            into the state; the index recorded is the row in the file); both have
            ``lookup(index) -> (bucket, score, text)``.
    """

    def __init__(
        self,
        config: MarketConfig,
        n_markets: int = 1,
        *,
        builtin_rival: bool = True,
        record: bool = False,
        parallel: bool | None = None,
        venue: int = 0,
        asset: int = 0,
        correlation: tuple[float, ...] | None = None,
    ) -> None:
        """Allocate the state arrays and pick the kernels (see the class docstring)."""
        if not isinstance(config, MarketConfig):
            raise ConfigError(f"config={config!r} must be a MarketConfig")
        if config.fills != "book":
            raise ConfigError(
                f"fills={config.fills!r}: MarketSimulator runs the book; use "
                "mm_gym.market.intensity for fills='intensity'"
            )
        if not is_integer(n_markets) or n_markets < 1:
            raise ConfigError(f"n_markets={n_markets!r} must be an integer >= 1")
        self.config = config
        self.n_markets = int(n_markets)
        self.builtin_rival = bool(builtin_rival)
        self.record = record
        if not is_integer(venue) or venue < 0:
            raise ConfigError(f"venue={venue!r} must be an integer >= 0")
        self.params: MarketParams = pack_params(config)
        if venue:
            self.params = self.params._replace(venue=int(venue))
        if isinstance(asset, bool) or not isinstance(asset, (int, np.integer)) or asset < 0:
            raise ConfigError(f"asset={asset!r} must be an integer >= 0")
        if correlation is not None:
            self.params = self.params._replace(asset=int(asset), **_correlation_params(correlation))
        elif asset:
            raise ConfigError(f"asset={asset!r} needs its correlation row (correlation=...)")
        self.headline_bank = _headline_bank(config)
        bank, replay = self.headline_bank, None
        if config.process.news_file:
            bank, replay = None, self.headline_bank.kernel_arrays()
        scores = None if bank is None else bank.scores
        self.state: MarketState = allocate(self.n_markets, config.n_levels, scores, replay)
        self._quotes = np.zeros((self.n_markets, 2, 4), np.float64)
        self._all = np.ones(self.n_markets, np.bool_)
        self._parallel = _parallel_by_default(self.n_markets) if parallel is None else parallel
        self._step: Callable[..., None] | None = None  # bound on first use (_bind_kernels)
        self._reset: Callable[..., None] | None = None
        self._value = config.tick_size * config.lot_size
        self._reset_done = False
        self._bind_views()

    @property
    def parallel(self) -> bool:
        """Whether this batch runs the parallel (multi-threaded) kernel."""
        return self._parallel

    def _bind_views(self) -> None:
        """Make the step result and the read-only views over :attr:`state`.

        Called again after unpickling: a pickled array view comes back as a detached copy.
        """
        st = self.state
        self._result = StepResult(st.fs[:, F_MID], st.acct[:, :, A_INV], st.features)
        self._book = BookView(st)
        self._orders = MakerOrdersView(st)
        self._accounts = AccountsView(st, self._value)
        self._fills = FillsView(st)
        self._market_orders = MarketOrdersView(st)
        self._scalars = ScalarsView(st)
        self._features = _ro(st.features)

    def _bind_kernels(self) -> None:
        """Compile (or load from numba's cache) the kernels for this simulator's argument types.

        The simulator calls the compiled entry points directly: numba's dispatcher would type
        the state and parameter tuples on every call (several microseconds, a large share of a
        one-market step). The types are fixed by construction, except those of the caller's
        ``quotes`` and ``active``, which :meth:`step` checks before taking this path.
        """
        typeof = numba.typeof
        head = (typeof(self.state), typeof(self.params))
        step = kernels.step_parallel if self._parallel else kernels.step_serial
        reset = kernels.reset_parallel if self._parallel else kernels.reset_serial
        seeds = np.zeros(self.n_markets, np.uint64)
        with _compile_notice():
            self._step = step.compile(
                (*head, typeof(self._quotes), typeof(self._all), numba.boolean, numba.boolean)
            )
            self._reset = reset.compile(
                (*head, typeof(seeds), typeof(self._all), numba.int64, typeof(self._quotes))
            )

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the arrays, not the compiled kernels nor the views.

        Kernels pickle by value and would recompile; views are remade from the state.
        """
        state = self.__dict__.copy()
        state["_step"] = state["_reset"] = None
        for name in _VIEW_ATTRS:
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore the arrays and re-make the views; kernels are bound again on first use.

        The makers' accounts and the float scalars of a simulator pickled before a column was
        added are widened with zeros to the current layout (the compiled step writes every
        ``A_STEP_*`` column; clustered revisions, ``F_CLUST_0 ..``).
        """
        st = state["state"]
        if st.acct.shape[2] < N_A:
            wide = np.zeros((*st.acct.shape[:2], N_A), st.acct.dtype)
            wide[:, :, : st.acct.shape[2]] = st.acct
            st = st._replace(acct=wide)
        if st.fs.shape[1] < N_FS:
            wide = np.zeros((st.fs.shape[0], N_FS), st.fs.dtype)
            wide[:, : st.fs.shape[1]] = st.fs
            st = st._replace(fs=wide)
        state["state"] = st
        self.__dict__.update(state)
        self._bind_views()

    @property
    def record(self) -> bool:
        """Whether each step records its maker fills and market orders.

        When True, :attr:`fills` and :attr:`market_orders` hold the last step's records;
        when False (the default) they are not updated, which saves time. May be switched at
        any time; it takes effect from the next step.
        """
        return self._record

    @record.setter
    def record(self, value: bool) -> None:
        self._record = bool(value)

    # ------------------------------------------------------------------ driving
    def quotes_buffer(self) -> np.ndarray:
        """A zeroed ``(n_markets, 2, 4)`` float64 quotes array.

        Per maker: bid offset, ask offset (ticks from the mid), bid size, ask size (lots; 0 means
        no quote).
        """
        return np.zeros((self.n_markets, 2, 4), np.float64)

    def reset(
        self,
        seeds: np.ndarray | int,
        mask: np.ndarray | None = None,
        *,
        warmup_steps: int | None = None,
    ) -> None:
        """Start new episodes.

        Args:
            seeds: One non-negative integer seed per market (or one int for market ``i`` to get
                ``seed + i``). A market's whole episode is a function of its seed alone.
            mask: Reset only the markets where ``mask`` is True (default: all).
            warmup_steps: Warm-up steps (default the config's ``warmup_steps``). With 0, a
                caller may warm the markets up itself: :meth:`warm_up` steps, then
                :meth:`start_episodes`.
        """
        n = self.n_markets
        if np.isscalar(seeds):
            if not is_integer(seeds):
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
        if self._reset is None:
            self._bind_kernels()
        assert self._reset is not None
        seeds_u64 = np.ascontiguousarray(s, dtype=np.uint64)
        mask_c = np.ascontiguousarray(m)
        with self._kernel_lock():
            self._reset(
                self.state, self.params, seeds_u64, mask_c,
                int(self.config.warmup_steps if warmup_steps is None else warmup_steps),
                self._quotes,
            )  # fmt: skip
        self._reset_done = True

    def warm_up(self, mask: np.ndarray | None = None) -> None:
        """One warm-up step of the markets in ``mask`` (default all): the makers do not quote.

        For markets reset with ``warmup_steps=0`` whose warm-up the caller interleaves with its
        own work (e.g. the venues of one asset stepped together from Python, order protection,
        routing and arbitrage on: the reference :func:`mm_gym.market.venues.warm_up`, which
        :class:`mm_gym.multivenue.MultiVenueMarket` runs as one compiled call, is tested
        against). :meth:`start_episodes` ends it; the steps are those of :meth:`reset`'s own
        warm-up.
        """
        m = self._all if mask is None else np.ascontiguousarray(mask, dtype=np.bool_)
        kernels.warm_serial(self.state, self.params, m, self._quotes)

    def start_episodes(self, mask: np.ndarray | None = None) -> None:
        """End the warm-up of the markets in ``mask`` (default all): step 0 of their episodes."""
        m = self._all if mask is None else np.ascontiguousarray(mask, dtype=np.bool_)
        kernels.start_serial(self.state, self.params, m)

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
        act = self._all if active is None else active
        args = (self.state, self.params, quotes, act, self.builtin_rival, self._record)
        if (
            type(quotes) is np.ndarray
            and quotes.dtype == np.float64
            and quotes.flags.c_contiguous
            and type(act) is np.ndarray
            and act.dtype == np.bool_
            and act.flags.c_contiguous
        ):
            if self._step is None:
                self._bind_kernels()
            assert self._step is not None
            with self._kernel_lock():
                self._step(*args)
        else:  # other layouts: numba's dispatcher types them (and compiles once per layout)
            with self._kernel_lock():
                (kernels.step_parallel if self._parallel else kernels.step_serial)(*args)
        return self._result

    def stepper(self, quotes: np.ndarray) -> Callable[[], None]:
        """A call that steps every market with ``quotes``, ``step(quotes, check=False)`` made lean.

        For a caller that steps one buffer of its own, validated as it writes it, many times
        (the single environment). For the serial kernel the call passes the simulator's arrays
        and parameters as one :class:`~mm_gym.market.bound.BoundStep` made here, instead of
        unboxing them at every call, and skips the argument checks and the lock: together
        about half the time of a one-market step outside the kernel's own work. The call reads
        :attr:`record` and :attr:`builtin_rival` each time, so switching either takes effect
        from the next step as with :meth:`step`; it does not return the :class:`StepResult`.

        Args:
            quotes: The ``(n_markets, 2, 4)`` float64 C-contiguous buffer the call will step
                with (:meth:`quotes_buffer`); its contents are read at each call.

        Raises:
            ValueError: Here, if ``quotes`` is not such a buffer.
            RuntimeError: At a call before :meth:`reset`.
        """
        self._check_step_input(quotes, None)
        if self._parallel:

            def step_parallel() -> None:
                self.step(quotes, check=False)

            return step_parallel
        bound = BoundStep(self.state, self.params, quotes, self._all)
        kernel: Callable[..., None] | None = None  # compiled (or loaded) at the first call

        def step_all() -> None:
            nonlocal kernel
            if kernel is None or not self._reset_done:
                if not self._reset_done:
                    raise RuntimeError("call reset() before step()")
                with _compile_notice():
                    kernel = step_bound.compile((numba.typeof(bound), numba.boolean, numba.boolean))
            kernel(bound, self.builtin_rival, self._record)

        return step_all

    def set_protection(self, bid: np.ndarray, ask: np.ndarray) -> None:
        """Set the other venues' best prices the takers may not trade through (several venues).

        Args:
            bid: ``(n_markets,)`` the best bid on the other venues, ticks (-inf: none).
            ask: ``(n_markets,)`` the best ask on the other venues, ticks (+inf: none).

        A taker's order that would execute beyond them executes here only up to them; the rest
        is routed away (:attr:`scalars` ``routed_buy_lots`` / ``routed_sell_lots``,
        :func:`mm_gym.market.venues.route`). A reset clears them (no protection).
        """
        self.state.fs[:, F_PROTECT_BID] = bid
        self.state.fs[:, F_PROTECT_ASK] = ask

    def set_revisions(
        self,
        row: tuple[float, ...],
        revision_ticks: float,
        revision_prob: float = 1.0,
        *,
        pegged: bool = True,
        clustering: float = 0.0,
        clustering_steps: tuple[float, float] = (1.0, 1.0),
    ) -> None:
        """Turn on a portfolio asset's common quote revisions (:mod:`mm_gym.market.revision`).

        Args:
            row: The asset's row of the Cholesky factor of the revisions' correlation matrix,
                as many entries as its ``correlation`` row.
            revision_ticks: Standard deviation of the revisions per step, ticks (0: none).
            revision_prob: Probability of a revision each step, in (0, 1].
            pegged: Whether the makers' resting orders move with a revision (True) or keep
                their prices and are picked off when the revised book crosses them.
            clustering: Standard deviation of the log news intensity that scales the
                revision probability (0: none; :mod:`mm_gym.market.revision`).
            clustering_steps: Time scales of its two components, steps.

        Raises:
            ConfigError: For a market that is not a portfolio's asset (no ``correlation``
                row), a row of another length, or an invalid ``revision_ticks``,
                ``revision_prob`` or clustering.

        Call it before the first :meth:`reset` and :meth:`stepper` (they bind the parameters).
        """
        n = self.params.corr_n
        if n == 0 or len(row) != n:
            raise ConfigError(
                f"revision row={row!r} needs a portfolio's asset with a correlation row of "
                f"the same length (it has {n} entries)"
            )
        self.params = self.params._replace(
            **revision_params(
                row, revision_ticks, revision_prob, pegged, clustering, clustering_steps
            )
        )

    def _kernel_lock(self) -> contextlib.AbstractContextManager[Any]:
        """The process-wide lock around a parallel kernel call (nothing for the serial one)."""
        return _PARALLEL_LOCK if self._parallel else contextlib.nullcontext()

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
    def book(self) -> BookView:
        """The books: mid, best prices, depth ladder (:class:`~mm_gym.market.views.BookView`)."""
        return self._book

    @property
    def orders(self) -> MakerOrdersView:
        """The makers' resting orders (:class:`~mm_gym.market.views.MakerOrdersView`)."""
        return self._orders

    @property
    def accounts(self) -> AccountsView:
        """The makers' accounts (:class:`~mm_gym.market.views.AccountsView`)."""
        return self._accounts

    @property
    def fills(self) -> FillsView:
        """The last step's maker fills, with ``record`` on (:class:`~.views.FillsView`)."""
        return self._fills

    @property
    def market_orders(self) -> MarketOrdersView:
        """The last step's market orders, with ``record`` on (:class:`~.views.MarketOrdersView`)."""
        return self._market_orders

    @property
    def scalars(self) -> ScalarsView:
        """Per-market scalars: step, regime, flags, shocks, sentiment, fundamental..."""
        return self._scalars

    @property
    def features(self) -> np.ndarray:
        """Live read-only ``(n, 2, N_FEATURES_ALL)`` float32 observation features per maker.

        Columns in the order of :data:`mm_gym.observations.FEATURE_NAMES_ALL`; row ``[:, k]``
        is maker ``k``'s point of view.
        """
        return self._features

    # Shortcuts kept from before the views (live, read-only arrays).
    t = _Alias("_scalars", "t", "Steps since each market's episode started.")
    mid = _Alias("_book", "mid", "Mid per market, ticks.")
    fundamental = _Alias("_scalars", "fundamental", "Fundamental per market, ticks (hidden).")
    regime = _Alias("_scalars", "regime", "Regime code per market (index into REGIMES).")
    sentiment = _Alias("_scalars", "sentiment", "Observed sentiment per market.")
    latent_sentiment = _Alias("_scalars", "latent_sentiment", "Latent sentiment tanh(x) (hidden).")
    shock_step = _Alias("_scalars", "shock_step", "1 where a shock sent an order in the last step.")
    inventory = _Alias("_accounts", "inventory", "``(n, 2)`` inventories, lots.")
    cash = _Alias("_accounts", "cash", "``(n, 2)`` cash, currency (fees and rebates included).")
    total_pnl = _Alias("_accounts", "total_pnl", "``(n, 2)`` cash + inventory x mid, currency.")
    realized = _Alias("_accounts", "realized", "``(n, 2)`` realized PnL (average cost), currency.")
    unrealized = _Alias("_accounts", "unrealized", "``(n, 2)`` inventory x (mid - avg), currency.")
    fees = _Alias("_accounts", "fees", "``(n, 2)`` rebates received minus fees paid, currency.")

    def book_levels(self, m: int, depth: int = 10) -> BookDepth:
        """Background depth around the mid of market ``m`` (``book.depth(m, depth)``).

        Returns:
            ``(bid_ticks, bid_lots, ask_ticks, ask_lots)`` for the ``depth`` ticks below and above
            the mid (makers' orders not included).
        """
        return self._book.depth(m, depth)
