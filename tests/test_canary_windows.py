"""A canary rule's window against the canary's deadline and interval: a canary counts
as missing from its deadline until it leaves the rule's window."""

from __future__ import annotations

import pytest

from sesd.config import ConfigError, parse_config
from sesd.core.canary import CanaryTracker
from tests import factory as f
from tests.test_canary import CANARY

T0 = f.T0
SIZES = '[windows]\nsizes = ["1m", "2m", "3m", "5m", "15m"]\n'


def rule(metric: str, window: str) -> str:
    return f'[[alerts.rules]]\nname = "r"\nmetric = "{metric}"\nwindow = "{window}"\nabove = 0\n'


def test_a_missing_rule_whose_window_is_the_deadline_is_refused() -> None:
    """With the window no longer than the deadline (2m), a canary whose events are lost
    is never in the window once it is missing: the rule would never fire. check-config
    refuses it, naming the key and the deadline."""
    tracker = CanaryTracker(deadline=120.0, queue="events")
    for k in range(60):  # one a minute for an hour, none back
        tracker.sent(f"m-{k}", T0 + 60 * k, 0.1)
    assert all(
        tracker.measure("canary_missing", 120.0, T0 + s)[0] == 0.0 for s in range(0, 3600, 7)
    )
    assert tracker.overdue_count(T0 + 3600) == 58  # yet the gauge sees them
    with pytest.raises(ConfigError, match=r"alerts\.rules\[0\] \(r\)\.window: 2m is not longer "
                       r"than canary\.deadline \(2m\).*never fires"):  # fmt: skip
        parse_config(CANARY + SIZES + rule("canary_missing", "2m"))
    parse_config(CANARY + SIZES + rule("canary_missing", "3m"))


@pytest.mark.parametrize(
    ("interval", "window", "warned"),
    [
        ("2m", "3m", "is shorter than canary.deadline (2m) plus canary.interval (2m)"),
        ("1m", "3m", None),
        ("2m", "5m", None),
    ],
)
def test_a_missing_rule_whose_window_holds_no_canary_part_of_the_time_is_warned_of(
    interval: str, window: str, warned: str | None
) -> None:
    """A missing rule's window under deadline plus interval holds no lost canary between
    two: the alert would resolve while canaries are still lost. Warned of (the config
    runs)."""
    text = CANARY + f'interval = "{interval}"\n' + SIZES + rule("canary_missing", window)
    warnings = parse_config(text).warnings()
    found = [w for w in warnings if w.startswith("alerts.rules[0] (r).window")]
    assert found == (
        []
        if warned is None
        else [
            f"alerts.rules[0] (r).window: {window} {warned}"
            ": a canary is missing from its deadline until it leaves the window, so "
            "some of the time no lost canary is in it and the alert resolves while "
            "canaries are still lost; give a window of at least the two together"
        ]
    )


def test_a_latency_rule_whose_window_is_under_the_interval_is_warned_of() -> None:
    """With an interval of 5m, a 1m window holds the latest call a fifth of the time; a
    5m window always holds one."""
    latency = "canary_send_latency_seconds"
    config = parse_config(CANARY + 'interval = "5m"\n' + SIZES + rule(latency, "1m"))
    assert not [
        w
        for w in parse_config(CANARY + 'interval = "5m"\n' + SIZES + rule(latency, "5m")).warnings()
        if "window" in w
    ]
    assert (
        "alerts.rules[0] (r).window: 1m is shorter than canary.interval (5m): between two "
        "calls the window holds none, the latency reads as none and the alert resolves; "
        "give a window of at least the interval"
    ) in config.warnings()


@pytest.mark.parametrize(
    ("timing", "warned"),
    [
        ('deadline = "5s"\n', "send_timeout (10s)"),
        ('deadline = "10s"\n', "send_timeout (10s)"),
        ('deadline = "20s"\nsend_timeout = "30s"\n', "send_timeout (30s)"),
        ('deadline = "12s"\nsend_timeout = "30s"\ninterval = "15s"\n', "interval (15s)"),
        ('deadline = "20s"\nsend_timeout = "30s"\ninterval = "25s"\n', "interval (25s)"),
        ('deadline = "11s"\n', None),
        ('deadline = "20s"\nsend_timeout = "30s"\ninterval = "19s"\n', None),
    ],
)
def test_a_deadline_no_longer_than_the_send_timeout_is_warned_of(
    timing: str, warned: str | None
) -> None:
    """A canary's deadline runs from the start of its SendEmail call: with a deadline of
    5s and a send_timeout of 10s, a call that SES answers after 6s counts as missing the
    moment it returns, its event not yet sent. check-config warns of a deadline no longer
    than what one call may take (send_timeout, or the interval when shorter); the config
    runs."""
    tracker = CanaryTracker(deadline=5.0, queue="events")
    tracker.sent("m-slow", T0, 6.0)  # the call began at T0 and returned at T0 + 6
    assert tracker.overdue_count(T0 + 6.0) == 1
    text = CANARY.replace('deadline = "2m"\n', timing)
    found = [w for w in parse_config(text).warnings() if w.startswith("canary.deadline")]
    if warned is None:
        assert found == []
        return
    deadline = timing.split('"')[1]
    assert found == [
        f"canary.deadline: {deadline} is not longer than canary.{warned}, what one "
        "SendEmail call may take: the deadline runs from the start of the call, so a slow "
        "call that SES answers counts as missing the moment it returns, before its event "
        "can arrive; give a deadline well above it (events take seconds to minutes)"
    ]
