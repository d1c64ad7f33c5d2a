"""Past ``[domains] max_tracked`` a new recipient domain counts under ``other``: no
rule on it by name fires, and nothing but the ``other`` series says so. The janitor
warns once a spell, naming the bound and what to do."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import anyio
import pytest
from structlog.testing import capture_logs

from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime import janitor
from sesd.runtime.health import Changes
from tests import factory as f

_SETTINGS = core_settings(
    parse_config(
        '[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/123456789012/eu"\n'
        "[domains]\nmax_tracked = 2\n"
    )
)


def _deliver(pipeline: Pipeline, domain: str) -> None:
    assert pipeline.feed(f.raw(f.delivery([f"r@{domain}"])), "eu", f.T0).outcome == "processed"


async def test_the_domains_past_max_tracked_are_warned_of_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rounds with the table full but every domain under its own label say nothing; the
    round after a domain counted under ``other`` warns, and the rounds after it (more
    domains under ``other``) do not warn again."""
    monkeypatch.setattr(janitor, "EVERY", 0.01)
    pipeline = Pipeline(_SETTINGS)
    _deliver(pipeline, "a.example")
    _deliver(pipeline, "b.example")
    rounds, changes, housekeep = [0], Changes(), pipeline.housekeep

    def counted(now: float) -> list[str]:
        rounds[0] += 1
        changes.notify()
        return housekeep(now)

    monkeypatch.setattr(pipeline, "housekeep", counted)

    def capped(logs: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
        return [log for log in logs if log["event"] == "sesd.domains.capped"]

    with capture_logs() as logs, anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            tg.start_soon(janitor.janitor, pipeline, lambda: f.T0, lambda: 0.0)
            await changes.wait_for(lambda: rounds[0] >= 2)
            assert capped(logs) == []
            _deliver(pipeline, "c.example")
            seen = rounds[0]
            await changes.wait_for(lambda: rounds[0] >= seen + 2)
            _deliver(pipeline, "d.example")
            seen = rounds[0]
            await changes.wait_for(lambda: rounds[0] >= seen + 2)
            tg.cancel_scope.cancel()
    (warned,) = capped(logs)
    assert warned["log_level"] == "warning"
    assert warned["max_tracked"] == 2
    assert "[domains] track" in warned["hint"]
    assert "raise [domains] max_tracked" in warned["hint"]
