"""A fault of sesd's own judging a batch of a queue a reload removed (its poller's last
batch, at the old place): the batch's line says it is the old place's (``retired``), as
that poller's other lines do, and counts no processing error on a series sesd no longer
exports; at the place in force the same line says nothing of the kind."""

from __future__ import annotations

import io

import pytest

from sesd.commands.demo.localsqs import LocalSqs
from tests.conftest import aws_client, said_in
from tests.test_sqs_judge_fault import _DELIVERIES, _handled_with_a_fault_judging, _three_received
from tests.test_sqs_stop_delete_cancelled import _counted


@pytest.mark.parametrize("removed", [True, False], ids=["removed", "in_force"])
async def test_a_judging_fault_at_a_removed_queues_old_place_is_said_retired(
    local_sqs: LocalSqs, json_logs: io.StringIO, removed: bool
) -> None:
    """The judging of the second of three messages meets a fault after a reload removed
    the queue: ``sesd.sqs.batch_failed`` says ``retired: true``, still at error level
    (a bug of sesd's, wherever it met it), and no ``process`` error is counted."""
    async with aws_client("sqs", local_sqs) as sqs:
        _, p, messages = await _three_received(sqs, _DELIVERIES)
        if removed:
            p._metrics.sqs.configure([], lambda _: ("default", "us-east-1"))
        await _handled_with_a_fault_judging(p, messages, messages[1])
        processed, _ = _counted(p, "process")
    failed = said_in(json_logs)["sesd.sqs.batch_failed"]
    assert failed["level"] == "error"
    assert failed.get("retired") is (True if removed else None)
    # Removed, the queue's series are gone: a count would have made them anew.
    assert processed == (None if removed else 1)
