"""The configs the benchmarks run pass sesd's own checks.

Benchmarks are run on purpose, not by the suite: a config check added later
would otherwise surface only when someone next runs one, as a traceback.
"""

from __future__ import annotations

import pytest

from bench import end_to_end, evaluation, instructions, poller_instructions
from sesd.config import parse_config
from sesd.core.pipeline import Pipeline


@pytest.mark.parametrize("alerts", ["", instructions.ALERTS], ids=["end_to_end", "instructions"])
def test_the_daemon_configs_of_the_end_to_end_benchmarks_pass_the_checks(alerts: str) -> None:
    extra = end_to_end.daemon_config("127.0.0.1:53", alerts)
    config = parse_config(end_to_end.daemon_text("http://127.0.0.1:9", extra))
    assert [queue.name for queue in config.queues] == ["bench"]
    assert [rule.name for rule in config.alerts.rules] == ["delay-ratio-high"]


@pytest.mark.parametrize("name", list(evaluation.CONFIGS))
def test_the_evaluation_benchmarks_configs_pass_the_checks(name: str) -> None:
    config = parse_config(evaluation.rules(name))
    assert len(config.alerts.rules) == {"36 rules": 36, "99 rules": 99, "one rule": 1}[name]


async def test_the_poller_benchmarks_drain_runs_a_real_poller(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The drain the poller's instruction count runs (under valgrind, so rarely) takes
    its client as sesd's pollers take theirs: a hook sesd adds to its clients, or one it
    takes off, that the bench's client cannot take fails here, not in the next count."""
    monkeypatch.setattr(Pipeline, "feed", poller_instructions._counted_feed)
    assert await poller_instructions.drain(2) == 20
