"""The answers of sesd's batch calls read without the SDK's walk over their shape, where
that walk can only copy them: the SDK parses a 200 answer by loading its JSON and then
visiting every value against the operation's model, a method looked up by name for
each (a failed look-up, an exception caught, for every text or boolean). The answers
of a receive, of a batch delete and of a batch release (visibility 0) are lists of
entries whose members are texts, booleans and maps of texts, which that walk passes on
as loaded. Counted on the
bench's production mix: 35,000 instructions a message of the SDK's 81,000 for reading
a receive's answer are the walk (the rest loading the JSON), 16,000 of 20,000 a
message for a delete's. The loop tuned as sesd tunes its clients, with this hook:
27,000 fewer a message of 574,000 for the receive, 7,100 fewer for the delete
(BENCHMARKS.md, section 2).

:func:`read_answer` is a ``before-parse`` hook of sesd's SQS clients: an answer it can
read as the SDK would, it reads, and leaves the SDK an empty body (whose parse gives
the answer's ``ResponseMetadata`` from its headers, as before); what it read is merged
into the SDK's result by the SDK itself (``customized_response_dict``). Every other
answer is left whole to the SDK: any status but 200 (errors, their codes and retries
are the SDK's), a body that is not UTF-8 JSON, and every shape beyond the plain one (a
member of another type than the model's, message attributes, which sesd never asks
for): a test holds the result equal to the SDK's own for every shape, and the table
below equal to the SDK's model.

Three answers of 200 are refused instead (:class:`UnreadableAnswer`, a failed call like
any other), each found where SQS's own answers cost one look-up more at most: one
nested deeper than the SDK's JSON loader goes (it raises ``RecursionError``, which is
no error of SQS's: the poller would end), a receive's that is not JSON at all under a
JSON type, and a receive's object with members but no ``Messages`` (a proxy's JSON
error page, ``{"message": "Forbidden"}``). The SDK reads the last two as no messages:
a healthy, empty queue, while nothing is read. SQS's answers are JSON, a few levels
deep; its empty receive is ``{}`` (and was ``{"Messages": null}`` for a while in 2023),
both read as empty. So is an empty body under SQS's type, which SQS has been reported
to send at the end of a long poll (one without a type, a load balancer's, the poller
refuses: sesd.runtime.sqs_calls.foreign_answer).

A queue's check (GetQueueAttributes, for its redrive policy) has a hook of its own,
:func:`check_attributes`: its answer of 200 under a JSON type must name the attributes
asked for (SQS's ``{"Attributes": {...}}``, or ``{}`` for a queue without them). A
proxy's JSON error page, or its text, the SDK reads as a queue without attributes,
and the check warned to add a dead-letter queue the queue may have; refused instead,
the check fails and says why.
"""

from __future__ import annotations

import json
from contextvars import ContextVar
from typing import Any, NamedTuple

import msgspec

__all__ = [
    "ANSWERS",
    "KEPT",
    "Entries",
    "Kept",
    "UnreadableAnswer",
    "check_attributes",
    "read_answer",
    "read_outcomes",
    "watch_check",
]

#: How many characters of a refused answer its error quotes (the start of a proxy's
#: page says whose it is); the log line cleans it, as all of an endpoint's text.
_QUOTED = 60
#: The bytes read for them: UTF-8 takes up to four a character.
_QUOTED_BYTES = 4 * _QUOTED


class UnreadableAnswer(ValueError):
    """An answer that the SDK cannot read for what it is, not for its shape (the
    module's docstring): refused, quoting its start where it is at hand (an error's,
    which the SDK failed to load, is not: sesd.io.sdk_blame.answer_too_deep)."""

    def __init__(self, why: str, body: bytes | None = None) -> None:
        said = f"an answer {why}, not SQS's"
        if body is not None:
            # Cut as characters, not bytes: none cut in two (60 characters of these
            # bytes end a whole one, or the text is longer).
            text = body[:_QUOTED_BYTES].decode("utf-8", "replace")
            more = len(text) > _QUOTED or len(body) > _QUOTED_BYTES
            said += f": {text[:_QUOTED] + ('...' if more else '')!r}"
        super().__init__(said)


class Entries(NamedTuple):
    """A list member of an answer: its entries' members the SDK passes on as loaded
    when not null (texts, booleans), those it copies (maps of texts), and those left to
    the SDK (any other)."""

    passed: frozenset[str]
    maps: frozenset[str] = frozenset()
    refused: frozenset[str] = frozenset()


_OUTCOMES = {
    "Successful": Entries(frozenset({"Id"})),
    "Failed": Entries(frozenset({"Id", "SenderFault", "Code", "Message"})),
}
#: The operation whose answer of 200 must have SQS's shape (an object without a
#: ``Messages`` member is SQS's empty receive only when it has no member at all).
_RECEIVE = "ReceiveMessage"
#: Why such an answer is refused: a proxy's JSON error page at 200, a stand-in's.
_NO_MEMBERS = "without a receive's members"
#: Each operation read, with its answer's members (each a list of entries).
ANSWERS: dict[str, dict[str, Entries]] = {
    _RECEIVE: {
        "Messages": Entries(
            frozenset(
                {"MessageId", "ReceiptHandle", "MD5OfBody", "Body", "MD5OfMessageAttributes"}
            ),
            maps=frozenset({"Attributes"}),
            # A map of structures, one with a binary the SDK decodes.
            refused=frozenset({"MessageAttributes"}),
        )
    },
    "DeleteMessageBatch": _OUTCOMES,
    # A release's (visibility 0: messages given back), the same lists of the same entries.
    "ChangeMessageVisibilityBatch": _OUTCOMES,
}


class Kept:
    """A batch call of entries in flight in this task (a delete, a release), set for each
    by sesd.runtime.sqs_deletes, and its answer once read here (None until then): what
    SQS did, kept for a cancellation or an exit that ends the call before the SDK hands
    the answer back (its hooks still running). ``tries``: the requests the call has
    sent (sesd.io.sqs_http counts them), the SDK's retries of it one fewer; it adds
    their count to the answer or the error it hands back, which such an end loses, as
    does one before SQS's answer (and an error with no answer, a connection cut, has
    none)."""

    __slots__ = ("answer", "tries")

    def __init__(self) -> None:
        self.answer: dict[str, Any] | None = None
        self.tries = 0


#: The batch call in flight in this task (:class:`Kept`). Kept here, not by a hook of
#: its own on the call's end: one more handler the SDK runs on every delete, that cost
#: about 11,000 instructions a call (1,100 a message of a batch of ten).
KEPT: ContextVar[Kept | None] = ContextVar("sesd_kept_answer", default=None)


#: An answer loaded as the SDK's ``json.loads(body.decode("utf-8"))`` loads it, where it
#: has the only shape read here: an object of lists (or nulls) of objects whose members
#: are texts, booleans, nulls or objects of texts. msgspec loads those JSON values as
#: json does (the same texts for every escape, the last of a repeated key), refusing
#: whatever else (a number, a deeper value, a lone surrogate's escape, bytes that are
#: not UTF-8 or not JSON), which is left to the SDK whole. On the bench's receive
#: answers it takes 16,900 instructions a message where ``json.loads`` took 44,300.
_LOAD = msgspec.json.Decoder(
    dict[str, list[dict[str, str | bool | dict[str, str] | None] | None] | None]
).decode


def read_answer(
    operation_model: Any,
    response_dict: dict[str, Any],
    customized_response_dict: dict[str, Any],
    **_: Any,
) -> None:
    """Read an answer of 200 of :data:`ANSWERS`'s operations whose shape the SDK's walk
    would only copy; leave any other to the SDK (the module's docstring)."""
    members = ANSWERS.get(operation_model.name)
    if members is None or response_dict.get("status_code") != 200:
        return
    body = response_dict.get("body")
    if not isinstance(body, bytes) or not body:
        return
    try:
        answer = _LOAD(body)
    except ValueError:  # msgspec's errors, UnicodeDecodeError: the SDK's own path says
        _refuse_unreadable(operation_model.name, body, response_dict)
        return
    if type(answer) is not dict:
        return
    if "Messages" not in answer and answer and operation_model.name == _RECEIVE:
        raise UnreadableAnswer(_NO_MEMBERS, body)
    read = _members(answer, members)
    if read is None:
        return
    customized_response_dict.update(read)
    # Parsed by the SDK as an answer without members: its metadata, from the headers.
    response_dict["body"] = b""
    if members is _OUTCOMES:  # a delete's or a release's, for the call in flight (KEPT)
        kept = KEPT.get()
        if kept is not None:
            kept.answer = read


def _members(answer: dict[str, Any], members: dict[str, Entries]) -> dict[str, Any] | None:
    """An answer's ``members`` as the SDK's walk makes them, or None where that walk
    would do more than copy (left to the SDK)."""
    read: dict[str, Any] = {}
    for name, entries in members.items():
        listed = answer.get(name)
        if listed is None:  # the SDK leaves out a null member (and others it has not)
            continue
        if type(listed) is not list:
            return None
        found: list[dict[str, Any] | None] = []
        for entry in listed:
            if entry is None:  # the SDK keeps a list's nulls
                found.append(None)
                continue
            if type(entry) is not dict:
                return None
            copied = _entry(entry, entries)
            if copied is None:
                return None
            found.append(copied)
        read[name] = found
    return read


def _refuse_unreadable(operation: str, body: bytes, response_dict: dict[str, Any]) -> None:
    """Raise :class:`UnreadableAnswer` for a ``body`` the SDK's loader fails on (loaded
    as it loads it): nested too deeply, or, for a receive under a JSON type, not JSON (or
    not UTF-8); and for a receive's object of other members only, of types not read
    here. Any other is left to the SDK: under another type, whose receive the
    poller refuses by its type (sesd.runtime.sqs_calls.foreign_answer); a delete's, whose
    entries the answer does not name count as failed."""
    try:
        loaded = json.loads(body.decode("utf-8"))
    except RecursionError:
        raise UnreadableAnswer("nested too deeply", body) from None
    except ValueError:  # UnicodeDecodeError too
        kind = response_dict.get("headers", {}).get("content-type") or ""
        if operation == _RECEIVE and "json" in kind:
            raise UnreadableAnswer("that is not JSON", body) from None
        return
    if operation == _RECEIVE and type(loaded) is dict and loaded and "Messages" not in loaded:
        raise UnreadableAnswer(_NO_MEMBERS, body)


def _entry(entry: dict[str, Any], members: Entries) -> dict[str, Any] | None:
    """An entry as the SDK's walk makes it (its members not null, others dropped), or
    None where that walk would do more than copy (left to the SDK)."""
    read: dict[str, Any] = {}
    for name, value in entry.items():
        if value is None:
            continue
        if name in members.passed:
            read[name] = value  # the SDK checks no text's or boolean's type
        elif name in members.maps:
            if type(value) is not dict:
                return None
            # The SDK's walk makes a copy of it, key for key and value for value; the
            # answer was loaded for this call alone, and nothing else holds it: taken
            # as loaded (a dict's copy for every message SQS gives with its attributes).
            read[name] = value
        elif name in members.refused:
            return None
    return read


def read_outcomes(client: Any) -> None:
    """Have ``client`` read its batch deletes' and releases' answers (:func:`read_answer`,
    which keeps each for the call in flight: :data:`KEPT`), as sesd.io.sdk_calls.trim_sqs
    does, under the same names: once a client, whichever comes first."""
    for operation, members in ANSWERS.items():
        if members is _OUTCOMES:
            client.meta.events.register(
                f"before-parse.sqs.{operation}", read_answer, unique_id=f"sesd-read-{operation}"
            )


#: The queue check's call (sesd.runtime.sqs_calls.check_queue).
_CHECK = "GetQueueAttributes"


def watch_check(client: Any) -> None:
    """Have ``client`` (an SQS client) refuse a check's answer that is not SQS's
    (:func:`check_attributes`) before its parser reads it (once a client)."""
    client.meta.events.register(
        f"before-parse.sqs.{_CHECK}", check_attributes, unique_id=f"sesd-read-{_CHECK}"
    )


def check_attributes(response_dict: dict[str, Any], **_: Any) -> None:
    """Raise :class:`UnreadableAnswer` for an answer of 200 to a queue's check, under a
    JSON type, that does not name the attributes asked for: a body that is not JSON (a
    proxy's error text), or JSON other than an object whose ``Attributes`` is one, or
    SQS's ``{}`` (a queue with none of them): a proxy's JSON error page. An answer of
    another type, or none, is the check's to refuse by its type (foreign_answer); one
    nested deeper than the SDK's loader goes, the SDK's to fail on
    (sesd.io.sdk_blame.answer_too_deep); an empty body is read as ``{}``, as a
    receive's is."""
    if response_dict.get("status_code") != 200:
        return
    kind = response_dict.get("headers", {}).get("content-type") or ""
    body = response_dict.get("body")
    if "json" not in kind or not isinstance(body, bytes) or not body:
        return
    try:
        answer = json.loads(body.decode("utf-8"))
    except RecursionError:
        return  # the SDK's loader fails on it alike, with no frame of sesd's under it
    except ValueError:  # UnicodeDecodeError too
        raise UnreadableAnswer("that is not JSON", body) from None
    if answer != {} and not (type(answer) is dict and type(answer.get("Attributes")) is dict):
        raise UnreadableAnswer("without the attributes asked for", body)
