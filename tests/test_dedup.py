"""Duplicate suppression: the same event in several messages counts once; memory is bounded."""

from __future__ import annotations

import pytest

from sesd.config import core_settings, parse_config
from sesd.core.decode import Event, decode_body
from sesd.core.dedup import DuplicateFilter, event_key
from sesd.core.events import EVENT_TYPE_INDEX
from sesd.core.pipeline import Pipeline
from sesd.runtime.daemon import Daemon
from tests import factory as f

NOW = f.T0 + 10


def test_seen_within_the_horizon() -> None:
    """A key seen once is a duplicate afterwards, for at least the horizon."""
    seen = DuplicateFilter(horizon=3600, max_entries=1000)
    assert not seen.seen(1, 0)
    assert seen.seen(1, 10)
    assert not seen.seen(2, 3599)
    assert seen.seen(1, 3600 + 10)  # previous generation still remembered
    assert not seen.seen(3, 7300)  # rotates: the first generation becomes the previous one
    assert seen.seen(1, 7300)
    assert not seen.seen(4, 11_000)  # rotates again: the first generation is dropped
    assert not seen.seen(1, 11_000)


def test_memory_is_bounded() -> None:
    """However many distinct keys arrive, at most max_entries are held."""
    seen = DuplicateFilter(horizon=3600, max_entries=100)
    for key in range(10_000):
        seen.seen(key, 0)
    assert len(seen) <= 100
    assert seen.seen(9_999, 0)


def test_event_keys_are_the_same_in_every_version() -> None:
    """Keys go into the state file: the digest of a given event must not change
    between releases, or duplicates would slip through across an upgrade."""
    event = decode_body(f.raw(f.delivery(["a@one.com", "b@two.com"], message_id="m-1")))
    assert isinstance(event, Event)
    assert event_key(event) == 0xEE88AD3AE9888DFA
    delay = decode_body(f.raw(f.delay(["a@one.com"], message_id="m-1")))
    assert isinstance(delay, Event)
    assert event_key(delay) != event_key(event)


def test_event_keys_do_not_depend_on_recipient_order() -> None:
    """SNS may re-deliver an event whose recipients come in another order: same key."""
    one = decode_body(f.raw(f.delivery(["a@one.com", "b@two.com"], message_id="m-1")))
    two = decode_body(f.raw(f.delivery(["b@two.com", "a@one.com"], message_id="m-1")))
    other = decode_body(f.raw(f.delivery(["a@one.com", "c@two.com"], message_id="m-1")))
    assert isinstance(one, Event)
    assert isinstance(two, Event)
    assert isinstance(other, Event)
    assert event_key(one) == event_key(two) != event_key(other)


def test_generations_hold_half_the_entries_each() -> None:
    """max_entries 4: a generation closes at its second key. After keys 1-4, 3 and 4 are
    remembered and 1 and 2 are not."""
    seen = DuplicateFilter(horizon=3600, max_entries=4)
    for key in (1, 2, 3, 4):
        assert not seen.seen(key, 0)
    assert len(seen) == 2
    assert seen.seen(3, 0)
    assert seen.seen(4, 0)
    assert not seen.seen(1, 0)


def test_a_restore_after_max_entries_was_lowered_keeps_the_newest_within_it() -> None:
    """A filter of 1,000 keys saved with 900 (500 closed, 400 in the open generation),
    restored after ``dedup_max_entries`` was lowered to 100: it holds at most 100 keys,
    all of the newest generation (the older is the first to go), and stays within 100
    as keys keep coming. The same size restored holds every key."""
    before = DuplicateFilter(horizon=3600, max_entries=1000)
    for key in range(900):
        assert not before.seen(key, 0)
    saved = before.snapshot()
    same = DuplicateFilter(horizon=3600, max_entries=1000)
    same.restore(saved)
    assert len(same) == 900
    lowered = DuplicateFilter(horizon=3600, max_entries=100)
    lowered.restore(saved)
    assert 0 < len(lowered) <= 100
    held = lowered.snapshot()
    assert all(key >= 500 for key in [*held["current"], *held["previous"]])  # type: ignore[misc]
    for key in range(10_000, 10_500):
        lowered.seen(key, 1)
        assert len(lowered) <= 100


def test_a_restore_whose_open_generation_is_full_closes_it_and_forgets_the_one_before() -> None:
    """Saved with an open generation of exactly the restoring filter's half: it closes
    as it would at its next key, so the generation before it is forgotten at once and
    the filter holds max_entries / 2 keys, not max_entries."""
    before = DuplicateFilter(horizon=3600, max_entries=20)
    for key in range(15):  # keys 0-9 closed, 10-14 open
        before.seen(key, 0)
    restored = DuplicateFilter(horizon=3600, max_entries=10)
    restored.restore(before.snapshot())
    assert len(restored) == 5
    assert restored.snapshot()["current"] == []
    assert not restored.seen(0, 1)
    assert restored.seen(14, 1)


def test_a_restore_of_a_filter_never_started_starts_at_the_next_key() -> None:
    """A filter that had keys restores one saved before any key: its first key opens a
    generation then, which closes a horizon later."""
    empty = DuplicateFilter(horizon=60, max_entries=100).snapshot()
    restored = DuplicateFilter(horizon=60, max_entries=100)
    restored.seen(1, 0.0)
    restored.restore(empty)
    assert restored.snapshot() == {"start": None, "current": [], "previous": []}
    assert not restored.seen(2, 100.0)
    assert restored.snapshot()["start"] == 100.0
    assert not restored.seen(3, 160.0)
    saved = restored.snapshot()
    assert (saved["start"], saved["current"], sorted(saved["previous"])) == (160.0, [], [2, 3])  # type: ignore[call-overload]


def test_the_smallest_bound_is_never_passed() -> None:
    """max_entries 2 (or 3): a generation holds one key, closed at the next key added
    (the first key only starts it): never more than two keys kept, the oldest forgotten
    first. With 5, two keys a generation: never more than four."""
    for entries in (2, 3):
        seen = DuplicateFilter(horizon=3600, max_entries=entries)
        for key in (1, 2, 3):
            assert not seen.seen(key, 0)
            assert len(seen) <= 2
        assert seen.seen(3, 0)
        assert not seen.seen(1, 0)
    seen = DuplicateFilter(horizon=3600, max_entries=5)
    for key in range(10):
        assert not seen.seen(key, 0)
        assert len(seen) <= 4


def _delivery_delays(pipeline: Pipeline, domain: str) -> int:
    return pipeline.ledger.by_domain.recipients[domain][EVENT_TYPE_INDEX["delivery_delay"]]


def test_a_recipient_delayed_twice_counts_twice_and_a_redelivered_message_once() -> None:
    """SES reports a recipient delayed at 08:00 and again at 08:10 (the retry failed
    too): two delays, both counted. The 08:10 report arriving twice (SQS and SNS are
    at least once) is counted once."""
    pipeline = Pipeline(core_settings(parse_config("")))
    first = f.raw(f.delay(["u@slow.example"], at=f.T0, message_id="m-1"))
    again = f.raw(f.delay(["u@slow.example"], at=f.T0 + 600, message_id="m-1"))
    outcomes = [pipeline.feed(body, "q", f.T0 + 900).outcome for body in (first, again, again)]
    assert outcomes == ["processed", "processed", "duplicate"]
    assert _delivery_delays(pipeline, "slow.example") == 2


def break_after_delivery(monkeypatch: pytest.MonkeyPatch) -> list[tuple[object, ...]]:
    """A bug for one release: the pipeline raises once it wrote a delivery. Returns the
    calls it gets."""
    from sesd.core.deliveries import delivered as real

    calls: list[tuple[object, ...]] = []

    def written_then_broken(*args: object) -> None:
        calls.append(args)
        real(*args)  # type: ignore[arg-type]
        raise RuntimeError("a bug")

    monkeypatch.setattr("sesd.core.pipeline.delivered", written_then_broken)
    return calls


def test_an_event_a_bug_stopped_partway_counts_once_however_often_sqs_retries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The pipeline raises on a delivery after writing it (a bug, for one release): the
    message stays in its queue and SQS delivers it again, as often as its receive count
    allows. What was written before the bug is never written again (a bounce counted
    five times would read as five, and page): each redelivery is a duplicate."""
    calls = break_after_delivery(monkeypatch)
    pipeline = Pipeline(core_settings(parse_config("")))
    body = f.raw(f.delivery(["u@fine.example"], at=f.T0))
    with pytest.raises(RuntimeError):
        pipeline.feed(body, "q", f.T0 + 1)
    for retry in range(4):
        assert pipeline.feed(body, "q", f.T0 + 31 + retry).outcome == "duplicate"
    assert len(calls) == 1
    delivered = pipeline.ledger.by_domain.recipients["fine.example"]
    assert delivered[EVENT_TYPE_INDEX["delivery"]] == 1


def test_two_opens_of_one_message_count_twice() -> None:
    """A recipient opens the same message at 08:00:30 and 09:00:30: two opens. A
    duplicate of the second is not a third."""
    pipeline = Pipeline(core_settings(parse_config("")))
    opens = []
    for at in (f.T0, f.T0 + 3600):
        body = f.simple("Open", ["u@reader.example"], at=at)
        body["mail"]["messageId"] = "m-2"
        opens.append(f.raw(body))
    outcomes = [pipeline.feed(body, "q", f.T0 + 4000).outcome for body in (*opens, opens[1])]
    assert outcomes == ["processed", "processed", "duplicate"]
    counts = pipeline.ledger.by_domain.recipients["reader.example"]
    assert counts[EVENT_TYPE_INDEX["open"]] == 2


def test_clicks_on_two_links_in_one_millisecond_count_twice() -> None:
    """A link scanner follows every link of a message at once: two clicks of one
    message at the same millisecond on different links are two clicks; the same click
    delivered twice is one."""
    pipeline = Pipeline(core_settings(parse_config("")))
    clicks = []
    for link in ("https://example.com/a", "https://example.com/b"):
        body = f.simple("Click", ["u@reader.example"])
        body["click"]["link"] = link
        body["mail"]["messageId"] = "m-3"
        clicks.append(f.raw(body))
    outcomes = [pipeline.feed(body, "q", f.T0 + 60).outcome for body in (*clicks, clicks[1])]
    assert outcomes == ["processed", "processed", "duplicate"]


@pytest.mark.parametrize("kind", ["Open", "Click"])
def test_two_hosts_opening_or_clicking_in_one_millisecond_count_twice(kind: str) -> None:
    """SES does not say which of a group message's recipients opened or clicked: two
    scanner hosts following one link of it in the same millisecond differ only by
    address and program. Both count (each for every recipient); the same event
    delivered twice is still one."""
    pipeline = Pipeline(core_settings(parse_config("")))
    bodies = []
    for host, agent in (("192.0.2.7", "ScannerA/1.0"), ("198.51.100.9", "ScannerB/2.0")):
        body = f.simple(kind, ["u@reader.example", "v@reader.example"])
        body[kind.lower()].update(ipAddress=host, userAgent=agent, link="https://example.com/a")
        body["mail"]["messageId"] = "m-4"
        bodies.append(f.raw(body))
    outcomes = [pipeline.feed(body, "q", f.T0 + 60).outcome for body in (*bodies, bodies[1])]
    assert outcomes == ["processed", "processed", "duplicate"]
    counts = pipeline.ledger.by_domain.recipients["reader.example"]
    assert counts[EVENT_TYPE_INDEX[kind.lower()]] == 4


@pytest.mark.parametrize("entries", [2, 100])
def test_dedup_max_entries_bounds_the_duplicate_filter(entries: int) -> None:
    """[ingest] dedup_max_entries bounds what the duplicate filter holds."""
    pipeline = Pipeline(core_settings(parse_config(f"[ingest]\ndedup_max_entries = {entries}\n")))
    for i in range(500):
        pipeline.feed(f.raw(f.delivery([f"u{i}@one.example"], at=NOW)), "q", NOW)
    assert len(pipeline.ledger.dedup) <= entries


def test_a_body_that_is_no_email_event_is_the_same_in_bytes_or_text() -> None:
    """A body that is no email event (a subscription's confirmation, skipped) is known
    again by its bytes, whether it comes as bytes (as replay reads a file) or as text
    (as SQS gives it): the second is a duplicate."""
    pipeline = Pipeline(core_settings(parse_config("")))
    body = '{"Type": "SubscriptionConfirmation", "MessageId": "m1"}'
    assert pipeline.feed(body.encode(), "q", f.T0).outcome == "skipped"
    assert pipeline.feed(body, "q", f.T0).outcome == "duplicate"


def test_a_clock_stepped_ahead_forgets_no_key_seen_moments_before() -> None:
    """Keys 1 and 2 are seen as a generation closes an hour after it began; five seconds
    later NTP steps the clock two hours ahead (it was behind), and the ledger is told.
    A new key six seconds after the first ones closes nothing (the open generation is
    six seconds old, not two hours): 1 and 2 seen again are duplicates. Stepped back
    as far, the filter rotates as real time passes (a horizon on), not two hours later."""
    ledger = Pipeline(core_settings(parse_config(""))).ledger
    seen, hour = ledger.dedup, ledger.horizon
    assert not seen.seen(1, 0.0)
    assert not seen.seen(2, hour)  # closes the first generation, 2 with it
    ledger.stepped(7200.0, hour + 7205.0)
    assert not seen.seen(3, hour + 7206.0)
    assert [seen.seen(key, hour + 7206.0) for key in (1, 2)] == [True, True]
    ledger.stepped(-7200.0, hour + 6.0)
    assert not seen.seen(4, 2 * hour + 6.0)  # closes the open generation (3, 4)
    assert not seen.seen(5, 3 * hour + 6.0)  # and the next: 3 and 4 are gone
    assert not seen.seen(3, 3 * hour + 7.0)


def test_the_daemon_tells_the_duplicate_filter_of_a_step_it_measures() -> None:
    """The daemon's own clock: an event at 00:00 and another an hour later (which closes
    the filter's first generation, both in it); NTP then steps the wall clock two hours
    ahead, five seconds on. The daemon measures the step at its next read, and SQS's
    copies of both events, arriving then, are duplicates."""
    config = parse_config('[[queues]]\nurl = "http://127.0.0.1:9/q"\nname = "q"\n')
    wall, mono = [f.T0], [1000.0]
    daemon = Daemon(config, clock=lambda: wall[0], monotonic=lambda: mono[0])
    first = f.raw(f.delivery(["a@one.example"], at=f.T0, message_id="m1"))
    assert daemon.pipeline.feed(first, "q", daemon.clock()).outcome == "processed"
    wall[0], mono[0] = wall[0] + 3600, mono[0] + 3600
    second = f.raw(f.delivery(["b@one.example"], at=wall[0], message_id="m2"))
    assert daemon.pipeline.feed(second, "q", daemon.clock()).outcome == "processed"
    wall[0], mono[0] = wall[0] + 7205, mono[0] + 5
    third = f.raw(f.delivery(["c@one.example"], at=wall[0] - 7200, message_id="m3"))
    assert daemon.pipeline.feed(third, "q", daemon.clock()).outcome == "processed"
    assert daemon.clock.steps == 1
    outcomes = [daemon.pipeline.feed(body, "q", daemon.clock()).outcome for body in (first, second)]
    assert outcomes == ["duplicate", "duplicate"]
