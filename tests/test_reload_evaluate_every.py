"""A reload that shortens ``[alerts] evaluate_every``: the rules are evaluated on the
new period from the last evaluation, not once the old period has run out."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio

from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import load_config
from tests import factory as f
from tests.conftest import make_queue, running, send_bodies

RULE = (
    '[[alerts.rules]]\nname = "any-delay"\nmetric = "delayed_recipients"\nwindow = "5m"\n'
    'above = 0\nsinks = ["console"]\n'
)


async def test_a_shorter_evaluate_every_takes_effect_at_the_reload(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """sesd runs with ``evaluate_every = "5m"`` (its rule's window): it evaluated once, at
    the start. A delay comes, then a reload to "100ms": its rule fires within seconds,
    not five minutes after the start."""
    url, _ = await make_queue(sqs)
    text = (
        f'[aws]\nendpoint_url = "{local_sqs.url}"\nregion = "us-east-1"\n'
        f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 1\n'
        '[http]\nlisten = "127.0.0.1:0"\n'
        '[alerts]\nevaluate_every = "5m"\ngroup_wait = "0s"\n' + RULE
    )
    path = tmp_path / "sesd.toml"
    path.write_text(text)
    async with running(load_config(str(path)), config_path=path) as daemon:
        await send_bodies(sqs, url, [f.raw(f.delay(["x@example.com"], at=time.time()))])
        with anyio.fail_after(20):
            await daemon.changes.wait_for(
                lambda: daemon.ledger.tallies.messages.get(("q", "processed"), 0) == 1
            )
        assert daemon.alerting.evaluations == 1
        path.write_text(text.replace('every = "5m"', 'every = "100ms"'))
        assert await daemon.reload()
        with anyio.fail_after(10):
            await daemon.changes.wait_for(lambda: any(daemon.alerting.evaluator.firing()))
        assert list(daemon.alerting.evaluator.firing()) == [("any-delay", "example.com")]
