"""The label an AWS account's mail counts under, read without a daemon
(``sender_label``): the entry whose role reaches the account where it is watched;
else a label watching the region whose own poll there found that account; else the
entry whose role reaches it; else none. A poll that found another account, a poll in
another region, or a role's status naming the account it reached before a restart
lends no label: mail of an account nothing reaches counted under one."""

from __future__ import annotations

from dataclasses import replace

from sesd.config import core_settings, parse_config
from sesd.core.accounts import Accounts
from sesd.core.settings import CoreSettings
from sesd.core.tenant_reach import sender_label

ACCOUNT = "123456789012"
OTHER = "210987654321"
EU, US = "eu-west-1", "us-east-1"


def _settings(watched: list[tuple[str, str]], roles: dict[str, str]) -> CoreSettings:
    queue = f'[[queues]]\nurl = "https://sqs.{EU}.amazonaws.com/{ACCOUNT}/q"\n'
    names = {i: n for n, i in roles.items()}
    settings = core_settings(parse_config(queue))
    return replace(settings, watched=tuple(watched), roles=roles, account_names=names)


def _polled(*found: tuple[str, str, str]) -> Accounts:
    """Statuses of (label, region) whose polls found an account id."""
    accounts = Accounts()
    for label, region, account_id in found:
        accounts.record((label, region)).account_id = account_id
    return accounts


def test_a_label_whose_poll_there_found_the_account_is_its_label() -> None:
    settings = _settings([("default", US)], {})
    assert sender_label(settings, _polled(("default", US, ACCOUNT)), ACCOUNT, US) == "default"


def test_a_poll_that_found_another_account_lends_no_label() -> None:
    """``default`` watches us-east-1, and its poll there found another account."""
    settings = _settings([("default", US)], {})
    assert sender_label(settings, _polled(("default", US, OTHER)), ACCOUNT, US) is None


def test_a_poll_in_another_region_lends_no_label() -> None:
    """``default`` found the account in eu-west-1: mail of it in us-east-1 is not its."""
    settings = _settings([("default", US), ("default", EU)], {})
    assert sender_label(settings, _polled(("default", EU, ACCOUNT)), ACCOUNT, US) is None


def test_a_poll_where_the_label_is_not_watched_lends_no_label() -> None:
    settings = _settings([("default", EU)], {})
    assert sender_label(settings, _polled(("default", US, ACCOUNT)), ACCOUNT, US) is None


def test_a_roles_status_naming_the_account_it_reached_before_lends_no_label() -> None:
    """``prod``'s role reaches another account now; its status (restored, not polled
    yet) still names ACCOUNT: mail of ACCOUNT is not ``prod``'s."""
    settings = _settings([("prod", US)], {"prod": OTHER})
    assert sender_label(settings, _polled(("prod", US, ACCOUNT)), ACCOUNT, US) is None
    assert sender_label(settings, _polled(("prod", US, ACCOUNT)), OTHER, US) == "prod"


def test_the_entry_reaching_the_account_elsewhere_is_the_last_answer() -> None:
    """``prod``'s role reaches ACCOUNT, watched in eu-west-1 alone; ``default`` polls
    us-east-1 and found another account there: mail of ACCOUNT in us-east-1 is prod's."""
    settings = _settings([("prod", EU), ("default", US)], {"prod": ACCOUNT})
    accounts = _polled(("default", US, OTHER), ("prod", EU, ACCOUNT))
    assert sender_label(settings, accounts, ACCOUNT, US) == "prod"
    assert sender_label(settings, accounts, ACCOUNT, EU) == "prod"
