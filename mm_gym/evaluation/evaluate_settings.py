"""``evaluate.py``'s flags checked, and what they choose: regimes, contestants, rival, runs.

Before anything is simulated: :func:`check_args` and :func:`check_overrides` refuse bad flags;
:func:`select_regimes`, :func:`select_baselines`, :func:`select_rival` and :func:`load_runs`
resolve the names given; :func:`check_memory_needed` refuses a request larger than the memory
available. :func:`overrides` gives the env overrides the flags make and :func:`horizon_of` a
regime's episode length. ``args`` is ``evaluate.py``'s ``Args``; every problem is raised as
:class:`~mm_gym.cli.CliError` (``evaluate.py`` prints it as one error line, exit code 2). Like
:mod:`~mm_gym.evaluation.venues`, it imports :mod:`baselines` inside its functions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mm_gym.cli import CliError

PROG = "evaluate.py"  # starts the notes of --runs auto


def split(text: str) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``."""
    return [t.strip() for t in text.split(",") if t.strip()]


def check_args(args: Any) -> None:
    """Reject bad values before anything runs."""
    if args.episodes < 2:
        raise CliError(f"--episodes={args.episodes} must be >= 2 (the CIs need two episodes)")
    if args.seed < 0:
        raise CliError(f"--seed={args.seed} must be >= 0")
    if args.horizon < 0:
        raise CliError(f"--horizon={args.horizon} must be >= 0 (0: the preset's horizon)")
    if args.batch_size < 1:
        raise CliError(f"--batch-size={args.batch_size} must be >= 1")
    if args.news_model != "none":
        from mm_gym.config import NEWS_MODELS
        from mm_gym.news.scoring import model_version

        if args.news_model not in NEWS_MODELS:
            raise CliError(
                f"--news-model={args.news_model!r} must be one of {', '.join(NEWS_MODELS)}"
            )
        try:  # the model's package, before any market is built
            model_version(args.news_model)
        except ImportError as exc:
            raise CliError(f"--news-model={args.news_model}: {exc}") from None
    Args = type(args)  # evaluate.py's settings dataclass: its defaults
    if not args.realism and (args.realism_markets, args.realism_steps) != (
        (Args.realism_markets, Args.realism_steps)
    ):
        raise CliError("--realism-markets and --realism-steps need --realism")
    if args.realism:
        from mm_gym.realism.report import RANGES, check_sample_memory

        for flag, v, (lo, hi) in (
            ("--realism-markets", args.realism_markets, RANGES["markets"]),
            ("--realism-steps", args.realism_steps, RANGES["steps"]),
            ("--seed", args.seed, RANGES["seed"]),
        ):
            if not lo <= v <= hi:
                raise CliError(f"{flag}={v} must be in [{lo}, {hi}] with --realism")
        check_sample_memory(
            args.realism_markets, args.realism_steps,
            f"--realism-markets {args.realism_markets} --realism-steps {args.realism_steps}",
        )  # fmt: skip
    from mm_gym.evaluation.settings import override_fields

    given = override_fields(args.env_kwargs)
    for key, instead in (
        ("horizon_steps", "set it with --horizon"),
        ("regime", "set it with --regimes"),
        ("process.news_model", "set it with --news-model"),
        ("action_type", "the contestants send continuous (bid, ask) offsets"),
        ("action_form", "each contestant plays its own action form"),
    ):
        if key in given:
            raise CliError(f"--env-kwargs {given[key]}: {instead}")


def check_overrides(args: Any, regimes: list[str]) -> None:
    """Refuse ``--horizon`` / ``--env-kwargs`` values no regime's env takes, before any play."""
    from mm_gym.config import ConfigError
    from mm_gym.evaluation import setting_configs
    from mm_gym.evaluation.venues import env_flags_given

    for regime in regimes if (args.horizon or args.env_kwargs) else []:
        try:
            setting_configs(regime, overrides(args))
        except (ConfigError, TypeError) as exc:
            raise CliError(f"{env_flags_given(args)}: {exc}") from None


def select_regimes(args: Any) -> list[str]:
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
    if len(set(regimes)) < len(regimes):
        raise CliError(f"--regimes names a regime more than once: {args.regimes!r}")
    return regimes


def policy_factory(spec: str, args: Any) -> Callable[[str], Any]:
    """``regime -> policy`` for a registry name or import spec (:mod:`baselines.registry`).

    AS and GLFT are calibrated on the regime with this run's overrides (``--horizon``), as
    ``train.py``'s rivals and final table are; the stress grid keeps that calibration.
    """
    from baselines.registry import make_policy

    env_overrides = overrides(args)
    return lambda regime: make_policy(spec, regime, env_overrides)


def known_spec(spec: str, regimes: list[str], args: Any) -> bool:
    """Whether ``spec`` is a registered name or an import spec (which must build a policy)."""
    from baselines.registry import is_import_spec, make_policy, policy_names

    if spec in policy_names() or not is_import_spec(spec):
        return spec in policy_names()
    try:  # built once now, so that a bad module fails before the tournament
        make_policy(spec, regimes[0], overrides(args))
    except Exception as exc:  # the user's module may raise anything
        raise CliError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
    return True


def select_baselines(args: Any, regimes: list[str]) -> dict[str, Callable[[str], Any]]:
    """The scripted contestants (factories ``regime -> policy``), by name or import spec."""
    from baselines.registry import default_policy_names, policy_names

    if args.contestants.strip() == "all":
        return {n: policy_factory(n, args) for n in default_policy_names()}
    names = split(args.contestants)
    unknown = [n for n in names if not known_spec(n, regimes, args)]
    if unknown or not names:
        raise CliError(
            f"unknown contestant(s) {unknown or [args.contestants]}: valid contestants are "
            f"{', '.join(policy_names())}, 'all' or an import spec mypkg.mymod:MyPolicy "
            "(trained runs go in --runs)"
        )
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise CliError(f"--contestants names {', '.join(repeated)} more than once")
    return {n: policy_factory(n, args) for n in names}


def select_rival(args: Any, regimes: list[str]) -> Any:
    """``"builtin"`` or a factory ``regime -> policy`` for mm2."""
    from baselines.registry import policy_names

    if args.rival == "builtin":
        return "builtin"
    if not known_spec(args.rival, regimes, args):
        raise CliError(
            f"unknown rival {args.rival!r}: valid rivals are builtin, "
            f"{', '.join(policy_names())} or an import spec mypkg.mymod:MyPolicy"
        )
    return policy_factory(args.rival, args)


def load_runs(args: Any) -> dict[str, Any]:
    """Trained contestants from ``--runs`` (:func:`mm_gym.evaluation.trained.load_runs`)."""
    from mm_gym.evaluation.trained import load_runs as load

    return load(args.runs, PROG)


def check_memory_needed(args: Any, regimes: list[str], n_contestants: int) -> None:
    """Refuse a request whose estimated peak memory exceeds what the machine has available."""
    from mm_gym.evaluation import tournament_memory_bytes
    from mm_gym.evaluation.scenarios import scenario_grid
    from mm_gym.files import MemoryLimitError, check_memory

    n_scen = len(scenario_grid(regimes)) if args.scenarios else 0
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


def overrides(args: Any) -> dict[str, Any]:
    """Environment overrides from the flags (``--env-kwargs``, ``--horizon``, ``--news-model``)."""
    out: dict[str, Any] = dict(args.env_kwargs)
    if args.horizon:
        out["horizon_steps"] = args.horizon
    if args.news_model != "none":
        out["process.news_model"] = args.news_model
    return out


def horizon_of(setting: str, args: Any) -> int:
    """Steps per episode of ``setting`` (for the progress bar)."""
    from mm_gym.evaluation import setting_configs

    return int(setting_configs(setting, overrides(args))[0].horizon_steps)
