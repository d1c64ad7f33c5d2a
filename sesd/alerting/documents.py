"""Notifications as JSON for machines: Alertmanager's alerts and sesd's webhook schema.

Pure functions, like :mod:`sesd.alerting.render`.

* Alertmanager (``POST /api/v2/alerts``): one alert per (rule, domain), labelled
  ``alertname``, ``domain``, ``severity`` and the rule's own labels, and no
  replica label, so replicas that fire the same alert are folded into one.
  A firing alert carries ``endsAt`` a few resend periods ahead (as Prometheus
  does), so it resolves on its own if sesd stops sending it; a resolved one
  carries the time it resolved.
* The webhook: the document README describes, ``schema`` versioned
  (``sesd.webhook.v1``), signed when a secret is set; a notification too wide for
  one body goes as several whole documents, ``part`` of ``parts``.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, NamedTuple

import msgspec

from sesd.alerting.alert import Alert, Notification
from sesd.alerting.render import describe, details, headline
from sesd.alerting.rules import Transition
from sesd.config import CANARY_METRICS, TENANT_METRICS
from sesd.config.checks import GET_ACCOUNT_METRICS
from sesd.config.sink_checks import VALID_FOR_RESENDS
from sesd.core.scopes import ACCOUNT, DOMAIN, PROVIDER, TENANT
from sesd.core.timestamps import iso
from sesd.io.replica import MOST_NAME

__all__ = [
    "MOST_BODY_BYTES",
    "MOST_MOVED_BYTES",
    "SIGNATURE_HEADER",
    "VALID_FOR_RESENDS",
    "WEBHOOK_SCHEMA",
    "Made",
    "alertmanager_bodies",
    "alertmanager_documents",
    "fits",
    "sign",
    "webhook_document",
    "webhook_documents",
]

WEBHOOK_SCHEMA = "sesd.webhook.v1"
SIGNATURE_HEADER = "X-Sesd-Signature-256"
#: The most bytes of one body a sink posts: a webhook notification that would take
#: more goes as several documents (``part`` of ``parts``), Alertmanager's alerts as
#: several posts. nginx refuses a body over 1 MiB by default (``client_max_body_size``),
#: API gateways at a few MiB or less; an alert with its codes, MTAs and message ids
#: takes 1.5 to 4 KB, so 500 domains 0.8 to 2 MB. A quarter of nginx's keeps clear of
#: lower limits. The largest domain alert strangers' text can make (every breakdown
#: list full of 200 characters of 4-byte UTF-8) is about 60 KB; a tenant's notes take
#: about 7 KB for each account and region it is paused in.
MOST_BODY_BYTES = 256 * 1024
#: The most bytes an alert of a webhook document may gain between when its part is
#: cut and when the part is posted again (a retry, a restart's), a clock step measured
#: meanwhile having moved its ``since`` and ``at`` (sesd.alerting.clock_steps). Each
#: time on a whole second gains its microseconds, 7 bytes (``iso`` writes none when
#: they are zero). The two sums, each rounded to a float, may put how long it has
#: fired across a second: a firing told just under a second after it fired is told a
#: second after, and gains its ``firing_for`` fact and its description's line of how
#: long and since when (a span of 59s written 1m00s widens each by 2 bytes only).
#: Nothing else of an alert changes: the rest is its rule's and strangers' text.
MOST_MOVED_BYTES = (
    2 * len(".000000")
    + len(',"firing_for":"1s"')
    + len("\\nfiring for 1s, since 2026-01-01 00:00:00Z")  # the newline as JSON writes it
)
#: What a shared sink's alerts say of their figures.
_SHARE = (
    "figures: one replica's share of the traffic (several replicas post this alert; "
    "the fleet's figures are on the dashboard)"
)
#: What a shared sink's canary alerts say: each replica sends and tracks its own.
_OWN_CANARY = "figures: this replica's own canary (several replicas post this alert)"
#: Metrics that are SES's answers to a poll, the same on every replica: no share.
_SES_SAYS = frozenset(GET_ACCOUNT_METRICS) | frozenset(TENANT_METRICS)


def alertmanager_documents(
    notification: Notification,
    resend_every: float,
    posted: float | None = None,
    *,
    shared: bool = False,
    host: str = "",
) -> list[dict[str, Any]]:
    """Every alert of the notification, as Alertmanager takes them. A
    firing alert is valid for VALID_FOR_RESENDS resend periods from when it is
    ``posted`` (a post delayed by retries must not arrive already ended: Alertmanager
    would resolve it, and fire it again at the next resend). The summary says no
    state (Alertmanager says it, and reuses the text for a resolve it sends itself);
    with ``shared`` (several replicas post the alert) the description says its
    figures are one replica's share of the traffic, or its own canary; not of what SES
    answered a poll, which every replica reads alike. The annotation ``host`` names the
    replica that posted it (the last one, of several)."""
    valid_from = notification.at if posted is None else max(notification.at, posted)
    out = []
    mutes = dict(notification.mutes)
    for alert in notification.alerts:
        mute = mutes.get(alert.domain, notification.silence)
        resolved = alert.kind is Transition.RESOLVED
        description = describe(alert)
        if shared and alert.metric not in _SES_SAYS:
            whose = _OWN_CANARY if alert.metric in CANARY_METRICS else _SHARE
            description = f"{whose}\n{description}"
        annotations = {"summary": headline(alert, state=False), "description": description}
        if alert.provider is not None:
            # Not a label: it may become known while the alert fires, and a label
            # that changes makes Alertmanager a second alert.
            annotations[PROVIDER] = alert.provider
        if alert.runbook_url:
            annotations["runbook_url"] = alert.runbook_url
        if alert.dashboard_url:
            annotations["dashboard_url"] = alert.dashboard_url
        if host:
            # Not a label: replicas that post the same alert must be folded into one.
            annotations["host"] = host
        if mute and not shared:
            # With shared, `sesd silence add` would mute one replica's file while the
            # others keep posting: the silence belongs in Alertmanager.
            annotations["mute"] = mute
        ends = alert.at if resolved else valid_from + VALID_FOR_RESENDS * resend_every
        out.append(
            {
                "labels": {
                    **alert.labels,
                    "alertname": alert.rule,
                    **_subject_labels(alert),
                    "severity": alert.severity,
                    # A receiver's route or silence can tell a test from a page.
                    **({"test": "true"} if alert.test else {}),
                },
                "annotations": annotations,
                # Never after its end: Alertmanager refuses such an alert (HTTP 400).
                "startsAt": iso(min(alert.since, ends)),
                "endsAt": iso(ends),
                "generatorURL": alert.dashboard_url or "",
            }
        )
    return out


def alertmanager_bodies(
    documents: list[dict[str, Any]], most: int = MOST_BODY_BYTES
) -> list[tuple[range, bytes]]:
    """``documents`` as the bodies of ``POST /api/v2/alerts``, in order: JSON arrays of
    as many as keep each within ``most`` bytes (one alone that does not fit goes alone),
    with where in ``documents`` each body's are. Alertmanager takes any number of alerts
    a post, each on its own, so a wide notification loses nothing split; as one body,
    a proxy in front would refuse it whole (413). No documents: one empty array."""
    encoded = [msgspec.json.encode(document) for document in documents]
    bodies, start = [], 0
    for end in _ends(len(b"[]"), [len(document) for document in encoded], most):
        bodies.append((range(start, end), b"[" + b",".join(encoded[start:end]) + b"]"))
        start = end
    return bodies


def _subject_labels(alert: Alert) -> dict[str, str]:
    """What the alert is about, as labels: ``domain``, ``provider``, or for an account
    rule ``account`` and ``region``."""
    if alert.scope == ACCOUNT:
        account, _, region = alert.domain.partition("/")
        return {"account": account, "region": region}
    return {alert.scope: alert.domain}


def _webhook_alert(alert: Alert, mute: str) -> dict[str, Any]:
    """An alert of the document; ``mute`` the line that mutes it alone ("": none)."""
    return {
        "rule": alert.rule,
        # What the alert is about, in the field of its kind (the others null), so a
        # receiver routes on a field: a rule on providers names a provider and no domain.
        "domain": alert.domain if alert.scope == DOMAIN else None,
        "provider": alert.domain if alert.scope == PROVIDER else None,
        "account": alert.domain if alert.scope == ACCOUNT else None,
        "tenant": alert.domain if alert.scope == TENANT else None,
        "state": alert.kind.value,
        "severity": alert.severity,
        "summary": headline(alert),
        "description": describe(alert),
        "since": iso(alert.since),
        "at": iso(alert.at),
        "runbook_url": alert.runbook_url,
        "dashboard_url": alert.dashboard_url,
        "labels": alert.labels,
        "details": details(alert),
        "mute": mute or None,
    }


class Made(NamedTuple):
    """How a notification's webhook documents were made: where each part's alerts end
    (the index after its last), and the ``at`` and ``id`` each part says. A retry
    makes the parts not taken yet so again: a clock step since moved the notification
    (its alerts' times), not what its parts say (a receiver gathers them by ``id``: the
    rest would be another notification's, whose first parts never come)."""

    ends: tuple[int, ...]
    at: str
    id: str


def webhook_documents(
    notification: Notification,
    made: Made | None = None,
    most: int = MOST_BODY_BYTES,
    *,
    host: str = "",
) -> tuple[Made, list[bytes]]:
    """The webhook bodies (schema ``sesd.webhook.v1``) of ``notification``, and how they
    were made. Each is a whole document with the notification's top-level fields,
    ``part`` (from 1) of ``parts``, and its share of the alerts, in order: as many as
    keep it within ``most`` bytes (one alone that does not fit goes alone), each alert
    counted as wide as a clock step can make it (MOST_MOVED_BYTES more) and ``host`` as
    long as a replica's name can be: a part posted again stays within the bound. ``made``
    (a retry's): as the parts made before, so that the ones not taken yet carry the same
    alerts, ``at`` and ``id``. ``host`` is the replica that sends it (sesd.io.replica):
    after its host was renamed, a sink a reload made anew names the new one, in the
    parts it posts again too.

    Each alert carries the line that mutes its own domain: a receiver making each alert
    a ticket of its own would offer the document's (``--domain '*'`` for several
    domains) to mute every domain."""
    mutes = dict(notification.mutes)
    alerts = [
        msgspec.json.encode(_webhook_alert(alert, mutes.get(alert.domain, notification.silence)))
        for alert in notification.alerts
    ]
    at = iso(notification.at) if made is None else made.at
    told = _webhook_id(notification, at) if made is None else made.id
    head: dict[str, Any] = {
        "schema": WEBHOOK_SCHEMA,
        "id": told,
        "kind": notification.kind.value,
        "rule": notification.rule,
        "severity": notification.severity,
        "at": at,
        # Which replica sent it: several on one queue each alert on their own share.
        "host": host,
        "mute": notification.silence or None,
        # `sesd send-test-alert`'s: a receiver that acts on alerts skips it by field.
        "test": any(alert.test for alert in notification.alerts),
    }
    if made is None:
        # The envelope with as many digits in part and parts as any part can have, and
        # the longest name a replica can have (only letters, digits and ".-_").
        most_parts = max(1, len(alerts))
        longest = host.ljust(MOST_NAME, "x")
        empty: dict[str, Any] = {**head, "host": longest, "part": most_parts,
                                 "parts": most_parts, "alerts": []}  # fmt: skip
        sizes = [len(a) + MOST_MOVED_BYTES for a in alerts]
        ends = _ends(len(msgspec.json.encode(empty)), sizes, most)
        made = Made(ends, at, told)
    bodies, start = [], 0
    for k, end in enumerate(made.ends):
        part = {"part": k + 1, "parts": len(made.ends)}
        raw = [msgspec.Raw(a) for a in alerts[start:end]]
        bodies.append(msgspec.json.encode({**head, **part, "alerts": raw}))
        start = end
    return made, bodies


def _webhook_id(notification: Notification, at: str) -> str:
    """The notification's ``id``: a digest of what tells it from any other (its rule,
    kind, sinks and time, its alerts' labels and since when each holds). Two of one rule
    and kind are made at the same time where an alert resolved and fired again within
    group_wait (sesd.alerting.grouping goes round the resolve: the two firings, of one
    alert alone, differ in its start), or where its alerts go to sets of sinks apart:
    told by ``rule``, ``kind`` and ``at``, a receiver took the second for the first."""
    what = [notification.rule, notification.kind.value, notification.sinks, at]
    alerts = [(alert.domain, iso(alert.since)) for alert in notification.alerts]
    return hashlib.sha256(msgspec.json.encode([*what, alerts])).hexdigest()[:16]


def _ends(envelope: int, sizes: list[int], most: int) -> tuple[int, ...]:
    """Where each part's alerts end: alerts of ``sizes`` bytes in order, each part's as
    many as fit within ``most`` bytes with its ``envelope`` (at least one)."""
    ends, size, first = [], envelope, 0
    for i, alert in enumerate(sizes):
        if i > first and size + 1 + alert > most:  # with the comma before it
            ends.append(i)
            size, first = envelope, i
        size += alert + (i > first)  # a comma before each alert but a part's first
    ends.append(len(sizes))
    return tuple(ends)


def fits(made: Made, bodies: list[bytes], start: int = 0, most: int = MOST_BODY_BYTES) -> bool:
    """Whether each of ``bodies`` (made as ``made`` says) from part ``start`` on keeps
    within ``most`` bytes, or holds one alert alone (which goes alone, as
    :func:`webhook_documents` makes it). Parts an earlier build cut (its envelope had no
    ``host``; it kept no room for a longer name or a clock step; its text was
    another) may not."""
    firsts = (0, *made.ends[:-1])
    return all(
        len(body) <= most or end - first == 1
        for first, end, body in list(zip(firsts, made.ends, bodies, strict=True))[start:]
    )


def webhook_document(notification: Notification, host: str = "") -> bytes:
    """The webhook body of a notification that goes as one document (within
    MOST_BODY_BYTES: a test alert's, a narrow incident's)."""
    _, bodies = webhook_documents(notification, host=host)
    if len(bodies) != 1:
        raise ValueError(f"the notification goes as {len(bodies)} documents")
    return bodies[0]


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
