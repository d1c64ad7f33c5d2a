"""SES's tenant events come through SQS at least once, and in no set order: one
delivered again after a newer one about the same finding (its delete failed, SNS
sent it twice) must not undo what the newer said. moto's SQS and the real poller."""

from __future__ import annotations

import json
from typing import Any

import anyio

from tests.conftest import make_queue, send_bodies
from tests.test_sqs_edges import poller

ACCOUNT = "123456789012"
REGION = "eu-west-1"


def _finding(state: str, at: str) -> str:
    """SES's EventBridge event of a HIGH bounce finding of tenant acme, ``state``
    Open or Closed, at ``at``."""
    return json.dumps(
        {
            "version": "0",
            "id": f"eb-{state}-{at}",
            "detail-type": f"Advisor Recommendation Status {state}",
            "source": "aws.ses",
            "account": ACCOUNT,
            "time": at,
            "region": REGION,
            "resources": [f"arn:aws:ses:{REGION}:{ACCOUNT}:tenant/acme/tn-acme"],
            "detail": {
                "version": "1.0.0",
                "data": "The bounce rate exceeded 15.0%",
                "metadata": {"impact": "HIGH", "type": "BOUNCE"},
            },
        }
    )


async def _handled(p: Any, sqs: Any, url: str, body: str) -> None:
    """``body`` sent, received and handled (and deleted) by the poller."""
    await send_bodies(sqs, url, [body])
    messages: list[Any] = []
    with anyio.fail_after(10):
        while not messages:
            messages = (await sqs.receive_message(QueueUrl=url)).get("Messages", [])
    await p._handle(messages)


async def test_a_finding_opened_again_by_a_redelivery_stays_closed(sqs: Any) -> None:
    """A finding opened at 08:00, closed at 09:00; the opening comes again (its first
    delete failed, or SNS delivered it twice): the finding stays closed, as the
    tenant's sending status does when an older status event comes late. A finding
    opened again later is open."""
    url, _ = await make_queue(sqs)
    p, _ = poller(sqs, url)
    statuses = p._pipeline.ledger.tenant_status
    await _handled(p, sqs, url, _finding("Open", "2027-01-15T08:00:00Z"))
    (status,) = statuses.status.values()
    assert (len(status.findings), status.impact) == (1, "HIGH")
    await _handled(p, sqs, url, _finding("Closed", "2027-01-15T09:00:00Z"))
    assert (status.findings, status.impact) == ([], "")
    await _handled(p, sqs, url, _finding("Open", "2027-01-15T08:00:00Z"))
    assert (status.findings, status.impact) == ([], "")
    await _handled(p, sqs, url, _finding("Open", "2027-01-15T10:00:00Z"))
    assert (len(status.findings), status.impact) == (1, "HIGH")
