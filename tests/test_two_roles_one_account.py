"""Two ``[[accounts]]`` entries whose roles reach one AWS account (one for each
region): the mail and the tenant events of that account in a region one entry watches
count under that entry, not under whichever entry the config named last (which does
not poll that region: no account rule, no tenant poll reads it there)."""

from __future__ import annotations

from sesd.config import core_settings, parse_config
from sesd.core.ledger import Ledger
from sesd.core.tenants import TenantNotice

ACCOUNT = "123456789012"
EU, US = "eu-west-1", "us-east-1"
QUEUE = (
    f'[tenants]\nenabled = true\n[[queues]]\nurl = "https://sqs.{EU}.amazonaws.com/{ACCOUNT}/eu"\n'
)


def _entry(name: str, region: str) -> str:
    return (
        f'[[accounts]]\nname = "{name}"\nrole_arn = "arn:aws:iam::{ACCOUNT}:role/{name}"\n'
        f'region = "{region}"\n'
    )


def _ledger() -> Ledger:
    return Ledger(core_settings(parse_config(f"{QUEUE}{_entry('eu', EU)}{_entry('us', US)}")))


def test_the_mail_counts_under_the_entry_watching_its_region() -> None:
    ledger = _ledger()
    for region, name in [(EU, "eu"), (US, "us")]:
        arn = f"arn:aws:ses:{region}:{ACCOUNT}:identity/x.example"
        assert ledger.sender("q", arn, "") == (name, region)


def test_tenant_events_count_under_the_entry_watching_their_region() -> None:
    """The default credentials' poll named the account last: the entry still counts
    its events where it is watched."""
    ledger = _ledger()
    statuses = ledger.tenant_status
    statuses.named(ACCOUNT, "eu")
    statuses.named(ACCOUNT, "default")
    for region, name in [(EU, "eu"), (US, "us")]:
        statuses.apply(TenantNotice(region, ACCOUNT, "initech", 1.0, status="DISABLED"))
        assert (name, region, "initech") in statuses.status


def test_tenant_events_where_no_entry_watches_count_under_the_default_credentials() -> None:
    """The default credentials, reaching the account too, also watch ap-southeast-2,
    where neither entry does; both entries' polls name the account after theirs: its
    events there count under ``default``, whose polls read that region, as with one
    entry, not under the entry the config named first."""
    south = f'[[queues]]\nurl = "https://sqs.ap-southeast-2.amazonaws.com/{ACCOUNT}/ap"\n'
    config = f"{QUEUE}{south}{_entry('eu', EU)}{_entry('us', US)}"
    statuses = Ledger(core_settings(parse_config(config))).tenant_status
    for label in ["default", "us", "eu"]:
        statuses.named(ACCOUNT, label)
    statuses.apply(TenantNotice("ap-southeast-2", ACCOUNT, "initech", 1.0, status="DISABLED"))
    assert list(statuses.status) == [("default", "ap-southeast-2", "initech")]
