"""A delivery to one recipient whose domain's slots are kept and hold is counted by a
shorter path (no list of domains, nor of slots, nor their loops) exactly as every
other event is: the pipeline's ``apply`` before that path is copied here as the
reference, and both are fed the same stream of events (duplicates, late ones, ones
with a receive time, tags and tenants counted or not), of answers that change, expire
and leave a small cache, of evictions and reloads."""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from sesd.core.decode import Event
from sesd.core.dedup import event_key
from sesd.core.events import Invalid, Skipped
from sesd.core.kept_slots import domains_of
from sesd.core.pipeline import _SUPPRESSIBLE, Pipeline
from sesd.core.recipients import never_sent
from sesd.core.results import DUPLICATE, NOTICE, PROCESSED, Result, invalid
from sesd.core.tag_counts import count_tags
from sesd.core.tallies import Outcome
from sesd.core.tenants import TenantNotice
from tests import factory as f
from tests.test_pipeline_slots_reference import (
    _SETTINGS,
    _STEP,
    _event,
    _moved,
    _seen,
    _step,
)

#: Tags counted as dimensions, and tenants not: the other branch of each.
_TAGGED = dataclasses.replace(_SETTINGS, tenants=False, tags=("tenant",))


class Reference(Pipeline):
    """The pipeline as it applied every event before deliveries had their own path."""

    def apply(
        self,
        decoded: Event | Skipped | Invalid | TenantNotice,
        queue: str,
        now: float,
        received_at: float | None = None,
    ) -> Result:
        ledger = self.ledger
        if not isinstance(decoded, Event):
            if isinstance(decoded, TenantNotice):
                ledger.tenant_status.apply(decoded)
                ledger.tallies.notices[queue] = ledger.tallies.notices.get(queue, 0) + 1
                return NOTICE
            if isinstance(decoded, Skipped):
                tallies = ledger.tallies
                tallies.message(queue, Outcome.SKIPPED)
                key = (queue, decoded.reason)
                tallies.skipped[key] = tallies.skipped.get(key, 0) + 1
                return Result(Outcome.SKIPPED, decoded.reason)
            return invalid(ledger, queue, decoded.reason, decoded.detail)
        event = decoded
        domains, unusable = domains_of(self._kept, self._labels, event.recipients)
        usable = len(domains) - unusable
        if not usable:
            shown = ", ".join(self._show(address) for address in event.recipients[:3])
            return invalid(
                ledger, queue, "no_usable_domain", f"no usable recipient domain: {shown}"
            )
        if ledger.dedup.seen(event_key(event), now):
            ledger.tallies.message(queue, Outcome.DUPLICATE)
            return DUPLICATE
        tallies = ledger.tallies
        tallies.invalid_recipients += unusable
        kind = event.kind
        per_type = tallies.events.get(queue)
        if per_type is None:
            per_type = tallies.queue_counts(queue)
        per_type[kind] += 1
        canary = ledger.canary
        if canary.arrived(event, queue, now):
            canary.observe(event, now if received_at is None else received_at)
            return PROCESSED[kind]
        t, in_windows = self._when(event, queue, now, received_at)
        self._count(event, queue, domains, t, now, in_windows)
        if self._tag_names and not (kind in _SUPPRESSIBLE and never_sent(event)):
            count_tags(ledger, self._tag_names, event, kind, usable, t, now, in_windows)
        return PROCESSED[kind]

    def _when(
        self, event: Event, queue: str, now: float, received_at: float | None
    ) -> tuple[float, bool]:
        """The time an event of real traffic counts at, and whether it is in the windows
        (its lag and lateness counted, and its receive's lag: :meth:`Tallies.received`)."""
        tallies = self.ledger.tallies
        t = event.time
        if received_at is not None:
            lag = received_at - t
            if lag < 0.0:  # SES's clock ahead of ours: no lag, not a negative one
                lag = 0.0
            tallies.lag.observe(lag)
            tallies.received(queue, received_at, lag)
        if t > now:  # a clock ahead of ours is clamped to now (not min(): every event)
            t = now
        # Late: its bucket has left every window (the same test the rings apply, so
        # every event counts in the windows or here, never in neither): the widest
        # window's WindowSpec.holds(), inline (its call cost about 360 instructions an
        # event, counted under cachegrind).
        widest = self.ledger.widest
        width = widest.width
        in_windows = t // width > now // width - widest.slots
        if not in_windows:
            tallies.late_events += 1
        return t, in_windows


#: A body fed again (a duplicate), or fed late (its bucket out of every window), or
#: with the time it was received at.
_AGAIN = st.tuples(st.just("again"))
_LATE = st.tuples(st.just("late"), st.sampled_from(["u@a.example", "u@gmail.com"]))
_RECEIVED = st.tuples(st.just("received"), st.sampled_from([-5.0, 0.0, 2.0]))


def _seen_more(pipeline: Pipeline, now: float) -> dict[str, Any]:
    """What the slots' reference compares, and the histograms and estimates beside."""
    ledger = pipeline.ledger
    tallies = ledger.tallies
    estimates = {key: ledger.reputation.estimate(key) for key in ledger.reputation.seen()}
    return {
        **_seen(pipeline, now),
        "processing": (tallies.processing.counts, tallies.processing.sum),
        "lag": (tallies.lag.counts, tallies.lag.sum),
        "invalid_recipients": tallies.invalid_recipients,
        "estimates": estimates,
    }


def _run(settings_: Any, steps: list[tuple[Any, ...]]) -> None:
    pipelines = [Pipeline(settings_), Reference(settings_)]
    now, last = f.T0, f.raw(f.delivery(["u@a.example"], at=f.T0 - 1))
    for i, step in enumerate(steps):
        if step[0] in ("wait", "step"):
            now = _moved(pipelines, step, now)
            continue
        received: float | None = None
        if step[0] == "feed":
            _, kind, recipients, message = step
            last = _event(kind, recipients, now - 1 + i / 1000, message)
        elif step[0] == "late":
            last = _event("delivery", [step[1]], now - 10 * 86_400 + i / 1000, i)
        elif step[0] == "received":
            received = now + step[1]
        if step[0] in ("feed", "late", "again", "received"):
            answers: list[object] = [p.feed(last, "q", now, received) for p in pipelines]
        else:
            answers = [_step(p, step, i, now) for p in pipelines]
        assert answers[0] == answers[1]
        assert _seen_more(pipelines[0], now) == _seen_more(pipelines[1], now)


_STEPS = st.lists(st.one_of(_STEP, _STEP, _AGAIN, _LATE, _RECEIVED), min_size=1, max_size=40)
_FED = ("feed", "delivery", ["u@a.example"], 0)


@settings(max_examples=300, deadline=None)
@given(steps=_STEPS, tagged=st.booleans())
# A domain's kept slots, used by deliveries to it fed again, late and received.
@example(
    steps=[
        ("answer", "a.example", "google", 100.0),
        _FED,
        _FED,
        ("again",),
        ("late", "u@a.example"),
        ("received", -5.0),
        ("wait", 100.0),
        _FED,
    ],
    tagged=False,
)
# A delay ended by its delivery (its duration in the windows).
@example(
    steps=[
        ("answer", "a.example", "google", 10_000.0),
        ("feed", "delivery", ["v@a.example"], 1),
        ("feed", "delay", ["u@a.example"], 0),
        ("wait", 30.0),
        _FED,
    ],
    tagged=False,
)
# An answer that expires: kept slots that no longer hold (the domain is wanted again).
@example(
    steps=[("answer", "a.example", "google", 5.0), _FED, ("wait", 30.0), _FED],
    tagged=False,
)
# A consumer domain's slots, kept until an answer comes; the tenant's slot and tags.
@example(steps=[("feed", "delivery", ["u@gmail.com"], 0)] * 2 + [_FED] * 2, tagged=True)
def test_a_delivery_to_one_recipient_counts_as_any_event(
    steps: list[tuple[Any, ...]], tagged: bool
) -> None:
    """Each step leaves the pipeline with the delivery's own path as it leaves the
    reference: answers, counters, windows, labels, pending delays, duplicates, the
    provider cache, the histograms and the reputation estimates."""
    _run(_TAGGED if tagged else _SETTINGS, steps)


def test_a_time_to_delivery_just_under_a_bucket_bound_counts_as_any_event() -> None:
    """2047 ms from sending to delivery (the bucket bound is 2048 ms): the delivery's
    own path reads the same milliseconds as the reference, not a bucket off. Every
    event of the stream above took 1200 ms, far from a bound."""
    pipelines = [Pipeline(_SETTINGS), Reference(_SETTINGS)]
    now = f.T0
    for p in pipelines:
        p.ledger.providers.remember("a.example", "google", now + 100)  # type: ignore[union-attr]
    # The first keeps the domain's slots; the second takes the delivery's own path.
    for address in ("u@a.example", "v@a.example"):
        body = f.raw(f.delivery([address], at=now - 1, sent=now - 1 - 2.047))
        assert pipelines[0].feed(body, "q", now) == pipelines[1].feed(body, "q", now)
    assert _seen_more(pipelines[0], now) == _seen_more(pipelines[1], now)
