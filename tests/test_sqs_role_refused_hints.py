"""A queue read through an account's role whose AssumeRole STS refuses with
``AccessDenied`` (the role's trust policy, an external id): the SQS call fails before
it is sent, with STS's code, the same word IAM uses to refuse an SQS action. The check
of the queue and a delete then say what is wrong, the role: not a permission of SQS's
to grant (which the role, once assumed, may well have)."""

from __future__ import annotations

import io
from contextlib import AsyncExitStack
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sesd.account.failures import hint as account_hint
from sesd.config import core_settings, parse_config
from sesd.config.aws import ROLE_NOT_ASSUMED
from sesd.core.pipeline import Pipeline
from sesd.io.aws_errors import error_code
from sesd.io.logs import get_logger
from sesd.metrics.registry import Metrics
from sesd.runtime.aws import AwsClients, poll_config
from sesd.runtime.sqs_calls import check_queue, hint_for
from sesd.runtime.sqs_deletes import Deletes
from tests.conftest import said_in
from tests.fake_ses import ROLE_ACCOUNT, FakeSes

pytestmark = pytest.mark.timeout(30)

QUEUE = 'name = "q"\nurl = "https://sqs.eu-west-1.amazonaws.com/210987654321/q"\n'


async def test_a_role_sts_refuses_is_said_as_the_role_s_not_a_grant(json_logs: io.StringIO) -> None:
    """STS refuses the role with AccessDenied at the check and at a delete: the check
    does not warn to grant sqs:GetQueueAttributes, and the delete's error names the
    role's hint, not sqs:DeleteMessage."""
    async with FakeSes() as fake, AsyncExitStack() as stack:
        fake.script_sts(403, 403)
        config = parse_config(
            f'[aws]\nendpoint_url = "{fake.url}"\n{ROLE_ACCOUNT}[[queues]]\n{QUEUE}'
            'account = "prod-eu"\n'
        )
        queue = config.queues[0]
        sqs = await AwsClients(config, stack).client(
            "sqs", "prod-eu", "eu-west-1", poll_config(attempts=1)
        )
        assert not await check_queue(sqs, queue, "prod-eu", "eu-west-1")
        metrics = Metrics(Pipeline(core_settings(config)).ledger, config.queues, lambda: 0.0)
        deletes = Deletes(sqs, queue, metrics.sqs_counts(queue), get_logger(queue="q"))
        messages: Any = [{"MessageId": "m1", "ReceiptHandle": "r1"}]
        assert await deletes.delete(messages) == 0
        assert len(fake.assume_role) == 2
    said = said_in(json_logs)
    check = said["sesd.sqs.attributes_failed"]
    assert check["level"] == "debug"
    assert "GetQueueAttributes" not in check.get("hint", "")
    refused = said["sesd.sqs.delete_refused"]
    assert refused["hint"].startswith(ROLE_NOT_ASSUMED)


@pytest.mark.parametrize(
    ("code", "said"),
    [
        ("ExpiredToken", "the session token has expired"),
        ("InvalidClientTokenId", "the access key is not valid"),
        ("SignatureDoesNotMatch", "the secret access key does not match"),
        ("AccessDenied", None),
        ("RegionDisabledException", "activate STS in that region for the role's account"),
    ],
)
async def test_sts_refusing_the_credentials_names_them_not_the_role(
    code: str, said: str | None
) -> None:
    """STS refuses AssumeRole for the credentials sesd asks with (their session token
    expired, their key unknown, their secret wrong): what to fix is those credentials,
    not the role's trust policy or external id. A refusal of the role itself
    (AccessDenied) still names the role. STS not activated in the region it is asked
    in (RegionDisabledException) is that region's: no role's ARN or trust to check;
    named, as the entry's (eu-west-1), not the failed call's (eu-central-1), which the
    log line shows. Said alike by an SQS call's and an account poll's failure."""
    async with FakeSes() as fake, AsyncExitStack() as stack:
        fake.script_sts((403, code))
        config = parse_config(f'[aws]\nendpoint_url = "{fake.url}"\n' + ROLE_ACCOUNT)
        sqs = await AwsClients(config, stack).client(
            "sqs", "prod-eu", "eu-central-1", poll_config(attempts=1)
        )
        with pytest.raises(ClientError) as raised:
            await sqs.list_queues()
    failure = raised.value
    for hint in (hint_for(failure), account_hint("get_account", error_code(failure), failure)):
        if said is None:
            assert hint == ROLE_NOT_ASSUMED
        else:
            assert hint is not None
            assert said in hint
            whose = "credentials sesd assumes the account's role with" in hint
            assert whose is (code != "RegionDisabledException")
            if code == "RegionDisabledException":
                assert hint.startswith("STS is not activated in eu-west-1 ")
                assert "eu-central-1" not in hint
