"""Reliability of the dashboard (issue #10, item 10): served to this machine only, and its folder
box opens nothing outside the configured exports / runs roots."""

from __future__ import annotations

from pathlib import Path

import pytest

from mm_gym_dashboard import exports as ex
from mm_gym_dashboard.paths import DashboardError, is_loopback
from mm_gym_dashboard.samples import write_sample_export

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "dashboard.py")


def test_streamlit_config_binds_to_localhost() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "localhost"
    assert config["browser"]["gatherUsageStats"] is False


@pytest.mark.parametrize(
    ("address", "local"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        (None, False),
        ("", False),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("example.org", False),
    ],
)
def test_is_loopback(address: str | None, local: bool) -> None:
    assert is_loopback(address) is local


@pytest.fixture
def roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    exports = tmp_path / "exports"
    write_sample_export(exports, episodes=2, steps=20)
    monkeypatch.setenv("MM_GYM_EXPORTS", str(exports))
    monkeypatch.setenv("MM_GYM_RUNS", str(tmp_path / "runs"))
    return exports


def test_folder_box_refuses_paths_outside_the_roots(roots: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "summary.csv").write_text("a,b\n1,2\n")
    for choice in (str(secret), "/etc", "../secret", str(roots / ".." / "secret")):
        with pytest.raises(DashboardError, match="outside the dashboard's folders"):
            ex.resolve_export(roots, choice)


def test_folder_box_refuses_a_link_that_leaves_the_roots(roots: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (roots / "sneaky").symlink_to(outside, target_is_directory=True)
    with pytest.raises(DashboardError, match="outside"):
        ex.resolve_export(roots, "sneaky")


def test_folder_box_accepts_exports_inside_the_root(roots: Path) -> None:
    name = next(p.name for p in ex.list_exports(roots))
    folder, note = ex.resolve_export(roots, name)
    assert note is None
    assert folder == (roots / name).resolve()
    folder, _ = ex.resolve_export(roots, str(roots / name))
    assert folder == (roots / name).resolve()


def test_app_refuses_to_serve_beyond_this_machine(
    roots: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("streamlit")
    from streamlit import config
    from streamlit.testing.v1 import AppTest

    before = config.get_option("server.address")
    monkeypatch.delenv("MM_GYM_DASHBOARD_PUBLIC", raising=False)
    try:
        config.set_option("server.address", "0.0.0.0")
        at = AppTest.from_file(APP, default_timeout=60)
        at.query_params["page"] = "results"
        at.run()
        assert not at.exception
        assert "every network interface" in at.error[0].value or "0.0.0.0" in at.error[0].value
        assert not at.sidebar.radio  # no page drawn
        monkeypatch.setenv("MM_GYM_DASHBOARD_PUBLIC", "1")
        at = AppTest.from_file(APP, default_timeout=60)
        at.query_params["page"] = "results"
        at.run()
        assert not at.exception
        assert at.sidebar.radio  # explicitly allowed: pages drawn
    finally:
        config.set_option("server.address", before)


def test_an_export_still_being_written_is_not_listed(roots: Path) -> None:
    before = ex.list_exports(roots)
    running = roots / "29990101-000000"
    running.mkdir()
    (running / ".lock").write_text("")
    assert ex.list_exports(roots) == before
