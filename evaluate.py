"""Monte Carlo tournament of quoting policies: ``python evaluate.py [flags]``.

Each contestant quotes as mm1 against the same rival, in each regime preset, over the same list
of evaluation seeds (common random numbers: episode i of every contestant sees the same
exogenous market path), all episodes of a contestant and regime in one batched vector env.
Outputs go to one folder (default ``exports/<timestamp>/``, ``<timestamp>-1`` ... when that name
is taken, and ``exports/latest`` points to it), written in a hidden temporary folder
(``.<name>.tmp-<pid>``) that is renamed at the end, so an interrupted run leaves nothing
half-written (Ctrl-C or SIGTERM: one line, exit code 130 or 143; after a SIGKILL, the next run
removes the dead run's temporary). The output folder is locked for the run: a second run into
the same ``--out`` stops at once. Every export holds the marker file ``.mm_gym-export``;
``--overwrite`` replaces only a folder holding it, never the working folder, one of its parents
or the repository:

    summary.csv            mean, std, 95% bootstrap CI and paired difference to AS per metric
    episodes.csv           one row per (regime, contestant, episode)
    leaderboard.txt        the ranked table printed at the end
    contestants/<name>/<regime>/{MM1,MM2}_metrics.csv, {MM1,MM2}_market_impact.csv,
                           market_impact.csv: traces of one sample episode
    plots/*.png            PnL attribution, inventory paths, market impact, PnL distributions,
                           equity curves (and scenarios.png with --scenarios)
    report.pdf             the leaderboard and every plot
    scenarios.csv          (--scenarios) stress grid over volatility and shock rates
    run.json               the arguments, seeds, calibrations and timings
    .mm_gym-export         marker: this folder is an evaluate.py export

Examples:
    python evaluate.py --episodes 200
    python evaluate.py --contestants avellaneda_stoikov,glft --regimes trending --episodes 50
    python evaluate.py --runs runs/ppo_seed0 --rival avellaneda_stoikov --out exports/vs_as
    python evaluate.py --scenarios --episodes 100

Bad input (an unknown contestant, rival or regime, a missing or unreadable run folder, an
unwritable, busy or foreign output folder, a request larger than the memory available) prints
one ``evaluate.py: error: ...`` line and exits with code 2, before the tournament starts; an
unexpected failure prints one such line and exits with code 1.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import json
import os
import re
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

PROG = "evaluate.py"
ROOT = Path(__file__).resolve().parent
EXPORTS = Path("exports")
EXPORT_MARKER = ".mm_gym-export"
"""Marker file in every export: ``--overwrite`` replaces only a folder that holds it."""
LOCK_FILE = ".lock"  # mm_gym.files.exclusive_lock's lock file inside the locked folder
_DEFAULT_NAME = re.compile(r"^\d{8}-\d{6}(-\d+)?$")  # exports/<timestamp>[-k]


@dataclass
class Args:
    """Command-line arguments (each field is a ``--flag``; its metadata is the help text)."""

    contestants: str = field(
        default="all",
        metadata={"help": "comma-separated baselines to run as mm1, or 'all' (see --list)"},
    )
    runs: str = field(
        default="auto",
        metadata={
            "help": "comma-separated trained run folders (runs/<name>) to add as contestants; "
            "'auto' adds the newest run under runs/ if there is one, 'none' adds none"
        },
    )
    rival: str = field(
        default="builtin",
        metadata={"help": "mm2: 'builtin' (the simulator's scripted rival) or a baseline name"},
    )
    regimes: str = field(
        default="mean_reverting,trending,switching",
        metadata={"help": "comma-separated regime presets (or mm_gym/... env ids)"},
    )
    episodes: int = field(
        default=200, metadata={"help": "episodes per contestant and regime (>= 2)"}
    )
    seed: int = field(default=0, metadata={"help": "master seed of the evaluation seed list"})
    horizon: int = field(
        default=0, metadata={"help": "steps per episode; 0 keeps the preset's (1,000)"}
    )
    out: str = field(default="", metadata={"help": "output folder (default exports/<timestamp>)"})
    overwrite: bool = field(
        default=False, metadata={"help": "replace --out if it exists and is not empty"}
    )
    scenarios: bool = field(
        default=False,
        metadata={
            "help": "also run the stress grid: each regime x sigma x (1, 2, 4) x shock rate "
            "(preset, 0.01), on independent episodes; AS and GLFT keep their regime's "
            "calibration (stressed, not re-tuned)"
        },
    )
    batch_size: int = field(
        default=2048, metadata={"help": "episodes per vector env (memory ~ 64 kB x episodes)"}
    )
    progress: bool = field(default=True, metadata={"help": "show a tqdm progress bar"})
    list: bool = field(default=False, metadata={"help": "list contestants and regimes, then exit"})


# Baselines by CLI name. Fixed spread and order-flow skew quote 1 tick from the mid (their
# class defaults, 2 ticks, sit behind the book and hardly trade in the default market); AS and
# GLFT are calibrated on each regime (baselines.calibration: (A, k) from fills at fixed depths,
# gamma tuned for mean episode reward on calibration seeds, not on the evaluation seeds).
def _baselines() -> dict[str, Callable[[str], Any]]:
    from baselines import FixedSpread, OrderFlowSkew, RandomQuoter
    from baselines.calibration import calibrated_as, calibrated_glft

    return {
        "fixed_spread": lambda s: FixedSpread(1.0, name="fixed_spread"),
        "order_flow_skew": lambda s: OrderFlowSkew(1.0, 1.0, 2.0, name="order_flow_skew"),
        "avellaneda_stoikov": lambda s: calibrated_as(s),
        "glft": lambda s: calibrated_glft(s),
        "random": lambda s: RandomQuoter(name="random"),
    }


BASELINE = "avellaneda_stoikov"  # paired differences are taken against this contestant
SIGMA_MULTIPLIERS = (1.0, 2.0, 4.0)
STRESS_SHOCK_RATE = 0.01


class CliError(Exception):
    """Bad input: reported as one line, exit code 2."""


def fail(message: str) -> NoReturn:
    """Print one error line and exit with code 2."""
    print(f"{PROG}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not usage + message
        fail(f"{message} (see --help)")


def parse_args(argv: list[str] | None = None) -> Args:
    """Build the parser from :class:`Args` and parse ``argv``."""
    parser = _Parser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for f in dataclasses.fields(Args):
        flag = "--" + f.name.replace("_", "-")
        help_text = f.metadata["help"]
        if f.type in ("bool", bool):
            # Off by default: a plain switch; on by default (--progress): --no-<flag> turns it off.
            action = argparse.BooleanOptionalAction if f.default else "store_true"
            parser.add_argument(flag, action=action, default=f.default, help=help_text)
        else:
            kind = {"int": int, "str": str}[str(f.type)]
            default = f" (default: {f.default})" if f.default != "" else ""
            parser.add_argument(flag, type=kind, default=f.default, help=help_text + default)
    return Args(**vars(parser.parse_args(argv)))


def split(text: str) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``."""
    return [t.strip() for t in text.split(",") if t.strip()]


# --------------------------------------------------------------------------- validation


def check_args(args: Args) -> None:
    """Reject bad values before anything runs."""
    if args.episodes < 2:
        raise CliError(f"--episodes={args.episodes} must be >= 2 (the CIs need two episodes)")
    if args.seed < 0:
        raise CliError(f"--seed={args.seed} must be >= 0")
    if args.horizon < 0:
        raise CliError(f"--horizon={args.horizon} must be >= 0 (0: the preset's horizon)")
    if args.batch_size < 1:
        raise CliError(f"--batch-size={args.batch_size} must be >= 1")
    if args.horizon:
        from mm_gym.config import ConfigError
        from mm_gym.evaluation import setting_configs

        try:
            setting_configs("mean_reverting", overrides(args))
        except ConfigError as exc:
            raise CliError(f"--horizon={args.horizon}: {exc}") from None


def select_regimes(args: Args) -> list[str]:
    """The regimes to run; every name must be a book preset or env id."""
    from mm_gym.config import ConfigError
    from mm_gym.evaluation import resolve_setting

    regimes = split(args.regimes)
    if not regimes:
        raise CliError("--regimes is empty")
    for r in regimes:
        try:
            resolve_setting(r)
        except ConfigError as exc:
            raise CliError(f"unknown regime {r!r}: {str(exc).split(': ', 1)[1]}") from None
    return regimes


def select_baselines(args: Args) -> dict[str, Callable[[str], Any]]:
    """The baseline contestants (factories ``regime -> policy``)."""
    table = _baselines()
    if args.contestants.strip() == "all":
        return table
    names = split(args.contestants)
    unknown = [n for n in names if n not in table]
    if unknown or not names:
        raise CliError(
            f"unknown contestant(s) {unknown or [args.contestants]}: valid contestants are "
            f"{', '.join(table)} or 'all' (trained runs go in --runs)"
        )
    return {n: table[n] for n in names}


def select_rival(args: Args) -> Any:
    """``"builtin"`` or a factory ``regime -> policy`` for mm2."""
    if args.rival == "builtin":
        return "builtin"
    table = _baselines()
    if args.rival not in table:
        raise CliError(
            f"unknown rival {args.rival!r}: valid rivals are builtin, {', '.join(table)}"
        )
    return table[args.rival]


def load_runs(args: Args) -> dict[str, Any]:
    """Trained contestants from ``--runs`` (via ``agents.load_policy``), by run name."""
    if args.runs == "none":
        return {}
    runs_dir = Path("runs")
    if args.runs == "auto":
        found = sorted(
            (p for p in runs_dir.glob("*") if p.is_dir()), key=lambda p: p.stat().st_mtime
        ) if runs_dir.is_dir() else []  # fmt: skip
        if not found:
            return {}
        folders, explicit = [found[-1]], False
    else:
        folders, explicit = [Path(p) for p in split(args.runs)], True
    for folder in folders:
        if not folder.is_dir():
            existing = sorted(p.name for p in runs_dir.glob("*") if p.is_dir())
            raise CliError(
                f"run folder {str(folder)!r} does not exist; runs under runs/: "
                f"{', '.join(existing) or '(none)'}"
            )
    try:
        load_policy = importlib.import_module("agents").load_policy
    except (ImportError, AttributeError) as exc:
        if explicit:
            raise CliError(
                f"--runs needs agents.load_policy, which cannot be imported: {exc}"
            ) from None
        return {}
    from mm_gym.policy import QuotingPolicy

    policies = {}
    for folder in folders:
        try:
            policy = load_policy(str(folder))
        except Exception as exc:  # a corrupt run is reported, whatever broke inside
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if not explicit:
                print(f"{PROG}: note: skipping newest run {str(folder)!r}: {msg}", file=sys.stderr)
                continue
            raise CliError(f"cannot load run {str(folder)!r}: {msg}") from None
        if not isinstance(policy, QuotingPolicy):
            raise CliError(f"run {str(folder)!r} did not load as a QuotingPolicy: {policy!r}")
        policies[f"ppo:{folder.name}"] = policy
    return policies


def check_features(policies: dict[str, Any], regimes: list[str], args: Args) -> None:
    """Every trained contestant must find its features in every regime's observation."""
    from mm_gym.envs.core import observed_features
    from mm_gym.evaluation import observation_overrides, setting_configs

    for label, policy in policies.items():
        needed = tuple(getattr(policy, "feature_names", ()) or ())
        for r in regimes:
            env_config = setting_configs(r, observation_overrides(overrides(args), policy))[1]
            missing = [f for f in needed if f not in observed_features(env_config)]
            if missing:
                raise CliError(
                    f"run {label.split(':', 1)[-1]!r} was trained on features {missing} that "
                    f"the {r!r} environment does not observe"
                )


def check_memory_needed(args: Args, regimes: list[str], n_contestants: int) -> None:
    """Refuse a request whose estimated peak memory exceeds what the machine has available."""
    from mm_gym.evaluation import tournament_memory_bytes
    from mm_gym.files import MemoryLimitError, check_memory

    n_scen = len(regimes) * len(SIGMA_MULTIPLIERS) * 2 if args.scenarios else 0
    common = (regimes, overrides(args), args.episodes, n_contestants)
    need = tournament_memory_bytes(*common, args.batch_size, n_scenarios=n_scen)
    # Name the flag that matters: the batch term grows with --horizon and --batch-size, the
    # rest with --episodes.
    batch_only = tournament_memory_bytes(
        regimes, overrides(args), min(args.episodes, 2), n_contestants, args.batch_size
    )
    what = (
        f"--horizon={horizon_of(regimes[0], args)} with --batch-size={args.batch_size}"
        if batch_only > need / 2
        else f"--episodes={args.episodes}"
    )
    try:
        check_memory(need, f"{what} ({n_contestants} contestants x {len(regimes)} regimes)")
    except MemoryLimitError as exc:
        raise CliError(str(exc)) from None


@dataclass
class Output:
    """Where a run writes: the final folder, its hidden temporary, what to undo on failure."""

    out: Path
    tmp: Path
    latest: bool
    created: bool  # the final folder was made by this run (a placeholder until publish)
    replace: bool  # the final folder is an earlier export, replaced at publish (--overwrite)


def _refuse_dangerous_out(out: Path) -> None:
    """``--out`` must not be a link, the working folder, one of its parents or the repository."""
    if out.is_symlink():
        raise CliError(
            f"--out {str(out)!r} is a symbolic link: refusing to replace it; give a real folder"
        )
    real, cwd = out.resolve(), Path.cwd().resolve()
    for guarded, what in ((cwd, "the working folder"), (ROOT, "the mm_gym repository")):
        if real == guarded or real in guarded.parents:
            raise CliError(
                f"--out {str(out)!r} is {what} or one of its parents: refusing to write there; "
                "choose a new folder such as exports/<name>"
            )


def _reserve(out: Path) -> bool:
    """Create ``out`` (True) or accept an existing one (False); refuse a foreign folder."""
    try:
        out.mkdir()
        return True
    except FileExistsError:
        pass
    if not out.is_dir():
        raise CliError(f"output path {str(out)!r} exists and is not a folder")
    return False


def _check_existing(out: Path, args: Args) -> bool:
    """For a folder that already existed: True if it is an export to replace, False if empty."""
    from mm_gym.files import is_owned_folder

    if not ({p.name for p in out.iterdir()} - {LOCK_FILE}):
        return False
    if not args.overwrite:
        raise CliError(f"output folder {str(out)!r} exists and is not empty (use --overwrite)")
    if not is_owned_folder(out, EXPORT_MARKER):
        raise CliError(
            f"--overwrite: {str(out)!r} is not an evaluate.py export (no {EXPORT_MARKER} in it): "
            "refusing to delete it; remove it yourself or choose another folder"
        )
    return True


def _clean_abandoned(parent: Path) -> None:
    """Remove stale temporaries and the empty placeholders of killed runs from ``exports/``."""
    from mm_gym.files import FolderBusyError, clean_stale_temps, exclusive_lock

    clean_stale_temps(parent)
    for entry in parent.iterdir():
        if entry.is_symlink() or not entry.is_dir() or not _DEFAULT_NAME.match(entry.name):
            continue
        if {p.name for p in entry.iterdir()} != {LOCK_FILE}:
            continue
        try:
            with exclusive_lock(entry, "output folder"):  # free lock: its run is gone
                (entry / LOCK_FILE).unlink()
                entry.rmdir()
        except (FolderBusyError, OSError):
            continue


def _clean_own_stale_temps(out: Path) -> None:
    """Remove dead runs' temporaries of ``out`` and nothing else (its parent may be anyone's).

    :func:`mm_gym.files.clean_stale_temps` sweeps a whole folder, right for ``exports/`` but not
    for the parent of an arbitrary ``--out``; this applies its rule to ``.<name>.tmp-<pid>*``.
    """
    pattern = re.compile(rf"^\.{re.escape(out.name)}\.tmp-(\d+)(?:-[A-Za-z0-9_]+)?$")
    for entry in out.parent.iterdir():
        m = pattern.match(entry.name)
        if m is None or _pid_alive(int(m.group(1))):
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # someone else's process / not a pid: keep
        return pid > 0
    return True


@contextlib.contextmanager
def prepare_output(args: Args) -> Iterator[Output]:
    """Reserve and lock the output folder, make its temporary, and undo both on failure.

    The default folder is ``exports/<timestamp>``, or ``<timestamp>-1``, ``-2`` ... when taken
    (created atomically with ``mkdir``, so two runs started together get different folders). The
    final folder is locked (:func:`mm_gym.files.exclusive_lock`) until the run has published
    into it: a second run into the same ``--out`` fails at once.

    Yields:
        The :class:`Output`.

    Raises:
        CliError: If the folder is dangerous, foreign, busy or cannot be written.
    """
    from mm_gym.files import FolderBusyError, exclusive_lock, temp_name

    default = not args.out
    try:
        if default:
            EXPORTS.mkdir(parents=True, exist_ok=True)
            latest = EXPORTS / "latest"
            if latest.exists() and not latest.is_symlink():
                raise CliError(f"{str(latest)!r} is not a symbolic link: move it away")
            _clean_abandoned(EXPORTS)
            stamp = time.strftime("%Y%m%d-%H%M%S")
            for k in range(1000):
                out = EXPORTS / (stamp if k == 0 else f"{stamp}-{k}")
                with contextlib.suppress(FileExistsError):
                    out.mkdir()
                    break
            else:
                raise CliError(f"no free folder name {stamp}-<k> under {str(EXPORTS)!r}")
            created = True
        else:
            out = Path(args.out)
            _refuse_dangerous_out(out)
            out.parent.mkdir(parents=True, exist_ok=True)
            _clean_own_stale_temps(out)
            created = _reserve(out)
    except OSError as exc:
        raise CliError(
            f"cannot write the output folder {args.out or str(EXPORTS)!r}: {exc.strerror}"
        ) from None
    tmp = out.parent / temp_name(out.name)
    lock_existed = (out / LOCK_FILE).exists()
    try:
        with exclusive_lock(out, "output folder"):
            try:
                replace = False if created else _check_existing(out, args)
                try:
                    tmp.mkdir()
                    (tmp / EXPORT_MARKER).write_text("written by evaluate.py\n")
                except OSError as exc:
                    raise CliError(
                        f"cannot write the output folder {str(out)!r}: {exc.strerror}"
                    ) from None
                yield Output(out, tmp, default, created, replace)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                # Take back what this run added: its lock file and its placeholder folder.
                if not lock_existed:
                    with contextlib.suppress(OSError):
                        (out / LOCK_FILE).unlink()
                if created:
                    with contextlib.suppress(OSError):
                        out.rmdir()
                raise
    except FolderBusyError as exc:
        raise CliError(str(exc)) from None


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back for a few renames, so a publish is never left halfway.

    A signal that arrives meanwhile is consumed, not delivered afterwards: the export is
    complete by then, and reporting "interrupted; nothing written" would be false.
    """
    sigs = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        yield
    finally:
        for sig in signal.sigpending() & sigs:
            signal.sigwait({sig})
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def publish(output: Output) -> None:
    """Move the finished temporary folder into place (and point ``exports/latest`` at it).

    A placeholder (or an empty folder) is replaced in one ``rename``; an earlier export is moved
    aside, replaced, then deleted (only if it carries the export marker).
    """
    from mm_gym.files import remove_owned_folder, temp_name

    out, tmp = output.out, output.tmp
    with _signals_held():
        if not output.replace:
            # rename() replaces an empty folder atomically: drop our lock file first (the lock
            # itself stays held through the open descriptor until the run ends).
            (out / LOCK_FILE).unlink(missing_ok=True)
            tmp.rename(out)
        else:
            old = out.parent / temp_name(out.name, "old")
            out.rename(old)
            try:
                tmp.rename(out)
            except OSError:
                old.rename(out)
                raise
            remove_owned_folder(old, EXPORT_MARKER, "an evaluate.py export")
        if output.latest:
            link = out.parent / "latest"
            tmp_link = out.parent / temp_name("latest")
            tmp_link.unlink(missing_ok=True)
            tmp_link.symlink_to(out.name, target_is_directory=True)
            os.replace(tmp_link, link)


# --------------------------------------------------------------------------- main


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that the same clean-up runs."""


def _on_sigterm(signum: int, frame: Any) -> NoReturn:
    raise _Terminated


def main(argv: list[str] | None = None) -> int:
    """Run the tournament; return the exit code (130 after Ctrl-C, 143 after SIGTERM)."""
    # Signal handlers can only be set from the main thread (a test may call main elsewhere).
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main_thread else None
    try:
        return _main(argv)
    except KeyboardInterrupt as exc:
        # prepare_output has removed the temporary folder and any placeholder on the way out.
        print(f"{PROG}: interrupted; nothing written", file=sys.stderr)
        return 143 if isinstance(exc, _Terminated) else 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main(argv: list[str] | None) -> int:
    args = parse_args(argv)
    from mm_gym.config import ConfigError
    from mm_gym.evaluation import safe_name

    try:
        check_args(args)
        regimes = select_regimes(args)
        contestants: dict[str, Any] = dict(select_baselines(args))
        rival = select_rival(args)
        if args.list:
            from mm_gym.config import preset, preset_names

            print("contestants:", ", ".join(_baselines()), "(and runs/<name> via --runs)")
            print("regimes:", ", ".join(p for p in preset_names() if preset(p).fills == "book"))
            return 0
        runs = load_runs(args)
        check_features(runs, regimes, args)
        contestants.update(runs)
        names = [safe_name(n) for n in contestants]
        if len(set(names)) != len(names):
            raise CliError(f"contestant names collide as folder names: {list(contestants)}")
        check_memory_needed(args, regimes, len(contestants))
        with prepare_output(args) as output:
            try:
                run(args, regimes, contestants, rival, output.tmp)
            except (ConfigError, MemoryError) as exc:  # input the checks above could not see
                raise CliError(f"{type(exc).__name__}: {exc}") from None
            publish(output)
    except CliError as exc:
        fail(str(exc))
    print(f"\nwrote {output.out}/ (summary.csv, episodes.csv, plots/, report.pdf, contestants/)")
    return 0


def entry() -> int:
    """The command line: :func:`main`, with an unexpected failure reported in one line (code 1)."""
    try:
        return main()
    except Exception as exc:
        msg = str(exc).splitlines()[0] if str(exc) else ""
        print(f"{PROG}: error: {type(exc).__name__}: {msg}", file=sys.stderr)
        return 1


def run(args: Args, regimes: list[str], contestants: dict[str, Any], rival: Any, tmp: Path) -> None:
    """Simulate, summarize, print the leaderboard and write every output into ``tmp``."""
    from tqdm import tqdm

    from mm_gym.evaluation import (
        evaluation_seeds,
        format_leaderboard,
        leaderboard,
        make_figures,
        run_tournament,
        summarize,
        write_figures,
        write_report,
        write_tables,
    )
    from mm_gym.files import atomic_write_text

    t0 = time.perf_counter()
    # AS / GLFT calibrations are looked up (or computed, once per regime) before the clock of
    # the simulation starts, so the progress bar measures the tournament alone.
    calib = calibrations(regimes, contestants, args.rival)
    t_cal = time.perf_counter() - t0

    # The bar counts vector-env steps: one per step of each batch of each (regime, contestant).
    horizons = {r: horizon_of(r, args) for r in regimes}
    n_batches = -(-args.episodes // args.batch_size)
    total = n_batches * len(contestants) * sum(horizons.values())
    bar = tqdm(total=total, desc="tournament", unit="step", disable=not args.progress)
    t1 = time.perf_counter()
    tournament = run_tournament(
        contestants, regimes, overrides(args), args.episodes, seed=args.seed, rival=rival,
        batch_size=args.batch_size, progress=bar.update,
    )  # fmt: skip
    bar.close()
    t_sim = time.perf_counter() - t1
    market_steps = int(tournament.episodes["length"].sum())

    baseline = BASELINE if BASELINE in contestants else None
    summary = summarize(tournament.episodes, baseline=baseline, seed=args.seed)
    board = leaderboard(summary)
    text = format_leaderboard(board, baseline=baseline)
    print()
    print(text)

    stress_text = ""
    scen = None
    if args.scenarios:
        scen, stress_text = run_scenarios(args, regimes, contestants, rival, baseline)
        print(stress_text)

    write_tables(tmp, tournament, summary, text)
    figs = make_figures(tournament)
    if scen is not None:
        atomic_write_text(
            tmp / "scenarios.csv", scen["summary"].to_csv(index=False, float_format="%.12g")
        )
        atomic_write_text(
            tmp / "scenario_episodes.csv",
            scen["episodes"].to_csv(index=False, float_format="%.12g"),
        )
        figs["scenarios"] = scenario_figure(scen["summary"])
    write_figures(tmp, figs)
    header = (
        f"mm_gym evaluation: {len(contestants)} contestants x {len(regimes)} regimes x "
        f"{args.episodes} episodes, rival={args.rival}, seed={args.seed}"
    )
    write_report(tmp / "report.pdf", header, [text, stress_text] if stress_text else [text], figs)
    meta = {
        "args": dataclasses.asdict(args),
        "regimes": regimes,
        "contestants": list(contestants),
        "baseline_for_differences": baseline,
        "calibrations": calib,
        "seeds_first_10": [int(s) for s in evaluation_seeds(args.episodes, args.seed)[:10]],
        "default_sigma_ticks": {r: preset_sigma(r) for r in regimes},
        "seconds": {"calibration": round(t_cal, 2), "simulation": round(t_sim, 2)},
        "market_steps": market_steps,
        "market_steps_per_second": round(market_steps / max(t_sim, 1e-9)),
    }
    atomic_write_text(tmp / "run.json", json.dumps(meta, indent=2, default=str) + "\n")
    print(
        f"simulated {market_steps:,} market-steps in {t_sim:.1f} s "
        f"({market_steps / max(t_sim, 1e-9):,.0f}/s); calibration lookup {t_cal:.1f} s"
    )


def overrides(args: Args) -> dict[str, Any]:
    """Environment overrides from the flags."""
    return {"horizon_steps": args.horizon} if args.horizon else {}


def horizon_of(setting: str, args: Args) -> int:
    """Steps per episode of ``setting`` (for the progress bar)."""
    from mm_gym.evaluation import setting_configs

    return int(setting_configs(setting, overrides(args))[0].horizon_steps)


def preset_sigma(setting: str) -> float:
    """The preset's fundamental volatility, ticks per step."""
    from mm_gym.evaluation import setting_configs

    return float(setting_configs(setting)[0].process.sigma_ticks)


def calibrations(regimes: list[str], contestants: dict[str, Any], rival_name: str) -> dict:
    """Look up (or compute, once per regime) the AS / GLFT calibrations the run uses."""
    if not {"avellaneda_stoikov", "glft"} & {*contestants, rival_name}:
        return {}
    from baselines.calibration import calibration_for

    return {r: dataclasses.asdict(calibration_for(r)) for r in regimes}


def run_scenarios(
    args: Args, regimes: list[str], policies: dict[str, Any], rival: Any, baseline: str | None
) -> tuple[dict[str, Any], str]:
    """The stress grid: every regime x sigma multiplier x shock rate, on independent seeds."""
    import pandas as pd
    from tqdm import tqdm

    from mm_gym.evaluation import run_tournament, summarize

    grid = [
        (r, m, rate)
        for r in regimes
        for m in SIGMA_MULTIPLIERS
        for rate in (None, STRESS_SHOCK_RATE)
    ]
    frames = []
    n_batches = -(-args.episodes // args.batch_size)
    total = sum(n_batches * len(policies) * horizon_of(r, args) for r, _, _ in grid)
    bar = tqdm(total=total, desc="scenarios", unit="step", disable=not args.progress)
    for i, (r, mult, rate) in enumerate(grid, start=1):
        stress = {**overrides(args), "process.sigma_ticks": preset_sigma(r) * mult}
        if rate is not None:
            stress["flow.shock_rate"] = rate
        label = f"{r} sigma x{mult:g} " + ("shock 0.01" if rate is not None else "shock preset")
        t = run_tournament(
            policies, [r], stress, args.episodes, seed=args.seed, stream=i, rival=rival,
            batch_size=args.batch_size, sample_episode=None, progress=bar.update,
        )  # fmt: skip
        ep = t.episodes.assign(
            scenario=label, sigma_mult=mult, shock_rate=rate if rate is not None else -1.0
        )
        ep["preset"] = label
        frames.append(ep)
    bar.close()
    episodes = pd.concat(frames, ignore_index=True)
    summary = summarize(episodes, baseline=baseline, seed=args.seed, pooled=False)
    cols = ["preset", "policy", "total_pnl_mean", "total_pnl_ci_low", "total_pnl_ci_high",
            "total_pnl_diff", "sharpe_mean", "max_drawdown_mean", "mean_abs_inventory_mean",
            "frac_at_limit_mean", "n_shocks_mean"]  # fmt: skip
    table = summary[cols].rename(columns={"preset": "scenario"})
    text = "== stress scenarios (mean episode PnL, 95% CI, paired difference to AS) ==\n"
    text += table.to_string(index=False, float_format=lambda x: f"{x:8.2f}") + "\n"
    return {"summary": summary.rename(columns={"preset": "scenario"}), "episodes": episodes}, text


def scenario_figure(summary: Any) -> Any:
    """Grouped bars: mean episode PnL (95% CI) per scenario and contestant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    scen = list(dict.fromkeys(summary["scenario"]))
    pols = list(dict.fromkeys(summary["policy"]))
    fig, ax = plt.subplots(figsize=(max(8, 0.8 * len(scen) * len(pols) / 3), 5))
    width = 0.8 / len(pols)
    for j, p in enumerate(pols):
        g = summary[summary["policy"] == p].set_index("scenario").loc[scen]
        x = np.arange(len(scen)) + j * width
        err = [
            g["total_pnl_mean"] - g["total_pnl_ci_low"],
            g["total_pnl_ci_high"] - g["total_pnl_mean"],
        ]
        ax.bar(x, g["total_pnl_mean"], width, yerr=err, label=p, capsize=1.5)
    ax.set_xticks(np.arange(len(scen)) + 0.4 - width / 2, scen, rotation=45, ha="right", fontsize=7)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_ylabel("mean episode PnL (95% CI)")
    ax.set_title("Stress scenarios")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


if __name__ == "__main__":
    sys.exit(entry())
