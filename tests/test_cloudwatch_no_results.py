"""A GetMetricData answer that names no query's result (a proxy's ``{}``, a captive
page answered 200, which botocore's JSON parser reads as ``{"message": page}``):
CloudWatch names each query asked, with or without datapoints, so such an answer is
unreadable, AWS's figures standing as last read. Read as queries without datapoints,
it dropped both figures (``sesd_ses_reputation_*_ratio{source="aws"}``, the status
page's and an alert's "AWS's own figure") in a poll counted as answered."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from tests.fake_cloudwatch import Query
from tests.test_cloudwatch_statuses import AN_HOUR_AGO, TARGET, _polled

pytestmark = pytest.mark.timeout(30)

NO_RESULTS: dict[str, dict[str, Any]] = {
    "empty": {},
    "results-empty": {"MetricDataResults": [], "Messages": []},
    "a-page": {"message": "<html><body>Sign in to continue</body></html>"},
}


@pytest.mark.parametrize("case", list(NO_RESULTS))
async def test_an_answer_naming_no_query_is_a_failed_poll(case: str) -> None:
    """A first poll reads both figures; the next is answered ``case``: counted under
    ``UnreadableAnswer``, the figures standing as read."""
    read = ([Query("bounce", points=[(AN_HOUR_AGO, 0.01)]),
             Query("complaint", points=[(AN_HOUR_AGO, 0.0002)])], None)  # fmt: skip
    async with _polled() as (_ses, cloudwatch, poller):
        cloudwatch.script(read)
        with anyio.fail_after(20):
            await poller.poll_once()
        status = poller.accounts.status[TARGET]
        cloudwatch.raw.append(NO_RESULTS[case])
        with anyio.fail_after(20):
            await poller.poll_once()
        assert status.aws == {"bounce": 0.01, "complaint": 0.0002}
        failed = {key: n for key, n in poller.accounts.errors.items() if n}
    assert failed == {(*TARGET, "get_metric_data", "UnreadableAnswer"): 1}


async def test_a_query_without_datapoints_is_no_failure() -> None:
    """CloudWatch names each query, one without a datapoint in the hours asked with
    empty lists: its figure is none, and the poll no failure."""
    read = ([Query("bounce", points=[(AN_HOUR_AGO, 0.01)]), Query("complaint")], None)
    async with _polled() as (_ses, cloudwatch, poller):
        cloudwatch.script(read, ([Query("bounce"), Query("complaint")], None))
        with anyio.fail_after(20):
            await poller.poll_once()
        status = poller.accounts.status[TARGET]
        assert status.aws == {"bounce": 0.01}
        with anyio.fail_after(20):
            await poller.poll_once()
        assert status.aws == {}
        assert not [n for n in poller.accounts.errors.values() if n]
