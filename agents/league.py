"""A self-play league for two learners: ``train.py --learners mm1,mm2 --league`` (issue #17).

Two learners that only ever play each other can chase each other in circles or overfit one
opponent. In the league each learner trains against a mix of opponents: the other learner's
current policy, the other learner's past snapshots, and scripted baselines
(:mod:`baselines.registry`), drawn by prioritised fictitious self-play (PFSP; Vinyals et al.
2019, AlphaStar): with probability ``current`` the other's current policy, otherwise a member
of the pool (snapshots and baselines) with weight ``(1 - w)^p``, ``w`` the learner's recent
win rate against it (the opponents it beats least are drawn most; ``p = 0`` is uniform).

**The market.** mm1's learner quotes as mm1 in markets ``0 .. n-1``, mm2's learner as mm2 in
markets ``n .. 2n-1`` (``n = --n-envs``), all ``2n`` markets of one
:class:`~mm_gym.envs.two_makers.TwoMakerVectorEnv` stepped in one compiled call per step
(:class:`LeagueLockstep`). The other seat of each market is an opponent: a frozen, numpy-only
policy (:class:`~agents.policy.PPOPolicy` or a baseline) acting deterministically on its
seat's observations. Each learner's ``n`` markets are split into up to :data:`GROUPS` groups
and every group draws its opponent at the start of each rollout, after both learners' updates:
the other's *current* policy is then its network as just updated (it does not change during
the rollout). A learner's ``--total-timesteps`` steps are ``2n``-market steps, twice the
markets of two learners that share their markets (``--learners mm1,mm2`` without a league).

**Win rates.** A learner wins a market's rollout if its summed reward over the rollout beats
its opponent's in that market (a tie counts half); a group's result is its fraction of wins,
and the learner's win rate against an opponent is an exponential average of those results
(weight :data:`WIN_RATE_WEIGHT`, starting at 0.5), a reward-based stand-in for the win rate
of AlphaStar's PFSP that needs no finished episode.

**Snapshots.** Every ``snapshot_every`` steps (at the next rollout start) each learner's
policy is frozen into ``league/<seat>_<steps>/policy.npz`` of the run folder (a
``policy.npz`` as ``train.py`` writes, ``agents.load_policy`` reads) and joins the other
learner's pool; each pool keeps the latest ``size`` snapshots. ``league/league.json`` indexes
them (``pools``: each learner's, by its seat), with the win rates (``win_rates``) and the
current draw (``draw``: each group's opponent), by learner. The league's whole state (its random
generator, win rates, draw, last observations and the rollout's sums) is saved in every
checkpoint (``league.json``, ``league_state.npz``), so a resumed run continues bit for bit;
a dropped snapshot's folder is removed once a checkpoint no longer refers to it.

TensorBoard (each learner's ``tb/<seat>/``): ``league/current_share``,
``league/snapshot_share``, ``league/baseline_share`` (the opponent mix of the rollout, as
fractions of the learner's markets), ``league/snapshots`` (pool size), ``league/rollout_win``
(fraction of markets won in the rollout) and ``league/win_rate/<opponent>``.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecEnv

from agents.policy import POLICY_FILE, PPOPolicy, load_policy, save_policy_arrays
from agents.two_learners import Lockstep, SeatVecEnv
from mm_gym.files import atomic_write_text

__all__ = [
    "CURRENT",
    "GROUPS",
    "INDEX_FILE",
    "LEAGUE_DIR",
    "League",
    "LeagueLockstep",
    "LeagueMonitor",
    "LeagueSettings",
    "league_factory",
    "league_of",
    "pfsp_weights",
]

LEAGUE_DIR = "league"
"""The run folder's league folder: snapshots and the index."""
INDEX_FILE = "league.json"
"""The league's index (in ``league/`` and in every checkpoint)."""
STATE_FILE = "league_state.npz"
"""The league's arrays in a checkpoint: the last observations and the rollout's sums."""
CURRENT = "current"
"""The opponent name of the other learner's current policy."""
GROUPS = 4
"""Opponent draws per learner and rollout (each over a group of the learner's markets)."""
WIN_RATE_WEIGHT = 0.2
"""Weight of a rollout's result in the exponential average of a win rate."""
SEATS = ("mm1", "mm2")
_SNAPSHOT_NAME = re.compile(r"^mm[12]_\d{9,}$")
_FORMAT = 1


@dataclass(frozen=True)
class LeagueSettings:
    """The league's settings (``train.py --league-*``).

    Attributes:
        current: Probability that a group plays the other learner's current policy.
        snapshot_every: Steps between snapshots (0: none).
        size: Snapshots kept per pool (the latest).
        baselines: Names of :mod:`baselines.registry` in every pool.
        pfsp_power: ``p`` of the PFSP weight ``(1 - w)^p``.
        seed: Seed of the league's draws.
    """

    current: float = 0.5
    snapshot_every: int = 1_000_000
    size: int = 10
    baselines: tuple[str, ...] = ("fixed_spread", "order_flow_skew", "avellaneda_stoikov")
    pfsp_power: float = 2.0
    seed: int = 0


def pfsp_weights(win_rates: Sequence[float], power: float) -> np.ndarray:
    """PFSP probabilities ``(1 - w)^p``, normalised; uniform if every weight is 0.

    Args:
        win_rates: The learner's win rate against each candidate, in [0, 1].
        power: ``p >= 0``.
    """
    w = np.power(1.0 - np.clip(np.asarray(win_rates, np.float64), 0.0, 1.0), power)
    total = w.sum()
    if not total > 0:
        return np.full(len(w), 1.0 / max(len(w), 1))
    return w / total


class _TorchActor(PPOPolicy):
    """A :class:`~agents.policy.PPOPolicy` whose layers run in torch (the learners' one thread).

    numpy's multi-threaded BLAS, called from a learner's thread between the market's and
    torch's thread pools, took 1 to 7 ms for a 256 x 64 x 64 layer where torch takes 0.05 ms
    (measured on 2 shared cores); the observation normalisation is PPOPolicy's own.
    """

    @classmethod
    def of(cls, policy: PPOPolicy) -> _TorchActor:
        """The same actor as ``policy`` (its arrays are shared, not copied)."""
        actor = cls.__new__(cls)
        actor.__dict__.update(policy.__dict__)
        return actor

    def _forward(self, x: np.ndarray) -> np.ndarray:
        if self._target is not None:  # another env's offsets: PPOPolicy converts them
            return super()._forward(x)
        import torch

        z = np.clip((x - self.obs_mean) / self._std, -self.clip_obs, self.clip_obs)
        h = torch.from_numpy(z.astype(np.float32))
        last = len(self.weights) - 1
        with torch.no_grad():
            for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
                h = torch.nn.functional.linear(h, torch.from_numpy(w), torch.from_numpy(b))
                if i < last:
                    h = torch.tanh(h) if self.activation == "tanh" else torch.relu(h)
        return np.clip(h.numpy(), -1.0, 1.0).astype(np.float32)


class League:
    """Opponents, draws, win rates and snapshots of both learners (see the module docstring).

    Args:
        settings: The league's settings.
        shared: The SB3 adapter of the ``2n``-market two-maker env.
        make_baseline: ``make_baseline(name)`` makes a baseline policy (a new one per call).
    """

    def __init__(
        self,
        settings: LeagueSettings,
        shared: VecEnv,
        make_baseline: Callable[[str], Any],
    ) -> None:
        """Set up the pools (baselines only) and the random generator; nothing drawn yet."""
        self.settings = settings
        self.shared = shared
        native = shared.env.unwrapped  # type: ignore[attr-defined]
        self.n = int(native.num_markets) // 2
        self.groups = np.array_split(np.arange(self.n), min(GROUPS, self.n))
        self.contexts = tuple(native.policy_context(SEATS[1 - k]) for k in range(2))
        # policies[k][name]: learner k's opponents (they quote in the other seat).
        self.policies: list[dict[str, Any]] = [
            {b: make_baseline(b) for b in settings.baselines} for _ in range(2)
        ]
        self.snapshots: list[list[dict[str, Any]]] = [[], []]  # of the other learner
        self.win_rates: list[dict[str, float]] = [{}, {}]
        self.draw: list[list[str]] = [[], []]  # learner k's opponent of each group
        self.rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([settings.seed, 17])))
        self.policy_seed = 0
        self.next_snapshot = settings.snapshot_every
        self.last_obs: np.ndarray | None = None
        self.diff = np.zeros((2, self.n))  # learner's minus opponent's reward, this rollout
        self.won = np.full(2, np.nan)  # fraction of markets won in the last rollout
        self.acc_steps = 0
        self.run_dir: Path | None = None
        self.models: Sequence[Any] = ()
        self.venvs: Sequence[Any] = ()
        self._rows: list[dict[str, np.ndarray]] = [{}, {}]

    # ------------------------------------------------------------------ wiring
    def bind(self, models: Sequence[Any], venvs: Sequence[Any]) -> None:
        """The learners: their PPO models and ``VecNormalize`` envs (mm1's, mm2's)."""
        self.models, self.venvs = models, venvs

    def _export(self, model: Any, venv: Any) -> dict[str, np.ndarray]:
        """A learner's actor as ``policy.npz`` arrays (:func:`agents.ppo.policy_arrays`)."""
        from agents.ppo import policy_arrays

        config = self.shared.env.unwrapped.env_config  # type: ignore[attr-defined]
        names = self.contexts[0].feature_names
        return policy_arrays(model, venv, names, config.max_offset_ticks, config.action_mapping)

    def seat_envs(self, timeout: float = 600.0) -> tuple[SeatVecEnv, SeatVecEnv]:
        """mm1's and mm2's learner envs (``n`` seats each) on the shared market."""
        lockstep = LeagueLockstep(self.shared, self, timeout=timeout)
        return SeatVecEnv(lockstep, 0), SeatVecEnv(lockstep, 1)

    def callbacks(self, k: int) -> list[BaseCallback]:
        """Learner ``k``'s SB3 callbacks: the ``league/*`` scalars."""
        return [LeagueMonitor(self, k)]

    # ------------------------------------------------------------------ the rollouts
    def new_rollout(self) -> None:
        """Between rollouts (both learners updated): score, snapshot, draw, refresh."""
        steps = int(self.models[0].num_timesteps)
        drawn = bool(self.draw[0])
        if self.acc_steps > 0:
            self._score()
        every = self.settings.snapshot_every
        if every > 0 and steps >= self.next_snapshot:
            self._snapshot(steps)
            while self.next_snapshot <= steps:
                self.next_snapshot += every
        if self.acc_steps > 0 or not drawn:
            self._draw()
        self.acc_steps = 0
        self.diff[:] = 0.0
        self._refresh()

    def _score(self) -> None:
        """Update learner ``k``'s win rate against each group's opponent from the rollout."""
        wins = (self.diff > 0) + 0.5 * (self.diff == 0)
        self.won = wins.mean(axis=1)
        for k in range(2):
            for name, rows in zip(self.draw[k], self.groups, strict=True):
                result = float(wins[k, rows].mean())
                old = self.win_rates[k].get(name, 0.5)
                self.win_rates[k][name] = (1 - WIN_RATE_WEIGHT) * old + WIN_RATE_WEIGHT * result

    def pool(self, k: int) -> list[str]:
        """Learner ``k``'s pool: the baselines, then the other learner's snapshots."""
        return [*self.settings.baselines, *(s["name"] for s in self.snapshots[k])]

    def sample(self, k: int) -> str:
        """Learner ``k``'s next opponent: the other's current policy, else PFSP from the pool."""
        pool = self.pool(k)
        if self.rng.random() < self.settings.current or not pool:
            return CURRENT
        p = pfsp_weights([self.win_rates[k].get(name, 0.5) for name in pool],
                         self.settings.pfsp_power)  # fmt: skip
        return pool[int(self.rng.choice(len(pool), p=p))]

    def _draw(self) -> None:
        self.draw = [[self.sample(k) for _ in self.groups] for k in range(2)]
        self.policy_seed = int(self.rng.integers(2**63))

    def _refresh(self) -> None:
        """Export the current policies, reset the drawn opponents, index their markets."""
        assert self.models, "League.bind() first"
        seeds = np.random.SeedSequence(self.policy_seed).spawn(2)
        for k in range(2):
            j = 1 - k
            arrays = self._export(self.models[j], self.venvs[j])
            current = PPOPolicy(arrays, name=f"{SEATS[j]} (current)")
            self.policies[k][CURRENT] = _TorchActor.of(current)
            rows: dict[str, list[np.ndarray]] = {}
            for name, group in zip(self.draw[k], self.groups, strict=True):
                rows.setdefault(name, []).append(group)
            self._rows[k] = {name: np.concatenate(parts) for name, parts in rows.items()}
            rngs = seeds[k].spawn(len(self._rows[k]))
            for (name, _), seq in zip(sorted(self._rows[k].items()), rngs, strict=True):
                self.policies[k][name].reset(np.random.default_rng(seq), self.contexts[k])

    def opponent_actions(self, k: int, obs: np.ndarray) -> np.ndarray:
        """Learner ``k``'s opponents' actions ``(n, a)`` on their seats' observations."""
        out = np.empty((self.n, 2), np.float32)
        for name, rows in self._rows[k].items():
            out[rows] = self.policies[k][name].act(obs[rows])
        return out

    def add_rewards(self, mine: Sequence[np.ndarray], theirs: Sequence[np.ndarray]) -> None:
        """One step's rewards of both learners and of their opponents, ``(n,)`` each."""
        for k in range(2):
            self.diff[k] += np.asarray(mine[k], np.float64) - np.asarray(theirs[k], np.float64)
        self.acc_steps += 1

    # ------------------------------------------------------------------ snapshots
    def _snapshot(self, steps: int) -> None:
        """Freeze both learners at ``steps`` into the other learner's pool (latest ``size``)."""
        assert self.models and self.run_dir is not None
        for j in range(2):
            k = 1 - j  # learner j's snapshot is learner k's opponent
            name = f"{SEATS[j]}_{steps:09d}"
            arrays = self._export(self.models[j], self.venvs[j])
            save_policy_arrays(self.run_dir / LEAGUE_DIR / name / POLICY_FILE, arrays)
            self.policies[k][name] = _TorchActor.of(PPOPolicy(arrays, name=name))
            self.snapshots[k].append({"name": name, "seat": SEATS[j], "steps": steps})
            while len(self.snapshots[k]) > self.settings.size:
                dropped = self.snapshots[k].pop(0)["name"]
                self.policies[k].pop(dropped, None)
                self.win_rates[k].pop(dropped, None)

    def prune(self) -> None:
        """Remove the snapshot folders no pool refers to (after a checkpoint dropped them)."""
        assert self.run_dir is not None
        kept = {s["name"] for pool in self.snapshots for s in pool}
        folder = self.run_dir / LEAGUE_DIR
        for path in folder.iterdir() if folder.is_dir() else ():
            if path.is_dir() and _SNAPSHOT_NAME.match(path.name) and path.name not in kept:
                shutil.rmtree(path, ignore_errors=True)

    # ------------------------------------------------------------------ state
    def index(self) -> dict[str, Any]:
        """The league's state as JSON data (``league.json``)."""
        by_seat = dict(zip(SEATS, range(2), strict=True))
        return {
            "format": _FORMAT,
            "settings": {**asdict(self.settings), "baselines": list(self.settings.baselines)},
            # each learner's pool of the other learner's snapshots, by the learner's seat
            "pools": {s: self.snapshots[k] for s, k in by_seat.items()},
            "win_rates": {s: self.win_rates[k] for s, k in by_seat.items()},
            "draw": {s: self.draw[k] for s, k in by_seat.items()},
            "next_snapshot": self.next_snapshot,
            "policy_seed": self.policy_seed,
            "acc_steps": self.acc_steps,
            "won": [None if np.isnan(w) else float(w) for w in self.won],
            "rng": self.rng.bit_generator.state,
        }

    def write_state(self, folder: Path) -> None:
        """Write ``league.json`` and ``league_state.npz`` into a checkpoint ``folder``."""
        atomic_write_text(folder / INDEX_FILE, json.dumps(self.index(), indent=1) + "\n")
        obs = np.zeros((0,), np.float32) if self.last_obs is None else self.last_obs
        np.savez(folder / STATE_FILE, last_obs=obs, diff=self.diff)

    def restore(self, ckpt: Path) -> None:
        """Continue from a checkpoint's league files (snapshots read from ``league/``).

        Raises:
            ValueError: If a file is missing or does not match these settings.
        """
        assert self.run_dir is not None and self.models
        try:
            data = json.loads((ckpt / INDEX_FILE).read_text())
            saved = data["settings"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{ckpt / INDEX_FILE}: not a league index ({exc})") from None
        mine = {**asdict(self.settings), "baselines": list(self.settings.baselines)}
        if data.get("format") != _FORMAT or saved != mine:
            raise ValueError(f"{ckpt / INDEX_FILE} holds another league: {saved} (run: {mine})")
        for k, seat in enumerate(SEATS):
            self.snapshots[k] = list(data["pools"][seat])
            self.win_rates[k] = {str(a): float(b) for a, b in data["win_rates"][seat].items()}
            self.draw[k] = [str(name) for name in data["draw"][seat]]
            for snap in self.snapshots[k]:
                folder = self.run_dir / LEAGUE_DIR / snap["name"]
                policy = load_policy(folder, name=snap["name"])
                self.policies[k][snap["name"]] = _TorchActor.of(policy)
        self.next_snapshot = int(data["next_snapshot"])
        self.policy_seed = int(data["policy_seed"])
        self.acc_steps = int(data["acc_steps"])
        self.won = np.array([np.nan if w is None else w for w in data["won"]], np.float64)
        self.rng.bit_generator.state = data["rng"]
        with np.load(ckpt / STATE_FILE, allow_pickle=False) as arrays:
            self.last_obs = arrays["last_obs"] if arrays["last_obs"].size else None
            self.diff = arrays["diff"].astype(np.float64)
        if self.draw[0]:
            self._refresh()

    def scalars(self, k: int) -> dict[str, float]:
        """Learner ``k``'s ``league/*`` scalars (see the module docstring)."""
        share = {CURRENT: 0.0, "snapshot": 0.0, "baseline": 0.0}
        for name, rows in zip(self.draw[k], self.groups, strict=True):
            if name == CURRENT:
                kind = CURRENT
            else:
                kind = "baseline" if name in self.settings.baselines else "snapshot"
            share[kind] += len(rows) / self.n
        out = {f"league/{kind}_share": v for kind, v in share.items()}
        out["league/snapshots"] = float(len(self.snapshots[k]))
        wins = (self.diff[k] > 0) + 0.5 * (self.diff[k] == 0)
        if self.acc_steps:
            out["league/rollout_win"] = float(wins.mean())
        for name, w in self.win_rates[k].items():
            out[f"league/win_rate/{name}"] = w
        return out


class LeagueLockstep(Lockstep):
    """The :class:`~agents.two_learners.Lockstep` of a league: learners and opponents.

    The ``4n`` seats of ``2n`` markets: mm1's learner plays seat ``2i`` (mm1) of market
    ``i < n``, mm2's learner seat ``2i + 1`` (mm2) of market ``n + i``; the league's opponents
    play the other seats, on the observations of the previous step.
    """

    def __init__(self, venv: VecEnv, league: League, *, timeout: float = 600.0) -> None:
        """Set up the turn-taking; each learner has ``num_envs / 4`` seats."""
        super().__init__(venv, timeout=timeout)
        if venv.num_envs % 4:
            raise ValueError(f"LeagueLockstep needs 4n seats; got {venv.num_envs}")
        self.n = venv.num_envs // 4
        self.league = league

    def seat_index(self, k: int, i: int) -> int:
        """The shared env's index of learner ``k``'s seat ``i``."""
        return 2 * i if k == 0 else 2 * (self.n + i) + 1

    def rollout_start(self, k: int, both_there: Callable[[], Any] | None = None) -> None:
        """As :meth:`Lockstep.rollout_start`; the league moves on before ``both_there``."""
        if k == 1:
            super().rollout_start(k, both_there)
            return

        def league_then(*_: Any) -> None:
            self.league.new_rollout()
            if both_there is not None:
                both_there()

        super().rollout_start(k, league_then)

    def _joint(self, kind: str) -> Any:
        if kind == "reset":
            obs = np.asarray(self.venv.reset())
            self.league.last_obs = obs
            return obs
        a0, a1 = self._actions
        assert a0 is not None and a1 is not None and self.league.last_obs is not None
        n, last = self.n, self.league.last_obs
        joint = np.empty((4 * n, *np.shape(a0)[1:]), dtype=np.float32)
        joint[0 : 2 * n : 2], joint[2 * n + 1 :: 2] = a0, a1
        joint[1 : 2 * n : 2] = self.league.opponent_actions(0, last[1 : 2 * n : 2])
        joint[2 * n :: 2] = self.league.opponent_actions(1, last[2 * n :: 2])
        self.venv.step_async(joint)
        result = self.venv.step_wait()
        obs, rewards = np.asarray(result[0]), result[1]
        self.league.last_obs = obs
        self.league.add_rewards(
            (rewards[0 : 2 * n : 2], rewards[2 * n + 1 :: 2]),
            (rewards[1 : 2 * n : 2], rewards[2 * n :: 2]),
        )
        return result

    def _part(self, result: Any, k: int) -> Any:
        n = self.n
        mine = slice(0, 2 * n, 2) if k == 0 else slice(2 * n + 1, None, 2)
        if isinstance(result, tuple):
            obs, rewards, dones, infos = result
            return obs[mine], rewards[mine], dones[mine], list(infos[mine])
        return result[mine]

    def _owned(self, stats: Mapping[str, np.ndarray], k: int) -> np.ndarray:
        # learner 0's seats are the even ones below 2n, learner 1's the odd ones from 2n
        index = stats["sub_env"].astype(np.int64)
        return (index // (2 * self.n) == k) & (index % 2 == k)


class LeagueMonitor(BaseCallback):
    """SB3 callback: learner ``k``'s ``league/*`` scalars, at the end of every rollout."""

    def __init__(self, league: League, k: int) -> None:
        """Log learner ``k``'s part of ``league``."""
        super().__init__()
        self.league, self.k = league, k

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        for key, value in self.league.scalars(self.k).items():
            self.logger.record(key, value)


def league_factory(
    settings: LeagueSettings, env_id: str, overrides: Mapping[str, Any]
) -> Callable[[VecEnv], League]:
    """``factory(shared)``: the league of ``settings`` on a shared two-maker market.

    The baselines are :func:`baselines.registry.make_policy`'s, calibrated on ``env_id``
    with ``overrides`` (as ``train.py``'s final table makes them).

    Raises:
        ValueError: (from the factory) If the market's actions are not one bid and one ask.
    """
    from baselines.registry import make_policy

    def factory(shared: VecEnv) -> League:
        shape = shared.action_space.shape
        if shape != (2,):
            raise ValueError(
                f"--league: the opponents quote a bid and an ask offset (action shape (2,)); "
                f"this market's actions have shape {shape} (leave action_type and quote sizes "
                "at their defaults)"
            )
        return League(settings, shared, lambda name: make_policy(name, env_id, overrides))

    return factory


def league_of(args: Any, overrides: Mapping[str, Any]) -> Callable[[VecEnv], League] | None:
    """The league's factory of ``train.py``'s settings (None without ``--league``)."""
    if not getattr(args, "league", False):
        return None
    from agents.train_settings import league_baselines

    settings = LeagueSettings(
        current=float(args.league_current),
        snapshot_every=int(args.league_snapshot_every),
        size=int(args.league_size),
        baselines=tuple(league_baselines(args)),
        pfsp_power=float(args.league_pfsp_power),
        seed=int(args.seed),
    )
    return league_factory(settings, args.env_id, overrides)
