"""The config as the core takes it: plain values (sesd.core.settings)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sesd.config.alerts import CANARY_METRICS, is_glob
from sesd.core.domains import group_named
from sesd.core.scopes import DOMAIN
from sesd.core.settings import CoreSettings

if TYPE_CHECKING:
    from sesd.config import Config

__all__ = ["core_settings"]


def core_settings(config: Config) -> CoreSettings:
    """What the core needs of ``config``."""
    return CoreSettings(
        windows=tuple((size.text, size.seconds) for size in config.windows.sizes),
        resolution=config.windows.resolution.seconds,
        max_buckets=config.windows.max_buckets,
        breakdowns=frozenset(rule.window for rule in config.alerts.rules),
        track=_tracked(config),
        groups={name: tuple(members) for name, members in config.domains.groups.items()},
        max_tracked=config.domains.max_tracked,
        idle_evict=config.domains.idle_evict.seconds,
        tags=tuple(config.dimensions.tags),
        tags_max_tracked=config.dimensions.max_tracked,
        providers=config.providers.enabled,
        mx=config.providers.table,
        providers_max_cache=config.providers.max_cache,
        tenants=config.tenants.enabled,
        tenant_tags=tuple(config.tenants.tags),
        tenants_max_tracked=config.tenants.max_tracked,
        tenants_track=_named_tenants(config),
        dedup_max_entries=config.ingest.dedup_max_entries,
        max_pending_delays=config.ingest.max_pending_delays,
        reputation_window_sends=config.reputation.window_sends,
        canary_deadline=config.canary.deadline.seconds if config.canary is not None else 0.0,
        canary_queue=config.canary_queue,
        log_recipients=config.logging.log_recipients,
        region=config.aws.region,
        queues={q.label: (q.account_label, config.region_of(q)) for q in config.queues},
        watched=tuple(config.health_targets()),
        account_polls=_account_polls(config),
        account_names={a.account_id: a.name for a in config.accounts},
        roles={a.name: a.account_id for a in config.accounts},
    )


def _account_polls(config: Config) -> frozenset[str]:
    """The APIs the account-health polls ask (sesd.account.poller)."""
    health = config.account_health
    if not health.enabled:
        return frozenset()
    return frozenset({"get_account", "get_metric_data"} if health.cloudwatch else {"get_account"})


def _tracked(config: Config) -> tuple[str, ...]:
    """Domains always tracked: ``[domains] track``, and every domain a rule names (a
    domain under ``other`` is never stepped on its own: its rule would never fire). Not
    a canary rule's: it reads the canary alone, and its domains would take labels past
    ``max_tracked``, with series from the start, that no rule reads."""
    groups = config.domains.groups
    named = [
        domain
        for rule in config.alerts.rules
        if rule.scope == DOMAIN and rule.domains and rule.metric not in CANARY_METRICS
        for domain in rule.domains
        if not is_glob(domain) and group_named(domain, groups) is None
    ]
    return tuple(dict.fromkeys([*config.domains.track, *named]))


def _named_tenants(config: Config) -> tuple[str, ...]:
    """Tenants a rule names: always tracked, as a named domain is (made-up names in a
    sender's own tenant tag could otherwise take every label first); not a canary
    rule's, as its domains are not."""
    named = [
        tenant
        for rule in config.alerts.rules
        if rule.tenants and rule.metric not in CANARY_METRICS
        for tenant in rule.tenants
        if not is_glob(tenant)
    ]
    return tuple(dict.fromkeys(named))
