"""Receives that fail, through the real poller and the receive client sesd makes
(no SDK retries), against an SQS stand-in speaking SQS's JSON protocol: a throttle
now and then never makes the queue "failing" (which blinds the rules); receives
that keep failing back off exponentially towards the 30 s cap, not once a fraction
of a second. An error answer nested deeper than the SDK's JSON loader goes fails the
call it answers (a receive, a delete, a release); a bug of sesd's own code under a call
(a recursion, a TypeError...) stays sesd's fault."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from aiobotocore.config import AioConfig
from aiohttp import web
from botocore.retries.standard import ExponentialBackoff

import sesd.io.sqs_answers as answers_module
from sesd.commands.demo.localhttp import LocalServer
from sesd.io.sdk_calls import trim_sqs
from sesd.io.sqs_http import LARGEST_ANSWER
from sesd.runtime.aws import sqs_config
from sesd.runtime.sqs import QueuePoller
from tests.conftest import aws_client
from tests.test_sqs_edges import poller


class SometimesThrottled(LocalServer):
    """Every other receive answers 500 (a passing error), the others nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"
        self.n = 0

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/", self._answer)

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        self.n += 1
        if self.n % 2 == 1:
            error = {"__type": "InternalError", "message": "We encountered an internal error."}
            return web.json_response(error, status=500, content_type="application/x-amz-json-1.0")
        return web.json_response({}, content_type="application/x-amz-json-1.0")


class AlwaysDown(SometimesThrottled):
    """Every receive answers 500."""

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        self.n = 0  # the next is odd: always the 500
        return await super()._answer(request)


@asynccontextmanager
async def _receiving(sqs: SometimesThrottled) -> AsyncIterator[QueuePoller]:
    """A poller of a queue at ``sqs``, with the receive client sesd makes (trimmed, its
    answers read as a poller's are: sesd.io.sdk_calls)."""
    async with aws_client("sqs", sqs, sqs_config(5, receive=True)) as client:
        trim_sqs(client)
        yield poller(client, f"{sqs.url}/123456789012/q")[0]


async def test_isolated_failures_never_make_the_queue_failing() -> None:
    states: list[tuple[str, list[str], float]] = []
    async with SometimesThrottled() as sqs, _receiving(sqs) as p:
        for _ in range(10):  # fail, ok, fail, ok, ... : never two in a row
            result = await p._receive()
            states.append(
                (
                    "fail" if result is None else "ok",
                    sorted(p._health.failing),
                    round(p._failures.delay, 2),
                )
            )
    # Every failure is a lone one: the queue never counts as failing.
    assert all(not failing for _, failing, _ in states), states


class DeepErrors(SometimesThrottled):
    """Every receive answers 500 with a body nested thousands deep (a proxy's, not SQS's):
    the SDK's loader raises RecursionError on it while it reads the error."""

    async def _answer(self, request: web.Request) -> web.Response:
        return _deep_error()


def _deep_error() -> web.Response:
    """A 500 whose body is nested thousands deep (a proxy's, not SQS's)."""
    body = b"[" * 5_000 + b"]" * 5_000
    return web.Response(status=500, body=body, content_type="application/x-amz-json-1.0")


@pytest.mark.parametrize("endpoint", [AlwaysDown, DeepErrors])
async def test_failed_receives_back_off_to_the_cap(
    endpoint: type[SometimesThrottled],
) -> None:
    """Receives that keep failing, an error SQS gives or one it never does (an answer the
    SDK cannot read: no fault of the poller's), back off towards the cap."""
    delays = []
    async with endpoint() as sqs, _receiving(sqs) as p:
        p._failures.rand = lambda: 0.999  # the jitter's top: the bound itself
        for _ in range(10):
            assert await p._receive() is None
            delays.append(round(p._failures.delay, 2))
    assert delays[-1] > 25, delays


class OneMessage(SometimesThrottled):
    """Every receive brings one message; every delete deletes, and every release gives
    back, what it is asked to."""

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        asked = await request.json()
        if request.headers["X-Amz-Target"].endswith(
            ("DeleteMessageBatch", "ChangeMessageVisibilityBatch")
        ):
            answer: dict[str, Any] = {"Successful": [{"Id": e["Id"]} for e in asked["Entries"]]}
        else:
            answer = {"Messages": [{"MessageId": "m", "ReceiptHandle": "r", "Body": "{}"}]}
        return web.json_response(answer, content_type="application/x-amz-json-1.0")


async def _after_one_message(p: QueuePoller, call: str) -> Callable[[], Awaitable[object]]:
    """``call`` (a receive, a delete or a release) of the poller ``p``, asked of the one
    message its first receive brought."""
    messages = await p._receive()
    assert messages is not None
    assert len(messages) == 1
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "receive": p._receive,
        "delete": lambda: p._deletes.delete(messages),
        "release": lambda: p._deletes.release(messages),
        # The batch's delete and the receive made beside it: what either raised comes
        # out as itself, not wrapped in their task group's ExceptionGroup.
        "handled": lambda: p._handle(messages, ask=True),
    }
    return calls[call]


def _errors(p: QueuePoller, call: str) -> float | None:
    """The failed calls of ``call``'s operation the poller ``p`` counted."""
    labels = {"queue": "q", "account": "default", "region": "us-east-1", "operation": call}
    return p._metrics.registry.get_sample_value("sesd_sqs_errors_total", labels)


def _recursing(entry: Any, members: Any) -> Any:
    return _recursing(entry, members)


#: Bugs in sesd's reading of an answer: a recursion without end, and what a slip raises
#: that the SDK's parser raises too on an answer of the wrong shape.
_BUGS: dict[type[BaseException], Callable[[Any, Any], Any]] = {
    RecursionError: _recursing,
    TypeError: lambda entry, members: entry + 1,
    KeyError: lambda entry, members: entry["no such member"],
    AttributeError: lambda entry, members: entry.no_such_attribute,
    ValueError: lambda entry, members: int(str(entry)),
}


@pytest.mark.parametrize("bug", list(_BUGS), ids=lambda bug: bug.__name__)
@pytest.mark.parametrize("call", ["receive", "delete", "release", "handled"])
async def test_a_bug_of_sesds_own_code_under_a_call_is_sesds_fault(
    call: str, bug: type[BaseException], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug of sesd's own code under an SQS call (here in its reading of the answer: a
    recursion without end, a slip that raises TypeError, KeyError, AttributeError or
    ValueError) is a fault of sesd's: raised to the poller's supervisor, which counts it
    and logs its traceback, not taken as the call's failure (retried for ever as SQS's
    trouble, without a traceback, the queue said failing). Only the SDK's errors, and
    the answers sesd's reading refuses (UnreadableAnswer), fail the call."""
    async with OneMessage() as sqs, _receiving(sqs) as p:
        asked = await _after_one_message(p, call)
        monkeypatch.setattr(answers_module, "_entry", _BUGS[bug])
        with pytest.raises(bug):
            await asked()
        errors = [_errors(p, c) for c in ("receive", "delete", "release")]
    assert not any(errors)  # no failed call of SQS's


class DeepAfterOne(OneMessage):
    """The first receive brings one message; every later call answers 500 with a body
    nested thousands deep (a proxy's, not SQS's: the SDK's loader raises RecursionError)."""

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        self.n += 1
        return await super()._answer(request) if self.n == 1 else _deep_error()


@pytest.mark.parametrize(("call", "counted"), [("receive", 1), ("delete", 2), ("release", 1)])
async def test_an_error_answer_nested_too_deeply_fails_its_call(
    call: str, counted: int, json_logs: io.StringIO
) -> None:
    """A 500 whose body is nested deeper than the SDK's JSON loader goes fails the call
    it answers, as SQS's own error would: counted (a delete at each of its two tries),
    said as an answer nested too deeply, the poller reading on (no fault of sesd's)."""
    async with DeepAfterOne() as sqs, _receiving(sqs) as p:
        asked = await _after_one_message(p, call)
        assert not await asked()  # no messages, none deleted
        errors = _errors(p, call)
    assert errors == counted
    said = {r.get("error") for r in map(json.loads, json_logs.getvalue().splitlines())} - {None}
    assert said == {"UnreadableAnswer: an answer nested too deeply, not SQS's"}


class HugeAnswers(SometimesThrottled):
    """Every receive answers 200 under SQS's type with a body one byte past what SQS may
    send, of a length said (``declared``) or streamed in pieces without one."""

    def __init__(self, declared: bool) -> None:
        super().__init__()
        self.declared = declared

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        answer = web.StreamResponse(headers={"Content-Type": "application/x-amz-json-1.0"})
        if self.declared:
            answer.content_length = LARGEST_ANSWER + 1
        else:
            answer.enable_chunked_encoding()
        await answer.prepare(request)
        piece, left = b"x" * 2**20, LARGEST_ANSWER + 1
        try:
            while left:
                await answer.write(piece[:left])
                left -= min(left, len(piece))
            await answer.write_eof()
        except ConnectionError:  # the receive gave up on it: as it should
            pass
        return answer


@pytest.mark.parametrize("declared", [True, False], ids=["declared", "chunked"])
async def test_an_answer_larger_than_sqs_sends_is_a_failed_receive(
    declared: bool, json_logs: io.StringIO
) -> None:
    """An answer bigger than SQS's bound (10 messages of 1 MiB, escaped: 64 MiB) is a
    failed receive, refused before more than the bound is held: at once if its length
    says so, at the first piece past the bound if it streams without one. Before, the
    SDK read any answer whole: an endpoint answering without end took all the memory."""
    async with HugeAnswers(declared) as sqs, _receiving(sqs) as p:
        assert await p._receive() is None
        errors = _errors(p, "receive")
    assert errors == 1
    (said,) = {r.get("error") for r in map(json.loads, json_logs.getvalue().splitlines())} - {None}
    if declared:
        size = LARGEST_ANSWER + 1
        assert said == f"UnreadableAnswer: an answer of {size} bytes, more than 64 MiB, not SQS's"
    else:
        assert said.startswith("UnreadableAnswer: an answer of more than 64 MiB, not SQS's: 'xxx")


class BreaksOff(OneMessage):
    """The first receive brings one message; every delete's answer breaks off after part
    of its body: the connection cut (``cut``, its length said) or silent until the
    server closes (``stalled``, streamed without a length)."""

    def __init__(self, fault: str) -> None:
        super().__init__()
        self.fault = fault
        self.deletes = 0
        self._closed = anyio.Event()

    def close(self) -> None:
        self._closed.set()

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        if not request.headers["X-Amz-Target"].endswith("DeleteMessageBatch"):
            return await super()._answer(request)
        self.deletes += 1
        answer = web.StreamResponse(headers={"Content-Type": "application/x-amz-json-1.0"})
        if self.fault == "cut":
            answer.content_length = 100
        else:
            answer.enable_chunked_encoding()
        await answer.prepare(request)
        await answer.write(b'{"Successful": [')
        if self.fault == "cut":
            assert request.transport is not None
            request.transport.abort()
        else:
            await self._closed.wait()
        return answer


@pytest.mark.parametrize(
    ("fault", "error"), [("cut", "ConnectionClosedError"), ("stalled", "ReadTimeoutError")]
)
async def test_a_delete_whose_answer_breaks_off_mid_body_is_retried_by_the_sdk(
    fault: str, error: str, monkeypatch: pytest.MonkeyPatch, json_logs: io.StringIO
) -> None:
    """A delete whose answer breaks off after part of its body (the connection cut, or
    silent past the read timeout) is retried by the SDK, as with the SDK's own HTTP
    session: sesd's, which reads the body itself to bound it, says the break as the
    SDK's does (ConnectionClosedError, ReadTimeoutError), the errors its retries know.
    Said otherwise (aiohttp's own errors) each delete would be tried once, and a passing
    cut would leave its messages undeleted, to come back as duplicates. The SDK's
    retries are counted though no answer came back to say how many it made: a break
    in its last try hid those before it (throttles, 5xx) from the series."""
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.0)
    quick = AioConfig(read_timeout=0.2, retries={"mode": "standard", "total_max_attempts": 2})
    async with BreaksOff(fault) as sqs, aws_client("sqs", sqs, sqs_config(5).merge(quick)) as c:
        trim_sqs(c)
        p = poller(c, f"{sqs.url}/123456789012/q")[0]
        messages = await p._receive()
        assert messages is not None
        assert await p._deletes.delete(messages) == 0
        errors = _errors(p, "delete")
        labels = {"queue": "q", "account": "default", "region": "us-east-1", "operation": "delete"}
        retried = p._metrics.registry.get_sample_value("sesd_sqs_retries_total", labels)
    assert sqs.deletes == 4  # two tries (the SDK's retry) of each of the delete's two
    assert errors == 2
    assert retried == 2
    records = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    said = {r["error"].partition(":")[0] for r in records if r["event"] == "sesd.sqs.delete_failed"}
    assert said == {error}
