"""A Slack message at its bounds: the phone's fallback text holding exactly as many
headlines as fit (the text exactly at Slack's 3,000 characters included), the
alerts' sections filling exactly the message's share, links exactly at half a
section, and link URLs holding the characters that end Slack's ``<url|text>``.
Pure: the message as sesd builds it, compared with what the bounds allow."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from sesd.alerting.alert import Alert, Notification
from sesd.alerting.render_slack import SLACK_MAX_SECTION, SLACK_MAX_TEXT, slack_message
from sesd.alerting.rules import Transition
from sesd.core.text import slack_plain
from sesd.core.windows import Breakdown
from tests.test_render import T, _alert
from tests.test_slack_hidden import _mixed

pytestmark = pytest.mark.timeout(30)

#: Block Kit's layout blocks and text objects (Slack refuses a message with any other:
#: invalid_blocks).
_BLOCKS = {"section", "context", "header", "divider", "actions", "image", "input", "rich_text"}
_TEXTS = {"mrkdwn", "plain_text"}


def _most_that_fit(notification: Notification) -> str:
    """The fallback text as its promise reads, slowly: the title, then the most
    headlines (each as a one-alert message says it, led by its severity where the
    alerts carry several) for which the text with the count of the others, most urgent
    first, stays within SLACK_MAX_TEXT."""
    alerts = notification.alerts
    mixed = len({a.severity for a in alerts}) > 1
    heads = []
    for alert in alerts:
        alone = slack_message(replace(notification, alerts=(alert,)))["text"]
        title, head = alone.split(" 1 domain: ", 1)
        heads.append((f"{alert.severity} · " if mixed else "") + head)
    title = f"{title} {len(alerts)} domains: "
    rank = {"critical": 0, "error": 1, "warning": 2, "info": 3}
    best = ""
    for shown in range(len(alerts) + 1):
        if shown == len(alerts):
            text = title + "; ".join(heads)
        else:
            counts = Counter(a.severity for a in alerts[shown:])
            said = ", ".join(f"{counts[s]} {s}" for s in sorted(counts, key=rank.__getitem__))
            more = f"…and {len(alerts) - shown} more ({said})"
            text = title + "".join(head + "; " for head in heads[:shown]) + more
        if len(text) <= SLACK_MAX_TEXT:
            best = text
    return best


@pytest.mark.parametrize(
    ("warnings", "criticals", "padded"),
    [
        (35, 0, -1),  # the whole list passes exactly 3,000 characters
        (36, 0, 0),  # a headline and the count of the one after it
        (40, 3, 0),  # the same, alerts of two severities
        (42, 0, 0),  # the count past the headline one digit shorter than before it
        (31, 3, 0),  # the count past it naming one severity fewer
    ],
)
def test_the_fallback_text_holds_as_many_headlines_as_fit_to_the_character(
    warnings: int, criticals: int, padded: int
) -> None:
    """One alert's domain one character longer at a time, over a headline's length:
    the bound falls at every place within the text, exactly at 3,000 characters among
    them. The phone's notification holds each time as many headlines as fit with the
    count of the others (all of them, with no count, where all fit), never one
    fewer, and never passes the bound."""
    base = _mixed(warnings, criticals)
    exact = 0
    for pad in range(90):
        alerts = list(base.alerts)
        alerts[padded] = replace(alerts[padded], domain="x" * pad + alerts[padded].domain)
        notification = replace(base, alerts=tuple(alerts))
        expected = _most_that_fit(notification)
        assert slack_message(notification)["text"] == expected, pad
        exact += len(expected) == SLACK_MAX_TEXT
    assert exact, "no domain length put the text exactly at the bound"


def test_the_section_naming_the_alerts_not_shown_is_one_slack_shows() -> None:
    """Sixty alerts, some not shown: every block is of a type Slack knows (it refuses
    the whole message otherwise), and the alerts not shown are named in a section of
    mrkdwn text, before the closing context."""
    blocks = slack_message(_mixed(60, 0))["blocks"]
    assert all(block["type"] in _BLOCKS for block in blocks), blocks
    rest = blocks[-2]
    assert (rest["type"], rest["text"]["type"]) == ("section", "mrkdwn")
    assert rest["text"]["text"].startswith("…and ")
    assert blocks[-1]["type"] == "context"
    assert all(e["type"] in _TEXTS for e in blocks[-1]["elements"])


def test_a_domain_not_shown_styles_nothing_in_the_section_naming_it() -> None:
    """A recipient domain written with Slack's style marks, among the alerts not
    shown: named as look-alikes, as where it is shown, so that it slants nothing."""
    notification = _mixed(60, 0)
    alerts = (*notification.alerts[:-1], replace(notification.alerts[-1], domain="_x_.example"))
    rest = slack_message(replace(notification, alerts=alerts))["blocks"][-2]["text"]["text"]
    assert rest.endswith(", " + slack_plain("_x_.example")), rest[-80:]
    assert "_x_" not in rest


def _sized(domain: str, length: int) -> Alert:
    """An alert whose Slack section is ``length`` characters (its diagnostic sized;
    past 3,000 the section is cut to 3,000), with no links."""

    def section(alert: Alert) -> str:
        notification = Notification(
            rule="r", kind=Transition.FIRING, severity="critical", sinks=(), alerts=(alert,),
            at=T,
        )  # fmt: skip
        text: str = slack_message(notification)["blocks"][1]["text"]["text"]
        return text

    plain = replace(_alert(Transition.FIRING, domain), runbook_url=None, dashboard_url=None)
    alert = replace(plain, breakdown=Breakdown(diagnostics=[("x", 1)]))
    rest = len(section(alert)) - 1
    return replace(plain, breakdown=Breakdown(diagnostics=[("x" * (length - rest), 1)]))


@pytest.mark.parametrize("last", [2999, 3000, 3001])
def test_alerts_filling_exactly_the_messages_share_are_all_shown(last: int) -> None:
    """Three alerts whose sections are 3,000 characters each but the last (sized at
    2,999, 3,000, or past it: cut to 3,000): they fill at most the message's 9,000
    characters of alerts, and all three are shown; a fourth is counted."""
    alerts = (_sized("a.example", 3000), _sized("b.example", 3000), _sized("c.example", last))
    notification = Notification(
        rule="r", kind=Transition.FIRING, severity="critical", sinks=(), alerts=alerts, at=T
    )
    blocks = slack_message(notification)["blocks"]
    assert [len(b["text"]["text"]) for b in blocks[1:-1]] == [3000, 3000, min(last, 3000)]
    assert len(blocks) == 5  # the title, three alerts, the closing context
    more = (*alerts, _sized("d.example", 10))
    blocks = slack_message(replace(notification, alerts=more))["blocks"]
    assert len(blocks) == 6
    assert blocks[-2]["text"]["text"] == "…and 1 more (1 critical): d.example"


@pytest.mark.parametrize(
    ("length", "kept"), [(1000, True), (1200, True), (1500, True), (1501, False)]
)
def test_links_up_to_half_a_section_are_kept(length: int, kept: bool) -> None:
    """A runbook link whose line is up to half a section (1,500 characters) is kept
    after the alert's text; a longer one is left out, the text whole."""
    url = "https://runbooks.example/" + "x" * (length - 11 - len("https://runbooks.example/"))
    alert = replace(_alert(Transition.FIRING, "a.example"), runbook_url=url, dashboard_url=None)
    notification = Notification(
        rule="r", kind=Transition.FIRING, severity="critical", sinks=(), alerts=(alert,), at=T
    )
    text = slack_message(notification)["blocks"][1]["text"]["text"]
    line = f"\n<{url}|runbook>"
    assert len(line) == length
    assert text.endswith(line) is kept
    assert len(text) <= SLACK_MAX_SECTION


def test_a_link_whose_url_holds_slacks_delimiters_reaches_its_whole_url() -> None:
    """A dashboard link of a Loki query (``|=``) and a JSON-ish ``<...>``: ``|``, ``<``
    and ``>`` would end Slack's ``<url|text>`` early (a link to part of the URL, the
    rest shown as text); each is percent-encoded, as a browser reads it."""
    url = 'https://grafana.example/explore?q={job="ses"}|="a.example"&x=<1>'
    alert = replace(_alert(Transition.FIRING, "a.example"), runbook_url=None, dashboard_url=url)
    notification = Notification(
        rule="r", kind=Transition.FIRING, severity="critical", sinks=(), alerts=(alert,), at=T
    )
    text = slack_message(notification)["blocks"][1]["text"]["text"]
    encoded = 'https://grafana.example/explore?q={job="ses"}%7C="a.example"&x=%3C1%3E'
    assert text.endswith(f"\n<{encoded}|dashboard>"), text[-120:]
