"""The Prometheus text format, written fast and without holding the event loop.

prometheus_client's ``generate_latest`` re-validates every label name and
re-escapes every label value on every sample, about 17 µs a line: a quarter
of a second at 200 domains, during which the event loop (and so ingestion)
stands still. This writer reads the same ``registry.collect()`` (so
``get_sample_value`` and the exposition cannot disagree), escapes each
distinct label value once, and, in :func:`render_async`, yields to the event
loop between metric families, as it collects them and as it writes them.
Families that a collector yields in several chunks under one name are written
as one family.
"""

from __future__ import annotations

import contextlib
import gc
import math
from collections.abc import Iterable, Iterator
from typing import Final

import anyio
from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric

from sesd.metrics.rows import Rows

__all__ = ["CONTENT_TYPE", "render", "render_async"]

#: The format this writer writes, as /metrics says it: pinned, not prometheus_client's
#: ``CONTENT_TYPE_LATEST`` (``version=1.0.0`` in 0.26), which follows the library's
#: own writer, not this one, and a scraper picks its parser by it.
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"

#: How each family type is written in the text format (0.0.4): an Info is a gauge named
#: ``X_info``, an Enum (stateset) a gauge, a gauge histogram a histogram, as
#: prometheus_client's own writer does.
_TYPES = {
    "counter": "counter",
    "gauge": "gauge",
    "histogram": "histogram",
    "gaugehistogram": "histogram",
    "summary": "summary",
    "info": "gauge",
    "stateset": "gauge",
}
#: Families whose exposed name takes a suffix.
_SUFFIX = {"counter": "_total", "info": "_info"}
#: A gauge histogram's samples that the text format has no place for in a histogram:
#: each a gauge family of its own after it, as prometheus_client's writer puts them.
_OWN_GAUGES = ("_gsum", "_gcount")


def _escape(value: str) -> str:
    """A label value as the text format writes it. Not cached across scrapes: labels
    come and go for the daemon's life (evicted domains, tag values, tenants), and a
    process-wide cache kept every one ever seen, 34 MB at 100,000 of SES's longest
    tag values, to save 0.06 ms a scrape at 1,000 domains. A scrape escapes each
    distinct value of its rows once (:meth:`_Writer._label_text`)."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


#: Integers written as ``N.0`` directly (what ``repr(float(N))`` gives below 1e16).
_EXACT_INT: Final = 10**15


def _number(value: float) -> str:
    if value.__class__ is int and -_EXACT_INT < value < _EXACT_INT:
        return f"{value}.0"  # most samples are counts: no float() nor repr()
    if value == math.inf:
        return "+Inf"
    if value == -math.inf:
        return "-Inf"
    if value != value:  # NaN
        return "NaN"
    return repr(float(value))


def _sorted_order(names: tuple[str, ...]) -> tuple[int, ...]:
    """The positions of ``names`` in name order (the exposition sorts labels by name)."""
    return tuple(sorted(range(len(names)), key=names.__getitem__))


class _Writer:
    """Collects sample lines per family name, in first-seen order."""

    def __init__(self) -> None:
        self._families: dict[str, list[str]] = {}
        #: label names -> label values -> their text, made once per scrape (a summary's
        #: quantiles, count and sum share theirs). It is made from each label's own text
        #: (``name="value"``, escaped), kept per name, then value.
        self._label_texts: dict[tuple[str, ...], dict[tuple[str, ...], str]] = {}
        #: label name -> value -> ``name="value"``, escaped
        self._pairs: dict[str, dict[str, str]] = {}
        #: label names -> (position, name, its texts) in name order
        self._columns: dict[tuple[str, ...], list[tuple[int, str, dict[str, str]]]] = {}

    def add(self, family: Metric) -> None:
        name = family.name + _SUFFIX.get(family.type, "")
        lines = self._lines(name, family.documentation, _TYPES.get(family.type, "untyped"))
        if isinstance(family, Rows):
            self._add_rows(family, lines)
            return
        escape = _escape
        # The family's creation times are not exposed (also switched off in
        # sesd.metrics); a sample of another family may end in _created (a timestamp).
        created = family.name + "_created"
        own_gauges = family.type == "gaugehistogram"
        for sample in family.samples:
            if sample.name == created:
                continue
            into = lines
            if own_gauges and sample.name.endswith(_OWN_GAUGES):
                into = self._lines(sample.name, family.documentation, "gauge")
            labels = sample.labels
            if labels:
                inner = ",".join([f'{k}="{escape(v)}"' for k, v in sorted(labels.items())])
                into.append(f"{sample.name}{{{inner}}} {_number(sample.value)}\n")
            else:
                into.append(f"{sample.name} {_number(sample.value)}\n")

    def _lines(self, name: str, documentation: str, kind: str) -> list[str]:
        """The lines of family ``name``, begun with its HELP and TYPE when it is new."""
        lines = self._families.get(name)
        if lines is None:
            help_text = documentation.replace("\\", r"\\").replace("\n", r"\n")
            lines = self._families[name] = [f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n"]
        return lines

    def _add_rows(self, family: Rows, lines: list[str]) -> None:
        by_names, name = self._label_texts, family.name
        last_names: tuple[str, ...] | None = None
        texts: dict[tuple[str, ...], str] = {}
        for suffix, names, values, value in family.rows:
            if names is not last_names:  # a family's rows share one or two tuples of names
                texts = by_names.get(names) or by_names.setdefault(names, {})
                last_names = names
            text = texts.get(values)
            if text is None:
                text = texts[values] = self._label_text(names, values)
            lines.append(f"{name}{suffix}{text} {_number(value)}\n")

    def _label_text(self, names: tuple[str, ...], values: tuple[str, ...]) -> str:
        """``{name="value",...}`` sorted by name, values escaped; "" without labels."""
        if not names:
            return ""
        columns = self._columns.get(names)
        if columns is None:
            columns = self._columns[names] = [
                (i, names[i], self._pairs.setdefault(names[i], {})) for i in _sorted_order(names)
            ]
        parts = []
        for i, name, texts in columns:
            value = values[i]
            text = texts.get(value)
            if text is None:
                text = texts[value] = f'{name}="{_escape(value)}"'
            parts.append(text)
        return "{" + ",".join(parts) + "}"

    def text(self) -> bytes:
        return b"".join(self.chunks())

    def chunks(self) -> Iterator[bytes]:
        """The exposition, a family at a time (one join of every line at 1,000 domains
        holds the event loop for ~13 ms)."""
        for lines in self._families.values():
            text = "".join(lines)
            try:
                chunk = text.encode()
            except UnicodeEncodeError:
                # Half a surrogate pair in a label value is not UTF-8: written as "?",
                # as sesd mends such text elsewhere, rather than fail the whole scrape.
                chunk = text.encode(errors="replace")
            yield chunk


def render(families: Iterable[Metric]) -> bytes:
    """The exposition of ``families`` (e.g. ``registry.collect()``), at once."""
    writer = _Writer()
    for family in families:
        writer.add(family)
    return writer.text()


async def render_async(registry: CollectorRegistry) -> bytes:
    """The exposition of ``registry``, yielding to the event loop after each family.

    Automatic garbage collection is held while it runs. Its samples are freed by
    reference counting as it goes, but their churn would otherwise set off full
    collections in the middle of it, and nothing yields during one: 40-55 ms at
    1,000 domains (bench scrape), the event loop's longest stall by far.
    """
    with _collection_held():
        chunks = await _chunks_async(registry)
        # The writer was let go as that returned (~15 ms at 99 rules over 1,000
        # domains, 15 MB): the join of the body (~12 ms) is a hold of its own.
        await anyio.lowlevel.checkpoint()
        return b"".join(chunks)


async def _chunks_async(registry: CollectorRegistry) -> list[bytes]:
    """The exposition a family at a time. The writer's label texts and keys (about
    110,000 tracked objects at 1,000 domains) are gone when this returns, before the
    collector is let back on: alive then, the first collection after a scrape walked
    them all, and when it was a full one it held the event loop 75-100 ms."""
    writer = _Writer()
    for family in registry.collect():
        writer.add(family)
        await anyio.lowlevel.checkpoint()
    chunks = []
    for chunk in writer.chunks():
        chunks.append(chunk)
        await anyio.lowlevel.checkpoint()
    return chunks


class _Holds:
    """How many renders hold garbage collection, and whether it was on before the first."""

    count = 0
    was_enabled = False


@contextlib.contextmanager
def _collection_held() -> Iterator[None]:
    """Automatic garbage collection off until the last of concurrent holders leaves (a
    scrape by two Prometheus servers at once); left as it was found."""
    if _Holds.count == 0:
        _Holds.was_enabled = gc.isenabled()
        gc.disable()
    _Holds.count += 1
    try:
        yield
    finally:
        _Holds.count -= 1
        if _Holds.count == 0 and _Holds.was_enabled:
            gc.enable()
