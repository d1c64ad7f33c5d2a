"""Named sinks and routing: the config, which domains a rule watches, links, the webhook
and Alertmanager sinks against local receivers, resends, and what a reload does to
rules and outboxes."""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from structlog.testing import capture_logs

from sesd.alerting.alertmanager import AlertmanagerSink
from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import Status, Transition
from sesd.alerting.service import Alerting
from sesd.alerting.sinks import (
    PagerDutySink,
    Permanent,
    Retryable,
)
from sesd.alerting.webhook import WebhookSink
from sesd.commands.demo.localhttp import LocalServer
from sesd.commands.main import main
from sesd.config import (
    AlertmanagerConfig,
    Config,
    ConfigError,
    SlackConfig,
    WebhookConfig,
    core_settings,
    parse_config,
)
from sesd.config.checks import NO_RULES
from sesd.core.pipeline import Pipeline
from sesd.metrics.registry import Metrics
from tests import factory as f
from tests.receivers import WebhookReceiver
from tests.test_rules import feed_spike
from tests.test_sinks import notification

T = f.T0
RULE = """
[[alerts.rules]]
name = "delays"
metric = "delay_ratio"
window = "5m"
above = 0.2
min_events = 4
"""


def test_the_older_sections_are_the_sinks_named_slack_and_pagerduty() -> None:
    older = parse_config(
        '[alerts]\nsilences_path = "/var/lib/sesd/silences.json"\n'
        '[alerts.slack]\nwebhook_url = "https://hooks.example/a"\n'
        '[alerts.pagerduty]\nrouting_key = "0123456789abcdef0123456789abcdef"\n'
        + RULE
        + 'sinks = ["slack", "pagerduty"]\n'
    )
    named = parse_config(
        '[state]\npath = "/var/lib/sesd/state.bin"\n'
        '[alerts.sinks.slack]\ntype = "slack"\nwebhook_url = "https://hooks.example/a"\n'
        '[alerts.sinks.pagerduty]\ntype = "pagerduty"\n'
        'routing_key = "0123456789abcdef0123456789abcdef"\n'
        + RULE
        + 'sinks = ["slack", "pagerduty"]\n'
    )
    assert list(older.alerts.named_sinks()) == ["console", "slack", "pagerduty"]
    assert list(named.alerts.named_sinks()) == ["console", "slack", "pagerduty"]
    for config in (older, named):
        assert isinstance(config.alerts.named_sinks()["slack"], SlackConfig)
        # Nothing unused; only the secrets written in the file.
        key = "alerts" if config is older else "alerts.sinks"
        assert config.warnings() == [
            f'{key}.slack.webhook_url: a literal secret in this file; prefer "env:NAME" '
            'or "file:/path"',
            f"{key}.pagerduty.routing_key: a literal secret in this file; prefer "
            '"env:NAME" or "file:/path"',
        ]


def test_several_sinks_of_a_type_route_by_rule() -> None:
    config = parse_config(
        '[alerts.sinks.team-a]\ntype = "slack"\nwebhook_url = "env:SESD_TEST_A"\n'
        '[alerts.sinks.team-b]\ntype = "slack"\nwebhook_url = "https://hooks.example/b"\n'
        '[alerts.sinks.am]\ntype = "alertmanager"\nurls = ["http://am1:9093", "http://am2:9093"]\n'
        '[alerts.sinks.relay]\ntype = "webhook"\nurl = "https://relay.example/in"\n'
        'secret = "s3cret"\n' + RULE + 'sinks = ["team-a", "am"]\n'
    )
    sinks = config.alerts.named_sinks()
    assert isinstance(sinks["am"], AlertmanagerConfig)
    assert sinks["am"].resend_every.seconds == 60
    assert isinstance(sinks["relay"], WebhookConfig)
    assert config.alerts.rules[0].sinks == ["team-a", "am"]
    assert config.warnings() == [
        "alerts.sinks.team-b: no rule sends to this sink",
        "alerts.sinks.relay: no rule sends to this sink",
        # team-a's is read from the environment: not said.
        'alerts.sinks.team-b.webhook_url: a literal secret in this file; prefer "env:NAME" '
        'or "file:/path"',
        'alerts.sinks.relay.url: a literal secret in this file; prefer "env:NAME" or "file:/path"',
        'alerts.sinks.relay.secret: a literal secret in this file; prefer "env:NAME" or '
        '"file:/path"',
        "alerts.silences_path: not given, nor state.path beside which it is kept: no "
        "silences file, so `sesd silence` cannot mute these alerts, and notifications carry "
        "no mute line",
    ]
    masked = config.to_display()["alerts"]["sinks"]
    assert masked["relay"]["secret"] == "***"
    assert masked["team-a"]["webhook_url"] == "env:SESD_TEST_A"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (RULE + 'sinks = ["ops"]\n', "(delays).sinks[0]: sink 'ops' is not configured (config"),
        ('[alerts.sinks.x]\ntype = "email"\n', "alerts.sinks.x.type: give one of slack,"),
        ('[alerts.sinks.x]\nurl = "https://a.example"\n', "alerts.sinks.x.type: give one of"),
        ('[alerts.sinks.x]\ntype = "alertmanager"\nurls = []\n', "alerts.sinks.x.urls: must"),
        ('[alerts.sinks.x]\ntype = "alertmanager"\nurls = ["am:9093"]\n', "not an http(s) URL"),
        ('[alerts.sinks.x]\ntype = "slack"\nwebhook_url = "u"\nfoo = 1\n', "sinks.x.foo: unknown"),
        ('[alerts.sinks.x]\ntype = "webhook"\nurl = "relay"\n', "alerts.sinks.x.url: not an"),
        ('[alerts.sinks.console]\ntype = "slack"\nwebhook_url = "https://h/x"\n', "kept for"),
        ('[alerts.sinks."a b"]\ntype = "console"\n', 'sinks."a b": a sink\'s name is of'),
        (
            '[alerts.slack]\nwebhook_url = "https://h/x"\n'
            '[alerts.sinks.slack]\ntype = "slack"\nwebhook_url = "https://h/y"\n',
            "name the same sink",
        ),
        ('[alerts]\ndashboard_url = "https://g.example/{host}"\n', "is not a template of"),
        ('[alerts]\ndashboard_url = "/d/{domain}"\n', "not an http(s) URL"),
        (RULE + 'labels = {alertname = "x"}\n', "labels.alertname: set by sesd"),
        (RULE + 'labels = {tenant = "x"}\n', "labels.tenant: set by sesd"),
        (RULE + 'labels = {team = ""}\n', "labels.team: give it a value"),
        # A bare TOML key (letters, digits, '_', '-'), said bare as the file may write it.
        (RULE + 'labels = {"team-x" = "a"}\n', "labels.team-x: a label's name"),
        (RULE + 'runbook_url = "https://r.example/{oops}"\n', "runbook_url:"),
    ],
)
def test_routing_mistakes_are_config_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config(text)


def test_check_config_warns_of_a_sink_no_rule_uses(
    tmp_path: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "sesd.toml"  # type: ignore[operator]
    path.write_text(
        '[[queues]]\nurl = "https://sqs.us-east-1.amazonaws.com/1/q"\n'
        '[alerts.sinks.spare]\ntype = "console"\n'
    )
    assert main(["check-config", "--config", str(path)]) == 0
    # The sink's warning on the line of its header; no rule is written, so no line.
    assert capsys.readouterr().err == (
        f"sesd: warning: {path}:3: alerts.sinks.spare: no rule sends to this sink\n"
        f"sesd: warning: {NO_RULES}\n"
    )


def _evaluate(extra: str, domains: list[str]) -> list[str]:
    config = parse_config(RULE + extra)
    pipeline = Pipeline(core_settings(config))
    for domain in domains:
        feed_spike(pipeline, domain, T, 6, 4)
    evaluator = Evaluator(config.alerts, ["5m", "15m", "1h"])
    return sorted(a.domain for a in evaluator.evaluate(pipeline.ledger, T))


def test_domains_take_globs_and_exclusions() -> None:
    seen = ["yahoo.com", "yahoo.co.uk", "gmail.com", "mail.example"]
    assert _evaluate('domains = ["yahoo.*"]\n', seen) == ["yahoo.co.uk", "yahoo.com"]
    assert _evaluate('exclude_domains = ["yahoo.*", "Gmail.COM"]\n', seen) == ["mail.example"]
    assert _evaluate('domains = ["*.example", "gmail.com"]\n', seen) == [
        "gmail.com",
        "mail.example",
    ]


def test_globs_take_domains_as_people_write_them() -> None:
    """Labels are lower-case A-labels: a glob in capitals or in Unicode takes them as a
    named domain does (``*.рф`` is ``*.xn--p1ai``), and excludes them so; a group's
    name, a label as written, is taken by a glob as written."""
    seen = ["xn--80a1acny.xn--p1ai", "yahoo.fr", "example.de", "shop.xn--bcher-kva.de"]
    assert _evaluate('domains = ["*.рф", "Yahoo.*"]\n', seen) == [
        "xn--80a1acny.xn--p1ai",
        "yahoo.fr",
    ]
    assert _evaluate('exclude_domains = ["*.DE", "*.Bücher.de"]\n', seen) == [
        "xn--80a1acny.xn--p1ai",
        "yahoo.fr",
    ]
    grouped = '[domains]\ngroups = { "Почта-RU" = ["почта.рф"] }\n'
    config = parse_config(grouped + RULE + 'domains = ["Почта-*"]\n')
    pipeline = Pipeline(core_settings(config))
    feed_spike(pipeline, "почта.рф", T, 6, 4)
    (alert,) = Evaluator(config.alerts, ["5m", "15m", "1h"]).evaluate(pipeline.ledger, T)
    assert alert.domain == "Почта-RU"


def test_links_are_filled_in_per_alert() -> None:
    config = parse_config(
        '[alerts]\ndashboard_url = "https://grafana.example/d/sesd?var-domain={domain}&w={window}"\n'
        + RULE
        + 'runbook_url = "https://runbooks.example/{rule}"\nlabels = {team = "mail"}\n'
    )
    pipeline = Pipeline(core_settings(config))
    feed_spike(pipeline, "a.example", T, 6, 4)
    (alert,) = Evaluator(config.alerts, ["5m", "15m", "1h"]).evaluate(pipeline.ledger, T)
    assert alert.dashboard_url == "https://grafana.example/d/sesd?var-domain=a.example&w=5m"
    assert alert.runbook_url == "https://runbooks.example/delays"
    assert alert.labels == {"team": "mail"}


def test_a_links_scope_names_what_its_alert_is_on() -> None:
    """One dashboard template serves a domain's alert and a provider's: ``{scope}`` is
    what ``{domain}`` names, so ``var-{scope}={domain}`` sets the dashboard's provider
    variable for a provider, where ``var-domain=microsoft`` showed a domain of that
    name, none; and ``/{scope}/{domain}`` is the status page's view of either."""
    config = parse_config(
        '[alerts]\ndashboard_url = "https://grafana.example/d/sesd?var-{scope}={domain}"\n'
        + RULE
        + 'runbook_url = "https://sesd.example:9585/{scope}/{domain}"\n'
        + RULE.replace('"delays"', '"provider-delays"')
        + 'providers = ["*"]\nrunbook_url = "https://sesd.example:9585/{scope}/{domain}"\n'
    )
    pipeline = Pipeline(core_settings(config))
    feed_spike(pipeline, "outlook.com", T, 6, 4)
    alerts = Evaluator(config.alerts, ["5m", "15m", "1h"]).evaluate(pipeline.ledger, T)
    links = {a.rule: (a.dashboard_url, a.runbook_url) for a in alerts}
    assert links == {
        "delays": (
            "https://grafana.example/d/sesd?var-domain=outlook.com",
            "https://sesd.example:9585/domain/outlook.com",
        ),
        "provider-delays": (
            "https://grafana.example/d/sesd?var-provider=microsoft",
            "https://sesd.example:9585/provider/microsoft",
        ),
    }


def test_an_account_alerts_links_name_the_account_not_a_domain() -> None:
    """An account rule's alert is on an (account, region), named ``ACCOUNT/REGION``: its
    ``{scope}`` is ``account``, as its webhook field and Alertmanager labels say, so
    ``var-{scope}={domain}`` does not set the dashboard's domain variable to
    ``default/eu-west-1``, and ``{domain}`` is the label with its slash
    percent-encoded. The canary's one alert stays ``domain`` ``canary``, as its
    labels are."""
    from sesd.alerting.alert import link

    config = parse_config(
        '[alerts]\ndashboard_url = "https://grafana.example/d/sesd?var-{scope}={domain}"\n'
        '[[alerts.rules]]\nname = "paused"\nmetric = "sending_paused"\nwindow = "5m"\n'
        'above = 0\nrunbook_url = "https://runbooks.example/{scope}/{domain}"\n'
        '[canary]\nfrom = "c@example.com"\nconfiguration_set = "sesd"\ndeadline = "2m"\n'
        '[[alerts.rules]]\nname = "canary"\nmetric = "canary_missing"\nwindow = "5m"\n'
        "above = 0.5\n"
    )
    pipeline = Pipeline(core_settings(config))
    pipeline.ledger.accounts.record(("default", "eu-west-1")).sending_enabled = False
    (alert,) = Evaluator(config.alerts, ["5m", "15m", "1h"]).evaluate(pipeline.ledger, T)
    assert (alert.domain, alert.scope) == ("default/eu-west-1", "account")
    assert alert.dashboard_url == "https://grafana.example/d/sesd?var-account=default%2Feu-west-1"
    assert alert.runbook_url == "https://runbooks.example/account/default%2Feu-west-1"
    canary = config.alerts.rules[1]
    assert link("{scope}/{domain}", canary, "canary") == "domain/canary"


def test_a_rule_names_a_group_as_the_config_writes_it() -> None:
    """A group's label is its name as written (Consumer-MS, Почта): a rule naming it,
    as check-config tells the author to, watches it, and one leaving it out does."""
    groups = '[domains]\ngroups = { "Consumer-MS" = ["hotmail.com"], "Почта" = ["почта.рф"] }\n'

    def firing(extra: str) -> list[str]:
        config = parse_config(groups + RULE + extra)
        pipeline = Pipeline(core_settings(config))
        for domain in ("hotmail.com", "почта.рф", "gmail.com"):
            feed_spike(pipeline, domain, T, 6, 4)
        alerts = Evaluator(config.alerts, ["5m", "15m", "1h"]).evaluate(pipeline.ledger, T)
        return sorted(a.domain for a in alerts)

    assert firing('domains = ["Consumer-MS", "Почта"]\n') == ["Consumer-MS", "Почта"]
    assert firing('exclude_domains = ["Consumer-MS", "Почта"]\n') == ["gmail.com"]


def test_a_tenants_glob_takes_names_as_written() -> None:
    """Tenants are named as SES and the sender name them, capitals and all: a glob on
    tenants takes them as written, not in a domain's normal form."""
    from sesd.alerting.labels import takes

    on_tenants = parse_config(
        "[tenants]\nenabled = true\n" + RULE + 'tenants = ["Globex*"]\n'
    ).alerts.rules[0]
    assert takes(on_tenants, "Globex-EU")
    assert not takes(on_tenants, "globex-eu")


def test_a_group_name_in_a_link_is_percent_encoded() -> None:
    """A group's name may hold a space or an ``&``: filled in as written, it would split
    the dashboard's query and end the runbook's link at the space."""
    config = parse_config(
        '[domains]\ngroups = { "AT&T mail" = ["att.net"], "Почта" = ["почта.рф"] }\n'
        '[alerts]\ndashboard_url = "https://grafana.example/d/sesd?var-domain={domain}&w=1"\n'
        + RULE
        + 'runbook_url = "https://runbooks.example/{rule}/{domain}"\n'
    )
    pipeline = Pipeline(core_settings(config))
    feed_spike(pipeline, "att.net", T, 6, 4)
    feed_spike(pipeline, "почта.рф", T, 6, 4)
    alerts = Evaluator(config.alerts, ["5m", "15m", "1h"]).evaluate(pipeline.ledger, T)
    links = {a.domain: (a.dashboard_url, a.runbook_url) for a in alerts}
    assert links["AT&T mail"] == (
        "https://grafana.example/d/sesd?var-domain=AT%26T%20mail&w=1",
        "https://runbooks.example/delays/AT%26T%20mail",
    )
    assert links["Почта"][1] == "https://runbooks.example/delays/%D0%9F%D0%BE%D1%87%D1%82%D0%B0"


async def test_the_webhook_is_signed_and_a_receiver_can_check_it() -> None:
    async with WebhookReceiver(secret="s3cret") as receiver, aiohttp.ClientSession() as session:
        good = parse_config(
            f'[alerts.sinks.relay]\ntype = "webhook"\nurl = "{receiver.url}"\nsecret = "s3cret"\n'
        ).alerts.sinks["relay"]
        bad = parse_config(
            f'[alerts.sinks.relay]\ntype = "webhook"\nurl = "{receiver.url}"\nsecret = "wrong"\n'
        ).alerts.sinks["relay"]
        assert isinstance(good, WebhookConfig)
        assert isinstance(bad, WebhookConfig)
        await WebhookSink(good, session, "relay").send(notification())
        with pytest.raises(Permanent, match="HTTP 401"):
            await WebhookSink(bad, session, "relay").send(notification())
    (body,) = receiver.bodies
    assert receiver.rejected == 1
    assert (body["schema"], body["kind"], body["rule"]) == ("sesd.webhook.v1", "firing", "delays")
    assert body["alerts"][0]["domain"] == "outlook.example"


class _Alertmanager(WebhookReceiver):
    """An Alertmanager's alerts endpoint (200 on POST /api/v2/alerts)."""

    def __init__(self) -> None:
        super().__init__(path="/api/v2/alerts", status=200)
        self.url = f"http://127.0.0.1:{self.port}"


async def test_alertmanager_members_each_get_the_alerts_and_one_is_enough() -> None:
    """Every member gets each post; one member down is logged, not a failure; all down
    is retried."""
    down = f"http://127.0.0.1:{LocalServer().port}"  # nothing listens there
    async with _Alertmanager() as one, _Alertmanager() as two, aiohttp.ClientSession() as session:
        both = AlertmanagerConfig(urls=[one.url, two.url])
        await AlertmanagerSink(both, session, "am").send(notification())
        half = AlertmanagerConfig(urls=[down, one.url])
        await AlertmanagerSink(half, session, "am").send(notification())
        with pytest.raises(Retryable):
            await AlertmanagerSink(AlertmanagerConfig(urls=[down]), session, "am").send(
                notification()
            )
    assert (len(one.bodies), len(two.bodies)) == (2, 1)
    (posted,) = two.bodies[0]
    assert posted["labels"] == {
        "alertname": "delays",
        "domain": "outlook.example",
        "severity": "critical",
    }
    assert posted["startsAt"] == "2027-01-15T08:00:00Z"


async def test_a_shared_alertmanager_sink_leaves_the_resolve_to_alertmanager() -> None:
    """Replicas each see a share: one whose share resolves must not end an alert another
    still fires (Alertmanager would resolve it, and fire it again at the next resend).
    With ``shared`` a resolve posts nothing; the last firing post's endsAt ends it."""
    async with _Alertmanager() as am, aiohttp.ClientSession() as session:
        for shared in (False, True):
            sink = AlertmanagerSink(AlertmanagerConfig(urls=[am.url], shared=shared), session, "am")
            await sink.send(notification())
            await sink.send(notification(kind=Transition.RESOLVED))
    assert [len(body) for body in am.bodies] == [1, 1, 1]  # the second resolve: not posted
    configured = parse_config(AM + "shared = true\n").alerts.named_sinks()["am"]
    assert isinstance(configured, AlertmanagerConfig)
    assert configured.shared


def alerting_for(
    config: Config, pipeline: Pipeline, now: list[float], evaluator: Evaluator | None = None
) -> Alerting:
    """The daemon's alerting over ``pipeline`` (a console sink), its clock at ``now[0]``;
    ``evaluator``: one of the caller's (by default a new one over the ledger's windows)."""
    if evaluator is None:
        evaluator = Evaluator(config.alerts, [spec.name for spec in pipeline.ledger.specs])
    metrics = Metrics(pipeline.ledger, [], lambda: now[0], evaluator=evaluator)
    return Alerting(
        config,
        pipeline.ledger,
        evaluator,
        lambda: now[0],
        notifications=metrics.notifications,
        evaluation_errors=metrics.evaluation_errors,
        faults=metrics.task_failures.labels("alerting"),
        console=io.StringIO(),
    )


def _alerting(text: str) -> tuple[Alerting, Pipeline, list[float]]:
    config = parse_config(text)
    pipeline = Pipeline(core_settings(config))
    now = [T]
    return alerting_for(config, pipeline, now), pipeline, now


def _queued(alerting: Alerting, sink: str) -> list[tuple[str, list[str]]]:
    outbox = alerting.outboxes[sink]
    found = [(n.kind.value, [a.domain for a in n.alerts]) for n in outbox._queue]
    outbox._queue.clear()
    return found


#: The rule with one PagerDuty sink whose routing key comes from the environment.
PAGERDUTY_BY_ENV = (
    '[alerts.sinks.pd]\ntype = "pagerduty"\nrouting_key = "env:SESD_TEST_ROUTING_KEY"\n'
    + RULE
    + 'sinks = ["pd"]\n'
)
AM = (
    '[alerts.sinks.am]\ntype = "alertmanager"\nurls = ["http://127.0.0.1:9"]\nresend_every = "1m"\n'
)


@asynccontextmanager
async def _firing_at_alertmanager() -> AsyncIterator[tuple[Alerting, Pipeline, list[float]]]:
    """The rule with only the ``alertmanager`` sink, a.example's firing queued for it at
    T (and taken off the queue): the alerting, its pipeline and its clock."""
    alerting, pipeline, now = _alerting(
        '[alerts]\ngroup_wait = "0s"\n' + AM + RULE + 'sinks = ["am"]\n'
    )
    async with aiohttp.ClientSession() as session:
        alerting.open(session)
        feed_spike(pipeline, "a.example", T, 6, 4)
        alerting.evaluate()
        assert _queued(alerting, "am") == [("firing", ["a.example"])]
        yield alerting, pipeline, now


async def test_firing_alerts_are_posted_to_alertmanager_again_every_resend_every() -> None:
    async with _firing_at_alertmanager() as (alerting, pipeline, now):
        now[0] = T + 59
        alerting.evaluate()
        assert _queued(alerting, "am") == []
        now[0] = T + 60
        alerting.evaluate()
        assert _queued(alerting, "am") == [("repeat", ["a.example"])]
        feed_spike(pipeline, "a.example", T + 61, 0, 400)
        now[0] = T + 61
        alerting.evaluate()
        assert _queued(alerting, "am") == [("resolved", ["a.example"])]
        now[0] = T + 200
        alerting.evaluate()
        assert _queued(alerting, "am") == []


async def test_each_alert_at_alertmanager_carries_the_line_that_mutes_it_alone() -> None:
    """Alertmanager shows each alert on its own: a.example's ``mute`` names a.example,
    in the firing and in every resend, though the notification holds b.example too
    (the rule-wide line would mute every domain, new incidents included)."""
    from sesd.alerting.documents import alertmanager_documents

    alerting, pipeline, now = _alerting(
        '[alerts]\ngroup_wait = "0s"\n' + AM + RULE + 'sinks = ["am"]\n'
    )
    async with aiohttp.ClientSession() as session:
        alerting.open(session)
        feed_spike(pipeline, "a.example", T, 6, 4)
        feed_spike(pipeline, "b.example", T, 6, 4)
        alerting.evaluate()
        queue = alerting.outboxes["am"]._queue
        firing = queue.popleft()  # taken: a resend goes to an empty outbox
        now[0] = T + 60
        alerting.evaluate()
        (repeat,) = queue
        assert repeat.kind is Transition.REPEAT
        for notification in (firing, repeat):
            mutes = {
                doc["labels"]["domain"]: doc["annotations"]["mute"]
                for doc in alertmanager_documents(notification, 60.0)
            }
            assert sorted(mutes) == ["a.example", "b.example"]
            for domain, line in mutes.items():
                assert f"--rule delays --domain {domain} " in line
        assert "--domain '*'" in firing.silence  # the notification's own line (Slack)


async def test_a_resend_after_a_clock_step_back_starts_no_later_than_now() -> None:
    """The alert fired while the clock was ten minutes ahead; the clock steps back and
    the alert goes on: each resend to Alertmanager carries the start the step brought
    back (not the old one, which a document would clamp to its end, in the future)."""
    from sesd.alerting.documents import alertmanager_documents
    from sesd.core.timestamps import iso

    async with _firing_at_alertmanager() as (alerting, pipeline, now):
        queue = alerting.outboxes["am"]._queue
        now[0] = T - 600  # NTP steps the clock back
        feed_spike(pipeline, "a.example", now[0], 6, 4)
        alerting.evaluate()
        now[0] = T - 600 + 60
        alerting.evaluate()
        (repeat,) = queue
        assert repeat.kind is Transition.REPEAT
        (doc,) = alertmanager_documents(repeat, 60.0, now[0])
        assert doc["startsAt"] == iso(T - 600)
        assert doc["startsAt"] < doc["endsAt"]


async def test_a_firing_waiting_its_group_is_not_resent_before_it_goes() -> None:
    """Alertmanager's resends carry alerts it has: one still waiting its group_wait is
    posted first as a firing, with its group, not as a repeat ahead of it."""
    alerting, pipeline, now = _alerting(
        '[alerts]\ngroup_wait = "2m"\n' + AM + RULE + 'sinks = ["am"]\n'
    )
    async with aiohttp.ClientSession() as session:
        alerting.open(session)
        feed_spike(pipeline, "a.example", T, 6, 4)
        alerting.evaluate()
        now[0] = T + 60  # a resend is due; the firing still waits its group
        alerting.evaluate()
        assert _queued(alerting, "am") == []
        now[0] = T + 120
        alerting.evaluate()
        assert _queued(alerting, "am") == [("firing", ["a.example"])]


async def test_a_clock_step_back_does_not_hold_the_resends_for_as_long_as_the_step() -> None:
    """Alertmanager ends an alert not posted again within its resolve_timeout: after the
    wall clock steps back half an hour, the next evaluation posts the firing alerts."""
    async with _firing_at_alertmanager() as (alerting, _, now):
        now[0] = T - 1800
        alerting.stepped(now[0], -1800)  # as the daemon does when its clock steps
        alerting.evaluate()
        assert _queued(alerting, "am") == [("repeat", ["a.example"])]
        now[0] = T - 1790
        alerting.evaluate()
        assert _queued(alerting, "am") == []  # counted from the resend, as before


async def test_a_silence_after_the_firing_keeps_alertmanager_from_resolving_it() -> None:
    """An alert whose firing Alertmanager has is posted again under a silence that began
    later (without it, Alertmanager ends the alert after its endsAt and its receivers
    hear a resolve for an alert that still fires); one that fired under the silence,
    which Alertmanager never had, is not."""
    from sesd.alerting.silences import Silence

    async with _firing_at_alertmanager() as (alerting, pipeline, now):
        alerting.silences.silences.items = [
            Silence(id="s", comment="c", starts_at=T, ends_at=T + 3600, rule="delays")
        ]
        feed_spike(pipeline, "b.example", T + 10, 6, 4)
        now[0] = T + 10
        alerting.evaluate()
        assert _queued(alerting, "am") == []  # b fired under the silence: held
        now[0] = T + 60
        alerting.evaluate()
        assert _queued(alerting, "am") == [("repeat", ["a.example"])]


async def test_a_reload_changing_a_firing_rules_labels_moves_its_alert_at_alertmanager_now() -> (
    None
):
    """Alertmanager tells alerts apart by their labels: a reload that changes a firing
    rule's labels or severity resolves the old labels there and fires the new ones at
    once (not at the next repeat, hours later, when the old ones would end in a
    resolve mid-incident), and every resend carries the new ones. A console sink,
    which tells alerts by rule and domain, gets nothing; nor does a reload that
    changes neither."""
    base = '[alerts]\ngroup_wait = "0s"\n' + AM + '[alerts.sinks.ops]\ntype = "console"\n'
    async with _firing_at_alertmanager() as (alerting, _, now):
        alerting.reconfigure(parse_config(base + RULE + 'sinks = ["am", "ops"]\n'))
        alerting.evaluate()  # what a reload owes goes out with the next evaluation
        assert _queued(alerting, "ops") == [("firing", ["a.example"])]  # "ops" is new
        assert _queued(alerting, "am") == []
        now[0] = T + 5
        alerting.reconfigure(parse_config(base + RULE + 'sinks = ["am", "ops"]\n'))
        alerting.evaluate()
        assert _queued(alerting, "am") == []
        relabelled = RULE + 'sinks = ["am", "ops"]\nseverity = "critical"\nlabels = {tier = "1"}\n'
        alerting.reconfigure(parse_config(base + relabelled))
        alerting.evaluate()
        sent = list(alerting.outboxes["am"]._queue)
        # In order, though the firing is more urgent: one rule's keep theirs.
        assert [(n.kind, [(a.severity, a.labels) for a in n.alerts]) for n in sent] == [
            (Transition.RESOLVED, [("warning", {})]),
            (Transition.FIRING, [("critical", {"tier": "1"})]),
        ]
        for n in sent:
            (moved,) = n.alerts
            assert moved.domain == "a.example"
            assert moved.notes == (
                "the rule's labels or severity changed: the alert goes on under the new ones",
            )
        assert _queued(alerting, "ops") == []
        _queued(alerting, "am")
        now[0] = T + 60
        alerting.evaluate()
        (resent,) = alerting.outboxes["am"]._queue
        assert resent.kind is Transition.REPEAT
        assert [(a.severity, a.labels) for a in resent.alerts] == [("critical", {"tier": "1"})]


async def test_a_reload_keeps_a_sink_whose_config_and_secrets_it_keeps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A sink rebuilt at every reload would lose where its notification in flight got to
    (a rate-limited PagerDuty notification started again from its first event): a
    reload with the same config and secrets keeps the sink; a secret rotated behind the
    same reference makes it anew."""
    from sesd.config import read_secrets

    monkeypatch.setenv("SESD_TEST_ROUTING_KEY", "key-1".ljust(32, "0"))
    text = PAGERDUTY_BY_ENV
    alerting, _, _ = _alerting(text)
    async with aiohttp.ClientSession() as session:
        alerting.open(session)
        alerting.reconfigure(read_secrets(parse_config(text)))
        sink = alerting.outboxes["pd"].sink
        alerting.reconfigure(read_secrets(parse_config(text)))
        assert alerting.outboxes["pd"].sink is sink
        monkeypatch.setenv("SESD_TEST_ROUTING_KEY", "key-2".ljust(32, "0"))
        alerting.reconfigure(read_secrets(parse_config(text)))
        assert alerting.outboxes["pd"].sink is not sink


async def test_a_reload_keeps_states_and_queues_and_resolves_a_removed_rule() -> None:
    two_rules = RULE + 'sinks = ["ops"]\n' + RULE.replace('"delays"', '"other"')
    alerting, pipeline, now = _alerting(
        '[alerts]\ngroup_wait = "0s"\n[alerts.sinks.ops]\ntype = "console"\n' + two_rules
    )
    async with aiohttp.ClientSession() as session:
        alerting.open(session)
        feed_spike(pipeline, "a.example", T, 6, 4)
        alerting.evaluate()
        assert _queued(alerting, "ops") == [("firing", ["a.example"])]
        before = alerting.evaluator.states["other"]["a.example"]
        # "delays" is removed, "other" stays, the sink "ops" goes and "new" comes.
        reloaded = parse_config(
            '[alerts]\ngroup_wait = "0s"\n[alerts.sinks.new]\ntype = "console"\n'
            + RULE.replace('"delays"', '"other"')
        )
        ops = alerting.outboxes["ops"]
        now[0] = T + 5
        # A kept rule's group still waiting for its group_wait is not hurried.
        feed_spike(pipeline, "b.example", T + 5, 6, 4)
        alerting.evaluator.groups.group_wait = 60.0
        alerting.evaluator.evaluate(pipeline.ledger, T + 5)
        alerting.reconfigure(reloaded)
        # The removed rule's groups go at once: b's firing, then both resolves.
        assert [(n.kind, n.rule, [a.domain for a in n.alerts]) for n in ops._queue] == [
            (Transition.FIRING, "delays", ["b.example"]),
            (Transition.RESOLVED, "delays", ["a.example", "b.example"]),
        ]
        assert alerting.evaluator.groups.waiting() == [("other", "b.example", Transition.FIRING)]
        assert "ops" not in alerting.outboxes
        assert "new" in alerting.outboxes
        assert alerting.evaluator.states["other"]["a.example"] is before
        assert "delays" not in alerting.evaluator.states


async def test_a_reload_applies_the_outbox_size_and_notification_age_to_every_sink() -> None:
    """Five notifications wait for a sink; a reload lowers outbox_size to 2 and
    notification_max_age to 30 s. The outbox keeps the two newest (three counted
    dropped), holds two from then on, and gives up on a delivery after 30 s."""
    sink = '[alerts.sinks.ops]\ntype = "console"\n'
    alerting, _, _ = _alerting('[alerts]\ngroup_wait = "0s"\n' + sink + RULE)
    async with aiohttp.ClientSession() as session:
        alerting.open(session)
        ops = alerting.outboxes["ops"]
        sent = [dataclasses.replace(notification(), at=T + i) for i in range(5)]
        for one in sent:
            ops.put(one)
        alerting.reconfigure(
            parse_config(
                '[alerts]\ngroup_wait = "0s"\noutbox_size = 2\nnotification_max_age = "30s"\n'
                + sink
                + RULE
            )
        )
        assert list(ops._queue) == sent[3:]
        dropped = alerting.notifications.labels("ops", "dropped")
        assert dropped._value.get() == 3
        ops.put(dataclasses.replace(notification(), at=T + 9))
        assert [n.at for n in ops._queue] == [T + 4, T + 9]
        assert dropped._value.get() == 4
        assert ops._max_age == 30.0


def test_after_a_stall_an_empty_window_resolves_nothing_for_its_length() -> None:
    """The event loop stood still for six minutes (SIGSTOP, a paused VM, a starved
    CPU): the events of those minutes are still in the queue, so a firing alert whose
    window is empty is not resolved until a window's length after the stall; a gap of
    a few evaluation periods is no stall."""
    alerting, pipeline, now = _alerting(RULE)
    feed_spike(pipeline, "a.example", T, 5, 5)
    alerting.evaluate()
    alerting._stalled(4 * alerting._config.alerts.evaluate_every.seconds)
    assert alerting.evaluator.blindness.since == float("-inf")
    now[0] = T + 360
    with capture_logs() as logs:
        alerting._stalled(360.0)
    assert [(e["event"], e["seconds"]) for e in logs] == [("sesd.alert.stalled", 360.0)]
    assert alerting.evaluator.evaluate(pipeline.ledger, T + 659) == []
    (resolved,) = alerting.evaluator.evaluate(pipeline.ledger, T + 660)
    assert resolved.kind is Transition.RESOLVED


def test_while_a_queue_is_unread_an_empty_window_resolves_nothing() -> None:
    """A queue stops answering (its permission revoked, the queue deleted, a KMS key
    disabled) while an alert fires: its events wait in the queue, so the empty window
    resolves nothing, then, and for a window's length after it answers again."""
    alerting, pipeline, now = _alerting(RULE)
    feed_spike(pipeline, "a.example", T, 5, 5)
    alerting.evaluate()
    unread = [["q"]]
    alerting.unread = lambda: unread[0]

    def status() -> Status:
        return alerting.evaluator.states["delays"]["a.example"].status

    now[0] = T + 900  # the 5m window emptied long ago
    with capture_logs() as logs:
        alerting.evaluate()
        alerting.evaluate()
    assert status() is Status.FIRING
    (held,) = [e for e in logs if e["event"] == "sesd.alert.resolves_held"]
    assert held["queues"] == ["q"]  # once, naming the queue: whoever wonders is told
    unread[0] = []
    now[0] = T + 1199
    alerting.evaluate()
    assert status() is Status.FIRING
    now[0] = T + 1200
    alerting.evaluate()
    assert status() is Status.INACTIVE


def test_an_unread_queue_is_said_to_hold_resolves_once_an_alert_fires() -> None:
    """A queue that cannot be read (no credentials) while no alert fires holds no
    resolve: nothing is said of resolves held, at an evaluation nor at the stop's last
    one (it came after sesd.queue.stopped, noise at a stop); once an alert fires while
    the queue is still unread, the next evaluation says it, once."""
    alerting, pipeline, now = _alerting(RULE)
    alerting.unread = lambda: ["q"]
    with capture_logs() as logs:
        alerting.evaluate()
        alerting.evaluate(flush=True)  # a stop's last evaluation (drain)
    assert "sesd.alert.resolves_held" not in [e["event"] for e in logs]
    assert alerting.evaluator.blindness.since == now[0]  # resolves are held all the same
    feed_spike(pipeline, "a.example", T, 5, 5)
    with capture_logs() as logs:
        alerting.evaluate()  # it fires
        alerting.evaluate()
        alerting.evaluate()
    held = [e for e in logs if e["event"] == "sesd.alert.resolves_held"]
    assert [e["queues"] for e in held] == [["q"]]


def test_while_sesd_reads_over_half_a_window_behind_a_firing_alert_does_not_resolve() -> None:
    """After a restart sesd catches up, reading events minutes old: the 5m window then
    holds a few seconds' deliveries, and resolving on them un-paged an incident that
    still ran. While sesd reads more than half a window behind, a firing alert stays;
    once it reads near now, the same window resolves it."""
    alerting, pipeline, now = _alerting(RULE)
    feed_spike(pipeline, "a.example", T, 5, 5)
    alerting.evaluate()

    def status() -> Status:
        return alerting.evaluator.states["delays"]["a.example"].status

    now[0] = T + 400
    for i in range(6):  # read at T + 400, sent 240-235 s before: more than half of 5m
        event = f.raw(f.delivery([f"late{i}@a.example"], at=T + 160 + i))
        pipeline.feed(event, "q", now[0], received_at=now[0])
    alerting.evaluate()
    assert status() is Status.FIRING
    pipeline.feed(f.raw(f.delivery(["now@a.example"], at=T + 399)), "q", now[0], received_at=now[0])
    alerting.evaluate()
    assert status() is Status.INACTIVE


def test_delays_read_hours_late_page_only_once_sesd_has_caught_up() -> None:
    """Draining a three-hour backlog in event order, sesd reads delays long before the
    deliveries that ended them: a pending_delays rule paged for an incident over for
    hours, with nothing in the page. While sesd reads further behind than the rule's
    window its pending count says nothing; read near now, delays nothing has ended page."""
    rule = RULE.replace('metric = "delay_ratio"', 'metric = "pending_delays"')
    rule = rule.replace("above = 0.2", "above = 2").replace("min_events = 4", "min_events = 0")
    alerting, pipeline, _ = _alerting(rule)
    for i in range(3):
        late = f.delay([f"d{i}@a.example"], at=T - 3 * 3600 + i, expires=T + 3600)
        pipeline.feed(f.raw(late), "q", T, received_at=T)
    assert pipeline.ledger.pending.count("a.example", T) == 3
    alerting.evaluate()
    held = alerting.evaluator.states["delays"].get("a.example")
    assert held is None or held.status is Status.INACTIVE
    # Caught up: an event of now read now; nothing ended the three delays.
    pipeline.feed(f.raw(f.delivery(["x@b.example"], at=T - 5)), "q", T, received_at=T)
    alerting.evaluate()
    assert alerting.evaluator.states["delays"]["a.example"].status is Status.FIRING


def test_a_daemon_counts_a_queue_whose_receives_fail_as_unread() -> None:
    """The daemon tells its alerting a queue is unread while its receives fail for good
    (or again and again), until one succeeds."""
    from sesd.runtime.daemon import Daemon

    config = parse_config('[[queues]]\nurl = "http://127.0.0.1:9/1/q"\n' + RULE)
    daemon = Daemon(config, clock=lambda: T, monotonic=lambda: T)
    assert daemon.alerting.unread() == []
    daemon.health.failing.add("q")
    assert daemon.alerting.unread() == ["q"]
    daemon.health.received("q", T)
    assert daemon.alerting.unread() == []


def test_a_daemon_counts_a_queue_no_receive_answers_for_a_minute_as_unread() -> None:
    """A queue whose receives hang (nothing fails, nothing is answered) is unread as a
    failing one is, from a minute without an answer (what /readyz calls not ready):
    counted from its last answer, or from its pollers' start if it never answered; a
    queue a reload removes is not, and one added again is judged from its new start
    (not from an answer of its removed pollers)."""
    from sesd.runtime.daemon import Daemon

    config = parse_config('[[queues]]\nurl = "http://127.0.0.1:9/1/q"\n' + RULE)
    mono = [1000.0]
    daemon = Daemon(config, clock=lambda: T, monotonic=lambda: mono[0])
    health = daemon.health
    mono[0] += 3600
    assert daemon.alerting.unread() == []  # not polled (yet): nobody waits on it
    health.polling("q", mono[0])
    mono[0] += 60
    assert daemon.alerting.unread() == []  # a long poll or two may still answer
    mono[0] += 1
    assert daemon.alerting.unread() == ["q"]  # never answered since its start
    health.received("q", mono[0])
    assert daemon.alerting.unread() == []
    mono[0] += 61
    assert daemon.alerting.unread() == ["q"]
    assert health.ready(mono[0]) == (False, ["q"])  # the one rule /readyz gives too
    health.follow([])
    assert daemon.alerting.unread() == []
    health.received("q", mono[0] - 600)  # the removed queue's last receive came back late
    health.follow(["q"])
    assert daemon.alerting.unread() == []  # added again: no poller yet
    health.polling("q", mono[0])
    assert daemon.alerting.unread() == []


async def _silenceable(
    tmp_path: Path, sinks: tuple[str, ...], group_wait: str
) -> tuple[Alerting, Pipeline, list[float], Path]:
    """The rule on console ``sinks`` with a silences file, its outboxes open but not
    running (what they get stays queued): the alerting, its pipeline, its clock and
    the silences file."""
    silences = tmp_path / "silences.json"
    text = f'[alerts]\ngroup_wait = "{group_wait}"\nsilences_path = "{silences}"\n'
    text += "".join(f'[alerts.sinks.{name}]\ntype = "console"\n' for name in sinks)
    names = ", ".join(f'"{name}"' for name in sinks)
    alerting, pipeline, now = _alerting(text + RULE + f"sinks = [{names}]\n")
    async with aiohttp.ClientSession() as session:
        alerting.open(session)
    return alerting, pipeline, now, silences


async def test_a_new_silence_recalls_the_pages_still_queued(tmp_path: Path) -> None:
    """A storm's pages wait in the outboxes (PagerDuty takes 120 a minute); the on-call
    silences the rule on a.example. What no sink has taken is recalled: the firing
    is gone from every queue, as if the silence had held it, so no resolve follows and
    it goes when the silence ends while it still fires. b.example's page stays."""
    from sesd.alerting.silence_file import SilenceFile
    from sesd.alerting.silences import Silence

    alerting, pipeline, now, silences = await _silenceable(tmp_path, ("ops", "pager"), "0s")
    feed_spike(pipeline, "a.example", T, 5, 5)
    feed_spike(pipeline, "b.example", T, 5, 5)
    alerting.evaluate()
    assert _domains_queued(alerting, "pager") == [["a.example", "b.example"]]
    silence = Silence(id="s1", comment="storm", starts_at=T, ends_at=T + 60, rule="delays",
                      domain="a.example")  # fmt: skip
    SilenceFile(str(silences)).add(silence, T)
    now[0] = T + 1
    alerting.evaluate()
    assert _domains_queued(alerting, "pager") == [["b.example"]]
    assert _domains_queued(alerting, "ops") == [["b.example"]]
    assert alerting.evaluator.states["delays"]["a.example"].notified is False
    assert alerting.evaluator.states["delays"]["b.example"].notified
    now[0] = T + 61  # the silence ended; a.example still fires: its firing goes now
    alerting.evaluate()
    assert _queued(alerting, "pager")[-1] == ("firing", ["a.example"])


async def test_a_reload_moving_the_silences_file_reads_it_at_once(tmp_path: Path) -> None:
    """A reload points silences_path at another file, whose silence holds a.example. The
    silence is in force from the reload (the status page and metrics ask it before the
    next evaluation), and a.example's page queued before is recalled at that evaluation
    as for a silence added to the file: reading the file at the reload must not lose it."""
    from sesd.alerting.silence_file import SilenceFile
    from sesd.alerting.silences import Silence

    alerting, pipeline, now, _ = await _silenceable(tmp_path, ("pager",), "0s")
    feed_spike(pipeline, "a.example", T, 5, 5)
    feed_spike(pipeline, "b.example", T, 5, 5)
    alerting.evaluate()
    moved = tmp_path / "moved.json"
    silence = Silence(id="s1", comment="storm", starts_at=T, ends_at=T + 60, rule="delays",
                      domain="a.example")  # fmt: skip
    SilenceFile(str(moved)).add(silence, T)
    text = f'[alerts]\ngroup_wait = "0s"\nsilences_path = "{moved}"\n'
    text += '[alerts.sinks.pager]\ntype = "console"\n' + RULE + 'sinks = ["pager"]\n'
    alerting.reconfigure(parse_config(text))
    assert alerting.evaluator.silenced("delays", "a.example", T)
    assert not alerting.evaluator.silenced("delays", "b.example", T)
    now[0] = T + 1
    alerting.evaluate()
    assert _domains_queued(alerting, "pager") == [["b.example"]]
    assert alerting.evaluator.states["delays"]["a.example"].notified is False


async def test_a_new_silence_recalls_a_firing_still_waiting_its_group_wait(
    tmp_path: Path,
) -> None:
    """a.example and b.example fire and wait their 10 s group_wait; the on-call silences
    a.example meanwhile. When the group goes out it holds b.example alone, a.example is
    not notified (no resolve follows), and it goes when the silence ends."""
    from sesd.alerting.silence_file import SilenceFile
    from sesd.alerting.silences import Silence

    alerting, pipeline, now, silences = await _silenceable(tmp_path, ("pager",), "10s")
    feed_spike(pipeline, "a.example", T, 5, 5)
    feed_spike(pipeline, "b.example", T, 5, 5)
    alerting.evaluate()
    assert _queued(alerting, "pager") == []
    silence = Silence(id="s1", comment="storm", starts_at=T, ends_at=T + 60, rule="delays",
                      domain="a.example")  # fmt: skip
    SilenceFile(str(silences)).add(silence, T)
    now[0] = T + 1
    alerting.evaluate()
    assert alerting.evaluator.waiting() == [("delays", "b.example", Transition.FIRING)]
    now[0] = T + 10
    alerting.evaluate()
    assert _domains_queued(alerting, "pager") == [["b.example"]]
    assert alerting.evaluator.states["delays"]["a.example"].notified is False
    now[0] = T + 61
    alerting.evaluate()
    now[0] = T + 71
    alerting.evaluate()
    assert _queued(alerting, "pager")[-1] == ("firing", ["a.example"])


async def test_a_page_one_sink_took_is_recalled_from_the_others_and_still_resolves(
    tmp_path: Path,
) -> None:
    """A firing one sink delivered already is recalled from the sinks still holding it,
    but its alert stays notified: its resolve reaches every sink."""
    from sesd.alerting.silence_file import SilenceFile
    from sesd.alerting.silences import Silence

    alerting, pipeline, now, silences = await _silenceable(tmp_path, ("ops", "pager"), "0s")
    feed_spike(pipeline, "a.example", T, 5, 5)
    alerting.evaluate()
    alerting.outboxes["ops"]._queue.clear()  # ops took it
    silence = Silence(id="s1", comment="c", starts_at=T, ends_at=T + 3600, rule="delays")
    SilenceFile(str(silences)).add(silence, T)
    now[0] = T + 1
    alerting.evaluate()
    assert _domains_queued(alerting, "pager") == []
    assert alerting.evaluator.states["delays"]["a.example"].notified


async def test_a_silence_recalls_from_each_rules_notification_what_it_holds(
    tmp_path: Path,
) -> None:
    """Two rules' notifications wait in each outbox; a silence of the second rule on
    a.example recalls that alone, and one of every rule on a.example recalls it from
    both, naming each."""
    from sesd.alerting.recall import recall
    from sesd.alerting.silences import Silence

    sinks = '[alerts.sinks.ops]\ntype = "console"\n[alerts.sinks.pager]\ntype = "console"\n'
    rules = RULE + 'sinks = ["ops", "pager"]\n'
    rules += rules.replace('"delays"', '"delays2"')
    alerting, pipeline, _ = _alerting('[alerts]\ngroup_wait = "0s"\n' + sinks + rules)
    async with aiohttp.ClientSession() as session:
        alerting.open(session)
    feed_spike(pipeline, "a.example", T, 5, 5)
    feed_spike(pipeline, "b.example", T, 5, 5)
    alerting.evaluate()
    both = [["a.example", "b.example"], ["a.example", "b.example"]]
    assert _domains_queued(alerting, "pager") == both
    silences = alerting.evaluator.silences
    silences.items = [
        Silence(id="s1", comment="c", starts_at=T, ends_at=T + 60, rule="delays2",
                domain="a.example"),
    ]  # fmt: skip
    recalled = recall(alerting.outboxes.values(), alerting.evaluator, T + 1)
    assert recalled == [("delays2", "a.example")]
    assert _domains_queued(alerting, "pager") == [["a.example", "b.example"], ["b.example"]]
    silences.items = [
        Silence(id="s2", comment="c", starts_at=T, ends_at=T + 60, rule="*", domain="a.example")
    ]
    recalled = recall(alerting.outboxes.values(), alerting.evaluator, T + 1)
    assert recalled == [("delays", "a.example")]
    assert _domains_queued(alerting, "ops") == [["b.example"], ["b.example"]]
    silences.items = [Silence(id="s3", comment="c", starts_at=T, ends_at=T + 60, rule="*")]
    recalled = recall(alerting.outboxes.values(), alerting.evaluator, T + 1)
    assert sorted(recalled) == [("delays", "b.example"), ("delays2", "b.example")]
    assert _domains_queued(alerting, "ops") == []


async def test_a_pagerduty_sink_asks_the_silences_in_force(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The PagerDuty sink asks, before each event it has yet to send, whether a silence
    now holds the alert: the evaluator's silences, at the alerting's clock; a sink a
    reload makes anew asks too."""
    from sesd.alerting.silences import Silence

    monkeypatch.setenv("SESD_TEST_ROUTING_KEY", "key-1".ljust(32, "0"))
    text = PAGERDUTY_BY_ENV
    alerting, _, now = _alerting(text)
    async with aiohttp.ClientSession() as session:
        alerting.open(session)
        sink = alerting.outboxes["pd"].sink
        assert isinstance(sink, PagerDutySink)
        assert not sink.held("delays", "a.example", Transition.REPEAT)
        alerting.evaluator.silences.items = [
            Silence(id="s", comment="c", starts_at=T, ends_at=T + 60, rule="delays")
        ]
        assert sink.held("delays", "a.example", Transition.REPEAT)
        now[0] = T + 61
        assert not sink.held("delays", "a.example", Transition.REPEAT)  # the silence ended
        monkeypatch.setenv("SESD_TEST_ROUTING_KEY", "key-2".ljust(32, "0"))
        from sesd.config import read_secrets

        alerting.reconfigure(read_secrets(parse_config(text)))
        anew = alerting.outboxes["pd"].sink
        assert anew is not sink
        assert isinstance(anew, PagerDutySink)
        assert not anew.held("delays", "a.example", Transition.REPEAT)
        alerting.evaluator.silences.items = [
            Silence(id="s", comment="c", starts_at=T, ends_at=T + 120, rule="delays")
        ]
        assert anew.held("delays", "a.example", Transition.REPEAT)


def _domains_queued(alerting: Alerting, sink: str) -> list[list[str]]:
    return [[a.domain for a in n.alerts] for n in alerting.outboxes[sink]._queue]


def test_the_log_says_when_sesd_falls_behind_a_window_and_when_it_caught_up() -> None:
    """A replica draining a backlog cannot fire a rule on what waits in the queue: the
    log says so once when the events it reads grow older than the shortest window, names
    the queue furthest behind, and says once when it caught up."""
    from structlog.testing import capture_logs

    alerting, pipeline, now = _alerting(RULE)
    shortest = pipeline.ledger.specs[0].seconds

    def read(queue: str, lag: float) -> None:
        event = f.raw(f.delivery(["a@a.example"], at=now[0] - lag))
        pipeline.feed(event, queue, now[0], received_at=now[0])

    with capture_logs() as logs:
        read("q", shortest)  # as old as the window: still in it
        alerting.evaluate()
        now[0] += 1
        read("q", 30.0)
        read("backlog", shortest + 1)
        alerting.evaluate()
        now[0] += 1
        read("backlog", shortest + 60)
        alerting.evaluate()
        now[0] += 1
        read("backlog", 30.0)
        alerting.evaluate()
        alerting.evaluate()
    # Each evaluation's own debug line aside.
    said = [e for e in logs if e["event"] != "sesd.alert.evaluated"]
    lines = [(e["event"], e.get("queue"), e.get("seconds")) for e in said]
    assert lines == [
        ("sesd.behind", "backlog", round(shortest + 1)),
        ("sesd.caught_up", None, None),
    ]


def test_one_late_message_in_a_receive_of_current_mail_is_not_falling_behind() -> None:
    """SQS keeps no order: a receive of five current events brings, last, one made 15
    minutes ago; at a trickle, the next brings one such alone. The log does not say
    sesd fell behind; it does when receive after receive brings old events only (a
    backlog)."""
    from structlog.testing import capture_logs

    alerting, pipeline, now = _alerting(RULE)

    def receive(lags: list[float]) -> None:
        for lag in lags:
            event = f.raw(f.delivery(["a@a.example"], at=now[0] - lag))
            pipeline.feed(event, "q", now[0], received_at=now[0])

    with capture_logs() as logs:
        receive([2.0] * 5 + [900.0])
        alerting.evaluate()
        assert pipeline.ledger.tallies.behind(now[0]) == 2.0
        now[0] += 1
        receive([900.0])
        alerting.evaluate()
        assert pipeline.ledger.tallies.behind(now[0]) == 2.0
        now[0] += 1
        receive([901.0, 905.0])
        alerting.evaluate()
    # Each evaluation's own debug line aside.
    said = [e for e in logs if e["event"] != "sesd.alert.evaluated"]
    lines = [(e["event"], e.get("queue"), e.get("seconds")) for e in said]
    assert lines == [("sesd.behind", "q", 900)]


def test_a_silence_withdraws_waiting_firings_it_holds_and_no_resolve() -> None:
    """Groups waiting their group_wait: a silence on one domain takes its firing out of
    whichever group holds it (not only the first group looked at), and leaves a
    waiting resolve alone (a resolve of a page that went out must still go)."""
    from sesd.alerting.grouping import Groups
    from tests.test_sinks import alert

    rule = parse_config(RULE).alerts.rules[0]
    groups = Groups(10.0)
    groups.add(rule, alert("a.example"), T, ("pd",))
    groups.add(rule, alert("b.example"), T, ("slack",))
    groups.add(rule, alert("b.example", kind=Transition.RESOLVED), T, ("pd",))
    taken = groups.withdraw(lambda a: a.domain == "b.example")
    assert [(a.domain, a.kind) for a in taken] == [("b.example", Transition.FIRING)]
    assert sorted(groups.waiting()) == [
        ("delays", "a.example", Transition.FIRING),
        ("delays", "b.example", Transition.RESOLVED),
    ]
