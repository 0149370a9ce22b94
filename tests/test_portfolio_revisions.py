"""The common quote revisions that carry a portfolio's correlation under the "book" formation."""

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
from mm_gym.market import state as ms
from mm_gym.market.revision import revise_quotes
from mm_gym.market.state import F_FUND, F_MID, I_BASE, I_REVISION, O_SIZE, O_TICK
from mm_gym.multivenue import DEFAULT_VENUES
from mm_gym.portfolio import PortfolioConfig, PortfolioEnv
from mm_gym.portfolio.core import PortfolioCore
from mm_gym.portfolio.measure import lead_lag_r2, record_prices, window_correlation

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

LEAD_LAG_R2_MAX = 0.005  # the realism report's threshold for its own next-return predictor


def _core(portfolio: PortfolioConfig, n: int, seed: int = 3, **market) -> PortfolioCore:
    cfg = mm_gym.with_overrides(mm_gym.preset("default"), {"price_formation": "book", **market})
    core = PortfolioCore(cfg, EnvConfig(), DEFAULT_VENUES, portfolio, n)
    core.set_roots(seed, np.random.default_rng(0))
    core.start()
    return core


def _stepped(core: PortfolioCore, actions: np.ndarray, steps: int) -> Any:
    """Step ``core`` ``steps`` times with ``actions``, yielding after each step."""
    for _ in range(steps):
        core.act(actions)
        core.settle()
        yield


def test_the_revision_matrix_compensates_the_books_own_variance() -> None:
    p = PortfolioConfig(
        correlation=0.6, revision_ticks=0.7, revision_prob=0.3, book_variance_ticks2=0.2
    )
    share = 0.49 / (0.49 + 0.2 + 0.3 / 6)
    assert p.max_correlation == pytest.approx(share)
    np.testing.assert_allclose(p.revision_matrix(), [[1.0, 0.6 / share], [0.6 / share, 1.0]])
    assert np.allclose(p.revision_cholesky() @ p.revision_cholesky().T, p.revision_matrix())


@pytest.mark.parametrize(
    ("portfolio", "match"),
    [
        ({"correlation": 0.95}, r"portfolio\.correlation=0\.95 .*correlated up to 0\.\d+"),
        (
            {"n_assets": 3, "correlation": ((1.0, 0.7, -0.4), (0.7, 1.0, 0.2), (-0.4, 0.2, 1.0))},
            r"portfolio\.correlation=.*not positive semi-definite",
        ),
        ({"revision_ticks": -1.0}, r"portfolio\.revision_ticks=-1\.0 is out of range"),
    ],
)
def test_a_correlation_the_revisions_cannot_carry_is_named(portfolio: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        PortfolioEnv(portfolio=portfolio)


def test_unreachable_correlations_are_fine_where_no_revisions_are_used() -> None:
    PortfolioEnv(portfolio={"correlation": 0.95}, price_formation="legacy")
    PortfolioEnv(portfolio={"correlation": 0.95, "revision_ticks": 0.0})
    PortfolioEnv(portfolio={"n_assets": 1})


def test_a_revision_translates_the_whole_book_on_every_venue_alike() -> None:
    core = _core(PortfolioConfig(correlation=0.6), 8)
    actions = np.full((core.n, core.action_width), -0.6)  # quotes near the touch
    moved = 0
    for _ in _stepped(core, actions, 40):
        for c in core.assets:
            k = [s.state.is_[:, I_REVISION] for s in c.sims]
            for other in k[1:]:
                np.testing.assert_array_equal(other, k[0])  # every venue of an asset alike
            moved += int((k[0] != 0).sum())
    assert 0.03 * 640 < moved < 0.2 * 640  # 2 assets x 8 markets x 40 steps, about 10 % revised


def test_a_revision_moves_prices_and_keeps_every_queue() -> None:
    sim = MarketSimulator(mm_gym.preset("default"), 6, asset=0, correlation=(1.0, 0.0))
    sim.set_revisions((1.0, 0.0), 3.0, 1.0)  # large, every step: a move of a few ticks
    sim.reset(np.arange(6, dtype=np.uint64))
    q = sim.quotes_buffer()
    q[:, 0] = [1.5, 1.5, 2, 2]
    sim.step(q)
    st = sim.state
    before = [a.copy() for a in (st.is_, st.fs, st.orders, st.bid_vol, st.ask_vol)]
    for m in range(6):
        revise_quotes(st, sim.params, m, False)
    k = st.is_[:, I_REVISION]
    assert (k != 0).sum() >= 4
    np.testing.assert_array_equal(st.is_[:, I_BASE], before[0][:, I_BASE] + k)
    for col in (F_MID, F_FUND):
        np.testing.assert_allclose(st.fs[:, col], before[1][:, col] + k)
    resting = before[2][:, :, :, O_SIZE] > 0
    assert resting.any()
    moved = np.where(resting, before[2][..., O_TICK] + k[:, None, None], before[2][..., O_TICK])
    np.testing.assert_array_equal(st.orders[..., O_TICK], moved)
    np.testing.assert_array_equal(np.delete(st.orders, O_TICK, axis=3),
                                  np.delete(before[2], O_TICK, axis=3))  # fmt: skip
    np.testing.assert_array_equal(st.bid_vol, before[3])  # every level and queue, translated
    np.testing.assert_array_equal(st.ask_vol, before[4])
    with pytest.raises(ConfigError, match="revision row"):
        sim.set_revisions((1.0,), 1.0)  # a row of another length
    single = MarketSimulator(mm_gym.preset("default"), 1)
    with pytest.raises(ConfigError, match="revision row"):
        single.set_revisions((1.0,), 1.0)  # not a portfolio's asset


@pytest.mark.slow  # 7-9 s: make test-full
def test_without_revisions_the_book_formation_does_not_carry_the_correlation() -> None:
    # measured, not wanted: under "book" the fundamental barely moves the mid (README)
    mids, _ = record_prices(_core(PortfolioConfig(correlation=0.6, revision_ticks=0.0), 24), 1000)
    r, _ = window_correlation(mids, 0, 1, 50)
    assert abs(r) < 0.2


def test_no_other_asset_predicts_a_mids_next_change() -> None:
    # The revisions are contemporaneous: no lead-lag free lunch (the legacy formation's other
    # asset scores about 0.013, its fundamental 0.06; README). A mid's own past predicts its
    # next change a little (the consolidated mid's bounce); the other assets' past adds nothing
    # to it. (The hidden fundamental's past on top of the mid's own can add a little: the
    # informed traders' signal, the deliberate channel, which predicts without revisions too.)
    mids, funds = record_prices(_core(PortfolioConfig(correlation=0.6), 64, seed=5), 1000)
    for a in range(2):
        own = mids[:, :, a : a + 1]
        others = np.delete(mids, a, axis=2)
        assert lead_lag_r2(mids[:, :, a], others) < LEAD_LAG_R2_MAX
        assert lead_lag_r2(mids[:, :, a], funds[:, :, a : a + 1]) < LEAD_LAG_R2_MAX
        both = np.concatenate([own, others], axis=2)
        assert lead_lag_r2(mids[:, :, a], both) - lead_lag_r2(mids[:, :, a], own) < LEAD_LAG_R2_MAX


@pytest.mark.slow  # 7-9 s: make test-full
def test_the_revisions_at_most_double_the_mids_volatility() -> None:
    vols = []
    for ticks in (0.0, PortfolioConfig().revision_ticks):
        mids, _ = record_prices(_core(PortfolioConfig(revision_ticks=ticks), 24), 500)
        vols.append(float(np.sqrt(np.mean(np.diff(mids[:, :, 0], axis=1) ** 2))))
    assert vols[1] < 2.1 * vols[0], vols


N_CROSSING = 12


def _crossing_setup(pegged: bool) -> tuple[MarketSimulator, Any, list[np.ndarray]]:
    """Markets with both makers quoting at the touch, then parameters revising a few ticks.

    The step that places the quotes revises pegged (the quotes stay at the touch); the
    parameters returned revise every step by about 3 ticks, ``pegged`` or not.
    """
    sim = MarketSimulator(mm_gym.preset("default"), N_CROSSING, asset=0, correlation=(1.0, 0.0))
    sim.set_revisions((1.0, 0.0), 3.0, 1.0)
    sim.record = True
    sim.reset(np.arange(N_CROSSING, dtype=np.uint64))
    q = sim.quotes_buffer()
    q[:, 0] = [0.5, 0.5, 2, 3]  # mm1 at the touch; the built-in rival quotes mm2
    sim.step(q)
    st = sim.state
    params = sim.params._replace(revision_pegged=pegged)
    return sim, params, [a.copy() for a in (st.orders, st.acct, st.others, st.n_fills)]


def test_an_unpegged_revision_fills_the_quotes_it_crosses_at_their_own_price() -> None:
    sim, params, (orders0, acct0, others0, n_fills0) = _crossing_setup(pegged=False)
    st, value, rebate = sim.state, params.value_per_tick_lot, params.maker_rebate
    for m in range(N_CROSSING):
        revise_quotes(st, params, m, True)
    k = st.is_[:, I_REVISION]
    crossed = kept = 0
    for m in range(N_CROSSING):
        if k[m] == 0:
            np.testing.assert_array_equal(st.orders[m], orders0[m])
            continue
        base = st.is_[m, I_BASE]  # moved by k: the revised book
        reach_bid = base + st.is_[m, ms.I_BEST_BID]
        reach_ask = base + st.is_[m, ms.I_BEST_ASK]
        cash, inv, lots = np.zeros(2), np.zeros(2), np.zeros(2)
        ticks = []
        for maker in range(2):
            for side in range(2):
                tick, size = orders0[m, maker, side, O_TICK], orders0[m, maker, side, O_SIZE]
                if size == 0:
                    continue
                assert st.orders[m, maker, side, O_TICK] == tick  # unpegged: its price stays
                stale = side == (1 if k[m] > 0 else 0)
                through = tick <= reach_bid if side == 1 else tick >= reach_ask
                if stale and through:  # picked off, whole, at its own price
                    crossed += 1
                    assert st.orders[m, maker, side, O_SIZE] == 0
                    sign = 1 if side == 1 else -1  # a sold ask brings cash in
                    cash[maker] += sign * tick * size * value + rebate * size
                    inv[maker] -= sign * size
                    lots[maker] += size
                    ticks.append(tick)
                else:
                    kept += 1
                    assert st.orders[m, maker, side, O_SIZE] == size
                    assert st.orders[m, maker, side, ms.O_AHEAD] == 0  # first in its level
        gained = st.acct[m, :, ms.A_CASH] - acct0[m, :, ms.A_CASH]
        np.testing.assert_allclose(gained, cash, atol=1e-9)
        np.testing.assert_array_equal(st.acct[m, :, ms.A_INV] - acct0[m, :, ms.A_INV], inv)
        np.testing.assert_array_equal(
            st.acct[m, :, ms.A_STEP_PICKED] - acct0[m, :, ms.A_STEP_PICKED], lots
        )
        # conserved: the makers' cash and lots came from the takers and the exchange
        moved = st.others[m] - others0[m]
        assert moved[ms.X_CASH] + moved[ms.X_EXCHANGE] + cash.sum() == pytest.approx(0.0, abs=1e-9)
        assert moved[ms.X_INV] + inv.sum() == 0
        records = st.fills[m, n_fills0[m] : st.n_fills[m]]
        assert (records[:, ms.R_KIND] == ms.KIND_PICKOFF).all()
        np.testing.assert_array_equal(np.sort(records[:, ms.R_TICK]), np.sort(ticks))  # own prices
    assert crossed >= 3 and kept >= 3, (crossed, kept)  # both cases seen


def test_pegged_revisions_keep_the_makers_orders_whole() -> None:
    sim, params, (orders0, acct0, others0, _) = _crossing_setup(pegged=True)
    st = sim.state
    for m in range(N_CROSSING):
        revise_quotes(st, params, m, True)
    k = st.is_[:, I_REVISION]
    assert (k != 0).sum() >= 6
    np.testing.assert_array_equal(st.orders[..., O_SIZE], orders0[..., O_SIZE])  # no fill
    np.testing.assert_array_equal(st.acct, acct0)
    np.testing.assert_array_equal(st.others, others0)


def test_the_pegged_mode_plays_as_release_9c6e2de_did() -> None:
    # tests/data/make_portfolio_pegged_9c6e2de.py recorded these before the unpegged mode
    script = load_script("tests/data/make_portfolio_pegged_9c6e2de.py", "make_pegged")
    rollouts = script.rollouts

    want = np.load(Path(__file__).parent / "data" / "portfolio_pegged_9c6e2de.npz")
    got = rollouts()
    assert sorted(got) == sorted(want.files)
    for key in want.files:
        np.testing.assert_array_equal(got[key], want[key], key)


def test_unpegged_makers_are_picked_off_in_the_env() -> None:
    # the same episodes pegged and unpegged: the unpegged makers lose lots to revisions, and
    # their cash and inventory stay conserved with the other participants'
    picked = {}
    for pegged in (True, False):
        core = _core(PortfolioConfig(correlation=0.6, revision_pegging=pegged), 4)
        actions = np.full((core.n, core.action_width), -0.8)  # quotes at the touch
        total = 0.0
        for _ in _stepped(core, actions, 100):
            for c in core.assets:
                for sim in c.sims:
                    total += float(sim.accounts.step_picked.sum())
                    st = sim.state
                    np.testing.assert_allclose(
                        st.acct[:, :, ms.A_INV].sum(axis=1) + st.others[:, ms.X_INV], 0.0, atol=1e-9
                    )
        picked[pegged] = total
    assert picked[True] == 0.0 and picked[False] > 0.0, picked
