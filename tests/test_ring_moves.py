"""Whether two windows of one ring count the same (``Ring.moved_over``), asked of the
ring alone: buckets between the windows' starts or ends that hold nothing, or are not
held at all, make no difference; a bucket that holds a count does. An answer of
"changed" where nothing moved evaluates a quiet label's rule again where the
evaluation could skip it."""

from __future__ import annotations

import pytest

from sesd.core.events import EVENT_TYPE_INDEX
from sesd.core.windows.ring import Ring

DELIVERY = EVENT_TYPE_INDEX["delivery"]


def _ring() -> Ring:
    """Slots 10, buckets 100..109 held, only 105 and 109 holding deliveries."""
    ring = Ring(10.0, 10)
    for bucket in range(100, 110):
        assert ring.place(bucket, bucket * ring.width)
    ring.add(105, DELIVERY, 3)
    ring.add(109, DELIVERY, 4)
    return ring


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (101, 102, True),  # behind the newest bucket: only empty 102 between the ends
        (106, 108, True),  # 107 and 108 hold nothing; 109 is in neither window
        (101, 106, False),  # 105 enters the later window
        (108, 109, False),  # 109 enters
        (109, 115, False),  # 105 leaves the window
        (110, 114, True),  # 101..104 leave, holding nothing
        (119, 125, True),  # both windows past every held bucket
        (95, 99, True),  # before any held bucket: both windows count nothing held
        (99, 100, True),  # 100 enters, holding nothing
    ],
)
def test_two_windows_count_the_same_unless_a_bucket_holding_a_count_moves(
    a: int, b: int, same: bool
) -> None:
    ring = _ring()
    assert ring.moved_over(a, b, values=False) is same
    assert (ring.counts(a) == ring.counts(b)) is same
