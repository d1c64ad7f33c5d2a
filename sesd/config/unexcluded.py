"""What a rule is told of an exclusion that takes nothing it watches: a provider,
domain or tenant that none of its names nor globs takes (``providers = ["google"]``
beside ``exclude_providers = ["yahoo"]``). It leaves out nothing: a typo of what was
meant to be left out, or one left over when the rule's names changed. Warned of, not
refused: a config that ran on it must start and reload. What the rule's globs take
is asked only where sesd knows every label (providers'): one glob beside another
(``*.example.com`` less ``mail*``) may take some domain or tenant."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from sesd.config.alerts import ACCOUNT_METRICS, CANARY_METRICS, is_glob
from sesd.config.unwatched import (
    first_places,
    provider_excluded_already,
    tenant_excluded_already,
)
from sesd.core.domains import OTHER, group_named, normalise_domain, takes_glob, takes_name
from sesd.core.providers import LABELS as PROVIDER_LABELS
from sesd.core.providers import NOT_PROVIDERS, UNKNOWN
from sesd.core.scopes import DOMAIN, PROVIDER

if TYPE_CHECKING:
    from collections.abc import Collection

    from sesd.config import Config, RuleConfig

__all__ = ["excluded_nothing_warnings"]


def excluded_nothing_warnings(config: Config) -> list[str]:
    """Each exclusion of a rule that takes none of the labels the rule watches, once
    (at its first place in the list). Not those warned of already: an exclusion of
    sesd's own ``unknown`` or ``none`` (sesd.config.unwatched), a domain without a dot
    that no group has (sesd.config.checks), a canary rule's (it reads the canary
    alone)."""
    found = []
    known = {*PROVIDER_LABELS, *config.providers.mx}
    groups = config.domains.groups
    for i, rule in enumerate(config.alerts.rules):
        if rule.metric in CANARY_METRICS or rule.metric in ACCOUNT_METRICS:
            continue
        found += [
            f"alerts.rules[{i}] ({rule.name}).exclude_{rule.scope}s[{j}]: {name!r}, which "
            f"takes none of the {rule.scope}s the rule watches ({', '.join(rule.watched)}): "
            "it leaves out nothing (a typo, or left from an edit?); correct it or drop the "
            "exclusion"
            for j, name in first_places(rule.excluded)
            if _takes_nothing(name, rule, known, groups)
        ]
    return found


def _takes_nothing(
    name: str, rule: RuleConfig, known: Collection[str], groups: Collection[str]
) -> bool:
    """Whether the exclusion ``name`` takes nothing ``rule`` watches, and is warned of
    for that alone."""
    if rule.scope == PROVIDER:
        if provider_excluded_already(name, rule, known):
            return False
        return not _takes_a_provider(name, rule.watched, known)
    if rule.scope == DOMAIN:
        return _dotted_or_grouped(name, groups) and not _takes_a_domain(name, rule.watched, groups)
    if tenant_excluded_already(name, rule):
        return False
    return not _takes_a_tenant(name, rule.watched)


def _takes_a_provider(name: str, watched: list[str], known: Collection[str]) -> bool:
    """Whether an exclusion takes a provider the rule watches: one it names, or one of
    ``known`` its globs take (never ``unknown`` nor ``none``: sesd.alerting.labels)."""
    labels = {label for label in watched if not is_glob(label)}
    globs = [glob for glob in watched if is_glob(glob)]
    labels |= {
        label
        for label in known
        if label not in NOT_PROVIDERS and any(fnmatchcase(label, glob) for glob in globs)
    }
    if is_glob(name):
        return any(fnmatchcase(label, name) for label in labels)
    return name in labels


def _dotted_or_grouped(name: str, groups: Collection[str]) -> bool:
    """Whether a rule's domain exclusion is a glob, a group's name, ``other``, or a
    domain with a dot: the others are no recipient's domain, warned of as such."""
    if is_glob(name) or group_named(name, groups) is not None:
        return True
    label = normalise_domain(name) or name
    return label == OTHER or "." in label.strip(".")


def _labels(name: str, groups: Collection[str]) -> list[str]:
    """The labels a rule's domain name (not a glob) watches or leaves out: the group it
    names, else the domain in its normal form."""
    group = group_named(name, groups)
    return [group] if group is not None else [normalise_domain(name) or name]


def _takes_a_domain(name: str, watched: list[str], groups: Collection[str]) -> bool:
    """Whether a domain exclusion takes a label the rule watches, as the evaluator takes
    labels: a name, the label of one the rule names or one its globs take; a glob, the
    label of one the rule names, or, beside the rule's own globs, maybe some domain."""
    names = [
        label for written in watched if not is_glob(written) for label in _labels(written, groups)
    ]
    globs = [glob for glob in watched if is_glob(glob)]
    if is_glob(name):
        return bool(globs) or any(takes_glob(label, name, True) for label in names)
    return any(takes_name(label, name, True) for label in names) or any(
        takes_glob(label, glob, True) for label in _labels(name, groups) for glob in globs
    )


def _takes_a_tenant(name: str, watched: list[str]) -> bool:
    """Whether a tenant exclusion takes a tenant the rule watches: one it names, or one
    its globs take (never ``unknown``: sesd.alerting.labels); a glob, beside the rule's
    own globs, maybe some tenant."""
    names = [label for label in watched if not is_glob(label)]
    globs = [glob for glob in watched if is_glob(glob)]
    if is_glob(name):
        return bool(globs) or any(fnmatchcase(label, name) for label in names)
    return name in names or (name != UNKNOWN and any(fnmatchcase(name, glob) for glob in globs))
