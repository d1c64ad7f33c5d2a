"""A canary rule (``canary_missing``, ``canary_send_latency_seconds``) reads the canary
alone: one alert, domain ``canary``, whatever it names. Its ``domains`` (providers,
tenants, and what it leaves out) were taken and never read, in silence: the user
believed the rule watched them. check-config, the start and a reload say they do
nothing, and what watches them."""

from __future__ import annotations

from pathlib import Path

import pytest

from sesd.commands.main import main
from sesd.config import core_settings, parse_config
from sesd.config.said_anew import new_warnings
from sesd.core.pipeline import Pipeline
from tests import factory as f

pytestmark = pytest.mark.timeout(60)

_QUEUE = '[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/123456789012/q"\n'
_CANARY = '[canary]\nfrom = "canary@example.com"\nconfiguration_set = "c"\n'
_RULE = '[[alerts.rules]]\nname = "c"\nmetric = "canary_missing"\nwindow = "15m"\nabove = 0\n'
_SAID = (
    "canary_missing reads the canary alone, one alert (domain 'canary'), whatever the rule names"
)


def _rule_warnings(text: str) -> list[str]:
    """The warnings of ``text`` that name a rule."""
    return [w for w in parse_config(text).warnings() if w.startswith("alerts.rules")]


def test_a_canary_rules_domains_are_said_to_do_nothing() -> None:
    """``domains = ["example.com"]`` on a canary rule: the alert is the canary's, the
    domain's mail is watched by no rule. Said once for the key, with what watches it;
    the same for what the rule leaves out."""
    assert _rule_warnings(_CANARY + _RULE + 'domains = ["example.com", "example.org"]\n') == [
        f"alerts.rules[0] (c).domains: {_SAID}: its domains watch nothing; leave domains "
        "out of it (a rule on another metric, such as delay_ratio, watches domains)"
    ]
    assert _rule_warnings(_CANARY + _RULE + 'exclude_domains = ["example.com"]\n') == [
        f"alerts.rules[0] (c).exclude_domains: {_SAID}: its exclude_domains leave out "
        "nothing; leave exclude_domains out of it"
    ]


@pytest.mark.parametrize(
    ("section", "keys", "key"),
    [
        ("[providers]\nenabled = true\n", 'providers = ["google"]\n', "providers"),
        ("[tenants]\nenabled = true\n", 'tenants = ["acme"]\n', "tenants"),
    ],
    ids=["providers", "tenants"],
)
def test_a_canary_rules_providers_and_tenants_are_said_to_do_nothing(
    section: str, keys: str, key: str
) -> None:
    """As its domains: a canary rule on providers or tenants reads the canary alone."""
    latency = _RULE.replace("canary_missing", "canary_send_latency_seconds")
    said = _SAID.replace("canary_missing", "canary_send_latency_seconds")
    assert _rule_warnings(_CANARY + section + latency + keys) == [
        f"alerts.rules[0] (c).{key}: {said}: its {key} watch nothing; leave {key} out of it "
        f"(a rule on another metric, such as delay_ratio, watches {key})"
    ]


def test_a_canary_rule_without_them_or_on_every_domain_says_nothing() -> None:
    """Without them, or with ``domains = ["*"]`` (what a rule without them reads as,
    and how the rule is saved in the state file), nothing is said."""
    assert _rule_warnings(_CANARY + _RULE) == []
    assert _rule_warnings(_CANARY + _RULE + 'domains = ["*"]\n') == []


@pytest.mark.parametrize(
    ("section", "key"),
    [("[providers]\nenabled = true\n", "providers"), ("[tenants]\nenabled = true\n", "tenants")],
    ids=["providers", "tenants"],
)
def test_a_canary_rule_on_every_provider_or_tenant_is_said_to_watch_nothing(
    section: str, key: str
) -> None:
    """``providers = ["*"]`` is no rule's default, as ``domains = ["*"]`` is: the user
    wrote it, believing the canary rule watched every provider's mail, and was told
    nothing."""
    assert _rule_warnings(_CANARY + section + _RULE + f'{key} = ["*"]\n') == [
        f"alerts.rules[0] (c).{key}: {_SAID}: its {key} watch nothing; leave {key} out of it "
        f"(a rule on another metric, such as delay_ratio, watches {key})"
    ]


def test_a_reload_says_it_once_brought(tmp_path: Path) -> None:
    """A reload that adds ``domains`` to a canary rule says it (what a reload logs is
    what its config brought), and one that keeps it does not say it again."""
    old = parse_config(_QUEUE + _CANARY + _RULE)
    new = parse_config(_QUEUE + _CANARY + _RULE + 'domains = ["example.com"]\n')
    assert [w for w in new_warnings(old, new) if w.startswith("alerts.rules")] == [
        f"alerts.rules[0] (c).domains: {_SAID}: its domains watch nothing; leave domains "
        "out of it (a rule on another metric, such as delay_ratio, watches domains)"
    ]
    assert not [w for w in new_warnings(new, new) if w.startswith("alerts.rules")]


def test_check_config_says_it_on_the_rules_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through the command: exit 0, the warning on the line of the key."""
    path = tmp_path / "sesd.toml"
    path.write_text(_QUEUE + _CANARY + _RULE + 'domains = ["example.com"]\n')
    assert main(["check-config", "--quiet", str(path)]) == 0
    assert f":11: alerts.rules[0] (c).domains: {_SAID}" in capsys.readouterr().err


def test_a_canary_rules_domains_and_tenants_take_no_label_of_their_own() -> None:
    """A domain a rule names is tracked (its own label past ``max_tracked``, its series
    from the start) so that its rule can fire on it. A canary rule's domains and
    tenants were tracked too, though the rule reads the canary alone: with
    ``max_tracked = 0`` (every domain under ``other``) its example.com still got a
    label of its own. They are no longer tracked: counted as any other domain is."""
    capped = "[domains]\nmax_tracked = 0\n[tenants]\nenabled = true\n"
    on_tenants = _RULE.replace('"c"', '"t"') + 'tenants = ["acme"]\n'
    text = _QUEUE + _CANARY + capped + _RULE + 'domains = ["example.com"]\n' + on_tenants
    settings = core_settings(parse_config(text))
    assert settings.track == ()
    assert settings.tenants_track == ()
    pipeline = Pipeline(settings)
    pipeline.feed(f.raw(f.delivery(["ann@example.com"])), "q", f.T0)
    assert list(pipeline.ledger.windows) == ["other"]
    # A rule on the mail naming it still tracks it.
    mail = text + '[[alerts.rules]]\nname = "d"\nmetric = "delay_ratio"\nwindow = "15m"\n'
    mail += 'above = 0.1\ndomains = ["example.com"]\n'
    assert core_settings(parse_config(mail)).track == ("example.com",)
