"""What an AWS error may say in a log line, a label or a page: its code, never its
message (an SDK message may quote the request)."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Final, Literal

from botocore.exceptions import ClientError

__all__ = [
    "NO_CREDENTIALS_IN_ANSWER",
    "asked_in",
    "assume_role_failure",
    "error_code",
    "no_credentials",
    "note_statuses",
    "signed_off",
    "sts_region",
]

#: STS's codes for an AssumeRole it throttled.
_STS_THROTTLED: Final = frozenset({"Throttling", "ThrottlingException", "RequestLimitExceeded"})
#: The status a proxy or a gateway in front of STS limits the rate with (STS's own
#: throttle is a 400 that says one of :data:`_STS_THROTTLED`).
_TOO_MANY: Final = 429
#: STS's codes for its own trouble (with any 5xx).
_STS_UNAVAILABLE: Final = frozenset(
    {"ServiceUnavailable", "InternalFailure", "InternalError", "IDPCommunicationError"}
)

#: How AWS begins what it says of a signature made too long before, or after, its clock
#: (under a code that also names a wrong secret key).
_SIGNED_OFF: Final = ("Signature expired", "Signature not yet current")


#: The code of a request that reached AWS more than 15 minutes from its date stamp (the
#: query protocol's, STS's, any API's): the host's clock, as a pre-signed URL is not used.
_EXPIRED: Final = "RequestExpired"


#: The code of an AssumeRole answered without the credentials STS gives (an endpoint
#: that is not quite STS's: a proxy, an ``endpoint_url`` set wrong), so it is told as a
#: role not assumed, not as a fault of sesd's.
NO_CREDENTIALS_IN_ANSWER: Final = "NoCredentialsInAnswer"


#: The status of the latest answer botocore began to parse in this task (an AssumeRole
#: is awaited in the task that needs its credentials): what a parser that raised
#: leaves untold.
_STATUS: ContextVar[int] = ContextVar("sesd_answer_status", default=200)


#: The event botocore emits before it parses an AssumeRole answer.
_PARSING: Final = "before-parse.sts.AssumeRole"
#: The event botocore emits once it parsed one, before it raises an error's.
_PARSED: Final = "after-call.sts.AssumeRole"


def note_statuses(sts: Any) -> None:
    """Have botocore note the status of each AssumeRole answer STS's client ``sts``
    parses, for :func:`no_credentials`, and name a passing one's error by its status
    where the answer names none (once a client)."""
    sts.meta.events.register(_PARSING, _note_status, unique_id=_PARSING)
    sts.meta.events.register(_PARSED, _name_by_status, unique_id=_PARSED)


def _note_status(response_dict: dict[str, Any], **_: Any) -> None:
    _STATUS.set(int(response_dict.get("status_code", 200)))


def _name_by_status(http_response: Any, parsed: Any, **_: Any) -> None:
    """An answer of 429 or a 5xx that names no error code (a proxy's or a gateway's page
    botocore reads as XML: it tells a 5xx page by its status only when the page begins
    ``<html>``): its code is the status, as :func:`no_credentials` says one it could not
    read, not a code-less error ("Unknown") its lines and counts would say nothing of."""
    status = int(getattr(http_response, "status_code", 200))
    if not isinstance(parsed, dict) or not (status == _TOO_MANY or status >= 500):
        return
    error = parsed.get("Error")
    if not isinstance(error, dict) or not error.get("Code"):
        parsed["Error"] = {"Code": str(status), "Message": "no error in the answer"}


def no_credentials() -> ClientError:
    """AssumeRole's error for an answer that holds no credentials sesd can read. One of a
    5xx status (a body botocore could not parse: a proxy's text, an Envoy's "upstream
    connect error") is STS, or the way to it, unavailable, as botocore tells a 5xx page
    that begins ``<html>``: its code the status, backed off, not a role refused; and so
    is one of a 429, a proxy's or a gateway's limit on the rate, throttled."""
    status = _STATUS.get()
    passing = status >= 500 or status == _TOO_MANY
    said: Any = {
        "Error": {
            "Code": str(status) if passing else NO_CREDENTIALS_IN_ANSWER,
            "Message": "no credentials in the answer",
        },
        "ResponseMetadata": {"HTTPStatusCode": status if passing else 200},
    }
    return ClientError(said, "AssumeRole")


#: The attribute an AssumeRole error of sesd's refresh carries: the region STS was asked
#: in (the ``[[accounts]]`` entry's, else ``[aws] region``), which the failed call's own
#: region, on its log line, need not be.
_ASKED_IN: Final = "sesd_sts_region"


def asked_in(exc: ClientError, region: str) -> None:
    """Note on ``exc`` (an AssumeRole error) the region STS was asked in."""
    setattr(exc, _ASKED_IN, region)


def sts_region(exc: BaseException) -> str:
    """The region an AssumeRole error's STS was asked in (:func:`asked_in`), else ""."""
    return str(getattr(exc, _ASKED_IN, ""))


def signed_off(exc: BaseException) -> bool:
    """Whether AWS refused the request for its time (the host's clock): its signature
    too old or too new, or the request expired."""
    if not isinstance(exc, ClientError):
        return False
    said = exc.response.get("Error", {}).get("Message")
    return error_code(exc) == _EXPIRED or str(said).startswith(_SIGNED_OFF)


def error_code(exc: BaseException) -> str:
    """An AWS error's code (``Throttling``, ``AccessDenied``...); "" for anything else
    (a network error, a timeout)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def assume_role_failure(exc: BaseException) -> Literal["", "throttled", "unavailable", "refused"]:
    """Why STS's AssumeRole failed, when ``exc`` is its error (an account's role,
    assumed at its clients' first call and before its credentials expire):
    ``throttled`` or ``unavailable`` (a 5xx, STS's own trouble) pass, the next call
    tries again; ``refused`` is the role or its trust policy, for a person to fix.
    "" for an error of any other call."""
    if not isinstance(exc, ClientError) or exc.operation_name != "AssumeRole":
        return ""
    code = error_code(exc)
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in _STS_THROTTLED or status == _TOO_MANY:
        return "throttled"
    return "unavailable" if code in _STS_UNAVAILABLE or status >= 500 else "refused"
