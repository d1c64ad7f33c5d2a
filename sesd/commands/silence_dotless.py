"""``sesd silence add --domain gmail``: a name without a dot, most likely a domain typed
short. The silence is added, as written: an alert may carry such a name (a tenant's, a
recipient domain without a dot such as ``localhost``, a provider a restart's config
dropped whose windows still fire), which only the daemon's windows know, and a page's
own mute line must never be refused at 3 a.m. But the one who typed it is told what it
mutes and what they most likely meant: the domain whole, or its mailbox provider's
silence with the ``--rule`` whose alerts name it."""

from __future__ import annotations

import shlex
from fnmatch import fnmatchcase

from sesd.alerting.labels import takes
from sesd.commands.silence_provider import provider_problem
from sesd.config import Config, RuleConfig, is_glob
from sesd.config.watched import group_members
from sesd.core.canary import CANARY_DOMAIN
from sesd.core.domains import (
    domain_pattern,
    exact_matcher,
    forms_take,
    normalise_domain,
    silence_forms,
)
from sesd.core.providers import LABELS as PROVIDER_LABELS
from sesd.core.providers import consumer_domains
from sesd.core.scopes import DOMAIN, PROVIDER, TENANT
from sesd.core.tenant_map import NOT_NAMES

__all__ = ["dotless_note"]


def dotless_note(config: Config, domain: str) -> str:
    """A note for ``--domain domain`` when it is a name without a dot that the config
    gives no alert (no group, provider, account or sesd's own label): what it mutes,
    and what to type for the domains it is the first label of. Empty otherwise."""
    if is_glob(domain) or "/" in domain:
        return ""
    name = normalise_domain(domain)
    if name is None or "." in name:
        return ""
    own = {*PROVIDER_LABELS, *config.providers.mx, CANARY_DOMAIN, *NOT_NAMES}
    groups = {group.lower() for group in config.domains.groups}
    if name in own or name in groups:
        return ""
    # A group in each form a silence reads it: ``Bücher.`` with a root dot typed after
    # it, or the group ``Shop.`` named with one, which a silence of it as written takes:
    # its alerts, not a tenant's or a domain's, are what it mutes.
    forms = silence_forms(domain)
    if any(forms_take(forms, group) for group in groups):
        return ""
    if any(_names(rule, name) for rule in config.alerts.rules):
        return ""
    head = (
        f"--domain {shlex.quote(name)} has no dot: it mutes the alerts of a tenant, or "
        f"of a recipient domain, of that very name"
    )
    meant = dict(consumer_domains(name))
    for rule in config.alerts.rules:
        for written in rule.domains or [] if rule.scope == DOMAIN else []:
            normal = None if is_glob(written) else normalise_domain(written)
            if normal is not None and normal != name and normal.partition(".")[0] == name:
                meant.setdefault(normal, "")
    if not meant:
        return f"{head}; for a domain's, write it whole (gmail.com)"
    told = _told(config, list(meant))
    for provider in sorted({p for p in meant.values() if p}):
        rules = [
            f"--rule {shlex.quote(r.name)}"
            for r in config.alerts.rules
            if r.scope == PROVIDER and takes(r, provider)
        ]
        if rules:
            told.append(f"for its mailbox provider's, --domain {provider} {' or '.join(rules)}")
    return f"{head}; {'; '.join(told)}"


def _told(config: Config, meant: list[str]) -> list[str]:
    """The line for each domain (or consumer glob) ``meant``: a domain counted under a
    group is refused, its alerts naming the group, so the group's line is given; a
    glob mutes its domains but those counted under a group, whose line follows."""
    members = group_members(config)
    told, groups_told = [], set()
    for each in meant:
        group = members.get(each)
        groups_told.add(group)
        told.append(f"for {each}'s, " + (_group_line(config, group) if group else _line(each)))
    for n, each in enumerate(meant):
        under = {g for m, g in members.items() if is_glob(each) and fnmatchcase(m, each)}
        lines = [
            f"under the group {g}: {_group_line(config, g)}" for g in sorted(under - groups_told)
        ]
        if lines:
            told[n] += f" ({'; '.join(lines)})"
    return told


def _line(domain: str) -> str:
    return f"--domain {shlex.quote(domain)}"


def _group_line(config: Config, group: str) -> str:
    """What mutes a group's alerts: ``--domain GROUP``, and the ``--rule`` that watches
    it where the group's name is a mailbox provider's too (``microsoft``: refused
    without one, as it would mute the provider's alerts as well)."""
    line = _line(exact_matcher(group))  # its own label alone, whatever its name
    if not provider_problem(config, group, None):
        return line
    rules = [r.name for r in config.alerts.rules if r.scope == DOMAIN and takes(r, group)]
    return f"{line} {' or '.join(f'--rule {shlex.quote(r)}' for r in rules)}".rstrip()


def _names(rule: RuleConfig, name: str) -> bool:
    """Whether ``rule`` watches ``name`` (in normal form) by name, or by a glob that is
    not every label: a tenant (matched in any case, as a silence matches it) or a
    recipient domain without a dot. Its alerts carry that name, so the one who typed it
    meant it. ``*`` says nothing of whether ``gmail`` is a tenant."""
    if rule.scope not in (DOMAIN, TENANT):
        return False
    written = (rule.domains if rule.scope == DOMAIN else rule.tenants) or []
    for pattern in written:
        if not is_glob(pattern):
            if pattern.strip().lower() == name or normalise_domain(pattern) == name:
                return True
        elif pattern.strip("*") and fnmatchcase(name, domain_pattern(pattern)):
            return True
    return False
