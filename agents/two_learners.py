"""Two SB3 learners on one batched two-maker market, stepped in lockstep (issue #17).

:class:`~mm_gym.envs.two_makers.TwoMakerVectorEnv` puts both makers of ``n`` markets in one
vector env of ``2n`` seats (seat ``2i + k`` is maker ``k`` of market ``i``). One learner can
train a shared policy on all seats as it trains on any vector env. For two independent learners
(separate networks, optimisers and normalisation), each gets a :class:`SeatVecEnv`, an SB3
``VecEnv`` of its own maker's ``n`` seats, and runs stock ``model.learn`` in its own thread;
:class:`Lockstep` joins their calls into one step of the market.

**Order.** The two threads never run at once: learner 0 (mm1) computes its actions, hands them
over and waits; learner 1 (mm2) computes its actions, steps the market for both and waits until
learner 0 has computed its next actions (or finished), and so on. Each learner draws from
torch's and numpy's global generators (action sampling, minibatch shuffles) in this fixed order,
so a run is reproducible from its seeds. Both learners must step the market as often: the
same ``total_timesteps`` (their ``n_steps`` and other settings may differ); a learner that
finishes first stops the other with an error, not a hang.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices, VecEnvStepReturn

__all__ = ["Lockstep", "SeatVecEnv", "learn_together", "seat_envs"]


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
            self._calls[k] += 1
            me = self._calls[k]
            if k == 0:
                self._kinds0[me] = kind
            self._actions[k] = actions
            self._cond.notify_all()
            if k == 0:
                self._wait(
                    lambda: self._result_id >= me or self._finished[1],
                    "learner 1 (mm2) to take its turn",
                )
                if self._result_id < me:
                    self._fail(RuntimeError("learner 1 (mm2) finished before learner 0 (mm1)"))
                return self._part(self._result, 0)
            self._wait(
                lambda: self._calls[0] >= me or self._finished[0],
                "learner 0 (mm1) to take its turn",
            )
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
            # keep the order: learner 0 computes its next actions before this learner does
            self._wait(lambda: self._calls[0] > me or self._finished[0], "learner 0 (mm1) to go on")
            return self._part(self._result, 1)

    def start(self) -> None:
        """Begin a session of both learners (each :func:`learn_together` call); keeps errors."""
        with self._cond:
            self._raise_if_failed()
            self._finished = [False, False]
            self._session_calls0 = self._calls[0]

    def wait_for_first(self) -> None:
        """Learner 1 (mm2): wait until learner 0 (mm1) made its first call of the session.

        A ``learn`` continued without a reset (``reset_num_timesteps=False``) draws its first
        actions before any call: mm2 must not draw them before mm1 has.
        """
        with self._cond:
            self._wait(
                lambda: self._calls[0] > self._session_calls0 or self._finished[0],
                "learner 0 (mm1) to start",
            )

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

    # ------------------------------------------------------------------ internals
    def _joint(self, kind: str) -> Any:
        if kind == "reset":
            return self.venv.reset()
        a0, a1 = self._actions
        assert a0 is not None and a1 is not None
        joint = np.empty((2 * self.n, *np.shape(a0)[1:]), dtype=np.result_type(a0, a1))
        joint[0::2], joint[1::2] = a0, a1
        self.venv.step_async(joint)
        return self.venv.step_wait()

    @staticmethod
    def _part(result: Any, k: int) -> Any:
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
        return [2 * i + self.k for i in local]

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
