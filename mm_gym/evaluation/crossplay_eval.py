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

``evaluate.py --env-id mm_gym/MultiVenue-v0 --cross-play A B ...`` plays the same matrix on the
multi-venue market (:func:`evaluate_cross_play_venues`; each regime is the asset's preset):
the entries are multi-venue baselines (:data:`baselines.multivenue.MULTIVENUE_BASELINES`) and
runs trained on that env; ``--horizon`` and ``--env-kwargs`` (e.g. ``venues=[...]``) set the
market. The same files, ``run.json`` recording ``env_id``. A single-venue entry there, a
multi-venue one on the single-venue market and ``--env-id mm_gym/Portfolio-v0`` are one-line
errors before the output folder is made (:mod:`mm_gym.evaluation.crossplay_envs`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from mm_gym.cli import CliError
from mm_gym.config import ConfigError
from mm_gym.evaluation.crossplay_envs import (
    SINGLE_VENUE_ENV_ID,
    baseline_factory,
    check_crossplay_env_id,
)
from mm_gym.policy import QuotingPolicy

__all__ = [
    "crossplay_factories",
    "evaluate_cross_play",
    "evaluate_cross_play_venues",
    "run_crossplay",
]

Factory = Callable[[str, Mapping[str, Any]], QuotingPolicy]
"""``(preset, overrides) -> a fresh policy``."""


def crossplay_factories(
    specs: Sequence[str],
    preset: str,
    env_id: str = SINGLE_VENUE_ENV_ID,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Factory]:
    """The policies of ``--cross-play``, by name; one-line :class:`CliError` on a bad entry.

    Args:
        specs: Baseline names and run folders.
        preset: A regime's preset (runs are checked against its features before any play).
        env_id: The market played (:mod:`~mm_gym.evaluation.crossplay_envs`): its baselines
            only, and runs trained on it.
        overrides: The env overrides the runs are checked with (None: none).
    """
    from baselines.multivenue import MULTIVENUE_BASELINES
    from baselines.registry import BASELINE_NAMES
    from mm_gym.evaluation.crossplay import add_contestants, run_contestants

    if len(specs) < 1:
        raise CliError("--cross-play needs at least one policy: baseline names or run folders")
    names = (*BASELINE_NAMES, *MULTIVENUE_BASELINES)
    table: dict[str, Factory] = {}
    for spec in specs:
        where = f"--cross-play {spec}"
        if spec in names and not Path(spec).is_dir():
            try:
                add_contestants(table, {spec: baseline_factory(spec, env_id, where)}, where)
            except ConfigError as exc:
                raise CliError(str(exc)) from None
        elif Path(spec).is_dir():
            runs = run_contestants(spec, preset, "--cross-play", env_id, overrides)
            add_contestants(table, {n: _ignoring_preset(f) for n, f in runs.items()}, where)
        elif "/" in spec or spec.startswith("."):
            raise CliError(f"{where}: no such run folder")
        else:
            baselines = MULTIVENUE_BASELINES if env_id != SINGLE_VENUE_ENV_ID else BASELINE_NAMES
            raise CliError(
                f"{where}: {spec!r} is neither a run folder nor a baseline; baselines: "
                f"{', '.join(baselines)}"
            )
    return table


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
    env_id: str = SINGLE_VENUE_ENV_ID,
) -> None:
    """Play the cross-play of ``specs`` in each regime and write the export into ``tmp``.

    ``specs`` must have been checked by :func:`crossplay_factories` (for the first regime) so
    that bad input fails before the output folder is made. ``env_id``: the market played
    (:mod:`~mm_gym.evaluation.crossplay_envs`); a multi-venue one is named in ``run.json`` and
    the report.
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
    multi = env_id != SINGLE_VENUE_ENV_ID
    for regime in regimes:
        preset = setting_preset(regime)
        table = crossplay_factories(specs, preset, env_id, overrides if multi else None)
        names = list(table)
        plays = {n: partial(f, preset, overrides) for n, f in table.items()}
        started = time.perf_counter()
        with tqdm(total=len(plays) ** 2 * episodes, unit="episode", disable=not progress,
                  desc=f"cross-play {regime}") as bar:  # fmt: skip
            eps = cross_play(plays, preset, overrides, n_episodes=episodes, seed=seed,
                             batch_size=batch_size, progress=bar.update, env_id=env_id)  # fmt: skip
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
    if multi:  # the single-venue export's files are as they were before env_id
        setup.insert(0, ("env", env_id))
    write_crossplay_report(tmp / "report.pdf", title="mm_gym cross-play", setup=setup,
                           sections=sections)  # fmt: skip
    meta = {"command": command, "regimes": list(regimes), "policies": names,
            "episodes": episodes, "seed": seed, "seeds_first_10": seeds[:10],
            "seconds": seconds}  # fmt: skip
    if multi:
        meta = {"env_id": env_id, **meta}
    atomic_write_text(tmp / "run.json", json.dumps(meta, indent=2) + "\n")


def evaluate_cross_play(
    args: Any,
    regimes: Sequence[str],
    overrides: Mapping[str, Any],
    root: Path,
    env_id: str = SINGLE_VENUE_ENV_ID,
) -> int:
    """``evaluate.py --cross-play``: check the policies, then :func:`run_crossplay` into ``--out``.

    ``args`` is ``evaluate.py``'s settings; ``root`` the folder never written to (its
    repository); ``env_id`` the market played. Bad input raises :class:`CliError` before the
    output folder is made.
    """
    from mm_gym.cli import changed_flags
    from mm_gym.config import setting_preset
    from mm_gym.output_folder import prepare_output, publish, written

    _refuse_tournament_flags(args)
    checked = overrides if env_id != SINGLE_VENUE_ENV_ID else None
    crossplay_factories(args.cross_play, setting_preset(regimes[0]), env_id, checked)
    with prepare_output(args.out, args.overwrite, root) as output:
        run_crossplay(
            args.cross_play, regimes, overrides, output.tmp, episodes=args.episodes,
            seed=args.seed, batch_size=args.batch_size, progress=args.progress,
            command=f"evaluate.py {' '.join(changed_flags(args))}", env_id=env_id,
        )  # fmt: skip
        publish(output)
    print(f"\n{written(output.out)}")
    return 0


def evaluate_cross_play_venues(args: Any, root: Path) -> int:
    """``evaluate.py --env-id mm_gym/MultiVenue-v0 --cross-play ...`` (module docstring).

    ``--regimes`` are the asset's presets; ``--horizon`` and ``--env-kwargs`` the env's
    overrides. Portfolio-v0, ``--news-model`` and the tournament's flags are refused, each
    in one :class:`CliError` line, before anything is played or written.
    """
    from mm_gym.evaluation.venues import venue_regimes

    try:
        env_id = check_crossplay_env_id(args.env_id)
    except ConfigError as exc:
        raise CliError(f"--env-id: {exc}") from None
    if env_id == SINGLE_VENUE_ENV_ID:
        raise CliError(
            f"--env-id {env_id}: the single-venue cross-play is evaluate.py --cross-play without "
            "--env-id (--regimes chooses its markets)"
        )
    if args.news_model != "none":
        raise CliError(f"--news-model is not available with --env-id {env_id} (one book only)")
    regimes = venue_regimes(args.regimes, env_id)
    overrides = dict(args.env_kwargs)
    if args.horizon:
        overrides["horizon_steps"] = args.horizon
    try:  # every key and value checked on one market of each regime, before anything plays
        from mm_gym.evaluation.crossplay_envs import two_maker_env

        for regime in regimes:
            two_maker_env(env_id, 1, regime, overrides)
    except (ConfigError, TypeError, ValueError) as exc:
        raise CliError(f"--horizon / --env-kwargs: {' '.join(str(exc).split())}") from None
    return evaluate_cross_play(args, regimes, overrides, root, env_id)


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
