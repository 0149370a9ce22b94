"""The single-agent environment: registration, API checkers, config, actions, seeding, rewards,
episode end, info, rendering, pickling, rival policies, SB3 smoke."""

from __future__ import annotations

import copy
import pickle
import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env, data_equivalence

import mm_gym
from mm_gym.config import ConfigError
from mm_gym.envs.config import EnvConfig
from mm_gym.observations import FEATURE_NAMES, REGIME_FEATURES
from mm_gym.policy import PolicyContext

ID = "mm_gym/MarketMaking-v1"


def rollout(env: gym.Env, seed: int, actions: np.ndarray, episodes: int = 1) -> list:
    """Everything observable from ``episodes`` episodes driven by ``actions`` (cycled)."""
    out = [env.reset(seed=seed)]
    k = 0
    for e in range(episodes):
        if e:
            out.append(env.reset())
        while True:
            step = env.step(actions[k % len(actions)])
            k += 1
            out.append(step)
            if step[2] or step[3]:
                break
    return out


def random_actions(space: gym.Space, n: int, seed: int = 0) -> list:
    space.seed(seed)
    return [space.sample() for _ in range(n)]


# --------------------------------------------------------------------------- registration


@pytest.mark.parametrize(
    "code",
    [
        pytest.param(
            "import sys, gymnasium as gym, mm_gym\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n"
            "assert 'numba' not in sys.modules, 'numba imported'\n"
            "assert 'mm_gym/MarketMaking-v1' in gym.registry\n",
            id="import_registers_without_numba_or_torch",
        ),
        pytest.param(
            "import gymnasium as gym\n"
            "env = gym.make('mm_gym:mm_gym/MarketMaking-v1', horizon_steps=5)\n"
            "env.reset(seed=0)\n"
            "assert env.step(env.action_space.sample())[0].shape == (17,)\n",
            id="make_with_module_prefix",
        ),
    ],
)
def test_in_fresh_interpreter(code):
    subprocess.run([sys.executable, "-c", code], check=True)


def test_registered_ids_are_versioned():
    for env_id in mm_gym.ENV_IDS:
        assert env_id in gym.registry
        assert env_id.startswith("mm_gym/") and env_id.endswith("-v1")
    assert {"mm_gym/MeanReverting-v1", "mm_gym/Trending-v1", "mm_gym/Switching-v1"} <= set(
        mm_gym.ENV_IDS
    )
    assert gym.spec("mm_gym/ShockHeavy-v1").kwargs["preset"] == "shock_heavy"


@pytest.mark.parametrize("env_id", mm_gym.ENV_IDS)
def test_gymnasium_check_env(env_id):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(gym.make(env_id).unwrapped)


@pytest.mark.parametrize("env_id", mm_gym.ENV_IDS)
def test_sb3_check_env(env_id):
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sb3_check_env(gym.make(env_id).unwrapped, warn=True)


@pytest.mark.parametrize("action_type", ["continuous_sizes", "discrete"])
def test_check_env_other_action_types(action_type):
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(gym.make(ID, action_type=action_type, observe_regime=True).unwrapped)
        sb3_check_env(gym.make(ID, action_type=action_type).unwrapped, warn=True)


@pytest.mark.parametrize(
    ("env_id", "regime"),
    [
        ("mm_gym/MeanReverting-v1", "mean_reverting"),
        ("mm_gym/Trending-v1", "trending"),
        ("mm_gym/Switching-v1", "switching"),
    ],
)
def test_ids_use_their_preset(env_id, regime):
    assert gym.make(env_id).unwrapped.market_config.regime == regime


def test_shock_heavy_has_more_shocks():
    def shocks(env_id):
        env = gym.make(env_id, horizon_steps=2_000)
        env.reset(seed=1)
        n = 0
        for _ in range(2_000):
            n += env.step(np.zeros(2, np.float32))[4]["shock"]
        return n

    assert shocks("mm_gym/ShockHeavy-v1") > 3 * max(shocks(ID), 1)


# --------------------------------------------------------------------------- configuration


def test_keyword_overrides_reach_both_configs():
    env = gym.make(
        ID,
        regime="trending",
        horizon_steps=123,
        mm1_limit=7,
        mm2_limit=9,
        inventory_penalty=0.05,
        observe_regime=True,
        action_type="discrete",
        max_offset_ticks=4.0,
        **{"flow.shock_rate": 0.02, "process.sigma_ticks": 1.5},
    ).unwrapped
    m, e = env.market_config, env.env_config
    assert (m.regime, m.horizon_steps) == ("trending", 123)
    assert (m.makers.mm1_limit, m.makers.mm2_limit) == (7, 9)
    assert m.flow.shock_rate == 0.02 and m.process.sigma_ticks == 1.5
    assert e.inventory_penalty == 0.05 and e.observe_regime and e.max_offset_ticks == 4.0
    assert isinstance(env.action_space, gym.spaces.Discrete)
    assert env.feature_names == FEATURE_NAMES + REGIME_FEATURES
    assert env.observation_space.shape == (len(FEATURE_NAMES) + len(REGIME_FEATURES),)


def test_config_objects_and_nested_mapping():
    cfg = mm_gym.preset("volatile")
    env = gym.make(ID, config=cfg, env_config=EnvConfig(reward_scale=0.5), flow={"lo_rate": 3.0})
    u = env.unwrapped
    assert u.market_config.regime == "volatile" and u.market_config.flow.lo_rate == 3.0
    assert u.env_config.reward_scale == 0.5


def test_unknown_key_lists_valid_keys():
    with pytest.raises(ConfigError, match="unknown key 'inventory_penalti'") as err:
        gym.make(ID, inventory_penalti=0.1)
    assert "inventory_penalty" in str(err.value) and "horizon_steps" in str(err.value)
    with pytest.raises(ConfigError, match="shock_rat"):
        gym.make(ID, **{"flow.shock_rat": 0.1})


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("inventory_penalty", -1.0, "inventory_penalty=-1.0"),
        ("max_offset_ticks", 0.0, "max_offset_ticks=0.0"),
        ("action_type", "box", "action_type='box'"),
        ("dampening", 1.5, r"dampening=1.5 is out of range"),
        ("utility", "log", "utility='log'"),
        ("quote_size_lots", 0, "quote_size_lots=0"),
        ("max_drawdown", -5.0, "max_drawdown=-5.0"),
        ("discrete_skews_ticks", (), "discrete_skews_ticks"),
        ("observe_regime", "yes", "observe_regime='yes'"),
        ("horizon_steps", 0, "horizon_steps=0"),
        ("mm1_limit", 0, "mm1_limit=0"),
    ],
)
def test_invalid_values_raise_config_error(key, value, match):
    with pytest.raises(ConfigError, match=match):
        gym.make(ID, **{key: value})


def test_env_config_is_frozen():
    cfg = EnvConfig()
    with pytest.raises(AttributeError):
        cfg.reward_scale = 2.0  # type: ignore[misc]


def test_render_mode_and_rival_validated():
    with pytest.raises(ConfigError, match="render_mode='text'"):
        mm_gym.MarketMakingEnv(render_mode="text")
    with pytest.raises(ConfigError, match="rival="):
        gym.make(ID, rival=object())
    with pytest.raises(ConfigError, match="rival='scripted'"):
        gym.make(ID, rival="scripted")


# --------------------------------------------------------------------------- actions


@pytest.mark.parametrize(
    "action",
    [
        np.array([np.nan, 0.0], np.float32),
        np.array([0.0, np.inf], np.float32),
        [0.0, -np.inf],
        np.zeros(3, np.float32),
        np.zeros((1, 2), np.float32),
        "buy",
        None,
    ],
)
def test_bad_continuous_actions_raise_value_error(action):
    env = gym.make(ID).unwrapped
    env.reset(seed=0)
    with pytest.raises(ValueError, match="invalid action"):
        env.step(action)


@pytest.mark.parametrize("action", [-1, 20, 2.0, True, np.array([1]), "3"])
def test_bad_discrete_actions_raise_value_error(action):
    env = gym.make(ID, action_type="discrete").unwrapped
    env.reset(seed=0)
    with pytest.raises(ValueError, match="invalid action"):
        env.step(action)


def test_actions_map_to_quotes():
    env = gym.make(ID, action_type="continuous_sizes", max_offset_ticks=8.0, max_size_lots=4)
    env.reset(seed=0)
    env.step(np.array([-1.0, 1.0, 1.0, -0.5], np.float32))
    q = env.unwrapped._core.quotes[0, 0]
    assert q.tolist() == [0.0, 8.0, 4.0, 1.0]  # rint(0.25 * 4) = 1
    env.step([5.0, -5.0, -1.0, 0.0])  # clipped to [-1, 1]
    assert q.tolist() == [8.0, 0.0, 0.0, 2.0]
    denv = gym.make(
        ID,
        action_type="discrete",
        discrete_half_spreads_ticks=(1.0, 3.0),
        discrete_skews_ticks=(-2.0, 0.0, 2.0),
        quote_size_lots=2,
    )
    denv.reset(seed=0)
    assert denv.action_space.n == 6
    denv.step(5)  # h = 3, s = 2: bid offset 5, ask offset 1
    assert denv.unwrapped._core.quotes[0, 0].tolist() == [5.0, 1.0, 2.0, 2.0]
    denv.step(np.int64(0))  # h = 1, s = -2: bid offset max(-1, 0) = 0, ask offset 3
    assert denv.unwrapped._core.quotes[0, 0].tolist() == [0.0, 3.0, 2.0, 2.0]


def test_tight_quotes_get_filled():
    env = gym.make(ID)
    env.reset(seed=3)
    fills = sum(env.step(np.array([-1.0, -1.0], np.float32))[4]["fills"] for _ in range(200))
    assert fills > 20


# --------------------------------------------------------------------------- seeding


def test_same_seed_gives_bit_identical_rollouts():
    actions = random_actions(gym.make(ID).action_space, 100)
    a = rollout(gym.make(ID, horizon_steps=60), 7, actions, episodes=3)
    b = rollout(gym.make(ID, horizon_steps=60), 7, actions, episodes=3)
    assert data_equivalence(a, b, exact=True)
    c = rollout(gym.make(ID, horizon_steps=60), 8, actions, episodes=3)
    assert not data_equivalence(a, c)


def test_reset_without_seed_continues_the_seed_sequence():
    env = gym.make(ID, horizon_steps=5)
    first = env.reset(seed=11)[0]
    second = env.reset()[0]
    again = gym.make(ID, horizon_steps=5)
    assert np.array_equal(again.reset(seed=11)[0], first)
    assert np.array_equal(again.reset()[0], second)
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("price_formation", ["book", "legacy"])
def test_exogenous_path_does_not_depend_on_the_policy(price_formation):
    # Regime, sentiment and news are exogenous in both models. The hidden fundamental is
    # exogenous only in "legacy"; in "book" (the default) it is the informed traders' target,
    # the mid plus a decaying gap, so it moves with the mid the makers' orders move.
    def path(action):
        env = gym.make(
            "mm_gym/Switching-v1", horizon_steps=400, price_formation=price_formation
        ).unwrapped
        env.reset(seed=5)
        sim = env.simulator
        rows, inventories = [], []
        for _ in range(400):
            info = env.step(action)[4]
            rows.append(
                (sim.fundamental[0], sim.regime[0], sim.sentiment[0], sim.latent_sentiment[0])
            )
            inventories.append(info["inventory"])
        return np.array(rows), np.array(inventories)

    tight, inv_tight = path(np.array([-1.0, -1.0], np.float32))
    wide, inv_wide = path(np.array([1.0, 0.2], np.float32))
    exogenous = slice(0, 4) if price_formation == "legacy" else slice(1, 4)
    assert np.array_equal(tight[:, exogenous], wide[:, exogenous])
    assert not np.array_equal(inv_tight, inv_wide)  # the policies did trade differently


@pytest.mark.parametrize("copier", ["pickle", "deepcopy"])
def test_pickle_and_deepcopy_mid_episode(copier):
    env = gym.make(ID, horizon_steps=100, render_mode="ansi")
    actions = random_actions(env.action_space, 100)
    env.reset(seed=2)
    for k in range(40):
        env.step(actions[k])
    clone = pickle.loads(pickle.dumps(env)) if copier == "pickle" else copy.deepcopy(env)
    assert clone.render() == env.render()
    for k in range(40, 100):
        a, b = env.step(actions[k]), clone.step(actions[k])
        assert data_equivalence(a, b, exact=True)
    assert data_equivalence(env.reset(), clone.reset(), exact=True)


# --------------------------------------------------------------------------- episode, reward, info


def test_terminates_at_horizon_with_time_left_zero():
    env = gym.make(ID, horizon_steps=25)
    obs, info = env.reset(seed=0)
    assert obs[1] == 1.0 and info["step"] == 0
    for t in range(1, 26):
        obs, _, terminated, truncated, info = env.step(np.zeros(2, np.float32))
        assert terminated == (t == 25) and not truncated and info["step"] == t
    assert obs[FEATURE_NAMES.index("time_left")] == 0.0
    with pytest.raises(RuntimeError, match="finished episode"):
        env.unwrapped.step(np.zeros(2, np.float32))


def test_step_before_reset_raises():
    with pytest.raises(RuntimeError, match="before reset"):
        gym.make(ID).unwrapped.step(np.zeros(2, np.float32))


def test_reward_is_pnl_change_minus_penalties():
    phi, psi = 0.01, 0.5
    env = gym.make(ID, horizon_steps=300, inventory_penalty=phi, terminal_penalty=psi)
    _, info = env.reset(seed=4)
    prev_pnl, prev_inv, prev_mid = info["pnl"], info["inventory"], info["mid"]
    value = env.unwrapped.market_config.value_per_tick_lot / env.unwrapped.market_config.tick_size
    seen_inventory = False
    for _ in range(300):
        _, reward, terminated, _, info = env.step(np.array([-1.0, -0.9], np.float32))
        c = info["reward_components"]
        q = info["inventory"]
        seen_inventory |= q != 0
        assert c["pnl"] == pytest.approx(info["pnl"] - prev_pnl, abs=1e-9)
        assert c["inventory_pnl"] == pytest.approx(prev_inv * (info["mid"] - prev_mid) * value)
        assert c["inventory_penalty"] == pytest.approx(phi * q * q)
        assert c["terminal_penalty"] == (pytest.approx(psi * q * q) if terminated else 0.0)
        expected = c["pnl"] - c["inventory_penalty"] - c["terminal_penalty"]
        assert reward == pytest.approx(expected, abs=1e-12)
        prev_pnl, prev_inv, prev_mid = info["pnl"], q, info["mid"]
    assert terminated and seen_inventory


def test_dampening_and_scale():
    kw = {"horizon_steps": 200, "inventory_penalty": 0.0, "terminal_penalty": 0.0}
    plain = gym.make(ID, **kw)
    damped = gym.make(ID, dampening=0.7, reward_scale=0.1, **kw)
    plain.reset(seed=9)
    damped.reset(seed=9)
    hit = False
    for _ in range(200):
        a = np.array([-1.0, -0.5], np.float32)
        _, r0, *_ = plain.step(a)
        _, r1, _, _, info = damped.step(a)
        ipnl = info["reward_components"]["inventory_pnl"]
        assert r1 == pytest.approx(0.1 * (r0 - 0.7 * max(ipnl, 0.0)), abs=1e-9)
        hit |= ipnl > 0
    assert hit


def test_cara_utility_is_paid_at_the_end_only():
    env = gym.make(
        ID, horizon_steps=50, utility="cara", cara_gamma=0.05, inventory_penalty=0.0,
        terminal_penalty=0.0,
    )  # fmt: skip
    env.reset(seed=1)
    for t in range(50):
        _, reward, terminated, _, info = env.step(np.array([-0.8, -0.8], np.float32))
        if t < 49:
            assert reward == 0.0
    w = info["pnl"]
    assert terminated and reward == pytest.approx((1.0 - np.exp(-0.05 * w)) / 0.05)


def test_drawdown_limit_terminates_early():
    env = gym.make(ID, max_drawdown=2.0, horizon_steps=5_000, **{"flow.shock_rate": 0.05})
    env.reset(seed=0)
    peak = 0.0
    for _ in range(5_000):
        _, _, terminated, _, info = env.step(np.array([-1.0, -1.0], np.float32))
        peak = max(peak, info["pnl"])
        if terminated:
            break
    assert terminated and info["step"] < 5_000 and peak - info["pnl"] >= 2.0


def test_info_is_flat_and_consistent():
    env = gym.make(ID, horizon_steps=200)
    _, info = env.reset(seed=6)
    keys = {"pnl", "realized", "unrealized", "fees", "cash", "inventory", "mid", "fills", "regime"}
    assert keys | {"shock", "step", "rival_pnl", "rival_inventory", "reward_components"} == set(
        info
    )
    for _ in range(200):
        info = env.step(np.array([-0.9, -1.0], np.float32))[4]
        for key, value in info.items():
            if key != "reward_components":
                assert isinstance(value, (int, float, bool)), key
        assert all(isinstance(v, float) for v in info["reward_components"].values())
        assert info["pnl"] == pytest.approx(
            info["realized"] + info["unrealized"] + info["fees"], abs=1e-6
        )
        assert 50.0 < info["mid"] < 150.0  # price units, not ticks
        assert info["regime"] == 0


def test_observe_regime_one_hot_matches_info():
    env = gym.make("mm_gym/Switching-v1", observe_regime=True, horizon_steps=300)
    obs, info = env.reset(seed=3)
    for _ in range(300):
        assert obs[17 + info["regime"]] == 1.0 and obs[17:].sum() == 1.0
        obs, _, _, _, info = env.step(env.action_space.sample())


def test_observations_stay_in_bounds_over_long_run():
    env = gym.make("mm_gym/ShockHeavy-v1", horizon_steps=3_000)
    space = env.observation_space
    obs, _ = env.reset(seed=0)
    env.action_space.seed(0)
    for _ in range(3_000):
        assert obs.dtype == np.float32 and space.contains(obs)
        obs = env.step(env.action_space.sample())[0]


# --------------------------------------------------------------------------- rival policies


class ScriptedRival:
    """A minimal QuotingPolicy: fixed offsets, with a random jitter from its rng."""

    name = "scripted"

    def __init__(self) -> None:
        self.resets: list[PolicyContext] = []
        self.seen_shapes: set[tuple[int, ...]] = set()

    def reset(self, rng: np.random.Generator, context: PolicyContext) -> None:
        self.rng = rng
        self.resets.append(context)

    def act(self, obs: np.ndarray) -> np.ndarray:
        self.seen_shapes.add(obs.shape)
        jitter = self.rng.uniform(-0.1, 0.1, (obs.shape[0], 1))
        return np.full((obs.shape[0], 2), -0.6) + jitter


def test_policy_rival_quotes_mm2_and_is_reset_with_context():
    rival = ScriptedRival()
    env = gym.make(ID, rival=rival, horizon_steps=300, mm2_limit=11)
    env.reset(seed=0)
    rival_fills = 0
    for _ in range(300):
        info = env.step(np.array([1.0, 1.0], np.float32))[4]
        rival_fills += info["rival_inventory"] != 0
    ctx = rival.resets[0]
    assert ctx.inventory_limit == 11 and ctx.feature_names == FEATURE_NAMES
    assert ctx.max_offset_ticks == env.unwrapped.env_config.max_offset_ticks
    assert rival.seen_shapes == {(1, len(FEATURE_NAMES))}
    assert not env.unwrapped._core.builtin_rival
    assert rival_fills > 0


def test_policy_rival_rollouts_are_reproducible():
    actions = random_actions(gym.make(ID).action_space, 50)
    a = rollout(gym.make(ID, rival=ScriptedRival(), horizon_steps=40), 3, actions, episodes=2)
    b = rollout(gym.make(ID, rival=ScriptedRival(), horizon_steps=40), 3, actions, episodes=2)
    assert data_equivalence(a, b, exact=True)


def test_baseline_policy_as_rival():
    baselines = pytest.importorskip("baselines")
    env = gym.make(ID, rival=baselines.FixedSpread(), horizon_steps=100)
    env.reset(seed=0)
    for _ in range(100):
        env.step(np.array([1.0, 1.0], np.float32))
    offsets = env.unwrapped._core.quotes[0, 1, :2]
    assert np.allclose(offsets, 2.0, atol=1e-5)


def test_bad_rival_actions_raise():
    class Broken(ScriptedRival):
        def act(self, obs):
            return np.full((1, 2), np.nan)

    env = gym.make(ID, rival=Broken())
    env.reset(seed=0)
    with pytest.raises(ValueError, match="rival"):
        env.step(np.zeros(2, np.float32))


# --------------------------------------------------------------------------- rendering


def test_render_ansi_shows_ladder_and_quotes():
    env = gym.make(ID, render_mode="ansi")
    env.reset(seed=0)
    # 4 steps: in the book market mm1's bid of seed 0 fills in step 5, and a filled order
    # leaves the ladder until the next step's quotes
    for _ in range(4):
        env.step(np.array([-0.8, -0.8], np.float32))
    text = env.render()
    assert "mid" in text and "mm1 bid" in text and "mm2 ask" in text and "inventory" in text


def test_render_human_writes_the_ladder_to_stdout_without_pygame(capsys):
    """``render_mode="human"``: the text ladder at every reset and step, no window (pygame is
    not a dependency: Gymnasium's HumanRendering fallback needed it and failed)."""
    env = gym.make(ID, render_mode="human", horizon_steps=5)
    env.reset(seed=0)
    assert "step 0/5" in capsys.readouterr().out
    env.step(np.zeros(2, np.float32))
    assert "step 1/5" in capsys.readouterr().out
    assert env.render() is None
    assert "-- mid " in capsys.readouterr().out


def test_render_rgb_array_frame():
    env = gym.make(ID, render_mode="rgb_array")
    env.reset(seed=0)
    first = env.render()
    for _ in range(50):
        env.step(env.action_space.sample())
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.shape == (360, 640, 3)
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) > 4
    assert not np.array_equal(first, frame)


def test_render_rgb_array_frame_is_labelled_and_deterministic():
    from mm_gym.envs import render

    frames = []
    for _ in range(2):
        env = gym.make(ID, render_mode="rgb_array", horizon_steps=80)
        env.reset(seed=3)
        for a in random_actions(env.action_space, 40, seed=5):
            env.step(a)
        frames.append(env.render())
    frame = frames[0]
    assert frame.shape == render.FRAME_SHAPE and np.array_equal(frames[0], frames[1])
    bg = np.array(render._BG, np.uint8)

    def inked(rows: slice, cols: slice, color=None) -> int:
        """Pixels of the region that differ from the background (or equal ``color``)."""
        px = frame[rows, cols].reshape(-1, 3)
        if color is None:
            return int((px != bg).any(axis=1).sum())
        return int((px == np.array(color, np.uint8)).all(axis=1).sum())

    h, w, _ = render.FRAME_SHAPE
    top, bottom = render._TOP, h - render._BOTTOM
    # The legend: a swatch in each line's colour, then its name, over a cleared backing.
    legend = (slice(top + 1, top + 15), slice(40, 300))
    for color in render._COLORS:
        assert inked(*legend, color) >= 10, color
    assert inked(*legend) > 300
    # The axis titles under the panels, the y ticks at the left, the depth panel's title,
    # the inventory gauge's label and value: text where the unlabelled frame had background.
    assert inked(slice(bottom + 1, h), slice(0, 120)) > 100  # "y: price - mid (ticks)"
    assert inked(slice(bottom + 1, h), slice(320, render._PANEL_W)) > 100  # "x: last ..."
    assert inked(slice(bottom + 1, h), slice(render._PANEL_W + 1, w)) > 60  # "bar max ..."
    assert inked(slice(top + 1, top + 15), slice(render._PANEL_W + 1, w)) > 100  # depth: bid ask
    assert inked(slice(0, top - 1), slice(0, 80)) > 80  # "mm1 inventory"
    assert inked(slice(0, top - 1), slice(render._GAUGE[1] + 30, w)) > 150  # "q = ... lots"
    # The labels are cached glyph bitmaps: the same text, the same pixels.
    cover, baseline = render.text_bitmap("mm1 bid")
    assert cover.dtype == np.uint16 and 128 < cover.max() <= 256 and 0 < baseline <= cover.shape[0]
    assert render.text_bitmap("mm1 bid")[0] is cover


# --------------------------------------------------------------------------- AS 2008 env


def test_as2008_env_episode_and_seeding():
    env = gym.make("mm_gym/AS2008-v1")
    actions = random_actions(env.action_space, 200)
    a = rollout(env, 3, actions, episodes=2)
    assert len(a) == 2 + 2 * 200
    b = rollout(gym.make("mm_gym/AS2008-v1"), 3, actions, episodes=2)
    assert data_equivalence(a, b, exact=True)
    final = a[-1]
    assert final[2] and final[4]["step"] == 200
    assert final[1] == pytest.approx((1.0 - np.exp(-0.1 * final[4]["pnl"])) / 0.1)


def test_as2008_env_overrides_and_errors():
    env = gym.make("mm_gym/AS2008-v1", utility="pnl", **{"intensity.sigma": 1.0}).unwrapped
    assert env.market_config.intensity.sigma == 1.0 and not env._params.cara
    with pytest.raises(ConfigError, match="unknown key 'regime'"):
        gym.make("mm_gym/AS2008-v1", regime="trending")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="NaN"):
        env.step(np.array([np.nan, 0.0], np.float32))


# --------------------------------------------------------------------------- SB3


def test_sb3_ppo_smoke():
    from stable_baselines3 import PPO

    env = gym.make(ID, horizon_steps=256)
    model = PPO("MlpPolicy", env, n_steps=512, batch_size=128, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=2_048)
    obs, _ = env.reset(seed=0)
    action, _ = model.predict(obs, deterministic=True)
    assert env.action_space.contains(action)


def test_scalar_action_mapping_equals_the_batched_one():
    from mm_gym.actions import (
        action_to_offset,
        action_to_size,
        actions_to_offsets,
        actions_to_sizes,
    )

    x = np.concatenate([np.linspace(-1.5, 1.5, 301), [-0.0, 0.0, 1e-17, -1 + 1e-16]])
    for max_offset in (10.0, 7.0, 3.3):
        batched = actions_to_offsets(x, max_offset)
        assert [action_to_offset(v, max_offset) for v in x.tolist()] == batched.tolist()
    for max_size in (1, 5, 8):
        batched = actions_to_sizes(x, max_size)
        assert [action_to_size(v, max_size) for v in x.tolist()] == batched.tolist()
