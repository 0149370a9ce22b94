"""Evaluating a policy of MultiVenue-v0's routed action form, and where it is refused."""

from __future__ import annotations

import json
import re
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from helpers import toy_policy_arrays

from agents.policy import PolicyFileError, PPOPolicy, load_policy, save_policy_arrays
from mm_gym.cli import CliError
from mm_gym.config import ConfigError
from mm_gym.multivenue import MultiVenueEnv
from mm_gym.multivenue.batch import run_batch
from mm_gym.multivenue.routing import quoted_venues, routed_quotes
from mm_gym.multivenue.tournament import load_runs, play

ENV_ID = "mm_gym/MultiVenue-v0"
TWO_VENUES = [{"name": "A"}, {"name": "B", "latency_steps": 1}]


def _routed_arrays(env: MultiVenueEnv, max_offset: float) -> dict[str, np.ndarray]:
    """A toy actor over ``env``'s features with a bid, an ask and a routing action per venue."""
    arrays = toy_policy_arrays(env.feature_names, max_offset)
    rng = np.random.default_rng(1)
    n_out = 2 + len(env.venues)
    arrays["weights_1"] = rng.normal(0.0, 1.5, (n_out, 4)).astype(np.float32)
    arrays["biases_1"] = rng.uniform(-0.5, 0.5, n_out).astype(np.float32)
    arrays["action_mapping"] = np.array(env.env_config.action_mapping)
    return arrays


def _routed_policy(max_offset: float = 10.0, venues=None) -> PPOPolicy:
    env = MultiVenueEnv(**({} if venues is None else {"venues": venues}))
    return PPOPolicy(_routed_arrays(env, max_offset), name="routed", action_form="routed")


def _played_alone(policy: PPOPolicy, seed: int, steps: int) -> dict[str, np.ndarray]:
    """One episode of ``gym.make(..., action_form="routed")`` stepped with ``policy``."""
    env = gym.make(ENV_ID, action_form="routed", horizon_steps=steps)
    obs, _ = env.reset(seed=seed)
    policy.reset(np.random.default_rng(0), env.unwrapped.policy_context())
    core = env.unwrapped._core
    reward, fills, quoted = 0.0, np.zeros(3), np.zeros(3)
    parked = np.full(2, core.max_offset)  # an action of +1 on both sides
    for _ in range(steps):
        obs, r, term, _, info = env.step(policy.act(obs[None])[0])
        reward += r
        fills += info["venue_fills"]
        # What the env posted: lots on the venue, and not the +1 quote on both sides.
        quoted += (core._sizes[0, :, 0] > 0) & ~(core._offsets[0] >= parked).all(axis=1)
    assert term
    return {"episode_reward": reward, "fills": fills, "quoted_steps": quoted}


@pytest.mark.parametrize("trained_offset", [10.0, 6.0])  # the env's, and one converted
def test_the_evaluator_plays_a_routed_policy_as_the_routed_env_does(trained_offset) -> None:
    policy = _routed_policy(trained_offset)
    seeds, steps = [11, 12, 13], 60
    batch = run_batch(policy, seeds, steps, np.random.default_rng(0))
    for i, seed in enumerate(seeds):
        alone = _played_alone(policy, seed, steps)
        assert batch["episode_reward"][i] == alone["episode_reward"]  # bit for bit
        np.testing.assert_array_equal(batch["fills"][i], alone["fills"])
        np.testing.assert_array_equal(batch["quoted_steps"][i], alone["quoted_steps"])
    assert batch["fills"].sum() > 0
    assert 0 < batch["quoted_steps"].sum() < len(seeds) * steps * 3  # some venues left out


def test_a_converted_routed_policy_keeps_its_routing_actions() -> None:
    env = MultiVenueEnv()
    obs = np.random.default_rng(2).normal(size=(50, len(env.feature_names))).astype(np.float32)
    same, other = _routed_policy(10.0), _routed_policy(6.0)
    for p in (same, other):
        p.reset(np.random.default_rng(0), env.policy_context())
    a, b = same.act(obs), other.act(obs)
    assert a.shape == (50, 5) and same.n_venues == 3
    np.testing.assert_array_equal(a[:, 2:], b[:, 2:])  # weights, not offsets: unchanged
    # The quote it trained on (offsets at max 6 ticks) quoted at this env's max of 10.
    ticks = routed_quotes(b, 10.0, env.env_config.action_mapping, 3)[0][:, 0]
    np.testing.assert_allclose(ticks, routed_quotes(a, 6.0, "touch", 3)[0][:, 0], atol=1e-4)


def test_quoted_venues_reads_routed_lots_and_parked_quotes() -> None:
    a = np.array([[0.0, 0.0, 1.0, -1.0, 0.0], [1.0, 1.0, 0.0, 0.0, 0.0], [1.0, 0.5, -1, -1, 1]])
    want = [[True, False, True], [False, False, False], [False, False, True]]
    np.testing.assert_array_equal(quoted_venues(a, "routed", 3), want)
    per_venue = np.array([[1.0, 1.0, 0.0, 1.0, -1.0, -1.0]])
    np.testing.assert_array_equal(quoted_venues(per_venue, "per_venue", 0), [[False, True, True]])
    # spread_skew parks at (+1, 0); (+1, +1) skews the ask to 0.75 * max_offset_ticks: quoted.
    skewed = np.array([[1.0, 0.0, 1.0, 1.0, 1.0, 0.4]])
    want_skewed = [[False, True, False]]
    np.testing.assert_array_equal(quoted_venues(skewed, "per_venue", 0, "spread_skew"), want_skewed)
    routed = np.array([[1.0, 0.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]])
    want_routed = [[False, False], [True, True]]
    np.testing.assert_array_equal(quoted_venues(routed, "routed", 2, "spread_skew"), want_routed)


def _run_folder(tmp_path: Path, arrays: dict, env_kwargs: dict, name: str = "rt") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    meta = {"created_by": "train.py", "env_id": ENV_ID, "env_kwargs": env_kwargs}
    (folder / "metadata.json").write_text(json.dumps(meta))
    save_policy_arrays(folder / "policy.npz", arrays)
    return folder


def test_a_routed_run_loads_from_its_folder_and_plays_beside_the_baselines(tmp_path) -> None:
    run = _run_folder(tmp_path, _routed_arrays(MultiVenueEnv(), 10.0), {"action_form": "routed"})
    (policy,) = load_runs([str(run)])
    assert policy.action_form == "routed" and policy.name == "ppo:rt"
    episodes = play([policy, "everywhere_as"], episodes=2, steps=30, batch=2, progress=False)
    mine = episodes[episodes.contestant == "ppo:rt"]
    theirs = episodes[episodes.contestant == "everywhere_as"]
    np.testing.assert_array_equal(mine.path_hash.to_numpy(), theirs.path_hash.to_numpy())
    ref = run_batch(_routed_policy(), [0, 1], 30, np.random.default_rng(0))
    np.testing.assert_array_equal(mine.episode_reward.to_numpy(), ref["episode_reward"])


def test_routed_runs_are_refused_where_they_cannot_play(tmp_path) -> None:
    policy = _routed_policy()
    with pytest.raises(ValueError, match="'routed' was trained on MultiVenue-v0's routed action"):
        play([policy], episodes=2, steps=20, portfolio={}, progress=False)
    single = gym.make("mm_gym/MarketMaking-v1").unwrapped
    with pytest.raises(KeyError, match="routed action form \\(3 venues\\): it plays only that"):
        policy.reset(np.random.default_rng(0), single.policy_context())
    # Trained on two venues: its features are the three venues' env's, its venue count is not.
    two = _routed_arrays(MultiVenueEnv(venues=TWO_VENUES), 10.0)
    run = _run_folder(tmp_path, two, {"action_form": "routed"})
    with pytest.raises(CliError, match="quotes 2 venues \\(routed actions\\); these venues are 3"):
        load_runs([str(run)])
    bad = _run_folder(tmp_path, two, {"action_form": "route"}, "bad")
    with pytest.raises(ConfigError, match=re.escape(f"{bad}: its metadata.json's env_kwargs: ")):
        load_policy(bad)


def test_a_routed_policy_file_is_not_read_as_a_per_venue_one(tmp_path) -> None:
    arrays = _routed_arrays(MultiVenueEnv(), 10.0)
    alone = tmp_path / "policy.npz"  # no metadata.json: the form must come from the file
    save_policy_arrays(alone, arrays)
    with pytest.raises(PolicyFileError, match="outputs 5 actions; expected a bid and an ask per"):
        load_policy(alone)
    save_policy_arrays(alone, {**arrays, "action_form": np.array("routed")})
    assert load_policy(alone).action_form == "routed"
    recorded = {**arrays, "action_form": np.array("routed")}
    other = _run_folder(tmp_path, recorded, {"action_form": "per_venue"}, "other")
    with pytest.raises(PolicyFileError, match="contradicts the run's action_form='per_venue'"):
        load_policy(other)


def test_evaluate_checks_runs_against_the_venues_of_its_env_kwargs(tmp_path) -> None:
    """evaluate.py --env-id ... --runs R --env-kwargs venues=[...]: R is checked on those venues."""
    from helpers import load_script

    from mm_gym.evaluation.venues import plan_venues, play_regimes

    evaluate = load_script("evaluate.py", "evaluate_routed_venues")
    two = _routed_arrays(MultiVenueEnv(venues=TWO_VENUES), 10.0)
    run = _run_folder(tmp_path, two, {"action_form": "routed", "venues": TWO_VENUES})
    argv = ["--env-id", ENV_ID, "--runs", str(run), "--contestants", "everywhere_as", "--regimes",
            "default", "--episodes", "2", "--horizon", "20", "--no-progress"]  # fmt: skip
    with pytest.raises(CliError, match="quotes 2 venues \\(routed actions\\); these venues are 3"):
        plan_venues(evaluate.parse_args(argv))
    venues = "venues=[{name: A}, {name: B, latency_steps: 1}]"
    plan = plan_venues(evaluate.parse_args([*argv, "--env-kwargs", venues]))
    assert [getattr(c, "name", c) for c in plan.contestants] == ["everywhere_as", "ppo:rt"]
    episodes, _ = play_regimes(plan)
    assert sorted(set(episodes.contestant)) == ["everywhere_as", "ppo:rt"]
    assert [c for c in episodes.columns if c.startswith("fills_")] == ["fills_A", "fills_B"]
