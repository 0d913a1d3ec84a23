"""TrackingMore, the carrier behind every courier: the API v4 client, its typed errors and the
parser of its answers. Knows nothing of Telegram or of the database: it turns HTTP into
`Snapshot`s and typed errors.
"""

from bot.carrier.client import (
    CREATES_PER_SECOND,
    MAX_NUMBERS_PER_REQUEST,
    REQUESTS_PER_SECOND,
    CallStats,
    TrackingMoreClient,
)
from bot.carrier.errors import (
    CarrierAlreadyExists,
    CarrierAuthError,
    CarrierBadResponse,
    CarrierError,
    CarrierInvalidInput,
    CarrierNotFound,
    CarrierQuotaError,
    CarrierRateLimited,
    CarrierUnavailable,
)
from bot.carrier.parser import BatchCreateResult, Fetched, parse_tracking, tracking_signature

__all__ = [
    "CREATES_PER_SECOND",
    "MAX_NUMBERS_PER_REQUEST",
    "REQUESTS_PER_SECOND",
    "BatchCreateResult",
    "CallStats",
    "CarrierAlreadyExists",
    "CarrierAuthError",
    "CarrierBadResponse",
    "CarrierError",
    "CarrierInvalidInput",
    "CarrierNotFound",
    "CarrierQuotaError",
    "CarrierRateLimited",
    "CarrierUnavailable",
    "Fetched",
    "TrackingMoreClient",
    "parse_tracking",
    "tracking_signature",
]
