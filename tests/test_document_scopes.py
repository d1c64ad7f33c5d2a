"""What an alert is about, as machines read it: the webhook names it in the field of
its kind (the others null) and Alertmanager in its labels (an account rule's as
``account`` and ``region``), and `sesd send-test-alert`'s alert carries the label a
receiver's route or silence tells a test by. Pure: the documents as sesd builds them."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from sesd.alerting.alert import Notification
from sesd.alerting.documents import alertmanager_documents, webhook_document
from sesd.alerting.rules import Transition
from sesd.core.scopes import ACCOUNT, DOMAIN, PROVIDER, TENANT
from tests.test_render import T, _alert

pytestmark = pytest.mark.timeout(30)


def _notification(scope: str, subject: str, *, test: bool = False) -> Notification:
    alert = replace(_alert(Transition.FIRING, subject), scope=scope, labels={}, test=test)
    return Notification(
        rule="delay-ratio-high", kind=Transition.FIRING, severity="critical",
        sinks=("hook",), alerts=(alert,), at=T,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("scope", "subject", "labels"),
    [
        (DOMAIN, "a.example", {"domain": "a.example"}),
        (PROVIDER, "microsoft", {"provider": "microsoft"}),
        (ACCOUNT, "ops/eu-west-1", {"account": "ops", "region": "eu-west-1"}),
        (TENANT, "acme", {"tenant": "acme"}),
    ],
)
def test_each_kind_of_alert_is_named_in_its_own_field(
    scope: str, subject: str, labels: dict[str, str]
) -> None:
    """A receiver routes on a field: each kind of alert names its subject there, and
    leaves the other kinds' fields null; Alertmanager gets it as labels."""
    (hook,) = json.loads(webhook_document(_notification(scope, subject)))["alerts"]
    named = {kind: hook[kind] for kind in (DOMAIN, PROVIDER, ACCOUNT, TENANT)}
    assert named == {kind: subject if kind == scope else None for kind in named}
    (document,) = alertmanager_documents(_notification(scope, subject), 60)
    assert document["labels"] == {"alertname": "delay-ratio-high", **labels, "severity": "critical"}


@pytest.mark.parametrize("test", [True, False])
def test_a_test_alert_carries_a_label_alertmanager_routes_on(test: bool) -> None:
    """`sesd send-test-alert`'s alert is labelled ``test="true"`` in Alertmanager, so a
    route or a silence can keep it from paging; a real alert carries no such label."""
    (document,) = alertmanager_documents(_notification(DOMAIN, "a.example", test=test), 60)
    assert document["labels"].get("test") == ("true" if test else None)
