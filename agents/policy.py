"""A trained PPO actor as a numpy-only :class:`~mm_gym.policy.QuotingPolicy`.

Training saves the deterministic part of the SB3 ``MlpPolicy`` actor (the policy MLP and the
mean layer of its Gaussian) and the ``VecNormalize`` observation statistics as plain arrays in
``policy.npz`` (no pickle: :func:`numpy.load` with ``allow_pickle=False``). :func:`load_policy`
reads them back into a :class:`PPOPolicy`, whose ``act`` is a few numpy matrix products: no
torch at call time, so ``evaluate.py`` and a rival mm2 run it as cheaply as a scripted baseline.

A ``policy.npz`` is untrusted input (a run folder may be copied from anywhere): :func:`load_policy`
reads the zip directory and every array header before decompressing anything, refuses members
whose declared sizes exceed :data:`MAX_POLICY_BYTES` or the memory available, and checks every
array (keys, shapes, finiteness, non-negative variances). Every failure is a
:class:`PolicyFileError` (a ``ValueError``) naming the file and the problem in one line.

``act`` returns the mean of the Gaussian, clipped to [-1, 1] (the deterministic action, as SB3's
``predict(obs, deterministic=True)``), computed from the observation normalised exactly as during
training: ``clip((obs - mean) / sqrt(var + eps), -clip_obs, clip_obs)``.

An action means an offset only together with the mapping it was trained with: ``policy.npz``
records ``max_offset_ticks`` and ``action_mapping`` (see :mod:`mm_gym.actions`). A file without
``action_mapping`` was written before the field existed, when every environment used the linear
``"mid"`` mapping, and is read so. Where the environment's mapping or ``max_offset_ticks``
differ, ``act`` converts each action to the offset it meant in training and back to the action
quoting that offset here, so a policy quotes the prices it was trained to quote.

A run trained on ``mm_gym/MultiVenue-v0`` with ``action_form="routed"`` (recorded in its
``policy.npz`` and its ``metadata.json``'s ``env_kwargs``; a file written before the array
existed has only the latter) loads with :attr:`PPOPolicy.action_form` ``"routed"``: its
actor gives ``2 + V`` actions, one quote and a routing action per venue, which the routed env
maps to per-venue quotes (:func:`mm_gym.multivenue.routing.routed_quotes`); the evaluators play
it on that env (:func:`mm_gym.multivenue.batch.run_batch`).

A ``policy.npz`` exported from an env whose ``action_type`` is not ``"continuous"`` records it
(``action_type``, e.g. ``"continuous_sizes"``: offsets then quote sizes) and is refused, since
its size actions would be read as another venue's offsets; a file without the array (written
before it existed) loads as before.
"""

from __future__ import annotations

import io
import json
import math
import os
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mm_gym import check_trained_env_id
from mm_gym.actions import (
    ACTION_MAPPINGS,
    LEGACY_ACTION_MAPPING,
    actions_to_offsets,
    offsets_to_actions,
)
from mm_gym.config import ConfigError
from mm_gym.files import MemoryLimitError, atomic_write_bytes, check_memory
from mm_gym.policy import AGENT_ID_FEATURE, PolicyContext

__all__ = [
    "MAX_POLICY_BYTES",
    "POLICY_FILE",
    "SUPPORTED_ACTION_TYPE",
    "PPOPolicy",
    "PolicyFileError",
    "load_policy",
    "publish",
    "save_policy_arrays",
    "trained_env_id",
]

POLICY_FILE = "policy.npz"
"""Name of the numpy actor file inside a run directory."""

MAX_POLICY_BYTES = 256 * 2**20
"""Cap on the decompressed size of a ``policy.npz`` (all arrays): 256 MiB.

A [256, 256] actor takes about 300 kB; the cap leaves room for far larger networks while
refusing a zip bomb (a small file whose members inflate to gigabytes) before decompression.
"""

FORMAT_VERSION = 1
PER_VENUE = "per_venue"
"""The default action form (:data:`mm_gym.multivenue.routing.DEFAULT_ACTION_FORM`)."""
_ACTIVATIONS = ("tanh", "relu")
_REQUIRED = (
    "activation",
    "feature_names",
    "obs_mean",
    "obs_var",
    "clip_obs",
    "epsilon",
    "max_offset_ticks",
)


def _checked_form(action_form: Any) -> str:
    """``action_form`` if it is a multi-venue env's (ConfigError otherwise, naming it).

    The default is accepted without importing :mod:`mm_gym.multivenue`, which loads its markets.
    """
    if action_form == PER_VENUE:
        return PER_VENUE
    from mm_gym.multivenue.routing import check_action_form as check

    return check(action_form)


def _recorded_form(arrays: Mapping[str, np.ndarray], given: str | None) -> str:
    """The action form of a policy file's arrays, checked against the one ``given``."""
    if "action_form" not in arrays:
        return _checked_form(PER_VENUE if given is None else given)
    recorded = _array(arrays, "action_form")
    if recorded.shape != () or recorded.dtype.kind != "U":
        raise _fail("action_form", recorded, "must be a string (a 0-D array)")
    form = _checked_form(str(recorded))
    if given is not None and _checked_form(given) != form:
        raise _fail("action_form", recorded, f"contradicts the run's action_form={given!r}")
    return form


SUPPORTED_ACTION_TYPE = "continuous"
"""The only ``action_type`` a :class:`PPOPolicy` plays: a bid and an ask offset action per venue
(:data:`mm_gym.actions.ACTION_TYPES`)."""


def _check_action_type(arrays: Mapping[str, np.ndarray]) -> None:
    """Refuse a file recording an ``action_type`` other than :data:`SUPPORTED_ACTION_TYPE`.

    A ``"continuous_sizes"`` actor's 4 outputs (offsets, then sizes) would otherwise load as a
    two-venue policy. A file without the array (every file written before it) is not checked.
    """
    if "action_type" not in arrays:
        return
    recorded = _array(arrays, "action_type")
    if recorded.shape != () or recorded.dtype.kind != "U":
        raise _fail("action_type", recorded, "must be a string (a 0-D array)")
    if str(recorded) != SUPPORTED_ACTION_TYPE:
        raise _fail(
            "action_type",
            recorded,
            f"is not supported: a PPOPolicy plays only action_type={SUPPORTED_ACTION_TYPE!r} "
            "policies (a bid and an ask offset action per venue, no size actions)",
        )


class PolicyFileError(ValueError):
    """A ``policy.npz`` cannot be used: unreadable, too large, or with invalid arrays."""


def _fail(field: str, value: Any, problem: str) -> ValueError:
    return ValueError(f"{field}={_short(value)} {problem}")


def _short(value: Any) -> str:
    """A bounded repr of an array (shape and dtype beyond a few elements)."""
    arr = np.asarray(value)
    if arr.size <= 4 and not arr.dtype.hasobject:
        return repr(arr.tolist())
    return f"<array shape={arr.shape} dtype={arr.dtype}>"


def _array(arrays: Mapping[str, np.ndarray], key: str) -> np.ndarray:
    if key not in arrays:
        raise ValueError(f"array {key!r} is missing (the file holds {sorted(arrays)})")
    return np.asarray(arrays[key])


def _finite_matrix(arrays: Mapping[str, np.ndarray], key: str, ndim: int) -> np.ndarray:
    arr = _array(arrays, key)
    if arr.ndim != ndim or arr.dtype.kind not in "fiu":
        raise _fail(key, arr, f"must be a {ndim}-D numeric array; got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise _fail(key, arr, "must be finite (it holds NaN or inf)")
    return arr.astype(np.float32)


def _scalar(arrays: Mapping[str, np.ndarray], key: str, low: float, inclusive: bool) -> float:
    arr = _array(arrays, key)
    if arr.shape != () or arr.dtype.kind not in "fiu":
        raise _fail(key, arr, "must be a number (a 0-D array)")
    value = float(arr)
    ok = value >= low if inclusive else value > low
    # clip_obs may be +inf (agents.ppo exports an unnormalised actor so); the rest are finite.
    infinite_ok = key == "clip_obs"
    if not ok or math.isnan(value) or (math.isinf(value) and not infinite_ok):
        bound = ">=" if inclusive else ">"
        raise _fail(key, arr, f"must be {bound} {low:g}" + ("" if infinite_ok else " and finite"))
    return value


def _check_version(arrays: Mapping[str, np.ndarray]) -> None:
    """A ``format_version``, if the arrays hold one, is the integer :data:`FORMAT_VERSION`."""
    if "format_version" not in arrays:
        return
    version = _array(arrays, "format_version")
    if version.shape != () or version.dtype.kind not in "iu":
        raise _fail("format_version", version, "must be an integer")
    if int(version) != FORMAT_VERSION:
        raise _fail("format_version", version, f"is not supported (expected {FORMAT_VERSION})")


def _layers(arrays: Mapping[str, np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The actor's finite weight matrices and bias vectors, layer by layer, as float32."""
    layer_ids = [
        int(key.rsplit("_", 1)[1])
        for key in arrays
        if key.startswith(("weights_", "biases_")) and key.rsplit("_", 1)[1].isdigit()
    ]
    if not layer_ids:
        raise ValueError("policy arrays hold no layers (weights_0, biases_0, ...)")
    n_layers = max(layer_ids) + 1
    # Layers are weights_i and biases_i for i = 0..n-1: a gap is a damaged file.
    for i in range(n_layers):
        for key in (f"weights_{i}", f"biases_{i}"):
            if key not in arrays:
                raise ValueError(f"array {key!r} is missing (the file holds {sorted(arrays)})")
    weights = [_finite_matrix(arrays, f"weights_{i}", 2) for i in range(n_layers)]
    biases = [_finite_matrix(arrays, f"biases_{i}", 1) for i in range(n_layers)]
    return weights, biases


def _check_chain(weights: list[np.ndarray], biases: list[np.ndarray], d: int) -> None:
    """Each layer takes the previous one's outputs (the first, ``d`` features)."""
    for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
        fan_in = d if i == 0 else weights[i - 1].shape[0]
        if w.shape[1] != fan_in or b.shape != (w.shape[0],):
            raise ValueError(
                f"layer {i}: weights {w.shape} and biases {b.shape} do not chain "
                f"(expected ({b.shape[0] if b.ndim else '?'}, {fan_in}) weights)"
            )


def _n_venues(n_out: int, routed: bool) -> int:
    """The venues an actor with ``n_out`` outputs quotes (routed: bid, ask, a weight each)."""
    if routed and n_out < 3:
        raise ValueError(
            f"the actor outputs {n_out} actions; a routed policy's are a bid, an ask and "
            "a routing action per venue (3, 4, ...)"
        )
    if not routed and (n_out < 2 or n_out % 2):
        # A bid and an ask action per venue: 2 on a single venue, 2V on MultiVenue-v0.
        raise ValueError(
            f"the actor outputs {n_out} actions; expected a bid and an ask per venue "
            "(2, 4, ...; a routed run's policy.npz or metadata.json records "
            "action_form='routed')"
        )
    return n_out - 2 if routed else n_out // 2


class PPOPolicy:
    """A feed-forward actor with observation normalisation, batched and numpy-only.

    Args:
        arrays: The arrays of a ``policy.npz`` (see :func:`save_policy_arrays`): ``weights_i``
            and ``biases_i`` for each layer (the last one gives the action mean),
            ``obs_mean``, ``obs_var``, ``clip_obs``, ``epsilon``, ``activation``,
            ``feature_names`` and ``max_offset_ticks``; optionally ``action_mapping``
            (missing: ``"mid"``, the mapping of every policy saved before it was recorded)
            and ``action_form`` (missing: ``"per_venue"``, or the argument); ``action_type``
            (missing: ``"continuous"``; any other value is refused).
        name: Display name.
        action_form: ``"per_venue"`` (a bid and an ask action per venue) or ``"routed"`` (a
            bid and an ask action, then a routing action per venue: MultiVenue-v0's routed
            form, :mod:`mm_gym.multivenue.routing`), as the run's metadata records it; None
            (default): the file's ``action_form``, else ``"per_venue"``. A file that records
            another form is refused.

    Attributes:
        name: Display name.
        feature_names: The features the actor was trained on, in its input order.
        max_offset_ticks: The offset that an action of +1 meant in training.
        action_mapping: The mapping of offsets the policy was trained with. Actions are
            converted when the environment's ``max_offset_ticks`` or ``action_mapping``
            differs (see the module docstring); a routed policy's routing actions are kept.
        action_form: The action form it was trained with.
        n_venues: The venues its actions quote (1 for a single-venue policy).
        env_id: The env id its run was trained on (:func:`load_policy` reads it from the run's
            ``metadata.json``), or None if unknown (cross-play refuses a policy of another
            market by it: :func:`mm_gym.evaluation.crossplay_envs.check_contestant`).
    """

    def __init__(
        self,
        arrays: Mapping[str, np.ndarray],
        name: str = "ppo",
        action_form: str | None = None,
    ) -> None:
        """Check the arrays and keep float32 copies.

        Raises:
            ValueError: Naming the array and the problem (missing, wrong shape, not finite,
                negative variance, unsupported activation, version or action type), or the
                action form.
        """
        self.action_form = _recorded_form(arrays, action_form)
        _check_action_type(arrays)
        _check_version(arrays)
        missing = [k for k in _REQUIRED if k not in arrays]
        if missing:
            raise ValueError(f"arrays {missing} are missing (the file holds {sorted(arrays)})")
        self.weights, self.biases = _layers(arrays)
        activation = _array(arrays, "activation")
        if activation.shape != () or str(activation) not in _ACTIVATIONS:
            raise _fail("activation", activation, f"is not supported: {list(_ACTIVATIONS)}")
        self.activation = str(activation)
        names = _array(arrays, "feature_names")
        if names.ndim != 1 or names.dtype.kind != "U" or names.size == 0:
            raise _fail("feature_names", names, "must be a non-empty 1-D array of strings")
        if len(set(names.tolist())) != names.size:
            raise _fail("feature_names", names, "must not repeat a name")
        self.feature_names: tuple[str, ...] = tuple(str(f) for f in names)
        d = len(self.feature_names)
        self.obs_mean = self._stat(arrays, "obs_mean", d)
        self.obs_var = self._stat(arrays, "obs_var", d)
        if (self.obs_var < 0).any():
            raise _fail("obs_var", self.obs_var, "must not be negative (a variance)")
        self.clip_obs = _scalar(arrays, "clip_obs", 0.0, inclusive=False)
        self.epsilon = _scalar(arrays, "epsilon", 0.0, inclusive=True)
        self.max_offset_ticks = _scalar(arrays, "max_offset_ticks", 0.0, inclusive=False)
        self.action_mapping = LEGACY_ACTION_MAPPING
        if "action_mapping" in arrays:
            mapping = _array(arrays, "action_mapping")
            if mapping.shape != () or str(mapping) not in ACTION_MAPPINGS:
                allowed = list(ACTION_MAPPINGS)
                raise _fail("action_mapping", mapping, f"is not valid: choose one of {allowed}")
            self.action_mapping = str(mapping)
        _check_chain(self.weights, self.biases, d)
        self.routed = self.action_form == "routed"
        self.n_venues = _n_venues(self.weights[-1].shape[0], self.routed)
        if not (self.obs_var + self.epsilon > 0).all():
            raise ValueError("obs_var + epsilon must be > 0 (a zero variance needs epsilon > 0)")
        self.name = name
        self.env_id: str | None = None
        # The denominator of VecNormalize's normalisation, computed as it does (float64).
        self._std = np.sqrt(self.obs_var + self.epsilon)
        self._cols: np.ndarray | None = None
        self._seat: tuple[int, float] | None = None
        self._target: tuple[float, str] | None = None  # the env's (max_offset, mapping) if other

    @staticmethod
    def _stat(arrays: Mapping[str, np.ndarray], key: str, d: int) -> np.ndarray:
        """An observation statistic: finite, one value per feature (float64, as VecNormalize)."""
        arr = _array(arrays, key)
        if arr.dtype.kind not in "fiu" or arr.size != d:
            raise _fail(key, arr, f"must hold {d} numbers (one per feature); got shape {arr.shape}")
        if not np.isfinite(arr).all():
            raise _fail(key, arr, "must be finite (it holds NaN or inf)")
        return arr.astype(np.float64).reshape(d)

    def reset(self, rng: np.random.Generator, context: PolicyContext) -> None:
        """Find the trained features among the environment's, by name.

        Args:
            rng: Unused (the policy is deterministic).
            context: The environment's context.

        Raises:
            KeyError: If a feature the policy was trained on is not observed.
        """
        names = context.feature_names
        # A policy trained on both seats (train.py --learners mm1,mm2 --share-policy) reads its
        # seat from the context where the env does not observe it.
        seat = AGENT_ID_FEATURE in self.feature_names and AGENT_ID_FEATURE not in names
        missing = [
            f for f in self.feature_names if f not in names and not (seat and f == AGENT_ID_FEATURE)
        ]
        if missing and self.routed:
            raise KeyError(
                f"policy {self.name!r} was trained on mm_gym/MultiVenue-v0's routed action "
                f"form ({self.n_venues} venues): it plays only that env with "
                f"action_form='routed', which observes its features (this env lacks {missing[:3]})"
            )
        if missing:
            raise KeyError(
                f"policy {self.name!r} needs features {missing} that the environment does not "
                f"observe (it observes {list(names)})"
            )
        self._cols = np.array([names.index(f) if f in names else 0 for f in self.feature_names])
        self._seat = None
        if seat:
            self._seat = (self.feature_names.index(AGENT_ID_FEATURE), float(context.maker == "mm2"))
        target = (float(context.max_offset_ticks), context.action_mapping)
        same = target == (self.max_offset_ticks, self.action_mapping)
        self._target = None if same else target

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Map observations ``(n, d)`` to deterministic actions float32 in [-1, 1].

        ``(n, 2V)``: ``V`` is 1 for a policy trained on a single venue, the number of venues for
        one trained on ``mm_gym/MultiVenue-v0`` (a bid and an ask action per venue, in venue
        order). A routed policy's are ``(n, 2 + V)``: a bid and an ask action, then a routing
        action per venue.
        """
        if self._cols is None:
            raise RuntimeError(f"PPOPolicy {self.name!r}: act() called before reset(rng, context)")
        x = np.asarray(obs)
        if x.ndim != 2:
            raise ValueError(f"PPOPolicy.act: obs must be 2-D (n, d); got shape {x.shape}")
        x = x[:, self._cols]
        if self._seat is not None:
            x[:, self._seat[0]] = self._seat[1]
        return self._forward(x)

    def _forward(self, x: np.ndarray) -> np.ndarray:
        """The actor on observations already in the trained feature order."""
        z = np.clip((x - self.obs_mean) / self._std, -self.clip_obs, self.clip_obs)
        h = z.astype(np.float32)
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = h @ w.T + b
            if i < last:
                h = np.tanh(h) if self.activation == "tanh" else np.maximum(h, 0.0)
        a = np.clip(h, -1.0, 1.0).astype(np.float32)
        if self._target is not None:
            # The offsets (ticks) the actions meant in training, then this env's actions for them
            # (a routed policy's routing actions are weights, not offsets: kept).
            # (bid, ask) pairs, one per venue: "spread_skew" maps a pair jointly.
            quotes = a[:, :2] if self.routed else a
            pairs = quotes.reshape(len(quotes), -1, 2)
            offsets = actions_to_offsets(pairs, self.max_offset_ticks, self.action_mapping)
            max_offset, mapping = self._target
            quotes[...] = offsets_to_actions(offsets, max_offset, mapping).reshape(quotes.shape)
        return a

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
    buf = io.BytesIO()
    np.savez(buf, format_version=np.int64(FORMAT_VERSION), **arrays)
    atomic_write_bytes(path, buf.getvalue())


def load_policy(run: str | os.PathLike[str], name: str | None = None) -> PPOPolicy:
    """Load the trained policy of a run directory as a :class:`~mm_gym.policy.QuotingPolicy`.

    The file is checked before anything is decompressed: it must be a zip of ``.npy`` members
    whose declared sizes (and array headers) add up to at most :data:`MAX_POLICY_BYTES` and fit
    in the memory available. Arrays are read with ``allow_pickle=False``.

    Args:
        run: A run directory written by ``train.py`` (``runs/<name>``), or a ``policy.npz``.
        name: Display name (default: the run directory's name).

    Returns:
        A numpy-only :class:`PPOPolicy`; call ``reset(rng, context)`` before ``act``.

    Raises:
        FileNotFoundError: If there is no ``policy.npz`` in ``run``.
        PolicyFileError: If the file is empty, truncated, not an npz, too large, or holds
            missing or invalid arrays; the message names the file.
        mm_gym.ConfigError: If the run's ``metadata.json`` records an env id that is no longer
            registered (a run trained on a ``-v0`` id; one line naming it and the current id),
            or an unknown ``env_kwargs.action_form``. The action form is read from there
            (:class:`PPOPolicy`; ``policy.npz`` records it too).
    """
    path = Path(run)
    file = path if path.suffix == ".npz" else path / POLICY_FILE
    if not file.is_file() and (path / LEARNER_SEATS[0] / POLICY_FILE).is_file():
        raise FileNotFoundError(
            f"{path} is a run of two learners (train.py --learners mm1,mm2): load one of them, "
            f"{path / LEARNER_SEATS[0]} or {path / LEARNER_SEATS[1]}"
        )
    if not file.is_file():
        raise FileNotFoundError(
            f"no trained policy at {file}: expected a run directory written by train.py "
            f"(containing {POLICY_FILE}) or the path of a {POLICY_FILE}"
        )
    # A learner of a two-learner run: its run's metadata and name (runs/x/mm1 is "x.mm1").
    seat = _learner_seat(file.parent)
    run_folder = file.parent.parent if seat else file.parent
    trained_on = trained_env_id(run_folder)
    if trained_on is not None:
        # A policy of a retired env version learnt another market: refused, not converted.
        check_trained_env_id(trained_on, str(file.parent))
    action_form = _action_form(run_folder)
    try:
        arrays = _read_npz(file)
        if name is None and seat:
            name = f"{file.parent.resolve().parent.name}.{seat}"
        if name is None:
            name = (path.parent.name if path.suffix == ".npz" else path.name) or "ppo"
        policy = PPOPolicy(arrays, name=name, action_form=action_form)
        policy.env_id = trained_on
        return policy
    except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PolicyFileError(f"{file}: {detail}") from None


LEARNER_SEATS = ("mm1", "mm2")
"""The seat folders of a two-learner run (``train.py --learners mm1,mm2``)."""


def _learner_seat(folder: Path) -> str:
    """``folder``'s seat if it is a learner's folder of a two-learner run, else ``""``."""
    parent = folder.resolve().parent
    if folder.resolve().name in LEARNER_SEATS and (parent / "config.yaml").is_file():
        return folder.resolve().name
    return ""


def _run_metadata(folder: Path) -> dict[str, Any]:
    """The run folder's ``metadata.json`` (empty if absent, unreadable or not a mapping)."""
    meta = folder / "metadata.json"
    try:
        if not meta.is_file() or meta.stat().st_size > 1 << 24:
            return {}
        data = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # unreadable metadata: the policy file itself is still checked
    return data if isinstance(data, dict) else {}


def trained_env_id(folder: Path) -> str | None:
    """The ``env_id`` recorded in the run folder's ``metadata.json``, if it records one."""
    env_id = _run_metadata(folder).get("env_id")
    return env_id if isinstance(env_id, str) else None


def _action_form(folder: Path) -> str | None:
    """The action form the run was trained with (``metadata.json``'s ``env_kwargs``), if any."""
    kwargs = _run_metadata(folder).get("env_kwargs")
    if not isinstance(kwargs, dict) or "action_form" not in kwargs:
        return None
    try:
        return _checked_form(kwargs["action_form"])
    except ConfigError as exc:
        raise ConfigError(f"{folder}: its metadata.json's env_kwargs: {exc}") from None


def _read_npz(file: Path) -> dict[str, np.ndarray]:
    """The arrays of an untrusted ``.npz``, refusing oversized members before inflating them."""
    if file.stat().st_size == 0:
        raise ValueError("the file is empty (an interrupted copy?)")
    try:
        zf = zipfile.ZipFile(file)
    except zipfile.BadZipFile:
        raise ValueError("not a valid npz file (not a complete zip archive)") from None
    with zf:
        members = zf.infolist()
        declared = sum(m.file_size for m in members)
        if declared > MAX_POLICY_BYTES:
            raise ValueError(
                f"its arrays would take {declared / 2**20:,.1f} MiB once decompressed; the limit "
                f"is {MAX_POLICY_BYTES / 2**20:,.0f} MiB (MAX_POLICY_BYTES)"
            )
        try:
            check_memory(declared, f"loading {file.name}")
        except MemoryLimitError as exc:
            raise ValueError(str(exc)) from None
        for m in members:
            if not m.filename.endswith(".npy") or "/" in m.filename:
                raise ValueError(f"member {m.filename!r} is not an array (.npy) of an npz")
            _check_header(zf, m)
    # The headers are consistent with the declared sizes, which bound what zipfile inflates.
    with np.load(file, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def _check_header(zf: zipfile.ZipFile, member: zipfile.ZipInfo) -> None:
    """Refuse an array whose header claims more data than its member holds (or pickles)."""
    key = member.filename[: -len(".npy")]
    with zf.open(member) as fh:
        try:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                raise ValueError(f"npy format version {version} is not supported")
        except ValueError as exc:
            raise ValueError(f"array {key!r} has an invalid header: {exc}") from None
    if dtype.hasobject:
        raise ValueError(f"array {key!r} holds Python objects (pickles are not loaded)")
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > member.file_size:
        raise ValueError(
            f"array {key!r} claims shape {tuple(shape)} ({nbytes:,} bytes) but its member holds "
            f"{member.file_size:,} bytes"
        )
