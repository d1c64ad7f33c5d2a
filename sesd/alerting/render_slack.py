"""A notification as a Slack incoming webhook wants it: Block Kit with a plain
``text`` fallback, within Slack's limits (at most 50 blocks, 3000 characters a
section, about 12,000 in a message's blocks). Text from events is written by
strangers: escaped, and shown verbatim (sesd.core.text); the alerts' text is
sesd.alerting.render's."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from sesd.alerting.alert import SEVERITY_RANK, Alert, Notification
from sesd.alerting.render import describe, headline, links, plain_for, test_mark, utc_time
from sesd.alerting.rules import Transition
from sesd.core.scopes import DOMAIN
from sesd.core.text import slack_escape, slack_head, slack_plain

__all__ = [
    "SLACK_MAX_ALERTS_TEXT",
    "SLACK_MAX_BLOCKS",
    "SLACK_MAX_MUTE",
    "SLACK_MAX_REST",
    "SLACK_MAX_SECTION",
    "SLACK_MAX_TEXT",
    "slack_message",
]

SLACK_MAX_BLOCKS = 50
SLACK_MAX_SECTION = 3000
SLACK_MAX_TEXT = 3000
#: The alerts' sections of a message in all, and the one naming those not shown: a
#: message's blocks hold at most about 12,000 characters (Slack: msg_blocks_too_long).
SLACK_MAX_ALERTS_TEXT, SLACK_MAX_REST = 9000, 1500
#: The mute line's most: a text object holds 3,000 characters, and beside the alerts'
#: 9,000, the rest's 1,500, the title and the sender, this keeps the message's blocks
#: within their 12,000 (a line is about 150 characters).
SLACK_MAX_MUTE = 1000

_ICON = {
    Transition.FIRING: ":rotating_light:",
    Transition.REPEAT: ":repeat:",
    Transition.RESOLVED: ":white_check_mark:",
}
#: The title's word, as each alert's headline says it: "REPEAT" read as a message sent
#: twice, not as an incident still on.
_WORD = {
    Transition.FIRING: "FIRING",
    Transition.REPEAT: "STILL FIRING",
    Transition.RESOLVED: "RESOLVED",
}


def _mrkdwn(text: str, limit: int = SLACK_MAX_SECTION) -> dict[str, Any]:
    """A mrkdwn text object of ``text`` escaped (event text is written by strangers),
    verbatim (Slack then links no URL or channel name in it), within ``limit``."""
    return {"type": "mrkdwn", "text": slack_head(slack_escape(text), limit), "verbatim": True}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(text)}


def slack_message(notification: Notification, host: str = "") -> dict[str, Any]:
    """An incoming-webhook payload: header, one section per alert, within Slack's limits;
    its closing line names ``host``, the replica that sent it (sesd.io.replica): two
    replicas on one queue each alert on their share of the mail, and two messages for
    one domain with different figures must say they come from two replicas."""
    alerts = notification.alerts
    first = alerts[0]
    title = (
        f"{test_mark(first)}{_ICON[notification.kind]} {_WORD[notification.kind]} "
        f"{notification.rule} "
        f"({notification.severity}): {len(alerts)} {first.scope}{'s' if len(alerts) != 1 else ''}"
    )
    blocks: list[dict[str, Any]] = [_section(f"*{title}*")]
    room = SLACK_MAX_BLOCKS - 2  # the title, and a closing context block
    fits = alerts[:room] if len(alerts) <= room else alerts[: room - 1]
    # Alerts while they fit in SLACK_MAX_ALERTS_TEXT (the first always), the rest named.
    used = 0
    # Of several severities, each alert says its own: the header tells the most urgent.
    mixed = len({alert.severity for alert in alerts}) > 1
    for alert in fits:
        block = _alert_block(alert, mixed=mixed)
        used += len(block["text"]["text"])
        if len(blocks) > 1 and used > SLACK_MAX_ALERTS_TEXT:
            break
        blocks.append(block)
    shown = len(blocks) - 1
    if shown < len(alerts):
        rest = plain_for(first.scope == DOMAIN)(", ".join(a.domain for a in alerts[shown:]))
        blocks.append({"type": "section", "text": _mrkdwn(
            f"{_more(alerts[shown:])}: {rest}", SLACK_MAX_REST
        )})  # fmt: skip
    sender = f"sesd on {slack_plain(host)}" if host else "sesd"
    closing = [_mrkdwn(f"{sender} · {utc_time(first.at)}")]
    if notification.silence:
        closing.append({"type": "plain_text", "text": _mute(notification.silence), "emoji": False})
    blocks.append({"type": "context", "elements": closing})
    return {"text": _fallback(title, alerts, mixed=mixed), "blocks": blocks}


def _mute(line: str) -> str:
    """The mute line as a plain text object holds it: as written, within
    SLACK_MAX_MUTE. Text Slack does not format: a domain's '_' (``_x_.example``) would
    slant part of the command, and what is copied would mute another domain; a
    look-alike would too. Nor escaped: Slack reads no mention or link in plain text
    (its '&', '<', '>' escaping is for mrkdwn's special parsing), and takes a raw one
    there, escaping it itself as it stores it: a group named ``R&D`` or ``<eu>`` shows
    and copies as written. Sent as an entity it could show as one (``R&amp;D``), and
    what is copied name another group. Past the bound (a config file's path of
    thousands of characters) the line is left out, said: cut, it would be another
    command (a domain's head, no ``--comment``); whole, Slack would refuse the message
    and every alert in it."""
    text = f"mute: {line}"
    if len(text) <= SLACK_MAX_MUTE:
        return text
    return f"mute: its sesd silence add line ({len(line):,} characters) is too long to show here"


def _more(hidden: Sequence[Alert]) -> str:
    """The alerts a message has no room for, counted by severity, the most urgent
    first: "…and 12 more (3 critical, 9 warning)". The header names the most urgent of
    all the alerts: the on-call must see whether a critical one is among those not
    shown."""
    counts = Counter(alert.severity for alert in hidden)
    ranked = sorted(counts, key=lambda s: (SEVERITY_RANK.get(s, len(SEVERITY_RANK)), s))
    return f"…and {len(hidden)} more ({', '.join(f'{counts[s]} {s}' for s in ranked)})"


def _fallback(title: str, alerts: Sequence[Alert], *, mixed: bool) -> str:
    """The ``text`` fallback (a phone's notification): the title, then the headlines
    that fit in SLACK_MAX_TEXT, then how many do not (:func:`_more`). Measured escaped,
    as Slack gets it; the title says "[TEST]" first, and the headlines after it do not
    say it again."""
    text = slack_escape(title + ": ")
    heads = [
        slack_escape((f"{a.severity} · " if mixed else "") + headline(a, slack=True, marked=False))
        for a in alerts
    ]
    if len(text) + len("; ".join(heads)) <= SLACK_MAX_TEXT:
        return text + "; ".join(heads)
    shown = 0
    for head in heads:
        tail = slack_escape(_more(alerts[shown + 1 :]))
        if len(text) + len(head) + 2 + len(tail) > SLACK_MAX_TEXT:
            break
        text += head + "; "
        shown += 1
    # Only a title past the bound (a rule's name is the config's) leaves the cut anything.
    return slack_head(text + slack_escape(_more(alerts[shown:])), SLACK_MAX_TEXT)


def _alert_block(alert: Alert, *, mixed: bool = False) -> dict[str, Any]:
    """An alert's section: its text escaped (led by its severity where the message's
    alerts carry several), then its links (from the config, so not escaped: Slack's
    ``<url|name>`` is the link)."""
    found = " · ".join(f"<{_slack_url(url)}|{name}>" for name, url in links(alert))
    found = "\n" + found if found else ""
    if len(found) > SLACK_MAX_SECTION // 2:
        found = ""  # links configured too long to leave the alert's text room: left out
    severity = f"{alert.severity} · " if mixed else ""
    text = _mrkdwn(severity + describe(alert, slack=True), SLACK_MAX_SECTION - len(found))
    text["text"] += found
    return {"type": "section", "text": text}


def _slack_url(url: str) -> str:
    """A URL inside Slack's ``<url|text>``: the three characters that end it encoded."""
    return url.replace("|", "%7C").replace("<", "%3C").replace(">", "%3E")
