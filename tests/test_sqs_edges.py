"""The SQS edge on its own, against moto's server: partial batch failures, redrive checks."""

from __future__ import annotations

import io
import itertools
import time
import uuid
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import msgspec
import pytest
from aiohttp import web

import sesd.runtime.sqs as sqs_module
import sesd.runtime.sqs_failures as failures_module
from sesd.commands.demo.localhttp import LocalServer
from sesd.config import Config, core_settings, load_config, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.tallies import Outcome
from sesd.io.backoff import backoff_delay
from sesd.metrics.registry import Metrics
from sesd.runtime.daemon import Daemon
from sesd.runtime.health import Changes, Health
from sesd.runtime.in_flight import InFlight
from sesd.runtime.sqs import QueuePoller
from sesd.runtime.sqs_calls import check_queue
from sesd.status.document import Status
from tests import factory as f
from tests.conftest import (
    aws_client,
    log_records,
    make_queue,
    queue_counts,
    running,
    send_bodies,
    sesd_logs,
)
from tests.proxy import Proxy

#: The SDK's pauses before its retries cut short: these tests count the retries and
#: read what they end in, not how long they waited (conftest.quick_sdk_retries).
pytestmark = pytest.mark.usefixtures("quick_sdk_retries")


def poller(
    sqs: Any,
    url: str,
    *,
    settings: str = "",
    clock: Callable[[], float] = lambda: 0.0,
    monotonic: Callable[[], float] = lambda: 0.0,
) -> tuple[QueuePoller, Metrics]:
    """A poller of queue ``q`` at ``url`` (``settings``: more of its keys, as TOML)."""
    config = parse_config(f'[[queues]]\nurl = "{url}"\nname = "q"\n{settings}')
    pipeline = Pipeline(core_settings(config))
    metrics = Metrics(pipeline.ledger, config.queues, clock)
    return (
        QueuePoller(
            sqs,
            config.queues[0],
            pipeline=pipeline,
            metrics=metrics,
            health=Health(["q"]),
            changes=Changes(),
            stopping=anyio.Event(),
            delete_invalid=False,
            clock=clock,
            monotonic=monotonic,
            in_flight=InFlight(),
        ),
        metrics,
    )


async def two_received(sqs: Any) -> tuple[str, list[Any]]:
    """A queue of two messages, both received: the URL and the two, to give back or
    delete with other credentials."""
    url, _ = await make_queue(sqs)
    await send_bodies(sqs, url, ["a", "b"])
    got = await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    messages: list[Any] = got["Messages"]
    assert len(messages) == 2
    return url, messages


async def test_partial_delete_failure_is_counted_and_the_rest_deleted(sqs: Any) -> None:
    """A batch whose delete fails for one entry (an expired or invalid receipt handle) deletes
    the others, counts the failure, and does not retry a sender fault."""
    logs = sesd_logs()
    url, _ = await make_queue(sqs)
    await send_bodies(sqs, url, ["a", "b"])
    messages = (await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10))["Messages"]
    assert len(messages) == 2
    stale: Any = {"MessageId": "gone", "ReceiptHandle": "expired-handle", "Body": "c"}
    p, metrics = poller(sqs, url)
    await p._deletes.delete([*messages, stale])
    assert await queue_counts(sqs, url) == (0, 0)
    errors = metrics.registry.get_sample_value(
        "sesd_sqs_errors_total",
        {"queue": "q", "account": "default", "region": "us-east-1", "operation": "delete"},
    )
    assert errors == 1
    records = log_records(logs)
    failed = [r for r in records if r["event"] == "sesd.sqs.delete_partly_failed"]
    assert len(failed) == 1
    assert failed[0]["codes"] == ["ReceiptHandleIsInvalid"]
    assert failed[0]["retrying"] == 0


async def test_queue_without_redrive_policy_is_warned_about(sqs: Any) -> None:
    """At start each queue without a RedrivePolicy gets a warning; one with a DLQ does not."""
    logs = sesd_logs()
    bare, _ = await make_queue(sqs, dlq=False)
    guarded, _ = await make_queue(sqs)
    config = parse_config(
        f'[[queues]]\nurl = "{bare}"\nname = "bare"\n[[queues]]\nurl = "{guarded}"\nname = "ok"\n'
    )
    assert await check_queue(sqs, config.queues[0], "default", "us-east-1") is False
    assert await check_queue(sqs, config.queues[1], "default", "us-east-1") is True
    records = log_records(logs)
    warned = [r["queue"] for r in records if r["event"] == "sesd.sqs.no_redrive_policy"]
    assert warned == ["bare"]


def test_backoff_grows_to_a_cap_with_full_jitter() -> None:
    """Delays double per attempt up to the cap; the draw scales them (full jitter)."""
    assert backoff_delay(0, rand=0.999) < 0.2
    assert backoff_delay(3, rand=1.0) == 1.6
    assert backoff_delay(50, rand=1.0) == 30.0
    assert backoff_delay(50, rand=0.0) == 0.0


async def test_a_queue_that_does_not_exist_is_an_error_named_once_and_retried_slowly(
    local_sqs: Any, sqs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One configured queue does not exist: sesd logs one error naming the queue, the
    region and a hint, /readyz fails naming it, and it is retried every minute, not
    every few seconds; the other queue is consumed as usual meanwhile."""
    # The good queue's empty answers are this test's clock: asked again at once.
    monkeypatch.setattr(sqs_module, "SHORT_POLL_PAUSE", 0.0)
    logs = sesd_logs()
    good, _ = await make_queue(sqs)
    missing = good.rsplit("/", 1)[0] + "/no-such-queue"
    config = parse_config(
        f'[aws]\nendpoint_url = "{local_sqs.url}"\nregion = "us-east-1"\n'
        f'[[queues]]\nurl = "{good}"\nname = "good"\nwait_time_seconds = 0\n'
        f'[[queues]]\nurl = "{missing}"\nname = "missing"\nwait_time_seconds = 0\n'
        '[http]\nlisten = "127.0.0.1:0"\n'
    )
    missing_errors = {
        "queue": "missing",
        "account": "default",
        "region": "us-east-1",
        "operation": "receive",
    }
    async with running(config) as daemon:
        registry = daemon.metrics.registry
        with anyio.fail_after(20):
            await daemon.changes.wait_for(
                lambda: bool(registry.get_sample_value("sesd_sqs_errors_total", missing_errors))
            )
        # Exponential backoff retries within 0.2 s of a failure (three times within
        # 1.4 s): two seconds later, with the good queue's empty answers (a 0 s wait)
        # showing the loop turned meanwhile, a second error would be counted. Time
        # and answers both: on a loaded machine two seconds may hold few answers.
        failed_at = anyio.current_time()
        receives = 0

        def two_seconds_on() -> bool:
            nonlocal receives
            receives += 1
            return receives > 40 and anyio.current_time() - failed_at > 2.0

        with anyio.fail_after(20):
            await daemon.changes.wait_for(two_seconds_on)
        errors = registry.get_sample_value("sesd_sqs_errors_total", missing_errors)
        readyz = f"http://127.0.0.1:{daemon.http_port}/readyz"
        async with aiohttp.ClientSession() as http, http.get(readyz) as response:
            status, text = response.status, await response.text()
    assert errors == 1
    assert status == 503
    assert "missing" in text
    assert "good" not in text
    records = log_records(logs)
    unusable = [r for r in records if r["event"] == "sesd.sqs.queue_unusable"]
    assert len(unusable) == 1
    (record,) = unusable
    assert record["level"] == "error"
    assert record["queue"] == "missing"
    assert record["region"] == "us-east-1"
    assert record["account"] == "default"
    assert record["url"] == missing
    assert "region" in record["hint"]
    assert not [r for r in records if r["event"] == "sesd.sqs.receive_failed"]


class ForbiddingSqs(LocalServer):
    """An SQS endpoint whose every call is refused with ``code``: denied, as for
    credentials the queue's policy does not admit, unless told otherwise (the JSON
    protocol's error shape, which botocore parses)."""

    def __init__(self, code: str = "AccessDenied") -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"
        self.calls = 0
        self.code = code

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/", self._deny)

    async def _deny(self, request: web.Request) -> web.Response:
        self.calls += 1
        body = {"__type": "com.amazon.coral.service#AccessDeniedException", "message": "denied"}
        return web.json_response(
            body,
            status=400,
            headers={"x-amzn-query-error": f"{self.code};Sender"},
            content_type="application/x-amz-json-1.0",
        )


def stand_in_config(url: str, monkeypatch: pytest.MonkeyPatch) -> Config:
    """A daemon reading queue ``q`` at a local stand-in for SQS (``url``), with keys for
    the SDK to sign with."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return parse_config(
        f'[aws]\nendpoint_url = "{url}"\nregion = "us-east-1"\n'
        f'[[queues]]\nurl = "{url}/123456789012/q"\nname = "q"\n'
        'wait_time_seconds = 0\n[http]\nlisten = "127.0.0.1:0"\n'
    )


#: What GarbageSqs answers its fourth to seventh receives with, under SQS's JSON type: a
#: body nested thousands deep (the SDK's loader raises RecursionError), one that is no
#: JSON (a proxy's error text, which the SDK reads as no messages), a huge one so, and
#: a proxy's JSON error page (an object without ``Messages``: read as none, too).
_UNREADABLE = (
    b'{"Messages": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
    b"Service Unavailable",
    b"x" * 2_000_000,
    b'{"message": "Forbidden"}',
)


class GarbageSqs(LocalServer):
    """An endpoint that answers SQS's calls with 200 and something else: ``[]`` to the
    first two receives (a misrouted stand-in), an HTML page to the third (a captive
    proxy), then :data:`_UNREADABLE`, then one message without a receipt handle beside
    one with, then nothing. Records the deletes."""

    def __init__(self) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"
        self.receives = 0
        self.deleted: list[str] = []

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/", self._answer)

    async def _answer(self, request: web.Request) -> web.Response:
        operation = request.headers.get("X-Amz-Target", "").rpartition(".")[2]
        answer: Any = {}
        if operation == "ReceiveMessage":
            self.receives += 1
            if self.receives == 3:  # a captive proxy's page: the SDK reads it as nothing
                return web.Response(text="<html>Log in</html>", content_type="text/html")
            if self.receives <= 3:
                answer = []
            elif self.receives <= 3 + len(_UNREADABLE):
                unreadable = _UNREADABLE[self.receives - 4]
                return web.Response(body=unreadable, content_type="application/x-amz-json-1.0")
            elif self.receives == 4 + len(_UNREADABLE):
                body = f.raw(f.delivery(["a@one.example"]))
                handled = {"MessageId": "m", "ReceiptHandle": "r", "Body": body}
                answer = {"Messages": [{"MessageId": "no-handle", "Body": body}, handled]}
        elif operation == "DeleteMessageBatch":
            entries = (await request.json())["Entries"]
            self.deleted += [e["ReceiptHandle"] for e in entries]
            answer = {"Successful": [{"Id": e["Id"]} for e in entries], "Failed": []}
        return web.json_response(answer, content_type="application/x-amz-json-1.0")


async def test_an_answer_that_is_not_sqs_is_a_failed_receive_not_a_dead_daemon(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Receives answered with something SQS never sends make the SDK's parser raise, or
    its loader fail (nested too deeply, not JSON): each is a failed receive (counted,
    logged with the answer's start, retried with backoff), not the poller's end, and the
    daemon reads the messages that come next; one without a receipt handle is counted
    and never sent to DeleteMessageBatch."""
    monkeypatch.setattr(failures_module, "backoff_delay", lambda *_, **__: 0.0)
    logs = sesd_logs()
    async with GarbageSqs() as garbage:
        config = stand_in_config(garbage.url, monkeypatch)
        async with running(config) as daemon:
            with anyio.fail_after(20):
                await daemon.changes.wait_for(lambda: bool(garbage.deleted))
            messages = dict(daemon.ledger.tallies.messages)
            samples = daemon.metrics.registry.get_sample_value
            poller_failures = samples("sesd_task_failures_total", {"task": "poller"})
            receive_errors = samples(
                "sesd_sqs_errors_total",
                {"queue": "q", "account": "default", "region": "us-east-1",
                 "operation": "receive"},
            )  # fmt: skip
    assert garbage.deleted == ["r"]
    # The same event twice: counted once, then a duplicate.
    assert messages == {("q", Outcome.PROCESSED): 1, ("q", Outcome.DUPLICATE): 1}
    assert (poller_failures, receive_errors) == (0.0, 7.0)
    records = log_records(logs)
    failed = [r for r in records if r["event"] == "sesd.sqs.receive_failed"]
    assert [r["consecutive"] for r in failed] == [1, 2, 3, 4, 5, 6, 7]
    assert [r["error"] for r in failed[3:]] == [
        "UnreadableAnswer: an answer nested too deeply, not SQS's: "
        + repr('{"Messages": ' + "[" * 47 + "..."),
        "UnreadableAnswer: an answer that is not JSON, not SQS's: 'Service Unavailable'",
        "UnreadableAnswer: an answer that is not JSON, not SQS's: " + repr("x" * 60 + "..."),
        "UnreadableAnswer: an answer without a receive's members, not SQS's: "
        + repr('{"message": "Forbidden"}'),
    ]
    assert {r["error"].partition(":")[0] for r in failed[:2]} <= {"AttributeError", "TypeError"}
    assert (
        failed[2]["error"]
        == "ValueError: an answer of type 'text/html; charset=utf-8', not SQS's JSON"
    )


#: How each refusal no retry cures is named: its code, and words of its hint.
_REFUSALS = {
    "forbidden": ("AccessDenied", "sqs:ReceiveMessage"),
    "kms_disabled": ("KMS.DisabledException", "enable it, cancel its deletion"),
    "kms_gone": ("KmsNotFound", "give the queue another key"),
    "kms_opt_in": ("KMS.OptInRequired", "has not subscribed to KMS"),
    "expired_token": ("ExpiredToken", "session token has expired"),
    "wrong_secret": ("SignatureDoesNotMatch", "secret access key does not match"),
    # SQS's answer when the endpoint called does not serve the queue URL's address.
    "wrong_endpoint": ("InvalidAddress", "does not serve this queue URL"),
}


async def _failing_five_times(daemon: Daemon, queue: str) -> None:
    """Wait for five failed receives on ``queue``: then it is failing, so its alerts
    resolve nothing meanwhile."""

    def errors() -> float:
        value = daemon.metrics.registry.get_sample_value(
            "sesd_sqs_errors_total",
            {"queue": queue, "account": "default", "region": "us-east-1",
             "operation": "receive"},
        )  # fmt: skip
        return value or 0.0

    with anyio.fail_after(20):
        await daemon.changes.wait_for(lambda: errors() >= 5)
    assert daemon.health.failing == {queue}


def _unusable_once_then_debug(logs: io.StringIO, queue: str) -> dict[str, Any]:
    """The one error line naming ``queue`` unusable, having checked that every later
    try was logged at debug level only (and none as a passing failure)."""
    records: list[dict[str, Any]] = log_records(logs)
    unusable = [r for r in records if r["event"] == "sesd.sqs.queue_unusable"]
    assert len(unusable) == 1
    assert unusable[0]["level"] == "error"
    assert unusable[0]["queue"] == queue
    still = [r for r in records if r["event"] == "sesd.sqs.still_unusable"]
    assert len(still) >= 4
    assert {r["level"] for r in still} == {"debug"}
    assert not [r for r in records if r["event"] == "sesd.sqs.receive_failed"]
    return unusable[0]


@pytest.mark.parametrize("kind", ["missing", *_REFUSALS])
async def test_a_queue_that_stays_unusable_is_an_error_once_over_many_retries(
    kind: str, local_sqs: Any, sqs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A queue that does not exist, or may not be read (denied, its KMS key disabled
    or deleted, the credentials expired or wrong), stays so over five retry periods
    (shortened here from a minute): one error names it with its hint; every later try
    is counted, and logged at debug level only."""
    monkeypatch.setattr(failures_module, "PERMANENT_RETRY", 0.01)
    logs = sesd_logs()
    code, hint = _REFUSALS.get(kind, ("", "region"))
    async with ForbiddingSqs(code) as forbidding:
        endpoint = local_sqs.url if kind == "missing" else forbidding.url
        url = f"{local_sqs.url}/123456789012/no-such-queue-{kind}"
        config = parse_config(
            f'[aws]\nendpoint_url = "{endpoint}"\nregion = "us-east-1"\n'
            f'[[queues]]\nurl = "{url}"\nname = "{kind}"\nwait_time_seconds = 0\n'
            '[http]\nlisten = "127.0.0.1:0"\n'
        )
        async with running(config) as daemon:
            await _failing_five_times(daemon, kind)
    unusable = _unusable_once_then_debug(logs, kind)
    assert hint in unusable["hint"]


@pytest.mark.usefixtures("no_aws_credentials")
async def test_no_credentials_at_all_is_an_error_once_with_where_sesd_looks(
    local_sqs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first run with no AWS credentials anywhere: the SDK raises before any call,
    with no AWS error code. It is treated as a bad key is: one error naming where
    credentials come from, then the slow retries at debug level, and the queue failing."""
    monkeypatch.setattr(failures_module, "PERMANENT_RETRY", 0.01)
    logs = sesd_logs()
    config = parse_config(
        f'[aws]\nendpoint_url = "{local_sqs.url}"\nregion = "us-east-1"\n'
        f'[[queues]]\nurl = "{local_sqs.url}/123456789012/q"\nname = "q"\n'
        'wait_time_seconds = 0\n[http]\nlisten = "127.0.0.1:0"\n'
    )
    async with running(config) as daemon:
        await _failing_five_times(daemon, "q")
    unusable = _unusable_once_then_debug(logs, "q")
    assert unusable["error"] == "NoCredentialsError: Unable to locate credentials"
    assert "AWS_ACCESS_KEY_ID" in unusable["hint"]
    assert "[aws] access_key_id" in unusable["hint"]
    records = log_records(logs)
    still = [r for r in records if r["event"] == "sesd.sqs.still_unusable"]
    assert {r["error"] for r in still} == {"NoCredentialsError"}
    sqs_warnings = [r for r in records if r["event"].startswith("sesd.sqs.")]
    assert not [r for r in sqs_warnings if r["level"] == "warning"]


def _sqs_errors(poller: QueuePoller, operation: str) -> float | None:
    """What ``sesd_sqs_errors_total`` counts of ``operation`` on poller's queue ``q``."""
    labels = {"queue": "q", "account": "default", "region": "us-east-1"}
    return poller._metrics.registry.get_sample_value(
        "sesd_sqs_errors_total", {**labels, "operation": operation}
    )


async def _received_through(
    proxy: Proxy, sqs: Any, in_flight: InFlight
) -> tuple[QueuePoller, Any, list[Any], str, AsyncExitStack]:
    """Three messages received through ``proxy`` by a poller bound by ``in_flight``."""
    url, _ = await make_queue(sqs, visibility=300)
    await send_bodies(sqs, url, [f.raw(f.delivery([f"u{i}@one.example"])) for i in range(3)])
    stack = AsyncExitStack()
    client = await stack.enter_async_context(aws_client("sqs", proxy))
    config = parse_config(
        f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 1\nmax_messages = 10\n'
    )
    pipeline = Pipeline(core_settings(config))
    poller = QueuePoller(
        client, config.queues[0], pipeline=pipeline,
        metrics=Metrics(pipeline.ledger, config.queues, lambda: 0.0), health=Health(["q"]),
        changes=Changes(), stopping=anyio.Event(), delete_invalid=False,
        clock=lambda: f.T0, monotonic=lambda: 0.0, in_flight=in_flight,
    )  # fmt: skip
    messages: list[Any] = []
    with anyio.fail_after(10):
        while len(messages) < 3:
            messages += await poller._receive() or []
    return poller, pipeline, messages, url, stack


async def test_a_delete_cut_off_at_the_end_of_the_grace_period_is_logged(
    local_sqs: Any, sqs: Any
) -> None:
    """The grace period is over and the network stalls while the handled messages are
    being deleted: the delete is cut off after the margin, and a warning says how many
    were counted but not deleted (they come back after their visibility timeout)."""
    logs = sesd_logs()
    in_flight = InFlight(margin=0.2)
    async with Proxy(int(local_sqs.url.rsplit(":", 1)[1])) as proxy:
        poller, pipeline, messages, url, stack = await _received_through(proxy, sqs, in_flight)
        async with stack:
            in_flight.end_by(anyio.current_time())
            proxy.stall()
            with anyio.fail_after(5):
                await poller._handle(messages)
            proxy.restore()
    assert pipeline.ledger.tallies.messages[("q", "processed")] == 3
    assert _sqs_errors(poller, "delete") == 1  # a failed delete, as the SDK's give-up is
    records = log_records(logs)
    (cut,) = [r for r in records if r["event"] == "sesd.sqs.delete_cut_off"]
    assert (cut["count"], cut["level"], cut["queue"]) == (3, "warning", "q")
    assert await queue_counts(sqs, url) == (0, 3)


async def test_a_release_after_the_grace_period_has_a_budget_of_its_own(
    local_sqs: Any, sqs: Any
) -> None:
    """A receive comes back long after the grace period ended and its handling is
    cancelled: the messages are still released (visible again at once), on a budget
    counted from the release's start. When the network stalls then, the cut-off
    release is logged with its count."""
    logs = sesd_logs()
    async with Proxy(int(local_sqs.url.rsplit(":", 1)[1])) as proxy:
        for stalled in (False, True):
            in_flight = InFlight(margin=0.5)
            poller, _, messages, url, stack = await _received_through(proxy, sqs, in_flight)
            async with stack:
                in_flight.end_by(anyio.current_time() - 60)
                if stalled:
                    proxy.stall()
                with anyio.fail_after(5), anyio.CancelScope() as scope:
                    scope.cancel()
                    await poller._handle(messages)
                proxy.restore()
            assert await queue_counts(sqs, url) == ((0, 3) if stalled else (3, 0))
            assert _sqs_errors(poller, "release") == (1 if stalled else 0)
    records = log_records(logs)
    assert [r["count"] for r in records if r["event"] == "sesd.sqs.released"] == [3]
    (cut,) = [r for r in records if r["event"] == "sesd.sqs.release_cut_off"]
    assert (cut["count"], cut["level"]) == (3, "warning")


async def test_an_sqs_that_does_not_answer_does_not_hold_up_the_start(
    local_sqs: Any, sqs: Any
) -> None:
    """SQS accepts connections and answers nothing (a stalled network): sesd still
    starts at once (HTTP bound, background tasks running; under systemd, READY=1), well
    inside systemd's start timeout; the queue check that would have waited for SQS runs
    beside it."""
    url, _ = await make_queue(sqs)
    async with Proxy(local_sqs.port) as proxy:
        proxy.stall()
        config = parse_config(
            f'[aws]\nendpoint_url = "{proxy.url}"\nregion = "us-east-1"\n'
            f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 0\n'
            '[http]\nlisten = "127.0.0.1:0"\n[shutdown]\ngrace_period = "1s"\n'
        )
        with anyio.fail_after(5):
            async with running(config) as daemon:
                assert daemon.http_port


async def test_deletes_refused_for_good_are_an_error_once_with_what_they_cost(sqs: Any) -> None:
    """Without sqs:DeleteMessage every message comes back after its visibility timeout
    and, with a redrive policy, ends in the dead-letter queue: the first refusal is an
    error naming the permission (not retried), later ones debug lines, each counted; a
    delete that works again says so."""
    logs = sesd_logs()
    url, _ = await make_queue(sqs)
    await send_bodies(sqs, url, ["a", "b"])
    messages = (await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10))["Messages"]
    async with ForbiddingSqs() as forbidding, aws_client("sqs", forbidding) as denied:
        p, metrics = poller(denied, url)
        await p._deletes.delete(messages)
        await p._deletes.delete(messages)
        assert forbidding.calls == 2  # no retry of a refusal
    errors = metrics.registry.get_sample_value(
        "sesd_sqs_errors_total",
        {"queue": "q", "account": "default", "region": "us-east-1", "operation": "delete"},
    )
    assert errors == 2
    p._deletes._client = sqs  # allowed to delete again
    await p._deletes.delete(messages)
    assert await queue_counts(sqs, url) == (0, 0)
    records = log_records(logs)
    said = [(r["event"], r["level"]) for r in records if r["event"].startswith("sesd.sqs.del")]
    assert said == [
        ("sesd.sqs.delete_refused", "error"),
        ("sesd.sqs.delete_refused", "debug"),
        ("sesd.sqs.delete_recovered", "info"),
    ]
    (first, *_) = [r for r in records if r["event"] == "sesd.sqs.delete_refused"]
    assert "grant sqs:DeleteMessage" in first["hint"]
    assert "dead-letter queue" in first["hint"]


async def test_a_queue_whose_attributes_may_not_be_read_says_which_permission(
    sqs: Any,
) -> None:
    """Receives may work without sqs:GetQueueAttributes, so nothing else would say it is
    missing (nor can the redrive policy be checked): a warning names it."""
    logs = sesd_logs()
    config = parse_config('[[queues]]\nurl = "http://127.0.0.1:9/123456789012/q"\nname = "q"\n')
    async with ForbiddingSqs() as forbidding, aws_client("sqs", forbidding) as denied:
        assert await check_queue(denied, config.queues[0], "default", "us-east-1") is False
    records = log_records(logs)
    (failed,) = [r for r in records if r["event"] == "sesd.sqs.attributes_failed"]
    assert failed["level"] == "warning"
    assert "grant sqs:GetQueueAttributes" in failed["hint"]


def test_a_queue_counts_as_failing_after_three_passing_troubles_in_a_row(sqs: Any) -> None:
    """One or two failed receives are a blip (a throttle, the network); a third in a
    row makes the queue failing until a receive succeeds."""
    from botocore.exceptions import ClientError

    p, _ = poller(sqs, "http://127.0.0.1:9/123456789012/q")
    throttled = ClientError({"Error": {"Code": "RequestThrottled"}}, "ReceiveMessage")
    p._failures.failed(throttled, in_force=True)
    p._failures.failed(throttled, in_force=True)
    assert not p._health.failing
    p._failures.failed(throttled, in_force=True)
    assert p._health.failing == {"q"}
    p._health.received("q", 0.0)
    assert not p._health.failing


async def test_a_receive_that_times_out_makes_the_queue_failing_at_once(
    local_sqs: Any,
) -> None:
    """A stalled SQS fails a receive only after the read timeout (30 s): three in a row
    would outlast a 1m or 5m window, whose alerts would then resolve as empty mid-outage.
    A receive that got no answer in time makes the queue failing at once (unread: no
    alert resolves on an empty window)."""
    from aiobotocore.config import AioConfig

    url = f"{local_sqs.url}/123456789012/q"
    async with Proxy(int(local_sqs.url.rpartition(":")[2])) as proxy:
        proxy.stall()
        quick = AioConfig(read_timeout=1, retries={"mode": "standard", "total_max_attempts": 1})
        async with aws_client("sqs", proxy, quick) as stalled:
            p, _ = poller(stalled, url.replace(local_sqs.url, proxy.url))
            with anyio.fail_after(10):
                assert await p._receive() is None
    assert p._health.failing == {"q"}


class FlakySqs(LocalServer):
    """An endpoint whose first receive and first delete answer 500, as AWS does in a bad
    minute: then one message, and nothing. Counts the calls of each operation."""

    def __init__(self) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"
        self.calls: dict[str, int] = {}

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/", self._answer)

    async def _answer(self, request: web.Request) -> web.Response:
        operation = request.headers.get("X-Amz-Target", "").rpartition(".")[2]
        n = self.calls[operation] = self.calls.get(operation, 0) + 1
        if n == 1 and operation in ("ReceiveMessage", "DeleteMessageBatch"):
            error = {"__type": "InternalError", "message": "We encountered an internal error."}
            return web.json_response(error, status=500, content_type="application/x-amz-json-1.0")
        answer: Any = {}
        if operation == "ReceiveMessage" and n == 2:
            body = f.raw(f.delivery(["a@one.example"]))
            answer = {"Messages": [{"MessageId": "m", "ReceiptHandle": "r", "Body": body}]}
        elif operation == "DeleteMessageBatch":
            entries = (await request.json())["Entries"]
            answer = {"Successful": [{"Id": e["Id"]} for e in entries], "Failed": []}
        return web.json_response(answer, content_type="application/x-amz-json-1.0")


async def test_a_failed_receive_is_not_retried_by_the_sdk_a_failed_delete_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SQS hands out a batch when it answers, whether or not the answer arrives: each
    SDK retry of a receive whose answer was lost took ten more messages a step nearer
    the dead-letter queue. A failed receive is one call, retried by the poller (logged,
    counted); a delete, which takes nothing, is still retried by the SDK."""
    monkeypatch.setattr(failures_module, "backoff_delay", lambda *_, **__: 0.0)
    async with FlakySqs() as flaky:
        config = stand_in_config(flaky.url, monkeypatch)
        async with running(config) as daemon:
            with anyio.fail_after(20):
                await daemon.changes.wait_for(lambda: flaky.calls.get("DeleteMessageBatch", 0) == 2)
            errors = daemon.metrics.registry.get_sample_value(
                "sesd_sqs_errors_total",
                {"queue": "q", "account": "default", "region": "us-east-1", "operation": "receive"},
            )
            messages = dict(daemon.ledger.tallies.messages)
    # The receive's 500 reached the poller (an SDK retry would have taken the message
    # and hidden it); the poller's own retry brought the message.
    assert errors == 1.0
    assert messages == {("q", Outcome.PROCESSED): 1}
    assert flaky.calls["DeleteMessageBatch"] == 2  # the 500, then the SDK's retry


async def test_a_delete_the_sdks_retry_got_past_is_counted_as_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A throttle or a 500 that the SDK's own retry got past leaves no failed call: an
    SQS refusing every other delete would show nowhere. Each retry is counted under its
    queue and operation, and the call it got past is not an error."""
    monkeypatch.setattr(failures_module, "backoff_delay", lambda *_, **__: 0.0)
    labels = {"queue": "q", "account": "default", "region": "us-east-1"}
    async with FlakySqs() as flaky:
        config = stand_in_config(flaky.url, monkeypatch)
        async with running(config) as daemon:

            def sample(name: str, operation: str) -> float | None:
                registry = daemon.metrics.registry
                return registry.get_sample_value(name, {**labels, "operation": operation})

            with anyio.fail_after(20):
                await daemon.changes.wait_for(
                    lambda: sample("sesd_sqs_retries_total", "delete") == 1.0
                )
            assert sample("sesd_sqs_errors_total", "delete") == 0.0
            # Nothing was released, and a receive is never retried by the SDK.
            assert sample("sesd_sqs_retries_total", "release") == 0.0
            assert sample("sesd_sqs_retries_total", "receive") is None


class ThrottledDeletes(LocalServer):
    """An endpoint that hands out a new message at each of the first four receives and
    refuses the first six DeleteMessageBatch calls (three batches, each tried twice),
    then takes them. The refusal is one the SDK does not retry, as a throttle is once
    the SDK's own retries are spent (they would only slow the test)."""

    def __init__(self) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"
        self.receives = 0
        self.deletes = 0

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/", self._answer)

    async def _answer(self, request: web.Request) -> web.Response:
        operation = request.headers.get("X-Amz-Target", "").rpartition(".")[2]
        kind = "application/x-amz-json-1.0"
        answer: Any = {}
        if operation == "ReceiveMessage":
            self.receives += 1
            if self.receives <= 4:
                body = f.raw(f.delivery([f"a{self.receives}@one.example"]))
                message = {"MessageId": f"m{self.receives}", "ReceiptHandle": "r", "Body": body}
                answer = {"Messages": [message]}
        elif operation == "DeleteMessageBatch":
            self.deletes += 1
            if self.deletes <= 6:
                error = {"__type": "InternalError", "message": "try again"}
                return web.json_response(error, status=400, content_type=kind)
            entries = (await request.json())["Entries"]
            answer = {"Successful": [{"Id": e["Id"]} for e in entries], "Failed": []}
        return web.json_response(answer, content_type=kind)


async def test_deletes_that_keep_failing_are_logged_once_a_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DeleteMessageBatch failing (throttled past the SDK's retries): sesd warns when
    the run begins, not once a batch (thousands a minute at a busy sender), and says
    how long it lasted when deletes work again. The poller reads on at its pace
    (slowing it would empty short windows and resolve their alerts mid-incident)."""
    logs = sesd_logs()
    async with ThrottledDeletes() as throttled:
        config = stand_in_config(throttled.url, monkeypatch)
        async with running(config) as daemon:
            with anyio.fail_after(20):
                await daemon.changes.wait_for(lambda: throttled.deletes >= 7)
    records = log_records(logs)
    failed = [r for r in records if r["event"] == "sesd.sqs.delete_failed"]
    assert [r["level"] for r in failed] == ["warning", "warning"] + ["debug"] * 4
    (recovered,) = [r for r in records if r["event"] == "sesd.sqs.deletes_recovered"]
    assert recovered["after_batches"] == 3


async def test_a_host_clock_off_from_aws_is_measured_and_said(sqs: Any) -> None:
    """Events count at their time on this host's clock: an hour ahead, every event
    reads an hour late and counts in no window, which looks like a backlog. Each SQS
    answer's Date header (AWS's clock, to the second) measures the offset: a gauge,
    a warning when it goes past 30 s, a line when it is back."""
    import time

    logs = sesd_logs()
    url, _ = await make_queue(sqs)
    ahead = [3600.0]
    config = parse_config(f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 0\n')
    pipeline = Pipeline(core_settings(config))
    metrics = Metrics(pipeline.ledger, config.queues, time.time)
    health = Health(["q"])
    p = QueuePoller(
        sqs,
        config.queues[0],
        pipeline=pipeline,
        metrics=metrics,
        health=health,
        changes=Changes(),
        stopping=anyio.Event(),
        delete_invalid=False,
        clock=lambda: time.time() + ahead[0],
        monotonic=time.monotonic,
        in_flight=InFlight(),
    )
    assert await p._receive() == []
    offset = metrics.registry.get_sample_value("sesd_clock_offset_seconds")
    assert offset is not None
    assert 3598 < offset < 3602
    assert health.clock_offset == offset
    assert await p._receive() == []  # still off: said once
    ahead[0] = 0.0
    p._date = None  # as an answer of the next second (one Date a second is compared)
    assert await p._receive() == []
    assert abs(health.clock_offset) < 2
    events = log_records(logs)
    said: list[tuple[str, Any]] = [
        (e["event"], e.get("offset_seconds")) for e in events if e["event"].startswith("sesd.clock")
    ]
    assert [event for event, _ in said] == ["sesd.clock.off", "sesd.clock.on_time"]
    assert 3598 <= said[0][1] <= 3602


@pytest.mark.parametrize("costly", [True, False], ids=["costly", "cheap"])
async def test_other_tasks_run_between_two_costly_messages_and_a_stop_waits_for_the_batch(
    sqs: Any, costly: bool
) -> None:
    """The ten messages of a batch are handled in order, the event loop's other tasks
    (health, the watchdog's ping) running whenever the batch has held the loop for
    ``HOLD``: ten costly messages (a second each, by the poller's monotonic clock) are
    ten short stalls, not one as long as all ten. A task taking every turn it gets sees
    the count of handled messages rise one by one, not jump from 0 to 10. Asked to stop
    at the fifth, the poller still handles and deletes all ten (one handled but not
    deleted would come back and count as a duplicate); the stop is taken after. Ten
    cheap ones (the clock not moving) hold the loop once, together: the task never sees
    a count between 0 and 10 (a turn for each would cost more than the message)."""
    url, _ = await make_queue(sqs)
    await send_bodies(sqs, url, [f.raw(f.delivery([f"u{i}@one.example"])) for i in range(10)])
    seconds = itertools.count()
    p, _ = poller(sqs, url, monotonic=(lambda: float(next(seconds))) if costly else lambda: 0.0)
    messages: list[Any] = []
    with anyio.fail_after(10):
        while len(messages) < 10:
            got = await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
            messages += got.get("Messages", [])
    tallies = p._pipeline.ledger.tallies
    seen: list[int] = []
    handling = anyio.CancelScope()
    handled = anyio.Event()

    async def watch() -> None:
        while not handled.is_set() and (not seen or seen[-1] < 10):
            seen.append(tallies.messages.get(("q", Outcome.PROCESSED), 0))
            if seen[-1] == 5:
                handling.cancel()
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        tg.start_soon(watch)
        with handling:
            await p._handle(messages)
        handled.set()
    if costly:
        assert sorted(set(seen)) == list(range(11))
    else:
        assert set(seen) <= {0, 10}
        assert seen[-1] == 10
    assert handling.cancel_called is costly
    assert tallies.messages == {("q", Outcome.PROCESSED): 10}
    assert await queue_counts(sqs, url) == (0, 0)


async def test_a_queue_deleted_while_read_is_not_ready_from_that_receive_until_it_is_back(
    local_sqs: Any, sqs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A queue that answered, then is deleted: from the receive that finds it unusable,
    /readyz, ``sesd_queue_ready`` and the status page all call it not ready (not a
    minute later, when its last good receive grows old); created again, it is ready
    again at its next try (the minute between tries shortened here)."""
    monkeypatch.setattr(failures_module, "PERMANENT_RETRY", 0.05)
    url, _ = await make_queue(sqs)
    name = url.rsplit("/", 1)[1]
    config = parse_config(
        f'[aws]\nendpoint_url = "{local_sqs.url}"\nregion = "us-east-1"\n'
        f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 0\n'
        '[http]\nlisten = "127.0.0.1:0"\n'
    )
    async with running(config) as daemon, aiohttp.ClientSession() as http:
        base = f"http://127.0.0.1:{daemon.http_port}"

        async def answers() -> tuple[int, float | None, bool, list[str]]:
            async with http.get(base + "/readyz") as response:
                status = response.status
            async with http.get(base + "/api/v1/status") as response:
                doc = msgspec.json.decode(await response.read(), type=Status)
            ready = daemon.metrics.registry.get_sample_value("sesd_queue_ready", {"queue": "q"})
            return status, ready, doc.queues[0].ready, doc.sesd.not_ready

        with anyio.fail_after(20):
            await daemon.changes.wait_for(lambda: "q" in daemon.health.last_receive)
        assert await answers() == (200, 1.0, True, [])
        await sqs.delete_queue(QueueUrl=url)
        with anyio.fail_after(20):
            await daemon.changes.wait_for(lambda: "q" in daemon.health.failing)
        assert await answers() == (503, 0.0, False, ["q"])
        await sqs.create_queue(QueueName=name)
        with anyio.fail_after(20):
            await daemon.changes.wait_for(lambda: not daemon.health.failing)
        assert await answers() == (200, 1.0, True, [])


async def test_a_failing_queue_a_reload_removes_is_failing_no_more(
    local_sqs: Any, sqs: Any, tmp_path: Path
) -> None:
    """A queue deleted while read is failing (its alerts' resolves held); removed from
    the config by a reload, it no longer is: nothing holds them, /readyz is ready."""
    url, _ = await make_queue(sqs)
    gone, _ = await make_queue(sqs)
    text = (
        f'[aws]\nendpoint_url = "{local_sqs.url}"\nregion = "us-east-1"\n'
        f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 0\n'
        '[http]\nlisten = "127.0.0.1:0"\n'
    )
    path = tmp_path / "sesd.toml"
    path.write_text(text + f'[[queues]]\nurl = "{gone}"\nname = "gone"\nwait_time_seconds = 0\n')
    async with running(load_config(str(path)), config_path=path) as daemon:
        with anyio.fail_after(20):
            await daemon.changes.wait_for(lambda: "q" in daemon.health.last_receive)
        await sqs.delete_queue(QueueUrl=gone)
        with anyio.fail_after(20):
            await daemon.changes.wait_for(lambda: "gone" in daemon.health.failing)
        assert daemon.alerting.unread() == ["gone"]
        path.write_text(text)
        assert await daemon.reload()
        assert daemon.alerting.unread() == []
        assert daemon.health.ready(time.monotonic()) == (True, [])


#: Each queue of the story below: its ``wait_time_seconds``, whether it is FIFO, whether
#: a reload moved it (the poller reads its old place), and how far behind sesd reads it
#: after its empty receive and after the old event alone after that.
_EMPTY_RECEIVES = {
    # A short poll asks a sample of SQS's servers: empty while a backlog waits.
    "short-poll": (0, False, False, 901.0, 902.0),
    # A FIFO queue's long poll: empty while a message group is held back.
    "fifo-long-poll": (1, True, False, 901.0, 902.0),
    # A standard queue's long poll asks every server: empty, nothing waits. The old
    # event alone after it is a straggler, as one at a trickle.
    "standard-long-poll": (1, False, False, 0.0, 0.0),
    # The same at the old place of a queue a reload moved: says nothing of the new.
    "moved-queue-old-place": (1, False, True, 901.0, 902.0),
}


async def test_how_far_behind_is_judged_on_what_a_receive_brings(sqs: Any) -> None:
    """SQS keeps no order: five current deliveries and, last, one made 15 minutes ago,
    in one receive, are current mail (the lag gauge reads the freshest's), and so is
    the next receive bringing one such alone; receives of old events only, one after
    the other, are a backlog. The poller's empty receive then: a short poll's, or a
    FIFO queue's long poll's, says nothing (the backlog stays one); a standard queue's
    long poll's says the backlog drained, and sesd reads 0 s behind (before, it read
    901 s behind for five minutes, holding every resolve meanwhile), unless it is the
    old place of a queue a reload moved. Each queue of :data:`_EMPTY_RECEIVES` is told
    the same story, their empty receives made together: one long poll's wait for all."""
    now = float(int(time.time()))  # SES's times are to the millisecond
    queues: dict[str, tuple[str, QueuePoller, Metrics]] = {}
    for case, (wait, fifo, _, _, _) in _EMPTY_RECEIVES.items():
        if fifo:
            name = f"q-{uuid.uuid4().hex[:10]}.fifo"
            attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "true"}
            url = (await sqs.create_queue(QueueName=name, Attributes=attributes))["QueueUrl"]
        else:
            url, _ = await make_queue(sqs)
        queues[case] = (
            url,
            *poller(
                sqs,
                url,
                settings=f"wait_time_seconds = {wait}\n",
                clock=lambda: now,
                monotonic=time.monotonic,
            ),
        )

    def lags() -> dict[str, float | None]:
        return {
            case: metrics.registry.get_sample_value("sesd_event_lag_latest_seconds")
            for case, (_, _, metrics) in queues.items()
        }

    async def receive(lags_: list[float]) -> dict[str, float | None]:
        made = [now - lag for lag in lags_]
        bodies = [f.raw(f.delivery([f"u{i}@one.example"], at=t)) for i, t in enumerate(made)]

        async def handle(url: str, p: QueuePoller, fifo: bool) -> None:
            entries = [
                # A group each: none held back behind another.
                {"Id": str(i), "MessageBody": body} | ({"MessageGroupId": f"g{i}"} if fifo else {})
                for i, body in enumerate(bodies)
            ]
            await sqs.send_message_batch(QueueUrl=url, Entries=entries)
            messages: list[Any] = []
            while len(messages) < len(lags_):
                got = await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
                messages += got.get("Messages", [])
            await p._handle(messages)

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                for case, (url, p, _) in queues.items():
                    tg.start_soon(handle, url, p, _EMPTY_RECEIVES[case][1])
        return lags()

    def each(lag: float) -> dict[str, float | None]:
        return dict.fromkeys(_EMPTY_RECEIVES, lag)

    assert await receive([2.0] * 5 + [900.0]) == each(2.0)
    now += 1
    assert await receive([900.0]) == each(2.0)
    now += 1
    assert await receive([901.0, 905.0]) == each(900.0)
    now += 1
    assert await receive([902.0]) == each(901.0)
    now += 1

    async def empty(case: str) -> None:
        _, p, _ = queues[case]
        p.in_force = lambda: not _EMPTY_RECEIVES[case][2]
        assert await p._receive() == []

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            for case in queues:
                tg.start_soon(empty, case)
    assert lags() == {case: told[3] for case, told in _EMPTY_RECEIVES.items()}
    now += 1
    assert await receive([903.0]) == {case: told[4] for case, told in _EMPTY_RECEIVES.items()}
