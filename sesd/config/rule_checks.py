"""A rule's checks beside its thresholds (sesd.config.thresholds): what it watches,
its labels, links and cause; and the link templates."""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Final

import msgspec

from sesd.config.urls import check_link
from sesd.config.values import toml_key
from sesd.core.causes import CAUSES
from sesd.core.domains import (
    OTHER,
    glob_forms,
    group_named,
    normalise_domain,
    takes_every,
    takes_glob,
    takes_name,
)
from sesd.core.glob_cover import leaves_a_domain
from sesd.core.text import escaped, has_space_or_control

if TYPE_CHECKING:
    from sesd.config.alerts import AlertsConfig, RuleConfig

__all__ = [
    "check_extras",
    "check_some_left",
    "check_template",
    "check_watched",
    "link_warnings",
]

_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
#: Labels sesd sets itself on an Alertmanager alert.
_OWN_LABELS = frozenset(
    {"alertname", "domain", "provider", "tenant", "account", "region", "severity"}
)
_TEMPLATE_FIELDS = {"domain": "example.com", "rule": "rule", "window": "5m", "scope": "domain"}
#: The fields, as an error names them.
_FIELDS: Final = ", ".join(f"{{{name}}}" for name in _TEMPLATE_FIELDS)


def check_template(template: str, what: str) -> None:
    """A URL template may use ``{domain}``, ``{rule}``, ``{window}`` and ``{scope}`` only, each
    plain (:func:`_check_plain`)."""
    try:
        _check_plain(template, what)
        example = template.format(**_TEMPLATE_FIELDS)
    except _NotPlain as exc:
        raise ValueError(str(exc)) from None
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        lone = _LONE.get(str(exc))
        why = f"a lone '{lone}': {_OWN_BRACE}" if lone else exc
        raise ValueError(f"{what}: {template!r} is not a template of {_FIELDS} ({why})") from None
    check_link(example, what)


def link_warnings(alerts: AlertsConfig) -> list[str]:
    """The links notifications carry (``dashboard_url``, a rule's ``runbook_url``) with
    a space, a pasted line break or an invisible character: a chat client cuts the link
    there. Warned of, not refused (:func:`check_link`): a config that ran with one
    still loads."""
    links = [("alerts.dashboard_url", alerts.dashboard_url)]
    links += [
        (f"alerts.rules[{i}] ({rule.name}).runbook_url", rule.runbook_url)
        for i, rule in enumerate(alerts.rules)
    ]
    return [
        f"{key}: '{escaped(link, 200)}' has a space, a line break or another control or "
        "invisible character (shown escaped): a chat client cuts the link there"
        for key, link in links
        if link is not None and has_space_or_control(link)
    ]


#: Python's words for a brace left alone, and the brace.
_LONE: Final = {
    "Single '{' encountered in format string": "{",
    "expected '}' before end of string": "{",
    "Single '}' encountered in format string": "}",
}


class _NotPlain(Exception):
    """A template's field that is more than a name."""


def _check_plain(template: str, what: str) -> None:
    """Refuse Python's format language beyond a field's name: an attribute or index
    reaches into the value (``{rule.__class__}`` links to ``<class 'str'>``), a width
    pads every alert's link (``{rule:>99999999}``, 100 MB each), a conversion quotes
    it. A plain name that is none of the three is left to ``format`` to name."""
    for _, name, spec, conversion in string.Formatter().parse(template):
        if name is None or (re.fullmatch(r"\w*", name) and not spec and not conversion):
            continue
        field = (
            "{"
            + name
            + (f"!{conversion}" if conversion else "")
            + (f":{spec}" if spec else "")
            + "}"
        )
        why = (
            "is no field"
            if name not in _TEMPLATE_FIELDS
            else "has a conversion"
            if conversion
            else "has a format"
        )
        # Text in braces that reaches into no field is the link's own (a Grafana
        # Explore link's JSON): doubled, a brace is itself.
        reaches = re.match(r"(?:domain|rule|window|scope)[.\[]", name)
        advice = "write each alone" if reaches or why != "is no field" else _OWN_BRACE
        raise _NotPlain(
            f"{what}: {template!r} is not a template of {_FIELDS} ({field!r} {why}: {advice})"
        )


_OWN_BRACE = "a brace of the link's own is written {{ or }}"


def check_watched(rule: RuleConfig) -> None:
    """What the rule watches: accounts, tenants, providers, or domains (every one by
    default)."""
    from sesd.config.alerts import ACCOUNT_METRICS, TENANT_METRICS  # defined beside rules

    if rule.metric in ACCOUNT_METRICS:
        _check_accounts(rule)
    if rule.tenants is not None or rule.metric in TENANT_METRICS:
        _check_tenants(rule)
        return
    if rule.providers is not None:
        if rule.domains is not None:
            raise ValueError("give `domains` or `providers`, not both")
        if not rule.providers:
            raise ValueError("providers must list '*' or at least one provider")
        if rule.exclude_domains or rule.exclude_tenants:
            raise ValueError(
                f"{_given(rule, 'providers')} a rule on providers leaves some out with "
                "exclude_providers"
            )
    elif rule.exclude_providers or rule.exclude_tenants:
        raise ValueError(
            f"{_given(rule, 'domains')} a rule on domains leaves some out with exclude_domains"
        )
    elif rule.domains is None:
        msgspec.structs.force_setattr(rule, "domains", ["*"])
    elif not rule.domains:
        raise ValueError("domains must list '*' or at least one domain")
    if rule.providers is not None:
        check_some_left("providers", rule.providers, rule.exclude_providers)
    # A rule's domains are checked so beside the groups a name may name, whose label is
    # the group's (sesd.config.watched).


def _check_accounts(rule: RuleConfig) -> None:
    """A rule on accounts names no domains, providers nor tenants, nor leaves any out
    (refused below as a rule on domains' would be, which it is not)."""
    # ["*"] is what check_watched itself gives a rule without domains: a rule saved and
    # read back (the state file, a refresh of the config's files) has it.
    domains = rule.domains not in (None, ["*"])
    given = [
        key
        for key, named in (
            ("domains", domains),
            ("providers", rule.providers),
            ("tenants", rule.tenants),
            ("exclude_domains", rule.exclude_domains),
            ("exclude_providers", rule.exclude_providers),
            ("exclude_tenants", rule.exclude_tenants),
        )
        if named
    ]
    if given:
        raise ValueError(f"{given[0]}: {rule.metric} watches accounts: leave {given[0]} out")


def check_some_left(
    kind: str,
    watched: list[str],
    excluded: list[str] | None,
    groups: Collection[str] = (),
    grouped: Collection[str] = (),
) -> None:
    """A rule whose exclusions leave out every name it watches would never fire: each
    glob it watches is excluded by ``*`` or by itself, however written (one beside a
    narrower glob excluded may still fire), or, of domains, takes no label they leave in
    (``*.рф`` less ``*.xn--p1ai``, ``*.example.com`` less ``*.com``), each name by an
    exclusion that takes its label, as the evaluator takes labels
    (sesd.alerting.labels): of domains, the label of the group of ``groups`` it names
    (``Bücher``, which ``Bü*`` takes), and its normal form, unless that is no
    recipient's (without a dot) or ``grouped`` (the domains a group counts) holds it:
    a group ``Bücher.de`` of other domains leaves the rule ``xn--bcher-kva.de`` too,
    which ``Bü*`` does not take."""
    from sesd.config.alerts import is_glob  # defined beside rules

    if not excluded:
        return
    domains = kind == "domains"

    def taken(label: str) -> bool:
        return any(
            takes_glob(label, pattern, domains)
            if is_glob(pattern)
            else takes_name(label, pattern, domains)
            for pattern in excluded
        )

    def left_out(name: str) -> bool:
        if is_glob(name):
            # A domain glob as the evaluator reads it: ``*.`` is ``*``, and ``"*.example "``
            # the glob ``*.example``.
            if any(takes_every(pattern, name, domains) for pattern in excluded):
                return True
            # Each exclusion as it takes a domain: a glob in each of its forms, a name
            # as written and in normal form (the texts it matches).
            leaving = [
                form
                for pattern in excluded
                for form in (
                    glob_forms(pattern)
                    if is_glob(pattern)
                    else {pattern, normalise_domain(pattern)}
                )
                if form is not None
            ]
            return domains and _takes_nothing_left(name, leaving, groups, taken)
        if not domains:
            return taken(name)
        # Checked already: a group's name, or a domain's, or both.
        group, domain = group_named(name, groups), normalise_domain(name)
        labels = [group] if group is not None else []
        # A group's name without a dot (``Bücher``) is a domain no recipient has.
        if domain is not None and (group is None or ("." in domain and domain not in grouped)):
            labels.append(domain)
        return all(taken(label) for label in labels or [name])

    if all(left_out(name) for name in watched):
        raise ValueError(
            f"exclude_{kind}: leaves out every one of the {kind} the rule watches "
            f"({', '.join(watched)}): it would never fire"
        )


def _takes_nothing_left(
    glob: str, excluded: list[str], groups: Collection[str], taken: Callable[[str], bool]
) -> bool:
    """Whether a domain glob no exclusion takes whole (``*.рф`` less ``*.xn--p1ai``)
    takes nothing they leave in: each domain it takes (in normal form), in each form it
    is read in, by one of ``excluded`` (the globs and names the exclusions match a
    domain as), however written (``*.com`` takes every domain ``*.example.com`` takes);
    each group (and ``other``) that ``taken`` leaves out. ``*.рф`` as written takes a
    group ``Магазин.рф``, which ``*.xn--p1ai`` leaves in: the rule fires on it."""
    if any(leaves_a_domain(form, excluded) for form in glob_forms(glob)):
        return False
    return all(taken(label) for label in (OTHER, *groups) if takes_glob(label, glob, True))


def _check_tenants(rule: RuleConfig) -> None:
    """A rule on tenants names no domains nor providers; every tenant by default."""
    if rule.domains is not None or rule.providers is not None:
        raise ValueError("give `domains`, `providers` or `tenants`, one of them")
    if rule.tenants is None:
        msgspec.structs.force_setattr(rule, "tenants", ["*"])
    elif not rule.tenants:
        raise ValueError("tenants must list '*' or at least one tenant")
    if rule.exclude_domains or rule.exclude_providers:
        raise ValueError(
            f"{_given(rule, 'tenants')} a rule on tenants leaves some out with exclude_tenants"
        )
    check_some_left("tenants", rule.tenants or [], rule.exclude_tenants)


def _given(rule: RuleConfig, watched: str) -> str:
    """``exclude_KEY:``, of the first exclusion given that is not of ``watched``."""
    others = [kind for kind in ("domains", "providers", "tenants") if kind != watched]
    kind = next(kind for kind in others if getattr(rule, f"exclude_{kind}"))
    return f"exclude_{kind}:"


def check_extras(rule: RuleConfig) -> None:
    """Labels, the runbook link and the cause of ``cause_ratio``."""
    for name, value in rule.labels.items():
        if not _LABEL_NAME.fullmatch(name):
            raise ValueError(
                f"labels.{toml_key(name)}: a label's name is of ASCII letters, digits and "
                "'_', not first a digit, at most 128"
            )
        if name in _OWN_LABELS:
            raise ValueError(f"labels.{name}: set by sesd")
        if not value:
            # Alertmanager drops a label with an empty value without a word.
            raise ValueError(f"labels.{name}: give it a value (Alertmanager drops empty ones)")
        if any(unicodedata.category(char) == "Cc" or char in "\u2028\u2029" for char in value):
            # A line split, a terminal driven. Not an invisible character: Alertmanager
            # takes any UTF-8, and scripts join letters with one (a Persian name's
            # zero-width non-joiner, an emoji's joiner).
            raise ValueError(
                f"labels.{name}: '{escaped(value, 200)}': a control character or a line "
                "break (shown escaped); a label's value goes to Alertmanager and every sink: "
                "write it without"
            )
    if rule.runbook_url is not None:
        check_template(rule.runbook_url, "runbook_url")
    if (rule.metric == "cause_ratio") != (rule.cause is not None):
        raise ValueError("cause: goes with metric cause_ratio, and cause_ratio needs it")
    if rule.cause is not None and rule.cause not in CAUSES:
        raise ValueError(f"cause {rule.cause!r} is unknown (known: {', '.join(CAUSES)})")
    if rule.include_suppressed and rule.metric != "bounce_ratio":
        raise ValueError("include_suppressed: goes with metric bounce_ratio")
