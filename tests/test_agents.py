"""agents/: the SB3 VecEnv adapter, the exported numpy actor, load_policy, rivals."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from helpers import toy_policy_arrays

import mm_gym  # noqa: F401  (registers the ids)
from agents import BASELINE_NAMES, PPOPolicy, load_policy, make_policy, make_rival
from agents.policy import PolicyFileError, save_policy_arrays
from mm_gym.metrics import sharpe
from mm_gym.observations import FEATURE_NAMES, REGIME_FEATURES
from mm_gym.policy import PolicyContext, QuotingPolicy

pytest.importorskip("stable_baselines3")

from agents.ppo import build_ppo, make_training_env, policy_arrays
from agents.vec_env import MarketMakingSB3VecEnv

ROOT = Path(__file__).resolve().parents[1]
ENV_ID = "mm_gym/MarketMaking-v1"
HORIZON = 30


def _actions(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.uniform(-1.0, -0.5, size=(n, 2)).astype(np.float32)


def test_vec_env_adapter_follows_native_env_and_sb3_autoreset():
    n = 4
    native = gym.make_vec(ENV_ID, num_envs=n, horizon_steps=HORIZON)
    twin = gym.make_vec(ENV_ID, num_envs=n, horizon_steps=HORIZON)
    adapter = MarketMakingSB3VecEnv(native)
    adapter.seed(11)
    obs = adapter.reset()
    obs_twin, _ = twin.reset(seed=11)
    np.testing.assert_array_equal(obs, obs_twin)
    rng = np.random.default_rng(0)
    total = np.zeros(n)
    step_pnl = []
    for t in range(HORIZON):
        a = _actions(rng, n)
        obs, reward, done, infos = adapter.step(a)
        obs_twin, r_twin, term, _, info = twin.step(a)
        total += r_twin
        step_pnl.append(info["reward_components"]["pnl"])
        np.testing.assert_array_equal(reward, r_twin)
        assert done.tolist() == term.tolist() == [t == HORIZON - 1] * n
    # SB3 protocol: the final observation in the infos, the reset observation returned.
    for i in range(n):
        np.testing.assert_array_equal(infos[i]["terminal_observation"], obs_twin[i])
        assert infos[i]["episode"]["l"] == HORIZON
        assert infos[i]["episode"]["r"] == pytest.approx(total[i])
    reset_obs, r0, _, _, _ = twin.step(_actions(rng, n))  # the native NEXT_STEP reset
    np.testing.assert_array_equal(obs, reset_obs)
    assert np.all(r0 == 0.0)
    stats = adapter.pop_episode_stats()
    np.testing.assert_allclose(stats["reward"], total)
    np.testing.assert_allclose(stats["pnl_sharpe"], sharpe(np.array(step_pnl).T), rtol=1e-6)
    assert set(stats) >= {"pnl", "fill_rate", "quoted_spread_ticks", "component/pnl"}
    assert np.all((stats["quoted_spread_ticks"] >= 0) & (stats["quoted_spread_ticks"] <= 20))
    assert adapter.pop_episode_stats() == {}
    # The next step continues the new episode of both envs identically.
    a = _actions(rng, n)
    np.testing.assert_array_equal(adapter.step(a)[0], twin.step(a)[0])
    assert adapter.partial_resets == 0


def test_vec_env_adapter_same_step_env_keeps_the_ended_episodes_statistics():
    """With a SAME_STEP env the top-level info of an ending step is the reset one: the
    statistics must come from ``final_info`` (they equal a NEXT_STEP adapter's on the same
    seeds and actions)."""
    from gymnasium.vector import AutoresetMode

    n = 3
    stats = {}
    for mode in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP):
        env = gym.make_vec(ENV_ID, num_envs=n, horizon_steps=HORIZON, autoreset_mode=mode)
        adapter = MarketMakingSB3VecEnv(env)
        adapter.seed(5)
        adapter.reset()
        rng = np.random.default_rng(2)
        for _ in range(HORIZON):
            adapter.step(_actions(rng, n))
        stats[mode] = adapter.pop_episode_stats()
    next_step, same_step = stats[AutoresetMode.NEXT_STEP], stats[AutoresetMode.SAME_STEP]
    assert set(next_step) == set(same_step)
    assert np.any(next_step["final_inventory"] != 0) and np.any(next_step["pnl"] != 0)
    for key, value in next_step.items():
        np.testing.assert_array_equal(same_step[key], value, err_msg=key)


def test_vec_env_adapter_partial_end_keeps_running():
    # A tiny drawdown limit ends episodes at different steps: the other markets keep going.
    adapter = MarketMakingSB3VecEnv(
        gym.make_vec(ENV_ID, num_envs=8, horizon_steps=200, max_drawdown=3.0)
    )
    adapter.seed(0)
    adapter.reset()
    rng = np.random.default_rng(1)
    ended = 0
    for _ in range(200):
        obs, _, done, infos = adapter.step(rng.uniform(-1, -0.8, (8, 2)).astype(np.float32))
        assert np.isfinite(obs).all() and obs.shape == (8, len(FEATURE_NAMES))
        ended += int(done.sum())
        assert all(("terminal_observation" in infos[i]) == done[i] for i in range(8))
    assert ended > 0 and adapter.partial_resets > 0
    assert adapter.episodes_done == ended


def test_vec_env_adapter_get_attr_and_wrapping():
    adapter = MarketMakingSB3VecEnv(gym.make_vec(ENV_ID, num_envs=3))
    assert adapter.get_attr("num_envs") == [3, 3, 3]
    assert adapter.get_attr("num_envs", [0]) == [3]
    assert adapter.env_is_wrapped(gym.Wrapper) == [False] * 3
    assert adapter.render_mode is None


@pytest.fixture(scope="module")
def small_model():
    venv = make_training_env(ENV_ID, 8, {"horizon_steps": HORIZON}, gamma=0.9)
    model = build_ppo(venv, seed=3, n_steps=16, batch_size=64, n_epochs=1, net_arch=(16, 16))
    model.learn(8 * 16 * 2)
    return model, venv


def test_exported_actor_matches_sb3_deterministic_predict(small_model, tmp_path):
    model, venv = small_model
    native = venv.venv.env.unwrapped
    ec = native.env_config
    arrays = policy_arrays(
        model, venv, native.feature_names, ec.max_offset_ticks, ec.action_mapping
    )
    assert "action_type" not in arrays  # the default action type: the file is as before
    save_policy_arrays(tmp_path / "policy.npz", arrays)
    policy = load_policy(tmp_path / "policy.npz", name="ppo")
    assert isinstance(policy, QuotingPolicy) and policy.name == "ppo"
    assert policy.action_mapping == ec.action_mapping == "touch"
    ctx = PolicyContext(
        feature_names=tuple(native.feature_names),
        max_offset_ticks=ec.max_offset_ticks,
        horizon_steps=native.market_config.horizon_steps,
        inventory_limit=native.market_config.makers.mm1_limit,
        action_mapping=ec.action_mapping,
    )
    policy.reset(np.random.default_rng(0), ctx)
    obs = venv.get_original_obs()
    got = policy.act(obs)
    want, _ = model.predict(venv.normalize_obs(obs), deterministic=True)
    assert got.dtype == np.float32 and got.shape == (8, 2)
    np.testing.assert_allclose(got, np.clip(want, -1, 1), atol=1e-5)


def _context(names=FEATURE_NAMES, max_offset=10.0, mapping="mid") -> PolicyContext:
    # toy_policy_arrays records no action_mapping (a file from before the field): it means "mid".
    return PolicyContext(
        feature_names=tuple(names), max_offset_ticks=max_offset, horizon_steps=1000,
        inventory_limit=20, action_mapping=mapping,
    )  # fmt: skip


def test_ppo_policy_selects_features_by_name_and_converts_offsets():
    policy = PPOPolicy(toy_policy_arrays())
    obs = np.random.default_rng(1).normal(size=(5, len(FEATURE_NAMES))).astype(np.float32)
    policy.reset(np.random.default_rng(0), _context())
    base = policy.act(obs)
    # An env that also observes the regime: the trained columns are picked by name.
    wide = np.concatenate([obs, np.ones((5, 3), np.float32)], axis=1)
    policy.reset(np.random.default_rng(0), _context(FEATURE_NAMES + REGIME_FEATURES))
    np.testing.assert_array_equal(policy.act(wide), base)
    # An env with twice the max offset: the same offsets in ticks, so half the action range.
    policy.reset(np.random.default_rng(0), _context(max_offset=20.0))
    np.testing.assert_allclose((policy.act(obs) + 1.0) * 10.0, (base + 1.0) * 5.0, atol=1e-5)


def test_ppo_policy_errors():
    policy = PPOPolicy(toy_policy_arrays())
    with pytest.raises(RuntimeError, match="before reset"):
        policy.act(np.zeros((1, len(FEATURE_NAMES)), np.float32))
    with pytest.raises(KeyError, match="sentiment"):
        policy.reset(
            np.random.default_rng(0), _context(tuple(f for f in FEATURE_NAMES if f != "sentiment"))
        )
    bad = toy_policy_arrays()
    bad["weights_1"] = np.zeros((3, 4), np.float32)
    bad["biases_1"] = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match="outputs 3 actions; expected a bid and an ask per venue"):
        PPOPolicy(bad)
    # A bid and an ask per venue: a two-venue actor (MultiVenue-v0 with two venues) loads.
    bad["weights_1"], bad["biases_1"] = np.zeros((4, 4), np.float32), np.zeros(4, np.float32)
    assert PPOPolicy(bad).weights[-1].shape[0] == 4
    with pytest.raises(FileNotFoundError, match=r"policy\.npz"):
        load_policy("/nonexistent/run")


def _without_layers(arrays):
    return {k: v for k, v in arrays.items() if not k.startswith(("weights_", "biases_"))}


@pytest.mark.parametrize(
    ("change", "action_form", "message"),
    [
        ({"format_version": np.array(1.5)}, None, "format_version=.* must be an integer"),
        ({"format_version": np.array(2)}, None, r"format_version=.* is not supported \(expected 1"),
        (_without_layers, None, r"hold no layers \(weights_0, biases_0"),
        ({"weights_3": np.zeros((2, 2), np.float32)}, None, "array 'weights_2' is missing"),
        (
            {"weights_1": np.zeros((2, 5), np.float32)},
            None,
            r"layer 1: weights \(2, 5\) and biases \(2,\) do not chain \(expected \(2, 4\)",
        ),
        ({}, "routed", "outputs 2 actions; a routed policy's are a bid, an ask and a routing"),
        ({"action_type": np.array(4)}, None, r"action_type=4 must be a string \(a 0-D array"),
        (
            {"action_type": np.array("discrete")},
            None,
            r"action_type='discrete' is not supported: a PPOPolicy plays only "
            r"action_type='continuous' policies",
        ),
    ],
)
def test_ppo_policy_names_what_is_wrong_with_its_arrays(change, action_form, message):
    arrays = toy_policy_arrays()
    arrays = change(arrays) if callable(change) else {**arrays, **change}
    with pytest.raises(ValueError, match=message):
        PPOPolicy(arrays, action_form=action_form)


def test_continuous_sizes_policy_file_is_refused_and_older_files_still_load(tmp_path):
    sizes = toy_policy_arrays()  # an actor with 4 outputs: offsets, then the two sizes
    sizes["weights_1"] = np.random.default_rng(1).normal(size=(4, 4)).astype(np.float32)
    sizes["biases_1"] = np.zeros(4, np.float32)
    save_policy_arrays(tmp_path / "old.npz", sizes)  # no action_type: read as before (2 venues)
    assert load_policy(tmp_path / "old.npz").n_venues == 2
    save_policy_arrays(
        tmp_path / "sizes.npz", {**sizes, "action_type": np.array("continuous_sizes")}
    )
    with pytest.raises(
        PolicyFileError,
        match=r"sizes\.npz: action_type='continuous_sizes' is not supported: a PPOPolicy plays "
        r"only action_type='continuous' policies",
    ):
        load_policy(tmp_path / "sizes.npz")
    assert PPOPolicy({**toy_policy_arrays(), "action_type": np.array("continuous")}).n_venues == 1


def test_exported_continuous_sizes_actor_records_its_action_type(tmp_path):
    overrides = {"horizon_steps": HORIZON, "action_type": "continuous_sizes"}
    venv = make_training_env(ENV_ID, 2, overrides)
    model = build_ppo(venv, seed=0, n_steps=16, batch_size=32, n_epochs=1, net_arch=(8,))
    native = venv.venv.env.unwrapped
    ec = native.env_config
    arrays = policy_arrays(
        model, venv, native.feature_names, ec.max_offset_ticks, ec.action_mapping
    )
    assert str(arrays["action_type"]) == "continuous_sizes"
    assert arrays["weights_1"].shape[0] == 4
    save_policy_arrays(tmp_path / "policy.npz", arrays)
    with pytest.raises(PolicyFileError, match="action_type='continuous_sizes' is not supported"):
        load_policy(tmp_path / "policy.npz")
    venv.close()


def test_load_policy_imports_no_torch(tmp_path):
    save_policy_arrays(tmp_path / "run" / "policy.npz", toy_policy_arrays())
    code = (
        "import sys, numpy as np; import agents; "
        f"p = agents.load_policy({str(tmp_path / 'run')!r}); "
        "from mm_gym.policy import PolicyContext; from mm_gym.observations import FEATURE_NAMES; "
        "p.reset(np.random.default_rng(0), PolicyContext(FEATURE_NAMES, 10.0, 1000, 20)); "
        "a = p.act(np.zeros((3, len(FEATURE_NAMES)), np.float32)); "
        "assert a.shape == (3, 2) and p.name == 'run'; "
        "assert 'torch' not in sys.modules and 'stable_baselines3' not in sys.modules"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_trained_policy_quotes_as_rival_and_contestant(tmp_path):
    from mm_gym.evaluation import evaluate_policies

    save_policy_arrays(tmp_path / "run" / "policy.npz", toy_policy_arrays())
    rival = make_rival(str(tmp_path / "run"))
    assert isinstance(rival, PPOPolicy)
    env = gym.make_vec(ENV_ID, num_envs=2, horizon_steps=HORIZON, rival=rival)
    env.reset(seed=0)
    for _ in range(HORIZON):
        env.step(np.zeros((2, 2), np.float32))
    df = evaluate_policies(
        {"ppo": make_policy(str(tmp_path / "run"))}, ENV_ID, {"horizon_steps": HORIZON}, 2,
        rival=rival,
    )  # fmt: skip
    assert len(df) == 2 and np.isfinite(df["episode_reward"]).all()


def test_make_policy_names():
    assert make_rival("builtin") == "builtin"
    for name in ("fixed_spread", "order_flow_skew", "random"):
        assert isinstance(make_policy(name), QuotingPolicy)
    assert "avellaneda_stoikov" in BASELINE_NAMES
    with pytest.raises(ValueError, match="not valid"):
        make_policy("no_such_policy")


def test_make_policy_resolves_registry_names_and_import_specs(tmp_path, monkeypatch):
    from baselines.registry import BASELINE_NAMES as REGISTRY_NAMES

    assert BASELINE_NAMES == REGISTRY_NAMES
    assert make_policy("fixed_spread").name == "fixed_spread"
    (tmp_path / "my_agents_policy.py").write_text(
        "from baselines import RandomQuoter\n\nPOLICY = RandomQuoter(name='mine')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert make_policy("my_agents_policy:POLICY").name == "mine"
    sys.modules.pop("my_agents_policy", None)
    with pytest.raises(ValueError, match="import spec"):
        make_policy("not_a_policy")


def test_vec_env_adapter_quoted_spread_reads_only_the_offsets_with_sizes():
    """Under ``action_type="continuous_sizes"`` the two size actions are not a second venue's
    offsets: the logged spread is the bid plus the ask offset of the first two actions."""
    n, steps = 2, 10
    env = gym.make_vec(
        "mm_gym/MarketMaking-v1", num_envs=n, horizon_steps=steps,
        action_type="continuous_sizes",
    )  # fmt: skip
    adapter = MarketMakingSB3VecEnv(env)
    adapter.seed(3)
    adapter.reset()
    a = np.tile(np.array([[-1.0, 1.0, 1.0, 1.0]], np.float32), (n, 1))  # 0 and 10 ticks
    for _ in range(steps):
        adapter.step(a)
    np.testing.assert_allclose(adapter.pop_episode_stats()["quoted_spread_ticks"], 10.0)
