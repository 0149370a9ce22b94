"""Reproduce the simulation study of Avellaneda & Stoikov (2008), section 3.3.

Run ``python -m baselines.as2008 --gamma 0.1 --paths 1000 --seed 0``.

The market is the ``as2008`` intensity model (:mod:`mm_gym.market.intensity`: ``s0 = 100,
T = 1, sigma = 2, dt = 0.005, k = 1.5, A = 140, q0 = 0``). Two strategies run on the same
paths (common random numbers):

- **inventory**: the spread of eq. (30) around the reservation price of eq. (29);
- **symmetric**: the same average spread centred on the mid (the paper: it "uses the average
  bid/ask spread of the inventory strategy over the time period, but centres it around the
  mid-price"; ``--symmetric matched`` uses the inventory strategy's spread at each time instead).

The table shows, per strategy, the average total quoted spread, the mean and standard deviation
of the terminal profit ``cash + q * s``, and the mean and standard deviation of the terminal
inventory, next to the values published in the paper (Quantitative Finance 8(3), 2008, tables 1-3
for gamma = 0.1, 0.01 and 1; each from 1,000 simulations). The 2006 working-paper version that
also circulates has different tables (gamma = 0.1, 0.01 and 0.5; e.g. an inventory-strategy
profit of 62.94 at gamma = 0.1); they are not used here.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from baselines.intensity_quotes import InventoryQuotes, SymmetricQuotes
from mm_gym.cli import OneLineParser, exit_with_error
from mm_gym.config import ConfigError, IntensityConfig, is_integer, preset
from mm_gym.market.intensity import IntensityStrategy, simulate

__all__ = ["PUBLISHED", "Row", "format_table", "main", "run_as2008"]


@dataclass(frozen=True)
class Row:
    """One line of the table.

    Attributes:
        strategy: ``"inventory"`` or ``"symmetric"``.
        spread: Average total quoted spread.
        profit: Mean terminal profit.
        std_profit: Standard deviation of the terminal profit (sample, ddof=1).
        final_q: Mean terminal inventory.
        std_final_q: Standard deviation of the terminal inventory (sample, ddof=1).
    """

    strategy: str
    spread: float
    profit: float
    std_profit: float
    final_q: float
    std_final_q: float


PUBLISHED: dict[float, tuple[Row, Row]] = {
    # Avellaneda & Stoikov (2008), Quantitative Finance 8(3), table 1 (gamma = 0.1).
    0.1: (
        Row("inventory", 1.49, 65.0, 6.6, 0.08, 2.9),
        Row("symmetric", 1.49, 68.4, 12.7, 0.26, 8.4),
    ),
    # Table 2 (gamma = 0.01).
    0.01: (
        Row("inventory", 1.35, 68.6, 8.7, 0.12, 5.1),
        Row("symmetric", 1.35, 68.8, 12.8, 0.09, 8.7),
    ),
    # Table 3 (gamma = 1).
    1.0: (
        Row("inventory", 3.02, 31.4, 5.0, 0.02, 1.7),
        Row("symmetric", 3.02, 44.0, 11.0, 0.00, 5.1),
    ),
}
"""The paper's published tables, keyed by gamma: (inventory row, symmetric row)."""


def run_as2008(
    gamma: float,
    n_paths: int = 1000,
    seed: int | None = 0,
    *,
    config: IntensityConfig | None = None,
    symmetric: Literal["average", "matched"] = "average",
    fill_model: Literal["linear", "poisson"] = "linear",
) -> tuple[Row, Row]:
    """Simulate the inventory and the symmetric strategy on the same paths.

    Args:
        gamma: Risk aversion (> 0).
        n_paths: Number of simulated paths (>= 2).
        seed: Seed of the paths (shared by both strategies).
        config: The market; default the ``as2008`` preset's intensity model.
        symmetric: How the symmetric strategy's spread is set (see the module docstring).
        fill_model: ``"linear"`` (the paper) or ``"poisson"`` (see :mod:`mm_gym.market.intensity`).

    Returns:
        ``(inventory row, symmetric row)``.
    """
    if not is_integer(n_paths) or n_paths < 2:
        raise ConfigError(f"n_paths={n_paths!r} must be an integer >= 2")
    if config is None:
        config = preset("as2008").intensity
    inventory = InventoryQuotes.from_config(gamma, config)
    strategies: dict[str, IntensityStrategy] = {
        "inventory": inventory,
        "symmetric": SymmetricQuotes.matching(inventory, symmetric),
    }
    rows = []
    for name, strategy in strategies.items():
        run = simulate(strategy, config, n_paths, seed, fill_model=fill_model)
        rows.append(
            Row(
                strategy=name,
                spread=float(np.nanmean(run.mean_spread)),
                profit=float(run.profit.mean()),
                std_profit=float(run.profit.std(ddof=1)),
                final_q=float(run.final_q.mean()),
                std_final_q=float(run.final_q.std(ddof=1)),
            )
        )
    return rows[0], rows[1]


def published(gamma: float) -> tuple[Row, Row] | None:
    """The published rows for ``gamma`` (0.1, 0.01 or 1), or ``None`` if the paper has none."""
    for g, rows in PUBLISHED.items():
        if math.isclose(gamma, g, rel_tol=1e-9):
            return rows
    return None


def format_table(simulated: Sequence[Row], reference: Sequence[Row] | None = None) -> str:
    """A plain-text table of simulated rows, each followed by its published row if given."""
    header = (
        f"{'strategy':<10} {'source':<9} {'spread':>7} {'profit':>8} {'std(profit)':>12} "
        f"{'final q':>8} {'std(final q)':>13}"
    )
    lines = [header, "-" * len(header)]
    published_rows: Sequence[Row | None] = reference or [None] * len(simulated)
    for sim, pub in zip(simulated, published_rows, strict=True):
        for source, row in (("simulated", sim), ("published", pub)):
            if row is None:
                continue
            lines.append(
                f"{row.strategy:<10} {source:<9} {row.spread:>7.2f} {row.profit:>8.2f} "
                f"{row.std_profit:>12.2f} {row.final_q:>8.2f} {row.std_final_q:>13.2f}"
            )
    return "\n".join(lines)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number > 0")
    return value


def _int_at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r} must be an integer >= {minimum}")
        return value

    return parse


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    prog = "python -m baselines.as2008"
    parser = OneLineParser(
        prog=prog,
        fail=exit_with_error(prog),
        description="Reproduce the simulations of Avellaneda & Stoikov (2008), section 3.3.",
    )
    parser.add_argument(
        "--gamma", type=_positive_float, default=0.1, help="risk aversion (> 0; default 0.1)"
    )
    parser.add_argument(
        "--paths", type=_int_at_least(2), default=1000, help="number of paths (>= 2; default 1000)"
    )
    parser.add_argument(
        "--seed", type=_int_at_least(0), default=0, help="seed of the paths (>= 0; default 0)"
    )
    parser.add_argument(
        "--symmetric",
        choices=("average", "matched"),
        default="average",
        help="symmetric strategy's spread: the inventory strategy's time-average (the paper; "
        "default) or its spread at each time",
    )
    parser.add_argument(
        "--fill-model",
        choices=("linear", "poisson"),
        default="linear",
        help="per-step fill probability: min(1, lambda*dt) (the paper; default) or "
        "1 - exp(-lambda*dt)",
    )
    args = parser.parse_args(argv)
    config = preset("as2008").intensity
    rows = run_as2008(
        args.gamma,
        args.paths,
        args.seed,
        config=config,
        symmetric=args.symmetric,
        fill_model=args.fill_model,
    )
    reference = published(args.gamma)
    print(
        f"Avellaneda & Stoikov (2008) intensity model: gamma={args.gamma:g}, {args.paths} paths, "
        f"seed {args.seed} (s0={config.s0:g}, T={config.horizon:g}, sigma={config.sigma:g}, "
        f"dt={config.dt:g}, k={config.k:g}, A={config.A:g})"
    )
    print(format_table(rows, reference))
    if reference is None:
        known = ", ".join(f"{g:g}" for g in PUBLISHED)
        print(f"(the paper publishes results for gamma = {known} only)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
