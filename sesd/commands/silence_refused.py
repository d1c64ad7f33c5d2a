"""What ``sesd silence`` takes of a config file a reload refused.

The daemon keeps the config it last loaded when a reload refuses the file, and an
incident is when a silence matters most: the silences file's path is read from the
file's tables alone (:mod:`sesd.commands.config_alone`), the matchers checked against
the rules, groups and accounts where those read, and one warning line says what only
the daemon's config could tell.
"""

from __future__ import annotations

import argparse
from typing import Any

from sesd.commands.config_alone import read_as, tables, warn_refused
from sesd.config import (
    AccountConfig,
    AlertsConfig,
    Config,
    ConfigError,
    DomainsConfig,
    StateConfig,
    WindowsConfig,
)
from sesd.config.reading import check_written_files

__all__ = ["refused_config"]


def refused_config(args: argparse.Namespace, refused: ConfigError) -> tuple[Config, set[str]]:
    """What silences need of ``args.config``, which a full load ``refused``, and which of
    ``rules``, ``domains`` could not be read; the warning said on stderr. ``refused``
    raised where the silences file's path cannot be read."""
    config, unread = _readable(args.config, refused)
    doing = f"using its silences file {config.silences_path}"
    warn_refused(refused, doing, _unchecked(args, unread))
    return config, unread


def _readable(path: str | None, refused: ConfigError) -> tuple[Config, set[str]]:
    """What silences need of a config the whole of which is refused: the silences file's
    path (``refused`` raised without it), and the rules, groups and accounts the
    matchers are checked against where they can be read (``rules``, ``domains`` in the
    set returned where not: the daemon's may be others)."""
    data = tables(path, refused)
    alerts = data.get("alerts", {})
    where = {"silences_path": alerts.get("silences_path")} if isinstance(alerts, dict) else {}
    parts: dict[str, Any] = {
        "state": read_as(data.get("state", {}), StateConfig, refused),
        "alerts": read_as(where, AlertsConfig, refused),
    }
    unread: set[str] = set()
    for name, kind, value in (
        ("windows", WindowsConfig, data.get("windows", {})),
        ("domains", DomainsConfig, data.get("domains", {})),
        ("accounts", list[AccountConfig], data.get("accounts", [])),
        ("alerts", AlertsConfig, alerts),
    ):
        if name == "alerts" and "rules" in unread:
            break  # the rules' windows unread: the rules are not checked
        try:
            parts[name] = read_as(value, kind, refused)
        except ConfigError:
            unread.add("rules" if name in ("alerts", "windows") else "domains")
    try:
        config = Config(**parts)
    except ValueError:
        # The rules name what the readable part lacks (a window, a sink).
        parts["alerts"] = read_as(where, AlertsConfig, refused)
        unread.add("rules")
        try:
            config = Config(**parts)
        except ValueError as exc:
            raise refused from exc
    try:
        # As a full load: a silences file that is the config itself (or a secret's file
        # read) would be written over by the first `silence add`.
        check_written_files(config, path or "")
    except ValueError as exc:
        raise refused from exc
    return config, unread


def _unchecked(args: argparse.Namespace, unread: set[str]) -> str:
    """What cannot be known without the config the daemon runs: whether this edit moved
    the silences file, or added the rules and groups a matcher names (the daemon
    leaves out a silence naming none of its own); and what of ``silence add``'s
    matchers cannot be checked against the file either."""
    caveat = (
        "the daemon reads that file unless this edit moved it, and leaves out a silence "
        "naming a rule or group only this edit adds"
    )
    if args.silence_command != "add":
        return caveat
    said = [
        f"--{key} {value!r} against its {what}"
        for key, value, part, what in (
            ("rule", args.rule, "rules", "rules"),
            ("domain", args.domain, "domains", "groups and accounts"),
        )
        if value and part in unread
    ]
    return f"{caveat}; not checked: {', '.join(said)}" if said else caveat
