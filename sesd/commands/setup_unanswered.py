"""What ``sesd setup`` stopped while AWS was asked for a change (Ctrl-C, no answer)
can say of that change: whether AWS may have acted on it, and what its undo names in
place of AWS's answer (sesd.commands.provision asks, sesd.commands.setup says)."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import aiohttp
import anyio
from botocore.exceptions import (
    ConnectTimeoutError,
    EndpointConnectionError,
    ProxyConnectionError,
    SSLError,
)

if TYPE_CHECKING:
    from sesd.commands.setup_plan import Plan, SetupOptions

__all__ = ["heard", "made_topic_arn", "unsent"]

#: How long setup waits for STS to say whose the credentials are (seconds): a call
#: answered in a second or less where STS is reached at all.
IDENTITY_WAIT = 5.0
#: A caller's ARN as STS says it (``arn:aws:sts::123456789012:assumed-role/r/s``,
#: ``arn:aws-cn:iam::123456789012:user/u``): its partition and account.
_CALLER = re.compile(r"arn:([a-z0-9-]+):[a-z]+::(\d{12}):\S")


def unsent(exc: BaseException) -> bool:
    """True when a call's failure proves its request never left: no connection was made
    (refused, no route, a name that does not resolve, a connect timeout, a TLS
    handshake or proxy that failed). A connection reset or a read timeout may follow a
    request AWS acted on; botocore says "could not connect" of a reset too, so the
    cause it wraps is what tells."""
    if isinstance(exc, (ConnectTimeoutError, ProxyConnectionError, SSLError)):
        return True
    cause = exc.kwargs.get("error") if isinstance(exc, EndpointConnectionError) else None
    return isinstance(cause, (aiohttp.ClientConnectorError, socket.gaierror))


def heard(plan: Plan) -> Callable[..., None]:
    """A hook on every attempt of a client's calls (botocore's ``needs-retry``, retried
    or not): notes in ``plan.heard`` an attempt AWS may have acted on, for a change
    asked (:meth:`Plan.asking`) whose call then fails. A retry's refusal does not
    undo an earlier attempt's timeout."""

    def attempt(
        response: Any = None, caught_exception: BaseException | None = None, **_: Any
    ) -> None:
        if caught_exception is not None:
            plan.heard |= not unsent(caught_exception)
        elif response is not None:
            plan.heard |= not 400 <= response[0].status_code < 500

    return attempt


async def made_topic_arn(sts: Any, options: SetupOptions) -> str | None:
    """The ARN a topic made now will have (the caller's partition and account, the
    region, the name), for its undo line should AWS's answer not come; None when STS
    does not say (any identity may ask it: only the endpoint can fail, or answer what
    is not AWS's, an identity with no account in it)."""
    said: dict[str, Any] = {}
    # A network that reaches SNS, SQS and SES by their VPC endpoints alone may not reach
    # STS: the SDK's timeouts and retries would hold the run minutes before it made
    # anything, for a line it may never print.
    with anyio.move_on_after(IDENTITY_WAIT):
        try:
            said = await sts.get_caller_identity()
        except Exception:  # noqa: BLE001 - botocore's parser raises what a page makes it meet
            return None  # the line is left out: the run goes on, as it did without it
    caller = _CALLER.match(str(said.get("Arn", "")))
    if caller is None:
        return None
    partition, account = caller.groups()
    return f"arn:{partition}:sns:{options.region}:{account}:{options.topic}"
