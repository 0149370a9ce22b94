"""Write the Portfolio-v0 pickle fixture of release 4f57f95 (before the two-maker forms).

Run on a checkout of 4f57f95 (``git worktree add /tmp/p4f 4f57f95``), from this folder::

    PYTHONPATH=/tmp/p4f python make_portfolio_4f57f95.py

It writes ``portfolio_4f57f95.pkl.gz``: a Portfolio-v0 env and a 2-env vector env, reset,
stepped and pickled mid-episode with the hedging overlay trading (gzip: 19 KB, not 257), and
``portfolio_4f57f95.npz``: the actions of their next steps and what that release returned.
``tests/test_portfolio_env.py`` unpickles them on the current code and compares.
"""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np

from mm_gym.portfolio import PortfolioEnv, PortfolioVectorEnv

HERE = Path(__file__).parent
HEDGING = {"hedge": True, "var_limit": 3.0}
INFO_KEYS = ("var", "var_pre_hedge", "var_breaches", "hedge_lots", "hedges", "pnl", "hist_var")


def main() -> None:
    """Step both envs, pickle them, step on and record."""
    env = PortfolioEnv(portfolio=HEDGING, horizon_steps=100)
    venv = PortfolioVectorEnv(2, portfolio=HEDGING, horizon_steps=60)
    env.reset(seed=11)
    venv.reset(seed=11)
    rng = np.random.default_rng(11)
    for _ in range(30):
        env.step(rng.uniform(-1, 1, env.action_space.shape))
        venv.step(rng.uniform(-1, 1, venv.action_space.shape))
    with gzip.open(HERE / "portfolio_4f57f95.pkl.gz", "wb") as f:
        pickle.dump((env, venv), f, protocol=5)
    out: dict[str, list[np.ndarray]] = {}
    for _ in range(40):  # the vector env through its autoreset at step 60
        a, b = rng.uniform(-1, 1, env.action_space.shape), rng.uniform(-1, 1, (2, 12))
        for name, (act, step) in {"env": (a, env.step(a)), "venv": (b, venv.step(b))}.items():
            obs, reward, terminated, _, info = step
            rows = {"action": act, "obs": obs, "reward": reward, "terminated": terminated}
            rows.update({k: info[k] for k in INFO_KEYS})
            for k, v in rows.items():
                out.setdefault(f"{name}.{k}", []).append(np.asarray(v))
    np.savez_compressed(HERE / "portfolio_4f57f95.npz", **{k: np.stack(v) for k, v in out.items()})


if __name__ == "__main__":
    main()
