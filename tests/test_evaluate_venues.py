"""evaluate.py --env-id on MultiVenue-v0 and Portfolio-v0 (mm_gym.evaluation.venues)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import load_script

from mm_gym.evaluation.venues import (
    MAKER_COLUMNS,
    VENUE_COLUMNS,
    plan_venues,
    play_regimes,
    venue_tables,
)

cli = load_script("evaluate.py", "evaluate_venues_cli")
PROG = "evaluate.py"
PARTS = ["spread_capture", "rebates_fees", "taker_fees", "hedge_slippage", "inventory_pnl"]


def _args(env_id: str, contestants: str, *extra: str) -> list[str]:
    return [
        "--env-id", env_id, "--contestants", contestants, "--regimes", "default",
        "--episodes", "3", "--horizon", "60", "--batch-size", "2", "--runs", "none",
        "--no-progress", *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def portfolio_run():
    # A low VaR limit, so that the overlay's variant (+hedge) trades within 80 steps.
    plan = plan_venues(cli.parse_args(_args("mm_gym/Portfolio-v0", "everywhere_touch,routed_as")))
    plan.portfolio = {"var_limit": 3.0}
    plan.steps = 80
    episodes, router = play_regimes(plan)
    return plan, episodes, router, venue_tables(episodes, plan, n_boot=200)


def _check_attribution(tables: dict[str, pd.DataFrame]) -> None:
    venues, makers = tables["venues"], tables["makers"]
    # Per venue and per maker, the parts sum to the PnL.
    np.testing.assert_allclose(venues[PARTS].sum(axis=1), venues.pnl, atol=1e-9)
    np.testing.assert_allclose(makers[PARTS].sum(axis=1), makers.total_pnl, atol=1e-9)
    per_maker = venues.groupby("contestant", sort=False)
    np.testing.assert_allclose(per_maker.pnl.sum(), makers.set_index("contestant").total_pnl)
    np.testing.assert_allclose(per_maker.fill_share.sum(), 1.0, atol=1e-12)
    np.testing.assert_allclose(per_maker.fills.sum(), makers.set_index("contestant").fills)


def test_portfolio_attribution_sums_and_the_overlay_cost_is_split_over_venues(portfolio_run):
    plan, episodes, router, tables = portfolio_run
    _check_attribution(tables)
    makers = tables["makers"].set_index("contestant")
    assert list(makers.index) == plan.names == [
        "everywhere_touch", "routed_as", "everywhere_touch+hedge", "routed_as+hedge",
    ]  # fmt: skip
    assert makers.loc["everywhere_touch", "var_breaches"] > 0
    assert makers.loc["everywhere_touch", "hedges"] == 0  # the env's default: overlay off
    assert makers.loc["everywhere_touch+hedge", "hedges"] > 0
    assert (
        makers.loc["everywhere_touch+hedge", "var_breaches"]
        < makers.loc["everywhere_touch", "var_breaches"]
    )
    # The overlay's cost (the env's info) is the taker fees plus slippage on its venues.
    cost = -episodes.filter(regex="^(taker_fees|hedge_slippage)_").sum(axis=1)
    np.testing.assert_allclose(cost, episodes.hedge_cost, atol=1e-9)
    assert (episodes.filter(like="taker_fees_").to_numpy() <= 0).all()
    assert set(tables["venues"].asset) == {"asset0", "asset1"}
    # Without the overlay the same policies see the same episodes (paired): identical quotes.
    off = episodes[episodes.contestant == "routed_as"].filter(like="quote_share_")
    assert off.shape[1] == 6 and (off.to_numpy() <= 1.0).all()
    shares = router.groupby(["contestant", "step"]).quote_share
    assert (router[router.contestant == "everywhere_touch"].quote_share == 1.0).all()
    assert shares.size().eq(6).all()  # one row per (asset, venue) and step


def test_multivenue_tables_equal_the_tournament_on_the_same_seeds():
    from mm_gym.evaluation import evaluation_seeds
    from mm_gym.multivenue.tournament import attribution_table, play, summary_table

    plan = plan_venues(cli.parse_args(_args("mm_gym/MultiVenue-v0", "routed_as,everywhere_as")))
    episodes, router = play_regimes(plan)
    tables = venue_tables(episodes, plan, n_boot=200)
    _check_attribution(tables)
    direct = play(
        ["routed_as", "everywhere_as"], steps=60, batch=2, seed=0,
        seeds=evaluation_seeds(3, 0).tolist(), progress=False,
    )  # fmt: skip
    pd.testing.assert_frame_equal(episodes.drop(columns="regime"), direct[episodes.columns[1:]])
    att = attribution_table(direct)
    att = att[att.venue != "all"].reset_index(drop=True)
    ours = tables["venues"]
    for col in ("spread_capture", "rebates_fees", "inventory_pnl", "pnl", "fill_share"):
        np.testing.assert_array_equal(ours[col].to_numpy(), att[col].to_numpy(), err_msg=col)
    assert list(ours.venue) == list(att.venue) == ["A", "B", "C"] * 2
    summary = summary_table(direct, "everywhere_as", 200, 0)
    np.testing.assert_array_equal(
        tables["summary"].total_pnl_diff_low.to_numpy(), summary.total_pnl_diff_low.to_numpy()
    )
    # The router's venue choices over time average to its quote share per venue.
    routed = router[router.contestant == "routed_as"].groupby("venue", sort=False).quote_share
    np.testing.assert_allclose(routed.mean(), ours[ours.contestant == "routed_as"].quote_share)


def test_cli_env_id_writes_the_documented_exports(tmp_path):
    x = tmp_path / "mv"
    assert (
        cli.main(_args("mm_gym/MultiVenue-v0", "routed_as,everywhere_fixed", "--out", str(x))) == 0
    )
    for rel in ("episodes.csv", "summary.csv", "leaderboard.txt", "run.json", ".mm_gym-export",
                "plots/attribution_default.png", "plots/fill_share_default.png",
                "plots/router_default.png"):  # fmt: skip
        assert (x / rel).is_file(), rel
    assert list(pd.read_csv(x / "venues.csv").columns) == list(VENUE_COLUMNS)
    assert list(pd.read_csv(x / "makers.csv").columns) == list(MAKER_COLUMNS)
    router = pd.read_csv(x / "router.csv")
    assert list(router.columns) == ["regime", "contestant", "asset", "venue", "step", "quote_share"]
    assert len(router) == 2 * 3 * 60
    pypdf = pytest.importorskip("pypdf")
    report = " ".join(p.extract_text() for p in pypdf.PdfReader(x / "report.pdf").pages)
    assert "mm_gym/MultiVenue-v0: regime default" in " ".join(report.split())
    # The dashboard reads the export: parts per maker and venue, and the router's lines.
    pytest.importorskip("altair")
    from mm_gym_dashboard import charts
    from mm_gym_dashboard.exports import load_export
    from mm_gym_dashboard.tables import venue_views

    views = venue_views(load_export(x), "default")
    venues = pd.read_csv(x / "venues.csv")
    totals = views["parts"].groupby("contestant", sort=False).value.sum().to_numpy()
    np.testing.assert_allclose(totals, venues.pnl, atol=1e-9)
    assert set(views["parts"].part) == {"spread capture", "fees and rebates",
                                        "inventory mark-to-market"}  # fmt: skip
    assert len(views["router"]) == len(router) and set(views["router"].maker) == {
        "routed_as", "everywhere_fixed",
    }  # fmt: skip
    charts.attribution_chart(views["parts"], charts.VENUE_PART_COLORS).to_dict()
    charts.paths_chart(views["router"], "router", "share").to_dict()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            _args("mm_gym/MultiVenue-v0", "routed_as,glft"),
            "contestant 'glft' cannot play mm_gym/MultiVenue-v0: choose from routed_as,",
        ),
        (
            _args("mm_gym/MultiVenue-v0", "routed_as", "--rival", "glft"),
            "--rival is not available with --env-id mm_gym/MultiVenue-v0",
        ),
        (
            _args("mm_gym/MarketMaking-v1", "routed_as"),
            "--env-id='mm_gym/MarketMaking-v1' must be one of mm_gym/MultiVenue-v0, "
            "mm_gym/Portfolio-v0",
        ),
        (
            _args("mm_gym/MultiVenue-v0", "routed_as", "--regimes", "calm"),
            "--regimes: 'calm' is not a market preset of mm_gym/MultiVenue-v0: choose from default",
        ),
        (
            _args("mm_gym/Portfolio-v0", "routed_as", "--runs", "runs/x"),
            "--runs is not available with --env-id mm_gym/Portfolio-v0",
        ),
        (
            _args("mm_gym/MultiVenue-v0", "routed_as", "--scenarios"),
            "--scenarios is not available with --env-id",
        ),
        (
            _args("mm_gym/Portfolio-v0", "routed_as", "--cross-play", "everywhere_as"),
            "cross-play on mm_gym/Portfolio-v0 is not supported",
        ),
        (
            _args("mm_gym/MultiVenue-v0", "routed_as", "--env-kwargs", "portfolio.var_limit=3"),
            "--env-kwargs portfolio.var_limit: mm_gym/MultiVenue-v0 has no portfolio",
        ),
        (
            _args("mm_gym/Portfolio-v0", "routed_as", "--env-kwargs", "portfolio.hedge=true"),
            "--env-kwargs portfolio.hedge: evaluate.py plays every contestant with the hedging "
            "overlay off and on",
        ),
        (
            _args("mm_gym/Portfolio-v0", "routed_as", "--env-kwargs", "portfolio.var_limit=-1"),
            "--env-kwargs: portfolio.var_limit=-1 is out of range",
        ),
        (
            _args(
                "mm_gym/MultiVenue-v0", "routed_as", "--env-kwargs", "venues=[{latency_steps: -1}]"
            ),
            "--env-kwargs: venues[0]: venue.latency_steps=-1 is out of range",
        ),
        (
            _args("mm_gym/MultiVenue-v0", "routed_as", "--env-kwargs", "bogus=1"),
            "--env-kwargs: unknown key 'bogus'",
        ),
        (
            _args("mm_gym/MultiVenue-v0", "routed_as", "--horizon", "200000000"),
            "--horizon=200000000: horizon_steps=200000000 is out of range",
        ),
        (
            _args("mm_gym/MultiVenue-v0", "routed_as", "--env-kwargs", "action_form=routed"),
            "--env-kwargs action_form: each contestant plays its own action form",
        ),
    ],
)
def test_bad_combinations_are_one_line_errors(cli_error, argv, message):
    err = cli_error(cli.main, argv, prog=PROG)
    assert message in err, err


def test_env_kwargs_set_the_venues_the_portfolio_and_the_market():
    """--env-kwargs: two venues, three assets, a VaR limit and a market field, all played."""
    kwargs = ["venues=[{name: X}, {name: Y, latency_steps: 1}]", "portfolio.n_assets=3",
              "portfolio.var_limit=3", "inventory_penalty=0.01"]  # fmt: skip
    argv = _args("mm_gym/Portfolio-v0", "everywhere_touch", "--env-kwargs", *kwargs)
    plan = plan_venues(cli.parse_args(argv))
    assert plan.portfolio == {"n_assets": 3, "var_limit": 3}
    assert plan.overrides == {"inventory_penalty": 0.01}
    episodes, _ = play_regimes(plan)
    tables = venue_tables(episodes, plan, n_boot=100)
    venues = tables["venues"]
    assert sorted(set(zip(venues.asset, venues.venue, strict=True))) == [
        (f"asset{a}", v) for a in range(3) for v in "XY"
    ]
    makers = tables["makers"].set_index("contestant")
    assert makers.loc["everywhere_touch+hedge", "hedges"] > 0  # the low limit is reached
    # The market override reaches the env: the same episodes, only the reward's penalty differs.
    plan.overrides = {}
    again, _ = play_regimes(plan)
    np.testing.assert_array_equal(episodes.total_pnl, again.total_pnl)
    assert (episodes.episode_reward < again.episode_reward).all()
