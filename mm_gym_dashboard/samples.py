"""Small synthetic export and run folders in the formats the dashboard reads.

For the dashboard's tests and for trying the app before any evaluation or training has run
(``python -m mm_gym_dashboard.samples DIR`` writes ``DIR/exports`` and ``DIR/runs``). The
numbers are random draws, not results.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["SAMPLE_CONTESTANTS", "write_sample_export", "write_sample_run"]

SAMPLE_CONTESTANTS: tuple[str, ...] = ("fixed_spread", "avellaneda_stoikov", "glft")
"""Contestant names used in the sample export."""

_REGIMES = ("mean_reverting", "trending")


def _trace(rng: np.random.Generator, steps: int, edge: float) -> pd.DataFrame:
    """A per-step trace in the columns of ``MM1_metrics.csv``."""
    step = np.arange(1, steps + 1)
    mid = 100.0 + np.cumsum(rng.normal(0.0, 0.01, steps))
    inventory = np.clip(np.cumsum(rng.integers(-1, 2, steps)), -20, 20)
    realized = np.cumsum(rng.normal(edge, 0.5, steps))
    unrealized = inventory * rng.normal(0.0, 0.5, steps)
    fees = np.cumsum(rng.uniform(0.0, 0.1, steps))
    event = np.full(steps, "", dtype=object)
    event[rng.choice(steps, steps // 10, replace=False)] = "news"
    event[rng.choice(steps, 3, replace=False)] = "shock;news"
    event[steps // 2] = "regime_switch"
    return pd.DataFrame(
        {
            "step": step,
            "mid": mid,
            "bid": mid - 0.02,
            "ask": mid + 0.02,
            "inventory": inventory,
            "cash": -inventory * mid * 100.0 + realized + fees,
            "realized": realized,
            "unrealized": unrealized,
            "fees": fees,
            "total": realized + unrealized + fees,
            "spread_capture": np.cumsum(rng.uniform(0.0, 2.0 * max(edge, 0.01), steps)),
            "fills": rng.integers(0, 3, steps),
            "regime": np.where(step <= steps // 2, "mean_reverting", "trending"),
            "sentiment": np.tanh(np.cumsum(rng.normal(0, 0.05, steps))),
            "fundamental": mid + rng.normal(0, 0.02, steps),
            "event": event,
        }
    )


def _impact(rng: np.random.Generator, n: int, steps: int) -> pd.DataFrame:
    """Market orders in the columns of ``MM1_market_impact.csv``."""
    size = np.ceil(rng.pareto(2.0, n) + 1).astype(int)
    side = rng.choice([1, -1], n)
    kind = rng.choice(["noise", "informed", "shock"], n, p=[0.7, 0.25, 0.05])
    pre = 100.0 + rng.normal(0, 0.05, n)
    impact = 0.005 * np.sqrt(size) + rng.normal(0, 0.003, n)
    return pd.DataFrame(
        {
            "step": np.sort(rng.integers(1, steps + 1, n)),
            "kind": kind,
            "size": size,
            "side": side,
            "pre_mid": pre,
            "post_mid": pre + side * impact,
            "impact": impact,
            "maker_lots": rng.integers(1, 3, n),
        }
    )


def _bands(
    rng: np.random.Generator, preset: str, policy: str, steps: int, edge: float
) -> pd.DataFrame:
    """``bands.csv`` rows of one contestant and preset: mean and quartiles of 32 random paths."""
    pnl = np.vstack([np.zeros(32), np.cumsum(rng.normal(edge, 1.0, (steps, 32)), axis=0)])
    inv = np.clip(np.cumsum(rng.integers(-1, 2, (steps, 32)), axis=0), -20, 20).astype(float)
    inv = np.vstack([np.full(32, np.nan), inv])
    out = {"preset": preset, "policy": policy, "step": np.arange(steps + 1)}
    for name, x in (("pnl", pnl), ("inventory", inv)):
        out[f"{name}_mean"] = x.mean(axis=1)
        out[f"{name}_p25"], out[f"{name}_p75"] = np.quantile(x, [0.25, 0.75], axis=1)
    return pd.DataFrame(out)


def _summary(episodes: pd.DataFrame, z: float = 1.96) -> pd.DataFrame:
    """``summary.csv``: per (preset, policy) mean, std and a normal CI of each metric."""
    metrics = ["total_pnl", "spread_capture", "inventory_pnl", "fees", "sharpe", "max_drawdown"]
    g = episodes.groupby(["preset", "policy"], sort=False)
    out = g.size().rename("n_episodes").to_frame()
    for m in metrics:
        out[f"{m}_mean"] = g[m].mean()
        out[f"{m}_std"] = g[m].std()
    for m in ("total_pnl", "sharpe"):
        half = z * g[m].sem()
        out[f"{m}_ci_low"] = out[f"{m}_mean"] - half
        out[f"{m}_ci_high"] = out[f"{m}_mean"] + half
    return out.reset_index()


def write_sample_export(
    root: Path,
    name: str = "20250101-120000",
    *,
    episodes: int = 12,
    steps: int = 200,
    seed: int = 0,
    latest: bool = True,
    with_bands: bool = True,
) -> Path:
    """Write a synthetic export folder ``root/name`` (and ``root/latest`` naming it).

    The layout and columns follow ``evaluate.py``: ``episodes.csv`` (``preset``, ``policy``,
    ``episode``, ``total_pnl`` and its attribution, ...), ``summary.csv`` (``<metric>_mean``,
    ``<metric>_ci_low``, ...), ``bands.csv`` (unless ``with_bands`` is false, as in exports
    older than that file), ``leaderboard.txt``, ``run.json``, and
    ``contestants/<policy>/<regime>/`` with the sample episode's traces and market-impact
    records of both makers (and ``market_impact.csv``, every order).

    Returns:
        The export folder.
    """
    rng = np.random.default_rng(seed)
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    rows, band_frames = [], []
    for k, contestant in enumerate(SAMPLE_CONTESTANTS):
        for preset in _REGIMES:
            for ep in range(episodes):
                spread = rng.normal(40 + 15 * k, 6)
                inv = rng.normal(-5 + 2 * k, 12)
                fees = rng.normal(8, 1)
                rows.append(
                    {
                        "preset": preset,
                        "policy": contestant,
                        "rival": "builtin",
                        "episode": ep,
                        "seed": 1000 + ep,
                        "length": steps,
                        "total_pnl": spread + inv + fees,
                        "spread_capture": spread,
                        "inventory_pnl": inv,
                        "fees": fees,
                        "sharpe": rng.normal(0.5 + 0.3 * k, 0.2),
                        "max_drawdown": abs(rng.normal(20, 5)),
                    }
                )
            band_frames.append(_bands(rng, preset, contestant, steps, 0.1 * (k + 1)))
            sub = folder / "contestants" / contestant / preset
            sub.mkdir(parents=True, exist_ok=True)
            for maker, edge in (("MM1", 0.05 * (k + 1)), ("MM2", 0.05)):
                _trace(rng, steps, edge).to_csv(sub / f"{maker}_metrics.csv", index=False)
                _impact(rng, 60, steps).to_csv(sub / f"{maker}_market_impact.csv", index=False)
            _impact(rng, 150, steps).to_csv(sub / "market_impact.csv", index=False)
    episodes_df = pd.DataFrame(rows)
    episodes_df.to_csv(folder / "episodes.csv", index=False)
    if with_bands:
        pd.concat(band_frames).to_csv(folder / "bands.csv", index=False)
    summary = _summary(episodes_df)
    summary.to_csv(folder / "summary.csv", index=False)
    (folder / "leaderboard.txt").write_text(
        summary[["preset", "policy", "total_pnl_mean"]].to_string(index=False) + "\n",
        encoding="utf-8",
    )
    (folder / "run.json").write_text(
        json.dumps({"sample": True, "episodes": episodes, "seed": seed}), encoding="utf-8"
    )
    if latest:
        (root / "latest").write_text(name + "\n", encoding="utf-8")
    return folder


def write_sample_run(
    root: Path,
    name: str = "ppo_sample",
    *,
    points: int = 50,
    seed: int = 0,
    finished_episodes: bool = True,
) -> Path:
    """Write a synthetic run ``root/name`` with TensorBoard scalars, a config and a model file.

    ``points=0`` writes an event file without scalars (a run before its first rollout);
    ``finished_episodes=False`` leaves out ``rollout/ep_rew_mean`` (no episode finished yet).

    Returns:
        The run folder.
    """
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    rng = np.random.default_rng(seed)
    run = root / name
    tb = run / "tb" / "PPO_1"
    tb.mkdir(parents=True, exist_ok=True)
    writer = EventFileWriter(str(tb))
    t0 = time.time() - points * 10.0
    reward = -50.0
    for i in range(points):
        step = (i + 1) * 2048
        reward += rng.normal(2.0, 3.0)
        values = {
            "rollout/ep_rew_mean": reward,
            "train/loss": float(np.exp(-i / 15) + rng.normal(0, 0.05)),
            "train/entropy_loss": -1.4 + i * 0.01,
        }
        if not finished_episodes:
            del values["rollout/ep_rew_mean"]
        summary = summary_pb2.Summary(
            value=[summary_pb2.Summary.Value(tag=k, simple_value=v) for k, v in values.items()]
        )
        writer.add_event(event_pb2.Event(step=step, wall_time=t0 + i * 10.0, summary=summary))
    writer.close()
    (run / "config.json").write_text(
        json.dumps({"preset": "default", "total_timesteps": points * 2048, "seed": seed}, indent=2),
        encoding="utf-8",
    )
    (run / "model.zip").write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip archive
    return run


def main(argv: list[str] | None = None) -> None:
    """Write sample ``exports/`` and ``runs/`` folders under a directory."""
    ap = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    ap.add_argument("directory", type=Path)
    args = ap.parse_args(argv)
    write_sample_export(args.directory / "exports")
    write_sample_run(args.directory / "runs", "ppo_a", seed=0)
    write_sample_run(args.directory / "runs", "ppo_b", seed=1)
    print(
        f"wrote {args.directory / 'exports'} and {args.directory / 'runs'}; try:\n"
        f"  MM_GYM_EXPORTS={args.directory / 'exports'} MM_GYM_RUNS={args.directory / 'runs'} "
        "streamlit run dashboard.py"
    )


if __name__ == "__main__":
    main()
