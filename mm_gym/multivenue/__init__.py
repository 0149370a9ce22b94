"""One asset quoted on several venues: fees, latency, shared price formation, arbitrage.

``gym.make("mm_gym/MultiVenue-v0")`` is :class:`MultiVenueEnv`: the asset trades on V venues
(default three, :data:`DEFAULT_VENUES`), each a full limit order book of the single-venue kind
with its own maker rebate and taker fee (basis points), depth, flow and order latency (steps).
The venues share the asset's price formation: the regime, sentiment and news, the informed
traders' signal, the activity factor and the liquidity shocks come from the same random
streams, while each venue draws its own order flow. Takers may not trade through another
venue's best price (what they would have taken beyond it is routed to the best venues), and
arbitrageurs take any venue whose best price is through another's by more than the two taker
fees, which keeps the venues' prices aligned (:mod:`mm_gym.market.venues`). mm1 quotes on
every venue (or, with ``action_form="routed"``, one quote sized over the venues by a routing
vector: :mod:`mm_gym.multivenue.routing`); its inventory limit binds on its inventory summed
over the venues, which is marked at the consolidated mid. mm2 is each venue's built-in rival;
:func:`parallel_env` makes the PettingZoo form where mm2 is a second learner quoting per venue
like mm1 (:class:`MultiVenueParallelEnv`), and :class:`MultiVenueTwoMakerVectorEnv` its batched
form, both makers of ``n`` markets as the ``2n`` seats of one vector env (as
:class:`mm_gym.TwoMakerVectorEnv` on one venue).
"""

from mm_gym.multivenue.config import (
    DEFAULT_VENUES,
    MAX_VENUES,
    VenueConfig,
    bps_to_currency_per_lot,
    check_venues,
    venue_market_config,
)
from mm_gym.multivenue.core import MultiVenueCore
from mm_gym.multivenue.env import MultiVenueEnv, MultiVenueVectorEnv
from mm_gym.multivenue.market import MultiVenueMarket
from mm_gym.multivenue.parallel import MultiVenueParallelEnv, parallel_env
from mm_gym.multivenue.routing import ACTION_FORMS, allocate_lots, route_weights
from mm_gym.multivenue.two_makers import MultiVenueTwoMakerVectorEnv

__all__ = [
    "ACTION_FORMS",
    "DEFAULT_VENUES",
    "MAX_VENUES",
    "MultiVenueCore",
    "MultiVenueEnv",
    "MultiVenueMarket",
    "MultiVenueParallelEnv",
    "MultiVenueTwoMakerVectorEnv",
    "MultiVenueVectorEnv",
    "VenueConfig",
    "allocate_lots",
    "bps_to_currency_per_lot",
    "check_venues",
    "parallel_env",
    "route_weights",
    "venue_market_config",
]
