"""The state file's part-sent webhook notifications read back, entry by entry, without a
receiver: which entries go on (and with what times, age and refusals), which are
skipped and counted, and how the alerts of those that go on are taken as their sink's.
The restart through a real receiver is tests/test_webhook_parts_restart.py."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import msgspec
import pytest

from sesd.alerting.documents import webhook_documents
from sesd.alerting.part_saved import MOST_SAVED_BYTES, SavedPart, config_digest, url_digest
from sesd.alerting.rules import AlertState, Status, Transition
from sesd.config import RuleConfig, parse_config
from sesd.runtime.state_parts import _narrowed, read_parts, taken
from tests.test_sinks import alert, notification
from tests.test_webhook_parts_restart import _text

URL = "http://127.0.0.1:9/hook"
CONFIG = parse_config(_text(URL)).alerts  # notification_max_age 1h
SAVED_AT = 1.8e9 + 100


def _entry(**changed: Any) -> dict[str, Any]:
    """A part-sent firing of one domain to the hook, as the file keeps it, with ``changed``."""
    wide = replace(notification(alert("a.example")), sinks=("hook",))
    made, _ = webhook_documents(wide)
    part = SavedPart(
        "hook", url_digest(URL), wide.rule, wide.kind, wide.severity, wide.sinks, wide.at,
        wide.silence, wide.mutes, wide.alerts, made.ends, made.at, made.id, 0, (), 10.0,
    )  # fmt: skip
    entry: dict[str, Any] = msgspec.to_builtins(part)
    entry.update(changed)
    return entry


def _read(*entries: Any, now: float = SAVED_AT, step: float = 0.0) -> tuple[list[Any], int]:
    return read_parts({"part_sent": list(entries)}, CONFIG, SAVED_AT, now, step)


def test_a_part_sent_key_that_is_no_list_is_one_entry_skipped() -> None:
    """A damaged key (a map where the list was) reads none, and counts one."""
    assert read_parts({"part_sent": {}}, CONFIG, SAVED_AT, SAVED_AT, 0.0) == ([], 1)


@pytest.mark.parametrize(
    "damage",
    [
        {"ends": []},  # no parts
        {"ends": [1, 1]},  # a part of no alerts
        {"ends": [2]},  # more alerts than it has
        {"age": -1.0},
        {"age": float("inf")},
        {"age": float("nan")},
        {"next": 1},
        {"refused": [["gone", ""]]},  # a refusal of a part not yet sent
    ],
)
def test_a_damaged_entry_is_skipped_counted_and_the_next_read(damage: dict[str, Any]) -> None:
    """Each damaged entry (a flipped byte, a hand's edit) is skipped and counted, and
    the entries after it are read all the same."""
    resumed, skipped = _read(_entry(**damage), _entry(**damage), _entry())
    assert (len(resumed), skipped) == (1, 2)


def test_an_entry_to_another_sink_or_too_old_leaves_the_next_read() -> None:
    """An entry to another URL, or past notification_max_age, is not gone on with (its
    alerts go whole); the one after it is. One of exactly the age limit, or of no age
    at all, still goes on."""
    other = _entry(url=url_digest("http://127.0.0.1:9/other"))
    old = _entry(age=3600.5)
    resumed, skipped = _read(other, old, _entry(age=3600.0), _entry(age=0.0))
    assert ([r.age for r in resumed], skipped) == ([3600.0, 0.0], 0)


def test_the_downtime_counts_in_the_age_and_a_clock_behind_the_save_adds_none() -> None:
    """Saved 10 s after its first try, read 50 s after the save: 60 s old. Read with the
    clock behind the save time (a step back), it is as old as saved."""
    assert _read(_entry(), now=SAVED_AT + 50)[0][0].age == 60.0
    assert _read(_entry(), now=SAVED_AT - 50)[0][0].age == 10.0


def test_a_clock_step_moves_every_time_and_a_time_no_clock_tells_reads_as_now() -> None:
    """A step of the clock at the start moves the notification's and its alerts' times
    (its age does not move); a time that is none (a damaged file) reads as now."""
    (each,), _ = _read(_entry(), now=SAVED_AT + 5, step=-30.0)
    first = alert("a.example")
    assert each.notification.at == 1.8e9 - 30
    assert [(a.at, a.since) for a in each.notification.alerts] == [
        (first.at - 30, first.since - 30)
    ]
    alerts = [dict(msgspec.to_builtins(first), at=float("nan"), since=-1.0)]
    (each,), _ = _read(_entry(at=float("nan"), alerts=alerts), now=SAVED_AT + 5)
    assert each.notification.at == SAVED_AT + 5
    assert [(a.at, a.since) for a in each.notification.alerts] == [(SAVED_AT + 5,) * 2]


def test_each_domain_s_mute_line_goes_on_with_its_notification() -> None:
    """The parts not taken yet carry each alert's line to mute its own domain, as the
    parts taken did: the notification is read back with its mutes as saved (a stop
    before the outboxes open saves them again; the outbox that goes on with it makes
    them anew from the config: tests/test_reload_mute_line.py)."""
    mutes = [["a.example", "sesd silence add --domain a.example"]]
    (each,), _ = _read(_entry(silence="sesd silence add --domain '*'", mutes=mutes))
    assert each.notification.mutes == (("a.example", "sesd silence add --domain a.example"),)
    assert each.notification.silence == "sesd silence add --domain '*'"


def test_a_refusal_read_back_is_cleaned_and_bounded() -> None:
    """The refusals of the parts before ``next`` go on as saved, their text and hint
    each cleaned of controls and cut to 1,000 characters (a damaged file's are a
    stranger's)."""
    first = alert("a.example")
    wide = replace(notification(first, alert("b.example")), sinks=("hook",))
    refused = [["4\x1b[2Jxx" + "y" * 2000, "h\x00" + "z" * 2000]]
    entry = _entry(alerts=msgspec.to_builtins(wide.alerts), ends=[1, 2], next=1,
                   refused=refused)  # one alert a part, the first refused  # fmt: skip
    (each,), _ = _read(entry)
    (permanent,) = each.refused
    text, hint = str(permanent), permanent.hint
    assert (len(text), len(hint)) == (1000, 1000)
    assert text.startswith("4")
    assert "\x1b" not in text
    assert hint.startswith("h")
    assert "\x00" not in hint


def test_the_bytes_kept_are_counted_entry_after_entry() -> None:
    """Two entries of 5 and 4 MiB: the first is read, the second (past the 8 MiB the
    file keeps of them all) skipped; one of exactly 8 MiB is read alone."""

    def sized(size: int) -> dict[str, Any]:
        entry = _entry(silence="")
        entry["silence"] = "x" * (size - len(msgspec.msgpack.encode(entry)) - 4)  # str 32 header
        assert len(msgspec.msgpack.encode(entry)) == size
        return entry

    resumed, skipped = _read(sized(5 << 20), sized(4 << 20))
    assert (len(resumed), skipped) == (1, 1)
    assert _read(sized(MOST_SAVED_BYTES))[1] == 0


RULE = RuleConfig(name="delays", metric="delay_ratio", window="5m", above=0.2,
                  sinks=["hook", "slack"])  # fmt: skip


def test_a_firing_is_taken_by_its_sink_only_when_the_file_keeps_it_unsent() -> None:
    """A firing going on in the hook counts as heard by it for the alert the file keeps
    firing and not sent since the same time; not for one notified, resolved, of
    another start, or of a rule the file keeps nothing of."""
    domains = ["a.example", "b.example", "c.example", "d.example", "e.example"]
    wide = replace(notification(*(alert(d) for d in domains)), sinks=("hook",))
    (each,), _ = _read(_entry(alerts=msgspec.to_builtins(wide.alerts), ends=[5]))
    since = wide.alerts[0].since
    states = {
        "delays": {
            "a.example": AlertState(Status.FIRING, since),
            "b.example": AlertState(Status.FIRING, since, notified=True),
            "c.example": AlertState(Status.INACTIVE, since),
            "d.example": AlertState(Status.FIRING, since - 1),
        }
    }
    heard: dict[tuple[str, str], list[str]] = {("delays", "a.example"): ["slack"]}
    assert taken([each, each], states, heard, []) == []
    assert heard == {("delays", "a.example"): ["slack", "hook"]}
    assert taken([each], {}, heard, []) == []
    repeat = each._replace(notification=replace(each.notification, kind=Transition.REPEAT))
    heard.clear()
    taken([repeat], states, heard, [])
    assert heard == {}


def test_a_resolve_going_on_in_a_sink_is_owed_only_the_others() -> None:
    """The resolves owed of two domains under a rule of two sinks; the hook goes on with
    a.example's: a.example's is owed the slack sink alone, b.example's both."""
    a, b = AlertState(Status.INACTIVE, 5.0), AlertState(Status.INACTIVE, 6.0)
    ended = {"hook": {("delays", "a.example", 5.0)}}
    assert _narrowed((RULE, {"a.example": a, "b.example": b}, "note"), ended) == [
        (msgspec.structs.replace(RULE, sinks=["slack"]), {"a.example": a}, "note"),
        (RULE, {"b.example": b}, "note"),
    ]
    alone = msgspec.structs.replace(RULE, sinks=["hook"])
    assert _narrowed((alone, {"a.example": a}, "note"), ended) == []


def test_a_pagerduty_page_reads_back_from_its_event_and_a_webhook_shaped_one_is_skipped() -> None:
    """A page part-sent to a PagerDuty sink (its events its parts, no ``id`` nor ``at``)
    goes on from its event, as the sink keeps it (no documents made); one to the same
    sink with an ``id`` and ``at`` (a damaged file: a webhook's shape), or whose parts
    are not one event each, is skipped and counted, and one to another key is not gone
    on with."""
    from tests.test_pagerduty_parts_restart import KEY
    from tests.test_pagerduty_parts_restart import _text as paged

    config = parse_config(paged("https://events.pagerduty.com/v2/enqueue")).alerts
    digest = config_digest(config.named_sinks()["pd"])
    assert digest is not None
    two = replace(notification(alert("a.example"), alert("b.example")), sinks=("pd",))
    page = msgspec.to_builtins(SavedPart(
        "pd", digest, two.rule, two.kind, two.severity, two.sinks, two.at, two.silence,
        two.mutes, two.alerts, (1, 2), "", "", 1, (), 10.0,
    ))  # fmt: skip
    made, _ = webhook_documents(two)
    shaped = {**page, "ends": list(made.ends), "made_at": made.at, "id": made.id, "next": 0}
    other = {**page, "url": url_digest(f"pagerduty {KEY} another")}
    data = {"part_sent": [page, shaped, {**page, "ends": [2], "next": 0}, other]}
    resumed, skipped = read_parts(data, config, SAVED_AT, SAVED_AT, 0.0)
    assert [(r.sink, r.progress) for r in resumed] == [("pd", (1, None))]
    assert skipped == 2


def test_an_entry_of_a_sink_of_another_type_now_is_not_gone_on_with_nor_counted() -> None:
    """The config retyped a sink across the restart (the webhook ``hook`` now a
    PagerDuty sink of that name, or ``pd`` now a webhook): its entry is to another
    receiver, not gone on with (its alerts go whole), and not counted as unread as a
    damaged one is: the file is sound."""
    from tests.test_pagerduty_parts_restart import _text as paged

    pagerduty = paged("https://events.pagerduty.com/v2/enqueue")
    retyped = parse_config(pagerduty.replace("[alerts.sinks.pd]", "[alerts.sinks.hook]")
                           .replace('sinks = ["pd"]', 'sinks = ["hook"]')).alerts  # fmt: skip
    assert read_parts({"part_sent": [_entry()]}, retyped, SAVED_AT, SAVED_AT, 0.0) == ([], 0)
    digest = config_digest(parse_config(pagerduty).alerts.named_sinks()["pd"])
    page = _entry(sink="hook", url=digest, ends=[1], made_at="", id="")
    assert read_parts({"part_sent": [page]}, CONFIG, SAVED_AT, SAVED_AT, 0.0) == ([], 0)
