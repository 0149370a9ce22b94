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
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from mm_gym.market.params import (
    P_ALPHA_SMOOTH,
    P_ANCHOR,
    P_NEWS_NOISE,
    P_NEWS_RATE,
    P_OU_KAPPA,
    P_SENT_KAPPA,
    P_SENT_SIGMA,
    P_SIGMA,
    P_SWITCH,
    P_TREND,
    P_VOL_SIGMA_MULT,
    Q_REGIME_MODE,
    REGIME_SWITCHING,
)
from mm_gym.market.rng import STREAM_EXO, normal, poisson, uniform
from mm_gym.market.state import F_FUND, F_SENT_OBS, F_SENT_X, I_NEWS, I_REGIME

REGIME_MEAN_REVERTING = 0
REGIME_TRENDING = 1
REGIME_VOLATILE = 2


@nb.njit(cache=True)
def step_exogenous(
    m: int, P: np.ndarray, Q: np.ndarray, fs: np.ndarray, is_: np.ndarray, rng: np.ndarray
) -> None:
    """Advance regime, sentiment, news and the fundamental of market ``m`` by one step."""
    s = STREAM_EXO
    # 1. regime chain (two uniforms every step in switching mode)
    if Q[Q_REGIME_MODE] == REGIME_SWITCHING:
        u = uniform(rng, m, s)
        u2 = uniform(rng, m, s)
        if u < P[P_SWITCH]:
            is_[m, I_REGIME] = (is_[m, I_REGIME] + 1 + int(u2 * 2.0)) % 3
    else:
        is_[m, I_REGIME] = Q[Q_REGIME_MODE]
    # 2. latent sentiment
    x = fs[m, F_SENT_X]
    x += -P[P_SENT_KAPPA] * x + P[P_SENT_SIGMA] * normal(rng, m, s)
    fs[m, F_SENT_X] = x
    sent = math.tanh(x)
    # 3. news
    n_news = poisson(rng, m, s, P[P_NEWS_RATE])
    alpha = P[P_ALPHA_SMOOTH]
    for _ in range(n_news):
        reading = min(1.0, max(-1.0, sent + P[P_NEWS_NOISE] * normal(rng, m, s)))
        fs[m, F_SENT_OBS] = (1.0 - alpha) * fs[m, F_SENT_OBS] + alpha * reading
    is_[m, I_NEWS] = n_news
    # 4. fundamental
    e = normal(rng, m, s)
    regime = is_[m, I_REGIME]
    f = fs[m, F_FUND]
    if regime == REGIME_MEAN_REVERTING:
        f += P[P_OU_KAPPA] * (P[P_ANCHOR] - f) + P[P_SIGMA] * e
    elif regime == REGIME_TRENDING:
        f += P[P_TREND] * sent + P[P_SIGMA] * e
    else:
        f += P[P_VOL_SIGMA_MULT] * P[P_SIGMA] * e
    fs[m, F_FUND] = f
