"""Alerts grouped into notifications: transitions of one rule and kind, to the same
sinks, that happen within ``group_wait`` of the first go out together as one
:class:`~sesd.alerting.alert.Notification`, so a provider outage across fifty
domains is one message, not fifty.

One rule orders what a ready group sends: each sink is told each alert's transitions
in the order they happened (alerts are numbered as added). Grouping would break it
where one alert's transitions wait in different groups (its firing in the rule's
group of firings begun earlier, its resolve in a group of resolves due before or
after), and PagerDuty, told them out of turn, closed an incident while the alert
fired or kept one open for an alert that had ended. So :meth:`Groups.due`

* sends ahead of the ready groups each waiting resolve of an alert they fire or
  repeat again (:meth:`Groups._ahead`), where nothing earlier of it still waits;
* keeps back a ready resolve whose firing or repeat still waits a group due later
  (:meth:`Groups._kept_back`): it goes with or after that;
* splits a ready group where an alert in it has an earlier transition still waiting
  in another group, and sends that in its place (:meth:`Groups._rounds`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sesd.alerting.alert import Alert, Notification, notification_of
from sesd.alerting.rules import Transition, has_waited, less_a_tenth
from sesd.config import RuleConfig

if TYPE_CHECKING:
    from sesd.alerting.clock_steps import Moves

__all__ = ["Groups"]

#: A group's key: its rule's name, the kind of its alerts, the sinks they go to.
_Key = tuple[str, Transition, tuple[str, ...]]
#: An alert in a group, numbered in the order the alerts were added.
_Entry = tuple[int, Alert]
#: Which alert a transition is of, for ordering: its rule and label. PagerDuty tells
#: alerts apart so (the dedup key), whatever a reload did to their severity or labels
#: since: a repeat sent under the old severity after the resolve under the new one
#: reopened the incident. Alertmanager tells apart by labels and severity too, a finer
#: split; ordered as one alert there, a relabelled alert's old-labels resolve and the
#: new labels' firing keep the order the reload queued them in, which costs nothing.
_Which = tuple[str, str]


def _which(alert: Alert) -> _Which:
    return alert.rule, alert.domain


@dataclass(slots=True)
class _Group:
    rule: RuleConfig
    first_at: float
    entries: list[_Entry] = field(default_factory=list)

    @property
    def alerts(self) -> tuple[Alert, ...]:
        return tuple(alert for _, alert in self.entries)


class Groups:
    """Alerts waiting their ``group_wait``."""

    def __init__(self, group_wait: float) -> None:
        self.group_wait = group_wait
        #: The evaluation ticks' period (evaluate_every): ``due`` is asked at each.
        self.tick = 0.0
        self._groups: dict[_Key, _Group] = {}
        self._added = 0  # alerts added so far: each one's number

    def add(self, rule: RuleConfig, alert: Alert, now: float, sinks: tuple[str, ...]) -> None:
        """Into the group of its rule, kind and sinks."""
        key = (alert.rule, alert.kind, sinks)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group(rule, now)
        self._added += 1
        group.entries.append((self._added, alert))

    def moved(self, moves: Moves) -> None:
        """The wall clock stepped: each group's start and its alerts' times move as far
        (sesd.alerting.clock_steps). A group waits its group_wait from when it began, a
        step ahead sending it no sooner, and its alerts' times are the new clock's, as
        their next reminders' are."""
        for group in self._groups.values():
            group.first_at += moves.step
            group.entries = [(n, moves.alert(alert)) for n, alert in group.entries]

    def due(
        self,
        now: float,
        mute: Callable[[str, list[str]], str],
        *,
        flush: bool,
        rules: set[str] | None,
    ) -> list[Notification]:
        """Groups whose ``group_wait`` has passed (all of them with ``flush``), of every
        rule or of ``rules`` only; ``mute`` gives a firing's ``sesd silence add`` line.
        A group begun ahead of ``now`` (the wall clock stepped back since) has waited."""
        # A tenth of a tick short counts as waited: a page would wait a whole tick more.
        wait = less_a_tenth(self.group_wait, self.tick)
        ready = [
            key
            for key, group in self._groups.items()
            if (flush or has_waited(group.first_at, now, wait))
            and (rules is None or key[0] in rules)
        ]
        notifications = self._ahead(ready, now, mute)
        # Twice: a resolve kept back behind its firing in a ready group goes after it.
        for key in ready + [key for key in ready if key[1] is Transition.RESOLVED]:
            group = self._groups.pop(key, None)
            if group is None:  # emptied by :meth:`_ahead` or :meth:`_before`, or gone
                continue
            if key[1] is Transition.RESOLVED:
                group = self._kept_back(key, group)
                if group is None:
                    continue
            notifications += self._rounds(key, group, now, mute)
        return notifications

    def _earliest_firings(self) -> dict[tuple[_Which, str], int]:
        """The number of each alert's earliest firing or repeat still waiting, per sink
        it waits for."""
        earliest: dict[tuple[_Which, str], int] = {}
        for key, group in self._groups.items():
            if key[1] is not Transition.RESOLVED:
                for n, alert in group.entries:
                    for sink in key[2]:
                        which = (_which(alert), sink)
                        earliest[which] = min(n, earliest.get(which, n))
        return earliest

    def _take(self, key: _Key, numbers: set[int]) -> None:
        """Take the entries numbered ``numbers`` out of ``key``'s group; one left empty
        is gone."""
        group = self._groups[key]
        group.entries = [entry for entry in group.entries if entry[0] not in numbers]
        if not group.entries:
            del self._groups[key]

    def _kept_back(self, key: _Key, group: _Group) -> _Group | None:
        """``group`` (of resolves, taken out) less the resolves whose firing or repeat
        still waits (in a group due later) for a sink of theirs: those stay, to follow
        it. Sent now, the resolve went ahead of the firing it ends, and PagerDuty, told
        the trigger after it, kept an incident open for an alert that had ended."""
        earliest = self._earliest_firings()
        stay = {
            n
            for n, alert in group.entries
            if any(earliest.get((_which(alert), sink), n) < n for sink in key[2])
        }
        if not stay:
            return group
        kept = [entry for entry in group.entries if entry[0] in stay]
        self._groups[key] = _Group(group.rule, group.first_at, kept)
        left = [entry for entry in group.entries if entry[0] not in stay]
        return _Group(group.rule, group.first_at, left) if left else None

    def _rounds(
        self, key: _Key, group: _Group, now: float, mute: Callable[[str, list[str]], str]
    ) -> list[Notification]:
        """``group``'s notification; or, where an alert in it has an earlier transition
        still waiting (in a group due later) for a sink of its, the alerts up to it, that
        transition, then the rest, in turn. Its resolve between two firings in the group
        (it resolved and fired again within ``group_wait``): as one, the sinks were told
        both firings, then the resolve, which closed the incident while the alert fired
        (PagerDuty: one dedup key an alert). A repeat and the resolve kept back behind it
        (:meth:`_kept_back`), ahead of a new firing: sent after it, they reopened and
        closed the new incident."""
        out: list[Notification] = []
        batch: list[Alert] = []
        waiting = {_which(a) for each in self._groups.values() for _, a in each.entries}
        for n, alert in group.entries:
            which = _which(alert)
            before = self._before(which, key[2], n, now, mute) if which in waiting else []
            if before:
                if batch:
                    out.append(notification_of(group.rule, key[1], key[2], tuple(batch), now, mute))
                out += before
                batch = []
            batch.append(alert)
        out.append(notification_of(group.rule, key[1], key[2], tuple(batch), now, mute))
        return out

    def _before(
        self,
        which: _Which,
        sinks: tuple[str, ...],
        before: int,
        now: float,
        mute: Callable[[str, list[str]], str],
    ) -> list[Notification]:
        """The transitions of alert ``which`` to any of ``sinks`` (or to a sink of one of
        those) added before its entry numbered ``before``, taken out of their groups, in
        the order they were added (one notification a run of one kind)."""
        taken: list[tuple[int, _Key, RuleConfig, Alert]] = []
        told = set(sinks)
        while True:
            more = [
                (n, key, group.rule, a)
                for key, group in self._groups.items()
                if told & set(key[2])
                for n, a in group.entries
                if n < before and _which(a) == which
            ]
            if not more:
                break
            for n, key, _, _ in more:
                self._take(key, {n})
                told |= set(key[2])
            taken += more
        out: list[Notification] = []
        for _, key, rule, a in sorted(taken, key=lambda each: each[0]):
            last = out[-1] if out else None
            if last is not None and (last.kind, last.sinks) == key[1:]:
                out[-1] = notification_of(rule, key[1], key[2], (*last.alerts, a), now, mute)
            else:
                out.append(notification_of(rule, key[1], key[2], (a,), now, mute))
        return out

    def _ahead(
        self, ready: list[_Key], now: float, mute: Callable[[str, list[str]], str]
    ) -> list[Notification]:
        """The resolves to send ahead of the ``ready`` groups, taken out of theirs: each
        of an alert one of those groups holds a later firing or repeat of to a sink of
        the resolve's (it fired again while the resolve waited its ``group_wait``, and
        joined a group begun earlier), no earlier one of it waiting for any of those
        sinks (the resolve then follows the firing it ends, as it did). Sent after the
        firing, PagerDuty would add it to the incident still open (one dedup key an
        alert) and the resolve close that; an outbox holding both would send the
        resolve alone. Each sink is told in its own order: a resolve to one sink and a
        firing to another (a reload moved the rule) wait as they did."""
        going = {  # (alert, sink) of each firing or repeat going now
            (_which(alert), sink)
            for key in ready
            if key[1] is not Transition.RESOLVED
            for _, alert in self._groups[key].entries
            for sink in key[2]
        }
        if not going:
            return []
        earliest = self._earliest_firings()
        notifications = []
        for key, group in list(self._groups.items()):
            if key[1] is not Transition.RESOLVED:
                continue
            moved = [
                (n, alert)
                for n, alert in group.entries
                if any((_which(alert), sink) in going for sink in key[2])
                and all(earliest.get((_which(alert), sink), n) >= n for sink in key[2])
            ]
            if not moved:
                continue
            self._take(key, {n for n, _ in moved})
            alerts = tuple(alert for _, alert in moved)
            notifications.append(notification_of(group.rule, key[1], key[2], alerts, now, mute))
        return notifications

    def withdraw(self, held: Callable[[Alert], bool]) -> list[Alert]:
        """Take out the firings and repeats that ``held`` holds back (a silence added
        while they waited); a group left empty is gone. Returns the alerts taken."""
        taken: list[Alert] = []
        for key, group in list(self._groups.items()):
            if key[1] is Transition.RESOLVED:
                continue
            kept = [(n, alert) for n, alert in group.entries if not held(alert)]
            if len(kept) == len(group.entries):
                continue
            left = {n for n, _ in kept}
            taken += [alert for n, alert in group.entries if n not in left]
            if kept:
                group.entries = kept
            else:
                del self._groups[key]
        return taken

    def unsent_resolves(self, of: set[tuple[str, str, float, tuple[str, ...]]]) -> None:
        """Take out the resolves waiting of the incidents ``of`` names (rule, label, when
        it fired, and the sinks whose firing was withdrawn or recalled) for those sinks:
        the resolve of a firing they were never sent. The rest of its sinks keep it (in
        the group of theirs); a group left empty is gone."""
        withdrawn: dict[tuple[str, str, float], set[str]] = {}
        for rule, label, since, sinks in of:
            withdrawn.setdefault((rule, label, since), set()).update(sinks)
        if not withdrawn:
            return
        for key, group in list(self._groups.items()):
            if key[1] is not Transition.RESOLVED:
                continue
            kept = []
            for n, alert in group.entries:
                gone = withdrawn.get((alert.rule, alert.domain, alert.since), set())
                if not gone & set(key[2]):
                    kept.append((n, alert))
                    continue
                left = tuple(sink for sink in key[2] if sink not in gone)
                if left:  # the sinks that had the firing: in their own group
                    other = (key[0], key[1], left)
                    self._groups.setdefault(other, _Group(group.rule, group.first_at))
                    self._groups[other].entries.append((n, alert))
            if not kept:
                del self._groups[key]
            else:
                group.entries = kept

    def waiting(self) -> list[tuple[str, str, Transition]]:
        """(rule, domain, kind) of every alert still waiting (a pure read)."""
        return [
            (a.rule, a.domain, a.kind) for group in self._groups.values() for _, a in group.entries
        ]

    def alerts(self) -> list[tuple[tuple[str, ...], Alert]]:
        """Every alert still waiting, with the sinks it goes to (a pure read)."""
        return [(key[2], a) for key, group in self._groups.items() for _, a in group.entries]
