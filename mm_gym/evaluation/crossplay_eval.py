"""``evaluate.py --cross-play A B ...``: the cross-play matrix as an evaluate.py export (issue #17).

Each entry is a baseline of the registry, by name, or a trained run folder (a two-learner run,
``train.py --learners mm1,mm2``, gives both of its learners, ``<run>.mm1`` and ``<run>.mm2``).
In each regime of ``--regimes``, every policy plays as mm1 against every policy as mm2
(:func:`~mm_gym.evaluation.crossplay.cross_play`: every pair on the same ``--episodes``
evaluation seeds of ``--seed``; baselines calibrated with the run's overrides, as in the
tournament), and the export folder receives:

    crossplay/<regime>/matrix.csv     every pair: both seats' mean episode reward and PnL with
                                      95 % bootstrap CIs
    crossplay/<regime>/episodes.csv   one row per pair and episode
    plots/crossplay_<regime>.png      heatmap of mm1's mean episode PnL
    report.pdf                        cover, then one page per regime: the matrix and its heatmap
    run.json                          the arguments, the policies, the seeds and the timings

A policy's diagonal cell is a tournament of it against itself on the same seeds (``evaluate.py
--contestants P --rival P``; tested).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from mm_gym.cli import CliError
from mm_gym.policy import QuotingPolicy

__all__ = ["crossplay_factories", "evaluate_cross_play", "run_crossplay"]

Factory = Callable[[str, Mapping[str, Any]], QuotingPolicy]
"""``(preset, overrides) -> a fresh policy``."""


def crossplay_factories(specs: Sequence[str], preset: str) -> dict[str, Factory]:
    """The policies of ``--cross-play``, by name; one-line :class:`CliError` on a bad entry.

    Args:
        specs: Baseline names and run folders.
        preset: A regime's preset (runs are checked against its features before any play).
    """
    from baselines.registry import BASELINE_NAMES, make_policy
    from mm_gym.evaluation.crossplay import add_contestants, run_contestants

    if len(specs) < 1:
        raise CliError("--cross-play needs at least one policy: baseline names or run folders")
    table: dict[str, Factory] = {}
    for spec in specs:
        where = f"--cross-play {spec}"
        if spec in BASELINE_NAMES and not Path(spec).is_dir():
            add_contestants(table, {spec: _baseline(make_policy, spec)}, where)
        elif Path(spec).is_dir():
            runs = run_contestants(spec, preset, "--cross-play")
            add_contestants(table, {n: _ignoring_preset(f) for n, f in runs.items()}, where)
        elif "/" in spec or spec.startswith("."):
            raise CliError(f"{where}: no such run folder")
        else:
            raise CliError(
                f"{where}: {spec!r} is neither a run folder nor a baseline; baselines: "
                f"{', '.join(BASELINE_NAMES)}"
            )
    return table


def _baseline(make_policy: Callable[..., QuotingPolicy], name: str) -> Factory:
    return lambda preset, overrides: make_policy(name, preset, dict(overrides))


def _ignoring_preset(factory: Callable[[], QuotingPolicy]) -> Factory:
    return lambda preset, overrides: factory()


def run_crossplay(
    specs: Sequence[str],
    regimes: Sequence[str],
    overrides: Mapping[str, Any],
    tmp: Path,
    *,
    episodes: int,
    seed: int,
    batch_size: int,
    progress: bool,
    command: str,
) -> None:
    """Play the cross-play of ``specs`` in each regime and write the export into ``tmp``.

    ``specs`` must have been checked by :func:`crossplay_factories` (for the first regime) so
    that bad input fails before the output folder is made.
    """
    from tqdm import tqdm

    from mm_gym.config import setting_preset
    from mm_gym.evaluation import evaluation_seeds, safe_name
    from mm_gym.evaluation.crossplay import (
        cross_play,
        crossplay_figure,
        crossplay_matrix,
        format_matrix,
    )
    from mm_gym.evaluation.export import csv_text
    from mm_gym.evaluation.figures import write_figures
    from mm_gym.evaluation.report import write_crossplay_report
    from mm_gym.files import atomic_write_text

    sections, figs, seconds, names = [], {}, {}, []
    for regime in regimes:
        preset = setting_preset(regime)
        table = crossplay_factories(specs, preset)
        names = list(table)
        plays = {n: partial(f, preset, overrides) for n, f in table.items()}
        started = time.perf_counter()
        with tqdm(total=len(plays) ** 2 * episodes, unit="episode", disable=not progress,
                  desc=f"cross-play {regime}") as bar:  # fmt: skip
            eps = cross_play(plays, preset, overrides, n_episodes=episodes, seed=seed,
                             batch_size=batch_size, progress=bar.update)  # fmt: skip
        seconds[regime] = round(time.perf_counter() - started, 2)
        matrix = crossplay_matrix(eps, seed=seed)
        text = format_matrix(matrix)
        print(f"\n== cross-play, {regime}: mm1's mean episode PnL [95% CI], rows mm1's policy, "
              f"columns mm2's ==\n{text}")  # fmt: skip
        folder = tmp / "crossplay" / safe_name(regime)
        atomic_write_text(folder / "matrix.csv", csv_text(matrix))
        atomic_write_text(folder / "episodes.csv", csv_text(eps))
        figs[f"crossplay_{safe_name(regime)}"] = fig = crossplay_figure(matrix)
        sections.append((f"Cross-play: {regime}", text, fig))
    write_figures(tmp, figs)
    seeds = [int(s) for s in evaluation_seeds(episodes, seed)]
    setup = [("regimes", ", ".join(regimes)), ("policies", ", ".join(names)),
             ("episodes per pair", str(episodes)), ("seed", f"{seed} (first seeds {seeds[:5]})"),
             ("command", command)]  # fmt: skip
    write_crossplay_report(tmp / "report.pdf", title="mm_gym cross-play", setup=setup,
                           sections=sections)  # fmt: skip
    meta = {"command": command, "regimes": list(regimes), "policies": names,
            "episodes": episodes, "seed": seed, "seeds_first_10": seeds[:10],
            "seconds": seconds}  # fmt: skip
    atomic_write_text(tmp / "run.json", json.dumps(meta, indent=2) + "\n")


def evaluate_cross_play(
    args: Any, regimes: Sequence[str], overrides: Mapping[str, Any], root: Path
) -> int:
    """``evaluate.py --cross-play``: check the policies, then :func:`run_crossplay` into ``--out``.

    ``args`` is ``evaluate.py``'s settings; ``root`` the folder never written to (its
    repository). Bad input raises :class:`CliError` before the output folder is made.
    """
    from mm_gym.cli import changed_flags
    from mm_gym.config import setting_preset
    from mm_gym.output_folder import prepare_output, publish, written

    _refuse_tournament_flags(args)
    crossplay_factories(args.cross_play, setting_preset(regimes[0]))
    with prepare_output(args.out, args.overwrite, root) as output:
        run_crossplay(
            args.cross_play, regimes, overrides, output.tmp, episodes=args.episodes,
            seed=args.seed, batch_size=args.batch_size, progress=args.progress,
            command=f"evaluate.py {' '.join(changed_flags(args))}",
        )  # fmt: skip
        publish(output)
    print(f"\n{written(output.out)}")
    return 0


def _refuse_tournament_flags(args: Any) -> None:
    """The tournament's flags, which the cross-play matrix would ignore: one-line CliError."""
    for flag, given in (
        ("--contestants", args.contestants != "all"),
        ("--runs", args.runs not in ("auto", "none")),
        ("--rival", args.rival != "builtin"),
        ("--scenarios", args.scenarios),
        ("--realism", args.realism),
        ("--ray", bool(args.ray)),
    ):
        if given:
            raise CliError(f"{flag} is not available with --cross-play (it plays its POLICY list)")
