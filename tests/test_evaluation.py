"""mm_gym.evaluation: reproducibility, common random numbers, attribution on real rollouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from baselines import AvellanedaStoikov, FixedSpread, OrderFlowSkew, RandomQuoter
from baselines.calibration import (
    DEFAULT_CALIBRATIONS,
    calibrated_as,
    calibration_for,
    config_fingerprint,
)
from baselines.fill_fit import calibrate_on_env
from mm_gym.config import ConfigError
from mm_gym.evaluation import (
    EPISODE_COLUMNS,
    evaluate_policies,
    evaluation_seeds,
    format_leaderboard,
    leaderboard,
    resolve_setting,
    rollout,
    run_tournament,
    summarize,
)

SHORT = {"horizon_steps": 120}  # short episodes keep the tests fast


def _pols() -> dict:
    return {"fixed": FixedSpread(1.0), "random": RandomQuoter(), "skew": OrderFlowSkew(1.0)}


def test_evaluation_is_reproducible():
    a = evaluate_policies(_pols(), "switching", SHORT, n_episodes=6, seed=3)
    b = evaluate_policies(_pols(), "switching", SHORT, n_episodes=6, seed=3)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(summarize(a, baseline="fixed"), summarize(b, baseline="fixed"))
    c = evaluate_policies(_pols(), "switching", SHORT, n_episodes=6, seed=4)
    assert not np.allclose(a["total_pnl"], c["total_pnl"])


def test_results_do_not_depend_on_the_batch_size():
    # A deterministic policy: each market's episode is a function of its seed alone.
    pols = {"fixed": FixedSpread(1.0), "skew": OrderFlowSkew(1.0)}
    whole = evaluate_policies(pols, "trending", SHORT, n_episodes=6, seed=1)
    pieces = evaluate_policies(pols, "trending", SHORT, n_episodes=6, seed=1, batch_size=4)
    pd.testing.assert_frame_equal(whole, pieces)


def test_common_random_numbers_same_exogenous_path():
    seeds = evaluation_seeds(3, 11)
    a = rollout(FixedSpread(0.5), "switching", SHORT, seeds, sample_episode=1)
    b = rollout(RandomQuoter(), "switching", SHORT, seeds, sample_episode=1)
    ta, tb = a.traces["MM1"], b.traces["MM1"]
    for col in ("fundamental", "sentiment", "regime"):
        pd.testing.assert_series_equal(ta[col], tb[col])
    # ... while the contestants' own results differ.
    assert not np.array_equal(ta["inventory"], tb["inventory"])
    assert not np.array_equal(a.episodes["total_pnl"], b.episodes["total_pnl"])
    # Another episode is another path.
    c = rollout(FixedSpread(0.5), "switching", SHORT, seeds, sample_episode=2)
    assert not np.array_equal(ta["fundamental"], c.traces["MM1"]["fundamental"])


def test_attribution_sums_to_total_on_real_rollouts():
    df = evaluate_policies(_pols(), "switching", {"horizon_steps": 300}, n_episodes=8, seed=5)
    assert (df["n_fills"] > 0).any()
    parts = df["spread_capture"] + df["inventory_pnl"] + df["fees"]
    np.testing.assert_allclose(parts, df["total_pnl"], atol=1e-8)
    np.testing.assert_allclose(
        df["realized_pnl"] + df["unrealized_pnl"] + df["fees"], df["total_pnl"], atol=1e-8
    )
    # The environment's reward components see the same PnL: the sum of the per-step PnL is the
    # total, and its inventory PnL is the inventory carry.
    np.testing.assert_allclose(df["reward_pnl"], df["total_pnl"], atol=1e-8)
    np.testing.assert_allclose(df["reward_inventory_pnl"], df["inventory_carry"], atol=1e-8)


def test_sample_trace_agrees_with_episode_row():
    r = rollout(OrderFlowSkew(1.0), "trending", {"horizon_steps": 200}, n_episodes=3, seed=2)
    tr = r.traces["MM1"]
    row = r.episodes.iloc[0]
    assert len(tr) == 200
    assert tr["total"].iloc[-1] == pytest.approx(row["total_pnl"], abs=1e-8)
    assert tr["inventory"].iloc[-1] == row["final_inventory"]
    q_prev = np.concatenate([[0.0], tr["inventory"].to_numpy()[:-1]])
    dmid = np.diff(np.concatenate([[tr["mid"].iloc[0]], tr["mid"].to_numpy()]))
    # q_{-1} = 0, so the first step's carry vanishes whatever mid[0] was.
    assert 100.0 * np.sum(q_prev * dmid) == pytest.approx(row["inventory_carry"], abs=1e-6)
    assert set(r.impacts["MM1"].columns) >= {"size", "side", "pre_mid", "post_mid", "impact"}
    mo = r.impacts["market"]
    np.testing.assert_allclose(mo["impact"], mo["side"] * (mo["post_mid"] - mo["pre_mid"]))
    assert r.traces["MM2"]["total"].iloc[-1] == pytest.approx(row["rival_pnl"], abs=1e-8)


def test_episode_columns_and_metric_sanity():
    df = evaluate_policies({"fixed": FixedSpread(1.0)}, "mean_reverting", SHORT, n_episodes=4)
    for col in ("preset", "policy", "rival", "episode", "seed", "length", *EPISODE_COLUMNS):
        assert col in df.columns
    assert (df["length"] == 120).all()
    assert (df["max_drawdown"] >= 0).all()
    assert (df["es"] >= df["var"] - 1e-12).all()
    assert df["frac_at_limit"].between(0, 1).all()
    assert (df["fill_rate"] == df["n_fills"] / 120).all()
    assert (df["n_orders"] > 0).all() and df["mean_impact"].notna().all()
    assert df["quoted_spread_ticks"].between(1, 30).all()


def test_early_termination_on_drawdown():
    df = evaluate_policies(
        {"random": RandomQuoter()},
        "switching",
        {"horizon_steps": 300, "max_drawdown": 5.0},
        n_episodes=8,
        seed=0,
    )
    assert (df["length"] < 300).any()
    np.testing.assert_allclose(
        df["spread_capture"] + df["inventory_pnl"] + df["fees"], df["total_pnl"], atol=1e-8
    )
    np.testing.assert_allclose(df["fill_rate"], df["n_fills"] / df["length"])
    assert np.isfinite(df["sharpe"]).all()


def test_summary_paired_differences_and_leaderboard():
    pols = {"fixed": FixedSpread(1.0), "same": FixedSpread(1.0), "random": RandomQuoter()}
    t = run_tournament(pols, ["mean_reverting", "trending"], SHORT, 6, seed=1, sample_episode=None)
    s = summarize(t.episodes, baseline="fixed", n_boot=200)
    assert set(s["preset"]) == {"mean_reverting", "trending", "all"}
    same = s[s["policy"] == "same"]
    # An identical policy on the same seeds differs by exactly 0 (common random numbers).
    assert (same["total_pnl_diff"] == 0).all()
    assert (same["total_pnl_diff_low"] == 0).all() and (same["total_pnl_diff_high"] == 0).all()
    rnd = s[s["policy"] == "random"].iloc[0]
    assert rnd["total_pnl_ci_low"] <= rnd["total_pnl_mean"] <= rnd["total_pnl_ci_high"]
    assert rnd["n_episodes"] == 6
    assert s[(s.policy == "random") & (s.preset == "all")]["n_episodes"].iloc[0] == 12
    board = leaderboard(s, preset="all")
    assert list(board["rank"]) == [1, 2, 3]
    assert board["total_pnl_mean"].is_monotonic_decreasing
    text = format_leaderboard(board, baseline="fixed")
    assert "== all (12 episodes per policy) ==" in text
    # Run names are shown whole (two auto-named runs differ only in their last characters),
    # and the columns stay aligned.
    long = board.assign(policy=[f"ppo:ppo_MarketMaking-v1_s0_20261203-0{i}" for i in range(3)])
    lines = format_leaderboard(long, baseline="fixed").splitlines()
    assert all(f"ppo:ppo_MarketMaking-v1_s0_20261203-0{i}" in lines[2 + i] for i in range(3))
    assert len({len(line) for line in lines[2:5]}) == 1


def test_bad_settings_and_options_raise_config_errors():
    with pytest.raises(ConfigError, match="choose a book preset"):
        resolve_setting("sideways")
    with pytest.raises(ConfigError, match="choose a book preset"):
        resolve_setting("as2008")
    with pytest.raises(ConfigError, match="action_type"):
        evaluate_policies({"f": FixedSpread()}, "trending", {"action_type": "discrete"}, 2)
    with pytest.raises(ConfigError, match="non-empty mapping"):
        evaluate_policies({}, "trending", SHORT, 2)
    with pytest.raises(ConfigError, match="not a QuotingPolicy"):
        evaluate_policies({"x": object()}, "trending", SHORT, 2)  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match="n_episodes"):
        evaluation_seeds(0)


def test_evaluation_seeds_are_fixed_distinct_and_prefix_stable():
    s = evaluation_seeds(2000, 0)
    assert s.dtype == np.uint64 and len(set(s.tolist())) == 2000
    np.testing.assert_array_equal(evaluation_seeds(100, 0), s[:100])
    assert not np.array_equal(evaluation_seeds(100, 1), s[:100])
    assert not np.array_equal(evaluation_seeds(100, 0, stream=1), s[:100])


def test_policy_rival_is_used_and_not_shared_with_the_contestant():
    asp = AvellanedaStoikov(0.001, 2.0)
    r = rollout(asp, "mean_reverting", SHORT, n_episodes=3, rival=asp)
    assert (r.episodes["rival"] == "avellaneda_stoikov").all()
    builtin = rollout(asp, "mean_reverting", SHORT, n_episodes=3)
    assert not np.array_equal(r.episodes["rival_pnl"], builtin.episodes["rival_pnl"])


def test_calibrate_on_env_fits_a_decreasing_fill_curve():
    fit = calibrate_on_env("mean_reverting", {"horizon_steps": 150}, markets_per_depth=16)
    assert fit.A > 0 and fit.k > 0
    p = fit.fill_probability
    assert p[0] > p[2] > p[4]
    assert all(e > 0 for e in fit.exposure_steps)


def test_calibrated_as_uses_the_stored_default_without_simulating(monkeypatch):
    import baselines.calibration as cal

    stored = DEFAULT_CALIBRATIONS.get("mean_reverting")
    if stored is None or stored.fingerprint != config_fingerprint("mean_reverting"):
        pytest.skip("no current stored calibration for mean_reverting")

    def boom(*args, **kwargs):
        raise AssertionError("calibrate_setting must not run")

    monkeypatch.setattr(cal, "calibrate_setting", boom)
    policy = calibrated_as("mean_reverting")
    assert policy.k == stored.k and policy.gamma == stored.gamma_as
    assert calibration_for("mean_reverting") == stored
    assert calibration_for("mm_gym/MeanReverting-v1") == stored


def test_summary_columns_follow_the_one_schema():
    from mm_gym.evaluation import SUMMARY_KEYS, SUMMARY_STATS, summary_column

    pols = {"fixed": FixedSpread(1.0), "random": RandomQuoter()}
    df = evaluate_policies(pols, "trending", SHORT, n_episodes=4, seed=2)
    s = summarize(df, baseline="fixed", n_boot=50)
    assert tuple(s.columns[: len(SUMMARY_KEYS)]) == SUMMARY_KEYS
    stats = {c.rsplit("_", 1)[-1] for c in s.columns[len(SUMMARY_KEYS) :]}
    assert stats <= {"mean", "std", "low", "high", "diff"}
    for m in ("total_pnl", "sharpe", "episode_reward"):
        assert all(summary_column(m, stat) in s.columns for stat in SUMMARY_STATS)
    with pytest.raises(ConfigError, match="stat="):
        summary_column("total_pnl", "lo")


def test_compare_table_is_the_summary_schema_with_the_contender_as_baseline():
    from agents.compare import compare_with_baselines, format_comparison

    comp = compare_with_baselines(
        FixedSpread(1.0), ["random"], "trending", SHORT, n_episodes=4, seed=0, n_boot=50
    )
    s = summarize(comp.episodes, baseline="fixed_spread", ci_metrics=("episode_reward",
                  "sharpe", "total_pnl"), n_boot=50, seed=0, pooled=False)  # fmt: skip
    pd.testing.assert_frame_equal(comp.table.drop(columns="beaten"), s.drop(columns="preset"))
    rnd = comp.table[comp.table["policy"] == "random"].iloc[0]
    beaten = rnd["episode_reward_diff_high"] < 0 and rnd["sharpe_diff_high"] < 0
    assert rnd["beaten"] == beaten and comp.beats_all == beaten
    text = format_comparison(comp)
    assert "random" in text
    # The header names the market's overrides (train.py's --regime is one), and whole names.
    assert "episodes of trending with horizon_steps=120 (95%" in text.splitlines()[0]
    comp.table["policy"] = comp.table["policy"].replace("random", "random_quoter_with_a_long_name")
    assert "random_quoter_with_a_long_name " in format_comparison(comp)


def test_the_evaluator_reads_no_state_arrays_and_leaves_pyplot_alone():
    import matplotlib.pyplot as plt

    from mm_gym.evaluation import make_figures

    src = Path(__file__).resolve().parents[1] / "mm_gym" / "evaluation"
    for f in src.glob("*.py"):
        text = f.read_text()
        assert "mm_gym.market.state" not in text and "matplotlib.pyplot" not in text, f.name
        assert "matplotlib.use(" not in text, f.name
    before = plt.get_fignums()
    t = run_tournament({"fixed": FixedSpread(1.0)}, ["trending"], SHORT, 3, seed=0)
    figs = make_figures(t)
    assert figs and plt.get_fignums() == before


def test_bands_csv_is_the_mean_and_quartiles_of_the_episode_traces(tmp_path: Path):
    from mm_gym.evaluation import bands_table, summarize, write_tables

    seeds = evaluation_seeds(5, 7)
    pols = {"fixed": FixedSpread(1.0), "skew": OrderFlowSkew(1.0)}
    t = run_tournament(pols, ["trending"], SHORT, 5, seed=7, sample_episode=None)
    write_tables(tmp_path, t, summarize(t.episodes), "board\n")
    got = pd.read_csv(tmp_path / "bands.csv")
    assert tuple(got.columns) == tuple(bands_table(t).columns)
    assert len(got) == 2 * (SHORT["horizon_steps"] + 1)
    for name, policy in pols.items():
        # The direct computation: each episode traced on its own (the step recorder of the
        # sample episode, not the batch buffers), then mean and quartiles over the episodes.
        traces = [
            rollout(policy, "trending", SHORT, seeds, name=name, seed=7, sample_episode=k)
            .traces["MM1"] for k in range(5)
        ]  # fmt: skip
        pnl = np.vstack([np.zeros(5), np.column_stack([tr["total"] for tr in traces])])
        inv = np.column_stack([tr["inventory"] for tr in traces]).astype(float)
        rows = got[got["policy"] == name].sort_values("step")
        assert list(rows["step"]) == list(range(SHORT["horizon_steps"] + 1))
        assert (rows["preset"] == "trending").all()
        np.testing.assert_allclose(rows["pnl_mean"], pnl.mean(axis=1), rtol=1e-10, atol=1e-9)
        np.testing.assert_allclose(rows["pnl_p25"], np.quantile(pnl, 0.25, axis=1), atol=1e-9)
        np.testing.assert_allclose(rows["pnl_p75"], np.quantile(pnl, 0.75, axis=1), atol=1e-9)
        assert rows["inventory_mean"].iloc[1:].notna().all() and np.isnan(
            rows["inventory_p25"].iloc[0]
        )
        np.testing.assert_allclose(rows["inventory_mean"].iloc[1:], inv.mean(axis=1), atol=1e-9)
        np.testing.assert_allclose(rows["inventory_p25"].iloc[1:], np.quantile(inv, 0.25, axis=1))
        np.testing.assert_allclose(rows["inventory_p75"].iloc[1:], np.quantile(inv, 0.75, axis=1))
