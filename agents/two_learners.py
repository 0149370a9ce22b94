"""Two SB3 learners on one batched two-maker market, stepped in lockstep (issue #17).

:class:`~mm_gym.envs.two_makers.TwoMakerVectorEnv` puts both makers of ``n`` markets in one
vector env of ``2n`` seats (seat ``2i + k`` is maker ``k`` of market ``i``). One learner can
train a shared policy on all seats as it trains on any vector env. For two independent learners
(separate networks, optimisers and normalisation), each gets a :class:`SeatVecEnv`, an SB3
``VecEnv`` of its own maker's ``n`` seats, and runs stock ``model.learn`` in its own thread;
:class:`Lockstep` joins their calls into one step of the market.

**Order.** While they step the market the two threads take turns: learner 0 (mm1) computes
its actions, hands them over and waits; learner 1 (mm2) computes its actions, steps the market
for both and waits until learner 0 has computed its next actions (or finished), and so on.
Each learner draws from torch's and numpy's global generators (action sampling, minibatch
shuffles) in this fixed order, so a run is reproducible from its seeds. Both learners must step
the market as often: the same ``total_timesteps`` (their ``n_steps`` and other settings may
differ); a learner that finishes first stops the other with an error, not a hang.

**Rollout starts.** Learners with the same ``n_steps`` may meet at the start of every rollout
(:meth:`Lockstep.rollout_start`, called by :class:`RolloutBarrier`, an SB3 callback): both have
then finished their update and neither has drawn its next actions, the one point where both
models, the market and the random states can be saved together and a resume continues
exactly (``train.py --learners mm1,mm2``'s checkpoints, :mod:`agents.learner_pair`). With
the barrier both updates come before either learner's next actions.

**Updates at once.** With the barrier the two PPO updates run at the same time, one per core
(issue #17): at the end of its rollout mm1's :class:`RolloutBarrier` draws its update's
minibatch shuffles from numpy's global generator (:class:`PredrawnRolloutBuffer`) and then
lets mm2 go on (:meth:`Lockstep.rollout_end`); mm2 ends its rollout and updates while mm1
updates, and both meet at the next rollout start. An SB3 PPO update draws nothing else from
the global generators, so they are drawn in the order of updates taken in turn (mm1's, then
mm2's) and a run equals one whose updates do not overlap, bit for bit. Where mm1's update may
use fewer shuffles than it has epochs (``target_kl`` set), or it is not a plain PPO (gSDE, a
dict observation space, dropout in the policy: :func:`predrawable_epochs`), the updates are
taken in turn as without the overlap.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Sequence
from typing import Any, cast

import numpy as np
from stable_baselines3 import PPO
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.type_aliases import RolloutBufferSamples
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices, VecEnvStepReturn

__all__ = [
    "Lockstep",
    "PredrawnRolloutBuffer",
    "RolloutBarrier",
    "SeatVecEnv",
    "learn_together",
    "predrawable_epochs",
    "seat_envs",
]


class Lockstep:
    """Joins two learners' ``reset`` / ``step`` calls into one call of a ``2n``-seat VecEnv.

    Args:
        venv: An SB3 ``VecEnv`` whose ``num_envs`` is even, seat ``2i + k`` being maker ``k``
            of market ``i`` (e.g. :class:`~agents.vec_env.MarketMakingSB3VecEnv` over a
            :class:`~mm_gym.envs.two_makers.TwoMakerVectorEnv`).
        timeout: Seconds a learner waits for the other before giving up (a stuck partner).
    """

    def __init__(self, venv: VecEnv, *, timeout: float = 600.0) -> None:
        """Check the seat count and set up the turn-taking state."""
        if venv.num_envs % 2:
            raise ValueError(f"Lockstep needs an even number of seats; got {venv.num_envs}")
        self.venv = venv
        self.n = venv.num_envs // 2
        self.timeout = float(timeout)
        self._cond = threading.Condition()
        self._calls = [0, 0]
        # the kind of mm1's calls mm2 has not matched yet (one or two: never a growing list)
        self._kinds0: dict[int, str] = {}
        self._actions: list[np.ndarray | None] = [None, None]
        self._finished = [False, False]
        self._session_calls0 = 0
        self._session_starts0 = 0
        # rollout starts reached by each learner; mm2 leaves one once mm1 has made its next call
        self._starts = [0, 0]
        self._released = 0
        self._release_calls0 = 0
        # mm1's call count when it last ended a rollout ready to update alongside mm2 (-1: never)
        self._ended_calls0 = -1
        # the per-seat episode statistics popped from the shared adapter, not yet read
        self._stats: list[list[dict[str, np.ndarray]]] = [[], []]
        self.stop_requested = False
        """Set while both learners wait at a rollout start: both stop after their next step."""
        self._result: Any = None
        self._result_id = 0
        self._error: BaseException | None = None

    # ------------------------------------------------------------------ the learners' side
    def call(self, k: int, kind: str, actions: np.ndarray | None = None) -> Any:
        """Learner ``k``'s ``"reset"`` or ``"step"`` (with its ``(n, ...)`` actions).

        Returns learner ``k``'s part of the joint result. Raises RuntimeError when the other
        learner stopped, failed or made a different call.
        """
        with self._cond:
            self._raise_if_failed()
            self._check_rollouts_match(k)
            self._calls[k] += 1
            me = self._calls[k]
            if k == 0:
                self._kinds0[me] = kind
            self._actions[k] = actions
            self._cond.notify_all()
            if k == 0:
                self._wait(
                    lambda: (
                        self._result_id >= me
                        or self._finished[1]
                        or self._starts[1] > self._starts[0]
                    ),
                    "learner 1 (mm2) to take its turn",
                )
                self._check_rollouts_match(0)
                if self._result_id < me:
                    self._fail(RuntimeError("learner 1 (mm2) finished before learner 0 (mm1)"))
                return self._part(self._result, 0)
            self._wait(
                lambda: self._calls[0] >= me or self._finished[0] or self._mm1_at_start(),
                "learner 0 (mm1) to take its turn",
            )
            self._check_rollouts_match(k)
            if self._calls[0] < me:
                self._fail(RuntimeError("learner 0 (mm1) finished before learner 1 (mm2)"))
            theirs = self._kinds0.pop(me)
            if theirs != kind:
                self._fail(
                    RuntimeError(
                        f"the learners disagree at call {me}: mm1 made a {theirs} "
                        f"and mm2 a {kind} (give both the same n_steps and total_timesteps)"
                    )
                )
            try:
                self._result = self._joint(kind)
            except BaseException as exc:
                self._fail(exc)
            self._result_id = me
            self._cond.notify_all()
            # keep the order: learner 0 computes its next actions before this learner does (or
            # has ended its rollout and will draw nothing before the next rollout start)
            self._wait(
                lambda: (
                    self._calls[0] > me
                    or self._finished[0]
                    or self._mm1_at_start()
                    or self._ended_calls0 == me
                ),
                "learner 0 (mm1) to go on",
            )
            return self._part(self._result, 1)

    def start(self) -> None:
        """Begin a session of both learners (each :func:`learn_together` call); keeps errors."""
        with self._cond:
            self._raise_if_failed()
            self._finished = [False, False]
            self.stop_requested = False
            self._session_calls0 = self._calls[0]
            self._session_starts0 = self._starts[0]

    def wait_for_first(self) -> None:
        """Learner 1 (mm2): wait until learner 0 (mm1) made its first call of the session.

        A ``learn`` continued without a reset (``reset_num_timesteps=False``) draws its first
        actions before any call: mm2 must not draw them before mm1 has.
        """
        with self._cond:
            self._wait(
                lambda: (
                    self._calls[0] > self._session_calls0
                    or self._starts[0] > self._session_starts0
                    or self._finished[0]
                ),
                "learner 0 (mm1) to start",
            )

    def rollout_start(self, k: int, both_there: Callable[[], Any] | None = None) -> None:
        """Learner ``k`` starts a rollout: wait until the other learner starts its rollout too.

        Learner 0 (mm1) then calls ``both_there()`` (e.g. to save both learners) and goes on
        first; learner 1 (mm2) goes on once mm1 has made its next call, so that mm1 draws its
        actions first, as in every step. Both learners must call this at the start of every
        rollout (the same ``n_steps``); otherwise the learner that does not stops with an
        error, not a hang.
        """
        with self._cond:
            self._raise_if_failed()
            self._starts[k] += 1
            mine = self._starts[k]
            self._cond.notify_all()
            if k == 0:
                self._wait(
                    lambda: self._starts[1] >= mine or self._finished[1],
                    "learner 1 (mm2) to start its rollout",
                )
                if self._starts[1] < mine:
                    self._fail(RuntimeError("learner 1 (mm2) finished before learner 0 (mm1)"))
                if both_there is not None:
                    try:
                        both_there()
                    except BaseException as exc:
                        self._fail(exc)
                self._released, self._release_calls0 = mine, self._calls[0]
                self._cond.notify_all()
                return
            self._wait(
                lambda: (
                    (self._released >= mine and self._calls[0] > self._release_calls0)
                    or self._finished[0]
                ),
                "learner 0 (mm1) to start its rollout",
            )
            if self._released < mine:
                self._fail(RuntimeError("learner 0 (mm1) finished before learner 1 (mm2)"))

    def rollout_end(self, k: int) -> None:
        """Learner ``k`` ended its rollout and has drawn its update's random numbers.

        From here to its next :meth:`rollout_start` the learner draws nothing from numpy's or
        torch's global generators (its :class:`PredrawnRolloutBuffer` holds the update's
        shuffles). Learner 0 (mm1) then lets learner 1 (mm2), waiting after their last joint
        step, go on to end its rollout and update while mm1 updates; for learner 1 it is a
        no-op (it updates last anyway). Call it only between a step and the next rollout start
        of a learner whose rollouts end at the same steps as the other's (a
        :class:`RolloutBarrier` on both).
        """
        if k not in (0, 1):
            raise ValueError(f"rollout_end: k={k!r} must be 0 (mm1) or 1 (mm2)")
        if k == 1:
            return
        with self._cond:
            self._ended_calls0 = self._calls[0]
            self._cond.notify_all()

    def pop_episode_stats(self, k: int) -> dict[str, np.ndarray]:
        """Maker ``k``'s statistics of the episodes finished since its last call.

        The shared adapter's :meth:`~agents.vec_env.MarketMakingSB3VecEnv.pop_episode_stats`
        split by seat (``seat`` dropped); the other maker's part is kept for its call.
        """
        with self._cond:
            popped = (
                self.venv.pop_episode_stats() if hasattr(self.venv, "pop_episode_stats") else {}
            )
            if popped:
                owned = [self._owned(popped, j) for j in range(2)]
                popped = {key: v for key, v in popped.items() if key not in ("seat", "sub_env")}
                for j in range(2):
                    self._stats[j].append({key: v[owned[j]] for key, v in popped.items()})
            parts, self._stats[k] = self._stats[k], []
        parts = [p for p in parts if len(p["reward"])]
        if not parts:
            return {}
        return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}

    def finish(self, k: int, error: BaseException | None = None) -> None:
        """Learner ``k`` has stopped (``error``: because of it; the partner then stops too)."""
        with self._cond:
            self._finished[k] = True
            if error is not None and self._error is None:
                self._error = error
            self._cond.notify_all()

    @property
    def error(self) -> BaseException | None:
        """The first exception either learner stopped with (None: none so far)."""
        return self._error

    def seat_index(self, k: int, i: int) -> int:
        """The shared env's index of learner ``k``'s seat ``i`` (maker ``k`` of market ``i``)."""
        return 2 * i + k

    # ------------------------------------------------------------------ internals
    def _owned(self, stats: dict[str, np.ndarray], k: int) -> np.ndarray:
        """Which of the shared env's finished episodes (``stats``) are learner ``k``'s."""
        seat = stats.get("seat")
        return np.ones(len(stats["reward"]), np.bool_) if seat is None else seat == k

    def _mm1_at_start(self) -> bool:
        """Whether mm1 waits at a rollout start that mm2 has not reached."""
        return self._starts[0] > self._starts[1]

    def _check_rollouts_match(self, k: int) -> None:
        """Refuse a step while the other learner waits at a rollout start (unequal rollouts)."""
        if self._starts[1 - k] > self._starts[k]:
            self._fail(
                RuntimeError(
                    f"learner {1 - k} ({'mm2' if k == 0 else 'mm1'}) started a rollout where "
                    f"learner {k} did not: rollout barriers need both learners' n_steps equal"
                )
            )

    def _joint(self, kind: str) -> Any:
        if kind == "reset":
            return self.venv.reset()
        a0, a1 = self._actions
        assert a0 is not None and a1 is not None
        joint = np.empty((2 * self.n, *np.shape(a0)[1:]), dtype=np.result_type(a0, a1))
        joint[0::2], joint[1::2] = a0, a1
        self.venv.step_async(joint)
        return self.venv.step_wait()

    def _part(self, result: Any, k: int) -> Any:
        if isinstance(result, tuple):  # step: (obs, rewards, dones, infos)
            obs, rewards, dones, infos = result
            return obs[k::2], rewards[k::2], dones[k::2], list(infos[k::2])
        return result[k::2]

    def _wait(self, ready: Callable[[], bool], what: str) -> None:
        if not self._cond.wait_for(lambda: ready() or self._error is not None, self.timeout):
            self._fail(RuntimeError(f"waited {self.timeout:.0f} s for {what}"))
        self._raise_if_failed()

    def _fail(self, exc: BaseException) -> None:
        if self._error is None:
            self._error = exc
        self._cond.notify_all()
        raise exc

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise RuntimeError(f"the other learner stopped: {self._error!r}") from self._error


class SeatVecEnv(VecEnv):
    """An SB3 ``VecEnv`` of maker ``k``'s ``n`` seats of a :class:`Lockstep` market."""

    def __init__(self, lockstep: Lockstep, k: int) -> None:
        """The view of maker ``k`` (0 mm1, 1 mm2)."""
        if k not in (0, 1):
            raise ValueError(f"SeatVecEnv: k={k!r} must be 0 (mm1) or 1 (mm2)")
        venv = lockstep.venv
        self.lockstep = lockstep  # before VecEnv.__init__, which reads render_mode via get_attr
        self.k = k
        super().__init__(lockstep.n, venv.observation_space, venv.action_space)
        self._actions: np.ndarray | None = None

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        """mm1's learner seeds the shared market (its next reset); mm2's seed only its own.

        SB3 calls this with the model's ``seed``, so two runs with the same learners' seeds
        play the same markets.
        """
        if self.k == 0:
            self.lockstep.venv.seed(seed)
        return [seed] * self.num_envs

    def reset(self) -> np.ndarray:
        """Reset the market (both learners reset it together)."""
        return self.lockstep.call(self.k, "reset")

    def step_async(self, actions: np.ndarray) -> None:
        """Store this maker's ``(n, action_dim)`` actions."""
        self._actions = np.asarray(actions)

    def step_wait(self) -> VecEnvStepReturn:
        """This maker's part of the joint step."""
        return self.lockstep.call(self.k, "step", self._actions)

    def close(self) -> None:
        """Nothing to close: the shared market belongs to whoever made it."""

    def _seats(self, indices: VecEnvIndices) -> list[int]:
        if indices is None:
            local: Iterable[int] = range(self.num_envs)
        elif isinstance(indices, int):
            local = [indices]
        else:
            local = indices
        return [self.lockstep.seat_index(self.k, i) for i in local]

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """The shared VecEnv's attribute for these seats."""
        return self.lockstep.venv.get_attr(attr_name, self._seats(indices))

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Refused: the seats share one market."""
        raise NotImplementedError("SeatVecEnv.set_attr: the two makers' seats share one market")

    def env_method(
        self, method_name: str, *args: Any, indices: VecEnvIndices = None, **kwargs: Any
    ) -> list[Any]:
        """The shared VecEnv's method for these seats."""
        return self.lockstep.venv.env_method(
            method_name, *args, indices=self._seats(indices), **kwargs
        )

    def env_is_wrapped(self, wrapper_class: type, indices: VecEnvIndices = None) -> list[bool]:
        """The shared VecEnv's answer for these seats."""
        return self.lockstep.venv.env_is_wrapped(wrapper_class, self._seats(indices))

    def get_images(self) -> Sequence[np.ndarray | None]:
        """No frames (the two-maker env does not render)."""
        return [None] * self.num_envs

    @property
    def action_type(self) -> str:
        """The shared market's ``action_type`` (what :func:`agents.ppo.policy_arrays` records)."""
        return str(getattr(self.lockstep.venv, "action_type", "continuous"))

    @property
    def partial_resets(self) -> int:
        """The shared market's count of partial resets (both makers' seats)."""
        return int(getattr(self.lockstep.venv, "partial_resets", 0))

    def pop_episode_stats(self) -> dict[str, np.ndarray]:
        """This maker's episode statistics (:meth:`Lockstep.pop_episode_stats`)."""
        return self.lockstep.pop_episode_stats(self.k)


class PredrawnRolloutBuffer(RolloutBuffer):
    """SB3's ``RolloutBuffer`` whose minibatch shuffles can be drawn before the update.

    ``RolloutBuffer.get`` (one call per epoch of a PPO update) draws its permutation from
    numpy's global generator when the update runs; :meth:`predraw` draws the next updates'
    permutations earlier, at a point of a fixed order, the same numbers in the same order.
    Without predrawn permutations :meth:`get` draws as SB3 does.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """As ``RolloutBuffer``; no permutation drawn yet."""
        super().__init__(*args, **kwargs)
        self._perms: deque[np.ndarray] = deque()

    @classmethod
    def like(cls, buffer: RolloutBuffer) -> PredrawnRolloutBuffer:
        """An empty buffer of ``buffer``'s size, spaces, device, ``gae_lambda`` and ``gamma``."""
        return cls(
            buffer.buffer_size, buffer.observation_space, buffer.action_space,
            device=buffer.device, gae_lambda=buffer.gae_lambda, gamma=buffer.gamma,
            n_envs=buffer.n_envs,
        )  # fmt: skip

    @property
    def predrawn(self) -> int:
        """Permutations drawn and not yet used."""
        return len(self._perms)

    def predraw(self, n: int) -> None:
        """Draw the permutations of the next ``n`` calls of :meth:`get` now."""
        size = self.buffer_size * self.n_envs
        # numpy's global generator on purpose: the very numbers SB3's get() would draw.
        self._perms.extend(np.random.permutation(size) for _ in range(n))  # noqa: NPY002

    def get(self, batch_size: int | None = None) -> Generator[RolloutBufferSamples, None, None]:
        """SB3 2.x's ``RolloutBuffer.get``, its permutation the next predrawn one if any."""
        assert self.full, ""
        if self._perms:
            indices = self._perms.popleft()
        else:
            indices = np.random.permutation(self.buffer_size * self.n_envs)  # noqa: NPY002 (as SB3)
        # Prepare the data
        if not self.generator_ready:
            _tensor_names = ["observations", "actions", "values", "log_probs", "advantages",
                             "returns"]  # fmt: skip
            for tensor in _tensor_names:
                self.__dict__[tensor] = self.swap_and_flatten(self.__dict__[tensor])
            self.generator_ready = True

        # Return everything, don't create minibatches
        if batch_size is None:
            batch_size = self.buffer_size * self.n_envs

        start_idx = 0
        while start_idx < self.buffer_size * self.n_envs:
            yield self._get_samples(indices[start_idx : start_idx + batch_size])
            start_idx += batch_size


def predrawable_epochs(model: Any) -> int:
    """The shuffles each update of ``model`` draws, if they can be drawn ahead (else 0).

    A plain SB3 PPO draws one permutation per epoch, ``n_epochs``, and nothing else from the
    global generators; with ``target_kl`` it may stop early and use fewer, with gSDE it draws
    its exploration noise at each rollout start, a dict observation space has its own buffer,
    and a policy with dropout draws from torch's generator in the update: those are 0.
    """
    plain = (
        isinstance(model, PPO)
        and model.target_kl is None
        and not model.use_sde
        and type(model.rollout_buffer) in (RolloutBuffer, PredrawnRolloutBuffer)
        and not any("Dropout" in type(m).__name__ for m in model.policy.modules())
    )
    return int(model.n_epochs) if plain else 0


class RolloutBarrier(BaseCallback):
    """SB3 callback: meet the other learner at the start of every rollout.

    Give each learner one, on the same :class:`Lockstep`, as the last of its callbacks. After
    ``both_there`` (mm1's only, called while both wait at a rollout start, e.g. a checkpoint)
    has set :attr:`Lockstep.stop_requested`, both learners stop after their next step (SB3
    stops a ``learn`` only after a step).

    mm1's barrier also lets the two updates run at once (the module docstring): at training
    start it gives a PPO model a :class:`PredrawnRolloutBuffer`, and at each rollout end it
    draws the update's shuffles and calls :meth:`Lockstep.rollout_end`, unless the model's
    update cannot be drawn ahead (:func:`predrawable_epochs`) or ``overlap`` is False.

    Args:
        lockstep: The learners' :class:`Lockstep`.
        k: This learner (0 mm1, 1 mm2).
        both_there: Called by mm1 while both learners wait at a rollout start.
        overlap: Let the two updates run at once where they can (mm1's; False: in turn).
    """

    def __init__(
        self,
        lockstep: Lockstep,
        k: int,
        both_there: Callable[[], Any] | None = None,
        *,
        overlap: bool = True,
    ) -> None:
        """Set up."""
        super().__init__()
        self.lockstep, self.k, self.both_there = lockstep, k, both_there
        self.overlap = overlap
        self._epochs = 0  # shuffles drawn at each rollout end (0: the updates taken in turn)

    def _on_training_start(self) -> None:
        self._epochs = predrawable_epochs(self.model) if self.overlap and self.k == 0 else 0
        if self._epochs:  # a new one: no shuffles left over from an update cut short
            model = cast(PPO, self.model)
            model.rollout_buffer = PredrawnRolloutBuffer.like(model.rollout_buffer)

    def _on_rollout_start(self) -> None:
        self.lockstep.rollout_start(self.k, self.both_there)

    def _on_rollout_end(self) -> None:
        if self._epochs:
            buffer = cast(PPO, self.model).rollout_buffer
            assert isinstance(buffer, PredrawnRolloutBuffer) and not buffer.predrawn
            buffer.predraw(self._epochs)
            self.lockstep.rollout_end(self.k)

    def _on_step(self) -> bool:
        return not self.lockstep.stop_requested


def seat_envs(venv: VecEnv, *, timeout: float = 600.0) -> tuple[SeatVecEnv, SeatVecEnv]:
    """mm1's and mm2's :class:`SeatVecEnv` of one ``2n``-seat SB3 VecEnv."""
    lockstep = Lockstep(venv, timeout=timeout)
    return SeatVecEnv(lockstep, 0), SeatVecEnv(lockstep, 1)


def learn_together(
    learn0: Callable[[], Any], learn1: Callable[[], Any], lockstep: Lockstep
) -> tuple[Any, Any]:
    """Run mm1's ``learn0()`` here and mm2's ``learn1()`` in a thread, in lockstep.

    ``learn0`` / ``learn1`` call each learner's ``model.learn(...)`` on its
    :class:`SeatVecEnv` (wrapped as the learner likes, e.g. in ``VecNormalize``). An exception
    in either (a Ctrl-C here included) stops the other; the first one is raised here.
    """
    results: list[Any] = [None, None]
    lockstep.start()
    thread = threading.Thread(
        target=_learn, args=(learn1, 1, lockstep, results), name="mm2-learner", daemon=True
    )
    thread.start()
    _learn(learn0, 0, lockstep, results)
    try:
        thread.join()
    except BaseException as exc:  # a Ctrl-C while mm2 finishes: stop it at its next call
        lockstep.finish(0, exc)
        thread.join()
        raise
    if lockstep.error is not None:
        raise lockstep.error
    return results[0], results[1]


def _learn(learn: Callable[[], Any], k: int, lockstep: Lockstep, results: list[Any]) -> None:
    """Run learner ``k``'s ``learn()`` into ``results[k]``; tell ``lockstep`` how it ended."""
    try:
        if k == 1:
            lockstep.wait_for_first()
        results[k] = learn()
    except BaseException as exc:  # a Ctrl-C too: the partner must stop, the caller re-raises
        lockstep.finish(k, exc)
    else:
        lockstep.finish(k)
