"""The realism report as text: the console table, the CSV and the Markdown report."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

import numpy as np

from mm_gym.realism.facts import Fact, PresetResult

__all__ = ["fmt_value", "format_table", "to_csv", "to_markdown"]

CSV_COLUMNS = ("preset", "fact", "label", "target", "value", "ci_lo", "ci_hi", "status", "sample")


def fmt_value(v: float) -> str:
    """A fact's value for people: 3 decimals, counts as integers, extremes in ``%.3g``."""
    if not np.isfinite(v):
        return "nan"
    if v != 0 and (abs(v) >= 1e4 or abs(v) < 1e-3):
        return f"{v:.3g}"
    if float(v).is_integer():  # counts and levels
        return f"{v:,.0f}"
    return f"{v:.3f}"


def _measured(f: Fact) -> str:
    if np.isfinite(f.lo):
        return f"{fmt_value(f.value)} [{fmt_value(f.lo)}, {fmt_value(f.hi)}]"
    return fmt_value(f.value)


def format_table(result: PresetResult) -> str:
    """A fixed-width text table of one preset's facts."""
    rows = [("fact", "target", "measured [95% CI]", "status")]
    rows += [(f.label, f.target, _measured(f), f.status) for f in result.facts]
    w = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [f"== {result.preset}: {result.sample}"]
    for i, r in enumerate(rows):
        lines.append("  ".join(c.ljust(w[j]) for j, c in enumerate(r)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * x for x in w))
    return "\n".join(lines)


def to_csv(results: Sequence[PresetResult]) -> str:
    """All facts of all presets as CSV text (floats as ``repr``: exact, ``nan`` if none)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in results:
        for f in r.facts:
            numbers = [repr(float(x)) for x in (f.value, f.lo, f.hi)]
            w.writerow([r.preset, f.key, f.label, f.target, *numbers, f.status, f.sample])
    return buf.getvalue()


def _md(text: str) -> str:
    """Escape the table separator in a Markdown cell."""
    return text.replace("|", "\\|")


def to_markdown(results: Sequence[PresetResult], command: str = "") -> str:
    """A Markdown report: a summary matrix of the targeted facts, then one table per preset."""
    lines = ["# mm_gym realism report", ""]
    if command:
        lines += [f"Command: `{command}`", ""]
    lines += [
        "Pooled estimates over markets with 95 % percentile bootstrap CIs over markets. "
        "Pass/fail compares the point estimate with the target.",
        "",
    ]
    lines += _summary_matrix(results)
    for r in results:
        lines += _preset_table(r)
    return "\n".join(lines)


def _summary_matrix(results: Sequence[PresetResult]) -> list[str]:
    """One row per targeted fact, one column per preset: value, verdict mark, target."""
    keys: list[tuple[str, str]] = []
    for r in results:
        for f in r.facts:
            if f.status != "info" and (f.key, f.label) not in keys:
                keys.append((f.key, f.label))
    lines = ["| fact | " + " | ".join(r.preset for r in results) + " |"]
    lines.append("|---|" + "---|" * len(results))
    for key, label in keys:
        cells = [_summary_cell(r, key) for r in results]
        lines.append(f"| {_md(label)} | " + " | ".join(cells) + " |")
    lines.append("")
    return lines


def _summary_cell(result: PresetResult, key: str) -> str:
    try:
        f = result.fact(key)
    except KeyError:
        return ""
    mark = {"pass": "✓", "FAIL": "✗"}.get(f.status, f.status)
    return f"{fmt_value(f.value)} {mark}" + (f" ({f.target})" if f.status != "info" else "")


def _preset_table(r: PresetResult) -> list[str]:
    lines = [
        f"## {r.preset}",
        "",
        r.sample,
        "",
        "| fact | target | measured [95 % CI] | status | sample |",
        "|---|---|---|---|---|",
    ]
    for f in r.facts:
        lines.append(f"| {_md(f.label)} | {f.target} | {_measured(f)} | {f.status} | {f.sample} |")
    lines.append("")
    return lines
