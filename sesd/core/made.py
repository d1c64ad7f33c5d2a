"""Which labels events make, scope by scope: the rule a label read back from a state
file is held to. A file edited by hand, damaged, or written by an older build brings
no label an event could not make (too long, with control characters, a domain not in
its normal form, a provider not in the table, a tenant name SES does not allow) into
the windows, the pending delays or the alert states, where it would be exported,
logged and sent as if an event had made it."""

from __future__ import annotations

from collections.abc import Callable, Collection

from sesd.core.domains import (
    MAX_DOMAIN,
    OTHER,
    OWN_OTHER,
    normalise_domain,
    tag_label,
)
from sesd.core.label_table import LabelTable
from sesd.core.providers import LABELS, MX_LABEL
from sesd.core.scopes import DOMAIN, PROVIDER
from sesd.core.tenant_map import NOT_NAMES, valid_tenant

__all__ = ["is_domain", "is_tag_value", "is_tenant", "maker"]


def is_domain(label: object) -> bool:
    """Whether ``label`` is a domain as an event's recipient makes one: in normal form."""
    return isinstance(label, str) and normalise_domain(label) == label


def is_tenant(label: object) -> bool:
    """Whether ``label`` is a tenant's as an event makes one (``unknown``, ``'other'``...)."""
    return isinstance(label, str) and (label in NOT_NAMES or valid_tenant(label))


def is_tag_value(label: object) -> bool:
    """Whether ``label`` is a tag value an event makes a label of (else ``other``)."""
    return isinstance(label, str) and label in (OTHER, OWN_OTHER, tag_label(label))


def maker(
    axis: str,
    domains: LabelTable,
    tenants: LabelTable,
    mx: Collection[str],
    listed: Collection[object] = (),
) -> Callable[[object], bool]:
    """Whether an event makes a label in the scope ``axis``: a domain in normal form, a
    label of ``[domains]`` (a tracked domain, a group) or ``other``; a built-in provider
    or one of ``mx``; a tenant's name SES allows, one a rule names, ``unknown`` or
    ``other``. ``listed``: the labels a state file's tables hold in that scope, where a
    group's or a provider's the config had when it was saved is taken too (printable,
    a provider's in the shape ``[providers.mx]`` allows): its alerts still resolve."""
    if axis == PROVIDER:
        return lambda label: (
            label in LABELS
            or label in mx
            or (
                isinstance(label, str) and label in listed and MX_LABEL.fullmatch(label) is not None
            )
        )
    if axis == DOMAIN:
        return lambda label: (
            isinstance(label, str)
            and (
                label == OTHER
                or domains.fixed(label)
                or is_domain(label)
                or (label in listed and _group_name(label))
            )
        )
    return lambda label: (
        isinstance(label, str) and (label == OTHER or tenants.fixed(label) or is_tenant(label))
    )


def _group_name(label: str) -> bool:
    """Whether ``label`` could name a group: printable, no longer than a domain."""
    return label.isprintable() and 0 < len(label) <= MAX_DOMAIN
