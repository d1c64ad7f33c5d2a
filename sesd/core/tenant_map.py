"""SES tenants: which tenant an event's mail was sent for.

A tenant groups identities, configuration sets and templates; SES tracks
reputation per tenant and may pause one tenant instead of the account. The
tenant of an event is, in order:

1. the one the event names: the ``ses:tenant-name`` tag (documented on Bounce
   and Complaint events), or another tag configured to carry it;
2. the tenant its configuration set belongs to, then its sending identity's,
   from :class:`TenantMap` (the account's tenant resources, polled), when the
   resource belongs to exactly one tenant;
3. ``unknown``.

What SES says of each tenant is sesd.core.tenants'. Pure.
"""

from __future__ import annotations

import operator
import re
import string
from collections.abc import Collection, Iterable
from fnmatch import fnmatchcase
from itertools import islice
from typing import Final

from sesd.core.globs import glob_parts

__all__ = [
    "AMBIGUOUS",
    "MAX_RESOURCE_ARN",
    "NOT_NAMES",
    "TENANT_TAG",
    "UNKNOWN",
    "TenantMap",
    "glob_takes_a_tenant",
    "names_a_resource",
    "tenant_label",
    "tenant_of_arn",
    "valid_tenant",
]

#: The tag SES adds to an event of a tenant's mail.
TENANT_TAG: Final = "ses:tenant-name"
#: The longest resource ARN the map keeps. A tenant's resources are identities,
#: configuration sets and templates (ListTenantResources); the longest of their ARNs is
#: an identity's of the longest address, 254 characters (an SMTP path's bound): 313 in
#: the longest partition (``aws-us-gov``) and region name botocore knows, 379 were an
#: address 320. A configuration set's or template's name is at most 64. Longer, an ARN
#: is none SES writes (an event's ``sourceArn`` is anyone's who can send to the queue).
MAX_RESOURCE_ARN: Final = 384
#: No tenant could be told (no tag; the resource belongs to none, or to several).
UNKNOWN: Final = "unknown"
#: A resource shared by several tenants (kept in the map; counts as unknown).
AMBIGUOUS: Final = ""
#: sesd's own tenant labels (``other``: sesd.core.domains.OTHER, tenants past the cap).
_OWN_LABELS: Final = (UNKNOWN, "other")
#: A saved row's items, an ARN and its tenant (a later build's after them are not this
#: one's to read; not unpacked with ``*_``: a list made for each of a million rows).
_ROW: Final = operator.itemgetter(0, 1)
#: The tenant labels an event makes that are no name SES gives: :data:`UNKNOWN`, and the
#: quoted names of :func:`tenant_label` (a state file's labels are checked against them).
NOT_NAMES: Final = (UNKNOWN, *(f"'{name}'" for name in _OWN_LABELS))
#: SES's tenant names: letters, digits, '-' and '_', at most 64.
_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_NAME_CHARACTERS: Final = string.ascii_letters + string.digits + "-_"
#: ``arn:aws:ses:REGION:ACCOUNT:tenant/NAME/ID`` (a tenant's ARN).
_TENANT_ARN: Final = re.compile(
    r"arn:aws[a-z-]{0,16}:ses:([a-z0-9-]{1,32}):(\d{12}):tenant/([^/]+)/"
)


def tenant_label(name: str) -> str:
    """The label of the tenant SES names ``name``: the name, but quoted when it is
    spelled as one of sesd's own tenant labels, ``'unknown'`` and ``'other'`` (a quote
    is in no name SES gives), so a tenant named so never merges with mail no tenant
    could be told for (:data:`UNKNOWN`) or with tenants past the cap (``other``)."""
    return f"'{name}'" if name in _OWN_LABELS else name


def valid_tenant(name: str) -> bool:
    """Whether ``name`` can be an SES tenant's name (anything else counts as unknown)."""
    return _NAME.fullmatch(name) is not None


def glob_takes_a_tenant(
    pattern: str, own: Collection[str] = NOT_NAMES, *, lower: bool = False
) -> bool:
    """Whether a glob (``*``, ``?``, ``[...]``, matched as rules match labels) takes
    some tenant label: a name SES allows, as a tenant's label (not ``unknown`` nor
    ``other``: a tenant so named is labelled quoted), or one of ``own`` (the labels of
    sesd's own the glob meets). With ``lower``, the names in lower case (a silence
    matches labels so).

    Its shortest match is found, each ``?`` and ``[...]`` given a character of names
    and each ``*`` nothing: any other match is longer, or has a character no name has
    where the glob leaves a choice. Where that is ``unknown`` or ``other``, the glob
    has no ``?`` (it gives ``a``): a first ``*`` given ``a``, or a set its second
    character, matches another name, one of neither length; else it matches no other."""
    if any(fnmatchcase(label, pattern) for label in own):
        return True
    characters = _NAME_CHARACTERS.lower() if lower else _NAME_CHARACTERS
    shortest, another, star = "", "", False
    for kind, text in glob_parts(pattern):
        if kind == "set":
            found = [c for c in dict.fromkeys(characters) if fnmatchcase(c, text)]
            if not found:
                return False
            shortest += found[0]
            another += found[-1]
        elif kind == "*":
            another += "" if star else "a"
            star = True
        else:
            shortest += "a" if kind == "?" else text
            another += "a" if kind == "?" else text
    shortest = shortest or "a"  # only stars: any one name
    return any(
        valid_tenant(name) and name not in _OWN_LABELS and fnmatchcase(name, pattern)
        for name in (shortest, another)
    )


def tenant_of_arn(arn: str) -> tuple[str, str, str] | None:
    """(region, account id, tenant name) of a tenant ARN, or None."""
    found = _TENANT_ARN.match(arn)
    if found is None or not valid_tenant(found.group(3)):
        return None
    return found.group(1), found.group(2), found.group(3)


class TenantMap:
    """Resource ARN (configuration set, identity) -> the one tenant it belongs to, or
    :data:`AMBIGUOUS` when several share it; bounded, the oldest entry out first."""

    __slots__ = ("_learned", "arns", "max_entries", "refused", "version")

    def __init__(self, max_entries: int = 1_000_000) -> None:
        self.max_entries = max_entries
        self.arns: dict[str, str] = {}
        #: The resources :meth:`learn` mapped (the polls' answers replace them).
        self._learned: set[str] = set()
        #: Bumped on every change: what was looked up from an older map is stale.
        self.version = 0
        #: Events whose tenant :meth:`learn` was told for a resource ARN the map does not
        #: keep (:func:`names_a_resource`: longer, or not 7-bit ASCII), and such resources
        #: a walk of the tenants read (sesd.core.tenant_walks, counted as each walk ends):
        #: that resource's deliveries count under :data:`UNKNOWN`, and this says why.
        self.refused = 0

    def replace(self, region: str, account: str, resources: dict[str, set[str]]) -> None:
        """The resources of one (region, account id), as its tenants list them now:
        ARN -> the tenants it belongs to. What that (region, account) had before and
        no longer lists is forgotten."""
        stale = [arn for arn in self.arns if _where(arn) == (region, account)]
        for arn in stale:
            del self.arns[arn]
            self._learned.discard(arn)
        for arn, tenants in resources.items():
            if not names_a_resource(arn):
                continue  # an endpoint's, not SES's: no event names it
            self._learned.discard(arn)
            if len(self.arns) >= self.max_entries:
                self._learned.discard(next(iter(self.arns)))
                del self.arns[next(iter(self.arns))]
            self.arns[arn] = next(iter(tenants)) if len(tenants) == 1 else AMBIGUOUS
        self.version += 1

    def tenant(self, source_arn: str, config_set: str) -> str:
        """The tenant's label (:func:`tenant_label`) of mail sent from identity
        ``source_arn`` with ``config_set``: the configuration set's, else the
        identity's, when one tenant owns it; else :data:`UNKNOWN`."""
        if config_set:
            head, _, _ = source_arn.partition(":identity/")
            found = self.arns.get(f"{head}:configuration-set/{config_set}")
            if found:
                return tenant_label(found)
        found = self.arns.get(source_arn)
        return tenant_label(found) if found else UNKNOWN

    def of_mail(
        self, tags: dict[str, list[str]], names: Iterable[str], source_arn: str, config_set: str
    ) -> str:
        """The tenant's label of mail with ``tags``, sent from ``source_arn`` with
        ``config_set``: the first of the tags ``names`` holding a valid tenant (learned
        for the resource: SES's own word maps it, a sender's can only say the resource
        is shared, :meth:`learn`), else the resource's (:meth:`tenant`)."""
        for tag in names:
            values = tags.get(tag)
            if values and valid_tenant(values[0]):
                self.learn(source_arn, config_set, values[0], by_ses=tag.startswith("ses:"))
                return tenant_label(values[0])
        return self.tenant(source_arn, config_set)

    def learn(self, source_arn: str, config_set: str, tenant: str, *, by_ses: bool) -> None:
        """An event sent from ``source_arn`` with ``config_set`` named its tenant. When
        SES named it (its own ``ses:`` tag, on bounces and complaints), a resource the
        polls have not mapped is taken as that tenant's, so the deliveries, which carry
        no such tag, count under it too (else its bounce ratio reads bounces over
        bounces, 100%, while the polls are denied or not done yet). Any event naming
        another tenant for a resource so learned makes it :data:`AMBIGUOUS` (several
        tenants send with it); a resource the polls mapped stays as it is."""
        head, _, _ = source_arn.partition(":identity/")
        arn = f"{head}:configuration-set/{config_set}" if config_set else source_arn
        if not names_a_resource(arn):
            # No resource's (the configuration set is a tag's word, an ARN none SES
            # writes): not kept; an ARN refused is counted, the rest named no resource.
            if arn.startswith("arn:"):
                self.refused += 1
            return
        known = self.arns.get(arn)
        if known is None and by_ses:
            if len(self.arns) >= self.max_entries:
                self._learned.discard(next(iter(self.arns)))
                del self.arns[next(iter(self.arns))]
            self.arns[arn] = tenant
            self._learned.add(arn)
            self.version += 1
        elif known != tenant and arn in self._learned:
            self.arns[arn] = AMBIGUOUS
            self.version += 1

    def snapshot(self) -> list[list[str]]:
        """Plain data for the state file."""
        return [[arn, tenant] for arn, tenant in self.arns.items()]

    def restore(self, rows: list[list[str]]) -> None:
        """Load what :meth:`snapshot` returned, held to the rules of a live read (an
        older build's file, or one edited): a tenant name SES could not have given, or
        a resource no ARN names, is not kept (its events count as unknown). Past the
        cap (a file of a build that kept more), the newest rows are kept, as live
        eviction keeps them."""
        for arn, tenant in map(_ROW, rows):
            arn, tenant = str(arn), str(tenant)
            if not names_a_resource(arn):
                continue
            if tenant != AMBIGUOUS and not valid_tenant(tenant):
                continue
            self.arns[arn] = tenant
        if len(self.arns) > self.max_entries:
            newest = list(islice(self.arns.items(), len(self.arns) - self.max_entries, None))
            self.arns.clear()
            self.arns.update(newest)
        self.version += 1


def names_a_resource(arn: str) -> bool:
    """Whether ``arn`` can be a resource's, as the map keeps them: an ARN, at most
    :data:`MAX_RESOURCE_ARN` long, of 7-bit ASCII (as SES's addresses and names are), so
    that a row's size in the state file is bounded (sesd.runtime.state_size)."""
    return arn.startswith("arn:") and len(arn) <= MAX_RESOURCE_ARN and arn.isascii()


def _where(arn: str) -> tuple[str, str]:
    parts = arn.split(":", 5)
    return (parts[3], parts[4]) if len(parts) > 5 else ("", "")
