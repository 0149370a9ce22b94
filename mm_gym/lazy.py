"""Module attributes imported on first access (PEP 562), so importing a package stays cheap."""

from __future__ import annotations

import importlib
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
