"""A receive's answer read without the SDK's walk over its shape, where that walk can
only copy it: the SDK parses a 200 answer of ReceiveMessage by loading its JSON and
then visiting every value against the operation's model, a method looked up by name
for each (a failed look-up, an exception caught, for every text member). For SQS's
answer every member of a message is text or a map of texts, which that walk passes on
as loaded. Counted on the bench's production mix: 35,000 instructions a message of the
SDK's 81,000 for reading an answer are the walk (the rest loading the JSON); the loop
tuned as sesd tunes its clients, with this hook, 27,000 fewer a message of 574,000
(BENCHMARKS.md, section 2).

:func:`read_receive` is a ``before-parse`` hook of sesd's SQS clients: an answer it
can read as the SDK would, it reads, and leaves the SDK an empty body (whose parse
gives the answer's ``ResponseMetadata`` from its headers, as before); the messages are
merged into the SDK's result by the SDK itself (``customized_response_dict``). Every
other answer is left whole to the SDK: any status but 200 (errors, their codes and
retries are the SDK's), a body that is not UTF-8 JSON, and every shape beyond the
plain one (a member of another type than the model's, message attributes, which sesd
never asks for): a test holds the result equal to the SDK's own for every shape.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["read_receive"]

#: A message's members the SDK passes on as loaded, when not null (text, in its model).
_TEXTS = frozenset({"MessageId", "ReceiptHandle", "MD5OfBody", "Body", "MD5OfMessageAttributes"})
#: A message's map of texts (its system attributes), copied by the SDK.
_MAP = "Attributes"


def read_receive(
    response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any
) -> None:
    """Read a ReceiveMessage answer of 200 whose shape the SDK's walk would only copy;
    leave any other to the SDK (the module's docstring)."""
    if response_dict.get("status_code") != 200:
        return
    body = response_dict.get("body")
    if not isinstance(body, bytes) or not body:
        return
    try:
        # As the SDK reads it: decoded as UTF-8, then loaded.
        answer = json.loads(body.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError too: the SDK's own path says what it says
        return
    if type(answer) is not dict:
        return
    listed = answer.get("Messages")
    if listed is not None:
        if type(listed) is not list:
            return
        messages: list[dict[str, Any] | None] = []
        for message in listed:
            if message is None:  # the SDK keeps a list's nulls
                messages.append(None)
                continue
            if type(message) is not dict:
                return
            read = _message(message)
            if read is None:
                return
            messages.append(read)
        customized_response_dict["Messages"] = messages
    # Parsed by the SDK as an answer without members: its metadata, from the headers.
    response_dict["body"] = b""


def _message(message: dict[str, Any]) -> dict[str, Any] | None:
    """A message as the SDK's walk makes it (its members not null, others dropped), or
    None where that walk would do more than copy (left to the SDK)."""
    read: dict[str, Any] = {}
    for name, value in message.items():
        if value is None:
            continue
        if name in _TEXTS:
            read[name] = value  # the SDK checks no text member's type
        elif name == _MAP:
            if type(value) is not dict:
                return None
            read[name] = dict(value)
        elif name == "MessageAttributes":
            return None
    return read
