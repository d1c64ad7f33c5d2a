"""SES's tenant events from EventBridge (a tenant's sending status changed, a
reputation finding opened or closed) -> a :class:`TenantNotice`. Pure; the envelope
around them is :mod:`sesd.core.decode`'s.
"""

from __future__ import annotations

from typing import Final

import msgspec

from sesd.core.events import Invalid, Outer, Skipped
from sesd.core.tenant_map import names_a_resource, tenant_of_arn
from sesd.core.tenants import TenantNotice
from sesd.core.text import clean
from sesd.core.timestamps import unix_seconds

__all__ = ["TENANT_EVENTS", "tenant_notice"]

#: The longest detail-type an invalid result repeats (as sesd.core.decode's names).
_NAME_CHARS: Final = 64

#: SES's tenant events, by detail-type: a status change, or a finding and whether it is
#: open (SES's guide names the closing one "Closed", its event reference "Resolved").
TENANT_EVENTS: Final = {
    "Sending Status Enabled": "status",
    "Sending Status Disabled": "status",
    "Advisor Recommendation Status Open": "open",
    "Advisor Recommendation Status Closed": "closed",
    "Advisor Recommendation Status Resolved": "closed",
}


class _StatusRecord(msgspec.Struct, frozen=True, rename="camel"):
    status: str = ""
    cause: str | None = None


class _StatusData(msgspec.Struct, frozen=True):
    origin: str = ""
    record: _StatusRecord = _StatusRecord()


class _Finding(msgspec.Struct, frozen=True):
    impact: str = ""
    type: str = ""


class _TenantDetail(msgspec.Struct, frozen=True):
    data: _StatusData | str = ""
    metadata: _Finding = _Finding()


_TENANT_DETAIL: Final = msgspec.json.Decoder(_TenantDetail)


def tenant_notice(outer: Outer, kind: str) -> TenantNotice | Skipped | Invalid:
    """A tenant's status change or finding, from SES's EventBridge event."""
    found = next(((w, a) for a in outer.eb_resources if (w := tenant_of_arn(a))), None)
    if found is None:
        return Skipped("eventbridge_not_tenant")  # a finding about an identity, say
    (region, account, tenant), arn = found[0], found[1] if names_a_resource(found[1]) else ""
    try:
        detail = _TENANT_DETAIL.decode(bytes(outer.eb_detail) or b"{}")
        at = unix_seconds(outer.eb_time) if outer.eb_time else 0.0
    except (msgspec.DecodeError, ValueError):
        shown = clean(outer.eb_detail_type or "", _NAME_CHARS)
        return Invalid("schema", f"EventBridge {shown} event")
    if kind == "status":
        data = detail.data
        if not isinstance(data, _StatusData) or not data.record.status:
            return Invalid("schema", "a sending status event without its status")
        return TenantNotice(
            region, account, tenant, at, status=data.record.status, origin=data.origin,
            cause=data.record.cause or "", arn=arn,
        )  # fmt: skip
    description = detail.data if isinstance(detail.data, str) else ""
    return TenantNotice(
        region, account, tenant, at, finding=detail.metadata.type or "FINDING",
        impact=detail.metadata.impact, description=description, open=kind == "open", arn=arn,
    )  # fmt: skip
