"""Alertmanager's alerts go in bodies a proxy in front of a member takes.

A rule firing on 500 Google Workspace domains, each alert with Gmail's rate-limit
answers, codes, MTAs and message ids, makes an alerts array of about 1.3 MB; nginx in
front of a member (``client_max_body_size 1m`` as it ships) answers 413, which is
final: every alert of the notification was lost. Alertmanager takes any number of
alerts a post, each on its own, so the sink posts them in bodies of at most
MOST_BODY_BYTES, in order, to each member; a member that fails part way is owed the
resolves it did not take, and no more."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import msgspec
import pytest
from aiohttp import web
from structlog.testing import capture_logs

from sesd.alerting.alert import Alert, Notification
from sesd.alerting.alertmanager import AlertmanagerSink
from sesd.alerting.documents import (
    MOST_BODY_BYTES,
    alertmanager_bodies,
    alertmanager_documents,
)
from sesd.alerting.rules import Transition
from sesd.commands.demo.localhttp import LocalServer
from sesd.config import AlertmanagerConfig, Duration
from tests.proxy import Proxy
from tests.receivers import NGINX_MOST_BODY, WebhookReceiver
from tests.test_alertmanager import alertmanager
from tests.test_alertmanager_members import _Member
from tests.test_sinks import notification
from tests.test_webhook_parts import _wide

WIDTH = 500


def _gmail(j: int) -> str:
    """Gmail's answer to a sender it rate-limits (about 330 characters)."""
    return (
        "smtp; 421-4.7.28 Gmail has detected an unusual rate of unsolicited mail "
        f"originating from your IP address [203.0.113.{j}]. To protect our users from "
        "spam, mail sent from your IP address has been temporarily rate limited. For more "
        "information, go to https://support.google.com/mail/?p=UnsolicitedRateLimitError "
        f"to review our Bulk Email Senders Guidelines. d{j}-20020a17090a - gsmtp"
    )


def _throttled(i: int) -> Alert:
    """delays on one of the incident's domains: about 2.7 KB of Alertmanager's alert."""
    throttled = _wide(i)
    answers = [(_gmail(j), 10) for j in range(3)]
    return replace(
        throttled,
        provider="google",
        breakdown=replace(throttled.breakdown, diagnostics=answers),
    )


def _incident(width: int = WIDTH) -> Notification:
    return notification(*(_throttled(i) for i in range(width)))


class _Nginx(LocalServer):
    """nginx as it ships in front of ``upstream``: a body over 1 MiB is answered 413,
    any other is passed on, and the upstream's answer passed back."""

    def __init__(self, upstream: str) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"
        self.upstream = upstream
        #: Bodies answered 413, by size.
        self.too_large: list[int] = []

    async def _pass(self, request: web.Request) -> web.Response:
        body = await request.content.read()
        if len(body) > NGINX_MOST_BODY:
            self.too_large.append(len(body))
            return web.Response(status=413, text="413 Request Entity Too Large")
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                self.upstream + request.path,
                data=body,
                headers={"Content-Type": "application/json"},
            ) as up,
        ):
            return web.Response(status=up.status, body=await up.read())

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/api/v2/alerts", self._pass)


def _domains(bodies: list[Any]) -> list[str]:
    """The domains of the alerts the bodies carry, in the order posted."""
    return [alert["labels"]["domain"] for body in bodies for alert in body]


def _resolved(incident: Notification) -> Notification:
    alerts = tuple(replace(a, kind=Transition.RESOLVED) for a in incident.alerts)
    return replace(incident, kind=Transition.RESOLVED, alerts=alerts)


async def test_a_notification_on_500_domains_reaches_each_member_whole() -> None:
    """Two members, one behind nginx as it ships (1 MiB), one behind a proxy whose
    limit is the bound itself: each takes every alert of the 500-domain notification,
    once and in order, in several bodies, and refuses none."""
    incident = _incident()
    whole = msgspec.json.encode(alertmanager_documents(incident, 60.0))
    assert len(whole) > NGINX_MOST_BODY  # as one body, nginx would refuse it
    async with (
        _Member() as nginx,
        _Member(most=MOST_BODY_BYTES) as tight,
        aiohttp.ClientSession() as session,
    ):
        sink = AlertmanagerSink(AlertmanagerConfig(urls=[nginx.url, tight.url]), session, "am")
        with capture_logs() as logs:
            await sink.send(incident)
    expected = [a.domain for a in incident.alerts]
    for member in (nginx, tight):
        assert member.too_large == []
        assert len(member.accepted) > 1
        assert _domains(member.accepted) == expected
    assert [e for e in logs if e["event"] == "sesd.notify.member_failed"] == []


async def test_the_real_alertmanager_behind_nginx_holds_every_alert_of_500_domains(
    tmp_path: Path,
) -> None:
    """Alertmanager itself, behind nginx as it ships: after the post of the 500-domain
    notification (1.3 MB as one body, refused whole), it holds the 500 alerts, each
    with its own labels: the bodies are Alertmanager's API as it reads it."""
    incident = _incident()
    async with (
        WebhookReceiver() as hook,
        alertmanager(tmp_path, hook.url) as am,
        _Nginx(am) as nginx,
        aiohttp.ClientSession() as session,
    ):
        sink = AlertmanagerSink(AlertmanagerConfig(urls=[nginx.url]), session, "am")
        await sink.send(incident)
        async with session.get(am + "/api/v2/alerts") as answer:
            held = await answer.json()
    assert nginx.too_large == []
    assert sorted(alert["labels"]["domain"] for alert in held) == sorted(
        a.domain for a in incident.alerts
    )


async def test_a_member_that_fails_part_way_is_owed_the_resolves_it_did_not_take() -> None:
    """The 500 domains resolve; member a takes the first body, then answers 503 (b
    takes all). a is owed the resolves from the body it failed on, not the ones it
    took: once its time out is over, the catch-up posts those (in bodies a proxy
    takes), so a has each resolve once and none is lost."""
    now = [0.0]
    resolved = _resolved(_incident())
    async with _Member() as a, _Member() as b, aiohttp.ClientSession() as session:
        config = AlertmanagerConfig(urls=[a.url, b.url])
        sink = AlertmanagerSink(config, session, "am", lambda: now[0])
        a.next_statuses.extend([200, 503])
        await sink.send(resolved)
        first = len(a.bodies)
        assert a.statuses == [200, 503]
        owed = _domains(a.bodies[1:])  # from the body refused on
        assert 0 < len(sink.owed()) < WIDTH
        assert sorted(domain for _, domain in sink.owed()) == sorted(owed)
        now[0] = sink.owing() or 0.0
        await sink.catch_up()
    assert a.too_large == b.too_large == []
    assert _domains(a.bodies[first:]) == owed
    assert sorted(_domains(a.accepted)) == sorted(x.domain for x in resolved.alerts)
    assert sink.owed() == []


async def test_a_hung_member_costs_one_timeout_a_notification_not_one_a_body() -> None:
    """The 500 domains resolve in several bodies; member a takes the connection and
    never answers (its node gone). Its first body waits out the timeout, and the rest
    are not posted to it, each to wait out its own: every resolve is owed to a, to go
    once its time out is over, while b took them all. The outbox's next notification
    (and a stop's drain) waits one timeout for a, not one a body."""
    resolved = _resolved(_incident())
    documents = alertmanager_documents(resolved, 60.0)
    assert len(alertmanager_bodies(documents)) > 1
    async with (
        _Member() as behind,
        Proxy(behind.port) as hung,
        _Member() as live,
        aiohttp.ClientSession() as session,
    ):
        hung.stall()
        config = AlertmanagerConfig(urls=[hung.url, live.url], timeout=Duration("1s"))
        sink = AlertmanagerSink(config, session, "am")
        with anyio.fail_after(10):
            await sink.send(resolved)
    assert hung.attempts == 1
    assert behind.bodies == []
    assert sorted(domain for _, domain in sink.owed()) == sorted(_domains(live.accepted))
    assert sorted(_domains(live.accepted)) == sorted(a.domain for a in resolved.alerts)


@pytest.mark.parametrize("most", [MOST_BODY_BYTES, 8 * 1024, 1])
def test_the_bodies_hold_every_alert_in_order_each_within_the_bound(most: int) -> None:
    """The bodies, read back, are the alerts in order; each is within ``most`` bytes
    and as full as it can be (the next alert would not fit), or one alert alone that
    does not fit by itself. No alerts: one empty array, as before."""
    documents = alertmanager_documents(_incident(40), 60.0)
    bodies = alertmanager_bodies(documents, most)
    sizes = [len(msgspec.json.encode(document)) for document in documents]
    assert [d for _, body in bodies for d in msgspec.json.decode(body)] == documents
    assert [i for part, _ in bodies for i in part] == list(range(len(documents)))
    for k, (part, body) in enumerate(bodies):
        assert len(body) <= most or len(part) == 1
        if k + 1 < len(bodies):  # with the next and its comma, over the bound
            assert len(body) + 1 + sizes[part.stop] > most
    assert alertmanager_bodies([]) == [(range(0), b"[]")]


def test_a_body_of_exactly_the_bound_goes_whole() -> None:
    """Alerts that make a body of exactly ``most`` bytes go in one post; a byte less,
    in two (counted with a comma before the first alert too, they went in two)."""
    documents = alertmanager_documents(_incident(3), 60.0)
    [(_, whole)] = alertmanager_bodies(documents)
    assert alertmanager_bodies(documents, len(whole)) == [(range(3), whole)]
    assert len(alertmanager_bodies(documents, len(whole) - 1)) == 2
