"""Contracts of the metrics: a pending alert under a silence is not exported as
silenced; a configured queue has its series from the start (its invalid and skipped
reasons' too); a delay pending is exported while it is."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import sesd
from sesd.alerting.evaluator import Evaluator
from sesd.config import core_settings, parse_config
from sesd.core.decode import _SKIP_SNS_TYPES
from sesd.core.events import INVALID_REASONS, REPLAY_INVALID_REASONS, SKIPPED_REASONS
from sesd.core.pipeline import Pipeline
from sesd.metrics.registry import Metrics
from tests import factory as f
from tests.test_rules import feed_spike

T = f.T0


def test_a_configured_queue_has_its_event_series_at_0_before_any_event() -> None:
    """registry.set_queues: "each one's series exist from then on at 0, so rate() and the
    dashboard see them before the first error" -- sesd_events_total too (README lists it)."""
    config = parse_config('[[queues]]\nurl = "http://127.0.0.1:9/1/q"\nname = "q"\n')
    pipeline = Pipeline(core_settings(config))
    metrics = Metrics(pipeline.ledger, ["q"], lambda: T)
    v = metrics.registry.get_sample_value(
        "sesd_events_total",
        {"queue": "q", "account": "default", "region": "us-east-1", "event_type": "delivery"},
    )
    assert v == 0.0


def test_a_pending_alert_is_not_reported_silenced() -> None:
    """sesd_alerts_silenced: "1 while a FIRING alert is muted by a silence"."""
    config = parse_config(
        '[[alerts.rules]]\nname = "delays"\nmetric = "delay_ratio"\nwindow = "1h"\n'
        'above = 0.2\nmin_events = 4\nfor = "10m"\n'
    )
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, [s.name for s in pipeline.ledger.specs])
    feed_spike(pipeline, "a.example", T, 5, 5)
    evaluator.evaluate(pipeline.ledger, T)  # pending (for = 10m)
    # A silence on it.
    evaluator.silenced = lambda rule, domain, now: True  # type: ignore[method-assign]
    metrics = Metrics(pipeline.ledger, [], lambda: T, evaluator=evaluator)
    labels = {"rule": "delays", "domain": "a.example"}
    firing = metrics.registry.get_sample_value("sesd_alerts_firing", labels)
    silenced = metrics.registry.get_sample_value("sesd_alerts_silenced", labels)
    assert (firing, silenced) == (0.0, 0.0)


@pytest.mark.parametrize(
    ("before", "after", "family", "labels"),
    [
        # Every window resized: the windows (and the labels they hold) start empty.
        ("", '[windows]\nsizes = ["10m", "2h"]\n', "sesd_delayed_recipients_pending",
         {"domain": "d.example"}),
        # Providers turned on: the saved delays have no provider, so count as unknown.
        ("[providers]\nenabled = false\n", "", "sesd_provider_delayed_recipients_pending",
         {"provider": "unknown"}),
    ],
)  # fmt: skip
def test_delays_restored_pending_are_exported_before_a_new_event(
    before: str, after: str, family: str, labels: dict[str, str]
) -> None:
    """A restart whose config changed keeps the pending delays of the state file where
    it cannot keep a window of their label: they are pending (rules and the status page
    count them), and ``sesd_delayed_recipients_pending`` says so from the first scrape,
    not from the label's next event only."""
    saved = Pipeline(core_settings(parse_config(before)))
    saved.feed(f.raw(f.delay(["a@d.example"], at=T, expires=T + 3600)), "q", T)
    restarted = Pipeline(core_settings(parse_config(after)))
    restarted.ledger.restore(saved.ledger.snapshot(T), T + 60)
    metrics = Metrics(restarted.ledger, ["q"], lambda: T + 60)
    assert metrics.registry.get_sample_value(family, labels) == 1.0


def test_a_queue_a_reload_moves_to_another_account_keeps_no_series_of_the_old() -> None:
    """A reload that points queue ``events`` at another account's queue: its SQS
    series (errors, retries, messages received) are under the new account and region
    only. The old ones stayed, frozen, for as long as sesd ran, beside
    ``sesd_events_total``, which moved to the new labels."""
    account = '[[accounts]]\nname = "prod-eu"\nrole_arn = "arn:aws:iam::210987654321:role/r"\n'
    before = parse_config(
        f'{account}[[queues]]\nurl = "https://sqs.us-east-1.amazonaws.com/123456789012/q"\n'
        'name = "events"\n'
    )
    after = parse_config(
        f'{account}[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/210987654321/q"\n'
        'name = "events"\naccount = "prod-eu"\n'
    )
    pipeline = Pipeline(core_settings(before))
    metrics = Metrics(pipeline.ledger, before.queues, lambda: T)
    metrics.sqs_counts(before.queues[0]).error("receive")
    metrics.sqs_counts(before.queues[0]).received(3)
    pipeline.ledger.reconfigure(core_settings(after))
    metrics.set_queues(after.queues)
    metrics.sqs_counts(after.queues[0]).error("receive")

    wheres = {
        (family.name, sample.labels["account"], sample.labels["region"])
        for family in metrics.registry.collect()
        if family.name.startswith(("sesd_sqs_", "sesd_events"))
        for sample in family.samples
    }
    names = {"sesd_sqs_errors", "sesd_sqs_retries", "sesd_sqs_messages_received", "sesd_events"}
    assert wheres == {(name, "prod-eu", "eu-west-1") for name in names}
    new = {"queue": "events", "account": "prod-eu", "region": "eu-west-1"}
    errors = metrics.registry.get_sample_value(
        "sesd_sqs_errors_total", {**new, "operation": "receive"}
    )
    assert errors == 1.0


def test_a_queue_a_reload_removed_gets_no_series_back_from_its_last_calls() -> None:
    """A reload removes queue ``gone``: its SQS series go. Its pollers end their calls
    under way after that (a receive's messages, the deletes of the batch, their
    errors and retries): none brings a series of ``gone`` back (each did, exported,
    frozen, for as long as sesd ran: a queue no dashboard or rule could tell from one
    that stopped reading)."""
    queues = '[[queues]]\nurl = "http://127.0.0.1:9/1/q"\nname = "q"\n'
    gone = '[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/1/g"\nname = "gone"\n'
    before, after = parse_config(queues + gone), parse_config(queues)
    pipeline = Pipeline(core_settings(before))
    metrics = Metrics(pipeline.ledger, before.queues, lambda: T)
    pipeline.ledger.reconfigure(core_settings(after))
    metrics.set_queues(after.queues)
    counts = metrics.sqs_counts(before.queues[1])
    counts.received(10)
    counts.error("delete", 2)
    counts.retried("delete", 1)
    found = [
        (sample.name, sample.labels)
        for family in metrics.registry.collect()
        if family.name.startswith("sesd_sqs_")
        for sample in family.samples
        if sample.labels.get("queue") == "gone"
    ]
    assert found == []


def test_a_configured_queue_has_its_invalid_and_skipped_reasons_at_0() -> None:
    """A configured queue's sesd_invalid_messages_total and sesd_skipped_messages_total
    have a series per reason at 0 before the first such message, so the dashboard's
    increase() sees the first one (a series first exported at 1 hides its first
    increment); a body that is not JSON then steps not_json from 0 to 1."""
    config = parse_config('[[queues]]\nurl = "http://127.0.0.1:9/1/q"\nname = "q"\n')
    pipeline = Pipeline(core_settings(config))
    metrics = Metrics(pipeline.ledger, ["q"], lambda: T)
    where = {"queue": "q", "account": "default", "region": "us-east-1"}

    def counted(family: str, reason: str) -> float | None:
        return metrics.registry.get_sample_value(family, {**where, "reason": reason})

    assert [counted("sesd_invalid_messages_total", r) for r in INVALID_REASONS] == [
        0.0 for _ in INVALID_REASONS
    ]
    assert [counted("sesd_skipped_messages_total", r) for r in SKIPPED_REASONS] == [
        0.0 for _ in SKIPPED_REASONS
    ]
    assert pipeline.feed(b"not json", "q", T).outcome == "invalid"
    assert counted("sesd_invalid_messages_total", "not_json") == 1.0


def test_every_reason_sesd_counts_is_exported_at_0_or_is_replays_own() -> None:
    """Every reason the core gives an invalid or skipped body (each a literal where it
    is made: Invalid("..."), Skipped("..."), an SNS type's skip, the pipeline's own
    no_usable_domain), anywhere in sesd, is in INVALID_REASONS or SKIPPED_REASONS, so
    none of them appears at 1 for want of its 0; or, made by replay alone (a body over
    its bound, which no SQS message can be), in REPLAY_INVALID_REASONS."""
    found: dict[str, set[str]] = {"Invalid": set(), "Skipped": set()}
    for path in Path(sesd.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else ""
            if name == "invalid" and len(node.args) > 2:  # sesd.core.results.invalid()
                name, reason = "Invalid", node.args[2]
            elif name == "_invalid" or (
                isinstance(node.func, ast.Attribute) and node.func.attr == "_invalid"
            ):
                name, reason = "Invalid", node.args[1]
            else:
                reason = node.args[0]
            if name in found and isinstance(reason, ast.Constant):
                found[name].add(str(reason.value))
    found["Skipped"] |= set(_SKIP_SNS_TYPES.values())
    assert "no_usable_domain" in found["Invalid"]
    # Replay's own reasons are declared apart: no SQS message can have them, so the
    # daemon exports none of their series.
    assert not set(INVALID_REASONS) & set(REPLAY_INVALID_REASONS)
    assert found == {
        "Invalid": {*INVALID_REASONS, *REPLAY_INVALID_REASONS},
        "Skipped": set(SKIPPED_REASONS),
    }


def test_the_labels_known_ahead_have_their_recipient_counters_at_0() -> None:
    """The labels known before any event, a tracked domain, a group, a tenant a rule
    names and every mailbox provider, have their recipient counters at 0 from the
    start: a rarely mailed one's first events (after a scrape) are then a step that
    rate() and the dashboard see, where a series first exported at 1 hides them. A
    domain admitted later, unknown ahead, is not among them."""
    config = parse_config(
        '[domains]\ntrack = ["gmail.com"]\ngroups = { ms = ["outlook.com"] }\n'
        '[providers]\nenabled = true\n[providers.mx]\nacme-mx = ["mx.acme.example"]\n'
        "[tenants]\nenabled = true\n"
        '[[alerts.rules]]\nname = "t"\nmetric = "delay_ratio"\nwindow = "5m"\n'
        'above = 0.2\ntenants = ["globex"]\n'
    )
    pipeline = Pipeline(core_settings(config))
    metrics = Metrics(pipeline.ledger, ["q"], lambda: T)

    def delivered(family: str, label: str, value: str) -> float | None:
        where = {label: value, "event_type": "delivery"}
        return metrics.registry.get_sample_value(f"sesd_{family}recipient_events_total", where)

    assert delivered("", "domain", "gmail.com") == 0.0
    assert delivered("", "domain", "ms") == 0.0
    assert delivered("tenant_", "tenant", "globex") == 0.0
    assert [delivered("provider_", "provider", p) for p in ("google", "acme-mx", "unknown")] == [
        0.0,
        0.0,
        0.0,
    ]
    assert delivered("", "domain", "example.org") is None
    pipeline.feed(f.raw(f.delivery(["a@gmail.com"], at=T)), "q", T)
    assert delivered("", "domain", "gmail.com") == 1.0
