"""A give-back SQS refuses (sesd.runtime.sqs_deletes): the call is counted a failed
release on the queue's series, and a warning says the error and how many messages it
could not give back."""

from __future__ import annotations

import io

from sesd.commands.demo.localsqs import LocalSqs
from tests.conftest import aws_client, said_in
from tests.test_sqs_edges import ForbiddingSqs, poller, two_received


async def test_a_release_refused_is_counted_and_warned_of_with_its_error_and_count(
    local_sqs: LocalSqs, json_logs: io.StringIO
) -> None:
    """Two messages to give back, with credentials that may not change their
    visibility: one failed release on ``sesd_sqs_errors_total``, and a warning naming
    AccessDenied and the two."""
    async with aws_client("sqs", local_sqs) as sqs:
        url, messages = await two_received(sqs)
    async with ForbiddingSqs() as forbidding, aws_client("sqs", forbidding) as denied:
        p, metrics = poller(denied, url)
        await p._deletes.release(messages)
    labels = {"queue": "q", "account": "default", "region": "us-east-1"}
    errors = metrics.registry.get_sample_value(
        "sesd_sqs_errors_total", {**labels, "operation": "release"}
    )
    assert errors == 1
    failed = said_in(json_logs)["sesd.sqs.release_failed"]
    assert failed["level"] == "warning"
    assert (failed["error"], failed["count"]) == ("ClientError: AccessDenied", 2)
