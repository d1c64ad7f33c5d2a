"""``sesd setup`` where it meets what it did not make: a region stopped part-way (it
says what it made there), a queue policy with statements of the user's."""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
import uuid
from types import SimpleNamespace
from typing import Any

import aiohttp
import anyio
import pytest
from aiobotocore.session import get_session
from aiohttp import web

from sesd.commands.demo.localhttp import LocalServer
from sesd.commands.demo.localsqs import LocalSqs
from sesd.commands.main import main
from sesd.commands.provision import SetupOptions, run_setup
from sesd.commands.setup_plan import aws_command
from sesd.commands.sns_access import denials, queue_policy
from tests.conftest import aws_client

#: What SES answers a call the caller's IAM policy does not allow.
_DENIED = (
    '<ErrorResponse xmlns="http://ses.amazonaws.com/doc/2010-12-01/"><Error>'
    "<Type>Sender</Type><Code>AccessDenied</Code><Message>User: "
    "arn:aws:iam::123456789012:user/ci is not authorized to perform: "
    "ses:CreateConfigurationSet</Message></Error><RequestId>r</RequestId></ErrorResponse>"
)


def _action(request: web.Request, body: bytes) -> str:
    """The IAM action of a call: SQS's JSON protocol names it in X-Amz-Target, SNS's and
    SES's query protocol in the form's Action; the service is the one that signed it."""
    service = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([a-z]+)/", request.headers["Authorization"])
    assert service is not None
    target = request.headers.get("X-Amz-Target", "")
    if target:
        return f"{service.group(1)}:{target.rsplit('.', 1)[1]}"
    action = re.search(rb"(?:^|&)Action=([A-Za-z]+)", body)
    assert action is not None
    return f"{service.group(1)}:{action.group(1).decode()}"


async def passed_on(request: web.Request, upstream: str, body: bytes) -> web.Response:
    """``request`` (its ``body`` read) asked of ``upstream`` as it came, and its answer
    handed back, headers and all but the framing aiohttp sets again."""
    headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            request.method, upstream + request.path_qs, data=body, headers=headers
        ) as answer,
    ):
        framing = {"content-length", "transfer-encoding", "content-encoding", "connection"}
        passed = {k: v for k, v in answer.headers.items() if k.lower() not in framing}
        return web.Response(status=answer.status, body=await answer.read(), headers=passed)


class SesDenied(LocalServer):
    """moto's server behind an IAM policy that allows SNS and SQS but not SES's
    ``CreateConfigurationSet`` (while ``denying``), or another query-protocol
    ``action`` (refused with ``code``: SNS says AuthorizationError): every other call
    is passed on. With ``hanging``, that call (of any protocol) is never answered
    instead (``asked`` is set when it comes), and with ``acting`` too, it is passed on
    first: AWS made it, its answer lost. ``actions`` names each call made, as IAM does
    (``sqs:CreateQueue``)."""

    def __init__(
        self, upstream: str, action: str = "CreateConfigurationSet", code: str = "AccessDenied"
    ) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"
        self.denying = True
        self.hanging = False
        self.acting = False
        self.asked = anyio.Event()
        self.actions: set[str] = set()
        self._upstream = upstream
        self._denied = action
        self._refusal = _DENIED.replace("ses:CreateConfigurationSet", action).replace(
            "AccessDenied", code
        )

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._forward)

    async def _forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        action = _action(request, body)
        self.actions.add(action)
        if self.denying and action.split(":")[1] == self._denied:
            if self.hanging:
                if self.acting:
                    await passed_on(request, self._upstream, body)
                self.asked.set()
                await anyio.sleep_forever()
            return web.Response(status=403, text=self._refusal, content_type="text/xml")
        return await passed_on(request, self._upstream, body)


async def _setup(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``sesd setup ARGS`` by sesd's ``main()``, in a thread of its own (its own event
    loop) while this loop serves the endpoint: no interpreter starts (half a second of
    CPU each). Its exit status, standard output and standard error."""
    capsys.readouterr()
    code = await anyio.to_thread.run_sync(main, ["setup", *args])
    return code, *capsys.readouterr()


async def aws(line: str) -> Any:
    """The AWS CLI's command ``line`` (``aws SERVICE OPERATION --name value ...``), as
    the CLI calls it: the operation and its parameters in the SDK's names, JSON ones
    read; its answer, or what its ``--query`` (JMESPath) takes of it."""
    import jmespath  # type: ignore[import-untyped]

    aws, service, operation, *rest = shlex.split(line)
    assert aws == "aws"
    options = dict(zip(rest[::2], rest[1::2], strict=True))
    where = {"region_name": options.pop("--region"), "endpoint_url": options.pop("--endpoint-url")}
    query = options.pop("--query", None)
    assert options.pop("--output", "text") == "text"
    params: dict[str, Any] = {
        "".join(word.capitalize() for word in key[2:].split("-")): value
        for key, value in options.items()
    }
    for key in ("Attributes", "EventDestination"):
        if key in params:
            params[key] = json.loads(params[key])
    async with get_session().create_client(service, **where) as client:  # type: ignore[call-overload]
        answer = await getattr(client, operation.replace("-", "_"))(**params)
    return jmespath.search(query, answer) if query else answer


@pytest.mark.parametrize("then", ["finish", "undo"])
async def test_a_region_stopped_part_way_says_what_it_made(
    local_sqs: LocalSqs,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    then: str,
) -> None:
    """SES refuses the configuration set after the topic, the queues and the
    subscription were made: stdout lists what was made in that region before the one
    line that says what failed (exit 1), so the user knows what now exists; a second
    run, allowed, finds those and makes only the rest. Or, for a user who would not
    finish it (the wrong account), it lists the AWS CLI's commands that undo what was
    made, the newest first: run, they leave nothing of it."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    name = f"p{uuid.uuid4().hex[:8]}"
    async with SesDenied(local_sqs.url) as denied:
        command = ["--name", name, "--endpoint-url", denied.url]
        code, out, err = await _setup(capsys, *command)
        assert code == 1
        for kind in ("SNS topic", "SQS dead-letter queue", "SQS queue", "SNS subscription"):
            assert re.search(rf"^created +{kind}", out, re.M), err
        assert "SES configuration set" not in out
        assert "[[queues]]" not in out  # not a block to paste: the region is not done
        header = "# us-east-1: stopped part-way; done so far (setup again finishes it, once "
        assert header + "allowed):\n" in out
        (line,) = err.splitlines()
        assert line.startswith("sesd: setup failed in us-east-1: ClientError: ")
        assert "AccessDenied" in line
        undoing = "\n# or, to undo what this run changed (the newest first):\n"
        commands = out.partition(undoing)[2].splitlines()
        assert [c.split()[1:3] for c in commands] == [
            ["sns", "unsubscribe"],
            ["sqs", "set-queue-attributes"],  # the queue's policy, as it was: none
            ["sqs", "delete-queue"],
            ["sqs", "delete-queue"],
            ["sns", "delete-topic"],
        ]
        if then == "undo":
            for command_line in commands:
                await aws(command_line)
        else:
            denied.denying = False
        code, out, err = await _setup(capsys, *command)
    if then == "undo":
        assert code == 1  # made again from nothing: the topic, queues, subscription
        made = re.findall(r"^created +(.+?)  ", out, re.M)
        assert made == [
            "SNS topic",
            "SQS dead-letter queue",
            "SQS queue",
            "SQS queue policy",
            "SNS subscription (raw)",
        ]
        return
    assert code == 0, err
    made = re.findall(r"^created +(.+?)  ", out, re.M)
    assert made == ["SES configuration set", "SES event destination (SNS)"]


def test_an_undo_line_reads_alike_in_a_posix_shell_and_in_fish() -> None:
    """A queue policy of the user's, restored by an undo line, holds a backslash (a
    JSON escape), a single quote, ``$``, a backtick and ``!``. Single-quoted whole, the
    line read right in sh, bash and zsh, but fish takes ``\\\\`` within single quotes
    for one backslash: the policy put back was another. sh reads the line's words as
    given; and every backslash and single quote stands outside the quotes, escaped,
    where fish reads them as sh does (within them, nothing fish or sh would change). So
    does the line that lists a subscription's ARN: its query's quotes and brackets."""
    import subprocess

    policy = json.dumps({"Statement": [{"Sid": "it's $HOME `id` !1", "Resource": "a\\b"}]})
    restore = ("sqs", "set-queue-attributes", "--queue-url", "http://h:1/1/q", "--attributes",
               json.dumps({"Policy": policy}))  # fmt: skip
    listing = ("sns", "list-subscriptions-by-topic", "--topic-arn", "arn:aws:sns:eu-west-1:1:t",
               "--query", "Subscriptions[?Endpoint=='arn:aws:sqs:eu-west-1:1:q'].SubscriptionArn",
               "--output", "text")  # fmt: skip
    for argv in (restore, listing):
        line = aws_command(argv, "eu-west-1", "http://127.0.0.1:4566")
        said = subprocess.run(
            ["sh", "-c", f"printf '%s\\n' {line}"], capture_output=True, check=True, text=True
        ).stdout
        words = ["aws", *argv, "--region", "eu-west-1", "--endpoint-url", "http://127.0.0.1:4566"]
        assert said.splitlines() == words
        word = r"(?:[\w@%+=:,./-]|'[^'\\]*'|\\[\\'])+"
        assert re.fullmatch(rf"{word}(?: {word})*", line, re.ASCII), line


#: The topic setup sends SES's events through, in account 1.
_TOPIC = "arn:aws:sns:us-east-1:1:sesd-events"
#: Another topic of the account.
_ELSEWHERE = "arn:aws:sns:eu-west-1:1:other"
#: A queue policy statement of the user's that refuses everyone sending.
_ANYONE_SENDING = {"Effect": "Deny", "Principal": "*", "Action": "sqs:SendMessage"}


async def test_a_queue_policy_keeps_the_statements_sesd_did_not_write(
    local_sqs: LocalSqs, sqs: Any
) -> None:
    """The queue's policy also lets another region's topic send (SES events of two
    regions into one queue): a second run of setup finds sesd's statement and leaves
    the policy alone; with sesd's statement lost, it puts it back beside the other,
    rather than replacing the policy with its own and cutting the other region off. A
    Deny of the user's is kept too, and warned of: it wins over setup's Allow; by a dry
    run too, with the topic not made yet (it skipped the policy then)."""
    name = f"q{uuid.uuid4().hex[:8]}"
    options = SetupOptions(name=name, endpoint_url=local_sqs.url)
    first = await run_setup(options)
    assert first.queue_url is not None
    attrs = await sqs.get_queue_attributes(QueueUrl=first.queue_url, AttributeNames=["Policy"])
    policy = json.loads(attrs["Attributes"]["Policy"])
    (ours,) = policy["Statement"]
    other = {
        **ours,
        "Sid": "eu-west-1-events",
        "Condition": {"ArnEquals": {"aws:SourceArn": f"arn:aws:sns:eu-west-1:1:{name}-events"}},
    }
    freeze = {**_ANYONE_SENDING, "Sid": "freeze", "Resource": ours["Resource"]}
    policy["Statement"] += [other, freeze]
    await sqs.set_queue_attributes(
        QueueUrl=first.queue_url, Attributes={"Policy": json.dumps(policy)}
    )

    again = await run_setup(options)
    assert not again.changed, again.render()
    # The user's Deny is kept too, and said to refuse what setup's statement allows.
    (warning,) = again.warnings
    assert warning.startswith(f"queue {name}-events's policy has a Deny statement (Sid freeze)")
    # The topic gone (the queue and its policy kept): a dry run, which makes no topic,
    # reads the policy against the topic to be made, and warns alike.
    async with aws_client("sns", local_sqs) as sns:
        (topic,) = [made for _, kind, made in first.steps if kind == "SNS topic"]
        await sns.delete_topic(TopicArn=topic)
        looked = await run_setup(SetupOptions(name=name, endpoint_url=local_sqs.url, dry_run=True))
        assert looked.warnings == [warning]
        assert ("found", "SQS queue policy", f"{name}-events") in looked.steps
        await run_setup(options)  # the topic again, for what follows

    policy["Statement"] = [other]  # sesd's statement lost
    await sqs.set_queue_attributes(
        QueueUrl=first.queue_url, Attributes={"Policy": json.dumps(policy)}
    )
    repaired = await run_setup(options)
    updated = [kind for action, kind, _ in repaired.steps if action != "found"]
    assert updated == ["SQS queue policy"]
    attrs = await sqs.get_queue_attributes(QueueUrl=first.queue_url, AttributeNames=["Policy"])
    statements = json.loads(attrs["Attributes"]["Policy"])["Statement"]
    assert sorted(s["Sid"] for s in statements) == ["eu-west-1-events", "sesd-sns-send"]
    assert not (await run_setup(options)).changed


@pytest.mark.parametrize(
    ("statement", "warned"),
    [
        ({**_ANYONE_SENDING, "Sid": "freeze"}, True),
        ({"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": ["sqs:*"]}, True),
        ({"Effect": "Deny", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "*"}, True),
        (
            {"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::1:root"}, "Action": "sqs:S*"},
            True,
        ),
        ({**_ANYONE_SENDING, "NotAction": "sqs:ReceiveMessage", "Action": None}, True),
        ({**_ANYONE_SENDING, "Condition": {"StringNotEquals": {"aws:SourceAccount": "2"}}}, True),
        (
            {**_ANYONE_SENDING, "Condition": {"ArnNotEquals": {"aws:SourceArn": _ELSEWHERE}}},
            True,
        ),
        ({**_ANYONE_SENDING, "Condition": {"ArnEquals": {"aws:SourceArn": _TOPIC}}}, True),
        (
            {**_ANYONE_SENDING, "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-1"}}},
            True,
        ),
        # The statements that cannot refuse SNS: TLS only, another principal or action.
        ({**_ANYONE_SENDING, "Condition": {"Bool": {"aws:SecureTransport": False}}}, False),
        ({**_ANYONE_SENDING, "Condition": {"Bool": {"aws:securetransport": ["false"]}}}, False),
        # Nor a guard that spares setup's topic, or its account: any condition false for
        # SNS's delivery from the topic leaves the Deny out.
        ({**_ANYONE_SENDING, "Condition": {"ArnNotEquals": {"aws:SourceArn": _TOPIC}}}, False),
        (
            {
                **_ANYONE_SENDING,
                "Condition": {"ArnNotLike": {"aws:SourceArn": ["arn:x", "arn:aws:sns:*:1:*"]}},
            },
            False,
        ),
        ({**_ANYONE_SENDING, "Condition": {"StringNotEquals": {"aws:SourceAccount": "1"}}}, False),
        (
            {
                **_ANYONE_SENDING,
                "Condition": {
                    "StringNotEquals": {"aws:PrincipalOrgID": "o-1"},
                    "ArnEquals": {"aws:SourceArn": _ELSEWHERE},
                },
            },
            False,
        ),
        ({**_ANYONE_SENDING, "Principal": {"AWS": "arn:aws:iam::1:root"}}, False),
        ({**_ANYONE_SENDING, "Action": "sqs:DeleteQueue"}, False),
        ({**_ANYONE_SENDING, "Effect": "Allow"}, False),
    ],
)
def test_a_deny_in_the_queue_policy_that_may_refuse_sns_is_warned_of(
    statement: dict[str, Any], warned: bool
) -> None:
    """The user's queue policy denies sending to the queue (a freeze, a guard against
    other accounts): setup keeps the statement, and its own Allow beside it was said
    to let SNS send, though in IAM a Deny wins over any Allow and SNS would deliver
    nothing. A Deny that may take in SNS's sqs:SendMessage is warned of (its Sid
    named); one that cannot (TLS only, which SNS's delivery passes; another
    principal; another action; a condition that spares the topic, its account or
    TLS) is not: a warning at every run would tell the user to remove a guard that is
    right. (A run of setup that warns so: above.)"""
    written = {key: value for key, value in statement.items() if value is not None}
    policy = queue_policy(json.dumps({"Statement": [written]}), "arn:q", _TOPIC)
    warnings = denials(json.dumps(policy), "sesd-events", _TOPIC)
    if not warned:
        assert warnings == []
        return
    (warning,) = warnings
    sid = f"Sid {statement['Sid']}" if "Sid" in statement else "without a Sid"
    assert warning.startswith(f"queue sesd-events's policy has a Deny statement ({sid}) ")
    assert "a Deny wins over setup's Allow" in warning


async def test_the_dead_letter_queue_keeps_messages_longer_than_the_queue(
    local_sqs: LocalSqs, sqs: Any
) -> None:
    """A message's age in a standard queue's dead-letter queue counts from when it was
    first sent: with both queues at SQS's default 4 days, an event that failed after a
    3-day outage would vanish from the dead-letter queue within a day, before anyone
    looked. Setup keeps the dead-letter queue's messages SQS's longest, 14 days, puts
    that back on a dead-letter queue found without it, and then changes nothing."""
    name = f"d{uuid.uuid4().hex[:8]}"
    options = SetupOptions(name=name, endpoint_url=local_sqs.url)
    await run_setup(options)
    dlq = (await sqs.get_queue_url(QueueName=f"{name}-events-dlq"))["QueueUrl"]

    async def retention() -> str:
        found = await sqs.get_queue_attributes(
            QueueUrl=dlq, AttributeNames=["MessageRetentionPeriod"]
        )
        return str(found["Attributes"]["MessageRetentionPeriod"])

    assert await retention() == str(14 * 86400)
    await sqs.set_queue_attributes(QueueUrl=dlq, Attributes={"MessageRetentionPeriod": "345600"})
    again = await run_setup(options)
    updated = [kind for action, kind, _ in again.steps if action != "found"]
    assert updated == ["SQS dead-letter queue attributes"]
    assert await retention() == str(14 * 86400)
    assert not (await run_setup(options)).changed


async def test_readme_names_every_permission_setup_uses(
    local_sqs: LocalSqs, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every call setup makes (a dry run before anything exists, which only looks; a
    first run; a run that corrects; a dry run after) is named in README's
    "Provisioning" section as the IAM action it needs, so a policy written from it
    lets setup finish."""
    from pathlib import Path

    from sesd.commands.main import main

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    name = f"i{uuid.uuid4().hex[:8]}"

    async def setup(*extra: str) -> None:
        # In a thread of its own (its own event loop), the recorder serving on this one:
        # no interpreter starts (half a second of CPU each).
        argv = ["setup", "--name", name, "--endpoint-url", recorder.url, *extra]
        assert await anyio.to_thread.run_sync(main, argv) == 0, capsys.readouterr().err

    async with SesDenied(local_sqs.url) as recorder:
        recorder.denying = False
        for extra in (["--dry-run"], [], ["--no-raw-delivery", "--max-receive-count", "7"]):
            await setup(*extra)
            if extra == ["--dry-run"]:  # it only looks
                looks = {a for a in recorder.actions if re.match(r"\w+:(List|Get|Describe)", a)}
                assert recorder.actions == looks
        await setup("--dry-run")
    readme = Path(__file__).parent.parent.joinpath("README.md").read_text()
    section = readme.split("## Provisioning: `sesd setup`")[1].split("\n## ")[0]
    named = set(re.findall(r"`((?:sns|sqs|ses|sts):[A-Za-z]+)`", section))
    assert recorder.actions <= named, " ".join(sorted(recorder.actions))


def test_setup_prints_every_permission_readme_says_sesd_needs() -> None:
    """README's lists of what sesd's own identity needs (both "also printed by `sesd
    setup`") and what setup prints are the same actions: a policy written from either
    lets sesd read an encrypted queue, poll the account and its tenants."""
    from pathlib import Path

    from sesd.commands.setup import PERMISSIONS

    readme = Path(__file__).parent.parent.joinpath("README.md").read_text()
    lists = re.findall(
        r"IAM permissions[^\n(]*\(also printed by `sesd setup`\):(.+?)\.\s", readme, re.S
    )
    assert len(lists) == 2
    said = set(re.findall(r"`((?:sqs|ses|cloudwatch|sts|kms):[A-Za-z]+)`", " ".join(lists)))
    assert said == {action for action, _ in PERMISSIONS}
    # README: the canary's sender calls GetAccount once as it starts, account health off
    # or not; a policy written from setup's reasons alone would leave it refused.
    assert "canary" in dict(PERMISSIONS)["ses:GetAccount"]


class Refusing(LocalServer):
    """An endpoint (a proxy in the way, a wrong --endpoint-url) that refuses every call
    with an error whose message holds what XML lets through of terminal controls: the
    8-bit CSI (U+009B, which terminals take as ESC [) and a right-to-left override."""

    def __init__(self) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/", self._refuse)

    async def _refuse(self, request: web.Request) -> web.Response:
        said = "Denied\x9b2J by \u202epolicy"
        body = _DENIED.replace("User: arn:aws:iam::123456789012:user/ci", said)
        return web.Response(status=403, text=body, content_type="text/xml")


async def test_an_endpoints_error_is_shown_with_its_escapes_escaped(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What an endpoint answers is its text, not sesd's: the one line that says setup
    failed shows its control characters escaped, so a proxy's or a stand-in's answer
    cannot clear or retitle the terminal."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    async with Refusing() as refusing:
        code, _, err = await _setup(capsys, "--endpoint-url", refusing.url)
    assert code == 1
    (line,) = err.splitlines()
    assert "\x9b" not in line
    assert "\u202e" not in line
    assert "Denied\\u009b2J by \\u202epolicy" in line


@pytest.mark.parametrize("hung", ["CreateConfigurationSet", "Subscribe"])
async def test_ctrl_c_part_way_says_what_was_made(local_sqs: LocalSqs, sqs: Any, hung: str) -> None:
    """Ctrl-C while SES does not answer, after the topic, queues and subscription were
    made (the queue found, encrypted with AWS's own key): stdout lists them, stderr the
    queue's warning, then the one line, and it ends by SIGINT (a shell's status 130).
    The call unanswered may have made what it asked (AWS may have acted before the
    answer): it was left out of the list and of the undo lines; it is listed as ``may
    be created``, with its undo line (a subscription to a topic the run made has none:
    the topic's, below, deletes it with the topic)."""
    import signal
    import subprocess

    from tests.sesd_process import hearing_ctrl_c

    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    name = f"c{uuid.uuid4().hex[:8]}"
    attributes = {"KmsMasterKeyId": "alias/aws/sqs"}
    await sqs.create_queue(QueueName=f"{name}-events", Attributes=attributes)
    async with SesDenied(local_sqs.url, action=hung) as hanging:
        hanging.hanging = True
        command = [sys.executable, "-m", "sesd", "setup", "--name", name]
        command += ["--endpoint-url", hanging.url]
        with hearing_ctrl_c():
            started = await anyio.open_process(command, env=env, stdout=subprocess.PIPE)
        async with started as process:
            with anyio.fail_after(30):
                await hanging.asked.wait()
                process.send_signal(signal.SIGINT)
                assert await process.wait() == -signal.SIGINT
            assert process.stdout is not None
            assert process.stderr is not None
            out = b"".join([chunk async for chunk in process.stdout]).decode()
            err = b"".join([chunk async for chunk in process.stderr]).decode()
    warning, interrupted = err.splitlines()
    assert warning.startswith(f"sesd: warning: us-east-1: queue {name}-events is encrypted ")
    assert interrupted == "sesd: interrupted"
    assert re.search(r"^found +SQS queue ", out, re.M), out
    undoing = out.partition("\n# or, to undo what this run changed (the newest first):\n")[2]
    if hung == "Subscribe":
        for kind in ("SNS topic", "SQS dead-letter queue"):
            assert re.search(rf"^created +{kind}", out, re.M), out
        assert re.search(r"^may be created +SNS subscription \(raw\) ", out, re.M), out
        assert "SES configuration set" not in out
        assert [line.split()[1:3] for line in undoing.splitlines()][:1] == [
            ["sqs", "set-queue-attributes"]  # the policy; the topic's deletion takes the rest
        ]
        return
    for kind in ("SNS topic", "SQS dead-letter queue", "SNS subscription"):
        assert re.search(rf"^created +{kind}", out, re.M), out
    assert re.search(rf"^may be created +SES configuration set +{name}$", out, re.M), out
    assert undoing.splitlines()[0].startswith(
        f"aws ses delete-configuration-set --configuration-set-name {name} "
    )
    assert "# us-east-1: stopped part-way; done so far (setup again finishes it):\n" in out


class RegionRefuses(LocalServer):
    """moto's server, but every call signed for ``region`` refused as a region the
    account has not enabled refuses it: 403 ``InvalidClientTokenId`` (SNS's query
    protocol's XML error, the first call setup makes in a region)."""

    def __init__(self, upstream: str, region: str) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"
        self._upstream, self._region = upstream, region

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._forward)

    async def _forward(self, request: web.Request) -> web.Response:
        if f"/{self._region}/" in request.headers.get("Authorization", ""):
            refused = (
                '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error>'
                "<Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>The security "
                "token included in the request is invalid.</Message></Error>"
                "<RequestId>r</RequestId></ErrorResponse>"
            )
            return web.Response(status=403, text=refused, content_type="text/xml")
        return await passed_on(request, self._upstream, await request.read())


async def test_a_region_that_refuses_keys_another_accepted_is_named_as_the_region(
    local_sqs: LocalSqs, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``setup --region eu-west-1 --region ap-east-1``: eu-west-1 is provisioned with
    the credentials, ap-east-1 refuses them InvalidClientTokenId (a region the account
    has not enabled): after the failure's line, a hint says the credentials work in
    eu-west-1 and ap-east-1 may not be enabled, as sesd's own polls say. Set up in
    ap-east-1 alone, nothing vouches for the key: the hint is the key's, not the
    region's."""
    from sesd.commands.main import main

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    name = f"r{uuid.uuid4().hex[:8]}"

    async def setup(*regions: str) -> tuple[int, str]:
        # In a thread of its own (its own event loop), the endpoint serving on this one:
        # no interpreter starts (half a second of CPU each). Its exit code, its stderr.
        argv = ["setup", "--name", name, "--endpoint-url", refusing.url]
        argv += [arg for region in regions for arg in ("--region", region)]
        capsys.readouterr()
        return await anyio.to_thread.run_sync(main, argv), capsys.readouterr().err

    async with RegionRefuses(local_sqs.url, "ap-east-1") as refusing:
        both = await setup("eu-west-1", "ap-east-1")
        alone = await setup("ap-east-1")
    assert both[0] == 1
    failed, told = both[1].splitlines()
    assert failed.startswith("sesd: setup failed in ap-east-1: ClientError: ")
    assert "the credentials work in eu-west-1" in told
    assert "ap-east-1 may be a region the account has not enabled" in told
    assert alone[0] == 1
    failed, told = alone[1].splitlines()
    assert "InvalidClientTokenId" in failed
    # The key's own refusal, as the daemon's log says it: no region to blame.
    assert told == "sesd: hint: the access key is not valid: check the credentials"


@pytest.mark.parametrize("hung", ["CreateTopic", "CreateQueue", "Subscribe"])
async def test_a_creation_unanswered_has_the_undo_line_of_what_aws_would_have_answered(
    local_sqs: LocalSqs, hung: str
) -> None:
    """AWS makes the topic (the dead-letter queue; the subscription, to a topic that
    was there) but its answer never comes, and the run stops (Ctrl-C). Its undo line
    named what AWS answers, the ARN or URL, so there was none: the user was left to
    find it. The topic's is built of the account STS names, the queue's of the
    endpoint and the topic's account, as AWS builds them; the subscription's holds an
    id only AWS knows, so a command lists it and a comment says to unsubscribe it.
    Run as the AWS CLI runs them, the lines leave nothing of the run."""
    from sesd.commands.setup_plan import Plan

    name = f"u{uuid.uuid4().hex[:8]}"
    async with aws_client("sns", local_sqs) as sns, aws_client("sqs", local_sqs) as sqs:
        if hung == "Subscribe":  # the user's topic, there before the run
            topic = (await sns.create_topic(Name=f"{name}-events"))["TopicArn"]
        async with SesDenied(local_sqs.url, action=hung) as unanswered:
            unanswered.hanging = unanswered.acting = True
            plan = Plan(False, "us-east-1")
            options = SetupOptions(name=name, endpoint_url=unanswered.url)
            with anyio.fail_after(20):
                async with anyio.create_task_group() as group:
                    group.start_soon(run_setup, options, plan)
                    await unanswered.asked.wait()
                    group.cancel_scope.cancel()  # Ctrl-C, as sesd.commands.setup takes it
            plan.unsettled()
            kind = {"CreateTopic": "SNS topic", "CreateQueue": "SQS dead-letter queue"}
            asked = kind.get(hung, "SNS subscription")
            maybe = [k for a, k, _ in plan.steps if a == "may be created" and k.startswith(asked)]
            assert maybe, plan.steps
            lines = plan.undoing(unanswered.url)
            for line in lines:
                if line.startswith("# if the subscription was made"):
                    assert "aws sns unsubscribe" in line
                    continue
                said = await aws(line)
                if "list-subscriptions-by-topic" in line:
                    (made,) = said
                    await aws(f"aws sns unsubscribe --subscription-arn {made} "
                              f"--region us-east-1 --endpoint-url {local_sqs.url}")  # fmt: skip
        topics = [t["TopicArn"] for t in (await sns.list_topics())["Topics"]]
        if hung == "Subscribe":
            assert lines[0].startswith("# if the subscription was made")
            listed = await sns.list_subscriptions_by_topic(TopicArn=topic)
            assert listed["Subscriptions"] == []
            await sns.delete_topic(TopicArn=topic)
        else:
            assert lines[-1].split()[1:3] == ["sns", "delete-topic"]
            assert not [t for t in topics if t.endswith(f":{name}-events")]
        queues = (await sqs.list_queues(QueueNamePrefix=name)).get("QueueUrls", [])
        assert queues == []


class Vanishing(SesDenied):
    """moto's server behind a proxy that answers ``ses:DescribeConfigurationSet`` and
    then stops listening (the endpoint gone: a VPN dropped, the local stack stopped),
    so setup's next call, SES's CreateConfigurationSet, finds no one to connect to.
    With ``reset``, that next call comes on the old connection first: AWS makes it,
    and the connection drops before its answer."""

    def __init__(self, upstream: str, *, reset: bool) -> None:
        super().__init__(upstream)
        self.reset = reset

    async def _forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        action = _action(request, body)
        answer = await passed_on(request, self._upstream, body)
        if action == "ses:DescribeConfigurationSet" and not self.reset:
            await self._stop_listening()
            answer.force_close()
        if action == "ses:CreateConfigurationSet":
            await self._stop_listening()
            assert request.transport is not None
            request.transport.abort()
        return answer

    async def _stop_listening(self) -> None:
        assert self._runner is not None
        for site in list(self._runner.sites):
            await site.stop()


@pytest.mark.parametrize("reset", [False, True])
async def test_a_change_asked_over_no_connection_is_not_said_to_be_made(
    local_sqs: LocalSqs,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    reset: bool,
) -> None:
    """The endpoint stops listening after the configuration set was looked for: its
    creation is refused a connection, so nothing left the machine. It was listed as
    `may be created`, with an undo line for a configuration set that cannot exist; it
    is left out. Had an attempt before reached AWS (a connection reset once AWS made
    it, then the retry refused a connection), it may have been made, and is so
    listed, with its undo line."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2" if reset else "1")
    name = f"v{uuid.uuid4().hex[:8]}"
    async with Vanishing(local_sqs.url, reset=reset) as vanishing:
        code, out, err = await _setup(capsys, "--name", name, "--endpoint-url", vanishing.url)
    assert code == 1
    assert "sesd: setup failed in us-east-1: EndpointConnectionError: " in err
    assert re.search(r"^created +SNS subscription", out, re.M), out
    made = re.search(rf"^may be created +SES configuration set +{name}$", out, re.M)
    undo = f"aws ses delete-configuration-set --configuration-set-name {name} "
    assert (made is not None) == reset, out
    assert (undo in out) == reset, out


class Portal(SesDenied):
    """moto's server behind a proxy that answers STS's GetCallerIdentity with a page of
    its own, ``page`` (200: an endpoint that serves SNS, SQS and SES but not STS, a
    captive portal), and passes every other call on."""

    def __init__(self, upstream: str, page: str) -> None:
        super().__init__(upstream)
        self.page = page

    async def _forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        if _action(request, body) == "sts:GetCallerIdentity":
            return web.Response(text=self.page, content_type="text/html")
        return await passed_on(request, self._upstream, body)


@pytest.mark.parametrize("page", ["welcome", "<html><body>welcome</body></html>"])
async def test_an_identity_the_endpoint_does_not_say_leaves_the_topic_without_its_undo(
    local_sqs: LocalSqs, page: str
) -> None:
    """The endpoint answers STS with a page, not AWS's answer (text, or markup with no
    ARN in it). The caller's identity is asked only for the undo line a topic would
    have were its creation unanswered: the run failed on it (ResponseParserError, a
    KeyError's traceback) before making anything. It makes the topic and the rest,
    the undo line of each named by AWS's answers."""
    name = f"p{uuid.uuid4().hex[:8]}"
    async with Portal(local_sqs.url, page) as portal:
        with anyio.fail_after(20):
            plan = await run_setup(SetupOptions(name=name, endpoint_url=portal.url))
        assert [a for a, k, _ in plan.steps if k == "SNS topic"] == ["created"]
        assert plan.undoing(portal.url)[-1].split()[1:3] == ["sns", "delete-topic"]


async def test_sts_unanswered_holds_the_run_no_longer_than_its_wait(
    local_sqs: LocalSqs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """STS never answers (a network that reaches SNS, SQS and SES by their VPC
    endpoints alone). Setup asked it whose the credentials are, for a line it prints
    only if the topic's creation goes unanswered, and waited out the SDK's timeouts
    and retries, a minute a try, before it made anything. It waits IDENTITY_WAIT (5 s)
    and makes the topic and the rest. Here the wait is a fifth of a second from the
    moment STS has the question: timed from the call's start, as sesd times it, a
    loaded machine may not have sent the question by then (the client's first call
    makes its connection), and the hang would go unexercised."""
    from sesd.commands import setup_unanswered

    name = f"s{uuid.uuid4().hex[:8]}"
    async with (
        SesDenied(local_sqs.url, action="GetCallerIdentity") as silent,
        anyio.create_task_group() as tg,
    ):
        silent.hanging = True
        waits: list[float] = []  # what setup bounds the call by: IDENTITY_WAIT, not its own

        def from_asked(delay: float) -> anyio.CancelScope:
            waits.append(delay)
            scope = anyio.CancelScope()

            async def start_when_asked() -> None:
                await silent.asked.wait()
                scope.deadline = anyio.current_time() + delay

            tg.start_soon(start_when_asked)
            return scope

        monkeypatch.setattr(setup_unanswered, "IDENTITY_WAIT", 0.2, raising=False)
        monkeypatch.setattr(setup_unanswered, "anyio", SimpleNamespace(move_on_after=from_asked))
        with anyio.fail_after(10):
            plan = await run_setup(SetupOptions(name=name, endpoint_url=silent.url))
        assert silent.asked.is_set()
        assert waits == [0.2]
        tg.cancel_scope.cancel()
    assert [a for a, k, _ in plan.steps if k == "SNS topic"] == ["created"]
