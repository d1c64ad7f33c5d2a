"""GetAccount's flags checked before botocore's parser reads them, the check alone (no
endpoint): a 2xx answer whose ``SendingEnabled`` or ``ProductionAccessEnabled`` is
neither a boolean nor the word ``true``/``false`` (in any case) is unreadable, a
failed poll; anything else (left out, a null, a body that is no JSON object, an
error's answer) is left to the parser, as before. The parser reads any flag but
``true`` as False: a number or a list read so paged a sending pause SES never said."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sesd.account.failures import UnreadableAnswer
from sesd.account.flags import _check

#: Flags the parser reads as meant.
READ: list[object] = [True, False, "true", "False", "TRUE", None]
#: Flags it would read as False: the answer is unreadable.
UNREAD: list[object] = [1, 0, "yes", "", [True], {"on": True}, 1.0]


def _answer(status: int = 200, /, **flags: object) -> dict[str, Any]:
    return {"status_code": status, "body": json.dumps(flags).encode(), "headers": {}}


@pytest.mark.parametrize("flag", ["SendingEnabled", "ProductionAccessEnabled"])
@pytest.mark.parametrize("said", UNREAD)
def test_a_flag_that_is_no_boolean_makes_the_answer_unreadable(flag: str, said: object) -> None:
    with pytest.raises(UnreadableAnswer):
        _check(_answer(**{flag: said}))


@pytest.mark.parametrize("flag", ["SendingEnabled", "ProductionAccessEnabled"])
@pytest.mark.parametrize("said", READ)
def test_a_flag_the_parser_reads_as_meant_passes(flag: str, said: object) -> None:
    _check(_answer(**{flag: said}))


def test_the_second_flag_is_checked_after_a_first_that_reads() -> None:
    with pytest.raises(UnreadableAnswer):
        _check(_answer(SendingEnabled=True, ProductionAccessEnabled=1))
    with pytest.raises(UnreadableAnswer):
        _check(_answer(SendingEnabled=None, ProductionAccessEnabled="no"))


@pytest.mark.parametrize("status", [200, 201, 299])
def test_every_success_is_checked(status: int) -> None:
    with pytest.raises(UnreadableAnswer):
        _check(_answer(status, SendingEnabled=1))


@pytest.mark.parametrize("status", [199, 300, 400, 500])
def test_an_answer_not_of_success_is_left_to_the_parser(status: int) -> None:
    _check(_answer(status, SendingEnabled=1))


def test_an_answer_without_a_status_is_left_to_the_parser() -> None:
    _check({"body": b'{"SendingEnabled": 1}'})


@pytest.mark.parametrize(
    "body", [b"", "", None, b"not json", b"[1]", b'"SendingEnabled"', b"null", 5]
)
def test_a_body_that_is_no_json_object_is_left_to_the_parser(body: object) -> None:
    _check({"status_code": 200, "body": body})


def test_a_body_as_text_is_read_as_bytes_are() -> None:
    with pytest.raises(UnreadableAnswer):
        _check({"status_code": 200, "body": '{"SendingEnabled": 1}'})
