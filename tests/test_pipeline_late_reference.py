"""An event is late (counted apart, out of every window) exactly as the widest window's
WindowSpec.holds() has it, whatever came before on the same pipeline: the pipeline
compares an event's time with the earliest time held while the clock stays in one
bucket, and divides as holds() does when the clock leaves it (a reload between them
changes nothing of this), and always with a width that is not whole seconds. Times
at the earliest bucket's edge and a millisecond either side, clocks that step back,
both kinds of width."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from sesd.config import core_settings, parse_config
from sesd.core.decode import Event, decode_body
from sesd.core.pipeline import Pipeline
from tests import factory as f

_BASE = core_settings(parse_config(""))
#: The default layout (the widest: 30 buckets of 120 s), one of 15 s buckets, and one
#: whose width is not whole seconds (28 buckets of 4.4 s).
_LAYOUTS = [
    _BASE,
    dataclasses.replace(_BASE, windows=(("1m", 60.0), ("5m", 300.0)), resolution=15.0),
    dataclasses.replace(_BASE, windows=(("1m", 60.0), ("2m", 120.0)), resolution=1.1),
]

#: (buckets the clock moves, ms into its bucket, the event: at the earliest bucket's
#: edge or that many buckets after it, ms either side).
_STEP = st.tuples(
    st.sampled_from([0, 0, 0, 1, -1, 7]),
    st.integers(0, 120_000),
    st.sampled_from([0, 0, -1, 1]) | st.integers(-3, 40),
    st.integers(-2, 2),
)


def _late(pipeline: Pipeline, i: int, at: float, now: float) -> None:
    """Apply a delivery at ``at``: late exactly when holds() says it is not held."""
    widest = pipeline.ledger.widest
    decoded = decode_body(f.raw(f.delivery([f"u{i}@x.example"], at=at)))
    assert isinstance(decoded, Event)
    late = pipeline.ledger.tallies.late_events
    pipeline.apply(decoded, "q", now)
    in_windows = widest.holds(min(decoded.time, now), now)
    assert pipeline.ledger.tallies.late_events - late == (not in_windows)


@settings(max_examples=300, deadline=None)
@given(
    first=st.integers(0, len(_LAYOUTS) - 1),
    then=st.integers(0, len(_LAYOUTS) - 1),
    steps=st.lists(_STEP, min_size=1, max_size=12),
    reload_at=st.integers(0, 12),
)
def test_an_event_is_late_exactly_as_the_widest_window_holds_it(
    first: int, then: int, steps: list[tuple[int, int, int, int]], reload_at: int
) -> None:
    pipeline = Pipeline(_LAYOUTS[first])
    clock = 1_800_000_000.0  # (a reload leaves it where it is: in the old bucket too)
    for i, (move, now_ms, after, off_ms) in enumerate(steps):
        if i == reload_at:
            pipeline.reconfigure(_LAYOUTS[then])
        widest = pipeline.ledger.widest
        clock += move * widest.width
        now = clock + now_ms % round(widest.width * 1000) / 1000
        edge = (now // widest.width - widest.slots + 1 + after) * widest.width
        _late(pipeline, i, round(edge * 1000 + off_ms) / 1000, now)


def test_a_width_not_whole_seconds_is_divided_for_every_event() -> None:
    """In 4.4 s buckets, 1495885.6 is the earliest bucket's edge at 1496005 as
    multiplied out, yet the floor division puts it in the bucket before: every event
    is divided then, not compared with a product."""
    pipeline = Pipeline(_LAYOUTS[2])
    assert (pipeline.ledger.widest.width, pipeline.ledger.widest.slots) == (4.4, 28)
    _late(pipeline, 0, 1496005.0, 1496005.0)
    _late(pipeline, 1, 1495885.6, 1496005.0)
