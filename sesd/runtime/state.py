"""The state file: what a restart must not lose.

The ledger's saved stores (sesd.core.ledger says which and why) and the alert
states go into one msgpack document, written atomically (a temporary file
beside it, fsync, rename) with mode 0600. Restored at start,
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
from sesd.core.ledger import Ledger
from sesd.io.files import write_atomic

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


def snapshot(ledger: Ledger, evaluator: Evaluator, now: float) -> bytes:
    """Everything worth keeping, encoded: the ledger's saved stores and the alert
    states."""
    alerts = {
        rule: {
            domain: [s.status.value, s.since, s.last_sent, s.value, s.resolved_at, s.notified]
            for domain, s in states.items()
            if s.status is not Status.INACTIVE
        }
        for rule, states in evaluator.states.items()
    }
    return msgspec.msgpack.encode(
        {"version": STATE_VERSION, "saved_at": now, **ledger.snapshot(now), "alerts": alerts}
    )


def restore(blob: bytes, ledger: Ledger, evaluator: Evaluator) -> dict[str, Any]:
    """Load a snapshot into a fresh ledger and evaluator; returns what was restored."""
    try:
        data = msgspec.msgpack.decode(blob)
    except msgspec.DecodeError as exc:
        raise StateError(f"not a sesd state file ({exc})") from None
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
        raise StateError(f"state file version {data.get('version')!r} is not {STATE_VERSION}")
    try:
        restored = ledger.restore(data)
        alerts = _restore_alerts(data["alerts"], evaluator)
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise StateError(f"state file is damaged ({type(exc).__name__}: {exc})") from None
    return {"saved_at": data["saved_at"], **restored, "alerts": alerts}


def _restore_alerts(saved: dict[str, Any], evaluator: Evaluator) -> int:
    alerts = 0
    for rule, states in saved.items():
        if rule not in evaluator.states:
            continue
        for domain, (status, since, last_sent, value, resolved_at, *notified) in states.items():
            # A file from before silences: every firing alert in it had been sent.
            evaluator.states[rule][domain] = AlertState(
                Status(status), since, last_sent, value, resolved_at, *(notified or [True])
            )
            alerts += 1
    return alerts


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
