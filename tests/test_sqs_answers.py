"""A receive's and a delete's answer read without the SDK's walk over their shape
(sesd.io.sqs_answers): for every answer an endpoint may give, SQS's or a stand-in's
(any status, any body, any JSON shape), the result is the SDK's own parse of it, or
the same error, but for an answer of 200 the SDK fails on for what it is: nested too
deeply (the SDK raises RecursionError), or a receive's that is not JSON or has members
but no ``Messages`` (the SDK reads no messages), refused as unreadable; any status but
200, and any other operation, is left to the SDK untouched; the hook's table is the
SDK's model."""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Coroutine
from typing import Any, cast

import botocore.session
import pytest
from aiobotocore.parsers import create_parser
from botocore.model import ListShape, MapShape, StructureShape
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sesd.io.sqs_answers import ANSWERS, KEPT, Kept, UnreadableAnswer, read_answer

_MODEL = botocore.session.get_session().get_service_model("sqs")


def _shape(operation: str) -> StructureShape:
    """What the SDK parses ``operation``'s answer against."""
    shape = _MODEL.operation_model(operation).output_shape
    assert isinstance(shape, StructureShape)
    return shape


_HEADERS = {
    "x-amzn-requestid": "5fe3c1a2-0000-4000-8000-000000000000",
    "content-type": "application/x-amz-json-1.0",
    "date": "Sun, 06 Dec 2026 12:00:00 GMT",
}

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
#: Texts, with a lone surrogate among them (JSON may escape one; Python loads it).
_TEXT = st.text(max_size=40) | st.sampled_from(
    ['{"Type": "Notification", "Message": "{}"}', "", "\ud800", "a\udfffb"]
)
_ATTRIBUTES = st.dictionaries(
    st.sampled_from(["ApproximateReceiveCount", "SentTimestamp", "x"]), _TEXT | _JSON, max_size=3
)
#: Message attributes as SQS gives them (a text's, a binary's in base64) or not.
_MESSAGE_ATTRIBUTES = st.dictionaries(
    st.text(max_size=6),
    st.fixed_dictionaries(
        {"DataType": st.sampled_from(["String", "Binary", "Number"])},
        optional={"StringValue": _TEXT, "BinaryValue": st.sampled_from(["aGk=", "", "!"])},
    )
    | _JSON,
    max_size=2,
)
_MEMBERS = {
    **dict.fromkeys(["MessageId", "ReceiptHandle", "MD5OfBody", "Body"], _TEXT | _JSON),
    "MD5OfMessageAttributes": _TEXT | _JSON,
    "Attributes": _ATTRIBUTES | _JSON,
    "MessageAttributes": _MESSAGE_ATTRIBUTES | _JSON,
    "Unmodelled": _JSON,
}
_MESSAGE = st.fixed_dictionaries({}, optional=_MEMBERS)
_ANSWER = (
    st.fixed_dictionaries(
        {},
        optional={
            "Messages": st.lists(st.none() | _MESSAGE, max_size=4) | _JSON,
            "NextToken": _JSON,
        },
    )
    | _JSON
)
#: An answer as SQS gives it, with the nulls and members a stand-in may add: read by the
#: hook (the broad shapes above mostly leave the SDK the answer).
_PLAIN_MESSAGE = st.fixed_dictionaries(
    {},
    optional={
        **dict.fromkeys(["MessageId", "ReceiptHandle", "MD5OfBody", "Body"], _TEXT | st.none()),
        "Attributes": st.dictionaries(st.text(max_size=6), _TEXT | st.none(), max_size=2)
        | st.none(),
        "Unmodelled": _JSON,
    },
)
_PLAIN = st.fixed_dictionaries(
    {}, optional={"Messages": st.lists(st.none() | _PLAIN_MESSAGE, max_size=4) | st.none()}
)
#: A plain answer with one thing beyond it: message attributes, a map of another type,
#: a member the model does not have.
_ODD_MESSAGE = st.fixed_dictionaries(
    {"Body": _TEXT}, optional={"MessageAttributes": _MESSAGE_ATTRIBUTES, "Attributes": _JSON}
)

#: A list's member that is no message at all (a stand-in's).
_NOT_A_MESSAGE = st.integers() | st.text(max_size=3) | st.lists(st.none(), max_size=1)


def _with_odd(plain: dict[str, Any], odd: object, first: bool) -> dict[str, Any]:
    others = plain.get("Messages") or []
    return {**plain, "Messages": [odd, *others] if first else [*others, odd]}


_ODD = st.builds(_with_odd, _PLAIN, _ODD_MESSAGE | _NOT_A_MESSAGE, st.booleans()) | st.builds(
    lambda plain, token: {**plain, "NextToken": token}, _PLAIN, _JSON
)
_OUTCOME = st.none() | st.fixed_dictionaries(
    {},
    optional={
        **dict.fromkeys(["Id", "Code", "Message"], _TEXT | st.none()),
        "SenderFault": st.booleans() | st.none(),
        "Unmodelled": _JSON,
    },
)
_DELETED = st.fixed_dictionaries(
    {},
    optional={
        "Successful": st.lists(_OUTCOME, max_size=4) | st.none(),
        "Failed": st.lists(_OUTCOME | _NOT_A_MESSAGE, max_size=2) | st.none() | _JSON,
    },
)
_BODY = st.one_of(
    _DELETED.map(lambda answer: json.dumps(answer).encode()),
    _ANSWER.map(lambda answer: json.dumps(answer).encode()),
    st.binary(max_size=20),
    st.sampled_from(
        [
            b"",
            b"<html>log in</html>",
            b'{"Messages": [',
            "{}".encode("utf-16"),
            b'\xef\xbb\xbf{"Messages": []}',  # a byte-order mark the SDK cannot load
            b'{"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": "gone"}',
        ]
    ),
)
#: Headers an answer may have beyond SQS's usual ones: an error's code in the query
#: protocol's form (read only from an error), a checksum of the body.
_EXTRA_HEADERS = st.sampled_from(
    [
        {},
        {"x-amzn-query-error": "AWS.SimpleQueueService.NonExistentQueue;Sender"},
        {"x-amz-crc32": "0"},
    ]
)


def _run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """The SDK's parse, which never waits: run to its end at once."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    raise AssertionError("the parse waited")


def _outcome(operation: str, response: dict[str, Any], hooked: bool) -> tuple[str, object]:
    """What a call gets from ``response``: as the SDK's endpoint reads it,
    ``before-parse`` (``read_answer`` if ``hooked``), the parse, then the merge."""
    customized: dict[str, Any] = {}
    try:
        if hooked:
            read_answer(
                operation_model=_MODEL.operation_model(operation),
                response_dict=response,
                customized_response_dict=customized,
            )
        parsed = _run(create_parser("json").parse(response, _shape(operation)))
    except Exception as exc:  # noqa: BLE001 - the same error, whichever read it
        return "raised", (type(exc), str(exc))
    parsed.update(customized)
    return "answered", parsed


def _unreadable(operation: str, body: bytes) -> str | None:
    """Why the SDK cannot read ``body`` (under SQS's JSON type) for what it is, as its
    loader finds: nested too deeply, or a receive's that is not JSON, or that has
    members but no ``Messages`` (SQS's empty receive is ``{}``); None if it can."""
    try:
        loaded = json.loads(body.decode("utf-8"))
    except RecursionError:
        return "nested too deeply"
    except ValueError:
        return "that is not JSON" if operation == "ReceiveMessage" else None
    if operation == "ReceiveMessage" and isinstance(loaded, dict):
        return "without a receive's members" if loaded and "Messages" not in loaded else None
    return None


def _same(operation: str, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
    response = {"status_code": status, "headers": {**_HEADERS, **(headers or {})}, "body": body}
    hooked = copy.deepcopy(response)
    outcome, sdks = _outcome(operation, hooked, True), _outcome(operation, response, False)
    why = _unreadable(operation, body) if status == 200 and operation in ANSWERS else None
    if why is None or not body:  # the SDK reads an empty body as an empty answer
        assert outcome == sdks
    else:
        # Refused, quoting the answer's start, where the SDK raised what no SQS error is
        # or read a receive that is no JSON as no messages (a healthy, empty queue).
        assert outcome == ("raised", (UnreadableAnswer, str(UnreadableAnswer(why, body))))
        kind, what = sdks[0], cast(Any, sdks[1])
        if why == "nested too deeply":
            assert (kind, what[0]) == ("raised", RecursionError), sdks
        elif kind == "raised":  # bytes that are not UTF-8
            assert what[0] is UnicodeDecodeError, sdks
        else:
            assert "Messages" not in what, sdks
    if status != 200 or operation not in ANSWERS:
        assert hooked["body"] == body


@settings(max_examples=200, deadline=None, derandomize=True)
@given(answer=_PLAIN | _ODD)
def test_an_sqs_receive_read_by_the_hook_is_the_sdks_own(answer: dict[str, Any]) -> None:
    """SQS's answer, its nulls, a stand-in's members and types: the SDK's own result."""
    _same("ReceiveMessage", 200, json.dumps(answer).encode())


@settings(max_examples=100, deadline=None, derandomize=True)
@given(answer=_DELETED)
def test_an_sqs_delete_read_by_the_hook_is_the_sdks_own(answer: dict[str, Any]) -> None:
    """A batch delete's answer, its nulls, a stand-in's members and types: the same."""
    _same("DeleteMessageBatch", 200, json.dumps(answer).encode())


@settings(max_examples=100, deadline=None, derandomize=True)
@given(answer=_DELETED)
def test_an_sqs_release_read_by_the_hook_is_the_sdks_own(answer: dict[str, Any]) -> None:
    """A batch release's answer (visibility 0), of the same lists: the same."""
    _same("ChangeMessageVisibilityBatch", 200, json.dumps(answer).encode())


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    operation=st.sampled_from([*ANSWERS, "GetQueueAttributes"]),
    status=st.sampled_from([200, 201, 400, 403, 500, 503]),
    body=_BODY,
    headers=_EXTRA_HEADERS,
)
# Each rare in the draws above, at 200 on an operation read: a byte-order mark, an
# error's shape with its code in a header (the SDK reads neither as an error at 200).
@example("ReceiveMessage", 200, b'\xef\xbb\xbf{"Messages": []}', {})
# JSON that json loads and a stricter loader may refuse, or the other way: a raw control
# character in a text, NaN, a number past a float's range, a lone surrogate's escape,
# a byte that is not UTF-8.
@example("ReceiveMessage", 200, b'{"Messages": [{"Body": "a\tb"}]}', {})
@example("ReceiveMessage", 200, b'{"Messages": [{"Body": "\xff"}]}', {})
@example("ReceiveMessage", 200, b'{"Messages": [{"Body": NaN, "MessageId": 1e400}]}', {})
@example("DeleteMessageBatch", 200, b'{"Successful": [{"Id": "\\ud800"}]}', {})
# A key given twice (json keeps the last, in the first's place: whatever stands in for
# it, a number first or last, a null last), which json.dumps never writes.
@example(
    "ReceiveMessage",
    200,
    b'{"Messages": [{"Body": "a", "MessageId": "m", "Body": "b", "MessageId": null,'
    b' "Attributes": {"x": "1", "y": "2", "x": "3"}}], "Messages": [{"Body": "c"},'
    b' {"Body": "d", "Body": "e"}]}',
    {},
)
@example("ReceiveMessage", 200, b'{"Messages": 1, "Messages": [{"Body": "a"}]}', {})
@example("DeleteMessageBatch", 200, b'{"Successful": [{"Id": "a", "Id": 1}]}', {})
# Data after the answer, whitespace JSON does not have (a form feed, a vertical tab),
# an integer past the digits Python converts (the SDK reads none as an answer: refused),
# nesting past json's recursion limit (the SDK raises: refused), at the top too, and in
# a delete's answer.
@example("ReceiveMessage", 200, b'{"Messages": [{"Body": "a"}]} {"Messages": []}', {})
@example("ReceiveMessage", 200, b'\x0c{"Messages": [{"Body": "a"}]}\x0b', {})
@example("ReceiveMessage", 200, b'{"Messages": [{"Body": "a", "N": ' + b"9" * 5000 + b"}]}", {})
@example(
    "ReceiveMessage",
    200,
    b'{"Messages": [{"Body": "a", "N": ' + b"[" * 100_000 + b"]" * 100_000 + b"}]}",
    {},
)
@example("ReceiveMessage", 200, b"[" * 5_000 + b"]" * 5_000, {})
@example("DeleteMessageBatch", 200, b'{"Failed": ' + b"[" * 5_000 + b"]" * 5_000 + b"}", {})
@example("DeleteMessageBatch", 200, b"<html>log in</html>", {})
# JSON of 200 without SQS's members: a proxy's error page, an error's shape, an object
# of texts the hook would read (refused); SQS's empty receives, past and present (read).
@example("ReceiveMessage", 200, b'{"message": "Forbidden"}', {})
@example("ReceiveMessage", 200, b'{"__type": "InternalError", "message": "x"}', {})
@example("ReceiveMessage", 200, b'{"NextToken": null, "Other": []}', {})
@example("ReceiveMessage", 200, b'{"Messages": null}', {})
@example("ReceiveMessage", 200, b"{}", {})
# Escapes and raw UTF-8: a surrogate pair (either case), a high surrogate before no low
# one, a NUL's escape, a raw character past the BMP, a line separator and DEL (json
# takes those raw), a raw control character in a key, a byte not UTF-8 after an escape, a
# surrogate's UTF-8 (which UTF-8 does not allow).
@example(
    "ReceiveMessage",
    200,
    '{"Messages": [{"Body": "\\ud83d\\ude00\\uD83D\\uDE00\\u0000\U0001f600\u2028\x7f"}]}'.encode(),
    {},
)
@example("ReceiveMessage", 200, b'{"Messages": [{"Body": "\\ud83d\\u0041"}]}', {})
@example("ReceiveMessage", 200, b'{"Messages": [{"Bo\x01dy": "a", "Body": "b"}]}', {})
@example("ReceiveMessage", 200, b'{"Messages": [{"Body": "\\n\xff"}]}', {})
@example("ReceiveMessage", 200, b'{"Messages": [{"Body": "\xed\xa0\xbd"}]}', {})
# Message attributes as SQS gives them (a binary's in base64, which the SDK decodes), and
# the digests of the body and of those attributes.
@example(
    "ReceiveMessage",
    200,
    b'{"Messages": [{"Body": "a", "MD5OfBody": "0cc175b9c0f1b6a831c399e269772661",'
    b' "MD5OfMessageAttributes": "1", "MessageAttributes": {"k": {"DataType": "Binary",'
    b' "BinaryValue": "aGk="}, "s": {"DataType": "String", "StringValue": "v"}}}]}',
    {},
)
@example(
    "DeleteMessageBatch",
    200,
    b'{"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": "gone", "Failed": []}',
    {"x-amzn-query-error": "AWS.SimpleQueueService.NonExistentQueue;Sender"},
)
def test_any_answer_read_with_the_hook_is_the_sdks_own(
    operation: str, status: int, body: bytes, headers: dict[str, str]
) -> None:
    """The answer (or the error) the SDK gives for any status and body, with the hook as
    without it; any status but 200 and any other operation are not touched."""
    _same(operation, status, body, headers)


def test_the_hooks_table_is_the_sdks_model() -> None:
    """Each operation read answers lists of entries only, and the table sorts each
    entry's members as the model types them: texts and booleans passed on, maps of
    texts copied, any other left to the SDK (a model that changed fails here)."""
    for operation, members in ANSWERS.items():
        shape = _shape(operation)
        assert set(shape.members) == set(members)
        for name, entries in members.items():
            listed = shape.members[name]
            assert isinstance(listed, ListShape)
            entry = listed.member
            assert isinstance(entry, StructureShape)
            kinds: dict[str, set[str]] = {"passed": set(), "maps": set(), "refused": set()}
            for member, member_shape in entry.members.items():
                assert "name" not in member_shape.serialization  # read by its own name
                if member_shape.type_name in ("string", "boolean"):
                    kinds["passed"].add(member)
                elif isinstance(member_shape, MapShape) and {
                    member_shape.key.type_name,
                    member_shape.value.type_name,
                } == {"string"}:
                    kinds["maps"].add(member)
                else:
                    kinds["refused"].add(member)
            assert kinds == {
                "passed": entries.passed,
                "maps": entries.maps,
                "refused": entries.refused,
            }


def test_sqs_answers_are_read_by_the_hook() -> None:
    """The answers SQS gives, a batch with system attributes, an empty one, a delete's,
    are read by the hook, not left to the SDK's walk (what the hook is for)."""
    batch = {
        "Messages": [
            {
                "MessageId": f"m-{i}",
                "ReceiptHandle": f"r-{i}",
                "MD5OfBody": "0" * 32,
                "Body": '{"Type": "Notification"}',
                "Attributes": {"ApproximateReceiveCount": "1"},
            }
            for i in range(10)
        ]
    }
    deleted: dict[str, list[dict[str, Any]]] = {
        "Successful": [{"Id": str(i)} for i in range(9)],
        "Failed": [{"Id": "9", "SenderFault": True, "Code": "ReceiptHandleIsInvalid"}],
    }
    for operation, answer in (
        ("ReceiveMessage", batch),
        ("ReceiveMessage", {}),
        ("DeleteMessageBatch", deleted),
    ):
        response = {
            "status_code": 200,
            "headers": dict(_HEADERS),
            "body": json.dumps(answer).encode(),
        }
        customized: dict[str, Any] = {}
        read_answer(
            operation_model=_MODEL.operation_model(operation),
            response_dict=response,
            customized_response_dict=customized,
        )
        assert response["body"] == b""
        assert customized == answer


def test_a_body_that_is_not_bytes_is_left_to_the_sdk() -> None:
    """A body the SDK hands on as a stream or a text (its streaming operations, a
    stand-in's transport) is left to the SDK untouched, not read nor raised on."""
    for body in (io.BytesIO(b'{"Messages": []}'), '{"Messages": []}'):
        response = {"status_code": 200, "headers": dict(_HEADERS), "body": body}
        customized: dict[str, Any] = {}
        read_answer(
            operation_model=_MODEL.operation_model("ReceiveMessage"),
            response_dict=response,
            customized_response_dict=customized,
        )
        assert response["body"] is body
        assert customized == {}


def test_an_unreadable_answer_quotes_its_first_60_characters() -> None:
    """A refused answer's error quotes its first 60 characters, of whatever bytes (a
    proxy's page in a script of three bytes a character: not 20 of them and one cut in
    two), and says when the answer goes on."""
    page = "サービスは現在ご利用いただけません。しばらくしてからお試しください。" * 3
    said = str(UnreadableAnswer("that is not JSON", page.encode()))
    assert said == f"an answer that is not JSON, not SQS's: {page[:60] + '...'!r}"
    whole = "\U0001f600" * 60  # four bytes each: all of it, nothing more
    said = str(UnreadableAnswer("that is not JSON", whole.encode()))
    assert said == f"an answer that is not JSON, not SQS's: {whole!r}"


@pytest.mark.parametrize("batch", ["DeleteMessageBatch", "ChangeMessageVisibilityBatch"])
def test_a_batch_calls_answer_is_kept_for_the_call_in_flight_alone(batch: str) -> None:
    """A batch delete's or release's answer read here is kept where its call set it for
    itself (sesd.runtime.sqs_deletes), which a cancellation after the answer reads; a
    receive's and an error's are not, and with none set (no call in flight) nothing is."""
    done = {"Successful": [{"Id": "0"}], "Failed": []}

    def read(operation: str, status: int = 200) -> None:
        body = json.dumps(done if operation == batch else {}).encode()
        read_answer(
            operation_model=_MODEL.operation_model(operation),
            response_dict={"status_code": status, "headers": dict(_HEADERS), "body": body},
            customized_response_dict={},
        )

    read(batch)  # none in flight: nowhere to keep it, and no error
    kept = Kept()
    token = KEPT.set(kept)
    try:
        read("ReceiveMessage")
        read(batch, 500)
        assert kept.answer is None
        read(batch)
        assert kept.answer == done
    finally:
        KEPT.reset(token)
    assert KEPT.get() is None
