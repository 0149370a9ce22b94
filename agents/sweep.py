"""A seed sweep of ``train.py``: ``python train.py --seeds 0-9 [--ray [ADDRESS]]``.

Each seed trains as a train.py run of its own, ``<runs-dir>/<name>_s<seed>/`` (``<name>``:
``--run-name``, default ``sweep_<env>_<time>``), with every other flag of the command line:
one after another in this process, or with ``--ray`` as Ray tasks (one CPU each; a task whose
worker dies is run again from the start, the run folder of the killed attempt being replaced, as
a run stopped before its first checkpoint is). Every run's final table compares its policy with
the baselines on the same held-out seeds (:mod:`agents.compare`); the sweep then aggregates
those tables across the training seeds: for the policy's held-out episode reward, PnL Sharpe and
PnL, and for its paired difference to each baseline, the mean over seeds and its 95% Student-t
confidence interval, and how many seeds beat each baseline. The tables go to
``<runs-dir>/<name>_seeds/`` (``aggregate.txt``, ``aggregate.csv``, ``seeds.csv``), a folder
written in a hidden temporary and published at the end (:mod:`mm_gym.output_folder`), so a
failed or interrupted sweep leaves no aggregate; it is printed too.

With a Ray cluster of several machines each run folder is written on the machine that trained
it (give ``--runs-dir`` on a shared file system to have them all in one place); the aggregate
is made from the tables the tasks return, on this machine.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mm_gym.cli import CliError, Fail
from mm_gym.files import atomic_write_text
from mm_gym.output_folder import FolderOwner, prepare_output, publish

__all__ = [
    "SWEEP",
    "SeedRunError",
    "aggregate",
    "format_aggregate",
    "parse_seeds",
    "run_sweep",
    "t_quantile",
]

SWEEP = FolderOwner("train.py --seeds", ".mm_gym-sweep", "a train.py seed sweep")
"""The aggregate folder's owner: ``--overwrite`` replaces only a folder holding its marker."""

MAX_SEED = 2**32 - 1
MAX_SEEDS = 1000  # runs in one sweep
METRICS = ("episode_reward", "sharpe", "total_pnl")  # the columns of train.py's final table
SEEDS_FORM = "a range A-B (A <= B), a comma-separated list, or both (0-4,7), e.g. 0-9"


def parse_seeds(text: str) -> list[int]:
    """``"0-9"``, ``"0,2,5"``, ``"0-3,7"`` -> the seeds; :class:`CliError` naming the form."""

    def bad(why: str) -> CliError:
        return CliError(f"--seeds={text!r}: {why}; the form is {SEEDS_FORM}")

    seeds: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        lo, sep, hi = part.partition("-")
        if not lo.strip().isdigit() or (sep and not hi.strip().isdigit()):
            raise bad(f"{part!r} is not a non-negative integer or a range A-B")
        a, b = int(lo), int(hi) if sep else int(lo)
        if a > b:
            raise bad(f"the range {part!r} is empty (A > B)")
        if b > MAX_SEED:
            raise bad(f"{b} is above {MAX_SEED} (numpy takes 32-bit seeds)")
        if len(seeds) + b - a >= MAX_SEEDS:
            raise bad(f"more than {MAX_SEEDS} seeds")
        seeds += range(a, b + 1)
    if len(set(seeds)) != len(seeds):
        raise bad("a seed is given twice")
    if len(seeds) < 2:
        raise bad("a sweep needs at least 2 seeds (the CI is across seeds; for one use --seed)")
    return seeds


def split_argv(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """The sweep's own flags, and the rest of the command line (each seed's run gets it)."""
    own = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    own.add_argument("--seeds")
    own.add_argument("--ray", nargs="?", const="local")
    for flag in ("--seed", "--run-name", "--runs-dir"):
        own.add_argument(flag)
    return own.parse_known_args(argv)


def seed_argv(rest: list[str], seed: int, name: str, runs_dir: Path, ray: bool) -> list[str]:
    """The command line of one seed's run."""
    # --seeds "" and --ray "": a --config file that sets them does not make each run a sweep.
    argv = [*rest, "--seed", str(seed), "--run-name", f"{name}_s{seed}", "--runs-dir"]
    return [*argv, str(runs_dir), "--seeds", "", "--ray", "", *(["--no-progress"] if ray else [])]


class SeedRunError(RuntimeError):
    """One seed's train.py run failed; the message is its error line."""


class _Tee(io.StringIO):
    """Kept as text and passed on to ``stream`` (train.py's notes and bar stay visible)."""

    def __init__(self, stream: Any) -> None:
        super().__init__()
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(text)
        return super().write(text)

    def flush(self) -> None:
        self.stream.flush()


def train_one(argv: list[str]) -> dict[str, Any]:
    """Run ``train.main(argv)``; its folder and final table (runs here or in a Ray worker).

    Raises:
        SeedRunError: The run failed (with train.py's error line).
    """
    import sys

    import train

    err = _Tee(sys.stderr)
    try:
        with contextlib.redirect_stderr(err):
            run_dir = train.main(argv)
    except SystemExit as exc:  # train.py's fail(): its one line is in err
        lines = err.getvalue().strip().splitlines() or [f"exit status {exc.code}"]
        raise SeedRunError(lines[-1]) from None
    table = pd.read_csv(run_dir / "evaluation.csv")
    return {"run_dir": str(run_dir), "name": run_dir.name, "table": table.to_dict("records")}


def run_sweep(argv: list[str], given: Any, fail: Fail, root: Path) -> Path:
    """Train every seed, aggregate, write and print; return the aggregate folder.

    Args:
        argv: train.py's command line.
        given: Its parsed settings (train.py's ``Args``).
        fail: train.py's error reporter.
        root: The repository (never written to).
    """
    rest = split_argv(argv)[1]
    try:
        seeds = parse_seeds(given.seeds)
        check_sweep(given)
    except CliError as exc:
        fail(str(exc))
    name = given.run_name or f"sweep_{given.env_id.split('/')[-1]}_{time.strftime('%Y%m%d-%H%M%S')}"
    runs_dir = Path(given.runs_dir).resolve()
    check_run_folders(runs_dir, name, seeds, given.overwrite, fail)
    from mm_gym.ray_cluster import optional_ray_session

    try:
        with (
            optional_ray_session(given.ray) as ray,
            prepare_output(str(runs_dir / f"{name}_seeds"), given.overwrite, root, SWEEP) as out,
        ):
            argvs = [seed_argv(rest, s, name, runs_dir, bool(given.ray)) for s in seeds]
            results = (
                train_on_ray(ray, argvs, given.progress)
                if given.ray
                else [train_one(a) for a in argvs]
            )
            text = write_aggregate(out.tmp, seeds, results, given)
            publish(out)
    except CliError as exc:
        fail(str(exc))
    except SeedRunError as exc:
        fail(f"a seed's run failed: {exc}")
    print(text)
    print(f"\nwrote {out.out}/ (aggregate.txt, aggregate.csv, seeds.csv)")
    return out.out


def check_sweep(given: Any) -> None:
    """Flags that do not go with ``--seeds``."""
    if given.resume:
        raise CliError("--seeds starts new runs; it cannot be combined with --resume")
    if given.eval_episodes < 2:
        raise CliError(
            f"--eval-episodes={given.eval_episodes}: --seeds aggregates each run's held-out "
            "comparison, so it needs --eval-episodes >= 2"
        )


def check_run_folders(
    runs_dir: Path, name: str, seeds: list[int], overwrite: bool, fail: Fail
) -> None:
    """Every seed's run folder must be free (or replaceable) before the first one trains."""
    from agents.run_folder import check_new_run_folder
    from agents.train_settings import check_run_name

    for s in seeds:
        check_run_name(f"{name}_s{s}", fail)
        check_new_run_folder(runs_dir / f"{name}_s{s}", overwrite, fail)


def train_on_ray(ray: Any, argvs: list[list[str]], progress: bool) -> list[dict[str, Any]]:
    """Each seed's run as a Ray task (one CPU), under a progress bar over runs."""
    from tqdm import tqdm

    from mm_gym.evaluation.distributed import MAX_RETRIES

    task = ray.remote(num_cpus=1, max_retries=MAX_RETRIES, retry_exceptions=False)(train_one)
    refs = [task.remote(a) for a in argvs]
    pending, done = list(refs), {}
    with tqdm(total=len(refs), desc="seeds", unit="run", disable=not progress) as bar:
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                done.update({r: ray.get(r) for r in ready})
                bar.update(len(ready))
        except ray.exceptions.RayTaskError as exc:
            for r in pending:
                ray.cancel(r, force=True)
            cause = exc.cause if isinstance(exc.cause, Exception) else exc
            raise CliError(f"a seed's run failed: {str(cause).strip().splitlines()[-1]}") from None
    return [done[r] for r in refs]


# ------------------------------------------------------------------------------ the aggregate


def t_quantile(df: int, p: float = 0.975) -> float:
    """Student-t quantile ``p`` (> 0.5) with ``df`` degrees of freedom.

    Bisection on the CDF, integrated from the density by Simpson's rule (4,000 intervals):
    12.7062 at df 1, 2.2622 at df 9, 1.9842 at df 100, to four decimals.
    """
    log_c = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)

    def cdf(x: float) -> float:
        t = np.linspace(0.0, x, 4001)
        f = np.exp(log_c - (df + 1) / 2 * np.log1p(t * t / df))
        w = np.ones(t.size)
        w[1:-1:2], w[2:-1:2] = 4.0, 2.0
        return 0.5 + float(w @ f) * (x / 4000) / 3.0

    lo, hi = 0.0, 1.0
    while cdf(hi) < p:
        hi *= 2.0
    for _ in range(50):
        mid = (lo + hi) / 2.0
        lo, hi = (mid, hi) if cdf(mid) < p else (lo, mid)
    return (lo + hi) / 2.0


def _mean_ci(values: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95% Student-t CI across seeds."""
    n, mean = values.size, float(values.mean())
    half = t_quantile(n - 1) * float(values.std(ddof=1)) / math.sqrt(n)
    return mean, mean - half, mean + half


def aggregate(seeds: list[int], results: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per (comparison, metric): mean, 95% CI and per-seed values across seeds.

    ``comparison`` is ``"policy"`` (the trained policy's own held-out means) or ``"policy -
    <baseline>"`` (its paired difference to the baseline, as each run's table reports it), and
    for those ``beaten_seeds``: the seeds whose run beat that baseline on reward and Sharpe.
    """
    own, diffs = _per_seed(results)
    rows = []
    for label, metric, values, beaten in [*own, *diffs]:
        mean, low, high = _mean_ci(np.asarray(values, float))
        rows.append({
            "comparison": label, "metric": metric, "n_seeds": len(seeds), "mean": mean,
            "ci_low": low, "ci_high": high, "beaten_seeds": beaten,
            "per_seed": " ".join(repr(float(v)) for v in values),
        })  # fmt: skip
    table = pd.DataFrame(rows)
    table["beaten_seeds"] = table["beaten_seeds"].astype("Int64")  # none on the policy's rows
    return table


def _per_seed(results: list[dict[str, Any]]) -> tuple[list[tuple], list[tuple]]:
    """``(label, metric, values over seeds, beaten count)`` of the policy and of each difference."""
    tables = [pd.DataFrame(r["table"]) for r in results]
    mine = [t[t["policy"] == r["name"]].iloc[0] for t, r in zip(tables, results, strict=True)]
    own = [("policy", m, [float(row[f"{m}_mean"]) for row in mine], None) for m in METRICS]
    baselines = [p for p in tables[0]["policy"] if p != results[0]["name"]]
    diffs = []
    for b in baselines:
        rows = [t[t["policy"] == b].iloc[0] for t in tables]
        beaten = sum(bool(r["beaten"]) for r in rows)
        for m in METRICS:  # the table holds baseline - policy; report policy - baseline
            diffs.append((f"policy - {b}", m, [-float(r[f"{m}_diff"]) for r in rows], beaten))
    return own, diffs


def format_aggregate(agg: pd.DataFrame, seeds: list[int], given: Any) -> str:
    """The printed table."""
    n = len(seeds)
    lines = [
        f"train.py across {n} seeds ({_seed_text(seeds)}): held-out comparison of each run "
        f"({given.eval_episodes} episodes, eval seed {given.eval_seed}); mean over seeds "
        "[95% Student-t CI]",
        f"{'comparison':32s} {'episode reward':>30s} {'PnL Sharpe':>30s} {'PnL':>30s}  beaten",
    ]
    for label, group in agg.groupby("comparison", sort=False):
        cells = [
            f"{r['mean']:+9.2f} [{r['ci_low']:+9.2f}, {r['ci_high']:+9.2f}]"
            for _, r in group.set_index("metric").loc[list(METRICS)].reset_index().iterrows()
        ]
        beaten = group["beaten_seeds"].iloc[0]
        count = "" if pd.isna(beaten) else f"{beaten}/{n}"
        lines.append(f"{str(label)[:32]:32s} {' '.join(cells)}  {count}")
    lines.append("beaten: seeds whose run beat the baseline on reward and Sharpe (paired 95% CIs)")
    return "\n".join(lines)


def _seed_text(seeds: list[int]) -> str:
    contiguous = seeds == list(range(seeds[0], seeds[0] + len(seeds)))
    return f"{seeds[0]}-{seeds[-1]}" if contiguous else ",".join(map(str, seeds))


def write_aggregate(tmp: Path, seeds: list[int], results: list[dict[str, Any]], given: Any) -> str:
    """``aggregate.csv``, ``aggregate.txt`` and ``seeds.csv`` into ``tmp``; the text."""
    agg = aggregate(seeds, results)
    text = format_aggregate(agg, seeds, given)
    atomic_write_text(tmp / "aggregate.csv", agg.to_csv(index=False))
    atomic_write_text(tmp / "aggregate.txt", text + "\n")
    per_seed = pd.DataFrame({
        "seed": seeds,
        "run_dir": [os.path.relpath(r["run_dir"], tmp.parent) for r in results],
    })  # fmt: skip
    own = agg[agg["comparison"] == "policy"].set_index("metric")
    for m in METRICS:
        per_seed[m] = [float(v) for v in own.loc[m, "per_seed"].split()]
    atomic_write_text(tmp / "seeds.csv", per_seed.to_csv(index=False))
    return text
