"""Per-step recording of a batch of episodes (the compiled recorder) and sample-episode traces.

The compiled recorder (:func:`record_step`) copies mm1's series, :class:`Trace` follows the
sample episode step by step; :mod:`mm_gym.evaluation.episode_metrics` turns the series into
per-episode metrics.

Everything is read through the simulator's public read-only views
(:mod:`mm_gym.market.views`); nothing here indexes the simulator's state arrays.
"""

from __future__ import annotations

import math
from typing import Any

import numba as nb
import numpy as np
import pandas as pd

from mm_gym.market.views import KIND_BACKGROUND, KIND_NAMES

__all__ = ["SeriesBuffers", "Trace", "record_step"]

# Columns of the rows kept by Trace (the first is the step, counted from 1).
_MO_FIELDS = ("step", "size", "side", "kind", "pre_mid", "post_mid")
_FILL_FIELDS = ("step", "maker", "side", "tick", "size", "kind")
_TRACE_COLUMNS = [
    "step", "mid", "bid", "ask", "inventory", "cash", "realized", "unrealized", "fees",
    "total", "lots_traded", "regime", "sentiment", "fundamental", "event", "spread_capture",
]  # fmt: skip
_HEADLINE_COLUMNS = ["step", "flat_index", "bucket", "score", "headline"]


class SeriesBuffers:
    """mm1's ``(T, n)`` series of one batch, one row per step, and its impact sums.

    Attributes:
        mid: ``(T + 1, n)`` mid, currency (row 0: after the reset).
        inv, pnl, cash, fees, edge: ``(T, n)`` inventory (lots), mark-to-market PnL, cash,
            fees and the step's spread capture (currency).
        bid, ask: ``(T, n)`` posted ticks (NaN where the side was not quoted).
        impact: ``(5, n)`` count, sum size, sum size^2, sum impact, sum size x impact of the
            market orders of live episodes (:func:`mm_gym.metrics.market_impact_from_sums`).
    """

    def __init__(self, horizon: int, n: int) -> None:
        """Allocate the buffers of ``n`` episodes of ``horizon`` steps."""
        self.mid = np.empty((horizon + 1, n))
        self.inv = np.empty((horizon, n))
        self.pnl = np.empty((horizon, n))
        self.cash = np.empty((horizon, n))
        self.fees = np.empty((horizon, n))
        self.edge = np.empty((horizon, n))
        self.bid = np.empty((horizon, n))
        self.ask = np.empty((horizon, n))
        self.impact = np.zeros((5, n))

    def record(self, t: int, sim: Any, tick: float, value: float, alive: np.ndarray) -> None:
        """Copy mm1's state after step ``t`` of simulator ``sim`` (:func:`record_step`)."""
        a, o, mo = sim.accounts, sim.orders, sim.market_orders
        record_step(
            t, tick, value, KIND_BACKGROUND, mo.capacity, sim.book.mid,
            (a.cash, a.inventory, a.fees, a.step_edge, a.step_bought, a.step_sold),
            (o.size, o.tick), (mo.size, mo.side, mo.pre_mid, mo.post_mid, mo.kind), mo.count,
            alive,
            (self.mid, self.inv, self.pnl, self.cash, self.fees, self.edge, self.bid, self.ask),
            self.impact,
        )  # fmt: skip


@nb.njit(cache=True)
def record_step(
    t, tick, value, kind_bg, mo_cap, book_mid, acct, orders, mos, n_mos, alive, out, impact
):  # fmt: skip
    """Copy mm1's state after step ``t`` into row ``t`` of the series; add market orders.

    Per market: mid (currency), inventory, mark-to-market PnL ``cash + inventory x mid x
    value`` (as the environment's ``info["pnl"]``), cash, fees, the step's spread capture, the
    posted bid and ask ticks (NaN if that side was not quoted: a side was quoted if its order
    still rests or it traded this step) and, for live episodes, the impact sums of the step's
    market orders (noise, informed, shock; lots filled > 0; see
    :func:`mm_gym.metrics.market_impact_from_sums`).

    The view arrays come in tuples: ``acct`` (cash, inventory, fees, step_edge, step_bought,
    step_sold), ``orders`` (size, tick), ``mos`` (size, side, pre_mid, post_mid, kind) and
    ``out`` (mid, inv, pnl, cash, fees, edge, bid, ask of :class:`SeriesBuffers`).
    """
    a_cash, a_inv, a_fees, a_edge, a_bought, a_sold = acct
    o_size, o_tick = orders
    m_size, m_side, m_pre, m_post, m_kind = mos
    mid, inv, pnl, cash, fees, edge, bid, ask = out
    for m in range(book_mid.shape[0]):
        x = book_mid[m]
        q = a_inv[m, 0]
        mid[t + 1, m] = x * tick
        inv[t, m] = q
        pnl[t, m] = a_cash[m, 0] + q * x * value
        cash[t, m] = a_cash[m, 0]
        fees[t, m] = a_fees[m, 0]
        edge[t, m] = a_edge[m, 0]
        quoted_bid = o_size[m, 0, 0] > 0 or a_bought[m, 0] > 0
        quoted_ask = o_size[m, 0, 1] > 0 or a_sold[m, 0] > 0
        bid[t, m] = o_tick[m, 0, 0] if quoted_bid else np.nan
        ask[t, m] = o_tick[m, 0, 1] if quoted_ask else np.nan
        if not alive[m]:
            continue
        for j in range(min(n_mos[m], mo_cap)):
            size = m_size[m, j]
            if size <= 0 or int(m_kind[m, j]) == kind_bg:
                continue
            imp = m_side[m, j] * (m_post[m, j] - m_pre[m, j]) * tick
            impact[0, m] += 1.0
            impact[1, m] += size
            impact[2, m] += size * size
            impact[3, m] += imp
            impact[4, m] += size * imp


class Trace:
    """Per-step record of one market of the batch (the sample episode), both makers."""

    def __init__(self, j: int, tick: float, value: float) -> None:
        """Trace market ``j``; ``tick`` is the tick size, ``value`` tick size x lot size."""
        self.j, self.tick, self.value = j, tick, value
        self.rows: list[list[list[float | str]]] = [[], []]
        self.orders: list[tuple[float, ...]] = []
        self.fills: list[tuple[int, ...]] = []
        self.prev_regime = -1
        self.edge = [0.0, 0.0]  # cumulative spread capture of each maker, currency
        self.bank: Any = None  # the simulator's headline bank (process.news_model set)
        self.headlines: list[tuple[int, int]] = []  # (step, flat index) of each headline

    def _events(self, sc: Any) -> tuple[int, str]:
        j = self.j
        regime = int(sc.regime[j])
        events = []
        if sc.shock_step[j]:
            events.append("shock")
        if sc.news[j] > 0:
            events.append("news")
        if self.prev_regime >= 0 and regime != self.prev_regime:
            events.append("regime_switch")
        if sc.one_sided[j]:
            events.append("one_sided")
        self.prev_regime = regime
        return regime, ";".join(events)

    def record(self, t: int, sim: Any) -> None:
        """Append the state of market ``j`` of simulator ``sim`` after step ``t``."""
        j, tick, value = self.j, self.tick, self.value
        sc, acc, orders = sim.scalars, sim.accounts, sim.orders
        mid = float(sim.book.mid[j])
        regime, event = self._events(sc)
        for k in range(2):
            bought, sold = acc.step_bought[j, k], acc.step_sold[j, k]
            bid_q = orders.size[j, k, 0] > 0 or bought > 0
            ask_q = orders.size[j, k, 1] > 0 or sold > 0
            inv = float(acc.inventory[j, k])
            cash = float(acc.cash[j, k])
            self.edge[k] += float(acc.step_edge[j, k])
            self.rows[k].append(
                [
                    t + 1,
                    mid * tick,
                    float(orders.tick[j, k, 0]) * tick if bid_q else math.nan,
                    float(orders.tick[j, k, 1]) * tick if ask_q else math.nan,
                    inv,
                    cash,
                    float(acc.realized[j, k]),
                    inv * (mid - float(acc.avg_cost[j, k])) * value if inv != 0.0 else 0.0,
                    float(acc.fees[j, k]),
                    cash + inv * mid * value,
                    float(bought + sold),  # lots traded this step
                    regime,
                    float(sc.sentiment[j]),
                    float(sc.fundamental[j]) * tick,
                    event,
                    self.edge[k],
                ]
            )
        mo = sim.market_orders
        for i in range(min(int(mo.count[j]), mo.capacity)):
            row = (mo.size[j, i], mo.side[j, i], mo.kind[j, i], mo.pre_mid[j, i], mo.post_mid[j, i])
            self.orders.append((t + 1, *(float(x) for x in row)))
        self.bank = sim.headline_bank
        if self.bank is not None and sc.headline[j] >= 0:
            self.headlines.extend((t + 1, int(k)) for k in sc.headlines(j))
        fl = sim.fills
        for i in range(min(int(fl.count[j]), fl.capacity)):
            cols = (fl.step, fl.maker, fl.side, fl.tick, fl.size, fl.kind)
            self.fills.append(tuple(int(a[j, i]) for a in cols))

    def frames(self) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
        """``(traces, impacts)`` of :class:`~mm_gym.evaluation.rollout.Rollout`."""
        from mm_gym.config import REGIMES

        traces = {}
        for k, name in enumerate(("MM1", "MM2")):
            df = pd.DataFrame(self.rows[k], columns=_TRACE_COLUMNS)
            df["regime"] = [REGIMES[int(r)] for r in df["regime"]]
            traces[name] = df
        if self.bank is not None:
            rows = [(s, k, *self.bank.lookup(k)) for s, k in self.headlines]
            traces["headlines"] = pd.DataFrame(rows, columns=_HEADLINE_COLUMNS)
        o = np.asarray(self.orders, dtype=np.float64).reshape(-1, len(_MO_FIELDS))
        c = {f: o[:, i] for i, f in enumerate(_MO_FIELDS)}
        market = pd.DataFrame(
            {
                "step": c["step"].astype(np.int64),
                "kind": [KIND_NAMES[int(x)] for x in c["kind"]],
                "size": c["size"],
                "side": c["side"].astype(np.int64),
                "pre_mid": c["pre_mid"] * self.tick,
                "post_mid": c["post_mid"] * self.tick,
            }
        )
        # + 0.0 turns -0.0 (a sell that did not move the mid) into 0.0 in the files.
        market["impact"] = market["side"] * (market["post_mid"] - market["pre_mid"]) + 0.0
        market = market[market["size"] > 0].reset_index(drop=True)
        return traces, {"market": market, **self._maker_impacts(market)}

    def _maker_impacts(self, market: pd.DataFrame) -> dict[str, pd.DataFrame]:
        """Per maker, the market orders of the kind and side that filled it in their step."""
        f = np.asarray(self.fills, dtype=np.int64).reshape(-1, len(_FILL_FIELDS))
        col = {name: i for i, name in enumerate(_FILL_FIELDS)}
        impacts = {}
        for k, name in enumerate(("MM1", "MM2")):
            mine = f[f[:, col["maker"]] == k]
            # A fill of a resting bid (side 0) comes from a sell (-1), of an ask from a buy (+1).
            lots = pd.DataFrame(
                {
                    "step": mine[:, col["step"]] + 1,
                    "kind": [KIND_NAMES[int(x)] for x in mine[:, col["kind"]]],
                    "side": np.where(mine[:, col["side"]] == 0, -1, 1),
                    "maker_lots": mine[:, col["size"]],
                    "maker_price": mine[:, col["tick"]] * self.tick,
                }
            )
            lots = lots.groupby(["step", "kind", "side"], as_index=False).agg(
                maker_lots=("maker_lots", "sum"), maker_vwap=("maker_price", "mean")
            )
            impacts[name] = market.merge(lots, on=["step", "kind", "side"], how="inner")
        return impacts
