"""A fault in sesd's own judging of a batch (not SQS's, not one message's: the
pipeline's are caught message by message) ends the poller, for its supervisor to
count, log and start again. The batch is told first: what was judged is deleted, those
after the message at fault given back at once (visibility 0) for SQS to hand out again,
the message at fault left hidden until its visibility timeout (given back, it would end
the next poller that reads it), the fault counted as a processing error of the queue
and said, escaped, on a line of the batch's."""

from __future__ import annotations

import io
from typing import Any

import anyio
import pytest

import sesd.io.sqs_answers as answers_module
from sesd.commands.demo.localsqs import LocalSqs
from sesd.runtime.sqs import QueuePoller
from sesd.runtime.sqs_calls import InvalidMemory
from tests import factory as f
from tests.conftest import aws_client, make_queue, queue_counts, said_in, send_bodies
from tests.test_sqs_edges import poller
from tests.test_sqs_receive_beside_delete import _bug_in, _releases_read_by_the_sdk
from tests.test_sqs_stop_delete_cancelled import _counted


class _FailsOn(InvalidMemory):
    """The ids judged invalid, looked up with a fault of sesd's own for one message (its
    error quoting an address, as an error may quote a body)."""

    def __init__(self, message_id: str) -> None:
        super().__init__()
        self._id = message_id

    def __contains__(self, message_id: object) -> bool:
        if message_id == self._id:
            raise RuntimeError("a fault judging the mail of u1@one.example")
        return super().__contains__(message_id)


_DELIVERIES = [f.raw(f.delivery([f"u{i}@one.example"])) for i in range(3)]


async def _three_received(sqs: Any, bodies: list[str]) -> tuple[str, QueuePoller, list[Any]]:
    """A queue (visibility 300 s) with these three bodies, a poller, and the three
    messages, received, in the order SQS handed them out."""
    url, _ = await make_queue(sqs, visibility=300)
    await send_bodies(sqs, url, bodies)
    p, _ = poller(sqs, url)
    messages: list[Any] = []
    with anyio.fail_after(10):
        while len(messages) < 3:
            got = await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
            messages += got.get("Messages", [])
    return url, p, messages


async def _handled_with_a_fault_judging(p: QueuePoller, messages: list[Any], at: Any) -> None:
    """The batch handled, sesd's judging of message ``at`` meeting a fault of its own,
    which the handling raises."""
    p._judge._invalid = _FailsOn(at["MessageId"])
    with anyio.fail_after(10), pytest.raises(RuntimeError, match="a fault judging"):
        await p._handle(messages)


@pytest.mark.parametrize("at", [1, 0, 2], ids=["second", "first", "last"])
async def test_a_fault_judging_a_batch_tells_it_before_it_ends_the_poller(
    local_sqs: LocalSqs, json_logs: io.StringIO, at: int
) -> None:
    """A batch of three whose second message (or first, or last) meets a fault of sesd's
    own: those before it, judged and counted, are deleted; those after it are given
    back at once, not hidden for the queue's visibility timeout (300 s here) counted
    nowhere; it stays hidden, not handed at once to the next poller to end it too. The
    fault is counted as a processing error and said with the batch
    (received, deleted, to give back, and the one left hidden), its text escaped, no
    address in it; then it is raised, as before, for the supervisor to start the poller
    again."""
    async with aws_client("sqs", local_sqs) as sqs:
        url, p, messages = await _three_received(sqs, _DELIVERIES)
        await _handled_with_a_fault_judging(p, messages, messages[at])
        assert await queue_counts(sqs, url) == (2 - at, 1)
        assert _counted(p, "process") == (1, 0)
        assert _counted(p, "delete") == (0, 0)
    said = said_in(json_logs)
    failed = said["sesd.sqs.batch_failed"]
    assert (failed["received"], failed["deleted"], failed["to_give_back"]) == (3, at, 2 - at)
    assert failed["hidden"] == 1
    assert failed["level"] == "error"
    assert failed["error"].startswith("RuntimeError: a fault judging the mail of ")
    assert "u1@one.example" not in failed["error"]
    line = said["sesd.sqs.batch"]
    assert (line["received"], line["to_delete"], line["deleted"]) == (3, at, at)
    assert said.get("sesd.sqs.released", {}).get("count", 0) == 2 - at


async def test_a_fault_under_the_delete_after_a_judging_fault_is_no_delete_cut_off(
    local_sqs: LocalSqs, json_logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug of sesd's own under the delete of what a faulted batch judged (reading its
    answer) is counted and logged as a fault, the judging's fault raised: the delete is
    not said cut off nor counted a failed call, as a batch whose delete faulted is not."""
    async with aws_client("sqs", local_sqs) as sqs:
        _, p, messages = await _three_received(sqs, _DELIVERIES)
        _releases_read_by_the_sdk(sqs)
        monkeypatch.setattr(answers_module, "_entry", _bug_in("Id"))
        await _handled_with_a_fault_judging(p, messages, messages[1])
        assert _counted(p, "delete") == (0, 1)
    said = said_in(json_logs)
    assert "sesd.sqs.delete_cut_off" not in said, said["sesd.sqs.delete_cut_off"]
    assert said["sesd.task.failed"]["exception"].rstrip().endswith("KeyError: 'no such member'")
    assert said["sesd.sqs.batch_failed"]["to_give_back"] == 1


async def test_a_faulted_batch_says_how_many_it_left_hidden(
    local_sqs: LocalSqs, json_logs: io.StringIO
) -> None:
    """An invalid message (left for the redrive policy), then one that meets a fault, then
    one not judged: the line says two left hidden until their visibility timeout (the
    invalid one and the one at fault), one given back, none to delete. An on-call
    engineer counting what comes back later finds both."""
    async with aws_client("sqs", local_sqs) as sqs:
        bodies = ["not json", *(f.raw(f.delivery([f"u{i}@one.example"])) for i in (1, 2))]
        url, p, messages = await _three_received(sqs, bodies)
        messages.sort(key=lambda m: m["Body"] != "not json")
        await _handled_with_a_fault_judging(p, messages, messages[1])
        assert await queue_counts(sqs, url) == (1, 2)
    failed = said_in(json_logs)["sesd.sqs.batch_failed"]
    assert (failed["to_delete"], failed["to_give_back"], failed["hidden"]) == (0, 1, 2)
