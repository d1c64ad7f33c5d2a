"""The pending table, which keeps SES's own times of the Deliveries and Bounces it
remembers from ahead of the clock in the resolutions' two generations (the older one's
dropped whole at each turn), answers exactly as the table they were first kept in
(the reference): one table of them, rebuilt at each turn without those of the
generation going. Seeded random runs on a clock behind SES's, over tables of a few
entries (a turn every few resolutions): Deliveries and Bounces on the clock and from
ahead of it, their delays SQS brings before and after them, a turn between the two,
steps of the clock ahead and back, saves read back (held to the clock or not, or with
rows a damaged file holds), expiry and evicted labels. After each operation the
answers, the counts and the saved state agree."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from sesd.core.pending import PendingDelays

DOMAINS = ("one.example", "two.example", "three.example")
PROVIDERS = ("p1.test", "p2.test")


class _OneTable(PendingDelays):
    """SES's times as first kept: in one table, the older generation's walked out of it
    at each turn, and read back from a file into that one table. Its older generation
    of them stays empty, so the table reads, holds and saves that one table alone."""

    def _next_generation(self) -> None:
        turned, kept = self._resolved, self._ses
        super()._next_generation()
        self._ses_before = {}
        self._ses = {key: at for key, at in kept.items() if key in turned}

    def restore(self, data: dict[str, Any], *args: Any, **kwargs: Any) -> int:
        refused = super().restore(data, *args, **kwargs)
        self._ses, self._ses_before = {**self._ses_before, **self._ses}, {}
        return refused


def _saved(table: PendingDelays) -> dict[str, Any]:
    """The saved state, SES's times in order of key (each table keeps its own order)."""
    saved: dict[str, Any] = table.snapshot()
    saved["resolved_ses"] = sorted(saved["resolved_ses"])
    return saved


def _damaged(rng: random.Random, saved: dict[str, Any], now: float) -> dict[str, Any]:
    """``saved`` with a few rows a damaged file holds: a credit not a number of seconds
    above none or past a day, SES's time of no resolution, or a day or years past its
    resolution's, a key's second row."""
    rows: list[Any] = [list(row) for row in saved["resolved"]]
    ses: list[Any] = [list(row) for row in saved["resolved_ses"]]
    for _ in range(rng.randint(1, 3)):
        key = rng.randint(1, 8)
        if rng.random() < 0.5:
            credit = rng.choice([0, -5.0, math.nan, math.inf, True, 3600, 0.5, 2 * 86_400.0])
            rows.insert(rng.randint(0, len(rows)), [key, now - rng.uniform(-7200, 7200), credit])
        else:
            at = rng.choice([now + 400.0, now + 3 * 86_400.0, now + 1e9, now - 10.0])
            ses.insert(rng.randint(0, len(ses)), [key, at])
    return {**saved, "resolved": rows, "resolved_ses": ses}


def _operations(rng: random.Random, scopes: int) -> list[tuple[str, tuple[Any, ...]]]:
    """One run's operations: each a method of the table and its arguments."""
    behind = rng.choice([30.0, 300.0, 5000.0])
    now = 1_800_000_000.0
    keys = rng.choice([3, 5, 8])
    made: list[tuple[str, tuple[Any, ...]]] = []
    for _ in range(rng.randint(20, 150)):
        now += rng.choice([0.0, 1.0, 5.0, 60.0, 600.0])
        key = rng.randint(1, keys)
        roll = rng.random()
        ses = rng.choice([-math.inf, now + behind + rng.choice([-20.0, 0.0, 5.0]),
                          now + rng.uniform(0, 2e5)])  # fmt: skip
        if roll < 0.35:  # a Delivery or Bounce
            made.append(("resolved", (key, now - rng.choice([0.0, 1.0, 100.0]), ses)))
        elif roll < 0.65:  # a DeliveryDelay (a retry of one, or one SQS brings late)
            labels = (rng.choice(DOMAINS), rng.choice(PROVIDERS))[:scopes]
            t = now - rng.choice([0.0, 1.0, 50.0])
            expires = rng.choice([None, now + rng.uniform(-10, 9e4)])
            made.append(("delayed", (key, labels, t, expires, ses)))
        elif roll < 0.72:
            step = rng.choice([3600.0, -3600.0, 60.0, -60.0, 2 * 86_400.0, -0.5])
            now += step
            made.append(("stepped", (step, now)))
        elif roll < 0.76:
            made.append(("held_to", (now + rng.choice([0.0, -3600.0, 7200.0]),)))
        elif roll < 0.84:
            made.append(("expire", (now - rng.choice([0.0, 6e4]), rng.choice([None, *DOMAINS]))))
        elif roll < 0.88:
            made.append(("drop_labels", ([rng.choice(DOMAINS)],)))
        elif roll < 0.96:  # a save read back at a restart, held to its clock or not
            damaged = rng.random() < 0.3
            made.append(("restart", (now, rng.random() < 0.6, damaged)))
        else:
            made.append(("counts", (now + 3600.0,)))
    return made


@pytest.mark.parametrize("seed", range(40))
def test_ses_s_times_in_two_generations_answer_as_one_table(seed: int) -> None:
    """Each operation gets the reference's answer, and the table saves what the
    reference saves, after every operation and after each restart."""
    rng = random.Random(seed)
    size, scopes = rng.choice([2, 3, 4, 6, 8]), rng.choice([1, 2])
    tested: PendingDelays = PendingDelays(size, scopes)
    reference: PendingDelays = _OneTable(size, scopes)
    for index, (name, args) in enumerate(_operations(rng, scopes)):
        if name == "restart":
            now, held, damaged = args
            saved = _damaged(rng, _saved(reference), now) if damaged else None
            restored: list[PendingDelays] = []
            for table, source in ((PendingDelays(size, scopes), tested),
                                  (_OneTable(size, scopes), reference)):  # fmt: skip
                table.restore(saved if saved is not None else source.snapshot())
                if held:
                    table.held_to(now)
                restored.append(table)
            tested, reference = restored
        else:
            answer = getattr(tested, name)(*args)
            assert str(answer) == str(getattr(reference, name)(*args)), (index, name)
        assert _saved(tested) == _saved(reference), (index, name)
