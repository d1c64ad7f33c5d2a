"""A reload that fails at its last step, making an added queue's SQS clients, changes
nothing: real signals to ``sesd run`` as a process, moto's SQS and STS."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from sesd.commands.demo.localsqs import LocalSqs
from tests import factory as f
from tests.conftest import make_queue, send_bodies
from tests.sesd_process import SesdProcess, config_file, sesd_process

RULE = (
    '[[alerts.rules]]\nname = "any-delay"\nmetric = "delayed_recipients"\nwindow = "5m"\n'
    'above = 0\nsinks = ["console"]\n'
)
#: A role of the account moto made the queues in: its credentials read them.
ROLE = "arn:aws:iam::123456789012:role/sesd-reader"


async def _reload(sesd: SesdProcess, outcome: str) -> dict[str, Any]:
    sesd.process.send_signal(signal.SIGHUP)
    with anyio.fail_after(20):
        return await sesd.wait_for_event(outcome)


@pytest.mark.timeout(120)
async def test_a_reload_whose_added_queue_cannot_be_opened_keeps_the_running_config_whole(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """A reload adds a rule and a queue read through a new [[accounts]] role, but the
    AWS SDK's config file was broken meanwhile, so the new account's clients cannot be
    made. The reload fails and says the running config is kept: and it is, whole (no
    series of the queue, the rule not in force). Once the SDK's file is mended, the
    same file reloads: the rule comes as added and the queue is polled."""
    first, _ = await make_queue(sqs)
    second, _ = await make_queue(sqs)
    sdk_file = tmp_path / "aws-config"
    sdk_file.write_text("")
    base = (
        f'[aws]\nendpoint_url = "{local_sqs.url}"\nregion = "us-east-1"\n'
        f'[[queues]]\nurl = "{first}"\nname = "first"\nwait_time_seconds = 1\n'
        '[alerts]\nevaluate_every = "100ms"\ngroup_wait = "0s"\n'
    )
    config = config_file(tmp_path, base)
    async with sesd_process(config, env={"AWS_CONFIG_FILE": str(sdk_file)}) as sesd:
        # The default credentials' session read the file at the start; the new
        # account's session reads it when its first client is made.
        sdk_file.write_text("[default\nregion = us-east-1\n")
        config_file(
            tmp_path,
            base
            + f'[[accounts]]\nname = "reader"\nrole_arn = "{ROLE}"\n'
            + f'[[queues]]\nurl = "{second}"\nname = "second"\naccount = "reader"\n'
            + "wait_time_seconds = 1\n"
            + RULE,
        )
        failed = await _reload(sesd, "sesd.config.reload_failed")
        assert failed["kept"] == "running config"
        assert failed["error"] == f"ConfigParseError: Unable to parse config file: {sdk_file}"
        metrics = await sesd.metrics()
        assert metrics[("sesd_config_last_reload_successful", ())] == 0
        assert [key for key in metrics if ("queue", "second") in key[1]] == []

        sdk_file.write_text("")
        reloaded = await _reload(sesd, "sesd.config.reloaded")
        assert reloaded["queues"] == ["first", "second"]
        assert reloaded["rules_added"] == ["any-delay"]
        await send_bodies(sqs, second, [f.raw(f.delay(["x@late.example"], at=time.time()))])
        with anyio.fail_after(30):
            await sesd.wait_for(
                lambda r: (
                    r.get("event") == "sesd.alert.firing" and r.get("domain") == "late.example"
                )
            )
        assert (await sesd.metrics())[("sesd_config_last_reload_successful", ())] == 1


async def test_an_account_a_reload_adds_again_signs_with_its_new_role() -> None:
    """A reload added an [[accounts]] entry whose role was a slip, another reload
    removed it, a third adds it again with the right role: its clients sign with the
    right role's credentials, not with those of the clients made for the first. (moto
    lets any account's credentials read a queue by its URL, so the role a client
    assumed is read from the credentials it signs with.)"""
    from contextlib import AsyncExitStack

    from aiobotocore.config import AioConfig

    from sesd.config import parse_config
    from sesd.runtime.aws import AwsClients

    def reader(role: str) -> Any:
        return parse_config(f'[[accounts]]\nname = "reader"\nrole_arn = "{role}"\n')

    slip, right = "arn:aws:iam::210987654321:role/r", "arn:aws:iam::123456789012:role/r"
    assumed: list[str] = []

    async def assume(account: Any) -> dict[str, str]:
        assumed.append(account.role_arn)
        return {
            "access_key": f"AKIA{account.role_arn.split(':')[4]}",
            "secret_key": "secret",
            "token": "token",
            "expiry_time": "2099-01-01T00:00:00+00:00",
        }

    async with AsyncExitStack() as stack:
        clients = AwsClients(parse_config(""), stack)
        clients._assume = assume  # type: ignore[method-assign]
        signed = []
        for config in (reader(slip), reader(right)):
            client = await clients.client(
                "sqs", "reader", "us-east-1", AioConfig(), "http://127.0.0.1:9", accounts=config
            )
            credentials = await client._request_signer._credentials.get_frozen_credentials()
            signed.append(credentials.access_key)
    assert assumed == [slip, right]
    assert signed == ["AKIA210987654321", "AKIA123456789012"]
