"""SIGHUP reloads the config: real signals to ``sesd run`` as a process, moto's SQS."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import ConfigError, parse_config
from sesd.runtime.reload import merge
from tests import factory as f
from tests.conftest import make_queue, send_bodies
from tests.sesd_process import SesdProcess, config_file, sesd_process

RULE = (
    '[[alerts.rules]]\nname = "any-delay"\nmetric = "delayed_recipients"\nwindow = "5m"\n'
    'above = 0\nsinks = ["console"]\n'
)


def _queue(url: str, name: str) -> str:
    return f'[[queues]]\nurl = "{url}"\nname = "{name}"\nwait_time_seconds = 1\n'


async def _reload(sesd: SesdProcess, outcome: str) -> dict[str, Any]:
    sesd.process.send_signal(signal.SIGHUP)
    with anyio.fail_after(20):
        return await sesd.wait_for_event(outcome)


async def _fires(sesd: SesdProcess, sqs: Any, url: str, domain: str) -> None:
    await send_bodies(sqs, url, [f.raw(f.delay([f"x@{domain}"], at=time.time()))])
    with anyio.fail_after(30):
        await sesd.wait_for(
            lambda r: r.get("event") == "sesd.alert.firing" and r.get("domain") == domain
        )


async def _reload_metrics(sesd: SesdProcess) -> tuple[float, float]:
    metrics = await sesd.metrics()
    return (
        metrics[("sesd_config_last_reload_successful", ())],
        metrics[("sesd_config_last_reload_success_timestamp_seconds", ())],
    )


@pytest.mark.timeout(120)
async def test_sighup_applies_a_new_rule_and_queue_and_survives_a_broken_file(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """A new rule and a new queue take effect; a change that needs a restart is named
    and left; a broken file leaves the running config in force (the metric reads 0)
    until a good one comes, and so does an empty one (it names no queue); a removed
    queue stops and a removed rule's alert resolves and is sent; the process never
    exits on SIGHUP."""
    first, _ = await make_queue(sqs)
    second, _ = await make_queue(sqs)
    base = (
        f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
        + _queue(first, "first")
        + '[alerts]\nevaluate_every = "100ms"\ngroup_wait = "0s"\n'
    )
    config = config_file(tmp_path, base)
    async with sesd_process(config) as sesd:
        ok, loaded_at = await _reload_metrics(sesd)
        assert ok == 1
        assert loaded_at > 0

        config_file(
            tmp_path, base + _queue(second, "second") + RULE + '[windows]\nsizes = ["5m"]\n'
        )
        reloaded = await _reload(sesd, "sesd.config.reloaded")
        assert reloaded["queues"] == ["first", "second"]
        assert reloaded["rules"] == 1
        assert (reloaded["rules_added"], reloaded["rules_removed"]) == (["any-delay"], [])
        ignored = [r["key"] for r in sesd.records if r["event"] == "sesd.config.reload_ignored"]
        assert ignored == ["windows.sizes"]
        await _fires(sesd, sqs, second, "new.example")
        ok, reloaded_at = await _reload_metrics(sesd)
        assert ok == 1
        assert reloaded_at >= loaded_at

        broken = config.read_text().replace('metric = "delayed_recipients"', "metric =")
        config.write_text(broken)
        failed = await _reload(sesd, "sesd.config.reload_failed")
        # Where tomllib stopped, as check-config and a start say it: past "metric =".
        line = broken.splitlines().index("metric =") + 1
        assert failed["error"] == f"{config}:{line}:9: not valid TOML: Invalid value"
        assert failed["kept"] == "running config"
        assert await _reload_metrics(sesd) == (0, reloaded_at)
        await _fires(sesd, sqs, second, "still.example")  # the old config runs on
        config.write_text("")  # a template that rendered nothing: no queue to read
        failed = await _reload(sesd, "sesd.config.reload_failed")
        assert failed["error"] == f"{config}: queues: at least one [[queues]] is needed"
        assert failed["kept"] == "running config"
        await _fires(sesd, sqs, first, "unstopped.example")

        config_file(tmp_path, base)  # the second queue and the rule go
        assert (await _reload(sesd, "sesd.config.reloaded"))["rules_removed"] == ["any-delay"]

        def found(event: str, **fields: Any) -> list[dict[str, Any]]:
            return [
                r
                for r in sesd.records
                if r["event"] == event and all(r.get(k) == v for k, v in fields.items())
            ]

        # Either may come first: the queue ends its long poll, the resolve is sent.
        with anyio.fail_after(20):
            await sesd.wait_for(
                lambda _: bool(
                    found("sesd.queue.stopped") and found("sesd.notify.sent", kind="resolved")
                )
            )
        (stopped,) = found("sesd.queue.stopped")
        (resolved,) = found("sesd.notify.sent", kind="resolved")
        assert stopped["queue"] == "second"
        assert (resolved["rule"], resolved["alerts"]) == ("any-delay", 3)
        assert (await _reload_metrics(sesd))[0] == 1
        assert sesd.process.returncode is None
        sesd.process.send_signal(signal.SIGTERM)
        with anyio.fail_after(30):
            await sesd.wait_for_event("sesd.daemon.stopped")
            code = await sesd.process.wait()
    assert code == 0


@pytest.mark.timeout(120)
async def test_a_resolve_that_raised_thresholds_make_says_why_in_the_log(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """One delay fires `above = 0`; `above = 5` resolves it at the same value, and the
    resolve's line says the rule changed (a resolve with the incident on looks wrong)."""
    url, _ = await make_queue(sqs)
    base = (
        f'[aws]\nendpoint_url = "{local_sqs.url}"\n' + _queue(url, "q")
        + '[alerts]\nevaluate_every = "100ms"\ngroup_wait = "0s"\n'
    )  # fmt: skip
    config = config_file(tmp_path, base + RULE)
    async with sesd_process(config) as sesd:
        await _fires(sesd, sqs, url, "a.example")
        config_file(tmp_path, base + RULE.replace("above = 0", "above = 5"))
        await _reload(sesd, "sesd.config.reloaded")
        with anyio.fail_after(20):
            resolved = await sesd.wait_for_event("sesd.alert.resolved")
    assert (resolved["domain"], resolved["value"]) == ("a.example", 1.0)
    assert resolved["reason"] == "the rule was changed in the config (above 0 to 5)"


async def test_a_reload_keeps_the_listen_address_the_environment_gave(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """The image sets $SESD_HTTP_LISTEN over the file's [http] listen: a reload of the
    unchanged file changes nothing, and does not warn that the address needs a
    restart."""
    url, _ = await make_queue(sqs)
    path = config_file(tmp_path, f'[aws]\nendpoint_url = "{local_sqs.url}"\n' + _queue(url, "q"))
    path.write_text(path.read_text().replace('"127.0.0.1:0"', '"127.0.0.1:9585"'))
    async with sesd_process(path, env={"SESD_HTTP_LISTEN": "127.0.0.1:0"}) as sesd:
        await _reload(sesd, "sesd.config.reloaded")
    assert [r for r in sesd.records if r["event"] == "sesd.config.reload_ignored"] == []


async def test_a_reload_warns_of_what_it_brought_as_the_start_does(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """A queue added with a visibility timeout of 0 is warned of at the reload, as at a
    start; a warning the config in force already had is not said again."""
    url, _ = await make_queue(sqs)
    other, _ = await make_queue(sqs)
    base = f'[aws]\nendpoint_url = "{local_sqs.url}"\n' + _queue(url, "q")
    path = config_file(tmp_path, base)
    async with sesd_process(path) as sesd:
        started = [r["warning"] for r in sesd.records if r["event"] == "sesd.config.warning"]
        config_file(tmp_path, base + _queue(other, "new") + "visibility_timeout = 0\n")
        await _reload(sesd, "sesd.config.reloaded")
        with anyio.fail_after(20):
            warned = await sesd.wait_for_event("sesd.config.warning")
        # Again with nothing new to warn of, then with a sink no rule sends to: once
        # that one is read, anything the reload before it said has been read too.
        added = base + _queue(other, "new") + "visibility_timeout = 0\n"
        config_file(tmp_path, added + "# unchanged\n")
        await _reload(sesd, "sesd.config.reloaded")
        spared = added + '[alerts.sinks.spare]\ntype = "console"\n'
        config_file(tmp_path, spared)
        await _reload(sesd, "sesd.config.reloaded")
        with anyio.fail_after(20):
            spare = await sesd.wait_for_event("sesd.config.warning")
        before = [r["warning"] for r in sesd.records if r["event"] == "sesd.config.warning"]
        # A generated list with a domain 1,000 times: the first 20 and a count, as the
        # start and check-config say them, not a thousand lines.
        track = ", ".join(['"a.b"'] * 1000)
        config_file(tmp_path, spared + f"[domains]\ntrack = [{track}]\n")
        await _reload(sesd, "sesd.config.reloaded")
        more = "and 979 more warnings not shown (the first 20 are): fix those, then check again"
        with anyio.fail_after(20):
            await sesd.wait_for(lambda r: r.get("warning") == more)
    # Each on its line of the file the reload read, as check-config and a start say it.
    assert warned["warning"].startswith(f"{path}:11: queues[1].visibility_timeout: 0")
    assert warned["level"] == "warning"
    assert spare["warning"] == f"{path}:12: alerts.sinks.spare: no rule sends to this sink"
    assert before == [*started, warned["warning"], spare["warning"]]
    said = [r["warning"] for r in sesd.records if r["event"] == "sesd.config.warning"]
    assert len(said) == len(before) + 21
    assert said[len(before)].startswith(f"{path}:15: domains.track[1]: 'a.b', listed at ")


@pytest.mark.parametrize(
    ("moved", "said"),
    [
        ("s.json", "alerts.silences_path: 's.json' is relative"),
        # A directory not made: the start warns of it, and so does a reload into it.
        ("{tmp}/none/s.json", "alerts.silences_path: directory {tmp}/none does not exist"),
    ],
)
async def test_a_reload_to_a_silences_file_no_silence_can_be_added_to_is_warned_of(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, moved: str, said: str
) -> None:
    """A reload moves the silences file to a relative path (which ``sesd silence``
    refuses), or into a directory that does not exist: no silence could be added. The
    reload is taken, and warned of naming the key, as a start would."""
    url, _ = await make_queue(sqs)
    base = f'[aws]\nendpoint_url = "{local_sqs.url}"\n' + _queue(url, "q")
    path = config_file(tmp_path, base + f'[alerts]\nsilences_path = "{tmp_path}/s.json"\n')
    async with sesd_process(path) as sesd:
        moved = moved.format(tmp=tmp_path)
        config_file(tmp_path, base + f'[alerts]\nsilences_path = "{moved}"\n')
        await _reload(sesd, "sesd.config.reloaded")
        with anyio.fail_after(20):
            warned = await sesd.wait_for_event("sesd.config.warning")
    assert warned["warning"].startswith(f"{path}:8: {said.format(tmp=tmp_path)}")


def test_a_reload_keeps_what_needs_a_restart_and_names_it() -> None:
    old = parse_config('[http]\nlisten = "127.0.0.1:9585"\n[domains]\ntrack = ["a.example"]\n')
    new = parse_config(
        '[http]\nlisten = "0.0.0.0:9000"\n[logging]\nlevel = "debug"\nformat = "json"\n'
        '[domains]\ntrack = ["b.example"]\nmax_tracked = 5\n[state]\npath = "/tmp/s"\n'
        "[providers]\nrate = 5.0\n"
    )
    merged, ignored = merge(old, new)
    assert ignored == [
        "domains.max_tracked",
        "http.listen",
        "logging.format",
        "providers.rate",
        "state.path",
    ]
    assert merged.providers.rate == 20.0
    assert merged.http.listen == "127.0.0.1:9585"
    assert (merged.domains.track, merged.domains.max_tracked) == (["b.example"], 200)
    assert (merged.logging.level, merged.logging.format) == ("debug", "auto")
    assert merged.state.path is None


def test_readme_names_every_key_only_a_restart_applies() -> None:
    """README's list of what a reload leaves for a restart is the code's list."""
    from sesd.runtime.reload import RESTART_KEYS

    readme = " ".join((Path(__file__).parents[1] / "README.md").read_text().split())
    start = readme.index("A change that needs a restart (")
    listed = readme[start : readme.index(")", readme.index("[[accounts]]", start))]
    for key in RESTART_KEYS:
        section, _, field = key.partition(".")
        assert f"`[{section}]" in listed, key
        assert field in listed, key


def test_an_account_in_use_keeps_its_role_until_a_restart_and_says_so() -> None:
    """The credentials of an account in use were made from its role: a changed role,
    external id or region is logged as needing a restart, not taken silently; an
    account the file adds is taken."""
    account = '[[accounts]]\nname = "{name}"\nrole_arn = "arn:aws:iam::111122223333:role/{role}"\n'
    old = parse_config(account.format(name="prod", role="sesd-raeder"))
    new = parse_config(
        account.format(name="prod", role="sesd-reader") + account.format(name="eu", role="r")
    )
    merged, ignored = merge(old, new)
    assert ignored == ["accounts.prod"]
    assert [(a.name, a.role_arn.rsplit("/", 1)[1]) for a in merged.accounts] == [
        ("prod", "sesd-raeder"),
        ("eu", "r"),
    ]
    assert merge(old, old)[1] == []


def test_an_aws_key_written_into_the_file_and_replaced_waits_for_a_restart() -> None:
    """``[aws]`` keys written into the file show as ``***`` before and after: a reload
    that replaces one still names it as left for a restart (the SQS clients sign with
    the one read at start), never its value; the same keys again leave none."""
    aws = '[aws]\naccess_key_id = "AKIAEXAMPLE"\nsecret_access_key = "{}"\n'
    old = parse_config(aws.format("old-secret"))
    merged, ignored = merge(old, parse_config(aws.format("new-secret")))
    assert ignored == ["aws.secret_access_key"]
    assert merged.aws.secret_access_key.get() == "old-secret"  # type: ignore[union-attr]
    assert merge(old, parse_config(aws.format("old-secret")))[1] == []


def test_a_reload_that_only_the_kept_windows_make_invalid_is_refused() -> None:
    old = parse_config('[windows]\nsizes = ["5m"]\n')
    new = parse_config(
        '[windows]\nsizes = ["10m"]\n[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\n'
        'window = "10m"\nabove = 0.1\n'
    )
    with pytest.raises(ConfigError, match=r"\(r\)\.window: '10m' is not one of windows\.sizes"):
        merge(old, new)


def test_the_reload_line_names_each_changed_rule_key_old_and_new() -> None:
    """A postmortem reads from the log which thresholds were in force: a reload names
    the rules it added and removed, and each changed key of the others, old and new."""
    from sesd.config import parse_config
    from sesd.runtime.reload import rule_changes

    rule = RULE + "clear_below = 0\n"
    old = parse_config(rule + RULE.replace("any-delay", "gone"))
    new = parse_config(
        rule.replace("above = 0", "above = 3").replace(
            "[[alerts.rules]]", '[[alerts.rules]]\nfor = "1m"'
        )
        + RULE.replace("any-delay", "new")
    )
    assert rule_changes(old, new) == {
        "rules_added": ["new"],
        "rules_removed": ["gone"],
        "rules_changed": {"any-delay": {"above": [0.0, 3.0], "for": ["0s", "1m"]}},
    }


def test_the_reload_line_names_every_other_key_it_changed() -> None:
    """Why did repeats stop at 2 h: a reload names every key it changed besides the
    rules (a sink by its name, its secrets as their references), not what only a
    restart applies (kept as it runs, so unchanged)."""
    from sesd.config import parse_config
    from sesd.runtime.reload import config_changes, merge

    sink = '[alerts.sinks.chat]\ntype = "slack"\nwebhook_url = "env:SESD_HOOK_A"\n'
    old = parse_config(sink + "[windows]\nsizes = ['5m', '15m', '1h']\n" + RULE)
    new = parse_config(
        sink.replace("SESD_HOOK_A", "SESD_HOOK_B")
        + '[alerts]\nrepeat_interval = "2h"\n[windows]\nsizes = ["5m", "1h"]\n'
        + RULE
    )
    merged, ignored = merge(old, new)
    assert ignored == ["windows.sizes"]
    changes = config_changes(old, merged)
    assert changes["alerts.repeat_interval"] == ["4h", "2h"]
    assert changes["alerts.sinks.chat"][1]["webhook_url"] == "env:SESD_HOOK_B"
    assert set(changes) == {"alerts.repeat_interval", "alerts.sinks.chat"}


def test_a_reload_names_a_literal_secret_replaced_by_another() -> None:
    """A webhook URL written into the file is shown as ``***`` before and after, so
    ``changed`` cannot tell a new one from the old: the reload line names its key
    under ``secrets_rotated`` (never its value), or the reload that took the new URL
    would read as changing nothing. An env: reference changed is in ``changed``."""
    from sesd.runtime.reload import config_changes, rotated_secrets

    sink = '[alerts.sinks.chat]\ntype = "slack"\nwebhook_url = "{}"\n'
    old = parse_config(sink.format("https://hooks.example.invalid/services/old") + RULE)
    new = parse_config(sink.format("https://hooks.example.invalid/services/new") + RULE)
    merged, _ = merge(old, new)
    assert rotated_secrets(old, merged) == ["alerts.sinks.chat.webhook_url"]
    assert "services/" not in str(config_changes(old, merged))
    assert rotated_secrets(old, parse_config(sink.format("env:SESD_HOOK") + RULE)) == []
    assert rotated_secrets(old, old) == []


async def test_a_reload_names_the_secrets_it_read_anew_with_another_value(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """A leaked webhook rotated behind the same ``file:`` reference (a Kubernetes Secret
    updated in place): the reload line names the secret's key (never its value) under
    ``secrets_rotated``, so the person rotating it at night sees it was taken; the
    references are unchanged, so ``changed`` stays empty. A reload with nothing
    rotated names none."""
    url, _ = await make_queue(sqs)
    hook = tmp_path / "hook"
    hook.write_text("https://hooks.example.invalid/services/old\n")
    sink = f'[alerts.sinks.chat]\ntype = "slack"\nwebhook_url = "file:{hook}"\n'
    config = config_file(
        tmp_path, f'[aws]\nendpoint_url = "{local_sqs.url}"\n' + _queue(url, "q") + sink
    )
    async with sesd_process(config) as sesd:
        hook.write_text("https://hooks.example.invalid/services/new\n")
        rotated = await _reload(sesd, "sesd.config.reloaded")
        assert rotated["secrets_rotated"] == ["alerts.sinks.chat.webhook_url"]
        assert rotated["changed"] == {}
        assert "services/new" not in str(rotated)
        again = await _reload(sesd, "sesd.config.reloaded")
        assert again["secrets_rotated"] == []


async def test_a_reload_says_again_no_warning_of_a_group_and_each_of_a_new_group(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """Reloads of one config, then with a member moved in a group whose bare name ends
    in ``-``, say no warning again; a group ``Shop[2]`` added beside ``Shop[1]`` is
    warned of, its name no index."""
    url, _ = await make_queue(sqs)
    base = f'[aws]\nendpoint_url = "{local_sqs.url}"\n' + _queue(url, "q") + "[domains]\n"
    groups = 'groups = { "Shop[1]" = ["c.example"], shop- = ['
    path = config_file(tmp_path, base + groups + '"a.example", "a.example"] }\n')
    async with sesd_process(path) as sesd:
        started = [r["warning"] for r in sesd.records if r["event"] == "sesd.config.warning"]
        config_file(tmp_path, base + groups + '"a.example", "a.example"] }\n# unchanged\n')
        await _reload(sesd, "sesd.config.reloaded")
        moved = base + groups + '"d.example", "a.example", "a.example"'
        config_file(tmp_path, moved + "] }\n")
        await _reload(sesd, "sesd.config.reloaded")
        added = moved + '], "Shop[2]" = ["e.example"] }\n'
        config_file(tmp_path, added)
        await _reload(sesd, "sesd.config.reloaded")
        # A sink no rule sends to: once it is said, what came before it has been too.
        config_file(tmp_path, added + '[alerts.sinks.spare]\ntype = "console"\n')
        await _reload(sesd, "sesd.config.reloaded")
        with anyio.fail_after(20):
            await sesd.wait_for(lambda r: "alerts.sinks.spare: " in r.get("warning", ""))
    assert [w for w in started if "domains.groups.shop-[1]: " in w]
    said = [r["warning"] for r in sesd.records if r["event"] == "sesd.config.warning"]
    assert said[: len(started)] == started
    assert [w.partition(": ")[2][:24] for w in said[len(started) :]] == [
        'domains.groups."Shop[2]"',
        "alerts.sinks.spare: no r",
    ]
