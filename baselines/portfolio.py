"""Scripted baselines for ``mm_gym/Portfolio-v0``: a multi-venue policy per asset.

The portfolio's observation is ``time_left``, ``var_fraction``, then each asset's MultiVenue-v0
observation under the prefix ``asset<a>.`` (:mod:`mm_gym.portfolio.core`); its action is each
asset's MultiVenue-v0 action, asset by asset. :class:`PerAsset` runs one multi-venue policy
(:class:`~baselines.multivenue.QuoteEverywhere`, :class:`~baselines.multivenue.RoutedAS`) per
asset on that asset's block, with the asset's own context (the prefix stripped), so each asset
is quoted as MultiVenue-v0 would be; the portfolio's risk is left to the env's hedging overlay.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from mm_gym.policy import PolicyContext, QuotingPolicy

__all__ = ["PerAsset"]


class PerAsset:
    """One multi-venue policy per asset of a portfolio (module docstring).

    Args:
        make: Called once per asset at :meth:`reset` for that asset's policy, e.g.
            ``lambda: make_multivenue_policy("everywhere_as")``.
        name: Display name (default ``"per_asset_<policy name>"``).
    """

    def __init__(self, make: Callable[[], QuotingPolicy], *, name: str | None = None) -> None:
        """Keep the factory; the policies are made at :meth:`reset`."""
        self.make = make
        self.policies: list[QuotingPolicy] = []
        self._cols: list[np.ndarray] = []
        self.name = name or f"per_asset_{make().name}"

    def reset(self, rng: np.random.Generator, context: PolicyContext) -> None:
        """Make and reset each asset's policy with the asset's own context.

        Raises:
            KeyError: If ``context`` has no ``asset<a>.`` features (not a portfolio's).
        """
        names = context.feature_names
        assets = list(dict.fromkeys(f.split(".", 1)[0] for f in names if f.startswith("asset")))
        if not assets:
            raise KeyError(f"no 'asset<a>.<feature>' features in {names}")
        self.policies, self._cols = [], []
        for asset in assets:
            prefix = f"{asset}."
            cols = np.array([i for i, f in enumerate(names) if f.startswith(prefix)], np.int64)
            own = tuple(names[i][len(prefix) :] for i in cols)
            policy = self.make()
            policy.reset(rng, replace(context, feature_names=own))
            self.policies.append(policy)
            self._cols.append(cols)

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Map observations ``(n, d)`` to actions ``(n, A * 2V)``, asset by asset."""
        if not self.policies:
            raise RuntimeError(f"{type(self).__name__}.act() called before reset(rng, context)")
        obs = np.asarray(obs)
        parts = [
            np.asarray(p.act(obs[:, c]), np.float32)
            for p, c in zip(self.policies, self._cols, strict=True)
        ]
        return np.concatenate(parts, axis=1)
