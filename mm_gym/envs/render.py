"""Rendering of one market of a :class:`~mm_gym.envs.core.MarketCore`.

A text ladder (``"ansi"``) and an RGB frame (``"rgb_array"``), both drawn with numpy. The
frame's labels (axis titles and units, the legend of the lines and colours, the inventory
gauge's value) are drawn from glyph bitmaps of matplotlib's bundled DejaVu Sans Mono font,
rasterised once per distinct text and cached (:func:`text_bitmap`), so frames stay fast and are
the same on every call.
"""

from __future__ import annotations

import functools
import math
import threading
from typing import TYPE_CHECKING

import numpy as np

from mm_gym.config import REGIMES
from mm_gym.envs.core import MarketCore

if TYPE_CHECKING:
    from matplotlib.ft2font import FT2Font

__all__ = ["FRAME_SHAPE", "HISTORY_STEPS", "LEGEND", "render_ansi", "render_rgb", "text_bitmap"]

HISTORY_STEPS = 200
"""Steps of price history shown in an ``rgb_array`` frame."""

FRAME_SHAPE = (360, 640, 3)
"""Height, width, channels of an ``rgb_array`` frame."""

_PANEL_W = 480  # price-history panel; the depth panel takes the rest
_TOP = 22  # inventory gauge strip
_BOTTOM = 14  # axis title strip under the panels
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
_TEXT = (200, 200, 212)
_FONT_PT = 9  # at 72 dpi: about 9 px a line

LEGEND: tuple[str, ...] = ("mid", "mm1 bid", "mm1 ask", "mm2 bid", "mm2 ask")
"""Names of the price panel's lines, in the order of their colours."""

_GAUGE = (180, 460)  # x range of the inventory gauge in the top strip
_font_lock = threading.Lock()


@functools.cache
def _font() -> FT2Font:
    from pathlib import Path

    import matplotlib
    from matplotlib.ft2font import FT2Font

    font = FT2Font(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSansMono.ttf"))
    font.set_size(_FONT_PT, 72)
    return font


@functools.lru_cache(maxsize=1024)
def text_bitmap(text: str) -> tuple[np.ndarray, int]:
    """The anti-aliased coverage of ``text`` and its baseline row.

    Rasterised with matplotlib's FreeType wrapper once per distinct text, then cached. The
    coverage is ``uint16`` in [0, 256] (256: fully inked), read-only.
    """
    with _font_lock:
        font = _font()
        font.set_text(text, 0.0)
        font.draw_glyphs_to_bitmap(antialiased=True)
        image = np.asarray(font.get_image(), dtype=np.uint16)
        descent = round(font.get_descent() / 64.0)
    cover = image + (image > 127)  # 0..255 -> 0..256, so that full ink replaces the pixel
    cover.flags.writeable = False
    return cover, cover.shape[0] - descent


def _text(img: np.ndarray, text: str, x: int, baseline: int, color: tuple[int, ...],
          align: str = "left") -> int:  # fmt: skip
    """Blend ``text`` into ``img`` with its baseline at row ``baseline``; returns its width.

    ``x`` is the left edge (``align="left"``) or the right edge (``"right"``); what falls
    outside the frame is clipped. Integer arithmetic: the same pixels on every machine.
    """
    cover, base = text_bitmap(text)
    h, w = cover.shape
    x0 = x - w if align == "right" else x
    y0 = baseline - base
    ya, yb = max(0, y0), min(img.shape[0], y0 + h)
    xa, xb = max(0, x0), min(img.shape[1], x0 + w)
    if ya < yb and xa < xb:
        a = cover[ya - y0 : yb - y0, xa - x0 : xb - x0, None]
        region = img[ya:yb, xa:xb]
        ink = np.array(color, np.uint16) * a
        region[:] = ((region * (256 - a) + ink) >> 8).astype(np.uint8)
    return w


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
    """An RGB frame (:data:`FRAME_SHAPE`, uint8) of market ``m``, labelled.

    Left: the price history of the last :data:`HISTORY_STEPS` steps (the mid and both makers'
    quotes, in ticks relative to the current mid; legend :data:`LEGEND` in the lines'
    colours, y ticks in ticks). Right: the book depth per tick level (background lots; bids
    green, asks red; the longest bar's lots). Top: mm1's inventory gauge (q against its
    limit, lots). Bottom: the axes' titles and units.
    """
    h, w, _ = FRAME_SHAPE
    img = np.empty(FRAME_SHAPE, np.uint8)
    img[:] = _BG
    mid = float(core.book.mid[m])
    hist = core.history(m)[-HISTORY_STEPS:] if core.history_len else np.empty((0, 5))
    rel = hist - mid
    finite = rel[np.isfinite(rel)]
    span = float(np.clip(np.abs(finite).max() if finite.size else 0.0, 8.0, 60.0)) + 2.0
    bottom = h - _BOTTOM
    plot_h = bottom - _TOP
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
            hit = (rows >= lo[None, :]) & (rows <= hi[None, :]) & (rows >= _TOP) & (rows < bottom)
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
            y0, y1 = max(_TOP, yc - bar_h // 2), min(bottom, yc - bar_h // 2 + bar_h)
            img[y0:y1, _PANEL_W + 4 : _PANEL_W + 4 + length] = color
    img[_TOP:, _PANEL_W] = _MID_LINE
    img[bottom, :] = _MID_LINE
    img[_TOP - 1, :] = _MID_LINE
    _price_labels(img, span, row, bottom)
    _depth_labels(img, biggest, bottom)
    limit = int(core.limits[0])
    _inventory_gauge(img, int(core.accounts.inventory[m, 0]), limit)
    return img


def _price_labels(img: np.ndarray, span: float, row: object, bottom: int) -> None:
    """The price panel's y ticks (ticks from the mid), its legend and the bottom axis titles."""
    step = next((k for k in (50, 25, 20, 10, 5, 2) if k <= 0.8 * span), 1)
    for k in (step, 0, -step):
        y = int(row(np.array(float(k))))  # type: ignore[operator]
        label = "mid" if k == 0 else f"{k:+d}"
        img[y - 5 : y + 5, 4 : 10 + text_bitmap(label)[0].shape[1]] = _BG  # backing
        img[y, :4] = _TEXT
        _text(img, label, 6, y + 4, _TEXT)
    x = 44
    img[_TOP + 1 : _TOP + 15, x - 4 : 300] = _BG  # the legend's backing, above the lines
    for name, color in zip(LEGEND, _COLORS, strict=True):
        img[_TOP + 7 : _TOP + 9, x : x + 10] = color
        x += 13 + _text(img, name, x + 13, _TOP + 12, color) + 10
    _text(img, "y: price - mid (ticks)", 4, bottom + 11, _TEXT)
    _text(img, f"x: last {HISTORY_STEPS} steps, now at right", _PANEL_W - 4, bottom + 11, _TEXT,
          align="right")  # fmt: skip


def _depth_labels(img: np.ndarray, biggest: int, bottom: int) -> None:
    """The depth panel's title, its bid / ask colours and the longest bar's lots."""
    x = _PANEL_W + 6
    x += _text(img, "depth:", x, _TOP + 12, _TEXT) + 5
    x += _text(img, "bid", x, _TOP + 12, _DEPTH_BID) + 5
    _text(img, "ask", x, _TOP + 12, _DEPTH_ASK)
    _text(img, f"bar max {biggest} lots", FRAME_SHAPE[1] - 4, bottom + 11, _TEXT, align="right")


def _inventory_gauge(img: np.ndarray, q: int, limit: int) -> None:
    """mm1's inventory q against its limit: a bar from the centre, the limits and the value."""
    x0, x1 = _GAUGE
    half = (x0 + x1) // 2
    frac = min(max(q / limit, -1.0), 1.0) if limit else 0.0
    end = round(half + frac * (half - x0))
    img[6 : _TOP - 6, x0 : x1 + 1] = _MID_LINE
    img[6 : _TOP - 6, min(half, end) : max(half, end) + 1] = _INV
    img[3 : _TOP - 3, half] = _TEXT
    baseline = _TOP - 7
    _text(img, "mm1 inventory", 4, baseline, _INV)
    _text(img, f"-{limit}", x0 - 4, baseline, _TEXT, align="right")
    x = x1 + 4 + _text(img, f"+{limit}", x1 + 4, baseline, _TEXT)
    _text(img, f"q = {q:+d} lots (limit {limit})", x + 14, baseline, _INV)
