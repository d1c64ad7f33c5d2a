"""A delivery to one recipient whose domain's slots are kept computes the recipient's
pending key, and its delivery's value keys, itself (not by the calls every other event
makes): here it is fed what the stream of the reference test never writes (a local
part in capitals, not ASCII, or after a space; no processing time; a time to delivery
past the sketch's top bucket), and leaves the pipeline as the reference
(tests/test_pipeline_delivery_reference.py) leaves it."""

from __future__ import annotations

import pytest

from sesd.core.pipeline import Pipeline
from tests import factory as f
from tests.test_pipeline_delivery_reference import Reference, _seen_more
from tests.test_pipeline_slots_reference import _SETTINGS


def _pipelines() -> list[Pipeline]:
    """The pipeline and its reference, a.example's slots kept in both (its provider's
    answer holds, and a delivery to it has been counted)."""
    pipelines = [Pipeline(_SETTINGS), Reference(_SETTINGS)]
    for p in pipelines:
        p.ledger.providers.remember("a.example", "google", f.T0 + 10_000)  # type: ignore[union-attr]
        p.feed(f.raw(f.delivery(["v@a.example"], at=f.T0 - 30, message_id="m0")), "q", f.T0)
    return pipelines


@pytest.mark.parametrize(
    "address", ["Ann@a.example", "jürgen@a.example", "ÄNN@a.example", " ann@a.example"]
)
def test_a_delivery_on_its_own_path_ends_the_delay_of_any_local_part(address: str) -> None:
    """Its delay pends until the delivery, which ends it (its duration in the windows),
    however the address's local part is written: the key is the one the delay has."""
    pipelines = _pipelines()
    now = f.T0
    delay = f.raw(f.delay([address], at=now - 20, expires=now + 900, message_id="m1"))
    assert pipelines[0].feed(delay, "q", now) == pipelines[1].feed(delay, "q", now)
    assert [len(p.ledger.pending) for p in pipelines] == [1, 1]
    body = f.raw(f.delivery([address], at=now - 1, message_id="m1"))
    assert pipelines[0].feed(body, "q", now) == pipelines[1].feed(body, "q", now)
    assert [len(p.ledger.pending) for p in pipelines] == [0, 0]
    assert _seen_more(pipelines[0], now) == _seen_more(pipelines[1], now)


def test_a_delivery_on_its_own_path_without_a_processing_time() -> None:
    """SES may leave processingTimeMillis out: no value is kept, the delivery counted."""
    pipelines = _pipelines()
    now = f.T0
    event = f.delivery(["u@a.example"], at=now - 1, message_id="m1")
    del event["delivery"]["processingTimeMillis"]
    body = f.raw(event)
    assert pipelines[0].feed(body, "q", now) == pipelines[1].feed(body, "q", now)
    assert _seen_more(pipelines[0], now) == _seen_more(pipelines[1], now)


def test_a_delivery_on_its_own_path_sent_years_before() -> None:
    """A message whose mail timestamp is two years before its delivery (no time SES
    writes, but the text is a stranger's): its time to delivery counts in the sketch's
    top bucket, as any longer time does, and the delivery is counted, not lost to an
    error (a bucket past the top one indexes past its row)."""
    pipelines = _pipelines()
    now = f.T0
    sent = now - 1 - 2 * 365 * 86_400.0
    body = f.raw(f.delivery(["u@a.example"], at=now - 1, sent=sent, message_id="m1"))
    assert pipelines[0].feed(body, "q", now) == pipelines[1].feed(body, "q", now)
    assert _seen_more(pipelines[0], now) == _seen_more(pipelines[1], now)
