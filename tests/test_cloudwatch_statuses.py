"""GetMetricData answers each query with a status: ``Complete``, or ``InternalError``
(CloudWatch's own failure), ``Forbidden`` (the metric may not be read), or
``PartialData`` with a ``NextToken`` for the rest. A query not complete is a failed
poll, counted and logged with a hint, and AWS's figure it would have replaced stands
as last read; it is not read as "no datapoint in six hours" (which drops the figure,
uncounted). Partial data is read to its end through the tokens. CloudWatch is a local
fake speaking the SDK's CBOR protocol (moto answers every query Complete)."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from sesd.account.poller import AccountPoller
from sesd.config import core_settings, parse_config
from sesd.core.accounts import Target
from sesd.core.pipeline import Pipeline
from tests import factory as f
from tests.fake_cloudwatch import FakeCloudWatch, Query
from tests.fake_ses import FakeSes

NOW = f.T0
TARGET: Target = ("default", "eu-west-1")
AT = datetime.fromtimestamp(NOW, UTC)
AN_HOUR_AGO = AT - timedelta(hours=1)


@asynccontextmanager
async def _poller(ses: FakeSes, cloudwatch: FakeCloudWatch) -> AsyncIterator[AccountPoller]:
    """An account poller of :data:`TARGET`: SESv2 and CloudWatch on the fakes."""
    made: dict[str, Any] = {}

    async def client_for(service: str, target: Target) -> Any:
        if service not in made:
            made[service] = (
                await get_session()
                .create_client(  # type: ignore[call-overload]
                    service,
                    region_name=target[1],
                    endpoint_url=ses.url if service == "sesv2" else cloudwatch.url,
                    aws_access_key_id="testing",
                    aws_secret_access_key="testing",
                    config=AioConfig(retries={"mode": "standard", "total_max_attempts": 1}),
                )
                .__aenter__()
            )
        return made[service]

    pipeline = Pipeline(core_settings(parse_config("")))
    try:
        yield AccountPoller(
            [TARGET], client_for, pipeline.ledger.accounts, every=300,
            cloudwatch=True, clock=lambda: NOW,
        )  # fmt: skip
    finally:
        for client in made.values():
            await client.__aexit__(None, None, None)


@asynccontextmanager
async def _polled() -> AsyncIterator[tuple[FakeSes, FakeCloudWatch, AccountPoller]]:
    """Fake SESv2 and CloudWatch, and an account poller of :data:`TARGET` on them."""
    async with (
        FakeSes() as ses,
        FakeCloudWatch() as cloudwatch,
        _poller(ses, cloudwatch) as poller,
    ):
        yield ses, cloudwatch, poller


def _failed(logs: io.StringIO) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in logs.getvalue().splitlines()]
    return [r for r in records if r["event"] == "sesd.account.poll_failed"]


async def test_a_query_cloudwatch_failed_is_a_counted_failure_not_no_data(
    json_logs: io.StringIO,
) -> None:
    """A first poll reads both figures. The next, CloudWatch answers the bounce query
    InternalError and the complaint query Complete with a newer datapoint: the
    complaint figure moves, the bounce figure stands as last read, and the poll is
    counted as failed under get_metric_data and logged with a hint that names the
    query, its status, and that the next poll tries again."""
    async with _polled() as (_ses, cloudwatch, poller):
        cloudwatch.script(
            ([Query("bounce", points=[(AN_HOUR_AGO, 0.01)]),
              Query("complaint", points=[(AN_HOUR_AGO, 0.0002)])], None),
            ([Query("bounce", "InternalError"),
              Query("complaint", points=[(AT, 0.0003)])], None),
        )  # fmt: skip
        await poller.poll_once()
        status = poller.accounts.status[TARGET]
        assert status.aws == {"bounce": 0.01, "complaint": 0.0002}
        await poller.poll_once()
        assert status.aws == {"bounce": 0.01, "complaint": 0.0003}
        assert status.aws_at["bounce"] == AN_HOUR_AGO.timestamp()
        failed = {key: n for key, n in poller.accounts.errors.items() if n}
    assert failed == {(*TARGET, "get_metric_data", "MetricQueryFailed"): 1}
    (told,) = _failed(json_logs)
    assert told["api"] == "get_metric_data"
    assert "Reputation.BounceRate" in told["hint"]
    assert "InternalError" in told["hint"]
    assert "next poll tries again" in told["hint"]


async def test_a_forbidden_query_names_the_permission(json_logs: io.StringIO) -> None:
    """Both queries answered Forbidden: counted, and the hint names the permission to
    grant, not that it passes by itself."""
    async with _polled() as (_ses, cloudwatch, poller):
        cloudwatch.script(([Query("bounce", "Forbidden"), Query("complaint", "Forbidden")], None))
        await poller.poll_once()
        assert poller.accounts.status[TARGET].aws == {}
        failed = {key: n for key, n in poller.accounts.errors.items() if n}
    assert failed == {(*TARGET, "get_metric_data", "MetricQueryFailed"): 1}
    (told,) = _failed(json_logs)
    assert "Forbidden" in told["hint"]
    assert "grant cloudwatch:GetMetricData" in told["hint"]
    assert "next poll tries again" not in told["hint"]


async def test_partial_data_is_read_to_its_end_through_the_next_token(
    json_logs: io.StringIO,
) -> None:
    """The first page answers both queries PartialData, with older datapoints and a
    NextToken; the second, asked with it, completes them with the newest: the figures
    are the newest datapoints, and nothing is counted as failed."""
    async with _polled() as (_ses, cloudwatch, poller):
        cloudwatch.script(
            ([Query("bounce", "PartialData", [(AN_HOUR_AGO, 0.01)]),
              Query("complaint", "PartialData", [(AN_HOUR_AGO, 0.001)])], "page-2"),
            ([Query("bounce", points=[(AT, 0.02)]),
              Query("complaint", points=[(AT, 0.002)])], None),
        )  # fmt: skip
        await poller.poll_once()
        assert poller.accounts.status[TARGET].aws == {"bounce": 0.02, "complaint": 0.002}
        assert not [n for n in poller.accounts.errors.values() if n]
    assert [r.get("NextToken") for r in cloudwatch.requests] == [None, "page-2"]
    assert _failed(json_logs) == []


async def test_partial_data_without_a_token_is_said_to_be_partial(json_logs: io.StringIO) -> None:
    """PartialData with no NextToken to read the rest: the poll is counted as failed
    and the hint says the data was partial, rather than read as all there is."""
    async with _polled() as (_ses, cloudwatch, poller):
        cloudwatch.script(
            ([Query("bounce", "PartialData", [(AN_HOUR_AGO, 0.01)]),
              Query("complaint", points=[(AT, 0.002)])], None)
        )  # fmt: skip
        await poller.poll_once()
        assert poller.accounts.status[TARGET].aws == {"complaint": 0.002}
        failed = {key: n for key, n in poller.accounts.errors.items() if n}
    assert failed == {(*TARGET, "get_metric_data", "MetricQueryFailed"): 1}
    (told,) = _failed(json_logs)
    assert "PartialData" in told["hint"]


async def test_pages_that_name_a_token_again_are_given_up_not_followed_for_ever(
    json_logs: io.StringIO,
) -> None:
    """Partial data whose second page names the first page's token again (an endpoint
    that is not CloudWatch's): the read is given up after two pages, counted as a list
    that does not end, and the hint names CloudWatch's endpoint."""
    looping = ([Query("bounce", "PartialData"), Query("complaint", "PartialData")], "again")
    async with _polled() as (_ses, cloudwatch, poller):
        cloudwatch.script(looping, looping, looping)
        await poller.poll_once()
        failed = {key: n for key, n in poller.accounts.errors.items() if n}
    assert len(cloudwatch.requests) == 2
    assert failed == {(*TARGET, "get_metric_data", "EndlessList"): 1}
    (told,) = _failed(json_logs)
    assert "check the CloudWatch endpoint_url" in told["hint"]


async def test_a_partial_query_the_next_page_has_nothing_more_of_is_done() -> None:
    """The first page answers the bounce query PartialData with a NextToken; the
    page the token names has nothing more of it: what the first page held is all
    there is, the figure read from it, and nothing counted as failed."""
    async with _polled() as (_ses, cloudwatch, poller):
        cloudwatch.script(
            ([Query("bounce", "PartialData", [(AT, 0.03)]),
              Query("complaint", points=[(AT, 0.001)])], "page-2"),
            ([], None),
        )  # fmt: skip
        await poller.poll_once()
        assert poller.accounts.status[TARGET].aws == {"bounce": 0.03, "complaint": 0.001}
        assert not [n for n in poller.accounts.errors.values() if n]


async def test_a_query_cloudwatch_did_not_complete_still_vouches_for_the_key() -> None:
    """GetAccount failed with SES's 500 and CloudWatch answered both queries
    InternalError: the poll failed, but CloudWatch answered a call signed with the
    account's credentials in eu-west-1, so a key another region does not know is known
    there (what the hint of that region's refusal reads)."""
    async with _polled() as (ses, cloudwatch, poller):
        ses.script_account(500)
        cloudwatch.script(
            ([Query("bounce", "InternalError"), Query("complaint", "InternalError")], None)
        )
        await poller.poll_once()
        failed = {key[2:]: n for key, n in poller.accounts.errors.items() if n}
        assert failed == {
            ("get_account", "InternalFailure"): 1, ("get_metric_data", "MetricQueryFailed"): 1,
        }  # fmt: skip
        assert poller.accounts.accepted_elsewhere(("default", "ap-east-1"), NOW) == ["eu-west-1"]


async def test_a_query_whose_status_changes_is_logged_again_with_its_status(
    json_logs: io.StringIO,
) -> None:
    """The bounce query answered InternalError, then Forbidden, then Forbidden again:
    counted each time under the one code, MetricQueryFailed, but the status is said
    only in the log line, so each change of it is logged (the second line names the
    permission to grant, not that the next poll tries again); the same status again is
    not."""
    complete = Query("complaint", points=[(AT, 0.0003)])
    async with _polled() as (_ses, cloudwatch, poller):
        cloudwatch.script(
            ([Query("bounce", "InternalError"), complete], None),
            ([Query("bounce", "Forbidden"), complete], None),
            ([Query("bounce", "Forbidden"), complete], None),
        )
        for _ in range(3):
            await poller.poll_once()
        failed = {key: n for key, n in poller.accounts.errors.items() if n}
    assert failed == {(*TARGET, "get_metric_data", "MetricQueryFailed"): 3}
    told = _failed(json_logs)
    assert [line["error"] for line in told] == ["MetricQueryFailed"] * 2
    assert "InternalError" in told[0]["hint"]
    assert "Forbidden" in told[1]["hint"]
    assert "grant cloudwatch:GetMetricData" in told[1]["hint"]
