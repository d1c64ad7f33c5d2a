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

A firing not delivered stays among the rule's states, as not notified (as every build
saved it: one that does not read further sends it to every sink the rule names, so
no page is lost), and key ``heard`` names the sinks of the rule that took it: the
restart sends it to the others alone (sesd.alerting.unheard). A file without the
key, from an earlier build, sends it to every sink, as that build did.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

import msgspec

from sesd.alerting.changes import Retired
from sesd.alerting.retiring import Retiring
from sesd.alerting.rules import AlertState, Status
from sesd.config import RuleConfig, rule_of, saved_rule
from sesd.core.text import clean

__all__ = ["alert_states", "read_heard", "read_retired", "saved_heard", "saved_retired"]


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


def saved_heard(
    alerts: dict[str, dict[str, list[Any]]],
    rules: Iterable[RuleConfig],
    *owing: Mapping[tuple[str, str], Collection[str]],
) -> dict[str, dict[str, list[str]]]:
    """Of the firings owed some sinks (rule, label -> those sinks, in each of
    ``owing``: restored ones not sent yet, those a stop left in the outboxes) whose
    alerts ``alerts`` (the rows saved) keeps firing: each saved as not notified, and
    the sinks of its rule (as in force, ``rules``) that took it, by rule and label."""
    by_name = {rule.name: rule for rule in rules}
    owed: dict[tuple[str, str], set[str]] = {}
    for each in owing:
        for key, sinks in each.items():
            owed.setdefault(key, set()).update(sinks)
    heard: dict[str, dict[str, list[str]]] = {}
    for (name, label), sinks in owed.items():
        rule, row = by_name.get(name), alerts.get(name, {}).get(label)
        if rule is None or row is None or row[0] != Status.FIRING.value:
            continue
        row[5] = False
        took = [sink for sink in rule.sinks if sink not in sinks]
        if took:
            heard.setdefault(name, {})[label] = took
    return heard


def read_heard(data: dict[str, Any]) -> dict[tuple[str, str], list[str]]:
    """The sinks that took each firing the file ``data`` keeps as not sent (none from
    an earlier build); anything else but what :func:`saved_heard` writes raises (a
    damaged file)."""
    saved = data.get("heard", {})
    if not isinstance(saved, dict):
        raise TypeError("heard is not a map")
    found: dict[tuple[str, str], list[str]] = {}
    for rule, labels in saved.items():
        for label, sinks in labels.items():
            if not isinstance(sinks, list) or not all(isinstance(s, str) for s in sinks):
                raise TypeError("heard holds sinks that are not a list of names")
            found[str(rule), str(label)] = sinks
    return found
