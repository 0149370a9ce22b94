"""Record Portfolio-v0's rollouts at 9c6e2de, when a revision always pegged the makers' orders.

Run on a checkout of 9c6e2de (``git worktree add /tmp/p9c 9c6e2de``), from this folder::

    PYTHONPATH=/tmp/p9c python make_portfolio_pegged_9c6e2de.py

It writes ``portfolio_pegged_9c6e2de.npz``: a 2-env Portfolio-v0 vector env (one maker, the
revisions on, the hedging overlay on at a low VaR limit so that it trades) and a 2-market
two-maker vector env, each stepped 150 steps with seeded random actions: the observations,
rewards and PnL. ``tests/test_portfolio_revisions.py`` plays them again with
``portfolio.revision_pegging=True`` and compares bit for bit. (On a checkout with the field,
this script records the pegged mode.)
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from mm_gym.portfolio import PortfolioConfig, PortfolioTwoMakerVectorEnv, PortfolioVectorEnv

HERE = Path(__file__).parent
STEPS = 150
PEGGED = (
    {"revision_pegging": True}
    if "revision_pegging" in {f.name for f in fields(PortfolioConfig)}
    else {}
)
# the news intensity's clustering came later (make_portfolio_unclustered_b6dc43c.py): off here
UNCLUSTERED = (
    {"revision_clustering": 0.0}
    if "revision_clustering" in {f.name for f in fields(PortfolioConfig)}
    else {}
)
PORTFOLIO = {"hedge": True, "var_limit": 10.0, **PEGGED, **UNCLUSTERED}


def rollouts(portfolio: dict[str, Any] | None = None) -> dict[str, np.ndarray]:
    """Both envs' rollouts, keyed ``<env>.<name>``, under ``portfolio`` (None: PORTFOLIO)."""
    portfolio = PORTFOLIO if portfolio is None else portfolio
    out: dict[str, list[np.ndarray]] = {}
    envs = (
        ("one", PortfolioVectorEnv(2, portfolio=portfolio)),
        ("two", PortfolioTwoMakerVectorEnv(2, portfolio=portfolio)),
    )
    for name, env in envs:
        rng = np.random.default_rng(5)
        obs, _ = env.reset(seed=21)
        rows: dict[str, list[np.ndarray]] = {"obs": [obs], "reward": [], "pnl": []}
        for _ in range(STEPS):
            action = rng.uniform(-1, 1, env.action_space.shape).astype(np.float32)
            obs, reward, _, _, info = env.step(action)
            rows["obs"].append(obs)
            rows["reward"].append(np.asarray(reward))
            rows["pnl"].append(np.asarray(info["pnl"]))
        env.close()
        out |= {f"{name}.{k}": np.stack(v) for k, v in rows.items()}
    return out


def main() -> None:
    """Record and write the file."""
    np.savez_compressed(HERE / "portfolio_pegged_9c6e2de.npz", **rollouts())


if __name__ == "__main__":
    main()
