"""The Avellaneda-Stoikov intensity market (mm_gym.market.intensity)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mm_gym.config import ConfigError, IntensityConfig, preset
from mm_gym.market.intensity import IntensityMarket, simulate

CONFIG = IntensityConfig()  # the as2008 parameters: s0=100, T=1, sigma=2, dt=0.005, k=1.5, A=140


def _constant(delta_bid: float, delta_ask: float):
    def strategy(s, q, t):
        return delta_bid, delta_ask

    return strategy


def _skewed(s, q, t):
    return 0.7 + 0.3 * q, 0.7 - 0.3 * q


def test_as2008_preset_is_the_paper_model():
    c = preset("as2008").intensity
    assert (c.s0, c.horizon, c.sigma, c.dt, c.k, c.A, c.q0) == (
        100.0,
        1.0,
        2.0,
        0.005,
        1.5,
        140.0,
        0,
    )
    assert IntensityMarket(c, 3).n_steps == 200


def test_reset_sets_initial_state():
    m = IntensityMarket(IntensityConfig(q0=3, s0=50.0), n_paths=5)
    m.reset(seed=1)
    m.step(0.5, 0.5)
    m.reset(seed=1)
    assert m.step_index == 0 and m.t == 0.0 and not m.done
    np.testing.assert_array_equal(m.s, 50.0)
    np.testing.assert_array_equal(m.q, 3)
    np.testing.assert_array_equal(m.cash, 0.0)
    np.testing.assert_array_equal(m.fills, 0)
    np.testing.assert_array_equal(m.wealth, 150.0)


def test_mid_moves_plus_or_minus_sigma_sqrt_dt():
    m = IntensityMarket(CONFIG, n_paths=500)
    m.reset(seed=3)
    step = CONFIG.sigma * math.sqrt(CONFIG.dt)
    prev = m.s.copy()
    moves = []
    while not m.done:
        m.step(1.0, 1.0)
        moves.append(m.s - prev)
        prev = m.s.copy()
    moves = np.array(moves)
    np.testing.assert_allclose(np.abs(moves), step, rtol=1e-9)
    # Up and down equally likely: 100,000 signs, the up fraction within 4 standard errors of 1/2.
    assert abs(np.mean(moves > 0) - 0.5) < 4 * 0.5 / math.sqrt(moves.size)


def test_same_seed_same_episode_and_different_seed_differs():
    a = simulate(_skewed, CONFIG, 50, seed=7)
    b = simulate(_skewed, CONFIG, 50, seed=7)
    c = simulate(_skewed, CONFIG, 50, seed=8)
    np.testing.assert_array_equal(a.profit, b.profit)
    np.testing.assert_array_equal(a.final_q, b.final_q)
    assert not np.array_equal(a.final_s, c.final_s)


def test_generator_seed_is_reproducible():
    a = simulate(_skewed, CONFIG, 20, seed=np.random.default_rng(5))
    b = simulate(_skewed, CONFIG, 20, seed=np.random.default_rng(5))
    np.testing.assert_array_equal(a.profit, b.profit)


def test_mid_path_does_not_depend_on_the_quotes():
    """Common random numbers: the mid path is the same whatever the strategy quotes."""
    wide = simulate(_constant(5.0, 5.0), CONFIG, 100, seed=11, record=True)
    skewed = simulate(_skewed, CONFIG, 100, seed=11, record=True)
    poisson = simulate(_skewed, CONFIG, 100, seed=11, record=True, fill_model="poisson")
    assert wide.s_path is not None and skewed.s_path is not None and poisson.s_path is not None
    np.testing.assert_array_equal(wide.s_path, skewed.s_path)
    np.testing.assert_array_equal(wide.s_path, poisson.s_path)
    assert not np.array_equal(wide.final_q, skewed.final_q)


def test_fill_frequency_matches_intensity():
    """A quote at distance delta is filled with probability A exp(-k delta) dt per step."""
    n = 2000
    m = IntensityMarket(CONFIG, n_paths=n)
    m.reset(seed=2)
    delta_bid, delta_ask = 0.5, 1.5
    for _ in range(50):
        m.step(delta_bid, delta_ask)
    trials = 50 * n
    for fills, delta in ((m.bid_fills, delta_bid), (m.ask_fills, delta_ask)):
        p = CONFIG.A * math.exp(-CONFIG.k * delta) * CONFIG.dt
        se = math.sqrt(p * (1 - p) / trials)
        assert abs(fills.sum() / trials - p) < 4 * se


def test_poisson_fill_model_uses_one_minus_exp():
    m = IntensityMarket(CONFIG, n_paths=3, fill_model="poisson")
    lam_dt = CONFIG.A * math.exp(-CONFIG.k * 0.4) * CONFIG.dt
    np.testing.assert_allclose(m.fill_probability(np.array([0.4])), 1 - math.exp(-lam_dt))
    linear = IntensityMarket(CONFIG, n_paths=3)
    np.testing.assert_allclose(linear.fill_probability(np.array([0.4])), lam_dt)


def test_quote_through_the_mid_fills_with_probability_one():
    m = IntensityMarket(CONFIG, n_paths=100)
    m.reset(seed=0)
    assert m.fill_probability(np.array([-1.0]))[0] == 1.0
    assert m.fill_probability(np.array([-1e6]))[0] == 1.0  # no overflow
    step = m.step(-0.3, np.inf)
    assert step.bid_filled.all() and not step.ask_filled.any()
    np.testing.assert_allclose(step.bid_price, 100.3)
    np.testing.assert_allclose(m.cash, -100.3)


def test_infinite_distance_means_no_quote():
    run = simulate(_constant(np.inf, np.inf), CONFIG, 30, seed=0)
    np.testing.assert_array_equal(run.bid_fills + run.ask_fills, 0)
    np.testing.assert_array_equal(run.profit, 0.0)
    assert np.isnan(run.mean_spread).all()


def test_accounting_cash_inventory_and_wealth():
    m = IntensityMarket(CONFIG, n_paths=200)
    m.reset(seed=4)
    cash = np.zeros(200)
    q = np.zeros(200, dtype=np.int64)
    rng = np.random.default_rng(0)
    while not m.done:
        db, da = rng.uniform(-0.2, 2.0, 200), rng.uniform(-0.2, 2.0, 200)
        s_before = m.s.copy()
        step = m.step(db, da)
        np.testing.assert_allclose(step.bid_price, s_before - db)
        np.testing.assert_allclose(step.ask_price, s_before + da)
        cash += step.ask_filled * step.ask_price - step.bid_filled * step.bid_price
        q += step.bid_filled.astype(np.int64) - step.ask_filled
    np.testing.assert_allclose(m.cash, cash, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(m.q, q)
    np.testing.assert_array_equal(m.q, m.bid_fills - m.ask_fills)
    np.testing.assert_allclose(m.wealth, m.cash + m.q * m.s)


def test_symmetric_quote_profit_matches_exact_moments():
    """A constant symmetric quote has closed-form profit moments in this model.

    With p = A exp(-k delta) dt per side and N steps: each fill earns delta against the mid and
    the mid moves are independent of the fills, so
    E[profit] = 2 N p delta,  Var[profit] = 2 N p (1-p) delta^2 + sigma^2 dt 2 p (1-p) N (N+1)/2,
    Var[q_T] = 2 N p (1-p). 20,000 paths; tolerance 4 standard errors.
    """
    n_paths, delta = 20_000, 0.74
    run = simulate(_constant(delta, delta), CONFIG, n_paths, seed=21)
    N = CONFIG.n_steps
    p = CONFIG.A * math.exp(-CONFIG.k * delta) * CONFIG.dt
    v = 2 * p * (1 - p)
    mean = 2 * N * p * delta
    var = N * v * delta**2 + CONFIG.sigma**2 * CONFIG.dt * v * N * (N + 1) / 2
    sd = math.sqrt(var)
    assert abs(run.profit.mean() - mean) < 4 * sd / math.sqrt(n_paths)
    # The sample std's standard error is sd * sqrt((kurtosis - 1) / (4 n)); this profit's kurtosis
    # is about 5.4 (measured on 100,000 paths), bounded here by 7.
    assert abs(run.profit.std(ddof=1) - sd) < 4 * sd * math.sqrt((7 - 1) / (4 * n_paths))
    assert abs(run.final_q.std(ddof=1) - math.sqrt(N * v)) < 4 * math.sqrt(N * v / (2 * n_paths))
    np.testing.assert_allclose(run.mean_spread, 2 * delta)


def test_inventory_limit_blocks_the_side_that_adds_exposure():
    m = IntensityMarket(CONFIG, n_paths=50, inventory_limit=2)
    m.reset(seed=0)
    for _ in range(20):
        m.step(-5.0, np.inf)  # a bid through the mid fills every step unless blocked
    np.testing.assert_array_equal(m.q, 2)
    for _ in range(20):
        m.step(np.inf, -5.0)
    np.testing.assert_array_equal(m.q, -2)


def test_step_accepts_arrays_and_rejects_bad_distances():
    m = IntensityMarket(CONFIG, n_paths=4)
    with pytest.raises(RuntimeError, match="before reset"):
        m.step(1.0, 1.0)
    m.reset(seed=0)
    m.step(np.array([0.1, 0.2, 0.3, 0.4]), 1.0)
    with pytest.raises(ValueError, match="delta_bid"):
        m.step(np.array([0.1, np.nan, 0.3, 0.4]), 1.0)
    with pytest.raises(ValueError, match="delta_ask"):
        m.step(1.0, -np.inf)
    with pytest.raises(ValueError, match="shape"):
        m.step(np.ones(3), 1.0)
    while not m.done:
        m.step(1.0, 1.0)
    with pytest.raises(RuntimeError, match="horizon"):
        m.step(1.0, 1.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_paths": 0}, "n_paths"),
        ({"n_paths": 2.5}, "n_paths"),
        ({"n_paths": 2, "fill_model": "exact"}, "fill_model"),
        ({"n_paths": 2, "inventory_limit": 0}, "inventory_limit"),
    ],
)
def test_constructor_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        IntensityMarket(CONFIG, **kwargs)


def test_reset_rejects_a_negative_seed():
    with pytest.raises(ConfigError, match="seed"):
        IntensityMarket(CONFIG, 2).reset(seed=-1)


def test_record_returns_paths_of_the_right_shape():
    run = simulate(_skewed, CONFIG, 7, seed=0, record=True)
    assert run.s_path is not None and run.q_path is not None
    assert run.s_path.shape == run.q_path.shape == (CONFIG.n_steps + 1, 7)
    np.testing.assert_array_equal(run.s_path[-1], run.final_s)
    np.testing.assert_array_equal(run.q_path[-1], run.final_q)
    np.testing.assert_array_equal(run.s_path[0], CONFIG.s0)
