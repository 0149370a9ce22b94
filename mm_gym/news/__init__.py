"""News headlines as text, scored by lexicon models: the foundation of issue #16.

Pure Python and numpy. The market draws pre-scored headlines from a bank when
``MarketConfig.process.news_model`` is ``"vader"`` or ``"lm"`` (the kernel reads only
``bank.scores``; by default it reads sentiment as ``s + noise``; see ``docs/ARCHITECTURE.md``,
"News headlines"). The parts:

- :mod:`mm_gym.news.generator`: headlines written from a latent sentiment ``s`` in [-1, 1]
  (company and macro topics, positive / neutral / negative phrasing, negations, hedges, numbers),
  reproducible per ``numpy.random.Generator``.
- :mod:`mm_gym.news.scoring`: the lexicon models ``"vader"`` (VADER compound) and ``"lm"``
  (Loughran-McDonald polarity), whose data ship inside their packages (extra ``news``).
- :mod:`mm_gym.news.bank`: :class:`HeadlineBank`, ``scores[B, N]`` pre-scored per sentiment
  bucket with a numba-simple :func:`bucket_of`, text on demand, cached on disk.
- :mod:`mm_gym.news.loader`: a user's CSV / Parquet headline file, checked and scored.
- :mod:`mm_gym.news.replay`: :class:`HeadlineReplay`, such a file placed on env steps and
  replayed by the market in place of the bank (``ProcessConfig.news_file``).
- :mod:`mm_gym.news.report`: ``python -m mm_gym.news --report``, the figures of each model.

Example:
    >>> from mm_gym.news import load_bank
    >>> bank = load_bank("vader")             # built once (seconds), then read from the cache
    >>> b = bank.bucket_of(0.42)
    >>> score = bank.scores[b, 17]            # what the kernel reads
    >>> bank.text(b, 17)                      # the text, only where it is shown
"""

from __future__ import annotations

from mm_gym.news.bank import (
    BankCacheWarning,
    HeadlineBank,
    bank_path,
    bucket_centres,
    bucket_of,
    build_bank,
    default_cache_dir,
    load_bank,
)
from mm_gym.news.generator import GENERATOR_VERSION, Headline, generate_headline, generate_headlines
from mm_gym.news.loader import HeadlineFileError, load_headlines
from mm_gym.news.replay import HeadlineReplay, load_replay
from mm_gym.news.scoring import MODELS, Scorer, get_scorer

__all__ = [
    "GENERATOR_VERSION",
    "MODELS",
    "BankCacheWarning",
    "Headline",
    "HeadlineBank",
    "HeadlineFileError",
    "HeadlineReplay",
    "Scorer",
    "bank_path",
    "bucket_centres",
    "bucket_of",
    "build_bank",
    "default_cache_dir",
    "generate_headline",
    "generate_headlines",
    "get_scorer",
    "load_bank",
    "load_headlines",
    "load_replay",
]
