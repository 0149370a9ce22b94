"""Named observation features and their finite float32 bounds.

The simulator computes every feature for every market in its compiled step
(:mod:`mm_gym.market.kernels`, ``write_features``) into a ``(n_markets, 2, N_FEATURES_ALL)``
float32 array (one row per maker) in the order of :data:`FEATURE_NAMES_ALL`; an environment
exposes the first :data:`N_FEATURES` columns, plus the regime one-hot when
``observe_regime=True`` and then ``alpha`` when ``observe_alpha=True``
(:func:`observed_feature_names`).

| index | feature | min | max | meaning |
| --- | --- | --- | --- | --- |
| 0 | inventory | -1 | 1 | inventory / limit |
| 1 | time_left | 0 | 1 | (horizon - t) / horizon |
| 2-6 | ret_1 .. ret_5 | -50 | 50 | last five mid changes in ticks (ret_1 newest), clipped |
| 7 | spread_ticks | 0 | 100 | best ask - best bid, ticks, clipped (100 when a side is empty) |
| 8 | imbalance_l1 | -1 | 1 | (bid - ask) / (bid + ask) lots at the best prices |
| 9 | imbalance_l5 | -1 | 1 | the same over five ticks from each best price (empty ones count 0) |
| 10 | flow | -1 | 1 | EMA of signed market-order lots / EMA of absolute lots (buy > 0) |
| 11 | sentiment | -1 | 1 | observed sentiment (EMA of readings or decaying mean of headlines) |
| 12 | volatility_ticks | 0 | 100 | EWMA realized volatility of mid changes, ticks per step |
| 13 | own_bid_offset | 0 | 100 | mid - own resting bid, ticks (100 when none rests) |
| 14 | own_ask_offset | 0 | 100 | own resting ask - mid, ticks (100 when none rests) |
| 15 | rival_bid_offset | 0 | 100 | mid - rival's resting bid, ticks (100 when none rests) |
| 16 | rival_ask_offset | 0 | 100 | rival's resting ask - mid, ticks (100 when none rests) |
| 17-19 | regime_* | 0 | 1 | one-hot of the current regime (only with observe_regime) |
| 20 | alpha | -1 | 1 | clip(w_s sentiment + w_i imbalance_l1, -1, 1) (only with observe_alpha) |

``alpha`` blends news sentiment with the book's best-level imbalance; its weights are
``process.alpha_sentiment_weight`` (``w_s``, default 1) and ``process.alpha_imbalance_weight``
(``w_i``, default 1). It is computed in float64 from the unrounded sentiment and imbalance,
then stored as float32 like every feature.

"own" and "rival" are from the observing maker's point of view (mm2 sees mm1 as its rival).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "FEATURE_NAMES",
    "FEATURE_NAMES_ALL",
    "N_FEATURES",
    "N_FEATURES_ALL",
    "REGIME_FEATURES",
    "SIGNAL_FEATURES",
    "feature_bounds",
    "observed_feature_names",
]

N_RETURNS = 5
NO_QUOTE_OFFSET = 100.0

FEATURE_NAMES: tuple[str, ...] = (
    "inventory",
    "time_left",
    *(f"ret_{i + 1}" for i in range(N_RETURNS)),
    "spread_ticks",
    "imbalance_l1",
    "imbalance_l5",
    "flow",
    "sentiment",
    "volatility_ticks",
    "own_bid_offset",
    "own_ask_offset",
    "rival_bid_offset",
    "rival_ask_offset",
)
REGIME_FEATURES: tuple[str, ...] = ("regime_mean_reverting", "regime_trending", "regime_volatile")
SIGNAL_FEATURES: tuple[str, ...] = ("alpha",)
FEATURE_NAMES_ALL: tuple[str, ...] = FEATURE_NAMES + REGIME_FEATURES + SIGNAL_FEATURES
N_FEATURES = len(FEATURE_NAMES)
N_FEATURES_ALL = len(FEATURE_NAMES_ALL)

_BOUNDS: dict[str, tuple[float, float]] = {
    "inventory": (-1.0, 1.0),
    "time_left": (0.0, 1.0),
    **{f"ret_{i + 1}": (-50.0, 50.0) for i in range(N_RETURNS)},
    "spread_ticks": (0.0, 100.0),
    "imbalance_l1": (-1.0, 1.0),
    "imbalance_l5": (-1.0, 1.0),
    "flow": (-1.0, 1.0),
    "sentiment": (-1.0, 1.0),
    "volatility_ticks": (0.0, 100.0),
    "own_bid_offset": (0.0, NO_QUOTE_OFFSET),
    "own_ask_offset": (0.0, NO_QUOTE_OFFSET),
    "rival_bid_offset": (0.0, NO_QUOTE_OFFSET),
    "rival_ask_offset": (0.0, NO_QUOTE_OFFSET),
    **{name: (0.0, 1.0) for name in REGIME_FEATURES},
    "alpha": (-1.0, 1.0),
}


def observed_feature_names(observe_regime: bool, observe_alpha: bool) -> tuple[str, ...]:
    """The names an environment observes.

    In this order: the base features, the regime one-hot (``observe_regime``), then ``alpha``
    (``observe_alpha``).
    """
    return (
        FEATURE_NAMES
        + (REGIME_FEATURES if observe_regime else ())
        + (SIGNAL_FEATURES if observe_alpha else ())
    )


def feature_bounds(names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Return float32 ``(low, high)`` arrays for the named features."""
    low = np.array([_BOUNDS[n][0] for n in names], dtype=np.float32)
    high = np.array([_BOUNDS[n][1] for n in names], dtype=np.float32)
    return low, high
