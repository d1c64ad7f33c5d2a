"""What a rule is told of the labels of sesd's own that its globs never take: a
provider's ``unknown`` (domains not resolved yet) and ``none`` (domains without mail),
a tenant's ``unknown``. A glob of them alone watches nothing (refused, saying what to
write instead); an exclusion of them, glob or name, leaves out nothing (warned of); a
ratio on ``unknown`` reads the start and DNS, not a provider (warned of)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from sesd.config.alerts import TENANT_METRICS, is_glob
from sesd.core.domains import OTHER
from sesd.core.providers import LABELS as PROVIDER_LABELS
from sesd.core.providers import NONE, NOT_PROVIDERS, UNKNOWN
from sesd.core.tenant_map import NOT_NAMES, glob_takes_a_tenant

if TYPE_CHECKING:
    from sesd.config import Config, RuleConfig

__all__ = [
    "HOLDS",
    "ONLY_UNKNOWN",
    "WATCH_UNKNOWN",
    "excluded_already_warnings",
    "first_places",
    "met",
    "named_already",
    "only_unmet",
    "only_unwatched",
    "provider_excluded_already",
    "reads_ratios",
    "tenant_excluded_already",
    "unknown_provider_warnings",
]

#: What each label that names no provider holds (a glob never takes them).
HOLDS = {UNKNOWN: "domains not resolved yet", NONE: "domains without mail: NXDOMAIN, a null MX"}
#: Where to watch what a ratio on ``unknown`` would read.
WATCH_UNKNOWN = (
    "watch the lookups with the Prometheus rule SesdProviderLookupsFailing "
    "(sesd_dns_failing), and the domains with a rule on domains"
)
#: Why a glob that matches sesd's ``unknown`` alone is refused.
ONLY_UNKNOWN = f"a glob that matches only {UNKNOWN!r}, which a glob never takes"


def reads_ratios(metric: str) -> bool:
    """Whether a rule's metric is a ratio, which ``unknown`` reads askew (a count there
    is as many as it says)."""
    return metric.endswith("_ratio")


def first_places(names: list[str] | None) -> list[tuple[int, str]]:
    """Each name of a list with its index, at its first place only: one written twice
    is warned of once, where it first is."""
    names = names or []
    return [(j, name) for j, name in enumerate(names) if names.index(name) == j]


def unknown_provider_warnings(config: Config) -> list[str]:
    """A ratio rule that names ``unknown`` in its providers: no provider, but the mail
    to domains not looked up yet (nearly all of it after a start without a state
    file) or whose lookups fail. A recipient's delay there is counted under
    ``unknown`` and its delivery, once the lookup answers, under the provider: the
    ratios read the other halves of what the providers count (a delay ratio high, a
    delivery ratio low), pages at a start or while DNS fails, not a provider's
    trouble. Why a glob leaves it out; named, it is taken (a rule that ran on it must
    load again), and warned of."""
    found = []
    for i, rule in enumerate(config.alerts.rules):
        if not reads_ratios(rule.metric) or rule.scope != "provider":
            continue
        for j, provider in first_places(rule.providers):
            if provider == UNKNOWN:
                found.append(
                    f"alerts.rules[{i}] ({rule.name}).providers[{j}]: 'unknown' is no "
                    "provider but the mail to domains not looked up yet (after a start "
                    "without a state file, nearly all of it) or whose lookups fail: their "
                    "delays count there and their deliveries under the provider found "
                    f"since, so its {rule.metric} reads the start and DNS, not a provider, "
                    f"and pages on them; {WATCH_UNKNOWN}"
                )
    return found


def named_already(labels: Iterable[str], watched: list[str] | None) -> list[str]:
    """Those of ``labels`` the rule names in ``watched`` (by name, not by a glob)."""
    return [label for label in labels if label in (watched or [])]


def only_unwatched(glob: str, key: str, metric: str, watched: list[str] | None) -> str:
    """Why a provider glob that matches only labels that name no provider is refused
    (an exclusion's is warned of: :func:`excluded_already_warnings`, as is an
    exclusion naming one of them), and what to write instead: to watch them, name
    them, unless the rule's ``watched`` names them already (the glob then adds
    nothing); an exclusion's glob leaves out what the rule's globs never took (naming
    them there would watch nothing more). A rule on a ratio is not told to name
    ``unknown``: that is warned of (see :func:`unknown_provider_warnings`), and the
    line says why and where to watch it."""
    only = [label for label in NOT_PROVIDERS if fnmatchcase(label, glob)]
    names = " and ".join(map(repr, only))
    holds = "; ".join(HOLDS[label] for label in only)
    said = f"which a glob never takes ({holds})"
    if is_glob(glob):
        said = f"a glob that matches only {names}, {said}"
    if key.startswith("exclude_"):
        return f"{said}: {_excluded_already('it' if len(only) == 1 else 'them', watched)}"
    named = [label for label in only if label != UNKNOWN or not reads_ratios(metric)]
    given = named_already(named, watched)
    wanted = [label for label in named if label not in given]
    told = []
    if wanted:
        them = "it" if len(wanted) == 1 else "them"
        listed = ", ".join(f'"{label}"' for label in wanted)
        # Beside what is not to be named, the one that is, by its name.
        which = them if wanted == only else " and ".join(map(repr, wanted))
        told.append(f"name {which} (providers = [{listed}]) to watch {them}")
    if given:
        # Named beside the glob already: the advice to name it fitted no one.
        them = "it" if len(given) == 1 else "them"
        which = them if given == only else " and ".join(map(repr, given))
        drop = "" if wanted or named != only else ": drop the glob"
        told.append(f"the rule names {which} already, which watches {them}{drop}")
    if named != only:
        told.append(
            f"{UNKNOWN!r} is no provider but the mail to domains not looked up yet or whose "
            f"lookups fail, so its {metric} reads the start and DNS, not a provider: "
            f"{'' if wanted else 'drop the glob; '}{WATCH_UNKNOWN}"
        )
    return f"{said}: {'; '.join(told)}"


def only_unmet(glob: str, labels: Iterable[str]) -> bool:
    """Whether ``glob`` matches none of ``labels``, those a rule compares it with
    (:func:`met`): of those sesd knows, it matches only labels a glob never takes."""
    return not any(fnmatchcase(label, glob) for label in labels)


def excluded_already_warnings(config: Config) -> list[str]:
    """An exclusion that leaves out only labels the rule's globs never take (``unknown``,
    a provider's ``none``) and it does not name: it leaves out nothing, a glob of them
    alone or their name alike. Warned of, not refused: ``exclude_providers =
    ["non*"]`` (or ``["none"]``) was how a rule on every provider left out the domains
    without mail before ``*`` left them out itself, and a config that ran on it must
    load again after an upgrade, as must a reload of it."""
    found = []
    known = {*PROVIDER_LABELS, *config.providers.mx}
    for i, rule in enumerate(config.alerts.rules):
        at = f"alerts.rules[{i}] ({rule.name})"
        key = "exclude_providers"
        if rule.providers is not None:
            found += [
                f"{at}.{key}[{j}]: {name!r}, "
                + only_unwatched(name, key, rule.metric, rule.providers)
                for j, name in first_places(rule.exclude_providers)
                if provider_excluded_already(name, rule, known)
            ]
        key = "exclude_tenants"
        found += [
            f"{at}.{key}[{j}]: {name!r}, "
            + (ONLY_UNKNOWN if is_glob(name) else "which a glob never takes")
            + f": {_excluded_already('it', rule.tenants)}"
            for j, name in first_places(rule.exclude_tenants)
            if tenant_excluded_already(name, rule)
        ]
    return found


def provider_excluded_already(name: str, rule: RuleConfig, known: Collection[str]) -> bool:
    """Whether ``name`` in a provider rule's exclusions leaves out only labels its globs
    never take and it does not name (:func:`excluded_already_warnings`), of the
    providers sesd ``known``."""
    compared = met(set(known) - set(NOT_PROVIDERS), "exclude_providers", rule.providers)
    if not is_glob(name):
        return name in NOT_PROVIDERS and name not in compared
    return any(fnmatchcase(label, name) for label in known) and only_unmet(name, compared)


def tenant_excluded_already(name: str, rule: RuleConfig) -> bool:
    """Whether ``name`` in a rule's tenant exclusions leaves out only ``unknown``, which
    its globs never take and it does not name (:func:`excluded_already_warnings`)."""
    own = (*NOT_NAMES, *(() if rule.metric in TENANT_METRICS else (OTHER,)))
    compared = met(own, "exclude_tenants", rule.tenants)
    if not is_glob(name):
        return name == UNKNOWN and name not in compared
    return fnmatchcase(UNKNOWN, name) and not glob_takes_a_tenant(name, compared)


def _excluded_already(them: str, watched: list[str] | None) -> str:
    """What an exclusion of only labels a glob never takes is told: the rule's globs
    leave them out (``*`` when it names none: a tenant rule's default), or, naming
    no glob, it leaves out what it does not name."""
    if watched is None or any(is_glob(name) for name in watched):
        return f"the rule's globs leave {them} out already; drop the exclusion"
    return f"the rule does not name {them}, so leaves {them} out already; drop the exclusion"


def met(labels: Iterable[str], key: str, watched: list[str] | None) -> set[str]:
    """The labels a glob of ``key`` (a provider or tenant rule's) is compared with: of
    ``labels``, all but ``unknown``, which the evaluator takes by name only
    (sesd.alerting.labels: a restart with nothing resolved, or no tenant map, would
    page on all the mail; a provider rule's caller leaves ``none`` out of ``labels``
    too, not this function: a tenant may be called none); and, for an exclusion's
    glob, the names (not the globs) the rule watches, ``watched``, which it may leave
    out."""
    named = [name for name in watched or [] if not is_glob(name)]
    return {label for label in labels if label != UNKNOWN} | set(
        named if key.startswith("exclude_") else []
    )
