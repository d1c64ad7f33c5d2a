"""Why a poll's call failed and what the on-call is told: whether it may pass by itself,
how many times a poller asks it, and the log line's hint (sesd.account.poller and
sesd.account.tenants log and count them)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Final

import aiohttp
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, NoCredentialsError
from botocore.exceptions import ConnectionError as SdkConnectionError

from sesd.account.codes import TRANSIENT_CODES
from sesd.config.aws import (
    CLOCK_OFF,
    CREDENTIALS_REFUSED,
    NO_CREDENTIALS,
    denied_once_known,
    role_refused,
)
from sesd.config.unreached import CLOUDWATCH, SES, SES_TENANTS, unreached
from sesd.io.aws_errors import assume_role_failure, error_code, signed_off, sts_region
from sesd.io.sdk_blame import answer_too_deep, sesds_own, timestamp_unread

__all__ = [
    "ERRORS",
    "MAX_PAGES",
    "MAYBE_UNREAD",
    "UNREAD",
    "EndlessList",
    "MetricQueryFailed",
    "UnreadableAnswer",
    "WatchEnded",
    "answer_of",
    "code_of",
    "hint",
    "known_there",
    "passing",
    "text",
    "tries",
    "unread",
]

#: The most pages one read of a list asks for: 10,000 pages of 10 (the page size SES
#: chooses is not documented) are ten times SES's quota of tenants, and room for the
#: identities and configuration sets ListReputationEntities may list beside them. SES
#: ends its lists; one that does not (a page naming a token the read was given before,
#: pages past this) is an endpoint's fault, never read to its end.
MAX_PAGES: Final = 10_000


class EndlessList(Exception):
    """A paged list that does not end: its next token is one the read asked with
    before (the same pages again), or it named more than :data:`MAX_PAGES` pages."""


class MetricQueryFailed(Exception):
    """CloudWatch answered GetMetricData, but not each of its queries: a query's
    ``StatusCode`` other than ``Complete`` (``InternalError``, ``Forbidden``, or
    ``PartialData`` with no ``NextToken`` for the rest). Its datapoints are not all
    there: read as "none in the hours asked for", AWS's figure would be dropped."""

    def __init__(self, failed: dict[str, str]) -> None:
        #: The metric of each query not complete, and its status (cleaned, cut).
        self.failed = failed
        super().__init__(", ".join(f"{metric} {status}" for metric, status in failed.items()))


class UnreadableAnswer(Exception):
    """An answer the SDK's parser raised on (an object's member, or a list's item, given
    as a word or a number: botocore checks no member's type, and an endpoint that is not
    quite SES's may answer so). Refused as an answer: asked again, it comes back alike."""

    def __init__(self) -> None:
        super().__init__("an answer not of the API's shape")


#: What the SDK's parser raises on an answer not of its API's shape (botocore checks no
#: member's type): an object given as a word has no ``get``, a number no items, a
#: figure or a timestamp given as a word does not parse, and one given as a whole
#: number past a float's range (JSON has no bound on digits) overflows ``float()``.
UNREAD: Final = (AttributeError, TypeError, ValueError, OverflowError)
#: What the SDK's parser may raise on an answer (:func:`unread` tells which it did).
MAYBE_UNREAD: Final = (*UNREAD, RuntimeError)


async def answer_of(call: Callable[[], Awaitable[Any]]) -> Any:
    """``call``'s answer (an SDK client's call); :class:`UnreadableAnswer` where the
    SDK's parser raised on it (no fault of sesd's: a failed call, counted). What sesd's
    own code under the call raised (:func:`unread`) is raised as it is."""
    try:
        return await call()
    except MAYBE_UNREAD as exc:
        if not unread(exc):
            raise
        raise UnreadableAnswer from exc


def text(item: Any, key: str) -> str:
    """``item``'s member ``key`` when ``item`` is an object and that member text; else
    "", as if left out (an API model makes every member optional, and botocore passes
    on a member of another type as an endpoint answers it)."""
    value = item.get(key) if isinstance(item, dict) else None
    return value if isinstance(value, str) else ""


def unread(exc: BaseException) -> bool:
    """Whether ``exc`` is the SDK's parser's, of an answer not of its API's shape:
    :data:`UNREAD`, or the RuntimeError botocore's timestamp parser gives up with on a
    figure past any date (1e300 seconds), or the RecursionError its JSON loader raises
    on an answer nested deeper than it goes; any other RuntimeError is sesd's. So is one
    of :data:`UNREAD` raised by sesd's own code under the call (a hook of sesd's on the
    answer, sesd.account.flags; the role's credentials refreshed, sesd.runtime.aws): a
    bug, raised to the poll task's supervisor, which counts it and logs its traceback,
    not a failed poll retried for ever as SES's, the answer said unreadable
    (sesd.io.sdk_blame)."""
    if sesds_own(exc):
        return False
    if isinstance(exc, RecursionError):  # nested deeper than the SDK's JSON loader goes
        return answer_too_deep(exc) is not None
    return isinstance(exc, UNREAD) or timestamp_unread(exc)


class WatchEnded(Exception):
    """A call not asked: a reload ended the watch of its (account, region) that the
    round's client was made for (removed it, perhaps added it back with another role)
    before it was due. Counted and logged as nothing: the poller keeps nothing of a
    watch that ended (sesd.account.paging.Pacer.ask raises it)."""


#: What a failed call raises: counted and logged, never raised out of a poll.
ERRORS = (
    ClientError, BotoCoreError, aiohttp.ClientError, OSError, asyncio.TimeoutError,
    EndlessList, MetricQueryFailed, UnreadableAnswer, WatchEnded,
)  # fmt: skip


def passing(exc: BaseException, code: str) -> bool:
    """Whether a failure may pass by itself: throttled, SES's fault, or no answer."""
    if isinstance(exc, (EndlessList, UnreadableAnswer)):
        return False  # resumed at its looping token (the same page), it would fail again
    if isinstance(exc, MetricQueryFailed):
        return "Forbidden" not in exc.failed.values()  # CloudWatch's own trouble passes
    if not isinstance(exc, ClientError):
        return True
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return status == 429 or status >= 500 or "Throttl" in code


def known_there(exc: BaseException, code: str) -> bool:
    """Whether a failed call still says AWS knew the credentials in its region: it
    answered and the answer was not all sesd wanted (a query CloudWatch did not
    complete, a list that does not end), or IAM refused the action (decided only once
    AWS knows who signed). Not STS's refusal of the role: that is the credentials sesd
    runs with, not the account's."""
    if isinstance(exc, (MetricQueryFailed, EndlessList, UnreadableAnswer)):
        return True
    return denied_once_known(code) and not assume_role_failure(exc)


#: How many times in all a poller that retries by itself (the tenant poller, at its pace)
#: asks a call SES throttled, and one that failed as the SDK's standard retries would
#: have asked again (SES's 500/502/503/504, a timeout, a connection refused or cut):
#: three, as the SDK asked it.
THROTTLED_TRIES: Final = 4
TRANSIENT_TRIES: Final = 3


def tries(exc: BaseException) -> int:
    """How many times in all a call that failed with ``exc`` is asked by a poller whose
    clients make one attempt (:data:`THROTTLED_TRIES`, :data:`TRANSIENT_TRIES`); once
    for anything else: a refusal (denied, a bad token), or the role's credentials not
    had (STS's own client retried that already; the SDK never asked SES again for it)."""
    code = code_of(exc)
    if assume_role_failure(exc):
        return 1
    if _throttled(exc, code):
        return THROTTLED_TRIES
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        transient = status in (500, 502, 503, 504) or code in TRANSIENT_CODES
    else:
        transient = isinstance(exc, (SdkConnectionError, HTTPClientError))
    return TRANSIENT_TRIES if transient else 1


def _throttled(exc: BaseException, code: str) -> bool:
    """Whether SES (or STS) refused the call for its rate."""
    if "Throttl" in code or code == "TooManyRequestsException":
        return True
    if not isinstance(exc, ClientError):
        return False
    return bool(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) == 429)


def code_of(exc: BaseException) -> str:
    """An AWS error's code, else the exception's name (no answer)."""
    return error_code(exc) or type(exc).__name__


#: The IAM action of each API polled.
_PERMISSIONS: Final = {
    "get_account": "ses:GetAccount",
    "get_metric_data": "cloudwatch:GetMetricData",
    "list_tenants": "ses:ListTenants",
    "list_tenant_resources": "ses:ListTenantResources",
    "list_reputation_entities": "ses:ListReputationEntities",
    "list_recommendations": "ses:ListRecommendations",
}


#: The key naming each API's endpoint, and the setting that stops its polls: a refusal
#: from a local endpoint with no SES or CloudWatch (a local SQS's, taken from [aws]
#: endpoint_url) comes back at every poll until one or the other changes.
_ENDPOINTS: Final = {
    "get_account": ("[account_health] ses_endpoint_url", "[account_health] enabled = false"),
    "get_metric_data": (
        "[account_health] cloudwatch_endpoint_url",
        "[account_health] cloudwatch = false",
    ),
}
_TENANTS_ENDPOINT: Final = ("[tenants] endpoint_url", "[tenants] enabled = false")
#: What chooses each API's endpoint (the tenant poll's: SES_TENANTS).
_CHOOSERS: Final = {"get_account": SES, "get_metric_data": CLOUDWATCH}


def hint(api: str, code: str, exc: BaseException) -> str:
    """What the log line of ``api``'s failure with ``code`` says to do about it."""
    if isinstance(exc, NoCredentialsError):  # no poll will find them by itself
        return NO_CREDENTIALS
    if signed_off(exc):  # STS's refusal of the role too: no poll passes until it is fixed
        return CLOCK_OFF
    sts = assume_role_failure(exc)  # the API's own permission is not the cause
    if sts == "refused":
        return role_refused(error_code(exc), sts_region(exc))
    if sts:
        return f"STS {sts} (AssumeRole of the account's role): the next poll tries again"
    if isinstance(exc, MetricQueryFailed):
        return _unanswered(exc)
    said = _endpoints_fault(api, exc)
    if said is not None:
        return said
    if code in CREDENTIALS_REFUSED:
        return CREDENTIALS_REFUSED[code]
    if "AccessDenied" in code or code == "UnauthorizedOperation":
        permission = _PERMISSIONS.get(api, api)
        return f"grant {permission} to the credentials (or role) sesd uses here"
    if _throttled(exc, code):
        return f"throttled: {_AGAIN.get(api, _TRY_AGAIN)}"
    if not passing(exc, code):
        # A 4xx that is no throttle (a 404 from an endpoint that is not SES's, an API the
        # region lacks): asking again will not help, a person has to look.
        key, off = _ENDPOINTS.get(api, _TENANTS_ENDPOINT)
        return (
            f"refused ({code}): the next poll will ask again but this does not pass by "
            f"itself; check the region and {key} (else [aws] endpoint_url or "
            f"$AWS_ENDPOINT_URL), if one is set; where that endpoint has no such API (a "
            f"local SQS's), {off}"
        )
    return _AGAIN.get(api, _TRY_AGAIN)


def _endpoints_fault(api: str, exc: BaseException) -> str | None:
    """What a log line says of a failure an endpoint set by hand may make: nothing
    answering at it (the endpoint tried and what chose it), a list that does not end,
    an answer not of the API's shape. None for the others."""
    if said := unreached(exc, _CHOOSERS.get(api, SES_TENANTS)):
        return f"{said}; {_AGAIN.get(api, _TRY_AGAIN)}"
    service = "CloudWatch" if api == "get_metric_data" else "SES"
    if isinstance(exc, EndlessList):
        return (
            f"{exc}: the list is given up and started over from its first page at the "
            f"next poll; {service} ends its lists, so check the {service} endpoint_url, "
            "if one is set"
        )
    if isinstance(exc, UnreadableAnswer):
        return (
            f"{exc} (a word or a number where the API has an object, or a figure that does "
            "not read): the next poll asks again, from a list's first page; check the "
            f"{service} endpoint_url, if one is set"
        )
    return None


def _unanswered(exc: MetricQueryFailed) -> str:
    """What a log line says of GetMetricData queries CloudWatch did not complete."""
    said = f"CloudWatch did not complete the query of {exc}: AWS's figure stands as last read"
    if "Forbidden" in exc.failed.values():
        return (
            f"{said}; grant cloudwatch:GetMetricData on the AWS/SES metrics to the "
            "credentials (or role) sesd uses here"
        )
    if "PartialData" in exc.failed.values():
        said += " (partial data, and no NextToken to read the rest)"
    return f"{said}; {_TRY_AGAIN}"


_TRY_AGAIN: Final = "the next poll tries again"
#: What the next poll does after a call that may pass (throttled, 5xx, no answer) broke
#: a tenant list: it resumes it, it does not start over (sesd.account.tenants).
_AGAIN: Final = {
    **dict.fromkeys(
        ("list_tenants", "list_reputation_entities", "list_recommendations"),
        "the next poll resumes the list at the page it stopped at",
    ),
    "list_tenant_resources": "the next poll resumes the walk at the tenant it reached",
}
