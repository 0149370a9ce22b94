"""Command-line settings from a dataclass: the shared parser of ``train.py`` and ``evaluate.py``.

Each field of the settings dataclass is a ``--flag`` (underscores become dashes) whose help text
is ``field.metadata["help"]`` (:func:`flag` makes such a field). The field's annotation picks
the flag's form:

    int, float, str   one value of that type (an int also as an integer-valued float: ``1e5``);
                      with ``metadata["const"]`` the value may be left out (the flag alone
                      gives the const: ``--ray`` is ``--ray local``)
    bool              ``--flag`` / ``--no-flag`` (or a plain ``--flag`` switch, see ``switches``)
    list[int]         one or more positive integers (``--net-arch 64 64``)
    list[str]         one or more strings (``--cross-play runs/a fixed_spread``)
    dict[str, Any]    ``KEY=VALUE`` items, values read as YAML (``--env-kwargs a=1 b.c=x``)

A field named ``config`` makes ``--config FILE`` a YAML file of settings (read by
:func:`mm_gym.config.read_config_file`): defaults < file < command line; unknown keys fail. Every
error is reported through the tool's ``fail`` (one line, exit code 2). This module imports
neither torch nor the simulator.

Example:
    >>> parser = settings_parser(Args, prog="train.py", description="...", fail=fail)
    >>> args, given = parse_settings(Args, parser, ["--seed", "1"], fail)
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
from collections.abc import Callable, Mapping
from typing import Any, NoReturn, TypeVar

import yaml

from mm_gym.config import ConfigError, excerpt, read_config_file

__all__ = [
    "CliError",
    "Fail",
    "OneLineParser",
    "add_export_flags",
    "changed_flags",
    "check_ranges",
    "check_types",
    "exit_with_error",
    "flag",
    "integer_value",
    "parse_key_values",
    "parse_settings",
    "run_cli",
    "settings_from_file",
    "settings_parser",
    "yaml_value",
]

Fail = Callable[[str], NoReturn]
"""A tool's error reporter: prints ``<prog>: error: <message>`` and exits with code 2."""

T = TypeVar("T")


def flag(default: T, help_text: str, **argparse_extra: Any) -> T:
    """A field of a settings dataclass: its default and its ``--help`` text.

    ``argparse_extra`` joins the help in the field's metadata: ``const`` (the value may be left
    out) and ``metavar``.

    Example:
        >>> episodes: int = flag(200, "episodes per contestant and regime (>= 2)")
    """
    return dataclasses.field(default=default, metadata={"help": help_text, **argparse_extra})


class CliError(Exception):
    """Bad input: reported by the tool as one line, exit code 2."""


def run_cli(run: Callable[[Any], Any], argv: Any, prog: str) -> int:
    """Run a tool's ``run(argv)`` and return its exit code.

    2 on a :class:`CliError` (one line on stderr), 130 on Ctrl-C ("interrupted; nothing
    written": the tools publish their output only when complete), else 0.
    """
    try:
        run(argv)
    except CliError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; nothing written", file=sys.stderr)
        return 130
    return 0


def exit_with_error(prog: str) -> Fail:
    """A :data:`Fail` for ``prog``: prints ``<prog>: error: <message>``, exits with code 2."""

    def fail(message: str) -> NoReturn:
        print(f"{prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)

    return fail


def one_line(exc: BaseException) -> str:
    """``Type: first line of the message``, bounded: an unexpected error as one line."""
    lines = str(exc).strip().splitlines()
    text = (lines[0] if lines else "")[:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def add_export_flags(p: argparse.ArgumentParser, folder: str) -> None:
    """Add the flags of a tool that writes an export folder (``exports/<folder>/<time>``).

    ``--bootstrap`` (resamples of the confidence intervals), ``--out``, ``--overwrite`` and
    ``--no-progress``; :func:`mm_gym.output_folder.export_folder` and
    :func:`mm_gym.output_folder.write_export` read ``--out`` and ``--overwrite``.
    """
    p.add_argument("--bootstrap", type=int, default=2_000, help="bootstrap resamples (2000)")
    p.add_argument("--out", default=None, help=f"output folder (exports/{folder}/<time>)")
    p.add_argument("--overwrite", action="store_true", help="replace this tool's earlier output")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


class OneLineParser(argparse.ArgumentParser):
    """argparse whose errors are one line through the tool's ``fail`` (no usage block).

    Flags are taken whole (``allow_abbrev=False``): an abbreviation (``--n-env`` for
    ``--n-envs``) is an unknown flag, not silently the flag it prefixes today, which may be
    another one once a flag is added.
    """

    def __init__(self, *args: Any, fail: Fail, **kwargs: Any) -> None:
        """As :class:`argparse.ArgumentParser` (``allow_abbrev`` off), plus the tool's ``fail``."""
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        self._fail = fail

    def error(self, message: str) -> NoReturn:
        """Report a command-line error through ``fail``."""
        self._fail(f"{message} (see --help)")


def _kind(f: dataclasses.Field[Any]) -> str:
    """The field's annotation as text (``from __future__ import annotations`` makes it one)."""
    return f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def integer_value(value: Any) -> int:
    """An integer from ``value``: an int, or a number or text of an integer-valued number.

    ``"1e5"``, ``1e5``, ``"100_000"`` and ``"2.0"`` are integers; ``"1.5"``, ``"inf"``, ``True``
    and ``"x"`` are not. Scientific notation is how people write step counts (``--total-timesteps
    2e7``), and YAML 1.1 reads ``2e7`` in a file as text.

    Raises:
        ValueError: If ``value`` is not an integer-valued number (the message names it).
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    number = value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
        try:
            number = float(value)
        except ValueError:
            number = None
    if isinstance(number, float) and number.is_integer():
        return int(number)
    raise ValueError(f"{excerpt(value)} is not an integer (e.g. 100000, 100_000 or 1e5)")


def _int_flag(text: str) -> int:
    """The argparse ``type`` of an int flag (:func:`integer_value`, errors as argparse's own)."""
    try:
        return integer_value(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid int value: {excerpt(text)} (an integer such as 100000, 100_000 or 1e5)"
        ) from None


def yaml_value(text: str) -> Any:
    """A YAML scalar, with ``1e-3`` read as a number (YAML 1.1 wants ``1.0e-3``)."""
    value = yaml.safe_load(text)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def parse_key_values(items: list[str], flag: str, fail: Fail) -> dict[str, Any]:
    """``["a=1", "b.c=x"]`` -> ``{"a": 1, "b.c": "x"}`` (values read as YAML)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"{flag} expects KEY=VALUE items, got {item!r}")
        out[key] = yaml_value(value)
    return out


def settings_parser(
    cls: type,
    *,
    prog: str,
    description: str,
    fail: Fail,
    defaults_in_help: str = "repr",
    switches: bool = False,
    raw_description: bool = False,
) -> OneLineParser:
    """A parser with one ``--flag`` per field of the dataclass ``cls``.

    Only the flags given appear in the parsed namespace (``argparse.SUPPRESS``), so that
    :func:`parse_settings` can tell them from the defaults.

    Args:
        cls: The settings dataclass (fields with ``metadata["help"]``).
        prog: The tool's name.
        description: Text above the flags.
        fail: The tool's error reporter.
        defaults_in_help: ``"repr"``: every help ends ``(default: 'x')``; ``"plain"``: non-bool
            flags end ``(default: x)`` (none for an empty string), bools as argparse puts it.
        switches: Bools that default to False are plain ``--flag`` switches (no ``--no-flag``).
        raw_description: Keep the description's line breaks.
    """
    parser = OneLineParser(
        prog=prog,
        description=description,
        fail=fail,
        argument_default=argparse.SUPPRESS,
        formatter_class=(
            argparse.RawDescriptionHelpFormatter if raw_description else argparse.HelpFormatter
        ),
    )
    for f in dataclasses.fields(cls):
        flag, kind, default = "--" + f.name.replace("_", "-"), _kind(f), _default(f)
        help_text = f.metadata["help"]
        if defaults_in_help == "repr":
            help_text += f" (default: {default!r})"
        elif kind != "bool" and default != "":
            help_text += f" (default: {default})"
        if kind == "bool":
            switch = switches and not default
            action = "store_true" if switch else argparse.BooleanOptionalAction
            # argparse itself appends "(default: ...)" to a --flag/--no-flag given a default.
            extra = {"default": default} if defaults_in_help == "plain" and not switch else {}
            parser.add_argument(flag, action=action, help=help_text, **extra)
        elif kind.startswith("dict"):
            parser.add_argument(flag, nargs="*", metavar="KEY=VALUE", help=help_text)
        elif kind.startswith("list"):
            metavar = f.metadata.get("metavar", "VALUE")
            item: Callable[[str], Any] = str if kind == "list[str]" else int
            parser.add_argument(flag, nargs="+", type=item, metavar=metavar, help=help_text)
        else:
            converters: dict[str, Callable[[str], Any]] = {"int": _int_flag, "float": float}
            convert = converters.get(kind, str)
            # metadata["const"]: the value may be left out (``--ray`` alone means "local").
            optional: dict[str, Any] = {}
            if "const" in f.metadata:
                optional = {"nargs": "?", "const": f.metadata["const"]}
                optional["metavar"] = f.metadata.get("metavar", "VALUE")
            parser.add_argument(flag, type=convert, help=help_text, **optional)
    return parser


def settings_from_file(
    cls: type, data: Mapping[Any, Any], where: str, fail: Fail
) -> dict[str, Any]:
    """Settings read from a file: unknown keys fail; ``"3e-4"`` in a float field is a number.

    An int field also takes an integer-valued number (``1e5``, ``2.0e6``; see
    :func:`integer_value`); any other value is left for :func:`check_types` to report.
    """
    fields = dataclasses.fields(cls)
    names = {f.name for f in fields}
    out = {str(k).replace("-", "_"): v for k, v in data.items()}
    unknown = sorted(set(out) - names)
    if unknown:
        fail(f"unknown keys {excerpt(unknown)} in {where}; valid keys: {sorted(names)}")
    for f in fields:
        if _kind(f) == "float" and isinstance(out.get(f.name), str):  # YAML 1.1 reads 3e-4 so
            out[f.name] = yaml_value(out[f.name])
        if _kind(f) == "int" and isinstance(out.get(f.name), (str, float)):
            with contextlib.suppress(ValueError):
                out[f.name] = integer_value(out[f.name])
    return out


def parse_settings(
    cls: type[T], parser: argparse.ArgumentParser, argv: list[str] | None, fail: Fail
) -> tuple[T, set[str]]:
    """Defaults < the ``--config`` file (if ``cls`` has a ``config`` field) < the command line.

    Returns:
        The settings (types checked, see :func:`check_types`) and the names of the flags given.
    """
    given = vars(parser.parse_args(argv))
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if _kind(f).startswith("dict") and f.name in given:
            given[f.name] = parse_key_values(given[f.name], "--" + f.name.replace("_", "-"), fail)
    values = {f.name: _default(f) for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    if given.get("config"):
        try:
            data = read_config_file(given["config"], "--config")
        except ConfigError as exc:
            fail(str(exc))
        values.update(settings_from_file(cls, data, f"--config {given['config']!r}", fail))
    values.update(given)
    settings = cls(**values)
    check_types(settings, fail)
    return settings, set(given)


def check_ranges(args: Any, ranges: Mapping[str, tuple[float, float]]) -> None:
    """Check each flag of ``ranges`` (keyed by its attribute name) against its inclusive range.

    Raises:
        CliError: Naming the first flag out of range, its value and the range.
    """
    for name, (lo, hi) in ranges.items():
        v = getattr(args, name)
        if not lo <= v <= hi:
            raise CliError(f"--{name.replace('_', '-')}={v} must be in [{lo}, {hi}]")


def check_types(settings: Any, fail: Fail, where: str = "") -> None:
    """Check every field's value against its annotation (one error line on the first problem).

    Args:
        settings: The settings dataclass instance.
        fail: The tool's error reporter.
        where: Appended to the error (e.g. the file the settings came from).
    """
    for f in dataclasses.fields(settings):
        value, kind = getattr(settings, f.name), _kind(f)
        is_int = isinstance(value, int) and not isinstance(value, bool)
        problem = {
            "int": None if is_int else "must be an integer",
            "float": None if is_int or isinstance(value, float) else "must be a number",
            "bool": None if isinstance(value, bool) else "must be true or false",
            "str": None if isinstance(value, str) else "must be a string",
        }.get(kind)
        if kind == "list[str]" and not (
            isinstance(value, list) and all(isinstance(u, str) for u in value)
        ):
            problem = "must be a list of strings"
        elif (
            kind.startswith("list")
            and kind != "list[str]"
            and not (
                isinstance(value, list)
                and all(isinstance(u, int) and not isinstance(u, bool) and u >= 1 for u in value)
            )
        ):
            problem = "must be a list of positive integers"
        if kind.startswith("dict") and not isinstance(value, dict):
            problem = "must be a mapping"
        if problem:
            fail(f"{f.name}={excerpt(value)} {problem}{where}")


def changed_flags(settings: Any) -> list[str]:
    """The fields of a settings dataclass that differ from their defaults, as command-line flags.

    ``--flag value`` per field (``--flag`` / ``--no-flag`` for a bool), in field order: the
    command that reproduces ``settings`` (a report's setup line).
    """
    out = []
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if value == f.default:
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            out.append(flag if value else f"--no-{flag[2:]}")
        else:
            out += [flag, str(value)]
    return out
