"""``sesd_config_info{digest}``: which config a replica runs, so that Prometheus sees
replicas left on different configs (a SIGHUP sent to one pod only, a ConfigMap change
that reached some). One series, the same for the same config however its file is laid
out, and nothing in it of a secret's value."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import anyio
import pytest

from sesd.commands.demo.localsqs import LocalSqs
from sesd.commands.main import main
from sesd.config import parse_config, read_secrets
from tests.conftest import make_queue
from tests.sesd_process import SesdProcess, config_file, sesd_process

_SINK = (
    '[alerts.sinks.pd]\ntype = "pagerduty"\nrouting_key = "{key}"\n'
    '[[alerts.rules]]\nname = "slow"\nmetric = "delay_ratio"\nwindow = "5m"\n'
    'above = 0.1\nsinks = ["pd"]\n'
)


def _text(
    queue: str, *, key: str = "L1TERALKEY0NE0123456789ABCDEFGHI", evaluate: str = "100ms"
) -> str:
    """A config with a queue, an alerts table and a literal secret."""
    return (
        f'[[queues]]\nurl = "{queue}"\nname = "first"\nwait_time_seconds = 1\n'
        f'[alerts]\nevaluate_every = "{evaluate}"\ngroup_wait = "0s"\n' + _SINK.format(key=key)
    )


def _laid_out_otherwise(queue: str) -> str:
    """:func:`_text`'s config, its keys and tables in another order, with comments,
    blank lines, other spacing and other quotes."""
    return (
        "# the same config, written by another hand\n\n"
        "[alerts]\ngroup_wait   =   '0s'\nevaluate_every = \"100ms\"  # fast for tests\n\n"
        "[[alerts.rules]]\nsinks = ['pd']\nabove = 0.10\nwindow = '5m'\n"
        'metric = "delay_ratio"\nname = "slow"\n\n'
        '[alerts.sinks.pd]\nrouting_key = "L1TERALKEY0NE0123456789ABCDEFGHI"\n'
        'type = "pagerduty"\n\n'
        f'[[queues]]\nwait_time_seconds = 1\nname = "first"\nurl = "{queue}"\n'
    )


def test_a_config_laid_out_otherwise_has_the_same_digest() -> None:
    """Two files that differ only in key and table order, comments, blank lines,
    spacing and quoting are one config: one digest, 12 hex digits. A changed value
    makes another."""
    url = "http://127.0.0.1:9/q"
    digest = parse_config(_text(url)).digest()
    assert len(digest) == 12
    assert int(digest, 16) >= 0
    assert parse_config(_laid_out_otherwise(url)).digest() == digest
    assert parse_config(_text(url, evaluate="200ms")).digest() != digest


def test_the_digest_tells_nothing_of_a_secrets_value(monkeypatch: pytest.MonkeyPatch) -> None:
    """A literal secret counts as ``***`` (check-config's mask): two values give one
    digest, so the label says nothing of either (nor lets one be guessed and checked
    against it). A secret behind ``env:`` counts as its reference: rotated, the digest
    stays; read from another variable, it changes."""
    url = "http://127.0.0.1:9/q"
    assert parse_config(_text(url, key="A" * 32)).digest() == parse_config(_text(url)).digest()

    def from_env(name: str) -> str:
        return read_secrets(parse_config(_text(url, key=f"env:{name}"))).digest()

    monkeypatch.setenv("SESD_TEST_KEY", "first-value".ljust(32, "0"))
    monkeypatch.setenv("SESD_OTHER_KEY", "first-value".ljust(32, "0"))
    before = from_env("SESD_TEST_KEY")
    monkeypatch.setenv("SESD_TEST_KEY", "rotated-value".ljust(32, "0"))
    assert from_env("SESD_TEST_KEY") == before
    assert from_env("SESD_OTHER_KEY") != before


async def _digests(sesd: SesdProcess) -> dict[str, float]:
    """One scrape's ``sesd_config_info`` series: digest -> value."""
    return {
        dict(labels)["digest"]: value
        for (name, labels), value in (await sesd.metrics()).items()
        if name == "sesd_config_info"
    }


async def _reload(sesd: SesdProcess, outcome: str) -> None:
    sesd.process.send_signal(signal.SIGHUP)
    with anyio.fail_after(20):
        await sesd.wait_for_event(outcome)


@pytest.mark.timeout(120)
async def test_a_reload_replaces_the_digest_only_when_the_config_changes(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``sesd run`` exports one series, the digest ``check-config --digest`` gives of its
    file. A SIGHUP after the file was laid out otherwise keeps it; after a change, the
    new config's digest is the one series (the old one's gone: a count of the fleet's
    digests must not count a config no replica runs); a refused file keeps it. The
    literal secret's value is nowhere on /metrics."""
    queue, _ = await make_queue(sqs)
    head = f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
    config = config_file(tmp_path, head + _text(queue))
    assert main(["check-config", "--digest", str(config)]) == 0
    first = capsys.readouterr().out.strip()
    async with sesd_process(config) as sesd:
        assert await _digests(sesd) == {first: 1.0}
        config_file(tmp_path, _laid_out_otherwise(queue) + head)
        await _reload(sesd, "sesd.config.reloaded")
        assert await _digests(sesd) == {first: 1.0}

        config_file(tmp_path, head + _text(queue, evaluate="200ms"))
        assert main(["check-config", "--digest", str(config)]) == 0
        second = capsys.readouterr().out.strip()
        assert second != first
        await _reload(sesd, "sesd.config.reloaded")
        assert await _digests(sesd) == {second: 1.0}

        config.write_text(config.read_text().replace('metric = "delay_ratio"', "metric ="))
        await _reload(sesd, "sesd.config.reload_failed")
        assert await _digests(sesd) == {second: 1.0}
        assert all(
            "L1TERALKEY0NE0123456789ABCDEFGHI" not in str(key) for key in await sesd.metrics()
        )
