"""train.py --env-id mm_gym/MultiVenue-v0 --learners mm1,mm2: both makers learn on three venues."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from helpers import load_script

pytest.importorskip("stable_baselines3")

from test_train import TINY
from test_train_learner_pair import SEATS, _assert_same_learners

from agents.policy import load_policy
from mm_gym.multivenue import MultiVenueTwoMakerVectorEnv, MultiVenueVectorEnv

train = load_script("train.py", "train_multivenue_pair")
MV_PAIR = ["--env-id", "mm_gym/MultiVenue-v0", "--learners", "mm1,mm2"]


def _run(tmp_path: Path, name: str, *extra: str, callbacks=None) -> Path:
    argv = [*TINY, *MV_PAIR, "--runs-dir", str(tmp_path), "--run-name", name, *extra]
    return train.main(argv, callbacks=callbacks)


def test_two_learners_train_on_the_multivenue_market_and_play_it(tmp_path):
    kwargs = ["--env-kwargs", "horizon_steps=40", "mm2_latency=[2, 0, 1]"]
    run = _run(tmp_path, "pair", "--total-timesteps", "256", "--eval-episodes", "2", *kwargs)
    meta = json.loads((run / "metadata.json").read_text())
    assert meta["status"] == "completed" and meta["num_timesteps"] == 256
    assert meta["env_kwargs"]["mm2_latency"] == [2, 0, 1]
    # The market both learners stepped: two makers, mm2 at its own latencies.
    with open(run / "checkpoint" / "env_state.pkl", "rb") as f:
        state = pickle.load(f)
    markets = [v for v in _objects(state) if isinstance(v, MultiVenueTwoMakerVectorEnv)]
    assert len(markets) == 1 and markets[0].num_markets == 8
    assert list(markets[0]._core.latencies[1]) == [2, 0, 1]
    env = MultiVenueVectorEnv(3, horizon_steps=20)
    obs, _ = env.reset(seed=[1, 2, 3])
    for seat in SEATS:  # each learner's policy plays the multi-venue env as mm1
        policy = load_policy(run / seat)
        assert policy.name == f"pair.{seat}" and "agent_id" not in policy.feature_names
        policy.reset(np.random.default_rng(0), env.policy_context())
        assert policy.act(obs).shape == (3, 6)
        table = meta["evaluation"][seat]["table"]
        assert [row["policy"] for row in table][1:] == ["routed_as", "routed_glft", "everywhere_as"]


def _objects(state) -> list:
    """Every object of a checkpoint's pickled env state, nested containers opened."""
    out, todo = [], [state]
    while todo:
        x = todo.pop()
        out.append(x)
        if isinstance(x, dict):
            todo += list(x.values())
        elif isinstance(x, (list, tuple)):
            todo += list(x)
        elif hasattr(x, "__dict__") and type(x).__module__.startswith(("agents", "stable")):
            todo += list(vars(x).values())
    return out


def test_multivenue_pair_resumes_exactly_after_a_stop(tmp_path):
    from test_train import _InterruptAt

    straight = _run(tmp_path, "straight", "--total-timesteps", "768")
    cut = _run(tmp_path, "cut", "--total-timesteps", "768", "--checkpoint-every", "0",
               callbacks=[_InterruptAt(300)])  # fmt: skip
    assert json.loads((cut / "metadata.json").read_text())["status"] == "interrupted"
    train.main(["--resume", str(cut), "--no-progress"])
    _assert_same_learners(straight, cut)


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--league"], "league=True on mm_gym/MultiVenue-v0"),
        (["--env-kwargs", "mm2_latency=[0, 1]"], "mm2_latency=[0, 1] must be a list or tuple of 3"),
    ],
)
def test_bad_multivenue_pair_settings_are_one_line_before_any_folder(tmp_path, capsys, extra, says):
    assert train.cli([*TINY, *MV_PAIR, "--runs-dir", str(tmp_path), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and err.count("\n") == 0
    assert not any(tmp_path.iterdir())


def test_one_shared_policy_trains_on_both_seats_of_the_multivenue_market(tmp_path):
    run = _run(tmp_path, "shared", "--share-policy", "--total-timesteps", "256")
    meta = json.loads((run / "metadata.json").read_text())
    assert meta["status"] == "completed" and meta["feature_names"][-1] == "agent_id"
    policy = load_policy(run)
    env = MultiVenueVectorEnv(2, horizon_steps=20)  # no seat feature: read from the context
    obs, _ = env.reset(seed=[4, 5])
    policy.reset(np.random.default_rng(0), env.policy_context())
    assert policy.act(obs).shape == (2, 6)
