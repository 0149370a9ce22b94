"""Module attributes imported on first access (PEP 562), so importing a package stays cheap."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(package: str, where: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``name`` from the module ``where[name]``.

    Args:
        package: The module's name (for the error message).
        where: Attribute name -> module that defines it.

    Example:
        >>> __getattr__ = lazy_getattr(__name__, {"MarketMakingEnv": "mm_gym.envs.single"})
    """

    def __getattr__(name: str) -> Any:
        if name in where:
            return getattr(importlib.import_module(where[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__


def lazy_attributes(
    package: str, where: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A module's ``__getattr__`` (as :func:`lazy_getattr`) and its ``__dir__``.

    ``__dir__`` lists the module's loaded names and its ``__all__``, the lazy ones included;
    call this after ``__all__`` is defined.

    Example:
        >>> __getattr__, __dir__ = lazy_attributes(__name__, _WHERE)
    """
    module = sys.modules[package]

    def __dir__() -> list[str]:
        return sorted([*vars(module), *module.__all__])

    return lazy_getattr(package, where), __dir__
