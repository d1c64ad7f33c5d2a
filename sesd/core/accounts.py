"""What SES said of each (account, region) at its last poll, and the polls that failed.

The account poller (:mod:`sesd.account.poller`) writes here through
:class:`Accounts`' methods; rules and metrics read it. Pure data.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from sesd.core.globs import glob_takes_a_sequence
from sesd.core.text import clean

__all__ = [
    "ACCOUNT_NAME",
    "DEFAULT_ACCOUNT",
    "STATUSES",
    "WORD",
    "AccountStatus",
    "Accounts",
    "Target",
    "glob_takes_an_account",
    "is_account_label",
    "is_region",
]

#: (account label, region)
Target = tuple[str, str]
#: An AWS account id.
_ACCOUNT_ID: Final = re.compile(r"\d{12}")
#: The ``account`` label of what the default credentials read (no ``[[accounts]]``
#: entry may take it).
DEFAULT_ACCOUNT: Final = "default"
#: An AWS region's name (``eu-west-1``, ``us-gov-west-1``, ``cn-north-1``), its middle
#: word bounded (AWS's longest has 9 letters): events' ARNs name one too.
_REGION: Final = re.compile(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]{1,16}-\d")
#: An ``[[accounts]]`` entry's name (``default`` is the default account's).
ACCOUNT_NAME: Final = re.compile(r"[A-Za-z0-9_.-]{1,64}")
#: :data:`_REGION`'s names item by item, as a glob is tried on them: two letters, a
#: ``-gov`` or ``-iso`` (with a letter or not), a word, a digit.
_REGION_ITEMS: Final = tuple(
    (
        (string.ascii_lowercase, 2, 2),
        *middle,
        ("-", 1, 1),
        (string.ascii_lowercase, 1, 16),
        ("-", 1, 1),
        (string.digits, 1, 1),
    )
    for middle in (
        (),
        tuple((c, 1, 1) for c in "-gov"),
        (*((c, 1, 1) for c in "-iso"), (string.ascii_lowercase, 0, 1)),
    )
)


def is_region(text: str) -> bool:
    """Whether ``text`` is an AWS region's name."""
    return _REGION.fullmatch(text) is not None


def is_account_label(label: str) -> bool:
    """Whether ``label`` reads as an account rule's alert's (``ACCOUNT/REGION``, as
    sesd.alerting.windowless writes it: an ``[[accounts]]`` name, or ``default``, and
    an AWS region)."""
    account, _, region = label.partition("/")
    return ACCOUNT_NAME.fullmatch(account) is not None and is_region(region)


def glob_takes_an_account(pattern: str, accounts: Iterable[str]) -> bool:
    """Whether a glob takes some ``ACCOUNT/REGION`` label (an account rule's alert's) of
    one of ``accounts``: the account's name as given, ``/``, an AWS region's name."""
    return any(
        glob_takes_a_sequence(pattern, (*((c, 1, 1) for c in f"{account}/"), *region))
        for account in accounts
        for region in _REGION_ITEMS
    )


#: The longest enforcement status kept (SES's are one word).
WORD: Final = 64
#: SES's enforcement statuses.
STATUSES: Final = ("HEALTHY", "PROBATION", "SHUTDOWN")


@dataclass(slots=True)
class AccountStatus:
    """What the last successful polls said of one (account, region)."""

    sending_enabled: bool | None = None
    enforcement: str | None = None
    production: bool | None = None
    max_24h: float | None = None
    max_rate: float | None = None
    sent_24h: float | None = None
    #: AWS's own reputation figures (CloudWatch), by ``bounce`` / ``complaint``.
    aws: dict[str, float] = field(default_factory=dict)
    #: When CloudWatch stamped each figure's datapoint, Unix time: how old it is. A
    #: figure with no datapoint in the hours a poll asks for is dropped, not kept.
    aws_at: dict[str, float] = field(default_factory=dict)
    #: When the last round of calls ended, answered or not, Unix time.
    polled_at: float | None = None
    #: When each API last answered (``get_account``, ``get_metric_data``), Unix time:
    #: the age of what is shown, which a storm of refused polls leaves as it was.
    answered: dict[str, float] = field(default_factory=dict)
    #: The walk of its tenants' resources (with ``[tenants]``), which a large account
    #: spreads over polls: the tenants ListTenants listed for the walk under way (or the
    #: last one; None until a list was read to its end), and how many of them were
    #: walked. Until a walk ends, the map is the last complete one's (none at first:
    #: events of a tenant not mapped count as ``unknown``).
    tenants_listed: int | None = None
    tenants_mapped: int = 0
    #: When a walk last read every tenant's resources and the map was replaced.
    tenant_map_at: float | None = None
    #: The AWS account id its tenants' ARNs named (with ``[tenants]``): the account the
    #: label reaches, known so alone for the default credentials (a role's, its ARN's).
    account_id: str | None = None
    #: The id :attr:`account_id` held before a listing here came back empty (its last
    #: tenant deleted), until one names an account again: an empty listing says nothing
    #: of which account the credentials reach, and that account's mail here still
    #: counts under the label (sesd.core.tenant_reach.sender_label).
    emptied: str | None = None

    def moved(self, step: float, most: float = math.inf) -> None:
        """The times of this host's clock moved ``step`` seconds, none past ``most``."""
        if self.polled_at is not None:
            self.polled_at = min(self.polled_at + step, most)
        if self.tenant_map_at is not None:
            self.tenant_map_at = min(self.tenant_map_at + step, most)
        self.answered = {api: min(at + step, most) for api, at in self.answered.items()}

    @property
    def quota_used_ratio(self) -> float | None:
        """Sent in the last 24 h over the 24-hour quota (None until both are known)."""
        if self.max_24h is None or self.sent_24h is None or self.max_24h <= 0:
            return None
        return self.sent_24h / self.max_24h


class Accounts:
    """Every watched (account, region): its status, and failed polls by API and error."""

    __slots__ = ("accepted", "asked", "errors", "reach", "status")

    def __init__(self) -> None:
        self.status: dict[Target, AccountStatus] = {}
        #: (account, region, api, error code) -> failed polls
        self.errors: dict[tuple[str, str, str, str], int] = {}
        #: (account, region, api) of each API called, failed or not: its failed polls
        #: are exported at 0 before the first (sesd.metrics.accounts).
        self.asked: set[tuple[str, str, str]] = set()
        #: When AWS last answered a call signed with each target's credentials (its
        #: account's), Unix time, until they are refused there: where the credentials
        #: are known to work. Memory only: it speaks of the credentials sesd runs with.
        self.accepted: dict[Target, float] = {}
        #: Counts the polls that named another AWS account id for a target than it had
        #: (:attr:`AccountStatus.account_id`): where each sender's mail counts is asked
        #: again then (sesd.core.tenant_reach.sender_label reads those ids).
        self.reach = 0

    def record(self, target: Target) -> AccountStatus:
        """The status of ``target``, to write an answer into (made empty on first use:
        a read goes to ``status``)."""
        found = self.status.get(target)
        if found is None:
            found = self.status[target] = AccountStatus()
        return found

    def snapshot(self, roles: Mapping[str, str] | None = None) -> list[list[Any]]:
        """Plain data for the state file: the last answers stand after a restart until
        a poll answers again (a pause must not resolve while GetAccount is throttled).
        An ``[[accounts]]`` entry's names the AWS account its role reaches
        (``role_account``, of ``roles``: each entry's, by its name)."""
        roles = roles or {}
        rows = []
        for (account, region), status in self.status.items():
            saved = msgspec.to_builtins(status)
            if account in roles:
                saved["role_account"] = roles[account]
            rows.append([account, region, saved])
        return rows

    def restore(
        self,
        rows: list[list[Any]],
        where: set[Target],
        roles: Mapping[str, str] | None = None,
        *,
        listings: bool = True,
        polls: Collection[str] = ("get_account", "get_metric_data"),
    ) -> set[Target]:
        """Load what :meth:`snapshot` returned, for the targets in ``where`` (those
        configured now), but an entry's whose role reaches another AWS account now than
        the file names (``roles``, as :meth:`snapshot` takes them): what another account
        said (a pause, its quota) would stand under the entry until a poll answers, and
        for the run while the new role's GetAccount fails. Returns those entries'
        targets: what the file says of their tenants is the other account's too. Without
        ``listings`` (``[tenants]`` off), the AWS account ids the file's listings named
        are not kept: no listing will correct them (the credentials may reach another
        account now), and the old one's mail would count under the label for good."""
        roles, moved = roles or {}, set()
        for account, region, saved, *_ in rows:  # items a later build added: not ours
            reached = _reached(saved) if account in roles else None
            if reached is not None and roles[account] != reached:
                moved.add((str(account), str(region)))
                continue
            if (account, region) in where:
                status = msgspec.convert(saved, AccountStatus)
                # How far a walk under way had come is the walk's own to say, if it
                # resumes (sesd.core.tenant_walks); else the next starts from the first.
                status.tenants_listed, status.tenants_mapped = None, 0
                # Cleaned and cut as GetAccount's own word is (an older build's file,
                # or one edited): alert texts and the status page show it.
                if status.enforcement is not None:
                    status.enforcement = clean(status.enforcement, WORD) or None
                if status.account_id is not None and not _ACCOUNT_ID.fullmatch(status.account_id):
                    status.account_id = None
                if status.emptied is not None and not _ACCOUNT_ID.fullmatch(status.emptied):
                    status.emptied = None
                if not listings:
                    status.account_id = status.emptied = None
                _unpolled(status, polls)
                self.status[(str(account), str(region))] = status
        self.reach += 1  # (the ids the file's polls named)
        return moved

    def ids(self) -> set[tuple[str, str]]:
        """(AWS account id, account label) of each target whose tenants named its id."""
        return {(s.account_id, target[0]) for target, s in self.status.items() if s.account_id}

    def watch(self, where: set[Target]) -> None:
        """Only the targets in ``where`` (those a reload left configured): what SES said
        of another, and its failed polls, are forgotten (no poll will speak of it again;
        a restart drops it alike), and its alerts resolve."""
        for target in [t for t in self.status if t not in where]:
            del self.status[target]
        self.errors = {key: n for key, n in self.errors.items() if key[:2] in where}
        self.asked = {key for key in self.asked if key[:2] in where}
        self.accepted = {key: at for key, at in self.accepted.items() if key in where}

    def calling(self, target: Target, api: str) -> None:
        """Note that ``api`` is called for ``target`` (before the call: a first failure
        is then a step from 0)."""
        self.asked.add((*target, api))

    def failed(self, target: Target, api: str, code: str) -> None:
        """Count one failed poll."""
        key = (*target, api, code)
        self.asked.add(key[:3])
        self.errors[key] = self.errors.get(key, 0) + 1

    def answered(self, target: Target, at: float) -> None:
        """AWS took a call signed with ``target``'s credentials at ``at``: answered it,
        or refused an action they may not take (which it decides once it knows them)."""
        self.accepted[target] = at

    def refused(self, target: Target) -> None:
        """AWS refused ``target``'s credentials themselves (unknown, expired, a
        signature that does not match): no longer where they are known to work."""
        self.accepted.pop(target, None)

    def stepped(self, step: float) -> None:
        """The wall clock stepped by ``step`` seconds: when the credentials were last
        answered moves with it (ahead, an answer a minute old read as the step's length
        old, vouching for nothing; back, one vouched the step's length longer), and so
        do when each target was last polled, each API last answered and its tenant map
        last made, which the status page shows as ages (ahead, a poll a minute old read
        as the step's length old; back, as ahead of the clock), until the next poll or
        walk. CloudWatch's datapoint times (:attr:`AccountStatus.aws_at`) are AWS's."""
        for target, at in self.accepted.items():
            self.accepted[target] = at + step
        for status in self.status.values():
            status.moved(step)

    def held_to(self, now: float) -> None:
        """No time of this clock's read later than ``now`` (a state file saved ahead)."""
        for status in self.status.values():
            status.moved(0.0, now)

    def accepted_elsewhere(self, target: Target, since: float) -> list[str]:
        """The other regions where ``target``'s account's credentials were answered
        since ``since`` and not refused after: a refusal in ``target``'s region alone
        is then the region's (one the account has not enabled), not the key's."""
        account, region = target
        return sorted(
            other
            for (named, other), at in self.accepted.items()
            if named == account and other != region and at >= since
        )


def _unpolled(status: AccountStatus, polls: Collection[str]) -> None:
    """``status`` without the answers of the APIs not in ``polls``."""
    if "get_account" not in polls:
        status.sending_enabled = status.enforcement = status.production = None
        status.max_24h = status.max_rate = status.sent_24h = status.polled_at = None
    if "get_metric_data" not in polls:
        status.aws, status.aws_at = {}, {}
    status.answered = {api: at for api, at in status.answered.items() if api in polls}


def _reached(saved: Any) -> str | None:
    """The AWS account an entry's saved status is of: the role's it names, else (an
    earlier build's file) the id its tenants' ARNs named (with ``[tenants]``: a
    role's tenants are its account's); None where the file does not say."""
    named = saved.get("role_account", saved.get("account_id")) if isinstance(saved, dict) else None
    return named if isinstance(named, str) and _ACCOUNT_ID.fullmatch(named) else None
