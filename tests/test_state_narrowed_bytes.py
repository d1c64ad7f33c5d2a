"""What resolves owed under a rule still in force take in the state file when a reload
narrowed its scope (from every domain to the providers, say) while its sinks took
nothing: each is owed the resolve of every label of the old scope, under the rule's
own name, to sinks it still names. The file's size bound (sesd.runtime.state_size)
sets aside room for the resolves of a rule in force by its scope as configured (the
providers': a few hundred labels), and for others (:func:`retired_room`): rows past
the rule's own share are charged against that room, or several rules narrowed at
once take the file past the bound, and the restart sets it aside unread."""

from __future__ import annotations

from dataclasses import replace

import msgspec

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import Transition
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.state import snapshot
from sesd.runtime.state_size import alert_ceiling, kept_owed, retired_room, state_limit
from tests.test_render import _alert
from tests.test_state_alert_bytes import CONFIG, SINKS, T, _longest

#: Rules narrowed by the reload, each from every domain to the providers.
_NARROWED = 6


def _config(providers: bool) -> str:
    text = '[alerts]\ngroup_wait = "0s"\n'
    text += "".join(f'[alerts.sinks.{name}]\ntype = "console"\n' for name in SINKS)
    for k in range(_NARROWED):
        text += f'[[alerts.rules]]\nname = "r{k}"\nmetric = "delay_ratio"\nwindow = "5m"\n'
        text += f"above = 0.2\nsinks = {SINKS!r}\n".replace("'", '"')
        text += 'providers = ["*"]\n' if providers else ""
    return text + "[domains]\nmax_tracked = 2000\n[tenants]\nmax_tracked = 10\n"


def test_resolves_owed_under_rules_a_reload_narrowed_fit_in_the_bound() -> None:
    """Three rules fired on every domain label they may hold, with the longest labels,
    and a reload narrowed each to the providers while none of their three sinks took
    anything; as many resolves owed under a removed rule, each of a rule of its own,
    as the room holds. What a save keeps of them fits in the share the bound sets
    aside for the rules and the room: keeping every row of the rules in force, it
    did not (46.01 MB against 45.67 MB)."""
    before, after = parse_config(_config(False)), parse_config(_config(True))
    ledger = Pipeline(core_settings(after)).ledger
    evaluator = Evaluator(after.alerts, [spec.name for spec in ledger.specs])
    sinks = after.alerts.named_sinks()
    room = retired_room(ledger.settings, len(sinks))
    resolve = _alert(Transition.RESOLVED, "")
    note = ("the rule no longer watches this provider",)
    # Each sink owed its own (it took one of the alert's resolves, say): a row each.
    retired = []
    for k, rule in enumerate(before.alerts.rules):
        each = [msgspec.structs.replace(rule, sinks=[sink]) for sink in SINKS]
        for i in range(alert_ceiling(rule, ledger.settings)):
            alert = replace(resolve, rule=rule.name, domain=_longest(k * 5000 + i), notes=note)
            retired += [(owed, alert) for owed in each]
    (gone,) = parse_config(_config(False).replace("r0", "gone")).alerts.rules[:1]
    for i in range(room):
        name = f"{i:06d}" + "g" * 58
        removed = msgspec.structs.replace(gone, name=name, sinks=[SINKS[i % 3]])
        why = ("the rule was removed",)
        alert = replace(resolve, rule=name, domain=_longest(40000 + i), notes=why)
        retired.append((removed, alert))
    kept, _ = kept_owed(retired, after.alerts.rules, room, ledger.settings)
    empty = len(snapshot(ledger, evaluator, T))
    full = len(snapshot(ledger, evaluator, T, retired=kept))
    share = state_limit(ledger, after.alerts.rules, sinks) - state_limit(ledger, [], ())
    assert full - empty <= share, (full - empty, share)


def test_a_rule_in_force_s_resolves_past_its_share_take_the_room() -> None:
    """Rule ``delays``, in force, is owed on one sink four resolves more than its share
    holds, and the room holds two: the oldest are kept, two of the four past the
    share, and two left out; its resolves to its other sinks are not charged."""
    config = parse_config(CONFIG)
    (rule,) = config.alerts.rules
    settings = core_settings(config)
    share = alert_ceiling(rule, settings)
    resolve = _alert(Transition.RESOLVED, "")
    one = msgspec.structs.replace(rule, sinks=[SINKS[0]])
    retired = [
        (one, replace(resolve, rule="delays", domain=f"{i}.example", since=T + i, at=T + i))
        for i in range(share + 4)
    ]
    other = msgspec.structs.replace(rule, sinks=SINKS[1:])
    retired.append((other, replace(resolve, rule="delays", domain="x.example", since=T + 9e3)))
    kept, cut = kept_owed(retired[::-1], config.alerts.rules, 2, settings)
    assert cut == 2
    rows = {(alert.domain, sink) for owed, alert in kept for sink in owed.sinks}
    assert rows == {(f"{i}.example", SINKS[0]) for i in range(share + 2)} | {
        ("x.example", sink) for sink in SINKS[1:]
    }
