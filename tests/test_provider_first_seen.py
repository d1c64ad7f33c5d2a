"""What a rule on providers sees of the labels that are no mailbox provider: a domain
first seen counts under ``unknown`` until its MX lookup answers (after a start without
a state file, nearly every domain does), and a domain without mail (NXDOMAIN, a null
MX) under ``none``. Measured with the pipeline, the DNS task and a DNS server."""

from __future__ import annotations

import pytest

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import AlertState, Status
from sesd.config import ConfigError, core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.windows import Figures
from sesd.providers.resolver import ProviderResolver
from tests import factory as f
from tests.dns_server import Zone, dns_server

NOW = f.T0
#: Company domains on Microsoft 365, first seen together (a start without a state file).
COMPANIES = [f"c{i:02}.example" for i in range(20)]
THROTTLE = "smtp; 451 4.7.650 The mail server [192.0.2.10] has been temporarily rate limited due to IP reputation."  # noqa: E501
RULE = """
[[alerts.rules]]
name = "provider-delays"
metric = "delay_ratio"
window = "15m"
above = 0.1
min_events = 20
providers = ["*"]
"""


def _zone() -> Zone:
    return Zone(
        mx={d: [(10, f"{d.replace('.', '-')}.mail.protection.outlook.com")] for d in COMPANIES},
        nxdomain={"gmial.example"},
    )


def _window(pipeline: Pipeline, provider: str, now: float) -> Figures:
    """``provider``'s 15-minute window at ``now``."""
    scope = pipeline.ledger.by_provider
    assert scope is not None
    names = [spec.name for spec in pipeline.ledger.specs]
    return scope.windows[provider].figures(names.index("15m"), now)


def _mail(pipeline: Pipeline, at: float, domains: list[str], tag: str) -> None:
    """Ten recipients at each domain: eight delivered at once, two throttled."""
    for domain in domains:
        delivered = [f"{tag}{n}@{domain}" for n in range(8)]
        pipeline.feed(f.raw(f.delivery(delivered, at=at)), "q", at)
        throttled = [f"{tag}{n}@{domain}" for n in (8, 9)]
        body = f.delay(throttled, at=at, message_id=f"{tag}-{domain}", diagnostic=THROTTLE)
        pipeline.feed(f.raw(body), "q", at)


def _delivered_late(pipeline: Pipeline, at: float, domains: list[str], tag: str) -> None:
    """The throttled two of each domain's ten, delivered at ``at``."""
    for domain in domains:
        late = [f"{tag}{n}@{domain}" for n in (8, 9)]
        pipeline.feed(f.raw(f.delivery(late, at=at, message_id=f"{tag}-{domain}")), "q", at)


def _firing(pipeline: Pipeline, text: str, now: float) -> set[str]:
    config = parse_config(text)
    evaluator = Evaluator(config.alerts, [s.name for s in pipeline.ledger.specs])
    return {a.domain for a in evaluator.evaluate(pipeline.ledger, now)}


async def test_mail_counted_before_its_lookup_answers_leaves_its_provider_reading_low() -> None:
    """Twenty company domains on Microsoft 365, first seen together, their mail 20%
    throttled: 160 recipients delivered and 40 delayed before the lookups answer, all
    under ``unknown``. The lookups answer; ten minutes on, the 40 are delivered, under
    ``microsoft``. Its 15-minute window then holds 40 deliveries and none of their
    delays: 0% where the mail was 17% (40 of 240) delayed, and ``unknown`` holds the
    delays without those deliveries. No count is moved between labels: the provider
    reads low, never high, so the gap makes no page of its own, and holds back the
    provider's for up to a window; a rule watching every provider fires once the
    provider's new mail counts under it. ``unknown``, which a glob leaves out, watched
    by name reads the mail first seen."""
    config = parse_config(RULE)
    pipeline = Pipeline(core_settings(config))
    _mail(pipeline, NOW, COMPANIES, "a")
    assert pipeline.ledger.providers is not None
    with dns_server(_zone()) as address:
        cache = pipeline.ledger.providers
        resolver = ProviderResolver(cache, nameservers=[address], rate=1000, concurrency=20)
        await resolver.prefetch(COMPANIES, NOW + 5)
    assert {cache.provider(d, NOW + 5) for d in COMPANIES} == {"microsoft"}
    later = NOW + 600
    _delivered_late(pipeline, later, COMPANIES, "a")
    microsoft, unknown = (_window(pipeline, p, later) for p in ("microsoft", "unknown"))
    assert (microsoft.count("delivery"), microsoft.count("delivery_delay")) == (40, 0)
    assert microsoft.delay_ratio == 0.0
    assert (unknown.count("delivery"), unknown.count("delivery_delay")) == (160, 40)
    assert _firing(pipeline, RULE, later) == set()
    # The next mail, as throttled, counts under microsoft: the rule fires on it.
    _mail(pipeline, later, COMPANIES, "b")
    microsoft = _window(pipeline, "microsoft", later)
    assert (microsoft.count("delivery"), microsoft.count("delivery_delay")) == (200, 40)
    assert _firing(pipeline, RULE, later) == {"microsoft"}
    # Named, `unknown` is watched: its ratio is that of the mail first seen.
    assert _firing(pipeline, RULE.replace('["*"]', '["unknown"]'), later) == {"unknown"}


async def test_every_provider_leaves_out_mail_to_domains_without_mail() -> None:
    """Sign-ups with a mistyped domain, ``gmial.example`` (NXDOMAIN: ``none``): no mail
    reaches it, so its bounce ratio reads 100% whenever enough come in, the list's
    trouble, not a provider's (the domain rules and the reputation estimate see those
    bounces). A rule on every provider (``["*"]``) paged on it; it leaves ``none`` out
    as it does ``unknown``, and watches it named."""
    bounces = RULE.replace("delay_ratio", "bounce_ratio").replace("min_events = 20", "")
    pipeline = Pipeline(core_settings(parse_config(bounces)))
    typos = [f"u{n}@gmial.example" for n in range(30)]
    mail = [f"u{n}@{COMPANIES[0]}" for n in range(30)]
    pipeline.feed(f.raw(f.delivery(mail)), "q", NOW)
    pipeline.feed(f.raw(f.bounce(typos)), "q", NOW)
    assert pipeline.ledger.providers is not None
    with dns_server(_zone()) as address:
        cache = pipeline.ledger.providers
        resolver = ProviderResolver(cache, nameservers=[address], rate=1000)
        await resolver.prefetch(["gmial.example", COMPANIES[0]], NOW)
    later = NOW + 60
    pipeline.feed(f.raw(f.bounce(typos, at=later)), "q", later)
    pipeline.feed(f.raw(f.delivery([f"v{m}" for m in mail], at=later)), "q", later)
    assert _window(pipeline, "none", later).bounce_ratio == 1.0
    assert _firing(pipeline, bounces, later) == set()
    assert _firing(pipeline, bounces.replace('["*"]', '["none"]'), later) == {"none"}
    # Left out of every provider glob as `unknown` is: one that matches nothing else
    # watches nothing, and is refused.
    with pytest.raises(ConfigError, match="a glob that matches only 'none'"):
        parse_config(bounces.replace('["*"]', '["non?"]'))
    # An exclusion's leaves out what `*` leaves out already: it was how a rule on every
    # provider left `none` out before `*` did, so a config written so still loads (an
    # upgrade must not stop at it), reads as `*` alone, and is told to drop it.
    excluding = bounces.replace('["*"]', '["*"]\nexclude_providers = ["no*"]')
    assert _firing(pipeline, excluding, later) == set()
    warned = parse_config(excluding).warnings()
    assert [warning for warning in warned if "exclude_providers" in warning] == [
        "alerts.rules[0] (provider-delays).exclude_providers[0]: 'no*', a glob that matches "
        "only 'none', which a glob never takes (domains without mail: NXDOMAIN, a null "
        "MX): the rule's globs leave it out already; drop the exclusion"
    ]


def test_an_alert_on_none_fired_under_every_provider_resolves_at_the_next_reload() -> None:
    """An alert on ``none`` that a rule on every provider fired before it left ``none``
    out (in the state file of an earlier build): the start or reload that brings the
    rule in resolves it, as a provider the rule no longer watches, on the sinks it was
    sent to; one that names ``none`` keeps it."""
    sinks = '[alerts]\ngroup_wait = "0s"\n[alerts.sinks.pager]\ntype = "console"\n'
    every = sinks + RULE + 'sinks = ["pager"]\n'
    config = parse_config(every)
    evaluator = Evaluator(config.alerts, ["5m", "15m", "1h"])
    evaluator.states["provider-delays"]["none"] = AlertState(
        Status.FIRING, NOW, NOW, 1.0, None, True
    )
    evaluator.configure(parse_config(every).alerts, ["5m", "15m", "1h"], NOW + 5)
    (resolved,) = evaluator.due(NOW + 5, flush=True)
    assert (resolved.kind.value, resolved.sinks, [a.domain for a in resolved.alerts]) == (
        "resolved",
        ("pager",),
        ["none"],
    )
    assert resolved.alerts[0].notes == ("the rule no longer watches this provider",)
    assert "none" not in evaluator.states["provider-delays"]
    named = every.replace('["*"]', '["none"]')
    evaluator.states["provider-delays"]["none"] = AlertState(
        Status.FIRING, NOW, NOW, 1.0, None, True
    )
    evaluator.configure(parse_config(named).alerts, ["5m", "15m", "1h"], NOW + 10)
    assert evaluator.due(NOW + 10, flush=True) == []


def test_an_alert_on_none_in_a_state_file_resolves_at_the_start() -> None:
    """The upgrade: an earlier build's state file holds the rule on every provider
    firing on ``none``, sent to the pager. The start under the same config takes the
    file's states as a reload would, and resolves it on the pager with the labels it
    fired under (provider ``none``), so no Alertmanager alert is left open until its
    endsAt; nothing of it stays to fire again."""
    from sesd.alerting.documents import alertmanager_documents
    from sesd.runtime.state import restore, snapshot

    every = (
        '[alerts]\ngroup_wait = "0s"\n[alerts.sinks.pager]\ntype = "console"\n'
        + RULE.replace("delay_ratio", "bounce_ratio")
        + 'sinks = ["pager"]\n'
    )
    config = parse_config(every)
    pipeline = Pipeline(core_settings(config))
    assert pipeline.ledger.providers is not None
    pipeline.ledger.providers.remember("gmial.example", "none", NOW + 86400)
    pipeline.feed(f.raw(f.bounce([f"u{n}@gmial.example" for n in range(30)])), "q", NOW)
    before = Evaluator(config.alerts, ["5m", "15m", "1h"])
    before.states["provider-delays"]["none"] = AlertState(Status.FIRING, NOW, NOW, 1.0, None, True)
    blob = snapshot(pipeline.ledger, before, NOW + 1)
    fresh = Pipeline(core_settings(config))
    after = Evaluator(config.alerts, ["5m", "15m", "1h"])
    summary = restore(blob, fresh.ledger, after, NOW + 30)
    assert summary["owed"] == ["resolved provider-delays none"]
    (resolved,) = after.due(NOW + 30, flush=True)
    assert (resolved.kind.value, resolved.sinks) == ("resolved", ("pager",))
    (document,) = alertmanager_documents(resolved, 60.0)
    assert document["labels"] == {
        "alertname": "provider-delays",
        "provider": "none",
        "severity": "warning",
    }
    assert after.states["provider-delays"] == {}
    later = NOW + 60
    fresh.feed(f.raw(f.bounce([f"v{n}@gmial.example" for n in range(30)], at=later)), "q", later)
    assert after.evaluate(fresh.ledger, later) == []
