"""The dashboard's pages driven by Streamlit's AppTest on small fixture folders.

The app reads ``MM_GYM_EXPORTS`` / ``MM_GYM_RUNS`` (set per test to folders in ``tmp_path``)
and the ``page`` query parameter. Skipped, with the reason, when Streamlit is not installed
(it comes with the ``dashboard`` extra).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("streamlit", reason="streamlit is not installed: pip install -e '.[dashboard]'")

import pyarrow as pa
from streamlit.testing.v1 import AppTest

from mm_gym_dashboard.live import LiveMarket, LiveSettings
from mm_gym_dashboard.samples import SAMPLE_CONTESTANTS, write_sample_export, write_sample_run

APP = str(Path(__file__).resolve().parents[1] / "dashboard.py")
TIMEOUT_S = 60  # generous: the first run imports the market and loads its compiled kernels

MakeApp = Callable[..., AppTest]


@pytest.fixture(scope="module", autouse=True)
def compiled_market() -> None:
    """Compile (or load from cache) the market kernels outside AppTest's timeout."""
    LiveMarket(LiveSettings()).step(1)


@pytest.fixture
def make_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MakeApp:
    """``make_app(page, exports=None, runs=None, query=None)``: a run AppTest of one page."""

    def _make(
        page: str,
        exports: Path | None = None,
        runs: Path | None = None,
        query: dict[str, str] | None = None,
    ) -> AppTest:
        monkeypatch.setenv("MM_GYM_EXPORTS", str(exports or tmp_path / "no_exports"))
        monkeypatch.setenv("MM_GYM_RUNS", str(runs or tmp_path / "no_runs"))
        at = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
        at.query_params["page"] = page
        for key, value in (query or {}).items():
            at.query_params[key] = value
        return at.run()

    return _make


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def chart_elements(at: AppTest) -> list:
    """The Altair charts on the page (the element's name changed in Streamlit 1.5x)."""
    return [*at.get("vega_lite_chart"), *at.get("arrow_vega_lite_chart")]


def charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in chart_elements(at)]


def chart_data(element) -> pd.DataFrame:
    """The first dataset of a chart element (Streamlit ships it as Arrow IPC)."""
    return pa.ipc.open_stream(element.proto.datasets[0].data.data).read_all().to_pandas()


def chart_title(spec: dict) -> str:
    """The title of a chart spec, or of its first titled layer / sub-chart."""
    title = spec.get("title")
    if title:
        return title["text"] if isinstance(title, dict) else str(title)
    for key in ("layer", "vconcat", "hconcat"):
        for sub in spec.get(key, []):
            if found := chart_title(sub):
                return found
    return ""


def assert_no_exception(at: AppTest) -> None:
    assert not at.exception, texts(at.exception)


def metric(at: AppTest, label: str) -> str:
    for m in at.metric:
        if m.label.startswith(label):
            return str(m.value)
    raise KeyError(f"no metric {label!r}: {[m.label for m in at.metric]}")


@pytest.fixture
def sample_export(tmp_path: Path) -> Path:
    root = tmp_path / "exports"
    write_sample_export(root, episodes=4, steps=50)
    return root


@pytest.fixture
def sample_runs(tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    write_sample_run(root, "ppo_a", points=12, seed=0)
    write_sample_run(root, "ppo_b", points=8, seed=1)
    return root


# --------------------------------------------------------------------------- navigation


def test_unknown_page_falls_back_to_the_live_market(make_app: MakeApp) -> None:
    at = make_app("nope")
    assert_no_exception(at)
    assert at.title[0].value == "Live market"
    assert at.sidebar.radio[0].value == "live"


def test_sidebar_switches_pages_and_the_query_parameter(
    make_app: MakeApp, sample_export: Path
) -> None:
    at = make_app("live", exports=sample_export)
    at.sidebar.radio(key="nav_page").set_value("results").run()
    assert_no_exception(at)
    assert at.title[0].value == "Results"
    assert at.query_params["page"] in ("results", ["results"])


# --------------------------------------------------------------------------- results


def test_results_page_shows_every_view_of_the_sample_export(
    make_app: MakeApp, sample_export: Path
) -> None:
    at = make_app("results", exports=sample_export)
    assert_no_exception(at)
    assert not at.error and not at.warning, texts(at.error) + texts(at.warning)
    assert "20250101-120000" in texts(at.caption)
    board = at.dataframe[0].value
    assert set(board["contestant"]) == set(SAMPLE_CONTESTANTS)
    assert list(board["rank"][:3]) == [1, 2, 3]
    titles = [chart_title(c) for c in charts(at)]
    for wanted in (
        "Mean total_pnl with confidence interval",
        "PnL attribution: mean per episode (parts sum to the total)",
        "PnL attribution of the sample episode (cumulative; parts sum to the total)",
        "Equity curves: mean over episodes and 25-75 % band per contestant (mean_reverting)",
        "Inventory: mean over episodes and 25-75 % band per contestant (mean_reverting)",
        "Market impact per market order",
        "Distribution of episode PnL (currency) per contestant, by regime",
    ):
        assert wanted in titles, titles
    specs = {chart_title(c): c for c in charts(at)}
    equity = specs[
        "Equity curves: mean over episodes and 25-75 % band per contestant (mean_reverting)"
    ]
    y_titles = {layer["encoding"]["y"].get("title") for layer in equity["layer"]}
    assert "mark-to-market PnL (currency)" in y_titles
    assert "**Equity curve**" in texts(at.caption) and "**PnL attribution**" in texts(at.caption)
    # Contestants counted once, not once per regime folder.
    assert f"{len(SAMPLE_CONTESTANTS)} contestants x " in texts(at.caption)
    assert "total_pnl_mean" in texts(at.code)  # leaderboard.txt on the Files tab


def test_results_page_shows_one_regime_of_bands_at_a_time(
    make_app: MakeApp, sample_export: Path
) -> None:
    at = make_app("results", exports=sample_export)
    at.radio(key="results_eq_regime").set_value("trending").run()
    assert_no_exception(at)
    element = next(
        e for e in chart_elements(at) if "Equity curves" in chart_title(json.loads(e.proto.spec))
    )
    assert "(trending)" in chart_title(json.loads(element.proto.spec))
    band = chart_data(element)
    assert set(band["contestant"]) == set(SAMPLE_CONTESTANTS)
    assert {"mean", "p25", "p75"} <= set(band.columns)


def test_results_page_says_when_an_older_export_has_no_bands(
    make_app: MakeApp, tmp_path: Path
) -> None:
    root = tmp_path / "old_exports"
    write_sample_export(root, episodes=3, steps=40, with_bands=False)
    at = make_app("results", exports=root)
    assert_no_exception(at)
    assert "This export has no bands.csv" in texts(at.info)
    titles = [chart_title(c) for c in charts(at)]
    assert "mark-to-market PnL (currency) of the sample episode (MM1)" in titles, titles


def test_results_page_filters_one_regime(make_app: MakeApp, sample_export: Path) -> None:
    at = make_app("results", exports=sample_export)
    at.sidebar.selectbox(key="results_group").set_value("trending").run()
    assert_no_exception(at)
    board = at.dataframe[0].value
    assert set(board["group"]) == {"trending"} and len(board) == len(SAMPLE_CONTESTANTS)


def test_results_page_ranks_by_another_metric(make_app: MakeApp, sample_export: Path) -> None:
    at = make_app("results", exports=sample_export)
    at.selectbox(key="results_metric").set_value("max_drawdown").run()
    assert_no_exception(at)
    assert "episodes.csv" in texts(at.caption)  # no CI columns in the summary: bootstrapped
    assert at.dataframe[0].value["ci_low"].notna().all()


def test_results_page_opens_the_export_named_in_the_query(
    make_app: MakeApp, sample_export: Path
) -> None:
    write_sample_export(sample_export, "20200101-000000", episodes=2, steps=10, latest=False)
    at = make_app("results", exports=sample_export, query={"export": "20200101-000000"})
    assert_no_exception(at)
    assert "20200101-000000" in texts(at.caption)


def test_results_page_without_exports_says_how_to_make_them(
    make_app: MakeApp, tmp_path: Path
) -> None:
    for root in (tmp_path / "missing", tmp_path / "empty"):
        if root.name == "empty":
            root.mkdir()
        at = make_app("results", exports=root)
        assert_no_exception(at)
        assert "No evaluation exports" in texts(at.info)
        assert "evaluate.py" in texts(at.info)


def test_results_page_names_a_corrupt_file_and_shows_the_rest(
    make_app: MakeApp, sample_export: Path
) -> None:
    folder = sample_export / "20250101-120000"
    (folder / "episodes.csv").write_bytes(os.urandom(2000))
    impact = folder / "contestants" / "glft" / "trending" / "MM1_market_impact.csv"
    impact.write_text("not,a\nvalid impact file\n")
    at = make_app("results", exports=sample_export)
    assert_no_exception(at)
    warnings = texts(at.warning)
    assert str(folder / "episodes.csv") in warnings
    assert str(impact) in warnings
    assert set(at.dataframe[0].value["contestant"]) == set(SAMPLE_CONTESTANTS)  # from summary


def test_results_page_reports_a_folder_that_is_not_an_export(
    make_app: MakeApp, tmp_path: Path
) -> None:
    root = tmp_path / "exports"
    (root / "20250101-000000").mkdir(parents=True)
    at = make_app("results", exports=root)
    assert_no_exception(at)
    assert "is it an evaluate.py export" in texts(at.error)


# --------------------------------------------------------------------------- training


def test_training_page_plots_the_learning_curves(make_app: MakeApp, sample_runs: Path) -> None:
    at = make_app("training", runs=sample_runs)
    assert_no_exception(at)
    assert not at.warning, texts(at.warning)
    assert at.multiselect(key="training_runs").value == ["ppo_a", "ppo_b"]
    assert [chart_title(s) for s in charts(at)] == ["rollout/ep_rew_mean", "train/loss"]
    data = chart_data(chart_elements(at)[0])
    assert set(data["run"]) == {"ppo_a", "ppo_b"} and len(data) == 12 + 8
    at.multiselect(key="training_tags").select("train/entropy_loss").run()
    assert len(charts(at)) == 3


def test_training_page_notes_runs_without_a_finished_episode(
    make_app: MakeApp, sample_runs: Path
) -> None:
    write_sample_run(sample_runs, "ppo_c_starting", points=0)
    write_sample_run(sample_runs, "ppo_d_first_rollouts", points=3, finished_episodes=False)
    at = make_app(
        "training", runs=sample_runs, query={"runs": "ppo_a,ppo_c_starting,ppo_d_first_rollouts"}
    )
    assert_no_exception(at)
    notes = texts(at.info)
    assert "Run ppo_c_starting has not finished an episode yet: no scalars" in notes
    assert (
        "Run ppo_d_first_rollouts has not finished an episode yet: no rollout/ep_rew_mean" in notes
    )
    assert "Run ppo_a" not in notes
    assert "rollout/ep_rew_mean" in [chart_title(s) for s in charts(at)]


def test_training_page_runs_from_the_query(make_app: MakeApp, sample_runs: Path) -> None:
    at = make_app("training", runs=sample_runs, query={"runs": "ppo_b"})
    assert at.multiselect(key="training_runs").value == ["ppo_b"]


def test_training_page_without_runs_says_how_to_make_them(make_app: MakeApp) -> None:
    at = make_app("training")
    assert_no_exception(at)
    assert "No training runs" in texts(at.info) and "train.py" in texts(at.info)


def test_training_page_names_a_corrupt_event_file(make_app: MakeApp, sample_runs: Path) -> None:
    bad = sample_runs / "ppo_b" / "tb" / "PPO_1" / "events.out.tfevents.1.host.2.0"
    bad.write_bytes(os.urandom(500))
    empty = sample_runs / "ppo_c"
    (empty / "tb").mkdir(parents=True)
    at = make_app("training", runs=sample_runs)
    at.multiselect(key="training_runs").set_value(["ppo_b", "ppo_c"]).run()
    assert_no_exception(at)
    warnings = texts(at.warning)
    assert str(bad) in warnings and "no TensorBoard event files" in warnings
    assert len(charts(at)) == 2  # ppo_b's good file still plots


# --------------------------------------------------------------------------- live market


def test_live_page_steps_and_runs_to_the_end(make_app: MakeApp) -> None:
    at = make_app("live")
    assert_no_exception(at)
    assert at.sidebar.selectbox(key="live_mm1").value == "fixed_spread"  # evaluate.py's
    assert metric(at, "Step") == "0"
    assert len(charts(at)) == 5  # price, ladder, inventory, PnL, sentiment (VaR from step 2)
    at.button(key="live_step").click().run()
    assert metric(at, "Step") == "1"
    at.button(key="live_end").click().run()
    assert_no_exception(at)
    assert metric(at, "Step") == "1000"
    assert "episode finished" in texts(at.markdown)
    assert at.button(key="live_step").disabled


def test_live_page_without_news_has_no_headline_feed(make_app: MakeApp) -> None:
    at = make_app("live")
    at.button(key="live_end").click().run()
    assert at.sidebar.selectbox(key="live_news").value == "none"
    assert "live_n_news" not in [s.key for s in at.sidebar.slider]
    assert not any(m.label in ("Observed sentiment", "Headlines") for m in at.metric)
    assert not any("text" in d.value.columns for d in at.dataframe)
    assert '"tone"' not in json.dumps(charts(at))


def test_live_page_shows_headlines_as_they_arrive(
    make_app: MakeApp, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("vaderSentiment")
    monkeypatch.setenv("MM_GYM_CACHE", str(tmp_path_factory.getbasetemp() / "news_cache"))
    at = make_app("live", query={"news": "vader"})
    assert_no_exception(at)
    assert at.sidebar.selectbox(key="live_news").value == "vader"  # from the query
    assert "No headline yet" in texts(at.caption)
    at.button(key="live_end").click().run()
    assert_no_exception(at)
    assert not at.error, texts(at.error)
    market = at.session_state["live_market"]
    assert market.has_headlines and market.settings.news_model == "vader"
    newest = market.headlines(limit=10)
    (element,) = [d for d in at.dataframe if "text" in d.value.columns]
    feed = element.value
    assert list(feed.columns) == ["step", "score", "sentiment", "text"]
    assert feed["step"].tolist() == newest["step"].tolist()  # the last 10, newest first
    assert feed["text"].tolist() == newest["text"].tolist()
    assert feed["step"].is_monotonic_decreasing and feed["step"].iloc[0] <= 1000
    assert feed["score"].tolist() == pytest.approx(newest["score"].tolist())
    assert metric(at, "Headlines") == str(len(market.headlines())) and len(feed) == 10
    assert metric(at, "Observed sentiment") == f"{market.last['sentiment']:+.3f}"
    styles = str(element.proto.arrow_data.styler.styles)  # the scores coloured by their sign
    assert ("#2e7d32" in styles) == (newest["score"] > 0).any()
    assert ("#c62828" in styles) == (newest["score"] < 0).any()
    assert "#2e7d32" in styles or "#c62828" in styles
    assert '"tone"' in json.dumps(charts(at))  # headline points on the sentiment chart
    at.sidebar.slider(key="live_n_news").set_value(20).run()
    (feed,) = [d.value for d in at.dataframe if "text" in d.value.columns]
    assert feed["step"].tolist() == market.headlines(limit=20)["step"].tolist()


def test_live_page_plays_and_pauses(make_app: MakeApp) -> None:
    at = make_app("live")
    at.button(key="live_play").click().run()
    assert_no_exception(at)
    assert int(metric(at, "Step")) > 0  # the view stepped while playing
    assert at.button(key="live_play").label == "Pause"
    at.button(key="live_play").click().run()
    assert at.button(key="live_play").label == "Play"


def test_live_page_new_settings_start_a_new_episode(make_app: MakeApp) -> None:
    at = make_app("live")
    at.button(key="live_end").click().run()
    at.sidebar.selectbox(key="live_preset").set_value("shock_heavy")
    at.sidebar.selectbox(key="live_regime").set_value("trending")
    at.sidebar.selectbox(key="live_mm1").set_value("GLFT")
    at.sidebar.selectbox(key="live_rival").set_value("order_flow_skew").run()
    assert_no_exception(at)
    assert not at.error, texts(at.error)
    assert metric(at, "Step") == "0"
    status = texts(at.markdown)
    assert "glft" in status and "order_flow_skew" in status
    at.button(key="live_end").click().run()
    assert metric(at, "Step") == "1000"


def test_live_page_shows_bad_parameters_as_an_error(make_app: MakeApp) -> None:
    at = make_app("live")
    at.sidebar.selectbox(key="live_mm1").set_value("FixedSpread").run()
    at.sidebar.text_input(key="live_mm1_p").input('{"half_spread_ticks": ').run()
    assert_no_exception(at)
    assert "not valid JSON" in texts(at.error)
    at.sidebar.text_input(key="live_mm1_p").input('{"half_spread_ticks": 3}').run()
    assert not at.error and metric(at, "Step") == "0"


def test_live_page_reports_a_run_that_cannot_be_loaded(
    make_app: MakeApp, sample_runs: Path
) -> None:
    at = make_app("live", runs=sample_runs)
    at.sidebar.selectbox(key="live_mm1").set_value("run:ppo_a").run()
    assert_no_exception(at)
    assert "cannot load trained run" in texts(at.error)
    assert str(sample_runs / "ppo_a") in texts(at.error)
