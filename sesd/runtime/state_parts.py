"""The state file's webhook notifications and PagerDuty pages a stop left part-sent
(key ``part_sent``: sesd.alerting.part_saved says why and what), read back at a restart.

Each goes on in its sink's outbox where it was left, so its alerts are that sink's: a
firing among them counts as taken by it (key ``heard``), a resolve as not owed it (key
``retired``); the other sinks are owed what they were. Only where the file saved them
so (the same incident, by its start): the file's alerts are read first, each as
sesd.runtime.state_alerts says. An entry that does not read (a flipped byte, a
hand's edit; an ``id`` or ``at`` not as sesd writes them, which the receiver would be
sent; a page's with one, or parts not one event each) is skipped, counted, and its
alerts go again whole, as a build that did not save it sent them; so too one to
another URL, key or sink (a sink retyped since: not counted, the file is sound), or
past ``notification_max_age`` of its first try.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Final

import msgspec

from sesd.alerting.alert import Notification
from sesd.alerting.changes import Retired
from sesd.alerting.documents import Made
from sesd.alerting.part_saved import (
    MOST_SAVED,
    MOST_SAVED_BYTES,
    Resumed,
    SavedPart,
    config_digest,
)
from sesd.alerting.rules import AlertState, Status, Transition
from sesd.alerting.sinks import Permanent
from sesd.config import AlertsConfig, PagerDutyConfig
from sesd.core.text import clean
from sesd.runtime.state_alerts import clocked

__all__ = ["read_parts", "taken"]

#: The most characters of a refusal's text (and of its hint) read back: sesd's own are
#: a line; a damaged file's are a stranger's text.
_REFUSAL_CHARS: Final = 1000
#: A part's ``id`` and ``at`` as sesd writes them (sesd.alerting.documents): they go to
#: the receiver as read, and a damaged file's are a stranger's text.
_ID: Final = re.compile(r"[0-9a-f]{16}")
_AT: Final = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z", re.ASCII)


def read_parts(
    data: dict[str, Any], config: AlertsConfig, saved_at: float, now: float, step: float
) -> tuple[list[Resumed], int]:
    """The part-sent notifications the file ``data`` keeps that go on at this start
    (``config``'s webhook of the same name and URL, or PagerDuty sink of the same name,
    URL and key, younger than its age limit), their times moved ``step`` seconds; and
    how many entries did not read."""
    saved = data.get("part_sent", [])
    if not isinstance(saved, list):
        return [], 1
    sinks = config.named_sinks()
    urls = {name: url for name, sink in sinks.items() if (url := config_digest(sink)) is not None}
    pagers = {name for name, sink in sinks.items() if isinstance(sink, PagerDutyConfig)}
    found: list[Resumed] = []
    skipped, room, count = 0, MOST_SAVED_BYTES, dict.fromkeys(urls, 0)
    for entry in saved:
        size = len(msgspec.msgpack.encode(entry))
        part = _part(entry) if size <= room else None
        if part is None:
            skipped += 1
            continue
        room -= size
        age = part.age + max(0.0, now - saved_at)  # the downtime counts
        if urls.get(part.sink) != part.url or count[part.sink] == MOST_SAVED:
            continue  # another receiver, or none: its alerts go whole, as before
        if _paged(part) != (part.sink in pagers):
            skipped += 1  # a page to a webhook's URL, or the converse: damaged
            continue
        if age > config.notification_max_age.seconds:
            continue  # its receiver gave it up
        count[part.sink] += 1
        found.append(_resumed(part, age, now, step))
    return found, skipped


def _part(entry: Any) -> SavedPart | None:
    """``entry`` as a part-sent notification, or None when it does not read as one: a
    webhook's, or a PagerDuty page (one event a part, no ``id`` nor ``at``). Which is
    its sink's now is read after its receiver: one the config retyped since is to
    another receiver, not damaged."""
    try:
        part = msgspec.convert(entry, SavedPart)
    except msgspec.ValidationError:
        return None
    ends = part.ends
    if (
        not ends
        or any(end <= start for start, end in zip((0, *ends), ends, strict=False))
        or ends[-1] != len(part.alerts)
        or not 0 <= part.next < len(ends)
        or len(part.refused) > part.next
        or not (_made(part) or _paged(part))
        or not (math.isfinite(part.age) and part.age >= 0)
    ):
        return None
    return part


def _made(part: SavedPart) -> bool:
    """Whether a webhook notification's ``id`` and ``at`` are as sesd writes them."""
    return bool(_ID.fullmatch(part.id) and _AT.fullmatch(part.made_at))


def _paged(part: SavedPart) -> bool:
    """Whether a PagerDuty page reads as sesd saves one: an event a part, nothing made."""
    return part.ends == tuple(range(1, len(part.alerts) + 1)) and not (part.id or part.made_at)


def _resumed(part: SavedPart, age: float, now: float, step: float) -> Resumed:
    """``part`` as the restart goes on with it, its times moved ``step`` seconds (read as
    ``now`` where no clock tells them, as an alert state's)."""
    alerts = tuple(
        replace(a, at=clocked(a.at, now, step), since=clocked(a.since, now, step))
        for a in part.alerts
    )
    # The mute lines as saved, which a stop before the outboxes open saves again: the
    # outbox that goes on with it gives it the config's (sesd.alerting.sink_outboxes).
    notification = Notification(
        part.rule, part.kind, part.severity, part.sinks, alerts, clocked(part.at, now, step),
        part.silence, part.mutes,
    )  # fmt: skip
    made = Made(part.ends, part.made_at, part.id) if part.id else None
    refused = [
        Permanent(clean(text, _REFUSAL_CHARS), clean(hint, _REFUSAL_CHARS))
        for text, hint in part.refused
    ]
    return Resumed(part.sink, notification, (part.next, made), refused, age, part.url, now)


def taken(
    resumed: Iterable[Resumed],
    states: Mapping[str, Mapping[str, AlertState]],
    heard: dict[tuple[str, str], list[str]],
    retired: Sequence[Retired],
) -> list[Retired]:
    """Take each of ``resumed``'s alerts as its sink's: a firing the file keeps as not
    sent (``states``) as heard by that sink (``heard``, changed in place), a resolve
    owed as not owed it; returns ``retired`` so narrowed."""
    ended: dict[str, set[tuple[str, str, float]]] = {}
    for each in resumed:
        notification = each.notification
        for alert in notification.alerts:
            key = (notification.rule, alert.domain)
            if notification.kind is Transition.RESOLVED:
                ended.setdefault(each.sink, set()).add((*key, alert.since))
                continue
            state = states.get(key[0], {}).get(key[1])
            if (
                notification.kind is Transition.FIRING
                and state is not None
                and state.status is Status.FIRING
                and not state.notified
                and state.since == alert.since
            ):
                took = heard.setdefault(key, [])
                if each.sink not in took:
                    took.append(each.sink)
    return [narrowed for entry in retired for narrowed in _narrowed(entry, ended)]


def _narrowed(entry: Retired, ended: dict[str, set[tuple[str, str, float]]]) -> list[Retired]:
    """``entry`` (resolves owed under one rule), those of its labels a sink goes on with
    kept apart under the rule narrowed to the other sinks (none left: not kept)."""
    rule, states, note = entry
    by_sinks: dict[tuple[str, ...], dict[str, AlertState]] = {}
    for label, state in states.items():
        key = (rule.name, label, state.since)
        sinks = tuple(sink for sink in rule.sinks if key not in ended.get(sink, ()))
        by_sinks.setdefault(sinks, {})[label] = state
    if list(by_sinks) == [tuple(rule.sinks)]:
        return [entry]
    return [
        (msgspec.structs.replace(rule, sinks=list(sinks)), part, note)
        for sinks, part in by_sinks.items()
        if sinks
    ]
