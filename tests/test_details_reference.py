"""Details.add looks a key up once before writing its count, where it tested it and
then got it; the form with a test is kept here as the reference. Keys of two kinds,
more than a coarse bucket's 64, counted again after the bound, in buckets restored
from a state file (one a hand edit left with a count of 0, one holding more values
than the bound: those past it count as OVERFLOW, as they would have been counted)."""

from __future__ import annotations

from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from sesd.core.windows.breakdown import (
    KEYS_PER_BUCKET,
    OVERFLOW,
    Details,
    detail_key,
)


def added(counts: dict[object, int], keys: list[object]) -> None:
    """The reference: a key not counted yet, once the bucket counts 64, is OVERFLOW."""
    for key in keys:
        if key not in counts and len(counts) >= KEYS_PER_BUCKET:
            key = detail_key(key[0], OVERFLOW)  # type: ignore[index]
        counts[key] = counts.get(key, 0) + 1


def restored_counts(saved: list[list[Any]]) -> dict[object, int]:
    """The reference for a restored bucket: each saved count added as ``added`` adds
    one, past the bound under OVERFLOW."""
    counts: dict[object, int] = {}
    for kind, value, n in saved:
        key = detail_key(kind, value)
        if key not in counts and len(counts) >= KEYS_PER_BUCKET:
            key = detail_key(kind, OVERFLOW)
        counts[key] = counts.get(key, 0) + n
    return counts


_KEY = st.builds(detail_key, st.sampled_from([2, 3]), st.integers(0, 80).map(str))


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    st.sampled_from([KEYS_PER_BUCKET - 1, KEYS_PER_BUCKET]) | st.integers(0, 70),
    st.integers(0, 1),
    st.lists(st.tuples(st.integers(0, 11), st.lists(_KEY, max_size=8)), max_size=40),
)
@example(KEYS_PER_BUCKET, 0, [(0, [detail_key(2, "0"), detail_key(2, "x")])])
@example(KEYS_PER_BUCKET + 6, 1, [(0, [detail_key(2, "0"), detail_key(3, "x")])])
def test_details_count_as_the_tested_form_did(
    restored: int, zero: int, adds: list[tuple[int, list[object]]]
) -> None:
    """Each coarse bucket's counts are the reference's, past the bound and after it."""
    details = Details(30)
    # A restored bucket of ``restored`` values of kind 2, the first with a count of
    # ``zero`` (0: the file said 0).
    saved: list[list[Any]] = [[2, str(i), zero if i == 0 else 1] for i in range(restored)]
    details.restore({0: saved})
    expected: dict[int, dict[object, int]] = {0: restored_counts(saved)}
    for bucket, keys in adds:
        details.add(bucket, keys)
        if keys:
            added(expected.setdefault(bucket // details.span, {}), keys)
    assert details.buckets == expected
