"""The two spans that stand in for floor divisions of Unix times (the bucket ``now``
is in, for an event's lateness; the fine bucket staged, for a domain's write) change
nothing read: a pipeline that makes neither (every event and write divides, as
before the spans) gives the same results, late counts, counts and series after
every step, and the same state file. Streams of every event type at the widest
window's earliest edge and a millisecond either side, at fine buckets' edges and
far back; clocks that step back and forward across bucket edges; a restart from
the state file between events; widths of whole seconds and not."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any
from unittest import mock

from hypothesis import example, given, settings
from hypothesis import strategies as st

from sesd.config import core_settings, parse_config
from sesd.core import pipeline as pipeline_module
from sesd.core.pipeline import Pipeline
from sesd.core.windows import domain as domain_module
from tests import factory as f

_BASE = core_settings(parse_config(""))
_LAYOUTS = [
    _BASE,
    dataclasses.replace(_BASE, windows=(("10s", 10.0), ("1m", 60.0)), resolution=1.0),
    dataclasses.replace(_BASE, windows=(("1m", 60.0), ("2m", 120.0)), resolution=1.1),
    dataclasses.replace(_BASE, windows=(("3s", 3.0), ("9s", 9.0)), resolution=1.5),
]
_KINDS = ["delivery", "delivery", "bounce", "delay", "complaint"]

#: (event type, domain, buckets of the widest window the clock moves, ms it moves
#: besides, where the event is: 0 at the widest window's earliest edge, 1 near the
#: clock's fine bucket, 2 far back; fine buckets from there, ms either side).
_STEP = st.tuples(
    st.sampled_from(_KINDS),
    st.integers(0, 2),
    st.sampled_from([0, 0, 0, 1, -1, -40]),
    st.sampled_from([0, 0, 1, -1, 500]),
    st.sampled_from([0, 0, 1, 2]),
    st.sampled_from([0, 0, 0, 1, -1, 2, -2]),
    st.sampled_from([0, 0, 0, 1, -1, 500]),
)


def _run(layout: int, steps: list[tuple[str, float]], restart_at: int) -> Any:
    pipeline = Pipeline(_LAYOUTS[layout])
    out = []
    for i, (body, now) in enumerate(steps):
        if i == restart_at:
            saved = copy.deepcopy(pipeline.ledger.snapshot(now))
            pipeline = Pipeline(_LAYOUTS[layout])
            pipeline.ledger.restore(saved, now)
        result = pipeline.feed(body, "q", now)
        ledger = pipeline.ledger
        read = [
            (label, i, windows.counts(i, now), windows.series(i, now, 1))
            for label, windows in sorted(ledger.by_domain.windows.items())
            for i in range(len(ledger.specs))
        ]
        out.append((result, ledger.tallies.late_events, read))
    return out, ledger.snapshot(steps[-1][1])["windows"]


@settings(max_examples=60, deadline=None)
@given(
    layout=st.integers(0, len(_LAYOUTS) - 1),
    raw=st.lists(_STEP, min_size=1, max_size=12),
    restart_at=st.integers(0, 16),
)
# The clock stays in its bucket: an event at the widest window's earliest edge, and
# one a millisecond before it; a write a millisecond before the clock's fine bucket,
# then at its edge, then back at the bucket before.
@example(
    layout=0,
    raw=[
        ("delivery", 0, 0, 0, 1, 0, 0),
        ("bounce", 0, 0, 0, 0, 0, 0),
        ("delay", 1, 0, 0, 0, 0, -1),
    ],
    restart_at=16,
)
@example(
    layout=1,
    raw=[
        ("delivery", 0, 0, 0, 1, 0, -1),
        ("delivery", 0, 0, 0, 1, 0, 0),
        ("delay", 0, 0, 0, 1, -1, 0),
    ],
    restart_at=2,
)
def test_the_spans_change_nothing_read(
    layout: int, raw: list[tuple[str, int, int, int, int, int, int]], restart_at: int
) -> None:
    ledger = Pipeline(_LAYOUTS[layout]).ledger
    width, slots = ledger.widest.width, ledger.widest.slots
    fine = min(spec.width for spec in ledger.specs)
    clock = 1_800_000_000.0 + 7.25
    steps = []
    for kind, domain, move, move_ms, where, buckets, off_ms in raw:
        clock += move * width + move_ms / 1000
        if where == 0:
            at = (clock // width - slots + 1) * width + buckets * fine
        elif where == 1:
            at = (clock // fine + buckets) * fine
        else:
            at = clock - 3 * width * slots
        at = round(at * 1000 + off_ms) / 1000
        steps.append((f.raw(getattr(f, kind)([f"u@d{domain}.example"], at=at)), clock))
    got = _run(layout, steps, restart_at)
    # Nothing is exact past 0 s: no span is made, each event and write divides.
    with (
        mock.patch.object(pipeline_module, "_EXACT", 0.0),
        mock.patch.object(domain_module, "_EXACT", 0.0),
    ):
        assert _run(layout, steps, restart_at) == got
