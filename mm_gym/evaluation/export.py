"""Tables of a tournament as files: CSV text, safe file names, the export folder's tables."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from mm_gym.evaluation.rollout import Tournament

__all__ = ["BANDS_COLUMNS", "bands_table", "csv_text", "safe_name", "write_tables"]

# 12 significant digits: prices like 99.99000000000001 (binary rounding of tick x size) print as
# 99.99, while cents on a cash balance of 10^9 survive.
_CSV_FLOAT = "%.12g"


def csv_text(df: pd.DataFrame) -> str:
    """``df`` as CSV text without the index, floats to 12 significant digits."""
    return df.to_csv(index=False, float_format=_CSV_FLOAT)


def safe_name(name: str) -> str:
    """A file-system-safe version of a contestant or setting name (``/`` and ``:`` -> ``_``)."""
    keep = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(name))
    return keep.strip("._") or "unnamed"


BANDS_COLUMNS: tuple[str, ...] = (
    "preset", "policy", "step", "pnl_mean", "pnl_p25", "pnl_p75",
    "inventory_mean", "inventory_p25", "inventory_p75",
)  # fmt: skip
"""The columns of ``bands.csv`` (:func:`bands_table`)."""


def bands_table(tournament: Tournament) -> pd.DataFrame:
    """The equity curve and inventory band of every contestant and setting, one row per step.

    Columns :data:`BANDS_COLUMNS`: ``preset``, ``policy``, ``step`` (0 to T; step 0 is before
    the first action), then per step the mean, 25 % and 75 % quantiles over episodes of mm1's
    mark-to-market PnL (currency; 0 at step 0) and of its inventory (lots; empty at step 0).
    The means are over every full-length episode, the quantiles over the first batch's
    full-length episodes (:attr:`~mm_gym.evaluation.rollout.Rollout.bands`; every episode when
    the tournament ran in one batch). A contestant without a full-length episode has no rows.
    """
    from mm_gym.evaluation.rollout import BAND_QUANTILES

    lo, hi = BAND_QUANTILES.index(0.25), BAND_QUANTILES.index(0.75)
    frames = []
    for r in tournament.rollouts:
        b = r.bands
        if "equity_mean" not in b or "equity" not in b:
            continue
        n = b["equity_mean"].size
        gap = np.full(1, np.nan)  # no inventory before the first step
        inv, inv_q = b.get("inventory_mean"), b.get("inventory")
        cols = {
            "preset": r.setting,
            "policy": r.policy,
            "step": np.arange(n),
            "pnl_mean": b["equity_mean"],
            "pnl_p25": b["equity"][:, lo],
            "pnl_p75": b["equity"][:, hi],
            "inventory_mean": np.full(n, np.nan) if inv is None else np.concatenate([gap, inv]),
        }
        for name, k in (("inventory_p25", lo), ("inventory_p75", hi)):
            cols[name] = np.full(n, np.nan) if inv_q is None else np.concatenate([gap, inv_q[:, k]])
        frames.append(pd.DataFrame(cols))
    if not frames:
        return pd.DataFrame(columns=list(BANDS_COLUMNS))
    return pd.concat(frames, ignore_index=True)[list(BANDS_COLUMNS)]


def write_tables(
    folder: Any,
    tournament: Tournament,
    summary: pd.DataFrame,
    board_text: str,
) -> list[str]:
    """Write the tables and the sample-episode traces of a tournament into ``folder``.

    Files (paths relative to ``folder``): ``summary.csv`` (:func:`summarize`), ``episodes.csv``
    (one row per episode), ``bands.csv`` (equity curves and inventory bands per step,
    :func:`bands_table`), ``leaderboard.txt`` (:func:`format_leaderboard`) and, per contestant
    and setting, ``contestants/<policy>/<setting>/`` with ``MM1_metrics.csv`` and
    ``MM2_metrics.csv`` (per-step trace of the sample episode: step, mid, bid, ask, inventory,
    cash, realized, unrealized, fees, total, lots_traded, regime, sentiment, fundamental, event,
    spread_capture; fees and spread_capture cumulative),
    ``MM1_market_impact.csv`` and ``MM2_market_impact.csv`` (the market orders that filled that
    maker: step, kind, size, side, pre_mid, post_mid, impact, maker_lots, maker_vwap) and
    ``market_impact.csv`` (every market order of the episode), and with headlines on
    (``process.news_model``) ``headlines.csv`` (the episode's headlines: step, flat_index,
    bucket, score, headline). Every file is written atomically
    (:func:`mm_gym.files.atomic_write_text`).

    Returns:
        The relative paths written.
    """
    from pathlib import Path

    from mm_gym.files import atomic_write_text

    root = Path(folder)
    written = []

    def put(rel: str, content: str | pd.DataFrame) -> None:
        text = content if isinstance(content, str) else csv_text(content)
        atomic_write_text(root / rel, text)
        written.append(rel)

    put("summary.csv", summary)
    put("episodes.csv", tournament.episodes)
    put("bands.csv", bands_table(tournament))
    put("leaderboard.txt", board_text)
    for r in tournament.rollouts:
        if not r.traces:
            continue
        base = f"contestants/{safe_name(r.policy)}/{safe_name(r.setting)}"
        for who in ("MM1", "MM2"):
            put(f"{base}/{who}_metrics.csv", r.traces[who])
            put(f"{base}/{who}_market_impact.csv", r.impacts[who])
        put(f"{base}/market_impact.csv", r.impacts["market"])
        if "headlines" in r.traces:
            put(f"{base}/headlines.csv", r.traces["headlines"])
    return written
