"""``sesd silence add --domain NAME`` where NAME is a mailbox provider's (``microsoft``):
which alerts it would mute, and the ``--rule`` to type for each.

An alert names a provider when a rule on providers fires for it, a group when a rule
on domains fires for a group of that name, and a tenant when a rule on tenants fires
for a tenant of that name in any case (``Acme``). Without ``--rule`` the silence would
mute them all: refused, with the ``--rule`` of each reading the config has (the rules
that watch it, as the evaluator picks their labels). ``other`` is sesd's label of the
domains past max_tracked as well, which a rule on domains fires on. A rule on domains
alone that watches no group of that name would mute nothing (a domain's name has a
dot): refused too,
pointing at the provider's rules. The line for ``--rule`` used to
name every rule on domains, and the one an on-call engineer picked from it then muted
nothing."""

from __future__ import annotations

import shlex
from fnmatch import fnmatchcase
from typing import Final

from sesd.alerting.labels import takes
from sesd.config import Config, RuleConfig
from sesd.core.domains import OTHER, domain_pattern, silence_takes
from sesd.core.globs import glob_parts
from sesd.core.providers import LABELS as PROVIDER_LABELS
from sesd.core.scopes import DOMAIN, PROVIDER, TENANT
from sesd.core.tenant_map import valid_tenant

__all__ = ["provider_problem"]


def provider_problem(
    config: Config, domain: str, rule: str | None, *, groups_known: bool = True
) -> str:
    """Why ``--domain domain`` (with ``--rule rule``, if given) does not say which
    alerts, or mutes none, when it names a mailbox provider; "" otherwise. Without
    ``groups_known`` (a refused file's groups unread), nor without rules read, the
    config cannot tell the readings apart: a ``--rule`` is asked for, and taken."""
    name = domain_pattern(domain)
    # The config's own providers too (``[providers.mx]``): a silence of one without a
    # --rule mutes a group of that name as a built-in provider's would.
    if name not in {*PROVIDER_LABELS, *config.providers.mx}:
        return ""
    said = f"--domain {shlex.quote(domain)}"
    rules = config.alerts.rules
    if not (rules and groups_known):  # nothing to tell the readings apart by
        if rule:
            return ""
        return (
            f"{said} names a mailbox provider as well as any domain or group of that "
            "name: add --rule to say which alerts"
        )
    # The rules whose alerts name it, as the evaluator picks a rule's labels: a rule on
    # domains takes a group by its name as the config writes it (Microsoft), and a
    # provider glob never takes unknown or none.
    providers = [r.name for r in rules if r.scope == PROVIDER and takes(r, name)]
    # The groups the silence takes as it matches them (``Microsoft.`` takes the group
    # ``Microsoft.`` too, named with its root dot, and ``other.`` the group ``other.``); and
    # sesd's own ``other``, the domains past max_tracked, which a rule on domains fires
    # on: its mute line is ``--domain other``.
    written = [group for group in config.domains.groups if silence_takes(domain, group)]
    grouped = bool(written)
    groups = [r.name for r in rules if r.scope == DOMAIN and any(takes(r, g) for g in written)]
    past = (
        [r.name for r in rules if r.scope == DOMAIN and takes(r, OTHER)]
        if silence_takes(domain, OTHER)
        else []
    )
    tenants = [r.name for r in rules if r.scope == TENANT and _takes_tenant(r, name)]
    if rule is None:
        told = [
            f"{_either(providers)} for the provider's",
            f"{_either(groups)} for the group {name}'s",
            f"{_either(tenants)} for a tenant {name}'s",
            f"{_either(past)} for the domains past max_tracked ({OTHER})",
        ]
        found = (providers, groups, tenants, past)
        choices = [t for t, names in zip(told, found, strict=True) if names]
        if not choices:
            group = _no_group_rule(name, grouped)
            return (
                f"{said} names the mailbox provider {name}, and no rule alerts on it: "
                f"{_no_provider_rule(rules)}, and {group}; it would mute nothing"
            )
        what = " and ".join(
            noun for noun, named in (("the group", grouped), ("a tenant", bool(tenants))) if named
        )
        what = f"the mailbox provider and {what}" if what else "the mailbox provider"
        what += f" {name}" + (f" and sesd's {OTHER} (the domains past max_tracked)" if past else "")
        return f"{said} names {what}: add --rule to say which alerts: " + "; ".join(choices)
    chosen = [r for r in rules if fnmatchcase(r.name, rule)]
    if not chosen or any(r.scope != DOMAIN or r.name in (*groups, *past) for r in chosen):
        return ""  # the group's, the provider's or a tenant's; or no rule (told apart)
    fix = f"its alerts come from {_either(providers)}" if providers else _no_provider_rule(rules)
    why = _no_group_rule(name, grouped) + ("" if grouped else " (a domain's name has a dot)")
    return (
        f"{said} --rule {shlex.quote(rule)}: rules on domains only, and {why}: it would "
        f"mute nothing; {name} is a mailbox provider: {fix}"
    )


def _takes_tenant(rule: RuleConfig, name: str) -> bool:
    """Whether a rule on tenants may fire on a tenant a silence of ``name`` (lower
    case) takes: the tenant in any case (``Acme`` for ``acme``), as a silence matches
    it, named by the rule or matched by its glob, and not left out by its exclusions."""
    return takes(rule, name) or (
        valid_tenant(name) and _in_another_case(rule.watched, rule.excluded, name)
    )


#: Readings of a name's cases a search follows at once, at most: each a place in one
#: watched glob and in every exclusion. An exclusion such as ``*a????????????????x``
#: keeps apart each case of the name's last sixteen characters, 2^16 readings, which
#: held ``sesd silence add`` for minutes; past the bound the rule is named, as it may
#: fire (a ``--rule`` too many in the line, never one too few).
_READINGS: Final = 4096


def _in_another_case(watched: list[str], excluded: list[str], name: str) -> bool:
    """Whether some tenant named ``name`` in another case than its own is taken by one
    of ``watched`` (names and globs, as :mod:`fnmatch` matches them) and by none of
    ``excluded``. Each character is tried in either case, the place in every glob
    stepped on at once: ``Acme*`` less ``Acme`` takes no ``acme``, nor ``*`` less
    ``[aA]*``, though each glob does; and ``*`` less ``Acme`` takes ``ACME``. A
    watched glob's places are followed each on its own (one taking the name is
    enough), the exclusions' together (each must leave it out)."""
    wanted = [list(glob_parts(pattern)) for pattern in watched]
    left_out = [list(glob_parts(pattern)) for pattern in excluded]
    start = tuple(_onward(parts, {0}) for parts in left_out)
    readings = {(g, k, True, start) for g, parts in enumerate(wanted) for k in _onward(parts, {0})}
    for letter in name:
        readings = {
            (g, after, same and c == letter, _stepped(left_out, places, c))
            for g, k, same, places in readings
            for c in dict.fromkeys((letter, letter.upper()))
            if _step(wanted[g], k, c)
            for after in _onward(wanted[g], {k if wanted[g][k][0] == "*" else k + 1})
        }
        if len(readings) > _READINGS:
            return True
    return any(
        not same
        and k == len(wanted[g])
        and not any(len(parts) in at for parts, at in zip(left_out, places, strict=True))
        for g, k, same, places in readings
    )


def _stepped(
    globs: list[list[tuple[str, str]]], places: tuple[frozenset[int], ...], c: str
) -> tuple[frozenset[int], ...]:
    """Where each glob (its parts) is after the character ``c``, from ``places``."""
    return tuple(
        _onward(parts, {k if parts[k][0] == "*" else k + 1 for k in at if _step(parts, k, c)})
        for parts, at in zip(globs, places, strict=True)
    )


def _step(parts: list[tuple[str, str]], k: int, c: str) -> bool:
    """Whether the glob's part ``k`` takes the character ``c``."""
    if k == len(parts):
        return False
    kind, text = parts[k]
    return kind in "*?" or (kind == "set" and fnmatchcase(c, text)) or c == text


def _onward(parts: list[tuple[str, str]], at: set[int]) -> frozenset[int]:
    """``at`` and the places past each ``*`` from there, which takes nothing too."""
    places = set(at)
    for k in sorted(at):
        while k < len(parts) and parts[k][0] == "*":
            k += 1
            places.add(k)
    return frozenset(places)


def _either(names: list[str]) -> str:
    return " or ".join(f"--rule {shlex.quote(n)}" for n in names)


def _no_group_rule(name: str, grouped: bool) -> str:
    if grouped:
        return f"no rule on domains watches the group {name}"
    return f"no group is named {name}"


def _no_provider_rule(rules: list[RuleConfig]) -> str:
    if any(r.scope == PROVIDER for r in rules):
        return "no rule on providers watches it"
    return "no rule watches providers (providers = [...] in a rule)"
