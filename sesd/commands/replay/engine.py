"""Recorded events through the same pipeline, offline, in event time: the pipeline and
rule evaluation behind ``sesd replay``, and the document it reports."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import Transition
from sesd.commands.replay.json_stream import MAX_BODY, TOO_LARGE
from sesd.commands.replay.quiet import next_tick, quiet_until
from sesd.config import Config, core_settings
from sesd.core.decode import Event, decode_body
from sesd.core.domains import domain_of
from sesd.core.events import EVENT_TYPES, Invalid
from sesd.core.pipeline import Pipeline, Result
from sesd.core.scopes import Scope
from sesd.core.tallies import Outcome
from sesd.core.timestamps import iso
from sesd.core.unreadable import not_utf8_at
from sesd.providers.resolver import ProviderResolver

__all__ = ["QUEUE", "Replay", "Where"]

#: The queue label replayed events count under.
QUEUE = "replay"
_TOO_LARGE: Final = Invalid("too_large", f"a body over {MAX_BODY >> 20} MiB, not decoded")
#: How many invalid values a replay names by their place in the input (the first ones:
#: enough to find what wrote them, few enough to read).
NAMED_INVALID: Final = 10
_INVALID: Final = Outcome.INVALID
#: What an invalid value in UTF-16 adds to why it is invalid.
UTF16_ADVICE: Final = "UTF-16 text: convert it to UTF-8, as iconv -f UTF-16 -t UTF-8 does"
#: How much of a value :func:`_utf16` looks at.
_UTF16_LOOK: Final = 4096
#: How many evaluations between two words to :attr:`Replay.evaluating`.
SHOWN_EVERY: Final = 1000


@dataclass(frozen=True, slots=True)
class Where:
    """Where a body was read: its input (unnamed: ""), its place among the input's
    values (from 1), and the byte offset its value starts at in the input (in the
    decompressed data when ``decompressed``), for ``tail -c`` or ``dd``."""

    input: str = ""
    value: int = 0
    offset: int | None = None
    decompressed: bool = False


class Replay:
    """Feeds bodies in the order read; ``now`` is the latest event time fed.

    Alert rules are evaluated as the daemon would, every ``evaluate_every`` of
    event time; firing and resolve transitions are recorded with that time.
    """

    def __init__(self, config: Config) -> None:
        self.pipeline = Pipeline(core_settings(config))
        self.ledger = ledger = self.pipeline.ledger
        # The totals are of every event replayed: a label evicted while idle (and
        # counted from zero when seen again) keeps what it counted.
        for scope in (ledger.by_domain, ledger.by_provider, ledger.by_tenant):
            if scope is not None:
                scope.evicted = {}
        #: The DNS task of ``--dns`` (None when providers are off).
        self.resolver: ProviderResolver | None = None
        if ledger.providers is not None:
            self.resolver = ProviderResolver.from_config(config.providers, ledger.providers)
        #: (rule, label, firing|resolved, event time) of every transition, for --report.
        self.transitions: list[tuple[str, str, str, float]] = []
        #: The event time of the first event: the replayed span is from it to ``now``.
        self.started: float | None = None
        self.evaluator = Evaluator(config.alerts, [spec.name for spec in ledger.specs])
        self.every = config.alerts.evaluate_every.seconds
        self.alerts: list[dict[str, Any]] = []
        #: The first :data:`NAMED_INVALID` invalid values: (where each was read; reason;
        #: detail).
        self.invalid_at: list[tuple[Where, str, str]] = []
        #: Each input whose reading stopped short, for ``stopped``: see :meth:`stopped`.
        self.stops: list[dict[str, Any]] = []
        self.now = 0.0
        self._next_tick: float | None = None
        # Tick k is at _first + k * every (a product: no drift, and a gap's ticks can
        # be skipped over); _tick is the next one's number.
        self._first = 0.0
        self._tick = 0
        #: Evaluations run so far; every :data:`SHOWN_EVERY`, ``evaluating`` (when set)
        #: is told the event time reached, for a progress bar between two events far apart.
        self.evaluations = 0
        self.evaluating: Callable[[float], None] | None = None

    def _evaluate_until(self, t: float, *, final: bool = False) -> float:
        """Run every evaluation tick before ``t`` (and one at ``t`` when ``final``) but
        those that would change nothing (sesd.commands.replay.quiet). Returns the event
        time up to which a call would run none (the next tick)."""
        if not self.evaluator.rules:
            return math.inf
        every = self.every
        if self._next_tick is None:
            self._next_tick = self._first = (t // every) * every
        while self._next_tick < t:
            at = self._next_tick
            self._record(at)
            self.evaluations += 1
            if self.evaluating is not None and not self.evaluations % SHOWN_EVERY:
                self.evaluating(at)
            done = self._tick
            self._tick = done + 1
            if self._first + (done + 2) * every < t:  # a gap: more than one tick to t
                self._tick = next_tick(self._first, every, done, min(t, self._quiet(at)))
            self._next_tick = self._first + self._tick * every
        if final:
            self._record(t)
        return self._next_tick

    def _quiet(self, at: float) -> float:
        """The event time before which no evaluation after the one at ``at`` changes
        anything while no event comes (``at``: not known)."""
        return quiet_until(self.ledger, self.evaluator, self.now, at)

    def _record(self, at: float) -> None:
        self.pipeline.housekeep(at)
        for alert in self.evaluator.evaluate(self.ledger, at):
            if alert.kind is Transition.REPEAT:
                continue
            self.transitions.append((alert.rule, alert.domain, alert.kind.value, at))
            self.alerts.append(
                {
                    "rule": alert.rule,
                    "domain": alert.domain,
                    "state": alert.kind.value,
                    "at": iso(at),
                    "value": alert.value,
                    "threshold": alert.threshold,
                    "window": alert.window,
                    "severity": alert.severity,
                    "where": alert.stage,
                }
            )
        self.evaluator.due(at, flush=True)  # grouping is for sinks; replay lists each

    def run(self, bodies: Iterable[bytes], where: Callable[[int], Where] | None = None) -> None:
        """Apply every body in the order read, each at its own event time (``now`` is
        the latest event time so far, as the daemon's clock would be); rules are
        evaluated as event time passes. Nothing is held but the pipeline's state.
        ``where`` names where a body was read from its place among all the bodies fed
        (from 1), asked while it is the last read (without it, only that place)."""
        apply = self.pipeline.apply
        now = self.now
        # Most events fall between two ticks: _evaluate_until is called only for one
        # past the next tick (before the first event, that tick is not placed yet).
        due = -math.inf
        for read, body in enumerate(bodies, 1):
            item = _TOO_LARGE if body is TOO_LARGE else decode_body(body)
            if isinstance(item, Event):
                t = item.time
                if self.started is None:
                    self.started = t
                if t > now:
                    if t > due:
                        due = self._evaluate_until(t)
                    self.now = now = t
            result = apply(item, QUEUE, now)
            if result.outcome is _INVALID and len(self.invalid_at) < NAMED_INVALID:
                at = Where(value=read) if where is None else where(read)
                self.invalid_at.append((at, result.reason, _detail(result, body)))
        if self.now:
            self._evaluate_until(self.now, final=True)

    def stopped(
        self,
        where: Where,
        compressed: int | None,
        reason: str,
        detail: str,
        dropped: int | None = None,
        *,
        read_to_end: bool = False,
    ) -> None:
        """Reading ``where.input`` stopped at ``where.offset`` (in the decompressed data
        when ``where.decompressed``, ``compressed`` bytes of the file read by then) after
        its first ``where.value`` values, which were replayed; ``dropped`` bytes just
        before the offset were not a whole value (None: not known); ``read_to_end``:
        all of the input was read (a check at its end failed)."""
        self.stops.append(
            {
                **_placed(where, reason, detail),
                "values": where.value,
                "compressed_offset": compressed,
                "dropped_bytes": dropped,
                "read_to_end": read_to_end,
            }
        )

    async def prefetch(
        self,
        bodies: Iterable[bytes],
        answered: Callable[[int, int], None] = lambda done, total: None,
    ) -> None:
        """Look up the providers of the recipient domains in ``bodies`` (a first pass
        over the input; as many domains as the cache holds), for ``--dns``;
        ``answered`` hears how many lookups are answered, of how many."""
        resolver = self.resolver
        if resolver is None:
            return
        domains: dict[str, None] = {}
        latest = 0.0
        for body in bodies:
            item = decode_body(body)
            if not isinstance(item, Event):
                continue
            latest = max(latest, item.time)
            for address in item.recipients:
                domain = domain_of(address)
                if domain is not None and len(domains) < resolver.cache.max_cache:
                    domains[domain] = None
        await resolver.prefetch(domains, latest, answered)

    def document(self) -> dict[str, Any]:
        """The ``--json`` document (README, "Tuning rules on history", gives its shape)."""
        tallies = self.ledger.tallies
        domains = _per_type(_totals(self.ledger.by_domain))
        counted = tallies.messages
        messages = {outcome.value: counted.get((QUEUE, outcome), 0) for outcome in Outcome}
        invalid = {reason: n for (_, reason), n in sorted(tallies.invalid.items())}
        # Delayed and soft-bounced recipients by cause, most first.
        causes = dict(sorted(tallies.causes.items(), key=lambda item: (-item[1], item[0])))
        providers, tenants = self.ledger.by_provider, self.ledger.by_tenant
        return {
            "domains": domains,
            "providers": {} if providers is None else _per_type(_totals(providers)),
            "tenants": {} if tenants is None else _per_type(_totals(tenants)),
            "causes": causes,
            "messages": messages,
            "alerts": self.alerts,
            "invalid": invalid,
            "invalid_values": [
                {"value": where.value, **_placed(where, reason, detail)}
                for where, reason, detail in self.invalid_at
            ],
            "stopped": self.stops,
            "as_of": iso(self.now) if self.now else None,
            # Events further behind the latest one read than the widest window: in the
            # totals, in no window, seen by no rule (inputs out of time order).
            "late_events": tallies.late_events,
            "windows": self._windows(),
        }

    def _windows(self) -> dict[str, dict[str, dict[str, Any]]]:
        out: dict[str, dict[str, dict[str, Any]]] = {}
        p = self.ledger
        for domain in sorted(p.windows):
            per_window: dict[str, dict[str, Any]] = {}
            for index, spec in enumerate(p.specs):
                figures = p.windows[domain].figures(index, self.now)
                p95 = figures.processing_ms[1]
                per_window[spec.name] = {
                    "counts": {
                        name: n for name, n in zip(EVENT_TYPES, figures.counts, strict=True) if n
                    },
                    "delay_ratio": figures.delay_ratio,
                    "bounce_ratio": figures.bounce_ratio,
                    "complaint_ratio": figures.complaint_ratio,
                    "processing_p95_seconds": None if p95 is None else p95 / 1000.0,
                    "pending_delays": p.pending.count(domain, self.now),
                }
            out[domain] = per_window
        return out


def _totals(scope: Scope) -> dict[str, list[int]]:
    """A scope's recipients per label over the whole replay, evicted labels' included."""
    totals = {label: list(counts) for label, counts in (scope.evicted or {}).items()}
    for label, counts in scope.recipients.items():
        kept = totals.setdefault(label, [0] * len(counts))
        for index, n in enumerate(counts):
            kept[index] += n
    return totals


def _per_type(recipients: dict[str, list[int]]) -> dict[str, dict[str, int]]:
    """Label -> event type -> recipients, zeros left out, labels in order."""
    return {
        label: {name: n for name, n in zip(EVENT_TYPES, counts, strict=True) if n}
        for label, counts in sorted(recipients.items())
    }


def _detail(result: Result, body: bytes) -> str:
    """Why a value is invalid; for text not in UTF-8, where the first such byte is in
    the value as read from the input (a line of a file of one event a line): the
    reason's own place may count from the start of a string inside it. A value in
    UTF-16 says so: "not JSON" of a file an editor shows as JSON misleads."""
    if result.reason in ("not_json", "not_utf8") and _utf16(body):
        return f"{result.detail} ({UTF16_ADVICE})"
    if result.reason != "not_utf8":
        return result.detail
    where = not_utf8_at(body)
    return result.detail if where is None else f"{result.detail} (in the value: {where})"


def _utf16(body: bytes) -> bool:
    """Whether ``body`` looks like UTF-16 text (what Windows PowerShell's ``>`` writes):
    a byte-order mark, or JSON's ASCII with every other byte zero. A run of zeros
    (a file's preallocated tail) is not: both halves would be zeros."""
    if body.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    head = body[:_UTF16_LOOK]
    if len(head) < 4:
        return False
    even, odd = head[0::2].count(0) / len(head[0::2]), head[1::2].count(0) / len(head[1::2])
    return max(even, odd) >= 0.9 and min(even, odd) <= 0.1


def _placed(where: Where, reason: str, detail: str) -> dict[str, Any]:
    """What the document says of a place in the input (an invalid value, where reading
    stopped): the input, the byte offset and what it counts in, and why."""
    return {
        "input": where.input,
        "byte_offset": where.offset,
        "decompressed": where.decompressed,
        "reason": reason,
        "detail": detail,
    }
