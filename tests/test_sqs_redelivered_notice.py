"""SES's tenant events come through SQS at least once, and in no set order: one
delivered again after a newer one about the same finding (its delete failed, SNS
sent it twice) must not undo what the newer said. moto's SQS and the real poller."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import anyio

from sesd.core.tenants import TenantStatus, TenantStatuses
from tests.conftest import make_queue, send_bodies
from tests.test_sqs_edges import poller

ACCOUNT = "123456789012"
REGION = "eu-west-1"
#: What SES says of tenants is kept with them counted.
TENANTS = "[tenants]\nenabled = true\n"
#: sesd's clock when it reads the events: after all of them (SES's events come after
#: they happened; one dated ahead of the clock is taken as of the clock's time).
READ_AT = datetime(2027, 1, 15, 12, tzinfo=UTC).timestamp()


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
    p, _ = poller(sqs, url, settings=TENANTS, clock=lambda: READ_AT)
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


def _paused(at: str) -> str:
    """SES's EventBridge event that it paused tenant acme, at ``at``."""
    body = json.loads(_finding("Open", at))
    body["detail-type"] = "Sending Status Disabled"
    body["detail"] = {
        "version": "1.0.0",
        "data": {"origin": "AWS_MANAGED", "record": {"status": "DISABLED", "cause": "bounces"}},
    }
    return json.dumps(body)


async def test_a_pause_that_comes_after_a_newer_finding_still_pauses(sqs: Any) -> None:
    """SES pauses acme at 08:59 and opens a complaint finding at 09:00; SQS hands out
    the finding first. The pause is the newest word on acme's sending status: acme is
    paused (a finding says nothing of it), and an older status event, come late or
    again, changes that no more."""
    url, _ = await make_queue(sqs)
    p, _ = poller(sqs, url, settings=TENANTS, clock=lambda: READ_AT)
    statuses = p._pipeline.ledger.tenant_status
    complaint = json.loads(_finding("Open", "2027-01-15T09:00:00Z"))
    complaint["detail"]["metadata"] = {"impact": "LOW", "type": "COMPLAINT"}
    await _handled(p, sqs, url, json.dumps(complaint))
    await _handled(p, sqs, url, _paused("2027-01-15T08:59:00Z"))
    (status,) = statuses.status.values()
    assert (status.paused, status.impact) == (True, "LOW")
    enabled = json.loads(_paused("2027-01-15T08:58:00Z"))
    enabled["detail-type"] = "Sending Status Enabled"
    enabled["detail"]["data"]["record"]["status"] = "ENABLED"
    await _handled(p, sqs, url, json.dumps(enabled))
    assert status.paused
    # A state file from before the status's own time was kept: its newest word was
    # ``updated``, which an older status event, come after the restart, does not undo.
    rows = [[*row[:3], {k: v for k, v in row[3].items() if k != "status_at"}]
            for row in statuses.snapshot()]  # fmt: skip
    restored = TenantStatuses()
    restored.restore(rows, {(ACCOUNT, REGION)})
    (status,) = restored.status.values()
    assert status.status_at == status.updated > 0


async def test_a_finding_a_poll_found_closed_stays_closed_when_its_opening_comes_again(
    sqs: Any,
) -> None:
    """A finding opened at 08:00; the 09:00 poll lists acme with no open finding (it was
    closed, its event lost); the opening comes again: the poll is newer, the finding
    stays closed."""
    url, _ = await make_queue(sqs)
    p, _ = poller(sqs, url, settings=TENANTS, clock=lambda: READ_AT)
    statuses = p._pipeline.ledger.tenant_status
    await _handled(p, sqs, url, _finding("Open", "2027-01-15T08:00:00Z"))
    ((key, status),) = statuses.status.items()
    assert len(status.findings) == 1
    at = datetime(2027, 1, 15, 9, tzinfo=UTC).timestamp()
    statuses.polled(key, TenantStatus(findings=list(status.findings)), at)
    statuses.findings(key, [], at)
    assert statuses.status[key].findings == []
    await _handled(p, sqs, url, _finding("Open", "2027-01-15T08:00:00Z"))
    assert statuses.status[key].findings == []


async def test_a_pause_a_poll_found_stands_when_a_finding_event_came_during_the_poll(
    sqs: Any,
) -> None:
    """The 09:00 poll finds acme paused; a complaint finding's event of 09:00:05
    arrives while it runs. The finding says nothing of acme's sending status: the pause
    the poll found stands, and so does the newer finding."""
    url, _ = await make_queue(sqs)
    p, _ = poller(sqs, url, settings=TENANTS, clock=lambda: READ_AT)
    statuses = p._pipeline.ledger.tenant_status
    await _handled(p, sqs, url, _finding("Open", "2027-01-15T08:00:00Z"))
    ((key, status),) = statuses.status.items()
    polled = TenantStatus(sending="DISABLED", aws="DISABLED", findings=list(status.findings))
    complaint = json.loads(_finding("Open", "2027-01-15T09:00:05Z"))
    complaint["detail"]["metadata"] = {"impact": "LOW", "type": "COMPLAINT"}
    await _handled(p, sqs, url, json.dumps(complaint))
    statuses.polled(key, polled, datetime(2027, 1, 15, 9, tzinfo=UTC).timestamp())
    status = statuses.status[key]
    assert status.paused
    assert sorted(kind for kind, _, _ in status.findings) == ["BOUNCE", "COMPLAINT"]
