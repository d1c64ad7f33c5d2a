"""Past the cap on senders kept (4,096 identities), sesd does not know every sender,
so a place a poll or a reload moves mail from is never forgotten (one not kept may
still count there): its series stay, and an alert on it, until a restart. Nothing
else says so; the janitor warns once a run, as the record fills."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, MutableMapping
from functools import partial
from typing import Any

import anyio
import pytest
from prometheus_client import CollectorRegistry, Counter
from structlog.testing import capture_logs

from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.reputation_senders import MAX_ESTIMATED
from sesd.runtime import janitor
from sesd.runtime.caps import Caps
from sesd.runtime.health import Changes
from sesd.runtime.supervise import kept_running
from tests import factory as f

_SETTINGS = core_settings(
    parse_config('[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/123456789012/eu"\n')
)


class Rounds:
    """The janitor's rounds over ``pipeline`` (one each 10 ms), counted as they end; the
    janitor kept running as the daemon keeps it (:meth:`janitor`), a fault in it made at
    will (:meth:`fault`)."""

    def __init__(self, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(janitor, "EVERY", 0.01)
        self.count, self._changes, housekeep = 0, Changes(), pipeline.housekeep
        self._pipeline, self._fail = pipeline, False

        def counted(now: float) -> list[str]:
            if self._fail:
                self._fail = False
                raise RuntimeError("a fault nobody foresaw")
            self.count += 1
            self._changes.notify()
            return housekeep(now)

        monkeypatch.setattr(pipeline, "housekeep", counted)

    def janitor(
        self, clock: Callable[[], float], monotonic: Callable[[], float]
    ) -> Callable[[], Coroutine[Any, Any, None]]:
        """The janitor over the pipeline, kept running as the daemon keeps it, with the
        run's caps; started again at once after a fault."""
        run = partial(
            janitor.janitor, self._pipeline, Caps(self._pipeline.ledger), clock, monotonic
        )
        failures = Counter("failures", "", ["task"], registry=CollectorRegistry())
        return partial(kept_running, "janitor", run, failures, restart_after=0.0)

    async def fault(self) -> None:
        """A fault in the next round: the janitor fails, and is started again for two
        rounds."""
        self._fail = True
        await self.after(2)

    async def after(self, more: int) -> None:
        """Wait for ``more`` rounds from now."""
        seen = self.count
        await self._changes.wait_for(lambda: self.count >= seen + more)


def _send(pipeline: Pipeline, i: int) -> None:
    """A message of identity ``i``."""
    event = f.simple("Send", [f"r{i}@x.example"])
    event["mail"]["sourceArn"] = f"arn:aws:ses:eu-west-1:123456789012:identity/i{i}.example"
    assert pipeline.feed(f.raw(event), "eu", f.T0).outcome == "processed"


async def test_the_record_of_senders_filling_is_warned_of_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rounds with one sender fewer than the cap say nothing, a reload's too (it makes
    the record anew and places the same senders in it again: it is no fuller); the
    round after the last one kept warns, and the rounds after it (the record stays
    full: a move places the same senders again) do not warn again, after a reload
    neither (the record it makes anew is as full), nor those of the janitor started
    again after a fault (which warned again)."""
    pipeline = Pipeline(_SETTINGS)
    for i in range(MAX_ESTIMATED - 1):
        _send(pipeline, i)
    rounds = Rounds(pipeline, monkeypatch)

    def capped(logs: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
        return [log for log in logs if log["event"] == "sesd.reputation.senders_capped"]

    with capture_logs() as logs, anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            tg.start_soon(rounds.janitor(lambda: f.T0, lambda: 0.0))
            await rounds.after(2)
            pipeline.reconfigure(_SETTINGS)
            await rounds.after(2)
            assert capped(logs) == []
            assert len(pipeline.ledger.senders) == MAX_ESTIMATED - 1
            _send(pipeline, MAX_ESTIMATED)
            await rounds.after(3)
            pipeline.reconfigure(_SETTINGS)
            assert len(pipeline.ledger.senders) == MAX_ESTIMATED
            await rounds.after(2)
            await rounds.fault()
            tg.cancel_scope.cancel()
    (warned,) = capped(logs)
    assert warned["log_level"] == "warning"
    assert warned["kept"] == MAX_ESTIMATED
