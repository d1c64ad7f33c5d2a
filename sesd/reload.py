"""What a reload (SIGHUP) takes from a new config file, and what waits for a restart.

Reloaded: ``[alerts]`` (rules, sinks, silences path, links), ``[domains] track``
and ``groups``, ``[canary]``, ``[logging] level``, ``[shutdown]`` and
``[[queues]]``. Everything else is fixed for the life of the process (the
windows' layout, the HTTP listener, the state file, the SQS client): a change
there is reported by key and left for the next restart.
"""

from __future__ import annotations

from typing import Any

import msgspec

from sesd.config import Config, ConfigError

__all__ = ["RESTART_KEYS", "merge"]

#: Sections (or ``section.key``) that only a restart applies.
RESTART_KEYS = (
    "aws",
    "http",
    "windows",
    "dimensions",
    "ingest",
    "providers",
    "account_health",
    "reputation",
    "state",
    "logging.format",
    "logging.log_recipients",
    "domains.max_tracked",
    "domains.idle_evict",
)


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
    """The config to run after a reload: ``new`` where it may change, ``old`` elsewhere;
    and the keys whose change was left for a restart. Raises ConfigError when the mix
    is not valid (a rule naming a window that only the new file has, say)."""
    before, after = _flat(old), _flat(new)
    ignored = sorted(
        key
        for key in before.keys() | after.keys()
        if before.get(key) != after.get(key)
        and any(key == k or key.startswith(f"{k}.") for k in RESTART_KEYS)
    )
    try:
        merged = msgspec.structs.replace(
            new,
            aws=old.aws,
            http=old.http,
            windows=old.windows,
            dimensions=old.dimensions,
            providers=old.providers,
            account_health=old.account_health,
            reputation=old.reputation,
            ingest=old.ingest,
            state=old.state,
            logging=msgspec.structs.replace(
                new.logging, format=old.logging.format, log_recipients=old.logging.log_recipients
            ),
            domains=msgspec.structs.replace(
                new.domains,
                max_tracked=old.domains.max_tracked,
                idle_evict=old.domains.idle_evict,
            ),
        )
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{exc} (with the settings that need a restart kept)") from None
    return merged, ignored
