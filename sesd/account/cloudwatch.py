"""CloudWatch's own figures of an account's reputation (the account poller's,
sesd.account.poller): ``GetMetricData`` of ``AWS/SES`` ``Reputation.BounceRate`` and
``Reputation.ComplaintRate``, each query's newest datapoint of the last six hours,
read over every page the answer names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sesd.account.failures import EndlessList, MetricQueryFailed
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
) -> tuple[dict[str, list[tuple[Any, Any]]], dict[str, str]]:
    """GetMetricData's (timestamp, value) pairs by query id, over every page (a query
    answered ``PartialData`` has the rest on the next, named by ``NextToken``), and each
    query's status: the last page's that names it, ``PartialData`` only when no token
    followed it. A token the read was given before,
    or pages past :data:`METRIC_PAGES`, is a list that does not end."""
    points: dict[str, list[tuple[Any, Any]]] = {}
    statuses: dict[str, str] = {}
    tokens: set[str] = set()
    for _ in range(METRIC_PAGES):
        answer = await cloudwatch.get_metric_data(**asked)
        for result in answer.get("MetricDataResults", []):
            if (kind := result.get("Id")) in _REPUTATION:
                pairs = zip(result.get("Timestamps", []), result.get("Values", []), strict=False)
                points.setdefault(kind, []).extend(pairs)
                statuses[kind] = str(result.get("StatusCode", "Complete"))
        token = answer.get("NextToken")
        if not token:
            return points, statuses
        if token in tokens:
            raise EndlessList(f"get_metric_data named {clean(token, WORD)} again")
        tokens.add(token)
        # The token is the rest of what was partial: a query it has no more of is done.
        statuses = {kind: "Complete" if s == "PartialData" else s for kind, s in statuses.items()}
        asked = {**asked, "NextToken": token}
    raise EndlessList(f"get_metric_data named more than {METRIC_PAGES} pages")


def _newest(pairs: list[tuple[Any, Any]]) -> tuple[float, float] | None:
    """(timestamp, value) of a query's newest datapoint, by its timestamp (whatever
    order the pages list them in)."""
    if not pairs:
        return None
    stamp, value = max(pairs, key=lambda pair: pair[0])
    return stamp.timestamp(), float(value)
