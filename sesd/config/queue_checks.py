"""What is valid in a ``[[queues]]`` entry but probably not meant: the warnings that
check-config prints and the start and a reload log, each naming the queue's key."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sesd.config.aws import region_of_url
from sesd.core.text import escaped

if TYPE_CHECKING:
    from sesd.config import Config
    from sesd.config.aws import QueueConfig


def is_fifo(queue: QueueConfig) -> bool:
    """Whether ``queue`` is a FIFO queue: SQS gives every FIFO queue's name, and no
    other, the ``.fifo`` suffix."""
    return queue.url.rstrip("/").endswith(".fifo")


def queue_warnings(config: Config) -> list[str]:
    """Each queue's settings that are valid but probably not meant."""
    found: list[str] = []
    found += [
        f"queues[{i}].delete_invalid: a FIFO queue holds the rest of a message group behind "
        "an invalid message until it reaches its dead-letter queue (without one, for "
        "ever); set delete_invalid = true on it"
        for i, q in enumerate(config.queues)
        if is_fifo(q) and not config.deletes_invalid(q)
    ]
    found += [
        f"queues[{i}].visibility_timeout: 0 shows each message again as it is "
        "received: other pollers take it again while it is handled, and an invalid one "
        "left in the queue comes back at once, receive after receive; leave it unset "
        "(the queue's own) or give the seconds a message takes to handle and delete"
        for i, q in enumerate(config.queues)
        if q.visibility_timeout == 0
    ]
    found += [
        f"queues[{i}].wait_time_seconds: 0 receives without waiting: SQS "
        "answers at once from a sample of its servers (an answer can be empty while "
        "messages wait), and while the queue is empty each poller asks again every "
        "second, 86,400 requests a day billed (a 20 s long poll takes 4,320); give 1 "
        "to 20 (a long poll answers at once when messages are there)"
        for i, q in enumerate(config.queues)
        if q.wait_time_seconds == 0
    ]
    found += _local_queue_warnings(config)
    found += _read_twice(config)
    return found


def _read_twice(config: Config) -> list[str]:
    """A queue two entries read at the same place (a block copied for another queue,
    its name changed and its URL not): the queue's messages split between two labels,
    both ready, and the queue meant never read. A warning, not an error: a config that
    ran on it still starts and reloads."""
    first: dict[tuple[str, str | None, str], int] = {}
    found: list[str] = []
    for i, queue in enumerate(config.queues):
        was = first.setdefault(queue.place, i)
        if was < i:
            found.append(
                f"queues[{i}].url: the same queue as queues[{was}]: read twice, under the "
                f"names {config.queues[was].label} and {queue.label}, and the queue this "
                "entry was meant for is not read; give its URL, or remove the entry and "
                f"raise queues[{was}].concurrency to read the one faster"
            )
    return found


def _local_queue_warnings(config: Config) -> list[str]:
    """A queue URL on a host that is not SQS's (a local SQS's) with no endpoint named:
    sesd calls its region's AWS endpoint, never the host a URL names, so a config
    pasted from `sesd setup --endpoint-url` without its [aws] block polls AWS."""
    if config.aws.endpoint_url or any(
        os.environ.get(name) for name in ("AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL")
    ):
        return []
    found = []
    for i, queue in enumerate(config.queues):
        parts = urlsplit(queue.url)
        if region_of_url(queue.url) is None and parts.hostname:
            found.append(
                f"queues[{i}].url: {escaped(parts.hostname, 100)} is not SQS's, and no [aws] "
                f"endpoint_url (nor $AWS_ENDPOINT_URL) is set: sesd calls SQS at "
                f"{config.region_of(queue)}'s AWS endpoint, not that host; for a local SQS, "
                f'set [aws] endpoint_url = "{parts.scheme}://{escaped(parts.netloc, 100)}"'
            )
    return found
