"""``[alerts.sinks.NAME]``, each checked on its own before the whole file, so that an
error names the sink (msgspec's own path through a table of tables does not) and a
key mistyped in it is named with the key of its type that was meant; and what a sink's
settings do with ``[alerts]``'s own that is probably not meant (:func:`sink_warnings`)."""

from __future__ import annotations

import ipaddress
import math
from typing import Any, get_args
from urllib.parse import urlsplit

import msgspec

from sesd.config.alerts import AlertsConfig
from sesd.config.hooks import dec_hook
from sesd.config.sinks import (
    SINK_TYPES,
    AlertmanagerConfig,
    PagerDutyConfig,
    SinkConfig,
    SlackConfig,
    WebhookConfig,
)
from sesd.config.values import ConfigError, meant_key, meant_word, one_line, toml_key
from sesd.core.text import escaped

__all__ = [
    "VALID_FOR_RESENDS",
    "check_sinks",
    "key_warnings",
    "plain_http_warnings",
    "sink_warnings",
]

#: Alertmanager's copy of a firing alert ends this many resend periods after a post
#: (Prometheus uses 4), unless posted again.
VALID_FOR_RESENDS = 4

#: Each sink's type (its ``type``) and its table.
_TYPES: dict[str, type[msgspec.Struct]] = {
    kind.__struct_config__.tag: kind for kind in get_args(SinkConfig)
}


def check_sinks(data: dict[str, Any]) -> None:
    """ConfigError naming the sink and its key for the first ``[alerts.sinks.NAME]`` of
    the TOML ``data`` that is not a sink."""
    alerts = data.get("alerts")
    if isinstance(alerts, dict):
        _check_misplaced(alerts)
        _check_older(alerts)
    sinks = alerts.get("sinks") if isinstance(alerts, dict) else None
    if not isinstance(sinks, dict):
        return
    for name, sink in sinks.items():
        if not isinstance(sink, dict):
            continue  # the whole file's check names what it is instead
        where = f"alerts.sinks.{toml_key(name)}"
        if sink.get("type") not in SINK_TYPES:
            if "type" not in sink:
                # `Type = "slack"`: the key written is named, with the one meant.
                for key in sink:
                    if meant := meant_key(key, ["type"]):
                        raise ConfigError(f"{where}.{key}: unknown key{meant}")
            # A key left out is not a value: TOML has no None to have been given.
            given = f"got {sink['type']!r}" if "type" in sink else "the key is missing"
            if isinstance(sink.get("type"), str):  # `type = "Slack"`: the type meant
                meant = meant_word(sink["type"], list(SINK_TYPES), "the type is case-sensitive")
                given += f"; {meant}" if meant else ""
            raise ConfigError(f"{where}.type: give one of {', '.join(SINK_TYPES)} ({given})")
        table = _TYPES[sink["type"]]
        try:
            msgspec.convert(sink, table, dec_hook=dec_hook)
        except msgspec.ValidationError as exc:
            raise ConfigError(one_line(exc, where, schema=table)) from None


def _check_misplaced(alerts: dict[str, Any]) -> None:
    """ConfigError for ``[alerts.chat]`` with a sink's type: a sink named as
    ``[alerts.slack]`` is, which only the fixed names may be."""
    known = {field.encode_name for field in msgspec.structs.fields(AlertsConfig)}
    for name, table in alerts.items():
        if name not in known and isinstance(table, dict) and table.get("type") in SINK_TYPES:
            raise ConfigError(
                f"alerts.{toml_key(name)}: unknown key (a sink named {escaped(name, 200)} is "
                f"[alerts.sinks.{toml_key(name)}])"
            )


#: The older sections, each a sink of the type its name says.
_OLDER = {"slack": "Slack", "pagerduty": "PagerDuty"}


def _check_older(alerts: dict[str, Any]) -> None:
    """ConfigError for ``[alerts.slack]`` (or ``[alerts.pagerduty]``) whose ``type`` is
    not its name: msgspec said ``Invalid value 'pagerduty'``, which names neither what
    the type must be nor where a sink of that type goes."""
    for name, kind in _OLDER.items():
        table = alerts.get(name)
        if not isinstance(table, dict) or table.get("type", name) == name:
            continue
        given = table["type"]
        elsewhere = (
            f"; a {given} sink is [alerts.sinks.NAME]"
            if isinstance(given, str) and given in SINK_TYPES
            else ""
        )
        raise ConfigError(
            f'alerts.{name}.type: must be "{name}" (or left out): [alerts.{name}] is a '
            f"{kind} sink{elsewhere} (got {given!r})"
        )


def sink_warnings(alerts: AlertsConfig) -> list[str]:
    """An Alertmanager sink whose copies of firing alerts end before the next post can
    land: each copy ends VALID_FOR_RESENDS resend periods after its post, and the next
    post comes at the first evaluation once ``resend_every`` has passed (its period
    rounded up to ``evaluate_every``) and may take the sink's ``timeout``. Not an
    error: a config that ran must load again."""
    found = []
    every = alerts.evaluate_every.seconds
    for name, sink in alerts.sinks.items():
        if not isinstance(sink, AlertmanagerConfig):
            continue
        valid = VALID_FOR_RESENDS * sink.resend_every.seconds
        late = _next_post(sink.resend_every.seconds, every) + sink.timeout.seconds
        if valid > late:
            continue
        found.append(
            f"alerts.sinks.{toml_key(name)}.resend_every: {sink.resend_every.text}: "
            f"Alertmanager ends each firing alert {valid:g}s after a post ({VALID_FOR_RESENDS} "
            f"resend periods), where the next post may come {late:g}s after it (resend_every "
            f"rounded up to alerts.evaluate_every, {alerts.evaluate_every.text}, then the "
            f"sink's timeout, {sink.timeout.text}): the alert resolves between two posts and "
            "fires again at the next, each a notification to Alertmanager's receivers; give "
            f"at least {_least_resend(every, sink.timeout.seconds)}s (the default is 1m)"
        )
    return found


def plain_http_warnings(alerts: AlertsConfig) -> list[str]:
    """A Slack webhook, a PagerDuty events URL or a webhook sink's URL over http to
    another host: Slack and PagerDuty serve https only, and what each request carries
    is a secret (the webhook's URL itself, or the routing key) for anyone on the way to
    read; a webhook's carries the alert text too (strangers' recipients' domains, their
    diagnostics). Warned of, not refused: a Slack- or PagerDuty-compatible receiver of
    one's own may serve http, and a config that ran on it must load again. A URL not
    yet read (check-config without its secrets) is judged when read; none is shown: a
    webhook's is a secret. A webhook to a cluster's Service by name is not warned of
    (:func:`_cluster_service`)."""
    found = []
    for name, sink in alerts.named_sinks().items():
        key = f"alerts.sinks.{toml_key(name)}" if name in alerts.sinks else f"alerts.{name}"
        if isinstance(sink, SlackConfig) and sink.webhook_url.is_read:
            if _crosses_in_clear(sink.webhook_url.get()):
                found.append(
                    f"{key}.webhook_url: an http URL, not https: the webhook's URL, a secret "
                    "(anyone who has it can post to the channel), crosses the network "
                    "unencrypted with every notification; Slack's are "
                    "https://hooks.slack.com/services/...: write https (http only to a relay "
                    "on this host)"
                )
        elif isinstance(sink, WebhookConfig) and sink.url.is_read:
            if _crosses_in_clear(sink.url.get()) and not _cluster_service(sink.url.get()):
                found.append(
                    f"{key}.url: an http URL, not https: every notification (its domains, "
                    "their providers, SMTP diagnostics) and the URL, a secret (its path may "
                    "hold a token), cross the network unencrypted, readable and, without a "
                    "secret, forgeable on the way: write https (http only to a receiver on "
                    "this host)"
                )
        elif isinstance(sink, PagerDutyConfig) and _crosses_in_clear(sink.events_url):
            found.append(
                f"{key}.events_url: an http URL, not https: the routing key, a secret (anyone "
                "who has it can open incidents), crosses the network unencrypted in every "
                "event; PagerDuty's is https://events.pagerduty.com/v2/enqueue: write https "
                "(http only to a relay on this host)"
            )
    return found


def key_warnings(alerts: AlertsConfig) -> list[str]:
    """A PagerDuty routing key, once read, of characters no integration key PagerDuty
    issues is seen to hold (:meth:`PagerDutyConfig.key_doubt`), named by its key."""
    found = []
    for name, sink in alerts.named_sinks().items():
        doubt = sink.key_doubt() if isinstance(sink, PagerDutyConfig) else None
        if doubt is not None:
            key = f"alerts.sinks.{toml_key(name)}" if name in alerts.sinks else f"alerts.{name}"
            found.append(f"{key}.routing_key: {doubt}")
    return found


def _crosses_in_clear(url: str) -> bool:
    """Whether a request to ``url`` crosses a network unencrypted: http, to a host that
    is not this one (a relay on loopback puts nothing on the wire)."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
    except ValueError:
        return False  # refused by the URL's own check
    if parts.scheme.lower() != "http":
        return False
    host = host.removesuffix(".")  # ``localhost.``: the same name, fully qualified
    if host == "localhost" or host.endswith(".localhost"):
        return False
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return True  # a name
    # ``::ffff:127.0.0.1`` is IPv4's loopback, which Python 3.11 does not call IPv6's.
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return not (ip.is_loopback or (mapped is not None and mapped.is_loopback))


def _cluster_service(url: str) -> bool:
    """Whether ``url`` names a Kubernetes Service by its cluster name (``.svc``,
    ``.svc.cluster.local``): a receiver of one's own in the cluster, commonly served
    over http as an Alertmanager is (whose urls are not warned of), a mesh encrypting
    it on the wire where one is wanted."""
    try:
        host = (urlsplit(url.strip()).hostname or "").removesuffix(".")
    except ValueError:
        return False
    return host.endswith((".svc", ".svc.cluster.local"))


def _next_post(resend: float, every: float) -> float:
    """How long after a post the next resend is queued: at the first evaluation (one
    each ``every``) once ``resend`` has passed."""
    # Rounded first: 0.3 / 0.1 is 2.9999999999999996 in floats, three ticks all the same.
    return math.ceil(round(resend / every, 9)) * every


def _least_resend(every: float, timeout: float) -> int:
    """The fewest whole seconds of resend_every whose copies outlive the wait for the
    next post and its ``timeout``. Under (every + timeout) / 4 none does; at
    (every + timeout) / 3 and over each does, the wait being under resend + every."""
    least = math.floor((every + timeout) / VALID_FOR_RESENDS) + 1
    while VALID_FOR_RESENDS * least <= _next_post(least, every) + timeout:
        least += 1
    return least
