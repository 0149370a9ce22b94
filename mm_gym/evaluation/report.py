"""The PDF report of an evaluation, typeset with reportlab.

Pages, in order: a cover (the setup of the run: presets, contestants, rival, episodes, seeds,
package versions, date), the pooled leaderboard as a table with 95 % CIs and paired differences
and the distribution of episode PnL, the definitions of every metric (the text of
:mod:`mm_gym.evaluation.definitions`, as in the README), one section per regime (its leaderboard
and its figures, each at the full width of the page), then the stress scenarios and any
appendix text (the realism tables).

Figures are matplotlib figures, rasterised at :data:`FIGURE_DPI` and scaled to the width of the
text frame (A4 landscape); text is real text (extractable, searchable) in DejaVu Sans, the font
matplotlib ships, so that units and Greek letters print.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mm_gym.evaluation.definitions import METRIC_DEFINITIONS, unit_notes
from mm_gym.evaluation.export import safe_name
from mm_gym.evaluation.stats import leaderboard, leaderboard_cells

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FIGURE_DPI",
    "REGIME_FIGURES",
    "package_versions",
    "setup_rows",
    "write_crossplay_report",
    "write_report",
    "write_sections_report",
]

FIGURE_DPI = 150
"""Resolution of the figures in the PDF, dots per inch of the figure's own size."""

REGIME_FIGURES: dict[str, str] = {
    "equity_curves": "Equity curve: mean mark-to-market PnL over the episodes, with the 25-75 % "
    "band, per contestant.",
    "pnl_attribution": "PnL attribution of each contestant's sample episode: spread capture, "
    "inventory mark-to-market and fees/rebates add up to the total (black).",
    "inventory_paths": "Inventory: the sample episode's path, and the 25-75 % and 5-95 % bands "
    "over the episodes.",
    "market_impact": "Market impact: signed mid move after a market order, mean and 95 % CI per "
    "order-size bin (sample episodes), log-log.",
}
"""Figures of a regime's section, by stem (``<stem>_<regime>`` in ``figs``), with captions."""

_OVERVIEW = "pnl_distributions"
_FONT = "DejaVuSans"
_MONO = "DejaVuSansMono"
_GRID = (0.75, 0.75, 0.75)


def package_versions() -> list[tuple[str, str]]:
    """``(package, version)`` of Python, mm_gym and the libraries that shape the results."""
    import platform
    from importlib import metadata

    import mm_gym

    out = [("python", platform.python_version()), ("mm_gym", mm_gym.__version__)]
    for name in ("numpy", "numba", "pandas", "gymnasium", "matplotlib", "reportlab"):
        try:
            out.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            out.append((name, "not installed"))
    return out


def setup_rows(
    *,
    regimes: Sequence[str],
    contestants: Sequence[str],
    rival: str,
    episodes: int,
    horizons: Sequence[int],
    seeds: Sequence[int],
    seed: int,
    baseline: str | None,
    command: str,
) -> list[tuple[str, str]]:
    """The cover page's setup table: ``(label, value)`` rows, values in Markdown.

    Args:
        regimes: The presets run.
        contestants: The contestants (mm1).
        rival: The rival's spec (mm2).
        episodes: Episodes per contestant and regime.
        horizons: The distinct episode lengths, steps.
        seeds: The episodes' seeds (the first three are shown).
        seed: The master seed (also the bootstrap's).
        baseline: The contestant of the paired differences, or None.
        command: The command line that reproduces the run.
    """
    shown = ", ".join(str(s) for s in seeds[:3]) + (", ..." if len(seeds) > 3 else "")
    return [
        ("presets (regimes)", ", ".join(f"`{r}`" for r in regimes)),
        ("contestants (mm1)", ", ".join(f"`{c}`" for c in contestants)),
        ("rival (mm2)", f"`{rival}`"),
        (
            "episodes",
            f"{episodes:,} per contestant and regime, "
            f"{' / '.join(f'{h:,}' for h in horizons)} steps each",
        ),
        (
            "seeds",
            f"master seed {seed}; episode i of every contestant runs on seed i of "
            f"the list ({shown}): common random numbers",
        ),
        ("paired differences", f"against `{baseline}`" if baseline else "none (no baseline ran)"),
        (
            "statistics",
            f"percentile bootstrap, 2,000 resamples, 95 % intervals, bootstrap seed {seed}",
        ),
        ("command", f"`{command}`"),
    ]


def write_report(
    path: Any,
    *,
    title: str,
    setup: Sequence[tuple[str, str]],
    summary: pd.DataFrame,
    figs: Mapping[str, Any],
    baseline: str | None = None,
    scenarios: pd.DataFrame | None = None,
    appendix: Sequence[tuple[str, str]] = (),
) -> None:
    """Write the PDF report of a tournament, atomically (:func:`mm_gym.files.atomic_write_bytes`).

    Args:
        path: The PDF file; ``path`` is either the old file or the complete new one.
        title: The title on the cover and in every page's footer.
        setup: ``(label, value)`` rows of the cover's setup table (presets, seeds, ...).
        summary: The :func:`~mm_gym.evaluation.summarize` table; its ``"all"`` rows (or its
            only preset) make the pooled leaderboard, each other preset a section.
        figs: Figures by stem, as :func:`~mm_gym.evaluation.make_figures` keys them (plus
            ``"scenarios"``); each regime's section shows ``<stem>_<regime>`` for the stems of
            :data:`REGIME_FIGURES`.
        baseline: The contestant of the paired differences (named in the table's header).
        scenarios: The stress grid's summary (``scenario`` instead of ``preset``), or None.
        appendix: ``(heading, preformatted text)`` sections at the end.
    """
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.units import mm
    from reportlab.platypus import PageBreak

    from mm_gym.files import atomic_write_bytes

    st = _styles()
    page = landscape(A4)
    margin = 14 * mm
    frame_w, frame_h = page[0] - 2 * margin, page[1] - 2 * margin - 8 * mm
    presets = list(dict.fromkeys(summary["preset"]))
    regimes = [p for p in presets if p != "all"]
    pooled = "all" if "all" in presets else presets[0]

    story: list[Any] = _cover(title, setup, st)
    story += [PageBreak(), *_heading("Leaderboard, pooled over regimes", st)]
    story += _board_section(summary, pooled, baseline, st)
    if _OVERVIEW in figs:
        caption = "Distribution of episode PnL per contestant, one panel per regime."
        # On the leaderboard's page: at most the 60 % of the frame the table leaves free.
        story += _figure(figs[_OVERVIEW], caption, frame_w, 0.6 * frame_h, st)
    story += [PageBreak(), *_definitions(st, frame_w)]
    for regime in regimes:
        story += [PageBreak(), *_heading(f"Regime: {regime}", st)]
        if len(regimes) > 1:
            story += _board_section(summary, regime, baseline, st)
        for stem, caption in REGIME_FIGURES.items():
            fig = figs.get(f"{stem}_{safe_name(regime)}")
            if fig is not None:
                story += _figure(fig, caption, frame_w, frame_h, st)
    if scenarios is not None and len(scenarios):
        story += [PageBreak(), *_heading("Stress scenarios", st)]
        if "scenarios" in figs:
            story += _figure(figs["scenarios"], "Mean episode PnL per scenario and contestant "
                             "(independent episodes per scenario).", frame_w, frame_h,
                             st)  # fmt: skip
        story += _board_section(
            scenarios.rename(columns={"scenario": "preset"}), None, baseline, st, label="scenario"
        )
    for heading, text in appendix:
        story += [PageBreak(), *_heading(heading, st), _pre(text, st)]
    atomic_write_bytes(path, _build(story, title, page, margin))


def write_sections_report(
    path: Any,
    *,
    title: str,
    setup: Sequence[tuple[str, str]],
    contents: str,
    sections: Sequence[tuple[str, Sequence[Any]]],
    subtitle: str = "Monte Carlo tournament of market-making policies",
) -> None:
    """A PDF of a cover and sections, written atomically (the multi-venue and cross-play reports).

    Args:
        path: The PDF file.
        title: The title on the cover and in every page's footer.
        setup: ``(label, value)`` rows of the cover's setup table.
        contents: The cover's paragraph saying what follows.
        sections: ``(heading, items)``, each section on a new page; an item is a string
            (preformatted text: a table) or a ``(figure, caption)`` pair.
        subtitle: The cover's line under the title.
    """
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.units import mm
    from reportlab.platypus import PageBreak

    from mm_gym.files import atomic_write_bytes

    st = _styles()
    page = landscape(A4)
    margin = 14 * mm
    frame_w, frame_h = page[0] - 2 * margin, page[1] - 2 * margin - 8 * mm
    story: list[Any] = _cover(title, setup, st, subtitle, contents)
    for heading, items in sections:
        story += [PageBreak(), *_heading(heading, st)]
        for item in items:
            if isinstance(item, str):
                story.append(_pre(item, st))
            else:
                story += _figure(item[0], item[1], frame_w, 0.7 * frame_h, st)
    atomic_write_bytes(path, _build(story, title, page, margin))


def write_crossplay_report(
    path: Any,
    *,
    title: str,
    setup: Sequence[tuple[str, str]],
    sections: Sequence[tuple[str, str, Any]],
) -> None:
    """The PDF of ``evaluate.py --cross-play``: cover, then a page per regime.

    Args:
        path: The PDF file.
        title: The title on the cover and in every page's footer.
        setup: ``(label, value)`` rows of the cover's setup table.
        sections: ``(heading, matrix as preformatted text, heatmap figure)`` per regime.
    """
    contents = (
        "Contents: one page per regime, every policy as mm1 (rows) against every policy as mm2 "
        "(columns) on the same evaluation seeds: mm1's mean episode PnL with its 95 % "
        "bootstrap CI, then the heatmap of the means (both seats' reward and PnL are in "
        "crossplay/<regime>/matrix.csv)."
    )
    caption = "mm1's mean episode PnL per pair (rows: mm1's policy, columns: mm2's)."
    write_sections_report(
        path,
        title=title,
        setup=setup,
        contents=contents,
        sections=[(heading, [text, (fig, caption)]) for heading, text, fig in sections],
        subtitle="Cross-play of market-making policies",
    )


def _build(story: list[Any], title: str, page: tuple[float, float], margin: float) -> bytes:
    """The PDF of ``story`` on ``page`` (points) with ``title`` and the page number below."""
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(_FONT, 7.5)
        canvas.setFillGray(0.35)
        canvas.drawString(margin, 8 * mm, title)
        canvas.drawRightString(page[0] - margin, 8 * mm, f"page {doc.page}")
        canvas.restoreState()

    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf, pagesize=page, leftMargin=margin, rightMargin=margin, topMargin=margin,
        bottomMargin=margin + 8 * mm, title=title, author="mm_gym evaluate.py",
    )  # fmt: skip
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()


# --------------------------------------------------------------------------- building blocks


def _styles() -> dict[str, Any]:
    """Paragraph styles in DejaVu Sans (registered once from matplotlib's fonts)."""
    from reportlab.lib.styles import ParagraphStyle

    _register_fonts()
    base = ParagraphStyle("body", fontName=_FONT, fontSize=9, leading=12)
    small = ParagraphStyle("small", parent=base, fontSize=7.5, leading=9.5)
    return {
        "body": base,
        "small": small,
        "cell": ParagraphStyle("cell", parent=small, fontSize=7.5, leading=9),
        "caption": ParagraphStyle("caption", parent=small, textColor=(0.25, 0.25, 0.25)),
        "title": ParagraphStyle("title", parent=base, fontSize=22, leading=27, spaceAfter=6),
        "subtitle": ParagraphStyle("subtitle", parent=base, fontSize=12, leading=16),
        "h1": ParagraphStyle("h1", parent=base, fontSize=15, leading=19, spaceAfter=6),
        "h2": ParagraphStyle(
            "h2", parent=base, fontSize=11, leading=14, spaceBefore=6, spaceAfter=3
        ),
        "pre": ParagraphStyle("pre", parent=base, fontName=_MONO, fontSize=6.5, leading=8),
    }


def _register_fonts() -> None:
    from matplotlib import get_data_path
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if _FONT in pdfmetrics.getRegisteredFontNames():
        return
    folder = Path(get_data_path()) / "fonts" / "ttf"
    for name, file, bold, italic in (
        (_FONT, "DejaVuSans.ttf", 0, 0),
        (f"{_FONT}-Bold", "DejaVuSans-Bold.ttf", 1, 0),
        (f"{_FONT}-Oblique", "DejaVuSans-Oblique.ttf", 0, 1),
        (f"{_FONT}-BoldOblique", "DejaVuSans-BoldOblique.ttf", 1, 1),
        (_MONO, "DejaVuSansMono.ttf", 0, 0),
    ):
        pdfmetrics.registerFont(TTFont(name, str(folder / file)))
        if name != _MONO:
            addMapping(_FONT, bold, italic, name)
    addMapping(_MONO, 0, 0, _MONO)


def _markup(text: str) -> str:
    """The definitions' Markdown subset (``**bold**``, ```code```) as reportlab markup."""
    text = escape(text, quote=False)
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
    return re.sub(r"`(.+?)`", rf'<font name="{_MONO}">\1</font>', text)


def _heading(text: str, st: dict[str, Any]) -> list[Any]:
    from reportlab.platypus import Paragraph

    return [Paragraph(escape(text), st["h1"])]


def _pre(text: str, st: dict[str, Any]) -> Any:
    from reportlab.platypus import Preformatted

    return Preformatted(text, st["pre"])


def _table(rows: list[list[Any]], widths: list[float] | None, *, header: bool = True) -> Any:
    """A ruled table; the first row is a grey header repeated on every page it spans."""
    from reportlab.platypus import Table, TableStyle

    table = Table(rows, colWidths=widths, repeatRows=1 if header else 0, hAlign="LEFT")
    style = [
        ("FONTNAME", (0, 0), (-1, -1), _FONT),
        ("FONTSIZE", (0, 0), (-1, -1), 8),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, _GRID),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    if header:
        style += [("BACKGROUND", (0, 0), (-1, 0), (0.9, 0.9, 0.9)),
                  ("FONTNAME", (0, 0), (-1, 0), f"{_FONT}-Bold")]  # fmt: skip
    table.setStyle(TableStyle(style))
    return table


_CONTENTS = (
    "Contents: the pooled leaderboard (mean episode PnL with its 95 % bootstrap CI and the "
    "paired difference to the baseline on the same seeds), the definitions of every metric "
    "with its unit and formula, then one section per regime with its leaderboard and "
    "figures."
)


def _cover(
    title: str,
    setup: Sequence[tuple[str, str]],
    st: dict[str, Any],
    subtitle: str = "Monte Carlo tournament of market-making policies",
    contents: str = _CONTENTS,
) -> list[Any]:
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Spacer

    date = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    rows = [[Paragraph(escape(k), st["cell"]), Paragraph(_markup(v), st["cell"])]
            for k, v in setup]  # fmt: skip
    versions = ", ".join(f"{k} {v}" for k, v in package_versions())
    rows += [[Paragraph("package versions", st["cell"]), Paragraph(escape(versions), st["cell"])]]
    rows += [[Paragraph("date", st["cell"]), Paragraph(escape(date), st["cell"])]]
    return [
        Spacer(1, 18 * mm),
        Paragraph(escape(title), st["title"]),
        Paragraph(escape(subtitle), st["subtitle"]),
        Spacer(1, 8 * mm),
        _table([[Paragraph("<b>setup</b>", st["cell"]), ""], *rows], [45 * mm, 200 * mm]),
        Spacer(1, 6 * mm),
        Paragraph(contents, st["body"]),
    ]


_BOARD_HEADER = ("#", "policy", "PnL [95% CI]", "vs {X} [95% CI]", "Sharpe", "maxDD", "|inv|",
                 "@lim", "fills/s", "spread", "reward")  # fmt: skip
_BOARD_UNITS = ("", "", "currency", "currency", "", "currency", "lots", "fraction", "per step",
                "ticks", "currency")  # fmt: skip


def _board_section(
    summary: pd.DataFrame,
    preset: str | None,
    baseline: str | None,
    st: dict[str, Any],
    *,
    label: str = "",
) -> list[Any]:
    """The leaderboard of ``preset`` (None: every preset, one block each, named in ``label``)."""
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Spacer

    board = leaderboard(summary, preset=preset)
    x = baseline or "X"
    head = [h.format(X=x) for h in _BOARD_HEADER]
    if baseline is None:
        head[3] = "paired diff"
    header = [Paragraph(f"<b>{escape(h)}</b><br/>{u}", st["cell"])
              for h, u in zip(head, _BOARD_UNITS, strict=True)]  # fmt: skip
    widths = [8 * mm, 46 * mm, 38 * mm, 38 * mm, 15 * mm, 16 * mm, 13 * mm, 15 * mm, 16 * mm,
              15 * mm, 18 * mm]  # fmt: skip
    if label:
        header.insert(0, Paragraph(f"<b>{escape(label)}</b>", st["cell"]))
        widths = [58 * mm, widths[0], 30 * mm, *widths[2:]]
    rows = [header]
    for _, row in board.iterrows():
        cells: list[Any] = leaderboard_cells(row)
        if label:
            cells.insert(0, Paragraph(escape(str(row["preset"])), st["cell"]))
        rows.append(cells)
    out: list[Any] = []
    if preset is not None:
        n = int(board["n_episodes"].iloc[0]) if len(board) else 0
        what = "pooled over regimes, paired by regime and episode" if preset == "all" else preset
        out.append(Paragraph(
            f"{n} episodes per contestant ({escape(what)}); ranked by mean episode PnL. Every "
            "column is a mean over episodes of a per-episode value (definitions page).",
            st["small"],
        ))  # fmt: skip
        out.append(Spacer(1, 2 * mm))
    table = _table(rows, widths)
    from reportlab.platypus import TableStyle

    table.setStyle(TableStyle([("ALIGN", (2 + bool(label), 1), (-1, -1), "RIGHT")]))
    return [*out, table, Spacer(1, 4 * mm)]


def _definitions(st: dict[str, Any], frame_w: float) -> list[Any]:
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Spacer

    from mm_gym.evaluation.episode_metrics import EPISODE_COLUMNS

    out: list[Any] = [*_heading("Definitions: units and metrics", st)]
    for lead, text in unit_notes():
        out.append(Paragraph(f"<b>{_markup(lead)}</b> {_markup(text)}", st["small"]))
        out.append(Spacer(1, 1.5 * mm))
    out.append(Paragraph(
        "Every column of the leaderboard is a mean over episodes of a per-episode value:",
        st["small"],
    ))  # fmt: skip
    out.append(Spacer(1, 1.5 * mm))
    cell = st["cell"]
    rows = [[Paragraph(f"<b>{h}</b>", cell) for h in ("column", "unit", "summary.csv", "meaning")]]
    for d in METRIC_DEFINITIONS:
        rows.append([Paragraph(_markup(f"`{d.column}`"), cell), Paragraph(escape(d.unit), cell),
                     Paragraph(_markup(d.summary_columns), cell),
                     Paragraph(_markup(d.meaning), cell)])  # fmt: skip
    fixed = [30 * mm, 24 * mm, 62 * mm]
    out += [_table(rows, [*fixed, frame_w - sum(fixed)]), Spacer(1, 4 * mm)]
    out.append(Paragraph(
        "<b>Other per-episode columns</b> of <font name=\"DejaVuSansMono\">episodes.csv</font> "
        "(and their mean, std and CI in summary.csv):",
        st["small"],
    ))  # fmt: skip
    out.append(Spacer(1, 1.5 * mm))
    rows = [[Paragraph(f"<b>{h}</b>", cell) for h in ("column", "meaning, unit")]]
    for name, text in EPISODE_COLUMNS.items():
        rows.append([Paragraph(_markup(f"`{name}`"), cell), Paragraph(escape(text), cell)])
    out.append(_table(rows, [54 * mm, frame_w - 54 * mm]))
    return out


def _figure(fig: Any, caption: str, frame_w: float, frame_h: float, st: dict[str, Any]) -> list:
    """``fig`` at the frame's width (or less if it would be taller than the frame), captioned."""
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, KeepTogether, Paragraph, Spacer

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=FIGURE_DPI)
    w_in, h_in = fig.get_size_inches()
    width = frame_w
    height = width * h_in / w_in
    room = frame_h - 14 * mm  # the caption and the section's heading
    if height > room:
        width, height = width * room / height, room
    buf.seek(0)
    image = Image(buf, width=width, height=height)
    return [KeepTogether([image, Paragraph(escape(caption), st["caption"]), Spacer(1, 4 * mm)])]
