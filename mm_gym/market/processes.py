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
   With headlines (``news_model`` set, :func:`_headlines`) each item is instead a headline of
   the bank: bucket ``b`` of ``s``, index ``j`` uniform from ``STREAM_NEWS``, reading
   ``scores[b, j]``; the observed sentiment first decays, ``o = news_decay * o``, every step.
   The noise draw is still made (and discarded), so the exogenous stream, and with it the
   whole market, is the same with or without headlines. Replaying a headline file
   (``news_file``) the items are the file's headlines of the episode step instead; the
   Poisson count and its noise draws are still made and discarded, for the same reason.
4. Fundamental ``F`` (ticks), by regime, with ``e ~ N(0,1)``. For an asset of a portfolio
   (``corr_n > 0``, :mod:`mm_gym.portfolio`) the ``STREAM_EXO`` draw is made and discarded, and
   ``e = sum_b corr_b * z_b`` instead, ``z_1 .. z_corr_n`` standard normals from the
   ``STREAM_CORR`` stream every asset shares: the assets' innovations have the correlation matrix
   whose Cholesky factor's rows are their ``corr_0 .. corr_7``.
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
from mm_gym.market.rng import STREAM_CORR, STREAM_EXO, STREAM_NEWS, normal, poisson, uniform
from mm_gym.market.state import (
    F_ANCHOR,
    F_FUND,
    F_HEADLINE_SCORE,
    F_MID,
    F_SENT_OBS,
    F_SENT_X,
    HEADLINE_CAP,
    I_HEADLINE,
    I_HEADLINES,
    I_NEWS,
    I_REGIME,
    I_T,
    MarketState,
)

REGIME_MEAN_REVERTING = 0
REGIME_TRENDING = 1
REGIME_VOLATILE = 2


@nb.njit(cache=True, inline="always")
def _headlines(
    s: MarketState, p: MarketParams, m: int, sent: float, n_news: int, in_episode: bool
) -> int:
    """This step's headlines of market ``m`` at latent sentiment ``sent``; returns their number.

    The observed sentiment ``o`` is a decaying average of headline scores: every step
    ``o <- news_decay * o``, then per headline ``o <- (1 - alpha_smooth) * o + alpha_smooth *
    score``, so ``o = sum_i alpha (1 - alpha)^(later headlines) news_decay^(age in steps) score_i``,
    in [-1, 1]. From the bank there are ``n_news`` headlines, each ``scores[b, j]``: ``b`` the
    bucket of ``sent`` (the rule of :func:`mm_gym.news.bucket_of`), ``j`` uniform in ``[0, N)``
    from ``STREAM_NEWS``; its index is ``b * N + j``. In replay (``news_replay``) they are the
    file's headlines of this episode step (none in the warm-up, ``in_episode`` False), each
    indexed by its row in the file; the ``n_news`` drawn are discarded. Records the last
    headline's index and score (-1 and NaN without one) and the first ``HEADLINE_CAP`` indices.
    """
    fs, is_, rng, scores = s.fs, s.is_, s.rng, s.news_scores
    n_buckets, n_per = scores.shape[0], scores.shape[1]
    b = min(max(int((sent + 1.0) * 0.5 * n_buckets), 0), n_buckets - 1)
    alpha = p.alpha_smooth
    o = p.news_decay * fs[m, F_SENT_OBS]
    first, n = 0, n_news
    if p.news_replay:
        for _ in range(n_news):
            normal(rng, m, STREAM_EXO)  # the noisy reading's draw: keeps the exogenous stream
        i, start = is_[m, I_T], s.news_replay_start
        n = 0
        if in_episode and i + 1 < start.shape[0]:
            first, n = start[i], start[i + 1] - start[i]
    last = -1
    score = math.nan
    for k in range(n):
        if p.news_replay:
            score = s.news_replay_scores[first + k]
            last = s.news_replay_rows[first + k]
        else:
            normal(rng, m, STREAM_EXO)  # the noisy reading's draw: keeps the exogenous stream
            j = min(int(uniform(rng, m, STREAM_NEWS) * n_per), n_per - 1)
            score = scores[b, j]
            last = b * n_per + j
        o = (1.0 - alpha) * o + alpha * score
        if k < HEADLINE_CAP:
            is_[m, I_HEADLINES + k] = last
    fs[m, F_SENT_OBS] = o
    fs[m, F_HEADLINE_SCORE] = score
    is_[m, I_HEADLINE] = last
    return n


@nb.njit(cache=True, inline="always")
def step_exogenous(s: MarketState, p: MarketParams, m: int, in_episode: bool) -> None:
    """Advance regime, sentiment, news and the fundamental of market ``m`` by one step.

    ``in_episode`` is False in the warm-up (a replayed headline file starts with the episode).
    """
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
    if p.news_headlines:
        n_news = _headlines(s, p, m, sent, n_news, in_episode)
    else:
        alpha = p.alpha_smooth
        for _ in range(n_news):
            reading = min(1.0, max(-1.0, sent + p.news_noise * normal(rng, m, st)))
            fs[m, F_SENT_OBS] = (1.0 - alpha) * fs[m, F_SENT_OBS] + alpha * reading
    is_[m, I_NEWS] = n_news
    # 4. fundamental
    e = normal(rng, m, st)
    if p.corr_n > 0:
        row = (p.corr_0, p.corr_1, p.corr_2, p.corr_3, p.corr_4, p.corr_5, p.corr_6, p.corr_7)
        e = 0.0
        for b in range(p.corr_n):
            e += row[b] * normal(rng, m, STREAM_CORR)
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
