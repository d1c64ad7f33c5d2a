"""A batch's delete, made beside the next receive, is bounded for as long as it runs and
no longer: once the batch has ended, the poller keeps nothing of that bound. Kept, one
would pile up each batch for as long as sesd runs, and a stop or a forced exit would
walk them all."""

from __future__ import annotations

import anyio

from tests.test_sqs_receive_beside_delete import Releases
from tests.test_sqs_receive_failures import _receiving


async def test_a_pollers_batches_leave_no_bound_behind() -> None:
    """Five batches, each deleted beside the receive of the next: the poller's calls in
    flight hold no bound once each has ended."""
    async with Releases() as sqs, _receiving(sqs) as p:
        brought: object = await p._receive()
        with anyio.fail_after(5):
            for _ in range(5):
                assert isinstance(brought, list)
                brought = await p._handle(brought, ask=True)
                assert not p._in_flight._cuts
                assert not p._in_flight._scopes
        assert sqs.seen.count("DeleteMessageBatch") == 5
