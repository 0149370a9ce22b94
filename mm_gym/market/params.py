"""Config -> :class:`MarketParams`, the frozen parameters the compiled step reads by name.

numba types a ``NamedTuple`` of scalars as a heterogeneous tuple: ``p.sigma_ticks`` compiles to
a field read, as cheap as the indexed read of a flat array it replaces.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple, get_type_hints

from mm_gym.config import REGIMES, FormationConfig, MarketConfig
from mm_gym.market.rng import geometric_log_q_of_mean

MAX_ASSETS = 8  # assets of a portfolio (mm_gym.portfolio): MarketParams.corr_0 .. corr_7
CORR_FIELDS = tuple(f"corr_{b}" for b in range(MAX_ASSETS))
REV_FIELDS = tuple(f"rev_{b}" for b in range(MAX_ASSETS))  # MarketParams.rev_0 .. rev_7
REGIME_SWITCHING = 3  # regime_mode of a switching market (0..2: that regime, fixed)
FORMATION_LEGACY = 0  # price_formation codes
FORMATION_BOOK = 1


class MarketParams(NamedTuple):
    """The market's parameters in kernel units (ticks, lots, steps, currency).

    Each field mirrors a :class:`mm_gym.config.MarketConfig` field (named in brackets); see
    there for the meaning and the allowed range.
    """

    sigma_ticks: float  # fundamental volatility per step [process.sigma_ticks]
    ou_kappa: float  # mean-reversion speed [process.ou_kappa]
    trend_drift_ticks: float  # drift per unit sentiment [process.trend_drift_ticks]
    volatile_sigma_mult: float  # [process.volatile_sigma_mult]
    volatile_flow_mult: float  # [process.volatile_flow_mult x formation.volatile_mo_mult (book)]
    switch_prob: float  # [process.switch_prob]
    sentiment_kappa: float  # [process.sentiment_kappa]
    sentiment_sigma: float  # [process.sentiment_sigma]
    news_rate: float  # news items per step [process.news_rate]
    news_noise: float  # [process.news_noise]
    alpha_smooth: float  # [process.alpha_smooth]
    news_headlines: bool  # news items are headlines of the bank [process.news_model != "none"]
    news_replay: bool  # headlines come from a file, not the bank [process.news_file != ""]
    news_decay: float  # per-step decay of the observed sentiment, 2 ** (-1 / half-life)
    alpha_sentiment_weight: float  # [process.alpha_sentiment_weight]
    alpha_imbalance_weight: float  # [process.alpha_imbalance_weight]
    lo_rate: float  # background limit orders per side per step [flow.lo_rate]
    cancel_rate: float  # per resting lot per step [flow.cancel_rate]
    noise_rate: float  # noise market orders per step [flow.noise_rate]
    noise_size_alpha: float  # Pareto tail of noise sizes [flow.noise_size_alpha]
    informed_rate: float  # [flow.informed_rate]
    informed_scale_ticks: float  # [flow.informed_scale_ticks]
    informed_sentiment_weight: float  # [flow.informed_sentiment_weight]
    hawkes_alpha: float  # [flow.hawkes_alpha]
    hawkes_beta: float  # [flow.hawkes_beta]
    shock_rate: float  # shock starts per step [flow.shock_rate]
    p_adversarial: float  # [flow.p_adversarial]
    permanent_impact_ticks: float  # per lot of signed volume [flow.permanent_impact_ticks]
    value_per_tick_lot: float  # currency per tick per lot [tick_size * lot_size]
    maker_rebate: float  # currency per lot [makers.maker_rebate]
    taker_fee: float  # currency per lot [makers.taker_fee]
    rival_half_spread_ticks: float  # [rival.half_spread_ticks]
    rival_inventory_skew_ticks: float  # [rival.inventory_skew_ticks]
    rival_flow_skew_ticks: float  # [rival.flow_skew_ticks]
    anchor_ticks: float  # start price and OU anchor [price0_ticks]
    # geometric draws take log(q) precomputed (one logarithm per draw instead of two)
    lo_distance_log_q: float  # [flow.lo_mean_distance_ticks]
    lo_size_log_q: float  # of size - 1 [flow.lo_mean_size_lots]
    informed_size_log_q: float  # of size - 1 [flow.informed_mean_size_lots]
    max_order_lots: int  # [flow.max_order_lots]
    hawkes: bool  # [flow.hawkes]
    shock_duration_steps: int  # [flow.shock_duration_steps; 1 with formation.shock_one_step]
    shock_size_lots: int  # [flow.shock_size_lots]
    mm1_limit: int  # inventory limit, lots [makers.mm1_limit]
    mm2_limit: int  # [makers.mm2_limit]
    rival_size_lots: int  # [rival.size_lots]
    regime_mode: int  # 0..2 a fixed regime (REGIMES order), REGIME_SWITCHING [regime]
    horizon_steps: int  # [horizon_steps]
    # "book" price formation [formation.*]
    price_formation: int  # FORMATION_LEGACY / FORMATION_BOOK [price_formation]
    queue_ref_lots: float
    inside_spread_prob: float
    metaorder_share: float
    metaorder_count: int
    metaorder_inv_tail: float  # 1 / metaorder_tail
    activity_on: bool  # activity_sigma > 0
    act_a0: float  # AR(1) coefficients exp(-1/tau) of the three components
    act_a1: float
    act_a2: float
    act_b0: float  # innovation std sigma * sqrt(1 - a^2)
    act_b1: float
    act_b2: float
    act_log_norm: float  # -0.5 * total variance: the factor has mean 1 before the cap
    activity_cap: float
    touch_take_prob: float
    depth_fraction_power: float
    adaptive_kappa: float
    sign_ewma_decay: float  # 2 ** (-1 / half-life)
    informed_decay: float
    pull_mult: float
    volatile_lo_mult: float
    # the venue of a multi-venue asset (mm_gym.multivenue): seeds the venue's own order-flow
    # streams (rng.seed_venue_streams); 0 for a single-venue market
    venue: int = 0
    # the asset of a portfolio (mm_gym.portfolio): seeds the asset's own streams
    # (rng.seed_asset_streams); 0 for a single asset
    asset: int = 0
    # the fundamental's innovation of a portfolio's asset is sum_b corr_b * z_b over the corr_n
    # standard normals z_b drawn each step from the shared STREAM_CORR: corr_0 .. corr_7 are the
    # asset's row of the Cholesky factor of the correlation matrix (zero-padded to MAX_ASSETS).
    # corr_n = 0 (a single asset): the innovation is the market's own STREAM_EXO draw. Scalars,
    # not a tuple: the parallel kernels' loop bodies (numba parfors) take no tuple arguments.
    corr_n: int = 0
    corr_0: float = 0.0
    corr_1: float = 0.0
    corr_2: float = 0.0
    corr_3: float = 0.0
    corr_4: float = 0.0
    corr_5: float = 0.0
    corr_6: float = 0.0
    corr_7: float = 0.0
    # common quote revisions of a portfolio's asset (mm_gym.market.revision): with probability
    # revision_prob a step moves the whole book by floor(revision_ticks / sqrt(revision_prob)
    # * sum_b rev_b * z_b + dither) ticks, over corr_n further standard normals of STREAM_CORR;
    # rev_0 .. rev_7 are the asset's row of the Cholesky factor of the revisions' correlation
    # matrix. revision_ticks = 0: no revisions (no draws).
    revision_ticks: float = 0.0
    revision_prob: float = 1.0
    rev_0: float = 0.0
    rev_1: float = 0.0
    rev_2: float = 0.0
    rev_3: float = 0.0
    rev_4: float = 0.0
    rev_5: float = 0.0
    rev_6: float = 0.0
    rev_7: float = 0.0
    # the makers' resting orders move with a revision (True) or keep their prices and are
    # picked off when the revised book crosses them (False); after the older fields, so that a
    # pickled MarketParams of an older release unpickles with the pegged orders it ran with
    # (the clustering fields after it are newer and take their defaults: no clustering)
    revision_pegged: bool = True
    # clustered news (mm_gym.market.revision): a step's revision probability is
    # min(1, revision_prob * exp(y_0 + y_1 + clust_log_norm)), y_j AR(1) with coefficient
    # clust_a<j> and innovation std clust_b<j> over further STREAM_CORR normals; clust_log_norm
    # makes its mean revision_prob. clust_on False (revision_clustering 0): no draws.
    clust_on: bool = False
    clust_a0: float = 0.0
    clust_a1: float = 0.0
    clust_b0: float = 0.0
    clust_b1: float = 0.0
    clust_log_norm: float = 0.0


def pack_params(config: MarketConfig) -> MarketParams:
    """The :class:`MarketParams` of ``config``."""
    pr, fl, fo = config.process, config.flow, config.formation
    book = config.price_formation == "book"
    # The book model's own volatile flow and shock shape ride on the legacy fields, so the
    # compiled step is the same for both models (FormationConfig.volatile_mo_mult, shock_one_step).
    volatile_flow_mult = pr.volatile_flow_mult * (fo.volatile_mo_mult if book else 1.0)
    shock_steps = 1 if book and fo.shock_one_step else fl.shock_duration_steps
    return MarketParams(
        **_copied_params(config),
        volatile_flow_mult=float(volatile_flow_mult),
        news_headlines=pr.news_model != "none",
        news_replay=pr.news_file != "",
        news_decay=2.0 ** (-1.0 / pr.news_half_life_steps),
        value_per_tick_lot=float(config.tick_size * config.lot_size),
        anchor_ticks=float(config.price0_ticks),
        lo_distance_log_q=geometric_log_q_of_mean(fl.lo_mean_distance_ticks),
        lo_size_log_q=geometric_log_q_of_mean(fl.lo_mean_size_lots - 1.0),
        informed_size_log_q=geometric_log_q_of_mean(fl.informed_mean_size_lots - 1.0),
        shock_duration_steps=int(shock_steps),
        regime_mode=(
            REGIME_SWITCHING if config.regime == "switching" else REGIMES.index(config.regime)
        ),
        horizon_steps=int(config.horizon_steps),
        price_formation=FORMATION_BOOK if config.price_formation == "book" else FORMATION_LEGACY,
        **_formation_params(fo),
    )


# The fields that copy a config field unchanged, by config part: ``process.sigma_ticks`` gives
# ``sigma_ticks``; the rival's fields are prefixed, ``rival.size_lots`` gives ``rival_size_lots``.
_COPIED: dict[str, tuple[str, ...]] = {
    "process": (
        "sigma_ticks", "ou_kappa", "trend_drift_ticks", "volatile_sigma_mult", "switch_prob",
        "sentiment_kappa", "sentiment_sigma", "news_rate", "news_noise", "alpha_smooth",
        "alpha_sentiment_weight", "alpha_imbalance_weight",
    ),
    "flow": (
        "lo_rate", "cancel_rate", "noise_rate", "noise_size_alpha", "informed_rate",
        "informed_scale_ticks", "informed_sentiment_weight", "hawkes_alpha", "hawkes_beta",
        "shock_rate", "p_adversarial", "permanent_impact_ticks", "max_order_lots", "hawkes",
        "shock_size_lots",
    ),
    "makers": ("maker_rebate", "taker_fee", "mm1_limit", "mm2_limit"),
    "rival": ("half_spread_ticks", "inventory_skew_ticks", "flow_skew_ticks", "size_lots"),
}  # fmt: skip
_FIELD_TYPES: dict[str, type] = get_type_hints(MarketParams)  # field -> float, int or bool


def _copied_params(config: MarketConfig) -> dict[str, Any]:
    """The :class:`MarketParams` fields of :data:`_COPIED`, each as its annotated type."""
    out: dict[str, Any] = {}
    for part, names in _COPIED.items():
        prefix = "rival_" if part == "rival" else ""
        for name in names:
            field = prefix + name
            out[field] = _FIELD_TYPES[field](getattr(getattr(config, part), name))
    return out


def _formation_params(fo: FormationConfig) -> dict[str, Any]:
    """The :class:`MarketParams` fields of the "book" price formation (``config.formation``)."""
    a, b = _activity_ar1(fo)
    return dict(
        queue_ref_lots=float(fo.queue_ref_lots),
        inside_spread_prob=float(fo.inside_spread_prob),
        metaorder_share=float(fo.metaorder_share),
        metaorder_count=int(fo.metaorder_count),
        metaorder_inv_tail=1.0 / float(fo.metaorder_tail),
        activity_on=fo.activity_sigma > 0.0,
        act_a0=a[0],
        act_a1=a[1],
        act_a2=a[2],
        act_b0=b[0],
        act_b1=b[1],
        act_b2=b[2],
        act_log_norm=-0.5 * 3.0 * fo.activity_sigma**2,
        activity_cap=float(fo.activity_cap),
        touch_take_prob=float(fo.touch_take_prob),
        depth_fraction_power=float(fo.depth_fraction_power),
        adaptive_kappa=float(fo.adaptive_kappa),
        sign_ewma_decay=2.0 ** (-1.0 / fo.adaptive_half_life_orders),
        informed_decay=float(fo.informed_decay),
        pull_mult=float(fo.pull_mult),
        volatile_lo_mult=float(fo.volatile_lo_mult),
    )


def _activity_ar1(fo: FormationConfig) -> tuple[list[float], list[float]]:
    """AR(1) coefficients and innovation stds of the activity factor's three log-OU components.

    Each component is ``x' = a x + b eps`` with ``a = exp(-1 / tau)`` (``tau`` its time scale in
    steps) and ``b = activity_sigma * sqrt(1 - a^2)``, so its stationary std is ``activity_sigma``.
    """
    taus = (fo.activity_tau_fast_steps, fo.activity_tau_mid_steps, fo.activity_tau_slow_steps)
    a = [math.exp(-1.0 / tau) for tau in taus]
    return a, [fo.activity_sigma * math.sqrt(1.0 - x * x) for x in a]
