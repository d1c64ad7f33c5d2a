"""``sesd silence add --domain NAME`` without ``--rule``, where NAME is a mailbox
provider's (``google``, or ``acme`` of ``[providers.mx]``) and a tenant's a rule on
tenants watches (``Acme``): the silence would mute the tenant's alerts as well as the
provider's. Refused, asking for the ``--rule`` of the tenant's rules; it was refused
as muting nothing, which sent the on-call away from the alerts that were paging."""

from __future__ import annotations

from pathlib import Path

import pytest

from sesd.alerting.silence_file import SilenceFile
from sesd.commands.main import main
from sesd.commands.silence_provider import provider_problem
from sesd.config import parse_config

pytestmark = pytest.mark.timeout(30)

MX = '[providers.mx]\nacme = ["mx.acme.example"]\n'


def _tenants(watched: str) -> str:
    return (
        '[tenants]\nenabled = true\n[[alerts.rules]]\nname = "tenant-delays"\n'
        f'metric = "delay_ratio"\nwindow = "5m"\nabove = 0.1\ntenants = [{watched}]\n'
    )


@pytest.mark.parametrize(
    ("name", "watched"),
    [
        ("acme", '"Acme"'),
        ("Acme", '"Acme"'),
        ("acme", '"*"'),
        ("acme", '"Ac*"'),
        # The glob takes Acme (its A is no a): a silence of acme mutes Acme's alerts.
        ("acme", '"[!a]cme"'),
        ("acme", '"[!A-Z]CME"'),
        ("google", '"Google"'),
        ("google", '"*"'),
    ],
)
def test_a_provider_named_as_a_watched_tenant_asks_for_the_tenants_rule(
    name: str, watched: str
) -> None:
    config = parse_config(MX + _tenants(watched))
    assert provider_problem(config, name, None) == (
        f"--domain {name} names the mailbox provider and a tenant {name.lower()}: add "
        f"--rule to say which alerts: --rule tenant-delays for a tenant {name.lower()}'s"
    )
    assert provider_problem(config, name, "tenant-delays") == ""


@pytest.mark.parametrize("watched", ['"Shop"', '"[!aA]cme"', '"acme?"'])
def test_a_provider_no_rule_alerts_on_is_refused_as_muting_nothing_still(watched: str) -> None:
    """A rule on tenants that watches no tenant acme in any case: nothing alerts on it."""
    config = parse_config(MX + _tenants(watched))
    assert provider_problem(config, "acme", None).endswith("it would mute nothing")


def test_silence_add_with_the_rule_asked_for_mutes_the_tenants_alerts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "sesd.toml"
    silences = tmp_path / "silences.json"
    path.write_text(f'[alerts]\nsilences_path = "{silences}"\n{MX}' + _tenants('"Acme"'))
    add = ["silence", "add", "--config", str(path), "--domain", "acme", "--for", "1h"]
    assert main([*add, "--comment", "c"]) != 0
    assert "--rule tenant-delays for a tenant acme's" in capsys.readouterr().err
    assert main([*add, "--comment", "c", "--rule", "tenant-delays"]) == 0
    [silence] = SilenceFile(str(silences)).read()
    assert silence.matches("tenant-delays", "Acme", "info")


_PROVIDERS = (
    '[providers]\nenabled = true\n[[alerts.rules]]\nname = "provider-delays"\n'
    'metric = "delay_ratio"\nwindow = "5m"\nabove = 0.1\nproviders = ["acme"]\n'
)


@pytest.mark.parametrize(
    ("watched", "excluded"),
    [('"Acme*"', '"Acme"'), ('"*"', '"[aA]*"'), ('"*"', '"[aA][cC][mM][eE]"')],
)
def test_a_tenant_rule_leaving_out_every_acme_is_not_asked_for(watched: str, excluded: str) -> None:
    """The rule's glob takes a tenant acme in some case, but its exclusions leave out
    each such one: it never fires on one, and a silence of acme needs no ``--rule``
    for it. The line named it all the same, beside the provider's rule, and alone was
    no refusal as muting nothing."""
    tenants = _tenants(watched) + f"exclude_tenants = [{excluded}]\n"
    assert provider_problem(parse_config(MX + _PROVIDERS + tenants), "acme", None) == (
        "--domain acme names the mailbox provider acme: add --rule to say which alerts: "
        "--rule provider-delays for the provider's"
    )
    assert provider_problem(parse_config(MX + tenants), "acme", None).endswith(
        "it would mute nothing"
    )


@pytest.mark.parametrize("excluded", ['"Acme"', '"acme", "Acme", "ACME"', '"[aA]cme"'])
def test_a_tenant_rule_leaving_out_some_acme_is_asked_for_still(excluded: str) -> None:
    """``*`` less ``Acme`` still takes ``ACME`` or ``AcMe``: the rule may fire on a
    tenant a silence of acme mutes."""
    tenants = _tenants('"*"') + f"exclude_tenants = [{excluded}]\n"
    assert provider_problem(parse_config(MX + _PROVIDERS + tenants), "acme", None) == (
        "--domain acme names the mailbox provider and a tenant acme: add --rule to say "
        "which alerts: --rule provider-delays for the provider's; --rule tenant-delays for "
        "a tenant acme's"
    )


_LONG = "a" * 32
#: A glob taking a name whose eleventh character from the end is an ``a``, in this
#: case: each case of the name's last twenty characters reads apart.
_APART = '"*a' + "?" * 20 + 'x"'


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    ("watched", "excluded", "asked"),
    [
        # The glob wants an x last: no case of the name is taken, exactly.
        (_APART, "", False),
        # Its exclusion takes none either: every other case is taken.
        ('"*"', _APART, True),
        # Both exclusions leave out every case, but following them apart is past the
        # bound: the rule is named, as it may fire.
        ('"*"', _APART.replace("x", "") + ', "*A' + "?" * 20 + '"', True),
    ],
)
def test_a_long_provider_name_against_globs_telling_many_cases_apart_is_answered_at_once(
    watched: str, excluded: str, asked: bool
) -> None:
    """A 32-character name is 2^32 cases; each of its last twenty told apart by a glob
    (as ``*a????????????????????x`` does) held ``sesd silence add`` for hours. The
    places in a watched glob are followed each on its own, and the exclusions' up to
    a bound: the answer comes at once."""
    tenants = _tenants(watched) + (f"exclude_tenants = [{excluded}]\n" if excluded else "")
    config = parse_config(f'[providers.mx]\n{_LONG} = ["mx.a.example"]\n' + tenants)
    said = provider_problem(config, _LONG, None)
    assert said.endswith(f"--rule tenant-delays for a tenant {_LONG}'s") is asked
    assert said.endswith("it would mute nothing") is not asked
