"""Is MultiVenue-v0's predictable consolidated mid a free lunch for a market maker?

``python benchmarks/mv_maker_skew.py [--markets N] [--steps T] [--seed S] [--half-spreads ...]
[--horizons ...] [--scales ...] [--signal consolidated|mean] [--quoted ABC] [--no-latency]``

The consolidated mid (:meth:`MultiVenueMarket.consolidated_mid`, the mid of the best bid and
ask over the venues) is forecastable from its own last returns (``python -m
mm_gym.multivenue.facts``: out-of-sample R^2 far above the realism target). A taker cannot trade
on it after half-spread and fee; this script asks whether a *maker* can, by leaning its quotes.

1. **Fit.** ``N`` markets of the default preset and venues (roots ``S .. S+N-1``), ``T`` steps,
   the base maker below quoting; an OLS (with intercept) of the signal's change over the next
   ``H`` steps on its last :data:`LAGS` one-step changes, pooled over the markets. The signal is
   the consolidated mid, or with ``--signal mean`` the mean of the venues' mids.
2. **Evaluate** on ``N`` held-out markets (roots ``S+HELD_OUT ..``), each maker on the same
   seeds (paired): the base maker, and the base maker whose quote centre is moved by
   ``scale * forecast`` ticks on every venue it quotes (bid offset ``- shift``, ask offset
   ``+ shift``).

The base maker quotes one lot a side on every venue in ``--quoted`` (default all) at
``half_spread`` ticks from the venue's mid (0.25: the touch), leaning ``INV_SKEW`` ticks per lot
of its summed inventory against it. ``--no-latency`` sets every venue's latency to 0 (a
control: what the stale quotes on the slow venues contribute). Per maker: mean episode PnL
(cash + inventory at the consolidated mid, fees included; currency = ticks x lots), lots
filled, spread capture per lot (fill price against the consolidated mid at the step's start),
adverse selection per lot (that capture minus the one marked ``MARKOUT`` steps later), rebates
per lot; and the paired difference skewed - base with a 95 % bootstrap interval over the
markets.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

from mm_gym.config import MarketConfig
from mm_gym.multivenue.config import DEFAULT_VENUES, VenueConfig
from mm_gym.multivenue.market import MultiVenueMarket

LAGS = 5  # past one-step changes in the forecast (the realism report's predictor)
INV_SKEW = 0.05  # ticks of quote lean per lot of summed inventory (1 tick at 20 lots)
MARKOUT = 10  # steps after a fill at which adverse selection is measured
HELD_OUT = 1_000_000  # root offset of the evaluation markets


def _features(mids: np.ndarray, t: int) -> np.ndarray:
    """``(n, LAGS + 1)``: 1 and the last ``LAGS`` changes of ``mids[:, : t + 1]`` (0 if absent)."""
    n = mids.shape[0]
    x = np.zeros((n, LAGS + 1))
    x[:, 0] = 1.0
    for j in range(LAGS):
        if t - j >= 1:
            x[:, 1 + j] = mids[:, t - j] - mids[:, t - j - 1]
    return x


def run(
    markets: int,
    steps: int,
    seed: int,
    half_spread: float,
    coef: np.ndarray | None = None,
    scale: float = 0.0,
    signal: str = "consolidated",
    quoted: str = "ABC",
    venues: tuple[VenueConfig, ...] = DEFAULT_VENUES,
) -> dict[str, np.ndarray]:
    """One episode of ``markets`` markets with the maker; per-market results and the mids.

    ``coef`` ``(LAGS + 1,)`` the forecast's OLS coefficients (None: no forecast shift), fitted
    on the past of ``signal`` (``"consolidated"``: :meth:`MultiVenueMarket.consolidated_mid`;
    ``"mean"``: the mean of the venues' mids). ``quoted``: the names of the venues quoted.
    """
    cfg = MarketConfig()
    market = MultiVenueMarket(cfg, venues, markets)
    market.set_roots(seed, np.random.default_rng(seed))
    market.reset()
    nv = market.n_venues
    value = market.value
    mids = np.zeros((markets, steps + 1))
    signals = np.zeros((markets, steps + 1))
    dq = np.zeros((markets, steps))  # mm1's summed inventory change in step t
    dc = np.zeros((markets, steps))  # its cash change in step t, fees excluded
    fees = np.zeros(markets)
    lots = np.zeros(markets)
    sizes = np.zeros((markets, nv, 2))
    for v, venue in enumerate(market.venues):
        sizes[:, v] = float(venue.name in quoted)
    for t in range(steps):
        mids[:, t] = market.consolidated_mid()
        signals[:, t] = mids[:, t] if signal == "consolidated" else market.mids().mean(axis=1)
        inv = market.inventories().sum(axis=1)
        shift = -INV_SKEW * inv
        if coef is not None and scale != 0.0:
            shift = shift + scale * (_features(signals, t) @ coef)
        offsets = np.empty((markets, nv, 2))
        offsets[:, :, 0] = (half_spread - shift)[:, None]
        offsets[:, :, 1] = (half_spread + shift)[:, None]
        cash0 = sum(s.accounts.cash[:, 0] for s in market.sims)
        fee0 = sum(s.accounts.fees[:, 0] for s in market.sims)
        market.step(offsets, sizes)
        cash1 = sum(s.accounts.cash[:, 0] for s in market.sims)
        fee1 = sum(s.accounts.fees[:, 0] for s in market.sims)
        dq[:, t] = market.inventories().sum(axis=1) - inv
        dc[:, t] = (cash1 - fee1 - cash0 + fee0) / value
        fees += (fee1 - fee0) / value
        lots += market.step_fills().sum(axis=1)
    mids[:, steps] = market.consolidated_mid()
    signals[:, steps] = mids[:, steps] if signal == "consolidated" else market.mids().mean(axis=1)
    capture = (dc + dq * mids[:, :-1]).sum(axis=1)
    later = mids[:, np.minimum(np.arange(steps) + MARKOUT, steps)]
    marked = (dc + dq * later).sum(axis=1)
    return {
        "pnl": market.wealth() / value,
        "lots": lots,
        "capture": capture,
        "adverse": capture - marked,
        "fees": fees,
        "mids": mids,
        "signals": signals,
    }


def fit(mids: np.ndarray, horizon: int) -> tuple[np.ndarray, float]:
    """OLS coefficients of the next ``horizon`` steps' change on the last changes; in-sample R^2."""
    _n, t1 = mids.shape
    rows = range(LAGS, t1 - 1 - horizon)
    x = np.concatenate([_features(mids, t) for t in rows])
    y = np.concatenate([mids[:, t + horizon] - mids[:, t] for t in rows])
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    r2 = 1.0 - np.sum((y - x @ coef) ** 2) / np.sum((y - y.mean()) ** 2)
    return coef, float(r2)


def oos_r2(mids: np.ndarray, coef: np.ndarray, horizon: int) -> float:
    """R^2 of the fitted forecast on other markets' mids."""
    rows = range(LAGS, mids.shape[1] - 1 - horizon)
    x = np.concatenate([_features(mids, t) for t in rows])
    y = np.concatenate([mids[:, t + horizon] - mids[:, t] for t in rows])
    return float(1.0 - np.sum((y - x @ coef) ** 2) / np.sum((y - y.mean()) ** 2))


def paired_ci(d: np.ndarray, rng: np.random.Generator, n_boot: int = 4_000) -> tuple[float, ...]:
    """Mean of ``d`` and its 95 % percentile bootstrap interval over the markets."""
    idx = rng.integers(0, len(d), size=(n_boot, len(d)))
    means = d[idx].mean(axis=1)
    return float(d.mean()), float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def _row(name: str, res: dict[str, np.ndarray]) -> str:
    lots = np.maximum(res["lots"].sum(), 1.0)
    return (
        f"| {name} | {res['pnl'].mean():.1f} | {res['lots'].mean():.1f} | "
        f"{res['capture'].sum() / lots:.3f} | {res['adverse'].sum() / lots:.3f} | "
        f"{res['fees'].sum() / lots:.4f} | {res['pnl'].sum() / lots:.3f} |"
    )


def main() -> None:
    """Fit, evaluate, print one table per half-spread (module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    ap.add_argument("--markets", type=int, default=256, help="markets fitted and evaluated")
    ap.add_argument("--steps", type=int, default=1_000, help="steps per episode")
    ap.add_argument("--seed", type=int, default=0, help="root of the first fitted market")
    ap.add_argument(
        "--half-spreads", type=float, nargs="+", default=[0.25, 1.25], help="base makers, ticks"
    )
    ap.add_argument(
        "--horizons", type=int, nargs="+", default=[1, 5, 20], help="forecast horizons, steps"
    )
    ap.add_argument(
        "--scales", type=float, nargs="+", default=[1.0, 2.0, 4.0], help="lean per forecast tick"
    )
    ap.add_argument("--signal", choices=["consolidated", "mean"], default="consolidated")
    ap.add_argument("--quoted", default="ABC", help="the venues quoted, by name")
    ap.add_argument(
        "--no-latency", action="store_true", help="the default venues with latency 0 (a control)"
    )
    a = ap.parse_args()
    if a.markets < 2 or a.steps < LAGS + 2 + max(a.horizons) or min(a.horizons) < 1:
        ap.error(f"need --markets >= 2, --horizons >= 1 and --steps > {LAGS + 1} + the horizon")
    if a.seed < 0:
        ap.error(f"--seed {a.seed}: must be >= 0")
    venues = DEFAULT_VENUES
    if a.no_latency:
        venues = tuple(dataclasses.replace(v, latency_steps=0) for v in venues)
    common = {"signal": a.signal, "quoted": a.quoted, "venues": venues}
    rng = np.random.default_rng(12345)
    for h in a.half_spreads:
        t0 = time.time()
        train = run(a.markets, a.steps, a.seed, h, **common)
        base = run(a.markets, a.steps, a.seed + HELD_OUT, h, **common)
        print(
            f"\nhalf-spread {h} ticks, {a.markets} markets x {a.steps} steps, venues "
            f"{a.quoted} quoted, latencies {[v.latency_steps for v in venues]}, forecast from "
            f"the {a.signal} mid"
        )
        print(
            "| maker | PnL/episode | lots/episode | capture/lot | adverse/lot | fees/lot | "
            "PnL/lot | skewed - base [95 % CI] |"
        )
        print("|---|---|---|---|---|---|---|---|")
        print(_row("base", base) + " — |")
        for hz in a.horizons:
            coef, r2_in = fit(train["signals"], hz)
            r2_out = oos_r2(base["signals"], coef, hz)
            for s in a.scales:
                skew = run(a.markets, a.steps, a.seed + HELD_OUT, h, coef, s, **common)
                m, lo, hi = paired_ci(skew["pnl"] - base["pnl"], rng)
                name = f"H={hz} scale={s:g} (R^2 in {r2_in:.3f}, out {r2_out:.3f})"
                print(_row(name, skew) + f" {m:+.1f} [{lo:+.1f}, {hi:+.1f}] |")
        print(f"({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
