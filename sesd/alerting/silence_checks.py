"""What makes a silence mute nothing, or mute what no one meant: ``sesd silence add``
refuses such a silence, and the daemon leaves one out of the silences file (edited by
hand) with the reason logged. Each check gives its reason in one line, naming the
matcher as ``prefix`` says (``--domain`` on the command line), or "" when it finds
nothing wrong."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from fnmatch import fnmatchcase

from sesd.alerting.alert import SEVERITY_RANK
from sesd.alerting.silences import TEXT_SHOWN, Silence
from sesd.config import Config, is_glob
from sesd.config.watched import NO_DOMAIN_HINT, group_members, no_domain, silence_takes_a_label
from sesd.core.accounts import DEFAULT_ACCOUNT, is_region
from sesd.core.domains import domain_pattern, exact_matcher, silence_forms, silence_takes
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
    config: Config, domain: str, prefix: str = "", members: dict[str, str] | None = None
) -> str:
    """What is wrong with a silence's domain matcher: a character no label has (a
    control or invisible one), a glob that matches no label an alert names or only
    domains counted in a group, a name no alert could have (an address or a URL pasted
    in), a domain counted in a group (its alerts name the group). ``members``: the
    config's :func:`group_members`, when many silences are checked against it."""
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
            f"({prefix}domain {shlex.quote(exact_matcher(groups[0]))})"
        )
    if not _could_be_label(config, domain):
        return (
            f"{said} names no domain, provider, tenant, group or ACCOUNT/REGION: it "
            f"would mute nothing ({NO_DOMAIN_HINT})"
        )
    # A group named as its own member (``gmail.com`` of gmail.com): its alerts' mute
    # line is the name, and mutes the group.
    if written in members and not silence_takes(domain, members[written]):
        group = members[written]
        # Named so, another group is muted by the name too, but a silence cannot tell it
        # from the domain: check-config tells which group to rename.
        named = next((g for g in config.domains.groups if silence_takes(domain, g)), None)
        also = (
            ""
            if named is None
            else f"; it names the group {named!r} as well, which a silence cannot tell "
            "from the domain: rename that group"
        )
        return (
            f"{said} counts under the group {group!r}: its alerts name the "
            f"group ({prefix}domain {shlex.quote(exact_matcher(group))}){also}"
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


def _could_be_label(config: Config, written: str) -> bool:
    """Whether an alert could name ``written``: a domain (or glob), a provider, a tenant,
    a group (its name may be in any script) or an account and region."""
    if not no_domain(written) or valid_tenant(written):
        return True
    # A group's name in any case, a root dot typed after it or not, as a silence
    # matches it (sesd.alerting.silences) and a rule names it: in each form a silence
    # reads, as the group ``Shop EU.`` is no domain, its mute line keeping the dot.
    typed = silence_forms(written)
    if any(group.lower() in typed for group in config.domains.groups):
        return True
    if written in NOT_NAMES:  # a tenant SES names ``other`` is ``'other'``
        return True
    account, _, region = written.lower().partition("/")
    accounts = {DEFAULT_ACCOUNT, *(a.name.lower() for a in config.accounts)}
    return account in accounts and is_region(region)


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


def silence_check(config: Config, *, labels_known: bool = True) -> Callable[[Silence], str]:
    """What the daemon asks of each silence it reads: the CLI's checks of its matchers
    (not whether a name is a provider's as well as a domain's: the silence mutes both,
    as written), and a matcher at all (the CLI needs one; an entry edited in without
    one would mute every alert). Without ``labels_known`` (``sesd silence list`` of a
    file whose groups or accounts cannot be read), a domain matcher is checked only for
    a control or invisible character."""
    members = group_members(config)  # a group may count thousands of domains

    def problem(silence: Silence) -> str:
        if silence.rule is None and silence.domain is None and silence.severity is None:
            return (
                "no rule, domain nor severity: it would mute every alert (write severity "
                "'*' to mean that)"
            )
        if silence.domain is not None and (
            found := domain_problem(config, silence.domain, members=members)
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
