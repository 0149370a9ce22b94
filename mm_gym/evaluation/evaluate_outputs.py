"""What ``evaluate.py`` adds to its tournament: the stress grid, the realism report, the record.

:func:`run_scenarios` plays the stress grid of ``--scenarios`` under a progress bar,
:func:`run_realism` measures the regimes' markets for ``--realism`` and writes their report,
:func:`report_setup` is the setup table on ``report.pdf``'s cover and :func:`write_run_json`
writes ``run.json``. ``args`` is ``evaluate.py``'s ``Args``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from mm_gym.evaluation.evaluate_settings import horizon_of, overrides


def report_setup(
    args: Any, regimes: list[str], contestants: list[str], baseline: str | None
) -> list[tuple[str, str]]:
    """The cover page's setup table of ``report.pdf`` (:func:`~mm_gym.evaluation.setup_rows`)."""
    from mm_gym.cli import changed_flags
    from mm_gym.evaluation import evaluation_seeds, setup_rows

    return setup_rows(
        regimes=regimes, contestants=contestants, rival=args.rival, episodes=args.episodes,
        horizons=sorted({horizon_of(r, args) for r in regimes}),
        seeds=[int(s) for s in evaluation_seeds(args.episodes, args.seed)], seed=args.seed,
        baseline=baseline, command=f"evaluate.py {' '.join(changed_flags(args))}",
    )  # fmt: skip


def write_run_json(
    tmp: Path,
    args: Any,
    regimes: list[str],
    contestants: list[str],
    baseline: str | None,
    calib: dict[str, Any],
    seconds: dict[str, float],
    market_steps: int,
) -> None:
    """``run.json``: the arguments, seeds, calibrations and timings of the run."""
    from mm_gym.evaluation import evaluation_seeds
    from mm_gym.files import atomic_write_text

    meta = {
        "args": dataclasses.asdict(args),
        "regimes": regimes,
        "contestants": contestants,
        "baseline_for_differences": baseline,
        "calibrations": calib,
        "seeds_first_10": [int(s) for s in evaluation_seeds(args.episodes, args.seed)[:10]],
        "default_sigma_ticks": {r: preset_sigma(r) for r in regimes},
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
        "market_steps": market_steps,
        "market_steps_per_second": round(market_steps / max(seconds["simulation"], 1e-9)),
    }
    atomic_write_text(tmp / "run.json", json.dumps(meta, indent=2, default=str) + "\n")


def run_realism(args: Any, regimes: list[str], folder: Path) -> str:
    """The realism report of the regimes' markets into ``folder``; return its tables as text.

    Each regime's preset is measured as ``python -m mm_gym.realism --preset P`` measures it
    (fixed symmetric quotes for both makers, the preset's own market; ``--horizon`` and
    ``--env-kwargs`` do not apply), with ``--realism-markets`` markets and ``--realism-steps``
    steps from ``--seed``.
    """
    from mm_gym.config import preset, setting_preset
    from mm_gym.realism.report import format_table, measure, write_files

    presets = list(dict.fromkeys(setting_preset(r) for r in regimes))
    results = measure(
        {p: preset(p) for p in presets}, args.realism_markets, args.realism_steps,
        seed=args.seed, progress=args.progress,
    )  # fmt: skip
    tables = "\n\n".join(format_table(r) for r in results)
    print(f"\n== realism of the regimes' markets (python -m mm_gym.realism) ==\n{tables}")
    folder.mkdir()
    command = (
        f"evaluate.py --realism --realism-markets {args.realism_markets} "
        f"--realism-steps {args.realism_steps} --seed {args.seed} (presets {', '.join(presets)})"
    )
    write_files(results, folder, command)
    return f"== realism of the regimes' markets ==\n{tables}"


def preset_sigma(setting: str) -> float:
    """The preset's fundamental volatility, ticks per step."""
    from mm_gym.evaluation import setting_configs

    return float(setting_configs(setting)[0].process.sigma_ticks)


def run_scenarios(
    args: Any, regimes: list[str], policies: dict[str, Any], rival: Any, baseline: str | None
) -> tuple[dict[str, Any], str]:
    """The stress grid (:mod:`mm_gym.evaluation.scenarios`) under a progress bar."""
    from tqdm import tqdm

    from mm_gym.evaluation.scenarios import run_scenarios as run_grid
    from mm_gym.evaluation.scenarios import scenario_grid

    grid = scenario_grid(regimes)
    n_batches = -(-args.episodes // args.batch_size)
    total = sum(n_batches * len(policies) * horizon_of(r, args) for r, _, _ in grid)
    with tqdm(total=total, desc="scenarios", unit="step", disable=not args.progress) as bar:
        return run_grid(
            policies, grid, overrides(args), args.episodes, seed=args.seed, rival=rival,
            batch_size=args.batch_size, baseline=baseline, progress=bar.update,
        )  # fmt: skip
