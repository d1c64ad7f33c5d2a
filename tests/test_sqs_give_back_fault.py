"""Two errors in one batch: one the poller was to end in (a fault of sesd's own under
its delete or in its judging, an exit or a cancellation under the delete), and one
under a give-back it makes first (of what the receive beside the delete brought, or
of the messages after the one at fault). Each is told: the one raised by the poller's
supervisor (an exit, a cancellation: by whoever waits for it, raised before a fault),
the other by the poller, counted and logged with its own traceback, not dropped
because the second came while the first waited to be raised."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable
from typing import Any

import anyio
import pytest

import sesd.io.sqs_answers as answers_module
import sesd.runtime.sqs_deletes as deletes_module
from sesd.commands.demo.localsqs import LocalSqs
from sesd.runtime.sqs_ends import GIVE_BACK, MISJUDGED_ENDING
from tests.conftest import aws_client, said_in
from tests.test_sqs_judge_fault import _DELIVERIES, _FailsOn, _three_received
from tests.test_sqs_receive_beside_delete import (
    HeldReleases,
    Releases,
    _bug_in,
    _raising,
    _read_faults,
    _releases_read_by_the_sdk,
    _waiting_for_the_delete_alone,
)
from tests.test_sqs_receive_failures import _receiving


def _records(logs: io.StringIO) -> list[dict[str, Any]]:
    """The lines logged, each read."""
    return [json.loads(line) for line in logs.getvalue().splitlines()]


def _under_a_release(kind: type[BaseException]) -> Callable[[Any, Any, Any], Any]:
    """sesd's reading of a release's answer, raising ``kind``."""

    def read(failed: Any, sent: Any, succeeded: Any) -> Any:
        raise kind("reading the release's answer")

    return read


@pytest.mark.parametrize("kind", [ValueError, KeyboardInterrupt], ids=lambda k: k.__name__)
async def test_a_fault_under_the_give_back_after_one_under_the_delete_tells_both(
    kind: type[BaseException], monkeypatch: pytest.MonkeyPatch, json_logs: io.StringIO
) -> None:
    """The batch's delete meets a bug of sesd's own (KeyError); so does the give-back of
    the message the receive beside it brought (ValueError), or an exit is asked for
    under it. The give-back's error is raised, for the supervisor to count and log (an
    exit, to end the process); the delete's, which the poller was about to raise, is
    counted and logged by the poller with its traceback: each fault told once."""
    async with Releases() as sqs, _receiving(sqs) as p:
        messages = await p._receive()
        assert messages is not None
        _releases_read_by_the_sdk(p._deletes._client)
        monkeypatch.setattr(answers_module, "_entry", _bug_in("Id"))
        monkeypatch.setattr(deletes_module, "_ours", _under_a_release(kind))
        with anyio.fail_after(5), pytest.raises(kind, match="the release's answer"):
            await p._handle(messages, ask=True)
        assert sqs.released == [0]
        said = _read_faults(p, json_logs)
    assert said == [("poller", "KeyError")]
    assert said_in(json_logs)["sesd.task.failed"]["hint"] == GIVE_BACK


async def test_an_exit_under_a_faulted_batchs_delete_is_raised_when_its_give_back_faults(
    local_sqs: LocalSqs, monkeypatch: pytest.MonkeyPatch, json_logs: io.StringIO
) -> None:
    """A fault of sesd's own judging the second of three messages; an exit is asked for
    under the delete of the first, then the give-back of the third meets a bug of
    sesd's own. The exit is raised: it must reach whoever waits for it, not give way to
    the give-back's bug, after which the supervisor would start the poller again in a
    process asked to end. Both faults are counted and logged by the poller, each once
    with its own traceback: the judging's with the advice for a poller that ends, not
    one started again."""
    async with aws_client("sqs", local_sqs) as sqs:
        _, p, messages = await _three_received(sqs, _DELIVERIES)
        _releases_read_by_the_sdk(sqs)
        monkeypatch.setattr(answers_module, "_entry", _raising(KeyboardInterrupt, "Id"))
        monkeypatch.setattr(deletes_module, "_ours", _under_a_release(ValueError))
        p._judge._invalid = _FailsOn(messages[1]["MessageId"])
        with anyio.fail_after(10), pytest.raises(KeyboardInterrupt):
            await p._handle(messages)
        said = _read_faults(p, json_logs)
    assert said == [("poller", "RuntimeError"), ("poller", "ValueError")]
    hints = [r["hint"] for r in _records(json_logs) if r["event"] == "sesd.task.failed"]
    assert hints == [MISJUDGED_ENDING, GIVE_BACK]


async def test_a_cancel_under_the_delete_is_raised_when_the_give_back_after_it_faults(
    monkeypatch: pytest.MonkeyPatch, json_logs: io.StringIO
) -> None:
    """A program running sesd cancels the poller's task (``Task.cancel()``, which no
    shield holds off) while it waits for the batch's delete, the receive beside it
    answered; the give-back of the message that receive brought then meets a bug of
    sesd's own. The poller ends in the cancellation, not in the bug (its supervisor
    would start again a poller asked to end); the bug is counted and logged by the
    poller with its own traceback."""
    async with HeldReleases() as sqs, _receiving(sqs) as p:
        messages = await p._receive()
        assert messages is not None
        monkeypatch.setattr(deletes_module, "_ours", _under_a_release(ValueError))
        task = asyncio.get_running_loop().create_task(p._handle(messages, ask=True))
        with anyio.fail_after(5):
            await _waiting_for_the_delete_alone(p._in_flight)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        sqs.answer_deletes.set()
        assert sqs.released == [0]
        said = _read_faults(p, json_logs)
    assert said == [("poller", "ValueError")]
    assert said_in(json_logs)["sesd.task.failed"]["hint"] == GIVE_BACK
