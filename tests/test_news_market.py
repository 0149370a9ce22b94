"""Headlines in the market (issue #16): opt-in ``process.news_model``, the decaying observed
sentiment, headline records in ``info`` and ``headlines()``, the ``alpha`` feature, SentimentAS.

The default (``news_model="none"``) is covered bit for bit by ``tests/test_golden.py``.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import mm_gym
from mm_gym.config import preset, with_overrides
from mm_gym.market import MarketSimulator

pytest.importorskip("vaderSentiment")

ENV_ID = "mm_gym/MarketMaking-v1"
NEWS = {"process.news_model": "vader", "process.news_rate": 0.2}


@pytest.fixture(autouse=True)
def _bank_cache(tmp_path_factory, monkeypatch):
    """Banks go to one temporary cache for the module (built once, then read)."""
    monkeypatch.setenv("MM_GYM_CACHE", str(tmp_path_factory.getbasetemp() / "news_cache"))


def _run_sim(config, steps: int, seed: int = 3, n: int = 3) -> tuple[MarketSimulator, dict]:
    sim = MarketSimulator(config, n, parallel=False)
    sim.reset(seed + np.arange(n, dtype=np.uint64))
    q = sim.quotes_buffer()
    q[:, 0] = [1.0, 1.0, 1, 1]
    out: dict[str, list] = {"mid": [], "inv": [], "cash": [], "latent": [], "sent": [], "news": []}
    for _ in range(steps):
        sim.step(q)
        out["mid"].append(sim.mid.copy())
        out["inv"].append(sim.inventory.copy())
        out["cash"].append(sim.cash.copy())
        out["latent"].append(sim.latent_sentiment.copy())
        out["sent"].append(sim.sentiment.copy())
        out["news"].append(sim.scalars.news.copy())
    return sim, {k: np.asarray(v) for k, v in out.items()}


def test_headlines_change_only_the_observed_sentiment_not_the_market() -> None:
    base = with_overrides(preset("trending"), {"process.news_rate": 0.2})
    _, off = _run_sim(base, 300)
    sim, on = _run_sim(with_overrides(base, NEWS), 300)
    assert sim.headline_bank is not None and sim.headline_bank.model == "vader"
    for key in ("mid", "inv", "cash", "latent", "news"):
        np.testing.assert_array_equal(on[key], off[key], err_msg=key)
    assert on["news"].sum() > 50
    assert not np.array_equal(on["sent"], off["sent"])


def test_headlines_are_deterministic_per_seed() -> None:
    def episode(seed: int) -> tuple[np.ndarray, list]:
        env = gym.make(ENV_ID, preset="trending", horizon_steps=200, observe_alpha=True, **NEWS)
        obs, _ = env.reset(seed=seed)
        rng = np.random.default_rng(0)
        rows, heads = [obs], []
        for _ in range(200):
            obs, _, term, _, info = env.step(rng.uniform(-1, 1, 2).astype(np.float32))
            rows.append(obs)
            heads.append((info["headline_index"], info["headline_score"]))
            if term:
                break
        env.close()
        return np.asarray(rows), heads

    a, ha = episode(5)
    b, hb = episode(5)
    c, hc = episode(6)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(np.asarray(ha), np.asarray(hb))  # NaN scores compare equal
    assert sum(i >= 0 for i, _ in ha) > 10
    assert not np.array_equal(a, c) and [i for i, _ in ha] != [i for i, _ in hc]


def test_observed_sentiment_decays_between_headlines_by_the_documented_factor() -> None:
    cfg = with_overrides(preset("trending"), {**NEWS, "process.news_half_life_steps": 50.0})
    sim, run = _run_sim(cfg, 400)
    bank = sim.headline_bank
    assert bank is not None
    decay = 2.0 ** (-1.0 / 50.0)
    alpha = cfg.process.alpha_smooth
    sent, news = run["sent"], run["news"]
    quiet = news[1:] == 0
    assert quiet.sum() > 500
    # a step without news moves the observed sentiment toward 0 by exactly the factor
    np.testing.assert_array_equal(sent[1:][quiet], decay * sent[:-1][quiet])
    assert (np.abs(sent[1:][quiet]) <= np.abs(sent[:-1][quiet])).all()
    # a step with one headline: decay, then the EMA step towards its score
    sim2 = MarketSimulator(cfg, 1, parallel=False)
    sim2.reset(np.array([11], np.uint64))
    q = sim2.quotes_buffer()
    checked = 0
    for _ in range(400):
        before = float(sim2.sentiment[0])
        sim2.step(q)
        if sim2.scalars.news[0] == 1:
            score = bank.scores.flat[int(sim2.scalars.headline[0])]
            assert sim2.scalars.headline_score[0] == score
            assert sim2.sentiment[0] == (1.0 - alpha) * (decay * before) + alpha * score
            checked += 1
    assert checked > 20


def test_info_headline_score_comes_from_the_bank_and_headlines_match_its_text() -> None:
    env = gym.make(ENV_ID, preset="trending", horizon_steps=300, **NEWS)
    _, info = env.reset(seed=2)
    assert info["headline_index"] == -1 and np.isnan(info["headline_score"])
    bank = env.unwrapped.simulator.headline_bank
    seen = []
    for _ in range(300):
        _, _, term, _, info = env.step(np.zeros(2, np.float32))
        k, score = info["headline_index"], info["headline_score"]
        assert isinstance(k, int) and isinstance(score, float)
        if k >= 0:
            b, j = divmod(k, bank.n_per_bucket)
            assert score == bank.scores[b, j]
            seen.append((info["step"], k))
        else:
            assert np.isnan(score)
        if term:
            break
    records = env.unwrapped.headlines()
    assert len(records) >= len(seen) > 20
    last_per_step = {r.step: r for r in records}  # the info reports a step's last headline
    assert [(s, last_per_step[s].flat_index) for s, _ in seen] == seen
    for r in records:
        b, j = divmod(r.flat_index, bank.n_per_bucket)
        assert (r.bucket, r.score, r.text) == (b, bank.scores[b, j], bank.text(b, j))
    env.reset(seed=3)
    assert env.unwrapped.headlines() == []
    env.close()
    plain = gym.make(ENV_ID, horizon_steps=5)
    _, info = plain.reset(seed=0)
    assert "headline_index" not in info
    with pytest.raises(ValueError, match="news_model"):
        plain.unwrapped.headlines()
    plain.close()


def test_vector_env_reports_headlines_per_sub_env() -> None:
    n = 3
    envs = gym.make_vec(ENV_ID, num_envs=n, preset="trending", horizon_steps=150, **NEWS)
    envs.reset(seed=4)
    singles = [gym.make(ENV_ID, preset="trending", horizon_steps=150, **NEWS) for _ in range(n)]
    for i, e in enumerate(singles):
        e.reset(seed=4 + i)
    for _ in range(149):
        _, _, _, _, infos = envs.step(np.zeros((n, 2), np.float32))
        for i, e in enumerate(singles):
            info = e.step(np.zeros(2, np.float32))[4]
            assert infos["headline_index"][i] == info["headline_index"]
    for i, e in enumerate(singles):
        assert envs.unwrapped.headlines(i) == e.unwrapped.headlines()
        e.close()
    with pytest.raises(ValueError, match="env_index"):
        envs.unwrapped.headlines(n)
    envs.close()


@pytest.mark.parametrize("observe_regime", [False, True])
def test_alpha_feature_equals_its_formula(observe_regime: bool) -> None:
    w_s, w_i = 0.7, 0.4
    env = gym.make(
        ENV_ID,
        preset="trending",
        horizon_steps=200,
        observe_alpha=True,
        observe_regime=observe_regime,
        **{**NEWS, "process.alpha_sentiment_weight": w_s, "process.alpha_imbalance_weight": w_i},
    )
    names = env.unwrapped.feature_names
    assert names[-1] == "alpha" and len(names) == (21 if observe_regime else 18)
    assert env.observation_space.shape == (len(names),)
    col = {n: i for i, n in enumerate(names)}
    obs, _ = env.reset(seed=1)
    sim = env.unwrapped.simulator
    moved = 0
    for _ in range(200):
        obs, _, term, _, _ = env.step(np.zeros(2, np.float32))
        want = np.clip(w_s * sim.sentiment[0] + w_i * obs[col["imbalance_l1"]], -1.0, 1.0)
        assert obs[col["alpha"]] == pytest.approx(want, abs=1e-6)
        assert obs[col["sentiment"]] == np.float32(sim.sentiment[0])
        moved += obs[col["alpha"]] != 0.0
        assert env.observation_space.contains(obs)
        if term:
            break
    assert moved > 100
    env.close()


def test_default_observation_keeps_its_layout() -> None:
    env = gym.make(ENV_ID, horizon_steps=5)
    assert env.unwrapped.feature_names == mm_gym.observations.FEATURE_NAMES
    assert env.observation_space.shape == (17,)
    env.close()


def test_sentiment_as_runs_through_the_registry(monkeypatch) -> None:
    from baselines import SentimentAS, calibration
    from baselines.registry import make_policy, policy_names

    monkeypatch.setattr(calibration, "SENTIMENT_KAPPAS", (0.0, 2.0))
    monkeypatch.setattr(calibration, "SENTIMENT_WEIGHTS", ((1.0, 0.0), (1.0, 0.5)))
    monkeypatch.setattr(calibration, "SENTIMENT_TUNING_EPISODES", 2)
    assert "sentiment_as" in policy_names()
    policy = make_policy("sentiment_as", "trending", NEWS)
    assert isinstance(policy, SentimentAS) and policy.name == "sentiment_as"
    assert policy.kappa in (0.0, 2.0) and policy.weights in ((1.0, 0.0), (1.0, 0.5))
    for pol in (policy, SentimentAS(0.003, 1.2, kappa=1.0)):  # its own blend; the env's alpha
        env = gym.make(ENV_ID, preset="trending", horizon_steps=50, observe_alpha=True, **NEWS)
        result = mm_gym.rollout(env, pol, episodes=1, seed=0)
        assert len(result) == 1 and result.steps[0] == 50
        env.close()
    # kappa shifts both quotes by kappa * alpha ticks, the spread unchanged
    ctx = gym.make(ENV_ID, observe_alpha=True).unwrapped.policy_context()
    obs = np.zeros((2, len(ctx.feature_names)), np.float32)
    obs[:, ctx.index("time_left")] = 0.5
    obs[:, ctx.index("volatility_ticks")] = 0.5
    obs[1, ctx.index("alpha")] = 0.5
    shifted = SentimentAS(0.003, 1.2, kappa=2.0)
    shifted.reset(np.random.default_rng(0), ctx)
    bid, ask = shifted._offsets(obs, ctx)
    np.testing.assert_allclose(bid[1] - bid[0], -1.0)
    np.testing.assert_allclose(ask[1] - ask[0], 1.0)


def test_env_with_headlines_passes_check_env_and_pickles() -> None:
    import pickle
    import warnings

    from gymnasium.utils.env_checker import check_env

    env = gym.make(ENV_ID, horizon_steps=100, observe_alpha=True, news_model="vader")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)
    env.reset(seed=8)
    for _ in range(60):
        env.step(np.zeros(2, np.float32))
    clone = pickle.loads(pickle.dumps(env.unwrapped))
    assert clone.headlines() == env.unwrapped.headlines()
    a = env.step(np.zeros(2, np.float32))
    b = clone.step(np.zeros(2, np.float32))
    np.testing.assert_array_equal(a[0], b[0])
    assert a[4]["headline_index"] == b[4]["headline_index"]
    env.close()


def test_tournament_exports_the_sample_episodes_headlines(tmp_path) -> None:
    from baselines import FixedSpread
    from mm_gym.evaluation import run_tournament
    from mm_gym.evaluation.export import write_tables

    t = run_tournament(
        {"fixed": FixedSpread(1.0)}, ("trending",), {"horizon_steps": 200, **NEWS}, n_episodes=2
    )
    (rollout,) = t.rollouts
    heads = rollout.traces["headlines"]
    assert list(heads.columns) == ["step", "flat_index", "bucket", "score", "headline"]
    assert len(heads) > 10
    bank = MarketSimulator(with_overrides(preset("trending"), NEWS), 1).headline_bank
    for row in heads.itertuples():
        assert (row.bucket, row.score, row.headline) == bank.lookup(row.flat_index)
    # the sample episode's trace marks the same steps as news steps
    news_steps = set(rollout.traces["MM1"].query("event.str.contains('news')").step)
    assert set(heads.step) == news_steps
    written = write_tables(tmp_path, t, t.episodes, "board")
    assert "contestants/fixed/trending/headlines.csv" in written
    plain = run_tournament({"fixed": FixedSpread(1.0)}, ("trending",), {"horizon_steps": 20}, 2)
    assert "headlines" not in plain.rollouts[0].traces


def test_sentiment_as_tuning_plays_kappa_zero_once_with_the_same_pick(monkeypatch) -> None:
    """kappa = 0 is plain AS whatever the weights: one run of it, and the grid's pick kept."""
    from baselines import SentimentAS, calibration

    monkeypatch.setattr(calibration, "_KAPPA_CACHE", {})
    played: list[list[tuple[tuple[float, float] | None, float]]] = []
    tune = calibration.tune_gamma

    def tune_gamma(make, gammas, *args, **kwargs):
        policies = [make(g) for g in gammas]
        if all(isinstance(p, SentimentAS) for p in policies):  # not AS's own gamma tuning
            played.append([(p.weights, p.kappa) for p in policies])
        return tune(make, gammas, *args, **kwargs)

    monkeypatch.setattr(calibration, "tune_gamma", tune_gamma)
    overrides = {**NEWS, "horizon_steps": 60}
    weights, kappas = ((1.0, 0.0), (1.0, 1.0)), (0.0, 2.0, 0.0)
    pick = calibration.calibrated_sentiment_as(
        "trending", overrides, weights=weights, kappas=kappas, n_episodes=3
    )
    assert played == [[((1.0, 0.0), 0.0), ((1.0, 0.0), 2.0), ((1.0, 1.0), 2.0)]]
    # Every candidate played, as before: the same best (the first of equal means).
    c = calibration.calibration_for("trending", overrides)
    full = [(w, x) for w in weights for x in kappas]
    best, _ = tune(
        lambda i: SentimentAS(c.gamma_as, c.k, full[int(i)][1], full[int(i)][0]),
        [float(i) for i in range(len(full))], "trending", overrides, n_episodes=3,
    )  # fmt: skip
    assert (pick.weights, pick.kappa) == full[int(best)]
