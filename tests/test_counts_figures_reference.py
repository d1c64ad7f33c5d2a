"""counts_figures (a window's figures built for a rule on counts without the frozen
class's __init__) builds what ``Figures(counts)`` builds, the reference: the same class,
the same fields, equal and hashed alike, and as frozen."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sesd.core.events import EVENT_TYPES
from sesd.core.windows.specs import NO_SUMMARY, Figures, counts_figures

_COUNTS = st.tuples(*[st.integers(0, 2**40) for _ in EVENT_TYPES])


@settings(max_examples=200, deadline=None)
@given(counts=_COUNTS)
def test_counts_figures_is_figures_of_the_counts(counts: tuple[int, ...]) -> None:
    built, reference = counts_figures(counts), Figures(counts)
    assert type(built) is Figures
    assert built == reference
    assert hash(built) == hash(reference)
    assert dataclasses.astuple(built) == dataclasses.astuple(reference)
    assert built.counts is counts
    assert (built.processing, built.to_delivery, built.delay_duration) == (NO_SUMMARY,) * 3
    assert (built.delay_ratio, built.bounce_ratio, built.complaint_ratio) == (
        reference.delay_ratio,
        reference.bounce_ratio,
        reference.complaint_ratio,
    )
    assert repr(built) == repr(reference)


def test_counts_figures_are_frozen() -> None:
    built = counts_figures((0,) * len(EVENT_TYPES))
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.counts = (1,) * len(EVENT_TYPES)  # type: ignore[misc]
