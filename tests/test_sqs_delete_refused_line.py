"""What the on-call reads of deletes refused for good (sesd.runtime.sqs_deletes): the
first refusal's error line names the error, how many messages, the queue, the
permission to grant and what each message costs until then; later refusals are debug
lines with the error and how many."""

from __future__ import annotations

import io

from sesd.commands.demo.localsqs import LocalSqs
from tests.conftest import aws_client, said_in
from tests.test_sqs_edges import ForbiddingSqs, poller, two_received

HINT = (
    "these credentials may not delete from the queue: grant sqs:DeleteMessage on it; until "
    "then each message comes back after its visibility timeout (counted once, then as a "
    "duplicate) and, with a redrive policy, moves to the dead-letter queue"
)


async def test_a_delete_refused_for_good_says_what_how_many_where_and_what_to_do(
    local_sqs: LocalSqs, json_logs: io.StringIO
) -> None:
    """Two messages whose delete the credentials may not make, twice: the error line
    names AccessDenied, the two, the queue's URL and the hint; the second, a debug
    line, the same error and the two."""
    async with aws_client("sqs", local_sqs) as sqs:
        url, messages = await two_received(sqs)
    async with ForbiddingSqs() as forbidding, aws_client("sqs", forbidding) as denied:
        p, _ = poller(denied, url)
        with_first = io.StringIO()
        await p._deletes.delete(messages)
        with_first.write(json_logs.getvalue())
        await p._deletes.delete(messages)
    first = said_in(with_first)["sesd.sqs.delete_refused"]
    assert first["level"] == "error"
    assert "AccessDenied" in first["error"]
    assert (first["count"], first["queue_url"], first["hint"]) == (2, url, HINT)
    again = said_in(json_logs)["sesd.sqs.delete_refused"]
    assert (again["level"], again["error"], again["count"]) == ("debug", first["error"], 2)
