"""A step of the wall clock (measured by sesd.runtime.clock) and the DNS answers the
provider cache keeps: each holds until a time on this host's clock, its TTL after the
lookup. Left there, a step ahead past the TTLs expired every answer at once (every
domain mailed next wanted its lookup again, a burst the queue of lookups caps), and a
step back held each answer, and the slots the pipeline keeps of it, the step's length
past its TTL (a domain that moved its MX to another provider counted under the old one
that much longer). The step moves them with the clock. Pure code."""

from __future__ import annotations

from sesd.alerting.evaluator import Evaluator
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.providers.resolver import MAX_TTL
from sesd.runtime.state import restore, snapshot
from tests import factory as f

T = f.T0
TTL = 3600.0


def _looked_up(at: float, ttl: float = TTL) -> Pipeline:
    """corp.example mailed at ``at`` and answered then, for ``ttl`` (an hour: as the DNS
    task keeps an answer of the shortest TTL it clamps to); then mailed again, so the
    pipeline keeps its slots."""
    pipeline = Pipeline(core_settings(parse_config("")))
    cache = pipeline.ledger.providers
    assert cache is not None
    pipeline.feed(f.raw(f.delivery(["a@corp.example"], message_id="m1", at=at)), "q", at)
    assert cache.take() == "corp.example"
    cache.answered("corp.example", "microsoft", at + ttl, "resolved")
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


def test_a_restart_a_month_behind_the_save_holds_an_answer_no_longer_than_its_longest_ttl() -> None:
    """The state file was saved thirty days ahead of the restart (more than a day:
    nothing moves), a minute after an answer of the longest TTL, seven days: it holds
    seven days from the restart, as a lookup then would, not thirty-seven."""
    config = parse_config("")
    ahead = 30 * 86400.0
    pipeline = _looked_up(T + ahead - 60, MAX_TTL)
    blob = snapshot(pipeline.ledger, Evaluator(config.alerts, []), T + ahead)
    restarted = Pipeline(core_settings(config))
    restore(blob, restarted.ledger, Evaluator(config.alerts, []), T)
    assert not _wanted(restarted, T + MAX_TTL - 1, "m3")
    assert _wanted(restarted, T + MAX_TTL + 1, "m4")
