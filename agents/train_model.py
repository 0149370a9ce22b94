"""``train.py``'s model: the training stack set up, the env and PPO model built or restored.

Phases 2 and 3 of ``train.py``'s ``main``: :func:`set_up_torch` imports the training stack and
makes torch deterministic, :func:`build_or_restore` builds the training env and its model
(:func:`new_model`: one PPO model, or a ``LearnerPair`` of two learners) or restores them from
a resumed run's checkpoint, once :func:`check_digests` has matched its files against the
digests ``metadata.json`` records. ``args`` is ``train.py``'s ``Args``; every problem is
reported through the tool's ``fail`` (one error line, exit code 2). torch and SB3 are imported
on first use: ``train.py`` imports this module before it sets ``OMP_WAIT_POLICY``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mm_gym.cli import Fail


def set_up_torch(threads: int) -> None:
    """Import the training stack; set torch's intra-op threads and deterministic algorithms."""
    import importlib

    import torch

    import mm_gym  # noqa: F401  (registers the env ids)

    # Every heavy import happens here, before the env is built, as it always has: the phases
    # below then only run code (a Ctrl-C during the imports is a plain KeyboardInterrupt).
    for module in ("stable_baselines3.common.logger", "agents.ppo", "agents.training"):
        importlib.import_module(module)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)


def _norm_settings(args: Any) -> dict[str, Any]:
    """``VecNormalize``'s settings."""
    return {
        "clip_obs": args.clip_obs,
        "clip_reward": 10.0,
        "gamma": args.gamma,
        "norm_obs": args.norm_obs,
        "norm_reward": args.norm_reward,
    }


def build_or_restore(
    args: Any,
    overrides: dict[str, Any],
    run_dir: Path | None,
    metadata: dict[str, Any],
    fail: Fail,
) -> tuple[Any, Any, float]:
    """The model and env: restored from ``run_dir``'s checkpoint, else new.

    Returns:
        The PPO model, its ``VecNormalize`` env and the wall time of earlier sessions, seconds.
    """
    from agents.league import league_of
    from agents.learner_pair import load_pair_checkpoint
    from agents.train_settings import independent_learners
    from agents.training import checkpoint_path, load_checkpoint

    ckpt = checkpoint_path(run_dir) if run_dir is not None else None
    if run_dir is not None and ckpt is None and metadata.get("checkpoint_sha256"):
        fail(f"--resume {args.resume!r}: its checkpoint/ folder is missing (metadata.json "
             "records one); restore it or start a new run")  # fmt: skip
    try:
        if ckpt is None:
            if run_dir is not None:  # stopped before its first checkpoint: start it again
                print(f"resuming {run_dir} from the start (it has no checkpoint yet)")
            model, venv = new_model(args, overrides)
            return model, venv, 0.0
        if not args.trust:
            check_digests(ckpt, metadata, fail)
        if independent_learners(args):
            league = league_of(args, overrides)
            model, progress = load_pair_checkpoint(ckpt.parent, _norm_settings(args), league)
            venv = model.venvs[0]
        else:
            model, venv, progress = load_checkpoint(ckpt.parent, **_norm_settings(args))
    except (ValueError, KeyError, FileNotFoundError) as exc:  # incl. ConfigError, CheckpointError
        fail(str(exc))
    print(f"resuming {run_dir} at {model.num_timesteps:,} steps")
    return model, venv, float(progress["wall_time_s"])


def check_digests(ckpt: Path, metadata: dict[str, Any], fail: Fail) -> None:
    """Refuse a checkpoint whose files do not match the digests ``metadata.json`` records."""
    from agents.training import CheckpointError, verify_checkpoint

    recorded = metadata.get("checkpoint_sha256")
    try:
        verify_checkpoint(ckpt, recorded if isinstance(recorded, list) else [])
    except CheckpointError as exc:
        fail(
            f"{exc}; --resume unpickles these files, so it loads only checkpoints "
            "matching the recorded digests: pass --trust to load it anyway"
        )


def new_model(args: Any, overrides: dict[str, Any]) -> tuple[Any, Any]:
    """A new training env (with its rival) and PPO model (two learners: a ``LearnerPair``)."""
    from agents.ppo import build_ppo, make_self_play_env, make_training_env
    from agents.rivals import make_rival
    from agents.train_settings import independent_learners, two_learners

    hyper = {
        name: getattr(args, name)
        for name in ("learning_rate", "lr_schedule", "n_steps", "batch_size", "n_epochs",
                     "gamma", "gae_lambda", "clip_range", "ent_coef", "vf_coef",
                     "max_grad_norm", "net_arch", "activation", "log_std_init")
    }  # fmt: skip
    hyper["target_kl"] = args.target_kl or None
    if independent_learners(args):  # two networks, one per maker (agents.learner_pair)
        from agents.league import league_of
        from agents.learner_pair import new_pair

        pair = new_pair(args.env_id, args.n_envs, overrides, _norm_settings(args),
                        seed=args.seed, league=league_of(args, overrides), **hyper)  # fmt: skip
        return pair, pair.venvs[0]
    if two_learners(args):  # one policy for both seats
        venv = make_self_play_env(args.env_id, args.n_envs, overrides, **_norm_settings(args))
    else:
        rival = make_rival(args.rival, args.env_id, overrides)
        venv = make_training_env(
            args.env_id, args.n_envs, overrides, rival=rival, **_norm_settings(args)
        )
    # SB3's initial action mean 0 quotes at the touch under the default action_mapping="touch"
    # (the first rollouts see fills; under "mid" it would quote max_offset / 2 away, no fills).
    model = build_ppo(venv, seed=args.seed, **hyper)
    return model, venv
