"""Every command-line tool answers bad arguments with exit status 2, its error line, and no files.

One table of the tools' bad arguments (the tool, the arguments, a part of the message) and one
test. Their other errors (missing or corrupt runs, taken folders, Ctrl-C) are tested beside each
tool.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from helpers import load_script

from baselines import as2008
from mm_gym.multivenue import tournament
from mm_gym.realism import report as realism

train = load_script("train.py", "train_cli_errors")
evaluate = load_script("evaluate.py", "evaluate_cli_errors")

EVALUATE_QUICK = ["--episodes", "3", "--horizon", "60", "--no-progress", "--runs", "none"]


class Tool(NamedTuple):
    main: Callable[[list[str]], Any]
    prog: str  # its error line starts "PROG: error: "
    usage_first: bool  # argparse's usage lines come before the error line
    args: Callable[[Path], list[str]]  # what every call passes first, given an output folder


TOOLS = {
    "as2008": Tool(as2008.main, "python -m baselines.as2008", False, lambda out: []),
    "train": Tool(train.parse_args, "train.py", False, lambda out: []),
    "evaluate": Tool(
        evaluate.main, "evaluate.py", False, lambda out: [*EVALUATE_QUICK, "--out", str(out)]
    ),
    "realism": Tool(
        realism.main, "python -m mm_gym.realism", False, lambda out: ["--out", str(out)]
    ),
    "tournament": Tool(tournament.main, tournament.PROG, False, lambda out: ["--out", str(out)]),
}

BAD_ARGUMENTS = [
    ("as2008", ["--gamma", "0"], "must be a finite number > 0"),
    ("as2008", ["--gamma", "nan"], "must be a finite number > 0"),
    ("as2008", ["--gamma", "abc"], "is not a number"),
    ("as2008", ["--paths", "1"], "must be an integer >= 2"),
    ("as2008", ["--paths", "1.5"], "is not an integer"),
    ("as2008", ["--seed", "-3"], "must be an integer >= 0"),
    ("as2008", ["--symmetric", "other"], "invalid choice"),
    ("train", ["--n-envs", "0"], "n_envs"),
    ("train", ["--batch-size", "999999"], "batch_size"),
    ("train", ["--lr-schedule", "cosine"], "lr_schedule"),
    ("train", ["--env-kwargs", "novalue"], "KEY=VALUE"),
    ("train", ["--runs-dir", ""], "runs_dir='' must name a folder"),
    ("train", ["--runs-dir", " "], "runs_dir=' ' must name a folder"),
    ("train", ["--torch-threads", "0"], "torch_threads=0 must be in [1, "),
    ("train", ["--torch-threads", "1000"], "torch_threads=1000 must be in [1, "),
    (
        "evaluate",
        ["--contestants", "fixed_spread,foo"],
        "valid contestants are fixed_spread, order_flow",
    ),
    (
        "evaluate",
        ["--contestants", "glft,fixed_spread,glft"],
        "--contestants names glft more than once",
    ),
    ("evaluate", ["--regimes", "mean_reverting,sideways"], "unknown regime 'sideways'"),
    ("evaluate", ["--rival", "nobody"], "valid rivals are builtin, fixed_spread"),
    ("evaluate", ["--episodes", "1"], "--episodes=1 must be >= 2"),
    ("evaluate", ["--episodes", "many"], "invalid int value: 'many'"),
    ("evaluate", ["--no-such-flag"], "unrecognized arguments"),
    ("evaluate", ["--news-model", "bert"], "--news-model='bert' must be one of none, vader, lm"),
    (
        "evaluate",
        ["--realism", "--realism-markets", "1"],
        "--realism-markets=1 must be in [2, 1000000] with --realism",
    ),
    (
        "evaluate",
        ["--realism", "--realism-steps", "10"],
        "--realism-steps=10 must be in [300, 100000000]",
    ),
    ("realism", ["--preset", "as2008"], "is not a book preset"),
    ("realism", ["--preset", "nope"], "is not a book preset"),
    ("realism", ["--markets", "1"], "--markets=1 must be in"),
    ("realism", ["--steps", "10"], "--steps=10 must be in"),
    ("realism", ["--out", "bad/.."], "--out 'bad/..'"),
    ("realism", ["--markets", "many"], "invalid int value"),
    ("tournament", ["--episodes", "1"], "--episodes=1 must be in"),
    ("tournament", ["--steps", "5"], "--steps=5 must be in"),
    ("tournament", ["--top-k", "4"], "--top-k=4 must be in"),
    ("tournament", ["--contestants", "nope"], "contestant 'nope' is not valid"),
    ("tournament", ["--baseline", "routed_glft"], "--baseline 'routed_glft' must be one of"),
    ("tournament", ["--preset", "nope"], "--preset 'nope' is not valid"),
    ("tournament", ["--episodes", "x"], "invalid int value"),
    ("tournament", ["--venues", "[{name: A}, {name: A}]"], "--venues: venues[1].name='A' repeats"),
    ("tournament", ["--venues", "[{name: A}]", "--top-k", "2"], "--top-k=2 must be in [1, 1]"),
    # An abbreviation would bind to whichever flag it prefixes today (--n-env: --n-envs), and
    # silently to another once a flag is added: every tool takes whole flags only.
    ("as2008", ["--path", "5"], "unrecognized arguments: --path 5"),
    ("train", ["--n-env", "3"], "unrecognized arguments: --n-env 3"),
    ("evaluate", ["--episode", "5"], "unrecognized arguments: --episode 5"),
    ("realism", ["--market", "5"], "unrecognized arguments: --market 5"),
    ("tournament", ["--episode", "5"], "unrecognized arguments: --episode 5"),
]


@pytest.mark.parametrize(("tool", "argv", "message"), BAD_ARGUMENTS)
def test_bad_arguments_exit_2_with_one_error_line_and_write_nothing(
    tool: str, argv: list[str], message: str, cli_error, tmp_path: Path
) -> None:
    t = TOOLS[tool]
    err = cli_error(
        t.main, [*t.args(tmp_path / "out"), *argv], prog=None if t.usage_first else t.prog
    )
    assert err.splitlines()[-1].startswith(f"{t.prog}: error: "), err
    assert message in err
    assert list(tmp_path.iterdir()) == []


def test_every_argument_parser_of_the_repository_refuses_abbreviated_flags() -> None:
    """Each ``ArgumentParser`` built in the repository passes ``allow_abbrev=False``.

    :class:`mm_gym.cli.OneLineParser` (and so ``settings_parser``) refuses abbreviations itself;
    the scripts, benchmarks and examples that build a plain parser must say so.
    """
    import ast

    from helpers import ROOT

    from mm_gym.cli import OneLineParser

    assert OneLineParser(fail=print).allow_abbrev is False  # type: ignore[arg-type]
    missing = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if parts[0] in (".venv", "tests") or any(p.startswith(".") for p in parts):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if not name.endswith("Parser") or name == "OneLineParser":
                continue
            refused = any(
                k.arg == "allow_abbrev" and isinstance(k.value, ast.Constant) and not k.value.value
                for k in node.keywords
            )
            if not refused:
                missing.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert missing == [], f"parsers that accept abbreviated flags: {missing}"


@pytest.mark.parametrize("threads", ["-1", "1000"])
def test_bench_train_refuses_a_torch_thread_count_out_of_range(threads: str) -> None:
    """``benchmarks/bench_train.py --torch-threads`` is bounded as train.py's (0: its default)."""
    import os
    import subprocess
    import sys

    from helpers import ROOT

    res = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_train.py"), "--torch-threads", threads],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},  # this checkout's agents, not an install's
    )  # fmt: skip
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert f"--torch-threads={threads} must be in [1, " in res.stderr, res.stderr
    assert res.stdout == ""
