"""Settings from outside the code: dotted overrides, and bounded reading of YAML/JSON files.

:func:`with_overrides` replaces (nested or dotted) fields of a :class:`~mm_gym.config.MarketConfig`;
:func:`load_config` and :func:`save_config` read and write one as a file; :func:`read_config_file`
reads any settings file (the CLIs' ``--config``, a run's saved settings) with bounded size, no
YAML aliases and one-line errors. Every name here is also importable from :mod:`mm_gym.config`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import fields, is_dataclass, replace
from pathlib import Path
from typing import Any

from mm_gym.config import ConfigError, MarketConfig, config_to_dict, excerpt
from mm_gym.files import atomic_write_text
from mm_gym.presets import preset, preset_names

__all__ = [
    "MAX_CONFIG_BYTES",
    "MAX_CONFIG_NODES",
    "load_config",
    "read_config_file",
    "save_config",
    "with_overrides",
]


def with_overrides(config: MarketConfig, overrides: Mapping[str, Any]) -> MarketConfig:
    """Return ``config`` with (possibly nested, possibly dotted) fields replaced.

    Args:
        config: The base config.
        overrides: ``{"regime": "trending", "flow": {"shock_rate": 0.01}}`` or
            ``{"flow.shock_rate": 0.01}``.

    Raises:
        ConfigError: On an unknown key (listing the valid ones), an invalid value, or two keys
            that set the same field (``"flow.shock_rate"`` and ``{"flow": {"shock_rate": ..}}``)
            or a field and a part of it (``"flow"`` given a value and ``"flow.shock_rate"``).
    """
    nested: dict[str, Any] = {}
    for key, value in overrides.items():
        if not isinstance(key, str):
            raise ConfigError(f"override key {excerpt(key)} must be a string")
        _put(nested, key.split("."), value, key)
    return _merge(config, nested, "")


def _put(tree: dict[str, Any], parts: list[str], value: Any, key: str) -> None:
    """Set ``tree[parts[0]]...[parts[-1]] = value``, merging mappings into copies, never over.

    Raises:
        ConfigError: If ``key`` sets a field another key already set, or a part of one.
    """
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part not in tree:
            if last and not isinstance(value, Mapping):
                tree[part] = value
                return
            tree[part] = {}
        elif not isinstance(tree[part], dict) or (last and not isinstance(value, Mapping)):
            field_name = ".".join(parts[: i + 1])
            raise ConfigError(
                f"override key {excerpt(key)} sets {field_name!r}, which another key sets too: "
                "give each field once"
            )
        tree = tree[part]
    for sub_key, sub_value in value.items():  # a key that is no field name is refused later
        _put(tree, [sub_key], sub_value, f"{key}.{sub_key}")


def _merge(obj: Any, changes: Mapping[str, Any], path: str) -> Any:
    known = {f.name for f in fields(obj)}
    unknown = sorted(set(changes) - known, key=str)  # file keys may be numbers too
    if unknown:
        where = f" in {path}" if path else ""
        raise ConfigError(
            f"unknown key(s) {excerpt(unknown)}{where}: valid keys are {sorted(known)}"
        )
    kwargs: dict[str, Any] = {}
    for key, value in changes.items():
        current = getattr(obj, key)
        if is_dataclass(current) and isinstance(value, Mapping):
            value = _merge(current, value, f"{path}.{key}" if path else key)
        kwargs[key] = value
    return replace(obj, **kwargs)


def save_config(config: MarketConfig, path: str | os.PathLike[str]) -> None:
    """Write ``config`` to a ``.yaml``/``.yml`` or ``.json`` file, atomically."""
    path = Path(path)
    data = config_to_dict(config)
    if path.suffix in (".yaml", ".yml"):
        import yaml

        text = yaml.safe_dump(data, sort_keys=False)
    elif path.suffix == ".json":
        text = json.dumps(data, indent=2)
    else:
        raise ConfigError(f"path={str(path)!r} must end in .yaml, .yml or .json")
    atomic_write_text(path, text)


MAX_CONFIG_BYTES = 1_000_000
"""Largest config file read (bytes); a settings file is a few kilobytes."""

MAX_CONFIG_NODES = 10_000
"""Most YAML/JSON nodes (scalars, keys, items) a config file may hold."""


def read_config_file(path: str | os.PathLike[str], what: str = "config file") -> dict[str, Any]:
    """Read a YAML or JSON settings file into a dict, bounded and with one-line errors.

    The file must be a regular file of at most :data:`MAX_CONFIG_BYTES`, UTF-8 text, hold a
    mapping with string keys at the top level, and at most :data:`MAX_CONFIG_NODES` nodes. YAML
    anchors and aliases are refused (a few hundred bytes of aliases expand to gigabytes).

    Args:
        path: A ``.yaml``, ``.yml`` or ``.json`` file.
        what: What the file is, named in errors (e.g. ``"--config"``).

    Raises:
        ConfigError: Naming the file and the problem.
    """
    path = Path(path)
    name = f"{what} {str(path)!r}"
    if path.is_dir():
        raise ConfigError(f"{name} is a folder, not a file")
    if not path.is_file():
        raise ConfigError(f"{name} does not exist")
    if path.suffix not in (".yaml", ".yml", ".json"):
        raise ConfigError(f"{name} must end in .yaml, .yml or .json")
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(
                f"{name} has {size:,} bytes; a config file may have at most {MAX_CONFIG_BYTES:,}"
            )
        raw = path.read_bytes()[: MAX_CONFIG_BYTES + 1]
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{name} is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{name} cannot be read: {exc.strerror}") from None
    if "\x00" in text:
        raise ConfigError(f"{name} is not a text file (it contains NUL bytes)")
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{name} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
            ) from None
        except RecursionError:
            raise ConfigError(f"{name} is nested too deeply") from None
    else:
        data = _safe_yaml(text, name)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{name} must hold a mapping (key: value lines) at the top level, not "
            f"{type(data).__name__} {excerpt(data, 40)}"
        )
    bad = [k for k in data if not isinstance(k, str)]
    if bad:
        raise ConfigError(f"{name}: keys must be names, not {excerpt(bad[0], 40)}")
    _check_size(data, name)
    return data


def _safe_yaml(text: str, name: str) -> Any:
    """``yaml.safe_load`` that refuses anchors and aliases (checked on the token stream first)."""
    import yaml

    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if isinstance(token, (yaml.AnchorToken, yaml.AliasToken)):
                line = token.start_mark.line + 1
                raise ConfigError(
                    f"{name} uses a YAML anchor or alias (line {line}); write values out in full"
                )
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ConfigError(f"{name} is not valid YAML: {problem}{where}") from None
    except RecursionError:
        raise ConfigError(f"{name} is nested too deeply") from None


def _check_size(data: Any, name: str) -> None:
    stack, count = [data], 0
    while stack:
        item = stack.pop()
        count += 1
        if count > MAX_CONFIG_NODES:
            raise ConfigError(
                f"{name} holds more than {MAX_CONFIG_NODES:,} values; a config "
                "file is a few settings"
            )
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)


def load_config(path: str | os.PathLike[str], base: MarketConfig | None = None) -> MarketConfig:
    """Load a config file (YAML or JSON), applied as overrides on ``base`` (default preset).

    Unknown keys are an error. A top-level ``preset: name`` key selects the base preset. The file
    is read by :func:`read_config_file` (bounded size, no YAML aliases, one-line errors).
    """
    data = read_config_file(path)
    if "preset" in data:
        name = data.pop("preset")
        if not isinstance(name, str):
            raise ConfigError(
                f"preset={excerpt(name, 40)} in {str(path)!r} must be a preset "
                f"name: one of {preset_names()}"
            )
        base = preset(name)
    return with_overrides(base or MarketConfig(), data)
