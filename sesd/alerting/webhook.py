"""The webhook sink: sesd's own JSON document (``sesd.webhook.v1``, built by
sesd.alerting.documents) posted to a receiver of the user's, signed when a secret is
set."""

from __future__ import annotations

import aiohttp

from sesd.alerting.alert import Notification
from sesd.alerting.documents import SIGNATURE_HEADER, sign, webhook_document
from sesd.alerting.sinks import SLACK_DEFAULT_PAUSE, SUCCESS, post_json
from sesd.config import WebhookConfig

__all__ = ["WebhookSink"]


class WebhookSink:
    """sesd's own JSON document (``sesd.webhook.v1``), signed when a secret is set:
    any 2xx is success."""

    def __init__(self, config: WebhookConfig, session: aiohttp.ClientSession, name: str) -> None:
        self.name = name
        self._config = config
        self._session = session

    @property
    def endpoint(self) -> object:
        """Where it posts, as :attr:`sesd.alerting.sinks.SlackSink.endpoint`."""
        return self._config.url

    async def send(self, notification: Notification) -> None:
        """Post the document."""
        body = webhook_document(notification)
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
