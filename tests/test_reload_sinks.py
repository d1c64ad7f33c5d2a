"""A reload that changes a sink's config (its URL, a timeout, a rotated secret) while
the sink is down: the outbox keeps what it holds, and what the sink it replaces knew
of the outage (which firings are over, which resolves a member is owed) goes on with
the new one. Local PagerDuty-like and Alertmanager-like receivers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
import anyio
import pytest

from sesd.alerting.outbox import Outbox
from sesd.alerting.rules import Transition
from sesd.alerting.service import Alerting
from sesd.config import core_settings, parse_config, read_secrets
from sesd.core.pipeline import Pipeline
from tests.proxy import Proxy
from tests.receivers import Answer, Receiver, WebhookReceiver
from tests.test_routing import RULE, T, _alerting, alerting_for
from tests.test_rules import feed_spike


def _pagerduty(url: str) -> str:
    return (
        '[alerts]\ngroup_wait = "0s"\n'
        '[alerts.sinks.pd]\ntype = "pagerduty"\nrouting_key = "env:SESD_TEST_ROUTING_KEY"\n'
        f'events_url = "{url}"\n' + RULE + 'sinks = ["pd"]\n'
    )


def _alertmanager(*urls: str, timeout: str = "") -> str:
    """The rule on an Alertmanager sink ``am`` of ``urls``, resent each second."""
    listed = ", ".join(f'"{url}"' for url in urls)
    limit = f'timeout = "{timeout}"\n' if timeout else ""
    return (
        '[alerts]\ngroup_wait = "0s"\n[alerts.sinks.am]\ntype = "alertmanager"\n'
        f'urls = [{listed}]\nresend_every = "1s"\n{limit}' + RULE + 'sinks = ["am"]\n'
    )


#: The rule moved to a console sink by a reload, its former sink gone.
_MOVED = (
    '[alerts]\ngroup_wait = "0s"\n[alerts.sinks.ops]\ntype = "console"\n'
    + RULE
    + 'sinks = ["ops"]\n'
)


def _at_pagerduty(
    url: str, session: aiohttp.ClientSession
) -> tuple[str, Alerting, Pipeline, list[float]]:
    """The rule on a PagerDuty sink at ``url`` (its key read from the environment), open
    on ``session``: the config's text, the alerting, its pipeline and its clock."""
    text = _pagerduty(url)
    config = read_secrets(parse_config(text))
    pipeline, now = Pipeline(core_settings(config)), [T]
    alerting = alerting_for(config, pipeline, now)
    alerting.open(session)
    return text, alerting, pipeline, now


async def _fired(alerting: Alerting, pipeline: Pipeline, outbox: Outbox) -> None:
    """a.example's firing, evaluated at T and posted: ``outbox``, running, empty again."""
    feed_spike(pipeline, "a.example", T, 6, 4)
    alerting.evaluate()
    with anyio.fail_after(10):
        await outbox.wait_empty()


async def _run_until(
    alerting: Alerting,
    pipeline: Pipeline,
    outbox: Outbox,
    pause: Callable[[float], Awaitable[None]],
    until: Callable[[], Awaitable[object]],
) -> None:
    """a.example's firing queued at T, then ``outbox`` run, ``pause`` in place of each
    pause it takes, until ``until`` returns."""
    outbox._sleep = pause
    feed_spike(pipeline, "a.example", T, 6, 4)
    alerting.evaluate()
    async with anyio.create_task_group() as tg:
        tg.start_soon(outbox.run)
        with anyio.fail_after(10):
            await until()
        tg.cancel_scope.cancel()


async def _drained(outbox: Outbox, meanwhile: Callable[[float], Awaitable[None]]) -> None:
    """Run ``outbox`` until it is empty, ``meanwhile`` in place of each pause it takes
    (a backoff after a 5xx: where the test reloads)."""
    outbox._sleep = meanwhile
    async with anyio.create_task_group() as tg:
        tg.start_soon(outbox.run)
        with anyio.fail_after(10):
            await outbox.wait_empty()
        tg.cancel_scope.cancel()


async def test_a_reload_during_an_outage_does_not_page_for_an_incident_already_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PagerDuty answers 500 to a firing; while the outbox waits to try again the alert
    resolves and a reload rotates the routing key (the sink is made anew). Once
    PagerDuty answers it takes the resolve alone: the trigger, for an incident over
    before PagerDuty heard of it, would phone the on-call for nothing, as it would not
    without the reload."""
    monkeypatch.setenv("SESD_TEST_ROUTING_KEY", "key-1")
    async with Receiver("pagerduty") as pd, aiohttp.ClientSession() as session:
        pd.script(Answer(500))
        text, alerting, pipeline, now = _at_pagerduty(pd.url, session)
        feed_spike(pipeline, "a.example", T, 6, 4)
        alerting.evaluate()
        outbox = alerting.outboxes["pd"]

        async def meanwhile(seconds: float) -> None:
            # The backoff after the 500: the incident ends, the key is rotated.
            now[0] = T + 61
            feed_spike(pipeline, "a.example", T + 61, 0, 400)
            alerting.evaluate()
            monkeypatch.setenv("SESD_TEST_ROUTING_KEY", "key-2")
            alerting.reconfigure(read_secrets(parse_config(text)))
            await anyio.lowlevel.checkpoint()

        await _drained(outbox, meanwhile)
    assert pd.answers[0] == 500
    assert [(e["event_action"], e["routing_key"]) for e in pd.accepted] == [("resolve", "key-2")]


class _Member(WebhookReceiver):
    """One Alertmanager member's alerts endpoint (200 on POST /api/v2/alerts)."""

    def __init__(self) -> None:
        super().__init__(path="/api/v2/alerts", status=200)
        self.url = f"http://127.0.0.1:{self.port}"


async def test_a_reload_keeps_the_resolves_an_alertmanager_member_is_owed() -> None:
    """Of two Alertmanager members, one answers 503 to a resolve: it is owed it. A
    reload then changes the sink (a third member added). The member that missed the
    resolve still gets it once it answers: forgotten, its copy of the alert would stay
    firing until its endsAt, and page again at its next flush."""
    async with _Member() as a, _Member() as b, _Member() as c, aiohttp.ClientSession() as session:
        alerting, pipeline, now = _alerting(_alertmanager(a.url, b.url))
        alerting.open(session)
        outbox = alerting.outboxes["am"]
        async with anyio.create_task_group() as tg:
            tg.start_soon(outbox.run)
            await _fired(alerting, pipeline, outbox)
            a.status = 503
            now[0] = T + 1
            feed_spike(pipeline, "a.example", T + 1, 0, 400)
            (resolved,) = alerting.evaluate()
            assert resolved.kind is Transition.RESOLVED
            with anyio.fail_after(10):
                await b.wait_for(lambda body: len(b.bodies) == 2)
                await outbox.wait_empty()
            alerting.reconfigure(parse_config(_alertmanager(a.url, b.url, c.url)))
            a.status = 200
            with anyio.fail_after(10):
                await a.wait_for(lambda body: len(a.bodies) == 3)
            tg.cancel_scope.cancel()
    (owed,) = a.bodies[2]
    assert owed["labels"]["domain"] == "a.example"
    assert owed["endsAt"] == a.bodies[1][0]["endsAt"]  # the resolve it refused


async def test_a_reload_during_a_wide_page_goes_on_from_the_first_event_not_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PagerDuty takes the first of three alerts' triggers, then answers 500; while the
    outbox waits to try again a reload changes the sink's timeout (the same key and
    URL). It goes on from the second event: started again from the first, a wide
    incident's first hundred events would be sent again at PagerDuty's 120 a minute
    while the rest waited."""
    monkeypatch.setenv("SESD_TEST_ROUTING_KEY", "key-1")
    async with Receiver("pagerduty") as pd, aiohttp.ClientSession() as session:
        pd.script(Answer(202), Answer(500))
        text, alerting, pipeline, _now = _at_pagerduty(pd.url, session)
        for domain in ("a.example", "b.example", "c.example"):
            feed_spike(pipeline, domain, T, 6, 4)
        alerting.evaluate()
        outbox = alerting.outboxes["pd"]

        async def meanwhile(seconds: float) -> None:
            slower = text.replace('events_url = "', 'timeout = "20s"\nevents_url = "')
            alerting.reconfigure(read_secrets(parse_config(slower)))
            await anyio.lowlevel.checkpoint()

        await _drained(outbox, meanwhile)
    assert pd.answers == [202, 500, 200, 200]  # 200: the receiver's default, answered 202
    assert [e["payload"]["component"] for e in pd.accepted] == [
        "a.example",
        "b.example",
        "c.example",
    ]


@pytest.mark.parametrize("meanwhile", ["reload", "clock step"])
async def test_a_wide_page_failing_after_a_reload_or_a_step_during_a_post_goes_on_from_it(
    monkeypatch: pytest.MonkeyPatch, meanwhile: str
) -> None:
    """PagerDuty takes the first of three alerts' triggers; the second is under way when
    a reload changes the sink's timeout (the same key and URL), or the clock steps an
    hour back; then PagerDuty answers it 500. The retry goes on from the second event:
    asked of the new sink, which copied what the old one kept before the old one kept
    this, or by the moved notification, it began again from the first."""
    monkeypatch.setenv("SESD_TEST_ROUTING_KEY", "key-1")
    async with Receiver("pagerduty") as pd, aiohttp.ClientSession() as session:
        pd.script(Answer(202), Answer(500, hang=True))
        text, alerting, pipeline, now = _at_pagerduty(pd.url, session)
        for domain in ("a.example", "b.example", "c.example"):
            feed_spike(pipeline, domain, T, 6, 4)
        alerting.evaluate()
        outbox = alerting.outboxes["pd"]

        async def during_the_post() -> None:
            await pd.wait_arrived(2)
            if meanwhile == "reload":
                slower = text.replace('events_url = "', 'timeout = "20s"\nevents_url = "')
                alerting.reconfigure(read_secrets(parse_config(slower)))
            else:
                now[0] -= 3600.0
                alerting.stepped(now[0], -3600.0)
            pd.close()  # the held answer goes: the 500

        async def backoff(seconds: float) -> None:
            await anyio.lowlevel.checkpoint()

        async with anyio.create_task_group() as tg:
            tg.start_soon(during_the_post)
            await _drained(outbox, backoff)
    assert pd.answers == [202, 500, 200, 200]
    assert [e["payload"]["component"] for e in pd.accepted] == [
        "a.example",
        "b.example",
        "c.example",
    ]


async def test_a_sink_removed_and_named_again_keeps_one_rules_notifications_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PagerDuty has a rule's page, and is down. A reload moves the rule to another
    sink and drops PagerDuty: its outbox, still emptying, holds the resolve it owes. A
    second reload puts it back: it is owed the firing again. Once PagerDuty answers it
    takes the resolve, then the trigger, and the incident is open, as the alert is; a
    second outbox for the same sink would post the trigger while the first still
    waited to post the resolve, and close the incident of an alert that fires."""
    monkeypatch.setenv("SESD_TEST_ROUTING_KEY", "key-1")
    async with Receiver("pagerduty") as pd, aiohttp.ClientSession() as session:
        text, alerting, pipeline, _now = _at_pagerduty(pd.url, session)
        first = alerting.outboxes["pd"]
        go_on = anyio.Event()

        async def held(seconds: float) -> None:
            await go_on.wait()  # PagerDuty is down until the test says

        first._sleep = held
        async with anyio.create_task_group() as tg:
            alerting._tasks = tg  # as Alerting.run has it: outboxes a reload adds run
            tg.start_soon(first.run)
            await _fired(alerting, pipeline, first)
            pd.script(Answer(500))
            alerting.reconfigure(parse_config(_MOVED))
            with anyio.fail_after(10):
                await pd.wait_arrived(2)  # the resolve, refused
            alerting.reconfigure(read_secrets(parse_config(text)))
            now_pd = alerting.outboxes["pd"]
            if now_pd is not first:
                with anyio.fail_after(10):
                    await now_pd.wait_empty()  # what another outbox posts, first
            go_on.set()
            with anyio.fail_after(10):
                await first.wait_empty()
                await now_pd.wait_empty()
            tg.cancel_scope.cancel()
    assert [e["event_action"] for e in pd.accepted] == ["trigger", "resolve", "trigger"]


async def test_a_resolve_a_member_misses_during_the_reload_is_still_owed_to_it() -> None:
    """A resolve is being posted to two Alertmanager members; one of them hangs. A
    reload changes the sink while that post waits for its timeout. The member the post
    then times out on is owed the resolve by the sink now in force, and gets it once it
    answers: recorded only in the sink the reload replaced, it was lost."""
    async with (
        _Member() as a,
        _Member() as b,
        _Member() as c,
        Proxy(a.port) as to_a,
        aiohttp.ClientSession() as session,
    ):
        alerting, pipeline, now = _alerting(_alertmanager(to_a.url, b.url, timeout="2s"))
        alerting.open(session)
        outbox = alerting.outboxes["am"]
        async with anyio.create_task_group() as tg:
            tg.start_soon(outbox.run)
            await _fired(alerting, pipeline, outbox)
            to_a.stall()
            now[0] = T + 1
            feed_spike(pipeline, "a.example", T + 1, 0, 400)
            alerting.evaluate()
            with anyio.fail_after(10):
                await b.wait_for(lambda body: len(b.bodies) == 2)  # a's post still waits
            alerting.reconfigure(parse_config(_alertmanager(to_a.url, b.url, c.url, timeout="2s")))
            with anyio.fail_after(10):
                await outbox.wait_empty()  # a's post timed out: b took it, so it is sent
            to_a.restore()
            with anyio.fail_after(10):
                await a.wait_for(lambda body: len(a.bodies) == 2)
            tg.cancel_scope.cancel()
    (owed,) = a.bodies[1]
    assert owed["endsAt"] == b.bodies[1][0]["endsAt"]  # the resolve


async def test_an_alertmanager_a_reload_removes_still_gets_its_members_the_resolve() -> None:
    """A reload moves a firing rule off an Alertmanager pair and removes the sink: the
    sink is sent the resolve before it goes, and one member answers 503 to it. That
    member gets it once it answers again; the outbox ended as its queue emptied, and
    the member kept the alert firing until its endsAt, to notify it again after."""
    async with _Member() as a, _Member() as b, aiohttp.ClientSession() as session:
        am = _alertmanager(a.url, b.url)
        alerting, pipeline, _ = _alerting(am)
        alerting.open(session)
        outbox = alerting.outboxes["am"]
        async with anyio.create_task_group() as tg:
            tg.start_soon(outbox.run)
            await _fired(alerting, pipeline, outbox)
            a.status = 503
            alerting.reconfigure(parse_config(_MOVED))
            assert "am" not in alerting.outboxes
            with anyio.fail_after(10):
                await b.wait_for(lambda body: len(b.bodies) == 2)  # the resolve, taken
                await outbox.wait_empty()
            a.status = 200
            with anyio.fail_after(10):
                await a.wait_for(lambda body: len(a.bodies) == 3)
            tg.cancel_scope.cancel()
    assert a.bodies[2] == b.bodies[1]  # the resolve it refused


async def test_an_alertmanager_named_again_while_it_owes_a_member_takes_its_outbox_back() -> None:
    """A reload removes an Alertmanager pair while a rule fires: the resolve goes out, one
    member refuses it (503), and the outbox, its queue empty, idles on to post that
    resolve. A second reload names the sink again: it takes that outbox back, as it
    does one with notifications queued. A second outbox beside it would post the
    firing it is owed anew while the first still held the member's resolve, to close
    the alert of a rule that fires once the member answers."""
    async with _Member() as a, _Member() as b, aiohttp.ClientSession() as session:
        am = _alertmanager(a.url, b.url)
        alerting, pipeline, _ = _alerting(am)
        alerting.open(session)
        outbox = alerting.outboxes["am"]
        async with anyio.create_task_group() as tg:
            alerting._tasks = tg  # as Alerting.run has it: outboxes a reload adds run
            tg.start_soon(outbox.run)
            await _fired(alerting, pipeline, outbox)
            a.status = 503
            alerting.reconfigure(parse_config(_MOVED))
            with anyio.fail_after(10):
                await b.wait_for(lambda body: len(b.bodies) == 2)  # the resolve, taken
                await outbox.wait_empty()
            assert outbox.busy()  # a's resolve, owed
            alerting.reconfigure(parse_config(am))
            assert alerting.outboxes["am"] is outbox
            tg.cancel_scope.cancel()


def _slack(url: str, alerts: str = "", sink: str = "") -> str:
    """The rule on a Slack sink ``chat`` at ``url``; ``alerts``, ``sink``: more keys."""
    return (
        f'[alerts]\ngroup_wait = "0s"\n{alerts}[alerts.sinks.chat]\ntype = "slack"\n'
        f'webhook_url = "{url}"\n{sink}' + RULE + 'sinks = ["chat"]\n'
    )


async def test_a_429_pause_is_the_url_that_asked_for_it_not_the_one_a_reload_gives() -> None:
    """Slack answers a firing 429, asking for five minutes; during the pause a reload
    moves the sink to another webhook URL (another workspace's). The firing goes there
    at once: that URL asked for no pause, and Slack's limits are a webhook's."""
    async with (
        Receiver("slack") as old,
        Receiver("slack") as new,
        aiohttp.ClientSession() as session,
    ):
        old.script(Answer(429, retry_after="300"))
        alerting, pipeline, _now = _alerting(_slack(old.url))
        alerting.open(session)
        outbox, paused = alerting.outboxes["chat"], []

        async def pause(seconds: float) -> None:
            paused.append(seconds)
            alerting.reconfigure(parse_config(_slack(new.url)))
            await anyio.Event().wait()  # five minutes, in effect: only the reload ends it

        await _run_until(alerting, pipeline, outbox, pause, lambda: new.wait_for(1))
    assert (paused, old.answers) == ([300.0], [429])
    assert new.accepted[0]["text"].startswith(":rotating_light: FIRING")


async def test_a_429_pause_stays_with_its_url_through_a_reload_that_keeps_it() -> None:
    """As above, but the reload changes the sink's timeout and keeps its URL: the pause
    runs on to its end (posted into, the URL would refuse again); keeping it is why a
    reload keeps the sink's outbox."""
    async with Receiver("slack") as slack, aiohttp.ClientSession() as session:
        slack.script(Answer(429, retry_after="300"))
        alerting, pipeline, _now = _alerting(_slack(slack.url))
        alerting.open(session)
        outbox, paused, cut = alerting.outboxes["chat"], [], []

        async def pause(seconds: float) -> None:
            paused.append(seconds)
            alerting.reconfigure(parse_config(_slack(slack.url, sink='timeout = "20s"\n')))
            try:
                await anyio.lowlevel.checkpoint()  # the rest of the five minutes
            except anyio.get_cancelled_exc_class():
                cut.append(seconds)
                raise

        await _run_until(alerting, pipeline, outbox, pause, lambda: slack.wait_for(1))
    assert (paused, cut, slack.answers) == ([300.0], [], [429, 200])


async def test_the_pause_a_given_up_notification_left_ends_with_a_new_url() -> None:
    """Slack asks for five minutes, more than a notification may wait (two): the firing
    is given up, and the sink stays paused for the next (up to two minutes). A reload
    moves the sink to another URL; the resolve then goes there at once, not after the
    old URL's pause."""
    async with (
        Receiver("slack") as old,
        Receiver("slack") as new,
        aiohttp.ClientSession() as session,
    ):
        old.script(Answer(429, retry_after="300"))
        ages = 'notification_max_age = "2m"\n'
        alerting, pipeline, now = _alerting(_slack(old.url, alerts=ages))
        alerting.open(session)
        outbox, paused = alerting.outboxes["chat"], []

        async def pause(seconds: float) -> None:
            paused.append(seconds)
            await anyio.lowlevel.checkpoint()

        outbox._sleep = pause
        async with anyio.create_task_group() as tg:
            tg.start_soon(outbox.run)
            feed_spike(pipeline, "a.example", T, 6, 4)
            alerting.evaluate()
            with anyio.fail_after(10):
                await old.wait_arrived(1)
                await outbox.wait_empty()
            alerting.reconfigure(parse_config(_slack(new.url, alerts=ages)))
            now[0] = T + 61
            feed_spike(pipeline, "a.example", T + 61, 0, 400)
            alerting.evaluate()
            with anyio.fail_after(10):
                await new.wait_for(1)
            tg.cancel_scope.cancel()
    assert (paused, old.answers) == ([], [429])
    assert new.accepted[0]["text"].startswith(":white_check_mark: RESOLVED")


async def test_a_shorter_age_limit_does_not_cut_a_pause_short() -> None:
    """Slack asks a firing to wait five minutes; meanwhile a reload lowers
    notification_max_age to one minute. The pause runs to its end and the firing and
    the resolve behind it are posted after it, both taken: a notification's age runs
    from its first try, so the wait gives none up, where cut short to the new limit
    the pause would have posted into Slack's refusal (and given the firing up)."""
    async with Receiver("slack") as slack, aiohttp.ClientSession() as session:
        slack.script(Answer(429, retry_after="300"))
        alerting, pipeline, now = _alerting(_slack(slack.url))
        alerting.open(session)
        outbox, paused = alerting.outboxes["chat"], []
        shorter = _slack(slack.url, alerts='notification_max_age = "1m"\n')

        async def pause(seconds: float) -> None:
            paused.append(seconds)
            alerting.reconfigure(parse_config(shorter))
            now[0] = T + 61
            feed_spike(pipeline, "a.example", T + 61, 0, 400)
            alerting.evaluate()  # the resolve, queued behind the firing
            await anyio.lowlevel.checkpoint()  # the rest of the five minutes

        await _run_until(alerting, pipeline, outbox, pause, lambda: slack.wait_for(2))
    assert (paused, slack.answers) == ([300.0], [429, 200, 200])
    texts = [body["text"] for body in slack.accepted]
    assert texts[0].startswith(":rotating_light: FIRING")
    assert texts[1].startswith(":white_check_mark: RESOLVED")


async def test_a_429_the_old_url_gave_while_a_reload_moved_the_sink_does_not_pause_the_new() -> (
    None
):
    """Slack holds a firing's post; while it is under way a reload moves the sink to
    another webhook URL, and the old URL then answers 429, asking for five minutes. The
    refusal was the old URL's, which no longer matters: the firing goes to the new URL
    at once, as it does when the reload comes during the pause, not five minutes later
    (nor given up, had the pause been longer than a notification may wait)."""
    async with (
        Receiver("slack") as old,
        Receiver("slack") as new,
        aiohttp.ClientSession() as session,
    ):
        old.script(Answer(429, retry_after="300", hang=True))
        alerting, pipeline, _now = _alerting(_slack(old.url))
        alerting.open(session)
        outbox, paused = alerting.outboxes["chat"], []

        async def pause(seconds: float) -> None:
            paused.append(seconds)
            await anyio.Event().wait()  # five minutes, in effect

        async def moved_while_held() -> None:
            await old.wait_arrived(1)
            alerting.reconfigure(parse_config(_slack(new.url)))
            old.close()  # the held post is answered: 429
            await new.wait_for(1)

        await _run_until(alerting, pipeline, outbox, pause, moved_while_held)
    assert (paused, old.answers) == ([], [429])
    assert new.accepted[0]["text"].startswith(":rotating_light: FIRING")
