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


def _metrics(rng: np.random.Generator, steps: int, edge: float, episodes: int) -> pd.DataFrame:
    frames = []
    for ep in range(episodes):
        mid = 100.0 + np.cumsum(rng.normal(0.0, 0.01, steps + 1))
        inventory = np.clip(np.cumsum(rng.integers(-1, 2, steps + 1)), -20, 20)
        inventory[0] = 0
        realized = np.cumsum(rng.normal(edge, 0.5, steps + 1))
        unrealized = inventory * rng.normal(0.0, 0.5, steps + 1)
        event = np.full(steps + 1, "", dtype=object)
        event[rng.choice(np.arange(1, steps + 1), 3, replace=False)] = "shock"
        frames.append(
            pd.DataFrame(
                {
                    "episode": ep,
                    "step": np.arange(steps + 1),
                    "mid": mid,
                    "bid": mid - 0.02,
                    "ask": mid + 0.02,
                    "inventory": inventory,
                    "cash": -inventory * mid * 100.0 + realized,
                    "realized": realized,
                    "unrealized": unrealized,
                    "total": realized + unrealized,
                    "regime": "mean_reverting",
                    "sentiment": np.tanh(np.cumsum(rng.normal(0, 0.05, steps + 1))),
                    "event": event,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _impact(rng: np.random.Generator, n: int) -> pd.DataFrame:
    size = np.ceil(rng.pareto(2.0, n) + 1).astype(int)
    side = rng.choice([1, -1], n)
    pre = 100.0 + rng.normal(0, 0.05, n)
    impact = side * 0.005 * np.sqrt(size) + rng.normal(0, 0.003, n)
    return pd.DataFrame(
        {"size": size, "side": side, "pre_mid": pre, "post_mid": pre + impact, "impact": impact}
    )


def write_sample_export(
    root: Path,
    name: str = "20250101-120000",
    *,
    episodes: int = 12,
    steps: int = 200,
    seed: int = 0,
    latest: bool = True,
) -> Path:
    """Write a synthetic export folder ``root/name`` (and ``root/latest`` naming it).

    Returns:
        The export folder.
    """
    rng = np.random.default_rng(seed)
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for k, contestant in enumerate(SAMPLE_CONTESTANTS):
        edge = 0.05 * (k + 1)
        for regime in _REGIMES:
            for ep in range(episodes):
                spread = rng.normal(40 + 15 * k, 6)
                inv = rng.normal(-5 + 2 * k, 12)
                fees = rng.normal(8, 1)
                rows.append(
                    {
                        "contestant": contestant,
                        "regime": regime,
                        "episode": ep,
                        "seed": 1000 + ep,
                        "total_pnl": spread + inv + fees,
                        "spread_capture": spread,
                        "inventory_pnl": inv,
                        "fees": fees,
                        "sharpe": rng.normal(0.5 + 0.3 * k, 0.2),
                        "max_drawdown": abs(rng.normal(20, 5)),
                    }
                )
        sub = folder / contestant
        sub.mkdir(exist_ok=True)
        _metrics(rng, steps, edge, 2).to_csv(sub / "MM1_metrics.csv", index=False)
        _metrics(rng, steps, 0.05, 2).to_csv(sub / "MM2_metrics.csv", index=False)
        _impact(rng, 150).to_csv(sub / "MM1_market_impact.csv", index=False)
        _impact(rng, 150).to_csv(sub / "MM2_market_impact.csv", index=False)
    episodes_df = pd.DataFrame(rows)
    episodes_df.to_csv(folder / "episodes.csv", index=False)
    summary = episodes_df.groupby(["contestant", "regime"], sort=False).agg(
        total_pnl=("total_pnl", "mean"), sharpe=("sharpe", "mean"), n_episodes=("episode", "size")
    )
    sem = episodes_df.groupby(["contestant", "regime"], sort=False)["total_pnl"].sem()
    summary["total_pnl_ci_low"] = summary["total_pnl"] - 1.96 * sem
    summary["total_pnl_ci_high"] = summary["total_pnl"] + 1.96 * sem
    summary.reset_index().to_csv(folder / "summary.csv", index=False)
    if latest:
        (root / "latest").write_text(name + "\n", encoding="utf-8")
    return folder


def write_sample_run(
    root: Path, name: str = "ppo_sample", *, points: int = 50, seed: int = 0
) -> Path:
    """Write a synthetic run ``root/name`` with TensorBoard scalars, a config and a model file.

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
    ap = argparse.ArgumentParser(description=__doc__)
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
