"""The "Live market" page: step or play one market and watch both makers quote in it.

The :class:`~mm_gym_dashboard.live.LiveMarket` lives in ``st.session_state["live_market"]`` and
is rebuilt (a new episode) whenever a setting in the sidebar changes. Playing reruns only the
view (an ``st.fragment`` with ``run_every``), advancing ``speed x interval`` steps per refresh.

With a news model chosen ("News headlines" in the sidebar, or the query parameter
``news=vader`` / ``news=lm`` for the first choice) the page adds a feed of the newest headlines
(step, score coloured by its sign, the observed sentiment after it, text) next to the observed
sentiment, and the headlines as points on the sentiment chart. Without one it is unchanged.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, cast

import pandas as pd
import streamlit as st

from mm_gym_dashboard import charts
from mm_gym_dashboard.live import (
    BASELINES,
    NEWS_CHOICES,
    REGIME_CHOICES,
    LiveMarket,
    LiveSettings,
    book_presets,
    describe_choice,
    policy_choices,
)
from mm_gym_dashboard.paths import DashboardError

__all__ = ["HEADLINES_SHOWN", "SPEEDS", "render"]

SPEEDS: tuple[int, ...] = (1, 2, 5, 10, 20, 50, 100, 200, 500)
"""Playing speeds offered, steps per second."""

HEADLINES_SHOWN: tuple[int, int, int] = (5, 50, 10)
"""The feed's length: least, most and default number of headlines shown."""

_MIN_INTERVAL_S = 0.25  # refresh at most 4 times a second; faster speeds take more steps each


def _params_help(choice: str) -> str:
    defaults = BASELINES.get(choice)
    if defaults is None:
        return "Keyword arguments of a baseline class (…), as a JSON object; unused here."
    return f"Keyword arguments as a JSON object; defaults: {json.dumps(defaults) or '{}'}"


def _news_choice() -> str:
    """The "News headlines" menu (first value from the ``news`` query parameter)."""
    state = st.session_state
    if "live_news" not in state:
        wanted = st.query_params.get("news", "none")
        state["live_news"] = wanted if wanted in NEWS_CHOICES else "none"
    return str(
        st.selectbox(
            "News headlines",
            list(NEWS_CHOICES),
            format_func=NEWS_CHOICES.__getitem__,
            help="news items as headlines scored by a lexicon model (process.news_model; "
            "the market is the same, the observed sentiment averages their scores)",
            key="live_news",
        )
    )


def _settings(runs_root: Path) -> tuple[LiveSettings, int, int, float, int]:
    """Sidebar controls: settings, speed (steps/s), window (steps), VaR level, headlines shown."""
    with st.sidebar:
        st.markdown("### Market")
        presets = book_presets()
        preset = str(
            st.selectbox("Preset", presets, index=presets.index("default"), key="live_preset")
        )
        regime = str(
            st.selectbox(
                "Regime",
                REGIME_CHOICES,
                format_func=lambda r: "as the preset" if r == "preset" else r,
                key="live_regime",
            )
        )
        seed = int(st.number_input("Seed", 0, 2**31 - 1, 0, step=1, key="live_seed"))
        news_model = _news_choice()
        st.markdown("### Makers")
        mm1 = str(
            st.selectbox(
                "mm1 policy", policy_choices(runs_root), format_func=describe_choice, key="live_mm1"
            )
        )
        mm1_params = st.text_input("mm1 parameters", "", help=_params_help(mm1), key="live_mm1_p")
        rival = str(
            st.selectbox(
                "Rival (mm2)",
                policy_choices(runs_root, rival=True),
                format_func=describe_choice,
                key="live_rival",
            )
        )
        rival_params = st.text_input(
            "Rival parameters", "", help=_params_help(rival), key="live_rival_p"
        )
        st.markdown("### View")
        speed = int(st.select_slider("Speed (steps/s)", SPEEDS, value=20, key="live_speed"))
        window = int(st.slider("Price window (steps)", 50, 1000, 300, 50, key="live_window"))
        level = float(cast(float, st.selectbox("VaR level", (0.95, 0.99), key="live_var_level")))
        n_headlines = HEADLINES_SHOWN[2]
        if news_model != "none":
            lo, hi, default = HEADLINES_SHOWN
            n_headlines = int(st.slider("Headlines shown", lo, hi, default, 5, key="live_n_news"))
    settings = LiveSettings(
        preset=preset,
        regime=regime,
        mm1=mm1,
        mm1_params=mm1_params,
        rival=rival,
        rival_params=rival_params,
        seed=seed,
        news_model=news_model,
    )
    return settings, speed, window, level, n_headlines


def _market(settings: LiveSettings, runs_root: Path) -> LiveMarket:
    """The session's market, rebuilt when the settings change (raises DashboardError)."""
    state = st.session_state
    market = state.get("live_market")
    if market is None or market.settings != settings:
        state["live_playing"] = False
        state["live_market"] = None
        with st.spinner("Making the market (a calibrated baseline may take a minute)…"):
            state["live_market"] = LiveMarket(settings, runs_root)
    return state["live_market"]


def _step(n: int) -> None:
    """Button callback: stop playing and advance the session's market ``n`` steps."""
    st.session_state["live_playing"] = False
    try:
        st.session_state["live_market"].step(n)
    except DashboardError as exc:
        st.session_state["live_error"] = str(exc)


def _toggle_play() -> None:
    st.session_state["live_playing"] = not st.session_state.get("live_playing", False)


def _restart(runs_root: Path) -> None:
    """Button callback: the same episode again from step 0."""
    st.session_state["live_playing"] = False
    market: LiveMarket = st.session_state["live_market"]
    try:
        st.session_state["live_market"] = LiveMarket(market.settings, runs_root)
    except DashboardError as exc:
        st.session_state["live_error"] = str(exc)


def _controls(market: LiveMarket, runs_root: Path) -> None:
    """The step / play / run-to-end / restart buttons (callbacks act before the page draws)."""
    state = st.session_state
    playing = bool(state.get("live_playing")) and not market.done
    c1, c2, c3, c4, c5 = st.columns([1, 1, 1.2, 1.2, 3])
    c1.button("Step", key="live_step", disabled=market.done or playing, on_click=_step, args=(1,))
    c2.button(
        "Pause" if playing else "Play",
        key="live_play",
        disabled=market.done,
        on_click=_toggle_play,
    )
    c3.button(
        "Run to end",
        key="live_end",
        disabled=market.done,
        on_click=_step,
        args=(market.horizon,),
    )
    c4.button(
        "Restart",
        key="live_reset",
        help="the same episode again (change the seed for another)",
        on_click=_restart,
        args=(runs_root,),
    )
    status = "finished" if market.done else ("playing" if playing else "paused")
    c5.markdown(f"**mm1** {market.mm1_name} vs **mm2** {market.rival_name} · episode {status}")
    if state.get("live_error"):
        st.error(state.pop("live_error"))


def _fmt(x: float, spec: str = ".2f") -> str:
    """``x`` formatted, "n/a" if not finite, and never a negative zero."""
    if not math.isfinite(x):
        return "n/a"
    text = format(x, spec)
    return text if float(text) != 0.0 else format(0.0, spec)


def _delta(x: float, spec: str = "+.2f") -> str | None:
    """A metric's change, or None (no arrow) when it is zero or unknown."""
    text = _fmt(x, spec)
    return None if text == "n/a" or float(text) == 0.0 else text


def _signed(x: float) -> str:
    """``x`` with its sign, three decimals ("0.000", unsigned, for a neutral zero)."""
    return "0.000" if x == 0.0 else f"{x:+.3f}"


def _tone_style(score: float) -> str:
    """The CSS of a score cell: the colour of its sign."""
    return f"color: {charts.TONE_COLORS[charts.tone(score)]}; font-weight: 600"


def _news(market: LiveMarket, all_news: pd.DataFrame, n_headlines: int) -> None:
    """The feed of the newest headlines (of ``all_news``, newest first) and the sentiment."""
    feed = all_news.head(n_headlines)
    last = market.last
    model = NEWS_CHOICES[market.settings.news_model]
    half_life = market.market_config.process.news_half_life_steps
    st.markdown(f"**Headlines** ({model}, newest first, up to {n_headlines})")
    left, right = st.columns([3, 1])
    with left:
        if feed.empty:
            rate = market.market_config.process.news_rate
            every = f"about one every {1 / rate:.0f} steps" if rate > 0 else "news_rate is 0"
            st.caption(f"No headline yet ({every}).")
        else:
            shown = feed[["step", "score", "sentiment", "text"]]
            styled: Any = shown.style.map(_tone_style, subset=["score"]).format(
                {"score": _signed, "sentiment": _signed}
            )
            st.dataframe(
                styled,
                hide_index=True,
                column_config={
                    "step": st.column_config.NumberColumn("step", width="small"),
                    "score": st.column_config.TextColumn("score", help="the model's score"),
                    "sentiment": st.column_config.TextColumn(
                        "sentiment after", help="observed sentiment after that step"
                    ),
                    "text": st.column_config.TextColumn("headline", width="large"),
                },
                key="live_feed",
            )
    with right:
        st.metric(
            "Observed sentiment",
            f"{last['sentiment']:+.3f}",
            help=f"decaying average of headline scores, half-life {half_life:g} steps",
        )
        st.metric("Headlines", len(all_news), help="in this episode so far")
        if not all_news.empty:
            newest = all_news.iloc[0]
            st.metric(
                "Latest score",
                f"{newest['score']:+.3f}",
                f"step {int(newest['step'])}",
                delta_color="off",
            )


def _draw(market: LiveMarket, window: int, level: float, n_headlines: int) -> None:
    """Metrics and charts of the market's current state and history."""
    h = market.history
    last = market.last
    events = market.events()
    prev = h.iloc[-2] if len(h) > 1 else h.iloc[-1]
    n_shocks = int(h["shock"].iloc[1:].sum())
    m = st.columns(7)
    m[0].metric(f"Step (of {market.horizon})", f"{market.step_count}")
    m[1].metric("Mid", f"{last['mid']:.3f}", _delta(last["mid"] - prev["mid"], "+.3f"))
    m[2].metric("mm1 inventory", f"{last['mm1_inventory']:+.0f}", help="lots")
    m[3].metric("mm1 PnL", _fmt(last["mm1_total"]), _delta(last["mm1_total"] - prev["mm1_total"]))
    m[4].metric("mm2 PnL", _fmt(last["mm2_total"]), _delta(last["mm2_total"] - prev["mm2_total"]))
    sentiment_help = "observed (EMA of readings or decaying mean of headlines)"
    m[5].metric("Sentiment", f"{last['sentiment']:+.3f}", help=sentiment_help)
    m[6].metric(
        "Shock steps", n_shocks, "shock now" if last["shock"] else None, delta_color="inverse"
    )
    st.progress(
        min(1.0, market.step_count / market.horizon),
        text=f"regime: {last['regime']} (hidden from the agents)",
    )

    recent = h[h["step"] > market.step_count - window]
    left, right = st.columns([2, 1])
    left.altair_chart(charts.price_chart(recent, events))
    levels, quotes = market.book(depth=10)
    right.altair_chart(
        charts.ladder_chart(levels, quotes, float(last["mid"]), tick_size=market.tick_size)
    )

    left, right = st.columns(2)
    left.altair_chart(charts.inventory_chart(h, market.limits, events, market.horizon))
    right.altair_chart(charts.pnl_chart(h, events, market.horizon))

    heads = market.headlines() if market.has_headlines else None
    if heads is not None:
        _news(market, heads, n_headlines)
    left, right = st.columns(2)
    left.altair_chart(charts.sentiment_chart(h, events, market.horizon, heads))
    with right:
        risk = market.risk(window=100, level=level)
        st.markdown(f"**Inventory risk** (one step, {level:.0%}, last {risk.window} steps)")
        r = st.columns(4)
        r[0].metric("VaR", _fmt(risk.var), help="z * sigma(mid change) * |inventory|, currency")
        r[1].metric(
            "VaR at limit",
            _fmt(risk.var_limit),
            help=f"the same at the inventory limit of {risk.limit:.0f} lots",
        )
        r[2].metric(
            "Hist. VaR",
            _fmt(risk.hist_var),
            help="historical VaR of the realized one-step inventory PnL over the window",
        )
        r[3].metric("Hist. ES", _fmt(risk.hist_es), help="expected shortfall of the same")
        st.progress(
            min(1.0, risk.utilisation),
            text=f"{risk.utilisation:.0%} of the VaR budget at the limit",
        )
        path = market.risk_path(window=100, level=level)
        if len(path) >= 2:
            st.altair_chart(charts.var_chart(path, level, market.horizon))
    with st.expander(f"Events ({len(events)}): shocks and regime changes"):
        if events.empty:
            st.write("No shock or regime change yet.")
        else:
            st.dataframe(events, hide_index=True)
    with st.expander("Last steps"):
        st.dataframe(h.tail(20).iloc[::-1], hide_index=True)


def render(runs_root: Path) -> None:
    """Draw the page."""
    st.title("Live market")
    settings, speed, window, level, n_headlines = _settings(runs_root)
    try:
        market = _market(settings, runs_root)
    except DashboardError as exc:
        st.error(str(exc))
        return
    _controls(market, runs_root)
    market = st.session_state["live_market"]
    interval = max(_MIN_INTERVAL_S, 1.0 / speed)
    per_tick = max(1, round(speed * interval))
    playing = bool(st.session_state.get("live_playing")) and not market.done

    @st.fragment(run_every=interval if playing else None)
    def view() -> None:
        m: LiveMarket = st.session_state["live_market"]
        if st.session_state.get("live_playing") and not m.done:
            try:
                m.step(per_tick)
            except DashboardError as exc:
                st.session_state["live_playing"] = False
                st.error(str(exc))
            if m.done:
                st.session_state["live_playing"] = False
                st.rerun()  # redraw the buttons and stop the timer
        _draw(m, window, level, n_headlines)

    view()
