"""The webhook sink: sesd's own JSON document (``sesd.webhook.v1``, built by
sesd.alerting.documents) posted to a receiver of the user's, signed when a secret is
set. A notification too wide for one body (MOST_BODY_BYTES) goes as several
documents, in order, each signed on its own."""

from __future__ import annotations

import aiohttp

from sesd.alerting.alert import Notification
from sesd.alerting.clock_steps import Moves
from sesd.alerting.documents import SIGNATURE_HEADER, Made, fits, sign, webhook_documents
from sesd.alerting.part_sent import PartSent
from sesd.alerting.sinks import SLACK_DEFAULT_PAUSE, SUCCESS, DeliveryError, Permanent, post_json
from sesd.config import WebhookConfig
from sesd.io.replica import replica_name

__all__ = ["WebhookSink"]


class WebhookSink:
    """sesd's own JSON document (``sesd.webhook.v1``), signed when a secret is set:
    any 2xx is success. A notification retried (after a 429, a 5xx, a timeout) goes on
    from the first of its documents not taken: a receiver gets each part once. A part
    refused for good does not hold back the ones after it."""

    def __init__(self, config: WebhookConfig, session: aiohttp.ClientSession, name: str) -> None:
        self.name = name
        self._config = config
        self._session = session
        #: The replica that sends, as its documents name it (``host``).
        self.host = replica_name()
        #: Each part-sent notification's next part, and how its parts were made.
        self._part_sent: PartSent[tuple[int, Made | None]] = PartSent()

    @property
    def endpoint(self) -> object:
        """Where it posts, as :attr:`sesd.alerting.sinks.SlackSink.endpoint`."""
        return self._config.url

    def adopt(self, old: object) -> None:
        """Take over from ``old``, the sink this one replaces (a reload changed its
        config): to the same URL, each notification part-sent goes on from the first
        part not taken (a new secret signs the rest), one under way at the reload too:
        their memory is one (sesd.alerting.part_sent)."""
        if isinstance(old, WebhookSink) and old._config.url == self._config.url:
            self._part_sent = old._part_sent

    @property
    def url(self) -> str:
        """The URL it posts to (a secret: never logged nor saved)."""
        return self._config.url.get()

    def progress(
        self, notification: Notification
    ) -> tuple[tuple[int, Made], list[Permanent]] | None:
        """Where ``notification`` goes on from (its next part, how its parts were made)
        and its parts refused so far; None when none of it was posted (a stop saves
        what this says: sesd.alerting.part_saved)."""
        found = self._part_sent.progress(notification)
        if found is None:
            return None
        (next_part, made), refused = found
        return None if made is None else ((next_part, made), refused)

    def resume(
        self, notification: Notification, progress: tuple[int, Made], refused: list[Permanent]
    ) -> bool:
        """Go on with ``notification`` from ``progress`` (a restart's, as a stop saved it);
        False, and nothing kept, where a part not taken yet would go past
        MOST_BODY_BYTES as this replica makes it: an earlier build cut its parts (for an
        envelope without ``host``, with no room for a longer name or a clock step). Sent
        so, a receiver behind a gateway at that bound would refuse it, and its alerts
        with it: they go whole instead, under a new ``id``. Parts this build cut fit
        whatever the name now and wherever the clock stepped."""
        start, made = progress
        _, bodies = webhook_documents(notification, made, host=self.host)
        if not fits(made, bodies, start):
            return False
        self._part_sent.resume(notification, progress, refused)
        return True

    def moved(self, moves: Moves) -> None:
        """The wall clock stepped (measured): what it keeps of each notification
        part-sent is the moved one's (sesd.alerting.part_sent)."""
        self._part_sent.moved(moves)

    async def send(self, notification: Notification) -> None:
        """Post the notification's documents, from the first not taken yet."""
        (start, made), refused = self._part_sent.take(notification, (0, None))
        made, bodies = webhook_documents(notification, made, host=self.host)
        for k in range(start, len(bodies)):
            self._part_sent.posting((k, made), refused)  # what a stop meanwhile saves
            try:
                await self._post(bodies[k])
            except Permanent as exc:
                refused.append(exc)
            except DeliveryError:
                self._part_sent.keep(notification, (k, made), refused)
                raise
        if len(bodies) == 1 and refused:
            raise refused[0]
        if refused:
            first = refused[0]
            raise Permanent(f"{len(refused)} of {len(bodies)} parts refused: {first}", first.hint)

    async def _post(self, body: bytes) -> None:
        """Post one document, signed when a secret is set."""
        headers = {}
        if self._config.secret is not None:
            headers[SIGNATURE_HEADER] = sign(self._config.secret.get(), body)
        await post_json(
            self._session,
            self._config.url.get(),
            body,
            self._config.timeout.seconds,
            ok=SUCCESS,
            min_pause=0.0,
            default_pause=SLACK_DEFAULT_PAUSE,
            headers=headers,
            hide=() if self._config.secret is None else (self._config.secret.get(),),
        )
