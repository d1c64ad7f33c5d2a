"""A delivery to one recipient whose domain's slots are kept (nine events in ten) takes
a path of its own through the pipeline: a poll moving a sender's mail is followed
there as on every other path. Were it the first event after the poll, the place left
kept its estimate, series and alert (until a restart), and the senders idle since
were no longer known, so that a later move forgot the places they still count at."""

from __future__ import annotations

from typing import Any

from sesd.alerting.evaluator import Evaluator
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from tests import factory as f
from tests.test_sender_moves import (
    _QUEUES,
    _RULE,
    ACCOUNT,
    AP,
    EU,
    NOW,
    OTHER,
    _entry,
    _poll,
    _send,
    _sends,
)


def _identity(event: dict[str, Any]) -> str:
    """``event`` as ACCOUNT's identity 1 in ap-southeast-2 sent it, on that queue."""
    event["mail"]["sourceArn"] = f"arn:aws:ses:{AP}:{ACCOUNT}:identity/i1.example"
    event["mail"]["sendingAccountId"] = ACCOUNT
    return f.raw(event)


def _keep(pipeline: Pipeline) -> None:
    """An open at gmail.com (no estimate reads it): the domain's slots are kept from
    here (its provider known by its name, with no answer to wait for)."""
    assert pipeline.feed(_identity(f.simple("Open", ["r1@gmail.com"])), "ap", NOW)
    assert "gmail.com" in pipeline._kept


def _delivery(pipeline: Pipeline) -> None:
    """A delivery of ACCOUNT's identity 1 in ap-southeast-2 to one recipient at
    gmail.com, whose slots are kept: the path under test."""
    assert "gmail.com" in pipeline._kept
    event = f.delivery(["r1@gmail.com"])
    assert pipeline.feed(_identity(event), "ap", NOW).outcome == "processed"


def test_a_delivery_first_after_a_poll_forgets_the_place_its_sender_left() -> None:
    """As test_sender_moves' first, the event after the poll a delivery to a domain
    already counted (its slots kept): ``eu``'s estimate in ap-southeast-2 goes."""
    pipeline = Pipeline(core_settings(parse_config(_QUEUES + _entry("eu"))))
    _send(pipeline, AP, ACCOUNT, 1)
    _send(pipeline, AP, OTHER, 2)
    _send(pipeline, EU, ACCOUNT, 3)
    _keep(pipeline)
    _poll(pipeline, ACCOUNT)
    _delivery(pipeline)
    assert _sends(pipeline) == {("default", AP, ""): 1, ("eu", EU, ""): 1}
    assert pipeline.ledger.reputation.estimate(("eu", AP, "")) is None


def test_an_alert_on_a_place_left_resolves_after_a_delivery() -> None:
    """A bounce alert on ``eu/ap-southeast-2``; the poll moves its only sender, whose
    next event is a delivery: the alert resolves, rather than repeat until a restart."""
    config = parse_config(_RULE + _QUEUES + _entry("eu"))
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, [s.name for s in pipeline.ledger.specs])
    _send(pipeline, AP, ACCOUNT, 1)
    _send(pipeline, AP, ACCOUNT, 1, "bounce")
    (fired,) = evaluator.evaluate(pipeline.ledger, NOW)
    assert (fired.kind.value, fired.domain) == ("firing", f"eu/{AP}")
    _keep(pipeline)
    _poll(pipeline, ACCOUNT)
    _delivery(pipeline)
    (resolved,) = evaluator.evaluate(pipeline.ledger, NOW + 60)
    assert (resolved.kind.value, resolved.domain) == ("resolved", f"eu/{AP}")


def test_an_idle_sender_is_still_known_after_a_delivery_follows_a_poll() -> None:
    """OTHER's identity counts under ``default`` in eu-west-1 and is idle since. A
    poll naming OTHER in ap-southeast-2 (no move for anyone), a delivery first after
    it, then a poll naming ACCOUNT there: OTHER's place stays, as it still counts
    there."""
    pipeline = Pipeline(core_settings(parse_config(_QUEUES + _entry("eu"))))
    _send(pipeline, EU, OTHER, 2)
    _send(pipeline, AP, ACCOUNT, 1)
    _keep(pipeline)
    _poll(pipeline, OTHER)
    _delivery(pipeline)
    _poll(pipeline, ACCOUNT)
    _send(pipeline, AP, ACCOUNT, 1)
    assert _sends(pipeline) == {("default", EU, ""): 1, ("default", AP, ""): 1}


def test_a_poll_between_two_deliveries_forgets_the_place_their_sender_left() -> None:
    """Deliveries alone on the path, before and after the poll (the events before and
    after it of one busy sender): the first counts under ``eu`` in ap-southeast-2, the
    second where the poll places its sender, and ``eu``'s estimate there goes with the
    place left, as when the poll follows an event of another path."""
    pipeline = Pipeline(core_settings(parse_config(_QUEUES + _entry("eu"))))
    _send(pipeline, AP, ACCOUNT, 1)
    _send(pipeline, AP, OTHER, 2)
    _keep(pipeline)
    _delivery(pipeline)
    assert _sends(pipeline) == {("eu", AP, ""): 1, ("default", AP, ""): 1}
    _poll(pipeline, ACCOUNT)
    _delivery(pipeline)
    assert _sends(pipeline) == {("default", AP, ""): 1}
    assert pipeline.ledger.reputation.estimate(("eu", AP, "")) is None


def test_senders_are_placed_again_once_a_poll_not_at_each_delivery_after_it() -> None:
    """The delivery first after the poll places each sender known again (the two
    here, and its own as its windows are found anew); those after it find their
    sender's windows, asking no place. Placing every
    known sender again at each delivery from the first poll on would give the same
    estimates, at the cost of up to MAX_ESTIMATED placements an event for the run."""
    pipeline = Pipeline(core_settings(parse_config(_QUEUES + _entry("eu"))))
    _send(pipeline, AP, ACCOUNT, 1)
    _send(pipeline, AP, OTHER, 2)
    _keep(pipeline)
    _delivery(pipeline)
    asked: list[tuple[str, str, str]] = []
    estimates = pipeline._estimates
    place = estimates._place

    def counted(queue: str, source_arn: str, account_id: str) -> tuple[str, str]:
        asked.append((queue, source_arn, account_id))
        return place(queue, source_arn, account_id)

    estimates._place = counted
    _poll(pipeline, ACCOUNT)
    _delivery(pipeline)
    assert {key[2] for key in asked} == {ACCOUNT, OTHER}
    placed = len(asked)
    _delivery(pipeline)
    _delivery(pipeline)
    assert len(asked) == placed
    assert _sends(pipeline) == {("default", AP, ""): 1}


def test_a_second_housekeeping_round_after_a_poll_places_no_sender_again() -> None:
    """The poll moves ACCOUNT's sender, no event follows, and the janitor's round
    places the senders again; its next round, no event nor poll between, asks no
    place: the same estimates, but every known sender placed at each round (up to
    MAX_ESTIMATED of them a round) until the next event."""
    pipeline = Pipeline(core_settings(parse_config(_QUEUES + _entry("eu"))))
    _send(pipeline, AP, ACCOUNT, 1)
    _send(pipeline, AP, OTHER, 2)
    asked: list[tuple[str, str, str]] = []
    estimates = pipeline._estimates
    place = estimates._place

    def counted(queue: str, source_arn: str, account_id: str) -> tuple[str, str]:
        asked.append((queue, source_arn, account_id))
        return place(queue, source_arn, account_id)

    estimates._place = counted
    _poll(pipeline, ACCOUNT)
    pipeline.housekeep(NOW + 10)
    assert {key[2] for key in asked} == {ACCOUNT, OTHER}
    after, placed = _sends(pipeline), len(asked)
    pipeline.housekeep(NOW + 20)
    assert (len(asked), _sends(pipeline)) == (placed, after)
