"""A fault in sesd's own judging of a batch, with trouble under the delete of what it
judged (sesd.runtime.sqs_ends): a second fault, whose line says it is the other, beside
the error the poller ends in, not the judging's own advice; or the delete cut off by its
bound, said so, and the batch's line saying none deleted."""

from __future__ import annotations

import io

import pytest

import sesd.io.sqs_answers as answers_module
import sesd.runtime.sqs as sqs_module
from sesd.commands.demo.localsqs import LocalSqs
from sesd.runtime.sqs_beside import BESIDE
from sesd.runtime.sqs_ends import MISJUDGED_UNDELETED
from tests.conftest import aws_client, said_in
from tests.test_sqs_judge_fault import _DELIVERIES, _handled_with_a_fault_judging, _three_received
from tests.test_sqs_receive_beside_delete import _bug_in, _releases_read_by_the_sdk
from tests.test_sqs_stop_delete_cancelled import _stalled


async def test_a_fault_under_the_delete_is_said_beside_the_judging_fault(
    local_sqs: LocalSqs, json_logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The judging of the second message meets a fault, and reading the answer of the
    delete of the first meets another: the judging's fault is raised (the supervisor
    logs it with its traceback), the batch's line gives the judging's advice, and the
    fault under the delete is logged with the advice for a fault beside another error."""
    async with aws_client("sqs", local_sqs) as sqs:
        _, p, messages = await _three_received(sqs, _DELIVERIES)
        _releases_read_by_the_sdk(sqs)
        monkeypatch.setattr(answers_module, "_entry", _bug_in("Id"))
        await _handled_with_a_fault_judging(p, messages, messages[1])
    said = said_in(json_logs)
    failed = said["sesd.task.failed"]
    assert (failed["task"], failed["hint"]) == ("poller", BESIDE)
    assert failed["exception"].rstrip().endswith("KeyError: 'no such member'")
    assert said["sesd.sqs.batch_failed"]["hint"] == MISJUDGED_UNDELETED


async def test_a_faulted_batch_whose_delete_faulted_is_not_said_deleted(
    local_sqs: LocalSqs, json_logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The judging of the second message meets a fault, and reading the answer of the
    delete of the first meets another: the batch's line does not say what the batch
    judged is deleted (its ``deleted`` says none was); it says a fault ended that
    delete, and that what it did not delete comes back as duplicates."""
    async with aws_client("sqs", local_sqs) as sqs:
        _, p, messages = await _three_received(sqs, _DELIVERIES)
        _releases_read_by_the_sdk(sqs)
        monkeypatch.setattr(answers_module, "_entry", _bug_in("Id"))
        await _handled_with_a_fault_judging(p, messages, messages[1])
    failed = said_in(json_logs)["sesd.sqs.batch_failed"]
    assert (failed["to_delete"], failed["deleted"]) == (1, 0)
    assert "is deleted as any batch's" not in failed["hint"]
    assert "under the delete of what it judged" in failed["hint"]
    assert "duplicates" in failed["hint"]


async def test_a_faulted_batch_whose_delete_is_cut_off_says_so_and_none_deleted(
    local_sqs: LocalSqs, json_logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The judging of the second message meets a fault, and the delete of the first
    stalls past its bound (a network that stalls): the delete is said cut off, its one
    message not deleted, and the batch's line says none deleted, one to delete; the
    judging's fault is raised, as without the stall."""
    monkeypatch.setattr(sqs_module, "DELETE_LIMIT", 0.3)
    async with aws_client("sqs", local_sqs) as sqs:
        _, p, messages = await _three_received(sqs, _DELIVERIES)
        asked = _stalled(sqs, "delete_message_batch")
        await _handled_with_a_fault_judging(p, messages, messages[1])
        assert asked.is_set()
    said = said_in(json_logs)
    cut = said["sesd.sqs.delete_cut_off"]
    assert (cut["count"], cut["deleted"]) == (1, 0)
    failed = said["sesd.sqs.batch_failed"]
    assert (failed["to_delete"], failed["deleted"], failed["to_give_back"]) == (1, 0, 1)
