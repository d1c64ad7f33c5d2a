"""How sesd's AWS clients are made: the SDK's files a first client of a kind needs,
read off the event loop; and one making at a time of each client, so that callers
that ask for it at once (two accounts' credential refreshes, each asking STS's client
of one region) get one client, not one each, the first kept in no one's sight."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager

import anyio
from aiobotocore.session import AioSession
from botocore.exceptions import ConfigParseError, ProfileNotFound

from sesd.core.text import escaped

__all__ = ["OneEach", "aws_files_fault", "read_models"]


def aws_files_fault() -> str:
    """What to say when the SDK's own files stop every AWS call, else "": the
    environment names a profile its config and credentials files do not have, or one of
    those files cannot be parsed. Every client sesd would make fails on either, whatever
    its account (an account's own keys or role too: the SDK reads the profile's settings
    for every client), each time with a traceback, so it is said once, before anything
    starts. Reads the SDK's files: call it off the loop."""
    try:
        AioSession().get_scoped_config()
    except ProfileNotFound as exc:
        variable = "AWS_PROFILE" if "AWS_PROFILE" in os.environ else "AWS_DEFAULT_PROFILE"
        profile = escaped(str(exc.kwargs.get("profile", "")), 100)
        return (
            f"{variable} names the AWS profile '{profile}', which the SDK's config and "
            "credentials files do not have: name one they have (aws configure "
            f"list-profiles), or unset {variable}"
        )
    except ConfigParseError as exc:
        # The parser's first line only: the lines after it quote the file, and a
        # credentials file's lines hold keys.
        why = (str(exc.kwargs.get("error", "")).splitlines() or [""])[0]
        path = escaped(str(exc.kwargs.get("path", "")), 300)
        return (
            f"the AWS SDK cannot parse {path} ({escaped(why, 200)}): mend it, or point "
            "AWS_CONFIG_FILE or AWS_SHARED_CREDENTIALS_FILE at another file"
        )
    return ""


class OneEach:
    """A lock for each key (a client being made), dropped once nothing holds it or
    waits on it: kept, each key ever made held one for as long as sesd ran."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, anyio.Lock] = {}

    @asynccontextmanager
    async def one(self, key: Hashable) -> AsyncIterator[None]:
        """Run the block alone among those of ``key``."""
        lock = self._locks.setdefault(key, anyio.Lock())
        try:
            async with lock:
                yield
        finally:
            # Handed on to a waiter, it stays locked: the last one drops it.
            idle = not lock.locked() and not lock.statistics().tasks_waiting
            if idle and self._locks.get(key) is lock:
                del self._locks[key]


def read_models(session: AioSession, service: str) -> None:
    """Read and parse the SDK's files a first client of ``service`` needs (its model,
    its endpoint rules, the partitions, the retry and default settings: 0.2-0.7 s of
    JSON for SESv2 or SQS here), in a worker thread: on the event loop they stalled
    every poll, evaluation and answer for as long, whenever a reload, the canary or an
    account poll made its first client of a kind. The loader keeps what it parsed; the
    client made next on the loop reads it from there."""
    loader = session.get_component("data_loader")
    for kind in ("service-2", "endpoint-rule-set-1"):
        loader.load_service_model(service, kind)
    for name in ("endpoints", "partitions", "_retry", "sdk-default-configuration"):
        loader.load_data(name)
