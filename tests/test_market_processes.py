"""Statistical tests of the processes (fixed seeds, stated tolerances)."""

from __future__ import annotations

import numpy as np

from mm_gym.config import MarketConfig, with_overrides
from mm_gym.market.state import KIND_NOISE, KIND_SHOCK, M_KIND, M_SIDE

# The hidden fundamental is an OU / drift / random-walk process only in the "legacy" price
# formation (the 0.1 market). In the "book" model (the default since 0.2.0) it is the informed
# traders' target, the mid plus a decaying gap (processes.step_exogenous), and the regimes act on
# the mid through order flow: their tests are in test_market_formation.py and the realism report.
LEGACY = MarketConfig(price_formation="legacy")


def _run(make_sim, cfg, n=32, steps=2000, **kw):
    sim = make_sim(n, config=cfg, **kw)
    q = sim.quotes_buffer()
    q[:, 0] = [2.0, 2.0, 1, 1]
    fund = np.empty((steps + 1, n))
    sent = np.empty((steps + 1, n))
    reg = np.empty((steps + 1, n), np.int64)
    fund[0], sent[0], reg[0] = sim.fundamental, sim.latent_sentiment, sim.regime
    for t in range(steps):
        sim.step(q)
        fund[t + 1], sent[t + 1], reg[t + 1] = sim.fundamental, sim.latent_sentiment, sim.regime
    return sim, fund, sent, reg


def test_ou_mean_reversion_ar_coefficient(make_sim):
    cfg = with_overrides(LEGACY, {"regime": "mean_reverting", "process.ou_kappa": 0.02})
    _, f, _, _ = _run(make_sim, cfg, steps=3000)
    x = f[:-1].ravel() - 10_000
    y = f[1:].ravel() - 10_000
    ar = (x @ y) / (x @ x)
    assert abs(ar - 0.98) < 0.005  # AR(1) coefficient 1 - kappa


def test_trending_drift_follows_sentiment(make_sim):
    cfg = with_overrides(LEGACY, {"regime": "trending", "process.trend_drift_ticks": 0.2})
    _, f, s, _ = _run(make_sim, cfg)
    df = np.diff(f, axis=0).ravel()
    ss = s[1:].ravel()
    slope = (ss @ df) / (ss @ ss)
    assert abs(slope - 0.2) < 0.05  # E[dF | s] = drift * s
    assert np.mean(np.sign(df[np.abs(ss) > 0.3]) == np.sign(ss[np.abs(ss) > 0.3])) > 0.5


def test_volatile_regime_volatility_ratio(make_sim):
    base = LEGACY
    _, f_mr, _, _ = _run(
        make_sim, with_overrides(base, {"regime": "mean_reverting", "process.ou_kappa": 0.0})
    )
    _, f_v, _, _ = _run(make_sim, with_overrides(base, {"regime": "volatile"}))
    ratio = np.diff(f_v, axis=0).std() / np.diff(f_mr, axis=0).std()
    assert abs(ratio - base.process.volatile_sigma_mult) < 0.1


def test_switching_chain_occupancy_is_uniform(make_sim):
    cfg = with_overrides(MarketConfig(), {"regime": "switching", "process.switch_prob": 0.02})
    _, _, _, reg = _run(make_sim, cfg, n=32, steps=4000)
    occ = np.bincount(reg.ravel(), minlength=3) / reg.size
    np.testing.assert_allclose(occ, 1 / 3, atol=0.03)
    switches = (np.diff(reg, axis=0) != 0).mean()
    assert abs(switches - 0.02) < 0.003


def test_hawkes_mean_rate(make_sim):
    cfg = with_overrides(
        MarketConfig(),
        {
            "flow.hawkes": True,
            "flow.hawkes_alpha": 0.4,
            "flow.hawkes_beta": 0.8,
            "flow.noise_rate": 0.3,
        },
    )
    sim = make_sim(32, config=cfg, record=True)
    q = sim.quotes_buffer()
    count = 0
    steps = 3000
    for _ in range(steps):
        sim.step(q)
        for m in range(32):
            k = sim.state.n_mos[m]
            count += int((sim.state.mos[m, :k, M_KIND] == KIND_NOISE).sum())
    rate = count / (steps * 32)
    expected = 0.3 / (1 - 0.4 / 0.8)
    assert abs(rate - expected) / expected < 0.05


def _shock_sides(make_sim, p_adv, steps=3000):
    cfg = with_overrides(
        MarketConfig(),
        {"flow.shock_rate": 0.05, "flow.shock_duration_steps": 1, "flow.p_adversarial": p_adv},
    )
    sim = make_sim(16, config=cfg, record=True)
    q = sim.quotes_buffer()
    q[:, 0] = [0.0, 50.0, 1, 0]  # mm1 only bids: it is long (or flat)
    against = total = 0
    for _ in range(steps):
        inv_before = sim.inventory[:, 0].copy()
        sim.step(q)
        for m in range(16):
            k = sim.state.n_mos[m]
            rec = sim.state.mos[m, :k]
            shocks = rec[rec[:, M_KIND] == KIND_SHOCK]
            if len(shocks) and inv_before[m] > 0:
                total += 1
                against += int(shocks[0, M_SIDE] < 0)
    return against / total, total


def test_shock_side_goes_against_mm1_inventory(make_sim):
    frac, n = _shock_sides(make_sim, 1.0)
    assert n > 100 and frac == 1.0
    frac, n = _shock_sides(make_sim, 0.0)
    assert n > 100 and abs(frac - 0.5) < 0.1


def test_depth_never_empties_at_default_settings(make_sim):
    sim = make_sim(1)
    q = sim.quotes_buffer()
    q[:, 0] = [1.0, 1.0, 1, 1]
    one_sided = 0
    bg_empty = 0
    for _ in range(100_000):
        sim.step(q)
        one_sided += int(sim.state.is_[0, 6])
        bg_empty += int(sim.state.is_[0, 8] < 0 or sim.state.is_[0, 9] >= sim.config.n_levels)
    assert one_sided == 0 and bg_empty == 0
