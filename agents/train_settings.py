"""The checks of ``train.py``'s settings (types, ranges, their relations) and what they resolve to.

What they resolve to: the training env's overrides (:func:`env_overrides`), ``--total-timesteps``
rounded up to whole rollouts (:func:`round_total_timesteps`) and a resumed run's settings, the
saved ones with the flags that may change (:func:`resumed_settings`, :data:`RESUME_MUTABLE`).

Kept apart from ``train.py``'s ``Args`` (which lists the settings with their help) so that
the script reads top to bottom; every problem is reported through the tool's ``fail`` (one
error line, exit code 2), as :mod:`mm_gym.cli` does.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from mm_gym.cli import Fail, check_types, settings_from_file
from mm_gym.config import (
    ConfigError,
    excerpt,
    preset_overrides,
    read_config_file,
    setting_preset,
)
from mm_gym.files import (
    MemoryLimitError,
    UnsafePathError,
    array_bytes,
    check_memory,
    safe_component,
)

# Range of every float setting: (low, high, low open, high open); all must also be finite.
FLOAT_RANGES: dict[str, tuple[float, float, bool, bool]] = {
    "learning_rate": (0.0, 1.0, True, False),
    "gamma": (0.0, 1.0, True, False),
    "gae_lambda": (0.0, 1.0, False, False),
    "clip_range": (0.0, 10.0, True, False),
    "ent_coef": (0.0, 1e3, False, False),
    "vf_coef": (0.0, 1e3, False, False),
    "max_grad_norm": (0.0, 1e6, True, False),
    "target_kl": (0.0, 1e3, False, False),
    # exp(+-20) keeps the initial action std within float32's comfortable range.
    "log_std_init": (-20.0, 20.0, False, False),
    "clip_obs": (0.0, 1e6, True, False),
}
# np.random.seed (SB3 seeds numpy's global generator) takes 32-bit seeds.
MAX_SEED = 2**32 - 1
# A typo's bound (2e70 for 2e7): 1e12 steps are months at train.py's fastest.
MAX_TIMESTEPS = 10**12
# torch's intra-op threads beyond the CPUs only contend (a typo such as 1000 starts a thousand);
# up to 4 per CPU leaves room to measure deliberate oversubscription.
TORCH_THREADS_PER_CPU = 4


def _interval(lo: float, hi: float, lo_open: bool, hi_open: bool) -> str:
    return f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"


def max_torch_threads() -> int:
    """The largest ``--torch-threads``: :data:`TORCH_THREADS_PER_CPU` per CPU of this machine."""
    return TORCH_THREADS_PER_CPU * (os.cpu_count() or 1)


def check_torch_threads(threads: int, name: str, fail: Fail) -> None:
    """Fail unless ``threads`` is in ``[1, max_torch_threads()]`` (``name``: the flag or field)."""
    top = max_torch_threads()
    if not 1 <= threads <= top:
        fail(
            f"{name}={threads!r} must be in [1, {top}] ({TORCH_THREADS_PER_CPU} per CPU; this "
            f"machine has {os.cpu_count() or 1})"
        )


def check_run_name(run_name: str, fail: Fail) -> None:
    """Fail unless ``run_name`` is one plain folder name."""
    try:
        safe_component(run_name, "run_name")
    except UnsafePathError as exc:
        fail(str(exc))


def check_settings(args: Any, fail: Fail, where: str = "") -> None:
    """Check types and ranges of ``train.py``'s settings (one error line on the first problem).

    Args:
        args: The settings (``train.py``'s ``Args``).
        fail: The tool's error reporter.
        where: Appended to the error (e.g. the file the settings came from).
    """
    check_types(args, fail, where)

    def bad(message: str) -> NoReturn:
        fail(message + where)

    for name, (lo, hi, lo_open, hi_open) in FLOAT_RANGES.items():
        value = float(getattr(args, name))
        # NaN fails every comparison, so test for being inside rather than outside the range.
        inside = (lo < value if lo_open else lo <= value) and (
            value < hi if hi_open else value <= hi
        )
        if not (math.isfinite(value) and inside):
            bad(
                f"{name}={value!r} must be a finite number in {_interval(lo, hi, lo_open, hi_open)}"
            )
    for name in ("total_timesteps", "n_envs", "n_steps", "batch_size", "n_epochs"):
        if getattr(args, name) < 1:
            bad(f"{name}={getattr(args, name)!r} must be >= 1")
    # A saved value may exceed this machine's bound (the run began on a larger one).
    hint = " (--torch-threads may be changed on --resume)" if getattr(args, "resume", "") else ""
    check_torch_threads(args.torch_threads, "torch_threads", lambda m: bad(m + hint))
    if args.total_timesteps > MAX_TIMESTEPS:
        bad(f"total_timesteps={args.total_timesteps!r} must be in [1, {MAX_TIMESTEPS:,}]")
    if args.batch_size < 2:  # SB3 normalises the advantages over each minibatch
        bad(f"batch_size={args.batch_size!r} must be >= 2 (advantages are normalised per batch)")
    for name in ("checkpoint_every", "eval_episodes", "eval_seed", "seed"):
        if getattr(args, name) < 0:
            bad(f"{name}={getattr(args, name)!r} must be >= 0")
    if args.seed > MAX_SEED:
        bad(f"seed={args.seed!r} must be in [0, {MAX_SEED}] (numpy takes 32-bit seeds)")
    if args.eval_episodes == 1:
        bad("eval_episodes=1 must be 0 (skip) or >= 2 (confidence intervals need pairs)")
    seats = seats_per_market(args)  # self-play: each market is two envs
    rollout = args.n_envs * seats * args.n_steps
    if args.batch_size > rollout:
        what = "n_envs * 2 * n_steps" if seats > 1 else "n_envs * n_steps"
        bad(f"batch_size={args.batch_size} must be <= {what} = {rollout}")
    if args.lr_schedule not in ("constant", "linear"):
        bad(f"lr_schedule={excerpt(args.lr_schedule)} must be 'constant' or 'linear'")
    if args.activation not in ("tanh", "relu"):
        bad(f"activation={excerpt(args.activation)} must be 'tanh' or 'relu'")
    from mm_gym.envs.config import PENALTY_TIMINGS

    if args.penalty_timing not in PENALTY_TIMINGS:
        choices = " or ".join(repr(t) for t in sorted(PENALTY_TIMINGS, reverse=True))
        bad(f"penalty_timing={excerpt(args.penalty_timing)} must be {choices}")
    if args.run_name:
        check_run_name(args.run_name, bad)
    if not getattr(args, "resume", "") and not args.runs_dir.strip():
        # Path("") / name is name: the run would be written into the working folder.
        bad(
            f"runs_dir={args.runs_dir!r} must name a folder (e.g. runs): an empty --runs-dir "
            "would write the run into the working folder"
        )
    check_market(args, bad)
    check_learners(args, bad)
    check_league(args, bad)
    allowed = baseline_names(args.env_id)
    unknown = [b for b in args.eval_baselines.split(",") if b and b not in allowed]
    if unknown:
        bad(
            f"eval_baselines={excerpt(args.eval_baselines)}: {excerpt(unknown[0])} is not a "
            f"baseline of {args.env_id}; choose from {list(allowed)}"
        )


DEFAULT_EVAL_BASELINES = "fixed_spread,order_flow_skew,avellaneda_stoikov"
"""The final table's baselines on the single-venue book envs (``--eval-baselines`` empty)."""
DEFAULT_MULTIVENUE_EVAL_BASELINES = "routed_as,routed_glft,everywhere_as"
"""The final table's baselines on ``mm_gym/MultiVenue-v0`` (``--eval-baselines`` empty): the
smart router with AS and with GLFT on top (issue #15's baselines), and AS on every venue."""


def check_trained_actions(space: Any, fail: Fail, action_type: str, eval_episodes: int) -> None:
    """Refuse an env whose actions are not continuous offsets (``action_type="discrete"``).

    ``train.py``'s policies are run by the evaluator and :func:`agents.load_policy` as
    quoting policies, which send continuous (bid, ask) offsets. ``"continuous_sizes"`` trains
    (its SB3 model is the user's to run) but has no final table: refused, before any training,
    unless ``--eval-episodes 0``.
    """
    if len(getattr(space, "shape", ()) or ()) != 1:
        fail(
            f"--env-kwargs: train.py trains continuous (bid, ask) offsets, which its evaluation "
            f"and load_policy run; this env's action space is {space} (action_type='discrete' "
            "is for your own RL code: gym.make(..., action_type='discrete'))"
        )
    if action_type != "continuous" and eval_episodes > 0:
        fail(
            f"--env-kwargs action_type={action_type}: the final table (and load_policy) plays "
            "only action_type='continuous' policies; give --eval-episodes 0 to train it anyway "
            "(model.zip is an SB3 model for your own code)"
        )


def is_multivenue(env_id: str) -> bool:
    """Whether ``env_id`` is a multi-venue env (trained and evaluated on its own baselines)."""
    import mm_gym

    return env_id in mm_gym.MULTI_VENUE_ENV_IDS


def baseline_names(env_id: str) -> tuple[str, ...]:
    """The baselines the final table of a run on ``env_id`` may name."""
    if is_multivenue(env_id):
        from baselines.multivenue import MULTIVENUE_BASELINES

        return tuple(MULTIVENUE_BASELINES)
    from agents.rivals import BASELINE_NAMES

    return tuple(BASELINE_NAMES)


def eval_baselines(args: Any) -> list[str]:
    """The final table's baselines: ``--eval-baselines``, or the env's default set if empty."""
    text = args.eval_baselines or (
        DEFAULT_MULTIVENUE_EVAL_BASELINES if is_multivenue(args.env_id) else DEFAULT_EVAL_BASELINES
    )
    return [b for b in text.split(",") if b]


LEARNERS = ("mm1", "mm1,mm2")
"""The values of ``--learners``."""

TWO_MAKER_KEYS = ("mm2_latency",)
"""Env overrides only the two-maker envs take (``--learners mm1,mm2`` on a multi-venue env):
left out where the run builds a one-maker env (the memory check, the final table)."""


def two_learners(args: Any) -> bool:
    """Whether both makers learn (``--learners mm1,mm2``)."""
    return getattr(args, "learners", "mm1") == "mm1,mm2"


def independent_learners(args: Any) -> bool:
    """Whether two networks learn, one per maker (``--learners mm1,mm2`` without sharing)."""
    return two_learners(args) and not args.share_policy


def seats_per_market(args: Any) -> int:
    """The envs one learner steps per market: 2 for a policy shared by both seats, else 1.

    A rollout is ``n_envs x seats_per_market x n_steps`` steps (two independent learners
    each step ``n_envs`` seats, their own maker's).
    """
    return 2 if two_learners(args) and args.share_policy else 1


def check_learners(args: Any, fail: Fail) -> None:
    """``--learners`` / ``--share-policy``: a known value, and a combination train.py runs.

    Both makers learning takes a book or multi-venue env and no ``--rival`` (mm2 is the second
    learner); ``--share-policy`` makes one network for both seats, else each maker has its own
    (:mod:`agents.learner_pair`).
    """
    import mm_gym

    if args.learners not in LEARNERS:
        fail(f"learners={excerpt(args.learners)} must be one of {list(LEARNERS)}")
    if not two_learners(args):
        if args.share_policy:
            fail("share_policy=True needs --learners mm1,mm2 (a policy shared by both makers)")
        return
    two_maker_ids = mm_gym.BOOK_ENV_IDS + mm_gym.MULTI_VENUE_ENV_IDS
    if args.env_id not in two_maker_ids:
        fail(
            f"learners=mm1,mm2 on env_id={excerpt(args.env_id)}: both makers learn on the "
            f"book and multi-venue envs only: {list(two_maker_ids)}"
        )
    if args.rival != "builtin":
        fail(
            f"rival={excerpt(args.rival)} with --learners mm1,mm2: mm2 is the second learner "
            "(leave --rival at 'builtin')"
        )
    seeds: str = getattr(args, "seeds", "")
    if independent_learners(args) and seeds:
        fail(
            f"seeds={excerpt(args.seeds)} with --learners mm1,mm2: a seed sweep aggregates one "
            "policy per run; train two learners one seed at a time (--seed)"
        )


def check_market(args: Any, fail: Fail) -> None:
    """``--env-id`` must be a book or multi-venue env id and ``--regime`` a preset name.

    Checked with the settings, before anything is built or created: an unknown value would
    otherwise fail deep inside Gymnasium (``CartPole-v1``: a bare ``IndexError``). On
    ``mm_gym/MultiVenue-v0`` mm2 is each venue's built-in rival, so ``--rival`` must be
    ``builtin``; ``--regime`` applies to the asset's market as on a single venue.
    """
    import mm_gym
    from mm_gym.config import ConfigError, setting_preset

    trainable = mm_gym.BOOK_ENV_IDS + mm_gym.MULTI_VENUE_ENV_IDS
    if args.env_id in mm_gym.MULTI_VENUE_ENV_IDS and args.rival != "builtin":
        fail(
            f"rival={excerpt(args.rival)}: on {args.env_id} mm2 is each venue's built-in rival; "
            "the multi-venue env takes no rival policy (leave --rival at 'builtin')"
        )
    current, resume = mm_gym.retired_env_id(args.env_id), getattr(args, "resume", "")
    if current is not None:
        fail(
            f"env_id={args.env_id} is no longer registered (the market and the actions changed); "
            f"the current id is {current}"
            + (f": run {args.resume} cannot continue, start a new run" if resume else "")
        )
    if args.env_id not in trainable:
        why = ""
        if args.env_id in mm_gym.ENV_IDS:
            why = (
                " (the Avellaneda-Stoikov intensity model has no order book and no vector env: "
                "train.py trains on the book)"
            )
        elif args.env_id in mm_gym.PORTFOLIO_ENV_IDS:
            why = (
                " (train.py does not train on the portfolio, with one learner or two; for "
                "another trainer its two-maker envs are mm_gym.portfolio.parallel_env and "
                "PortfolioTwoMakerVectorEnv)"
            )
        fail(
            f"env_id={excerpt(args.env_id)} is not a trainable environment{why}; choose one of "
            f"{list(trainable)}"
        )
    if args.regime:
        try:
            setting_preset(args.regime)
        except ConfigError as exc:
            fail(f"regime={excerpt(args.regime)} is not valid: {str(exc).split(': ', 1)[1]}")


LEAGUE_FLAGS = (
    "league_current",
    "league_snapshot_every",
    "league_size",
    "league_baselines",
    "league_pfsp_power",
)
"""The settings of ``--league`` (:mod:`agents.league`)."""


def check_league(args: Any, fail: Fail) -> None:
    """``--league`` and its ``--league-*`` settings: ranges, baseline names, a usable pool.

    A ``--league-*`` setting other than its default needs ``--league``; the league needs two
    networks (``--learners mm1,mm2`` without ``--share-policy``).
    """
    if not hasattr(args, "league"):
        return
    if not args.league:
        defaults = type(args)()
        changed = [f for f in LEAGUE_FLAGS if getattr(args, f) != getattr(defaults, f)]
        if changed:
            fail(f"{changed[0]}={excerpt(getattr(args, changed[0]))} needs --league")
        return
    if not independent_learners(args):
        fail(
            "league=True needs --learners mm1,mm2 without --share-policy (two networks, each "
            "with its own opponents)"
        )
    if is_multivenue(args.env_id):
        fail(
            f"league=True on {args.env_id}: the league's opponents are single-venue policies; "
            "train two learners there without --league"
        )
    current, power = float(args.league_current), float(args.league_pfsp_power)
    if not (math.isfinite(current) and 0.0 <= current <= 1.0):
        fail(f"league_current={current!r} must be a finite number in [0, 1] (a probability)")
    if not (math.isfinite(power) and 0.0 <= power <= 100.0):
        fail(f"league_pfsp_power={power!r} must be a finite number in [0, 100]")
    if args.league_snapshot_every < 0:
        fail(f"league_snapshot_every={args.league_snapshot_every!r} must be >= 0 (0: none)")
    if args.league_size < 1:
        fail(f"league_size={args.league_size!r} must be >= 1")
    from baselines.registry import policy_names

    allowed = policy_names()
    names = league_baselines(args)
    for name in names:
        if name not in allowed:
            fail(
                f"league_baselines={excerpt(args.league_baselines)}: {excerpt(name)} is not a "
                f"baseline; choose from {list(allowed)}"
            )
    if len(set(names)) != len(names):
        fail(f"league_baselines={excerpt(args.league_baselines)} names a baseline twice")
    if current < 1.0 and not names and args.league_snapshot_every == 0:
        fail(
            f"league_current={current!r} < 1 draws opponents from the pool, but it stays empty: "
            "give --league-baselines or --league-snapshot-every > 0"
        )


def league_baselines(args: Any) -> list[str]:
    """The names of ``--league-baselines`` (comma-separated, blanks dropped)."""
    return [b.strip() for b in str(args.league_baselines).split(",") if b.strip()]


def check_env_and_memory(args: Any, overrides: dict[str, Any], fail: Fail) -> None:
    """Build one and three markets (checks the env settings) and refuse runs that cannot fit.

    The estimate: SB3's rollout buffer (``n_envs * n_steps`` rows of observation, action and
    six scalars, float32, twice: ``get()`` flattens into copies), plus the market state
    measured per market, three times (the env, the SB3 adapter's buffers, a checkpoint's
    pickled copy), plus the networks and Adam's moments. A league steps twice the markets.
    """
    import gymnasium as gym

    def markets(n: int) -> Any:
        return gym.make_vec(
            args.env_id, num_envs=n, vectorization_mode="vector_entry_point", **overrides
        ).unwrapped

    if two_learners(args):  # the one-maker env has no mm2 options; new_model checks them
        overrides = {k: v for k, v in overrides.items() if k not in TWO_MAKER_KEYS}
    try:
        one, three = markets(1), markets(3)
    except (ValueError, KeyError, TypeError, gym.error.Error) as exc:
        fail(f"--env-id/--env-kwargs/--regime: {exc}")
    action_type = str(getattr(getattr(one, "env_config", None), "action_type", "continuous"))
    check_trained_actions(one.single_action_space, fail, action_type, args.eval_episodes)
    per_market = max(array_bytes(three) - array_bytes(one), 0) / 2
    obs_dim = int(one.single_observation_space.shape[0])
    act_dim = int(one.single_action_space.shape[0])
    rollout = 2 * args.n_envs * args.n_steps * (obs_dim + act_dim + 6) * 4
    widths = [obs_dim, *args.net_arch]
    params = 2 * sum(a * b + b for a, b in itertools.pairwise(widths)) + (widths[-1] + 1) * (
        act_dim + 1
    )
    n_markets = args.n_envs * (2 if getattr(args, "league", False) else 1)
    need = rollout + 3 * n_markets * per_market + 4 * 4 * params
    try:
        check_memory(need, f"n_envs={args.n_envs} x n_steps={args.n_steps}")
    except MemoryLimitError as exc:
        fail(str(exc))


# --------------------------------------------- resolved: the env overrides, the total, a resume


def env_overrides(args: Any) -> dict[str, Any]:
    """The ``gym.make_vec`` overrides of the training env (``--regime`` and ``--env-kwargs``).

    ``--penalty-timing``, then ``--regime P``: preset ``P``'s differences from ``default``
    (:func:`preset_overrides`), then ``--env-kwargs`` on top, but the regime is ``P``'s (as
    ``--regime`` always set it).
    """
    timing = {"penalty_timing": args.penalty_timing}
    if not args.regime:
        return {**timing, **args.env_kwargs}
    chosen = preset_overrides(setting_preset(args.regime))
    return {**timing, **chosen, **args.env_kwargs, "regime": chosen["regime"]}


def round_total_timesteps(args: Any, done: int, prog: str) -> None:
    """Round ``--total-timesteps`` up to whole PPO rollouts from ``done`` steps, saying so.

    SB3 collects rollouts of ``n_envs x n_steps`` steps and stops after the first one that
    reaches the total, so ``--total-timesteps 1000`` with 512 x 50 would silently run 25,600.
    """
    seats = seats_per_market(args)  # self-play: every market is two envs (seats)
    rollout = args.n_envs * seats * args.n_steps
    remaining = args.total_timesteps - done
    if remaining <= 0 or remaining % rollout == 0:
        return
    total = done + -(-remaining // rollout) * rollout
    shape = (
        f"{args.n_envs} x {args.n_steps}" if seats == 1 else f"{args.n_envs} x 2 x {args.n_steps}"
    )
    print(
        f"{prog}: note: --total-timesteps {args.total_timesteps:,} rounded up to {total:,}: "
        f"PPO trains in whole rollouts of n_envs{' x seats' if seats > 1 else ''} x n_steps = "
        f"{shape} = {rollout:,} steps",
        file=sys.stderr,
    )
    args.total_timesteps = total


# Settings that may differ on --resume (they do not change what is trained).
RESUME_MUTABLE = (
    "total_timesteps",
    "checkpoint_every",
    "progress",
    "torch_threads",
    "eval_episodes",
    "eval_seed",
    "eval_baselines",
    "trust",
)


def resumed_settings(args: Any, given: set[str], run_dir: Path, fail: Fail) -> Any:
    """The saved settings of ``run_dir`` with the resume-mutable flags given (or in --config).

    ``args``: ``train.py``'s ``Args`` of this command line, ``given``: the flags it gave.
    """
    Args = type(args)  # train.py's settings dataclass
    saved = run_dir / "config.yaml"
    try:
        data = read_config_file(saved, "saved settings")
    except ConfigError as exc:
        fail(str(exc))
    where = f" (in {saved})"
    # Runs saved before the "touch" action mapping carry --init-offset-ticks, a setting of the
    # model's initialisation only (a resumed run restores its model): nothing to continue.
    data.pop("init_offset_ticks", None)
    # Runs saved before --penalty-timing trained with the env's own timing.
    data.setdefault("penalty_timing", "running")
    values = {**dataclasses.asdict(Args()), **settings_from_file(Args, data, str(saved), fail)}
    stored = Args(**values)
    check_types(stored, fail, where)
    if args.config:  # the --config file's settings count as given, as its flags would
        given = given | set(settings_from_file(Args, read_config_file(args.config), "", fail))
    changed = sorted(
        k for k in given - {"resume", "config"} - set(RESUME_MUTABLE)
        if getattr(args, k) != getattr(stored, k)
    )  # fmt: skip
    if changed:
        source = f"flags or settings in --config {args.config}" if args.config else "flags"
        fail(
            f"--resume continues the saved settings; these {source} differ from the saved "
            f"settings: {changed} (only {list(RESUME_MUTABLE)} may change)"
        )
    merged = dataclasses.replace(
        stored, **{k: getattr(args, k) for k in RESUME_MUTABLE if k in given}, resume=args.resume
    )
    check_settings(merged, fail, where)
    return merged
