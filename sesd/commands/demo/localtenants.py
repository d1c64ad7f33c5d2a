"""A local SESv2 tenant endpoint: ``ListTenants``, ``ListTenantResources``,
``ListReputationEntities`` and ``ListRecommendations``, answered as SES answers them
(REST-JSON, paged with ``NextToken``), so botocore's own parser reads every answer.

The demo pauses a tenant with it mid-run; the tests script throttling, hold it to a
call rate (each operation's own, as SES's quotas are, on a clock the test drives)
and watch the calls. moto has none of these APIs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from aiohttp import web

from sesd.commands.demo.localhttp import LocalServer

__all__ = ["LocalTenants", "Tenant"]

_POLICY = "arn:aws:ses:{region}:aws:reputation-policy/{policy}"


@dataclass(slots=True)
class Tenant:
    """One tenant as SES holds it."""

    name: str
    #: (resource type, ARN): CONFIGURATION_SET, EMAIL_IDENTITY, EMAIL_TEMPLATE.
    resources: list[tuple[str, str]] = field(default_factory=list)
    customer: str = "ENABLED"
    customer_cause: str | None = None
    aws: str = "ENABLED"
    aws_cause: str | None = None
    impact: str | None = None
    policy: str = "standard"
    #: Open findings: (type, impact, description).
    findings: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def sending(self) -> str:
        """SES's aggregate status."""
        if "DISABLED" in (self.customer, self.aws):
            return "DISABLED"
        return "REINSTATED" if "REINSTATED" in (self.customer, self.aws) else "ENABLED"


class LocalTenants(LocalServer):
    """The endpoint on a free loopback port, for one account and region."""

    def __init__(self, account: str = "123456789012", region: str = "us-east-1") -> None:
        super().__init__()
        self.account = account
        self.region = region
        self.url = f"http://127.0.0.1:{self.port}"
        self.tenants: dict[str, Tenant] = {}
        #: Calls by operation name.
        self.calls: dict[str, int] = {}
        #: Statuses to answer the next calls with (429: TooManyRequestsException, 500:
        #: InternalFailure, 400: BadRequestException, 404: NotFoundException).
        self.script: list[int] = []
        #: Operations answered 403 AccessDeniedException (a role without their permission).
        self.denied: set[str] = set()
        #: Operations answered 429 TooManyRequestsException, every time.
        self.throttled: set[str] = set()
        #: Operations whose every page names a next one, the token it was asked with
        #: (the first page's "0"): the same page for ever, as a proxy's bug may answer.
        self.endless: set[str] = set()
        #: Operations whose every page names the next, past the last item too (empty).
        self.bottomless: set[str] = set()
        #: Items a page holds at most (SES's page sizes are larger; small pages test paging).
        self.page = 50
        #: Calls a second each operation allows (0: any number): a call sooner than
        #: ``1 / rate`` after the last one answered is refused, 429, as SES throttles.
        self.rate = 0.0
        #: The time the rate is held to (a test's own clock makes it deterministic).
        self.clock: Callable[[], float] = time.monotonic
        self._answered_at: dict[str, float] = {}
        #: Seconds each request takes to reach SES, in turn (uneven, as on a network),
        #: and how the test's clock is moved on by them.
        self.transit: tuple[float, ...] = ()
        self.advance: Callable[[float], None] = lambda seconds: None
        #: Every call: (operation, its request's JSON), and the calls refused for the rate.
        self.asked: list[tuple[str, dict[str, Any]]] = []
        #: When each call reached SES, on :attr:`clock`.
        self.arrived: list[float] = []
        self.refused = 0
        #: Operations whose calls are held, unanswered, until :meth:`close`.
        self.held: set[str] = set()
        #: Set once a call is being held.
        self.holding = anyio.Event()
        self._release = anyio.Event()

    def arn(self, tenant: str) -> str:
        """A tenant's ARN (its id made up from its name)."""
        return f"arn:aws:ses:{self.region}:{self.account}:tenant/{tenant}/tn-{tenant}"

    def add(self, name: str, *resources: tuple[str, str]) -> Tenant:
        """A tenant with resources: (type, name) pairs, their ARNs made in this account."""
        kinds = {"CONFIGURATION_SET": "configuration-set", "EMAIL_IDENTITY": "identity"}
        where = f"arn:aws:ses:{self.region}:{self.account}"
        tenant = self.tenants[name] = Tenant(
            name, [(kind, f"{where}:{kinds.get(kind, 'template')}/{n}") for kind, n in resources]
        )
        return tenant

    def pause(self, name: str, cause: str, *, by_aws: bool = True) -> None:
        """SES (or the customer) pauses a tenant."""
        tenant = self.tenants[name]
        if by_aws:
            tenant.aws, tenant.aws_cause = "DISABLED", cause
        else:
            tenant.customer, tenant.customer_cause = "DISABLED", cause

    def reinstate(self, name: str) -> None:
        """The tenant is re-enabled and reinstated (active findings ignored)."""
        tenant = self.tenants[name]
        tenant.aws, tenant.customer = "ENABLED", "REINSTATED"
        tenant.aws_cause = tenant.customer_cause = None

    # --- the API ---------------------------------------------------------------

    async def _answer(self, request: web.Request, operation: str) -> web.Response:
        self.calls[operation] = self.calls.get(operation, 0) + 1
        body = json.loads(await request.read() or b"{}")
        self.asked.append((operation, body))
        if operation in self.held:
            self.holding.set()
            await self._release.wait()
        if self.transit:
            self.advance(self.transit[len(self.asked) % len(self.transit)])
        self.arrived.append(self.clock())
        if self.rate:
            now = self.clock()
            if now < self._answered_at.get(operation, float("-inf")) + 1 / self.rate:
                self.refused += 1
                return _throttled()
            self._answered_at[operation] = now
        if operation in self.denied:
            return web.json_response(
                {"message": "not authorized"},
                status=403,
                headers={"x-amzn-ErrorType": "AccessDeniedException:"},
            )
        if self.script or operation in self.throttled:
            status = self.script.pop(0) if self.script else 429
            if status != 200:
                return _throttled(status)
        if operation == "ListTenantResources" and body.get("TenantName") not in self.tenants:
            return _throttled(404)  # SES's answer for a tenant it does not hold (deleted)
        items, build, key = self._items(operation, body)
        start = int(body.get("NextToken") or 0)
        size = min(int(body.get("PageSize") or self.page), self.page)
        # Only the page asked for is built: a walk of 2,000 tenants asks for 200 pages.
        answer: dict[str, Any] = {key: [build(item) for item in items[start : start + size]]}
        if start + size < len(items):
            answer["NextToken"] = str(start + size)
        if operation in self.endless:
            answer["NextToken"] = str(start)
        elif operation in self.bottomless:
            answer["NextToken"] = str(start + size)
        return web.json_response(answer)

    def _items(
        self, operation: str, body: dict[str, Any]
    ) -> tuple[list[Any], Callable[[Any], dict[str, Any]], str]:
        """What ``operation`` lists, how an answer's item is made of one, its key."""
        if operation == "ListTenants":
            return list(self.tenants.values()), self._info, "Tenants"
        if operation == "ListTenantResources":
            return self.tenants[body["TenantName"]].resources, _resource, "TenantResources"
        if operation == "ListReputationEntities":
            return list(self.tenants.values()), self._entity, "ReputationEntities"
        found = [(t, *finding) for t in self.tenants.values() for finding in t.findings]
        return found, self._finding, "Recommendations"

    def _finding(self, found: tuple[Tenant, str, str, str]) -> dict[str, Any]:
        tenant, kind, impact, text = found
        return {
            "ResourceArn": self.arn(tenant.name),
            "Type": kind,
            "Impact": impact,
            "Description": text,
            "Status": "OPEN",
            "CreatedTimestamp": 1.7e9,
            "LastUpdatedTimestamp": 1.7e9,
        }

    def _info(self, tenant: Tenant) -> dict[str, Any]:
        return {
            "TenantName": tenant.name,
            "TenantId": f"tn-{tenant.name}",
            "TenantArn": self.arn(tenant.name),
            "CreatedTimestamp": 1.7e9,
            "SendingStatus": tenant.sending,
        }

    def _entity(self, tenant: Tenant) -> dict[str, Any]:
        found: dict[str, Any] = {
            "ReputationEntityReference": self.arn(tenant.name),
            "ReputationEntityType": "RESOURCE",
            "ReputationManagementPolicy": _POLICY.format(region=self.region, policy=tenant.policy),
            "CustomerManagedStatus": _record(tenant.customer, tenant.customer_cause),
            "AwsSesManagedStatus": _record(tenant.aws, tenant.aws_cause),
            "SendingStatusAggregate": tenant.sending,
        }
        if tenant.impact:
            found["ReputationImpact"] = tenant.impact
        return found

    def close(self) -> None:
        """Answer the calls held."""
        self._release.set()

    def routes(self, app: web.Application) -> None:
        for path, operation in (
            ("/v2/email/tenants/list", "ListTenants"),
            ("/v2/email/tenants/resources/list", "ListTenantResources"),
            ("/v2/email/reputation/entities", "ListReputationEntities"),
            ("/v2/email/vdm/recommendations", "ListRecommendations"),
        ):

            async def handler(request: web.Request, operation: str = operation) -> web.Response:
                return await self._answer(request, operation)

            app.router.add_post(path, handler)


def _resource(owned: tuple[str, str]) -> dict[str, Any]:
    kind, arn = owned
    return {"ResourceType": kind, "ResourceArn": arn}


def _throttled(status: int = 429) -> web.Response:
    """A refusal as SES words it: 429 throttled, 5xx its own failure, 404 a tenant it
    does not hold, 400 a bad request (a token it no longer takes)."""
    if status == 429:
        error = "TooManyRequestsException"
    elif status == 404:
        error = "NotFoundException"
    else:
        error = "InternalFailure" if status >= 500 else "BadRequestException"
    return web.json_response(
        {"message": "scripted"}, status=status, headers={"x-amzn-ErrorType": f"{error}:"}
    )


def _record(status: str, cause: str | None) -> dict[str, Any]:
    found: dict[str, Any] = {"Status": status, "LastUpdatedTimestamp": 1.7e9}
    if cause:
        found["Cause"] = cause
    return found
