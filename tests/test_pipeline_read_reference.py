"""The write path's steps written inline for speed answer as the calls they replaced:
an event's two timestamps read by decode_event itself (unix_seconds, kept here as the
reference), whether an event is in the windows (WindowSpec.holds), a recipient's
provider read from a holding answer (ProviderCache.provider), and a Delivery's end of
a delay an earlier build keyed (PendingDelays.resolved asked before the call)."""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta, timezone

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sesd.config import core_settings, parse_config
from sesd.core.decode import Event, decode_body
from sesd.core.dedup import stable_key
from sesd.core.events import EVENT_TYPE_INDEX, Invalid
from sesd.core.pipeline import Pipeline
from sesd.core.provider_cache import ProviderCache
from tests import factory as f

NOW = f.T0 + 10
DELIVERY = EVENT_TYPE_INDEX["delivery"]
_SETTINGS = core_settings(parse_config(""))


def reference_unix_seconds(text: str) -> float:
    """sesd.core.timestamps.unix_seconds as decode_event called it for both timestamps
    (the reference)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


#: Timestamps in SES's form and in every other ISO 8601 form fromisoformat reads (with
#: an offset, with none, a space for the T, whole seconds to microseconds), years at
#: both ends, and text that is no timestamp.
_TIMESTAMP = st.one_of(
    st.builds(
        lambda moment, offset, spec, sep, zulu: (
            moment.replace(tzinfo=None if offset is None else timezone(timedelta(minutes=offset)))
            .isoformat(sep=sep, timespec=spec)
            .replace("+00:00", "Z" if zulu else "+00:00")
        ),
        st.datetimes(),
        st.none() | st.integers(-23 * 60, 23 * 60),
        st.sampled_from(["auto", "seconds", "milliseconds", "microseconds"]),
        st.sampled_from(["T", " "]),
        st.booleans(),
    ),
    st.sampled_from(["", "yesterday", "2027-13-01T00:00:00Z", "2027-01-15T08:00:00.000Zz"]),
    st.text(alphabet="0123456789-:TZ+. ", max_size=26),
)


def _expected(sent: str, at: str | None) -> tuple[float, float] | None:
    try:
        first = reference_unix_seconds(sent)
        return first, first if at is None else reference_unix_seconds(at)
    except ValueError:
        return None


@settings(max_examples=300, deadline=None)
@given(sent=_TIMESTAMP, at=st.none() | _TIMESTAMP)
def test_decoded_times_as_the_reference(sent: str, at: str | None) -> None:
    """An event's time and send time as unix_seconds gave them, or invalid where it
    raised; a delivery without its own timestamp is at its send."""
    event = f.delivery(["a@x.example"])
    event["mail"]["timestamp"] = sent
    if at is None:
        del event["delivery"]["timestamp"]
    else:
        event["delivery"]["timestamp"] = at
    decoded = decode_body(f.raw(event))
    expected = _expected(sent, at)
    if expected is None:
        assert isinstance(decoded, Invalid)
        assert decoded.reason == "schema"
    else:
        assert isinstance(decoded, Event)
        assert (decoded.sent, decoded.time) == expected


@settings(max_examples=200, deadline=None)
@given(
    buckets=st.integers(-2, 34),
    within=st.sampled_from([0.0, 0.001, 60.0, 119.999]),
    fraction=st.sampled_from([0.0, 0.001, 0.5, 0.999]),
)
def test_an_event_is_late_as_the_widest_window_holds_it(
    buckets: int, within: float, fraction: float
) -> None:
    """An event some buckets of the widest window (two minutes) before the clock (after
    it, when negative) is in the windows as WindowSpec.holds() has it, at the edges of
    its buckets and of the window too; late otherwise."""
    pipeline = Pipeline(_SETTINGS)
    assert pipeline.ledger.widest.width == 120.0
    now = 1_800_000_000.0 + fraction * 120
    at = now - buckets * 120 - within
    decoded = decode_body(f.raw(f.delivery(["a@x.example"], at=at)))
    assert isinstance(decoded, Event)
    pipeline.apply(decoded, "q", now)
    # Counted at its own time, or at the clock's when that is ahead of the clock.
    in_windows = pipeline.ledger.widest.holds(min(decoded.time, now), now)
    assert pipeline.ledger.tallies.late_events == (not in_windows)


@settings(max_examples=200, deadline=None)
@given(
    domain=st.sampled_from(["corp.example", "gmail.com"]),
    answer=st.none() | st.sampled_from(["microsoft", "none", "unknown", "other"]),
    until=st.sampled_from([-60.0, -0.001, 0.0, 0.001, 60.0]),
    wanted=st.booleans(),
    looking=st.booleans(),
)
def test_a_recipients_provider_as_the_cache_answers(
    domain: str, answer: str | None, until: float, wanted: bool, looking: bool
) -> None:
    """A recipient counts under what ProviderCache.provider() answers, and leaves the
    cache as that call leaves it (the latest question's time, the lookups wanted), for
    an answer that holds, one that ends at exactly now or before, a negative answer,
    an ``unknown`` one, none at all, and a consumer domain the cache answers otherwise."""
    pipeline = Pipeline(_SETTINGS)
    cache = pipeline.ledger.providers
    assert cache is not None
    reference = ProviderCache(cache.max_cache)
    for each in (cache, reference):
        each.latest = 1.0
        if answer is not None:
            each.remember(domain, answer, NOW + until)
        if wanted:
            each.wanted[domain] = None
        if looking:
            each.looking.add(domain)
    provider = reference.provider(domain, NOW)
    pipeline.feed(f.raw(f.delivery([f"a@{domain}"], at=NOW - 5)), "q", NOW)
    assert pipeline.ledger.by_provider is not None
    counted = {k: v[DELIVERY] for k, v in pipeline.ledger.by_provider.recipients.items()}
    assert counted == {provider: 1}
    assert (cache.latest, cache.cache, cache.wanted) == (
        reference.latest,
        reference.cache,
        reference.wanted,
    )
    assert cache.known(domain, NOW) == reference.known(domain, NOW)


@pytest.mark.parametrize(
    ("address", "domain"),
    [("anna@Bücher.de", "xn--bcher-kva.de"), ("bo@one.example.", "one.example")],
)
def test_a_delay_an_earlier_build_recorded_is_timed_at_its_delivery(
    address: str, domain: str
) -> None:
    """A delay an earlier build keyed by the address lower-cased (a state file from
    before the upgrade) ends at its Delivery, as at its Bounce, and is timed (100 s)."""
    pipeline = Pipeline(core_settings(parse_config("[providers]\nenabled = false\n")))
    pending = pipeline.ledger.pending
    pending.delayed(stable_key("m1", address.lower()), (domain,), NOW - 300, NOW + 3600)
    assert pending.count(domain, NOW) == 1
    pipeline.feed(f.raw(f.delivery([address], at=NOW - 200, message_id="m1")), "q", NOW)
    assert pending.count(domain, NOW) == 0
    figures = pipeline.ledger.windows[domain].figures(0, NOW)
    assert figures.delay_duration.count == 1
    assert figures.delay_duration.p50 == pytest.approx(100_000, rel=0.1)


@pytest.mark.parametrize(
    "event",
    [
        f.delivery(["a@x.example", "b@x.example", "a@x.example"]),
        f.bounce(["a@x.example", "B@y.example"]),
        f.delay(["a@x.example"], expires=f.T0 + 3600),
        f.complaint(["a@x.example"]),
    ],
    ids=["delivery", "bounce", "delay", "complaint"],
)
def test_a_decoded_event_is_in_no_reference_cycle(event: dict[str, object]) -> None:
    """An Event is not tracked by the collector, which is safe only while nothing it
    holds leads back to it (a cycle through it would never be freed): nothing does,
    for each kind of event with recipients, entries and an expiry."""
    decoded = decode_body(f.raw(event))
    assert isinstance(decoded, Event)
    assert not gc.is_tracked(decoded)
    seen: set[int] = set()
    todo = _held(decoded)
    assert todo
    while todo:
        item = todo.pop()
        assert item is not decoded
        if id(item) not in seen:
            seen.add(id(item))
            todo.extend(_held(item))


def _held(item: object) -> list[object]:
    """What ``item`` refers to: a struct's fields (one not tracked shows the collector
    none), or what the collector sees of a list or a dict."""
    if isinstance(item, msgspec.Struct):
        return [getattr(item, name) for name in item.__struct_fields__]
    return list(gc.get_referents(item))
