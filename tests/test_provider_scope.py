"""Recipients counted under their mailbox provider as under their domain: attribution
from the provider cache (unknown until a lookup completes), per-provider counters,
windows, pending delays and metrics, rules on providers and their alerts, the state
file and replay (a daemon whose DNS never answers: test_provider_daemon.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import anyio
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.render import console_text, describe
from sesd.alerting.rules import Transition
from sesd.config import ConfigError, core_settings, parse_config
from sesd.core.events import EVENT_TYPE_INDEX
from sesd.core.kept_slots import MAX_OTHERS
from sesd.core.pipeline import Pipeline
from sesd.core.provider_cache import ProviderCache
from sesd.metrics.exposition import render
from sesd.metrics.registry import Metrics
from sesd.providers.resolver import ProviderResolver
from sesd.runtime.state import restore, snapshot
from tests import factory as f
from tests.dns_server import Zone, dns_server, shared_nameserver

NOW = f.T0
DELAY = EVENT_TYPE_INDEX["delivery_delay"]
DELIVERY = EVENT_TYPE_INDEX["delivery"]
REPUTATION = "smtp; 451 4.7.650 The mail server [192.0.2.10] has been temporarily rate limited due to IP reputation."  # noqa: E501

PROVIDER_RULE = """
[[alerts.rules]]
name = "microsoft-reputation"
metric = "cause_ratio"
cause = "ip_reputation"
window = "15m"
above = 0.2
providers = ["microsoft"]
"""


def _zone() -> Zone:
    return Zone(
        mx={
            "corp.example": [(10, "corp-example.mail.protection.outlook.com")],
            "bank.example": [(10, "us-smtp-inbound-1.mimecast.com")],
            "shop.example": [(10, "shop-example.mail.protection.outlook.com")],
        },
        silent={"slow.example"},
    )


def _resolved(pipeline: Pipeline, domains: dict[str, str]) -> Pipeline:
    """``pipeline`` with ``domains`` already known to its resolver (as after lookups)."""
    assert pipeline.ledger.providers is not None
    for domain, provider in domains.items():
        pipeline.ledger.providers.remember(domain, provider, NOW + 86400)
    return pipeline


def test_consumer_domains_count_under_their_provider_at_once() -> None:
    """gmail.com and hotmail.fr need no DNS; each recipient counts once per scope."""
    pipeline = Pipeline(core_settings(parse_config("")))
    pipeline.feed(f.raw(f.delivery(["a@gmail.com", "b@hotmail.fr", "c@outlook.com"])), "q", NOW)
    assert pipeline.ledger.by_provider is not None
    providers = pipeline.ledger.by_provider.recipients
    assert providers["google"][DELIVERY] == 1
    assert providers["microsoft"][DELIVERY] == 2
    domains = pipeline.ledger.by_domain.recipients
    assert sum(c[DELIVERY] for c in domains.values()) == 3
    assert sum(c[DELIVERY] for c in providers.values()) == 3


def test_a_new_domain_is_unknown_until_its_lookup_completes() -> None:
    """corp.example counts as unknown (and is queued for a lookup, not waited for); once
    the answer is cached, its next recipients count under microsoft."""
    pipeline = Pipeline(core_settings(parse_config("")))
    assert pipeline.ledger.providers is not None
    pipeline.feed(f.raw(f.delivery(["a@corp.example"])), "q", NOW)
    assert len(pipeline.ledger.providers.wanted) == 1
    _resolved(pipeline, {"corp.example": "microsoft"})
    pipeline.feed(f.raw(f.delivery(["b@corp.example"])), "q", NOW)
    assert pipeline.ledger.by_provider is not None
    assert pipeline.ledger.by_provider.recipients["unknown"][DELIVERY] == 1
    assert pipeline.ledger.by_provider.recipients["microsoft"][DELIVERY] == 1


def test_small_domains_under_other_still_count_under_their_provider() -> None:
    """With one domain tracked, the company domains count under `other` for domains,
    and under microsoft for providers: the signal is not lost in `other`."""
    pipeline = _resolved(
        Pipeline(core_settings(parse_config("[domains]\nmax_tracked = 1\n"))),
        {"corp.example": "microsoft", "shop.example": "microsoft"},
    )
    pipeline.feed(f.raw(f.delivery(["a@gmail.com"])), "q", NOW)
    for domain in ("corp.example", "shop.example"):
        pipeline.feed(f.raw(f.delay([f"x@{domain}"], diagnostic=REPUTATION)), "q", NOW)
    assert pipeline.ledger.by_domain.recipients["other"][DELAY] == 2
    assert pipeline.ledger.by_provider is not None
    assert pipeline.ledger.by_provider.delays["microsoft"] == {
        ("TransientCommunicationFailure", "ip_reputation"): 2
    }
    assert pipeline.ledger.pending.counts(NOW, 1) == {"microsoft": 2}
    assert pipeline.ledger.pending.counts(NOW, 0) == {"other": 2}


def test_providers_can_be_turned_off() -> None:
    pipeline = Pipeline(core_settings(parse_config("[providers]\nenabled = false\n")))
    pipeline.feed(f.raw(f.delay(["a@gmail.com"])), "q", NOW)
    assert pipeline.ledger.by_provider is None
    assert pipeline.ledger.providers is None
    assert [scope.axis for scope in pipeline.ledger.scopes] == ["domain"]
    text = render(Metrics(pipeline.ledger, ["q"], lambda: NOW).registry.collect()).decode()
    assert "sesd_provider_" not in text
    assert "sesd_dns_" not in text


def test_metrics_have_a_twin_family_per_provider() -> None:
    """Each per-domain family has its sesd_provider_ twin, labelled provider, with the
    same numbers summed over labels; the DNS outcomes are counted."""
    pipeline = _resolved(Pipeline(core_settings(parse_config(""))), {"corp.example": "microsoft"})
    pipeline.feed(f.raw(f.delivery(["a@gmail.com", "b@corp.example"])), "q", NOW)
    pipeline.feed(f.raw(f.delay(["c@corp.example"], diagnostic=REPUTATION)), "q", NOW)
    assert pipeline.ledger.providers is not None
    pipeline.ledger.providers.outcomes["resolved"] = 1
    text = render(Metrics(pipeline.ledger, ["q"], lambda: NOW).registry.collect()).decode()
    families = {family.name: family for family in text_string_to_metric_families(text)}

    def samples(name: str) -> dict[tuple[tuple[str, str], ...], float]:
        return {
            tuple(sorted(s.labels.items())): s.value
            for s in families[name].samples
            if s.name == name + ("_total" if families[name].type == "counter" else "")
        }

    delays = samples("sesd_provider_delivery_delays")
    assert delays == {
        (
            ("cause", "ip_reputation"),
            ("delay_type", "TransientCommunicationFailure"),
            ("provider", "microsoft"),
        ): 1.0
    }
    ratio = samples("sesd_provider_window_delay_ratio")
    assert ratio[(("provider", "microsoft"), ("window", "15m"))] == 0.5
    assert ratio[(("provider", "google"), ("window", "15m"))] == 0.0
    assert samples("sesd_provider_delayed_recipients_pending") == {
        (("provider", "google"),): 0.0,
        (("provider", "microsoft"),): 1.0,
    }
    recipients = samples("sesd_recipient_events")
    twins = samples("sesd_provider_recipient_events")
    assert sum(recipients.values()) == sum(twins.values()) == 3
    assert samples("sesd_dns_lookups")[(("outcome", "resolved"),)] == 1.0
    assert "sesd_provider_window_processing_seconds" in families


def _provider_alert(pipeline: Pipeline, config_text: str) -> Any:
    evaluator = Evaluator(parse_config(config_text).alerts, [s.name for s in pipeline.ledger.specs])
    (alert,) = evaluator.evaluate(pipeline.ledger, NOW)
    return alert


def test_a_rule_on_providers_fires_on_the_provider_with_its_domains_and_causes() -> None:
    """Microsoft's throttle spread over three company domains fires the provider rule;
    the alert names the provider, its top domains and its top causes."""
    config = PROVIDER_RULE
    pipeline = _resolved(
        Pipeline(core_settings(parse_config(config))),
        dict.fromkeys(("corp.example", "shop.example", "mail.example"), "microsoft"),
    )
    for i, domain in enumerate(("corp.example", "corp.example", "shop.example", "mail.example")):
        pipeline.feed(f.raw(f.delay([f"u{i}@{domain}"], diagnostic=REPUTATION)), "q", NOW)
    pipeline.feed(f.raw(f.delivery(["v@corp.example", "w@gmail.com"])), "q", NOW)
    alert = _provider_alert(pipeline, config)
    assert (alert.rule, alert.scope, alert.domain, alert.kind) == (
        "microsoft-reputation",
        "provider",
        "microsoft",
        Transition.FIRING,
    )
    assert alert.value == pytest.approx(4 / 5)
    assert alert.breakdown.domains[0] == ("corp.example", 2)
    assert {d for d, _ in alert.breakdown.domains} == {
        "corp.example",
        "shop.example",
        "mail.example",
    }
    text = describe(alert)
    assert text.startswith("provider microsoft: cause_ratio 80.0%")
    assert "cause: ip_reputation (4 of 4 noted)" in text
    assert "top domains: corp.example (2), mail.example (1), shop.example (1)" in text
    assert "top causes: ip_reputation (4)" in text


def test_provider_alerts_are_labelled_provider_for_machines() -> None:
    from sesd.alerting.documents import alertmanager_documents, webhook_document

    config = PROVIDER_RULE
    pipeline = _resolved(
        Pipeline(core_settings(parse_config(config))), {"corp.example": "microsoft"}
    )
    pipeline.feed(f.raw(f.delay(["u@corp.example"], diagnostic=REPUTATION)), "q", NOW)
    evaluator = Evaluator(parse_config(config).alerts, [s.name for s in pipeline.ledger.specs])
    evaluator.evaluate(pipeline.ledger, NOW)
    (notification,) = evaluator.due(NOW, flush=True)
    (am,) = alertmanager_documents(notification, 60)
    assert am["labels"] == {
        "alertname": "microsoft-reputation",
        "provider": "microsoft",
        "severity": "warning",
    }
    (hook,) = json.loads(webhook_document(notification))["alerts"]
    assert (hook["provider"], hook["domain"]) == ("microsoft", None)
    assert hook["details"]["top_domains"] == {"corp.example": 1}
    assert "top domains: corp.example (1)" in console_text(notification)


def test_a_domain_rule_does_not_see_providers_and_a_glob_sees_every_provider() -> None:
    """A glob over providers leaves out `unknown` (not a provider: domains not resolved
    yet), which a rule watches only by name."""
    pipeline = _resolved(Pipeline(core_settings(parse_config(""))), {"corp.example": "microsoft"})
    pipeline.feed(f.raw(f.delay(["u@corp.example", "v@gmail.com"])), "q", NOW)
    pipeline.feed(f.raw(f.delay(["w@unresolved.example"])), "q", NOW)
    rule = '[[alerts.rules]]\nname = "r"\nmetric = "delayed_recipients"\nwindow = "5m"\nabove = 0\n'
    evaluator = Evaluator(parse_config(rule).alerts, [s.name for s in pipeline.ledger.specs])
    assert {(a.scope, a.domain) for a in evaluator.evaluate(pipeline.ledger, NOW)} == {
        ("domain", "corp.example"),
        ("domain", "gmail.com"),
        ("domain", "unresolved.example"),
    }
    every = Evaluator(
        parse_config(rule + 'providers = ["*"]\n').alerts, [s.name for s in pipeline.ledger.specs]
    )
    assert {(a.scope, a.domain) for a in every.evaluate(pipeline.ledger, NOW)} == {
        ("provider", "microsoft"),
        ("provider", "google"),
    }
    named = Evaluator(
        parse_config(rule + 'providers = ["unknown"]\n').alerts,
        [s.name for s in pipeline.ledger.specs],
    )
    assert {(a.scope, a.domain) for a in named.evaluate(pipeline.ledger, NOW)} == {
        ("provider", "unknown")
    }
    # Every provider but one, by name or glob: the others go on being watched.
    for left_out in ('["google"]', '["goo*"]'):
        but = Evaluator(
            parse_config(rule + f'providers = ["*"]\nexclude_providers = {left_out}\n').alerts,
            [s.name for s in pipeline.ledger.specs],
        )
        assert {(a.scope, a.domain) for a in but.evaluate(pipeline.ledger, NOW)} == {
            ("provider", "microsoft")
        }


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('domains = ["a.com"]\nproviders = ["google"]', "give `domains` or `providers`, not both"),
        ("providers = []", "(r).providers: must list '*' or at least one provider"),
        ('providers = ["gmail"]', "(r).providers[0]: unknown provider 'gmail'"),
        ('providers = ["google"]\nexclude_domains = ["a.com"]', "leaves some out with exclude_pr"),
        (
            'providers = ["*"]\nexclude_providers = ["gogle"]',
            "(r).exclude_providers[0]: unknown provider 'gogle'",
        ),
        ('exclude_providers = ["google"]', "a rule on domains leaves some out with exclude_do"),
    ],
)
def test_rules_on_providers_are_checked(text: str, error: str) -> None:
    rule = '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "5m"\nabove = 0.1\n'
    with pytest.raises(ConfigError, match=re.escape(error)):
        parse_config(rule + text + "\n")


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("enabled = false\n" + PROVIDER_RULE, "providers: needs \\[providers\\] enabled"),
        ('nameservers = ["10.0.0.2"]', "is not HOST:PORT"),
        ("rate = 0", "providers.rate: must be more than 0"),
        ("[providers.mx]\nother = ['mx.example']", "not a usable provider label"),
        ("[providers.mx]\ngw = []", "list at least one MX host suffix"),
    ],
)
def test_the_providers_section_is_checked(text: str, error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        parse_config("[providers]\n" + text + "\n")


def test_config_mx_entries_name_new_providers_rules_can_watch() -> None:
    config = parse_config(
        '[providers.mx]\ncorp-gw = ["gw.corp.example"]\n'
        '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "5m"\nabove = 0.1\n'
        'providers = ["corp-gw"]\n'
    )
    assert config.providers.table == {"corp-gw": ("gw.corp.example",)}
    resolver = ProviderResolver.from_config(config.providers, ProviderCache(10))
    assert resolver._table["gw.corp.example"] == "corp-gw"


def test_state_keeps_provider_windows_pending_delays_and_the_cache() -> None:
    """After a restart the provider windows, their pending delays and the cached
    answers are back: the next events of a known domain need no lookup."""
    config = parse_config(PROVIDER_RULE)
    pipeline = _resolved(Pipeline(core_settings(config)), {"corp.example": "microsoft"})
    pipeline.feed(f.raw(f.delay(["u@corp.example"], diagnostic=REPUTATION)), "q", NOW)
    evaluator = Evaluator(config.alerts, [s.name for s in pipeline.ledger.specs])
    evaluator.evaluate(pipeline.ledger, NOW)
    blob = snapshot(pipeline.ledger, evaluator, NOW)

    again, evaluator_again = (
        Pipeline(core_settings(config)),
        Evaluator(config.alerts, ["5m", "15m", "1h"]),
    )
    restored = restore(blob, again.ledger, evaluator_again, NOW)
    assert restored["providers_cached"] == 1
    assert again.ledger.providers is not None
    assert again.ledger.by_provider is not None
    assert again.ledger.providers.provider("corp.example", NOW + 60) == "microsoft"
    assert len(again.ledger.providers.wanted) == 0
    assert again.ledger.pending.counts(NOW, 1) == {"microsoft": 1}
    assert again.ledger.by_provider.windows["microsoft"].counts(1, NOW)[DELAY] == 1
    assert evaluator_again.states["microsoft-reputation"]["microsoft"].status.value == "firing"


def test_a_state_file_from_before_providers_counts_its_pending_delays_as_unknown() -> None:
    from sesd.core.pending import PendingDelays

    pending = PendingDelays(10, scopes=2)
    pending.restore({"pending": [[7, "gmail.com", NOW, NOW + 600]], "resolved": []})
    assert pending.counts(NOW, 0) == {"gmail.com": 1}
    assert pending.counts(NOW, 1) == {"unknown": 1}


def _events(path: Path) -> Path:
    bodies = [
        f.delivery(["a@gmail.com", "b@corp.example"]),
        f.delay(["c@bank.example"], diagnostic=REPUTATION),
        f.delivery(["d@nowhere.example"]),
    ]
    path.write_text("\n".join(json.dumps(b) for b in bodies) + "\n")
    return path


async def test_replay_counts_providers_with_dns_when_asked(tmp_path: Path) -> None:
    """Without --dns only consumer domains are known; with it, the MX of the others is
    looked up first (nowhere.example has no records: none)."""
    from sesd.commands.replay.archive import read_paths
    from sesd.commands.replay.engine import Replay

    events = _events(tmp_path / "events.jsonl")
    with dns_server(_zone()) as address:
        config = parse_config(f'[providers]\nnameservers = ["{address}"]\nrate = 200\n')
        offline = Replay(config)
        await anyio.to_thread.run_sync(offline.run, read_paths([str(events)]))
        assert offline.document()["providers"] == {
            "google": {"delivery": 1},
            "unknown": {"delivery": 2, "delivery_delay": 1},
        }
        looked_up = Replay(config)
        await looked_up.prefetch(read_paths([str(events)]))
        await anyio.to_thread.run_sync(looked_up.run, read_paths([str(events)]))
    assert looked_up.document()["providers"] == {
        "google": {"delivery": 1},
        "microsoft": {"delivery": 1},
        "mimecast": {"delivery_delay": 1},
        "none": {"delivery": 1},
    }


async def test_replay_dns_says_how_far_its_lookups_have_come(tmp_path: Path) -> None:
    """--dns looks every new domain up before the replay, at [providers] rate: a month
    of 20,000 domains is a quarter of an hour at 20 a second, and a terminal showed
    nothing meanwhile, as if the replay hung. The lookups tell how many of how many
    are answered, up to all of those that needed one (gmail.com is known without)."""
    from sesd.commands.replay.archive import read_paths
    from sesd.commands.replay.engine import Replay

    events = _events(tmp_path / "events.jsonl")
    told: list[tuple[int, int]] = []
    with dns_server(_zone()) as address:
        config = parse_config(f'[providers]\nnameservers = ["{address}"]\nrate = 200\n')
        replay = Replay(config)
        await replay.prefetch(read_paths([str(events)]), lambda *n: told.append(n))
    assert told[-1] == (3, 3)
    assert [done for done, _ in told] == sorted(done for done, _ in told)


def test_the_shared_test_nameserver_is_on_loopback() -> None:
    assert shared_nameserver().startswith("127.0.0.1:")


def test_only_a_providers_breakdown_names_domains() -> None:
    """The domains a provider's problems came from are in its breakdown; a domain's own
    breakdown does not repeat its name."""
    config = parse_config(PROVIDER_RULE)
    pipeline = _resolved(Pipeline(core_settings(config)), {"corp.example": "microsoft"})
    pipeline.feed(f.raw(f.delay(["u@corp.example"], diagnostic=REPUTATION)), "q", NOW)
    assert pipeline.ledger.by_provider is not None
    assert pipeline.ledger.by_provider.windows["microsoft"].breakdown(1, NOW).domains == [
        ("corp.example", 1)
    ]
    assert pipeline.ledger.windows["corp.example"].breakdown(1, NOW).domains == []


def test_the_delay_type_counts_in_the_cause() -> None:
    """A delay SES calls InternalFailure is inside SES whatever the text says."""
    pipeline = Pipeline(core_settings(parse_config("")))
    pipeline.feed(
        f.raw(f.delay(["u@gmail.com"], delay_type="InternalFailure", diagnostic=REPUTATION)),
        "q",
        NOW,
    )
    assert pipeline.ledger.tallies.causes == {"ses_internal": 1}
    assert pipeline.ledger.by_provider is not None
    assert pipeline.ledger.by_provider.delays["google"] == {("InternalFailure", "ses_internal"): 1}


def test_domains_counted_under_other_are_remembered_within_a_bound() -> None:
    """Past max_tracked, new domains count under `other`; the pipeline keeps their slots
    only while it keeps under MAX_OTHERS domains' (a flood of domains grows it by that
    many, no more) and no label for any of them."""
    pipeline = Pipeline(core_settings(parse_config("[domains]\nmax_tracked = 2\n")))
    for i in range(MAX_OTHERS + 50):
        pipeline.feed(f.raw(f.delivery([f"u@d{i}.example"])), "q", NOW)
    assert pipeline.ledger.by_domain.recipients["other"][DELIVERY] == MAX_OTHERS + 48
    assert len(pipeline._labels) == 2
    assert len(pipeline._kept) == MAX_OTHERS


def test_evicting_a_domain_that_only_had_late_events() -> None:
    """A domain whose every event was too old for the windows has counters but no
    windows; evicting it drops the counters."""
    pipeline = Pipeline(core_settings(parse_config('[domains]\nidle_evict = "1h"\n')))
    pipeline.feed(f.raw(f.delivery(["u@late.example"], at=NOW - 86400)), "q", NOW)
    assert "late.example" not in pipeline.ledger.windows
    assert pipeline.housekeep(NOW + 3700) == ["late.example"]
    assert "late.example" not in pipeline.ledger.by_domain.recipients


def test_a_providers_breakdown_names_the_domains_of_its_bounces() -> None:
    pipeline = _resolved(
        Pipeline(core_settings(parse_config(PROVIDER_RULE))), {"corp.example": "microsoft"}
    )
    pipeline.feed(f.raw(f.bounce(["u@corp.example"], kind="Transient")), "q", NOW)
    assert pipeline.ledger.by_provider is not None
    windows = pipeline.ledger.by_provider.windows["microsoft"]
    breakdown = windows.breakdown(1, NOW, delays=False)
    assert breakdown.domains == [("corp.example", 1)]
    assert breakdown.statuses == [("5.1.1", 1)]


def test_two_domains_of_a_group_share_one_set_of_windows() -> None:
    """Both domains of a group met first in late events (no windows yet), then in the
    windows: their recipients count in the one set of windows the group has."""
    pipeline = Pipeline(
        core_settings(parse_config('[domains.groups]\nms = ["a.example", "b.example"]\n'))
    )
    for domain in ("a.example", "b.example"):
        pipeline.feed(f.raw(f.delivery([f"u@{domain}"], at=NOW - 86400)), "q", NOW)
    assert "ms" not in pipeline.ledger.windows
    for domain in ("a.example", "b.example"):
        pipeline.feed(f.raw(f.delivery([f"v@{domain}"])), "q", NOW)
    assert pipeline.ledger.windows["ms"].counts(0, NOW)[DELIVERY] == 2


DOMAIN_RULE = """
[alerts]
repeat_interval = "1m"

[[alerts.rules]]
name = "delayed"
metric = "delayed_recipients"
window = "5m"
above = 0

[domains.groups]
"AT&T mail" = ["att.example", "sbc.example"]
"big.example" = ["big.example", "sub.example"]
"""


def test_a_domain_alert_names_its_domains_provider_in_text_facts_and_documents() -> None:
    """An engineer paged for acme-corp.example reads where its mail goes (Google
    Workspace) in every sink's text and facts; a group, whose members may go to
    several providers, a domain not looked up yet and one whose mail goes nowhere name
    none. Reading it wants no
    lookup: the evaluation changes nothing in the cache."""
    from sesd.alerting.documents import alertmanager_documents, webhook_document
    from sesd.alerting.render import details, headline, pagerduty_events
    from sesd.alerting.render_slack import slack_message

    pipeline = _resolved(
        Pipeline(core_settings(parse_config(DOMAIN_RULE))),
        {"acme-corp.example": "google", "big.example": "google", "nomail.example": "none"},
    )
    recipients = ["u@acme-corp.example", "v@att.example", "w@fresh.example", "x@hotmail.fr"]
    recipients.append("z@nomail.example")  # no MX: "provider none" would read as one
    recipients.append("y@sub.example")  # a group named as its member: still a group
    pipeline.feed(f.raw(f.delay(recipients)), "q", NOW)
    cache = pipeline.ledger.providers
    assert cache is not None
    before = (dict(cache.cache), dict(cache.wanted), cache.latest)
    evaluator = Evaluator(parse_config(DOMAIN_RULE).alerts, [s.name for s in pipeline.ledger.specs])
    alerts = {a.domain: a for a in evaluator.evaluate(pipeline.ledger, NOW + 1)}
    assert (dict(cache.cache), dict(cache.wanted), cache.latest) == before
    assert {d: a.provider for d, a in alerts.items()} == {
        "acme-corp.example": "google",
        "AT&T mail": None,
        "big.example": None,
        "fresh.example": None,
        "hotmail.fr": "microsoft",  # a consumer domain, known by name
        "nomail.example": None,
    }
    acme = alerts["acme-corp.example"]
    assert "delayed: acme-corp.example (provider google) delayed_recipients 1" in headline(acme)
    assert describe(acme).startswith("acme-corp.example (provider google): delayed_recipients")
    assert details(acme)["provider"] == "google"
    assert "provider" not in details(alerts["fresh.example"])
    assert "(provider" not in headline(alerts["AT&T mail"])

    (notification,) = evaluator.due(NOW + 1, flush=True)
    assert "acme-corp.example (provider google)" in console_text(notification)
    assert "acme-corp.example (provider google)" in json.dumps(slack_message(notification))
    events = [json.loads(e) for e in pagerduty_events(notification, "key", "sesd")]
    (paged,) = [e for e in events if e["dedup_key"] == "sesd:delayed:acme-corp.example"]
    assert paged["payload"]["custom_details"]["provider"] == "google"
    assert "acme-corp.example (provider google)" in paged["payload"]["summary"]
    documents = {d["labels"]["domain"]: d for d in alertmanager_documents(notification, 60)}
    assert documents["acme-corp.example"]["annotations"]["provider"] == "google"
    assert "provider" not in documents["fresh.example"]["annotations"]
    assert documents["acme-corp.example"]["labels"] == {
        "alertname": "delayed",
        "domain": "acme-corp.example",
        "severity": "warning",
    }
    hooks = {h["domain"]: h for h in json.loads(webhook_document(notification))["alerts"]}
    # The top-level "provider" names a rule on providers' subject: a domain's is a fact.
    acme_hook = hooks["acme-corp.example"]
    assert (acme_hook["provider"], acme_hook["details"]["provider"]) == (None, "google")


def test_a_provider_found_while_the_alert_fires_changes_its_text_not_its_identity() -> None:
    """fresh.example fires while its lookup waits (no provider said, not ``other``:
    its MX are not known); the answer comes, and the repeat names Google, with the
    same labels and dedup key: Alertmanager and PagerDuty see one alert."""
    from sesd.alerting.documents import alertmanager_documents

    pipeline = Pipeline(core_settings(parse_config(DOMAIN_RULE)))
    pipeline.feed(f.raw(f.delay(["w@fresh.example"])), "q", NOW)
    evaluator = Evaluator(parse_config(DOMAIN_RULE).alerts, [s.name for s in pipeline.ledger.specs])
    sent = []
    for now in (NOW + 1, NOW + 62):
        evaluator.evaluate(pipeline.ledger, now)
        (notification,) = evaluator.due(now, flush=True)
        (alert,) = notification.alerts
        (document,) = alertmanager_documents(notification, 60)
        sent.append((alert, document))
        _resolved(pipeline, {"fresh.example": "google"})
    (first, before), (repeat, after) = sent
    assert (first.kind, repeat.kind) == (Transition.FIRING, Transition.REPEAT)
    assert (first.provider, repeat.provider) == (None, "google")
    assert "provider" not in before["annotations"]
    assert after["annotations"]["provider"] == "google"
    assert "fresh.example (provider google)" in after["annotations"]["summary"]
    assert before["labels"] == after["labels"]
    assert first.dedup_key == repeat.dedup_key


def test_between_repeats_the_alert_kept_for_resends_names_the_provider_found_since() -> None:
    """fresh.example fires with no provider; the answer comes; the next evaluation,
    before the repeat, notifies no one, and the alert kept for Alertmanager's resends
    (the one last sent) names Google and is otherwise the same alert."""
    from dataclasses import replace

    pipeline = Pipeline(core_settings(parse_config(DOMAIN_RULE)))
    pipeline.feed(f.raw(f.delay(["w@fresh.example"])), "q", NOW)
    evaluator = Evaluator(parse_config(DOMAIN_RULE).alerts, [s.name for s in pipeline.ledger.specs])
    (first,) = evaluator.evaluate(pipeline.ledger, NOW + 1)
    assert [n.kind for n in evaluator.due(NOW + 1, flush=True)] == [Transition.FIRING]
    _resolved(pipeline, {"fresh.example": "google"})
    assert evaluator.evaluate(pipeline.ledger, NOW + 30) == []
    assert evaluator.due(NOW + 30, flush=True) == []
    assert evaluator.current[("delayed", "fresh.example")] == replace(first, provider="google")


async def test_a_resolve_a_change_of_rules_owes_names_the_domains_provider() -> None:
    """delayed fires on acme-corp.example (Google) and on a group, then is removed: by
    a reload, and by a restart from a state file saved under it. Each resolve owed is
    built without figures (none were read) and names Google, in its text and its
    facts, as an evaluation's resolve does; the group's names none."""
    import aiohttp

    from sesd.alerting.documents import alertmanager_documents, webhook_document
    from sesd.alerting.render import details
    from tests.test_routing import alerting_for

    config, without = parse_config(DOMAIN_RULE), parse_config("")
    pipeline = _resolved(Pipeline(core_settings(config)), {"acme-corp.example": "google"})
    pipeline.feed(f.raw(f.delay(["u@acme-corp.example", "v@att.example"])), "q", NOW)
    now = [NOW + 1]
    alerting = alerting_for(config, pipeline, now)
    async with aiohttp.ClientSession() as session:
        alerting.open(session)
        alerting.evaluate(flush=True)
        console = alerting.outboxes["console"]._queue
        assert [n.kind for n in console] == [Transition.FIRING]
        console.clear()
        blob = snapshot(pipeline.ledger, alerting.evaluator, NOW + 1)
        now[0] = NOW + 2
        alerting.reconfigure(without)  # a removed rule's resolves go at once
        (reloaded,) = console
    restarted = Evaluator(without.alerts, [s.name for s in pipeline.ledger.specs])
    again = Pipeline(core_settings(without))
    assert restore(blob, again.ledger, restarted, NOW + 3)["owed"] == [
        "resolved delayed AT&T mail",
        "resolved delayed acme-corp.example",
    ]
    (restored,) = restarted.due(NOW + 3, flush=True)
    for notification in (reloaded, restored):
        alerts = {a.domain: a for a in notification.alerts}
        assert {d: (a.kind, a.provider) for d, a in alerts.items()} == {
            "acme-corp.example": (Transition.RESOLVED, "google"),
            "AT&T mail": (Transition.RESOLVED, None),
        }
        acme = alerts["acme-corp.example"]
        assert describe(acme).startswith("acme-corp.example (provider google)")
        assert details(acme)["provider"] == "google"
        documents = {d["labels"]["domain"]: d for d in alertmanager_documents(notification, 60)}
        assert documents["acme-corp.example"]["annotations"]["provider"] == "google"
        hooks = {h["domain"]: h for h in json.loads(webhook_document(notification))["alerts"]}
        assert hooks["acme-corp.example"]["details"]["provider"] == "google"
