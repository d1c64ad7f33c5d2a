"""One label's document: what ``/api/v1/{axis}/{name}`` answers and a domain's,
provider's or tenant's page shows: its windows, what its problem events said, its
alerts and what SES says of it. Built by sesd.status.scopes; the rows it shares with
the status document (alerts, tenants) are sesd.status.document's, cleaned and
bounded as that module says.
"""

from __future__ import annotations

from typing import Final

import msgspec

from sesd.status.document import AlertRow, TenantRow

__all__ = ["SCOPE_SCHEMA", "BreakdownView", "Counted", "ScopeDetail", "WindowView"]

#: The document's name; fields are only ever added within one.
SCOPE_SCHEMA: Final = "sesd.scope.v1"


class Counted(msgspec.Struct, frozen=True, kw_only=True):
    """A value and how many recipients it came with."""

    name: str
    count: int


class WindowView(msgspec.Struct, frozen=True, kw_only=True):
    """One window of one domain, provider or tenant."""

    window: str
    seconds: float
    sent: int
    delivered: int
    delayed: int
    bounced: int
    complained: int
    suppressed: int
    delay_ratio: float | None
    bounce_ratio: float | None
    complaint_ratio: float | None
    delivery_ratio: float | None
    processing_p95_seconds: float | None
    delivery_p95_seconds: float | None
    delay_duration_p95_seconds: float | None
    #: Delayed recipients per cause, exactly, most first.
    causes: list[Counted]
    #: Delay ratio per bucket, oldest first.
    sparkline: list[float | None]
    step_seconds: float


class BreakdownView(msgspec.Struct, frozen=True, kw_only=True):
    """What problem events said in ``window`` (the widest window that keeps them; None
    when no rule reads a window, and none is kept): top values, most first."""

    window: str | None
    causes: list[Counted]
    delay_types: list[Counted]
    statuses: list[Counted]
    diagnostics: list[Counted]
    mtas: list[Counted]
    #: Recipient domains with problems (for a provider or a tenant).
    domains: list[Counted]
    #: The newest example message ids, newest first.
    message_ids: list[str]


class ScopeDetail(msgspec.Struct, frozen=True, kw_only=True):
    """``/api/v1/{axis}/{name}``: one domain, provider or tenant."""

    schema: str = SCOPE_SCHEMA
    at: float
    axis: str
    name: str
    pending: int
    windows: list[WindowView]
    breakdown: BreakdownView
    alerts: list[AlertRow]
    #: What SES says of it (a tenant).
    tenants: list[TenantRow]
