"""Scripted quoting policies and the closed-form strategies they are built from.

Book-environment policies (:class:`mm_gym.policy.QuotingPolicy`, ticks and steps):
:class:`FixedSpread`, :class:`OrderFlowSkew`, :class:`AvellanedaStoikov`, :class:`GLFT`,
:class:`SentimentAS` (AS shifted by the news-and-imbalance ``alpha``), :class:`RandomQuoter`.
Intensity-model strategies (currency and time, for
:func:`mm_gym.market.intensity.simulate`): :class:`InventoryQuotes`, :class:`SymmetricQuotes`,
:class:`GLFTQuotes`. The formulas themselves are in :mod:`baselines.formulas`; the fill-curve
estimator is :func:`calibrate_k`, fitted on the book env by :func:`calibrate_on_env` (both in
:mod:`baselines.fill_fit`; :func:`calibrated_as` / :func:`calibrated_glft` of
:mod:`baselines.calibration` build the tuned baselines); ``python -m baselines.as2008``
reproduces Avellaneda & Stoikov (2008), section 3.3.

Multi-venue (``mm_gym/MultiVenue-v0``, issue #15): :class:`VenueRouter` learns each venue's
value per lot from the maker's fills, chooses venues and splits size; :class:`QuoteEverywhere`
runs a single-venue rule on every venue and :class:`RoutedAS` quotes it only on the router's
top-k venues (:mod:`baselines.multivenue`, played by ``python -m mm_gym.multivenue.tournament``).
"""

from baselines.calibration import (
    calibrated_as,
    calibrated_glft,
    calibrated_sentiment_as,
    calibration_for,
)
from baselines.fill_fit import calibrate_k, calibrate_on_env
from baselines.intensity_quotes import GLFTQuotes, InventoryQuotes, SymmetricQuotes
from baselines.multivenue import QuoteEverywhere, RoutedAS
from baselines.policies import (
    GLFT,
    AvellanedaStoikov,
    FixedSpread,
    OrderFlowSkew,
    RandomQuoter,
    SentimentAS,
)
from baselines.router import VenueRouter

__all__ = [
    "GLFT",
    "AvellanedaStoikov",
    "FixedSpread",
    "GLFTQuotes",
    "InventoryQuotes",
    "OrderFlowSkew",
    "QuoteEverywhere",
    "RandomQuoter",
    "RoutedAS",
    "SentimentAS",
    "SymmetricQuotes",
    "VenueRouter",
    "calibrate_k",
    "calibrate_on_env",
    "calibrated_as",
    "calibrated_glft",
    "calibrated_sentiment_as",
    "calibration_for",
]
