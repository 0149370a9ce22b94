"""PPO on the batched market: the training env stack, the model, and the actor export.

The stack is ``VecNormalize(MarketMakingSB3VecEnv(gym.make_vec(env_id, num_envs=n)))``: one
native vector env stepping every market in one compiled call, the SB3 adapter
(:mod:`agents.vec_env`), and SB3's running normalisation of observations and rewards. The
model is SB3's ``PPO`` with an ``MlpPolicy`` (separate actor and critic MLPs).
:func:`policy_arrays` exports the deterministic actor and the observation statistics as plain
arrays, which :class:`agents.policy.PPOPolicy` runs with numpy alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecNormalize

from agents.vec_env import MarketMakingSB3VecEnv
from mm_gym.actions import DEFAULT_ACTION_MAPPING, check_action_mapping

__all__ = [
    "ACTIVATIONS",
    "build_ppo",
    "make_self_play_env",
    "make_training_env",
    "native_env",
    "policy_arrays",
    "two_maker_env",
]

ACTIVATIONS: dict[str, type[torch.nn.Module]] = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}
"""Hidden-layer activations accepted by :func:`build_ppo`, by name."""


def make_training_env(
    env_id: str,
    n_envs: int,
    env_kwargs: Mapping[str, Any] | None = None,
    *,
    rival: Any = "builtin",
    gamma: float = 0.99,
    norm_obs: bool = True,
    norm_reward: bool = True,
    clip_obs: float = 10.0,
    clip_reward: float = 10.0,
) -> VecNormalize:
    """Build ``VecNormalize(MarketMakingSB3VecEnv(gym.make_vec(env_id, num_envs=n_envs)))``.

    Args:
        env_id: A registered mm_gym id with a native vector entry point.
        n_envs: Number of markets stepped together.
        env_kwargs: ``gym.make_vec`` keyword overrides (preset fields, reward options...).
        rival: ``"builtin"`` or a :class:`~mm_gym.policy.QuotingPolicy` quoting as mm2.
        gamma: Discount of the running return that scales rewards (use PPO's ``gamma``).
        norm_obs: Normalise observations by running mean and variance.
        norm_reward: Scale rewards by the running standard deviation of the discounted return.
        clip_obs: Bound of the normalised observations.
        clip_reward: Bound of the scaled rewards.

    Returns:
        The normalised SB3 ``VecEnv`` (its ``venv`` is the adapter).
    """
    kwargs = dict(env_kwargs or {})
    if not (isinstance(rival, str) and rival == "builtin"):
        kwargs["rival"] = rival
    native = gym.make_vec(
        env_id, num_envs=n_envs, vectorization_mode="vector_entry_point", **kwargs
    )
    adapter = MarketMakingSB3VecEnv(native)
    return normalized(adapter, gamma, norm_obs, norm_reward, clip_obs, clip_reward)


def make_self_play_env(
    env_id: str,
    n_markets: int,
    env_kwargs: Mapping[str, Any] | None = None,
    **norm: Any,
) -> VecNormalize:
    """Both makers of ``n_markets`` markets as ``2 * n_markets`` SB3 envs (self-play).

    :class:`~mm_gym.envs.two_makers.TwoMakerVectorEnv` (on ``mm_gym/MultiVenue-v0``
    :class:`~mm_gym.multivenue.MultiVenueTwoMakerVectorEnv`) of ``env_id``'s preset with the
    ``agent_id`` feature, through the same adapter and ``VecNormalize`` as
    :func:`make_training_env` (``norm``: :func:`normalized`'s keywords, all of them).
    """
    return normalized(two_maker_env(env_id, n_markets, env_kwargs, agent_id=True), **norm)


def two_maker_env(
    env_id: str,
    n_markets: int,
    env_kwargs: Mapping[str, Any] | None = None,
    *,
    agent_id: bool,
) -> MarketMakingSB3VecEnv:
    """The SB3 adapter of the two-maker vector env of ``env_id``.

    :class:`~mm_gym.envs.two_makers.TwoMakerVectorEnv` for a book env id,
    :class:`~mm_gym.multivenue.MultiVenueTwoMakerVectorEnv` for a multi-venue one; ``env_id``'s
    registered keywords (its preset) with ``env_kwargs`` on top; ``agent_id`` appends the seat
    feature.
    """
    from mm_gym import MULTI_VENUE_ENV_IDS
    from mm_gym.envs.two_makers import TwoMakerVectorEnv

    spec = gym.spec(env_id)
    kwargs = {**spec.kwargs, **dict(env_kwargs or {})}
    preset = kwargs.pop("preset", "default")
    kind: Any = TwoMakerVectorEnv
    if env_id in MULTI_VENUE_ENV_IDS:
        from mm_gym.multivenue import MultiVenueTwoMakerVectorEnv as kind
    native = kind(n_markets, preset, agent_id=agent_id, **kwargs)
    return MarketMakingSB3VecEnv(native)


def normalized(
    venv: Any,
    gamma: float,
    norm_obs: bool,
    norm_reward: bool,
    clip_obs: float,
    clip_reward: float,
) -> VecNormalize:
    """Wrap an SB3 ``VecEnv`` in a training ``VecNormalize`` with the run's settings."""
    return VecNormalize(
        venv,
        training=True,
        norm_obs=norm_obs,
        norm_reward=norm_reward,
        clip_obs=clip_obs,
        clip_reward=clip_reward,
        gamma=gamma,
    )


def native_env(venv: VecNormalize) -> Any:
    """The native mm_gym vector env under a :func:`make_training_env` stack (unwrapped).

    Under one maker's :class:`~agents.two_learners.SeatVecEnv` it is the shared market's.
    """
    adapter = venv.venv
    lockstep = getattr(adapter, "lockstep", None)
    if lockstep is not None:  # one learner's seats of a two-maker market
        adapter = lockstep.venv
    if not isinstance(adapter, MarketMakingSB3VecEnv):
        raise TypeError(f"expected VecNormalize(MarketMakingSB3VecEnv), got {adapter!r}")
    return adapter.env.unwrapped


def _schedule(value: float, kind: str) -> float | Callable[[float], float]:
    """A constant, or SB3's linear decay to 0 over training (``progress_remaining`` 1 -> 0)."""
    if kind == "constant":
        return value
    if kind == "linear":
        return lambda progress_remaining: value * progress_remaining
    raise ValueError(f"schedule={kind!r} is not valid: choose 'constant' or 'linear'")


def _policy_kwargs(
    net_arch: Sequence[int], activation: str, log_std_init: float, ortho_init: bool
) -> dict[str, Any]:
    """SB3's ``policy_kwargs``: separate actor and critic MLPs of ``net_arch``."""
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"activation={activation!r} is not valid: choose one of {list(ACTIVATIONS)}"
        )
    return {
        "net_arch": {"pi": list(net_arch), "vf": list(net_arch)},
        "activation_fn": ACTIVATIONS[activation],
        "log_std_init": log_std_init,
        "ortho_init": ortho_init,
    }


def build_ppo(
    venv: VecNormalize,
    *,
    seed: int,
    learning_rate: float = 3e-4,
    lr_schedule: str = "constant",
    n_steps: int = 64,
    batch_size: int = 8192,
    n_epochs: int = 4,
    gamma: float = 0.99,
    gae_lambda: float = 0.95,
    clip_range: float = 0.2,
    ent_coef: float = 0.0,
    vf_coef: float = 0.5,
    max_grad_norm: float = 0.5,
    target_kl: float | None = None,
    net_arch: Sequence[int] = (64, 64),
    activation: str = "tanh",
    log_std_init: float = -0.5,
    init_action: float | None = None,
    ortho_init: bool = True,
) -> PPO:
    """SB3 ``PPO`` with an ``MlpPolicy`` of separate actor and critic MLPs of ``net_arch``.

    Args:
        venv: The training env (:func:`make_training_env`).
        seed: Seeds torch, numpy and the env (sub-env ``i`` gets root seed ``seed + i``).
        learning_rate: Adam step size.
        lr_schedule: ``"constant"`` or ``"linear"`` (decays to 0 at the end of training).
        n_steps: Steps per env per rollout (rollout size ``n_steps * n_envs``).
        batch_size: Minibatch size.
        n_epochs: Passes over each rollout.
        gamma: Discount factor.
        gae_lambda: GAE lambda.
        clip_range: PPO ratio clip.
        ent_coef: Entropy bonus weight.
        vf_coef: Value loss weight.
        max_grad_norm: Gradient clipping norm.
        target_kl: Stop an update's epochs early past this KL (None: never).
        net_arch: Hidden layer sizes of both the actor and the critic.
        activation: ``"tanh"`` or ``"relu"``.
        log_std_init: Initial log standard deviation of the Gaussian actions.
        init_action: Initial mean of every action dimension, in [-1, 1] (the bias of the
            actor's output layer, whose weights start near 0). None keeps SB3's 0, the middle of
            the action range, which the default ``action_mapping="touch"`` puts at the touch, so
            the first rollouts see fills (under ``"mid"`` it quotes ``max_offset_ticks / 2``
            away, where nothing fills and exploration finds no signal). It is only the starting
            point of the search.
        ortho_init: Orthogonal initialisation of the layers.

    Returns:
        The model (not yet trained).
    """
    policy_kwargs = _policy_kwargs(net_arch, activation, log_std_init, ortho_init)
    if init_action is not None and not -1.0 <= init_action <= 1.0:
        raise ValueError(f"init_action={init_action!r} must be in [-1, 1]")
    model = PPO(
        "MlpPolicy",
        venv,
        learning_rate=_schedule(learning_rate, lr_schedule),
        n_steps=n_steps,
        batch_size=batch_size,
        n_epochs=n_epochs,
        gamma=gamma,
        gae_lambda=gae_lambda,
        clip_range=clip_range,
        ent_coef=ent_coef,
        vf_coef=vf_coef,
        max_grad_norm=max_grad_norm,
        target_kl=target_kl,
        policy_kwargs=policy_kwargs,
        seed=seed,
        device="cpu",
        verbose=0,
    )
    if init_action is not None:
        with torch.no_grad():
            action_net: Any = model.policy.action_net
            action_net.bias.fill_(init_action)
    return model


def policy_arrays(
    model: PPO,
    venv: VecNormalize,
    feature_names: Sequence[str],
    max_offset_ticks: float,
    action_mapping: str = DEFAULT_ACTION_MAPPING,
) -> dict[str, np.ndarray]:
    """The deterministic actor of ``model`` and the observation statistics as numpy arrays.

    Args:
        model: A PPO model with an ``MlpPolicy`` on a ``Box`` observation.
        venv: Its ``VecNormalize`` (the observation mean, variance, clip and epsilon).
        feature_names: The observation's feature names, in order.
        max_offset_ticks: The env's offset for an action of +1.
        action_mapping: The env's ``action_mapping`` (recorded, so that the actor's actions are
            never read with another mapping; see :class:`agents.policy.PPOPolicy`).

    Returns:
        The arrays of ``policy.npz`` (see :class:`agents.policy.PPOPolicy`); ``action_form``
        ``"routed"`` if ``venv`` steps MultiVenue-v0's routed form; ``action_type`` if the
        env's is not ``"continuous"`` (:class:`~agents.policy.PPOPolicy` refuses such a file).
    """
    policy = model.policy
    layers: list[Any] = [
        m for m in policy.mlp_extractor.policy_net if isinstance(m, torch.nn.Linear)
    ]
    acts = {type(m) for m in policy.mlp_extractor.policy_net if not isinstance(m, torch.nn.Linear)}
    names = [n for n, cls in ACTIVATIONS.items() if cls in acts]
    if len(names) > 1 or (layers and not names):
        raise ValueError(f"cannot export an actor with activations {acts}")
    layers.append(policy.action_net)
    arrays: dict[str, np.ndarray] = {}
    with torch.no_grad():
        for i, layer in enumerate(layers):
            arrays[f"weights_{i}"] = layer.weight.detach().cpu().numpy().astype(np.float32)
            arrays[f"biases_{i}"] = layer.bias.detach().cpu().numpy().astype(np.float32)
    d = len(feature_names)
    if venv.norm_obs:
        rms: Any = venv.obs_rms  # a RunningMeanStd for a Box observation
        mean = np.asarray(rms.mean, np.float64)
        var = np.asarray(rms.var, np.float64)
        clip, eps = float(venv.clip_obs), float(venv.epsilon)
    else:
        # Identity normalisation: (x - 0) / sqrt(1 - eps + eps), unbounded clip.
        mean, var, clip, eps = np.zeros(d), np.ones(d), np.inf, 0.0
    arrays.update(
        obs_mean=mean,
        obs_var=var,
        clip_obs=np.float64(clip),
        epsilon=np.float64(eps),
        activation=np.array(names[0] if names else "tanh"),
        feature_names=np.array(list(feature_names)),
        max_offset_ticks=np.float64(max_offset_ticks),
        action_mapping=np.array(check_action_mapping(action_mapping)),
    )
    if getattr(venv.venv, "action_form", "per_venue") == "routed":
        # MultiVenue-v0's routed form: 2 + V actions (recorded only then, so a per-venue
        # actor's file is as before).
        arrays["action_form"] = np.array("routed")
    action_type = str(getattr(venv.venv, "action_type", "continuous"))
    if action_type != "continuous":
        # e.g. "continuous_sizes": 4 actions that PPOPolicy would otherwise read as two venues'
        # (bid, ask) pairs; recorded so that it refuses the file (a default file is as before).
        arrays["action_type"] = np.array(action_type)
    return arrays
