"""Training plumbing for ``train.py``: logging, progress, checkpoints, Ctrl-C and exact resumes.

Checkpoints are taken at the start of a rollout, i.e. right after a PPO update: the model,
its optimizer, SB3's counters and last observation, the normalisation statistics (and running
return), the whole market state of every sub-env (the native env pickles its arrays), and the
torch and numpy random states. Restoring all of them makes a resumed run continue exactly as
if it had not stopped (``tests/test_train.py`` checks parameters bit for bit).

A checkpoint directory is written under a temporary name and renamed into place (the previous
one is kept as ``checkpoint.old`` during the swap and removed after), so an interruption while
saving never leaves a half-written checkpoint. The first Ctrl-C (SIGINT) asks training to stop
at the end of the current update and save; a second one aborts at once, keeping the last
checkpoint. Loading a checkpoint unpickles files the run itself wrote (``--resume`` is an
explicit request); nothing else here loads pickles.
"""

from __future__ import annotations

import importlib
import json
import os
import pickle
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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

__all__ = [
    "CHECKPOINT_DIR",
    "CheckpointCallback",
    "GracefulInterrupt",
    "TrainingMonitor",
    "atomic_write_text",
    "checkpoint_path",
    "load_checkpoint",
    "save_checkpoint",
]

CHECKPOINT_DIR = "checkpoint"
_OLD_SUFFIX = ".old"


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------------- Ctrl-C


class GracefulInterrupt:
    """SIGINT handling: the first Ctrl-C requests a stop, the second raises KeyboardInterrupt.

    Use as a context manager around training; :attr:`requested` is polled by
    :class:`CheckpointCallback`.

    Attributes:
        requested: Whether a stop was requested.
    """

    def __init__(self, message: Callable[[str], Any] = print) -> None:
        """Keep ``message`` (called with one line on the first Ctrl-C)."""
        self.requested = False
        self._message = message
        self._previous: Any = None

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self._message(
            "\nCtrl-C: finishing this update, then saving a checkpoint "
            "(press Ctrl-C again to abort without saving)"
        )

    def __enter__(self) -> GracefulInterrupt:
        """Install the handler (main thread only; elsewhere it is a no-op)."""
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not in the main thread
            self._previous = None
        return self

    def __exit__(self, *exc: object) -> None:
        """Restore the previous handler."""
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


# ---------------------------------------------------------------------------------- logging


def _adapter(venv: VecNormalize) -> MarketMakingSB3VecEnv:
    inner = venv.venv
    if not isinstance(inner, MarketMakingSB3VecEnv):
        raise TypeError(f"expected VecNormalize(MarketMakingSB3VecEnv), got {inner!r}")
    return inner


class TrainingMonitor(BaseCallback):
    """Log episode statistics and throughput to the SB3 logger, and drive a progress bar.

    Every rollout it records, over the episodes that ended in it (means unless said):

    - ``episode/reward``, ``episode/pnl``, ``episode/count``;
    - ``episode/pnl_sharpe``: the Sharpe ratio of each episode's step PnL, as the evaluation
      computes it;
    - ``episode/mean_abs_inventory``, ``episode/inventory_std``, ``episode/max_abs_inventory``,
      ``episode/final_abs_inventory`` (lots);
    - ``episode/fill_rate`` (mm1's fills per step) and ``episode/quoted_spread_ticks`` (the
      requested bid + ask offsets);
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


def save_checkpoint(
    run_dir: str | os.PathLike[str],
    model: PPO,
    venv: VecNormalize,
    *,
    feature_names: tuple[str, ...],
    max_offset_ticks: float,
    wall_time_s: float,
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
        wall_time_s: Training wall time so far, seconds, all sessions of the run.

    Returns:
        The checkpoint directory.
    """
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    final = run / CHECKPOINT_DIR
    old = run / (CHECKPOINT_DIR + _OLD_SUFFIX)
    tmp = Path(tempfile.mkdtemp(prefix=f".{CHECKPOINT_DIR}-", dir=run))
    try:
        model.save(tmp / "model.zip")
        venv.save(str(tmp / "vecnormalize.pkl"))
        env_state = {
            "env": venv.venv,
            "obs_rms": venv.obs_rms,
            "ret_rms": venv.ret_rms,
            "returns": venv.returns,
        }
        with open(tmp / "env_state.pkl", "wb") as fh:
            _StatePickler(fh, protocol=pickle.HIGHEST_PROTOCOL).dump(env_state)
        np.savez(tmp / "rng_state.npz", **_rng_state())
        arrays = policy_arrays(model, venv, feature_names, max_offset_ticks)
        save_policy_arrays(tmp / POLICY_FILE, arrays)
        progress = {
            "num_timesteps": int(model.num_timesteps),
            "n_updates": int(model._n_updates),
            "wall_time_s": float(wall_time_s),
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        (tmp / "progress.json").write_text(json.dumps(progress, indent=2) + "\n")
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
        publish(tmp, final, directory=True)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    # The run folder's copies (what load_policy, evaluate.py and SB3 users read).
    for name in (POLICY_FILE, "model.zip", "vecnormalize.pkl"):
        fd, part = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=run)
        os.close(fd)
        shutil.copyfile(final / name, part)
        publish(part, run / name)
    return final


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
    """
    ckpt = checkpoint_path(run_dir)
    if ckpt is None:
        raise FileNotFoundError(f"no checkpoint in {run_dir} (expected {CHECKPOINT_DIR}/)")
    progress = json.loads((ckpt / "progress.json").read_text())
    with open(ckpt / "env_state.pkl", "rb") as fh:
        # A file this run wrote; --resume is the user's explicit request to load it.
        state = pickle.load(fh)
    venv = normalized(state["env"], gamma, norm_obs, norm_reward, clip_obs, clip_reward)
    venv.obs_rms = state["obs_rms"]
    venv.ret_rms = state["ret_rms"]
    venv.returns = state["returns"]
    # force_reset=False keeps SB3's saved last observation: the env continues mid-episode.
    model = PPO.load(ckpt / "model.zip", env=venv, device="cpu", force_reset=False)
    # PPO.load re-seeds the global generators from the run's seed; put back the saved ones.
    with np.load(ckpt / "rng_state.npz", allow_pickle=False) as rng:
        _set_rng_state(rng)
    return model, venv, progress


class CheckpointCallback(BaseCallback):
    """Checkpoint every ``every`` steps and when a stop is requested (then stop training).

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


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Use ``n`` torch intra-op threads inside the block (restored after)."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
