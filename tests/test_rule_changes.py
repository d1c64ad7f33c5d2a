"""What a change of rules owes the sinks, at a reload and at a start from a state file
saved under other rules: every sink that was sent a firing gets its resolve, and an
alert the rules no longer have is not left firing nor sent again."""

from __future__ import annotations

import msgspec

from sesd.alerting.alert import Notification
from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import AlertState, Status, Transition
from sesd.config import Config, RuleConfig, core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.windows import Breakdown
from sesd.runtime.state import restore, snapshot
from tests import factory as f
from tests.test_rules import feed_spike

T = f.T0
WINDOWS = ["5m", "15m", "1h"]
SINKS = """
[alerts]
group_wait = "0s"
[alerts.sinks.pager]
type = "console"
[alerts.sinks.chat]
type = "console"
"""


def rule(name: str = "delays", extra: str = 'sinks = ["pager"]\n') -> str:
    return (
        f'[[alerts.rules]]\nname = "{name}"\nmetric = "delay_ratio"\nwindow = "5m"\n'
        f"above = 0.2\nmin_events = 4\n{extra}"
    )


def sent(notifications: list[Notification]) -> list[tuple[str, str, tuple[str, ...], list[str]]]:
    return [(n.kind.value, n.rule, n.sinks, [a.domain for a in n.alerts]) for n in notifications]


def firing(config: Config, *domains: str) -> tuple[Pipeline, Evaluator]:
    """A pipeline with a spike on each domain, and an evaluator whose alerts on them
    fired and were sent."""
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, WINDOWS)
    for domain in domains:
        feed_spike(pipeline, domain, T, 6, 4)
    evaluator.evaluate(pipeline.ledger, T)
    assert sent(evaluator.due(T)) == [("firing", "delays", ("pager",), sorted(domains))]
    return pipeline, evaluator


def reloaded(evaluator: Evaluator, text: str, now: float) -> list[Notification]:
    evaluator.configure(parse_config(text).alerts, WINDOWS, now)
    return evaluator.due(now, flush=True)


def test_a_sink_a_rule_no_longer_names_gets_the_resolve_and_a_new_one_the_firing() -> None:
    """The pager that got the firing is told it is over for it; the chat sink that
    replaces it is told the alert fires, and later gets its resolve."""
    pipeline, evaluator = firing(parse_config(SINKS + rule()), "a.example")
    owed = reloaded(evaluator, SINKS + rule(extra='sinks = ["chat"]\n'), T + 5)
    assert sent(owed) == [
        ("resolved", "delays", ("pager",), ["a.example"]),
        ("firing", "delays", ("chat",), ["a.example"]),
    ]
    assert owed[0].alerts[0].notes == ("the rule no longer notifies this sink",)
    assert owed[1].alerts[0].notes == ("the rule notifies this sink from now on",)
    # The firing as it was sent (its figures), now; the resolve without figures.
    (was,) = evaluator.current.values()
    assert owed[1].alerts[0].counts == was.counts == {
        "send": 0, "delivery": 4, "delivery_delay": 6, "bounce": 0, "complaint": 0,
    }  # fmt: skip
    assert (owed[1].alerts[0].kind, owed[1].alerts[0].at) == ("firing", T + 5)
    resolved = owed[0].alerts[0]
    assert (resolved.counts, resolved.breakdown, resolved.scope) == ({}, Breakdown(), "domain")
    assert evaluator.states["delays"]["a.example"].status is Status.FIRING
    for i in range(40):
        pipeline.feed(f.raw(f.delivery([f"late{i}@a.example"], at=T + 10)), "q", T + 10)
    evaluator.evaluate(pipeline.ledger, T + 10)
    assert sent(evaluator.due(T + 10)) == [("resolved", "delays", ("chat",), ["a.example"])]


def test_a_sink_kept_by_the_rule_hears_nothing_new() -> None:
    """The pager stays, chat is added: only chat is told; the same file again owes
    nothing."""
    evaluator = firing(parse_config(SINKS + rule()), "a.example")[1]
    both = SINKS + rule(extra='sinks = ["pager", "chat"]\n')
    assert sent(reloaded(evaluator, both, T + 5)) == [
        ("firing", "delays", ("chat",), ["a.example"])
    ]
    assert reloaded(evaluator, both, T + 6) == []


def test_a_domain_excluded_by_a_reload_resolves_and_is_no_longer_watched() -> None:
    """b fires and a only had deliveries; a reload excludes both. b's alert resolves
    on the sinks that had it, and neither pages after, whatever their traffic."""
    config = parse_config(SINKS + rule())
    pipeline, evaluator = firing(config, "b.example")
    for i in range(5):
        pipeline.feed(f.raw(f.delivery([f"ok{i}@a.example"], at=T)), "q", T)
    evaluator.evaluate(pipeline.ledger, T)
    assert "a.example" in evaluator.states["delays"]  # inactive, stepped
    excluded = 'sinks = ["pager"]\nexclude_domains = ["a.example", "B.example"]\n'
    owed = reloaded(evaluator, SINKS + rule(extra=excluded), T + 5)
    assert sent(owed) == [("resolved", "delays", ("pager",), ["b.example"])]
    assert owed[0].alerts[0].notes == ("the rule no longer watches this domain",)
    # Every sink's text says why: a resolve at twice its threshold is no contradiction.
    from sesd.alerting.render import console_text
    from sesd.alerting.render_slack import slack_message

    assert "    the rule no longer watches this domain" in console_text(owed[0]).splitlines()
    assert "the rule no longer watches this domain" in str(slack_message(owed[0]))
    assert evaluator.states["delays"] == {}
    for t in (T + 10, T + 400, T + 800):
        feed_spike(pipeline, "a.example", t, 6, 4)
        feed_spike(pipeline, "b.example", t, 6, 4)
        assert evaluator.evaluate(pipeline.ledger, t) == []
    assert evaluator.states["delays"] == {}


def test_a_narrower_list_of_domains_resolves_the_domains_left_out() -> None:
    config = parse_config(SINKS + rule(extra='sinks = ["pager"]\ndomains = ["a.*", "b.example"]\n'))
    evaluator = firing(config, "a.example", "b.example")[1]
    owed = reloaded(evaluator, SINKS + rule(extra='sinks = ["pager"]\ndomains = ["a.*"]\n'), T + 5)
    assert sent(owed) == [("resolved", "delays", ("pager",), ["b.example"])]
    assert list(evaluator.states["delays"]) == ["a.example"]


def test_only_alerts_sinks_were_told_of_are_owed_anything() -> None:
    """b fires, a only pends, c fired under a silence (sent to no one): a change of
    sinks owes b's firing and resolve only, whatever comes first; removing the rule
    owes c nothing."""
    evaluator = firing(parse_config(SINKS + rule()), "b.example")[1]
    states = evaluator.states["delays"]
    states["a.example"] = AlertState(Status.PENDING, T, 0.0, 0.5)
    states["c.example"] = AlertState(Status.FIRING, T, T, 0.5, None, False)
    owed = reloaded(evaluator, SINKS + rule(extra='sinks = ["chat"]\n'), T + 5)
    assert sent(owed) == [
        ("resolved", "delays", ("pager",), ["b.example"]),
        ("firing", "delays", ("chat",), ["b.example"]),
    ]
    states = evaluator.states["delays"]
    states["b.example"].status = Status.INACTIVE  # resolved since, and notified stays
    assert reloaded(evaluator, SINKS + rule("other"), T + 6) == []


def test_a_new_rule_first_in_the_file_does_not_stop_the_others_changes() -> None:
    config = parse_config(SINKS + rule())
    evaluator = firing(config, "b.example")[1]
    text = SINKS + rule("a-new-one") + rule(extra='sinks = ["pager"]\nexclude_domains = ["b.*"]\n')
    assert sent(reloaded(evaluator, text, T + 5)) == [
        ("resolved", "delays", ("pager",), ["b.example"])
    ]


def test_the_canary_and_account_rules_keep_their_labels_across_a_reload() -> None:
    """Their labels (``canary``, ``ACCOUNT/REGION``) are not domains a rule names: a
    reload changes nothing of their firing alerts."""
    account = (
        '[[alerts.rules]]\nname = "paused"\nmetric = "sending_paused"\nwindow = "5m"\n'
        'above = 0.5\nsinks = ["pager"]\n'
    )
    canary = (
        '[canary]\nfrom = "c@example.com"\nconfiguration_set = "sesd"\ndeadline = "2m"\n'
        '[[alerts.rules]]\nname = "canary"\nmetric = "canary_missing"\nwindow = "5m"\n'
        'above = 0.5\nsinks = ["pager"]\ndomains = ["x.example"]\n'
    )
    config = parse_config(SINKS + account + canary)
    evaluator = Evaluator(config.alerts, WINDOWS)
    for name, label in (("paused", "prod/eu-west-1"), ("canary", "canary")):
        evaluator.states[name][label] = AlertState(Status.FIRING, T, T, 1.0, None, True)
    assert reloaded(evaluator, SINKS + account + canary, T + 5) == []
    assert evaluator.states["paused"]["prod/eu-west-1"].status is Status.FIRING
    assert evaluator.states["canary"]["canary"].status is Status.FIRING


def test_an_account_alert_a_reload_ends_resolves_as_the_account_it_fired_on() -> None:
    """An account rule removed while its alert fires: the resolve is on the (account,
    region) the firing was, in Alertmanager's labels and the webhook's ``account``
    field. Told as a domain named ``default/eu-west-1``, it was another alert to
    Alertmanager, which kept the account's firing until its endsAt."""
    from sesd.alerting.documents import alertmanager_documents

    account = (
        '[[alerts.rules]]\nname = "paused"\nmetric = "sending_paused"\nwindow = "5m"\n'
        'above = 0\nsinks = ["pager"]\n'
    )
    config = parse_config(SINKS + account)
    pipeline = Pipeline(core_settings(config))
    pipeline.ledger.accounts.record(("default", "eu-west-1")).sending_enabled = False
    evaluator = Evaluator(config.alerts, WINDOWS)
    evaluator.evaluate(pipeline.ledger, T)
    (fired,) = evaluator.due(T)
    (resolved,) = reloaded(evaluator, SINKS + rule(), T + 5)
    assert sent([resolved]) == [("resolved", "paused", ("pager",), ["default/eu-west-1"])]
    assert resolved.alerts[0].scope == "account"
    firing, ending = (alertmanager_documents(n, 60.0)[0]["labels"] for n in (fired, resolved))
    assert ending == firing
    assert firing == {
        "alertname": "paused",
        "account": "default",
        "region": "eu-west-1",
        "severity": "warning",
    }


def test_a_removed_rules_alerts_are_not_posted_again() -> None:
    """Its resolve goes out, and nothing of it stays to be posted again (what a
    resending sink, Alertmanager, would get)."""
    evaluator = firing(parse_config(SINKS + rule()), "a.example")[1]
    assert ("delays", "a.example") in evaluator.current
    owed = reloaded(evaluator, SINKS + rule("other"), T + 5)
    assert sent(owed) == [("resolved", "delays", ("pager",), ["a.example"])]
    assert evaluator.current == {}


def restarted(blob: bytes, text: str, now: float) -> tuple[Evaluator, dict[str, object]]:
    config = parse_config(text)
    evaluator = Evaluator(config.alerts, WINDOWS)
    summary = restore(blob, Pipeline(core_settings(config)).ledger, evaluator, now)
    return evaluator, summary


def test_a_restart_without_a_rule_resolves_what_it_fired_on_its_sinks() -> None:
    """A restart is a reload across a stop: the removed rule's alert resolves (the
    file says which sinks it went to, though the config names them no more)."""
    pipeline, evaluator = firing(parse_config(SINKS + rule()), "a.example")
    blob = snapshot(pipeline.ledger, evaluator, T + 1)
    again, summary = restarted(blob, SINKS + rule("other", 'sinks = ["chat"]\n'), T + 5)
    assert summary["owed"] == ["resolved delays a.example"]
    (resolved,) = again.due(T + 5)
    assert sent([resolved]) == [("resolved", "delays", ("pager",), ["a.example"])]
    assert resolved.alerts[0].notes == ("the rule was removed from the config",)
    assert "delays" not in again.states


def test_a_restart_owing_more_than_it_names_counts_the_rest() -> None:
    """The start's line names twenty of what the change of rules owes: the others are
    counted, or a person takes the twenty for all the sinks are sent (every one still
    goes out)."""
    domains = [f"d{i:02}.example" for i in range(25)]
    pipeline, evaluator = firing(parse_config(SINKS + rule()), *domains)
    blob = snapshot(pipeline.ledger, evaluator, T + 1)
    again, summary = restarted(blob, SINKS + rule("other", 'sinks = ["chat"]\n'), T + 5)
    assert summary["owed"] == [f"resolved delays {domain}" for domain in domains[:20]]
    assert summary["owed_not_named"] == 5
    assert sent(again.due(T + 5)) == [("resolved", "delays", ("pager",), domains)]
    _, said = restarted(blob, SINKS + rule(), T + 5)
    assert said["owed"] == []
    assert "owed_not_named" not in said


def test_a_restart_with_the_rule_renamed_resolves_the_old_name() -> None:
    pipeline, evaluator = firing(parse_config(SINKS + rule()), "a.example")
    blob = snapshot(pipeline.ledger, evaluator, T + 1)
    config = parse_config(SINKS + rule("delay-ratio-high"))
    fresh = Pipeline(core_settings(config))
    again = Evaluator(config.alerts, WINDOWS)
    restore(blob, fresh.ledger, again, T + 5)
    assert [(a.kind.value, a.rule) for a in again.evaluate(fresh.ledger, T + 5)] == [
        ("firing", "delay-ratio-high")  # the same windows, under its new name
    ]
    assert sent(again.due(T + 5)) == [
        ("resolved", "delays", ("pager",), ["a.example"]),
        ("firing", "delay-ratio-high", ("pager",), ["a.example"]),
    ]


def test_a_restart_with_other_sinks_or_exclusions_owes_what_a_reload_owes() -> None:
    pipeline, evaluator = firing(parse_config(SINKS + rule()), "a.example", "b.example")
    blob = snapshot(pipeline.ledger, evaluator, T + 1)
    changed = rule(extra='sinks = ["chat"]\nexclude_domains = ["b.example"]\n')
    again, summary = restarted(blob, SINKS + changed, T + 5)
    assert sent(again.due(T + 5)) == [
        # b, no longer watched; a, whose rule no longer notifies the pager.
        ("resolved", "delays", ("pager",), ["b.example", "a.example"]),
        ("firing", "delays", ("chat",), ["a.example"]),
    ]
    assert summary["alerts"] == 2


def test_a_file_that_does_not_describe_its_rules_names_those_it_cannot_resolve() -> None:
    """A file written before the rules were saved: states of configured rules load as
    before; those of rules gone from the config are named, for a resolve by hand."""
    pipeline, evaluator = firing(parse_config(SINKS + rule()), "a.example")
    data = msgspec.msgpack.decode(snapshot(pipeline.ledger, evaluator, T + 1))
    del data["rules"]
    blob = msgspec.msgpack.encode(data)
    kept, summary = restarted(blob, SINKS + rule(), T + 5)
    assert (summary["alerts"], summary["unknown_rules"]) == (1, {})
    assert kept.states["delays"]["a.example"].status is Status.FIRING
    gone, summary = restarted(blob, SINKS + rule("other"), T + 5)
    assert (summary["alerts"], summary["unknown_rules"]) == (0, {"delays": ["a.example"]})
    assert gone.due(T + 5) == []


def test_what_a_rule_takes_in() -> None:
    """A domain named in any case is its normal form; a glob matches, written in any
    case or in Unicode too (a reload must not resolve what such a rule still watches);
    an exclusion wins; a provider's or a tenant's name is taken as written (a tenant
    keeps its capitals)."""
    from sesd.alerting.labels import takes

    def rule_of(extra: str) -> RuleConfig:
        return parse_config("[tenants]\nenabled = true\n" + rule(extra=extra)).alerts.rules[0]

    named = rule_of('domains = ["BigCustomer.Example", "g*.example"]\n')
    assert takes(named, "bigcustomer.example")
    assert takes(named, "gmail.example")
    assert not takes(named, "other.example")
    written = rule_of('domains = ["Yahoo.*", "*.рф"]\n')
    assert takes(written, "yahoo.co.jp")
    assert takes(written, "xn--80a1acny.xn--p1ai")
    excluded = rule_of('domains = ["*"]\nexclude_domains = ["Yahoo.com"]\n')
    assert not takes(excluded, "yahoo.com")
    assert takes(excluded, "aol.com")
    tenant = rule_of('tenants = ["Acme"]\n')
    assert takes(tenant, "Acme")
    assert not takes(tenant, "acme")


def test_a_resolve_a_changed_threshold_makes_says_why() -> None:
    """Raised thresholds resolve an alert at a value the rule as it fired held: the
    resolve says the rule changed (in the alert text too), not the traffic."""
    from sesd.alerting.render import console_text
    from sesd.alerting.render_slack import slack_message

    pipeline, evaluator = firing(parse_config(SINKS + rule()), "a.example")
    raised = rule(extra='sinks = ["pager"]\nclear_below = 0.8\n').replace("0.2", "0.85")
    assert reloaded(evaluator, SINKS + raised, T + 5) == []  # resolved by evaluation
    evaluator.evaluate(pipeline.ledger, T + 10)
    (resolved,) = evaluator.due(T + 10)
    assert sent([resolved]) == [("resolved", "delays", ("pager",), ["a.example"])]
    why = "the rule was changed in the config (above 0.2 to 0.85, clear_below unset to 0.8)"
    assert (resolved.alerts[0].value, resolved.alerts[0].notes) == (0.6, (why,))
    assert f"    {why}" in console_text(resolved).splitlines()
    assert why in str(slack_message(resolved))


def test_a_resolve_the_rule_as_it_fired_would_make_too_says_nothing_more() -> None:
    """Deliveries bring the ratio under both rules' thresholds: an ordinary resolve.
    Another metric resolves whatever the value: that says why."""
    pipeline, evaluator = firing(parse_config(SINKS + rule()), "a.example")
    assert reloaded(evaluator, SINKS + rule().replace("0.2", "0.3"), T + 5) == []
    for i in range(40):
        pipeline.feed(f.raw(f.delivery([f"late{i}@a.example"], at=T + 10)), "q", T + 10)
    evaluator.evaluate(pipeline.ledger, T + 10)
    (resolved,) = evaluator.due(T + 10)
    assert (resolved.kind, resolved.alerts[0].notes) == ("resolved", ())
    pipeline, evaluator = firing(parse_config(SINKS + rule()), "a.example")
    bounces = rule().replace('"delay_ratio"', '"bounce_ratio"')
    assert reloaded(evaluator, SINKS + bounces, T + 5) == []
    evaluator.evaluate(pipeline.ledger, T + 10)
    (resolved,) = evaluator.due(T + 10)
    assert resolved.alerts[0].notes == (
        "the rule was changed in the config (metric delay_ratio to bounce_ratio)",
    )


def test_a_restart_under_raised_thresholds_says_why_its_alert_resolved() -> None:
    pipeline, evaluator = firing(parse_config(SINKS + rule()), "a.example")
    blob = snapshot(pipeline.ledger, evaluator, T + 1)
    again, _ = restarted(blob, SINKS + rule().replace("0.2", "0.7"), T + 5)
    again.evaluate(pipeline.ledger, T + 10)
    (resolved,) = again.due(T + 10)
    assert resolved.alerts[0].notes == ("the rule was changed in the config (above 0.2 to 0.7)",)


def test_a_changed_key_is_named_as_the_config_file_writes_it() -> None:
    """A whole number is written without a decimal point, a flag as TOML writes it."""
    counted = rule().replace('"delay_ratio"', '"pending_delays"').replace("0.2", "10")
    bounces = rule(extra='sinks = ["pager"]\ninclude_suppressed = true\n')
    for changed, why in [
        (counted, "metric delay_ratio to pending_delays, above 0.2 to 10"),
        (bounces.replace('"delay_ratio"', '"bounce_ratio"'),
         "metric delay_ratio to bounce_ratio, include_suppressed false to true"),
    ]:  # fmt: skip
        pipeline, evaluator = firing(parse_config(SINKS + rule()), "a.example")
        assert reloaded(evaluator, SINKS + changed, T + 5) == []
        evaluator.evaluate(pipeline.ledger, T + 10)
        (resolved,) = evaluator.due(T + 10)
        assert resolved.alerts[0].notes == (f"the rule was changed in the config ({why})",)


def test_a_sink_added_after_a_restart_gets_a_firing_of_the_figures_read_since() -> None:
    """After a restart an alert still firing is kept for resends as a repeat; a sink
    the rule names anew is sent it as a firing (with the figures read), not a repeat
    of an alert it never got."""
    pipeline, evaluator = firing(parse_config(SINKS + rule()), "a.example")
    blob = snapshot(pipeline.ledger, evaluator, T + 1)
    config = parse_config(SINKS + rule())
    again, ledger = Evaluator(config.alerts, WINDOWS), Pipeline(core_settings(config)).ledger
    assert restore(blob, ledger, again, T + 2)["alerts"] == 1
    assert again.evaluate(ledger, T + 3) == []
    assert [a.kind for a in again.current.values()] == ["repeat"]
    owed = reloaded(again, SINKS + rule(extra='sinks = ["pager", "chat"]\n'), T + 5)
    assert sent(owed) == [("firing", "delays", ("chat",), ["a.example"])]
    (alert,) = owed[0].alerts
    assert (alert.kind, alert.at, alert.counts["delivery_delay"]) == ("firing", T + 5, 6)


def test_a_changed_rule_after_an_unchanged_one_says_why_its_alert_resolved() -> None:
    """The rule listed first is kept as it was: the changed one after it is still
    tracked, and its resolve says what changed."""
    other = rule("other", 'sinks = ["chat"]\n').replace("delay_ratio", "bounce_ratio")
    pipeline, evaluator = firing(parse_config(SINKS + other + rule()), "a.example")
    assert reloaded(evaluator, SINKS + other + rule().replace("0.2", "0.7"), T + 5) == []
    evaluator.evaluate(pipeline.ledger, T + 10)
    (resolved,) = evaluator.due(T + 10)
    assert resolved.alerts[0].notes == ("the rule was changed in the config (above 0.2 to 0.7)",)


def test_a_changed_rule_removed_by_the_next_reload_resolves_as_removed() -> None:
    """A reload raises the threshold of a firing rule (its alert kept to say why if it
    resolves); the next removes the rule: the resolve says it was removed, and what
    was kept of the alert is forgotten."""
    evaluator = firing(parse_config(SINKS + rule()), "a.example")[1]
    assert reloaded(evaluator, SINKS + rule().replace("0.2", "0.7"), T + 5) == []
    assert list(evaluator.rechecked.fired) == [("delays", "a.example")]
    owed = reloaded(evaluator, SINKS + rule("other"), T + 6)
    assert sent(owed) == [("resolved", "delays", ("pager",), ["a.example"])]
    assert owed[0].alerts[0].notes == ("the rule was removed from the config",)
    assert evaluator.rechecked.fired == {}


def test_a_domain_alert_a_reload_ends_names_its_provider_as_its_firing_did() -> None:
    """gmail.com fires, its mailbox provider known; a reload excludes it. The resolve
    names the provider as the firing did (``gmail.com (provider google)``): the on-call
    reads the two as one incident."""
    config = parse_config(SINKS + rule())
    pipeline, evaluator = firing(config, "gmail.com")
    excluded = 'sinks = ["pager"]\nexclude_domains = ["gmail.com"]\n'
    evaluator.configure(
        parse_config(SINKS + rule(extra=excluded)).alerts, WINDOWS, T + 5, pipeline.ledger
    )
    (owed,) = evaluator.due(T + 5, flush=True)
    (alert,) = owed.alerts
    assert (alert.kind, alert.provider) == (Transition.RESOLVED, "google")
