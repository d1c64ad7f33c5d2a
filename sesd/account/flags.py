"""GetAccount's flags (``SendingEnabled``, ``ProductionAccessEnabled``) read as SES
wrote them, before the SDK's parser does.

botocore's REST-JSON parser reads a boolean member with ``ensure_boolean``: ``true``
(or the word, in any case) is True, anything else False, a number, a list or
another word included. An answer not of SES's shape (an endpoint that is not quite
SES's) saying ``"SendingEnabled": 1`` so read as sending paused, and paged a pause
SES never said. Its ``float()`` of a quota figure reads a boolean as 1 or 0: a
24-hour quota of ``true`` read 1,200 sent as 120,000% used, and paged. The account
poller's client checks the raw answer first (:func:`watch_flags`): a flag that is
neither a boolean nor the word, or a quota figure that is a boolean, makes the answer
unreadable, a failed poll, what SES last said standing.

So does any SESv2 answer of 2xx that is no JSON (:func:`watch_answers`, the account
and tenant polls' clients): the parser reads a captive proxy's page as an answer
that says nothing.
"""

from __future__ import annotations

import json
from typing import Any, Final

from sesd.account.failures import UnreadableAnswer

__all__ = ["watch_answers", "watch_flags"]

#: GetAccount's boolean members the poller reads.
_FLAGS: Final = ("SendingEnabled", "ProductionAccessEnabled")
#: ``SendQuota``'s figures (doubles) the poller reads.
_FIGURES: Final = ("Max24HourSend", "MaxSendRate", "SentLast24Hours")
#: The SDK's event before it parses a GetAccount answer (SESv2's service id).
_EVENT: Final = "before-parse.sesv2.GetAccount"
#: The SDK's event before it parses any SESv2 answer.
_ANY: Final = "before-parse.sesv2"


def watch_flags(client: Any) -> None:
    """``client`` (an SESv2 client) checks each GetAccount answer's flags before its
    parser reads them (once a client, however often asked)."""
    client.meta.events.register(_EVENT, _check, unique_id="sesd-account-flags")


def _check(response_dict: dict[str, Any], **_: Any) -> None:
    """Raise :class:`~sesd.account.failures.UnreadableAnswer` where a 2xx answer's flag
    is neither a boolean nor ``true``/``false`` as a word (which the parser reads as
    meant), or a quota figure is a boolean. A body that is no JSON object, or a quota
    that is none, is left to the parser, as before."""
    if not 200 <= response_dict.get("status_code", 0) < 300:
        return
    body = response_dict.get("body")
    try:
        answer = json.loads(body) if isinstance(body, (bytes, str)) and body else None
    except (ValueError, RecursionError):  # nested too deeply: the SDK's loader fails alike
        return
    if not isinstance(answer, dict):
        return
    for flag in _FLAGS:
        said = answer.get(flag)
        if said is None or isinstance(said, bool):
            continue
        if not (isinstance(said, str) and said.lower() in ("true", "false")):
            raise UnreadableAnswer
    quota = answer.get("SendQuota")
    if isinstance(quota, dict) and any(isinstance(quota.get(f), bool) for f in _FIGURES):
        raise UnreadableAnswer


def watch_answers(client: Any) -> None:
    """``client`` (an SESv2 client) refuses a 2xx answer that is no JSON (a captive
    proxy's page, a proxy's text) before its parser reads it: the parser read one as
    an answer saying nothing (an account polled, a list of no tenants, each tenant's
    status forgotten). Once a client, however often asked."""
    client.meta.events.register(_ANY, _json_only, unique_id="sesd-ses-json")


def _json_only(response_dict: dict[str, Any], **_: Any) -> None:
    """Raise :class:`~sesd.account.failures.UnreadableAnswer` for a 2xx answer whose
    body is not JSON as the parser reads it: UTF-8, no byte-order mark (Python's loader
    of bytes takes UTF-16 and a mark too; the parser read those as an answer saying
    nothing). An empty one is the parser's (read as ``{}``); one nested deeper than
    JSON's loader goes, the parser's to fail on alike (sesd.io.sdk_blame)."""
    if not 200 <= response_dict.get("status_code", 0) < 300:
        return
    body = response_dict.get("body")
    if not isinstance(body, bytes) or not body:
        return
    try:
        json.loads(body.decode("utf-8"))
    except RecursionError:
        return
    except ValueError:  # UnicodeDecodeError too
        raise UnreadableAnswer from None
