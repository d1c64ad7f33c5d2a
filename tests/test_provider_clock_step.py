"""A step of the wall clock (measured by sesd.runtime.clock) and the DNS answers the
provider cache keeps: each holds until a time on this host's clock, its TTL after the
lookup. Left there, a step ahead past the TTLs expired every answer at once (every
domain mailed next wanted its lookup again, a burst the queue of lookups caps), and a
step back held each answer, and the slots the pipeline keeps of it, the step's length
past its TTL (a domain that moved its MX to another provider counted under the old one
that much longer). The step moves them with the clock. Pure code."""

from __future__ import annotations

import pytest

from sesd.alerting.evaluator import Evaluator
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.providers import UNKNOWN
from sesd.providers.resolver import MAX_TTL, RETRY_AFTER
from sesd.runtime.state import restore, snapshot
from tests import factory as f

T = f.T0
TTL = 3600.0


def _looked_up(at: float, ttl: float = TTL, outcome: str = "resolved") -> Pipeline:
    """corp.example mailed at ``at`` and answered then, for ``ttl`` (an hour: as the DNS
    task keeps an answer of the shortest TTL it clamps to; a lookup that failed, until
    its next try); then mailed again, so the pipeline keeps its slots."""
    pipeline = Pipeline(core_settings(parse_config("")))
    cache = pipeline.ledger.providers
    assert cache is not None
    pipeline.feed(f.raw(f.delivery(["a@corp.example"], message_id="m1", at=at)), "q", at)
    assert cache.take() == "corp.example"
    provider = "microsoft" if outcome == "resolved" else UNKNOWN
    cache.answered("corp.example", provider, at + ttl, outcome)
    pipeline.feed(f.raw(f.delivery(["b@corp.example"], message_id="m2", at=at)), "q", at)
    assert not cache.wanted
    return pipeline


def _wanted(pipeline: Pipeline, at: float, message: str) -> bool:
    """Whether a delivery to corp.example at ``at`` wants its lookup again."""
    cache = pipeline.ledger.providers
    assert cache is not None
    pipeline.feed(f.raw(f.delivery(["c@corp.example"], message_id=message, at=at)), "q", at)
    return "corp.example" in cache.wanted


def test_a_step_ahead_past_the_ttl_wants_no_lookup_of_a_fresh_answer() -> None:
    """Answered a minute before the clock steps two hours ahead: a recipient a minute
    after the step finds the answer holding (no lookup), as it does an hour after the
    lookup by the new clock less a second; a second past the hour it is looked up."""
    pipeline = _looked_up(T - 60)
    pipeline.ledger.stepped(7200.0, T + 7200)
    assert not _wanted(pipeline, T + 7260, "m3")
    assert not _wanted(pipeline, T + 7200 + TTL - 61, "m4")
    assert _wanted(pipeline, T + 7200 + TTL - 59, "m5")


def test_a_step_back_holds_an_answer_no_longer_than_its_ttl() -> None:
    """Answered on a clock an hour ahead, a minute before it steps back: an hour and a
    second after the lookup, by the new clock, the next recipient wants the lookup
    again (neither the cache's answer nor the slots kept of it hold an hour more)."""
    pipeline = _looked_up(T + 3600 - 60)
    pipeline.ledger.stepped(-3600.0, T)
    assert not _wanted(pipeline, T + TTL - 61, "m3")
    assert _wanted(pipeline, T + TTL - 59, "m4")


def test_a_restart_an_hour_behind_the_save_holds_an_answer_no_longer_than_its_ttl() -> None:
    """The clock steps back an hour while sesd is stopped (the state file saved an hour
    ahead of the restart, a minute after the lookup): an hour and a second after the
    lookup, by the new clock, the next recipient wants the lookup again, as after a
    step sesd measures."""
    config = parse_config("")
    pipeline = _looked_up(T + 3600 - 60)
    blob = snapshot(pipeline.ledger, Evaluator(config.alerts, []), T + 3600)
    restarted = Pipeline(core_settings(config))
    restore(blob, restarted.ledger, Evaluator(config.alerts, []), T)
    assert not _wanted(restarted, T + TTL - 61, "m3")
    assert _wanted(restarted, T + TTL - 59, "m4")


@pytest.mark.parametrize(
    ("ttl", "outcome"), [(MAX_TTL, "resolved"), (RETRY_AFTER, "failed")], ids=["7 d", "failed"]
)
@pytest.mark.parametrize("ahead", [2 * 86400.0, 30 * 86400.0], ids=["two days", "a month"])
def test_a_restart_days_behind_the_save_holds_an_answer_what_was_left_of_it(
    ahead: float, ttl: float, outcome: str
) -> None:
    """The state file was saved days ahead of the restart (more than a day: no alert
    time moves, a damaged save time is as likely), a minute after an answer of the
    longest TTL, seven days, or a lookup that failed, tried again 5 minutes after it:
    each holds from the restart what was left of it at the save (a damaged save time
    ahead leaves less, and costs a lookup), not until the time on the clock ahead (the
    failed lookup not tried again for days, the domain counted under no provider), nor
    seven days from the restart."""
    config = parse_config("")
    pipeline = _looked_up(T + ahead - 60, ttl, outcome)
    blob = snapshot(pipeline.ledger, Evaluator(config.alerts, []), T + ahead)
    restarted = Pipeline(core_settings(config))
    restore(blob, restarted.ledger, Evaluator(config.alerts, []), T)
    assert not _wanted(restarted, T + ttl - 61, "m3")
    assert _wanted(restarted, T + ttl - 59, "m4")


def test_an_answer_held_to_a_time_takes_the_slots_kept_of_it_along() -> None:
    """An answer of an hour is held to a hundred seconds after its lookup (as a state
    file's answers are held to the longest a lookup holds one): a second past that the
    next recipient wants the lookup again, the slots the pipeline kept of the answer
    going with it, not holding the hour."""
    pipeline = _looked_up(T)
    cache = pipeline.ledger.providers
    assert cache is not None
    cache.held_to(T + 100)
    assert cache.cache["corp.example"] == ("microsoft", T + 100)
    assert not _wanted(pipeline, T + 99, "m3")
    assert _wanted(pipeline, T + 101, "m4")
