"""Builders for SES event bodies in every form SQS may carry them.

Shapes follow the AWS documentation's examples; addresses are made up.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from typing import Any

_ids = itertools.count(1)

T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z, a fixed "now" for pure tests


def iso(t: float) -> str:
    """An SES timestamp."""
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def mail(
    recipients: list[str],
    *,
    sent: float = T0,
    message_id: str | None = None,
    tags: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """The ``mail`` object."""
    return {
        "timestamp": iso(sent),
        "source": "sender@example.com",
        "sourceArn": "arn:aws:ses:eu-west-1:123456789012:identity/example.com",
        "sendingAccountId": "123456789012",
        "messageId": message_id or f"0100-test-{next(_ids):08d}",
        "destination": recipients,
        "headersTruncated": False,
        "tags": tags if tags is not None else {"ses:configuration-set": ["ConfigSet"]},
    }


def delivery(
    recipients: list[str],
    *,
    at: float = T0,
    processing_ms: int = 1200,
    sent: float | None = None,
    message_id: str | None = None,
    tags: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """A Delivery event."""
    sent = at - processing_ms / 1000 if sent is None else sent
    return {
        "eventType": "Delivery",
        "mail": mail(recipients, sent=sent, message_id=message_id, tags=tags),
        "delivery": {
            "timestamp": iso(at),
            "processingTimeMillis": processing_ms,
            "recipients": recipients,
            "smtpResponse": "250 2.6.0 Message received",
            "reportingMTA": "a8-70.smtp-out.amazonses.com",
            "remoteMtaIp": "203.0.113.10",
        },
    }


def delay(
    recipients: list[str],
    *,
    at: float = T0,
    delay_type: str = "TransientCommunicationFailure",
    expires: float | None = None,
    message_id: str | None = None,
    status: str = "4.4.1",
    diagnostic: str = "smtp; 421 4.4.1 Unable to connect to remote host",
    mta: str = "dsn; a8-70.smtp-out.amazonses.com",
    tags: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """A DeliveryDelay event."""
    body: dict[str, Any] = {
        "eventType": "DeliveryDelay",
        "mail": mail(recipients, sent=at - 600, message_id=message_id, tags=tags),
        "deliveryDelay": {
            "timestamp": iso(at),
            "delayType": delay_type,
            "delayedRecipients": [
                {"emailAddress": r, "status": status, "diagnosticCode": diagnostic}
                for r in recipients
            ],
            "reportingMTA": mta,
        },
    }
    if expires is not None:
        body["deliveryDelay"]["expirationTime"] = iso(expires)
    return body


def bounce(
    recipients: list[str],
    *,
    at: float = T0,
    kind: str = "Permanent",
    subkind: str = "General",
    message_id: str | None = None,
    tags: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """A Bounce event."""
    return {
        "eventType": "Bounce",
        "mail": mail(recipients, sent=at - 60, message_id=message_id, tags=tags),
        "bounce": {
            "bounceType": kind,
            "bounceSubType": subkind,
            "bouncedRecipients": [
                {
                    "emailAddress": r,
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
                for r in recipients
            ],
            "timestamp": iso(at),
            "feedbackId": "0100-feedback",
            "reportingMTA": "dsn; mta.example.com",
        },
    }


def complaint(recipients: list[str], *, at: float = T0) -> dict[str, Any]:
    """A Complaint event."""
    return {
        "eventType": "Complaint",
        "mail": mail(recipients, sent=at - 3600),
        "complaint": {
            "complainedRecipients": [{"emailAddress": r} for r in recipients],
            "timestamp": iso(at),
            "feedbackId": "0100-feedback",
            "complaintFeedbackType": "abuse",
        },
    }


def simple(event_type: str, recipients: list[str], *, at: float = T0) -> dict[str, Any]:
    """Send, Reject, Open, Click, Rendering Failure, Subscription, or an unknown type."""
    body: dict[str, Any] = {"eventType": event_type, "mail": mail(recipients, sent=at)}
    key = {
        "Send": "send",
        "Reject": "reject",
        "Open": "open",
        "Click": "click",
        "Rendering Failure": "failure",
        "Subscription": "subscription",
    }.get(event_type)
    if key == "reject":
        body["reject"] = {"reason": "Bad content"}
    elif key == "failure":
        body["failure"] = {"errorMessage": "Attribute 'name' is not present", "templateName": "T"}
    elif key in ("open", "click", "subscription"):
        body[key] = {"timestamp": iso(at + 30), "ipAddress": "192.0.2.1", "userAgent": "UA"}
    elif key == "send":
        body["send"] = {}
    return body


def legacy(event: dict[str, Any]) -> dict[str, Any]:
    """The same event as a legacy identity notification (``notificationType``)."""
    out = dict(event)
    out["notificationType"] = out.pop("eventType")
    return out


def sns(event: dict[str, Any] | str, *, as_object: bool = False) -> str:
    """An SNS notification envelope (``Message`` a JSON string unless ``as_object``)."""
    message: Any = event if (as_object or isinstance(event, str)) else json.dumps(event)
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": f"sns-{next(_ids)}",
            "TopicArn": "arn:aws:sns:eu-west-1:123456789012:ses-events",
            "Message": message,
            "Timestamp": "2027-01-15T08:00:00.000Z",
            "SignatureVersion": "1",
            "Signature": "EXAMPLE",
        }
    )


_DETAIL_TYPES = {
    "Delivery": "Email Delivered",
    "DeliveryDelay": "Email Delivery Delayed",
    "Bounce": "Email Bounced",
    "Complaint": "Email Complaint Received",
    "Send": "Email Sent",
    "Reject": "Email Rejected",
    "Open": "Email Opened",
    "Click": "Email Clicked",
    "Rendering Failure": "Email Rendering Failed",
    "Subscription": "Email Subscribed",
}


def eventbridge(event: dict[str, Any], detail_type: str | None = None) -> str:
    """An EventBridge event from ``aws.ses``."""
    kind = event.get("eventType") if isinstance(event, dict) else None
    named = _DETAIL_TYPES.get(kind, "Email X") if isinstance(kind, str) else "Email X"
    return json.dumps(
        {
            "version": "0",
            "id": f"eb-{next(_ids)}",
            "detail-type": detail_type or named,
            "source": "aws.ses",
            "account": "123456789012",
            "time": "2027-01-15T08:00:00Z",
            "region": "eu-west-1",
            "resources": [],
            "detail": event,
        }
    )


def raw(event: dict[str, Any]) -> str:
    """SNS raw message delivery: the event itself."""
    return json.dumps(event)
