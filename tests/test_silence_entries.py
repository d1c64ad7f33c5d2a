"""A silences file edited by hand: each silence in it is read on its own. One the
daemon cannot read (a time written as a date, a key misspelt, which would leave a
matcher out and widen the silence) or that would mute nothing (a glob no label
matches, a domain counted under a group, a rule or severity none matches, no matcher
at all) is left out with its reason logged, and the others hold: neither the whole
file dropped for one entry, nor a silence listed as active while it mutes nothing.
The CLI's writes keep such an entry as written, for its author to mend."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from structlog.testing import capture_logs

from sesd.alerting.silence_checks import silence_check
from sesd.alerting.silence_file import SilenceFile
from sesd.alerting.silence_watcher import SilenceWatcher
from sesd.alerting.silences import Silence
from sesd.commands.main import main
from sesd.config import Config, core_settings, parse_config
from sesd.core.pipeline import Pipeline
from tests import factory as f

T = f.T0
_RULES = (
    '[domains]\ngroups = {microsoft = ["outlook.com"]}\n'
    '[[alerts.rules]]\nname = "delay-high"\nmetric = "delay_ratio"\nwindow = "5m"\n'
    "above = 0.1\n"
)


def _entry(silence_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": silence_id, "comment": "x", "starts_at": T, "ends_at": T + 3600} | fields


def _write(path: Path, *entries: object) -> None:
    path.write_text(json.dumps({"version": 1, "silences": list(entries)}, indent=2))


def _skipped(logs: list[MutableMapping[str, Any]]) -> list[tuple[int, str | None, str]]:
    return [
        (entry["entry"], entry["id"], entry["reason"])
        for entry in logs
        if entry["event"] == "sesd.silences.skipped"
    ]


def test_an_entry_the_daemon_cannot_read_is_skipped_and_the_others_hold(tmp_path: Path) -> None:
    path = tmp_path / "silences.json"
    _write(
        path,
        _entry("good", domain="yahoo.com"),
        _entry("dated", domain="gmail.com", starts_at="2026-12-01T08:00Z"),
        # Misspelt, the domain matcher would be missing: every domain muted.
        _entry("typo", rule="delay-high", domian="gmail.com"),
        ["not", "a", "silence"],
        _entry("also-good", severity="warning"),
    )
    with capture_logs() as logs:
        watcher = SilenceWatcher(str(path))
        assert watcher.refresh(T)
    assert [s.id for s in watcher.silences.items] == ["good", "also-good"]
    assert _skipped(logs) == [
        (2, "dated", "not a silence: Expected `float`, got `str` - at `$.starts_at`"),
        (3, "typo", "not a silence: Object contains unknown field `domian`"),
        (4, None, "not a silence: Expected `object`, got `array`"),
    ]
    assert {entry["log_level"] for entry in logs if "entry" in entry} == {"warning"}
    (loaded,) = [entry for entry in logs if entry["event"] == "sesd.silences.loaded"]
    assert (loaded["silences"], loaded["skipped"]) == (2, 3)


def _config(tmp_path: Path, extra: str = "") -> Config:
    return parse_config(f'{_RULES}{extra}[alerts]\nsilences_path = "{tmp_path}/s.json"\n')


def test_a_silence_that_would_mute_nothing_is_skipped_with_the_reason_the_cli_gives(
    tmp_path: Path,
) -> None:
    """Each is what ``sesd silence add`` refuses; the reasons read as its errors do."""
    path = tmp_path / "s.json"
    _write(
        path,
        _entry("address", domain="*@gmail.com"),
        _entry("member", domain="outlook.com"),
        _entry("member-glob", domain="outlook.co[m]"),
        _entry("rule", rule="delay-hihg"),
        _entry("severity", severity="urgent"),
        _entry("nothing"),
        _entry("taken", rule="delay-*", domain="Microsoft"),
        _entry("everything", severity="*"),  # as the reason for "nothing" says to write it
    )
    with capture_logs() as logs:
        watcher = SilenceWatcher(str(path), silence_check(_config(tmp_path)))
        watcher.refresh(T)
    assert [s.id for s in watcher.silences.items] == ["taken", "everything"]
    assert [(n, i) for n, i, _ in _skipped(logs)] == [
        (1, "address"),
        (2, "member"),
        (3, "member-glob"),
        (4, "rule"),
        (5, "severity"),
        (6, "nothing"),
    ]
    reasons = [reason for _, _, reason in _skipped(logs)]
    assert reasons[0].startswith("domain '*@gmail.com' is a glob that matches no label")
    assert reasons[1] == (
        "domain 'outlook.com' counts under the group 'microsoft': its alerts name the "
        "group (domain microsoft)"
    )
    assert reasons[2] == (
        "domain 'outlook.co[m]' is a glob that matches only domains counted under the "
        "group 'microsoft': its alerts name the group (domain microsoft)"
    )
    assert reasons[3] == "rule 'delay-hihg' matches no rule of the config (rules: delay-high)"
    assert reasons[4] == "severity 'urgent' matches none of critical, error, warning, info"
    assert reasons[5] == (
        "no rule, domain nor severity: it would mute every alert (write severity '*' to mean that)"
    )


def test_a_reload_checks_the_silences_read_against_the_new_config(tmp_path: Path) -> None:
    """A silence of a rule the config lacks is skipped; a reload that adds the rule
    takes it, with the file unchanged."""
    path = tmp_path / "s.json"
    _write(path, _entry("later", rule="bounce-high"))
    watcher = SilenceWatcher(str(path), silence_check(_config(tmp_path)))
    watcher.refresh(T)
    assert watcher.silences.items == []
    second = _RULES.split("[[alerts.rules]]")[1].replace('"delay-high"', '"bounce-high"')
    second = f"[[alerts.rules]]{second}"
    with capture_logs() as logs:
        watcher.use(str(path), silence_check(_config(tmp_path, second)), T)
    assert [s.id for s in watcher.silences.items] == ["later"]
    assert _skipped(logs) == []


def test_the_cli_keeps_an_entry_it_cannot_read_as_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A ``sesd silence add`` (or an expiry) rewrites the file: the entry it cannot
    read stays (after the silences), for its author to mend, and ``silence list`` says
    why it is left out."""
    config = tmp_path / "sesd.toml"
    config.write_text(f'{_RULES}[alerts]\nsilences_path = "{tmp_path}/s.json"\n')
    path = tmp_path / "s.json"
    dated = _entry("dated", domain="gmail.com", ends_at="tomorrow")
    _write(path, dated, _entry("typo", rule="delay-hihg"))
    cli = ["silence", "add", "--config", str(config), "--domain", "gmail.com"]
    assert main([*cli, "--for", "1h", "--comment", "x"]) == 0
    assert dated in json.loads(path.read_text())["silences"]
    capsys.readouterr()
    assert main(["silence", "list", "--config", str(config)]) == 0
    out, err = capsys.readouterr()
    # Listed, as the daemon reads it (`ignored`: it leaves it out); the other not.
    assert [line.split()[1:3] for line in out.splitlines()] == [
        ["ignored", "rule=delay-hihg"],
        ["active", "domain=gmail.com"],
    ]
    assert err == (
        f"sesd: {path}: silence 1 (typo) ignored: rule 'delay-hihg' matches no rule of "
        "the config (rules: delay-high)\n"
        f"sesd: {path}: silence 3 (dated) left out: not a silence: Expected "
        "`float | null`, got `str` - at `$.ends_at`\n"
    )


async def test_the_daemon_mutes_by_the_silences_its_config_takes(tmp_path: Path) -> None:
    """The daemon's alerting checks the file as read, and again at a reload: a silence
    of a rule the config lacks mutes nothing and is logged; once a reload brings the
    rule, it holds the rule's alert, the file unchanged."""
    from tests.test_routing import RULE, alerting_for
    from tests.test_rules import feed_spike

    path = tmp_path / "s.json"
    _write(path, _entry("later", rule="delays", ends_at=T + 86400))
    first = RULE.replace('"delays"', '"bounces"')
    config = parse_config(f'[alerts]\nsilences_path = "{path}"\n{first}')
    pipeline = Pipeline(core_settings(config))
    alerting = alerting_for(config, pipeline, [T + 1])
    async with aiohttp.ClientSession() as session:
        alerting.open(session)
        with capture_logs() as logs:
            alerting.evaluate()
        assert _skipped(logs) == [
            (1, "later", "rule 'delays' matches no rule of the config (rules: bounces)")
        ]
        alerting.reconfigure(parse_config(f'[alerts]\nsilences_path = "{path}"\n{RULE}'))
        feed_spike(pipeline, "a.example", T, 6, 4)
        with capture_logs() as logs:
            alerting.evaluate()
    assert [(e["rule"], e["domain"]) for e in logs if e["event"] == "sesd.alert.silenced"] == [
        ("delays", "a.example")
    ]


def test_a_change_of_the_file_checks_only_the_silences_not_checked_yet(tmp_path: Path) -> None:
    """Each ``sesd silence add`` changes the file, and the daemon reads it all again
    within its evaluation: what the config's check said of a silence's matchers
    stands until a reload, so a long glob is searched once, not at every change."""
    path = tmp_path / "s.json"
    checked: list[str | None] = []

    def check(silence: Any) -> str:
        checked.append(silence.domain)
        return ""

    _write(path, _entry("a", domain="yahoo.*"))
    watcher = SilenceWatcher(str(path), check)
    watcher.refresh(T)
    _write(path, _entry("a", domain="yahoo.*"), _entry("b", domain="gmail.*"))
    path.touch()
    assert watcher.refresh(T)
    assert checked == ["yahoo.*", "gmail.*"]
    watcher.use(str(path), check, T)  # a reload: the config may say otherwise now
    assert checked == ["yahoo.*", "gmail.*", "yahoo.*", "gmail.*"]
    assert [s.id for s in watcher.silences.items] == ["a", "b"]


def test_a_reason_names_a_long_matcher_or_key_bounded(tmp_path: Path) -> None:
    """Matchers, keys and ids of any length edited in (a paste gone wrong): each
    reason logged names them cut short, not whole, each at a line's length."""
    config = _config(tmp_path)
    path = tmp_path / "s.json"
    long = "x" * 20_000
    _write(
        path,
        _entry("domain", domain=long),
        _entry("glob", domain=f"{long}*@"),
        _entry("rule", rule=long),
        _entry("severity", severity=long),
        _entry("key", **{long: "gmail.com"}),
        _entry(long, rule="no-such-rule"),
    )
    with capture_logs() as logs:
        watcher = SilenceWatcher(str(path), silence_check(config))
        assert watcher.refresh(T)
    skipped = _skipped(logs)
    assert [len(str(silence_id)) for _, silence_id, _ in skipped] == [6, 4, 4, 8, 3, 100]
    reasons = [reason for _, _, reason in skipped[:5]]
    assert all("xxx" in reason and len(reason) < 1_500 for reason in reasons), [
        len(reason) for reason in reasons
    ]


def test_a_glob_no_group_member_matches_is_checked_without_walking_the_members(
    tmp_path: Path,
) -> None:
    """A silence's domain glob is searched for a label it takes that is no group's
    member (a member counts under its group's label). Members the glob does not match
    cannot be what it takes: a search that stepped through every member's beginnings
    took a second of CPU per thousand members, for each glob silence the daemon read
    (at each reload, each file change), the evaluation and the queues' reads held
    meanwhile. Measured by the memory those steps take (the time is noisy here)."""
    members = ", ".join(f'"mail{i}.example.com"' for i in range(20_000))
    config = parse_config(
        f"[domains]\ngroups = {{bulk = [{members}]}}\n{_RULES.split(chr(10), 2)[2]}"
    )
    check = silence_check(config)
    for glob in ("*.gmail.com", "mail*.example.com"):
        # The second matches every member, and mail.example.com, which is none.
        silence = Silence(id="g", comment="x", starts_at=T, ends_at=T + 60, domain=glob)
        check(silence)  # (caches warmed)
        tracemalloc.start()
        try:
            assert check(silence) == ""
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        # The members' table each check makes takes 3 MB; the steps took 160 MB.
        assert peak < 16 << 20, (glob, peak)


def test_an_entry_still_wrong_is_logged_once_not_at_each_read_or_reload(tmp_path: Path) -> None:
    """The daemon reads the file at each change (each ``sesd silence add``) and checks
    it at each reload: an entry left out for the same reason is told once, not again at
    each, which filled the log with one warning; it is told again when its reason
    changes (a reload's rules), or when it is mended and then goes wrong again. The
    count of entries left out stays honest at each read."""
    path = tmp_path / "s.json"
    _write(path, _entry("typo", rule="delay-hihg"), ["not", "a", "silence"])
    with capture_logs() as logs:
        watcher = SilenceWatcher(str(path), silence_check(_config(tmp_path)))
        watcher.refresh(T)
        # Another operator's add: the file changes, the entries move, as the CLI writes.
        SilenceFile(str(path)).add(Silence(**_entry("new", domain="gmail.com")), T)
        assert watcher.refresh(T)
        watcher.use(str(path), silence_check(_config(tmp_path)), T)  # a reload, same rules
    loaded = [e["skipped"] for e in logs if e["event"] == "sesd.silences.loaded"]
    assert loaded == [2, 2]
    assert [(n, i) for n, i, _ in _skipped(logs)] == [(1, "typo"), (2, None)]
    second = _RULES.split("[[alerts.rules]]")[1].replace('"delay-high"', '"bounce-high"')
    with capture_logs() as logs:
        watcher.use(str(path), silence_check(_config(tmp_path, f"[[alerts.rules]]{second}")), T)
    assert [reason for _, _, reason in _skipped(logs)] == [
        "rule 'delay-hihg' matches no rule of the config (rules: delay-high, bounce-high)"
    ]
    _write(path, ["not", "a", "silence"])  # mended: the typo gone, and back
    watcher.refresh(T)
    _write(path, _entry("typo", rule="delay-hihg"), ["not", "a", "silence"])
    path.touch()
    with capture_logs() as logs:
        assert watcher.refresh(T)
    assert [(n, i) for n, i, _ in _skipped(logs)] == [(1, "typo")]


async def test_a_long_silence_id_is_logged_cut_short_where_it_holds_or_ends_a_page(
    tmp_path: Path,
) -> None:
    """An id edited in by hand may be of any length (a paste gone wrong), and hold
    control characters: the line that says a silence held a page back, and the one
    that says a resolve ended it, name it as a left-out entry's id is named, escaped
    and cut to 100 characters, not whole."""
    from tests.test_routing import RULE, alerting_for
    from tests.test_rules import feed_spike

    path = tmp_path / "s.json"
    long = "\x1b[2J" + "x" * 1_000_000
    _write(path, _entry(long, rule="delays", ends_at=None, until_resolved=True))
    config = parse_config(f'[alerts]\nsilences_path = "{path}"\n{RULE}')
    pipeline = Pipeline(core_settings(config))
    now = [T + 1]
    alerting = alerting_for(config, pipeline, now)
    async with aiohttp.ClientSession() as session:
        alerting.open(session)
        feed_spike(pipeline, "a.example", T, 6, 4)
        with capture_logs() as logs:
            alerting.evaluate()
            feed_spike(pipeline, "a.example", T + 10, 0, 200)
            now[0] = T + 10
            alerting.evaluate()
    (held,) = [e["silence"] for e in logs if e["event"] == "sesd.alert.silenced"]
    (ended,) = [e["ids"] for e in logs if e["event"] == "sesd.silences.ended_by_resolve"]
    assert [held, *ended] == [f"\\u001b[2J{'x' * 90}…"] * 2
    assert json.loads(path.read_text())["silences"][0]["id"] == long  # ended all the same


def test_a_reason_names_every_rule_a_typo_could_have_meant(tmp_path: Path) -> None:
    """A rule matcher no rule matches: the reason lists the config's rules, each by its
    name, for the silence's author to pick the one meant."""
    second = _RULES.split("[[alerts.rules]]")[1].replace('"delay-high"', '"bounce-high"')
    check = silence_check(_config(tmp_path, f"[[alerts.rules]]{second}"))
    silence = Silence(id="s", comment="x", starts_at=T, ends_at=T + 60, rule="delay-hihg")
    assert check(silence) == (
        "rule 'delay-hihg' matches no rule of the config (rules: delay-high, bounce-high)"
    )


@pytest.mark.parametrize(
    ("length", "shown"), [(1_000, "x" * 1_000), (1_001, "x" * 999 + "…"), (20_000, "x" * 999 + "…")]
)
def test_a_matcher_is_named_whole_up_to_a_thousand_characters(
    tmp_path: Path, length: int, shown: str
) -> None:
    """A matcher's reason names it whole up to 1,000 characters, and a longer one by its
    first 999 and an ellipsis: the reader sees where it was cut."""
    check = silence_check(_config(tmp_path))
    silence = Silence(id="s", comment="x", starts_at=T, ends_at=T + 60, rule="x" * length)
    assert check(silence) == (f"rule '{shown}' matches no rule of the config (rules: delay-high)")
