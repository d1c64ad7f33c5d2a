"""What each alert row and each silence row of the status document says, field by
field, as the page, its JSON and ``sesd status`` show it: an alert of every scope, a
resolve owed after a restart, one held firing on a thin window, and the silences
listed, those ending first first. Pure: built from a world at a fixed time."""

from __future__ import annotations

import pytest

from sesd.alerting.alert import alert_of, identity
from sesd.alerting.held import THIN_NOTE
from sesd.alerting.render import headline
from sesd.alerting.rules import Status as AlertStatus
from sesd.alerting.rules import Transition
from sesd.alerting.silences import Silence, SilenceSet
from sesd.commands.status_table import table
from sesd.core.windows import Breakdown
from sesd.status.alerts import link, silence_list
from sesd.status.document import AlertRow, SilenceRef, SilenceRow
from sesd.status.markup import alerts_html
from sesd.status.page import status_html
from tests import factory as f
from tests import status_world
from tests.status_world import everything, feed
from tests.test_status_model import NOW, status

#: The note a row of a resolve owed ends with.
OWED = (
    "resolved before sesd stopped; its resolve goes out at the next evaluation "
    "whose window holds enough events"
)


def shown(row: AlertRow) -> tuple[object, ...]:
    """A row as a user reads it, but the cause (checked apart)."""
    return (
        row.rule,
        row.scope,
        row.name,
        row.state,
        row.severity,
        row.metric,
        row.window,
        row.value,
        row.threshold,
        row.clear_threshold,
        row.fires,
        row.value_text,
        row.threshold_text,
        row.since,
        row.stage,
        row.silence,
        row.notes,
        row.link,
        row.shown,
        row.provider,
    )


def test_a_row_of_every_scope_says_what_fires_where_and_why() -> None:
    """The account's, the canary's, a provider's, a tenant's and a domain's alerts:
    each its figures against its own threshold and clear threshold, the side it fires
    on, its stage, what SES or the canary says of it, and a link for the scopes that
    have a page (an account and the canary have none); the domain's names its
    provider, no other does. A second account region, enabled, and a second tenant
    paused for another reason say nothing on the rows they are not on."""
    w = everything()
    ledger = w.pipeline.ledger
    ledger.accounts.record(("default", "us-east-1")).sending_enabled = True
    other = ledger.tenant_status.record(("default", "eu-west-1", "initech"))
    other.sending, other.aws, other.aws_cause = "DISABLED", "DISABLED", "complaints"
    rows = {(row.rule, row.name): row for row in status(w).alerts.items}
    paused = "SES tenant management (the tenant's sending status and findings)"
    assert shown(rows["ses-paused", "default/eu-west-1"]) == (
        "ses-paused", "account", "default/eu-west-1", "firing", "warning", "sending_paused",
        "5m", 1.0, 0.0, 0.0, "above", "1", "0", NOW,
        "the SES account (sending status and reputation)",
        SilenceRef(id="s2", comment="known", ends_at=None, until_resolved=True),
        ["sending enabled: False; enforcement status: unknown; production access: None"],
        None, "default/eu-west-1", None,
    )  # fmt: skip
    canary = rows["canary-missing", "canary"]
    assert shown(canary)[:14] == (
        "canary-missing", "canary", "canary", "firing", "warning", "canary_missing", "15m",
        1.0, 0.0, 0.0, "above", "1", "0", NOW,
    )  # fmt: skip
    assert (canary.stage, canary.silence, canary.link, canary.provider) == (
        "API call (SendEmail failed: auth)",
        None,
        None,
        None,
    )
    assert canary.notes == [
        "last canary back (2027-01-15 08:58:20Z): API call 0.20s, inside SES 1.20s, "
        "event pipeline 1.00s, end to end 3.00s"
    ]
    tenant = rows["tenant-paused", "globex"]
    assert shown(tenant)[:16] == (
        "tenant-paused", "tenant", "globex", "firing", "warning", "tenant_sending_paused",
        "5m", 1.0, 0.0, 0.0, "above", "1", "0", NOW, paused, None,
    )  # fmt: skip
    assert (tenant.link, tenant.shown, tenant.provider, tenant.cause) == (
        "/tenant/globex",
        "globex",
        None,
        None,
    )
    assert tenant.notes[0] == (
        "SES paused tenant globex in eu-west-1 (account default): <b>bounces</b>"
    )
    assert len(tenant.notes) == 2
    assert "initech" not in " ".join(tenant.notes)
    provider = rows["provider-delay-ratio-high", "microsoft"]
    assert shown(provider) == (
        "provider-delay-ratio-high", "provider", "microsoft", "firing", "warning",
        "delay_ratio", "5m", 0.6, 0.1, 0.1, "above", "60.0%", "10.0%", NOW,
        "SES -> recipient MTA", None, [], "/provider/microsoft", "microsoft", None,
    )  # fmt: skip
    domain = rows["delay-ratio-high", "outlook.com"]
    assert shown(domain) == (
        "delay-ratio-high", "domain", "outlook.com", "firing", "critical", "delay_ratio",
        "5m", 0.6, 0.1, 0.05, "above", "60.0%", "10.0%", NOW, "SES -> recipient MTA",
        None, [], "/domain/outlook.com", "outlook.com", "microsoft",
    )  # fmt: skip
    assert domain.cause is not None
    assert (domain.cause.name, domain.cause.recipients, domain.cause.of) == (
        "ip_reputation",
        15,
        15,
    )
    yahoo = rows["slow-burn", "yahoo.com"]
    assert (yahoo.state, yahoo.value, yahoo.value_text, yahoo.provider) == (
        "pending",
        1.0,
        "1",
        "yahoo",
    )
    assert yahoo.cause is not None
    assert (yahoo.cause.name, yahoo.cause.of) == ("connection", 1)


def test_a_slow_canary_send_names_the_api_call_not_a_missing_canary(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two canary rules fire together: the send-latency one names the API call as slow
    (client -> SES), its figure in seconds; the missing one names the failed send."""
    slow = (
        '[[alerts.rules]]\nname = "canary-slow"\nmetric = "canary_send_latency_seconds"\n'
        'window = "15m"\nabove = 0.1\n'
    )
    monkeypatch.setattr(status_world, "EVERYTHING", status_world.EVERYTHING + slow)
    rows = {row.rule: row for row in status(everything()).alerts.items if row.scope == "canary"}
    assert shown(rows["canary-slow"])[:15] == (
        "canary-slow", "canary", "canary", "firing", "warning", "canary_send_latency_seconds",
        "15m", 0.2, 0.1, 0.1, "above", "0.2s", "0.1s", NOW,
        "API call (SendEmail is slow: client -> SES)",
    )  # fmt: skip
    assert rows["canary-missing"].stage == "API call (SendEmail failed: auth)"


def test_an_account_reputation_alert_gives_sesds_estimate_of_the_whole_account(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Five hard bounces of 57 counted recipients: the account's reputation alert reads
    8.8% and its notes give the estimate it was read from (the whole account's, not one
    configuration set's) and how far AWS's review and pause levels are."""
    rule = (
        '[[alerts.rules]]\nname = "rep-bounce"\nmetric = "reputation_bounce_ratio"\n'
        'window = "5m"\nabove = 0.01\n'
    )
    monkeypatch.setattr(status_world, "EVERYTHING", status_world.EVERYTHING + rule)
    w = everything()
    feed(w, [f.bounce([f"b{i}@outlook.com"], at=NOW - 10 + i) for i in range(5)], NOW)
    row = next(row for row in status(w).alerts.items if row.rule == "rep-bounce")
    assert (row.scope, row.name, row.value_text, row.threshold_text, row.link) == (
        "account",
        "default/eu-west-1",
        "8.8%",
        "1.0%",
        None,
    )
    assert row.notes == [
        "5 hard bounces over the last 57 delivered + bounced recipients (sesd's estimate "
        "of AWS's arithmetic; the mailbox simulator left out)",
        "0 more hard bounces among these would reach AWS's review level (5.0%); AWS may "
        "pause sending at 10.0%",
    ]


def test_a_rule_firing_below_its_threshold_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """A delivery ratio under its floor: the row fires below, not above."""
    rule = (
        '[[alerts.rules]]\nname = "few-delivered"\nmetric = "delivery_ratio"\n'
        'window = "5m"\nbelow = 0.9\n'
    )
    monkeypatch.setattr(status_world, "EVERYTHING", status_world.EVERYTHING + rule)
    w = everything()
    state = w.evaluator.states["few-delivered"]["outlook.com"]
    state.status, state.since, state.value = AlertStatus.FIRING, NOW - 60, 0.4
    row = next(row for row in status(w).alerts.items if row.rule == "few-delivered")
    assert (row.state, row.fires, row.value_text, row.threshold_text, row.since) == (
        "firing",
        "below",
        "40.0%",
        "90.0%",
        NOW - 60,
    )


@pytest.mark.parametrize(
    ("value", "resolved_at", "side"),
    [
        (0.6, None, "above"),
        (0.07, None, "fires above"),
        (None, None, "fires above"),
        (0.04, NOW - 120, "fires above"),
    ],
    ids=["past", "between-the-thresholds", "no-data", "resolve-owed"],
)
def test_a_row_says_the_side_of_the_threshold_its_alerts_text_says(
    value: float | None, resolved_at: float | None, side: str
) -> None:
    """outlook.com's delay-ratio-high fires above 10% and clears below 5%. At 60% its
    row says "above 10.0%"; still firing at 7.0% (between its thresholds), at no data,
    or with its resolve owed at 4.0%, it says "fires above 10.0%" ("7.0% (above 10.0%"
    said a figure under the threshold was past it): in the document, the line of
    ``sesd status`` and the page's markup, each as the alert's own text (a reminder's,
    the resolve's) says it."""
    w = everything()
    state = w.evaluator.states["delay-ratio-high"]["outlook.com"]
    state.value, state.resolved_at = value, resolved_at
    doc = status(w)
    (row,) = [
        r for r in doc.alerts.items if (r.rule, r.name) == ("delay-ratio-high", "outlook.com")
    ]
    assert (row.fires, row.fires_text) == ("above", side)
    told = f"({side} 10.0%, 5m window)"
    (line,) = [line for line in table(doc).splitlines() if "delay-ratio-high: domain" in line]
    assert told in line
    html = alerts_html(doc.alerts.items, doc.alerts.total, doc.alerts.firing, NOW)
    assert f'<span class="note">{side} 10.0%, 5m window</span>' in html
    (rule,) = [r for r in w.config.alerts.rules if r.name == "delay-ratio-high"]
    kind = Transition.REPEAT if resolved_at is None else Transition.RESOLVED
    alert = alert_of(identity(rule, "outlook.com", kind, state, NOW), None, Breakdown())
    assert told in headline(alert)


def test_a_resolve_owed_reads_resolved_at_its_figure_since_it_resolved() -> None:
    """After a restart, the account's and outlook.com's alerts have their resolves
    owed: each row reads resolved, no current figure, "resolved at" the figure it
    resolved at (or just "resolved" with none saved), since it resolved, and ends its
    notes (after what SES says of the account) with why it still reads firing to
    sesd; outlook.com's keeps its cause and stage."""
    w = everything()
    states = w.evaluator.states
    account = states["ses-paused"]["default/eu-west-1"]
    account.status, account.since = AlertStatus.FIRING, NOW - 3600
    account.resolved_at, account.value = NOW - 300, None
    domain = states["delay-ratio-high"]["outlook.com"]
    domain.status, domain.since = AlertStatus.FIRING, NOW - 1800
    domain.resolved_at, domain.value = NOW - 120, 0.04
    rows = {(row.rule, row.name): row for row in status(w).alerts.items}
    owed = rows["ses-paused", "default/eu-west-1"]
    assert (owed.state, owed.value, owed.value_text, owed.since) == (
        "resolved",
        None,
        "resolved",
        NOW - 300,
    )
    assert owed.notes == [
        "sending enabled: False; enforcement status: unknown; production access: None",
        OWED,
    ]
    owed = rows["delay-ratio-high", "outlook.com"]
    assert (owed.state, owed.value, owed.value_text, owed.since) == (
        "resolved",
        None,
        "resolved at 4.0%",
        NOW - 120,
    )
    assert (owed.threshold_text, owed.notes, owed.stage) == (
        "10.0%",
        [OWED],
        "SES -> recipient MTA",
    )
    assert owed.cause is not None
    assert owed.cause.name == "ip_reputation"


def test_a_pending_alert_that_resolved_before_lists_with_the_pending() -> None:
    """microsoft's alert resolved two hours ago and is pending again; outlook.com's
    slow-burn has its resolve owed: the pending one is listed before the resolve owed
    (its last resolve is history, not a resolve owed), and reads pending since its
    breach began."""
    w = everything()
    states = w.evaluator.states
    again = states["provider-delay-ratio-high"]["microsoft"]
    again.status, again.since, again.resolved_at = AlertStatus.PENDING, NOW - 30, NOW - 7200
    owed = states["slow-burn"]["outlook.com"]
    owed.status, owed.since, owed.resolved_at = AlertStatus.FIRING, NOW - 3600, NOW - 60
    rows = [(row.state, row.rule, row.name, row.since) for row in status(w).alerts.items]
    assert rows[-3:] == [
        ("pending", "provider-delay-ratio-high", "microsoft", NOW - 30),
        ("pending", "slow-burn", "yahoo.com", NOW),
        ("resolved", "slow-burn", "outlook.com", NOW - 60),
    ]


def test_an_alert_held_on_a_thin_window_says_so_and_a_resolve_owed_does_not() -> None:
    """An alert held firing on a window too thin to resolve on ends its notes with why
    its figure is the one it fired at; a resolve owed that was held says it is owed,
    not held (it reads resolved)."""
    w = everything()
    states = w.evaluator.states
    held = states["delay-ratio-high"]["outlook.com"]
    held.held = True
    account = states["ses-paused"]["default/eu-west-1"]
    account.held = True
    account.resolved_at = NOW - 60
    rows = {(row.rule, row.name): row for row in status(w).alerts.items}
    row = rows["delay-ratio-high", "outlook.com"]
    assert (row.state, row.value_text, row.notes) == ("firing", "60.0%", [THIN_NOTE])
    assert rows["ses-paused", "default/eu-west-1"].notes[-1] == OWED
    assert THIN_NOTE not in rows["ses-paused", "default/eu-west-1"].notes


def test_a_silence_of_one_severity_holds_only_that_severitys_rows() -> None:
    """A silence of outlook.com's critical alerts shows on its critical row, not on
    its warning one."""
    w = everything()
    w.evaluator.silences = SilenceSet(
        [Silence(id="crit", comment="paged already", starts_at=NOW - 60, ends_at=NOW + 600,
                 domain="outlook.com", severity="critical")]
    )  # fmt: skip
    rows = {(row.rule, row.name): row for row in status(w).alerts.items}
    assert rows["delay-ratio-high", "outlook.com"].silence == SilenceRef(
        id="crit", comment="paged already", ends_at=NOW + 600, until_resolved=False
    )
    assert rows["slow-burn", "outlook.com"].silence is None


def test_silences_are_listed_those_ending_first_first_with_their_matchers() -> None:
    """Active and pending silences, never the expired: those that end first first, of
    two ending together the lesser id first, then those waiting for a resolve (no end)
    by id; each with its matchers, comment, start, end, state and author, escaped; a
    list cut short keeps the total."""
    world = everything()
    world.evaluator.silences = SilenceSet(
        [
            Silence(id="later", comment="window", starts_at=NOW - 60, ends_at=NOW + 7200,
                    rule="delay-*", domain="outlook.com", severity="critical",
                    created_by="ops\x1b[2J"),
            Silence(id="u2", comment="until fixed", starts_at=NOW - 5, ends_at=None,
                    until_resolved=True),
            Silence(id="soon-c", comment="c", starts_at=NOW - 60, ends_at=NOW + 600),
            Silence(id="gone", comment="done", starts_at=NOW - 600, ends_at=NOW - 1),
            Silence(id="tonight", comment="maintenance", starts_at=NOW + 3600,
                    ends_at=NOW + 7000),
            Silence(id="u1", comment="until fixed too", starts_at=NOW - 5, ends_at=None,
                    until_resolved=True),
            Silence(id="soon-a", comment="a", starts_at=NOW - 60, ends_at=NOW + 600),
        ]
    )  # fmt: skip
    listed = silence_list(world.evaluator, NOW, 10)
    assert listed.total == 6
    assert [s.id for s in listed.items] == ["soon-a", "soon-c", "tonight", "later", "u1", "u2"]
    assert listed.items[2:4] == [
        SilenceRow(id="tonight", rule=None, domain=None, severity=None, comment="maintenance",
                   starts_at=NOW + 3600, ends_at=NOW + 7000, until_resolved=False,
                   state="pending", created_by=""),
        SilenceRow(id="later", rule="delay-*", domain="outlook.com", severity="critical",
                   comment="window", starts_at=NOW - 60, ends_at=NOW + 7200,
                   until_resolved=False, state="active", created_by="ops\\u001b[2J"),
    ]  # fmt: skip
    assert listed.items[4] == SilenceRow(
        id="u1", rule=None, domain=None, severity=None, comment="until fixed too",
        starts_at=NOW - 5, ends_at=None, until_resolved=True, state="active", created_by="",
    )  # fmt: skip
    cut = silence_list(world.evaluator, NOW, 2)
    assert (cut.total, [s.id for s in cut.items]) == (6, ["soon-a", "soon-c"])


def test_a_link_quotes_every_character_a_path_would_split_on() -> None:
    """A tenant named by hand may hold a slash, a space or a ``?``: its page's link
    keeps the name one path segment."""
    assert link("tenant", "a/b c?d#e") == "/tenant/a%2Fb%20c%3Fd%23e"
    assert link("domain", "outlook.com") == "/domain/outlook.com"


def test_a_tenant_named_as_a_domain_names_no_provider_and_quotes_ses_at_length() -> None:
    """A tenant named after its customer's domain (outlook.com, whose mail goes to
    microsoft), paused by SES with a cause of 1,500 characters: its row names no
    provider (a tenant is no domain; the domain's own rows name microsoft), and its
    note quotes SES up to the 1,000 characters a note holds, cut with an ellipsis, not
    at the 200 of one diagnostic."""
    w = everything()
    paused = w.pipeline.ledger.tenant_status.record(("default", "eu-west-1", "outlook.com"))
    paused.sending, paused.aws, paused.aws_cause = "DISABLED", "DISABLED", "y" * 1500
    feed(w, [], NOW)
    rows = {(row.rule, row.name): row for row in status(w).alerts.items}
    tenant = rows["tenant-paused", "outlook.com"]
    assert (tenant.scope, tenant.provider) == ("tenant", None)
    assert rows["delay-ratio-high", "outlook.com"].provider == "microsoft"
    head = "SES paused tenant outlook.com in eu-west-1 (account default): "
    assert tenant.notes[0] == head + "y" * (999 - len(head)) + "…"


def test_a_long_silence_reason_shows_its_beginning_marked_cut_and_escaped() -> None:
    """A reason written by hand may run on: the silence's row and the alert it holds
    show its first 199 characters and an ellipsis that says the rest was cut, the
    address in it hidden and its markup text, on the page and in ``sesd status``."""
    why = "<b>MX of outlook.com</b> moves to new hosts tonight; ask ops@example.com "
    comment = why + "before ending it. " + "x" * 300
    w = everything()
    w.evaluator.silences = SilenceSet(
        [Silence(id="move", comment=comment, starts_at=NOW - 60, ends_at=NOW + 600,
                 domain="outlook.com")]
    )  # fmt: skip
    doc = status(w)
    (row,) = doc.silences.items
    shown = "<b>MX of outlook.com</b> moves to new hosts tonight; ask [address] before"
    assert row.comment.startswith(shown)
    assert row.comment.endswith("x…")
    assert len(row.comment) == 200
    held = [a.silence for a in doc.alerts.items if a.silence is not None]
    assert held
    assert all(ref.comment == row.comment for ref in held)
    page = status_html(doc, 10)
    escaped = row.comment.replace("<", "&lt;").replace(">", "&gt;")
    assert f'<td class="name">{escaped}</td>' in page
    assert "<b>MX" not in page
    assert f": {row.comment}" in table(doc)
