"""The dataclass -> argparse (+ YAML ``--config``) helper shared by train.py and evaluate.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NoReturn

import pytest

from mm_gym.cli import (
    CliError,
    check_ranges,
    check_types,
    flag,
    integer_value,
    parse_key_values,
    parse_settings,
    settings_from_file,
    settings_parser,
    yaml_value,
)


class Failed(Exception):
    """Raised by the test's ``fail`` in place of exit code 2."""


def fail(message: str) -> NoReturn:
    raise Failed(message)


@dataclass
class Settings:
    """A small settings class of every supported kind."""

    config: str = field(default="", metadata={"help": "YAML file of settings"})
    steps: int = field(default=10, metadata={"help": "how many steps"})
    rate: float = field(default=0.5, metadata={"help": "a rate"})
    name: str = field(default="x", metadata={"help": "a name"})
    loud: bool = field(default=False, metadata={"help": "say more"})
    bar: bool = field(default=True, metadata={"help": "show a bar"})
    sizes: list[int] = field(
        default_factory=lambda: [4, 4], metadata={"help": "layer sizes", "metavar": "UNITS"}
    )
    extra: dict[str, Any] = field(default_factory=dict, metadata={"help": "KEY=VALUE items"})


def _parse(argv: list[str], **style: Any) -> tuple[Settings, set[str]]:
    parser = settings_parser(Settings, prog="tool", description="d", fail=fail, **style)
    return parse_settings(Settings, parser, argv, fail)


def test_defaults_and_only_the_given_flags_are_reported() -> None:
    settings, given = _parse([])
    assert settings == Settings() and given == set()
    settings, given = _parse(["--steps", "3", "--no-bar", "--loud"])
    assert (settings.steps, settings.bar, settings.loud) == (3, False, True)
    assert given == {"steps", "bar", "loud"}


def test_list_and_dict_fields() -> None:
    settings, _ = _parse(["--sizes", "8", "16", "--extra", "a=1", "b.c=1e-3", "d=text"])
    assert settings.sizes == [8, 16]
    assert settings.extra == {"a": 1, "b.c": 0.001, "d": "text"}


def test_help_carries_the_metadata_and_the_default(capsys) -> None:
    parser = settings_parser(Settings, prog="tool", description="d", fail=fail)
    text = parser.format_help()
    assert "how many steps (default: 10)" in text and "--no-bar" in text and "UNITS" in text
    plain = settings_parser(
        Settings, prog="tool", description="d", fail=fail, defaults_in_help="plain", switches=True
    ).format_help()
    assert "how many steps (default: 10)" in plain and "a name (default: x)" in plain
    assert "--no-loud" not in plain and "--no-bar" in plain  # False-default bools are switches


def test_config_file_sits_between_defaults_and_command_line(tmp_path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("steps: 7\nrate: 3e-4\nname: from_file\n")
    settings, given = _parse(["--config", str(path), "--name", "flag"])
    assert (settings.steps, settings.rate, settings.name) == (7, 3e-4, "flag")
    assert given == {"config", "name"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("stepz: 7\n", "unknown keys"),
        ("steps: seven\n", "steps='seven' must be an integer"),
        ("bar: maybe\n", "must be true or false"),
        ("sizes: [4, 0]\n", "must be a list of positive integers"),
        ("extra: [1]\n", "must be a mapping"),
    ],
)
def test_bad_config_files_fail_with_one_message(tmp_path, text, message) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(Failed, match=message):
        _parse(["--config", str(path)])


def test_a_missing_config_file_fails() -> None:
    with pytest.raises(Failed, match="--config"):
        _parse(["--config", "/nonexistent/settings.yaml"])


@pytest.mark.parametrize(
    "argv", [["--steps", "x"], ["--unknown"], ["--sizes"], ["--extra", "novalue"]]
)
def test_bad_flags_fail_through_the_tools_fail(argv) -> None:
    with pytest.raises(Failed):
        _parse(argv)


def test_helpers() -> None:
    assert yaml_value("1e-3") == 0.001 and yaml_value("true") is True and yaml_value("a") == "a"
    assert parse_key_values(["k=[1, 2]"], "--extra", fail) == {"k": [1, 2]}
    assert settings_from_file(Settings, {"rate": "3e-4", "name": "n"}, "f", fail) == {
        "rate": 3e-4,
        "name": "n",
    }
    with pytest.raises(Failed, match=r"rate=True must be a number \(in f\)"):
        check_types(Settings(rate=True), fail, " (in f)")  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "value"), [("1e5", 100_000), ("100_000", 100_000), ("2.0", 2)])
def test_int_flags_and_file_values_take_integer_valued_numbers(text, value) -> None:
    assert _parse(["--steps", text])[0].steps == value
    assert settings_from_file(Settings, {"steps": text}, "f", fail) == {"steps": value}
    assert integer_value(float(value)) == value


@pytest.mark.parametrize("text", ["1.5", "inf", "nan", "1e400", "ten"])
def test_int_flags_refuse_other_numbers(text) -> None:
    with pytest.raises(Failed, match=rf"--steps: invalid int value: '{text}'"):
        _parse(["--steps", text])
    with pytest.raises(ValueError, match="is not an integer"):
        integer_value(text)
    with pytest.raises(Failed, match="must be an integer"):  # a file's value: check_types says so
        check_types(Settings(**settings_from_file(Settings, {"steps": text}, "f", fail)), fail)


@dataclass
class Flagged:
    """Settings made with :func:`mm_gym.cli.flag`."""

    batch_size: int = flag(8, "episodes per batch")
    ray: str = flag("", "join a cluster", const="local", metavar="ADDRESS")


def test_flag_fields_parse_and_check_ranges_names_the_flag() -> None:
    parser = settings_parser(Flagged, prog="t", description="", fail=fail)
    assert "episodes per batch (default: 8)" in parser.format_help()
    args = parse_settings(Flagged, parser, ["--batch-size", "3", "--ray"], fail)[0]
    assert (args.batch_size, args.ray) == (3, "local")
    check_ranges(args, {"batch_size": (1, 3)})
    with pytest.raises(CliError, match=r"^--batch-size=3 must be in \[4, 8\]$"):
        check_ranges(args, {"batch_size": (4, 8)})
