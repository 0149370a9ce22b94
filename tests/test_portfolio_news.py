"""The revisions' clustered news intensity (``portfolio.revision_clustering``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import load_script

import mm_gym
from mm_gym.config import ConfigError
from mm_gym.envs.config import EnvConfig
from mm_gym.market import MarketSimulator
from mm_gym.market.revision import _log_norm, revision_params
from mm_gym.market.state import F_CLUST_0, I_REVISION
from mm_gym.multivenue import DEFAULT_VENUES
from mm_gym.portfolio import PortfolioConfig, PortfolioEnv
from mm_gym.portfolio.core import PortfolioCore
from mm_gym.portfolio.measure import lead_lag_r2, record_prices

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

LEAD_LAG_R2_MAX = 0.005  # as tests/test_portfolio_revisions.py


def _core(portfolio: PortfolioConfig, n: int, seed: int = 3) -> PortfolioCore:
    cfg = mm_gym.with_overrides(mm_gym.preset("default"), {"price_formation": "book"})
    core = PortfolioCore(cfg, EnvConfig(), DEFAULT_VENUES, portfolio, n)
    core.set_roots(seed, np.random.default_rng(0))
    core.start()
    return core


def _revisions(core: PortfolioCore, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Each step's revisions ``(steps, n, assets)`` and news state ``(steps, n, 2)``.

    Checks on the way that every asset and venue holds the same news state, and that the
    venues of an asset revise alike.
    """
    actions = np.full((core.n, core.action_width), 1.0)  # quotes parked far away
    ks, ys = [], []
    for _ in range(steps):
        core.act(actions)
        core.settle()
        y = core.assets[0].sims[0].state.fs[:, F_CLUST_0 : F_CLUST_0 + 2].copy()
        k = []
        for c in core.assets:
            k.append(c.sims[0].state.is_[:, I_REVISION].copy())
            for s in c.sims:
                np.testing.assert_array_equal(s.state.fs[:, F_CLUST_0 : F_CLUST_0 + 2], y)
                np.testing.assert_array_equal(s.state.is_[:, I_REVISION], k[-1])
        ks.append(np.stack(k, axis=1))
        ys.append(y)
    return np.stack(ks), np.stack(ys)


def _acf(x: np.ndarray, lag: int) -> float:
    """Autocorrelation at ``lag`` of ``x`` ``(steps, n)``, pooled over the markets."""
    x = x - x.mean(axis=0)
    return float((x[lag:] * x[:-lag]).sum() / (x * x).sum())


@pytest.mark.parametrize(("sigma", "prob"), [(0.5, 0.1), (1.0, 0.1), (2.0, 0.1), (1.5, 0.6)])
def test_the_news_intensity_keeps_the_mean_revision_probability(sigma: float, prob: float) -> None:
    # E[min(1, prob e^(Y + c))] = prob, Y ~ N(0, sigma^2): Monte Carlo, 4e6 draws
    c = _log_norm(sigma, 1.0 / prob)
    y = np.random.default_rng(0).normal(0.0, sigma, 4_000_000)
    mean = np.minimum(1.0, prob * np.exp(y + c)).mean()
    assert mean == pytest.approx(prob, rel=3e-3)


def test_clustered_news_is_common_and_clusters_and_keeps_the_revision_rate() -> None:
    core = _core(PortfolioConfig(correlation=0.6, revision_clustering=1.0), 32)
    k, y = _revisions(core, 1200)
    news = (k[:, :, 0] != 0).astype(float)
    assert (k[:, :, 1] != 0).astype(float).mean() == pytest.approx(news.mean(), abs=0.01)
    # the mean rate stays revision_prob (k = 0 on a few news steps: mean about 0.09)
    assert 0.075 < news.mean() < 0.105, news.mean()
    assert 0.04 < _acf(news, 10) and 0.02 < _acf(news, 50)  # the news arrive in bursts
    assert y.sum(axis=2).std() == pytest.approx(1.0, rel=0.25)  # the log intensity: std 1
    # its sign is independent of the past: no correlation with the last revisions' signs
    s = np.sign(k[:, :, 0]).astype(float)
    assert abs(_acf(s, 1)) < 0.03


def test_without_clustering_the_news_do_not_cluster() -> None:
    core = _core(PortfolioConfig(correlation=0.6, revision_clustering=0.0), 32)
    k, y = _revisions(core, 1200)
    news = (k[:, :, 0] != 0).astype(float)
    assert abs(_acf(news, 10)) < 0.015 and abs(_acf(news, 50)) < 0.015
    assert (y == 0.0).all()  # no draws, the state stays 0


def test_clustered_news_predicts_no_mids_next_change() -> None:
    # the intensity predicts |r|, never its sign: no lead-lag free lunch either
    portfolio = PortfolioConfig(correlation=0.6, revision_clustering=1.0)
    mids, funds = record_prices(_core(portfolio, 64, seed=5), 1000)
    for a in range(2):
        others = np.delete(mids, a, axis=2)
        assert lead_lag_r2(mids[:, :, a], others) < LEAD_LAG_R2_MAX
        assert lead_lag_r2(mids[:, :, a], funds[:, :, a : a + 1]) < LEAD_LAG_R2_MAX


def test_clustering_zero_plays_as_release_b6dc43c_did() -> None:
    # tests/data/make_portfolio_unclustered_b6dc43c.py recorded these before the clustering
    script = load_script("tests/data/make_portfolio_unclustered_b6dc43c.py", "make_unclustered")
    want = np.load(Path(__file__).parent / "data" / "portfolio_unclustered_b6dc43c.npz")
    got = script.rollouts()
    assert sorted(got) == sorted(want.files)
    for key in want.files:
        np.testing.assert_array_equal(got[key], want[key], key)


@pytest.mark.parametrize(
    ("portfolio", "match"),
    [
        ({"revision_clustering": -0.5}, r"portfolio\.revision_clustering=-0\.5 is out of range"),
        ({"revision_clustering": 3.5}, r"portfolio\.revision_clustering=3\.5 is out of range"),
        (
            {"revision_clustering": 1.0, "revision_prob": 1.0},
            r"portfolio\.revision_clustering=1\.0 needs portfolio\.revision_prob < 1",
        ),
    ],
)
def test_a_bad_clustering_is_named(portfolio: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        PortfolioEnv(portfolio=portfolio)


def test_the_market_layer_checks_the_clustering_too() -> None:
    with pytest.raises(ConfigError, match=r"revision_clustering=nan must be in \[0, 3\]"):
        revision_params((1.0,), 1.0, 0.1, clustering=float("nan"))
    with pytest.raises(ConfigError, match="two time scales"):
        revision_params((1.0,), 1.0, 0.1, clustering=1.0, clustering_steps=(0.5, 10.0))
    assert revision_params((1.0,), 0.0, 0.1, clustering=1.0)["clust_on"] is False  # no revisions
    sim = MarketSimulator(mm_gym.preset("default"), 2, asset=0, correlation=(1.0, 0.0))
    with pytest.raises(ConfigError, match="revision_prob < 1"):
        sim.set_revisions((1.0, 0.0), 1.0, 1.0, clustering=0.5, clustering_steps=(10.0, 100.0))


def test_a_simulator_pickled_before_the_news_columns_is_widened() -> None:
    sim = MarketSimulator(mm_gym.preset("default"), 2)
    sim.reset(np.arange(2, dtype=np.uint64))
    state = sim.__getstate__()
    state["state"] = state["state"]._replace(fs=sim.state.fs[:, :F_CLUST_0].copy())
    old = MarketSimulator.__new__(MarketSimulator)
    old.__setstate__(state)
    assert old.state.fs.shape == sim.state.fs.shape
    np.testing.assert_array_equal(old.state.fs, sim.state.fs)  # the news columns: 0
