"""``sesd silence add --domain NAME`` where NAME is a mailbox provider's (``microsoft``):
which alerts it would mute, and the ``--rule`` to type for each.

An alert names a provider when a rule on providers fires for it, and a group when a
rule on domains fires for a group of that name. Without ``--rule`` the silence would
mute both: refused, with the ``--rule`` of each reading the config has (the rules that
watch it, as the evaluator picks their labels). A rule on domains alone that watches no
group of that name would mute nothing (a domain's name has a dot): refused too,
pointing at the provider's rules. The line for ``--rule`` used to
name every rule on domains, and the one an on-call engineer picked from it then muted
nothing."""

from __future__ import annotations

import shlex
from fnmatch import fnmatchcase

from sesd.alerting.labels import takes
from sesd.config import Config, RuleConfig
from sesd.core.domains import domain_pattern, silence_forms
from sesd.core.providers import LABELS as PROVIDER_LABELS
from sesd.core.scopes import DOMAIN, PROVIDER

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
    # provider glob never takes unknown or none. A group in each form a silence reads
    # it: ``Microsoft.`` takes the group ``Microsoft.`` too, named with its root dot.
    providers = [r.name for r in rules if r.scope == PROVIDER and takes(r, name)]
    forms = silence_forms(domain)
    written = [group for group in config.domains.groups if group.lower() in forms]
    grouped = bool(written)
    groups = [r.name for r in rules if r.scope == DOMAIN and any(takes(r, g) for g in written)]
    if rule is None:
        told = [
            f"{_either(providers)} for the provider's",
            f"{_either(groups)} for the group {name}'s",
        ]
        choices = [t for t, names in zip(told, (providers, groups), strict=True) if names]
        if not choices:
            group = _no_group_rule(name, grouped)
            return (
                f"{said} names the mailbox provider {name}, and no rule alerts on it: "
                f"{_no_provider_rule(rules)}, and {group}; it would mute nothing"
            )
        what = "the mailbox provider and the group" if grouped else "the mailbox provider"
        return f"{said} names {what} {name}: add --rule to say which alerts: " + "; ".join(choices)
    chosen = [r for r in rules if fnmatchcase(r.name, rule)]
    if not chosen or any(r.scope != DOMAIN or r.name in groups for r in chosen):
        return ""  # the group's, the provider's or a tenant's; or no rule (told apart)
    fix = f"its alerts come from {_either(providers)}" if providers else _no_provider_rule(rules)
    why = _no_group_rule(name, grouped) + ("" if grouped else " (a domain's name has a dot)")
    return (
        f"{said} --rule {shlex.quote(rule)}: rules on domains only, and {why}: it would "
        f"mute nothing; {name} is a mailbox provider: {fix}"
    )


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
