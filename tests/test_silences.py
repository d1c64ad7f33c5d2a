"""Silences: the file, the matchers, the CLI's checks, and what the evaluator sends while
one holds (pure, with explicit times). A running daemon under the CLI:
tests/test_silences_e2e.py."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import stat
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import Status, Transition
from sesd.alerting.silence_file import MOST_BYTES, SilenceFile
from sesd.alerting.silence_watcher import SilenceWatcher
from sesd.alerting.silences import SILENCES_VERSION, Silence, SilenceError
from sesd.commands.main import main
from sesd.config import Config, core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.io.files import open_lock, write_atomic
from tests import factory as f
from tests.test_rules import CONFIG, feed_spike

T = f.T0


def _silence(**fields: object) -> Silence:
    base: dict[str, object] = {
        "id": "s1",
        "comment": "known",
        "starts_at": T,
        "ends_at": T + 3600,
    }
    return Silence(**(base | fields))  # type: ignore[arg-type]


def test_matchers_are_exact_or_glob_and_missing_ones_match_all() -> None:
    silence = _silence(rule="delay-*", domain="yahoo.com")
    assert silence.matches("delay-ratio", "yahoo.com", "critical")
    assert not silence.matches("delay-ratio", "yahoo.co.uk", "critical")
    assert not silence.matches("bounce-ratio", "yahoo.com", "critical")
    assert _silence(domain="yahoo.*").matches("any", "yahoo.co.uk", "info")
    assert not _silence(severity="critical").matches("any", "yahoo.com", "warning")


def test_a_tenants_mute_line_mutes_it_in_any_case() -> None:
    """A tenant's name keeps its capitals (Globex): the silence its alert's mute line
    adds matches it, as one written in lower case does."""
    assert _silence(rule="tenant-*", domain="Globex").matches("tenant-delays", "Globex", "info")
    assert _silence(domain="globex").matches("tenant-delays", "Globex", "info")
    assert _silence(domain="Yahoo.COM").matches("delays", "yahoo.com", "info")


def test_a_domain_in_any_spelling_a_rule_takes_mutes_its_alerts() -> None:
    """Alerts name a domain in its normal form: a silence written as people write the
    domain (Unicode, capitals, a trailing dot) mutes it, in a glob too."""
    assert _silence(domain="Bücher.de").matches("delays", "xn--bcher-kva.de", "info")
    assert _silence(domain="outlook.com.").matches("delays", "outlook.com", "info")
    assert _silence(domain="*.Bücher.DE").matches("delays", "shop.xn--bcher-kva.de", "info")
    assert not _silence(domain="Bücher.de").matches("delays", "bucher.de", "info")


def test_a_group_named_in_any_script_is_muted_by_its_own_mute_line() -> None:
    """A group's name is a label as the config writes it (Почта): the line its alert
    gives (``--domain 'Почта'``) mutes it, in any case, though the name is no domain."""
    assert _silence(domain="Почта").matches("delays", "Почта", "info")
    assert _silence(domain="почта").matches("delays", "Почта", "info")
    assert _silence(domain="Поч*").matches("delays", "Почта", "info")
    assert not _silence(domain="Почта").matches("delays", "Почта-2", "info")


def test_a_domain_under_a_group_or_a_provider_without_a_rule_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """hotmail.com counts under the group microsoft: a silence on it would mute
    nothing. microsoft alone names the group and the provider: muting consumer Outlook
    would mute every Microsoft 365 business domain too, so a rule must say which."""
    rule = (
        '[domains]\ngroups = { microsoft = ["outlook.com", "hotmail.com"] }\n'
        '[[alerts.rules]]\nname = "delays"\nmetric = "delay_ratio"\nwindow = "5m"\n'
        "above = 0.1\n"
    )
    config = str(_config(tmp_path, rule))
    add = ["silence", "add", "--config", config, "--for", "1h", "--comment", "c"]
    assert main([*add, "--domain", "Hotmail.com"]) == 2
    assert "counts under the group 'microsoft': its alerts name the group" in (
        capsys.readouterr().err
    )
    assert main([*add, "--domain", "hotmail.com."]) == 2
    assert "counts under the group 'microsoft'" in capsys.readouterr().err
    assert main([*add, "--domain", "microsoft"]) == 2
    assert capsys.readouterr().err == (
        "sesd: --domain microsoft names the mailbox provider and the group microsoft: add "
        "--rule to say which alerts: --rule delays for the group microsoft's\n"
    )
    assert main([*add, "--domain", "microsoft", "--rule", "delays"]) == 0
    # A member the config writes in Unicode, or with a trailing dot, is one too.
    grouped = rule.replace('"hotmail.com"]', '"hotmail.com"], "Почта" = ["почта.рф", "Mail.RU."]')
    config = str(_config(tmp_path, grouped))
    add = ["silence", "add", "--config", config, "--for", "1h", "--comment", "c"]
    for member in ("почта.рф", "xn--80a1acny.xn--p1ai", "mail.ru"):
        assert main([*add, "--domain", member]) == 2
        assert "counts under the group 'Почта'" in capsys.readouterr().err


def test_a_provider_refused_without_a_rule_is_told_the_rules_it_could_mean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--domain microsoft`` without ``--rule`` is refused, and the line gives the
    ``--rule`` to type for each reading the config has: the rules on providers that
    watch it, and the rules on domains where a group has that name. Not a rule on
    domains without such a group: the line named every rule on domains, and the one
    picked from it muted nothing. With no rule that alerts on it, the line says the
    silence would mute nothing; with no rules to tell by, a rule is asked for."""
    providers = (
        '[[alerts.rules]]\nname = "microsoft-throttling"\nmetric = "delay_ratio"\n'
        'window = "15m"\nabove = 0.05\nproviders = ["microsoft"]\n'
    )
    domains = (
        '[[alerts.rules]]\nname = "delays"\nmetric = "delay_ratio"\nwindow = "5m"\nabove = 0.1\n'
    )
    gmail = providers.replace("microsoft", "google")
    group = '[domains]\ngroups = { Microsoft = ["outlook.com"] }\n'
    names = "names the mailbox provider microsoft: add --rule to say which alerts: "
    for extra, said in (
        (providers, names + "--rule microsoft-throttling for the provider's"),
        (domains + providers, names + "--rule microsoft-throttling for the provider's"),
        (
            group + domains + providers,
            "names the mailbox provider and the group microsoft: add --rule to say which "
            "alerts: --rule microsoft-throttling for the provider's; --rule delays for the "
            "group microsoft's",
        ),
        (
            domains,
            "names the mailbox provider microsoft, and no rule alerts on it: no rule "
            "watches providers (providers = [...] in a rule), and no group is named "
            "microsoft; it would mute nothing",
        ),
        (
            domains + gmail,
            "names the mailbox provider microsoft, and no rule alerts on it: no rule on "
            "providers watches it, and no group is named microsoft; it would mute nothing",
        ),
        ("", "names a mailbox provider as well as any domain or group of that name: add "
         "--rule to say which alerts"),
    ):  # fmt: skip
        config = str(_config(tmp_path, extra))
        add = ["silence", "add", "--config", config, "--for", "1h", "--comment", "c"]
        assert main([*add, "--domain", "microsoft"]) == 2
        assert capsys.readouterr().err == f"sesd: --domain microsoft {said}\n"
        if "microsoft-throttling" in extra:
            assert main([*add, "--domain", "microsoft", "--rule", "microsoft-throttling"]) == 0
            capsys.readouterr()


def test_a_provider_with_a_rule_on_domains_alone_is_refused_and_told_its_rules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--domain microsoft --rule delays``, ``delays`` a rule on domains and no group
    named microsoft: the silence was taken, and muted nothing while the provider's
    alerts went on. Refused, naming the rules the provider's alerts come from. A group
    of that name, a rule on providers or on tenants among those named, or a glob on
    every rule, is taken."""
    rules = (
        '[[alerts.rules]]\nname = "delays"\nmetric = "delay_ratio"\nwindow = "5m"\nabove = 0.1\n'
        '[[alerts.rules]]\nname = "provider-delays"\nmetric = "delay_ratio"\n'
        'window = "15m"\nabove = 0.05\nproviders = ["*"]\nexclude_providers = ["yahoo"]\n'
    )
    config = str(_config(tmp_path, rules))
    add = ["silence", "add", "--config", config, "--for", "1h", "--comment", "c"]
    assert main([*add, "--domain", "Microsoft", "--rule", "delays"]) == 2
    assert capsys.readouterr().err == (
        "sesd: --domain Microsoft --rule delays: rules on domains only, and no group is "
        "named microsoft (a domain's name has a dot): it would mute nothing; microsoft is a "
        "mailbox provider: its alerts come from --rule provider-delays\n"
    )
    assert main([*add, "--domain", "yahoo", "--rule", "del*"]) == 2
    assert capsys.readouterr().err.endswith("mailbox provider: no rule on providers watches it\n")
    for rule in ("provider-delays", "*"):
        assert main([*add, "--domain", "microsoft", "--rule", rule]) == 0
        capsys.readouterr()
    grouped = _config(tmp_path, '[domains]\ngroups = { microsoft = ["outlook.com"] }\n' + rules)
    add[3] = str(grouped)
    assert main([*add, "--domain", "microsoft", "--rule", "delays", "--severity", "info"]) == 0


def test_a_provider_is_told_only_the_rules_that_alert_on_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The ``--rule`` the line gives is one whose alerts name the provider or the group,
    as the evaluator picks a rule's labels: not a rule on domains that watches other
    domains than the group, nor a provider glob's rule for ``unknown``, which a glob
    never takes. Each of those made a silence that muted nothing."""
    rules = (
        '[domains]\ngroups = { microsoft = ["outlook.com"] }\n'
        '[[alerts.rules]]\nname = "gmail-delays"\nmetric = "delay_ratio"\nwindow = "5m"\n'
        'above = 0.1\ndomains = ["gmail.com"]\n'
        '[[alerts.rules]]\nname = "delays"\nmetric = "delay_ratio"\nwindow = "5m"\n'
        "above = 0.2\n"
        '[[alerts.rules]]\nname = "provider-delays"\nmetric = "delay_ratio"\n'
        'window = "15m"\nabove = 0.05\nproviders = ["*"]\n'
    )
    config = str(_config(tmp_path, rules))
    add = ["silence", "add", "--config", config, "--for", "1h", "--comment", "c"]
    assert main([*add, "--domain", "microsoft"]) == 2
    assert capsys.readouterr().err == (
        "sesd: --domain microsoft names the mailbox provider and the group microsoft: add "
        "--rule to say which alerts: --rule provider-delays for the provider's; --rule "
        "delays for the group microsoft's\n"
    )
    assert main([*add, "--domain", "unknown"]) == 2
    assert capsys.readouterr().err == (
        "sesd: --domain unknown names the mailbox provider unknown, and no rule alerts on "
        "it: no rule on providers watches it, and no group is named unknown; it would "
        "mute nothing\n"
    )
    assert main([*add, "--domain", "microsoft", "--rule", "gmail-*"]) == 2
    assert capsys.readouterr().err == (
        "sesd: --domain microsoft --rule 'gmail-*': rules on domains only, and no rule on "
        "domains watches the group microsoft: it would mute nothing; microsoft is a mailbox "
        "provider: its alerts come from --rule provider-delays\n"
    )
    # Nor a group no rule watches.
    alone = rules.replace("above = 0.2\n", 'above = 0.2\ndomains = ["yahoo.com"]\n')
    config = str(_config(tmp_path, alone.replace('providers = ["*"]', 'providers = ["google"]')))
    add[3] = config
    assert main([*add, "--domain", "microsoft"]) == 2
    assert capsys.readouterr().err == (
        "sesd: --domain microsoft names the mailbox provider microsoft, and no rule alerts "
        "on it: no rule on providers watches it, and no rule on domains watches the group "
        "microsoft; it would mute nothing\n"
    )
    for rule in ("delays", "gmail-delays"):
        assert main([*add, "--domain", "microsoft", "--rule", rule]) == 2
        assert "no rule on domains watches the group microsoft" in capsys.readouterr().err


def test_a_silence_is_active_from_its_start_until_its_end_exclusive() -> None:
    silence = _silence()
    assert not silence.active(T - 1)
    assert silence.active(T)
    assert silence.active(T + 3599.9)
    assert not silence.active(T + 3600)
    assert [silence.state(t) for t in (T - 1, T, T + 3600)] == ["pending", "active", "expired"]
    assert _silence(ends_at=None, until_resolved=True).active(T + 10**6)


def test_the_file_is_written_whole_with_mode_0600_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "silences.json"
    file = SilenceFile(str(path))
    assert file.read() == []
    assert file.identity() is None
    file.add(_silence(), T)
    first = file.identity()
    file.add(_silence(id="s2", domain="gmail.com"), T)
    assert [s.id for s in file.read()] == ["s1", "s2"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert file.identity() != first
    assert json.loads(path.read_text())["version"] == 1
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_expire_ends_running_silences_only_and_old_ones_are_dropped(tmp_path: Path) -> None:
    file = SilenceFile(str(tmp_path / "silences.json"))
    file.add(_silence(), T)
    assert file.expire({"s1"}, T + 10) == ["s1"]
    assert file.read()[0].ends_at == T + 10
    assert file.expire({"s1"}, T + 20) == []  # already ended
    assert file.expire({"nope"}, T + 20) == []
    # Ended for more than 7 days: dropped at the next write.
    later = T + 8 * 86400
    file.add(_silence(id="s2", starts_at=later, ends_at=later + 60), later)
    assert [s.id for s in file.read()] == ["s2"]


def test_an_unreadable_file_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "silences.json"
    path.write_text("{not json")
    with pytest.raises(SilenceError, match=r"silences\.json is not a silences file"):
        SilenceFile(str(path)).read()
    path.write_text('{"version": 9, "silences": []}')
    with pytest.raises(SilenceError, match="version 9 is not 1"):
        SilenceFile(str(path)).read()


def test_a_file_larger_than_a_silences_file_is_refused_unread(tmp_path: Path) -> None:
    """A silences path naming another, larger file (a log, a disk image): read whole
    whenever it changed, each evaluation, a gigabyte at a time. Refused unread, naming
    its size and the bound; the daemon keeps the silences it had."""
    path = tmp_path / "silences.json"
    SilenceFile(str(path)).add(_silence(domain="yahoo.com"), T)
    silences = SilenceWatcher(str(path))
    silences.refresh(T)
    with path.open("r+b") as grown:  # sparse: no disk, and no memory unless read
        grown.truncate(MOST_BYTES + 1)
    with pytest.raises(SilenceError) as refused:
        SilenceFile(str(path)).read()
    assert str(refused.value) == (
        f"{path} is {MOST_BYTES + 1:,} bytes, more than the {MOST_BYTES:,} a silences file "
        "may hold (another file at the path?); not read"
    )
    silences.refresh(T)
    assert silences.silences.match("r", "yahoo.com", "info", T + 1) is not None


def test_a_file_saved_in_latin1_is_an_error_naming_it_and_where(tmp_path: Path) -> None:
    """A silences file edited by hand, a comment pasted from a Latin-1 source ("café"
    after "déjà vu", which is UTF-8): an error naming the file, as other damage is
    (under msgspec 0.22 its read raised UnicodeDecodeError, which neither `sesd
    silence` nor the daemon's refresh expects), and where the "é" is in the file: line
    4, column 29 (characters, as an editor counts), byte offset 65; not the decoder's
    position in the comment's string."""
    path = tmp_path / "silences.json"
    path.write_bytes(
        b'{\n  "version": 1,\n  "silences": [{\n'
        b'    "comment": "d\xc3\xa9j\xc3\xa0 vu: caf\xe9",\n'
        b'    "id": "s1", "starts_at": 1800000000.0, "ends_at": 1800003600.0\n  }]\n}\n'
    )
    with pytest.raises(SilenceError) as raised:
        SilenceFile(str(path)).read()
    assert str(raised.value) == (
        f"{path} is not a silences file (not UTF-8 at line 4, column 29, byte offset 65)"
    )
    assert path.read_bytes()[65:66] == b"\xe9"


def test_the_daemon_keeps_its_silences_when_the_file_turns_bad(tmp_path: Path) -> None:
    path = tmp_path / "silences.json"
    SilenceFile(str(path)).add(_silence(domain="yahoo.com"), T)
    silences = SilenceWatcher(str(path))
    silences.refresh(T)
    assert silences.silences.match("r", "yahoo.com", "info", T + 1) is not None
    path.write_text("garbage")
    silences.refresh(T)
    assert silences.silences.match("r", "yahoo.com", "info", T + 1) is not None
    path.unlink()
    silences.refresh(T)
    assert silences.silences.match("r", "yahoo.com", "info", T + 1) is None


# --- the CLI's checks ---------------------------------------------------------------


def _config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "sesd.toml"
    path.write_text(f'[alerts]\nsilences_path = "{tmp_path / "silences.json"}"\n{extra}')
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--for", "1h", "--comment", "x"], "give at least one matcher"),
        (["--domain", "a.example", "--for", "1h", "--comment", " "], "--comment must say why"),
        (
            ["--domain", "a.example", "--until", "2030-01-01T00:00", "--comment", "x"],
            "no time zone",
        ),
        (["--domain", "a.example", "--until", "2001-01-01T00:00Z", "--comment", "x"], "would end"),
        (["--domain", "a.example", "--for", "soon", "--comment", "x"], "--for: invalid duration"),
        # Read as --for's value, not as an unknown option: argparse's "expected one
        # argument" would not say that a silence's length is positive.
        (
            ["--domain", "a.example", "--for", "-5m", "--comment", "x"],
            "--for '-5m': a silence lasts a positive time, e.g. 4h",
        ),
        (["--severity", "urgent", "--for", "1h", "--comment", "x"], "matches none of"),
    ],
)
def test_silence_add_refuses_what_would_not_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    config = _config(tmp_path)
    assert main(["silence", "add", "--config", str(config), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "silences.json").exists()


@pytest.mark.parametrize("pasted", ["ann@gmail.com", "https://gmail.com/", "gmail .com"])
def test_silence_add_refuses_an_address_or_url_that_would_mute_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], pasted: str
) -> None:
    """An address pasted from a bounce, or a URL, is no label any alert has: the
    silence would be listed as active while muting nothing. It is refused as a rule's
    domains refuse it."""
    config = _config(tmp_path)
    add = ["silence", "add", "--config", str(config), "--for", "1h", "--comment", "x"]
    assert main([*add, "--domain", pasted]) == 2
    err = capsys.readouterr().err
    assert f"--domain {pasted!r} names no domain, provider, tenant, group or ACCOUNT/REGION" in err
    assert "write the domain alone, as gmail.com" in err
    assert not (tmp_path / "silences.json").exists()


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("yahoo.\x1b[31m*", "yahoo.\\u001b[31m*"),  # a colour escape: would mute nothing
        ("*.example\n", "*.example\\u000a"),  # a line break pasted along
        ("gm\u200bail.*", "gm\\u200bail.*"),  # zero-width: looks like gmail.*
        ("yahoo.\u202e*", "yahoo.\\u202e*"),  # a bidi override: the list reads reordered
        ("gmail\u200b.com", "gmail\\u200b.com"),  # not a glob: refused the same
    ],
)
def test_silence_add_refuses_a_domain_with_a_control_character(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], written: str, shown: str
) -> None:
    """No label an alert names holds a control or invisible character. In a glob one
    was taken as written: a colour escape made a silence that mutes nothing while
    listed as active, a zero-width space one that mutes what it does not show. It is
    refused (exit 2), the character shown escaped, and nothing is written."""
    config = _config(tmp_path)
    add = ["silence", "add", "--config", str(config), "--for", "1h", "--comment", "x"]
    assert main([*add, "--domain", written]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"sesd: --domain '{shown}': a control or invisible character (shown escaped), "
        "which no alert's label has: write it without\n"
    )
    assert not (tmp_path / "silences.json").exists()


def test_silence_add_takes_every_kind_of_label_an_alert_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Domains and globs, a provider, a tenant (``'other'`` too: the tenant SES names
    ``other``), a group named in any script or with a space, an account and region,
    and a label sesd gives itself (canary) are all names an alert's mute line may
    give."""
    extra = (
        '[domains]\ngroups = { "Почта" = ["почта.рф"], "Team EU" = ["shop.example"] }\n'
        '[[accounts]]\nname = "prod-eu"\nrole_arn = "arn:aws:iam::210987654321:role/sesd"\n'
    )
    config = _config(tmp_path, extra)
    add = ["silence", "add", "--config", str(config), "--for", "1h", "--comment", "x"]
    labels = ["gmail.com", "*.example", "bücher.de", "yahoo.*", "Почта", "Team EU"]
    labels += ["Acme_Tenant-1", "canary"]
    labels += ["prod-eu/eu-west-1", "default/us-east-1", "Prod-EU/EU-WEST-1"]
    labels += ["'other'", "'unknown'"]  # the tenants SES names other and unknown
    for label in labels:
        assert main([*add, "--domain", label]) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert main([*add, "--domain", "staging/eu-west-1"]) == 2  # no such account
    assert "names no domain" in capsys.readouterr().err


def _lock_waiters(lock: Path) -> int:
    """How many processes or threads wait for ``lock``'s flock (the kernel's list)."""
    inode = lock.stat().st_ino
    rows = Path("/proc/locks").read_text().splitlines()
    return sum(1 for row in rows if " -> FLOCK " in row and f":{inode} " in row)


def test_silence_add_waits_for_the_lock_another_command_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two ``sesd silence add`` at once: the second waits for the first's lock, then
    reads the file the first wrote and adds to it. Neither silence is lost, and the
    second is not refused: the daemon never waits for the lock, a command does."""
    config = _config(tmp_path)
    path = tmp_path / "silences.json"
    first = open_lock(f"{path}.lock")
    fcntl.flock(first, fcntl.LOCK_EX)
    codes: list[int] = []
    add = ["silence", "add", "--config", str(config), "--for", "1h", "--comment", "x"]
    second = threading.Thread(target=lambda: codes.append(main([*add, "--domain", "b.example"])))
    second.start()
    try:
        deadline = time.monotonic() + 20
        while not _lock_waiters(Path(f"{path}.lock")) and second.is_alive():
            assert time.monotonic() < deadline, "the second add neither waited nor ended"
            second.join(0.01)
        assert second.is_alive(), codes  # waiting, not refused
        # The first command's write, under its lock (the file replaced whole).
        now = time.time()
        added = _silence(domain="a.example", starts_at=now, ends_at=now + 3600)
        first_added = {"version": SILENCES_VERSION, "silences": [added]}
        write_atomic(str(path), msgspec.json.encode(first_added))
    finally:
        os.close(first)
    second.join(20)
    assert codes == [0], capsys.readouterr().err
    assert [s.domain for s in SilenceFile(str(path)).read()] == ["a.example", "b.example"]


def test_silence_add_on_a_file_system_that_refuses_locks_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The silences file on an NFS mount without its lock service: flock fails with
    ENOLCK. The command says which file it could not lock and why, and writes
    nothing, rather than end in a traceback. flock is replaced: a file system that
    refuses locks cannot be mounted by a test."""
    config = _config(tmp_path)

    def flock(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "flock", flock)
    add = ["silence", "add", "--config", str(config), "--for", "1h", "--comment", "x"]
    assert main([*add, "--domain", "a.example"]) == 1
    path = tmp_path / "silences.json"
    assert capsys.readouterr().err == f"sesd: cannot lock {path}: No locks available\n"
    assert not path.exists()


def test_silence_add_list_expire(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(_config(tmp_path))
    assert main(["silence", "add", "--config", config, "--domain", "Yahoo.com", "--rule",
                 "delay-*", "--for", "4h", "--comment", "Yahoo defers"]) == 0  # fmt: skip
    silence_id = capsys.readouterr().out.strip()
    assert main(["silence", "add", "--config", config, "--domain", "gmail.com",
                 "--until-resolved", "--comment", "watching"]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["silence", "list", "--config", config, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["domain"], r["state"], r.get("until_resolved", False)) for r in rows] == [
        ("Yahoo.com", "active", False),  # as written; matched in any case
        ("gmail.com", "active", True),
    ]
    assert rows[0]["ends_at"] - rows[0]["starts_at"] == 4 * 3600
    assert rows[1]["ends_at"] is None
    assert main(["silence", "expire", "--config", config, silence_id]) == 0
    assert capsys.readouterr().out == f"expired {silence_id}\n"
    # Expired twice: when it ended, not "no such silence" (it is there, listed).
    assert main(["silence", "expire", "--config", config, silence_id]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"sesd: silence {silence_id!r} already ended at 20")
    assert err.endswith("Z: nothing to expire\n")
    assert main(["silence", "expire", "--config", config, "nosuchid"]) == 1
    assert capsys.readouterr().err == (
        "sesd: no running silence has id 'nosuchid' (`sesd silence list` shows the ids)\n"
    )
    assert main(["silence", "list", "--config", config]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{silence_id}  expired ")
    assert "rule=delay-* domain=Yahoo.com" in lines[0]
    assert lines[0].endswith("# Yahoo defers")
    # An --until-resolved silence has no time to end at: the line says what ends it.
    assert "  ends when its alert resolves  # " in lines[1]


@pytest.mark.parametrize("stdout", ["full at once", "full at the flush", "closed"])
def test_a_silence_made_whose_confirmation_is_refused_is_still_a_success(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    stdout: str,
) -> None:
    """`sesd silence add ... > /dev/full` (or with standard output closed, `>&-`): the
    silence is written, only its id is not. The status said it failed (1, or 141
    quietly), and a script or an SRE trying again added a second silence. The status
    is 0, as the silence was made, and standard error says the id that could not be
    printed; so for `silence expire`. The same silence added again is said so, naming
    the one that already mutes those alerts and when it ends."""
    config = str(_config(tmp_path))
    file = SilenceFile(str(tmp_path / "silences.json"))
    add = ["silence", "add", "--config", config, "--domain", "a.example", "--for", "4h",
           "--comment", "known"]  # fmt: skip
    why = "standard output is closed" if stdout == "closed" else "No space left on device"
    said: list[list[str]] = []
    with contextlib.ExitStack() as opened:
        for argv in (add, add, ["silence", "expire", "--config", config, "ID"]):
            refusing = None
            if stdout != "closed":
                # A device that refuses every write: each print at once (line buffered),
                # or only what is buffered at the flush, as a file's small result is.
                refusing = opened.enter_context(
                    open("/dev/full", "w", buffering=1 if stdout == "full at once" else -1)
                )
            made = [s.id for s in file.read()]
            monkeypatch.setattr("sys.stdout", refusing)
            assert main([made[0] if word == "ID" else word for word in argv]) == 0
            monkeypatch.undo()
            said.append(capsys.readouterr().err.splitlines())
    first, second = file.read()
    assert [first.state(time.time()), second.state(time.time())] == ["expired", "active"]
    assert said[0] == [
        f"sesd: silence {first.id} added; its id could not be written to standard output ({why})"
    ]
    # Until its end then: the expire below ended it since.
    ends = datetime.fromtimestamp(first.starts_at + 4 * 3600, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert said[1] == [
        f"sesd: silence {second.id} added; its id could not be written to standard output ({why})",
        f"sesd: silence {first.id} already mutes these alerts (ends {ends}): if this was "
        f"a retry, `sesd silence expire {second.id}`",
    ]
    assert said[2] == [
        f"sesd: silence {first.id} expired; this could not be written to standard output ({why})"
    ]


def test_silences_need_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "sesd.toml"
    path.write_text("")
    args = ["silence", "list", "--config", str(path)]
    assert main(args) == 2
    err = capsys.readouterr().err
    # The key to set first, as check-config's warning of it names it.
    assert err == (
        "sesd: alerts.silences_path: not given, nor state.path beside which it is kept: "
        "silences need a file; set one\n"
    )


def test_the_silences_file_defaults_to_beside_the_state_file(tmp_path: Path) -> None:
    config = parse_config(f'[state]\npath = "{tmp_path}/state.bin"\n')
    assert config.silences_path == f"{tmp_path}/silences.json"


# --- what is sent while a silence holds --------------------------------------------


#: The watcher keeping each test evaluator's silences as the file says (the daemon's
#: alerting service does this).
_WATCHERS: dict[int, SilenceWatcher] = {}


def _watched(config: Config, path: str) -> Evaluator:
    watcher = SilenceWatcher(path)
    evaluator = Evaluator(config.alerts, ["5m", "15m", "1h"], watcher.silences, "sesd silence add")
    _WATCHERS[id(evaluator)] = watcher
    return evaluator


def _watcher(evaluator: Evaluator) -> SilenceWatcher:
    return _WATCHERS[id(evaluator)]


def _evaluator(tmp_path: Path) -> tuple[Pipeline, Evaluator, SilenceFile]:
    config = parse_config(CONFIG.replace('group_wait = "30s"', 'group_wait = "0s"'))
    path = str(tmp_path / "silences.json")
    return Pipeline(core_settings(config)), _watched(config, path), SilenceFile(path)


def _tick(evaluator: Evaluator, pipeline: Pipeline, now: float) -> list[tuple[str, str]]:
    _watcher(evaluator).refresh(T)
    evaluator.evaluate(pipeline.ledger, now)
    return [(n.kind.value, a.domain) for n in evaluator.due(now) for a in n.alerts]


def test_a_silenced_alert_fires_unsent_and_is_sent_when_the_silence_ends(tmp_path: Path) -> None:
    pipeline, evaluator, file = _evaluator(tmp_path)
    file.add(_silence(domain="a.example", ends_at=T + 60), T)
    feed_spike(pipeline, "a.example", T, 6, 4)
    feed_spike(pipeline, "b.example", T, 6, 4)
    assert _tick(evaluator, pipeline, T) == [("firing", "b.example")]
    # It still moves through its states, and reads say it is silenced.
    assert evaluator.states["delays"]["a.example"].status is Status.FIRING
    assert evaluator.silenced("delays", "a.example", T)
    assert evaluator.held == [("delays", "a.example", "firing", "s1")]
    assert _tick(evaluator, pipeline, T + 30) == []
    assert evaluator.held == []  # logged once, not every tick
    # The silence ends while the alert still fires: the firing goes out then.
    assert _tick(evaluator, pipeline, T + 60) == [("firing", "a.example")]
    assert not evaluator.silenced("delays", "a.example", T + 60)
    assert _tick(evaluator, pipeline, T + 65) == []


def test_a_resolve_is_sent_only_when_its_firing_was(tmp_path: Path) -> None:
    pipeline, evaluator, file = _evaluator(tmp_path)
    feed_spike(pipeline, "a.example", T, 6, 4)
    feed_spike(pipeline, "b.example", T, 6, 4)
    file.add(_silence(domain="b.example", ends_at=T + 86400), T)
    assert _tick(evaluator, pipeline, T) == [("firing", "a.example")]
    # Both recover; a's firing went out, so its resolve does; b's did not.
    feed_spike(pipeline, "a.example", T + 10, 0, 200)
    feed_spike(pipeline, "b.example", T + 10, 0, 200)
    assert _tick(evaluator, pipeline, T + 10) == [("resolved", "a.example")]


def test_a_silence_added_while_firing_stops_repeats_but_not_the_resolve(tmp_path: Path) -> None:
    config = parse_config(
        CONFIG.replace('group_wait = "30s"', 'group_wait = "0s"\nrepeat_interval = "1m"')
    )
    path = str(tmp_path / "silences.json")
    evaluator = _watched(config, path)
    pipeline, file = Pipeline(core_settings(config)), SilenceFile(path)
    feed_spike(pipeline, "a.example", T, 6, 4)
    assert _tick(evaluator, pipeline, T) == [("firing", "a.example")]
    file.add(_silence(domain="a.example", starts_at=T + 1, ends_at=T + 86400), T)
    assert _tick(evaluator, pipeline, T + 60) == []
    assert evaluator.held == [("delays", "a.example", "repeat", "s1")]
    feed_spike(pipeline, "a.example", T + 61, 0, 200)
    assert _tick(evaluator, pipeline, T + 61) == [("resolved", "a.example")]


def test_until_resolved_ends_when_the_matched_alert_resolves(tmp_path: Path) -> None:
    pipeline, evaluator, file = _evaluator(tmp_path)
    file.add(_silence(domain="a.example", ends_at=None, until_resolved=True), T)
    feed_spike(pipeline, "a.example", T, 6, 4)
    assert _tick(evaluator, pipeline, T) == []
    feed_spike(pipeline, "a.example", T + 10, 0, 200)
    assert _tick(evaluator, pipeline, T + 10) == []  # its firing was never sent
    assert evaluator.ended_silences == {"s1"}
    _watcher(evaluator).end(evaluator.ended_silences, T + 10)
    assert file.read()[0].ends_at == T + 10
    # It fires again: the silence is over, so this one is sent.
    feed_spike(pipeline, "a.example", T + 20, 400, 0)
    assert _tick(evaluator, pipeline, T + 20) == [("firing", "a.example")]


def test_every_firing_notification_says_how_to_mute_it(tmp_path: Path) -> None:
    config = parse_config(CONFIG.replace('group_wait = "30s"', 'group_wait = "0s"'))
    evaluator = Evaluator(
        config.alerts, ["5m", "15m", "1h"], silence_prefix="sesd silence add --config /etc/x y"
    )
    pipeline = Pipeline(core_settings(config))
    feed_spike(pipeline, "a.example", T, 6, 4)
    evaluator.evaluate(pipeline.ledger, T)
    (one,) = evaluator.due(T)
    assert one.silence == (
        "sesd silence add --config /etc/x y --rule delays --domain a.example "
        "--for 4h --comment REASON"
    )
    feed_spike(pipeline, "b.example", T + 5, 6, 4)
    feed_spike(pipeline, "c.example", T + 5, 6, 4)
    evaluator.evaluate(pipeline.ledger, T + 5)
    (two,) = evaluator.due(T + 5)
    assert "--domain '*'" in two.silence
    feed_spike(pipeline, "a.example", T + 10, 0, 400)
    evaluator.evaluate(pipeline.ledger, T + 10)
    (resolved,) = evaluator.due(T + 10)
    assert (resolved.kind, resolved.silence) == (Transition.RESOLVED, "")


def test_without_a_silences_file_no_mute_line_is_offered_and_check_config_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`sesd silence add` needs a file ([alerts] silences_path, or [state] path beside
    which it goes): without one, a notification's mute line would fail when the
    on-call engineer runs it. The daemon offers none, and check-config warns."""
    from sesd.runtime.daemon import Daemon

    queue = '[[queues]]\nurl = "http://127.0.0.1:9/1/q"\n'
    rule = "[[alerts.rules]]\nname = 'delays'\nmetric = 'delay_ratio'\nwindow = '5m'\nabove = 0.1\n"
    bare = Daemon(parse_config(queue + rule), config_path="/etc/sesd/sesd.toml")
    assert bare.alerting.evaluator.mute("delays", ["a.example"]) == ""
    kept = parse_config(queue + f'[state]\npath = "{tmp_path}/state.bin"\n' + rule)
    line = Daemon(kept, config_path="/etc/sesd/sesd.toml").alerting.evaluator.mute(
        "delays", ["a.example"]
    )
    assert line.startswith("sesd silence add --config /etc/sesd/sesd.toml --rule delays ")
    (tmp_path / "bare.toml").write_text(queue + rule)
    assert main(["check-config", str(tmp_path / "bare.toml")]) == 0
    assert "alerts.silences_path: not given, nor state.path" in capsys.readouterr().err


# --- the daemon's side, what it logs, and the file's edges -------------------------


def test_ids_are_twelve_hex_digits() -> None:
    from sesd.alerting.silences import new_id

    ids = {new_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(len(i) == 12 and int(i, 16) >= 0 for i in ids)


def test_until_resolved_on_a_rule_ends_when_that_rules_alert_resolves(tmp_path: Path) -> None:
    """A silence naming a rule or a severity, not a domain, waits on the alerts it
    matches: the resolve ends it, and not a silence on another rule or severity."""
    pipeline, evaluator, file = _evaluator(tmp_path)
    for id_, matcher in (
        ("on-delays", {"rule": "delays"}),
        ("on-bounces", {"rule": "bounces"}),
        ("on-critical", {"severity": "crit*"}),
        ("on-info", {"severity": "info"}),
    ):
        file.add(_silence(id=id_, ends_at=None, until_resolved=True, **matcher), T)
    feed_spike(pipeline, "a.example", T, 6, 4)
    assert _tick(evaluator, pipeline, T) == []
    feed_spike(pipeline, "a.example", T + 10, 0, 200)
    assert _tick(evaluator, pipeline, T + 10) == []
    assert evaluator.ended_silences == {"on-delays", "on-critical"}


def test_a_refiring_silenced_after_its_resolve_is_sent_when_the_silence_ends(
    tmp_path: Path,
) -> None:
    """Fired and resolved, both sent; it fires again under a silence: nothing is
    sent until the silence ends, then the firing is (the resolve sent left it owed)."""
    pipeline, evaluator, file = _evaluator(tmp_path)
    feed_spike(pipeline, "a.example", T, 6, 4)
    assert _tick(evaluator, pipeline, T) == [("firing", "a.example")]
    feed_spike(pipeline, "a.example", T + 10, 0, 200)
    assert _tick(evaluator, pipeline, T + 10) == [("resolved", "a.example")]
    file.add(_silence(domain="a.example", starts_at=T + 15, ends_at=T + 30), T + 15)
    feed_spike(pipeline, "a.example", T + 20, 400, 0)
    assert _tick(evaluator, pipeline, T + 20) == []
    assert evaluator.held == [("delays", "a.example", "firing", "s1")]
    assert _tick(evaluator, pipeline, T + 30) == [("firing", "a.example")]


def test_an_evaluator_s_mute_line_is_a_sesd_silence_add_line_by_default() -> None:
    config = parse_config(CONFIG)
    evaluator = Evaluator(config.alerts, ["5m", "15m", "1h"])
    assert evaluator.mute("delays", ["a.example"]) == (
        "sesd silence add --rule delays --domain a.example --for 4h --comment REASON"
    )


def test_only_running_until_resolved_silences_that_match_wait_on_a_resolve(
    tmp_path: Path,
) -> None:
    file = SilenceFile(str(tmp_path / "silences.json"))
    file.add(_silence(id="plain", rule="delays", domain="a.example"), T)
    file.add(_silence(id="other", ends_at=None, until_resolved=True, domain="b.example"), T)
    file.add(_silence(id="wrong-rule", ends_at=None, until_resolved=True, rule="bounces"), T)
    file.add(_silence(id="wrong-severity", ends_at=None, until_resolved=True, severity="info"), T)
    file.add(_silence(id="later", starts_at=T + 60, ends_at=None, until_resolved=True), T)
    file.add(
        _silence(id="waits", ends_at=None, until_resolved=True, rule="del*", severity="crit*"),
        T,
    )
    silences = SilenceWatcher(file.path)
    silences.refresh(T)
    assert silences.silences.waiting_on("delays", "a.example", "critical", T + 1) == {"waits"}
    assert silences.silences.match("delays", "c.example", "critical", T + 1) is not None
    assert silences.silences.match("delays", "a.example", "warning", T + 1).id == "plain"  # type: ignore[union-attr]


def test_a_rule_the_config_does_not_have_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A typo in --rule would silence nothing: with the config's rules known, a name
    or glob matching none of them is refused, naming them; a glob that matches one is
    taken. A time that is not one says how to write it."""
    rule = '[[alerts.rules]]\nname = "delay-ratio-high"\nmetric = "delay_ratio"\nwindow = "5m"\n'
    config = str(_config(tmp_path, rule + "above = 0.1\n"))
    add = ["silence", "add", "--config", config, "--for", "1h", "--comment", "c", "--rule"]
    assert main([*add, "delay-ratio-hgih"]) == 2
    err = capsys.readouterr().err
    assert (
        "--rule 'delay-ratio-hgih' matches no rule of the config (rules: delay-ratio-high)" in err
    )
    assert main([*add, "delay-*"]) == 0
    capsys.readouterr()
    until = ["silence", "add", "--config", config, "--rule", "delay-*", "--comment", "c"]
    assert main([*until, "--until", "tomorrow"]) == 2
    assert "--until 'tomorrow': give a date and time, e.g. 2027-01-15T08:00Z" in (
        capsys.readouterr().err
    )


def test_a_config_a_reload_refused_still_takes_silences(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A reload refused the file (a threshold of 5 for a ratio): the daemon runs on the
    config it last loaded, most often reading the same silences file, and mid-incident
    is when a silence matters most. `silence add` writes it with a one-line warning
    naming the error, the --rule it could not check, and that the file's silences path,
    rules and groups may be this edit's alone, not the daemon's; `silence list` lists
    it. Where the rules read and another table does not, a --rule typo is still
    refused; a file whose silences path cannot be read is the config error."""
    rule = '[[alerts.rules]]\nname = "delay-high"\nmetric = "delay_ratio"\nwindow = "5m"\n'
    path = _config(tmp_path, rule + "above = 5\n")
    config = str(path)
    add = ["silence", "add", "--config", config, "--for", "1h", "--comment", "incident"]
    assert main([*add, "--rule", "delay-high", "--domain", "gmail.com"]) == 0
    out, err = capsys.readouterr()
    assert err.startswith(f"sesd: warning: config error: {path}:7: alerts.rules[0] (delay-high)")
    assert err.endswith(
        f"; using its silences file {tmp_path / 'silences.json'} all the same (a running "
        "sesd keeps the config it last loaded); the daemon reads that file unless this "
        "edit moved it, and leaves out a silence naming a rule or group only this edit "
        "adds; not checked: --rule 'delay-high' against its rules\n"
    )
    assert err.count("\n") == 1
    assert main(["silence", "list", "--config", config]) == 0
    listed, err = capsys.readouterr()
    assert listed.startswith(f"{out.strip()}  active    rule=delay-high domain=gmail.com ")
    assert err.startswith("sesd: warning: config error: ")
    # What the file says may be this edit's alone: the silences path, a rule, a group.
    assert err.endswith("unless this edit moved it, and leaves out a silence naming a "
                        "rule or group only this edit adds\n")  # fmt: skip
    assert err.count("\n") == 1
    # The rules read, a key of [domains] misspelt: the rule is checked, the domain not.
    fixed = path.read_text().replace("above = 5", "above = 0.05")
    path.write_text(fixed + "[domains]\ngroupz = 1\n")
    assert main([*add, "--rule", "delay-hgih"]) == 2
    assert "--rule 'delay-hgih' matches no rule of the config" in capsys.readouterr().err
    assert main([*add, "--domain", "Big Mailers"]) == 0
    assert "not checked: --domain 'Big Mailers' against its groups and accounts\n" in (
        capsys.readouterr().err
    )
    # A control character no group or account makes right: refused all the same.
    assert main([*add, "--domain", "gmail.com\x1b[0m"]) == 2
    assert "a control or invisible character" in capsys.readouterr().err
    # [windows] unread: the rules' windows may be others, so the rules are not checked.
    path.write_text(fixed + "[windows]\nsizez = 1\n")
    assert main([*add, "--rule", "delay-hgih"]) == 0
    assert "not checked: --rule 'delay-hgih' against its rules\n" in capsys.readouterr().err
    # A silences file the full load refuses as the config file itself: not written over.
    itself = f'[alerts]\nsilences_path = "{path}"\n{rule}above = 5\n'
    for text in ("[alerts]\nsilences_path = 5\n", "[alerts\n", itself):
        path.write_text(text)
        assert main([*add, "--rule", "delay-high"]) == 2
        assert capsys.readouterr().err.startswith(f"sesd: config error: {path}:")


def test_the_daemon_says_what_it_read_and_what_a_resolve_ended(tmp_path: Path) -> None:
    from structlog.testing import capture_logs

    path = tmp_path / "silences.json"
    file = SilenceFile(str(path))
    file.add(_silence(id="s1", ends_at=None, until_resolved=True), T)
    file.add(_silence(id="s2", ends_at=None, until_resolved=True), T)
    with capture_logs() as logs:
        silences = SilenceWatcher(str(path))
        silences.refresh(T)
        silences.refresh(T)  # unchanged: not read again
        silences.end(set(), T + 5)  # nothing to end: the file is not touched
        before = file.identity()
        silences.end({"s2", "s1"}, T + 10)
        assert file.identity() != before
        path.write_text("garbage")
        silences.refresh(T)
    assert [s.ends_at for s in silences.silences.items] == [T + 10, T + 10]
    assert [{k: v for k, v in entry.items() if k != "log_level"} for entry in logs] == [
        {"event": "sesd.silences.loaded", "path": str(path), "silences": 2, "skipped": 0},
        {"event": "sesd.silences.ended_by_resolve", "count": 2, "ids": ["s1", "s2"]},
        {
            "event": "sesd.silences.unreadable",
            "error": f"{path} is not a silences file (JSON is malformed: invalid character "
            "(byte 0))",
        },
    ]


def test_a_resolve_that_ends_many_silences_names_the_first_few_and_counts_them(
    tmp_path: Path,
) -> None:
    """A file edited by hand may hold any number of until-resolved silences one resolve
    ends: the log line names the first 20 (as other lines listing alerts do) and says
    how many, not a line as long as the file."""
    from structlog.testing import capture_logs

    path = tmp_path / "silences.json"
    file = SilenceFile(str(path))
    ids = [f"s{n:03}" for n in range(60)]
    for silence_id in ids:
        file.add(_silence(id=silence_id, ends_at=None, until_resolved=True), T)
    silences = SilenceWatcher(str(path))
    silences.refresh(T)
    with capture_logs() as logs:
        silences.end(set(ids), T + 10)
    (line,) = [e for e in logs if e["event"] == "sesd.silences.ended_by_resolve"]
    assert (line["count"], line["ids"]) == (60, ids[:20])
    assert all(s.ends_at == T + 10 for s in silences.silences.items)


def test_a_silence_the_daemon_cannot_write_is_logged_not_raised(tmp_path: Path) -> None:
    from structlog.testing import capture_logs

    with capture_logs() as logs:
        silences = SilenceWatcher(str(tmp_path / "missing-directory" / "silences.json"))
        silences.end({"s1"}, T)
    (entry,) = logs
    assert entry["event"] == "sesd.silences.unwritable"
    assert entry["error"].startswith(f"cannot lock {tmp_path}/missing-directory/silences.json: ")


def test_a_path_that_cannot_be_looked_at_is_logged_once_and_evaluation_goes_on(
    tmp_path: Path,
) -> None:
    """A silences path through a regular file (or into a directory sesd may not enter)
    cannot even be stat'ed: the watcher says so once and keeps no silences, rather than
    raising out of every evaluation (which would stop alerting) and out of the stop."""
    from structlog.testing import capture_logs

    (tmp_path / "file").write_text("")
    with capture_logs() as logs:
        silences = SilenceWatcher(str(tmp_path / "file" / "silences.json"))
        silences.refresh(T)
        silences.refresh(T)
    (entry,) = logs
    assert entry["event"] == "sesd.silences.unreadable"
    assert entry["error"] == f"cannot read {tmp_path}/file/silences.json: Not a directory"
    assert silences.silences.items == []


def test_the_same_path_keeps_the_silences_read_and_another_starts_afresh(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "silences.json")
    SilenceFile(path).add(_silence(), T)
    silences = SilenceWatcher(path)
    silences.refresh(T)
    silences.use(path, None, T)
    assert len(silences.silences.items) == 1
    silences.use(str(tmp_path / "other.json"), None, T)
    assert silences.silences.items == []


def test_a_silence_ends_exactly_at_its_end_and_is_kept_seven_days(tmp_path: Path) -> None:
    file = SilenceFile(str(tmp_path / "silences.json"))
    file.add(_silence(ends_at=T + 100), T)
    assert file.expire({"s1"}, T + 100) == []  # already over at its end
    from sesd.alerting.silences import KEEP_ENDED

    file.add(_silence(id="s2", ends_at=T + 200), T + 100 + KEEP_ENDED)
    assert [s.id for s in file.read()] == ["s2"]  # s1 ended KEEP_ENDED ago: dropped


def test_a_directory_where_the_file_should_be_is_named_in_the_error(tmp_path: Path) -> None:
    with pytest.raises(SilenceError) as raised:
        SilenceFile(str(tmp_path)).read()
    assert str(raised.value) == f"cannot read {tmp_path}: Is a directory"


def test_a_removed_rules_resolve_says_why(tmp_path: Path) -> None:
    pipeline, evaluator, _ = _evaluator(tmp_path)
    feed_spike(pipeline, "a.example", T, 6, 4)
    assert _tick(evaluator, pipeline, T) == [("firing", "a.example")]
    (resolved,) = evaluator.configure(parse_config("").alerts, ["5m", "15m", "1h"], T + 5)
    assert (resolved.kind, resolved.domain, resolved.rule) == (
        Transition.RESOLVED,
        "a.example",
        "delays",
    )
    assert (resolved.at, resolved.since, resolved.internal) == (T + 5, T, False)
    assert resolved.notes == ("the rule was removed from the config",)
    assert (resolved.counts, resolved.stage, resolved.regions) == ({}, "-", [])
    assert evaluator.current == {}
    (notification,) = evaluator.due(T + 5, flush=True)
    assert notification.severity == "critical"


def test_a_silence_by_severity_holds_the_alerts_of_that_severity_only(tmp_path: Path) -> None:
    pipeline, evaluator, file = _evaluator(tmp_path)
    file.add(_silence(severity="warning", ends_at=T + 3600), T)
    feed_spike(pipeline, "a.example", T, 6, 4)
    assert _tick(evaluator, pipeline, T) == [("firing", "a.example")]  # rule is critical
    assert not evaluator.silenced("delays", "a.example", T)
    file.add(_silence(id="s2", rule="delays", severity="crit*", ends_at=T + 3600), T)
    _watcher(evaluator).refresh(T)
    assert evaluator.silenced("delays", "a.example", T)
    assert not evaluator.silenced("unknown-rule", "a.example", T)


def test_silence_list_escapes_control_characters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A silence whose comment and domain hold terminal escapes and a line break (pasted
    from a chat, written by another operator, or a hand-edited file): `silence list`
    shows them escaped, one line a silence, rather than letting them clear the screen
    or retitle the on-call's terminal (and `| grep` split a silence in two). (`silence
    add` refuses such a domain now: the file's is edited in, as by hand.)"""
    config = str(_config(tmp_path))
    comment = "Yahoo\x1b[2J\x1b]0;owned\x07 defers\nsecond line"
    assert main(["silence", "add", "--config", config, "--domain", "gmail.com",
                 "--for", "4h", "--comment", comment]) == 0  # fmt: skip
    capsys.readouterr()
    path = tmp_path / "silences.json"
    stored = json.loads(path.read_text())
    stored["silences"][0]["domain"] = "gm\x1b[31mail.com"
    path.write_text(json.dumps(stored))
    assert main(["silence", "list", "--config", config]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert "\x1b" not in line
    assert "\x07" not in line
    assert "domain=gm\\u001b[31mail.com" in line
    assert line.endswith("# Yahoo\\u001b[2J\\u001b]0;owned\\u0007 defers\\u000asecond line")


def test_an_end_past_the_calendar_is_refused_and_listed_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--until 9999-12-31T23:59:59-12:00` is in year 10000 in UTC, which the list cannot
    write: it is refused, one line and exit 2, where it was taken and every `silence
    list` after ended in a traceback. A file that holds such an end anyway (written by
    hand, or before) is listed, the end as it is stored."""
    config = str(_config(tmp_path))
    add = ["silence", "add", "--config", config, "--domain", "gmail.com", "--comment", "x"]
    assert main([*add, "--until", "9999-12-31T23:59:59-12:00"]) == 2
    err = capsys.readouterr().err
    assert err == "sesd: --until '9999-12-31T23:59:59-12:00' is after the year 9999 in UTC\n"
    assert main([*add, "--until", "9999-12-31T23:59:59Z"]) == 0
    capsys.readouterr()
    path = tmp_path / "silences.json"
    stored = json.loads(path.read_text())
    stored["silences"][0]["ends_at"] = 1e300
    path.write_text(json.dumps(stored))
    assert main(["silence", "list", "--config", config]) == 0
    assert "ends 1e+300 (a Unix time outside the years 1 to 9999)" in capsys.readouterr().out


def test_an_end_before_the_calendar_is_not_said_to_be_after_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--until 0001-01-01T00:30:00+01:00` is in year 0 in UTC: refused as the year
    10000 one is, one line and exit 2, and the line says which end of the calendar
    it missed, not "after the year 9999"."""
    config = str(_config(tmp_path))
    add = ["silence", "add", "--config", config, "--domain", "gmail.com", "--comment", "x"]
    assert main([*add, "--until", "0001-01-01T00:30:00+01:00"]) == 2
    err = capsys.readouterr().err
    assert err == "sesd: --until '0001-01-01T00:30:00+01:00' is before the year 1 in UTC\n"
    assert not (tmp_path / "silences.json").exists()


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ('[alerts]\nsilences_path = "silences.json"\n', "alerts.silences_path: 'silences.json'"),
        ('[state]\npath = "state.bin"\n', "state.path: 'state.bin'"),
    ],
)
def test_a_relative_silences_path_is_refused_by_the_command(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    section: str,
    key: str,
) -> None:
    """A relative silences file is the daemon's working directory's (systemd's, the
    container's), and this command's is the operator's: a silence added from a home
    directory went to ~/silences.json, printed its id and muted nothing. The command
    refuses (exit 2, naming the key) and writes nothing."""
    config = tmp_path / "sesd.toml"
    config.write_text(section)
    monkeypatch.chdir(tmp_path)
    add = ["silence", "add", "--config", str(config), "--domain", "gmail.com"]
    assert main([*add, "--for", "4h", "--comment", "x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"sesd: {key} is relative: sesd run reads it from its own ")
    assert not (tmp_path / "silences.json").exists()
    assert main(["silence", "list", "--config", str(config)]) == 2
