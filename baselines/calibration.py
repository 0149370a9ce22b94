"""Calibrate the Avellaneda-Stoikov and GLFT baselines on a book setting, and store the results.

``A`` and ``k`` of the fill-intensity curve ``lambda(delta) = A * exp(-k * delta)`` are fitted by
:mod:`baselines.fill_fit` (:func:`calibrate_on_env`); each baseline's risk aversion ``gamma`` is
then tuned on the env's own reward (:func:`tune_gamma`). :data:`DEFAULT_CALIBRATIONS` stores the
results per preset, used while the preset's config fingerprint matches. Any other calibration,
and :func:`calibrated_sentiment_as`'s tuning, is computed once and kept in the on-disk cache of
:mod:`mm_gym.result_cache` (``MM_GYM_NO_CACHE=1`` recomputes; the values are the same either way).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baselines.fill_fit import (
    CALIBRATION_DEPTHS,
    CALIBRATION_SEED,
    FillCurve,
    calibrate_k,
    calibrate_on_env,
)
from baselines.policies import GLFT, AvellanedaStoikov, SentimentAS
from mm_gym.config import ConfigError
from mm_gym.policy import QuotingPolicy
from mm_gym.result_cache import cached_result, json_round_trip, report_to, result_key

# The fill-curve names moved to baselines.fill_fit stay importable from here (as before).
__all__ = [
    "AS_GAMMAS",
    "CALIBRATION_DEPTHS",
    "DEFAULT_CALIBRATIONS",
    "GLFT_GAMMAS",
    "SENTIMENT_KAPPAS",
    "SENTIMENT_WEIGHTS",
    "Calibration",
    "FillCurve",
    "calibrate_k",
    "calibrate_on_env",
    "calibrate_setting",
    "calibrated_as",
    "calibrated_glft",
    "calibrated_sentiment_as",
    "calibration_for",
    "config_fingerprint",
    "report_to",
    "tune_gamma",
]


AS_GAMMAS: tuple[float, ...] = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
"""Risk aversions (1 / (tick x lot)) searched for the Avellaneda-Stoikov baseline."""

GLFT_GAMMAS: tuple[float, ...] = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)
"""Risk aversions searched for the GLFT baseline."""

SENTIMENT_KAPPAS: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
"""Reservation-price shifts at ``alpha = 1`` (ticks) searched for :class:`SentimentAS`."""

SENTIMENT_WEIGHTS: tuple[tuple[float, float], ...] = (
    (1.0, 0.0),
    (1.0, 0.25),
    (1.0, 0.5),
    (1.0, 1.0),
)
"""Blend weights ``(w_s, w_i)`` of sentiment and best-level imbalance searched for
:class:`SentimentAS` (with every shift of :data:`SENTIMENT_KAPPAS`)."""

SENTIMENT_TUNING_EPISODES = 512
"""Episodes per candidate of :func:`calibrated_sentiment_as`. Four times ``gamma``'s 128: the
grid has 24 candidates whose mean rewards differ by about the standard error of 128 episodes
(about 2), and with 128 the pick on ``trending`` changed from run to run (VADER headlines:
``(1, 1)`` and ``kappa`` 0.25, held-out reward difference to AS +2.0 [-0.0, +4.0]); with 512
it is ``(1, 1)`` and 0.5 for VADER, LM and the noisy readings alike."""


def tune_gamma(
    make_policy: Callable[[float], QuotingPolicy],
    gammas: Sequence[float],
    setting: str = "mean_reverting",
    overrides: Mapping[str, Any] | None = None,
    *,
    n_episodes: int = 128,
    seed: int = CALIBRATION_SEED,
    objective: str = "episode_reward",
) -> tuple[float, dict[float, float]]:
    """Pick the risk aversion whose policy scores the best mean ``objective`` on the env.

    The default objective is the environment's own reward summed over the episode (PnL minus
    the running and terminal inventory penalties), the quantity a learned agent is trained to
    maximize, so a tuned baseline is a fair opponent for it.

    Args:
        make_policy: Builds the policy for one ``gamma``.
        gammas: Candidates.
        setting: Book preset name or env id.
        overrides: Environment keyword overrides.
        n_episodes: Episodes per candidate (the same seeds for all).
        seed: Master seed of the episodes (keep it apart from the evaluation seed).
        objective: A per-episode column of :func:`mm_gym.evaluation.evaluate_policies`.

    Returns:
        ``(best_gamma, {gamma: mean objective})``.
    """
    from mm_gym.evaluation import evaluate_policies

    if not gammas:
        raise ConfigError("gammas must not be empty")
    pols = {f"g{i}": make_policy(float(g)) for i, g in enumerate(gammas)}
    df = evaluate_policies(pols, setting, overrides, n_episodes, seed=seed)
    if objective not in df.columns:
        raise ConfigError(f"objective={objective!r} is not a per-episode metric")
    means = df.groupby("policy", sort=False)[objective].mean()
    scores = {float(g): float(means[f"g{i}"]) for i, g in enumerate(gammas)}
    best = max(scores, key=lambda g: scores[g])
    _warn_if_at_edge(best, scores, stacklevel=3)
    return best, scores


def _warn_if_at_edge(best: float, grid: Iterable[float], stacklevel: int) -> None:
    """:func:`tune_gamma`'s warning that ``best`` is the grid's smallest or largest candidate."""
    grid = sorted(grid)
    if len(grid) > 2 and best in (grid[0], grid[-1]):
        warnings.warn(
            f"tune_gamma: the best gamma {best!r} is at the edge of the grid {grid}; "
            "the optimum may lie outside it",
            RuntimeWarning,
            stacklevel=stacklevel,
        )


@dataclass(frozen=True)
class Calibration:
    """Calibrated parameters of the AS and GLFT baselines for one environment setting.

    Attributes:
        A: Fill intensity at depth 0, fills per step (:func:`calibrate_on_env`).
        k: Decay of the fill intensity, per tick.
        gamma_as: Risk aversion of :class:`AvellanedaStoikov` (:func:`tune_gamma`).
        gamma_glft: Risk aversion of :class:`GLFT`.
        fingerprint: Hash of the market and environment configs it was computed for.
    """

    A: float
    k: float
    gamma_as: float
    gamma_glft: float
    fingerprint: str


# Computed by ``python -m baselines.calibration`` (calibrate_setting with its defaults); used
# while the preset's fingerprint matches, i.e. until the preset or the env defaults change.
# MARKET_MODEL_VERSION 3 (the "book" price formation, 0.2.0). On default / mean_reverting the
# best gamma of both AS and GLFT is the grid's smallest, 1e-05, and tune_gamma warns that it is
# at the edge; it is the gamma -> 0 limit in effect (an inventory skew of gamma * sigma^2 * T
# = 1e-05 * 0.29 * 1,000 = 0.003 ticks per lot): a smaller gamma moves quotes by less.
DEFAULT_CALIBRATIONS: dict[str, Calibration] = {
    "default": Calibration(
        A=0.335284, k=1.15612, gamma_as=1e-05, gamma_glft=1e-05, fingerprint="769d9707c0651690"
    ),
    "mean_reverting": Calibration(
        A=0.335284, k=1.15612, gamma_as=1e-05, gamma_glft=1e-05, fingerprint="769d9707c0651690"
    ),
    "trending": Calibration(
        A=0.336551, k=1.17919, gamma_as=0.003, gamma_glft=0.3, fingerprint="26b99c85d542674a"
    ),
    "volatile": Calibration(
        A=0.640913, k=0.661157, gamma_as=0.001, gamma_glft=0.3, fingerprint="a50f86949f2da99a"
    ),
    "switching": Calibration(
        A=0.438046, k=0.863603, gamma_as=0.001, gamma_glft=0.1, fingerprint="66b60e54635ba656"
    ),
    "shock_heavy": Calibration(
        A=0.440881, k=0.861914, gamma_as=0.001, gamma_glft=0.3, fingerprint="0728870b0e62d10e"
    ),
    "hawkes": Calibration(
        A=0.460501, k=0.864813, gamma_as=0.001, gamma_glft=0.3, fingerprint="c1089967e36f997d"
    ),
}


# The news fields of ProcessConfig change only what is observed (the observed sentiment, the
# headline records, the alpha feature), never the market a calibration measures (the headline
# draws come from a stream of their own; tests/test_news_market.py checks the market is the same):
# they leave the fingerprint out, so the stored calibrations hold with headlines on.
_OBSERVATION_ONLY = re.compile(r", news_model=.*?, alpha_imbalance_weight=[^,)]*")


def config_fingerprint(setting: str, overrides: Mapping[str, Any] | None = None) -> str:
    """A short hash of the resolved market and environment configs of ``setting``.

    Fields that change only the observation (``process.news_model`` and the other news fields,
    ``observe_alpha``), and ``penalty_timing`` (the same episode totals), are left out.
    """
    from mm_gym.config import MARKET_MODEL_VERSION
    from mm_gym.evaluation import setting_configs

    market, envc = setting_configs(setting, overrides)
    text = _OBSERVATION_ONLY.sub("", repr(market))
    if market.price_formation == "legacy":
        # the fields added with the "book" price formation leave a legacy market's fingerprint
        # (and the calibrations stored for it) as they were
        text = text.replace(f", price_formation='legacy', formation={market.formation!r}", "")
    # A calibration is in ticks (quote depths, then the baselines' offsets), whatever maps
    # actions to offsets: the action mapping leaves the fingerprint as it was before the field.
    env_text = repr(envc).replace(f"action_mapping={envc.action_mapping!r}, ", "")
    env_text = env_text.replace(f"observe_alpha={envc.observe_alpha!r}, ", "")
    # When the penalties are paid leaves every episode's total reward, which gamma is tuned on,
    # as it is (mm_gym.rewards): the timing leaves the fingerprint as it was before the field.
    env_text = env_text.replace(f"penalty_timing={envc.penalty_timing!r}, ", "")
    key = f"({MARKET_MODEL_VERSION!r}, {text}, {env_text})"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def calibrate_setting(
    setting: str = "mean_reverting",
    overrides: Mapping[str, Any] | None = None,
    *,
    n_episodes: int = 128,
    seed: int = CALIBRATION_SEED,
) -> Calibration:
    """Fit ``(A, k)`` with :func:`calibrate_on_env`, then tune both baselines' ``gamma``.

    Args:
        setting: Book preset name or env id.
        overrides: Environment keyword overrides.
        n_episodes: Episodes per depth and per ``gamma`` candidate.
        seed: Master seed of the calibration episodes.

    Returns:
        The :class:`Calibration`.
    """
    fit = calibrate_on_env(setting, overrides, markets_per_depth=max(1, n_episodes // 2), seed=seed)
    g_as, _ = tune_gamma(
        lambda g: AvellanedaStoikov(g, fit.k), AS_GAMMAS, setting, overrides,
        n_episodes=n_episodes, seed=seed,
    )  # fmt: skip
    g_glft, _ = tune_gamma(
        lambda g: GLFT(g, fit.k, fit.A), GLFT_GAMMAS, setting, overrides,
        n_episodes=n_episodes, seed=seed,
    )  # fmt: skip
    return Calibration(fit.A, fit.k, g_as, g_glft, config_fingerprint(setting, overrides))


_CACHE: dict[tuple[str, str], Calibration] = {}


def calibration_for(
    setting: str = "mean_reverting",
    overrides: Mapping[str, Any] | None = None,
    *,
    recalibrate: bool = False,
) -> Calibration:
    """The calibration of ``setting``: the stored default if still valid, else computed once.

    A stored entry of :data:`DEFAULT_CALIBRATIONS` is used when its fingerprint matches the
    current configs (a preset, or its env id, as stored); otherwise (overrides that change the
    market, or a preset changed since) :func:`calibrate_setting` runs, a few seconds to a
    minute, once: its result is kept for the process and in the on-disk cache
    (:mod:`mm_gym.result_cache`), where later processes load it.

    Args:
        setting: Book preset name or env id.
        overrides: Environment keyword overrides.
        recalibrate: Ignore the stored and cached values (the result replaces the cached one).
    """
    fp = config_fingerprint(setting, overrides)
    # Looked up by fingerprint, so an env id, or overrides that leave the configs unchanged,
    # find the entry of their preset.
    stored = next((c for c in DEFAULT_CALIBRATIONS.values() if c.fingerprint == fp), None)
    if not recalibrate and stored is not None:
        return stored
    key = (setting, fp)
    if recalibrate or key not in _CACHE:
        _CACHE[key] = _calibrate_through_cache(setting, overrides, refresh=recalibrate)
    return _CACHE[key]


def _calibrate_through_cache(
    setting: str, overrides: Mapping[str, Any] | None, *, refresh: bool
) -> Calibration:
    """:func:`calibrate_setting` with its defaults, through the on-disk cache."""
    n_episodes, seed = 128, CALIBRATION_SEED
    params = {
        "n_episodes": n_episodes, "seed": seed, "depths": CALIBRATION_DEPTHS,
        "as_gammas": AS_GAMMAS, "glft_gammas": GLFT_GAMMAS,
    }  # fmt: skip

    computed = False

    def compute() -> dict[str, Any]:
        nonlocal computed
        computed = True
        fresh = calibrate_setting(setting, overrides, n_episodes=n_episodes, seed=seed)
        return dataclasses.asdict(fresh)

    value = _through_cache("calibration", setting, overrides, params, compute, refresh=refresh)
    if not computed:  # loaded: the warnings tune_gamma gave when it was computed, again
        _warn_if_at_edge(value["gamma_as"], AS_GAMMAS, stacklevel=4)
        _warn_if_at_edge(value["gamma_glft"], GLFT_GAMMAS, stacklevel=4)
    return Calibration(**value)


def _through_cache(
    kind: str,
    setting: str,
    overrides: Mapping[str, Any] | None,
    params: Mapping[str, Any],
    compute: Callable[[], dict[str, Any]],
    *,
    refresh: bool = False,
) -> dict[str, Any]:
    """``compute()`` through the on-disk cache, :func:`mm_gym.result_cache.cached_result`.

    The key holds ``params``, the configs of ``setting`` with ``overrides``, the versions and the
    sources of mm_gym and baselines; the value has the form ``_FIELDS[kind]`` checks.
    """
    try:
        key = result_key(kind, setting, overrides, params, (str(Path(__file__).parent),))
    except OSError:  # an unreadable news file: computing reports it, nothing is stored
        return json_round_trip(compute())
    return cached_result(key, compute, _FIELDS[kind], refresh=refresh)


def _numbers(value: Any, n: int | None = None) -> bool:
    """Whether ``value`` is a real number (``n`` None) or a list of ``n`` of them."""
    if n is not None:
        return isinstance(value, list) and len(value) == n and all(map(_numbers, value))
    return isinstance(value, int | float) and not isinstance(value, bool)


_FIELDS: dict[str, Callable[[Any], bool]] = {
    "calibration": lambda v: (
        isinstance(v, dict) and set(v) == {f.name for f in dataclasses.fields(Calibration)}
        and all(_numbers(v[f]) for f in ("A", "k", "gamma_as", "gamma_glft"))
        and isinstance(v["fingerprint"], str)
    ),
    "sentiment_as": lambda v: (
        isinstance(v, dict) and set(v) == {"weights", "kappa"}
        and _numbers(v["weights"], 2) and _numbers(v["kappa"])
    ),
}  # fmt: skip
"""Whether a cached value has the form of each kind (else it is recomputed)."""


def calibrated_as(
    setting: str = "mean_reverting",
    overrides: Mapping[str, Any] | None = None,
    *,
    name: str = "avellaneda_stoikov",
    recalibrate: bool = False,
) -> AvellanedaStoikov:
    """An :class:`AvellanedaStoikov` policy with ``k`` and ``gamma`` calibrated on ``setting``.

    ``sigma`` is read from the observed ``volatility_ticks`` feature at every step.
    """
    c = calibration_for(setting, overrides, recalibrate=recalibrate)
    return AvellanedaStoikov(c.gamma_as, c.k, name=name)


def calibrated_glft(
    setting: str = "mean_reverting",
    overrides: Mapping[str, Any] | None = None,
    *,
    name: str = "glft",
    recalibrate: bool = False,
) -> GLFT:
    """A :class:`GLFT` policy with ``A``, ``k`` and ``gamma`` calibrated on ``setting``."""
    c = calibration_for(setting, overrides, recalibrate=recalibrate)
    return GLFT(c.gamma_glft, c.k, c.A, name=name)


_KAPPA_CACHE: dict[tuple[str, str], tuple[tuple[float, float], float]] = {}


def calibrated_sentiment_as(
    setting: str = "trending",
    overrides: Mapping[str, Any] | None = None,
    *,
    name: str = "sentiment_as",
    kappas: Sequence[float] | None = None,
    weights: Sequence[tuple[float, float]] | None = None,
    n_episodes: int | None = None,
) -> SentimentAS:
    """A :class:`SentimentAS` policy: AS's calibrated ``k`` and ``gamma``, then its signal tuned.

    ``k`` and ``gamma`` are those of :func:`calibrated_as` (the news fields leave the market,
    and so the calibration, unchanged). The blend weights ``(w_s, w_i)`` and the shift
    ``kappa`` are then picked together from ``weights`` x ``kappas`` like ``gamma`` is
    (:func:`tune_gamma`: the best mean episode reward on the calibration seeds, which are not
    the evaluation seeds), on ``setting`` with ``overrides`` as given: pass a ``news_model``
    (``{"news_model": "vader"}``) for headline sentiment, else the sentiment is the noisy
    readings'. Only ``kappa * w`` matters while the clip is inactive, so ``w_s`` is fixed at 1
    in the default grid and ``w_i`` varies. The result is kept for the process and in the
    on-disk cache (:mod:`mm_gym.result_cache`), keyed by the configs, the grids, the episodes,
    the seed, ``k`` and ``gamma``, the versions and the sources.

    Args:
        setting: Book preset name or env id.
        overrides: Environment keyword overrides.
        name: Display name.
        kappas: Candidate shifts (default :data:`SENTIMENT_KAPPAS`).
        weights: Candidate ``(w_s, w_i)`` (default :data:`SENTIMENT_WEIGHTS`).
        n_episodes: Episodes per candidate (default :data:`SENTIMENT_TUNING_EPISODES`).
    """
    kappas = SENTIMENT_KAPPAS if kappas is None else tuple(kappas)
    grid = SENTIMENT_WEIGHTS if weights is None else tuple((float(a), float(b)) for a, b in weights)
    n_episodes = SENTIMENT_TUNING_EPISODES if n_episodes is None else n_episodes
    c = calibration_for(setting, overrides)
    fp = f"{config_fingerprint(setting, overrides)}|{_news_text(setting, overrides)}"
    key = (f"{setting}|{tuple(kappas)}|{grid}|{n_episodes}", fp)
    if key not in _KAPPA_CACHE:
        params = {
            "kappas": kappas, "weights": grid, "n_episodes": n_episodes,
            "seed": CALIBRATION_SEED, "gamma_as": c.gamma_as, "k": c.k,
        }  # fmt: skip

        def compute() -> dict[str, Any]:
            w, x = _tune_sentiment(setting, overrides, c, kappas, grid, n_episodes)
            return {"weights": w, "kappa": x}

        value = _through_cache("sentiment_as", setting, overrides, params, compute)
        _KAPPA_CACHE[key] = (tuple(value["weights"]), value["kappa"])
    w, kappa = _KAPPA_CACHE[key]
    return SentimentAS(c.gamma_as, c.k, kappa, w, name=name)


def _tune_sentiment(
    setting: str,
    overrides: Mapping[str, Any] | None,
    c: Calibration,
    kappas: Sequence[float],
    grid: Sequence[tuple[float, float]],
    n_episodes: int,
) -> tuple[tuple[float, float], float]:
    """The best ``(weights, kappa)`` of :func:`calibrated_sentiment_as` (a minute per setting)."""
    # kappa = 0 is plain AS whatever the weights: it runs once (the first of them, which
    # tune_gamma's first-best pick would return anyway), an eighth of the default grid saved.
    candidates = [(w, x) for w in grid for x in kappas]
    candidates = [c for i, c in enumerate(candidates) if c[1] != 0 or _first_zero(candidates, i)]

    def make(i: float) -> SentimentAS:
        w, x = candidates[int(i)]
        return SentimentAS(c.gamma_as, c.k, x, w)

    with warnings.catch_warnings():  # its edge-of-grid warning would name an index here
        warnings.simplefilter("ignore", RuntimeWarning)
        best, _ = tune_gamma(
            make, [float(i) for i in range(len(candidates))], setting, overrides,
            n_episodes=n_episodes,
        )  # fmt: skip
    return candidates[int(best)]


def _first_zero(candidates: Sequence[tuple[Any, float]], i: int) -> bool:
    """Whether ``candidates[i]`` is the first with ``kappa == 0``."""
    return all(x != 0 for _, x in candidates[:i])


def _news_text(setting: str, overrides: Mapping[str, Any] | None) -> str:
    """The news fields the fingerprint leaves out, which the tuned ``kappa`` depends on."""
    from mm_gym.evaluation import setting_configs

    market, _ = setting_configs(setting, overrides)
    found = _OBSERVATION_ONLY.search(repr(market))
    return "" if found is None else found.group(0)


def main(argv: Sequence[str] | None = None) -> None:
    """Recalibrate book presets and print their :data:`DEFAULT_CALIBRATIONS` entries.

    ``python -c "from baselines.calibration import main; main()"`` (``main(["trending"])`` for
    one preset) runs :func:`calibrate_setting` on each book preset (seconds to a minute each)
    and prints one :data:`DEFAULT_CALIBRATIONS` entry per preset, to paste into that
    dictionary in this file. It writes no file: the stored calibrations change only when the
    printed lines are pasted (and committed).
    """
    import argparse

    from mm_gym.config import book_preset_names

    ap = argparse.ArgumentParser(
        prog="baselines.calibration", allow_abbrev=False,
        description="Recalibrate AS/GLFT on book presets and print their DEFAULT_CALIBRATIONS "
        "entries (to paste into baselines/calibration.py); writes no file.",
    )  # fmt: skip
    ap.add_argument("presets", nargs="*", help="book presets (default: all)")
    args = ap.parse_args(argv)
    names = args.presets or book_preset_names()
    for p in names:
        c = calibrate_setting(p)
        print(
            f'    "{p}": Calibration(A={c.A:.6g}, k={c.k:.6g}, gamma_as={c.gamma_as!r}, '
            f'gamma_glft={c.gamma_glft!r}, fingerprint="{c.fingerprint}"),',
            flush=True,
        )


if __name__ == "__main__":
    main()
