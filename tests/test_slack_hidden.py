"""What a Slack message holds of the alerts it has no room to show: their number, and
how many of each severity. The header names the most urgent of all the alerts, and an
on-call reading "critical" over forty warnings must see at a glance whether a
critical alert is among those not shown, in the blocks and in the fallback text (a
phone's notification), each within Slack's limits."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

import sesd.alerting.render_slack as slack_module
from sesd.alerting.alert import Notification
from sesd.alerting.render_slack import SLACK_MAX_REST, SLACK_MAX_TEXT, slack_message
from sesd.alerting.rules import Transition
from tests.test_render import T, _alert

pytestmark = pytest.mark.timeout(30)


def _mixed(warnings: int, criticals: int) -> Notification:
    """``warnings`` warning alerts, w0.example..., then ``criticals`` critical ones,
    c0.example...: the critical ones last, where a message has no room left."""
    warning = _alert(Transition.FIRING, "x")
    alerts = tuple(
        replace(warning, domain=f"w{i}.example", severity="warning") for i in range(warnings)
    ) + tuple(replace(warning, domain=f"c{i}.example") for i in range(criticals))
    return Notification(
        rule="delay-ratio-high",
        kind=Transition.FIRING,
        severity="critical",
        sinks=("slack",),
        alerts=alerts,
        at=T,
    )


def test_the_blocks_say_how_many_of_each_severity_they_do_not_show(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """47 of 60 alerts shown (Slack's 50 blocks, the text bound lifted): the last
    section counts the 13 left, the most urgent first, before naming them."""
    monkeypatch.setattr(slack_module, "SLACK_MAX_ALERTS_TEXT", 10**9)
    blocks = slack_message(_mixed(50, 10))["blocks"]
    assert len(blocks) == 50
    rest = blocks[-2]["text"]["text"]
    assert rest.startswith("…and 13 more (10 critical, 3 warning): w47.example, "), rest
    assert rest.endswith("c9.example"), rest


def test_the_count_comes_before_names_cut_at_slacks_bound() -> None:
    """Five hundred alerts: the names not shown are cut at SLACK_MAX_REST, their count
    by severity never is."""
    blocks = slack_message(_mixed(400, 100))["blocks"]
    rest = blocks[-2]["text"]["text"]
    shown = len(blocks) - 3
    assert rest.startswith(f"…and {500 - shown} more (100 critical, {400 - shown} warning): ")
    assert len(rest) <= SLACK_MAX_REST


@pytest.mark.parametrize(("warnings", "criticals"), [(1, 1), (40, 0), (40, 3), (500, 1)])
def test_the_fallback_text_says_how_many_of_each_severity_it_does_not_hold(
    warnings: int, criticals: int
) -> None:
    """The fallback text holds the headlines that fit in Slack's bound and ends in how
    many it does not hold, by severity; every alert is either shown or counted."""
    text = slack_message(_mixed(warnings, criticals))["text"]
    assert len(text) <= SLACK_MAX_TEXT
    headlines = text.count("[FIRING]")
    hidden = warnings + criticals - headlines
    if not hidden:
        assert "more" not in text, text
        return
    hidden_critical = min(criticals, hidden)
    counts = [(hidden_critical, "critical"), (hidden - hidden_critical, "warning")]
    said = ", ".join(f"{n} {severity}" for n, severity in counts if n)
    assert text.endswith(f"; …and {hidden} more ({said})"), text[-200:]


def test_the_fallback_text_is_bounded_as_escaped() -> None:
    """Headlines are measured as Slack gets them, escaped: a rule named with ``&``
    (five characters escaped) must not push the count past Slack's bound, where the
    cut would take it off; no ``&`` reaches Slack but as an entity."""
    alerts = tuple(replace(a, rule="r&&&&&&&&&&&&&&&") for a in _mixed(40, 3).alerts)
    text = slack_message(replace(_mixed(40, 3), alerts=alerts))["text"]
    assert len(text) <= SLACK_MAX_TEXT
    assert re.search(r"; …and \d+ more \(3 critical, \d+ warning\)$", text), text[-200:]
    assert text.count("&") == text.count("&amp;"), text


def test_the_alerts_not_shown_are_counted_by_urgency_not_by_name() -> None:
    """Warnings and infos not shown: the warnings are counted first (more urgent),
    though "info" comes first as a word."""
    notification = _mixed(60, 0)
    alerts = tuple(
        replace(a, severity="info") if i % 2 else a for i, a in enumerate(notification.alerts)
    )
    notification = replace(notification, alerts=alerts, severity="warning")
    rest = slack_message(notification)["blocks"][-2]["text"]["text"]
    assert re.match(r"…and \d+ more \(\d+ warning, \d+ info\): ", rest), rest[:80]


def test_the_fallback_text_of_several_severities_says_each_alerts() -> None:
    """A warning and a critical alert: the phone's notification says which is which,
    as the blocks do."""
    text = slack_message(_mixed(1, 1))["text"]
    assert "warning · " in text, text
    assert "critical · " in text, text


@pytest.mark.parametrize("pad", range(12))
def test_the_fallback_text_holds_every_headline_that_fits_and_the_whole_count(
    pad: int,
) -> None:
    """Domains one character longer at a time move where the bound falls: the text
    always ends in the whole count, within the bound, and holds as many headlines as
    fit before it (one more, with the count of those after it, would pass the bound)."""
    notification = _mixed(40, 3)
    alerts = tuple(
        replace(a, domain="x" * pad + a.domain) for a in notification.alerts
    )  # fmt: skip
    text = slack_message(replace(notification, alerts=alerts))["text"]
    assert len(text) <= SLACK_MAX_TEXT
    match = re.search(r"; …and (\d+) more \((\d+) critical, (\d+) warning\)$", text)
    assert match, text[-200:]
    hidden = int(match[1])
    shown = text.count("[FIRING]")
    assert shown + hidden == 43
    kept = text[: match.start() + 2]
    nxt = alerts[shown]
    alone = slack_message(replace(notification, alerts=(nxt,)))["text"]
    head = f"{nxt.severity} · " + alone.split(": ", 1)[1]
    left = hidden - 1
    critical = min(3, left)
    parts = [f"{n} {s}" for n, s in ((critical, "critical"), (left - critical, "warning")) if n]
    count = f"…and {left} more ({', '.join(parts)})"
    assert len(kept) + len(head) + 2 + len(count) > SLACK_MAX_TEXT
