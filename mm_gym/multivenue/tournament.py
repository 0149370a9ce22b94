"""``python -m mm_gym.multivenue.tournament``: the multi-venue baselines on the same episodes.

Every contestant (:data:`baselines.multivenue.MULTIVENUE_BASELINES`) plays the same ``N``
episodes of ``mm_gym/MultiVenue-v0`` (episode ``i`` is reset with seed ``seed + i`` for every
contestant: common random numbers, so the venues' shared exogenous path, regime and sentiment,
is the same; ``path_hash`` in ``episodes.csv`` fingerprints it), in batches of the native
vector env. Per contestant it reports the mean episode reward and PnL with 95 % percentile
bootstrap CIs, the paired difference against ``--baseline`` (bootstrap of the episode-by-episode
differences), the per-episode Sharpe ratio of step PnL (:func:`mm_gym.metrics.sharpe`), mean
``|inventory|``, the arbitrageurs' lots, and per venue:

- ``spread_capture``: the sum over mm1's fills of ``lots * |price - mid at the fill|``,
- ``rebates_fees``: maker rebates received minus fees paid,
- ``inventory_pnl``: the venue's PnL minus the two above (the mark-to-market of the position),

all in currency per episode, which sum to the venue's PnL (cash plus inventory at the venue's
mid) and, over the venues, to the total PnL; ``fill_share`` (the venue's share of mm1's filled
lots) and ``quote_share`` (the share of steps mm1 quoted there, not parked at action +1: the
router's venue choices).

Trained policies play too: ``--runs runs/<name> ...`` adds each ``train.py`` run trained on
``mm_gym/MultiVenue-v0`` (``python train.py --env-id mm_gym/MultiVenue-v0``) as the contestant
``ppo:<name>`` (:func:`agents.load_policy`); ``--baseline`` may name one. A run trained with
``--env-kwargs action_form=routed`` plays the env's routed form, whose own map turns its one
quote and routing vector into per-venue quotes (:func:`~mm_gym.multivenue.routing.
routed_quotes`), on the same episodes as the rest. ``evaluate.py --env-id mm_gym/MultiVenue-v0``
plays the same episodes through :func:`play` (per regime, with its exports and report:
:mod:`mm_gym.evaluation.venues`); without ``--env-id`` it refuses such a run.

Files (into ``--out``, default ``exports/multivenue/<timestamp>``, through
:mod:`mm_gym.output_folder`: written into a temporary folder and moved into place; an existing
folder is replaced only with ``--overwrite`` and only if this tool wrote it): ``episodes.csv``,
``summary.csv``, ``attribution.csv``, ``plots/attribution.png``.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pandas as pd

from mm_gym.cli import CliError, OneLineParser, add_export_flags, check_ranges, run_cli
from mm_gym.multivenue.batch import HEDGE_PARTS, PARTS, episode_rows, run_batch, slot_names
from mm_gym.multivenue.batch import venue_local_pnl as venue_local_pnl
from mm_gym.output_folder import FolderOwner, check_out_flag, export_folder, write_export
from mm_gym.policy import QuotingPolicy

__all__ = [
    "DEFAULT_CONTESTANTS",
    "MARKER",
    "RANGES",
    "SUMMARY_METRICS",
    "attribution_table",
    "load_runs",
    "main",
    "play",
    "run",
    "run_batch",
    "summary_table",
]

PROG = "python -m mm_gym.multivenue.tournament"
MARKER = ".mm_gym-multivenue-tournament"
"""Marker file in every output folder of this tool (what ``--overwrite`` may replace)."""
OWNER = FolderOwner(PROG, MARKER, f"a {PROG} output")
DEFAULT_CONTESTANTS = ("routed_as", "everywhere_as", "everywhere_fixed")
RANGES: dict[str, tuple[int, int]] = {
    "episodes": (2, 1_000_000),
    "steps": (10, 1_000_000),
    "batch": (1, 4_096),
    "seed": (0, 2**62),
    "bootstrap": (100, 100_000),
    "top_k": (1, 16),
}
"""The allowed range of each numeric flag, inclusive."""


def _contestant(
    contestant: str | QuotingPolicy, preset: str, price: float, top_k: int, portfolio: Any
) -> tuple[str, QuotingPolicy]:
    """A contestant's name and policy: a given policy, or the multi-venue baseline it names.

    On a portfolio the baseline quotes each asset (``PerAsset``).
    """
    if not isinstance(contestant, str):
        return str(contestant.name), contestant
    from baselines.multivenue import make_multivenue_policy

    name = contestant
    if portfolio is None:
        return name, make_multivenue_policy(name, preset, start_price=price, top_k=top_k)
    from baselines.portfolio import PerAsset

    return name, PerAsset(
        lambda: make_multivenue_policy(name, preset, start_price=price, top_k=top_k), name=name
    )


def _check_per_venue(contestants: Sequence[str | QuotingPolicy]) -> None:
    """Every contestant quotes per venue (Portfolio-v0 has no routed action form)."""
    for c in contestants:
        if getattr(c, "action_form", "per_venue") != "per_venue":
            raise ValueError(
                f"{getattr(c, 'name', c)!r} was trained on MultiVenue-v0's routed action form "
                "(one quote and a routing vector over one asset's venues): it cannot play "
                "Portfolio-v0, which takes per-venue quotes for every asset"
            )


def play(
    contestants: Sequence[str | QuotingPolicy],
    *,
    episodes: int = 64,
    steps: int = 1_000,
    batch: int = 64,
    seed: int = 0,
    preset: str = "default",
    top_k: int = 1,
    venues: Any = None,
    progress: bool = True,
    seeds: Sequence[int] | None = None,
    overrides: Mapping[str, Any] | None = None,
    portfolio: Any = None,
    on_batch: Callable[[str, np.ndarray, dict[str, np.ndarray]], None] | None = None,
) -> pd.DataFrame:
    """Play every contestant on episodes ``seed .. seed + episodes - 1``; ``episodes.csv``.

    Args:
        contestants: Names of :data:`baselines.multivenue.MULTIVENUE_BASELINES`, or
            multi-venue QuotingPolicies (e.g. :func:`agents.load_policy` of a run), labelled
            by their ``name``; one whose ``action_form`` is ``"routed"`` plays the routed env
            (:func:`run_batch`), on ``MultiVenue-v0`` only.
        episodes: Episodes per contestant.
        steps: Steps per episode (the market's ``horizon_steps``).
        batch: Episodes stepped together (vector env size).
        seed: Seed of the first episode; also seeds the policies' generators.
        preset: The asset's market preset.
        top_k: Venues the routed contestants quote per step.
        venues: The venues (default :data:`mm_gym.multivenue.DEFAULT_VENUES`).
        progress: Show a tqdm bar over contestant episode-steps.
        seeds: The episodes' seeds, instead of ``seed .. seed + episodes - 1`` (``episodes``
            is then ignored), e.g. :func:`mm_gym.evaluation.evaluation_seeds` for held-out ones.
        overrides: Further env overrides (:func:`run_batch`).
        portfolio: None plays ``MultiVenue-v0``; a ``PortfolioConfig`` (or a mapping of its
            fields) plays ``Portfolio-v0``, a named baseline quoting each asset
            (:class:`baselines.portfolio.PerAsset`); the slots are then ``asset<a>.<venue>``.
        on_batch: Called with the contestant's name, the batch's seeds and
            :func:`run_batch`'s results after each batch (e.g. for ``quoted_path``).

    Raises:
        ValueError: Before anything is played, if a routed contestant is given a ``portfolio``.
    """
    from tqdm import tqdm

    from mm_gym import preset as get_preset
    from mm_gym.multivenue import DEFAULT_VENUES, check_venues
    from mm_gym.portfolio.config import check_portfolio

    vs = check_venues(DEFAULT_VENUES if venues is None else venues)
    cfg = get_preset(preset)
    price = cfg.price0_ticks * cfg.tick_size
    frames = []
    if seeds is None:
        all_seeds = np.arange(seed, seed + episodes, dtype=np.int64)
    else:
        all_seeds = np.asarray(seeds).astype(np.int64)
    total = len(contestants) * len(all_seeds) * steps
    n_assets = None if portfolio is None else check_portfolio(portfolio).n_assets
    if n_assets is not None:
        _check_per_venue(contestants)
    slots = slot_names([v.name for v in vs], n_assets)
    with tqdm(total=total, unit="step", disable=None if progress else True) as bar:
        for contestant in contestants:
            name, policy = _contestant(contestant, preset, price, top_k, portfolio)
            bar.set_description(name)
            for b, start in enumerate(range(0, len(all_seeds), batch)):
                chunk = all_seeds[start : start + batch]
                rng = np.random.default_rng([seed, zlib.crc32(name.encode()), b])
                res = run_batch(
                    policy, chunk.tolist(), steps, rng, preset, vs, overrides, portfolio
                )
                frames.append(episode_rows(name, chunk, res, slots, steps))
                if on_batch is not None:
                    on_batch(name, chunk, res)
                bar.update(len(chunk) * steps)
    return pd.concat(frames, ignore_index=True)


def venue_columns(episodes: pd.DataFrame) -> list[str]:
    """The venues of an ``episodes.csv`` table, in order."""
    return [c.removeprefix("fills_") for c in episodes.columns if c.startswith("fills_")]


SUMMARY_METRICS = ("episode_reward", "sharpe", "total_pnl")
"""Per-episode columns :func:`summary_table` gives CIs and paired differences for."""


def summary_table(
    episodes: pd.DataFrame, baseline: str, n_boot: int = 2_000, seed: int = 0
) -> pd.DataFrame:
    """Per contestant: means with bootstrap CIs, paired differences against ``baseline``.

    For each of :data:`SUMMARY_METRICS` ``m``: ``m_mean``, ``m_ci_low``, ``m_ci_high`` and
    ``m_diff``, ``m_diff_low``, ``m_diff_high`` (contestant minus ``baseline``, paired by seed;
    95 % percentile bootstrap).
    """
    from mm_gym.metrics import bootstrap_ci, paired_diff_ci

    base = episodes[episodes.contestant == baseline].sort_values("seed")
    rows = []
    for name, g in episodes.groupby("contestant", sort=False):
        g = g.sort_values("seed")
        if not np.array_equal(g.seed.to_numpy(), base.seed.to_numpy()):
            raise ValueError(f"{name!r} and the baseline {baseline!r} played different seeds")
        row: dict[str, Any] = {"contestant": name, "n_episodes": len(g)}
        for metric in SUMMARY_METRICS:
            x, y = g[metric].to_numpy(), base[metric].to_numpy()
            ci = bootstrap_ci(x, n_boot, rng=seed)
            d = paired_diff_ci(x, y, n_boot, rng=seed)
            row |= {
                f"{metric}_mean": ci.estimate,
                f"{metric}_ci_low": ci.low,
                f"{metric}_ci_high": ci.high,
                f"{metric}_diff": d.estimate,
                f"{metric}_diff_low": d.low,
                f"{metric}_diff_high": d.high,
            }
        row["mean_abs_inventory"] = g.mean_abs_inventory.mean()
        row["arbitrage_lots"] = g.arbitrage_lots.mean()
        row["fills"] = g[[f"fills_{v}" for v in venue_columns(episodes)]].sum(axis=1).mean()
        rows.append(row)
    return pd.DataFrame(rows)


def attribution_table(episodes: pd.DataFrame) -> pd.DataFrame:
    """Per contestant and venue (and ``all``): mean PnL parts per episode, fill and quote shares.

    ``spread_capture + rebates_fees + inventory_pnl == pnl`` on every row (the parts are means
    of per-episode parts that sum to the per-episode PnL); on a portfolio's episodes the venues
    are its slots ``asset<a>.<venue>`` and ``taker_fees + hedge_slippage`` join the sum
    (:mod:`mm_gym.multivenue.batch`).
    """
    venues = venue_columns(episodes)
    parts = [*PARTS, *(p for p in HEDGE_PARTS if f"{p}_{venues[0]}" in episodes)]
    rows = []
    for name, g in episodes.groupby("contestant", sort=False):
        fills = g[[f"fills_{v}" for v in venues]].to_numpy().sum(axis=0)
        share = fills / fills.sum() if fills.sum() > 0 else np.zeros(len(venues))
        for v, venue in enumerate(venues):
            row = {"contestant": name, "venue": venue}
            row |= {p: g[f"{p}_{venue}"].mean() for p in parts}
            row["pnl"] = g[f"venue_pnl_{venue}"].mean()
            row["fills"] = fills[v] / len(g)
            row["fill_share"] = share[v]
            row["quote_share"] = g[f"quote_share_{venue}"].mean()
            rows.append(row)
        total = {"contestant": name, "venue": "all"}
        total |= {p: g[[f"{p}_{v}" for v in venues]].sum(axis=1).mean() for p in parts}
        total |= {"pnl": g.total_pnl.mean(), "fills": fills.sum() / len(g), "fill_share": 1.0}
        total["quote_share"] = np.nan
        rows.append(total)
    return pd.DataFrame(rows)


def attribution_figure(attribution: pd.DataFrame) -> Any:
    """Bars of the PnL parts per venue, one panel per contestant (a matplotlib Figure)."""
    from matplotlib.figure import Figure

    per_venue = attribution[attribution.venue != "all"]
    names = list(dict.fromkeys(per_venue.contestant))
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig = Figure(figsize=(4.2 * cols, 3.6 * rows + 0.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, sharey=True, squeeze=False)).ravel()
    labels = {"spread_capture": "spread capture", "rebates_fees": "rebates - fees"}
    if "taker_fees" in per_venue:  # a portfolio's: the hedging overlay's cost
        labels |= {"taker_fees": "hedge taker fees", "hedge_slippage": "hedge slippage"}
    labels |= {"inventory_pnl": "inventory PnL", "pnl": "total (venue PnL)"}
    width = 0.8 / len(labels)
    for ax, name in zip(axes, names, strict=False):
        g = per_venue[per_venue.contestant == name]
        x = np.arange(len(g))
        for j, (part, label) in enumerate(labels.items()):
            ax.bar(x + (j - (len(labels) - 1) / 2) * width, g[part], width, label=label)
        ax.axhline(0.0, color="black", linewidth=0.6)
        if any("." in str(v) for v in g.venue):  # a portfolio's asset<a>.<venue>
            ax.set_xticks(x, list(g.venue), rotation=30, fontsize=8)
        else:
            ax.set_xticks(x, [f"venue {v}" for v in g.venue])
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("venue")
        ax.set_ylabel("mean PnL per episode (currency)")
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    axes[0].legend(fontsize=7)
    fig.suptitle("mm1's PnL attribution per venue (the parts sum to the total)")
    return fig


def write_files(episodes: pd.DataFrame, baseline: str, folder: Path, n_boot: int) -> list[str]:
    """Write the CSVs and the figure into ``folder`` (each atomically); return their names."""
    import io

    from mm_gym.evaluation.export import csv_text
    from mm_gym.files import atomic_write_bytes, atomic_write_text

    attribution = attribution_table(episodes)
    atomic_write_text(folder / "episodes.csv", csv_text(episodes))
    atomic_write_text(folder / "summary.csv", csv_text(summary_table(episodes, baseline, n_boot)))
    atomic_write_text(folder / "attribution.csv", csv_text(attribution))
    buf = io.BytesIO()
    attribution_figure(attribution).savefig(buf, format="png", dpi=110)
    atomic_write_bytes(folder / "plots" / "attribution.png", buf.getvalue())
    return ["episodes.csv", "summary.csv", "attribution.csv", "plots/attribution.png"]


def format_summary(summary: pd.DataFrame, attribution: pd.DataFrame) -> str:
    """The summary and the per-venue attribution as aligned text (what the CLI prints)."""
    lines = [
        f"{'contestant':<18}{'reward [95% CI]':>28}{'PnL [95% CI]':>28}"
        f"{'PnL - baseline [95% CI]':>30}{'|inv|':>8}{'Sharpe':>8}"
    ]
    for r in summary.itertuples():
        lines.append(
            f"{str(r.contestant)[:17]:<18}"
            f"{r.episode_reward_mean:>10.1f} [{r.episode_reward_ci_low:.1f}, "
            f"{r.episode_reward_ci_high:.1f}]".ljust(28 + 18)
            + f"{r.total_pnl_mean:>10.1f} [{r.total_pnl_ci_low:.1f}, {r.total_pnl_ci_high:.1f}]"
            f"".ljust(28)
            + f"{r.total_pnl_diff:>10.1f} [{r.total_pnl_diff_low:.1f}, "
            f"{r.total_pnl_diff_high:.1f}]".ljust(30)
            + f"{r.mean_abs_inventory:>8.2f}{r.sharpe_mean:>8.2f}"
        )
    lines.append("")
    lines.append(
        f"{'contestant':<18}{'venue':>6}{'spread':>10}{'rebates':>10}{'inventory':>11}"
        f"{'PnL':>10}{'fill share':>12}{'quote share':>13}"
    )
    for r in attribution.itertuples():
        lines.append(
            f"{str(r.contestant)[:17]:<18}{r.venue:>6}{r.spread_capture:>10.1f}{r.rebates_fees:>10.1f}"
            f"{r.inventory_pnl:>11.1f}{r.pnl:>10.1f}{r.fill_share:>12.3f}{r.quote_share:>13.3f}"
        )
    return "\n".join(lines)


def _fail(message: str) -> NoReturn:
    raise CliError(message)


def _parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog=PROG, description=__doc__.splitlines()[0], fail=_fail)
    p.add_argument(
        "--contestants", nargs="+", default=list(DEFAULT_CONTESTANTS), metavar="NAME",
        help=f"multi-venue baselines to play (default: {' '.join(DEFAULT_CONTESTANTS)})",
    )  # fmt: skip
    p.add_argument(
        "--runs", nargs="+", default=[], metavar="RUN",
        help="train.py run folders trained on mm_gym/MultiVenue-v0 to add as contestants "
        "ppo:<folder name> (agents.load_policy)",
    )  # fmt: skip
    p.add_argument(
        "--baseline", default="everywhere_as",
        help="paired differences against it (a contestant, or ppo:<name> of --runs)",
    )  # fmt: skip
    p.add_argument("--episodes", type=int, default=64, help="episodes per contestant (64)")
    p.add_argument("--steps", type=int, default=1_000, help="steps per episode (1000)")
    p.add_argument("--batch", type=int, default=64, help="episodes stepped together (64)")
    p.add_argument("--seed", type=int, default=0, help="seed of the first episode (0)")
    p.add_argument("--preset", default="default", help="the asset's market preset (default)")
    p.add_argument(
        "--venues", default=None, metavar="YAML",
        help="the venues as a YAML list of VenueConfig fields, e.g. "
        "'[{name: A}, {name: S, latency_steps: 20}]' (default: the three default venues)",
    )  # fmt: skip
    p.add_argument("--top-k", type=int, default=1, help="venues a routed contestant quotes (1)")
    add_export_flags(p, "multivenue")
    return p


def _venues(text: str | None) -> tuple[Any, ...]:
    """``--venues`` as checked :class:`~mm_gym.multivenue.VenueConfig` s (one-line errors)."""
    import yaml

    from mm_gym.config import ConfigError
    from mm_gym.multivenue import DEFAULT_VENUES, check_venues

    if text is None:
        return DEFAULT_VENUES
    try:
        return check_venues(yaml.safe_load(text))
    except (ConfigError, yaml.YAMLError) as exc:
        raise CliError(f"--venues: {' '.join(str(exc).split())}") from None


def load_runs(folders: Sequence[str], venues: Any = None) -> list[QuotingPolicy]:
    """The trained policies of ``train.py`` run folders as contestants ``ppo:<folder name>``.

    Each run must have been trained on a multi-venue env id (its ``metadata.json``), observe
    only features the multi-venue env of ``venues`` has and quote its number of venues. A run
    trained on the routed action form loads as a routed policy (:func:`run_batch` plays it so).

    Raises:
        CliError: One line naming the run and what is wrong (missing, not a multi-venue run,
            unreadable policy, features the env does not observe, another number of venues, a
            name given twice).
    """
    if not folders:
        return []
    import mm_gym
    from agents.policy import load_policy, trained_env_id
    from mm_gym.multivenue import DEFAULT_VENUES, MultiVenueVectorEnv

    observed = MultiVenueVectorEnv(1, venues=DEFAULT_VENUES if venues is None else venues)
    policies: list[QuotingPolicy] = []
    for text in folders:
        folder = Path(text)
        if not (folder / "metadata.json").is_file():
            raise CliError(f"--runs {text!r}: not a train.py run folder (no metadata.json)")
        env_id = trained_env_id(folder)
        if env_id not in mm_gym.MULTI_VENUE_ENV_IDS:
            raise CliError(
                f"--runs {text!r} was trained on {env_id!r}, not on a multi-venue env "
                f"{list(mm_gym.MULTI_VENUE_ENV_IDS)}: evaluate it with evaluate.py --runs"
            )
        try:
            policy = load_policy(folder, name=f"ppo:{folder.name}")
        except (OSError, ValueError) as exc:
            raise CliError(f"--runs {text!r}: {str(exc).splitlines()[0]}") from None
        missing = [f for f in policy.feature_names if f not in observed.feature_names]
        if missing:
            raise CliError(
                f"--runs {text!r} was trained on features {missing[:3]} that these venues' "
                f"env does not observe (venues {[v.name for v in observed.venues]})"
            )
        if policy.n_venues != len(observed.venues):
            raise CliError(
                f"--runs {text!r} quotes {policy.n_venues} venues ({policy.action_form} actions); "
                f"these venues are {len(observed.venues)}: {[v.name for v in observed.venues]}"
            )
        if any(p.name == policy.name for p in policies):
            raise CliError(f"--runs names {policy.name!r} twice")
        policies.append(policy)
    observed.close()
    return policies


def _validate(args: argparse.Namespace) -> tuple[tuple[Any, ...], list[QuotingPolicy]]:
    """Refuse bad flags before anything is simulated (one-line :class:`CliError`).

    Returns:
        The venues and the trained contestants of ``--runs``.
    """
    from baselines.multivenue import MULTIVENUE_BASELINES
    from mm_gym.presets import book_preset_names

    check_ranges(args, RANGES)
    for name in args.contestants:
        if name not in MULTIVENUE_BASELINES:
            raise CliError(
                f"contestant {name!r} is not valid: choose from {list(MULTIVENUE_BASELINES)}"
            )
    if len(set(args.contestants)) != len(args.contestants):
        raise CliError(f"--contestants {args.contestants} names a contestant twice")
    if args.preset not in book_preset_names():
        raise CliError(f"--preset {args.preset!r} is not valid: choose from {book_preset_names()}")
    venues = _venues(args.venues)
    if args.top_k > len(venues):
        raise CliError(f"--top-k={args.top_k} must be in [1, {len(venues)}] (the venues)")
    runs = load_runs(args.runs, venues)
    names = [*args.contestants, *(p.name for p in runs)]
    if args.baseline not in names:
        raise CliError(f"--baseline {args.baseline!r} must be one of the contestants {names}")
    if args.out is not None:
        check_out_flag(Path(args.out), args.overwrite, OWNER)
    return venues, runs


def run(argv: Sequence[str] | None = None) -> pd.DataFrame:
    """Parse ``argv``, play, print the tables, write the files; return ``episodes``.

    Raises:
        CliError: On bad flags (before anything is played) or an unwritable ``--out``.
    """
    args = _parser().parse_args(argv)
    venues, runs = _validate(args)
    out = export_folder(args.out, "multivenue")
    started = time.perf_counter()
    episodes = play(
        [*args.contestants, *runs], episodes=args.episodes, steps=args.steps, batch=args.batch,
        seed=args.seed, preset=args.preset, top_k=args.top_k, venues=venues,
        progress=not args.no_progress,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    summary = summary_table(episodes, args.baseline, args.bootstrap, args.seed)
    print(format_summary(summary, attribution_table(episodes)))
    print(f"\n{args.episodes} episodes x {args.steps} steps per contestant in {seconds:.0f} s")
    write_files_to = functools.partial(write_files, episodes, args.baseline, n_boot=args.bootstrap)
    write_export(out, args.overwrite, OWNER, write_files_to)
    return episodes


def main(argv: Sequence[str] | None = None) -> int:
    """The CLI entry point; returns the exit code (2 on a user error)."""
    return run_cli(run, argv, PROG)


if __name__ == "__main__":
    sys.exit(main())
