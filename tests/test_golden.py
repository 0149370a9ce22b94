"""Behaviour is unchanged by refactors: every env id, the vector env and a small tournament
reproduce, bit for bit, the rollouts recorded in ``tests/golden/rollouts.npz``.

Regenerate the file (``python tests/golden_record.py``) only with a deliberate change of the
dynamics, reward or observation, which also bumps the env ids' versions.
"""

from __future__ import annotations

import numpy as np
import pytest
from golden_record import GOLDEN, record_all


@pytest.fixture(scope="module")
def current() -> dict[str, np.ndarray]:
    return record_all()


@pytest.fixture(scope="module")
def golden() -> dict[str, np.ndarray]:
    with np.load(GOLDEN, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def test_golden_rollouts_cover_the_same_arrays(current, golden) -> None:
    assert sorted(current) == sorted(golden)


def test_golden_rollouts_are_bit_identical(current, golden) -> None:
    differ = []
    for key, want in golden.items():
        got = current[key]
        same = got.shape == want.shape and (
            np.array_equal(got, want)
            if want.dtype.kind not in "fc"
            else np.array_equal(got, want, equal_nan=True)
        )
        if not same:
            differ.append(key)
    assert not differ, f"changed since the golden recording: {differ}"
