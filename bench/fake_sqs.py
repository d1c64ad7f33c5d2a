"""A minimal, fast SQS endpoint for the end-to-end benchmark (not for tests).

Speaks SQS's JSON protocol for ReceiveMessage, DeleteMessageBatch and
GetQueueAttributes, serving a fixed number of SNS-wrapped SES events as fast
as it can, so the consumer, not the server, is what is measured. Run in its
own process: ``python -m bench.fake_sqs PORT COUNT``; prints ``ready`` when
listening.
"""

from __future__ import annotations

import hashlib
import json
import sys

from aiohttp import web

from tests import factory as f


def _messages(count: int) -> list[dict[str, str]]:
    out = []
    for i in range(count):
        body = f.sns(f.delivery([f"u{i}@d{i % 300}.example"], at=f.T0 + i * 0.01))
        out.append(
            {
                "MessageId": f"m-{i}",
                "ReceiptHandle": f"r-{i}",
                "MD5OfBody": hashlib.md5(body.encode()).hexdigest(),
                "Body": body,
            }
        )
    return out


def main() -> None:
    """Serve until killed."""
    port, count = int(sys.argv[1]), int(sys.argv[2])
    messages = _messages(count)
    position = 0

    async def handle(request: web.Request) -> web.Response:
        nonlocal position
        target = request.headers.get("X-Amz-Target", "").rpartition(".")[2]
        params = json.loads(await request.read() or b"{}")
        if target == "ReceiveMessage":
            n = int(params.get("MaxNumberOfMessages", 1))
            batch, position = messages[position : position + n], position + n
            body: dict[str, object] = {"Messages": batch} if batch else {}
        elif target == "DeleteMessageBatch":
            body = {"Successful": [{"Id": e["Id"]} for e in params["Entries"]], "Failed": []}
        elif target == "GetQueueAttributes":
            body = {"Attributes": {"RedrivePolicy": '{"maxReceiveCount": 5}'}}
        else:
            body = {}
        return web.Response(body=json.dumps(body), content_type="application/x-amz-json-1.0")

    app = web.Application()
    app.router.add_post("/", handle)
    print("ready", flush=True)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    main()
