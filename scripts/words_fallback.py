"""Would a statistical reading of the words close the cause table's gap on new text?

An experiment, not part of sesd: for each cause corpus file from the third on, the
table as it was when that file arrived (``causes.toml`` at the commit that added
it, before any rule came from it) is measured on it, alone and with a fallback: a
multinomial naive Bayes over the text's words, word pairs and enhanced status code,
trained on the files before it, answering where the table says ``unknown`` (always,
or only when its best cause leads the next by a margin of log-odds). Prints, per
file, the share of lines right (the first cause among the accepted ones) and the
share given a wrong cause (not right, not ``unknown``).

``python scripts/words_fallback.py`` (in a git checkout: it reads old tables).
"""

from __future__ import annotations

import collections
import itertools
import math
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deciders import ARRIVED, arrival_table, corpus_file  # noqa: E402

from sesd.core.causes import _ENHANCED, judge  # noqa: E402

#: The files measured, with the commit that added each (the eighth, held out, too).
MEASURED = ARRIVED | {8: "106d4e6"}
MARGINS = (0.0, 3.0, 5.0)
_WORD = re.compile(r"[a-z][a-z'-]{2,}")
_NOISE = re.compile(r"\S+@\S+|https?://\S+|\d+\.\d+\.\d+\.\d+")
_SMOOTHING = 0.5

Line = dict[str, Any]


def _features(line: Line) -> set[str]:
    words = _WORD.findall(_NOISE.sub(" ", line["text"].lower()))
    found = set(words) | {f"{a}_{b}" for a, b in itertools.pairwise(words)}
    code = _ENHANCED.search(line["text"]) or _ENHANCED.search(line.get("status", ""))
    if code:
        klass, subject, detail = code.group(0).split(".")
        found |= {f"code:{subject}.{detail}", f"subject:{subject}", f"class:{klass}"}
    return found


class _Words:
    """Naive Bayes over each line's features, its first accepted cause the class."""

    def __init__(self, lines: list[Line]) -> None:
        self.counts: dict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter
        )
        self.lines: collections.Counter[str] = collections.Counter()
        for line in lines:
            cause = line["causes"][0]
            self.lines[cause] += 1
            self.counts[cause].update(_features(line))
        self.vocabulary = set().union(*self.counts.values())
        self.totals = {cause: sum(found.values()) for cause, found in self.counts.items()}

    def best(self, line: Line) -> tuple[str, float]:
        """The likeliest cause and its lead over the next, in log-odds."""
        seen = [f for f in _features(line) if f in self.vocabulary]
        every = sum(self.lines.values())
        size = len(self.vocabulary)
        scores = []
        for cause, n in self.lines.items():
            score = math.log(n / every)
            for feature in seen:
                found = self.counts[cause][feature] + _SMOOTHING
                score += math.log(found / (self.totals[cause] + _SMOOTHING * size))
            scores.append((score, cause))
        scores.sort(reverse=True)
        return scores[0][1], scores[0][0] - scores[1][0]


def main() -> None:
    files = {n: corpus_file(n) for n in range(1, max(MEASURED) + 1)}
    heads = ["table", *(f"+words, lead > {m:g}" for m in MARGINS)]
    print("file  lines" + "".join(f"  {head:>20}" for head in heads))
    print(" " * 11 + "  {:>20}".format("right   wrong") * len(heads))
    for n, commit in MEASURED.items():
        table = arrival_table(commit)
        words = _Words([line for k in range(1, n) for line in files[k]])
        right = collections.Counter[str]()
        wrong = collections.Counter[str]()
        for line in files[n]:
            found = judge(table, "", line.get("status", ""), line["text"]).cause
            guess, lead = words.best(line)
            answers = {"table": found}
            for margin in MARGINS:
                use = found == "unknown" and lead > margin
                answers[f"m>{margin:g}"] = guess if use else found
            for name, cause in answers.items():
                right[name] += cause in line["causes"]
                wrong[name] += cause not in line["causes"] and cause != "unknown"
        count = len(files[n])
        cells = [f"{right[k] / count:>12.1%} {wrong[k] / count:>7.1%}" for k in right]
        print(f"{n:>4}  {count:>5}" + "".join(f"  {cell}" for cell in cells))


if __name__ == "__main__":
    main()
