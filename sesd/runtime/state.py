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

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import msgspec

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import AlertState, Status, Transition
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


def snapshot(
    ledger: Ledger,
    evaluator: Evaluator,
    now: float,
    unsent: Iterable[tuple[str, str, Transition]] = (),
) -> bytes:
    """Everything worth keeping, encoded: the ledger's saved stores and the alert
    states, as if ``unsent`` (rule, domain, kind: notifications not delivered yet) had
    not happened, so a restart sends them again."""
    alerts = {
        rule: {
            domain: [s.status.value, s.since, s.last_sent, s.value, s.resolved_at, s.notified]
            for domain, s in states.items()
            if s.status is not Status.INACTIVE
        }
        for rule, states in evaluator.states.items()
    }
    for rule, domain, kind in unsent:
        saved = alerts.get(rule)
        if saved is None:
            continue  # a rule a reload removed: gone after a restart either way
        row = saved.get(domain)
        firing = row is not None and row[0] == Status.FIRING.value
        if kind is Transition.FIRING and firing:
            assert row is not None
            row[5] = False  # not notified: the first evaluation after a restart sends it
        elif kind is Transition.RESOLVED and not firing:
            # Still firing as far as the sinks know: the first evaluation after a
            # restart resolves it again (or finds it firing, as the sinks have it).
            state = evaluator.states[rule].get(domain)
            since, sent = (now, now) if state is None else (state.since, state.last_sent)
            saved[domain] = [Status.FIRING.value, since, sent, None, None, True]
    return msgspec.msgpack.encode(
        {"version": STATE_VERSION, "saved_at": now, **ledger.snapshot(now), "alerts": alerts}
    )


def restore(blob: bytes, ledger: Ledger, evaluator: Evaluator) -> dict[str, Any]:
    """Load a snapshot into a fresh ledger and evaluator; returns what was restored.

    All or nothing: the file is first restored into a ledger of the same settings
    that is then dropped, so a file damaged halfway (a flipped byte, a field of the
    wrong type) raises StateError with nothing loaded, rather than windows without
    the alert states that go with them (which would page again).
    """
    data = _decoded(blob)
    try:
        Ledger(ledger.settings).restore(data)
        alerts = _alert_states(data["alerts"], evaluator)
        saved_at = float(data["saved_at"])
    # Whatever a damaged file makes the readers raise: the file is refused, sesd starts.
    except Exception as exc:  # noqa: BLE001
        raise StateError(f"state file is damaged ({type(exc).__name__}: {exc})") from None
    restored = ledger.restore(data)
    for rule, states in alerts.items():
        evaluator.states[rule].update(states)
    return {"saved_at": saved_at, **restored, "alerts": sum(map(len, alerts.values()))}


def _decoded(blob: bytes) -> dict[str, Any]:
    """The state file's document, of this version; StateError if it is not one."""
    try:
        data = msgspec.msgpack.decode(blob)
    # msgspec raises DecodeError for most damage, UnicodeDecodeError for some.
    except Exception as exc:  # noqa: BLE001
        raise StateError(f"not a sesd state file ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict):
        raise StateError(f"not a sesd state file (a {type(data).__name__}, not a map)")
    if data.get("version") != STATE_VERSION:
        raise StateError(f"state file version {data.get('version')!r} is not {STATE_VERSION}")
    return data


def _alert_states(saved: dict[str, Any], evaluator: Evaluator) -> dict[str, dict[str, AlertState]]:
    """The saved states of the rules the evaluator has (others are gone from the config)."""
    found: dict[str, dict[str, AlertState]] = {}
    for rule, states in saved.items():
        if rule not in evaluator.states:
            continue
        kept = found[rule] = {}
        for domain, (status, since, last_sent, value, resolved_at, *notified) in states.items():
            # A file from before silences: every firing alert in it had been sent.
            kept[str(domain)] = AlertState(
                Status(status), since, last_sent, value, resolved_at, *(notified or [True])
            )
    return found


def providers_cache(blob: bytes) -> list[list[Any]]:
    """The providers cached in a state file (for ``sesd replay``); StateError if the
    file is not one."""
    found = _decoded(blob).get("providers", [])
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
