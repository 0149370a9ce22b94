"""The realism report's command line: measure the presets, print the tables, write the files.

Usage::

    python -m mm_gym.realism [--preset P ...] [--markets N] [--steps T] [--burn-in B]
                             [--seed S] [--bootstrap B] [--out DIR] [--overwrite]

Each preset is run under the fixed-quotes protocol of :mod:`mm_gym.realism.measure`, its facts
estimated by :mod:`mm_gym.realism.facts` (pooled over markets, 95 % bootstrap CIs, pass/fail
against the targets of issue #12), printed and written by :mod:`mm_gym.realism.tables` and
:mod:`mm_gym.realism.plots`.

With ``--out DIR`` the report writes ``realism.csv``, ``realism.md`` and PNG plots into ``DIR``
through the output-folder protocol of :mod:`mm_gym.output_folder` (a new or empty folder, or with
``--overwrite`` a folder this tool wrote before: it carries the marker file :data:`MARKER`;
nothing else is ever deleted). The names of the other modules are re-exported here.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from mm_gym.cli import CliError, check_ranges, run_cli
from mm_gym.output_folder import FolderOwner, check_out_flag
from mm_gym.realism.facts import Fact, PresetResult, analyse, book_presets, cross_preset_facts
from mm_gym.realism.measure import estimate_bytes, measure_preset
from mm_gym.realism.plots import write_plots
from mm_gym.realism.tables import format_table, to_csv, to_markdown

__all__ = [
    "MARKER",
    "RANGES",
    "CliError",
    "Fact",
    "PresetResult",
    "analyse",
    "book_presets",
    "check_sample_memory",
    "cross_preset_facts",
    "format_table",
    "main",
    "measure",
    "run",
    "to_csv",
    "to_markdown",
    "write_files",
    "write_plots",
]

PROG = "python -m mm_gym.realism"
MARKER = ".mm_gym-realism"
"""Marker file in every output folder this tool writes (what ``--overwrite`` may delete)."""
OWNER = FolderOwner(PROG, MARKER, f"a {PROG} report")


RANGES = {
    "markets": (2, 1_000_000),
    "steps": (300, 100_000_000),
    "burn_in": (0, 100_000_000),
    "seed": (0, 2**62),
    "bootstrap": (10, 100_000),
}
"""The allowed range of each numeric setting, inclusive (``evaluate.py --realism`` uses it too)."""


def check_sample_memory(markets: int, steps: int, what: str) -> None:
    """Refuse a sample whose series would not fit in the memory available (one line)."""
    from mm_gym.files import MemoryLimitError, check_memory

    try:
        check_memory(estimate_bytes(markets, steps), what)
    except MemoryLimitError as exc:
        raise CliError(str(exc)) from None


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise CliError(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG, description="Measure the stylized facts of the book presets.", allow_abbrev=False
    )
    p.add_argument(
        "--preset",
        nargs="+",
        action="extend",
        metavar="P",
        help="book presets to measure (default: all)",
    )
    p.add_argument("--markets", type=int, default=256, help="markets per preset (default 256)")
    p.add_argument(
        "--steps",
        type=int,
        default=5000,
        help="recorded steps per market after the burn-in (default 5000)",
    )
    p.add_argument("--burn-in", type=int, default=500, help="steps discarded first (default 500)")
    p.add_argument("--seed", type=int, default=0, help="seed of market 0 (default 0)")
    p.add_argument("--bootstrap", type=int, default=500, help="bootstrap resamples (default 500)")
    p.add_argument("--out", help="write realism.csv, realism.md and plots into this folder")
    p.add_argument(
        "--overwrite", action="store_true", help="replace --out if this tool wrote it before"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override applied to every preset, dotted keys (e.g. price_formation=book, "
        "formation.queue_ref_lots=8); repeatable",
    )
    return p


def _parse_value(text: str) -> Any:
    """An override value: true/false, an int, a float, else the string."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _overrides(items: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CliError(f"--override {item!r} must be KEY=VALUE")
        out[key.strip()] = _parse_value(value)
    return out


def _validate(args: argparse.Namespace) -> list[str]:
    book = book_presets()
    presets = list(dict.fromkeys(args.preset or book))
    for p in presets:
        if p not in book:
            raise CliError(f"--preset {p!r} is not a book preset: choose from {book}")
    check_ranges(args, RANGES)
    check_sample_memory(args.markets, args.steps, f"--markets {args.markets} --steps {args.steps}")
    if args.out is not None:
        check_out_flag(Path(args.out), args.overwrite, OWNER)
    return presets


def _publish(results: Sequence[PresetResult], out: Path, overwrite: bool, command: str) -> None:
    """Write everything into a temporary folder, then move it into place (output_folder)."""
    from mm_gym.output_folder import PACKAGE_ROOT, prepare_output, publish

    with prepare_output(str(out), overwrite, PACKAGE_ROOT, OWNER) as output:
        write_files(results, output.tmp, command)
        publish(output)


def write_files(results: Sequence[PresetResult], folder: Path, command: str) -> list[str]:
    """Write ``realism.csv``, ``realism.md`` and the plots into the existing ``folder``.

    Each file is written atomically; the caller owns the folder (``--out`` here, the export's
    ``realism/`` in ``evaluate.py --realism``). Returns the names written.
    """
    from mm_gym.files import atomic_write_text

    atomic_write_text(folder / "realism.csv", to_csv(results))
    atomic_write_text(folder / "realism.md", to_markdown(results, command))
    return ["realism.csv", "realism.md", *write_plots(results, folder)]


def _configs(presets: Sequence[str], items: Sequence[str]) -> dict[str, Any]:
    """The presets' configs with the ``--override`` items applied."""
    from mm_gym.config import ConfigError, preset, with_overrides

    overrides = _overrides(items)
    configs = {}
    for p in presets:
        try:
            configs[p] = with_overrides(preset(p), overrides)
        except ConfigError as exc:
            raise CliError(f"--override: {exc}") from None
        if configs[p].fills != "book":  # the simulator would refuse it with a traceback
            raise CliError(
                f"--override fills={configs[p].fills!r}: the report measures the order book; "
                "choose 'book'"
            )
    return configs


def measure(
    configs: Mapping[str, Any],
    markets: int = 256,
    steps: int = 5000,
    burn_in: int = 500,
    seed: int = 0,
    bootstrap: int = 500,
    progress: bool = True,
) -> list[PresetResult]:
    """Measure and analyse each preset in turn (one preset's series in memory at a time).

    Args:
        configs: Preset name -> its :class:`~mm_gym.config.MarketConfig` (a book market).
        markets: Markets per preset (``--markets``).
        steps: Steps recorded per market after the burn-in (``--steps``).
        burn_in: Steps run and discarded first (``--burn-in``).
        seed: Seed of market 0 (``--seed``); also seeds the bootstrap.
        bootstrap: Bootstrap resamples for the 95 % CIs (``--bootstrap``).
        progress: Show a tqdm bar over the simulated steps (the analysis is named on it).

    Returns:
        One :class:`PresetResult` per preset, with the cross-preset facts filled in.
    """
    from tqdm import tqdm

    results: list[PresetResult] = []
    total = len(configs) * (burn_in + steps)
    with tqdm(total=total, unit="step", disable=None if progress else True) as bar:
        for p, config in configs.items():
            bar.set_description(p)
            meas = measure_preset(p, config, markets, steps, burn_in, seed, progress=bar.update)
            bar.set_description(f"{p} (analysis)")
            results.append(analyse(meas, bootstrap, seed))
            del meas
    cross_preset_facts(results)
    return results


def run(argv: Sequence[str] | None = None) -> list[PresetResult]:
    """Parse ``argv``, measure, print the tables, write the files; return the results.

    Raises:
        CliError: On bad input (before anything is simulated) or an unwritable ``--out``.
    """
    args = _parser().parse_args(argv)
    presets = _validate(args)
    results = measure(
        _configs(presets, args.override), args.markets, args.steps, args.burn_in, args.seed,
        args.bootstrap, progress=not args.no_progress,
    )  # fmt: skip
    for r in results:
        print(format_table(r))
        print()
    if args.out is not None:
        command = " ".join([PROG, *(argv if argv is not None else sys.argv[1:])])
        _publish(results, Path(args.out), args.overwrite, command)
        print(f"wrote {os.fspath(args.out)}")
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """The CLI entry point; returns the exit code (2 on a user error)."""
    return run_cli(run, argv, PROG)
