"""An answer's entry that leaves out a member sesd reads by (a proxy's, an endpoint not
AWS's: botocore parses what it is given and checks no member an answer must have) is
counted and passed over, never the poller's end: a DeleteMessageBatch failure without
its ``Id``, a tenant's resource without its ARN; a batch failure's ``Code`` that is no
text (or too long a one) is said as text, cleaned; its ``SenderFault`` that is no
boolean is not taken for true."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web

from sesd.commands.demo.localhttp import LocalServer
from sesd.commands.demo.localtenants import LocalTenants
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from tests.conftest import aws_client, said_in, sesd_logs
from tests.test_sqs_edges import poller
from tests.test_tenant_passes import REGION, Clock, tenant_poller


class NamelessFailures(LocalServer):
    """An SQS stand-in whose DeleteMessageBatch deletes the first entry and fails the
    others without saying which (no ``Id``)."""

    def __init__(self) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"
        self.batches = 0

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/", self._answer)

    async def _answer(self, request: web.Request) -> web.Response:
        entries = (await request.json())["Entries"]
        self.batches += 1
        failed = [{"Code": "InternalError", "SenderFault": False} for _ in entries[1:]]
        answer = {"Successful": [{"Id": entries[0]["Id"]}], "Failed": failed}
        return web.json_response(answer, content_type="application/x-amz-json-1.0")


async def test_a_delete_failure_without_its_id_is_a_failed_entry() -> None:
    """Two messages deleted, SQS's stand-in deletes one and fails the other without its
    ``Id``: one deleted, the other counted as a failed delete and warned of, as a
    failure naming its entry is, and the delete returns (raised, it ends the poller,
    started again 10 s later, at each such answer)."""
    logs = sesd_logs("info")
    async with NamelessFailures() as endpoint, aws_client("sqs", endpoint) as sqs:
        url = f"{endpoint.url}/123456789012/q"
        p, metrics = poller(sqs, url)
        messages: Any = [
            {"MessageId": f"m{i}", "ReceiptHandle": f"r{i}", "Body": "x"} for i in (1, 2)
        ]
        assert await p._deletes.delete(messages) == 1
    errors = metrics.registry.get_sample_value(
        "sesd_sqs_errors_total",
        {"queue": "q", "account": "default", "region": "us-east-1", "operation": "delete"},
    )
    assert errors == 1
    said = said_in(logs)
    assert said["sesd.sqs.delete_partly_failed"]["codes"] == ["InternalError"]


class ArnlessResources(LocalTenants):
    """A tenant endpoint whose resource named ``broken`` comes without its ARN."""

    def _items(
        self, operation: str, body: dict[str, Any]
    ) -> tuple[list[Any], Callable[[Any], dict[str, Any]], str]:
        items, build, key = super()._items(operation, body)

        def built(item: Any) -> dict[str, Any]:
            found = build(item)
            if found.get("ResourceArn", "").endswith("/broken"):
                del found["ResourceArn"]
            return found

        return items, built, key


async def test_a_tenant_resource_without_its_arn_is_passed_over() -> None:
    """globex's configuration sets are ``broken``, whose ARN the answer leaves out, and
    ``set-globex``: the walk maps ``set-globex``, passes the other over and says so,
    and ends (the walk, saved, would else fail at the same page every poll)."""
    logs = sesd_logs("info")
    pipeline = Pipeline(core_settings(parse_config("[tenants]\nenabled = true\n")))
    async with ArnlessResources("123456789012", REGION) as tenants:
        kinds = ("CONFIGURATION_SET", "broken"), ("CONFIGURATION_SET", "set-globex")
        tenants.add("globex", *kinds)
        async with tenant_poller(tenants, pipeline, Clock(), recommendations=False) as poller:
            await poller.poll_once()
    ledger = pipeline.ledger
    sender = f"arn:aws:ses:{REGION}:123456789012:identity/example.com"
    assert ledger.tenant_map.tenant(sender, "set-globex") == "globex"
    assert not ledger.tenant_walks.walks  # walked to its end
    said = said_in(logs)
    unread = said["sesd.tenants.resources_unread"]
    assert (unread["level"], unread["tenant"], unread["count"]) == ("warning", "globex", 1)


class OddCodes(LocalServer):
    """An SQS stand-in whose batch calls (a delete's, a release's) take the first entry
    and fail the others with codes SQS never gives: a list, a number, a long text."""

    CODES: Any = (["InternalError"], 500, "E\x1b[2J" * 1000)

    def __init__(self) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/", self._answer)

    async def _answer(self, request: web.Request) -> web.Response:
        entries = (await request.json())["Entries"]
        failed = [
            {"Id": e["Id"], "Code": code, "SenderFault": True}
            for e, code in zip(entries[1:], self.CODES, strict=False)
        ]
        answer = {"Successful": [{"Id": entries[0]["Id"]}], "Failed": failed}
        return web.json_response(answer, content_type="application/x-amz-json-1.0")


@pytest.mark.parametrize("call", ["delete", "release"])
async def test_a_failed_entry_s_odd_code_is_said_cleaned_not_the_poller_s_end(call: str) -> None:
    """Four messages deleted (released), the stand-in fails three with codes no SQS
    gives: three failed entries counted and warned of, their codes said as text, short
    and escaped (raised, a code that is no text ended the poller at each such answer)."""
    logs = sesd_logs("info")
    async with OddCodes() as endpoint, aws_client("sqs", endpoint) as sqs:
        p, metrics = poller(sqs, f"{endpoint.url}/123456789012/q")
        messages: Any = [{"MessageId": f"m{i}", "ReceiptHandle": f"r{i}"} for i in range(4)]
        await getattr(p._deletes, call)(messages)
    errors = metrics.registry.get_sample_value(
        "sesd_sqs_errors_total",
        {"queue": "q", "account": "default", "region": "us-east-1", "operation": call},
    )
    assert errors == 3
    said = said_in(logs)
    codes = said[f"sesd.sqs.{call}_partly_failed"]["codes"]
    assert len(codes) == 3
    assert all(isinstance(c, str) and len(c) <= 200 for c in codes)
    assert not any("\x1b" in c for c in codes)


class OddIds(OddCodes):
    """A stand-in whose batch failures name their entry by a list, not its ``Id``."""

    async def _answer(self, request: web.Request) -> web.Response:
        entries = (await request.json())["Entries"]
        failed = [{"Id": [e["Id"]], "Code": "InternalError"} for e in entries[1:]]
        answer = {"Successful": [{"Id": entries[0]["Id"]}], "Failed": failed}
        return web.json_response(answer, content_type="application/x-amz-json-1.0")


async def test_a_delete_failure_named_by_no_id_s_text_is_not_tried_again() -> None:
    """Two messages deleted, the stand-in fails one naming it by a list: counted as a
    failed delete and warned of, not tried again (which message it was is not known),
    and the delete returns (raised, unhashable, it ended the poller)."""
    logs = sesd_logs("info")
    async with OddIds() as endpoint, aws_client("sqs", endpoint) as sqs:
        p, metrics = poller(sqs, f"{endpoint.url}/123456789012/q")
        messages: Any = [{"MessageId": f"m{i}", "ReceiptHandle": f"r{i}"} for i in range(2)]
        assert await p._deletes.delete(messages) == 1
    errors = metrics.registry.get_sample_value(
        "sesd_sqs_errors_total",
        {"queue": "q", "account": "default", "region": "us-east-1", "operation": "delete"},
    )
    assert errors == 1
    said = said_in(logs)
    assert said["sesd.sqs.delete_partly_failed"]["retrying"] == 0


class StrangerFailures(OddCodes):
    """A stand-in that deletes every entry sent, yet lists failures of entries never
    sent (ids of its own) and one of a sent entry twice."""

    async def _answer(self, request: web.Request) -> web.Response:
        entries = (await request.json())["Entries"]
        failed = [{"Id": f"x{i}", "Code": "InternalError"} for i in range(5)]
        failed += [{"Id": entries[0]["Id"], "Code": "InternalError"}] * 2
        answer = {"Successful": [{"Id": e["Id"]} for e in entries[1:]], "Failed": failed}
        return web.json_response(answer, content_type="application/x-amz-json-1.0")


async def test_a_delete_failure_naming_no_entry_sent_is_not_counted() -> None:
    """Two messages deleted, the stand-in fails the first twice over and five entries
    never sent: one failed delete counted, one deleted (counted by what was answered,
    the delete said -11 deleted, and 14 failed)."""
    async with StrangerFailures() as endpoint, aws_client("sqs", endpoint) as sqs:
        p, metrics = poller(sqs, f"{endpoint.url}/123456789012/q")
        messages: Any = [{"MessageId": f"m{i}", "ReceiptHandle": f"r{i}"} for i in range(2)]
        assert await p._deletes.delete(messages) == 1
    errors = metrics.registry.get_sample_value(
        "sesd_sqs_errors_total",
        {"queue": "q", "account": "default", "region": "us-east-1", "operation": "delete"},
    )
    assert errors == 2  # the first, at each of its two tries


async def test_a_release_failure_naming_no_entry_sent_is_not_counted() -> None:
    """The same stand-in answering a release of two messages: one entry not given back
    (the first, named twice) is counted, not the seven failures listed."""
    async with StrangerFailures() as endpoint, aws_client("sqs", endpoint) as sqs:
        p, metrics = poller(sqs, f"{endpoint.url}/123456789012/q")
        messages: Any = [{"MessageId": f"m{i}", "ReceiptHandle": f"r{i}"} for i in range(2)]
        await p._deletes.release(messages)
    errors = metrics.registry.get_sample_value(
        "sesd_sqs_errors_total",
        {"queue": "q", "account": "default", "region": "us-east-1", "operation": "release"},
    )
    assert errors == 1


class NamelessFirst(OddCodes):
    """A stand-in whose first batch answer lists three failures naming no entry before
    the one naming the second entry sent; it takes every later batch whole."""

    def __init__(self) -> None:
        super().__init__()
        self.batches = 0

    async def _answer(self, request: web.Request) -> web.Response:
        entries = (await request.json())["Entries"]
        self.batches += 1
        if self.batches > 1:
            answer: dict[str, Any] = {"Successful": [{"Id": e["Id"]} for e in entries]}
        else:
            failed: list[dict[str, Any]] = [{"Code": "InternalError"}] * 3
            failed.append({"Id": entries[1]["Id"], "Code": "InternalError"})
            answer = {"Successful": [{"Id": entries[0]["Id"]}], "Failed": failed}
        return web.json_response(answer, content_type="application/x-amz-json-1.0")


async def test_a_failure_naming_its_entry_is_kept_before_those_naming_none() -> None:
    """Two messages deleted; the answer lists three failures naming no entry, then one
    naming the second: that one is tried again (and taken), not cut off behind the
    nameless (cut at one per entry sent, the named one was dropped: its message came
    back after its visibility timeout)."""
    logs = sesd_logs("info")
    async with NamelessFirst() as endpoint, aws_client("sqs", endpoint) as sqs:
        p, _ = poller(sqs, f"{endpoint.url}/123456789012/q")
        messages: Any = [{"MessageId": f"m{i}", "ReceiptHandle": f"r{i}"} for i in range(2)]
        await p._deletes.delete(messages)
    said = said_in(logs)
    assert said["sesd.sqs.delete_partly_failed"]["retrying"] == 1
    assert endpoint.batches == 2


class TextFaults(OddCodes):
    """A stand-in whose first delete fails every entry but the first, ``SenderFault``
    said as the text ``"false"`` (SQS's is a boolean), and whose next takes them all."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[list[str]] = []

    async def _answer(self, request: web.Request) -> web.Response:
        entries = (await request.json())["Entries"]
        self.calls.append([e["ReceiptHandle"] for e in entries])
        fault = [{"Id": e["Id"], "Code": "InternalError", "SenderFault": "false"} for e in entries]
        failed = fault[1:] if len(self.calls) == 1 else []
        answer = {"Successful": [{"Id": e["Id"]} for e in entries[: len(entries) - len(failed)]]}
        kind = "application/x-amz-json-1.0"
        return web.json_response({**answer, "Failed": failed}, content_type=kind)


async def test_a_sender_fault_that_is_no_boolean_is_no_sender_s_fault() -> None:
    """Two messages deleted, the second failed with ``SenderFault: "false"``: it is
    tried again, and deleted (the text counted as true: not tried again, the message
    back as a duplicate after its visibility timeout)."""
    async with TextFaults() as endpoint, aws_client("sqs", endpoint) as sqs:
        p, _ = poller(sqs, f"{endpoint.url}/123456789012/q")
        messages: Any = [{"MessageId": f"m{i}", "ReceiptHandle": f"r{i}"} for i in range(2)]
        assert await p._deletes.delete(messages) == 2
    assert endpoint.calls == [["r0", "r1"], ["r1"]]
