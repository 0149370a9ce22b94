"""Cross-play: every policy as mm1 against every policy as mm2, on the same seeds (issue #17).

``python -m mm_gym.evaluation.crossplay --contestants fixed_spread avellaneda_stoikov --runs
runs/a runs/b`` plays each ordered pair (mm1 policy, mm2 policy) for ``--episodes`` episodes of
one market preset, both makers quoting through
:class:`~mm_gym.envs.two_makers.TwoMakerVectorEnv` (no built-in rival), every pair on the same
evaluation seeds (:func:`~mm_gym.evaluation.settings.evaluation_seeds`), so the cells of the
matrix differ only by the policies. It prints the matrix of mm1's mean episode PnL with 95 %
bootstrap intervals, and writes ``episodes.csv`` (one row per pair and episode, both makers'
reward and PnL), ``matrix.csv`` (every pair: both seats' mean reward and PnL with intervals)
and ``plots/crossplay.png`` (the heatmap) into ``--out`` (default
``exports/crossplay/<time>``), published only when complete.

``--env-id mm_gym/MultiVenue-v0`` plays the same matrix on the multi-venue market (issue #15):
both makers quote every venue through
:class:`~mm_gym.multivenue.MultiVenueTwoMakerVectorEnv`, the contestants are the multi-venue
baselines (:data:`baselines.multivenue.MULTIVENUE_BASELINES`, default ``routed_as
everywhere_as``) and runs trained on that env (a two-learner run, ``train.py --env-id
mm_gym/MultiVenue-v0 --learners mm1,mm2``, gives both learners). A contestant of the other
market, or Portfolio-v0, is refused in one line before any play
(:mod:`mm_gym.evaluation.crossplay_envs`).

A policy facing itself plays two copies (no shared state). Each policy gets its own generator
per pair, seat and batch (a function of ``--seed``, the preset, the pair, the seat and, on a
multi-venue env, the env id), so a result does not depend on which other pairs were played.
"""

from __future__ import annotations

import sys
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pandas as pd

from mm_gym.cli import CliError, OneLineParser, add_export_flags, check_ranges, run_cli
from mm_gym.config import ConfigError
from mm_gym.evaluation.crossplay_envs import (
    SINGLE_VENUE_ENV_ID,
    baseline_factory,
    check_contestant,
    check_crossplay_env_id,
    is_multi_venue,
    two_maker_env,
    venue_count,
)
from mm_gym.output_folder import FolderOwner, check_out_flag, export_folder, write_export
from mm_gym.policy import QuotingPolicy

__all__ = [
    "add_contestants",
    "cross_play",
    "crossplay_figure",
    "crossplay_matrix",
    "main",
    "run",
    "run_contestants",
]

PROG = "python -m mm_gym.evaluation.crossplay"
MARKER = ".mm_gym-crossplay"
"""Marker file in every output folder of this tool (what ``--overwrite`` may replace)."""
OWNER = FolderOwner(PROG, MARKER, f"a {PROG} output")
SEATS = ("mm1", "mm2")
VALUES = ("reward", "pnl")
"""Per-episode values recorded for each seat (``mm1_reward``, ``mm2_pnl``, ...)."""


def _rng(seed: int, preset: str, pair: tuple[str, str], seat: int, batch: int, env_id: str) -> Any:
    key = [int(seed), zlib.crc32(preset.encode()), zlib.crc32("|".join(pair).encode())]
    if env_id != SINGLE_VENUE_ENV_ID:  # the single-venue key predates env_id: kept as it was
        key.append(zlib.crc32(env_id.encode()))
    return np.random.default_rng([*key, seat, batch])


def _made(factory: Callable[[], QuotingPolicy], name: str) -> QuotingPolicy:
    policy = factory()
    if not isinstance(policy, QuotingPolicy):
        raise ConfigError(f"contestant {name!r}: its factory returned {policy!r}, not a policy")
    return policy


def cross_play(
    contestants: Mapping[str, Callable[[], QuotingPolicy]],
    preset: str = "default",
    overrides: Mapping[str, Any] | None = None,
    *,
    n_episodes: int = 200,
    seed: int = 0,
    batch_size: int = 256,
    progress: Callable[[int], Any] | None = None,
    env_id: str = SINGLE_VENUE_ENV_ID,
) -> pd.DataFrame:
    """Play every ordered pair of ``contestants`` (mm1, mm2) on the same episode seeds.

    Args:
        contestants: Name -> factory of a fresh :class:`~mm_gym.policy.QuotingPolicy`.
        preset: Book market preset (on a multi-venue env, the asset's).
        overrides: Environment / market overrides (as ``gym.make`` keywords).
        n_episodes: Episodes per pair, >= 1.
        seed: Master seed (the evaluation seeds and the policies' generators), >= 0.
        batch_size: Markets stepped together, >= 1.
        progress: Called with the number of episodes of each batch played.
        env_id: :data:`~mm_gym.evaluation.crossplay_envs.SINGLE_VENUE_ENV_ID` (default:
            :class:`~mm_gym.envs.two_makers.TwoMakerVectorEnv`) or ``mm_gym/MultiVenue-v0``
            (:class:`~mm_gym.multivenue.MultiVenueTwoMakerVectorEnv`; multi-venue contestants).

    Returns:
        One row per pair and episode: ``mm1``, ``mm2`` (the policies), ``episode``, ``seed``,
        ``mm1_reward``, ``mm2_reward``, ``mm1_pnl``, ``mm2_pnl`` (episode sums; PnL in
        currency, marked at the last mid).

    Raises:
        ConfigError: Before any play: no contestants, a bad ``batch_size``, an ``env_id``
            cross-play does not play (Portfolio-v0 among them), or a contestant that cannot
            quote its market (:func:`~mm_gym.evaluation.crossplay_envs.check_contestant`).
    """
    from mm_gym.evaluation.settings import evaluation_seeds

    if not contestants:
        raise ConfigError("cross_play: no contestants")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size={batch_size!r} must be an integer >= 1")
    env_id = check_crossplay_env_id(env_id)
    venues = venue_count(two_maker_env(env_id, 1, preset, overrides))
    for name, factory in contestants.items():  # every contestant checked before any play
        check_contestant(_made(factory, name), name, env_id, venues)
    seeds = evaluation_seeds(n_episodes, seed)
    frames = []
    for a in contestants:
        for b in contestants:
            for batch, start in enumerate(range(0, n_episodes, batch_size)):
                chunk = seeds[start : start + batch_size]
                env = two_maker_env(env_id, len(chunk), preset, overrides)
                p1, p2 = _made(contestants[a], a), _made(contestants[b], b)
                p1.reset(_rng(seed, preset, (a, b), 0, batch, env_id), env.policy_context("mm1"))
                p2.reset(_rng(seed, preset, (a, b), 1, batch, env_id), env.policy_context("mm2"))
                sums = _play(env, chunk, p1, p2)
                if progress is not None:
                    progress(len(chunk))
                frame = pd.DataFrame(
                    {"mm1": a, "mm2": b, "episode": np.arange(start, start + len(chunk))}
                )
                frame["seed"] = chunk
                for k, seat in enumerate(SEATS):
                    for value in VALUES:
                        frame[f"{seat}_{value}"] = sums[value][:, k]
                frames.append(frame)
    return pd.DataFrame(pd.concat(frames, ignore_index=True))


def _play(
    env: Any,
    seeds: np.ndarray,
    p1: QuotingPolicy,
    p2: QuotingPolicy,
) -> dict[str, np.ndarray]:
    """One episode of every market of ``env``; both makers' reward and final PnL ``(n, 2)``."""
    n = env.num_markets
    obs, _ = env.reset(seed=[int(s) for s in seeds])
    reward = np.zeros((n, 2))
    pnl = np.zeros((n, 2))
    live = np.ones(n, np.bool_)
    # a bid and an ask per venue (one venue: 2 columns)
    actions = np.empty((2 * n, env.single_action_space.shape[0]))
    while live.any():
        actions[0::2] = p1.act(obs[0::2])
        actions[1::2] = p2.act(obs[1::2])
        obs, r, terminated, truncated, info = env.step(actions)
        step = r.reshape(n, 2)
        reward[live] += step[live]
        pnl[live] = info["pnl"].reshape(n, 2)[live]
        live &= ~(terminated | truncated)[0::2]
    return {"reward": reward, "pnl": pnl}


def crossplay_matrix(
    episodes: pd.DataFrame, *, n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> pd.DataFrame:
    """Every pair's mean per-episode value of both seats, with percentile bootstrap intervals.

    Columns: ``mm1``, ``mm2``, ``episodes``, then for each of ``mm1_reward``, ``mm2_reward``,
    ``mm1_pnl``, ``mm2_pnl`` its ``<value>_mean``, ``<value>_low`` and ``<value>_high``.
    """
    from mm_gym.metrics.stats import bootstrap_ci

    rng = np.random.default_rng(seed)
    rows = []
    for (a, b), group in episodes.groupby(["mm1", "mm2"], sort=False):
        row: dict[str, Any] = {"mm1": a, "mm2": b, "episodes": len(group)}
        for seat in SEATS:
            for value in VALUES:
                col = f"{seat}_{value}"
                x = group[col].to_numpy(float)
                if x.size >= 2:
                    ci = bootstrap_ci(x, n_boot, level, rng)
                    row.update({f"{col}_mean": ci[0], f"{col}_low": ci[1], f"{col}_high": ci[2]})
                else:
                    row.update({f"{col}_mean": float(x.mean()), f"{col}_low": np.nan})
                    row[f"{col}_high"] = np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def _grid(matrix: pd.DataFrame, column: str) -> pd.DataFrame:
    names = list(dict.fromkeys(matrix["mm1"]))
    return matrix.pivot(index="mm1", columns="mm2", values=column).loc[names, names]


def crossplay_figure(matrix: pd.DataFrame, value: str = "mm1_pnl") -> Any:
    """A heatmap of ``<value>_mean`` (rows: mm1's policy, columns: mm2's), cells annotated."""
    from matplotlib.figure import Figure

    grid = _grid(matrix, f"{value}_mean")
    names = list(grid.index)
    fig = Figure(figsize=(1.6 + 1.3 * len(names), 1.2 + 1.0 * len(names)))
    ax = fig.add_subplot()
    data = grid.to_numpy(float)
    bound = float(np.nanmax(np.abs(data))) or 1.0
    im = ax.imshow(data, cmap="RdBu", vmin=-bound, vmax=bound)
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("mm2's policy")
    ax.set_ylabel("mm1's policy")
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(j, i, f"{data[i, j]:.1f}", ha="center", va="center", fontsize=8)
    fig.colorbar(im, ax=ax, label=f"{value.replace('_', ' ')} per episode (mean)")
    ax.set_title("Cross-play: mm1's mean episode " + value.split("_", 1)[1])
    fig.tight_layout()
    return fig


def format_matrix(matrix: pd.DataFrame, value: str = "mm1_pnl") -> str:
    """The matrix of ``<value>`` means with intervals as aligned text (rows mm1, columns mm2)."""
    names = list(dict.fromkeys(matrix["mm1"]))
    cell = {
        (r.mm1, r.mm2): f"{getattr(r, f'{value}_mean'):.1f} [{getattr(r, f'{value}_low'):.1f}, "
        f"{getattr(r, f'{value}_high'):.1f}]"
        for r in matrix.itertuples()
    }
    width = max(24, *(len(c) + 2 for c in cell.values()), *(len(n) + 2 for n in names))
    first = max(len("mm1 \\ mm2"), *(len(n) for n in names)) + 2
    lines = ["mm1 \\ mm2".ljust(first) + "".join(n.rjust(width) for n in names)]
    for a in names:
        lines.append(a.ljust(first) + "".join(cell[(a, b)].rjust(width) for b in names))
    return "\n".join(lines)


# ---------------------------------------------------------------------- the CLI
RANGES: dict[str, tuple[int, int]] = {
    "episodes": (2, 1_000_000),
    "batch": (1, 4_096),
    "seed": (0, 2**62),
    "bootstrap": (100, 100_000),
    "horizon": (0, 1_000_000),
}
"""The allowed range of each numeric flag, inclusive."""
SV_DEFAULT = ("fixed_spread", "avellaneda_stoikov")
"""The default ``--contestants`` on the single-venue market."""
MV_DEFAULT = ("routed_as", "everywhere_as")
"""The default ``--contestants`` with ``--env-id mm_gym/MultiVenue-v0``."""


def _fail(message: str) -> NoReturn:
    raise CliError(message)


def _parser() -> Any:
    p = OneLineParser(prog=PROG, description=__doc__.splitlines()[0], fail=_fail)
    p.add_argument(
        "--contestants", nargs="*", default=None, metavar="NAME",
        help="baselines of the registry (default: fixed_spread avellaneda_stoikov; with "
        f"--env-id mm_gym/MultiVenue-v0 the multi-venue baselines, default {' '.join(MV_DEFAULT)})",
    )  # fmt: skip
    p.add_argument("--runs", nargs="*", default=[], metavar="RUN", help="trained runs (runs/x)")
    p.add_argument("--preset", default="default", help="market preset (default)")
    p.add_argument(
        "--env-id", default=SINGLE_VENUE_ENV_ID,
        help=f"{SINGLE_VENUE_ENV_ID} (default) or mm_gym/MultiVenue-v0 (makers on every venue)",
    )  # fmt: skip
    p.add_argument("--horizon", type=int, default=0, help="steps per episode (0: the preset's)")
    p.add_argument("--episodes", type=int, default=200, help="episodes per pair (200)")
    p.add_argument("--batch", type=int, default=256, help="episodes stepped together (256)")
    p.add_argument("--seed", type=int, default=0, help="master seed (0)")
    add_export_flags(p, "crossplay")
    return p


def _overrides(args: Any) -> dict[str, Any]:
    """The env overrides of the flags (``--horizon``)."""
    return {"horizon_steps": args.horizon} if args.horizon else {}


def _contestants(args: Any) -> dict[str, Callable[[], QuotingPolicy]]:
    """The factories of ``--contestants`` and ``--runs`` (one-line errors before any play)."""
    from baselines.multivenue import MULTIVENUE_BASELINES
    from baselines.registry import BASELINE_NAMES

    multi = is_multi_venue(args.env_id)
    known = list(MULTIVENUE_BASELINES if multi else BASELINE_NAMES)
    names = args.contestants
    if names is None:
        names = list(MV_DEFAULT if multi else SV_DEFAULT)
    table: dict[str, Callable[[], QuotingPolicy]] = {}
    for name in names:
        if name not in BASELINE_NAMES and name not in MULTIVENUE_BASELINES:
            raise CliError(f"contestant {name!r} is not valid: choose from {known}")
        try:
            factory = baseline_factory(name, args.env_id, "--contestants")
        except ConfigError as exc:
            raise CliError(str(exc)) from None
        table[name] = partial(factory, args.preset, _overrides(args))
    for run in args.runs:
        runs = run_contestants(run, args.preset, "--runs", args.env_id, _overrides(args))
        add_contestants(table, runs, f"--runs {run}")
    if not table:
        raise CliError("nothing to play: give --contestants and/or --runs")
    return table


def add_contestants(table: dict[str, Any], new: Mapping[str, Any], where: str) -> None:
    """Add ``new`` to ``table``; a name taken twice is a one-line error naming ``where``."""
    for name, factory in new.items():
        if name in table:
            raise CliError(f"{where}: the name {name!r} is taken twice")
        table[name] = factory


def run_contestants(
    run: str | Path,
    preset: str,
    flag: str,
    env_id: str = SINGLE_VENUE_ENV_ID,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Callable[[], QuotingPolicy]]:
    """A trained run folder's policies as contestants, by name (factories of fresh copies).

    A run's ``policy.npz``, or both learners of a two-learner run (``train.py --learners
    mm1,mm2``: ``<run>.mm1`` and ``<run>.mm2``). Each is loaded, checked against ``env_id``
    (:func:`~mm_gym.evaluation.crossplay_envs.check_contestant`: a run trained on the other
    market is refused, naming the env it was trained on) and reset in ``preset``'s cross-play
    market of ``env_id`` now, so a broken file or a policy needing a feature the market does
    not observe is a one-line :class:`~mm_gym.cli.CliError` (naming ``flag`` and the run)
    before any play.
    """
    from agents.policy import LEARNER_SEATS, POLICY_FILE, load_policy

    folder = Path(run)
    folders = [folder]
    if folder.is_dir() and not (folder / POLICY_FILE).is_file():
        pair = [folder / seat for seat in LEARNER_SEATS]
        if all((f / POLICY_FILE).is_file() for f in pair):
            folders = pair
    out: dict[str, Callable[[], QuotingPolicy]] = {}
    for path in folders:
        try:
            first = load_policy(path)
            env = two_maker_env(env_id, 1, preset, overrides)
            check_contestant(first, first.name, env_id, venue_count(env))
            # a policy needing a feature the market does not observe: refused before play
            first.reset(np.random.default_rng(0), env.policy_context("mm1"))
        except (OSError, ValueError, KeyError, ConfigError) as exc:
            raise CliError(f"{flag} {run}: {' '.join(str(exc).split())}") from None
        out[first.name] = partial(load_policy, path)
    return out


def run(argv: Sequence[str] | None = None) -> pd.DataFrame:
    """Parse ``argv``, play every pair, print the matrix, write the files; return the matrix.

    Raises:
        CliError: On bad flags (before anything is played) or an unwritable ``--out``.
    """
    from mm_gym.presets import book_preset_names

    args = _parser().parse_args(argv)
    check_ranges(args, RANGES)
    try:
        check_crossplay_env_id(args.env_id)
    except ConfigError as exc:
        raise CliError(f"--env-id: {exc}") from None
    if args.preset not in book_preset_names():
        raise CliError(f"--preset {args.preset!r} is not valid: choose from {book_preset_names()}")
    if args.out is not None:
        check_out_flag(Path(args.out), args.overwrite, OWNER)
    table = _contestants(args)
    out = export_folder(args.out, "crossplay")
    total = len(table) ** 2 * args.episodes
    started = time.perf_counter()
    from tqdm.auto import tqdm

    with tqdm(total=total, unit="episode", disable=args.no_progress, desc="cross-play") as bar:
        episodes = cross_play(
            table, args.preset, _overrides(args) or None, n_episodes=args.episodes,
            seed=args.seed, batch_size=args.batch, progress=bar.update, env_id=args.env_id,
        )  # fmt: skip
    matrix = crossplay_matrix(episodes, n_boot=args.bootstrap, seed=args.seed)
    seconds = time.perf_counter() - started
    print("mm1's mean episode PnL [95% CI], rows mm1's policy, columns mm2's:")
    print(format_matrix(matrix))
    print(f"\n{args.episodes} episodes per pair, {len(table) ** 2} pairs, in {seconds:.0f} s")
    write_export(out, args.overwrite, OWNER, partial(_write_files, episodes, matrix))
    return matrix


def _write_files(episodes: pd.DataFrame, matrix: pd.DataFrame, folder: Path) -> None:
    """``episodes.csv``, ``matrix.csv`` and ``plots/crossplay.png`` into ``folder``."""
    import io

    from mm_gym.evaluation.export import csv_text
    from mm_gym.files import atomic_write_bytes, atomic_write_text

    atomic_write_text(folder / "episodes.csv", csv_text(episodes))
    atomic_write_text(folder / "matrix.csv", csv_text(matrix))
    buf = io.BytesIO()
    crossplay_figure(matrix).savefig(buf, format="png", dpi=110)
    atomic_write_bytes(folder / "plots" / "crossplay.png", buf.getvalue())


def main(argv: Sequence[str] | None = None) -> int:
    """The CLI entry point; returns the exit code (2 on a user error, 130 on Ctrl-C)."""
    return run_cli(run, argv, PROG)


if __name__ == "__main__":
    sys.exit(main())
