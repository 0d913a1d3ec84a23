"""TrackingMore's failures as typed errors, and the meta codes that stand for each."""

from __future__ import annotations

OK_CODES = frozenset({200, 201})
EXISTS_CODES = frozenset({4101, 4016})
AUTH_CODES = frozenset({401, 4001, 4002})
QUOTA_CODES = frozenset({402, 4019, 4021, 4190})
NOT_FOUND_CODES = frozenset({4017, 4102, 4031})
INVALID_CODES = frozenset({4012, 4013, 4014, 4015, 4103, 4110, 4120, 4130, 4032})
UNAVAILABLE_CODES = frozenset({500, 502, 503, 504})


class CarrierError(Exception):
    """Base of every carrier failure; `code` is TrackingMore's meta code or the HTTP status."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class CarrierAuthError(CarrierError):
    """The API key is invalid or deleted."""


class CarrierQuotaError(CarrierError):
    """The account has no quota left."""


class CarrierRateLimited(CarrierError):
    def __init__(self, message: str, retry_after: float, code: int | None = 429) -> None:
        super().__init__(message, code)
        self.retry_after = retry_after


class CarrierUnavailable(CarrierError):
    """5xx, timeouts and connection failures: try again later."""


class CarrierBadResponse(CarrierError):
    """The answer is not the JSON envelope the API documents."""


class CarrierInvalidInput(CarrierError):
    """TrackingMore refused the tracking number or courier code."""


class CarrierNotFound(CarrierError):
    """The tracking does not exist at TrackingMore."""


class CarrierAlreadyExists(CarrierError):
    """Create of a number that is already registered; callers treat it as success."""
