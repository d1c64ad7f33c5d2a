"""Checks of what a rule names against the rest of the configuration: domains (and
the groups they are counted in), providers sesd knows, tenants as SES names them."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from sesd.config.alerts import TENANT_METRICS, is_glob
from sesd.config.domains import NO_DOMAIN_HINT
from sesd.core.accounts import DEFAULT_ACCOUNT, glob_takes_an_account
from sesd.core.domains import OTHER, domain_pattern, normalise_domain, takes_glob
from sesd.core.globs import glob_takes_a_domain
from sesd.core.made import is_tenant
from sesd.core.providers import LABELS as PROVIDER_LABELS
from sesd.core.providers import NONE, NOT_PROVIDERS, UNKNOWN
from sesd.core.tenant_map import NOT_NAMES, glob_takes_a_tenant

if TYPE_CHECKING:
    from sesd.config import Config

__all__ = [
    "NO_DOMAIN_HINT",
    "check_rule_names",
    "dotless_hint",
    "excluded_already_warnings",
    "group_members",
    "no_domain",
    "silence_takes_a_label",
    "unknown_provider_warnings",
]


def no_domain(written: str) -> bool:
    """Whether ``written`` (a rule's domain, a silence's) can name no domain: an address
    or a URL pasted in would watch, or mute, nothing. A glob can."""
    return not is_glob(written) and normalise_domain(written) is None


def group_members(config: Config) -> dict[str, str]:
    """Each domain a group counts (in its normal form): the group's name. Its events
    count under the group's label, never its own."""
    return {
        member: group
        for group, domains in config.domains.groups.items()
        for domain in domains
        if (member := normalise_domain(domain)) is not None
    }


def _check_rule_domains(config: Config) -> None:
    """A rule names domain names or groups (not an address or a URL pasted in: it would
    watch nothing), and does not name, nor leave out, a domain a group counts under the
    group's label."""
    members = group_members(config)
    for i, rule in enumerate(config.alerts.rules):
        for key, named in (("domains", rule.domains), ("exclude_domains", rule.exclude_domains)):
            for j, domain in enumerate(named or []):
                said = f"alerts.rules[{i}] ({rule.name}).{key}[{j}]: {domain!r}"
                # A group's name may be no domain's (a space, any script): its label.
                if no_domain(domain) and domain not in config.domains.groups:
                    raise ValueError(f"{said}, which is no domain name ({NO_DOMAIN_HINT})")
                if is_glob(domain) and not _glob_takes_a_domain_label(domain, config):
                    # Refused as an address is: it watches nothing, or leaves out
                    # nothing (the rule pages on what was meant to be left out).
                    raise ValueError(
                        f"{said}, a glob that matches no domain name nor group (a domain is "
                        "matched in lower case, IDNA, of letters, digits, '-', '_' and dots)"
                    )
                if is_glob(domain) and (groups := _only_members(domain, config, members)):
                    # A member counts under its group's label, never its own: as if
                    # named (below), the rule watches nothing, or leaves out nothing.
                    listed = ", ".join(map(repr, groups))
                    noun = "group" if len(groups) == 1 else "groups"
                    raise ValueError(
                        f"{said}, a glob that matches only domains counted in {noun} {listed}: "
                        f"name the {noun} instead ({key} = [{listed}])"
                    )
                group = None if is_glob(domain) else members.get(normalise_domain(domain) or "")
                if group is not None:
                    # Its events count under the group's label: the rule would never
                    # fire on it, or go on firing on the group.
                    raise ValueError(
                        f"{said}, counted in group {group!r}; name the group instead "
                        f"({key} = [{group!r}])"
                    )


def _only_members(pattern: str, config: Config, members: dict[str, str]) -> list[str]:
    """The groups of ``members`` (each domain's group) whose members a domain glob
    matches, when it takes no other label; else none."""
    groups = {group for member, group in members.items() if takes_glob(member, pattern, True)}
    if not groups or _glob_takes_a_domain_label(pattern, config, members):
        return []
    return sorted(groups)


def unknown_provider_warnings(config: Config) -> list[str]:
    """A ratio rule that names ``unknown`` in its providers: no provider, but the mail
    to domains not looked up yet (nearly all of it after a start without a state
    file) or whose lookups fail. A recipient's delay there is counted under
    ``unknown`` and its delivery, once the lookup answers, under the provider: the
    ratios read the other halves of what the providers count (a delay ratio high, a
    delivery ratio low), pages at a start or while DNS fails, not a provider's
    trouble. Why a glob leaves it out; named, it is taken (a rule that ran on it must
    load again), and warned of."""
    found = []
    for i, rule in enumerate(config.alerts.rules):
        if not _reads_ratios(rule.metric) or rule.scope != "provider":
            continue
        for j, provider in enumerate(rule.providers or []):
            if provider == UNKNOWN:
                found.append(
                    f"alerts.rules[{i}] ({rule.name}).providers[{j}]: 'unknown' is no "
                    "provider but the mail to domains not looked up yet (after a start "
                    "without a state file, nearly all of it) or whose lookups fail: their "
                    "delays count there and their deliveries under the provider found "
                    f"since, so its {rule.metric} reads the start and DNS, not a provider, "
                    f"and pages on them; {_WATCH_UNKNOWN}"
                )
    return found


#: Where to watch what a ratio on ``unknown`` would read.
_WATCH_UNKNOWN = (
    "watch the lookups with the Prometheus rule SesdProviderLookupsFailing "
    "(sesd_dns_failing), and the domains with a rule on domains"
)


def dotless_hint(name: str, key: str, metric: str, config: Config) -> str | None:
    """What a rule on domains naming ``name`` in ``key``, without a dot and no group's,
    most likely meant, said after "the rule watches (or leaves out) nothing under it":
    a mailbox provider, sesd's ``unknown`` or ``none`` (a rule on providers watches
    those, or leaves them out), the canary (its own rules watch it), else a group's
    name misspelt. An exclusion is told what leaves the label out, not what watches it:
    a rule on the provider alone is the opposite of what it meant. None for ``other``,
    the domains past ``max_tracked``: a label of the domains' own, which the rule
    watches."""
    from sesd.config.alerts import CANARY_METRICS  # defined beside rules
    from sesd.core.canary import CANARY_DOMAIN

    label = (normalise_domain(name) or name).lower()
    excluded = key.startswith("exclude_")
    if label == OTHER:
        return None
    if label in NOT_PROVIDERS:
        said = f"; {label!r} is no domain but a provider label ({_HOLDS[label]})"
        if excluded:
            return f"{said}, which a rule on providers leaves out unless it names it"
        if label == UNKNOWN and _reads_ratios(metric):
            return f"{said}: {_WATCH_UNKNOWN}"
        return f'{said}: a rule on providers names it (providers = ["{label}"])'
    if label in {*PROVIDER_LABELS, *config.providers.mx}:
        if excluded:
            return (
                f"; {label} is a mailbox provider, whose domains a rule on domains leaves "
                "out by their names: a rule on providers leaves it out "
                f'(exclude_providers = ["{label}"])'
            )
        return (
            f"; {label} is a mailbox provider: a rule on providers watches its mail "
            f'(providers = ["{label}"] in place of domains)'
        )
    if label == CANARY_DOMAIN:
        said = (
            f"; {label!r} names the canary's alerts, and no rule on domains counts the "
            "canary's mail"
        )
        return said if excluded else f"{said}: a rule on {' or '.join(CANARY_METRICS)} watches it"
    return " (a group's name misspelt?)"


def _reads_ratios(metric: str) -> bool:
    """Whether a rule's metric is a ratio, which ``unknown`` reads askew (a count there
    is as many as it says)."""
    return metric.endswith("_ratio")


def _check_rule_providers(config: Config) -> None:
    """A rule on providers needs them counted, and names providers sesd knows; a glob
    takes one a glob is compared with (not ``unknown`` nor ``none``: see :func:`_met`)."""
    known = {*PROVIDER_LABELS, *config.providers.mx}
    met = known - set(NOT_PROVIDERS)
    for i, rule in enumerate(config.alerts.rules):
        if rule.providers is not None and not config.providers.enabled:
            raise ValueError(
                f"alerts.rules[{i}] ({rule.name}).providers: needs [providers] enabled"
            )
        for key, named in (
            ("providers", rule.providers),
            ("exclude_providers", rule.exclude_providers),
        ):
            for j, provider in enumerate(named or []):
                said = f"alerts.rules[{i}] ({rule.name}).{key}[{j}]: {provider!r}"
                if not is_glob(provider) and provider not in known:
                    # The key and index that name it: either list may.
                    raise ValueError(
                        f"alerts.rules[{i}] ({rule.name}).{key}[{j}]: unknown provider "
                        f"{provider!r} "
                        f"(known: {', '.join(sorted(known))})"
                    )
                if not is_glob(provider):
                    continue
                if not any(fnmatchcase(p, provider) for p in known):
                    # Refused as an unknown name is: it watches nothing, or leaves out
                    # nothing.
                    raise ValueError(
                        f"{said}, a glob that matches no provider sesd knows "
                        f"({', '.join(sorted(known))})"
                    )
                if _only_unmet(provider, _met(met, key, rule.providers)):
                    if key.startswith("exclude_"):
                        continue  # warned of: see excluded_already_warnings
                    raise ValueError(f"{said}, {_only_unwatched(provider, key, rule.metric)}")


#: What each label that names no provider holds (a glob never takes them).
_HOLDS = {UNKNOWN: "domains not resolved yet", NONE: "domains without mail: NXDOMAIN, a null MX"}


def _only_unwatched(glob: str, key: str, metric: str) -> str:
    """Why a provider glob that matches only labels that name no provider is refused
    (an exclusion's is warned of: :func:`excluded_already_warnings`), and what to write
    instead: to watch them, name them; an exclusion's glob leaves out what the rule's
    globs never took (naming them there would watch nothing more). A
    rule on a ratio is not told to name ``unknown``: that is warned of (see
    :func:`unknown_provider_warnings`), and the line says why and where to watch it."""
    only = [label for label in NOT_PROVIDERS if fnmatchcase(label, glob)]
    names = " and ".join(map(repr, only))
    holds = "; ".join(_HOLDS[label] for label in only)
    said = f"a glob that matches only {names}, which a glob never takes ({holds})"
    if key.startswith("exclude_"):
        return f"{said}: {_excluded_already('it' if len(only) == 1 else 'them')}"
    named = [label for label in only if label != UNKNOWN or not _reads_ratios(metric)]
    them = "it" if len(named) == 1 else "them"
    told = []
    if named:
        listed = ", ".join(f'"{label}"' for label in named)
        # Beside what is not to be named, the one that is, by its name.
        which = them if named == only else " and ".join(map(repr, named))
        told.append(f"name {which} (providers = [{listed}]) to watch {them}")
    if named != only:
        told.append(
            f"{UNKNOWN!r} is no provider but the mail to domains not looked up yet or whose "
            f"lookups fail, so its {metric} reads the start and DNS, not a provider: "
            f"{'' if named else 'drop the glob; '}{_WATCH_UNKNOWN}"
        )
    return f"{said}: {'; '.join(told)}"


def _only_unmet(glob: str, met: Iterable[str]) -> bool:
    """Whether ``glob`` matches none of ``met``, the labels a rule compares it with
    (:func:`_met`): of those sesd knows, it matches only labels a glob never takes."""
    return not any(fnmatchcase(label, glob) for label in met)


def excluded_already_warnings(config: Config) -> list[str]:
    """An exclusion's glob that matches only labels the rule's globs never take
    (``unknown``, a provider's ``none``): it leaves out nothing. Warned of, not
    refused: ``exclude_providers = ["non*"]`` was how a rule on every provider left
    out the domains without mail before ``*`` left them out itself, and a config that
    ran on it must load again after an upgrade, as must a reload of it."""
    found = []
    known = {*PROVIDER_LABELS, *config.providers.mx}
    met = known - set(NOT_PROVIDERS)
    for i, rule in enumerate(config.alerts.rules):
        key = "exclude_providers"
        if rule.providers is not None:
            found += [
                f"alerts.rules[{i}] ({rule.name}).{key}[{j}]: {glob!r}, "
                + _only_unwatched(glob, key, rule.metric)
                for j, glob in enumerate(rule.exclude_providers or [])
                if is_glob(glob)
                and any(fnmatchcase(label, glob) for label in known)
                and _only_unmet(glob, _met(met, key, rule.providers))
            ]
        key = "exclude_tenants"
        own = (*NOT_NAMES, *(() if rule.metric in TENANT_METRICS else (OTHER,)))
        found += [
            f"alerts.rules[{i}] ({rule.name}).{key}[{j}]: {glob!r}, {_ONLY_UNKNOWN}: "
            + _excluded_already("it")
            for j, glob in enumerate(rule.exclude_tenants or [])
            if is_glob(glob)
            and fnmatchcase(UNKNOWN, glob)
            and not glob_takes_a_tenant(glob, _met(own, key, rule.tenants))
        ]
    return found


def _excluded_already(them: str) -> str:
    """What an exclusion's glob that matches only labels a glob never takes is told."""
    return f"the rule's globs leave {them} out already; drop the exclusion"


#: Why a glob that matches sesd's ``unknown`` alone is refused.
_ONLY_UNKNOWN = f"a glob that matches only {UNKNOWN!r}, which a glob never takes"


def _met(labels: Iterable[str], key: str, watched: list[str] | None) -> set[str]:
    """The labels a glob of ``key`` (a provider or tenant rule's) is compared with: of
    ``labels``, all but ``unknown``, which the evaluator takes by name only
    (sesd.alerting.labels: a restart with nothing resolved, or no tenant map, would
    page on all the mail; a provider rule's caller leaves ``none`` out of ``labels``
    too, not this function: a tenant may be called none); and, for an exclusion's
    glob, the names (not the globs) the rule watches, ``watched``, which it may leave
    out."""
    named = [name for name in watched or [] if not is_glob(name)]
    return {label for label in labels if label != UNKNOWN} | set(
        named if key.startswith("exclude_") else []
    )


#: The names SES allows a tenant.
_NAMES = "(ASCII letters, digits, '-' and '_', up to 64)"
#: The names SES allows a tenant that are no tenant's label (it is quoted: 'other').
_OWN_NAMES = (UNKNOWN, OTHER)


def _check_rule_tenants(config: Config) -> None:
    """A rule on tenants needs them counted (or polled, for their status), and names
    tenants as SES allows them to be called (or sesd's own labels, ``unknown`` and the
    quoted ``'other'``): a name no event carries (``shop.eu``)
    would be tracked as a label in every tenant rule's scope that no traffic moves (a
    ``below`` rule fires on it for ever), or leave out nothing; a glob no label the
    rule compares it with matches (``shop.*``; ``unknow[n]``, which only sesd's
    ``unknown`` matches) would watch nothing, or leave out nothing."""
    for i, rule in enumerate(config.alerts.rules):
        if (rule.tenants is not None or rule.metric in TENANT_METRICS) and not (
            config.tenants.enabled
        ):
            # The key that asks for them: a tenant's metric (its list is then "*" when
            # left out), else the list.
            needs = f"metric: {rule.metric!r}" if rule.metric in TENANT_METRICS else "tenants:"
            raise ValueError(f"alerts.rules[{i}] ({rule.name}).{needs} needs [tenants] enabled")
        # Tenants past the cap count under ``other`` in the mail's scope; what SES says
        # of tenants names each as SES does (a tenant named other is 'other').
        own = (*NOT_NAMES, *(() if rule.metric in TENANT_METRICS else (OTHER,)))
        for key, named in (("tenants", rule.tenants), ("exclude_tenants", rule.exclude_tenants)):
            for j, tenant in enumerate(named or []):
                said = f"alerts.rules[{i}] ({rule.name}).{key}[{j}]: {tenant!r}"
                if not is_glob(tenant) and not is_tenant(tenant):
                    raise ValueError(f"{said}, which SES allows no tenant to be called {_NAMES}")
                if not is_glob(tenant):
                    continue
                if glob_takes_a_tenant(tenant, _met(own, key, rule.tenants)):
                    continue
                # Refused as a name is: it watches nothing, or leaves out nothing.
                if fnmatchcase(UNKNOWN, tenant):
                    if key.startswith("exclude_"):
                        continue  # warned of: see excluded_already_warnings
                    raise ValueError(f"{said}, {_ONLY_UNKNOWN}: name it to watch it")
                if glob_takes_a_tenant(tenant, (*NOT_NAMES, *_OWN_NAMES)):
                    raise ValueError(
                        f"{said}, a glob that matches no tenant label this rule meets (a "
                        "tenant SES names other or unknown is labelled quoted: 'other')"
                    )
                raise ValueError(f"{said}, a glob that matches no tenant name SES allows {_NAMES}")


def _glob_takes_a_domain_label(pattern: str, config: Config, members: Collection[str] = ()) -> bool:
    """Whether a domain glob takes some label of the domain scope, as the evaluator
    matches it (sesd.core.domains.takes_glob): a domain in its normal form (but
    ``members``, a group's: they count under its label), by the glob as written or in
    the normal form of its parts (``Yahoo.*``, ``*.рф``); a group's name as written;
    sesd's ``other``."""
    if any(takes_glob(label, pattern, True) for label in (OTHER, *config.domains.groups)):
        return True
    return any(glob_takes_a_domain(glob, members) for glob in (pattern, domain_pattern(pattern)))


def silence_takes_a_label(pattern: str, config: Config, members: Collection[str] = ()) -> bool:
    """Whether a silence's domain glob takes some label an alert may name, as a silence
    matches it (sesd.alerting.silences: the label in lower case, the glob in lower case
    as written or in a domain's normal form): a domain (``canary`` is one; not one of
    ``members``, a group's: it counts under the group's label), a group,
    sesd's ``other``, a provider, a tenant, an ``ACCOUNT/REGION``. The checks of rules'
    globs, on every label in lower case, ``unknown`` too (a rule naming it fires on it)."""
    named = (OTHER, *(group.lower() for group in config.domains.groups))
    named += (*PROVIDER_LABELS, *config.providers.mx)
    accounts = {DEFAULT_ACCOUNT, *(account.name.lower() for account in config.accounts)}
    return any(
        any(fnmatchcase(label, glob) for label in named)
        or glob_takes_a_domain(glob, members)
        or glob_takes_a_tenant(glob, (*NOT_NAMES, *_OWN_NAMES), lower=True)
        or glob_takes_an_account(glob, accounts)
        for glob in {domain_pattern(pattern), pattern.strip().lower()}
    )


def check_rule_names(config: Config) -> None:
    """Raise ValueError, naming the key, for the first domain, provider or tenant a
    rule names (or leaves out) that it could not watch."""
    _check_rule_domains(config)
    _check_rule_providers(config)
    _check_rule_tenants(config)
