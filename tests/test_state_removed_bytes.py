"""What resolves owed under a rule a reload removed take in the state file, against
what its size bound (sesd.runtime.state_size) sets aside for them. The bound is
reckoned from the config at the restart, whose rules no longer include the removed
one: a file at its caps with such resolves beside it, past the bound, would be set
aside unread at the restart, every window and alert state with it, and every
resolve owed left open."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import partial
from pathlib import Path

import msgspec
from structlog.testing import capture_logs

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.retiring import Undelivered
from sesd.alerting.rules import Transition
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.saver import StateSaver
from sesd.runtime.state import snapshot
from sesd.runtime.state_bytes import read_state
from sesd.runtime.state_size import alert_ceiling, kept_owed, retired_room, state_limit
from tests.test_render import _alert
from tests.test_state_alert_bytes import CONFIG, SINKS, T, _longest


def test_resolves_owed_under_a_removed_rule_fit_in_the_bound() -> None:
    """The rule fired on every label it may hold, with the longest labels, and a
    reload removed it while none of its three sinks (of the longest names) took
    anything: each is owed the resolve of every label."""
    before = parse_config(CONFIG)
    (rule,) = before.alerts.rules
    after = parse_config(CONFIG.split("[[alerts.rules]]")[0] + "[domains]\nmax_tracked = 10\n")
    assert after.alerts.rules == []
    ledger = Pipeline(core_settings(after)).ledger
    evaluator = Evaluator(after.alerts, [spec.name for spec in ledger.specs])
    resolve = _alert(Transition.RESOLVED, "")
    retired = [
        (
            msgspec.structs.replace(rule, sinks=[sink]),
            replace(resolve, rule="delays", domain=label, notes=("the rule was removed",)),
        )
        for sink in SINKS
        for label in (_longest(i) for i in range(alert_ceiling(rule, ledger.settings)))
    ]
    empty = len(snapshot(ledger, evaluator, T))
    full = len(snapshot(ledger, evaluator, T, retired=retired))
    sinks = after.alerts.named_sinks()
    share = state_limit(ledger, after.alerts.rules, sinks) - state_limit(ledger, [], ())
    assert full - empty <= share, (full - empty, share)


def test_resolves_each_of_a_removed_rule_of_its_own_fit_in_the_bound() -> None:
    """As many rows as the bound sets aside outside the rules in force, each under a
    rule of its own (as many rules removed, each with one alert): each row carries
    its rule's description, and still fits."""
    before = parse_config(CONFIG)
    (rule,) = before.alerts.rules
    after = parse_config(CONFIG.split("[[alerts.rules]]")[0] + "[domains]\nmax_tracked = 10\n")
    ledger = Pipeline(core_settings(after)).ledger
    evaluator = Evaluator(after.alerts, [spec.name for spec in ledger.specs])
    sinks = after.alerts.named_sinks()
    room = retired_room(ledger.settings, len(sinks))
    resolve = _alert(Transition.RESOLVED, "")
    retired = []
    for i in range(room):
        name = f"{i:06d}" + "r" * 58
        removed = msgspec.structs.replace(rule, name=name, sinks=[SINKS[i % 3]])
        alert = replace(resolve, rule=name, domain=_longest(i), notes=("the rule was removed",))
        retired.append((removed, alert))
    empty = len(snapshot(ledger, evaluator, T))
    full = len(snapshot(ledger, evaluator, T, retired=retired))
    assert full - empty <= state_limit(ledger, [], sinks) - state_limit(ledger, [], ())


def test_resolves_past_the_room_are_left_out_the_oldest_kept() -> None:
    """Past the room, the newest resolves outside the rules in force are left out and
    counted; those of the rules in force, to sinks they name, are all kept."""
    config = parse_config(CONFIG)
    (rule,) = config.alerts.rules
    resolve = _alert(Transition.RESOLVED, "")
    removed = msgspec.structs.replace(rule, name="gone")
    retired = [
        (removed, replace(resolve, rule="gone", domain=f"{i}.example", since=T + i, at=T + i))
        for i in range(5)
    ]
    ours = (rule, replace(resolve, rule="delays", domain="x.example", since=T + 9, at=T + 9))
    settings = core_settings(config)
    kept, cut = kept_owed([*reversed(retired), ours], config.alerts.rules, 7, settings)
    assert cut == 5 * 3 - 7
    rows = sorted((alert.domain, sink) for rule, alert in kept for sink in rule.sinks)
    assert rows == sorted(
        [*((f"{i}.example", s) for i in (0, 1) for s in SINKS), ("2.example", SINKS[0])]
        + [("x.example", s) for s in SINKS]
    )


async def test_the_stop_s_save_keeps_what_the_bound_holds_and_says_what_it_left(
    tmp_path: Path,
) -> None:
    """Through the save: resolves owed under a removed rule past the room are left out
    of the file and the stop says how many, and those of later labels an Alertmanager
    is not owed are counted too; the restart reads the file."""
    before = parse_config(CONFIG)
    (rule,) = before.alerts.rules
    after = parse_config(CONFIG.split("[[alerts.rules]]")[0] + "[domains]\nmax_tracked = 10\n")
    ledger = Pipeline(core_settings(after)).ledger
    evaluator = Evaluator(after.alerts, [spec.name for spec in ledger.specs])
    room = retired_room(ledger.settings, len(after.alerts.named_sinks()))
    resolve = _alert(Transition.RESOLVED, "")
    retired = [
        (
            msgspec.structs.replace(rule, sinks=[SINKS[i % 3]]),
            replace(resolve, rule="delays", domain=_longest(i), since=T - 9, at=T - 9 + i / 8),
        )
        for i in range(room + 5)
    ]
    path = tmp_path / "state.bin"
    owed = Undelivered([], retired, {}, relabelled=2)
    saver = StateSaver(str(path), ledger, evaluator, lambda: T, lambda: owed)
    saver.load()
    with capture_logs() as logs:
        await saver.save_last(30)
    saver.release()
    said = {line["event"]: line for line in logs}
    assert said["sesd.state.resolves_not_kept"]["count"] == 5
    assert said["sesd.state.relabelled_resolves_not_kept"]["count"] == 2
    data = msgspec.msgpack.decode(path.read_bytes())
    labels = sorted(label for _, rows, _ in data["retired"] for label in rows)
    assert labels == sorted(_longest(i) for i in range(room))  # the oldest kept
    blob = read_state(str(path), state_limit(ledger, [], after.alerts.named_sinks()))
    assert blob is not None


async def test_the_stop_s_warning_counts_the_resolves_it_kept(tmp_path: Path) -> None:
    """Rule ``delays``, in force, is owed the resolve of x.example on each of its three
    sinks, and a removed rule ``gone`` more than the room holds: the stop's warning
    says how many resolves the file keeps (the room's and the rule in force's), and
    the room apart; ``kept`` said the room alone."""
    config = parse_config(CONFIG)
    (rule,) = config.alerts.rules
    ledger = Pipeline(core_settings(config)).ledger
    evaluator = Evaluator(config.alerts, [spec.name for spec in ledger.specs])
    room = retired_room(ledger.settings, len(config.alerts.named_sinks()))
    resolve = _alert(Transition.RESOLVED, "")
    gone = msgspec.structs.replace(rule, name="gone", sinks=[SINKS[0]])
    retired = [
        (gone, replace(resolve, rule="gone", domain=f"{i}.example", since=T + i, at=T + i))
        for i in range(room + 4)
    ]
    retired.append((rule, replace(resolve, rule="delays", domain="x.example", since=T, at=T)))
    path = tmp_path / "state.bin"
    saver = StateSaver(
        str(path), ledger, evaluator, lambda: T + room + 9, lambda: Undelivered([], retired, {})
    )
    saver.load()
    with capture_logs() as logs:
        await saver.save_last(30)
    saver.release()
    said = {line["event"]: line for line in logs}["sesd.state.resolves_not_kept"]
    data = msgspec.msgpack.decode(path.read_bytes())
    rows = sum(len(rule["sinks"]) * len(states) for rule, states, _ in data["retired"])
    assert (said["count"], said["kept"], said["room"]) == (4, room + 3, room)
    assert rows == room + 3


async def test_a_periodic_save_says_once_what_it_leaves_out(tmp_path: Path) -> None:
    """A crash keeps the last periodic save: what it left out is lost as surely as at a
    stop, so its first save to leave resolves out says so, the saves after it that
    leave the same ones out do not, and one leaving out another says so again. The
    stop's save says what the file it ends with leaves out."""
    config = parse_config(CONFIG)
    (rule,) = config.alerts.rules
    ledger = Pipeline(core_settings(config)).ledger
    evaluator = Evaluator(config.alerts, [spec.name for spec in ledger.specs])
    room = retired_room(ledger.settings, len(config.alerts.named_sinks()))
    resolve = _alert(Transition.RESOLVED, "")
    gone = msgspec.structs.replace(rule, name="gone", sinks=[SINKS[0]])
    retired = [
        (gone, replace(resolve, rule="gone", domain=f"{i}.example", since=T + i, at=T + i))
        for i in range(room + 4)
    ]
    owed = Undelivered([], retired, {})
    saver = StateSaver(str(tmp_path / "state.bin"), ledger, evaluator, lambda: T, lambda: owed)
    saver.load()

    async def told(save: Callable[[], Awaitable[None]]) -> list[int]:
        with capture_logs() as logs:
            await save()
        return [line["count"] for line in logs if line["event"] == "sesd.state.resolves_not_kept"]

    assert await told(saver.save) == [4]
    assert await told(saver.save) == []
    retired.append((gone, replace(resolve, rule="gone", domain="n.example", since=T + room + 9)))
    assert await told(saver.save) == [5]
    assert await told(saver.save) == []
    assert await told(partial(saver.save_last, 30)) == [5]
    saver.release()


async def test_the_stop_s_warning_names_the_resolves_it_left_out(tmp_path: Path) -> None:
    """Rules ``gone-0`` .. ``gone-24`` (removed) are owed more resolves than the room
    holds: the stop's warning asks a person to resolve those left out by hand, and so
    names them, as the start names alerts left open: the labels of each rule, at most
    20 rules (the newest resolves are those left out), the others counted. Said as a
    count alone, nothing told the person which incidents to close."""
    config = parse_config(CONFIG)
    (rule,) = config.alerts.rules
    ledger = Pipeline(core_settings(config)).ledger
    evaluator = Evaluator(config.alerts, [spec.name for spec in ledger.specs])
    room = retired_room(ledger.settings, len(config.alerts.named_sinks()))
    resolve = _alert(Transition.RESOLVED, "")
    retired = []
    for i in range(room + 25):
        name = f"gone-{max(0, i - room):02d}"
        gone = msgspec.structs.replace(rule, name=name, sinks=[SINKS[0]])
        alert = replace(resolve, rule=name, domain=f"{i}.example", since=T + i, at=T + i)
        retired.append((gone, alert))
    saver = StateSaver(
        str(tmp_path / "state.bin"), ledger, evaluator, lambda: T + room + 99,
        lambda: Undelivered([], retired, {}),
    )  # fmt: skip
    saver.load()
    with capture_logs() as logs:
        await saver.save_last(30)
    saver.release()
    said = {line["event"]: line for line in logs}["sesd.state.resolves_not_kept"]
    assert said["count"] == 25
    left = {f"gone-{i:02d}": [f"{room + i}.example"] for i in range(25)}
    assert said["rules"] == dict(sorted(left.items())[:20])
    assert said["rules_not_named"] == 5
