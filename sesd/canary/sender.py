"""The canary's sending side: one SESv2 ``SendEmail`` every ``interval``.

Each call is made once (the SDK's retries are off: a throttled call is a
finding, not something to hide) and bounded by ``send_timeout``. The call's
latency and outcome go to the tracker; nothing here touches the queues, so a
slow or failing SES endpoint never slows event consumption.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import anyio
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    ReadTimeoutError,
    SSOError,
    TokenRetrievalError,
)

from sesd.config import CanaryConfig
from sesd.core.canary import CANARY_TAG, CanaryTracker
from sesd.io.aws_errors import error_code
from sesd.io.logs import get_logger
from sesd.io.replica import replica_name

__all__ = ["CanarySender", "error_reason", "instance_name", "shown_code"]

_THROTTLED = frozenset(
    {"Throttling", "ThrottlingException", "TooManyRequestsException", "LimitExceededException"}
)
_AUTH = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "MissingAuthenticationToken",
    }
)
_REJECTED = frozenset(
    {
        "MessageRejected",
        "MailFromDomainNotVerifiedException",
        "AccountSuspendedException",
        "SendingPausedException",
        "NotFoundException",
        "BadRequestException",
    }
)


#: The SDK's own failures to sign a call: no credentials, or none it could get (a
#: role's, an SSO token's). What to fix is the credentials, as for a 403.
_NO_CREDENTIALS = (
    NoCredentialsError,
    PartialCredentialsError,
    CredentialRetrievalError,
    SSOError,
    TokenRetrievalError,
)


def error_reason(exc: BaseException) -> str:
    """A bounded ``reason`` label for a failed call."""
    # The SDK's read timeout is send_timeout too: whichever fires first, one timeout.
    if isinstance(exc, TimeoutError | ReadTimeoutError):
        return "timeout"
    if isinstance(exc, _NO_CREDENTIALS):
        return "auth"
    if isinstance(exc, ParamValidationError):
        return "client_error"
    if isinstance(exc, ClientError):
        code = error_code(exc)
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in _THROTTLED or status == 429:
            return "throttled"
        if code in _AUTH or status == 403:
            return "auth"
        if code in _REJECTED:
            return "rejected"
        return "server_error" if status >= 500 else "client_error"
    return "network"


def shown_code(exc: BaseException) -> str:
    """SES's error code for a failed call ("" without one): the page and the log say
    it, as it tells a paused account from a missing configuration set."""
    code = error_code(exc)
    # A code is a name; anything else in its place is not shown.
    return code if re.fullmatch(r"[A-Za-z0-9._-]{1,64}", code) else ""


def instance_name() -> str:
    """This replica's name (sesd.io.replica) as an SES tag value (letters, digits, '_'
    and '-')."""
    name = re.sub(r"[^A-Za-z0-9_-]", "-", replica_name()).strip("-")
    return name or "sesd"


class CanarySender:
    """Sends the canary every ``interval`` until ``stopping`` is set."""

    def __init__(
        self,
        config: CanaryConfig,
        ses: Any,
        tracker: CanaryTracker,
        *,
        clock: Callable[[], float],
        on_change: Callable[[], None] = lambda: None,
        instance: str | None = None,
        due: float | None = None,
        in_force: Callable[[], bool] = lambda: True,
    ) -> None:
        self.config = config
        self.ses = ses
        self.tracker = tracker
        self.clock = clock
        self.on_change = on_change
        self.instance = instance or instance_name()
        # Its own canaries whose message id it never learnt (a call timed out that SES
        # went through with) are not another sesd's.
        tracker.instance = self.instance
        self.in_flight = False
        #: When (anyio's clock) the latest call was due: given, that of the sender this
        #: one replaces, whose schedule it keeps.
        self.due = due
        #: Whether this sender sends as the config in force has it: once a reload moved
        #: the canary (another endpoint, account, region or timeout), a call of this one
        #: that fails is the old path's failure, not a canary the path in force lost.
        self.in_force = in_force
        self._log = get_logger()

    async def run(self, stopping: anyio.Event) -> None:
        """Send every ``interval`` (drift-free; a late call skips ticks) until
        ``stopping`` is set: first at once, or, replacing a sender (a reload changed
        what is sent), ``interval`` after that sender's latest call was due. A reload
        sends no email of its own: with an interval of an hour it would be one more an
        hour, and a reload a second would send one a second."""
        interval = self.config.interval.seconds
        now = anyio.current_time()
        next_at = now if self.due is None else max(now, self.due + interval)
        warm = False
        while True:
            with anyio.move_on_after(max(0.0, next_at - anyio.current_time())):
                await stopping.wait()
            if not warm and not stopping.is_set():
                await self.warm_up(stopping)
                warm = True
            if stopping.is_set():
                return
            self.due = next_at
            await self.send_once()
            next_at = max(next_at + interval, anyio.current_time())

    async def warm_up(self, stopping: anyio.Event | None = None) -> None:
        """Ready the client before its first timed call, by one ``GetAccount`` whose
        answer is not read: the credentials got (a role's assumed), the endpoint
        resolved, the HTTP session and its TLS context made and a connection opened.
        Inside the first ``SendEmail`` they made one slow canary at each start (a few
        hundred ms; an ``AssumeRole`` round trip more), which ``send_timeout`` could cut
        off. A refusal (no ``ses:GetAccount``, credentials refused) changes nothing: the
        ``SendEmail`` that follows meets what it would have met, a canary failed with
        its reason; bounded by ``send_timeout``, and given up at once when ``stopping``
        is set: nothing is sent after it then, and a stop (or the reload replacing this
        sender) waited for it up to ``send_timeout``."""
        with anyio.move_on_after(self.config.call_timeout) as bound:
            async with anyio.create_task_group() as tg:
                if stopping is not None:
                    tg.start_soon(_cancel_when_set, stopping, bound)
                try:
                    await self.ses.get_account()
                except (ClientError, BotoCoreError, aiohttp.ClientError, OSError) as exc:
                    self._log.debug("sesd.canary.warm_up_refused", error=type(exc).__name__)
                tg.cancel_scope.cancel()

    async def send_once(self) -> None:
        """One ``SendEmail``, recorded in the tracker whatever happens."""
        at = self.clock()
        shifted = self.tracker.shifted
        started = anyio.current_time()
        self.in_flight = True
        self.tracker.calling += 1
        try:
            with anyio.fail_after(self.config.call_timeout):
                response = await self.ses.send_email(**self._request(at))
        except (TimeoutError, ClientError, BotoCoreError, aiohttp.ClientError, OSError) as exc:
            at += self.tracker.shifted - shifted  # a step of the clock meanwhile
            code = shown_code(exc)
            # Codes and statuses only: an SDK message may quote the request.
            error = code or type(exc).__name__
            self._failed(error_reason(exc), at, anyio.current_time() - started, code, error)
        else:
            at += self.tracker.shifted - shifted
            seconds = anyio.current_time() - started
            message_id = response.get("MessageId")
            if isinstance(message_id, str) and message_id:
                self.tracker.sent(message_id, at, seconds)
                self._log.debug(
                    "sesd.canary.sent", message_id=message_id, seconds=round(seconds, 3)
                )
            else:
                # A 200 that is not SES's (a proxy's page, which the SDK reads as an
                # empty answer): a failed call to count, not a fault of this task (its
                # restarts would send every 10 s and count nothing).
                self._failed("server_error", at, seconds, "", "no MessageId")
        finally:
            self.in_flight = False
            self.tracker.calling -= 1
            self.on_change()

    def _failed(self, reason: str, at: float, seconds: float, code: str, error: str) -> None:
        """A call failed: a canary lost, if this sender is in force."""
        if not self.in_force():
            self._log.info("sesd.canary.send_failed", reason=reason, error=error, retired=True)
            return
        self.tracker.failed(reason, at, seconds, code)
        self._log.warning("sesd.canary.send_failed", reason=reason, error=error)

    def _request(self, at: float) -> dict[str, Any]:
        when = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        text = (
            f"sesd canary from {self.instance}, sent {when}. It measures the SES sending path; "
            "it goes to the SES mailbox simulator."
        )
        return {
            "FromEmailAddress": self.config.from_,
            "Destination": {"ToAddresses": [self.config.to]},
            "Content": {
                "Simple": {
                    "Subject": {"Data": f"sesd canary {when}"},
                    "Body": {"Text": {"Data": text}},
                }
            },
            "ConfigurationSetName": self.config.configuration_set,
            "EmailTags": [{"Name": CANARY_TAG, "Value": self.instance}],
        }


async def _cancel_when_set(event: anyio.Event, scope: anyio.CancelScope) -> None:
    """Cancel ``scope`` once ``event`` is set."""
    await event.wait()
    scope.cancel()
