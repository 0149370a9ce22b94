"""Synthetic news headlines whose tone follows a latent sentiment value ``s`` in [-1, 1].

A headline is built from a small grammar: a *subject* (a company, its ticker, or a macro indicator
of a region), a *phrase* in the base and third-person forms of the verb, and optional *hedges*
("may", "reportedly"), *negations* ("does not", "fails to") and a *tail* on the share price.
Slots in the phrases take numbers: percentages, money amounts, quarters.

How the tone follows ``s`` (stochastically, so a lexicon model's score is informative but noisy):

- the headline is neutral with probability ``0.05 + 0.4 * (1 - |s|)`` (0.45 at ``s = 0``);
- otherwise it is positive with probability ``(1 + s) / 2``, else negative;
- a non-neutral headline uses the *strong* phrasing with probability ``0.1 + 0.8 * |s|``, and it
  adds the market's reaction in the same tone (the stock's move, or "markets cheer") with
  probability ``0.15 + 0.5 * |s|``;
- with probability ``P_NEGATION`` the tone is written as a negated phrase of the opposite tone
  ("Acme does not cut guidance" is positive), which VADER reads correctly and Loughran-McDonald,
  a word count without a negation rule, reads backwards: a realistic source of scorer noise.

Everything is drawn from the ``numpy.random.Generator`` passed in, so a seed fixes the text.
:data:`GENERATOR_VERSION` changes whenever the text for a given seed changes (it keys the bank
cache of :mod:`mm_gym.news.bank`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "GENERATOR_VERSION",
    "P_NEGATION",
    "Headline",
    "Phrase",
    "generate_headline",
    "generate_headlines",
    "render",
    "tone_probabilities",
]

GENERATOR_VERSION = 1
"""Version of the grammar and its probabilities; bump it when the text for a seed changes."""

P_NEGATION = 0.15
"""Probability that a non-neutral headline is written as the negation of the opposite tone."""
P_HEDGE = 0.2
"""Probability of a hedge ("may", "reportedly", ...) softening the phrase."""
P_MACRO = 0.3
"""Probability that a headline is about the economy rather than one company."""
P_TAIL = 0.15
"""Probability at ``s = 0`` that a non-neutral headline ends with the market's reaction in the
same tone (``P_TAIL + 0.5 * |s|`` at ``s``)."""


@dataclass(frozen=True)
class Phrase:
    """One predicate of the grammar.

    Attributes:
        base: The verb phrase in the base form ("beat {quarter} estimates"), used after a hedge
            or a negation.
        third: The same in the third person singular ("beats {quarter} estimates").
        negatable: Whether "does not" / "fails to" + ``base`` reads as a plain headline.
    """

    base: str
    third: str
    negatable: bool = False


def _p(base: str, third: str, negatable: bool = False) -> Phrase:
    return Phrase(base, third, negatable)


# Company predicates by tone (+1, 0, -1) and strength (True = strong). The words mix those VADER
# knows (gain, strong, loss, weak), those Loughran-McDonald knows (profitable, surpass, decline,
# downgrade) and those neither knows (surge, plunge, beat, miss): each model sees part of the tone.
_COMPANY: dict[tuple[int, bool], tuple[Phrase, ...]] = {
    (1, True): (
        _p("post record {quarter} profit", "posts record {quarter} profit"),
        _p("beat estimates as profit jumps {pct}", "beats estimates as profit jumps {pct}"),
        _p(
            "raise full-year guidance on stronger demand",
            "raises full-year guidance on stronger demand",
        ),
        _p("win {amount} contract", "wins {amount} contract", True),
        _p(
            "surpass forecasts with strong {quarter} sales",
            "surpasses forecasts with strong {quarter} sales",
        ),
        _p("report outstanding growth in {segment}", "reports outstanding growth in {segment}"),
        _p("return to profit", "returns to profit", True),
        _p("boost margins to record high", "boosts margins to record high"),
    ),
    (1, False): (
        _p("gain market share", "gains market share", True),
        _p("improve margins in {quarter}", "improves margins in {quarter}", True),
        _p("see stable growth in {segment}", "sees stable growth in {segment}"),
        _p("raise full-year guidance", "raises full-year guidance", True),
        _p("announce {amount} share buyback", "announces {amount} share buyback"),
        _p("get analyst upgrade", "gets analyst upgrade"),
        _p("achieve {quarter} targets", "achieves {quarter} targets", True),
    ),
    (0, False): (
        _p("report {quarter} results", "reports {quarter} results"),
        _p("name new chief financial officer", "names new chief financial officer"),
        _p("schedule investor day for {month}", "schedules investor day for {month}"),
        _p("keep quarterly dividend at {dps}", "keeps quarterly dividend at {dps}"),
        _p("file {quarter} report", "files {quarter} report"),
        _p("hold annual meeting in {city}", "holds annual meeting in {city}"),
        _p("move headquarters to {city}", "moves headquarters to {city}"),
        _p("complete review of {segment} unit", "completes review of {segment} unit"),
    ),
    (-1, False): (
        _p("miss {quarter} estimates", "misses {quarter} estimates", True),
        _p("delay product launch", "delays product launch", True),
        _p("see weaker growth in {segment}", "sees weaker growth in {segment}"),
        _p("flag rising costs", "flags rising costs"),
        _p("cut {segment} jobs", "cuts {segment} jobs", True),
        _p("get analyst downgrade", "gets analyst downgrade"),
        _p("report weak demand in {quarter}", "reports weak demand in {quarter}"),
    ),
    (-1, True): (
        _p("post {amount} loss", "posts {amount} loss", True),
        _p("warn of sharp decline in {quarter} sales", "warns of sharp decline in {quarter} sales"),
        _p("cut full-year outlook", "cuts full-year outlook", True),
        _p("face fraud investigation", "faces fraud investigation"),
        _p("report {pct} drop in revenue", "reports {pct} drop in revenue"),
        _p("default on {amount} of bonds", "defaults on {amount} of bonds", True),
        _p("slash dividend after heavy losses", "slashes dividend after heavy losses", True),
    ),
}

# Macro subjects and predicates: (subject, phrase). The tone is the market's view.
_MACRO: dict[tuple[int, bool], tuple[tuple[str, Phrase], ...]] = {
    (1, True): (
        (
            "{region} economy",
            _p("post strong {pct} growth in {quarter}", "posts strong {pct} growth in {quarter}"),
        ),
        ("{region} jobs report", _p("show stronger hiring", "shows stronger hiring", True)),
        (
            "{region} stocks",
            _p("rally as inflation eases to {pct}", "rally as inflation eases to {pct}"),
        ),
        (
            "{region} manufacturing",
            _p(
                "rebound to strongest level since {year}",
                "rebounds to strongest level since {year}",
            ),
        ),
    ),
    (1, False): (
        ("{region} consumer confidence", _p("improve", "improves", True)),
        ("{region} factory output", _p("rebound {pct}", "rebounds {pct}")),
        ("{region} retail sales", _p("gain {pct} in {month}", "gain {pct} in {month}")),
        ("{region} trade balance", _p("show solid surplus", "shows solid surplus", True)),
    ),
    (0, False): (
        ("{region} inflation", _p("hold at {pct}", "holds at {pct}")),
        ("{region} central bank", _p("keep rates unchanged", "keeps rates unchanged")),
        (
            "{region} statistics office",
            _p("publish {quarter} GDP data", "publishes {quarter} GDP data"),
        ),
        ("{region} finance ministers", _p("meet in {city}", "meet in {city}")),
    ),
    (-1, False): (
        ("{region} factory output", _p("fall {pct}", "falls {pct}")),
        ("{region} business climate", _p("weaken", "weakens", True)),
        ("{region} economy", _p("show weaker momentum", "shows weaker momentum")),
        ("{region} exports", _p("decline for a third month", "decline for a third month")),
    ),
    (-1, True): (
        ("{region} economy", _p("slide into recession", "slides into recession", True)),
        ("{region} stocks", _p("tumble amid inflation fears", "tumble amid inflation fears")),
        ("{region} unemployment", _p("surge to {pct}", "surges to {pct}")),
        ("{region} banking sector", _p("face credit crisis", "faces credit crisis", True)),
    ),
}

_NAME_HEADS = (
    "Acme", "Norvex", "Helion", "Quantra", "Bluepeak", "Orbis", "Castell", "Veridia", "Kestrel",
    "Lumora", "Zentrix", "Tallis", "Meridian", "Corvan", "Nexa", "Polaris", "Redwood", "Halcyon",
    "Ironbridge", "Silverline", "Aurex", "Brightwater", "Cobalt", "Dunmore", "Everline", "Fenwick",
    "Granite", "Harbor", "Isotope", "Juniper",
)  # fmt: skip
_NAME_TAILS = (
    "Corp", "Inc", "Holdings", "Group", "Systems", "Energy", "Bank", "Pharma", "Motors", "Retail",
    "Networks", "Biotech", "Airlines", "Mining", "Semiconductor", "Foods",
)  # fmt: skip
_SEGMENTS = ("cloud", "retail", "China", "Europe", "consumer", "enterprise", "services", "auto")
_REGIONS = ("US", "Eurozone", "China", "UK", "Japan", "Germany", "India", "Canada")
_CITIES = ("London", "Singapore", "New York", "Frankfurt", "Tokyo", "Austin", "Dublin")
_MONTHS = ("January", "March", "April", "June", "September", "October", "November", "December")
_QUARTER_WORDS = ("first-quarter", "second-quarter", "third-quarter", "fourth-quarter")

_HEDGES_BASE = ("may", "could", "is expected to", "is said to")
_HEDGES_THIRD = ("reportedly", "reportedly")
# "fails to" carries its own negative valence (VADER), so it only negates positive phrases.
_NEGATIONS_OF_POSITIVE = ("does not", "did not", "fails to", "will not")
_NEGATIONS_OF_NEGATIVE = ("does not", "did not", "will not")
# VADER scores "share(s)" +0.3, so the tails say "stock".
_TAILS_UP = ("stock up {pct}", "stock gains {pct}", "stock climbs {pct} on strong outlook")
_TAILS_DOWN = ("stock down {pct}", "stock drops {pct}", "stock falls {pct} on weak outlook")
_MACRO_TAILS_UP = ("markets cheer", "investors turn optimistic", "bond yields steady")
_MACRO_TAILS_DOWN = ("markets fear slowdown", "investors worried", "bond yields jump")


@dataclass(frozen=True)
class Headline:
    """A generated headline and how it was built.

    Attributes:
        text: The headline.
        tone: The intended tone: +1 positive, 0 neutral, -1 negative (after any negation).
        strong: Whether the strong phrasing was used.
        negated: Whether the tone is written as a negated phrase of the opposite tone.
        hedged: Whether a hedge softens the phrase.
        macro: Whether the subject is the economy (else a company).
    """

    text: str
    tone: int
    strong: bool
    negated: bool
    hedged: bool
    macro: bool


def tone_probabilities(s: float) -> tuple[float, float, float]:
    """The probabilities of a negative, neutral and positive headline at sentiment ``s``.

    Args:
        s: Latent sentiment, clipped to [-1, 1].

    Returns:
        ``(p_negative, p_neutral, p_positive)``, summing to 1.
    """
    s = min(max(float(s), -1.0), 1.0)
    p_neutral = 0.05 + 0.4 * (1.0 - abs(s))
    p_positive = (1.0 - p_neutral) * (0.5 + 0.5 * s)
    return 1.0 - p_neutral - p_positive, p_neutral, p_positive


def _pick(rng: np.random.Generator, items: tuple[str, ...]) -> str:
    return items[int(rng.integers(len(items)))]


def _fill(template: str, rng: np.random.Generator) -> str:
    """Fill the number and name slots of ``template`` (only the slots it uses draw randomness)."""
    slots: dict[str, str] = {}
    for name in ("pct", "amount", "quarter", "dps", "segment", "region", "city", "month", "year"):
        if "{" + name + "}" not in template:
            continue
        if name == "pct":
            slots[name] = f"{rng.uniform(0.5, 25.0):.1f}%"
        elif name == "amount":
            if rng.random() < 0.5:
                slots[name] = f"${int(rng.integers(20, 1000))} million"
            else:
                slots[name] = f"${rng.uniform(1.0, 30.0):.1f} billion"
        elif name == "quarter":
            q = int(rng.integers(4))
            slots[name] = f"Q{q + 1}" if rng.random() < 0.5 else _QUARTER_WORDS[q]
        elif name == "dps":
            slots[name] = f"${rng.uniform(0.05, 2.5):.2f}"
        elif name == "year":
            slots[name] = str(int(rng.integers(2008, 2024)))
        else:
            pool = {
                "segment": _SEGMENTS,
                "region": _REGIONS,
                "city": _CITIES,
                "month": _MONTHS,
            }[name]
            slots[name] = _pick(rng, pool)
    return template.format(**slots)


def _company(rng: np.random.Generator) -> tuple[str, str]:
    """A fictional company name and its ticker (3 or 4 capitals from the name's head and tail)."""
    head, tail = _pick(rng, _NAME_HEADS), _pick(rng, _NAME_TAILS)
    ticker = (head[:3] if rng.random() < 0.5 else head[:2] + tail[:2]).upper()
    return f"{head} {tail}", ticker


def render(
    subject: str,
    phrase: Phrase,
    rng: np.random.Generator,
    *,
    negation: str | None = None,
    hedge: str | None = None,
) -> str:
    """Write one headline: ``subject`` + (hedge | negation) + the phrase, slots filled from ``rng``.

    Args:
        subject: Who the headline is about ("Acme Corp", "US factory output"); slots allowed.
        phrase: The predicate.
        rng: Draws the numbers and names of the slots.
        negation: A negation from the grammar ("does not", "fails to", ...) put before the base
            form; ``None`` for none.
        hedge: A hedge ("may", "reportedly", ...); "reportedly" takes the third-person form, the
            others the base form. Ignored when ``negation`` is given.

    Returns:
        The headline text, first letter capitalised.
    """
    if negation is not None:
        predicate = f"{negation} {phrase.base}"
    elif hedge is None:
        predicate = phrase.third
    elif hedge in _HEDGES_THIRD:
        predicate = f"{hedge} {phrase.third}"
    else:
        predicate = f"{hedge} {phrase.base}"
    text = _fill(f"{subject} {predicate}", rng)
    return text[:1].upper() + text[1:]


def generate_headline(s: float, rng: np.random.Generator) -> Headline:
    """Write one headline for a news event at latent sentiment ``s``.

    Args:
        s: Latent sentiment in [-1, 1] (clipped); see the module docstring for how the tone,
            strength, negations and hedges follow it.
        rng: The random generator; the same state gives the same headline.

    Returns:
        The :class:`Headline` (text and how it was built).

    Raises:
        ValueError: If ``s`` is not a finite number.
    """
    s = float(s)
    if not math.isfinite(s):
        raise ValueError(f"s={s!r} must be a finite number in [-1, 1]")
    p_neg, p_neutral, _ = tone_probabilities(s)
    u = rng.random()
    tone = -1 if u < p_neg else (0 if u < p_neg + p_neutral else 1)
    strong = tone != 0 and bool(rng.random() < 0.1 + 0.8 * min(abs(s), 1.0))
    macro = bool(rng.random() < P_MACRO)
    negated = tone != 0 and bool(rng.random() < P_NEGATION)
    # A negated headline says the opposite tone's phrase did not happen.
    written_tone = -tone if negated else tone
    key = (written_tone, strong)
    if macro:
        entries = _MACRO[key]
        if negated:
            entries = tuple(e for e in entries if e[1].negatable)
        subject, phrase = entries[int(rng.integers(len(entries)))]
    else:
        phrases = _COMPANY[key]
        if negated:
            phrases = tuple(p for p in phrases if p.negatable)
        phrase = phrases[int(rng.integers(len(phrases)))]
        name, ticker = _company(rng)
        form = int(rng.integers(3))
        subject = name if form == 0 else (f"{name} ({ticker})" if form == 1 else ticker)
    negations = _NEGATIONS_OF_POSITIVE if written_tone > 0 else _NEGATIONS_OF_NEGATIVE
    negation = _pick(rng, negations) if negated else None
    hedged = not negated and bool(rng.random() < P_HEDGE)
    # "is expected to" needs a singular subject; macro subjects may be plural ("US stocks").
    hedges = _HEDGES_BASE[:2] + _HEDGES_THIRD if macro else _HEDGES_BASE + _HEDGES_THIRD
    hedge = _pick(rng, hedges) if hedged else None
    text = render(subject, phrase, rng, negation=negation, hedge=hedge)
    if tone != 0 and rng.random() < P_TAIL + 0.5 * min(abs(s), 1.0):
        if macro:
            tails = _MACRO_TAILS_UP if tone > 0 else _MACRO_TAILS_DOWN
        else:
            tails = _TAILS_UP if tone > 0 else _TAILS_DOWN
        text += "; " + _fill(_pick(rng, tails), rng)
    return Headline(text, tone, strong, negated, hedged, macro)


def generate_headlines(s: float, n: int, rng: np.random.Generator) -> list[Headline]:
    """Write ``n`` headlines at latent sentiment ``s`` (see :func:`generate_headline`)."""
    return [generate_headline(s, rng) for _ in range(n)]
