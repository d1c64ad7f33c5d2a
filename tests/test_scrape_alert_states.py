"""A scrape of a large sender's alert states: tens of thousands of (rule, domain)
states, nearly all 0, in ``sesd_alerts_firing`` and ``sesd_alerts_silenced``. Written
as one family each, each held the event loop (no SQS poll, no /healthz) for
150-300 ms at 99 rules over 1,000 domains; the scrape must give the loop back as it
goes, and say exactly what it said before."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import Status
from sesd.alerting.silences import Silence, SilenceSet
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.metrics.alerts import AlertsCollector
from sesd.metrics.exposition import render_async
from sesd.metrics.registry import Metrics
from tests import factory as f
from tests.test_metrics import scraped_counting_turns
from tests.test_rules import feed_spike

T = f.T0
RULES = 5
DOMAINS = 1_200


def _evaluated() -> tuple[Pipeline, Evaluator]:
    """Five rules over 1,200 domains, evaluated once: 6,000 states. Every hundredth
    domain's delays fire all five; a silence mutes one rule on two of them."""
    rules = "".join(
        f'[[alerts.rules]]\nname = "r{i}"\nmetric = "delay_ratio"\nwindow = "1h"\n'
        f"above = 0.2\nmin_events = 4\n"
        for i in range(RULES)
    )
    config = parse_config(f"[domains]\nmax_tracked = {DOMAINS}\n{rules}")
    pipeline = Pipeline(core_settings(config))
    for d in range(DOMAINS):
        if d % 100 == 0:
            feed_spike(pipeline, f"d{d}.example", T, 5, 5)
        else:
            pipeline.feed(f.raw(f.delivery([f"u@d{d}.example"], at=T)), "q", T)
    evaluator = Evaluator(config.alerts, [s.name for s in pipeline.ledger.specs])
    evaluator.silences = SilenceSet(
        [
            Silence(id="s", comment="known", starts_at=T, ends_at=None, rule="r1", domain=domain)
            for domain in ("d100.example", "d700.example")
        ]
    )
    evaluator.evaluate(pipeline.ledger, T)
    return pipeline, evaluator


def _states(evaluator: Evaluator) -> list[Status]:
    return [state.status for states in evaluator.states.values() for state in states.values()]


async def test_a_scrape_of_many_alert_states_gives_the_event_loop_back_as_it_goes() -> None:
    """6,000 (rule, domain) states, scraped while another task asks for the event loop
    at every turn: that task runs at least once per 1,000 states of each of the two
    families (12 times), not only once per family."""
    _, evaluator = _evaluated()
    assert len(_states(evaluator)) == RULES * DOMAINS
    registry = CollectorRegistry()
    registry.register(AlertsCollector(evaluator, lambda: T))
    body, turns = await scraped_counting_turns(registry)
    assert body.count(b"\n") == 2 * (2 + RULES * DOMAINS)  # all of them were written
    assert turns >= 2 * RULES * DOMAINS // 1_000, turns


def whole_families(self: AlertsCollector) -> Iterator[Metric]:
    """The two families as sesd wrote them when each was one family of
    prometheus_client's samples: what a scrape said before it gave the loop back (and
    the baseline of ``python -m bench scrape``)."""
    evaluator, now = self._evaluator, self._now()
    firing = GaugeMetricFamily(
        "sesd_alerts_firing",
        "1 while an alert fires, by rule and what it is about (`domain`: a domain or "
        "group, or a provider, tenant, ACCOUNT/REGION or canary for such rules).",
        labels=["rule", "domain"],
    )
    silenced = GaugeMetricFamily(
        "sesd_alerts_silenced",
        "1 while a firing alert is muted by a silence, by rule and domain.",
        labels=["rule", "domain"],
    )
    for rule, states in evaluator.states.items():
        for domain, state in states.items():
            on = state.status is Status.FIRING
            firing.add_metric([rule, domain], 1.0 if on else 0.0)
            muted = on and evaluator.silenced(rule, domain, now)
            silenced.add_metric([rule, domain], 1.0 if muted else 0.0)
    yield firing
    yield silenced


def _steady(body: bytes) -> bytes:
    """The body without the process' own figures (CPU, memory, collections), which
    change from one scrape to the next."""
    volatile = (b"process_", b"python_gc_")
    return b"".join(
        line
        for line in body.splitlines(keepends=True)
        if not line.removeprefix(b"# HELP ").removeprefix(b"# TYPE ").startswith(volatile)
    )


async def test_the_whole_scrape_is_byte_for_byte_what_it_was_with_one_family_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The whole /metrics body of 6,000 alert states (60 firing, 2 of them silenced)
    beside 1,200 domains' windows is, byte for byte, the body written when each alert
    family was one family: same order, same labels, same values."""
    pipeline, evaluator = _evaluated()
    assert _states(evaluator).count(Status.FIRING) == RULES * DOMAINS // 100
    metrics = Metrics(pipeline.ledger, ["q"], lambda: T, evaluator=evaluator)
    body = _steady(await render_async(metrics.registry))
    monkeypatch.setattr(AlertsCollector, "collect", whole_families)
    before = _steady(await render_async(metrics.registry))
    assert body == before
    assert body.count(b"sesd_alerts_firing{") == RULES * DOMAINS
    assert b'sesd_alerts_firing{domain="d1100.example",rule="r4"} 1.0\n' in body
    assert b'sesd_alerts_silenced{domain="d700.example",rule="r1"} 1.0\n' in body
    silenced = [ln for ln in body.splitlines() if ln.startswith(b"sesd_alerts_silenced{")]
    assert [ln for ln in silenced if ln.endswith(b" 1.0")] == [
        b'sesd_alerts_silenced{domain="d100.example",rule="r1"} 1.0',
        b'sesd_alerts_silenced{domain="d700.example",rule="r1"} 1.0',
    ]
