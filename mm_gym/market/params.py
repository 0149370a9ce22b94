"""Config -> flat parameter arrays for the compiled step (``P`` float64, ``Q`` int64)."""

from __future__ import annotations

import numpy as np

from mm_gym.config import REGIMES, MarketConfig
from mm_gym.market.rng import geometric_log_q_of_mean

(
    P_SIGMA,
    P_OU_KAPPA,
    P_TREND,
    P_VOL_SIGMA_MULT,
    P_VOL_FLOW_MULT,
    P_SWITCH,
    P_SENT_KAPPA,
    P_SENT_SIGMA,
    P_NEWS_RATE,
    P_NEWS_NOISE,
    P_ALPHA_SMOOTH,
    P_LO_RATE,
    P_LO_DIST,
    P_LO_SIZE,
    P_CANCEL,
    P_NOISE_RATE,
    P_NOISE_ALPHA,
    P_INF_RATE,
    P_INF_SCALE,
    P_INF_WEIGHT,
    P_INF_SIZE,
    P_HK_ALPHA,
    P_HK_BETA,
    P_SHOCK_RATE,
    P_P_ADV,
    P_IMPACT,
    P_VALUE,
    P_REBATE,
    P_FEE,
    P_RIV_HALF,
    P_RIV_INV,
    P_RIV_FLOW,
    P_ANCHOR,
    P_LO_DIST_LOGQ,
    P_LO_SIZE_LOGQ,
    P_INF_SIZE_LOGQ,
) = range(36)
N_P = 36

(
    Q_MAX_LOTS,
    Q_HAWKES,
    Q_SHOCK_DUR,
    Q_SHOCK_SIZE,
    Q_LIMIT1,
    Q_LIMIT2,
    Q_RIV_SIZE,
    Q_REGIME_MODE,  # 0..2 a fixed regime, 3 switching
    Q_HORIZON,
    Q_PRICE0,
) = range(10)
N_Q = 10
REGIME_SWITCHING = 3


def pack_params(config: MarketConfig) -> tuple[np.ndarray, np.ndarray]:
    """Flatten a config into the ``(P, Q)`` arrays the kernel reads."""
    pr, fl, mk, rv = config.process, config.flow, config.makers, config.rival
    P = np.zeros(N_P, np.float64)
    P[P_SIGMA] = pr.sigma_ticks
    P[P_OU_KAPPA] = pr.ou_kappa
    P[P_TREND] = pr.trend_drift_ticks
    P[P_VOL_SIGMA_MULT] = pr.volatile_sigma_mult
    P[P_VOL_FLOW_MULT] = pr.volatile_flow_mult
    P[P_SWITCH] = pr.switch_prob
    P[P_SENT_KAPPA] = pr.sentiment_kappa
    P[P_SENT_SIGMA] = pr.sentiment_sigma
    P[P_NEWS_RATE] = pr.news_rate
    P[P_NEWS_NOISE] = pr.news_noise
    P[P_ALPHA_SMOOTH] = pr.alpha_smooth
    P[P_LO_RATE] = fl.lo_rate
    P[P_LO_DIST] = fl.lo_mean_distance_ticks
    P[P_LO_SIZE] = fl.lo_mean_size_lots
    P[P_CANCEL] = fl.cancel_rate
    P[P_NOISE_RATE] = fl.noise_rate
    P[P_NOISE_ALPHA] = fl.noise_size_alpha
    P[P_INF_RATE] = fl.informed_rate
    P[P_INF_SCALE] = fl.informed_scale_ticks
    P[P_INF_WEIGHT] = fl.informed_sentiment_weight
    P[P_INF_SIZE] = fl.informed_mean_size_lots
    P[P_HK_ALPHA] = fl.hawkes_alpha
    P[P_HK_BETA] = fl.hawkes_beta
    P[P_SHOCK_RATE] = fl.shock_rate
    P[P_P_ADV] = fl.p_adversarial
    P[P_IMPACT] = fl.permanent_impact_ticks
    P[P_VALUE] = config.tick_size * config.lot_size
    P[P_REBATE] = mk.maker_rebate
    P[P_FEE] = mk.taker_fee
    P[P_RIV_HALF] = rv.half_spread_ticks
    P[P_RIV_INV] = rv.inventory_skew_ticks
    P[P_RIV_FLOW] = rv.flow_skew_ticks
    P[P_ANCHOR] = float(config.price0_ticks)
    # geometric draws take log(q) precomputed (one logarithm per draw instead of two)
    P[P_LO_DIST_LOGQ] = geometric_log_q_of_mean(fl.lo_mean_distance_ticks)
    P[P_LO_SIZE_LOGQ] = geometric_log_q_of_mean(fl.lo_mean_size_lots - 1.0)
    P[P_INF_SIZE_LOGQ] = geometric_log_q_of_mean(fl.informed_mean_size_lots - 1.0)
    Q = np.zeros(N_Q, np.int64)
    Q[Q_MAX_LOTS] = fl.max_order_lots
    Q[Q_HAWKES] = int(fl.hawkes)
    Q[Q_SHOCK_DUR] = fl.shock_duration_steps
    Q[Q_SHOCK_SIZE] = fl.shock_size_lots
    Q[Q_LIMIT1] = mk.mm1_limit
    Q[Q_LIMIT2] = mk.mm2_limit
    Q[Q_RIV_SIZE] = rv.size_lots
    Q[Q_REGIME_MODE] = (
        REGIME_SWITCHING if config.regime == "switching" else REGIMES.index(config.regime)
    )
    Q[Q_HORIZON] = config.horizon_steps
    Q[Q_PRICE0] = config.price0_ticks
    return P, Q
