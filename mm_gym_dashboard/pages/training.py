"""The "Training" page: learning curves of chosen ``train.py`` runs from their TensorBoard logs."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import streamlit as st

from mm_gym_dashboard import charts
from mm_gym_dashboard.paths import ENV_RUNS
from mm_gym_dashboard.runs import (
    RunInfo,
    default_tags,
    list_runs,
    load_scalars,
    run_info,
    smooth,
    unfinished_note,
)

__all__ = ["render"]

_MAX_DEFAULT_RUNS = 3
_MAX_CONFIG_CHARS = 20_000


def _fingerprint(info: RunInfo) -> tuple[tuple[str, int, int], ...]:
    out = []
    for p in info.event_files:
        try:
            s = p.stat()
        except OSError:
            continue
        out.append((str(p), s.st_size, s.st_mtime_ns))
    return tuple(out)


@st.cache_data(max_entries=32, show_spinner="Reading TensorBoard logs…")
def _scalars(
    path: str, fingerprint: tuple[tuple[str, int, int], ...]
) -> tuple[pd.DataFrame, list[str]]:
    del fingerprint  # only part of the cache key: new events reload the run
    return load_scalars(run_info(Path(path)))


def _chosen_runs(names: list[str]) -> list[str]:
    wanted = [n for n in st.query_params.get("runs", "").split(",") if n in names]
    default = wanted or names[-_MAX_DEFAULT_RUNS:]
    return st.multiselect("Runs", names, default=default, key="training_runs")


def _show_file(path: Path) -> None:
    """A small text file of a run: JSON folded, YAML and text as code; errors name the file."""
    try:
        text = path.read_text(encoding="utf-8")[:_MAX_CONFIG_CHARS]
    except (OSError, UnicodeDecodeError) as exc:
        st.warning(f"{path}: cannot be read ({exc})")
        return
    st.caption(path.name)
    if path.suffix == ".json":
        try:
            st.json(json.loads(text), expanded=False)
        except json.JSONDecodeError as exc:
            st.warning(f"{path}: not valid JSON ({exc})")
            st.code(text, language="text")
    else:
        st.code(text, language="yaml" if path.suffix in (".yaml", ".yml") else "text")


def _show_config(info: RunInfo) -> None:
    if info.config_file is None:
        st.caption("No config file (config.yaml / config.json) in this run.")
    else:
        _show_file(info.config_file)
    for path in info.notes:
        _show_file(path)


def render(root: Path) -> None:
    """Draw the page for the runs in ``root``."""
    st.title("Training")
    runs = list_runs(root)
    if not runs:
        st.info(
            f"No training runs in `{root.resolve()}` yet. Run `python train.py` (it writes "
            f"`runs/<name>/tb/`), or set `{ENV_RUNS}` to a folder of runs."
        )
        return
    names = [p.name for p in runs]
    chosen = _chosen_runs(names)
    if not chosen:
        st.info("Choose one or more runs.")
        return
    infos = {name: run_info(root / name) for name in chosen}
    frames = []
    for name, info in infos.items():
        df, problems = _scalars(str(info.path), _fingerprint(info))
        for problem in problems:
            st.warning(f"Run {name}: {problem}")
        note = unfinished_note(name, df)
        if note is not None:
            st.info(note)
        if not df.empty:
            frames.append(df)
    if not frames:
        st.info("The chosen runs have no scalars logged yet.")
    else:
        data = pd.concat(frames, ignore_index=True)
        tags = sorted(data["tag"].unique())
        c1, c2, c3 = st.columns([3, 1, 1])
        shown = c1.multiselect("Scalars", tags, default=default_tags(tags), key="training_tags")
        weight = c2.slider("Smoothing", 0.0, 0.99, 0.6, 0.01, key="training_smoothing")
        x = str(
            c3.radio(
                "x axis",
                ("step", "wall_time"),
                format_func={"step": "steps", "wall_time": "time"}.__getitem__,
                key="training_x",
            )
        )
        cols = st.columns(2)
        for i, tag in enumerate(shown):
            curves = data[data["tag"] == tag].copy()
            curves["smoothed"] = curves.groupby("run")["value"].transform(
                lambda v: pd.Series(smooth(v.to_numpy(), weight), index=v.index)
            )
            cols[i % 2].altair_chart(charts.learning_curve_chart(curves, tag, x))
        last = data.sort_values("step").groupby(["run", "tag"]).tail(1)
        with st.expander("Latest values"):
            st.dataframe(
                last.pivot_table(index="tag", columns="run", values="value"), height="auto"
            )
    st.subheader("Runs")
    for name, info in infos.items():
        with st.expander(
            f"{name}: {len(info.event_files)} event files, {len(info.model_files)} model files"
        ):
            st.caption(f"`{info.path}`")
            if info.model_files:
                st.write(", ".join(str(p.relative_to(info.path)) for p in info.model_files))
            _show_config(info)
