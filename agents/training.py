"""Training plumbing for ``train.py``: logging, progress, checkpoints, Ctrl-C and exact resumes.

Checkpoints are taken at the start of a rollout, i.e. right after a PPO update: the model,
its optimizer, SB3's counters and last observation, the normalisation statistics (and running
return), the whole market state of every sub-env (the native env pickles its arrays), and the
torch and numpy random states. Restoring all of them makes a resumed run continue exactly as
if it had not stopped (``tests/test_train.py`` checks parameters bit for bit).

A checkpoint directory is written under a hidden temporary name that carries the writer's pid
(:func:`mm_gym.files.temp_name`, so :func:`mm_gym.files.clean_stale_temps` can remove what a
killed process left) and renamed into place (the previous one is kept as ``checkpoint.old``
during the swap and removed after), so an interruption while saving never leaves a half-written
checkpoint. :func:`save_checkpoint` reports the SHA-256 digests of the files it wrote, for the
run's metadata; :func:`load_checkpoint` checks them before it unpickles anything. The first
Ctrl-C (SIGINT) or SIGTERM asks training to stop at the end of the current update and save; a
second one aborts at once, keeping the last checkpoint. Loading a checkpoint unpickles files
(SB3's format and the market state): ``--resume`` is an explicit request, and the digests
catch files changed since the run wrote them; nothing else here loads pickles.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import pickle
import shutil
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numba
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecNormalize

from agents.policy import POLICY_FILE, publish, save_policy_arrays
from agents.ppo import normalized, policy_arrays
from agents.vec_env import MarketMakingSB3VecEnv
from mm_gym.actions import DEFAULT_ACTION_MAPPING
from mm_gym.config import excerpt
from mm_gym.files import temp_name

__all__ = [
    "CHECKPOINT_DIR",
    "AtomicCheckpointCallback",
    "CheckpointError",
    "GracefulInterrupt",
    "TrainingMonitor",
    "checkpoint_digests",
    "checkpoint_path",
    "load_checkpoint",
    "publish_checkpoint",
    "read_checkpoint",
    "restore_rng",
    "save_checkpoint",
    "verify_checkpoint",
]

CHECKPOINT_DIR = "checkpoint"
_OLD_SUFFIX = ".old"


# ---------------------------------------------------------------------------------- Ctrl-C


class GracefulInterrupt:
    """SIGINT and SIGTERM handling: the first requests a stop, the second raises KeyboardInterrupt.

    SIGTERM (``kill``, a job scheduler's time limit) is treated like Ctrl-C so that it too
    leaves a checkpoint to resume from.

    Use as a context manager around training; :attr:`requested` is polled by
    :class:`AtomicCheckpointCallback`.

    Attributes:
        requested: Whether a stop was requested.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, message: Callable[[str], Any] = print) -> None:
        """Keep ``message`` (called with one line on the first signal)."""
        self.requested = False
        self._message = message
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        self._message(
            f"\n{name}: finishing this update, then saving a checkpoint "
            "(press Ctrl-C again to abort without saving)"
        )

    def __enter__(self) -> GracefulInterrupt:
        """Install the handlers (main thread only; elsewhere it is a no-op)."""
        for signum in self.SIGNALS:
            try:
                self._previous[signum] = signal.signal(signum, self._handle)
            except ValueError:  # not in the main thread
                break
        return self

    def __exit__(self, *exc: object) -> None:
        """Restore the previous handlers."""
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous = {}


# ---------------------------------------------------------------------------------- logging


def _adapter(venv: VecNormalize) -> Any:
    """The env under ``VecNormalize`` that keeps episode statistics (``pop_episode_stats``).

    The market adapter, or one maker's :class:`~agents.two_learners.SeatVecEnv` of it.
    """
    inner = venv.venv
    if not hasattr(inner, "pop_episode_stats"):
        raise TypeError(f"expected VecNormalize(MarketMakingSB3VecEnv), got {inner!r}")
    return inner


class TrainingMonitor(BaseCallback):
    """Log episode statistics and throughput to the SB3 logger, and drive a progress bar.

    The bar is not SB3's ``ProgressBarCallback``: that one needs ``rich`` (not a dependency),
    counts only this session's steps (a resumed run would restart at 0 of the remainder rather
    than continue at its step count), and cannot show the episode statistics logged here.

    Every rollout it records, over the episodes that ended in it (means unless said):

    - ``episode/reward``, ``episode/pnl``, ``episode/count``;
    - ``episode/pnl_sharpe``: the Sharpe ratio of each episode's step PnL, as the evaluation
      computes it;
    - ``episode/mean_abs_inventory``, ``episode/inventory_std``, ``episode/max_abs_inventory``,
      ``episode/final_abs_inventory`` (lots);
    - ``episode/fill_rate`` (mm1's fills per step) and ``episode/quoted_spread_ticks`` (the
      requested bid + ask offsets, averaged over the venues on MultiVenue-v0);
    - ``reward/<component>``: episode sums of each reward component, unscaled;
    - ``time/env_steps_per_sec`` (this iteration), ``time/env_steps_per_sec_mean`` (since the
      start of this process).

    Args:
        total_timesteps: Target of the whole run (for the progress bar).
        progress_bar: Show a tqdm progress bar.
    """

    def __init__(self, total_timesteps: int, progress_bar: bool = True) -> None:
        """Set up; the bar opens when training starts."""
        super().__init__()
        self.total_timesteps = int(total_timesteps)
        self.progress_bar = progress_bar
        self._bar: Any = None
        self._t_iter = 0.0
        self._steps_iter = 0
        self._t0 = 0.0
        self._steps0 = 0
        self.last_stats: dict[str, float] = {}

    def _on_training_start(self) -> None:
        self._t0 = self._t_iter = time.perf_counter()
        self._steps0 = self._steps_iter = self.num_timesteps
        if self.progress_bar:
            from tqdm import tqdm

            self._bar = tqdm(
                total=self.total_timesteps,
                initial=self.num_timesteps,
                unit="step",
                unit_scale=True,
                dynamic_ncols=True,
                smoothing=0.1,
            )

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        now = time.perf_counter()
        steps = self.num_timesteps - self._steps_iter
        rate = steps / max(now - self._t_iter, 1e-9)
        mean_rate = (self.num_timesteps - self._steps0) / max(now - self._t0, 1e-9)
        self._t_iter, self._steps_iter = now, self.num_timesteps
        log = self.logger
        log.record("time/env_steps_per_sec", rate)
        log.record("time/env_steps_per_sec_mean", mean_rate)
        assert isinstance(self.training_env, VecNormalize)
        stats = _adapter(self.training_env).pop_episode_stats()
        if stats:
            pnl = stats["pnl"]
            summary = {
                "episode/count": float(pnl.size),
                "episode/reward": float(stats["reward"].mean()),
                "episode/pnl": float(pnl.mean()),
                "episode/pnl_sharpe": float(stats["pnl_sharpe"].mean()),
                "episode/mean_abs_inventory": float(stats["mean_abs_inventory"].mean()),
                "episode/inventory_std": float(stats["inventory_std"].mean()),
                "episode/max_abs_inventory": float(stats["max_abs_inventory"].mean()),
                "episode/final_abs_inventory": float(np.abs(stats["final_inventory"]).mean()),
                "episode/fill_rate": float(stats["fill_rate"].mean()),
                "episode/quoted_spread_ticks": float(stats["quoted_spread_ticks"].mean()),
            }
            for key, per_episode in stats.items():
                if key.startswith("component/"):
                    summary["reward/" + key.split("/", 1)[1]] = float(per_episode.mean())
            native = getattr(_adapter(self.training_env), "env", None)
            seats = getattr(getattr(native, "unwrapped", None), "seat_names", None)
            if seats is not None and "seat" in stats:  # both makers learn: each seat's own
                for k, seat in enumerate(seats):
                    mine = stats["seat"] == k
                    if mine.any():
                        for key in ("reward", "pnl", "mean_abs_inventory", "fill_rate"):
                            summary[f"{seat}/episode/{key}"] = float(stats[key][mine].mean())
            for key, mean in summary.items():
                log.record(key, mean)
            self.last_stats = summary
        if self._bar is not None:
            self._bar.update(self.num_timesteps - self._bar.n)
            post = {"steps/s": f"{mean_rate:,.0f}"}
            if self.last_stats:
                post["ep_reward"] = f"{self.last_stats['episode/reward']:.1f}"
                post["ep_pnl"] = f"{self.last_stats['episode/pnl']:.1f}"
            self._bar.set_postfix(post, refresh=False)

    def _on_training_end(self) -> None:
        if self._bar is not None:
            self._bar.update(self.num_timesteps - self._bar.n)
            self._bar.close()
            self._bar = None


# ---------------------------------------------------------------------------------- checkpoints


def checkpoint_path(run_dir: str | os.PathLike[str]) -> Path | None:
    """The checkpoint directory of ``run_dir`` (or the kept previous one), or None."""
    run = Path(run_dir)
    for candidate in (run / CHECKPOINT_DIR, run / (CHECKPOINT_DIR + _OLD_SUFFIX)):
        if (candidate / "progress.json").is_file():
            return candidate
    return None


def _rng_state() -> dict[str, Any]:
    """Torch's and numpy's global random states (PPO samples actions and minibatches there)."""
    # SB3 draws minibatch permutations from numpy's legacy global generator.
    kind, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002
    assert kind == "MT19937"
    return {
        "torch": torch.get_rng_state().numpy().copy(),
        "np_keys": np.asarray(keys),
        "np_pos": np.int64(pos),
        "np_has_gauss": np.int64(has_gauss),
        "np_cached_gaussian": np.float64(cached),
    }


def _set_rng_state(arrays: Any) -> None:
    torch.set_rng_state(torch.from_numpy(np.array(arrays["torch"], dtype=np.uint8)))
    np.random.set_state(  # noqa: NPY002  (the legacy global generator SB3 uses)
        (
            "MT19937",
            np.array(arrays["np_keys"], dtype=np.uint32),
            int(arrays["np_pos"]),
            int(arrays["np_has_gauss"]),
            float(arrays["np_cached_gaussian"]),
        )
    )


def _module_attribute(module: str, name: str) -> Any:
    """``module.name``, importing the module (the unpickling side of :class:`_StatePickler`)."""
    obj: Any = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


class _StatePickler(pickle.Pickler):
    """Pickle compiled numba functions by reference (module and name), not by value.

    The market simulator keeps its compiled step function as an attribute. numba pickles a
    dispatcher by value (its Python source, rebuilt as a new dispatcher), so a resumed process
    would recompile the kernels from scratch (over a minute on 2 cores) instead of loading them
    from numba's on-disk cache. A module-level function is stored as ``module.name`` instead.
    """

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, numba.core.registry.CPUDispatcher):
            func = obj.py_func
            module = func.__module__
            name = func.__qualname__
            try:
                same = _module_attribute(module, name) is obj
            except (ImportError, AttributeError):
                same = False
            if same:
                return _module_attribute, (module, name)
        return NotImplemented


class CheckpointError(ValueError):
    """A checkpoint file is missing, damaged, or not the file the run recorded (one line)."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checkpoint_digests(folder: str | os.PathLike[str]) -> dict[str, str]:
    """The SHA-256 digest (hex) of every regular file of a checkpoint directory, by name."""
    folder = Path(folder)
    return {
        p.name: _sha256(p)
        for p in sorted(folder.iterdir())
        if p.is_file() and not p.is_symlink() and not p.name.startswith(".")
    }


def verify_checkpoint(
    folder: str | os.PathLike[str], accepted: Sequence[Mapping[str, str]]
) -> None:
    """Check that ``folder``'s files match one of the recorded digest sets (newest first).

    Args:
        folder: A checkpoint directory (:func:`checkpoint_path`).
        accepted: Digest sets recorded by :func:`save_checkpoint`'s ``record`` callback; more
            than one only while a checkpoint was being swapped in.

    Raises:
        CheckpointError: Naming the first file that differs from the newest set, or saying that
            no digests were recorded.
    """
    folder = Path(folder)
    sets = [d for d in accepted if isinstance(d, Mapping) and d]
    if not sets:
        raise CheckpointError(f"{folder}: the run's metadata.json records no checkpoint digests")
    actual = checkpoint_digests(folder)
    for digests in sets:
        if all(actual.get(name) == value for name, value in digests.items()):
            return
    newest = sets[0]
    bad = sorted(name for name, value in newest.items() if actual.get(name) != value)
    state = "is missing" if bad[0] not in actual else "has changed since train.py saved it"
    raise CheckpointError(
        f"{folder / bad[0]} {state} (its SHA-256 digest does not match the one recorded in "
        "metadata.json)"
    )


def save_checkpoint(
    run_dir: str | os.PathLike[str],
    model: PPO,
    venv: VecNormalize,
    *,
    feature_names: tuple[str, ...],
    max_offset_ticks: float,
    wall_time_s: float,
    record: Callable[[dict[str, str], bool], Any] | None = None,
    action_mapping: str = DEFAULT_ACTION_MAPPING,
) -> Path:
    """Save everything needed to resume exactly, atomically; refresh the run folder's copies.

    The run folder's ``policy.npz``, ``model.zip`` and ``vecnormalize.pkl`` are replaced by
    those of the new checkpoint (each atomically).

    Call it between a PPO update and the next rollout (``on_rollout_start``) or after training.

    Args:
        run_dir: The run directory.
        model: The PPO model (its env is ``venv``).
        venv: ``VecNormalize`` over the adapter.
        feature_names: The observation's feature names (for the exported actor).
        max_offset_ticks: The env's ``max_offset_ticks`` (for the exported actor).
        action_mapping: The env's ``action_mapping`` (recorded in the exported actor).
        wall_time_s: Training wall time so far, seconds, all sessions of the run.
        record: Called with the new checkpoint's :func:`checkpoint_digests` and ``False``
            before it replaces the previous one, then with ``True`` once it has: the caller
            stores them so that, whenever the process stops, the checkpoint on disk matches a
            recorded set (the new one, or until the swap is done the previous one).

    Returns:
        The checkpoint directory.
    """
    run = Path(run_dir)

    def write(folder: Path) -> None:
        _write_checkpoint(
            folder, model, venv, feature_names, max_offset_ticks, wall_time_s, action_mapping
        )

    copies = {name: run / name for name in (POLICY_FILE, "model.zip", "vecnormalize.pkl")}
    return publish_checkpoint(run, write, copies, record)


def publish_checkpoint(
    run_dir: Path,
    write: Callable[[Path], Any],
    copies: Mapping[str, Path],
    record: Callable[[dict[str, str], bool], Any] | None = None,
) -> Path:
    """Write a checkpoint with ``write(folder)`` and swap it in atomically; refresh the copies.

    The swap of :func:`save_checkpoint` (a temporary folder, the previous checkpoint kept as
    ``checkpoint.old`` until the new one is in place, ``record`` called before and after);
    then each checkpoint file named in ``copies`` is copied, atomically, to its path (the run
    folder's ``policy.npz``, ``model.zip``, ...). Returns the checkpoint directory.
    """
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    final = run / CHECKPOINT_DIR
    old = run / (CHECKPOINT_DIR + _OLD_SUFFIX)
    # The pid in the name lets the next start remove it if this process is killed meanwhile.
    tmp = run / temp_name(CHECKPOINT_DIR)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        write(tmp)
        digests = checkpoint_digests(tmp)
        if record is not None:
            record(digests, False)
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
        publish(tmp, final, directory=True)
        shutil.rmtree(old, ignore_errors=True)
        if record is not None:
            record(digests, True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    # The run folder's copies (what load_policy, evaluate.py and SB3 users read).
    for name, dest in copies.items():
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.parent / temp_name(dest.name)
        try:
            shutil.copyfile(final / name, part)
            publish(part, dest)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
    return final


def _write_checkpoint(
    folder: Path,
    model: PPO,
    venv: VecNormalize,
    feature_names: tuple[str, ...],
    max_offset_ticks: float,
    wall_time_s: float,
    action_mapping: str = DEFAULT_ACTION_MAPPING,
) -> None:
    """Write every file of a checkpoint into the (temporary) ``folder``."""
    model.save(folder / "model.zip")
    venv.save(str(folder / "vecnormalize.pkl"))
    env_state = {
        "env": venv.venv,
        "obs_rms": venv.obs_rms,
        "ret_rms": venv.ret_rms,
        "returns": venv.returns,
    }
    with open(folder / "env_state.pkl", "wb") as fh:
        _StatePickler(fh, protocol=pickle.HIGHEST_PROTOCOL).dump(env_state)
    np.savez(folder / "rng_state.npz", **_rng_state())
    arrays = policy_arrays(model, venv, feature_names, max_offset_ticks, action_mapping)
    save_policy_arrays(folder / POLICY_FILE, arrays)
    progress = {
        "num_timesteps": int(model.num_timesteps),
        "n_updates": int(model._n_updates),
        "wall_time_s": float(wall_time_s),
        "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    (folder / "progress.json").write_text(json.dumps(progress, indent=2) + "\n")


def _first_line(exc: BaseException) -> str:
    """``Type: message`` of an exception, on one line and bounded (for one-line errors)."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else ""
    if len(text) > 120:
        text = text[:117] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _read(path: Path, reader: Callable[[Path], Any]) -> Any:
    """``reader(path)``, any failure turned into a :class:`CheckpointError` naming the file."""
    try:
        return reader(path)
    except CheckpointError:
        raise
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing: the checkpoint is incomplete") from None
    except MemoryError:
        raise
    except Exception as exc:  # a damaged file fails in as many ways as its readers have
        raise CheckpointError(
            f"{path} cannot be loaded, the file is damaged ({_first_line(exc)})"
        ) from None


def _read_progress(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_bytes().decode("utf-8"))
    ok = isinstance(data, dict) and all(
        isinstance(data.get(key), (int, float)) and not isinstance(data.get(key), bool)
        for key in ("num_timesteps", "wall_time_s")
    )
    if not ok:
        raise CheckpointError(
            f"{path} must hold num_timesteps and wall_time_s numbers, not {excerpt(data)}"
        )
    return data


def _read_env_state(path: Path) -> dict[str, Any]:
    with open(path, "rb") as fh:
        # A file this run wrote, checked against its recorded digest (or --trust).
        state = pickle.load(fh)
    keys = {"env", "obs_rms", "ret_rms", "returns"}
    if not isinstance(state, dict) or not keys <= set(state):
        raise CheckpointError(f"{path} does not hold a saved environment (keys {sorted(keys)})")
    if not isinstance(state["env"], MarketMakingSB3VecEnv):
        raise CheckpointError(f"{path} holds {type(state['env']).__name__}, not the market env")
    return state


def load_checkpoint(
    run_dir: str | os.PathLike[str],
    *,
    clip_obs: float,
    clip_reward: float,
    gamma: float,
    norm_obs: bool,
    norm_reward: bool,
) -> tuple[PPO, VecNormalize, dict[str, Any]]:
    """Restore the model, the env stack and the random states saved by :func:`save_checkpoint`.

    It unpickles ``env_state.pkl`` and SB3's ``model.zip``: check the files first
    (:func:`verify_checkpoint`) unless they are trusted.

    Args:
        run_dir: The run directory.
        clip_obs: ``VecNormalize`` setting of the run (from its saved config).
        clip_reward: Likewise.
        gamma: Likewise.
        norm_obs: Likewise.
        norm_reward: Likewise.

    Returns:
        ``(model, venv, progress)``; ``progress`` is the checkpoint's ``progress.json``.

    Raises:
        FileNotFoundError: If the run has no checkpoint.
        CheckpointError: If a checkpoint file is missing or damaged (the message names it).
    """
    ckpt, progress, state = read_checkpoint(run_dir, _read_env_state)
    venv = normalized(state["env"], gamma, norm_obs, norm_reward, clip_obs, clip_reward)
    venv.obs_rms = state["obs_rms"]
    venv.ret_rms = state["ret_rms"]
    venv.returns = state["returns"]
    # force_reset=False keeps SB3's saved last observation: the env continues mid-episode.
    model = _read(
        ckpt / "model.zip",
        lambda path: PPO.load(path, env=venv, device="cpu", force_reset=False),
    )

    restore_rng(ckpt)
    return model, venv, progress


def read_checkpoint(
    run_dir: str | os.PathLike[str], read_state: Callable[[Path], dict[str, Any]]
) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """The checkpoint directory of ``run_dir``, its ``progress.json`` and its market state.

    ``read_state`` reads (unpickles) ``env_state.pkl``; any failure is a
    :class:`CheckpointError` naming the file.

    Raises:
        FileNotFoundError: If the run has no checkpoint.
    """
    ckpt = checkpoint_path(run_dir)
    if ckpt is None:
        raise FileNotFoundError(f"no checkpoint in {run_dir} (expected {CHECKPOINT_DIR}/)")
    progress = _read(ckpt / "progress.json", _read_progress)
    return ckpt, progress, _read(ckpt / "env_state.pkl", read_state)


def restore_rng(ckpt: Path) -> None:
    """Put back the global random states saved in ``ckpt`` (``PPO.load`` re-seeds them)."""

    def restore(path: Path) -> None:
        with np.load(path, allow_pickle=False) as rng:
            _set_rng_state(rng)

    _read(ckpt / "rng_state.npz", restore)


class AtomicCheckpointCallback(BaseCallback):
    """Checkpoint every ``every`` steps and when a stop is requested (then stop training).

    Not SB3's ``CheckpointCallback``: that one saves ``model.zip`` alone, at any step, in
    place; this one calls :func:`save_checkpoint` (model, normalisation, market and random
    states, written atomically) only where a resume continues exactly, and handles Ctrl-C.

    Checkpoints happen at the start of a rollout (right after an update), the only point where
    the saved state resumes exactly; ``every`` is therefore rounded up to whole rollouts.

    Args:
        save: Called with no argument to write a checkpoint.
        every: Steps between checkpoints (0: only on request and at the end).
        interrupt: The :class:`GracefulInterrupt` to poll (None: no stop requests).

    Attributes:
        stopped: Whether training stopped on request.
    """

    def __init__(
        self,
        save: Callable[[], Any],
        every: int,
        interrupt: GracefulInterrupt | None = None,
    ) -> None:
        """Set up."""
        super().__init__()
        self._save = save
        self.every = int(every)
        self.interrupt = interrupt
        self.stopped = False
        self._next = 0

    def _on_training_start(self) -> None:
        self._next = self.num_timesteps + self.every if self.every > 0 else -1

    def _on_rollout_start(self) -> None:
        if self.interrupt is not None and self.interrupt.requested:
            self._save()
            self.stopped = True
        elif self._next >= 0 and self.num_timesteps >= self._next:
            self._save()
            while self._next <= self.num_timesteps:
                self._next += self.every

    def _on_step(self) -> bool:
        return not self.stopped
