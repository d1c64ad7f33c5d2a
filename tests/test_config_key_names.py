"""A value a section's own check refuses is named by its dotted key, as README names
keys and as a value of the wrong type or a key mistyped is named: ``aws.region: ...``,
not ``aws: region: ...``, which reads as two keys, and which a search for the key as
README writes it does not find."""

from __future__ import annotations

import pytest

from sesd.config import ConfigError, parse_config

pytestmark = pytest.mark.timeout(30)

_QUEUE = '[[queues]]\nurl = "https://sqs.us-east-1.amazonaws.com/1/q"\n'
_RULE = '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "5m"\nabove = 0.1\n'
_ROLE = 'name = "a"\nrole_arn = "arn:aws:iam::123456789012:role/sesd"\n'


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('[aws]\nregion = "nowhere"', "aws.region: 'nowhere' is not an AWS region (e.g. "
         "eu-west-1)"),
        (_QUEUE + "concurrency = 0", "queues[0].concurrency: must be between 1 and 64"),
        (_QUEUE + 'region = "eu-west-1"', "queues[0].region: 'eu-west-1' is not the region the "
         "URL names ('us-east-1'): leave `region` out"),
        (f"[[accounts]]\n{_ROLE}region = \"x\"", "accounts[0].region: 'x' is not an AWS region "
         "(e.g. eu-west-1)"),
        ('[http]\nlisten = "bogus"', "http.listen: must be HOST:PORT, got 'bogus'"),
        # A port of digits that are not ASCII's: '²' raised int()'s own message, and
        # '٩٥٨٥' was read as 9585 where no other reader of the address would.
        ('[http]\nlisten = "127.0.0.1:²"', "http.listen: must be HOST:PORT, got '127.0.0.1:²'"),
        ('[http]\nlisten = "h:٩٥٨٥"', "http.listen: must be HOST:PORT, got 'h:٩٥٨٥'"),
        ('[http]\nlisten = "127.0.0.1:99999"', "http.listen: '127.0.0.1:99999': port 99999 is "
         "over 65535"),
        ('[domains]\ntrack = ["a b"]', "domains.track[0]: 'a b' is not a usable domain name"),
        # One of a list: its index, as msgspec's own path names an item.
        ('[domains]\ntrack = ["x.com", "a b"]',
         "domains.track[1]: 'a b' is not a usable domain name"),
        ('[domains]\ngroups = {mail = ["a b"]}', "domains.groups.mail[0]: 'a b' is not a "
         "usable domain name"),
        ("[dimensions]\nmax_tracked = -1", "dimensions.max_tracked: must not be negative"),
        ('[alerts]\nevaluate_every = "1ms"', "alerts.evaluate_every: must be at least 100ms (it "
         "is 1ms)"),
        ('[alerts.slack]\nwebhook_url = "https://h.example/x"\ntimeout = "0s"',
         "alerts.slack.timeout: must be at least 100ms (0 would wait for ever)"),
        ('[alerts.sinks.chat]\ntype = "slack"\nwebhook_url = "https://h.example/x"\n'
         'timeout = "10m"', "alerts.sinks.chat.timeout: '10m' is over 5m: a receiver that hangs "
         "would hold every notification behind it that long (a bare number is seconds)"),
        (_RULE + "min_events = -1", "alerts.rules[0] (r).min_events: must not be negative"),
        # A URL that is none: the key that holds it, where the table alone was named.
        ('[[queues]]\nurl = "ftp://x/q"', "queues[0].url: 'ftp://x/q' is not an http(s) URL"),
        ('[aws]\nendpoint_url = "nope"', "aws.endpoint_url: 'nope' is not an http(s) URL"),
        ('[account_health]\ncloudwatch_endpoint_url = "nope"', "account_health."
         "cloudwatch_endpoint_url: 'nope' is not an http(s) URL"),
        ('[alerts.sinks.am]\ntype = "alertmanager"\nurls = ["am:9093"]', "alerts.sinks.am.urls[0]: "
         "'am:9093' is not an http(s) URL"),
        # One of a list: its index too, as a type error's path has it.
        ('[alerts.sinks.am]\ntype = "alertmanager"\nurls = ["http://a:9093", "am:9093"]',
         "alerts.sinks.am.urls[1]: 'am:9093' is not an http(s) URL"),
        ('[alerts.pagerduty]\nrouting_key = "k"\nevents_url = "nope"', "alerts.pagerduty."
         "events_url: 'nope' is not an http(s) URL"),
        (_RULE + 'runbook_url = "x"', "alerts.rules[0] (r).runbook_url: 'x' is not an http(s) "
         "URL"),
        # An account's name, said as "account name" where the key is name.
        ('[[accounts]]\nname = "a b"\n' 'role_arn = "arn:aws:iam::123456789012:role/sesd"',
         "accounts[0].name: 'a b': ASCII letters, digits, '_', '.', '-', at most 64 ('default' is "
         "the default "
         "credential chain)"),
        # A group's name refused: the group's key, quoted as TOML quotes it when not bare.
        ('[domains]\ngroups = { other = ["x.com"] }',
         "domains.groups.other: the name is reserved"),
        ('[domains]\ngroups = { "" = ["x.com"] }', 'domains.groups."": the name is reserved'),
        # One of a list refused: its index, as a type error's path names it (the table
        # alone was named, and "window", which is no key).
        ('[windows]\nsizes = ["5m", "1h", "5m"]', "windows.sizes[2]: 5m is listed twice"),
        ('[windows]\nsizes = ["5m", "5s"]', "windows.sizes[1]: 5s is shorter than the "
         "resolution (10s)"),
        # A key's value refused whole, where " is " after the key read as no key.
        ('[state]\npath = ""', "state.path: empty: leave it out to keep no state file, or "
         "give the file's path"),
        # A table's key that names something (a provider, a sink): that key, escaped and
        # quoted as TOML quotes a key that is not bare, where the table alone was named.
        ('[providers.mx]\nOther = ["mx.example"]', "providers.mx.Other: not a usable provider "
         "label (lower-case ASCII letters, digits, '_' and '-', first a letter, at most 32; not "
         "other, none or unknown)"),
        ('[providers.mx]\n"a\\u001bb" = ["mx.example"]', 'providers.mx."a\\u001bb": not a '
         "usable provider label (lower-case ASCII letters, digits, '_' and '-', first a "
         "letter, at most 32; not other, none or unknown)"),
        ('[alerts.sinks.console]\ntype = "slack"\nwebhook_url = "https://h.example/x"',
         "alerts.sinks.console: the name is kept for standard output"),
        # A rule's window not among the sizes: the rule's key, as its other keys are named.
        (_RULE.replace('"5m"', '"7m"'), "alerts.rules[0] (r).window: '7m' is not one of "
         "windows.sizes (5m, 15m, 1h)"),
        # A rule's or a sink's name, a label's: the key that holds it.
        (_RULE.replace('"r"', '"a b"'), "alerts.rules[0] (a b).name: 'a b': use ASCII "
         "letters, digits, '-', '_', '.', ':', at most 64"),
        (_RULE + _RULE, "alerts.rules[1] (r).name: 'r' is alerts.rules[0]'s name too"),
        (_RULE.replace("delay_ratio", "latency"), "alerts.rules[0] (r).metric: 'latency' is "
         "unknown (known: delay_ratio, "),
        (_RULE.replace("delay_ratio", "cause_ratio") + 'cause = "gremlins"',
         "alerts.rules[0] (r).cause: 'gremlins' is unknown (known: ses_internal, "),
        ('[alerts.sinks."a b"]\ntype = "console"', 'alerts.sinks."a b": a sink\'s name is of '
         "ASCII letters, digits, '-', '_', '.', ':', at most 64"),
        (_RULE + 'labels = {"a\\u001bb" = "x"}', 'alerts.rules[0] (r).labels."a\\u001bb": a '
         "label's name is of ASCII letters, digits and '_', not first a digit, at most 128"),
        (_RULE + "labels = {severity = \"x\"}", "alerts.rules[0] (r).labels.severity: set by sesd"),
        (_RULE + 'labels = {team = ""}', "alerts.rules[0] (r).labels.team: give it a value "
         "(Alertmanager drops empty ones)"),
        # A rule's provider or sink that is none: the key and index that name it, where
        # the rule alone was named and the provider could be in either list.
        (_RULE + 'providers = ["google", "zz"]', "alerts.rules[0] (r).providers[1]: unknown "
         "provider 'zz' (known: apple, "),
        (_RULE + 'providers = ["*"]\nexclude_providers = ["zz"]', "alerts.rules[0] (r)."
         "exclude_providers[0]: unknown provider 'zz' (known: apple, "),
        (_RULE + 'sinks = ["console", "zz"]', "alerts.rules[0] (r).sinks[1]: sink 'zz' is not "
         "configured (configured: console; add [alerts.sinks.zz])"),
        # Slack and PagerDuty by the names README gives them: their own tables, which
        # need no type ([alerts.sinks.slack] without one is refused in turn).
        (_RULE + 'sinks = ["slack"]', "alerts.rules[0] (r).sinks[0]: sink 'slack' is not "
         "configured (configured: console; add [alerts.slack])"),
        (_RULE + 'sinks = ["pagerduty"]', "alerts.rules[0] (r).sinks[0]: sink 'pagerduty' is "
         "not configured (configured: console; add [alerts.pagerduty])"),
        # What names no one key of its table is said of the table, as it was.
        ('[aws]\naccess_key_id = "k"', "aws: access_key_id and secret_access_key go together"),
    ],
)  # fmt: skip
def test_a_value_a_section_refuses_is_named_by_its_dotted_key(text: str, error: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(text)
    assert str(raised.value).startswith(error)
    assert error.endswith(", ") or str(raised.value) == error


@pytest.mark.parametrize(
    ("value", "kind"),
    [("1979-05-27", "date"), ("1979-05-27T07:32:00", "datetime"), ("07:32:00", "time")],
)
def test_a_group_given_a_toml_date_is_named(value: str, kind: str) -> None:
    """TOML has dates and times a hand may write by slip: a group given one was named
    ``domains.groups[...]``, the group left for the reader to find, as a group given
    a number is not."""
    with pytest.raises(ConfigError) as raised:
        parse_config(f'[domains]\ngroups = {{a = ["x.com"], b = {value}}}')
    assert str(raised.value) == f"domains.groups.b: Expected `array`, got `{kind}`"
