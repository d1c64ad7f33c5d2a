"""The canary end to end: SES (moto, or a local slow/throttling endpoint) -> SQS -> sesd."""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import anyio.abc
import msgspec
import pytest
from aiobotocore.config import AioConfig

from sesd.alerting.rules import Status
from sesd.canary.sender import CanarySender
from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import Config, Duration, load_config, parse_config
from sesd.core.canary import CANARY_TAG, CanaryTracker
from sesd.core.decode import decode_body
from sesd.runtime.aws import AwsClients
from sesd.runtime.canary import CanaryRunner
from sesd.runtime.daemon import Daemon
from tests import factory as f
from tests.conftest import aws_client, make_queue, running, send_bodies
from tests.fake_ses import ROLE_ACCOUNT, FakeSes, Reply
from tests.receivers import Receiver
from tests.test_alerting_e2e import Clock
from tests.test_canary import SIM, canary_event

#: Short polls: a stop need not wait out a long poll (conftest.short_polls).
pytestmark = pytest.mark.usefixtures("short_polls")

FROM = "canary@example.com"


def canary_text(
    local: LocalSqs,
    url: str,
    *,
    canary: str = "",
    alerts: str = "",
    interval: str = "1h",
    send_timeout: str | None = None,
    queues: str = "",
) -> str:
    """A config file with the canary on queue ``q`` (``queues``: more of them)."""
    return (
        f'[aws]\nendpoint_url = "{local.url}"\n'
        f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 0\n{queues}'
        '[http]\nlisten = "127.0.0.1:0"\n[shutdown]\ngrace_period = "10s"\n'
        f'[canary]\nfrom = "{FROM}"\nconfiguration_set = "sesd"\ninterval = "{interval}"\n'
        f'deadline = "2m"\nqueue = "q"\nsend_timeout = "{send_timeout or interval}"\n{canary}'
        f'[alerts]\nevaluate_every = "100ms"\ngroup_wait = "0s"\n{alerts}'
    )


def canary_config(local: LocalSqs, url: str, **options: Any) -> Config:
    """The config :func:`canary_text` writes."""
    return parse_config(canary_text(local, url, **options))


def cut_off_after(sender: CanarySender, send_timeout: str) -> None:
    """Bound ``sender``'s calls from now by ``send_timeout``, for a test's held call.
    The new SES client's first call (the warm-up before the first send) does one-off
    work (a few hundred ms on a loaded machine, more at times), within ``send_timeout``
    too: cut off, the first send did the rest and could time out, and the canary a
    test waits for was never sent."""
    sender.config = msgspec.structs.replace(sender.config, send_timeout=Duration(send_timeout))


async def scrape(daemon: Daemon) -> str:
    url = f"http://127.0.0.1:{daemon.http_port}/metrics"
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return await response.text()


async def test_canary_through_moto_is_matched_and_missing_fires_then_resolves(
    local_sqs: LocalSqs, sqs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sesd sends through moto's SES; past the deadline canary_missing fires on Slack, naming
    the stage and the message id; the test then publishes the matching Delivery event, which
    resolves it and gives the end-to-end figure (send at T0, received at T0+126 s)."""
    clock = Clock(f.T0)
    url, _ = await make_queue(sqs)
    async with aws_client("sesv2", local_sqs) as ses:
        await ses.create_email_identity(EmailIdentity=FROM)
    async with Receiver("slack") as slack:
        monkeypatch.setenv("SESD_TEST_SLACK_URL", slack.url)
        alerts = (
            '[alerts.slack]\nwebhook_url = "env:SESD_TEST_SLACK_URL"\n'
            '[[alerts.rules]]\nname = "canary-missing"\nmetric = "canary_missing"\n'
            'window = "15m"\nabove = 0\nseverity = "critical"\nsinks = ["slack"]\n'
        )
        config = canary_config(local_sqs, url, alerts=alerts)
        async with running(config, clock=clock) as daemon:
            tracker = daemon.ledger.canary
            with anyio.fail_after(20):
                await daemon.changes.wait_for(lambda: tracker.sent_total == 1)
            (canary,) = tracker.canaries
            assert canary.message_id
            assert canary.sent_at == f.T0
            assert not canary.error
            clock.now = f.T0 + 121  # past the 2 min deadline
            with anyio.fail_after(20):
                await slack.wait_for(1)
            clock.now = f.T0 + 126
            delivered = canary_event("delivery", canary.message_id, f.T0 + 125, processing_ms=900)
            await send_bodies(sqs, url, [delivered, f.sns(f.delivery(["a@gmail.com"]))])
            with anyio.fail_after(20):
                await slack.wait_for(2)
            metrics = await scrape(daemon)
    firing, resolved = slack.accepted
    assert firing["text"].startswith(":rotating_light: FIRING canary-missing")
    assert canary.message_id in str(firing["blocks"])
    assert "where: event pipeline" in str(firing["blocks"])
    assert resolved["text"].startswith(":white_check_mark: RESOLVED canary-missing")
    assert canary.end_to_end_seconds == pytest.approx(126.0)
    assert canary.ses_seconds == pytest.approx(0.9)
    assert canary.pipeline_seconds == pytest.approx(1.0)
    assert "sesd_canary_end_to_end_seconds_count 1.0" in metrics
    assert "sesd_canary_end_to_end_seconds_sum 126.0" in metrics
    assert "sesd_canary_sent_total 1.0" in metrics
    assert "sesd_canary_missing 0.0" in metrics
    assert 'sesd_canary_events_total{outcome="matched"} 1.0' in metrics
    # The simulator's domain stays out of the per-domain view; real traffic does not.
    assert "simulator.amazonses.com" not in metrics
    assert 'domain="gmail.com"' in metrics


async def test_every_interval_one_tagged_send_with_the_configuration_set(
    local_sqs: LocalSqs, sqs: Any
) -> None:
    """The loop sends once at start and again each interval; each request names the
    verified sender, the simulator, the configuration set and the sesd-canary tag."""
    url, _ = await make_queue(sqs)
    async with FakeSes() as ses:
        config = canary_config(
            local_sqs, url, canary=f'endpoint_url = "{ses.url}"\n', interval="1s"
        )
        async with running(config) as daemon:
            with anyio.fail_after(10):
                await daemon.changes.wait_for(lambda: daemon.ledger.canary.sent_total >= 2)
    first = ses.requests[0]
    assert first["FromEmailAddress"] == FROM
    assert first["Destination"] == {"ToAddresses": [SIM]}
    assert first["ConfigurationSetName"] == "sesd"
    assert first["EmailTags"][0]["Name"] == CANARY_TAG
    assert first["Content"]["Simple"]["Subject"]["Data"].startswith("sesd canary ")


async def test_throttling_and_slow_ses_show_in_the_metrics(local_sqs: LocalSqs, sqs: Any) -> None:
    """429, 500 and 403 answers are counted by reason (one attempt each: the SDK does not
    retry them away); a 0.3 s answer shows in the send-latency histogram; a call that
    outlives send_timeout is counted as a timeout."""
    url, _ = await make_queue(sqs)
    async with FakeSes() as ses:
        config = canary_config(local_sqs, url, canary=f'endpoint_url = "{ses.url}"\n')
        async with running(config) as daemon:
            tracker = daemon.ledger.canary
            with anyio.fail_after(10):
                await daemon.changes.wait_for(lambda: tracker.sent_total == 1)
            sender = daemon.canary.sender
            assert sender is not None
            ses.script(Reply(429), Reply(429), Reply(500), Reply(403), Reply(200, delay=0.3))
            for _ in range(5):
                await sender.send_once()
            ses.script(Reply(hold=True))
            cut_off_after(sender, "1s")
            with anyio.fail_after(10):
                await sender.send_once()  # held past the 1 s send_timeout
            metrics = await scrape(daemon)
    assert ses.answered[:6] == [200, 429, 429, 500, 403, 200]
    assert tracker.errors == {"throttled": 2, "server_error": 1, "auth": 1, "timeout": 1}
    assert 'sesd_canary_send_errors_total{reason="throttled"} 2.0' in metrics
    assert 'sesd_canary_send_errors_total{reason="server_error"} 1.0' in metrics
    assert 'sesd_canary_send_errors_total{reason="timeout"} 1.0' in metrics
    assert "sesd_canary_send_seconds_count 2.0" in metrics
    assert tracker.canaries[-1].send_seconds >= 0.3
    assert tracker.figures.send.sum >= 0.3


async def test_a_hung_ses_call_does_not_hold_up_event_consumption(
    local_sqs: LocalSqs, sqs: Any
) -> None:
    """While the canary's call hangs at SES, 50 events are consumed; released, the call
    completes."""
    url, _ = await make_queue(sqs)
    async with FakeSes() as ses:
        ses.script(Reply(hold=True))
        config = canary_config(
            local_sqs, url, canary=f'endpoint_url = "{ses.url}"\n', interval="30s"
        )
        async with running(config) as daemon:
            with anyio.fail_after(10):
                await ses.wait_for(lambda s: s.held == 1)
            sender = daemon.canary.sender
            assert sender is not None
            await send_bodies(sqs, url, [f.sns(f.delivery([f"u{i}@gmail.com"])) for i in range(50)])
            with anyio.fail_after(20):
                await daemon.changes.wait_for(
                    lambda: daemon.ledger.tallies.messages.get(("q", "processed"), 0) == 50
                )
            assert sender.in_flight
            assert ses.held == 1
            ses.release()
            with anyio.fail_after(10):
                await daemon.changes.wait_for(lambda: not sender.in_flight)
    assert daemon.ledger.canary.sent_total == 1


class _Tasks:
    """A ``keep`` for :meth:`CanaryRunner.start` that runs each task in ``tg`` and says
    when each has returned."""

    def __init__(self, tg: anyio.abc.TaskGroup) -> None:
        self.tg = tg
        self.done: list[anyio.Event] = []

    def __call__(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        done = anyio.Event()
        self.done.append(done)

        async def wrapped() -> None:
            await run()
            done.set()

        self.tg.start_soon(wrapped)


async def test_a_canary_started_once_the_stop_began_sends_nothing(
    local_sqs: LocalSqs, sqs: Any
) -> None:
    """The daemon is stopping when the canary is (re)started: nothing is sent, as no
    queue starts then (its first act would be a SendEmail by a daemon on its way out)."""
    url, _ = await make_queue(sqs)
    async with FakeSes() as ses, AsyncExitStack() as stack:
        config = canary_config(local_sqs, url, canary=f'endpoint_url = "{ses.url}"\n')
        stopping = anyio.Event()
        stopping.set()
        runner = CanaryRunner(CanaryTracker(120.0, "q"), lambda: f.T0, lambda: None, stopping)
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                runner.start(config, AwsClients(config, stack), _Tasks(tg))
    assert ses.requests == []
    assert runner.sender is None


async def test_a_canary_whose_stop_began_while_its_client_was_made_sends_nothing(
    local_sqs: LocalSqs, sqs: Any
) -> None:
    """The stop begins while the canary's SES client is made (its first one reads the
    SDK's service models in a thread, a moment on a busy host): the canary sends
    nothing, as one that began after the stop does."""
    url, _ = await make_queue(sqs)
    async with FakeSes() as ses, AsyncExitStack() as stack:
        config = canary_config(local_sqs, url, canary=f'endpoint_url = "{ses.url}"\n')
        stopping = anyio.Event()

        class StoppedMeanwhile(AwsClients):
            async def client(self, *args: Any, **kwargs: Any) -> Any:
                stopping.set()  # SIGTERM, as the client is made
                return await super().client(*args, **kwargs)

        runner = CanaryRunner(CanaryTracker(120.0, "q"), lambda: f.T0, lambda: None, stopping)
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tasks = _Tasks(tg)
                runner.start(config, StoppedMeanwhile(config, stack), tasks)
                await tasks.done[0].wait()
    assert ses.requests == []
    assert runner.sender is None


async def test_a_canary_replaced_before_it_began_sends_nothing(
    local_sqs: LocalSqs, sqs: Any
) -> None:
    """Two reloads in a row change [canary]: the canary of the first is replaced before
    its task began, and sends nothing; only the second's sends (not two emails at once,
    one of a configuration that is no longer in force)."""
    url, _ = await make_queue(sqs)
    async with FakeSes() as ses, AsyncExitStack() as stack:
        endpoint = f'endpoint_url = "{ses.url}"\n'
        first = canary_config(local_sqs, url, canary=endpoint)
        second = canary_config(local_sqs, url, canary=endpoint.replace('"\n', '/"\n'))
        stopping = anyio.Event()
        runner = CanaryRunner(CanaryTracker(120.0, "q"), lambda: f.T0, lambda: None, stopping)
        clients = AwsClients(first, stack)
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tasks = _Tasks(tg)
                runner.start(first, clients, tasks)
                clients.reconfigure(second)  # (as a reload does first)
                runner.start(second, clients, tasks)
                await tasks.done[0].wait()
                await ses.wait_for(lambda s: len(s.requests) >= 1)
                stopping.set()
    assert len(ses.requests) == 1
    assert runner.sender is not None
    assert runner.sender.config is second.canary


@pytest.mark.parametrize("sts", ["slow", "refusing"])
async def test_the_first_canary_times_its_send_not_the_client_s_set_up(sts: str) -> None:
    """The canary sends as an account's role, which STS takes 0.5 s to give: the first
    SendEmail's latency is the send's alone, the role assumed before it (inside it,
    each start's first canary was that much slower, and a short ``send_timeout`` cut it
    off). STS refusing the role: the first canary still fails, with its reason."""
    async with FakeSes() as fake, AsyncExitStack() as stack:
        config = parse_config(
            f'[aws]\nendpoint_url = "{fake.url}"\nregion = "us-east-1"\n{ROLE_ACCOUNT}'
            '[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/210987654321/events"\n'
            'name = "q"\naccount = "prod-eu"\n'
            f'[canary]\nfrom = "{FROM}"\nconfiguration_set = "sesd"\ninterval = "1h"\n'
            'deadline = "2m"\nqueue = "q"\nsend_timeout = "10s"\n'
        )
        fake.sts_delay = 0.5
        if sts == "refusing":
            fake.script_sts(*[403] * 4)
        tracker = CanaryTracker(120.0, "q")
        stopping, called = anyio.Event(), anyio.Event()
        runner = CanaryRunner(tracker, time.time, called.set, stopping)
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                runner.start(config, AwsClients(config, stack), _Tasks(tg))
                await called.wait()
                stopping.set()
    (canary,) = tracker.canaries
    if sts == "slow":
        assert (canary.error, canary.message_id) == ("", "fake-ses-000001")
        assert canary.send_seconds < 0.5
        assert len(fake.assume_role) == 1
    else:
        assert (canary.error, tracker.errors) == ("auth", {"auth": 1})
        assert len(fake.requests) == 0


async def test_an_answer_without_a_message_id_is_a_failed_call_not_a_fault(
    local_sqs: LocalSqs, sqs: Any
) -> None:
    """A 200 that is not SES's answer (a proxy's page: the SDK reads it as an empty
    answer) is a failed call, counted and missing once past the deadline; not a fault
    of the canary's task, which would send again every 10 s and count nothing."""
    url, _ = await make_queue(sqs)
    clock = Clock(f.T0)
    async with FakeSes() as ses:
        config = canary_config(local_sqs, url, canary=f'endpoint_url = "{ses.url}"\n')
        async with running(config, clock=clock) as daemon:
            tracker = daemon.ledger.canary
            with anyio.fail_after(10):
                await daemon.changes.wait_for(lambda: tracker.sent_total == 1)
            sender = daemon.canary.sender
            assert sender is not None
            ses.script(Reply(200, body="<html><body>Access through the proxy</body></html>"))
            with anyio.fail_after(10):
                await sender.send_once()
            failed = tracker.canaries[-1]
            clock.now = f.T0 + 121  # past the 2 min deadline
            metrics = await scrape(daemon)
    assert tracker.errors == {"server_error": 1}
    assert (failed.error, failed.message_id) == ("server_error", "")
    assert 'sesd_canary_send_errors_total{reason="server_error"} 1.0' in metrics
    assert failed not in tracker.missing(failed.sent_at + 1)  # a retry may get through
    assert failed in tracker.missing(f.T0 + 121)
    assert 'sesd_task_failures_total{task="canary"} 0.0' in metrics


async def test_a_wall_clock_step_ahead_does_not_make_canaries_in_flight_missing(
    local_sqs: LocalSqs, sqs: Any
) -> None:
    """A canary is sent; a second later NTP steps the wall clock ten minutes ahead (it
    was behind). The canary has been out a second, not ten minutes: it is not missing,
    canary-missing does not fire, and its end-to-end figure is the second that passed.
    The same for a step detected while the call is under way, whether the call then
    succeeds or fails."""
    url, _ = await make_queue(sqs)
    wall, mono = [f.T0], [1000.0]
    rule = (
        '[[alerts.rules]]\nname = "canary-missing"\nmetric = "canary_missing"\n'
        'window = "15m"\nabove = 0\n'
    )
    async with FakeSes() as fake, aws_client("sesv2", fake) as ses:
        config = canary_config(local_sqs, url, alerts=rule)
        assert config.canary is not None
        daemon = Daemon(config, clock=lambda: wall[0], monotonic=lambda: mono[0])
        tracker = daemon.ledger.canary
        sender = CanarySender(config.canary, ses, tracker, clock=daemon.clock)
        await sender.send_once()
        (canary,) = tracker.canaries
        wall[0] += 601  # a second passed, and the clock stepped 600 s ahead
        mono[0] += 1
        daemon.alerting.evaluate()
        assert tracker.missing(daemon.clock()) == []
        state = daemon.alerting.evaluator.states["canary-missing"]["canary"]
        assert state.status is Status.INACTIVE
        # Back the next second: one second from the call to its Delivery.
        delivered = decode_body(canary_event("delivery", canary.message_id, wall[0]))
        wall[0] += 1
        mono[0] += 1
        daemon.pipeline.apply(delivered, "q", daemon.clock())
        assert canary.end_to_end_seconds == pytest.approx(2.0)

        async def send_across_a_step(reply: Reply) -> None:
            """One send held by SES (``reply``) while the clock steps an hour ahead."""
            fake.script(reply)
            async with anyio.create_task_group() as tg:
                tg.start_soon(sender.send_once)
                with anyio.fail_after(10):
                    await fake.wait_for(lambda s: s.held == 1)
                wall[0] += 3600 + 1
                mono[0] += 1
                daemon.clock()
                fake.release()

        # A step found while a call is under way (the SDK's own signing reads no clock
        # of sesd's): the call began before it, on the old time.
        await send_across_a_step(Reply(hold=True))
        wall[0] += 1
        mono[0] += 1
        assert tracker.canaries[-1].sent_at == pytest.approx(wall[0] - 2)
        assert tracker.missing(daemon.clock()) == []
        # A call that fails across a step (SES refuses it after the step) is a failure of
        # the new time too: on the old one, an hour back, no window would count it.
        await send_across_a_step(Reply(status=400, hold=True))
        failed = tracker.canaries[-1]
        assert failed.error == "rejected"  # SES's MessageRejected
        assert failed.sent_at == pytest.approx(wall[0] - 1)


async def test_a_reload_that_changes_only_the_deadline_or_the_queue_keeps_the_canary_going(
    local_sqs: LocalSqs, sqs: Any
) -> None:
    """A reload changes ``deadline``, then ``queue`` (to one in the same account and
    region): what the tracker reads, which the reload applies. The canary sends as
    before, so the sender goes on at its pace: no new task, no SendEmail of the
    reload's (an email a reload)."""
    url, _ = await make_queue(sqs)
    other, _ = await make_queue(sqs)
    async with FakeSes() as ses, AsyncExitStack() as stack:
        first = canary_config(
            local_sqs,
            url,
            canary=f'endpoint_url = "{ses.url}"\n',
            queues=f'[[queues]]\nurl = "{other}"\nname = "q2"\nwait_time_seconds = 0\n',
        )
        assert first.canary is not None
        deadline = msgspec.structs.replace(first.canary, deadline=Duration("9m"))
        moved = msgspec.structs.replace(deadline, queue="q2")
        assert first.canary_sender() == msgspec.structs.replace(first, canary=moved).canary_sender()
        stopping = anyio.Event()
        runner = CanaryRunner(CanaryTracker(120.0, "q"), lambda: f.T0, lambda: None, stopping)
        clients = AwsClients(first, stack)
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tasks = _Tasks(tg)
                runner.start(first, clients, tasks)
                await ses.wait_for(lambda s: len(s.requests) == 1)
                sender = runner.sender
                for canary in (deadline, moved):
                    runner.start(msgspec.structs.replace(first, canary=canary), clients, tasks)
                    assert len(tasks.done) == 1
                    assert not tasks.done[0].is_set()
                stopping.set()
                await tasks.done[0].wait()
    assert runner.sender is sender
    assert len(ses.requests) == 1


async def test_a_reload_that_changes_what_the_canary_sends_keeps_its_schedule(
    local_sqs: LocalSqs, sqs: Any
) -> None:
    """Every 2 s, a canary; just after one, a reload changes the configuration set: a
    new sender sends the new one when the next canary was due, 2 s after the last, not
    at once (an extra email a reload, and a reload a second would send one a second).
    A reload that also lengthens the interval to 3 s puts the next one 3 s after the
    last: the schedule is the new interval's, counted from the last call."""
    url, _ = await make_queue(sqs)
    async with FakeSes() as ses, AsyncExitStack() as stack:
        endpoint = f'endpoint_url = "{ses.url}"\n'
        first = canary_config(local_sqs, url, canary=endpoint, interval="2s")
        assert first.canary is not None
        moved = msgspec.structs.replace(first.canary, configuration_set="sesd-b")
        slower = msgspec.structs.replace(moved, configuration_set="sesd-c", interval=Duration("3s"))
        stopping = anyio.Event()
        runner = CanaryRunner(CanaryTracker(120.0, "q"), lambda: f.T0, lambda: None, stopping)
        clients = AwsClients(first, stack)
        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                tasks = _Tasks(tg)
                runner.start(first, clients, tasks)
                await ses.wait_for(lambda s: len(s.requests) == 1)
                runner.start(msgspec.structs.replace(first, canary=moved), clients, tasks)
                await ses.wait_for(lambda s: len(s.requests) == 2)
                runner.start(msgspec.structs.replace(first, canary=slower), clients, tasks)
                await ses.wait_for(lambda s: len(s.requests) == 3)
                stopping.set()
    assert [r["ConfigurationSetName"] for r in ses.requests] == ["sesd", "sesd-b", "sesd-c"]
    # Read where the calls arrive: a gap is the interval, less at most what one call
    # took longer to arrive than the next (the first sets its client up); at once
    # would be milliseconds.
    gaps = [b - a for a, b in itertools.pairwise(ses.arrived)]
    assert gaps[0] >= 1.5
    assert gaps[1] >= 2.5


async def test_a_reload_that_moves_the_canary_to_another_queue_watches_that_queue(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """A reload moves ``[canary] queue`` from q to q2, in the same account and region:
    the sender goes on (no second email), and the canary's events are looked for on
    q2: its Delivery arriving there completes the canary in flight, and tells that the
    event pipeline into sesd is alive (the stage a missing canary points at)."""
    url, _ = await make_queue(sqs)
    other, _ = await make_queue(sqs)
    path = tmp_path / "sesd.toml"
    async with FakeSes() as ses:
        text = canary_text(
            local_sqs,
            url,
            canary=f'endpoint_url = "{ses.url}"\n',
            queues=f'[[queues]]\nurl = "{other}"\nname = "q2"\nwait_time_seconds = 0\n',
        )
        path.write_text(text)
        async with running(load_config(str(path)), config_path=path) as daemon:
            tracker = daemon.ledger.canary
            with anyio.fail_after(10):
                await daemon.changes.wait_for(lambda: tracker.sent_total == 1)
            sender = daemon.canary.sender
            path.write_text(text.replace('queue = "q"\n', 'queue = "q2"\n'))
            assert await daemon.reload()
            assert tracker.queue == "q2"
            (canary,) = tracker.canaries
            delivery = canary_event("delivery", canary.message_id, time.time())
            await send_bodies(sqs, other, [delivery])
            with anyio.fail_after(20):
                await daemon.changes.wait_for(lambda: canary.done_at is not None)
            assert tracker.last_event_at is not None
            assert daemon.canary.sender is sender
    assert len(ses.requests) == 1


@pytest.mark.usefixtures("no_aws_credentials")
async def test_a_canary_without_credentials_fails_as_auth_at_once(
    local_sqs: LocalSqs, sqs: Any
) -> None:
    """sesd finds no AWS credentials for the canary's account (none in the environment,
    files or instance metadata): its calls fail as ``auth`` (what to fix: credentials),
    each missing at once, not as a ``network`` fault that waits for the deadline."""
    from aiobotocore.session import AioSession

    url, _ = await make_queue(sqs)
    async with FakeSes() as fake:
        config = canary_config(local_sqs, url, canary=f'endpoint_url = "{fake.url}"\n')
        assert config.canary is not None
        tracker = CanaryTracker(120.0, "q")
        session = AioSession()
        async with session.create_client(
            "sesv2", region_name="us-east-1", endpoint_url=fake.url
        ) as ses:
            sender = CanarySender(config.canary, ses, tracker, clock=lambda: f.T0)
            with anyio.fail_after(10):
                await sender.send_once()
    assert fake.requests == []  # never signed, never sent
    assert tracker.errors == {"auth": 1}
    assert tracker.missing(f.T0 + 1) == list(tracker.canaries)


async def test_an_own_canary_s_event_before_ses_answers_the_call_is_not_a_namesake_s(
    local_sqs: LocalSqs, sqs: Any
) -> None:
    """SES takes the canary, and its Send event comes through SNS and SQS while the
    call's answer is still on its way (a slow answer, or one about to time out): its
    message id is not known yet. The event is this sesd's own, not that of another sesd
    with its name: the stage of a later missing canary is not made "unsure" by it."""
    url, _ = await make_queue(sqs)
    wall, mono = [f.T0], [1000.0]
    async with FakeSes() as fake, aws_client("sesv2", fake) as ses:
        config = canary_config(local_sqs, url)
        assert config.canary is not None
        daemon = Daemon(config, clock=lambda: wall[0], monotonic=lambda: mono[0])
        tracker = daemon.ledger.canary
        sender = CanarySender(config.canary, ses, tracker, clock=daemon.clock, instance="host-1")
        await sender.send_once()  # this process's first canary, an hour before
        wall[0] += 3600
        mono[0] += 3600
        fake.script(Reply(hold=True))
        async with anyio.create_task_group() as tg:
            tg.start_soon(sender.send_once)
            with anyio.fail_after(10):
                await fake.wait_for(lambda s: s.held == 1)
            early = decode_body(canary_event("send", "not-answered-yet", wall[0] + 1))
            daemon.pipeline.apply(early, "q", wall[0] + 2)
            fake.release()
    assert tracker.events == {"unmatched": 1}
    assert tracker.foreign_at is None


async def test_a_throttled_canary_says_the_account_reached_its_sending_limits() -> None:
    """SES answers 429 TooManyRequestsException when the account's maximum send rate or
    daily quota is reached: real mail is refused too. Once the throttled canary is past
    its deadline, the page says which limit to look at, not only "throttled"."""
    tracker = CanaryTracker(deadline=120.0, queue="q")
    config = parse_config(
        '[[queues]]\nurl = "http://127.0.0.1:1/123456789012/q"\n'
        f'[canary]\nfrom = "{FROM}"\nconfiguration_set = "sesd"\n'
    )
    assert config.canary is not None
    once = AioConfig(retries={"mode": "standard", "total_max_attempts": 1})  # as sesd's
    async with FakeSes() as ses, aws_client("sesv2", ses, once) as client:
        ses.script(Reply(429))
        sender = CanarySender(config.canary, client, tracker, clock=lambda: f.T0)
        with anyio.fail_after(10):
            await sender.send_once()
    assert tracker.errors == {"throttled": 1}
    assert tracker.stage("canary_missing", f.T0 + 121, 900) == (
        "API call (SendEmail failed: throttled: TooManyRequestsException, the account's "
        "maximum send rate or daily sending quota is reached (the canary counts against "
        "the rate): the account's own mail is refused too; see sesd_ses_quota_used_ratio "
        "and sesd_ses_max_send_rate, and ask AWS for more)"
    )


async def test_a_stop_during_the_canary_s_warm_up_ends_it_at_once() -> None:
    """The canary's first call, the warm-up's GetAccount, is held by SES (a slow
    endpoint, a role's credentials on their way) when sesd stops: the sender ends at
    once, sending nothing, not when ``send_timeout`` (10 s) cuts the warm-up off."""
    tracker = CanaryTracker(deadline=120.0, queue="q")
    config = parse_config(
        '[[queues]]\nurl = "http://127.0.0.1:1/123456789012/q"\n'
        f'[canary]\nfrom = "{FROM}"\nconfiguration_set = "sesd"\n'
    )
    assert config.canary is not None
    assert config.canary.call_timeout == 10.0
    stopping = anyio.Event()
    async with FakeSes() as ses, aws_client("sesv2", ses) as client:
        ses.account_gate = anyio.Event()  # GetAccount held
        sender = CanarySender(config.canary, client, tracker, clock=lambda: f.T0)
        ended = anyio.Event()

        async def run() -> None:
            await sender.run(stopping)
            ended.set()

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(run)
                with anyio.fail_after(10):
                    await ses.wait_for(lambda s: s.account_requests == 1)
                stopping.set()
                with anyio.fail_after(1):  # well inside send_timeout
                    await ended.wait()
        finally:
            ses.account_gate.set()
    assert ses.requests == []  # no SendEmail
    assert not tracker.canaries
    assert tracker.errors == {}
