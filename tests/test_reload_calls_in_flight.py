"""Calls in flight when a reload removes or moves what made them: each ends on the
client it began on (a reload closes a client it retired once nothing holds it), and
what it answers then is the old place's word, not the config in force's: it marks
no queue failing and counts no canary lost."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from aiohttp import web

from sesd.commands.demo.localhttp import LocalServer
from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import load_config
from tests import factory
from tests.conftest import log_records, make_queue, running, sesd_logs
from tests.fake_ses import FakeSes, Reply
from tests.test_aws_clients import CANARY, _config, _pool_open

#: The SDK's pauses before its retries cut short: these tests count the retries and
#: read what they end in, not how long they waited (conftest.quick_sdk_retries).
pytestmark = pytest.mark.usefixtures("quick_sdk_retries")

_KIND = "application/x-amz-json-1.0"


class Standing(LocalServer):
    """An SQS stand-in (its JSON protocol) for queues ``old`` and ``new``: each call
    of queue ``old`` waits until its event is set (GetQueueAttributes: ``answer``, then
    a 500 the first time, a redrive policy after; its first receive: ``receives``, then
    ``messages``, or, with ``deny`` set, a refusal; a later one: until the server
    closes). Its deletes fail as ``deleting`` says, in turn (the last again after): by
    default a 500 (which the SDK asks again), then each message failed, then a
    refusal; its releases are refused. Queue ``new``'s first receive
    answers at once, with nothing; every other call waits until the server closes,
    then answers nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"
        self.checking = anyio.Event()
        self.answer = anyio.Event()
        self.receiving = anyio.Event()
        self.receives = anyio.Event()
        self.deny = False
        self.messages: list[dict[str, Any]] = []
        self.checks = 0
        self.old_receives = 0
        #: How old's deletes are answered (:meth:`_delete`), in turn.
        self.deleting: tuple[str, ...] = ("InternalError", "Failed", "AccessDenied")
        #: How old's releases are answered: ``Released``, done; ``Hold``, not until the
        #: server closes; else refused.
        self.releasing = "AccessDenied"
        #: The statuses old's deletes were answered with.
        self.deletes: list[int] = []
        self.releases = 0
        self._new = 0
        self._closed = anyio.Event()

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/", self._answer)

    def close(self) -> None:
        self.answer.set()
        self.receives.set()
        self._closed.set()

    async def _answer(self, request: web.Request) -> web.Response:
        operation = request.headers.get("X-Amz-Target", "").rpartition(".")[2]
        asked = json.loads(await request.read())
        queue = asked["QueueUrl"].rpartition("/")[2]
        body: dict[str, Any] = {}
        if (queue, operation) == ("old", "GetQueueAttributes"):
            self.checking.set()
            await self.answer.wait()
            self.checks += 1
            if self.checks == 1:  # a passing error: the SDK asks again
                body = {"__type": "InternalError", "message": "We encountered an internal error."}
                return web.json_response(body, status=500, content_type=_KIND)
            policy = {"deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:dlq"}
            body = {"Attributes": {"RedrivePolicy": json.dumps(policy)}}
        elif (queue, operation) == ("old", "ReceiveMessage"):
            self.old_receives += 1
            if self.old_receives > 1:  # a reload's new pollers': the first is the test's
                await self._closed.wait()
                return web.json_response(body, content_type=_KIND)
            self.receiving.set()
            await self.receives.wait()
            if self.deny:
                return self._refused()
            body = {"Messages": self.messages}
        elif (queue, operation) == ("old", "DeleteMessageBatch"):
            return self._delete(asked["Entries"])
        elif (queue, operation) == ("old", "ChangeMessageVisibilityBatch"):
            self.releases += 1
            if self.releasing == "Hold":
                await self._closed.wait()
            elif self.releasing != "Released":
                return self._refused()
            else:  # as SQS answers: each entry named
                body = {"Successful": [{"Id": e["Id"]} for e in asked["Entries"]], "Failed": []}
        elif (queue, operation) == ("new", "ReceiveMessage") and not self._new:
            self._new += 1
        else:
            await self._closed.wait()
        return web.json_response(body, content_type=_KIND)

    def _delete(self, entries: list[dict[str, Any]]) -> web.Response:
        """Old's delete, as ``deleting`` has it next: ``Deleted``, done; ``Failed``, each
        message failed (SQS's fault); ``AccessDenied``, a refusal; ``InternalError``, a
        500; another code, a 400 of that code."""
        answer = self.deleting[min(len(self.deletes), len(self.deleting) - 1)]
        statuses = {"Deleted": 200, "Failed": 200, "AccessDenied": 400, "InternalError": 500}
        status = statuses.get(answer, 400)
        self.deletes.append(status)
        body: dict[str, Any] = {"__type": answer, "message": "We could not delete."}
        if answer == "Deleted":
            body = {"Successful": [{"Id": entry["Id"]} for entry in entries], "Failed": []}
        elif answer == "Failed":
            failed = [
                {"Id": entry["Id"], "SenderFault": False, "Code": "InternalError"}
                for entry in entries
            ]
            body = {"Successful": [], "Failed": failed}
        elif answer == "AccessDenied":
            return self._refused()
        return web.json_response(body, status=status, content_type=_KIND)

    def _refused(self) -> web.Response:
        body = {"__type": "com.amazon.coral.service#AccessDeniedException"}
        headers = {"x-amzn-query-error": "AccessDenied;Sender"}
        return web.json_response(body, status=400, headers=headers, content_type=_KIND)


async def _until(condition: Callable[[], bool]) -> None:
    """Wait for ``condition``, which no notice of the daemon's follows (a queue's
    pollers stopped after their last receive's, a client closed)."""
    with anyio.fail_after(20):
        while not condition():
            await anyio.lowlevel.checkpoint()


def _logged(logs: io.StringIO, event: str) -> list[dict[str, Any]]:
    return [line for line in log_records(logs) if line["event"] == event]


def _config_at(sqs: Standing, *queues: str, grace: str = "1s") -> str:
    """A config whose SQS is ``sqs``, with ``queues`` (each a [[queues]] entry's keys)."""
    return (
        f'[aws]\nendpoint_url = "{sqs.url}"\nregion = "us-east-1"\n'
        f'[http]\nlisten = "127.0.0.1:0"\n[shutdown]\ngrace_period = "{grace}"\n'
    ) + "".join(f"[[queues]]\n{keys}" for keys in queues)


#: Queue ``kept`` of :class:`Standing`, and ``old`` in another region (clients of its own).
_KEPT = 'url = "{url}/123456789012/kept"\nname = "kept"\n'
_OLD = 'url = "{url}/123456789012/old"\nname = "q"\nregion = "eu-west-1"\nwait_time_seconds = 1\n'


async def test_a_queues_check_in_flight_keeps_its_client_until_it_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Queue ``q``'s start-up check (GetQueueAttributes, its redrive policy) is under
    way when a reload removes ``q``; its poller ends its receive and stops. SQS answers
    the check with a 500, which the SDK asks again. The check's client stays open until
    the check has its answer, then closes (closed under it, the retry failed, "'NoneType'
    object has no attribute 'get'", and the check warned that the queue's attributes
    could not be read)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    logs = sesd_logs("info")
    path = tmp_path / "sesd.toml"
    async with Standing() as sqs:
        kept = _KEPT.format(url=sqs.url)
        path.write_text(_config_at(sqs, kept, _OLD.format(url=sqs.url)))
        async with running(load_config(str(path)), config_path=path) as daemon:
            with anyio.fail_after(20):
                await sqs.checking.wait()
                await sqs.receiving.wait()
            checked = daemon.sqs(daemon.config.queues[1])
            path.write_text(_config_at(sqs, kept))
            assert await daemon.reload()
            sqs.receives.set()
            await _until(lambda: "sesd.queue.stopped" in logs.getvalue())
            assert _pool_open(checked)
            sqs.answer.set()
            await _until(lambda: not _pool_open(checked))
    assert sqs.checks == 2
    assert _logged(logs, "sesd.sqs.attributes_failed") == []


async def test_a_refusal_at_a_moved_queues_old_place_leaves_it_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Queue ``q``'s receive waits in eu-west-1 when a reload moves ``q`` to another
    queue in us-east-1, whose first receive answers. Then the old queue refuses the
    receive still out there (AccessDenied: why ``q`` was moved). That refusal is the old
    place's: ``q`` is not failing and /readyz stays ready (it was marked failing, not
    ready until its next receive answered, up to a long poll later, alert resolves
    held meanwhile), and no ``queue_unusable`` is logged of a queue that reads."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    logs = sesd_logs("info")
    path = tmp_path / "sesd.toml"
    async with Standing() as sqs:
        path.write_text(_config_at(sqs, _OLD.format(url=sqs.url)))
        async with running(load_config(str(path)), config_path=path) as daemon:
            with anyio.fail_after(20):
                await sqs.receiving.wait()
            path.write_text(_config_at(sqs, f'url = "{sqs.url}/123456789012/new"\nname = "q"\n'))
            assert await daemon.reload()

            def ready() -> bool:
                return daemon.health.ready(daemon.monotonic())[0]

            with anyio.fail_after(20):
                await daemon.changes.wait_for(ready)
            sqs.deny = True
            sqs.receives.set()
            await _until(lambda: "sesd.queue.stopped" in logs.getvalue())
            assert daemon.health.failing == set()
            assert ready()
    assert _logged(logs, "sesd.sqs.queue_unusable") == []
    (refused,) = _logged(logs, "sesd.sqs.receive_failed")
    assert refused["retired"] is True


async def test_a_refusal_of_the_canarys_old_endpoint_is_no_lost_canary(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """A reload moves the canary while its SendEmail waits at the old endpoint, which
    then refuses it (403: why it was moved). That refusal is the old endpoint's: no
    failed canary is counted (it counted as a missing canary at once, and paged
    ``canary_missing`` while the endpoint in force sends), and none is warned of."""
    logs = sesd_logs("info")
    url, _ = await make_queue(sqs)
    path = tmp_path / "sesd.toml"
    async with FakeSes() as old, FakeSes() as new:
        old.script(Reply(status=403, hold=True))
        path.write_text(_config(local_sqs, url, extra=CANARY + f'endpoint_url = "{old.url}"\n'))
        async with running(load_config(str(path)), config_path=path) as daemon:
            with anyio.fail_after(10):
                await old.wait_for(lambda ses: ses.held == 1)
            assert daemon.canary.sender is not None
            before = daemon.canary.sender.ses
            path.write_text(_config(local_sqs, url, extra=CANARY + f'endpoint_url = "{new.url}"\n'))
            assert await daemon.reload()
            old.release()
            with anyio.fail_after(10):
                await daemon.changes.wait_for(lambda: not _pool_open(before))
            tracker = daemon.ledger.canary
            assert tracker.errors == {}
            assert tracker.overdue_count(daemon.clock()) == 0
    assert old.answered == [403]
    assert [line.get("retired") for line in _logged(logs, "sesd.canary.send_failed")] == [True]


def _queue_samples(daemon: Any, name: str, queue: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples of ``name`` (a queue's SQS series) for ``queue``, by their labels."""
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in daemon.metrics.registry.collect()
        for sample in family.samples
        if sample.name == name and sample.labels.get("queue") == queue
    }


#: A queue's SQS series, which the last batch of its old pollers may count on.
SQS_SERIES = (
    "sesd_sqs_messages_received_total",
    "sesd_sqs_errors_total",
    "sesd_sqs_retries_total",
)


async def reloaded_mid_receive(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    after: Callable[[Standing], str],
    names: tuple[str, ...],
    *,
    grace: str = "1s",
    message: bool = False,
    body: str = "",
    deny: bool = False,
    deleting: tuple[str, ...] = (),
    releasing: str = "AccessDenied",
    before: Callable[[Standing], str] = lambda sqs: _OLD.format(url=sqs.url),
) -> tuple[Standing, io.StringIO, dict[str, dict[tuple[tuple[str, str], ...], float]]]:
    """Queue ``q`` (``_OLD``, in eu-west-1, or as ``before`` has it) read at a
    :class:`Standing`; a reload to the queue keys ``after`` gives while its receive
    waits; then that receive answers: a refusal (``deny``), one message (``message``:
    its delete answered as the stand-in does, or as ``deleting`` says, its release as
    ``releasing`` says; a delivery's event, or ``body``), or nothing. Once the old
    pollers stopped: the stand-in, the logs, and the samples of ``q``'s series
    ``names``, by name. The stand-in lets what it holds of the pollers in force go
    before the stop, not after: their receive would hold the stop until its grace
    period ended (30 s a test)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    logs = sesd_logs("info")
    path = tmp_path / "sesd.toml"
    async with Standing() as sqs:
        sqs.deleting = deleting or sqs.deleting
        sqs.releasing = releasing
        if message:
            body = body or factory.sns(factory.delivery(["a@example.com"]))
            sqs.messages = [{"MessageId": "m-1", "ReceiptHandle": "r-1", "Body": body}]
        path.write_text(_config_at(sqs, before(sqs), grace=grace))
        async with running(load_config(str(path)), config_path=path) as daemon:
            with anyio.fail_after(20):
                await sqs.receiving.wait()
            path.write_text(_config_at(sqs, after(sqs), grace=grace))
            assert await daemon.reload()
            sqs.deny = deny
            sqs.receives.set()
            await _until(lambda: "sesd.queue.stopped" in logs.getvalue())
            samples = {name: _queue_samples(daemon, name, "q") for name in names}
            sqs.close()
    return sqs, logs, samples


def _moved(sqs: Standing) -> str:
    """``q`` moved to another queue, in us-east-1."""
    return f'url = "{sqs.url}/123456789012/new"\nname = "q"\n'


async def test_a_refusal_at_a_moved_queues_old_place_is_not_counted_as_its_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As above, ``q`` moved from eu-west-1 to us-east-1 while a receive waits at the
    old place, which then refuses it. The refusal is the old place's: the queue in
    force counts no receive error (it was counted on ``q``'s us-east-1 series, which a
    dashboard, an error-rate rule and the status page's "lately" read as the queue
    in force failing), and the old place's series, dropped at the reload, stays gone."""
    _, logs, samples = await reloaded_mid_receive(
        tmp_path, monkeypatch, _moved, ("sesd_sqs_errors_total",), deny=True
    )
    errors = samples["sesd_sqs_errors_total"]
    assert errors, "the queue in force has its series"
    assert {dict(labels)["region"] for labels in errors} == {"us-east-1"}
    assert set(errors.values()) == {0.0}
    (refused,) = _logged(logs, "sesd.sqs.receive_failed")
    assert refused["retired"] is True


async def test_a_refusal_at_a_removed_queue_leaves_no_series_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reload removes ``q`` while its receive waits; then SQS refuses that receive.
    ``q``'s series, dropped at the reload, stay gone (the refusal brought back
    ``sesd_sqs_errors_total{queue="q"}``: a ghost queue a dashboard read for as long
    as sesd ran)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    logs = sesd_logs("info")
    path = tmp_path / "sesd.toml"
    async with Standing() as sqs:
        kept = _KEPT.format(url=sqs.url)
        path.write_text(_config_at(sqs, kept, _OLD.format(url=sqs.url)))
        async with running(load_config(str(path)), config_path=path) as daemon:
            with anyio.fail_after(20):
                await sqs.receiving.wait()
            path.write_text(_config_at(sqs, kept))
            assert await daemon.reload()
            assert _queue_samples(daemon, "sesd_sqs_errors_total", "q") == {}
            sqs.deny = True
            sqs.receives.set()
            await _until(lambda: "sesd.queue.stopped" in logs.getvalue())
            for name in SQS_SERIES:
                assert _queue_samples(daemon, name, "q") == {}, name
    (refused,) = _logged(logs, "sesd.sqs.receive_failed")
    assert refused["retired"] is True


async def test_a_removed_queues_last_batch_at_its_old_place_leaves_no_series_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As above, but the receive brings a message, whose delete then fails (a 500 the
    SDK asks again, the message failed, a refusal). Neither that receipt nor those
    errors nor that retry bring back a series of ``q`` (a refusal alone received
    nothing: ``sesd_sqs_messages_received_total`` had nothing to count there)."""
    sqs, _, series = await reloaded_mid_receive(
        tmp_path, monkeypatch, lambda sqs: _KEPT.format(url=sqs.url), SQS_SERIES,
        grace="30s", message=True,
    )  # fmt: skip
    assert sqs.deletes == [500, 200, 400]
    assert series == {name: {} for name in SQS_SERIES}


async def test_a_moved_queues_last_batch_at_its_old_place_counts_on_no_sqs_series(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``q`` moves from eu-west-1 to us-east-1 while a receive waits at the old place,
    which then brings a message and fails its delete (a 500 the SDK asks again, the
    message failed, a refusal). The event is processed (``sesd_messages_total``), but
    the old place's receipt, delete errors and retries count on none of ``q``'s SQS
    series: they were counted on its us-east-1 ones, where a dashboard, an error-rate
    rule and the status page's "lately" read the queue in force as failing, and its
    received count as messages the new place gave."""
    # A grace period the SDK's backoff cannot outlast: the batch is handled, not
    # released, whatever the host's load.
    sqs, _, series = await reloaded_mid_receive(
        tmp_path, monkeypatch, _moved, ("sesd_messages_total", *SQS_SERIES),
        grace="30s", message=True,
    )  # fmt: skip
    handled = series.pop("sesd_messages_total")
    assert sqs.deletes == [500, 200, 400]
    assert sum(handled.values()) == 1
    for name, samples in series.items():
        assert samples, f"the queue in force has its {name} series"
        assert {dict(labels)["region"] for labels in samples} == {"us-east-1"}, name
    counted = {name: sum(samples.values()) for name, samples in series.items()}
    assert counted == dict.fromkeys(series, 0.0)


async def test_a_moved_queues_release_refused_at_its_old_place_counts_no_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As above, with no grace period: the old place's receive answers a message after
    its poller was cancelled, and the release that gives it back is refused. No
    ``release`` error counts on ``q``'s series (it did, on its us-east-1 one)."""
    sqs, _, samples = await reloaded_mid_receive(
        tmp_path, monkeypatch, _moved, ("sesd_sqs_errors_total",), grace="0s", message=True
    )
    errors = samples["sesd_sqs_errors_total"]
    assert (sqs.releases, sqs.deletes) == (1, [])
    assert {dict(labels)["region"] for labels in errors} == {"us-east-1"}
    counted = {dict(labels)["operation"]: value for labels, value in errors.items()}
    assert counted == dict.fromkeys(("receive", "delete", "release", "process"), 0.0)
