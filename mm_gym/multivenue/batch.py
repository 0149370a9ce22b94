"""One batch of multi-venue (or portfolio) episodes and mm1's PnL attribution per venue.

:func:`run_batch` plays one episode per seed of ``mm_gym/MultiVenue-v0`` or, given a
``portfolio``, of ``mm_gym/Portfolio-v0``, in one native vector env, and measures per episode
and per **slot** (a venue; in a portfolio an ``(asset, venue)`` pair, assets first) what
:mod:`mm_gym.multivenue.tournament` reports:

- ``spread_capture``: the sum over mm1's maker fills of ``lots * |price - mid at the fill|``,
- ``rebates_fees``: maker rebates received minus maker fees paid,
- ``taker_fees`` (portfolio only): minus the taker fees of the hedging overlay's orders sent
  there,
- ``hedge_slippage`` (portfolio only): minus the distance of those orders' fills from the
  asset's consolidated mid (``taker_fees + hedge_slippage`` is minus the overlay's cost,
  ``info["hedge_cost"]``),
- ``inventory_pnl``: the slot's PnL minus the parts above (the mark-to-market of the position),

all in currency per episode; they sum to the slot's PnL (its cash plus its inventory at the
asset's consolidated mid) and, over the slots, to the total PnL. mm1 posts only post-only
quotes, so on ``MultiVenue-v0`` it never pays a taker fee and the two hedge parts are left out.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from mm_gym.multivenue.routing import DEFAULT_ACTION_FORM, quoted_venues

__all__ = [
    "HEDGE_PARTS",
    "PARTS",
    "RISK_COLUMNS",
    "episode_rows",
    "run_batch",
    "slot_names",
    "venue_local_pnl",
]

PARTS = ("spread_capture", "rebates_fees", "inventory_pnl")
"""The PnL attribution of a venue on ``MultiVenue-v0``, in order (they sum to its PnL)."""
HEDGE_PARTS = ("taker_fees", "hedge_slippage")
"""The further parts of a slot's PnL on ``Portfolio-v0``: the hedging overlay's cost there."""
RISK_COLUMNS = ("var_breaches", "hedges", "hedge_cost", "mean_var", "hist_var", "hist_es")
"""Per-episode risk of a portfolio (``Portfolio-v0``'s info at the last step, ``mean_var`` the
mean of ``info["var"]`` over the steps), currency except the two counts of steps."""


def _venue_wealth(core: Any) -> np.ndarray:
    """``(n, V)`` mm1's PnL on each venue, currency: the venues' columns sum to the env's ``pnl``.

    Its cash there plus its inventory there at the consolidated mid (the env's mark).
    """
    mid = core.consolidated_mid()
    cols = [
        s.accounts.cash[:, 0] + s.accounts.inventory[:, 0] * mid * core.value for s in core.sims
    ]
    return np.stack(cols, axis=1)


def venue_local_pnl(core: Any) -> np.ndarray:
    """``(n, V)`` mm1's PnL on each venue marked at that venue's own mid, currency.

    What a router valuing a venue from its own fills and its own mid estimates.
    """
    cols = [
        s.accounts.cash[:, 0] + s.accounts.inventory[:, 0] * s.book.mid * core.value
        for s in core.sims
    ]
    return np.stack(cols, axis=1)


def _slots(cores: Sequence[Any], read: Any) -> np.ndarray:
    """``(n, A * V)``: ``read(core)`` ``(n, V)`` of every asset's core, side by side."""
    return np.concatenate([read(c) for c in cores], axis=1)


def _venue_fees(core: Any) -> np.ndarray:
    """``(n, V)`` mm1's rebates received minus fees paid in the episode, currency."""
    return np.stack([s.accounts.fees[:, 0] for s in core.sims], axis=1)


def _path_hash(regime: np.ndarray, sentiment: np.ndarray) -> np.ndarray:
    """A crc32 per episode (axis 1) of its regime and sentiment paths (the exogenous path)."""
    return np.array(
        [
            zlib.crc32(
                np.ascontiguousarray(sentiment[:, i]).tobytes(),
                zlib.crc32(np.ascontiguousarray(regime[:, i]).tobytes()),
            )
            for i in range(regime.shape[1])
        ],
        np.int64,
    )


def slot_names(venues: Sequence[str], n_assets: int | None = None) -> list[str]:
    """The slots' names: the venues', or ``asset<a>.<venue>`` for a portfolio of ``n_assets``."""
    if n_assets is None:
        return list(venues)
    return [f"asset{a}.{v}" for a in range(n_assets) for v in venues]


def _make_env(n: int, preset: str, venues: Any, kwargs: dict[str, Any], portfolio: Any) -> Any:
    from mm_gym.multivenue import MultiVenueVectorEnv

    if portfolio is None:
        return MultiVenueVectorEnv(n, preset, venues=venues, **kwargs)
    from mm_gym.portfolio import PortfolioVectorEnv

    return PortfolioVectorEnv(n, preset, venues=venues, portfolio=portfolio, **kwargs)


def _hedge_parts(core: Any, out: dict[str, np.ndarray]) -> None:
    """Add the overlay's last step (taker fees, slippage; negative) to its slots in ``out``."""
    nv = core.n_venues
    for k, asset in enumerate(core.assets):
        lots = np.abs(core.hedge_lots[:, k])
        for v, sim in enumerate(asset.sims):
            sent = core.hedge_venue[:, k] == v
            if not sent.any():
                continue
            fee = np.where(sent, lots * sim.params.taker_fee, 0.0)
            out["taker_fees"][:, k * nv + v] -= fee
            out["hedge_slippage"][:, k * nv + v] -= np.where(
                sent, core.hedge_cost_asset[:, k] - fee, 0.0
            )


class _Episodes:
    """The per-step sums of :func:`run_batch` over ``n`` episodes of ``steps`` steps."""

    def __init__(self, core: Any, n: int, steps: int, senti: list[int]) -> None:
        self.core, self.n, self.senti = core, n, senti
        self.cores = getattr(core, "assets", [core])
        self.wealth0 = _slots(self.cores, _venue_wealth)
        self.fees0 = _slots(self.cores, _venue_fees)
        width = self.wealth0.shape[1]
        self.acc = {k: np.zeros((n, width)) for k in ("spread_capture", "fills", "quoted_steps")}
        self.hedge = {k: np.zeros((n, width)) for k in HEDGE_PARTS}
        self.quoted_path = np.zeros((steps, width))
        self.reward, self.abs_inv, self.arb, self.var_sum = (np.zeros(n) for _ in range(4))
        self.regime = np.zeros((steps, n, len(self.cores)), np.int64)
        self.sentiment = np.zeros((steps, n, len(self.cores)), np.float32)
        self.step_pnl = np.zeros((n, steps))

    def quotes(self, t: int, actions: np.ndarray) -> None:
        """Count the slots quoted (not parked at the widest offset, not sized 0) at step ``t``."""
        core = self.core
        form = getattr(core, "action_form", DEFAULT_ACTION_FORM)
        mapping = core.env_config.action_mapping
        quoted = quoted_venues(actions, form, getattr(core, "budget_lots", 0), mapping)
        self.acc["quoted_steps"] += quoted
        self.quoted_path[t] = quoted.sum(axis=0)

    def step(self, t: int, obs: np.ndarray, reward: np.ndarray, info: dict[str, Any]) -> None:
        """Add step ``t``'s outcome (after ``env.step``)."""
        cores = self.cores
        self.reward += reward
        self.step_pnl[:, t] = info["reward_components"]["pnl"]
        self.acc["spread_capture"] += _slots(
            cores, lambda c: np.stack([s.accounts.step_edge[:, 0] for s in c.sims], axis=1)
        )
        self.acc["fills"] += _slots(cores, lambda c: c.step_fills())
        self.abs_inv += np.abs(info["inventory"]).reshape(self.n, -1).sum(axis=1)
        self.arb += sum(c.arbitrage_lots for c in cores)
        self.regime[t] = np.stack([c.sims[0].scalars.regime for c in cores], axis=1)
        self.sentiment[t] = obs[:, self.senti]
        if "var" in info:  # a portfolio
            _hedge_parts(self.core, self.hedge)
            self.var_sum += info["var"]

    def result(self, info: dict[str, Any]) -> dict[str, np.ndarray]:
        """The episodes' results (:func:`run_batch`), ``info`` the last step's."""
        from mm_gym.metrics import sharpe

        steps = self.step_pnl.shape[1]
        venue_pnl = _slots(self.cores, _venue_wealth) - self.wealth0
        fees = _slots(self.cores, _venue_fees) - self.fees0 - self.hedge["taker_fees"]  # makers'
        # The residual: the parts sum to the slot's PnL up to rounding.
        inventory_pnl = venue_pnl - self.acc["spread_capture"] - fees - sum(self.hedge.values())
        out = {
            "episode_reward": self.reward,
            "total_pnl": venue_pnl.sum(axis=1),
            "sharpe": sharpe(self.step_pnl),
            "mean_abs_inventory": self.abs_inv / steps,
            "arbitrage_lots": self.arb,
            "path_hash": _path_hash(self.regime, self.sentiment),
            "spread_capture": self.acc["spread_capture"],
            "rebates_fees": fees,
            "inventory_pnl": inventory_pnl,
            "venue_pnl": venue_pnl,
            "fills": self.acc["fills"],
            "quoted_steps": self.acc["quoted_steps"],
            "quoted_path": self.quoted_path,
        }
        if "var" in info:
            out |= self.hedge
            out |= {"var_breaches": info["var_breaches"], "hedges": info["hedges"]}
            out |= {"hedge_cost": info["hedge_cost_total"], "mean_var": self.var_sum / steps}
            out |= {"hist_var": info["hist_var"], "hist_es": info["hist_es"]}
        return out


def run_batch(
    policy: Any,
    seeds: Sequence[int],
    steps: int,
    rng: np.random.Generator,
    preset: str = "default",
    venues: Any = None,
    overrides: Mapping[str, Any] | None = None,
    portfolio: Any = None,
) -> dict[str, np.ndarray]:
    """Play one episode per seed with ``policy`` in one vector env; per-episode results.

    ``overrides``: further keyword overrides of the env (market fields, reward options), as
    ``gym.make_vec`` takes them; ``steps`` sets ``horizon_steps``. ``portfolio``: None plays
    ``MultiVenue-v0``; a :class:`~mm_gym.portfolio.PortfolioConfig` (or a mapping of its fields)
    plays ``Portfolio-v0``, whose action ``policy`` must give. A policy whose ``action_form``
    is ``"routed"`` (a routed run, :func:`agents.load_policy`) plays ``MultiVenue-v0`` with
    ``action_form="routed"``, which maps its actions to per-venue quotes
    (:func:`~mm_gym.multivenue.routing.routed_quotes`); any other plays the per-venue form.

    Returns:
        Arrays with a leading episode axis: ``episode_reward``, ``total_pnl``, ``sharpe``,
        ``mean_abs_inventory`` (summed over the assets), ``arbitrage_lots``, ``path_hash``,
        ``(n, S)`` per slot (module docstring) ``spread_capture``, ``rebates_fees``,
        ``inventory_pnl``, ``venue_pnl``, ``fills``, ``quoted_steps`` (steps mm1 quoted there,
        not parked at action +1), and ``quoted_path`` ``(steps, S)``, the episodes quoting
        each slot at each step; a portfolio adds ``taker_fees``, ``hedge_slippage`` ``(n, S)``
        and :data:`RISK_COLUMNS` ``(n,)``.
    """
    from mm_gym.multivenue import DEFAULT_VENUES

    n = len(seeds)
    kwargs = {**(overrides or {}), "horizon_steps": steps}
    kwargs["action_form"] = getattr(policy, "action_form", DEFAULT_ACTION_FORM)
    env = _make_env(n, preset, DEFAULT_VENUES if venues is None else venues, kwargs, portfolio)
    senti = [i for i, f in enumerate(env.feature_names) if f.rsplit(".", 1)[-1] == "sentiment"]
    obs, _ = env.reset(seed=[int(s) for s in seeds])
    policy.reset(rng, env.policy_context())
    # The venues' accounts, read-only (this package's own env).
    record = _Episodes(env._core, n, steps, senti)
    done = np.zeros(n, bool)
    for t in range(steps):
        actions = np.asarray(policy.act(obs), np.float32)
        record.quotes(t, actions)
        obs, r, term, trunc, info = env.step(actions)
        record.step(t, obs, r, info)
        done = term | trunc
    if not done.all():
        raise RuntimeError(f"episodes did not end after {steps} steps (horizon_steps)")
    out = record.result(info)
    env.close()
    return out


def episode_rows(
    name: str,
    seeds: Sequence[int] | np.ndarray,
    res: dict[str, np.ndarray],
    slots: Sequence[str],
    steps: int,
) -> pd.DataFrame:
    """One row per episode of :func:`run_batch`'s ``res``: scalars, then ``<part>_<slot>``."""
    scalars = ("episode_reward", "total_pnl", "sharpe", "mean_abs_inventory", "arbitrage_lots")
    risk = [k for k in RISK_COLUMNS if k in res]
    df = pd.DataFrame(
        {
            "contestant": name,
            "seed": np.asarray(seeds, np.int64),
            **{k: res[k] for k in (*scalars, *risk, "path_hash")},
        }
    )
    parts = [*PARTS, *(p for p in HEDGE_PARTS if p in res)]
    columns = {}
    for k in (*parts, "venue_pnl", "fills"):
        for v, slot in enumerate(slots):
            columns[f"{k}_{slot}"] = res[k][:, v]
    for v, slot in enumerate(slots):
        columns[f"quote_share_{slot}"] = res["quoted_steps"][:, v] / steps
    return pd.concat([df, pd.DataFrame(columns)], axis=1)
