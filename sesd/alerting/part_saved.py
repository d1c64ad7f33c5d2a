"""What the state file keeps of a webhook notification or a PagerDuty page a stop left
part-sent, and how the restart goes on with it.

A receiver gathers a notification's parts by its ``id`` (sesd.alerting.documents).
Saved as not sent, one a stop left part-sent (the drain's time up during a post, or
while it waited out a failure) went again whole after the restart: another ``id`` and
``at``, its alerts perhaps in other parts, the parts the receiver took among them. A
receiver gathering by ``id`` had a second notification of the same alerts, and the
first never whole. So the file keeps each such one as it was made (its alerts, its
parts, ``at`` and ``id``), where it goes on from (the first part not taken: one whose
answer the stop cut is posted again, the same ``id`` and part) and its age; the
restart queues it in its sink's outbox, begun, to go on from there.

A PagerDuty page (one event per alert) is kept the same way, its events as its parts
(no ``id`` or ``at`` of its own: each event's ``dedup_key`` is its alert's), once an
event of it was taken or refused: before, nothing of it is PagerDuty's, and it is owed
whole, as a firing not begun is (its ``group_wait``, a silence added since). Saved as
not sent, one a stop left part-sent went again whole: a trigger PagerDuty had taken
again, which opens a second incident, and pages, where the on-call resolved the first
by hand meanwhile; and the events of a wide page, taken at 120 a minute, spent again.

Only to the same receiver: the sink of the same name and type, to the same URL (and
for PagerDuty the same routing key; the file keeps a digest of them, not them: a
webhook URL's path may be a secret, a routing key is one). Not one past
``notification_max_age`` since its first try, the downtime counted, and the start's
time until its outbox opens: its receiver gave it up, and its alerts go again whole, as
before (one that passes it during the start goes whole to its sink). Nor a webhook's
whose parts not taken would go past MOST_BODY_BYTES as this build makes them (cut by
an earlier build, whose documents had no ``host``, for a narrower envelope): a gateway
at that bound would refuse them, and it goes whole too. Its alerts stay
saved as not sent to that sink too, as earlier builds kept them: a build that does not
read this key sends them again whole, as it did, and loses nothing; this one takes them
as that sink's (sesd.runtime.state_parts).

Bounded: of each sink, the first :data:`MOST_SAVED` begun, in the order its outbox
delivers (those a restart restored and has not queued yet first), and
:data:`MOST_SAVED_BYTES` of them all (a 500-domain incident takes about 0.7 MB; one of
strangers' longest texts, 30); those past it go again whole. A file's are read to the
same bounds.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Iterable
from typing import Final, NamedTuple

import msgspec

from sesd.alerting.alert import Alert, Notification, with_alerts
from sesd.alerting.documents import Made
from sesd.alerting.outbox import Outbox
from sesd.alerting.rules import Transition
from sesd.alerting.sinks import PagerDutySink, Permanent
from sesd.alerting.webhook import WebhookSink
from sesd.config import PagerDutyConfig, SinkConfig, WebhookConfig

__all__ = [
    "MOST_SAVED",
    "MOST_SAVED_BYTES",
    "Resumed",
    "SavedPart",
    "config_digest",
    "resume",
    "saved_parts",
    "url_digest",
]

#: The most part-sent notifications kept of one sink: an outbox delivers one at a time,
#: with a few stepped aside for more urgent ones.
MOST_SAVED: Final = 8
#: The most bytes the part-sent notifications of every sink take in the file together.
MOST_SAVED_BYTES: Final = 8 << 20


class SavedPart(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """A part-sent notification as the file keeps it (a map: a later build may add
    keys, which this one ignores)."""

    sink: str
    #: :func:`url_digest` of the URL it was posted to.
    url: str
    rule: str
    kind: Transition
    severity: str
    sinks: tuple[str, ...]
    at: float
    silence: str
    mutes: tuple[tuple[str, str], ...]
    alerts: tuple[Alert, ...]
    #: How its parts were made (sesd.alerting.documents.Made); a PagerDuty page's parts
    #: are its events, one an alert, and it has no ``made_at`` nor ``id`` (empty).
    ends: tuple[int, ...]
    made_at: str
    id: str
    #: The first part not taken (0-based).
    next: int
    #: The refusals for good of its parts before ``next``: their text and hint.
    refused: tuple[tuple[str, str], ...]
    #: Seconds since its first try, at the save.
    age: float


class Resumed(NamedTuple):
    """A part-sent notification a restart goes on with, in the sink named ``sink``."""

    sink: str
    notification: Notification
    #: Its next part and how its parts were made, as a webhook sink keeps them (a
    #: PagerDuty page's: its next event, and None).
    progress: tuple[int, Made | None]
    refused: list[Permanent]
    #: Seconds since its first try (its notification_max_age runs on), at ``read``.
    age: float
    #: :func:`url_digest` of its sink's URL: a save before its outbox opens (a second
    #: stop signal during the start) keeps it again as read.
    url: str
    #: When (the alerting's clock) the file was read: its age runs on from there while
    #: the start goes on (its queues opened, credentials asked for) until its outbox opens.
    read: float

    def aged(self, now: float) -> float:
        """Seconds since its first try at ``now``: its age at :attr:`read` and the time
        since (none where the clock reads behind it)."""
        return self.age + max(0.0, now - self.read)


def url_digest(url: str) -> str:
    """What the file keeps of a webhook's URL: enough to tell it from another, not it."""
    return hashlib.sha256(url.encode()).hexdigest()[:32]


def _service_digest(events_url: str, routing_key: str) -> str:
    """What the file keeps of where a PagerDuty sink posts: its URL and key, digested
    (a space is in neither: no other pair reads the same)."""
    return url_digest(f"pagerduty {events_url} {routing_key}")


def config_digest(config: SinkConfig) -> str | None:
    """The digest a sink so configured keeps its part-sent notifications under; None for
    a sink that keeps none (it posts a notification in one request)."""
    if isinstance(config, WebhookConfig):
        return url_digest(config.url.get())
    if isinstance(config, PagerDutyConfig):
        return _service_digest(config.events_url, config.routing_key.get())
    return None


def resume(outbox: Outbox, each: Resumed, age: float) -> bool:
    """Go on with ``each`` in ``outbox`` (its sink's), first tried ``age`` seconds ago;
    False where that sink keeps no part-sent notification of its kind, or would send
    this one's parts past their bound (sesd.alerting.webhook.WebhookSink.resume)."""
    sink, (next_part, made) = outbox.sink, each.progress
    if isinstance(sink, WebhookSink) and made is not None:
        if not sink.resume(each.notification, (next_part, made), each.refused):
            return False
    elif isinstance(sink, PagerDutySink) and made is None:
        sink.resume(each.notification, next_part, each.refused)
    else:
        return False
    outbox.resume(each.notification, age)
    return True


#: A part-sent notification to save: its sink, digest, progress, refusals and age.
_Held = tuple[str, str, Notification, tuple[int, Made | None], list[Permanent], float]


def _begun(outbox: Outbox) -> list[_Held]:
    """The notifications part-sent in ``outbox`` (sink, digest, notification, progress,
    refused, age), in the order it delivers them."""
    sink, found = outbox.sink, list[_Held]()
    for notification in outbox.unsent():
        age = outbox.age(notification)
        place: tuple[int, Made | None]
        if isinstance(sink, WebhookSink):
            progress = sink.progress(notification)
            if progress is None:
                continue
            place, refused, digest = progress[0], progress[1], url_digest(sink.url)
        elif isinstance(sink, PagerDutySink):
            begun = sink.progress(notification)
            if begun is None:
                continue
            (next_event, held), refused = begun
            # Kept without the triggers a silence held back: PagerDuty never had them,
            # and the restart would take them as its own (sesd.runtime.state_parts), not
            # paged when the silence ends; the file keeps them as not sent, as they are.
            kept = tuple(a for i, a in enumerate(notification.alerts) if i not in held)
            next_event -= len(held)  # each before it
            if not (next_event or refused):
                continue  # none of it taken: owed whole, as the rest, through its group
            if held:
                notification = with_alerts(notification, kept)
            place, digest = (next_event, None), _service_digest(*sink.place)
        else:
            return []
        if age is not None:
            found.append((sink.name, digest, notification, place, refused, age))
    return found


def saved_parts(
    outboxes: Iterable[Outbox], pending: Iterable[Resumed] = (), now: float = -math.inf
) -> list[SavedPart]:
    """The part-sent notifications of the webhook and PagerDuty sinks' ``outboxes``, as
    the file keeps them, to the bounds (the module's text); first those restored and not
    queued yet (``pending``: the outboxes not open), which go first in theirs, aged to
    ``now``."""
    held: list[_Held] = [
        (p.sink, p.url, p.notification, p.progress, p.refused, p.aged(now)) for p in pending
    ]
    for outbox in outboxes:
        held += _begun(outbox)
    found: list[SavedPart] = []
    room, kept = MOST_SAVED_BYTES, Counter[str]()
    for name, url, notification, (next_part, made), refused, age in held:
        if kept[name] == MOST_SAVED:
            continue
        # A page's parts are its events, one an alert.
        ends = made.ends if made else tuple(range(1, len(notification.alerts) + 1))
        saved = SavedPart(
            name, url, notification.rule, notification.kind, notification.severity,
            notification.sinks, notification.at, notification.silence, notification.mutes,
            notification.alerts, ends, made.at if made else "", made.id if made else "",
            next_part, tuple((str(e), e.hint) for e in refused), age,
        )  # fmt: skip
        size = len(msgspec.msgpack.encode(saved))
        if size <= room:
            found.append(saved)
            room, kept[name] = room - size, kept[name] + 1
    return found
