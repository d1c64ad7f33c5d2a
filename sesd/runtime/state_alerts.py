"""The state file's alert states, and the resolves it keeps owed (key ``retired``:
sesd.alerting.retiring says which and why).

A resolve not delivered is owed to the sinks that had not taken it, under the rule as
it was made (its labels, its severity). Saved among the rule's own states, as an
alert still firing, the restart would resolve it again on the rule's sinks as
configured: one that had it would be told twice, one named since told of an alert it
never had, one the rule no longer names never told. So each is saved apart: the rule
as the resolve was made (the sinks owed it named), the labels owed, and why they
resolved; the restart queues each resolve again to those sinks alone
(sesd.alerting.evaluator.Evaluator.adopt). The key's name is the first such
resolves': those a reload owed a sink it took off a rule. A file from an earlier
build keeps the others among the rule's states, firing: the first evaluation after
the restart resolves them on the rule's sinks, as that build did.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from sesd.alerting.changes import Retired
from sesd.alerting.retiring import Retiring
from sesd.alerting.rules import AlertState, Status
from sesd.config import rule_of, saved_rule
from sesd.core.text import clean

__all__ = ["alert_states", "read_retired", "saved_retired"]


def saved_retired(retired: Iterable[Retiring]) -> list[list[Any]]:
    """``retired`` as the file keeps it: [rule, {label: state}, why] for each rule as
    the resolves were made (the sinks owed them named) and reason, each alert saved as
    firing and sent."""
    entries: dict[bytes, list[Any]] = {}
    for rule, alert in retired:
        saved, note = saved_rule(rule), "; ".join(alert.notes)
        entry = entries.setdefault(msgspec.msgpack.encode([saved, note]), [saved, {}, note])
        since, at = alert.since, alert.at
        entry[1][alert.domain] = [Status.FIRING.value, since, at, alert.value, at, True]
    return list(entries.values())


def read_retired(data: dict[str, Any]) -> tuple[list[Retired], dict[str, list[str]]]:
    """The resolves the file ``data`` keeps owed, and the firing labels of those whose
    rule no longer reads as one (by its name, for a person: their incidents stay
    open). Anything else but what :func:`saved_retired` writes raises (a damaged
    file)."""
    saved = data.get("retired", [])
    if not isinstance(saved, list):
        raise TypeError("retired is not a list")
    found: list[Retired] = []
    unknown: dict[str, list[str]] = {}
    for described, rows, note in saved:
        if not isinstance(note, str) or not isinstance(described, dict):
            raise TypeError("a retired entry is not a rule, its states and a reason")
        states = alert_states({"": rows})[""]
        try:
            found.append((rule_of(described), states, note))
        except ValueError:
            name = clean(str(described.get("name")))
            unknown.setdefault(name, []).extend(sorted(clean(label) for label in states))
    return found, unknown


def alert_states(saved: dict[str, Any]) -> dict[str, dict[str, AlertState]]:
    """The saved alert states, by rule and label."""
    found: dict[str, dict[str, AlertState]] = {}
    for rule, states in saved.items():
        kept = found[str(rule)] = {}
        for domain, (status, since, last_sent, value, resolved_at, *notified) in states.items():
            # A file from before silences: every firing alert in it had been sent.
            kept[str(domain)] = AlertState(
                Status(status), since, last_sent, value, resolved_at, *(notified or [True])
            )
    return found
