"""Synthetic SES traffic for ``sesd demo``: realistic bodies, a delay spike on one domain.

Pure: the caller passes the time and a seeded random generator. Addresses are
made up (``user123@...``); bodies come in all three forms SES uses (SNS
envelope, raw, EventBridge).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec

__all__ = ["DOMAINS", "SPIKE_DOMAIN", "TENANTS", "Traffic", "canary_events", "tenant_status_event"]

#: Domain and share of traffic.
DOMAINS: dict[str, float] = {
    "gmail.com": 0.34,
    "outlook.com": 0.14,
    "hotmail.com": 0.08,
    "yahoo.com": 0.12,
    "icloud.com": 0.08,
    "aol.com": 0.04,
    "comcast.net": 0.04,
    "gmx.de": 0.04,
    "web.de": 0.03,
    "orange.fr": 0.03,
    "proton.me": 0.03,
    "example.org": 0.03,
    # Company domains, whose provider the demo's DNS gives (sesd.demo.localdns).
    "contoso.example": 0.03,
    "initech.example": 0.02,
    "fabrikam.example": 0.02,
}
SPIKE_DOMAIN = "outlook.com"
#: SES tenants and their share of traffic: each email is sent for one of them.
TENANTS: dict[str, float] = {"acme": 0.6, "globex": 0.3, "initech": 0.1}
_REGION = "us-east-1"
_ACCOUNT = "123456789012"
_SOURCE_ARN = f"arn:aws:ses:{_REGION}:{_ACCOUNT}:identity/example.com"


@dataclass(frozen=True, slots=True)
class Phase:
    """Where in the cycle the demo is: before, during or after the spike."""

    spiking: bool
    #: Seconds since the latest spike began (a cycle begins with its spike; before the
    #: first, since one a cycle earlier would have).
    seconds_into_cycle: float


class Traffic:
    """Generates bodies; the spike, ``spike_start`` seconds in, lasts ``spike`` seconds
    and comes again every ``cycle`` seconds."""

    def __init__(
        self,
        rng: random.Random,
        *,
        cycle: float = 180.0,
        spike_start: float = 30.0,
        spike: float = 75.0,
        delay_share: float = 0.45,
    ) -> None:
        self._rng = rng
        self._cycle = cycle
        self._spike_start = spike_start
        self._spike = spike
        self._delay_share = delay_share
        self._names = list(DOMAINS)
        self._weights = list(DOMAINS.values())
        self._delayed: list[tuple[float, dict[str, object], str]] = []

    def phase(self, elapsed: float) -> Phase:
        """The phase ``elapsed`` seconds after the demo started: the first spike at
        ``spike_start``, then one every ``cycle`` after it. Counted from the start
        instead, a spike asked for later in the cycle (``--spike-after 200``) never
        came, and one asked for 120 s in was cut short at 180 s."""
        into = (elapsed - self._spike_start) % self._cycle
        return Phase(elapsed >= self._spike_start and into < self._spike, into)

    def bodies(self, now: float, elapsed: float, count: int) -> list[str]:
        """``count`` new messages' bodies (each one's Send event, then what became of
        it), plus deliveries of earlier delays now due."""
        out = [
            self._resolve(mail, address, now) for due, mail, address in self._delayed if due <= now
        ]
        self._delayed = [entry for entry in self._delayed if entry[0] > now]
        spiking = self.phase(elapsed).spiking
        for _ in range(count):
            domain = self._rng.choices(self._names, self._weights)[0]
            address = f"user{self._rng.randrange(100_000)}@{domain}"
            sent = now - self._rng.uniform(0.5, 3.0)
            mail = _mail(sent, address, self._rng)
            # SES's Send event, as a configuration set that publishes it sends: without
            # it a domain's page counted nothing sent, and no delivery ratio.
            out.append(_wrap(self._rng, {"eventType": "Send", "mail": mail, "send": {}}))
            roll = self._rng.random()
            if spiking and domain == SPIKE_DOMAIN and roll < self._delay_share:
                out.append(self._delay(mail, address, now))
                self._delayed.append((now + self._rng.uniform(20, 90), mail, address))
            elif roll < 0.015:
                out.append(_wrap(self._rng, _bounce(mail, address, now)))
            elif roll < 0.017:
                out.append(_wrap(self._rng, _complaint(mail, address, now)))
            else:
                processing = (now - sent) * 1000
                out.append(_wrap(self._rng, _delivery(mail, address, now, processing)))
        return out

    def _delay(self, mail: dict[str, object], address: str, now: float) -> str:
        event: dict[str, object] = {
            "eventType": "DeliveryDelay",
            "mail": mail,
            "deliveryDelay": {
                "timestamp": _iso(now),
                "delayType": "RecipientServerError",
                "expirationTime": _iso(now + 6 * 3600),
                "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com",
                "delayedRecipients": [
                    {
                        "emailAddress": address,
                        "status": "4.7.650",
                        # Microsoft's published text for its reputation throttle.
                        "diagnosticCode": "smtp; 451 4.7.650 The mail server [192.0.2.10] "
                        "has been temporarily rate limited due to IP reputation.",
                    }
                ],
            },
        }
        return _wrap(self._rng, event)

    def _resolve(self, mail: dict[str, object], address: str, now: float) -> str:
        sent = datetime.fromisoformat(str(mail["timestamp"]).replace("Z", "+00:00")).timestamp()
        return _wrap(self._rng, _delivery(mail, address, now, (now - sent) * 1000))


def canary_events(
    message_id: str, address: str, sent: float, now: float, tags: dict[str, list[str]]
) -> list[str]:
    """What SES publishes for a canary sent at ``sent`` and delivered at ``now``: its Send
    and Delivery events (raw), carrying the message's id and tags."""
    mail: dict[str, object] = {
        "timestamp": _iso(sent),
        "source": "canary@example.com",
        "sourceArn": _SOURCE_ARN,
        "sendingAccountId": _ACCOUNT,
        "messageId": message_id,
        "destination": [address],
        "tags": tags,
    }
    send = {"eventType": "Send", "mail": mail, "send": {}}
    delivered = _delivery(mail, address, now, (now - sent) * 1000 * 0.8)
    return [msgspec.json.encode(event).decode() for event in (send, delivered)]


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _mail(sent: float, address: str, rng: random.Random) -> dict[str, object]:
    mail: dict[str, object] = {
        "timestamp": _iso(sent),
        "source": "notifications@example.com",
        "sourceArn": _SOURCE_ARN,
        "sendingAccountId": _ACCOUNT,
        "messageId": f"0100{uuid.UUID(int=rng.getrandbits(128)).hex}-000000",
        "destination": [address],
        "tags": {
            "ses:configuration-set": ["sesd-demo"],
            "campaign": ["newsletter"],
            "ses:tenant-name": rng.choices(list(TENANTS), list(TENANTS.values())),
        },
    }
    return mail


def tenant_status_event(tenant: str, status: str, cause: str, at: float) -> str:
    """SES's EventBridge event for a tenant's new sending status (``DISABLED``: paused
    by SES's reputation policy; ``ENABLED``)."""
    arn = f"arn:aws:ses:{_REGION}:{_ACCOUNT}:tenant/{tenant}/tn-{tenant}"
    when = datetime.fromtimestamp(at, UTC)
    return msgspec.json.encode(
        {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": f"Sending Status {'Disabled' if status == 'DISABLED' else 'Enabled'}",
            "source": "aws.ses",
            "account": _ACCOUNT,
            "time": _iso(at),
            "region": _REGION,
            "resources": [arn],
            "detail": {
                "version": "1.0.0",
                "data": {
                    "origin": "AWS_MANAGED",
                    "record": {
                        "status": status,
                        "cause": cause,
                        "lastUpdatedTimestamp": [
                            when.year,
                            when.month,
                            when.day,
                            when.hour,
                            when.minute,
                            when.second,
                            when.microsecond * 1000,
                        ],
                    },
                },
            },
        }
    ).decode()


def _delivery(mail: dict[str, object], address: str, now: float, ms: float) -> dict[str, object]:
    return {
        "eventType": "Delivery",
        "mail": mail,
        "delivery": {
            "timestamp": _iso(now),
            "processingTimeMillis": int(ms),
            "recipients": [address],
            "smtpResponse": "250 2.0.0 OK",
            "reportingMTA": "a8-70.smtp-out.amazonses.com",
        },
    }


def _bounce(mail: dict[str, object], address: str, now: float) -> dict[str, object]:
    return {
        "eventType": "Bounce",
        "mail": mail,
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "timestamp": _iso(now),
            "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com",
            "bouncedRecipients": [
                {
                    "emailAddress": address,
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
            ],
        },
    }


def _complaint(mail: dict[str, object], address: str, now: float) -> dict[str, object]:
    return {
        "eventType": "Complaint",
        "mail": mail,
        "complaint": {
            "timestamp": _iso(now),
            "complainedRecipients": [{"emailAddress": address}],
            "complaintFeedbackType": "abuse",
        },
    }


def _wrap(rng: random.Random, event: dict[str, object]) -> str:
    """Most traffic as SNS envelopes, some raw, some through EventBridge."""
    roll = rng.random()
    if roll < 0.7:
        return msgspec.json.encode(
            {
                "Type": "Notification",
                "MessageId": str(uuid.UUID(int=rng.getrandbits(128))),
                "TopicArn": f"arn:aws:sns:{_REGION}:{_ACCOUNT}:ses-events",
                "Message": msgspec.json.encode(event).decode(),
            }
        ).decode()
    if roll < 0.9:
        return msgspec.json.encode(event).decode()
    names = {
        "Send": "Email Sent",
        "Delivery": "Email Delivered",
        "DeliveryDelay": "Email Delivery Delayed",
        "Bounce": "Email Bounced",
        "Complaint": "Email Complaint Received",
    }
    return msgspec.json.encode(
        {
            "version": "0",
            "id": str(uuid.UUID(int=rng.getrandbits(128))),
            "detail-type": names[str(event["eventType"])],
            "source": "aws.ses",
            "account": _ACCOUNT,
            "region": _REGION,
            "detail": event,
        }
    ).decode()
