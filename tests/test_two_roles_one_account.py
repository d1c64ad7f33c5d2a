"""Two ``[[accounts]]`` entries whose roles reach one AWS account (one for each
region): the mail and the tenant events of that account in a region one entry watches
count under that entry, not under whichever entry the config named last (which does
not poll that region: no account rule, no tenant poll reads it there)."""

from __future__ import annotations

from sesd.config import core_settings, parse_config
from sesd.core.ledger import Ledger
from sesd.core.pipeline import Pipeline
from sesd.core.tenant_reach import named_now
from sesd.core.tenants import TenantNotice
from tests import factory as f

ACCOUNT = "123456789012"
EU, US, AP = "eu-west-1", "us-east-1", "ap-southeast-2"
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


def test_mail_where_no_entry_watches_counts_under_the_label_whose_poll_found_it() -> None:
    """The default credentials reach the account too, and alone watch ap-southeast-2.
    Once their poll there names the account (its tenants' ARNs did), its mail sent
    there counts in ``default``'s reputation estimate, whose account rule reads it, as
    its tenant events do: not under an entry no poll or rule reads there. Mail sent
    before the poll named it counted as before (nothing said which label reaches it)."""
    south = f'[[queues]]\nurl = "https://sqs.{AP}.amazonaws.com/{ACCOUNT}/ap"\n'
    settings = core_settings(parse_config(f"{QUEUE}{south}{_entry('eu', EU)}{_entry('us', US)}"))
    pipeline = Pipeline(settings)
    ledger = pipeline.ledger

    def sent(n: int) -> None:
        for i in range(n):
            event = f.simple("Send", [f"a{i}@x.example"])
            event["mail"]["sourceArn"] = f"arn:aws:ses:{AP}:{ACCOUNT}:identity/x.example"
            event["mail"]["sendingAccountId"] = ACCOUNT
            assert pipeline.feed(f.raw(event), "ap", f.T0).outcome == "processed"

    sent(3)
    # The default credentials' ListTenants there named the account, as the poller tells.
    roles = (ledger.tenant_status.roles, ledger.tenant_status.watched)
    named_now(ledger.accounts, ledger.tenant_map, ("default", AP), ACCOUNT, roles)
    sent(10)
    estimate = ledger.reputation.estimate(("default", AP, ""))
    assert estimate is not None
    assert estimate.sends == 10
