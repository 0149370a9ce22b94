"""A ``train.py`` session once its run folder exists: training, its record, the final table.

Phases 4 to 6 of ``train.py``'s ``main``: :func:`train` runs PPO to ``--total-timesteps`` with
checkpoints on schedule and on Ctrl-C / SIGTERM (:class:`Checkpointer` writes them and keeps the
run's ``metadata.json`` record of them current), :func:`record_session` puts the session's
outcome into the metadata and prints it, :func:`evaluate_run` writes the new policy's table
against the baselines on held-out seeds. ``args`` is ``train.py``'s ``Args``. torch and SB3 are
imported on first use: ``train.py`` imports this module before it sets ``OMP_WAIT_POLICY``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from agents.run_folder import versions, write_metadata
from mm_gym.files import atomic_write_text


class Checkpointer:
    """Writes the run's checkpoints and keeps its metadata's record of them current.

    Attributes:
        saved_steps: ``num_timesteps`` at the start of this session and at every checkpoint.
    """

    def __init__(
        self, run_dir: Path, model: Any, venv: Any, metadata: dict[str, Any], wall_before: float
    ) -> None:
        """Start this session's clock."""
        from agents.ppo import native_env

        self.run_dir, self.model, self.venv, self.metadata = run_dir, model, venv, metadata
        native = native_env(venv)
        self.feature_names = tuple(native.feature_names)
        self.max_offset = float(native.env_config.max_offset_ticks)
        # A resumed run's env unpickles with its own mapping ("mid" if it predates the field).
        self.action_mapping = str(native.env_config.action_mapping)
        self.wall_before = wall_before
        self.session_start = time.perf_counter()
        self.saved_steps = [int(model.num_timesteps)]

    def wall_time(self) -> float:
        """Training wall time of all sessions of the run, seconds."""
        return self.wall_before + time.perf_counter() - self.session_start

    def record(self, digests: dict[str, str], published: bool) -> None:
        """Record a checkpoint's digests (:func:`agents.training.save_checkpoint`'s ``record``)."""
        # Until the new checkpoint replaces the old one, either may be on disk: accept both.
        previous = self.metadata.get("checkpoint_sha256") or []
        self.metadata["checkpoint_sha256"] = [digests] if published else [digests, *previous[:1]]
        if published:
            self.metadata["num_timesteps"] = int(self.model.num_timesteps)
        write_metadata(self.run_dir, self.metadata)

    def save(self) -> None:
        """Write a checkpoint now."""
        from agents.training import save_checkpoint

        save_checkpoint(
            self.run_dir, self.model, self.venv, feature_names=self.feature_names,
            max_offset_ticks=self.max_offset, wall_time_s=self.wall_time(), record=self.record,
            action_mapping=self.action_mapping,
        )  # fmt: skip
        self.saved_steps.append(int(self.model.num_timesteps))


def make_checkpointer(
    run_dir: Path, model: Any, venv: Any, metadata: dict[str, Any], wall_before: float
) -> Checkpointer:
    """The session's :class:`Checkpointer` (two learners: a ``PairCheckpointer``)."""
    if hasattr(model, "models"):  # agents.learner_pair.LearnerPair
        from agents.learner_pair import PairCheckpointer

        return PairCheckpointer(run_dir, model, metadata, wall_before)
    return Checkpointer(run_dir, model, venv, metadata, wall_before)


def train(args: Any, saver: Checkpointer, callbacks: list[Any] | None) -> str:
    """Train to ``--total-timesteps``; return ``"completed"`` or ``"interrupted"``.

    Two learners (a :class:`~agents.learner_pair.PairCheckpointer`) train in lockstep
    (:func:`agents.learner_pair.train_pair`).
    """
    from agents.training import AtomicCheckpointCallback, GracefulInterrupt, TrainingMonitor

    done = int(saver.model.num_timesteps)
    if done >= args.total_timesteps:  # a --resume of a completed run: say so, not silence
        print(
            f"train.py: note: the run has already trained {done:,} steps (--total-timesteps "
            f"{args.total_timesteps:,}): nothing to train; a larger --total-timesteps continues it",
            file=sys.stderr,
        )
    if hasattr(saver, "pair"):
        from agents.learner_pair import train_pair

        return train_pair(args, saver, callbacks)  # type: ignore[arg-type]
    model = saver.model
    interrupt = GracefulInterrupt()
    checkpoints = AtomicCheckpointCallback(saver.save, args.checkpoint_every, interrupt)
    monitor = TrainingMonitor(args.total_timesteps, progress_bar=args.progress)
    remaining = args.total_timesteps - int(model.num_timesteps)
    with interrupt:
        if remaining > 0:
            model.learn(
                remaining,
                callback=[monitor, checkpoints, *(callbacks or [])],
                reset_num_timesteps=False,
                log_interval=1,
            )
        if not checkpoints.stopped:
            # After a stop the env has taken one step past the checkpoint: keep the checkpoint.
            saver.save()
    return "interrupted" if checkpoints.stopped else "completed"


def attach_logs(model: Any, run_dir: Path) -> None:
    """TensorBoard logs in ``run_dir/tb`` (two learners: ``tb/mm1`` and ``tb/mm2``)."""
    from stable_baselines3.common.logger import configure

    if hasattr(model, "set_loggers"):  # agents.learner_pair.LearnerPair
        model.set_loggers(run_dir)
    else:
        model.set_logger(configure(str(run_dir / "tb"), ["tensorboard"]))


def record_session(args: Any, saver: Checkpointer, status: str, overrides: dict) -> None:
    """Put this session's outcome into the metadata (written by the caller) and print it."""
    session_s = time.perf_counter() - saver.session_start
    steps_per_s = (int(saver.model.num_timesteps) - saver.saved_steps[0]) / max(session_s, 1e-9)
    saver.metadata.update(
        status=status,
        run_name=saver.run_dir.name,
        env_id=args.env_id,
        env_kwargs=overrides,
        rival=args.rival,
        seed=args.seed,
        num_timesteps=saver.saved_steps[-1],
        wall_time_s=round(saver.wall_time(), 2),
        session_env_steps_per_s=round(steps_per_s, 1),
        torch_threads=args.torch_threads,
        feature_names=list(saver.feature_names),
        action_mapping=saver.action_mapping,
        partial_resets=int(saver.venv.venv.partial_resets),
        versions=versions(),
        finished_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )
    print(
        f"{status}: {saver.saved_steps[-1]:,} steps in {saver.run_dir}; this session "
        f"{steps_per_s:,.0f} env-steps/s, run wall time {saver.wall_time():.0f} s"
    )


def evaluate_run(
    args: Any, run_dir: Path, overrides: dict[str, Any], metadata: dict[str, Any]
) -> None:
    """The final table: the new policy against the baselines on held-out seeds.

    Two learners: each learner's policy, played as mm1, in its seat folder. On a multi-venue
    env the baselines are the multi-venue ones, played by the multi-venue tournament
    (:func:`agents.compare.compare_multivenue`).
    """
    from agents.train_settings import TWO_MAKER_KEYS, eval_baselines, independent_learners
    from mm_gym.rewards import REWARD_KEYS

    left_out = (*REWARD_KEYS, *TWO_MAKER_KEYS)  # the final table plays as mm1, against mm2
    eval_overrides = {k: v for k, v in overrides.items() if k not in left_out}
    baselines = eval_baselines(args)
    if independent_learners(args):  # each learner's table, its policy played as mm1
        tables = {}
        for seat in ("mm1", "mm2"):
            print(f"{seat}'s learner, as mm1:")
            tables[seat] = _final_table(args, run_dir / seat, f"{run_dir.name}.{seat}",
                                        baselines, eval_overrides)  # fmt: skip
        metadata["evaluation"] = tables
        return
    metadata["evaluation"] = _final_table(args, run_dir, run_dir.name, baselines, eval_overrides)


def _final_table(
    args: Any, folder: Path, name: str, baselines: list[str], eval_overrides: dict[str, Any]
) -> dict[str, Any]:
    """The table of ``folder``'s policy, written into it; its record for the metadata."""
    from agents.compare import compare_multivenue, compare_with_baselines, format_comparison
    from agents.policy import load_policy
    from agents.train_settings import is_multivenue

    policy = load_policy(folder, name=name)
    t0 = time.perf_counter()
    if is_multivenue(args.env_id):
        comp = compare_multivenue(
            policy, baselines, args.env_id, eval_overrides,
            n_episodes=args.eval_episodes, seed=args.eval_seed,
        )  # fmt: skip
    else:
        comp = compare_with_baselines(
            policy, baselines, args.env_id, eval_overrides,
            n_episodes=args.eval_episodes, seed=args.eval_seed, rival=args.rival,
        )  # fmt: skip
    text = format_comparison(comp)
    print(text)
    atomic_write_text(folder / "evaluation.txt", text + "\n")
    atomic_write_text(folder / "evaluation.csv", comp.table.to_csv(index=False))
    return {
        "episodes": args.eval_episodes,
        "eval_seed": args.eval_seed,
        "beats_all_baselines": comp.beats_all,
        "seconds": round(time.perf_counter() - t0, 1),
        "table": json.loads(comp.table.to_json(orient="records")),
    }
