"""Train a PPO quoting policy for mm1: ``python train.py [flags]``.

The learner quotes as mm1 in ``mm_gym/MarketMaking-v1`` (default preset) against the default
rival (or, with ``--env-id mm_gym/MultiVenue-v0``, on every venue of one asset: a bid and an
ask per venue, mm2 each venue's built-in rival, or with ``--learners mm1,mm2`` a second
learner), on the native batched vector env (all markets
stepped in one compiled call) through the SB3 adapter of :mod:`agents`, with running
normalisation of observations and rewards. The run folder ``runs/<name>/`` receives:

    config.yaml          the effective settings (defaults < --config file < command line)
    metadata.json        versions, seed, steps, wall time, throughput, status, evaluation
    tb/                  TensorBoard logs (tensorboard --logdir runs)
    checkpoint/          everything needed to resume exactly (written atomically)
    policy.npz           the actor and observation statistics, numpy-only (agents.load_policy)
    model.zip            the SB3 model (with its optimizer state)
    vecnormalize.pkl     SB3's VecNormalize statistics (for SB3 users)
    evaluation.txt/.csv  the final table against the baselines on held-out seeds (on
                         MultiVenue-v0 the multi-venue baselines, through the tournament of
                         mm_gym.multivenue.tournament)

Checkpoints are written every ``--checkpoint-every`` steps and on Ctrl-C or SIGTERM (the first
finishes the current update and saves; a second aborts). ``--resume runs/<name>`` continues
exactly where the run stopped (steps, optimizer, normalisation statistics, market state,
random state); only ``--total-timesteps`` and the options that do not change training
(``--checkpoint-every``, ``--progress``, ``--eval-*``, ``--trust``) may be changed on resume.

``--resume`` unpickles files of the run folder (SB3's ``model.zip`` and the market state
``env_state.pkl``): unpickling can run code, so resume only runs you trust. ``metadata.json``
records the SHA-256 digests of the checkpoint files as train.py saves them, and ``--resume``
refuses a checkpoint that does not match them unless ``--trust`` is given.

Every setting (the env id, the regime, the rival, the env overrides, the memory needed) is
checked, and the env and model built, before the run folder is created: a failed start leaves
nothing behind. PPO trains in whole rollouts of ``n_envs x n_steps`` steps: a
``--total-timesteps`` that is not a multiple is rounded up, and the note says so.

Safety: ``--run-name`` is one plain folder name; ``--overwrite`` deletes only a folder that
holds a train.py ``metadata.json`` (written when the run starts), and only after every setting
has been checked and the env and model built. A run stopped before its first checkpoint
(nothing in its folder but ``metadata.json``, ``config.yaml`` and ``tb/``) does not block its
name: running the same command again starts it afresh (``--resume`` works too). A run holds a
lock on its folder while it trains, so a second train.py on the same folder stops with an error;
temporaries left by a killed run are removed when the next one starts there. The memory a run
needs is estimated first.

Examples:
    python train.py
    python train.py --total-timesteps 2e6 --n-envs 256 --seed 1 --run-name ppo_s1
    python train.py --regime trending --env-kwargs inventory_penalty=0.005 flow.shock_rate=0.005
    python train.py --regime shock_heavy           # any book preset, as evaluate.py --regimes
    python train.py --config my_run.yaml --learning-rate 1e-4
    python train.py --rival runs/ppo_s0          # a trained policy quotes as mm2
    python train.py --rival mypkg.mymod:MyPolicy # your own QuotingPolicy quotes as mm2
    python train.py --env-id mm_gym/MultiVenue-v0 --total-timesteps 3e7  # three venues
    python train.py --learners mm1,mm2 --run-name pair  # two networks: runs/pair/mm1, mm2
    python train.py --learners mm1,mm2 --league  # ... against a league of opponents
    python train.py --env-id mm_gym/MultiVenue-v0 --learners mm1,mm2  # both makers, 3 venues
    python train.py --resume runs/ppo_s1 --total-timesteps 4000000
    python train.py --seeds 0-9 --ray            # ten runs as Ray tasks, then their aggregate
"""

# ruff: noqa: E402  (the Ctrl-C handler below is set before the slow imports)
from __future__ import annotations

import contextlib
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Each Ctrl-C received before training: "starting" (the imports below; its line printed there)
# or "running". Python swallows an exception raised in a weakref callback (the import machinery
# runs one per module lock) and goes on: raise_if_interrupted() raises a recorded one again.
_INTERRUPTED: list[str] = []


def _interrupted_while_starting(signum: int, frame: Any) -> None:
    """Ctrl-C while the script's own imports run: one line and exit 130, not a traceback."""
    _INTERRUPTED.append("starting")
    print("train.py: error: interrupted while starting; nothing was written", file=sys.stderr)
    sys.exit(130)


def _interrupted(signum: int, frame: Any) -> None:
    """Ctrl-C before training starts: recorded, then raised as ``KeyboardInterrupt``."""
    _INTERRUPTED.append("running")
    raise KeyboardInterrupt


def raise_if_interrupted() -> None:
    """Raise ``KeyboardInterrupt`` if a Ctrl-C was received (and maybe swallowed) since start."""
    if _INTERRUPTED:
        raise KeyboardInterrupt


def _unraisable(info: Any) -> None:
    """``sys.unraisablehook``: a swallowed Ctrl-C is already recorded; anything else is reported."""
    if info.exc_type is not None and issubclass(info.exc_type, (KeyboardInterrupt, SystemExit)):
        return
    sys.__unraisablehook__(info)


# Set before the imports below (numba, the package: seconds on a loaded machine) and replaced by
# _interrupted when cli() starts; a test importing this file keeps Python's handler.
if __name__ == "__main__":
    signal.signal(signal.SIGINT, _interrupted_while_starting)
    sys.unraisablehook = _unraisable

from agents import train_settings
from agents.run_folder import (
    check_new_run_folder,
    open_resumed_run,
    start_new_run,
    write_metadata,
)
from agents.train_model import build_or_restore, set_up_torch
from agents.train_session import (
    attach_logs,
    evaluate_run,
    make_checkpointer,
    record_session,
    train,
)
from agents.train_settings import (
    check_env_and_memory,
    check_run_name,
    check_settings,
    env_overrides,
    round_total_timesteps,
)
from mm_gym.cli import Fail, exit_with_error, one_line, parse_settings, settings_parser
from mm_gym.config import book_preset_names

# numba (the market) and torch (PPO) each run an OpenMP pool on the 2 cores; their default
# busy-waiting threads starve each other between the env step and the update (measured 3-10x
# slower). Must be set before either runtime starts, hence here, before they are imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

PROG = "train.py"


@dataclass
class Args:
    """Settings of a training run; each field is a ``--flag`` and its metadata the help text."""

    config: str = field(
        default="", metadata={"help": "YAML file of settings (keys: these flags with underscores)"}
    )
    env_id: str = field(
        default="mm_gym/MarketMaking-v1",
        metadata={
            "help": "order-book environment id: mm_gym/MarketMaking-v1 (preset default), "
            "MeanReverting-v1, Trending-v1, Volatile-v1, Switching-v1, ShockHeavy-v1, Hawkes-v1, "
            "or MultiVenue-v0 (one asset on several venues; mm2 the built-in rival, or a second "
            "learner with --learners mm1,mm2) (each "
            "mm_gym/...; not AS2008-v1, which has no book)"
        },
    )
    env_kwargs: dict[str, Any] = field(
        default_factory=dict,
        metadata={
            "help": "environment overrides KEY=VALUE ... (values parsed as YAML), e.g. "
            "inventory_penalty=0.005 flow.shock_rate=0.005"
        },
    )
    penalty_timing: str = field(
        default="upfront",
        metadata={
            "help": "when the training env charges the inventory penalties (EnvConfig."
            "penalty_timing): 'upfront' as the inventory is taken on, or 'running' while it is "
            "held; the same totals over whole episodes (not truncated ones, see README), and "
            "the held-out tables use the env's default (a penalty_timing in --env-kwargs "
            "takes precedence)"
        },
    )
    regime: str = field(
        default="",
        metadata={
            "help": "market preset, the names of evaluate.py --regimes: "
            + ", ".join(book_preset_names())
            + " (or a book env id); applied on top of --env-id's preset as its differences "
            "from 'default', always with its regime; --env-kwargs override other fields"
        },
    )
    rival: str = field(
        default="builtin",
        metadata={
            "help": "mm2: 'builtin', a baseline (fixed_spread, order_flow_skew, "
            "avellaneda_stoikov, glft, random), a trained run folder, or "
            "mypkg.mymod:MyPolicy (your own QuotingPolicy, see evaluate.py --help); "
            "'builtin' only on mm_gym/MultiVenue-v0"
        },
    )
    learners: str = field(
        default="mm1",
        metadata={
            "help": "who learns: mm1 (against --rival), or mm1,mm2: both makers of every market "
            "learn at once (--n-envs counts markets), each with its own network "
            "(runs/<name>/mm1/, mm2/; --total-timesteps counts market steps), or with "
            "--share-policy one network for both seats; on MultiVenue-v0 too (mm2_latency=...)"
        },
    )
    share_policy: bool = field(
        default=False,
        metadata={
            "help": "with --learners mm1,mm2: one network for both seats (parameter sharing, "
            "self-play), the seat an agent_id observation feature"
        },
    )
    league: bool = field(
        default=False,
        metadata={
            "help": "with --learners mm1,mm2: a self-play league (agents.league): each learner "
            "plays its own --n-envs markets against the other's current policy, the other's "
            "past snapshots and --league-baselines, drawn by prioritised fictitious self-play"
        },
    )
    league_current: float = field(
        default=0.5, metadata={"help": "--league: probability of the other's current policy"}
    )
    league_snapshot_every: int = field(
        default=1_000_000, metadata={"help": "--league: steps between snapshots (0: none)"}
    )
    league_size: int = field(
        default=10, metadata={"help": "--league: snapshots kept per learner (the latest)"}
    )
    league_baselines: str = field(
        default="fixed_spread,order_flow_skew,avellaneda_stoikov",
        metadata={"help": "--league: comma-separated baselines.registry names in the pools"},
    )
    league_pfsp_power: float = field(
        default=2.0,
        metadata={"help": "--league: p of the PFSP weight (1 - win rate)^p (0: uniform)"},
    )
    total_timesteps: int = field(
        default=20_000_000,
        metadata={
            "help": "environment steps to train for (all envs; 2e7 accepted), rounded up to "
            "whole rollouts of n_envs x n_steps"
        },
    )
    n_envs: int = field(default=512, metadata={"help": "markets stepped together"})
    n_steps: int = field(default=50, metadata={"help": "steps per env per PPO rollout"})
    batch_size: int = field(default=12_800, metadata={"help": "PPO minibatch size"})
    n_epochs: int = field(default=4, metadata={"help": "passes over each rollout"})
    learning_rate: float = field(default=1e-3, metadata={"help": "Adam step size"})
    lr_schedule: str = field(
        default="linear", metadata={"help": "learning-rate schedule: constant or linear (to 0)"}
    )
    gamma: float = field(default=0.99, metadata={"help": "discount factor"})
    gae_lambda: float = field(default=0.95, metadata={"help": "GAE lambda"})
    clip_range: float = field(default=0.2, metadata={"help": "PPO clip range"})
    ent_coef: float = field(default=0.0, metadata={"help": "entropy bonus weight"})
    vf_coef: float = field(default=0.5, metadata={"help": "value loss weight"})
    max_grad_norm: float = field(default=0.5, metadata={"help": "gradient clipping norm"})
    target_kl: float = field(
        default=0.0, metadata={"help": "early-stop an update past this KL (0: never)"}
    )
    net_arch: list[int] = field(
        default_factory=lambda: [64, 64],
        metadata={"help": "hidden layer sizes of the actor and of the critic", "metavar": "UNITS"},
    )
    activation: str = field(default="tanh", metadata={"help": "hidden activation: tanh or relu"})
    log_std_init: float = field(
        default=-2.0, metadata={"help": "initial log std of the Gaussian actions"}
    )
    norm_obs: bool = field(default=True, metadata={"help": "normalise observations (running)"})
    norm_reward: bool = field(
        default=True, metadata={"help": "scale rewards by the running std of the return"}
    )
    clip_obs: float = field(default=10.0, metadata={"help": "bound of normalised observations"})
    seed: int = field(default=0, metadata={"help": "seed of torch, numpy and the env"})
    run_name: str = field(
        default="", metadata={"help": "run folder name (default ppo_<env>_s<seed>_<time>)"}
    )
    runs_dir: str = field(default="runs", metadata={"help": "parent folder of the runs"})
    resume: str = field(
        default="",
        metadata={
            "help": "run folder to resume (runs/<name>); this unpickles its checkpoint files "
            "(SB3's format), so resume only runs you trust: they must match the SHA-256 "
            "digests recorded in its metadata.json unless --trust"
        },
    )
    trust: bool = field(
        default=False,
        metadata={
            "help": "with --resume: load checkpoint files even if they do not match the "
            "digests recorded in metadata.json (they are unpickled: only files you trust)"
        },
    )
    overwrite: bool = field(
        default=False,
        metadata={
            "help": "replace an existing run folder of the same name (only a train.py run, "
            "recognised by its metadata.json)"
        },
    )
    checkpoint_every: int = field(
        default=2_000_000, metadata={"help": "steps between checkpoints (0: only at the end)"}
    )
    torch_threads: int = field(default=1, metadata={"help": "torch intra-op threads, 1-4 per CPU"})
    eval_episodes: int = field(
        default=200, metadata={"help": "held-out episodes per policy in the final table (0: skip)"}
    )
    eval_seed: int = field(
        default=0, metadata={"help": "master seed of the held-out evaluation seeds"}
    )
    eval_baselines: str = field(
        default="",
        metadata={
            "help": "comma-separated baselines of the final table (default: "
            "fixed_spread,order_flow_skew,avellaneda_stoikov; on mm_gym/MultiVenue-v0 "
            "routed_as,routed_glft,everywhere_as, the multi-venue tournament's names)"
        },
    )
    progress: bool = field(default=True, metadata={"help": "show a progress bar"})
    seeds: str = field(
        default="",
        metadata={
            "help": "train one run per seed, e.g. 0-9 or 0,2,5 (runs/<name>_s<seed>), then "
            "aggregate their held-out comparisons across seeds (mean, 95%% CI) into "
            "runs/<name>_seeds/ (agents.sweep)"
        },
    )
    ray: str = field(
        default="",
        metadata={
            "help": "with --seeds: train the seeds as Ray tasks; --ray alone starts a local Ray, "
            "--ray HOST:PORT joins a cluster (ray start --head; extra 'ray')",
            "const": "local",
            "metavar": "ADDRESS",
        },
    )


fail: Fail = exit_with_error(PROG)
"""Print one error line and exit with code 2."""


def parse_args(argv: list[str] | None = None) -> tuple[Args, set[str]]:
    """Merge defaults, the ``--config`` file and the command line; return them and the flags given.

    With ``--resume`` only the types of the flags are checked here: the settings are checked
    once merged with the saved ones (so that a changed setting is reported as such first).

    Raises:
        SystemExit: On an unknown flag or config key, or an invalid value (one error line).
    """
    parser = settings_parser(Args, prog=PROG, description=__doc__.split("\n\n")[0], fail=fail)
    args, given = parse_settings(Args, parser, argv, fail)
    if "run_name" in given:  # "" (the default name) only by leaving the flag out
        check_run_name(args.run_name, fail)
    if not args.resume:
        validate(args)
    return args, given


def validate(args: Args, where: str = "") -> None:
    """Check types and ranges of the settings (one error line on the first problem)."""
    check_settings(args, fail, where)


def resumed_settings(args: Args, given: set[str], run_dir: Path) -> Args:
    """The saved settings of ``run_dir`` with the resume-mutable flags given (or in --config).

    :func:`agents.train_settings.resumed_settings` with this tool's ``fail``.
    """
    merged: Args = train_settings.resumed_settings(args, given, run_dir, fail)
    return merged


# ---------------------------------------------------------------- the run, phase by phase


def main(argv: list[str] | None = None, callbacks: list[Any] | None = None) -> Path:
    """Train (or resume) a run; return its folder. ``callbacks``: extra SB3 callbacks (tests)."""
    args, given = parse_args(argv)
    if args.seeds or args.ray:  # a seed sweep: one run per seed, then their aggregate
        return sweep(argv, args, given)
    with contextlib.ExitStack() as hold:  # holds the run folder's lock until the run ends
        # 1. settings; the folder of a resumed run, locked
        run_dir: Path | None = None
        metadata: dict[str, Any] = {}
        if args.resume:
            args, run_dir, metadata = open_resumed_run(args, given, hold, fail)
        elif args.run_name:
            reuse = Path(args.runs_dir) / args.run_name
            if check_new_run_folder(reuse, args.overwrite, fail):
                print(f"{PROG}: note: {reuse} holds a run stopped before its first checkpoint: "
                      "starting it again", file=sys.stderr)  # fmt: skip
        # 2. libraries, threads, determinism
        set_up_torch(args.torch_threads)
        raise_if_interrupted()
        # 3. environment and model (new, or restored); all checked before a folder is touched
        overrides = env_overrides(args)
        check_env_and_memory(args, overrides, fail)
        model, venv, wall_before = build_or_restore(args, overrides, run_dir, metadata, fail)
        round_total_timesteps(args, int(model.num_timesteps), PROG)
        raise_if_interrupted()
        if run_dir is None:
            run_dir, metadata = start_new_run(args, hold, fail, PROG)
        attach_logs(model, run_dir)
        # 4. train, with checkpoints on schedule and on Ctrl-C / SIGTERM
        saver = make_checkpointer(run_dir, model, venv, metadata, wall_before)
        status = train(args, saver, callbacks)
        # 5. the run's metadata (the model files were written with the last checkpoint); on
        # disk before the table, which a Ctrl-C may stop (--resume --eval-episodes redoes it)
        record_session(args, saver, status, overrides)
        write_metadata(run_dir, metadata)
        # 6. the new policy against the baselines on held-out seeds
        if status == "completed" and args.eval_episodes > 0:
            evaluate_run(args, run_dir, overrides, metadata)
            write_metadata(run_dir, metadata)
        venv.close()
        return run_dir


def sweep(argv: list[str] | None, args: Args, given: set[str]) -> Path:
    """``--seeds``: :func:`agents.sweep.run_sweep`; return the aggregate folder."""
    if not args.seeds:
        fail("--ray trains the seeds of --seeds as Ray tasks: give --seeds too (e.g. 0-9)")
    if "seed" in given:
        fail(f"--seed={args.seed} and --seeds={args.seeds}: give one (--seeds sets each run's)")
    from agents.sweep import run_sweep

    root = Path(__file__).resolve().parent
    return run_sweep(sys.argv[1:] if argv is None else argv, args, fail, root)


def cli(argv: list[str] | None = None) -> int:
    """The command line: :func:`main`, every failure reported as one ``train.py: error:`` line.

    Returns:
        The exit status: 0, 1 (unexpected error), 2 (invalid settings), 130 (interrupted).
    """
    # A Ctrl-C from here: below (training installs its own, which saves a checkpoint); an earlier
    # in-process call's is over, one during the script's imports (recorded "starting") is not.
    _INTERRUPTED[:] = [x for x in _INTERRUPTED if x == "starting"]
    previous = signal.signal(signal.SIGINT, _interrupted)
    try:
        return _cli(argv)
    finally:
        if previous not in (None, _interrupted_while_starting):  # a caller's Python handler
            signal.signal(signal.SIGINT, previous)


def _cli(argv: list[str] | None) -> int:  # cli() under its Ctrl-C handler
    try:
        main(argv)
    except SystemExit as exc:  # fail() has printed its line; --help exits 0
        return exc.code if isinstance(exc.code, int) else 2
    except MemoryError as exc:
        print(f"{PROG}: error: out of memory ({one_line(exc)}); try a smaller --n-envs",
              file=sys.stderr)  # fmt: skip
        return 1
    except (KeyboardInterrupt, Exception) as exc:
        # A Ctrl-C landing inside a library's C code may surface as that library's error.
        if not isinstance(exc, KeyboardInterrupt) and not _INTERRUPTED:
            print(f"{PROG}: error: {one_line(exc)}", file=sys.stderr)  # never a traceback
            return 1
        if "starting" not in _INTERRUPTED:  # else its line was printed while the imports ran
            print(f"{PROG}: error: interrupted; nothing more was saved (a started run keeps its "
                  "last checkpoint: python train.py --resume runs/<name>; one stopped before its "
                  "first checkpoint starts again under the same --run-name)",
                  file=sys.stderr)  # fmt: skip
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(cli())
