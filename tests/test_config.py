"""Config: validated before any I/O, errors in one line naming the key, secrets masked."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sesd.commands.main import main
from sesd.config import ConfigError, parse_config, read_secrets, rule_of, saved_rule
from sesd.config.checks import NO_RULES
from sesd.config.reading import CONFIG_BOUND

EXAMPLE = Path(__file__).parent.parent / "config" / "sesd.example.toml"


def test_empty_file_gives_the_defaults() -> None:
    """Every key has a default; windows default to 5m, 15m, 1h in 10 s resolution."""
    config = parse_config("")
    assert [w.text for w in config.windows.sizes] == ["5m", "15m", "1h"]
    assert config.windows.resolution.seconds == 10
    assert config.domains.max_tracked == 200
    assert config.domains.idle_evict.seconds == 86400
    assert config.http.listen == "127.0.0.1:9585"
    assert not config.ingest.delete_invalid


def test_example_file_is_valid_and_documents_every_section(monkeypatch: pytest.MonkeyPatch) -> None:
    """config/sesd.example.toml parses, and names every section of the schema."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    text = EXAMPLE.read_text()
    config = parse_config(text)
    for section in (
        "aws",
        "queues",
        "http",
        "windows",
        "domains",
        "dimensions",
        "ingest",
        "logging",
        "shutdown",
    ):
        assert f"[{section}]" in text or f"[[{section}]]" in text, section
    assert config.queues


def test_example_sinks_are_valid_as_shown() -> None:
    """The commented-out named sinks and the links of the example parse as shown."""
    text = EXAMPLE.read_text()
    lines = text.splitlines()
    block = lines[lines.index("# [alerts.sinks.email-team]") : lines.index("# [alerts.slack]")]
    shown = "\n".join(
        line[2:]
        for line in block
        if line.startswith("# ") and (line.startswith("# [") or " = " in line)
    )
    links = [line[2:] for line in lines if line.startswith(("# dashboard_url", "# silences_path"))]
    config = parse_config("[alerts]\n" + "\n".join(links) + "\n" + shown)
    assert sorted(config.alerts.sinks) == ["am", "email-team", "relay"]
    assert config.alerts.dashboard_url is not None
    assert config.silences_path == "/var/lib/sesd/silences.json"


def test_example_canary_block_and_rules_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commented-out [canary] section and canary rules of the example parse as shown."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    text = EXAMPLE.read_text()
    setting = re.compile(r"^# (\[\[?[a-z.]+\]\]?|[a-z_]+ = .+)$")
    lines = text.splitlines()
    block = lines[lines.index("# [canary]") : lines.index("[state]")]
    shown = [m.group(1) for line in block if (m := setting.match(line))]
    rules = re.findall(r"^# (\[\[alerts\.rules\]\]\n(?:# .+\n)+)", text, re.M)
    canary_rules = [r.replace("\n# ", "\n") for r in rules if "canary_" in r]
    assert len(canary_rules) == 2
    body = text + "\n" + "\n".join(canary_rules) + "\n".join(shown)
    config = parse_config(body)
    assert config.canary is not None
    assert config.canary.deadline.seconds == 300
    assert {r.metric for r in config.alerts.rules} >= {
        "canary_missing",
        "canary_send_latency_seconds",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[[queues]]\nurl = "https://sqs/1/q"\nconcurrency = "two"',
            "queues[0].concurrency: Expected `int`, got `str`",
        ),
        (
            '[[queues]]\nurl = "https://sqs/1/q"\nconcurrency = 0',
            "queues[0].concurrency: must be between 1 and 64",
        ),
        ('[[queues]]\nurl = "ftp://x"', "queues[0].url: 'ftp://x' is not an http(s) URL"),
        ("[windows]\nsizes = ['5 minutes']", "windows.sizes[0]: invalid duration '5 minutes'"),
        # A group's member that is no domain: the group and its index are named.
        (
            '[domains]\ngroups = { microsoft = ["outlook.com", ""] }',
            "domains.groups.microsoft[1]: '' is not a usable domain name",
        ),
        # A browser reads /domain/.. (or %2E%2E) as /: the group's page cannot be reached.
        (
            '[domains]\ngroups = { ".." = ["outlook.com"] }',
            'domains.groups."..": the name cannot name a page (a browser reads /domain/.. as /)',
        ),
        (
            '[domains]\ngroups = { "." = ["outlook.com"] }',
            'domains.groups.".": the name cannot name a page (a browser reads /domain/. as'
            " /domain/)",
        ),
        # A template that rendered a label as a number: the label is named.
        (
            '[[alerts.rules]]\nname = "g"\nmetric = "delay_ratio"\nwindow = "5m"\n'
            "above = 0.1\nlabels = {team = 5}",
            "alerts.rules[0] (g).labels.team: Expected `str`, got `int`",
        ),
        # A bare number is seconds: a millisecond-minded 10000 would wait 2h46m a try.
        (
            '[alerts.slack]\nwebhook_url = "https://hooks.example/a"\ntimeout = 10000',
            "alerts.slack.timeout: '10000s' is over 5m",
        ),
        # PagerDuty answers 400 to an event with a blank source: every page lost.
        (
            '[alerts.pagerduty]\nrouting_key = "k"\nsource = " "',
            "alerts.pagerduty.source: must not be blank",
        ),
        ('[alerts.pagerduty]\nrouting_key = " "', "alerts.pagerduty.routing_key: is empty"),
        # A bare number is seconds: a millisecond-minded 10000 would wait 2h46m a try.
        (
            '[alerts.slack]\nwebhook_url = "https://hooks.example/a"\ntimeout = "400d"',
            "alerts.slack.timeout: duration '400d' is longer than a year",
        ),
        (
            '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "5m"\n'
            'above = 0.1\nrunbook_url = "https://wiki.example/{domain.name}"',
            "is not a template of {domain}, {rule}, {window}, {scope}",
        ),
        (
            '[alerts]\nevaluate_every = "10m"\n[[alerts.rules]]\nname = "r"\n'
            'metric = "delay_ratio"\nwindow = "5m"\nabove = 0.1',
            "alerts.evaluate_every: 10m is longer than alerts.rules[0] (r).window (5m)",
        ),
        ("[domains]\nmax_trackd = 5", "domains.max_trackd: unknown key"),
        (
            '[domains]\nidle_evict = "59m"',
            "domains.idle_evict: 59m is shorter than the largest window (1h)",
        ),
        ("[nope]\n", "nope: unknown key"),
        ('[http]\nlisten = "9585"', "http.listen: must be HOST:PORT"),
        ('[http]\nlisten = "127.0.0.1:99999"', "http.listen: '127.0.0.1:99999': port 99999 is"),
        (
            '[logging]\nlevel = "verbose"',
            "logging.level: Invalid enum value 'verbose' (one of: debug, error, info, warning)",
        ),
        (
            '[[queues]]\nurl = "https://sqs/1/q"\n[[alerts.rules]]\nname = "r"\n'
            'metric = "delay_ratio"\nwindow = "5m"\nabove = 0.1\nseverity = "urgent"',
            "alerts.rules[0] (r).severity: Invalid enum value 'urgent' (one of: critical, error, ",
        ),
        ("[windows\n", "not valid TOML"),
        (
            # A percentage where a fraction goes: the rule named, and how to write it.
            '[[alerts.rules]]\nname = "gmail-delays"\nmetric = "delay_ratio"\nwindow = "5m"\n'
            'above = "5%"',
            "alerts.rules[0] (gmail-delays).above: Expected `float | null`, got `str` (a "
            "fraction: 0.05 is 5%)",
        ),
        (
            '[[queues]]\nurl = "https://sqs.us-east-1.amazonaws.com/1/q"\nregion = "eu-west-1"',
            "queues[0].region: 'eu-west-1' is not the region the URL names ('us-east-1')",
        ),
        # Each message says what is wrong with the value given: 0s is refused, so the
        # bound is not "between 0s and 30s"; "" is a string, an empty one.
        ('[providers]\ntimeout = "0s"', "providers.timeout: must be more than 0s and at most 30s"),
        (
            "[providers]\nrate = 0",
            "providers.rate: must be more than 0 and at most 1000 lookups a second",
        ),
        (
            '[alerts.slack]\nwebhook_url = ""',
            "alerts.slack.webhook_url: is empty (give 'env:NAME', 'file:PATH' or a literal)",
        ),
        (
            "[alerts.slack]\nwebhook_url = 5",
            "alerts.slack.webhook_url: expected a string ('env:NAME', 'file:PATH' or a literal)",
        ),
        # 0 would repeat every firing alert at every evaluation, not "never".
        ('[alerts]\nrepeat_interval = "0s"', "alerts.repeat_interval: must be positive"),
        ('[alerts]\nevaluate_every = "0s"', "alerts.evaluate_every: must be positive"),
        # "1ms" (or "5ms" for "5s") would evaluate every rule hundreds of times a second.
        (
            '[alerts]\nevaluate_every = "1ms"',
            "alerts.evaluate_every: must be at least 100ms (it is 1ms)",
        ),
        # "5m5m" would add up to 10m unseen.
        (
            '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "5m"\n'
            'above = 0.1\nfor = "5m5m"',
            "alerts.rules[0] (r).for: invalid duration '5m5m': the unit 'm' comes twice",
        ),
        (
            '[alerts]\nrepeat_interval = "1h30m1h"',
            "alerts.repeat_interval: invalid duration '1h30m1h': the unit 'h' comes twice",
        ),
        # "30s1m" adds up to 90s; "30s" or "1m" was meant.
        (
            '[alerts]\nrepeat_interval = "30s1m"',
            "alerts.repeat_interval: invalid duration '30s1m': write the largest unit first",
        ),
        (
            '[state]\nsave_every = "1s500ms1m"',
            "state.save_every: invalid duration '1s500ms1m': write the largest unit first",
        ),
        # 0 would never time out: a receiver that never answers holds its sink for ever.
        (
            '[alerts.sinks.chat]\ntype = "slack"\nwebhook_url = "https://h.example/x"\n'
            'timeout = "0s"',
            "alerts.sinks.chat.timeout: must be at least 100ms (0 would wait for ever)",
        ),
        (
            '[alerts.sinks.am]\ntype = "alertmanager"\nurls = ["http://127.0.0.1:9093"]\n'
            'timeout = "50ms"',
            "alerts.sinks.am.timeout: must be at least 100ms",
        ),
        (
            '[alerts.sinks.pd]\ntype = "pagerduty"\nrouting_key = "k"\ntimeout = "0s"',
            "alerts.sinks.pd.timeout: must be at least 100ms",
        ),
        (
            '[alerts.sinks.hook]\ntype = "webhook"\nurl = "https://h.example/x"\ntimeout = "0s"',
            "alerts.sinks.hook.timeout: must be at least 100ms",
        ),
        # A save holds the event loop: 0 would save in a loop.
        ('[state]\nsave_every = "0s"', "state.save_every: must be at least 1s"),
        ("[dimensions]\nmax_tracked = -1", "dimensions.max_tracked: must not be negative"),
        # No pace at all would call SES back to back, as fast as it answers.
        (
            "[tenants]\ncalls_per_second = 0",
            "tenants.calls_per_second: must be from 0.01 to 100",
        ),
        (
            '[[queues]]\nurl = "https://sqs/1/a/q"\n[[queues]]\nurl = "https://sqs/2/b/q"',
            "queues[1].url: names queue 'q', as queues[0] does: set `name` on one",
        ),
        (
            '[domains]\ngroups = {microsoft = ["outlook.com", "hotmail.com"]}\n'
            '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "5m"\n'
            'above = 0.1\ndomains = ["gmail.com", "Outlook.com."]',
            "alerts.rules[0] (r).domains[1]: 'Outlook.com.', counted in group "
            "'microsoft'; name the group instead (domains = ['microsoft'])",
        ),
        (
            # An address or a URL pasted in: the rule would watch nothing.
            '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "5m"\n'
            'above = 0.1\ndomains = ["gmail.com", "postmaster@yahoo.com"]',
            "alerts.rules[0] (r).domains[1]: 'postmaster@yahoo.com', which is no domain name",
        ),
        (
            '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "5m"\n'
            'above = 0.1\nexclude_domains = ["https://yahoo.com"]',
            "alerts.rules[0] (r).exclude_domains[0]: 'https://yahoo.com', which is no domain",
        ),
        (
            # Left out by name, it would go on firing under the group's label.
            '[domains]\ngroups = {microsoft = ["outlook.com", "hotmail.com"]}\n'
            '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "5m"\n'
            'above = 0.1\nexclude_domains = ["hotmail.com"]',
            "alerts.rules[0] (r).exclude_domains[0]: 'hotmail.com', counted in group "
            "'microsoft'; name the group instead (exclude_domains = ['microsoft'])",
        ),
        (
            '[alerts.pagerduty]\nrouting_key = "k"\nevents_url = "events.pagerduty.com/v2"',
            "alerts.pagerduty.events_url: 'events.pagerduty.com/v2' is not an http(s) URL",
        ),
        (
            '[alerts.slack]\nwebhook_url = "hooks.slack.com/services/T/B/X"',
            "alerts.slack.webhook_url: not an http(s) URL with a host (value not shown)",
        ),
        (
            '[alerts.slack]\nwebhook_url = "https:///services/T/B/X"',
            "alerts.slack.webhook_url: not an http(s) URL with a host (value not shown)",
        ),
        (
            # No event names such a tenant: tracked, it would be a label in every
            # tenant rule's scope that no traffic moves (a `below` rule fires on it).
            '[tenants]\nenabled = true\n[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\n'
            'window = "5m"\nabove = 0.1\ntenants = ["shop-us", "shop.eu"]',
            "alerts.rules[0] (r).tenants[1]: 'shop.eu', which SES allows no tenant to be "
            "called (ASCII letters, digits, '-' and '_', up to 64)",
        ),
        (
            '[tenants]\nenabled = true\n[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\n'
            'window = "5m"\nabove = 0.1\ntenants = ["*"]\nexclude_tenants = ["shop eu"]',
            "alerts.rules[0] (r).exclude_tenants[0]: 'shop eu', which SES allows no tenant",
        ),
        (
            # A glob no name SES allows can match watches nothing (or, left out, leaves
            # out nothing): a dot, a space, a set of such characters, 65 characters.
            '[tenants]\nenabled = true\n[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\n'
            'window = "5m"\nabove = 0.1\ntenants = ["shop-*", "shop.*"]',
            "alerts.rules[0] (r).tenants[1]: 'shop.*', a glob that matches no tenant name SES "
            "allows (ASCII letters, digits, '-' and '_', up to 64)",
        ),
        (
            '[tenants]\nenabled = true\n[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\n'
            'window = "5m"\nabove = 0.1\ntenants = ["*"]\nexclude_tenants = ["test *"]',
            "alerts.rules[0] (r).exclude_tenants[0]: 'test *', a glob that matches no tenant",
        ),
        (
            '[tenants]\nenabled = true\n[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\n'
            'window = "5m"\nabove = 0.1\ntenants = ["shop[.:]eu"]',
            "alerts.rules[0] (r).tenants[0]: 'shop[.:]eu', a glob that matches no tenant",
        ),
        (
            '[tenants]\nenabled = true\n[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\n'
            'window = "5m"\nabove = 0.1\ntenants = ["' + "?" * 65 + '*"]',
            "alerts.rules[0] (r).tenants[0]: '" + "?" * 65 + "*', a glob that matches no",
        ),
        # An empty path (a template's unset value) would keep no state, without a word.
        ('[state]\npath = ""', "state.path: empty: leave it out to keep no state file"),
        ('[state]\npath = "  "', "state.path: empty: leave it out to keep no state file"),
    ],
)
def test_errors_name_the_key_in_one_line(text: str, message: str) -> None:
    """A bad value fails with one line that names the key and the problem."""
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert "services/T/B/X" not in str(info.value)  # a secret is never shown


@pytest.mark.parametrize(
    "glob", ["*", "shop-*", "?", "[a-z]*", "shop[-_]eu", "[!.]*", "'oth*", "unkn*", "?" * 64]
)
def test_a_tenant_glob_that_can_match_a_tenant_is_taken(glob: str) -> None:
    """A glob that matches some name SES allows, or sesd's own labels (``unknown``,
    a quoted ``'other'``), is taken, in tenants and exclude_tenants alike."""
    rules = (
        '[tenants]\nenabled = true\n[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\n'
        f'window = "5m"\nabove = 0.1\ntenants = ["{glob}"]\n'
        '[[alerts.rules]]\nname = "s"\nmetric = "delay_ratio"\nwindow = "5m"\n'
        f'above = 0.1\ntenants = ["*"]\nexclude_tenants = ["{glob}"]\n'
    )
    if glob == "*":  # leaving every tenant out is refused for another reason
        rules = rules.rsplit("[[alerts.rules]]", 1)[0]
    assert parse_config(rules).alerts.rules[0].tenants == [glob]


def test_secret_references(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Parsing reads no secret; env: and file: references are read after it (as loading
    the file does); a missing one is an error naming the key."""
    secret_file = tmp_path / "key"
    secret_file.write_text("file-secret-value\n")
    monkeypatch.setenv("SESD_TEST_KEY_ID", "env-secret-value")
    config = parse_config(
        f'[aws]\naccess_key_id = "env:SESD_TEST_KEY_ID"\nsecret_access_key = "file:{secret_file}"\n'
    )
    assert config.aws.access_key_id is not None
    with pytest.raises(RuntimeError, match="before it was resolved"):
        config.aws.access_key_id.get()
    read_secrets(config)
    assert config.aws.access_key_id is not None
    assert config.aws.secret_access_key is not None
    assert config.aws.access_key_id.get() == "env-secret-value"
    assert config.aws.secret_access_key.get() == "file-secret-value"
    assert "secret-value" not in repr(config)
    monkeypatch.delenv("SESD_TEST_KEY_ID")
    again = parse_config('[aws]\naccess_key_id = "env:SESD_TEST_KEY_ID"\nsecret_access_key = "x"\n')
    with pytest.raises(ConfigError, match=r"aws\.access_key_id: environment variable \S+ is not"):
        read_secrets(again)
    monkeypatch.setenv("SESD_TEST_KEY_ID", " ")
    with pytest.raises(ConfigError, match=r"environment variable SESD_TEST_KEY_ID is empty"):
        read_secrets(again)


def test_a_secret_read_with_a_line_break_inside_is_refused_without_it(tmp_path: Path) -> None:
    """A routing key's file of two lines (a key pasted twice, a comment below it) is read
    with the line break between them, which PagerDuty refuses at the first page: refused
    at the start, naming the key, not the value."""
    (tmp_path / "key").write_text("k1\nk2\n", encoding="utf-8")
    config = parse_config(
        f'[alerts.sinks.pd]\ntype = "pagerduty"\nrouting_key = "file:{tmp_path / "key"}"\n'
    )
    with pytest.raises(ConfigError) as raised:
        read_secrets(config)
    assert str(raised.value) == (
        "alerts.sinks.pd.routing_key: has a line break or another control or invisible "
        "character: no key or password holds one (value not shown)"
    )


#: A key of the length PagerDuty's integration keys have (Events API v2).
KEY = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("written", "read", "refused"),
    [
        (KEY[:-1], None, "31 characters long"),  # one left off in the copy
        ("u+" + KEY[:18], None, "20 characters long"),  # a REST API key's length
        ("file:KEYFILE", KEY + KEY, "64 characters long"),  # read from a file
        ("env:SESD_TEST_ROUTING_KEY", "k", "1 character long"),
        (KEY, None, None),
        ("file:KEYFILE", KEY + "\n", None),  # the line end is left off when read
    ],
)
def test_a_routing_key_pagerduty_would_refuse_by_its_length_is_refused(
    written: str,
    read: str | None,
    refused: str | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PagerDuty's Events API v2 takes a 32-character integration key: a key of another
    length (cut short, or another service's key) would lose every page, and is refused
    at load, literal or read from a file or a variable, naming the key and its length,
    never its value, whichever way PagerDuty's host is written (in capitals, with the
    final dot of a name from the root). To a receiver of one's own (``events_url`` not
    PagerDuty's) any key goes, as the local receivers of these tests take."""
    (tmp_path / "key").write_text(read or "", encoding="utf-8")
    monkeypatch.setenv("SESD_TEST_ROUTING_KEY", read or "")
    written = written.replace("KEYFILE", str(tmp_path / "key"))
    for url, judged in (("https://events.pagerduty.com/v2/enqueue", True),
                        ("https://events.eu.pagerduty.com/v2/enqueue", True),
                        # Written as a name from the root: the HTTP client goes there.
                        ("https://Events.PagerDuty.com./v2/enqueue", True),
                        ("http://127.0.0.1:9/e", False)):  # fmt: skip
        text = f'[alerts.sinks.pd]\ntype = "pagerduty"\nrouting_key = "{written}"\n'
        text += f'events_url = "{url}"\n'
        if refused is None or not judged:
            read_secrets(parse_config(text))
            continue
        with pytest.raises(ConfigError) as raised:
            read_secrets(parse_config(text))
        said = str(raised.value)
        assert said.startswith(
            f"alerts.sinks.pd.routing_key: {refused}, where every PagerDuty "
            "integration key (the Events API v2 routing key) is 32"
        ), said
        assert said.endswith("(value not shown)")
        assert KEY[:8] not in said
        assert "u+" not in said


def test_a_secret_file_not_in_utf8_is_refused_without_its_bytes(tmp_path: Path) -> None:
    """A secret file in Latin-1 is refused by name; the message says nothing of its
    bytes (Python's decoder names the byte it stopped at: a piece of the secret)."""
    secret_file = tmp_path / "key"
    secret_file.write_bytes("s\u00e9cret\n".encode("latin-1"))
    config = parse_config(f'[aws]\naccess_key_id = "x"\nsecret_access_key = "file:{secret_file}"\n')
    with pytest.raises(ConfigError) as caught:
        read_secrets(config)
    said = str(caught.value)
    assert f"aws.secret_access_key: secret file {secret_file} is not UTF-8 text" in said
    assert "0xe9" not in said
    assert "position" not in said


def test_a_secret_file_too_large_for_a_secret_is_refused_unread(tmp_path: Path) -> None:
    """``file:`` naming a log or a device by mistake (``/dev/urandom``, read for ever):
    refused naming the key and the bound, not read whole into memory first (a
    MemoryError's traceback at the start, a reload's thread held)."""
    secret_file = tmp_path / "sesd.log"
    with secret_file.open("wb") as handle:
        handle.truncate(CONFIG_BOUND + 1)
    config = parse_config(f'[aws]\naccess_key_id = "x"\nsecret_access_key = "file:{secret_file}"\n')
    with pytest.raises(ConfigError) as caught:
        read_secrets(config)
    assert str(caught.value) == (
        f"aws.secret_access_key: cannot read secret file {secret_file}: larger than 8 MiB, "
        "which no secret is (a log, a dump or a device named?)"
    )


def test_check_config_masks_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """check-config prints the resolved config; secrets show as their reference or ***."""
    monkeypatch.setenv("SESD_TEST_KEY_ID", "AKIA-planted-7f3e")
    path = tmp_path / "sesd.toml"
    path.write_text(
        '[aws]\naccess_key_id = "env:SESD_TEST_KEY_ID"\nsecret_access_key = "literal-9c1d"\n'
        '[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/1/events"\n'
    )
    assert main(["check-config", "--config", str(path)]) == 0
    out, err = capsys.readouterr()
    shown = json.loads(out)
    assert shown["aws"]["access_key_id"] == "env:SESD_TEST_KEY_ID"
    assert shown["aws"]["secret_access_key"] == "***"
    assert shown["queues"][0]["concurrency"] == 1
    assert "planted" not in out + err
    assert "literal-9c1d" not in out + err


def test_bad_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """sesd run and check-config exit 2 with one line on standard error, naming the file
    (a base config and a rendered template are easily confused) and the key's line."""
    path = tmp_path / "sesd.toml"
    path.write_text("[http]\nlisten = 1\n")
    assert main(["check-config", "--config", str(path)]) == 2
    assert main(["run", "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"sesd: config error: {path}:2: http.listen: Expected `str`, got `int`"] * 2
    assert main(["run", "--config", str(tmp_path / "missing.toml")]) == 2


def test_example_tenants_are_valid_as_shown() -> None:
    """The commented-out [tenants] section and its rules parse as shown, and the rules
    watch tenants."""
    lines = EXAMPLE.read_text().splitlines()
    start = lines.index("# [tenants]")
    block = lines[start : lines.index("", start)]
    shown = "\n".join(
        line[2:]
        for line in block
        if line.startswith("# ") and (line.startswith("# [") or " = " in line)
    )
    config = parse_config(shown)
    assert config.tenants.enabled
    assert config.tenants.tags == ["ses:tenant-name", "tenant"]
    assert [(r.name, r.tenants) for r in config.alerts.rules] == [
        ("tenant-paused", ["*"]),
        ("tenant-delay-ratio-high", ["*"]),
    ]


def test_a_visibility_timeout_of_0_is_warned_of() -> None:
    """A message shown again as it is received is taken again by the other pollers, and
    an invalid one left for the dead-letter queue comes straight back, receive after
    receive: check-config says so. Unset, or a number of seconds, says nothing."""
    queue = '[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/1/ses-events"\n'
    (warning, no_rules) = parse_config(queue + "visibility_timeout = 0\n").warnings()
    assert warning.startswith("queues[0].visibility_timeout: 0 shows each message")
    assert no_rules == NO_RULES
    assert parse_config(queue + "visibility_timeout = 1\n").warnings() == [NO_RULES]
    assert parse_config(queue).warnings() == [NO_RULES]


def test_a_queue_listed_twice_under_two_names_is_warned_of() -> None:
    """A [[queues]] block copied for a second queue, its ``name`` changed and its URL
    not: sesd reads the first queue twice, under two labels, each ready, and the second
    queue not at all. check-config (the start, a reload) names the entry and the one it
    repeats; the same URL read through another account, or another URL, says nothing."""
    url = "https://sqs.eu-west-1.amazonaws.com/1/ses-events"
    block = '[[queues]]\nurl = "{}"\nname = "{}"\n'
    twice = block.format(url, "orders") + block.format(url, "billing")
    (warning, _) = parse_config(twice).warnings()
    assert warning.startswith(
        "queues[1].url: the same queue as queues[0]: read twice, under the names orders and billing"
    )
    other = block.format(url, "orders") + block.format(url + "-2", "billing")
    assert parse_config(other).warnings() == [NO_RULES]
    accounts = '[[accounts]]\nname = "b"\nrole_arn = "arn:aws:iam::222222222222:role/r"\n'
    apart = twice.replace('name = "billing"', 'name = "billing"\naccount = "b"')
    assert parse_config(accounts + apart).warnings() == [NO_RULES]


def test_a_rule_naming_a_group_the_config_lacks_is_warned_of() -> None:
    """A rule's ``domains`` naming ``Consumer-M`` (a group's name misspelt, or a group
    since removed): no group has it, and as a domain it has no dot, so no recipient's
    mail counts under it and the rule watches nothing there. check-config (and the
    start, and a reload) say so, naming the rule and the name; a group named as the
    config writes it, or a domain with a dot, says nothing."""
    base = (
        '[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/1/q"\n'
        '[domains]\ngroups = { Consumer-MS = ["hotmail.com"] }\n'
        '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "5m"\nabove = 0.1\n'
    )
    (warning, _) = parse_config(base + 'domains = ["gmail.com", "Consumer-M"]\n').warnings()
    assert warning == (
        "alerts.rules[0] (r).domains[1]: 'Consumer-M', which is no group of "
        "[domains] groups and, without a dot, no recipient's domain: the rule watches "
        "nothing under it (a group's name misspelt?)"
    )
    (warning, _) = parse_config(base + 'exclude_domains = ["consumer-ms"]\n').warnings()
    assert warning.startswith("alerts.rules[0] (r).exclude_domains[0]: 'consumer-ms'")
    for named in ('["Consumer-MS", "gmail.com"]', '["*.example", "co.uk"]'):
        warnings = parse_config(base + f"domains = {named}\n").warnings()
        assert not [w for w in warnings if w.startswith("alerts.rules")], named


def test_a_rule_on_domains_naming_a_provider_label_is_told_what_watches_it() -> None:
    """A rule on domains naming ``microsoft``, or sesd's provider labels ``unknown`` and
    ``none``: no recipient's domain, so it watches nothing there, and was warned of
    only as a group's name misspelt. The warning says what the name is and what
    watches it: a rule on providers (``unknown`` not in a ratio rule, which reads the
    start and DNS there); the canary's alerts come from the canary's rules. ``other``
    (the domains past ``max_tracked``) is a label of the domains' own, which the rule
    does watch: nothing is said of it. A canary rule reads no domain: it is told its
    domains do nothing (tests/test_config_canary_rule_keys.py), not what one means."""
    base = (
        '[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/1/q"\n'
        '[alerts]\nsilences_path = "/var/lib/sesd/silences.json"\n'
        '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "5m"\nabove = 0.1\n'
    )
    said = "which is no group of [domains] groups and, without a dot, no recipient's domain"

    def warned(domains: str, rule: str = base) -> str:
        (warning,) = parse_config(rule + f"domains = {domains}\n").warnings()
        return warning

    assert warned('["gmail.com", "Microsoft"]') == (
        f"alerts.rules[0] (r).domains[1]: 'Microsoft', {said}: the rule watches nothing "
        "under it; microsoft is a mailbox provider: a rule on providers watches its mail "
        '(providers = ["microsoft"] in place of domains)'
    )
    assert warned('["none"]') == (
        f"alerts.rules[0] (r).domains[0]: 'none', {said}: the rule watches nothing under "
        "it; 'none' is no domain but a provider label (domains without mail: NXDOMAIN, a "
        'null MX): a rule on providers names it (providers = ["none"])'
    )
    assert warned('["unknown"]').endswith(
        "; 'unknown' is no domain but a provider label (domains not resolved yet): "
        "watch the lookups with the Prometheus rule SesdProviderLookupsFailing "
        "(sesd_dns_failing), and the domains with a rule on domains"
    )
    count = base.replace("delay_ratio", "delayed_recipients")
    assert warned('["unknown"]', count).endswith(
        ': a rule on providers names it (providers = ["unknown"])'
    )
    assert warned('["canary"]').endswith(
        "; 'canary' names the canary's alerts, and no rule on domains counts the canary's "
        "mail: a rule on canary_missing or canary_send_latency_seconds watches it"
    )
    acme = '[providers]\nmx = { acme = ["mx.acme.example"] }\n'
    assert warned('["acme"]', acme + base).endswith('(providers = ["acme"] in place of domains)')
    assert parse_config(base + 'domains = ["other"]\n').warnings() == []
    # A canary rule reads the canary alone: its domains are no label it watches.
    canary = '[canary]\nfrom = "canary@example.com"\nconfiguration_set = "c"\n' + base
    canary = canary.replace("delay_ratio", "canary_missing").replace("0.1", "0")
    canary = canary.replace('window = "5m"', 'window = "15m"')
    (warning,) = parse_config(canary + 'domains = ["canary"]\n').warnings()
    assert warning.startswith("alerts.rules[0] (r).domains: canary_missing reads the canary")


def test_a_rule_on_domains_leaving_out_a_provider_label_is_told_what_leaves_it_out() -> None:
    """``exclude_domains = ["microsoft"]`` in a rule on every domain: no recipient's
    domain is called so, and the rule leaves out nothing, Microsoft's domains least of
    all. The warning said the rule watched nothing under it, and to name Microsoft in a
    rule on providers in place of domains: a rule on Microsoft alone, the opposite of
    what was meant. It says the rule leaves out nothing there, and what does: a rule on
    providers' exclusion, whose globs leave out ``unknown`` and ``none`` already."""
    base = (
        '[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/1/q"\n'
        '[alerts]\nsilences_path = "/var/lib/sesd/silences.json"\n'
        '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "5m"\nabove = 0.1\n'
    )
    said = "which is no group of [domains] groups and, without a dot, no recipient's domain"

    def warned(name: str) -> str:
        (warning,) = parse_config(base + f'exclude_domains = ["{name}"]\n').warnings()
        return warning

    assert warned("Microsoft") == (
        f"alerts.rules[0] (r).exclude_domains[0]: 'Microsoft', {said}: the rule leaves out "
        "nothing under it; microsoft is a mailbox provider, whose domains a rule on domains "
        "leaves out by their names: a rule on providers leaves it out (exclude_providers = "
        '["microsoft"])'
    )
    for label, holds in (
        ("none", "domains without mail: NXDOMAIN, a null MX"),
        ("unknown", "domains not resolved yet"),
    ):
        assert warned(label).endswith(
            f": the rule leaves out nothing under it; {label!r} is no domain but a provider "
            f"label ({holds}), which a rule on providers leaves out unless it names it"
        )
    assert warned("canary").endswith(
        ": the rule leaves out nothing under it; 'canary' names the canary's alerts, and no "
        "rule on domains counts the canary's mail"
    )
    assert warned("consumer-m").endswith(
        ": the rule leaves out nothing under it (a group's name misspelt?)"
    )


def test_a_fifo_queue_without_delete_invalid_is_warned_of() -> None:
    """On a FIFO queue an invalid message left for the dead-letter queue holds every
    later message of its group back (for ever without one): check-config says to
    delete invalid messages there."""
    fifo = '[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/1/ses-events.fifo"\n'
    standard = '[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/1/ses-events"\n'
    # No rule here: that warning comes with each (tests/test_cli.py).
    (warning, no_rules) = parse_config(fifo + standard).warnings()
    assert warning.startswith("queues[0].delete_invalid: a FIFO queue holds the rest")
    assert warning.endswith("set delete_invalid = true on it")
    assert no_rules == NO_RULES
    assert parse_config(fifo + "[ingest]\ndelete_invalid = true\n").warnings() == [NO_RULES]
    # The FIFO queue's own setting; the standard queue keeps its dead-letter queue.
    own = parse_config(fifo + "delete_invalid = true\n" + standard)
    assert own.warnings() == [NO_RULES]
    assert [own.deletes_invalid(q) for q in own.queues] == [True, False]
    kept = parse_config(fifo + "delete_invalid = false\n[ingest]\ndelete_invalid = true\n")
    assert [kept.deletes_invalid(q) for q in kept.queues] == [False]


def test_a_grace_period_that_leaves_no_room_for_the_last_save_is_warned_of() -> None:
    """The shipped units give a stop 45 s (systemd TimeoutStopSec, Kubernetes
    terminationGracePeriodSeconds): the grace period, LAST_SAVE for the state file's
    last save and a moment to exit fit at the default 30 s. A longer grace period
    would have sesd killed before its state is saved: check-config (and sesd run)
    warn, naming the timeout to set; without a state file there is no save to fit."""
    from sesd.config.sections import EXIT_ROOM, LAST_SAVE, SHIPPED_STOP_TIMEOUT

    state = '[state]\npath = "/var/lib/sesd/state.bin"\n'
    # No rule here: that warning comes with each (tests/test_cli.py).
    assert parse_config(state).warnings() == [NO_RULES]
    (no_rules, warning) = parse_config(state + '[shutdown]\ngrace_period = "31s"\n').warnings()
    assert no_rules == NO_RULES
    longest = 31 + LAST_SAVE + EXIT_ROOM
    assert warning.startswith(f"shutdown.grace_period: 31s: a stop may take {longest:g}s")
    assert f"the {SHIPPED_STOP_TIMEOUT:g}s the shipped units give" in warning
    assert warning.endswith(
        f"raise theirs to {longest:g}s, or sesd is killed before its state is saved"
    )
    quiet = f'[shutdown]\ngrace_period = "{SHIPPED_STOP_TIMEOUT - EXIT_ROOM:g}s"\n'
    assert parse_config(quiet).warnings() == [NO_RULES]
    assert len(parse_config(quiet + state).warnings()) == 2


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('[account_health]\npoll_evry = "5m"', "account_health.poll_evry: unknown key "
         "(did you mean poll_every?)"),
        ("[acount_health]\nenabled = false", "acount_health: unknown key (did you mean "
         "account_health?)"),
        ('[[alerts.rule]]\nname = "r"', "alerts.rule: unknown key (did you mean rules?)"),
        ('[[accounts]]\nname = "a"\nregoin = "eu-west-1"', "accounts[0].regoin: unknown "
         "key (did you mean region?)"),
        ("[nope]\n", "nope: unknown key"),
        # Alertmanager's key, no typo of sesd's repeat_interval: no suggestion misleads.
        ('[alerts]\ngroup_interval = "5m"', "alerts.group_interval: unknown key"),
    ],
)  # fmt: skip
def test_a_mistyped_key_is_named_with_the_key_meant(text: str, error: str) -> None:
    """A typo in a key or a section fails in one line naming it, and the key of that
    table it is closest to, when one is close: the reader sees what to write."""
    with pytest.raises(ConfigError) as raised:
        parse_config(text)
    assert str(raised.value) == error


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("ses\\u001b[31mevents", "ses\\u001b[31mevents"),  # a terminal's colour escape
        ("ses-events\\n", "ses-events\\u000a"),  # a template's line break
        ("ses\\u202eevents", "ses\\u202eevents"),  # a bidi override: text reordered
        ("ses\\u200bevents", "ses\\u200bevents"),  # zero-width: two names that look one
    ],
)
def test_a_queue_name_with_a_control_character_is_refused(written: str, shown: str) -> None:
    """A queue's ``name`` is its ``queue`` label on every metric and a field of every
    log line of its pollers: a control or invisible character in it (a colour escape
    pasted in, a template's line break, a bidirectional override) would drive a
    terminal, split a line, or make two names look one. The config is refused in
    one line naming the key and showing the character escaped; so is a URL whose
    last part, the label without a name, holds one. A name with spaces or accents
    is taken."""
    queue = '[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/1/ses-events"\n'
    with pytest.raises(ConfigError) as raised:
        parse_config(queue + f'name = "{written}"\n')
    assert str(raised.value) == (
        f"queues[0].name: '{shown}': a control or invisible character (shown escaped); "
        "the name is the queue label of metrics and log lines: write it without"
    )
    with pytest.raises(ConfigError) as raised:
        parse_config(f'[[queues]]\nurl = "http://127.0.0.1:9/{written}"\n')
    assert str(raised.value).startswith(f"queues[0].url: 'http://127.0.0.1:9/{shown}': a ")
    (taken,) = parse_config(queue + 'name = "SES événements (prod)"\n').queues
    assert taken.label == "SES événements (prod)"


def test_a_queue_label_longer_than_sqs_allows_a_name_is_refused() -> None:
    """A queue's label is on every series and log line of its queue: a name (or a
    URL's last part, without a name) of more than 80 characters, SQS's own bound on a
    queue's name, is refused in one line naming the key; 80 are taken."""
    queue = '[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/1/ses-events"\n'
    with pytest.raises(ConfigError) as raised:
        parse_config(queue + f'name = "{"q" * 81}"\n')
    assert str(raised.value) == (
        "queues[0].name: 81 characters; the name is the queue label of metrics and log "
        "lines: at most 80 (SQS's bound on a queue name)"
    )
    with pytest.raises(ConfigError) as raised:
        parse_config(f'[[queues]]\nurl = "http://127.0.0.1:9/1/{"q" * 81}"\n')
    assert str(raised.value).startswith("queues[0].url: 81 characters in its last part; ")
    (taken,) = parse_config(queue + f'name = "{"q" * 80}"\n').queues
    assert taken.label == "q" * 80


@pytest.mark.parametrize(
    ("written", "error"),
    [
        (
            "micro\\u001b[31msoft",
            'domains.groups."micro\\u001b[31msoft": a control or invisible character '
            "(shown escaped); a group's name is the domain label of metrics, alerts and log "
            "lines: write it without",
        ),
        (
            "micro\\u200bsoft",
            'domains.groups."micro\\u200bsoft": a control or invisible character '
            "(shown escaped); a group's name is the domain label of metrics, alerts and log "
            "lines: write it without",
        ),
        (
            "m" * 81,
            f"domains.groups.{'m' * 39}…: 81 characters; a group's name is the "
            "domain label of metrics, alerts and log lines: at most 80",
        ),
    ],
)
def test_a_group_name_that_would_be_a_bad_label_is_refused(written: str, error: str) -> None:
    """A group's name stands for its domains as the ``domain`` label of every series,
    alert and log line: a control or invisible character in it (a colour escape, a
    zero-width space making two groups look one) is refused as in a queue's name,
    shown escaped; so is a name of more than 80 characters. "Microsoft 365" is taken."""
    with pytest.raises(ConfigError) as raised:
        parse_config(f'[domains]\ngroups = {{ "{written}" = ["outlook.com"] }}\n')
    assert str(raised.value) == error
    config = parse_config('[domains]\ngroups = { "Microsoft 365" = ["outlook.com"] }\n')
    assert list(config.domains.groups) == ["Microsoft 365"]


def test_a_queue_received_without_waiting_is_warned_of() -> None:
    """wait_time_seconds = 0 is SQS's short poll: an empty queue answers at once, and
    the poller asks again a second later, each request billed, twenty times the
    requests of a 20 s long poll. check-config warns, naming the queue and what it
    costs; a long poll of a second is quiet."""
    queue = '[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/1/ses-events"\n'
    grace = '[shutdown]\ngrace_period = "30s"\n'
    (warning, no_rules) = parse_config(grace + queue + "wait_time_seconds = 0\n").warnings()
    assert no_rules == NO_RULES
    assert warning.startswith("queues[0].wait_time_seconds: 0 receives without")
    assert "billed" in warning
    assert "every second" in warning
    assert parse_config(grace + queue + "wait_time_seconds = 1\n").warnings() == [NO_RULES]


def test_a_grace_period_shorter_than_a_long_poll_is_warned_of() -> None:
    """A stop waits for each receive in flight only the grace period: one shorter than
    a queue's long poll (20 s unless set), 0s above all, has every stop of a quiet
    queue abandon its receive, logged as a stalled network, and what SQS hands that
    receive hidden until its visibility timeout. check-config warns, naming the
    queue and the least grace period to give; a queue of short polls needs none."""
    queue = '[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/1/ses-events"\n'
    for grace in ("0s", "19s"):
        config = parse_config(f'[shutdown]\ngrace_period = "{grace}"\n' + queue)
        (warning, no_rules) = config.warnings()
        assert no_rules == NO_RULES
        assert warning.startswith(
            f"shutdown.grace_period: {grace} is shorter than queues[0].wait_time_seconds "
            "(20), the long poll of queue ses-events"
        )
        assert "visibility timeout" in warning
        assert warning.endswith("give it at least 20s")
    assert parse_config('[shutdown]\ngrace_period = "20s"\n' + queue).warnings() == [NO_RULES]
    short = '[shutdown]\ngrace_period = "5s"\n' + queue + "wait_time_seconds = 5\n"
    assert parse_config(short).warnings() == [NO_RULES]


def test_a_rule_on_what_getaccount_says_warns_when_account_health_is_off() -> None:
    """``[account_health] enabled = false`` turns GetAccount's polls off: a rule on
    sending_paused (the example's page for a paused account), enforcement_not_healthy
    or quota_used_ratio then has no value ever and never fires, so check-config warns,
    naming the rule; a rule on the reputation estimate, read from events, still
    works and is not warned of."""
    queue = '[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/1/ses-events"\n'
    off = "[account_health]\nenabled = false\n"

    def rule(metric: str) -> str:
        return (
            f'[[alerts.rules]]\nname = "r"\nmetric = "{metric}"\nwindow = "5m"\n'
            'above = 0\nsinks = ["console"]\n'
        )

    silences = '[alerts]\nsilences_path = "/var/lib/sesd/silences.json"\n'
    for metric in ("sending_paused", "enforcement_not_healthy", "quota_used_ratio"):
        assert parse_config(queue + silences + rule(metric)).warnings() == []
        (warning,) = parse_config(queue + off + silences + rule(metric)).warnings()
        assert warning == (
            f"alerts.rules[0] (r).metric: {metric} is what SESv2 GetAccount says, which "
            "[account_health] enabled = false does not poll: the rule never fires"
        )
    estimate = queue + off + silences + rule("reputation_bounce_ratio")
    assert parse_config(estimate).warnings() == []


def test_every_rule_of_the_example_reads_back_as_saved() -> None:
    """The state file keeps the rules its alerts were stepped under and reads them back
    at start: each of the example's, account rules among them (given ``domains =
    ["*"]`` by their check), is the same rule read back."""
    rules = parse_config(EXAMPLE.read_text()).alerts.rules
    assert any(rule.metric == "sending_paused" for rule in rules)
    for rule in rules:
        assert rule_of(saved_rule(rule)) == rule, rule.name


def test_a_relative_state_path_is_warned_of() -> None:
    """``[state] path = "state.bin"`` is read from the working directory: systemd's
    (``/``) for the daemon, the shell's for a ``sesd run`` by hand at 3 a.m., so the two
    use different files (and neither locks the other out). Warned of, naming the
    path; an absolute one is not."""
    relative = parse_config('[state]\npath = "state.bin"\n').warnings()
    (warning,) = [w for w in relative if w.startswith("state.path:")]
    assert "state.bin" in warning
    assert "working directory" in warning
    absolute = parse_config('[state]\npath = "/var/lib/sesd/state.bin"\n').warnings()
    assert not [w for w in absolute if w.startswith("state.path:")]


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (
            '[state]\npath = "/var/lib/sesd/state.bin"\n'
            '[alerts]\nsilences_path = "/var/lib/sesd/./state.bin"\n',
            "/var/lib/sesd/./state.bin",
        ),
        # No silences_path: silences.json beside the state file, which is that file.
        ('[state]\npath = "/var/lib/sesd/silences.json"\n', "/var/lib/sesd/silences.json"),
    ],
)
def test_a_silences_file_that_is_the_state_file_is_refused(text: str, named: str) -> None:
    """A silences path pasted from the state path: the daemon holds the state file's
    lock, ``PATH.lock``, for its whole run, and ``sesd silence add`` at 3 a.m. waited on
    that same lock for ever (nothing said); and each write would replace the other's
    file. Refused, naming the key and why."""
    with pytest.raises(ConfigError) as refused:
        parse_config(text)
    assert str(refused.value) == (
        f"alerts.silences_path: {named!r} is the state file (state.path): `sesd silence` "
        "would wait for ever on its lock, which the daemon holds, and each would write "
        "over the other; give the silences a file of their own"
    )


def test_a_relative_silences_file_is_warned_of() -> None:
    """``[alerts] silences_path = "silences.json"`` is read from the daemon's working
    directory, which ``sesd silence`` cannot know, so it refuses the file: no silence
    can be added for this daemon. Warned of, naming the key and the path, as
    ``[state] path`` is (whose warning says the silences file beside it is refused
    too); an absolute one is not, nor a relative state file's when silences_path is
    set absolute."""
    relative = parse_config('[alerts]\nsilences_path = "silences.json"\n').warnings()
    (warning,) = [w for w in relative if w.startswith("alerts.silences_path:")]
    assert warning.startswith(
        "alerts.silences_path: 'silences.json' is relative: read from the working directory"
    )
    assert "`sesd silence` refuses it" in warning
    absolute = parse_config('[alerts]\nsilences_path = "/var/lib/sesd/s.json"\n').warnings()
    assert not [w for w in absolute if "silence" in w]
    found = parse_config('[state]\npath = "state.bin"\n').warnings()
    (state,) = [w for w in found if w.startswith("state.path:")]
    assert "`sesd silence` refuses the silences file beside it" in state
    found = parse_config(
        '[state]\npath = "state.bin"\n[alerts]\nsilences_path = "/var/lib/sesd/s.json"\n'
    ).warnings()
    (state,) = [w for w in found if w.startswith("state.path:")]
    assert "silence" not in state


def test_a_replica_of_a_fleet_is_warned_of_rules_whose_events_pair_up() -> None:
    """A replica posting to a shared Alertmanager sink is one of several on the same
    queues, and SQS hands a message's events to whichever replica asks: its Send to one
    and its Delivery to another, its DeliveryDelay to one and its later Delivery to
    another. A rule that pairs two events of one message reads noise on a replica: with
    every message delivered, one replica counts 110 sends and 88 deliveries and its
    ``delivery_ratio`` reads 0.8; ``pending_delays`` keeps delays whose delivery another
    replica saw; ``delay_duration_p95_seconds`` measures only the delays whose two
    events met. check-config warns of each such rule, naming the fleet rule to use; a
    ratio of counts (``delay_ratio``) is one replica's sample and is not warned of, nor
    are those rules without a shared sink."""
    queue = '[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/1/ses-events"\n'
    silences = '[alerts]\nsilences_path = "/var/lib/sesd/silences.json"\n'

    def fleet(shared: bool) -> str:
        return (
            '[alerts.sinks.am]\ntype = "alertmanager"\nurls = ["http://am:9093"]\n'
            f"shared = {str(shared).lower()}\n"
        )

    def rule(metric: str, threshold: str) -> str:
        return (
            f'[[alerts.rules]]\nname = "r-{metric}"\nmetric = "{metric}"\nwindow = "1h"\n'
            f'{threshold}\nsinks = ["am"]\n'
        )

    pairs = [
        ("delivery_ratio", "below = 0.95"),
        ("pending_delays", "above = 100"),
        ("delay_duration_p95_seconds", "above = 600"),
    ]
    rules = "".join(rule(metric, threshold) for metric, threshold in pairs)
    rules += rule("delay_ratio", "above = 0.05")
    warnings = parse_config(queue + silences + fleet(True) + rules).warnings()
    assert len(warnings) == 3, warnings
    for i, ((metric, _), warning) in enumerate(zip(pairs, warnings, strict=True)):
        assert warning.startswith(
            f"alerts.rules[{i}] (r-{metric}).metric: {metric} pairs two events of one message, "
            "which reach different replicas of a fleet"
        ), warning
        assert "shared" in warning
    assert "sesd:delivery_ratio:1h" in warnings[0]
    assert parse_config(queue + silences + fleet(False) + rules).warnings() == []


def test_a_replica_of_a_fleet_is_warned_of_paging_pagerduty_itself() -> None:
    """Each replica of a fleet (a shared Alertmanager sink) judges its own share, and a
    rule's PagerDuty dedup_key is the same on every replica: the first replica whose
    share recovers resolves the incident while the others still fire, and they send
    nothing more until repeat_interval. check-config warns of each rule that pages
    PagerDuty itself on such a config, naming the shared sink to page through; not of a
    rule on what SES answers a poll (every replica reads it alike), nor without a
    shared sink."""
    queue = '[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/1/ses-events"\n'
    sinks = (
        '[alerts]\nsilences_path = "/var/lib/sesd/silences.json"\n'
        '[alerts.sinks.pd]\ntype = "pagerduty"\nrouting_key = "env:SESD_TEST_PD_KEY"\n'
        '[alerts.sinks.am]\ntype = "alertmanager"\nurls = ["http://am:9093"]\n'
    )
    rules = (
        '[[alerts.rules]]\nname = "delays"\nmetric = "delay_ratio"\nwindow = "15m"\n'
        'above = 0.05\nsinks = ["am", "pd"]\n'
        '[[alerts.rules]]\nname = "paused"\nmetric = "sending_paused"\nwindow = "5m"\n'
        'above = 0\nsinks = ["pd"]\n'
    )
    (warning,) = parse_config(queue + sinks + "shared = true\n" + rules).warnings()
    assert warning.startswith("alerts.rules[0] (delays).sinks[1]: 'pd' is PagerDuty"), warning
    assert "dedup_key" in warning
    assert warning.endswith("page through the shared Alertmanager sink 'am'")
    assert parse_config(queue + sinks + rules).warnings() == []


def test_a_replica_of_a_fleet_is_warned_of_posting_to_slack_or_a_webhook_itself() -> None:
    """Each replica of a fleet (a shared Alertmanager sink) posts its own notifications
    to Slack and to a webhook, which fold nothing: with three replicas, an incident
    is up to three firings, and the first replica whose share recovers posts its
    resolve while the others still fire (they post nothing more until the next
    reminder). check-config warns of each rule that posts there itself, naming the
    shared sink to alert through; one on what SES answers a poll is one message per
    replica, and said so. The console is each replica's own log: no warning; nor
    without a shared sink."""
    queue = '[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/1/ses-events"\n'
    sinks = (
        '[alerts]\nsilences_path = "/var/lib/sesd/silences.json"\n'
        '[alerts.sinks.chat]\ntype = "slack"\nwebhook_url = "env:SESD_TEST_SLACK"\n'
        '[alerts.sinks.hook]\ntype = "webhook"\nurl = "env:SESD_TEST_HOOK"\n'
        '[alerts.sinks.am]\ntype = "alertmanager"\nurls = ["http://am:9093"]\n'
    )
    rules = (
        '[[alerts.rules]]\nname = "delays"\nmetric = "delay_ratio"\nwindow = "15m"\n'
        'above = 0.05\nsinks = ["console", "am", "chat", "hook"]\n'
        '[[alerts.rules]]\nname = "paused"\nmetric = "sending_paused"\nwindow = "5m"\n'
        'above = 0\nsinks = ["chat"]\n'
    )
    warnings = parse_config(queue + sinks + "shared = true\n" + rules).warnings()
    assert [w.partition(" is ")[0] for w in warnings] == [
        "alerts.rules[0] (delays).sinks[2]: 'chat'",
        "alerts.rules[0] (delays).sinks[3]: 'hook'",
        "alerts.rules[1] (paused).sinks[0]: 'chat'",
    ], warnings
    chat, hook, paused = warnings
    for warning, kind in ((chat, "Slack"), (hook, "a webhook")):
        assert warning.partition(" is ")[2].startswith(
            f"{kind}, posted to by each replica of the fleet on its own: a firing from each "
            "replica whose share breaches, and a resolve from the first whose share "
            "recovers while the others still fire"
        ), warning
        assert warning.endswith("alert through the shared Alertmanager sink 'am'"), warning
    assert "one message per replica" in paused, paused
    assert parse_config(queue + sinks + rules).warnings() == []
