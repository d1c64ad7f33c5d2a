"""What problem recipients said is staged in their windows and counted in the
breakdowns when the stage is written: every breakdown read, and the state file, say what
they said when each recipient was counted at once. Held to windows flushed after every
note, over notes in a few fine buckets, some late, with more distinct values than a
coarse bucket counts (the rest count as "(other values)", the same ones either way),
with and without the recipient's domain, and more distinct notes than a stage holds."""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sesd.core.windows.breakdown import KEYS_PER_BUCKET, Problem, noted
from sesd.core.windows.domain import DomainWindows
from sesd.core.windows.specs import window_specs

#: Three windows, the 15m one alone keeping breakdowns, as a rule on it asks.
_SPECS = window_specs([("5m", 300.0), ("15m", 900.0), ("1h", 3600.0)], 10.0, 30, {"15m"})
_T0 = 1_800_000_000.0

#: One note: its time's offset, its diagnostic's and status's numbers, its domain's
#: number, whether the window keeps the domain, whether it is a delay.
_Note = tuple[float, int, int, int, bool, bool]
_NOTE = st.tuples(
    st.sampled_from([0.0, 3.0, 9.5, 12.0, 25.0, -40.0, 61.0, 1000.0]),
    st.integers(0, 2 * KEYS_PER_BUCKET),
    st.integers(0, 3),
    st.integers(0, KEYS_PER_BUCKET),
    st.booleans(),
    st.booleans(),
)


class _AtOnce(DomainWindows):
    """Flushed after every note (by the test), each note is counted as it was before
    notes were staged: one Details.add of its keys and then its domain's, in each
    breakdown that holds its bucket."""

    __slots__ = ()

    def _write_problems(self, problems: dict[Problem, int]) -> None:
        for index, details in enumerate(self._details):
            if details is not None and self._specs[index].breakdown and self._accepted >> index & 1:
                for (keys, domain), n in problems.items():
                    for _ in range(n):
                        written = [*keys] if domain is None else [*keys, domain]
                        details.add(self._stage // self._ratios[index], written)


def _note(windows: DomainWindows, i: int, note: _Note, now: float) -> None:
    offset, diagnostic, status, domain, with_domain, delay = note
    problem = noted(
        message_id=f"m-{i}",
        source="arn:aws:ses:eu-west-1:1:identity/example.com",
        config_set="cs",
        delay_type="MailboxFull" if delay else "",
        statuses=[f"4.{status}.0"],
        diagnostics=[f"smtp; 452 full {diagnostic}"],
        mta="dsn; mx.example.org",
        cause="mailbox_full" if diagnostic % 3 else "",
        count_cause=delay,
        domain=f"d{domain}.example",
        delay=delay,
    )
    windows.note(min(_T0 + offset, now), now, problem, with_domain=with_domain)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_NOTE, min_size=1, max_size=200))
@example([(0.0, n, n % 4, n, True, n % 2 == 0) for n in range(2 * KEYS_PER_BUCKET)])
def test_staged_notes_read_and_save_as_notes_counted_at_once(notes: list[_Note]) -> None:
    staged, at_once = DomainWindows(_SPECS), _AtOnce(_SPECS)
    now = _T0 + 1000.0
    for i, note in enumerate(notes):
        _note(staged, i, note, now)
        _note(at_once, i, note, now)
        at_once.flush(now)
        if i % 17 == 0 or i == len(notes) - 1:
            for index in range(len(_SPECS)):
                for delays in (True, False):
                    assert staged.breakdown(index, now, 100, delays=delays) == (
                        at_once.breakdown(index, now, 100, delays=delays)
                    )
    # (Rings flushed after every note save their cells apart: those are not compared.)
    staged.flush(now)
    saved, expected = staged.snapshot(), at_once.snapshot()
    assert (saved["details"], saved["examples"]) == (expected["details"], expected["examples"])
