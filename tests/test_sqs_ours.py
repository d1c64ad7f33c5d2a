"""Which of a batch delete's (or release's) entries failed, read from the answer
without a queue (``sesd.runtime.sqs_deletes._ours``): each failed entry naming one
sent (once); those naming none, at most one per entry sent; and each entry sent that
the answer names neither failed nor successful, as failed with a code saying so (a
stand-in's ``{}`` counted every message deleted). A nameless failed entry stands for
one of those: a message is counted failed once."""

from __future__ import annotations

from typing import Any

from sesd.runtime.sqs_deletes import UNNAMED, _ours

SENT = {"0", "1", "2"}
ALL_DONE: list[Any] = [{"Id": "0"}, {"Id": "1"}, {"Id": "2"}]


def _unnamed(*ids: str) -> list[dict[str, str]]:
    return [{"Id": i, "Code": UNNAMED} for i in ids]


def test_every_entry_named_successful_is_done() -> None:
    assert _ours([], SENT, ALL_DONE) == []


def test_an_answer_naming_no_entry_fails_each_in_order() -> None:
    assert _ours([], SENT, []) == _unnamed("0", "1", "2")


def test_an_entry_named_failed_is_not_named_nowhere() -> None:
    failed = {"Id": "1", "Code": "ReceiptHandleIsInvalid"}
    assert _ours([failed], SENT, [{"Id": "0"}]) == [failed, *_unnamed("2")]


def test_a_successful_entry_that_names_none_by_text_is_none_done() -> None:
    """A successful entry whose id is a number, a null, or no map says of no entry."""
    succeeded: list[Any] = [{"Id": 0}, {"Id": None}, None, ["1"], {"Id": "2"}]
    assert _ours([], SENT, succeeded) == _unnamed("0", "1")


def test_a_nameless_failed_entry_stands_for_one_named_nowhere() -> None:
    nameless = {"Code": "InternalError"}
    assert _ours([nameless], SENT, [{"Id": "0"}]) == [nameless, *_unnamed("2")]
    assert _ours([nameless, None], SENT, []) == [nameless, {}, *_unnamed("2")]


def test_no_more_fail_than_were_sent() -> None:
    failed: list[Any] = [{"Id": "0"}, {"Id": "0"}, {"Id": "9"}, {}, {}, {}, {}]
    assert _ours(failed, SENT, []) == [{"Id": "0"}, {}, {}]
