"""The venues of a multi-venue asset: fees, latency, depth; and each venue's market config."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from mm_gym.config import ConfigError, MarketConfig, _ranged, _text, _Validated, excerpt
from mm_gym.config_files import with_overrides

__all__ = [
    "DEFAULT_VENUES",
    "MAX_VENUES",
    "VenueConfig",
    "bps_to_currency_per_lot",
    "check_venues",
    "venue_market_config",
]

MAX_VENUES = 16


@dataclass(frozen=True)
class VenueConfig(_Validated, prefix="venue."):
    """One venue of the asset.

    Attributes:
        name: The venue's name (unique among the venues; names its observation features).
        maker_fee_bps: Fee on a maker's (a resting order's) fill, in basis points of the
            notional at the start price; negative is a rebate (the usual lit-venue schedule).
            Maker fees above 0 (inverted venues) are not modelled.
        taker_fee_bps: Fee an aggressor pays, in basis points of the start notional. The
            arbitrageurs pay it too: a crossing is taken only when it exceeds both venues' fees.
        latency_steps: Steps between sending a quote and its taking effect on this venue: the
            quote sent at step ``t`` rests from step ``t + latency_steps`` on, at the prices
            chosen at ``t``, so a slow venue's quotes can be stale and picked off.
        depth_mult: Multiplier of the market's background limit-order rate (``flow.lo_rate``)
            on this venue: a deeper or thinner book.
        flow_mult: Multiplier of the noise and informed market-order rates on this venue.
    """

    name: str = _text("A")
    maker_fee_bps: float = _ranged(-0.05, -100.0, 0.0)
    taker_fee_bps: float = _ranged(0.20, 0.0, 100.0)
    latency_steps: int = _ranged(0, 0, 1_000, integer=True)
    depth_mult: float = _ranged(1.0, 0.0, 100.0, lo_open=True)
    flow_mult: float = _ranged(1.0, 0.0, 100.0)

    def _check_together(self) -> None:
        if not self.name or not self.name.isidentifier():
            raise ConfigError(
                f"venue.name={excerpt(self.name)} must be a non-empty identifier "
                "(letters, digits, underscores; it names the venue's features)"
            )


DEFAULT_VENUES: tuple[VenueConfig, ...] = (
    VenueConfig("A", maker_fee_bps=-0.05, taker_fee_bps=0.20, latency_steps=0),
    VenueConfig("B", maker_fee_bps=-0.02, taker_fee_bps=0.25, latency_steps=1),
    VenueConfig("C", maker_fee_bps=-0.08, taker_fee_bps=0.18, latency_steps=2),
)
"""Three venues with a realistic spread of fee schedules and latencies (issue #15's)."""


def check_venues(venues: Any) -> tuple[VenueConfig, ...]:
    """``venues`` as a tuple of :class:`VenueConfig` (mappings of its fields are accepted).

    Raises:
        ConfigError: Naming the entry and what is wrong: not a sequence, fewer than 1 or more
            than :data:`MAX_VENUES` venues, an entry neither a VenueConfig nor a mapping of its
            fields, an invalid field, or a repeated name.
    """
    if isinstance(venues, (str, bytes, Mapping)) or not isinstance(venues, Sequence):
        raise ConfigError(f"venues={excerpt(venues)} must be a list of venues")
    if not 1 <= len(venues) <= MAX_VENUES:
        raise ConfigError(f"venues has {len(venues)} entries; allowed 1 to {MAX_VENUES}")
    keys = {f.name for f in fields(VenueConfig)}
    out = []
    for i, v in enumerate(venues):
        if isinstance(v, Mapping):
            unknown = sorted(set(v) - keys)
            if unknown:
                raise ConfigError(
                    f"venues[{i}] has unknown key {unknown[0]!r}; valid keys: {sorted(keys)}"
                )
            try:
                v = VenueConfig(**v)
            except ConfigError as e:
                raise ConfigError(f"venues[{i}]: {e}") from None
        if not isinstance(v, VenueConfig):
            raise ConfigError(f"venues[{i}]={excerpt(v)} must be a VenueConfig or a mapping")
        out.append(v)
    names = [v.name for v in out]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(f"venues[{i}].name={name!r} repeats an earlier venue's name")
    return tuple(out)


def bps_to_currency_per_lot(config: MarketConfig, bps: float) -> float:
    """``bps`` basis points of one lot's notional at the start price, in currency."""
    return bps * 1e-4 * config.price0_ticks * config.value_per_tick_lot


def venue_market_config(
    base: MarketConfig, venue: VenueConfig, n_venues: int, *, two_makers: bool = False
) -> MarketConfig:
    """The market config of one venue: the asset's market with the venue's fees and flow.

    mm1's per-venue limit is ``n_venues`` times the asset's: the limit that binds is on mm1's
    inventory summed over the venues, applied by :class:`~mm_gym.multivenue.MultiVenueMarket`.
    With ``two_makers`` mm2's likewise (otherwise mm2 is the venue's built-in rival, whose limit
    is per venue).
    """
    fl = base.flow
    overrides: dict[str, object] = {
        "makers.maker_rebate": bps_to_currency_per_lot(base, -venue.maker_fee_bps),
        "makers.taker_fee": bps_to_currency_per_lot(base, venue.taker_fee_bps),
        "makers.mm1_limit": base.makers.mm1_limit * n_venues,
        "flow.lo_rate": fl.lo_rate * venue.depth_mult,
        "flow.noise_rate": fl.noise_rate * venue.flow_mult,
        "flow.informed_rate": fl.informed_rate * venue.flow_mult,
    }
    if two_makers:
        overrides["makers.mm2_limit"] = base.makers.mm2_limit * n_venues
    return with_overrides(base, overrides)
