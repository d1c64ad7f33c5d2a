"""What a reload (SIGHUP) takes from a new config file, and what waits for a restart.

Reloaded: ``[alerts]`` (rules, sinks, silences path, links, outbox limits),
``[domains] track`` and ``groups``, ``[canary]``, ``[logging] level``,
``[shutdown]``, ``[reload]``, ``[[queues]]`` and ``[http] web_config``, whose file
is read again (users, headers, the certificate and key; :mod:`sesd.runtime.web`).
Everything in :data:`RESTART_KEYS` is fixed for the life of the process (the
windows' layout, the HTTP listener's address, the state file, the SQS client):
a change there is reported by key and left for the next restart, and so is one of
their secrets read anew with another value (``[aws]`` keys rotated in their files).
And what a reload changed, as its log line says it.
"""

from __future__ import annotations

from typing import Any

import msgspec

from sesd.config import Config, ConfigError, QueueConfig, saved_rule
from sesd.config.values import toml_key

__all__ = [
    "RESTART_KEYS",
    "config_changes",
    "held_secrets",
    "merge",
    "moved_queues",
    "rotated_secrets",
    "rule_changes",
]

#: Sections (or ``section.key``) that only a restart applies: named here, once.
RESTART_KEYS = (
    "aws",
    "http.listen",
    "windows",
    "dimensions",
    "ingest",
    "providers",
    "tenants",
    "account_health",
    "reputation",
    "state",
    "logging.format",
    "logging.log_recipients",
    "domains.max_tracked",
    "domains.idle_evict",
)


def _restart_only(key: str) -> bool:
    """Whether ``section.key`` is one of :data:`RESTART_KEYS` or under one."""
    return any(key == k or key.startswith(f"{k}.") for k in RESTART_KEYS)


def _flat(config: Config) -> dict[str, Any]:
    """``section.key`` -> value, secrets as their references (a changed secret behind
    the same reference is not seen: a restart reads it)."""
    plain = config.to_display()
    return {
        f"{section}.{key}": value
        for section, body in plain.items()
        if isinstance(body, dict)
        for key, value in body.items()
    }


def merge(old: Config, new: Config) -> tuple[Config, list[str]]:
    """The config to run after a reload: ``new`` where it may change, ``old`` for every
    key of :data:`RESTART_KEYS`; and the keys whose change was left for a restart.
    Raises ConfigError when the mix is not valid (a rule naming a window that only
    the new file has, say)."""
    before, after = _flat(old), _flat(new)
    ignored = sorted(
        key
        for key in before.keys() | after.keys()
        if before.get(key) != after.get(key) and _restart_only(key)
    )
    # A literal replaced by another shows "***" both times: the file changed it all the same.
    literal = {key for key, secret in old.secrets() if secret.is_literal}
    ignored += [k for k in rotated_secrets(old, new) if _restart_only(k) and k in literal]
    sections: dict[str, Any] = {}
    fields: dict[str, dict[str, Any]] = {}
    for name in RESTART_KEYS:
        section, _, key = name.partition(".")
        if key:
            fields.setdefault(section, {})[key] = getattr(getattr(old, section), key)
        else:
            sections[section] = getattr(old, section)
    for section, kept in fields.items():
        sections[section] = msgspec.structs.replace(getattr(new, section), **kept)
    # An account in use keeps its role, external id and region (its credentials were
    # made from them); an account the file adds is reached from now on.
    running = {account.name: account for account in old.accounts}
    accounts = [running.get(account.name, account) for account in new.accounts]
    ignored += [f"accounts.{a.name}" for a in new.accounts if running.get(a.name, a) != a]
    sections["accounts"] = accounts
    try:
        merged = msgspec.structs.replace(new, **sections)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"{exc} (with the settings that only a restart changes kept as they run, the "
            "file is not valid: nothing was applied; restart sesd to apply it)"
        ) from None
    return merged, ignored


def config_changes(old: Config, new: Config) -> dict[str, list[Any]]:
    """The other keys a reload changed, old and new (``alerts.repeat_interval``, each
    sink as ``alerts.sinks.NAME``; secrets as their references): rules and queues are
    logged apart, and what only a restart changes is kept, so never differs here."""
    before, after = _flat(old), _flat(new)
    for flat in (before, after):
        del flat["alerts.rules"]
        sinks = flat.pop("alerts.sinks").items()
        flat.update({f"alerts.sinks.{toml_key(n)}": sink for n, sink in sinks})
    return {
        key: [before.get(key), after.get(key)]
        for key in sorted(before.keys() | after.keys())
        if before.get(key) != after.get(key)
    }


def rotated_secrets(old: Config, new: Config) -> list[str]:
    """The keys of the secrets with another value behind the reference ``changed``
    shows (a Secret's file rotated, a literal, shown ``***``, replaced by another):
    ``changed`` shows references only, so without these a reload taken after a leaked
    key was rotated would read as changing nothing. Keys, never values."""
    before = dict(old.secrets())
    return [
        key
        for key, secret in new.secrets()
        if key in before and before[key].masked() == secret.masked() and before[key] != secret
    ]


def held_secrets(old: Config, new: Config) -> list[str]:
    """The keys of the secrets only a restart applies (``[aws]``'s keys) that ``new``
    read with another value behind the same ``env:`` or ``file:`` reference: a Secret
    rotated in its mount. sesd signs on with those it started with; every read of the
    files (a reload's, a refresh's) reads them anew, so the last one says whether they
    still differ. Keys, never values."""
    literal = {key for key, secret in old.secrets() if secret.is_literal}
    return [k for k in rotated_secrets(old, new) if _restart_only(k) and k not in literal]


def rule_changes(old: Config, new: Config) -> dict[str, Any]:
    """Which rules a reload added and removed, and for each changed one the keys that
    changed, old and new (a postmortem reads what was in force from the log)."""
    before = {rule.name: saved_rule(rule) for rule in old.alerts.rules}
    after = {rule.name: saved_rule(rule) for rule in new.alerts.rules}
    changed = {
        name: {
            key: [before[name].get(key), value]
            for key, value in sorted(rule.items())
            if before[name].get(key) != value
        }
        for name, rule in after.items()
        if name in before and before[name] != rule
    }
    return {
        "rules_added": sorted(set(after) - set(before)),
        "rules_removed": sorted(set(before) - set(after)),
        "rules_changed": changed,
    }


def moved_queues(old: list[QueueConfig], new: list[QueueConfig]) -> list[str]:
    """The labels of the queues a reload kept but reads elsewhere: at another URL, in
    another region or through another account (a poll or a pool changed reads the
    same queue where it was)."""
    before = {queue.label: queue for queue in old}
    return [
        queue.label
        for queue in new
        if (was := before.get(queue.label)) is not None and was.place != queue.place
    ]
