"""train.py --learners mm1,mm2 --league (issue #17): the self-play league of two learners."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import load_script
from stable_baselines3.common.callbacks import BaseCallback
from test_train import TINY
from test_train_learner_pair import _assert_same_learners, _params

from agents.league import CURRENT, GROUPS, League, LeagueSettings, pfsp_weights
from agents.policy import load_policy

LEAGUE = ["--learners", "mm1,mm2", "--league", "--league-baselines", "fixed_spread,order_flow_skew"]
SEATS = ("mm1", "mm2")
train = load_script("train.py", "train_league")


def _run(tmp_path: Path, name: str, *extra: str, callbacks=None) -> Path:
    argv = [*TINY, *LEAGUE, "--runs-dir", str(tmp_path), "--run-name", name, *extra]
    return train.main(argv, callbacks=callbacks)


def _index(run: Path) -> dict:
    return json.loads((run / "league" / "league.json").read_text())


# ---------------------------------------------------------------------- settings
@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--league"], "league=True needs --learners mm1,mm2 without --share-policy"),
        ([*LEAGUE, "--share-policy"], "league=True needs --learners mm1,mm2 without"),
        ([*LEAGUE, "--league-baselines", "fixed_spread,nope"],
         "league_baselines='fixed_spread,nope': 'nope' is not a baseline; choose from ["),
        ([*LEAGUE, "--league-baselines", "glft,glft"], "names a baseline twice"),
        ([*LEAGUE, "--league-current", "1.5"], "league_current=1.5 must be a finite number in"),
        ([*LEAGUE, "--league-current", "nan"], "league_current=nan must be a finite number in"),
        ([*LEAGUE, "--league-size", "0"], "league_size=0 must be >= 1"),
        ([*LEAGUE, "--league-snapshot-every", "-1"], "league_snapshot_every=-1 must be >= 0"),
        ([*LEAGUE, "--league-pfsp-power", "-1"], "league_pfsp_power=-1.0 must be a finite"),
        (["--learners", "mm1,mm2", "--league-size", "3"], "league_size=3 needs --league"),
        ([*LEAGUE, "--league-baselines", "", "--league-snapshot-every", "0"],
         "draws opponents from the pool, but it stays empty"),
    ],
)  # fmt: skip
def test_bad_league_settings_are_one_line_before_any_folder(tmp_path, capsys, argv, says):
    assert train.cli([*TINY, *argv, "--runs-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1
    assert not any(tmp_path.iterdir())


# ---------------------------------------------------------------------- PFSP
def test_pfsp_weights_favour_the_opponents_the_learner_beats_least():
    np.testing.assert_allclose(pfsp_weights([0.0, 0.5, 1.0], 2.0), [0.8, 0.2, 0.0])
    np.testing.assert_allclose(pfsp_weights([0.2, 0.9], 0.0), [0.5, 0.5])  # p = 0: uniform
    np.testing.assert_allclose(pfsp_weights([1.0, 1.0], 2.0), [0.5, 0.5])  # all beaten
    np.testing.assert_allclose(pfsp_weights([0.25, 0.75], 1.0), [0.75, 0.25])


def _bare_league(current: float, power: float) -> League:
    from agents.ppo import two_maker_env

    shared = two_maker_env("mm_gym/MarketMaking-v1", 8, {}, agent_id=False)
    settings = LeagueSettings(current=current, baselines=("a", "b"), pfsp_power=power, seed=3)
    return League(settings, shared, lambda name: name)


def test_opponents_are_drawn_with_the_pfsp_weights():
    """20,000 draws with a fixed seed; each frequency within 0.015 (> 4 standard errors)."""
    league = _bare_league(current=0.3, power=2.0)
    league.snapshots[0] = [{"name": "mm2_000000128", "seat": "mm2", "steps": 128}]
    league.win_rates[0] = {"a": 0.9, "b": 0.5, "mm2_000000128": 0.2}
    draws = [league.sample(0) for _ in range(20_000)]
    pool = ("a", "b", "mm2_000000128")
    weights = (1 - np.array([0.9, 0.5, 0.2])) ** 2
    want = {CURRENT: 0.3, **dict(zip(pool, 0.7 * weights / weights.sum(), strict=True))}
    for name, p in want.items():
        assert draws.count(name) / len(draws) == pytest.approx(p, abs=0.015), name
    # An unknown win rate counts 0.5; learner 1's pool has no snapshot.
    league.settings = LeagueSettings(current=0.0, baselines=("a", "b"), pfsp_power=2.0)
    draws = [league.sample(1) for _ in range(4_000)]
    assert set(draws) == {"a", "b"}
    assert draws.count("a") / len(draws) == pytest.approx(0.5, abs=0.03)


def test_an_empty_pool_plays_the_current_policy_and_draws_per_group():
    league = _bare_league(current=0.0, power=1.0)
    league.settings = LeagueSettings(current=0.0, baselines=(), seed=3)
    assert {league.sample(0) for _ in range(50)} == {CURRENT}
    assert len(league.groups) == min(GROUPS, 4) and sum(map(len, league.groups)) == 4


# ---------------------------------------------------------------------- training runs
class _FirstParams(BaseCallback):
    """mm1's callback: both learners' actor weights before their first update."""

    def __init__(self) -> None:
        super().__init__()
        self.before: dict[str, np.ndarray] = {}

    def _on_training_start(self) -> None:
        league = self.training_env.venv.lockstep.league  # type: ignore[attr-defined]
        for seat, model in zip(SEATS, league.models, strict=True):
            self.before[seat] = model.policy.action_net.weight.detach().numpy().copy()

    def _on_step(self) -> bool:
        return True


def test_a_league_run_learns_snapshots_bounded_and_logs(tmp_path):
    first = _FirstParams()
    run = _run(tmp_path, "lg", "--total-timesteps", "768", "--league-snapshot-every", "128",
               "--league-size", "2", "--league-current", "0.25", callbacks=[first])  # fmt: skip
    assert json.loads((run / "metadata.json").read_text())["status"] == "completed"
    for seat in SEATS:  # both learners' parameters moved
        after = _params(run, seat)[".policy.action_net.weight"]
        assert not np.array_equal(first.before[seat], after)
    index = _index(run)
    # Snapshots at the rollout starts 128 .. 640; each pool keeps the latest two.
    for learner, other in (("mm1", "mm2"), ("mm2", "mm1")):
        names = [s["name"] for s in index["pools"][learner]]
        assert names == [f"{other}_000000512", f"{other}_000000640"]
        for name in names:
            assert load_policy(run / "league" / name, name=name).name == name
        assert set(index["draw"][learner]) <= {CURRENT, "fixed_spread", "order_flow_skew", *names}
        assert index["win_rates"][learner] and all(
            0.0 <= w <= 1.0 for w in index["win_rates"][learner].values()
        )
    folders = sorted(p.name for p in (run / "league").iterdir() if p.is_dir())
    assert folders == sorted(s["name"] for pool in index["pools"].values() for s in pool)
    assert (run / "checkpoint" / "league.json").read_text() == (
        run / "league" / "league.json"
    ).read_text()
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for seat in SEATS:
        acc = EventAccumulator(str(next((run / "tb" / seat).glob("events.out.tfevents.*"))))
        acc.Reload()
        tags = set(acc.Tags()["scalars"])
        assert {"league/current_share", "league/snapshots", "league/rollout_win"} <= tags
        assert any(t.startswith("league/win_rate/") for t in tags)
        assert "episode/reward" in tags


def test_resume_of_a_league_run_after_ctrl_c_is_exact(tmp_path):
    from test_train import _InterruptAt

    extra = ("--total-timesteps", "768", "--league-snapshot-every", "256", "--league-size", "1")
    straight = _run(tmp_path, "straight", *extra)
    cut = _run(tmp_path, "cut", *extra, "--checkpoint-every", "0", callbacks=[_InterruptAt(300)])
    meta = json.loads((cut / "metadata.json").read_text())
    assert meta["status"] == "interrupted" and meta["num_timesteps"] == 384
    train.main(["--resume", str(cut), "--no-progress"])
    _assert_same_learners(straight, cut)
    assert _index(straight) == _index(cut)


def test_half_then_resume_of_a_league_run_equals_one_go(tmp_path):
    const = ("--lr-schedule", "constant", "--league-snapshot-every", "128")
    whole = _run(tmp_path, "whole", "--total-timesteps", "640", *const)
    half = _run(tmp_path, "half", "--total-timesteps", "384", *const)
    train.main(["--resume", str(half), "--total-timesteps", "640", "--no-progress"])
    _assert_same_learners(whole, half)
    assert _index(whole) == _index(half)


def test_the_league_learners_update_at_once(tmp_path, monkeypatch):
    from test_two_learners import meeting_updates

    met = meeting_updates(monkeypatch, 20.0)
    _run(tmp_path, "at_once", "--total-timesteps", "512")
    assert met == [True] * 4  # 512 / (8 x 16) updates, mm2's starting while mm1's runs


def test_the_learners_and_their_opponents_take_their_seats():
    """mm1's learner as mm1 in markets 0..n-1, mm2's as mm2 in n..2n-1, opponents opposite."""
    from agents.league import league_factory
    from agents.learner_pair import new_pair
    from baselines.registry import make_policy

    env_id, kw, n = "mm_gym/MarketMaking-v1", {"horizon_steps": 40}, 3
    settings = LeagueSettings(current=0.0, snapshot_every=0, baselines=("fixed_spread",))
    norm = {"gamma": 0.99, "norm_obs": True, "norm_reward": True, "clip_obs": 10.0,
            "clip_reward": 10.0}  # fmt: skip
    pair = new_pair(env_id, n, kw, norm, seed=0, league=league_factory(settings, env_id, kw),
                    n_steps=16, batch_size=48, net_arch=[8])  # fmt: skip
    lockstep, league, shared = pair.lockstep, pair.league, pair.shared
    assert shared.num_envs == 4 * n and pair.venvs[0].num_envs == n
    obs = lockstep._joint("reset")
    league.new_rollout()
    assert league.draw == [["fixed_spread"] * n] * 2  # n groups of one market each
    sent: dict[str, np.ndarray] = {}
    step_async = shared.step_async
    shared.step_async = lambda a: (sent.setdefault("joint", a.copy()), step_async(a))[1]
    a0, a1 = np.full((n, 2), 0.3, np.float32), np.full((n, 2), -0.4, np.float32)
    lockstep._actions = [a0, a1]
    result = lockstep._joint("step")
    joint = sent["joint"]
    np.testing.assert_array_equal(joint[0 : 2 * n : 2], a0)
    np.testing.assert_array_equal(joint[2 * n + 1 :: 2], a1)
    for seat, rows in (("mm2", slice(1, 2 * n, 2)), ("mm1", slice(2 * n, None, 2))):
        baseline = make_policy("fixed_spread")
        baseline.reset(np.random.default_rng(0), shared.env.unwrapped.policy_context(seat))
        np.testing.assert_array_equal(joint[rows], baseline.act(obs[rows]))
    mine = lockstep._part(result, 1)
    np.testing.assert_array_equal(mine[0], result[0][2 * n + 1 :: 2])
    np.testing.assert_array_equal(mine[1], result[1][2 * n + 1 :: 2])
    assert league.acc_steps == 1
    np.testing.assert_allclose(league.diff[0], result[1][0 : 2 * n : 2] - result[1][1 : 2 * n : 2])
    # Each learner's episode statistics are its own seats' only (not its opponents').
    every = {"reward": np.arange(4.0 * n), "sub_env": np.arange(4.0 * n)}
    np.testing.assert_array_equal(np.flatnonzero(lockstep._owned(every, 0)), [0, 2, 4])
    np.testing.assert_array_equal(np.flatnonzero(lockstep._owned(every, 1)), [7, 9, 11])
