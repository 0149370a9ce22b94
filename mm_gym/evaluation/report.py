"""The PDF report of an evaluation: text pages, then the figures."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

from mm_gym.evaluation.stats import LEADERBOARD_LEGEND

__all__ = ["write_report"]

_LINES_PER_PAGE = 70
_A4_LANDSCAPE = (11.69, 8.27)  # inches


def write_report(
    path: Any,
    title: str,
    text_pages: Sequence[str],
    figs: Mapping[str, Any],
    legend: str | None = LEADERBOARD_LEGEND,
) -> None:
    """A PDF (matplotlib ``PdfPages``): the title and text pages (monospace), then the figures.

    The PDF is built in memory and written atomically (:func:`mm_gym.files.atomic_write_bytes`),
    so ``path`` is either the old file or the complete new one.

    Args:
        path: The PDF file.
        title: The first line of the first page.
        text_pages: Texts (the first one the leaderboard), each on as many pages as it needs.
        figs: Figures, one page each, in order.
        legend: Printed under the first text (the leaderboard's columns and units, as
            ``evaluate.py`` prints them); None for none.
    """
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    from mm_gym.files import atomic_write_bytes

    pages = list(text_pages)
    if legend:
        pages[:1] = [f"{pages[0]}\n{legend}" if pages else legend]
    buf = io.BytesIO()
    with PdfPages(buf) as pdf:
        for i, text in enumerate(pages):
            lines = text.splitlines()
            for start in range(0, max(1, len(lines)), _LINES_PER_PAGE):
                fig = Figure(figsize=_A4_LANDSCAPE)
                head = f"{title}\n\n" if i == 0 and start == 0 else ""
                fig.text(
                    0.03, 0.97, head + "\n".join(lines[start : start + _LINES_PER_PAGE]),
                    va="top", ha="left", family="monospace", fontsize=6.5,
                )  # fmt: skip
                pdf.savefig(fig)
        for fig in figs.values():
            pdf.savefig(fig)
    atomic_write_bytes(path, buf.getvalue())
