"""``evaluate.py --env-id mm_gym/MultiVenue-v0`` (or ``mm_gym/Portfolio-v0``): several venues.

The multi-venue baselines (:data:`baselines.multivenue.MULTIVENUE_BASELINES`; on a portfolio
one per asset, :class:`baselines.portfolio.PerAsset`) and trained multi-venue runs play the same
episodes of the env in each regime (the asset's market preset), through the multi-venue
tournament (:func:`mm_gym.multivenue.tournament.play`; the numbers are the tournament's for
the same seeds). The episodes' seeds are :func:`mm_gym.evaluation.evaluation_seeds` of
``--episodes`` and ``--seed`` (the held-out seeds ``train.py``'s final table plays). mm2 is
each venue's built-in rival. With ``--cross-play`` the mm1 x mm2 matrix of both makers on the
env is played instead (:func:`mm_gym.evaluation.crossplay_eval.evaluate_cross_play_venues`;
MultiVenue-v0 only).

Files, besides ``report.pdf``, ``run.json`` and the export marker (:data:`VENUE_FILES`):

- ``episodes.csv``: the tournament's ``episodes.csv`` of every regime (column ``regime``).
- ``summary.csv``: per regime and contestant, mean reward, Sharpe and PnL with 95 % bootstrap
  CIs and the paired difference to the baseline (:func:`~mm_gym.multivenue.tournament.
  summary_table`).
- ``makers.csv``: per regime and maker (contestant), the means per episode of
  :data:`MAKER_COLUMNS`.
- ``venues.csv``: per regime, maker, asset and venue, :data:`VENUE_COLUMNS`.
- ``router.csv``: per regime, maker, asset, venue and step, the share of episodes in which the
  maker quoted there (not parked at action +1): the router's choices over time.
- ``leaderboard.txt``: the tables printed at the end; ``plots/``: per regime the PnL attribution
  per venue (the tournament's figure), the fill shares, the router's choices over time and, on
  a portfolio, the VaR breaches and hedges.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mm_gym import MULTI_VENUE_ENV_IDS, PORTFOLIO_ENV_IDS
from mm_gym.cli import CliError

__all__ = [
    "MAKER_COLUMNS",
    "VENUE_COLUMNS",
    "VENUE_ENV_IDS",
    "VENUE_FILES",
    "VenuePlan",
    "env_flags_given",
    "evaluate_venues",
    "overrides_line",
    "plan_venues",
    "venue_regimes",
    "venue_tables",
]

VENUE_FILES = (
    "episodes.csv", "summary.csv", "makers.csv", "venues.csv", "router.csv", "leaderboard.txt",
    "plots/", "report.pdf", "run.json",
)  # fmt: skip
"""What :func:`evaluate_venues` writes into the output folder."""
VENUE_COLUMNS = (
    "regime", "contestant", "asset", "venue", "spread_capture", "rebates_fees", "taker_fees",
    "hedge_slippage", "inventory_pnl", "pnl", "fills", "fill_share", "quote_share",
)  # fmt: skip
"""``venues.csv``: the PnL parts per episode (currency; they sum to ``pnl``, the venue's PnL at
the asset's consolidated mid), mm1's filled lots per episode, ``fill_share`` (the venue's share
of the maker's filled lots over every asset and venue: they sum to 1 per maker) and
``quote_share`` (share of steps quoted there). ``asset`` is ``asset0`` on MultiVenue-v0, where
the two hedge parts are 0 (mm1 never takes liquidity there)."""
MAKER_COLUMNS = (
    "regime", "contestant", "n_episodes", "episode_reward", "total_pnl", "sharpe",
    "mean_abs_inventory", "fills", "spread_capture", "rebates_fees", "taker_fees",
    "hedge_slippage", "inventory_pnl", "hedge_cost", "var_breaches", "hedges", "mean_var",
    "hist_var", "hist_es",
)  # fmt: skip
"""``makers.csv``: means per episode; the five parts sum to ``total_pnl``; ``hedge_cost``
(``-(taker_fees + hedge_slippage)``), ``var_breaches`` and ``hedges`` (steps ending above the
VaR limit, steps the overlay traded), ``mean_var`` (delta-normal VaR, mean over the steps),
``hist_var`` and ``hist_es`` (at the episode's end) are a portfolio's, empty on MultiVenue-v0."""
HEDGE_VARIANTS: tuple[tuple[str, dict[str, Any]], ...] = (("", {}), ("+hedge", {"hedge": True}))
"""On Portfolio-v0 every contestant plays twice on the same episodes: as the env defaults it,
with the hedging overlay off (its name), and with the overlay on (``<name>+hedge``)."""
BASELINE = "everywhere_as"  # the paired differences' baseline when it plays (else the first)
_PARTS = ("spread_capture", "rebates_fees", "taker_fees", "hedge_slippage", "inventory_pnl")


VENUE_ENV_IDS = MULTI_VENUE_ENV_IDS + PORTFOLIO_ENV_IDS
"""The ids ``evaluate.py --env-id`` takes."""


@dataclass
class VenuePlan:
    """What to play, from ``evaluate.py``'s flags (:func:`plan_venues`)."""

    env_id: str
    contestants: list[Any]  # baseline names and trained QuotingPolicies
    regimes: list[str]
    episodes: int
    seed: int
    steps: int
    batch: int
    baseline: str
    portfolio: dict[str, Any] | None  # None: MultiVenue-v0
    progress: bool = True
    venues: Any = None  # None: mm_gym.multivenue.DEFAULT_VENUES
    overrides: dict[str, Any] = dataclasses.field(default_factory=dict)  # the env's, by key

    @property
    def names(self) -> list[str]:
        """The contestants' names (a trained policy's is ``ppo:<run>``), in every variant."""
        base = [c if isinstance(c, str) else str(c.name) for c in self.contestants]
        return [n + suffix for suffix, _ in self.variants() for n in base]

    def variants(self) -> list[tuple[str, dict[str, Any] | None]]:
        """``(name suffix, portfolio)`` of each way the contestants play (HEDGE_VARIANTS)."""
        if self.portfolio is None:
            return [("", None)]
        return [(suffix, {**self.portfolio, **extra}) for suffix, extra in HEDGE_VARIANTS]


def _refuse_single_venue_flags(args: Any) -> None:
    """Flags of the single-venue tournament that have no meaning on these envs."""
    for flag, given in (
        ("--rival", args.rival != "builtin"),
        ("--scenarios", args.scenarios),
        ("--realism", args.realism),
        ("--news-model", args.news_model != "none"),
        ("--ray", bool(args.ray)),
    ):
        if given:
            raise CliError(
                f"{flag} is not available with --env-id {args.env_id} (single-venue regimes "
                "only; mm2 is each venue's built-in rival)"
            )


def _contestants(args: Any) -> list[str]:
    """The baselines of ``--contestants`` (``all``: every multi-venue baseline)."""
    from baselines.multivenue import MULTIVENUE_BASELINES

    allowed = list(MULTIVENUE_BASELINES)
    if args.contestants.strip() == "all":
        return allowed
    names = [t.strip() for t in args.contestants.split(",") if t.strip()]
    for name in names:
        if name not in allowed:
            raise CliError(
                f"contestant {name!r} cannot play {args.env_id}: choose from "
                f"{', '.join(allowed)} or 'all' (trained multi-venue runs go in --runs)"
            )
    if not names or len(set(names)) != len(names):
        raise CliError(f"--contestants={args.contestants!r} must name each contestant once")
    return names


def _runs(args: Any, venues: Any = None) -> list[Any]:
    """The trained contestants of ``--runs`` (multi-venue runs; none on a portfolio).

    Each is checked against the env of ``venues`` (None: the default venues) it will play.
    """
    if args.runs == "none":
        return []
    if args.runs == "auto":
        from agents.policy import trained_env_id
        from agents.run_folder import newest_completed_run

        newest = newest_completed_run(Path("runs"))
        if newest is None or trained_env_id(newest) != args.env_id:
            print(
                f"--runs auto: the newest completed run under runs/ (if any) was not trained "
                f"on {args.env_id}; none added"
            )
            return []
        print(f"--runs auto: adding {newest} (the newest completed run, trained on {args.env_id})")
        folders = [str(newest)]
    else:
        folders = [t.strip() for t in args.runs.split(",") if t.strip()]
    if args.env_id not in MULTI_VENUE_ENV_IDS:
        raise CliError(
            f"--runs is not available with --env-id {args.env_id}: train.py trains on "
            f"{', '.join(MULTI_VENUE_ENV_IDS)} (and the single-venue envs) only"
        )
    from mm_gym.multivenue.tournament import load_runs

    return list(load_runs(folders, venues))


def venue_regimes(regimes_flag: str, env_id: str) -> list[str]:
    """``--regimes`` as the asset's market presets of ``env_id`` (each checked).

    Raises:
        CliError: On an empty list or a name that is not a book preset (naming the choices).
    """
    from mm_gym.presets import book_preset_names

    regimes = [t.strip() for t in regimes_flag.split(",") if t.strip()]
    for r in regimes or [""]:
        if r not in book_preset_names():
            raise CliError(
                f"--regimes: {r!r} is not a market preset of {env_id}: choose from "
                f"{', '.join(book_preset_names())}"
            )
    return regimes


def plan_venues(args: Any) -> VenuePlan:
    """Check ``evaluate.py``'s flags for ``--env-id`` (:class:`CliError`: one line) and plan.

    Args:
        args: ``evaluate.Args`` with ``env_id`` one of :data:`VENUE_ENV_IDS`.
    """
    from mm_gym.presets import preset

    if args.env_id not in VENUE_ENV_IDS:
        raise CliError(
            f"--env-id={args.env_id!r} must be one of {', '.join(VENUE_ENV_IDS)} (the single-venue "
            "envs are chosen with --regimes)"
        )
    _refuse_single_venue_flags(args)
    regimes = venue_regimes(args.regimes, args.env_id)
    steps = args.horizon or int(preset(regimes[0]).horizon_steps)
    if steps < 10:
        raise CliError(f"--horizon={steps} must be >= 10 with --env-id")
    venues, portfolio, env_overrides = _venue_kwargs(args, regimes, steps)
    contestants: list[Any] = _contestants(args)
    contestants += _runs(args, venues)
    names = [c if isinstance(c, str) else str(c.name) for c in contestants]
    return VenuePlan(
        env_id=args.env_id, contestants=contestants, regimes=regimes, episodes=args.episodes,
        seed=args.seed, steps=steps, batch=args.batch_size, portfolio=portfolio,
        baseline=BASELINE if BASELINE in names else names[0], progress=args.progress,
        venues=venues, overrides=env_overrides,
    )  # fmt: skip


def _venue_kwargs(args: Any, regimes: list[str], steps: int) -> tuple[Any, Any, dict[str, Any]]:
    """``--env-kwargs`` split into ``(venues, portfolio, env overrides)``, checked on one env.

    ``venues=[...]`` replaces the default venues; ``portfolio={...}`` or ``portfolio.<field>``
    set the portfolio's fields (Portfolio-v0 only; not ``hedge``, played both ways); the rest
    are the env's keyword overrides. A bad key or value is one :class:`CliError`, naming it.
    """
    import gymnasium as gym

    from mm_gym.config import ConfigError

    kwargs = dict(getattr(args, "env_kwargs", None) or {})
    venues = kwargs.pop("venues", None)
    portfolio: dict[str, Any] | None = {} if args.env_id in PORTFOLIO_ENV_IDS else None
    for key in [k for k in kwargs if k == "portfolio" or k.startswith("portfolio.")]:
        value = kwargs.pop(key)
        if portfolio is None:
            raise CliError(f"--env-kwargs {key}: {args.env_id} has no portfolio (Portfolio-v0)")
        if key == "portfolio" and not isinstance(value, dict):
            raise CliError(f"--env-kwargs portfolio={value!r} must be a mapping of its fields")
        portfolio.update(value if key == "portfolio" else {key.removeprefix("portfolio."): value})
    if portfolio and "hedge" in portfolio:
        raise CliError(
            "--env-kwargs portfolio.hedge: evaluate.py plays every contestant with the hedging "
            "overlay off and on (<name>+hedge)"
        )
    options: dict[str, Any] = {} if portfolio is None else {"portfolio": portfolio}
    if venues is not None:
        options["venues"] = venues
    for regime in regimes:  # every key and value checked before anything plays
        try:
            gym.make(args.env_id, preset=regime, horizon_steps=steps, **options, **kwargs).close()
        except (ConfigError, TypeError, ValueError) as exc:
            raise CliError(f"{env_flags_given(args)}: {exc}") from None
    return venues, portfolio, kwargs


def overrides_line(args: Any) -> str:
    """A line naming ``--env-kwargs``, newline first, for under a table ("" if none given).

    The leaderboard's legend quotes the defaults; this says what the run changed.
    """
    if not getattr(args, "env_kwargs", None):
        return ""
    given = " ".join(f"{k}={v!r}" for k, v in args.env_kwargs.items())
    return f"\nenvironment overrides (--env-kwargs, in every regime): {given}"


def env_flags_given(args: Any) -> str:
    """The flags of ``evaluate.py`` that set the env's keywords in this run, for an error."""
    given = [f"--horizon={args.horizon}"] * bool(args.horizon)
    return " / ".join(given + ["--env-kwargs"] * bool(args.env_kwargs)) or "the env"


def _check_memory(plan: VenuePlan) -> None:
    """Refuse a batch whose books would not fit in memory (about 64 kB per book)."""
    from mm_gym.files import MemoryLimitError, check_memory
    from mm_gym.multivenue import DEFAULT_VENUES
    from mm_gym.portfolio.config import check_portfolio

    assets = 1 if plan.portfolio is None else check_portfolio(plan.portfolio).n_assets
    n_venues = len(DEFAULT_VENUES if plan.venues is None else plan.venues)
    books = min(plan.batch, plan.episodes) * n_venues * assets
    where = f"--batch-size={plan.batch} ({assets} asset(s) x {n_venues} venues)"
    try:
        check_memory(64e3 * books, where)
    except MemoryLimitError as exc:
        raise CliError(str(exc)) from None


# --------------------------------------------------------------------------- play


def play_regimes(plan: VenuePlan) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Play every contestant in every regime; ``(episodes, router)`` tables (module docstring)."""
    from mm_gym.evaluation.settings import evaluation_seeds
    from mm_gym.multivenue.tournament import play

    seeds = evaluation_seeds(plan.episodes, plan.seed).tolist()
    frames, routes = [], []
    for regime in plan.regimes:
        quoted: dict[str, np.ndarray] = {}
        for suffix, portfolio in plan.variants():
            # Each variant under the contestant's own name: its policies draw the same random
            # numbers with the overlay off and on (paired), then it is renamed.
            episodes = play(
                plan.contestants, steps=plan.steps, batch=plan.batch, seed=plan.seed,
                preset=regime, progress=plan.progress, seeds=seeds, portfolio=portfolio,
                on_batch=_summing_paths(quoted, suffix), venues=plan.venues,
                overrides=plan.overrides,
            )  # fmt: skip
            episodes["contestant"] += suffix
            frames.append(episodes.assign(regime=regime))
        routes.append(_router_table(regime, quoted, _slots(episodes), len(seeds)))
    episodes = pd.concat(frames, ignore_index=True)
    first = ["regime", "contestant"]
    return episodes[first + [c for c in episodes.columns if c not in first]], pd.concat(routes)


def _summing_paths(quoted: dict[str, Any], suffix: str) -> Any:
    """A ``play(on_batch=...)`` adding each batch's ``quoted_path`` to ``quoted[name + suffix]``."""

    def keep(name: str, chunk: np.ndarray, res: dict[str, Any]) -> None:
        quoted[name + suffix] = quoted.get(name + suffix, 0.0) + res["quoted_path"]

    return keep


def _slots(episodes: pd.DataFrame) -> list[str]:
    from mm_gym.multivenue.tournament import venue_columns

    return venue_columns(episodes)


def _asset_venue(slot: str) -> tuple[str, str]:
    """``"asset1.B"`` -> ``("asset1", "B")``; a MultiVenue-v0 venue ``"B"`` -> ``"asset0", "B"``."""
    asset, _, venue = slot.rpartition(".")
    return asset or "asset0", venue


def _router_table(
    regime: str, quoted: dict[str, np.ndarray], slots: list[str], n_episodes: int
) -> pd.DataFrame:
    """Long table: per contestant, slot and step, the share of episodes quoting the slot."""
    frames = []
    for name, path in quoted.items():
        steps = np.arange(1, path.shape[0] + 1)
        for s, slot in enumerate(slots):
            asset, venue = _asset_venue(slot)
            frames.append(pd.DataFrame({
                "regime": regime, "contestant": name, "asset": asset, "venue": venue,
                "step": steps, "quote_share": path[:, s] / n_episodes,
            }))  # fmt: skip
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------- tables


def venue_tables(episodes: pd.DataFrame, plan: VenuePlan, n_boot: int = 2_000) -> dict:
    """``summary``, ``makers`` and ``venues`` tables of the played ``episodes`` (per regime)."""
    from mm_gym.multivenue.tournament import attribution_table, summary_table

    summaries, makers, venues = [], [], []
    for regime, g in episodes.groupby("regime", sort=False):
        g = g.drop(columns="regime")
        summaries.append(summary_table(g, plan.baseline, n_boot, plan.seed).assign(regime=regime))
        att = attribution_table(g).assign(regime=regime)
        per_venue = att[att.venue != "all"].copy()
        per_venue[["asset", "venue"]] = [_asset_venue(s) for s in per_venue.venue]
        venues.append(per_venue)
        makers.append(_makers(g, att[att.venue == "all"], str(regime)))
    venues_df = pd.concat(venues, ignore_index=True).reindex(columns=list(VENUE_COLUMNS))
    venues_df[["taker_fees", "hedge_slippage"]] = venues_df[
        ["taker_fees", "hedge_slippage"]
    ].fillna(0.0)
    summary = pd.concat(summaries, ignore_index=True)
    summary = summary[["regime", *(c for c in summary.columns if c != "regime")]]
    return {
        "summary": summary,
        "makers": pd.concat(makers, ignore_index=True).reindex(columns=list(MAKER_COLUMNS)),
        "venues": venues_df,
    }


def _makers(episodes: pd.DataFrame, totals: pd.DataFrame, regime: str) -> pd.DataFrame:
    """Per contestant: the episodes' means and the attribution's totals (``all`` rows)."""
    from mm_gym.multivenue.batch import RISK_COLUMNS

    means = ["episode_reward", "total_pnl", "sharpe", "mean_abs_inventory"]
    means += [c for c in RISK_COLUMNS if c in episodes]
    out = episodes.groupby("contestant", sort=False)[means].mean()
    out.insert(0, "n_episodes", episodes.groupby("contestant", sort=False).size())
    parts = totals.set_index("contestant").reindex(out.index)
    for p in ("fills", *_PARTS):
        out[p] = parts[p] if p in parts else 0.0
    return out.reset_index().assign(regime=regime)


_SHORT = {
    "n_episodes": "episodes", "episode_reward": "reward", "total_pnl": "PnL",
    "mean_abs_inventory": "|inv|", "spread_capture": "spread", "rebates_fees": "rebates",
    "taker_fees": "taker fee", "hedge_slippage": "slippage", "inventory_pnl": "inventory",
    "hedge_cost": "hedge cost", "var_breaches": "breaches", "mean_var": "VaR",
    "hist_var": "hist VaR", "hist_es": "hist ES", "fill_share": "fill share",
    "quote_share": "quote share",
}  # fmt: skip
"""Short column headers of the printed tables (the CSVs keep the full names)."""


def format_tables(
    tables: dict[str, pd.DataFrame], plan: VenuePlan, regimes: list[str] | None = None
) -> str:
    """The makers and venues tables as aligned text, per regime (default all; what is printed)."""
    from mm_gym.multivenue.tournament import format_summary

    makers, venues, summary = tables["makers"], tables["venues"], tables["summary"]
    groups = [["n_episodes", "episode_reward", "total_pnl", "sharpe", "mean_abs_inventory",
               "fills"], ["total_pnl", *_PARTS]]  # fmt: skip
    if plan.portfolio is None:  # mm1 never takes liquidity on MultiVenue-v0
        groups[1] = [c for c in groups[1] if c not in ("taker_fees", "hedge_slippage")]
    else:
        groups.append(["hedge_cost", "var_breaches", "hedges", "mean_var", "hist_var", "hist_es"])
    blocks = []
    for regime in plan.regimes if regimes is None else regimes:
        m = makers[makers.regime == regime].set_index("contestant")
        v = venues[venues.regime == regime].drop(columns="regime")
        if plan.portfolio is None:
            v = v.drop(columns=["asset", "taker_fees", "hedge_slippage"])
        board = format_summary(summary[summary.regime == regime], venues.iloc[:0])
        text = [f"== {plan.env_id}, regime {regime}: 95 % bootstrap CIs, differences to "
                f"{plan.baseline} paired by episode ==", board.split("\n\n")[0], ""]  # fmt: skip
        text += [f"== {plan.env_id}, regime {regime}: per maker (means per episode, currency) =="]
        text += [m[g].rename(columns=_SHORT).to_string(float_format=_two) + "\n" for g in groups]
        text += [f"== {plan.env_id}, regime {regime}: per venue (means per episode) =="]
        text += [v.rename(columns=_SHORT).to_string(index=False, float_format=_two)]
        blocks.append("\n".join(text))
    return "\n\n".join(blocks)


def _two(x: float) -> str:
    return f"{x:.2f}"


# --------------------------------------------------------------------------- the run


def evaluate_venues(args: Any, root: Path) -> int:
    """``evaluate.py --env-id``: check, play, print and write (module docstring).

    Raises:
        CliError: On bad input, before anything is played.
    """
    from mm_gym.output_folder import prepare_output, publish, written
    from mm_gym.presets import book_preset_names

    if getattr(args, "cross_play", []):  # the mm1 x mm2 matrix on this env instead
        from mm_gym.evaluation.crossplay_eval import evaluate_cross_play_venues

        return evaluate_cross_play_venues(args, root)
    if args.list and args.env_id in VENUE_ENV_IDS:
        from baselines.multivenue import MULTIVENUE_BASELINES

        print(
            "contestants:",
            ", ".join(MULTIVENUE_BASELINES),
            f"(and --runs trained on {args.env_id})",
        )
        print("regimes:", ", ".join(book_preset_names()), "(the asset's market preset)")
        return 0
    plan = plan_venues(args)
    _check_memory(plan)
    with prepare_output(args.out, args.overwrite, root) as output:
        started = time.perf_counter()
        episodes, router = play_regimes(plan)
        seconds = time.perf_counter() - started
        tables = venue_tables(episodes, plan)
        text = format_tables(tables, plan)
        text += overrides_line(args)
        print(f"\n{text}")
        _write(output.tmp, plan, episodes, router, tables, text, args, seconds)
        publish(output)
    print(f"\n{written(output.out)}")
    return 0


def _write(
    tmp: Path,
    plan: VenuePlan,
    episodes: pd.DataFrame,
    router: pd.DataFrame,
    tables: dict[str, pd.DataFrame],
    text: str,
    args: Any,
    seconds: float,
) -> None:
    """Every file of :data:`VENUE_FILES` into ``tmp``."""
    from mm_gym.evaluation.export import csv_text
    from mm_gym.evaluation.settings import evaluation_seeds
    from mm_gym.evaluation.venue_figures import venue_figures, write_venue_report
    from mm_gym.files import atomic_write_text

    atomic_write_text(tmp / "episodes.csv", csv_text(episodes))
    for name in ("summary", "makers", "venues"):
        atomic_write_text(tmp / f"{name}.csv", csv_text(tables[name]))
    atomic_write_text(tmp / "router.csv", csv_text(router))
    atomic_write_text(tmp / "leaderboard.txt", text + "\n")
    figs = venue_figures(tables, router, plan)
    write_venue_report(tmp, figs, tables, plan, args)
    meta = {
        "args": dataclasses.asdict(args),
        "env_id": plan.env_id,
        "regimes": plan.regimes,
        "contestants": plan.names,
        "baseline_for_differences": plan.baseline,
        "steps": plan.steps,
        "seeds_first_10": [int(s) for s in evaluation_seeds(plan.episodes, plan.seed)[:10]],
        "seconds": round(seconds, 2),
    }
    atomic_write_text(tmp / "run.json", json.dumps(meta, indent=2, default=str) + "\n")
