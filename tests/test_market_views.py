"""The simulator's public views: read-only, live, and equal to the state they name."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from mm_gym.market import book, kernels
from mm_gym.market.state import A_AVG, A_CASH, A_INV, F_FUND, F_MID, I_REGIME, I_SHOCKS, I_T
from mm_gym.market.views import FILL_DTYPE, KIND_NAMES, MARKET_ORDER_DTYPE
from mm_gym.observations import FEATURE_NAMES_ALL, N_RETURNS, NO_QUOTE_OFFSET


def _run(sim, steps: int = 30):
    q = sim.quotes_buffer()
    q[:, 0] = [1.0, 1.0, 2, 2]
    q[:, 1] = [2.0, 2.0, 1, 1]
    for _ in range(steps):
        sim.step(q)
    return q


def _live_arrays(sim):
    views = (sim.book, sim.orders, sim.accounts, sim.fills, sim.market_orders, sim.scalars)
    for v in views:
        for name in type(v).__slots__:
            a = getattr(v, name, None)
            if isinstance(a, np.ndarray):
                yield f"{type(v).__name__}.{name}", a
    yield "features", sim.features


def test_views_are_read_only_and_live(make_sim):
    sim = make_sim(4, record=True)
    before = sim.scalars.t.copy()
    _run(sim, 5)
    np.testing.assert_array_equal(sim.scalars.t, before + 5)  # same object, new values
    for name, a in _live_arrays(sim):
        assert not a.flags.writeable, name
        with pytest.raises(ValueError, match="read-only"):
            a[...] = 0
    assert sim.state.fs.flags.writeable  # the kernels' arrays stay writable


def test_views_name_the_state_columns(make_sim):
    sim = make_sim(4, record=True)
    _run(sim)
    st = sim.state
    np.testing.assert_array_equal(sim.book.mid, st.fs[:, F_MID])
    np.testing.assert_array_equal(sim.scalars.fundamental, st.fs[:, F_FUND])
    np.testing.assert_array_equal(sim.scalars.t, st.is_[:, I_T])
    np.testing.assert_array_equal(sim.scalars.regime, st.is_[:, I_REGIME])
    np.testing.assert_array_equal(sim.scalars.shocks, st.is_[:, I_SHOCKS])
    np.testing.assert_array_equal(sim.accounts.cash, st.acct[:, :, A_CASH])
    np.testing.assert_array_equal(sim.accounts.inventory, st.acct[:, :, A_INV])
    np.testing.assert_array_equal(sim.accounts.avg_cost, st.acct[:, :, A_AVG])
    np.testing.assert_allclose(
        sim.accounts.total_pnl, sim.accounts.realized + sim.accounts.unrealized + sim.fees
    )
    np.testing.assert_array_equal(sim.orders.tick, st.orders[..., 0])
    np.testing.assert_array_equal(sim.orders.size, st.orders[..., 1])


def test_best_prices_match_the_book(make_sim):
    sim = make_sim(8)
    _run(sim)
    for m in range(8):
        b = book.best_tick(sim.state, m, 0, -1)
        a = book.best_tick(sim.state, m, 1, -1)
        assert sim.book.best_bid[m] == b and sim.book.best_ask[m] == a
        if not sim.scalars.one_sided[m]:
            assert sim.book.mid[m] == 0.5 * (a + b)
    assert (sim.book.spread > 0).all()


def test_background_best_indices_are_the_outermost_non_empty_levels(make_sim):
    sim = make_sim(8)
    _run(sim)
    v = sim.book
    for m in range(8):
        bids = np.flatnonzero(v.background_bid_lots[m])
        asks = np.flatnonzero(v.background_ask_lots[m])
        assert v.background_best_bid_index[m] == (bids[-1] if bids.size else -1)
        assert v.background_best_ask_index[m] == (asks[0] if asks.size else v.n_levels)
        # the background best lies at or behind the best price with the makers' orders
        assert v.base_tick[m] + v.background_best_bid_index[m] <= v.best_bid[m]
        assert v.base_tick[m] + v.background_best_ask_index[m] >= v.best_ask[m]


def test_depth_counts_background_and_optionally_the_makers(make_sim):
    sim = make_sim(2, builtin_rival=False)
    _run(sim)
    for m in range(2):
        bg = sim.book.depth(m, 12)
        allk = sim.book.depth(m, 12, makers=True)
        assert all(np.array_equal(x, y) for x, y in zip(bg, sim.book_levels(m, 12), strict=True))
        resting = sim.orders.size[m].sum()
        added = (allk.bid_lots - bg.bid_lots).sum() + (allk.ask_lots - bg.ask_lots).sum()
        assert 0 < added <= resting  # quotes 1-2 ticks from the mid lie within 12 ticks


def test_fill_and_market_order_records_match_the_accounts(make_sim):
    sim = make_sim(16, builtin_rival=False, record=True)
    q = sim.quotes_buffer()
    q[:, :] = [0.5, 0.5, 3, 3]
    n_rec = 0
    for _ in range(60):
        sim.step(q)
        fills = sim.fills.records()
        assert fills.dtype == FILL_DTYPE
        assert (sim.fills.count <= sim.fills.capacity).all()  # else some were not recorded
        bought = np.zeros((16, 2))
        np.add.at(
            bought,
            (fills["market"], fills["maker"]),
            np.where(fills["side"] == 0, 1, 0) * fills["size_lots"],
        )
        np.testing.assert_array_equal(bought, sim.accounts.step_bought)
        assert (fills["step"] == sim.scalars.t[fills["market"]] - 1).all()
        mos = sim.market_orders.records()
        assert mos.dtype == MARKET_ORDER_DTYPE
        assert len(mos) == np.minimum(sim.market_orders.count, sim.market_orders.capacity).sum()
        n_rec += len(fills)
    assert n_rec > 100
    frame = sim.market_orders.to_frame()
    assert set(frame["kind"]) <= set(KIND_NAMES)


def test_record_is_a_constructor_keyword_and_a_property(make_sim):
    sim = make_sim(8)
    assert sim.record is False
    _run(sim)
    assert (sim.fills.count == 0).all() and (sim.market_orders.count == 0).all()
    sim.record = True
    _run(sim, 5)
    assert sim.market_orders.count.sum() > 0
    sim.record = 0  # type: ignore[assignment]
    assert sim.record is False


def test_pickled_views_share_the_unpickled_state(make_sim):
    sim = make_sim(4, record=True)
    _run(sim)
    held = sim.accounts
    sim2, acc2 = pickle.loads(pickle.dumps((sim, held)))
    np.testing.assert_array_equal(acc2.cash, held.cash)
    _run(sim2, 3)
    np.testing.assert_array_equal(acc2.cash, sim2.accounts.cash)  # still the live state
    np.testing.assert_array_equal(sim2.accounts.cash, sim2.state.acct[:, :, A_CASH])


def test_unpickled_simulator_views_and_step_result_are_live(make_sim):
    sim = make_sim(4, record=True)
    _run(sim)
    sim2 = pickle.loads(pickle.dumps(sim))
    before = sim2.features.copy()
    _run(sim2, 3)
    assert np.shares_memory(sim2.features, sim2.state.features)
    assert not np.array_equal(sim2.features, before)
    result = sim2.step(sim2.quotes_buffer())
    np.testing.assert_array_equal(result.features, sim2.state.features)
    np.testing.assert_array_equal(result.mid, sim2.mid)


def test_feature_columns_follow_the_observation_table(make_sim):
    cols = {name: i for i, name in enumerate(FEATURE_NAMES_ALL)}
    assert kernels.FEAT_SPREAD == cols["spread_ticks"]
    assert kernels.FEAT_RIVAL_ASK == cols["rival_ask_offset"]
    assert kernels.FEAT_RET_1 + N_RETURNS - 1 == cols[f"ret_{N_RETURNS}"]
    sim = make_sim(8, builtin_rival=False)
    _run(sim)
    f = sim.features
    own = sim.orders
    spread = np.clip(sim.book.spread, 0, NO_QUOTE_OFFSET)
    for k in range(2):
        np.testing.assert_allclose(f[:, k, cols["spread_ticks"]], spread, rtol=1e-6)
        bid = np.where(own.size[:, k, 0] > 0, sim.mid - own.tick[:, k, 0], NO_QUOTE_OFFSET)
        np.testing.assert_allclose(f[:, k, cols["own_bid_offset"]], bid, rtol=1e-6)
        np.testing.assert_allclose(f[:, 1 - k, cols["rival_bid_offset"]], bid, rtol=1e-6)
    onehot = f[:, 0, cols["regime_mean_reverting"] :]
    np.testing.assert_array_equal(onehot.argmax(axis=1), sim.scalars.regime)
