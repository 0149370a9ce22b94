"""How the venues of one asset behave: alignment, arbitrage, and each venue's stylized facts.

``python -m mm_gym.multivenue.facts [--preset P] [--markets N] [--steps T] [--seed S]`` runs
``N`` multi-venue markets of the default venues for ``T`` steps, mm1 quoting one lot at the
touch on every venue and mm2 the built-in rival, next to ``N`` single-venue markets of the same
preset, seeds and quotes, and prints one table. Per venue (and for the single venue):

- excess kurtosis of 1- and 100-step mid returns, max |ACF(r)| at lags 2-20, ACF(|r|) at
  lags 10 and 50, and the out-of-sample R^2 of an OLS of the next return on the last
  :data:`~mm_gym.realism.facts.PREDICTOR_LAGS` returns, fitted on the first half of the markets
  and scored on the second (the realism report's estimators, :mod:`mm_gym.realism.estimators`;
  its target is below :data:`~mm_gym.realism.facts.R2_TARGET`);
- the share of steps with a 1-tick spread and the volatility per step, ticks;
- the mean |venue mid - the consolidated mid| (of the best bid and ask over the venues), ticks,
  and the correlation of its 1- and 10-step returns with venue 0's;

and for the asset: arbitrage lots per step and the share of steps with an arbitrage trade.

``--transient`` prints instead the mean spread of every venue and of the single venue at each of
the first steps of an episode (step 0: right after the reset), next to its mean over the
measured steps: how far an episode's start is from the steady state.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import NoReturn

import numpy as np

from mm_gym.cli import CliError, OneLineParser, run_cli
from mm_gym.config import MarketConfig
from mm_gym.envs.seeding import episode_seeds
from mm_gym.market import MarketSimulator
from mm_gym.multivenue.config import DEFAULT_VENUES, VenueConfig
from mm_gym.multivenue.market import MultiVenueMarket
from mm_gym.presets import preset
from mm_gym.realism import estimators as est
from mm_gym.realism.facts import PREDICTOR_LAGS

__all__ = ["measure", "spread_by_step", "venue_facts"]


def venue_facts(mids: np.ndarray, spreads: np.ndarray) -> dict[str, float]:
    """The stylized facts of ``(n, T + 1)`` mids and ``(n, T)`` spreads, ticks (docstring)."""
    r = np.diff(mids, axis=1)
    acf = est.acf_from_parts(est.acf_parts(list(r), range(2, 21)))
    acf_abs = est.acf_from_parts(est.acf_parts(list(np.abs(r)), (10, 50)))
    whole = np.where(np.isfinite(spreads), np.rint(spreads), 0.0).astype(
        np.int64
    )  # 0: a side empty
    spread = est.spread_stats_from_parts(est.spread_parts(whole))
    return {
        "kurtosis_1": est.excess_kurtosis_from_parts(est.kurtosis_parts(r, 1)),
        "kurtosis_100": est.excess_kurtosis_from_parts(est.kurtosis_parts(r, 100)),
        "max_abs_acf_2_20": float(np.max(np.abs(acf))),
        "acf_abs_10": float(acf_abs[0]),
        "acf_abs_50": float(acf_abs[1]),
        "one_tick_spread": float(spread[0]),
        "volatility_ticks": float(np.sqrt(np.mean(r * r))),
        "predictor_oos_r2": est.predictor_r2_from_parts(est.predictor_parts(r, PREDICTOR_LAGS)),
    }


def _corr(a: np.ndarray, b: np.ndarray, k: int) -> float:
    x, y = est.aggregate(np.diff(a, axis=1), k), est.aggregate(np.diff(b, axis=1), k)
    return float(np.corrcoef(x.ravel(), y.ravel())[0, 1])


def _record(
    market: MultiVenueMarket,
    single: MarketSimulator,
    mids: np.ndarray,
    spreads: np.ndarray | None,
    t: int,
) -> None:
    """Write step ``t``'s mids (at ``t + 1``; at 0 before the first step) and spreads."""
    books = [s.book for s in market.sims]
    bids = np.stack([b.best_bid for b in books] + [single.book.best_bid], axis=0)
    asks = np.stack([b.best_ask for b in books] + [single.book.best_ask], axis=0)
    nv = market.n_venues
    at = 0 if spreads is None else t + 1
    mids[:nv, :, at] = market.mids().T
    mids[nv, :, at] = market.consolidated_mid()
    mids[nv + 1, :, at] = single.book.mid
    if spreads is not None:
        spreads[:nv, :, t] = asks[:nv] - bids[:nv]
        spreads[nv, :, t] = np.nanmin(asks[:nv], axis=0) - np.nanmax(bids[:nv], axis=0)
        spreads[nv + 1, :, t] = asks[nv] - bids[nv]


def _start(
    config: MarketConfig, venues: Sequence[VenueConfig], n_markets: int, seed: int
) -> tuple[MultiVenueMarket, MarketSimulator]:
    """The multi-venue markets and the single-venue ones on venue 0's seeds, reset."""
    market = MultiVenueMarket(config, venues, n_markets)
    single = MarketSimulator(config, n_markets)
    market.set_roots(seed, np.random.default_rng(seed))
    market.reset()
    single.reset(episode_seeds(market.roots, market.episodes))  # venue 0's seeds
    return market, single


def measure(
    config: MarketConfig,
    venues: Sequence[VenueConfig] = DEFAULT_VENUES,
    n_markets: int = 64,
    steps: int = 5_000,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """The facts of every venue, the consolidated mid, the single venue and the arbitrage.

    The single-venue market runs the same preset, venue 0's seeds and the same quotes.

    Returns:
        ``{venue name, "consolidated", "single" or "asset": {fact: value}}``.
    """
    market, single = _start(config, venues, n_markets, seed)
    nv = market.n_venues
    mids = np.zeros((nv + 2, n_markets, steps + 1))  # venues, consolidated, single
    spreads = np.zeros((nv + 2, n_markets, steps))
    _record(market, single, mids, None, 0)
    offsets, sizes = np.full((n_markets, nv, 2), 0.25), np.ones((n_markets, nv, 2))
    q = np.zeros((n_markets, 2, 4))
    q[:, 0, :2], q[:, 0, 2:] = 0.25, 1.0
    arb = np.zeros((n_markets, steps))
    for t in range(steps):
        market.step(offsets, sizes)
        single.step(q)
        arb[:, t] = market.arbitrage_lots
        _record(market, single, mids, spreads, t)
    out: dict[str, dict[str, float]] = {}
    names = [v.name for v in market.venues] + ["consolidated", "single"]
    for j, name in enumerate(names):
        facts = venue_facts(mids[j], spreads[j])
        if j < nv:
            facts["mean_abs_gap_ticks"] = float(np.mean(np.abs(mids[j] - mids[nv])))
            facts["corr_1_with_first"] = _corr(mids[j], mids[0], 1)
            facts["corr_10_with_first"] = _corr(mids[j], mids[0], 10)
        out[name] = facts
    out["asset"] = {
        "arbitrage_lots_per_step": float(arb.mean()),
        "steps_with_arbitrage": float(np.mean(arb > 0)),
    }
    return out


def spread_by_step(
    config: MarketConfig, *, n_markets: int = 256, steps: int = 200, seed: int = 0
) -> dict[str, np.ndarray]:
    """Each venue's and the single venue's mean spread at every step of an episode's start.

    The markets of :func:`measure` on the default venues (mm1 at the touch on every venue, the
    single venue on venue 0's seeds), reset once and stepped ``steps`` times.

    Returns:
        ``{venue name or "single": (steps + 1,) mean spread in ticks}``, index ``t`` after ``t``
        steps (0: right after the reset), over the markets with both sides of the book.
    """
    market, single = _start(config, DEFAULT_VENUES, n_markets, seed)
    nv = market.n_venues
    offsets, sizes = np.full((n_markets, nv, 2), 0.25), np.ones((n_markets, nv, 2))
    q = np.zeros((n_markets, 2, 4))
    q[:, 0, :2], q[:, 0, 2:] = 0.25, 1.0
    books = [s.book for s in market.sims] + [single.book]
    out = np.zeros((nv + 1, steps + 1))
    for t in range(steps + 1):
        if t > 0:
            market.step(offsets, sizes)
            single.step(q)
        for j, b in enumerate(books):
            out[j, t] = np.nanmean(b.best_ask - b.best_bid)
    names = [v.name for v in market.venues] + ["single"]
    return dict(zip(names, out, strict=True))


def _transient_table(spreads: dict[str, np.ndarray], shown: int = 11, steady: int = 50) -> str:
    cols = list(spreads)
    lines = ["| step | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for t in range(shown):
        lines.append(f"| {t} | " + " | ".join(f"{spreads[c][t]:.2f}" for c in cols) + " |")
    last = len(spreads[cols[0]]) - 1
    cells = " | ".join(f"{spreads[c][steady:].mean():.2f}" for c in cols)
    lines.append(f"| mean of {steady}-{last} | {cells} |")
    return "\n".join(lines)


_FORMATS = {"predictor_oos_r2": "{:.4f}"}


def _table(facts: dict[str, dict[str, float]]) -> str:
    cols = [k for k in facts if k != "asset"]
    rows = sorted({f for k in cols for f in facts[k]}, key=list(facts[cols[0]]).index)
    lines = ["| fact | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for f in rows:
        fmt = _FORMATS.get(f, "{:.3f}")
        cells = [fmt.format(facts[c][f]) if f in facts[c] else "—" for c in cols]
        lines.append(f"| {f} | " + " | ".join(cells) + " |")
    lines += [f"| {k} | {v:.3f} |" for k, v in facts["asset"].items()]
    return "\n".join(lines)


PROG = "python -m mm_gym.multivenue.facts"


def _fail(message: str) -> NoReturn:
    raise CliError(message)


def _run(argv: Sequence[str] | None) -> None:
    from mm_gym.presets import book_preset_names

    ap = OneLineParser(prog=PROG, description=__doc__.splitlines()[0], fail=_fail)
    ap.add_argument("--preset", default="default", choices=book_preset_names())
    ap.add_argument("--markets", type=int, default=64)
    ap.add_argument("--steps", type=int, default=5_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--transient",
        action="store_true",
        help="print each venue's mean spread at the first steps of an episode instead",
    )
    a = ap.parse_args(argv)
    if not 1 <= a.markets <= 100_000:
        raise CliError(f"--markets {a.markets}: allowed 1 to 100000")
    if not 200 <= a.steps <= 1_000_000:
        raise CliError(f"--steps {a.steps}: allowed 200 to 1000000")
    if not 0 <= a.seed < 2**63:
        raise CliError(f"--seed {a.seed}: allowed 0 to 2**63 - 1")
    cfg = preset(a.preset)
    if a.transient:
        steps = min(a.steps, 200)
        print(_transient_table(spread_by_step(cfg, n_markets=a.markets, steps=steps, seed=a.seed)))
    else:
        print(_table(measure(cfg, n_markets=a.markets, steps=a.steps, seed=a.seed)))


def main(argv: Sequence[str] | None = None) -> int:
    """The command line (module docstring): exit 2 on bad input, 130 on Ctrl-C."""
    return run_cli(_run, argv, PROG)


if __name__ == "__main__":
    sys.exit(main())
