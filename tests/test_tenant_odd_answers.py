"""A tenant API answer whose members are not what SES's API model says (a proxy's, an
endpoint that is not SES's: botocore parses what it is given and checks no text
member's type) is read as far as it makes sense: a member that is no text (a number,
a list, an object) is as if left out; one the SDK's parser raises on (a word where
an object is) is a failed call, counted. Raised, either failed the tenant poll task
(``sesd_task_failures_total{task="tenant_poll"}``), started again 10 s later to fail
at the same page: that account's statuses and map never read. The local SESv2
tenants endpoint, its answers parsed by botocore."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from aiohttp import web

from sesd.commands.demo.localtenants import LocalTenants
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from tests.conftest import log_records, sesd_logs
from tests.test_tenant_passes import REGION, Clock, tenant_poller

ACCOUNT = "123456789012"
#: Alters an answer in place, or gives the text that stands for it.
Alter = Callable[[dict[str, Any]], str | None]


def _odd(key: str, alter: Callable[[dict[str, Any]], None]) -> Alter:
    """Each item of the answer's ``key`` that speaks of tenant ``odd``, altered."""

    def altered(answer: dict[str, Any]) -> None:
        for item in answer.get(key, []):
            if "odd" in json.dumps(item):
                alter(item)

    return altered


CASES: dict[str, tuple[str, Alter]] = {
    "aggregate-a-number": (
        "ListReputationEntities", _odd("ReputationEntities", lambda i: i.update(
            SendingStatusAggregate=5))),
    "status-words-not-text": (
        "ListReputationEntities", _odd("ReputationEntities", lambda i: i.update(
            AwsSesManagedStatus={"Status": 7, "Cause": ["x"]}, ReputationImpact=["HIGH"],
            ReputationManagementPolicy=3))),
    "entity-arn-a-number": (
        "ListReputationEntities", _odd("ReputationEntities", lambda i: i.update(
            ReputationEntityReference=123))),
    "finding-not-text": (
        "ListRecommendations", _odd("Recommendations", lambda i: i.update(
            Type=5, Impact={"x": 1}, Description=["d"]))),
    "finding-arn-a-list": (
        "ListRecommendations", _odd("Recommendations", lambda i: i.update(
            ResourceArn=["odd"]))),
    "tenant-name-a-number": (
        "ListTenants", _odd("Tenants", lambda i: i.update(TenantName=7, TenantArn=[1]))),
    "tenants-token-a-number": ("ListTenants", lambda answer: answer.update(NextToken=5)),
    "resources-token-a-list": (
        "ListTenantResources", lambda answer: answer.update(NextToken=["odd"])),
}  # fmt: skip


class OddAnswers(LocalTenants):
    """SES's tenant endpoint, one operation's answers altered."""

    def __init__(self, operation: str, alter: Alter) -> None:
        super().__init__(ACCOUNT, REGION)
        self.operation, self.alter = operation, alter

    async def _answer(self, request: web.Request, operation: str) -> web.Response:
        response = await super()._answer(request, operation)
        if operation != self.operation or response.status != 200:
            return response
        answer = json.loads(response.body)  # type: ignore[arg-type]
        instead = self.alter(answer)
        if instead is not None:
            return web.Response(text=instead, content_type="application/json")
        return web.json_response(answer)


@pytest.mark.parametrize("case", list(CASES))
async def test_an_answer_not_of_ses_shape_is_read_as_far_as_it_makes_sense(case: str) -> None:
    """Tenants ``odd`` (paused by SES, with a finding) and ``globex``, each with a
    configuration set; one operation's answer is not of SES's shape where it speaks
    of ``odd`` (or of its list). The round ends without a fault: globex's status and
    configuration set are read, and odd's pause is kept where its word is read."""
    pipeline = Pipeline(core_settings(parse_config("[tenants]\nenabled = true\n")))
    async with OddAnswers(*CASES[case]) as tenants:
        tenants.add("odd", ("CONFIGURATION_SET", "set-odd"))
        tenants.pause("odd", "The bounce rate exceeded 15.0%.")
        tenants.tenants["odd"].findings.append(("BOUNCE", "HIGH", "bounces"))
        tenants.add("globex", ("CONFIGURATION_SET", "set-globex"))
        async with tenant_poller(tenants, pipeline, Clock(), recommendations=True) as poller:
            with anyio.fail_after(20):
                await poller.poll_once()
    ledger = pipeline.ledger
    sender = f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/example.com"
    assert ledger.tenant_map.tenant(sender, "set-globex") == "globex"
    assert ledger.tenant_status.status[("default", REGION, "globex")].sending == "ENABLED"
    if case == "aggregate-a-number":  # derived from SES's own status, as when left out
        assert ledger.tenant_status.status[("default", REGION, "odd")].paused
    assert not ledger.accounts.errors


def _items(key: str, value: Any) -> Alter:
    """The answer's ``key`` items, with ``value`` (no object) first."""
    return lambda answer: answer.__setitem__(key, [value, *answer.get(key, [])])


#: Answers botocore itself does not read: an object's member, or an item, given as a
#: word or a number (its parser raised AttributeError out of the call).
UNREAD: dict[str, tuple[str, Alter]] = {
    "status-a-word": (
        "ListReputationEntities", _odd("ReputationEntities", lambda i: i.update(
            AwsSesManagedStatus="DISABLED"))),
    "entity-no-object": ("ListReputationEntities", _items("ReputationEntities", "odd")),
    "finding-no-object": ("ListRecommendations", _items("Recommendations", 5)),
    "tenant-no-object": ("ListTenants", _items("Tenants", 5)),
    "resource-no-object": ("ListTenantResources", _items("TenantResources", "odd")),
    "time-a-word": (
        "ListTenants", _odd("Tenants", lambda i: i.update(CreatedTimestamp="yesterday"))),
    "list-a-number": ("ListTenantResources", lambda answer: answer.update(TenantResources=5)),
    # Past any date: botocore's timestamp parser raises RuntimeError, not ValueError.
    "time-past-any-date": (
        "ListTenants", _odd("Tenants", lambda i: i.update(CreatedTimestamp=1e300))),
    # A whole number past any float's range: that parser raises OverflowError.
    "time-past-a-float": (
        "ListTenants", _odd("Tenants", lambda i: i.update(CreatedTimestamp=10**400))),
    # Nested deeper than JSON's loader goes: the SDK's raises RecursionError.
    "nested-too-deeply": ("ListTenants", lambda answer: "[" * 5000 + "]" * 5000),
    # No JSON (a proxy's text): the SDK read it as an answer listing nothing, and
    # SES's statuses of every tenant were forgotten, a pause's alert resolved.
    "entities-no-json": ("ListReputationEntities", lambda answer: "Service Unavailable"),
    # JSON after a byte-order mark, which Python's loader takes and the SDK's parser
    # (UTF-8 only) read as an answer listing nothing, as it did a proxy's text.
    "entities-after-a-bom": (
        "ListReputationEntities", lambda answer: "\ufeff" + json.dumps(answer)),
}  # fmt: skip
_APIS = {
    "ListReputationEntities": "list_reputation_entities",
    "ListRecommendations": "list_recommendations",
    "ListTenants": "list_tenants",
    "ListTenantResources": "list_tenant_resources",
}


@pytest.mark.parametrize("case", list(UNREAD))
async def test_an_answer_botocore_does_not_read_is_a_failed_call(case: str) -> None:
    """One operation's answer holds a word where SES's API model has an object: botocore
    raised ``AttributeError`` out of the call, which failed the tenant poll task at
    every poll. It is now a failed call like a refused one: counted under
    ``UnreadableAnswer``, logged with a hint, asked once (the same answer would come
    back), the list started over at the next poll; the round goes on (the statuses
    read when the findings' or the walk's answer is the odd one)."""
    logs = sesd_logs("info")
    operation, alter = UNREAD[case]
    pipeline = Pipeline(core_settings(parse_config("[tenants]\nenabled = true\n")))
    async with OddAnswers(operation, alter) as tenants:
        tenants.add("odd", ("CONFIGURATION_SET", "set-odd"))
        tenants.tenants["odd"].findings.append(("BOUNCE", "HIGH", "bounces"))
        tenants.add("globex", ("CONFIGURATION_SET", "set-globex"))
        async with tenant_poller(tenants, pipeline, Clock(), recommendations=True) as poller:
            with anyio.fail_after(20):
                await poller.poll_once()
    ledger = pipeline.ledger
    api = _APIS[operation]
    # A tenant's resources are given up alone (the walk goes on to the next): here each
    # tenant's answer is the odd one, each asked once, each counted.
    each = 2 if operation == "ListTenantResources" else 1
    assert ledger.accounts.errors == {("default", REGION, api, "UnreadableAnswer"): each}
    assert tenants.calls[operation] == each
    if operation != "ListReputationEntities":
        assert ("default", REGION, "globex") in ledger.tenant_status.status
    records = log_records(logs)
    said = [r for r in records if r["event"] == "sesd.account.poll_failed"]
    if each == 2:  # told as a tenant given up, as one whose pages do not end
        assert not said
        said = [r for r in records if r["event"] == "sesd.tenants.tenant_skipped"]
        assert [r["tenant"] for r in said] == ["odd", "globex"]
    else:
        assert [(r["api"], r["error"]) for r in said] == [(api, "UnreadableAnswer")]
    assert "endpoint_url" in said[0]["hint"]
