"""The realism report: facts and targets per preset, the table, the files, and the CLI.

Usage::

    python -m mm_gym.realism [--preset P ...] [--markets N] [--steps T] [--burn-in B]
                             [--seed S] [--bootstrap B] [--out DIR] [--overwrite]

Each preset is run under the fixed-quotes protocol of :mod:`mm_gym.realism.measure`; every fact is
a pooled estimate over markets (:mod:`mm_gym.realism.estimators`) with a 95 % percentile
bootstrap CI over markets (fixed seed, the same resamples for every fact of a preset). Pass/fail
compares the point estimate with the target; the CI says how sure that verdict is. The targets are
those of the realism issue (#12); facts without a target are reported as ``info``.

With ``--out DIR`` the report writes ``realism.csv``, ``realism.md`` and PNG plots into ``DIR``
(a new or empty folder, or with ``--overwrite`` a folder this tool wrote before: it carries the
marker file :data:`MARKER`; nothing else is ever deleted).
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from mm_gym.realism import estimators as est
from mm_gym.realism.measure import DEPTH_LEVELS, Measurement, estimate_bytes, measure_preset

__all__ = [
    "MARKER",
    "Fact",
    "PresetResult",
    "analyse",
    "book_presets",
    "cross_preset_facts",
    "format_table",
    "main",
    "to_csv",
    "to_markdown",
    "write_plots",
]

PROG = "python -m mm_gym.realism"
MARKER = ".mm_gym-realism"
"""Marker file in every output folder this tool writes (what ``--overwrite`` may delete)."""
MIN_MARKET_STEPS_EMPTY = 1_000_000
"""Sample the empty-side target asks for (market-steps per preset)."""
KIND_NAMES = ("noise", "informed", "shock", "background")
"""Aggressor kinds in the simulator's records (``mm_gym.market.state.KIND_NAMES``)."""
KIND_NOISE = 0

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


# --------------------------------------------------------------------------- analysis


def _verdict(value: float, check: Callable[[float], bool] | None) -> str:
    if check is None:
        return "info"
    if not np.isfinite(value):
        return "n/a"
    return "pass" if check(value) else "FAIL"


def analyse(meas: Measurement, n_boot: int = 500, seed: int = 0) -> PresetResult:
    """Estimate every fact of one measured preset with bootstrap CIs over markets.

    Args:
        meas: The measurement.
        n_boot: Bootstrap resamples.
        seed: Seed of the resampling (the same resamples for every fact).

    Returns:
        The :class:`PresetResult`.
    """
    name = meas.preset
    n, t = meas.n_markets, meas.n_steps
    steps = f"{n} mkts x {t:,} steps"
    facts: list[Fact] = []
    curves: dict[str, np.ndarray] = {}
    draws: dict[str, np.ndarray] = {}

    def add(
        key: str,
        label: str,
        parts: est.Parts,
        stat: Callable[[est.Parts, np.ndarray | None], Any],
        target: str = "",
        check: Callable[[float], bool] | None = None,
        sample: str = steps,
        keep: bool = False,
    ) -> float:
        value = float(stat(parts, None))
        d = est.bootstrap_draws(parts, stat, n_boot, seed)
        lo, hi = est.percentile_ci(d)
        if keep:
            draws[key] = d
        facts.append(
            Fact(key, label, target, value, float(lo), float(hi), _verdict(value, check), sample)
        )
        return value

    r = meas.returns_ticks
    # --- heavy tails shrinking with aggregation (Cont 2001, facts 3-4)
    for k, target, check in (
        (1, ">= 3", lambda v: v >= 3.0),
        (10, "", None),
        (100, "> 0.5", lambda v: v > 0.5),
    ):
        add(
            f"kurtosis_{k}",
            f"excess kurtosis of {k}-step returns",
            est.kurtosis_parts(r, k),
            est.excess_kurtosis_from_parts,
            target,
            check,
        )

    # --- no linear autocorrelation; volatility clustering (Cont 2001, facts 1 and 8)
    pr = est.acf_parts(r, ACF_LAGS)
    pa = est.acf_parts(np.abs(r), ACF_LAGS)
    curves["acf_r"] = est.acf_from_parts(pr)
    curves["acf_abs_r"] = est.acf_from_parts(pa)
    curves["acf_lags"] = ACF_LAGS.astype(np.float64)
    add(
        "acf_r_1",
        "ACF(r) at lag 1 (bid-ask bounce / transient impact)",
        pr,
        lambda p, w: est.acf_from_parts(p, w)[0],
    )
    add(
        "max_abs_acf_r_2_20",
        "max |ACF(r)| over lags 2-20",
        pr,
        lambda p, w: np.max(np.abs(est.acf_from_parts(p, w)[1:20])),
        "< 0.03",
        lambda v: v < 0.03,
    )
    add(
        "acf_abs_r_10",
        "ACF(|r|) at lag 10",
        pa,
        lambda p, w: est.acf_from_parts(p, w)[9],
        ">= 0.1",
        lambda v: v >= 0.1,
    )
    add(
        "acf_abs_r_50",
        "ACF(|r|) at lag 50",
        pa,
        lambda p, w: est.acf_from_parts(p, w)[49],
        ">= 0.05",
        lambda v: v >= 0.05,
    )

    # --- orders: signs in event time, impact
    o = meas.orders
    live = o.size_lots > 0
    mk = o.market[live]
    bounds = np.searchsorted(mk, np.arange(n + 1))  # records are sorted by market
    signs = np.split(o.side[live].astype(np.float64), bounds[1:-1])
    sizes = np.split(o.size_lots[live].astype(np.float64), bounds[1:-1])
    impacts = np.split(o.impact_ticks[live].astype(np.float64), bounds[1:-1])
    n_orders = int(live.sum())
    orders_sample = f"{n_orders:,} market orders"
    median_len = int(np.median([s.size for s in signs])) if signs else 0
    # A fixed range of scales, not one that grows with the sample: the estimate depends on the
    # scales it is read at (short-lived persistence lifts it at small n), so runs of different
    # length must read the same scales to compare. Sizes with too few blocks drop out.
    block_sizes = HURST_BLOCK_SIZES
    ph = est.sign_hurst_parts(signs, block_sizes)
    add(
        "sign_hurst",
        "Hurst exponent of order signs (aggregated variance, 10-1,000 orders)",
        ph,
        est.hurst_from_parts,
        "0.6-0.8",
        lambda v: 0.6 <= v <= 0.8,
        orders_sample,
    )
    sign_lags = np.unique(
        np.geomspace(1, max(min(SIGN_ACF_MAX_LAG, median_len // 4), 2), 30).astype(int)
    )
    curves["sign_acf"] = est.acf_from_parts(est.acf_parts(signs, sign_lags))
    curves["sign_acf_lags"] = sign_lags.astype(np.float64)
    max_size = float(max(2.0, o.size_lots.max(initial=1.0)))
    edges = np.unique(np.round(np.geomspace(1, max_size + 1, 14)))
    pi = est.impact_parts(sizes, impacts, edges)
    add(
        "impact_exponent",
        "impact exponent beta: E[eps dmid | V] ~ V^beta (single orders)",
        pi,
        lambda p, w: est.impact_exponent_from_parts(p, w, IMPACT_MIN_COUNT),
        "0.4-0.7",
        lambda v: 0.4 <= v <= 0.7,
        orders_sample,
    )
    isz, imean, icount = est.impact_curve_from_parts(pi)
    curves["impact_size"], curves["impact_mean"], curves["impact_count"] = isz, imean, icount

    # --- the book
    empty = int(meas.empty_side_steps.sum())
    ms = meas.market_steps
    status = "FAIL" if empty > 0 else ("pass" if ms >= MIN_MARKET_STEPS_EMPTY else "n/a")
    facts.append(
        Fact(
            "empty_side_steps",
            "steps ending with a background side empty",
            "0 in >= 1e6",
            float(empty),
            math.nan,
            math.nan,
            status,
            f"{ms:,} market-steps",
        )
    )
    facts.append(
        Fact(
            "one_sided_steps",
            "steps flagged one-sided by the simulator (makers incl.)",
            "",
            float(meas.one_sided_steps.sum()),
            math.nan,
            math.nan,
            "info",
            f"{ms:,} market-steps",
        )
    )
    psp = est.spread_parts(meas.spread_ticks)
    one_tick = name != "volatile"
    add(
        "spread_1tick_frac",
        "fraction of steps with a 1-tick spread",
        psp,
        lambda p, w: est.spread_stats_from_parts(p, w)[0],
        ">= 0.5" if one_tick else "",
        (lambda v: v >= 0.5) if one_tick else None,
    )
    add(
        "spread_mean",
        "mean spread, ticks",
        psp,
        lambda p, w: est.spread_stats_from_parts(p, w)[1],
        keep=True,
    )
    curves["spread_hist"] = est.weighted_sum(psp["hist"], None)
    pd_ = {"depth_sum": meas.depth_sum_lots, "count": meas.depth_snapshots}
    curves["depth"] = est.depth_profile_from_parts(pd_)
    add(
        "depth_peak_level",
        "depth profile peak, ticks behind the best (hump if > 0)",
        pd_,
        lambda p, w: float(np.argmax(est.depth_profile_from_parts(p, w))),
        "> 0",
        lambda v: v > 0,
    )
    add(
        "depth_peak_over_best",
        "depth at the peak / depth at the best",
        pd_,
        lambda p, w: float(
            np.max(est.depth_profile_from_parts(p, w)) / est.depth_profile_from_parts(p, w)[0]
        ),
    )

    # --- predictability and regimes
    pv1 = est.variance_parts(r, 1)
    add(
        "sigma_1",
        "volatility of 1-step returns, ticks/step^0.5",
        pv1,
        lambda p, w: math.sqrt(est.variance_from_parts(p, w)),
        keep=True,
    )
    pv100 = est.variance_parts(r, 100)
    add(
        "sigma_100",
        "volatility from 100-step returns, ticks/step^0.5",
        pv100,
        lambda p, w: math.sqrt(est.variance_from_parts(p, w)),
        keep=True,
    )
    for q in (50, 100, 250):
        if q >= t:
            continue
        pq = est.variance_parts(r, q)
        both = {**{f"k_{a}": b for a, b in pq.items()}, **{f"o_{a}": b for a, b in pv1.items()}}
        target, check = "", None
        if q == 250 and name == "mean_reverting":
            target, check = "< 0.8", (lambda v: v < 0.8)
        if q == 250 and name == "trending":
            target, check = "> 1.2", (lambda v: v > 1.2)
        add(
            f"vr_{q}",
            f"variance ratio VR({q})",
            both,
            lambda p, w: est.variance_ratio_from_parts(
                {a[2:]: b for a, b in p.items() if a.startswith("k_")},
                {a[2:]: b for a, b in p.items() if a.startswith("o_")},
                w,
            ),
            target,
            check,
        )
    pp = est.predictor_parts(r, PREDICTOR_LAGS)
    is_default = name == "default"
    add(
        "predictor_oos_r2",
        f"OOS R^2 of OLS r(t+1) ~ r(t-{PREDICTOR_LAGS - 1}..t), half/half mkts",
        pp,
        lambda p, w: est.predictor_r2_from_parts(p, w),
        f"< {R2_TARGET}" if is_default else "",
        (lambda v: v < R2_TARGET) if is_default else None,
    )
    h = SENTIMENT_HORIZON_STEPS
    ps = est.xcorr_parts(
        meas.sentiment[:, : t - h], meas.mid_ticks[:, h:] - meas.mid_ticks[:, : t - h], [0]
    )
    trending = name == "trending"
    add(
        "sentiment_drift_corr",
        f"corr(observed sentiment, next {h}-step mid move)",
        ps,
        lambda p, w: est.xcorr_from_parts(p, w)[0],
        "> 0 (CI above 0)" if trending else "",
        (lambda v: v > 0) if trending else None,
    )
    if trending and facts[-1].status == "pass" and not facts[-1].lo > 0:
        facts[-1] = Fact(**{**facts[-1].__dict__, "status": "FAIL"})

    # --- the hidden fundamental and uninformed impact
    dfund = np.diff(meas.fundamental_ticks, axis=1)
    dmid = np.diff(meas.mid_ticks, axis=1)
    px = est.xcorr_parts(dfund, dmid, XCORR_LAGS)
    curves["xcorr"] = est.xcorr_from_parts(px)
    curves["xcorr_lags"] = XCORR_LAGS.astype(np.float64)
    for k in (0, 1, 5, 10):
        j = int(np.nonzero(XCORR_LAGS == k)[0][0])
        add(
            f"xcorr_dF_dmid_{k}",
            f"corr(dF_t, dmid_t+{k})",
            px,
            _xcorr_at(j),
        )
    add(
        "xcorr_peak_lag",
        "lag of max corr(dF_t, dmid_t+k), steps (mid lags F if > 0)",
        px,
        lambda p, w: float(XCORR_LAGS[int(np.nanargmax(est.xcorr_from_parts(p, w)))]),
    )
    noise = live & (o.kind == KIND_NOISE)
    flat = o.market[noise].astype(np.int64) * t + o.step[noise]
    eps = o.side[noise].astype(np.float64)
    sign_sum = np.bincount(flat, eps, n * t).reshape(n, t)
    signed_pre = np.bincount(flat, eps * o.pre_mid_ticks[noise], n * t).reshape(n, t)
    cnt = np.bincount(flat, None, n * t).astype(np.float64).reshape(n, t)
    lags = RESPONSE_LAGS[RESPONSE_LAGS < t]
    presp = est.response_parts(meas.mid_ticks, sign_sum, signed_pre, cnt, lags)
    curves["noise_response"] = est.response_from_parts(presp)
    curves["noise_response_lags"] = lags.astype(np.float64)
    noise_sample = f"{int(noise.sum()):,} noise orders"
    add(
        "noise_response_0",
        "noise-order response R(0), ticks (end of its step)",
        presp,
        lambda p, w: est.response_from_parts(p, w)[0],
        sample=noise_sample,
    )
    add(
        "noise_response_50",
        "noise-order response R(50), ticks",
        presp,
        lambda p, w: est.response_from_parts(p, w)[-1],
        sample=noise_sample,
    )
    add(
        "noise_response_ratio",
        "R(50) / R(0): share of uninformed impact left after 50 steps",
        presp,
        lambda p, w: est.response_from_parts(p, w)[-1] / est.response_from_parts(p, w)[0],
        sample=noise_sample,
    )

    # --- order flow composition (no CI: counts)
    kinds = np.bincount(o.kind[live].astype(np.int64), minlength=len(KIND_NAMES))
    facts.append(
        Fact(
            "orders_per_step",
            "market orders per step (executed)",
            "",
            n_orders / max(ms, 1),
            math.nan,
            math.nan,
            "info",
            orders_sample,
        )
    )
    for kname, kc in zip(KIND_NAMES, kinds, strict=False):
        facts.append(
            Fact(
                f"share_{kname}",
                f"share of {kname} orders",
                "",
                kc / max(n_orders, 1),
                math.nan,
                math.nan,
                "info",
                orders_sample,
            )
        )
    if meas.orders_lost:
        facts.append(
            Fact(
                "orders_lost",
                "market orders beyond the record capacity (not analysed)",
                "",
                float(meas.orders_lost),
                math.nan,
                math.nan,
                "info",
                "",
            )
        )

    # --- return distribution for the plot (standardised k-step returns)
    for k in (1, 10, 100):
        if k < t:
            x = est.aggregate(r, k)[:, ::k].ravel()  # non-overlapping: a histogram of draws
            curves[f"ret_std_{k}"] = (x - x.mean()) / x.std() if x.std() > 0 else x
    sample = (
        f"{n} markets x {t:,} steps after {meas.burn_in_steps:,} burn-in, seeds "
        f"{meas.seed}..{meas.seed + n - 1}, {n_orders:,} market orders"
    )
    return PresetResult(name, facts, curves, draws, sample)


def _xcorr_at(j: int) -> Callable[[est.Parts, np.ndarray | None], float]:
    """The statistic "cross-correlation at lag index ``j``" (binds ``j`` now, not at call)."""
    return lambda p, w: float(est.xcorr_from_parts(p, w)[j])


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
        if base is None:
            vol.facts.append(
                Fact(
                    f"{key}_vs_default",
                    label,
                    target,
                    math.nan,
                    math.nan,
                    math.nan,
                    "n/a",
                    "run the default preset too",
                )
            )
            continue
        ratio = vol.fact(key).value / base.fact(key).value
        d = vol.draws[key] / base.draws[key]
        lo, hi = est.percentile_ci(d)
        vol.facts.append(
            Fact(
                f"{key}_vs_default",
                label,
                target,
                ratio,
                float(lo),
                float(hi),
                _verdict(ratio, check),
                "volatile vs default",
            )
        )


# --------------------------------------------------------------------------- text output


def _fmt(v: float) -> str:
    if not np.isfinite(v):
        return "nan"
    if v != 0 and (abs(v) >= 1e4 or abs(v) < 1e-3):
        return f"{v:.3g}"
    if float(v).is_integer():  # counts and levels
        return f"{v:,.0f}"
    return f"{v:.3f}"


def _measured(f: Fact) -> str:
    if np.isfinite(f.lo):
        return f"{_fmt(f.value)} [{_fmt(f.lo)}, {_fmt(f.hi)}]"
    return _fmt(f.value)


def format_table(result: PresetResult) -> str:
    """A fixed-width text table of one preset's facts."""
    rows = [("fact", "target", "measured [95% CI]", "status")]
    rows += [(f.label, f.target, _measured(f), f.status) for f in result.facts]
    w = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [f"== {result.preset}: {result.sample}"]
    for i, r in enumerate(rows):
        lines.append("  ".join(c.ljust(w[j]) for j, c in enumerate(r)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * x for x in w))
    return "\n".join(lines)


def to_csv(results: Sequence[PresetResult]) -> str:
    """All facts of all presets as CSV text."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["preset", "fact", "label", "target", "value", "ci_lo", "ci_hi", "status", "sample"])
    for r in results:
        for f in r.facts:
            w.writerow(
                [
                    r.preset,
                    f.key,
                    f.label,
                    f.target,
                    repr(float(f.value)),
                    repr(float(f.lo)),
                    repr(float(f.hi)),
                    f.status,
                    f.sample,
                ]
            )
    return buf.getvalue()


def _md(text: str) -> str:
    """Escape the table separator in a Markdown cell."""
    return text.replace("|", "\\|")


def to_markdown(results: Sequence[PresetResult], command: str = "") -> str:
    """A Markdown report: a summary matrix of the targeted facts, then one table per preset."""
    lines = ["# mm_gym realism report", ""]
    if command:
        lines += [f"Command: `{command}`", ""]
    lines += [
        "Pooled estimates over markets with 95 % percentile bootstrap CIs over markets. "
        "Pass/fail compares the point estimate with the target.",
        "",
    ]
    keys: list[tuple[str, str, str]] = []
    for r in results:
        for f in r.facts:
            if f.status != "info" and (f.key, f.label) not in [(k, lab) for k, lab, _ in keys]:
                keys.append((f.key, f.label, f.target))
    lines.append("| fact | " + " | ".join(r.preset for r in results) + " |")
    lines.append("|---|" + "---|" * len(results))
    for key, label, _ in keys:
        cells = []
        for r in results:
            try:
                f = r.fact(key)
            except KeyError:
                cells.append("")
                continue
            mark = {"pass": "✓", "FAIL": "✗"}.get(f.status, f.status)
            cells.append(
                f"{_fmt(f.value)} {mark}" + (f" ({f.target})" if f.status != "info" else "")
            )
        lines.append(f"| {_md(label)} | " + " | ".join(cells) + " |")
    lines.append("")
    for r in results:
        lines += [
            f"## {r.preset}",
            "",
            r.sample,
            "",
            "| fact | target | measured [95 % CI] | status | sample |",
            "|---|---|---|---|---|",
        ]
        for f in r.facts:
            lines.append(
                f"| {_md(f.label)} | {f.target} | {_measured(f)} | {f.status} | {f.sample} |"
            )
        lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------- plots


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def write_plots(results: Sequence[PresetResult], folder: Path) -> list[str]:
    """Write the report's PNG plots into ``folder`` (matplotlib object API, no global state).

    Returns:
        The file names written.
    """
    from matplotlib.figure import Figure

    from mm_gym.files import atomic_write_bytes

    written: list[str] = []

    def save(fig: Figure, name: str) -> None:
        atomic_write_bytes(folder / name, _png(fig))
        written.append(name)

    fig = Figure(figsize=(11, 4))
    a1, a2 = fig.subplots(1, 2)
    for r in results:
        c = r.curves
        a1.plot(c["acf_lags"], c["acf_r"], label=r.preset, lw=1)
        a2.plot(c["acf_lags"], c["acf_abs_r"], label=r.preset, lw=1)
    a1.axhspan(-0.03, 0.03, color="0.9", zorder=0)
    a1.set(title="ACF of mid returns r", xlabel="lag, steps", ylabel="ACF", xscale="log")
    a2.set(title="ACF of |r| (volatility clustering)", xlabel="lag, steps", xscale="log")
    a2.axhline(0, color="0.5", lw=0.5)
    a1.legend(fontsize=7)
    save(fig, "acf_returns.png")

    fig = Figure(figsize=(6, 4.5))
    ax = fig.subplots()
    for r in results:
        y = r.curves["sign_acf"]
        ok = y > 0
        ax.loglog(r.curves["sign_acf_lags"][ok], y[ok], "o-", ms=3, lw=1, label=r.preset)
    ax.set(
        title="ACF of market-order signs (log-log; H = 1 - gamma/2)",
        xlabel="lag, orders",
        ylabel="ACF",
    )
    ax.legend(fontsize=7)
    save(fig, "sign_acf.png")

    fig = Figure(figsize=(6, 4.5))
    ax = fig.subplots()
    for r in results:
        c = r.curves
        s, m, cnt = c["impact_size"], c["impact_mean"], c["impact_count"]
        ok = (cnt >= IMPACT_MIN_COUNT) & (m > 0)
        ax.loglog(
            s[ok],
            m[ok],
            "o-",
            ms=3,
            lw=1,
            label=f"{r.preset} (beta {_fmt(r.fact('impact_exponent').value)})",
        )
    ax.set(
        title="Impact of single market orders",
        xlabel="size, lots",
        ylabel="E[eps dmid | size], ticks",
    )
    ax.legend(fontsize=7)
    save(fig, "impact.png")

    fig = Figure(figsize=(6, 4.5))
    ax = fig.subplots()
    for r in results:
        ax.plot(np.arange(DEPTH_LEVELS), r.curves["depth"], "o-", ms=3, lw=1, label=r.preset)
    ax.set(
        title="Depth profile (background, mean of both sides)",
        xlabel="ticks behind the same side's best",
        ylabel="lots",
    )
    ax.legend(fontsize=7)
    save(fig, "depth_profile.png")

    ncol = min(4, len(results))
    nrow = math.ceil(len(results) / ncol)
    fig = Figure(figsize=(3.2 * ncol, 2.8 * nrow), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrow, ncol, squeeze=False)).ravel()
    grid = np.linspace(-8, 8, 161)
    gauss = np.exp(-0.5 * grid**2) / math.sqrt(2 * math.pi)
    for ax, r in zip(axes, results, strict=False):
        for k in (1, 10, 100):
            x = r.curves.get(f"ret_std_{k}")
            if x is None or x.size < 10:
                continue
            hist, e = np.histogram(x, bins=np.linspace(-8, 8, 65), density=True)
            ok = hist > 0
            ax.semilogy(0.5 * (e[1:] + e[:-1])[ok], hist[ok], ".-", ms=2, lw=0.8, label=f"{k}-step")
        ax.semilogy(grid, gauss, "k--", lw=0.8, label="Gaussian")
        ax.set(title=r.preset, xlabel="standardised return", ylim=(1e-5, 2))
        ax.legend(fontsize=6)
    for ax in axes[len(results) :]:
        ax.set_axis_off()
    fig.suptitle("Return distribution vs Gaussian")
    save(fig, "return_distribution.png")

    fig = Figure(figsize=(11, 4))
    a1, a2 = fig.subplots(1, 2)
    for r in results:
        a1.plot(r.curves["xcorr_lags"], r.curves["xcorr"], "o-", ms=2, lw=1, label=r.preset)
        a2.plot(r.curves["noise_response_lags"], r.curves["noise_response"], lw=1, label=r.preset)
    a1.set(title="corr(dF_t, dmid_t+k): mid lagging the fundamental", xlabel="k, steps")
    a2.set(title="Response to noise orders R(tau)", xlabel="tau, steps", ylabel="ticks")
    a1.legend(fontsize=7)
    save(fig, "fundamental_and_noise_impact.png")
    return written


# --------------------------------------------------------------------------- CLI


class CliError(Exception):
    """A one-line user error (printed as ``python -m mm_gym.realism: error: ...``)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise CliError(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="Measure the stylized facts of the book presets.")
    p.add_argument(
        "--preset",
        nargs="+",
        action="extend",
        metavar="P",
        help="book presets to measure (default: all)",
    )
    p.add_argument("--markets", type=int, default=256, help="markets per preset (default 256)")
    p.add_argument(
        "--steps",
        type=int,
        default=5000,
        help="recorded steps per market after the burn-in (default 5000)",
    )
    p.add_argument("--burn-in", type=int, default=500, help="steps discarded first (default 500)")
    p.add_argument("--seed", type=int, default=0, help="seed of market 0 (default 0)")
    p.add_argument("--bootstrap", type=int, default=500, help="bootstrap resamples (default 500)")
    p.add_argument("--out", help="write realism.csv, realism.md and plots into this folder")
    p.add_argument(
        "--overwrite", action="store_true", help="replace --out if this tool wrote it before"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override applied to every preset, dotted keys (e.g. price_formation=book, "
        "formation.queue_ref_lots=8); repeatable",
    )
    return p


def _parse_value(text: str) -> Any:
    """An override value: true/false, an int, a float, else the string."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _overrides(items: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CliError(f"--override {item!r} must be KEY=VALUE")
        out[key.strip()] = _parse_value(value)
    return out


def _validate(args: argparse.Namespace) -> list[str]:
    from mm_gym.files import MemoryLimitError, check_memory

    book = book_presets()
    presets = list(dict.fromkeys(args.preset or book))
    for p in presets:
        if p not in book:
            raise CliError(f"--preset {p!r} is not a book preset: choose from {book}")
    for name, v, lo, hi in (
        ("--markets", args.markets, 2, 1_000_000),
        ("--steps", args.steps, 300, 100_000_000),
        ("--burn-in", args.burn_in, 0, 100_000_000),
        ("--seed", args.seed, 0, 2**62),
        ("--bootstrap", args.bootstrap, 10, 100_000),
    ):
        if not lo <= v <= hi:
            raise CliError(f"{name}={v} must be in [{lo}, {hi}]")
    try:
        check_memory(
            estimate_bytes(args.markets, args.steps),
            f"--markets {args.markets} --steps {args.steps}",
        )
    except MemoryLimitError as exc:
        raise CliError(str(exc)) from None
    if args.out is not None:
        _check_out(Path(args.out), args.overwrite)
    return presets


def _check_out(out: Path, overwrite: bool) -> None:
    """Refuse an output folder this run may not write, before any work is done."""
    from mm_gym.files import UnsafePathError, is_owned_folder, safe_component

    try:
        safe_component(out.name, "--out")
    except UnsafePathError as exc:
        raise CliError(str(exc)) from None
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise CliError(f"--out {str(out)!r} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise CliError(f"--out {str(out)!r} exists and is not empty (use --overwrite)")
        if not is_owned_folder(out, MARKER):
            raise CliError(
                f"--overwrite: {str(out)!r} was not written by {PROG} (no {MARKER} in it): "
                "refusing to delete it; remove it yourself or choose another folder"
            )


def _publish(results: Sequence[PresetResult], out: Path, overwrite: bool, command: str) -> None:
    """Write everything into a temporary sibling folder, then move it into place."""
    from mm_gym.files import atomic_write_text, remove_owned_folder, temp_name

    _check_out(out, overwrite)  # again: the folder may have changed during the run
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / temp_name(out.name)
    tmp.mkdir()
    try:
        atomic_write_text(tmp / MARKER, f"written by {PROG}\n")
        atomic_write_text(tmp / "realism.csv", to_csv(results))
        atomic_write_text(tmp / "realism.md", to_markdown(results, command))
        write_plots(results, tmp)
        if out.is_dir() and any(out.iterdir()):
            remove_owned_folder(out, MARKER, f"a {PROG} report")
        elif out.is_dir():
            out.rmdir()
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # only our own temporary
        raise


def run(argv: Sequence[str] | None = None) -> list[PresetResult]:
    """Parse ``argv``, measure, print the tables, write the files; return the results.

    Raises:
        CliError: On bad input (before anything is simulated) or an unwritable ``--out``.
    """
    from tqdm import tqdm

    from mm_gym.config import ConfigError, preset, with_overrides

    args = _parser().parse_args(argv)
    presets = _validate(args)
    overrides = _overrides(args.override)
    configs = {}
    for p in presets:
        try:
            configs[p] = with_overrides(preset(p), overrides)
        except ConfigError as exc:
            raise CliError(f"--override: {exc}") from None
    results: list[PresetResult] = []
    total = len(presets) * (args.burn_in + args.steps)
    with tqdm(total=total, unit="step", disable=True if args.no_progress else None) as bar:
        for p in presets:
            bar.set_description(p)
            meas = measure_preset(
                p,
                configs[p],
                args.markets,
                args.steps,
                args.burn_in,
                args.seed,
                progress=bar.update,
            )
            bar.set_description(f"{p} (analysis)")
            results.append(analyse(meas, args.bootstrap, args.seed))
            del meas  # one preset's series in memory at a time
    cross_preset_facts(results)
    for r in results:
        print(format_table(r))
        print()
    if args.out is not None:
        command = " ".join([PROG, *(argv if argv is not None else sys.argv[1:])])
        _publish(results, Path(args.out), args.overwrite, command)
        print(f"wrote {os.fspath(args.out)}")
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """The CLI entry point; returns the exit code (2 on a user error)."""
    try:
        run(argv)
    except CliError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; nothing written", file=sys.stderr)
        return 130
    return 0
