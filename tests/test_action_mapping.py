"""The action mappings (issue #13 item 1): ``"touch"`` (default) and the old linear ``"mid"``.

A fresh policy (action 0, the centre of the Box) must trade under the default mapping; the
inverse must keep scripted policies' quotes exactly as they were; policies and pickles saved
before the mapping was recorded must keep meaning what they meant.
"""

from __future__ import annotations

import dataclasses
import json
import pickle

import gymnasium as gym
import numpy as np
import pytest
import yaml
from helpers import baseline_rollout, load_script, sb3_ppo_before_and_after, toy_policy_arrays

import mm_gym  # noqa: F401  (registers the env ids)
from agents.policy import PolicyFileError, PPOPolicy, load_policy, save_policy_arrays
from baselines import GLFT, AvellanedaStoikov, FixedSpread, OrderFlowSkew, RandomQuoter
from mm_gym.actions import (
    ACTION_MAPPINGS,
    action_to_offset,
    actions_to_offsets,
    offset_function,
    offsets_to_actions,
)
from mm_gym.config import ConfigError
from mm_gym.envs.config import EnvConfig
from mm_gym.observations import FEATURE_NAMES
from mm_gym.policy import PolicyContext

ID = "mm_gym/MarketMaking-v1"
MAX_OFFSETS = (10.0, 8.0, 20.0, 3.0, 0.6, 100.0)


def _price_class(offsets: np.ndarray) -> np.ndarray:
    """``ceil(2 * offset)``: offsets with equal values quote equal prices (the mid is k/2)."""
    return np.ceil(2.0 * np.asarray(offsets, dtype=np.float64))


def _fills_at_action_zero(mapping: str, seeds: int = 3, steps: int = 200) -> np.ndarray:
    """mm1's fills per market over ``steps`` steps of action 0, markets seeded 0..seeds-1."""
    envs = gym.make_vec(ID, num_envs=seeds, horizon_steps=steps, action_mapping=mapping)
    envs.reset(seed=0)
    fills = np.zeros(seeds, np.int64)
    zero = np.zeros((seeds, 2), np.float32)
    for _ in range(steps):
        _, _, _, _, info = envs.step(zero)
        fills += info["fills"]
    envs.close()
    return fills


# ---------------------------------------------------------------------- the mapping itself
def test_small_actions_around_zero_quote_the_touch():
    """Offsets in (0, 0.5] quote the touch at a 1- or 2-tick spread: so must actions near 0.

    A fresh PPO/SAC policy outputs about +-0.01; with action 0 on the interval's edge, any
    positive output quoted a tick behind (found by measuring SB3 PPO's start on v1).
    """
    small = np.array([-0.02, -0.01, 0.0, 0.01, 0.02])
    offsets = actions_to_offsets(small, 10.0)
    assert ((offsets > 0.0) & (offsets <= 0.5)).all(), offsets
    for mid in (100.5, 100.0):  # a 1-tick spread (100 / 101) and a 2-tick one (99 / 101)
        assert set(np.floor(mid - offsets)) == {100.0 if mid == 100.5 else 99.0}
        assert set(np.ceil(mid + offsets)) == {101.0}


def test_mapping_table_of_minus_one_zero_plus_one():
    a = np.array([-1.0, 0.0, 1.0])
    np.testing.assert_array_equal(actions_to_offsets(a, 10.0, "touch"), [0.0, 0.25, 10.0])
    np.testing.assert_array_equal(actions_to_offsets(a, 10.0, "mid"), [0.0, 5.0, 10.0])
    # The default is "touch"; a range narrower than half a tick keeps 0 in its middle.
    np.testing.assert_array_equal(actions_to_offsets(a, 10.0), [0.0, 0.25, 10.0])
    np.testing.assert_array_equal(actions_to_offsets(a, 0.4, "touch"), [0.0, 0.2, 0.4])
    # Out-of-range actions are clipped; the map is increasing.
    np.testing.assert_array_equal(actions_to_offsets([-3.0, 3.0], 10.0), [0.0, 10.0])
    x = np.linspace(-1, 1, 2001)
    assert (np.diff(actions_to_offsets(x, 10.0)) > 0).all()


@pytest.mark.parametrize("mapping", ["touch", "mid"])  # "spread_skew" maps pairs: its own file
def test_scalar_twin_is_bit_identical(mapping):
    x = np.concatenate([np.linspace(-1.5, 1.5, 301), [-0.0, 0.0, 1e-17, -1e-17, -1 + 1e-16]])
    for max_offset in MAX_OFFSETS:
        batched = actions_to_offsets(x, max_offset, mapping).view(np.int64)  # bits: -0.0 too
        bound = offset_function(max_offset, mapping)  # what the single env maps with
        for scalar in (bound, lambda v, m=max_offset: action_to_offset(v, m, mapping)):
            got = np.array([scalar(v) for v in x.tolist()]).view(np.int64)
            np.testing.assert_array_equal(got, batched)


@pytest.mark.parametrize("max_offset", MAX_OFFSETS)
def test_inverse_round_trips_and_keeps_every_price(max_offset):
    rng = np.random.default_rng(0)
    halves = np.arange(0.0, 2 * max_offset + 1) / 2
    near = np.concatenate([halves - 1e-7, halves + 1e-7, halves - 3e-7, halves + 3e-7])
    offsets = np.clip(
        np.concatenate([halves, near, rng.uniform(0, max_offset, 5000)]), 0.0, max_offset
    )
    a = offsets_to_actions(offsets, max_offset, "touch")
    assert a.dtype == np.float32 and (np.abs(a) <= 1).all()
    back = actions_to_offsets(a, max_offset, "touch")
    np.testing.assert_array_equal(_price_class(back), _price_class(offsets))
    np.testing.assert_allclose(back, offsets, atol=2e-5 * max(max_offset, 1.0))
    # And actions -> offsets -> actions.
    x = rng.uniform(-1, 1, 5000).astype(np.float32)
    again = offsets_to_actions(actions_to_offsets(x, max_offset, "touch"), max_offset, "touch")
    np.testing.assert_allclose(again, x, atol=1e-5)


def test_mid_inverse_is_the_old_function():
    o = np.random.default_rng(1).uniform(-1, 12, 1000)
    old = (np.clip(o, 0.0, 10.0) / 5.0 - 1.0).astype(np.float32)
    np.testing.assert_array_equal(offsets_to_actions(o, 10.0, "mid"), old)


def test_action_mapping_is_validated():
    allowed = r"choose one of \['touch', 'mid', 'spread_skew'\]"
    with pytest.raises(ConfigError, match=r"action_mapping='linear' is not valid: " + allowed):
        EnvConfig(action_mapping="linear")
    with pytest.raises(ConfigError, match="action_mapping=3"):
        gym.make(ID, action_mapping=3)
    with pytest.raises(ValueError, match="action_mapping='x'"):
        offsets_to_actions(np.zeros(2), 10.0, "x")
    with pytest.raises(ValueError, match="action_mapping='x'"):
        actions_to_offsets(np.zeros(2), 10.0, "x")
    assert EnvConfig().action_mapping == "touch"
    assert gym.make(ID).unwrapped.policy_context().action_mapping == "touch"
    assert gym.make(ID, action_mapping="mid").unwrapped.policy_context().action_mapping == "mid"


# ---------------------------------------------------------------------- a fresh policy trades
def test_action_zero_fills_on_a_fresh_env():
    touch = _fills_at_action_zero("touch")
    mid = _fills_at_action_zero("mid")
    # Measured: touch about 85 fills per market in 200 steps, mid none (5 ticks behind the book).
    assert (touch >= 20).all(), touch
    assert (touch > mid).all() and mid.sum() <= 2, (touch, mid)


@pytest.mark.parametrize("mapping", ACTION_MAPPINGS)
def test_single_and_vector_envs_quote_the_same_offsets(mapping):
    action = np.array([-0.37, 0.61], np.float32)
    env = gym.make(ID, action_mapping=mapping)
    env.reset(seed=0)
    env.step(action)
    envs = gym.make_vec(ID, num_envs=2, action_mapping=mapping)
    envs.reset(seed=0)
    envs.step(np.stack([action, action]))
    want = actions_to_offsets(action, 10.0, mapping)
    np.testing.assert_array_equal(env.unwrapped._core.quotes[0, 0, :2], want)
    np.testing.assert_array_equal(envs.unwrapped._core.quotes[:, 0, :2], [want, want])


# ---------------------------------------------------------------------- baselines unchanged
@pytest.mark.parametrize(
    "policy",
    [
        FixedSpread(1.0),
        FixedSpread(2.0),
        OrderFlowSkew(),
        AvellanedaStoikov(gamma=0.1, k=1.5),
        GLFT(gamma=0.1, k=1.5, A=1.0),
        RandomQuoter(),
    ],
    ids=lambda p: p.name,
)
def test_baselines_quote_exactly_as_before(policy):
    """Each baseline's rollout is bit-identical under "touch" and under the old "mid"."""
    old = baseline_rollout(ID, policy, "mid")
    new = baseline_rollout(ID, policy, "touch")
    for key in old:
        np.testing.assert_array_equal(new[key], old[key], err_msg=key)


def test_stored_calibrations_still_apply_under_both_mappings():
    """Calibrations are in ticks: the mapping must not change their config fingerprint."""
    from baselines.calibration import DEFAULT_CALIBRATIONS, config_fingerprint

    for setting, stored in DEFAULT_CALIBRATIONS.items():
        for mapping in ACTION_MAPPINGS:
            fp = config_fingerprint(setting, {"action_mapping": mapping})
            assert fp == stored.fingerprint, (setting, mapping)


# ---------------------------------------------------------------------- saved runs
def _ctx(mapping: str, max_offset: float = 10.0) -> PolicyContext:
    return PolicyContext(
        feature_names=FEATURE_NAMES, max_offset_ticks=max_offset, horizon_steps=1000,
        inventory_limit=20, action_mapping=mapping,
    )  # fmt: skip


def test_policy_file_without_mapping_keeps_the_old_mapping(tmp_path):
    obs = np.random.default_rng(2).normal(size=(400, len(FEATURE_NAMES))).astype(np.float32)
    save_policy_arrays(tmp_path / "policy.npz", toy_policy_arrays())  # no action_mapping
    old = load_policy(tmp_path / "policy.npz")
    assert old.action_mapping == "mid"
    old.reset(np.random.default_rng(0), _ctx("mid"))
    trained = old.act(obs)  # in its own mapping: no conversion
    old.reset(np.random.default_rng(0), _ctx("touch"))
    here = old.act(obs)
    assert not np.array_equal(here, trained)
    # The same prices as in training, in the new env.
    np.testing.assert_array_equal(
        _price_class(actions_to_offsets(here, 10.0, "touch")),
        _price_class(actions_to_offsets(trained, 10.0, "mid")),
    )
    # A file that records its mapping is read with it; the same mapping converts nothing.
    arrays = toy_policy_arrays()
    arrays["action_mapping"] = np.array("touch")
    new = PPOPolicy(arrays)
    new.reset(np.random.default_rng(0), _ctx("touch"))
    np.testing.assert_array_equal(new.act(obs), trained)


def test_policy_file_with_an_unknown_mapping_is_refused(tmp_path):
    arrays = toy_policy_arrays()
    arrays["action_mapping"] = np.array("linear")
    save_policy_arrays(tmp_path / "policy.npz", arrays)
    with pytest.raises(PolicyFileError, match=r"action_mapping='linear' is not valid"):
        load_policy(tmp_path / "policy.npz")


def test_env_pickled_before_the_field_unpickles_with_the_old_mapping():
    env = gym.make(ID).unwrapped
    env.reset(seed=0)
    # What an older version pickled: neither the config nor the core knew the mapping.
    del env.env_config.__dict__["action_mapping"]
    del env._core.__dict__["action_mapping"]
    restored = pickle.loads(pickle.dumps(env))
    assert restored.env_config.action_mapping == "mid"
    assert restored.policy_context().action_mapping == "mid"
    restored.step(np.zeros(2, np.float32))
    np.testing.assert_array_equal(restored._core.quotes[0, 0, :2], [5.0, 5.0])
    state = dataclasses.asdict(EnvConfig())
    del state["action_mapping"]
    config = EnvConfig.__new__(EnvConfig)
    config.__setstate__(state)
    assert config.action_mapping == "mid" and config == EnvConfig(action_mapping="mid")


def test_train_resumes_old_settings_with_init_offset_ticks(tmp_path):
    train = load_script("train.py", "train_cli_mapping")
    saved = dataclasses.asdict(train.Args())
    saved["init_offset_ticks"] = 1.0  # written by train.py before the "touch" mapping
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(saved))
    args = train.resumed_settings(train.Args(resume=str(tmp_path)), {"resume"}, tmp_path)
    assert args.resume == str(tmp_path) and not hasattr(args, "init_offset_ticks")


def test_sb3_adapter_pickled_before_the_field_reads_the_old_mapping():
    from agents.vec_env import MarketMakingSB3VecEnv

    venv = MarketMakingSB3VecEnv(gym.make_vec(ID, num_envs=2, horizon_steps=20))
    assert (venv._max_offset, venv._mapping) == (10.0, "touch")
    state = venv.__getstate__()
    del state["_max_offset"], state["_mapping"]
    state["_half_offset"] = 5.0  # what the adapter kept before
    old = MarketMakingSB3VecEnv.__new__(MarketMakingSB3VecEnv)
    old.__setstate__(state)
    assert (old._max_offset, old._mapping) == (10.0, "mid")


def test_train_records_the_mapping_and_resumes_an_old_run_with_the_old_one(tmp_path):
    from agents.training import _StatePickler

    train = load_script("train.py", "train_cli_mapping")
    tiny = [
        "--n-envs", "8", "--n-steps", "16", "--batch-size", "64", "--n-epochs", "1",
        "--net-arch", "8", "--env-kwargs", "horizon_steps=40", "--no-progress",
        "--eval-episodes", "0", "--runs-dir", str(tmp_path), "--run-name", "run",
    ]  # fmt: skip
    run = train.main([*tiny, "--total-timesteps", "128"])
    assert json.loads((run / "metadata.json").read_text())["action_mapping"] == "touch"
    assert load_policy(run).action_mapping == "touch"
    # Make the run look like one saved before the field: no mapping in its pickled env, an
    # --init-offset-ticks in its settings.
    pkl = run / "checkpoint" / "env_state.pkl"
    with open(pkl, "rb") as fh:
        state = pickle.load(fh)
    adapter = state["env"]
    adapter._half_offset = 0.5 * adapter.__dict__.pop("_max_offset")
    del adapter._mapping
    native = adapter.env.unwrapped
    del native.env_config.__dict__["action_mapping"]
    del native._core.__dict__["action_mapping"]
    with open(pkl, "wb") as fh:
        _StatePickler(fh, protocol=pickle.HIGHEST_PROTOCOL).dump(state)
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["init_offset_ticks"] = 1.0
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    # --trust: the pickle no longer matches its recorded digest.
    train.main(["--resume", str(run), "--total-timesteps", "256", "--trust"])
    meta = json.loads((run / "metadata.json").read_text())
    assert meta["num_timesteps"] == 256 and meta["action_mapping"] == "mid"
    assert load_policy(run).action_mapping == "mid"


# ---------------------------------------------------------------------- learning signal
@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="on the v1 (book) market SB3 PPO with default hyper-parameters does not improve on "
    "its start in a short run: the fresh policy quotes the touch on both sides (+197 on the "
    "held-out seeds) and training drifts to one-sided quoting at the inventory limit (-462, "
    "-254, -484 after 49,152 steps, PPO seeds 0-2; measured at 0.2.0): PPO improves its "
    "exploring policy, which quotes one side off the touch on half its steps, not the "
    "deterministic one (see the docstring); issue #13 item 1, open",
)
def test_sb3_ppo_with_default_hyperparameters_learns_a_positive_reward():
    """SB3 PPO, default hyper-parameters, default id: a positive reward, better than its start.

    Deterministic episodes on held-out seeds 100-102, one env, one torch thread. Measured at
    0.2.0 (action 0 at 0.25 tick): the fresh policy of every PPO seed quotes the touch on both
    sides and scores +197 (546 fills an episode, mean |inventory| 7.7 lots). After 8,192 /
    24,576 / 49,152 steps: seed 0 -423 / -469 / -462, seed 1 +91 / -158 / -254, seed 2 +30 /
    -444 / -484 (49,152 steps take about 90-130 s on 2 shared cores). The trained policies quote
    one side at the touch and the other 1.6-3.6 ticks behind and sit at 17-19 lots (limit 20):
    moving one quote back first avoids that side's adversely selected fills, and the inventory
    penalty it costs comes later than PPO's default horizon credits. With 8 envs, with or
    without VecNormalize, no run of PPO seeds 0-3 ended above max(start, 0) at 196,608 steps
    either (action 0 at 0.5 tick then). ``train.py``'s settings (512 envs, VecNormalize,
    20 M steps) are what reach a positive held-out reward (README, Training). On the 0.1 market
    this test passed: -320 -> +112 at 24,576 steps.

    Diagnosis (24,576 steps, PPO seeds 0-2, unless said): the start is close to the best a
    simple quoter does here: both sides at the touch, pulling the heavy side 2 ticks back
    beyond 3 / 5 / 8 lots of inventory, score +229 / +203 / +197 on seeds 100-102 (start +197).
    Action 0 sits at the edge of the touch: every offset action above 0.0257 backs a side off,
    so about half of PPO's exploration samples on each side, independently, quote behind the
    touch whatever the exploration std (at std 1 this exploring policy, scripted, scores -44
    an episode; log_std_init=-2, as a diagnostic only, still ends at +177 / +133 / +174, with
    upfront penalties +126 / +147 / +17). PPO does improve the exploring policy it is graded
    on (its training episode return rises from about +6 to +15 / +52 / +59 at 98,304 steps
    with upfront penalties and O(1) observations), but the optimum of that noisy policy quotes
    wider (learned mean offsets 0.35-2.6 ticks, 0.25 at the start), so the deterministic
    policy falls below its start. Not the cause: the observation scale (features scaled to
    O(1): -257 / -178 / -298; with upfront penalties -13 / +63 / +86, at 98,304 steps +55 /
    +101 / +121); the value fit (explained variance 0.0-0.2; reward_scale=0.1 lifts it to
    0.1-0.5, held-out +52 / +89 / +171 in unscaled units); max_offset_ticks=3 with upfront
    penalties and O(1) observations (+179 / +227 / +209, and +149 / +143 / +155 at 49,152).
    Closest, not enough: a wrapper mapping the actions (-1, 0.6] to the touch interval keeps
    the deterministic policy at its start (+197 / +208 / +197, upfront penalties), and with
    O(1) observations too it ends at +267 / +9 / +223 at 49,152 steps. The opt-in
    ``action_mapping="spread_skew"`` (half-spread and skew, both with a wide region at the
    touch) passes this protocol on PPO seeds 0-2 (+202 / +244 / +257), the seeds its constants
    were chosen on, and fails it on fresh seeds 3-5 (+149 / -41 / -438).
    """
    before, after, fills_before, fills_after, elapsed = sb3_ppo_before_and_after(ID, 24_576)
    assert fills_before > 0 and fills_after > 0
    assert np.mean(after) > max(np.mean(before), 0.0), (before, after, elapsed)
