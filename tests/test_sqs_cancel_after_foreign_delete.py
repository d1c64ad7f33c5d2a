"""A delete whose answer is not one sesd keeps for a cancellation (an answer of 200 the
SDK reads as no outcome, an error, one the SDK tries again) and whose task is then
cancelled: nothing says SQS deleted the message. The delete is said cut off, counted
failed, the message to come back after its visibility timeout. And one the SDK tried
again before SQS's answer is kept: said deleted, as SQS answered. The SDK's retries of
a call are counted once, however it ends (cut off, answered, returned)."""

from __future__ import annotations

import asyncio
import contextvars
import io
import json
from typing import Any

import anyio
import pytest
from aiohttp import web
from botocore.retries.standard import ExponentialBackoff

from sesd.commands.demo.localhttp import LocalServer
from sesd.io.sdk_calls import trim_sqs
from sesd.io.sqs_answers import KEPT
from sesd.runtime.aws import sqs_config
from sesd.runtime.sqs import QueuePoller
from tests import factory as f
from tests.conftest import aws_client, said_in
from tests.test_sqs_cancel_after_delete import _held_once_answered, _told_deleted
from tests.test_sqs_edges import poller
from tests.test_sqs_stop_delete_cancelled import _counted

_JSON = "application/x-amz-json-1.0"


class Deletes(LocalServer):
    """A queue's stand-in whose deletes are answered, in turn, by ``answers`` (status,
    body), the last again once they run out."""

    def __init__(self, answers: list[tuple[int, bytes]]) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"
        self.answers = answers
        self.deletes = 0

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/", self._answer)

    async def _answer(self, request: web.Request) -> web.Response:
        status, body = self.answers[min(self.deletes, len(self.answers) - 1)]
        self.deletes += 1
        return web.Response(status=status, body=body, content_type=_JSON)


class Dropped(Deletes):
    """As :class:`Deletes`, but the first delete's connection is closed unanswered."""

    async def _answer(self, request: web.Request) -> web.Response:
        if self.deletes == 0:
            assert request.transport is not None
            request.transport.close()
        return await super()._answer(request)


class HeldAfter(Deletes):
    """As :class:`Deletes`, but the delete after its ``answers`` is held unanswered
    (``arrived`` set) until ``let_go`` is set: a try SQS is slow to answer."""

    def __init__(self, answers: list[tuple[int, bytes]]) -> None:
        super().__init__(answers)
        self.arrived = anyio.Event()
        self.let_go = anyio.Event()

    async def _answer(self, request: web.Request) -> web.Response:
        if self.deletes == len(self.answers):
            self.deletes += 1
            self.arrived.set()
            await self.let_go.wait()
            return web.Response(status=503, content_type=_JSON)
        return await super()._answer(request)


def _body(answer: Any) -> bytes:
    return json.dumps(answer).encode()


#: SQS's answer that the batch's one entry was deleted.
_DELETED = _body({"Successful": [{"Id": "0"}], "Failed": []})


async def _cancelled_delete(
    sqs: Deletes,
    monkeypatch: pytest.MonkeyPatch,
    *,
    in_backoff: bool = False,
    arrived: anyio.Event | None = None,
) -> Any:
    """A stop's delete of one message at ``sqs`` (sesd's delete client: the SDK's retries),
    its task cancelled once SQS's answer reached the SDK's last hook (after-call), or,
    ``in_backoff``, once the SDK has read the first answer and asks whether to try
    again (it then waits to: for ever here), or once ``arrived`` is set (by ``sqs``).
    Returns the poller, its delete told."""
    if in_backoff:
        monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda *_: 3600.0)
    else:
        monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda *_: 0.0)
    async with aws_client("sqs", sqs, sqs_config(5)) as client:
        trim_sqs(client)
        if arrived is not None:
            answered = arrived
        elif in_backoff:
            answered = anyio.Event()
            client.meta.events.register(
                "needs-retry.sqs.DeleteMessageBatch", lambda **_: answered.set()
            )
        else:
            answered = _held_once_answered(client)
        p, _ = poller(client, f"{sqs.url}/123456789012/q")
        p._stopping.set()  # the delete made alone
        message: Any = {
            "MessageId": "m0",
            "ReceiptHandle": "r0",
            "Body": f.raw(f.delivery(["u0@one.example"])),
        }
        # Its own context, to read after: the delete's answer no longer kept there.
        context = contextvars.copy_context()
        task = asyncio.get_running_loop().create_task(p._handle([message]), context=context)
        with anyio.fail_after(10):
            await answered.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    assert KEPT not in context
    return p


@pytest.mark.parametrize(
    "answer",
    [
        (200, b"<html>Service Unavailable</html>"),  # the SDK reads it as no members
        (200, _body({"__type": "InternalError", "message": "We encountered an error."})),
        (200, b""),
        (400, _body({"__type": "AWS.SimpleQueueService.NonExistentQueue", "message": "?"})),
    ],
    ids=["text", "error_at_200", "empty", "error"],
)
async def test_a_cancel_after_an_answer_not_kept_says_the_delete_cut_off(
    answer: tuple[int, bytes], json_logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An answer that names no entry deleted, which the SDK still hands on (a proxy's page
    at 200, an error's shape at 200, nothing), or an error: cancelled in the SDK's last
    hook, the delete is told cut off, not deleted."""
    async with Deletes([answer]) as sqs:
        p = await _cancelled_delete(sqs, monkeypatch)
    assert sqs.deletes == 1
    assert _counted(p, "delete") == (1.0, 0.0)
    said = said_in(json_logs)
    assert said["sesd.sqs.delete_cut_off"]["count"] == 1
    assert said["sesd.sqs.batch"]["deleted"] == 0


async def test_a_cancel_while_the_sdk_waits_to_try_a_delete_again_says_it_cut_off(
    json_logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 500 whose body has a delete's shape (a proxy's, say) is no answer of SQS's: the SDK
    tries again, and a cancellation while it waits to ends the delete cut off."""
    async with Deletes([(500, _DELETED)]) as sqs:
        p = await _cancelled_delete(sqs, monkeypatch, in_backoff=True)
    assert sqs.deletes == 1
    assert _counted(p, "delete") == (1.0, 0.0)
    said = said_in(json_logs)
    assert said["sesd.sqs.delete_cut_off"]["count"] == 1


def _retried(p: QueuePoller) -> float | None:
    """The SDK's retries of the queue's deletes, as counted."""
    labels = {"queue": "q", "account": "default", "region": "us-east-1", "operation": "delete"}
    return p._metrics.registry.get_sample_value("sesd_sqs_retries_total", labels)


async def test_a_cancel_after_sqs_answered_the_sdks_retry_says_it_deleted(
    json_logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first try met SQS's passing error, the SDK's second was answered: the answer is
    kept for the call across its tries, and a cancellation in the last hook tells it
    deleted, its retry counted, as the SDK's retries of a call that returns are (a
    throttle the retry got past shows nowhere else)."""
    error = _body({"__type": "InternalError", "message": "We encountered an error."})
    async with Deletes([(500, error), (200, _DELETED)]) as sqs:
        p = await _cancelled_delete(sqs, monkeypatch)
    assert sqs.deletes == 2
    assert _counted(p, "delete") == (0.0, 0.0)
    assert _retried(p) == 1
    said = said_in(json_logs)
    _told_deleted(said)


async def test_a_cancel_after_sqs_answered_a_retry_past_a_dropped_connection_counts_it(
    json_logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first try's connection closed with no answer (the SDK tries again, as after a
    500, though no answer came to read), the second was answered: that retry counts."""
    async with Dropped([(200, _DELETED)]) as sqs:
        p = await _cancelled_delete(sqs, monkeypatch)
    assert sqs.deletes == 2
    assert _retried(p) == 1
    _told_deleted(said_in(json_logs))


async def test_a_cancel_while_sqs_is_slow_to_answer_a_retry_counts_that_retry(
    json_logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first try met SQS's passing error, the SDK's second is in flight, unanswered,
    when a cancellation ends the delete: told cut off, and the retry the SDK made is
    counted, as that of a call that failed or returned is (slow, throttled deletes
    that a stop's bound or the delete's own cuts off show their retries too)."""
    error = _body({"__type": "InternalError", "message": "We encountered an error."})
    async with HeldAfter([(500, error)]) as sqs:
        try:
            p = await _cancelled_delete(sqs, monkeypatch, arrived=sqs.arrived)
        finally:
            sqs.let_go.set()
    assert sqs.deletes == 2
    assert _counted(p, "delete") == (1.0, 0.0)
    assert _retried(p) == 1
    assert said_in(json_logs)["sesd.sqs.delete_cut_off"]["count"] == 1


@pytest.mark.parametrize("call", ["delete", "release"])
async def test_a_call_that_returns_after_the_sdks_retries_counts_them_once(
    call: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A delete (a release) that met SQS's passing error, then a dropped connection, and
    was answered at its third try returns: its two retries are counted once, from the
    SDK's answer, not again from the requests the call sent."""
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda *_: 0.0)
    error = _body({"__type": "InternalError", "message": "We encountered an error."})
    answers = [(200, _DELETED), (500, error), (200, _DELETED)]
    async with Dropped(answers) as sqs, aws_client("sqs", sqs, sqs_config(5)) as client:
        trim_sqs(client)
        p, _ = poller(client, f"{sqs.url}/123456789012/q")
        message: Any = {"MessageId": "m0", "ReceiptHandle": "r0"}
        await getattr(p._deletes, call)([message])
    assert sqs.deletes == 3
    labels = {"queue": "q", "account": "default", "region": "us-east-1", "operation": call}
    registry = p._metrics.registry
    assert registry.get_sample_value("sesd_sqs_retries_total", labels) == 2
    assert _counted(p, call) == (0.0, 0.0)
