"""What an alert state takes in the state file, against what the bound on the file's
size (sesd.runtime.state_size) sets aside for it. A file past the bound is set aside
unread at start, every window and alert state with it: an alert that fires on every
label it may track, with the longest labels, each taken by some of its rule's sinks
and not the others at the stop, must fit in its share."""

from __future__ import annotations

from dataclasses import replace

import msgspec

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import AlertState, Status, Transition
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.state import snapshot
from sesd.runtime.state_size import alert_ceiling, state_limit
from tests.test_render import _alert

#: Three sinks of the longest name a sink may have.
SINKS = [f"{n}" + "s" * 63 for n in range(3)]
CONFIG = (
    '[alerts]\ngroup_wait = "0s"\n'
    + "".join(f'[alerts.sinks.{name}]\ntype = "console"\n' for name in SINKS)
    + '[[alerts.rules]]\nname = "delays"\nmetric = "delay_ratio"\nwindow = "5m"\n'
    + f"above = 0.2\nsinks = {SINKS!r}\n".replace("'", '"')
    + "[domains]\nmax_tracked = 10\n"
)
T = 1_700_000_000.0


def _longest(i: int) -> str:
    """A domain of 253 characters, the longest a label may be, told apart by ``i``."""
    return (f"{i:05d}" + "a" * 58 + ("." + "b" * 63) * 3)[:253]


def test_an_alert_firing_owed_to_some_sinks_fits_in_its_share_of_the_bound() -> None:
    config = parse_config(CONFIG)
    ledger = Pipeline(core_settings(config)).ledger
    evaluator = Evaluator(config.alerts, [spec.name for spec in ledger.specs])
    (rule,) = config.alerts.rules
    labels = [_longest(i) for i in range(alert_ceiling(rule, ledger.settings))]
    assert {len(label) for label in labels} == {253}
    empty = len(snapshot(ledger, evaluator, T))
    evaluator.states["delays"] = {
        label: AlertState(Status.FIRING, T - 1.5, T - 1.5, 0.123456789, None, True)
        for label in labels
    }
    # The first sink took each firing; the others had not when sesd stopped.
    owed = {("delays", label): SINKS[1:] for label in labels}
    full = len(snapshot(ledger, evaluator, T, firing_owed=owed))
    share = state_limit(ledger, [rule], ()) - state_limit(ledger, [], ())
    assert full - empty <= share


def test_resolves_owed_to_each_sink_fit_in_the_rule_s_share_of_the_bound() -> None:
    """Beside each alert firing (taken by one sink, owed to the others), the rule owes
    each of its sinks a resolve on as many other labels (kept apart, key ``retired``,
    each under the rule narrowed to the sink owed it: a sink that took one resolve of
    an alert and not a later one owes only that): the file at the rule's caps. Past
    the bound, it would be set aside unread at the restart, every resolve owed left
    open with the windows."""
    config = parse_config(CONFIG)
    ledger = Pipeline(core_settings(config)).ledger
    evaluator = Evaluator(config.alerts, [spec.name for spec in ledger.specs])
    (rule,) = config.alerts.rules
    ceiling = alert_ceiling(rule, ledger.settings)
    labels = [_longest(i) for i in range(ceiling)]
    ended = [_longest(i) for i in range(ceiling, 2 * ceiling)]
    empty = len(snapshot(ledger, evaluator, T))
    evaluator.states["delays"] = {
        label: AlertState(Status.FIRING, T - 1.5, T - 1.5, 0.123456789, None, True)
        for label in labels
    }
    owed = {("delays", label): SINKS[1:] for label in labels}
    resolve = _alert(Transition.RESOLVED, "")
    retired = [
        (
            msgspec.structs.replace(rule, sinks=[sink]),
            replace(resolve, rule="delays", domain=label, notes=("the rule was removed",)),
        )
        for sink in SINKS
        for label in ended
    ]
    full = len(snapshot(ledger, evaluator, T, firing_owed=owed, retired=retired))
    share = state_limit(ledger, [rule], ()) - state_limit(ledger, [], ())
    assert full - empty <= share
