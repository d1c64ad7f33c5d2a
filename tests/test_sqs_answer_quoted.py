"""A refused answer's error quotes the start of what came (sesd.io.sqs_answers): a
proxy's short page of plain text past 60 characters is said to go on, as a long one
is."""

from __future__ import annotations

from sesd.io.sqs_answers import UnreadableAnswer


def test_a_short_page_past_60_characters_is_quoted_as_going_on() -> None:
    """A load balancer's page of 100 ASCII characters (100 bytes, under the 240 read
    for 60 characters of any script): its first 60 characters, and "..."; one of 60
    exactly is quoted whole."""
    page = "<html><body>503 Service Temporarily Unavailable</body></html>".ljust(100, " ")
    said = str(UnreadableAnswer("that is not JSON", page.encode()))
    assert said == f"an answer that is not JSON, not SQS's: {page[:60] + '...'!r}"
    said = str(UnreadableAnswer("that is not JSON", page[:60].encode()))
    assert said == f"an answer that is not JSON, not SQS's: {page[:60]!r}"
