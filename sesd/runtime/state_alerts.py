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

A later build's file of this STATE_VERSION is read as far as this build knows it
(:func:`leading`; the ledger's stores unpack their rows likewise): a later build may
add a key to a map read by its keys' names (the document, a store's, a saved rule),
and an item after those a row has here (an alert state's, a resolve owed's, a
pending delay's, a canary's: every row of the file), each ignored here. What changes
the meaning of anything an earlier build reads (an item moved, removed or of another
type, a value read otherwise, the windows' encoding) takes a new STATE_VERSION: a
build of another sets the file aside whole. An entry of ``rules``, ``retired``,
``heard``, ``fired``, ``alerted``, ``canary_names`` or ``tenant_walks`` that does not
read (a flipped byte, a hand's edit) is skipped alone, counted (``entries_skipped`` in
``sesd.state.restored``), and the labels of a resolve owed named: without the entry
the restart does what an earlier build did (pages every sink; sends no resolve, for
a person to send by hand), where refusing the file would do it for every alert and
lose the windows. An alert state that does not read is the file's damage: the file
is refused whole (sesd.runtime.state says why).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from typing import Any, Final

import msgspec

from sesd.alerting.alert import Alert
from sesd.alerting.changes import Retired
from sesd.alerting.retiring import Retiring
from sesd.alerting.rules import AlertState, Status
from sesd.config import RuleConfig, rule_of, saved_rule
from sesd.core.text import clean

__all__ = [
    "MOST_STEP_BACK",
    "NOTE_CHARS",
    "alert_states",
    "clocked",
    "leading",
    "read_heard",
    "read_retired",
    "resolve_row",
    "saved_heard",
    "saved_retired",
    "stepped_back",
    "unread_alerted",
]

#: The last second a date is written in (9999-12-31T23:59:59Z).
_LATEST: Final = 253402300799.0
#: The values an alert state's status is saved as.
_STATUSES: Final = frozenset(status.value for status in Status)


#: The most of a saved resolve's note read back: sesd's own notes (a rule removed, or
#: changed, with what it was) are a line; a damaged file's are a stranger's text.
NOTE_CHARS: Final = 1000


def leading(entry: Any, size: int) -> list[Any] | None:
    """The first ``size`` items of an entry of the state file (items a later build
    added after them are not this build's to read), or None when it is no list or
    has fewer: damaged."""
    if not isinstance(entry, list) or len(entry) < size:
        return None
    return entry[:size]


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


def read_retired(
    data: dict[str, Any], now: float, step: float = 0.0
) -> tuple[list[Retired], dict[str, list[str]], int]:
    """The resolves the file ``data`` keeps owed; the labels of those that cannot be
    sent (their rule no longer reads as one, or their entry does not read), by rule,
    for a person: their incidents stay open; and how many entries did not read. Their
    times are moved ``step`` seconds, and one no clock tells is read as ``now``, as an
    alert state's (:func:`alert_states`): the resolve is still owed, and sent rather
    than left for a person. The note goes to every sink: it is read as event text is
    (escaped, bounded)."""
    saved = data.get("retired", [])
    if not isinstance(saved, list):
        return [], {}, 1
    found: list[Retired] = []
    unknown: dict[str, list[str]] = {}
    skipped = 0
    for entry in saved:
        head = leading(entry, 3)
        if head is None:
            skipped += 1
            items = [*entry, None, None] if isinstance(entry, list) else [None, None]
            _name(unknown, items[0], items[1])
            continue
        described, rows, note = head
        states = _states(rows)
        if not isinstance(described, dict) or states is None or not isinstance(note, str):
            skipped += 1
            _name(unknown, described, rows)
            continue
        _clock_all(states, now, step)
        try:
            found.append((rule_of(described), states, clean(note, NOTE_CHARS)))
        except ValueError:
            _name(unknown, described, rows)
    return found, unknown, skipped


def _name(unknown: dict[str, list[str]], described: Any, rows: Any) -> None:
    """The labels of resolves owed that will not be sent, under their rule's name, as
    far as they read (each: the line names as many as it holds, and counts the others)."""
    name = described.get("name") if isinstance(described, dict) else described
    shown = clean(name) if isinstance(name, str) else "(unnamed)"
    if isinstance(rows, dict) and rows:
        unknown.setdefault(shown, []).extend(sorted(clean(str(label)) for label in rows))


def alert_states(
    saved: dict[str, Any], now: float, step: float = 0.0
) -> dict[str, dict[str, AlertState]]:
    """The saved alert states, by rule and label, their times moved ``step`` seconds
    (:func:`stepped_back`); ValueError when one does not read. A time of one that no
    clock tells (a flipped byte in a float's exponent: not a number, infinite, before
    1970 or past year 9999) is read as ``now``, as a step reads a start ahead of its
    clock: read as saved, no sink's document of its page could be written (the page
    lost, and those grouped with it), and a last page at no time never fell due for
    its reminder."""
    found: dict[str, dict[str, AlertState]] = {}
    for rule, rows in saved.items():
        states = _states(rows)
        if states is None:
            raise ValueError(f"an alert state of rule {clean(str(rule))} does not read")
        _clock_all(states, now, step)
        found[str(rule)] = states
    return found


def _clock_all(states: dict[str, AlertState], now: float, step: float) -> None:
    """Each of ``states``' times :func:`clocked`, moved ``step`` seconds."""
    for state in states.values():
        state.since = clocked(state.since, now, step)
        state.last_sent = clocked(state.last_sent, now, step)
        if state.resolved_at is not None:
            state.resolved_at = clocked(state.resolved_at, now, step)


def clocked(at: float, now: float, step: float = 0.0) -> float:
    """``at`` moved ``step`` seconds, or ``now`` where it is no time a clock tells, or
    is moved to none (not a number, infinite, before 1970 or past year 9999: no date
    can be written of it). Such a time is set, not moved: moved, it is still none."""
    moved = at + step
    return moved if 0 <= at <= _LATEST and 0 <= moved <= _LATEST else now


#: The furthest a state file's save time may be ahead of the clock at a start for its
#: alert times to move back as far: a day, wider than any zone's offset (a host's clock
#: kept in local time is at most 14 h off). Further ahead, a damaged save time is the
#: likelier story than a step: moved by it, every alert would read decades old and a
#: pending ``for`` would end at once.
MOST_STEP_BACK: Final = 86_400.0


def stepped_back(saved_at: float, now: float) -> float:
    """How far the state file's alert times move at a start at ``now``: back by as much
    as the file was saved ahead of ``now`` (the wall clock stepped back while sesd was
    stopped, or the host started before NTP set it; nothing where it was not ahead). The
    times are the saving clock's: moved, an alert that had fired forty minutes at the
    save has fired forty minutes by this clock (its reminder says so, its startsAt is
    when it began on this clock), a pending ``for`` and a reminder's wait run on from
    where they were, and a resolve owed starts before it ends. Taken as ``now``, a
    forty-minute incident read "firing for 1s" and began its ``for`` again. The
    downtime is not known (the file tells how far the clock stepped, not when): taken
    as none, "firing for" reads short by it, not by the incident's whole age, and no
    timer ends early. A step sesd measures moves them likewise
    (sesd.alerting.clock_steps). A save time more than :data:`MOST_STEP_BACK` ahead
    moves nothing: its times ahead of the clock are taken as ``now``. A step ahead
    reads as downtime here; the boot's clock tells it on the boot that saved the file
    (sesd.runtime.boot_clock.stepped_while_stopped)."""
    ahead = saved_at - now
    return -ahead if 0.0 < ahead <= MOST_STEP_BACK else 0.0


def _states(rows: Any) -> dict[str, AlertState] | None:
    """Saved alert states by label, or None when the map or one of them does not read."""
    if not isinstance(rows, dict):
        return None
    states: dict[str, AlertState] = {}
    for label, row in rows.items():
        state = _state(row)
        if state is None:
            return None
        states[str(label)] = state
    return states


def _state(row: Any) -> AlertState | None:
    """An alert state as saved (a file from before silences, without the sixth item:
    every firing alert in it had been sent; one from before the seventh, held: none
    was), or None when it does not read."""
    head = leading(row, 5)
    if head is None:
        return None
    status, since, last_sent, value, resolved_at = head
    notified = row[5] if len(row) > 5 else True
    # Held by a window too thin to decide on (told what sesd last knew of it): an item
    # only a file of this build has, and only where it is so.
    held = len(row) > 6 and row[6] is True
    if (
        not isinstance(status, str)  # a list or a map is not even hashable
        or status not in _STATUSES
        or not (_number(since) and _number(last_sent))
        or not all(n is None or _number(n) for n in (value, resolved_at))
        or not isinstance(notified, bool)
    ):
        return None
    # A figure no window gives (a flipped byte in its exponent) is none read: told as
    # "nan%" in a resolve owed at the start, and on the status page.
    if value is not None and not math.isfinite(value):
        value = None
    return AlertState(Status(status), since, last_sent, value, resolved_at, notified, held)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def resolve_row(state: AlertState | None, made: Alert | None, now: float) -> list[Any]:
    """The row of an alert whose resolve (``made``, where the caller has it) is not
    delivered: firing, as the sinks have it, its resolve decided (``resolved_at``).
    The resolve made tells its figure, its incident's start and its end: the state
    may hold a new breach since (pending under the rule's ``for``), which holds none
    of them; saved from that, the restart's resolve said "no data", from the new
    breach's start, after its own end. Without it, they are read from the state."""
    sent = now if state is None else state.last_sent
    if made is not None:
        return [Status.FIRING.value, made.since, sent, made.value, made.at, True]
    since = now if state is None else state.since
    ended = now if state is None or state.resolved_at is None else state.resolved_at
    # The figure it resolved at (read since; not one breaching again): a resolve the
    # restart's rules owe (its rule or sink gone) tells it, not "no data".
    value = state.value if state is not None and state.status is Status.INACTIVE else None
    return [Status.FIRING.value, since, sent, value, ended, True]


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


def read_heard(data: dict[str, Any]) -> tuple[dict[tuple[str, str], list[str]], int]:
    """The sinks that took each firing the file ``data`` keeps as not sent (none from
    an earlier build), and how many entries did not read: their firings go to every
    sink of the rule, as from an earlier build."""
    saved = data.get("heard", {})
    if not isinstance(saved, dict):
        return {}, 1
    found: dict[tuple[str, str], list[str]] = {}
    skipped = 0
    for rule, labels in saved.items():
        if not isinstance(labels, dict):
            skipped += 1
            continue
        for label, sinks in labels.items():
            if isinstance(sinks, list) and all(isinstance(sink, str) for sink in sinks):
                found[str(rule), str(label)] = sinks
            else:
                skipped += 1
    return found, skipped


def unread_alerted(data: dict[str, Any]) -> int:
    """How many labels of the file ``data``'s firing alerts that the domain table no
    longer held do not read (sesd.core.ledger.Ledger.makes leaves them out)."""
    saved = data.get("alerted", [])
    if not isinstance(saved, list):
        return 1
    return sum(not isinstance(label, str) for label in saved)
