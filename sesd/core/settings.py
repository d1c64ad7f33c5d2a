"""What the core takes from the config: plain values, so that the core knows nothing
of the config file. ``sesd.config.core_settings`` makes them from a ``Config``, which
owns every default."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["CoreSettings", "entry_watching"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CoreSettings:
    """The windows' layout, the bounds of every store, and where each queue is."""

    #: (label, seconds) of each window, e.g. ("5m", 300.0).
    windows: tuple[tuple[str, float], ...]
    resolution: float
    max_buckets: int
    #: Windows whose breakdowns (delay types, codes, MTAs) are kept: those rules read.
    breakdowns: frozenset[str]
    #: Domains always tracked, and groups (label -> domains and globs).
    track: tuple[str, ...]
    groups: dict[str, tuple[str, ...]]
    max_tracked: int
    idle_evict: float
    #: Message tags counted as dimensions, and their label cap.
    tags: tuple[str, ...]
    tags_max_tracked: int
    #: Mailbox providers: counted or not, the user's MX suffixes, the answers kept.
    providers: bool
    mx: dict[str, tuple[str, ...]]
    providers_max_cache: int
    #: SES tenants: counted or not, the tags that name an event's tenant, the label cap.
    tenants: bool
    tenant_tags: tuple[str, ...]
    tenants_max_tracked: int
    #: Tenants a rule names: they always hold a label of their own.
    tenants_track: tuple[str, ...]
    dedup_max_entries: int
    max_pending_delays: int
    reputation_window_sends: int
    #: The canary's deadline (0 without a canary) and the queue its events come from.
    canary_deadline: float
    canary_queue: str
    #: Full recipient addresses allowed in invalid results (debugging only).
    log_recipients: bool
    #: The default account's region, and each configured queue's (account, region).
    region: str
    queues: dict[str, tuple[str, str]]
    #: The (account, region) pairs whose health is watched: each a queue is in, and
    #: each ``[[accounts]]`` entry's, queue or none.
    watched: tuple[tuple[str, str], ...] = ()
    #: The APIs the account-health polls ask of each of them (``get_account``,
    #: ``get_metric_data``; none with ``[account_health]`` off): what a state file says
    #: of another's answers no poll will correct.
    account_polls: frozenset[str] = frozenset({"get_account", "get_metric_data"})
    #: Each ``[[accounts]]`` entry's name, by its 12-digit id (its role's).
    account_names: dict[str, str] = field(default_factory=dict)
    #: Each ``[[accounts]]`` entry's role's 12-digit id, by its name: two entries may
    #: reach one AWS account (``account_names`` keeps one of them).
    roles: dict[str, str] = field(default_factory=dict)

    def reached(self, polled: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """The (AWS account id, region)s watched: each ``[[accounts]]`` entry's role's
        account, the others' (the default credentials') as the polls found them,
        ``polled`` ((AWS account id, the label it was polled under) pairs)."""
        ids = self.reaching(polled)
        return {(i, region) for i, label in ids for on, region in self.watched if on == label}

    def reaching(self, polled: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """(AWS account id, label) of the account each label reaches: an ``[[accounts]]``
        entry's role's, the others' as ``polled`` found them (see :meth:`reached`)."""
        return {
            *((i, name) for name, i in self.roles.items()),
            *((i, label) for i, label in polled if label not in self.roles),
        }


def entry_watching(
    roles: Mapping[str, str], watched: Collection[tuple[str, str]], account_id: str, region: str
) -> str | None:
    """The ``[[accounts]]`` entry (of ``roles``: each one's role's AWS account id, by its
    name) whose role reaches ``account_id`` and that watches ``region`` (of ``watched``:
    (label, region)s): two entries may reach one account, each in its own region."""
    return next((n for n, i in roles.items() if i == account_id and (n, region) in watched), None)
