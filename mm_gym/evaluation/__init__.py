"""Monte Carlo evaluation of quoting policies on the batched environment.

Every contestant (a :class:`~mm_gym.policy.QuotingPolicy`) quotes as **mm1** in
:class:`~mm_gym.envs.vector.MarketMakingVectorEnv` against the same rival, over the same list of
evaluation seeds: episode ``i`` of every contestant runs on the same seed, so all contestants
face the same exogenous path (fundamental, regime, sentiment, news, noise flow; common random
numbers) and their per-episode results can be compared pairwise
(:func:`mm_gym.metrics.paired_diff_ci`).

Modules:

- :mod:`~mm_gym.evaluation.settings`: settings (presets, env ids), seed lists, environments,
  the memory estimate;
- :mod:`~mm_gym.evaluation.rollout`: :func:`rollout`, :func:`evaluate_policies`,
  :func:`run_tournament` (batched rollouts; the per-step recorder is in
  :mod:`~mm_gym.evaluation.recorder`);
- :mod:`~mm_gym.evaluation.stats`: :func:`summarize` (the one summary schema),
  :func:`leaderboard`, :func:`format_leaderboard`;
- :mod:`~mm_gym.evaluation.export`: CSV text, safe names, :func:`bands_table`, :func:`write_tables`;
- :mod:`~mm_gym.evaluation.figures`: :func:`make_figures`, :func:`write_figures`;
- :mod:`~mm_gym.evaluation.report`: :func:`write_report` (the PDF);
- :mod:`~mm_gym.evaluation.scenarios`: the stress grid of ``evaluate.py --scenarios``;
- :mod:`~mm_gym.evaluation.trained`: the trained contestants of ``evaluate.py --runs``;
- :mod:`~mm_gym.evaluation.evaluate_settings`, :mod:`~mm_gym.evaluation.evaluate_outputs`:
  ``evaluate.py``'s flags checked and resolved, and what it writes besides the tournament.

Example:
    >>> from baselines import FixedSpread, RandomQuoter
    >>> from mm_gym.evaluation import evaluate_policies, summarize
    >>> df = evaluate_policies({"fixed": FixedSpread(2.0), "random": RandomQuoter()},
    ...                        "mean_reverting", n_episodes=64, seed=0)
    >>> summary = summarize(df, baseline="fixed")
"""

from mm_gym.evaluation.export import bands_table, csv_text, safe_name, write_tables
from mm_gym.evaluation.figures import make_figures, write_figures
from mm_gym.evaluation.report import setup_rows, write_report
from mm_gym.evaluation.rollout import (
    BAND_QUANTILES,
    EPISODE_COLUMNS,
    PolicyOrFactory,
    Rollout,
    Tournament,
    evaluate_policies,
    rollout,
    run_tournament,
)
from mm_gym.evaluation.settings import (
    evaluation_seeds,
    make_vector_env,
    observation_overrides,
    resolve_setting,
    setting_configs,
    tournament_memory_bytes,
)
from mm_gym.evaluation.stats import (
    CI_STATS,
    DIFF_STATS,
    LEADERBOARD_LEGEND,
    SUMMARY_CI_METRICS,
    SUMMARY_KEYS,
    SUMMARY_STATS,
    format_leaderboard,
    leaderboard,
    leaderboard_cells,
    summarize,
    summary_column,
)

__all__ = [
    "BAND_QUANTILES",
    "CI_STATS",
    "DIFF_STATS",
    "EPISODE_COLUMNS",
    "LEADERBOARD_LEGEND",
    "SUMMARY_CI_METRICS",
    "SUMMARY_KEYS",
    "SUMMARY_STATS",
    "PolicyOrFactory",
    "Rollout",
    "Tournament",
    "bands_table",
    "csv_text",
    "evaluate_policies",
    "evaluation_seeds",
    "format_leaderboard",
    "leaderboard",
    "leaderboard_cells",
    "make_figures",
    "make_vector_env",
    "observation_overrides",
    "resolve_setting",
    "rollout",
    "run_tournament",
    "safe_name",
    "setting_configs",
    "setup_rows",
    "summarize",
    "summary_column",
    "tournament_memory_bytes",
    "write_figures",
    "write_report",
    "write_tables",
]
