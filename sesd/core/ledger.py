"""Every in-memory store, in one place: what the pipeline writes and every reader reads.

The pipeline (:mod:`sesd.core.pipeline`) is the only writer of events; the
account poller and the canary write through their stores' methods; metrics,
rules, the status of a replay and the state file read. Each store is declared
below as saved (a restart keeps it: the state file) or transient (a restart
starts it afresh), with the reason; a test holds every store to one of the
two.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from sesd.core.accounts import DEFAULT_ACCOUNT, Accounts, is_region
from sesd.core.canary import CanaryTracker
from sesd.core.dedup import DuplicateFilter
from sesd.core.label_table import LabelTable, domain_labels
from sesd.core.ledger_file import all_windows, label_maker, restore_into, snapshot_of
from sesd.core.ledger_steps import moved
from sesd.core.pending import PendingDelays
from sesd.core.provider_cache import ProviderCache
from sesd.core.providers import NONE
from sesd.core.reputation import Reputation
from sesd.core.reputation_senders import MAX_ESTIMATED
from sesd.core.scopes import DOMAIN, PROVIDER, TENANT, Scope
from sesd.core.settings import CoreSettings
from sesd.core.tallies import Tallies
from sesd.core.tenant_map import TenantMap
from sesd.core.tenant_reach import forget_unreached, sender_label
from sesd.core.tenant_walks import TenantWalks
from sesd.core.tenants import TenantStatuses
from sesd.core.windows import DomainWindows, WindowSpec, window_specs

__all__ = ["MAX_ARN_REGIONS", "SAVED", "TRANSIENT", "Ledger"]

#: Identities whose sender is remembered (:meth:`Ledger.sender`): far more than a
#: sender has. The estimate's own cap: past it, it knows it may not know every sender.
_MAX_SENDERS: Final = MAX_ESTIMATED
#: Regions events' identity ARNs may name, each an (account, region) of the estimate
#: and its series: AWS has about 40; a flood of made-up names (a replay of strangers'
#: files) counts for the queue's region past these.
MAX_ARN_REGIONS: Final = 64

#: Stores a restart keeps, and why.
SAVED: Final = {
    "domains": "which domains hold a label: the windows are kept under those labels",
    "by_domain": "the windows of each domain: a restart must not lose the last hour",
    "by_provider": "the windows of each mailbox provider, likewise",
    "tag_tables": "which tag values hold a label",
    "tag_windows": "the windows of each tag value",
    "pending": "recipients delayed and not delivered yet: how long delays last",
    "dedup": "events seen: a redelivery after a restart is still a duplicate",
    "providers": "answers from DNS: a restart would otherwise count every domain unknown",
    "by_tenant": "the windows of each SES tenant",
    "tenant_labels": "which tenants hold a label",
    "tenant_map": "which tenant each configuration set and identity belongs to: events that "
    "do not name their tenant are counted under it from the first one after a restart",
    "canary": "canaries in flight, and the names they were sent as: their events may "
    "arrive after the restart, which may have another host name (a pod's)",
    "accounts": "what SES last said of each account: it stands until a poll answers again "
    "(a restart while GetAccount is throttled must not resolve a paused account's page)",
    "tenant_status": "what SES last said of each tenant, likewise",
    "tenant_walks": "where each walk of the tenants' resources stands: a restart resumes it "
    "(a sesd restarted more often than a walk takes would else keep an older map for ever)",
}
#: Stores a restart starts afresh, and why that is right.
TRANSIENT: Final = {
    "specs": "the windows' layout: from the config (saved only to check a file against)",
    "tallies": "counters: Prometheus handles counter resets",
    "reputation": "sesd's estimate is over the next sends; AWS's own figure is polled again",
    "queues": "each queue's account and region: from the config",
    "region": "the default account's region, for a queue not configured: from the config",
    "settings": "what the ledger was made with: from the config",
    "senders": "who sent each identity's mail: from the config, the polls and the events' ARNs",
    "_arn_regions": "the regions events' ARNs named: they come again with the events",
    "widest": "the window reaching furthest back: derived from the layout",
    "horizon": "how far back that window reaches: derived from the layout",
}


class Ledger:
    """The stores (see :data:`SAVED` and :data:`TRANSIENT`), and their snapshot."""

    __slots__ = (
        "_arn_regions",
        "accounts",
        "by_domain",
        "by_provider",
        "by_tenant",
        "canary",
        "dedup",
        "domains",
        "horizon",
        "pending",
        "providers",
        "queues",
        "region",
        "reputation",
        "senders",
        "settings",
        "specs",
        "tag_tables",
        "tag_windows",
        "tallies",
        "tenant_labels",
        "tenant_map",
        "tenant_status",
        "tenant_walks",
        "widest",
    )

    def __init__(self, settings: CoreSettings) -> None:
        #: What the ledger was made with, and the latest a reload gave it.
        self.settings = settings
        # Breakdowns (delay types, SMTP codes, MTAs) are for alert text: kept only for
        # the windows that rules read.
        self.specs: list[WindowSpec] = window_specs(
            settings.windows, settings.resolution, settings.max_buckets, settings.breakdowns
        )
        # The window reaching furthest back decides which events are late (derived).
        self.widest = max(self.specs, key=lambda spec: spec.width * spec.slots)
        self.horizon = self.widest.width * self.widest.slots
        self.domains = LabelTable.for_domains(
            track=list(settings.track),
            groups={name: list(members) for name, members in settings.groups.items()},
            max_tracked=settings.max_tracked,
            idle_evict=settings.idle_evict,
        )
        self.tag_tables = {
            tag: LabelTable(max_tracked=settings.tags_max_tracked, idle_evict=settings.idle_evict)
            for tag in settings.tags
        }
        self.tag_windows: dict[tuple[str, str], DomainWindows] = {}
        self.by_domain = Scope(DOMAIN, 0, self.specs)
        #: Mailbox providers, and the answers they come from (None when not counted).
        self.by_provider: Scope | None = None
        self.providers: ProviderCache | None = None
        if settings.providers:
            self.by_provider = Scope(PROVIDER, 1, self.specs)
            self.providers = ProviderCache(settings.providers_max_cache)
        #: SES tenants (None when not counted), their labels, and what maps resources to
        #: them, and what SES says of each (kept only when counted: sesd.core.results).
        self.by_tenant: Scope | None = None
        self.tenant_labels = LabelTable(
            max_tracked=settings.tenants_max_tracked, idle_evict=settings.idle_evict
        )
        self.tenant_map = TenantMap()
        self.tenant_status = TenantStatuses(settings.watched)
        self.tenant_walks = TenantWalks()
        if settings.tenants:
            self.by_tenant = Scope(TENANT, 1 + (self.by_provider is not None), self.specs)
        self.dedup = DuplicateFilter(horizon=self.horizon, max_entries=settings.dedup_max_entries)
        self.pending = PendingDelays(settings.max_pending_delays, len(self.scopes))
        self.tallies = Tallies()
        #: sesd's estimate of AWS's bounce and complaint rates, per account and region.
        self.reputation = Reputation(settings.reputation_window_sends)
        self.accounts = Accounts()
        self.canary = CanaryTracker(settings.canary_deadline, settings.canary_queue)
        #: Each queue's (account, region); queues a reload removed stay (their
        #: counters do).
        self.queues: dict[str, tuple[str, str]] = {}
        self.region = settings.region
        self._arn_regions: set[str] = set()
        self.reconfigure(settings)

    @property
    def scopes(self) -> list[Scope]:
        """Every scope kept, domains first: a recipient counts in each."""
        found = [self.by_domain, self.by_provider, self.by_tenant]
        return [scope for scope in found if scope is not None]

    @property
    def windows(self) -> dict[str, DomainWindows]:
        """The windows of each domain label."""
        return self.by_domain.windows

    def blind_behind(self, now: float) -> tuple[str, float] | None:
        """The queue read furthest behind and its lag (see :meth:`Tallies.received`),
        when that is more than the shortest window (those windows may miss what waits
        in the queue until sesd catches up); None otherwise."""
        queue, lag = self.tallies.furthest(now)
        return (queue, lag) if lag > self.specs[0].seconds else None

    def provider_of(self, label: str, now: float) -> str | None:
        """The mailbox provider a domain label's mail goes to, as last found (a pure
        read); None for a group, ``other``, a domain not looked up yet, one whose mail
        goes nowhere (``none``: "provider none" would read as a provider), or providers
        off."""
        if self.providers is None or not self.domains.single(label):
            return None
        found = self.providers.known(label, now)
        return None if found == NONE else found

    def where(self, queue: str) -> tuple[str, str]:
        """A queue's (account, region); the default account's for one not configured
        (replay's)."""
        found = self.queues.get(queue)
        return (DEFAULT_ACCOUNT, self.region) if found is None else found

    def sender(self, queue: str, source_arn: str, account_id: str) -> tuple[str, str]:
        """The (account, region) that sent an event's mail, as AWS reviews it: the region
        its identity's ARN names, and the label reaching the account that sent there
        (``account_id``: a delegate sender's, under sending authorization; else the
        identity's; see sender_label); else its queue's (one central queue may carry
        every account's and region's events)."""
        key = (queue, source_arn, account_id)
        found = self.senders.get(key)
        if found is None:
            account, region = self.where(queue)
            parts = source_arn.split(":")
            if len(parts) >= 6 and parts[2] == "ses":
                region = self._arn_region(parts[3], region)
                account_id = account_id or parts[4]
            label = sender_label(self.settings, self.accounts, account_id, region)
            found = (label or account, region)
            # Identities are few; a flood of them (strangers' files) is not kept, only answered.
            if len(self.senders) < _MAX_SENDERS:
                self.senders[key] = found
        return found

    def _arn_region(self, named: str, queues: str) -> str:
        """The region an identity's ARN names when it has a region's shape and is one of
        the first :data:`MAX_ARN_REGIONS` named, else the queue's (``queues``)."""
        if not is_region(named):
            return queues
        if named not in self._arn_regions:
            if len(self._arn_regions) >= MAX_ARN_REGIONS:
                return queues
            self._arn_regions.add(named)
        return named

    def reconfigure(self, settings: CoreSettings) -> None:
        """Take what a reload may change: tracked domains and groups, and the tenants
        rules name (events from now on), the windows whose breakdowns rules read, the
        canary's deadline and queue, where the queues are. The tenants' resources of an
        (account, region) no longer polled are forgotten, as their statuses and the walk
        of them under way are, as are an AWS account's a label still polled no longer
        reaches (its role moved): no walk will replace them, and its mail (on a queue
        shared with a watched account) would else count under its tenants for ever."""
        # Its AWS account ids: the polls' (the file's, before a poll), and [[accounts]]'s.
        polled = {*self.tenant_status.accounts.items(), *self.accounts.ids()}
        ids = {*polled, *self.settings.reaching(())}  # (and each role's, the config's)
        held = [(i, r) for i, label in ids for on, r in self.settings.watched if on == label]
        forget_unreached(self.tenant_map, held, settings.reached(polled))
        self.settings = settings
        self.domains.set_fixed(
            domain_labels(
                list(settings.track),
                {name: list(members) for name, members in settings.groups.items()},
            )
        )
        self.tenant_labels.set_fixed({name: name for name in settings.tenants_track})
        self.tenant_status.watch(settings.watched, settings.roles)
        self.accounts.watch(set(settings.watched))
        self.tenant_walks.watch(set(settings.watched))
        kept = [spec.kept(spec.name in settings.breakdowns) for spec in self.specs]
        if kept != self.specs:
            # Problems staged so far count in the breakdowns kept when they came (a read
            # before the reload counted them there), those after it in the ones kept now.
            for windows in all_windows(self):
                windows.write_problems()
        self.specs[:] = kept  # in place: every domain's windows hold this same list
        self.canary.deadline = settings.canary_deadline
        self.canary.queue = settings.canary_queue
        self.queues.update(settings.queues)
        #: Who sent each (queue, identity ARN)'s mail (:meth:`sender`), as now configured.
        self.senders: dict[tuple[str, str, str], tuple[str, str]] = {}

    def stepped(self, step: float, now: float) -> None:
        """The wall clock stepped by ``step`` seconds, to ``now``: the times kept of it
        move with it (sesd.core.ledger_steps)."""
        moved(self, step, now)

    # --- the state file ---------------------------------------------------------

    def layout(self) -> list[list[Any]]:
        """The windows' layout: a file written for another one cannot fill these."""
        return [[spec.name, spec.width, spec.slots] for spec in self.specs]

    def snapshot(self, now: float) -> dict[str, Any]:
        """The saved stores as plain data (the state file's body: sesd.core.ledger_file)."""
        return snapshot_of(self, now)

    def restore(self, data: dict[str, Any], now: float, ahead: float = 0.0) -> dict[str, Any]:
        """Load what :meth:`snapshot` returned into this fresh ledger at ``now`` (from a
        file saved ``ahead`` seconds ahead of it, to be stepped back that far); returns
        what was restored (sesd.core.ledger_file)."""
        return restore_into(self, data, now, ahead)

    def makes(self, axis: str, data: dict[str, Any] | None = None) -> Callable[[object], bool]:
        """Whether an event makes a label in the scope ``axis``, as now configured, or
        as configured when the state file ``data`` was saved (sesd.core.ledger_file)."""
        return label_maker(self, axis, data)
