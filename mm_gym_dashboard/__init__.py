"""mm_gym dashboard: a Streamlit app over the live market, evaluation exports and training runs.

Start it with ``make dashboard`` or ``streamlit run dashboard.py``. Three pages:

- **Live market** (:mod:`mm_gym_dashboard.pages.live`): one ``MarketMakingEnv`` stepped or played
  with a chosen mm1 policy (any baseline or trained run) against a chosen rival; with a news
  model, the headlines as they arrive.
- **Results** (:mod:`mm_gym_dashboard.pages.results`): an ``evaluate.py`` export folder.
- **Training** (:mod:`mm_gym_dashboard.pages.training`): TensorBoard scalars of ``train.py`` runs.

The data layer (:mod:`~mm_gym_dashboard.exports`, :mod:`~mm_gym_dashboard.runs`,
:mod:`~mm_gym_dashboard.live`, :mod:`~mm_gym_dashboard.charts`) does not import Streamlit, so
it can be used and tested without it. This package lives outside ``mm_gym`` so that
``import mm_gym`` stays light; Streamlit comes with the ``dashboard`` extra
(``pip install -e ".[dashboard]"``).

Where the app looks (environment variables, then query parameters):

| variable | default | meaning |
| --- | --- | --- |
| ``MM_GYM_EXPORTS`` | ``exports`` | ``evaluate.py`` exports (``<timestamp>/``, ``latest``) |
| ``MM_GYM_RUNS`` | ``runs`` | ``train.py`` runs (``<name>/tb/``, model, config) |

| query parameter | meaning |
| --- | --- |
| ``page`` | ``live``, ``results`` or ``training`` |
| ``export`` | an export folder name inside ``MM_GYM_EXPORTS`` (default ``latest``) |
| ``runs`` | comma-separated run names to plot on the training page |
| ``news`` | the live page's first news model: ``none``, ``vader`` or ``lm`` |
"""

from mm_gym_dashboard.paths import ENV_EXPORTS, ENV_RUNS, exports_root, runs_root

__all__ = ["ENV_EXPORTS", "ENV_RUNS", "exports_root", "runs_root"]
