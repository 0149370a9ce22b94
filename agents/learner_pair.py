"""Two independent PPO learners in one ``train.py`` run: ``--learners mm1,mm2`` (issue #17).

mm1 and mm2 each have their own network, optimiser and ``VecNormalize``, and quote in the same
``n_envs`` markets of one :class:`~mm_gym.envs.two_makers.TwoMakerVectorEnv` (or, on
``mm_gym/MultiVenue-v0``, :class:`~mm_gym.multivenue.MultiVenueTwoMakerVectorEnv`; no ``agent_id``
feature: each learner only ever plays its own seat), stepped once per step for both in one
compiled call (:class:`~agents.two_learners.Lockstep`, mm1's learner in the main thread,
mm2's in another). mm1's model is seeded ``--seed``, mm2's ``--seed + 1`` (mod 2**32), so the
two networks start apart; mm1's seed seeds the market. ``--total-timesteps`` counts each
learner's steps, i.e. market steps (one step of a learner is one step of each of its
``n_envs`` seats).

The run folder::

    metadata.json, config.yaml   the run's, as for one learner
    tb/mm1/, tb/mm2/             each learner's TensorBoard logs
    checkpoint/                  both learners and the market, saved together:
                                 mm1_model.zip, mm1_vecnormalize.pkl, mm1_policy.npz, mm2_...,
                                 env_state.pkl (the market and both normalisations),
                                 rng_state.npz, progress.json
    mm1/, mm2/                   each learner's policy.npz, model.zip and vecnormalize.pkl
                                 (``load_policy("runs/<name>/mm1")``, ``evaluate.py --runs``)
    mm1/evaluation.txt/.csv      the final table of each learner, played as mm1
    league/                      with ``--league``: the snapshots, <seat>_<steps>/policy.npz,
                                 and league.json (:mod:`agents.league`)

Checkpoints are taken where both learners meet at the start of a rollout
(:class:`~agents.two_learners.RolloutBarrier`): both have finished their update and neither has
drawn its next actions, so a resumed run continues exactly (``tests/test_train_learner_pair.py``
compares both learners' parameters bit for bit).
"""

from __future__ import annotations

import json
import pickle
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecNormalize

from agents.league import INDEX_FILE, LEAGUE_DIR, League
from agents.policy import POLICY_FILE, save_policy_arrays
from agents.ppo import build_ppo, normalized, policy_arrays, two_maker_env
from agents.train_session import Checkpointer
from agents.training import (
    AtomicCheckpointCallback,
    CheckpointError,
    GracefulInterrupt,
    TrainingMonitor,
    _read,
    _rng_state,
    _StatePickler,
    publish_checkpoint,
    read_checkpoint,
    restore_rng,
)
from agents.two_learners import Lockstep, RolloutBarrier, learn_together, seat_envs
from agents.vec_env import MarketMakingSB3VecEnv

__all__ = [
    "SEATS",
    "LearnerPair",
    "PairCheckpointer",
    "load_pair_checkpoint",
    "new_pair",
    "save_pair_checkpoint",
    "train_pair",
]

SEATS = ("mm1", "mm2")
"""The learners, in seat order; also their sub-folders of the run folder and of ``tb/``."""
_COPIES = (POLICY_FILE, "model.zip", "vecnormalize.pkl")
"""Each learner's checkpoint files copied into its seat folder."""


@dataclass
class LearnerPair:
    """mm1's and mm2's PPO models, their ``VecNormalize`` envs and the market they share."""

    models: tuple[PPO, PPO]
    venvs: tuple[VecNormalize, VecNormalize]
    shared: MarketMakingSB3VecEnv
    league: League | None = None
    """The self-play league (``--league``): the learners' opponents (:mod:`agents.league`)."""

    @property
    def lockstep(self) -> Lockstep:
        """The learners' :class:`~agents.two_learners.Lockstep`."""
        return self.venvs[0].venv.lockstep  # type: ignore[attr-defined]

    @property
    def num_timesteps(self) -> int:
        """Steps done by each learner (market steps; the two learners always agree)."""
        return int(self.models[0].num_timesteps)

    def set_loggers(self, run_dir: Path) -> None:
        """Each learner logs to TensorBoard in ``run_dir/tb/<seat>``."""
        from stable_baselines3.common.logger import configure

        for seat, model in zip(SEATS, self.models, strict=True):
            model.set_logger(configure(str(run_dir / "tb" / seat), ["tensorboard"]))


LeagueFactory = Callable[[MarketMakingSB3VecEnv], League]
"""Makes the league of a shared market (:func:`agents.league.league_factory`)."""


def _pair_of_envs(
    shared: MarketMakingSB3VecEnv, norm: Mapping[str, Any], league: League | None = None
) -> tuple[Any, Any]:
    mm1, mm2 = seat_envs(shared) if league is None else league.seat_envs()
    return normalized(mm1, **norm), normalized(mm2, **norm)


def new_pair(
    env_id: str,
    n_markets: int,
    overrides: Mapping[str, Any],
    norm: Mapping[str, Any],
    *,
    seed: int,
    league: LeagueFactory | None = None,
    **hyper: Any,
) -> LearnerPair:
    """Two new PPO learners on ``n_markets`` markets of ``env_id`` (with ``overrides``).

    Args:
        env_id: A book env id (its preset): the single-venue id, or ``mm_gym/MultiVenue-v0``
            (:class:`~mm_gym.multivenue.MultiVenueTwoMakerVectorEnv`).
        n_markets: Markets stepped together (each learner's ``n_envs``).
        overrides: Environment overrides.
        norm: :func:`agents.ppo.normalized`'s settings, for both learners.
        seed: mm1's seed (and the market's); mm2's is ``seed + 1`` (mod 2**32).
        league: The league's factory (``--league``): then each learner has ``n_markets``
            markets of its own, against the league's opponents (``2 * n_markets`` in all).
        **hyper: :func:`agents.ppo.build_ppo`'s settings, for both learners.
    """
    markets = n_markets if league is None else 2 * n_markets
    shared = two_maker_env(env_id, markets, overrides, agent_id=False)
    the_league = None if league is None else league(shared)
    venvs = _pair_of_envs(shared, norm, the_league)
    models = (
        build_ppo(venvs[0], seed=seed, **hyper),
        build_ppo(venvs[1], seed=(seed + 1) % 2**32, **hyper),
    )
    if the_league is not None:
        the_league.bind(models, venvs)
    return LearnerPair(models, venvs, shared, the_league)


# ---------------------------------------------------------------------- checkpoints
def save_pair_checkpoint(
    run_dir: Path,
    pair: LearnerPair,
    *,
    feature_names: tuple[str, ...],
    max_offset_ticks: float,
    action_mapping: str,
    wall_time_s: float,
    record: Callable[[dict[str, str], bool], Any] | None = None,
) -> Path:
    """Save both learners, the market and the random states, atomically (between rollouts).

    As :func:`agents.training.save_checkpoint` (same swap, same ``record`` protocol), with
    each learner's files under its seat's prefix; each learner's ``policy.npz``,
    ``model.zip`` and ``vecnormalize.pkl`` are then copied into ``run_dir/<seat>/``.
    """

    def write(folder: Path) -> None:
        norms = []
        for seat, model, venv in zip(SEATS, pair.models, pair.venvs, strict=True):
            model.save(folder / f"{seat}_model.zip")
            venv.save(str(folder / f"{seat}_vecnormalize.pkl"))
            arrays = policy_arrays(model, venv, feature_names, max_offset_ticks, action_mapping)
            save_policy_arrays(folder / f"{seat}_{POLICY_FILE}", arrays)
            norms.append(
                {"obs_rms": venv.obs_rms, "ret_rms": venv.ret_rms, "returns": venv.returns}
            )
        with open(folder / "env_state.pkl", "wb") as fh:
            state = {"env": pair.shared, "norms": norms}
            _StatePickler(fh, protocol=pickle.HIGHEST_PROTOCOL).dump(state)
        np.savez(folder / "rng_state.npz", **_rng_state())
        progress = {
            "num_timesteps": pair.num_timesteps,
            "n_updates": [int(m._n_updates) for m in pair.models],
            "wall_time_s": float(wall_time_s),
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        (folder / "progress.json").write_text(json.dumps(progress, indent=2) + "\n")
        if pair.league is not None:
            pair.league.write_state(folder)

    copies = {f"{seat}_{name}": run_dir / seat / name for seat in SEATS for name in _COPIES}
    if pair.league is not None:
        copies[INDEX_FILE] = run_dir / LEAGUE_DIR / INDEX_FILE
    final = publish_checkpoint(run_dir, write, copies, record)
    if pair.league is not None:  # snapshots the new checkpoint no longer refers to
        pair.league.prune()
    return final


def _read_pair_state(path: Path) -> dict[str, Any]:
    with open(path, "rb") as fh:
        # A file this run wrote, checked against its recorded digest (or --trust).
        state = pickle.load(fh)
    ok = isinstance(state, dict) and {"env", "norms"} <= set(state)
    if not ok or not isinstance(state["env"], MarketMakingSB3VecEnv) or len(state["norms"]) != 2:
        raise CheckpointError(f"{path} does not hold a two-learner market (keys env, norms)")
    return state


def load_pair_checkpoint(
    run_dir: Path, norm: Mapping[str, Any], league: LeagueFactory | None = None
) -> tuple[LearnerPair, dict[str, Any]]:
    """Restore both learners, the market and the random states of ``run_dir``'s checkpoint.

    ``league``: the league's factory of a ``--league`` run (its state is restored too). It
    unpickles ``env_state.pkl`` and SB3's model files: check them first
    (:func:`agents.training.verify_checkpoint`) unless they are trusted.

    Returns:
        The pair and the checkpoint's ``progress.json``.

    Raises:
        FileNotFoundError: If the run has no checkpoint.
        CheckpointError: If a checkpoint file is missing or damaged (the message names it).
    """
    ckpt, progress, state = read_checkpoint(run_dir, _read_pair_state)
    the_league = None if league is None else league(state["env"])
    venvs = _pair_of_envs(state["env"], norm, the_league)
    models: list[PPO] = []
    for seat, venv, saved in zip(SEATS, venvs, state["norms"], strict=True):
        venv.obs_rms, venv.ret_rms, venv.returns = (
            saved["obs_rms"], saved["ret_rms"], saved["returns"],
        )  # fmt: skip
        # force_reset=False keeps SB3's saved last observation: the market goes on mid-episode.
        models.append(_read(ckpt / f"{seat}_model.zip", partial(_load_model, venv=venv)))
    if the_league is not None:
        the_league.bind(models, venvs)
        the_league.run_dir = run_dir
        the_league.restore(ckpt)
    restore_rng(ckpt)
    pair = LearnerPair((models[0], models[1]), venvs, state["env"], the_league)
    return pair, progress


def _load_model(path: Path, venv: VecNormalize) -> PPO:
    return PPO.load(path, env=venv, device="cpu", force_reset=False)


class PairCheckpointer(Checkpointer):
    """:class:`~agents.train_session.Checkpointer` of a :class:`LearnerPair` (its ``model``)."""

    def __init__(
        self, run_dir: Path, pair: LearnerPair, metadata: dict[str, Any], wall_before: float
    ) -> None:
        """Start this session's clock; ``venv`` is mm1's (its market is the pair's)."""
        super().__init__(run_dir, pair, pair.venvs[0], metadata, wall_before)
        self.pair = pair
        if pair.league is not None:
            pair.league.run_dir = run_dir  # its snapshots go to run_dir/league/

    def save(self) -> None:
        """Write a checkpoint of both learners now (both at the start of a rollout)."""
        save_pair_checkpoint(
            self.run_dir, self.pair, feature_names=self.feature_names,
            max_offset_ticks=self.max_offset, action_mapping=self.action_mapping,
            wall_time_s=self.wall_time(), record=self.record,
        )  # fmt: skip
        self.saved_steps.append(self.pair.num_timesteps)


class _PairCheckpoints(AtomicCheckpointCallback):
    """mm1's checkpoint callback: it saves where both learners meet at a rollout start.

    Its :meth:`both_there` is mm1's :class:`~agents.two_learners.RolloutBarrier`'s.
    """

    def __init__(
        self, save: Callable[[], Any], every: int, interrupt: GracefulInterrupt, lockstep: Lockstep
    ) -> None:
        super().__init__(save, every, interrupt)
        self.lockstep = lockstep

    def _on_rollout_start(self) -> None:
        """Nothing yet: the barrier calls :meth:`both_there` once both learners are there."""

    def both_there(self) -> None:
        """Save if due or asked; a stop asked stops both learners after their next step."""
        super()._on_rollout_start()
        self.lockstep.stop_requested = self.stopped


def train_pair(args: Any, saver: PairCheckpointer, callbacks: list[Any] | None) -> str:
    """Train both learners to ``--total-timesteps``; ``"completed"`` or ``"interrupted"``.

    ``callbacks`` (tests) are mm1's extra SB3 callbacks. They come before mm1's barrier, the
    last of its callbacks (it releases mm2 at the rollout end): their ``_on_rollout_start``
    runs before the learners meet and a checkpoint is saved, while mm2 may still be updating,
    so they must not draw from the global random generators there.
    """
    pair, lockstep = saver.pair, saver.pair.lockstep
    interrupt = GracefulInterrupt()
    checkpoints = _PairCheckpoints(saver.save, args.checkpoint_every, interrupt, lockstep)
    league = [[], []] if pair.league is None else [pair.league.callbacks(k) for k in range(2)]
    # Each barrier last: mm1's lets mm2 go on to its update once mm1's rollout-end callbacks ran.
    lists = (
        [TrainingMonitor(args.total_timesteps, progress_bar=args.progress), checkpoints,
         *league[0], *(callbacks or []), RolloutBarrier(lockstep, 0, checkpoints.both_there)],
        [TrainingMonitor(args.total_timesteps, progress_bar=False), *league[1],
         RolloutBarrier(lockstep, 1)],
    )  # fmt: skip
    remaining = args.total_timesteps - pair.num_timesteps

    def learner(k: int) -> Callable[[], Any]:
        return lambda: pair.models[k].learn(
            remaining, callback=lists[k], reset_num_timesteps=False, log_interval=1
        )

    with interrupt:
        if remaining > 0:
            learn_together(learner(0), learner(1), lockstep)
        if not checkpoints.stopped:
            # After a stop both learners have taken one step past the checkpoint: keep it.
            saver.save()
    return "interrupted" if checkpoints.stopped else "completed"
