"""A reputation window prunes on an arrival only when the arrival can change what it
holds or when it must look again (the first arrival held, a window holding no send, more
arrivals than sends held): held to a window that prunes at every arrival, as it did,
over any mix of sends, deliveries, hard and soft bounces and complaints, with and
without Send events published, in windows of a few sends."""

from __future__ import annotations

from collections import deque

from hypothesis import example, given
from hypothesis import strategies as st

from sesd.core.reputation import _Window


class _PrunedEachArrival(_Window):
    """The reference: every arrival prunes."""

    __slots__ = ()

    def arrived(self, found: deque[int], n: int) -> None:
        found.extend([self.next] * n)
        self._prune()


_STEP = st.tuples(
    st.sampled_from(["send", "delivery", "bounce", "complaint"]),
    st.integers(1, 4),
    st.booleans(),
)


def _state(window: _Window) -> tuple[object, ...]:
    return (
        window.next,
        window.base,
        list(window.bounces),
        list(window.complaints),
        window.prune_at,
        window.from_sends,
        window.estimate(),
    )


@given(st.integers(1, 5), st.lists(_STEP, max_size=60))
@example(2, [("send", 1, False), ("bounce", 1, True), ("send", 3, False)])
@example(3, [("bounce", 1, True), ("send", 1, False), ("complaint", 4, False)])
def test_a_window_answers_as_one_pruned_at_every_arrival(
    size: int, steps: list[tuple[str, int, bool]]
) -> None:
    window, reference = _Window(size), _PrunedEachArrival(size)
    for event_type, n, hard in steps:
        window.observe(event_type, n, hard)
        reference.observe(event_type, n, hard)
        assert _state(window) == _state(reference)
