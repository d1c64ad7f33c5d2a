"""A state file a slightly later build wrote, and one with a damaged entry: what this
build reads of it. A later build may add a key to the document, a trailing item to
an entry or a key to a saved rule without a new format version (sesd.runtime.
state_alerts says so); this build reads the file as it would its own. An entry it
cannot read in the keys beside the alert states (a resolve owed, the sinks that
took a page) is skipped alone and counted, its alerts named when they were firing:
the rest of the file restores."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import msgspec
from structlog.testing import capture_logs

from sesd.alerting.documents import alertmanager_documents
from sesd.alerting.evaluator import Evaluator
from sesd.alerting.render import pagerduty_events
from sesd.alerting.render_slack import slack_message
from sesd.alerting.rules import Transition
from sesd.config import Config, core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.saver import StateSaver
from sesd.runtime.state import restore, snapshot
from tests import factory as f
from tests.test_render import _alert

CONFIG = (
    '[alerts]\ngroup_wait = "0s"\n'
    '[alerts.sinks.a]\ntype = "console"\n[alerts.sinks.b]\ntype = "console"\n'
    '[[alerts.rules]]\nname = "r"\nmetric = "bounce_ratio"\nwindow = "5m"\nabove = 0.2\n'
    'sinks = ["a", "b"]\n'
)

#: What a restart sends, as (kind, label, sinks): what :func:`_document` owes.
OWED = [
    ("firing", "gmail.com", ("b",)),
    ("resolved", "hotmail.com", ("a",)),
    ("resolved", "yahoo.com", ("b",)),
]


def _document() -> tuple[Config, dict[str, Any]]:
    """A file saved while gmail.com fires (sink ``a`` took the page, ``b`` did not) and
    two resolves are owed, hotmail.com's to ``a`` and yahoo.com's to ``b``."""
    config = parse_config(CONFIG)
    pipeline = Pipeline(core_settings(config))
    pipeline.feed(f.raw(f.bounce(["x@gmail.com", "y@gmail.com"])), "q", f.T0)
    evaluator = Evaluator(config.alerts, ["5m"])
    (fired,) = evaluator.evaluate(pipeline.ledger, f.T0)
    assert (fired.kind, fired.domain) == (Transition.FIRING, "gmail.com")
    evaluator.due(f.T0)
    (rule,) = config.alerts.rules
    retired = [
        (
            msgspec.structs.replace(rule, sinks=[sink]),
            replace(
                _alert(Transition.RESOLVED, label), rule="r", labels={}, severity=rule.severity
            ),
        )
        for sink, label in (("a", "hotmail.com"), ("b", "yahoo.com"))
    ]
    blob = snapshot(
        pipeline.ledger, evaluator, f.T0 + 1, [("r", "gmail.com", Transition.FIRING)],
        retired=retired, firing_owed={("r", "gmail.com"): ["b"]},
    )  # fmt: skip
    return config, msgspec.msgpack.decode(blob)


def _restarted(config: Config, data: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    """What the restore of ``data`` says, and what the restart then sends."""
    ledger = Pipeline(core_settings(config)).ledger
    after = Evaluator(config.alerts, ["5m"])
    restored = restore(msgspec.msgpack.encode(data), ledger, after, f.T0 + 2)
    after.evaluate(ledger, f.T0 + 3)
    sent = sorted(
        (n.kind.value, alert.domain, n.sinks)
        for n in after.due(f.T0 + 3, flush=True)
        for alert in n.alerts
    )
    return restored, sent


def test_the_file_as_saved_owes_what_it_should() -> None:
    config, data = _document()
    assert data["heard"] == {"r": {"gmail.com": ["a"]}}
    assert len(data["retired"]) == 2
    restored, sent = _restarted(config, data)
    assert sent == OWED
    assert restored["entries_skipped"] == {}


def test_a_later_build_s_added_keys_and_items_are_ignored() -> None:
    """A later build's file: a key this build does not know, a field added to each
    alert state, each resolve owed and each saved rule. The restart sends what the
    file owes, as from this build's own file; set aside, the file would have left
    the resolves owed unsent and paged gmail.com's sink ``a`` again."""
    config, data = _document()
    _, plain = _restarted(config, data)
    data["later_key"] = {"anything": [1, 2]}
    for states in data["alerts"].values():
        for row in states.values():
            row.append({"later": 1})
    for entry in data["retired"]:
        entry[0]["later_option"] = "x"
        for row in entry[1].values():
            row.append("later")
        entry.append(["a later item"])
    for saved in data["rules"].values():
        saved["later_option"] = 3
    restored, sent = _restarted(config, data)
    assert sent == plain == OWED
    assert restored["entries_skipped"] == {}
    assert restored["unknown_rules"] == {}


def test_a_resolve_owed_that_does_not_read_is_skipped_alone_and_named() -> None:
    """Of the two resolves owed, hotmail.com's entry does not read (too few items, a
    reason that is no text, a state of one item, a rule that is no map, no list at
    all): it is skipped, counted, and its alert named for a person to resolve by
    hand where its label reads; yahoo.com's resolve, gmail.com's firing and the
    windows restore. Refused whole, the file would have left every one unsent."""
    config, data = _document()
    first, second = data["retired"]
    rule, states, note = first
    named = {"r": ["hotmail.com"]}
    text_since = {"hotmail.com": ["firing", "then", 0, None, 0, True]}
    damaged: list[tuple[Any, dict[str, list[str]]]] = [
        ([rule, states], named),
        ([rule, states, 7], named),
        ([rule, {"hotmail.com": [1]}, note], named),
        ([rule, text_since, note], named),
        (["r", states, note], named),
        ([7, states, note], {"(unnamed)": ["hotmail.com"]}),
        ([rule, [1, 2], note], {}),
        (7, {}),
    ]
    for entry, named in damaged:
        data["retired"] = [entry, second]
        restored, sent = _restarted(config, data)
        assert sent == [OWED[0], OWED[2]], entry
        assert restored["entries_skipped"] == {"retired": 1}, entry
        assert restored["unknown_rules"] == named, entry
        assert restored["windows"] == 1
    data["retired"] = {"r": 1}
    restored, sent = _restarted(config, data)
    assert sent == [OWED[0]]
    assert restored["entries_skipped"] == {"retired": 1}


def test_sinks_that_took_a_page_that_do_not_read_are_skipped_alone() -> None:
    """The sinks that took gmail.com's page do not read: the page goes to every sink of
    the rule (as from a build that did not save them), and the rest restores."""
    config, data = _document()
    for heard, skipped in (
        ({"r": {"gmail.com": [1]}}, 1),
        ({"r": {"gmail.com": "a"}}, 1),
        ({"r": 7}, 1),
        (["r"], 1),
    ):
        data["heard"] = heard
        restored, sent = _restarted(config, data)
        assert sent == [("firing", "gmail.com", ("a", "b")), *OWED[1:]], heard
        assert restored["entries_skipped"] == {"heard": skipped}, heard


def test_labels_the_table_no_longer_held_that_do_not_read_are_skipped_alone() -> None:
    """A label among the firing alerts' the domain table no longer held that is no text:
    skipped and counted; the others restore, with the resolves owed on them."""
    config, data = _document()
    data["alerted"] = [*data["alerted"], 7, None]
    restored, sent = _restarted(config, data)
    assert sent == OWED
    assert restored["entries_skipped"] == {"alerted": 2}


def test_a_skipped_entry_is_said_at_start_and_the_file_is_not_set_aside(tmp_path: Path) -> None:
    """At start, the entry skipped is counted in the line that says what was restored,
    and the alert whose resolve it owed is named for a person; the file stays where
    it is (nothing kept aside)."""
    config, data = _document()
    data["retired"][0] = data["retired"][0][:2]
    path = tmp_path / "state.bin"
    path.write_bytes(msgspec.msgpack.encode(data))
    ledger = Pipeline(core_settings(config)).ledger
    saver = StateSaver(str(path), ledger, Evaluator(config.alerts, ["5m"]), lambda: f.T0 + 2)
    with capture_logs() as logs:
        saver.load()
    saver.release()
    (restored,) = [line for line in logs if line["event"] == "sesd.state.restored"]
    assert restored["entries_skipped"] == {"retired": 1}
    (named,) = [line for line in logs if line["event"] == "sesd.state.rules_unknown"]
    assert named["rules"] == {"r": ["hotmail.com"]}
    assert "sesd.state.ignored" not in [line["event"] for line in logs]
    assert path.exists()
    assert not list(tmp_path.glob("*.unusable*"))


def test_a_resolve_owed_whose_status_is_no_word_is_skipped_alone() -> None:
    """A resolve owed whose state's status is a list or a map (a flipped type byte)
    does not read: skipped alone and named, as any other damage of that entry, not
    the whole file set aside (its windows, gmail.com's firing and yahoo.com's
    resolve lost with it)."""
    config, data = _document()
    first, second = data["retired"]
    rule, states, note = first
    for status in (["firing"], {"firing": 1}):
        row = [status, *states["hotmail.com"][1:]]
        data["retired"] = [[rule, {"hotmail.com": row}, note], second]
        restored, sent = _restarted(config, data)
        assert sent == [OWED[0], OWED[2]], status
        assert restored["entries_skipped"] == {"retired": 1}, status
        assert restored["unknown_rules"] == {"r": ["hotmail.com"]}, status


def test_a_resolve_owed_at_no_time_a_clock_tells_is_sent_from_the_restart() -> None:
    """A resolve owed whose times are none a clock can tell (a flipped byte in a float's
    exponent: 1e300, infinity, not a number) is read as the restart's, as an alert
    state's time is: the resolve is still owed, and is sent, each sink's document of
    it written, its start no later than its end. It was skipped and named, for a
    person to send by hand, while the alert states beside it were read so."""
    for at, item in ((1e300, 1), (float("inf"), 1), (float("nan"), 2), (-1e300, 4)):
        config, data = _document()
        data["retired"][0][1]["hotmail.com"][item] = at
        ledger = Pipeline(core_settings(config)).ledger
        after = Evaluator(config.alerts, ["5m"])
        restored = restore(msgspec.msgpack.encode(data), ledger, after, f.T0 + 2)
        assert restored["entries_skipped"] == {}, (at, item)
        assert restored["unknown_rules"] == {}, (at, item)
        after.evaluate(ledger, f.T0 + 3)
        due = after.due(f.T0 + 3, flush=True)
        sent = sorted((n.kind.value, a.domain, n.sinks) for n in due for a in n.alerts)
        assert sent == OWED, (at, item)
        (resolve,) = [n for n in due if n.alerts[0].domain == "hotmail.com"]
        (alert,) = resolve.alerts
        assert 0 <= alert.since <= alert.at <= f.T0 + 2, (at, item)
        slack_message(resolve)
        pagerduty_events(resolve, "key", "sesd")
        ((document),) = alertmanager_documents(resolve, 300.0)
        assert document["startsAt"] <= document["endsAt"], (at, item)


def test_a_firing_alert_at_no_time_a_clock_tells_is_sent_from_the_restart() -> None:
    """gmail.com's firing alert state, owed to sink ``b``, saved with a start or a last
    page no clock tells (a flipped byte: not a number, minus infinity, -1e300). Read
    as the restart's time, as a step reads a start ahead of its clock, its page can be
    written. Read as saved, no sink's document of it could be (Slack's, PagerDuty's,
    Alertmanager's raised ValueError or OverflowError): the sink lost the page, every
    alert grouped with it, and each reminder after, and a last page at no time never
    fell due for its reminder."""
    for at in (float("nan"), float("-inf"), -1e300):
        for item in (1, 2):
            config, data = _document()
            data["alerts"]["r"]["gmail.com"][item] = at
            ledger = Pipeline(core_settings(config)).ledger
            after = Evaluator(config.alerts, ["5m"])
            restore(msgspec.msgpack.encode(data), ledger, after, f.T0 + 2)
            after.evaluate(ledger, f.T0 + 3)
            (page,) = [n for n in after.due(f.T0 + 3, flush=True) if n.kind.value == "firing"]
            (alert,) = page.alerts
            assert page.sinks == ("b",)
            assert alert.since == (f.T0 + 2 if item == 1 else f.T0), (at, item)
            slack_message(page)
            pagerduty_events(page, "key", "sesd")
            alertmanager_documents(page, 300.0)
            state = after.states["r"]["gmail.com"]
            assert 0 <= state.last_sent <= f.T0 + 3, (at, item)


def test_a_file_saved_at_no_time_a_clock_tells_restores(tmp_path: Path) -> None:
    """The file's own save time damaged (a flipped byte: past year 9999, not a number,
    -1e300), the rest of it sound: it restores, its save time read as the start's.
    Read as written, the start raised writing that time in its log lines (ahead of the
    clock, or of a run that did not stop cleanly) after the file had loaded: sesd
    stopped at every start, the file kept for the next to fail on."""
    for saved_at, stopped in ((1e300, True), (float("nan"), False), (-1e300, False)):
        config, data = _document()
        data["saved_at"], data["stopped"] = saved_at, stopped
        path = tmp_path / "state.bin"
        path.write_bytes(msgspec.msgpack.encode(data))
        ledger = Pipeline(core_settings(config)).ledger
        saver = StateSaver(str(path), ledger, Evaluator(config.alerts, ["5m"]), lambda: f.T0 + 2)
        with capture_logs() as logs:
            saver.load()
        saver.release()
        (restored,) = [line for line in logs if line["event"] == "sesd.state.restored"]
        assert (restored["saved_at"], restored["windows"]) == (f.T0 + 2, 1), saved_at


def test_a_save_time_no_clock_tells_is_said_unread(tmp_path: Path) -> None:
    """Read as the start's, a damaged save time is reported as ``saved_at``: the line
    must also say that the file's own did not read (a flipped byte, not a save at the
    start), or a person takes the start's time for the save's. A sound one says
    nothing more."""
    for saved_at in (1e300, float("nan"), -1e300, f.T0 + 1):
        config, data = _document()
        data["saved_at"] = saved_at
        path = tmp_path / "state.bin"
        path.write_bytes(msgspec.msgpack.encode(data))
        ledger = Pipeline(core_settings(config)).ledger
        saver = StateSaver(str(path), ledger, Evaluator(config.alerts, ["5m"]), lambda: f.T0 + 2)
        with capture_logs() as logs:
            saver.load()
        saver.release()
        (restored,) = [line for line in logs if line["event"] == "sesd.state.restored"]
        sound = saved_at == f.T0 + 1
        assert restored.get("saved_at_unread") == (None if sound else repr(saved_at))
