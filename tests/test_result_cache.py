"""The on-disk calibration cache (mm_gym.result_cache): keys, hits, misses, bad entries, output.

The suite's autouse fixture (conftest.py) points ``MM_GYM_CACHE_DIR`` at an empty folder per
test, so nothing here reads or writes the user's cache.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import pytest
from helpers import load_script

import mm_gym
from baselines import calibration
from mm_gym import result_cache
from mm_gym.result_cache import (
    MARKER,
    ResultCacheWarning,
    cache_root,
    cached_result,
    entry_path,
    kernels_digest,
    report_to,
    result_key,
    source_digest,
)

SMALL = {"horizon_steps": 20}
PARAMS = {"seed": 7, "n_episodes": 16, "gammas": [1e-5, 1e-3]}


def _key(setting="trending", overrides=SMALL, params=PARAMS):
    return result_key("calibration", setting, overrides, params, ())


def _counting(value):
    calls = []

    def compute():
        calls.append(1)
        return value

    return compute, calls


def _folder() -> Path:
    return cache_root() / "calibration"


def _is_dict(v) -> bool:
    return isinstance(v, dict)


def test_cache_root_follows_the_variables_in_order(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("MM_GYM_CACHE_DIR", str(tmp_path / "a"))
    monkeypatch.setenv("MM_GYM_CACHE", str(tmp_path / "b"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "c"))
    assert cache_root() == tmp_path / "a"
    monkeypatch.delenv("MM_GYM_CACHE_DIR")
    assert cache_root() == tmp_path / "b"
    monkeypatch.delenv("MM_GYM_CACHE")
    assert cache_root() == tmp_path / "c" / "mm_gym"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "mm_gym"


def test_a_stored_value_is_loaded_and_announced() -> None:
    key = _key()
    compute, calls = _counting({"x": 0.1 + 0.2, "w": [1.0, 0.25]})
    said: list[str] = []
    with report_to(said.append):
        first = cached_result(key, compute, _is_dict)
        second = cached_result(key, compute, _is_dict)
    assert calls == [1]  # the second came from the file
    assert first == second == {"x": 0.1 + 0.2, "w": [1.0, 0.25]}  # floats round-trip exactly
    path = entry_path(_folder(), key)
    assert said[0].startswith("calibrated in ") and said[0].endswith(f" s (cached to {path})")
    assert said[1] == f"calibration: loaded from cache {path}"
    assert sorted(p.name for p in _folder().iterdir()) == sorted([MARKER, path.name])


@pytest.mark.parametrize(
    "change",
    [
        {"setting": "mean_reverting"},  # the regime
        {"overrides": {**SMALL, "flow.shock_rate": 0.005}},  # the market config
        {"overrides": {**SMALL, "inventory_penalty": 0.02}},  # the env config
        {"overrides": {**SMALL, "news_model": "lm"}},  # an observation-only field too
        {"params": {**PARAMS, "seed": 8}},  # seeds
        {"params": {**PARAMS, "n_episodes": 17}},  # episode counts
        {"params": {**PARAMS, "gammas": [1e-5, 3e-3]}},  # candidate lists
        {"params": {**PARAMS, "gammas": [1e-5, 1e-3, 1e-2]}},
    ],
)
def test_each_input_changes_the_key_and_misses(change) -> None:
    base = _key()
    compute, calls = _counting({"v": 1})
    cached_result(base, compute, _is_dict)
    other = _key(**change)
    assert entry_path(_folder(), other) != entry_path(_folder(), base)
    cached_result(other, compute, _is_dict)
    assert calls == [1, 1]


@pytest.mark.parametrize("what", ["version", "sources", "kernels", "numpy"])
def test_code_and_versions_change_the_key(what, monkeypatch) -> None:
    base = _key()
    if what == "version":
        monkeypatch.setattr(mm_gym, "__version__", "99.0")
    elif what == "sources":
        monkeypatch.setattr(result_cache, "source_digest", lambda *f: "0" * 64)
    elif what == "kernels":
        monkeypatch.setattr(result_cache, "kernels_digest", lambda: "0" * 64)
    else:
        import numpy

        monkeypatch.setattr(numpy, "__version__", "0.0.1")
    assert entry_path(_folder(), _key()) != entry_path(_folder(), base)


def test_source_digest_changes_with_a_source_file(tmp_path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "mod.py").write_text("X = 1\n")
    before = source_digest(str(pkg))
    (pkg / "__pycache__").mkdir()
    (pkg / "__pycache__" / "mod.cpython.pyc").write_bytes(b"compiled")  # not a source
    source_digest.cache_clear()
    assert source_digest(str(pkg)) == before
    (pkg / "mod.py").write_text("X = 2\n")
    source_digest.cache_clear()
    assert source_digest(str(pkg)) != before
    source_digest.cache_clear()


def test_kernels_digest_is_numbas_cache_stamp() -> None:
    import mm_gym.market

    stamp = Path(mm_gym.market.__file__).parent / "__pycache__" / "mm_gym_kernels.sha256"
    if not stamp.is_file():
        pytest.skip("no kernels stamp (read-only install)")
    assert kernels_digest() == stamp.read_text()


def test_the_news_file_contents_are_in_the_key(tmp_path) -> None:
    news = tmp_path / "news.csv"
    news.write_text("step,headline\n1,Shares rise\n")
    overrides = {**SMALL, "news_model": "vader", "news_file": str(news)}
    pytest.importorskip("vaderSentiment")
    base = _key(overrides=overrides)
    news.write_text("step,headline\n1,Shares fall\n")
    assert _key(overrides=overrides) != base


@pytest.mark.parametrize(
    "bad",
    [
        b"{not json",
        b"\xff\xfe",
        b"[]",
        b'{"key": {}, "key_sha256": "x", "value": {}}',  # another key
        "value",  # the right key, a value of the wrong form
    ],
)
def test_a_bad_entry_is_ignored_with_a_warning_and_replaced(bad) -> None:
    key = _key()
    path = entry_path(_folder(), key)
    cached_result(key, lambda: {"v": 1}, _is_dict)
    if bad == "value":
        entry = json.loads(path.read_text())
        entry["value"] = [1]
        bad = json.dumps(entry).encode()
    path.write_bytes(bad)
    compute, calls = _counting({"v": 2})
    with pytest.warns(ResultCacheWarning, match="ignoring cache entry .*; recomputing"):
        assert cached_result(key, compute, _is_dict) == {"v": 2}
    assert calls == [1]
    assert json.loads(path.read_text())["value"] == {"v": 2}  # replaced: the next run loads it


@pytest.mark.parametrize("marked", [True, False])
def test_a_failed_write_leaves_no_temporary_and_returns_the_value(marked, monkeypatch) -> None:
    if marked:  # the folder is the cache's already; the entry's own write fails
        cached_result(_key(params={}), lambda: {"v": 0}, _is_dict)
    before = sorted(_folder().iterdir()) if marked else []

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    said: list[str] = []
    with report_to(said.append), pytest.warns(ResultCacheWarning, match="disk full"):
        assert cached_result(_key(), lambda: {"v": 1}, _is_dict) == {"v": 1}
    assert sorted(_folder().iterdir()) == before  # no temporary, no entry
    assert said[-1].endswith("s (not cached: disk full)")


def test_a_foreign_folder_is_never_written_into(monkeypatch) -> None:
    folder = _folder()
    folder.mkdir(parents=True)
    (folder / "theirs.txt").write_text("not ours")
    key = _key()
    path = entry_path(folder, key)
    path.write_text("a file of the same name, not ours")
    said: list[str] = []
    with report_to(said.append), pytest.warns(ResultCacheWarning):
        assert cached_result(key, lambda: {"v": 1}, _is_dict) == {"v": 1}
    assert path.read_text() == "a file of the same name, not ours"
    assert sorted(p.name for p in folder.iterdir()) == sorted(["theirs.txt", path.name])
    assert "not cached" in said[-1]


def test_the_disabled_cache_recomputes_and_writes_nothing(monkeypatch) -> None:
    key = _key()
    cached_result(key, lambda: {"v": 1}, _is_dict)
    monkeypatch.setenv("MM_GYM_NO_CACHE", "1")
    compute, calls = _counting({"v": 1})
    said: list[str] = []
    with report_to(said.append):
        cached_result(key, compute, _is_dict)
    assert calls == [1]
    assert "cache off: MM_GYM_NO_CACHE is set" in said[0]
    os.unlink(entry_path(_folder(), key))
    cached_result(key, compute, _is_dict)
    assert not entry_path(_folder(), key).exists()


@pytest.mark.filterwarnings("ignore:tune_gamma:RuntimeWarning")  # edge of the grid
def test_cached_calibrations_equal_fresh_ones(monkeypatch) -> None:
    """calibration_for and calibrated_sentiment_as: a hit gives what computing gives."""
    monkeypatch.setattr(calibration, "_CACHE", {})
    monkeypatch.setattr(calibration, "_KAPPA_CACHE", {})
    monkeypatch.setattr(calibration, "SENTIMENT_TUNING_EPISODES", 4)
    fresh = calibration.calibration_for("trending", SMALL)
    pick = calibration.calibrated_sentiment_as("trending", SMALL, kappas=(0.0, 2.0))
    calibration._CACHE.clear()
    calibration._KAPPA_CACHE.clear()

    def no_compute(*args, **kwargs):
        raise AssertionError("computed instead of loaded")

    monkeypatch.setattr(calibration, "calibrate_setting", no_compute)
    monkeypatch.setattr(calibration, "tune_gamma", no_compute)
    loaded = calibration.calibration_for("trending", SMALL)
    again = calibration.calibrated_sentiment_as("trending", SMALL, kappas=(0.0, 2.0))
    assert loaded == fresh and loaded.fingerprint == calibration.config_fingerprint(
        "trending", SMALL
    )
    assert [type(getattr(loaded, f)) for f in ("A", "k", "gamma_as")] == [float] * 3
    assert (again.weights, again.kappa) == (pick.weights, pick.kappa)
    assert type(again.weights) is tuple and type(again.kappa) is type(pick.kappa)


@pytest.mark.parametrize(
    ("gamma_as", "gamma_glft", "edges"),
    [
        (calibration.AS_GAMMAS[0], calibration.GLFT_GAMMAS[-1], [1e-05, 1.0]),
        (calibration.AS_GAMMAS[2], calibration.GLFT_GAMMAS[3], []),
    ],
)
def test_a_loaded_calibration_warns_at_the_edge_of_the_grid_as_computing_did(
    gamma_as, gamma_glft, edges, monkeypatch
) -> None:
    """tune_gamma's edge-of-grid warning is given again for a calibration loaded from the cache."""
    monkeypatch.setattr(calibration, "_CACHE", {})
    made = calibration.Calibration(0.3, 1.1, gamma_as, gamma_glft, "fp")
    monkeypatch.setattr(calibration, "calibrate_setting", lambda *a, **k: made)
    calibration.calibration_for("trending", SMALL)  # computed (the stub warns nothing) and stored
    calibration._CACHE.clear()  # a new process, as far as the memo goes
    monkeypatch.setattr(calibration, "calibrate_setting", None)  # loading must not compute
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert calibration.calibration_for("trending", SMALL) == made
    said = [str(w.message) for w in seen if w.category is RuntimeWarning]
    assert [float(m.split("gamma ")[1].split(" is")[0]) for m in said] == edges
    assert all("edge of the grid" in m for m in said)


@pytest.mark.filterwarnings("ignore:tune_gamma:RuntimeWarning")  # edge of the grid
def test_the_tournament_is_identical_with_a_cache_hit_and_a_miss(tmp_path, monkeypatch, capsys):
    """evaluate.py with calibrations off the stored presets: computed, then loaded, then off."""
    cli = load_script("evaluate.py", "evaluate_cli_cache")
    monkeypatch.setattr(calibration, "SENTIMENT_TUNING_EPISODES", 4)
    argv = [
        "--contestants", "avellaneda_stoikov,glft,sentiment_as", "--regimes", "trending",
        "--episodes", "3", "--horizon", "20", "--no-progress", "--runs", "none",
    ]  # fmt: skip
    outs = []
    for i, no_cache in enumerate(["", "", "1"]):
        monkeypatch.setenv("MM_GYM_NO_CACHE", no_cache)
        monkeypatch.setattr(calibration, "_CACHE", {})  # a new process, as far as caches go
        monkeypatch.setattr(calibration, "_KAPPA_CACHE", {})
        assert cli.main([*argv, "--out", str(tmp_path / f"run{i}")]) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0].count("calibrated in ") == 2 and "cached to " in outs[0]
    assert outs[1].count("calibration: loaded from cache ") == 2 and "calibrated in" not in outs[1]
    assert outs[2].count("(cache off: MM_GYM_NO_CACHE is set)") == 2
    for name in ("episodes.csv", "summary.csv"):
        first = (tmp_path / "run0" / name).read_bytes()
        assert (tmp_path / "run1" / name).read_bytes() == first
        assert (tmp_path / "run2" / name).read_bytes() == first
    calibs = [json.loads((tmp_path / f"run{i}" / "run.json").read_text()) for i in range(3)]
    assert calibs[0]["calibrations"] == calibs[1]["calibrations"] == calibs[2]["calibrations"]
