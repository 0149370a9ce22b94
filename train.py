"""Train a PPO quoting policy for mm1: ``python train.py [flags]``.

The learner quotes as mm1 in ``mm_gym/MarketMaking-v0`` (default preset) against the default
rival, on the native batched vector env (all markets stepped in one compiled call) through the
SB3 adapter of :mod:`agents`, with running normalisation of observations and rewards. The run
folder ``runs/<name>/`` receives:

    config.yaml          the effective settings (defaults < --config file < command line)
    metadata.json        versions, seed, steps, wall time, throughput, status, evaluation
    tb/                  TensorBoard logs (tensorboard --logdir runs)
    checkpoint/          everything needed to resume exactly (written atomically)
    policy.npz           the actor and observation statistics, numpy-only (agents.load_policy)
    model.zip            the SB3 model (with its optimizer state)
    vecnormalize.pkl     SB3's VecNormalize statistics (for SB3 users)
    evaluation.txt/.csv  the final table against the baselines on held-out seeds

Checkpoints are written every ``--checkpoint-every`` steps and on Ctrl-C (the first Ctrl-C
finishes the current update and saves; a second aborts). ``--resume runs/<name>`` continues
exactly where the run stopped (steps, optimizer, normalisation statistics, market state,
random state); only ``--total-timesteps`` and the options that do not change training
(``--checkpoint-every``, ``--progress``, ``--eval-*``) may be changed on resume.

Examples:
    python train.py
    python train.py --total-timesteps 2000000 --n-envs 256 --seed 1 --run-name ppo_s1
    python train.py --regime trending --env-kwargs inventory_penalty=0.005 flow.shock_rate=0.005
    python train.py --config my_run.yaml --learning-rate 1e-4
    python train.py --rival runs/ppo_s0          # a trained policy quotes as mm2
    python train.py --resume runs/ppo_s1 --total-timesteps 4000000
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import yaml

# numba (the market) and torch (PPO) each run an OpenMP pool on the 2 cores; their default
# busy-waiting threads starve each other between the env step and the update (measured 3-10x
# slower). Must be set before either runtime starts, hence here, before they are imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

PROG = "train.py"

# Reward options of the env: they may be changed for training (shaping), but the final table
# always scores the env's default reward, so they are dropped from the evaluation overrides.
REWARD_KEYS = (
    "reward_scale",
    "inventory_penalty",
    "terminal_penalty",
    "dampening",
    "utility",
    "cara_gamma",
    "max_drawdown",
)
# Settings that may differ on --resume (they do not change what is trained).
RESUME_MUTABLE = (
    "total_timesteps",
    "checkpoint_every",
    "progress",
    "torch_threads",
    "eval_episodes",
    "eval_seed",
    "eval_baselines",
)


@dataclass
class Args:
    """Settings of a training run; each field is a ``--flag`` and its metadata the help text."""

    config: str = field(
        default="", metadata={"help": "YAML file of settings (keys: these flags with underscores)"}
    )
    env_id: str = field(
        default="mm_gym/MarketMaking-v0", metadata={"help": "registered mm_gym environment id"}
    )
    env_kwargs: dict[str, Any] = field(
        default_factory=dict,
        metadata={
            "help": "environment overrides KEY=VALUE ... (values parsed as YAML), e.g. "
            "inventory_penalty=0.005 flow.shock_rate=0.005"
        },
    )
    regime: str = field(
        default="",
        metadata={"help": "market regime override: mean_reverting, trending, volatile, switching"},
    )
    rival: str = field(
        default="builtin",
        metadata={
            "help": "mm2: 'builtin', a baseline (fixed_spread, order_flow_skew, "
            "avellaneda_stoikov, glft, random) or a trained run folder"
        },
    )
    total_timesteps: int = field(
        default=20_000_000, metadata={"help": "environment steps to train for (all envs)"}
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
        metadata={"help": "hidden layer sizes of the actor and of the critic"},
    )
    activation: str = field(default="tanh", metadata={"help": "hidden activation: tanh or relu"})
    log_std_init: float = field(
        default=-2.0, metadata={"help": "initial log std of the Gaussian actions"}
    )
    init_offset_ticks: float = field(
        default=1.0,
        metadata={
            "help": "initial mean quote offset from the mid, ticks, of both sides (the start of "
            "the search; < 0: the middle of the action range, SB3's default)"
        },
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
    resume: str = field(default="", metadata={"help": "run folder to resume (runs/<name>)"})
    overwrite: bool = field(
        default=False, metadata={"help": "replace an existing run folder of the same name"}
    )
    checkpoint_every: int = field(
        default=2_000_000, metadata={"help": "steps between checkpoints (0: only at the end)"}
    )
    torch_threads: int = field(default=1, metadata={"help": "torch intra-op threads"})
    eval_episodes: int = field(
        default=200, metadata={"help": "held-out episodes per policy in the final table (0: skip)"}
    )
    eval_seed: int = field(
        default=0, metadata={"help": "master seed of the held-out evaluation seeds"}
    )
    eval_baselines: str = field(
        default="fixed_spread,order_flow_skew,avellaneda_stoikov",
        metadata={"help": "comma-separated baselines of the final table"},
    )
    progress: bool = field(default=True, metadata={"help": "show a progress bar"})


def fail(message: str) -> NoReturn:
    """Print one error line and exit with code 2."""
    print(f"{PROG}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _yaml_value(text: str) -> Any:
    """A YAML scalar, with ``1e-3`` read as a number (YAML 1.1 wants ``1.0e-3``)."""
    value = yaml.safe_load(text)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _parse_kv(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"--env-kwargs expects KEY=VALUE items, got {item!r}")
        out[key] = _yaml_value(value)
    return out


def parse_args(argv: list[str] | None = None) -> tuple[Args, set[str]]:
    """Merge defaults, the ``--config`` file and the command line; return them and the flags given.

    Raises:
        SystemExit: On an unknown flag or config key, or an invalid value (one error line).
    """
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=__doc__.split("\n\n")[0],
        argument_default=argparse.SUPPRESS,
    )
    defaults = Args()
    for f in dataclasses.fields(Args):
        flag = "--" + f.name.replace("_", "-")
        default = getattr(defaults, f.name)
        help_text = f"{f.metadata['help']} (default: {default!r})"
        if f.type in ("bool", bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, help=help_text)
        elif f.name == "env_kwargs":
            parser.add_argument(flag, nargs="*", metavar="KEY=VALUE", help=help_text)
        elif f.name == "net_arch":
            parser.add_argument(flag, nargs="+", type=int, metavar="UNITS", help=help_text)
        else:
            kind = {"int": int, "float": float}.get(str(f.type), str)
            parser.add_argument(flag, type=kind, help=help_text)
    given = vars(parser.parse_args(argv))
    if "env_kwargs" in given:
        given["env_kwargs"] = _parse_kv(given["env_kwargs"])
    values = dataclasses.asdict(defaults)
    if given.get("config"):
        values.update(load_config_file(given["config"]))
    values.update(given)
    args = Args(**values)
    validate(args)
    return args, set(given)


def load_config_file(path: str) -> dict[str, Any]:
    """Read a YAML settings file; unknown keys are an error."""
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        fail(f"cannot read --config {path!r}: {exc}")
    if not isinstance(data, dict):
        fail(f"--config {path!r} must hold a mapping of settings")
    names = {f.name for f in dataclasses.fields(Args)}
    data = {str(k).replace("-", "_"): v for k, v in data.items()}
    unknown = sorted(set(data) - names)
    if unknown:
        fail(f"unknown keys {unknown} in --config {path!r}; valid keys: {sorted(names)}")
    floats = {f.name for f in dataclasses.fields(Args) if str(f.type) == "float"}
    for key in floats & set(data):
        if isinstance(data[key], str):  # YAML 1.1 reads 3e-4 as a string
            data[key] = _yaml_value(data[key])
    return data


def validate(args: Args) -> None:
    """Check types and ranges of the settings (one error line on the first problem)."""
    for f in dataclasses.fields(Args):
        value = getattr(args, f.name)
        kind = str(f.type)
        if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
            fail(f"{f.name}={value!r} must be an integer")
        if kind == "float" and (isinstance(value, bool) or not isinstance(value, (int, float))):
            fail(f"{f.name}={value!r} must be a number")
        if kind == "bool" and not isinstance(value, bool):
            fail(f"{f.name}={value!r} must be true or false")
        if kind == "str" and not isinstance(value, str):
            fail(f"{f.name}={value!r} must be a string")
    for name in ("total_timesteps", "n_envs", "n_steps", "batch_size", "n_epochs", "torch_threads"):
        if getattr(args, name) < 1:
            fail(f"{name}={getattr(args, name)!r} must be >= 1")
    for name in ("checkpoint_every", "eval_episodes", "eval_seed", "seed"):
        if getattr(args, name) < 0:
            fail(f"{name}={getattr(args, name)!r} must be >= 0")
    if args.eval_episodes == 1:
        fail("eval_episodes=1 must be 0 (skip) or >= 2 (confidence intervals need pairs)")
    rollout = args.n_envs * args.n_steps
    if args.batch_size > rollout:
        fail(f"batch_size={args.batch_size} must be <= n_envs * n_steps = {rollout}")
    if not 0.0 < args.gamma <= 1.0 or not 0.0 <= args.gae_lambda <= 1.0:
        fail(f"gamma={args.gamma!r} must be in (0, 1] and gae_lambda={args.gae_lambda!r} in [0, 1]")
    if args.learning_rate <= 0 or args.clip_range <= 0 or args.clip_obs <= 0:
        fail("learning_rate, clip_range and clip_obs must be > 0")
    if args.lr_schedule not in ("constant", "linear"):
        fail(f"lr_schedule={args.lr_schedule!r} must be 'constant' or 'linear'")
    if args.activation not in ("tanh", "relu"):
        fail(f"activation={args.activation!r} must be 'tanh' or 'relu'")
    if not isinstance(args.net_arch, list) or not all(
        isinstance(u, int) and not isinstance(u, bool) and u >= 1 for u in args.net_arch
    ):
        fail(f"net_arch={args.net_arch!r} must be a list of positive integers")
    if not isinstance(args.env_kwargs, dict):
        fail(f"env_kwargs={args.env_kwargs!r} must be a mapping")


def env_overrides(args: Args) -> dict[str, Any]:
    """The ``gym.make_vec`` overrides of the training env (``--env-kwargs`` and ``--regime``)."""
    kwargs = dict(args.env_kwargs)
    if args.regime:
        kwargs["regime"] = args.regime
    return kwargs


def init_action(args: Args, max_offset_ticks: float) -> float | None:
    """The action whose offset is ``--init-offset-ticks`` (None if that is < 0)."""
    if args.init_offset_ticks < 0:
        return None
    return min(max(args.init_offset_ticks / (0.5 * max_offset_ticks) - 1.0, -1.0), 1.0)


def versions() -> dict[str, str]:
    """Versions of Python and of the packages that determine a run's results."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("mm-gym", "numpy", "numba", "torch", "stable-baselines3", "gymnasium"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    try:
        out["git_commit"] = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).resolve().parent, check=False,
        ).stdout.strip() or "unknown"  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        out["git_commit"] = "unknown"
    return out


def main(argv: list[str] | None = None, callbacks: list[Any] | None = None) -> Path:
    """Train (or resume) a run; return its folder. ``callbacks``: extra SB3 callbacks (tests)."""
    # ---- 1. settings and the run folder -------------------------------------------------
    args, given = parse_args(argv)
    if args.resume:
        run_dir = Path(args.resume)
        saved = run_dir / "config.yaml"
        if not saved.is_file():
            fail(f"--resume {args.resume!r}: no config.yaml there (not a train.py run folder)")
        stored = Args(**yaml.safe_load(saved.read_text()))
        changed = sorted(
            k for k in given - {"resume", "config"} - set(RESUME_MUTABLE)
            if getattr(args, k) != getattr(stored, k)
        )  # fmt: skip
        if changed:
            fail(f"--resume continues the saved settings; these differ from them: {changed}")
        args = dataclasses.replace(
            stored,
            **{k: getattr(args, k) for k in RESUME_MUTABLE if k in given},
            resume=args.resume,
        )
    else:
        name = args.run_name or (
            f"ppo_{args.env_id.split('/')[-1].split('-')[0].lower()}_s{args.seed}_"
            + time.strftime("%Y%m%d-%H%M%S")
        )
        run_dir = Path(args.runs_dir) / name
        if run_dir.exists() and any(run_dir.iterdir()):
            if not args.overwrite:
                fail(
                    f"{run_dir} exists: pass --resume {run_dir}, --overwrite or another --run-name"
                )
            import shutil

            shutil.rmtree(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        args.run_name = name
        from agents.training import atomic_write_text

        atomic_write_text(run_dir / "config.yaml", yaml.safe_dump(dataclasses.asdict(args)))

    # ---- 2. libraries, threads, determinism ---------------------------------------------
    import torch
    from stable_baselines3.common.logger import configure

    import mm_gym  # noqa: F401  (registers the env ids)
    from agents.ppo import build_ppo, make_training_env, native_env
    from agents.rivals import make_rival
    from agents.training import (
        CheckpointCallback,
        GracefulInterrupt,
        TrainingMonitor,
        atomic_write_text,
        load_checkpoint,
        save_checkpoint,
    )

    torch.set_num_threads(args.torch_threads)
    torch.use_deterministic_algorithms(True)

    # ---- 3. environment and model (new, or restored from the checkpoint) ----------------
    overrides = env_overrides(args)
    norm: dict[str, Any] = {
        "clip_obs": args.clip_obs,
        "clip_reward": 10.0,
        "gamma": args.gamma,
        "norm_obs": args.norm_obs,
        "norm_reward": args.norm_reward,
    }
    wall_before = 0.0
    try:
        if args.resume:
            model, venv, progress = load_checkpoint(run_dir, **norm)
            wall_before = float(progress["wall_time_s"])
            print(f"resuming {run_dir} at {model.num_timesteps:,} steps")
        else:
            rival = make_rival(args.rival, args.env_id, overrides)
            venv = make_training_env(args.env_id, args.n_envs, overrides, rival=rival, **norm)
            model = build_ppo(
                venv,
                seed=args.seed,
                learning_rate=args.learning_rate,
                lr_schedule=args.lr_schedule,
                n_steps=args.n_steps,
                batch_size=args.batch_size,
                n_epochs=args.n_epochs,
                gamma=args.gamma,
                gae_lambda=args.gae_lambda,
                clip_range=args.clip_range,
                ent_coef=args.ent_coef,
                vf_coef=args.vf_coef,
                max_grad_norm=args.max_grad_norm,
                target_kl=args.target_kl or None,
                net_arch=args.net_arch,
                activation=args.activation,
                log_std_init=args.log_std_init,
                init_action=init_action(args, native_env(venv).env_config.max_offset_ticks),
            )
    except (ValueError, KeyError, FileNotFoundError) as exc:
        fail(str(exc))
    native = native_env(venv)
    feature_names = tuple(native.feature_names)
    max_offset = float(native.env_config.max_offset_ticks)
    model.set_logger(configure(str(run_dir / "tb"), ["tensorboard"]))

    # ---- 4. checkpoints, Ctrl-C, logging ------------------------------------------------
    session_start = time.perf_counter()
    steps_at_start = int(model.num_timesteps)

    def wall_time() -> float:
        return wall_before + time.perf_counter() - session_start

    saved_steps = [steps_at_start]

    def checkpoint() -> None:
        save_checkpoint(
            run_dir, model, venv, feature_names=feature_names, max_offset_ticks=max_offset,
            wall_time_s=wall_time(),
        )  # fmt: skip
        saved_steps.append(int(model.num_timesteps))

    interrupt = GracefulInterrupt()
    saver = CheckpointCallback(checkpoint, args.checkpoint_every, interrupt)
    monitor = TrainingMonitor(args.total_timesteps, progress_bar=args.progress)

    # ---- 5. train -----------------------------------------------------------------------
    remaining = args.total_timesteps - int(model.num_timesteps)
    with interrupt:
        if remaining > 0:
            model.learn(
                remaining,
                callback=[monitor, saver, *(callbacks or [])],
                reset_num_timesteps=False,
                log_interval=1,
            )
        if not saver.stopped:
            # After a stop the env has taken one step past the checkpoint: keep the checkpoint.
            checkpoint()
    status = "interrupted" if saver.stopped else "completed"
    session_s = time.perf_counter() - session_start
    steps_per_s = (int(model.num_timesteps) - steps_at_start) / max(session_s, 1e-9)

    # ---- 6. the run's metadata (the model files were written with the last checkpoint) --
    metadata: dict[str, Any] = {
        "status": status,
        "run_name": run_dir.name,
        "env_id": args.env_id,
        "env_kwargs": overrides,
        "rival": args.rival,
        "seed": args.seed,
        "num_timesteps": saved_steps[-1],
        "wall_time_s": round(wall_time(), 2),
        "session_env_steps_per_s": round(steps_per_s, 1),
        "torch_threads": args.torch_threads,
        "feature_names": list(feature_names),
        "partial_resets": int(venv.venv.partial_resets),  # type: ignore[attr-defined]
        "versions": versions(),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    print(
        f"{status}: {saved_steps[-1]:,} steps in {run_dir}; this session "
        f"{steps_per_s:,.0f} env-steps/s, run wall time {wall_time():.0f} s"
    )

    # ---- 7. the new policy against the baselines on held-out seeds ----------------------
    if status == "completed" and args.eval_episodes > 0:
        from agents.compare import compare_with_baselines, format_comparison
        from agents.policy import load_policy

        eval_overrides = {k: v for k, v in overrides.items() if k not in REWARD_KEYS}
        baselines = [b for b in args.eval_baselines.split(",") if b]
        t0 = time.perf_counter()
        comp = compare_with_baselines(
            load_policy(run_dir, name=run_dir.name), baselines, args.env_id, eval_overrides,
            n_episodes=args.eval_episodes, seed=args.eval_seed, rival=args.rival,
        )  # fmt: skip
        text = format_comparison(comp)
        print(text)
        atomic_write_text(run_dir / "evaluation.txt", text + "\n")
        atomic_write_text(run_dir / "evaluation.csv", comp.table.to_csv(index=False))
        metadata["evaluation"] = {
            "episodes": args.eval_episodes,
            "eval_seed": args.eval_seed,
            "beats_all_baselines": comp.beats_all,
            "seconds": round(time.perf_counter() - t0, 1),
            "table": json.loads(comp.table.to_json(orient="records")),
        }
    atomic_write_text(run_dir / "metadata.json", json.dumps(metadata, indent=2, default=str) + "\n")
    venv.close()
    return run_dir


if __name__ == "__main__":
    main()
