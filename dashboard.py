"""The mm_gym dashboard: ``streamlit run dashboard.py`` (or ``make dashboard``).

Pages: live market, evaluation results (``exports/``), training curves (``runs/``); see
:mod:`mm_gym_dashboard` for the settings (``MM_GYM_EXPORTS``, ``MM_GYM_RUNS``, ``?page=``).
"""

import sys

from streamlit.runtime.scriptrunner import get_script_run_ctx

if get_script_run_ctx(suppress_warning=True) is None:  # python dashboard.py: no Streamlit
    print("dashboard.py: error: a Streamlit app; run: streamlit run dashboard.py", file=sys.stderr)
    sys.exit(2)

from mm_gym_dashboard.app import main

main()
