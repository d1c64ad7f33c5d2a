"""``sesd setup`` against moto's server: plan, create, then change nothing."""

from __future__ import annotations

import json
import logging
import re
import uuid
from typing import Any

import aiohttp
import anyio
import pytest
from aiobotocore.session import get_session
from aiohttp import web

from sesd.commands.demo.localhttp import LocalServer
from sesd.commands.demo.localsqs import LocalSqs
from sesd.commands.main import main
from sesd.commands.setup import EVENT_TYPES, SetupOptions, run_setup
from sesd.config import parse_config
from sesd.core.decode import Event, decode_body
from tests import factory as f
from tests.test_setup_partial import aws


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's credentials in the environment, as a shell running setup gives them."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


async def _setup(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``sesd setup ARGS`` as the command line runs it (sesd's ``main()``), in a thread
    of its own (its own event loop) while this loop serves: its exit status (argparse's,
    for a usage error), standard output and standard error. No interpreter starts (half
    a second of CPU each, for a setup of milliseconds): the process itself, Ctrl-C, is
    tested in tests/test_setup_partial.py."""
    capsys.readouterr()
    try:
        code = await anyio.to_thread.run_sync(main, ["setup", *args])
    except SystemExit as exited:
        code = exited.code if isinstance(exited.code, int) else -1
    out, err = capsys.readouterr()
    return code, out, err


async def test_setup_is_idempotent_and_events_flow(local_sqs: LocalSqs, sqs: Any) -> None:
    """A dry run changes nothing; the first run creates every resource; the second finds them
    all; an SES event published to the topic arrives raw in the queue and decodes."""
    name = f"s{uuid.uuid4().hex[:8]}"
    options = SetupOptions(name=name, endpoint_url=local_sqs.url)

    plan = await run_setup(SetupOptions(name=name, endpoint_url=local_sqs.url, dry_run=True))
    assert plan.changed
    assert all(action.startswith("would be") for action, _, _ in plan.steps)
    queues = (await sqs.list_queues(QueueNamePrefix=name)).get("QueueUrls", [])
    assert queues == []
    assert "(the queue URL, once created)" in plan.render()

    first = await run_setup(options)
    kinds = {kind: action for action, kind, _ in first.steps}
    assert kinds["SNS topic"] == "created"
    assert kinds["SQS dead-letter queue"] == "created"
    assert kinds["SQS queue"] == "created"
    # The new queue had no policy: its policy is made, as the dry run said, not updated.
    assert kinds["SQS queue policy"] == "created"
    assert kinds["SNS subscription (raw)"] == "created"
    assert kinds["SES configuration set"] == "created"
    assert kinds["SES event destination (SNS)"] == "created"
    assert first.queue_url is not None
    assert f'url = "{first.queue_url}"' in first.render()

    second = await run_setup(options)
    assert not second.changed, second.render()

    attrs = await sqs.get_queue_attributes(
        QueueUrl=first.queue_url, AttributeNames=["RedrivePolicy", "Policy"]
    )
    redrive = json.loads(attrs["Attributes"]["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(f":{name}-events-dlq")
    assert str(redrive["maxReceiveCount"]) == "5"
    statement = json.loads(attrs["Attributes"]["Policy"])["Statement"][0]
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"].endswith(f":{name}-events")

    session = get_session()
    async with session.create_client(
        "ses", region_name="us-east-1", endpoint_url=local_sqs.url
    ) as ses:
        found = await ses.describe_configuration_set(
            ConfigurationSetName=name, ConfigurationSetAttributeNames=["eventDestinations"]
        )
    destination = found["EventDestinations"][0]
    assert set(destination["MatchingEventTypes"]) == set(EVENT_TYPES)

    async with session.create_client(
        "sns", region_name="us-east-1", endpoint_url=local_sqs.url
    ) as sns:
        topic = destination["SNSDestination"]["TopicARN"]
        event = f.delay(["someone@outlook.example"])
        await sns.publish(TopicArn=topic, Message=json.dumps(event))
    received = await sqs.receive_message(QueueUrl=first.queue_url, WaitTimeSeconds=5)
    (message,) = received["Messages"]
    decoded = decode_body(message["Body"])
    assert isinstance(decoded, Event)
    assert decoded.type == "delivery_delay"
    assert decoded.recipients == ["someone@outlook.example"]


async def test_setup_repairs_what_differs(local_sqs: LocalSqs, sqs: Any) -> None:
    """A queue that lost its redrive policy and its access policy is put right, and only
    that is reported as updated. The commands the plan gives to undo it (printed when a
    run stops part-way) set back what the queue had: none of either."""
    name = f"r{uuid.uuid4().hex[:8]}"
    options = SetupOptions(name=name, endpoint_url=local_sqs.url)
    first = await run_setup(options)
    assert first.queue_url is not None
    await sqs.set_queue_attributes(
        QueueUrl=first.queue_url, Attributes={"RedrivePolicy": "", "Policy": ""}
    )
    again = await run_setup(options)
    updated = [(kind, name_) for action, kind, name_ in again.steps if action != "found"]
    assert updated == [
        ("SQS queue attributes", f"{name}-events"),
        ("SQS queue policy", f"{name}-events"),
    ]
    for line in again.undoing(local_sqs.url):
        await aws(line)
    wanted = ["RedrivePolicy", "Policy"]
    found = await sqs.get_queue_attributes(QueueUrl=first.queue_url, AttributeNames=wanted)
    assert not found.get("Attributes", {}).keys() & set(wanted)
    assert (await run_setup(options)).changed
    assert not (await run_setup(options)).changed


async def test_setup_command_prints_the_plan_and_the_queue_block(
    local_sqs: LocalSqs, capsys: pytest.CaptureFixture[str], credentials: None
) -> None:
    """`sesd setup --dry-run` prints what it would create and the [[queues]] block, exit 0;
    the real run prints the queue URL to paste, and both end with the step that makes
    SES publish events at all: sending with the configuration set."""
    name = f"c{uuid.uuid4().hex[:8]}"
    command = ["--name", name, "--endpoint-url", local_sqs.url]
    code, out, err = await _setup(capsys, *command, "--dry-run")
    assert code == 0, err
    assert re.search(r"^would be created +SNS topic", out, re.M)
    code, out, err = await _setup(capsys, *command)
    assert code == 0, err
    assert f'url = "{local_sqs.url}/123456789012/{name}-events"' in out
    # What it says to paste is a config that reads the queue where it was made: sesd
    # sends SQS calls to [aws] endpoint_url, not to the host in the queue's URL.
    pasted = parse_config(out.split("# add to sesd.toml:\n")[1].split("\n\n# IAM")[0])
    assert pasted.aws.endpoint_url == local_sqs.url
    assert [q.url for q in pasted.queues] == [f"{local_sqs.url}/123456789012/{name}-events"]
    assert "ses:GetAccount" in out
    assert "cloudwatch:GetMetricData" in out
    # Without this step no event reaches the queue: SES publishes what is sent with it.
    assert f"send your mail with ConfigurationSetName={name} " in out


async def test_setup_provisions_each_region_asked_for(
    local_sqs: LocalSqs, capsys: pytest.CaptureFixture[str], credentials: None
) -> None:
    """`--region` repeats: each region gets its topic, queues and configuration set, and
    its own [[queues]] block (with its region: a local endpoint's URL names none)."""
    name = f"r{uuid.uuid4().hex[:8]}"
    command = ["--name", name, "--endpoint-url", local_sqs.url]
    command += ["--region", "us-east-1", "--region", "eu-west-1"]
    code, out, err = await _setup(capsys, *command)
    assert code == 0, err
    assert out.count("[[queues]]") == 2
    assert 'region = "us-east-1"' in out
    assert 'region = "eu-west-1"' in out
    # The blocks pasted together are a config: each queue named for its region.
    blocks = [part.split("\n\n")[0] for part in out.split("# add to sesd.toml:\n")[1:]]
    pasted = parse_config("\n".join(blocks))
    assert [q.label for q in pasted.queues] == [
        f"{name}-events-us-east-1",
        f"{name}-events-eu-west-1",
    ]
    for region in ("us-east-1", "eu-west-1"):
        async with get_session().create_client(
            "sqs", region_name=region, endpoint_url=local_sqs.url
        ) as sqs:
            urls = (await sqs.list_queues(QueueNamePrefix=name)).get("QueueUrls", [])
        assert len(urls) == 2, (region, urls)  # the queue and its dead-letter queue


async def test_a_region_that_fails_leaves_the_report_of_those_done(
    local_sqs: LocalSqs,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    credentials: None,
) -> None:
    """The second region fails: the first was provisioned, and its report and block are
    printed before the one line that says what failed."""
    # The local server's own log of the request it failed (its traceback) would reach
    # the command's standard error, the process being the same: a server's, not setup's.
    monkeypatch.setattr(logging.getLogger("werkzeug"), "disabled", True)
    name = f"r{uuid.uuid4().hex[:8]}"
    # A region's name that the local server knows nothing of (as AWS would not
    # answer for a region it has not opened yet).
    command = ["--name", name, "--endpoint-url", local_sqs.url]
    command += ["--region", "us-east-1", "--region", "xx-none-9"]
    code, out, err = await _setup(capsys, *command)
    assert code == 1
    assert f'url = "{local_sqs.url}/123456789012/{name}-events"' in out
    assert f'name = "{name}-events-us-east-1"' in out  # as if all went
    (line,) = err.splitlines()
    assert line.startswith("sesd: setup failed in xx-none-9: ")


async def test_setup_from_a_config_provisions_the_default_accounts_regions_only(
    local_sqs: LocalSqs, tmp_path: Any, capsys: pytest.CaptureFixture[str], credentials: None
) -> None:
    """setup signs with the default credentials: another account's queue is left to a
    run with that account's credentials, and the line says so, not provisioned in the
    caller's account under its region."""
    config = tmp_path / "sesd.toml"
    config.write_text(
        f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
        '[[accounts]]\nname = "prod-eu"\nrole_arn = "arn:aws:iam::210987654321:role/r"\n'
        '[[queues]]\nurl = "https://sqs.us-east-1.amazonaws.com/123456789012/ours"\n'
        '[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/210987654321/theirs"\n'
        'account = "prod-eu"\n'
    )
    code, out, err = await _setup(capsys, "--dry-run", "--config", str(config))
    assert code == 0, err
    assert "# us-east-1" in out
    assert "# eu-west-1" not in out
    assert "queue theirs is account prod-eu's: run setup with its credentials" in err


async def test_a_config_of_only_other_accounts_queues_sets_up_nothing_unasked(
    local_sqs: LocalSqs, tmp_path: Any, capsys: pytest.CaptureFixture[str], credentials: None
) -> None:
    """Every queue of the config is another account's: setup (signing with the default
    credentials) has no region of this account's to take, and made NAME-events in
    ``[aws] region`` all the same, a queue no config reads, in an account where none
    was meant. It makes nothing, says which regions each account's run takes
    (``--region``), exit 2; with ``--region`` it sets up what it was asked."""
    config = tmp_path / "sesd.toml"
    config.write_text(
        f'[aws]\nendpoint_url = "{local_sqs.url}"\nregion = "us-west-2"\n'
        '[[accounts]]\nname = "prod-eu"\nrole_arn = "arn:aws:iam::210987654321:role/r"\n'
        '[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/210987654321/theirs"\n'
        'account = "prod-eu"\n'
        '[[queues]]\nurl = "https://sqs.eu-central-1.amazonaws.com/210987654321/more"\n'
        'account = "prod-eu"\n'
    )
    name = f"o{uuid.uuid4().hex[:8]}"
    command = ["--config", str(config), "--name", name]
    code, out, err = await _setup(capsys, *command)
    assert code == 2, err
    assert out == ""
    *_, line = err.splitlines()
    assert line == (
        f"sesd: no queue of {config} is the default credentials' account's: nothing set "
        "up; with an account's credentials give its regions (prod-eu: --region "
        "eu-central-1 --region eu-west-1), or give --region to set up this account anyway"
    )
    assert "queue theirs is account prod-eu's: run setup with its credentials" in err
    async with get_session().create_client(
        "sqs", region_name="us-west-2", endpoint_url=local_sqs.url
    ) as sqs:
        assert (await sqs.list_queues(QueueNamePrefix=name)).get("QueueUrls", []) == []
    code, out, err = await _setup(capsys, *command, "--region", "eu-west-1")
    assert code == 0, err
    assert f"/123456789012/{name}-events" in out


async def test_setup_from_a_config_needs_none_of_its_sinks_secrets(
    local_sqs: LocalSqs,
    tmp_path: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    credentials: None,
) -> None:
    """setup takes only the regions and the endpoint from a config: run where the
    Slack webhook's environment variable is not set (a workstation, a CI job), it
    plans the queue all the same, rather than refusing for a secret it never uses."""
    config = tmp_path / "sesd.toml"
    config.write_text(
        f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
        '[[queues]]\nurl = "https://sqs.us-east-1.amazonaws.com/123456789012/ours"\n'
        '[alerts.slack]\nwebhook_url = "env:SESD_TEST_SLACK_WEBHOOK_NOT_SET"\n'
    )
    monkeypatch.delenv("SESD_TEST_SLACK_WEBHOOK_NOT_SET", raising=False)
    code, out, err = await _setup(capsys, "--dry-run", "--config", str(config))
    assert code == 0, err
    assert "# us-east-1" in out


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [
        ("--name", "{token} x", "give 1 to 60 letters, digits, hyphens or underscores"),
        ("--name", "{token}!", "give 1 to 60 letters, digits, hyphens or underscores"),
        ("--name", "{token}.fifo", "underscores (no .fifo: setup makes standard queues)"),
        # 61: the event destination NAME-sns would be 65, over SES's 64.
        ("--name", "{token}" + "x" * 52, "give 1 to 60 letters, digits, hyphens or underscores"),
        ("--region", "mars-1", "'mars-1' is not an AWS region's name"),
        ("--region", "eu west", "'eu west' is not an AWS region's name"),
        ("--region", "EU-WEST-1", "'EU-WEST-1' is not an AWS region's name"),
    ],
)
async def test_a_name_or_region_aws_would_refuse_is_refused_before_any_call(
    local_sqs: LocalSqs,
    option: str,
    value: str,
    said: str,
    capsys: pytest.CaptureFixture[str],
    credentials: None,
) -> None:
    """A --name SQS, SNS or SES would not take, or a --region that is no region's name,
    is a usage error, exit 2, with nothing made in any region (it failed at the first
    call that used it, after the names before it were made, or in the second region
    after the first was provisioned)."""
    token = f"v{uuid.uuid4().hex[:8]}"
    name = value.format(token=token) if option == "--name" else token
    command = ["--endpoint-url", local_sqs.url, "--region", "us-east-1", "--name", name]
    if option == "--region":
        command += ["--region", value]
    code, out, err = await _setup(capsys, *command)
    assert code == 2, err
    assert said in err
    assert out == ""
    async with get_session().create_client(
        "sqs", region_name="us-east-1", endpoint_url=local_sqs.url
    ) as sqs:
        assert (await sqs.list_queues(QueueNamePrefix=token)).get("QueueUrls", []) == []
    async with get_session().create_client(
        "sns", region_name="us-east-1", endpoint_url=local_sqs.url
    ) as sns:
        topics = (await sns.list_topics()).get("Topics", [])
    assert not [t for t in topics if token in t["TopicArn"]]


async def test_the_longest_name_setup_takes_is_provisioned(local_sqs: LocalSqs) -> None:
    """A --name of 60 characters makes every name within AWS's limits: all of it is
    created (SES's event destination NAME-sns is 64 characters, its limit)."""
    name = f"n{uuid.uuid4().hex[:8]}".ljust(60, "x")
    plan = await run_setup(SetupOptions(name=name, endpoint_url=local_sqs.url))
    created = {kind for action, kind, _ in plan.steps if action == "created"}
    assert created >= {"SNS topic", "SQS dead-letter queue", "SQS queue", "SES configuration set"}
    assert ("created", "SES event destination (SNS)", f"{name}/{name}-sns") in plan.steps


@pytest.mark.parametrize("count", ["0", "-3", "1001", "five"])
def test_a_receive_count_sqs_would_refuse_or_misread_is_a_usage_error(
    count: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """maxReceiveCount runs from 1 to 1000 (0 would send every message to the
    dead-letter queue at its first receive): anything else is refused before any call."""
    with pytest.raises(SystemExit) as exited:
        main(["setup", "--dry-run", "--max-receive-count", count])
    assert exited.value.code == 2
    assert f"{count!r}: give a whole number from 1 to 1000" in capsys.readouterr().err


def test_an_endpoint_that_is_not_aws_is_one_line_not_a_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An endpoint answering something AWS never sends (a wrong --endpoint-url): one
    line naming the region, exit 1."""
    from tests.test_sqs_edges import GarbageSqs

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")

    async def attempt() -> int:
        async with GarbageSqs() as garbage:
            argv = ["setup", "--region", "ap-nowhere-1", "--endpoint-url", garbage.url]
            return await anyio.to_thread.run_sync(main, argv)

    assert anyio.run(attempt) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("sesd: setup failed in ap-nowhere-1: ")


@pytest.mark.parametrize("url", ["localhost:4566", "127.0.0.1:4566", "ftp://127.0.0.1/"])
def test_an_endpoint_url_without_http_is_a_usage_error(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--endpoint-url localhost:4566` (the scheme left out, as a local stack's docs
    often write it) is refused as usage, exit 2 and one line naming it, not a
    ValueError's traceback from the SDK."""
    with pytest.raises(SystemExit) as exited:
        main(["setup", "--dry-run", "--endpoint-url", url])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --endpoint-url: {url!r} is not an http(s) URL" in err
    # The scheme left out: the URL meant said, as the config's errors say it.
    meant = f": it has no scheme; give it as http://{url} or https://{url}\n"
    assert err.endswith(meant) == ("://" not in url)
    assert "Traceback" not in err


class _WithoutQueryCodes(LocalServer):
    """moto's server behind an endpoint that answers SQS's JSON protocol without the
    ``x-amzn-query-error`` header (the query protocol's error code, which SQS adds for
    the SDKs that knew only those): the SDK then names the error by its JSON type,
    ``QueueDoesNotExist``, not ``AWS.SimpleQueueService.NonExistentQueue``."""

    def __init__(self, upstream: str) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"
        self._upstream = upstream
        self.stripped = 0

    async def _forward(self, request: web.Request) -> web.Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                request.method,
                self._upstream + request.path_qs,
                data=await request.read(),
                headers=headers,
            ) as answer,
        ):
            body = await answer.read()
            kept = {
                k: v
                for k, v in answer.headers.items()
                if k.lower() not in ("x-amzn-query-error", "content-length", "transfer-encoding")
            }
            self.stripped += "x-amzn-query-error" in answer.headers
            return web.Response(status=answer.status, body=body, headers=kept)

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._forward)


async def test_setup_creates_a_queue_sqs_calls_queuedoesnotexist(local_sqs: LocalSqs) -> None:
    """SQS names a missing queue ``AWS.SimpleQueueService.NonExistentQueue`` in its query
    protocol (and in its JSON one, through ``x-amzn-query-error``), and
    ``QueueDoesNotExist`` in its JSON one without that header: setup takes either as
    "not there yet" and creates the queues, where it stopped with a traceback."""
    name = f"j{uuid.uuid4().hex[:8]}"
    async with _WithoutQueryCodes(local_sqs.url) as endpoint:
        plan = await run_setup(SetupOptions(name=name, endpoint_url=endpoint.url))
    assert endpoint.stripped >= 2  # the two GetQueueUrl of missing queues
    created = {kind for action, kind, _ in plan.steps if action == "created"}
    assert {"SQS dead-letter queue", "SQS queue"} <= created


async def test_no_credentials_is_said_with_where_setup_looks_for_them(
    local_sqs: LocalSqs, capsys: pytest.CaptureFixture[str], no_aws_credentials: None
) -> None:
    """A first run on a machine with no AWS credentials: the SDK's "Unable to locate
    credentials", then a hint naming where setup looks (the default chain, not the
    config's [aws] keys, which setup never reads), exit 1."""
    name = f"n{uuid.uuid4().hex[:8]}"
    code, _, err = await _setup(capsys, "--name", name, "--endpoint-url", local_sqs.url)
    assert code == 1, err
    failed, hint = err.splitlines()
    assert (
        failed
        == "sesd: setup failed in us-east-1: NoCredentialsError: Unable to locate credentials"
    )
    assert hint.startswith("sesd: hint: no AWS credentials were found: setup signs with the SDK's ")
    assert "AWS_PROFILE or ~/.aws/credentials" in hint


async def test_a_profile_the_sdk_files_lack_is_said_with_what_to_do(
    local_sqs: LocalSqs, capsys: pytest.CaptureFixture[str], no_aws_credentials: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """AWS_PROFILE naming a profile ~/.aws has not: the SDK's line, then a hint naming
    the variable and what to do (list the profiles, or unset it), exit 1."""
    monkeypatch.setenv("AWS_PROFILE", "opps")
    code, _, err = await _setup(capsys, "--name", "profiles", "--endpoint-url", local_sqs.url)
    assert code == 1, err
    failed, hint = err.splitlines()
    assert failed.startswith("sesd: setup failed in us-east-1: ProfileNotFound: ")
    assert hint == (
        "sesd: hint: AWS_PROFILE names the AWS profile 'opps', which the SDK's config and "
        "credentials files do not have: name one they have (aws configure list-profiles), "
        "or unset AWS_PROFILE"
    )


async def test_an_endpoint_other_than_the_config_s_is_said_to_replace_it(
    local_sqs: LocalSqs, tmp_path: Any, capsys: pytest.CaptureFixture[str], credentials: None
) -> None:
    """--endpoint-url over a config naming another endpoint: the line to paste says it
    takes the config's one's place (a second endpoint_url in [aws] would be refused);
    the config's own endpoint, with or without a final slash, needs no line at all."""
    config = tmp_path / "sesd.toml"
    config.write_text('[aws]\nendpoint_url = "http://127.0.0.1:9"\n')
    command = ["--dry-run", "--config", str(config), "--endpoint-url", local_sqs.url]
    code, out, err = await _setup(capsys, *command)
    assert code == 0, err
    assert 'in place of endpoint_url = "http://127.0.0.1:9"' in out
    assert "add too" not in out
    config.write_text(f'[aws]\nendpoint_url = "{local_sqs.url}"\n')
    code, out, err = await _setup(capsys, *command[:-1], local_sqs.url + "/")
    assert code == 0, err
    assert "endpoint_url =" not in out
