"""Exogenous processes: the regime chain, latent and observed sentiment, news, the fundamental.

All draws come from the market's ``STREAM_EXO`` stream in a fixed pattern per step, so the
exogenous path is the same whatever the makers do (permanent impact, when enabled, is the one
channel from trading to the fundamental and is applied by the flow step, not here).

Per step (in this order):
1. Regime: in ``switching`` mode the chain leaves its regime with probability ``switch_prob``
   to one of the other two, uniformly.
2. Sentiment: ``x += -kappa_s * x + sigma_s * N(0,1)``; latent sentiment ``s = tanh(x)``.
3. News: ``Poisson(news_rate)`` items, each reading ``clip(s + news_noise * N(0,1), -1, 1)``;
   observed sentiment ``o = (1 - alpha_smooth) * o + alpha_smooth * reading`` per item.
4. Fundamental ``F`` (ticks), by regime, with ``e ~ N(0,1)``:
   ``mean_reverting``: ``F += ou_kappa * (anchor - F) + sigma * e`` (discrete OU, AR(1) 1-kappa);
   ``trending``: ``F += trend_drift * s + sigma * e`` (drift sign follows sentiment);
   ``volatile``: ``F += volatile_sigma_mult * sigma * e``.

With the ``"book"`` price formation the fundamental is ``mid + g``, ``g`` the informed traders'
private signal: ``g = (1 - informed_decay) * g + drift + sigma_r * e`` with the regime's drift
(``pull_mult * ou_kappa * (anchor - mid)``, ``trend_drift * s`` or 0) and the regime's
sigma. The information is short-lived and reaches the price only through informed order flow;
in ``switching`` the anchor is reset to the mid at every regime change.
"""

from __future__ import annotations

import math

import numba as nb

from mm_gym.market.params import FORMATION_BOOK, REGIME_SWITCHING, MarketParams
from mm_gym.market.rng import STREAM_EXO, normal, poisson, uniform
from mm_gym.market.state import (
    F_ANCHOR,
    F_FUND,
    F_MID,
    F_SENT_OBS,
    F_SENT_X,
    I_NEWS,
    I_REGIME,
    MarketState,
)

REGIME_MEAN_REVERTING = 0
REGIME_TRENDING = 1
REGIME_VOLATILE = 2


@nb.njit(cache=True, inline="always")
def step_exogenous(s: MarketState, p: MarketParams, m: int) -> None:
    """Advance regime, sentiment, news and the fundamental of market ``m`` by one step."""
    fs, is_, rng = s.fs, s.is_, s.rng
    st = STREAM_EXO
    # 1. regime chain (two uniforms every step in switching mode)
    if p.regime_mode == REGIME_SWITCHING:
        u = uniform(rng, m, st)
        u2 = uniform(rng, m, st)
        if u < p.switch_prob:
            is_[m, I_REGIME] = (is_[m, I_REGIME] + 1 + int(u2 * 2.0)) % 3
            if p.price_formation == FORMATION_BOOK:
                fs[m, F_ANCHOR] = fs[m, F_MID]  # the new regime reverts to today's price
    else:
        is_[m, I_REGIME] = p.regime_mode
    # 2. latent sentiment
    x = fs[m, F_SENT_X]
    x += -p.sentiment_kappa * x + p.sentiment_sigma * normal(rng, m, st)
    fs[m, F_SENT_X] = x
    sent = math.tanh(x)
    # 3. news
    n_news = poisson(rng, m, st, p.news_rate)
    alpha = p.alpha_smooth
    for _ in range(n_news):
        reading = min(1.0, max(-1.0, sent + p.news_noise * normal(rng, m, st)))
        fs[m, F_SENT_OBS] = (1.0 - alpha) * fs[m, F_SENT_OBS] + alpha * reading
    is_[m, I_NEWS] = n_news
    # 4. fundamental
    e = normal(rng, m, st)
    regime = is_[m, I_REGIME]
    f = fs[m, F_FUND]
    if p.price_formation == FORMATION_BOOK:
        mid = fs[m, F_MID]
        g = (1.0 - p.informed_decay) * (f - mid)
        if regime == REGIME_MEAN_REVERTING:
            g += p.pull_mult * p.ou_kappa * (fs[m, F_ANCHOR] - mid) + p.sigma_ticks * e
        elif regime == REGIME_TRENDING:
            g += p.trend_drift_ticks * sent + p.sigma_ticks * e
        else:
            g += p.volatile_sigma_mult * p.sigma_ticks * e
        fs[m, F_FUND] = mid + g
        return
    if regime == REGIME_MEAN_REVERTING:
        f += p.ou_kappa * (p.anchor_ticks - f) + p.sigma_ticks * e
    elif regime == REGIME_TRENDING:
        f += p.trend_drift_ticks * sent + p.sigma_ticks * e
    else:
        f += p.volatile_sigma_mult * p.sigma_ticks * e
    fs[m, F_FUND] = f
