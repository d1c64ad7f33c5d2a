"""An answer of 200 that says no content type (a load balancer's or a proxy's empty
200: SQS always says its JSON's type). The SDK reads it as an answer with nothing in
it: a receive with no messages, a queue with no attributes. Not SQS's answer, it is
told as a failure, as a page of another type is, never as a healthy, empty queue or a
queue without a dead-letter queue."""

from __future__ import annotations

import io

import pytest
from aiohttp import web

from sesd.runtime.sqs_calls import check_queue
from tests.conftest import aws_client, said_in
from tests.test_queue_check_page import LoginPage
from tests.test_sqs_edges import poller

pytestmark = pytest.mark.timeout(30)


class EmptyAnswers(LoginPage):
    """Answers every call with 200, no body and no content type."""

    async def _answer(self, request: web.Request) -> web.Response:
        return web.Response(status=200)  # no body: aiohttp sends no Content-Type


async def test_an_untyped_empty_answer_to_a_receive_is_a_failed_receive() -> None:
    """A receive answered so fails (counted, the queue not told answered), where it
    passed for an empty queue: a poller behind such a proxy read as healthy, its
    windows emptying, their alerts resolving."""
    async with EmptyAnswers() as endpoint, aws_client("sqs", endpoint) as sqs:
        p, metrics = poller(sqs, f"{endpoint.url}/123456789012/q")
        assert await p._receive() is None
    labels = {"queue": "q", "account": "default", "region": "us-east-1", "operation": "receive"}
    assert metrics.registry.get_sample_value("sesd_sqs_errors_total", labels) == 1


async def test_an_untyped_empty_answer_to_the_check_is_a_failed_check(
    json_logs: io.StringIO,
) -> None:
    """The queue's check answered so: failed, said with what the answer was, not
    ``sesd.sqs.no_redrive_policy`` ("add a dead-letter queue") nor the queue answered."""
    answered: list[bool] = []
    async with EmptyAnswers() as endpoint, aws_client("sqs", endpoint) as sqs:
        p, _ = poller(sqs, f"{endpoint.url}/123456789012/q")
        checked = await check_queue(
            sqs, p._queue, "default", "us-east-1", lambda: answered.append(True)
        )
    assert (checked, answered) == (False, [])
    said = said_in(json_logs)
    assert "sesd.sqs.no_redrive_policy" not in said
    assert said["sesd.sqs.attributes_failed"]["error"] == (
        "ValueError: an answer without a content type, not SQS's JSON"
    )
