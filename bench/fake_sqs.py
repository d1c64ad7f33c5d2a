"""A minimal, fast SQS endpoint for the end-to-end benchmark (not for tests).

Speaks SQS's JSON protocol for ReceiveMessage, DeleteMessageBatch,
ChangeMessageVisibilityBatch (a stop's release) and GetQueueAttributes,
serving a fixed number of SNS-wrapped SES events as fast as it can, so the
consumer, not the server, is what is measured. Run in its
own process: ``python -m bench.fake_sqs PORT COUNT [MIX]``; prints ``ready``
when listening. MIX is ``deliveries`` (the default), ``mixed`` (deliveries,
delays with published diagnostics and bounces: bench/attribution.py) or
``production`` (the same with Send events: bench/end_to_end.py).

``COUNT`` 0 is the storm for bench/sinks.py: endless events timed now, one in
four a DeliveryDelay, over 200 domains, so every domain's delay alert fires.
The same process then plays Slack (``POST /slack``) and PagerDuty
(``POST /pagerduty``), each answering as ``POST /control`` says: ``ok``,
``429`` (Retry-After: 1), ``500`` or ``hang`` (never answers); ``GET
/control`` returns the requests each received.

``GET /drained?count=N`` is answered once N messages have been deleted: how a
benchmark learns that its consumer is done without watching the consumer from
inside its process (bench/end_to_end.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import sys
import time

from aiohttp import web

from tests import factory as f

#: Diagnostics of the mixed workload's delays (published texts), for their causes.
_DIAGNOSTICS = (
    "smtp; 451 4.7.650 The mail server [192.0.2.10] has been temporarily rate limited due to "
    "IP reputation.",
    "smtp; 421 4.7.0 [TSS04] Messages from 192.0.2.10 temporarily deferred due to "
    "unexpected volume or user complaints",
    "smtp; 450 4.2.1 The user you are trying to contact is receiving mail at a rate that "
    "prevents additional messages from being delivered.",
    "smtp; 451 4.7.1 Greylisted, see http://postgrey.schweikert.ch/help/example.html",
)


#: The recipient domains of every mix, in turn.
DOMAINS = [f"d{i}.example" for i in range(300)]


def _event(i: int, mix: str) -> dict[str, object]:
    """The i-th event of a mix: ``deliveries`` only; ``mixed``, 90% deliveries, 7%
    delays (a diagnostic each) and 3% bounces (half of them soft); ``production``,
    88% deliveries, 6% delays, 3% bounces and 3% Send events."""
    recipients, at = [f"u{i}@{DOMAINS[i % len(DOMAINS)]}"], f.T0 + i * 0.01
    roll = (i * 7919) % 100
    deliveries, delays = {"deliveries": (100, 100), "mixed": (90, 97)}.get(mix, (88, 94))
    if roll < deliveries:
        return f.delivery(recipients, at=at)
    if roll < delays:
        diagnostic = _DIAGNOSTICS[i % len(_DIAGNOSTICS)]
        return f.delay(recipients, at=at, delay_type="RecipientServerError", diagnostic=diagnostic)
    if mix == "production" and roll >= 97:
        return f.simple("Send", recipients, at=at)
    return f.bounce(recipients, at=at, kind="Transient" if i % 2 else "Permanent")


def _messages(count: int, mix: str = "deliveries") -> list[dict[str, str]]:
    out = []
    for i in range(count):
        body = f.sns(_event(i, mix))
        out.append(
            {
                "MessageId": f"m-{i}",
                "ReceiptHandle": f"r-{i}",
                "MD5OfBody": hashlib.md5(body.encode()).hexdigest(),
                "Body": body,
            }
        )
    return out


_storm_ids = itertools.count()


def _storm(n: int) -> list[dict[str, str]]:
    out = []
    now = time.time()
    for i in (next(_storm_ids) for _ in range(n)):
        recipients = [f"u{i}@d{i % 200}.example"]
        delayed = (i // 200) % 4 == 0  # a quarter of each domain's events
        event = f.delay(recipients, at=now) if delayed else f.delivery(recipients, at=now)
        body = f.sns(event)
        md5 = hashlib.md5(body.encode()).hexdigest()
        out.append(
            {"MessageId": f"m-{i}", "ReceiptHandle": f"r-{i}", "MD5OfBody": md5, "Body": body}
        )
    return out


def _sinks(app: web.Application) -> None:
    modes = {"slack": "ok", "pagerduty": "ok"}
    received = {"slack": 0, "pagerduty": 0}

    async def sink(request: web.Request) -> web.Response:
        name = request.path.strip("/")
        await request.read()
        received[name] += 1
        mode = modes[name]
        if mode == "hang":
            await asyncio.Event().wait()
        if mode == "429":
            return web.Response(status=429, text="rate_limited", headers={"Retry-After": "1"})
        if mode == "500":
            return web.Response(status=500, text="error")
        if name == "slack":
            return web.Response(text="ok")
        return web.json_response({"status": "success", "message": "Event processed"}, status=202)

    async def control(request: web.Request) -> web.Response:
        if request.method == "POST":
            modes.update(json.loads(await request.read()))
        return web.json_response(received)

    app.router.add_post("/slack", sink)
    app.router.add_post("/pagerduty", sink)
    app.router.add_route("*", "/control", control)


def main() -> None:
    """Serve until killed."""
    port, count = int(sys.argv[1]), int(sys.argv[2])
    messages = _messages(count, sys.argv[3] if len(sys.argv) > 3 else "deliveries")
    position = 0
    deleted = 0
    deletes = asyncio.Condition()

    async def handle(request: web.Request) -> web.Response:
        nonlocal position, deleted
        target = request.headers.get("X-Amz-Target", "").rpartition(".")[2]
        params = json.loads(await request.read() or b"{}")
        if target == "ReceiveMessage":
            n = int(params.get("MaxNumberOfMessages", 1))
            if count == 0:
                batch = _storm(n)
            else:
                batch, position = messages[position : position + n], position + n
            body: dict[str, object] = {"Messages": batch} if batch else {}
        elif target in ("DeleteMessageBatch", "ChangeMessageVisibilityBatch"):
            # Each entry named, as SQS names them: one named nowhere is a failed one.
            body = {"Successful": [{"Id": e["Id"]} for e in params["Entries"]], "Failed": []}
            if target == "DeleteMessageBatch":
                deleted += len(params["Entries"])
                async with deletes:
                    deletes.notify_all()
        elif target == "GetQueueAttributes":
            body = {"Attributes": {"RedrivePolicy": '{"maxReceiveCount": 5}'}}
        else:
            body = {}
        return web.Response(body=json.dumps(body), content_type="application/x-amz-json-1.0")

    async def drained(request: web.Request) -> web.Response:
        wanted = int(request.query["count"])
        async with deletes:
            await deletes.wait_for(lambda: deleted >= wanted)
        return web.Response(text="drained")

    app = web.Application()
    app.router.add_post("/", handle)
    app.router.add_get("/drained", drained)
    _sinks(app)
    print("ready", flush=True)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    main()
