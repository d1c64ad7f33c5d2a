"""What to do when Slack refuses a webhook itself, not the message: the hint
sesd.alerting.sinks gives such a refusal."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

__all__ = ["slack_refused"]

#: What Slack answers a webhook it takes no post at: 403 (invalid_token,
#: action_prohibited), 404 (no_service, no_team, channel_not_found, team_disabled) and
#: 410 (channel_is_archived), in its incoming webhooks' list of errors. A 400 is the
#: message's fault (invalid_payload, no_text), not the URL's.
_GONE: Final = (403, 404, 410)
#: Slack answers with one such word alone. A relay or a proxy in front of it refuses
#: in its own words (a page, "Forbidden"), which say nothing of the webhook: told to
#: make a new one, the on-call would look at the wrong thing.
_WORD: Final = re.compile(r"[a-z]+(?:_[a-z]+)+")


def slack_refused(name: str) -> Callable[[int, str], str]:
    """The hint for a refusal of sink ``name``'s post, from its status and answer: when
    Slack refused the webhook (no later post through that URL would be taken either),
    to make a new one; otherwise none."""
    said = (
        "Slack no longer takes posts at this webhook URL (removed, disabled or revoked, "
        "or its channel gone or archived; the error says which): make a new incoming "
        "webhook for the channel, give its URL as the sink's webhook_url, and check it "
        f"with `sesd send-test-alert --sink {name}`"
    )

    def hint(status: int, answer: str) -> str:
        return said if status in _GONE and _WORD.fullmatch(answer.strip()) else ""

    return hint
