"""What the old pollers of a queue a reload moved hear in their last batch is told as
the old place's: logged with ``retired: true``, as their refused receive is, and
counted on none of the queue's SQS series (those of the place in force)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_dedup import break_after_delivery
from tests.test_reload_calls_in_flight import _logged, _moved, reloaded_mid_receive


async def test_a_bug_on_a_moved_queues_last_batch_is_logged_not_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``q`` moves from eu-west-1 to us-east-1 while a receive waits at the old place,
    which then brings a message; the pipeline fails on it (a bug). The failure is logged
    at error, with ``retired: true``, and counts no ``process`` error on ``q``'s series:
    they carry the place in force's account and region, which the message did not come
    from (a failure of the same bug on the new place's messages counts there)."""
    break_after_delivery(monkeypatch)
    _, logs, samples = await reloaded_mid_receive(
        tmp_path, monkeypatch, _moved, ("sesd_sqs_errors_total",), grace="30s", message=True
    )
    (failed,) = _logged(logs, "sesd.pipeline.failed")
    assert (failed["level"], failed["retired"]) == ("error", True)
    errors = samples["sesd_sqs_errors_total"]
    assert {dict(labels)["region"] for labels in errors} == {"us-east-1"}
    counted = {dict(labels)["operation"]: value for labels, value in errors.items()}
    assert counted == dict.fromkeys(("receive", "delete", "release", "process"), 0.0)


async def test_a_delete_refused_at_a_moved_queues_old_place_is_logged_as_retired(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``q`` moves from eu-west-1 to us-east-1 while a receive waits at the old place,
    which then brings a message and, in the end, refuses its delete. The refusal is the
    old place's: logged at info with ``retired: true``, as a refused receive there is
    (it was an error, naming the old URL, with a hint of duplicates to come that no
    poller of the place in force would read)."""
    sqs, logs, _ = await reloaded_mid_receive(
        tmp_path, monkeypatch, _moved, (), grace="30s", message=True
    )
    assert sqs.deletes == [500, 200, 400]
    (refused,) = _logged(logs, "sesd.sqs.delete_refused")
    assert (refused["level"], refused["retired"]) == ("info", True)
    assert "hint" not in refused
