"""Rules over every tracked domain (and provider, account, canary), and their alerts
grouped into notifications (sesd.alerting.grouping).

The caller passes the ledger (read only) and ``now``.

Silences gate what is sent, never the states: a silenced firing sends nothing
(and neither does its resolve); when the silence ends while the alert still
fires, the firing is sent then. A resolve is sent when its firing was.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sesd.alerting.alert import Alert, Notification, linked
from sesd.alerting.changes import Change, Retired, changes, owed_alert, relabel, resolved_again
from sesd.alerting.clock_steps import Moves, moved
from sesd.alerting.grouping import Groups
from sesd.alerting.labels import Listing
from sesd.alerting.reads import Reads
from sesd.alerting.rechecked import Rechecked
from sesd.alerting.rule_versions import RuleVersions
from sesd.alerting.rules import AlertState, Blindness, Status, Transition
from sesd.alerting.silences import SilenceSet, silence_command
from sesd.alerting.slices import Evaluation, Whole
from sesd.alerting.unheard import Unheard, as_fired, told
from sesd.alerting.windowed import Read
from sesd.config import QUANTILE_METRICS, AlertsConfig, Duration, RuleConfig
from sesd.core.ledger import Ledger
from sesd.core.scopes import Scope

if TYPE_CHECKING:
    from sesd.alerting.part_saved import Resumed

__all__ = ["Evaluator"]


class Evaluator:
    """Holds every alert state; :meth:`evaluate` steps them, :meth:`due` groups the output."""

    def __init__(
        self,
        config: AlertsConfig,
        window_names: list[str],
        silences: SilenceSet | None = None,
        silence_prefix: str = "sesd silence add",
    ) -> None:
        self.rules: list[RuleConfig] = []
        self.states: dict[str, dict[str, AlertState]] = {}
        #: The silences in force (the runtime keeps them as the file says).
        self.silences = silences if silences is not None else SilenceSet()
        #: What the ``sesd silence add`` line of a firing begins with ("": no line).
        self.silence_prefix = silence_prefix
        #: Alerts waiting their group_wait.
        self.groups = Groups(config.group_wait.seconds)
        #: The last alert sent per (rule, domain) while it fires: what is posted again
        #: to sinks that want every firing alert now and then (Alertmanager).
        self.current: dict[tuple[str, str], Alert] = {}
        #: ``--until-resolved`` silences whose alert resolved in the last evaluation.
        self.ended_silences: set[str] = set()
        #: (rule, label, severity) of each firing alert a change of rules resolved, sent
        #: or held back by a silence, with the severity it fires on from then (None: it
        #: is gone): the ``--until-resolved`` silences waiting on it end once the
        #: silences file is read (sesd.alerting.evaluations).
        self.resolved_by_change: list[tuple[str, str, str, str | None]] = []
        #: The restore's time and the step back its state file's save time tells (the
        #: clock stepped back while sesd was stopped; 0: none): the ends of the
        #: ``--until-resolved`` silences move back as at a step measured, once the
        #: silences file is read (sesd.alerting.evaluations).
        self.restored_back = (0.0, 0.0)
        #: (rule, domain, transition, silence id) a silence held back in the last one.
        self.held: list[tuple[str, str, str, str]] = []
        # rule -> label -> what its last step read, where that step left it inactive:
        # its windows, their stamp and its pending count. The same again means the same
        # value, so stepping it again would change nothing (most labels, most steps); so
        # does a stamp of another bucket, where the buckets the clock moved over into or
        # out of the window hold nothing the rule reads (DomainWindows.moved_over).
        self._quiet: dict[str, dict[str, Read]] = {}  # by rule: no (rule, label) a visit
        self._reads = Reads()  # what this evaluation read already
        #: Each rule's labels as last listed (sesd.alerting.labels.Listing).
        self.listing = Listing()
        #: The evaluation begun in slices, until :meth:`evaluate` returns its alerts.
        self._begun: Evaluation | None = None
        #: How far the wall-clock steps measured so far moved every time held (stepped()).
        self.moved_by = 0.0
        #: When a window without data says nothing (see blind()).
        self.blindness = Blindness()
        #: The rules firing alerts fired under, where a reload changed them since.
        self.rechecked = Rechecked()
        #: Whether :meth:`adopt` took states from a state file (their resends are due).
        self.restored = False
        #: Rules as a change of rules left them, while resolves made under them may not
        #: be delivered yet (sesd.alerting.rule_versions).
        self.retired = RuleVersions()
        #: Restored firings some sinks had not taken at the stop (sesd.alerting.unheard).
        self.unheard = Unheard()
        #: Webhook notifications a stop left part-sent, restored: the outboxes go on
        #: with them when they open (sesd.alerting.part_saved).
        self.resumed: list[Resumed] = []
        #: (rule, label) -> what a step read that a new incident begins on, stepped again
        #: once the resolve that step made is emitted (sesd.alerting.windowed.decide).
        self._anew: dict[tuple[str, str], tuple[Scope, Read | None]] = {}
        self.configure(config, window_names, now=0.0)

    def configure(
        self,
        config: AlertsConfig,
        window_names: list[str],
        now: float,
        ledger: Ledger | None = None,
        groups_gone: Collection[str] = (),
    ) -> list[Alert]:
        """Take new rules (at start and on reload). States of rules kept by name stay;
        what the change owes the sinks (sesd.alerting.changes: a removed rule's sent
        alerts resolve, say, and those on ``groups_gone``) is returned and queued, with
        what ``ledger`` knows of their labels (a domain's provider)."""
        self.settle()  # an evaluation under way ends under the rules it began with
        self._quiet.clear()  # a rule's thresholds may have changed under its name
        self.listing.clear()  # and its domains
        self.config, self.window_names = config, window_names
        old = {rule.name: rule for rule in self.rules}
        self.rules = list(config.rules)
        self.retired.reloaded(old, self.rules)
        self._window_index = {rule.name: window_names.index(rule.window) for rule in self.rules}
        self._window_seconds = {rule.name: Duration(rule.window).seconds for rule in self.rules}
        # Whether a rule's steps read its window's values (sesd.alerting.windowed), not its counts
        # alone: then a bucket with values alone moving in or out changes what they read.
        self._values = {
            rule.name: (
                rule.metric in QUANTILE_METRICS or bool(rule.cause) or rule.include_suppressed
            )
            for rule in self.rules
        }
        self._repeat = config.repeat_interval.seconds
        self.groups.group_wait = config.group_wait.seconds
        # The evaluation period: a tenth of it short of ``for``, ``group_wait`` or
        # ``repeat_interval`` counts as waited (sesd.alerting.rules.less_a_tenth).
        self._tick = self.groups.tick = config.evaluate_every.seconds
        self._dashboard = config.dashboard_url
        self._severity = {rule.name: rule.severity for rule in self.rules}
        relabel(self.current, {rule.name: rule for rule in self.rules})
        firing = {(name, label): old[name].severity for name, label in self.firing() if name in old}
        owed = changes(old, self.rules, self.states, config.by_labels(), groups_gone)
        out = [self._owed(change, now, ledger) for change in self.unheard.narrowed(owed)]
        # A firing alert whose state the change dropped resolved, its resolve sent or
        # not (its firing held back by a silence): as at an evaluation's resolve, a
        # silence made to last until it resolves is over. So is one on its severity
        # when the rule's changed: that alert is over (Alertmanager is sent its
        # resolve), and the one firing on under the new severity is not the silence's.
        self.resolved_by_change += [
            (name, label, severity, None if kept is None else self._severity[name])
            for (name, label), severity in firing.items()
            if (kept := self.states.get(name, {}).get(label)) is None
            or self._severity[name] != severity
        ]
        self.unheard.prune(self.rules, self.states)
        self.rechecked.track(old, self.rules, self.states)
        for rule in self.rules:
            self.states.setdefault(rule.name, {})
        # What was last sent of an alert whose state is gone (a silenced firing of a
        # removed rule, say) is posted again to no one.
        self.current = {k: a for k, a in self.current.items() if k[1] in self.states.get(k[0], {})}
        return out

    def adopt(
        self,
        rules: list[RuleConfig],
        states: dict[str, dict[str, AlertState]],
        now: float,
        ledger: Ledger | None = None,
        groups_gone: Collection[str] = (),
        retired: Sequence[Retired] = (),
        heard: Mapping[tuple[str, str], Sequence[str]] | None = None,
        fired: Mapping[tuple[str, str], tuple[RuleConfig, float]] | None = None,
    ) -> list[Alert]:
        """Alert states restored from a state file saved under ``rules``: taken as a
        reload from those rules (and groups, less ``groups_gone``) to the configured
        ones takes them. ``retired``: resolves saved as not delivered
        (sesd.alerting.retiring), queued again first, each to the sinks owed it (a
        firing the change of rules or the first evaluation makes comes after them).
        ``heard``: the sinks that took each firing saved as not sent
        (sesd.alerting.unheard). ``fired``: the rule each firing alert fired under,
        where a reload changed what decides it (sesd.alerting.rechecked)."""
        self.settle()
        config, window_names = self.config, self.window_names
        self.rules, self.states, self.restored = rules, states, True
        self.unheard.adopt(rules, states, heard or {})
        self.rechecked.fired = dict(fired or {})
        # Each ends when its alert ended (the file keeps it), not at this start: else
        # endsAt and "fired for" stretch by the downtime. Never after now, though.
        owed = [
            self._owed(change, now, ledger, min(now, change.state.resolved_at or now))
            for change in resolved_again(retired)
        ]
        owed += self.configure(config, window_names, now, ledger, groups_gone)
        for rule, _, _ in retired:
            self.retired.older(rule)
        return owed

    def blind(self, now: float) -> None:
        """From ``now``, for a window's length, a window without data says nothing of
        the incident: called at a start, a clock step and a stall (Blindness). A hold
        that ends later stays (a start from a file saved ahead of the clock: its
        events are ahead too, and a queue not read yet must not cut that short)."""
        self.blindness.since = max(self.blindness.since, now)

    def stepped(self, now: float, step: float, moves: Moves | None = None) -> None:
        """The wall clock stepped by ``step`` seconds to ``now``: every time held moves as
        far (sesd.alerting.clock_steps; ``moves``: the step's, shared with what waits in
        the outboxes), and :meth:`blind` from it. A hold set before a step back is on the
        old clock, as far ahead of this one as the step: kept, a day's step would hold
        every resolve for a day, not a window."""
        self.settle()  # an evaluation under way ends on the clock it began on
        moved(self, moves or Moves(step))
        self.moved_by += step
        if step < 0:
            self.blindness.since = now
        self.blind(now)

    def _owed(
        self, change: Change, now: float, ledger: Ledger | None, at: float | None = None
    ) -> Alert:
        """The alert a change of rules owes its sinks (sesd.alerting.changes), queued;
        its domain's provider read from ``ledger`` (none without one); ``at``: when it
        happened, where before ``now``."""
        change, last = told(self.rechecked, change, self.current)
        if change.kind is Transition.RESOLVED:
            self.retired.older(change.rule)  # a stop saves it under the rule it tells
        rule, label = change.rule, change.label
        fields = self._identity(rule, label, change.kind, change.state, now if at is None else at)
        provider = None if ledger is None else ledger.provider_of(label, now)
        alert = owed_alert(change, last, fields, provider, now)
        self.groups.add(rule, alert, now, change.sinks)
        return alert

    def slices(self, ledger: Ledger, now: float) -> Evaluation:
        """Begin the evaluation at ``now`` (the one under way settled first): each
        ``next()`` steps a slice of its labels (sesd.alerting.slices); once they have
        run out, :meth:`evaluate` at the same ``now`` decides it."""
        self.settle()
        self._begun = Evaluation(self, ledger, now)
        return self._begun

    def evaluate(self, ledger: Ledger, now: float) -> list[Alert]:
        """Step every (rule, label) at ``now`` and decide; returns the alerts to send,
        also queued for :meth:`due`. After the slices :meth:`slices` began at ``now``
        ran out, decides what they stepped instead (the caller that ran them)."""
        begun = self._begun
        if begun is not None and begun.run_out and (begun.now, begun.ledger) == (now, ledger):
            self._begun = None
            return begun.finish()
        # Another caller's: the one under way is finished first (its alerts are kept
        # for the caller running its slices), then this one runs whole.
        self.settle()
        return Whole(self, ledger, now).finish()

    def settle(self) -> None:
        """Finish the evaluation under way in slices, its alerts decided and queued:
        before the rules change, the states are saved, or another evaluation runs."""
        if self._begun is not None:
            self._begun.finish()

    def silenced(self, rule: str, domain: str, now: float) -> bool:
        """Whether a firing alert is held back by a silence (a pure read)."""
        return self.silences.match(rule, domain, self._severity.get(rule, ""), now) is not None

    def _emit(self, rule: RuleConfig, alert: Alert, now: float, out: list[Alert]) -> None:
        in_force = self.rechecked.explained(rule, alert)
        alert = as_fired(rule, in_force, self.rechecked.fired)
        out.append(alert)
        if alert.kind is Transition.RESOLVED:
            self.current.pop((alert.rule, alert.domain), None)
        else:
            self.current[(alert.rule, alert.domain)] = alert
        for each, sinks in self.unheard.routes(rule, alert, in_force):
            if sinks:
                self.groups.add(rule, each, now, sinks)
                if each is not alert:
                    out.append(each)  # a reminder beside a restart's page: decided too

    def due(
        self, now: float, *, flush: bool = False, rules: set[str] | None = None
    ) -> list[Notification]:
        """Groups whose ``group_wait`` has passed (all of them with ``flush``), of every
        rule or of ``rules`` only."""
        return self.groups.due(now, self.mute, flush=flush, rules=rules)

    def waiting(self) -> list[tuple[str, str, Transition]]:
        """(rule, domain, kind) of every alert in a group still waiting its
        ``group_wait`` (a pure read)."""
        return self.groups.waiting()

    def mute(self, rule: str, domains: list[str]) -> str:
        """The ``sesd silence add`` line that mutes ``rule`` on ``domains``."""
        return silence_command(self.silence_prefix, rule, domains)

    def firing(self) -> Iterator[tuple[str, str]]:
        """(rule, domain) of every firing alert."""
        for rule, states in self.states.items():
            for domain, state in states.items():
                if state.status is Status.FIRING:
                    yield rule, domain

    def _identity(
        self, rule: RuleConfig, domain: str, kind: Transition, state: AlertState, now: float
    ) -> dict[str, Any]:
        """The fields every alert has, its links with them (sesd.alerting.alert.linked)."""
        return linked(rule, domain, kind, state, now, self._dashboard)
