"""What sesd says of a give-back or a delete cut off: at the place in force, a warning
with what comes of the messages; at the old place of a queue a reload removed (its
poller's last batch), the old place's word, at info, ``retired``, with the same counts
and no advice (sesd reads none of that place's messages again)."""

from __future__ import annotations

import io

import pytest

import sesd.runtime.sqs as sqs_module
from sesd.commands.demo.localsqs import LocalSqs
from sesd.runtime.sqs import QueuePoller
from tests.conftest import aws_client, said_in
from tests.test_sqs_batch_cancelled import _a_costly_batch, _give_back_cancelled
from tests.test_sqs_judge_fault import _DELIVERIES, _handled_with_a_fault_judging, _three_received
from tests.test_sqs_stop_delete_cancelled import _stalled


def _removed(p: QueuePoller) -> None:
    """A reload removed the queue ``p`` reads: ``p`` is at its old place."""
    p._metrics.sqs.configure([], lambda _: ("default", "us-east-1"))


@pytest.mark.parametrize("removed", [False, True], ids=["in_force", "removed"])
async def test_a_give_back_cut_off_says_so(
    local_sqs: LocalSqs, json_logs: io.StringIO, removed: bool
) -> None:
    """A poller cancelled while its receive was in flight gives back the two messages it
    brought; a program running sesd cancels its task while that release waits for SQS.
    The release is said cut off, both messages counted, with what comes of them (they
    are visible again after their visibility timeout); at a removed queue's old place,
    at info, ``retired``, without that advice."""
    async with aws_client("sqs", local_sqs) as sqs:
        _, p, messages = await _a_costly_batch(sqs)
        if removed:
            _removed(p)
        await _give_back_cancelled(sqs, p, messages)
        # One request sent, none sent again: no retry of the SDK's to count.
        retries = p._metrics.registry.get_sample_value(
            "sesd_sqs_retries_total",
            {"queue": "q", "account": "default", "region": "us-east-1", "operation": "release"},
        )
    cut = said_in(json_logs)["sesd.sqs.release_cut_off"]
    assert cut["count"] == 2
    assert retries == (None if removed else 0)
    if removed:
        assert (cut["level"], cut["retired"], cut.get("hint")) == ("info", True, None)
    else:
        assert (cut["level"], cut.get("retired")) == ("warning", None)
        assert cut["hint"] == "they become visible again after their visibility timeout"


@pytest.mark.parametrize("removed", [False, True], ids=["in_force", "removed"])
async def test_a_faulted_batchs_delete_cut_off_says_so(
    local_sqs: LocalSqs, json_logs: io.StringIO, monkeypatch: pytest.MonkeyPatch, removed: bool
) -> None:
    """The judging of the second of three messages meets a fault, and the delete of the
    first stalls past its bound (0.3 s here): the delete is said cut off, its one message
    not deleted; at a removed queue's old place, at info, ``retired``, with the same
    counts and no advice."""
    monkeypatch.setattr(sqs_module, "DELETE_LIMIT", 0.3)
    async with aws_client("sqs", local_sqs) as sqs:
        _, p, messages = await _three_received(sqs, _DELIVERIES)
        if removed:
            _removed(p)
        _stalled(sqs, "delete_message_batch")
        await _handled_with_a_fault_judging(p, messages, messages[1])
    cut = said_in(json_logs)["sesd.sqs.delete_cut_off"]
    assert (cut["count"], cut["deleted"]) == (1, 0)
    if removed:
        assert (cut["level"], cut["retired"], cut.get("hint")) == ("info", True, None)
    else:
        assert (cut["level"], cut.get("retired")) == ("warning", None)
        assert cut["hint"] == (
            "counted, but not deleted: SQS hands them out again after their visibility timeout"
        )
