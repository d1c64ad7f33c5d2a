"""A GetAccount answer not of SES's shape (an endpoint that is not quite SES's:
botocore checks no member's type) is a failed poll, counted and logged, or a word
left out: never the account poller's end. Raised, it failed the account poll task
(``sesd_task_failures_total{task="account_poll"}``), started again 10 s later to ask
every account again, at every round. The fake SESv2 endpoint, its answers parsed by
botocore."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import anyio
import pytest
from aiohttp import web

from sesd.account import flags
from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.io.sdk_blame import sesds_own
from tests.conftest import log_records, sesd_logs
from tests.fake_ses import FakeSes, healthy_account
from tests.test_account_health import TARGET, _poller
from tests.test_sts_unreadable import _BUGS

#: Answers whose text member is no text: read as left out, the rest read.
NOT_TEXT: dict[str, dict[str, Any]] = {
    "enforcement-a-number": {"EnforcementStatus": 5},
    "enforcement-a-list": {"EnforcementStatus": ["PROBATION"]},
}
#: Answers the SDK's parser raises on: a failed poll.
UNREAD: dict[str, dict[str, Any]] = {
    "quota-a-word": {"SendQuota": "plenty"},
    "quota-figure-a-word": {"SendQuota": {"Max24HourSend": "lots", "SentLast24Hours": 1.0}},
    # A whole number past any float's range: the parser's float() raises OverflowError.
    "quota-figure-past-a-float": {"SendQuota": {"Max24HourSend": 10**400, "SentLast24Hours": 1}},
    # Figures the parser's float() reads as no finite number ("NaN", "Infinity", as the
    # JSON protocols write a double that is none): read as figures, a NaN quota used
    # crossed no rule's threshold and an infinite quota read as 0% used.
    "quota-figure-nan": {"SendQuota": {"Max24HourSend": "NaN", "SentLast24Hours": 1.0}},
    "quota-figure-infinite": {"SendQuota": {"Max24HourSend": "Infinity", "SentLast24Hours": 1}},
    "quota-sent-nan": {"SendQuota": {"Max24HourSend": 50000.0, "SentLast24Hours": "nan"}},
    "quota-rate-minus-infinity": {"SendQuota": {"MaxSendRate": "-Infinity"}},
    # A flag that is no boolean: botocore's parser reads any but true (or "true") as
    # False, and sending read as not enabled paged a pause SES never said.
    "sending-a-number": {"SendingEnabled": 1},
    "sending-a-word": {"SendingEnabled": "yes"},
    "sending-a-list": {"SendingEnabled": [True]},
    "production-a-number": {"ProductionAccessEnabled": 1},
    # A quota figure that is a boolean: the parser's float() reads true as 1 and false
    # as 0, so a quota of "true" read 1200 sent as 120000% used and paged.
    "quota-figure-true": {"SendQuota": {"Max24HourSend": True, "SentLast24Hours": 1200.0}},
    "quota-sent-false": {"SendQuota": {"Max24HourSend": 50000.0, "SentLast24Hours": False}},
}


@pytest.mark.parametrize("case", list(NOT_TEXT))
async def test_a_status_word_that_is_no_text_is_as_if_left_out(
    local_sqs: LocalSqs, case: str
) -> None:
    """Sending enabled, the quota read; the enforcement status, no text, says nothing
    (as one left out does), and nothing fails."""
    pipeline = Pipeline(core_settings(parse_config("")))
    async with FakeSes() as fake:
        fake.account = {**healthy_account(), **NOT_TEXT[case]}
        async with _poller(fake, local_sqs, pipeline) as poller:
            with anyio.fail_after(20):
                await poller.poll_once()
    status = pipeline.ledger.accounts.status[TARGET]
    assert (status.sending_enabled, status.enforcement, status.max_24h) == (True, None, 50000.0)
    assert not pipeline.ledger.accounts.errors


@pytest.mark.parametrize("case", list(UNREAD))
async def test_an_answer_the_sdk_cannot_read_is_a_failed_poll(
    local_sqs: LocalSqs, case: str
) -> None:
    """The quota (an object of figures) is a word, or one figure is: botocore raised out
    of the call. It is a failed poll: counted under ``UnreadableAnswer``, logged with
    a hint naming the endpoint; what SES last said stands."""
    logs = sesd_logs("info")
    pipeline = Pipeline(core_settings(parse_config("")))
    async with FakeSes() as fake, _poller(fake, local_sqs, pipeline) as poller:
        with anyio.fail_after(20):
            await poller.poll_once()
        fake.account = {**healthy_account(), **UNREAD[case]}
        with anyio.fail_after(20):
            await poller.poll_once()
    accounts = pipeline.ledger.accounts
    assert accounts.errors == {(*TARGET, "get_account", "UnreadableAnswer"): 1}
    assert accounts.status[TARGET].max_24h == 50000.0
    assert accounts.status[TARGET].sending_enabled is True
    said = [r for r in log_records(logs)
            if r["event"] == "sesd.account.poll_failed"]  # fmt: skip
    assert [(r["api"], r["error"]) for r in said] == [("get_account", "UnreadableAnswer")]
    assert "endpoint_url" in said[0]["hint"]


async def test_a_quota_figure_left_out_says_nothing(local_sqs: LocalSqs) -> None:
    """A quota that gives its rate alone (every member of SES's answer is optional):
    the rate is read, and the 24-hour quota and sends stand as SES last said them, as a
    flag left out does; read as none, the quota used went blank and its alert resolved."""
    pipeline = Pipeline(core_settings(parse_config("")))
    async with FakeSes() as fake, _poller(fake, local_sqs, pipeline) as poller:
        with anyio.fail_after(20):
            await poller.poll_once()
        fake.account = {**healthy_account(), "SendQuota": {"MaxSendRate": 20.0}}
        with anyio.fail_after(20):
            await poller.poll_once()
    status = pipeline.ledger.accounts.status[TARGET]
    assert (status.max_24h, status.sent_24h, status.max_rate) == (50000.0, 1200.0, 20.0)
    assert status.quota_used_ratio == 1200.0 / 50000.0
    assert not pipeline.ledger.accounts.errors


@pytest.mark.parametrize("word", ["false", "False"])
async def test_a_flag_written_as_its_word_reads_as_meant(local_sqs: LocalSqs, word: str) -> None:
    """``SendingEnabled`` as the word (in any case) is no other value: botocore's parser
    reads it as meant, a pause said so; not an unreadable answer."""
    pipeline = Pipeline(core_settings(parse_config("")))
    async with FakeSes() as fake:
        fake.account = {**healthy_account(), "SendingEnabled": word}
        async with _poller(fake, local_sqs, pipeline) as poller:
            with anyio.fail_after(20):
                await poller.poll_once()
    assert pipeline.ledger.accounts.status[TARGET].sending_enabled is False
    assert not pipeline.ledger.accounts.errors


@pytest.mark.parametrize("bug", list(_BUGS), ids=lambda bug: bug.__name__)
async def test_a_bug_of_sesds_own_hook_on_the_answer_is_sesds_fault(
    local_sqs: LocalSqs, bug: type[BaseException], monkeypatch: pytest.MonkeyPatch
) -> None:
    """sesd's own hook on GetAccount's answer (sesd.account.flags) slips, raising what
    the SDK's parser raises on an answer of another shape: a fault of sesd's, raised
    out of the round for the account poll task's supervisor to count and log with its
    traceback; not a failed poll counted as ``UnreadableAnswer``, its hint sending the
    operator to an endpoint that answered well, asked again at every round."""
    slip = _BUGS[bug]

    class Read(dict[str, Any]):
        """The answer as the hook reads it, its every look-up the slip."""

        def get(self, *_: Any) -> Any:
            return slip(0)

    monkeypatch.setattr(flags, "json", SimpleNamespace(loads=lambda body: Read()))
    pipeline = Pipeline(core_settings(parse_config("")))
    async with FakeSes() as fake, _poller(fake, local_sqs, pipeline) as poller:
        with anyio.fail_after(20), pytest.raises(ExceptionGroup) as raised:
            await poller.poll_once()
    (fault,) = raised.value.exceptions
    assert isinstance(fault, bug)
    assert sesds_own(fault)
    assert not pipeline.ledger.accounts.errors


#: An answer of SES's shape, sending paused: read, it would be told.
_PAUSED = '{"SendingEnabled": false, "ProductionAccessEnabled": true}'
#: Answers that are no JSON SES could give, by status and type: nested deeper than
#: JSON's loader goes (it raises RecursionError), or no JSON at all (a captive proxy's
#: page, which the SDK read as an answer saying nothing), or JSON not in UTF-8, the only
#: encoding the SDK's parser reads (a stand-in's, with a byte-order mark or in UTF-16):
#: Python's loader takes those, the parser read them as an answer saying nothing.
RAW: dict[str, tuple[int, str | bytes, str]] = {
    "nested-200": (200, '{"SendQuota": ' * 5000 + "{}" + "}" * 5000, "application/json"),
    "nested-500": (500, "[" * 5000 + "]" * 5000, "application/json"),
    "login-page": (200, "<html>Log in</html>", "text/html"),
    "text-as-json": (200, "Service Unavailable", "application/json"),
    "json-with-bom": (200, "\ufeff" + _PAUSED, "application/json"),
    "json-in-utf-16": (200, _PAUSED.encode("utf-16-le"), "application/json"),
}


class RawSes(FakeSes):
    """Answers GetAccount with :attr:`raw` (a status, a body and its type), once set."""

    raw: tuple[int, str | bytes, str] | None = None

    async def _get_account(self, request: web.Request) -> web.Response:
        if self.raw is None:
            return await super()._get_account(request)
        status, body, kind = self.raw
        if isinstance(body, bytes):
            return web.Response(body=body, status=status, content_type=kind)
        return web.Response(text=body, status=status, content_type=kind)


@pytest.mark.parametrize("case", list(RAW))
async def test_an_answer_that_is_no_ses_json_is_a_failed_poll(
    local_sqs: LocalSqs, case: str
) -> None:
    """GetAccount answered with JSON nested 5,000 deep, which the SDK's loader (and
    sesd's check of the flags before it) gives up on with RecursionError, or with a
    page that is no JSON, or JSON the SDK does not read (not UTF-8): a failed poll,
    counted under ``UnreadableAnswer``, what SES last said standing. Nested, it was a
    fault that failed the account poll task at every round; a page, or JSON with a
    byte-order mark, an answer that said nothing, the account taken as polled."""
    pipeline = Pipeline(core_settings(parse_config("")))
    async with RawSes() as fake, _poller(fake, local_sqs, pipeline) as poller:
        with anyio.fail_after(20):
            await poller.poll_once()
        fake.raw = RAW[case]
        with anyio.fail_after(20):
            await poller.poll_once()
    accounts = pipeline.ledger.accounts
    assert accounts.errors == {(*TARGET, "get_account", "UnreadableAnswer"): 1}
    assert accounts.status[TARGET].sending_enabled is True
