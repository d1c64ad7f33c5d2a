"""CloudWatch's own figures of an account's reputation (the account poller's,
sesd.account.poller): ``GetMetricData`` of ``AWS/SES`` ``Reputation.BounceRate`` and
``Reputation.ComplaintRate``, each query's newest datapoint of the last six hours,
read over every page the answer names."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Final

from sesd.account.failures import (
    EndlessList,
    MetricQueryFailed,
    UnreadableAnswer,
    answer_of,
    text,
)  # fmt: skip
from sesd.core.accounts import WORD, AccountStatus
from sesd.core.text import clean

__all__ = ["METRIC_PAGES", "read_reputation"]

#: CloudWatch's reputation metrics, and the query id of each.
_REPUTATION = {"bounce": "Reputation.BounceRate", "complaint": "Reputation.ComplaintRate"}
#: The datapoints' period, seconds.
_PERIOD: Final = 300
#: The most pages one GetMetricData read asks for: six hours of two metrics are 144
#: datapoints, which CloudWatch answers in one page (it pages past 100,800).
METRIC_PAGES: Final = 10


async def read_reputation(cloudwatch: Any, status: AccountStatus, now: float) -> None:
    """AWS's figures as of ``now`` written into ``status``: each metric's newest
    datapoint, or none when it has none in the hours asked for; a query CloudWatch did
    not complete raises :class:`MetricQueryFailed`, what AWS last said of it standing."""
    at = datetime.fromtimestamp(now, UTC)
    asked: dict[str, Any] = {
        "MetricDataQueries": [
            {
                "Id": kind,
                "MetricStat": {
                    "Metric": {"Namespace": "AWS/SES", "MetricName": name},
                    "Period": _PERIOD,
                    "Stat": "Average",
                },
            }
            for kind, name in _REPUTATION.items()
        ],
        "StartTime": at - timedelta(hours=6),
        # The end is exclusive: a period past now keeps a datapoint stamped now.
        "EndTime": at + timedelta(seconds=_PERIOD),
        "ScanBy": "TimestampDescending",
    }
    points, statuses = await _metric_pages(cloudwatch, asked)
    failed = {}
    for kind, metric in _REPUTATION.items():
        if statuses.get(kind, "Complete") != "Complete":
            # Not all there: what AWS last said stands, as after a failed poll.
            failed[metric] = clean(statuses[kind], WORD)
            continue
        newest = _newest(points.get(kind, []))
        if newest is None:  # none in the hours asked for: AWS's figure is not current
            status.aws.pop(kind, None)
            status.aws_at.pop(kind, None)
        else:
            status.aws_at[kind], status.aws[kind] = newest
    if failed:
        raise MetricQueryFailed(failed)


async def _metric_pages(
    cloudwatch: Any, asked: dict[str, Any]
) -> tuple[dict[str, list[tuple[float, float]]], dict[str, str]]:
    """GetMetricData's (timestamp, value) pairs by query id, over every page (a query
    answered ``PartialData`` has the rest on the next, named by ``NextToken``), and each
    query's status: the last page's that names it, ``PartialData`` only when no token
    followed it. A token the read was given before,
    or pages past :data:`METRIC_PAGES`, is a list that does not end. An answer the SDK
    cannot read, or a query id or a datapoint that does not read, is
    :class:`~sesd.account.failures.UnreadableAnswer`; a token that is no text is read as
    left out. So is an answer that names a query on no page (a proxy's ``{}``, a captive
    page, which botocore's JSON parser reads as ``{"message": page}``, a stand-in naming
    one query of two): CloudWatch names every query asked, its lists empty when it has no
    datapoint, so a query left out is not known to have none; read as one without a
    datapoint, it would drop AWS's figure in a poll that succeeded."""
    points: dict[str, list[tuple[float, float]]] = {}
    statuses: dict[str, str] = {}
    tokens: set[str] = set()
    for _ in range(METRIC_PAGES):
        answer = await answer_of(partial(cloudwatch.get_metric_data, **asked))
        for result in answer.get("MetricDataResults", []):
            if (kind := _query(result)) in _REPUTATION:
                pairs = _datapoints(result)
                points.setdefault(kind, []).extend(_asked_for(pairs, asked))
                statuses[kind] = _status(result)
        token = text(answer, "NextToken")
        if not token:
            if statuses.keys() != _REPUTATION.keys():  # (CloudWatch names each query)
                raise UnreadableAnswer
            return points, statuses
        if token in tokens:
            raise EndlessList(f"get_metric_data named {clean(token, WORD)} again")
        tokens.add(token)
        # The token is the rest of what was partial: a query it has no more of is done.
        statuses = {kind: "Complete" if s == "PartialData" else s for kind, s in statuses.items()}
        asked = {**asked, "NextToken": token}
    raise EndlessList(f"get_metric_data named more than {METRIC_PAGES} pages")


def _query(result: Any) -> str | None:
    """The id of the query ``result`` answers; one that is no text (a list, a number),
    or a result that is none (null: botocore reads every list as sparse), makes the
    answer unreadable: read as left out, its query's figure would be dropped as if it
    had no datapoint."""
    if not isinstance(result, dict):
        raise UnreadableAnswer
    kind = result.get("Id")
    if kind is not None and not isinstance(kind, str):
        raise UnreadableAnswer
    return kind


def _status(result: dict[str, Any]) -> str:
    """A query's status (``Complete`` when left out); one that is no text (a number, a
    list: botocore passes a string member on as the JSON has it) makes the answer
    unreadable, rather than be read as a status CloudWatch named."""
    status = result.get("StatusCode", "Complete")
    if not isinstance(status, str):
        raise UnreadableAnswer
    return status


def _datapoints(result: dict[str, Any]) -> list[tuple[float, float]]:
    """A query's (timestamp, value) pairs. The SDK gives each timestamp as a datetime
    (None for a null) and each value as the answer's JSON has it: a timestamp that is
    none, or a value that is no finite number (a word, a list, a boolean, or "NaN" and
    "Infinity" as the JSON protocol writes a double that is none), or a timestamp
    without a time zone (an ISO time with no offset, read as naive), makes the answer
    unreadable, rather than a figure read from a datapoint skipped or made up: a NaN
    rate crosses no rule's threshold and reads "nan%". So do timestamps and values
    unequal in number (CloudWatch gives one value a timestamp): which is whose is not
    said, and cut to the shorter, a value would be read at another's time."""
    stamps, values = result.get("Timestamps", []), result.get("Values", [])
    if len(stamps) != len(values):
        raise UnreadableAnswer
    pairs = []
    for stamp, value in zip(stamps, values, strict=True):
        # (A time without a zone, which only a stand-in writes, is read in the host's:
        # hours off, it may pass for the newest.)
        if not isinstance(stamp, datetime) or stamp.utcoffset() is None:
            raise UnreadableAnswer
        if isinstance(value, bool):
            raise UnreadableAnswer
        try:
            figure = float(value)
        except (TypeError, ValueError, OverflowError):  # (a whole number past a float's)
            raise UnreadableAnswer from None
        if not math.isfinite(figure):
            raise UnreadableAnswer
        pairs.append((stamp.timestamp(), figure))
    return pairs


def _asked_for(
    pairs: list[tuple[float, float]], asked: dict[str, Any]
) -> list[tuple[float, float]]:
    """The pairs stamped in the hours asked for, from a period before their start
    (CloudWatch rounds the start down to the minute) to their end, a period past now
    (exclusive, as CloudWatch's): CloudWatch answers no other, but a stand-in may (one
    that ignores the range, a proxy replaying an old answer), and one older would be
    shown as AWS's current figure, one stamped in the future taken for the newest.
    The period past now is the allowance for AWS's clock being ahead of this host's."""
    start = asked["StartTime"].timestamp() - _PERIOD
    end = asked["EndTime"].timestamp()
    return [pair for pair in pairs if start <= pair[0] < end]


def _newest(pairs: list[tuple[float, float]]) -> tuple[float, float] | None:
    """(timestamp, value) of a query's newest datapoint, by its timestamp (whatever
    order the pages list them in)."""
    return max(pairs, key=lambda pair: pair[0]) if pairs else None
