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
from tests.test_cloudwatch_statuses import AN_HOUR_AGO, AT, TARGET, _polled

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


#: Answers naming one query but not the other (CloudWatch names every query asked, on
#: some page, its lists empty when it has no datapoint): the query left out is not
#: known to have none.
ONE_NAMED: dict[str, tuple[tuple[list[Query], str | None], ...]] = {
    "bounce-only": (([Query("bounce", points=[(AT, 0.03)])], None),),
    "complaint-only": (([Query("complaint", points=[(AT, 0.0003)])], None),),
    "bounce-only-over-two-pages": (
        ([Query("bounce", "PartialData", [(AN_HOUR_AGO, 0.02)])], "page-2"),
        ([Query("bounce", points=[(AT, 0.03)])], None),
    ),
}


@pytest.mark.parametrize("case", list(ONE_NAMED))
async def test_an_answer_naming_one_query_leaves_both_figures_standing(case: str) -> None:
    """A first poll reads both figures; the next is answered ``case``, naming only one
    query: counted under ``UnreadableAnswer``, both figures standing as read (the one
    left out was dropped as if it had no datapoint, in a poll counted as answered)."""
    read = ([Query("bounce", points=[(AN_HOUR_AGO, 0.01)]),
             Query("complaint", points=[(AN_HOUR_AGO, 0.0002)])], None)  # fmt: skip
    async with _polled() as (_ses, cloudwatch, poller):
        cloudwatch.script(read, *ONE_NAMED[case])
        with anyio.fail_after(20):
            await poller.poll_once()
        status = poller.accounts.status[TARGET]
        with anyio.fail_after(20):
            await poller.poll_once()
        assert status.aws == {"bounce": 0.01, "complaint": 0.0002}
        assert status.aws_at == dict.fromkeys(("bounce", "complaint"), AN_HOUR_AGO.timestamp())
        failed = {key: n for key, n in poller.accounts.errors.items() if n}
    assert failed == {(*TARGET, "get_metric_data", "UnreadableAnswer"): 1}
