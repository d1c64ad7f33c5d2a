"""The output edge: sinks that send one notification each.

A sink has one job: :meth:`Sink.send`. It raises :class:`RateLimited`,
:class:`Retryable` or :class:`Permanent`; the outbox decides what to do. Error
messages are built here from status codes and error classes only, never from
a URL or an exception's text, because the webhook URL and routing key are
secrets.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Final, Protocol, TextIO
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import msgspec

from sesd.alerting.alert import Notification
from sesd.alerting.clock_steps import Moves
from sesd.alerting.part_sent import PartSent
from sesd.alerting.render import console_text, pagerduty_events
from sesd.alerting.render_slack import slack_message
from sesd.alerting.retry_after import MIN_RETRY_AFTER, asked, retry_after
from sesd.alerting.rules import Transition
from sesd.alerting.slack_refusals import slack_refused
from sesd.config import PagerDutyConfig, SlackConfig
from sesd.core.text import clean
from sesd.io.logs import get_logger, print_line
from sesd.io.replica import replica_name

__all__ = [
    "SUCCESS",
    "ConsoleSink",
    "DeliveryError",
    "PagerDutySink",
    "Permanent",
    "RateLimited",
    "Retryable",
    "Sink",
    "SlackSink",
    "answer",
    "post_json",
]

#: PagerDuty asks for at least this long a pause after a 429.
PAGERDUTY_MIN_PAUSE = 30.0
#: Any 2xx (Alertmanager answers 200; webhooks 200, 202 or 204).
SUCCESS = tuple(range(200, 300))
#: When Slack answers 429 without a usable Retry-After.
SLACK_DEFAULT_PAUSE = 30.0


class DeliveryError(Exception):
    """A notification was not delivered. The message never holds a secret; ``hint``
    says what to do, where sesd knows (a 413: the receiver's limit on a body)."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint

    def logged(self) -> dict[str, str]:
        """What a log line says of it: ``error``, and ``hint`` when there is one."""
        return {"error": str(self), **({"hint": self.hint} if self.hint else {})}


class Retryable(DeliveryError):
    """A network error, a timeout, a 408 or a 5xx: try again after a backoff."""


class RateLimited(Retryable):
    """429, or 503 with Retry-After (``status``): pause the sink for ``retry_after``
    seconds, then try again."""

    def __init__(self, message: str, retry_after: float, status: int = 429) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class Permanent(DeliveryError):
    """A 4xx other than 408 and 429: trying again would not help."""


class Sink(Protocol):
    """Sends one notification, or raises a :class:`DeliveryError`."""

    name: str

    async def send(self, notification: Notification) -> None:
        """Deliver ``notification``."""
        ...


#: Request Timeout: a timeout on the receiver's side, not a refusal.
_TIMED_OUT: Final = 408
#: Content Too Large: the receiver (or a proxy in front) takes no body this long.
_TOO_LARGE: Final = 413
#: Service Unavailable: with Retry-After, a pause asked as a 429's is.
_UNAVAILABLE: Final = 503
#: How much of a refusal's answer an error says (it helps: Slack's ``no_service``,
#: PagerDuty's reason).
_ANSWER_CHARS: Final = 100
#: How much of an answer is kept: more than the cleaning reads of it to show
#: _ANSWER_CHARS (sesd.core.text), so that it, not this cut, says where the text was
#: cut (a cut inside an address leaves none of it to show).
_ANSWER_READ: Final = 4096
#: A part of a secret URL shorter than this is no secret (``services``, ``v2``).
_SECRET_PART: Final = 8


def answer(body: str, url: str, hide: tuple[str, ...] = ()) -> str:
    """The start of a refusal's answer as an error may say it. The answer is the
    receiver's text, and a relay, a proxy or a login page in front of it may quote
    the request: the URL's path parts and query values (a webhook's token), its
    password, and ``hide`` (a routing key) are ``***`` in it."""
    parts = urlsplit(url)
    secrets = [url, parts.path, parts.query, parts.password or "", *hide]
    secrets += parts.path.split("/") + [value for _, value in parse_qsl(parts.query)]
    text = body.strip()
    for secret in sorted({s for s in secrets if len(s) >= _SECRET_PART}, key=len, reverse=True):
        text = text.replace(secret, "***")
    # A stranger's text too (a proxy's page): a log line on a terminal is written as it
    # is, so its escapes, line breaks and addresses are made safe as an event's are.
    # Hidden before the cut: a cut inside an address would leave its local part.
    return clean(text, _ANSWER_CHARS)


async def _answer_start(response: aiohttp.ClientResponse) -> str:
    """The first _ANSWER_READ bytes of an answer, as text; the rest is never read. A
    relay's or a proxy's page, or a broken receiver, may answer with a body that does
    not end: read whole, it was held in memory until the sink's timeout (3.3 GB in the
    default 10 s on loopback), and the post counted as timed out, not as what it said."""
    data = bytearray()
    while len(data) < _ANSWER_READ:
        chunk = await response.content.read(_ANSWER_READ - len(data))
        if not chunk:
            break
        data += chunk
    try:
        return data.decode(response.charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return data.decode("utf-8", errors="replace")


async def post_json(
    session: aiohttp.ClientSession,
    url: str,
    data: bytes,
    within: float,
    *,
    ok: tuple[int, ...],
    min_pause: float,
    default_pause: float,
    headers: dict[str, str] | None = None,
    hide: tuple[str, ...] = (),
    refused: Callable[[int, str], str] | None = None,
) -> str:
    """POST JSON; returns the body on success, raises a DeliveryError otherwise (with
    the start of a refusal's answer, without the URL's secrets or ``hide``, and the
    hint ``refused`` gives for its status and answer)."""
    try:
        async with session.post(
            url,
            data=data,
            headers={"Content-Type": "application/json", **(headers or {})},
            timeout=aiohttp.ClientTimeout(total=within),
            allow_redirects=False,
        ) as response:
            body = await _answer_start(response)
            if response.status in ok:
                return body
            header = response.headers.get("Retry-After", "")
            if response.status == 429:
                pause = retry_after(header, min_pause, default_pause)
                raise RateLimited(f"HTTP 429, paused {pause:g}s", pause)
            # RFC 9110 defines Retry-After for 503 too: the receiver (or a proxy in front)
            # says when it is back; a backoff from a second would post into the outage.
            # Within a 429's bounds, but not a sink's floor for a 429 (PagerDuty's 30 s).
            wait = asked(header) if response.status == _UNAVAILABLE else None
            if wait is not None:
                pause = max(MIN_RETRY_AFTER, wait)
                raise RateLimited(f"HTTP 503, paused {pause:g}s", pause, _UNAVAILABLE)
            # 408: the receiver, or a proxy or load balancer in front, timed the request
            # out before it was read whole; RFC 9110 lets the client repeat it.
            if response.status >= 500 or response.status == _TIMED_OUT:
                raise Retryable(f"HTTP {response.status}")
            shown = f"HTTP {response.status}: {answer(body, url, hide)}"
            if response.status == _TOO_LARGE:
                raise Permanent(shown, hint=_too_large(len(data)))
            raise Permanent(shown, hint=refused(response.status, body) if refused else "")
    except TimeoutError:
        raise Retryable(f"timed out after {within:g}s") from None
    except aiohttp.ClientError as exc:
        # The class, and for a connection the system's reason ("Connection refused",
        # "Name or service not known"): the text of a connection error names the host,
        # the reason of its errno (a resolver's own for a name) does not.
        cause = getattr(exc, "os_error", None)
        said = type(exc).__name__
        if isinstance(cause, socket.gaierror) and cause.strerror:
            said = f"{said}: {cause.strerror}"
        elif isinstance(cause, OSError) and cause.errno and cause.errno > 0:
            said = f"{said}: {os.strerror(cause.errno)}"
        raise Retryable(said) from None


def _too_large(size: int) -> str:
    """What to do about a 413 to a body of ``size`` bytes."""
    return (
        f"the receiver, or a proxy or gateway in front of it, takes no body of {size} "
        "bytes: raise its limit on a request's body above that (nginx: "
        "client_max_body_size, 1 MiB by default; an API gateway's payload limit)"
    )


class SlackSink:
    """A Slack incoming webhook: 200 with body ``ok`` is success."""

    def __init__(
        self, config: SlackConfig, session: aiohttp.ClientSession, name: str = "slack"
    ) -> None:
        self.name = name
        self._config = config
        self._session = session
        #: The replica that sends, as its messages name it.
        self.host = replica_name()

    @property
    def endpoint(self) -> object:
        """Where it posts: a 429's pause is this endpoint's (Slack limits each webhook),
        ended by a reload that gives the sink another (:meth:`sesd.alerting.outbox.Outbox.use`)."""
        return self._config.webhook_url

    async def send(self, notification: Notification) -> None:
        """Post the Block Kit message."""
        body = await post_json(
            self._session,
            self._config.webhook_url.get(),
            msgspec.json.encode(slack_message(notification, self.host)),
            self._config.timeout.seconds,
            ok=(200,),
            min_pause=0.0,
            default_pause=SLACK_DEFAULT_PAUSE,
            refused=slack_refused(self.name),
        )
        if body.strip() != "ok":
            shown = answer(body, self._config.webhook_url.get())
            raise Permanent(f"HTTP 200 but not ok: {shown}")


class PagerDutySink:
    """PagerDuty Events API v2: one event per alert, 202 is success.

    A notification retried (after a 429 or a 5xx) goes on from the first event not
    taken yet: PagerDuty takes about 120 events a minute per key, so sending a wide
    incident's events from the start again would spend each minute on the same first
    hundred and never reach the rest. An event PagerDuty refuses for good does not
    hold back the ones after it. A firing's event for an alert a silence now holds
    is not sent (``held``): in a storm, the rest of a notification PagerDuty is
    draining would otherwise page for minutes after the on-call silenced it. Nor is
    one for an alert whose resolve waits behind it (``over``, set by its outbox): an
    incident that began and ended while PagerDuty was unreachable would page as it
    came back, and resolve a moment later.
    """

    def __init__(
        self, config: PagerDutyConfig, session: aiohttp.ClientSession, name: str = "pagerduty"
    ) -> None:
        self.name = name
        self._config = config
        self._session = session
        #: Each event's ``source``: the one configured, else the replica that sends (two
        #: replicas' triggers of one incident fold into it, and say whose each was).
        self.source = config.source or replica_name()
        #: Where each page goes on from: its first event not taken, and those before it
        #: a silence held back (not PagerDuty's: a stop does not save them as taken).
        self._part_sent: PartSent[tuple[int, tuple[int, ...]]] = PartSent()
        #: Whether a silence now holds (rule, label): its firing events are not sent.
        self.held: Callable[[str, str, Transition], bool] = lambda rule, label, kind: False
        #: Whether (rule, label)'s resolve waits behind this notification.
        self.over: Callable[[str, str], bool] = lambda rule, label: False
        self._log = get_logger(sink=name)

    @property
    def endpoint(self) -> object:
        """Where it posts, as :attr:`SlackSink.endpoint`: PagerDuty limits each key."""
        return (self._config.events_url, self._config.routing_key)

    def adopt(self, old: object) -> None:
        """Take over from ``old``, the sink this one replaces (a reload changed its
        config): to the same service (key and URL), each notification part-sent goes on
        from the first event not taken, as it would have without the reload, one under
        way at the reload too: their memory is one (sesd.alerting.part_sent)."""
        if (
            isinstance(old, PagerDutySink)
            and old._config.events_url == self._config.events_url
            and old._config.routing_key == self._config.routing_key
        ):
            self._part_sent = old._part_sent

    def moved(self, moves: Moves) -> None:
        """The wall clock stepped (measured): each notification part-sent is told by the
        object its outbox holds now, moved (sesd.alerting.clock_steps). By the one it
        replaced, the moved one began again from its first event, and a trigger went
        again for an incident the on-call may have resolved by hand since."""
        self._part_sent.moved(moves)

    @property
    def place(self) -> tuple[str, str]:
        """Where it posts, as a stop keeps it (digested: sesd.alerting.part_saved): its
        URL and key; the file's part-sent pages go on only to the same service."""
        return self._config.events_url, self._config.routing_key.get()

    def progress(
        self, notification: Notification
    ) -> tuple[tuple[int, tuple[int, ...]], list[Permanent]] | None:
        """Where ``notification`` goes on from (its first event not taken, and the events
        before it a silence held back, not sent) and its events refused so far; None
        when none of it was posted (a stop saves what this says: sesd.alerting.part_saved)."""
        return self._part_sent.progress(notification)

    def resume(self, notification: Notification, progress: int, refused: list[Permanent]) -> None:
        """Go on with ``notification`` from its event ``progress`` (a restart's, as a stop
        saved it): its first events, taken before the stop, are not sent again."""
        self._part_sent.resume(notification, (progress, ()), refused)

    async def send(self, notification: Notification) -> None:
        """Post each alert's trigger or resolve event, from the first not taken yet."""
        events = pagerduty_events(notification, self._config.routing_key.get(), self.source)
        (start, held), refused = self._part_sent.take(notification, (0, ()))
        firing = notification.kind is not Transition.RESOLVED
        for i in range(start, len(events)):
            label = notification.alerts[i].domain
            if firing and self.held(notification.rule, label, notification.kind):
                self._log.info("sesd.alert.recalled", rule=notification.rule, domain=label)
                held += (i,)
                continue
            if firing and self.over(notification.rule, label):
                self._log.info("sesd.notify.superseded", rule=notification.rule, domain=label)
                continue
            self._part_sent.posting((i, held), refused)  # what a stop meanwhile saves
            try:
                await post_json(
                    self._session,
                    self._config.events_url,
                    events[i],
                    self._config.timeout.seconds,
                    ok=(200, 201, 202),
                    min_pause=PAGERDUTY_MIN_PAUSE,
                    default_pause=PAGERDUTY_MIN_PAUSE,
                    hide=(self._config.routing_key.get(),),
                )
            except Permanent as exc:
                refused.append(exc)
            except DeliveryError:
                self._part_sent.keep(notification, (i, held), refused)
                raise
        if refused:
            first = refused[0]
            raise Permanent(f"{len(refused)} of {len(events)} events refused: {first}", first.hint)


class ConsoleSink:
    """Prints notifications to standard output (``sesd demo`` uses it), or to
    ``stream``."""

    def __init__(self, stream: TextIO | None = None, name: str = "console") -> None:
        self.name = name
        self._stream = stream

    async def send(self, notification: Notification) -> None:
        """Print the notification's lines. Standard output's are handed to the daemon's
        buffer (sesd.io.logs.print_line), which a stalled reader cannot make wait; one it
        dropped is this sink's failed notification, counted and logged as any sink's
        lost one (``SesdNotificationsFailing``), not a log line lost."""
        text = console_text(notification)
        if self._stream is None:
            if not print_line(text):
                raise Permanent(
                    "not printed: standard output's reader took nothing while sesd's "
                    "buffer filled, or is gone"
                )
            return
        self._stream.write(text + "\n")
        self._stream.flush()
