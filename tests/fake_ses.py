"""A local SESv2 endpoint (``SendEmail``, ``GetAccount``) that can be slow, throttle,
fail or hang.

It answers as the real API does: ``POST /v2/email/outbound-emails``, 200 with
``{"MessageId": ...}``; errors carry the ``x-amzn-ErrorType`` header and a
JSON ``message`` (429 ``TooManyRequestsException``, 400 ``MessageRejected``,
500 ``InternalFailure``), which is how botocore's REST-JSON parser reads them.
A test scripts answers with :meth:`FakeSes.script`; unscripted requests are
accepted at once. ``GET /v2/email/account`` (moto has no GetAccount) answers
the account :attr:`FakeSes.account` describes (or, by the access key the call
was signed with, :attr:`FakeSes.account_by_key`), or the status scripted with
:meth:`FakeSes.script_account` (429 ``TooManyRequestsException``...), held
while :attr:`FakeSes.account_gate` is an unset event.
A region in :attr:`FakeSes.refused_regions` (by the region a request is signed
for) refuses the credentials, as a region the account has not enabled does.

It is STS too (``[aws] endpoint_url``, for an account's role): ``POST /`` with
``Action=AssumeRole`` answers credentials for an hour, or STS's XML error for a
status scripted with :meth:`FakeSes.script_sts` (400 ``Throttling``, 403
``AccessDenied``, 503 ``ServiceUnavailable``), as botocore's query parser reads it.

And SES's first API's configuration sets (``POST /`` with ``Action=``, what ``sesd
setup`` calls; moto keeps one event destination a set, and cannot update it):
``CreateConfigurationSet``, ``DescribeConfigurationSet``,
``CreateConfigurationSetEventDestination`` and ``UpdateConfigurationSetEventDestination``,
answered in its XML, errors (``ConfigurationSetDoesNotExist``,
``EventDestinationAlreadyExists``, ``EventDestinationDoesNotExist``) as a 400.
:attr:`FakeSes.configuration_sets` holds each set's destinations.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
from aiohttp import web

from sesd.commands.demo.localhttp import LocalServer

_ERRORS = {
    429: "TooManyRequestsException",
    400: "MessageRejected",
    500: "InternalFailure",
    403: "AccessDeniedException",
    404: "NotFoundException",
}
#: STS's error codes by status (it throttles with a 400).
_STS_ERRORS = {400: "Throttling", 403: "AccessDenied", 503: "ServiceUnavailable"}
_STS_XML = "https://sts.amazonaws.com/doc/2011-06-15/"
_SES_XML = "http://ses.amazonaws.com/doc/2010-12-01/"
#: The rest of an ``[aws]`` section and an account polled through its role (AssumeRole
#: on the fake's STS).
ROLE_ACCOUNT = (
    'access_key_id = "testing"\nsecret_access_key = "testing"\n[[accounts]]\n'
    'name = "prod-eu"\nrole_arn = "arn:aws:iam::210987654321:role/sesd"\n'
    'region = "eu-west-1"\n'
)


@dataclass(frozen=True)
class Reply:
    """One scripted answer: a status, after ``delay`` seconds, or held until released;
    ``body``, when given, is answered as is (text/html: a proxy's page, not SES's)."""

    status: int = 200
    delay: float = 0.0
    hold: bool = False
    body: str | None = None


class FakeSes(LocalServer):
    """The endpoint; ``requests`` holds each request's JSON, ``answered`` each status."""

    def __init__(self) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests: list[Any] = []
        #: The region each SendEmail was signed for (its credential scope's).
        self.signed: list[str] = []
        #: When each request arrived (anyio's clock): how far apart calls were.
        self.arrived: list[float] = []
        self.answered: list[int] = []
        self.held = 0
        self._script: deque[Reply] = deque()
        self._release = anyio.Event()
        self._changed = anyio.Event()
        self._ids = itertools.count(1)
        #: What GetAccount answers (SESv2's field names).
        self.account: dict[str, Any] = healthy_account()
        self.account_requests = 0
        #: The access key each GetAccount was signed with (a role's, as STS gave it).
        self.account_keys: list[str] = []
        #: What GetAccount answers a request signed with a given access key, over
        #: :attr:`account` (one role's account answering apart from another's).
        self.account_by_key: dict[str, dict[str, Any]] = {}
        self._account_script: deque[int | tuple[int, str]] = deque()
        #: Regions whose GetAccount refuses the credentials (by the region the request
        #: is signed for), with the code: 403 ``UnrecognizedClientException`` is what a
        #: region the account has not enabled answers.
        self.refused_regions: dict[str, str] = {}
        #: While set, GetAccount calls are held (counted first) until it is set.
        self.account_gate: anyio.Event | None = None
        #: AssumeRole calls (form fields), and the statuses scripted for the next ones.
        self.assume_role: list[dict[str, str]] = []
        self._sts_script: deque[int | tuple[int, str]] = deque()
        #: How long each AssumeRole takes to answer (a far or busy STS).
        self.sts_delay = 0.0
        #: Each configuration set's event destinations, by name (SES's field names).
        self.configuration_sets: dict[str, dict[str, dict[str, Any]]] = {}

    def script(self, *replies: Reply) -> None:
        """Answer the next requests so."""
        self._script.extend(replies)

    def release(self) -> None:
        """Let held requests be answered (a request held after this waits for the next)."""
        self._release.set()
        self._release = anyio.Event()

    async def wait_for(self, predicate: Any) -> None:
        """Return once ``predicate(self)`` holds, re-checked after each request."""
        while not predicate(self):
            await self._changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def _send(self, request: web.Request) -> web.Response:
        reply = self._script.popleft() if self._script else Reply()
        self.requests.append(json.loads(await request.read()))
        self.signed.append(_signed_for(request))
        self.arrived.append(anyio.current_time())
        if reply.hold:
            self.held += 1
            self._notify()
            await self._release.wait()
            self.held -= 1
        if reply.delay:
            await anyio.sleep(reply.delay)  # the endpoint is slow; nothing waits on it here
        self.answered.append(reply.status)
        self._notify()
        if reply.body is not None:
            return web.Response(text=reply.body, status=reply.status, content_type="text/html")
        if reply.status == 200:
            return web.json_response({"MessageId": f"fake-ses-{next(self._ids):06d}"})
        error = _ERRORS.get(reply.status, "InternalFailure")
        return web.json_response(
            {"message": f"scripted {error}"},
            status=reply.status,
            headers={"x-amzn-ErrorType": f"{error}:http://internal.amazon.com/"},
        )

    def script_account(self, *statuses: int | tuple[int, str]) -> None:
        """Answer the next GetAccount calls with these statuses (200: :attr:`account`),
        each with its usual error code or, given as (status, code), that one."""
        self._account_script.extend(statuses)

    async def _get_account(self, request: web.Request) -> web.Response:
        scripted = self._account_script.popleft() if self._account_script else 200
        status, error = scripted if isinstance(scripted, tuple) else (scripted, "")
        region = _signed_for(request)
        if region in self.refused_regions:
            status, error = 403, self.refused_regions[region]
        key = _signed_by(request)
        self.account_keys.append(key)
        self.account_requests += 1
        self._notify()
        if self.account_gate is not None:
            await self.account_gate.wait()
        if status == 200:
            return web.json_response(self.account_by_key.get(key, self.account))
        error = error or _ERRORS.get(status, "InternalFailure")
        return web.json_response(
            {"message": f"scripted {error}"},
            status=status,
            headers={"x-amzn-ErrorType": f"{error}:http://internal.amazon.com/"},
        )

    def script_sts(self, *statuses: int | tuple[int, str]) -> None:
        """Answer the next AssumeRole calls with these statuses (200: credentials), each
        error with its usual code or, given as (status, code), that one."""
        self._sts_script.extend(statuses)

    async def _sts(self, request: web.Request) -> web.Response:
        form = {key: str(value) for key, value in (await request.post()).items()}
        self.assume_role.append(form)
        scripted = self._sts_script.popleft() if self._sts_script else 200
        status, code = (
            scripted
            if isinstance(scripted, tuple)
            else (scripted, _STS_ERRORS.get(scripted, "InternalFailure"))
        )
        self._notify()
        if self.sts_delay:
            await anyio.sleep(self.sts_delay)  # STS is slow; nothing waits on it here
        if status != 200:
            body = (
                f'<ErrorResponse xmlns="{_STS_XML}"><Error><Type>Sender</Type>'
                f"<Code>{code}</Code><Message>scripted {code}</Message></Error>"
                "<RequestId>fake-sts</RequestId></ErrorResponse>"
            )
            return web.Response(text=body, status=status, content_type="text/xml")
        expires = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = (
            f'<AssumeRoleResponse xmlns="{_STS_XML}"><AssumeRoleResult>'
            "<AssumedRoleUser><AssumedRoleId>AROAFAKE:sesd</AssumedRoleId>"
            f"<Arn>{form.get('RoleArn', '')}/sesd</Arn></AssumedRoleUser>"
            "<Credentials><AccessKeyId>ASIAFAKE</AccessKeyId>"
            "<SecretAccessKey>fake-secret</SecretAccessKey><SessionToken>fake-token</SessionToken>"
            f"<Expiration>{expires}</Expiration></Credentials></AssumeRoleResult>"
            "<ResponseMetadata><RequestId>fake-sts</RequestId></ResponseMetadata>"
            "</AssumeRoleResponse>"
        )
        return web.Response(text=body, content_type="text/xml")

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v2/email/outbound-emails", self._send)
        app.router.add_get("/v2/email/account", self._get_account)
        app.router.add_post("/", self._query)

    def close(self) -> None:
        self._release.set()

    async def _query(self, request: web.Request) -> web.Response:
        """The query protocol's one path: SES's configuration sets, else STS's
        AssumeRole (aiohttp keeps the form read, for ``_sts`` to read again)."""
        form = {key: str(value) for key, value in (await request.post()).items()}
        if "ConfigurationSet" in form.get("Action", ""):
            return self._configuration_sets(form)
        return await self._sts(request)

    def _configuration_sets(self, form: dict[str, str]) -> web.Response:
        action, name = form.get("Action", ""), form.get("ConfigurationSetName", "")
        if action == "CreateConfigurationSet":
            self.configuration_sets.setdefault(form.get("ConfigurationSet.Name", ""), {})
            return _ses_answer(action, "")
        if name not in self.configuration_sets:
            return _ses_error("ConfigurationSetDoesNotExist", f"{name} does not exist")
        destinations = self.configuration_sets[name]
        if action == "DescribeConfigurationSet":
            members = "".join(_destination_xml(d) for d in destinations.values())
            found = f"<ConfigurationSet><Name>{name}</Name></ConfigurationSet>"
            return _ses_answer(action, f"{found}<EventDestinations>{members}</EventDestinations>")
        if action == "DeleteConfigurationSetEventDestination":
            if destinations.pop(form.get("EventDestinationName", ""), None) is None:
                return _ses_error("EventDestinationDoesNotExist", form["EventDestinationName"])
            return _ses_answer(action, "")
        destination = _destination(form)
        there = destination["Name"] in destinations
        if action == "CreateConfigurationSetEventDestination" and there:
            return _ses_error("EventDestinationAlreadyExists", destination["Name"])
        if action == "UpdateConfigurationSetEventDestination" and not there:
            return _ses_error("EventDestinationDoesNotExist", destination["Name"])
        destinations[destination["Name"]] = destination
        return _ses_answer(action, "")


def _destination(form: dict[str, str]) -> dict[str, Any]:
    """An ``EventDestination`` from a query form's flattened ``EventDestination.*``."""
    prefix = "EventDestination.MatchingEventTypes.member."
    types = sorted((int(k[len(prefix) :]), v) for k, v in form.items() if k.startswith(prefix))
    return {
        "Name": form.get("EventDestination.Name", ""),
        "Enabled": form.get("EventDestination.Enabled", "false") == "true",
        "MatchingEventTypes": [value for _, value in types],
        "SNSDestination": {"TopicARN": form.get("EventDestination.SNSDestination.TopicARN", "")},
    }


def _destination_xml(destination: dict[str, Any]) -> str:
    """A destination as DescribeConfigurationSet lists it: SNS's (what setup makes), or
    CloudWatch's (one a user made), named by the key it was given."""
    types = "".join(f"<member>{t}</member>" for t in destination["MatchingEventTypes"])
    if "CloudWatchDestination" in destination:
        where = (
            "<CloudWatchDestination><DimensionConfigurations><member><DimensionName>"
            "campaign</DimensionName><DimensionValueSource>messageTag</DimensionValueSource>"
            "<DefaultDimensionValue>none</DefaultDimensionValue></member>"
            "</DimensionConfigurations></CloudWatchDestination>"
        )
    else:
        topic = destination["SNSDestination"]["TopicARN"]
        where = f"<SNSDestination><TopicARN>{topic}</TopicARN></SNSDestination>"
    return (
        f"<member><Name>{destination['Name']}</Name>"
        f"<Enabled>{str(destination['Enabled']).lower()}</Enabled>"
        f"<MatchingEventTypes>{types}</MatchingEventTypes>{where}</member>"
    )


def _ses_answer(action: str, result: str) -> web.Response:
    body = (
        f'<{action}Response xmlns="{_SES_XML}"><{action}Result>{result}</{action}Result>'
        f"<ResponseMetadata><RequestId>fake-ses</RequestId></ResponseMetadata></{action}Response>"
    )
    return web.Response(text=body, content_type="text/xml")


def _ses_error(code: str, message: str) -> web.Response:
    body = (
        f'<ErrorResponse xmlns="{_SES_XML}"><Error><Type>Sender</Type><Code>{code}</Code>'
        f"<Message>{message}</Message></Error><RequestId>fake-ses</RequestId></ErrorResponse>"
    )
    return web.Response(text=body, status=400, content_type="text/xml")


def _signed_for(request: web.Request) -> str:
    """The region a SigV4 request is signed for (its credential scope's)."""
    found = re.search(r"Credential=[^/]*/\d{8}/([^/]+)/", request.headers.get("Authorization", ""))
    return found.group(1) if found else ""


def _signed_by(request: web.Request) -> str:
    """The access key a SigV4 request is signed with."""
    found = re.search(r"Credential=([^/,]+)/", request.headers.get("Authorization", ""))
    return found.group(1) if found else ""


def healthy_account(sent: float = 1200.0) -> dict[str, Any]:
    """A GetAccount answer: production access, sending enabled, HEALTHY."""
    return {
        "DedicatedIpAutoWarmupEnabled": False,
        "EnforcementStatus": "HEALTHY",
        "ProductionAccessEnabled": True,
        "SendingEnabled": True,
        "SendQuota": {"Max24HourSend": 50000.0, "MaxSendRate": 14.0, "SentLast24Hours": sent},
    }
