"""A queue's check (GetQueueAttributes, for its redrive policy) answered 200 with
something that is not SQS's (a captive proxy's login page; a proxy's JSON error page,
or its text, under SQS's JSON type): the SDK reads a body it cannot parse, or an
object without ``Attributes``, as an answer with no attributes. That says nothing of
the queue's dead-letter queue: the check is told as failed, with why, as a receive
answered so is, not as a queue without one. SQS's own answers read as before."""

from __future__ import annotations

import io
from typing import Any

import pytest
from aiohttp import web

from sesd.commands.demo.localhttp import LocalServer
from sesd.runtime.sqs_calls import check_queue
from tests.conftest import aws_client, said_in
from tests.test_sqs_edges import poller

pytestmark = pytest.mark.timeout(30)


#: SQS's JSON type.
_JSON = "application/x-amz-json-1.0"


class LoginPage(LocalServer):
    """Answers every call with 200 and :attr:`body` (a login page unless told)."""

    def __init__(self, body: str = "<html>Log in</html>", kind: str = "text/html") -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"
        self.body, self.kind = body, kind

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/", self._answer)

    async def _answer(self, request: web.Request) -> web.Response:
        return web.Response(text=self.body, content_type=self.kind)


#: Answers of 200 that are not SQS's: (body, content type, the error said).
_FOREIGN = {
    "login-page": (
        "<html>Log in</html>",
        "text/html",
        "ValueError: an answer of type 'text/html; charset=utf-8', not SQS's JSON",
    ),
    "json-error-page": (
        '{"message": "Forbidden"}',
        _JSON,
        "UnreadableAnswer: an answer without the attributes asked for, not SQS's: "
        + repr('{"message": "Forbidden"}'),
    ),
    "attributes-not-an-object": (
        '{"Attributes": null, "message": "Forbidden"}',
        _JSON,
        "UnreadableAnswer: an answer without the attributes asked for, not SQS's: "
        + repr('{"Attributes": null, "message": "Forbidden"}'),
    ),
    "error-text": (
        "Service Unavailable",
        _JSON,
        "UnreadableAnswer: an answer that is not JSON, not SQS's: 'Service Unavailable'",
    ),
}


async def _check(endpoint: LoginPage, json_logs: io.StringIO) -> tuple[bool, bool, dict[str, Any]]:
    """The queue's check at ``endpoint``: its result, whether the queue was told
    answered, and the lines ``json_logs`` was given, by event."""
    answered: list[bool] = []
    async with endpoint, aws_client("sqs", endpoint) as sqs:
        p, _ = poller(sqs, f"{endpoint.url}/123456789012/q")
        checked = await check_queue(
            sqs, p._queue, "default", "us-east-1", lambda: answered.append(True)
        )
    return checked, bool(answered), said_in(json_logs)


@pytest.mark.parametrize("answer", list(_FOREIGN))
async def test_a_page_answered_to_the_check_is_no_missing_dead_letter_queue(
    answer: str, json_logs: io.StringIO
) -> None:
    """The check of a queue behind a proxy answering so: not the queue's answer
    (readiness is not told), no warning to add a dead-letter queue, and the failure
    said with what the answer was, no advice (it warned ``sesd.sqs.no_redrive_policy``)."""
    body, kind, error = _FOREIGN[answer]
    checked, answered, said = await _check(LoginPage(body, kind), json_logs)
    assert (checked, answered) == (False, False)
    assert "sesd.sqs.no_redrive_policy" not in said
    failed = said["sesd.sqs.attributes_failed"]
    assert failed["level"] == "warning"
    assert failed["error"] == error
    assert "hint" not in failed


#: SQS's own answers of 200 to the check, and whether they name a redrive policy.
_SQS_OWN = {
    "none": ("{}", False),
    "empty-body": ("", False),
    "other-attributes": ('{"Attributes": {}}', False),
    "redrive-policy": ('{"Attributes": {"RedrivePolicy": "{}"}}', True),
}


@pytest.mark.parametrize("answer", list(_SQS_OWN))
async def test_sqs_own_answers_to_the_check_read_as_before(
    answer: str, json_logs: io.StringIO
) -> None:
    """SQS's answer without the attribute (``{}``, as SQS and moto give for a queue
    without a redrive policy, or an empty body), or with it: the queue answered, and
    the warning to add a dead-letter queue given where it has none."""
    body, guarded = _SQS_OWN[answer]
    checked, answered, said = await _check(LoginPage(body, _JSON), json_logs)
    assert (checked, answered) == (guarded, True)
    assert "sesd.sqs.attributes_failed" not in said
    assert ("sesd.sqs.no_redrive_policy" in said) is not guarded
