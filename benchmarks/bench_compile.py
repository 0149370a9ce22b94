"""Cold numba compile time of the market kernels, per entry point.

Run: ``python benchmarks/bench_compile.py [--tree PATH]``. Copies ``PATH/mm_gym`` (default: this
checkout) to a temporary directory, so that no cached machine code exists, and compiles the entry
points one after the other in a fresh process, in the order the simulator needs them: the serial
step (with ``step_one``), the serial reset (with ``reset_one``), then the parallel step and reset.
Each figure is the time of that compile alone (what the earlier ones compiled is reused), as
CPU seconds of the compiling process (stable on a loaded machine; numba compiles on one thread)
and wall seconds.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

_CHILD = r"""
import json, time
import numba, numpy as np
t0, c0 = time.perf_counter(), time.process_time()
from mm_gym.config import preset
from mm_gym.market import kernels
from mm_gym.market.params import pack_params
from mm_gym.market.state import allocate
st = allocate(2, preset("default").n_levels)
head = (numba.typeof(st), numba.typeof(pack_params(preset("default"))))
quotes = numba.typeof(np.zeros((2, 2, 4)))
mask = numba.typeof(np.ones(2, np.bool_))
seeds = numba.typeof(np.zeros(2, np.uint64))
step_sig = (*head, quotes, mask, numba.boolean, numba.boolean)
reset_sig = (*head, seeds, mask, numba.int64, quotes)
out = {"import": (time.process_time() - c0, time.perf_counter() - t0)}
for name, sig in (
    ("step_serial", step_sig),
    ("reset_serial", reset_sig),
    ("step_parallel", step_sig),
    ("reset_parallel", reset_sig),
):
    t0, c0 = time.perf_counter(), time.process_time()
    getattr(kernels, name).compile(sig)
    out[name] = (time.process_time() - c0, time.perf_counter() - t0)
    print(name, out[name], flush=True)
out["step_one signatures"] = len(kernels.step_one.signatures)
out["reset_one signatures"] = len(kernels.reset_one.signatures)
print(json.dumps(out))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    ap.add_argument("--tree", type=Path, default=Path(__file__).resolve().parents[1])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = args.tree / "mm_gym"
        shutil.copytree(src, Path(tmp) / "mm_gym", ignore=shutil.ignore_patterns("__pycache__"))
        res = subprocess.run(
            [sys.executable, "-c", _CHILD],
            cwd=tmp,
            env={"PYTHONPATH": tmp, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=True,
        )
    times = json.loads(res.stdout.strip().splitlines()[-1])
    print("| entry point | cold compile, CPU s | wall s |")
    print("| --- | ---: | ---: |")
    for name, value in times.items():
        if isinstance(value, list):
            print(f"| {name} | {value[0]:.1f} | {value[1]:.1f} |")
        else:
            print(f"| {name} | {value} | |")


if __name__ == "__main__":
    main()
