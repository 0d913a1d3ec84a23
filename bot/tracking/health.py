"""How the carrier is doing, as the poll cycles saw it: read by /stats, health checks, metrics
and the admin alerts."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from bot.carrier import CarrierAuthError, CarrierError, CarrierQuotaError


class CarrierHealth(StrEnum):
    OK = "ok"
    AUTH = "auth"
    QUOTA = "quota"
    DOWN = "down"


@dataclass
class PollState:
    """What the last cycles saw; read by /stats, health checks and admin alerts."""

    cycles: int = 0
    last_success_monotonic: float | None = None
    last_success_wallclock: float | None = None
    consecutive_failures: int = 0
    paused_until: float = 0.0
    health: CarrierHealth = CarrierHealth.OK
    last_error: str = ""
    changes_found: int = 0
    batches: int = 0


@dataclass
class CycleErrors:
    errors: list[CarrierError] = field(default_factory=list)

    @property
    def worst(self) -> CarrierHealth:
        kinds = {type(e) for e in self.errors}
        if CarrierAuthError in kinds:
            return CarrierHealth.AUTH
        if CarrierQuotaError in kinds:
            return CarrierHealth.QUOTA
        return CarrierHealth.DOWN if self.errors else CarrierHealth.OK
