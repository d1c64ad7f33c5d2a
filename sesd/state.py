"""The state file: what a restart must not lose.

Windows (of domains and providers), labels, pending delays, duplicate keys,
the providers of recipient domains, alert states and the canaries in flight
go into one msgpack document, written atomically (a
temporary file beside it, fsync, rename) with mode 0600. Restored at start,
it means a restart neither loses the last hour nor sends firing alerts again,
and an alert that cleared while sesd was down resolves (and is notified) at
the first evaluation. Counters are
not kept: Prometheus handles counter resets.

A file that cannot be read, or was written for another window layout, is
reported and ignored (or, for the layout, only the windows are): sesd starts
rather than refusing to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import AlertState, Status
from sesd.files import write_atomic
from sesd.pipeline import Pipeline
from sesd.windows import DomainWindows

__all__ = [
    "STATE_VERSION",
    "StateError",
    "providers_cache",
    "read_state",
    "restore",
    "snapshot",
    "write_state",
]

STATE_VERSION = 4  # 2: keys are XXH3 digests; 3: compact windows; 4: pure-read windows


class StateError(Exception):
    """The state file cannot be used; the message says why in one line."""


def snapshot(pipeline: Pipeline, evaluator: Evaluator, now: float) -> bytes:
    """Everything worth keeping, encoded."""
    for scope in pipeline.scopes:
        for windows in scope.windows.values():
            windows.flush(now)
    for windows in pipeline.tag_windows.values():
        windows.flush(now)
    alerts = {
        rule: {
            domain: [s.status.value, s.since, s.last_sent, s.value, s.resolved_at, s.notified]
            for domain, s in states.items()
            if s.status is not Status.INACTIVE
        }
        for rule, states in evaluator.states.items()
    }
    return msgspec.msgpack.encode(
        {
            "version": STATE_VERSION,
            "saved_at": now,
            "layout": _layout(pipeline),
            "domains": pipeline.domains.snapshot(),
            "windows": {label: w.snapshot() for label, w in pipeline.windows.items()},
            # Windows of the other scopes (providers), by axis.
            "scopes": {
                scope.axis: {label: w.snapshot() for label, w in scope.windows.items()}
                for scope in pipeline.scopes[1:]
            },
            "providers": [] if pipeline.resolver is None else pipeline.resolver.snapshot(now),
            "tags": {tag: table.snapshot() for tag, table in pipeline.tag_tables.items()},
            "tag_windows": [
                [tag, value, w.snapshot()] for (tag, value), w in pipeline.tag_windows.items()
            ],
            "pending": pipeline.pending.snapshot(),
            "dedup": pipeline.dedup.snapshot(),
            "alerts": alerts,
            "canaries": pipeline.canary.snapshot(),
        }
    )


def restore(blob: bytes, pipeline: Pipeline, evaluator: Evaluator) -> dict[str, Any]:
    """Load a snapshot into a fresh pipeline and evaluator; returns what was restored."""
    try:
        data = msgspec.msgpack.decode(blob)
    except msgspec.DecodeError as exc:
        raise StateError(f"not a sesd state file ({exc})") from None
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
        raise StateError(f"state file version {data.get('version')!r} is not {STATE_VERSION}")
    try:
        return _restore(data, pipeline, evaluator)
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise StateError(f"state file is damaged ({type(exc).__name__}: {exc})") from None


def _restore(data: dict[str, Any], pipeline: Pipeline, evaluator: Evaluator) -> dict[str, Any]:
    pipeline.dedup.restore(data["dedup"])
    pipeline.pending.restore(data["pending"])
    same_layout = data["layout"] == _layout(pipeline)
    if same_layout:
        pipeline.domains.restore(data["domains"])
        for label, windows in data["windows"].items():
            restored = DomainWindows(pipeline.specs)
            restored.restore(windows)
            pipeline.windows[label] = restored
        saved = data.get("scopes", {})  # absent from files written before providers
        for scope in pipeline.scopes[1:]:
            for label, windows in saved.get(scope.axis, {}).items():
                restored = DomainWindows(pipeline.specs)
                restored.restore(windows)
                scope.windows[label] = restored
        for tag, last_seen in data["tags"].items():
            if tag in pipeline.tag_tables:
                pipeline.tag_tables[tag].restore(last_seen)
        for tag, value, windows in data["tag_windows"]:
            if tag in pipeline.tag_tables:
                restored = DomainWindows(pipeline.specs)
                restored.restore(windows)
                pipeline.tag_windows[(tag, value)] = restored
    if pipeline.resolver is not None:
        pipeline.resolver.restore(data.get("providers", []))
    pipeline.canary.restore(data.get("canaries", []))
    alerts = 0
    for rule, states in data["alerts"].items():
        if rule not in evaluator.states:
            continue
        for domain, (status, since, last_sent, value, resolved_at, *notified) in states.items():
            # A file from before silences: every firing alert in it had been sent.
            evaluator.states[rule][domain] = AlertState(
                Status(status), since, last_sent, value, resolved_at, *(notified or [True])
            )
            alerts += 1
    return {
        "saved_at": data["saved_at"],
        "windows": len(pipeline.windows) if same_layout else "dropped: window layout changed",
        "pending_delays": len(pipeline.pending),
        "providers_cached": 0 if pipeline.resolver is None else len(pipeline.resolver.cache),
        "alerts": alerts,
        "canaries": len(pipeline.canary.canaries),
    }


def providers_cache(blob: bytes) -> list[list[Any]]:
    """The providers cached in a state file (for ``sesd replay``); StateError if the
    file is not one."""
    try:
        data = msgspec.msgpack.decode(blob)
    except msgspec.DecodeError as exc:
        raise StateError(f"not a sesd state file ({exc})") from None
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
        raise StateError("not a state file of this version")
    found = data.get("providers", [])
    if not isinstance(found, list):
        raise StateError("state file is damaged (providers)")
    return found


def _layout(pipeline: Pipeline) -> list[list[Any]]:
    return [[spec.name, spec.width, spec.slots] for spec in pipeline.specs]


def read_state(path: str) -> bytes | None:
    """The file's bytes, or None when there is none yet."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"cannot read {path}: {exc.strerror}") from None


def write_state(path: str, blob: bytes) -> None:
    """Replace the state file atomically; readable by its owner only."""
    write_atomic(path, blob)
