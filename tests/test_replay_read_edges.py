"""What replay's reader makes of the edges of each form it reads: an array never
closed, an array larger than a chunk, an element of exactly the body bound, an
indented document at its bound and after blank lines, indented documents followed
by what is not one, values handed on as written. Each is read as replay reads a
stream: chunks of given sizes in, (offset, body) pairs out."""

from __future__ import annotations

import json

import pytest

from sesd.commands.replay.json_stream import (
    MAX_BODY,
    TOO_LARGE,
    Chunks,
    DocumentTooLarge,
)

_EVENT = b'{"eventType": "Send", "mail": {"messageId": "m"}}'


def _read(chunks: list[bytes], max_document: int | None = None) -> list[tuple[int, bytes]]:
    """The (offset, body) pairs replay reads from a stream arriving in ``chunks``."""
    from sesd.commands.replay.archive import _placed

    if max_document is None:
        return list(_placed(Chunks(chunks)))
    return list(_placed(Chunks(chunks), max_document))


def _split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("size", [1, 7, 1 << 20])
def test_an_array_never_closed_hands_on_its_elements_and_the_cut_one(size: int) -> None:
    """A top-level array cut short inside its last element (a dump whose writer
    died): the whole elements are read, and the cut one is handed on once, as it
    stands, at the offset of its first byte after the white space before it (to be
    counted invalid there); nothing else comes out of the stream's end."""
    cut = b'{"eventType": "Bounce", "mail": [1, 2'
    data = b'[ {"n":  1},\n  ' + _EVENT + b",  \t" + cut
    assert _read(_split(data, size)) == [
        (2, b'{"n":  1}'),
        (data.index(_EVENT), _EVENT),
        (data.index(cut), cut),
    ]


def test_an_array_longer_than_a_chunk_reads_every_element() -> None:
    """An array of 3,000 events, 1.9 MiB, read a MiB at a time (replay's reads): the
    elements past the middle of a chunk are no larger for being there; every one is
    read, none counted too large."""
    events = [_EVENT.replace(b'"m"', b'"m%d", "pad": "%s"' % (i, b"x" * 600)) for i in range(3000)]
    data = b"[" + b",".join(events) + b"]\n"
    assert len(data) > MAX_BODY * 1.5
    assert [body for _, body in _read(_split(data, 1 << 20))] == events


@pytest.mark.parametrize(("size", "read"), [(MAX_BODY, True), (MAX_BODY + 1, False)])
def test_an_array_element_of_exactly_max_body_bytes_is_read(size: int, read: bool) -> None:
    """An array's element of exactly MAX_BODY bytes, a chunk ending right after it
    (before the comma that ends it), is read whole; a byte more, it is skipped and
    counted too large, and the element after it read either way."""
    opening = b'{"eventType": "Send", "pad": "'
    value = opening + b"x" * (size - len(opening) - 2) + b'"}'
    assert len(value) == size
    data = b"[" + value + b", " + _EVENT + b"]"
    out = _read([data[: 1 + size], data[1 + size :]])
    assert out == [(1, value if read else TOO_LARGE), (size + 3, _EVENT)]


def _dump(size: int) -> bytes:
    """An SQS dump as the AWS CLI indents it, of one message, ``size`` bytes long."""
    head, tail = b'{\n  "Messages": [\n    {\n      "Body": "', b'"\n    }\n  ]\n}\n'
    return head + b"x" * (size - len(head) - len(tail)) + tail


@pytest.mark.parametrize(
    ("extra", "chunk"), [(0, 1 << 20), (1, 1 << 20), (100_000, 1 << 16), (100_000, 1 << 20)]
)
def test_an_indented_document_is_read_up_to_its_bound_and_refused_past_it(
    extra: int, chunk: int
) -> None:
    """An indented document read whole, here with a bound of 1 MiB: one of exactly
    1 MiB is read, one a byte longer (that byte in a chunk of its own) or 100 KB longer
    (in chunks of 64 KiB or of 1 MiB) is refused where it starts, and the refusal
    states the bound in MiB."""
    bound = 1 << 20
    data = b"\n\n" + _dump(bound - 2 + extra)
    if not extra:
        body = json.loads(data)["Messages"][0]["Body"].encode()
        assert _read(_split(data, chunk), bound) == [(2, body)]
        return
    with pytest.raises(DocumentTooLarge) as refused:
        _read(_split(data, chunk), bound)
    assert refused.value.at == 2
    assert str(refused.value) == (
        "one JSON document larger than 1 MiB starts there: write the events a line each "
        "(newline-delimited JSON) to replay it"
    )


@pytest.mark.parametrize("size", [1, 7, 1 << 20])
def test_one_indented_event_after_blank_lines_is_read_as_written(size: int) -> None:
    """One event indented (``jq .`` of one event) after two blank lines: one body, the
    document as written (its indentation kept: the pipeline decodes it), at the offset
    of its ``{``."""
    event = json.dumps(json.loads(_EVENT), indent=2).encode()
    [(at, body)] = _read(_split(b"\n\n" + event + b"\n", size))
    assert (at, body.strip()) == (2, event)


_DUMP = json.dumps({"Messages": [{"Body": "a"}, {"Body": "b"}]}, indent=2).encode()
#: Indented documents one after another (``jq .`` output), one of them balanced but
#: not JSON, one an event; then lines that are no document: a header line pasted with
#: them, an event, an object cut short.
_AFTER: list[tuple[bytes, tuple[bytes, ...]]] = [
    (b"\n", ()),
    (_DUMP, (b"a", b"b")),
    (b"\n", ()),
    (b'{\n  "n": nope\n}', (b'{\n  "n": nope\n}',)),
    (b"\n  ", ()),
    (json.dumps(json.loads(_EVENT), indent=2).encode(), (_EVENT,)),
    (b"\n", ()),
    (b"X-Amzn-RequestId: 7f2c", (b"X-Amzn-RequestId: 7f2c",)),
    (b"\n", ()),
    (_EVENT, (_EVENT,)),
    (b"\n", ()),
    (b'{"eventType": "Bounce", "mail":', (b'{"eventType": "Bounce", "mail":',)),
    (b"\n", ()),
]


@pytest.mark.parametrize("size", [1, 7, 1 << 20])
def test_indented_documents_then_lines_are_each_read_where_they_start(size: int) -> None:
    """Indented documents one after another, then lines that are no document: each
    document is read whole (one that does not decode handed on as written, an event
    with its indentation), each line after them on its own (a header line pasted in
    is not read as one value with the event after it), each at its own offset."""
    data, expected = b"", []
    for part, bodies in _AFTER:
        expected += [(len(data), body) for body in bodies]
        data += part
    out = _read(_split(data, size))
    assert [(at, b"".join(body.split())) for at, body in out] == [
        (at, b"".join(body.split())) for at, body in expected
    ]
    assert out[3][1] == json.dumps(json.loads(_EVENT), indent=2).encode()


@pytest.mark.parametrize("form", ["line", "element"])
def test_a_value_not_in_utf8_is_handed_on_as_written(form: str) -> None:
    """A value holding a Latin-1 byte, a line or an array's element, written without
    the spaces a JSON writer puts in: handed on as written, so that the report's
    place of the byte "in the value" is where an editor finds it."""
    value = b'{"eventType":"Send","mail":{"messageId":"caf\xe9"}}'
    data = value + b"\n" if form == "line" else b"[" + value + b"]"
    assert _read([data]) == [(0 if form == "line" else 1, value)]


def test_sqs_messages_back_to_back_are_opened() -> None:
    """SQS messages written back to back on a line (``jq -j``): each message's ``Body``
    is a body, at the offset of its message, as when they are a line each."""
    first, second = b'{"MessageId": "1", "Body": "a"}', b'{"MessageId": "2", "Body": "b"}'
    assert _read([first + second + b"\n"]) == [(0, b"a"), (len(first), b"b")]


@pytest.mark.parametrize("size", [4096, 3 << 19])
def test_an_array_element_larger_than_a_chunk_and_the_bound_is_placed_where_it_starts(
    size: int,
) -> None:
    """An array's element of 3 MiB, skipped while it is read (its end still to come
    when it passes the bound), is counted at the offset of its first byte after the
    white space before it, the elements after it at theirs (the next one right after
    the comma): read 4 KiB at a time, or 1.5 MiB (the element then starting inside the
    first chunk)."""
    huge = b'{"eventType": "Send", "pad": "' + b"x" * (3 << 20) + b'"}'
    data = b"[" + _EVENT + b",  \n " + huge + b"," + _EVENT + b"]"
    assert _read(_split(data, size)) == [
        (1, _EVENT),
        (data.index(huge), TOO_LARGE),
        (len(data) - 1 - len(_EVENT), _EVENT),
    ]


def test_objects_back_to_back_each_at_its_offset_and_a_lone_brace_costs_itself() -> None:
    """Objects back to back on a second line: one plain, one with ``}{`` inside a string
    (found to its end by the scan that knows strings), a lone ``{`` (a record cut to
    its first byte), then an event: each at its own offset in the stream; the lone
    brace is one invalid value and the event after it is read."""
    first, inner = b'{"k": 1}', b'{"n": "}{"}'
    line = first + inner + b"{" + _EVENT
    data = _EVENT + b"\n" + line + b"\n"
    at = len(_EVENT) + 1
    assert _read([data]) == [
        (0, _EVENT),
        (at, first),
        (at + len(first), inner),
        (at + len(first) + len(inner), b"{"),
        (at + len(first) + len(inner) + 1, _EVENT),
    ]


def test_an_array_on_a_line_after_other_lines_opens_its_elements() -> None:
    """Events a line each, then an array on one line (``jq -c`` output appended): each
    element is a body at the line's offset (an event re-encoded, an SQS message's
    ``Body``, a string as it is, a number as JSON writes it)."""
    line = b"[" + _EVENT + b', {"Body": "b"}, "s", 3]'
    assert _read([_EVENT + b"\n" + line + b"\n"]) == [
        (0, _EVENT),
        *((len(_EVENT) + 1, body) for body in (b"".join(_EVENT.split()), b"b", b"s", b"3")),
    ]


def test_an_sqs_dump_keeps_the_bytes_not_in_utf8_of_each_message() -> None:
    """An indented SQS dump holding a Latin-1 byte in a message that is a string and in
    one that is an event (no ``Body``): each is a body of its own, its byte kept as
    read (the pipeline counts it ``not_utf8`` and says where), the other messages
    read."""
    dump = (
        b'{\n  "Messages": [\n    {"Body": "a"},\n    "caf\xe9",\n'
        b'    {"eventType": "Send", "x": "caf\xe9"}\n  ]\n}\n'
    )
    assert [body for _, body in _read([dump])] == [
        b"a",
        b"caf\xe9",
        b'{"eventType": "Send", "x": "caf\xe9"}',
    ]


def test_a_body_over_the_bound_in_an_indented_dump_is_counted_too_large() -> None:
    """An indented SQS dump (read whole) whose first message's body is a byte over
    MAX_BODY: that body is counted too large, the next one read."""
    dump = {"Messages": [{"Body": "x" * (MAX_BODY + 1)}, {"Body": "b"}]}
    assert [body for _, body in _read([json.dumps(dump, indent=2).encode()])] == [
        TOO_LARGE,
        b"b",
    ]


def test_lines_opening_with_a_spaced_brace_are_lines_not_one_document() -> None:
    """Events a line each whose writer puts a space after the opening brace: read a line
    at a time, not held whole as one indented document (here a bound of 64 bytes on
    a document would refuse the stream)."""
    events = [b'{ "eventType": "Send", "n": %d }' % i for i in range(3)]
    data = b"\n".join(events) + b"\n"
    assert _read([data], max_document=64) == [
        (i * (len(events[0]) + 1), e) for i, e in enumerate(events)
    ]
