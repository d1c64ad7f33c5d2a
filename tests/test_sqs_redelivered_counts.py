"""A message SQS delivers again (its delete failed, or its visibility timeout passed)
is counted once, whatever it holds: an email event is a duplicate by the duplicate
filter, and so are a body that is no email event (skipped) and a tenant notice, in
``sesd_messages_total{outcome="duplicate"}``, not skipped or processed twice. moto's
SQS and the real poller."""

from __future__ import annotations

import json
from typing import Any

import anyio

from sesd.core.tallies import Outcome
from tests.conftest import make_queue, send_bodies
from tests.test_sqs_edges import poller
from tests.test_sqs_redelivered_notice import TENANTS, _finding

CONFIRMATION = json.dumps({"Type": "SubscriptionConfirmation", "Message": "confirm"})


async def _received(sqs: Any, url: str) -> list[Any]:
    messages: list[Any] = []
    with anyio.fail_after(10):
        while not messages:
            messages = (await sqs.receive_message(QueueUrl=url)).get("Messages", [])
    return messages


async def _handled_twice(sqs: Any, body: str, settings: str = "") -> Any:
    """``body`` handled by a poller whose delete SQS refuses (an expired receipt
    handle), then received again (as after its visibility timeout) and handled."""
    url, _ = await make_queue(sqs)
    await send_bodies(sqs, url, [body])
    p, _ = poller(sqs, url, settings=settings)
    (first,) = await _received(sqs, url)
    expired: Any = {**first, "ReceiptHandle": "expired-handle"}
    await p._handle([expired])
    await sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=0
    )
    again = await _received(sqs, url)
    assert again[0]["MessageId"] == first["MessageId"]
    await p._handle(again)
    return p._pipeline.ledger.tallies


async def test_a_skipped_body_delivered_again_counts_as_a_duplicate(sqs: Any) -> None:
    """An SNS subscription confirmation (no email event) whose delete failed comes
    again: it is skipped once (``sesd_skipped_messages_total`` 1), then a duplicate."""
    tallies = await _handled_twice(sqs, CONFIRMATION)
    assert tallies.skipped == {("q", "sns_subscription_confirmation"): 1}
    assert tallies.messages == {("q", Outcome.SKIPPED): 1, ("q", Outcome.DUPLICATE): 1}


async def test_a_tenant_notice_delivered_again_counts_as_a_duplicate(sqs: Any) -> None:
    """SES's tenant event whose delete failed comes again: processed once (in the
    tenant notices' count too), then a duplicate."""
    tallies = await _handled_twice(sqs, _finding("Open", "2026-03-02T08:00:00Z"), TENANTS)
    assert tallies.notices == {"q": 1}
    assert tallies.messages == {("q", Outcome.PROCESSED): 1, ("q", Outcome.DUPLICATE): 1}
