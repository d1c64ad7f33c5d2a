"""One evaluation in slices, so that it does not hold the event loop all at once.

A hundred rules over a thousand domains take a tenth of a second or more to step,
and meanwhile no poll, scrape or health check is answered. Here an evaluation lists
its rules' labels a few rules at a time, then steps a range of labels at a time:
every rule on a label in the same slice, so the rules that read one window read it
as of one moment although events come between slices. The runtime gives the loop
back between slices (sesd.alerting.evaluations); nothing here awaits.

Every slice steps at the evaluation's ``now``, and what is sent is decided once the
last slice is done, rule by rule and label by label, as a whole evaluation decides
it: the same alerts, the same groups, in the same order.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING

from sesd.alerting.alert import Alert
from sesd.alerting.rules import INACTIVE
from sesd.alerting.windowed import Read, decide, step_label
from sesd.alerting.windowless import (
    AccountReads,
    account_reads,
    step_accounts,
    step_canary,
    step_tenants,
)
from sesd.config import ACCOUNT_METRICS, CANARY_METRICS, TENANT_METRICS, RuleConfig
from sesd.core.ledger import Ledger
from sesd.core.scopes import PROVIDER, TENANT, Scope

if TYPE_CHECKING:
    from sesd.alerting.evaluator import Evaluator

__all__ = ["ALERT", "FIRST", "LISTING", "RUN", "STEPS", "Evaluation", "Whole"]

#: About how many (rule, label) steps make a slice: ten milliseconds or so when they
#: run, a few when most are passed over.
STEPS = 1_000
#: What a step costs, in steps passed over (about 2 µs: a quiet label, its reads
#: unchanged): one that runs (about 10 µs), one that makes an alert (about 100 µs:
#: the window's breakdown read, the alert built). A slice whose steps cost more than
#: :data:`STEPS` steps that run makes the next one smaller.
RUN, ALERT = 5, 50
#: The first slice of a scope takes this fraction of :data:`STEPS` steps, before a
#: slice has shown what a step costs there: in an alert storm, where most steps make
#: an alert, a first slice of STEPS steps would hold the loop ten times too long.
FIRST = 1 / 10
#: Listing a rule's labels costs about this fraction of stepping them.
LISTING = 1 / 20

#: What a step decided, to be applied once every slice is done: the label, the alert,
#: and whether it is only remembered (a firing alert restored from the state file, or
#: one whose provider was found since it was sent).
_Decision = tuple[str, Alert, bool]


class _Scoped:
    """The rules on one scope's windows, each with its labels (sorted), and how many
    rules step each label."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.rules: list[tuple[int, RuleConfig, list[str]]] = []
        self.weights: Counter[str] = Counter()

    def ranges(self) -> Generator[str | None, float, None]:
        """Where each slice's labels end (not included; None: after the last), told
        what each slice's steps cost as it ran (:meth:`~generator.send`): about
        :data:`STEPS` steps a slice, fewer where steps were seen to cost more than
        steps that run (in an alert storm, a tenth), and the first slice a tenth
        (:data:`FIRST`), before anything was seen."""
        labels, weights = sorted(self.weights), self.weights
        want, i = STEPS * FIRST, 0
        while i < len(labels):
            steps, end = 0, i
            while end < len(labels) and steps < want:
                steps += weights[labels[end]]
                end += 1
            cost = yield labels[end] if end < len(labels) else None
            want, i = STEPS * min(1.0, RUN * steps / max(cost, 1.0)), end


class Evaluation(Iterator[None]):
    """One evaluation at ``now``: each ``next()`` runs one slice of it; :meth:`finish`
    runs the slices left and decides what is sent."""

    #: Run whole (:class:`Whole`): every rule of a scope steps all its labels in one
    #: range, and no slice is weighed or bounded.
    whole = False

    def __init__(self, evaluator: Evaluator, ledger: Ledger, now: float) -> None:
        self.evaluator, self.ledger, self.now = evaluator, ledger, now
        #: The rules as they were when it began (a reload settles it first).
        self.rules = list(evaluator.rules)
        #: The alerts to send, once decided.
        self.alerts: list[Alert] | None = None
        #: Whether the slices ran out as the caller driving them asked for the next.
        self.run_out = False
        # What silences held back and which ``--until-resolved`` ones ended: the
        # evaluator's fields while this one steps, and again when it is finished.
        self._held: list[tuple[str, str, str, str]] = []
        self._ended: set[str] = set()
        # Per rule (by its place), what its steps decided, in label order.
        self._decided: list[list[_Decision]] = [[] for _ in self.rules]
        self._slices = self._run()

    def __next__(self) -> None:
        try:
            return next(self._slices)
        except StopIteration:
            self.run_out = True
            raise

    def finish(self) -> list[Alert]:
        """Run the slices left, then decide: the rules on no windows (canary, accounts,
        tenants) are stepped, and every alert is emitted in rule order. Once: the
        alerts decided are returned again after."""
        for _ in self._slices:
            pass
        evaluator, ledger, now = self.evaluator, self.ledger, self.now
        # Another evaluation may have run since (a caller's beside the slices' driver).
        evaluator.held, evaluator.ended_silences = self._held, self._ended
        if self.alerts is not None:
            return self.alerts
        out = self.alerts = []  # set first: a fault while deciding decides nothing twice
        accounts: AccountReads | None = None  # read for the first account rule, then kept
        for place, rule in enumerate(self.rules):
            if rule.metric in CANARY_METRICS:
                step_canary(evaluator, rule, ledger, now, out)
            elif rule.metric in ACCOUNT_METRICS:
                accounts = account_reads(ledger) if accounts is None else accounts
                step_accounts(evaluator, rule, ledger, now, out, accounts)
            elif rule.metric in TENANT_METRICS:
                step_tenants(evaluator, rule, ledger, now, out)
            for label, alert, remember in self._decided[place]:
                decide(evaluator, rule, label, alert, remember, now, out)
        # The slices stepped label by label; what silences held is told rule by rule.
        places = {rule.name: place for place, rule in enumerate(self.rules)}
        evaluator.held.sort(key=lambda held: places[held[0]])
        return out

    def _run(self) -> Iterator[None]:
        """The slices: the labels listed, then stepped a range of labels at a time."""
        evaluator, ledger = self.evaluator, self.ledger
        evaluator.ended_silences, evaluator.held = self._ended, self._held
        evaluator.blindness.tallies = ledger.tallies
        scoped: dict[str, _Scoped] = {}
        spent = 0.0
        for place, rule in enumerate(self.rules):
            if rule.metric in (*CANARY_METRICS, *ACCOUNT_METRICS, *TENANT_METRICS):
                continue
            scope = {PROVIDER: ledger.by_provider, TENANT: ledger.by_tenant}.get(
                rule.scope, ledger.by_domain
            )
            if scope is None:  # a provider or tenant rule while they are off (refused)
                continue
            found = evaluator.listing.labels(rule, scope, evaluator.states[rule.name])
            group = scoped.setdefault(scope.axis, _Scoped(scope))
            group.rules.append((place, rule, found))
            if self.whole:
                continue
            group.weights.update(found)
            spent += len(found) * LISTING
            if spent >= STEPS:
                spent = 0
                yield
        if spent:
            yield  # what is left of the listing is a slice of its own, not the first steps'
        for group in scoped.values():
            cursors = [0] * len(group.rules)
            if self.whole:
                self._step_range(group, cursors, None)
                continue
            if not group.weights:
                continue
            ranges = group.ranges()
            upto = next(ranges)
            while True:
                cost = self._step_range(group, cursors, upto)
                yield
                if upto is None:
                    break
                upto = ranges.send(cost)

    def _step_range(self, group: _Scoped, cursors: list[int], upto: str | None) -> float:
        """Step each rule of ``group`` on its labels from its cursor to ``upto`` (not
        included; None: to the last), all at ``now``, but those whose last step left
        them inactive and whose reads would return what they returned then: most
        labels, most steps, passed over here before a step is called. Returns what
        the steps cost, in steps passed over (:data:`RUN`, :data:`ALERT`)."""
        evaluator, now, scope = self.evaluator, self.now, group.scope
        # A window is read in one slice only: what an earlier slice read is not kept.
        evaluator._reads.start(now, self.ledger)
        pending, windows_of = self.ledger.pending, scope.windows
        steps = ran = alerts = 0
        for n, (place, rule, found) in enumerate(group.rules):
            start = cursors[n]
            end = len(found) if upto is None else bisect_left(found, upto, start)
            cursors[n] = end
            steps += end - start
            name, states, decided = rule.name, evaluator.states[rule.name], self._decided[place]
            index, values = evaluator._window_index[name], evaluator._values[name]
            quiet = evaluator._quiet.setdefault(name, {})
            # A label's pending count is read by a rule on pending delays alone: for the
            # others it is 0, neither looked up at every visit nor, changing alone, a
            # reason to step them again.
            reads_pending = rule.metric == "pending_delays"
            # Each label's windows' stamp (DomainWindows.stamp) is their writes so far and
            # the bucket ``now`` is in, the same bucket for all (one layout): found once.
            bucket = int(now // scope.specs[index].width)
            for label in found[start:end]:
                windows = windows_of.get(label)
                read: Read | None = None
                if windows is not None:
                    count = pending.count(label, now, scope.index) if reads_pending else 0
                    read = (windows, windows.changes, bucket, count)
                    last = quiet.get(label)
                    if last is not None and states[label].status is INACTIVE:
                        # What it reads is what left it inactive: it stays so.
                        if last == read:
                            continue
                        # The same but for the bucket: the clock moved over buckets that
                        # hold nothing it reads (most of a quiet domain's buckets), so the
                        # read is the same. Noted in this bucket, the next check is short.
                        if (
                            last[0] is windows
                            and last[1] == read[1]
                            and last[3] == read[3]
                            and windows.moved_over(index, last[2], read[2], values=values)
                        ):
                            quiet[label] = read
                            continue
                ran += 1
                decision = step_label(evaluator, rule, scope, label, now, read)
                if decision is not None:
                    alerts += 1
                    decided.append((label, *decision))
        return steps + ran * (RUN - 1) + alerts * (ALERT - RUN)


class Whole(Evaluation):
    """An evaluation that nobody runs a slice at a time (replay's, a drain's, a test's:
    :meth:`finish` at once): a scope's labels stepped in one range. Weighing the labels
    into slices was a tenth of each of replay's thousands of evaluations (mostly quiet
    labels, passed over cheaply), for no one. The same steps, the same decisions."""

    whole = True
