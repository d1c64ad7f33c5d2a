"""A window's examples (sesd.core.windows.examples), kept per kind as a dict of value ->
event time, answer as the plain list of (time, value) they replaced (the reference,
searched from its oldest entry): since() at any bounds and the state file's lists,
after each step of a seeded random run of adds (values repeated and new, times later,
equal and earlier, several kinds in one call, past the five kept), saves and restores
into new examples (the file of four kinds, of an older sesd's three, of a later one's
five, or with more than five values a kind)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from sesd.core.windows.examples import EXAMPLES, Examples

_KINDS = 4


class _Reference:
    """Each kind's distinct values, oldest first, as a list of (time, value)."""

    def __init__(self) -> None:
        self.recent: list[list[tuple[float, str]]] = [[] for _ in range(_KINDS)]

    def add(self, t: float, values: list[tuple[int, str]]) -> None:
        for kind, value in values:
            recent = self.recent[kind]
            for index, (seen, known) in enumerate(recent):
                if known == value:
                    if t > seen:
                        del recent[index]
                        recent.append((t, value))
                    break
            else:
                recent.append((t, value))
                if len(recent) > EXAMPLES:
                    del recent[0]

    def since(self, kind: int, since: float, until: float) -> list[str]:
        found = [(t, v) for t, v in reversed(self.recent[kind]) if since < t <= until]
        found.sort(key=lambda entry: -entry[0])
        return [v for _, v in found]

    def snapshot(self) -> list[list[list[Any]]]:
        return [[[t, v] for t, v in recent] for recent in self.recent]

    def restore(self, data: list[list[list[Any]]]) -> None:
        recent = [[(float(t), str(v)) for t, v in kept[-EXAMPLES:]] for kept in data]
        self.recent = (recent + [[] for _ in range(_KINDS)])[:_KINDS]


def _value(rng: random.Random, step: int) -> str:
    """A value seen before (a sending identity, a retried message), or a new one."""
    if rng.random() < 0.4:
        return f"new-{step}-{rng.randrange(10**6)}"
    return f"v{rng.randrange(9)}"


def _restored(rng: random.Random, pair: tuple[Examples, _Reference]) -> tuple[Examples, _Reference]:
    """Both saved, the file cut to an older sesd's three kinds, grown to a later one's
    five or to more values a kind (or left), and each restored into new examples."""
    saved = pair[0].snapshot()
    assert saved == pair[1].snapshot()
    roll = rng.random()
    if roll < 0.2:
        saved = saved[:3]
    elif roll < 0.4:
        saved = [*saved, [[1.0, "later kind"]]]
    elif roll < 0.6:  # a later sesd's, keeping more of each kind: the newest five read
        saved = [[[1.0 + i, f"older-{i}"] for i in range(3)] + kept for kept in saved]
    examples, reference = Examples(), _Reference()
    examples.restore(saved)
    reference.restore(saved)
    return examples, reference


@pytest.mark.parametrize("seed", range(20))
def test_examples_kept_by_key_read_as_a_list_searched_from_its_oldest(seed: int) -> None:
    """Each read and each save after each step equals the reference's."""
    rng = random.Random(seed)
    pair = (Examples(), _Reference())
    t = 1_800_000_000.0
    for step in range(400):
        if rng.random() < 0.03:
            pair = _restored(rng, pair)
        t += rng.choice([0.0, 0.0, 0.5, 3.0, 40.0])
        at = t - rng.choice([0.0, 0.0, 0.0, 1.0, 100.0])  # late now and then
        values = [(rng.randrange(_KINDS), _value(rng, step)) for _ in range(rng.randint(1, 4))]
        for examples in pair:
            examples.add(at, values)
        examples, reference = pair
        assert examples.snapshot() == reference.snapshot(), step
        for kind in range(_KINDS):
            since = t - rng.choice([0.5, 10.0, 200.0, 10**6])
            until = t - rng.choice([0.0, 0.0, 1.0, 50.0])
            assert examples.since(kind, since, until) == reference.since(kind, since, until)


def test_a_file_that_fails_to_load_leaves_the_examples_as_they_were() -> None:
    """A saved time that is not a number, after good entries, raises and changes nothing:
    the examples read as before it (the file is refused whole)."""
    examples = Examples()
    examples.add(10.0, [(0, "kept")])
    with pytest.raises(ValueError, match="could not convert"):
        examples.restore([[[5.0, "good"], ["not a time", "bad"]]])
    assert examples.snapshot() == [[[10.0, "kept"]], [], [], []]
