"""Pegged against unpegged quote revisions on ``mm_gym/Portfolio-v0``: the makers' side of news.

``python benchmarks/portfolio_pickoff.py [--episodes N] [--seed S] [--contestants ...]``

Every contestant (the multi-venue baselines quoting each asset, as ``evaluate.py --env-id
mm_gym/Portfolio-v0`` and :func:`mm_gym.multivenue.tournament.play` build them) plays the same
``N`` episodes (seeds ``S .. S + N - 1``, 1,000 steps) of the default portfolio with the
hedging overlay off and on, once with the makers' resting orders pegged to the common quote
revisions (``portfolio.revision_pegging=True``) and once unpegged (picked off when the revised
book crosses them; :mod:`mm_gym.market.revision`). Per case, means per episode:

- ``pnl``: mm1's portfolio PnL at the episode's end (``info["pnl"]``), currency;
- ``edge``: mm1's spread capture (``sum size * (price - mid)`` against the venue's mid at the
  fill, the mid before the step's revision for a pick-off), currency;
- ``fills``: mm1's filled lots; ``rev_share``: the share of them filled on revision steps;
  ``picked``: the lots of them a revision picked off (0 when pegged);
- ``as_1``, ``as_10``: adverse selection, the asset's consolidated mid's move against mm1 from
  the start of the step of a fill to 1 and 10 steps after its end, ticks per lot (positive:
  the mid moved against the maker: up after it sold, down after it bought);
- ``spread``: the venues' quoted spread (best ask - best bid, makers included), ticks, mean over
  steps, venues and assets; ``own_spread``: mm1's own (ask - bid where both rest);
- ``breaches``, ``hedge_cost``: steps ending above the VaR limit, the overlay's cost.

The paired difference (unpegged - pegged) of the PnL, episode by episode, with a 95 %
percentile bootstrap interval.

With ``--correlation M``, first the prices of the default two assets (correlation 0.6), ``M``
markets x 1,000 steps, mm1 parked at the farthest offset (as ``portfolio_figures.py``), both
ways: the realised correlation of the consolidated-mid changes over 1 and 50 steps (Fisher-z
95 % interval), asset 0's mid volatility per step, and the out-of-sample R^2 of its next mid
change from the other asset's last 5 and from its own past (:func:`~mm_gym.portfolio.measure.
lead_lag_r2`).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from mm_gym.config import preset
from mm_gym.envs.config import EnvConfig
from mm_gym.market.state import I_REVISION
from mm_gym.multivenue import DEFAULT_VENUES
from mm_gym.multivenue.tournament import _contestant
from mm_gym.portfolio import PortfolioConfig, PortfolioVectorEnv
from mm_gym.portfolio.core import PortfolioCore
from mm_gym.portfolio.measure import (
    fisher_interval,
    lead_lag_r2,
    record_prices,
    window_correlation,
)

HORIZONS = (1, 10)


def run(name: str, portfolio: PortfolioConfig, episodes: int, seed: int) -> dict[str, Any]:
    """Play ``episodes`` episodes of ``name`` on ``portfolio``; per-episode measures."""
    env = PortfolioVectorEnv(num_envs=episodes, portfolio=portfolio)
    core = env.unwrapped._core if hasattr(env, "unwrapped") else env._core
    _, policy = _contestant(name, "default", 100.0, 1, portfolio)
    steps = env.market_config.horizon_steps
    obs, _ = env.reset(seed=seed)
    policy.reset(np.random.default_rng(seed), env.policy_context())
    a = core.n_assets
    mids = np.zeros((steps + 1, episodes, a))
    net = np.zeros((steps, episodes, a))  # mm1's lots sold - bought (the maker's side: -1 buy)
    gross = np.zeros((steps, episodes, a))
    revised = np.zeros((steps, episodes, a), bool)
    edge = np.zeros(episodes)
    picked = np.zeros(episodes)
    spread, own = [], []
    mids[0] = core.mids()
    for t in range(steps):
        obs, _, _, _, info = env.step(policy.act(obs))
        mids[t + 1] = core.mids()
        for k, c in enumerate(core.assets):
            for sim in c.sims:
                acc = sim.accounts
                net[t, :, k] += acc.step_sold[:, 0] - acc.step_bought[:, 0]
                gross[t, :, k] += acc.step_sold[:, 0] + acc.step_bought[:, 0]
                edge += acc.step_edge[:, 0]
                picked += acc.step_picked[:, 0]
                spread.append(np.nanmean(sim.book.spread))
                o = sim.orders
                both = (o.size[:, 0, 0] > 0) & (o.size[:, 0, 1] > 0)
                if both.any():
                    own.append(float(np.mean(o.tick[both, 0, 1] - o.tick[both, 0, 0])))
            revised[t, :, k] = c.sims[0].state.is_[:, I_REVISION] != 0
    out: dict[str, Any] = {
        "pnl": np.asarray(info["pnl"], np.float64),
        "edge": edge,
        "fills": gross.sum(axis=(0, 2)),
        "rev_share": float(gross[revised].sum() / max(gross.sum(), 1.0)),
        "picked": picked,
        "spread": float(np.mean(spread)),
        "own_spread": float(np.mean(own)) if own else float("nan"),
        "breaches": np.asarray(info["var_breaches"], np.float64),
        "hedge_cost": np.asarray(info["hedge_cost_total"], np.float64),
    }
    for h in HORIZONS:
        later = mids[np.minimum(np.arange(steps) + h, steps)]  # after step t + h - 1
        move = later - mids[:steps]
        out[f"as_{h}"] = float((net * move).sum() / max(gross.sum(), 1.0))
    env.close()
    return out


def correlation(markets: int, seed: int) -> None:
    """Print the prices' correlation, volatility and lead-lag, pegged and unpegged."""
    print(f"two assets at 0.6, {markets} markets x 1000 steps, mm1 parked")
    print("orders    1-step [95% CI]          50-step [95% CI]         vol/step  R2 other  R2 own")
    for pegged in (True, False):
        portfolio = PortfolioConfig(revision_pegging=pegged)
        core = PortfolioCore(preset("default"), EnvConfig(), DEFAULT_VENUES, portfolio, markets)
        core.set_roots(seed, np.random.default_rng(seed))
        core.start()
        mids, _ = record_prices(core, 1000)
        cells = []
        for h in (1, 50):
            r, m = window_correlation(mids, 0, 1, h)
            lo, hi = fisher_interval(r, m)
            cells.append(f"{r:+.3f} [{lo:+.3f},{hi:+.3f}]")
        vol = float(np.sqrt(np.mean(np.diff(mids[:, :, 0], axis=1) ** 2)))
        other = lead_lag_r2(mids[:, :, 0], mids[:, :, 1:])
        own = lead_lag_r2(mids[:, :, 0], mids[:, :, :1])
        print(f"{'pegged' if pegged else 'unpegged':<9} {cells[0]}  {cells[1]}  {vol:8.3f}  "
              f"{other:+.4f}  {own:+.4f}", flush=True)  # fmt: skip


def main() -> None:
    """Play every case and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--episodes", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--contestants", nargs="+", default=["routed_as", "routed_glft", "everywhere_as",
                                             "everywhere_glft"]
    )  # fmt: skip
    parser.add_argument("--correlation", type=int, default=0, metavar="M")
    args = parser.parse_args()
    t0 = time.perf_counter()
    if args.correlation:
        correlation(args.correlation, args.seed)
    print(f"{args.episodes} episodes, seeds {args.seed}..{args.seed + args.episodes - 1}")
    cols = (
        "pnl [95% CI]             edge   fills picked rev_share as_1   as_10  spread own"
        "   breach hcost"
    )
    print(f"{'contestant':<22} {'orders':<8} {cols}")
    for name in args.contestants:
        for hedge in (False, True):
            label = name + ("+hedge" if hedge else "")
            res = {}
            for pegged in (True, False):
                pf = PortfolioConfig(hedge=hedge, revision_pegging=pegged)
                r = res[pegged] = run(name, pf, args.episodes, args.seed)
                pnl = r["pnl"]
                half = 1.96 * pnl.std(ddof=1) / np.sqrt(len(pnl))
                print(
                    f"{label:<22} {'pegged' if pegged else 'unpegged':<8} "
                    f"{pnl.mean():7.1f} [{pnl.mean() - half:6.1f},{pnl.mean() + half:6.1f}] "
                    f"{r['edge'].mean():6.1f} {r['fills'].mean():6.0f} "
                    f"{r['picked'].mean():6.1f} {r['rev_share']:8.3f} "
                    f"{r['as_1']:+.3f} {r['as_10']:+.3f} {r['spread']:6.3f} "
                    f"{r['own_spread']:5.2f} {r['breaches'].mean():6.1f} "
                    f"{r['hedge_cost'].mean():5.1f}",
                    flush=True,
                )
            d = res[False]["pnl"] - res[True]["pnl"]
            boot = np.random.default_rng(0).choice(d, (2000, len(d))).mean(axis=1)
            lo, hi = np.percentile(boot, [2.5, 97.5])
            print(f"{'':<22} unpegged - pegged PnL: {d.mean():+.1f} [{lo:+.1f}, {hi:+.1f}]")
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
