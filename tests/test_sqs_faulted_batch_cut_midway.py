"""A batch that ends in a fault of sesd's own after it was handled, whose delete's first
try deleted part of it, and whose second try (for the rest, which SQS failed on its
side) is then cut off by the delete's own limit: what the first try deleted is said
deleted, only the rest said cut off, to come back after its visibility timeout, as for
a batch that ended well."""

from __future__ import annotations

import io

import anyio
import pytest

import sesd.runtime.sqs as sqs_module
from tests.conftest import said_in
from tests.test_sqs_delete_cut_midway import FirstTryHalfDone
from tests.test_sqs_fault_after_batch import _Slip, _slips
from tests.test_sqs_receive_failures import _receiving


async def test_a_faulted_batchs_delete_cut_off_in_its_second_try_says_what_its_first_deleted(
    monkeypatch: pytest.MonkeyPatch, json_logs: io.StringIO
) -> None:
    """A batch of two, then a bug in what follows it: the delete made first deletes one
    and fails the other, and its second try hangs until the delete's own limit (0.3 s
    here) cuts it off. ``sesd.sqs.delete_cut_off`` counts the one left (``count=1``,
    ``deleted=1``), not the batch's two, and the batch's line says one deleted: SQS
    hands out one again, not two. The bug is raised, for the supervisor to start the
    poller again."""
    monkeypatch.setattr(sqs_module, "DELETE_LIMIT", 0.3)
    async with FirstTryHalfDone() as sqs, _receiving(sqs) as p:
        messages = await p._receive()
        assert messages is not None
        assert len(messages) == 2
        p._after_batch = _slips
        try:
            with anyio.fail_after(5), pytest.raises(_Slip):
                await p._handle(messages)
        finally:
            sqs.answer_retry.set()
    said = said_in(json_logs)
    cut = said["sesd.sqs.delete_cut_off"]
    assert (cut["count"], cut["deleted"]) == (1, 1)
    batch = said["sesd.sqs.batch"]
    assert (batch["received"], batch["to_delete"], batch["deleted"]) == (2, 2, 1)
