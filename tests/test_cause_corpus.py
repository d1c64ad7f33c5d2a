"""Causes measured on real mail: seven corpora of real SMTP diagnostics, now
development data, and an eighth held out.

``tests/data/diagnostics.jsonl`` holds 485 SMTP diagnostics from public bounce
corpora, receivers' help pages, mail logs and issue threads;
``tests/data/diagnostics_2.jsonl`` holds 180 more, collected later from other
sources without opening the table (each line names its source;
``tests/data/SOURCES.md`` lists them). Each line has the cause or causes a careful
engineer would accept; a line is right when the classifier's first cause is among
them.

The first file's rules were written from its ``"split": "tune"`` half, then changed
after its ``"heldout"`` half was measured; the second file scored 65.0% when first
measured, before any rule was written from it, and rules were then written from
it too. So neither figure is a held-out one any more. ``tests/data/diagnostics_3.jsonl``
(222 lines from other sources again, by someone who never opened the table) scored
69.8% when first measured; rules were then written from its misses, by family, and
from receivers' documentation of their codes, so it is development data too.
``tests/data/diagnostics_4.jsonl`` (246 lines from other sources again) scored
73.2% when first measured; rules were then written from its misses, by family, so it
is development data too. ``tests/data/diagnostics_5.jsonl`` (222 lines) scored 62.6%
when first measured; rules were then written from its misses, by family, so it is
development data too; so are ``tests/data/diagnostics_6.jsonl`` (162 lines, 70.4% when
first measured) and ``tests/data/diagnostics_7.jsonl`` (103 lines, 59.2%).
``tests/data/diagnostics_8.jsonl`` is the held-out set: 60 more lines, none of them in
the seven files, collected by someone who never opened the table, measured once when
that table was done, and not to be written rules from (a later table gets a fresh
set). ``pytest -s tests/test_cause_corpus.py`` prints
the confusion matrices.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from sesd.core.causes import CAUSES, classify

DATA = Path(__file__).parent / "data"
#: The development corpora, by file name.
CORPORA = (
    "diagnostics.jsonl",
    "diagnostics_2.jsonl",
    "diagnostics_3.jsonl",
    "diagnostics_4.jsonl",
    "diagnostics_5.jsonl",
    "diagnostics_6.jsonl",
    "diagnostics_7.jsonl",
)
#: The goals: right on the whole of each development corpus, and on the held-out set.
WHOLE_GOAL = 0.92
HELD_OUT_GOAL = 0.88
#: The held-out set, and what it measured the first (and only) time: 39 of 60. Below
#: the goal; a change to the table may not make it worse.
HELD_OUT = "diagnostics_8.jsonl"
HELD_OUT_FIRST = 39 / 60


@dataclass(frozen=True, slots=True)
class Line:
    """One diagnostic of a corpus and the causes it may be given."""

    id: str
    status: str
    text: str
    causes: tuple[str, ...]
    source: str
    split: str
    corpus: str

    def found(self) -> str:
        """The classifier's first cause, as a soft bounce is classified (no delay
        type: the text and the status must do the work)."""
        return classify(None, self.status, self.text).cause

    def right(self) -> bool:
        """Whether the classifier's first cause is one the line accepts."""
        return self.found() in self.causes


def corpus(name: str = CORPORA[0]) -> list[Line]:
    """Every line of one corpus file (the second has no ``split``: ``""``)."""
    lines = []
    for raw in (DATA / name).read_text("utf-8").splitlines():
        row = json.loads(raw)
        lines.append(
            Line(
                row["id"],
                row["status"],
                row["text"],
                tuple(row["causes"]),
                row["source"],
                row.get("split", ""),
                name,
            )
        )
    return lines


def every_line() -> list[Line]:
    """The lines of every development corpus."""
    return [line for name in CORPORA for line in corpus(name)]


def accuracy(lines: list[Line]) -> float:
    """The share of ``lines`` whose first cause is accepted."""
    return sum(line.right() for line in lines) / len(lines)


def confusion(lines: list[Line]) -> str:
    """A confusion matrix as text: a row per line's first accepted cause, a column per
    cause found; a line right by its second accepted cause counts on the diagonal."""
    cells: Counter[tuple[str, str]] = Counter()
    for line in lines:
        found = line.found()
        expected = found if found in line.causes else line.causes[0]
        cells[expected, found] += 1
    names = [c for c in CAUSES if any(c in key for key in cells)]
    short = {name: name[:6] for name in names}
    width = max(map(len, names))
    rows = [" " * width + " " + " ".join(f"{short[n]:>6}" for n in names)]
    for expected in names:
        counts = " ".join(f"{cells[expected, found] or '.':>6}" for found in names)
        rows.append(f"{expected:>{width}} {counts}")
    misses = sorted(
        f"  {line.id} {line.found()} not in {list(line.causes)}"
        for line in lines
        if not line.right()
    )
    right = sum(line.right() for line in lines)
    return "\n".join([*rows, f"right: {right} of {len(lines)} ({right / len(lines):.1%})", *misses])


def test_the_corpus_is_real_sourced_and_split() -> None:
    """At least 400 lines, ids unique, each with a source and only known causes; the
    tune and held-out halves are each about half."""
    lines = corpus()
    assert len(lines) >= 400
    assert len({line.id for line in lines}) == len(lines)
    assert all(line.source and line.text for line in lines)
    assert all(line.causes and set(line.causes) <= set(CAUSES) for line in lines)
    halves = Counter(line.split for line in lines)
    assert set(halves) == {"tune", "heldout"}
    assert abs(halves["tune"] - halves["heldout"]) <= len(lines) // 10


def test_the_second_corpus_is_real_sourced_and_its_own() -> None:
    """The second file: 180 lines, each with a source and only known causes, its ids
    unique across both files, and no text of the first file repeated (the collector
    checked near-duplicates too: SOURCES.md, "Overlap check")."""
    lines = corpus(CORPORA[1])
    assert len(lines) == 180
    assert all(line.source and line.text for line in lines)
    assert all(line.causes and set(line.causes) <= set(CAUSES) for line in lines)
    both = every_line()
    assert len({line.id for line in both}) == len(both)
    first = {" ".join(line.text.lower().split()) for line in corpus()}
    assert not {" ".join(line.text.lower().split()) for line in lines} & first


@pytest.mark.parametrize("name", CORPORA)
def test_causes_are_right_on_each_corpus(name: str) -> None:
    """Each corpus file, confusion matrix printed: at least 92% right."""
    lines = corpus(name)
    print(f"\n{name}:\n{confusion(lines)}")
    assert accuracy(lines) >= WHOLE_GOAL


def test_causes_are_right_on_every_development_corpus() -> None:
    """The development files together, confusion matrix printed: at least 92% right."""
    lines = every_line()
    print(f"\ndevelopment corpora:\n{confusion(lines)}")
    assert accuracy(lines) >= WHOLE_GOAL


def test_causes_are_right_on_the_held_out_half() -> None:
    """The first file's held-out half (no rule came from it until it was first
    measured): at least 88% right."""
    lines = [line for line in corpus() if line.split == "heldout"]
    print(f"\nheld-out half:\n{confusion(lines)}")
    right = accuracy(lines)
    assert right >= HELD_OUT_GOAL


@pytest.mark.parametrize(
    ("name", "split"),
    [(CORPORA[0], "tune"), (CORPORA[0], "heldout")] + [(name, "") for name in CORPORA[1:]],
)
def test_each_half_names_most_causes(name: str, split: str) -> None:
    """The classifier does not lean on a few causes: in each half of the first file,
    and in each later file, every cause the lines accept most often (ten lines or
    more) is found for at least one line."""
    lines = [line for line in corpus(name) if line.split == split]
    common = Counter(line.causes[0] for line in lines)
    found = {line.found() for line in lines}
    assert {cause for cause, n in common.items() if n >= 10} <= found


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("diagnostics_3.jsonl", 222),
        ("diagnostics_4.jsonl", 246),
        ("diagnostics_5.jsonl", 222),
        ("diagnostics_6.jsonl", 162),
        ("diagnostics_7.jsonl", 103),
        (HELD_OUT, 60),
    ],
)
def test_each_later_file_is_real_sourced_and_its_own(name: str, size: int) -> None:
    """The third file and each after it, the held-out one too: their lines with sources and
    known causes, none of their texts in a file before them (the collectors checked
    near-duplicates too: SOURCES.md)."""
    files = [*CORPORA, HELD_OUT]
    lines = corpus(name)
    assert len(lines) == size
    assert all(line.source and line.text for line in lines)
    assert all(line.causes and set(line.causes) <= set(CAUSES) for line in lines)
    before = files[: files.index(name)]
    seen = {" ".join(line.text.lower().split()) for file in before for line in corpus(file)}
    assert not {" ".join(line.text.lower().split()) for line in lines} & seen


def test_causes_on_the_held_out_set_are_no_worse_than_first_measured() -> None:
    """The held-out set, confusion matrix printed. Its first measurement (65.0%) is
    below the 88% goal (TESTING.md says so); this holds the table to no less."""
    lines = corpus(HELD_OUT)
    print(f"\nheld-out set:\n{confusion(lines)}")
    assert accuracy(lines) >= HELD_OUT_FIRST


def test_the_second_reading_names_corpus_lines_and_known_causes() -> None:
    """The blind second reading (scripts/label_agreement.py) reads lines that exist,
    each once, with one to three causes of the vocabulary per reader."""
    ids = {(name, line.id) for name in (*CORPORA, HELD_OUT) for line in corpus(name)}
    read = [json.loads(raw) for raw in (DATA / "second_reading.jsonl").read_text().splitlines()]
    named = [(line["file"], line["id"]) for line in read]
    assert len(set(named)) == len(named) == 204
    assert set(named) <= ids
    assert sum(name == HELD_OUT for name, _ in named) == 60
    for line in read:
        for reader in ("reader_a", "reader_b"):
            assert 1 <= len(line[reader]) <= 3
            assert set(line[reader]) <= set(CAUSES)
