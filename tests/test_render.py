"""What each sink receives, exactly: the PagerDuty events, the Slack message, the
console lines, the Alertmanager alerts and the webhook document of a grouped firing
notification (one alert at the recipient's MTA with its links and labels, one inside
SES) and of a resolve. The expected payloads in tests/fixtures/render/ were
reviewed field by field; they are the formats' specification, and a change to a
format changes them on purpose (``SESD_RENDER_UPDATE=1`` rewrites them)."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

import sesd.alerting.render as render_module
import sesd.alerting.render_slack as slack_module
from sesd.alerting.alert import Alert, Notification, notification_of, percent
from sesd.alerting.documents import alertmanager_documents, webhook_document
from sesd.alerting.evaluator import Evaluator
from sesd.alerting.render import console_text, describe, details, headline, pagerduty_events
from sesd.alerting.render_slack import SLACK_MAX_BLOCKS, slack_message
from sesd.alerting.rules import Status, Transition
from sesd.alerting.silences import silence_command
from sesd.config import core_settings, parse_config
from sesd.config.alerts import AlertsConfig, RuleConfig
from sesd.core.pipeline import Pipeline
from sesd.core.scopes import ACCOUNT, PROVIDER, TENANT
from sesd.core.windows import Breakdown
from tests import factory as f
from tests.test_rules import CONFIG, feed_spike

FIXTURES = Path(__file__).parent / "fixtures" / "render"
T = 1_800_000_000.0


def _alert(kind: Transition, domain: str, *, internal: bool = False, value: float = 0.25) -> Alert:
    return Alert(
        rule="delay-ratio-high",
        metric="delay_ratio",
        domain=domain,
        kind=kind,
        severity="critical",
        window="15m",
        value=value,
        threshold=0.05,
        clear_threshold=0.03,
        at=T + 60,
        since=T + 60 if kind is Transition.FIRING else T,  # a firing is told as it fires
        counts={"send": 0, "delivery": 30, "delivery_delay": 10, "bounce": 1, "complaint": 0},
        breakdown=Breakdown(
            delay_types=[("TransientCommunicationFailure", 8), ("InternalFailure", 2)],
            statuses=[("4.4.1", 8)],
            diagnostics=[("smtp; 421 4.4.1 Unable to connect", 8)],
            mtas=[("dsn; a8-70.smtp-out.amazonses.com", 10)],
            message_ids=["m-2", "m-1"],
            sources=["arn:aws:ses:eu-west-1:123456789012:identity/example.com"],
            config_sets=["marketing"],
            causes=[] if internal else [("connection", 8), ("ses_internal", 2)],
        ),
        stage="inside SES" if internal else "SES -> recipient MTA",
        regions=["eu-west-1"],
        accounts=["123456789012"],
        internal=internal,
        runbook_url=None if internal else f"https://runbooks.example/delay?domain={domain}",
        dashboard_url=None if internal else f"https://grafana.example/d/sesd?var-domain={domain}",
        labels={} if internal else {"team": "mail"},
    )


#: The rule of the fixtures' notifications.
RULE = RuleConfig(
    name="delay-ratio-high",
    metric="delay_ratio",
    window="15m",
    above=0.05,
    clear_below=0.03,
    severity="critical",
    sinks=["slack", "pagerduty", "console"],
)


def _notification(kind: Transition) -> Notification:
    """The fixtures' notification, built as the daemon builds one (its mute lines, for
    the group and for each domain, by the evaluator)."""
    alerts: tuple[Alert, ...]
    if kind is Transition.RESOLVED:
        alerts = (_alert(kind, "outlook.com", value=0.01),)
    else:
        alerts = (_alert(kind, "outlook.com"), _alert(kind, "gmail.com", internal=True))
    mute = Evaluator(AlertsConfig(), []).mute
    return notification_of(RULE, kind, tuple(RULE.sinks), alerts, T + 60, mute)


def _render(notification: Notification) -> dict[str, Any]:
    """What each sink receives for ``notification``."""
    return {
        "pagerduty": [json.loads(e) for e in pagerduty_events(notification, "KEY", "mail-1")],
        "slack": slack_message(notification, "mail-1"),
        "console": console_text(notification).splitlines(),
        "alertmanager": alertmanager_documents(notification, 60.0, host="mail-1"),
        "webhook": json.loads(webhook_document(notification, "mail-1")),
    }


def _rendered(kind: Transition) -> dict[str, Any]:
    return _render(_notification(kind))


def _matches_fixture(name: str, got: Any) -> bool:
    """Whether ``got`` is the reviewed fixture ``name`` (rewritten first with
    SESD_RENDER_UPDATE=1)."""
    path = FIXTURES / f"{name}.json"
    if os.environ.get("SESD_RENDER_UPDATE") == "1":
        path.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n")
    return bool(got == json.loads(path.read_text()))


@pytest.mark.parametrize("kind", [Transition.FIRING, Transition.REPEAT, Transition.RESOLVED])
def test_each_sink_receives_exactly_the_documented_payload(kind: Transition) -> None:
    """The whole payload, every key and every word, for each kind of notification."""
    assert _matches_fixture(kind.value, _rendered(kind))


@pytest.mark.parametrize("kind", [Transition.FIRING, Transition.REPEAT])
def test_the_fixtures_pagerduty_events_each_mute_their_own_domain(kind: Transition) -> None:
    """The fixtures show what users get: the daemon gives each PagerDuty event the
    line that mutes its own domain (the group's, ``--domain '*'``, would mute every
    domain of the rule from one incident), so the fixture's events say so."""
    fixture = json.loads((FIXTURES / f"{kind.value}.json").read_text())
    for event in fixture["pagerduty"]:
        domain = event["payload"]["component"]
        line = silence_command("sesd silence add", "delay-ratio-high", [domain])
        assert event["payload"]["custom_details"]["mute"] == line


def test_the_webhook_document_has_the_keys_readme_shows() -> None:
    """README's example webhook document (the one JSON block it has) names every key of
    the document and of each alert, and only those: a receiver is written from it."""
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"```json\n(.*?)```", readme, re.S)
    shown = json.loads(block)
    sent = json.loads(webhook_document(_notification(Transition.FIRING)))
    assert set(shown) == set(sent)
    assert set(shown["alerts"][0]) == set(sent["alerts"][0])
    assert sent["test"] is False


def test_a_canary_alert_says_which_stage_and_which_canaries() -> None:
    """A canary_missing alert: its stage, notes and the missing message ids, in every
    sink, and nothing of the domain breakdowns."""
    alert = Alert(
        rule="canary-missing",
        metric="canary_missing",
        domain="canary",
        kind=Transition.FIRING,
        severity="critical",
        window="15m",
        value=2.0,
        threshold=0.0,
        clear_threshold=0.0,
        at=T + 60,
        since=T + 60,
        counts={"sent": 5, "back": 3, "missing": 2},
        breakdown=Breakdown(message_ids=["c-4", "c-5"]),
        stage="event pipeline",
        regions=[],
        internal=False,
        notes=("nothing arrived on queue events since the canary was sent",),
    )
    notification = Notification(
        rule="canary-missing",
        kind=Transition.FIRING,
        severity="critical",
        sinks=("slack",),
        alerts=(alert,),
        at=T + 60,
    )
    assert _matches_fixture("canary", _render(notification))


def _varied_alert(kind: Transition, metric: str, value: float | None, **fields: Any) -> Alert:
    base = _alert(kind, "example.org")
    return dataclasses.replace(base, metric=metric, value=value, **fields)


def test_every_variant_of_an_alert_reads_right() -> None:
    """A repeat of: a quantile alert with no data left and an empty breakdown (dashes,
    "no data", seconds); a below-rule on the delivery ratio with four diagnostics (three
    shown), two identities, regions and configuration sets, its dominant cause mostly
    only hinted at by the texts. And a resolved canary alert, which no longer lists
    missing canaries."""
    quiet = _varied_alert(
        Transition.REPEAT,
        "processing_p95_seconds",
        None,
        breakdown=Breakdown(),
        regions=[],
        stage="inside SES (processing time)",
    )
    below = _varied_alert(
        Transition.REPEAT,
        "delivery_ratio",
        0.8,
        threshold=0.95,
        clear_threshold=0.97,
        rising=False,
        breakdown=Breakdown(
            diagnostics=[(f"smtp; 451 4.7.{i} try later", 5 - i) for i in range(4)],
            causes=[("recipient_server", 4), ("greylisted", 2)],
            hinted_causes=[("recipient_server", 3)],
            sources=["arn:aws:ses:eu-west-1:1:identity/a", "arn:aws:ses:us-east-1:1:identity/b"],
            config_sets=["marketing", "billing"],
        ),
        regions=["eu-west-1", "us-east-1"],
        accounts=["123456789012", "210987654321"],
    )
    repeat = Notification(
        rule="delay-ratio-high",
        kind=Transition.REPEAT,
        severity="warning",
        sinks=("slack",),
        alerts=(quiet, below),
        at=T + 60,
    )
    canary = dataclasses.replace(
        _alert(Transition.RESOLVED, "canary"),
        rule="canary-missing",
        metric="canary_missing",
        value=0.0,
        threshold=0.0,
        clear_threshold=0.0,
        counts={"sent": 5, "back": 5, "missing": 0},
        breakdown=Breakdown(message_ids=["c-4"]),
        stage="event pipeline",
        notes=("the last canary came back in 2.1 s",),
    )
    resolved = Notification(
        rule="canary-missing",
        kind=Transition.RESOLVED,
        severity="critical",
        sinks=("slack",),
        alerts=(canary,),
        at=T + 60,
    )
    got = {"repeat": _render(repeat), "canary_resolved": _render(resolved)}
    assert _matches_fixture("varied", got)


def _wide(alerts: int) -> Notification:
    """One rule firing on ``alerts`` domains at once, d0.example, d1.example..."""
    return Notification(
        rule="delay-ratio-high",
        kind=Transition.FIRING,
        severity="critical",
        sinks=("slack",),
        alerts=tuple(_alert(Transition.FIRING, f"d{i}.example") for i in range(alerts)),
        at=T,
    )


@pytest.mark.parametrize(
    ("ratio", "text"),
    [
        (0.25, "25.0%"),
        (0.045, "4.5%"),
        (0.01, "1.0%"),
        (0.0099, "0.99%"),
        (0.00995, "1.0%"),  # rounded up to 1%: one decimal, as above it
        (0.00067, "0.067%"),
        (0.0004, "0.04%"),
        (0.001, "0.1%"),
        (0.0, "0.0%"),
    ],
)
def test_a_ratio_keeps_the_digits_that_tell_it_from_its_threshold(ratio: float, text: str) -> None:
    """AWS's complaint levels are 0.1% and 0.5%: a complaint rate of 0.067% against a
    rule above 0.04% must not read "0.1% (above 0.0%)". A figure not past the threshold
    is told against the rule's side of it ("0.04% (fires above 0.04%")."""
    assert percent(ratio) == text
    alert = dataclasses.replace(
        _alert(Transition.FIRING, "x"), metric="complaint_ratio", value=ratio, threshold=0.0004
    )
    side = "above" if ratio > 0.0004 else "fires above"
    assert f"complaint_ratio {text} ({side} 0.04%, 15m window)" in console_text(
        Notification(
            rule=alert.rule,
            kind=alert.kind,
            severity="critical",
            sinks=("console",),
            alerts=(alert,),
            at=alert.at,
        )
    )


@pytest.mark.parametrize(("alerts", "shown"), [(48, 48), (49, 47)])
def test_slack_blocks_at_the_limit(
    alerts: int, shown: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With room for the text (the text bound lifted), title + 48 sections + context is
    exactly Slack's 50 blocks; one alert more and the last section says how many
    more, of which severities, naming them."""
    monkeypatch.setattr(slack_module, "SLACK_MAX_ALERTS_TEXT", 10**9)
    blocks = slack_message(_wide(alerts))["blocks"]
    assert len(blocks) == 50  # at the limit either way
    sections = [b for b in blocks[1:-1] if b["text"]["text"].startswith("*d")]
    assert len(sections) == shown
    if shown < alerts:
        assert blocks[-2]["text"]["text"] == "…and 2 more (2 critical): d47.example, d48.example"


@pytest.mark.parametrize("alerts", [1, 5, 12, 48, 49, 200])
def test_a_slack_message_stays_within_slacks_limits_and_names_every_alert(alerts: int) -> None:
    """At most 50 blocks, and at most SLACK_MAX_ALERTS_TEXT characters of alert sections
    (Slack refuses a message whose blocks hold more than about 12,000: a wide incident
    would lose its whole message); the first alert always shows, and every alert not
    shown is named in the section after the last one shown."""
    from sesd.alerting.render_slack import SLACK_MAX_ALERTS_TEXT, SLACK_MAX_REST

    blocks = slack_message(_wide(alerts))["blocks"]
    assert len(blocks) <= 50
    sections = [b["text"]["text"] for b in blocks[1:-1] if b["text"]["text"].startswith("*d")]
    assert sections
    assert sum(map(len, sections)) <= SLACK_MAX_ALERTS_TEXT
    shown = len(sections)
    if shown == alerts:
        assert not blocks[-2]["text"]["text"].startswith("…and")
        return
    rest = blocks[-2]["text"]["text"]
    assert len(rest) <= SLACK_MAX_REST
    hidden = alerts - shown
    assert rest.startswith(f"…and {hidden} more ({hidden} critical): d{shown}.example")
    if alerts < 100:
        assert rest.endswith(f"d{alerts - 1}.example")
        assert rest.count(".example") == alerts - shown


def test_links_too_long_to_fit_beside_the_text_are_left_out() -> None:
    """A runbook URL of 1,600 characters would push a section past 3,000 (Slack refuses
    it): the links are left out, the text is whole."""
    long = "https://runbooks.example/" + "x" * 1600
    alert = dataclasses.replace(_alert(Transition.FIRING, "a.example"), runbook_url=long)
    notification = Notification(
        rule="r", kind=Transition.FIRING, severity="critical", sinks=("slack",),
        alerts=(alert,), at=T,
    )  # fmt: skip
    (section,) = [b for b in slack_message(notification)["blocks"] if "text" in b][1:]
    assert len(section["text"]["text"]) <= 3000
    plain = dataclasses.replace(alert, runbook_url=None, dashboard_url=None)
    (without,) = [
        b for b in slack_message(dataclasses.replace(notification, alerts=(plain,)))["blocks"]
        if "text" in b
    ][1:]  # fmt: skip
    assert section == without  # the alert's text whole, and nothing else


@pytest.mark.parametrize(("length", "cut"), [(2999, False), (3000, False), (3001, True)])
def test_a_section_at_slacks_3000_characters(length: int, cut: bool) -> None:
    """A section of up to 3,000 characters goes as it is; longer is cut to exactly 3,000
    with an ellipsis."""

    def section(diagnostic: str) -> str:
        alert = dataclasses.replace(
            _alert(Transition.FIRING, "a.example"),
            breakdown=Breakdown(diagnostics=[(diagnostic, 1)]),
            runbook_url=None,
            dashboard_url=None,
        )
        notification = Notification(
            rule="r", kind=Transition.FIRING, severity="info", sinks=(), alerts=(alert,), at=T
        )
        text: str = slack_message(notification)["blocks"][1]["text"]["text"]
        return text

    rest = len(section("x")) - 1  # the section without its diagnostic
    text = section("x" * (length - rest))
    assert len(text) == min(length, 3000)
    assert text.endswith("…") == cut


def test_stranger_text_styles_nothing_in_slack() -> None:
    """A recipient domain, a diagnostic, an MTA, an SMTP status and a delay type
    written with Slack's style marks (``*bold*``, ``_italic_``, ``~strike~``): in the
    Slack message none of them bolds, slants or strikes anything (Slack has no escape
    for them: each is sent as a look-alike), while sesd's own bold stays bold; the
    other sinks get the text as it is."""
    styled = "*bold* _italic_ ~strike~"
    alert = dataclasses.replace(
        _alert(Transition.FIRING, "_x_.example"),
        breakdown=Breakdown(
            diagnostics=[(f"smtp; 550 {styled}", 3)],
            mtas=[("mx_*_1.example", 3)],
            statuses=[("5.7.1 ~x~", 3)],
            delay_types=[("Type_a_", 3)],
        ),
    )
    notification = Notification(
        rule="r", kind=Transition.FIRING, severity="info", sinks=(), alerts=(alert,), at=T
    )
    message = slack_message(notification)
    section = message["blocks"][1]["text"]["text"]
    shown = "\u2217bold\u2217 \u02cditalic\u02cd \u223cstrike\u223c"
    assert f"smtp; 550 {shown}" in section
    assert "mx\u02cd\u2217\u02cd1.example" in section
    assert "5.7.1 \u223cx\u223c" in section
    assert "Type\u02cda\u02cd" in section
    assert section.startswith("*\u02cdx\u02cd.example*: delay_ratio *25.0%*")
    assert "\u02cdx\u02cd.example" in message["text"]
    for raw in ("*bold*", "_italic_", "~strike~", "~x~", "mx_", "Type_", "*_x_."):
        assert raw not in section, raw
    assert "_x_" not in message["text"]
    assert styled in describe(alert)


def test_the_senders_own_names_in_slack_are_as_written_to_be_copied() -> None:
    """A tenant's name, a configuration set, an identity ARN and an account are the
    sender's own, read to be pasted into SES's console, its CLI or a support case: in
    Slack they keep their '_' (no look-alike), where a recipient domain's is replaced."""
    arn = "arn:aws:ses:eu-west-1:123456789012:identity/mail_out.example"
    alert = dataclasses.replace(
        _alert(Transition.FIRING, "acme_corp"),
        scope=TENANT,
        accounts=["prod_main"],
        breakdown=Breakdown(config_sets=["marketing_emails"], sources=[arn]),
    )
    rest = dataclasses.replace(alert, domain="beta_co")
    message = slack_message(
        Notification(
            rule="r", kind=Transition.FIRING, severity="info", sinks=(), alerts=(alert,), at=T
        )
    )
    section = message["blocks"][1]["text"]["text"]
    assert section.startswith("*tenant acme_corp*: delay_ratio")
    for name in ("marketing_emails", arn, "prod_main"):
        assert name in section, name
    assert "tenant acme_corp" in message["text"]
    many = slack_message(
        Notification(
            rule="r",
            kind=Transition.FIRING,
            severity="info",
            sinks=(),
            alerts=(alert,) * (SLACK_MAX_BLOCKS - 2) + (rest,),
            at=T,
        )
    )
    more = [
        b["text"]["text"] for b in many["blocks"] if b.get("text", {}).get("text", "")[:4] == "…and"
    ]
    assert len(more) == 1, more
    assert "beta_co" in more[0]


def test_the_mute_line_in_slack_is_the_command_as_run() -> None:
    """A recipient domain written with Slack's italic marks (``_x_.example``: a domain
    may hold '_') in the ``sesd silence add`` line under a Slack alert: the line is
    sent as text Slack does not format, character for character, so no part of it is
    slanted, and what the on-call engineer copies is the command that mutes that
    domain (a look-alike there would name another domain)."""
    for domain in ("_x_.example", "_a_b_.example"):
        line = silence_command("sesd silence add", "delay-ratio-high", [domain])
        alert = _alert(Transition.FIRING, domain)
        notification = Notification(
            rule="delay-ratio-high",
            kind=Transition.FIRING,
            severity="critical",
            sinks=(),
            alerts=(alert,),
            at=T,
            silence=line,
        )
        closing = slack_message(notification)["blocks"][-1]["elements"]
        assert closing[-1] == {"type": "plain_text", "text": f"mute: {line}", "emoji": False}
        assert f"--domain {domain} " in line


def test_a_cut_section_splits_no_entity() -> None:
    """A diagnostic of ampersands (each sent as ``&amp;``) cut at 3,000 characters, the
    bound falling at each place in an entity: the section ends before the entity, never
    in it (Slack would show ``&am`` and the ellipsis)."""
    for pad in range(5):
        alert = dataclasses.replace(
            _alert(Transition.FIRING, "a.example"),
            breakdown=Breakdown(diagnostics=[("x" * pad + "&" * 1000, 1)]),
            runbook_url=None,
            dashboard_url=None,
        )
        notification = Notification(
            rule="r", kind=Transition.FIRING, severity="info", sinks=(), alerts=(alert,), at=T
        )
        text: str = slack_message(notification)["blocks"][1]["text"]["text"]
        assert 2995 <= len(text) <= 3000
        assert text.endswith("&amp;…"), text[-8:]


def test_a_cut_section_keeps_its_links_within_3000_characters() -> None:
    """Links come after the alert's text: a long text is cut so that they still fit."""
    alert = dataclasses.replace(
        _alert(Transition.FIRING, "a.example"),
        breakdown=Breakdown(diagnostics=[("x" * 5000, 1)]),
    )
    notification = Notification(
        rule="r", kind=Transition.FIRING, severity="info", sinks=(), alerts=(alert,), at=T
    )
    text: str = slack_message(notification)["blocks"][1]["text"]["text"]
    assert len(text) == 3000
    assert text.endswith(
        "…\n<https://runbooks.example/delay?domain=a.example|runbook> · "
        "<https://grafana.example/d/sesd?var-domain=a.example|dashboard>"
    )


def test_a_pagerduty_event_over_512_kb_drops_its_details() -> None:
    """Details that would take an event over PagerDuty's 512 KB are replaced by a note;
    the summary, severity and dedup key stay."""
    huge = Breakdown(diagnostics=[(f"{i:06d} " + "d" * 190, 1) for i in range(3000)])
    alert = dataclasses.replace(_alert(Transition.FIRING, "a.example"), breakdown=huge)
    notification = Notification(
        rule="r", kind=Transition.FIRING, severity="info", sinks=(), alerts=(alert,), at=T
    )
    (body,) = pagerduty_events(notification, "KEY", "sesd-test")
    assert len(body) <= 512 * 1024
    event = json.loads(body)
    assert event["payload"]["custom_details"] == {"note": "details too large; see Slack"}
    assert event["dedup_key"] == "sesd:delay-ratio-high:a.example"
    assert event["payload"]["severity"] == "critical"


def test_times_are_utc_whatever_the_machines_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under another local time zone every payload is the same, in UTC."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        assert _rendered(Transition.FIRING) == json.loads((FIXTURES / "firing.json").read_text())
    finally:
        monkeypatch.undo()
        time.tzset()


def test_a_grouped_notification_is_one_pagerduty_event_per_alert() -> None:
    """Three domains firing within group_wait are one notification; PagerDuty gets three
    events, each with its own dedup_key, none left out."""
    config = parse_config(CONFIG)
    pipeline, evaluator = (
        Pipeline(core_settings(config)),
        Evaluator(config.alerts, ["5m", "15m", "1h"]),
    )
    for domain in ("a.example", "b.example", "c.example"):
        feed_spike(pipeline, domain, f.T0, 6, 4)
    evaluator.evaluate(pipeline.ledger, f.T0)
    (notification,) = evaluator.due(f.T0 + 30)
    events = pagerduty_events(notification, "key", "sesd")
    keys = [json.loads(e)["dedup_key"] for e in events]
    assert keys == ["sesd:delays:a.example", "sesd:delays:b.example", "sesd:delays:c.example"]
    assert all(json.loads(e)["event_action"] == "trigger" for e in events)
    assert evaluator.states["delays"]["c.example"].status is Status.FIRING


@pytest.mark.parametrize(
    ("noted", "hinted", "marked"),
    [(4, [("rate_limited", 2)], True), (5, [("rate_limited", 2)], False), (2, [], False)],
)
def test_a_cause_is_marked_as_hinted_when_half_its_recipients_were(
    noted: int, hinted: list[tuple[str, int]], marked: bool
) -> None:
    """Half or more of the dominant cause's recipients only hinted at: the cause line
    and PagerDuty's summary say so; fewer (none of them: another cause's do not
    count), and they read as any other cause."""
    breakdown = Breakdown(
        causes=[("rate_limited", noted), ("dns", 2)],
        hinted_causes=[("dns", 2), *hinted],
    )
    alert = dataclasses.replace(_alert(Transition.FIRING, "example.org"), breakdown=breakdown)
    notification = dataclasses.replace(_notification(Transition.FIRING), alerts=(alert,))
    lines = console_text(notification).splitlines()
    cause = next(line.strip() for line in lines if line.strip().startswith("cause:"))
    (event,) = pagerduty_events(notification, "KEY", "sesd-test")
    summary = json.loads(event)["payload"]["summary"]
    total = noted + 2
    if marked:
        assert cause.startswith(
            f"cause: rate_limited ({noted} of {total} noted; 2 only hinted at by the text: read"
        )
        assert summary.endswith("; cause: rate_limited (hinted)")
    else:
        assert cause.startswith(f"cause: rate_limited ({noted} of {total} noted): ")
        assert summary.endswith("; cause: rate_limited")


def test_a_dedup_key_past_pagerdutys_255_characters_keeps_alerts_apart() -> None:
    """A rule of 64 characters on domains of 250 (alike in their first 240): each
    key at most 255 characters, the two different (cut, they were one incident, and a
    resolve of one closed the other); a short key is as it was."""
    rule = "r" * 64
    head = "a" * 240
    one = dataclasses.replace(_alert(Transition.FIRING, head + ".one.example"), rule=rule)
    two = dataclasses.replace(_alert(Transition.FIRING, head + ".two.example"), rule=rule)
    assert len(one.dedup_key) == len(two.dedup_key) == 255
    assert one.dedup_key != two.dedup_key
    assert one.dedup_key == dataclasses.replace(one, value=0.9).dedup_key  # stable
    short = _alert(Transition.FIRING, "a.example")
    assert short.dedup_key == f"sesd:{short.rule}:a.example"


def test_a_firing_posted_late_to_alertmanager_is_valid_from_its_post() -> None:
    """A notification posted five minutes after it was made (the outbox retried): its
    endsAt is four resend periods after the post, not after the notification, which
    Alertmanager would take as already resolved. A resolve ends when it resolved."""
    from sesd.core.timestamps import iso

    firing = Notification(
        rule="r", kind=Transition.FIRING, severity="critical", sinks=("alertmanager",),
        alerts=(_alert(Transition.FIRING, "a.example"),), at=T,
    )  # fmt: skip
    (on_time,) = alertmanager_documents(firing, 60.0, T)
    (late,) = alertmanager_documents(firing, 60.0, T + 300)
    assert on_time["endsAt"] == iso(T + 240)
    assert late["endsAt"] == iso(T + 300 + 240)
    resolved = dataclasses.replace(firing, kind=Transition.RESOLVED,
                                   alerts=(_alert(Transition.RESOLVED, "a.example"),))  # fmt: skip
    (ended,) = alertmanager_documents(resolved, 60.0, T + 300)
    assert ended["endsAt"] == iso(resolved.alerts[0].at)


def test_alertmanagers_text_says_no_state_and_a_shared_sinks_says_whose_figures() -> None:
    """Alertmanager tells firing from resolved itself, and with several replicas
    (``shared``) it sends the resolve with the last firing's text: a summary saying
    "[FIRING]" under a RESOLVED title misleads, so it says no state. A replica's
    figures are its share of the traffic: a shared sink's description says so."""
    repeat = Notification(
        rule="r", kind=Transition.REPEAT, severity="critical", sinks=("alertmanager",),
        alerts=(_alert(Transition.REPEAT, "a.example"),), at=T,
    )  # fmt: skip
    (alone,) = alertmanager_documents(repeat, 60.0, T)
    (shared,) = alertmanager_documents(repeat, 60.0, T, shared=True)
    summary = "delay-ratio-high: a.example delay_ratio 25.0% (above 5.0%, 15m window)"
    assert alone["annotations"]["summary"] == shared["annotations"]["summary"] == summary
    assert shared["annotations"]["description"] == (
        "figures: one replica's share of the traffic (several replicas post this alert; "
        "the fleet's figures are on the dashboard)\n" + alone["annotations"]["description"]
    )
    assert not alone["annotations"]["description"].startswith("figures:")


@pytest.mark.parametrize(
    ("metric", "scope", "domain", "says"),
    [
        ("sending_paused", "account", "123456789012/eu-west-1", None),
        ("quota_used_ratio", "account", "123456789012/eu-west-1", None),
        ("tenant_sending_paused", "tenant", "acme", None),
        ("canary_missing", "domain", "canary", "figures: this replica's own canary"),
        ("reputation_bounce_ratio", "account", "123456789012/eu-west-1", "share"),
        ("bounce_ratio", "provider", "microsoft", "share"),
    ],
)
def test_a_shared_sinks_alert_says_one_replicas_share_only_of_figures_that_are(
    metric: str, scope: str, domain: str, says: str | None
) -> None:
    """What SES says of an account or a tenant is the same on every replica (each polls
    it): a fleet's page for a paused account does not say its figures are one replica's
    share of the traffic, which would have the on-call discount it. A canary's figures
    are the replica's own canary (each sends its own), not a share. A figure counted
    from the events a replica was handed (sesd's reputation estimate among them) is a
    share, and says so."""
    alert = dataclasses.replace(
        _alert(Transition.FIRING, domain), metric=metric, scope=scope, rule=f"r-{metric}"
    )
    firing = Notification(
        rule=alert.rule, kind=Transition.FIRING, severity="critical", sinks=("am",),
        alerts=(alert,), at=T,
    )  # fmt: skip
    (alone,) = alertmanager_documents(firing, 60.0, T)
    (shared,) = alertmanager_documents(firing, 60.0, T, shared=True)
    description = shared["annotations"]["description"]
    if says is None:
        assert description == alone["annotations"]["description"]
    elif says == "share":
        assert description.startswith("figures: one replica's share of the traffic")
    else:
        assert description.startswith(says)
        assert "share of the traffic" not in description


def test_a_shared_sinks_alert_carries_no_mute_line_that_mutes_one_replica() -> None:
    """``sesd silence add`` writes one replica's silences file; with a shared sink the
    other replicas keep posting the alert, and Alertmanager keeps notifying it. A
    shared sink's alert carries no ``mute`` annotation (silence it in Alertmanager);
    one replica's alert keeps the line."""
    firing = Notification(
        rule="r", kind=Transition.FIRING, severity="critical", sinks=("am",),
        alerts=(_alert(Transition.FIRING, "a.example"),), at=T,
        silence="sesd silence add --rule r --domain a.example --for 1h",
    )  # fmt: skip
    (alone,) = alertmanager_documents(firing, 60.0, T)
    (shared,) = alertmanager_documents(firing, 60.0, T, shared=True)
    assert alone["annotations"]["mute"] == firing.silence
    assert "mute" not in shared["annotations"]
    assert "sesd silence" not in json.dumps(shared)


def test_a_delay_alert_over_a_window_without_delays_says_nowhere() -> None:
    """A resolve whose window holds no delays (or a pending count of older ones) has
    nothing to say of where delays sit: not "inside SES" (which pointed a postmortem at
    AWS for an incident at Microsoft's servers); with SES's own delay types, inside.
    A window emptied whole (the resolve of "no data") counts nothing, and says so,
    "counts: -", not a line cut short after its colon."""
    from sesd.alerting.alert import alert_of
    from sesd.core.windows import Breakdown

    identity = {
        "rule": "delays", "metric": "delay_ratio", "domain": "hotmail.com",
        "kind": Transition.RESOLVED, "severity": "warning", "window": "1m", "value": 0.0,
        "threshold": 0.2, "clear_threshold": 0.1, "at": 1.8e9, "since": 1.8e9,
    }  # fmt: skip
    empty = alert_of(identity, None, Breakdown())
    assert (empty.stage, empty.internal) == ("- (no delays in the window)", False)
    for text in (describe(empty), describe(empty, slack=True)):
        assert "\ncounts: -\n" in text, text
    ses = alert_of(identity, None, Breakdown(delay_types=[("InternalFailure", 3)]))
    assert (ses.stage, ses.internal) == ("inside SES", True)


def test_a_repeat_and_a_resolve_say_how_long_the_alert_fired() -> None:
    """The span from firing to now, in every sink that writes text: a postmortem's
    timeline, and whether a page is news. A clock stepped back reads 0s, not a
    negative span."""
    resolved = dataclasses.replace(_alert(Transition.RESOLVED, "outlook.com"), at=T + 2_532)
    line = "fired for 42m12s, since 2027-01-15 08:00:00Z"
    assert line in describe(resolved)
    assert details(resolved)["firing_for"] == "42m12s"
    repeat = dataclasses.replace(resolved, kind=Transition.REPEAT, at=T + 3 * 86_400 + 7_200)
    assert "firing for 3d02h, since 2027-01-15 08:00:00Z" in describe(repeat)
    stepped = dataclasses.replace(resolved, at=T - 30)
    assert "fired for 0s," in describe(stepped)
    fresh = _alert(Transition.FIRING, "outlook.com")
    assert "fired" not in describe(fresh)
    assert "firing for" not in describe(fresh)
    assert "firing_for" not in details(fresh)


def test_a_firing_told_after_it_fired_says_since_when() -> None:
    """A firing a silence held back until it ended, or a stop left unsent and the
    restart sent, is told after it fired: its message's time is when it was told, and
    without a span the page read as an incident begun then. It says how long it has
    fired and since when, as a reminder does; a firing told as it fires says nothing
    of it."""
    late = dataclasses.replace(_alert(Transition.FIRING, "outlook.com"), at=T + 2_532, since=T)
    assert "firing for 42m12s, since 2027-01-15 08:00:00Z" in describe(late)
    assert "firing for 42m12s, since 2027-01-15 08:00:00Z" in describe(late, slack=True)
    told = console_text(_notification_of(late)).split("\n")
    assert told[:2] == [
        "2027-01-15 08:42:12Z [FIRING] delay-ratio-high: outlook.com delay_ratio 25.0% "
        "(above 5.0%, 15m window)",
        "    firing for 42m12s, since 2027-01-15 08:00:00Z",
    ], told
    assert details(late)["firing_for"] == "42m12s"


def test_a_resolves_headline_names_the_rules_side_not_the_figures() -> None:
    """A firing's "25.0% (above 5.0%" says the figure is past the threshold; a resolve
    written the same way, "1.0% (above 5.0%", said so of a figure under it, on the
    phone's lock screen and the console alike. A resolve's headline says the rule's
    side, "(fires above 5.0%"; a firing's and a repeat's past it are unchanged. An
    alert still firing at a figure under its threshold (over its clear threshold, 3.0%:
    a reminder, a firing a silence held until it ended) or at "no data" says the
    rule's side too, as does a below-rule's reminder back above its threshold."""
    resolved = _alert(Transition.RESOLVED, "outlook.com", value=0.01)
    assert "delay_ratio 1.0% (fires above 5.0%, 15m window)" in console_text(
        _notification_of(resolved)
    )
    for kind in (Transition.FIRING, Transition.REPEAT):
        text = console_text(_notification_of(_alert(kind, "outlook.com")))
        assert "delay_ratio 25.0% (above 5.0%, 15m window)" in text, text
        between = _alert(kind, "outlook.com", value=0.04)
        assert "delay_ratio 4.0% (fires above 5.0%, 15m window)" in headline(between)
        unread = dataclasses.replace(between, value=None)
        assert "delay_ratio no data (fires above 5.0%, 15m window)" in headline(unread)
        below = dataclasses.replace(between, rising=False, value=0.96)
        assert "delay_ratio 96.0% (fires below 5.0%, 15m window)" in headline(below)
        below = dataclasses.replace(below, value=0.01)
        assert "delay_ratio 1.0% (below 5.0%, 15m window)" in headline(below)


def test_a_slack_reminders_title_says_the_incident_is_still_on() -> None:
    """A reminder's title said "REPEAT", read as the same message sent twice (a retry),
    beside headlines saying "[STILL FIRING]": it says "STILL FIRING" too."""
    message = slack_message(_notification_of(_alert(Transition.REPEAT, "outlook.com")))
    assert message["blocks"][0]["text"]["text"] == (
        "*:repeat: STILL FIRING delay-ratio-high (critical): 1 domain*"
    )
    assert message["text"].startswith(":repeat: STILL FIRING delay-ratio-high (critical)")


def _notification_of(alert: Alert) -> Notification:
    return Notification(
        rule=alert.rule, kind=alert.kind, severity="critical", sinks=(), alerts=(alert,), at=T
    )


def test_an_idna_domain_is_named_with_its_unicode_form_in_the_text() -> None:
    """Alert text is for people: xn--bcher-kva.de reads as bücher.de too; the label,
    the dedup key and Alertmanager's label keep the IDNA form."""
    idn = _alert(Transition.FIRING, "xn--bcher-kva.de")
    assert "xn--bcher-kva.de (bücher.de) delay_ratio" in render_module.headline(idn)
    assert describe(idn).startswith("xn--bcher-kva.de (bücher.de): delay_ratio")
    assert idn.dedup_key == "sesd:delay-ratio-high:xn--bcher-kva.de"


def test_a_domain_alert_names_its_provider_and_a_provider_alert_is_unchanged() -> None:
    """A domain's mailbox provider follows the domain in every text and is a fact of
    its own; Alertmanager gets it as an annotation, its labels (the alert's identity)
    as before."""
    acme = dataclasses.replace(_alert(Transition.FIRING, "acme-corp.example"), provider="google")
    assert "delay-ratio-high: acme-corp.example (provider google) delay_ratio" in (
        render_module.headline(acme)
    )
    assert describe(acme).startswith("acme-corp.example (provider google): delay_ratio")
    assert details(acme)["domain"] == "acme-corp.example"
    assert details(acme)["provider"] == "google"
    notification = dataclasses.replace(_notification(Transition.FIRING), alerts=(acme,))
    (event,) = pagerduty_events(notification, "key", "sesd")
    assert json.loads(event)["payload"]["custom_details"]["provider"] == "google"
    (document,) = alertmanager_documents(notification, 60)
    assert document["annotations"]["provider"] == "google"
    assert document["labels"] == {
        "team": "mail",
        "alertname": "delay-ratio-high",
        "domain": "acme-corp.example",
        "severity": "critical",
    }
    (hook,) = json.loads(webhook_document(notification))["alerts"]
    assert (hook["domain"], hook["provider"]) == ("acme-corp.example", None)
    assert hook["details"]["provider"] == "google"


def test_a_pagerduty_event_of_exactly_512_kb_keeps_its_details() -> None:
    """PagerDuty takes an event of 512 KB: one that size keeps its details, one byte
    more gets the note."""

    def body(fill: int) -> bytes:
        alert = dataclasses.replace(_alert(Transition.FIRING, "a.example"), notes=("n" * fill,))
        (event,) = pagerduty_events(_notification_of(alert), "KEY", "sesd-test")
        return event

    fill = 1000 + render_module.PD_MAX_EVENT - len(body(1000))
    exact = body(fill)
    assert len(exact) == render_module.PD_MAX_EVENT
    assert json.loads(exact)["payload"]["custom_details"]["notes"] == ["n" * fill]
    over = json.loads(body(fill + 1))["payload"]["custom_details"]
    assert over == {"note": "details too large; see Slack"}


def test_a_firing_told_a_second_after_it_fired_says_since_when() -> None:
    """A second late is late (a firing sent at a restart can be): it says how long it
    has fired; under a second it is told as it fires."""
    fired = _alert(Transition.FIRING, "outlook.com")
    late = dataclasses.replace(fired, at=fired.since + 1.0)
    assert "firing for 1s, since " in describe(late)
    assert details(late)["firing_for"] == "1s"
    early = dataclasses.replace(fired, at=fired.since + 0.5)
    assert "firing for" not in describe(early)


def test_a_resolve_past_its_threshold_names_the_rules_side() -> None:
    """A reload's resolve ("the rule no longer watches this domain") can come at a
    figure still past the threshold: "25.0% (above 5.0%" would say it still fires."""
    resolved = _alert(Transition.RESOLVED, "outlook.com", value=0.25)
    assert "delay_ratio 25.0% (fires above 5.0%, 15m window)" in headline(resolved)


def test_a_recipient_domain_styles_nothing_in_slack_only() -> None:
    """A domain label is a stranger's text: in Slack its ``_`` would slant, so it is
    shown by a look-alike; the console and PagerDuty get it as written, and so do a
    provider's top domains."""
    odd = "my_shop_x.example"
    plain = render_module.plain_for(True)(odd)
    assert plain != odd
    alert = _alert(Transition.FIRING, odd)
    assert f": {odd} delay_ratio" in headline(alert)
    assert f": {odd} delay_ratio" in console_text(_notification_of(alert))
    assert f": {plain} delay_ratio" in headline(alert, slack=True)
    provider = dataclasses.replace(
        _alert(Transition.FIRING, "google"),
        scope=PROVIDER,
        breakdown=Breakdown(domains=[(odd, 5)], causes=[("connection", 5)]),
    )
    assert f"top domains: {plain} (5)" in describe(provider, slack=True)
    assert f"top domains: {odd} (5)" in describe(provider)
    assert f"    top domains: {odd} (5)" in console_text(_notification_of(provider))


def test_an_account_alert_is_its_notes_and_where_and_names_no_account_as_dash() -> None:
    """An alert on what SES says of an account is its notes and where, one a line; a
    delay alert with no sending account known says "accounts: -"."""
    account = dataclasses.replace(
        _alert(Transition.FIRING, "123456789012/eu-west-1"),
        scope=ACCOUNT,
        notes=("SES paused sending",),
        stage="SES account",
    )
    assert describe(account).split("\n")[-2:] == ["SES paused sending", "where: SES account"]
    none = dataclasses.replace(_alert(Transition.FIRING, "outlook.com"), accounts=[])
    assert "  accounts: -  configuration sets: marketing" in describe(none)
