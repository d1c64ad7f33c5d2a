"""``s3://bucket/prefix`` inputs for replay: objects listed and read in key order
(for Firehose's ``YYYY/MM/DD/HH/`` keys, time order) through aiobotocore, with the
config's credentials, region and endpoint. Keys with a name starting with '.' below
the prefix are left out, as a directory walk leaves such names out.

Replay reads synchronously; the S3 calls run on an event loop in a thread (an
anyio blocking portal), and each object is read a chunk at a time, so an
object is never held whole.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from contextlib import AsyncExitStack
from types import TracebackType
from typing import IO, Any

from aiobotocore.config import AioConfig
from anyio.from_thread import BlockingPortal, start_blocking_portal

from sesd.config import Config
from sesd.runtime.aws import DEFAULT_ACCOUNT, AwsClients

__all__ = ["S3Reader", "bucket_refused", "hidden", "is_s3", "split_s3"]


def is_s3(path: str) -> bool:
    """Whether an input names S3 objects."""
    return path.startswith("s3://")


def split_s3(url: str) -> tuple[str, str]:
    """(bucket, key or prefix) of an ``s3://`` URL. Not a URL parser's job: a key may
    hold ``#``, ``?``, ``%`` or ``//``, which are part of its name."""
    bucket, _, key = url.removeprefix("s3://").partition("/")
    return bucket, key


#: What the SDK takes for a bucket's name (S3's own rules are stricter: it answers those).
_BUCKET = re.compile(r"[a-zA-Z0-9._-]{1,255}\Z")


def bucket_refused(url: str) -> str | None:
    """Why an ``s3://`` URL names no bucket the SDK would ask for (None: it may),
    said before it is asked: its own refusal is a regular expression or two."""
    bucket, _ = split_s3(url)
    if not bucket:
        return "no bucket named: write s3://BUCKET/PREFIX"
    if bucket.startswith("arn:") or _BUCKET.match(bucket):  # an access point's ARN too
        return None
    return (
        f"{bucket!r} is no S3 bucket's name (letters, digits, '.', '-' and '_'): "
        "write s3://BUCKET/PREFIX"
    )


def hidden(key: str, prefix: str) -> bool:
    """Whether ``key``, listed under ``prefix``, has a name below it that starts with
    '.' (``prefix/.DS_Store``, ``prefix/.tmp/part``): no archive's, left out as a
    directory walk leaves such files and directories out. The prefix's own names are
    what was asked for: a key named exactly is read, and so is ``.tmp/`` named."""
    names = key[len(prefix) :].split("/")
    if prefix and not prefix.endswith("/"):
        names = names[1:]  # the first began in the prefix (``events`` of ``ev``)
    return any(name.startswith(".") for name in names)


class _Raw(io.RawIOBase):
    """A raw stream over an async ``read(n)``, called through the portal."""

    def __init__(self, read: Callable[[int], bytes]) -> None:
        self._read = read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class S3Reader:
    """Lists and opens S3 objects; a context manager (its thread and client)."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._portal: BlockingPortal | None = None
        self._portal_context: Any = None
        self._stack = AsyncExitStack()
        self._client: Any = None

    def __enter__(self) -> S3Reader:
        self._portal_context = start_blocking_portal()
        self._portal = self._portal_context.__enter__()
        self._client = self._portal.call(self._open_client)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._portal is not None
        self._portal.call(self._stack.aclose)
        self._portal_context.__exit__(exc_type, exc, tb)

    async def _open_client(self) -> Any:
        # The daemon's client factory: [aws] keys, endpoint and region as it reads them.
        clients = AwsClients(self._config, self._stack)
        return await clients.client("s3", DEFAULT_ACCOUNT, self._config.aws.region, AioConfig())

    def objects(self, url: str) -> list[tuple[str, int]]:
        """(``s3://bucket/key``, size) of every object under the URL's prefix, in key
        order, but those with a hidden name below it (:func:`hidden`)."""
        assert self._portal is not None
        return self._portal.call(self._list, *split_s3(url))

    async def _list(self, bucket: str, prefix: str) -> list[tuple[str, int]]:
        found: list[tuple[str, int]] = []
        paginator = self._client.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            found.extend(
                (f"s3://{bucket}/{item['Key']}", int(item["Size"]))
                for item in page.get("Contents", [])
                if not item["Key"].endswith("/") and not hidden(item["Key"], prefix)
            )
        return sorted(found)

    def open(self, url: str) -> IO[bytes]:
        """A buffered stream of one object's bytes."""
        assert self._portal is not None
        portal = self._portal
        bucket, key = split_s3(url)
        response = portal.call(lambda: self._client.get_object(Bucket=bucket, Key=key))
        body = response["Body"]

        def read(n: int) -> bytes:
            return portal.call(body.read, n)  # type: ignore[no-any-return]

        return io.BufferedReader(_Raw(read), buffer_size=1 << 20)
