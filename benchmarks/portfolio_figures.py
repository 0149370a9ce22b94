"""The figures of the README's "Several assets (Portfolio-v0)": correlation achieved, VaR breaches.

``python benchmarks/portfolio_figures.py [--markets N] [--steps T] [--seed S] [--clustering X]``

``--clustering X`` sets ``portfolio.revision_clustering`` of every case (default: its default).

1. **Realised correlation.** ``N`` portfolios of the default preset and venues, mm1 parking its
   quotes at the farthest offset (action +1: it barely trades, so the books are the market's
   own), for ``T`` steps, two assets at correlation 0.6 and -0.4 and three assets at a full
   matrix, in the envs' default price formation (``book``, with the common quote revisions),
   and two assets at 0.6 in the ``book`` formation without revisions and in ``legacy``. Per
   pair: the correlation of the assets' consolidated-mid changes over non-overlapping windows
   of 1, 5, 20 and 50 steps, pooled over the markets after removing each market's mean, with
   the Fisher-z 95 % interval ``tanh(atanh(r) +- 1.96 / sqrt(m - 3))`` (``m`` windows; it
   treats the windows as independent). Per case also: asset 0's mid volatility per step, its
   variance per step over 50-step windows, and the out-of-sample R^2 of two linear forecasts
   of asset 0's next mid change (first half of the markets fitted, second half scored;
   :func:`mm_gym.portfolio.measure.lead_lag_r2`): from the other assets' last 5 mid changes,
   and from its own fundamental's (hidden from agents).
2. **VaR breaches.** ``N`` episodes of ``mm_gym/Portfolio-v0`` (defaults: two assets,
   correlation 0.6, the default VaR limit) on common seeds, mm1 quoting each asset with
   QuoteEverywhere(AS), the overlay off and on: steps ending above the VaR limit, steps the
   overlay traded, its cost, the PnL, and the historical VaR / ES at the episode's end (means
   over the episodes). Before them, one lot's VaR (:func:`lot_var`), from which the default
   VaR limit is set.
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
from mm_gym.portfolio.measure import (
    fisher_interval,
    lead_lag_r2,
    record_prices,
    window_correlation,
)
from mm_gym.portfolio.risk import delta_normal_var

HORIZONS = (1, 5, 20, 50)


def _prices(
    portfolio: PortfolioConfig, markets: int, steps: int, seed: int, formation: str
) -> tuple[np.ndarray, np.ndarray]:
    config = with_overrides(preset("default"), {"price_formation": formation})
    core = PortfolioCore(config, EnvConfig(), DEFAULT_VENUES, portfolio, markets)
    core.set_roots(seed, np.random.default_rng(seed))
    core.start()
    return record_prices(core, steps)


def correlation_table(markets: int, steps: int, seed: int, clustering: float | None) -> None:
    """Print the realised correlation of each case (module docstring, 1)."""
    matrix = ((1.0, 0.6, -0.3), (0.6, 1.0, 0.2), (-0.3, 0.2, 1.0))
    default = DEFAULT_PRICE_FORMATION
    extra = {} if clustering is None else {"revision_clustering": clustering}
    two = PortfolioConfig(n_assets=2, correlation=0.6, **extra)
    cases = [
        ("2 assets, rho 0.6", two, default),
        ("2 assets, rho -0.4", PortfolioConfig(n_assets=2, correlation=-0.4, **extra), default),
        ("3 assets, matrix", PortfolioConfig(n_assets=3, correlation=matrix, **extra), default),
        ("2, 0.6, no revision", PortfolioConfig(correlation=0.6, revision_ticks=0.0), "book"),
        ("2, 0.6, legacy", two, "legacy"),
    ]
    print(f"realised correlation of consolidated-mid changes, {markets} markets x {steps} steps")
    print(
        "case                pair  configured  "
        + "  ".join(f"{h:>3}-step [95% CI]     " for h in HORIZONS)
    )
    facts = []
    for label, portfolio, formation in cases:
        mids, funds = _prices(portfolio, markets, steps, seed, formation)
        c = portfolio.matrix
        for a in range(portfolio.n_assets):
            for b in range(a + 1, portfolio.n_assets):
                cells = []
                for h in HORIZONS:
                    r, m = window_correlation(mids, a, b, h)
                    lo, hi = fisher_interval(r, m)
                    cells.append(f"{r:+.3f} [{lo:+.3f},{hi:+.3f}]")
                print(f"{label:<19} {a}-{b}   {c[a, b]:+.2f}       " + "  ".join(cells))
        d1 = np.diff(mids[:, :, 0], axis=1)
        d50 = np.diff(mids[:, ::50, 0], axis=1)
        d50 = d50 - d50.mean(axis=1, keepdims=True)
        facts.append(
            (
                label,
                float(np.sqrt(np.mean(d1**2))),
                float(np.mean(d50**2) / 50),
                lead_lag_r2(mids[:, :, 0], mids[:, :, 1:]),
                lead_lag_r2(mids[:, :, 0], funds[:, :, :1]),
            )
        )
    print(
        "\ncase                mid vol/step  var/step (50)  OOS R2 other assets  OOS R2 fundamental"
    )
    for label, vol, var50, r2_assets, r2_fund in facts:
        print(f"{label:<19} {vol:>12.3f}  {var50:>13.3f}  {r2_assets:>19.4f}  {r2_fund:>18.4f}")


def lot_var(seed: int = 1) -> float:
    """Print and return one lot's VaR: the median over steps 100-600 of one episode (``seed``).

    The one-step 99 % delta-normal VaR of a position of one lot of asset 0 alone, from the
    env's EWMA covariance, mm1 parking its quotes at the farthest offset; the default
    ``var_limit`` is 16 of it, rounded (README, "Several assets").
    """
    env = PortfolioEnv()
    env.reset(seed=seed)
    core = env.unwrapped._core
    p = core.portfolio
    action = np.ones(env.action_space.shape, np.float32)
    vars_ = []
    for t in range(600):
        env.step(action)
        if t + 1 >= 100:
            e = np.zeros((1, core.n_assets))
            e[0, 0] = core.lot_size * core.mids()[0, 0] * core.tick
            cov = np.nan_to_num(core.cov.covariance[:1])
            vars_.append(float(delta_normal_var(e, cov, p.var_level, p.var_horizon_steps)[0]))
    value = float(np.median(vars_))
    print(
        f"\none lot's VaR (median over steps 100-600, seed {seed}): {value:.3f}; x 16 = "
        f"{16 * value:.1f} (default var_limit {p.var_limit:g})"
    )
    return value


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
    parser.add_argument("--clustering", type=float, default=None)
    parser.add_argument("--skip-correlation", action="store_true")
    parser.add_argument("--skip-breaches", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args()
    t0 = time.perf_counter()
    if not args.skip_correlation:
        correlation_table(args.markets, args.steps, args.seed, args.clustering)
    if not args.skip_breaches:
        lot_var()
        breach_table(args.markets, args.seed)
    if not args.skip_speed:
        speed_table()
    print(f"\n({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
