"""A queue's check (GetQueueAttributes, for its redrive policy: advice, at start and
when a reload adds or changes the queue) in trouble: its SQS call hangs, its answer is
nested deeper than the SDK's loader goes (a failed check, as a receive's), or sesd's
own reading of the answer has a bug. The check is advice: none holds a stop, nor ends
sesd. A stand-in for SQS (its JSON protocol) whose receives answer at once."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from aiohttp import web

import sesd.runtime.sqs_calls as calls_module
from sesd.commands.demo.localhttp import LocalServer
from sesd.config import load_config, parse_config
from sesd.runtime.sqs_calls import check_queue
from tests.conftest import aws_client, log_records, running, sesd_logs
from tests.dns_server import hermetic_text

_KIND = "application/x-amz-json-1.0"
#: JSON nested past the interpreter's recursion limit: the SDK's parse of it raises
#: RecursionError, none of the errors an SQS call is expected to raise.
_DEEP = '{"Attributes": ' + "[" * 100_000 + "]" * 100_000 + "}"


class CheckedSqs(LocalServer):
    """Receives answer no messages at once (counted); GetQueueAttributes of a queue
    whose name begins with ``deep`` answers :data:`_DEEP` (with a 500 if the name ends
    with ``error``), of ``hung`` waits until the server closes, of the others answers
    a redrive policy."""

    def __init__(self) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"
        self.receives = 0
        self.checks = 0
        self.hanging = anyio.Event()
        self._closed = anyio.Event()

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/", self._answer)

    def close(self) -> None:
        self._closed.set()

    async def _answer(self, request: web.Request) -> web.Response:
        operation = request.headers.get("X-Amz-Target", "").rpartition(".")[2]
        queue = json.loads(await request.read()).get("QueueUrl", "").rpartition("/")[2]
        if operation == "ReceiveMessage":
            self.receives += 1
            return web.json_response({}, content_type=_KIND)
        if operation != "GetQueueAttributes":
            return web.json_response({}, content_type=_KIND)
        self.checks += 1
        if queue.startswith("deep"):
            status = 500 if queue.endswith("error") else 200
            return web.Response(text=_DEEP, status=status, content_type=_KIND)
        if queue == "hung":
            self.hanging.set()
            await self._closed.wait()
        policy = {"deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:dlq"}
        body = {"Attributes": {"RedrivePolicy": json.dumps(policy)}}
        return web.json_response(body, content_type=_KIND)


def _config(sqs: CheckedSqs, *names: str, grace: str = "1s") -> str:
    """A config whose SQS is ``sqs``, a short-polled queue of each of ``names``."""
    return hermetic_text(
        f'[aws]\nendpoint_url = "{sqs.url}"\nregion = "us-east-1"\n'
        f'[http]\nlisten = "127.0.0.1:0"\n[shutdown]\ngrace_period = "{grace}"\n'
        + "".join(
            f'[[queues]]\nurl = "{sqs.url}/123456789012/{name}"\nname = "{name}"\n'
            "wait_time_seconds = 0\n"
            for name in names
        )
    )


def _logged(logs: io.StringIO, event: str) -> list[dict[str, Any]]:
    return [line for line in log_records(logs) if line["event"] == event]


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys for the SDK to sign with."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.mark.parametrize("queue", ["deep", "deep-error"])
async def test_a_check_answered_too_deeply_is_a_failed_check(
    queue: str, json_logs: io.StringIO
) -> None:
    """A check answered with JSON nested deeper than the SDK's loader goes (a 200, or an
    error's 500: a proxy's, not SQS's) is a failed check, said with its reason, as a
    receive answered so is: not a fault of sesd's (a traceback, a failed task)."""
    async with CheckedSqs() as sqs, aws_client("sqs", sqs) as client:
        config = parse_config(f'[[queues]]\nurl = "{sqs.url}/123456789012/{queue}"\n')
        assert not await check_queue(client, config.queues[0], "default", "us-east-1")
    (said,) = _logged(json_logs, "sesd.sqs.attributes_failed")
    assert said["level"] == "warning"
    assert said["error"] == "UnreadableAnswer: an answer nested too deeply, not SQS's"


@pytest.mark.usefixtures("keys")
async def test_a_check_that_raises_is_a_failed_task_not_the_end_of_sesd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The start's check of ``q``, then a reload's of ``q2`` (added), each meet a bug of
    sesd's reading their answer (made to recurse without end): each is counted
    (``sesd_task_failures_total{task="queue_check"}``) and logged with its traceback
    (``sesd.task.failed``, its queue named), and sesd reads on. Before, the check ran
    unsupervised in the daemon's task group: the fault ended sesd, every queue's
    ingestion with it, over advice about a redrive policy."""

    def recursing(answer: Any) -> Any:
        return recursing(answer)

    monkeypatch.setattr(calls_module, "foreign_answer", recursing)
    logs = sesd_logs("info")
    path = tmp_path / "sesd.toml"
    async with CheckedSqs() as sqs:
        path.write_text(_config(sqs, "q"))
        async with running(load_config(str(path)), config_path=path) as daemon:
            registry = daemon.metrics.registry

            def failed() -> float:
                value = registry.get_sample_value(
                    "sesd_task_failures_total", {"task": "queue_check"}
                )
                return value or 0.0

            with anyio.fail_after(20):  # (each empty receive is a change)
                await daemon.changes.wait_for(lambda: failed() == 1)
            path.write_text(_config(sqs, "q", "q2"))
            assert await daemon.reload()
            with anyio.fail_after(20):
                await daemon.changes.wait_for(lambda: failed() == 2)
                receives = sqs.receives
                await daemon.changes.wait_for(lambda: sqs.receives > receives + 2)
            assert daemon.health.ready(daemon.monotonic()) == (True, [])
    faults = _logged(logs, "sesd.task.failed")
    assert [(line["task"], line["queue"]) for line in faults] == [
        ("queue_check", "q"),
        ("queue_check", "q2"),
    ]
    assert all("RecursionError" in line["exception"] for line in faults)
    assert sqs.checks == 2  # advice: not asked again after its fault


@pytest.mark.usefixtures("keys")
async def test_a_check_that_hangs_holds_no_stop(tmp_path: Path) -> None:
    """The start's check of ``hung`` never answers: a stop ends sesd at once (nothing to
    drain, no state file), the check given up with the rest of the daemon's tasks, none
    left running. The grace period is a minute: a check that held the stop shows as a
    stop of a minute, not as one of a second told from a loaded machine's slow stop."""
    path = tmp_path / "sesd.toml"
    async with CheckedSqs() as sqs:
        path.write_text(_config(sqs, "hung", grace="1m"))
        with anyio.fail_after(20):
            async with running(load_config(str(path)), config_path=path):
                await sqs.hanging.wait()
                stopped = anyio.current_time()
        took = anyio.current_time() - stopped
    assert took < 10.0
    assert sqs.checks == 1
