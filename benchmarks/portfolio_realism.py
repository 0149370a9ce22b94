"""The stylized facts of one asset of ``mm_gym/Portfolio-v0``, next to the single-asset market.

``python benchmarks/portfolio_realism.py [--markets N] [--steps T] [--seed S] [--pegged]
[--portfolio-only] [--clustering X]``

An asset of a two-asset portfolio at the default correlation 0.6 in the default ``book``
formation is a market whose fundamental's innovation is its Cholesky row times the shared
normals and whose whole book moves by the common quote revisions (``portfolio.revision_ticks``,
:mod:`mm_gym.market.revision`). Asset 1 (the one whose row mixes both normals), one venue,
under the realism report's protocol (:func:`mm_gym.realism.measure.measure_preset`: both makers
1 lot 2 ticks either side of the mid, burn-in 500 steps), is measured with the report's
estimators and targets (:func:`mm_gym.realism.facts.analyse`), then the single-asset market
alike. Prints each fact's value, CI and verdict for both, and the counts of pass and FAIL.
The makers' orders are pegged to the revisions or not as ``portfolio.revision_pegging``'s
default says; ``--pegged`` / ``--unpegged`` choose; ``--portfolio-only`` skips the single asset;
``--clustering X`` sets ``portfolio.revision_clustering`` (default: its default).
"""

from __future__ import annotations

import argparse
import functools
import time

from mm_gym.config import MarketConfig, preset
from mm_gym.market import MarketSimulator
from mm_gym.portfolio import PortfolioConfig
from mm_gym.portfolio.config import REVISION_CLUSTER_STEPS
from mm_gym.realism.facts import analyse
from mm_gym.realism.measure import measure_preset


def portfolio_asset(
    config: MarketConfig,
    n_markets: int,
    pegged: bool | None = None,
    clustering: float | None = None,
) -> MarketSimulator:
    """Asset 1 of the default two-asset portfolio, one venue, recording, no built-in rival.

    ``pegged``: the makers' orders and the revisions; ``clustering``: the revisions' news
    intensity's (``revision_clustering``); None: ``PortfolioConfig``'s defaults.
    """
    portfolio = PortfolioConfig()
    if clustering is None:
        clustering = portfolio.revision_clustering
    if pegged is None:
        pegged = portfolio.revision_pegging
    row = tuple(float(x) for x in portfolio.cholesky()[1])
    sim = MarketSimulator(
        config, n_markets, builtin_rival=False, record=True, asset=1, correlation=row
    )
    revisions = tuple(float(x) for x in portfolio.revision_cholesky()[1])
    sim.set_revisions(
        revisions,
        portfolio.revision_ticks,
        portfolio.revision_prob,
        pegged=pegged,
        clustering=clustering,
        clustering_steps=REVISION_CLUSTER_STEPS,
    )
    return sim


def main() -> None:
    """Measure both markets and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--markets", type=int, default=128)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    peg = parser.add_mutually_exclusive_group()
    peg.add_argument("--pegged", dest="pegged", action="store_true", default=None)
    peg.add_argument("--unpegged", dest="pegged", action="store_false")
    parser.add_argument("--portfolio-only", action="store_true")
    parser.add_argument("--clustering", type=float, default=None)
    args = parser.parse_args()
    t0 = time.perf_counter()
    config = preset("default")
    results = []
    asset = functools.partial(portfolio_asset, pegged=args.pegged, clustering=args.clustering)
    for make in (asset,) if args.portfolio_only else (asset, None):
        meas = measure_preset("default", config, args.markets, args.steps, 500, args.seed,
                              make_simulator=make)  # fmt: skip
        results.append(analyse(meas, n_boot=200, seed=args.seed))
    default = PortfolioConfig()
    pegged = default.revision_pegging if args.pegged is None else args.pegged
    clustering = default.revision_clustering if args.clustering is None else args.clustering
    print(f"{args.markets} markets x {args.steps} steps, seed {args.seed}, "
          f"{'pegged' if pegged else 'unpegged'} makers, "
          f"revision_clustering {clustering:g}")  # fmt: skip
    labels = ("portfolio asset", "single asset")[: len(results)]
    print("fact".ljust(28) + "".join(f" {label:>30} " for label in labels) + " target")
    for facts in zip(*(r.facts for r in results), strict=True):
        cells = [f"{f.value:+.4f} [{f.lo:+.4f},{f.hi:+.4f}] {f.status:<4}" for f in facts]
        print(f"{facts[0].key:<28}" + "".join(f" {c:>30} " for c in cells) + f" {facts[0].target}")
    for label, res in zip(labels, results, strict=True):
        count = {s: sum(f.status == s for f in res.facts) for s in ("pass", "FAIL")}
        print(f"{label}: {count['pass']} pass, {count['FAIL']} FAIL")
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
