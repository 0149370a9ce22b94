"""Connecting the command-line tools to Ray (``evaluate.py --ray``, ``train.py --ray``).

Ray is optional (the ``ray`` extra). ``--ray`` alone starts a local Ray instance for the run and
stops it at the end; ``--ray ADDRESS`` (``host:port`` of a head started by ``ray start --head``,
``auto`` for the cluster this machine belongs to, or ``ray://host:port`` for Ray Client) joins
an existing cluster and leaves it running. Tasks run with the single-threaded market kernel
(``MM_GYM_PARALLEL=off``) and one thread per library: Ray gives each task one CPU.

An address is tried with a plain TCP connection first (a few seconds), so that an unreachable
one is one error line naming it instead of Ray's minute of retries and its log.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import Any

from mm_gym.cli import CliError

__all__ = ["LOCAL", "TASK_ENV", "import_ray", "optional_ray_session", "ray_session"]

LOCAL = "local"
"""The value of a bare ``--ray``: start a local Ray instance for the run."""

TASK_ENV = {
    "MM_GYM_PARALLEL": "off",  # one CPU per task: the serial kernel (identical results)
    "OMP_NUM_THREADS": "1",
    "OMP_WAIT_POLICY": "PASSIVE",
}
"""Environment variables of every Ray worker the tools start (one CPU per task)."""

_CONNECT_TIMEOUT_S = 5.0


def import_ray(flag: str = "--ray") -> Any:
    """The ``ray`` module, or :class:`CliError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise CliError(
            f"{flag} needs Ray, which is not installed: pip install 'mm-gym[ray]' "
            "(in a venv of its own: make test-ray shows how)"
        ) from None
    return ray


def _host_port(address: str, flag: str) -> tuple[str, int] | None:
    """``(host, port)`` of ``host:port`` or ``ray://host:port``; None for ``auto``."""
    if address == "auto":
        return None
    text = address.removeprefix("ray://")
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise CliError(
            f"{flag} {address!r}: an address is host:port (e.g. 127.0.0.1:6379, what "
            "'ray start --head' prints), ray://host:port or auto; --ray alone starts a local Ray"
        )
    return host.strip("[]"), int(port)


def _check_reachable(address: str, flag: str) -> None:
    """Fail in seconds, naming ``address``, if nothing listens there."""
    target = _host_port(address, flag)
    if target is None:
        return
    try:
        with socket.create_connection(target, timeout=_CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise CliError(
            f"{flag} {address}: no Ray cluster reachable there ({reason}); start one with "
            "'ray start --head' and pass the address it prints, or --ray alone for a local Ray"
        ) from None


@contextlib.contextmanager
def ray_session(address: str, flag: str = "--ray") -> Iterator[Any]:
    """Ray, connected for the ``with`` block: the ``ray`` module.

    Args:
        address: :data:`LOCAL` (start a local instance, shut down on exit) or a cluster address.
        flag: The flag named in errors.

    Raises:
        CliError: Ray is not installed, or the address is malformed or unreachable.
    """
    ray = import_ray(flag)
    if address != LOCAL:
        _check_reachable(address, flag)
    if ray.is_initialized():  # a caller (a test, a notebook) connected already: use that
        yield ray
        return
    kwargs: dict[str, Any] = {
        "runtime_env": {"env_vars": dict(TASK_ENV)},
        "log_to_driver": False,
        "logging_level": "ERROR",
    }
    if address == LOCAL:
        kwargs["include_dashboard"] = False
    try:
        ray.init(address=None if address == LOCAL else address, **kwargs)
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError, ...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CliError(f"{flag} {address}: cannot connect to Ray: {first}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def optional_ray_session(address: str) -> contextlib.AbstractContextManager[Any]:
    """:func:`ray_session` for a ``--ray`` given (non-empty ``address``), else nothing."""
    return ray_session(address) if address else contextlib.nullcontext()
