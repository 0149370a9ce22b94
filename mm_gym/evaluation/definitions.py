"""The definitions of the leaderboard's metrics: one text for the README, the legend and the PDF.

The README's "Units and metrics" section holds :func:`definitions_markdown` verbatim
(``tests/test_docs.py`` checks it); :data:`~mm_gym.evaluation.LEADERBOARD_LEGEND` (printed under
the leaderboard, written into ``leaderboard.txt``) is its plain-ASCII form and the report's
definitions page (:func:`mm_gym.evaluation.write_report`) its typeset form. Edit the text here,
then paste ``python -m mm_gym.evaluation.definitions`` into the README.

The texts use a small Markdown subset: ``**bold**`` and ```code``` only.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

__all__ = [
    "METRIC_DEFINITIONS",
    "TERMS",
    "MetricDefinition",
    "definitions_markdown",
    "leaderboard_legend",
    "unit_notes",
]


@dataclass(frozen=True)
class MetricDefinition:
    """One column of the leaderboard.

    Attributes:
        column: Its header in the leaderboard (``format_leaderboard``), with ``X`` for the
            baseline's name.
        summary_columns: Where ``summary.csv`` holds it (Markdown).
        unit: Its unit.
        meaning: What it is and how it is computed (Markdown).
    """

    column: str
    summary_columns: str
    unit: str
    meaning: str

    @property
    def term(self) -> str:
        """The column's first word (``"PnL [95% CI]"`` -> ``"PnL"``), the legend's key."""
        return self.column.split()[0]


def unit_notes() -> list[tuple[str, str]]:
    """The units, the reward, the Sharpe ratio and the :data:`TERMS`: ``(lead, Markdown text)``.

    The lead is the bold start of the README's bullet (``"Units."``, ``"Reward"``, ``"Sharpe"``,
    ``"PnL attribution"``, ``"Equity curve"``); the texts quote the config defaults.
    """
    from mm_gym.config import MarketConfig
    from mm_gym.envs.config import EnvConfig

    m, e = MarketConfig(), EnvConfig()
    return [
        (
            "Units.",
            f"Prices are integer **ticks** (`tick_size` currency per tick, {m.tick_size:g} by "
            f"default), sizes integer **lots** (`lot_size` units of the asset per lot, "
            f"{m.lot_size:g} by default), money is **currency**: one tick on one lot is "
            f"`tick_size × lot_size` = {m.value_per_tick_lot:g} by default, so a PnL of 1 is one "
            "tick earned on one lot. Time is in **steps**; a step has no calendar length, every "
            "rate (arrivals, fills) is per step, and an episode is `horizon_steps` steps "
            f"({m.horizon_steps:,} by default). Inventory q is in lots; mm1's limit `mm1_limit` "
            f"is {m.makers.mm1_limit} lots by default.",
        ),
        (
            "Reward",
            "of mm1 per step, in currency: Δ mark-to-market PnL − φ·q² − ψ·q_T² (the last term "
            "only at the episode's end), times `reward_scale` "
            f"({e.reward_scale:g}). φ is `inventory_penalty` ({e.inventory_penalty:g} by "
            f"default; currency per lot² per step), ψ is `terminal_penalty` "
            f"({e.terminal_penalty:g}; currency per lot²); `dampening` η subtracts "
            "η·max(0, inventory PnL). The components, unscaled, are in "
            '`info["reward_components"]` (`mm_gym/rewards.py`).',
        ),
        (
            "Sharpe",
            "is per episode and not annualised: the mean of the episode's per-step PnL over its "
            "standard deviation (ddof 1), times √T, T the episode's steps "
            "(`mm_gym.metrics.sharpe`; a constant series scores 0; pass `periods_per_year` to "
            "annualise). The leaderboard and `summary.csv` show the mean of this per-episode "
            "Sharpe over the episodes.",
        ),
        *TERMS.items(),
    ]


TERMS: dict[str, str] = {
    "PnL attribution": "splits mm1's mark-to-market PnL into **spread capture** (the edge of each "
    "fill against the mid at that fill), **inventory mark-to-market** (the carry "
    "q·Δmid and the move from each fill to the step's close) and **fees and rebates** (rebates "
    "received minus fees paid); the three parts sum to the total PnL, per episode "
    "(`episodes.csv`: `spread_capture`, `inventory_pnl`, `fees`) and cumulatively per step "
    "(the sample episode's figure).",
    "Equity curve": "of a contestant: the mean over episodes of mm1's mark-to-market PnL at each "
    "step (0 at step 0), with the band between its 25 % and 75 % quantiles over episodes "
    "(`bands.csv`); the inventory band is the same for the inventory q (lots).",
}
"""Terms that the figures, the report and the dashboard use in one meaning (the README's
"Units and metrics" section and the report's definitions page print them)."""


def _metric_definitions() -> tuple[MetricDefinition, ...]:
    from mm_gym.config import MarketConfig
    from mm_gym.envs.config import EnvConfig

    m, e = MarketConfig(), EnvConfig()
    return (
        MetricDefinition(
            "PnL [95% CI]",
            "`total_pnl_mean`, `_ci_low`, `_ci_high`",
            "currency",
            "mm1's mark-to-market PnL at the episode's end: cash (with rebates and fees) plus the "
            "inventory valued at the mid; = spread capture + inventory mark-to-market + fees and "
            "rebates (the PnL attribution); percentile "
            "bootstrap 95 % CI of the mean",
        ),
        MetricDefinition(
            "vs X [95% CI]",
            "`total_pnl_diff`, `_diff_low`, `_diff_high`",
            "currency",
            "paired difference policy − X (X = `avellaneda_stoikov`), episode by episode on the "
            "same seeds (common random numbers), with its bootstrap 95 % CI; X's own row is 0 "
            "(`paired diff`, all `-`, when X did not run)",
        ),
        MetricDefinition(
            "Sharpe",
            "`sharpe_mean`",
            "dimensionless",
            "per episode: mean / std (ddof 1) of the per-step PnL × √T, T = the episode's steps; "
            "not annualised (a step has no calendar length)",
        ),
        MetricDefinition(
            "maxDD",
            "`max_drawdown_mean`",
            "currency",
            "largest fall of the episode's cumulative mark-to-market PnL from its running peak",
        ),
        MetricDefinition(
            "|inv|", "`mean_abs_inventory_mean`", "lots", "mean |q| over the episode's steps"
        ),
        MetricDefinition(
            "@lim",
            "`frac_at_limit_mean`",
            "fraction",
            f"fraction of steps with |q| at the limit (`mm1_limit`, {m.makers.mm1_limit} lots by "
            "default)",
        ),
        MetricDefinition(
            "fills/s",
            "`fill_rate_mean`",
            "fills per step",
            "fills per **step**, not per second: mm1's fill records / steps (each partial fill "
            "counts)",
        ),
        MetricDefinition(
            "spread",
            "`quoted_spread_ticks_mean`",
            "ticks",
            "mean quoted spread ask − bid over the steps quoted on both sides",
        ),
        MetricDefinition(
            "reward",
            "`episode_reward_mean`",
            "currency",
            "sum of the env's rewards, the training objective: Σ (Δ PnL − φ·q²) − ψ·q_T², "
            f"φ = `inventory_penalty` ({e.inventory_penalty:g}), ψ = `terminal_penalty` "
            f"({e.terminal_penalty:g}) of `EnvConfig`",
        ),
    )


METRIC_DEFINITIONS: tuple[MetricDefinition, ...] = _metric_definitions()
"""The leaderboard's columns, in its order (``tests/test_docs.py`` checks the order)."""


def definitions_markdown() -> str:
    """The README's text of the units and of the leaderboard's columns (Markdown)."""
    out = [_wrap_bullet(f"- **{lead}** {text}") for lead, text in unit_notes()]
    out += ["", "Every column of the leaderboard is a mean over episodes of a per-episode value:"]
    out += ["", "| column | `summary.csv` | unit | meaning |", "| --- | --- | --- | --- |"]
    for d in METRIC_DEFINITIONS:
        cells = (f"`{d.column}`", d.summary_columns, d.unit, d.meaning)
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(out) + "\n"


def _wrap_bullet(line: str) -> str:
    return textwrap.fill(line, 100, subsequent_indent="  ", break_on_hyphens=False)


_ASCII = {"×": "x", "−": "-", "√T": "sqrt(T)", "φ": "phi", "ψ": "psi", "η": "eta", "Δ": "d",
          "Σ": "sum", "·": " ", "²": "^2"}  # fmt: skip


def plain(text: str) -> str:
    """``text`` without Markdown marks, in ASCII (``×`` -> ``x``, ``√T`` -> ``sqrt(T)``)."""
    text = re.sub(r"\*\*(.+?)\*\*", r"\1", text).replace("`", "")
    for k, v in _ASCII.items():
        text = text.replace(k, v)
    return text


def leaderboard_legend() -> str:
    """:data:`~mm_gym.evaluation.LEADERBOARD_LEGEND`: the definitions in plain ASCII."""
    head = (
        'Legend (each column: the mean over episodes of a per-episode value; README "Units and '
        'metrics")'
    )
    lines = [head]
    entries = [("units", unit_notes()[0][1])]
    entries += [(d.term, f"[{d.unit}] {d.meaning}") for d in METRIC_DEFINITIONS]
    for term, text in entries:
        key = f"  {term:8s} "
        lines.append(textwrap.fill(plain(text), 99, initial_indent=key, subsequent_indent=" " * 11))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover (prints the README text)
    print(definitions_markdown(), end="")
