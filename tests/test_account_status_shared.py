"""One (account, region)'s status is written by two pollers: the account poller's
GetAccount and CloudWatch answers, and the tenant poller's walk (how far it came, the
AWS account id its tenants named). An account a reload adds has no status until one
of them makes it; the tenant poller's listing may end while GetAccount is awaited.
The account poller's answer must land in the status kept, not in one of its own
dropped for the other's: its pause was else read a whole ``poll_every`` later.
SESv2 and CloudWatch are the local fakes, their answers parsed by botocore."""

from __future__ import annotations

import anyio

from sesd.core.accounts import Target
from tests.fake_ses import healthy_account
from tests.test_cloudwatch_statuses import TARGET, _polled

#: An (account, region) a reload adds: no status until a poller makes one.
ADDED: Target = ("default", "us-east-2")


async def test_a_get_account_answer_is_kept_when_the_tenant_poller_made_the_status() -> None:
    """The round's GetAccount of the added target is held; meanwhile the tenant
    poller records its status (its listing ended). Once answered, the kept status
    says sending is paused, as SES answered, and when GetAccount answered."""
    async with _polled() as (ses, _cloudwatch, poller):
        poller.targets = [TARGET, ADDED]  # as a reload does, after the ledger's watch
        ses.account = {**healthy_account(), "SendingEnabled": False}
        ses.account_gate = anyio.Event()
        with anyio.fail_after(20):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(poller.poll_once)
                await ses.wait_for(lambda fake: fake.account_requests == 2)
                made = poller.accounts.record(ADDED)  # the tenant poller's, meanwhile
                made.tenants_listed = 3
                ses.account_gate.set()
        status = poller.accounts.status[ADDED]
        assert status is made
        assert status.sending_enabled is False
        assert status.tenants_listed == 3
        assert "get_account" in status.answered
