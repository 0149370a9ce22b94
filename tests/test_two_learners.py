"""Two independent SB3 learners on one two-maker market, in lockstep (issue #17)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecNormalize

from agents.two_learners import learn_together, seat_envs
from agents.vec_env import MarketMakingSB3VecEnv
from mm_gym.envs.two_makers import TwoMakerVectorEnv

N_MARKETS, N_STEPS = 4, 16


def _pair(n_steps1: int = N_STEPS, seed: int = 0):
    torch.set_num_threads(1)
    shared = MarketMakingSB3VecEnv(TwoMakerVectorEnv(N_MARKETS, horizon_steps=24))
    shared.seed(seed)
    mm1, mm2 = seat_envs(shared, timeout=60.0)
    kw = {"batch_size": 32, "n_epochs": 2, "device": "cpu"}
    m1 = PPO("MlpPolicy", VecNormalize(mm1), n_steps=N_STEPS, seed=seed, **kw)
    m2 = PPO("MlpPolicy", VecNormalize(mm2), n_steps=n_steps1, seed=seed + 1, **kw)
    return shared, mm1.lockstep, m1, m2


def _params(model: PPO) -> np.ndarray:
    return torch.cat([p.detach().flatten() for p in model.policy.parameters()]).numpy()


def test_both_learners_train_separate_networks_reproducibly():
    runs = []
    for _ in range(2):
        _, lockstep, m1, m2 = _pair()
        start = (_params(m1), _params(m2))
        learn_together(lambda m1=m1: m1.learn(128), lambda m2=m2: m2.learn(128), lockstep)
        end = (_params(m1), _params(m2))
        assert not np.array_equal(start[0], end[0]) and not np.array_equal(start[1], end[1])
        assert m1.num_timesteps == m2.num_timesteps == 128
        runs.append(end)
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_the_seats_see_one_market_from_both_sides():
    shared = MarketMakingSB3VecEnv(TwoMakerVectorEnv(2, horizon_steps=24))
    mm1, mm2 = seat_envs(shared, timeout=60.0)
    seen: dict[int, list] = {0: [], 1: []}

    def play(env, k):
        def run():
            env.reset()
            for t in range(5):
                env.step_async(np.full((2, 2), -1.0 if k == 0 else 1.0))
                env.step_wait()
                seen[k].append(t)
            return k

        return run

    assert learn_together(play(mm1, 0), play(mm2, 1), mm1.lockstep) == (0, 1)
    assert seen == {0: list(range(5)), 1: list(range(5))}
    quotes = shared.env.unwrapped._core.quotes
    assert (quotes[:, 0, 0] < quotes[:, 1, 0]).all()  # mm1 one tick inside, mm2 far away


@pytest.mark.parametrize("first", [0, 1])
def test_a_learner_that_finishes_first_stops_the_other_with_an_error_not_a_hang(first):
    _, lockstep, m1, m2 = _pair(n_steps1=8)  # other n_steps are fine, other step counts not
    steps = (64, 128) if first == 0 else (128, 64)
    with pytest.raises(RuntimeError, match=f"learner {first} .* finished before"):
        learn_together(lambda: m1.learn(steps[0]), lambda: m2.learn(steps[1]), lockstep)


def test_an_error_in_one_learner_stops_the_other():
    _, lockstep, m1, _ = _pair()

    def broken():
        raise ValueError("mm2 broke")

    with pytest.raises(ValueError, match="mm2 broke"):
        learn_together(lambda: m1.learn(64), broken, lockstep)


# ---------------------------------------------------------------------- found in review
def test_one_lockstep_serves_several_learn_calls():  # training in chunks / continuing
    _, lockstep, m1, m2 = _pair()
    learn_together(lambda: m1.learn(64), lambda: m2.learn(64), lockstep)
    learn_together(
        lambda: m1.learn(64, reset_num_timesteps=False),
        lambda: m2.learn(64, reset_num_timesteps=False),
        lockstep,
    )
    assert m1.num_timesteps == m2.num_timesteps == 128


def _continued(delay0: float, delay1: float) -> np.ndarray:
    import time

    _, lockstep, m1, m2 = _pair()
    learn_together(lambda: m1.learn(64), lambda: m2.learn(64), lockstep)
    learn_together(
        lambda: (time.sleep(delay0), m1.learn(64, reset_num_timesteps=False)),
        lambda: (time.sleep(delay1), m2.learn(64, reset_num_timesteps=False)),
        lockstep,
    )
    return np.concatenate([_params(m1), _params(m2)])


def test_a_continued_learn_does_not_depend_on_thread_timing():
    np.testing.assert_array_equal(_continued(0.3, 0.0), _continued(0.0, 0.3))


def _seeded_by_the_learners_only() -> np.ndarray:
    torch.set_num_threads(1)
    shared = MarketMakingSB3VecEnv(TwoMakerVectorEnv(4, horizon_steps=24))  # not seeded here
    e1, e2 = seat_envs(shared, timeout=60.0)
    kw = {"batch_size": 32, "n_epochs": 2, "device": "cpu", "n_steps": 16}
    m1 = PPO("MlpPolicy", VecNormalize(e1), seed=0, **kw)
    m2 = PPO("MlpPolicy", VecNormalize(e2), seed=1, **kw)
    learn_together(lambda: m1.learn(64), lambda: m2.learn(64), e1.lockstep)
    return _params(m1)


def test_the_learners_seeds_seed_the_market():  # as PPO(seed=...) does on any SB3 VecEnv
    np.testing.assert_array_equal(_seeded_by_the_learners_only(), _seeded_by_the_learners_only())


def test_seat_envs_are_built_without_a_render_mode_warning():
    import warnings

    shared = MarketMakingSB3VecEnv(TwoMakerVectorEnv(2, horizon_steps=24))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        seat_envs(shared)


def test_learners_making_different_calls_stop_with_an_error():
    """mm1 resets while mm2 steps: the lockstep refuses the step instead of mixing them."""
    import threading

    from agents.two_learners import Lockstep

    lockstep = Lockstep(MarketMakingSB3VecEnv(TwoMakerVectorEnv(2, horizon_steps=24)), timeout=30)
    errors: list[BaseException] = []

    def mm1() -> None:
        try:
            lockstep.call(0, "reset")
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=mm1)
    thread.start()
    with pytest.raises(RuntimeError, match="disagree at call 1: mm1 made a reset and mm2 a step"):
        lockstep.call(1, "step", np.zeros((2, 2)))
    thread.join()
    assert errors and "other learner stopped" in str(errors[0])


def test_rollout_barriers_keep_training_reproducible_and_refuse_unequal_rollouts():
    from agents.two_learners import RolloutBarrier

    def run(n_steps1: int) -> np.ndarray:
        _, lockstep, m1, m2 = _pair(n_steps1=n_steps1)
        learn_together(
            lambda: m1.learn(128, callback=RolloutBarrier(lockstep, 0)),
            lambda: m2.learn(128, callback=RolloutBarrier(lockstep, 1)),
            lockstep,
        )
        return np.concatenate([_params(m1), _params(m2)])

    np.testing.assert_array_equal(run(N_STEPS), run(N_STEPS))
    with pytest.raises(RuntimeError, match="rollout barriers need both learners' n_steps equal"):
        run(8)


# ---------------------------------------------------------------------- updates at once
def _barrier_run(overlap: bool) -> tuple[np.ndarray, ...]:
    from agents.two_learners import RolloutBarrier

    _, lockstep, m1, m2 = _pair()
    learn_together(
        lambda: m1.learn(192, callback=RolloutBarrier(lockstep, 0, overlap=overlap)),
        lambda: m2.learn(192, callback=RolloutBarrier(lockstep, 1, overlap=overlap)),
        lockstep,
    )
    return (
        np.concatenate([_params(m1), _params(m2)]),
        np.random.get_state()[1].copy(),  # noqa: NPY002  (SB3's generator, after the updates)
        torch.get_rng_state().numpy().copy(),
    )


def test_overlapped_updates_equal_updates_taken_in_turn_bit_for_bit():
    for a, b in zip(_barrier_run(overlap=True), _barrier_run(overlap=False), strict=True):
        np.testing.assert_array_equal(a, b)


def meeting_updates(monkeypatch: pytest.MonkeyPatch, wait_s: float) -> list[bool]:
    """Make mm1's every PPO update wait up to ``wait_s`` inside itself for mm2's to start.

    Returns the list of whether they met, one per update of mm1's, filled as they run: taken
    in turn, mm2's update cannot start while mm1's runs and each wait times out.
    """
    import threading

    from stable_baselines3 import PPO

    original, cond = PPO.train, threading.Condition()
    started, met = [0, 0], []

    def train(model: PPO) -> None:
        k = 1 if threading.current_thread().name == "mm2-learner" else 0
        with cond:
            started[k] += 1
            cond.notify_all()
            if k == 0:
                met.append(cond.wait_for(lambda: started[1] >= started[0], wait_s))
        original(model)

    monkeypatch.setattr(PPO, "train", train)
    return met


def _meet(monkeypatch: pytest.MonkeyPatch, wait_s: float, target_kl: float | None) -> list:
    from agents.two_learners import RolloutBarrier

    met = meeting_updates(monkeypatch, wait_s)
    _, lockstep, m1, m2 = _pair()
    m1.target_kl = target_kl
    learn_together(
        lambda: m1.learn(192, callback=RolloutBarrier(lockstep, 0)),
        lambda: m2.learn(192, callback=RolloutBarrier(lockstep, 1)),
        lockstep,
    )
    return met


def test_the_two_updates_run_at_once(monkeypatch):
    assert _meet(monkeypatch, 20.0, target_kl=None) == [True] * 3  # 192 / (4 x 16) updates


def test_updates_that_may_stop_early_are_taken_in_turn(monkeypatch):
    """With target_kl mm1's update may use fewer shuffles than drawn ahead: no overlap."""
    assert _meet(monkeypatch, 1.0, target_kl=1e3) == [False] * 3


def test_a_predrawn_buffer_yields_the_minibatches_sb3_would():
    from gymnasium import spaces
    from stable_baselines3.common.buffers import RolloutBuffer

    from agents.two_learners import PredrawnRolloutBuffer

    box = spaces.Box(-1.0, 1.0, (3,), np.float32)
    plain = RolloutBuffer(8, box, spaces.Box(-1.0, 1.0, (2,), np.float32), n_envs=2)
    ahead = PredrawnRolloutBuffer.like(plain)
    data = np.random.default_rng(5)
    for _ in range(8):
        row = [data.standard_normal((2, *s)).astype(np.float32) for s in ((3,), (2,))]
        args = (*row, data.standard_normal(2), np.zeros(2), torch.zeros(2), torch.zeros(2))
        plain.add(*args)
        ahead.add(*args)

    def batches(buffer, n_epochs: int) -> list[np.ndarray]:
        return [b.observations.numpy() for _ in range(n_epochs) for b in buffer.get(4)]

    # numpy's legacy global generator: the one SB3's buffer draws its shuffles from
    np.random.seed(11)  # noqa: NPY002
    expected = batches(plain, 3)
    np.random.seed(11)  # noqa: NPY002
    ahead.predraw(3)
    np.random.seed(99)  # noqa: NPY002  (drawn already: later draws change nothing)
    got = batches(ahead, 3)
    assert ahead.predrawn == 0 and len(got) == len(expected) == 12
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a, b)


def test_updates_that_draw_more_than_their_shuffles_are_taken_in_turn():
    """target_kl, gSDE or dropout in the policy: the update is not drawn ahead (0 epochs)."""
    from agents.two_learners import predrawable_epochs

    _, _, m1, _ = _pair()
    assert predrawable_epochs(m1) == m1.n_epochs
    m1.target_kl = 0.01
    assert predrawable_epochs(m1) == 0
    m1.target_kl = None
    m1.policy.mlp_extractor.policy_net.append(torch.nn.Dropout(0.1))  # draws in the update
    assert predrawable_epochs(m1) == 0
