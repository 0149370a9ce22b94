"""The realism report: stylized facts of the book presets, measured with bootstrap CIs.

Run ``python -m mm_gym.realism --help``. The package is not imported by ``import mm_gym``.

Modules:
    estimators: Pure-numpy estimators of the facts (per-market parts + pooled combine).
    measure: Runs a preset under fixed quotes and records mids, orders and the book.
    facts: The facts, their targets and bootstrap CIs (``analyse``, ``cross_preset_facts``).
    tables: The console table, the CSV and the Markdown report.
    plots: The PNG plots.
    report: The CLI: measure, print, write the folder (re-exports the names above).
"""
