"""Rendering of one market of a :class:`~mm_gym.envs.core.MarketCore`.

A text ladder (``"ansi"``) and an RGB frame (``"rgb_array"``), both drawn with numpy only.
"""

from __future__ import annotations

import math

import numpy as np

from mm_gym.config import REGIMES
from mm_gym.envs.core import MarketCore

__all__ = ["FRAME_SHAPE", "HISTORY_STEPS", "render_ansi", "render_rgb"]

HISTORY_STEPS = 200
"""Steps of price history shown in an ``rgb_array`` frame."""

FRAME_SHAPE = (360, 640, 3)
"""Height, width, channels of an ``rgb_array`` frame."""

_PANEL_W = 480  # price-history panel; the depth panel takes the rest
_TOP = 14  # inventory gauge strip
_BG = (18, 18, 26)
_MID_LINE = (55, 55, 70)
_COLORS = (
    (235, 235, 235),  # mid
    (70, 210, 100),  # mm1 bid
    (235, 85, 70),  # mm1 ask
    (45, 120, 70),  # mm2 bid
    (130, 55, 50),  # mm2 ask
)
_DEPTH_BID = (40, 150, 80)
_DEPTH_ASK = (170, 65, 55)
_INV = (90, 140, 235)


def _decimals(tick_size: float) -> int:
    return max(0, min(8, math.ceil(-math.log10(tick_size) - 1e-9)))


def render_ansi(core: MarketCore, m: int = 0, depth: int = 8) -> str:
    """A text ladder of market ``m``.

    Background depth per tick around the mid, both makers' resting quotes, inventories, PnLs.
    """
    sc, acc, orders = core.scalars, core.accounts, core.orders
    tick = core.tick_size
    dec = _decimals(tick)
    mid = float(core.book.mid[m])
    bt, bl, at, al = core.book.depth(m, depth)
    marks: dict[int, list[str]] = {}
    for k, name in enumerate(("mm1", "mm2")):
        for side, word in enumerate(("bid", "ask")):
            size = int(orders.size[m, k, side])
            if size > 0:
                t = int(orders.tick[m, k, side])
                marks.setdefault(t, []).append(f"{name} {word} {size}")
    regime = REGIMES[int(sc.regime[m])]
    lines = [
        f"step {int(sc.t[m])}/{core.horizon}  regime {regime}  mid {mid * tick:.{dec + 1}f}"
        f"  shock {'yes' if sc.shock_step[m] else 'no'}"
    ]
    for k, name in enumerate(("mm1", "mm2")):
        inv = acc.inventory[m, k]
        pnl = acc.cash[m, k] + inv * mid * core.value
        lines.append(f"{name}  inventory {int(inv):+d} lots  pnl {pnl:+.2f}")
    lines.append(f"{'price':>12} {'bid lots':>9} | {'ask lots':<9} makers")
    # Asks from the highest shown level down to the best, then the bids from the best down.
    for t, lots in zip(at[::-1].tolist(), al[::-1].tolist(), strict=True):
        who = ", ".join(marks.get(t, []))
        lines.append(f"{t * tick:>12.{dec}f} {'':>9} | {lots if lots else '':<9} {who}")
    lines.append(f"{'-' * 8} mid {mid * tick:.{dec + 1}f} {'-' * 8}")
    for t, lots in zip(bt.tolist(), bl.tolist(), strict=True):
        who = ", ".join(marks.get(t, []))
        lines.append(f"{t * tick:>12.{dec}f} {lots if lots else '':>9} | {'':<9} {who}")
    return "\n".join(lines) + "\n"


def render_rgb(core: MarketCore, m: int = 0) -> np.ndarray:
    """An RGB frame (:data:`FRAME_SHAPE`, uint8) of market ``m``.

    The price history (mid and both makers' quotes, relative to the current mid), the book
    depth per level (background volume) and mm1's inventory gauge.
    """
    h, w, _ = FRAME_SHAPE
    img = np.empty(FRAME_SHAPE, np.uint8)
    img[:] = _BG
    mid = float(core.book.mid[m])
    hist = core.history(m)[-HISTORY_STEPS:] if core.history_len else np.empty((0, 5))
    rel = hist - mid
    finite = rel[np.isfinite(rel)]
    span = float(np.clip(np.abs(finite).max() if finite.size else 0.0, 8.0, 60.0)) + 2.0
    plot_h = h - _TOP
    centre = _TOP + plot_h / 2.0
    px_per_tick = (plot_h / 2.0 - 2.0) / span

    def row(ticks_rel: np.ndarray) -> np.ndarray:
        return np.rint(centre - ticks_rel * px_per_tick)

    img[round(centre), :] = _MID_LINE
    # price history: one value per pixel column, vertical runs joining consecutive columns
    if len(hist) >= 1:
        cols = np.arange(_PANEL_W)
        idx = np.minimum((cols * len(hist)) // _PANEL_W, len(hist) - 1)
        rows = np.arange(h)[:, None]
        for s in range(5):
            y = row(rel[idx, s])
            prev = np.concatenate([y[:1], y[:-1]])
            ok = np.isfinite(y) & np.isfinite(prev)
            lo = np.where(ok, np.minimum(y, prev), 0)
            hi = np.where(ok, np.maximum(y, prev), -1)
            hit = (rows >= lo[None, :]) & (rows <= hi[None, :]) & (rows >= _TOP)
            img[:, :_PANEL_W][hit] = _COLORS[s]
    # depth per tick level, background volume only
    depth = int(span)
    bt, bl, at, al = core.book.depth(m, depth)
    biggest = max(1, int(max(bl.max(initial=0), al.max(initial=0))))
    bar_h = max(1, int(px_per_tick) - 1)
    for ticks, lots, color in ((bt, bl, _DEPTH_BID), (at, al, _DEPTH_ASK)):
        for t, n in zip(ticks.tolist(), lots.tolist(), strict=True):
            if n <= 0:
                continue
            yc = int(row(np.array(t - mid)))
            length = max(1, int((w - _PANEL_W - 8) * n / biggest))
            y0, y1 = max(_TOP, yc - bar_h // 2), min(h, yc - bar_h // 2 + bar_h)
            img[y0:y1, _PANEL_W + 4 : _PANEL_W + 4 + length] = color
    img[:, _PANEL_W] = _MID_LINE
    # inventory gauge: mm1's inventory / limit, centred
    q = float(core.accounts.inventory[m, 0]) / core.limits[0]
    half = w // 2
    end = round(half + min(max(q, -1.0), 1.0) * (half - 2))
    img[2 : _TOP - 4, min(half, end) : max(half, end) + 1] = _INV
    img[0 : _TOP - 2, half] = _MID_LINE
    return img
