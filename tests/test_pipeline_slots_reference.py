"""A recipient's slots kept per domain while its provider's answer holds count every
event as finding them afresh did (a domain's label, its provider's answer through the
cache, its provider's slot, for each recipient): the path before is copied here as the
reference, and both are fed the same stream, in which answers change, expire and
leave a small cache, lookups are wanted (in a short queue), taken, answered or
abandoned (recipients counted while one is under way), domains are evicted idle or
counted under ``other`` (and admitted once one is evicted; kept within a bound, past
which each is found afresh), a reload makes a domain a group's member and back, and
the wall clock steps (measured: the answers' expiry moves with it)."""

from __future__ import annotations

import dataclasses
from typing import Any
from unittest import mock

from hypothesis import example, given, settings
from hypothesis import strategies as st

from sesd.config import core_settings, parse_config
from sesd.core.decode import Event
from sesd.core.deliveries import delivered
from sesd.core.domains import OTHER, domain_of
from sesd.core.events import EVENT_TYPE_INDEX
from sesd.core.kept_slots import MAX_OTHERS
from sesd.core.pipeline import Pipeline
from sesd.core.recipients import (
    bounced,
    complained,
    delayed,
    never_sent,
    suppressed,
)
from sesd.core.scopes import Slot
from sesd.core.settings import CoreSettings
from tests import factory as f

_DELIVERY = EVENT_TYPE_INDEX["delivery"]
_DELAY = EVENT_TYPE_INDEX["delivery_delay"]
_BOUNCE = EVENT_TYPE_INDEX["bounce"]
_COMPLAINT = EVENT_TYPE_INDEX["complaint"]
_BASE = core_settings(parse_config(""))
#: Three domains admitted at most (the rest count under ``other``), idle ones evicted
#: after 1,000 s, four provider answers kept (the oldest goes first), tenants counted.
_SETTINGS = dataclasses.replace(
    _BASE,
    max_tracked=3,
    idle_evict=1000.0,
    providers_max_cache=4,
    tenants=True,
    tenant_tags=("tenant",),
)
#: A reload makes two domains a group's members.
_GROUPED = dataclasses.replace(_SETTINGS, groups={"pair": ("a.example", "b.example")})
#: Another makes a consumer domain (kept while no answer comes) a group's member beside
#: one answered, and tracks a domain: labels that are fixed, not admitted.
_CONSUMERS = dataclasses.replace(
    _SETTINGS, groups={"mail": ("gmail.com", "c.example")}, track=("e.example",)
)
#: As written: in normal form, not (upper case, a trailing dot), consumer domains
#: (known by name), none usable.
_ADDRESSES = [
    "u@a.example",
    "v@a.example",
    "u@B.example",
    "u@b.example",
    "u@c.example.",
    "u@c.example",
    "u@d.example",
    "u@e.example",
    "u@gmail.com",
    "u@hotmail.fr",
    "nobody",
]
_DOMAINS = ["a.example", "b.example", "c.example", "d.example", "e.example", "gmail.com"]
_PROVIDERS = ["google", "microsoft", "unknown", "none", "other"]


class Reference(Pipeline):
    """The pipeline as it found each recipient's slots before they were kept."""

    def _domains(self, recipients: list[str]) -> tuple[Any, int]:
        known = self._labels
        domains: list[tuple[str, Slot | None] | None] = []
        unusable = 0
        for address in recipients:
            at = address.rfind("@")
            written = address[at + 1 :] if at >= 0 else ""
            found = known.get(written)
            if found is not None:
                domains.append((written, found))
            else:
                domain = domain_of(address)
                if domain is None:
                    unusable += 1
                    domains.append(None)
                else:
                    domains.append((domain, None))
        return domains, unusable

    def _count(
        self, event: Event, queue: str, domains: Any, t: float, now: float, in_windows: bool
    ) -> None:
        tenant = self._tenant_slot(event, now) if self.ledger.by_tenant is not None else None
        recipients: list[tuple[Slot, ...] | None] = [
            None if d is None else self._slots_of(d[0], d[1], now, tenant) for d in domains
        ]
        kind = event.kind
        if kind in (_BOUNCE, _COMPLAINT) and never_sent(event):
            if kind == _BOUNCE:
                suppressed(event, recipients, t, now, in_windows)
            return
        self._reputation(event, queue, kind)
        if kind == _DELIVERY:
            delivered(self.ledger, event, recipients, t, now, in_windows)
            return
        counted = in_windows and kind != _DELAY
        for slots in recipients:
            if slots is not None:
                for slot in slots:
                    slot.counts[kind] += 1
                    if counted:
                        slot.window().count(t, now, kind)
        if kind == _DELAY:
            delayed(self.ledger, event, recipients, domains, t, now, in_windows)
        elif kind == _BOUNCE:
            bounced(self.ledger, event, recipients, domains, t, now, in_windows)
        elif kind == _COMPLAINT and in_windows:
            complained(event, recipients, t, now)

    def _slots_of(
        self, domain: str, found: Slot | None, now: float, tenant: Slot | None
    ) -> tuple[Slot, ...]:
        ledger = self.ledger
        if found is None:
            found = self._labels.get(domain)
        if found is not None:
            ledger.domains.last_seen[found.name] = now
        else:
            label = ledger.domains.label(domain, now)
            found = ledger.by_domain.slot(label)
            if label != OTHER:
                self._labels[domain] = found
        providers = ledger.providers
        if providers is None:
            return (found,) if tenant is None else (found, tenant)
        cached = providers.cache.get(domain)
        if cached is not None and cached[1] > now:
            providers.latest = now
            provider = cached[0]
        else:
            provider = providers.provider(domain, now)
        slot = self._provider_slots.get(provider)
        if slot is None:
            assert ledger.by_provider is not None
            slot = self._provider_slots[provider] = ledger.by_provider.slot(provider)
        return (found, slot) if tenant is None else (found, slot, tenant)


def _event(kind: str, recipients: list[str], at: float, message: int) -> str:
    message_id = f"m{message}"
    tags = {"tenant": ["t1"]} if message % 3 == 0 else None
    if kind == "delivery":
        return f.raw(f.delivery(recipients, at=at, message_id=message_id, tags=tags))
    if kind == "delay":
        body = f.delay(recipients, at=at, expires=at + 900, message_id=message_id, tags=tags)
        return f.raw(body)
    if kind == "bounce":
        return f.raw(f.bounce(recipients, at=at, message_id=message_id, tags=tags))
    if kind == "suppressed":
        body = f.bounce(
            recipients, at=at, subkind="OnAccountSuppressionList", message_id=message_id
        )
        return f.raw(body)
    return f.raw(f.complaint(recipients, at=at))


_FEED = st.tuples(
    st.just("feed"),
    st.sampled_from(["delivery", "delivery", "delay", "bounce", "suppressed", "complaint"]),
    st.lists(st.sampled_from(_ADDRESSES), min_size=1, max_size=3),
    st.integers(0, 4),
)
#: Answers for the first domains mostly, so that a domain answered is fed again soon.
_ANSWER = st.tuples(
    st.just("answer"),
    st.sampled_from(_DOMAINS[:2] * 3 + _DOMAINS),
    st.sampled_from(_PROVIDERS),
    st.sampled_from([-1.0, 0.0, 0.5, 5.0, 100.0, 10_000.0]),
)
_STEP = st.one_of(
    _FEED,
    _FEED,
    _FEED,
    _ANSWER,
    _ANSWER,
    st.tuples(st.just("wait"), st.sampled_from([0.0, 0.5, 1.0, 30.0, 600.0, 1500.0])),
    # The clock stepping back (the host's, or a replay's events out of order).
    st.tuples(st.just("wait"), st.sampled_from([-0.5, -600.0])),
    # A step of the wall clock sesd measures: the answers' expiry moves with it.
    st.tuples(st.just("step"), st.sampled_from([-600.0, 600.0, 20_000.0])),
    st.tuples(st.just("take")),
    st.tuples(st.just("lookup")),
    st.tuples(st.just("abandon")),
    st.tuples(st.just("housekeep")),
    st.tuples(st.just("reload"), st.integers(0, 2)),
)


def _fed(*addresses: str) -> tuple[str, str, list[str], int]:
    return ("feed", "delivery", list(addresses), 1)


def _seen(pipeline: Pipeline, now: float) -> dict[str, Any]:
    ledger = pipeline.ledger
    assert ledger.providers is not None
    cache = ledger.providers
    return {
        "state": ledger.snapshot(now),
        "recipients": [dict(scope.recipients) for scope in ledger.scopes],
        "windows": [sorted(scope.windows) for scope in ledger.scopes],
        "last_seen": dict(ledger.domains.last_seen),
        "cache": (dict(cache.cache), dict(cache.wanted), set(cache.looking), cache.latest),
        "tallies": (ledger.tallies.events, ledger.tallies.invalid, ledger.tallies.late_events),
    }


@settings(max_examples=300, deadline=None)
# The bound on the domains kept: as built, and one the stream passes (a domain counted
# under ``other`` past it is found afresh, an admitted one kept all the same).
@given(steps=st.lists(_STEP, min_size=1, max_size=40), max_others=st.sampled_from([MAX_OTHERS, 4]))
# An answer that changes while the one before still holds.
@example(
    [
        ("answer", "a.example", "google", 100.0),
        _fed("u@a.example"),
        ("answer", "a.example", "microsoft", 100.0),
        _fed("u@a.example"),
    ],
    MAX_OTHERS,
)
# One that expires: the domain is wanted, its last answer counted until the next; a
# lookup cancelled makes it wanted again.
@example(
    [
        ("answer", "a.example", "google", 5.0),
        _fed("u@a.example"),
        ("wait", 5.0),
        _fed("u@a.example"),
        ("abandon",),
        _fed("v@a.example"),
        ("lookup",),
        _fed("u@a.example"),
    ],
    MAX_OTHERS,
)
# One that leaves the cache of four, the oldest out first.
@example(
    [("answer", "a.example", "google", 100.0), _fed("u@a.example")]
    + [("answer", d, "microsoft", 100.0) for d in _DOMAINS[1:5]]
    + [_fed("u@a.example")],
    MAX_OTHERS,
)
# A consumer domain's provider, known by name, until an answer comes for it.
@example(
    [_fed("u@gmail.com"), ("answer", "gmail.com", "other", 100.0), _fed("u@gmail.com")],
    MAX_OTHERS,
)
# A domain evicted idle, one counted under ``other`` admitted in its place, the first
# then under ``other``.
@example(
    [
        ("answer", "a.example", "google", 10_000.0),
        ("answer", "d.example", "yahoo", 10_000.0),
        _fed("u@a.example", "u@b.example", "u@c.example"),
        _fed("u@d.example"),
        ("wait", 1500.0),
        _fed("u@b.example", "u@c.example"),
        ("housekeep",),
        _fed("u@d.example"),
        _fed("u@a.example"),
    ],
    MAX_OTHERS,
)
# A domain the full queue of lookups left unasked is asked for by its next recipient
# once there is room (its slots were not kept meanwhile).
@example(
    [
        _fed("u@a.example"),
        _fed("u@b.example"),
        _fed("u@c.example"),
        _fed("u@c.example"),
        ("lookup",),
        _fed("u@c.example"),
    ],
    MAX_OTHERS,
)
# An answer runs out while the queue of lookups is full: its last provider counts, and
# its next recipient once there is room asks again (not kept meanwhile).
@example(
    [
        ("answer", "a.example", "google", 5.0),
        ("wait", 5.0),
        _fed("u@b.example"),
        _fed("u@c.example"),
        _fed("u@a.example"),
        ("lookup",),
        _fed("u@a.example"),
    ],
    MAX_OTHERS,
)
# A lookup under way: its domain's recipients count as unknown until it answers, and
# one abandoned is wanted again by its next recipient.
@example(
    [
        _fed("u@a.example"),
        _fed("u@b.example"),
        ("take",),
        _fed("u@a.example"),
        ("lookup",),
        _fed("u@a.example"),
        ("take",),
        _fed("u@b.example"),
        ("abandon",),
        _fed("u@b.example"),
    ],
    MAX_OTHERS,
)
# Past the bound, a domain under ``other`` is found afresh; one admitted on an eviction
# is not counted under ``other`` for it.
@example(
    [
        _fed("u@a.example", "u@b.example", "u@c.example"),
        _fed("u@d.example", "u@e.example", "u@gmail.com"),
        ("wait", 1500.0),
        _fed("u@a.example", "u@b.example"),
        ("housekeep",),
        _fed("u@d.example", "u@e.example", "u@gmail.com"),
        _fed("u@e.example"),
    ],
    4,
)
# A reload makes a domain a group's member, then its own again.
@example(
    [
        ("answer", "a.example", "google", 10_000.0),
        _fed("u@a.example"),
        ("reload", True),
        _fed("u@a.example"),
        ("reload", False),
        _fed("u@a.example"),
    ],
    MAX_OTHERS,
)
# A measured step back past an answer's TTL: the slots kept of it go with it (not held
# the step's length past it, the lookup not wanted); ahead, they hold on.
@example(
    [
        ("answer", "a.example", "google", 100.0),
        _fed("u@a.example"),
        ("step", -600.0),
        ("wait", 101.0),
        _fed("u@a.example"),
        ("answer", "b.example", "google", 10_000.0),
        _fed("u@b.example"),
        ("step", 20_000.0),
        _fed("u@b.example"),
    ],
    MAX_OTHERS,
)
def test_kept_slots_count_as_slots_found_afresh(
    steps: list[tuple[Any, ...]], max_others: int
) -> None:
    """Each step leaves the pipeline that keeps each domain's slots as the reference
    leaves its ledger and its provider cache: counters, windows, labels and when each
    was last seen, the answers, the lookups wanted, the latest question's time."""
    with mock.patch("sesd.core.pipeline.MAX_OTHERS", max_others):
        _compared(steps)


def _compared(steps: list[tuple[Any, ...]]) -> None:
    """Both pipelines fed ``steps``, compared after each."""
    pipelines = [Pipeline(_SETTINGS), Reference(_SETTINGS)]
    for pipeline in pipelines:
        # Two lookups wanted at most: a domain the full queue leaves unasked is asked
        # for again by its next recipient, its slots not kept until then.
        assert pipeline.ledger.providers is not None
        pipeline.ledger.providers._max_queue = 2
    now = f.T0
    for i, step in enumerate(steps):
        if step[0] in ("wait", "step"):
            now = _moved(pipelines, step, now)
            continue
        if step[0] == "feed":  # one body for both (a complaint's message id is new each)
            _, kind, recipients, message = step
            # Each its own time: the same message and type again is no duplicate.
            step = ("feed", _event(kind, recipients, now - 1 + i / 1000, message))
        answers = [_step(p, step, i, now) for p in pipelines]
        assert answers[0] == answers[1]
        assert _seen(pipelines[0], now) == _seen(pipelines[1], now)


def _moved(pipelines: list[Pipeline], step: tuple[Any, ...], now: float) -> float:
    """The clock after a wait, or after a measured step the pipelines are told of."""
    now += step[1]
    if step[0] == "step":
        for pipeline in pipelines:
            pipeline.ledger.stepped(step[1], now)
    return now


def _step(pipeline: Pipeline, step: tuple[Any, ...], i: int, now: float) -> object:
    """One step but a wait, taken by one pipeline; what it answered."""
    cache = pipeline.ledger.providers
    assert cache is not None
    if step[0] == "feed":
        return pipeline.feed(step[1], "q", now)
    if step[0] == "answer":
        _, domain, provider, ttl = step
        cache.remember(domain, provider, now + ttl)
        return None
    if step[0] == "take":  # a lookup starts: under way until a later step ends it
        return cache.take()
    if step[0] in ("lookup", "abandon"):
        # The DNS task answers a lookup under way (else the next domain wanted) for a
        # minute, or the lookup is cancelled (the domain may be wanted again).
        domain = min(cache.looking) if cache.looking else cache.take()
        if domain is not None and step[0] == "lookup":
            cache.answered(domain, _PROVIDERS[i % 5], now + 60, "resolved")
        elif domain is not None:
            cache.abandoned(domain)
        return domain
    if step[0] == "housekeep":
        return pipeline.housekeep(now)
    pipeline.reconfigure((_SETTINGS, _GROUPED, _CONSUMERS)[step[1]])
    return None


def test_the_reference_is_the_settings_the_stream_needs() -> None:
    """The stream reaches what it means to: a cap of three domains, a cache of four
    answers, tenants counted (else the steps above would test less than they say)."""
    pipeline = Pipeline(_SETTINGS)
    assert isinstance(_SETTINGS, CoreSettings)
    assert pipeline.ledger.domains.max_tracked == 3
    assert pipeline.ledger.providers is not None
    assert pipeline.ledger.providers.max_cache == 4
    assert pipeline.ledger.by_tenant is not None
