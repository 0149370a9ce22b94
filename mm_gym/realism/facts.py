"""The facts of the realism report: what is measured per preset, its targets and its CIs.

Every fact is a pooled estimate over markets (:mod:`mm_gym.realism.estimators`) with a 95 %
percentile bootstrap CI over markets (fixed seed, the same resamples for every fact of a preset).
Pass/fail compares the point estimate with the target; the CI says how sure that verdict is. The
targets are those of the realism issue (#12); facts without a target are reported as ``info``.

:func:`analyse` runs the groups of facts in report order, each a function of the measurement:
heavy tails, autocorrelations, order signs and impact, the book, predictability, the hidden
fundamental, the response to noise orders, the order-flow composition.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from mm_gym.market.views import KIND_NAMES, KIND_NOISE, KIND_PICKOFF
from mm_gym.realism import estimators as est
from mm_gym.realism.measure import Measurement

__all__ = [
    "IMPACT_MIN_COUNT",
    "Fact",
    "PresetResult",
    "analyse",
    "book_presets",
    "cross_preset_facts",
]

MIN_MARKET_STEPS_EMPTY = 1_000_000
"""Sample the empty-side target asks for (market-steps per preset)."""
ORDER_KINDS = tuple(k for k in range(len(KIND_NAMES)) if k != KIND_PICKOFF)
"""The aggressor kinds of market orders (indices into ``mm_gym.market.views.KIND_NAMES``): every
kind but a pick-off, a revision's fill of a stale quote, which records no market order."""

ACF_LAGS = np.arange(1, 101)
SIGN_ACF_MAX_LAG = 1000
HURST_BLOCK_SIZES = np.unique(np.geomspace(10, 1000, 12).astype(int))
"""Block sizes of the sign Hurst fit, orders (10 to 1,000: the metaorder scales)."""
RESPONSE_LAGS = np.arange(0, 51)
XCORR_LAGS = np.arange(-5, 21)
SENTIMENT_HORIZON_STEPS = 50
PREDICTOR_LAGS = 5
R2_TARGET = 0.005
IMPACT_MIN_COUNT = 50
"""Orders a size bin needs to enter the impact fit (and the impact plot)."""

Check = Callable[[float], bool]
Stat = Callable[[est.Parts, np.ndarray | None], Any]


@dataclass(frozen=True)
class Fact:
    """One row of the report.

    Attributes:
        key: Stable identifier (CSV column ``fact``).
        label: Human description with units.
        target: The target as text ('' for an info row).
        value: Point estimate.
        lo: Lower end of the 95 % bootstrap CI (NaN if none).
        hi: Upper end of the CI.
        status: ``pass``, ``FAIL``, ``n/a`` (target not applicable to this sample) or ``info``.
        sample: What the estimate rests on.
    """

    key: str
    label: str
    target: str
    value: float
    lo: float
    hi: float
    status: str
    sample: str


@dataclass
class PresetResult:
    """The facts of one preset plus the curves behind the plots.

    Attributes:
        preset: Preset name.
        facts: Rows in report order.
        curves: Named arrays for the plots.
        draws: Bootstrap draws kept for facts that compare presets.
        sample: Sample description.
    """

    preset: str
    facts: list[Fact]
    curves: dict[str, np.ndarray] = field(default_factory=dict)
    draws: dict[str, np.ndarray] = field(default_factory=dict)
    sample: str = ""

    def fact(self, key: str) -> Fact:
        """The fact named ``key``."""
        for f in self.facts:
            if f.key == key:
                return f
        raise KeyError(key)


def book_presets() -> list[str]:
    """The presets that run the book (``as2008`` is the intensity model: no book to measure)."""
    from mm_gym.config import preset, preset_names

    return [p for p in preset_names() if preset(p).fills == "book"]


def _verdict(value: float, check: Check | None) -> str:
    if check is None:
        return "info"
    if not np.isfinite(value):
        return "n/a"
    return "pass" if check(value) else "FAIL"


def _no_ci(key: str, label: str, value: float, status: str, sample: str, target: str = "") -> Fact:
    """A fact without a bootstrap CI (counts, shares, facts that cannot be computed)."""
    return Fact(key, label, target, value, math.nan, math.nan, status, sample)


class _Sheet:
    """The facts, curves and kept draws of one preset as they are added, in report order."""

    def __init__(self, meas: Measurement, n_boot: int, seed: int) -> None:
        self.meas = meas
        self.n_boot = n_boot
        self.seed = seed
        self.steps = f"{meas.n_markets} mkts x {meas.n_steps:,} steps"
        self.facts: list[Fact] = []
        self.curves: dict[str, np.ndarray] = {}
        self.draws: dict[str, np.ndarray] = {}

    def add(
        self,
        key: str,
        label: str,
        parts: est.Parts,
        stat: Stat,
        target: str = "",
        check: Check | None = None,
        sample: str | None = None,
        keep: bool = False,
    ) -> float:
        """Estimate ``stat`` on the pooled ``parts`` with its bootstrap CI; add the row."""
        value = float(stat(parts, None))
        d = est.bootstrap_draws(parts, stat, self.n_boot, self.seed)
        lo, hi = est.percentile_ci(d)
        if keep:
            self.draws[key] = d
        status = _verdict(value, check)
        row = Fact(key, label, target, value, float(lo), float(hi), status, sample or self.steps)
        self.facts.append(row)
        return value


class _Orders(NamedTuple):
    """The executed market orders (``size > 0``) split per market, in event time."""

    live: np.ndarray  # mask over the measurement's order records
    signs: list[np.ndarray]
    sizes: list[np.ndarray]
    impacts: list[np.ndarray]
    n_executed: int
    sample: str


def _split_orders(meas: Measurement) -> _Orders:
    o = meas.orders
    live = o["size_lots"] > 0
    bounds = np.searchsorted(o["market"][live], np.arange(meas.n_markets + 1))  # sorted by market
    cuts = bounds[1:-1]
    signs = np.split(o["side"][live].astype(np.float64), cuts)
    sizes = np.split(o["size_lots"][live].astype(np.float64), cuts)
    impacts = np.split(o["impact_ticks"][live].astype(np.float64), cuts)
    count = int(live.sum())
    return _Orders(live, signs, sizes, impacts, count, f"{count:,} market orders")


def analyse(meas: Measurement, n_boot: int = 500, seed: int = 0) -> PresetResult:
    """Estimate every fact of one measured preset with bootstrap CIs over markets.

    Args:
        meas: The measurement.
        n_boot: Bootstrap resamples.
        seed: Seed of the resampling (the same resamples for every fact).

    Returns:
        The :class:`PresetResult`.
    """
    sheet = _Sheet(meas, n_boot, seed)
    r = meas.returns_ticks
    orders = _split_orders(meas)
    _tail_facts(sheet, r)
    _autocorrelation_facts(sheet, r)
    _order_sign_and_impact_facts(sheet, orders)
    _book_facts(sheet)
    _predictability_facts(sheet, r)
    _fundamental_facts(sheet)
    _noise_response_facts(sheet, orders.live)
    _flow_facts(sheet, orders)
    _return_distribution_curves(sheet, r)
    n, t = meas.n_markets, meas.n_steps
    sample = (
        f"{n} markets x {t:,} steps after {meas.burn_in_steps:,} burn-in, seeds "
        f"{meas.seed}..{meas.seed + n - 1}, {orders.n_executed:,} market orders"
    )
    return PresetResult(meas.preset, sheet.facts, sheet.curves, sheet.draws, sample)


def _tail_facts(sheet: _Sheet, r: np.ndarray) -> None:
    """Heavy tails shrinking with aggregation (Cont 2001, facts 3-4)."""
    for k, target, check in (
        (1, ">= 3", lambda v: v >= 3.0),
        (10, "", None),
        (100, "> 0.5", lambda v: v > 0.5),
    ):
        sheet.add(
            f"kurtosis_{k}",
            f"excess kurtosis of {k}-step returns",
            est.kurtosis_parts(r, k),
            est.excess_kurtosis_from_parts,
            target,
            check,
        )


def _acf_at(lag: int) -> Stat:
    """The statistic "ACF at ``lag``" (binds ``lag`` now, not at call)."""
    return lambda p, w: est.acf_from_parts(p, w)[lag - 1]


def _autocorrelation_facts(sheet: _Sheet, r: np.ndarray) -> None:
    """No linear autocorrelation; volatility clustering (Cont 2001, facts 1 and 8)."""
    pr = est.acf_parts(r, ACF_LAGS)
    pa = est.acf_parts(np.abs(r), ACF_LAGS)
    sheet.curves["acf_r"] = est.acf_from_parts(pr)
    sheet.curves["acf_abs_r"] = est.acf_from_parts(pa)
    sheet.curves["acf_lags"] = ACF_LAGS.astype(np.float64)
    sheet.add("acf_r_1", "ACF(r) at lag 1 (bid-ask bounce / transient impact)", pr, _acf_at(1))
    sheet.add(
        "max_abs_acf_r_2_20",
        "max |ACF(r)| over lags 2-20",
        pr,
        lambda p, w: np.max(np.abs(est.acf_from_parts(p, w)[1:20])),
        "< 0.03",
        lambda v: v < 0.03,
    )
    sheet.add("acf_abs_r_10", "ACF(|r|) at lag 10", pa, _acf_at(10), ">= 0.1", lambda v: v >= 0.1)
    sheet.add("acf_abs_r_50", "ACF(|r|) at lag 50", pa, _acf_at(50), ">= 0.05", lambda v: v >= 0.05)


def _order_sign_and_impact_facts(sheet: _Sheet, orders: _Orders) -> None:
    """Long memory of order signs in event time; the impact of single orders."""
    median_len = int(np.median([s.size for s in orders.signs])) if orders.signs else 0
    # A fixed range of scales, not one that grows with the sample: the estimate depends on the
    # scales it is read at (short-lived persistence lifts it at small n), so runs of different
    # length must read the same scales to compare. Sizes with too few blocks drop out.
    sheet.add(
        "sign_hurst",
        "Hurst exponent of order signs (aggregated variance, 10-1,000 orders)",
        est.sign_hurst_parts(orders.signs, HURST_BLOCK_SIZES),
        est.hurst_from_parts,
        "0.6-0.8",
        lambda v: 0.6 <= v <= 0.8,
        orders.sample,
    )
    sign_lags = np.unique(
        np.geomspace(1, max(min(SIGN_ACF_MAX_LAG, median_len // 4), 2), 30).astype(int)
    )
    sheet.curves["sign_acf"] = est.acf_from_parts(est.acf_parts(orders.signs, sign_lags))
    sheet.curves["sign_acf_lags"] = sign_lags.astype(np.float64)
    max_size = float(max(2.0, sheet.meas.orders["size_lots"].max(initial=1.0)))
    edges = np.unique(np.round(np.geomspace(1, max_size + 1, 14)))
    pi = est.impact_parts(orders.sizes, orders.impacts, edges)
    sheet.add(
        "impact_exponent",
        "impact exponent beta: E[eps dmid | V] ~ V^beta (single orders)",
        pi,
        lambda p, w: est.impact_exponent_from_parts(p, w, IMPACT_MIN_COUNT),
        "0.4-0.7",
        lambda v: 0.4 <= v <= 0.7,
        orders.sample,
    )
    c = sheet.curves
    c["impact_size"], c["impact_mean"], c["impact_count"] = est.impact_curve_from_parts(pi)


def _book_facts(sheet: _Sheet) -> None:
    """Empty sides, the spread, the depth profile's hump."""
    meas = sheet.meas
    empty = int(meas.empty_side_steps.sum())
    ms = meas.market_steps
    status = "FAIL" if empty > 0 else ("pass" if ms >= MIN_MARKET_STEPS_EMPTY else "n/a")
    label = "steps ending with a background side empty"
    sheet.facts.append(
        _no_ci(
            "empty_side_steps", label, float(empty), status, f"{ms:,} market-steps", "0 in >= 1e6"
        )
    )
    label = "steps flagged one-sided by the simulator (makers incl.)"
    one_sided = float(meas.one_sided_steps.sum())
    sheet.facts.append(_no_ci("one_sided_steps", label, one_sided, "info", f"{ms:,} market-steps"))
    psp = est.spread_parts(meas.spread_ticks)
    one_tick = meas.preset != "volatile"
    sheet.add(
        "spread_1tick_frac",
        "fraction of steps with a 1-tick spread",
        psp,
        lambda p, w: est.spread_stats_from_parts(p, w)[0],
        ">= 0.5" if one_tick else "",
        (lambda v: v >= 0.5) if one_tick else None,
    )
    sheet.add(
        "spread_mean",
        "mean spread, ticks",
        psp,
        lambda p, w: est.spread_stats_from_parts(p, w)[1],
        keep=True,
    )
    sheet.curves["spread_hist"] = est.weighted_sum(psp["hist"], None)
    _depth_facts(sheet)


def _depth_facts(sheet: _Sheet) -> None:
    pd_ = {"depth_sum": sheet.meas.depth_sum_lots, "count": sheet.meas.depth_snapshots}
    sheet.curves["depth"] = est.depth_profile_from_parts(pd_)
    sheet.add(
        "depth_peak_level",
        "depth profile peak, ticks behind the best (hump if > 0)",
        pd_,
        lambda p, w: float(np.argmax(est.depth_profile_from_parts(p, w))),
        "> 0",
        lambda v: v > 0,
    )
    sheet.add(
        "depth_peak_over_best",
        "depth at the peak / depth at the best",
        pd_,
        lambda p, w: float(
            np.max(est.depth_profile_from_parts(p, w)) / est.depth_profile_from_parts(p, w)[0]
        ),
    )


def _sigma(p: est.Parts, w: np.ndarray | None) -> float:
    return math.sqrt(est.variance_from_parts(p, w))


def _variance_ratio(p: est.Parts, w: np.ndarray | None) -> float:
    """VR on parts merged as ``k_*`` (the q-step variance) and ``o_*`` (the one-step one)."""
    return est.variance_ratio_from_parts(
        {a[2:]: b for a, b in p.items() if a.startswith("k_")},
        {a[2:]: b for a, b in p.items() if a.startswith("o_")},
        w,
    )


def _vr_target(q: int, preset: str) -> tuple[str, Check | None]:
    if q == 250 and preset == "mean_reverting":
        return "< 0.8", (lambda v: v < 0.8)
    if q == 250 and preset == "trending":
        return "> 1.2", (lambda v: v > 1.2)
    return "", None


def _predictability_facts(sheet: _Sheet, r: np.ndarray) -> None:
    """Volatility, variance ratios per regime, an OLS predictor, the sentiment's drift."""
    name, t = sheet.meas.preset, sheet.meas.n_steps
    pv1 = est.variance_parts(r, 1)
    label = "volatility of 1-step returns, ticks/step^0.5"
    sheet.add("sigma_1", label, pv1, _sigma, keep=True)
    label = "volatility from 100-step returns, ticks/step^0.5"
    sheet.add("sigma_100", label, est.variance_parts(r, 100), _sigma, keep=True)
    for q in (50, 100, 250):
        if q >= t:
            continue
        pq = est.variance_parts(r, q)
        both = {**{f"k_{a}": b for a, b in pq.items()}, **{f"o_{a}": b for a, b in pv1.items()}}
        sheet.add(f"vr_{q}", f"variance ratio VR({q})", both, _variance_ratio, *_vr_target(q, name))
    is_default = name == "default"
    sheet.add(
        "predictor_oos_r2",
        f"OOS R^2 of OLS r(t+1) ~ r(t-{PREDICTOR_LAGS - 1}..t), half/half mkts",
        est.predictor_parts(r, PREDICTOR_LAGS),
        lambda p, w: est.predictor_r2_from_parts(p, w),
        f"< {R2_TARGET}" if is_default else "",
        (lambda v: v < R2_TARGET) if is_default else None,
    )
    _sentiment_fact(sheet)


def _sentiment_fact(sheet: _Sheet) -> None:
    meas, h = sheet.meas, SENTIMENT_HORIZON_STEPS
    t = meas.n_steps
    ps = est.xcorr_parts(
        meas.sentiment[:, : t - h], meas.mid_ticks[:, h:] - meas.mid_ticks[:, : t - h], [0]
    )
    trending = meas.preset == "trending"
    sheet.add(
        "sentiment_drift_corr",
        f"corr(observed sentiment, next {h}-step mid move)",
        ps,
        lambda p, w: est.xcorr_from_parts(p, w)[0],
        "> 0 (CI above 0)" if trending else "",
        (lambda v: v > 0) if trending else None,
    )
    last = sheet.facts[-1]
    if trending and last.status == "pass" and not last.lo > 0:
        sheet.facts[-1] = Fact(**{**last.__dict__, "status": "FAIL"})


def _xcorr_at(j: int) -> Stat:
    """The statistic "cross-correlation at lag index ``j``" (binds ``j`` now, not at call)."""
    return lambda p, w: float(est.xcorr_from_parts(p, w)[j])


def _fundamental_facts(sheet: _Sheet) -> None:
    """How the mid follows the hidden fundamental."""
    meas = sheet.meas
    dfund = np.diff(meas.fundamental_ticks, axis=1)
    dmid = np.diff(meas.mid_ticks, axis=1)
    px = est.xcorr_parts(dfund, dmid, XCORR_LAGS)
    sheet.curves["xcorr"] = est.xcorr_from_parts(px)
    sheet.curves["xcorr_lags"] = XCORR_LAGS.astype(np.float64)
    for k in (0, 1, 5, 10):
        j = int(np.nonzero(XCORR_LAGS == k)[0][0])
        sheet.add(f"xcorr_dF_dmid_{k}", f"corr(dF_t, dmid_t+{k})", px, _xcorr_at(j))
    sheet.add(
        "xcorr_peak_lag",
        "lag of max corr(dF_t, dmid_t+k), steps (mid lags F if > 0)",
        px,
        lambda p, w: float(XCORR_LAGS[int(np.nanargmax(est.xcorr_from_parts(p, w)))]),
    )


def _noise_response_facts(sheet: _Sheet, live: np.ndarray) -> None:
    """The mid's response to uninformed (noise) market orders: how much impact is transient."""
    meas = sheet.meas
    o, n, t = meas.orders, meas.n_markets, meas.n_steps
    noise = live & (o["kind"] == KIND_NOISE)
    flat = o["market"][noise].astype(np.int64) * t + o["step"][noise]
    eps = o["side"][noise].astype(np.float64)
    sign_sum = np.bincount(flat, eps, n * t).reshape(n, t)
    signed_pre = np.bincount(flat, eps * o["pre_mid_ticks"][noise], n * t).reshape(n, t)
    cnt = np.bincount(flat, None, n * t).astype(np.float64).reshape(n, t)
    lags = RESPONSE_LAGS[RESPONSE_LAGS < t]
    presp = est.response_parts(meas.mid_ticks, sign_sum, signed_pre, cnt, lags)
    sheet.curves["noise_response"] = est.response_from_parts(presp)
    sheet.curves["noise_response_lags"] = lags.astype(np.float64)
    noise_sample = f"{int(noise.sum()):,} noise orders"
    for key, label, stat in (
        (
            "noise_response_0",
            "noise-order response R(0), ticks (end of its step)",
            lambda p, w: est.response_from_parts(p, w)[0],
        ),
        (
            "noise_response_50",
            "noise-order response R(50), ticks",
            lambda p, w: est.response_from_parts(p, w)[-1],
        ),
        (
            "noise_response_ratio",
            "R(50) / R(0): share of uninformed impact left after 50 steps",
            lambda p, w: est.response_from_parts(p, w)[-1] / est.response_from_parts(p, w)[0],
        ),
    ):
        sheet.add(key, label, presp, stat, sample=noise_sample)


def _flow_facts(sheet: _Sheet, orders: _Orders) -> None:
    """Order-flow composition (no CI: counts)."""
    meas = sheet.meas
    kinds = np.bincount(
        meas.orders["kind"][orders.live].astype(np.int64), minlength=len(KIND_NAMES)
    )
    rate = orders.n_executed / max(meas.market_steps, 1)
    label = "market orders per step (executed)"
    sheet.facts.append(_no_ci("orders_per_step", label, rate, "info", orders.sample))
    for k in ORDER_KINDS:
        share = kinds[k] / max(orders.n_executed, 1)
        label = f"share of {KIND_NAMES[k]} orders"
        sheet.facts.append(_no_ci(f"share_{KIND_NAMES[k]}", label, share, "info", orders.sample))
    if meas.orders_lost:
        label = "market orders beyond the record capacity (not analysed)"
        sheet.facts.append(_no_ci("orders_lost", label, float(meas.orders_lost), "info", ""))


def _return_distribution_curves(sheet: _Sheet, r: np.ndarray) -> None:
    """Standardised k-step returns for the distribution plot."""
    for k in (1, 10, 100):
        if k < sheet.meas.n_steps:
            x = est.aggregate(r, k)[:, ::k].ravel()  # non-overlapping: a histogram of draws
            sheet.curves[f"ret_std_{k}"] = (x - x.mean()) / x.std() if x.std() > 0 else x


def cross_preset_facts(results: Sequence[PresetResult]) -> None:
    """Add the facts that compare presets (volatile vs default) to the volatile result, in place.

    ``n/a`` if ``default`` was not run. The CI pairs independent bootstrap draws of the two
    presets.
    """
    by = {r.preset: r for r in results}
    vol = by.get("volatile")
    if vol is None:
        return
    base = by.get("default")
    for key, label, target, check in (
        ("sigma_100", "volatility (100-step) / the default's", ">= 2", lambda v: v >= 2.0),
        (
            "spread_mean",
            "mean spread / the default's (wider in volatile)",
            "> 1",
            lambda v: v > 1.0,
        ),
    ):
        vol.facts.append(_versus_default(vol, base, key, label, target, check))


def _versus_default(
    vol: PresetResult, base: PresetResult | None, key: str, label: str, target: str, check: Check
) -> Fact:
    if base is None:
        return _no_ci(
            f"{key}_vs_default", label, math.nan, "n/a", "run the default preset too", target
        )
    ratio = vol.fact(key).value / base.fact(key).value
    lo, hi = est.percentile_ci(vol.draws[key] / base.draws[key])
    status = _verdict(ratio, check)
    return Fact(
        f"{key}_vs_default",
        label,
        target,
        ratio,
        float(lo),
        float(hi),
        status,
        "volatile vs default",
    )
