"""The RL libraries users bring (issue #13): TorchRL, skrl, Gymnasium's vector RecordVideo.

Marked ``integrations`` (deselected by default) and skipped cleanly when a library is missing:
``make test-integrations`` installs the ``integrations`` extra and runs them. Each test runs a
few short episodes through the library's own wrapper, across an episode end.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import mm_gym

pytestmark = pytest.mark.integrations

ID = "mm_gym/MarketMaking-v1"


def test_torchrl_gym_env_probes_frameskip():
    pytest.importorskip("torchrl")
    from torchrl.envs import GymEnv
    from torchrl.envs.utils import check_env_specs

    # GymEnv passes frameskip= first and falls back on the TypeError (issue #13 item 4).
    env = GymEnv(ID, horizon_steps=8)
    check_env_specs(env)
    td = env.rollout(20, break_when_any_done=False)
    assert td.batch_size == (20,)
    assert td["next", "done"].sum() >= 2  # two episode ends, each followed by a reset


def test_torchrl_wraps_the_native_vector_env():
    pytest.importorskip("torchrl")
    from gymnasium.vector import AutoresetMode
    from torchrl.envs import GymWrapper
    from torchrl.envs.utils import check_env_specs

    envs = gym.make_vec(
        ID,
        num_envs=3,
        horizon_steps=6,
        max_episode_steps=4,
        reward_info="flat",
        autoreset_mode=AutoresetMode.DISABLED,
    )
    with pytest.raises(RuntimeError, match="SAME_STEP or DISABLED"):
        GymWrapper(gym.make_vec(ID, num_envs=2))  # reads envs.autoreset_mode (item 6)
    env = GymWrapper(envs)
    env = env.auto_register_info_dict()
    check_env_specs(env)
    td = env.rollout(10, break_when_any_done=False)
    assert td.batch_size == (3, 10)
    assert td["next", "truncated"].any()  # max_episode_steps=4 (item 2)
    assert np.isfinite(td["next", "reward_pnl"].numpy()).all()


def test_skrl_pettingzoo_wrapper_steps_both_agents():
    torch = pytest.importorskip("torch")
    pytest.importorskip("skrl")
    from skrl.envs.wrappers.torch import wrap_env

    env = wrap_env(mm_gym.parallel_env(max_cycles=5), wrapper="pettingzoo")
    assert env.possible_agents == ["mm1", "mm2"] and env.max_num_agents == 2
    assert env.observation_space("mm1").shape == (17,)
    assert env.state_space("mm1").shape == (34,)
    obs, _ = env.reset()
    assert env.num_agents == 2
    assert obs["mm1"].shape == (1, 17)
    assert env.state()["mm2"].shape == (1, 34)
    for _ in range(5):
        actions = {a: torch.zeros((1, 2)) for a in env.possible_agents}
        obs, rewards, terminated, _, _ = env.step(actions)
        assert rewards["mm1"].shape == (1, 1)
    assert terminated["mm1"].all() and terminated["mm2"].all()


def test_vector_record_video_one_frame_per_sub_env(tmp_path):
    pytest.importorskip("moviepy")
    from gymnasium.wrappers.vector import RecordVideo

    envs = gym.make_vec(ID, num_envs=4, horizon_steps=6, render_mode="rgb_array")
    folder = tmp_path / "videos"
    envs = RecordVideo(envs, str(folder), episode_trigger=lambda k: k == 0, fps=10)
    envs.reset(seed=0)
    for _ in range(8):  # past the episode end and its autoreset
        envs.step(envs.action_space.sample())
    envs.close()
    videos = list(folder.glob("*.mp4"))
    assert len(videos) == 1 and videos[0].stat().st_size > 0
