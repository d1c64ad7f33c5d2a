"""``sesd replay``: recorded events through the same pipeline, offline, in event time.

The input is read as a stream (sesd.archive: files, directories, globs, stdin,
gzip; newline-delimited JSON, Firehose's concatenated objects, an array or an
SQS dump), so memory does not depend on its size. Events are applied in the
order read, each at its own event time, as the daemon applies them.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, Final

import anyio
import msgspec
from tqdm import tqdm

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import Transition
from sesd.archive import MAX_BODY, TOO_LARGE, Source, bodies, sources
from sesd.archive_s3 import S3Reader, is_s3
from sesd.config import Config, ConfigError
from sesd.decode import Event, decode_body
from sesd.domains import domain_of
from sesd.events import EVENT_TYPES, Invalid
from sesd.metrics import OUTCOMES
from sesd.pipeline import Pipeline
from sesd.state import StateError, providers_cache, read_state
from sesd.timestamps import iso
from sesd.tuning import override, render_report, report

__all__ = ["Replay", "run_replay"]

_QUEUE = "replay"
_TOO_LARGE: Final = Invalid("too_large", f"a body over {MAX_BODY >> 20} MiB, not decoded")
#: The exit status of a replay that skipped an input it could not read.
EXIT_SKIPPED: Final = 3


class Replay:
    """Feeds bodies in the order read; ``now`` is the latest event time fed.

    Alert rules are evaluated as the daemon would, every ``evaluate_every`` of
    event time; firing and resolve transitions are recorded with that time.
    """

    def __init__(self, config: Config) -> None:
        self.pipeline = Pipeline(config)
        #: (rule, label, firing|resolved, event time) of every transition, for --report.
        self.transitions: list[tuple[str, str, str, float]] = []
        #: The event time of the first event: the replayed span is from it to ``now``.
        self.started: float | None = None
        self.evaluator = Evaluator(config.alerts, [spec.name for spec in self.pipeline.specs])
        self.every = config.alerts.evaluate_every.seconds
        self.alerts: list[dict[str, Any]] = []
        self.now = 0.0
        self._next_tick: float | None = None

    def _evaluate_until(self, t: float, *, final: bool = False) -> None:
        """Run every evaluation tick before ``t`` (and one at ``t`` when ``final``)."""
        if not self.evaluator.rules:
            return
        if self._next_tick is None:
            self._next_tick = (t // self.every) * self.every
        while self._next_tick < t:
            self._record(self._next_tick)
            self._next_tick += self.every
        if final:
            self._record(t)

    def _record(self, at: float) -> None:
        self.pipeline.housekeep(at)
        for alert in self.evaluator.evaluate(self.pipeline, at):
            if alert.kind is Transition.REPEAT:
                continue
            self.transitions.append((alert.rule, alert.domain, alert.kind.value, at))
            self.alerts.append(
                {
                    "rule": alert.rule,
                    "domain": alert.domain,
                    "state": alert.kind.value,
                    "at": iso(at),
                    "value": alert.value,
                    "threshold": alert.threshold,
                    "window": alert.window,
                    "severity": alert.severity,
                    "where": alert.stage,
                }
            )
        self.evaluator.due(at, flush=True)  # grouping is for sinks; replay lists each

    def run(self, bodies: Iterable[bytes]) -> None:
        """Apply every body in the order read, each at its own event time (``now`` is
        the latest event time so far, as the daemon's clock would be); rules are
        evaluated as event time passes. Nothing is held but the pipeline's state."""
        for body in bodies:
            item = _TOO_LARGE if body is TOO_LARGE else decode_body(body)
            if isinstance(item, Event):
                t = item.time
                if self.started is None:
                    self.started = t
                if t > self.now:
                    self._evaluate_until(t)
                    self.now = t
            self.pipeline.apply(item, _QUEUE, self.now)
        if self.now:
            self._evaluate_until(self.now, final=True)

    async def prefetch(self, bodies: Iterable[bytes]) -> None:
        """Look up the providers of the recipient domains in ``bodies`` (a first pass
        over the input; as many domains as the cache holds), for ``--dns``."""
        resolver = self.pipeline.resolver
        if resolver is None:
            return
        domains: dict[str, None] = {}
        latest = 0.0
        for body in bodies:
            item = decode_body(body)
            if not isinstance(item, Event):
                continue
            latest = max(latest, item.time)
            for address in item.recipients:
                domain = domain_of(address)
                if domain is not None and len(domains) < resolver.capacity:
                    domains[domain] = None
        await resolver.prefetch(domains, latest)

    def document(self) -> dict[str, Any]:
        """The ``--json`` document of SPEC section 7 (plus ``windows`` and ``invalid``)."""
        tallies = self.pipeline.tallies
        domains = _per_type(self.pipeline.by_domain.recipients)
        messages = {outcome: tallies.messages.get((_QUEUE, outcome), 0) for outcome in OUTCOMES}
        invalid = {reason: n for (_, reason), n in sorted(tallies.invalid.items())}
        # Delayed and soft-bounced recipients by cause, most first.
        causes = dict(sorted(tallies.causes.items(), key=lambda item: (-item[1], item[0])))
        providers = self.pipeline.by_provider
        return {
            "domains": domains,
            "providers": {} if providers is None else _per_type(providers.recipients),
            "causes": causes,
            "messages": messages,
            "alerts": self.alerts,
            "invalid": invalid,
            "as_of": iso(self.now) if self.now else None,
            "windows": self._windows(),
        }

    def _windows(self) -> dict[str, dict[str, dict[str, Any]]]:
        out: dict[str, dict[str, dict[str, Any]]] = {}
        p = self.pipeline
        for domain in sorted(p.windows):
            per_window: dict[str, dict[str, Any]] = {}
            for index, spec in enumerate(p.specs):
                figures = p.windows[domain].figures(index, self.now)
                p95 = figures.processing_ms[1]
                per_window[spec.name] = {
                    "counts": {
                        name: n for name, n in zip(EVENT_TYPES, figures.counts, strict=True) if n
                    },
                    "delay_ratio": figures.delay_ratio,
                    "bounce_ratio": figures.bounce_ratio,
                    "complaint_ratio": figures.complaint_ratio,
                    "processing_p95_seconds": None if p95 is None else p95 / 1000.0,
                    "pending_delays": p.pending.count(domain, self.now),
                }
            out[domain] = per_window
        return out


def _per_type(recipients: dict[str, list[int]]) -> dict[str, dict[str, int]]:
    """Label -> event type -> recipients, zeros left out, labels in order."""
    return {
        label: {name: n for name, n in zip(EVENT_TYPES, counts, strict=True) if n}
        for label, counts in sorted(recipients.items())
    }


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def render_text(document: dict[str, Any]) -> str:
    """The human-readable report."""
    lines = []
    messages = document["messages"]
    lines.append("messages: " + ", ".join(f"{k} {v}" for k, v in messages.items()))
    if document["invalid"]:
        lines.append("invalid: " + ", ".join(f"{k} {v}" for k, v in document["invalid"].items()))
    if document["causes"]:
        lines.append("causes: " + ", ".join(f"{k} {v}" for k, v in document["causes"].items()))
    lines.append("")
    for axis, per_label in (("domain", document["domains"]), ("provider", document["providers"])):
        if per_label:
            lines.append(f"recipients per {axis} (all events):")
        for label, counts in per_label.items():
            lines.append(f"  {label:<32} " + "  ".join(f"{k}={v}" for k, v in counts.items()))
    if document["windows"]:
        lines.append("")
        lines.append(f"windows as of {document['as_of']}:")
        lines.append(
            f"  {'domain':<32} {'window':>6} {'deliv':>7} {'delayed':>7} {'delay%':>7} "
            f"{'bounce%':>7} {'p95 proc':>9} {'pending':>7}"
        )
        for domain, windows in document["windows"].items():
            for name, w in windows.items():
                p95 = w["processing_p95_seconds"]
                lines.append(
                    f"  {domain:<32} {name:>6} {w['counts'].get('delivery', 0):>7} "
                    f"{w['counts'].get('delivery_delay', 0):>7} {_ratio(w['delay_ratio']):>7} "
                    f"{_ratio(w['bounce_ratio']):>7} "
                    f"{'-' if p95 is None else f'{p95:.1f}s':>9} {w['pending_delays']:>7}"
                )
    lines.append("")
    if not document["alerts"]:
        lines.append("alerts: none")
    else:
        lines.append("alerts:")
        for alert in document["alerts"]:
            value = alert["value"]
            shown = "no data" if value is None else f"{value:.4g}"
            lines.append(
                f"  {alert['at']}  {alert['state'].upper():<8} {alert['rule']}  {alert['domain']}"
                f"  value {shown} (threshold {alert['threshold']:g}, {alert['window']})"
            )
    return "\n".join(lines)


def run_replay(
    config: Config,
    paths: list[str],
    *,
    as_json: bool,
    dns: bool = False,
    with_report: bool = False,
    rule: str | None = None,
    settings: list[str] | None = None,
    quiet: bool = False,
) -> int:
    """The ``replay`` command; prints to standard output and returns the exit code.
    ``rule`` keeps that rule only; ``settings`` (``RULE.KEY=VALUE``) override rules for
    this replay; ``with_report`` adds each rule's report."""
    try:
        config = _rules_for(config, rule, settings or [])
    except ConfigError as exc:
        print(f"sesd: {exc}", file=sys.stderr)
        return 2
    replay = Replay(config)
    resolver = replay.pipeline.resolver
    if resolver is not None and config.state.path:
        # The daemon's cached providers, so a replay knows them without DNS.
        with contextlib.suppress(StateError):
            blob = read_state(config.state.path)
            if blob is not None:
                resolver.restore(providers_cache(blob))
    with contextlib.ExitStack() as stack:
        s3 = stack.enter_context(S3Reader(config)) if any(map(is_s3, paths)) else None
        found, problems = sources(paths, s3)
        if dns:
            if any(source.name == "-" for source in found):
                print("sesd: replay --dns reads its input twice: give files", file=sys.stderr)
                return 2
            anyio.run(replay.prefetch, bodies(found, s3=s3))
            for source in found:
                source.errors.clear()  # reported once, from the replay itself
        interrupted = False
        with _progress(found, show=not quiet and sys.stderr.isatty()) as progress:
            try:
                replay.run(progress.count(bodies(found, progress.read, s3=s3)))
            except KeyboardInterrupt:
                # Ctrl-C: report what was replayed so far.
                interrupted = True
    problems += [error for source in found for error in source.errors]
    document = replay.document()
    if interrupted:
        document["interrupted"] = True
        problems.append("the rest of the input: interrupted (Ctrl-C)")
    reports = []
    if with_report:
        start = replay.started if replay.started is not None else replay.now
        names = [r.name for r in config.alerts.rules]
        reports = report(names, replay.transitions, start, replay.now)
        document["report"] = [msgspec.structs.asdict(r) for r in reports]
    if as_json:
        sys.stdout.write(msgspec.json.encode(document).decode() + "\n")
    else:
        sys.stdout.write(render_text(document) + "\n")
        if with_report:
            sys.stdout.write("\n" + render_report(reports) + "\n")
    for problem in problems:
        print(f"sesd: replay skipped {problem}", file=sys.stderr)
    return EXIT_SKIPPED if problems else 0


def _rules_for(config: Config, rule: str | None, settings: list[str]) -> Config:
    """The config a replay runs: ``settings`` applied, and with ``rule`` that rule only."""
    config = override(config, settings)
    if rule is None:
        return config
    kept = [r for r in config.alerts.rules if r.name == rule]
    if not kept:
        known = ", ".join(r.name for r in config.alerts.rules) or "none"
        raise ConfigError(f"--rule {rule!r}: no such rule (rules: {known})")
    alerts = msgspec.structs.replace(config.alerts, rules=kept)
    return msgspec.structs.replace(config, alerts=alerts)


class _Progress:
    """Bytes and events read, events a second and (when the total size is known) an
    ETA, on stderr (tqdm); nothing at all when not shown."""

    def __init__(self, found: list[Source], show: bool) -> None:
        sizes = [source.size for source in found]
        total = sum(size for size in sizes if size is not None)
        self._bar: tqdm[Any] | None = None
        if show:
            self._bar = tqdm(
                total=total if None not in sizes and total else None,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                file=sys.stderr,
                desc="replay",
                dynamic_ncols=True,
                mininterval=0,  # updates come a chunk (1 MiB) at a time: show each
            )
        self._events = 0
        self._started = time.monotonic()

    def read(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def count(self, found: Iterable[bytes]) -> Iterator[bytes]:
        bar = self._bar
        for body in found:
            self._events += 1
            if bar is not None and not self._events % 5000:
                rate = self._events / max(1e-9, time.monotonic() - self._started)
                bar.set_postfix_str(f"{self._events:,} events, {rate:,.0f}/s", refresh=False)
            yield body

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


@contextlib.contextmanager
def _progress(found: list[Source], show: bool) -> Iterator[_Progress]:
    progress = _Progress(found, show)
    try:
        yield progress
    finally:
        progress.close()
