"""What every SQS call shares: the errors it may raise and what to do about them, the
check of a queue at start, and the memory of invalid messages (the bound on calls in
flight during a stop: sesd.runtime.in_flight)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

import aiohttp
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
)

from sesd.config import QueueConfig
from sesd.config.aws import (
    CLOCK_OFF,
    CREDENTIALS_REFUSED,
    KEY_UNKNOWN,
    NO_CREDENTIALS,
    NO_QUEUE_CODES,
    denied_once_known,
    endpoint_of_url,
    region_not_enabled,
    role_refused,
)
from sesd.config.unreached import SQS
from sesd.config.unreached import unreached as nothing_answers
from sesd.core.accounts import Accounts, Target
from sesd.core.events import Invalid
from sesd.core.shown_urls import shown_origin
from sesd.core.text import clean
from sesd.io.aws_errors import assume_role_failure, error_code, signed_off, sts_region
from sesd.io.logs import get_logger
from sesd.io.sdk_blame import answer_too_deep, sesds_own
from sesd.io.sqs_answers import watch_check

if TYPE_CHECKING:
    from types_aiobotocore_sqs.client import SQSClient
else:
    SQSClient = Any

__all__ = [
    "DENIED",
    "PERMANENT_ERRORS",
    "SQS_ERRORS",
    "InvalidMemory",
    "batch_entries",
    "check_queue",
    "describe_error",
    "foreign_answer",
    "hint_for",
    "hint_in",
    "retries",
    "said_code",
    "text_member",
    "unreached",
]

#: What an SQS call may raise when SQS or the network is in trouble, or when the answer
#: is not SQS's (a proxy's page, a stand-in answering 200 with something else): the
#: SDK's parser then raises what reading a wrong shape raises. Only the SDK call is
#: inside each try; what sesd's own code under it raises (a hook's bug) is told apart
#: by sesd.io.sdk_blame.sesds_own, and raised on as sesd's fault.
SQS_ERRORS = (
    ClientError,
    BotoCoreError,
    aiohttp.ClientError,
    OSError,
    asyncio.TimeoutError,
    AttributeError,
    KeyError,
    TypeError,
    ValueError,
)

_REMEMBERED_INVALID = 10_000
#: The longest error code said (AWS's are short words).
_CODE_CHARS = 64

_NO_QUEUE = (
    "the queue does not exist in this region and account: check the queue URL, the "
    "queue's region (or [aws] region) and its account"
)
_NOT_ALLOWED = (
    "these credentials may not read the queue: grant sqs:ReceiveMessage, "
    "sqs:DeleteMessage, sqs:ChangeMessageVisibility and sqs:GetQueueAttributes on it"
)
_KMS_DENIED = (
    "the queue is encrypted with a KMS key these credentials may not use: grant kms:Decrypt on it"
)
_KMS_UNUSABLE = (
    "the queue's KMS key cannot be used (disabled, deleted or pending deletion, not a "
    "symmetric encryption key, or its key policy refuses): enable it, cancel its deletion "
    "or give the queue another key"
)
_KMS_OPT_IN = (
    "the account has not subscribed to KMS in the queue's region (KMS.OptInRequired): "
    "subscribe there, or give the queue a key it can use"
)
_WRONG_ENDPOINT = (
    "the endpoint sesd calls does not serve this queue URL: check the URL (a VPC endpoint's "
    "or a FIPS host is called as written), and the queue's region (or [aws] region)"
)
#: Error codes that no retry will cure soon: the queue is missing or not ours to read.
#: Each maps to the hint logged with it (SQS's query and JSON protocols name some
#: differently: both names are here).
PERMANENT_ERRORS = {
    **dict.fromkeys(NO_QUEUE_CODES, _NO_QUEUE),
    "AccessDenied": _NOT_ALLOWED,
    "AccessDeniedException": _NOT_ALLOWED,
    **CREDENTIALS_REFUSED,
    "KMS.AccessDeniedException": _KMS_DENIED,
    "KmsAccessDenied": _KMS_DENIED,
    **dict.fromkeys(
        [
            *("KMS.DisabledException", "KMS.NotFoundException", "KMS.InvalidStateException"),
            *("KMS.InvalidKeyUsageException", "KmsDisabled", "KmsNotFound"),
            *("KmsInvalidState", "KmsInvalidKeyUsage"),
        ],
        _KMS_UNUSABLE,
    ),
    "KMS.OptInRequired": _KMS_OPT_IN,
    "KmsOptInRequired": _KMS_OPT_IN,
    "InvalidAddress": _WRONG_ENDPOINT,
}
#: The codes of a refusal by IAM (whatever the call).
DENIED = frozenset({"AccessDenied", "AccessDeniedException"})


async def check_held(
    hold: AbstractAsyncContextManager[None],
    client: SQSClient,
    queue: QueueConfig,
    account: str,
    region: str,
    answered: Callable[[], None] = lambda: None,
    in_force: Callable[[], bool] = lambda: True,
) -> bool:
    """:func:`check_queue` inside ``hold`` (its client held: a reload that retires it
    closes it once the check has its answer, not under the call)."""
    async with hold:
        return await check_queue(client, queue, account, region, answered, in_force)


async def check_queue(
    client: SQSClient,
    queue: QueueConfig,
    account: str,
    region: str,
    answered: Callable[[], None] = lambda: None,
    in_force: Callable[[], bool] = lambda: True,
) -> bool:
    """Whether the queue can be read and has a RedrivePolicy (without one, invalid
    messages would cycle for ever: warned about); ``answered()`` once SQS answered
    (the queue is there and may be asked). A queue that does not exist or may not be
    read is reported by its pollers' first receive, once (queue, region, account and
    the hint that fits): here only at debug level. Once ``in_force()`` is False (a
    reload moved or removed the queue while its check was under way), what the place
    answers is that place's word: said at info, ``retired``, without a fix to make."""
    log = get_logger(queue=queue.label)
    failure: BaseException | None
    watch_check(client)  # (an answer without the attributes asked for: a failure)
    try:
        attrs = await client.get_queue_attributes(
            QueueUrl=queue.url, AttributeNames=["RedrivePolicy"]
        )
    except SQS_ERRORS as exc:
        if sesds_own(exc):  # a bug of sesd's: a fault (sesd.io.sdk_blame)
            raise
        failure = exc
    except RecursionError as exc:
        # An answer nested deeper than the SDK's loader goes: a failed check, as a
        # receive answered so is (sesd's own recursion stays its fault: sdk_blame).
        failure = answer_too_deep(exc)
        if failure is None:
            raise
    else:
        # A 200 that is not SQS's (a captive proxy's page), which the SDK reads as no
        # attributes: it says nothing of the queue's dead-letter queue. A failure, as a
        # receive answered so is.
        failure = foreign_answer(attrs)
    if failure is not None:
        if not in_force():
            log.info("sesd.sqs.attributes_failed", error=describe_error(failure), retired=True)
        elif error_code(failure) in DENIED and not assume_role_failure(failure):
            # The receives may work: nothing else would say this permission is missing.
            # (STS's AccessDenied is the role's: the receives fail and say so.)
            log.warning(
                "sesd.sqs.attributes_failed",
                error=describe_error(failure),
                hint="grant sqs:GetQueueAttributes on the queue: sesd reads its redrive "
                "policy with it (whether invalid messages have a dead-letter queue)",
            )
        elif hint_for(failure) is None:
            log.warning(
                "sesd.sqs.attributes_failed",
                error=describe_error(failure),
                **unreached(failure, queue.url),
            )
        else:
            log.debug(
                "sesd.sqs.attributes_failed",
                error=describe_error(failure),
                account=account,
                region=region,
            )
        return False
    answered()
    if "RedrivePolicy" not in attrs.get("Attributes", {}):
        if not in_force():
            # Not the queue in force's: sesd reads nothing there any more.
            log.info("sesd.sqs.no_redrive_policy", retired=True)
            return False
        log.warning(
            "sesd.sqs.no_redrive_policy",
            hint="invalid messages are left in the queue; add a dead-letter queue",
        )
        return False
    return True


def hint_for(exc: BaseException) -> str | None:
    """What to do about an error no retry will cure soon (None for the others)."""
    if isinstance(exc, NoCredentialsError):  # no AWS error code: the SDK never called
        return NO_CREDENTIALS
    if signed_off(exc):  # STS's refusal too: an account's role
        return CLOCK_OFF
    sts = assume_role_failure(exc)
    if sts:  # throttled or unavailable: backed off like any passing error
        return role_refused(error_code(exc), sts_region(exc)) if sts == "refused" else None
    return PERMANENT_ERRORS.get(error_code(exc))


#: How long an answer in another region vouches for the credentials: an SQS receive
#: answers within seconds, two account polls at the default ``poll_every``.
VOUCHED_FOR = 600.0


def hint_in(exc: BaseException, accounts: Accounts, target: Target, now: float) -> str | None:
    """:func:`hint_for` a call of ``target`` (account, region), with what ``accounts``
    holds of where its credentials work: a key AWS does not know here but answered
    lately in another region is the region's fault (one the account has not enabled),
    not the key's. A refusal of the credentials themselves is noted there, and so is an
    action IAM refused (decided only once AWS knew who signed: they work here)."""
    code = error_code(exc)
    if denied_once_known(code) and not assume_role_failure(exc):
        accounts.answered(target, now)
    if code not in CREDENTIALS_REFUSED or assume_role_failure(exc) or signed_off(exc):
        return hint_for(exc)
    accounts.refused(target)
    elsewhere = accounts.accepted_elsewhere(target, now - VOUCHED_FOR)
    if code in KEY_UNKNOWN and elsewhere:
        return region_not_enabled(target[1], elsewhere)
    return hint_for(exc)


def unreached(exc: BaseException, queue_url: str) -> dict[str, str]:
    """A ``hint`` for an endpoint nothing answers at (sesd.config.unreached): the
    endpoint tried and which setting chose it. Empty for other errors."""
    # A queue URL's own endpoint is used over [aws] endpoint_url (sesd.runtime.aws).
    named = (
        "the endpoint the queue's URL names (a VPC endpoint, FIPS or dual-stack): check "
        "that this network reaches it (DNS, a security group, a proxy)"
        if endpoint_of_url(queue_url)
        else ""
    )
    said = nothing_answers(exc, SQS, named)
    return {} if said is None else {"hint": said}


class InvalidMemory(dict[str, None]):
    """SQS message ids already judged invalid, so each is counted and logged once (the
    oldest forgotten past a bound). A dict: every message is looked up, and a
    ``__contains__`` written in Python cost about 700 instructions more than the dict's
    own (cachegrind)."""

    def add(self, message_id: str) -> None:
        """Remember ``message_id``; past the bound, the oldest goes."""
        self[message_id] = None
        if len(self) > _REMEMBERED_INVALID:
            del self[next(iter(self))]


def batch_entries(messages: list[Any], **extra: object) -> list[dict[str, Any]]:
    """A batch call's entries (``extra`` in each) for the messages SQS gave a receipt
    handle: one without, or with one that is no text (not from SQS), cannot be acted
    on (the SDK would refuse the whole batch for it)."""
    return [
        {"Id": str(i), "ReceiptHandle": handle, **extra}
        for i, m in enumerate(messages)
        if (handle := text_member(m, "ReceiptHandle"))
    ]


#: What a received body that is no text is (an object, a list, a number, a boolean).
_KINDS: dict[type, str] = {dict: "an object", list: "a list", bool: "a boolean"}


def body_no_text(body: object) -> Invalid:
    """A received message's body (its ``Body``) that is no text, neither missing nor
    ``null`` (an empty body, not JSON), as the invalid message it makes: a field of the
    wrong type (``schema``), not a body "not JSON" (a stand-in's object may be JSON
    itself: a person would look for bytes that are not there)."""
    return Invalid("schema", f"body is no text but {_KINDS.get(type(body), 'a number')}")


def text_member(message: Any, name: str) -> str:
    """A received message's member ``name``: text, as SQS's are; "" where it is missing
    or is not (botocore checks no member's type: a stand-in's list, number, object)."""
    value = message.get(name, "")
    return value if isinstance(value, str) else ""


def describe_error(exc: BaseException) -> str:
    """An error's class and code, never its full text (it may echo a request). Both are
    the endpoint's text (botocore passes a code on as answered, of any length; the
    SDK's own errors may quote an answer's body): escaped and cut."""
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "?")
        return f"{type(exc).__name__}: {said_code(str(code))}"
    text = str(exc)
    if isinstance(exc, BotoCoreError):
        # The SDK's network errors quote the request's URL, the endpoint's query with
        # it: a token written there would be logged at every failed receive.
        for key in ("endpoint_url", "proxy_url"):
            url = exc.kwargs.get(key)
            if isinstance(url, str) and url:
                text = text.replace(url, shown_origin(url))
    return clean(f"{type(exc).__name__}: {text}", 300)


def foreign_answer(answer: Any) -> ValueError | None:
    """The failure of an answer of 200 that is not SQS's JSON (a captive proxy's login
    page, a load balancer's empty 200 of no type: SQS always says its type), which the
    SDK reads as an empty one; None for SQS's own."""
    kind = answer["ResponseMetadata"].get("HTTPHeaders", {}).get("content-type")
    if kind is None:
        return ValueError("an answer without a content type, not SQS's JSON")
    if "json" in kind:
        return None
    return ValueError(f"an answer of type {kind[:60]!r}, not SQS's JSON")


def said_code(code: str) -> str:
    """An error's code as a log line says it: escaped and cut (the endpoint's text)."""
    return clean(code, _CODE_CHARS)


def retries(answer: object) -> int:
    """How often the SDK tried a call again before ``answer``: a response, or the
    error it raised (an error without SQS's answer, the network's, says nothing)."""
    if isinstance(answer, ClientError):
        answer = answer.response
    if not isinstance(answer, dict):
        return 0
    return int(answer.get("ResponseMetadata", {}).get("RetryAttempts", 0))
