"""The state file: what a restart must not lose.

The ledger's saved stores (sesd.core.ledger says which and why), the alert
states and the rules they were stepped under go into one msgpack document,
written atomically (a temporary file beside it, fsync, rename) with mode 0600.
Restored at start, it means a restart neither loses the last hour nor sends
firing alerts again, an alert that cleared while sesd was down resolves (and
is notified), and a change of rules across the restart owes the sinks what a
reload would. Counters are not kept: Prometheus handles counter resets.

A file that cannot be read is reported and ignored: sesd starts rather than
refusing to. Windows of a size the config no longer has start empty. A file saved
ahead of the clock holds resolves on empty windows until the clock passes it, and its
alert times move back as far (sesd.runtime.state_alerts.stepped_back).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import replace
from typing import Any, Final

import msgspec

from sesd.alerting.alert import Alert
from sesd.alerting.clock_steps import fired_moved
from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rechecked import Rechecked
from sesd.alerting.retiring import Retiring
from sesd.alerting.rules import AlertState, Status, Transition
from sesd.config import Duration, RuleConfig, rule_of, saved_rule
from sesd.core.canary import names_read
from sesd.core.ledger import Ledger
from sesd.core.ledger_steps import restored_behind
from sesd.core.scopes import DOMAIN
from sesd.core.text import clean
from sesd.core.ungrouped import drop_groups, removed_groups
from sesd.io.files import TooLarge, owners, read_plain, write_atomic
from sesd.runtime.collector import held_off
from sesd.runtime.state_alerts import (
    alert_states,
    clocked,
    read_heard,
    read_retired,
    resolve_row,
    saved_heard,
    saved_retired,
    stepped_back,
    unread_alerted,
)
from sesd.runtime.state_bounds import bounded, firing_of, named
from sesd.runtime.state_refused import in_line

__all__ = [
    "STATE_VERSION",
    "StateError",
    "providers_cache",
    "read_state",
    "restore",
    "snapshot",
    "write_state",
]

#: What a later build may add without a new version: sesd.runtime.state_alerts says.
STATE_VERSION = 4  # 2: keys are XXH3 digests; 3: compact windows; 4: pure-read windows
#: How many of the alerts a change of rules since the save owes the start's line names.
_NAMED_OWED: Final = 20
#: A state's seventh item, written only where its alert is held by a window too thin
#: to decide on (sesd.runtime.state_alerts reads a row without it as not held).
_HELD: Final[dict[bool, list[bool]]] = {False: [], True: [True]}


class StateError(Exception):
    """The state file cannot be used; the message says why in one line."""


def snapshot(
    ledger: Ledger,
    evaluator: Evaluator,
    now: float,
    unsent: Iterable[tuple[str, str, Transition]] = (),
    stopped: bool = False,
    retired: Iterable[Retiring] = (),
    firing_owed: Mapping[tuple[str, str], Collection[str]] | None = None,
    resolves: Iterable[Alert] = (),
) -> bytes:
    """Everything worth keeping, encoded: the ledger's saved stores and the alert
    states, as if ``unsent`` (rule, domain, kind: notifications not delivered yet) had
    not happened, so a restart sends them again, and the resolves not delivered, each
    with the sinks owed it (``retired``, sesd.runtime.state_alerts); ``stopped``: the
    stop's last save (a file without it was left by a run that did not stop cleanly).
    A resolve in ``unsent`` keeps its alert firing, as earlier builds saved them all:
    the restart resolves it on the rule's sinks (sesd.alerting.retiring keeps them
    apart, in ``retired``, and says why). ``firing_owed``: the sinks each firing in
    ``unsent`` is owed to (every sink of its rule where it does not say); the others
    took it, and are not sent it again (sesd.alerting.unheard). ``resolves``: those
    in ``unsent`` as made, each saved with its own figure, start and end (its state
    may hold a new breach since)."""
    alerts = {
        rule: {
            domain: [s.status.value, s.since, s.last_sent, s.value, s.resolved_at, s.notified]
            + _HELD[s.held]
            for domain, s in states.items()
            if s.status is not Status.INACTIVE
        }
        for rule, states in evaluator.states.items()
    }
    made: dict[tuple[str, str], Alert] = {}
    for alert in resolves:  # the first of an alert's: the incident its sinks have open
        made.setdefault((alert.rule, alert.domain), alert)
    for rule, domain, kind in unsent:
        # A rule no longer in force: what it owes is a resolve, kept in ``retired``
        # under the rule as it was (sesd.alerting.retiring), not made again.
        saved = alerts.get(rule)
        if saved is None:
            continue
        row = saved.get(domain)
        firing = row is not None and row[0] == Status.FIRING.value
        if kind is Transition.FIRING and firing:
            assert row is not None
            row[5] = False  # not notified: the first evaluation after a restart sends it
        elif kind is Transition.RESOLVED and not firing:
            # Still firing as far as the sinks know: the first evaluation after a
            # restart resolves it again (or finds it firing, as the sinks have it).
            # Its resolved_at says the resolve was decided: not held back at the start.
            state = evaluator.states.get(rule, {}).get(domain)
            saved[domain] = resolve_row(state, made.get((rule, domain)), now)
    heard = saved_heard(alerts, evaluator.rules, evaluator.unheard.owed, firing_owed or {})
    rules = {rule.name: saved_rule(rule) for rule in evaluator.rules}
    owed = list(retired)
    alerted = _alerted(ledger, evaluator.rules, alerts, owed)
    # The windows the alerts kept firing fired under: a config's, perhaps one dropped
    # since, which the next restart reads as one a config had (:func:`_windows`).
    fired = evaluator.rechecked.fired.values()
    windows = sorted({rule.window for rule, _ in fired} - set(evaluator.window_names))
    return msgspec.msgpack.encode(
        {"version": STATE_VERSION, "saved_at": now, **ledger.snapshot(now), "alerts": alerts,
         "rules": rules, "alerted": alerted, "retired": saved_retired(owed), "heard": heard,
         "fired": evaluator.rechecked.saved(), "groups": sorted(ledger.settings.groups),
         "stopped": stopped, "fired_windows": windows}
    )  # fmt: skip


def _alerted(
    ledger: Ledger,
    rules: list[RuleConfig],
    alerts: dict[str, dict[str, list[Any]]],
    retired: list[Retiring],
) -> list[str]:
    """The labels of domain rules' firing alerts (sent, or saved to be sent, ``retired``
    resolves among them) that the domain table no longer holds: a group a reload
    removed, evicted while its alert's resolve was held (a queue unread). Listed, the
    restart takes their states as it takes a group the file's table lists
    (:meth:`Ledger.makes`), and they resolve; not listed, they were dropped as a hand's
    labels, their incidents left open."""
    domain_rules = [rule.name for rule in rules if rule.scope == DOMAIN]
    found = {
        label
        for name in domain_rules
        for label, row in alerts.get(name, {}).items()
        if row[0] == Status.FIRING.value and not ledger.domains.holds(label)
    }
    found |= {
        alert.domain
        for rule, alert in retired
        if rule.scope == DOMAIN and not ledger.domains.holds(alert.domain)
    }
    return sorted(found)


def restore(blob: bytes, ledger: Ledger, evaluator: Evaluator, now: float) -> dict[str, Any]:
    """Load a snapshot into a fresh ledger and evaluator; returns what was restored.

    All or nothing: the file is first restored into a ledger of the same settings
    that is then dropped, so a file damaged halfway (a flipped byte, a field of the
    wrong type) raises StateError with nothing loaded, rather than windows without
    the alert states that go with them (which would page again); but an entry beside
    them that does not read is skipped alone (sesd.runtime.state_alerts says why).

    The alert states are taken as a reload from the rules they were saved under to
    the configured ones takes them (a removed rule's sent alerts resolve, say), and
    for a window's length a window without data does not resolve an alert: the
    events queued while sesd was down have not reached it yet.
    """
    with held_off():  # (its collections took over a quarter of the time)
        return _restore(blob, ledger, evaluator, now)


def _restore(blob: bytes, ledger: Ledger, evaluator: Evaluator, now: float) -> dict[str, Any]:
    data = _decoded(blob)
    try:
        Ledger(ledger.settings).restore(data, now)
        # A flipped byte here (no date of it can be written) is read as the start's time:
        written = float(data["saved_at"])  # the rest is sound, and the start's lines say it
        saved_at = clocked(written, now)
        step = stepped_back(saved_at, now)  # the alert times move with the clock
        alerts = alert_states(data["alerts"], now, step)
        windows = _windows(data, evaluator)
        rules, unknown, unread_rules = _rules(data.get("rules", {}), alerts, evaluator, windows)
        known = {name: states for name, states in alerts.items() if name not in unknown}
        dropped, refused = bounded(rules, known, ledger, data)
        retired, unread, skipped = read_retired(data, now, step)
        heard, unheard = read_heard(data)
        fired = Rechecked()  # the rules firing alerts fired under, where since changed
        unfired = fired.adopt(data.get("fired"), rules, windows, unknown)
        fired.fired = fired_moved(fired.fired, step)
        entries = {"rules": unread_rules, "retired": skipped, "heard": unheard, "alerted":
                   unread_alerted(data), "fired": unfired,
                   "canary_names": names_read(data.get("canary_names"))[1]}  # fmt: skip
        for rule, states, _ in retired:
            # Held to the rule as it was, on its own: its labels, its ceiling. What it
            # drops is named for a person to close, and not resolved.
            held = {rule.name: states}
            more, fewer = bounded([rule], held, ledger, data)
            kept = held[rule.name]
            for label in [label for label in states if label not in kept]:
                del states[label]
            dropped = named(dropped, more)
            refused += fewer
        # Resolving them again reads their states, and changes none.
        dry = Evaluator(evaluator.config, evaluator.window_names)
        dry.adopt(rules, _copied(known), now, retired=retired, heard=heard, fired=fired.fired)
        # A group the file was saved with and the config no longer has goes, and its
        # alerts resolve, as at a reload that removes it.
        gone = removed_groups(_groups(data), ledger.settings.groups, ledger.settings.track)
    except Exception as exc:  # noqa: BLE001 - whatever a damaged file makes readers raise
        raise StateError(f"state file is damaged ({type(exc).__name__}: {exc})") from None
    restored = ledger.restore(data, now)
    if step < 0:  # what was read on the clock ahead moves back as the alerts do
        restored_behind(ledger, step, now)
    entries["tenant_walks"] = restored.pop("tenant_walks_unread")
    drop_groups(ledger, gone)
    count = sum(map(len, known.values()))
    owed = evaluator.adopt(rules, known, now, ledger, gone, retired, heard, fired.fired)
    # Saved ahead of this clock (it stepped back, or the host booted before NTP set
    # it), the windows' events lie ahead of it and read as none: no resolve on that
    # until the clock is past the save, within the windows' reach (a file saved a year
    # ahead holds nothing back for a year).
    evaluator.blind(min(max(now, saved_at), now + ledger.horizon))
    # What the change of rules since the save owes the sinks (sesd.alerting.changes),
    # the first named, as many as the line's bound holds, and the others counted:
    # every one is queued all the same.
    shown = in_line([f"{a.kind.value} {a.rule} {a.domain}" for a in owed[:_NAMED_OWED]],
                    _NAMED_OWED)  # fmt: skip
    return {
        "saved_at": saved_at,
        # Read as the start's: said, or a person takes it for the save's.
        **({} if saved_at == written else {"saved_at_unread": repr(written)}),
        **restored,
        "alerts": count,
        "owed": shown,
        **({"owed_not_named": len(owed) - len(shown)} if len(owed) > len(shown) else {}),
        # Rules neither the file nor the config describe: their firing alerts stay
        # open in the sinks that were sent them (a file from before rules were saved).
        "unknown_rules": named(
            unread,
            {clean(name): [clean(label) for label in firing_of(s)] for name, s in unknown.items()},
        ),
        # States on labels no event makes, or past what their rule's scope holds (a
        # hand-edited file): dropped, and the firing ones among them named.
        "alert_states_refused": refused,
        "entries_skipped": {key: count for key, count in entries.items() if count},
        "dropped": dropped,
        # Whether the stop's last save wrote it (None: a build that did not say).
        "stopped": data.get("stopped"),
    }


def _windows(data: dict[str, Any], evaluator: Evaluator) -> set[str]:
    """The windows configured when the file was saved (its layout), and now; and those
    the alerts it keeps firing fired under (``fired_windows``: each a config's, read at
    a restart before, that an alert fired on under across restarts since), each a
    window's text as a config writes it."""
    saved = [spec[0] for spec in data["layout"] if isinstance(spec, list) and spec]
    had = data.get("fired_windows")
    saved += [name for name in had if _window_text(name)] if isinstance(had, list) else []
    return {name for name in saved if isinstance(name, str)} | set(evaluator.window_names)


def _window_text(name: object) -> bool:
    """Whether ``name`` reads as a window's size as a config writes it (``5m``)."""
    try:
        return isinstance(name, str) and len(name) <= 16 and Duration(name).text == name
    except ValueError:
        return False


def _groups(data: dict[str, Any]) -> list[str]:
    """The group names the file was saved with (none from a build that did not list
    them); a name that is no string is a damaged file."""
    saved = data.get("groups")
    names = saved if isinstance(saved, list) else []
    if not all(isinstance(name, str) for name in names):
        raise TypeError("groups holds a name that is no string")
    return names


def _rules(
    saved: dict[str, Any],
    alerts: dict[str, dict[str, AlertState]],
    evaluator: Evaluator,
    windows: set[str],
) -> tuple[list[RuleConfig], dict[str, dict[str, AlertState]], int]:
    """The rules the states were saved under (the configured one of the same name when
    the file does not say, or no longer reads as a rule), the states of rules neither
    describes, and how many descriptions did not read (all, once, if no map). One of
    another rule's name (a hand's edit) does not read: it would bound these states;
    nor one of a window not of ``windows`` (no config had it): its text would reach
    the sinks, in the note of the rule's change."""
    configured = {rule.name: rule for rule in evaluator.rules}
    rules, unknown, unread = [], {}, 0
    if not isinstance(saved, dict):  # not a map of descriptions: the rules configured
        saved, unread = {}, 1
    for name, states in alerts.items():
        rule: RuleConfig | None = None
        try:
            rule = rule_of(saved[name])
        except KeyError:  # a file from before rules were saved
            pass
        except ValueError:
            unread += 1
        if rule is not None and (rule.name != name or rule.window not in windows):
            rule, unread = None, unread + 1
        if rule is not None:
            rules.append(rule)
        elif name in configured:
            rules.append(configured[name])
        else:
            unknown[name] = states
    return rules, unknown, unread


def _copied(alerts: dict[str, dict[str, AlertState]]) -> dict[str, dict[str, AlertState]]:
    return {
        name: {label: replace(s) for label, s in states.items()} for name, states in alerts.items()
    }


def _decoded(blob: bytes) -> dict[str, Any]:
    """The state file's document, of this version; StateError if it is not one."""
    try:
        data = msgspec.msgpack.decode(blob)
    # msgspec raises DecodeError for most damage, UnicodeDecodeError for some.
    except Exception as exc:  # noqa: BLE001
        raise StateError(f"not a sesd state file ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict):
        raise StateError(f"not a sesd state file (a {type(data).__name__}, not a map)")
    version = data.get("version")
    if version == STATE_VERSION:
        return data
    if type(version) is not int or version < 1:
        # Every sesd wrote a version from 1 up: a map without one is another program's.
        raise StateError(f"not a sesd state file (format version {version!r})")
    said = f"state file format version {version!r}"
    if type(version) is int and version > STATE_VERSION:
        raise StateError(
            f"{said} is a later sesd's (this one reads {STATE_VERSION}): to use it, roll "
            "forward and put it back at the path (see the hint)"
        )
    raise StateError(
        f"{said} is an earlier sesd's, which this one no longer reads (it reads {STATE_VERSION})"
    )


def providers_cache(blob: bytes) -> list[list[Any]]:
    """The providers cached in a state file (for ``sesd replay``); StateError if the
    file is not one."""
    found = _decoded(blob).get("providers", [])
    if not isinstance(found, list):
        raise StateError("state file is damaged (providers)")
    return found


def read_state(path: str, limit: int | None = None) -> bytes | None:
    """The file's bytes, or None when there is none yet; StateError, nothing read, when
    it holds more than ``limit`` bytes (sesd.runtime.state_size)."""
    try:
        return read_plain(path, limit)
    except FileNotFoundError:
        return None
    except TooLarge as exc:
        raise StateError(
            f"{path} is {exc.size:,} bytes, more than the {exc.limit:,} the largest state "
            "this config can save takes (a damaged file, or another file at the path); "
            "not read"
        ) from None
    except OSError as exc:
        raise StateError(f"cannot read {path}: {exc.strerror}{owners(path, exc)}") from None


def write_state(path: str, blob: bytes, may_replace: Callable[[], bool] | None = None) -> bool:
    """Replace the state file atomically, unless ``may_replace`` calls it off right
    before the rename; readable by its owner only. Whether it was replaced."""
    return write_atomic(path, blob, may_replace)
