"""Checks of the configuration across its sections: what one section names, another
must hold (a rule's window, its providers and tenants counted, its accounts and
queues configured)."""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING

import msgspec

from sesd.config.alerts import CANARY_METRICS, GET_ACCOUNT_METRICS, AlertsConfig, is_glob
from sesd.config.canary_checks import (
    canary_scope_warnings,
    canary_window_warnings,
    check_canary_windows,
)
from sesd.config.domains import (
    DomainsConfig,
    counted_elsewhere,
    listed_twice,
    named_alike,
    unmuted,
)
from sesd.config.fleet_checks import fleet_warnings
from sesd.config.hooks import source_hook
from sesd.config.queue_checks import queue_warnings
from sesd.config.reading import open_to_all_warning
from sesd.config.rule_checks import link_warnings
from sesd.config.sections import SHIPPED_STOP_TIMEOUT, check_state_files
from sesd.config.sink_checks import key_warnings, plain_http_warnings, sink_warnings
from sesd.config.sinks import AlertmanagerConfig
from sesd.config.timing_checks import timing_warnings
from sesd.config.unexcluded import excluded_nothing_warnings
from sesd.config.unread import unread_warnings
from sesd.config.unwatched import excluded_already_warnings, unknown_provider_warnings
from sesd.config.urls import secret_url_warnings, shown_url, url_warnings
from sesd.config.values import ConfigError, Duration, toml_key
from sesd.config.watched import check_rule_names, dotless_hint
from sesd.core.domains import group_named, normalise_domain
from sesd.core.text import escaped, has_control

if TYPE_CHECKING:
    from sesd.config import Config

__all__ = [
    "GET_ACCOUNT_METRICS",
    "NO_RULES",
    "check_across_sections",
    "config_warnings",
    "for_daemon",
]

#: The warning of a config without rules.
NO_RULES = (
    "alerts.rules: none configured, so sesd will never alert (it counts and serves "
    "metrics only); config/sesd.example.toml has rules to start from"
)


def check_across_sections(config: Config) -> None:
    """Raise ValueError, naming the key, for the first thing one section names that
    another does not hold."""
    _check_rule_windows(config)
    check_canary_windows(config)
    check_rule_names(config)
    _check_accounts_and_queues(config)
    check_state_files(config.state.path, config.silences_path)


def for_daemon(config: Config) -> Config:
    """``config``, when a daemon can run on it (``replay`` and ``silence`` read a
    config without queues); ConfigError otherwise. ``run``, ``check-config`` and a
    reload ask the same: a reload into an empty file must not stop every poller."""
    if not config.queues:
        raise ConfigError("queues: at least one [[queues]] is needed")
    return config


def config_warnings(config: Config) -> list[str]:
    """What is valid but probably not meant (check-config prints these)."""
    alerts = config.alerts
    found = [
        f"alerts.sinks.{toml_key(name)}: no rule sends to this sink"
        if name in alerts.sinks
        else f"alerts.{name}: no rule sends to this sink"
        for name in alerts.unused_sinks()
    ]
    found += [
        f"alerts.sinks.{toml_key(name)}.urls: a password or a user name (a token) in a URL is a "
        'literal secret in this file; prefer username and password = "env:NAME"'
        for name, sink in alerts.sinks.items()
        if isinstance(sink, AlertmanagerConfig) and any(shown_url(url) != url for url in sink.urls)
    ]
    # Whoever reads the file (its backups, its repository) has such a secret: said
    # wherever the config's warnings are (check-config, the start, a reload), not
    # only at the start.
    found += [
        f'{key}: a literal secret in this file; prefer "env:NAME" or "file:/path"'
        for key, secret in config.secrets()
        if secret.is_literal
    ]
    # Read with the secrets (check-config, the start, a reload): whoever has a shell on
    # the host can send as sesd, or serve as it with its TLS key.
    found += [
        open_to_all_warning(key, "secret", secret.path, secret.open_mode)
        for key, secret in config.secrets()
        if secret.open_mode is not None and secret.path is not None
    ]
    web = config.http.web_config
    if web is not None and web.key_open_mode is not None:
        tls = web.get().tls_server_config
        assert tls is not None  # a key was read
        found.append(
            open_to_all_warning(
                "http.web_config: tls_server_config.key_file",
                "private key",
                tls.key_file,
                web.key_open_mode,
            )
        )
    found += _grace_warnings(config)
    found += queue_warnings(config)
    found += listed_twice(config.domains) + named_alike(config.domains)
    found += unmuted(config.domains) + counted_elsewhere(config.domains)
    found += link_warnings(config.alerts)
    found += url_warnings(msgspec.to_builtins(config, enc_hook=source_hook))
    found += secret_url_warnings(config.secrets())
    found += _no_group_warnings(config) + unknown_provider_warnings(config)
    found += excluded_already_warnings(config) + excluded_nothing_warnings(config)
    found += fleet_warnings(config)
    found += unread_warnings(config)
    found += sink_warnings(config.alerts) + plain_http_warnings(config.alerts)
    found += key_warnings(config.alerts)
    found += canary_window_warnings(config) + canary_scope_warnings(config)
    if not config.account_health.enabled:
        found += [
            f"alerts.rules[{i}] ({rule.name}).metric: {rule.metric} is what SESv2 GetAccount "
            "says, which [account_health] enabled = false does not poll: the rule never "
            "fires"
            for i, rule in enumerate(alerts.rules)
            if rule.metric in GET_ACCOUNT_METRICS
        ]
    found += timing_warnings(alerts)
    if not alerts.rules:
        # Only [[queues]] is required: an install that stopped there looks healthy and
        # never pages.
        found.append(NO_RULES)
    if alerts.rules and config.silences_path is None:
        found.append(
            "alerts.silences_path: not given, nor state.path beside which it is kept: no "
            "silences file, so `sesd silence` cannot mute these alerts, and notifications "
            "carry no mute line"
        )
    # Not errors: a container's working directory is fixed (WORKDIR), and a daemon
    # that ran on them before must not fail to start, nor a reload be refused.
    state = config.state.path
    found += [
        f"{key}: '{escaped(path, 200)}' has a control or invisible character or a space at "
        "its end (shown escaped): the file is named with it, where no one looks for it, and "
        f"the path written without it is another file ({what} there)"
        for key, path, what in (
            ("state.path", state, "the state starts empty"),
            ("alerts.silences_path", alerts.silences_path, "no silence is"),
        )
        if path and (has_control(path) or path != path.strip())
    ]
    if state is not None and not os.path.isabs(state):
        beside = "" if alerts.silences_path else (
            ", and `sesd silence` refuses the silences file beside it (it cannot know "
            "the daemon's directory)"
        )  # fmt: skip
        found.append(
            f"state.path: {state!r} is relative: read from the working directory, "
            "systemd's / for the daemon and the shell's for a `sesd run` by hand, which "
            f"then use different files (and the lock keeps neither out){beside}; give an "
            "absolute path"
        )
    if alerts.silences_path and not os.path.isabs(alerts.silences_path):
        found.append(
            f"alerts.silences_path: {alerts.silences_path!r} is relative: read from the "
            "working directory, systemd's / for the daemon, which `sesd silence` cannot "
            "know, so `sesd silence` refuses it and no silence can be added; give an "
            "absolute path"
        )
    # A warning, not an error: the unit's or the pod's timeout may have been raised.
    longest = config.shutdown.longest_stop(saves=config.state.path is not None)
    if longest > SHIPPED_STOP_TIMEOUT:
        found.append(
            f"shutdown.grace_period: {config.shutdown.grace_period.text}: a stop may "
            f"take {longest:g}s, more than the {SHIPPED_STOP_TIMEOUT:g}s the shipped "
            "units give (systemd TimeoutStopSec, Kubernetes terminationGracePeriodSeconds,"
            f" docker stop --time): raise theirs to {math.ceil(longest)}s, or sesd is "
            "killed before its state is saved"
        )
    return found


def _no_group_warnings(config: Config) -> list[str]:
    """A rule's domain without a dot that no group has: a group's name misspelt (or a
    group removed), a provider's name, which the rule would watch as a domain no
    recipient has (what it most likely meant is said: sesd.config.watched.dotless_hint).
    Not an error: a dotless domain is a domain, and a reload must not be refused for
    it."""
    found = []
    for i, rule in enumerate(config.alerts.rules):
        if rule.scope != "domain" or rule.metric in CANARY_METRICS:
            continue  # a canary rule reads the canary's alert alone, whatever its domains
        for key, named in (("domains", rule.domains), ("exclude_domains", rule.exclude_domains)):
            for j, name in enumerate(named or []):
                # In its normal form: an ideographic full stop is a dot too.
                dotted = "." in (normalise_domain(name) or name).strip(".")
                named_group = group_named(name, config.domains.groups) is not None
                if is_glob(name) or named_group or dotted:
                    continue
                if name in (named or [])[:j]:
                    continue  # said at its first place
                if (meant := dotless_hint(name, key, rule.metric, config)) is None:
                    continue  # sesd's own label of the domains past the cap
                does = "leaves out" if key.startswith("exclude_") else "watches"
                found.append(
                    f"alerts.rules[{i}] ({rule.name}).{key}[{j}]: {name!r}, which is no "
                    "group of [domains] groups and, without a dot, no recipient's domain: "
                    f"the rule {does} nothing under it{meant}"
                )
    return found


def _grace_warnings(config: Config) -> list[str]:
    """A grace period shorter than a queue's long poll: a stop waits for a receive in
    flight only that long (0s: not at all) before abandoning it."""
    grace = config.shutdown.grace_period
    waits = [q.wait_time_seconds for q in config.queues]
    if not waits or grace.seconds >= max(waits):
        return []
    i = waits.index(wait := max(waits))
    return [
        f"shutdown.grace_period: {grace.text} is shorter than queues[{i}].wait_time_seconds "
        f"({wait}), the long poll of queue {config.queues[i].label}: a stop of a quiet "
        "queue abandons its receive in flight (logged as sesd.sqs.receive_abandoned, as "
        "if the network had stalled), and what SQS hands that receive stays hidden until its "
        "visibility timeout, its events late after the restart; give it at least "
        f"{wait}s"
    ]


def _shortest_first(config: Config) -> list[str]:
    """The configured windows as written, shortest first (as text, 1h came before 5m)."""
    return [size.text for size in sorted(config.windows.sizes, key=lambda size: size.seconds)]


#: The defaults of the keys refused for another's value (a window written).
_EVICT = DomainsConfig().idle_evict.seconds
_EVERY = AlertsConfig().evaluate_every.seconds


def _given(value: Duration, default: float) -> str:
    """A duration as written, ``(the default)`` after it when it is the key's default:
    the key may be one the file does not write."""
    return f"{value.text} (the default)" if value.seconds == default else value.text


def _check_rule_windows(config: Config) -> None:
    """Each rule reads a configured window, a canary metric needs the canary, and no
    label is evicted while its windows still hold events."""
    windows = {size.text for size in config.windows.sizes}
    widest = max(config.windows.sizes, key=lambda size: size.seconds)
    if config.domains.idle_evict.seconds < widest.seconds:
        raise ValueError(
            f"domains.idle_evict: {_given(config.domains.idle_evict, _EVICT)} is shorter than the "
            f"largest window ({widest.text}): a domain would be evicted while its windows "
            "still hold events (its alerts resolving as 'no data')"
        )
    every = config.alerts.evaluate_every
    for i, rule in enumerate(config.alerts.rules):
        if rule.window not in windows:
            raise ValueError(
                f"alerts.rules[{i}] ({rule.name}).window: {rule.window!r} is not one of "
                f"windows.sizes ({', '.join(_shortest_first(config))})"
                + _as_kept(config, rule.window)
            )
        window = next(size for size in config.windows.sizes if size.text == rule.window)
        if every.seconds > window.seconds:
            raise ValueError(
                f"alerts.evaluate_every: {_given(every, _EVERY)} is longer than alerts.rules[{i}] "
                f"({rule.name}).window ({rule.window}): an incident between two evaluations "
                "would never be seen"
            )
        if rule.metric in CANARY_METRICS and config.canary is None:
            raise ValueError(
                f"alerts.rules[{i}] ({rule.name}).metric: {rule.metric!r} needs [canary]"
            )


def _as_kept(config: Config, window: str) -> str:
    """``; '1h' is that long: ...`` when ``window`` is a kept window's length written
    another way (``60m``, ``3600s``): a window is named as ``windows.sizes`` writes it."""
    try:
        seconds = Duration(window).seconds
    except ValueError:
        return ""
    same = next((size.text for size in config.windows.sizes if size.seconds == seconds), None)
    return f"; {same!r} is that long: write it as windows.sizes does" if same else ""


def _named_once(names: list[str], key: str) -> None:
    """A name given twice: the second's key (``accounts[1].name``), as a rule's is."""
    for i, name in enumerate(names):
        if (first := names.index(name)) < i:
            raise ValueError(f"{key}[{i}].name: {name!r} is {key}[{first}]'s name too")


def _check_accounts_and_queues(config: Config) -> None:
    """Account and queue names are unique, and what names one names a configured one."""
    names = [a.name for a in config.accounts]
    _named_once(names, "accounts")
    configured = ", ".join(names) or "none configured"
    for i, queue in enumerate(config.queues):
        if queue.account and queue.account not in names:
            raise ValueError(
                f"queues[{i}].account: {queue.account!r} is not one of [[accounts]] ({configured})"
            )
    labels = [q.label for q in config.queues]
    for i, queue in enumerate(config.queues):
        first = labels.index(queue.label)
        if not queue.name and first < i:
            # Its URL's last part names it: no `name` key to point at.
            raise ValueError(
                f"queues[{i}].url: names queue {queue.label!r}, as queues[{first}] does: set "
                "`name` on one"
            )
        if queue.name and not config.queues[first].name and first < i:
            # The first one's URL names it: its own `name` is nowhere to be found.
            raise ValueError(
                f"queues[{i}].name: {queue.name!r} is the name queues[{first}]'s URL gives "
                "it: set another"
            )
    _named_once(labels, "queues")
    canary = config.canary
    if canary is not None and canary.account and canary.account not in names:
        raise ValueError(
            f"canary.account: {canary.account!r} is not one of [[accounts]] ({configured})"
        )
    if canary is not None and canary.queue and canary.queue not in labels:
        raise ValueError(
            f"canary.queue: {canary.queue!r} is not a configured queue "
            f"({', '.join(labels) or 'none configured'})"
        )
