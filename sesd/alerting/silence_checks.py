"""What makes a silence mute nothing, or mute what no one meant: ``sesd silence add``
refuses such a silence, and the daemon leaves one out of the silences file (edited by
hand) with the reason logged. Each check gives its reason in one line, naming the
matcher as ``prefix`` says (``--domain`` on the command line), or "" when it finds
nothing wrong."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable
from fnmatch import fnmatchcase

from sesd.alerting.alert import SEVERITY_RANK
from sesd.alerting.labels import takes
from sesd.alerting.silences import TEXT_SHOWN, Silence
from sesd.config import Config, is_glob
from sesd.config.watched import NO_DOMAIN_HINT, group_members, silence_takes_a_label
from sesd.core.accounts import DEFAULT_ACCOUNT, is_region
from sesd.core.canary import CANARY_DOMAIN
from sesd.core.domains import domain_pattern, normalise_domain
from sesd.core.providers import LABELS as PROVIDER_LABELS
from sesd.core.providers import consumer_domains, consumer_provider
from sesd.core.scopes import DOMAIN, PROVIDER, TENANT
from sesd.core.tenant_map import NOT_NAMES, valid_tenant
from sesd.core.text import escaped, has_control

__all__ = [
    "control_problem",
    "domain_problem",
    "rule_problem",
    "severity_problem",
    "silence_check",
]


def domain_problem(
    config: Config,
    domain: str,
    prefix: str = "",
    members: dict[str, str] | None = None,
    held: Callable[[str], bool] = lambda label: False,
) -> str:
    """What is wrong with a silence's domain matcher: a character no label has (a
    control or invisible one), a glob that matches no label an alert names or only
    domains counted in a group, a name no alert could have (an address or a URL pasted
    in), a domain counted in a group (its alerts name the group). ``members``: the
    config's :func:`group_members`, when many silences are checked against it;
    ``held``: whether the daemon counts under a label the config may not name."""
    said = f"{prefix}domain {_quoted(domain)}"
    if found := control_problem(domain, prefix):
        return found
    if members is None:
        members = group_members(config)
    written = domain_pattern(domain)
    if is_glob(domain) and not silence_takes_a_label(domain, config):
        # Listed as active, it would mute nothing: the page the on-call meant to mute
        # goes on coming.
        return (
            f"{said} is a glob that matches no label an alert names (a domain is lower "
            "case, IDNA, of letters, digits, '-', '_' and dots; or a provider, tenant, "
            f"group or ACCOUNT/REGION): it would mute nothing ({NO_DOMAIN_HINT})"
        )
    if is_glob(domain) and not silence_takes_a_label(domain, config, members):
        lower = domain.strip().lower()
        groups = sorted(
            {g for m, g in members.items() if fnmatchcase(m, written) or fnmatchcase(m, lower)}
        )
        noun = "group" if len(groups) == 1 else "groups"
        return (
            f"{said} is a glob that matches only domains counted under the {noun} "
            f"{', '.join(map(repr, groups))}: its alerts name the {noun} "
            f"({prefix}domain {shlex.quote(groups[0])})"
        )
    if not _could_be_label(config, domain, members, held):
        name = normalise_domain(domain)
        if name is not None and "." not in name:
            return _dotless(config, name, said, prefix)
        return (
            f"{said} names no domain, provider, tenant, group or ACCOUNT/REGION: it "
            f"would mute nothing ({NO_DOMAIN_HINT})"
        )
    if written in members:
        return (
            f"{said} counts under the group {members[written]!r}: its alerts name the "
            f"group ({prefix}domain {shlex.quote(members[written])})"
        )
    return ""


def control_problem(domain: str, prefix: str = "") -> str:
    """A domain matcher's control or invisible character: wrong whatever the config's
    groups and accounts (checked where those cannot be read too)."""
    if has_control(domain):
        # A glob took it as written: a colour escape made a silence that mutes
        # nothing, a zero-width space one that mutes what the list does not show.
        return (
            f"{prefix}domain '{escaped(domain, TEXT_SHOWN)}': a control or invisible character "
            "(shown escaped), which no alert's label has: write it without"
        )
    return ""


def _quoted(matcher: str) -> str:
    """``matcher`` quoted as Python writes it (control characters escaped), cut to
    :data:`TEXT_SHOWN` characters: a hand-edited one may be of any length."""
    return repr(matcher if len(matcher) <= TEXT_SHOWN else f"{matcher[: TEXT_SHOWN - 1]}…")


def _could_be_label(
    config: Config, written: str, members: dict[str, str], held: Callable[[str], bool]
) -> bool:
    """Whether an alert could name ``written``, matched as a silence matches (in any
    case): a domain (a domain's name has a dot) or a glob, a group (its name may be in
    any script), a provider, sesd's own ``canary`` and ``other``, a name a rule's
    domains give or the daemon's windows hold (``held``), a tenant where a rule
    watches tenants, or an account and region. A name without a dot that is none of
    those (``gmail``) is most likely a domain typed short: a rule's domains are warned
    of it."""
    if is_glob(written):
        return True
    # Each name the silence takes (sesd.alerting.silences): as written in lower case,
    # and as a domain's (``Gmail.``, copied from a zone file, mutes the group Gmail).
    forms = {written.strip().lower(), domain_pattern(written)}
    if forms & _lower(config.domains.groups):
        return True
    name = normalise_domain(written)
    if name is not None and ("." in name or name in members or name in _own_labels(config)):
        return True
    if name is not None and name in _named_domains(config):
        return True  # a rule watches it (check-config warns of it), so an alert may name it
    if name is not None and held(name):
        return True  # the daemon's windows hold it: its alert may fire
    # A tenant's name is ASCII: ``почта`` is meant for no tenant, though its IDNA form
    # would take one of that name.
    tenant = written.isascii() and any(valid_tenant(f) or f in NOT_NAMES for f in forms)
    if tenant and _tenants_named(config):
        return True
    accounts = {DEFAULT_ACCOUNT, *(a.name.lower() for a in config.accounts)}
    return any(
        account in accounts and is_region(region)
        for account, _, region in (form.partition("/") for form in forms)
    )


def _lower(names: Iterable[str]) -> set[str]:
    return {name.lower() for name in names}


def _own_labels(config: Config) -> set[str]:
    """The labels without a dot that name no group nor tenant: the providers (sesd's and
    ``[providers.mx]``'s, ``other`` among them) and the canary's."""
    return {*PROVIDER_LABELS, *config.providers.mx, CANARY_DOMAIN}


def _named_domains(config: Config) -> set[str]:
    """The domains the rules on domains name (not their globs), in normal form: a name
    without a dot among them is one a rule watches, as it watches any other."""
    return {
        normal
        for rule in config.alerts.rules
        if rule.scope == DOMAIN
        for domain in rule.domains or []
        if not is_glob(domain) and (normal := normalise_domain(domain)) is not None
    }


def _tenants_named(config: Config) -> bool:
    """Whether an alert may name a tenant: a rule watches tenants, or the rules are not
    known (a config with the silences file's path alone)."""
    rules = config.alerts.rules
    return not rules or any(rule.scope == TENANT for rule in rules)


def _dotless(config: Config, name: str, said: str, prefix: str) -> str:
    """Why a name without a dot (``name``, in normal form) mutes nothing, and what to
    type instead: the domains it is the first part of (a mailbox provider's, one a rule
    names) and the silence of their provider's alerts, with the rules on providers
    whose alerts name it (a provider's name alone is asked for one)."""
    kinds = "group, provider or tenant"
    if not _tenants_named(config):
        kinds = "group or provider, and no rule watches tenants"
    head = f"{said} is no domain (a domain's name has a dot), {kinds}: it would mute nothing"
    found: dict[str, str | None] = dict(consumer_domains(name))
    for rule in config.alerts.rules:
        for domain in rule.domains or []:
            normal = None if is_glob(domain) else normalise_domain(domain)
            if normal is not None and normal.partition(".")[0] == name:
                found.setdefault(normal, consumer_provider(normal))
    if not found:
        return f"{head}; write the domain whole, as gmail.com"
    told = [" or ".join(f"{prefix}domain {shlex.quote(d)}" for d in found)]
    told[0] = f"for the domain, {told[0]}"
    for provider in sorted({p for p in found.values() if p is not None}):
        rules = [
            f"{prefix}rule {shlex.quote(r.name)}"
            for r in config.alerts.rules
            if r.scope == PROVIDER and takes(r, provider)
        ]
        if rules:
            told.append(
                f"for its mailbox provider, {provider}, {prefix}domain {provider} "
                f"{' or '.join(rules)}"
            )
    return f"{head}; {'; '.join(told)}"


def rule_problem(config: Config, rule: str, prefix: str = "") -> str:
    """A rule matcher that matches none of the config's rules: a typo would silence
    nothing while the on-call engineer thinks it silenced. (A config without rules, an
    admin's with the file's path only, cannot say.)"""
    rules = [r.name for r in config.alerts.rules]
    if rules and not any(fnmatchcase(name, rule) for name in rules):
        named = ", ".join(rules)
        return f"{prefix}rule {_quoted(rule)} matches no rule of the config (rules: {named})"
    return ""


def severity_problem(severity: str, prefix: str = "") -> str:
    """A severity matcher that matches none of sesd's severities."""
    if not any(fnmatchcase(s, severity) for s in SEVERITY_RANK):
        return f"{prefix}severity {_quoted(severity)} matches none of {', '.join(SEVERITY_RANK)}"
    return ""


def silence_check(
    config: Config,
    *,
    labels_known: bool = True,
    held: Callable[[str], bool] = lambda label: False,
) -> Callable[[Silence], str]:
    """What the daemon asks of each silence it reads: the CLI's checks of its matchers
    (not whether a name is a provider's as well as a domain's: the silence mutes both,
    as written), and a matcher at all (the CLI needs one; an entry edited in without
    one would mute every alert). Without ``labels_known`` (``sesd silence list`` of a
    file whose groups or accounts cannot be read), a domain matcher is checked only for
    a control or invisible character. ``held``: whether the daemon's windows hold a
    label (in normal form) that the config may not name: a ``[providers.mx]`` provider
    a restart's config dropped, read from the state file (its alerts fire on until its
    windows run down), a recipient's domain without a dot."""
    members = group_members(config)  # a group may count thousands of domains

    def problem(silence: Silence) -> str:
        if silence.rule is None and silence.domain is None and silence.severity is None:
            return (
                "no rule, domain nor severity: it would mute every alert (write severity "
                "'*' to mean that)"
            )
        if silence.domain is not None and (
            found := domain_problem(config, silence.domain, members=members, held=held)
            if labels_known
            else control_problem(silence.domain)
        ):
            return found
        if silence.rule is not None and (found := rule_problem(config, silence.rule)):
            return found
        if silence.severity is not None:
            return severity_problem(silence.severity)
        return ""

    return problem
