"""The realism report: stylized facts of the book presets, measured with bootstrap CIs.

Run ``python -m mm_gym.realism --help``. The package is not imported by ``import mm_gym``.

Modules:
    estimators: Pure-numpy estimators of the facts (per-market parts + pooled combine).
    measure: Runs a preset under fixed quotes and records mids, orders and the book.
    report: The facts and targets, the table, the CSV / Markdown / PNG output and the CLI.
"""
