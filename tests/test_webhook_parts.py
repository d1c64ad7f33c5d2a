"""A webhook notification too wide for one body goes as several whole documents.

A rule firing on 500 domains, each alert with its codes, MTAs and message ids, makes
a document of about 1.7 MB; nginx as it ships (``client_max_body_size 1m``) answers
413, which is final: the page was lost. Each part is a ``sesd.webhook.v1`` document of
at most 256 KiB with the notification's fields, ``part`` of ``parts``, signed on its
own; a retry goes on from the first part not taken. Against a receiver behind nginx
(tests/receivers.py) through the real sink and outbox."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import aiohttp
import anyio
import msgspec
import pytest
from aiohttp import web
from prometheus_client import Counter
from structlog.testing import capture_logs

from sesd.alerting.alert import Alert, Notification
from sesd.alerting.documents import (
    MOST_BODY_BYTES,
    MOST_MOVED_BYTES,
    Made,
    fits,
    webhook_documents,
)
from sesd.alerting.rules import Transition
from sesd.alerting.webhook import WebhookSink
from sesd.config import WebhookConfig, parse_config
from sesd.core.reputation import MAX_CONFIG_SET_NAME
from sesd.core.scopes import DOMAIN, PROVIDER
from sesd.core.text import clean
from sesd.core.timestamps import iso
from sesd.core.windows import Breakdown
from sesd.core.windows.examples import EXAMPLES
from sesd.io.replica import MOST_NAME, replica_name
from tests.receivers import WebhookReceiver
from tests.test_group_order import WAITED
from tests.test_reload_sinks import _drained
from tests.test_routing import RULE, T, _alerting
from tests.test_rule_changes import rule
from tests.test_rules import built, feed_spike
from tests.test_sinks import Sleeps, alert, delivering, notification, outcomes

SECRET = "s3cret-for-the-hook"


def _busy(domain: str, j: int) -> str:
    """Outlook's answer to a sender it limits."""
    return (
        f"smtp; 451 4.7.500 Server busy. Please try again later from [203.0.113.{j}]. "
        f"(S77714) [{domain} {j}]"
    )


def _wide(i: int) -> Alert:
    """delays on one of an incident's domains, with what such an alert carries: about
    3.4 KB of document."""
    domain = f"mx{i:03}.example.net"
    return replace(
        alert(domain),
        provider="microsoft",
        breakdown=Breakdown(
            delay_types=[("TransientCommunicationFailure", 40), ("MailboxFull", 2)],
            statuses=[("4.7.0", 30), ("4.4.1", 10), ("4.2.2", 2)],
            diagnostics=[(_busy(domain, j), 10) for j in range(3)],
            mtas=[(f"a{j}.{domain}", 10) for j in range(3)],
            message_ids=[f"0100018c1a2b3c4d-1a2b-{i:012d}-00000{j}" for j in range(5)],
            sources=["arn:aws:ses:eu-west-1:123456789012:identity/mail.example.com"],
            config_sets=["transactional"],
            causes=[("ip_reputation", 30), ("rate_limited", 12)],
        ),
        runbook_url="https://runbooks.example.com/sesd/delays",
        dashboard_url=f"https://grafana.example.com/d/sesd?var-domain={domain}",
    )


def _incident(width: int = 500) -> Notification:
    return replace(
        notification(*(_wide(i) for i in range(width))),
        silence="sesd silence add --rule delays --domain '*' --for 4h",
    )


def _config(url: str, timeout: str = "5s") -> WebhookConfig:
    text = f'[alerts.sinks.hook]\ntype = "webhook"\nurl = "{url}"\ntimeout = "{timeout}"\n'
    config = parse_config(text + f'secret = "{SECRET}"\n').alerts.named_sinks()["hook"]
    assert isinstance(config, WebhookConfig)
    return config


async def _delivered(hook: WebhookReceiver, wide: Notification) -> Counter:
    """``wide`` through the webhook sink and its outbox to ``hook``, until it is
    delivered or given up: the outbox's counter."""
    async with aiohttp.ClientSession() as session:
        sink = WebhookSink(_config(hook.url), session, "hook")
        async with delivering(sink, Sleeps()) as (box, counter):
            box.put(wide)
            with anyio.fail_after(10):
                await box.wait_empty()
    return counter


def _parts(bodies: list[Any]) -> list[tuple[int, int]]:
    return [(body["part"], body["parts"]) for body in bodies]


async def test_a_notification_on_500_domains_reaches_a_receiver_behind_nginx_in_signed_parts() -> (
    None
):
    """The 500-domain incident, 1.7 MB as one document, goes as seven of at most 256
    KiB: the receiver (nginx's 1 MiB in front, checking each part's signature) takes
    every one, part 1 of 7 to 7 of 7 in order, each with the notification's fields; the
    alerts, read part after part, are the 500 in order, each once."""
    wide = _incident()
    async with WebhookReceiver(secret=SECRET) as hook:
        counter = await _delivered(hook, wide)
    assert (hook.too_large, hook.rejected) == ([], 0)
    assert outcomes(counter, "hook")["sent"] == 1
    assert _parts(hook.accepted) == [(k, 7) for k in range(1, 8)]
    heads = [{k: v for k, v in body.items() if k not in ("part", "alerts")} for body in hook.bodies]
    assert heads == [heads[0]] * 7
    assert heads[0] == {
        "schema": "sesd.webhook.v1",
        "id": msgspec.json.decode(webhook_documents(wide)[1][0])["id"],
        "kind": "firing",
        "rule": "delays",
        "severity": "critical",
        "at": iso(wide.at),
        "host": replica_name(),
        "mute": wide.silence,
        "test": False,
        "parts": 7,
    }
    domains = [a["domain"] for body in hook.bodies for a in body["alerts"]]
    assert domains == [a.domain for a in wide.alerts]


@pytest.mark.parametrize("at", [100, 0])
def test_each_part_is_within_the_bound_and_an_alert_too_large_for_one_goes_alone(
    at: int,
) -> None:
    """Each document is at most 256 KiB and holds as many alerts as fit: with the next
    alert too, it would pass the bound. An alert whose own document passes the bound
    (a domain's never does: strangers' text makes one of about 60 KB at most) goes in
    a part of its own, not lost, and the parts around it are as full as the others (none
    is empty, the huge alert the first too: a receiver would take a part of no alerts)."""
    wide = _incident(200)
    huge = replace(wide.alerts[at], notes=("n" * 1000,) * 300)
    wide = replace(wide, alerts=(*wide.alerts[:at], huge, *wide.alerts[at + 1 :]))
    made, bodies = webhook_documents(wide)
    ends = made.ends
    sizes = [len(body) for body in bodies]
    alone = ends.index(at + 1)
    assert (0, *ends)[alone] == at
    assert all(start < end for start, end in zip((0, *ends), ends, strict=False))  # none empty
    assert sizes[alone] > MOST_BODY_BYTES
    assert max(sizes[:alone] + sizes[alone + 1 :]) <= MOST_BODY_BYTES
    for k in range(len(ends) - 1):
        assert _fuller(wide, made, k, MOST_BODY_BYTES) > MOST_BODY_BYTES


def test_parts_made_as_saved_fit_where_each_is_within_the_bound_or_one_alert_alone() -> None:
    """Parts made as a saved ``Made`` says fit this build's bound where each part not
    taken yet is within it, or is one alert alone (as a part of one alert too large
    goes). Made wider by a longer ``host`` than they were cut for, a part of several
    alerts passes it: they do not fit, but those before the part do not count."""
    wide = _incident(200)
    huge = replace(wide.alerts[3], notes=("n" * 1000,) * 300)
    wide = replace(wide, alerts=(*wide.alerts[:3], huge, *wide.alerts[4:]))
    made, bodies = webhook_documents(wide)
    assert max(len(body) for body in bodies) > MOST_BODY_BYTES  # the huge one, alone
    assert fits(made, bodies)
    tight = len(bodies[-2])  # a part of several alerts, cut with no host: the bound
    _, wider = webhook_documents(wide, made, tight, host=replica_name() + "-longer")
    assert not fits(made, wider, most=tight)
    assert fits(made, wider, len(made.ends) - 1, most=tight)


def test_a_first_part_of_two_alerts_fits_up_to_the_bound_and_not_a_byte_past_it() -> None:
    """Parts saved as two alerts, then one and one, gone on with from the first (a stop
    came while it was posted): they fit a bound as large as the first part, to the
    byte, and not one a byte smaller, that part of two alerts counted as two, not as
    one alone (which goes whatever its size)."""
    made, _ = webhook_documents(_incident(4))
    made = Made((2, 3, 4), made.at, made.id)
    _, bodies = webhook_documents(_incident(4), made)
    assert fits(made, bodies, 0, most=len(bodies[0]))
    assert not fits(made, bodies, 0, most=len(bodies[0]) - 1)


def _fuller(wide: Notification, made: Made, k: int, most: int) -> int:
    """The size of part ``k`` of ``wide`` made to hold the alert after its last too, as
    :func:`_counted`."""
    ends = (*made.ends[:k], made.ends[k] + 1, *made.ends[k + 1 :])
    _, bodies = webhook_documents(wide, made._replace(ends=ends), most)
    return _counted(bodies[k])


def _counted(body: bytes) -> int:
    """The size of ``body`` (made with no ``host``) as the parts are cut: each alert as
    wide as a clock step can make it, and ``host`` the longest name a replica can have."""
    return len(body) + len(msgspec.json.decode(body)["alerts"]) * MOST_MOVED_BYTES + MOST_NAME


#: Texts that take more bytes than characters: two- and four-byte UTF-8, and what JSON
#: escapes (a quote, a backslash, a newline) or msgspec writes as is (U+2028).
_TEXTS = ("plain", "\u00e9" * 40, '"\\\n\u2028</script>' * 12, "\U0001f600" * 30)


@pytest.mark.parametrize("width", [24, 6])
def test_no_part_passes_the_bound_by_a_byte(width: int) -> None:
    """Alerts smaller and smaller, their text multi-byte and escaped, in twelve parts
    (``part`` and ``parts`` of two digits) or three: at a bound one byte short of the
    smallest part that could hold one alert more (in the twelve, part 10: of two digits
    too), the parts are the same, none passes the bound (each counted with the room a
    clock step and a longer name would take), none is empty and the alerts are each
    once, in order. Counted a byte short (a comma between alerts, a digit of ``part``
    or ``parts``, a byte of the room), that part took the alert more and passed the
    bound by a byte."""
    wide = notification(
        *(
            replace(alert(f"d{i}.example"), notes=(_TEXTS[i % 4], "\u00e9" * (300 - 12 * i)))
            for i in range(width)
        )
    )
    made, bodies = webhook_documents(wide, most=6500)
    ends = made.ends
    fuller = [_fuller(wide, made, k, 6500) for k in range(len(ends) - 1)]
    tight = min(fuller) - 1
    assert (len(ends), fuller.index(tight + 1)) == ((12, 9) if width == 24 else (3, 1))
    got, bodies = webhook_documents(wide, most=tight)
    assert got.ends == ends
    assert max(_counted(body) for body in bodies) <= tight
    domains = [[a["domain"] for a in msgspec.json.decode(body)["alerts"]] for body in bodies]
    assert all(domains)
    assert [d for part in domains for d in part] == [a.domain for a in wide.alerts]


@pytest.mark.parametrize("width", [2, 9])
def test_a_document_of_exactly_the_bound_goes_whole(width: int) -> None:
    """Alerts whose document, counted with the room a clock step and a longer name
    would take, is exactly ``most`` bytes go as one document; a byte less, as two.
    Counted with a comma before the first alert too, or the envelope's fields or digits
    longer than a part's, they went as two. (Ten alerts or more, the envelope is counted
    with two digits of ``part`` and ``parts``: a document within two bytes of the bound
    may go as two.)"""
    wide = notification(*(alert(f"d{i}.example") for i in range(width)))
    _, [whole] = webhook_documents(wide)
    made, bodies = webhook_documents(wide, most=_counted(whole))
    assert (made.ends, bodies) == ((width,), [whole])
    assert len(webhook_documents(wide, most=_counted(whole) - 1)[1]) == 2


@pytest.mark.parametrize("scope", [DOMAIN, PROVIDER])
def test_the_largest_alert_strangers_text_makes_is_a_quarter_of_a_part(scope: str) -> None:
    """Every text of an alert a stranger writes (diagnostics, MTAs, message ids,
    identities, top domains) is at most 200 characters, each list at most five: full,
    every character four bytes of UTF-8, on the longest domain, internal to SES (its
    AWS Support facts repeat the identities and ids), the alert's document is under 64
    KiB, what README promises: within one part with room to spare."""
    texts = [clean(f"{j} " + "\U0001f600" * 300) for j in range(EXAMPLES)]
    five = [(text, 1) for text in texts]
    longest = ("x" * 62 + ".") * 3 + "x" * 61
    largest = replace(
        alert(longest, kind=Transition.REPEAT),
        scope=scope,
        provider=None if scope == PROVIDER else "p" * 64,
        internal=True,
        breakdown=Breakdown(
            delay_types=five, statuses=five, diagnostics=five, mtas=five, message_ids=texts,
            sources=texts, config_sets=["c" * MAX_CONFIG_SET_NAME] * EXAMPLES,
            causes=[("ip_reputation", 3), ("rate_limited", 2)],
            second_causes=[("rate_limited", 1)], hinted_causes=[("ip_reputation", 1)],
            domains=[(longest, 1)] * EXAMPLES,
        ),
    )  # fmt: skip
    _, (body,) = webhook_documents(notification(largest))
    assert 48 * 1024 < len(body) < 64 * 1024


def test_a_notification_that_fits_is_part_1_of_1() -> None:
    """A narrow notification is one document, ``part`` 1 of ``parts`` 1: a receiver
    reads the two fields on every document."""
    _, (body,) = webhook_documents(_incident(3))
    assert b'"part":1,"parts":1,' in body


@pytest.mark.parametrize("beside", [["b.example"], []])
def test_two_notifications_of_one_rule_kind_and_time_are_told_apart_by_their_id(
    beside: list[str],
) -> None:
    """a.example fires (beside b.example, or alone), resolves and fires again within
    group_wait: at the group's time the sinks are told the first firing, the resolve,
    then the new firing (sesd.alerting.grouping), two firings of the rule made at the
    same time, each part 1 of 1, alone of the same alert. Told by ``rule``, ``kind``,
    ``at`` and ``part`` (as a part posted again after a lost answer is), the new
    incident's firing was the first's duplicate, and a receiver dropped it. Their
    ``id`` differs (the new incident's alert began later); a notification's is the
    same in each of its parts."""
    pipeline, evaluator = built(parse_config(WAITED + rule()))
    for domain in ["a.example", *beside]:
        feed_spike(pipeline, domain, T + 5, 6, 4)
    evaluator.evaluate(pipeline.ledger, T + 5)
    feed_spike(pipeline, "a.example", T + 10, 0, 90)
    evaluator.evaluate(pipeline.ledger, T + 10)
    feed_spike(pipeline, "a.example", T + 20, 60, 0)
    evaluator.evaluate(pipeline.ledger, T + 20)
    first, _resolve, again = evaluator.due(T + 35)
    heads = []
    for each in (first, again):
        (body,) = webhook_documents(each)[1]
        heads.append(msgspec.json.decode(body))
    same = ("rule", "kind", "at", "part", "parts")
    assert [heads[0][key] for key in same] == [heads[1][key] for key in same]
    assert heads[0]["id"] != heads[1]["id"]
    _, bodies = webhook_documents(_incident())
    assert len({msgspec.json.decode(body)["id"] for body in bodies}) == 1


@pytest.mark.parametrize("status", [500, 408, 429])
async def test_a_retry_after_a_part_failed_sends_only_the_parts_not_taken(status: int) -> None:
    """The receiver takes part 1 of the 500-domain incident, then fails part 2 (a 5xx,
    a proxy's 408, a 429): the retry goes on from part 2, so the receiver has each part
    once (sent again from the start, the first part's alerts would be paged twice)."""
    async with WebhookReceiver(secret=SECRET) as hook:
        hook.next_statuses.extend([204, status])
        counter = await _delivered(hook, _incident())
    assert [body["part"] for body in hook.bodies] == [1, 2, 2, 3, 4, 5, 6, 7]
    assert _parts(hook.accepted) == [(k, 7) for k in range(1, 8)]
    assert outcomes(counter, "hook")["sent"] == 1


async def test_a_part_refused_for_good_does_not_hold_back_the_rest() -> None:
    """The receiver refuses part 2 for good (400): parts 3 to 7 still go, and the
    notification counts as failed, the error saying how many parts were refused."""
    async with WebhookReceiver(secret=SECRET) as hook:
        hook.next_statuses.extend([204, 400])
        with capture_logs() as logs:
            counter = await _delivered(hook, _incident())
    assert _parts(hook.accepted) == [(k, 7) for k in range(1, 8) if k != 2]
    assert outcomes(counter, "hook")["failed"] == 1
    (error,) = [e["error"] for e in logs if e["event"] == "sesd.notify.failed"]
    assert error.startswith("1 of 7 parts refused: HTTP 400")


async def test_a_part_sent_notification_goes_on_across_a_clock_step_and_a_reload() -> None:
    """Part 2 of the incident fails (500). While the outbox waits to try again, the
    clock steps an hour back (measured: what waits in the outbox moves to the new clock)
    and a reload changes the sink's timeout (the sink made anew, to the same URL): the
    moved notification goes on from part 2, its alerts on the new clock. Told by the
    object it replaced, or forgotten with the old sink, it began again from part 1.
    Every part says the ``at`` and the ``id`` part 1 said: a receiver gathers the parts
    by ``id``, and parts 2 to 7 at the moved time were another notification's, whose
    part 1 never came."""
    wide = _incident()
    async with WebhookReceiver(secret=SECRET) as hook, aiohttp.ClientSession() as session:
        sink = f'[alerts.sinks.hook]\ntype = "webhook"\nurl = "{hook.url}"\nsecret = "{SECRET}"\n'
        text = sink + RULE + 'sinks = ["hook"]\n'
        alerting, _pipeline, now = _alerting(text)
        alerting.open(session)
        outbox = alerting.outboxes["hook"]
        hook.next_statuses.extend([204, 500])
        outbox.put(wide)

        async def meanwhile(seconds: float) -> None:
            now[0] -= 3600.0
            alerting.stepped(now[0], -3600.0)
            alerting.reconfigure(parse_config(text.replace("[alerts.sinks.hook]\n", _SLOWER)))
            await anyio.lowlevel.checkpoint()

        await _drained(outbox, meanwhile)
    assert isinstance(alerting.outboxes["hook"].sink, WebhookSink)
    assert [body["part"] for body in hook.bodies] == [1, 2, 2, 3, 4, 5, 6, 7]
    assert {body["at"] for body in hook.bodies} == {iso(wide.at)}
    assert len({body["id"] for body in hook.bodies}) == 1
    alerts = [alert for body in hook.bodies[2:] for alert in body["alerts"]]
    assert {alert["at"] for alert in alerts} == {iso(wide.alerts[0].at - 3600.0)}


_SLOWER = '[alerts.sinks.hook]\ntimeout = "20s"\n'


@pytest.mark.parametrize("changed", ["url", "secret"])
async def test_a_reload_to_another_url_sends_every_part_and_a_new_secret_signs_the_rest(
    changed: str,
) -> None:
    """Part 2 of the incident fails (500); while the outbox waits to try again, a
    reload points the sink at another receiver, which has had no part: it gets all
    seven. Or the reload rotates the secret (the receiver rotated too): the same
    receiver gets parts 2 to 7, each signed with the new secret, none refused."""
    async with (
        WebhookReceiver(secret=SECRET) as hook,
        WebhookReceiver(secret=SECRET) as other,
        aiohttp.ClientSession() as session,
    ):
        sink = f'[alerts.sinks.hook]\ntype = "webhook"\nurl = "{hook.url}"\nsecret = "{SECRET}"\n'
        text = sink + RULE + 'sinks = ["hook"]\n'
        alerting, _pipeline, _now = _alerting(text)
        alerting.open(session)
        outbox = alerting.outboxes["hook"]
        hook.next_statuses.extend([204, 500])
        outbox.put(_incident())

        async def meanwhile(seconds: float) -> None:
            if changed == "url":
                alerting.reconfigure(parse_config(text.replace(hook.url, other.url)))
            else:
                hook.secret = "rotated-" + SECRET
                alerting.reconfigure(parse_config(text.replace(SECRET, hook.secret)))
            await anyio.lowlevel.checkpoint()

        await _drained(outbox, meanwhile)
    assert hook.rejected == other.rejected == 0
    if changed == "url":
        assert [body["part"] for body in hook.bodies] == [1, 2]
        assert _parts(other.accepted) == [(k, 7) for k in range(1, 8)]
    else:
        assert [body["part"] for body in hook.bodies] == [1, 2, 2, 3, 4, 5, 6, 7]
        assert other.bodies == []


class _Held(WebhookReceiver):
    """The receiver, its answer to the second body held until the test releases it."""

    def __init__(self) -> None:
        super().__init__(secret=SECRET)
        self.arrived, self.release, self._count = anyio.Event(), anyio.Event(), 0

    async def _handle(self, request: web.Request) -> web.Response:
        self._count += 1
        if self._count == 2:
            self.arrived.set()
            await self.release.wait()
        return await super()._handle(request)


@pytest.mark.parametrize("meanwhile", ["reload", "clock step"])
async def test_a_part_failing_after_a_reload_or_a_clock_step_during_its_post_goes_on_from_it(
    meanwhile: str,
) -> None:
    """Part 2 of the incident is under way when a reload changes the sink's timeout (the
    sink made anew, to the same URL), or the clock steps an hour back; then it fails
    (500). The retry goes on from part 2: the receiver has part 1 once. Asked of the new
    sink, which copied what the old one kept before the old one kept this, or by the
    moved notification, the sink began again from part 1."""
    wide = _incident()
    async with _Held() as hook, aiohttp.ClientSession() as session:
        sink = f'[alerts.sinks.hook]\ntype = "webhook"\nurl = "{hook.url}"\nsecret = "{SECRET}"\n'
        text = sink + RULE + 'sinks = ["hook"]\n'
        alerting, _pipeline, now = _alerting(text)
        alerting.open(session)
        outbox = alerting.outboxes["hook"]
        hook.next_statuses.extend([204, 500])
        outbox.put(wide)

        async def during_the_post() -> None:
            await hook.arrived.wait()
            if meanwhile == "reload":
                alerting.reconfigure(parse_config(text.replace("[alerts.sinks.hook]\n", _SLOWER)))
            else:
                now[0] -= 3600.0
                alerting.stepped(now[0], -3600.0)
            hook.release.set()

        async def backoff(seconds: float) -> None:
            await anyio.lowlevel.checkpoint()

        async with anyio.create_task_group() as tg:
            tg.start_soon(during_the_post)
            await _drained(outbox, backoff)
    assert [body["part"] for body in hook.bodies] == [1, 2, 2, 3, 4, 5, 6, 7]
    assert {body["at"] for body in hook.bodies} == {iso(wide.at)}


@pytest.mark.parametrize(("width", "parts"), [(500, 7), (1, 1)])
async def test_a_body_too_large_for_the_receiver_is_logged_with_a_hint_naming_its_limit(
    width: int, parts: int
) -> None:
    """A receiver whose proxy takes bodies of 1 KiB at most answers 413 to each part
    of the 500-domain incident, and to a one-alert notification's one document: the
    failure's log line says so and adds a hint naming the receiver's body-size limit
    (nginx's client_max_body_size) and the size sesd posted, so the fix is in the line."""
    async with WebhookReceiver(secret=SECRET, most=1024) as hook:
        with capture_logs() as logs:
            counter = await _delivered(hook, _incident(width))
    assert len(hook.too_large) == parts
    assert outcomes(counter, "hook")["failed"] == 1
    (failed,) = [e for e in logs if e["event"] == "sesd.notify.failed"]
    refused = "HTTP 413" if parts == 1 else f"{parts} of {parts} parts refused: HTTP 413"
    assert failed["error"].startswith(f"{refused}: <html>")
    assert "client_max_body_size" in failed["hint"]
    assert f"no body of {hook.too_large[0]} bytes" in failed["hint"]
