"""An alert state's times in the state file are sent as they are when its rule is gone
by the restart: the resolve owed starts when the state says. A time no clock tells (a
flipped byte in a float, a hand's edit) could not be written in a sink's document: it
is read as the restart's. One ahead of the restart's clock (a file saved before the
clock stepped back) would have the alert start after its resolve."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from sesd.alerting.documents import alertmanager_documents, webhook_document
from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import Transition
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.state import restore, snapshot
from tests import factory as f
from tests.test_state_removed import RULE

#: The config of the restart: rule ``r`` removed since the save.
WITHOUT = RULE.replace('name = "r"', 'name = "s"')


def _saved() -> dict[str, Any]:
    """A file in which rule ``r``'s alert on hotmail.com fired at T0 and was sent."""
    config = parse_config(RULE)
    pipeline = Pipeline(core_settings(config))
    pipeline.feed(f.raw(f.bounce(["a@hotmail.com", "b@hotmail.com"])), "q", f.T0)
    evaluator = Evaluator(config.alerts, ["5m"])
    evaluator.evaluate(pipeline.ledger, f.T0)
    assert [n.kind for n in evaluator.due(f.T0)] == [Transition.FIRING]
    data: dict[str, Any] = msgspec.msgpack.decode(snapshot(pipeline.ledger, evaluator, f.T0 + 1))
    return data


@pytest.mark.parametrize("item", [1, 2, 4])  # since, last sent, resolved at
@pytest.mark.parametrize(
    "at", [1e20, 253402300800.0, float("inf"), float("nan"), -1e12, -1.0]
)  # past year 9999, not a number, before 1970
def test_an_alert_state_at_a_time_no_clock_tells_resolves_from_the_restart(
    item: int, at: float
) -> None:
    """Rule ``r``'s firing alert saved with a time past year 9999, not a number, or
    before 1970; ``r`` is removed by the restart. The time is read as the restart's
    (the rest of the file is sound), and the resolve owed is written in every sink's
    document from then: read as saved, building it raised."""
    data = _saved()
    data["alerts"]["r"]["hotmail.com"][item] = at
    without = parse_config(WITHOUT)
    after = Evaluator(without.alerts, ["5m"])
    fresh = Pipeline(core_settings(without))
    restored = restore(msgspec.msgpack.encode(data), fresh.ledger, after, f.T0 + 2)
    assert restored["owed"] == ["resolved r hotmail.com"]
    (notification,) = after.due(f.T0 + 2)
    ((alert),) = notification.alerts
    assert f.T0 <= alert.since <= alert.at == f.T0 + 2
    ((document),) = alertmanager_documents(notification, 60.0)
    assert document["endsAt"] == "2027-01-15T08:00:02Z"
    assert document["startsAt"] <= document["endsAt"]
    ((sent),) = msgspec.json.decode(webhook_document(notification))["alerts"]
    assert sent["at"] == "2027-01-15T08:00:02Z"


def test_a_resolve_owed_of_an_alert_saved_ahead_of_the_clock_starts_no_later_than_it_ends() -> None:
    """The file was saved a day ahead of the restart's clock (the clock stepped back
    since), its alert firing from then; the restart has no rule ``r``, and owes the
    resolve. It starts no later than it ends, in Alertmanager's document and the
    webhook's, and the text says it fired for no time, since its end: not since a day
    after its end."""
    data = _saved()
    ahead = f.T0 + 86400
    data["saved_at"] = ahead
    data["alerts"]["r"]["hotmail.com"][1:3] = [ahead, ahead]
    without = parse_config(WITHOUT)
    after = Evaluator(without.alerts, ["5m"])
    fresh = Pipeline(core_settings(without))
    restored = restore(msgspec.msgpack.encode(data), fresh.ledger, after, f.T0 + 2)
    assert restored["owed"] == ["resolved r hotmail.com"]
    (notification,) = after.due(f.T0 + 2)
    ((alert),) = notification.alerts
    assert alert.since == alert.at == f.T0 + 2
    ((document),) = alertmanager_documents(notification, 60.0)
    assert document["startsAt"] == document["endsAt"] == "2027-01-15T08:00:02Z"
    ((sent),) = msgspec.json.decode(webhook_document(notification))["alerts"]
    assert sent["since"] == sent["at"] == "2027-01-15T08:00:02Z"
