"""Replaying a user's headline file (issue #16): ``process.news_file`` in place of the bank.

A small file written to ``tmp_path`` round-trips (file -> env -> ``headlines()``), drives the
observed sentiment by the documented recursion exactly, leaves the market itself unchanged, and
bad inputs fail naming the field and the value.
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import mm_gym  # noqa: F401  (registers the env ids)
from mm_gym.config import ConfigError, MarketConfig, preset, with_overrides
from mm_gym.market import MarketSimulator
from mm_gym.news import HeadlineFileError, load_headlines
from mm_gym.news.loader import COLUMNS
from mm_gym.news.replay import NO_BUCKET, load_replay

pytest.importorskip("vaderSentiment")

ENV_ID = "mm_gym/MarketMaking-v1"
HORIZON = 40
POSITIVE = "Acme shares soar after record profit and a great, strong outlook"
ROWS = [
    ("0", "ACME", "Acme opens its annual meeting"),
    ("3", "ACME", "Acme warns of weak demand and falling sales"),
    ("5", "ACME", POSITIVE),
    ("5", "ACME", "Acme names a new chief financial officer"),
    ("12", "ACME", "Acme wins a large contract, shares gain"),
    ("900", "ACME", "Acme headline after the episode ends"),
]


def _write(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    lines = ["timestamp,asset,headline", *(f'{t},{a},"{h}"' for t, a, h in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _replay_env(path: Path, **kwargs):
    return gym.make(
        ENV_ID, horizon_steps=HORIZON, news_model="vader", news_file=str(path), **kwargs
    )


def _expected_sentiment(steps: np.ndarray, scores: np.ndarray, cfg: MarketConfig) -> np.ndarray:
    """The documented recursion: each step ``o <- d o``, per headline ``o <- (1-a) o + a s``."""
    d = 2.0 ** (-1.0 / cfg.process.news_half_life_steps)
    a = cfg.process.alpha_smooth
    o, out = 0.0, [0.0]
    for t in range(1, HORIZON + 1):
        o = d * o
        for score in scores[steps == t]:
            o = (1.0 - a) * o + a * score
        out.append(o)
    return np.asarray(out)


def test_headline_file_round_trips_through_the_env(tmp_path: Path) -> None:
    path = _write(tmp_path / "news.csv", ROWS)
    frame = load_headlines(path, "vader")
    with pytest.warns(UserWarning, match=r"1 of 6 headlines come after horizon_steps=40"):
        env = _replay_env(path)
    for seed in (0, 1):  # every episode replays the file
        env.reset(seed=seed)
        seen = []
        for _ in range(HORIZON):
            *_, info = env.step(np.zeros(2, np.float32))
            if info["headline_index"] >= 0:
                seen.append((info["step"], info["headline_index"], info["headline_score"]))
        records = env.unwrapped.headlines()
        assert [r.step for r in records] == [1, 3, 5, 5, 12]  # step 0 arrives in step 1
        assert [r.flat_index for r in records] == [0, 1, 2, 3, 4]  # rows of the file
        assert [r.text for r in records] == frame["headline"].tolist()[:5]
        assert [r.score for r in records] == frame["score"].tolist()[:5]
        assert {r.bucket for r in records} == {NO_BUCKET}
        # info reports each step's last headline
        assert seen == [(1, 0, records[0].score), (3, 1, records[1].score),
                        (5, 3, records[3].score), (12, 4, records[4].score)]  # fmt: skip
    env.close()


def test_headline_file_drives_the_observed_sentiment(tmp_path: Path) -> None:
    rows = [("5", "ACME", POSITIVE), ("30", "ACME", "Acme shares plunge on fraud charges")]
    path = _write(tmp_path / "news.csv", rows)
    cfg = with_overrides(
        MarketConfig(horizon_steps=HORIZON),
        {"process.news_model": "vader", "process.news_file": str(path)},
    )
    replay = load_replay(path, "vader", HORIZON)
    assert replay.scores[0] > 0.5 > -0.5 > replay.scores[1]
    expected = _expected_sentiment(replay.steps, replay.scores, cfg)
    sim = MarketSimulator(cfg, 2, parallel=False)
    sim.reset(np.array([3, 4], np.uint64))
    got = [sim.sentiment.copy()]
    for _ in range(HORIZON):
        sim.step(sim.quotes_buffer())
        got.append(sim.sentiment.copy())
    got_arr = np.asarray(got)
    for m in range(2):  # exactly the recursion, in every market
        np.testing.assert_array_equal(got_arr[:, m], expected)
    o = got_arr[:, 0]
    assert (o[:5] == 0.0).all() and o[5] > 0.1  # nothing before step 5, up at step 5
    assert (np.diff(o[5:30]) < 0).all() and o[29] > 0  # decays between headlines
    assert o[30] < o[29] - 0.1  # and down at step 30

    env = _replay_env(path)
    obs, _ = env.reset(seed=9)
    k = env.unwrapped.feature_names.index("sentiment")
    feats = [obs[k]]
    for _ in range(HORIZON):
        obs, *_ = env.step(np.zeros(2, np.float32))
        feats.append(obs[k])
    np.testing.assert_array_equal(np.asarray(feats), expected.astype(np.float32))
    env.close()


def test_replay_leaves_the_market_unchanged(tmp_path: Path) -> None:
    path = _write(tmp_path / "news.csv", ROWS[:5])
    base = with_overrides(preset("trending"), {"horizon_steps": HORIZON, "process.news_rate": 0.5})
    runs = []
    for extra in ({}, {"process.news_model": "vader", "process.news_file": str(path)}):
        sim = MarketSimulator(with_overrides(base, extra), 2, parallel=False)
        sim.reset(7)
        q = sim.quotes_buffer()
        q[:, 0] = [1.0, 1.0, 1, 1]
        mids = []
        for _ in range(HORIZON):
            sim.step(q)
            mids.append((sim.mid.copy(), sim.inventory.copy(), sim.latent_sentiment.copy()))
        runs.append(mids)
    for a, b in zip(*runs, strict=True):
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)


def test_datetime_timestamps_map_to_steps_by_seconds_per_step(tmp_path: Path) -> None:
    stamps = ["2024-05-01T09:30:00Z", "2024-05-01T09:30:01Z", "2024-05-01T09:30:04Z",
              "2024-05-01T09:30:09Z", "2024-05-01T10:30:00Z"]  # fmt: skip
    path = _write(
        tmp_path / "news.csv", [(t, "ACME", f"headline {i}") for i, t in enumerate(stamps)]
    )
    with pytest.warns(UserWarning, match="1 of 5"):
        replay = load_replay(path, "vader", HORIZON, seconds_per_step=2.0)
    np.testing.assert_array_equal(replay.steps, [1, 1, 3, 5])  # 1 + floor(seconds / 2)
    start, scores, rows = replay.kernel_arrays()
    assert start.shape == (HORIZON + 1,)
    assert start[:6].tolist() == [0, 2, 2, 3, 3, 4]  # step t: entries start[t-1] .. start[t]-1
    np.testing.assert_array_equal(rows, [0, 1, 2, 3])
    assert replay.lookup(2) == (NO_BUCKET, scores[2], "headline 2")
    with pytest.raises(IndexError, match="flat_index=4"):
        replay.lookup(4)


def test_several_assets_need_news_asset_and_it_picks_one(tmp_path: Path) -> None:
    rows = [("1", "ACME", "Acme gains"), ("2", "GLOBEX", "Globex falls"), ("4", "ACME", "Acme up")]
    path = _write(tmp_path / "news.csv", rows)
    with pytest.raises(ConfigError, match=r"process.news_asset is not set.*\['ACME', 'GLOBEX'\]"):
        _replay_env(path)
    with pytest.raises(ConfigError, match=r"process.news_asset is 'INITECH'.*'ACME', 'GLOBEX'"):
        _replay_env(path, news_asset="INITECH")
    env = _replay_env(path, news_asset="GLOBEX")
    env.reset(seed=0)
    for _ in range(5):
        env.step(np.zeros(2, np.float32))
    assert [(r.step, r.flat_index, r.text) for r in env.unwrapped.headlines()] == [
        (2, 1, "Globex falls")
    ]
    env.close()


def test_bad_replay_settings_name_the_field_and_value(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.csv"
    with pytest.raises(
        HeadlineFileError, match=r"process.news_file: .*nowhere.csv.* does not exist"
    ):
        _replay_env(missing)
    path = _write(tmp_path / "news.csv", ROWS[:2])
    with pytest.raises(
        ConfigError, match=r"process.news_file=.*news.csv.* needs process.news_model"
    ):
        gym.make(ENV_ID, news_file=str(path))
    with pytest.raises(ConfigError, match=r"process.news_asset='ACME' .* process.news_file"):
        gym.make(ENV_ID, news_model="vader", news_asset="ACME")
    with pytest.raises(ConfigError, match=r"process.news_file=3 must be a string"):
        gym.make(ENV_ID, news_model="vader", news_file=3)


def test_replay_is_deterministic_and_the_same_for_every_seed(tmp_path: Path) -> None:
    path = _write(tmp_path / "news.csv", ROWS[:5])

    actions = np.random.default_rng(0).uniform(-1, 1, (HORIZON, 2)).astype(np.float32)
    runs = []
    for seed in (5, 5, 6):
        env = _replay_env(path, observe_alpha=True)
        first, _ = env.reset(seed=seed)
        obs = [first, *(env.step(a)[0] for a in actions)]
        runs.append((np.asarray(obs), env.unwrapped.headlines()))
        env.close()
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert not np.array_equal(runs[0][0], runs[2][0])  # the market follows the seed
    assert runs[0][1] == runs[1][1] == runs[2][1]  # the file, not the seed, decides the headlines


def test_parquet_file_replays_in_a_vector_env(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    import pandas as pd

    path = tmp_path / "news.parquet"
    frame = pd.DataFrame([(int(t), a, h) for t, a, h in ROWS[:5]], columns=list(COLUMNS))
    frame.to_parquet(path)
    envs = gym.make_vec(
        ENV_ID, num_envs=2, horizon_steps=HORIZON, news_model="vader", news_file=str(path)
    )
    envs.reset(seed=0)
    for _ in range(HORIZON):
        envs.step(np.zeros((2, 2), np.float32))
    for i in range(2):
        records = envs.unwrapped.headlines(i)
        assert [(r.step, r.text) for r in records] == [(max(int(t), 1), h) for t, _, h in ROWS[:5]]
    envs.close()
