"""The Streamlit app: page choice (sidebar, or ``?page=``) and a guard around each page.

Run with ``streamlit run dashboard.py``; see :mod:`mm_gym_dashboard` for the settings.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable

import streamlit as st

from mm_gym_dashboard.paths import (
    ENV_PUBLIC,
    DashboardError,
    exports_root,
    is_loopback,
    runs_root,
)

__all__ = ["PAGES", "main"]

PAGES: dict[str, str] = {"live": "Live market", "results": "Results", "training": "Training"}
"""Page keys (the ``page`` query parameter) and titles."""


def _page_renderer(page: str) -> Callable[[], None]:
    if page == "live":
        from mm_gym_dashboard.pages import live

        return lambda: live.render(runs_root())
    if page == "results":
        from mm_gym_dashboard.pages import results

        return lambda: results.render(exports_root())
    from mm_gym_dashboard.pages import training

    return lambda: training.render(runs_root())


def _choose_page() -> str:
    state = st.session_state
    if "nav_page" not in state:
        wanted = st.query_params.get("page", "live")
        state["nav_page"] = wanted if wanted in PAGES else "live"
    with st.sidebar:
        st.markdown("## mm_gym dashboard")
        page = str(st.radio("Page", list(PAGES), format_func=PAGES.__getitem__, key="nav_page"))
    if st.query_params.get("page") != page:
        st.query_params["page"] = page
    return page


def _served_locally() -> bool:
    """Refuse to show anything when served beyond this machine, unless explicitly allowed.

    The pages read local files and run policies; ``.streamlit/config.toml`` binds to localhost,
    but ``streamlit run`` from another folder or with ``--server.address`` may not.
    """
    address = st.get_option("server.address")
    if is_loopback(address) or os.environ.get(ENV_PUBLIC) == "1":
        return True
    st.error(
        f"This dashboard is being served on {address or 'every network interface'}, so anyone "
        "who can reach the port could read this machine's files through it. Start it with "
        "`make dashboard` or `streamlit run dashboard.py --server.address localhost`; set "
        f"{ENV_PUBLIC}=1 to serve it beyond this machine on purpose."
    )
    return False


def main() -> None:
    """Draw the chosen page; an error becomes a message on the page, never a crash."""
    st.set_page_config(page_title="mm_gym dashboard", page_icon="📈", layout="wide")
    if not _served_locally():
        return
    page = _choose_page()
    try:
        _page_renderer(page)()
    except DashboardError as exc:
        st.error(str(exc))
    except ImportError as exc:
        st.error(
            f"The {PAGES[page]} page needs a package that is not installed: {exc}. "
            'Install the dashboard extra: pip install -e ".[dashboard]"'
        )
    except Exception as exc:  # the last guard: show the error, keep the app alive
        st.error(f"Unexpected error on the {PAGES[page]} page: {type(exc).__name__}: {exc}")
        with st.expander("Details (please report this)"):
            st.code(traceback.format_exc(), language="text")
