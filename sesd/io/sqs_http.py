"""The HTTP session of sesd's SQS clients: aiobotocore's, but an answer's body is read
up to :data:`LARGEST_ANSWER`, not whole whatever its size. The SDK reads every body
whole before it looks at it, so an endpoint or a proxy that answers without end (a
stream, a misrouted download) would make sesd hold as much memory as it sends. SQS's
answers have a bound: a receive brings at most 10 messages of at most 1 MiB each,
their attributes included. A bigger answer is no SQS's: refused, a failed call
(:class:`UnreadableAnswer`), before more than the bound is read.

An answer that says its length (SQS's all do) is read as the SDK reads it, once that
length is within the bound: one over it is refused before its body is read. One without
a length (chunked) is read a piece at a time, and refused at the first piece past the
bound. Chosen through the clients' config (``http_session_cls``), the session sesd
makes its SQS calls with; aiohttp itself bounds no body."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiobotocore.awsrequest import AioAWSResponse
from aiobotocore.httpsession import AIOHTTPSession
from botocore.exceptions import ConnectionClosedError, ReadTimeoutError

from sesd.io.sqs_answers import KEPT, UnreadableAnswer

__all__ = ["LARGEST_ANSWER", "BoundedSession"]

#: The largest answer taken from SQS: 10 messages of 1 MiB (SQS's bound on a message,
#: its attributes included), each escaped as JSON escapes it (a quote, a backslash or a
#: line break in two bytes, a character past ASCII in six or twelve, if escaped: at most
#: three times its UTF-8), and their receipt handles and attributes: 30 MiB and some,
#: with a margin for what SQS may add.
LARGEST_ANSWER = 64 * 2**20
_SAID = f"{LARGEST_ANSWER // 2**20} MiB"


class _Read:
    """A body already read, as the SDK's response asks its raw answer for it."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    async def read(self) -> bytes:
        return self._body


class BoundedSession(AIOHTTPSession):
    """aiobotocore's session, each answer's body bounded (the module's docstring)."""

    async def send(self, request: Any) -> Any:
        """Send ``request``; its answer, its body read (at most :data:`LARGEST_ANSWER`).
        Each request of a batch call whose answer is kept is counted
        (sesd.io.sqs_answers.Kept: its tries, a dropped connection's too)."""
        kept = KEPT.get()
        if kept is not None:
            kept.tries += 1
        if request.stream_output:  # a body the SDK hands on as a stream: none of SQS's
            return await super().send(request)
        # Left unread by the SDK's session, to be read here with a bound.
        request.stream_output = True
        try:
            # Typed loosely: aiobotocore's response awaits what botocore's stubs call bytes.
            response: Any = await super().send(request)
        finally:
            request.stream_output = False
        raw: aiohttp.ClientResponse = response.raw
        try:
            length = raw.content_length
            if length is not None:
                if length > LARGEST_ANSWER:
                    raise UnreadableAnswer(f"of {length} bytes, more than {_SAID}")
                await response.content  # as the SDK reads it: aiohttp stops at the length
                return response
            return AioAWSResponse(
                response.url, response.status_code, response.headers, _Read(await _chunks(raw))
            )
        except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError) as exc:
            # As the SDK's session says them (a delete's retries know them).
            raise ConnectionClosedError(
                error=exc, request=request, endpoint_url=request.url
            ) from exc
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise ReadTimeoutError(endpoint_url=request.url, error=exc) from exc
        finally:
            if not raw.content.at_eof():  # refused or cut: the connection is not reused
                raw.close()


async def _chunks(raw: aiohttp.ClientResponse) -> bytes:
    """A body without a length, read a piece at a time up to :data:`LARGEST_ANSWER`."""
    pieces: list[bytes] = []
    size = 0
    async for piece in raw.content.iter_any():
        size += len(piece)
        if size > LARGEST_ANSWER:
            raise UnreadableAnswer(f"of more than {_SAID}", pieces[0] if pieces else piece)
        pieces.append(piece)
    raw.release()
    return b"".join(pieces)
