"""The ``alertmanager`` sink against the real Alertmanager (Debian's
``prometheus-alertmanager``), which routes to a local webhook receiver: two sesd
processes firing the same (rule, domain) make one notification; an ``amtool`` silence
holds an alert back; the resolve arrives; a provider found while an alert fires is in
its annotations from the next resend; the shipped config holds a warning back by a
critical alert of its own fleet only."""

from __future__ import annotations

import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream

from sesd.commands.demo.localsqs import LocalSqs, free_port
from tests import factory as f
from tests.conftest import make_queue, require_tool, send_bodies
from tests.receivers import WebhookReceiver
from tests.sesd_process import SesdProcess, config_file, sesd_process

ALERTMANAGER = "prometheus-alertmanager"
ROOT = Path(__file__).resolve().parent.parent


@asynccontextmanager
async def alertmanager(tmp_path: Path, webhook: str, text: str = "") -> AsyncIterator[str]:
    """A single Alertmanager (no cluster) on a free loopback port, routing every alert
    to ``webhook`` grouped by rule, with a short group_wait (or configured by
    ``text``); yields its URL."""
    binary = require_tool(ALERTMANAGER)
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        text
        or "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 1s\n"
        "  group_interval: 1s\n  repeat_interval: 1h\n"
        "receivers:\n- name: hook\n  webhook_configs:\n"
        f"  - url: {webhook}\n    send_resolved: true\n"
    )
    port = free_port()
    async with await anyio.open_process(
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stderr is not None
        log = BufferedByteReceiveStream(process.stderr)
        try:
            with anyio.fail_after(30):
                while b'msg="Listening on"' not in (line := await log.receive_until(b"\n", 65536)):
                    assert b"level=error" not in line, line
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            await process.wait()


async def _posted(sesd: SesdProcess, domain: str) -> None:
    """Wait until ``sesd`` fired for ``domain`` and then posted to Alertmanager."""
    with anyio.fail_after(30):
        await sesd.wait_for(
            lambda r: r.get("event") == "sesd.alert.firing" and r.get("domain") == domain
        )
        await sesd.wait_for(lambda r: r.get("event") == "sesd.notify.sent" and r["sink"] == "am")


@pytest.mark.timeout(120)
async def test_two_replicas_one_notification_a_silence_and_the_resolve(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    amtool = require_tool("amtool")
    async with WebhookReceiver() as receiver, alertmanager(tmp_path, receiver.url) as am:
        queues = [(await make_queue(sqs))[0] for _ in range(2)]
        replicas = []
        for i, url in enumerate(queues):
            directory = tmp_path / f"replica-{i}"
            directory.mkdir()
            replicas.append(
                config_file(
                    directory,
                    f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
                    f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 1\n'
                    '[alerts]\nevaluate_every = "100ms"\ngroup_wait = "0s"\n'
                    f'[alerts.sinks.am]\ntype = "alertmanager"\nurls = ["{am}"]\n'
                    '[[alerts.rules]]\nname = "delays"\nmetric = "delay_ratio"\n'
                    'window = "5m"\nabove = 0.5\nmin_events = 1\nsinks = ["am"]\n'
                    'labels = {team = "mail"}\n'
                    'runbook_url = "https://runbooks.example/{rule}"\n',
                )
            )

        async def to_both(bodies: list[str]) -> None:
            for url in queues:
                await send_bodies(sqs, url, bodies)

        async with sesd_process(replicas[0]) as one, sesd_process(replicas[1]) as two:
            # Both replicas fire delays/a.example: Alertmanager sends one notification.
            await to_both([f.raw(f.delay(["x@a.example"], at=time.time()))])
            for sesd in (one, two):
                await _posted(sesd, "a.example")
            with anyio.fail_after(30):
                first = await receiver.wait_for(lambda body: body["status"] == "firing")
            (alert,) = first["alerts"]
            assert alert["labels"] == {
                "alertname": "delays",
                "domain": "a.example",
                "severity": "warning",
                "team": "mail",
            }
            assert alert["annotations"]["runbook_url"] == "https://runbooks.example/delays"
            assert "where: SES -> recipient MTA" in alert["annotations"]["description"]

            # A silence in Alertmanager: b.example fires on both, and nothing is sent.
            await anyio.run_process(
                [
                    amtool,
                    "silence",
                    "add",
                    "alertname=delays",
                    "domain=b.example",
                    "--comment=known",
                    "--author=test",
                    "--duration=1h",
                    f"--alertmanager.url={am}",
                ]
            )
            await to_both([f.raw(f.delay(["x@b.example"], at=time.time()))])
            for sesd in (one, two):
                await _posted(sesd, "b.example")

            # a.example recovers on both: the resolve arrives, and only a.example's.
            now = time.time()
            await to_both([f.raw(f.delivery([f"v{i}@a.example"], at=now)) for i in range(3)])
            with anyio.fail_after(30):
                resolved = await receiver.wait_for(lambda body: body["status"] == "resolved")
    assert [(a["status"], a["labels"]["domain"]) for a in resolved["alerts"]] == [
        ("resolved", "a.example")
    ]
    # One firing notification for the two replicas, and b.example never sent.
    assert [body["status"] for body in receiver.bodies] == ["firing", "resolved"]


def _shipped_config(tmp_path: Path, slack_url: str, pagerduty_url: str) -> str:
    """config/alertmanager/alertmanager.yml run locally: its secrets files in
    ``tmp_path`` pointing at local receivers, PagerDuty's URL too, group_wait 1s."""
    text = (ROOT / "config" / "alertmanager" / "alertmanager.yml").read_text()
    secrets = {"slack_webhook_url": slack_url, "pagerduty_routing_key": "R" * 32}
    for name, value in secrets.items():
        (tmp_path / name).write_text(value)
        text = text.replace(f"/etc/alertmanager/secrets/{name}", str(tmp_path / name))
    text = text.replace("group_wait: 30s", "group_wait: 1s")
    return text.replace(
        "      - routing_key_file:", f"      - url: {pagerduty_url}\n        routing_key_file:"
    )


@pytest.mark.timeout(60)
async def test_the_shipped_routing_pages_pagerduty_with_a_summary_for_two_alerts(
    tmp_path: Path,
) -> None:
    """config/alertmanager/alertmanager.yml, run for real (secrets and PagerDuty's URL
    pointed at local receivers, group_wait shortened): two replicas down at once are
    two pages with their summaries. PagerDuty refuses an event without one, and
    Alertmanager does not retry a refusal: grouped by alertname alone, their differing
    summaries left the common one empty."""
    import aiohttp

    from tests.receivers import Receiver

    async with Receiver("slack") as slack, Receiver("pagerduty") as pd:
        text = _shipped_config(tmp_path, slack.url, pd.url)
        async with alertmanager(tmp_path, "", text) as url, aiohttp.ClientSession() as http:
            alerts = [
                {
                    "labels": {
                        "alertname": "SesdDown",
                        "severity": "critical",
                        "job": "sesd",
                        "instance": instance,
                    },
                    "annotations": {
                        "summary": f"sesd replica {instance} is not answering scrapes",
                        "description": f"check {instance}: systemctl status sesd",
                    },
                }
                for instance in ("a:9585", "b:9585")
            ]
            async with http.post(f"{url}/api/v2/alerts", json=alerts) as response:
                assert response.status == 200
            with anyio.fail_after(30):
                await pd.wait_for(2)
                await slack.wait_for(2)
    summaries = sorted(event["payload"]["summary"] for event in pd.accepted)
    assert summaries == [
        "sesd replica a:9585 is not answering scrapes",
        "sesd replica b:9585 is not answering scrapes",
    ]
    assert len(pd.requests) == 2  # none refused
    # What to do (the rule's description) reaches the people, not the summary alone.
    assert sorted(e["payload"]["custom_details"]["what_to_do"] for e in pd.accepted) == [
        "check a:9585: systemctl status sesd\n",
        "check b:9585: systemctl status sesd\n",
    ]
    texts = sorted(m["attachments"][0]["text"] for m in slack.accepted)
    assert texts[0] == (
        "sesd replica a:9585 is not answering scrapes\ncheck a:9585: systemctl status sesd\n"
    )


@pytest.mark.timeout(60)
async def test_a_provider_found_while_the_alert_fires_reaches_alertmanager_at_the_next_resend(
    tmp_path: Path,
) -> None:
    """fresh.example fires while its MX lookup waits: Alertmanager holds the alert with
    no provider, and PagerDuty is paged. The answer comes (Google); the next resend, a
    minute later and hours before the repeat, gives Alertmanager's alert the
    annotation ``provider: google``, the same alert (labels, fingerprint) still, and
    PagerDuty is sent nothing more."""
    import aiohttp

    from sesd.config import core_settings, parse_config
    from sesd.core.pipeline import Pipeline
    from tests.receivers import Receiver
    from tests.test_routing import RULE, alerting_for
    from tests.test_rules import feed_spike

    async with (
        WebhookReceiver() as receiver,
        alertmanager(tmp_path, receiver.url) as am,
        Receiver("pagerduty") as pd,
        aiohttp.ClientSession() as session,
    ):
        config = parse_config(
            f'[alerts]\ngroup_wait = "0s"\n[alerts.sinks.am]\ntype = "alertmanager"\n'
            f'urls = ["{am}"]\nresend_every = "1m"\n[alerts.sinks.pd]\ntype = "pagerduty"\n'
            f'routing_key = "{"R" * 32}"\nevents_url = "{pd.url}"\n'
            + RULE
            + 'sinks = ["am", "pd"]\n'
        )
        pipeline = Pipeline(core_settings(config))
        now = [time.time()]
        alerting = alerting_for(config, pipeline, now)
        alerting.open(session)

        async def delivered() -> list[dict[str, Any]]:
            """Once every outbox is empty: the alerts Alertmanager holds."""
            for outbox in alerting.outboxes.values():
                await outbox.wait_empty()
            async with session.get(f"{am}/api/v2/alerts") as response:
                return list(await response.json())

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for outbox in alerting.outboxes.values():
                    tg.start_soon(outbox.run)
                feed_spike(pipeline, "fresh.example", now[0], 6, 4)
                alerting.evaluate()
                (before,) = await delivered()
                assert pipeline.ledger.providers is not None
                pipeline.ledger.providers.answered(
                    "fresh.example", "google", now[0] + 3600, "resolved"
                )
                now[0] += 60  # a resend period on; the repeat is hours away
                alerting.evaluate()
                (after,) = await delivered()
                tg.cancel_scope.cancel()
    assert "provider" not in before["annotations"]
    assert after["annotations"]["provider"] == "google"
    assert "fresh.example (provider google)" in after["annotations"]["summary"]
    assert (after["labels"], after["fingerprint"]) == (before["labels"], before["fingerprint"])
    assert [e["event_action"] for e in pd.accepted] == ["trigger"]
    assert len(pd.requests) == 1


@pytest.mark.timeout(60)
async def test_the_shipped_routing_sends_a_strangers_text_to_slack_escaped(
    tmp_path: Path,
) -> None:
    """sesd's own alert posted to Alertmanager (the fleet overlay's sink), its
    description holding a diagnostic a stranger wrote (``<!channel>``, a ``<url|link>``,
    three backticks), routed by config/alertmanager/alertmanager.yml, run for real, to
    Slack: Alertmanager escapes nothing for Slack, so the shipped template does. No
    ``<``, ``>`` or backtick of it reaches Slack (no mention, link or code block), and
    the diagnostic reads as written (Slack shows an entity as its character)."""
    import aiohttp

    from sesd.alerting.documents import alertmanager_documents
    from tests.receivers import Receiver
    from tests.test_text import HOSTILE, NOW, _alerting

    pipeline, evaluator = _alerting(HOSTILE + " ```code``` ", 1)
    evaluator.evaluate(pipeline.ledger, NOW)
    (notification,) = evaluator.due(NOW, flush=True)
    documents = alertmanager_documents(notification, 60.0, time.time())
    assert "<!channel>" in documents[0]["annotations"]["description"]
    async with Receiver("slack") as slack, Receiver("pagerduty") as pd:
        text = _shipped_config(tmp_path, slack.url, pd.url)
        async with alertmanager(tmp_path, "", text) as url, aiohttp.ClientSession() as http:
            async with http.post(f"{url}/api/v2/alerts", json=documents) as response:
                assert response.status == 200
            with anyio.fail_after(30):
                await slack.wait_for(1)
    (message,) = slack.accepted
    shown = message["attachments"][0]["text"]
    assert "&lt;!channel&gt;" in shown
    assert "&lt;http://evil.example/x|click here&gt;" in shown
    for raw in ("<", ">", "`"):
        assert raw not in shown, raw


@pytest.mark.timeout(60)
async def test_the_shipped_routing_names_the_replica_that_posted_to_slack(
    tmp_path: Path,
) -> None:
    """Replicas on one queue each alert on their own share of the mail: the Slack
    message Alertmanager makes of sesd's alert names the replica (its ``host``
    annotation), as sesd's own Slack messages close, escaped as the rest of the text is
    (anyone who can post to Alertmanager can set it). A fleet rule's alert, which has
    no host, gets no such line."""
    from sesd.alerting.documents import alertmanager_documents

    sesds = alertmanager_documents(_delay_notification(), 60.0, time.time(), host="mail-1")
    hostile = {**sesds[0], "labels": {**sesds[0]["labels"], "alertname": "other"}}
    hostile["annotations"] = {**sesds[0]["annotations"], "host": "<!channel>`x`"}
    fleet = {
        "labels": {"alertname": "SesdDown", "severity": "warning", "instance": "a:9585"},
        "annotations": {"summary": "sesd replica a:9585 is not answering scrapes"},
    }
    slack, _ = await _through_shipped(tmp_path, [*sesds, hostile, fleet], "slack")
    shown = {m["attachments"][0]["title"]: m["attachments"][0]["text"] for m in slack.accepted}
    (mine,) = [t for title, t in shown.items() if "FIRING: delays" in title]
    assert mine.endswith("\nsesd on mail-1\n")
    (odd,) = [t for title, t in shown.items() if "FIRING: other" in title]
    # A backtick as its look-alike, MODIFIER LETTER GRAVE ACCENT.
    assert odd.endswith("\nsesd on &lt;!channel&gt;\u02cbx\u02cb\n")
    (down,) = [t for title, t in shown.items() if "SesdDown" in title]
    assert down == "sesd replica a:9585 is not answering scrapes\n"


@pytest.mark.timeout(60)
async def test_the_shipped_routing_names_the_replica_that_posted_to_pagerduty(
    tmp_path: Path,
) -> None:
    """The page Alertmanager makes of sesd's critical alert names the replica that
    posted it (its ``host`` annotation) in PagerDuty's details, as its Slack message
    does: replicas on one queue each alert on their own share of the mail. Where a
    group's alerts came from several replicas, each is named; a fleet rule's alert,
    which has no host, names none (its ``instance`` label is the replica)."""

    from sesd.alerting.documents import alertmanager_documents

    notification = _delay_notification()

    def posted(host: str, **labels: str) -> dict[str, Any]:
        (document,) = alertmanager_documents(notification, 60.0, time.time(), host=host)
        return {**document, "labels": {**document["labels"], "severity": "critical", **labels}}

    alone = posted("mail-1")
    # One group (the same alertname and domain), two alerts from two replicas.
    shared = [posted(host, alertname="shared", team=host) for host in ("mail-2", "mail-3")]
    fleet = {
        "labels": {"alertname": "SesdDown", "severity": "critical", "instance": "a:9585"},
        "annotations": {"summary": "sesd replica a:9585 is not answering scrapes"},
    }
    _, pd = await _through_shipped(tmp_path, [alone, *shared, fleet], "pagerduty")
    hosts = {
        e["payload"]["custom_details"]["alertname"]: e["payload"]["custom_details"]["host"]
        for e in pd.accepted
    }
    # A line each, in the order Alertmanager sorts the group's alerts.
    hosts["shared"] = "\n".join(sorted(hosts["shared"].splitlines()))
    assert hosts == {
        alone["labels"]["alertname"]: "mail-1",
        "shared": "mail-2\nmail-3",
        "SesdDown": "",
    }


@pytest.mark.timeout(60)
async def test_the_shipped_inhibition_holds_back_a_warning_of_the_same_fleet_only(
    tmp_path: Path,
) -> None:
    """Two fleets (namespaces prod and staging) send to one Alertmanager, run with
    config/alertmanager/alertmanager.yml. Prometheus fires SesdDelayRatioCritical on
    gmail.com for prod; each fleet's replicas post their built-in delay-ratio-high on
    gmail.com, labelled with their namespace (the fleet overlay's rule). prod's warning
    is held back by prod's critical; staging's, another fleet's incident, reaches
    Slack."""
    import aiohttp

    from tests.receivers import Receiver

    def alert(name: str, severity: str, namespace: str) -> dict[str, Any]:
        labels = {"alertname": name, "severity": severity, "namespace": namespace}
        summary = f"{name} on gmail.com in {namespace}"
        return {"labels": {**labels, "domain": "gmail.com"}, "annotations": {"summary": summary}}

    alerts = [
        alert("SesdDelayRatioCritical", "critical", "prod"),
        alert("delay-ratio-high", "warning", "prod"),
        alert("delay-ratio-high", "warning", "staging"),
    ]
    async with Receiver("slack") as slack, Receiver("pagerduty") as pd:
        text = _shipped_config(tmp_path, slack.url, pd.url)
        async with alertmanager(tmp_path, "", text) as url, aiohttp.ClientSession() as http:
            async with http.post(f"{url}/api/v2/alerts", json=alerts) as response:
                assert response.status == 200
            with anyio.fail_after(30):
                await pd.wait_for(1)
                await slack.wait_for(2)
            async with http.get(f"{url}/api/v2/alerts") as response:
                states = {
                    (a["labels"]["alertname"], a["labels"]["namespace"]): a["status"]["state"]
                    for a in await response.json()
                }
    assert states == {
        ("SesdDelayRatioCritical", "prod"): "active",
        ("delay-ratio-high", "prod"): "suppressed",
        ("delay-ratio-high", "staging"): "active",
    }
    (page,) = pd.accepted
    assert page["payload"]["custom_details"]["namespace"] == "prod"
    texts = sorted(m["attachments"][0]["text"] for m in slack.accepted)
    assert texts == [
        "SesdDelayRatioCritical on gmail.com in prod\n",
        "delay-ratio-high on gmail.com in staging\n",
    ]


def _delay_notification() -> Any:
    """sesd's notification of a delay alert on one domain, as its sinks are given it."""
    from tests.test_text import NOW, _alerting

    pipeline, evaluator = _alerting("451 4.7.1 try again later", 1)
    evaluator.evaluate(pipeline.ledger, NOW)
    (notification,) = evaluator.due(NOW, flush=True)
    return notification


async def _through_shipped(tmp_path: Path, posts: list[dict[str, Any]], waited: str) -> Any:
    """Post ``posts`` to a real Alertmanager run with the shipped config, its Slack and
    PagerDuty receivers local; the two receivers once ``waited`` has three messages."""
    import aiohttp

    from tests.receivers import Receiver

    async with Receiver("slack") as slack, Receiver("pagerduty") as pd:
        text = _shipped_config(tmp_path, slack.url, pd.url)
        async with alertmanager(tmp_path, "", text) as url, aiohttp.ClientSession() as http:
            async with http.post(f"{url}/api/v2/alerts", json=posts) as response:
                assert response.status == 200
            with anyio.fail_after(30):
                await (slack if waited == "slack" else pd).wait_for(3)
    return slack, pd
