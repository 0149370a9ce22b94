"""Reliability of the library (issue #10): threads, bounded config errors, bad actions and seeds.

Each test reproduces one way the environments or the config loader misbehaved on hostile or
mistaken input (an aborted process, a multi-megabyte error message, a string action quietly
turned into a quote, a confusing seed error) and checks the clear error that replaced it.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import mm_gym  # noqa: F401  (registers the ids)
from mm_gym.config import ConfigError, excerpt, load_config
from mm_gym.envs.config import EnvConfig
from mm_gym.envs.intensity import IntensityMarketMakingEnv
from mm_gym.envs.parallel import MarketMakingParallelEnv
from mm_gym.envs.single import MarketMakingEnv
from mm_gym.envs.vector import MarketMakingVectorEnv

ID = "mm_gym/MarketMaking-v1"
REPO = Path(__file__).resolve().parents[1]
MAX_MESSAGE = 1_000  # characters (the list of valid keys is ~550), whatever the value's size


# --------------------------------------------------------------------------- 1. threads

_THREADS_SCRIPT = textwrap.dedent(
    """
    import threading

    import numpy as np

    from mm_gym.envs.vector import MarketMakingVectorEnv

    def rollout(env, seed, out):
        obs, _ = env.reset(seed=seed)
        a = np.full((env.num_envs, 2), -0.5, np.float32)
        total = obs.astype(np.float64).sum()
        for _ in range(300):  # horizon 40: autoresets run the parallel reset kernel too
            obs, rew, *_ = env.step(a)
            total += obs.astype(np.float64).sum() + rew.sum()
        out.append(total)

    envs = [MarketMakingVectorEnv(64, horizon_steps=40) for _ in range(2)]
    assert envs[0].simulator._parallel
    threaded = [[], []]
    workers = [
        threading.Thread(target=rollout, args=(e, 7, threaded[i])) for i, e in enumerate(envs)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    alone = []
    rollout(MarketMakingVectorEnv(64, horizon_steps=40), 7, alone)
    assert threaded[0] == threaded[1] == alone, (threaded, alone)
    print("ok")
    """
)


_SIM_THREADS_SCRIPT = textwrap.dedent(
    """
    import threading
    import numpy as np
    from mm_gym.config import preset
    from mm_gym.market import MarketSimulator

    def run(out, i):
        sim = MarketSimulator(preset("default"), n_markets=64, parallel=True)
        sim.reset(seeds=np.arange(64) + 1000 * i)
        q = sim.quotes_buffer()
        q[:, 0] = [1.0, 1.0, 1, 1]
        for _ in range(300):
            sim.step(q)
        out[i] = sim.total_pnl[:, 0].copy()

    out = {}
    threads = [threading.Thread(target=run, args=(out, i)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    alone = {}
    run(alone, 1)
    assert np.array_equal(out[1], alone[1])
    print("ok")
    """
)


@pytest.mark.parallel
@pytest.mark.parametrize(
    "script",
    [_THREADS_SCRIPT, _SIM_THREADS_SCRIPT],
    ids=["two_vector_envs", "two_simulators"],
)
def test_stepping_from_two_threads_does_not_abort(script):
    # In a subprocess: before the fix numba's workqueue layer aborted the whole interpreter.
    # The lock lives in the simulator, so direct users of MarketSimulator are safe too.
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "ok"


# --------------------------------------------------------------------------- 2. bounded errors


def _fails_quickly(fn, exc=ConfigError) -> str:
    t0 = time.perf_counter()
    with pytest.raises(exc) as err:
        fn()
    assert time.perf_counter() - t0 < 1.0
    message = str(err.value)
    assert len(message) <= MAX_MESSAGE, message[:200]
    assert "\n" not in message
    return message


def test_yaml_alias_bomb_fails_fast(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 9)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size < 400
    message = _fails_quickly(lambda: load_config(path))
    assert "anchor or alias" in message and "bomb.yaml" in message


def test_two_megabyte_yaml_list_fails_fast(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("horizon_steps: [" + "0, " * 700_000 + "0]\n")
    message = _fails_quickly(lambda: load_config(path))
    assert "big.yaml" in message and "at most" in message


def test_many_values_under_the_byte_limit_fail_fast(tmp_path):
    path = tmp_path / "many.json"
    path.write_text('{"horizon_steps": [' + "0," * 200_000 + "0]}")
    message = _fails_quickly(lambda: load_config(path))
    assert "many.json" in message and "values" in message


HUGE_LIST = [0] * 10**6


@pytest.mark.parametrize(
    "overrides",
    [
        {"horizon_steps": HUGE_LIST},  # MarketConfig, via _check_range
        {"regime": "x" * 10**6},  # _check_choice
        {"flow": HUGE_LIST},  # a nested config replaced by a non-mapping
        {"flow.shock_rate": HUGE_LIST},
        {"flow.hawkes": HUGE_LIST},
        {"horizon_steps": 10**5000},  # beyond Python's int-to-str digit limit
        {"inventory_penalty": HUGE_LIST},  # EnvConfig, via _number
        {"quote_size_lots": HUGE_LIST},  # _integer
        {"discrete_half_spreads_ticks": "x" * 10**6},  # _grid
        {"discrete_skews_ticks": [*HUGE_LIST, "x"]},
        {"action_type": "x" * 10**6},
        {"utility": HUGE_LIST},
        {"observe_regime": HUGE_LIST},
        {"k" * 10**6: 1},  # unknown key
        {"flow." + "k" * 10**6: 1},  # unknown nested key
        {"config": HUGE_LIST},
        {"env_config": HUGE_LIST},
        {"preset": "p" * 10**6},
    ],
    ids=lambda o: excerpt(next(iter(o)), 24),
)
def test_huge_override_values_give_short_errors(overrides):
    message = _fails_quickly(lambda: gym.make(ID, **overrides))
    assert "..." in message or "<an integer of about" in message  # cut, not printed in full


def test_huge_override_key_of_wrong_type_gives_short_error():
    key = tuple(range(10**5))
    from mm_gym.envs.config import resolve_configs

    _fails_quickly(lambda: resolve_configs(overrides={key: 1}))


def test_excerpt_is_bounded_and_never_raises():
    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    for value in (HUGE_LIST, "x" * 10**6, 10**5000, {i: i for i in range(10**5)}, Broken()):
        text = excerpt(value)
        assert len(text) <= 80
    assert excerpt(3.5) == "3.5"
    assert excerpt("trending") == "'trending'"
    assert excerpt(HUGE_LIST, 20) == "[0, 0, 0, 0, 0, 0..."


# --------------------------------------------------------------------------- 3. file errors


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("ints.yaml", "1: 2\n", "keys must be names"),
        ("preset.yaml", "preset: [1]\n", "must be a preset name"),
        ("broken.json", '{"regime": "trending",}', "not valid JSON"),
        ("broken.yaml", "regime: [trending\n", "not valid YAML"),
        ("list.yaml", "- 1\n- 2\n", "must hold a mapping"),
        ("binary.yaml", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "not UTF-8 text"),
        ("nul.json", b'{"regime": "trending"}\x00', "NUL bytes"),
        ("unknown.yaml", "horizon_stepz: 5\n", "unknown key"),
        ("badvalue.yaml", "horizon_steps: -3\n", "horizon_steps=-3"),
        ("config.txt", "regime: trending\n", "must end in .yaml"),
    ],
)
def test_config_file_errors_are_one_line_naming_the_file(tmp_path, name, content, expected):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    message = _fails_quickly(lambda: load_config(path))
    assert expected in message
    if expected not in ("unknown key", "horizon_steps=-3"):  # reported by the config classes
        assert name in message


def test_config_path_that_is_a_folder_or_missing(tmp_path):
    folder = tmp_path / "settings.yaml"
    folder.mkdir()
    assert "is a folder" in _fails_quickly(lambda: load_config(folder))
    assert "does not exist" in _fails_quickly(lambda: load_config(tmp_path / "none.yaml"))


# --------------------------------------------------------------------------- 4. actions

BAD_CONTINUOUS = [
    pytest.param(np.array(["0.1", "0.2"]), id="str-array"),
    pytest.param(["0.1", "0.2"], id="str-list"),
    pytest.param(np.array([True, False]), id="bool-array"),
    pytest.param([True, False], id="bool-list"),
    pytest.param([True, 0.5], id="bool-in-float-list"),
    pytest.param(np.array([0.1 + 1j, 0.2]), id="complex-array"),
    pytest.param([0.1j, 0.2], id="complex-list"),
    pytest.param(np.array([0.1, 0.2], dtype=object), id="object-array"),
    pytest.param(b"ab", id="bytes"),
    pytest.param(None, id="None"),
]


def _single(action_type: str = "continuous") -> MarketMakingEnv:
    env = MarketMakingEnv(horizon_steps=20, action_type=action_type)
    env.reset(seed=0)
    return env


@pytest.mark.parametrize("action", BAD_CONTINUOUS)
def test_single_env_refuses_non_numeric_actions(action):
    env = _single()
    message = _fails_quickly(lambda: env.step(action), ValueError)
    assert "MarketMakingEnv" in message and "Box(-1.0, 1.0, (2,), float32)" in message


@pytest.mark.parametrize("action", BAD_CONTINUOUS)
def test_vector_env_refuses_non_numeric_actions(action):
    env = MarketMakingVectorEnv(2, horizon_steps=20)
    env.reset(seed=0)
    batch = action if action is None or isinstance(action, bytes) else [action, action]
    if isinstance(action, np.ndarray):
        batch = np.stack([action, action])
    message = _fails_quickly(lambda: env.step(batch), ValueError)
    assert "MarketMakingVectorEnv" in message and "Box(-1.0, 1.0, (2, 2), float32)" in message


@pytest.mark.parametrize("action", BAD_CONTINUOUS)
def test_parallel_env_refuses_non_numeric_actions(action):
    env = MarketMakingParallelEnv(horizon_steps=20)
    env.reset(seed=0)
    message = _fails_quickly(lambda: env.step({"mm1": [0.0, 0.0], "mm2": action}), ValueError)
    assert "MarketMakingParallelEnv" in message and "mm2" in message and "Box(" in message


@pytest.mark.parametrize("action", BAD_CONTINUOUS)
def test_intensity_env_refuses_non_numeric_actions(action):
    env = IntensityMarketMakingEnv()
    env.reset(seed=0)
    message = _fails_quickly(lambda: env.step(action), ValueError)
    assert "IntensityMarketMakingEnv" in message and "Box(" in message


BAD_DISCRETE = [True, np.bool_(False), 1.0, np.float64(2.0), "3", 1 + 0j, np.array([1]), None]


@pytest.mark.parametrize("action", BAD_DISCRETE, ids=repr)
def test_discrete_actions_must_be_integers(action):
    env = _single("discrete")
    message = _fails_quickly(lambda: env.step(action), ValueError)
    assert "MarketMakingEnv" in message and "Discrete(20)" in message
    penv = MarketMakingParallelEnv(horizon_steps=20, action_type="discrete")
    penv.reset(seed=0)
    message = _fails_quickly(lambda: penv.step({"mm1": 0, "mm2": action}), ValueError)
    assert "mm2" in message and "Discrete(20)" in message


@pytest.mark.parametrize(
    "actions", [[True, False], [1, True], np.array([1.0, 2.0]), ["1", "2"]], ids=repr
)
def test_vector_discrete_actions_must_be_integers(actions):
    env = MarketMakingVectorEnv(2, horizon_steps=20, action_type="discrete")
    env.reset(seed=0)
    message = _fails_quickly(lambda: env.step(actions), ValueError)
    assert "MarketMakingVectorEnv" in message and "MultiDiscrete" in message


def test_huge_action_gives_short_error():
    env = _single()
    _fails_quickly(lambda: env.step(["x"] * 10**5), ValueError)
    venv = MarketMakingVectorEnv(2, horizon_steps=20)
    venv.reset(seed=0)
    _fails_quickly(lambda: venv.step(np.full((2, 10**5), np.nan)), ValueError)


def _rollout(env: MarketMakingEnv, actions) -> list:
    obs, _ = env.reset(seed=3)
    out = [obs]
    for a in actions:
        obs, rew, *_ = env.step(a)
        out += [obs, rew]
    return out


@pytest.mark.parametrize("action_type", ["continuous", "continuous_sizes", "discrete"])
def test_every_numeric_action_form_gives_the_same_rollout(action_type):
    env = _single(action_type)
    if action_type == "discrete":
        forms = [7, np.int64(7), np.uint8(7), np.array(7), np.array(7, np.int32)]
    else:
        base = [0.25, -0.5, 0.0, 1.0][: env.action_space.shape[0]]
        forms = [
            base,
            tuple(base),
            np.array(base),
            np.array(base, np.float32).astype(np.float64),
            [np.float64(x) for x in base],
            np.array([int(x) if x.is_integer() else x for x in base], dtype=np.float64),
        ]
    reference = _rollout(env, [forms[0]] * 5)
    for form in forms[1:]:
        np.testing.assert_equal(_rollout(env, [form] * 5), reference)


def test_integer_actions_are_numbers_for_continuous_envs():
    env = _single()
    a = _rollout(env, [[0, 1]] * 3)
    b = _rollout(env, [np.array([0.0, 1.0])] * 3)
    np.testing.assert_equal(a, b)


# --------------------------------------------------------------------------- 5. seeds

BAD_SEEDS = [
    pytest.param(True, TypeError, id="True"),
    pytest.param(np.bool_(True), TypeError, id="np.True_"),
    pytest.param(1.5, TypeError, id="1.5"),
    pytest.param(2.0, TypeError, id="2.0"),
    pytest.param("3", TypeError, id="'3'"),
    pytest.param(-1, ValueError, id="-1"),
    pytest.param(np.int64(-1), ValueError, id="np.int64(-1)"),
    pytest.param(2**63, ValueError, id="2**63"),
    pytest.param(10**5000, ValueError, id="10**5000"),
]


def _seed_envs():
    yield "MarketMakingEnv", MarketMakingEnv(horizon_steps=20)
    yield "MarketMakingVectorEnv", MarketMakingVectorEnv(2, horizon_steps=20)
    yield "MarketMakingParallelEnv", MarketMakingParallelEnv(horizon_steps=20)
    yield "IntensityMarketMakingEnv", IntensityMarketMakingEnv()


@pytest.mark.parametrize(("seed", "exc"), BAD_SEEDS)
def test_bad_seeds_are_refused_clearly(seed, exc):
    for name, env in _seed_envs():
        message = _fails_quickly(lambda env=env: env.reset(seed=seed), exc)
        assert "seed" in message and "[0, 2**63)" in message, (name, message)
        assert excerpt(seed, 20)[:15] in message, (name, message)


def test_vector_env_seed_lists_are_checked_entry_by_entry():
    env = MarketMakingVectorEnv(3, horizon_steps=20)
    message = _fails_quickly(lambda: env.reset(seed=[1, True, 3]), TypeError)
    assert "seed[1]=True" in message and "[0, 2**63)" in message
    message = _fails_quickly(lambda: env.reset(seed=[1, 2, -3]), ValueError)
    assert "seed[2]=-3" in message
    message = _fails_quickly(lambda: env.reset(seed=[1, 2]), ValueError)
    assert "3 entries" in message or "expected 3" in message
    _fails_quickly(lambda: env.reset(seed=[0] * 10**6), ValueError)
    _fails_quickly(lambda: env.reset(seed="abc"), TypeError)


@pytest.mark.parametrize("make", [MarketMakingEnv, MarketMakingParallelEnv])
def test_numpy_integer_seeds_equal_python_ints(make):
    a = make(horizon_steps=20)
    b = make(horizon_steps=20)
    for seed in (0, 5, 2**63 - 1):
        for typed in (np.int64, np.uint64):
            if typed is np.int64 and seed > np.iinfo(np.int64).max:
                continue
            obs_a, _ = a.reset(seed=seed)
            obs_b, _ = b.reset(seed=typed(seed))
            np.testing.assert_equal(obs_a, obs_b)


def test_vector_numpy_integer_seeds_equal_python_ints():
    a = MarketMakingVectorEnv(2, horizon_steps=20)
    b = MarketMakingVectorEnv(2, horizon_steps=20)
    np.testing.assert_equal(a.reset(seed=9)[0], b.reset(seed=np.int64(9))[0])
    np.testing.assert_equal(a.reset(seed=[4, None])[0][0], b.reset(seed=[np.uint32(4), 1])[0][0])
    np.testing.assert_equal(a.reset(seed=[4, 5])[0], b.reset(seed=np.array([4, 5]))[0])


def test_intensity_env_numpy_seed_equals_python_int():
    a, b = IntensityMarketMakingEnv(), IntensityMarketMakingEnv()
    np.testing.assert_equal(a.reset(seed=11), b.reset(seed=np.int32(11)))


# --------------------------------------------------------------------------- 6. agent keys


def test_parallel_env_refuses_unknown_agent_keys():
    env = MarketMakingParallelEnv(horizon_steps=20)
    env.reset(seed=0)
    ok = {"mm1": [0.0, 0.0], "mm2": [0.0, 0.0]}
    message = _fails_quickly(lambda: env.step({**ok, "mm3": [0.0, 0.0]}), ValueError)
    assert "'mm3'" in message and "['mm1', 'mm2']" in message
    message = _fails_quickly(lambda: env.step({**ok, 0: [0.0, 0.0]}), ValueError)
    assert "0" in message
    message = _fails_quickly(lambda: env.step({"mm1": [0.0, 0.0]}), ValueError)
    assert "'mm2'" in message and "['mm1', 'mm2']" in message
    message = _fails_quickly(lambda: env.step([[0.0, 0.0], [0.0, 0.0]]), TypeError)
    assert "dict" in message
    many = {f"agent{i}": 0 for i in range(10**5)}
    _fails_quickly(lambda: env.step({**ok, **many}), ValueError)
    # None of the refused calls advanced the market.
    assert env.simulator.t[0] == 0
    env.step(ok)
    assert env.simulator.t[0] == 1


def test_env_config_error_names_field_value_and_range():
    with pytest.raises(ConfigError, match=r"dampening=2\.0 is out of range: must be a number in"):
        EnvConfig(dampening=2.0)
