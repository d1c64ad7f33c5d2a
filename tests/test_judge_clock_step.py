"""A step of the wall clock measured while a batch of messages is judged: the batch's
receive time was read on the old clock, before the step; what the daemon keeps of that
clock (the canaries' times) moved with the step at one of the batch's turns of the
event loop (another task read the clock first). The messages after it take the
receive time moved as far, so the two agree: a canary's Delivery read after a step an
hour back took its end-to-end time as an hour longer (its histogram, the status page), ahead
as none."""

from __future__ import annotations

import itertools
from typing import Any, cast

import anyio
import pytest

from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.sqs_calls import InvalidMemory
from sesd.runtime.sqs_judge import Judge
from tests import factory as f

RECEIVED = f.T0 + 60


@pytest.mark.parametrize("step", [-3600.0, 600.0], ids=["back", "ahead"])
async def test_a_step_measured_inside_a_batch_moves_its_receive_time(step: float) -> None:
    """A canary sent 30 s before the receive; the batch holds two costly messages (a
    second each on the poller's monotonic clock), then the canary's Delivery; the step
    is measured at the batch's first turn. The canary took 30 s end to end."""
    pipeline = Pipeline(core_settings(parse_config("")))
    ledger = pipeline.ledger
    ledger.canary.sent("canary-1", RECEIVED - 30, 0.5)
    seconds = itertools.count()
    judge = Judge(
        pipeline,
        "q",
        delete_invalid=False,
        invalid=InvalidMemory(),
        counts=cast(Any, None),
        log=cast(Any, None),
        place=dict,
        monotonic=lambda: float(next(seconds)),
    )
    bodies = [f.raw(f.delivery([f"u{i}@one.example"], message_id=f"m{i}")) for i in range(2)]
    bodies.append(f.raw(f.delivery(["success@simulator.amazonses.com"], at=RECEIVED - 5,
                                   message_id="canary-1")))  # fmt: skip
    messages: list[Any] = [{"MessageId": f"s{i}", "Body": b} for i, b in enumerate(bodies)]

    async def measure() -> None:
        ledger.stepped(
            step, RECEIVED + step
        )  # what the daemon does when a task's clock read finds a step

    done: list[Any] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(measure)
        await judge.batch(messages, RECEIVED, done, [])
    assert len(done) == 3
    canary = ledger.canary.by_id["canary-1"]
    assert canary.end_to_end_seconds == pytest.approx(30.0)
