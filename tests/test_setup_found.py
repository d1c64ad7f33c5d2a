"""``sesd setup`` on what a user (or an older setup) left: an event destination of its
own name, an encrypted queue, a subscription with a filter. SES's configuration sets
are the fake's (tests/fake_ses.py: moto keeps one event destination a set and cannot
update one); SNS and SQS are moto's."""

from __future__ import annotations

import errno
import io
import os
import re
import shlex
import sys
import uuid
from typing import Any

import anyio
import pytest
from aiobotocore.session import get_session
from aiohttp import web

from sesd.commands.demo.localhttp import LocalServer
from sesd.commands.demo.localsqs import LocalSqs
from sesd.commands.main import main
from sesd.commands.provision import EVENT_TYPES, SetupOptions, run_setup
from tests.fake_ses import FakeSes
from tests.test_setup_partial import SesDenied, aws, passed_on


class _Refusing(io.StringIO):
    """Standard output that takes nothing: a full disk (``full``) or a reader gone
    (``gone``, ``sesd setup | head -1``)."""

    def __init__(self, how: str) -> None:
        super().__init__()
        self.how = how

    def write(self, text: str) -> int:
        if self.how == "gone":
            raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


#: The exit status and the last line of standard error for each standard output: one
#: that takes the plan, one on a full disk, one whose reader is gone.
_OUTCOME = {
    "taken": (None, None),
    "full": (
        1,
        "sesd: cannot write to standard output: No space left on device; the result is lost",
    ),
    "gone": (141, None),
}


class SesApart(LocalServer):
    """One endpoint for setup's three clients: what SES signed goes to the fake, the
    rest (SNS, SQS) to moto's server."""

    def __init__(self, ses: str, upstream: str) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"
        self._ses, self._upstream = ses, upstream

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._forward)

    async def _forward(self, request: web.Request) -> web.Response:
        signed = request.headers.get("Authorization", "")
        ses = re.search(r"Credential=[^/]+/[^/]+/[^/]+/ses/", signed)
        to = self._ses if ses else self._upstream
        return await passed_on(request, to, await request.read())


async def test_an_event_destination_keeps_the_types_the_user_added(local_sqs: LocalSqs) -> None:
    """The user turned on open and click events in setup's event destination (sesd
    counts them) and lost Bounce: a second run puts Bounce back and keeps open and
    click, rather than taking them away as "what differs"; a third run changes
    nothing. One that publishes every type setup asks for, and more, is left alone."""
    name = f"e{uuid.uuid4().hex[:8]}"
    async with FakeSes() as ses, SesApart(ses.url, local_sqs.url) as endpoint:
        options = SetupOptions(name=name, endpoint_url=endpoint.url)
        await run_setup(options)
        (destination,) = ses.configuration_sets[name].values()
        assert set(destination["MatchingEventTypes"]) == set(EVENT_TYPES)
        kept = [t for t in EVENT_TYPES if t != "bounce"]
        destination["MatchingEventTypes"] = [*kept, "open", "click"]

        again = await run_setup(options)
        changed = [(action, kind) for action, kind, _ in again.steps if action != "found"]
        assert changed == [("updated", "SES event destination (SNS)")]
        (destination,) = ses.configuration_sets[name].values()
        assert set(destination["MatchingEventTypes"]) == {*EVENT_TYPES, "open", "click"}
        assert not (await run_setup(options)).changed


async def test_an_event_destination_turned_off_or_elsewhere_is_put_right(
    local_sqs: LocalSqs,
) -> None:
    """setup's event destination disabled, or sending to another topic: a run turns it
    back on, to setup's topic, and reports it updated (SES's update call, which moto
    lacks, answered as SES answers it)."""
    name = f"o{uuid.uuid4().hex[:8]}"
    async with FakeSes() as ses, SesApart(ses.url, local_sqs.url) as endpoint:
        options = SetupOptions(name=name, endpoint_url=endpoint.url)
        await run_setup(options)
        (destination,) = ses.configuration_sets[name].values()
        topic = destination["SNSDestination"]["TopicARN"]
        destination["Enabled"] = False
        destination["SNSDestination"]["TopicARN"] = "arn:aws:sns:us-east-1:123456789012:other"

        again = await run_setup(options)
        changed = [(action, kind) for action, kind, _ in again.steps if action != "found"]
        assert changed == [("updated", "SES event destination (SNS)")]
        (destination,) = ses.configuration_sets[name].values()
        assert destination["Enabled"] is True
        assert destination["SNSDestination"]["TopicARN"] == topic
        assert not (await run_setup(options)).changed


async def test_a_destination_of_setups_name_sending_elsewhere_than_sns_is_left(
    local_sqs: LocalSqs, capsys: pytest.CaptureFixture[str]
) -> None:
    """The user made a CloudWatch event destination named as setup names its own
    (NAME-sns): a run of setup took it for its own gone astray and updated it into an
    SNS one, the user's CloudWatch metrics lost without a word. It is left as it is:
    the region fails (exit 1) after the rest is done, its line naming the destination,
    its type and what to do (the list of what was done says setup finishes the region
    once that is done, not at a mere second run). The hint's command removes that
    destination in the region that failed, not in the AWS CLI's default one (where it
    could be another's, such as setup's own SNS one): run, it leaves setup free to
    finish."""
    name = f"c{uuid.uuid4().hex[:8]}"
    region = "eu-west-2"
    async with FakeSes() as ses, SesApart(ses.url, local_sqs.url) as endpoint:
        user: dict[str, Any] = {
            "Name": f"{name}-sns",
            "Enabled": True,
            "MatchingEventTypes": ["send", "delivery"],
            "CloudWatchDestination": {"DimensionConfigurations": []},
        }
        ses.configuration_sets[name] = {user["Name"]: dict(user)}
        command = ["setup", "--name", name, "--region", region, "--endpoint-url", endpoint.url]
        code = await anyio.to_thread.run_sync(main, command)
        assert ses.configuration_sets[name] == {user["Name"]: user}
        out, err = capsys.readouterr()
        assert code == 1
        assert re.search(r"^found +SES configuration set", out, re.M)
        assert "SES event destination" not in out
        # Not finished by setup again alone: only once the user has acted on the hint.
        assert re.search(
            rf"^# {region}: stopped part-way; done so far \(setup again finishes it, once "
            r"the hint below is acted on\):$",
            out,
            re.M,
        ), out
        (line, hint) = err.splitlines()
        assert line == (
            f"sesd: setup failed in {region}: the event destination {name}-sns of the "
            f"configuration set {name} is a CloudWatch one, not the SNS one setup makes: "
            "setup leaves it as it is"
        )
        said = re.fullmatch(r"sesd: hint: give setup another --name, or .*\((aws .*)\)", hint)
        assert said is not None, hint
        assert shlex.split(said[1])[-4:] == ["--region", region, "--endpoint-url", endpoint.url]
        await aws(said[1])
        assert ses.configuration_sets[name] == {}
        assert await anyio.to_thread.run_sync(main, command) == 0


@pytest.mark.parametrize(
    ("key", "said"),
    [
        ("alias/aws/sqs", "whose key policy SNS may not be given"),
        ("arn:aws:kms:us-east-1:123456789012:key/1234abcd", "its key policy must let"),
    ],
)
async def test_a_queue_encrypted_with_a_kms_key_is_said_to_need_sns_let_in(
    local_sqs: LocalSqs,
    sqs: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    key: str,
    said: str,
) -> None:
    """The queue setup finds is encrypted with a KMS key (SSE-KMS): SNS publishes to it
    only if the key's policy lets sns.amazonaws.com use the key, which AWS's own key
    for SQS (alias/aws/sqs) never does. Setup found everything right and said nothing,
    exit 0, and no event ever arrived; it now says so on stderr, naming the key and the
    queue (and sesd's own kms:Decrypt), and changes nothing of the queue's encryption.
    Still exit 0: a key whose policy is right is warned of too, at every run."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    name = f"k{uuid.uuid4().hex[:8]}"
    url = (await sqs.create_queue(QueueName=f"{name}-events", Attributes={"KmsMasterKeyId": key}))[
        "QueueUrl"
    ]
    capsys.readouterr()
    argv = ["setup", "--name", name, "--endpoint-url", local_sqs.url]
    code = await anyio.to_thread.run_sync(main, argv)
    _, err = capsys.readouterr()
    assert code == 0, err
    (warning,) = [line for line in err.splitlines() if "warning" in line]
    assert warning.startswith(f"sesd: warning: us-east-1: queue {name}-events is encrypted ")
    assert f"KMS key {key}" in warning
    assert said in warning
    assert "kms:Decrypt" in warning
    found = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["KmsMasterKeyId"])
    assert found["Attributes"]["KmsMasterKeyId"] == key
    # A dry run looks at the same attribute, and says the same.
    code = await anyio.to_thread.run_sync(main, [*argv, "--dry-run"])
    assert code == 0
    assert f"KMS key {key}" in capsys.readouterr().err


async def test_a_queue_without_a_kms_key_has_no_warning(
    local_sqs: LocalSqs, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The queues setup makes (SQS-managed encryption, which SNS needs nothing for) bring
    no warning: stderr stays empty."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    name = f"n{uuid.uuid4().hex[:8]}"
    capsys.readouterr()
    argv = ["setup", "--name", name, "--endpoint-url", local_sqs.url]
    assert await anyio.to_thread.run_sync(main, argv) == 0
    assert capsys.readouterr().err == ""


async def test_a_subscription_with_a_filter_policy_is_said_to_drop_events(
    local_sqs: LocalSqs, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The topic's subscription to the queue was given a filter policy: SNS then delivers
    only the events it matches (on message attributes, which SES's events carry none of:
    none), and setup, finding the subscription with raw delivery, said it was right. It
    now says on stderr that the filter policy may drop SES's events, and leaves it. Set
    to {}, as the warning says (SNS's way to clear a filter policy), it is no more
    warned of."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    name = f"f{uuid.uuid4().hex[:8]}"
    await run_setup(SetupOptions(name=name, endpoint_url=local_sqs.url))
    filter_policy = '{"kind": ["bounce"]}'
    async with get_session().create_client(
        "sns", region_name="us-east-1", endpoint_url=local_sqs.url
    ) as sns:
        topics = (await sns.list_topics())["Topics"]
        (topic,) = [t["TopicArn"] for t in topics if t["TopicArn"].endswith(f":{name}-events")]
        (sub,) = (await sns.list_subscriptions_by_topic(TopicArn=topic))["Subscriptions"]
        await sns.set_subscription_attributes(
            SubscriptionArn=sub["SubscriptionArn"],
            AttributeName="FilterPolicy",
            AttributeValue=filter_policy,
        )
        capsys.readouterr()
        argv = ["setup", "--name", name, "--endpoint-url", local_sqs.url]
        assert await anyio.to_thread.run_sync(main, argv) == 0
        _, err = capsys.readouterr()
        (warning,) = err.splitlines()
        assert warning.startswith(f"sesd: warning: us-east-1: the subscription of {name}-events ")
        assert "filter policy" in warning
        assert "MessageAttributes" in warning
        kept = await sns.get_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"])
        assert kept["Attributes"]["FilterPolicy"] == filter_policy
        await sns.set_subscription_attributes(
            SubscriptionArn=sub["SubscriptionArn"],
            AttributeName="FilterPolicy",
            AttributeValue="{}",
        )
        assert await anyio.to_thread.run_sync(main, argv) == 0
        assert capsys.readouterr().err == ""


async def test_the_event_destination_publishes_every_failure_sesd_counts(
    local_sqs: LocalSqs,
) -> None:
    """sesd counts rendering failures (``sesd_events_total{event_type="rendering_failure"}``:
    a template that does not render sends nothing, and says so in no other event); the
    destination setup makes publishes them beside the sends, rejects, deliveries,
    delays, bounces and complaints, and one made before without them gets them."""
    name = f"t{uuid.uuid4().hex[:8]}"
    wanted = {"send", "reject", "delivery", "deliveryDelay", "bounce", "complaint"}
    wanted.add("renderingFailure")
    async with FakeSes() as ses, SesApart(ses.url, local_sqs.url) as endpoint:
        options = SetupOptions(name=name, endpoint_url=endpoint.url)
        await run_setup(options)
        (destination,) = ses.configuration_sets[name].values()
        assert set(destination["MatchingEventTypes"]) == wanted
        destination["MatchingEventTypes"].remove("renderingFailure")
        again = await run_setup(options)
        assert ("updated", "SES event destination (SNS)") in [(a, k) for a, k, _ in again.steps]
        (destination,) = ses.configuration_sets[name].values()
        assert set(destination["MatchingEventTypes"]) == wanted


@pytest.mark.parametrize(
    ("key", "said"),
    [
        ("alias/aws/sns", "whose key policy SES may not be given"),
        ("arn:aws:kms:us-east-1:123456789012:key/5678efgh", "its key policy must let"),
    ],
)
async def test_a_topic_encrypted_with_a_kms_key_is_said_to_need_ses_let_in(
    local_sqs: LocalSqs,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    key: str,
    said: str,
) -> None:
    """The topic setup finds is encrypted with a KMS key: SES publishes its events to it
    only if the key's policy lets ses.amazonaws.com use the key, which AWS's own key for
    SNS (alias/aws/sns) never does. Setup now says so on stderr and leaves the topic's
    encryption as it is."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    name = f"s{uuid.uuid4().hex[:8]}"
    async with get_session().create_client(
        "sns", region_name="us-east-1", endpoint_url=local_sqs.url
    ) as sns:
        made = await sns.create_topic(Name=f"{name}-events", Attributes={"KmsMasterKeyId": key})
        capsys.readouterr()
        argv = ["setup", "--name", name, "--endpoint-url", local_sqs.url]
        assert await anyio.to_thread.run_sync(main, argv) == 0
        _, err = capsys.readouterr()
        (warning,) = err.splitlines()
        assert warning.startswith(f"sesd: warning: us-east-1: topic {name}-events is encrypted ")
        assert f"KMS key {key}" in warning
        assert said in warning
        assert "ses.amazonaws.com" in warning
        found = await sns.get_topic_attributes(TopicArn=made["TopicArn"])
    assert found["Attributes"]["KmsMasterKeyId"] == key


@pytest.mark.parametrize("stdout", ["taken", "full"])
async def test_a_topic_whose_attributes_may_not_be_read_is_a_warning_not_a_failure(
    local_sqs: LocalSqs,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    stdout: str,
) -> None:
    """The identity that runs setup may not call sns:GetTopicAttributes (a policy
    written before setup read the topic's key): the topic is found all the same and
    setup finishes, exit 0, with a warning that its encryption was not looked at,
    rather than failing over a check that only ever warns. The warning is on standard
    error, so that a plan written to a file still shows it: on a full disk too, where
    the plan is lost (status 1), the warning is said before the line that says so."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    name = f"g{uuid.uuid4().hex[:8]}"
    async with get_session().create_client(
        "sns", region_name="us-east-1", endpoint_url=local_sqs.url
    ) as sns:
        await sns.create_topic(Name=f"{name}-events")
    async with SesDenied(local_sqs.url, "GetTopicAttributes", "AuthorizationError") as denied:
        capsys.readouterr()
        if stdout != "taken":
            monkeypatch.setattr(sys, "stdout", _Refusing(stdout))
        argv = ["setup", "--name", name, "--endpoint-url", denied.url]
        code, last = _OUTCOME[stdout]
        assert await anyio.to_thread.run_sync(main, argv) == (code or 0)
    out, err = capsys.readouterr()
    assert "sns:GetTopicAttributes" in denied.actions
    if stdout != "taken":
        *err_lines, said = err.splitlines()
        assert said == last
        err = "\n".join(err_lines)
    else:
        assert re.search(rf"^found +SNS topic .*:{name}-events$", out, re.M), out
    (warning,) = err.splitlines()
    assert warning.startswith(f"sesd: warning: us-east-1: topic {name}-events: ")
    assert "sns:GetTopicAttributes" in warning
    assert "AuthorizationError" in warning


@pytest.mark.parametrize("stdout", ["taken", "full", "gone"])
async def test_a_region_that_stops_part_way_still_warns_of_what_it_found(
    local_sqs: LocalSqs,
    sqs: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    stdout: str,
) -> None:
    """SES refuses the configuration set after setup found the queue encrypted with
    AWS's own key: the warning is said before the failure's line, so the run that is to
    finish it is not the first to learn that no event could arrive. Both are said on
    standard error whatever became of the report of what was made: on a full disk
    (status 1, said last) or to a reader gone (``| head -1``: 141), the user still
    learns why setup stopped and how to finish it."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    name = f"w{uuid.uuid4().hex[:8]}"
    attributes = {"KmsMasterKeyId": "alias/aws/sqs"}
    await sqs.create_queue(QueueName=f"{name}-events", Attributes=attributes)
    async with SesDenied(local_sqs.url) as denied:
        capsys.readouterr()
        if stdout != "taken":
            monkeypatch.setattr(sys, "stdout", _Refusing(stdout))
        argv = ["setup", "--name", name, "--endpoint-url", denied.url]
        code, last = _OUTCOME[stdout]
        assert await anyio.to_thread.run_sync(main, argv) == (code or 1)
    err = capsys.readouterr().err.splitlines()
    if last:
        assert err.pop() == last
    warning, failed = err
    assert warning.startswith(f"sesd: warning: us-east-1: queue {name}-events is encrypted ")
    assert failed.startswith("sesd: setup failed in us-east-1: ClientError: ")
