"""A step of the wall clock (measured by sesd.runtime.clock) and the idle domains. When
each domain label, tag value and tenant label was last seen is read on this host's
clock: left there, a step ahead of more than ``idle_evict`` (a clock behind set right)
made every one look idle, and the next housekeeping evicted them all with their windows
(the last hour's counts, the alerts on them resolved); a step back held an idle one
the step's length longer. The step moves those times with the clock. Pure code."""

from __future__ import annotations

import pytest

from sesd.alerting.evaluator import Evaluator
from sesd.config import core_settings, parse_config
from sesd.core.housekeeping import evict_idle
from sesd.core.ledger import Ledger
from sesd.runtime.state import restore, snapshot
from tests import factory as f

CONFIG = '[domains]\nidle_evict = "1h"\n[dimensions]\ntags = ["campaign"]\n'
T = f.T0


def _seen(ledger: Ledger, at: float) -> None:
    ledger.domains.label("busy.example", at)
    ledger.tag_tables["campaign"].label("spring", at)
    ledger.tenant_labels.label("acme", at)


def _kept(ledger: Ledger) -> tuple[bool, bool, bool]:
    return (
        ledger.domains.holds("busy.example"),
        ledger.tag_tables["campaign"].holds("spring"),
        ledger.tenant_labels.holds("acme"),
    )


def test_a_step_ahead_past_idle_evict_evicts_no_domain_seen_just_before() -> None:
    """busy.example, a campaign and a tenant seen a minute before the clock steps
    ninety minutes ahead (idle_evict 1h): housekeeping a minute after the step keeps
    them; they go an hour after they were last seen, by the new clock."""
    ledger = Ledger(core_settings(parse_config(CONFIG)))
    _seen(ledger, T - 60)
    ledger.stepped(5400.0, T + 5400)
    assert evict_idle(ledger, T + 5400 + 60) == ([], [])
    assert _kept(ledger) == (True, True, True)
    evict_idle(ledger, T + 5400 + 3600)
    assert _kept(ledger) == (False, False, False)


def test_a_step_back_holds_an_idle_domain_no_longer() -> None:
    """Seen on a clock an hour ahead, a minute before it steps back: an hour and a
    minute later by the new clock the three are idle past idle_evict, and go."""
    ledger = Ledger(core_settings(parse_config(CONFIG)))
    _seen(ledger, T + 3600 - 60)
    ledger.stepped(-3600.0, T)
    evict_idle(ledger, T + 3600 + 1)
    assert _kept(ledger) == (False, False, False)


@pytest.mark.parametrize("ahead", [3600.0, 2 * 86400.0], ids=["an hour", "two days"])
def test_a_restart_behind_the_save_holds_an_idle_domain_no_longer(ahead: float) -> None:
    """The clock steps back an hour while sesd is stopped (the state file saved an hour
    ahead of the restart: its alert times move back as far). When the three were last
    seen, a minute before the save, moves back too: an hour and a minute after, by the
    new clock, they are idle past idle_evict and go, as after a step sesd measures.
    Saved two days ahead (more than a day: nothing moves), a time ahead of the clock
    is the restart's: an hour and a second after it they go, not two days later."""
    config = parse_config(CONFIG + "[tenants]\nenabled = true\n")
    ledger = Ledger(core_settings(config))
    _seen(ledger, T + ahead - 60)
    blob = snapshot(ledger, Evaluator(config.alerts, []), T + ahead)
    fresh = Ledger(core_settings(config))
    restore(blob, fresh, Evaluator(config.alerts, []), T)
    assert _kept(fresh) == (True, True, True)
    evict_idle(fresh, T + 3600 + 1)
    assert _kept(fresh) == (False, False, False)
