"""The stylized facts of one asset of ``mm_gym/Portfolio-v0``, next to the single-asset market.

``python benchmarks/portfolio_realism.py [--markets N] [--steps T] [--seed S]``

An asset of a two-asset portfolio at the default correlation 0.6 in the default ``book``
formation is a market whose fundamental's innovation is its Cholesky row times the shared
normals and whose whole book moves by the common quote revisions (``portfolio.revision_ticks``,
:mod:`mm_gym.market.revision`). Asset 1 (the one whose row mixes both normals), one venue,
under the realism report's protocol (:func:`mm_gym.realism.measure.measure_preset`: both makers
1 lot 2 ticks either side of the mid, burn-in 500 steps), is measured with the report's
estimators and targets (:func:`mm_gym.realism.facts.analyse`), then the single-asset market
alike. Prints each fact's value, CI and verdict for both, and the counts of pass and FAIL.
"""

from __future__ import annotations

import argparse
import time

from mm_gym.config import MarketConfig, preset
from mm_gym.market import MarketSimulator
from mm_gym.portfolio import PortfolioConfig
from mm_gym.realism.facts import analyse
from mm_gym.realism.measure import measure_preset


def portfolio_asset(config: MarketConfig, n_markets: int) -> MarketSimulator:
    """Asset 1 of the default two-asset portfolio, one venue, recording, no built-in rival."""
    portfolio = PortfolioConfig()
    row = tuple(float(x) for x in portfolio.cholesky()[1])
    sim = MarketSimulator(
        config, n_markets, builtin_rival=False, record=True, asset=1, correlation=row
    )
    revisions = tuple(float(x) for x in portfolio.revision_cholesky()[1])
    sim.set_revisions(revisions, portfolio.revision_ticks, portfolio.revision_prob)
    return sim


def main() -> None:
    """Measure both markets and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--markets", type=int, default=128)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    t0 = time.perf_counter()
    config = preset("default")
    results = []
    for make in (portfolio_asset, None):
        meas = measure_preset("default", config, args.markets, args.steps, 500, args.seed,
                              make_simulator=make)  # fmt: skip
        results.append(analyse(meas, n_boot=200, seed=args.seed))
    print(f"{args.markets} markets x {args.steps} steps, seed {args.seed}")
    print(f"{'fact':<28} {'portfolio asset':>30}  {'single asset':>30}  target")
    for fa, fs in zip(results[0].facts, results[1].facts, strict=True):
        cells = [f"{f.value:+.4f} [{f.lo:+.4f},{f.hi:+.4f}] {f.status:<4}" for f in (fa, fs)]
        print(f"{fa.key:<28} {cells[0]:>30}  {cells[1]:>30}  {fa.target}")
    for label, res in zip(("portfolio asset", "single asset"), results, strict=True):
        count = {s: sum(f.status == s for f in res.facts) for s in ("pass", "FAIL")}
        print(f"{label}: {count['pass']} pass, {count['FAIL']} FAIL")
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
