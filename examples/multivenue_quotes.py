"""What a multi-venue policy quotes: offsets per venue and side, the touch, the inventory skew.

``python examples/multivenue_quotes.py runs/<name> [--episodes 32] [--seed 2000000]`` plays a
trained ``mm_gym/MultiVenue-v0`` run (and, for comparison, the ``everywhere_touch`` and
``everywhere_as`` baselines) on the same episodes of the default venues and prints, per venue:
the mean bid and ask offsets (ticks from the venue's mid, as the env maps the actions), the
share of steps each side quotes within a quarter tick of the mid (the touch at a 1- or 2-tick
spread), the share parked at the farthest offset, and the correlation of the quoted skew (ask
offset minus bid offset) with the summed inventory (negative: a long maker sells closer); then
the mean |inventory| and the share of steps at the limit. The README's "Training PPO on
several venues" quotes its figures.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import pandas as pd

from mm_gym.actions import TOUCH_OFFSET_TICKS, actions_to_offsets
from mm_gym.multivenue import MultiVenueVectorEnv


def _corr(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation; NaN where either series is constant (nothing to relate)."""
    if x.std() == 0 or y.std() == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def quote_profile(
    policy: Any, episodes: int = 32, steps: int = 1_000, seed: int = 2_000_000
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Play ``policy`` on episodes ``seed ..``; per venue its quotes, and its inventory.

    Returns:
        One row per venue (``venue``, ``bid_offset``, ``ask_offset``, ``bid_at_touch``,
        ``ask_at_touch``, ``parked``, ``skew_inventory_corr``) and ``{"mean_abs_inventory",
        "at_limit"}`` (lots; share of steps).
    """
    env = MultiVenueVectorEnv(episodes, horizon_steps=steps)
    obs, _ = env.reset(seed=list(range(seed, seed + episodes)))
    ctx = env.policy_context()
    policy.reset(np.random.default_rng(0), ctx)
    nv = len(env.venues)
    offsets = np.zeros((steps, episodes, nv, 2))
    inventory = np.zeros((steps, episodes))
    for t in range(steps):
        actions = np.asarray(policy.act(obs))
        offsets[t] = actions_to_offsets(
            actions.reshape(episodes, nv, 2), ctx.max_offset_ticks, ctx.action_mapping
        )
        inventory[t] = obs[:, ctx.index("inventory")] * ctx.inventory_limit
        obs, *_ = env.step(actions)
    env.close()
    rows = []
    for v, venue in enumerate(env.venues):
        bid, ask = offsets[..., v, 0].ravel(), offsets[..., v, 1].ravel()
        rows.append(
            {
                "venue": venue.name,
                "bid_offset": bid.mean(),
                "ask_offset": ask.mean(),
                "bid_at_touch": np.mean(bid <= TOUCH_OFFSET_TICKS),
                "ask_at_touch": np.mean(ask <= TOUCH_OFFSET_TICKS),
                "parked": np.mean(np.maximum(bid, ask) >= ctx.max_offset_ticks),
                "skew_inventory_corr": _corr(ask - bid, inventory.ravel()),
            }
        )
    held = {
        "mean_abs_inventory": float(np.abs(inventory).mean()),
        "at_limit": float(np.mean(np.abs(inventory) >= ctx.inventory_limit - 0.5)),
    }
    return pd.DataFrame(rows), held


def main() -> None:
    """Print the profiles of the run and of two baselines."""
    import agents
    from baselines.multivenue import make_multivenue_policy

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    p.add_argument("run", help="a train.py run folder trained on mm_gym/MultiVenue-v0")
    p.add_argument("--episodes", type=int, default=32)
    p.add_argument("--seed", type=int, default=2_000_000)
    args = p.parse_args()
    run = agents.load_policy(args.run)
    if run.action_form != "per_venue":
        p.error(
            f"{args.run} was trained on the routed action form: this profile reads per-venue "
            "quotes (evaluate it with python -m mm_gym.multivenue.tournament --runs)"
        )
    policies = [
        run,
        make_multivenue_policy("everywhere_touch"),
        make_multivenue_policy("everywhere_as"),
    ]
    for policy in policies:
        table, held = quote_profile(policy, args.episodes, seed=args.seed)
        print(f"{policy.name}: mean |inventory| {held['mean_abs_inventory']:.2f} lots, at the "
              f"limit on {held['at_limit']:.1%} of steps")  # fmt: skip
        print(table.to_string(index=False, float_format=lambda x: f"{x:.2f}"))


if __name__ == "__main__":
    main()
