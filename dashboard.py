"""The mm_gym dashboard: ``streamlit run dashboard.py`` (or ``make dashboard``).

Pages: live market, evaluation results (``exports/``), training curves (``runs/``); see
:mod:`mm_gym_dashboard` for the settings (``MM_GYM_EXPORTS``, ``MM_GYM_RUNS``, ``?page=``).
"""

from mm_gym_dashboard.app import main

main()
