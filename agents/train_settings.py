"""The checks of ``train.py``'s settings: types, ranges and their relations.

Kept apart from ``train.py``'s ``Args`` (which lists the settings with their help) so that
the script reads top to bottom; every problem is reported through the tool's ``fail`` (one
error line, exit code 2), as :mod:`mm_gym.cli` does.
"""

from __future__ import annotations

import math
from typing import Any, NoReturn

from mm_gym.cli import Fail, check_types
from mm_gym.config import excerpt
from mm_gym.files import UnsafePathError, safe_component

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


def _interval(lo: float, hi: float, lo_open: bool, hi_open: bool) -> str:
    return f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"


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
    for name in ("total_timesteps", "n_envs", "n_steps", "batch_size", "n_epochs", "torch_threads"):
        if getattr(args, name) < 1:
            bad(f"{name}={getattr(args, name)!r} must be >= 1")
    for name in ("checkpoint_every", "eval_episodes", "eval_seed", "seed"):
        if getattr(args, name) < 0:
            bad(f"{name}={getattr(args, name)!r} must be >= 0")
    if args.seed > MAX_SEED:
        bad(f"seed={args.seed!r} must be in [0, {MAX_SEED}] (numpy takes 32-bit seeds)")
    if args.eval_episodes == 1:
        bad("eval_episodes=1 must be 0 (skip) or >= 2 (confidence intervals need pairs)")
    rollout = args.n_envs * args.n_steps
    if args.batch_size > rollout:
        bad(f"batch_size={args.batch_size} must be <= n_envs * n_steps = {rollout}")
    if args.lr_schedule not in ("constant", "linear"):
        bad(f"lr_schedule={excerpt(args.lr_schedule)} must be 'constant' or 'linear'")
    if args.activation not in ("tanh", "relu"):
        bad(f"activation={excerpt(args.activation)} must be 'tanh' or 'relu'")
    from agents.rivals import BASELINE_NAMES

    unknown = [b for b in args.eval_baselines.split(",") if b and b not in BASELINE_NAMES]
    if unknown:
        bad(
            f"eval_baselines={excerpt(args.eval_baselines)}: {excerpt(unknown[0])} is not a "
            f"baseline; choose from {list(BASELINE_NAMES)}"
        )
    if args.run_name:
        check_run_name(args.run_name, bad)
