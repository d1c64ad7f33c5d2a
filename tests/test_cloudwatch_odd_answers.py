"""A GetMetricData answer not of CloudWatch's shape (an endpoint that is not quite
CloudWatch's: botocore checks no member's type, and passes on a datapoint's value as
the JSON has it) is a failed poll, counted and logged with a hint naming CloudWatch's
endpoint, AWS's figures standing as last read: never the account poller's end.
Raised, it failed the account poll task (``sesd_task_failures_total{task=
"account_poll"}``), started again 10 s later to ask every account again, at every
round. The local CloudWatch endpoint, its answers parsed by botocore."""

from __future__ import annotations

import io
from typing import Any

import anyio
import pytest

from tests.fake_cloudwatch import Query
from tests.test_cloudwatch_statuses import AN_HOUR_AGO, AT, TARGET, _failed, _polled

#: The newest datapoint's time, as the endpoint writes it (epoch seconds).
STAMP = AT.timestamp()


def _result(kind: str, value: float) -> dict[str, Any]:
    """A query's result, complete, one datapoint stamped :data:`STAMP`."""
    return {"Id": kind, "Timestamps": [STAMP], "Values": [value], "StatusCode": "Complete"}


#: The complaint query's result in each answer below: CloudWatch names every query
#: asked, so an answer leaving it out would fail for that alone; read, it would move
#: the complaint figure.
COMPLAINT = _result("complaint", 0.0003)


def _bounce(**member: Any) -> dict[str, Any]:
    """An answer of both queries, each complete with one datapoint, the bounce query's
    ``member`` replaced."""
    return {"MetricDataResults": [{**_result("bounce", 0.02), **member}, COMPLAINT],
            "Messages": []}  # fmt: skip


#: Answers of a member where another kind is (a number where a list is, a word where an
#: object, a timestamp or a figure is), each a failed poll.
ODD: dict[str, dict[str, Any] | str] = {
    "results-a-number": {"MetricDataResults": 5},
    "result-a-word": {"MetricDataResults": ["bounce", *_bounce()["MetricDataResults"]]},
    "timestamps-a-number": _bounce(Timestamps=5),
    "values-a-number": _bounce(Values=5),
    "timestamp-a-word": _bounce(Timestamps=["yesterday"]),
    "timestamp-past-any-date": _bounce(Timestamps=[1e300]),
    # Whole numbers past any float's range: float() of them raises OverflowError.
    "timestamp-past-a-float": _bounce(Timestamps=[10**400]),
    "value-past-a-float": _bounce(Values=[10**400]),
    "timestamp-null": _bounce(Timestamps=[None]),
    "value-a-word": _bounce(Values=["high"]),
    "value-null": _bounce(Values=[None]),
    "value-a-list": _bounce(Values=[[0.02]]),
    "value-true": _bounce(Values=[True]),
    "id-a-list": _bounce(Id=["bounce"]),
    # How the JSON protocol writes a double that is no finite number: read as a figure,
    # a NaN never crosses a rule's threshold and shows as "nan%".
    "value-nan": _bounce(Values=["NaN"]),
    "value-infinity": _bounce(Values=["Infinity"]),
    "value-minus-infinity": _bounce(Values=["-Infinity"]),
    "value-a-bare-nan": _bounce(Values=[float("nan")]),  # JSON's NaN literal
    # A null result: botocore reads every list as sparse, and passes the null on.
    "result-null": {"MetricDataResults": [None, *_bounce()["MetricDataResults"]]},
    # A status that is no text (botocore passes a string member on as the JSON has it):
    # read with str(), it was a query CloudWatch did not complete, named "5".
    "status-a-number": _bounce(StatusCode=5),
    "status-a-list": _bounce(StatusCode=["Complete"]),
    # CloudWatch gives a value for each timestamp: lists of unequal length say not
    # which value is whose, and cut to the shorter, a value went with another's time.
    "more-timestamps-than-values": _bounce(Timestamps=[STAMP, STAMP - 300], Values=[0.02]),
    "more-values-than-timestamps": _bounce(Values=[0.02, 0.5]),
    # Nested deeper than JSON's loader goes: the SDK's raises RecursionError.
    "nested-too-deeply": '{"MetricDataResults": ' + "[" * 5000 + "]" * 5000 + "}",
    # No JSON (a proxy's text): the SDK reads it as an answer naming no query.
    "text-no-json": "Service Unavailable",
}


@pytest.mark.parametrize("case", list(ODD))
async def test_an_answer_not_of_cloudwatchs_shape_is_a_failed_poll(
    case: str, json_logs: io.StringIO
) -> None:
    """A first poll reads both figures; the next is answered ``case``: counted under
    ``UnreadableAnswer`` and logged once with a hint naming CloudWatch's endpoint, the
    figures standing as read, and the poll after it reads the figures again."""
    read = ([Query("bounce", points=[(AN_HOUR_AGO, 0.01)]),
             Query("complaint", points=[(AN_HOUR_AGO, 0.0002)])], None)  # fmt: skip
    async with _polled() as (_ses, cloudwatch, poller):
        cloudwatch.script(read)
        with anyio.fail_after(20):
            await poller.poll_once()
        status = poller.accounts.status[TARGET]
        cloudwatch.raw.append(ODD[case])
        with anyio.fail_after(20):
            await poller.poll_once()
        assert status.aws == {"bounce": 0.01, "complaint": 0.0002}
        assert status.aws_at["bounce"] == AN_HOUR_AGO.timestamp()
        failed = {key: n for key, n in poller.accounts.errors.items() if n}
        cloudwatch.script(([Query("bounce", points=[(AT, 0.03)]), Query("complaint")], None))
        with anyio.fail_after(20):
            await poller.poll_once()
        assert status.aws["bounce"] == 0.03
    assert failed == {(*TARGET, "get_metric_data", "UnreadableAnswer"): 1}
    (told,) = _failed(json_logs)
    assert "check the CloudWatch endpoint_url" in told["hint"]


async def test_a_token_that_is_no_text_is_read_as_left_out() -> None:
    """A page's ``NextToken`` that is no text (a list): the list ends there, as one
    without a token does; its complete queries read, nothing failed."""
    async with _polled() as (_ses, cloudwatch, poller):
        cloudwatch.raw.append({**_bounce(), "NextToken": ["page-2"]})
        with anyio.fail_after(20):
            await poller.poll_once()
        assert poller.accounts.status[TARGET].aws == {"bounce": 0.02, "complaint": 0.0003}
        assert not [n for n in poller.accounts.errors.values() if n]
    assert len(cloudwatch.requests) == 1
