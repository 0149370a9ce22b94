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
or the repository; the export it replaces waits as ``<out>.previous-<pid>`` until the new one
is in place (a run killed meanwhile leaves it there, and the next run names it, never deletes
it):

    summary.csv            mean, std, 95% bootstrap CI and paired difference to AS per metric
    episodes.csv           one row per (regime, contestant, episode)
    leaderboard.txt        the ranked table printed at the end, with its legend (units, columns)
    contestants/<name>/<regime>/{MM1,MM2}_metrics.csv, {MM1,MM2}_market_impact.csv,
                           market_impact.csv: traces of one sample episode (and, with
                           --news-model, headlines.csv: its headlines and their scores)
    plots/*.png            PnL attribution, inventory paths, market impact, PnL distributions,
                           equity curves (and scenarios.png with --scenarios)
    report.pdf             cover (setup, versions, date), pooled leaderboard, definitions of
                           the metrics, one section per regime with its table and figures
    scenarios.csv          (--scenarios) stress grid over volatility and shock rates
    realism/               (--realism) the realism report of each regime's market: realism.csv,
                           realism.md and plots, as python -m mm_gym.realism writes them
    run.json               the arguments, seeds, calibrations and timings
    crossplay/<regime>/    (--cross-play, instead of the tournament) matrix.csv, episodes.csv;
                           with plots/crossplay_<regime>.png and a report.pdf of the matrices
    .mm_gym-export         marker: this folder is an evaluate.py export

Examples:
    python evaluate.py --episodes 200
    python evaluate.py --contestants avellaneda_stoikov,glft --regimes trending --episodes 50
    python evaluate.py --runs runs/ppo_seed0 --rival avellaneda_stoikov --out exports/vs_as
    python evaluate.py --scenarios --episodes 100
    python evaluate.py --realism --episodes 100      # and the stylized facts of each regime
    python evaluate.py --contestants glft,mypkg.mymod:MyPolicy   # your own QuotingPolicy
    python evaluate.py --news-model vader --contestants avellaneda_stoikov,sentiment_as
    python evaluate.py --ray HEAD_IP:6379 --episodes 1000    # as Ray tasks on a cluster
    python evaluate.py --cross-play runs/pair fixed_spread --regimes default  # mm1 x mm2 matrix
    python evaluate.py --env-id mm_gym/MultiVenue-v0 --contestants routed_as,everywhere_as
    python evaluate.py --env-id mm_gym/MultiVenue-v0 --cross-play runs/mv_pair routed_as

With ``--env-id mm_gym/MultiVenue-v0`` (or ``Portfolio-v0``) the multi-venue baselines play that
env; the files are :mod:`mm_gym.evaluation.venues`'s (makers.csv, venues.csv, router.csv).

Bad input (an unknown contestant, rival or regime, a missing or unreadable run folder, an
unwritable, busy or foreign output folder, a request larger than the memory available) prints
one ``evaluate.py: error: ...`` line and exits with code 2, before the tournament starts; an
unexpected failure prints one such line and exits with code 1.
"""

from __future__ import annotations

import dataclasses
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from mm_gym.cli import CliError, Fail, exit_with_error, flag, parse_settings, settings_parser
from mm_gym.config import book_preset_names
from mm_gym.lazy import lazy_getattr
from mm_gym.output_folder import EXPORT_MARKER, prepare_output, publish, written

__all__ = ["EXPORT_MARKER", "Args", "CliError", "entry", "main", "parse_args", "run"]

PROG = "evaluate.py"
ROOT = Path(__file__).resolve().parent


@dataclass
class Args:
    """Command-line arguments (each field is a ``--flag``; its metadata is the help text)."""

    contestants: str = flag(
        "all",
        "comma-separated baselines to run as mm1, or 'all' (every one of --list but the opt-in "
        "sentiment_as); mypkg.mymod:MyPolicy imports MyPolicy (a QuotingPolicy, or a class or "
        "function making one, called with (regime, overrides) if it takes two arguments)",
    )
    runs: str = flag(
        "auto",
        "comma-separated trained run folders (runs/<name>) to add as contestants; 'auto' adds "
        "the newest completed run under runs/ (and says which), 'none' adds none",
    )
    rival: str = flag(
        "builtin",
        "mm2: 'builtin' (the simulator's scripted rival), a baseline name or mypkg.mymod:MyPolicy",
    )
    env_id: str = flag(
        "",
        "mm_gym/MultiVenue-v0 or mm_gym/Portfolio-v0 in each regime's preset, with the "
        "multi-venue baselines (mm_gym.evaluation.venues); with --cross-play, MultiVenue-v0's "
        "two makers",
    )
    regimes: str = flag(
        "mean_reverting,trending,switching",
        f"comma-separated market presets: {', '.join(book_preset_names())} (or mm_gym/... book "
        "env ids; the names of train.py --regime)",
    )
    episodes: int = flag(200, "episodes per contestant and regime (>= 2)")
    seed: int = flag(0, "master seed of the evaluation seed list")
    horizon: int = flag(0, "steps per episode; 0 keeps the preset's (1,000)")
    news_model: str = flag(
        "none",
        "news headlines in every regime (process.news_model): 'none' keeps noisy news readings, "
        "or the lexicon model scoring them, 'vader' or 'lm' (extra 'news'); the market is the "
        "same, the observed sentiment is the headlines', and each sample episode's headlines go "
        "to contestants/<name>/<regime>/headlines.csv",
    )
    env_kwargs: dict[str, Any] = dataclasses.field(
        default_factory=dict,
        metadata={
            "help": "environment overrides KEY=VALUE ... in every regime (values parsed as "
            "YAML), e.g. inventory_penalty=0.005 flow.shock_rate=0.005 (AS and GLFT are "
            "calibrated with them; --realism measures the presets' own markets); with --env-id "
            "also venues=[{...}, ...] and portfolio.FIELD=VALUE (Portfolio-v0, e.g. "
            "portfolio.var_limit=10), the multi-venue baselines keeping their preset's "
            "calibration",
            "metavar": "KEY=VALUE",
        },
    )
    out: str = flag("", "output folder (default exports/<timestamp>)")
    overwrite: bool = flag(False, "replace --out if it exists and is not empty")
    scenarios: bool = flag(
        False,
        "also run the stress grid: each regime x sigma x (1, 2, 4) x shock rate (preset, 0.01), "
        "on independent episodes; AS and GLFT keep their regime's calibration (stressed, not "
        "re-tuned)",
    )
    realism: bool = flag(
        False,
        "also measure each regime's market with the realism report (python -m mm_gym.realism: "
        "stylized facts under fixed quotes, independent of the contestants) into realism/ and "
        "report.pdf",
    )
    realism_markets: int = flag(256, "with --realism: markets per regime")
    realism_steps: int = flag(
        5000, "with --realism: steps recorded per market (after a 500-step burn-in)"
    )
    batch_size: int = flag(2048, "episodes per vector env (memory ~ 64 kB x episodes)")
    ray: str = flag(
        "",
        "run the tournament as Ray tasks (contestant x regime x --batch-size seeds, results "
        "identical): --ray alone starts a local Ray, --ray HOST:PORT joins a cluster (ray start "
        "--head; extra 'ray')",
        const="local",
        metavar="ADDRESS",
    )
    cross_play: list[str] = dataclasses.field(
        default_factory=list,
        metadata={
            "help": "instead of the tournament: every policy as mm1 against every policy as "
            "mm2 in each regime (baselines by name, run folders; a two-learner run gives both "
            "learners) into crossplay/, plots/ and report.pdf (mm_gym.evaluation.crossplay_eval); "
            "with --env-id mm_gym/MultiVenue-v0 on every venue (multi-venue baselines and runs)",
            "metavar": "POLICY",
        },
    )
    progress: bool = flag(True, "show a tqdm progress bar")
    list: bool = flag(False, "list contestants and regimes, then exit")


BASELINE = "avellaneda_stoikov"  # paired differences are taken against this contestant

# The checks and the extra outputs live in mm_gym.evaluation (evaluate_settings, evaluate_outputs)
# and are imported where used: mm_gym.evaluation imports numba, pandas and matplotlib, which
# --help and a mistyped flag need not wait for. Their names still resolve here (PEP 562).
_MOVED = {
    "mm_gym.evaluation.evaluate_settings": (
        "split", "check_args", "check_overrides", "select_regimes", "policy_factory",
        "known_spec", "select_baselines", "select_rival", "load_runs", "check_memory_needed",
        "overrides", "horizon_of",
    ),
    "mm_gym.evaluation.evaluate_outputs": (
        "report_setup", "write_run_json", "run_realism", "preset_sigma", "run_scenarios",
    ),
}  # fmt: skip
__getattr__ = lazy_getattr(__name__, {n: module for module, names in _MOVED.items() for n in names})


fail: Fail = exit_with_error(PROG)
"""Print one error line and exit with code 2."""


def parse_args(argv: list[str] | None = None) -> Args:
    """Build the parser from :class:`Args` and parse ``argv``."""
    parser = settings_parser(
        Args, prog=PROG, description=__doc__ or "", fail=fail,
        defaults_in_help="plain", switches=True, raw_description=True,
    )  # fmt: skip
    return parse_settings(Args, parser, argv, fail)[0]


# --------------------------------------------------------------------------- main


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that the same clean-up runs."""


# Exit codes of the signals received during this run (Ctrl-C 130, SIGTERM 143).
_SIGNALLED: list[int] = []


def _on_sigint(signum: int, frame: Any) -> NoReturn:
    _SIGNALLED.append(130)
    raise KeyboardInterrupt


def _on_sigterm(signum: int, frame: Any) -> NoReturn:
    _SIGNALLED.append(143)
    raise _Terminated


def main(argv: list[str] | None = None) -> int:
    """Run the tournament; return the exit code (130 after Ctrl-C, 143 after SIGTERM)."""
    # Signal handlers can only be set from the main thread (a test may call main elsewhere).
    in_main_thread = threading.current_thread() is threading.main_thread()
    handlers = {signal.SIGINT: _on_sigint, signal.SIGTERM: _on_sigterm} if in_main_thread else {}
    previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
    _SIGNALLED.clear()
    try:
        return _main(argv)
    except KeyboardInterrupt as exc:
        # prepare_output has removed the temporary folder and any placeholder on the way out.
        print(f"{PROG}: interrupted; nothing written", file=sys.stderr)
        return 143 if isinstance(exc, _Terminated) else 130
    except Exception:
        # A signal that lands inside a library's C code (matplotlib drawing a figure) can
        # surface as that library's error instead of KeyboardInterrupt: still an interruption.
        if not _SIGNALLED:
            raise
        print(f"{PROG}: interrupted; nothing written", file=sys.stderr)
        return _SIGNALLED[-1]
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _main(argv: list[str] | None) -> int:
    args = parse_args(argv)
    from mm_gym.config import ConfigError
    from mm_gym.evaluation import safe_name
    from mm_gym.evaluation.evaluate_settings import (
        check_args,
        check_memory_needed,
        check_overrides,
        load_runs,
        overrides,
        select_baselines,
        select_regimes,
        select_rival,
    )
    from mm_gym.evaluation.trained import check_features
    from mm_gym.ray_cluster import optional_ray_session

    try:
        check_args(args)
        if args.env_id:  # several venues or assets: mm_gym.evaluation.venues
            from mm_gym.evaluation.venues import evaluate_venues

            return evaluate_venues(args, ROOT)
        regimes = select_regimes(args)
        check_overrides(args, regimes)
        contestants: dict[str, Any] = dict(select_baselines(args, regimes))
        rival = select_rival(args, regimes)
        if args.list:
            from baselines.registry import policy_names

            print(
                "contestants:", ", ".join(policy_names()),
                "(and runs/<name> via --runs, mypkg.mymod:MyPolicy for your own)",
            )  # fmt: skip
            print("regimes:", ", ".join(book_preset_names()), "(or their mm_gym/... env ids)")
            return 0
        if args.cross_play:  # instead of the tournament
            from mm_gym.evaluation.crossplay_eval import evaluate_cross_play

            return evaluate_cross_play(args, regimes, overrides(args), ROOT)
        runs = load_runs(args)
        check_features(runs, regimes, overrides(args))
        contestants.update(runs)
        names = [safe_name(n) for n in contestants]
        if len(set(names)) != len(names):
            raise CliError(f"contestant names collide as folder names: {list(contestants)}")
        check_memory_needed(args, regimes, len(contestants))
        with (
            optional_ray_session(args.ray),
            prepare_output(args.out, args.overwrite, ROOT) as output,
        ):
            try:
                run(args, regimes, contestants, rival, output.tmp)
            except (ConfigError, MemoryError) as exc:  # input the checks above could not see
                raise CliError(f"{type(exc).__name__}: {exc}") from None
            publish(output)
    except CliError as exc:
        fail(str(exc))
    print(f"\n{written(output.out)}")
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
    from mm_gym.evaluation import (
        LEADERBOARD_LEGEND,
        format_leaderboard,
        leaderboard,
        make_figures,
        summarize,
        write_figures,
        write_report,
        write_tables,
    )
    from mm_gym.evaluation.evaluate_outputs import (
        report_setup,
        run_realism,
        run_scenarios,
        write_run_json,
    )
    from mm_gym.evaluation.evaluate_settings import overrides
    from mm_gym.evaluation.venues import overrides_line

    t0 = time.perf_counter()
    # Calibrations (AS / GLFT, sentiment_as's tuning) come before the simulation's clock starts,
    # so the progress bar and the market-steps per second measure the tournament alone.
    calib = calibrations(regimes, overrides(args), {*contestants, args.rival})
    seconds = {"calibration": time.perf_counter() - t0}
    tournament, seconds["simulation"] = simulate(args, regimes, contestants, rival)

    baseline = BASELINE if BASELINE in contestants else None
    summary = summarize(tournament.episodes, baseline=baseline, seed=args.seed)
    text = format_leaderboard(leaderboard(summary), baseline=baseline)
    text += overrides_line(args)  # the legend quotes the defaults
    print()
    print(text)
    print(LEADERBOARD_LEGEND)

    stress_text = ""
    scen = None
    if args.scenarios:
        scen, stress_text = run_scenarios(args, regimes, contestants, rival, baseline)
        print(stress_text)

    realism_text = ""
    if args.realism:
        t2 = time.perf_counter()
        realism_text = run_realism(args, regimes, tmp / "realism")
        seconds["realism"] = time.perf_counter() - t2

    write_tables(tmp, tournament, summary, f"{text}\n{LEADERBOARD_LEGEND}")
    figs = make_figures(tournament)
    if scen is not None:
        from mm_gym.evaluation.scenarios import write_scenarios

        figs["scenarios"] = write_scenarios(tmp, scen)
    write_figures(tmp, figs)
    write_report(
        tmp / "report.pdf", title="mm_gym evaluation", summary=summary, figs=figs,
        setup=report_setup(args, regimes, list(contestants), baseline), baseline=baseline,
        scenarios=None if scen is None else scen["summary"],
        appendix=[("Realism of the regimes' markets", realism_text)] if realism_text else [],
    )  # fmt: skip
    market_steps = int(tournament.episodes["length"].sum())
    write_run_json(tmp, args, regimes, list(contestants), baseline, calib, seconds, market_steps)
    t_sim, t_cal = seconds["simulation"], seconds["calibration"]
    print(
        f"simulated {market_steps:,} market-steps in {t_sim:.1f} s "
        f"({market_steps / max(t_sim, 1e-9):,.0f}/s); calibration {t_cal:.1f} s"
    )


def simulate(
    args: Args, regimes: list[str], contestants: dict[str, Any], rival: Any
) -> tuple[Any, float]:
    """The tournament, under a progress bar; returns it and the seconds it took."""
    from tqdm import tqdm

    from mm_gym.evaluation import run_tournament
    from mm_gym.evaluation.evaluate_settings import horizon_of, overrides

    # The bar counts vector-env steps: one per step of each batch of each (regime, contestant).
    n_batches = -(-args.episodes // args.batch_size)
    total = n_batches * len(contestants) * sum(horizon_of(r, args) for r in regimes)
    if args.ray:  # one task per batch; the bar counts tasks
        total = n_batches * len(contestants) * len(regimes)
    unit = "task" if args.ray else "step"
    bar = tqdm(total=total, desc="tournament", unit=unit, disable=not args.progress)
    t0 = time.perf_counter()
    tournament = run_tournament(
        contestants, regimes, overrides(args), args.episodes, seed=args.seed, rival=rival,
        batch_size=args.batch_size, progress=bar.update, ray=bool(args.ray),
    )  # fmt: skip
    bar.close()
    return tournament, time.perf_counter() - t0


def calibrations(regimes: list[str], env_overrides: dict[str, Any], names: set[str]) -> dict:
    """The run's calibrations (AS, GLFT; sentiment_as's tuned weights and kappa, printed)."""
    if not {"avellaneda_stoikov", "glft", "sentiment_as"} & names:
        return {}
    from baselines.calibration import calibrated_sentiment_as, calibration_for, report_to

    with report_to(print):  # "calibration: loaded from cache <path>" or "calibrated in N s ..."
        out = {r: dataclasses.asdict(calibration_for(r, env_overrides)) for r in regimes}
        for r in regimes if "sentiment_as" in names else ():
            pol = calibrated_sentiment_as(r, env_overrides)  # tuned (a minute), or from the cache
            out[r]["sentiment_as"] = {"weights": list(pol.weights or ()), "kappa": pol.kappa}
            same = " (quotes as avellaneda_stoikov)" if pol.kappa == 0 else ""
            print(f"sentiment_as on {r}: tuned weights {pol.weights}, kappa {pol.kappa:g}{same}")
    return out


if __name__ == "__main__":
    sys.exit(entry())
