"""Checks of what a rule names against the rest of the configuration: domains (and
the groups they are counted in), providers sesd knows, tenants as SES names them."""

from __future__ import annotations

from collections.abc import Collection
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from sesd.config.alerts import TENANT_METRICS, is_glob
from sesd.config.domains import NO_DOMAIN_HINT, grouped
from sesd.config.rule_checks import check_some_left
from sesd.config.unwatched import (
    HOLDS,
    ONLY_UNKNOWN,
    WATCH_UNKNOWN,
    met,
    named_already,
    only_unmet,
    only_unwatched,
    reads_ratios,
)
from sesd.core.accounts import DEFAULT_ACCOUNT, glob_takes_an_account
from sesd.core.domains import (
    FULL_STOPS,
    OTHER,
    domain_pattern,
    glob_forms,
    group_named,
    normalise_domain,
    takes_glob,
)
from sesd.core.globs import glob_takes_a_domain
from sesd.core.made import is_tenant
from sesd.core.providers import LABELS as PROVIDER_LABELS
from sesd.core.providers import NOT_PROVIDERS, UNKNOWN
from sesd.core.scopes import DOMAIN
from sesd.core.tenant_map import NOT_NAMES, glob_takes_a_tenant

if TYPE_CHECKING:
    from sesd.config import Config

__all__ = [
    "NO_DOMAIN_HINT",
    "check_rule_names",
    "dotless_hint",
    "group_members",
    "no_domain",
    "silence_takes_a_label",
]


def no_domain(written: str) -> bool:
    """Whether ``written`` (a rule's domain, a silence's) can name no domain: an address
    or a URL pasted in would watch, or mute, nothing. A glob can."""
    return not is_glob(written) and normalise_domain(written) is None


def group_members(config: Config) -> dict[str, str]:
    """Each domain a group counts (in its normal form): the group's name. Its events
    count under the group's label, never its own."""
    return grouped(config.domains)


def _check_rule_domains(config: Config) -> None:
    """A rule names domain names or groups (not an address or a URL pasted in: it would
    watch nothing), does not name, nor leave out, a domain a group counts under the
    group's label, and does not leave out every one it watches (a group by its label:
    ``exclude_domains = ["Bü*"]`` leaves out the group ``Bücher``)."""
    members = group_members(config)
    group_names = config.domains.groups
    for i, rule in enumerate(config.alerts.rules):
        for key, named in (("domains", rule.domains), ("exclude_domains", rule.exclude_domains)):
            for j, domain in enumerate(named or []):
                said = f"alerts.rules[{i}] ({rule.name}).{key}[{j}]: {domain!r}"
                # A group's name may be no domain's (a space, any script): its label.
                if no_domain(domain) and group_named(domain, group_names) is None:
                    hint = _in_another_case(domain, group_names) or NO_DOMAIN_HINT
                    raise ValueError(f"{said}, which is no domain name ({hint})")
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
                # A group's own name is the group, though a member is the domain it spells
                # (a group ``example.com`` of example.com and example.net).
                group = (
                    None
                    if is_glob(domain) or group_named(domain, group_names)
                    else members.get(normalise_domain(domain) or "")
                )
                if group is not None:
                    # Its events count under the group's label: the rule would never
                    # fire on it, or go on firing on the group.
                    raise ValueError(
                        f"{said}, counted in group {group!r}; name the group instead "
                        f"({key} = [{group!r}])"
                    )
        if rule.scope == DOMAIN:
            try:
                check_some_left("domains", rule.watched, rule.exclude_domains, group_names, members)
            except ValueError as exc:
                raise ValueError(f"alerts.rules[{i}] ({rule.name}).{exc}") from None


def _only_members(pattern: str, config: Config, members: dict[str, str]) -> list[str]:
    """The groups of ``members`` (each domain's group) whose members a domain glob
    matches, when it takes no other label; else none."""
    groups = {group for member, group in members.items() if takes_glob(member, pattern, True)}
    if not groups or _glob_takes_a_domain_label(pattern, config, members):
        return []
    return sorted(groups)


def _in_another_case(name: str, groups: Collection[str]) -> str:
    """What a rule's name that is a group's in another case (``microsoft`` beside the
    group ``Microsoft``) is told: the group is its label as written, so the name is a
    domain's, which no recipient has. A silence takes a group in any case; a rule
    does not. "" when it is no group's."""
    typed = name.strip().rstrip(FULL_STOPS).lower()
    group = next((group for group in groups if group.lower() == typed), None)
    if group is None:
        return ""
    return f"the group {group!r}? a rule names a group as its name is written, in its case"


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
    if told := _in_another_case(name, config.domains.groups):
        return f" ({told})"
    if label in NOT_PROVIDERS:
        said = f"; {label!r} is no domain but a provider label ({HOLDS[label]})"
        if excluded:
            return f"{said}, which a rule on providers leaves out unless it names it"
        if label == UNKNOWN and reads_ratios(metric):
            return f"{said}: {WATCH_UNKNOWN}"
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


def _check_rule_providers(config: Config) -> None:
    """A rule on providers needs them counted, and names providers sesd knows; a glob
    takes one a glob is compared with (not ``unknown`` nor ``none``: see
    :func:`~sesd.config.unwatched.met`)."""
    known = {*PROVIDER_LABELS, *config.providers.mx}
    providers = known - set(NOT_PROVIDERS)
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
                        f"{provider!r} ({_as_labelled(provider, known)}"
                        f"known: {', '.join(sorted(known))})"
                    )
                if not is_glob(provider):
                    continue
                if not any(fnmatchcase(p, provider) for p in known):
                    # Refused as an unknown name is: it watches nothing, or leaves out
                    # nothing.
                    hint = _as_labelled(provider, known)
                    raise ValueError(
                        f"{said}, a glob that matches no provider sesd knows "
                        f"({hint}{'known: ' if hint else ''}{', '.join(sorted(known))})"
                    )
                if only_unmet(provider, met(providers, key, rule.providers)):
                    if key.startswith("exclude_"):
                        continue  # warned of: see excluded_already_warnings
                    told = only_unwatched(provider, key, rule.metric, rule.providers)
                    raise ValueError(f"{said}, {told}")


def _as_labelled(written: str, known: Collection[str]) -> str:
    """What to write in place of a provider written as a domain (``google.``, a root
    dot after it) or in capitals (``Google``), said before the providers sesd knows; ""
    when it is no known provider so written."""
    unrooted = written.strip().rstrip(FULL_STOPS)
    meant = unrooted.lower()
    if meant == written or not any(fnmatchcase(label, meant) for label in known):
        return ""
    if unrooted != written.strip():
        lower = ", in lower case" if meant != unrooted else ""
        return f"a provider is a name, not a domain: write {meant!r}, with no dot after it{lower}; "
    if meant != unrooted:
        return f"write {meant!r}: sesd names providers in lower case; "
    return f"write {meant!r}; "


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
                if glob_takes_a_tenant(tenant, met(own, key, rule.tenants)):
                    continue
                # Refused as a name is: it watches nothing, or leaves out nothing.
                if fnmatchcase(UNKNOWN, tenant):
                    if key.startswith("exclude_"):
                        continue  # warned of: see excluded_already_warnings
                    # Named beside the glob already, it is watched: the glob adds nothing.
                    told = (
                        "the rule names it already, which watches it: drop the glob"
                        if named_already([UNKNOWN], rule.tenants)
                        else "name it to watch it"
                    )
                    raise ValueError(f"{said}, {ONLY_UNKNOWN}: {told}")
                if glob_takes_a_tenant(tenant, (*NOT_NAMES, *_OWN_NAMES)):
                    raise ValueError(
                        f"{said}, a glob that matches no tenant label this rule meets (a "
                        "tenant SES names other or unknown is labelled quoted: 'other')"
                    )
                raise ValueError(f"{said}, a glob that matches no tenant name SES allows {_NAMES}")


def _glob_takes_a_domain_label(pattern: str, config: Config, members: Collection[str] = ()) -> bool:
    """Whether a domain glob takes some label of the domain scope, as the evaluator
    matches it (sesd.core.domains.takes_glob): a domain in its normal form (but
    ``members``, a group's: they count under its label), by the glob as written,
    without a root dot nor spaces around it (``[!A-Z0-9_]*.example.``, whose set in
    lower case takes no domain's first letter), or in the normal form of its parts
    (``Yahoo.*``, ``*.рф``); a group's name as written; sesd's ``other``."""
    if any(takes_glob(label, pattern, True) for label in (OTHER, *config.domains.groups)):
        return True
    return any(glob_takes_a_domain(glob, members) for glob in glob_forms(pattern))


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
