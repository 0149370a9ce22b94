"""The figures of the README's "Several assets (Portfolio-v0)": correlation achieved, VaR breaches.

``python benchmarks/portfolio_figures.py [--markets N] [--steps T] [--seed S]``

1. **Realised correlation.** ``N`` portfolios of the default preset and venues, mm1 parking its
   quotes at the farthest offset (action +1: it barely trades, so the books are the market's
   own), for ``T`` steps, two assets at correlation 0.6 and -0.4 and three assets at a full
   matrix, in the envs' default price formation (``legacy``), and two assets at 0.6 in the
   ``book`` formation (and there, the mid's volatility with and without the fundamental's
   innovations). Per pair: the correlation of the assets' consolidated-mid changes over
   non-overlapping windows of 1, 5, 20 and 50 steps, pooled over the markets after removing
   each market's mean, with the Fisher-z 95 % interval ``tanh(atanh(r) +- 1.96 / sqrt(m - 3))``
   (``m`` windows; it treats the windows as independent).
2. **VaR breaches.** ``N`` episodes of ``mm_gym/Portfolio-v0`` (two assets, correlation 0.6,
   VaR limit 15) on common seeds, mm1 quoting each asset with QuoteEverywhere(AS), the
   overlay off and on: steps ending above the VaR limit, steps the overlay traded, its cost,
   the PnL, and the historical VaR / ES at the episode's end (means over the episodes).
3. **Speed.** Env-steps per second of Portfolio-v0 and MultiVenue-v0, one env and 64.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from baselines.multivenue import make_multivenue_policy
from baselines.portfolio import PerAsset
from mm_gym.config import preset, with_overrides
from mm_gym.envs.config import EnvConfig
from mm_gym.multivenue import DEFAULT_VENUES
from mm_gym.multivenue.env import MultiVenueEnv, MultiVenueVectorEnv
from mm_gym.portfolio import PortfolioConfig
from mm_gym.portfolio.core import PortfolioCore
from mm_gym.portfolio.env import DEFAULT_PRICE_FORMATION, PortfolioEnv, PortfolioVectorEnv
from mm_gym.portfolio.measure import fisher_interval, record_mids, window_correlation

HORIZONS = (1, 5, 20, 50)


def _mids(
    portfolio: PortfolioConfig,
    markets: int,
    steps: int,
    seed: int,
    formation: str,
    sigma_ticks: float | None = None,
) -> np.ndarray:
    overrides: dict[str, object] = {"price_formation": formation}
    if sigma_ticks is not None:
        overrides["process.sigma_ticks"] = sigma_ticks
    config = with_overrides(preset("default"), overrides)
    core = PortfolioCore(config, EnvConfig(), DEFAULT_VENUES, portfolio, markets)
    core.set_roots(seed, np.random.default_rng(seed))
    core.start()
    return record_mids(core, steps)


def correlation_table(markets: int, steps: int, seed: int) -> None:
    """Print the realised correlation of each case (module docstring, 1)."""
    matrix = ((1.0, 0.6, -0.3), (0.6, 1.0, 0.2), (-0.3, 0.2, 1.0))
    legacy = DEFAULT_PRICE_FORMATION
    cases = [
        ("2 assets, rho 0.6", PortfolioConfig(n_assets=2, correlation=0.6), legacy),
        ("2 assets, rho -0.4", PortfolioConfig(n_assets=2, correlation=-0.4), legacy),
        ("3 assets, matrix", PortfolioConfig(n_assets=3, correlation=matrix), legacy),
        ("2 assets, 0.6, book", PortfolioConfig(n_assets=2, correlation=0.6), "book"),
    ]
    print(f"realised correlation of consolidated-mid changes, {markets} markets x {steps} steps")
    print(
        "case                pair  configured  "
        + "  ".join(f"{h:>3}-step [95% CI]     " for h in HORIZONS)
    )
    for label, portfolio, formation in cases:
        mids = _mids(portfolio, markets, steps, seed, formation)
        c = portfolio.matrix
        for a in range(portfolio.n_assets):
            for b in range(a + 1, portfolio.n_assets):
                cells = []
                for h in HORIZONS:
                    r, m = window_correlation(mids, a, b, h)
                    lo, hi = fisher_interval(r, m)
                    cells.append(f"{r:+.3f} [{lo:+.3f},{hi:+.3f}]")
                print(f"{label:<19} {a}-{b}   {c[a, b]:+.2f}       " + "  ".join(cells))


def book_volatility(markets: int, steps: int, seed: int) -> None:
    """Print the mid's volatility under "book" with and without the fundamental's innovations."""
    one = PortfolioConfig(n_assets=2, correlation=1.0)
    vols = []
    for sigma in (None, 0.0):
        mids = _mids(one, markets, steps, seed, "book", sigma)
        vols.append(float(np.sqrt(np.mean(np.diff(mids[:, :, 0], axis=1) ** 2))))
    print(
        f"book formation, correlation 1: mid volatility {vols[0]:.3f} ticks per step, "
        f"{vols[1]:.3f} with process.sigma_ticks = 0"
    )


def breach_table(markets: int, seed: int) -> None:
    """Print the VaR breaches with the overlay off and on (module docstring, 2)."""
    print(
        f"\nQuoteEverywhere(AS) per asset, {markets} episodes, seeds {seed}..{seed + markets - 1}"
    )
    print("overlay  breaches/ep  hedges/ep  hedge cost/ep  pnl/ep   hist VaR99  hist ES99")
    for hedge in (False, True):
        env = PortfolioVectorEnv(num_envs=markets, portfolio={"hedge": hedge})
        policy = PerAsset(lambda: make_multivenue_policy("everywhere_as"))
        obs, info = env.reset(seed=seed)
        policy.reset(np.random.default_rng(seed), env.policy_context())
        for _ in range(env.market_config.horizon_steps):
            obs, _, _, _, info = env.step(policy.act(obs))
        print(
            f"{'on' if hedge else 'off':<8} {info['var_breaches'].mean():>11.1f}  "
            f"{info['hedges'].mean():>9.1f}  {info['hedge_cost_total'].mean():>13.1f}  "
            f"{info['pnl'].mean():>7.1f}  {np.nanmean(info['hist_var']):>10.1f}  "
            f"{np.nanmean(info['hist_es']):>9.1f}"
        )
        env.close()


def speed_table() -> None:
    """Print env-steps per second of Portfolio-v0 next to MultiVenue-v0 (module docstring, 3)."""
    print("\nspeed, env-steps/s (zero actions, serial kernels, best of 3)")
    makers = {
        "Portfolio-v0 (2 assets)": (PortfolioEnv, PortfolioVectorEnv),
        "MultiVenue-v0": (MultiVenueEnv, MultiVenueVectorEnv),
    }
    for name, (single, vector) in makers.items():
        for n in (1, 64):
            env = single() if n == 1 else vector(n)
            env.reset(seed=0)
            action = np.zeros(env.action_space.shape, np.float32)
            steps, best = (300 if n == 1 else 100), 0.0
            for _ in range(3):
                t0 = time.perf_counter()
                for _ in range(steps):
                    env.step(action)
                best = max(best, steps * n / (time.perf_counter() - t0))
            print(f"{name:<24} envs={n:<3} {best:>8,.0f}")


def main() -> None:
    """Parse the arguments and print both tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--markets", type=int, default=64)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-correlation", action="store_true")
    parser.add_argument("--skip-breaches", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args()
    t0 = time.perf_counter()
    if not args.skip_correlation:
        correlation_table(args.markets, args.steps, args.seed)
        book_volatility(args.markets, args.steps, args.seed)
    if not args.skip_breaches:
        breach_table(args.markets, args.seed)
    if not args.skip_speed:
        speed_table()
    print(f"\n({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
