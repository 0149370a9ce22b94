"""A user's headline file replayed in the market in place of the generated bank (issue #16).

With ``ProcessConfig.news_file`` set, the simulator reads the file once
(:func:`mm_gym.news.load_headlines`, scored by ``news_model``), keeps the rows of one asset and
maps each timestamp to the env step the headline arrives in:

- integer timestamps are steps: ``k`` arrives in env step ``max(k, 1)`` (the count of
  ``info["step"]`` and :class:`~mm_gym.envs.core.HeadlineRecord`, 1 for the first ``step()``
  after a reset; nothing arrives before it, so step 0 joins step 1);
- date-times count from the file's first one: ``1 + floor((t - t_first) / seconds_per_step)``.

Headlines after ``horizon_steps`` are ignored (one warning says how many). Every episode
replays the same headlines at the same steps; the kernels read them from the arrays of
:meth:`HeadlineReplay.kernel_arrays` and record each one by its row in the file, which
:meth:`HeadlineReplay.lookup` turns back into its score and text.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from mm_gym.config import ConfigError, excerpt
from mm_gym.news.loader import HeadlineFileError, load_headlines

__all__ = ["NO_BUCKET", "HeadlineReplay", "load_replay"]

NO_BUCKET = -1
"""The bucket :meth:`HeadlineReplay.lookup` reports: a file's headline has no sentiment bucket."""


class HeadlineReplay:
    """The headlines of one asset of a headline file, each with its env step and score.

    Attributes:
        path: The file.
        asset: The asset replayed.
        rows: ``(n,)`` int64, each headline's row in the file (0 the first after the header),
            the index the market records (``headline_index``, ``HeadlineRecord.flat_index``).
        steps: ``(n,)`` int64, the env step each arrives in, non-decreasing, in
            ``[1, horizon_steps]``.
        scores: ``(n,)`` float64, the model's scores.
        texts: The ``n`` headlines.
        horizon_steps: The episode length the steps were cut to.
    """

    def __init__(
        self,
        path: Path,
        asset: str,
        rows: np.ndarray,
        steps: np.ndarray,
        scores: np.ndarray,
        texts: list[str],
        horizon_steps: int,
    ) -> None:
        """Hold the arrays (see the class docstring; :func:`load_replay` makes them)."""
        self.path = path
        self.asset = asset
        self.rows = rows
        self.steps = steps
        self.scores = scores
        self.texts = texts
        self.horizon_steps = horizon_steps
        self._by_row = {int(r): i for i, r in enumerate(rows)}

    def __len__(self) -> int:
        """The number of headlines replayed."""
        return len(self.rows)

    def kernel_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(start, scores, rows)`` as the kernels read them (``MarketState.news_replay_*``).

        The headlines of env step ``t`` are entries ``start[t - 1] .. start[t] - 1``;
        ``start`` has ``horizon_steps + 1`` entries.
        """
        start = np.searchsorted(self.steps, np.arange(1, self.horizon_steps + 2), side="left")
        return start.astype(np.int64), self.scores, self.rows

    def lookup(self, flat_index: int) -> tuple[int, float, str]:
        """``(bucket, score, text)`` of the headline in row ``flat_index`` of the file.

        The same call as :meth:`mm_gym.news.HeadlineBank.lookup`; the bucket is
        :data:`NO_BUCKET`.

        Raises:
            IndexError: If no replayed headline has that row.
        """
        i = self._by_row.get(int(flat_index))
        if i is None:
            raise IndexError(
                f"flat_index={flat_index} is not a replayed row of {str(self.path)!r} "
                f"(asset {self.asset!r}, {len(self)} headlines)"
            )
        return NO_BUCKET, float(self.scores[i]), self.texts[i]


def load_replay(
    path: str | os.PathLike[str],
    model: str,
    horizon_steps: int,
    *,
    asset: str = "",
    seconds_per_step: float = 1.0,
) -> HeadlineReplay:
    """Read, score and place on env steps the headlines of ``asset`` in the file ``path``.

    Args:
        path: The headline file (:func:`mm_gym.news.load_headlines`).
        model: The scoring model, ``"vader"`` or ``"lm"``.
        horizon_steps: The episode length; later headlines are ignored with a warning.
        asset: The asset to keep; ``""`` for the file's only one.
        seconds_per_step: Seconds per env step, for date-time timestamps.

    Raises:
        HeadlineFileError: If the file is missing or malformed (named as ``process.news_file``).
        ConfigError: If ``asset`` is not in the file, or is ``""`` and the file has several
            (the message names ``process.news_asset`` and the assets found).
    """
    try:
        frame = load_headlines(path, model)
    except HeadlineFileError as exc:
        raise HeadlineFileError(f"process.news_file: {exc}") from None
    found = list(dict.fromkeys(frame["asset"]))
    if (asset and asset not in found) or (not asset and len(found) > 1):
        want = f"is {excerpt(asset)}" if asset else "is not set"
        raise ConfigError(
            f"process.news_asset {want}: the headline file {str(path)!r} has the assets "
            f"{found[:20]}{' ...' if len(found) > 20 else ''}; name one of them"
        )
    if asset:
        frame = frame[frame["asset"] == asset]
    stamps = frame["timestamp"]
    if len(frame) and stamps.dtype.kind == "M":
        seconds = (stamps - stamps.iloc[0]).dt.total_seconds().to_numpy()
        steps = 1 + np.floor(seconds / seconds_per_step).astype(np.int64)
    else:
        steps = np.maximum(stamps.to_numpy(dtype=np.int64), 1)
    keep = steps <= horizon_steps
    if not keep.all():
        warnings.warn(
            f"headline file {str(path)!r}: {int((~keep).sum())} of {len(keep)} headlines come "
            f"after horizon_steps={horizon_steps} and are ignored",
            stacklevel=2,
        )
    frame = frame[keep]
    return HeadlineReplay(
        Path(path),
        asset or (found[0] if found else ""),
        frame.index.to_numpy(np.int64),
        steps[keep],
        frame["score"].to_numpy(np.float64),
        frame["headline"].tolist(),
        int(horizon_steps),
    )
