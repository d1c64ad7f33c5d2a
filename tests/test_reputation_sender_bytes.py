"""What the pipeline keeps of each sender whose reputation windows it remembers is
bounded by what an estimate can be made of: the configuration set's name SES allows
(64 characters), not the tag an event carries (anyone who can send to the queue, or
a replayed file, writes it, up to an SQS message's size)."""

from __future__ import annotations

import gc
import tracemalloc

from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from tests import factory as f
from tests.alone import measured_alone

#: Each event's configuration-set tag: no name SES gives (those are at most 64).
TAG = 65_536
EVENTS = 200


def test_a_long_configuration_set_tag_is_not_kept_for_its_sender() -> None:
    """200 deliveries, each tagged with another 64 KiB configuration set (no SES name:
    they count for the account alone). Each sender's windows were kept under the tag
    whole: 13 MB retained here, up to 4,096 senders of an SQS message's size each (GBs)
    for as long as sesd runs. Now what is kept of them is under 1 MB."""
    kept = measured_alone(_kept)
    assert kept < 1 << 20, kept


def _kept() -> int:
    """The bytes the pipeline holds after the deliveries beyond what it held before (its
    estimate made of them all)."""
    pipeline = Pipeline(core_settings(parse_config("")))
    bodies = []
    for i in range(EVENTS):
        event = f.delivery(["u@x.example"])
        event["mail"]["tags"] = {"ses:configuration-set": [f"{i:06d}" + "x" * TAG]}
        bodies.append(f.raw(event))
    pipeline.feed(f.raw(f.delivery(["u@x.example"])), "q", f.T0)  # stores made
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        while bodies:
            assert pipeline.feed(bodies.pop(), "q", f.T0).outcome == "processed"
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    estimate = pipeline.ledger.reputation.estimate(("default", "eu-west-1", ""))
    assert estimate is not None
    assert estimate.sends == EVENTS + 1
    return kept
