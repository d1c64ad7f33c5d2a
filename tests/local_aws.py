"""The AWS side of the tests: moto's SQS server on loopback, SDK clients on it, queues
made and filled, and the SDK's settings tests change (credentials, polls, retries).
tests/conftest.py imports the fixtures, so every test has them."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from functools import cache
from typing import Any, Protocol

import botocore.loaders
import botocore.session
import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession, get_session
from botocore.retries.standard import ExponentialBackoff

from sesd.commands.demo.localsqs import LocalSqs


@pytest.fixture(scope="session", autouse=True)
def _one_sdk_loader() -> Iterator[None]:
    """Every SDK session the test process makes (a daemon's, a command's, a test's own)
    reads the SDK's data files (service models, endpoints) through one loader, as the
    clients of one session do: a session of its own re-read and parsed them, about
    0.1 s of CPU a test that runs a daemon in-process. The files are the SDK's own,
    read-only and the same for every session; what sesd makes of them is made afresh."""
    made: dict[str | None, botocore.loaders.Loader] = {}
    create = botocore.loaders.create_loader

    def shared(search_path_string: str | None = None) -> botocore.loaders.Loader:
        if search_path_string not in made:
            made[search_path_string] = create(search_path_string)
        return made[search_path_string]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "create_loader", shared)
        yield


@pytest.fixture(scope="session")
def local_sqs() -> Iterator[LocalSqs]:
    """moto's SQS server on a free loopback port, for the whole session."""
    with LocalSqs() as server:
        yield server


class Endpoint(Protocol):
    """A local server an SDK client can be pointed at."""

    url: str


@cache
def _session() -> AioSession:
    """One SDK session for the test's own clients: a session reads the SDK's service
    models and endpoint data once, about 60 ms a client when each had a session of its
    own. It holds no connection (each client has its own), so tests stay apart."""
    return get_session()


def aws_client(service: str, local: Endpoint, config: AioConfig | None = None) -> Any:
    """An aiobotocore client of ``service`` on a local moto server, or a stand-in for
    one (its ``url``), as a context manager; ``config``: the client's settings."""
    return _session().create_client(  # type: ignore[call-overload]
        service,
        region_name="us-east-1",
        endpoint_url=local.url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    )


@pytest.fixture
def no_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """No AWS credentials anywhere the SDK looks: environment, files, a container's or
    an instance's metadata (so it raises before any call, with no AWS error code)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def short_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """A short-polled queue (``wait_time_seconds = 0``) asked again 50 ms after an empty
    answer, not a second: for modules whose daemons are not there for the long poll. A
    stop waits for the receive in flight (sesd/runtime/sqs.py), most of a 1 s long poll
    (0.9 s a stop, measured), where a short poll has already answered. What the queue
    answers, and when sesd counts it as read, are the same; the long poll keeps tests
    of its own (test_sqs_integration, test_sqs_edges, test_shutdown)."""
    monkeypatch.setattr("sesd.runtime.sqs.SHORT_POLL_PAUSE", 0.05)


@pytest.fixture
def quick_sdk_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's pause before each retry a hundredth of what it drew (a random 0-1 s,
    then 0-2 s and 0-4 s: up to 70 ms in all, not 7 s), for tests that count retries or
    read what they end in, not how long they waited. The same calls are made, as many
    times and in the same order, each still after a pause; the reliability tests keep
    the SDK's own, which is what they ride out."""
    drawn = ExponentialBackoff.delay_amount
    monkeypatch.setattr(
        ExponentialBackoff, "delay_amount", lambda self, context: drawn(self, context) / 100
    )


@pytest.fixture
async def sqs(local_sqs: LocalSqs) -> AsyncIterator[Any]:
    """An aiobotocore SQS client on the local server."""
    async with aws_client("sqs", local_sqs) as client:
        yield client


async def make_queue(
    sqs: Any, *, dlq: bool = True, max_receive: int = 2, visibility: int = 30
) -> tuple[str, str | None]:
    """A fresh queue (and dead-letter queue); returns their URLs."""
    name = f"q-{uuid.uuid4().hex[:10]}"
    attributes = {"VisibilityTimeout": str(visibility)}
    dlq_url = None
    if dlq:
        dlq_url = (await sqs.create_queue(QueueName=f"{name}-dlq"))["QueueUrl"]
        arn = (await sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"]))[
            "Attributes"
        ]["QueueArn"]
        attributes["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": arn, "maxReceiveCount": str(max_receive)}
        )
    url = (await sqs.create_queue(QueueName=name, Attributes=attributes))["QueueUrl"]
    return url, dlq_url


async def send_bodies(sqs: Any, url: str, bodies: list[str]) -> None:
    """Enqueue bodies, ten per batch."""
    for i in range(0, len(bodies), 10):
        entries = [{"Id": str(j), "MessageBody": b} for j, b in enumerate(bodies[i : i + 10])]
        response = await sqs.send_message_batch(QueueUrl=url, Entries=entries)
        assert not response.get("Failed"), response["Failed"]


async def queue_counts(sqs: Any, url: str) -> tuple[int, int]:
    """(visible, in flight) messages of a queue."""
    attrs = (
        await sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]), int(
        attrs["ApproximateNumberOfMessagesNotVisible"]
    )
