"""Record Portfolio-v0's rollouts at b6dc43c, before the revisions' news intensity clustered.

Run on a checkout of b6dc43c (``git worktree add /tmp/pb6 b6dc43c``), from this folder::

    PYTHONPATH=/tmp/pb6 python make_portfolio_unclustered_b6dc43c.py

It writes ``portfolio_unclustered_b6dc43c.npz``: the rollouts of
``make_portfolio_pegged_9c6e2de.py`` (two vector envs, 150 steps of seeded random actions, the
hedging overlay on) with the revisions unpegged. ``tests/test_portfolio_news.py`` plays them
again with ``portfolio.revision_clustering=0`` and compares bit for bit. (On a checkout with
the field, this script records clustering 0.)
"""

from __future__ import annotations

import importlib.util
from dataclasses import fields
from pathlib import Path

import numpy as np

from mm_gym.portfolio import PortfolioConfig

HERE = Path(__file__).parent
UNCLUSTERED = (
    {"revision_clustering": 0.0}
    if "revision_clustering" in {f.name for f in fields(PortfolioConfig)}
    else {}
)
PORTFOLIO = {"hedge": True, "var_limit": 10.0, "revision_pegging": False, **UNCLUSTERED}


def rollouts() -> dict[str, np.ndarray]:
    """Both envs' rollouts, keyed ``<env>.<name>``: the pegged script's, under PORTFOLIO."""
    spec = importlib.util.spec_from_file_location(
        "pegged", HERE / "make_portfolio_pegged_9c6e2de.py"
    )
    assert spec is not None and spec.loader is not None
    pegged = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pegged)
    return pegged.rollouts(PORTFOLIO)


def main() -> None:
    """Record and write the file."""
    np.savez_compressed(HERE / "portfolio_unclustered_b6dc43c.npz", **rollouts())


if __name__ == "__main__":
    main()
