"""Regression against the published simulations of Avellaneda & Stoikov (2008), section 3.3.

Tolerances (fixed seed, 1,000 paths as in the paper): mean profit within 1.5 of the published
value, standard deviations within 8 %, mean final inventory within 3 standard errors, average
spread within 0.005 of the published two-decimal figure.

What the model gives on 200,000 paths (gamma = 0.1): inventory strategy profit 64.88, std 6.54,
std(final q) 2.93; symmetric strategy profit 68.21, std 13.48, std(final q) 8.40. All are within
the tolerances of the published table, but the symmetric strategy's std(profit) is 6 % above the
published 12.7 (its exact value for a constant symmetric quote is 13.45; see
``test_intensity.test_symmetric_quote_profit_matches_exact_moments``), so with 1,000 paths that
one check passes for about 72 % of seeds (all checks: 71 % of 300 seeds at gamma = 0.1, 61 % at
gamma = 0.01, where the same statistic is 7 % above the published 12.8, and 97 % at gamma = 1).
The seed is fixed at 0 and was not searched for.
"""

from __future__ import annotations

import math

import pytest

from baselines.as2008 import PUBLISHED, main, published, run_as2008
from baselines.formulas import as_average_spread

N_PATHS = 1000
SEED = 0


def _check_against_published(gamma: float) -> None:
    simulated = run_as2008(gamma, N_PATHS, SEED)
    reference = PUBLISHED[gamma]
    for sim, pub in zip(simulated, reference, strict=True):
        assert sim.strategy == pub.strategy
        where = f"gamma={gamma} {sim.strategy}: simulated {sim} vs published {pub}"
        # Published to two decimals; quotes revised at t = 0, dt, ..., T - dt average a further
        # gamma sigma^2 dt / 2 above the [0, T] average (3.03 vs 3.02 at gamma = 1).
        assert abs(sim.spread - pub.spread) <= 0.005 + gamma * 2.0**2 * 0.005 / 2, where
        assert abs(sim.profit - pub.profit) <= 1.5, where
        assert abs(sim.std_profit / pub.std_profit - 1) <= 0.08, where
        assert abs(sim.final_q - pub.final_q) <= 3 * sim.std_final_q / math.sqrt(N_PATHS), where
        assert abs(sim.std_final_q / pub.std_final_q - 1) <= 0.08, where


def test_reproduces_published_table_gamma_0_1():
    _check_against_published(0.1)


@pytest.mark.parametrize("gamma", [0.01, 1.0])
def test_reproduces_published_tables_gamma_0_01_and_1(gamma):
    _check_against_published(gamma)


@pytest.mark.parametrize(("gamma", "spread"), [(0.1, 1.49), (0.01, 1.35), (1.0, 3.02)])
def test_average_spread_formula_matches_the_published_column(gamma, spread):
    # Time-average of eq. (30) over [0, T]: gamma sigma^2 T / 2 + (2/gamma) ln(1 + gamma/k).
    assert as_average_spread(1.0, gamma=gamma, sigma=2.0, k=1.5) == pytest.approx(spread, abs=0.005)


def test_inventory_strategy_has_less_risk_than_symmetric_for_any_gamma():
    inventory, symmetric = run_as2008(0.3, 400, seed=1)
    assert inventory.std_profit < symmetric.std_profit
    assert inventory.std_final_q < symmetric.std_final_q
    assert published(0.3) is None and published(0.1) is PUBLISHED[0.1]


def test_symmetric_matched_mode_and_poisson_fills_run():
    inventory, matched = run_as2008(0.1, 200, seed=0, symmetric="matched", fill_model="poisson")
    assert matched.spread == pytest.approx(inventory.spread)
    assert matched.profit < 68.4 - 3  # fewer fills with 1 - exp(-lambda dt)


def test_cli_prints_the_table_next_to_the_published_values(capsys):
    assert main(["--gamma", "0.1", "--paths", "200", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    header = "strategy   source     spread   profit  std(profit)  final q  std(final q)"
    assert header in out
    assert "inventory  published    1.49    65.00         6.60     0.08          2.90" in out
    assert "symmetric  published    1.49    68.40        12.70     0.26          8.40" in out
    assert out.count("simulated") == 2


def test_cli_without_a_published_table_says_so(capsys):
    assert main(["--gamma", "0.25", "--paths", "50"]) == 0
    out = capsys.readouterr().out
    assert out.count("simulated") == 2 and " published " not in out
    assert "results for gamma = 0.1, 0.01, 1 only" in out
