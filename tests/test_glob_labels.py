"""Which labels a rule's glob is compared with at run time, and the config held to the
same: the evaluator (sesd.alerting.labels) compares a domain glob with every domain
label, sesd's ``other`` (domains past the cap) included; a provider or tenant glob
never with sesd's ``unknown`` (a restart with nothing resolved, or no tenant map,
would page on all of the mail), which a rule watches by name only; a rule on what SES
says of tenants meets no label of sesd's own but the quoted names. A glob that matches
only a label its rule never compares it with watches nothing, so the config refuses
it, saying which label and why; an exclusion's such glob leaves out what the rule's
globs leave out already, and is warned of."""

from __future__ import annotations

from pathlib import Path

import pytest

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import Transition
from sesd.commands.main import main
from sesd.config import ConfigError, core_settings, parse_config
from sesd.core.pipeline import Pipeline
from tests import factory as f
from tests.test_tenants import NOW, PAUSED_RULE, TENANTS, _event, _status_event

_RULE = '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "5m"\nabove = 0.1\n'
_SECOND = _RULE.replace('"r"', '"s"')
_PROVIDERS = '[providers]\nenabled = true\nmx = {acme = ["mx.acme.example"]}\n'


def _fired(config_text: str, events: list[tuple[str, str, dict[str, list[str]]]]) -> list[str]:
    """The labels the config's rules fire on after ``events`` (kind, address, tags)."""
    config = parse_config(config_text)
    pipeline = Pipeline(core_settings(config))
    for kind, address, tags in events:
        pipeline.feed(_event(kind, address, tags=tags), "q", NOW)
    evaluator = Evaluator(config.alerts, [s.name for s in pipeline.ledger.specs])
    fired = evaluator.evaluate(pipeline.ledger, NOW + 1)
    assert {a.kind for a in fired} <= {Transition.FIRING}
    return sorted(a.domain for a in fired)


def _half_delayed(
    addresses: list[str], tags: dict[str, list[str]] | None = None
) -> list[tuple[str, str, dict[str, list[str]]]]:
    """A delivery and a delay to each address."""
    return [(kind, a, tags or {}) for a in addresses for kind in ("delivery", "delay")]


def test_a_domain_glob_is_compared_with_other_the_domains_past_the_cap() -> None:
    """``oth*`` is taken by the config as matching sesd's ``other``; the evaluator
    compares a domain glob with every domain label, ``other`` included, so the rule
    fires on the domains counted there. (Domains have no label ``unknown``: a
    recipient without a usable domain counts under none.)"""
    config = "[domains]\nmax_tracked = 1\n" + _RULE + 'domains = ["oth*"]\n'
    events = _half_delayed(["a@first.example", "b@second.example", "c@third.example"])
    assert _fired(config, events) == ["other"]


@pytest.mark.parametrize("glob", ["unkn*", "u*", "*nown", "unknow[n]"])
def test_a_provider_glob_that_matches_only_unknown_is_refused(glob: str) -> None:
    """``unknown`` (domains not resolved yet, or DNS failing) is a provider label, but
    a glob is never compared with it: the rule watched nothing, while check-config
    took it. It is refused, saying to name ``unknown`` to watch it: in a rule on a
    count (a ratio rule is told why not, as naming it there is warned of:
    tests/test_unknown_provider_rule.py)."""
    count = _RULE.replace("delay_ratio", "delayed_recipients")
    with pytest.raises(ConfigError) as info:
        parse_config(f'{_PROVIDERS}{count}providers = ["{glob}"]\n')
    assert (
        f"alerts.rules[0] (r).providers[0]: {glob!r}, a glob that matches only "
        "'unknown', which a glob never takes (domains not resolved yet): name it "
        '(providers = ["unknown"]) to watch it'
    ) in str(info.value)
    assert "\n" not in str(info.value)
    # An exclusion's glob leaves out what the rule's globs leave out already: nothing.
    # Taken (a config that ran on it loads after an upgrade) and told what it is:
    # naming the label there would watch nothing more, and "name it to watch it" sent
    # a user the wrong way.
    excluding = parse_config(
        f'{_PROVIDERS}{_RULE}providers = ["*"]\nexclude_providers = ["{glob}"]\n'
    )
    assert (
        f"alerts.rules[0] (r).exclude_providers[0]: {glob!r}, a glob that matches only "
        "'unknown', which a glob never takes (domains not resolved yet): the rule's globs "
        "leave it out already; drop the exclusion"
    ) in excluding.warnings()


def test_an_exclude_providers_glob_leaves_out_unknown_where_the_rule_names_it() -> None:
    """A rule naming ``unknown`` and ``google``: its exclusions are compared with the
    labels it names, so ``unkn*`` is taken there, and leaves ``unknown`` out."""
    rule = f'{_PROVIDERS}{_RULE}providers = ["unknown", "google"]\nexclude_providers = ["unkn*"]\n'
    config = parse_config(rule)
    assert not [w for w in config.warnings() if "exclude_providers" in w]
    pipeline = Pipeline(core_settings(config))
    pipeline.feed(f.raw(f.delay(["u@gmail.com", "v@unresolved.example"])), "q", NOW)
    evaluator = Evaluator(config.alerts, [s.name for s in pipeline.ledger.specs])
    fired = evaluator.evaluate(pipeline.ledger, NOW + 1)
    assert [(a.scope, a.domain) for a in fired] == [("provider", "google")]


def test_an_exclude_tenants_glob_leaves_out_unknown_where_the_rule_names_it() -> None:
    """A rule naming ``unknown`` and ``acme``: its exclusions are compared with the
    labels it names, so ``unknow[n]``, which matches no tenant's label but sesd's
    ``unknown``, is taken there (not warned that the rule's globs leave it out already:
    the rule names it), and leaves out the mail no tenant could be told for."""
    tagged = [
        *_half_delayed([f"a{k}@x.example" for k in range(3)], {"tenant": ["acme"]}),
        *_half_delayed([f"n{k}@x.example" for k in range(3)]),
    ]
    rule = f'{TENANTS}{_RULE}tenants = ["unknown", "acme"]\n'
    assert _fired(rule, tagged) == ["acme", "unknown"]
    excluded = rule + 'exclude_tenants = ["unknow[n]"]\n'
    assert _fired(excluded, tagged) == ["acme"]
    assert not [w for w in parse_config(excluded).warnings() if "exclude_tenants" in w]


def test_a_tenant_glob_is_never_compared_with_unknown_but_is_with_other() -> None:
    """A rule on ``tenants = ["*"]`` leaves out ``unknown`` (mail no tenant could be
    told for), which a rule watches by name; the tenants past the cap (``other``) are
    compared with its globs."""
    tagged = [
        *_half_delayed([f"a{k}@x.example" for k in range(3)], {"tenant": ["acme"]}),
        *_half_delayed([f"n{k}@x.example" for k in range(3)]),
        *_half_delayed([f"g{k}@x.example" for k in range(3)], {"tenant": ["globex"]}),
    ]
    capped = TENANTS + "max_tracked = 2\n"  # acme and unknown: globex is past the cap
    assert _fired(f'{capped}{_RULE}tenants = ["*"]\n', tagged) == ["acme", "other"]
    assert _fired(f'{capped}{_RULE}tenants = ["othe[r]"]\n', tagged) == ["other"]
    assert _fired(f'{capped}{_RULE}tenants = ["unknown"]\n', tagged) == ["unknown"]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        # A tenant SES names unknown is labelled 'unknown': only sesd's unknown is left.
        (f'{_RULE}tenants = ["unknow[n]"]', "a glob that matches only 'unknown', which a glob"),
        # What SES says of tenants names them as SES does: other past a cap is not there.
        (
            f'{PAUSED_RULE}tenants = ["othe[r]"]',
            "tenants[0]: 'othe[r]', a glob that matches no tenant label this rule meets (a "
            "tenant SES names other or unknown is labelled quoted: 'other')",
        ),
        (f'{PAUSED_RULE}tenants = ["unknow?"]\n', ""),
    ],
    ids=["unknown-alone", "ses-other", "ses-unknowa"],
)
def test_a_tenant_glob_that_matches_only_a_label_its_rule_never_meets_is_refused(
    rule: str, message: str
) -> None:
    """``unknow[n]`` matches no tenant's label (SES's ``unknown`` is ``'unknown'``) but
    sesd's ``unknown``, which a glob is never compared with: taken, the rule watched
    nothing. A rule on SES's tenant statuses meets no ``other`` either."""
    if not message:  # unknowa, a name SES allows: taken
        assert parse_config(TENANTS + rule).alerts.rules[0].tenants == ["unknow?"]
        return
    with pytest.raises(ConfigError) as info:
        parse_config(TENANTS + rule + "\n")
    assert message in str(info.value)


def test_an_exclusion_glob_of_only_what_the_rules_globs_leave_out_is_warned_of() -> None:
    """An exclusion's glob that matches only sesd's ``unknown`` (or a provider's
    ``none``) leaves out nothing: the rule's globs never take it. It was taken before
    globs left these labels out, and was how a rule on every provider kept them out: a
    config that ran on it loads, the rule fires as it would without it, and
    check-config, the start and a reload tell the user to drop it."""
    tagged = [
        *_half_delayed([f"a{k}@x.example" for k in range(3)], {"tenant": ["acme"]}),
        *_half_delayed([f"n{k}@x.example" for k in range(3)]),
    ]
    rule = f'{TENANTS}{_RULE}tenants = ["*"]\nexclude_tenants = ["[u]nknown"]\n'
    assert _fired(rule, tagged) == _fired(f'{TENANTS}{_RULE}tenants = ["*"]\n', tagged)
    assert _fired(rule, tagged) == ["acme"]
    assert (
        "alerts.rules[0] (r).exclude_tenants[0]: '[u]nknown', a glob that matches only "
        "'unknown', which a glob never takes: the rule's globs leave it out already; drop "
        "the exclusion"
    ) in parse_config(rule).warnings()


def test_check_config_refuses_a_provider_glob_of_unknown_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through the command: ``sesd check-config`` exits 2 naming the rule and the glob,
    where it said the config was fine."""
    path = tmp_path / "sesd.toml"
    path.write_text(f'{_PROVIDERS}{_RULE}providers = ["unkn*"]\n')
    assert main(["check-config", str(path)]) == 2
    assert "providers[0]: 'unkn*', a glob that matches only 'unknown'" in capsys.readouterr().err


def test_check_config_takes_an_exclusion_of_none_alone_and_warns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through the command: a rule on every provider that left out the domains without
    mail with ``exclude_providers = ["non*"]`` (needed before ``*`` left ``none`` out)
    passes ``sesd check-config``, exit 0, with the warning to drop the exclusion, where
    the check (and the start after an upgrade) refused it."""
    path = tmp_path / "sesd.toml"
    queue = '[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/123456789012/q"\n'
    rule = f'{_RULE}providers = ["*"]\nexclude_providers = ["non*"]\n'
    path.write_text(queue + _PROVIDERS + rule)
    assert main(["check-config", "--quiet", str(path)]) == 0
    assert (
        ":12: alerts.rules[0] (r).exclude_providers[0]: 'non*', a glob that "
        "matches only 'none', which a glob never takes (domains without mail: NXDOMAIN, a "
        "null MX): the rule's globs leave it out already; drop the exclusion"
    ) in capsys.readouterr().err


def test_a_rule_on_what_ses_says_of_tenants_leaves_out_what_it_excludes() -> None:
    """``tenants = ["*"]``, ``exclude_tenants = ["test-*"]`` on SES pausing tenants:
    SES pauses acme and test-eu; the rule pages on acme only."""
    config = parse_config(TENANTS + PAUSED_RULE + 'tenants = ["*"]\nexclude_tenants = ["test-*"]\n')
    pipeline = Pipeline(core_settings(config))
    for tenant in ("acme", "test-eu"):
        pipeline.feed(_status_event(tenant, "DISABLED"), "q", NOW)
    evaluator = Evaluator(config.alerts, [s.name for s in pipeline.ledger.specs])
    fired = evaluator.evaluate(pipeline.ledger, NOW + 60)
    assert [(a.kind, a.domain) for a in fired] == [(Transition.FIRING, "acme")]
