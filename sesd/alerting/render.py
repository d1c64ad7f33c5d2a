"""Notifications as each sink wants them: pure functions, within each API's limits.

* Slack: Block Kit with a plain ``text`` fallback; at most 50 blocks and 3000
  characters a section (Slack rejects more): sesd.alerting.render_slack.
* PagerDuty Events API v2: one event per alert, ``trigger`` or ``resolve``,
  ``dedup_key`` stable per (rule, domain), summary at most 1024 characters,
  the whole event under 512 KB.
* Console: a few readable lines.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec

from sesd.alerting.alert import Alert, Notification, duration, metric_text, named
from sesd.alerting.cause_text import (
    cause_advice,
    cause_noted,
    dominant_cause,
    mostly_hinted,
    receiver,
)
from sesd.alerting.figures import side_text
from sesd.alerting.rules import Transition
from sesd.config import CANARY_METRICS, TENANT_METRICS
from sesd.core.scopes import ACCOUNT, DOMAIN, PROVIDER, TENANT
from sesd.core.text import slack_plain

__all__ = [
    "console_text",
    "describe",
    "details",
    "firing_span",
    "headline",
    "links",
    "pagerduty_events",
    "plain_for",
    "test_mark",
    "utc_time",
]

PD_MAX_SUMMARY = 1024
PD_MAX_EVENT = 512 * 1024


def _value(alert: Alert, value: float | None) -> str:
    return metric_text(alert.metric, value)


def utc_time(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def test_mark(alert: Alert) -> str:
    """``"[TEST] "`` for a test alert, else nothing: what an on-call reads first (a
    page's summary, a message's preview) says a test is one."""
    return "[TEST] " if alert.test else ""


def headline(alert: Alert, *, state: bool = True, slack: bool = False, marked: bool = True) -> str:
    """One line: what, where, how bad; ``state=False`` leaves out "[FIRING]" and the
    like, for a receiver that tells the state itself (Alertmanager keeps a firing
    alert's text for the resolve it sends on its own); ``slack``: what it names, a
    stranger's, styles nothing (sesd.core.text.slack_plain). A test alert's begins
    "[TEST]", unless not ``marked`` (for a text that says it before the headline)."""
    mark = test_mark(alert) if marked else ""
    verb = {
        Transition.FIRING: "[FIRING] ",
        Transition.REPEAT: "[STILL FIRING] ",
        Transition.RESOLVED: "[RESOLVED] ",
    }[alert.kind]
    return (
        f"{mark}{verb if state else ''}{alert.rule}: {_subject(alert, slack)} "
        f"{alert.metric} "
        f"{_value(alert, alert.value)} ({_side(alert)} {_value(alert, alert.threshold)}, "
        f"{alert.window} window)"
    )


def _side(alert: Alert) -> str:
    """The headline's word for the threshold (sesd.alerting.figures.side_text)."""
    resolved = alert.kind is Transition.RESOLVED
    return side_text(alert.rising, alert.value, alert.threshold, resolved=resolved)


def subject(alert: Alert) -> str:
    """What the alert is about: a domain label (with its Unicode form, and its mailbox
    provider when known: ``acme-corp.example (provider google)``), or ``provider NAME``."""
    shown = named(alert.scope, alert.domain)
    if alert.scope != DOMAIN:
        return f"{alert.scope} {shown}"
    return shown if alert.provider is None else f"{shown} ({PROVIDER} {alert.provider})"


def provider_lines(alert: Alert, *, slack: bool = False) -> list[str]:
    """For an alert on a provider's or a tenant's mail: its top affected domains (the
    tenant's advice says "slow down to this provider": which one) and top causes."""
    if alert.scope not in (PROVIDER, TENANT) or alert.kind is Transition.RESOLVED:
        return []
    if _from_ses(alert):
        return []  # what SES says of the tenant: no events behind it
    b = alert.breakdown
    return [f"top domains: {_top(b.domains, plain_for(slack))}", f"top causes: {_top(b.causes)}"]


def _top(pairs: list[tuple[str, int]], shown: Callable[[str], str] = str) -> str:
    return ", ".join(f"{shown(name)} ({n})" for name, n in pairs) or "-"


def plain_for(slack: bool) -> Callable[[str], str]:
    """How a stranger's text is shown: in Slack, styling nothing; elsewhere as it is."""
    return slack_plain if slack else str


def _subject(alert: Alert, slack: bool) -> str:
    """:func:`subject`, a recipient domain made :func:`plain_for`. A tenant's name is the
    sender's own, and read to be copied into SES's console or CLI: left as written
    (Slack styles no ``_`` inside a word, and escapes still apply)."""
    return plain_for(slack and alert.scope == DOMAIN)(subject(alert))


def _from_ses(alert: Alert) -> bool:
    """Whether an alert is on what SES says (of an account, of a tenant) or on the
    reputation estimate, not on a window of events: its notes are what it has to say."""
    return alert.scope == ACCOUNT or alert.metric in TENANT_METRICS


def details(alert: Alert) -> dict[str, Any]:
    """The facts of an alert as plain data (PagerDuty custom_details, console lines)."""
    b = alert.breakdown
    facts: dict[str, Any] = {
        "rule": alert.rule,
        alert.scope: alert.domain,
        "metric": alert.metric,
        "value": alert.value,
        "threshold": alert.threshold,
        "fires": alert.fires,
        "clears_at": alert.clear_threshold,
        "window": alert.window,
        "state": alert.kind.value,
        "since": utc_time(alert.since),
    }
    if alert.provider is not None:
        facts[PROVIDER] = alert.provider  # a domain's: where its mail goes
    if told_late(alert):
        facts["firing_for"] = duration(alert.at - alert.since)
    if alert.metric in CANARY_METRICS:
        facts.update(
            canaries=alert.counts,
            where=alert.stage,
            missing_message_ids=b.message_ids,
            notes=list(alert.notes),
        )
        return facts
    facts |= {
        "counts": alert.counts,
        "where": alert.stage,
        "causes": dict(b.causes),
        "hinted_causes": dict(b.hinted_causes),
        "delay_types": dict(b.delay_types),
        "smtp_status": dict(b.statuses),
        "diagnostic_codes": dict(b.diagnostics),
        "reporting_mtas": dict(b.mtas),
        "example_message_ids": b.message_ids,
        "sending_identities": b.sources,
        "regions": alert.regions,
        "accounts": alert.accounts,
        "configuration_sets": b.config_sets,
    }
    if alert.notes:
        facts["notes"] = list(alert.notes)
    if alert.scope != DOMAIN:
        facts["top_domains"] = dict(b.domains)
    if alert.internal:
        facts["aws_support"] = {
            "note": "delays look internal to SES: open an AWS Support case with these facts",
            "region": alert.regions,
            "identity_arns": b.sources,
            "message_ids": b.message_ids,
        }
    return facts


def cause_line(alert: Alert) -> str | None:
    """The dominant cause of the window's delays and what to do, or None."""
    b = alert.breakdown
    if not b.causes or alert.kind is Transition.RESOLVED:
        return None
    said = cause_advice(b, receiver(alert.scope, alert.domain, alert.provider))
    return f"cause: {dominant_cause(b)} ({cause_noted(b)}): {said}"


def told_late(alert: Alert) -> bool:
    """Whether the alert has fired for a while as it is told: a repeat, a resolve, or a
    firing told a second or more after it fired (a fresh one is told as it fires)."""
    return alert.kind is not Transition.FIRING or alert.at - alert.since >= 1.0


def firing_span(alert: Alert) -> str:
    """How long a repeated or resolved alert has fired, and since when ("" for a new
    one): a postmortem's timeline, and whether a page at 3 a.m. is news. A firing told
    after it fired (held by a silence that has ended since, left unsent by a stop and
    sent at the restart) says it too: its message's time is when it was told."""
    if not told_late(alert):
        return ""
    verb = "fired" if alert.kind is Transition.RESOLVED else "firing"
    return f"{verb} for {duration(alert.at - alert.since)}, since {utc_time(alert.since)}"


def describe(alert: Alert, *, slack: bool = False) -> str:
    """The full text of an alert: value and thresholds, counts, where in the path, delay
    types, SMTP codes, MTAs, message ids and the AWS Support facts. For Slack, what
    matters most is in bold, and the AWS note has its icon."""
    b = alert.breakdown
    mark = "*" if slack else ""
    plain = plain_for(slack)  # a stranger's text: styling nothing in Slack
    named = _subject(alert, slack)
    lines = [
        f"{mark}{named}{mark}: {alert.metric} {mark}{_value(alert, alert.value)}{mark} "
        f"(fires {alert.fires} {_value(alert, alert.threshold)}, "
        f"clears at {_value(alert, alert.clear_threshold)}, {alert.window})",
    ]
    cause = cause_line(alert)
    if cause is not None:
        lines.append(cause)  # first after the value: what is wrong, and what to do
    lines += provider_lines(alert, slack=slack)
    span = firing_span(alert)
    if span:
        lines.append(span)
    if _from_ses(alert):
        lines += [*map(plain, alert.notes), f"where: {alert.stage}"]  # SES's words in them
        return "\n".join(lines)
    lines += [
        # A window emptied (the resolve "no data") has no count to name: "-", as the
        # other lines say nothing, not a line cut short.
        "counts: " + (", ".join(f"{k} {v}" for k, v in alert.counts.items() if v) or "-"),
        f"where: {alert.stage}",
    ]
    # Why a reload resolved it or sent it anew ("the rule no longer watches this
    # domain"): else a resolve at twice its threshold reads as a contradiction.
    lines += list(alert.notes)
    if alert.metric in CANARY_METRICS:
        if alert.kind is not Transition.RESOLVED and b.message_ids:
            lines.append(f"missing canaries (message ids): {', '.join(b.message_ids)}")
    elif alert.kind is not Transition.RESOLVED:
        lines += [
            f"delay types: {_top(b.delay_types, plain)}",
            f"SMTP status: {_top(b.statuses, plain)}",
            f"diagnostics: {_top(b.diagnostics[:3], plain)}",
            f"reporting MTAs: {_top(b.mtas, plain)}",
            f"message ids: {plain(', '.join(b.message_ids)) or '-'}",
            # The sender's own names, to be copied (an AWS Support case asks for them).
            f"identities: {', '.join(b.sources) or '-'}"
            f"  regions: {', '.join(alert.regions) or '-'}"
            f"  accounts: {', '.join(alert.accounts) or '-'}"
            f"  configuration sets: {', '.join(b.config_sets) or '-'}",
        ]
        if alert.internal:
            lines.append(
                (":information_source: " if slack else "")
                + "looks internal to SES: open an AWS Support case with the "
                "region, identity ARN and message ids above"
            )
    return "\n".join(lines)


def links(alert: Alert) -> list[tuple[str, str]]:
    """(name, URL) of the alert's runbook and dashboard, those configured."""
    found = [("runbook", alert.runbook_url), ("dashboard", alert.dashboard_url)]
    return [(name, url) for name, url in found if url]


def pagerduty_events(notification: Notification, routing_key: str, source: str) -> list[bytes]:
    """One Events API v2 event per alert (encoded), each under 512 KB."""
    out = []
    # Each event is an incident of its own: its line mutes its alert alone (the
    # notification's, for several domains, would mute every domain of the rule).
    mutes = dict(notification.mutes)
    for alert in notification.alerts:
        event: dict[str, Any] = {
            "routing_key": routing_key,
            "event_action": "resolve" if alert.kind is Transition.RESOLVED else "trigger",
            "dedup_key": alert.dedup_key,
        }
        if alert.kind is not Transition.RESOLVED:
            summary = headline(alert) + f"; where: {alert.stage}"
            if alert.breakdown.causes:
                summary += f"; cause: {dominant_cause(alert.breakdown)}"
                if mostly_hinted(alert.breakdown):
                    summary += " (hinted)"
            event["payload"] = {
                "summary": _summary_head(summary),
                "source": source,
                "severity": alert.severity,
                "component": alert.domain,
                "group": alert.rule,
                "class": alert.metric,
                "timestamp": datetime.fromtimestamp(alert.at, UTC).isoformat(),
                "custom_details": details(alert),
            }
            mute = mutes.get(alert.domain, notification.silence)
            if mute:
                event["payload"]["custom_details"]["mute"] = mute
            found = links(alert)
            if found:
                event["links"] = [{"href": url, "text": name} for name, url in found]
        body = msgspec.json.encode(event)
        if len(body) > PD_MAX_EVENT:
            event["payload"]["custom_details"] = {"note": "details too large; see Slack"}
            body = msgspec.json.encode(event)
        out.append(body)
    return out


def _summary_head(summary: str) -> str:
    """``summary`` within PagerDuty's limit: cut with an ellipsis, so that the on-call
    person sees it was cut (PagerDuty refuses a longer one)."""
    if len(summary) <= PD_MAX_SUMMARY:
        return summary
    return summary[: PD_MAX_SUMMARY - 1] + "…"


def console_text(notification: Notification) -> str:
    """Readable lines for a terminal."""
    lines = []
    for alert in notification.alerts:
        lines.append(f"{utc_time(alert.at)} {headline(alert)}")
        span = firing_span(alert)
        if span:
            # The line's time is when it is told: a reminder's, a resolve's and a late
            # firing's incident began before it, as every other sink says.
            lines.append(f"    {span}")
        b = alert.breakdown
        if alert.metric in CANARY_METRICS:
            lines.append(f"    where: {alert.stage}")
        lines += [f"    {note}" for note in alert.notes]
        if alert.metric in CANARY_METRICS:
            if alert.kind is not Transition.RESOLVED and b.message_ids:
                lines.append(f"    missing canaries: {', '.join(b.message_ids)}")
        elif not _from_ses(alert) and alert.kind is not Transition.RESOLVED:
            cause = cause_line(alert)
            if cause is not None:
                lines.append(f"    {cause}")
            lines += [f"    {line}" for line in provider_lines(alert)]
            lines.append(
                f"    where: {alert.stage}; delay types: {_top(b.delay_types)}; "
                f"SMTP: {_top(b.statuses)}; MTAs: {_top(b.mtas)}"
            )
            if b.message_ids:
                lines.append(f"    message ids: {', '.join(b.message_ids)}")
        lines += [f"    {name}: {url}" for name, url in links(alert)]
    if notification.silence:
        lines.append(f"    mute: {notification.silence}")
    return "\n".join(lines)
