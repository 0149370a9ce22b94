"""Shared fixtures: small simulators (the first use compiles the numba kernels, then cached)."""

from __future__ import annotations

import contextlib
import os
import signal

import numpy as np
import pytest

from mm_gym.config import MarketConfig
from mm_gym.market import MarketSimulator
from mm_gym.market.simulator import PARALLEL_ENV

# The default suite runs every batch on the serial kernel (results are identical either way) so
# that it never waits minutes for the parallel kernels' first compile; subprocesses inherit this.
# Tests marked ``parallel`` (make test-full) switch the default back.
os.environ.setdefault(PARALLEL_ENV, "off")

# The Ctrl-C tests send SIGINT to this process or to a tool's subprocess. A suite started in the
# background by a non-interactive shell (`make test &`) inherits SIGINT ignored, and so would
# every tool it starts, which would then run on instead of stopping (evaluate.py --episodes
# 100000 ran past its 120 s). Restore Python's default handler, as in a terminal: the tools then
# start with SIGINT at its default, as a user's do.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@contextlib.contextmanager
def _environ(name, value):
    """``os.environ[name] = value`` within the block, then as it was (unset if it was unset)."""
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


@pytest.fixture(scope="session", autouse=True)
def _sb3_log_folder(tmp_path_factory):
    """SB3 models made without a logger log into pytest's temporary folder, not /tmp/SB3-*.

    (SB3's default logger makes a new ``SB3-<timestamp>`` folder in the system's temporary
    folder on every ``learn`` unless ``SB3_LOGDIR`` is set; the suite must not leave those.)
    """
    with _environ("SB3_LOGDIR", str(tmp_path_factory.mktemp("sb3"))):
        yield


@pytest.fixture(scope="session", autouse=True)
def _session_result_cache(tmp_path_factory):
    """The calibration cache (mm_gym.result_cache) of module and session fixtures' subprocesses:
    in pytest's temporary folder, never ~/.cache (each test then gets its own, below)."""
    with _environ("MM_GYM_CACHE_DIR", str(tmp_path_factory.mktemp("mm_gym_cache_session"))):
        yield


@pytest.fixture(autouse=True)
def _result_cache_folder(tmp_path_factory, monkeypatch):
    """Each test gets an empty calibration cache of its own (mm_gym.result_cache), never ~/.cache.

    Per test, not per session: a test that counts tuning runs must not find another test's
    entry; subprocesses inherit the variable.
    """
    monkeypatch.setenv("MM_GYM_CACHE_DIR", str(tmp_path_factory.mktemp("mm_gym_cache")))
    monkeypatch.delenv("MM_GYM_NO_CACHE", raising=False)


@pytest.fixture(autouse=True)
def _parallel_kernels(request, monkeypatch):
    if request.node.get_closest_marker("parallel"):
        monkeypatch.setenv(PARALLEL_ENV, "auto")


@pytest.fixture
def make_sim():
    """Factory for a reset simulator: ``make_sim(n, config=None, seed=0, **kw)``."""

    def _make(
        n: int = 1, config: MarketConfig | None = None, seed: int = 0, **kw
    ) -> MarketSimulator:
        sim = MarketSimulator(config or MarketConfig(), n, **kw)
        sim.reset(seed + np.arange(n, dtype=np.uint64))
        return sim

    return _make


@pytest.fixture
def cli_error(capsys):
    """``cli_error(main, argv, code=2, prog=None)``: run a command line that must fail.

    ``main`` may raise ``SystemExit`` (argparse style) or return the status; either way it must
    be ``code``. Returns the stripped stderr; with ``prog``, it must be one line that starts
    with ``"{prog}: error: "``.
    """

    def _run(main, argv: list[str], code: int = 2, prog: str | None = None) -> str:
        try:
            status = main(argv)
        except SystemExit as exc:
            status = exc.code
        assert status == code, status
        err = capsys.readouterr().err.strip()
        if prog is not None:
            assert len(err.splitlines()) == 1, err
            assert err.startswith(f"{prog}: error: "), err
        return err

    return _run
