"""Reading ``train.py`` runs: their TensorBoard scalars, config and model files.

A run is a folder ``runs/<name>/`` with TensorBoard event files under ``tb/`` (possibly in
sub-folders, one per training session), the saved model and the config. Scalars are read with
TensorBoard's ``EventAccumulator``, one event file at a time, so that a corrupt file is named
and the others are still shown. Nothing here imports Streamlit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mm_gym_dashboard.paths import DashboardError

__all__ = [
    "EPISODE_TAGS",
    "RunInfo",
    "default_tags",
    "list_runs",
    "load_scalars",
    "run_info",
    "smooth",
    "unfinished_note",
]

EVENT_PREFIX = "events.out.tfevents."
"""Name prefix of TensorBoard event files."""

CONFIG_NAMES: tuple[str, ...] = ("config.yaml", "config.yml", "config.json", "args.json")
"""File names a run's config may have, in order of preference."""

NOTE_NAMES: tuple[str, ...] = ("metadata.json", "evaluation.txt")
"""Other small files of a run shown as they are (train.py's metadata and final table)."""

_MODEL_SUFFIXES = (".zip", ".pt", ".pth", ".npz", ".safetensors")

PREFERRED_TAGS: tuple[str, ...] = (
    "rollout/ep_rew_mean",
    "eval/mean_reward",
    "train/loss",
    "train/value_loss",
    "train/entropy_loss",
)
"""Tags plotted by default when a run has them."""


EPISODE_TAGS: tuple[str, ...] = ("rollout/ep_rew_mean", "rollout/ep_len_mean")
"""Tags logged only once an episode has finished (Stable-Baselines3's episode statistics)."""


@dataclass
class RunInfo:
    """What a run folder holds.

    Attributes:
        name: The run's name (its folder's name).
        path: The run folder.
        event_files: TensorBoard event files, sorted.
        config_file: The config file, if any.
        model_files: Saved models and checkpoints.
        notes: The files of :data:`NOTE_NAMES` the run has.
    """

    name: str
    path: Path
    event_files: list[Path] = field(default_factory=list)
    config_file: Path | None = None
    model_files: list[Path] = field(default_factory=list)
    notes: list[Path] = field(default_factory=list)


def list_runs(root: Path) -> list[Path]:
    """The run folders in ``root``, sorted by name; [] if ``root`` is missing."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def run_info(path: Path) -> RunInfo:
    """Describe the run folder ``path`` (event files under ``tb/``, else anywhere in it)."""
    tb = path / "tb"
    search = tb if tb.is_dir() else path
    events = sorted(p for p in search.rglob(f"{EVENT_PREFIX}*") if p.is_file())
    config = next((path / n for n in CONFIG_NAMES if (path / n).is_file()), None)
    models = sorted(
        p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in _MODEL_SUFFIXES
    )
    notes = [path / n for n in NOTE_NAMES if (path / n).is_file()]
    return RunInfo(path.name, path, events, config, models, notes)


def load_scalars(info: RunInfo) -> tuple[pd.DataFrame, list[str]]:
    """All scalar series of a run.

    Returns:
        ``(table, problems)``: the table has columns ``run``, ``tag``, ``step``, ``value``,
        ``wall_time``, sorted by tag and step (a step logged twice, e.g. after a resume, keeps
        its last value); each problem names the file it is about.

    Raises:
        DashboardError: If TensorBoard is not installed.
    """
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError as exc:  # tensorboard is a core dependency; say so if it went missing
        raise DashboardError(
            f"tensorboard is needed to read training curves ({exc}); pip install tensorboard"
        ) from None
    problems: list[str] = []
    if not info.event_files:
        where = info.path / "tb" if (info.path / "tb").is_dir() else info.path
        problems.append(f"{where}: no TensorBoard event files ({EVENT_PREFIX}*)")
    frames = []
    # TensorBoard logs each unreadable record as a warning; the dashboard reports the file.
    tb_logger = logging.getLogger("tensorboard")
    level = tb_logger.level
    tb_logger.setLevel(logging.ERROR)
    try:
        for path in info.event_files:
            try:
                acc = EventAccumulator(str(path), size_guidance={"scalars": 0})
                acc.Reload()
                tags = acc.Tags().get("scalars", [])
                rows = [
                    (tag, e.step, e.value, e.wall_time) for tag in tags for e in acc.Scalars(tag)
                ]
            except Exception as exc:  # a corrupt file may raise anything from the proto parser
                problems.append(f"{path}: cannot be read as a TensorBoard event file ({exc})")
                continue
            if not rows and acc.file_version is None and path.stat().st_size > 0:
                problems.append(
                    f"{path}: no readable TensorBoard event (corrupt, or not an event file)"
                )
                continue
            if rows:
                frames.append(pd.DataFrame(rows, columns=["tag", "step", "value", "wall_time"]))
    finally:
        tb_logger.setLevel(level)
    if not frames:
        return pd.DataFrame(columns=["run", "tag", "step", "value", "wall_time"]), problems
    df = pd.concat(frames, ignore_index=True).sort_values(["tag", "wall_time"], kind="stable")
    df = df.drop_duplicates(["tag", "step"], keep="last").sort_values(["tag", "step"])
    df.insert(0, "run", info.name)
    return df.reset_index(drop=True), problems


def unfinished_note(name: str, scalars: pd.DataFrame) -> str | None:
    """A note for a run that has not finished an episode yet, else None.

    Such a run logs no :data:`EPISODE_TAGS` (and, before its first rollout, no scalar at all),
    so it has no learning curve of the episode return yet; the page says so rather than
    leaving the run out silently.
    """
    if scalars.empty:
        return (
            f"Run {name} has not finished an episode yet: no scalars logged so far (the first "
            "come after its first rollout). Its curves appear once it has."
        )
    if not set(EPISODE_TAGS) & set(scalars["tag"]):
        return (
            f"Run {name} has not finished an episode yet: no {EPISODE_TAGS[0]} so far; its other "
            "scalars are plotted."
        )
    return None


def default_tags(tags: list[str], n: int = 2) -> list[str]:
    """Tags to show first: :data:`PREFERRED_TAGS` that exist, else the first ``n`` tags."""
    chosen = [t for t in PREFERRED_TAGS if t in tags][:n]
    return chosen or sorted(tags)[:n]


def smooth(values: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's debiased exponential moving average with smoothing ``weight`` in [0, 1).

    ``weight = 0`` returns the values unchanged; NaNs are carried through without updating
    the average.
    """
    v = np.asarray(values, dtype=float)
    if weight <= 0.0 or v.size == 0:
        return v.copy()
    out = np.empty_like(v)
    last, num = 0.0, 0
    for i, x in enumerate(v):
        if not np.isfinite(x):
            out[i] = x
            continue
        last = last * weight + (1.0 - weight) * x
        num += 1
        out[i] = last / (1.0 - weight**num)
    return out
