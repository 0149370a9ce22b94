"""train.py --learners mm1,mm2 --share-policy (issue #17): both makers learn one shared policy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import load_script

# The single-learner tests' tiny settings and exact-resume check; 4 markets x 2 seats keep
# their 8 envs x 16 steps per update.
from test_train import TINY, check_resume_after_ctrl_c_is_exact

from agents.policy import load_policy
from mm_gym.policy import AGENT_ID_FEATURE

SELF_PLAY = ["--learners", "mm1,mm2", "--share-policy", "--n-envs", "4"]
train = load_script("train.py", "train_two_learners")


def _run(tmp_path: Path, name: str, *extra: str, callbacks=None) -> Path:
    argv = [*TINY, *SELF_PLAY, "--runs-dir", str(tmp_path), "--run-name", name, *extra]
    return train.main(argv, callbacks=callbacks)


def test_self_play_resume_after_ctrl_c_is_exact(tmp_path):
    check_resume_after_ctrl_c_is_exact(_run, tmp_path, 768)


def test_self_play_run_logs_each_seat_and_exports_the_seat_feature(tmp_path):
    run = _run(tmp_path, "r", "--total-timesteps", "512")
    meta = json.loads((run / "metadata.json").read_text())
    assert meta["num_timesteps"] == 512
    assert load_policy(run).feature_names[-1] == AGENT_ID_FEATURE
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logs = list((run / "tb").rglob("events.out.tfevents.*"))
    acc = EventAccumulator(str(logs[0].parent))
    acc.Reload()
    tags = acc.Tags()["scalars"]
    assert "mm1/episode/reward" in tags and "mm2/episode/reward" in tags


def test_the_shared_policy_plays_mm1_in_the_single_env(tmp_path):
    import gymnasium as gym

    policy = load_policy(_run(tmp_path, "r", "--total-timesteps", "128"))
    env = gym.make("mm_gym/MarketMaking-v1", horizon_steps=32)
    obs, _ = env.reset(seed=0)
    policy.reset(np.random.default_rng(0), env.unwrapped.policy_context())
    action = policy.act(obs[None])
    assert action.shape == (1, 2) and np.isfinite(action).all()


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--learners", "mm2"], "learners='mm2' must be one of"),
        (["--share-policy"], "share_policy=True needs --learners mm1,mm2"),
        (["--learners", "mm1,mm2", "--share-policy", "--rival", "fixed_spread"], "second learner"),
        (["--learners", "mm1,mm2", "--share-policy", "--n-envs", "2", "--batch-size", "65"],
         "batch_size=65 must be <= n_envs * 2 * n_steps = 64"),
        (["--learners", "mm1,mm2", "--share-policy", "--env-id", "mm_gym/Portfolio-v0"],
         "not a trainable environment"),
        (["--learners", "mm1,mm2", "--env-id", "mm_gym/Portfolio-v0"],
         "train.py does not train on the portfolio, with one learner or two"),
    ],
)  # fmt: skip
def test_bad_learner_settings_are_one_line_before_any_folder(tmp_path, capsys, extra, says):
    assert train.cli([*TINY, "--runs-dir", str(tmp_path), *extra]) == 2
    assert says in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_the_rounding_note_counts_both_seats(tmp_path, capsys):
    run = _run(tmp_path, "round", "--total-timesteps", "200")  # rollouts of 4 x 2 x 16 = 128
    assert json.loads((run / "metadata.json").read_text())["num_timesteps"] == 256
    assert "rounded up to 256" in capsys.readouterr().err
