"""A fault in sesd's own judging of a batch, with a second fault under the delete of what
it judged (sesd.runtime.sqs_ends): the judging's fault ends the poller, and the line
of the other says it is the other, beside the error the poller ends in, not the
judging's own advice."""

from __future__ import annotations

import io

import pytest

import sesd.io.sqs_answers as answers_module
from sesd.commands.demo.localsqs import LocalSqs
from sesd.runtime.sqs_beside import BESIDE
from sesd.runtime.sqs_ends import MISJUDGED
from tests.conftest import aws_client, said_in
from tests.test_sqs_judge_fault import _DELIVERIES, _handled_with_a_fault_judging, _three_received
from tests.test_sqs_receive_beside_delete import _bug_in


async def test_a_fault_under_the_delete_is_said_beside_the_judging_fault(
    local_sqs: LocalSqs, json_logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The judging of the second message meets a fault, and reading the answer of the
    delete of the first meets another: the judging's fault is raised (the supervisor
    logs it with its traceback), the batch's line gives the judging's advice, and the
    fault under the delete is logged with the advice for a fault beside another error."""
    async with aws_client("sqs", local_sqs) as sqs:
        _, p, messages = await _three_received(sqs, _DELIVERIES)
        monkeypatch.setattr(answers_module, "_entry", _bug_in("Id"))
        await _handled_with_a_fault_judging(p, messages, messages[1])
    said = said_in(json_logs)
    failed = said["sesd.task.failed"]
    assert (failed["task"], failed["hint"]) == ("poller", BESIDE)
    assert failed["exception"].rstrip().endswith("KeyError: 'no such member'")
    assert said["sesd.sqs.batch_failed"]["hint"] == MISJUDGED
