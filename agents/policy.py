"""A trained PPO actor as a numpy-only :class:`~mm_gym.policy.QuotingPolicy`.

Training saves the deterministic part of the SB3 ``MlpPolicy`` actor (the policy MLP and the
mean layer of its Gaussian) and the ``VecNormalize`` observation statistics as plain arrays in
``policy.npz`` (no pickle: :func:`numpy.load` with ``allow_pickle=False``). :func:`load_policy`
reads them back into a :class:`PPOPolicy`, whose ``act`` is a few numpy matrix products: no
torch at call time, so ``evaluate.py`` and a rival mm2 run it as cheaply as a scripted baseline.

``act`` returns the mean of the Gaussian, clipped to [-1, 1] (the deterministic action, as SB3's
``predict(obs, deterministic=True)``), computed from the observation normalised exactly as during
training: ``clip((obs - mean) / sqrt(var + eps), -clip_obs, clip_obs)``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mm_gym.policy import PolicyContext

__all__ = ["POLICY_FILE", "PPOPolicy", "load_policy", "publish", "save_policy_arrays"]

POLICY_FILE = "policy.npz"
"""Name of the numpy actor file inside a run directory."""

FORMAT_VERSION = 1
_ACTIVATIONS = ("tanh", "relu")


class PPOPolicy:
    """A feed-forward actor with observation normalisation, batched and numpy-only.

    Args:
        arrays: The arrays of a ``policy.npz`` (see :func:`save_policy_arrays`): ``weights_i``
            and ``biases_i`` for each layer (the last one gives the action mean),
            ``obs_mean``, ``obs_var``, ``clip_obs``, ``epsilon``, ``activation``,
            ``feature_names`` and ``max_offset_ticks``.
        name: Display name.

    Attributes:
        name: Display name.
        feature_names: The features the actor was trained on, in its input order.
        max_offset_ticks: The offset that an action of +1 meant in training; actions are
            converted when the environment's ``max_offset_ticks`` differs.
    """

    def __init__(self, arrays: Mapping[str, np.ndarray], name: str = "ppo") -> None:
        """Check the arrays and keep float32 copies."""
        version = int(np.asarray(arrays.get("format_version", FORMAT_VERSION)))
        if version != FORMAT_VERSION:
            raise ValueError(f"policy format_version={version} is not supported (expected 1)")
        n_layers = sum(1 for key in arrays if key.startswith("weights_"))
        if n_layers < 1:
            raise ValueError("policy arrays hold no layers (weights_0, biases_0, ...)")
        self.weights = [np.asarray(arrays[f"weights_{i}"], np.float32) for i in range(n_layers)]
        self.biases = [np.asarray(arrays[f"biases_{i}"], np.float32) for i in range(n_layers)]
        activation = str(np.asarray(arrays["activation"]))
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation={activation!r} is not supported: {list(_ACTIVATIONS)}")
        self.activation = activation
        self.feature_names: tuple[str, ...] = tuple(str(f) for f in arrays["feature_names"])
        d = len(self.feature_names)
        self.obs_mean = np.asarray(arrays["obs_mean"], np.float64).reshape(d)
        self.obs_var = np.asarray(arrays["obs_var"], np.float64).reshape(d)
        self.clip_obs = float(np.asarray(arrays["clip_obs"]))
        self.epsilon = float(np.asarray(arrays["epsilon"]))
        self.max_offset_ticks = float(np.asarray(arrays["max_offset_ticks"]))
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            fan_in = d if i == 0 else self.weights[i - 1].shape[0]
            if w.ndim != 2 or w.shape[1] != fan_in or b.shape != (w.shape[0],):
                raise ValueError(f"layer {i}: weights {w.shape} and biases {b.shape} do not chain")
        if self.weights[-1].shape[0] != 2:
            raise ValueError(f"the actor outputs {self.weights[-1].shape[0]} actions; expected 2")
        self.name = name
        # The denominator of VecNormalize's normalisation, computed as it does (float64).
        self._std = np.sqrt(self.obs_var + self.epsilon)
        self._cols: np.ndarray | None = None
        self._action_scale = 1.0

    def reset(self, rng: np.random.Generator, context: PolicyContext) -> None:
        """Find the trained features among the environment's, by name.

        Args:
            rng: Unused (the policy is deterministic).
            context: The environment's context.

        Raises:
            KeyError: If a feature the policy was trained on is not observed.
        """
        missing = [f for f in self.feature_names if f not in context.feature_names]
        if missing:
            raise KeyError(
                f"policy {self.name!r} needs features {missing} that the environment does not "
                f"observe (it observes {list(context.feature_names)})"
            )
        self._cols = np.array([context.feature_names.index(f) for f in self.feature_names])
        # Offsets are in ticks: an action a means (a + 1) / 2 * max_offset in training units.
        self._action_scale = self.max_offset_ticks / float(context.max_offset_ticks)

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Map observations ``(n, d)`` to deterministic actions ``(n, 2)`` float32 in [-1, 1]."""
        if self._cols is None:
            raise RuntimeError(f"PPOPolicy {self.name!r}: act() called before reset(rng, context)")
        x = np.asarray(obs)
        if x.ndim != 2:
            raise ValueError(f"PPOPolicy.act: obs must be 2-D (n, d); got shape {x.shape}")
        return self._forward(x[:, self._cols])

    def _forward(self, x: np.ndarray) -> np.ndarray:
        """The actor on observations already in the trained feature order."""
        z = np.clip((x - self.obs_mean) / self._std, -self.clip_obs, self.clip_obs)
        h = z.astype(np.float32)
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = h @ w.T + b
            if i < last:
                h = np.tanh(h) if self.activation == "tanh" else np.maximum(h, 0.0)
        a = np.clip(h, -1.0, 1.0)
        if self._action_scale != 1.0:
            a = np.clip((a + 1.0) * self._action_scale - 1.0, -1.0, 1.0)
        return a.astype(np.float32)

    def __repr__(self) -> str:
        """``PPOPolicy(name, layers)``."""
        sizes = [w.shape[0] for w in self.weights[:-1]]
        return f"PPOPolicy({self.name!r}, hidden={sizes}, activation={self.activation!r})"


def publish(
    tmp: str | os.PathLike[str], path: str | os.PathLike[str], directory: bool = False
) -> None:
    """Give a temporary file (or directory) the usual permissions and rename it to ``path``.

    ``tempfile`` creates private (0600 / 0700) entries; a run folder's files should be as
    readable as any other file the user writes (``0666`` / ``0777`` minus the umask).
    """
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, (0o777 if directory else 0o666) & ~umask)
    os.replace(tmp, path)


def save_policy_arrays(path: str | os.PathLike[str], arrays: Mapping[str, Any]) -> None:
    """Write ``arrays`` to ``path`` as an ``.npz``, atomically (temp file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, format_version=np.int64(FORMAT_VERSION), **arrays)
        publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_policy(run: str | os.PathLike[str], name: str | None = None) -> PPOPolicy:
    """Load the trained policy of a run directory as a :class:`~mm_gym.policy.QuotingPolicy`.

    Args:
        run: A run directory written by ``train.py`` (``runs/<name>``), or a ``policy.npz``.
        name: Display name (default: the run directory's name).

    Returns:
        A numpy-only :class:`PPOPolicy`; call ``reset(rng, context)`` before ``act``.

    Raises:
        FileNotFoundError: If there is no ``policy.npz`` in ``run``.
    """
    path = Path(run)
    file = path if path.suffix == ".npz" else path / POLICY_FILE
    if not file.is_file():
        raise FileNotFoundError(
            f"no trained policy at {file}: expected a run directory written by train.py "
            f"(containing {POLICY_FILE}) or the path of a {POLICY_FILE}"
        )
    with np.load(file, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    if name is None:
        name = (path.parent.name if path.suffix == ".npz" else path.name) or "ppo"
    return PPOPolicy(arrays, name=name)
