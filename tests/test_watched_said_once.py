"""What a rule on providers or tenants is told of sesd's own labels, ``unknown`` and a
provider's ``none``, which its globs never take: an exclusion of them leaves out
nothing whether it is written as a glob or by name, and is warned of either way; a
glob or a name written twice in one list is warned of once, at its first place; a
glob of them alone beside their name is refused with advice that fits what the rule
already names."""

from __future__ import annotations

from pathlib import Path

import pytest

from sesd.commands.main import main
from sesd.config import ConfigError, parse_config

pytestmark = pytest.mark.timeout(60)

_RULE = '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "5m"\nabove = 0.1\n'
_COUNT = _RULE.replace("delay_ratio", "delayed_recipients")
_PROVIDERS = "[providers]\nenabled = true\n"
_TENANTS = "[tenants]\nenabled = true\n"
_NONE = "which a glob never takes (domains without mail: NXDOMAIN, a null MX)"
_UNKNOWN = "which a glob never takes (domains not resolved yet)"
_DROP = "the rule's globs leave it out already; drop the exclusion"


def _rule_warnings(text: str) -> list[str]:
    """The warnings of ``text`` that name a rule."""
    return [w for w in parse_config(text).warnings() if w.startswith("alerts.rules")]


@pytest.mark.parametrize(
    ("name", "holds"), [("none", _NONE), ("unknown", _UNKNOWN)], ids=["none", "unknown"]
)
def test_an_exclusion_naming_what_the_rules_globs_leave_out_is_warned_of(
    name: str, holds: str
) -> None:
    """``exclude_providers = ["none"]`` in a rule on every provider leaves out what
    ``*`` leaves out already, as ``non*`` does: the glob was warned of and the name,
    which does the same, was not. Both are now, with the same advice."""
    rule = f'{_PROVIDERS}{_RULE}providers = ["*"]\nexclude_providers = ["{name}"]\n'
    assert _rule_warnings(rule) == [
        f"alerts.rules[0] (r).exclude_providers[0]: {name!r}, {holds}: {_DROP}"
    ]
    glob = rule.replace(f'["{name}"]', f'["{name[:3]}*"]')
    assert _rule_warnings(glob) == [
        f"alerts.rules[0] (r).exclude_providers[0]: '{name[:3]}*', a glob that matches only "
        f"{name!r}, {holds}: {_DROP}"
    ]


def test_an_exclusion_naming_what_a_rule_of_names_alone_leaves_out_says_so() -> None:
    """A rule naming its providers, no glob among them, leaves out ``none`` too: its
    exclusion is warned of, said of the rule's names, not of globs it has none of."""
    rule = f'{_PROVIDERS}{_RULE}providers = ["google"]\nexclude_providers = ["none", "non*"]\n'
    assert _rule_warnings(rule) == [
        f"alerts.rules[0] (r).exclude_providers[0]: 'none', {_NONE}: the rule does not "
        "name it, so leaves it out already; drop the exclusion",
        "alerts.rules[0] (r).exclude_providers[1]: 'non*', a glob that matches only 'none', "
        f"{_NONE}: the rule does not name it, so leaves it out already; drop the exclusion",
    ]


def test_an_exclusion_of_a_label_the_rule_names_is_not_warned_of() -> None:
    """Where the rule names ``unknown`` and ``google``, excluding ``unknown`` (or a
    provider) leaves something out: nothing is said."""
    rule = f'{_PROVIDERS}{_RULE}providers = ["*"]\nexclude_providers = ["google"]\n'
    assert _rule_warnings(rule) == []
    count = f'{_PROVIDERS}{_COUNT}providers = ["unknown", "google"]\n'
    assert _rule_warnings(count + 'exclude_providers = ["unknown"]\n') == []


def test_an_exclusion_naming_unknown_in_a_rule_on_every_tenant_is_warned_of() -> None:
    """``exclude_tenants = ["unknown"]`` beside ``tenants = ["*"]``: the glob never
    takes sesd's ``unknown``, so the name leaves out nothing, as ``unknow[n]`` there
    (warned of) does not."""
    rule = f'{_TENANTS}{_RULE}tenants = ["*"]\nexclude_tenants = ["unknown"]\n'
    assert _rule_warnings(rule) == [
        f"alerts.rules[0] (r).exclude_tenants[0]: 'unknown', which a glob never takes: {_DROP}"
    ]
    named = f'{_TENANTS}{_COUNT}tenants = ["unknown", "acme"]\nexclude_tenants = ["unknown"]\n'
    assert _rule_warnings(named) == []


@pytest.mark.parametrize(
    ("rule", "first"),
    [
        (f'{_PROVIDERS}{_RULE}providers = ["*"]\nexclude_providers = ["non*", "non*"]\n', "'non*'"),
        (f'{_PROVIDERS}{_RULE}providers = ["*"]\nexclude_providers = ["none", "none"]\n', "'none'"),
        (f'{_TENANTS}{_RULE}tenants = ["*"]\nexclude_tenants = ["unknow[n]", "unknow[n]"]\n',
         "'unknow[n]'"),
        (f'{_PROVIDERS}{_RULE}providers = ["google", "unknown", "unknown"]\n', "'unknown'"),
    ],
    ids=["provider-glob", "provider-name", "tenant-glob", "ratio-on-unknown"],
)  # fmt: skip
def test_a_glob_or_name_written_twice_in_one_list_is_warned_of_once(rule: str, first: str) -> None:
    """Written twice in the same list, it was warned of twice, the same words at two
    places: once is enough, at its first place, naming it."""
    (warning,) = _rule_warnings(rule)
    place = "[1]" if "google" in rule else "[0]"
    assert f"{place}: {first}" in warning


def test_check_config_says_an_exclusion_by_name_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through the command: exit 0, the warning once, on the line of the list."""
    path = tmp_path / "sesd.toml"
    queue = '[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/123456789012/q"\n'
    rule = f'{_RULE}providers = ["*"]\nexclude_providers = ["none", "none"]\n'
    path.write_text(queue + _PROVIDERS + rule)
    assert main(["check-config", "--quiet", str(path)]) == 0
    err = capsys.readouterr().err
    assert err.count("exclude_providers") == 1, err
    assert f":11: alerts.rules[0] (r).exclude_providers[0]: 'none', {_NONE}: {_DROP}" in err


@pytest.mark.parametrize(
    ("named", "holds"), [("unknown", _UNKNOWN), ("none", _NONE)], ids=["unknown", "none"]
)
def test_a_glob_of_a_label_the_rule_names_already_is_told_so(named: str, holds: str) -> None:
    """``providers = ["unknown", "unknow[n]"]``: the glob watches nothing (it never
    takes ``unknown``) and is refused, but the advice was to name ``unknown``, which
    the rule does. It says the rule names it already, and to drop the glob."""
    glob = f"{named[:-1]}[{named[-1]}]"
    with pytest.raises(ConfigError) as info:
        parse_config(f'{_PROVIDERS}{_COUNT}providers = ["{named}", "{glob}"]\n')
    assert str(info.value).endswith(
        f"alerts.rules[0] (r).providers[1]: {glob!r}, a glob that matches only {named!r}, "
        f"{holds}: the rule names it already, which watches it: drop the glob"
    )
    # Not named, the advice is still to name it.
    with pytest.raises(ConfigError) as info:
        parse_config(f'{_PROVIDERS}{_COUNT}providers = ["google", "{glob}"]\n')
    assert f'name it (providers = ["{named}"]) to watch it' in str(info.value)


def test_a_tenant_glob_of_unknown_beside_its_name_is_told_so() -> None:
    """``tenants = ["unknown", "unknow[n]"]``: refused as the glob watches nothing, and
    told that the rule names ``unknown`` already, not to name it."""
    with pytest.raises(ConfigError) as info:
        parse_config(f'{_TENANTS}{_COUNT}tenants = ["unknown", "unknow[n]"]\n')
    assert str(info.value).endswith(
        "alerts.rules[0] (r).tenants[1]: 'unknow[n]', a glob that matches only 'unknown', "
        "which a glob never takes: the rule names it already, which watches it: drop the "
        "glob"
    )
    with pytest.raises(ConfigError) as info:
        parse_config(f'{_TENANTS}{_COUNT}tenants = ["unknow[n]"]\n')
    assert str(info.value).endswith("which a glob never takes: name it to watch it")
