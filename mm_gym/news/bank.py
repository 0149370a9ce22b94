"""A bank of pre-scored headlines per sentiment bucket, generated once and cached on disk.

The market's hot loop must never call Python per headline. The bank makes that possible: for
``B`` equal-width buckets of the latent sentiment over [-1, 1] it writes ``N`` headlines per
bucket (:mod:`mm_gym.news.generator`, at the bucket's centre) and scores them once
(:mod:`mm_gym.news.scoring`). A news event at sentiment ``s`` then only needs two integers,
``b = bucket_of(s, B)`` and a uniform ``j`` in ``[0, N)``, and reads ``scores[b, j]``; the text
is looked up by ``(b, j)`` only where it is shown (:meth:`HeadlineBank.text`).

**Bucket rule** (simple enough for numba; :func:`bucket_of`): bucket ``b`` covers
``[-1 + 2b/B, -1 + 2(b+1)/B)``, its centre is ``-1 + (2b + 1)/B``, and::

    b = int((s + 1.0) * 0.5 * B)     # truncation; equals floor for s >= -1
    b = min(max(b, 0), B - 1)        # s = 1 (and anything above) goes to the last bucket

so values below -1 land in bucket 0 and values at or above 1 in bucket ``B - 1``. ``s`` must
not be NaN (the Python function raises; a kernel should never produce one). With an odd ``B``
the middle bucket is centred on 0.

**Cache.** :func:`load_bank` keeps one file per (generator version, model and its package
version, ``B``, ``N``, seed) in the cache folder (:func:`default_cache_dir`: ``$MM_GYM_CACHE/news``
or ``~/.cache/mm_gym/news``). The file is an ``.npz`` without pickles, written atomically
(:func:`mm_gym.files.atomic_write_bytes`), carrying its own description and a SHA-256 of its
contents; a file that fails any check is rebuilt, with a warning, never used. Ownership: a folder
the bank creates (or finds empty) gets the marker file :data:`MARKER`; an existing bank file is
replaced only in such a folder. In a foreign folder the bank only adds new files, and never
touches anything else.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mm_gym.config import _check_range
from mm_gym.files import atomic_write_bytes, atomic_write_text, clean_stale_temps
from mm_gym.news.generator import GENERATOR_VERSION, generate_headlines
from mm_gym.news.scoring import check_model, get_scorer, model_version

__all__ = [
    "BANK_FORMAT",
    "CACHE_ENV",
    "DEFAULT_N_BUCKETS",
    "DEFAULT_N_PER_BUCKET",
    "MARKER",
    "BankCacheWarning",
    "HeadlineBank",
    "bank_path",
    "bucket_centres",
    "bucket_of",
    "build_bank",
    "default_cache_dir",
    "load_bank",
]

BANK_FORMAT = 1
"""Version of the bank file layout (part of the cache key)."""
CACHE_ENV = "MM_GYM_CACHE"
"""Environment variable naming the root of mm_gym's caches (the bank uses its ``news/``)."""
MARKER = ".mm_gym_news_cache"
"""Marker file of a folder the bank owns (may replace its bank files there)."""
DEFAULT_N_BUCKETS = 21
"""Default number of sentiment buckets (odd: the middle one is centred on s = 0)."""
DEFAULT_N_PER_BUCKET = 256
"""Default number of headlines per bucket."""

_KEYS = ("scores", "text_blob", "text_offsets", "meta", "checksum")


class BankCacheWarning(UserWarning):
    """A cached bank was unusable (rebuilt) or could not be stored."""


def bucket_of(s: float, n_buckets: int) -> int:
    """The bucket of sentiment ``s`` among ``n_buckets`` equal-width buckets over [-1, 1].

    See the module docstring for the rule (the kernel re-implements these two lines).

    Raises:
        ValueError: If ``s`` is NaN.
    """
    s = float(s)
    if math.isnan(s):
        raise ValueError("s=nan has no bucket: the sentiment must be a number")
    if math.isinf(s):
        return 0 if s < 0 else n_buckets - 1
    b = int((s + 1.0) * 0.5 * n_buckets)
    return min(max(b, 0), n_buckets - 1)


def bucket_centres(n_buckets: int) -> np.ndarray:
    """The bucket centres ``-1 + (2b + 1) / B``: the sentiment the headlines are written at."""
    return -1.0 + (2.0 * np.arange(n_buckets) + 1.0) / n_buckets


def default_cache_dir() -> Path:
    """``$MM_GYM_CACHE/news`` if that variable is set (not empty), else ``~/.cache/mm_gym/news``."""
    root = os.environ.get(CACHE_ENV)
    return (Path(root) if root else Path.home() / ".cache" / "mm_gym") / "news"


@dataclass(frozen=True, eq=False)
class HeadlineBank:
    """Pre-scored headlines: ``scores[b, j]`` for bucket ``b`` and index ``j``, text on demand.

    Attributes:
        scores: ``float64[B, N]``, C-contiguous, read-only: the model's score of each headline.
        model: The scoring model (see :data:`mm_gym.news.scoring.MODELS`).
        model_version: The version of the model's package.
        seed: The seed the headlines were generated with.
        path: The cache file the bank was read from or written to (None if not stored).
        from_cache: Whether the bank was read from the cache (else built in this process).
    """

    scores: np.ndarray
    model: str
    model_version: str
    seed: int
    text_blob: bytes
    text_offsets: np.ndarray
    path: Path | None = None
    from_cache: bool = False

    @property
    def n_buckets(self) -> int:
        """``B``, the number of sentiment buckets."""
        return int(self.scores.shape[0])

    @property
    def n_per_bucket(self) -> int:
        """``N``, the number of headlines per bucket."""
        return int(self.scores.shape[1])

    @property
    def centres(self) -> np.ndarray:
        """The sentiment each bucket's headlines were written at (:func:`bucket_centres`)."""
        return bucket_centres(self.n_buckets)

    def bucket_of(self, s: float) -> int:
        """The bucket of sentiment ``s`` in this bank (:func:`bucket_of`)."""
        return bucket_of(s, self.n_buckets)

    def text(self, bucket: int, index: int) -> str:
        """The headline ``index`` of bucket ``bucket`` (the one scored ``scores[bucket, index]``).

        Raises:
            IndexError: If either is out of range (the message names it and the range).
        """
        b, j = int(bucket), int(index)
        if not 0 <= b < self.n_buckets:
            raise IndexError(f"bucket={b} is out of range: must be in [0, {self.n_buckets})")
        if not 0 <= j < self.n_per_bucket:
            raise IndexError(f"index={j} is out of range: must be in [0, {self.n_per_bucket})")
        k = b * self.n_per_bucket + j
        return self.text_blob[self.text_offsets[k] : self.text_offsets[k + 1]].decode()

    def lookup(self, flat_index: int) -> tuple[int, float, str]:
        """``(bucket, score, text)`` of the headline with flat index ``b * N + j``.

        The market records headlines by this index (``MarketSimulator.scalars.headline``).

        Raises:
            IndexError: If the index is out of range.
        """
        b, j = divmod(int(flat_index), self.n_per_bucket)
        if not 0 <= b < self.n_buckets:
            raise IndexError(
                f"flat_index={flat_index} is out of range: must be in [0, {self.scores.size})"
            )
        return b, float(self.scores[b, j]), self.text(b, j)

    def __repr__(self) -> str:
        """Model, shape, seed and where it lives."""
        return (
            f"HeadlineBank(model={self.model!r}, n_buckets={self.n_buckets}, "
            f"n_per_bucket={self.n_per_bucket}, seed={self.seed}, path={self.path})"
        )


def _check_size(n_buckets: int, n_per_bucket: int, seed: int) -> None:
    _check_range("n_buckets", n_buckets, 2, 1_001, integer=True)
    _check_range("n_per_bucket", n_per_bucket, 1, 100_000, integer=True)
    _check_range("seed", seed, 0, 2**63 - 1, integer=True)


def build_bank(
    model: str = "vader",
    n_buckets: int = DEFAULT_N_BUCKETS,
    n_per_bucket: int = DEFAULT_N_PER_BUCKET,
    seed: int = 0,
) -> HeadlineBank:
    """Generate and score a bank in memory (no disk access; :func:`load_bank` caches it).

    Bucket ``b``'s headlines come from its own stream ``SeedSequence(seed).spawn(B)[b]``, written
    at the bucket's centre.

    Args:
        model: The scoring model, ``"vader"`` or ``"lm"``.
        n_buckets: ``B``, in [2, 1001].
        n_per_bucket: ``N``, in [1, 100000].
        seed: Seed of the headline text, a non-negative integer.

    Raises:
        ConfigError: For a bad model name, size or seed (the message names it and what is allowed).
        ImportError: If the model's package is missing.
    """
    check_model(model)
    _check_size(n_buckets, n_per_bucket, seed)
    n_buckets, n_per_bucket, seed = int(n_buckets), int(n_per_bucket), int(seed)
    scorer = get_scorer(model)
    texts: list[str] = []
    streams = np.random.SeedSequence(seed).spawn(n_buckets)
    for centre, stream in zip(bucket_centres(n_buckets), streams, strict=True):
        rng = np.random.default_rng(stream)
        texts.extend(h.text for h in generate_headlines(centre, n_per_bucket, rng))
    scores = scorer.score_many(texts).reshape(n_buckets, n_per_bucket)
    encoded = [t.encode() for t in texts]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return _bank(scores, model, scorer.version, seed, b"".join(encoded), offsets)


def _bank(
    scores: np.ndarray,
    model: str,
    version: str,
    seed: int,
    blob: bytes,
    offsets: np.ndarray,
    path: Path | None = None,
    from_cache: bool = False,
) -> HeadlineBank:
    scores = np.ascontiguousarray(scores, dtype=np.float64)
    scores.setflags(write=False)
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    offsets.setflags(write=False)
    return HeadlineBank(scores, model, version, seed, blob, offsets, path, from_cache)


# --------------------------------------------------------------------------- the cache


def _meta(model: str, n_buckets: int, n_per_bucket: int, seed: int) -> dict[str, object]:
    """Everything the bank's content depends on (its hash is the cache key)."""
    return {
        "bank_format": BANK_FORMAT,
        "generator_version": GENERATOR_VERSION,
        "model": model,
        "model_version": model_version(model),
        "n_buckets": n_buckets,
        "n_per_bucket": n_per_bucket,
        "seed": seed,
    }


def bank_path(
    model: str = "vader",
    n_buckets: int = DEFAULT_N_BUCKETS,
    n_per_bucket: int = DEFAULT_N_PER_BUCKET,
    seed: int = 0,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """The cache file of a bank: ``bank-MODEL-BxN-seedS-KEY.npz``, KEY a hash of its description.

    Raises:
        ConfigError: For a bad model name, size or seed.
        ImportError: If the model's package is missing (its version is part of the key).
    """
    check_model(model)
    _check_size(n_buckets, n_per_bucket, seed)
    meta = _meta(model, int(n_buckets), int(n_per_bucket), int(seed))
    key = hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()[:16]
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return folder / f"bank-{model}-{n_buckets}x{n_per_bucket}-seed{seed}-{key}.npz"


def _checksum(scores: np.ndarray, blob: bytes, offsets: np.ndarray, meta: bytes) -> bytes:
    h = hashlib.sha256()
    for part in (scores.tobytes(), blob, offsets.tobytes(), meta):
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.digest()


def _encode(bank: HeadlineBank, meta: dict[str, object]) -> bytes:
    meta_bytes = json.dumps(meta, sort_keys=True).encode()
    blob = np.frombuffer(bank.text_blob, dtype=np.uint8)
    checksum = _checksum(bank.scores, bank.text_blob, bank.text_offsets, meta_bytes)
    buffer = io.BytesIO()
    np.savez(
        buffer,
        scores=bank.scores,
        text_blob=blob,
        text_offsets=bank.text_offsets,
        meta=np.frombuffer(meta_bytes, dtype=np.uint8),
        checksum=np.frombuffer(checksum, dtype=np.uint8),
    )
    return buffer.getvalue()


class _Unusable(Exception):
    """A cache file failed a check (the message says which)."""


def _decode(path: Path, meta: dict[str, object]) -> HeadlineBank:
    """Read and check a cache file against the expected description ``meta``."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if sorted(data.files) != sorted(_KEYS):
                raise _Unusable(f"holds {sorted(data.files)}, expected {sorted(_KEYS)}")
            arrays = {k: data[k] for k in _KEYS}
    except _Unusable:
        raise
    except Exception as exc:  # a truncated or foreign file fails in many ways inside np.load
        raise _Unusable(f"cannot be read ({type(exc).__name__}: {exc})") from None
    scores, offsets = arrays["scores"], arrays["text_offsets"]
    meta_bytes, blob = arrays["meta"].tobytes(), arrays["text_blob"].tobytes()
    shape = (meta["n_buckets"], meta["n_per_bucket"])
    if scores.dtype != np.float64 or scores.shape != shape:
        raise _Unusable(f"scores are {scores.dtype}{scores.shape}, expected float64{shape}")
    if offsets.dtype != np.int64 or offsets.shape != (scores.size + 1,):
        raise _Unusable("text offsets have the wrong type or length")
    if arrays["checksum"].tobytes() != _checksum(scores, blob, offsets, meta_bytes):
        raise _Unusable("checksum does not match its contents")
    try:
        stored = json.loads(meta_bytes)
    except ValueError:
        raise _Unusable("description is not JSON") from None
    if stored != meta:
        raise _Unusable(f"describes {stored}, expected {meta}")
    return _bank(
        scores,
        str(meta["model"]),
        str(meta["model_version"]),
        int(str(meta["seed"])),
        blob,
        offsets,
        path,
        True,
    )


def load_bank(
    model: str = "vader",
    n_buckets: int = DEFAULT_N_BUCKETS,
    n_per_bucket: int = DEFAULT_N_PER_BUCKET,
    seed: int = 0,
    cache_dir: str | os.PathLike[str] | None = None,
) -> HeadlineBank:
    """The bank for these settings: read from the cache if present and valid, else built and stored.

    Args:
        model: The scoring model, ``"vader"`` or ``"lm"``.
        n_buckets: ``B``, in [2, 1001].
        n_per_bucket: ``N``, in [1, 100000].
        seed: Seed of the headline text, a non-negative integer.
        cache_dir: The cache folder (default :func:`default_cache_dir`). Nothing is written
            outside it.

    Returns:
        The bank; ``from_cache`` says whether it was read, ``path`` where it lives (None if it
        could not be stored).

    Raises:
        ConfigError: For a bad model name, size or seed.
        ImportError: If the model's package is missing.

    Warns:
        BankCacheWarning: If a cache file was unusable (it is rebuilt) or could not be stored.
    """
    path = bank_path(model, n_buckets, n_per_bucket, seed, cache_dir)
    n_buckets, n_per_bucket, seed = int(n_buckets), int(n_per_bucket), int(seed)
    meta = _meta(model, n_buckets, n_per_bucket, seed)
    exists = path.exists() or path.is_symlink()
    if exists:
        try:
            return _decode(path, meta)
        except _Unusable as exc:
            warnings.warn(
                f"headline bank cache {str(path)!r} {exc}: rebuilding it",
                BankCacheWarning,
                stacklevel=2,
            )
    bank = build_bank(model, n_buckets, n_per_bucket, seed)
    folder = path.parent
    owned = _claim(folder)
    if exists and not (owned and path.is_file() and not path.is_symlink()):
        warnings.warn(
            f"not replacing {str(path)!r}: {str(folder)!r} is not mm_gym's news cache (no "
            f"{MARKER} in it); the bank is used without being stored",
            BankCacheWarning,
            stacklevel=2,
        )
        return bank
    try:
        atomic_write_bytes(path, _encode(bank, meta))
    except OSError as exc:
        warnings.warn(
            f"could not store the headline bank in {str(path)!r} ({exc}); it is used unstored",
            BankCacheWarning,
            stacklevel=2,
        )
        return bank
    return _bank(
        bank.scores, model, bank.model_version, seed, bank.text_blob, bank.text_offsets, path
    )


def _claim(folder: Path) -> bool:
    """Whether ``folder`` is the bank's own: holds :data:`MARKER`, or is new or empty (then marked).

    In its own folder the bank also removes temporaries that a killed writer left
    (:func:`mm_gym.files.clean_stale_temps`: only hidden ``.tmp-PID`` names of dead processes).
    """
    try:
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            return False
        if not folder.exists() or not any(folder.iterdir()):
            atomic_write_text(folder / MARKER, "mm_gym news headline bank cache\n")
        if not (folder / MARKER).is_file():
            return False
        clean_stale_temps(folder)
    except OSError:
        return False
    return True
