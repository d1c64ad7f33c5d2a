"""``[domains]``: which recipient domains become label values, and the groups that
fold several into one label. Each domain is checked as the core normalises it, and
each group's name as the label it becomes."""

from __future__ import annotations

import shlex
from typing import Final

import msgspec

from sesd.config.alerts import is_glob
from sesd.config.values import LABEL_LENGTH, Duration, Section, toml_key
from sesd.core.domains import (
    FULL_STOPS,
    OTHER,
    domain_pattern,
    exact_matcher,
    forms_take,
    normalise_domain,
    silence_forms,
    silence_takes,
)
from sesd.core.text import has_control

__all__ = [
    "NO_DOMAIN_HINT",
    "DomainsConfig",
    "counted_elsewhere",
    "grouped",
    "listed_twice",
    "named_alike",
    "unmuted",
]

#: Matches of a group's name with a glob-shaped one's, at most, a config's warnings make
#: (each silence of one such is matched with every other name): well under a second,
#: where thousands of names read as globs would hold a start or a reload for a minute.
_GLOB_MATCHES: Final = 100_000

#: How to write a domain where an address or a URL was pasted in.
NO_DOMAIN_HINT = "write the domain alone, as gmail.com for ann@gmail.com"


class DomainsConfig(Section, frozen=True):
    """``[domains]``: which recipient domains become label values."""

    track: list[str] = []
    groups: dict[str, list[str]] = {}
    max_tracked: int = 200
    idle_evict: Duration = msgspec.field(default_factory=lambda: Duration("24h"))

    def __post_init__(self) -> None:
        if self.max_tracked < 0:
            raise ValueError("max_tracked must not be negative")
        # (key, group, domain): each member named by its index, as track's are.
        listed: list[tuple[str, str | None, str]] = [
            (f"track[{i}]", None, domain) for i, domain in enumerate(self.track)
        ]
        listed += [
            (f"groups.{toml_key(name)}[{j}]", name, domain)
            for name, members in self.groups.items()
            for j, domain in enumerate(members)
        ]
        grouped: dict[str, tuple[str, str, str]] = {}
        for where, group, domain in listed:
            norm = normalise_domain(domain)
            if norm is None:
                # An address or a URL pasted in: the domain to write said, as a rule's is.
                pasted = f" ({NO_DOMAIN_HINT})" if "@" in domain or "/" in domain else ""
                raise ValueError(f"{where}: {domain!r} is not a usable domain name{pasted}")
            # One label a domain: in a second group it counted under the last alone
            # (twice in one group, it counts under that group all the same).
            if group is None:
                continue
            first, first_group, written = grouped.setdefault(norm, (where, group, domain))
            if first_group != group:
                # Each as written where it is: a search for the normal form does not
                # find bücher.de.
                said = repr(domain) if domain == norm else f"{domain!r} is {norm}"
                # The other group named whole, as README writes a key: the loader
                # puts "domains." before this line's own key, not before this one.
                there = f"domains.{first}" + ("" if written == norm else f" (as {written!r})")
                raise ValueError(
                    f"{where}: {said}, already in {there}: a domain counts under one group"
                )
        for name in self.groups:
            # Named by its key (quoted as TOML quotes a key that is not bare), which the
            # loader puts after "domains.".
            key = f"groups.{toml_key(name)}"
            if name in (OTHER, "invalid") or not name:
                raise ValueError(f"{key}: the name is reserved")
            if name in (".", ".."):
                # A URL's path reads them (and %2E, %2E%2E) as steps: no escaping keeps
                # the group's status page, /domain/NAME, reachable.
                up = "/" if name == ".." else "/domain/"
                raise ValueError(
                    f"{key}: the name cannot name a page (a browser reads /domain/{name} as {up})"
                )
            # The name is the domain label of the group's series, alerts and log lines,
            # bounded and refused as a queue's name is (sesd.config.aws).
            label = "a group's name is the domain label of metrics, alerts and log lines"
            # Named by its key too, escaped: the name is written to a terminal.
            if has_control(name):
                raise ValueError(
                    f"groups.{toml_key(name, 200)}: a control or invisible character "
                    f"(shown escaped); {label}: write it without"
                )
            if len(name) > LABEL_LENGTH:
                raise ValueError(
                    f"groups.{toml_key(name, 40)}: {len(name)} characters; {label}: "
                    f"at most {LABEL_LENGTH}"
                )


def named_alike(domains: DomainsConfig) -> list[str]:
    """Groups whose names one silence takes alike: in case alone (``Shop`` and
    ``shop``), but for a root dot (``Shop.`` and ``shop``), or in a domain's normal
    form (``Bücher`` and ``xn--bcher-kva``), or a group so named beside sesd's
    ``other`` (``Other``). Each is a label of its own, and a rule fires on each, but a
    silence takes a name in any case, without a root dot and as a domain's, so one
    meant for either mutes both. Warned of, not refused: the config works, and an
    upgrade refusing it would stop the alerts. A group named as a mailbox provider is
    not: ``sesd silence add`` asks for the ``--rule`` that tells them apart."""
    found = []
    # Where each name comes (sesd's ``other`` first), the first in each case, and the
    # first of each form a silence of it reads (a label in one is taken): looked up,
    # not matched with every name, as a config may have thousands of groups. A name
    # with a glob's form (``Shop*``) is matched with each name, up to a bound.
    shapes = {name: silence_forms(name) for name in (OTHER, *domains.groups)}
    shaped = [name for name in domains.groups if any(map(is_glob, shapes[name]))]
    glob_shaped = set(shaped)
    order = {OTHER: -1}
    named = {OTHER: OTHER}
    forms = dict.fromkeys(shapes[OTHER], OTHER)
    globs: list[str] = []
    left, unmatched = _GLOB_MATCHES, ""
    for i, name in enumerate(domains.groups):
        lower, glob = name.lower(), name in glob_shaped
        # Each as a silence takes it (a glob's form read literally here may not be).
        looked = [forms.get(lower), *(named.get(form) for form in shapes[name])]
        taken = [n for n in looked if n is not None and _one_silence(name, n)]
        # One in another case alone is taken with it by every silence (``[[]ab]``).
        taken += [n for n in (named.get(lower),) if n is not None]
        matches = len(globs) + (len(order) if glob else 0)
        if matches > left and not unmatched:
            unmatched = name
        if not unmatched:
            left -= matches
            taken += [n for n in globs if forms_take(shapes[n], name)]
            if glob:  # not each name before for each name: thousands of groups
                taken += [n for n in order if forms_take(shapes[name], n)]
        first = min(taken, key=order.__getitem__, default=None)
        if first is not None:
            found.append(_alike(name, first))
        order[name] = i
        named.setdefault(lower, name)
        for form in shapes[name]:
            forms.setdefault(form, name)
        if glob:
            globs.append(name)
    if unmatched:
        # First: a load says only the first of many warnings (sesd.config.warned), and
        # this one tells that those of these names are not all.
        found.insert(
            0,
            f"domains.groups: {len(shaped)} of {len(domains.groups)} groups' names a silence "
            f"reads as globs (with *, ? or [, as {shaped[0]!r}): too many matches of each "
            f"with every other name to make at each load, and from {unmatched!r} on they "
            "were not made, so a silence of one may mute groups not warned of here; name "
            "the groups without *, ? and [",
        )
    return found


def grouped(domains: DomainsConfig) -> dict[str, str]:
    """Each domain a group counts (in its normal form): the group's name. Its events
    count under the group's label, never its own."""
    return {
        member: group
        for group, names in domains.groups.items()
        for domain in names
        if (member := normalise_domain(domain)) is not None
    }


def counted_elsewhere(domains: DomainsConfig) -> list[str]:
    """Groups named as a domain another group counts (``gmail.com`` beside ``google``
    of gmail.com). Each is a label of its own, but a silence reads the name as the
    domain's, whose alerts name the other group: ``sesd silence add`` refuses it,
    pointing at the other group, and the daemon leaves it out of the silences file, so
    the group's pages cannot be muted by its name. Warned of, not refused: the config
    works, and an upgrade refusing it would stop the alerts."""
    # Each name as a silence reads it, looked up among the members; a member is put in
    # its normal form (IDNA, costly for tens of thousands) only when it may be a name:
    # one not plain (:func:`_plain`, written out here, a call costing more than the
    # test), or one whose plain form a name has.
    read = {name: _as_read(name) for name in domains.groups}
    wanted = set(read.values())
    members = {
        member: group
        for group, names in domains.groups.items()
        for written in names
        if written.rstrip(".").lower() in wanted
        or not written.isascii()
        or written.split() != [written]
        if (member := normalise_domain(written)) in wanted
    }
    found = []
    for name, domain in read.items():
        other = members.get(domain)
        if other is None or other == name:
            continue  # a group of its own domain: the silence mutes that group
        line = exact_matcher(name)
        typed = f"--domain {shlex.quote(name)}"
        if domain_pattern(line) == domain:
            said = f"its alerts' mute line ({typed})"
        else:  # a root dot or a glob's character, a set of itself in the mute line
            said = (
                f"a silence of the name as written ({typed}; their mute line, --domain "
                f"{shlex.quote(line)}, is not)"
            )
        found.append(
            f"domains.groups.{toml_key(name)}: {name!r} is the domain {domain}, which the "
            f"group {other!r} counts: {said} is read as that domain's, whose alerts name "
            f"{other!r}, and `sesd silence add` refuses it (the daemon leaves it out of "
            f"the silences file); rename the group {name!r} to a name that is no domain "
            "another group counts"
        )
    return found


def _plain(written: str) -> bool:
    """Whether ``written`` is ASCII without spaces (nearly every name): its normal form,
    if it has one, and the form a silence reads it in are it lower-cased, a root dot
    dropped."""
    return written.isascii() and written.split() == [written]


def _as_read(written: str) -> str:
    """``written`` as a silence reads a name (:func:`domain_pattern`), at the cost of a
    lower-casing where it is :func:`_plain`."""
    return written.rstrip(".").lower() if _plain(written) else domain_pattern(written)


def unmuted(domains: DomainsConfig) -> list[str]:
    """Groups a silence of the name as written (``sesd silence add --domain NAME``)
    mutes none of the alerts of: a silence drops spaces around a name (``Shop ``), and
    reads ``[EU]`` as a glob's set, one character of those it holds. Typed so, it is
    refused, or mutes another name's alerts (a tenant ``a`` for ``[ab]``), while the
    group's pages go on; the alerts' own mute line gives the name with those as sets
    of themselves (``Shop[ ]``), which mutes the group alone. Warned of, not refused:
    the config works, and an upgrade refusing it would stop the alerts."""
    found = []
    # A name in another case alone is taken by the mute line too (``[[]ab]`` mutes
    # ``[AB]``): said so, not "alone" (the names alike are warned of as well).
    cased: dict[str, int] = {}
    for name in domains.groups:
        cased[name.lower()] = cased.get(name.lower(), 0) + 1
    for name in domains.groups:
        # Only a set ([...]) or spaces around keep a name from taking itself: the
        # others are not matched, as a glob's compiling costs at each of thousands.
        if ("[" not in name and name == name.strip()) or silence_takes(name, name):
            continue
        if name != name.strip():
            why = "has spaces around it, which a silence drops"
        else:
            why = "is read by a silence as a glob, whose [...] takes one character"
        alone = (
            "alone"
            if cased[name.lower()] == 1
            else "and those of the group named so in another case"
        )
        found.append(
            f"domains.groups.{toml_key(name)}: {name!r} {why}: a silence of the name as "
            f"written (--domain {shlex.quote(name)}) mutes none of the group's alerts; "
            f"their mute line gives --domain {shlex.quote(exact_matcher(name))}, which "
            f"mutes them {alone} (or name the group otherwise)"
        )
    return found


def _alike(name: str, first: str) -> str:
    """The warning of ``name``, which one silence takes with ``first`` (sesd's
    ``other``, or a group before it): how they are alike, and which silence mutes both.
    A silence typed as the name is written may, where their alerts' mute lines do not:
    those give a root dot, spaces around and glob characters as sets of themselves
    (``Shop[.]``), and the warning says so, or an on-call engineer pasting them is
    told they mute a group they do not."""
    key = f"domains.groups.{toml_key(name)}: {name!r} and"
    if first == OTHER:
        key += " sesd's 'other' (the domains past max_tracked)"
        fix = "name the group otherwise"
    else:
        key += f" the group {first!r}"
        fix = "make them one group, or name them otherwise"
    if name.lower() == first.lower():
        return (
            f"{key} differ in case alone: a silence takes a group's name in any case, and "
            f"mutes both; {fix}"
        )
    either = [n for n in (first, name) if silence_takes(n, name if n == first else first)]
    if name.rstrip(FULL_STOPS).lower() == first.rstrip(FULL_STOPS).lower():
        how = "are one name but for a root dot, which a silence drops"
    elif _bare(name) == _bare(first):
        how = "are one name but for spaces around it, which a silence drops"
    # Two names that are no domain (``Shop*``, ``Shop EU``) have no normal form alike.
    elif (domain := normalise_domain(name)) is not None and domain == normalise_domain(first):
        how = "are one name in a domain's normal form (IDNA), as a silence reads a name"
    else:
        how = f"are one name to a silence, which reads {either[0]!r} as a glob"
    # Whether the mute line of either's alerts mutes the other's too (a name in
    # another case or in a domain's normal form), or tells them apart.
    lines = {n: exact_matcher(n) for n in (first, name)}
    apart = not any(silence_takes(lines[n], name if n == first else first) for n in lines)
    typed = " as written" if apart else ""
    if len(either) == 2:
        mutes = f"one of either{typed} mutes both"
    elif silence_takes(either[0], either[0]):
        mutes = f"one of {either[0]!r}{typed} mutes both"
    else:  # a name with spaces around it: the silence takes it without
        mutes = f"one of {either[0]!r}{typed} mutes the other, and not its own"
    if apart:
        given = " and ".join(
            f"--domain {shlex.quote(line)}" for n, line in lines.items() if line != n
        )
        mutes += f", where their alerts' mute lines ({given}) mute each alone"
    return f"{key} {how}: {mutes}; {fix}"


def _one_silence(name: str, other: str) -> bool:
    """Whether a silence of either name takes the other."""
    return silence_takes(name, other) or silence_takes(other, name)


def _bare(name: str) -> str:
    """A name as a silence reads it in lower case: without spaces around it or a root
    dot."""
    return name.strip().rstrip(FULL_STOPS).lower()


def listed_twice(domains: DomainsConfig) -> list[str]:
    """A domain listed twice in ``track`` or in one group: counted once all the same, so
    a warning, not an error (in two groups it is refused: it would count under one
    alone), but a slip, as often as not for another domain meant."""
    lists = [("track", domains.track)]
    lists += [(f"groups.{toml_key(name)}", members) for name, members in domains.groups.items()]
    found = []
    for key, members in lists:
        first: dict[str, int] = {}
        for i, domain in enumerate(members):
            norm = normalise_domain(domain) or domain  # each normalises: checked
            j = first.setdefault(norm, i)
            if j != i:
                # As written, and what it reads as: bücher.de is xn--bcher-kva.de.
                said = repr(domain) if domain == norm else f"{domain!r} is {norm}"
                found.append(
                    f"domains.{key}[{i}]: {said}, listed at domains.{key}[{j}] too: it "
                    "counts once (another domain meant?)"
                )
    return found
