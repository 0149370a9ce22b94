"""How informative each model's headline scores are: ``python -m mm_gym.news --report``.

Usage::

    python -m mm_gym.news --report [--model vader lm] [--buckets B] [--per-bucket N]
                                   [--seed S] [--examples K] [--cache-dir DIR]

For each model it builds the bank in memory (timed), loads it through the cache twice (the first
call stores it if it is missing, the second is a cache hit; both timed) and prints:

- ``rho``: Pearson correlation of a headline's score with the sentiment it was written at, over
  all ``B * N`` headlines (the buckets cover [-1, 1] evenly, so ``s`` is uniform on the centres);
- ``rho5``: the same for the mean of 5 headlines of one bucket, a rough stand-in for the decaying
  average of headline scores the market will observe (which the kernel does not compute yet);
- ``zero``: the share of headlines scored exactly 0 (no word the lexicon knows, or a balance);
- the mean score per bucket, and ``K`` example headlines with both scores for a few buckets.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mm_gym.config import ConfigError
from mm_gym.news.bank import (
    DEFAULT_N_BUCKETS,
    DEFAULT_N_PER_BUCKET,
    HeadlineBank,
    build_bank,
    load_bank,
)
from mm_gym.news.scoring import MODELS

__all__ = ["BankFigures", "main", "measure_bank"]

PROG = "python -m mm_gym.news"
AVERAGE_OF = 5
"""Headlines per average in :attr:`BankFigures.rho_average`."""


@dataclass(frozen=True)
class BankFigures:
    """What :func:`measure_bank` measures on a bank.

    Attributes:
        rho: Correlation of a headline's score with its bucket's centre, over all headlines.
        rho_average: The same for means of :data:`AVERAGE_OF` consecutive headlines of a bucket
            (NaN if ``N < AVERAGE_OF``).
        zero_share: Share of headlines scored exactly 0.
        mean_by_bucket: Mean score of each bucket.
    """

    rho: float
    rho_average: float
    zero_share: float
    mean_by_bucket: np.ndarray


def measure_bank(bank: HeadlineBank) -> BankFigures:
    """Correlation of scores with the latent sentiment, share of zeros, means per bucket."""
    scores = bank.scores
    s = np.repeat(bank.centres, bank.n_per_bucket)
    rho = float(np.corrcoef(s, scores.ravel())[0, 1])
    groups = bank.n_per_bucket // AVERAGE_OF
    if groups:
        means = scores[:, : groups * AVERAGE_OF].reshape(bank.n_buckets, groups, AVERAGE_OF)
        avg = means.mean(axis=2)
        rho_avg = float(np.corrcoef(np.repeat(bank.centres, groups), avg.ravel())[0, 1])
    else:
        rho_avg = float("nan")
    return BankFigures(rho, rho_avg, float(np.mean(scores == 0.0)), scores.mean(axis=1))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0], allow_abbrev=False)
    p.add_argument("--report", action="store_true", help="print the figures of each model")
    p.add_argument("--model", nargs="+", default=list(MODELS), help=f"models, of {list(MODELS)}")
    p.add_argument("--buckets", type=int, default=DEFAULT_N_BUCKETS, help="sentiment buckets B")
    p.add_argument(
        "--per-bucket", type=int, default=DEFAULT_N_PER_BUCKET, help="headlines per bucket N"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the headline text")
    p.add_argument("--examples", type=int, default=2, help="example headlines per shown bucket")
    p.add_argument(
        "--cache-dir", default=None, help="bank cache folder (default $MM_GYM_CACHE/news or "
        "~/.cache/mm_gym/news)"
    )  # fmt: skip
    return p


def run(argv: Sequence[str] | None = None) -> None:
    """Parse ``argv`` and print the report (raises ConfigError / ImportError on bad input)."""
    args = _parser().parse_args(argv)
    if not args.report:
        _parser().error("nothing to do: pass --report")
    banks: dict[str, HeadlineBank] = {}
    for model in args.model:
        t0 = time.perf_counter()
        build_bank(model, args.buckets, args.per_bucket, args.seed)
        built = time.perf_counter() - t0
        t0 = time.perf_counter()
        first = load_bank(model, args.buckets, args.per_bucket, args.seed, args.cache_dir)
        first_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        bank = load_bank(model, args.buckets, args.per_bucket, args.seed, args.cache_dir)
        hit = time.perf_counter() - t0
        banks[model] = bank
        f = measure_bank(bank)
        print(
            f"{model}: rho {f.rho:.3f}  rho{AVERAGE_OF} {f.rho_average:.3f}  zero "
            f"{f.zero_share:.1%}  | build {built:.2f} s, first load_bank {first_s:.2f} s "
            f"({'cache hit' if first.from_cache else 'built and stored'}), cache hit "
            f"{hit * 1e3:.1f} ms  | {bank.path}"
        )
        means = " ".join(f"{m:+.2f}" for m in f.mean_by_bucket)
        print(f"  mean score by bucket (s from -1 to 1): {means}")
    first_bank = next(iter(banks.values()))
    shown = sorted({0, first_bank.n_buckets // 4, first_bank.n_buckets // 2,
                    3 * first_bank.n_buckets // 4, first_bank.n_buckets - 1})  # fmt: skip
    print("examples (" + ", ".join(banks) + "):")
    for b in shown:
        for j in range(min(args.examples, first_bank.n_per_bucket)):
            scores = " ".join(f"{bank.scores[b, j]:+.2f}" for bank in banks.values())
            print(f"  s={first_bank.centres[b]:+.2f} [{scores}] {first_bank.text(b, j)}")


def main(argv: Sequence[str] | None = None) -> int:
    """The CLI entry point; returns the exit code (2 on a user error)."""
    try:
        run(argv)
    except (ConfigError, ImportError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    return 0
