"""GetMetricData is asked for the last six hours, and CloudWatch answers only
datapoints of them (stamped in epoch seconds, which botocore reads in UTC). A
stand-in's answer may hold others: a datapoint older than the hours asked (one that
ignores the range, or a proxy replaying an old answer) was shown as AWS's current
figure, which README says is dropped when none is of the last six hours; one stamped
in the future was taken as the newest, hiding the newest of the hours asked. Each is
now left out. A timestamp without a time zone (an ISO time with no offset, which
botocore reads as naive) was read in the machine's zone: hours off, it could be
taken for the newest. It now makes the answer unreadable, AWS's figures standing.
The local CloudWatch endpoint, its answers parsed by botocore."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import anyio
import pytest

from tests.fake_cloudwatch import Query
from tests.test_cloudwatch_statuses import AN_HOUR_AGO, AT, TARGET, _polled

pytestmark = pytest.mark.timeout(30)


async def test_datapoints_older_than_the_hours_asked_are_left_out() -> None:
    """A first poll reads both figures; the next answers the bounce query only with a
    datapoint seven hours old (and, for the complaint, one of now): the bounce figure
    is dropped as of no datapoint in six hours, not shown as current."""
    async with _polled() as (_ses, cloudwatch, poller):
        cloudwatch.script(
            ([Query("bounce", points=[(AN_HOUR_AGO, 0.01)]),
              Query("complaint", points=[(AN_HOUR_AGO, 0.0002)])], None),
            ([Query("bounce", points=[(AT - timedelta(hours=7), 0.05)]),
              Query("complaint", points=[(AT, 0.0003)])], None),
        )  # fmt: skip
        with anyio.fail_after(20):
            await poller.poll_once()
            await poller.poll_once()
        status = poller.accounts.status[TARGET]
        assert status.aws == {"complaint": 0.0003}
        assert "bounce" not in status.aws_at
        assert not [n for n in poller.accounts.errors.values() if n]


async def test_a_datapoint_stamped_in_the_future_is_not_the_newest() -> None:
    """The bounce query answered with a datapoint of now and one stamped a day ahead:
    the figure is the one of now."""
    async with _polled() as (_ses, cloudwatch, poller):
        cloudwatch.script(
            ([Query("bounce", points=[(AT + timedelta(days=1), 0.001), (AT, 0.08)]),
              Query("complaint", points=[(AT, 0.0003)])], None),
        )  # fmt: skip
        with anyio.fail_after(20):
            await poller.poll_once()
        status = poller.accounts.status[TARGET]
        assert status.aws == {"bounce": 0.08, "complaint": 0.0003}
        assert status.aws_at["bounce"] == AT.timestamp()


@pytest.mark.parametrize(("ahead", "kept"), [(299, True), (300, False), (599, False)])
async def test_a_datapoint_a_period_ahead_of_the_clock_is_in_the_future(
    ahead: int, kept: bool
) -> None:
    """The hours asked end a period (five minutes) past sesd's clock, the allowance for
    AWS's clock being ahead of the host's. A datapoint stamped within it is the newest;
    one stamped at its end or later is in the future and left out, the datapoint of
    now the figure. Up to ten minutes ahead were taken for the newest."""
    async with _polled() as (_ses, cloudwatch, poller):
        cloudwatch.script(
            ([Query("bounce", points=[(AT + timedelta(seconds=ahead), 0.001), (AT, 0.08)]),
              Query("complaint", points=[(AT, 0.0003)])], None),
        )  # fmt: skip
        with anyio.fail_after(20):
            await poller.poll_once()
        status = poller.accounts.status[TARGET]
        assert status.aws["bounce"] == (0.001 if kept else 0.08)
        assert status.aws_at["bounce"] == AT.timestamp() + (ahead if kept else 0)


@pytest.fixture
def four_hours_behind_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The machine's local time zone four hours behind UTC."""
    monkeypatch.setenv("TZ", "Etc/GMT+4")
    time.tzset()
    try:
        yield
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.usefixtures("four_hours_behind_utc")
async def test_a_timestamp_without_a_zone_makes_the_answer_unreadable() -> None:
    """A first poll reads both figures; the next answers the bounce query with a
    datapoint two hours old (epoch seconds) and one five hours old written with no
    zone: read in the machine's zone it was one hour old, the newest, and its figure
    shown. The answer is unreadable instead, both figures standing as read."""
    naive = (AT - timedelta(hours=5)).replace(tzinfo=None).isoformat()
    async with _polled() as (_ses, cloudwatch, poller):
        cloudwatch.script(
            ([Query("bounce", points=[(AN_HOUR_AGO, 0.01)]),
              Query("complaint", points=[(AN_HOUR_AGO, 0.0002)])], None)
        )  # fmt: skip
        with anyio.fail_after(20):
            await poller.poll_once()
        cloudwatch.raw.append(
            {"MetricDataResults": [
                {"Id": "bounce", "StatusCode": "Complete",
                 "Timestamps": [(AT - timedelta(hours=2)).timestamp(), naive],
                 "Values": [0.08, 0.001]},
                {"Id": "complaint", "StatusCode": "Complete",
                 "Timestamps": [AT.timestamp()], "Values": [0.0003]},
            ], "Messages": []}
        )  # fmt: skip
        with anyio.fail_after(20):
            await poller.poll_once()
        status = poller.accounts.status[TARGET]
        assert status.aws == {"bounce": 0.01, "complaint": 0.0002}
        failed = {key: n for key, n in poller.accounts.errors.items() if n}
    assert failed == {(*TARGET, "get_metric_data", "UnreadableAnswer"): 1}
