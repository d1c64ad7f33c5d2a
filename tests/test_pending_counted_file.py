"""Which Delivery or Bounce timed a delay, as the pending table's state file keeps it:
a restart anywhere in a stream times what the same stream without one times, and an
earlier build's file, or a damaged one, restores the rest as before."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from sesd.core.pending import PendingDelays
from tests import factory as f

T = f.T0
#: The largest key a recipient is given (64 bits, as xxh3's).
KEY = 2**64 - 1
LABELS = ("x.example",)


def _stream() -> list[tuple[str, int, float]]:
    """Six recipients, each delayed, delivered 300 s later, and retried (a retry SES
    dated 100 s after the first delay) after the next recipient's Delivery; then
    recipient 0 retried again, when four tables' worth of resolutions have turned the
    generations past its own (forgotten: a delay pending anew)."""
    events: list[tuple[str, int, float]] = []
    for i in range(6):
        events += [("delay", i, T + 10 * i), ("delivery", i, T + 10 * i + 300)]
        if i:
            events.append(("delay", i - 1, T + 10 * (i - 1) + 100))
    return [*events, ("delay", 5, T + 150), ("delay", 0, T + 100)]


def _run(restart_at: int | None) -> tuple[list[object], int]:
    """What each event of :func:`_stream` returned, and those pending at the end, in a
    table of four (two resolutions a generation), restarted from its state file before
    event ``restart_at``."""
    pending, found = PendingDelays(max_entries=4), list[object]()
    for index, (kind, key, t) in enumerate(_stream()):
        if index == restart_at:
            saved = msgspec.msgpack.decode(msgspec.msgpack.encode(pending.snapshot()))
            pending = PendingDelays(max_entries=4)
            pending.restore(saved)
        if kind == "delay":
            found.append(pending.delayed(key, LABELS, t, t + 3600))
        else:
            found.append(pending.resolved(key, t))
    return found, pending.count("x.example", T + 200)


def test_a_restart_anywhere_times_what_the_stream_without_one_times() -> None:
    """Each recipient's delay timed once, 300 s, by its Delivery: a retry after it is
    over and timed no more, restarted before any event of the stream or not, and
    recipient 0's last retry, its Delivery forgotten with the older generation in both,
    pends. Before the file kept which Delivery timed a delay, a restart between a
    Delivery and its recipient's retry timed the retry too (a 200 s value)."""
    live, held = _run(None)
    assert [value for value in live if value is not None] == [(LABELS, 300.0)] * 6
    assert held == 1
    for restart_at in range(len(_stream()) + 1):
        assert _run(restart_at) == (live, held), restart_at


def _saved() -> dict[str, Any]:
    """A table's file: KEY's delay timed by its Delivery, and a Delivery of key 1 (no
    delay of it seen) that timed none."""
    pending = PendingDelays(max_entries=100)
    pending.delayed(KEY, LABELS, T, T + 3600)
    assert pending.resolved(KEY, T + 300) == (LABELS, 300.0)
    pending.resolved(1, T + 300)
    pending.delayed(2, LABELS, T, T + 3600)
    saved: dict[str, Any] = msgspec.msgpack.decode(msgspec.msgpack.encode(pending.snapshot()))
    assert saved["counted"] == [KEY]
    return saved


def _restored(saved: dict[str, Any]) -> PendingDelays:
    pending = PendingDelays(max_entries=100)
    pending.restore(msgspec.msgpack.decode(msgspec.msgpack.encode(saved)))
    return pending


def test_an_earlier_build_s_file_restores_the_rest_as_before() -> None:
    """A file without the item (an earlier build's): every other row is restored as
    from this build's, and no Delivery is known to have timed a delay."""
    saved = _saved()
    earlier = {key: value for key, value in saved.items() if key != "counted"}
    assert _restored(earlier).snapshot() == {**_restored(saved).snapshot(), "counted": []}


@pytest.mark.parametrize(
    "counted",
    [
        None, "counted", KEY, {"KEY": KEY}, [str(KEY)], [float(KEY)], [[KEY]], [True],
        [KEY - 1, 3, -1], list(range(3, 200_003)),
    ],
)  # fmt: skip
def test_a_damaged_item_is_left_out_and_the_rest_restored(counted: object) -> None:
    """The item damaged or written by hand (not a list; keys that are text, a float,
    a list, true, whose key 1 is a Delivery's; keys of no Delivery remembered, two
    hundred thousand of them): the rest of the file is restored, and no key marked.
    Marked, a key of no Delivery remembered would be held until a turn of the
    generations forgot a Delivery that was never there, past the table's bound."""
    saved = _saved()
    plain = _restored({**saved, "counted": []}).snapshot()
    assert _restored({**saved, "counted": counted}).snapshot() == plain


def test_a_key_among_damaged_ones_is_read() -> None:
    """KEY's mark among rows left out is kept: its delay's retry is over and not timed
    again."""
    saved = _saved()
    pending = _restored({**saved, "counted": ["x", None, KEY, 1.5, KEY - 1]})
    assert pending.snapshot()["counted"] == [KEY]
    assert pending.delayed(KEY, LABELS, T + 100, T + 3600) is None
    assert pending.count("x.example", T + 200) == 1  # key 2's, as saved
