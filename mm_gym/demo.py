"""``python -m mm_gym.demo``: a short simulation of the default market with a summary.

Runs 64 markets of the default preset for one episode with mm1 quoting a fixed 2-tick spread
against the built-in rival, and prints each maker's PnL, inventory and fills, the book's
state and throughput.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from mm_gym.config import preset, preset_names


def main(argv: list[str] | None = None) -> None:
    """Run the demo (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    ap.add_argument(
        "--preset", default="default", choices=[p for p in preset_names() if p != "as2008"]
    )
    ap.add_argument("--markets", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    from mm_gym.market import MarketSimulator

    cfg = preset(args.preset)
    t0 = time.perf_counter()
    sim = MarketSimulator(cfg, args.markets)
    sim.reset(args.seed)
    q = sim.quotes_buffer()
    q[:, 0] = [2.0, 2.0, 1, 1]
    sim.step(q)
    t_compile = time.perf_counter() - t0
    t1 = time.perf_counter()
    for _ in range(cfg.horizon_steps - 1):
        sim.step(q)
    dt = time.perf_counter() - t1
    pnl = sim.total_pnl
    fills = sim.accounts.n_fills
    print(
        f"mm_gym demo: preset={args.preset!r}, {args.markets} markets x {cfg.horizon_steps} steps"
    )
    print(
        f"  first step (compile or cache load) {t_compile:.1f} s; "
        f"{args.markets * (cfg.horizon_steps - 1) / dt:,.0f} market-steps/s"
    )
    for k, name in enumerate(("mm1 (fixed 2-tick spread)", "mm2 (built-in rival)")):
        print(
            f"  {name:28s} PnL mean {pnl[:, k].mean():8.1f} +- {pnl[:, k].std():6.1f}  "
            f"|inventory| {np.abs(sim.inventory[:, k]).mean():5.1f} lots  "
            f"fills {fills[:, k].mean():6.1f}"
        )
    print(
        f"  mid range {sim.mid.min() * cfg.tick_size:.2f} .. {sim.mid.max() * cfg.tick_size:.2f}; "
        f"shocks per episode {sim.scalars.shocks.mean():.2f}"
    )


if __name__ == "__main__":
    main()
