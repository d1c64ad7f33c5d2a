"""When a poll or a reload moves a sender's mail to another (account, region), the
place it counted at before keeps no estimate, series or alert once no sender's mail
counts there any more; a place another sender still counts at keeps its figures; the
place the sender moves to carries on with what it holds (its next send starts it when
it held none). Without every sender known (past the cap on those kept), no place is
forgotten: one counted at by a sender not kept may still be."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sesd.alerting.evaluator import Evaluator
from sesd.config import core_settings, parse_config
from sesd.core import ledger as ledger_module
from sesd.core.ledger import _MAX_SENDERS
from sesd.core.pipeline import Pipeline
from sesd.core.reputation import MAX_CONFIG_SETS, Estimate, Reputation
from sesd.core.tenant_reach import named_now, sender_label
from sesd.metrics.exposition import render
from sesd.metrics.registry import Metrics
from tests import factory as f

ACCOUNT, OTHER = "123456789012", "210987654321"
EU, AP = "eu-west-1", "ap-southeast-2"
NOW = f.T0
_QUEUES = (
    f'[[queues]]\nurl = "https://sqs.{EU}.amazonaws.com/{ACCOUNT}/eu"\n'
    f'[[queues]]\nurl = "https://sqs.{AP}.amazonaws.com/{ACCOUNT}/ap"\n'
)
_TENANTS = "[tenants]\nenabled = true\n"
_RULE = (
    '[[alerts.rules]]\nname = "bounces"\nmetric = "reputation_bounce_ratio"\nwindow = "1h"\n'
    "above = 0.04\nmin_events = 1\n"
)


def _entry(name: str) -> str:
    """An entry watching eu-west-1 whose role reaches ACCOUNT: ACCOUNT's mail in
    ap-southeast-2 (which the default credentials alone watch) counts under it until
    the default credentials' poll there names ACCOUNT."""
    return (
        f'[[accounts]]\nname = "{name}"\nrole_arn = "arn:aws:iam::{ACCOUNT}:role/{name}"\n'
        f'region = "{EU}"\n'
    )


def _send(pipeline: Pipeline, region: str, account: str, i: int, kind: str = "Send") -> None:
    """A message of identity ``i`` of ``account`` in ``region``, on that region's queue."""
    recipients = [f"r{i}@x.example"]
    event = f.bounce(recipients) if kind == "bounce" else f.simple(kind, recipients)
    event["mail"]["sourceArn"] = f"arn:aws:ses:{region}:{account}:identity/i{i}.example"
    event["mail"]["sendingAccountId"] = account
    queue = "ap" if region == AP else "eu"
    assert pipeline.feed(f.raw(event), queue, NOW).outcome == "processed"


def _poll(pipeline: Pipeline, account_id: str) -> None:
    """The default credentials' poll in ap-southeast-2 names ``account_id``."""
    ledger = pipeline.ledger
    roles = (ledger.tenant_status.roles, ledger.tenant_status.watched)
    named_now(ledger.accounts, ledger.tenant_map, ("default", AP), account_id, roles)


def _sends(pipeline: Pipeline) -> dict[tuple[str, str, str], float]:
    """The sesd_ses_reputation_sends series Prometheus reads of each (account, region)
    as a whole; those of its configuration set (every event here names one) go with
    them."""
    text = render(Metrics(pipeline.ledger, ["eu", "ap"], lambda: NOW).registry.collect())
    series = {
        (s.labels["account"], s.labels["region"], s.labels["configuration_set"]): s.value
        for family in text_string_to_metric_families(text.decode())
        if family.name == "sesd_ses_reputation_sends"
        for s in family.samples
    }
    whole = {key: n for key, n in series.items() if not key[2]}
    assert {(*key[:2], ""): n for key, n in series.items() if key[2]} == whole
    return whole


def test_a_poll_moving_a_sender_forgets_the_place_it_left() -> None:
    """ACCOUNT's identity counts under ``eu`` in ap-southeast-2; another account's
    under ``default`` there (the queue's). The default credentials' poll names ACCOUNT:
    its next send counts under ``default``, which carries on (2 sends: AWS reviews the
    account's mail there as one), and ``eu``'s estimate there and its series go. eu-west-1's,
    which the poll does not move, stays."""
    pipeline = Pipeline(core_settings(parse_config(_QUEUES + _entry("eu"))))
    _send(pipeline, AP, ACCOUNT, 1)
    _send(pipeline, AP, OTHER, 2)
    _send(pipeline, EU, ACCOUNT, 3)
    assert _sends(pipeline) == {("eu", AP, ""): 1, ("default", AP, ""): 1, ("eu", EU, ""): 1}
    _poll(pipeline, ACCOUNT)
    _send(pipeline, AP, ACCOUNT, 1)
    assert _sends(pipeline) == {("default", AP, ""): 2, ("eu", EU, ""): 1}
    assert pipeline.ledger.reputation.estimate(("eu", AP, "")) is None


def test_a_place_another_sender_still_counts_at_is_kept() -> None:
    """Two identities of ACCOUNT under ``eu`` in ap-southeast-2, each sent once; a poll
    naming OTHER there moves neither (``eu`` keeps both sends), and one naming ACCOUNT
    moves both: the place goes only once none counts there."""
    pipeline = Pipeline(core_settings(parse_config(_QUEUES + _entry("eu"))))
    _send(pipeline, AP, ACCOUNT, 1)
    _send(pipeline, AP, ACCOUNT, 2)
    _poll(pipeline, OTHER)
    _send(pipeline, AP, ACCOUNT, 1, "Open")  # (read by no estimate: the check runs)
    assert _sends(pipeline) == {("eu", AP, ""): 2}
    _poll(pipeline, ACCOUNT)
    _send(pipeline, AP, ACCOUNT, 2, "Open")
    assert _sends(pipeline) == {}


def test_a_reload_moving_a_sender_forgets_the_place_it_left_but_an_idle_senders() -> None:
    """A reload renames the entry: ACCOUNT's mail in eu-west-1 counts under ``prod``
    from now on, and ``eu``'s estimate there goes at the reload. Another account's
    identity, idle since, still counts under ``default`` in ap-southeast-2: a later poll
    that moves ACCOUNT's mail there leaves that place alone, and forgets ``prod``'s in
    ap-southeast-2 only."""
    pipeline = Pipeline(core_settings(parse_config(_QUEUES + _entry("eu"))))
    _send(pipeline, EU, ACCOUNT, 1)
    _send(pipeline, AP, OTHER, 2)
    pipeline.reconfigure(core_settings(parse_config(_QUEUES + _entry("prod"))))
    assert _sends(pipeline) == {("default", AP, ""): 1}
    _send(pipeline, EU, ACCOUNT, 1)
    _send(pipeline, AP, ACCOUNT, 3)
    assert _sends(pipeline) == {("default", AP, ""): 1, ("prod", EU, ""): 1, ("prod", AP, ""): 1}
    _poll(pipeline, ACCOUNT)
    _send(pipeline, AP, ACCOUNT, 3, "Open")
    assert _sends(pipeline) == {("default", AP, ""): 1, ("prod", EU, ""): 1}


def _bounce_alert_on_eu() -> tuple[Pipeline, Evaluator]:
    """A pipeline whose one sender counts under ``eu/ap-southeast-2``, where a bounce
    alert has fired, and the evaluator that fired it."""
    config = parse_config(_RULE + _QUEUES + _entry("eu"))
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, [s.name for s in pipeline.ledger.specs])
    _send(pipeline, AP, ACCOUNT, 1)
    _send(pipeline, AP, ACCOUNT, 1, "bounce")
    (fired,) = evaluator.evaluate(pipeline.ledger, NOW)
    assert (fired.kind.value, fired.domain) == ("firing", f"eu/{AP}")
    return pipeline, evaluator


def test_an_alert_on_a_place_left_resolves() -> None:
    """A bounce alert fires on ``eu/ap-southeast-2``; the poll moves its only sender:
    the alert resolves at the next evaluation, rather than repeat until a restart."""
    pipeline, evaluator = _bounce_alert_on_eu()
    _poll(pipeline, ACCOUNT)
    _send(pipeline, AP, ACCOUNT, 1)
    (resolved,) = evaluator.evaluate(pipeline.ledger, NOW + 60)
    assert (resolved.kind.value, resolved.domain) == ("resolved", f"eu/{AP}")


def test_a_place_left_goes_at_housekeeping_with_no_event_after_the_poll() -> None:
    """The poll moves the only sender of ``eu/ap-southeast-2``, where a bounce alert
    fires, and no event comes after it (a quiet night's queues): the janitor's round
    places the senders again, and the alert resolves and the series go, rather than
    repeat for mail no longer sent there until the next event."""
    pipeline, evaluator = _bounce_alert_on_eu()
    _poll(pipeline, ACCOUNT)
    pipeline.housekeep(NOW + 10)
    assert _sends(pipeline) == {}
    (resolved,) = evaluator.evaluate(pipeline.ledger, NOW + 60)
    assert (resolved.kind.value, resolved.domain) == ("resolved", f"eu/{AP}")
    _send(pipeline, AP, ACCOUNT, 1)  # (and its next send counts where it moved)
    assert _sends(pipeline) == {("default", AP, ""): 1}


def test_an_empty_listing_moves_no_sender() -> None:
    """The default credentials' listing in ap-southeast-2 named ACCOUNT: its mail there
    counts under ``default``. Its last tenant deleted, the next listing is empty, which
    says nothing of which account the credentials reach (ACCOUNT stays ``default``'s,
    as its tenants' events do): its mail there still counts under ``default``, rather
    than move to ``eu`` (its estimate forgotten, an alert on it resolved) and back at
    the next tenant made; after a restart too (with ``[tenants]`` on, as listings are)."""
    pipeline = Pipeline(core_settings(parse_config(_QUEUES + _TENANTS + _entry("eu"))))
    ledger = pipeline.ledger
    roles = (ledger.tenant_status.roles, ledger.tenant_status.watched)
    statuses = ledger.tenant_status
    named_now(ledger.accounts, ledger.tenant_map, ("default", AP), ACCOUNT, roles, statuses)
    statuses.named(ACCOUNT, "default")  # (its tenants' page, as the poller reads it)
    _send(pipeline, AP, ACCOUNT, 1)
    named_now(ledger.accounts, ledger.tenant_map, ("default", AP), None, roles, statuses)
    _send(pipeline, AP, ACCOUNT, 1)
    assert _sends(pipeline) == {("default", AP, ""): 2}
    # And after a restart, its state file read (the estimate starts afresh).
    saved = msgspec.msgpack.decode(msgspec.msgpack.encode(ledger.snapshot(NOW)))
    pipeline = Pipeline(core_settings(parse_config(_QUEUES + _TENANTS + _entry("eu"))))
    pipeline.ledger.restore(saved, NOW)
    _send(pipeline, AP, ACCOUNT, 1)
    assert _sends(pipeline) == {("default", AP, ""): 1}


def test_past_the_cap_on_senders_kept_no_place_is_forgotten() -> None:
    """Every sender kept fills the cap, and one more counts under ``eu`` in
    ap-southeast-2: sesd cannot ask where a sender it did not keep counts now, and
    forgetting a place one still counts at would resolve its alert while its mail still
    bounces. The places stay, as they were before a move was followed."""
    pipeline = Pipeline(core_settings(parse_config(_QUEUES + _entry("eu"))))
    _send(pipeline, AP, ACCOUNT, 0)
    for i in range(1, _MAX_SENDERS):
        _send(pipeline, EU, OTHER, i)
    _send(pipeline, AP, ACCOUNT, _MAX_SENDERS)  # not kept
    assert len(pipeline.ledger.senders) == _MAX_SENDERS
    _poll(pipeline, ACCOUNT)
    _send(pipeline, AP, ACCOUNT, 0, "Open")
    assert _sends(pipeline)[("eu", AP, "")] == 2


def test_forgetting_a_place_drops_its_configuration_sets_and_frees_their_bound() -> None:
    """``forget`` drops a place's estimate and its configuration sets', leaves another
    place's alone, and gives the sets' room under MAX_CONFIG_SETS back; the place
    counted at again starts afresh."""
    reputation = Reputation(100)
    reputation.observe("eu", AP, "a", "send", ["u@x.example"])
    reputation.observe("default", AP, "", "send", ["u@x.example"])
    for i in range(MAX_CONFIG_SETS - 1):
        reputation.observe("default", EU, f"s{i}", "send", ["u@x.example"])
    reputation.forget({("eu", AP)})
    assert [key for key in reputation.seen() if key[1] == AP] == [("default", AP, "")]
    reputation.observe("eu", AP, "a", "bounce", ["u@x.example"], hard=True)
    assert reputation.estimate(("eu", AP, "a")) == Estimate(1, 1, 0, False)  # room again
    assert reputation.estimate(("eu", AP, "")) == Estimate(1, 1, 0, False)


def test_a_reload_after_a_poll_places_each_sender_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A poll names ACCOUNT, then a reload comes before any event: the reload places
    each sender again (its estimate where the poll moved it), and the next event
    finds its sender placed, rather than every sender (up to the cap's 4,096) placed
    once more for the same answer."""
    settings = core_settings(parse_config(_QUEUES + _entry("eu")))
    pipeline = Pipeline(settings)
    for i in range(3):
        _send(pipeline, AP, ACCOUNT, i)
    asked = []

    def counted(*args: Any) -> str | None:
        asked.append(args[2])
        return sender_label(*args)

    monkeypatch.setattr(ledger_module, "sender_label", counted)
    _poll(pipeline, ACCOUNT)
    pipeline.reconfigure(settings)
    assert len(asked) == 3
    _send(pipeline, AP, ACCOUNT, 0)
    assert len(asked) == 3
    assert _sends(pipeline) == {("default", AP, ""): 1}  # (eu's place forgotten)
